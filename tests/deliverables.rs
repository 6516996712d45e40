//! Client deliverables: `--title` and `--client` on the HTML and Markdown reports of `scan`
//! and `diff`, the executive summary in plain words, the diff's HTML (object counts and
//! configuration changes), and printing on the reader's paper size.

mod common;
use common::*;
use std::path::{Path, PathBuf};

const HOSTILE_TITLE: &str = "Q3 <script>alert(1)</script> & *review* [x](http://evil.example)";
const HOSTILE_CLIENT: &str = "Contoso <b>Ltd</b> @admins #1";

/// Runs the binary; returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = relay_audit().args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("UTF-8"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture(rel: &str) -> String {
    root().join(rel).display().to_string()
}

/// The element text between `<section id="summary">` and its `</section>`.
fn summary_section(doc: &str) -> &str {
    let s = &doc[doc
        .find("<section id=\"summary\">")
        .expect("summary section")..];
    &s[..s.find("</section>").unwrap()]
}

/// The Markdown executive summary: from its heading to the tool line after it.
fn md_summary(md: &str) -> &str {
    let s = &md[md.find("### Executive summary").expect("summary heading")..];
    &s[..s.find("\nrelay-audit ").unwrap_or(s.len())]
}

/// Neither a CI gate nor a rule id in text meant for a client's manager.
#[track_caller]
fn assert_plain(text: &str) {
    assert!(!text.contains("fail-on"), "gate jargon in:\n{text}");
    let rule_id =
        regex::Regex::new(r"\b(RC|DOM|PERM|INPUT|LOG|IMC|SVS|SMTPCONN|PROBE)-[A-Z]").unwrap();
    assert!(!rule_id.is_match(text), "rule id in:\n{text}");
}

#[test]
fn title_and_client_are_escaped_in_the_html_header_and_title() {
    let (code, doc, err) = run(&[
        "scan",
        &fixture("fixtures/open-relay-anonymous/clixml"),
        "-f",
        "html",
        "--title",
        HOSTILE_TITLE,
        "--client",
        HOSTILE_CLIENT,
    ]);
    assert_eq!(code, 1, "{err}");
    let title = "Q3 &lt;script&gt;alert(1)&lt;/script&gt; &amp; *review* [x](http://evil.example)";
    let client = "Contoso &lt;b&gt;Ltd&lt;/b&gt; @admins #1";
    assert!(
        doc.contains(&format!(
            "<title>{title} \u{2013} prepared for {client}</title>"
        )),
        "{}",
        &doc[..doc.find("</head>").unwrap()]
    );
    assert!(doc.contains(&format!("<h1>{title}</h1>")));
    assert!(doc.contains(&format!(
        "<p class=\"client\">Prepared for <strong>{client}</strong></p>"
    )));
    assert!(!doc.contains("<script>"));
    assert!(!doc.contains("<b>Ltd"));
    // The default title is replaced, not kept beside it.
    assert!(!doc.contains("<h1>Exchange SMTP relay audit</h1>"));
}

#[test]
fn without_title_the_default_stays() {
    let (_, doc, _) = run(&["scan", &fixture("fixtures/clean-2019/clixml"), "-f", "html"]);
    assert!(doc.contains("<title>Exchange SMTP relay audit</title>"));
    assert!(!doc.contains("Prepared for"));
}

#[test]
fn title_and_client_are_escaped_in_markdown() {
    let (_, md, err) = run(&[
        "scan",
        &fixture("fixtures/open-relay-anonymous/clixml"),
        "-f",
        "markdown",
        "--title",
        HOSTILE_TITLE,
        "--client",
        HOSTILE_CLIENT,
    ]);
    let first = md.lines().next().unwrap();
    assert_eq!(
        first,
        "## Q3 &lt;script&gt;alert(1)&lt;/script&gt; &amp; \\*review\\* \\[x\\](http\\://evil.example)",
        "{err}"
    );
    assert!(md.contains("Prepared for **Contoso &lt;b&gt;Ltd&lt;/b&gt; \\@admins \\#1**"));
    // The status line follows the title.
    assert!(md.contains("\nrelay-audit: ❌ 1 finding at or above high\n"));
}

