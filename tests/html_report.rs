//! The HTML report (`relay_audit::report::html`) over `fixtures/hostile-names`, whose object
//! names are markup and a spreadsheet formula:
//!
//! - always: every export string is escaped, the only tags and attributes are the writer's
//!   own, nothing is loaded from anywhere, and every finding, waiver and baseline state shows;
//! - in headless Chromium (`/usr/bin/chromium`, installed by `.ci/run`): the page renders
//!   (screenshot, DOM, PDF) without a single console message. Without Chromium the test
//!   fails, unless `RELAY_AUDIT_SKIP_BROWSER=1` (then it says loudly that it skipped).
//!   `RELAY_AUDIT_CHROMIUM=PATH` uses another Chromium; `RELAY_AUDIT_SCREENSHOT=FILE` keeps a
//!   copy of the screenshot.

use relay_audit::diag::Diagnostic;
use relay_audit::input::record::ObjectKind;
use relay_audit::rules::{BaselineState, ObjectRef, RuleSet, Severity};
use relay_audit::scan::{scan, FailOn, Report, Resolved, ScanOptions, SkippedItem};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT_ID: &str = "EX01\\<script>alert(1)</script>";
/// Debian's Chromium; `RELAY_AUDIT_CHROMIUM` names another binary.
const CHROMIUM: &str = "/usr/bin/chromium";

fn chromium_path() -> PathBuf {
    std::env::var_os("RELAY_AUDIT_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CHROMIUM))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scan_folder(rel: &str) -> (Report, RuleSet) {
    let rules = RuleSet::builtin().unwrap();
    let report = scan(&[root().join(rel)], &rules, &ScanOptions::default());
    assert!(report.errors.is_empty(), "{rel}: {:?}", report.errors);
    (report, rules)
}

fn html(report: &Report, rules: &RuleSet, fail_on: FailOn) -> String {
    let mut out = Vec::new();
    relay_audit::report::html::write(report, rules, fail_on, &mut out).unwrap();
    String::from_utf8(out).expect("the report is UTF-8")
}

/// The hostile scenario with every other export-derived field made hostile too: a waiver
/// (from an operator file) on the connector finding, a baseline state, a resolved finding, a
/// skipped item and an input problem.
fn hostile_report(dir: &Path) -> (Report, RuleSet) {
    let (mut report, rules) = scan_folder("fixtures/hostile-names/clixml");
    let fp = report
        .findings
        .iter()
        .find(|f| f.object.id == SCRIPT_ID)
        .expect("a finding on the <script> connector")
        .fingerprint
        .clone();
    let waivers = dir.join("waivers.toml");
    std::fs::write(
        &waivers,
        format!(
            "[[waiver]]\nfingerprint = \"{fp}\"\njustification = \"</dd><script>alert(3)</script>\"\nowner = '\"><img src=x onerror=alert(4)>'\nexpires = \"2099-12-31\"\n"
        ),
    )
    .unwrap();
    let w = relay_audit::review::load_waivers(&waivers).unwrap();
    relay_audit::review::apply_waivers(&mut report, &w, (2026, 1, 1));
    assert!(report.findings.iter().any(|f| f.waiver.is_some()));
    for f in report.findings.iter_mut().filter(|f| f.waiver.is_none()) {
        f.baseline = Some(BaselineState::New);
    }
    report.resolved.push(Resolved {
        rule: "RC-ANON-RELAY-BROAD".into(),
        severity: Severity::High,
        object: ObjectRef {
            kind: ObjectKind::ReceiveConnector,
            id: "EX02\\<iframe src=javascript:alert(5)>".into(),
            server: Some("EX02".into()),
        },
        fingerprint: "0123456789abcdef".into(),
    });
    report.inputs[0].skipped.push(SkippedItem {
        line: Some(7),
        count: 1,
        reason: "object of type <svg onload=alert(6)> is not one relay-audit reads".into(),
    });
    report.diagnostics.push(Diagnostic::warning(
        "exports/<b>bold</b>.xml",
        Some(3),
        "value '\"><script>alert(7)</script>' cut",
    ));
    (report, rules)
}

/// Tags of the document outside `<style>`: (name, [(attribute, value)]). Export text is
/// escaped, so every `<` in the file opens a tag the writer wrote.
fn tags(doc: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').expect("every tag is closed");
        let inner = &rest[..end];
        rest = &rest[end + 1..];
        if inner.starts_with('!') || inner.starts_with('/') {
            continue;
        }
        let name_end = inner
            .find(|c: char| c.is_whitespace())
            .unwrap_or(inner.len());
        let name = inner[..name_end].to_ascii_lowercase();
        let mut attrs = Vec::new();
        let mut a = inner[name_end..].trim_start();
        while !a.is_empty() {
            let eq = a.find('=').expect("attributes have values");
            let key = a[..eq].trim().to_ascii_lowercase();
            let v = &a[eq + 1..];
            assert!(v.starts_with('"'), "unquoted attribute {key} in <{inner}>");
            let close = v[1..].find('"').expect("closing quote") + 1;
            attrs.push((key, v[1..close].to_string()));
            a = v[close + 1..].trim_start();
        }
        if name == "style" {
            let close = rest.find("</style>").expect("style closes");
            rest = &rest[close..];
        }
        out.push((name, attrs));
    }
    out
}

