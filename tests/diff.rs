//! `relay-audit diff BEFORE AFTER`: the change review.

mod common;
use common::*;

const PAIR: &str = "fixtures/diff-anonymous-grant";

fn diff_json(before: &std::path::Path, after: &std::path::Path) -> (i32, serde_json::Value) {
    let out = relay_audit()
        .arg("diff")
        .arg(before)
        .arg(after)
        .args(["--format", "json"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

#[test]
fn an_anonymous_relay_grant_is_reported_exactly_and_fails() {
    let root = root();
    let (code, v) = diff_json(
        &root.join(PAIR).join("before"),
        &root.join(PAIR).join("after"),
    );
    assert_eq!(code, 1);
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    let c = &changes[0];
    assert_eq!(c["kind"], "ad-permission");
    assert_eq!(c["object"], "EX01\\Default Frontend EX01");
    assert_eq!(c["change"], "granted");
    assert_eq!(
        c["after"],
        "NT AUTHORITY\\ANONYMOUS LOGON ms-Exch-SMTP-Accept-Any-Recipient"
    );
    let introduced: Vec<&str> = v["introduced"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        introduced,
        ["RC-ANON-RELAY-INTERNET", "RC-DEFAULT-CONNECTOR-MODIFIED"]
    );
    assert!(v["resolved"].as_array().unwrap().is_empty());
}

#[test]
fn the_reverse_change_resolves_and_passes() {
    let root = root();
    let (code, v) = diff_json(
        &root.join(PAIR).join("after"),
        &root.join(PAIR).join("before"),
    );
    assert_eq!(code, 0);
    assert_eq!(v["changes"][0]["change"], "revoked");
    assert_eq!(v["resolved"].as_array().unwrap().len(), 2);
    assert!(v["introduced"].as_array().unwrap().is_empty());
}

#[test]
fn an_unchanged_export_has_no_changes() {
    let root = root();
    let (code, v) = diff_json(
        &root.join(PAIR).join("after"),
        &root.join(PAIR).join("after"),
    );
    assert_eq!(code, 0);
    assert!(v["changes"].as_array().unwrap().is_empty());
}

const RC: &str = "\r\n\r\nIdentity         : EX01\\Relay EX01\r\nEnabled          : True\r\nBindings         : {0.0.0.0:25}\r\nRemoteIPRanges   : {RANGES}\r\nPermissionGroups : AnonymousUsers, Custom\r\nAuthMechanism    : AUTH\r\n\r\n";
const ACE: &str = "\r\n\r\nIdentity       : EX01\\Relay EX01\r\nUser           : NT AUTHORITY\\ANONYMOUS LOGON\r\nExtendedRights : {ms-Exch-SMTP-Accept-Any-Recipient}\r\nDeny           : False\r\nIsInherited    : False\r\n\r\n";

#[test]
fn widened_ranges_and_auth_changes_are_reported_in_markdown_too() {
    let dir = tempfile::tempdir().unwrap();
    for (side, ranges, auth) in [
        ("before", "10.1.1.25, 10.1.1.26", "Tls"),
        (
            "after",
            "10.1.1.0/24, 203.0.113.0/24, 20.30.40.0/24",
            "Tls, ExternalAuthoritative",
        ),
    ] {
        let d = dir.path().join(side);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(
            d.join("rc.txt"),
            RC.replace("RANGES", ranges).replace("AUTH", auth),
        )
        .unwrap();
        std::fs::write(d.join("perms.txt"), ACE).unwrap();
    }
    let (code, v) = diff_json(&dir.path().join("before"), &dir.path().join("after"));
    assert_eq!(code, 1, "{v:#}");
    let descr: Vec<&str> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["description"].as_str().unwrap())
        .collect();
    assert!(
        descr
            .iter()
            .any(|d| d.contains("RemoteIPRanges widened by") && d.contains("256 of them public")),
        "{descr:?}"
    );
    assert!(
        descr
            .iter()
            .any(|d| d.contains("AuthMechanism gained ExternalAuthoritative")),
        "{descr:?}"
    );
    let md = relay_audit()
        .arg("diff")
        .arg(dir.path().join("before"))
        .arg(dir.path().join("after"))
        .args(["--format", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.starts_with("## ❌ relay-audit diff"), "{md}");
    assert!(md.contains("RC-EXTSEC-BROAD"), "{md}");
}
