//! SMTP logs, read by the real binary.
//!
//! `tests/logs/real/` holds byte-exact copies of the real log excerpts (sources in its
//! SOURCES.md) and `expected.toml`, their sessions, commands, replies and recipients counted
//! by hand. Every excerpt is scanned alone and its counts compared with the hand counts.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn real() -> std::path::PathBuf {
    root().join("tests/logs/real")
}

fn expected() -> toml::Table {
    toml::from_str(&std::fs::read_to_string(real().join("expected.toml")).unwrap()).unwrap()
}

fn int(t: &toml::Table, k: &str) -> Option<u64> {
    t.get(k).and_then(|v| v.as_integer()).map(|v| v as u64)
}

fn strings(t: &toml::Table, k: &str) -> Option<BTreeSet<String>> {
    t.get(k).and_then(|v| v.as_array()).map(|a| {
        a.iter()
            .map(|s| s.as_str().unwrap().trim_end().to_string())
            .collect()
    })
}

/// Scans one log file alone; its input summary and the report.
fn scan_log(path: &Path) -> (Value, Value) {
    let (code, v) = scan_json(&[path], &["--fail-on", "never"]);
    assert_eq!(code, 0, "{}: {v}", path.display());
    let input = v["inputs"][0].clone();
    (input, v)
}

/// Compares the reader's counts with the hand counts of one file (or one part of it).
fn check(name: &str, kind: &str, t: &toml::Table, input: &Value, report: &Value) {
    assert_eq!(input["format"], kind, "{name}: format");
    let log = &input["log"];
    let got = |k: &str| {
        log[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{name}: no {k} in {log}"))
    };
    let mut compared = 0;
    let mut pairs: Vec<(&str, &str)> = vec![("log_lines", "lines")];
    match kind {
        "smtp-receive" | "smtp-send" => pairs.extend([
            ("sessions", "sessions"),
            ("commands", "commands"),
            ("replies", "replies"),
            ("rcpt", "rcpt"),
            ("rcpt_accepted", "rcpt_accepted"),
            ("rcpt_refused", "rcpt_refused"),
            ("rcpt_unanswered", "rcpt_unanswered"),
            ("authenticated", "authenticated"),
            ("tls", "tls"),
            ("lost_event_marker", "lost_event_marker"),
        ]),
        "message-tracking" => pairs.extend([("events", "lines"), ("receive_smtp", "receive_smtp")]),
        "iis-w3c" | "iis-ncsa" => pairs.extend([
            ("rcpt", "rcpt"),
            ("rcpt_accepted", "rcpt_accepted"),
            ("rcpt_refused", "rcpt_refused"),
        ]),
        "ims" => pairs.extend([
            ("connections", "sessions"),
            ("rcpt", "rcpt"),
            ("rcpt_accepted", "rcpt_accepted"),
        ]),
        _ => panic!("{name}: unexpected kind {kind}"),
    }
    for (hand, ours) in pairs {
        if let Some(want) = int(t, hand) {
            assert_eq!(got(ours), want, "{name}: {hand}");
            compared += 1;
        }
    }
    assert!(compared >= 2, "{name}: nothing compared");
    // The clients a receive or IIS log shows are the hosts of the usage report.
    if matches!(kind, "smtp-receive" | "iis-w3c" | "iis-ncsa") {
        if let Some(want) = strings(t, "clients") {
            let got: BTreeSet<String> = report["usage"]["hosts"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|h| h["client"].as_str().unwrap().to_string())
                        // Sessions of Internet hosts that asked for no recipient share one
                        // aggregate: it is no client of its own.
                        .filter(|c| !c.starts_with('('))
                        .collect()
                })
                .unwrap_or_default();
            // Internet hosts that never asked for a recipient (scanners sending `xxxx`) are
            // counted together, not one by one: every client listed is one the file shows,
            // and those missing are in the shared aggregate.
            assert!(
                got.is_subset(&want),
                "{name}: clients {got:?} not in {want:?}"
            );
            let shared = report["usage"]["hosts"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|h| h["client"].as_str().unwrap().starts_with('('))
            });
            assert!(got == want || shared, "{name}: clients {got:?} != {want:?}");
        }
        if let (Some(want), "smtp-receive") = (strings(t, "connectors"), kind) {
            let got: BTreeSet<String> = report["usage"]["hosts"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|h| h["connector"].as_str().unwrap().trim_end().to_string())
                        .collect()
                })
                .unwrap_or_default();
            // A session keeps the connector of its first line (posters anonymised the rest).
            assert!(
                got.is_subset(&want),
                "{name}: connectors {got:?} not in {want:?}"
            );
            assert!(!got.is_empty(), "{name}: no connector");
        }
    }
}

