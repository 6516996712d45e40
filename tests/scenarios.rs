//! Every scenario under `fixtures/` (a folder with `expect.toml`), in every export form it
//! has, yields exactly the findings its `expect.toml` lists — and the same fingerprints in
//! every form. An expected finding may name the forms it applies to (`forms = ["format-table"]`)
//! where a form loses data and the finding is the `evidence-incomplete` one that says so.

mod common;
use common::*;
use std::collections::BTreeMap;

#[derive(serde::Deserialize)]
struct Expect {
    #[serde(default)]
    finding: Vec<Expected>,
    /// The fixture's exports come from more than one organisation and are judged as one
    /// (`--one-organisation`).
    #[serde(default)]
    one_organisation: bool,
}

#[derive(serde::Deserialize)]
struct Expected {
    rule: String,
    object: String,
    /// The export forms (sub-folder names) this finding is expected in; all when absent.
    #[serde(default)]
    forms: Option<Vec<String>>,
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
        let mut fingerprints: BTreeMap<(String, String), String> = BTreeMap::new();
        for form in forms(&dir) {
            let form_name = form.file_name().unwrap().to_str().unwrap().to_string();
            let mut want: Vec<(String, String)> = expect
                .finding
                .iter()
                .filter(|f| f.forms.as_ref().is_none_or(|v| v.contains(&form_name)))
                .map(|f| (f.rule.clone(), f.object.clone()))
                .collect();
            want.sort();
            let args: &[&str] = if expect.one_organisation {
                &["--fail-on", "never", "--one-organisation"]
            } else {
                &["--fail-on", "never"]
            };
            let (code, v) = scan_json(&[&form], args);
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
