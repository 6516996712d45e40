//! `relay-audit.toml` and rule selection: found from the working directory upward, overridden
//! by flags, ignored with `--isolated`, refused from inside the audited folder.

mod common;
use common::*;
use serde_json::Value;

fn rules_in(stdout: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(stdout).unwrap();
    let mut r: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    r.sort();
    r.dedup();
    r
}

fn export() -> String {
    root()
        .join("fixtures/open-relay-anonymous/clixml")
        .display()
        .to_string()
}

#[test]
fn a_config_in_the_working_folder_changes_the_scan_and_isolated_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("engagement/contoso");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        dir.path().join("relay-audit.toml"),
        "ignore = [\"RC-DEFAULT-CONNECTOR-MODIFIED\"]\nformat = \"json\"\nfail-on = \"never\"\n",
    )
    .unwrap();
    // Found from a folder below it; format and fail-on come from the file.
    let out = relay_audit()
        .current_dir(&sub)
        .args(["scan", &export()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(rules_in(&out.stdout), vec!["RC-ANON-RELAY-INTERNET"]);
    // Flags win over the file.
    let out = relay_audit()
        .current_dir(&sub)
        .args(["scan", &export(), "--fail-on", "high"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // --isolated: the defaults again (table, high, every rule).
    let out = relay_audit()
        .current_dir(&sub)
        .args(["scan", &export(), "--isolated", "-f", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        rules_in(&out.stdout),
        vec!["RC-ANON-RELAY-INTERNET", "RC-DEFAULT-CONNECTOR-MODIFIED"]
    );
}

/// A client's export cannot switch rules off: a config inside the audited folder is refused.
#[test]
fn a_config_from_inside_the_audited_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let client = dir.path().join("client-export");
    std::fs::create_dir_all(&client).unwrap();
    for f in std::fs::read_dir(root().join("fixtures/open-relay-anonymous/clixml")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, client.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(client.join("relay-audit.toml"), "ignore = [\"RC-\"]\n").unwrap();
    let out = relay_audit()
        .current_dir(&client)
        .args(["scan", ".", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("operator file"));
    assert!(out.stdout.is_empty());
}

#[test]
fn select_and_ignore_on_the_command_line() {
    let run = |extra: &[&str]| {
        relay_audit()
            .args([
                "scan",
                &export(),
                "--format",
                "json",
                "--fail-on",
                "never",
                "--isolated",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--select", "RC-DEFAULT"]);
    assert_eq!(rules_in(&out.stdout), vec!["RC-DEFAULT-CONNECTOR-MODIFIED"]);
    let out = run(&["--ignore", "rc-"]);
    assert!(rules_in(&out.stdout).is_empty());
    // The more specific entry wins.
    let out = run(&[
        "--ignore",
        "RC-",
        "--extend-select",
        "RC-ANON-RELAY-INTERNET",
    ]);
    assert_eq!(rules_in(&out.stdout), vec!["RC-ANON-RELAY-INTERNET"]);
    // A typo is an error, not a silent no-op.
    let out = run(&["--ignore", "RC-ANON-RELAY-INTERNE7"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("names no rule"));
}

#[test]
fn statistics_and_exit_zero() {
    let out = relay_audit()
        .args(["scan", &export(), "--isolated", "--statistics"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].split_whitespace().collect::<Vec<_>>()[..3]
            == ["1", "RC-ANON-RELAY-INTERNET", "critical"],
        "{text}"
    );
    let out = relay_audit()
        .args(["scan", &export(), "--isolated", "--exit-zero", "-f", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(rules_in(&out.stdout).len(), 2);
}
