//! `--format sarif`: one SARIF 2.1.0 log (OASIS), for GitHub code scanning, Azure DevOps and
//! other SARIF viewers.
//!
//! One run. `tool.driver.rules` holds one reporting descriptor per rule in effect (in rule-set
//! order, so `ruleIndex` points into it); `results` holds one result per finding, in report
//! order, with the evidence as its locations. Files are relative URIs against `%SRCROOT%`
//! (absolute paths become `file://` URIs). Waived findings carry an accepted external
//! suppression, baseline state goes into `baselineState`, input warnings and errors become
//! tool execution notifications, and every input file is listed under `artifacts`.
//!
//! The structs below cover only what relay-audit emits; the shape follows the SARIF 2.1.0
//! schema (`tests/sarif-schema-2.1.0.json`, which the tests validate against).

use crate::diag::Level;
use crate::rules::{BaselineState, Finding, Rule, RuleSet, Severity};
use crate::scan::{FailOn, InputSummary, Report};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

use super::{repo_path, work_root};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The project's home (Cargo.toml `repository`: one place to change it).
const INFORMATION_URI: &str = env!("CARGO_PKG_REPOSITORY");
const SRCROOT: &str = "%SRCROOT%";
/// The key of `partialFingerprints`: versioned, so a change of the fingerprint recipe can
/// use a new key instead of silently matching different things.
const FINGERPRINT_KEY: &str = "relayAudit/v1";
/// GitHub code scanning rejects a run with more results than this ("SARIF results exceed
/// hard limit"); the worst are kept (findings arrive worst first) and the rest counted.
pub const MAX_RESULTS: usize = 25_000;
/// ... and a result with more locations than this.
pub const MAX_LOCATIONS: usize = 1_000;

#[derive(Serialize)]
struct SarifLog<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    /// The analysis category (`relay-audit/scan/`, `relay-audit/probe/`): GitHub code scanning
    /// keeps one set of alerts per category, so a probe's upload does not replace a scan's.
    automation_details: AutomationDetails,
    /// `%SRCROOT%`: the working directory the scan ran in, which relative URIs are against.
    original_uri_base_ids: BTreeMap<&'static str, BaseUri>,
    invocations: Vec<Invocation>,
    artifacts: Vec<Artifact<'a>>,
    results: Vec<SarifResult<'a>>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct BaseUri {
    uri: String,
    description: Text,
}

#[derive(Serialize)]
struct AutomationDetails {
    id: String,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'a str,
    full_name: String,
    version: &'a str,
    semantic_version: &'a str,
    information_uri: &'static str,
    rules: Vec<ReportingDescriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor<'a> {
    id: &'a str,
    name: String,
    short_description: Text,
    full_description: Text,
    help: MultiformatText,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<&'a str>,
    default_configuration: Configuration,
    properties: RuleProperties<'a>,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct MultiformatText {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleProperties<'a> {
    category: &'a str,
    severity: &'static str,
    /// GitHub code scanning reads this (a CVSS-like score as a string) to rank alerts.
    #[serde(rename = "security-severity")]
    security_severity: &'static str,
    object_kind: &'static str,
    versions: &'a [String],
    source: &'a str,
    tags: Vec<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    message: Text,
    locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_state: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression<'a>>,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<PhysicalLocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Text>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    name: String,
    fully_qualified_name: String,
    kind: &'static str,
}

#[derive(Serialize)]
struct Suppression<'a> {
    kind: &'static str,
    status: &'static str,
    justification: &'a str,
    properties: SuppressionProperties<'a>,
}

#[derive(Serialize)]
struct SuppressionProperties<'a> {
    owner: &'a str,
    expires: &'a str,
    source: &'a str,
}

