//! The command line as users and pipelines see it: exit codes, JSON contract, errors with
//! file and line, skipped files, rule commands, user rules, encodings.

mod common;
use common::*;
use predicates::prelude::*;
use std::path::Path;

const SAMPLES: &str = "fixtures/e2019-css-exchange-samples";

fn utf16le_bom(s: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    for u in s.replace("\r\n", "\n").replace('\n', "\r\n").encode_utf16() {
        v.extend_from_slice(&u.to_le_bytes());
    }
    v
}

fn sample(name: &str) -> String {
    let dir = root().join(SAMPLES);
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        if e.file_name().to_str().unwrap().starts_with(name) {
            let s = std::fs::read_to_string(e.path()).unwrap();
            return s.trim_start_matches('\u{feff}').to_string();
        }
    }
    panic!("no sample {name}");
}

#[test]
fn real_samples_load_completely_and_flag_the_relay_domains() {
    // (three lab organisations, judged as one on purpose)
    let (code, v) = scan_json(&[Path::new(SAMPLES)], &["--one-organisation"]);
    assert_eq!(
        code, 1,
        "critical/high relay domains fail the default --fail-on high"
    );
    let inputs = v["inputs"].as_array().unwrap();
    let xml: Vec<_> = inputs
        .iter()
        .filter(|i| i["path"].as_str().unwrap().ends_with(".xml"))
        .collect();
    assert_eq!(xml.len(), 6);
    let mut total = 0;
    for i in &xml {
        assert_eq!(i["status"], "ok", "{i}");
        assert_eq!(i["format"], "clixml");
        assert_eq!(i["encoding"], "utf-8-bom");
        // every record accounted for: used, or skipped with a reason
        let skipped: u64 = i["skipped"]
            .as_array()
            .map(|s| s.iter().map(|x| x["count"].as_u64().unwrap()).sum())
            .unwrap_or(0);
        assert_eq!(
            i["records"].as_u64().unwrap(),
            i["records_used"].as_u64().unwrap() + skipped,
            "{i}"
        );
        total += i["records"].as_u64().unwrap();
    }
    assert_eq!(total, 5 + 3 + 4 + 4 + 1 + 1);
    let kinds: Vec<&str> = xml.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "receive-connector").count(),
        1
    );
    assert_eq!(kinds.iter().filter(|k| **k == "accepted-domain").count(), 3);
    assert_eq!(kinds.iter().filter(|k| **k == "exchange-server").count(), 2);
    // the non-export files of the folder are listed as skipped, not errors
    for i in inputs
        .iter()
        .filter(|i| !i["path"].as_str().unwrap().ends_with(".xml"))
    {
        assert_eq!(i["status"], "skipped", "{i}");
    }
    // nothing above info on the five default connectors
    for f in v["findings"].as_array().unwrap() {
        if f["object"]["kind"] == "receive-connector" {
            assert_eq!(f["severity"], "info", "{f}");
        }
    }
    let got = rule_objects(&v);
    assert!(got.contains(&("DOM-RELAY-ALL".into(), "Bad Accepted Domain".into())));
    assert!(got.contains(&("DOM-RELAY-ALL".into(), "Problem Accepted Domain".into())));
    assert!(got.contains(&("DOM-RELAY-PUBLIC-SUFFIX".into(), "Wild .com".into())));
    assert_eq!(v["tool"]["name"], "relay-audit");
    assert_eq!(v["summary"]["critical"], 2);
    assert_eq!(v["summary"]["high"], 1);
    let f = &v["findings"][0];
    for key in [
        "rule",
        "severity",
        "title",
        "object",
        "message",
        "evidence",
        "remediation",
        "fingerprint",
    ] {
        assert!(!f[key].is_null(), "finding has {key}");
    }
    let e = &f["evidence"][0];
    assert!(e["file"].as_str().unwrap().ends_with(".xml"));
    assert!(e["line"].as_u64().unwrap() > 1);
}

