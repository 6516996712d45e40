//! The `relay-audit` command line: clap arguments to a library call to an exit code.

use clap::{Parser, Subcommand, ValueEnum};
use relay_audit::input::decode::TextEncoding;
use relay_audit::rules::{Rule, RuleSet, Severity};
use relay_audit::scan::{self, FailOn, ScanOptions};
use relay_audit::term::{json_escaped, visible, visible_line};
use relay_audit::{report, review};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Command-line parts too big for this file (binary only).
mod cli {
    pub mod probe;
}
use cli::probe::{run_probe, ProbeArgs};

#[derive(Parser)]
#[command(
    name = "relay-audit",
    version,
    about = "Audit exported Microsoft Exchange configuration, offline, for SMTP relay pitfalls",
    long_about = "Audit exported Microsoft Exchange configuration, offline, for SMTP relay pitfalls.\n\n\
Reads Get-ReceiveConnector, Get-ADPermission, Get-AcceptedDomain and Get-ExchangeServer output \
(Export-Clixml or Format-List text, UTF-16 or UTF-8) and evaluates the rule set.\n\n\
Exit codes: 0 nothing at or above --fail-on; 1 findings at or above --fail-on; \
2 usage error or an input that could not be read."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Audit export files or folders (recursively).
    Scan(ScanArgs),
    /// Compare two exports of one organisation (change review): relay-relevant changes and
    /// the findings introduced or resolved. Exits 1 when the change introduces a finding at
    /// or above --fail-on.
    Diff(DiffArgs),
    /// Simulate one SMTP conversation offline (the telnet relay test): the transcript the
    /// server would give, which connector answered and why, the session's rights and where
    /// they come from, and the verdict (relay allowed / refused / not a relay).
    Explain(ExplainArgs),
    /// Pre-migration summary: servers, connectors (default, custom, modified), the relay
    /// matrix, the hosts that rely on relay, and the relay connectors as a PowerShell script
    /// for Exchange 2016/2019/SE.
    Inventory(InventoryArgs),
    /// Test one server live for open relay, safely: EHLO, then for each of nmap's 16 address
    /// forms RSET / MAIL FROM / RCPT TO with a recipient in a reserved domain, and QUIT. Never
    /// DATA, BDAT, VRFY or EXPN. With --export, compares the answer with what the export says.
    /// Exits 1 on an open relay (or a contradiction at or above --fail-on), 2 when the probe
    /// never got an answer that decides relay.
    Probe(Box<ProbeArgs>),
    /// List or explain the rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from the command-line definition: relay-audit(1),
    /// or a command's own page (`man scan` is relay-audit-scan(1), `man rules list`
    /// relay-audit-rules-list(1)), the pages the SEE ALSO sections name.
    Man {
        /// The command (and subcommand) whose page to print.
        command: Vec<String>,
    },
    /// Print the JSON Schema of the JSON report (`scan --format json`, `probe --format json`).
    Schema,
    /// Print an empty settings file for a legacy server (Exchange 4.0, 5.0, 5.5, 2000 or
    /// 2003): fill it in from what the console shows, then scan it like an export.
    SettingsTemplate {
        /// The Exchange version: 4.0, 5.0, 5.5, 2000 or 2003.
        #[arg(long, value_parser = ["4.0", "5.0", "5.5", "2000", "2003"])]
        version: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Table,
    Json,
    Sarif,
    Junit,
    Csv,
    Markdown,
    /// One self-contained HTML file for a client: no scripts, no network requests; prints to PDF.
    Html,
    /// GitHub Actions workflow commands: annotations on the export file and line.
    Github,
    /// GitLab code-quality report (JSON), for `artifacts: reports: codequality`.
    Gitlab,
    /// Azure Pipelines logging commands (`##vso[task.logissue …]`).
    Azure,
    /// One finding per line as JSON.
    JsonLines,
    /// One line per finding: `file:line: RULE severity message`.
    Concise,
}

