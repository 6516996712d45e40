//! `relay-audit probe`: the telnet relay test, live. One host, one connection at a time,
//! nmap's 16 address forms with recipients in a reserved domain, never DATA. The result is
//! a [`ProbeRun`]: per-form and overall verdicts, which server answered, and the raw
//! transcript; [`crosscheck`] sets it beside what the export says.

pub mod crosscheck;
pub mod forms;
pub mod recognise;
pub mod record;
pub mod session;
pub mod target;
pub mod transcript;
pub mod verdict;

use forms::{Destination, Form};
use serde::Serialize;
use session::{Command, Link, Lost, Reply, Session, TlsInfo};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use transcript::Transcript;
pub use verdict::Verdict;

/// `--tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Never STARTTLS.
    No,
    /// STARTTLS when offered; go on in clear text when it is not.
    Opportunistic,
    /// STARTTLS or stop.
    Require,
}

/// AUTH credentials (`--auth-user`; the password from the environment or a file).
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.user)
    }
}

/// What to probe and how carefully.
#[derive(Debug, Clone)]
pub struct Options {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub tls_on_connect: bool,
    /// Trust anchors for the certificate check (`--tls-ca`; default: the WebPKI roots).
    pub tls_roots: Arc<rustls::RootCertStore>,
    /// A certificate that does not verify stops the probe.
    pub tls_verify: bool,
    pub helo: Option<String>,
    /// A bare mailbox: the sender of the plain form (2).
    pub from: Option<String>,
    /// A bare mailbox: the recipient (its domain is the foreign domain of every form).
    pub to: Option<String>,
    /// Connect from this local address.
    pub source: Option<IpAddr>,
    pub all_addresses: bool,
    pub delay: Duration,
    pub connect_timeout: Duration,
    pub reply_timeout: Duration,
    pub max_time: Duration,
    pub max_reconnects: u32,
    pub auth: Option<Credentials>,
    pub allow_plaintext_auth: bool,
    pub stop_on_first_open: bool,
    /// The run token (default: derived from the time and the process id).
    pub token: Option<String>,
}

impl Options {
    /// The defaults for `host`: port 25, opportunistic TLS, 1 s between tests, 10 s to
    /// connect, 30 s per reply (Exchange tarpits each 5xx by 5 s), 180 s in all, 5 reconnects.
    pub fn new(host: &str) -> Options {
        Options {
            host: host.to_string(),
            port: 25,
            tls: TlsMode::Opportunistic,
            tls_on_connect: false,
            tls_roots: Arc::new(webpki_roots_store()),
            tls_verify: false,
            helo: None,
            from: None,
            to: None,
            source: None,
            all_addresses: false,
            delay: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(10),
            reply_timeout: Duration::from_secs(30),
            max_time: Duration::from_secs(180),
            max_reconnects: 5,
            auth: None,
            allow_plaintext_auth: false,
            stop_on_first_open: false,
            token: None,
        }
    }
}

