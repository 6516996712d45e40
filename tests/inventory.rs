//! `relay-audit inventory`: the pre-migration summary, run through the real binary.

mod common;
use common::*;
use serde_json::Value;

const OVERLAP: &str = "fixtures/overlapping-connectors/clixml";
const SITE: &str = "fixtures/overlapping-connectors/site.toml";

fn inventory_json(path: &str, extra: &[&str]) -> Value {
    let out = relay_audit()
        .args(["inventory", path, "--format", "json"])
        .args(extra)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON of inventory: {e}\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The `-RemoteIPRanges` values of a `New-ReceiveConnector` line: `'a','b'` → [a, b].
fn remote_ranges(script: &str) -> Vec<String> {
    let line = script
        .lines()
        .find(|l| l.starts_with("New-ReceiveConnector "))
        .expect("a New-ReceiveConnector line");
    let rest = line.split(" -RemoteIPRanges ").nth(1).unwrap();
    let list = rest.split(' ').next().unwrap();
    list.split(',')
        .map(|x| {
            x.strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .unwrap_or_else(|| panic!("unquoted range {x}"))
                .to_string()
        })
        .collect()
}

#[test]
fn migration_script_keeps_the_relay_connectors_exact_ranges() {
    let v = inventory_json(OVERLAP, &[]);
    let m = v["migration"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["connector"] == "EX01\\Relay EX01")
        .expect("Relay EX01 is migrated");
    assert_eq!(m["migrated"], true);
    assert_eq!(m["target_server"], "EX01");
    let script = m["script"].as_str().unwrap();
    let conn = v["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "EX01\\Relay EX01")
        .unwrap();
    let exported = strings(&conn["remote_ip_ranges"]);
    assert_eq!(exported, ["10.1.1.25", "10.2.0.0/24", "10.9.9.9"]);
    assert_eq!(remote_ranges(script), exported);
    assert!(script.contains(
        "New-ReceiveConnector -Name 'Relay EX01' -Server 'EX01' -TransportRole FrontendTransport -Custom -Bindings 0.0.0.0:25 -RemoteIPRanges "
    ), "{script}");
    assert!(script.contains("-PermissionGroups AnonymousUsers"));
    assert!(script.contains(
        "Get-ReceiveConnector 'EX01\\Relay EX01' | Add-ADPermission -User 'NT AUTHORITY\\ANONYMOUS LOGON' -ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient"
    ), "{script}");
    // Only the relay connector is migrated.
    assert_eq!(v["migration"].as_array().unwrap().len(), 1);
    assert!(v["script"].as_str().unwrap().contains(script));
}

#[test]
fn relay_matrix_lists_exactly_the_relay_connectors_entries() {
    let v = inventory_json(OVERLAP, &[]);
    let l = v["matrix"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["server"] == "EX01" && l["port"] == 25 && l["local"].is_null())
        .expect("EX01:25");
    let anon = l["relay"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["principal"] == "anonymous")
        .unwrap();
    assert_eq!(
        strings(&anon["addresses"]),
        ["10.1.1.25", "10.2.0.0/24", "10.9.9.9"]
    );
    assert_eq!(anon["count"], 258);
    assert_eq!(anon["public_count"], 0);
    assert_eq!(anon["via"][0]["connector"], "EX01\\Relay EX01");
    assert_eq!(anon["via"][0]["grants"][0]["via"], "ace");
    // Nobody else relays on port 25 without an account.
    let ext = l["relay"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["principal"] == "externally-secured")
        .unwrap();
    assert!(ext["addresses"].as_array().unwrap().is_empty());
    assert!(v["matrix"]["conflicts"].as_array().unwrap().is_empty());
}

#[test]
fn connectors_hosts_and_site() {
    let v = inventory_json(OVERLAP, &["--site", SITE]);
    let by_id = |id: &str| {
        v["connectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    let df = by_id("EX01\\Default Frontend EX01");
    assert_eq!(df["kind"], "default");
    assert_eq!(df["modified"], false, "{df}");
    let relay = by_id("EX01\\Relay EX01");
    assert_eq!(relay["kind"], "custom");
    assert_eq!(relay["relay"], "anonymous");
    let hosts: Vec<(String, bool)> = v["relay_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["address"].as_str().unwrap().to_string(),
                h["nat"].is_string(),
            )
        })
        .collect();
    assert_eq!(
        hosts,
        [
            ("10.1.1.25".to_string(), false),
            ("10.2.0.0/24".to_string(), false),
            ("10.9.9.9".to_string(), true)
        ]
    );
    let m = &v["migration"][0];
    assert!(m["warnings"].as_array().unwrap().iter().any(|w| w
        .as_str()
        .unwrap()
        .contains("10.9.9.9")
        && w.as_str().unwrap().contains("SNAT")));
    assert!(v["servers"][0]["product"] == "2019");
}

#[test]
fn target_server_is_quoted_for_powershell() {
    let v = inventory_json(OVERLAP, &["--target-server", "EX19'NEW"]);
    let script = v["migration"][0]["script"].as_str().unwrap();
    assert!(script.contains("-Server 'EX19''NEW'"), "{script}");
    assert!(
        script.contains("Get-ReceiveConnector 'EX19''NEW\\Relay EX01'"),
        "{script}"
    );
}

#[test]
fn a_relay_on_a_default_connector_is_not_copied() {
    let v = inventory_json("fixtures/open-relay-anonymous/clixml", &[]);
    let m = &v["migration"][0];
    assert_eq!(m["connector"], "EX01\\Default Frontend EX01");
    assert_eq!(m["migrated"], false);
    assert!(!m["script"]
        .as_str()
        .unwrap()
        .contains("New-ReceiveConnector"));
    let df = v["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "EX01\\Default Frontend EX01")
        .unwrap();
    assert_eq!(df["modified"], true);
}

#[test]
fn text_output_has_every_section() {
    let out = relay_audit()
        .args(["inventory", OVERLAP, "--site", SITE])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let t = String::from_utf8(out.stdout).unwrap();
    for s in [
        "Servers",
        "Receive connectors",
        "Relay matrix",
        "Hosts that rely on relay",
        "Migration script",
        "New-ReceiveConnector -Name 'Relay EX01'",
        "open to the Internet",
    ] {
        assert!(t.contains(s), "missing {s}:\n{t}");
    }
}

/// Writes a 2003 settings file whose relay list is "Only the list below" with two IP entries
/// and a domain name; returns its directory.
fn legacy_2003_only_the_list(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "relay-audit-inv-legacy-{tag}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("settings.toml"),
        r#"[[server]]
name = "MAIL"
version = "2003"
service_pack = 2

[[server.smtp_virtual_server]]
name = "Default SMTP Virtual Server"
relay = "Only the list below"
relay_list = ["192.168.1.25 255.255.255.255", "10.20.0.0 255.255.255.0", "relay.partner.example"]
allow_authenticated_relay = false
authentication = ["Anonymous access"]
"#,
    )
    .unwrap();
    dir
}

#[test]
fn legacy_2003_relay_list_becomes_a_2016_relay_connector() {
    let dir = legacy_2003_only_the_list("target");
    let v = inventory_json(dir.to_str().unwrap(), &["--target-server", "EX2019"]);
    let script = v["script"].as_str().unwrap();
    let mut got = remote_ranges(script);
    got.sort();
    assert_eq!(got, vec!["10.20.0.0/24", "192.168.1.25"], "{script}");
    let new = script
        .lines()
        .find(|l| l.starts_with("New-ReceiveConnector "))
        .unwrap();
    assert!(
        new.starts_with("New-ReceiveConnector -Name 'Relay MAIL' -Server 'EX2019' -TransportRole FrontendTransport -Custom -Bindings 0.0.0.0:25 -RemoteIPRanges "),
        "{new}"
    );
    assert!(new.ends_with(" -PermissionGroups AnonymousUsers"), "{new}");
    assert!(
        script.contains("Get-ReceiveConnector 'EX2019\\Relay MAIL' | Add-ADPermission -User 'NT AUTHORITY\\ANONYMOUS LOGON' -ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient"),
        "{script}"
    );
    assert!(
        script.lines().any(|l| l.starts_with('#')
            && l.contains("relay.partner.example")
            && l.contains("cannot be migrated")),
        "{script}"
    );
    let m = &v["migration"][0];
    assert_eq!(m["migrated"], true);
    let mut ranges = strings(&m["remote_ip_ranges"]);
    ranges.sort();
    assert_eq!(ranges, vec!["10.20.0.0/24", "192.168.1.25"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn legacy_target_defaults_to_the_legacy_server_with_a_comment() {
    let dir = legacy_2003_only_the_list("default");
    let v = inventory_json(dir.to_str().unwrap(), &[]);
    let script = v["script"].as_str().unwrap();
    assert!(script.contains("-Server 'MAIL'"), "{script}");
    assert!(
        script
            .lines()
            .any(|l| l.starts_with("# CHANGE THE TARGET") && l.contains("--target-server")),
        "{script}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn legacy_all_except_the_list_is_not_migrated() {
    let v = inventory_json(
        "fixtures/legacy-2003-open/settings",
        &["--target-server", "EX2019"],
    );
    let script = v["script"].as_str().unwrap();
    assert!(!script.contains("New-ReceiveConnector"), "{script}");
    assert!(
        script
            .lines()
            .any(|l| l.starts_with("# NOT MIGRATED") && l.contains("open relay")),
        "{script}"
    );
    assert_eq!(v["migration"][0]["migrated"], false);
}

#[test]
fn legacy_55_registry_allow_list_becomes_a_relay_connector() {
    let v = inventory_json(
        "fixtures/legacy-55-registry/reg-and-settings",
        &["--target-server", "EX2019"],
    );
    let script = v["script"].as_str().unwrap();
    let mut got = remote_ranges(script);
    got.sort();
    assert_eq!(got, vec!["10.0.0.0/8", "192.168.1.25"], "{script}");
    assert!(
        script.contains("-Name 'Relay MAIL55' -Server 'EX2019'"),
        "{script}"
    );
}
