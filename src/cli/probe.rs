//! `relay-audit probe`: its command line (binary only; the probe itself is
//! `relay_audit::probe`).

use crate::{
    load_rules, parse_encoding, parse_fail_on, use_color, ColorChoice, FailOnArg, OutputFormat,
};
use clap::ValueEnum;
use relay_audit::input::decode::TextEncoding;
use relay_audit::scan::{self, ScanOptions};
use relay_audit::term::visible_line;
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum TlsArg {
    No,
    Opportunistic,
    Require,
}

#[derive(clap::Args)]
pub(crate) struct ProbeArgs {
    /// The one host to probe: a name or an IP address (never a range, a list or a wildcard).
    #[arg(value_name = "HOST")]
    host: Vec<String>,
    #[arg(long, default_value_t = 25)]
    port: u16,
    /// STARTTLS: no, opportunistic (when offered), require.
    #[arg(long, value_enum, default_value = "opportunistic")]
    tls: TlsArg,
    /// TLS from the first byte (port 465).
    #[arg(long)]
    tls_on_connect: bool,
    /// Trust these CA certificates (PEM) instead of the Mozilla roots.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Stop when the certificate does not verify (by default it is recorded and the test goes on).
    #[arg(long)]
    tls_verify: bool,
    /// The EHLO name (default: probe-<token>.relay-audit.invalid).
    #[arg(long, value_name = "NAME")]
    helo: Option<String>,
    /// The sender of the plain form, a bare mailbox (default: relay-audit-<token>@<recipient domain>).
    #[arg(long, value_name = "MAILBOX")]
    from: Option<String>,
    /// The recipient, a bare mailbox in a domain the server must not accept
    /// (default: relaytest@example.net).
    #[arg(long, value_name = "MAILBOX")]
    to: Option<String>,
    /// Connect from this local address (the server's view of the client).
    #[arg(long, value_name = "IP")]
    source_ip: Option<std::net::IpAddr>,
    /// Probe every address the name resolves to, one after the other (default: the first).
    #[arg(long)]
    all_addresses: bool,
    /// Pause between tests.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    delay: std::time::Duration,
    /// Time-out per reply (Exchange delays each 5xx by 5 s).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    timeout: std::time::Duration,
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    connect_timeout: std::time::Duration,
    /// Total time budget.
    #[arg(long, value_name = "DURATION", default_value = "180s", value_parser = parse_duration)]
    max_time: std::time::Duration,
    /// Connections after the first, when the server drops the session.
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_reconnects: u32,
    /// Stop testing once a form relays.
    #[arg(long)]
    stop_on_first_open: bool,
    /// Authenticate as USER for a second pass (the password comes from
    /// RELAY_AUDIT_AUTH_PASSWORD or --auth-password-file, never from the command line).
    #[arg(long, value_name = "USER")]
    auth_user: Option<String>,
    #[arg(long, value_name = "FILE")]
    auth_password_file: Option<PathBuf>,
    /// Allow AUTH without TLS.
    #[arg(long)]
    allow_plaintext_auth: bool,
    /// Compare with this export (files or folders): explain the same conversation offline.
    #[arg(long, value_name = "PATH")]
    export: Vec<PathBuf>,
    /// The export's server the probed host is (default: the only one, or the one HOST names).
    #[arg(long, value_name = "NAME")]
    server: Option<String>,
    /// The client address the server sees (NAT); default: the probe's own address.
    #[arg(long, value_name = "IP")]
    as_seen_from: Option<std::net::IpAddr>,
    /// The port the server listens on behind port forwarding (default: --port).
    #[arg(long, value_name = "PORT")]
    server_port: Option<u16>,
    /// Judge a saved JSON probe report again (with --export: compare it); nothing is sent.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: OutputFormat,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    #[arg(long, value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Exit 1 when a finding is at or above this severity (an open relay is critical).
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = parse_fail_on)]
    fail_on: FailOnArg,
    #[arg(long, value_name = "ENCODING", value_parser = parse_encoding)]
    encoding: Option<TextEncoding>,
    #[arg(long, default_value_t = 120)]
    width: u16,
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorChoice,
    /// Fixed run token (for tests and repeatable logs; default: a fresh one).
    #[arg(long, value_name = "TOKEN", hide = true)]
    token: Option<String>,
}

