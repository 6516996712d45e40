//! Review: what an operator decided about findings, applied after the rules.
//!
//! - **Waivers** (`--waivers FILE`, TOML, never from inside the audited folder): a finding
//!   matched by fingerprint, or by rule + object, is accepted until the waiver's expiry date.
//!   An expired waiver stops applying and says so; a waiver that matches nothing is stale.
//! - **Baselines** (`--write-baseline FILE`, `--baseline FILE`, JSON): findings already in the
//!   baseline are `unchanged` and do not count toward `--fail-on`; findings not in it are
//!   `new`; baseline findings no longer raised are listed as resolved.
//!
//! Neither changes what the rules found; both only change what counts.

use crate::diag::{Diagnostic, Level};
use crate::rules::{BaselineState, Finding, ObjectRef, Waived};
use crate::scan::{Report, Resolved};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverFile {
    #[serde(default)]
    waiver: Vec<toml::Spanned<RawWaiver>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    rule: Option<String>,
    /// The object id as Exchange prints it (`EX01\Relay EX01`).
    #[serde(default)]
    object: Option<String>,
    justification: String,
    owner: String,
    /// `YYYY-MM-DD`
    expires: String,
}

/// A loaded waiver.
#[derive(Debug, Clone)]
pub struct Waiver {
    fingerprint: Option<String>,
    rule: Option<String>,
    object: Option<String>,
    justification: String,
    owner: String,
    expires: (i32, u32, u32),
    expires_text: String,
    source: String,
}

#[cfg(test)]
use crate::date::civil_from_days;
pub use crate::date::{parse_date, today};

/// Line numbers of byte offsets, by binary search over the line starts (computed once).
struct Lines(Vec<usize>);

impl Lines {
    fn of(text: &str) -> Lines {
        Lines(memchr::memchr_iter(b'\n', text.as_bytes()).collect())
    }

    /// The 1-based line of `offset`.
    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

/// Reads an operator file, refusing anything but a regular file (a FIFO would block).
fn read_regular(path: &Path) -> Result<Vec<u8>, String> {
    let name = path.display().to_string();
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() && !m.is_dir() => {
            return Err(format!("{name}: not a regular file: not opened"));
        }
        _ => {}
    }
    std::fs::read(path).map_err(|e| format!("{name}: cannot read: {e}"))
}

/// Loads a waiver file; errors name `file:line`.
pub fn load_waivers(path: &Path) -> Result<Vec<Waiver>, String> {
    let name = path.display().to_string();
    let text = read_regular(path)?;
    let text = String::from_utf8(text).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let file: WaiverFile = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| Lines::of(&text).line(s.start))
            .unwrap_or(1);
        format!("{name}:{line}: invalid waiver file: {}", e.message().trim())
    })?;
    let lines = Lines::of(&text);
    let mut out = Vec::with_capacity(file.waiver.len());
    for w in file.waiver {
        let line = lines.line(w.span().start);
        let w = w.into_inner();
        let at = format!("{name}:{line}");
        if w.fingerprint.is_none() && (w.rule.is_none() || w.object.is_none()) {
            return Err(format!(
                "{at}: a waiver needs `fingerprint`, or both `rule` and `object`"
            ));
        }
        if w.justification.trim().is_empty() || w.owner.trim().is_empty() {
            return Err(format!("{at}: a waiver needs a justification and an owner"));
        }
        let expires = parse_date(&w.expires).ok_or_else(|| {
            format!(
                "{at}: expires must be a date YYYY-MM-DD, found `{}`",
                w.expires
            )
        })?;
        out.push(Waiver {
            fingerprint: w.fingerprint.map(|s| s.trim().to_lowercase()),
            rule: w.rule,
            object: w.object,
            justification: w.justification,
            owner: w.owner,
            expires,
            expires_text: w.expires,
            source: at,
        });
    }
    Ok(out)
}

impl Waiver {
    fn matches(&self, f: &Finding) -> bool {
        if let Some(fp) = &self.fingerprint {
            return *fp == f.fingerprint;
        }
        match (&self.rule, &self.object) {
            (Some(r), Some(o)) => {
                r.eq_ignore_ascii_case(&f.rule)
                    && o.trim().to_lowercase() == f.object.id.trim().to_lowercase()
            }
            _ => false,
        }
    }
}

/// Does the operator file `inner` come from the audited data? Waivers, baselines and site
/// files must come from the operator, never from the client's export.
///
/// True when `inner` (canonical path) is inside one of the audited folders, or inside the
/// folder of a file listed one by one, or is one of the audited files under another name (a
/// hard link or a link: same identity as any file, hidden or not, of the audited paths).
pub fn inside_any(inner: &Path, roots: &[std::path::PathBuf]) -> bool {
    let Ok(canon) = inner.canonicalize() else {
        return false;
    };
    let folders = roots.iter().filter_map(|r| {
        let r = r.canonicalize().ok()?;
        if r.is_dir() {
            Some(r)
        } else {
            r.parent().map(Path::to_path_buf)
        }
    });
    for f in folders {
        if canon.starts_with(&f) {
            return true;
        }
    }
    let Some(id) = std::fs::metadata(&canon)
        .ok()
        .and_then(|m| crate::scan::file_id(&canon, &m))
    else {
        return false;
    };
    crate::scan::audited_ids(roots).contains(&id)
}