#[test]
fn fail_on_never_and_critical_set_the_exit_code() {
    relay_audit()
        .args(["scan", SAMPLES, "--one-organisation", "--fail-on", "never"])
        .assert()
        .code(0);
    relay_audit()
        .args([
            "scan",
            SAMPLES,
            "--one-organisation",
            "--fail-on",
            "critical",
        ])
        .assert()
        .code(1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rc.xml"), sample("01-")).unwrap();
    relay_audit()
        .args(["scan"])
        .arg(dir.path())
        .args(["--fail-on", "low"])
        .assert()
        .code(0);
    relay_audit()
        .args(["scan", SAMPLES, "--one-organisation", "--fail-on", "severe"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected critical, high"));
}

#[test]
fn table_output_groups_by_server_and_ends_with_a_summary() {
    let out = relay_audit()
        .args(["scan", SAMPLES, "--one-organisation", "--fail-on", "never"])
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("Organisation"), "{s}");
    assert!(s.contains("DOM-RELAY-ALL"));
    let last = s.lines().last().unwrap();
    assert!(
        last.starts_with("3 findings (2 critical, 1 high, 0 medium, 0 low, 0 info)"),
        "{last}"
    );
}

#[test]
fn output_file_gets_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    relay_audit()
        .args([
            "scan",
            SAMPLES,
            "--one-organisation",
            "--format",
            "json",
            "--output",
        ])
        .arg(&out)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 3);
}

#[test]
fn a_cut_off_export_is_a_one_line_error_and_the_rest_is_still_audited() {
    let dir = tempfile::tempdir().unwrap();
    let full = sample("03-");
    let cut = &full[..full.len() / 2];
    std::fs::write(dir.path().join("a-cut.xml"), utf16le_bom(cut)).unwrap();
    std::fs::write(dir.path().join("b-domains.xml"), sample("04-")).unwrap();
    let out = relay_audit()
        .args(["scan", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("a-cut.xml:"), "{err}");
    assert!(lines[0].contains("cut off"), "{err}");
    assert!(!err.contains("panicked"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got = rule_objects(&v);
    assert!(got.contains(&("DOM-RELAY-ALL".into(), "Problem Accepted Domain".into())));
    let cut_input = &v["inputs"][0];
    assert_eq!(cut_input["status"], "error");
    // objects before the cut were still read
    assert!(cut_input["records"].as_u64().unwrap() >= 1);
}

#[test]
fn broken_xml_and_dtds_are_errors_with_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xml");
    std::fs::write(
        &bad,
        "<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">\n  <Obj RefId=\"0\">\n    <S N=\"a\">x</B>\n  </Obj>\n</Objs>\n",
    )
    .unwrap();
    relay_audit()
        .arg("scan")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.xml:3: malformed XML"));
    let dtd = dir.path().join("dtd.xml");
    std::fs::write(
        &dtd,
        "<?xml version=\"1.0\"?>\n<!DOCTYPE Objs [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<Objs><Obj RefId=\"0\"><S>&x;</S></Obj></Objs>\n",
    )
    .unwrap();
    relay_audit()
        .arg("scan")
        .arg(&dtd)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("dtd.xml:2: DTD found"));
}

#[test]
fn non_exports_are_skipped_in_folders_but_errors_when_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "Call the client on Monday.\n").unwrap();
    std::fs::write(
        dir.path().join("logo.png"),
        [0x89, b'P', b'N', b'G', 0, 0, 1, 2],
    )
    .unwrap();
    std::fs::write(dir.path().join("domains.xml"), sample("02-")).unwrap();
    let (code, v) = scan_json(&[dir.path()], &["--fail-on", "never"]);
    assert_eq!(code, 0);
    let statuses: Vec<(&str, &str)> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["path"].as_str().unwrap().rsplit('/').next().unwrap(),
                i["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("domains.xml", "ok"),
            ("logo.png", "skipped"),
            ("notes.txt", "skipped")
        ]
    );
    relay_audit()
        .arg("scan")
        .arg(dir.path().join("notes.txt"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "notes.txt: not a recognizable export",
        ));
    relay_audit()
        .args(["scan", "no/such/path.xml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no/such/path.xml"));
}

