//! The executive summary in plain words, shared by the HTML and Markdown reports.
//!
//! Its reader is the client's manager, not the engineer who ran the scan: it names what was
//! audited and says what the findings mean for the organisation, without rule ids, CI gates
//! or severity levels used as labels ("critical" and "serious" are words a manager uses).
//! It never calls a result clean when part of the evidence could not be read: an unreadable
//! file, or a finding of the `evidence-incomplete` category (INPUT-NOT-UNDERSTOOD,
//! RC-PERMISSIONS-UNKNOWN, ...), makes the verdict incomplete and the text says so.
//!
//! Everything here is plain text; the writers escape it for their format.

use crate::input::record::ObjectKind;
use crate::rules::{Finding, Severity};
use crate::scan::{ModelCounts, Report};

/// Who the report is for, given by the operator (`--title`, `--client`). Both are free text
/// and are escaped by every writer that shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deliverable {
    /// Replaces the default report title.
    pub title: Option<String>,
    /// Shown as "Prepared for ..." in the header and in the HTML `<title>`.
    pub client: Option<String>,
}

impl Deliverable {
    /// The title, or `default` when none was given (or it is blank).
    pub fn title_or<'a>(&'a self, default: &'a str) -> &'a str {
        match self.title.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => t,
            _ => default,
        }
    }

    /// The client's name, when one was given and is not blank.
    pub fn client(&self) -> Option<&str> {
        self.client
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
    }
}

/// The overall verdict, in the order a reader must act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A critical or serious relay problem is open.
    ActionNeeded,
    /// No serious problem was found, but part of the evidence could not be read.
    Incomplete,
    /// Nothing serious in a complete export (smaller points may remain).
    Passed,
}

impl Verdict {
    pub fn heading(self) -> &'static str {
        match self {
            Verdict::ActionNeeded => "Action needed",
            Verdict::Incomplete => "Incomplete",
            Verdict::Passed => "Passed",
        }
    }

    /// The CSS class of the verdict box.
    pub fn class(self) -> &'static str {
        match self {
            Verdict::ActionNeeded => "fail",
            Verdict::Incomplete => "incomplete",
            Verdict::Passed => "pass",
        }
    }
}

/// The executive summary: each field one paragraph (or list item) of plain text.
#[derive(Debug, Clone)]
pub struct Summary {
    pub verdict: Verdict,
    /// What was read: files, servers, connectors, ...
    pub audited: String,
    /// One sentence per problem (server and kind of problem), worst first.
    pub problems: Vec<String>,
    /// The verdict in one or two sentences.
    pub conclusion: String,
    /// Why the verdict is incomplete, when it is.
    pub incomplete: Option<String>,
}

/// Is the finding about evidence that could not be read or judged?
pub fn is_evidence_gap(f: &Finding) -> bool {
    f.category == "evidence-incomplete"
}

/// Small counts as words, so a sentence reads "One receive connector", not "1 receive
/// connector".
fn count_word(n: usize) -> String {
    const WORDS: [&str; 11] = [
        "No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten",
    ];
    WORDS
        .get(n)
        .map(|w| w.to_string())
        .unwrap_or_else(|| n.to_string())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What the finding's object is called in a sentence (singular, plural).
fn noun(kind: ObjectKind) -> (&'static str, &'static str) {
    match kind {
        ObjectKind::ReceiveConnector | ObjectKind::RelayUsage => {
            ("receive connector", "receive connectors")
        }
        ObjectKind::AdPermission => ("connector permission", "connector permissions"),
        ObjectKind::AcceptedDomain => ("accepted domain", "accepted domains"),
        ObjectKind::Imc => ("Internet Mail Service", "Internet Mail Services"),
        ObjectKind::SmtpVirtualServer => ("SMTP virtual server", "SMTP virtual servers"),
        ObjectKind::SmtpConnector => ("SMTP connector", "SMTP connectors"),
        ObjectKind::Probe => ("test connection", "test connections"),
        ObjectKind::ExchangeServer | ObjectKind::TransportService => {
            ("server setting", "server settings")
        }
        ObjectKind::Input => ("exported file", "exported files"),
    }
}

/// A manager's word for a severity.
pub fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "serious",
        Severity::Medium => "moderate",
        Severity::Low => "minor",
        Severity::Info => "informational",
    }
}