#[derive(clap::Args)]
struct ScanArgs {
    /// Export files or folders.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format (default: table, or `format` in relay-audit.toml).
    #[arg(long, short = 'f', value_enum)]
    format: Option<OutputFormat>,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Add rule files (a .toml file or a folder of them); a rule with a built-in id replaces it.
    #[arg(long, value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Exit 1 when a finding is at or above this severity: critical, high, medium, low, info, never.
    /// (default: high, or `fail-on` in relay-audit.toml)
    #[arg(long, value_name = "SEVERITY", value_parser = parse_fail_on)]
    fail_on: Option<FailOnArg>,
    /// Read text inputs in this encoding instead of detecting it (utf-8, utf-16le, utf-16be, windows-1252).
    #[arg(long, value_name = "ENCODING", value_parser = parse_encoding)]
    encoding: Option<TextEncoding>,
    /// Table width in columns.
    #[arg(long, default_value_t = 120)]
    width: u16,
    /// Operator file of waived findings (TOML; never inside the audited folder).
    #[arg(long, value_name = "FILE")]
    waivers: Vec<PathBuf>,
    /// Only findings not in this baseline count toward --fail-on; the report shows new,
    /// unchanged and resolved findings.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write the findings of this scan as a baseline file.
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    /// Audit everything given as one organisation, even a folder of client folders (which is
    /// otherwise split: one audit per client folder) or exports whose DistinguishedNames name
    /// different organisations (otherwise exit 2).
    #[arg(long)]
    one_organisation: bool,
    /// No progress bar (it is drawn on standard error only when that is a terminal).
    #[arg(long, short)]
    quiet: bool,
    /// Colour in the table: auto (terminal only, not with NO_COLOR), always, never.
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorChoice,
    /// Operator site file (TOML: trusted relay hosts, NAT addresses); with SMTP logs, a host
    /// relaying that it does not list is a finding. Never inside the audited folder.
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    /// Read this config file instead of the relay-audit.toml found from here upward.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Ignore every relay-audit.toml.
    #[arg(long)]
    isolated: bool,
    /// Only these rules: ids or prefixes (`RC-`, `IMC-`), comma-separated; replaces `select`.
    #[arg(long, value_name = "RULES", value_delimiter = ',')]
    select: Vec<String>,
    /// Add rules to the selection (ids or prefixes).
    #[arg(long, value_name = "RULES", value_delimiter = ',')]
    extend_select: Vec<String>,
    /// Leave these rules out (ids or prefixes); a more specific select wins.
    #[arg(long, value_name = "RULES", value_delimiter = ',')]
    ignore: Vec<String>,
    /// Exit 0 even with findings at or above --fail-on (2 still means an unreadable input).
    #[arg(long)]
    exit_zero: bool,
    /// Print how many findings each rule raised instead of the report.
    #[arg(long)]
    statistics: bool,
    /// Title of the HTML and Markdown reports (other formats ignore it).
    #[arg(long, value_name = "TEXT")]
    title: Option<String>,
    /// Client name, shown as "Prepared for NAME" in the HTML and Markdown reports (other
    /// formats ignore it).
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
}

/// Colour only where a person reads it: standard output is a terminal, no `--output`,
/// and `NO_COLOR` is unset or empty (https://no-color.org).
fn use_color(choice: ColorChoice, to_file: bool) -> bool {
    use std::io::IsTerminal;
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            !to_file
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// A byte-count progress bar on standard error, only when it is a terminal.
fn progress_bar(
    paths: &[PathBuf],
    quiet: bool,
) -> (Option<scan::Progress>, Option<indicatif::ProgressBar>) {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return (None, None);
    }
    let (_, total) = scan::inventory(paths);
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} reading exports {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    ) {
        bar.set_style(style);
    }
    let b = bar.clone();
    (
        Some(scan::Progress(std::sync::Arc::new(move |n| b.inc(n)))),
        Some(bar),
    )
}

#[derive(Clone, Copy, ValueEnum)]
enum DiffFormat {
    Table,
    Json,
    Markdown,
    /// The introduced findings as SARIF (for code-scanning uploads).
    Sarif,
    /// The introduced findings as JUnit test failures.
    Junit,
    /// The introduced findings as CSV rows.
    Csv,
    /// The introduced findings as the HTML report.
    Html,
    /// The introduced findings as GitHub Actions annotations.
    Github,
    /// The introduced findings as a GitLab code-quality report.
    Gitlab,
    /// The introduced findings as Azure Pipelines issues.
    Azure,
    /// The introduced findings, one JSON object per line.
    JsonLines,
    /// The introduced findings, one line each.
    Concise,
}