#[test]
fn the_same_export_in_every_encoding_gives_the_same_findings() {
    let text = sample("03-");
    let dir = tempfile::tempdir().unwrap();
    let variants: Vec<(&str, Vec<u8>)> = vec![
        ("utf8.xml", text.clone().into_bytes()),
        (
            "utf8bom.xml",
            [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
        ),
        ("utf16.xml", utf16le_bom(&text)),
        ("utf16-nobom.xml", utf16le_bom(&text)[2..].to_vec()),
    ];
    let mut results = Vec::new();
    for (name, bytes) in variants {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let (_, v) = scan_json(&[&p], &["--fail-on", "never"]);
        let fps: Vec<(String, String)> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_string(),
                    f["fingerprint"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(!fps.is_empty(), "{name}");
        results.push((name, v["inputs"][0]["encoding"].clone(), fps));
    }
    for r in &results[1..] {
        assert_eq!(r.2, results[0].2, "{} vs {}", r.0, results[0].0);
    }
    let encs: Vec<String> = results
        .iter()
        .map(|r| r.1.as_str().unwrap().to_string())
        .collect();
    assert_eq!(encs, ["utf-8", "utf-8-bom", "utf-16le", "utf-16le-nobom"]);
}

#[test]
fn rules_list_and_show() {
    let out = relay_audit().args(["rules", "list"]).output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.lines().count() >= 14, "{s}");
    assert!(s.lines().next().unwrap().contains("critical"));
    relay_audit()
        .args(["rules", "show", "RC-ANON-RELAY-INTERNET"])
        .assert()
        .success()
        .stdout(predicate::str::contains("# RC-ANON-RELAY-INTERNET: "))
        .stdout(predicate::str::contains("## What it does"))
        .stdout(predicate::str::contains("## Why is this bad?"))
        .stdout(predicate::str::contains("## Remediation"))
        .stdout(predicate::str::contains("Remove-ADPermission"))
        .stdout(predicate::str::contains(
            "Defined in: rules/receive-connector/RC-ANON-RELAY-INTERNET.toml",
        ));
    relay_audit()
        .args(["rules", "show", "NOPE-1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no rule `NOPE-1`"));
}

const USER_RULE: &str = r#"id = "DOM-RELAY-ALL"
title = "Relay domain star (house severity)"
severity = "medium"
category = "relay"
object = "accepted-domain"
versions = ["2019"]
message = "{object}: relay domain {DomainName}"
when.all = [
  { domain_scope = "everything" },
  { field = { name = "DomainType", one_of = ["InternalRelay", "ExternalRelay"] } },
]
what = "w"
why = "y"
remediation = "Remove-AcceptedDomain -Identity \"{object}\""
"#;

#[test]
fn a_user_rule_with_a_builtin_id_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("mine.toml");
    std::fs::write(&r, USER_RULE).unwrap();
    let (_, v) = scan_json(
        &[Path::new(SAMPLES)],
        &[
            "--rules",
            r.to_str().unwrap(),
            "--fail-on",
            "never",
            "--one-organisation",
        ],
    );
    let stars: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "DOM-RELAY-ALL")
        .collect();
    assert_eq!(stars.len(), 2);
    assert!(stars.iter().all(|f| f["severity"] == "medium"));
    assert!(v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["message"]
            .as_str()
            .unwrap()
            .contains("replaces the one from")));
}

#[test]
fn a_rule_file_with_a_typo_fails_with_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("typo.toml");
    std::fs::write(&r, USER_RULE.replace("domain_scope", "domain_scop")).unwrap();
    let out = relay_audit()
        .args(["scan", SAMPLES, "--one-organisation", "--rules"])
        .arg(&r)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("typo.toml:9:5: invalid rule file: unknown variant `domain_scop`"),
        "{err}"
    );
    assert!(
        err.contains("domain_scope"),
        "expected names the choices: {err}"
    );
}