#[derive(Serialize)]
struct ResultProperties<'a> {
    severity: &'static str,
    category: &'a str,
    title: &'a str,
    object: &'a crate::rules::ObjectRef,
    /// The Exchange version the finding was judged under.
    version: &'a str,
    remediation: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<BaselineState>,
    /// Whether the finding counts toward `--fail-on` (not waived, not baseline-unchanged).
    counts: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Artifact<'a> {
    location: ArtifactLocation,
    roles: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'a str>,
    properties: ArtifactProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactProperties<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    records: usize,
    records_used: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties<'a> {
    rules_version: &'a str,
    /// `--fail-on` as given (`never` or a severity).
    fail_on: &'static str,
    summary: &'a crate::scan::Summary,
    /// With `--baseline`: baseline findings this scan no longer raises.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    resolved: &'a [crate::scan::Resolved],
}

/// SARIF `level` for a severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// `Anonymous relay open to the whole Internet` → `AnonymousRelayOpenToTheWholeInternet`.
fn pascal_case(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    for word in title.split(|c: char| !c.is_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() {
        title.to_string()
    } else {
        out
    }
}

/// Percent-encodes what may not stand as is in a URI path: keeps unreserved characters,
/// sub-delimiters, `@` and `/`; encodes `:` too, so a relative path's first segment cannot
/// be read as a scheme.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'/'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'@'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The artifact location of a file as the report names it: a relative URI against
/// `%SRCROOT%` (with `/` separators, without a leading `./`), or a `file://` URI for an
/// absolute path.
fn artifact_location(file: &str, index: Option<usize>) -> ArtifactLocation {
    let p = file.replace('\\', "/");
    let bytes = p.as_bytes();
    let drive =
        bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/';
    if let Some(unc) = p.strip_prefix("//") {
        // \\server\share\file
        let (host, rest) = unc.split_once('/').unwrap_or((unc, ""));
        return ArtifactLocation {
            uri: format!("file://{}/{}", encode_path(host), encode_path(rest)),
            uri_base_id: None,
            index,
        };
    }
    if drive {
        return ArtifactLocation {
            uri: format!("file:///{}:{}", &p[..1], encode_path(&p[2..])),
            uri_base_id: None,
            index,
        };
    }
    if p.starts_with('/') {
        return ArtifactLocation {
            uri: format!("file://{}", encode_path(&p)),
            uri_base_id: None,
            index,
        };
    }
    let mut rel = p.as_str();
    while let Some(r) = rel.strip_prefix("./") {
        rel = r;
    }
    ArtifactLocation {
        uri: encode_path(rel),
        uri_base_id: Some(SRCROOT),
        index,
    }
}

fn physical(
    file: &str,
    line: Option<u32>,
    inputs: &[InputSummary],
    root: Option<&Path>,
) -> PhysicalLocation {
    let index = inputs.iter().position(|i| i.path == file);
    PhysicalLocation {
        // Under the working directory, an absolute path becomes relative to `%SRCROOT%`: the
        // same URI, and so the same alert, from a checkout anywhere.
        artifact_location: artifact_location(&repo_path(file, root), index),
        // SARIF lines are 1-based; an unknown (or zero) line leaves the region out.
        region: line.filter(|&l| l >= 1).map(|l| Region { start_line: l }),
    }
}

fn logical(f: &Finding) -> LogicalLocation {
    LogicalLocation {
        name: f.object.id.clone(),
        fully_qualified_name: format!("{}:{}", f.object.kind.as_str(), f.object.id),
        kind: "resource",
    }
}

fn descriptor(r: &Rule) -> ReportingDescriptor<'_> {
    let why = r.why.trim();
    // The rule's help is about no object in particular: placeholders read as stand-ins
    // (`'<connector identity>'`), never as the template's `{object}`.
    let remediation = r.remediation_help();
    let remediation = remediation.trim();
    let mut markdown = format!("**Why is this bad?**\n\n{why}\n\n**Remediation**\n\n");
    let fence = fence_for(remediation);
    markdown.push_str(&format!("{fence}powershell\n{remediation}\n{fence}\n"));
    if !r.references.is_empty() {
        markdown.push_str("\n**References**\n\n");
        for u in &r.references {
            markdown.push_str(&format!("- <{u}>\n"));
        }
    }
    let mut tags = vec!["security", r.category.as_str(), r.object.as_str()];
    tags.dedup();
    ReportingDescriptor {
        id: &r.id,
        name: pascal_case(&r.title),
        short_description: Text {
            text: r.title.clone(),
        },
        full_description: Text {
            text: r.what.trim().to_string(),
        },
        help: MultiformatText {
            text: format!("{why}\n\nRemediation:\n{remediation}"),
            markdown,
        },
        help_uri: r
            .references
            .iter()
            .find(|u| u.starts_with("https://") || u.starts_with("http://"))
            .map(String::as_str),
        default_configuration: Configuration {
            level: level(r.severity),
        },
        properties: RuleProperties {
            category: &r.category,
            severity: r.severity.as_str(),
            security_severity: security_severity(r.severity),
            object_kind: r.object.as_str(),
            versions: &r.versions,
            source: &r.source,
            tags,
        },
    }
}

