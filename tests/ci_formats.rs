//! The CI formats (`github`, `gitlab`, `azure`, `json-lines`, `concise`) and SARIF's code
//! scanning fidelity, from the real binary: each output checked against its consumer's
//! documented shape, the first location the decisive evidence, and paths that are the same
//! from a checkout anywhere.

mod common;
#[path = "common/shapes.rs"]
mod shapes;

use common::{relay_audit, root};
use serde_json::Value;
use std::path::Path;

const OPEN: &str = "fixtures/open-relay-anonymous/clixml";
const GRANT_FILE: &str =
    "fixtures/open-relay-anonymous/clixml/permissions-EX01-Default-Frontend.xml";

fn run_in(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = relay_audit().current_dir(dir).args(args).output().unwrap();
    assert!(
        out.stderr.is_empty() || out.status.code() == Some(2),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn scan(format: &str, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["scan", OPEN, "--format", format];
    args.extend_from_slice(extra);
    run_in(&root(), &args)
}

#[test]
fn github_annotates_the_grant_and_fails_like_the_gate() {
    let (code, out) = scan("github", &[]);
    assert_eq!(code, 1, "the gate still fails on the critical finding");
    assert_eq!(shapes::check_github(&out), 2);
    let first = out.lines().next().unwrap();
    // The decisive evidence: the ACE that grants relay, not `Enabled = true`.
    assert!(
        first.starts_with(&format!("::error file={GRANT_FILE},line=2711,title=relay-audit RC-ANON-RELAY-INTERNET (critical)::")),
        "{first}"
    );
    assert!(out.contains("::warning file=fixtures/open-relay-anonymous/clixml/receive-connectors.xml,line=1232,title=relay-audit RC-DEFAULT-CONNECTOR-MODIFIED (medium)::"), "{out}");
    // Below --fail-on everything is a warning; --exit-zero keeps the annotations.
    let (code, out) = scan("github", &["--fail-on", "never"]);
    assert_eq!(code, 0);
    assert!(!out.contains("::error"), "{out}");
    let (code, out) = scan("github", &["--exit-zero"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("::error "), "{out}");
}

#[test]
fn azure_logs_issues_with_file_and_line() {
    let (code, out) = scan("azure", &[]);
    assert_eq!(code, 1);
    assert_eq!(shapes::check_azure(&out), 2);
    assert!(out.starts_with(&format!(
        "##vso[task.logissue type=error;sourcepath={GRANT_FILE};linenumber=2711;code=RC-ANON-RELAY-INTERNET;]RC-ANON-RELAY-INTERNET [critical] "
    )), "{out}");
}

#[test]
fn gitlab_code_quality_matches_the_documented_schema() {
    let (_, out) = scan("gitlab", &[]);
    assert_eq!(shapes::check_gitlab(&out), 2);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["check_name"], "RC-ANON-RELAY-INTERNET");
    assert_eq!(v[0]["severity"], "blocker");
    assert_eq!(v[0]["location"]["path"], GRANT_FILE);
    assert_eq!(v[0]["location"]["lines"]["begin"], 2711);
    // Every fixture, findings with no file among them, stays in the schema.
    let (_, out) = run_in(&root(), &["scan", "fixtures", "--format", "gitlab"]);
    assert!(shapes::check_gitlab(&out) > 50);
}

#[test]
fn json_lines_are_the_json_findings_one_per_line() {
    let (_, json) = scan("json", &[]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let (_, out) = scan("json-lines", &[]);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON value"))
        .collect();
    assert_eq!(&lines, v["findings"].as_array().unwrap());
}

#[test]
fn concise_is_one_line_per_finding() {
    let (code, out) = scan("concise", &[]);
    assert_eq!(code, 1);
    assert_eq!(shapes::check_concise(&out), 2);
    assert!(
        out.starts_with(&format!(
            "{GRANT_FILE}:2711: RC-ANON-RELAY-INTERNET critical "
        )),
        "{out}"
    );
    let (_, out) = run_in(&root(), &["scan", "fixtures", "--format", "concise"]);
    assert!(shapes::check_concise(&out) > 50);
}

#[test]
fn sarif_first_location_is_decisive() {
    let (_, out) = scan("sarif", &[]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let r = &v["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "RC-ANON-RELAY-INTERNET");
    let locs = r["locations"].as_array().unwrap();
    let props: Vec<&str> = locs
        .iter()
        .map(|l| {
            l["message"]["text"]
                .as_str()
                .unwrap()
                .split(" = ")
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(props, ["ExtendedRights", "RemoteIPRanges", "Enabled"]);
    assert_eq!(
        locs[0]["physicalLocation"]["artifactLocation"]["uri"],
        GRANT_FILE
    );
    // Help text shows stand-ins, never a template's `{placeholder}`.
    let placeholder = regex::Regex::new(r"\{[a-z_]+\}").unwrap();
    for rule in v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap() {
        let help = rule["help"]["text"].as_str().unwrap();
        assert!(!placeholder.is_match(help), "{}: {help}", rule["id"]);
        let uri = rule["helpUri"].as_str().unwrap_or("https://x");
        assert!(uri.starts_with("https://"), "{uri}");
    }
    let info = v["runs"][0]["tool"]["driver"]["informationUri"]
        .as_str()
        .unwrap();
    assert!(info.starts_with("https://"), "{info}");
}

/// Copies a fixture folder (flat) into `dst`.
fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
    }
}

#[test]
fn sarif_survives_a_moved_checkout() {
    // The same repository checked out in two places, scanned by absolute path from its root
    // (as a pipeline does): results, URIs and fingerprints are identical; only
    // originalUriBaseIds says where the checkout was.
    let mut runs = Vec::new();
    for name in ["a", "elsewhere/b"] {
        let dir = tempfile::tempdir().unwrap();
        let checkout = dir.path().join(name);
        copy_dir(&root().join(OPEN), &checkout.join("exports"));
        let abs = checkout.join("exports");
        let (_, out) = run_in(
            &checkout,
            &["scan", abs.to_str().unwrap(), "--format", "sarif"],
        );
        let mut v: Value = serde_json::from_str(&out).unwrap();
        let base = v["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            base.starts_with("file:///") && base.ends_with('/'),
            "{base}"
        );
        let run = v["runs"][0].as_object_mut().unwrap();
        run.remove("originalUriBaseIds");
        runs.push((v, dir));
    }
    assert_eq!(runs[0].0, runs[1].0);
    let uri =
        &runs[0].0["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(uri["uri"], "exports/permissions-EX01-Default-Frontend.xml");
    assert_eq!(uri["uriBaseId"], "%SRCROOT%");
}

#[test]
fn schema_command_prints_the_contract_every_report_follows() {
    let (code, schema) = run_in(&root(), &["schema"]);
    assert_eq!(code, 0);
    let schema: Value = serde_json::from_str(&schema).unwrap();
    assert_eq!(schema["$id"], "urn:relay-audit:report:1");
    assert!(jsonschema::meta::is_valid(&schema), "a valid JSON Schema");
    // Every fixture at once: all input states, diagnostics, gaps, logs, legacy objects.
    let (_, v) = common::scan_json(&[&root().join("fixtures")], &["--fail-on", "never"]);
    assert_eq!(v["schema_version"], "1");
    let statuses: std::collections::BTreeSet<&str> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert!(statuses.len() >= 4, "{statuses:?}");
    // json-lines: each line is a finding as the schema defines it.
    // (the schema itself, rooted at its finding definition)
    let mut finding = schema.clone();
    let root_schema = finding.as_object_mut().unwrap();
    for k in ["type", "required", "additionalProperties", "properties"] {
        root_schema.remove(k);
    }
    root_schema.insert("$ref".into(), "#/$defs/finding".into());
    let validator = jsonschema::draft202012::new(&finding).unwrap();
    let (_, lines) = run_in(&root(), &["scan", "fixtures", "--format", "json-lines"]);
    for l in lines.lines() {
        let item: Value = serde_json::from_str(l).unwrap();
        assert!(validator.is_valid(&item), "{l}");
    }
}

/// `xmllint --schema tests/schemas/junit-10.xsd` on a JUnit report (.ci/run installs
/// libxml2-utils; without xmllint the test fails, it does not skip).
fn assert_junit_10(xml: &str, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, xml).unwrap();
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(root().join("tests/schemas/junit-10.xsd"))
        .arg(&file)
        .output()
        .expect("xmllint (Debian package libxml2-utils) is installed");
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn junit_validates_against_the_jenkins_xunit_schema() {
    let (_, xml) = run_in(&root(), &["scan", "fixtures", "--format", "junit"]);
    assert!(xml.contains("<failure"), "failures among them");
    assert_junit_10(&xml, "scan fixtures");
    let (_, xml) = scan("junit", &["--fail-on", "info"]);
    assert_junit_10(&xml, "scan, fail-on info");
    let replay = root().join("tests/rules/PROBE-OPEN-RELAY/fires-postfix-open-relay/probe.json");
    let (_, xml) = run_in(
        &root(),
        &[
            "probe",
            "--replay",
            replay.to_str().unwrap(),
            "--format",
            "junit",
        ],
    );
    assert_junit_10(&xml, "probe");
    let (_, xml) = run_in(
        &root(),
        &[
            "diff",
            "fixtures/diff-anonymous-grant/before",
            "fixtures/diff-anonymous-grant/after",
            "--format",
            "junit",
        ],
    );
    assert_junit_10(&xml, "diff");
    // The schema is strict where it matters: `skipped` on <testsuites> is refused.
    let bad = xml.replacen("<testsuites ", "<testsuites skipped=\"0\" ", 1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.xml"), bad).unwrap();
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(root().join("tests/schemas/junit-10.xsd"))
        .arg(dir.path().join("bad.xml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}
