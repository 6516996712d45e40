//! Waivers and baselines: what an operator accepted stays accepted until it expires, and
//! only new findings fail a change review.

mod common;
use common::*;
use predicates::prelude::*;
use std::path::Path;

const SAMPLES: &str = "fixtures/e2019-css-exchange-samples";

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn waived_findings_do_not_fail_and_expired_or_stale_waivers_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let w = write(
        dir.path(),
        "waivers.toml",
        r#"# accepted by the client's risk board
[[waiver]]
rule = "DOM-RELAY-ALL"
object = "Bad Accepted Domain"
justification = "Lab org, never connected to the Internet"
owner = "j.doe@contoso.com"
expires = "2027-03-31"

[[waiver]]
rule = "DOM-RELAY-ALL"
object = "Problem Accepted Domain"
justification = "Same lab"
owner = "j.doe@contoso.com"
expires = "2026-01-31"

[[waiver]]
rule = "DOM-RELAY-PUBLIC-SUFFIX"
object = "Wild .com"
justification = "Same lab"
owner = "j.doe@contoso.com"
expires = "2027-03-31"

[[waiver]]
fingerprint = "0000000000000000"
justification = "A finding that is long gone"
owner = "j.doe@contoso.com"
expires = "2027-03-31"
"#,
    );
    let mut cmd = relay_audit();
    cmd.env("RELAY_AUDIT_TODAY", "2026-11-23")
        .args([
            "scan",
            SAMPLES,
            "--one-organisation",
            "--format",
            "json",
            "--waivers",
        ])
        .arg(&w);
    let out = cmd.output().unwrap();
    // the expired waiver no longer covers "Problem Accepted Domain": critical counts again
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let waived: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["waiver"].is_null())
        .map(|f| f["object"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(waived, vec!["Bad Accepted Domain", "Wild .com"]);
    let diags: Vec<String> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}:{} {}",
                d["file"].as_str().unwrap(),
                d["line"],
                d["message"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        diags
            .iter()
            .any(|d| d.contains("waivers.toml:9 waiver expired on 2026-01-31")),
        "{diags:?}"
    );
    assert!(
        diags
            .iter()
            .any(|d| d.contains("waivers.toml:23 stale waiver")),
        "{diags:?}"
    );

    // with the expired one renewed, nothing counts: exit 0
    let renewed = std::fs::read_to_string(&w)
        .unwrap()
        .replace("2026-01-31", "2027-01-31");
    let w2 = write(dir.path(), "renewed.toml", &renewed);
    relay_audit()
        .env("RELAY_AUDIT_TODAY", "2026-11-23")
        .args(["scan", SAMPLES, "--one-organisation", "--waivers"])
        .arg(&w2)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("3 waived"));
}

#[test]
fn waivers_from_inside_the_audited_folder_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("domains.xml"),
        std::fs::read(
            root()
                .join(SAMPLES)
                .join("03-e2019-get-accepteddomain-externalrelay-star.clixml.xml"),
        )
        .unwrap(),
    )
    .unwrap();
    let w = write(
        dir.path(),
        "waivers.toml",
        "[[waiver]]\nrule = \"DOM-RELAY-ALL\"\nobject = \"Bad Accepted Domain\"\njustification = \"x\"\nowner = \"y\"\nexpires = \"2099-01-01\"\n",
    );
    relay_audit()
        .arg("scan")
        .arg(dir.path())
        .arg("--waivers")
        .arg(&w)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "must not come from inside the audited folder",
        ));
}

#[test]
fn a_bad_waiver_file_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let w = write(
        dir.path(),
        "w.toml",
        "[[waiver]]\nrule = \"DOM-RELAY-ALL\"\nobject = \"x\"\njustification = \"x\"\nowner = \"y\"\nexpires = \"31.12.2026\"\n",
    );
    relay_audit()
        .args(["scan", SAMPLES, "--one-organisation", "--waivers"])
        .arg(&w)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "w.toml:1: expires must be a date YYYY-MM-DD",
        ));
}

#[test]
fn baseline_counts_only_new_findings_and_lists_resolved_ones() {
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("before");
    std::fs::create_dir(&before).unwrap();
    let f = "02-e2019-get-accepteddomain-internalrelay-wildcard.clixml.xml";
    std::fs::copy(root().join(SAMPLES).join(f), before.join(f)).unwrap();
    let baseline = dir.path().join("baseline.json");
    relay_audit()
        .arg("scan")
        .arg(&before)
        .arg("--write-baseline")
        .arg(&baseline)
        .assert()
        .code(1);
    // after: the *.com domain is still there (unchanged) and `*` was added (new)
    let after = dir.path().join("after");
    std::fs::create_dir(&after).unwrap();
    std::fs::copy(
        root()
            .join(SAMPLES)
            .join("04-e2019-get-accepteddomain-internalrelay-star.clixml.xml"),
        after.join("domains.xml"),
    )
    .unwrap();
    let (code, v) = scan_json(&[&after], &["--baseline", baseline.to_str().unwrap()]);
    assert_eq!(code, 1, "the new `*` domain fails");
    let states: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["baseline"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("DOM-RELAY-ALL".to_string(), "new".to_string()),
            (
                "DOM-RELAY-PUBLIC-SUFFIX".to_string(),
                "unchanged".to_string()
            )
        ]
    );
    // against its own baseline nothing is new: exit 0
    relay_audit()
        .arg("scan")
        .arg(&before)
        .arg("--baseline")
        .arg(&baseline)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "0 new, 1 unchanged, 0 resolved since the baseline",
        ));
    // an empty folder resolves everything
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(
        empty.join("servers.xml"),
        std::fs::read(
            root()
                .join(SAMPLES)
                .join("05-e2019-get-exchangeserver.clixml.xml"),
        )
        .unwrap(),
    )
    .unwrap();
    let (code, v) = scan_json(&[&empty], &["--baseline", baseline.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(v["resolved"][0]["rule"], "DOM-RELAY-PUBLIC-SUFFIX");
}

fn one_waiver() -> &'static str {
    "[[waiver]]\nrule = \"DOM-RELAY-ALL\"\nobject = \"Bad Accepted Domain\"\njustification = \"x\"\nowner = \"y\"\nexpires = \"2099-01-01\"\n"
}

