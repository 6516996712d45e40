//! Real pastes (`fixtures/pastes/`, sources in `pastes.toml`) and generated forum, mail and
//! Markdown variants of them: every paste yields exactly the findings `pastes.toml` lists, no
//! paste that shows a relay right, relay list or open range passes clean, and no artifact
//! changes a verdict.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(serde::Deserialize)]
struct Pastes {
    paste: Vec<Paste>,
}

#[derive(serde::Deserialize)]
struct Paste {
    file: String,
    source: String,
    relay_evidence: bool,
    expect: Vec<Expected>,
}

#[derive(serde::Deserialize)]
struct Expected {
    rule: String,
    object: String,
}

fn pastes() -> Vec<Paste> {
    let text = std::fs::read_to_string(root().join("fixtures/pastes/pastes.toml")).unwrap();
    toml::from_str::<Pastes>(&text).unwrap().paste
}

/// (rule, object) of a scan, an input finding's object (a path) reduced to its file name.
fn findings(paths: &[&Path]) -> (i32, BTreeSet<(String, String)>) {
    let (code, v) = scan_json(paths, &["--fail-on", "info"]);
    let set = rule_objects(&v)
        .into_iter()
        .map(|(r, o)| {
            if r == "INPUT-NOT-UNDERSTOOD" {
                let name = Path::new(&o).file_name().unwrap().to_string_lossy();
                (r, name.into_owned())
            } else {
                (r, o)
            }
        })
        .collect();
    (code, set)
}

#[test]
fn every_real_paste_yields_its_findings_and_none_with_relay_evidence_passes_clean() {
    let all = pastes();
    assert!(all.len() >= 15, "{} real pastes", all.len());
    let dir = root().join("fixtures/pastes");
    // Every paste file is listed with its source.
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".txt") {
            assert!(
                all.iter().any(|p| p.file == name),
                "{name} is not in pastes.toml"
            );
        }
    }
    let mut with_evidence = 0;
    for p in &all {
        assert!(!p.source.trim().is_empty(), "{}: no source", p.file);
        let path = dir.join(&p.file);
        let (code, got) = findings(&[&path]);
        let want: BTreeSet<(String, String)> = p
            .expect
            .iter()
            .map(|e| (e.rule.clone(), e.object.clone()))
            .collect();
        assert_eq!(got, want, "{}: findings", p.file);
        if p.relay_evidence {
            with_evidence += 1;
            assert_eq!(code, 1, "{}: shows relay evidence, must not pass", p.file);
        }
    }
    assert!(
        with_evidence >= 6,
        "{with_evidence} pastes show relay evidence"
    );
}

/// One artifact: its name and what it does to a text.
type Artifact = (&'static str, Box<dyn Fn(&str) -> String>);

/// The artifacts forums, mail clients and Markdown add, each as a function of the text.
fn artifacts() -> Vec<Artifact> {
    fn lines(t: &str) -> Vec<&str> {
        t.lines().collect()
    }
    vec![
        (
            "double spacing",
            Box::new(|t: &str| lines(t).iter().map(|l| format!("{l}\n\n")).collect()),
        ),
        (
            "Markdown line breaks",
            Box::new(|t: &str| {
                lines(t)
                    .iter()
                    .map(|l| {
                        if l.trim().is_empty() {
                            "\n".to_string()
                        } else {
                            format!("{l}  \n")
                        }
                    })
                    .collect()
            }),
        ),
        (
            "mail quote",
            Box::new(|t: &str| lines(t).iter().map(|l| format!("> {l}\n")).collect()),
        ),
        (
            "code fence",
            Box::new(|t: &str| format!("```powershell\n{}\n```\n", t.trim_end())),
        ),
        (
            "HTML entities",
            Box::new(|t: &str| {
                t.replace('&', "&amp;")
                    .replace('>', "&gt;")
                    .replace('<', "&lt;")
            }),
        ),
        (
            "non-breaking spaces",
            Box::new(|t: &str| t.replace("  ", "\u{a0} ")),
        ),
        (
            "typographic quotes",
            Box::new(|t: &str| {
                let mut open = true;
                t.chars()
                    .map(|c| {
                        if c == '"' {
                            open = !open;
                            if open {
                                '\u{201d}'
                            } else {
                                '\u{201c}'
                            }
                        } else {
                            c
                        }
                    })
                    .collect()
            }),
        ),
        (
            "CRLF",
            Box::new(|t: &str| t.replace("\r\n", "\n").replace('\n', "\r\n")),
        ),
    ]
}

fn write_variant(dir: &Path, name: &str, text: &str, utf16: bool) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    if utf16 {
        let mut b = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            b.extend_from_slice(&u.to_le_bytes());
        }
        std::fs::write(&path, b).unwrap();
    } else {
        std::fs::write(&path, text).unwrap();
    }
    path
}

