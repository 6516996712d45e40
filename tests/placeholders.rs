//! No finding, report or rule help prints an unfilled `{placeholder}`: a value the export did
//! not have reads `(PermissionGroups not exported)` in a message and `'<connector identity>'`
//! or `<server>` in a command. The checks look for the placeholder names the rules use
//! (`{object}`, `{PermissionGroups}`, ...), not for any brace: values such as `{0.0.0.0:25}`
//! or `{ms-Exch-SMTP-Accept-Any-Recipient}` are evidence, not holes.

mod common;
use common::*;
use relay_audit::rules::RuleSet;
use serde_json::Value;
use std::path::Path;

/// Every placeholder name a built-in template uses, plus those of the user rule below.
fn placeholder_names() -> Vec<String> {
    let mut names = RuleSet::builtin().unwrap().placeholder_names();
    names.push("NoSuchProperty".to_string());
    names.sort();
    names
}

fn holes(text: &str, names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| format!("{{{n}}}"))
        .filter(|p| text.contains(p.as_str()))
        .collect()
}

#[track_caller]
fn assert_no_holes(what: &str, text: &str, names: &[String]) {
    let h = holes(text, names);
    assert!(h.is_empty(), "{what}: {h:?} left in:\n{text}");
}

/// Message and remediation of every finding: no placeholder left.
#[track_caller]
fn assert_findings_have_no_holes(what: &str, v: &Value, names: &[String]) {
    for f in v["findings"].as_array().expect("findings") {
        for field in ["message", "remediation"] {
            let text = f[field].as_str().unwrap();
            assert_no_holes(&format!("{what}: {} {field}", f["rule"]), text, names);
        }
    }
}

/// Is `line` the first line of property `prop` (Format-List `Prop : value`, settings
/// `prop = value`)?
fn starts_property(line: &str, prop: &str) -> bool {
    let t = line.trim_start();
    t.len() > prop.len()
        && t.is_char_boundary(prop.len())
        && t[..prop.len()].eq_ignore_ascii_case(prop)
        && t[prop.len()..].trim_start().starts_with([':', '='])
}

/// Copies the export folder `src` to `dst` without property `prop`: its line and, for
/// Format-List, the indented lines that continue its value.
fn copy_without(src: &Path, dst: &Path, prop: &str) -> bool {
    std::fs::create_dir_all(dst).unwrap();
    let mut removed = false;
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let p = e.path();
        let to = dst.join(e.file_name());
        if p.is_dir() {
            removed |= copy_without(&p, &to, prop);
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        let Ok(text) = String::from_utf8(bytes.clone()) else {
            std::fs::write(&to, bytes).unwrap();
            continue;
        };
        let mut out = String::new();
        let mut skipping = false;
        for line in text.split_inclusive('\n') {
            if starts_property(line, prop) {
                skipping = true;
                removed = true;
                continue;
            }
            if skipping && line.starts_with([' ', '\t']) && !line.trim().is_empty() {
                continue;
            }
            skipping = false;
            out.push_str(line);
        }
        std::fs::write(&to, out).unwrap();
    }
    removed
}

