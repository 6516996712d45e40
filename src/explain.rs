//! `relay-audit explain`: the seeds' telnet test, simulated offline from an export.
//!
//! Given a server, a client address and port, how the client authenticates, a sender and a
//! recipient, [`explain`] answers what an administrator learns by typing
//! `telnet <server> 25` from that client (SEEDS.md §1–§4), and why:
//!
//! 1. which receive connector answers (connector selection, with the connectors that lost
//!    and why: [`crate::analysis::selection`]);
//! 2. which principal the session runs as: anonymous, an authenticated user, externally
//!    secured (`AuthMechanism ExternalAuthoritative`), or a domain-secured partner;
//! 3. which rights that session holds on the connector and where each comes from (an ACE
//!    with its file and line, a permission group, ExternalAuthoritative), or which deny
//!    entry takes it away;
//! 4. which accepted domain the sender and the recipient fall in (FORMATS.md §6: relay means
//!    a recipient outside the accepted domains, or in a relay domain; an Authoritative or
//!    relay domain is accepted with `ms-Exch-SMTP-Submit`, any other domain needs
//!    `ms-Exch-SMTP-Accept-Any-Recipient`);
//! 5. the verdict: relay allowed, relay refused, not a relay (recipient in an authoritative
//!    domain), or no mail accepted at all; with the site file's remarks (a NAT address stands
//!    for the whole Internet).
//!
//! The transcript uses the wording of the server's version. Exchange 2000/2003 and 5.5 have
//! no receive connectors: their SMTP virtual server (relay list "Only the list below" / "All
//! except the list below", authenticated relay) or Internet Mail Service (rerouting, routing
//! restrictions) decides, worded as SEEDS.md §1-§3 show (`550 5.7.1 Unable to relay for ...`,
//! `550 Relaying is prohibited`). The banner's date is `RELAY_AUDIT_TODAY` (or today) at midnight UTC, so output is
//! reproducible. EHLO extensions are derived from AuthMechanism and MaxMessageSize and are
//! approximate; DATA, content filtering and recipient existence are not simulated.

use crate::analysis::matrix::{self, deny_out, grant_out, GrantOut, PrincipalKind};
use crate::analysis::matrix::{ANY_RECIPIENT, SUBMIT};
use crate::analysis::permissions::Facts;
use crate::analysis::selection::{self, fmt_binding, Status};
use crate::analysis::site::{same_server, Site};
use crate::model::{AcceptedDomain, Model, Product, ReceiveConnector};
use serde::Serialize;
use std::fmt::Write as _;
use std::net::IpAddr;

pub const ANY_SENDER: &str = "ms-Exch-SMTP-Accept-Any-Sender";
pub const AUTH_DOMAIN_SENDER: &str = "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender";

/// How the simulated client authenticates (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// No AUTH: an anonymous session (the telnet test).
    None,
    /// AUTH LOGIN with a valid account (after STARTTLS when the connector requires it).
    Basic,
    /// AUTH NTLM/GSSAPI with a valid domain account.
    Integrated,
    /// STARTTLS with a client certificate (domain-secured partner).
    TlsCert,
}

