//! Helpers shared by the integration tests: run the real binary, read its JSON.
#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with a repeatable environment (no colour, no user config).
pub fn relay_audit() -> Command {
    let mut c = Command::cargo_bin("relay-audit").expect("binary built");
    c.env("NO_COLOR", "1").env_remove("RELAY_AUDIT_RULES");
    c.current_dir(root());
    c
}

/// Checks a `--format json` report of scan or probe against the schema `relay-audit schema`
/// prints (src/report/report.schema.json): every JSON report a test reads goes through here.
pub fn assert_report_schema(v: &Value) {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(include_str!("../../src/report/report.schema.json"))
                .expect("the report schema is JSON");
        jsonschema::draft202012::new(&schema).expect("the report schema is a JSON Schema")
    });
    let errors: Vec<String> = validator
        .iter_errors(v)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the report breaks its schema: {errors:#?}"
    );
}

/// `scan PATH... --format json --fail-on never` → (exit code, JSON).
pub fn scan_json(paths: &[&Path], extra: &[&str]) -> (i32, Value) {
    let mut c = relay_audit();
    c.arg("scan");
    for p in paths {
        c.arg(p);
    }
    c.args(["--format", "json"]).args(extra);
    let out = c.output().expect("runs");
    let code = out.status.code().unwrap_or(-1);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON output of scan {:?}: {e}\nstdout: {}\nstderr: {}",
            paths,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_report_schema(&v);
    (code, v)
}

/// (rule, object id) of every finding, sorted.
pub fn rule_objects(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["object"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The export-form folders of a case: `clixml/`, `format-list/`, ... or the folder itself.
pub fn forms(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    if v.is_empty() {
        v.push(dir.to_path_buf());
    }
    v
}

/// Sub-folders of `dir`, sorted.
pub fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A fixture's text: UTF-16LE with its byte-order mark, or UTF-8 with or without one.
pub fn read_text(p: &Path) -> String {
    let bytes = std::fs::read(p).unwrap();
    if bytes.starts_with(&[0xFF, 0xFE]) {
        let u: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&u)
    } else {
        String::from_utf8_lossy(&bytes)
            .trim_start_matches('\u{feff}')
            .to_string()
    }
}
