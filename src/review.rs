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

/// `YYYY-MM-DD` to (year, month, day).
pub fn parse_date(s: &str) -> Option<(i32, u32, u32)> {
    let mut it = s.trim().split('-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some((y, m, d))
}

/// Today's date (UTC), or `RELAY_AUDIT_TODAY=YYYY-MM-DD` (for reproducible reports).
pub fn today() -> (i32, u32, u32) {
    if let Some(d) = std::env::var("RELAY_AUDIT_TODAY")
        .ok()
        .and_then(|s| parse_date(&s))
    {
        return d;
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    civil_from_days((secs / 86_400) as i64)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Loads a waiver file; errors name `file:line`.
pub fn load_waivers(path: &Path) -> Result<Vec<Waiver>, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let file: WaiverFile = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| line_of(&text, s.start)).unwrap_or(1);
        format!("{name}:{line}: invalid waiver file: {}", e.message().trim())
    })?;
    let mut out = Vec::new();
    for w in file.waiver {
        let line = line_of(&text, w.span().start);
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

/// Is `inner` inside (or equal to) one of `roots`? Waivers and baselines must come from the
/// operator, never from the client's export folder.
pub fn inside_any(inner: &Path, roots: &[std::path::PathBuf]) -> bool {
    let Ok(inner) = inner.canonicalize() else {
        return false;
    };
    roots.iter().any(|r| {
        r.canonicalize().is_ok_and(|r| {
            if r.is_dir() {
                inner.starts_with(&r)
            } else {
                inner == r
            }
        })
    })
}

/// Applies waivers: marks accepted findings, reports expired and stale waivers.
pub fn apply_waivers(report: &mut Report, waivers: &[Waiver], today: (i32, u32, u32)) {
    for w in waivers {
        let mut matched = 0;
        let expired = w.expires < today;
        for f in report.findings.iter_mut().filter(|f| w.matches(f)) {
            matched += 1;
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
    let text = std::fs::read(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
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