#[test]
fn every_real_excerpt_is_read_as_a_person_counts_it() {
    let exp = expected();
    let mut files = 0;
    for (name, t) in &exp {
        let t = t.as_table().unwrap();
        let kind = t["kind"].as_str().unwrap();
        let path = real().join(name);
        assert!(path.exists(), "{name}");
        files += 1;
        match kind {
            "unreadable" => {
                // Scanned in a folder: skipped with a reason, never read as a clean log.
                let dir = tempfile::tempdir().unwrap();
                std::fs::copy(&path, dir.path().join(name)).unwrap();
                let (code, v) = scan_json(&[dir.path()], &["--fail-on", "never"]);
                assert_eq!(code, 0);
                assert_eq!(v["inputs"][0]["status"], "skipped", "{name}: {v}");
                assert!(v["inputs"][0].get("log").is_none());
            }
            "elastic-json" => {
                // The lines of a JSON test fixture: each `message`, receive and send apart,
                // written as the log files they came from (header, CRLF).
                let j: Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                for (part, log_type, wanted) in [
                    ("receive", "SMTP Receive Protocol Log", "SmtpRecive"),
                    ("send", "SMTP Send Protocol Log", "SmtpSend"),
                ] {
                    let mut text = format!(
                        "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: {log_type}\r\n#Date: 2024-01-25T15:00:00.000Z\r\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n"
                    );
                    for e in j["events"].as_array().unwrap() {
                        if e["log"]["file"]["path"] == wanted {
                            text.push_str(e["message"].as_str().unwrap());
                            text.push_str("\r\n");
                        }
                    }
                    let dir = tempfile::tempdir().unwrap();
                    let p = dir.path().join(format!("{part}.LOG"));
                    std::fs::write(&p, text).unwrap();
                    let (input, report) = scan_log(&p);
                    let kind = if part == "send" {
                        "smtp-send"
                    } else {
                        "smtp-receive"
                    };
                    check(
                        &format!("{name} ({part})"),
                        kind,
                        t[part].as_table().unwrap(),
                        &input,
                        &report,
                    );
                }
            }
            _ => {
                let (input, report) = scan_log(&path);
                check(name, kind, t, &input, &report);
            }
        }
    }
    assert_eq!(files, 18, "every excerpt has its hand count");
}

/// The S3 trap: a relay refused mid-session after a pipelined MAIL the excerpt does not show.
/// Pairing `250 2.1.0 Sender OK` with the RCPT would invent a relayed recipient.
#[test]
fn a_sender_reply_never_answers_a_recipient() {
    let (_, v) = scan_log(&real().join("e2013-smtpreceive-msqa179653-frontend-relay-denied.log"));
    let hosts = v["usage"]["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0]["client"], "40.107.19.96");
    assert_eq!(hosts[0]["unclassified"]["accepted"], 0);
    assert_eq!(hosts[0]["unclassified"]["refused"], 1);
    assert_eq!(hosts[0]["replies"][0][0], "550 5.7.1");
}

/// Forum damage — a blank line after every line, trailing blanks, the `*` and `#` lost —
/// changes nothing: the clean sample, damaged by hand the way forums do, reads the same.
#[test]
fn forum_damage_does_not_change_what_a_log_says() {
    let clean = real().join("e2016plus-smtpreceive-blog-tstrueber-device-relay.log");
    let text = std::fs::read_to_string(&clean).unwrap();
    let mut damaged = String::from("\"");
    for l in text.lines() {
        damaged.push_str(&l.replace(",*,", ",,"));
        damaged.push_str("    \n\n");
    }
    damaged.push('"');
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("paste.txt");
    std::fs::write(&p, &damaged).unwrap();
    let (a, _) = scan_log(&clean);
    let (b, _) = scan_log(&p);
    for k in [
        "lines",
        "sessions",
        "commands",
        "replies",
        "rcpt",
        "rcpt_accepted",
    ] {
        assert_eq!(a["log"][k], b["log"][k], "{k}");
    }
    // UTF-16 (a log re-saved by Notepad) reads the same too.
    let mut utf16 = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        utf16.extend(u.to_le_bytes());
    }
    let p16 = dir.path().join("utf16.log");
    std::fs::write(&p16, utf16).unwrap();
    let (c, _) = scan_log(&p16);
    for k in [
        "lines",
        "sessions",
        "commands",
        "replies",
        "rcpt",
        "rcpt_accepted",
    ] {
        assert_eq!(a["log"][k], c["log"][k], "{k}");
    }
}