/// A backtick fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

fn result<'a>(
    f: &'a Finding,
    rules: &RuleSet,
    inputs: &[InputSummary],
    root: Option<&Path>,
) -> SarifResult<'a> {
    // Code scanning shows the first location: the decisive evidence (the grant, then the
    // ranges), not a precondition like `Enabled = true`.
    let mut locations: Vec<Location> = f
        .decisive_evidence()
        .into_iter()
        .take(MAX_LOCATIONS)
        .map(|e| Location {
            // A live probe's evidence is a conversation, not a file: only what it cites from
            // the export (a connector, with its line) has a physical location.
            physical_location: (f.object.kind != crate::input::record::ObjectKind::Probe
                || e.line.is_some())
            .then(|| physical(&e.file, e.line, inputs, root)),
            logical_locations: vec![logical(f)],
            message: Some(Text {
                text: format!("{} = {}", e.property, e.value),
            }),
        })
        .collect();
    if locations.is_empty() {
        locations.push(Location {
            physical_location: None,
            logical_locations: vec![logical(f)],
            message: None,
        });
    }
    let suppressions = match &f.waiver {
        Some(w) => vec![Suppression {
            kind: "external",
            status: "accepted",
            justification: &w.justification,
            properties: SuppressionProperties {
                owner: &w.owner,
                expires: &w.expires,
                source: &w.source,
            },
        }],
        None => Vec::new(),
    };
    SarifResult {
        rule_id: &f.rule,
        rule_index: rules.rules.iter().position(|r| r.id == f.rule),
        level: level(f.severity),
        message: Text {
            text: f.message.clone(),
        },
        locations,
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, f.fingerprint.as_str())]),
        baseline_state: f.baseline.map(|b| match b {
            BaselineState::New => "new",
            BaselineState::Unchanged => "unchanged",
        }),
        suppressions,
        properties: ResultProperties {
            severity: f.severity.as_str(),
            category: &f.category,
            title: &f.title,
            object: &f.object,
            version: &f.version,
            remediation: &f.remediation,
            baseline: f.baseline,
            counts: f.counts(),
        },
    }
}

fn artifact<'a>(i: &'a InputSummary, root: Option<&Path>) -> Artifact<'a> {
    Artifact {
        location: artifact_location(&repo_path(&i.path, root), None),
        roles: ["analysisTarget"],
        mime_type: match i.format {
            Some("clixml") => Some("application/xml"),
            Some("csv") => Some("text/csv"),
            Some(_) => Some("text/plain"),
            None => None,
        },
        encoding: i.encoding,
        properties: ArtifactProperties {
            status: i.status,
            format: i.format,
            kind: i.kind.as_deref(),
            records: i.records,
            records_used: i.records_used,
            error: i.error.as_deref(),
        },
    }
}

