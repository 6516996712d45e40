//! Settings files: our own documented TOML input (FORMATS.md §9) for servers no export covers.
//!
//! Consultants auditing Exchange 4.0/5.0/5.5/2000/2003 often have only the console in front of
//! them. A settings file records what the GUI shows, by the on-screen names: one `[[server]]`
//! table per server, with `[server.imc]` (Internet Mail Service, 4.0-5.5),
//! `[[server.smtp_virtual_server]]` and `[[server.smtp_connector]]` (2000/2003). It is parsed
//! with `deny_unknown_fields` (a typo fails with `file:line:col`), then each table becomes a
//! [`Record`]: an `exchange-server` record per server (legacy version and service pack) and
//! one `imc` / `smtp-virtual-server` / `smtp-connector` record per object. Property names are
//! the TOML keys; nested values are flattened (`routing_restrictions.never_route`).

use crate::diag::InputError;
use crate::input::record::{ObjectKind, Record, Value};
use serde::Deserialize;
use std::collections::HashMap;

/// The versions a settings file describes.
pub const VERSIONS: &[&str] = &["4.0", "5.0", "5.5", "2000", "2003"];

/// IMC routing choices (Routing tab).
pub const REROUTE: &str = "Reroute incoming SMTP mail";
pub const DO_NOT_REROUTE: &str = "Do not reroute incoming SMTP mail";
/// SMTP virtual server relay choices (Access → Relay…).
pub const ONLY_THE_LIST: &str = "Only the list below";
pub const ALL_EXCEPT: &str = "All except the list below";
/// Authentication methods (Access → Authentication…).
pub const AUTH_METHODS: &[&str] = &[
    "Anonymous access",
    "Basic authentication",
    "Integrated Windows Authentication",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    server: Vec<Server>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Server {
    name: String,
    version: String,
    #[serde(default)]
    service_pack: Option<u32>,
    #[serde(default)]
    hotfix_encapsulated_relay: Option<bool>,
    #[serde(default)]
    imc: Option<Imc>,
    #[serde(default)]
    smtp_virtual_server: Vec<VirtualServer>,
    #[serde(default)]
    smtp_connector: Vec<Connector>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Imc {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    routing: Option<String>,
    #[serde(default)]
    routing_entries: Vec<RoutingEntry>,
    #[serde(default)]
    routing_restrictions: Option<Restrictions>,
    /// Windows "Enable IP routing" (`Tcpip\Parameters\IPEnableRouter`) on the server.
    #[serde(default)]
    ip_forwarding: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingEntry {
    domain: String,
    action: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    override_relay_restrictions: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Restrictions {
    #[serde(default)]
    hosts_that_successfully_authenticate: bool,
    #[serde(default)]
    hosts_and_clients_with_these_ip_addresses: bool,
    #[serde(default)]
    ip_addresses: Vec<String>,
    #[serde(default)]
    hosts_connecting_to_these_internal_addresses: bool,
    #[serde(default)]
    internal_addresses: Vec<String>,
    #[serde(default)]
    never_route: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VirtualServer {
    name: String,
    #[serde(default)]
    relay: Option<String>,
    #[serde(default)]
    relay_list: Vec<String>,
    #[serde(default)]
    allow_authenticated_relay: Option<bool>,
    #[serde(default)]
    authentication: Option<Vec<String>>,
    #[serde(default)]
    internet_facing: Option<bool>,
    #[serde(default)]
    connection: Option<String>,
    #[serde(default)]
    connection_list: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Connector {
    name: String,
    #[serde(default)]
    address_space: Vec<String>,
    #[serde(default)]
    allow_relay_to_these_domains: Option<bool>,
}

/// Is this decoded text a settings file? (A TOML file with `[[server]]` tables.)
pub fn looks_like_settings(text: &str) -> bool {
    text.lines().any(|l| l.trim() == "[[server]]")
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line as u32, col as u32)
}

/// "Only the list below" or "All except the list below" (by their first words), or an error
/// at the value's line and column.
fn list_choice(
    locate: &dyn Fn(&str, &str, &str) -> (u32, u32),
    table: &str,
    file: &str,
    key: &str,
    value: &str,
) -> Result<&'static str, InputError> {
    let lower = value.trim().to_ascii_lowercase();
    if lower.starts_with("only") {
        Ok(ONLY_THE_LIST)
    } else if lower.starts_with("all except") {
        Ok(ALL_EXCEPT)
    } else {
        let (l, c) = locate(table, key, value);
        Err(error(
            file,
            l,
            c,
            format!("unknown {key} choice `{value}`, expected `{ONLY_THE_LIST}` or `{ALL_EXCEPT}`"),
        ))
    }
}

fn error(file: &str, line: u32, col: u32, message: impl std::fmt::Display) -> InputError {
    // Rendered `file:line:col: invalid settings file: ...`, like rule files.
    InputError::new(
        file,
        Some(line),
        format!("invalid settings file: {message}"),
    )
    .at_col(col)
}

/// Where each table and key starts: `s0`, `s0.imc`, `s0.imc.routing_restrictions`, `s0.svs1`,
/// `s0.conn0`, and `<table>/<key>`.
struct Lines {
    at: HashMap<String, u32>,
}

impl Lines {
    fn index(text: &str) -> Lines {
        let mut at = HashMap::new();
        let mut server: i64 = -1;
        let mut svs = 0;
        let mut conn = 0;
        let mut ctx = String::new();
        for (i, l) in text.lines().enumerate() {
            let n = i as u32 + 1;
            let t = l.trim();
            let header = t.split('#').next().unwrap_or("").trim();
            let table = match header {
                "[[server]]" => {
                    server += 1;
                    svs = 0;
                    conn = 0;
                    Some(format!("s{server}"))
                }
                "[server.imc]" => Some(format!("s{server}.imc")),
                "[server.imc.routing_restrictions]" => {
                    Some(format!("s{server}.imc.routing_restrictions"))
                }
                "[[server.smtp_virtual_server]]" => {
                    svs += 1;
                    Some(format!("s{server}.svs{}", svs - 1))
                }
                "[[server.smtp_connector]]" => {
                    conn += 1;
                    Some(format!("s{server}.conn{}", conn - 1))
                }
                _ => None,
            };
            if let Some(t) = table {
                at.entry(t.clone()).or_insert(n);
                ctx = t;
                continue;
            }
            if let Some((key, _)) = t.split_once('=') {
                let key = key.trim();
                if !key.is_empty() && !key.starts_with('#') {
                    at.entry(format!("{ctx}/{key}")).or_insert(n);
                    // dotted keys: `routing_restrictions.never_route = []` under [server.imc]
                    if let Some((a, b)) = key.split_once('.') {
                        at.entry(format!("{ctx}.{}/{}", a.trim(), b.trim()))
                            .or_insert(n);
                    }
                }
            }
        }
        Lines { at }
    }

    fn of(&self, table: &str) -> u32 {
        self.at.get(table).copied().unwrap_or(1)
    }

    fn key(&self, table: &str, key: &str) -> u32 {
        self.at
            .get(&format!("{table}/{key}"))
            .copied()
            .unwrap_or_else(|| self.of(table))
    }
}

fn txt(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn list(v: &[String]) -> Value {
    Value::List {
        items: v.to_vec(),
        truncated: false,
    }
}

fn yes_no(b: bool) -> Value {
    txt(if b { "true" } else { "false" })
}

/// One routing entry as the model reads it back: `domain => action [host][; override ...]`.
pub fn routing_entry_text(domain: &str, action: &str, host: Option<&str>, ovr: bool) -> String {
    let mut s = format!("{domain} => {action}");
    if let Some(h) = host.filter(|h| !h.trim().is_empty()) {
        s.push(' ');
        s.push_str(h.trim());
    }
    if ovr {
        s.push_str("; override relay restrictions");
    }
    s
}

/// Parses a settings file and yields its records.
///
/// Nothing is yielded unless the whole file is valid: a half-read settings file would judge a
/// server on part of its settings.
pub fn parse(text: &str, file: &str, sink: &mut dyn FnMut(Record)) -> Result<usize, InputError> {
    let mut out = Vec::new();
    read(text, file, &mut |r| out.push(r))?;
    let n = out.len();
    out.into_iter().for_each(sink);
    Ok(n)
}

fn read(text: &str, file: &str, sink: &mut dyn FnMut(Record)) -> Result<usize, InputError> {
    let parsed: SettingsFile = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        error(file, line, col, e.message().trim())
    })?;
    let lines = Lines::index(text);
    let locate = |table: &str, key: &str, value: &str| -> (u32, u32) {
        let line = lines.key(table, key);
        let col = text
            .lines()
            .nth(line as usize - 1)
            .and_then(|l| l.find(value).map(|i| l[..i].chars().count() as u32 + 1))
            .unwrap_or(1);
        (line, col)
    };
    let mut count = 0;
    for (i, s) in parsed.server.iter().enumerate() {
        let st = format!("s{i}");
        let version = s.version.trim();
        if !VERSIONS.contains(&version) {
            let (l, c) = locate(&st, "version", &s.version);
            return Err(error(
                file,
                l,
                c,
                format!(
                    "unknown version `{}`, expected one of: {}",
                    s.version,
                    VERSIONS.join(", ")
                ),
            ));
        }
        let legacy_imc = matches!(version, "4.0" | "5.0" | "5.5");
        let mut rec = Record::new(ObjectKind::ExchangeServer, lines.of(&st));
        rec.push("Name", txt(&s.name), lines.key(&st, "name"));
        rec.push("Version", txt(version), lines.key(&st, "version"));
        if let Some(sp) = s.service_pack {
            rec.push(
                "service_pack",
                txt(sp.to_string()),
                lines.key(&st, "service_pack"),
            );
        }
        sink(rec);
        count += 1;
        // Every object carries its server's version, so it can be judged on its own.
        let common = |rec: &mut Record| {
            rec.push("Server", txt(&s.name), lines.key(&st, "name"));
            rec.push("version", txt(version), lines.key(&st, "version"));
            if let Some(sp) = s.service_pack {
                rec.push(
                    "service_pack",
                    txt(sp.to_string()),
                    lines.key(&st, "service_pack"),
                );
            }
            if let Some(h) = s.hotfix_encapsulated_relay {
                rec.push(
                    "hotfix_encapsulated_relay",
                    yes_no(h),
                    lines.key(&st, "hotfix_encapsulated_relay"),
                );
            }
        };
        if let Some(imc) = &s.imc {
            let t = format!("{st}.imc");
            if !legacy_imc {
                return Err(error(
                    file,
                    lines.of(&t),
                    1,
                    format!("[server.imc] is the Internet Mail Service of Exchange 4.0/5.0/5.5, but {} is version {version}", s.name),
                ));
            }
            let mut rec = Record::new(ObjectKind::Imc, lines.of(&t));
            rec.push(
                "Name",
                txt(imc.name.as_deref().unwrap_or("Internet Mail Service")),
                lines.key(&t, "name"),
            );
            common(&mut rec);
            if let Some(r) = &imc.routing {
                let lower = r.trim().to_ascii_lowercase();
                let choice = if lower.starts_with("do not reroute") {
                    DO_NOT_REROUTE
                } else if lower.starts_with("reroute") {
                    REROUTE
                } else {
                    let (l, c) = locate(&t, "routing", r);
                    return Err(error(
                        file,
                        l,
                        c,
                        format!(
                            "unknown routing `{r}`, expected `{REROUTE}` or `{DO_NOT_REROUTE}`"
                        ),
                    ));
                };
                rec.push("routing", txt(choice), lines.key(&t, "routing"));
            }
            if let Some(b) = imc.ip_forwarding {
                rec.push("ip_forwarding", yes_no(b), lines.key(&t, "ip_forwarding"));
            }
            let mut entries = Vec::new();
            for e in &imc.routing_entries {
                let action = e.action.trim().to_ascii_lowercase();
                let action = if action.starts_with("accept") {
                    "accept as inbound"
                } else if action.starts_with("reroute") {
                    "reroute to"
                } else {
                    let (l, c) = locate(&t, "routing_entries", &e.action);
                    return Err(error(
                        file,
                        l,
                        c,
                        format!(
                            "unknown routing entry action `{}`, expected `accept as inbound` or `reroute to`",
                            e.action
                        ),
                    ));
                };
                entries.push(routing_entry_text(
                    e.domain.trim(),
                    action,
                    e.host.as_deref(),
                    e.override_relay_restrictions,
                ));
            }
            rec.push(
                "routing_entries",
                list(&entries),
                lines.key(&t, "routing_entries"),
            );
            if let Some(rr) = &imc.routing_restrictions {
                let rt = format!("{t}.routing_restrictions");
                let line = lines.of(&rt);
                rec.push("routing_restrictions", txt("set"), line);
                for (k, v) in [
                    (
                        "hosts_that_successfully_authenticate",
                        rr.hosts_that_successfully_authenticate,
                    ),
                    (
                        "hosts_and_clients_with_these_ip_addresses",
                        rr.hosts_and_clients_with_these_ip_addresses,
                    ),
                    (
                        "hosts_connecting_to_these_internal_addresses",
                        rr.hosts_connecting_to_these_internal_addresses,
                    ),
                ] {
                    rec.push(k, yes_no(v), lines.key(&rt, k));
                }
                for (k, v) in [
                    ("ip_addresses", &rr.ip_addresses),
                    ("internal_addresses", &rr.internal_addresses),
                    ("never_route", &rr.never_route),
                ] {
                    rec.push(k, list(v), lines.key(&rt, k));
                }
            }
            sink(rec);
            count += 1;
        }
        for (j, v) in s.smtp_virtual_server.iter().enumerate() {
            let t = format!("{st}.svs{j}");
            if legacy_imc {
                return Err(error(
                    file,
                    lines.of(&t),
                    1,
                    format!("[[server.smtp_virtual_server]] is Exchange 2000/2003, but {} is version {version}", s.name),
                ));
            }
            let mut rec = Record::new(ObjectKind::SmtpVirtualServer, lines.of(&t));
            rec.push("Name", txt(&v.name), lines.key(&t, "name"));
            common(&mut rec);
            if let Some(r) = &v.relay {
                let choice = list_choice(&locate, &t, file, "relay", r)?;
                rec.push("relay", txt(choice), lines.key(&t, "relay"));
            }
            rec.push(
                "relay_list",
                list(&v.relay_list),
                lines.key(&t, "relay_list"),
            );
            if let Some(r) = &v.connection {
                let choice = list_choice(&locate, &t, file, "connection", r)?;
                rec.push("connection", txt(choice), lines.key(&t, "connection"));
                rec.push(
                    "connection_list",
                    list(&v.connection_list),
                    lines.key(&t, "connection_list"),
                );
            }
            if let Some(b) = v.allow_authenticated_relay {
                rec.push(
                    "allow_authenticated_relay",
                    yes_no(b),
                    lines.key(&t, "allow_authenticated_relay"),
                );
            }
            if let Some(a) = &v.authentication {
                let mut methods = Vec::new();
                for m in a {
                    let Some(known) = AUTH_METHODS
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(m.trim()))
                    else {
                        let (l, c) = locate(&t, "authentication", m);
                        return Err(error(
                            file,
                            l,
                            c,
                            format!(
                                "unknown authentication method `{m}`, expected: {}",
                                AUTH_METHODS.join(", ")
                            ),
                        ));
                    };
                    methods.push(known.to_string());
                }
                rec.push(
                    "authentication",
                    list(&methods),
                    lines.key(&t, "authentication"),
                );
            }
            if let Some(b) = v.internet_facing {
                rec.push(
                    "internet_facing",
                    yes_no(b),
                    lines.key(&t, "internet_facing"),
                );
            }
            sink(rec);
            count += 1;
        }
        for (k, c) in s.smtp_connector.iter().enumerate() {
            let t = format!("{st}.conn{k}");
            let mut rec = Record::new(ObjectKind::SmtpConnector, lines.of(&t));
            rec.push("Name", txt(&c.name), lines.key(&t, "name"));
            common(&mut rec);
            rec.push(
                "address_space",
                list(&c.address_space),
                lines.key(&t, "address_space"),
            );
            if let Some(b) = c.allow_relay_to_these_domains {
                rec.push(
                    "allow_relay_to_these_domains",
                    yes_no(b),
                    lines.key(&t, "allow_relay_to_these_domains"),
                );
            }
            sink(rec);
            count += 1;
        }
    }
    Ok(count)
}

/// An empty settings file for one version (`relay-audit settings-template`).
pub fn template(version: &str) -> Option<String> {
    let head = "# relay-audit settings file: what the console shows, for servers no export covers\n# (README: \"Legacy Exchange\"). One [[server]] table per server.\n\n";
    let server = |v: &str| {
        format!(
            "[[server]]\nname = \"\"\nversion = \"{v}\"          # 4.0 | 5.0 | 5.5 | 2000 | 2003\nservice_pack = 0         # SP number from Help → About\n"
        )
    };
    Some(match version {
        "4.0" | "5.0" | "5.5" => {
            let t = head.to_string() + &server(version) + (
            "hotfix_encapsulated_relay = false   # post-SP2 IMC hotfix (MS99-027) installed?\n\n\
# Exchange Administrator → Connections → Internet Mail Service → Properties → Routing\n\
[server.imc]\n\
routing = \"Reroute incoming SMTP mail\"    # or \"Do not reroute incoming SMTP mail\"\n\
# one entry per line of the Routing list: { domain = \"contoso.com\", action = \"accept as inbound\" }\n\
# or { domain = \"#partner.example\", action = \"reroute to\", host = \"mx.partner.example\", override_relay_restrictions = false }\n\
routing_entries = []\n\
ip_forwarding = false                   # Windows TCP/IP \"Enable IP routing\" (Tcpip\\Parameters\\IPEnableRouter = 1)?\n\n\
# Routing → Routing Restrictions… (Exchange 5.5 SP1 and later)\n\
[server.imc.routing_restrictions]\n\
hosts_that_successfully_authenticate = false\n\
hosts_and_clients_with_these_ip_addresses = false\n\
ip_addresses = []                       # \"net mask\" strings: \"10.0.0.0 255.0.0.0\"\n\
hosts_connecting_to_these_internal_addresses = false\n\
internal_addresses = []\n\
never_route = []                        # \"Hosts and clients that can NEVER route mail\"\n"
            );
            if version == "5.5" {
                t
            } else {
                // 4.0 and 5.0 have no Routing Restrictions.
                let cut = t.find("# Routing → Routing Restrictions").unwrap_or(t.len());
                t[..cut].trim_end().to_string() + "\n"
            }
        }
        "2000" | "2003" => head.to_string() + &server(version) + (
            "\n\
# ESM → Servers → <server> → Protocols → SMTP → <virtual server> → Properties → Access\n\
[[server.smtp_virtual_server]]\n\
name = \"Default SMTP Virtual Server\"\n\
relay = \"Only the list below\"           # or \"All except the list below\" (Relay… button)\n\
relay_list = []                         # \"192.168.1.25 255.255.255.255\" (IP + mask) or a domain name\n\
allow_authenticated_relay = true        # \"Allow all computers which successfully authenticate to relay, regardless of the list above\"\n\
authentication = [\"Anonymous access\", \"Basic authentication\", \"Integrated Windows Authentication\"]\n\
internet_facing = true                  # reachable on port 25 from the Internet?\n\
connection = \"All except the list below\" # Connection… button (Connection control); or \"Only the list below\"\n\
connection_list = []                    # computers listed there, as relay_list\n\n\
# ESM → Connectors → <connector> → Properties → Address Space\n\
[[server.smtp_connector]]\n\
name = \"\"\n\
address_space = []                      # as shown: \"SMTP:*;1\" (type:address;cost)\n\
allow_relay_to_these_domains = false    # \"Allow messages to be relayed to these domains\"\n"
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Result<Vec<Record>, InputError> {
        let mut out = Vec::new();
        parse(text, "s.toml", &mut |r| out.push(r))?;
        Ok(out)
    }

    #[test]
    fn templates_parse_and_are_recognised() {
        for v in ["5.5", "2000", "2003", "5.0", "4.0"] {
            let t = template(v).unwrap().replace("name = \"\"", "name = \"X\"");
            assert!(looks_like_settings(&t));
            let recs = records(&t).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert!(recs.len() >= 2, "{v}");
        }
        assert!(template("2007").is_none());
    }

    #[test]
    fn typo_reports_line_and_column() {
        let e =
            records("[[server]]\nname = \"A\"\nversion = \"5.5\"\nservce_pack = 2\n").unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.to_string().starts_with("s.toml:4:1: "), "{e}");
        assert!(e.message.contains("service_pack"), "{e}");
        let e = records("[[server]]\nname = \"A\"\nversion = \"5.6\"\n").unwrap_err();
        assert!(e.to_string().starts_with("s.toml:3:12: "), "{e}");
    }

    #[test]
    fn objects_carry_their_server_and_lines() {
        let recs = records(
            "[[server]]\nname = \"M\"\nversion = \"5.5\"\nservice_pack = 2\n[server.imc]\nrouting = \"Reroute incoming SMTP mail (required for POP3/IMAP4 support)\"\nrouting_entries = [ { domain = \"#p.example\", action = \"reroute to\", host = \"mx\", override_relay_restrictions = true } ]\n",
        )
        .unwrap();
        assert_eq!(recs[1].kind, ObjectKind::Imc);
        assert_eq!(recs[1].line, 5);
        assert_eq!(recs[1].value("routing").unwrap().as_text(), Some(REROUTE));
        assert_eq!(recs[1].get("routing").unwrap().line, 6);
        assert_eq!(
            recs[1].value("routing_entries").unwrap().display(),
            "#p.example => reroute to mx; override relay restrictions"
        );
        assert_eq!(recs[1].value("service_pack").unwrap().as_text(), Some("2"));
    }

    #[test]
    fn imc_on_2003_is_refused() {
        let e =
            records("[[server]]\nname = \"A\"\nversion = \"2003\"\n[server.imc]\n").unwrap_err();
        assert!(e.message.contains("4.0/5.0/5.5"), "{e}");
    }
}
