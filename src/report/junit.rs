//! `--format junit`: JUnit XML, so CI test dashboards (Azure DevOps, Jenkins, GitLab) show
//! the audit as tests.
//!
//! `<testsuites name="relay-audit">` holds one `<testsuite>` per rule in effect (rule-set
//! order, named by rule id). relay-audit records findings, not every object a rule looked
//! at, so a suite has one `<testcase>` per finding of its rule (`classname` = object kind,
//! `name` = `<rule id> <object id>`), or, when the rule raised nothing, a single passing
//! testcase named by the rule id (skipped when the inputs held no object of the rule's kind,
//! since the rule then judged nothing). A finding at or above `--fail-on` that counts (not
//! waived, not unchanged since the baseline) is a `<failure>`; any other finding is a
//! passing testcase whose `<system-out>` says why it does not fail. A last suite, `inputs`,
//! has one testcase per input file: an error for a file that could not be read, skipped for
//! a file that is not an export.
//!
//! Every value goes through quick-xml's escaping; characters XML 1.0 cannot carry at all
//! (control characters) are replaced with U+FFFD first, and bidi controls, DEL and C1
//! controls are written as visible `\u{..}` escapes.

use crate::input::record::ObjectKind;
use crate::rules::{BaselineState, Finding, Rule, RuleSet};
use crate::scan::{FailOn, InputSummary, Report};
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use std::io::Write;

/// Name of the suite listing the input files (cannot clash with a rule id, which is
/// upper-case).
const INPUTS_SUITE: &str = "inputs";

/// Replaces characters that XML 1.0 does not allow even escaped (and a carriage return,
/// which would overwrite a line where a CI log shows the text) by U+FFFD, and writes the
/// other characters that act on a terminal (DEL, C1 and bidi controls,
/// [`crate::term::is_hidden`]) as visible `\u{..}` escapes.
fn xml_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c if crate::term::is_hidden(c) => out.push_str(&crate::term::visible(&c.to_string())),
            c => out.push(c),
        }
    }
    out
}

/// Element text, escaped for text content (`<`, `>`, `&`; quotes can stay as they are).
fn xml_text(s: &str) -> BytesText<'static> {
    BytesText::from_escaped(partial_escape(xml_safe(s)).into_owned())
}

/// What happens to one finding under `--fail-on`.
enum Verdict {
    Fails,
    Passes(String),
}

fn verdict(f: &Finding, fail_on: FailOn) -> Verdict {
    if let Some(w) = &f.waiver {
        return Verdict::Passes(format!(
            "waived until {} by {}: {} ({})",
            w.expires, w.owner, w.justification, w.source
        ));
    }
    if f.baseline == Some(BaselineState::Unchanged) {
        return Verdict::Passes(
            "unchanged since the baseline: accepted before, does not count toward --fail-on"
                .to_string(),
        );
    }
    match fail_on {
        FailOn::Never => Verdict::Passes("--fail-on never: no finding fails".to_string()),
        FailOn::At(s) if f.severity <= s => Verdict::Fails,
        FailOn::At(s) => {
            Verdict::Passes(format!("severity {} is below --fail-on {}", f.severity, s))
        }
    }
}

/// The finding's story as plain text: message, object, evidence, remediation.
fn details(f: &Finding) -> String {
    let mut t = format!("{}\n\n{}: {}\n", f.message, f.severity, f.title);
    t.push_str(&format!(
        "Object: {} {}",
        f.object.kind.as_str(),
        f.object.id
    ));
    if let Some(s) = &f.object.server {
        t.push_str(&format!(" on server {s}"));
    }
    t.push_str(&format!(" (judged as Exchange {})\n", f.version));
    if let Some(b) = f.baseline {
        t.push_str(match b {
            BaselineState::New => "Baseline: new\n",
            BaselineState::Unchanged => "Baseline: unchanged\n",
        });
    }
    if !f.evidence.is_empty() {
        t.push_str("\nEvidence:\n");
        for e in &f.evidence {
            match e.line {
                Some(l) => t.push_str(&format!(
                    "  {}:{}: {} = {}\n",
                    e.file, l, e.property, e.value
                )),
                None => t.push_str(&format!("  {}: {} = {}\n", e.file, e.property, e.value)),
            }
        }
    }
    t.push_str(&format!("\nRemediation:\n{}\n", f.remediation.trim_end()));
    t.push_str(&format!("\nFingerprint: {}\n", f.fingerprint));
    t
}