/// For every rule's firing cases in Format-List and settings form, and every exported property
/// its templates name: the same export without that property. Whatever still fires says what
/// is unknown instead of printing `{Property}`.
#[test]
fn findings_name_no_placeholder_when_the_export_lacks_the_property() {
    let names = placeholder_names();
    let rules = RuleSet::builtin().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut fired_without: Vec<(String, String, String)> = Vec::new();
    let mut runs = 0;
    for rule in &rules.rules {
        let props: Vec<&str> = rule
            .placeholders()
            .into_iter()
            .filter(|k| !matches!(*k, "object" | "server" | "name"))
            .collect();
        for case in subdirs(&root().join("tests/rules").join(&rule.id)) {
            if !case
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("fires-")
            {
                continue;
            }
            for form in ["format-list", "settings"] {
                let src = case.join(form);
                if !src.is_dir() {
                    continue;
                }
                for prop in &props {
                    runs += 1;
                    let dst = tmp.path().join(runs.to_string());
                    if !copy_without(&src, &dst, prop) {
                        continue;
                    }
                    let (_, v) = scan_json(&[&dst], &["--fail-on", "never"]);
                    let what = format!("{} without {prop}", src.display());
                    assert_findings_have_no_holes(&what, &v, &names);
                    for f in v["findings"].as_array().unwrap() {
                        if f["rule"] == rule.id.as_str() {
                            fired_without.push((
                                rule.id.clone(),
                                prop.to_string(),
                                f["message"].as_str().unwrap().to_string(),
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(runs > 20, "{runs}");
    // The rules that still fire without the property they print say it is unknown.
    for id in ["RC-PERMISSIONS-UNKNOWN", "RC-DEFAULT-CONNECTOR-MODIFIED"] {
        let messages: Vec<&str> = fired_without
            .iter()
            .filter(|(r, p, _)| r == id && p == "PermissionGroups")
            .map(|(_, _, m)| m.as_str())
            .collect();
        assert!(
            !messages.is_empty(),
            "{id} no longer fires without PermissionGroups: {fired_without:?}"
        );
        for m in messages {
            assert!(m.contains("(PermissionGroups not exported)"), "{id}: {m}");
        }
    }
}

/// The case of the issue: a Format-List connector export without PermissionGroups.
#[test]
fn permissions_unknown_without_permission_groups_says_so() {
    let names = placeholder_names();
    let case = root()
        .join("tests/rules/RC-PERMISSIONS-UNKNOWN/fires-permissiongroups-not-exported/format-list");
    let (_, v) = scan_json(&[&case], &["--fail-on", "never"]);
    assert_findings_have_no_holes("fires-permissiongroups-not-exported", &v, &names);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "RC-PERMISSIONS-UNKNOWN")
        .expect("RC-PERMISSIONS-UNKNOWN fires");
    assert_eq!(
        f["message"],
        "EX01\\Relay EX01 may have permissions beyond its presets (PermissionGroups not exported) \
         that no Get-ADPermission export shows with their rights; relay may be open from \
         192.168.0.0/16"
    );
}

/// A connector named without its server (`Identity : Relay`): the command gets `<server>`,
/// not an empty string.
#[test]
fn a_connector_without_a_server_name_gets_a_server_stand_in() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rc.txt"),
        "\nIdentity         : Relay\nEnabled          : True\nBindings         : {0.0.0.0:25}\n\
         RemoteIPRanges   : {0.0.0.0-255.255.255.255}\nPermissionGroups : AnonymousUsers, Custom\n\
         AuthMechanism    : Tls\n\n",
    )
    .unwrap();
    let (_, v) = scan_json(&[dir.path()], &["--fail-on", "never"]);
    assert_findings_have_no_holes("Identity : Relay", &v, &placeholder_names());
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "RC-PERMISSIONS-UNKNOWN")
        .expect("RC-PERMISSIONS-UNKNOWN fires");
    let r = f["remediation"].as_str().unwrap();
    assert!(r.contains("'permissions-<server>-Relay.xml'"), "{r}");
    assert!(!r.contains("permissions--"), "{r}");
}

/// A permission entry that names no connector: the message says so, the command does not
/// target a connector named after that sentence.
#[test]
fn a_permission_entry_without_a_connector_gets_a_connector_stand_in() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("perms.txt"),
        "\nAccessRights        : {ExtendedRight}\nDeny                : False\n\
         User                : NT AUTHORITY\\ANONYMOUS LOGON\nIsInherited         : False\n\n",
    )
    .unwrap();
    let (_, v) = scan_json(&[dir.path()], &["--fail-on", "never"]);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "PERM-RIGHTS-NOT-EXPORTED")
        .expect("PERM-RIGHTS-NOT-EXPORTED fires");
    assert!(f["message"]
        .as_str()
        .unwrap()
        .contains("(connector not named in the export)"));
    let r = f["remediation"].as_str().unwrap();
    assert!(
        r.contains("Get-ReceiveConnector '<connector identity>'"),
        "{r}"
    );
    assert!(!r.contains("not named"), "{r}");
}

const USER_RULE: &str = r#"id = "X-HOLES-1"
title = "A rule naming a property no export has"
severity = "low"
category = "hygiene"
object = "receive-connector"
versions = ["2019"]
message = "{object} has {NoSuchProperty}, listens on {0.0.0.0:25} and has PermissionGroups {PermissionGroups}"
when.all = [ { enabled = true } ]
what = "w"
why = "y"
remediation = "Get-ADPermission '{object}' | where {$_.IsInherited -eq $false} | Set-Thing -To '{NoSuchProperty}' -Server '{server}'"
"#;

/// A user rule may name any placeholder: an unknown one is said to be unknown, while braces
/// that are no placeholder (`{0.0.0.0:25}`, a script block) stay as written.
#[test]
fn a_user_rule_with_an_unknown_placeholder_says_it_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("holes.toml");
    std::fs::write(&r, USER_RULE).unwrap();
    let case = root()
        .join("tests/rules/RC-PERMISSIONS-UNKNOWN/fires-permissiongroups-not-exported/format-list");
    let (_, v) = scan_json(
        &[&case],
        &["--rules", r.to_str().unwrap(), "--fail-on", "never"],
    );
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "X-HOLES-1")
        .expect("the user rule fires");
    assert_eq!(
        f["message"],
        "EX01\\Relay EX01 has (NoSuchProperty not exported), listens on {0.0.0.0:25} and has \
         PermissionGroups not exported"
    );
    assert_eq!(
        f["remediation"],
        "Get-ADPermission 'EX01\\Relay EX01' | where {$_.IsInherited -eq $false} | Set-Thing -To \
         '<NoSuchProperty>' -Server 'EX01'"
    );
    // and its rule help in SARIF
    let out = relay_audit()
        .arg("scan")
        .arg(&case)
        .args(["--rules", r.to_str().unwrap(), "--format", "sarif"])
        .args(["--fail-on", "never"])
        .output()
        .unwrap();
    let sarif = String::from_utf8(out.stdout).unwrap();
    assert_no_holes("sarif with a user rule", &sarif, &placeholder_names());
    assert!(sarif.contains("where {$_.IsInherited -eq $false}"));
}

