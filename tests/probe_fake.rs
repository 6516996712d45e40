//! `relay-audit probe` against scripted servers on 127.0.0.1: Exchange's dialogue by
//! version, tarpits, silence, floods and drops, and the safety promises (one host, never
//! DATA, the password never on the command line nor in the output). Relay verdicts proper are
//! tested against real Postfix and Exim in `tests/probe_live.rs`.

mod common;
#[path = "common/fake_smtp.rs"]
mod fake_smtp;

use common::*;
use fake_smtp::{Action, Fake};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `probe 127.0.0.1 --port P --format json --delay 0 --token T` plus `extra`.
fn probe(port: u16, extra: &[&str]) -> (i32, Value, String) {
    let out = relay_audit()
        .args(["probe", "127.0.0.1", "--port", &port.to_string()])
        .args(["--format", "json", "--delay", "0", "--token", "t0k3n"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {stderr} {}", String::from_utf8_lossy(&out.stdout)));
    assert_report_schema(&v);
    (out.status.code().unwrap(), v, stderr)
}

fn verdicts(v: &Value) -> Vec<(u64, String)> {
    v["probes"][0]["forms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["n"].as_u64().unwrap(),
                f["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn rules_fired(v: &Value) -> Vec<String> {
    rule_objects(v).into_iter().map(|(r, _)| r).collect()
}

/// Never DATA, BDAT, VRFY or EXPN; the token is in EHLO and every MAIL FROM but `<>`.
fn assert_safe(fake: &Fake) {
    let lines = fake.lines();
    assert!(!lines.is_empty());
    for l in &lines {
        let cmd = l.split_once("] ").unwrap().1;
        let verb = fake_smtp::verb(cmd);
        assert!(
            ["EHLO", "HELO", "MAIL", "RCPT", "RSET", "QUIT", "STARTTLS", "AUTH"]
                .contains(&verb.as_str()),
            "the probe sent {cmd}"
        );
        if verb == "EHLO" {
            assert!(cmd.contains("t0k3n"), "{cmd}");
        }
        if verb == "MAIL" && !cmd.contains("<>") {
            assert!(cmd.contains("t0k3n"), "{cmd}");
        }
    }
}

#[test]
fn exchange_2013_closed_is_refused_and_recognised() {
    let fake = fake_smtp::exchange_2013(Duration::ZERO);
    let (code, v, stderr) = probe(fake.port, &[]);
    assert_eq!(code, 0, "{v}");
    let p = &v["probes"][0];
    assert_eq!(p["verdict"], "refused");
    assert_eq!(p["server"]["server"], "exchange-2013+", "{}", p["server"]);
    assert!(p["forms"][1]["rcpt"][0]
        .as_str()
        .unwrap()
        .contains("5.7.54"));
    // The resolved address and the token are printed before connecting.
    assert!(
        stderr.contains("probing 127.0.0.1 (127.0.0.1) port") && stderr.contains("t0k3n"),
        "{stderr}"
    );
    // Every line is timestamped in the transcript.
    let t = p["transcript"].as_array().unwrap();
    assert!(t.iter().all(|l| l["at"].as_str().unwrap().ends_with('Z')));
    assert!(t
        .iter()
        .any(|l| l["dir"] == "->" && l["text"] == "RCPT TO:<relaytest@example.net>"));
    assert_safe(&fake);
    assert!(rules_fired(&v).is_empty(), "{:?}", rules_fired(&v));
}

/// KB Q304897: Exchange 2003 takes `relaytest%example.net` and `"relaytest@example.net"` into
/// its own domain. nmap counts those 250s as relay; the probe does not.
#[test]
fn exchange_2003_q304897_forms_are_accepted_as_local_not_open() {
    let fake = fake_smtp::exchange_2003();
    let (code, v, _) = probe(fake.port, &[]);
    assert_eq!(code, 0, "{v}");
    let p = &v["probes"][0];
    assert_eq!(p["verdict"], "refused", "{}", p["summary"]);
    let vs = verdicts(&v);
    assert!(vs[..4].iter().all(|(_, x)| x == "refused"), "{vs:?}");
    let local: Vec<u64> = vs
        .iter()
        .filter(|(_, x)| x == "accepted-as-local")
        .map(|(n, _)| *n)
        .collect();
    assert!(local.contains(&8), "{vs:?}");
    assert!(vs.iter().all(|(_, x)| x != "open"), "{vs:?}");
    assert_eq!(
        p["server"]["server"], "exchange-2000-2003",
        "{}",
        p["server"]
    );
    assert_eq!(rules_fired(&v), vec!["PROBE-ACCEPTED-AS-LOCAL"]);
    assert_safe(&fake);
}

/// Exchange delays every 5xx (TarpitInterval); a patient probe still decides, an impatient
/// one says inconclusive (exit 2), never "clean".
#[test]
fn tarpit_is_waited_for_and_a_timeout_is_never_a_pass() {
    let fake = fake_smtp::exchange_2013(Duration::from_millis(400));
    let (code, v, _) = probe(fake.port, &["--timeout", "3s", "--stop-on-first-open"]);
    assert_eq!(code, 0);
    assert_eq!(v["probes"][0]["verdict"], "refused");
    let fake = fake_smtp::exchange_2013(Duration::from_millis(1500));
    let (code, v, _) = probe(
        fake.port,
        &[
            "--timeout",
            "300ms",
            "--max-reconnects",
            "1",
            "--max-time",
            "20s",
        ],
    );
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["probes"][0]["verdict"], "inconclusive");
    assert_eq!(rules_fired(&v), vec!["PROBE-INCONCLUSIVE"]);
}

#[test]
fn a_silent_server_is_inconclusive_within_the_time_budget() {
    let fake = fake_smtp::start(
        Vec::new(),
        Duration::ZERO,
        Arc::new(|_: &str| Action::Silence),
    );
    let t = Instant::now();
    let (code, v, _) = probe(
        fake.port,
        &[
            "--timeout",
            "500ms",
            "--max-time",
            "3s",
            "--max-reconnects",
            "2",
        ],
    );
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(code, 2);
    let p = &v["probes"][0];
    assert_eq!(p["verdict"], "inconclusive");
    assert_eq!(p["reached_rcpt"], false);
    assert!(p["forms"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["verdict"] == "inconclusive"));
}

/// A server that floods one endless line and thousands of continuation lines: the probe's
/// memory stays bounded and the verdict is not a pass.
#[test]
fn floods_are_cut_and_bounded() {
    let huge = format!("220 {}", "x".repeat(4 << 20));
    let fake = fake_smtp::start(
        vec![huge],
        Duration::ZERO,
        Arc::new(|l: &str| match fake_smtp::verb(l).as_str() {
            "EHLO" => Action::Reply(
                (0..10_000)
                    .map(|i| format!("250-EXT{i}"))
                    .chain(std::iter::once("250 OK".to_string()))
                    .collect(),
            ),
            _ => Action::Reply(vec!["250 ok".into()]),
        }),
    );
    let (code, v, _) = probe(fake.port, &["--timeout", "5s", "--max-reconnects", "1"]);
    let p = &v["probes"][0];
    let banner = p["banner"][0].as_str().unwrap();
    assert!(
        banner.len() < 5000 && banner.ends_with("[cut]"),
        "{}",
        banner.len()
    );
    assert!(p["transcript"].as_array().unwrap().len() <= 5_000);
    assert_ne!(p["verdict"], "open");
    assert_eq!(code, 2, "{}", p["summary"]);
}

/// The server drops the session after every second command: the probe reconnects, but no
/// more often than --max-reconnects allows, and the forms it could not test are
/// inconclusive, not passed.
#[test]
fn drops_use_a_bounded_reconnect_budget() {
    let count = Arc::new(std::sync::Mutex::new(0u32));
    let c2 = count.clone();
    let fake = fake_smtp::start(
        vec!["220 mx.example.org ESMTP".into()],
        Duration::ZERO,
        Arc::new(move |l: &str| {
            let mut n = c2.lock().unwrap();
            *n += 1;
            match fake_smtp::verb(l).as_str() {
                "EHLO" => Action::Reply(vec!["250 mx.example.org".into()]),
                "MAIL" => Action::ReplyClose(vec!["421 4.7.0 Too many errors".into()]),
                _ => Action::Reply(vec!["250 ok".into()]),
            }
        }),
    );
    let (code, v, _) = probe(fake.port, &["--max-reconnects", "3"]);
    assert_eq!(code, 2);
    let p = &v["probes"][0];
    assert_eq!(p["verdict"], "inconclusive");
    assert!(
        p["connections"].as_u64().unwrap() <= 4,
        "{}",
        p["connections"]
    );
    assert_eq!(
        *fake.connections.lock().unwrap() as u64,
        p["connections"].as_u64().unwrap()
    );
}

#[test]
fn only_one_host_never_a_range() {
    for (args, want) in [
        (vec!["10.0.0.0/24"], "never a range"),
        (vec!["127.0.0.1/32"], "never a range"),
        (vec!["127.0.0.1", "127.0.0.2"], "exactly one host per run"),
        (vec!["127.0.0.1-5"], "exactly one host"),
        (vec!["*.example.org"], "wildcard"),
        (vec!["a.example,b.example"], "several hosts"),
    ] {
        let out = relay_audit()
            .arg("probe")
            .args(&args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("probing"), "{args:?} connected: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn recipients_and_senders_are_bare_mailboxes_only() {
    for to in [
        "<relaytest@example.net>",
        "relaytest@example.net\r\nDATA",
        "@x:relaytest@example.net",
        "a%b@example.net",
    ] {
        let out = relay_audit()
            .args(["probe", "127.0.0.1", "--port", "9", "--to", to])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("only a bare mailbox"),
            "{to}"
        );
    }
}

/// AUTH: the password comes from the environment, never argv, and never reaches the output.
#[test]
fn the_password_is_redacted_everywhere() {
    let fake = fake_smtp::start(
        vec!["220 mx.example.org ESMTP".into()],
        Duration::ZERO,
        Arc::new(|l: &str| match fake_smtp::verb(l).as_str() {
            "EHLO" => Action::Reply(vec![
                "250-mx.example.org".into(),
                "250 AUTH PLAIN LOGIN".into(),
            ]),
            "AUTH" => Action::Reply(vec!["235 2.7.0 Authentication successful".into()]),
            "MAIL" => Action::Reply(vec!["250 2.1.0 Ok".into()]),
            "RCPT" => Action::Reply(vec!["554 5.7.1 Relay access denied".into()]),
            _ => Action::Reply(vec!["250 2.0.0 Ok".into()]),
        }),
    );
    // No password: refused before connecting.
    let out = relay_audit()
        .args(["probe", "127.0.0.1", "--port", &fake.port.to_string()])
        .args(["--auth-user", "relayuser@example.org"])
        .env_remove("RELAY_AUDIT_AUTH_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("never on the command line"));
    assert!(fake.lines().is_empty());
    // Plain text AUTH needs consent.
    let out = relay_audit()
        .args(["probe", "127.0.0.1", "--port", &fake.port.to_string()])
        .args(["--format", "json", "--delay", "0", "--token", "t0k3n"])
        .args([
            "--auth-user",
            "relayuser@example.org",
            "--allow-plaintext-auth",
        ])
        .env("RELAY_AUDIT_AUTH_PASSWORD", "s3cr3t-pw")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("s3cr3t-pw"));
    // base64("\0relayuser@example.org\0s3cr3t-pw") must not leak either.
    assert!(!text.contains("AHJlbGF5dXNlckBleGFtcGxlLm9yZwBzM2NyM3QtcHc"));
    assert!(text.contains("AUTH PLAIN <redacted>"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["probes"][0]["auth"]["ok"], true);
    assert_safe(&fake);
}

/// A server that answers with terminal escapes, bidi controls and markup: the table shows
/// them as visible text, never as themselves; JSON and Markdown keep them inert too.
#[test]
fn a_hostile_server_cannot_drive_the_terminal() {
    let fake = fake_smtp::start(
        vec!["220 mx.example.org \u{1b}[2J\u{1b}]0;pwned\u{7} \u{202e}txt.exe <b>".into()],
        Duration::ZERO,
        Arc::new(|l: &str| match fake_smtp::verb(l).as_str() {
            "EHLO" => Action::Reply(vec!["250 mx.example.org \u{1b}[31m".into()]),
            "MAIL" => Action::Reply(vec!["250 2.1.0 Ok".into()]),
            "RCPT" => Action::Reply(vec![
                "550 5.7.1 \u{1b}]8;;https://evil.example/\u{7}denied\u{1b}]8;;\u{7} | `x` *y*"
                    .into(),
            ]),
            _ => Action::Reply(vec!["250 ok".into()]),
        }),
    );
    for format in ["table", "json", "markdown"] {
        let out = relay_audit()
            .args(["probe", "127.0.0.1", "--port", &fake.port.to_string()])
            .args(["--delay", "0", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}");
        let text = String::from_utf8(out.stdout).unwrap();
        for bad in ['\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(!text.contains(bad), "{format}: {bad:?} reached the output");
        }
        assert!(text.contains("denied"), "{format}");
    }
}

/// STARTTLS offered but broken (the server answers the handshake with clear text, as
/// OpenSMTPD on bookworm does): with `--tls opportunistic` the probe notes it and tests in
/// clear text on a new connection; with `--tls require` it stops, undecided.
#[test]
fn a_broken_starttls_falls_back_only_when_allowed() {
    let fake = fake_smtp::start(
        vec!["220 mx.example.org ESMTP".into()],
        Duration::ZERO,
        Arc::new(|l: &str| match fake_smtp::verb(l).as_str() {
            "EHLO" => Action::Reply(vec!["250-mx.example.org".into(), "250 STARTTLS".into()]),
            "STARTTLS" => Action::ReplyClose(vec![
                "220 2.0.0 Ready to start TLS".into(),
                "this is not a TLS record".into(),
            ]),
            "MAIL" => Action::Reply(vec!["250 2.1.0 Ok".into()]),
            "RCPT" => Action::Reply(vec!["554 5.7.1 Relay access denied".into()]),
            _ => Action::Reply(vec!["250 2.0.0 Ok".into()]),
        }),
    );
    let (code, v, _) = probe(fake.port, &[]);
    assert_eq!(code, 0, "{v}");
    let p = &v["probes"][0];
    assert_eq!(p["verdict"], "refused");
    assert!(
        p["notes"].to_string().contains("STARTTLS failed"),
        "{}",
        p["notes"]
    );
    let (code, v, _) = probe(fake.port, &["--tls", "require"]);
    assert_eq!(code, 2);
    assert_eq!(v["probes"][0]["verdict"], "inconclusive");
    assert_safe(&fake);
}

/// SARIF from a probe and from a scan carry different analysis categories
/// (`automationDetails.id`), so GitHub code scanning keeps both sets of alerts.
#[test]
fn probe_and_scan_sarif_have_their_own_category() {
    let sarif = |args: &[&str]| -> Value {
        let out = relay_audit()
            .args(args)
            .args(["--format", "sarif"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let replay = root().join("tests/rules/PROBE-OPEN-RELAY/fires-postfix-open-relay/probe.json");
    let p = sarif(&["probe", "--replay", replay.to_str().unwrap()]);
    let fixture = root().join("fixtures/open-relay-anonymous/clixml");
    let s = sarif(&["scan", fixture.to_str().unwrap(), "--isolated"]);
    assert_eq!(
        p["runs"][0]["automationDetails"]["id"],
        "relay-audit/probe/"
    );
    assert_eq!(s["runs"][0]["automationDetails"]["id"], "relay-audit/scan/");
    assert!(p["runs"][0]["tool"]["driver"]["fullName"]
        .as_str()
        .unwrap()
        .starts_with("relay-audit "));
    let rules: Vec<&str> = p["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(rules.iter().all(|r| r.starts_with("PROBE-")), "{rules:?}");
    assert_eq!(p["runs"][0]["results"][0]["ruleId"], "PROBE-OPEN-RELAY");
}