fn style_of(doc: &str) -> &str {
    let start = doc.find("<style>").expect("inline style") + "<style>".len();
    let end = doc.find("</style>").unwrap();
    &doc[start..end]
}

#[test]
fn hostile_names_are_escaped_and_nothing_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (report, rules) = hostile_report(dir.path());
    let doc = html(&report, &rules, FailOn::At(Severity::High));
    let lower = doc.to_ascii_lowercase();

    // The markup from the export is text.
    for bad in ["<script", "<img", "<svg", "<iframe", "<b>"] {
        assert!(!lower.contains(bad), "raw {bad} in the report");
    }
    assert!(doc.contains("EX01\\&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(doc.contains("=HYPERLINK(&quot;http://evil.example&quot;,&quot;click&quot;)"));
    assert!(doc.contains("&lt;/dd&gt;&lt;script&gt;alert(3)&lt;/script&gt;"));
    assert!(doc.contains("&quot;&gt;&lt;img src=x onerror=alert(4)&gt;"));
    assert!(doc.contains("EX02\\&lt;iframe src=javascript:alert(5)&gt;"));
    assert!(doc.contains("&lt;svg onload=alert(6)&gt;"));
    assert!(doc.contains("exports/&lt;b&gt;bold&lt;/b&gt;.xml:3"));
    assert!(doc.contains("&#39;&quot;&gt;&lt;script&gt;alert(7)&lt;/script&gt;&#39;"));

    // Only the writer's own tags and attributes: no event handler, no src, no resource.
    let allowed_tags: BTreeSet<&str> = [
        "html", "head", "meta", "title", "style", "body", "header", "nav", "section", "article",
        "footer", "h1", "h2", "h3", "h4", "h5", "p", "div", "span", "strong", "code", "pre", "a",
        "ul", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tr", "th", "td",
    ]
    .into();
    let allowed_attrs: BTreeSet<&str> = [
        "lang",
        "charset",
        "http-equiv",
        "name",
        "content",
        "class",
        "id",
        "href",
        "rel",
        "colspan",
    ]
    .into();
    let all = tags(&doc);
    let ids: BTreeSet<&str> = all
        .iter()
        .flat_map(|(_, a)| a.iter())
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.as_str())
        .collect();
    let references: BTreeSet<&str> = rules
        .rules
        .iter()
        .flat_map(|r| r.references.iter())
        .map(String::as_str)
        .collect();
    let mut external_links = 0;
    for (name, attrs) in &all {
        assert!(allowed_tags.contains(name.as_str()), "unexpected <{name}>");
        for (k, v) in attrs {
            assert!(
                allowed_attrs.contains(k.as_str()),
                "unexpected attribute {k}=\"{v}\" on <{name}>"
            );
        }
        if let Some((_, href)) = attrs.iter().find(|(k, _)| k == "href") {
            assert_eq!(name, "a", "href on <{name}>");
            if let Some(anchor) = href.strip_prefix('#') {
                assert!(ids.contains(anchor), "link to a missing #{anchor}");
            } else {
                // Rule references: plain links the reader may follow, never loaded.
                assert!(
                    references.contains(href.as_str()),
                    "external link {href} is not a rule reference"
                );
                assert!(href.starts_with("https://"), "{href}");
                let rel = attrs
                    .iter()
                    .find(|(k, _)| k == "rel")
                    .map(|(_, v)| v.as_str());
                assert_eq!(rel, Some("noreferrer"), "{href}");
                external_links += 1;
            }
        }
    }
    assert!(external_links > 0, "rule references are linked");
    let style = style_of(&doc);
    for bad in ["url(", "@import", "@font-face", "alert(", "HYPERLINK"] {
        assert!(!style.contains(bad), "{bad} in the inline style");
    }
    assert_eq!(doc.matches("<style>").count(), 1);

    // The policy comes before anything it governs.
    let csp = doc
        .find("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;; img-src data:")
        .expect("CSP meta");
    assert!(csp < doc.find("<title>").unwrap() && csp < doc.find("<style>").unwrap());
}

#[test]
fn every_finding_waiver_and_baseline_state_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let (report, rules) = hostile_report(dir.path());
    let doc = html(&report, &rules, FailOn::At(Severity::High));
    assert_eq!(report.findings.len(), 2);
    for f in &report.findings {
        assert!(doc.contains(&f.fingerprint), "fingerprint of {}", f.rule);
        assert!(doc.contains(&f.rule), "{}", f.rule);
    }
    // Header.
    assert!(doc.contains("<title>Exchange SMTP relay audit</title>"));
    assert!(doc.contains(&format!("relay-audit {}", report.tool.version)));
    assert!(doc.contains(&report.rules_version));
    // Executive summary: one domain finding is open, the connector finding is waived.
    assert!(doc.contains("id=\"summary\""));
    assert!(doc.contains("<strong>Organisation</strong></a>: Relay accepted domain <code>*</code> accepts mail for every domain (critical)"));
    assert!(
        doc.contains("<strong>EX01</strong>: no open relay problem (1 finding accepted by waiver")
    );
    assert!(
        doc.contains("Action needed"),
        "the open critical finding fails --fail-on high"
    );
    // Waived section with everything the waiver says.
    let waived = &doc[doc.find("<section id=\"waived\">").expect("waived section")..];
    let waived = &waived[..waived.find("</section>").unwrap()];
    assert!(waived.contains("RC-ANON-RELAY-INTERNET"));
    assert!(waived.contains("<dt>Expires</dt><dd>2099-12-31</dd>"));
    assert!(waived.contains("waivers.toml:1"));
    assert!(waived.contains("&lt;/dd&gt;&lt;script&gt;alert(3)"));
    // Baseline state and resolved findings.
    assert!(doc.contains("new since the baseline"));
    assert!(doc.contains("<section id=\"resolved\">"));
    assert!(doc.contains("0123456789abcdef"));
    // Inputs with parse coverage, input problems.
    assert!(doc.contains("fixtures/hostile-names/clixml/receive-connectors.xml"));
    assert!(doc.contains("<td>utf-16le</td>"));
    assert!(doc.contains("<span class=\"level-warning\">warning</span>"));
    // Remediation as a command, rationale from the rule, references.
    let pre = &doc[doc
        .find("<pre><code>Remove-ADPermission -Identity ")
        .expect("command")..];
    let pre = &pre[..pre.find("</code></pre>").unwrap()];
    assert!(
        pre.contains("EX01\\&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{pre}"
    );
    assert!(doc.contains("<h5>Why it matters</h5>"));
    // Footer.
    assert!(doc.contains("What this report cannot know"));
    assert!(doc.contains("Firewalls, NAT and load balancers"));
    // Deterministic.
    assert_eq!(doc, html(&report, &rules, FailOn::At(Severity::High)));
}

#[test]
fn clean_export_passes_in_plain_words() {
    let (report, rules) = scan_folder("fixtures/clean-2019/clixml");
    let doc = html(&report, &rules, FailOn::At(Severity::High));
    assert!(doc.contains("<strong>Passed</strong>"));
    assert!(doc.contains("All 2 exported servers</strong>: no relay problem found"));
    assert!(doc.contains("No open finding."));
    assert!(!doc.contains("id=\"waived\""));
    let never = html(&report, &rules, FailOn::Never);
    assert!(never.contains("--fail-on never"));
}

// ---- headless Chromium ----------------------------------------------------------------------

/// Flags for headless Chromium as root on a machine with a closed network.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
];