fn scan_text(path: &Path, format: &str) -> String {
    let out = relay_audit()
        .arg("scan")
        .arg(path)
        .args(["--format", format, "--fail-on", "never"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{format}: {:?}", out);
    String::from_utf8(out.stdout).unwrap()
}

/// SARIF rule help (built from the remediation template, about no object) and every other
/// report format: stand-ins, never `{object}` or `{server}`.
#[test]
fn no_report_format_prints_a_placeholder() {
    let names = placeholder_names();
    let anonymous = root().join("fixtures/open-relay-anonymous/clixml");
    let sarif = scan_text(&anonymous, "sarif");
    assert_no_holes("sarif", &sarif, &names);
    // the rule-level help shows stand-ins, and the braces of real values are untouched
    let v: Value = serde_json::from_str(&sarif).unwrap();
    let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    let internet = rules
        .iter()
        .find(|r| r["id"] == "RC-ANON-RELAY-INTERNET")
        .expect("rule in the driver");
    let help = internet["help"]["text"].as_str().unwrap();
    assert!(help.contains("-Identity '<connector identity>'"), "{help}");
    assert!(help.contains("-Server '<server>'"), "{help}");
    assert!(internet["help"]["markdown"]
        .as_str()
        .unwrap()
        .contains("'<connector identity>'"));
    let missing = root()
        .join("tests/rules/RC-PERMISSIONS-UNKNOWN/fires-permissiongroups-not-exported/format-list");
    for path in [&anonymous, &missing] {
        for format in ["table", "json", "sarif", "junit", "csv", "markdown", "html"] {
            let text = scan_text(path, format);
            assert_no_holes(&format!("{} as {format}", path.display()), &text, &names);
        }
    }
}

/// `rules show` and `rules list` are client-facing too: the remediation shows stand-ins.
#[test]
fn rules_show_and_list_print_no_placeholder() {
    let names = placeholder_names();
    for rule in RuleSet::builtin().unwrap().rules {
        let out = relay_audit()
            .args(["rules", "show", &rule.id])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert_no_holes(&format!("rules show {}", rule.id), &text, &names);
    }
    let out = relay_audit()
        .args(["rules", "show", "RC-PERMISSIONS-UNKNOWN"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Get-ReceiveConnector '<connector identity>' | Get-ADPermission | Export-Clixml 'permissions-<server>-<connector name>.xml'"),
        "{text}"
    );
    for format in ["table", "markdown"] {
        let out = relay_audit()
            .args(["rules", "list", "--format", format])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert_no_holes(&format!("rules list --format {format}"), &text, &names);
    }
}
