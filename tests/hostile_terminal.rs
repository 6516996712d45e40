//! Hostile and damaged exports: text from an input never acts on the terminal.
//!
//! The exports are built here, at test time, from fixtures/open-relay-anonymous: its relay
//! connector (`Default Frontend EX01`) is renamed to a name holding what a crafted export
//! would use against the person reading the report: ESC[2J (clear screen), an OSC 0 window
//! title, an OSC 8 hyperlink, a bare CR and a fake "0 findings" line, U+202E, NUL, DEL and
//! the C1 CSI U+009B. The connector's Comment holds the same, and one more file has such a
//! name. Then the real binary runs `scan` in every format, `explain`, `inventory` and `diff`,
//! and stdout and stderr are checked byte by byte: no C0 control except line feed and tab,
//! no DEL, no C1 control, no bidi override, isolate or mark.

mod common;
#[path = "common/shapes.rs"]
mod shapes;

use common::{relay_audit, root};
use std::path::{Path, PathBuf};

const OLD_NAME: &str = "Default Frontend EX01";

/// The hostile connector name (every attack at once).
fn hostile_name() -> String {
    [
        "Relay",
        "\u{1b}[2J\u{1b}[H",   // clear the screen
        "\u{1b}]0;pwned\u{7}", // OSC 0: window title
        "\u{1b}]8;;https://evil.example/\u{1b}\\click\u{1b}]8;;\u{1b}\\", // OSC 8 link
        "\r0 findings (0 critical)\n", // CR overwrite, fake line
        "gpj.\u{202e}exe",     // right-to-left override
        "\u{2066}iso\u{2069}\u{200e}\u{200f}", // isolates and marks
        "\0\u{7f}\u{9b}31m",   // NUL, DEL, C1 CSI
        "%0A::error file=x::forged,;]##vso[task.complete result=Succeeded;]", // CI commands
        " X",
    ]
    .concat()
}

/// Characters that must never reach a terminal from an input.
fn forbidden(c: char) -> bool {
    (c < ' ' && c != '\n' && c != '\t')
        || c == '\u{7f}'
        || ('\u{80}'..='\u{9f}').contains(&c)
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        || c == '\u{200e}'
        || c == '\u{200f}'
}

fn assert_clean(what: &str, stream: &str, bytes: &[u8]) {
    let text =
        std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: {stream} is not UTF-8: {e}"));
    if let Some((i, c)) = text.char_indices().find(|(_, c)| forbidden(*c)) {
        let from = text[..i].char_indices().rev().nth(60).map_or(0, |(j, _)| j);
        panic!(
            "{what}: {stream} carries {c:?} at byte {i}, after: {:?}",
            &text[from..i]
        );
    }
}

/// Runs the binary, checks stdout and stderr, returns stdout.
fn run(what: &str, args: &[&str]) -> String {
    run_in(&root(), what, args)
}

/// [`run`] from `dir` (a checkout's root, as CI formats make paths relative to it).
fn run_in(dir: &Path, what: &str, args: &[&str]) -> String {
    let out = relay_audit()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("runs");
    assert_clean(what, "stdout", &out.stdout);
    assert_clean(what, "stderr", &out.stderr);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1 || code == 2,
        "{what}: exit {code}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty(), "{what}: no output");
    String::from_utf8(out.stdout).unwrap()
}