/// `1s`, `500ms`, `2m`, or a number of seconds.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("expected a duration such as 500ms, 1s or 2m, found `{s}`"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in `{s}`: use ms, s or m")),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// The AUTH password: from a file or the environment, never from the command line.
fn auth_password(file: Option<&std::path::Path>) -> Result<String, String> {
    if let Some(p) = file {
        let text = std::fs::read_to_string(p)
            .map_err(|e| format!("{}: cannot read the password file: {e}", p.display()))?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_string());
    }
    std::env::var("RELAY_AUDIT_AUTH_PASSWORD").map_err(|_| {
        "--auth-user needs a password in RELAY_AUDIT_AUTH_PASSWORD or --auth-password-file (never on the command line)".to_string()
    })
}

pub(crate) fn run_probe(args: ProbeArgs) -> Result<i32, String> {
    use relay_audit::probe;
    // Only the probe rules judge a probe (and only they appear in SARIF and JUnit).
    let mut set = load_rules(&args.rules)?;
    set.rules
        .retain(|r| r.object == relay_audit::input::record::ObjectKind::Probe);
    if args.host.len() > 1 {
        return Err(format!(
            "the probe tests exactly one host per run; got {} ({})",
            args.host.len(),
            args.host.join(", ")
        ));
    }
    let export = if args.export.is_empty() {
        None
    } else {
        let opts = ScanOptions {
            encoding: args.encoding,
            progress: None,
            site: None,
            one_organisation: true,
        };
        let loaded = scan::load(&args.export, &opts);
        for e in &loaded.errors {
            eprintln!("relay-audit: {e}");
        }
        let host = args.host.first().map(String::as_str).unwrap_or("");
        let server = probe::crosscheck::pick_server(&loaded.model, args.server.as_deref(), host)?;
        Some(scan::probe::Export {
            loaded,
            server,
            as_seen_from: args.as_seen_from,
            server_port: args.server_port,
        })
    };
    let runs = if let Some(saved) = &args.replay {
        if !args.host.is_empty() {
            return Err(
                "--replay judges a saved report again and probes nothing: give no HOST".into(),
            );
        }
        probe::record::load(saved)?
    } else {
        let Some(host) = args.host.first() else {
            return Err("give the one HOST to probe (or --replay FILE)".into());
        };
        let mut o = probe::Options::new(host);
        o.port = args.port;
        o.tls = match args.tls {
            TlsArg::No => probe::TlsMode::No,
            TlsArg::Opportunistic => probe::TlsMode::Opportunistic,
            TlsArg::Require => probe::TlsMode::Require,
        };
        o.tls_on_connect = args.tls_on_connect;
        if let Some(ca) = &args.tls_ca {
            o.tls_roots = std::sync::Arc::new(probe::roots_from_pem(ca)?);
        }
        o.tls_verify = args.tls_verify;
        o.helo = args.helo;
        o.from = args.from;
        o.to = args.to;
        o.source = args.source_ip;
        o.all_addresses = args.all_addresses;
        o.delay = args.delay;
        o.reply_timeout = args.timeout;
        o.connect_timeout = args.connect_timeout;
        o.max_time = args.max_time;
        o.max_reconnects = args.max_reconnects;
        o.stop_on_first_open = args.stop_on_first_open;
        o.allow_plaintext_auth = args.allow_plaintext_auth;
        o.token = args.token;
        if let Some(user) = args.auth_user {
            o.auth = Some(probe::Credentials {
                user,
                password: auth_password(args.auth_password_file.as_deref())?,
            });
        }
        eprintln!("relay-audit: note: {}", probe::VANTAGE_WARNING);
        probe::run(&o, &mut |line| {
            eprintln!("relay-audit: {}", visible_line(line))
        })?
    };
    let rep = scan::probe::probe_report(runs, export, &set);
    let color = use_color(args.color, args.output.is_some());
    crate::emit_with(args.output.as_deref(), args.format, |w| {
        crate::render_report(
            args.format,
            &rep,
            &set,
            args.fail_on.0,
            &Default::default(),
            args.width,
            color,
            w,
        )
    })?;
    Ok(scan::probe::exit_code(&rep, args.fail_on.0))
}