#[test]
fn other_formats_accept_and_ignore_title_and_client() {
    for format in ["json", "sarif", "table", "csv", "junit"] {
        let (code, out, err) = run(&[
            "scan",
            &fixture("fixtures/open-relay-anonymous/clixml"),
            "-f",
            format,
            "--title",
            "UNIQUE-TITLE-7731",
            "--client",
            "UNIQUE-CLIENT-7731",
        ]);
        assert_eq!(code, 1, "{format}: {err}");
        assert!(!out.contains("7731"), "{format} shows the title or client");
    }
    let (code, out, err) = run(&[
        "diff",
        &fixture("fixtures/diff-anonymous-grant/before"),
        &fixture("fixtures/diff-anonymous-grant/after"),
        "--format",
        "json",
        "--title",
        "UNIQUE-TITLE-7731",
        "--client",
        "UNIQUE-CLIENT-7731",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(!out.contains("7731"));
}

#[test]
fn title_and_client_come_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("relay-audit.toml");
    std::fs::write(&cfg, "title = \"Config title\"\nclient = \"Fabrikam\"\n").unwrap();
    let cfg = cfg.display().to_string();
    let export = fixture("fixtures/clean-2019/clixml");
    let (_, doc, err) = run(&["scan", &export, "-f", "html", "--config", &cfg]);
    assert!(doc.contains("<h1>Config title</h1>"), "{err}");
    assert!(doc.contains("Prepared for <strong>Fabrikam</strong>"));
    // The command line wins.
    let (_, doc, _) = run(&[
        "scan",
        &export,
        "-f",
        "html",
        "--config",
        &cfg,
        "--client",
        "Northwind",
    ]);
    assert!(doc.contains("<h1>Config title</h1>"));
    assert!(doc.contains("Prepared for <strong>Northwind</strong>"));
}

#[test]
fn open_relay_summary_says_what_it_means() {
    let export = fixture("fixtures/open-relay-anonymous/clixml");
    let sentence = "One receive connector on EX01 lets anyone on the Internet send mail through your server (an open relay).";
    let (_, doc, _) = run(&["scan", &export, "-f", "html"]);
    let s = summary_section(&doc);
    assert!(s.contains(sentence), "{s}");
    assert!(s.contains("<strong>Action needed</strong>"));
    assert!(s.contains(
        "This audit read 4 files exported from Microsoft Exchange, describing 1 server, 5 receive connectors, 41 permission entries, 2 accepted domains."
    ));
    assert_plain(s);
    // Even with another gate the words do not change, and never name it.
    let (_, never, _) = run(&["scan", &export, "-f", "html", "--fail-on", "never"]);
    let s = summary_section(&never);
    assert!(s.contains(sentence));
    assert_plain(s);

    let (_, md, _) = run(&["scan", &export, "-f", "markdown", "--fail-on", "never"]);
    let s = md_summary(&md);
    assert!(s.contains(&format!("- {sentence}")), "{s}");
    assert!(s.contains("**Action needed:**"));
    assert_plain(s);
    assert!(!md.contains("--fail-on"), "{md}");
}

#[test]
fn clean_export_summary_says_no_problem_was_found() {
    let (_, doc, _) = run(&["scan", &fixture("fixtures/clean-2019/clixml"), "-f", "html"]);
    let s = summary_section(&doc);
    assert!(s.contains("No relay problem was found in what was exported."));
    assert!(s.contains("<strong>Passed</strong>"));
    assert_plain(s);
}

/// "Clean" is never said when part of the evidence could not be read: an unreadable file,
/// or findings such as INPUT-NOT-UNDERSTOOD and RC-PERMISSIONS-UNKNOWN.
#[test]
fn unreadable_evidence_makes_the_summary_incomplete() {
    let missing = fixture("fixtures/clean-2019/no-such-file.xml");
    let clean = fixture("fixtures/clean-2019/clixml");
    let cases: [(&str, Vec<&str>); 3] = [
        ("unreadable file", vec![&clean, &missing]),
        (
            "INPUT-NOT-UNDERSTOOD only",
            vec!["fixtures/legacy-2003-secured"],
        ),
        (
            "RC-PERMISSIONS-UNKNOWN",
            vec!["fixtures/csv-without-join/csv"],
        ),
    ];
    for (what, paths) in cases {
        for format in ["html", "markdown"] {
            let mut args = vec!["scan"];
            args.extend(paths.iter().copied());
            args.extend(["-f", format]);
            let (_, out, _) = run(&args);
            let s = if format == "html" {
                summary_section(&out)
            } else {
                md_summary(&out)
            };
            assert!(s.contains("Incomplete"), "{what} {format}:\n{s}");
            assert!(
                s.contains("The verdict is incomplete"),
                "{what} {format}:\n{s}"
            );
            assert!(
                !s.contains("No relay problem was found in what was exported"),
                "{what} {format}:\n{s}"
            );
            assert!(
                !s.to_lowercase().contains("passed"),
                "{what} {format}:\n{s}"
            );
            assert_plain(s);
        }
    }
}

// ---- diff -----------------------------------------------------------------------------------

/// A copy of the diff fixture whose connector name holds markup (written as XML entities, so
/// the parsed name is `Default <b>Frontend</b> EX01`).
fn hostile_diff_fixture(dir: &Path) -> (PathBuf, PathBuf) {
    for side in ["before", "after"] {
        let src = root().join("fixtures/diff-anonymous-grant").join(side);
        let dst = dir.join(side);
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(&src).unwrap().flatten() {
            // The exports are UTF-16LE with a byte-order mark; written back the same way.
            let text = read_text(&e.path()).replace(
                "Default Frontend EX01",
                "Default &lt;b&gt;Frontend&lt;/b&gt; EX01",
            );
            let mut bytes = vec![0xFF, 0xFE];
            for u in text.encode_utf16() {
                bytes.extend(u.to_le_bytes());
            }
            std::fs::write(dst.join(e.file_name()), bytes).unwrap();
        }
    }
    (dir.join("before"), dir.join("after"))
}

/// The text of HTML with its tags dropped and the five entities decoded.
fn html_text(doc: &str) -> String {
    let tags = regex::Regex::new(r"<[^>]*>").unwrap();
    tags.replace_all(doc, "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Markdown escapes undone (`\x` -> `x`, entities decoded).
fn md_text(s: &str) -> String {
    let mut out = String::new();
    let mut cs = s.chars();
    while let Some(c) = cs.next() {
        if c == '\\' {
            if let Some(n) = cs.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[test]
fn diff_html_counts_objects_and_lists_every_change_the_markdown_lists() {
    let dir = tempfile::tempdir().unwrap();
    for (before, after) in [
        (
            root().join("fixtures/diff-anonymous-grant/before"),
            root().join("fixtures/diff-anonymous-grant/after"),
        ),
        hostile_diff_fixture(dir.path()),
    ] {
        let (b, a) = (before.display().to_string(), after.display().to_string());
        let (_, md, err) = run(&["diff", &b, &a, "--format", "markdown"]);
        let (_, doc, _) = run(&["diff", &b, &a, "--format", "html"]);
        let (_, json, _) = run(&["diff", &b, &a, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let changes = v["changes"].as_array().unwrap();
        assert!(!changes.is_empty(), "{err}");

        // The Markdown's change list, one line each.
        let list = &md[md.find("### Configuration changes").unwrap()..];
        let list = &list[..list.find("\n### ").unwrap()];
        let md_lines: Vec<String> = list
            .lines()
            .filter_map(|l| l.strip_prefix("- "))
            .map(md_text)
            .collect();
        assert_eq!(md_lines.len(), changes.len());

        let section = &doc[doc
            .find("<section id=\"changes\">")
            .expect("changes section")..];
        let section = &section[..section.find("</section>").unwrap()];
        let text = html_text(section);
        for (line, c) in md_lines.iter().zip(changes) {
            assert_eq!(line, c["description"].as_str().unwrap());
            assert!(text.contains(line.as_str()), "{line} missing from:\n{text}");
            for k in ["object", "property", "before", "after"] {
                if let Some(x) = c[k].as_str() {
                    assert!(text.contains(x), "{k} {x} missing from:\n{text}");
                }
            }
        }
        assert!(
            !doc.contains("<b>Frontend"),
            "markup from the export left raw"
        );

        // Counts come from the exports, not a blank model.
        assert!(
            doc.contains(
                "1 server, 5 receive connectors, 41 permission entries, 1 accepted domain"
            ),
            "{}",
            &doc[..doc.find("<section id=\"findings\">").unwrap()]
        );
        assert!(!doc.contains("0 servers"));
        let s = summary_section(&doc);
        assert!(s.contains("Before the change: 4 files, describing 1 server, 5 receive connectors, 40 permission entries"));
        assert!(s.contains("One configuration change that matters for relay was found."));
        assert!(s.contains("The change introduces one critical or serious relay problem"));
        assert_plain(s);
        assert!(
            md_summary(&md).contains("The change introduces one critical or serious relay problem")
        );
    }
}

#[test]
fn diff_title_and_client_in_html_and_markdown() {
    let b = fixture("fixtures/diff-anonymous-grant/before");
    let a = fixture("fixtures/diff-anonymous-grant/after");
    let (_, doc, _) = run(&[
        "diff",
        &b,
        &a,
        "--format",
        "html",
        "--title",
        HOSTILE_TITLE,
        "--client",
        HOSTILE_CLIENT,
    ]);
    assert!(doc.contains("<h1>Q3 &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(doc.contains("Prepared for <strong>Contoso &lt;b&gt;Ltd&lt;/b&gt; @admins #1</strong>"));
    assert!(!doc.contains("<script>"));
    let (_, md, _) = run(&[
        "diff",
        &b,
        &a,
        "--format",
        "markdown",
        "--title",
        "Change 42",
        "--client",
        "Fabrikam",
    ]);
    assert!(
        md.starts_with("## Change 42\n\n❌ relay-audit diff: "),
        "{md}"
    );
    assert!(md.contains("Prepared for **Fabrikam**"));
    // Without a title the first line stays the status line.
    let (_, md, _) = run(&["diff", &b, &a, "--format", "markdown"]);
    assert!(md.starts_with("## ❌ relay-audit diff: "), "{md}");
}

// ---- print -----------------------------------------------------------------------------------

const CSS: &str = include_str!("../src/report/html/report.css");

/// Every `@page` rule leaves the paper to the printer: `size: auto` or no size at all.
#[test]
fn print_css_follows_the_paper_size() {
    let mut rules = 0;
    for (i, _) in CSS.match_indices("@page") {
        rules += 1;
        let body = &CSS[i..i + CSS[i..].find('}').unwrap()];
        for decl in body.split(['{', ';']) {
            if let Some((k, v)) = decl.split_once(':') {
                if k.trim() == "size" {
                    assert_eq!(v.trim(), "auto", "@page forces a paper size: {body}");
                }
            }
        }
    }
    assert!(rules >= 1, "no @page rule");
    let print = &CSS[CSS.find("@media print").expect("print styles")..];
    assert!(print.contains("thead { display: table-header-group; }"));
    assert!(print.contains("break-inside: avoid"));
    // No fixed width wider than a narrow page's text (A5 is about 480 CSS pixels).
    let width = regex::Regex::new(r"(?m)(^|[;{\s])(min-)?width:\s*(\d+)px").unwrap();
    for c in width.captures_iter(CSS) {
        let px: u32 = c[3].parse().unwrap();
        assert!(px <= 120, "fixed width {px}px in the report CSS");
    }
}

fn chromium() -> Option<PathBuf> {
    let p = std::env::var_os("RELAY_AUDIT_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if p.exists() {
        return Some(p);
    }
    if std::env::var("RELAY_AUDIT_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!(
            "SKIPPED: {} missing and RELAY_AUDIT_SKIP_BROWSER=1",
            p.display()
        );
        return None;
    }
    panic!(
        "{} not found: install chromium or set RELAY_AUDIT_SKIP_BROWSER=1",
        p.display()
    );
}

/// Prints `page` to PDF with Chromium's default paper; returns the PDF.
fn print_pdf(browser: &Path, work: &Path, tag: &str, page: &Path) -> Vec<u8> {
    let pdf = work.join(format!("{tag}.pdf"));
    let mut child = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.join(format!("profile-{tag}")).display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "chromium {tag}: {s}");
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {tag} did not finish in 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::fs::read(&pdf).expect("PDF written")
}

/// The distinct `/MediaBox [..]` entries of a PDF, numbers rounded to points.
fn media_boxes(pdf: &[u8]) -> Vec<Vec<i64>> {
    let text = String::from_utf8_lossy(pdf);
    let re = regex::Regex::new(r"/MediaBox\s*\[([^\]]*)\]").unwrap();
    let mut out: Vec<Vec<i64>> = re
        .captures_iter(&text)
        .map(|c| {
            c[1].split_whitespace()
                .map(|n| n.parse::<f64>().unwrap().round() as i64)
                .collect()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The report prints on the same paper as a page with no CSS at all: Chromium's default
/// (Letter or A4 by locale), not a size the stylesheet forces.
#[test]
fn report_prints_to_pdf_on_the_default_paper() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let control = work.join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>c</title></head><body><p>control</p></body></html>",
    )
    .unwrap();
    let report = work.join("report.html");
    let (_, _, err) = run(&[
        "diff",
        &fixture("fixtures/diff-anonymous-grant/before"),
        &fixture("fixtures/diff-anonymous-grant/after"),
        "--format",
        "html",
        "--output",
        &report.display().to_string(),
        "--client",
        "Contoso",
    ]);
    assert!(report.exists(), "{err}");
    let default = media_boxes(&print_pdf(&browser, work, "control", &control));
    assert_eq!(default.len(), 1, "{default:?}");
    let pdf = print_pdf(&browser, work, "report", &report);
    assert!(pdf.starts_with(b"%PDF-"));
    let boxes = media_boxes(&pdf);
    assert_eq!(
        boxes, default,
        "the report's pages are not on the default paper"
    );
    // Letter is 612 x 792 points, A4 595 x 842: the default is one of them.
    let d = &default[0];
    assert!(
        matches!((d[2], d[3]), (612, 792) | (595, 842)),
        "unexpected default paper {d:?}"
    );
}
