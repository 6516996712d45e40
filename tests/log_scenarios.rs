//! Generated SMTP logs consistent with two configuration fixtures (`fixtures/logs/`, written by
//! `fixtures/make_logs.py` in the shapes of the real excerpts), scanned with their exports by
//! the real binary. The counts below are stated by hand from the scenario READMEs.

mod common;
use common::*;
use serde_json::Value;

fn host<'a>(v: &'a Value, connector: &str, client: &str, log: &str) -> &'a Value {
    v["usage"]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["connector"] == connector && h["client"] == client && h["log"] == log)
        .unwrap_or_else(|| panic!("no {log} host {client} on {connector}"))
}

/// (client, sessions, inside accepted, outside accepted, outside refused) on a connector.
type Row = (&'static str, u64, u64, u64, u64);

fn check_rows(v: &Value, connector: &str, rows: &[Row]) {
    for (client, sessions, local, relayed, refused) in rows {
        let h = host(v, connector, client, "smtp-receive");
        assert_eq!(h["sessions"], *sessions, "{client} sessions");
        assert_eq!(h["inside"]["accepted"], *local, "{client} local");
        assert_eq!(h["outside"]["accepted"], *relayed, "{client} relayed");
        assert_eq!(
            h["outside"]["refused"].as_u64().unwrap() + h["inside"]["refused"].as_u64().unwrap(),
            *refused,
            "{client} refused"
        );
    }
}

#[test]
fn an_open_relay_already_abused_is_named_with_its_addresses_counts_and_recipients() {
    let root = root();
    let (code, v) = scan_json(
        &[
            &root.join("fixtures/open-relay-anonymous/clixml"),
            &root.join("fixtures/logs/open-relay-anonymous"),
        ],
        &[],
    );
    assert_eq!(code, 1, "critical findings fail the run");
    let abused: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "LOG-RELAY-ABUSED")
        .collect();
    // One finding, on the open connector of EX01: not on the Hub connector the FrontEnd
    // proxied to, not on EX02 (which refused), not for the authenticated scan server.
    assert_eq!(abused.len(), 1, "{abused:#?}");
    let f = abused[0];
    assert_eq!(f["object"]["id"], "EX01\\Default Frontend EX01");
    assert_eq!(f["severity"], "critical");
    let msg = f["message"].as_str().unwrap();
    for ip in ["45.95.147.10", "91.215.85.201", "185.222.58.77"] {
        assert!(msg.contains(ip), "{msg}");
    }
    assert!(
        msg.contains("203 recipients outside the accepted domains"),
        "{msg}"
    );
    let ev = f["evidence"].as_array().unwrap();
    assert_eq!(ev.len(), 3);
    // Counts and the first relayed recipients, as the README states them.
    for (ip, n, first) in [
        ("45.95.147.10", 100, "rleepv711@yahoo.co.jp"),
        ("91.215.85.201", 70, "xvqykvmn251@libero.it"),
        ("185.222.58.77", 33, "qazqbamgfc824@outlook.com"),
    ] {
        let e = ev
            .iter()
            .find(|e| e["property"] == format!("relayed from {ip}"))
            .unwrap();
        let val = e["value"].as_str().unwrap();
        assert!(
            val.contains(&format!("{n} recipients accepted outside")),
            "{val}"
        );
        assert!(val.contains(first), "{val}");
        assert!(e["file"].as_str().unwrap().contains("RECV"), "{e}");
    }
    // Per host, the FrontEnd receive logs of EX01 and EX02 (README tables).
    check_rows(
        &v,
        "EX01\\Default Frontend EX01",
        &[
            ("10.1.1.25", 15, 15, 0, 0),
            ("45.95.147.10", 9, 0, 100, 0),
            ("91.215.85.201", 5, 0, 70, 0),
            ("185.222.58.77", 3, 0, 33, 0),
        ],
    );
    // The Internet hosts that only delivered inside (and the scanners) are counted together:
    // 10 addresses, 99 sessions, 158 local recipients.
    check_rows(
        &v,
        "EX01\\Default Frontend EX01",
        &[(
            "(Internet hosts delivering inside, counted together)",
            99,
            158,
            0,
            0,
        )],
    );
    check_rows(
        &v,
        "EX02\\Default Frontend EX02",
        &[("45.95.147.10", 2, 0, 0, 5), ("10.1.1.25", 15, 15, 0, 0)],
    );
    // Sender domains, whatever follows the address (`SIZE=… AUTH=<>` on the Hub).
    for conn in ["EX01\\Default Frontend EX01", "EX01\\Default EX01"] {
        let h = host(&v, conn, "10.1.1.25", "smtp-receive");
        assert_eq!(
            h["sender_domains"],
            serde_json::json!([["contoso.com", 15]]),
            "{conn}"
        );
    }
    let svc = host(
        &v,
        "EX01\\Default Frontend EX01",
        "10.1.1.40",
        "smtp-receive",
    );
    assert_eq!(svc["auth"], "CONTOSO\\svc-scan");
    assert_eq!(svc["outside"]["accepted"], 3);
    // The Hub sees the real client through XPROXYFROM; message tracking through
    // original-client-ip.
    let hub = host(&v, "EX01\\Default EX01", "45.95.147.10", "smtp-receive");
    assert_eq!(hub["sessions"], 17);
    assert_eq!(hub["proxied"], 17);
    let trk = host(&v, "EX01\\Default EX01", "45.95.147.10", "message-tracking");
    assert_eq!(trk["outside"]["accepted"], 100);
    // The window: 7 days on both servers.
    let sets = v["usage"]["log_sets"].as_array().unwrap();
    assert_eq!(sets.len(), 4, "EX01 and EX02, receive and tracking");
    for s in sets {
        assert!(s["days"].as_f64().unwrap() > 6.5, "{s}");
    }
}