#[test]
fn random_bytes_never_panic() {
    // Deterministic pseudo-random inputs, including ones that start like real exports.
    let dir = tempfile::tempdir().unwrap();
    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let prefixes: [&[u8]; 4] = [
        b"",
        b"\xFF\xFE<\0O\0b\0j\0s\0>\0",
        b"<Objs><Obj RefId=\"0\"><TN RefId=\"0\"><T>X.ReceiveConnector</T></TN><Props>",
        b"\r\n\r\nIdentity : EX01\\Relay\r\nRemoteIPRanges : {",
    ];
    for i in 0..40 {
        let mut bytes = prefixes[i % prefixes.len()].to_vec();
        let n = (next() % 3000) as usize;
        for _ in 0..n {
            bytes.push(next() as u8);
        }
        std::fs::write(dir.path().join(format!("f{i:02}.bin")), bytes).unwrap();
    }
    let out = relay_audit()
        .args(["scan", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(matches!(out.status.code(), Some(0..=2)));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["inputs"].as_array().unwrap().len(), 40);
}

#[test]
fn readme_rule_table_is_generated_from_the_rule_files() {
    let out = relay_audit()
        .args(["rules", "list", "--format", "markdown"])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- rules:start")
        .expect("README has the rules:start marker");
    let body_start = readme[start..].find('\n').unwrap() + start + 1;
    let end = readme
        .find("<!-- rules:end -->")
        .expect("README has the rules:end marker");
    assert_eq!(
        &readme[body_start..end],
        table,
        "README rule table is stale: regenerate it with `relay-audit rules list --format markdown`"
    );
}

#[test]
fn rules_list_json_carries_every_doc_field() {
    let out = relay_audit()
        .args(["rules", "list", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for r in v.as_array().unwrap() {
        for k in [
            "id",
            "title",
            "severity",
            "category",
            "object",
            "versions",
            "what",
            "why",
            "remediation",
            "source",
        ] {
            assert!(!r[k].is_null(), "{} lacks {k}", r["id"]);
        }
    }
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    relay_audit()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("relay-audit"))
        .stdout(predicate::str::contains("--fail-on"));
    relay_audit()
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH relay-audit 1"))
        .stdout(predicate::str::contains("diff"));
}

#[test]
fn every_man_page_a_page_names_can_be_generated() {
    // relay-audit(1) names relay-audit-scan(1), relay-audit-rules(1) names
    // relay-audit-rules-list(1), ...: `man scan`, `man rules list` print them.
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    let reference = regex::Regex::new(r"relay\\-audit((?:\\-[a-z]+)+)\(1\)").unwrap();
    while let Some(args) = todo.pop() {
        seen += 1;
        assert!(seen < 100, "man pages do not end");
        let out = relay_audit().arg("man").args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "man {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let page = String::from_utf8(out.stdout).unwrap();
        let name = std::iter::once("relay-audit".to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join("-");
        assert!(page.contains(&format!(".TH {name} 1")), "man {args:?}");
        for c in reference.captures_iter(&page) {
            let full = format!("relay-audit{}", c[1].replace("\\-", "-"));
            // Only the pages one level down: the page's own name, then one command.
            let Some(sub) = full.strip_prefix(&format!("{name}-")) else {
                continue;
            };
            if args.iter().any(|a| a == "help") || sub.contains('-') && sub != "settings-template" {
                continue;
            }
            let mut next = args.clone();
            next.push(sub.to_string());
            todo.push(next);
        }
    }
    assert!(seen > 10, "{seen} pages");
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    // Not a terminal (a pipe): no escape codes by default, and NO_COLOR is honoured.
    let plain = relay_audit()
        .args(["scan", SAMPLES, "--one-organisation"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains('\u{1b}'));
    let forced = relay_audit()
        .args(["scan", SAMPLES, "--one-organisation", "--color", "always"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&forced.stdout).contains("\u{1b}["));
    // no progress bar either: standard error is not a terminal
    assert!(String::from_utf8_lossy(&plain.stderr).is_empty());
}

// Issue 4 (legacy Exchange): every settings template scans cleanly once a name is filled in,
// and a mistyped key fails with file:line:col and the keys expected.
#[test]
fn settings_templates_scan_and_typos_name_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    for v in ["4.0", "5.0", "5.5", "2000", "2003"] {
        let out = relay_audit()
            .args(["settings-template", "--version", v])
            .output()
            .unwrap();
        assert!(out.status.success(), "{v}");
        let text = String::from_utf8(out.stdout)
            .unwrap()
            .replace("name = \"\"", "name = \"MAIL\"");
        let path = dir.path().join(format!("settings-{v}.toml"));
        std::fs::write(&path, text).unwrap();
        let (code, json) = scan_json(&[&path], &["--fail-on", "never"]);
        assert_eq!(code, 0, "{v}: {json}");
        assert_eq!(json["inputs"][0]["format"], "settings", "{v}");
    }
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[server]]\nname = \"MAIL\"\nversion = \"2003\"\nsevice_pack = 2\n",
    )
    .unwrap();
    relay_audit()
        .args(["scan"])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bad.toml:4:1: invalid settings file",
        ))
        .stderr(predicate::str::contains("service_pack"));
}

