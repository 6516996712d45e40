//! Times the reading thread alone (read + UTF-16 decode + blob filter), for profiling.
use std::io::BufRead;
fn main() {
    let path = std::env::args().nth(1).expect("path");
    let f = std::fs::File::open(&path).expect("open");
    let (_, _, r) = relay_audit::input::decode::decode(f, None).expect("decode");
    let filter = std::env::var("NOFILTER")
        .is_err()
        .then(relay_audit::input::blob_filter::BlobFilter::new);
    let mut p = relay_audit::input::decode::Pipelined::with_filter(r, filter);
    let mut n = 0usize;
    loop {
        let k = p.fill_buf().expect("read").len();
        if k == 0 {
            break;
        }
        n += k;
        p.consume(k);
    }
    println!("{n}");
}