/// Every real paste, and every scenario's paste form, under every artifact (and as
/// UTF-16): the same findings.
#[test]
fn no_paste_artifact_changes_a_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    // Every paste relay-audit reads (those that are not an export at all exit 2 as such).
    let mut inputs: Vec<PathBuf> = pastes()
        .into_iter()
        .map(|p| root().join("fixtures/pastes").join(p.file))
        .filter(|p| scan_json(&[p], &["--fail-on", "never"]).0 == 0)
        .collect();
    for dir in subdirs(&root().join("fixtures")) {
        let t = dir.join("paste/thread.txt");
        if t.exists() {
            inputs.push(t);
        }
    }
    assert!(inputs.len() >= 15, "{} inputs", inputs.len());
    let mut checked = 0;
    for (i, input) in inputs.iter().enumerate() {
        let name = input.file_name().unwrap().to_str().unwrap().to_string();
        let (_, want) = findings(&[input]);
        let text = read_text(input);
        let mut variants: Vec<(String, String, bool)> = artifacts()
            .iter()
            .map(|(what, f)| (what.to_string(), f(&text), false))
            .collect();
        variants.push(("UTF-16LE".into(), text.clone(), true));
        for (j, (what, v, utf16)) in variants.into_iter().enumerate() {
            let p = write_variant(&tmp.path().join(format!("{i}-{j}")), &name, &v, utf16);
            let (_, got) = findings(&[&p]);
            assert_eq!(got, want, "{} with {what}", input.display());
            checked += 1;
        }
    }
    assert!(checked >= 100, "{checked} variants");
}