/// The Mozilla roots (webpki-roots).
pub fn webpki_roots_store() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// Trust anchors from a PEM file (`--tls-ca`).
pub fn roots_from_pem(path: &std::path::Path) -> Result<rustls::RootCertStore, String> {
    use rustls::pki_types::pem::PemObject;
    let mut store = rustls::RootCertStore::empty();
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    for c in certs {
        let c = c.map_err(|e| format!("{}: {e}", path.display()))?;
        store
            .add(c)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if store.is_empty() {
        return Err(format!("{}: no certificate in the file", path.display()));
    }
    Ok(store)
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetOut {
    /// The host as given.
    pub host: String,
    /// The address probed.
    pub address: String,
    pub port: u16,
    pub tls: TlsMode,
    pub tls_on_connect: bool,
    /// The probe's own address on the first connection (what the server saw, unless NAT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuthOut {
    pub user: String,
    pub mechanism: String,
    /// The server's reply to the credentials.
    pub reply: String,
    pub ok: bool,
}

/// One form as tested.
#[derive(Debug, Clone, Serialize)]
pub struct FormResult {
    pub n: u8,
    pub kind: &'static str,
    pub mail_from: String,
    pub rcpt_to: String,
    pub destination: Destination,
    /// Tested after AUTH (the authenticated pass).
    pub authenticated: bool,
    /// The reply lines to MAIL FROM (empty: not sent).
    pub mail: Vec<String>,
    /// The reply lines to RCPT TO (empty: not sent).
    pub rcpt: Vec<String>,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl FormResult {
    pub fn plain(&self) -> bool {
        self.n <= 4
    }
}

/// One probe of one address.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeRun {
    pub target: TargetOut,
    /// In the EHLO name and in every MAIL FROM but the null sender: grep the server's logs
    /// for it.
    pub token: String,
    pub ehlo_name: String,
    pub started: String,
    pub duration_ms: u64,
    pub banner: Vec<String>,
    pub ehlo: Vec<String>,
    /// The capabilities again after STARTTLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ehlo_tls: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthOut>,
    pub server: recognise::Recognition,
    pub forms: Vec<FormResult>,
    /// The overall verdict: `open`, `auth-required`, `refused`, `accepted-as-local`,
    /// `inconclusive`.
    pub verdict: Verdict,
    pub summary: String,
    /// Did any RCPT TO get an answer?
    pub reached_rcpt: bool,
    pub connections: u32,
    pub notes: Vec<String>,
    /// With `--export`: what the export says for the same conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<crosscheck::CrossCheck>,
    pub transcript: Transcript,
}

impl ProbeRun {
    /// Did the probe decide anything? (Exit 2 when not.)
    pub fn decided(&self) -> bool {
        self.verdict != Verdict::Inconclusive
    }
}

/// The run token: short, unique enough to grep for, from the clock and the process id.
pub fn make_token() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let x = (d.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32);
    // A 40-bit token in base 36 (8 characters).
    let mut n = (x ^ (x >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 24;
    let mut s = String::new();
    for _ in 0..8 {
        let c = (n % 36) as u8;
        s.push(if c < 10 { b'0' + c } else { b'a' + c - 10 } as char);
        n /= 36;
    }
    s
}

/// The warning every probe prints: the vantage decides what the server trusts.
pub const VANTAGE_WARNING: &str = "a probe sees what the server trusts from where it runs: from inside the network (the same host, a LAN, a VPN) a server that trusts internal addresses can relay for the probe and still be closed to the Internet, and a device in front (firewall, load balancer, filtering gateway) can answer for it; probe from outside for the Internet's view";

/// Probes every address `opts.host` resolves to (the first only, unless `all_addresses`).
/// `announce` is told each address before the probe connects to it.
pub fn run(opts: &Options, announce: &mut dyn FnMut(&str)) -> Result<Vec<ProbeRun>, String> {
    if opts.tls_on_connect && opts.tls == TlsMode::No {
        return Err("--tls-on-connect and --tls no contradict each other".into());
    }
    let rcpt = opts.to.as_deref().unwrap_or("relaytest@example.net");
    if forms::bare_mailbox(rcpt).is_none() {
        return Err(format!(
            "--to `{rcpt}`: only a bare mailbox (local@domain) is accepted"
        ));
    }
    if let Some(f) = &opts.from {
        if forms::bare_mailbox(f).is_none() {
            return Err(format!(
                "--from `{f}`: only a bare mailbox (local@domain) is accepted"
            ));
        }
    }
    if let Some(h) = &opts.helo {
        if h.is_empty() || h.len() > 255 || !h.chars().all(|c| c.is_ascii_graphic()) {
            return Err(format!("--helo `{h}`: not a host name"));
        }
    }
    let addrs = target::resolve(&opts.host, opts.port, opts.all_addresses)?;
    let token = opts.token.clone().unwrap_or_else(make_token);
    let mut out = Vec::new();
    let started = Instant::now();
    for addr in addrs {
        announce(&format!(
            "probing {} ({}) port {}; run token {token} (in the EHLO name and MAIL FROM)",
            opts.host,
            addr.ip(),
            addr.port()
        ));
        let left = opts.max_time.saturating_sub(started.elapsed());
        out.push(probe_one(
            opts,
            addr,
            &token,
            started + left.max(Duration::ZERO),
        ));
    }
    Ok(out)
}

/// Per-connection state.
struct Conn<'l> {
    session: Option<Session<'l>>,
    /// A transaction is open: RSET before the next test.
    dirty: bool,
    authed: bool,
}

struct Prober<'a, 'l> {
    opts: &'a Options,
    link: &'l Link<'l>,
    t: Transcript,
    ehlo_name: String,
    banner: Vec<String>,
    ehlo: Vec<String>,
    ehlo_tls: Option<Vec<String>>,
    tls: Option<TlsInfo>,
    tls_failed: bool,
    auth: Option<AuthOut>,
    connections: u32,
    local: Option<SocketAddr>,
    replies: Vec<(&'static str, Vec<String>)>,
    notes: Vec<String>,
    /// A fatal condition: no further connection is tried.
    stop: Option<String>,
    /// A connection opened before the forms were built (to read the banner's host name).
    pending: Option<Conn<'l>>,
}

const MAX_REPLIES_KEPT: usize = 64;

impl<'a, 'l> Prober<'a, 'l> {
    fn keep(&mut self, verb: &'static str, r: &Reply) {
        if self.replies.len() < MAX_REPLIES_KEPT {
            self.replies.push((verb, r.lines.clone()));
        }
    }

    /// Opens a connection: banner, EHLO (HELO if refused), STARTTLS as asked, AUTH when
    /// `authenticate`.
    fn open(&mut self, authenticate: bool) -> Result<Conn<'l>, Lost> {
        self.connections += 1;
        self.t.conn = self.connections;
        let mut s = Session::connect(self.link, self.opts.tls_on_connect, &mut self.t)?;
        if self.local.is_none() {
            self.local = s.local;
        }
        if s.tls.is_some() {
            self.tls = s.tls.clone();
        }
        let banner = s.read_reply(&mut self.t)?;
        if self.banner.is_empty() {
            self.banner = banner.lines.clone();
        }
        if banner.class() != 2 {
            let why = format!(
                "the server refused the session at the banner: {}",
                banner.one_line()
            );
            self.t.note(&why);
            let _ = s.send(&Command::Quit, &mut self.t);
            self.stop = Some(why.clone());
            return Err(Lost::Io(why));
        }
        let mut ehlo = s.send(&Command::Ehlo(&self.ehlo_name), &mut self.t)?;
        if ehlo.class() == 5 {
            self.t.note("EHLO refused; trying HELO (no extensions)");
            ehlo = s.send(&Command::Helo(&self.ehlo_name), &mut self.t)?;
        }
        if ehlo.class() != 2 {
            let why = format!("the server refused EHLO and HELO: {}", ehlo.one_line());
            self.stop = Some(why.clone());
            return Err(Lost::Io(why));
        }
        if self.ehlo.is_empty() {
            self.ehlo = ehlo.lines.clone();
        }
        let offers = |r: &Reply, kw: &str| {
            r.lines.iter().skip(1).any(|l| {
                l.get(4..)
                    .and_then(|x| x.split_whitespace().next())
                    .is_some_and(|w| w.eq_ignore_ascii_case(kw))
            })
        };
        if s.tls.is_none() && self.opts.tls != TlsMode::No && !self.tls_failed {
            if offers(&ehlo, "STARTTLS") {
                let r = s.send(&Command::StartTls, &mut self.t)?;
                if r.code == 220 {
                    match s.start_tls(&mut self.t) {
                        Ok(()) => {
                            self.tls = s.tls.clone();
                            ehlo = s.send(&Command::Ehlo(&self.ehlo_name), &mut self.t)?;
                            if self.ehlo_tls.is_none() {
                                self.ehlo_tls = Some(ehlo.lines.clone());
                            }
                        }
                        Err(e) => {
                            if self.opts.tls == TlsMode::Require {
                                self.stop =
                                    Some(format!("STARTTLS failed ({e}) and --tls require is set"));
                                return Err(e);
                            }
                            self.tls_failed = true;
                            self.notes.push(format!(
                                "STARTTLS failed ({e}); the tests ran in clear text"
                            ));
                            return Err(e);
                        }
                    }
                } else if self.opts.tls == TlsMode::Require {
                    let why = format!(
                        "STARTTLS refused ({}) and --tls require is set",
                        r.one_line()
                    );
                    self.stop = Some(why.clone());
                    return Err(Lost::Io(why));
                }
            } else if self.opts.tls == TlsMode::Require {
                let why = "the server does not offer STARTTLS and --tls require is set".to_string();
                self.t.note(&why);
                self.stop = Some(why.clone());
                return Err(Lost::Io(why));
            }
        }
        let mut conn = Conn {
            session: Some(s),
            dirty: false,
            authed: false,
        };
        if authenticate {
            self.authenticate(&mut conn, &ehlo)?;
        }
        Ok(conn)
    }

    fn authenticate(&mut self, conn: &mut Conn<'l>, ehlo: &Reply) -> Result<(), Lost> {
        let Some(creds) = self.opts.auth.clone() else {
            return Ok(());
        };
        let s = conn.session.as_mut().ok_or(Lost::Closed)?;
        if s.tls.is_none() && !self.opts.allow_plaintext_auth {
            let why = "AUTH was asked for but the session is not encrypted (STARTTLS not offered or failed); --allow-plaintext-auth allows it".to_string();
            self.stop = Some(why.clone());
            self.t.note(&why);
            return Err(Lost::Io(why));
        }
        let mechs: Vec<String> = ehlo
            .lines
            .iter()
            .filter_map(|l| l.get(4..))
            .filter_map(|x| {
                let mut w = x.split([' ', '=']);
                w.next()
                    .filter(|k| k.eq_ignore_ascii_case("AUTH"))
                    .map(|_| w.map(|m| m.to_ascii_uppercase()).collect::<Vec<_>>())
            })
            .flatten()
            .collect();
        let (mechanism, reply) =
            if mechs.iter().any(|m| m == "PLAIN") {
                let initial = base64(format!("\0{}\0{}", creds.user, creds.password).as_bytes());
                (
                    "PLAIN",
                    s.send(&Command::AuthPlain { initial }, &mut self.t)?,
                )
            } else if mechs.iter().any(|m| m == "LOGIN") {
                let r = s.send(&Command::AuthLogin, &mut self.t)?;
                let r = if r.code == 334 {
                    s.send(
                        &Command::AuthSecret(base64(creds.user.as_bytes())),
                        &mut self.t,
                    )?
                } else {
                    r
                };
                let r = if r.code == 334 {
                    s.send(
                        &Command::AuthSecret(base64(creds.password.as_bytes())),
                        &mut self.t,
                    )?
                } else {
                    r
                };
                ("LOGIN", r)
            } else {
                let why =
                    format!(
                "AUTH was asked for but the server offers no PLAIN or LOGIN (it offers: {})",
                if mechs.is_empty() { "nothing".to_string() } else { mechs.join(" ") }
            );
                self.stop = Some(why.clone());
                self.t.note(&why);
                return Err(Lost::Io(why));
            };
        self.keep("AUTH", &reply);
        let ok = reply.class() == 2;
        self.auth = Some(AuthOut {
            user: creds.user.clone(),
            mechanism: mechanism.into(),
            reply: reply.one_line(),
            ok,
        });
        if !ok {
            let why = format!("authentication failed: {}", reply.one_line());
            self.stop = Some(why.clone());
            return Err(Lost::Io(why));
        }
        conn.authed = true;
        Ok(())
    }

    /// One form on an open connection. `Err` when the connection was lost before the form
    /// got its answer.
    fn try_form(
        &mut self,
        conn: &mut Conn<'l>,
        form: &Form,
    ) -> Result<(Reply, Option<Reply>), Lost> {
        let s = conn.session.as_mut().ok_or(Lost::Closed)?;
        if conn.dirty {
            let r = s.send(&Command::Rset, &mut self.t)?;
            if r.class() != 2 || !s.is_open() {
                s.abandon();
                return Err(Lost::Closed);
            }
            conn.dirty = false;
        }
        let mail = s.send(&Command::Mail(&form.mail_from), &mut self.t)?;
        conn.dirty = true;
        if mail.code == 421 {
            return Err(Lost::Closed);
        }
        self.keep("MAIL", &mail);
        if mail.class() != 2 {
            return Ok((mail, None));
        }
        let s = conn.session.as_mut().ok_or(Lost::Closed)?;
        let rcpt = s.send(&Command::Rcpt(&form.rcpt_to), &mut self.t)?;
        if rcpt.code == 421 {
            return Err(Lost::Closed);
        }
        self.keep("RCPT", &rcpt);
        Ok((mail, Some(rcpt)))
    }

    /// Runs `forms` on as few connections as the server allows.
    fn pass(
        &mut self,
        forms: &[Form],
        authenticate: bool,
        own: &mut Vec<String>,
        deadline: Instant,
        out: &mut Vec<FormResult>,
    ) {
        let mut conn: Option<Conn<'l>> = self.pending.take();
        // Senders the server refused: the forms that reuse them are not sent again.
        let mut refused_senders: Vec<(String, Reply, u8)> = Vec::new();
        for (i, form) in forms.iter().enumerate() {
            let mut result = FormResult {
                n: form.n,
                kind: form.kind,
                mail_from: form.mail_from.clone(),
                rcpt_to: form.rcpt_to.clone(),
                destination: form.destination,
                authenticated: authenticate,
                mail: Vec::new(),
                rcpt: Vec::new(),
                verdict: Verdict::Inconclusive,
                note: None,
            };
            if let Some((_, r, n)) = refused_senders
                .iter()
                .find(|(s, _, _)| *s == form.mail_from)
            {
                result.mail = r.lines.clone();
                result.verdict = verdict::classify(form, r, None, own);
                result.note = Some(format!(
                    "not sent: the server refused this sender on form {n}"
                ));
                out.push(result);
                continue;
            }
            if let Some(why) = &self.stop {
                result.note = Some(format!("not tested: {why}"));
                out.push(result);
                continue;
            }
            if Instant::now() >= deadline {
                result.note =
                    Some("not tested: the total time budget (--max-time) is spent".into());
                out.push(result);
                continue;
            }
            if i > 0 && !self.opts.delay.is_zero() {
                let left = deadline.saturating_duration_since(Instant::now());
                std::thread::sleep(self.opts.delay.min(left));
            }
            let mut attempts = 0;
            loop {
                if conn
                    .as_ref()
                    .is_none_or(|c| c.session.as_ref().is_none_or(|s| !s.is_open()))
                {
                    conn = None;
                    if self.connections > self.opts.max_reconnects {
                        let why = format!(
                            "the reconnect budget ({}) is spent",
                            self.opts.max_reconnects
                        );
                        self.t.note(&why);
                        self.stop = Some(why.clone());
                        result.note = Some(format!("not tested: {why}"));
                        break;
                    }
                    if self.connections > 0 {
                        self.t.note("reconnecting");
                    }
                    match self.open(authenticate) {
                        Ok(c) => {
                            if let Some(srv) = self.banner_host() {
                                if !own.contains(&srv) {
                                    own.push(srv);
                                }
                            }
                            conn = Some(c);
                        }
                        Err(e) => {
                            if self.connections == 1 && self.stop.is_none() {
                                self.stop = Some(e.to_string());
                            }
                            if self.stop.is_some() || attempts > 0 {
                                result.note = Some(format!("not tested: {e}"));
                                break;
                            }
                            attempts += 1;
                            continue;
                        }
                    }
                }
                let c = conn.as_mut().expect("connection opened above");
                match self.try_form(c, form) {
                    Ok((mail, rcpt)) => {
                        result.verdict = verdict::classify(form, &mail, rcpt.as_ref(), own);
                        if rcpt.is_none() && mail.class() == 5 {
                            refused_senders.push((form.mail_from.clone(), mail.clone(), form.n));
                        }
                        result.mail = mail.lines;
                        result.rcpt = rcpt.map(|r| r.lines).unwrap_or_default();
                        break;
                    }
                    Err(e) => {
                        if let Some(s) = c.session.as_mut() {
                            s.abandon();
                        }
                        if attempts == 0 {
                            attempts += 1;
                            continue;
                        }
                        result.note = Some(format!("no answer: {e}"));
                        break;
                    }
                }
            }
            let open = result.verdict == Verdict::Open;
            out.push(result);
            if open && self.opts.stop_on_first_open {
                self.stop = Some("--stop-on-first-open: the server relayed".into());
            }
        }
        if let Some(mut c) = conn {
            if let Some(s) = c.session.as_mut() {
                if s.is_open() {
                    if let Ok(r) = s.send(&Command::Quit, &mut self.t) {
                        self.keep("QUIT", &r);
                    }
                }
            }
        }
    }

    fn banner_host(&self) -> Option<String> {
        banner_host(&self.banner)
    }
}

fn probe_one(opts: &Options, addr: SocketAddr, token: &str, deadline: Instant) -> ProbeRun {
    let started = transcript::now_utc();
    let clock = Instant::now();
    let link = Link {
        addr,
        source: opts.source,
        connect_timeout: opts.connect_timeout,
        reply_timeout: opts.reply_timeout,
        deadline,
        server_name: opts
            .host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']'),
        tls_roots: opts.tls_roots.clone(),
        tls_verify: opts.tls_verify,
    };
    let ehlo_name = opts
        .helo
        .clone()
        .unwrap_or_else(|| format!("probe-{token}.relay-audit.invalid"));
    let mut p = Prober {
        opts,
        link: &link,
        t: Transcript::new(),
        ehlo_name: ehlo_name.clone(),
        banner: Vec::new(),
        ehlo: Vec::new(),
        ehlo_tls: None,
        tls: None,
        tls_failed: false,
        auth: None,
        connections: 0,
        local: None,
        replies: Vec::new(),
        notes: Vec::new(),
        stop: None,
        pending: None,
    };
    p.t.note(format!(
        "relay-audit {} probe of {} ({}) port {}, run token {token}",
        env!("CARGO_PKG_VERSION"),
        opts.host,
        addr.ip(),
        addr.port()
    ));
    let rcpt = opts.to.as_deref().unwrap_or("relaytest@example.net");
    let (rcpt_local, domain) = forms::bare_mailbox(rcpt).unwrap_or(("relaytest", "example.net"));
    let sender_local = format!("relay-audit-{token}");
    let mut own = vec![forms::literal(addr.ip()).to_ascii_lowercase()];
    // The banner's host name is needed to build forms 3, 6, 11, 13 and 16: the first
    // connection opens before the forms are built.
    let mut results = Vec::new();
    let forms_for = |srv: &str| {
        forms::all(&forms::Parts {
            sender_local: &sender_local,
            sender_domain: domain,
            from: opts.from.as_deref(),
            rcpt_local,
            domain,
            srv,
            ip: addr.ip(),
        })
    };
    // Learn the banner first (the probe's own connection 1 serves form 1 onwards).
    let first = p.open(false);
    let srv = p.banner_host().unwrap_or_else(|| forms::literal(addr.ip()));
    if let Some(h) = p.banner_host() {
        own.push(h);
    }
    let all = forms_for(&srv);
    match first {
        Ok(c) => {
            // Hand the open connection to the first pass.
            p.pass_with(c, &all, &mut own, deadline, &mut results);
        }
        Err(e) => {
            // A failed opportunistic STARTTLS is retried in clear text by the pass; anything
            // else that failed the first connection stops the probe.
            if p.stop.is_none() && !p.tls_failed {
                p.stop = Some(e.to_string());
            }
            p.pass(&all, false, &mut own, deadline, &mut results);
        }
    }
    if opts.auth.is_some() && p.stop.is_none() {
        let plain: Vec<Form> = all.iter().filter(|f| f.plain()).cloned().collect();
        p.t.note("authenticated pass: the plain forms again after AUTH");
        p.pass(&plain, true, &mut own, deadline, &mut results);
    } else if opts.auth.is_some() {
        p.notes
            .push("the authenticated pass did not run: the anonymous pass stopped early".into());
    }
    let overall = overall_of(&results);
    let reached_rcpt = results.iter().any(|r| !r.rcpt.is_empty());
    if let Some(why) = &p.stop {
        p.notes.push(format!("the probe stopped early: {why}"));
    }
    let offers_auth = p.ehlo_tls.as_ref().unwrap_or(&p.ehlo).iter().any(|l| {
        l.get(4..)
            .is_some_and(|x| x.to_ascii_uppercase().starts_with("AUTH"))
    });
    if overall == Verdict::Refused && offers_auth && opts.auth.is_none() {
        p.notes.push(
            "the server offers AUTH: run with --auth-user to test relay after authentication"
                .into(),
        );
    }
    if let Some(l) = p.local {
        if target::inside(l.ip()) || target::inside(addr.ip()) {
            p.notes.push(format!(
                "the probe ran from {} to {}: {VANTAGE_WARNING}",
                l.ip(),
                addr.ip()
            ));
        }
    }
    p.t.finish();
    let replies: Vec<(&str, &[String])> =
        p.replies.iter().map(|(v, l)| (*v, l.as_slice())).collect();
    let server = recognise::recognise(&recognise::Seen {
        banner: &p.banner,
        ehlo: p.ehlo_tls.as_deref().unwrap_or(&p.ehlo),
        replies: &replies,
    });
    let summary = summarise(overall, &results, p.stop.as_deref());
    ProbeRun {
        target: TargetOut {
            host: opts.host.clone(),
            address: addr.ip().to_string(),
            port: addr.port(),
            tls: opts.tls,
            tls_on_connect: opts.tls_on_connect,
            from: p.local.map(|l| l.ip().to_string()),
        },
        token: token.to_string(),
        ehlo_name,
        started,
        duration_ms: clock.elapsed().as_millis() as u64,
        banner: p.banner,
        ehlo: p.ehlo,
        ehlo_tls: p.ehlo_tls,
        tls: p.tls,
        auth: p.auth,
        server,
        forms: results,
        verdict: overall,
        summary,
        reached_rcpt,
        connections: p.connections,
        notes: p.notes,
        export: None,
        transcript: p.t,
    }
}

impl<'a, 'l> Prober<'a, 'l> {
    /// [`Prober::pass`] on a connection already open.
    fn pass_with(
        &mut self,
        c: Conn<'l>,
        forms: &[Form],
        own: &mut Vec<String>,
        deadline: Instant,
        out: &mut Vec<FormResult>,
    ) {
        self.pending = Some(c);
        self.pass(forms, false, own, deadline, out);
    }
}

/// nmap's `srv`: the host name the banner gives (the first word after the code), lower-case;
/// `None` when that word is no dotted host name.
pub fn banner_host(banner: &[String]) -> Option<String> {
    let w = banner.first()?.get(4..)?.split_whitespace().next()?;
    (w.contains('.')
        && w.len() <= 253
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
    .then(|| w.to_ascii_lowercase())
}

/// The overall verdict of a run's forms: the anonymous pass, and the authenticated one.
pub fn overall_of(forms: &[FormResult]) -> Verdict {
    let pass = |authed: bool| -> Vec<(bool, Verdict)> {
        forms
            .iter()
            .filter(|r| r.authenticated == authed)
            .map(|r| (r.plain(), r.verdict))
            .collect()
    };
    verdict::overall(&pass(false), &pass(true))
}

/// One sentence for the overall verdict.
pub fn summarise(v: Verdict, forms: &[FormResult], stop: Option<&str>) -> String {
    let list = |f: &dyn Fn(&FormResult) -> bool| {
        forms
            .iter()
            .filter(|r| f(r))
            .map(|r| r.n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match v {
        Verdict::Open => format!(
            "OPEN RELAY: the server accepted a recipient in a foreign domain without authentication (forms {})",
            list(&|r| !r.authenticated && r.verdict == Verdict::Open)
        ),
        Verdict::AuthRequired => {
            if forms.iter().any(|r| r.authenticated && r.verdict == Verdict::Open) {
                "relay after authentication only: refused anonymously, accepted after AUTH".into()
            } else {
                "authentication required: the server answered 530 to an anonymous session".into()
            }
        }
        Verdict::Refused => format!(
            "refused: no anonymous relay (forms {} refused)",
            list(&|r| !r.authenticated && r.verdict == Verdict::Refused)
        ),
        Verdict::AcceptedAsLocal => "accepted as local only: no plain form was relayed; the server took the odd address forms as its own mailboxes (KB Q304897)".into(),
        Verdict::NotApplicable | Verdict::Inconclusive => match stop {
            Some(why) => format!("inconclusive: {why}"),
            None => "inconclusive: no test got a decisive answer".into(),
        },
    }
}

/// Standard base64 (AUTH needs nothing else).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                out.push(T[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn tokens_are_short_and_plain() {
        let t = make_token();
        assert_eq!(t.len(), 8);
        assert!(t
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }
}
