//! Damaged evidence never improves a verdict.
//!
//! For every scenario fixture (a folder with `expect.toml`), in every export form it has, each
//! file is damaged the way files are damaged in transit or by hand — a property dropped, a
//! list emptied, a reference left dangling, an object duplicated, the file cut, a byte
//! shifted, an object wrapped in an XML comment — one mutation at a time, and the folder is
//! scanned again. The mutated export must keep every finding it had, gain an
//! evidence-incomplete finding, or fail the run with exit 2.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// (rule, object, category) of a scan.
type Findings = BTreeSet<(String, String, String)>;

/// `one_organisation`: the fixture's exports come from several organisations, judged as one
/// (its `expect.toml` says `one_organisation = true`).
fn scan(dir: &Path, one_organisation: bool) -> (i32, Findings) {
    let args: &[&str] = if one_organisation {
        &["--fail-on", "never", "--one-organisation"]
    } else {
        &["--fail-on", "never"]
    };
    let (code, v) = scan_json(&[dir], args);
    let set = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["object"]["id"].as_str().unwrap().to_lowercase(),
                f["category"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (code, set)
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let mut all = Vec::new();
    files(from, &mut all);
    for f in all {
        let rel = f.strip_prefix(from).unwrap();
        let dst = to.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dst).unwrap();
    }
}

/// The byte range of the element whose start tag carries `N="name"` (nesting of the same tag
/// counted), or of the first element `<tag`.
fn element(text: &str, start: usize) -> Option<(usize, usize)> {
    let tag_end = text[start + 1..].find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
    let tag = &text[start + 1..start + 1 + tag_end];
    let open_end = start + text[start..].find('>')?;
    if text[..open_end].ends_with('/') {
        return Some((start, open_end + 1));
    }
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut depth = 1;
    let mut i = open_end + 1;
    while depth > 0 {
        let next_open = text[i..].find(&open).map(|j| i + j);
        let next_close = text[i..].find(&close).map(|j| i + j)?;
        match next_open {
            Some(o) if o < next_close => {
                let end = o + text[o..].find('>')?;
                if !text[..end].ends_with('/') {
                    depth += 1;
                }
                i = end + 1;
            }
            _ => {
                depth -= 1;
                i = next_close + close.len();
            }
        }
    }
    Some((start, i))
}

fn xml_property(text: &str, name: &str) -> Option<(usize, usize)> {
    let at = text.find(&format!("N=\"{name}\""))?;
    let start = text[..at].rfind('<')?;
    element(text, start)
}

const PROPERTIES: [&str; 10] = [
    "RemoteIPRanges",
    "PermissionGroups",
    "AuthMechanism",
    "ExtendedRights",
    "User",
    "Identity",
    "Enabled",
    "Bindings",
    "DomainType",
    "DomainName",
];

/// Lists Exchange never stores empty: an empty one is damage. (An empty ExtendedRights is a
/// real value — an entry that grants only AccessRights — so emptying it changes the
/// configuration, not the evidence.)
const LISTS: [&str; 2] = ["RemoteIPRanges", "Bindings"];

