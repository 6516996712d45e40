//! Organisations are boundaries: a folder of client folders is audited client by client.
//! Three clients share the default connector identity `EX01\Default Frontend EX01`; scanned
//! as one organisation they were merged ("exported twice", the more open copy judged). Each
//! client's findings must equal those of scanning its folder alone.

mod common;

use common::{relay_audit, root, scan_json};
use serde_json::Value;
use std::path::Path;

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}

/// contoso (an open relay), fabrikam (the clean collection, with its permissions\ folder),
/// northwind (a scoped relay connector), and a notes file of the consultant's.
fn batch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("clients");
    copy_dir(
        &root().join("fixtures/open-relay-anonymous/clixml"),
        &b.join("contoso"),
    );
    copy_dir(
        &root().join("fixtures/collected-2019/collected"),
        &b.join("fabrikam"),
    );
    copy_dir(
        &root().join("fixtures/scoped-relay-connector/clixml"),
        &b.join("northwind"),
    );
    std::fs::write(b.join("notes.txt"), "engagement notes, no export here\n").unwrap();
    dir
}

/// (rule, object id) of every finding.
fn verdict(v: &Value, audit: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| audit.is_none() || f["audit"].as_str() == audit)
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

#[test]
fn each_client_is_audited_on_its_own() {
    let dir = batch();
    let b = dir.path().join("clients");
    let (code, v) = scan_json(&[&b], &[]);
    assert_eq!(code, 1, "the worst client's exit code");
    let names: Vec<&str> = v["audits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["contoso", "fabrikam", "northwind"]);
    assert!(v["diagnostics"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("a folder of 3 client folders: each audited on its own"));
    // Nothing is taken for a second copy of another client's object.
    let merged_notes = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            let m = d["message"].as_str().unwrap();
            m.contains("exported twice") || m.contains("already read from another file")
        })
        .count();
    assert_eq!(merged_notes, 0, "{}", v["diagnostics"]);
    for (i, name) in names.iter().enumerate() {
        let (alone_code, alone) = scan_json(&[&b.join(name)], &[]);
        assert_eq!(
            verdict(&v, Some(name)),
            verdict(&alone, None),
            "{name}: the batch's findings are those of scanning it alone"
        );
        let a = &v["audits"][i];
        assert_eq!(a["summary"], alone["summary"], "{name}");
        let serious =
            a["summary"]["critical"].as_u64().unwrap() + a["summary"]["high"].as_u64().unwrap();
        assert_eq!(alone_code == 1, serious > 0, "{name}");
    }
    // Same connector in two clients: different fingerprints.
    let fps: std::collections::HashSet<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(fps.len(), v["findings"].as_array().unwrap().len());
}

#[test]
fn the_batch_is_named_in_every_report_for_people() {
    let dir = batch();
    let b = dir.path().join("clients");
    let out = relay_audit().arg("scan").arg(&b).output().unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("Client contoso: Server EX01"), "{table}");
    assert!(table.contains("Client northwind: Server EX01"), "{table}");
    assert!(table.contains("Clients (3 client folders, each audited on its own)"));
    assert!(
        table.contains("northwind") && table.contains("4 files  1 info"),
        "{table}"
    );
    let md = relay_audit()
        .arg("scan")
        .arg(&b)
        .args(["-f", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(
        md.contains("| contoso | 4 | 1 critical, 1 medium |"),
        "{md}"
    );
}

#[test]
fn one_organisation_merges_on_purpose_and_an_export_folder_is_never_split() {
    let dir = batch();
    let b = dir.path().join("clients");
    let (_, v) = scan_json(&[&b], &["--one-organisation"]);
    assert!(v.get("audits").is_none());
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f.get("audit").is_none()));
    // The collection script's folder (files beside a permissions\ folder) is one export.
    let (_, v) = scan_json(&[&root().join("fixtures/collected-2019/collected")], &[]);
    assert!(v.get("audits").is_none());
    // A folder with one sub-folder only is one export too.
    let one = tempfile::tempdir().unwrap();
    copy_dir(
        &root().join("fixtures/open-relay-anonymous/clixml"),
        &one.path().join("x"),
    );
    let (_, v) = scan_json(&[one.path()], &[]);
    assert!(v.get("audits").is_none());
}