mod fuzz {
    use proptest::prelude::*;
    use relay_audit::input::logs::sniff;
    use relay_audit::model::usage::{read_log, Domains, LogKind};
    use std::sync::Arc;

    const KINDS: [LogKind; 6] = [
        LogKind::SmtpReceive,
        LogKind::SmtpSend,
        LogKind::MessageTracking,
        LogKind::IisW3c,
        LogKind::IisNcsa,
        LogKind::Ims,
    ];

    fn samples() -> Vec<Vec<u8>> {
        let dir = super::real();
        let mut v: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .map(|e| std::fs::read(e.path()).unwrap())
            .collect();
        v.sort();
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any bytes, read as any kind of log: no panic, no line counted twice.
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096), k in 0usize..6) {
            let (_, _, s) = read_log(&data[..], "fuzz", KINDS[k], Arc::new(Domains::default()));
            let lines = data.split(|b| *b == b'\n').count() as u64;
            prop_assert!(s.lines <= lines);
            let _ = sniff(&String::from_utf8_lossy(&data));
        }

        /// Real excerpts cut, spliced and flipped anywhere: no panic, and the counts stay
        /// within what the bytes can hold.
        #[test]
        fn damaged_real_logs_never_panic(i in 0usize..16, cut in any::<prop::sample::Index>(),
                                         flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16),
                                         k in 0usize..6) {
            let all = samples();
            let mut data = all[i % all.len()].clone();
            let at = cut.index(data.len().max(1));
            data.truncate(at.max(1));
            let n = data.len();
            for (p, b) in flips {
                data[p.index(n)] = b;
            }
            let (_, _, s) = read_log(&data[..], "fuzz", KINDS[k], Arc::new(Domains::default()));
            prop_assert!(s.rcpt_accepted + s.rcpt_refused <= s.rcpt.max(s.lines));
        }
    }
}

/// A log line longer than the 1 MiB cap (a crafted file, or binary junk with no line break)
/// is skipped with one note, in bounded memory; the lines around it are still read.
#[test]
fn an_endless_line_is_skipped_with_one_note() {
    let clean = std::fs::read(real().join("e2016plus-smtpreceive-blog-tstrueber-device-relay.log"))
        .unwrap();
    let mut data = clean.clone();
    data.extend(std::iter::repeat_n(b'A', 5 << 20));
    data.push(b'\n');
    data.extend(&clean);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("RECV2024031309-1.LOG");
    std::fs::write(&p, &data).unwrap();
    let (input, v) = scan_log(&p);
    assert_eq!(input["log"]["lines"], 28, "{input}");
    let notes: Vec<&Value> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["message"].as_str().unwrap().contains("longer than"))
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
}