// Issue 4 "done when": a folder mixing a 5.5 .reg, a 2003 LDIF, a MetaBase.xml, a settings file
// and 2019 CliXML is audited in one run, each finding labelled with its server and version.
#[test]
fn a_mixed_legacy_folder_is_audited_in_one_run_with_server_and_version() {
    let dir = root().join("fixtures/legacy-mixed/all");
    let (code, json) = scan_json(&[&dir], &[]);
    assert_eq!(code, 1, "{json}");
    let mut formats: Vec<&str> = json["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(i["status"], "ok", "{i}");
            i["format"].as_str().unwrap()
        })
        .collect();
    formats.sort();
    formats.dedup();
    assert_eq!(formats, ["clixml", "ldif", "metabase", "reg", "settings"]);
    let labels: std::collections::BTreeSet<(String, String, String)> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["object"]["server"].as_str().unwrap().to_string(),
                f["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("RC-ANON-RELAY-INTERNET", "EX01", "2019"),
        ("IMC-NO-REROUTE-BACKSCATTER", "MAIL55", "5.5"),
        ("SVS-METABASE-DRIFT", "MAIL", "2003"),
    ] {
        let want = (want.0.to_string(), want.1.to_string(), want.2.to_string());
        assert!(labels.contains(&want), "{want:?} not in {labels:?}");
    }
    // The drift names both files and lines.
    let drift = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "SVS-METABASE-DRIFT")
        .unwrap();
    let files: Vec<&str> = drift["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file"].as_str().unwrap())
        .collect();
    assert!(files.iter().any(|f| f.ends_with("smtp.ldf")), "{files:?}");
    assert!(
        files.iter().any(|f| f.ends_with("MAIL-MetaBase.xml")),
        "{files:?}"
    );
    // The HTML report counts the legacy objects read, as the table does.
    let out = relay_audit()
        .arg("scan")
        .arg(&dir)
        .args(["--format", "html"])
        .output()
        .unwrap();
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(
        html.contains("1 Internet Mail Service, 1 SMTP virtual server, 1 SMTP connector</dd>"),
        "{html}"
    );
}

// A MetaBase.xml of a web server only (no SMTP) is not an export; a bad RelayIpList value is
// a one-line error naming file and line.
#[test]
fn metabase_without_smtp_is_skipped_and_bad_values_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let web = "<?xml version =\"1.0\"?>\r\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\">\r\n<MBProperty>\r\n<IIsWebServer\tLocation =\"/LM/W3SVC/1\"\r\n\t\tServerComment=\"Default Web Site\"\r\n\t>\r\n</IIsWebServer>\r\n</MBProperty>\r\n</configuration>\r\n";
    let path = dir.path().join("MetaBase.xml");
    std::fs::write(&path, web).unwrap();
    let (code, v) = scan_json(&[dir.path()], &["--fail-on", "never"]);
    assert_eq!(code, 0);
    assert_eq!(v["inputs"][0]["status"], "skipped", "{v}");
    relay_audit()
        .arg("scan")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("without an IIsSmtpServer element"));
    let bad = web.replace(
        "</MBProperty>",
        "<IIsSmtpServer\tLocation =\"/LM/SmtpSvc/1\"\r\n\t\tRelayIpList=\"18000080zz\"\r\n\t>\r\n</IIsSmtpServer>\r\n</MBProperty>",
    );
    std::fs::write(&path, bad).unwrap();
    relay_audit()
        .arg("scan")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("MetaBase.xml:9"))
        .stderr(predicate::str::contains(
            "RelayIpList: `z` is not a hexadecimal digit",
        ));
}