/// What a problem means, as the end of "One receive connector on EX01 ...". The rules a
/// client is most likely to meet have their own words; the others are described by their
/// severity and title.
fn consequence(f: &Finding) -> String {
    const OPEN_RELAY: &str =
        "lets anyone on the Internet send mail through your server (an open relay)";
    let fixed = match f.rule.as_str() {
        "RC-ANON-RELAY-INTERNET"
        | "SVS-METABASE-RELAY-OPEN"
        | "SVS-RELAY-ALL-EXCEPT-EMPTY"
        | "SVS-RELAY-ALL-EXCEPT" => Some(OPEN_RELAY),
        "PROBE-OPEN-RELAY" => {
            Some("passed on a test message from outside to an outside address: it is an open relay")
        }
        "LOG-RELAY-ABUSED" => Some(
            "has, according to its own logs, passed on mail from the Internet to outside addresses: it has been used as an open relay",
        ),
        "DOM-RELAY-ALL" => Some(
            "makes your servers accept and pass on mail for any domain at all, which can turn them into an open relay",
        ),
        "RC-ANON-RELAY-BROAD" => Some(
            "lets a very wide range of addresses send mail to the outside through your server without signing in",
        ),
        "RC-EXTSEC-INTERNET" => Some(
            "treats mail from any address on the Internet as if it came from one of your own trusted servers",
        ),
        "LOG-RELAY-UNTRUSTED-HOST" => Some(
            "is used to send mail to the outside by machines nobody listed as allowed to",
        ),
        _ => None,
    };
    match fixed {
        Some(t) => t.to_string(),
        None => {
            let title = f.title.replace('`', "");
            let title = title.trim_end_matches('.');
            format!(
                "has a {} problem: {}",
                severity_word(f.severity),
                lower_first(title)
            )
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut cs = s.chars();
    match (cs.next(), cs.clone().next()) {
        // Keep acronyms (`SMTP ...`, `IMC ...`) as they are.
        (Some(c), Some(d)) if c.is_uppercase() && !d.is_uppercase() => {
            c.to_lowercase().chain(cs).collect()
        }
        _ => s.to_string(),
    }
}

/// "One receive connector on EX01 lets ..." for every (server, rule) of `open`, in report
/// order (worst first); objects are counted once per rule.
fn sentences<'a>(open: impl Iterator<Item = &'a Finding>) -> Vec<String> {
    // Buckets in order of first appearance, so the worst problem comes first.
    let keyed = crate::report::buckets(open, |f| (f.object.server.clone(), f.rule.clone()));
    keyed
        .into_iter()
        .map(|((server, _), fs)| {
            let mut ids: Vec<String> = fs.iter().map(|f| f.object.id.to_lowercase()).collect();
            ids.sort();
            ids.dedup();
            let (one, many) = noun(fs[0].object.kind);
            let what = if ids.len() == 1 { one } else { many };
            let place = match &server {
                Some(s) => format!("on {s}"),
                None => "in your organisation".to_string(),
            };
            format!(
                "{} {what} {place} {}.",
                count_word(ids.len()),
                consequence(fs[0])
            )
        })
        .collect()
}

/// "This audit read 3 files exported from Microsoft Exchange, describing 1 server, ..."
pub fn audited_text(files: usize, unreadable: usize, m: &ModelCounts) -> String {
    let mut s = format!(
        "This audit read {} exported from Microsoft Exchange, describing {}.",
        plural(files, "file", "files"),
        contents(m)
    );
    if unreadable > 0 {
        s.push_str(&format!(
            " {} could not be read.",
            if unreadable == 1 {
                "One of the files".to_string()
            } else {
                format!("{unreadable} of the files")
            }
        ));
    }
    s
}

/// "1 server, 4 receive connectors, ...": what an export held (legacy objects and logs only
/// when there are some).
pub fn contents(m: &ModelCounts) -> String {
    let mut parts = vec![
        plural(m.servers, "server", "servers"),
        plural(m.connectors, "receive connector", "receive connectors"),
        plural(m.permissions, "permission entry", "permission entries"),
        plural(m.domains, "accepted domain", "accepted domains"),
    ];
    for (n, one, many) in [
        (m.imcs, "Internet Mail Service", "Internet Mail Services"),
        (
            m.virtual_servers,
            "SMTP virtual server",
            "SMTP virtual servers",
        ),
        (m.smtp_connectors, "SMTP connector", "SMTP connectors"),
        (m.log_sets, "set of SMTP logs", "sets of SMTP logs"),
    ] {
        if n > 0 {
            parts.push(plural(n, one, many));
        }
    }
    parts.join(", ")
}

/// The executive summary of a scan.
pub fn summarize(report: &Report) -> Summary {
    let unreadable = report.inputs.iter().filter(|i| i.status == "error").count();
    let audited = audited_text(report.inputs.len(), unreadable, &report.model_counts);
    let open: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.waiver.is_none())
        .collect();
    judge(
        Scope::Scan,
        audited,
        &open,
        report.errors.len(),
        report
            .findings
            .iter()
            .filter(|f| f.waiver.is_some())
            .count(),
    )
}