/// An authenticated session cut by the hourly rollover. In one folder the two hourly files
/// are one series: the session continues and keeps its account. Read apart (two folders), the
/// continuation shows no authentication line; its relayed recipient is still not taken for
/// anonymous abuse.
#[test]
fn a_session_cut_by_the_hourly_rollover_keeps_its_account() {
    let head = "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: SMTP Receive Protocol Log\r\n#Date: 2024-03-13T09:00:00.000Z\r\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n";
    let c = "EX01\\Client Frontend EX01,08DC42C8FF236A99";
    let ep = "10.0.0.5:587,93.184.216.34:50000";
    let first = format!(
        "{head}2024-03-13T09:59:58.100Z,{c},0,{ep},+,,\r\n2024-03-13T09:59:58.101Z,{c},1,{ep},>,\"220 EX01 ready, hello\",\r\n2024-03-13T09:59:58.200Z,{c},2,{ep},<,EHLO laptop,\r\n2024-03-13T09:59:58.201Z,{c},3,{ep},>,250  EX01 Hello,\r\n2024-03-13T09:59:58.300Z,{c},4,{ep},<,AUTH LOGIN,\r\n2024-03-13T09:59:59.300Z,{c},5,{ep},*,CONTOSO\\anna,authenticated\r\n2024-03-13T09:59:59.301Z,{c},6,{ep},>,235 2.7.0 Authentication successful,\r\n"
    );
    let second = format!(
        "{head}2024-03-13T10:00:00.100Z,{c},7,{ep},<,MAIL FROM:<anna@contoso.com>,\r\n2024-03-13T10:00:00.101Z,{c},8,{ep},>,250 2.1.0 Sender OK,\r\n2024-03-13T10:00:00.200Z,{c},9,{ep},<,RCPT TO:<partner@fabrikam.com>,\r\n2024-03-13T10:00:00.201Z,{c},10,{ep},>,250 2.1.5 Recipient OK,\r\n2024-03-13T10:00:01.000Z,{c},11,{ep},-,,Remote\r\n"
    );
    let relayed_by = |dirs: &[&Path]| -> (Vec<String>, Value) {
        let mut paths: Vec<&Path> = vec![];
        let config = root().join("fixtures/open-relay-anonymous/clixml");
        paths.push(&config);
        paths.extend(dirs);
        let (_, v) = scan_json(&paths, &["--fail-on", "never"]);
        let rules = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect();
        let h = v["usage"]["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["outside"]["accepted"] == 1)
            .unwrap()
            .clone();
        (rules, h)
    };
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("SmtpReceive");
    std::fs::create_dir(&one).unwrap();
    std::fs::write(one.join("RECV2024031309-1.LOG"), &first).unwrap();
    std::fs::write(one.join("RECV2024031310-1.LOG"), &second).unwrap();
    let (rules, h) = relayed_by(&[&one]);
    assert!(!rules.iter().any(|r| r == "LOG-RELAY-ABUSED"), "{rules:?}");
    assert_eq!(h["auth"], "CONTOSO\\anna");
    assert_eq!(h["sessions"], 1);
    assert_eq!(h["messages"], 1);

    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    std::fs::write(a.join("RECV2024031309-1.LOG"), &first).unwrap();
    std::fs::write(b.join("RECV2024031310-1.LOG"), &second).unwrap();
    let (rules, h) = relayed_by(&[&a, &b]);
    assert!(!rules.iter().any(|r| r == "LOG-RELAY-ABUSED"), "{rules:?}");
    assert_eq!(h["auth"], "continued");
}

/// A ticket that quotes two log lines beside a connector's settings is a transcript: the
/// settings are read. A log with a connector's settings pasted into it keeps them as unread
/// relay evidence (INPUT-NOT-UNDERSTOOD), never a silent skip.
#[test]
fn log_lines_and_settings_in_one_file_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::read_to_string(
        real().join("e2016plus-smtpreceive-blog-tstrueber-device-relay.log"),
    )
    .unwrap();
    let two: Vec<&str> = log.lines().take(2).collect();
    let ticket = format!(
        "Hi, the copier cannot send. Log:\n\n{}\n\nOur connector:\n\nIdentity         : EX01\\Relay\nEnabled          : True\nRemoteIPRanges   : {{0.0.0.0-255.255.255.255}}\nPermissionGroups : AnonymousUsers\nBindings         : {{0.0.0.0:25}}\nAuthMechanism    : Tls\n\nThanks, Anna\n",
        two.join("\n")
    );
    let p = dir.path().join("ticket.txt");
    std::fs::write(&p, ticket).unwrap();
    let (code, v) = scan_json(&[&p], &["--fail-on", "never"]);
    assert_eq!(code, 0);
    assert_eq!(
        v["inputs"][0]["kind"], "receive-connector",
        "{}",
        v["inputs"][0]
    );

    let mut mixed = log.clone();
    mixed.push_str(
        "PermissionGroups : AnonymousUsers, Custom\nRemoteIPRanges   : {0.0.0.0-255.255.255.255}\n",
    );
    let q = dir.path().join("RECV2024031309-1.LOG");
    std::fs::write(&q, mixed).unwrap();
    let (_, v) = scan_json(&[&q], &["--fail-on", "never"]);
    assert_eq!(v["inputs"][0]["format"], "smtp-receive");
    assert_eq!(v["inputs"][0]["status"], "partial");
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"INPUT-NOT-UNDERSTOOD"), "{rules:?}");
}