#[test]
fn inventory_migrates_exactly_the_hosts_seen_and_lists_the_allowed_but_unseen() {
    let root = root();
    let out = relay_audit()
        .args(["inventory", "--format", "json"])
        .arg(root.join("fixtures/scoped-relay-app-servers/clixml"))
        .arg(root.join("fixtures/logs/scoped-relay-app-servers"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &v["migration"][0];
    assert_eq!(m["connector"], "EX01\\Anonymous Relay EX01");
    assert_eq!(m["migrated"], true);
    assert_eq!(
        m["remote_ip_ranges"],
        serde_json::json!(["10.1.20.11", "10.1.20.12", "10.1.20.13"])
    );
    assert_eq!(
        m["observed"]["unseen"],
        serde_json::json!([
            "10.1.1.25-10.1.1.26",
            "10.1.20.0-10.1.20.10",
            "10.1.20.14-10.1.20.255"
        ])
    );
    let row = v["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["client"] == "10.1.20.11" && r["via_proxy"] == false)
        .unwrap();
    assert_eq!(row["connector"], "EX01\\Anonymous Relay EX01");
    assert_eq!(row["relayed"], 25);
    assert_eq!(row["helo"], "app-crm01");
    let script = m["script"].as_str().unwrap();
    assert!(
        script.contains("-RemoteIPRanges '10.1.20.11','10.1.20.12','10.1.20.13' "),
        "{script}"
    );
    assert!(script.contains("6.9 days"), "{script}");
    // Per host, as the README states: sessions, local and relayed recipients.
    let (_, s) = scan_json(
        &[
            &root.join("fixtures/scoped-relay-app-servers/clixml"),
            &root.join("fixtures/logs/scoped-relay-app-servers"),
        ],
        &["--fail-on", "never"],
    );
    check_rows(
        &s,
        "EX01\\Anonymous Relay EX01",
        &[
            ("10.1.20.11", 25, 8, 25, 0),
            ("10.1.20.12", 7, 24, 24, 0),
            ("10.1.20.13", 19, 19, 9, 0),
        ],
    );
    let rules: Vec<&str> = s["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"LOG-RANGES-WIDER-THAN-USE"), "{rules:?}");
    assert!(!rules.contains(&"LOG-RELAY-ABUSED"), "{rules:?}");
}