/// Applies waivers: marks accepted findings, reports expired and stale waivers.
///
/// Linear in waivers + findings: findings are indexed by fingerprint and by (rule, object).
pub fn apply_waivers(report: &mut Report, waivers: &[Waiver], today: (i32, u32, u32)) {
    use std::collections::HashMap;
    let mut by_fingerprint: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_rule_object: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (i, f) in report.findings.iter().enumerate() {
        by_fingerprint
            .entry(f.fingerprint.clone())
            .or_default()
            .push(i);
        by_rule_object
            .entry(rule_object_key(&f.rule, &f.object.id))
            .or_default()
            .push(i);
    }
    let none: Vec<usize> = Vec::new();
    for w in waivers {
        let hits = match (&w.fingerprint, &w.rule, &w.object) {
            (Some(fp), _, _) => by_fingerprint.get(fp.as_str()),
            (None, Some(r), Some(o)) => by_rule_object.get(&rule_object_key(r, o)),
            _ => None,
        }
        .unwrap_or(&none);
        let matched = hits.len();
        let expired = w.expires < today;
        for &i in hits {
            let f = &mut report.findings[i];
            debug_assert!(w.matches(f));
            if !expired && f.waiver.is_none() {
                f.waiver = Some(Waived {
                    justification: w.justification.clone(),
                    owner: w.owner.clone(),
                    expires: w.expires_text.clone(),
                    source: w.source.clone(),
                });
            }
        }
        let (file, line) = split_source(&w.source);
        if matched == 0 {
            report.diagnostics.push(Diagnostic {
                level: Level::Warning,
                file,
                line,
                message: "stale waiver: it matches no finding of this scan".into(),
            });
        } else if expired {
            report.diagnostics.push(Diagnostic {
                level: Level::Warning,
                file,
                line,
                message: format!(
                    "waiver expired on {} (owner {}): the {matched} finding(s) it covered count again",
                    w.expires_text, w.owner
                ),
            });
        }
    }
}

/// The key a rule + object waiver matches on (as [`Waiver::matches`] compares them).
fn rule_object_key(rule: &str, object: &str) -> (String, String) {
    (rule.to_ascii_lowercase(), object.trim().to_lowercase())
}

fn split_source(s: &str) -> (String, Option<u32>) {
    match s.rsplit_once(':') {
        Some((f, l)) if l.parse::<u32>().is_ok() => (f.to_string(), l.parse().ok()),
        _ => (s.to_string(), None),
    }
}

/// A baseline file: the findings accepted at some point, keyed by fingerprint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    pub tool: String,
    pub rules_version: String,
    pub findings: Vec<Resolved>,
}

pub fn baseline_of(report: &Report) -> Baseline {
    Baseline {
        tool: format!("relay-audit {}", report.tool.version),
        rules_version: report.rules_version.clone(),
        findings: report
            .findings
            .iter()
            .map(|f| Resolved {
                rule: f.rule.clone(),
                severity: f.severity,
                object: ObjectRef {
                    kind: f.object.kind,
                    id: f.object.id.clone(),
                    server: f.object.server.clone(),
                },
                fingerprint: f.fingerprint.clone(),
            })
            .collect(),
    }
}

pub fn load_baseline(path: &Path) -> Result<Baseline, String> {
    let name = path.display().to_string();
    let text = read_regular(path)?;
    serde_json::from_slice(&text).map_err(|e| {
        format!(
            "{name}:{}: not a relay-audit baseline: {e}",
            e.line().max(1)
        )
    })
}

/// Marks findings new/unchanged against the baseline and lists the resolved ones.
pub fn apply_baseline(report: &mut Report, baseline: &Baseline) {
    use std::collections::HashSet;
    let known: HashSet<&str> = baseline
        .findings
        .iter()
        .map(|b| b.fingerprint.as_str())
        .collect();
    let now: HashSet<String> = report
        .findings
        .iter()
        .map(|f| f.fingerprint.clone())
        .collect();
    for f in &mut report.findings {
        f.baseline = Some(if known.contains(f.fingerprint.as_str()) {
            BaselineState::Unchanged
        } else {
            BaselineState::New
        });
    }
    report.resolved = baseline
        .findings
        .iter()
        .filter(|b| !now.contains(&b.fingerprint))
        .cloned()
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_415), (2025, 11, 23));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn dates_parse_and_compare() {
        assert_eq!(parse_date("2026-11-23"), Some((2026, 11, 23)));
        assert!(parse_date("2026-13-01").is_none());
        assert!(parse_date("23.11.2026").is_none());
        assert!(parse_date("2026-02-01").unwrap() < parse_date("2026-11-23").unwrap());
    }
}