/// A log is written by whoever connects: an EHLO name or a recipient is the attacker's text.
/// Control and bidi characters never reach the terminal, `<script>` never reaches the HTML.
#[test]
fn what_a_client_wrote_in_the_log_is_escaped_everywhere() {
    let head = "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: SMTP Receive Protocol Log\r\n#Date: 2024-03-13T09:00:00.000Z\r\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n";
    let c = "EX01\\Default Frontend EX01,08DC42C8FF236A77";
    let ep = "10.0.0.5:25,45.95.147.10:50000";
    let body = [
        format!("2024-03-13T09:00:00.000Z,{c},0,{ep},+,,"),
        format!("2024-03-13T09:00:00.001Z,{c},1,{ep},>,\"220 EX01 ready, hello\","),
        format!("2024-03-13T09:00:00.100Z,{c},2,{ep},<,EHLO \u{1b}]0;pwned\u{7}\u{1b}[31mred\u{202e}txt.exe,"),
        format!("2024-03-13T09:00:00.101Z,{c},3,{ep},>,250 ok,"),
        format!("2024-03-13T09:00:00.200Z,{c},4,{ep},<,MAIL FROM:<a@b.ru>,"),
        format!("2024-03-13T09:00:00.201Z,{c},5,{ep},>,250 2.1.0 Sender OK,"),
        format!("2024-03-13T09:00:00.300Z,{c},6,{ep},<,RCPT TO:<\"<script>alert(1)</script>\u{1b}[2J\"@gmail.com>,"),
        format!("2024-03-13T09:00:00.301Z,{c},7,{ep},>,250 2.1.5 Recipient OK,"),
        format!("2024-03-13T09:00:00.400Z,{c},8,{ep},-,,Local"),
    ]
    .join("\r\n");
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(
        logs.join("RECV2024031309-1.LOG"),
        format!("{head}{body}\r\n"),
    )
    .unwrap();
    let config = root().join("fixtures/open-relay-anonymous/clixml");
    let run = |args: &[&str]| -> String {
        let out = relay_audit()
            .args(args)
            .arg(&config)
            .arg(&logs)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let table = run(&["scan", "--fail-on", "never"]);
    assert!(table.contains("LOG-RELAY-ABUSED"), "{table}");
    assert!(table.contains("gmail.com"), "{table}");
    let inventory = run(&["inventory"]);
    assert!(inventory.contains("45.95.147.10"), "{inventory}");
    for (what, text) in [("table", &table), ("inventory", &inventory)] {
        assert!(
            !text
                .chars()
                .any(|c| c == '\u{1b}' || c == '\u{7}' || c == '\u{202e}'),
            "{what}: {text}"
        );
    }
    let html = run(&["scan", "--format", "html", "--fail-on", "never"]);
    assert!(html.contains("LOG-RELAY-ABUSED"));
    assert!(!html.contains("<script>alert"), "raw script in the HTML");
}