#[derive(clap::Args)]
struct DiffArgs {
    /// The export before the change (file or folder).
    before: PathBuf,
    /// The export after the change (file or folder).
    after: PathBuf,
    #[arg(long, value_enum, default_value = "table")]
    format: DiffFormat,
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[arg(long, value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Exit 1 when the change introduces a finding at or above this severity (or never).
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = parse_fail_on)]
    fail_on: FailOnArg,
    #[arg(long, value_name = "ENCODING", value_parser = parse_encoding)]
    encoding: Option<TextEncoding>,
    /// Operator waivers (TOML): waived introduced findings do not fail the review.
    #[arg(long, value_name = "FILE")]
    waivers: Vec<PathBuf>,
    /// Title of the HTML and Markdown reports (other formats ignore it).
    #[arg(long, value_name = "TEXT")]
    title: Option<String>,
    /// Client name, shown as "Prepared for NAME" in the HTML and Markdown reports (other
    /// formats ignore it).
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum TextOrJson {
    Text,
    Json,
}

#[derive(clap::Args)]
struct ExplainArgs {
    /// Export files or folders.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The Exchange server the client connects to, as named in the export (e.g. EX01).
    #[arg(long)]
    server: String,
    /// The client's IP address (run the test "from outside": a public address).
    #[arg(long, value_name = "IP")]
    from: std::net::IpAddr,
    /// The TCP port the client connects to.
    #[arg(long, default_value_t = 25)]
    port: u16,
    /// The server address the client connects to (default: an address no connector binds
    /// specifically, i.e. the 0.0.0.0 / [::] bindings).
    #[arg(long, value_name = "IP")]
    local: Option<std::net::IpAddr>,
    /// How the client authenticates.
    #[arg(long, value_enum, default_value = "none")]
    auth: relay_audit::explain::Auth,
    /// The MAIL FROM address.
    #[arg(long, value_name = "ADDRESS")]
    mail_from: String,
    /// The RCPT TO address.
    #[arg(long, value_name = "ADDRESS")]
    rcpt: String,
    /// The EHLO name (default: the sender's domain).
    #[arg(long, value_name = "NAME")]
    helo: Option<String>,
    /// Operator site file (TOML: trusted relay hosts, NAT / load-balancer addresses,
    /// Internet-facing servers); never inside the audited folder.
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: TextOrJson,
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[arg(long, value_name = "ENCODING", value_parser = parse_encoding)]
    encoding: Option<TextEncoding>,
}

#[derive(clap::Args)]
struct InventoryArgs {
    /// Export files or folders.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The server the migration script creates the connectors on (default: each
    /// connector's own server).
    #[arg(long, value_name = "NAME")]
    target_server: Option<String>,
    /// Operator site file (TOML); never inside the audited folder.
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: TextOrJson,
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[arg(long, value_name = "ENCODING", value_parser = parse_encoding)]
    encoding: Option<TextEncoding>,
}

/// Reads `--site`, refusing a file from inside the audited folders (it is the operator's
/// judgement, not the client's data).
fn load_site(
    path: Option<&std::path::Path>,
    roots: &[PathBuf],
) -> Result<Option<relay_audit::analysis::site::Site>, String> {
    let Some(p) = path else {
        return Ok(None);
    };
    if review::inside_any(p, roots) {
        return Err(format!(
            "{}: the site file is an operator file and must not come from inside the audited folder",
            p.display()
        ));
    }
    relay_audit::analysis::site::Site::load(p).map(Some)
}

#[derive(Clone, Copy)]
struct FailOnArg(FailOn);

fn parse_fail_on(s: &str) -> Result<FailOnArg, String> {
    if s.eq_ignore_ascii_case("never") {
        return Ok(FailOnArg(FailOn::Never));
    }
    Severity::parse(s)
        .map(|s| FailOnArg(FailOn::At(s)))
        .ok_or_else(|| format!("expected critical, high, medium, low, info or never, found `{s}`"))
}

fn parse_encoding(s: &str) -> Result<TextEncoding, String> {
    TextEncoding::from_label(s)
        .ok_or_else(|| format!("expected utf-8, utf-16le, utf-16be or windows-1252, found `{s}`"))
}

#[derive(Clone, Copy, ValueEnum)]
enum ListFormat {
    Table,
    Json,
    Markdown,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// One line per rule (or the whole set as JSON, or a Markdown table).
    List {
        /// Add rule files, as for `scan --rules`.
        #[arg(long, value_name = "PATH")]
        rules: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// A rule's whole story: what it finds, why it matters, an example, the fix.
    Show {
        /// The rule id, e.g. RC-ANON-RELAY-INTERNET.
        id: String,
        #[arg(long, value_name = "PATH")]
        rules: Vec<PathBuf>,
    },
}

fn load_rules(paths: &[PathBuf]) -> Result<RuleSet, String> {
    let mut set = RuleSet::builtin().map_err(|e| e.to_string())?;
    for p in paths {
        set.add_path(p).map_err(|e| e.to_string())?;
    }
    Ok(set)
}

fn show_rule(r: &Rule) -> String {
    let mut s = format!("# {}: {}\n\n", r.id, r.title);
    s.push_str(&format!(
        "Severity: {}  ·  Category: {}  ·  Object: {}  ·  Versions: {}\nDefined in: {}\n\n",
        r.severity,
        r.category,
        r.object.as_str(),
        r.versions.join(", "),
        r.source
    ));
    s.push_str(&format!("## What it does\n{}\n\n", r.what.trim()));
    s.push_str(&format!("## Why is this bad?\n{}\n\n", r.why.trim()));
    if let Some(e) = &r.example {
        s.push_str(&format!("## Example\n{}\n\n", e.trim()));
    }
    if let Some(k) = &r.known_problems {
        s.push_str(&format!("## Known problems\n{}\n\n", k.trim()));
    }
    // Placeholders read as stand-ins (`'<connector identity>'`), as in the SARIF help.
    s.push_str(&format!(
        "## Remediation\n{}\n\n",
        r.remediation_help().trim()
    ));
    if !r.references.is_empty() {
        s.push_str("## References\n");
        for u in &r.references {
            s.push_str(&format!("- {u}\n"));
        }
    }
    s
}

/// The rule table of the README (kept in sync by a test).
fn rules_markdown(rs: &[&Rule]) -> String {
    let mut s =
        String::from("| id | severity | category | object | title |\n|---|---|---|---|---|\n");
    for r in rs {
        s.push_str(&format!(
            "| [{}](rules/{}/{}.toml) | {} | {} | {} | {} |\n",
            r.id,
            r.object.as_str(),
            r.id,
            r.severity,
            r.category,
            r.object.as_str(),
            r.title.replace('|', "\\|")
        ));
    }
    s
}

fn run() -> Result<i32, String> {
    let cli = Cli::parse();
    match cli.command {
        Command::Rules { command } => match command {
            RulesCommand::List { rules, format } => {
                let set = load_rules(&rules)?;
                let mut rs: Vec<&Rule> = set.rules.iter().collect();
                rs.sort_by(|a, b| a.severity.cmp(&b.severity).then(a.id.cmp(&b.id)));
                match format {
                    ListFormat::Table => {
                        let w = rs.iter().map(|r| r.id.len()).max().unwrap_or(0);
                        let ow = rs
                            .iter()
                            .map(|r| r.object.as_str().len())
                            .max()
                            .unwrap_or(0);
                        let mut out = String::new();
                        for r in rs {
                            out.push_str(&format!(
                                "{:<w$}  {:<8}  {:<ow$}  {}\n",
                                r.id,
                                r.severity,
                                r.object.as_str(),
                                r.title
                            ));
                        }
                        emit(out.as_bytes(), None)?;
                    }
                    ListFormat::Json => {
                        let s = serde_json::to_string_pretty(&rs).map_err(|e| e.to_string())?;
                        emit(format!("{s}\n").as_bytes(), None)?;
                    }
                    ListFormat::Markdown => emit(rules_markdown(&rs).as_bytes(), None)?,
                }
                Ok(0)
            }
            RulesCommand::Show { id, rules } => {
                let set = load_rules(&rules)?;
                match set.get(&id) {
                    Some(r) => {
                        emit(show_rule(r).as_bytes(), None)?;
                        Ok(0)
                    }
                    None => Err(format!(
                        "no rule `{id}`; `relay-audit rules list` shows the ids"
                    )),
                }
            }
        },
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "relay-audit", &mut buf);
            if shell == clap_complete::Shell::Bash {
                // clap_complete names the subcommand branches after `relay__subcmd__audit`
                // but dispatches on `relay__audit` (the hyphen in the binary name): no
                // subcommand option would ever complete. One name for both.
                let text =
                    String::from_utf8_lossy(&buf).replace("relay__subcmd__audit", "relay__audit");
                buf = text.into_bytes();
            }
            emit(&buf, None)?;
            Ok(0)
        }
        Command::SettingsTemplate { version } => {
            match relay_audit::input::settings::template(&version) {
                Some(t) => {
                    emit(t.as_bytes(), None)?;
                    Ok(0)
                }
                None => Err(format!("no settings template for version {version}")),
            }
        }
        Command::Man { command } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            cmd.build();
            let mut name = cmd.get_name().to_string();
            for sub in &command {
                let found = cmd.find_subcommand(sub).cloned().ok_or_else(|| {
                    format!("man: no command `{}` under `{name}`", visible_line(sub))
                })?;
                name = format!("{name}-{}", found.get_name());
                cmd = found.name(name.clone());
            }
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(|e| e.to_string())?;
            emit(&buf, None)?;
            Ok(0)
        }
        Command::Schema => {
            emit(report::SCHEMA.as_bytes(), None)?;
            Ok(0)
        }
        Command::Probe(args) => run_probe(*args),
        Command::Explain(args) => {
            let site = load_site(args.site.as_deref(), &args.paths)?;
            let opts = ScanOptions {
                encoding: args.encoding,
                progress: None,
                site: None,
                one_organisation: true,
            };
            let loaded = scan::load(&args.paths, &opts);
            for e in &loaded.errors {
                eprintln!("relay-audit: {e}");
            }
            let req = relay_audit::explain::Request {
                server: args.server,
                client: args.from,
                port: args.port,
                local: args.local,
                auth: args.auth,
                mail_from: args.mail_from,
                rcpt: args.rcpt,
                helo: args.helo,
                today: None,
            };
            let e = relay_audit::explain::explain(&loaded.model, &req, site.as_ref())?;
            let text = match args.format {
                TextOrJson::Text => relay_audit::explain::write_text(&e),
                TextOrJson::Json => {
                    json_escaped(&relay_audit::explain::write_json(&e)).into_owned()
                }
            };
            emit(text.as_bytes(), args.output.as_deref())?;
            Ok(if loaded.errors.is_empty() { 0 } else { 2 })
        }
        Command::Inventory(args) => {
            let site = load_site(args.site.as_deref(), &args.paths)?;
            let opts = ScanOptions {
                encoding: args.encoding,
                progress: None,
                site: None,
                one_organisation: true,
            };
            let loaded = scan::load(&args.paths, &opts);
            for e in &loaded.errors {
                eprintln!("relay-audit: {e}");
            }
            let inv = relay_audit::inventory::inventory(
                &loaded.model,
                site.as_ref(),
                &relay_audit::inventory::Options {
                    target_server: args.target_server,
                },
            );
            let text = match args.format {
                TextOrJson::Text => relay_audit::inventory::write_text(&inv),
                TextOrJson::Json => {
                    json_escaped(&relay_audit::inventory::write_json(&inv)).into_owned()
                }
            };
            emit(text.as_bytes(), args.output.as_deref())?;
            Ok(if loaded.errors.is_empty() { 0 } else { 2 })
        }
        Command::Diff(args) => {
            let set = load_rules(&args.rules)?;
            let opts = ScanOptions {
                encoding: args.encoding,
                progress: None,
                site: None,
                one_organisation: true,
            };
            let roots = [args.before.clone(), args.after.clone()];
            for p in &args.waivers {
                if review::inside_any(p, &roots) {
                    return Err(format!(
                        "{}: waivers are operator files and must not come from inside the audited folder",
                        p.display()
                    ));
                }
            }
            let mut waivers = Vec::new();
            for p in &args.waivers {
                waivers.extend(review::load_waivers(p)?);
            }
            // The two exports are independent: read and judge them on two threads.
            let judge = |p: &PathBuf| {
                // (one reading thread each: the two exports are already read at once)
                let loaded = scan::load_on_one_thread(std::slice::from_ref(p), &opts);
                let findings = scan::audit(&loaded.model, &set);
                (loaded, findings)
            };
            let ((before, fb), (after, fa)) = std::thread::scope(|s| {
                let b = s.spawn(|| judge(&args.before));
                let a = judge(&args.after);
                (b.join().expect("reading the export before the change"), a)
            });
            let mut d = relay_audit::diff::diff(before, fb, after, fa, &set);
            let mut tmp = scan::report(
                scan::Loaded {
                    model: Default::default(),
                    inputs: vec![],
                    diagnostics: vec![],
                    errors: vec![],
                },
                std::mem::take(&mut d.introduced),
                &set,
            );
            review::apply_waivers(&mut tmp, &waivers, review::today());
            tmp.inputs = d.after.clone();
            tmp.model_counts = d.after_counts;
            let deliverable = report::html::Deliverable {
                title: args.title.clone(),
                client: args.client.clone(),
            };
            d.introduced = tmp.findings.clone();
            d.diagnostics.extend(
                tmp.diagnostics
                    .iter()
                    .filter(|x| x.level != relay_audit::diag::Level::Info)
                    .cloned(),
            );
            for e in &d.errors {
                eprintln!("relay-audit: {e}");
            }
            let mut buf: Vec<u8> = Vec::new();
            match args.format {
                DiffFormat::Json => serde_json::to_writer_pretty(&mut buf, &d)
                    .map_err(|e| e.to_string())
                    .map(|_| buf.push(b'\n'))?,
                DiffFormat::Table => {
                    relay_audit::diff::write_text(&d, args.fail_on.0, false, &mut buf)
                        .map_err(|e| e.to_string())?
                }
                DiffFormat::Markdown => {
                    relay_audit::diff::write_markdown(&d, args.fail_on.0, &deliverable, &mut buf)
                        .map_err(|e| e.to_string())?
                }
                DiffFormat::Html => relay_audit::diff::write_html(
                    &d,
                    &tmp,
                    &set,
                    args.fail_on.0,
                    &deliverable,
                    &mut buf,
                )
                .map_err(|e| e.to_string())?,
                other => {
                    let format = match other {
                        DiffFormat::Sarif => OutputFormat::Sarif,
                        DiffFormat::Junit => OutputFormat::Junit,
                        DiffFormat::Csv => OutputFormat::Csv,
                        DiffFormat::Html => OutputFormat::Html,
                        DiffFormat::Github => OutputFormat::Github,
                        DiffFormat::Gitlab => OutputFormat::Gitlab,
                        DiffFormat::Azure => OutputFormat::Azure,
                        DiffFormat::JsonLines => OutputFormat::JsonLines,
                        _ => OutputFormat::Concise,
                    };
                    render_report(
                        format,
                        &tmp,
                        &set,
                        args.fail_on.0,
                        &deliverable,
                        120,
                        false,
                        &mut buf,
                    )
                    .map_err(|e| e.to_string())?;
                    if format == OutputFormat::Sarif
                        || format == OutputFormat::Gitlab
                        || format == OutputFormat::JsonLines
                    {
                        buf = json_bytes(buf);
                    }
                }
            }
            if matches!(args.format, DiffFormat::Json) {
                buf = json_bytes(buf);
            }
            emit(&buf, args.output.as_deref())?;
            Ok(d.exit_code(args.fail_on.0))
        }
        Command::Scan(mut args) => {
            // relay-audit.toml gives what the command line does not.
            let cfg = relay_audit::config::for_command(
                args.config.as_deref(),
                args.isolated,
                &args.paths,
            )?;
            let mut rule_paths = cfg.rules.clone();
            rule_paths.extend(args.rules.iter().cloned());
            let mut set = load_rules(&rule_paths)?;
            relay_audit::config::Selection {
                select: if args.select.is_empty() {
                    cfg.select.clone()
                } else {
                    Some(args.select.clone())
                },
                extend_select: [cfg.extend_select.clone(), args.extend_select.clone()].concat(),
                ignore: [cfg.ignore.clone(), args.ignore.clone()].concat(),
            }
            .apply(&mut set)?;
            let format = match (args.format, &cfg.format) {
                (Some(f), _) => f,
                (None, Some(f)) => OutputFormat::from_str(f, true)
                    .map_err(|e| format!("relay-audit.toml: format `{f}`: {e}"))?,
                (None, None) => OutputFormat::Table,
            };
            let fail_on = match (args.fail_on, &cfg.fail_on) {
                (Some(f), _) => f.0,
                (None, Some(f)) => {
                    parse_fail_on(f)
                        .map_err(|e| format!("relay-audit.toml: fail-on: {e}"))?
                        .0
                }
                (None, None) => FailOn::At(Severity::High),
            };
            if args.output.is_none() {
                args.output = cfg.output.clone();
            }
            if args.site.is_none() {
                args.site = cfg.site.clone();
            }
            args.waivers.splice(0..0, cfg.waivers.iter().cloned());
            for p in &args.paths {
                if !p.exists() && p.as_os_str() != "-" {
                    eprintln!(
                        "relay-audit: {}: no such file or folder",
                        visible_line(&p.display().to_string())
                    );
                }
            }
            let (progress, bar) = progress_bar(&args.paths, args.quiet);
            let site = load_site(args.site.as_deref(), &args.paths)?;
            let opts = ScanOptions {
                encoding: args.encoding,
                progress,
                site: site.map(std::sync::Arc::new),
                one_organisation: args.one_organisation,
            };
            // Operator files must not come from the client's export.
            for p in args.waivers.iter().chain(args.baseline.iter()) {
                if review::inside_any(p, &args.paths) {
                    return Err(format!(
                        "{}: waivers and baselines are operator files and must not come from inside the audited folder",
                        p.display()
                    ));
                }
            }
            let mut waivers = Vec::new();
            for p in &args.waivers {
                waivers.extend(review::load_waivers(p)?);
            }
            let baseline = match &args.baseline {
                Some(p) => Some(review::load_baseline(p)?),
                None => None,
            };
            let mut rep = scan::scan(&args.paths, &set, &opts);
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            review::apply_waivers(&mut rep, &waivers, review::today());
            if let Some(b) = &baseline {
                review::apply_baseline(&mut rep, b);
            }
            if let Some(p) = &args.write_baseline {
                let text = serde_json::to_string_pretty(&review::baseline_of(&rep))
                    .map_err(|e| e.to_string())?;
                std::fs::write(p, text + "\n")
                    .map_err(|e| format!("{}: cannot write: {e}", p.display()))?;
            }
            for e in &rep.errors {
                eprintln!("relay-audit: {e}");
            }
            let code = match rep.exit_code(fail_on) {
                1 if args.exit_zero => 0,
                c => c,
            };
            if args.statistics {
                emit(statistics(&rep).as_bytes(), args.output.as_deref())?;
                return Ok(code);
            }
            let deliverable = report::html::Deliverable {
                title: args.title.clone().or_else(|| cfg.title.clone()),
                client: args.client.clone().or_else(|| cfg.client.clone()),
            };
            let (width, color) = (args.width, use_color(args.color, args.output.is_some()));
            emit_with(args.output.as_deref(), format, |w| {
                render_report(format, &rep, &set, fail_on, &deliverable, width, color, w)
            })?;
            Ok(code)
        }
    }
}