fn refused(paths: &[&Path], waivers: &Path) {
    let mut c = relay_audit();
    c.arg("scan");
    for p in paths {
        c.arg(p);
    }
    c.arg("--waivers")
        .arg(waivers)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "must not come from inside the audited folder",
        ));
}

#[test]
fn waivers_next_to_files_listed_one_by_one_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    std::fs::create_dir_all(export.join("notes")).unwrap();
    let f = export.join("domains.xml");
    std::fs::copy(
        root()
            .join(SAMPLES)
            .join("03-e2019-get-accepteddomain-externalrelay-star.clixml.xml"),
        &f,
    )
    .unwrap();
    let w = write(&export, "waivers.toml", one_waiver());
    refused(&[&f], &w);
    let w2 = write(&export.join("notes"), "w.toml", one_waiver());
    refused(&[&f], &w2);
    // also named through a path with `..` and a symbolic link to the folder
    #[cfg(unix)]
    {
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&export, &link).unwrap();
        refused(&[&link.join("domains.xml")], &w);
        refused(&[&f], &link.join("notes/../waivers.toml"));
    }
}

#[cfg(unix)]
#[test]
fn a_hard_link_to_an_audited_file_is_refused_as_a_waiver_file() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    std::fs::create_dir_all(export.join(".hidden")).unwrap();
    let f = export.join("domains.xml");
    std::fs::copy(
        root()
            .join(SAMPLES)
            .join("03-e2019-get-accepteddomain-externalrelay-star.clixml.xml"),
        &f,
    )
    .unwrap();
    let inside = write(&export, "waivers.toml", one_waiver());
    let hidden = write(&export.join(".hidden"), "w.toml", one_waiver());
    let operator = dir.path().join("operator");
    std::fs::create_dir(&operator).unwrap();
    for (i, target) in [&inside, &hidden].into_iter().enumerate() {
        let outside = operator.join(format!("waivers{i}.toml"));
        std::fs::hard_link(target, &outside).unwrap();
        refused(&[&export], &outside);
    }
    // a hard link to a file listed one by one (from another folder)
    let other = tempfile::tempdir().unwrap();
    let linked = other.path().join("w.toml");
    std::fs::hard_link(&inside, &linked).unwrap();
    refused(&[&inside], &linked);
    // a true operator file is accepted
    let ok = write(&operator, "mine.toml", one_waiver());
    relay_audit()
        .arg("scan")
        .arg(&f)
        .args(["--fail-on", "never", "--waivers"])
        .arg(&ok)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("1 waived"));
}

/// 20,000 waivers (most of them stale) load and apply in linear time: a few seconds at
/// most even in a debug build (about 1.5 s, mostly TOML parsing; the quadratic version took
/// 125 s in a debug build).
#[test]
fn twenty_thousand_waivers_load_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::with_capacity(20_000 * 160);
    for i in 0..20_000 {
        if i == 19_999 {
            text.push_str(one_waiver());
        } else {
            text.push_str(&format!(
                "[[waiver]]\nrule = \"DOM-RELAY-ALL\"\nobject = \"Domain {i}\"\njustification = \"generated\"\nowner = \"ops\"\nexpires = \"2099-01-01\"\n\n"
            ));
        }
    }
    let w = write(dir.path(), "many.toml", &text);
    let f = root()
        .join(SAMPLES)
        .join("03-e2019-get-accepteddomain-externalrelay-star.clixml.xml");
    let start = std::time::Instant::now();
    let out = relay_audit()
        .arg("scan")
        .arg(&f)
        .args(["--format", "json", "--fail-on", "never", "--waivers"])
        .arg(&w)
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(0));
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stale: Vec<u64> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["message"].as_str().unwrap().starts_with("stale waiver"))
        .map(|d| d["line"].as_u64().unwrap())
        .collect();
    assert_eq!(stale.len(), 19_999);
    // line numbers are still right: waiver i starts on line 7 * i + 1
    assert_eq!(stale[0], 1);
    assert_eq!(stale[19_998], 7 * 19_998 + 1);
    let waived = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["waiver"].is_null())
        .count();
    assert_eq!(waived, 1);
}
