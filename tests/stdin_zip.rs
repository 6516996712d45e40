//! `-` (standard input: `Get-Clipboard | relay-audit scan -`) and a zip archive (the
//! collection script's `-Zip`) are read like the files and folders they hold, named as the
//! user named them, and a hostile archive extracts nothing outside its own staging folder.

mod common;

use common::{relay_audit, root, scan_json};
use serde_json::Value;
use std::io::Write;
use std::path::Path;

const PASTE: &str = "fixtures/open-relay-anonymous/paste/thread.txt";
const CLIXML: &str = "fixtures/open-relay-anonymous/clixml";

/// (rule, fingerprint) of every finding.
fn verdict(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["fingerprint"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn scan_stdin(bytes: &[u8]) -> (i32, Value, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_relay-audit"))
        .current_dir(root())
        .args(["scan", "-", "--format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_report_schema(&v);
    (
        out.status.code().unwrap(),
        v,
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_paste_on_standard_input_is_read_like_the_file() {
    let bytes = std::fs::read(root().join(PASTE)).unwrap();
    let (_, from_file) = scan_json(&[&root().join(PASTE)], &[]);
    let (code, v, stderr) = scan_stdin(&bytes);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(verdict(&v), verdict(&from_file));
    assert!(!verdict(&v).is_empty());
    assert_eq!(v["inputs"][0]["path"], "(stdin)");
    let ev = &v["findings"][0]["evidence"];
    assert!(ev
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["file"] == "(stdin)" && e["line"].as_u64().unwrap() > 1));

    // Windows PowerShell pipes UTF-16 when told to; the BOM says so.
    let text = String::from_utf8(bytes).unwrap();
    let mut utf16 = vec![0xff, 0xfe];
    for u in text.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    let (_, v, _) = scan_stdin(&utf16);
    assert_eq!(verdict(&v), verdict(&from_file));
}

#[test]
fn nothing_on_standard_input_is_an_error_not_a_clean_verdict() {
    let (code, v, stderr) = scan_stdin(b"");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("(stdin): nothing on standard input"),
        "{stderr}"
    );
    assert!(v["findings"].as_array().unwrap().is_empty());
}

/// A zip as Compress-Archive writes it on Windows PowerShell 5.1: the output folder at the
/// top, `\` as the separator.
fn collection_zip(dir: &Path, extra: &[(&str, &[u8])]) -> std::path::PathBuf {
    let p = dir.join("relay-audit-contoso-20261206-1200.zip");
    let script = format!(
        r#"
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED)
for f in sorted(os.listdir(src)):
    z.write(os.path.join(src, f), "relay-audit-contoso-20261206-1200\\" + f)
for name, data in {extra:?}:
    z.writestr(name, bytes(data))
z.close()
"#,
        extra = extra
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_vec()))
            .collect::<Vec<_>>()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .arg(root().join(CLIXML))
        .arg(&p)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p
}

#[test]
fn the_collection_zip_is_read_like_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let z = collection_zip(dir.path(), &[]);
    let (_, from_folder) = scan_json(&[&root().join(CLIXML)], &[]);
    // A private temporary folder, to see that the staging folder goes after the scan.
    let tmp = tempfile::tempdir().unwrap();
    let out = relay_audit()
        .env("TMPDIR", tmp.path())
        .args(["scan", z.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_report_schema(&v);
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "staging removed"
    );
    assert_eq!(verdict(&v), verdict(&from_folder));
    let zip_name = z.display().to_string();
    let first = v["findings"][0]["evidence"][1]["file"].as_str().unwrap();
    assert_eq!(
        first,
        format!(
            "{zip_name}!/relay-audit-contoso-20261206-1200/permissions-EX01-Default-Frontend.xml"
        )
    );
    assert_eq!(v["inputs"].as_array().unwrap().len(), 4);
}

#[test]
fn a_hostile_archive_extracts_nothing_outside_and_says_what_it_refused() {
    let dir = tempfile::tempdir().unwrap();
    let z = collection_zip(
        dir.path(),
        &[
            ("../escaped.xml", b"<Objs/>"),
            ("/etc/relay-audit-abs.xml", b"<Objs/>"),
            ("C:\\Windows\\evil.xml", b"<Objs/>"),
        ],
    );
    let out = relay_audit()
        .args(["scan", z.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let warnings: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["level"] == "warning")
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    for want in [
        "../escaped.xml: a path that climbs out with `..`: not extracted",
        "/etc/relay-audit-abs.xml: an absolute path: not extracted",
        "C:\\Windows\\evil.xml: a drive or stream name: not extracted",
    ] {
        assert!(warnings.contains(&want), "{want}: {warnings:?}");
    }
    assert!(!dir.path().join("escaped.xml").exists());
    assert!(!std::env::temp_dir().join("escaped.xml").exists());
    assert!(!Path::new("/etc/relay-audit-abs.xml").exists());
}

#[test]
fn a_damaged_archive_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let z = collection_zip(dir.path(), &[]);
    let bytes = std::fs::read(&z).unwrap();
    let cut = dir.path().join("cut.zip");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = relay_audit()
        .args(["scan", cut.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cut.zip: not a readable zip archive"),
        "{stderr}"
    );
}