/// `relay-audit … | head`: a reader that closes the pipe early ends every command quietly
/// (exit 0, nothing on stderr), never with a broken-pipe panic (exit 101).
#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let bin = env!("CARGO_BIN_EXE_relay-audit");
    let fixture = root().join("fixtures/clean-2019/format-list");
    let fixture = fixture.to_str().unwrap();
    let replay = root().join("tests/rules/PROBE-OPEN-RELAY/quiet-postfix-closed/probe.json");
    let replay = replay.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["rules", "list"],
        vec!["rules", "list", "--format", "json"],
        vec!["rules", "list", "--format", "markdown"],
        vec!["rules", "show", "RC-ANON-RELAY-INTERNET"],
        vec!["completions", "bash"],
        vec!["man"],
        vec!["man", "rules", "list"],
        vec!["schema"],
        vec!["settings-template", "--version", "2003"],
        vec!["scan", fixture, "--format", "json"],
        vec!["scan", fixture],
        vec!["probe", "--replay", replay],
    ];
    for args in commands {
        let mut child = std::process::Command::new(bin)
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before the command writes: every write hits EPIPE.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The bash completion completes subcommand options (clap_complete's script did not, for a
/// hyphenated binary name): sourced in a real bash and asked as bash asks.
#[test]
fn bash_completes_subcommand_options() {
    let script = relay_audit()
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(script.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay-audit.bash");
    std::fs::write(&path, &script.stdout).unwrap();
    let ask = |words: &str, cur: &str, prev: &str| {
        let line = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); _relay__audit relay-audit '{cur}' '{prev}'; echo \"${{COMPREPLY[@]}}\"",
            path.display()
        );
        let out = std::process::Command::new("bash")
            .args(["-c", &line])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(ask("relay-audit scan --fo", "--fo", "scan").contains("--format"));
    let tls = ask("relay-audit probe --tls-", "--tls-", "probe");
    assert!(
        tls.contains("--tls-on-connect") && tls.contains("--tls-ca"),
        "{tls}"
    );
    assert!(ask("relay-audit sc", "sc", "relay-audit").contains("scan"));
}

/// Exports of several organisations in one folder are not judged as one (connectors of one
/// name would merge): exit 2 naming each; in folders of their own they are one audit each.
#[test]
fn organisations_are_never_judged_as_one_unasked() {
    let (code, v) = scan_json(&[Path::new(SAMPLES)], &[]);
    assert_eq!(code, 2);
    let errors: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["level"] == "error")
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    for org in [
        "First Organization (exlab.dom)",
        "SoloORG (solo.com)",
        "SoloORG (solo.local)",
        "--one-organisation",
    ] {
        assert!(errors[0].contains(org), "{org}: {}", errors[0]);
    }

    let dir = tempfile::tempdir().unwrap();
    for (client, name) in [
        ("exlab", "01-e2019-get-receiveconnector"),
        ("solo", "02-e2019-get-accepteddomain"),
    ] {
        std::fs::create_dir(dir.path().join(client)).unwrap();
        std::fs::write(dir.path().join(client).join("export.xml"), sample(name)).unwrap();
    }
    let (code, v) = scan_json(&[dir.path()], &["--fail-on", "never"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["audits"].as_array().unwrap().len(), 2, "{v}");
}