/// The issue's first "done when": a double-spaced paste of an `fl` block followed by
/// header-less `ft User,ExtendedRights` rows names the connector, at the severity its ranges
/// warrant, and fails the run.
#[test]
fn double_spaced_fl_then_header_less_rows_is_an_open_relay_on_the_named_connector() {
    let tmp = tempfile::tempdir().unwrap();
    let text = [
        "[PS] C:\\Windows\\system32>Get-ReceiveConnector \"EX01\\Anonymous Relay\" | fl Enabled,Bindings,RemoteIPRanges,PermissionGroups",
        "",
        "Enabled          : True",
        "Bindings         : {0.0.0.0:25}",
        "RemoteIPRanges   : {0.0.0.0-255.255.255.255}",
        "PermissionGroups : AnonymousUsers",
        "",
        "[PS] C:\\Windows\\system32>Get-ADPermission \"EX01\\Anonymous Relay\" -User \"NT AUTHORITY\\ANONYMOUS LOGON\" | ft User,ExtendedRights",
        "",
        "NT AUTHORITY\\ANONYMOUS LOGON {ms-Exch-SMTP-Accept-Any-Recipient}",
        "NT AUTHORITY\\ANONYMOUS LOGON {ms-Exch-SMTP-Submit}",
    ]
    .iter()
    .map(|l| format!("{l}  \n\n"))
    .collect::<String>();
    let p = write_variant(tmp.path(), "ticket.txt", &text, false);
    let out = relay_audit()
        .arg("scan")
        .arg(&p)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got = rule_objects(&v);
    assert!(
        got.contains(&(
            "RC-ANON-RELAY-INTERNET".into(),
            "EX01\\Anonymous Relay".into()
        )),
        "{got:?}"
    );
    assert!(got.iter().all(|(r, _)| r != "PERM-RELAY-UNATTRIBUTED"));
    // The input lists its blocks: the fl block and the rows, each with its command.
    let blocks = v["inputs"][0]["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    assert_eq!(blocks[0]["form"], "format-list");
    assert_eq!(blocks[1]["form"], "permission rows without header");
    assert_eq!(blocks[1]["used"], 2);
    assert!(blocks[1]["command"]
        .as_str()
        .unwrap()
        .starts_with("Get-ADPermission"));
}

/// A file understood only in part is named in the table report with the lines it could not
/// read, and its JSON entry says `partial` and lists its blocks.
#[test]
fn a_partly_understood_file_is_named_with_its_unread_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let text = "[PS] C:\\>Get-ReceiveConnector \"EX07\\Relay EX07\" | fl Identity,Enabled,RemoteIPRanges\r\n\r\nIdentity       : EX07\\Relay EX07\r\nEnabled        : True\r\nRemoteIPRanges : {10.0.0.0-10.255.255.255}\r\n\r\n[PS] C:\\>Get-ReceiveConnector \"EX07\\Relay EX07\" | Get-ADPermission\r\n\r\nIdentity User Deny Inherited Rights\r\n-------- ---- ---- --------- ------\r\nEX07\\Relay EX07 NT AUTHORIT... False False ms-Exch-SMTP-Accep...\r\n";
    let p = write_variant(tmp.path(), "ticket.txt", text, false);
    let out = relay_audit()
        .arg("scan")
        .arg(&p)
        .args(["--width", "120"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.contains("Not understood (relay evidence relay-audit could not read)"),
        "{s}"
    );
    assert!(
        s.contains("ticket.txt: partly understood (1 of 1 objects used)"),
        "{s}"
    );
    assert!(
        s.contains("    line 11: EX07\\Relay EX07 NT AUTHORIT..."),
        "{s}"
    );
    assert!(s.contains("INPUT-NOT-UNDERSTOOD"), "{s}");
    let (_, v) = scan_json(&[&p], &["--fail-on", "never"]);
    let input = &v["inputs"][0];
    assert_eq!(input["status"], "partial");
    assert_eq!(input["not_understood"][0]["line"], 11);
    let forms: Vec<&str> = input["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["form"].as_str().unwrap())
        .collect();
    assert_eq!(forms, ["format-list", "format-table (collapsed columns)"]);
}

/// Legacy text that is not a whole export reads like the full export: a lone
/// `<IIsSmtpServer>` element cut out of a MetaBase.xml, and the KB 321757 listing of a
/// virtual server's attributes (whose relay list it does not show: undecoded, never "empty").
#[test]
fn legacy_fragments_read_like_the_whole_exports() {
    let metabase = std::fs::read_to_string(
        root().join("fixtures/legacy-2003-metabase-drift/ldif-and-metabase/MAIL/MetaBase.xml"),
    )
    .unwrap();
    let start = metabase.find("<IIsSmtpServer").unwrap();
    let end = metabase.find("</IIsSmtpServer>").unwrap() + "</IIsSmtpServer>".len();
    let tmp = tempfile::tempdir().unwrap();
    let p = write_variant(tmp.path(), "pasted.xml", &metabase[start..end], false);
    let (code, v) = scan_json(&[&p], &["--fail-on", "never"]);
    assert_eq!(code, 0);
    assert_eq!(v["inputs"][0]["format"], "metabase fragment");
    let got = rule_objects(&v);
    assert_eq!(
        got,
        [(
            "SVS-RELAY-ALL-EXCEPT-EMPTY".to_string(),
            "(unknown server)\\Default SMTP Virtual Server".to_string()
        )]
    );
    let kb = root().join("fixtures/pastes/13-e2000-smtp-vs-ad-attributes-kb321757.txt");
    let (_, v) = scan_json(&[&kb], &["--fail-on", "never"]);
    assert_eq!(v["inputs"][0]["format"], "directory attribute listing");
    let rules: Vec<String> = rule_objects(&v).into_iter().map(|(r, _)| r).collect();
    assert_eq!(rules, ["SVS-RELAY-LIST-UNDECODED"]);
}

/// A connector named by its bare name in a pasted command (`Get-ReceiveConnector "Anonymous
/// Relay"`) is the one `SERVER\name` of that name exported elsewhere: one object, its
/// findings on the full identity.
#[test]
fn a_bare_connector_name_is_the_one_exported_connector_of_that_name() {
    let tmp = tempfile::tempdir().unwrap();
    write_variant(
        tmp.path(),
        "rc.txt",
        "Identity         : EX01\\Anonymous Relay\r\nName             : Anonymous Relay\r\nServer           : EX01\r\nEnabled          : True\r\nBindings         : {0.0.0.0:25}\r\nRemoteIPRanges   : {10.1.1.25}\r\nPermissionGroups : AnonymousUsers\r\nAuthMechanism    : Tls\r\n\r\n",
        false,
    );
    write_variant(
        tmp.path(),
        "ticket.txt",
        "[PS] C:\\>Get-ADPermission \"Anonymous Relay\" -User \"NT AUTHORITY\\ANONYMOUS LOGON\" | ft User,ExtendedRights\r\n\r\nNT AUTHORITY\\ANONYMOUS LOGON {ms-Exch-SMTP-Accept-Any-Recipient}\r\n\r\n[PS] C:\\>Get-ReceiveConnector \"Anonymous Relay\" | fl Enabled,RemoteIPRanges\r\n\r\nEnabled        : True\r\nRemoteIPRanges : {10.1.1.25}\r\n\r\n",
        false,
    );
    let (_, v) = scan_json(&[tmp.path()], &["--fail-on", "never"]);
    let got = rule_objects(&v);
    assert_eq!(
        got,
        [(
            "RC-ANON-RELAY-SCOPED".to_string(),
            "EX01\\Anonymous Relay".to_string()
        )],
        "{:#}",
        v["diagnostics"]
    );
}
