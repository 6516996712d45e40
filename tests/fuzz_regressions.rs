//! Reproducers found by the fuzz campaign (`fuzz/regressions/<target>/`), run through the real
//! binary as a user would: each is written to a temporary folder and scanned. The binary must
//! exit 0, 1 or 2 within 5 seconds, with no panic, under a 1 GiB address-space limit.
//!
//! Inputs of the `clixml_structured` target are stored rendered (the document, not the
//! `arbitrary` bytes); those of `rules` are used as a `--rules` file over a real export.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(5);
/// Address space for the child (`ulimit -v`, KiB): an expansion bomb fails fast instead of
/// taking the machine.
const MEMORY_KIB: u64 = 1 << 20;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn reproducers(target: &str) -> Vec<PathBuf> {
    let dir = root().join("fuzz/regressions").join(target);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.retain(|p| {
        !p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.') || n.ends_with(".md"))
    });
    v.sort();
    v
}

/// Runs `relay-audit ARGS` with the time and memory limits; returns (exit code, stderr).
fn run(args: &[&Path]) -> (Option<i32>, String) {
    let bin = env!("CARGO_BIN_EXE_relay-audit");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB}; exec \"$0\" \"$@\""))
        .arg(bin)
        .arg("scan")
        .arg("--quiet")
        .arg("--format")
        .arg("json");
    for a in args {
        cmd.arg(a);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run relay-audit");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = reader.join().unwrap_or_default();
    match status {
        Some(st) => (st.code(), err),
        None => (None, format!("timed out after {LIMIT:?}\n{err}")),
    }
}

fn check(what: &Path, code: Option<i32>, stderr: &str) {
    assert!(
        matches!(code, Some(0..=2)),
        "{}: exit {code:?} (want 0, 1 or 2 within {LIMIT:?}); stderr:\n{}",
        what.display(),
        &stderr[..stderr.len().min(4000)]
    );
    assert!(
        !stderr.contains("panicked"),
        "{}: panicked:\n{}",
        what.display(),
        &stderr[..stderr.len().min(4000)]
    );
}

/// Scans each reproducer of `target`, copied into a temp folder as `name`.
fn scan_each(target: &str, name: &str) -> usize {
    let files = reproducers(target);
    for f in &files {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::copy(f, &p).unwrap();
        let (code, err) = run(&[&p]);
        check(f, code, &err);
    }
    files.len()
}

/// Every reproducer the fuzzing campaigns kept, through the real binary: exit 0, 1 or 2
/// within the time limit, never a panic. (`fuzz/regressions/open/` holds reproducers whose
/// fix has not landed; it is empty now.)
#[test]
fn every_fuzz_reproducer_exits_cleanly() {
    let mut n = scan_each("clixml", "export.xml");
    n += scan_each("clixml_structured", "export.xml");
    n += scan_each("format_list", "export.txt");
    for name in ["MetaBase.xml", "smtp.ldf", "imc.reg"] {
        n += scan_each("legacy", name);
    }
    let export = root().join("fixtures/e2019-css-exchange-samples");
    for f in reproducers("rules") {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fuzz.toml");
        std::fs::copy(&f, &p).unwrap();
        let (code, err) = run(&[Path::new("--rules"), &p, &export]);
        check(&f, code, &err);
        n += 1;
    }
    assert!(n >= 1, "no reproducer found under fuzz/regressions/");
    assert!(
        reproducers("open").is_empty(),
        "open findings must be fixed or listed as such: fuzz/regressions/open/"
    );
}

/// The `<Ref>` bomb the campaign's class describes ends quickly, within a small memory budget,
/// as an error naming the line: exit 2, the report still written.
#[test]
fn the_reference_bomb_is_an_error_within_budget() {
    let f = root().join("fuzz/regressions/clixml/ref-bomb-64x4.xml");
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_relay-audit"))
        .arg("scan")
        .arg(&f)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak_kib: u64 = stderr.lines().last().unwrap().trim().parse().unwrap();
    assert!(peak_kib < 100 * 1024, "peak {peak_kib} KiB");
    assert!(
        stderr.contains(
            "ref-bomb-64x4.xml:6: malformed XML export: reference expansion budget exceeded"
        ),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["inputs"][0]["status"], "error");
}