impl Auth {
    pub fn as_str(self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Basic => "basic",
            Auth::Integrated => "integrated",
            Auth::TlsCert => "tls-cert",
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Request {
    pub server: String,
    pub client: IpAddr,
    pub port: u16,
    /// The server address the client connects to (`None`: one no connector binds specifically).
    pub local: Option<IpAddr>,
    pub auth: Auth,
    pub mail_from: String,
    pub rcpt: String,
    /// The EHLO name; default: the sender's domain.
    pub helo: Option<String>,
    /// The banner date `(year, month, day)`; default [`crate::date::today`].
    pub today: Option<(i32, u32, u32)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestOut {
    pub server: String,
    pub client: String,
    pub port: u16,
    pub local: Option<String>,
    pub auth: &'static str,
    pub mail_from: String,
    pub rcpt: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerOut {
    pub name: String,
    /// `2019`, `SE`, ... or null when the server object was not exported.
    pub product: Option<&'static str>,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectorOut {
    pub id: String,
    pub binding: String,
    /// The RemoteIPRanges entry that matched the client.
    pub matched_range: String,
    pub remote_ip_ranges: Vec<String>,
    pub permission_groups: Option<Vec<String>>,
    pub auth_mechanism: Option<Vec<String>>,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct CandidateOut {
    pub connector: String,
    pub status: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionOut {
    /// `anonymous`, `authenticated-user`, `externally-secured`, `partner`.
    pub principal: &'static str,
    pub description: String,
    /// The principal classes of the session's token.
    pub token: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RightOut {
    pub right: &'static str,
    pub held: bool,
    pub via: Vec<GrantOut>,
    pub denied_by: Vec<GrantOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DomainOut {
    pub identity: String,
    pub domain_name: String,
    /// `Authoritative`, `InternalRelay`, `ExternalRelay`.
    pub domain_type: String,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct AddressOut {
    pub address: String,
    pub domain: String,
    /// The accepted domain that matches, if any.
    pub accepted_domain: Option<DomainOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineOut {
    /// `server`, `client`, or `note` (what happens between the lines).
    pub side: &'static str,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerdictOut {
    /// `relay-allowed`, `relay-refused`, `not-relay`, `mail-refused`, `no-connector`,
    /// `connection-refused` (2000/2003 Connection control), or `unknown` (the export does not
    /// hold what decides it).
    pub code: &'static str,
    /// Whether the recipient would be accepted as relay.
    pub relay: bool,
    /// The server's answer to RCPT TO (or to the step that ended the session).
    pub smtp: String,
    pub summary: String,
    /// The site file's remarks on this verdict.
    pub site: Vec<String>,
}

/// The whole answer (JSON as is; text through [`write_text`]).
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub tool: Tool,
    pub request: RequestOut,
    pub server: ServerOut,
    pub connector: Option<ConnectorOut>,
    pub candidates: Vec<CandidateOut>,
    pub session: Option<SessionOut>,
    pub rights: Vec<RightOut>,
    pub sender: AddressOut,
    pub recipient: AddressOut,
    pub transcript: Vec<LineOut>,
    pub verdict: VerdictOut,
    pub notes: Vec<String>,
    /// Exchange 2000/2003 SMTP virtual server or 5.5 Internet Mail Service simulated (no
    /// receive connectors; `connector`, `candidates`, `session` and `rights` stay empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_object: Option<String>,
    /// What the SMTP logs read beside the export show for the client address.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
}

/// The domain part of an address (`<a@x.test>` → `x.test`), lower-case.
pub fn domain_of(addr: &str) -> Option<String> {
    let a = addr
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let (_, d) = a.rsplit_once('@')?;
    let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
    (!d.is_empty()).then_some(d)
}

/// The accepted domain that `domain` falls in: an exact name beats the longest `*.parent`
/// (which covers the parent and its subdomains), which beats `*`.
pub fn match_domain<'m>(model: &'m Model, domain: &str) -> Option<&'m AcceptedDomain> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut best: Option<((u8, usize), &'m AcceptedDomain)> = None;
    for ad in &model.domains {
        let name = ad
            .domain_name
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let score = if name == "*" {
            Some((0, 0))
        } else if let Some(parent) = name.strip_prefix("*.") {
            (d == parent || d.ends_with(&format!(".{parent}"))).then_some((1, parent.len()))
        } else {
            (d == name).then_some((2, name.len()))
        };
        if let Some(s) = score {
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, ad));
            }
        }
    }
    best.map(|(_, ad)| ad)
}

fn domain_type(d: &AcceptedDomain) -> String {
    d.domain_type
        .clone()
        .unwrap_or_else(|| "Authoritative".to_string())
}

fn is_authoritative(d: &AcceptedDomain) -> bool {
    domain_type(d).eq_ignore_ascii_case("Authoritative")
}

/// `contoso.com`, or `Relay Everything (*)` when the identity is not the domain name.
fn domain_label(d: &AcceptedDomain) -> String {
    if d.identity.eq_ignore_ascii_case(&d.domain_name) {
        d.domain_name.clone()
    } else {
        format!("{} ({})", d.identity, d.domain_name)
    }
}

fn domain_out(d: &AcceptedDomain) -> DomainOut {
    DomainOut {
        identity: d.identity.clone(),
        domain_name: d.domain_name.clone(),
        domain_type: domain_type(d),
        file: d.src.file.to_string(),
        line: d.src.line,
    }
}

/// Days since 1970-01-01 of a Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `Tue, 14 Mar 2023 00:00:00 +0000` (RFC 5322, as Exchange prints its banner date).
pub fn banner_date((y, m, d): (i32, u32, u32)) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = DAYS[days_from_civil(y, m, d).rem_euclid(7) as usize];
    let mon = MONTHS[(m.clamp(1, 12) - 1) as usize];
    format!("{wd}, {d} {mon} {y} 00:00:00 +0000")
}

/// Server replies that differ between versions.
struct Wording {
    relay_denied: &'static str,
    not_authenticated: &'static str,
}

fn wording(p: Option<Product>) -> Wording {
    match p {
        Some(Product::Ex2007 | Product::Ex2010) => Wording {
            relay_denied: "550 5.7.1 Unable to relay",
            not_authenticated: "530 5.7.1 Client was not authenticated",
        },
        _ => Wording {
            relay_denied: "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain",
            not_authenticated:
                "530 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM",
        },
    }
}

fn fqdn_of(c: &ReceiveConnector, model: &Model, server: &str) -> String {
    if let Some(f) = c
        .raw("Fqdn")
        .map(|r| r.value.trim().to_string())
        .filter(|v| !v.is_empty())
    {
        return f;
    }
    let default = model
        .domains
        .iter()
        .find(|d| d.default == Some(true) && !d.domain_name.contains('*'));
    match default {
        Some(d) => format!("{server}.{}", d.domain_name),
        None => server.to_string(),
    }
}

/// `36 MB (37,748,736 bytes)` → 37748736.
fn size_bytes(c: &ReceiveConnector) -> Option<u64> {
    let v = &c.raw("MaxMessageSize")?.value;
    let inner = v.split_once('(')?.1.split_once("bytes")?.0;
    inner
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .ok()
}

/// Basic authentication without TLS: `BasicAuth` without `BasicAuthRequireTLS`.
fn basic_plain(c: &ReceiveConnector) -> bool {
    c.has_auth("BasicAuth") && !c.has_auth("BasicAuthRequireTLS")
}

/// Basic authentication after STARTTLS (`BasicAuthRequireTLS` with `Tls`).
fn basic_after_tls(c: &ReceiveConnector) -> bool {
    (c.has_auth("BasicAuth") || c.has_auth("BasicAuthRequireTLS")) && c.has_auth("Tls")
}

fn ehlo_lines(c: &ReceiveConnector, fqdn: &str, client: IpAddr, tls: bool) -> Vec<String> {
    let mut ext: Vec<String> = Vec::new();
    ext.push(match size_bytes(c) {
        Some(n) => format!("SIZE {n}"),
        None => "SIZE".into(),
    });
    ext.extend(["PIPELINING", "DSN", "ENHANCEDSTATUSCODES"].map(String::from));
    if c.has_auth("Tls") && !tls {
        ext.push("STARTTLS".into());
    }
    let mut mechs = Vec::new();
    if c.has_auth("Integrated") {
        mechs.extend(["GSSAPI", "NTLM"]);
    }
    if basic_plain(c) || (tls && basic_after_tls(c)) {
        mechs.push("LOGIN");
    }
    if !mechs.is_empty() {
        ext.push(format!("AUTH {}", mechs.join(" ")));
    }
    if c.has_auth("ExchangeServer") {
        ext.push("X-EXPS GSSAPI NTLM".into());
    }
    ext.extend(["8BITMIME", "BINARYMIME", "CHUNKING"].map(String::from));
    let mut out = vec![format!("250-{fqdn} Hello [{client}]")];
    let n = ext.len();
    for (i, e) in ext.into_iter().enumerate() {
        out.push(format!("{}{e}", if i + 1 == n { "250 " } else { "250-" }));
    }
    out
}

struct Transcript(Vec<LineOut>);

impl Transcript {
    fn s(&mut self, t: impl Into<String>) {
        self.0.push(LineOut {
            side: "server",
            text: t.into(),
        });
    }
    fn c(&mut self, t: impl Into<String>) {
        self.0.push(LineOut {
            side: "client",
            text: t.into(),
        });
    }
    fn note(&mut self, t: impl Into<String>) {
        self.0.push(LineOut {
            side: "note",
            text: t.into(),
        });
    }
}

fn kind_description(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::Anonymous => {
            "anonymous: no authentication; the session's token is NT AUTHORITY\\ANONYMOUS LOGON (and Everyone)"
        }
        PrincipalKind::AuthenticatedUser => {
            "an authenticated user: any account that authenticates (NT AUTHORITY\\Authenticated Users, and Everyone)"
        }
        PrincipalKind::ExternallySecured => {
            "externally secured (MS Exchange\\Externally Secured Servers): AuthMechanism ExternalAuthoritative trusts every client in RemoteIPRanges as an Exchange server, without authentication"
        }
        PrincipalKind::Partner => {
            "a domain-secured partner (MS Exchange\\Partner Servers): mutual TLS with a client certificate"
        }
    }
}

/// Simulates the session. Errors: the server is not in the export, or is not 2007+.
pub fn explain(model: &Model, req: &Request, site: Option<&Site>) -> Result<Explanation, String> {
    let mut e = explain_config(model, req, site)?;
    e.logs = crate::analysis::usage::log_notes(&model.usage, req.client);
    Ok(e)
}

fn explain_config(
    model: &Model,
    req: &Request,
    site: Option<&Site>,
) -> Result<Explanation, String> {
    let server_obj = model
        .servers
        .iter()
        .find(|s| same_server(&s.name, &req.server));
    let has_connectors = model
        .connectors
        .iter()
        .any(|c| same_server(&c.server, &req.server));
    // A 2000/2003 or 5.5 server known only from its LDIF, metabase or .reg export.
    if server_obj.is_none() && !has_connectors {
        let legacy = model
            .legacy
            .iter()
            .filter(|o| same_server(&o.server, &req.server))
            .find(|o| o.kind != crate::input::record::ObjectKind::SmtpConnector);
        if let Some(o) = legacy {
            let p = o.product.unwrap_or(match o.kind {
                crate::input::record::ObjectKind::Imc => Product::Ex55,
                _ => Product::Ex2003,
            });
            if let Some(e) = explain_legacy(model, req, p) {
                return Ok(e);
            }
        }
    }
    if server_obj.is_none() && !has_connectors {
        let mut known = matrix::server_names(model);
        known.sort();
        return Err(format!(
            "server `{}` is not in the export (servers: {})",
            req.server,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    }
    let product = server_obj.and_then(|s| s.product);
    if let Some(p) = product.filter(|p| *p <= Product::Ex2003) {
        if let Some(e) = explain_legacy(model, req, p) {
            return Ok(e);
        }
        return Err(format!(
            "{} is Exchange {}: explain simulates Exchange 2007+ receive connectors only",
            req.server,
            p.as_str()
        ));
    }
    let server_name = server_obj
        .map(|s| s.name.clone())
        .or_else(|| {
            model
                .connectors
                .iter()
                .find(|c| same_server(&c.server, &req.server))
                .map(|c| c.server.clone())
        })
        .unwrap_or_else(|| req.server.clone());
    let w = wording(product);
    let mut notes = Vec::new();
    if product.is_none() {
        notes.push(format!(
            "no Get-ExchangeServer object for {server_name}: replies are worded as Exchange 2013+"
        ));
    }
    let sender_domain = domain_of(&req.mail_from).unwrap_or_default();
    let rcpt_domain = domain_of(&req.rcpt)
        .ok_or_else(|| format!("--rcpt `{}` is not an address with a domain", req.rcpt))?;
    let sender_ad = (!sender_domain.is_empty())
        .then(|| match_domain(model, &sender_domain))
        .flatten();
    let rcpt_ad = match_domain(model, &rcpt_domain);
    let sender = AddressOut {
        address: req.mail_from.clone(),
        domain: sender_domain.clone(),
        accepted_domain: sender_ad.map(domain_out),
    };
    let recipient = AddressOut {
        address: req.rcpt.clone(),
        domain: rcpt_domain.clone(),
        accepted_domain: rcpt_ad.map(domain_out),
    };
    let request = RequestOut {
        server: req.server.clone(),
        client: req.client.to_string(),
        port: req.port,
        local: req.local.map(|a| a.to_string()),
        auth: req.auth.as_str(),
        mail_from: req.mail_from.clone(),
        rcpt: req.rcpt.clone(),
    };
    let server_out = ServerOut {
        name: server_name.clone(),
        product: product.map(|p| p.as_str()),
        version: server_obj.and_then(|s| s.version.as_ref().map(|v| v.value.to_string())),
    };

    let sel = selection::select(model, &server_name, req.client, req.port, req.local);
    notes.extend(sel.notes.iter().cloned());
    let candidates: Vec<CandidateOut> = sel
        .candidates
        .iter()
        .map(|c| CandidateOut {
            connector: c.connector.identity.clone(),
            status: c.status.as_str(),
            reason: c.reason.clone(),
        })
        .collect();
    let mut t = Transcript(Vec::new());

    let Some(win) = sel.winner() else {
        t.note(format!(
            "TCP connection from {} to {server_name}:{}",
            req.client, req.port
        ));
        t.note(
            "no receive connector accepts this client: no 220 banner, the session ends".to_string(),
        );
        let mut site_notes = Vec::new();
        if let Some(h) = site.and_then(|s| s.nat_for(req.client)) {
            site_notes.push(format!(
                "{} is a NAT / load-balancer SNAT address (site file{}): every client behind it gets this answer",
                h.range,
                h.description
                    .as_deref()
                    .map(|d| format!(": \"{d}\""))
                    .unwrap_or_default()
            ));
        }
        // Missing evidence is never "nothing is relayed": a connector of this server whose
        // RemoteIPRanges the export does not show may be the one that answers, and a server
        // none of whose connectors was exported says nothing at all.
        let of_server: Vec<&ReceiveConnector> = model
            .connectors
            .iter()
            .filter(|c| same_server(&c.server, &server_name))
            .collect();
        let unknown_scope: Vec<&str> = of_server
            .iter()
            .filter(|c| c.enabled != Some(false))
            .filter(|c| c.bindings.is_empty() || c.bindings.iter().any(|b| b.port == req.port))
            .filter(|c| {
                c.ranges.is_none()
                    || !c.bad_ranges.is_empty()
                    || c.raw("RemoteIPRanges").is_some_and(|r| r.truncated)
            })
            .map(|c| c.identity.as_str())
            .collect();
        let (code, summary) = if of_server.is_empty() {
            (
                "unknown",
                format!(
                    "UNKNOWN: the export holds no receive connector of {server_name}: whether {} may relay through it on port {} is unknown (export Get-ReceiveConnector).",
                    req.client, req.port
                ),
            )
        } else if !unknown_scope.is_empty() {
            (
                "unknown",
                format!(
                    "UNKNOWN: no connector whose ranges the export shows accepts {} on port {}, but the RemoteIPRanges of {} are missing or cut off in the export: one of them may answer, so whether it relays is unknown.",
                    req.client,
                    req.port,
                    unknown_scope.join(", ")
                ),
            )
        } else {
            (
                "no-connector",
                format!(
                    "NO CONNECTOR: no enabled receive connector of {server_name} listens on port {} for {} (see the candidates); nothing is accepted, so nothing is relayed.",
                    req.port, req.client
                ),
            )
        };
        return Ok(Explanation {
            tool: tool(),
            request,
            server: server_out,
            connector: None,
            candidates,
            session: None,
            rights: vec![],
            sender,
            recipient,
            transcript: t.0,
            verdict: VerdictOut {
                code,
                relay: false,
                smtp: String::new(),
                summary,
                site: site_notes,
            },
            notes,
            legacy_object: None,
            logs: Vec::new(),
        });
    };
    let c = win.connector;
    let matched = win.matched.expect("the winner has a matching entry");
    let connector = Some(ConnectorOut {
        id: c.identity.clone(),
        binding: win.binding.as_ref().map(fmt_binding).unwrap_or_default(),
        matched_range: matched.to_string(),
        remote_ip_ranges: selection::range_entries(c)
            .iter()
            .map(|r| r.to_string())
            .collect(),
        permission_groups: c.permission_groups.as_deref().map(<[String]>::to_vec),
        auth_mechanism: c.auth_mechanism.as_deref().map(<[String]>::to_vec),
        file: c.src.file.to_string(),
        line: c.src.line,
    });
    if sel.candidates.iter().any(|x| x.status == Status::Tied) {
        notes.push("the winner is tied with another connector (a conflict Exchange refuses): the real server's answer cannot be known from this export".into());
    }

    // ---- The conversation ------------------------------------------------------------------
    let fqdn = fqdn_of(c, model, &server_name);
    let today = req.today.unwrap_or_else(crate::date::today);
    match c
        .raw("Banner")
        .map(|r| r.value.trim().to_string())
        .filter(|b| !b.is_empty())
    {
        Some(b) => t.s(b),
        None => t.s(format!(
            "220 {fqdn} Microsoft ESMTP MAIL Service ready at {}",
            banner_date(today)
        )),
    }
    let helo = req
        .helo
        .clone()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| {
            if sender_domain.is_empty() {
                "client.example".to_string()
            } else {
                sender_domain.clone()
            }
        });
    t.c(format!("EHLO {helo}"));
    for l in ehlo_lines(c, &fqdn, req.client, false) {
        t.s(l);
    }

    let facts = Facts::compute(model);
    let f = facts
        .connector(&c.identity)
        .expect("every model connector has facts");
    let ext = c.has_auth("ExternalAuthoritative");
    let mut kind = if ext {
        PrincipalKind::ExternallySecured
    } else {
        PrincipalKind::Anonymous
    };
    let starttls = |t: &mut Transcript, why: &str| -> bool {
        t.c("STARTTLS");
        if c.has_auth("Tls") {
            t.s("220 2.0.0 SMTP server ready");
            t.note(format!("TLS handshake{why}"));
            t.c(format!("EHLO {helo}"));
            for l in ehlo_lines(c, &fqdn, req.client, true) {
                t.s(l);
            }
            true
        } else {
            t.s("500 5.3.3 Unrecognized command 'STARTTLS'");
            false
        }
    };
    if ext && req.auth != Auth::None {
        t.note(format!(
            "no AUTH needed (--auth {} not simulated): the connector is externally secured, every session already is",
            req.auth.as_str()
        ));
    } else {
        match req.auth {
            Auth::None => {}
            Auth::Basic => {
                let mut ok = basic_plain(c);
                if !ok && basic_after_tls(c) {
                    ok = starttls(&mut t, "");
                }
                t.c("AUTH LOGIN");
                if ok {
                    t.s("334 VXNlcm5hbWU6");
                    t.c("(user name, base64)");
                    t.s("334 UGFzc3dvcmQ6");
                    t.c("(password, base64)");
                    t.s("235 2.7.0 Authentication successful");
                    kind = PrincipalKind::AuthenticatedUser;
                    notes.push("the simulated credentials are assumed valid".into());
                } else {
                    t.s("504 5.7.4 Unrecognized authentication type");
                    notes.push(format!(
                        "{} offers no Basic authentication (AuthMechanism {}): the session stays anonymous",
                        c.identity,
                        auth_text(c)
                    ));
                }
            }
            Auth::Integrated => {
                t.c("AUTH NTLM (negotiate message)");
                if c.has_auth("Integrated") {
                    t.s("334 (challenge)");
                    t.c("(authenticate message)");
                    t.s("235 2.7.0 Authentication successful");
                    kind = PrincipalKind::AuthenticatedUser;
                    notes.push("the simulated credentials are assumed valid".into());
                } else {
                    t.s("504 5.7.4 Unrecognized authentication type");
                    notes.push(format!(
                        "{} offers no Integrated authentication (AuthMechanism {}): the session stays anonymous",
                        c.identity,
                        auth_text(c)
                    ));
                }
            }
            Auth::TlsCert => {
                if starttls(&mut t, " with a client certificate") {
                    match PrincipalKind::Partner.session_on(c) {
                        Ok(_) if matrix::held(f, PrincipalKind::Partner, SUBMIT).held() => {
                            kind = PrincipalKind::Partner;
                            notes.push("a partner session also needs the sender's domain in TLSReceiveDomainSecureList (Get-TransportConfig, not in this export): assumed".into());
                        }
                        Ok(_) => notes.push(format!(
                            "{} grants partners no ms-Exch-SMTP-Submit (no Partners permission group or partner ACE): the session is judged with the anonymous rights",
                            c.identity
                        )),
                        Err(why) => notes.push(format!(
                            "the client certificate does not make a partner session ({why}): the session stays anonymous"
                        )),
                    }
                } else {
                    notes.push(format!(
                        "{} offers no TLS: the session stays anonymous",
                        c.identity
                    ));
                }
            }
        }
    }
    let session = Some(SessionOut {
        principal: kind.as_str(),
        description: kind_description(kind).to_string(),
        token: kind.classes(),
    });

    if !f.permissions_exported() {
        notes.push(format!(
            "no Get-ADPermission entries of {} were exported: rights come from its PermissionGroups and AuthMechanism only (an explicit grant or deny would change the answer)",
            c.identity
        ));
    }
    let rights_list = [SUBMIT, ANY_SENDER, AUTH_DOMAIN_SENDER, ANY_RECIPIENT];
    let mut rights = Vec::new();
    for r in rights_list {
        let h = matrix::held(f, kind, r);
        rights.push(RightOut {
            right: r,
            held: h.held(),
            via: h.grants.iter().map(|g| grant_out(g, c, r)).collect(),
            denied_by: h.denied_by.iter().map(|a| deny_out(a, r)).collect(),
        });
    }
    let has = |r: &str| rights.iter().any(|x| x.right == r && x.held);

    // MAIL FROM
    t.c(format!("MAIL FROM:<{}>", bare(&req.mail_from)));
    let who = format!("{} session", kind.label());
    let mut verdict: Option<VerdictOut> = None;
    if !has(SUBMIT) {
        let reply = if kind == PrincipalKind::Anonymous {
            w.not_authenticated
        } else {
            notes.push("the wording of the refusal for a non-anonymous session without Submit is not verified against a real server".into());
            "550 5.7.1 Client does not have permissions to submit to this server"
        };
        t.s(reply);
        t.c(format!("RCPT TO:<{}>", bare(&req.rcpt)));
        t.s("503 5.5.2 Need mail command");
        verdict = Some(VerdictOut {
            code: "mail-refused",
            relay: false,
            smtp: reply.to_string(),
            summary: format!(
                "MAIL REFUSED: the {who} on {} does not hold ms-Exch-SMTP-Submit, so no mail is accepted at all (not a relay).",
                c.identity
            ),
            site: vec![],
        });
    } else if kind == PrincipalKind::Anonymous
        && sender_ad.is_some_and(is_authoritative)
        && !has(AUTH_DOMAIN_SENDER)
    {
        let reply = "530 5.7.1 Client was not authenticated";
        t.s(reply);
        t.c(format!("RCPT TO:<{}>", bare(&req.rcpt)));
        t.s("503 5.5.2 Need mail command");
        notes.push("the wording of the anti-spoofing refusal is the one reported for Exchange 2010; later versions may word it differently".into());
        verdict = Some(VerdictOut {
            code: "mail-refused",
            relay: false,
            smtp: reply.to_string(),
            summary: format!(
                "MAIL REFUSED: the sender's domain {sender_domain} is authoritative and the anonymous session on {} lacks {AUTH_DOMAIN_SENDER} (anti-spoofing), so the message is refused before any recipient (not a relay).",
                c.identity
            ),
            site: vec![],
        });
    } else {
        t.s("250 2.1.0 Sender OK");
    }

    // RCPT TO
    let verdict = match verdict {
        Some(v) => v,
        None => {
            t.c(format!("RCPT TO:<{}>", bare(&req.rcpt)));
            let ok = "250 2.1.5 Recipient OK";
            let (code, relay, reply, summary) = match rcpt_ad {
                Some(d) if is_authoritative(d) => {
                    notes.push(format!(
                        "whether the mailbox {} exists is not in the export (recipient validation may still refuse it)",
                        bare(&req.rcpt)
                    ));
                    (
                        "not-relay",
                        false,
                        ok,
                        format!(
                            "NOT RELAY: the recipient is in the authoritative accepted domain {}; the message is accepted for delivery inside the organisation. Relay is a recipient outside the accepted domains.",
                            domain_label(d)
                        ),
                    )
                }
                Some(d) => (
                    "relay-allowed",
                    true,
                    ok,
                    if d.domain_name.trim() == "*" {
                        format!(
                            "RELAY ALLOWED: any recipient accepted via domain {} ({} `*`): the accepted domain makes every recipient accepted, so ms-Exch-SMTP-Submit is enough and this {who} from {} relays to anyone through {}.",
                            d.identity,
                            domain_type(d),
                            req.client,
                            c.identity
                        )
                    } else {
                        format!(
                            "RELAY ALLOWED: {} is accepted as a relay domain ({} {}): ms-Exch-SMTP-Submit is enough, so the {who} from {} relays the message onward through {}.",
                            rcpt_domain,
                            domain_type(d),
                            domain_label(d),
                            req.client,
                            c.identity
                        )
                    },
                ),
                None if has(ANY_RECIPIENT) => {
                    let from = rights
                        .iter()
                        .find(|x| x.right == ANY_RECIPIENT)
                        .map(|x| {
                            x.via
                                .iter()
                                .map(|g| g.text.clone())
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                        .unwrap_or_default();
                    (
                        "relay-allowed",
                        true,
                        ok,
                        format!(
                            "RELAY ALLOWED: {rcpt_domain} is not an accepted domain, and the {who} from {} holds ms-Exch-SMTP-Accept-Any-Recipient on {} through {from}.",
                            req.client, c.identity
                        ),
                    )
                }
                None => (
                    "relay-refused",
                    false,
                    w.relay_denied,
                    format!(
                        "RELAY REFUSED: {rcpt_domain} is not an accepted domain, and the {who} from {} does not hold ms-Exch-SMTP-Accept-Any-Recipient on {}{}.",
                        req.client,
                        c.identity,
                        rights
                            .iter()
                            .find(|x| x.right == ANY_RECIPIENT && !x.denied_by.is_empty())
                            .map(|x| format!(
                                " (denied by {})",
                                x.denied_by
                                    .iter()
                                    .map(|g| g.text.clone())
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            ))
                            .unwrap_or_default()
                    ),
                ),
            };
            t.s(reply);
            VerdictOut {
                code,
                relay,
                smtp: reply.to_string(),
                summary,
                site: vec![],
            }
        }
    };
    t.c("QUIT");
    t.s("221 2.0.0 Service closing transmission channel");

    let mut verdict = verdict;
    if let Some(s) = site {
        verdict.site = site_remarks(s, req, &server_name, c, matched, &verdict);
    }
    Ok(Explanation {
        tool: tool(),
        request,
        server: server_out,
        connector,
        candidates,
        session,
        rights,
        sender,
        recipient,
        transcript: t.0,
        verdict,
        notes,
        legacy_object: None,
        logs: Vec::new(),
    })
}

/// The telnet test against a 2000/2003 SMTP virtual server or a 5.5 Internet Mail Service
/// (SEEDS.md §1-§3, §5). `None` when the export holds no such object for the server.
fn explain_legacy(model: &Model, req: &Request, product: Product) -> Option<Explanation> {
    use crate::model::legacy::{Legacy, RelayMode};
    let objs: Vec<_> = model
        .legacy
        .iter()
        .filter(|o| same_server(&o.server, &req.server))
        .collect();
    // The virtual server bound to the address and port the client connects to: an exact
    // `IP:port:` binding wins over "(All Unassigned)" `:port:`; without bindings, the first.
    let vs_rank = |o: &&&crate::model::legacy::LegacyObject| -> u8 {
        let Legacy::VirtualServer(v) = &o.detail else {
            return 0;
        };
        let Some(bindings) = &v.bindings else {
            return 1;
        };
        let mut best = 0;
        for b in bindings {
            let mut parts = b.split(':');
            let (ip, port) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if port.trim().parse::<u16>().ok() != Some(req.port) {
                continue;
            }
            if ip.is_empty() {
                best = best.max(2);
            } else if req.local.is_some_and(|l| l.to_string() == ip) {
                best = 3;
            }
        }
        best
    };
    let vs = objs
        .iter()
        .filter(|o| vs_rank(o) > 0)
        .max_by_key(|o| (vs_rank(o), std::cmp::Reverse(o.src.line)));
    let imc = objs.iter().find(|o| matches!(o.detail, Legacy::Imc(_)));
    let o = vs.or(imc)?;
    let host = o.server.clone();
    let today = req.today.unwrap_or_else(crate::date::today);
    let authed = req.auth != Auth::None;
    let mut t = Transcript(Vec::new());
    let mut notes = Vec::new();
    let client = req.client;
    let (relay, smtp, code, summary);
    match &o.detail {
        Legacy::VirtualServer(v)
            if v.connection.as_ref().and_then(|c| c.admits(client)) == Some(false) =>
        {
            relay = false;
            smtp = "(connection refused by Connection control)".to_string();
            code = "connection-refused";
            summary = format!(
                "Connection control of {} does not admit {client}: the session ends before SMTP",
                o.identity
            );
            notes.push(format!(
                "Connection control: {}",
                v.connection.as_ref().map(|c| c.text()).unwrap_or_default()
            ));
        }
        Legacy::VirtualServer(v) => {
            match (&v.connection, &v.connection_undecoded) {
                (Some(c), _) if c.admits(client).is_none() => notes.push(format!(
                    "Connection control names hosts by domain ({}): whether it admits {client} depends on reverse DNS",
                    c.names.join(", ")
                )),
                (_, Some(why)) => notes.push(format!(
                    "Connection control could not be read ({why}): it may refuse {client} before SMTP"
                )),
                _ => {}
            }
            t.s(format!(
                "220 {host} Microsoft ESMTP MAIL Service, Version: 6.0.3790.0 ready at {}",
                banner_date(today)
            ));
            t.c(format!(
                "EHLO {}",
                domain_of(&req.mail_from).unwrap_or_default()
            ));
            t.s("250 OK");
            t.c(format!("MAIL FROM:<{}>", bare(&req.mail_from)));
            t.s(format!("250 2.1.0 {}....Sender OK", bare(&req.mail_from)));
            t.c(format!("RCPT TO:<{}>", bare(&req.rcpt)));
            let listed = v.relay_ips.contains(client);
            let by_list = match v.relay_mode {
                Some(RelayMode::OnlyTheList) => listed,
                Some(RelayMode::AllExcept) => !listed,
                None => false,
            };
            let by_auth = authed && v.allow_authenticated_relay == Some(true);
            relay = by_list || by_auth;
            let unknown = v.relay_mode.is_none() && !by_auth;
            if let Some(why) = v.relay_list_undecoded.as_ref().filter(|_| unknown) {
                notes.push(format!("the relay list: {why}"));
            }
            if let Some(copy) = &v.metabase {
                for d in copy
                    .drift
                    .iter()
                    .filter(|d| d.setting.starts_with("Relay") || d.setting.starts_with("Allow"))
                {
                    notes.push(format!(
                        "the metabase copy ({}:{}) differs: {} = {} there, {} in Active Directory; this verdict follows Active Directory, but until Exchange copies it to the metabase again the server answers by the metabase",
                        copy.src.file, d.metabase_line, d.setting, d.metabase, d.ad
                    ));
                }
            }
            if !v.relay_names.is_empty() {
                notes.push(format!(
                    "the relay list also names {}: granted by reverse DNS of the client, which relay-audit cannot resolve offline",
                    v.relay_names.join(", ")
                ));
            }
            summary = if unknown {
                format!(
                    "the Relay Restrictions of {} are not in the export, or not readable with certainty: whether {client} may relay is unknown",
                    o.identity
                )
            } else if by_list {
                match v.relay_mode {
                    Some(RelayMode::AllExcept) => format!(
                        "{} relays for every client except its list (\"All except the list below\") and {client} is not in it: open relay",
                        o.identity
                    ),
                    _ => format!(
                        "{client} is in the relay list of {} (\"Only the list below\")",
                        o.identity
                    ),
                }
            } else if by_auth {
                format!("{} lets authenticated clients relay", o.identity)
            } else {
                format!("{client} may not relay through {}", o.identity)
            };
            smtp = if unknown {
                "(unknown: 250 2.1.5 if the list lets the client relay, else 550 5.7.1 Unable to relay)"
                    .to_string()
            } else if relay {
                format!("250 2.1.5 {}", bare(&req.rcpt))
            } else {
                format!("550 5.7.1 Unable to relay for {}", bare(&req.rcpt))
            };
            code = if unknown {
                "unknown"
            } else if relay {
                "relay-allowed"
            } else {
                "relay-refused"
            };
        }
        Legacy::Imc(i) => {
            t.s(format!(
                "220 {host} ESMTP Server (Microsoft Exchange Internet Mail Service 5.5) ready"
            ));
            t.c(format!(
                "HELO {}",
                domain_of(&req.mail_from).unwrap_or_default()
            ));
            t.s("250 OK");
            t.c(format!("MAIL FROM:<{}>", bare(&req.mail_from)));
            t.s("250 OK");
            t.c(format!("RCPT TO:<{}>", bare(&req.rcpt)));
            let ips: Vec<_> = i
                .ip_addresses
                .iter()
                .filter_map(|e| crate::model::legacy::parse_ip_mask(e).ok())
                .collect();
            let in_list = ips.iter().any(|r| r.contains(client));
            let to_internal = req.local.is_some_and(|l| {
                i.internal_addresses
                    .iter()
                    .filter_map(|e| crate::model::legacy::parse_ip_mask(e).ok())
                    .any(|r| r.contains(l))
            });
            let pre_sp1 = product == Product::Ex55 && o.service_pack.is_some_and(|sp| sp < 1);
            if i.reroute.is_none() {
                relay = false;
                smtp = "(unknown: the Routing tab is not in the export)".to_string();
                code = "unknown";
                summary = format!(
                    "whether {} reroutes incoming SMTP mail is not recorded (record the Routing tab in a settings file): whether {client} may relay is unknown",
                    o.identity
                );
            } else if i.reroute == Some(true) && pre_sp1 {
                relay = true;
                smtp = "250 OK".to_string();
                code = "relay-allowed";
                summary = format!(
                    "{} is Exchange 5.5 before SP1 and reroutes: Routing Restrictions do not exist in that build, so it relays for anyone",
                    o.identity
                );
            } else if i.reroute == Some(false) {
                relay = false;
                smtp = "250 OK".to_string();
                code = "not-relay";
                summary = format!(
                    "{} does not reroute: the recipient is accepted, then returned as a non-delivery report (not a relay, but backscatter)",
                    o.identity
                );
            } else {
                let restricted = i.ip_addresses_ticked || i.authenticate || i.internal_ticked;
                let allowed = !restricted
                    || (i.ip_addresses_ticked && in_list)
                    || (i.authenticate && authed)
                    || (i.internal_ticked && to_internal);
                if i.internal_ticked && i.ip_forwarding == Some(true) {
                    notes.push(format!(
                        "{} relays for clients that connect to its internal addresses and forwards IP packets between its interfaces: an outside client that targets an internal address relays",
                        o.identity
                    ));
                }
                relay = allowed;
                smtp = if allowed {
                    "250 OK".to_string()
                } else {
                    "550 Relaying is prohibited".to_string()
                };
                code = if allowed {
                    "relay-allowed"
                } else {
                    "relay-refused"
                };
                summary = if !restricted {
                    format!(
                        "{} reroutes with no routing restriction: open relay",
                        o.identity
                    )
                } else if allowed {
                    format!("{client} passes the routing restrictions of {}", o.identity)
                } else if i.ip_addresses_ticked && ips.is_empty() {
                    format!(
                        "\"these IP addresses\" is ticked with an empty list on {}: nobody may relay",
                        o.identity
                    )
                } else {
                    format!("{client} fails the routing restrictions of {}", o.identity)
                };
                if restricted
                    && o.service_pack.is_some_and(|sp| sp < 3)
                    && i.hotfix_encapsulated_relay != Some(true)
                {
                    notes.push(format!(
                        "{} is below SP3 without the hotfix: the encapsulated-address bypass (MS99-027) defeats the routing restrictions",
                        o.identity
                    ));
                }
            }
        }
        Legacy::Connector(_) => return None,
    }
    t.s(smtp.clone());
    let addr = |a: &str| AddressOut {
        address: bare(a).to_string(),
        domain: domain_of(a).unwrap_or_default(),
        accepted_domain: None,
    };
    Some(Explanation {
        tool: tool(),
        request: RequestOut {
            server: req.server.clone(),
            client: client.to_string(),
            port: req.port,
            local: req.local.map(|l| l.to_string()),
            auth: req.auth.as_str(),
            mail_from: req.mail_from.clone(),
            rcpt: req.rcpt.clone(),
        },
        server: ServerOut {
            name: o.server.clone(),
            product: Some(product.as_str()),
            version: None,
        },
        connector: None,
        candidates: Vec::new(),
        session: None,
        rights: Vec::new(),
        sender: addr(&req.mail_from),
        recipient: addr(&req.rcpt),
        transcript: t.0,
        verdict: VerdictOut {
            code,
            relay,
            smtp,
            summary,
            site: Vec::new(),
        },
        notes,
        legacy_object: Some(o.identity.clone()),
        logs: Vec::new(),
    })
}

fn site_remarks(
    s: &Site,
    req: &Request,
    server: &str,
    c: &ReceiveConnector,
    matched: crate::model::ip_range::IpRange,
    v: &VerdictOut,
) -> Vec<String> {
    let mut out = Vec::new();
    let client = req.client;
    if let Some(h) = s.nat_for(client) {
        if v.relay {
            out.push(s.nat_sentence(h, &format!("relay connector {}", c.identity)));
        } else {
            out.push(format!(
                "{client} is a NAT / load-balancer SNAT address (site file{}): every Internet client arrives as it and gets this same answer",
                h.description
                    .as_deref()
                    .map(|d| format!(": \"{d}\""))
                    .unwrap_or_default()
            ));
        }
    }
    if v.relay {
        let entry = crate::model::ip_range::IpSet::from(matched);
        for h in s.nat_in(&entry) {
            if !h.range.contains(client) {
                out.push(format!(
                    "the matching entry {matched} also holds {}: {}",
                    h.range,
                    s.nat_sentence(h, &format!("relay connector {}", c.identity))
                ));
            }
        }
        match s.trusted_for(client) {
            Some(h) => out.push(format!(
                "{client} is a trusted relay host in the site file{}",
                h.description
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            )),
            None if !s.trusted.is_empty() => out.push(format!(
                "{client} is not among the trusted relay hosts of the site file"
            )),
            None => {}
        }
        if let Some(f) = s.internet_facing(server, req.port) {
            if crate::model::ip_range::public_space().contains(client) {
                out.push(format!(
                    "{server}:{} is Internet-facing (site file{}) and {client} is a public address: this is an open relay",
                    req.port,
                    f.description
                        .as_deref()
                        .map(|d| format!(": \"{d}\""))
                        .unwrap_or_default()
                ));
            }
        }
    }
    out
}

fn auth_text(c: &ReceiveConnector) -> String {
    c.auth_mechanism
        .as_ref()
        .map(|v| v.join(", "))
        .unwrap_or_else(|| "not exported".into())
}

fn bare(addr: &str) -> &str {
    addr.trim().trim_start_matches('<').trim_end_matches('>')
}

fn tool() -> Tool {
    Tool {
        name: "relay-audit",
        version: env!("CARGO_PKG_VERSION"),
    }
}

/// The explanation as text: transcript, then the reasoning chain, then the verdict; text
/// from the export made visible ([`crate::term::visible`]).
pub fn write_text(e: &Explanation) -> String {
    let mut o = String::new();
    let auth = match e.request.auth {
        "none" => "no authentication".to_string(),
        a => format!("--auth {a}"),
    };
    let _ = writeln!(
        o,
        "Simulated SMTP session (offline, from the export): {}:{} from {}, {auth}{}",
        e.server.name,
        e.request.port,
        e.request.client,
        e.request
            .local
            .as_deref()
            .map(|l| format!(", connecting to {l}"))
            .unwrap_or_default()
    );
    let _ = writeln!(o);
    for l in &e.transcript {
        match l.side {
            "server" => {
                let _ = writeln!(o, "  S: {}", l.text);
            }
            "client" => {
                let _ = writeln!(o, "  C: {}", l.text);
            }
            _ => {
                let _ = writeln!(o, "     ({})", l.text);
            }
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "Why");
    let mut n = 0;
    let mut step = |o: &mut String, title: &str| {
        n += 1;
        let _ = writeln!(o, "{n}. {title}");
    };
    step(
        &mut o,
        &format!(
            "Server: {} ({})",
            e.server.name,
            match (&e.server.product, &e.server.version) {
                (Some(p), Some(v)) => format!("Exchange {p}, {v}"),
                (Some(p), None) => format!("Exchange {p}"),
                _ => "version not in the export".to_string(),
            }
        ),
    );
    if let Some(x) = &e.legacy_object {
        step(
            &mut o,
            &format!("Relay settings: {x} (no receive connectors before Exchange 2007)"),
        );
    } else {
        match &e.connector {
            Some(c) => {
                step(&mut o, &format!("Connector: {} answers", c.id));
                if let Some(w) = e.candidates.iter().find(|x| x.status == "won") {
                    let _ = writeln!(o, "   it {}", w.reason);
                }
            }
            None => step(&mut o, "Connector: none answers"),
        }
        let losers: Vec<&CandidateOut> = e
            .candidates
            .iter()
            .filter(|x| !matches!(x.status, "won" | "other-port"))
            .collect();
        let elsewhere: Vec<&str> = e
            .candidates
            .iter()
            .filter(|x| x.status == "other-port")
            .map(|x| x.connector.as_str())
            .collect();
        if !losers.is_empty() || !elsewhere.is_empty() {
            let _ = writeln!(o, "   not chosen:");
            for x in losers {
                let _ = writeln!(o, "   - {}: {}", x.connector, x.reason);
            }
            if !elsewhere.is_empty() {
                let _ = writeln!(
                    o,
                    "   - not listening on port {} for this client: {}",
                    e.request.port,
                    elsewhere.join(", ")
                );
            }
        }
        if let Some(s) = &e.session {
            step(&mut o, &format!("Session: {}", s.description));
        }
        if let Some(c) = &e.connector {
            step(&mut o, &format!("Rights of this session on {}", c.id));
            for r in &e.rights {
                let state = if r.held {
                    "held"
                } else if !r.denied_by.is_empty() {
                    "denied"
                } else {
                    "not held"
                };
                let _ = writeln!(o, "   {:<48} {state}", r.right);
                for g in r.via.iter().chain(r.denied_by.iter()) {
                    let _ = writeln!(o, "      {}", g.text);
                }
            }
        }
        let dom = |a: &AddressOut| match &a.accepted_domain {
            Some(d) => format!(
                "{} is in accepted domain {} ({}, {}:{})",
                a.domain, d.identity, d.domain_type, d.file, d.line
            ),
            None if a.domain.is_empty() => "no domain".to_string(),
            None => format!("{} is not an accepted domain", a.domain),
        };
        step(
            &mut o,
            &format!("Sender {}: {}", bare(&e.sender.address), dom(&e.sender)),
        );
        let need = match &e.recipient.accepted_domain {
            Some(d) if d.domain_type.eq_ignore_ascii_case("Authoritative") => {
                "not relay: ms-Exch-SMTP-Submit is enough"
            }
            Some(_) => "relay to an accepted relay domain: ms-Exch-SMTP-Submit is enough",
            None => "relay: needs ms-Exch-SMTP-Accept-Any-Recipient",
        };
        step(
            &mut o,
            &format!(
                "Recipient {}: {} ({need})",
                bare(&e.recipient.address),
                dom(&e.recipient)
            ),
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "Verdict: {}", e.verdict.summary);
    for s in &e.verdict.site {
        let _ = writeln!(o, "  ! {s}");
    }
    if !e.notes.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "Notes");
        for x in &e.notes {
            let _ = writeln!(o, "  - {x}");
        }
    }
    if !e.logs.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "What the SMTP logs show for this address");
        for x in &e.logs {
            let _ = writeln!(o, "  - {x}");
        }
    }
    // Names, values and lines from the export are made visible here, where the text is
    // finished: nothing in it acts on the terminal (crate::term).
    crate::term::visible(&o).into_owned()
}

/// The explanation as one JSON document (with a final newline).
pub fn write_json(e: &Explanation) -> String {
    let mut s = serde_json::to_string_pretty(e).expect("explanation serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_of(product: Product) -> Model {
        let mut m = crate::analysis::selection::tests::model();
        m.servers.push(crate::model::ExchangeServer {
            name: "EX01".into(),
            src: crate::model::Source {
                file: std::sync::Arc::from("servers.xml"),
                line: 1,
            },
            version: None,
            product: Some(product),
            build: None,
            roles: None,
            service_pack: None,
        });
        m
    }

    fn request(client: &str, port: u16) -> Request {
        Request {
            server: "EX01".into(),
            client: client.parse().unwrap(),
            port,
            local: None,
            auth: Auth::None,
            mail_from: "a@x.test".into(),
            rcpt: "b@y.test".into(),
            helo: None,
            today: Some((2023, 3, 14)),
        }
    }

    #[test]
    fn replies_are_worded_per_version() {
        let e = explain(
            &model_of(Product::Ex2010),
            &request("203.0.113.9", 25),
            None,
        )
        .unwrap();
        assert_eq!(e.verdict.code, "relay-refused");
        assert_eq!(e.verdict.smtp, "550 5.7.1 Unable to relay");
        let e = explain(
            &model_of(Product::Ex2016),
            &request("203.0.113.9", 25),
            None,
        )
        .unwrap();
        assert!(e.verdict.smtp.starts_with("550 5.7.54"));
        let e = explain(
            &model_of(Product::Ex2007),
            &request("203.0.113.9", 587),
            None,
        )
        .unwrap();
        assert_eq!(e.verdict.code, "mail-refused");
        assert_eq!(e.verdict.smtp, "530 5.7.1 Client was not authenticated");
        let err = explain(
            &model_of(Product::Ex2003),
            &request("203.0.113.9", 25),
            None,
        );
        assert!(err.unwrap_err().contains("2007+"));
    }

    #[test]
    fn deny_beats_the_relay_grant() {
        let mut m = model_of(Product::Ex2019);
        m.connectors[1].permission_groups =
            Some(vec!["AnonymousUsers".into(), "Custom".into()].into());
        let ace = |deny: bool| {
            crate::model::Ace::new(
                Some("EX01\\Relay EX01"),
                crate::model::Grant::new(
                    "NT AUTHORITY\\ANONYMOUS LOGON",
                    crate::model::principal::Principal::Anonymous,
                    &[ANY_RECIPIENT],
                    deny,
                ),
                crate::model::Source {
                    file: std::sync::Arc::from("perms.xml"),
                    line: if deny { 3 } else { 9 },
                },
            )
        };
        m.aces.push(ace(false));
        let e = explain(&m, &request("10.1.1.25", 25), None).unwrap();
        assert_eq!(e.verdict.code, "relay-allowed");
        m.aces.push(ace(true));
        let e = explain(&m, &request("10.1.1.25", 25), None).unwrap();
        assert_eq!(e.verdict.code, "relay-refused");
        assert!(
            e.verdict.summary.contains("denied by ACE"),
            "{}",
            e.verdict.summary
        );
    }

    #[test]
    fn banner_dates_have_the_right_weekday() {
        assert_eq!(
            banner_date((2023, 3, 14)),
            "Tue, 14 Mar 2023 00:00:00 +0000"
        );
        assert_eq!(banner_date((1970, 1, 1)), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            banner_date((2024, 2, 29)),
            "Thu, 29 Feb 2024 00:00:00 +0000"
        );
    }

    #[test]
    fn domains_match_most_specific_first() {
        let d = |name: &str, ty: &str| AcceptedDomain {
            identity: name.into(),
            domain_name: name.into(),
            domain_type: Some(ty.into()),
            default: Some(false),
            src: crate::model::Source {
                file: std::sync::Arc::from("d.xml"),
                line: 1,
            },
            raw: vec![],
        };
        let m = Model {
            domains: vec![
                d("*", "InternalRelay"),
                d("*.contoso.com", "InternalRelay"),
                d("contoso.com", "Authoritative"),
            ],
            ..Default::default()
        };
        assert_eq!(
            match_domain(&m, "contoso.com").unwrap().identity,
            "contoso.com"
        );
        assert_eq!(
            match_domain(&m, "eu.contoso.com").unwrap().identity,
            "*.contoso.com"
        );
        assert_eq!(match_domain(&m, "y.test").unwrap().identity, "*");
        assert_eq!(domain_of("<b@Y.Test>").as_deref(), Some("y.test"));
        assert_eq!(domain_of("nobody"), None);
    }
}
