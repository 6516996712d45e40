//! Hostile and damaged export folders: FIFOs, devices, symbolic link loops, links out of the
//! audited folder and second names of one file. Every case runs the real binary with a
//! timeout: a hang is a failure, and every item not read is listed with its reason.
#![cfg(unix)]

mod common;
use common::*;
use serde_json::Value;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SAMPLES: &str = "fixtures/e2019-css-exchange-samples";
const DOMAINS: &str = "03-e2019-get-accepteddomain-externalrelay-star.clixml.xml";
const SERVERS: &str = "05-e2019-get-exchangeserver.clixml.xml";
const LIMIT: Duration = Duration::from_secs(5);

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(root().join(SAMPLES).join(name)).unwrap()
}

fn mkfifo(p: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success(), "mkfifo {}", p.display());
}

/// `scan PATH... --format json --fail-on never`, killed after 5 s → (exit code, JSON, stderr).
fn scan_timed(paths: &[&Path], extra: &[&str]) -> (i32, Value, String) {
    let mut c = relay_audit();
    c.arg("scan");
    for p in paths {
        c.arg(p);
    }
    c.args(["--format", "json", "--fail-on", "never"])
        .args(extra)
        .timeout(LIMIT);
    let out = c.output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("killed (a hang past {LIMIT:?}?)\nstderr: {stderr}"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON: {e}\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (code, v, stderr)
}

/// (path relative to `dir`, status, reason of the first skipped item) of every input.
fn inputs(v: &Value, dir: &Path) -> Vec<(String, String, String)> {
    let prefix = format!("{}/", dir.display());
    v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let path = i["path"].as_str().unwrap();
            (
                path.strip_prefix(&prefix).unwrap_or(path).to_string(),
                i["status"].as_str().unwrap().to_string(),
                i["skipped"][0]["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn export_folder() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let audited = dir.path().join("export");
    std::fs::create_dir(&audited).unwrap();
    std::fs::write(audited.join("domains.xml"), sample(DOMAINS)).unwrap();
    (dir, audited)
}

#[test]
fn a_fifo_in_the_folder_is_listed_as_skipped_and_never_opened() {
    let (_dir, audited) = export_folder();
    mkfifo(&audited.join("pipe.xml"));
    let (code, v, _) = scan_timed(&[&audited], &[]);
    assert_eq!(code, 0);
    let got = inputs(&v, &audited);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_str()),
        ("domains.xml", "ok")
    );
    assert_eq!(got[1].0, "pipe.xml");
    assert_eq!(got[1].1, "skipped");
    assert!(got[1].2.contains("FIFO"), "{got:?}");
    assert!(!v["findings"].as_array().unwrap().is_empty());
}

#[test]
fn a_fifo_named_on_the_command_line_is_an_error_on_one_line() {
    let (_dir, audited) = export_folder();
    let fifo = audited.join("pipe.xml");
    mkfifo(&fifo);
    let (code, v, stderr) = scan_timed(&[&fifo], &[]);
    assert_eq!(code, 2);
    assert_eq!(v["inputs"][0]["status"], "error");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("pipe.xml") && lines[0].contains("FIFO"),
        "{stderr}"
    );
    // the table report too, and with a regular file next to it the file is still read
    let out = relay_audit()
        .arg("scan")
        .arg(audited.join("domains.xml"))
        .arg(&fifo)
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Bad Accepted Domain"));
}

#[test]
fn a_device_is_never_opened() {
    let (_dir, audited) = export_folder();
    symlink("/dev/zero", audited.join("zero.xml")).unwrap();
    // a link out of the folder is not followed at all; a device named directly is refused
    let (code, v, _) = scan_timed(&[&audited], &[]);
    assert_eq!(code, 0);
    let got = inputs(&v, &audited);
    assert_eq!(got[1].0, "zero.xml");
    assert!(got[1].2.contains("outside the audited folder"), "{got:?}");
    let (code, _, stderr) = scan_timed(&[Path::new("/dev/zero")], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("character device"), "{stderr}");
}