/// A scan's or a probe's report in `format`: the one place a format value meets its writer.
#[allow(clippy::too_many_arguments)]
fn render_report(
    format: OutputFormat,
    rep: &scan::Report,
    set: &RuleSet,
    fail_on: FailOn,
    deliverable: &report::html::Deliverable,
    width: u16,
    color: bool,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        OutputFormat::Json => report::json::write(rep, w),
        OutputFormat::Table => report::table::write(rep, w, width, color),
        OutputFormat::Sarif => report::sarif::write(rep, set, fail_on, w),
        OutputFormat::Junit => report::junit::write(rep, set, fail_on, w),
        OutputFormat::Csv => report::csv::write(rep, set, fail_on, w),
        // The deliverable formats take the title and client name.
        OutputFormat::Markdown => report::markdown::write_with(rep, set, fail_on, deliverable, w),
        OutputFormat::Html => report::html::write_with(rep, set, fail_on, deliverable, w),
        OutputFormat::Github => report::github::write(rep, set, fail_on, w),
        OutputFormat::Gitlab => report::gitlab::write(rep, set, fail_on, w),
        OutputFormat::Azure => report::azure::write(rep, set, fail_on, w),
        OutputFormat::JsonLines => report::json_lines::write(rep, set, fail_on, w),
        OutputFormat::Concise => report::concise::write(rep, set, fail_on, w),
    }
}

