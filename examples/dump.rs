use std::io::BufReader;
fn main() {
    for path in std::env::args().skip(1) {
        let f = std::fs::File::open(&path).unwrap();
        let (enc, _, r) = relay_audit::input::decode::decode(f, None).unwrap();
        let mut n = 0;
        let out = relay_audit::input::clixml::parse(
            BufReader::with_capacity(64 << 10, r),
            &path,
            &mut |rec| {
                n += 1;
                if std::env::var("DUMP").is_ok() {
                    println!(
                        "{:?} line {} {:?}",
                        rec.kind,
                        rec.line,
                        rec.value("Identity")
                    );
                }
            },
        );
        println!(
            "{path}: {} {n} {:?}",
            enc.as_str(),
            out.map(|o| (o.objects, o.skipped, o.diagnostics))
        );
    }
}