struct Run {
    stdout: String,
    stderr: String,
}

/// Runs Chromium on `page` with a fresh profile; stdout and stderr go to files (no pipe to
/// fill up), and a hung browser is killed after two minutes.
fn chromium(work: &Path, tag: &str, extra: &[String], page: &Path) -> Run {
    let profile = work.join(format!("profile-{tag}"));
    let out_path = work.join(format!("{tag}.stdout"));
    let err_path = work.join(format!("{tag}.stderr"));
    let mut child = Command::new(chromium_path())
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium {tag} did not finish in 120 s; stderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let run = Run {
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    };
    assert!(status.success(), "chromium {tag}: {status}\n{}", run.stderr);
    run
}

/// Lines of Chromium's log that come from the page: console messages (Chromium 156 logs every
/// level as `INFO:CONSOLE`), uncaught errors and Content-Security-Policy blocks.
fn page_messages(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Refused to")
                || l.contains("Content Security Policy")
        })
        .collect()
}

#[test]
fn report_renders_in_headless_chromium_without_console_messages() {
    let browser = chromium_path();
    if !browser.exists() {
        let b = browser.display();
        if std::env::var("RELAY_AUDIT_SKIP_BROWSER").as_deref() == Ok("1") {
            // Straight to stderr, past the test harness's capture: visible without --nocapture.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!(
                    "\n########################################################################\n\
                 SKIPPED: the HTML report was NOT checked in a browser: {b} is missing\n\
                 and RELAY_AUDIT_SKIP_BROWSER=1. Run .ci/run (it installs Debian's\n\
                 chromium package) or `apt-get install -y chromium` to check it.\n\
                 ########################################################################\n"
                )
                .as_bytes(),
            );
            return;
        }
        panic!(
            "{b} not found: the HTML report test needs headless Chromium. Run .ci/run \
             (it installs Debian's chromium package) or `apt-get install -y chromium`; \
             set RELAY_AUDIT_SKIP_BROWSER=1 to skip this test."
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();

    // The log must show what it is asked to catch: the control page's inline script and
    // remote image are blocked by the same policy, and both blocks must be logged.
    let control = root().join("tests/html/csp-control.html");
    let run = chromium(work, "control", &["--dump-dom".into()], &control);
    let blocked = page_messages(&run.stderr);
    assert!(
        blocked.iter().any(|l| l.contains("inline script"))
            && blocked.iter().any(|l| l.contains("192.0.2.1")),
        "Chromium did not log the control page's CSP blocks; the console check would be blind.\n{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("<title>CSP control</title>"),
        "the control page's script ran: {}",
        run.stdout
    );

    let (report, rules) = hostile_report(work);
    let page = work.join("report.html");
    std::fs::write(&page, html(&report, &rules, FailOn::At(Severity::High))).unwrap();

    // (b) The DOM Chromium built: the summary is there, the export's markup is text.
    let run = chromium(work, "dom", &["--dump-dom".into()], &page);
    assert!(run.stdout.contains("Executive summary"), "{}", run.stdout);
    assert!(run
        .stdout
        .contains("Relay accepted domain <code>*</code> accepts mail for every domain (critical)"));
    assert!(run
        .stdout
        .contains("EX01\\&lt;script&gt;alert(1)&lt;/script&gt;"));
    let dom = run.stdout.to_ascii_lowercase();
    for bad in ["<script", "<img", "<svg", "<iframe"] {
        assert!(!dom.contains(bad), "{bad} element in the DOM");
    }
    // (c) Not one console message, error or blocked load.
    assert_eq!(page_messages(&run.stderr), Vec::<&str>::new(), "dump-dom");

    // (a) A screenshot of the first 2000 pixels.
    let png = work.join("report.png");
    let run = chromium(
        work,
        "screenshot",
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".into(),
        ],
        &page,
    );
    assert_eq!(page_messages(&run.stderr), Vec::<&str>::new(), "screenshot");
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "screenshot only {} bytes",
        bytes.len()
    );
    if let Ok(keep) = std::env::var("RELAY_AUDIT_SCREENSHOT") {
        std::fs::copy(&png, &keep).unwrap();
        eprintln!("screenshot kept at {keep}");
    }

    // Printed to PDF, as a client would.
    let pdf = work.join("report.pdf");
    let run = chromium(
        work,
        "pdf",
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".into(),
        ],
        &page,
    );
    assert_eq!(page_messages(&run.stderr), Vec::<&str>::new(), "pdf");
    let bytes = std::fs::read(&pdf).expect("PDF written");
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    assert!(bytes.len() > 10_000, "PDF only {} bytes", bytes.len());
}