/// Streams a report to `--output` or standard output, through a buffer, and for the JSON
/// formats through [`JsonEscaper`] (hidden characters as `\uXXXX`): the report is never held
/// whole in memory. A closed pipe (`| head`) ends it quietly.
fn emit_with(
    output: Option<&std::path::Path>,
    format: OutputFormat,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    let json = matches!(
        format,
        OutputFormat::Json | OutputFormat::Sarif | OutputFormat::Gitlab | OutputFormat::JsonLines
    );
    let sink: Box<dyn Write> = match output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| format!("{}: cannot write: {e}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, sink);
    let result = if json {
        let mut esc = relay_audit::term::JsonEscaper::new(&mut buffered);
        write(&mut esc).and_then(|_| esc.flush())
    } else {
        write(&mut buffered)
    }
    .and_then(|_| buffered.flush());
    match result {
        Ok(()) => Ok(()),
        Err(e) if output.is_none() && e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(match output {
            Some(path) => format!("{}: cannot write: {e}", path.display()),
            None => format!("standard output: {e}"),
        }),
    }
}

/// `--statistics`: findings per rule, most first (`count  RULE  severity  title`).
fn statistics(rep: &scan::Report) -> String {
    let mut by: std::collections::BTreeMap<&str, (usize, Severity, &str)> = Default::default();
    for f in &rep.findings {
        by.entry(f.rule.as_str())
            .or_insert((0, f.severity, f.title.as_str()))
            .0 += 1;
    }
    let mut rows: Vec<(&str, usize, Severity, &str)> =
        by.into_iter().map(|(r, (n, s, t))| (r, n, s, t)).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let cw = rows
        .iter()
        .map(|r| r.1.to_string().len())
        .max()
        .unwrap_or(1);
    rows.iter()
        .map(|(r, n, s, t)| {
            format!(
                "{n:>cw$}  {r:<w$}  {:<8}  {}\n",
                s.as_str(),
                visible_line(t)
            )
        })
        .collect()
}

/// A JSON report with the characters serde_json leaves raw (DEL, C1 and bidi controls)
/// written as `\uXXXX` escapes ([`json_escaped`]): the same JSON, inert on a terminal.
fn json_bytes(buf: Vec<u8>) -> Vec<u8> {
    match String::from_utf8(buf) {
        Ok(s) => json_escaped(&s).into_owned().into_bytes(),
        Err(e) => e.into_bytes(),
    }
}

/// Writes a report to `--output` or standard output.
fn emit(buf: &[u8], output: Option<&std::path::Path>) -> Result<(), String> {
    match output {
        Some(path) => {
            std::fs::write(path, buf).map_err(|e| format!("{}: cannot write: {e}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            let _ = out.write_all(buf).and_then(|_| out.flush());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(code as u8),
        Err(msg) => {
            eprintln!("relay-audit: {}", visible(&msg));
            ExitCode::from(2)
        }
    }
}