#[test]
fn symbolic_link_loops_end_quickly_with_each_file_read_once() {
    let (_dir, audited) = export_folder();
    let sub = audited.join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("servers.xml"), sample(SERVERS)).unwrap();
    // two links back to the root make 2^40 paths when followed blindly
    symlink(&audited, sub.join("a")).unwrap();
    symlink("..", sub.join("b")).unwrap();
    symlink(".", audited.join("c")).unwrap();
    symlink("self", audited.join("self")).unwrap();
    // a link to a file inside the folder: the file is read once
    symlink("domains.xml", audited.join("alias.xml")).unwrap();
    let (code, v, _) = scan_timed(&[&audited], &[]);
    assert_eq!(code, 0);
    let got = inputs(&v, &audited);
    let statuses: Vec<(&str, &str)> = got
        .iter()
        .map(|(p, s, _)| (p.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("alias.xml", "ok"),
            ("c", "skipped"),
            ("domains.xml", "skipped"),
            ("self", "skipped"),
            ("sub/a", "skipped"),
            ("sub/b", "skipped"),
            ("sub/servers.xml", "ok"),
        ]
    );
    assert!(got[1].2.contains("folder already read"), "{got:?}");
    assert!(got[2].2.contains("same file as"), "{got:?}");
    assert!(got[3].2.contains("cannot be resolved"), "{got:?}");
    // each object once: one accepted-domain file's worth of findings
    let (_, alone, _) = scan_timed(&[&audited.join("domains.xml")], &[]);
    assert_eq!(rule_objects(&v), rule_objects(&alone));
}

#[test]
fn a_link_out_of_the_folder_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let audited = dir.path().join("client-a");
    let other = dir.path().join("client-b");
    std::fs::create_dir(&audited).unwrap();
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("domains.xml"), sample(DOMAINS)).unwrap();
    std::fs::write(audited.join("servers.xml"), sample(SERVERS)).unwrap();
    symlink("/etc", audited.join("etc")).unwrap();
    symlink("/etc/passwd", audited.join("passwd.txt")).unwrap();
    symlink(&other, audited.join("b")).unwrap();
    symlink("../client-b/domains.xml", audited.join("domains.xml")).unwrap();
    let (code, v, _) = scan_timed(&[&audited], &[]);
    assert_eq!(code, 0);
    let got = inputs(&v, &audited);
    let names: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(
        names,
        vec!["b", "domains.xml", "etc", "passwd.txt", "servers.xml"]
    );
    for g in &got[..4] {
        assert_eq!(g.1, "skipped", "{g:?}");
        assert!(g.2.contains("outside the audited folder"), "{g:?}");
    }
    assert!(v["findings"].as_array().unwrap().is_empty(), "{v}");
    let text = v.to_string();
    assert!(!text.contains("root:x:0"), "nothing of /etc is read");
}

#[test]
fn the_same_file_named_twice_or_inside_a_named_folder_is_read_once() {
    let (_dir, audited) = export_folder();
    std::fs::hard_link(audited.join("domains.xml"), audited.join("copy.xml")).unwrap();
    let f = audited.join("domains.xml");
    let (code, v, _) = scan_timed(&[&f, &audited], &[]);
    assert_eq!(code, 0);
    let got = inputs(&v, &audited);
    let statuses: Vec<(&str, &str)> = got
        .iter()
        .map(|(p, s, _)| (p.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("domains.xml", "ok"),
            ("copy.xml", "skipped"),
            ("domains.xml", "skipped")
        ]
    );
    let (_, alone, _) = scan_timed(&[&f], &[]);
    assert_eq!(rule_objects(&v), rule_objects(&alone));
}

/// Peak memory of a scan of a folder full of link loops stays small (GNU time, when there).
#[test]
fn a_folder_of_link_loops_needs_little_memory() {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        eprintln!("no /usr/bin/time: peak memory not measured");
        return;
    }
    let (dir, audited) = export_folder();
    for i in 0..8 {
        let d = audited.join(format!("d{i}"));
        std::fs::create_dir(&d).unwrap();
        for j in 0..8 {
            symlink(&audited, d.join(format!("up{j}"))).unwrap();
        }
    }
    let rss = dir.path().join("rss");
    let out = std::process::Command::new("timeout")
        .arg("5")
        .arg(time)
        .args(["-f", "%M", "-o"])
        .arg(&rss)
        .arg(assert_cmd::cargo::cargo_bin("relay-audit"))
        .args(["scan", "--format", "json", "--fail-on", "never"])
        .arg(&audited)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let kib: u64 = std::fs::read_to_string(&rss)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(kib < 100 * 1024, "peak RSS {kib} KiB");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["inputs"].as_array().unwrap().len(), 1 + 64);
}