#[test]
fn unreadable_input_makes_the_verdict_incomplete() {
    let rules = RuleSet::builtin().unwrap();
    let missing = root().join("fixtures/hostile-names/no-such-file.xml");
    let report = scan(&[missing], &rules, &ScanOptions::default());
    assert_eq!(report.errors.len(), 1);
    let doc = html(&report, &rules, FailOn::At(Severity::High));
    assert!(doc.contains("<strong>Incomplete</strong>"));
    assert!(doc.contains("no relay problem found in the files that could be read"));
    assert!(doc.contains("no-such-file.xml"));
    assert!(doc.contains("<span class=\"level-error\">error</span>"));
}

/// A probe whose server answered with markup, terminal escapes and bidi controls (a hostile
/// server writes the banner): the probe's HTML section renders in Chromium as text, with the
/// live and offline conversations side by side, and not one console message.
#[test]
fn a_hostile_probe_renders_as_text_in_headless_chromium() {
    let browser = chromium_path();
    assert!(
        browser.exists() || std::env::var("RELAY_AUDIT_SKIP_BROWSER").as_deref() == Ok("1"),
        "{} not found: run .ci/run (it installs Debian's chromium package)",
        browser.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let saved = work.join("probe.json");
    std::fs::write(&saved, hostile_probe_json()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_relay-audit"))
        .args(["probe", "--replay"])
        .arg(&saved)
        .arg("--export")
        .arg(root().join("fixtures/clean-2019/format-list"))
        .args([
            "--server",
            "EX01",
            "--server-port",
            "25",
            "--format",
            "html",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page_text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !page_text.contains("<script>alert"),
        "raw markup in the page"
    );
    assert!(!page_text.contains('\u{1b}') && !page_text.contains('\u{202e}'));
    let page = work.join("probe.html");
    std::fs::write(&page, &page_text).unwrap();
    if !browser.exists() {
        return;
    }
    let run = chromium(work, "probe-dom", &["--dump-dom".into()], &page);
    let dom = run.stdout.to_ascii_lowercase();
    for bad in ["<script", "<img", "<svg", "<iframe"] {
        assert!(!dom.contains(bad), "{bad} element in the DOM");
    }
    assert!(run.stdout.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(run.stdout.contains("class=\"side-by-side\""));
    assert!(run
        .stdout
        .contains("CONTRADICTION (live-open-export-refused)"));
    assert_eq!(
        page_messages(&run.stderr),
        Vec::<&str>::new(),
        "probe dump-dom"
    );
}

fn hostile_probe_json() -> String {
    let banner = "220 mx.example.org <script>alert(1)</script> \u{1b}[2J\u{1b}]8;;https://evil.example/\u{7}click\u{1b}]8;;\u{7} \u{202e}gnp.exe";
    serde_json::json!({
        "probes": [{
            "target": {"host": "127.0.0.1", "address": "127.0.0.1", "port": 2525, "from": "127.0.0.1"},
            "token": "h0st1le",
            "ehlo_name": "probe-h0st1le.relay-audit.invalid",
            "banner": [banner],
            "ehlo": ["250-mx.example.org <img src=x onerror=alert(2)>", "250 PIPELINING"],
            "forms": [{
                "n": 2,
                "mail_from": "<relay-audit-h0st1le@example.net>",
                "rcpt_to": "<relaytest@example.net>",
                "mail": ["250 2.1.0 Ok <svg onload=alert(3)>"],
                "rcpt": ["250 2.1.5 Ok \u{1b}[31mred\u{1b}[0m | `code` [link](https://evil.example)"]
            }],
            "transcript": []
        }]
    })
    .to_string()
}