struct Case<'a> {
    classname: &'a str,
    name: String,
    outcome: Outcome,
}

enum Outcome {
    Pass(Option<String>),
    Failure {
        message: String,
        kind: String,
        text: String,
    },
    Error {
        message: String,
    },
    Skipped {
        message: String,
    },
}

struct Suite<'a> {
    name: &'a str,
    cases: Vec<Case<'a>>,
}

impl Suite<'_> {
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.outcome)).count()
    }
    fn failures(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failure { .. }))
    }
    fn errors(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Error { .. }))
    }
    fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }
}

fn finding_case(f: &Finding, fail_on: FailOn) -> Case<'_> {
    let outcome = match verdict(f, fail_on) {
        Verdict::Fails => Outcome::Failure {
            message: f.message.clone(),
            kind: f.severity.as_str().to_string(),
            text: details(f),
        },
        Verdict::Passes(why) => Outcome::Pass(Some(format!("passes: {why}\n\n{}", details(f)))),
    };
    Case {
        classname: f.object.kind.as_str(),
        name: format!("{} {}", f.rule, f.object.id),
        outcome,
    }
}

/// Whether the inputs held any object a rule of this kind is evaluated on.
fn kind_present(report: &Report, kind: ObjectKind) -> bool {
    let m = report.model_counts;
    match kind {
        ObjectKind::ReceiveConnector => m.connectors > 0,
        ObjectKind::AdPermission => m.permissions > 0,
        ObjectKind::AcceptedDomain => m.domains > 0,
        ObjectKind::ExchangeServer => m.servers > 0,
        ObjectKind::Imc => m.imcs > 0,
        ObjectKind::SmtpVirtualServer => m.virtual_servers > 0,
        ObjectKind::SmtpConnector => m.smtp_connectors > 0,
        // Every input is an object of this kind.
        ObjectKind::Input => !report.inputs.is_empty(),
        ObjectKind::RelayUsage => m.log_sets > 0,
        // No rule is evaluated on a transport service itself.
        ObjectKind::TransportService => false,
        ObjectKind::Probe => m.probes > 0,
    }
}

fn rule_suite<'a>(report: &'a Report, rule: &'a Rule, fail_on: FailOn) -> Suite<'a> {
    let mut cases: Vec<Case> = report
        .findings
        .iter()
        .filter(|f| f.rule == rule.id)
        .map(|f| finding_case(f, fail_on))
        .collect();
    if cases.is_empty() {
        let outcome = if kind_present(report, rule.object) {
            Outcome::Pass(Some(format!("no finding: {}", rule.title)))
        } else {
            Outcome::Skipped {
                message: format!(
                    "no {} among the inputs: the rule judged nothing",
                    rule.object.as_str()
                ),
            }
        };
        cases.push(Case {
            classname: rule.object.as_str(),
            name: rule.id.clone(),
            outcome,
        });
    }
    Suite {
        name: &rule.id,
        cases,
    }
}

fn input_case(i: &InputSummary) -> Case<'_> {
    let outcome = match i.status {
        "error" => Outcome::Error {
            message: i.error.clone().unwrap_or_else(|| "cannot read".into()),
        },
        "skipped" => Outcome::Skipped {
            message: i
                .skipped
                .first()
                .map(|s| s.reason.clone())
                .unwrap_or_else(|| "not an export".into()),
        },
        _ => Outcome::Pass(Some(format!(
            "{} {} ({}): {} of {} objects used{}",
            i.format.unwrap_or("?"),
            i.kind.as_deref().unwrap_or("no object"),
            i.encoding.unwrap_or("?"),
            i.records_used,
            i.records,
            if i.skipped.is_empty() {
                String::new()
            } else {
                let n: usize = i.skipped.iter().map(|s| s.count).sum();
                format!(", {n} skipped")
            }
        ))),
    };
    Case {
        classname: "input",
        name: i.path.clone(),
        outcome,
    }
}