/// `Comment : ...` or `<S N="Comment">` gets the hostile text too.
fn with_comment_fl(text: &str, name: &str) -> String {
    let mut out = String::new();
    let mut in_conn = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with("Identity") {
            in_conn = line.contains(name);
        }
        if in_conn && line.starts_with("Comment") {
            let (head, _) = line.split_once(':').unwrap();
            out.push_str(&format!(
                "{head}: note {}\r\n",
                name.replace(['\r', '\n'], " ")
            ));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Text as CliXML writes it: XML-escaped, and the characters XML 1.0 cannot carry as
/// `_xHHHH_` (as PowerShell's serializer does).
fn clixml_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c) => {
                out.push_str(&format!("_x{:04X}_", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Reads a fixture file as text (UTF-16LE with BOM or UTF-8).
fn read_text(p: &Path) -> String {
    let b = std::fs::read(p).unwrap();
    if b.starts_with(&[0xff, 0xfe]) {
        let u: Vec<u16> = b[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&u).unwrap()
    } else {
        String::from_utf8(b).unwrap()
    }
}

/// The open-relay-anonymous export in `form`, the relay connector renamed.
fn hostile_export(dir: &Path, form: &str) -> PathBuf {
    let src = root().join("fixtures/open-relay-anonymous").join(form);
    let dst = dir.join(form);
    std::fs::create_dir_all(&dst).unwrap();
    let name = hostile_name();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        let text = read_text(&p);
        let out = if form == "clixml" {
            let t = text.replace(OLD_NAME, &clixml_escape(&name));
            t.replace(
                "<S N=\"Comment\">",
                &format!("<S N=\"Comment\">{}", clixml_escape(&name)),
            )
            .replace(
                "<Nil N=\"Comment\" />",
                &format!("<S N=\"Comment\">{}</S>", clixml_escape(&name)),
            )
        } else {
            // Format-List is line based: the name keeps no line break there.
            let fl_name = name.replace(['\r', '\n'], " ");
            with_comment_fl(&text.replace(OLD_NAME, &fl_name), &fl_name)
        };
        std::fs::write(dst.join(p.file_name().unwrap()), out.as_bytes()).unwrap();
    }
    // A file whose name is hostile, and whose content is not an export.
    std::fs::write(
        dst.join("evil\u{1b}]0;title\u{7}\u{202e}txt.txt"),
        "Identity : \u{1b}[2J\r\n\u{9b}not an export\u{7f}\n",
    )
    .unwrap();
    dst
}

const FORMATS: [&str; 12] = [
    "table",
    "json",
    "sarif",
    "junit",
    "csv",
    "markdown",
    "html",
    "github",
    "gitlab",
    "azure",
    "json-lines",
    "concise",
];

fn check_export(form: &str) {
    let dir = tempfile::tempdir().unwrap();
    let export = hostile_export(dir.path(), form);
    let p = export.to_str().unwrap();

    // The name really reaches the model (the test would be blind otherwise).
    let json = run(
        &format!("{form}: scan json"),
        &["scan", p, "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["object"]["id"].as_str().unwrap())
        .collect();
    assert!(
        // (the Format-List reader drops ANSI sequences itself, as pastes carry them)
        ids.iter().any(|id| id.contains('\u{202e}')
            && id.contains('\0')
            && (form == "format-list" || id.contains("\u{1b}[2J"))),
        "{form}: no finding names the hostile connector: {ids:?}"
    );

    for f in FORMATS {
        let out = run_in(
            dir.path(),
            &format!("{form}: scan {f}"),
            &["scan", p, "--format", f],
        );
        // One command per line, whatever the name holds.
        match f {
            "github" => assert!(shapes::check_github(&out) >= 1, "{form}"),
            "azure" => assert!(shapes::check_azure(&out) >= 1, "{form}"),
            "gitlab" => assert!(shapes::check_gitlab(&out) >= 1, "{form}"),
            "concise" => assert!(shapes::check_concise(&out) >= 1, "{form}"),
            _ => {}
        }
        if f == "table" {
            assert!(
                out.contains("\\u{202e}"),
                "{form}: escaped in the table:\n{out}"
            );
            assert!(out.contains("\\u{0}"), "{form}: {out}");
        }
    }
    let out = run(
        &format!("{form}: explain"),
        &[
            "explain",
            p,
            "--server",
            "EX01",
            "--from",
            "203.0.113.9",
            "--mail-from",
            "a@example.net",
            "--rcpt",
            "b@example.org",
        ],
    );
    assert!(
        out.contains("\\u{202e}"),
        "{form}: explain names the connector:\n{out}"
    );
    for fmt in ["text", "json"] {
        run(
            &format!("{form}: explain {fmt}"),
            &[
                "explain",
                p,
                "--server",
                "EX01",
                "--from",
                "203.0.113.9",
                "--mail-from",
                "a@example.net",
                "--rcpt",
                "b@example.org",
                "--format",
                fmt,
            ],
        );
        let inv = run(
            &format!("{form}: inventory {fmt}"),
            &["inventory", p, "--format", fmt],
        );
        if fmt == "text" {
            assert!(inv.contains("\\u{202e}"), "{form}: inventory:\n{inv}");
        }
    }
    let before = root().join("fixtures/open-relay-anonymous").join(form);
    let before = before.to_str().unwrap();
    for f in FORMATS {
        run(
            &format!("{form}: diff {f}"),
            &["diff", before, p, "--format", f, "--fail-on", "never"],
        );
        run(
            &format!("{form}: diff {f} reversed"),
            &["diff", p, before, "--format", f, "--fail-on", "never"],
        );
    }
}

#[test]
fn hostile_names_from_format_list_never_reach_the_terminal() {
    check_export("format-list");
}

#[test]
fn hostile_names_from_clixml_never_reach_the_terminal() {
    check_export("clixml");
}

#[test]
fn the_remediation_names_no_other_object() {
    let dir = tempfile::tempdir().unwrap();
    let export = hostile_export(dir.path(), "clixml");
    let json = run(
        "remediation",
        &["scan", export.to_str().unwrap(), "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut seen = 0;
    for f in v["findings"].as_array().unwrap() {
        let id = f["object"]["id"].as_str().unwrap();
        if !id.contains('\u{1b}') {
            continue;
        }
        seen += 1;
        let r = f["remediation"].as_str().unwrap();
        // Nothing to run: comments only, the identity shown with its characters escaped.
        assert!(
            r.lines().all(|l| l.trim().is_empty() || l.starts_with('#')),
            "a command for {id:?}: {r}"
        );
        assert!(r.contains("\\u{1b}[2J"), "{r}");
        assert!(!r.chars().any(forbidden), "{r:?}");
    }
    assert!(seen > 0);
}

#[test]
fn a_stray_file_name_is_escaped_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone\u{1b}[2J\u{202e}");
    let out = relay_audit()
        .args(["scan", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert_clean("missing path", "stderr", &out.stderr);
    assert_clean("missing path", "stdout", &out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gone\\u{1b}[2J\\u{202e}"), "{err}");
}
