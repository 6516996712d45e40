//! Every scenario under `fixtures/` (a folder with `expect.toml`), in every export form it
//! has, yields exactly the findings its `expect.toml` lists — and the same fingerprints in
//! every form.

mod common;
use common::*;
use std::collections::BTreeMap;

#[derive(serde::Deserialize)]
struct Expect {
    #[serde(default)]
    finding: Vec<Expected>,
}

#[derive(serde::Deserialize)]
struct Expected {
    rule: String,
    object: String,
}

#[test]
fn every_scenario_yields_its_expected_findings_in_every_form() {
    let mut checked = 0;
    for dir in subdirs(&root().join("fixtures")) {
        let expect_path = dir.join("expect.toml");
        if !expect_path.exists() {
            continue;
        }
        let expect: Expect = toml::from_str(&std::fs::read_to_string(&expect_path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", expect_path.display()));
        let mut want: Vec<(String, String)> = expect
            .finding
            .into_iter()
            .map(|f| (f.rule, f.object))
            .collect();
        want.sort();
        let mut fingerprints: BTreeMap<(String, String), String> = BTreeMap::new();
        for form in forms(&dir) {
            let (code, v) = scan_json(&[&form], &["--fail-on", "never"]);
            assert_eq!(
                code,
                0,
                "{}: exit code with --fail-on never",
                form.display()
            );
            let got = rule_objects(&v);
            assert_eq!(got, want, "{}: findings", form.display());
            for i in v["inputs"].as_array().unwrap() {
                assert_ne!(i["status"], "error", "{}: {i}", form.display());
            }
            for f in v["findings"].as_array().unwrap() {
                let key = (
                    f["rule"].as_str().unwrap().to_string(),
                    f["object"]["id"].as_str().unwrap().to_lowercase(),
                );
                let fp = f["fingerprint"].as_str().unwrap().to_string();
                if let Some(prev) = fingerprints.insert(key.clone(), fp.clone()) {
                    assert_eq!(
                        prev,
                        fp,
                        "{}: fingerprint of {key:?} differs between forms",
                        form.display()
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 2, "scenarios checked: {checked}");
}