fn write_case<W: Write>(w: &mut Writer<W>, c: &Case) -> std::io::Result<()> {
    let el = w
        .create_element("testcase")
        .with_attribute(("classname", xml_safe(c.classname).as_str()))
        .with_attribute(("name", xml_safe(&c.name).as_str()));
    match &c.outcome {
        Outcome::Pass(None) => {
            el.write_empty()?;
        }
        Outcome::Pass(Some(out)) => {
            el.write_inner_content(|w| {
                w.create_element("system-out")
                    .write_text_content(xml_text(out))?;
                Ok(())
            })?;
        }
        Outcome::Failure {
            message,
            kind,
            text,
        } => {
            el.write_inner_content(|w| {
                w.create_element("failure")
                    .with_attribute(("message", xml_safe(message).as_str()))
                    .with_attribute(("type", xml_safe(kind).as_str()))
                    .write_text_content(xml_text(text))?;
                Ok(())
            })?;
        }
        Outcome::Error { message } => {
            el.write_inner_content(|w| {
                w.create_element("error")
                    .with_attribute(("message", xml_safe(message).as_str()))
                    .with_attribute(("type", "input"))
                    .write_empty()?;
                Ok(())
            })?;
        }
        Outcome::Skipped { message } => {
            el.write_inner_content(|w| {
                w.create_element("skipped")
                    .with_attribute(("message", xml_safe(message).as_str()))
                    .write_empty()?;
                Ok(())
            })?;
        }
    }
    Ok(())
}

pub fn write(
    report: &Report,
    rules: &RuleSet,
    fail_on: FailOn,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut suites: Vec<Suite> = rules
        .rules
        .iter()
        .map(|r| rule_suite(report, r, fail_on))
        .collect();
    // Findings of a rule the rule set does not name (not expected): their own suites, so
    // that nothing is lost.
    for f in &report.findings {
        if rules.rules.iter().any(|r| r.id == f.rule) {
            continue;
        }
        match suites.iter_mut().find(|s| s.name == f.rule) {
            Some(s) => s.cases.push(finding_case(f, fail_on)),
            None => suites.push(Suite {
                name: &f.rule,
                cases: vec![finding_case(f, fail_on)],
            }),
        }
    }
    suites.push(Suite {
        name: INPUTS_SUITE,
        cases: report.inputs.iter().map(input_case).collect(),
    });

    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(Suite::failures).sum();
    let errors: usize = suites.iter().map(Suite::errors).sum();

    let mut w = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("testsuites")
        .with_attribute(("name", xml_safe(report.tool.name).as_str()))
        .with_attribute(("tests", tests.to_string().as_str()))
        .with_attribute(("failures", failures.to_string().as_str()))
        .with_attribute(("errors", errors.to_string().as_str()))
        // No `skipped` here: the Jenkins xUnit schema (junit-10.xsd) allows it on
        // `<testsuite>` only, and strict consumers reject it on `<testsuites>`.
        .write_inner_content(|w| {
            for s in &suites {
                w.create_element("testsuite")
                    .with_attribute(("name", xml_safe(s.name).as_str()))
                    .with_attribute(("tests", s.cases.len().to_string().as_str()))
                    .with_attribute(("failures", s.failures().to_string().as_str()))
                    .with_attribute(("errors", s.errors().to_string().as_str()))
                    .with_attribute(("skipped", s.skipped().to_string().as_str()))
                    .write_inner_content(|w| {
                        for c in &s.cases {
                            write_case(w, c)?;
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    let out = w.into_inner();
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_replaced() {
        assert_eq!(xml_safe("a\u{1}b\tc\u{FFFF}"), "a\u{FFFD}b\tc\u{FFFD}");
    }
}
