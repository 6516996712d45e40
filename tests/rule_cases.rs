//! Per-rule cases under `tests/rules/<ID>/{fires,quiet}-<what>/`: in every export form, the
//! rule fires on exactly the objects `expect.toml` lists (`fires = []` for quiet cases).
//! Also: every rule has at least one case of each kind, and every case folder names a rule.

mod common;
use common::*;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    fires: Vec<String>,
    /// An operator site file beside the case (`--site`; never inside the audited form).
    #[serde(default)]
    site: Option<String>,
    /// A probe case: a saved probe report (`probe --format json`) beside the case, judged
    /// again with `probe --replay`, compared with the export in `export` when given.
    #[serde(default)]
    probe: Option<String>,
    #[serde(default)]
    export: Option<String>,
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    as_seen_from: Option<String>,
    #[serde(default)]
    server_port: Option<u16>,
    /// The exit code expected (probe cases; default 0).
    #[serde(default)]
    exit: Option<i32>,
}

/// Runs a probe case: `probe --replay` over the saved report, with its export.
fn probe_case(case: &std::path::Path, e: &Expect) -> (i32, serde_json::Value) {
    let mut cmd = relay_audit();
    cmd.arg("probe")
        .arg("--replay")
        .arg(case.join(e.probe.as_ref().unwrap()))
        .args(["--format", "json", "--fail-on", "never"]);
    if let Some(x) = &e.export {
        cmd.arg("--export").arg(case.join(x));
    }
    if let Some(s) = &e.server {
        cmd.args(["--server", s]);
    }
    if let Some(a) = &e.as_seen_from {
        cmd.args(["--as-seen-from", a]);
    }
    if let Some(p) = e.server_port {
        cmd.args(["--server-port", &p.to_string()]);
    }
    let out = cmd.output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "{}: {err}: {}",
            case.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_report_schema(&v);
    (out.status.code().unwrap_or(-1), v)
}

fn rule_ids() -> Vec<String> {
    let out = relay_audit().args(["rules", "list"]).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn every_rule_fires_and_stays_quiet_on_its_cases_in_every_form() {
    let ids = rule_ids();
    let base = root().join("tests/rules");
    let mut cases = 0;
    for rule_dir in subdirs(&base) {
        let id = rule_dir.file_name().unwrap().to_str().unwrap().to_string();
        assert!(ids.contains(&id), "{} names no rule", rule_dir.display());
        for case in subdirs(&rule_dir) {
            let name = case.file_name().unwrap().to_str().unwrap();
            assert!(
                name.starts_with("fires-") || name.starts_with("quiet-"),
                "{}: case folders are fires-* or quiet-*",
                case.display()
            );
            let expect: Expect =
                toml::from_str(&std::fs::read_to_string(case.join("expect.toml")).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
            assert_eq!(
                name.starts_with("fires-"),
                !expect.fires.is_empty(),
                "{}: a fires- case lists objects, a quiet- case none",
                case.display()
            );
            let mut want: Vec<String> = expect.fires.iter().map(|s| s.to_lowercase()).collect();
            want.sort();
            if expect.probe.is_some() {
                let (code, v) = probe_case(&case, &expect);
                assert_eq!(code, expect.exit.unwrap_or(0), "{}", case.display());
                let mut got: Vec<String> = rule_objects(&v)
                    .into_iter()
                    .filter(|(r, _)| *r == id)
                    .map(|(_, o)| o.to_lowercase())
                    .collect();
                got.sort();
                assert_eq!(got, want, "{}: {id} fired on", case.display());
                cases += 1;
                continue;
            }
            for form in forms(&case) {
                let site = expect
                    .site
                    .as_ref()
                    .map(|s| case.join(s).display().to_string());
                let mut extra = vec!["--fail-on", "never"];
                if let Some(s) = &site {
                    extra.extend(["--site", s.as_str()]);
                }
                let (code, v) = scan_json(&[&form], &extra);
                assert_eq!(code, 0, "{}", form.display());
                // An input finding names its file: compared relative to the form folder.
                let prefix = format!("{}/", form.display()).to_lowercase();
                let mut got: Vec<String> = rule_objects(&v)
                    .into_iter()
                    .filter(|(r, _)| *r == id)
                    .map(|(_, o)| {
                        let o = o.to_lowercase();
                        o.strip_prefix(&prefix).map(str::to_string).unwrap_or(o)
                    })
                    .collect();
                got.sort();
                assert_eq!(got, want, "{}: {id} fired on", form.display());
                cases += 1;
            }
        }
    }
    assert!(cases > 0);
}

#[test]
fn every_rule_has_a_firing_and_a_quiet_case() {
    let base = root().join("tests/rules");
    for id in rule_ids() {
        let cases: Vec<String> = subdirs(&base.join(&id))
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert!(
            cases.iter().any(|c| c.starts_with("fires-")),
            "{id} has no fires- case under tests/rules/{id}/"
        );
        assert!(
            cases.iter().any(|c| c.starts_with("quiet-")),
            "{id} has no quiet- case under tests/rules/{id}/"
        );
    }
}