pub fn write(
    report: &Report,
    rules: &RuleSet,
    fail_on: FailOn,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let root = work_root();
    let mut notifications: Vec<Notification> = report
        .diagnostics
        .iter()
        .filter_map(|d| {
            let level = match d.level {
                Level::Error => "error",
                Level::Warning => "warning",
                Level::Info => return None,
            };
            Some(Notification {
                level,
                message: Text {
                    text: d.message.clone(),
                },
                locations: vec![Location {
                    physical_location: Some(physical(
                        &d.file,
                        d.line,
                        &report.inputs,
                        root.as_deref(),
                    )),
                    logical_locations: Vec::new(),
                    message: None,
                }],
            })
        })
        .collect();
    let left_out = report.findings.len().saturating_sub(MAX_RESULTS);
    if left_out > 0 {
        notifications.push(Notification {
            level: "warning",
            message: Text {
                text: format!(
                    "{left_out} findings left out of this log: code scanning accepts {MAX_RESULTS} results per run (the worst are here; --format json has all)"
                ),
            },
            locations: Vec::new(),
        });
    }
    let log = SarifLog {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            automation_details: AutomationDetails {
                id: if report.probes.is_empty() {
                    "relay-audit/scan/".into()
                } else {
                    "relay-audit/probe/".into()
                },
            },
            original_uri_base_ids: root
                .as_deref()
                .map(|r| {
                    let mut uri = artifact_location(&r.to_string_lossy(), None).uri;
                    if !uri.ends_with('/') {
                        uri.push('/');
                    }
                    BTreeMap::from([(
                        SRCROOT,
                        BaseUri {
                            uri,
                            description: Text {
                                text: "The working directory of the scan; relative paths in \
                                       this log are against it."
                                    .into(),
                            },
                        },
                    )])
                })
                .unwrap_or_default(),
            tool: Tool {
                driver: Driver {
                    name: report.tool.name,
                    full_name: format!(
                        "{} {} (offline audit of Exchange SMTP relay configuration, and a live relay probe)",
                        report.tool.name, report.tool.version
                    ),
                    version: report.tool.version,
                    semantic_version: report.tool.version,
                    information_uri: INFORMATION_URI,
                    rules: rules.rules.iter().map(descriptor).collect(),
                },
            },
            invocations: vec![Invocation {
                execution_successful: report.errors.is_empty(),
                tool_execution_notifications: notifications,
            }],
            artifacts: report
                .inputs
                .iter()
                .map(|i| artifact(i, root.as_deref()))
                .collect(),
            results: report
                .findings
                .iter()
                .take(MAX_RESULTS)
                .map(|f| result(f, rules, &report.inputs, root.as_deref()))
                .collect(),
            properties: RunProperties {
                rules_version: &report.rules_version,
                fail_on: match fail_on {
                    FailOn::Never => "never",
                    FailOn::At(s) => s.as_str(),
                },
                summary: &report.summary,
                resolved: &report.resolved,
            },
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_relative_uris() {
        let l = artifact_location("exports\\EX01_Anonymous Relay EX01.xml", Some(2));
        assert_eq!(l.uri, "exports/EX01_Anonymous%20Relay%20EX01.xml");
        assert_eq!(l.uri_base_id, Some(SRCROOT));
        assert_eq!(l.index, Some(2));
        assert_eq!(artifact_location("./a/b:c.xml", None).uri, "a/b%3Ac.xml");
        assert_eq!(artifact_location("(rules)", None).uri, "(rules)");
    }

    #[test]
    fn absolute_paths_are_file_uris() {
        let l = artifact_location("/srv/exports/rc #1.xml", None);
        assert_eq!(l.uri, "file:///srv/exports/rc%20%231.xml");
        assert_eq!(l.uri_base_id, None);
        assert_eq!(
            artifact_location("C:\\exports\\rc.xml", None).uri,
            "file:///C:/exports/rc.xml"
        );
        assert_eq!(
            artifact_location("\\\\fs01\\share\\rc.xml", None).uri,
            "file://fs01/share/rc.xml"
        );
    }

    #[test]
    fn names_and_levels() {
        assert_eq!(
            pascal_case("Anonymous relay open to the whole Internet"),
            "AnonymousRelayOpenToTheWholeInternet"
        );
        assert_eq!(
            pascal_case("Relay on a non-default (custom) port"),
            "RelayOnANonDefaultCustomPort"
        );
        assert_eq!(level(Severity::High), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Info), "note");
        assert_eq!(fence_for("a ``` b"), "````");
    }
}