/// What the findings are about: a whole export, or what a change introduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Scan,
    Change,
}

/// The verdict over the open findings. `unreadable`: input files that could not be read.
pub fn judge(
    scope: Scope,
    audited: String,
    open: &[&Finding],
    unreadable: usize,
    waived: usize,
) -> Summary {
    let serious = |f: &&&Finding| !is_evidence_gap(f) && f.severity <= Severity::High;
    let smaller = |f: &&&Finding| !is_evidence_gap(f) && f.severity > Severity::High;
    let problems = sentences(open.iter().filter(serious).copied());
    let minor: Vec<&&Finding> = open.iter().filter(smaller).collect();
    let gaps = open.iter().filter(|f| is_evidence_gap(f)).count();

    let incomplete = (unreadable > 0 || gaps > 0).then(|| {
        let mut why = Vec::new();
        if unreadable > 0 {
            why.push(format!(
                "{} could not be read",
                plural(unreadable, "exported file", "exported files")
            ));
        }
        if gaps > 0 {
            why.push(format!(
                "{} of the export could not be read or did not say enough to judge (listed with the findings)",
                plural(gaps, "part", "parts")
            ));
        }
        format!(
            "The verdict is incomplete: {}. What could not be read may hide a relay problem, so this is not a clean result. Export the missing information again and repeat the audit.",
            why.join(", and ")
        )
    });

    let verdict = if !problems.is_empty() {
        Verdict::ActionNeeded
    } else if incomplete.is_some() {
        Verdict::Incomplete
    } else {
        Verdict::Passed
    };
    let n = problems.len();
    let mut conclusion = match (scope, verdict) {
        (Scope::Scan, Verdict::ActionNeeded) => format!(
            "{} to fix; each is explained below with the commands that fix it.",
            if n == 1 {
                "There is one critical or serious relay problem".to_string()
            } else {
                format!("There are {n} critical or serious relay problems")
            }
        ),
        (Scope::Scan, Verdict::Incomplete) => {
            "No relay problem was found in the parts of the export that could be read.".to_string()
        }
        (Scope::Scan, Verdict::Passed) => {
            "No relay problem was found in what was exported.".to_string()
        }
        (Scope::Change, Verdict::ActionNeeded) => format!(
            "The change introduces {}; each is explained below with the commands that fix it.",
            if n == 1 {
                "one critical or serious relay problem".to_string()
            } else {
                format!("{n} critical or serious relay problems")
            }
        ),
        (Scope::Change, Verdict::Incomplete) => {
            "The change introduces no relay problem in the parts of the exports that could be read."
                .to_string()
        }
        (Scope::Change, Verdict::Passed) => "The change introduces no relay problem.".to_string(),
    };
    if !minor.is_empty() {
        conclusion.push_str(&format!(
            " {} listed below for completeness.",
            plural(minor.len(), "smaller point is", "smaller points are")
        ));
    }
    if waived > 0 {
        conclusion.push_str(&format!(
            " {} accepted by your team until a set date and {} not counted here.",
            plural(waived, "finding was", "findings were"),
            if waived == 1 { "is" } else { "are" }
        ));
    }
    Summary {
        verdict,
        audited,
        problems,
        conclusion,
        incomplete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_and_clients_fall_back_when_blank() {
        let d = Deliverable {
            title: Some("  ".into()),
            client: Some(" Contoso ".into()),
        };
        assert_eq!(d.title_or("Default"), "Default");
        assert_eq!(d.client(), Some("Contoso"));
        assert_eq!(Deliverable::default().client(), None);
    }

    #[test]
    fn words_for_counts_and_titles() {
        assert_eq!(count_word(1), "One");
        assert_eq!(count_word(12), "12");
        assert_eq!(lower_first("Anonymous relay"), "anonymous relay");
        assert_eq!(lower_first("SMTP connector"), "SMTP connector");
    }

    #[test]
    fn nothing_open_and_nothing_missing_passes() {
        let s = judge(Scope::Scan, "x".into(), &[], 0, 0);
        assert_eq!(s.verdict, Verdict::Passed);
        assert_eq!(
            s.conclusion,
            "No relay problem was found in what was exported."
        );
        assert!(s.incomplete.is_none());
    }

    #[test]
    fn an_unreadable_file_is_never_a_pass() {
        let s = judge(Scope::Scan, "x".into(), &[], 1, 0);
        assert_eq!(s.verdict, Verdict::Incomplete);
        assert!(s
            .incomplete
            .unwrap()
            .contains("1 exported file could not be read"));
        assert!(!s.conclusion.contains("what was exported"));
    }
}