/// Splits one CSV line into cells (quotes kept).
fn csv_cells(line: &str, delim: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == delim && !quoted {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// Rewrites the cells of one CSV column with `f` (`None` removes the column).
fn csv_column(text: &str, name: &str, f: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let h = lines
        .iter()
        .position(|l| !l.starts_with('#') && !l.trim().is_empty())?;
    let delim = [',', ';', '\t']
        .into_iter()
        .max_by_key(|d| lines[h].matches(*d).count())?;
    let header = csv_cells(lines[h], delim);
    let col = header
        .iter()
        .position(|c| c.trim_matches('"').eq_ignore_ascii_case(name))?;
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        if i < h || l.trim().is_empty() {
            out.push_str(l);
        } else {
            let mut cells = csv_cells(l, delim);
            if col < cells.len() {
                if i == h {
                    if f("").is_none() {
                        cells.remove(col);
                    }
                } else {
                    match f(&cells[col]) {
                        Some(v) => cells[col] = v,
                        None => {
                            cells.remove(col);
                        }
                    }
                }
            }
            out.push_str(&cells.join(&delim.to_string()));
        }
        out.push('\n');
    }
    Some(out)
}

/// Every mutation of one file's text: (what, mutated text).
fn mutations(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let cut = |frac: usize| {
        let mut i = text.len() * frac / 100;
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        text[..i].to_string()
    };
    out.push(("cut at half".to_string(), cut(50)));
    out.push(("cut at 90%".to_string(), cut(90)));
    let mut chars = text.chars();
    chars.next();
    out.push((
        "first character dropped".to_string(),
        chars.as_str().to_string(),
    ));
    out.push(("a byte shifted in".to_string(), format!(" {text}")));
    let xml = text.trim_start().starts_with('<');
    let csv = !xml
        && text.lines().any(|l| {
            l.starts_with("#TYPE")
                || l.starts_with("\"Identity\"")
                || l.starts_with("\"Name\"")
                || l.starts_with("\"User\"")
        });
    for p in PROPERTIES {
        if xml {
            if let Some((a, b)) = xml_property(text, p) {
                out.push((
                    format!("{p} dropped"),
                    format!("{}{}", &text[..a], &text[b..]),
                ));
            }
        } else if csv {
            if let Some(t) = csv_column(text, p, &|_| None) {
                out.push((format!("{p} column dropped"), t));
            }
            if p != "ExtendedRights" {
                if let Some(t) = csv_column(text, p, &|_| Some(String::new())) {
                    out.push((format!("{p} cells emptied"), t));
                }
            }
        } else {
            let kept: Vec<&str> = text
                .lines()
                .filter(|l| {
                    let t = l.trim_start();
                    !(t.starts_with(p) && t[p.len()..].trim_start().starts_with(':'))
                })
                .collect();
            if kept.len() < text.lines().count() {
                out.push((format!("{p} lines dropped"), kept.join("\n") + "\n"));
            }
        }
    }
    for p in LISTS {
        if xml {
            if let Some((a, b)) = xml_property(text, p) {
                let el = &text[a..b];
                if let (Some(s), Some(e)) = (el.find("<LST>"), el.rfind("</LST>")) {
                    let emptied = format!("{}<LST></LST>{}", &el[..s], &el[e + 6..]);
                    out.push((
                        format!("{p} list emptied"),
                        format!("{}{emptied}{}", &text[..a], &text[b..]),
                    ));
                }
            }
        } else if !csv {
            let t: String = text
                .lines()
                .map(|l| {
                    let tt = l.trim_start();
                    if tt.starts_with(p) && tt[p.len()..].trim_start().starts_with(':') {
                        format!("{p} : {{}}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            if t != text {
                out.push((format!("{p} list emptied"), t));
            }
        }
    }
    if xml {
        if let Some(i) = text.find("<Ref RefId=\"") {
            let j = i + text[i..].find("/>").unwrap_or(0);
            out.push((
                "a reference left dangling".to_string(),
                format!("{}<Ref RefId=\"987654\" {}", &text[..i], &text[j..]),
            ));
        }
        // The first object of the file.
        if let Some(start) = text.find("<Obj ") {
            if let Some((a, b)) = element(text, start) {
                let obj = &text[a..b];
                out.push((
                    "an object duplicated".to_string(),
                    format!("{}{obj}{obj}{}", &text[..a], &text[b..]),
                ));
                out.push((
                    "an object wrapped in a comment".to_string(),
                    format!("{}<!-- {obj} -->{}", &text[..a], &text[b..]),
                ));
            }
        }
    } else {
        // The first paragraph twice (a paste that repeated an object).
        if let Some(end) = text.find("\n\n") {
            out.push((
                "a paragraph duplicated".to_string(),
                format!("{}\n\n{}", &text[..end], text),
            ));
        }
    }
    out
}

/// One mutated export to scan: the folder, what was done, and the findings before.
struct Case {
    dir: PathBuf,
    label: String,
    want: std::sync::Arc<Findings>,
    one_organisation: bool,
}

#[test]
fn damaged_evidence_never_improves_a_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    for dir in subdirs(&root().join("fixtures")) {
        let Ok(expect) = std::fs::read_to_string(dir.join("expect.toml")) else {
            continue;
        };
        let one_organisation = expect
            .lines()
            .any(|l| l.replace(' ', "") == "one_organisation=true");
        for form in forms(&dir) {
            let (code, want) = scan(&form, one_organisation);
            assert_ne!(code, 2, "{}: the undamaged form fails", form.display());
            let want = std::sync::Arc::new(want);
            let mut all = Vec::new();
            files(&form, &mut all);
            for file in &all {
                let name = file.file_name().unwrap().to_string_lossy().to_lowercase();
                if name.ends_with(".md") || name == "expect.toml" || name == "site.toml" {
                    continue;
                }
                let text = read_text(file);
                let rel = file.strip_prefix(&form).unwrap();
                for (what, mutated) in mutations(&text) {
                    let case = tmp.path().join(cases.len().to_string());
                    copy_tree(&form, &case);
                    std::fs::write(case.join(rel), mutated).unwrap();
                    cases.push(Case {
                        dir: case,
                        label: format!(
                            "{} / {} with {what}",
                            form.strip_prefix(root()).unwrap().display(),
                            rel.display()
                        ),
                        want: want.clone(),
                        one_organisation,
                    });
                }
            }
        }
    }
    let checked = cases.len();
    assert!(checked >= 300, "{checked} mutated exports");
    eprintln!("{checked} mutated exports");
    // Scanned four at a time (each scan is a process).
    let queue = std::sync::Mutex::new(cases);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let Some(c) = queue.lock().unwrap().pop() else {
                    break;
                };
                let (code, got) = scan(&c.dir, c.one_organisation);
                let kept = c.want.iter().all(|f| got.contains(f));
                let gained = got
                    .iter()
                    .any(|f| f.2 == "evidence-incomplete" && !c.want.contains(f));
                if !(code == 2 || kept || gained) {
                    let lost: Vec<_> = c.want.difference(&got).collect();
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{}: lost {lost:?}, exit {code}", c.label));
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {checked} mutations improved the verdict:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A crafted 48 MB Format-List line is cut at 1 MiB: a budget error naming the file and line
/// (exit 2, the report still written), the connector still judged (its ranges are cut
/// evidence), and memory stays small.
#[test]
fn a_huge_line_is_cut_and_said_so_within_little_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rc.txt");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        writeln!(f, "Identity         : EX01\\Relay EX01").unwrap();
        writeln!(f, "Enabled          : True").unwrap();
        writeln!(f, "Bindings         : {{0.0.0.0:25}}").unwrap();
        writeln!(f, "PermissionGroups : AnonymousUsers, Custom").unwrap();
        writeln!(f, "AuthMechanism    : Tls").unwrap();
        write!(f, "RemoteIPRanges   : {{").unwrap();
        for i in 0..4_000_000u32 {
            write!(f, "10.{}.{}.{}, ", (i >> 16) & 255, (i >> 8) & 255, i & 255).unwrap();
        }
        writeln!(f, "0.0.0.0-255.255.255.255}}").unwrap();
        writeln!(f).unwrap();
    }
    assert!(std::fs::metadata(&path).unwrap().len() > 40 << 20);
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(assert_cmd::cargo::cargo_bin("relay-audit"))
        .arg("scan")
        .arg(&path)
        .args(["--format", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak_kib: u64 = stderr.lines().last().unwrap().trim().parse().unwrap();
    assert!(peak_kib < 100 * 1024, "peak {peak_kib} KiB");
    // A budget hit exits 2, naming the file and line; the report is still written.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rc.txt:6: resource budget: line longer than 1 MiB"),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let diags = v["diagnostics"].as_array().unwrap();
    assert!(
        diags.iter().any(|d| d["line"] == 6
            && d["message"].as_str().unwrap().contains("longer than 1 MiB")),
        "{diags:?}"
    );
    // The cut ranges are cut evidence, never "no client" and never the whole list.
    let rules: Vec<String> = rule_objects(&v).into_iter().map(|(r, _)| r).collect();
    assert!(
        rules
            .iter()
            .any(|r| r == "RC-PERMISSIONS-UNKNOWN" || r == "RC-RELAY-SCOPE-UNKNOWN"),
        "{rules:?}"
    );
}

/// A CliXML export with one malformed object: exit 2 naming the line, and everything else the
/// file holds is still read and reported — the other objects, their findings, and the notes.
#[test]
fn a_malformed_object_fails_the_run_but_loses_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let form = root().join("fixtures/open-relay-anonymous/clixml");
    copy_tree(&form, tmp.path());
    let rc = tmp.path().join("receive-connectors.xml");
    let text = read_text(&rc);
    // An entity CliXML never holds, inside the first connector's first string.
    let at = text.find("<S N=\"").unwrap();
    let close = at + text[at..].find('>').unwrap() + 1;
    let damaged = format!("{}&bogus;{}", &text[..close], &text[close..]);
    std::fs::write(&rc, damaged).unwrap();
    let (code, v) = scan_json(&[tmp.path()], &["--fail-on", "never"]);
    assert_eq!(code, 2);
    let input = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["path"]
                .as_str()
                .unwrap()
                .ends_with("receive-connectors.xml")
        })
        .unwrap();
    assert_eq!(input["status"], "error");
    assert!(input["error"]
        .as_str()
        .unwrap()
        .contains("malformed XML export"));
    assert!(input["records"].as_u64().unwrap() >= 4, "{input}");
    // The open relay on Default Frontend (not the damaged object) is still found.
    let rules: Vec<String> = rule_objects(&v).into_iter().map(|(r, _)| r).collect();
    assert!(
        rules.iter().any(|r| r == "RC-ANON-RELAY-INTERNET"),
        "{rules:?}"
    );
}
