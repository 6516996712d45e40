//! A remediation never invents a host address. A consultant pastes the commands of a report;
//! an address the export never showed (`-RemoteIPRanges 10.1.1.25`) would open relay for a
//! host nobody chose. Where the hosts are not known the command carries a placeholder such as
//! `<IP-of-the-host-that-must-relay>`, unquoted: PowerShell refuses the whole line ("The '<'
//! operator is reserved for future use") instead of running it for a wrong host.

mod common;
use common::*;
use relay_audit::rules::RuleSet;
use std::collections::BTreeSet;
use std::path::Path;

/// Every dotted-quad IPv4 literal in `text` (not part of a longer dotted run).
fn ipv4_literals(text: &str) -> Vec<String> {
    let re =
        regex::Regex::new(r"(?:^|[^0-9.])((?:[0-9]{1,3}\.){3}[0-9]{1,3})(?:$|[^0-9.])").unwrap();
    let mut out = Vec::new();
    // Overlapping matches: scan line by line with a sliding start.
    for line in text.lines() {
        let mut from = 0;
        while let Some(c) = re.captures(&line[from..]) {
            let m = c.get(1).unwrap();
            out.push(m.as_str().to_string());
            from += m.end();
        }
    }
    out
}

/// Addresses that are no host: the wildcard binding and the host mask.
fn is_structural(ip: &str) -> bool {
    matches!(ip, "0.0.0.0" | "255.255.255.255")
}

/// Every file under `dir` as text.
fn export_text(dir: &Path, out: &mut String) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            export_text(&p, out);
        } else {
            out.push_str(&read_text(&p));
            out.push('\n');
        }
    }
}

#[test]
fn ipv4_literals_are_found() {
    assert_eq!(
        ipv4_literals("-RemoteIPRanges 10.1.1.25,192.168.0.1 v1.2.3.4.5 0.0.0.0:25"),
        vec!["10.1.1.25", "192.168.0.1", "0.0.0.0"]
    );
}

/// Rule-level help (`rules show`, SARIF help) is about no export: it may name no host at all.
#[test]
fn no_builtin_remediation_names_a_host_address() {
    for rule in RuleSet::builtin().unwrap().rules {
        let help = rule.remediation_help();
        let hosts: Vec<String> = ipv4_literals(&help)
            .into_iter()
            .filter(|ip| !is_structural(ip))
            .collect();
        assert!(hosts.is_empty(), "{}: {hosts:?} in\n{help}", rule.id);
    }
}

/// The placeholders that stand for host addresses are outside quotes on command lines, so
/// the line does not parse; and the rules that need hosts use them.
#[test]
fn host_placeholders_make_the_command_unrunnable() {
    let rules = RuleSet::builtin().unwrap();
    let mut seen = BTreeSet::new();
    for rule in &rules.rules {
        for line in rule.remediation_help().lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            let mut quoted = false;
            for (i, c) in line.char_indices() {
                match c {
                    '\'' => quoted = !quoted,
                    '<' if line[i..].starts_with("<IP-") => {
                        assert!(!quoted, "{}: quoted host placeholder in {line}", rule.id);
                        seen.insert(rule.id.clone());
                    }
                    _ => {}
                }
            }
        }
    }
    for id in [
        "RC-ANON-RELAY-INTERNET",
        "RC-ANON-RELAY-BROAD",
        "RC-EXTSEC-INTERNET",
    ] {
        assert!(seen.contains(id), "{id} has no host placeholder: {seen:?}");
    }
}

/// Every fixture scan: an IPv4 literal in a rendered remediation is one the export shows.
#[test]
fn fixture_remediations_name_only_exported_addresses() {
    let mut checked = 0;
    let mut placeholders = 0;
    for case in subdirs(&root().join("fixtures")) {
        if case.file_name().unwrap().to_str().unwrap().starts_with('_') {
            continue;
        }
        for form in forms(&case) {
            let (_, v) = scan_json(&[&form], &["--fail-on", "never"]);
            let Some(findings) = v["findings"].as_array() else {
                continue;
            };
            if findings.is_empty() {
                continue;
            }
            let mut export = String::new();
            export_text(&form, &mut export);
            let known: BTreeSet<String> = ipv4_literals(&export).into_iter().collect();
            for f in findings {
                let rem = f["remediation"].as_str().unwrap();
                checked += 1;
                placeholders += rem.matches("<IP-").count();
                for ip in ipv4_literals(rem) {
                    assert!(
                        is_structural(&ip) || known.contains(&ip),
                        "{}: {} remediation names {ip}, which the export does not show:\n{rem}",
                        form.display(),
                        f["rule"]
                    );
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} remediations checked");
    assert!(
        placeholders > 0,
        "no fixture finding uses a host placeholder"
    );
}

/// The open relay of the issue: the command that creates the scoped relay connector has the
/// placeholder, not 10.1.1.25.
#[test]
fn open_relay_remediation_has_the_placeholder() {
    let (_, v) = scan_json(
        &[&root().join("fixtures/open-relay-anonymous/clixml")],
        &["--fail-on", "never"],
    );
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "RC-ANON-RELAY-INTERNET")
        .expect("the open relay finding");
    let rem = f["remediation"].as_str().unwrap();
    assert!(!rem.contains("10.1.1.25"), "{rem}");
    let line = rem
        .lines()
        .find(|l| l.starts_with("New-ReceiveConnector"))
        .expect("New-ReceiveConnector line");
    assert!(
        line.contains("-RemoteIPRanges <IP-of-the-host-that-must-relay> "),
        "{line}"
    );
}
