//! Format detection of real exports that do not start the usual way: a `#< CLIXML` header
//! line, a root element after a long comment or whitespace, a root straddling the first
//! 4 KiB, a byte-order mark that disagrees with `--encoding`; and CliXML that cannot be
//! parsed is an error, never "not an export".

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

const SAMPLES: &str = "fixtures/e2019-css-exchange-samples";
const DOMAINS: &str = "03-e2019-get-accepteddomain-externalrelay-star.clixml.xml";

/// The sample's text, without its UTF-8 BOM.
fn domains() -> String {
    let b = std::fs::read(root().join(SAMPLES).join(DOMAINS)).unwrap();
    String::from_utf8(b)
        .unwrap()
        .trim_start_matches('\u{feff}')
        .to_string()
}

fn utf16le_bom(s: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    for u in s.encode_utf16() {
        v.extend_from_slice(&u.to_le_bytes());
    }
    v
}

/// Scans a folder holding only `bytes` as `name` → (exit code, the input's summary, JSON).
fn scan_one(name: &str, bytes: &[u8], extra: &[&str]) -> (i32, Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), bytes).unwrap();
    let mut args = vec!["--fail-on", "never"];
    args.extend_from_slice(extra);
    let (code, v) = scan_json(&[dir.path()], &args);
    let input = v["inputs"][0].clone();
    (code, input, v)
}

fn expected() -> Vec<(String, String)> {
    let (_, v) = scan_json(
        &[&root().join(SAMPLES).join(DOMAINS)],
        &["--fail-on", "never"],
    );
    let f = rule_objects(&v);
    assert!(!f.is_empty());
    f
}

fn assert_read(name: &str, bytes: &[u8], extra: &[&str]) -> Value {
    let (code, input, v) = scan_one(name, bytes, extra);
    assert_eq!(code, 0, "{input}");
    assert_eq!(input["status"], "ok", "{input}");
    assert_eq!(input["format"], "clixml", "{input}");
    assert_eq!(rule_objects(&v), expected(), "{name}");
    input
}

#[test]
fn a_clixml_header_line_is_skipped() {
    let text = format!("#< CLIXML\r\n{}", domains());
    assert_read("utf8.xml", text.as_bytes(), &[]);
    let input = assert_read("utf16.xml", &utf16le_bom(&text), &[]);
    assert_eq!(input["encoding"], "utf-16le");
    // line numbers stay those of the file: a cut-off export names its real last line
    let cut = &text[..text.len() - 200];
    let (code, input, _) = scan_one("cut.xml", cut.as_bytes(), &[]);
    assert_eq!(code, 2, "{input}");
    assert_eq!(input["status"], "error");
}

#[test]
fn a_root_after_a_long_comment_or_whitespace_is_found() {
    let comment = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<!-- {} -->\r\n",
        "exported by the migration team; ".repeat(400)
    );
    let text = format!("{comment}{}{}", " \r\n".repeat(3000), domains());
    assert!(text.find("<Objs").unwrap() > 4096 * 5);
    assert_read("late.xml", text.as_bytes(), &[]);
    assert_read("late16.xml", &utf16le_bom(&text), &[]);
    // past the look-ahead (1 MiB) the file is still read as CliXML
    let huge = format!("<!-- {} -->\n{}", "x".repeat(3 << 20), domains());
    assert_read("huge.xml", huge.as_bytes(), &[]);
}

#[test]
fn a_root_straddling_the_first_4_kib_is_found_whatever_the_shift() {
    for shift in 4085..4100 {
        let text = format!("{}{}", " ".repeat(shift), domains());
        assert_read("shifted.xml", text.as_bytes(), &[]);
        let text = format!(
            "<!--{}-->{}",
            "-".repeat(shift - 7).replace("--", "- "),
            domains()
        );
        assert_read("shifted-comment.xml", text.as_bytes(), &[]);
    }
}

#[test]
fn clixml_that_cannot_be_parsed_is_an_error_not_a_skipped_file() {
    let d = domains();
    let cases: Vec<(&str, String)> = vec![
        (
            "header-garbage.xml",
            "#< CLIXML\r\nthis is not XML at all\r\n".to_string(),
        ),
        ("cut.xml", d[..d.len() / 2].to_string()),
        (
            "fragment.xml",
            d[d.find("<Obj ").unwrap()..d.rfind("</Objs>").unwrap()].to_string(),
        ),
        (
            "late-cut.xml",
            format!("<!-- {} -->\n{}", "y".repeat(8000), &d[..d.len() / 2]),
        ),
    ];
    for (name, text) in cases {
        let (code, input, _) = scan_one(name, text.as_bytes(), &[]);
        assert_eq!(code, 2, "{name}: {input}");
        assert_eq!(input["status"], "error", "{name}: {input}");
    }
    // XML that is plainly something else is still skipped in a folder
    let (code, input, _) = scan_one(
        "pom.xml",
        b"<?xml version=\"1.0\"?>\n<project><name>x</name></project>\n",
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(input["status"], "skipped");
    assert!(
        input["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("root <project>"),
        "{input}"
    );
}

#[test]
fn a_byte_order_mark_wins_over_encoding() {
    let text = domains();
    for forced in ["windows-1252", "utf-8", "utf-16be"] {
        let input = assert_read("utf16.xml", &utf16le_bom(&text), &["--encoding", forced]);
        assert_eq!(input["encoding"], "utf-16le");
        let bom8 = [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat();
        let input = assert_read("utf8.xml", &bom8, &["--encoding", forced]);
        assert_eq!(input["encoding"], "utf-8-bom");
    }
    // without a BOM, --encoding still decides
    let latin = b"Identity : EX01\\Relay\r\nUser : NT-AUTORIT\xC4T\\ANONYMOUS-ANMELDUNG\r\n";
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("perm.txt");
    std::fs::write(&f, latin).unwrap();
    let (_, v) = scan_json(
        &[Path::new(&f)],
        &["--encoding", "windows-1252", "--fail-on", "never"],
    );
    assert_eq!(v["inputs"][0]["encoding"], "windows-1252", "{v}");
}
