//! Rules: data in `rules/<kind>/<ID>.toml`, embedded in the binary and extendable with
//! `--rules PATH`; loaded, validated, then evaluated over the model and its analysis facts.
//!
//! A rule file is one rule. It is parsed with `deny_unknown_fields` (a typo fails with
//! `file:line:col` and what was expected), then validated (predicates on the right object
//! kind, known principal classes, regexes that compile). A user rule whose id equals a
//! built-in one replaces it. Evaluation produces [`Finding`]s; it never formats output.

pub mod cond;

use crate::analysis::Facts;
use crate::input::record::ObjectKind;
use crate::model::{Model, Product};
use cond::{Cond, Evidence, Subject};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// Severities, worst first (the DESIGN.md contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` honours width and alignment (`{:<8}` in `rules list`).
        f.pad(self.as_str())
    }
}

/// A rule file as written (serde layer).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    title: String,
    severity: Severity,
    /// `relay`, `spoofing`, `hygiene` or `evidence-incomplete`.
    category: String,
    object: String,
    /// Exchange versions the rule applies to (`4.0`, `5.0`, `5.5`, `2000`, ..., `2019`, `SE`).
    versions: Vec<String>,
    message: String,
    when: Cond,
    what: String,
    why: String,
    #[serde(default)]
    example: Option<String>,
    #[serde(default)]
    known_problems: Option<String>,
    remediation: String,
    #[serde(default)]
    references: Vec<String>,
}

/// A validated rule.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub category: String,
    pub object: ObjectKind,
    pub versions: Vec<String>,
    pub message: String,
    #[serde(skip)]
    pub when: Cond,
    pub what: String,
    pub why: String,
    pub example: Option<String>,
    pub known_problems: Option<String>,
    pub remediation: String,
    pub references: Vec<String>,
    /// Where the rule was defined (`rules/receive-connector/ID.toml` or a user path).
    pub source: String,
    #[serde(skip)]
    products: Vec<Product>,
}

pub const CATEGORIES: &[&str] = &["relay", "spoofing", "hygiene", "evidence-incomplete"];

/// A rule file that could not be loaded: `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: invalid rule file: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

impl std::error::Error for RuleError {}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

fn locate(text: &str, needle: &str) -> (usize, usize) {
    match text.find(needle) {
        Some(off) => line_col(text, off),
        None => (1, 1),
    }
}

/// Parses and validates one rule file.
pub fn parse_rule(file: &str, text: &str) -> Result<Rule, RuleError> {
    let raw: RawRule = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        RuleError {
            file: file.to_string(),
            line,
            col,
            message: e.message().trim().to_string(),
        }
    })?;
    let fail = |needle: &str, message: String| {
        let (line, col) = locate(text, needle);
        RuleError {
            file: file.to_string(),
            line,
            col,
            message,
        }
    };
    let object = ObjectKind::parse(&raw.object).ok_or_else(|| {
        fail(
            &raw.object,
            format!(
                "unknown object kind `{}`, expected one of: receive-connector, ad-permission, accepted-domain, exchange-server, imc, smtp-virtual-server, smtp-connector, input",
                raw.object
            ),
        )
    })?;
    if !CATEGORIES.contains(&raw.category.as_str()) {
        return Err(fail(
            &raw.category,
            format!(
                "unknown category `{}`, expected one of: {}",
                raw.category,
                CATEGORIES.join(", ")
            ),
        ));
    }
    let valid_id = !raw.id.is_empty()
        && raw
            .id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
    if !valid_id {
        return Err(fail(
            &raw.id,
            format!(
                "rule id `{}` must be upper-case letters, digits and dashes",
                raw.id
            ),
        ));
    }
    let mut products = Vec::new();
    for v in &raw.versions {
        match Product::parse(v) {
            Some(p) => products.push(p),
            None => {
                return Err(fail(
                    v,
                    format!(
                        "unknown Exchange version `{v}`, expected one of: 4.0, 5.0, 5.5, 2000, 2003, 2007, 2010, 2013, 2016, 2019, SE"
                    ),
                ))
            }
        }
    }
    let mut problems = Vec::new();
    raw.when.validate(object, &mut problems);
    if let Some((msg, needle)) = problems.into_iter().next() {
        return Err(fail(&needle, msg));
    }
    for (name, v) in [
        ("title", &raw.title),
        ("message", &raw.message),
        ("what", &raw.what),
        ("why", &raw.why),
        ("remediation", &raw.remediation),
    ] {
        if v.trim().is_empty() {
            return Err(fail(name, format!("`{name}` must not be empty")));
        }
    }
    Ok(Rule {
        id: raw.id,
        title: raw.title,
        severity: raw.severity,
        category: raw.category,
        object,
        versions: raw.versions,
        message: raw.message,
        when: raw.when,
        what: raw.what,
        why: raw.why,
        example: raw.example,
        known_problems: raw.known_problems,
        remediation: raw.remediation,
        references: raw.references,
        source: file.to_string(),
        products,
    })
}

/// The rule set in effect.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// Notes about loading (a user rule overriding a built-in one).
    pub notes: Vec<String>,
}

impl RuleSet {
    /// The built-in rules. Panics only if a built-in rule is invalid, which the test suite
    /// prevents.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        let mut set = RuleSet::default();
        for (path, text) in BUILTIN_RULES {
            let r = parse_rule(path, text)?;
            if let Some(other) = set.rules.iter().find(|x| x.id == r.id) {
                return Err(RuleError {
                    file: path.to_string(),
                    line: 1,
                    col: 1,
                    message: format!("rule id {} is also defined in {}", r.id, other.source),
                });
            }
            set.rules.push(r);
        }
        Ok(set)
    }

    /// Adds user rules from a file or a folder of `.toml` files.
    pub fn add_path(&mut self, path: &Path) -> Result<(), RuleError> {
        let mut files = Vec::new();
        if path.is_dir() {
            collect_toml(path, &mut files);
            files.sort();
        } else {
            files.push(path.to_path_buf());
        }
        for f in files {
            let name = f.display().to_string();
            let text = std::fs::read_to_string(&f).map_err(|e| RuleError {
                file: name.clone(),
                line: 1,
                col: 1,
                message: format!("cannot read: {e}"),
            })?;
            let r = parse_rule(&name, &text)?;
            if let Some(i) = self.rules.iter().position(|x| x.id == r.id) {
                self.notes.push(format!(
                    "rule {} from {} replaces the one from {}",
                    r.id, name, self.rules[i].source
                ));
                self.rules[i] = r;
            } else {
                self.rules.push(r);
            }
        }
        Ok(())
    }

    /// A short digest of every rule in effect (id, severity, source and condition), so a
    /// report says which rule set judged it.
    pub fn version(&self) -> String {
        let mut text = String::new();
        for r in &self.rules {
            text.push_str(&format!(
                "{}|{}|{}|{:?}\n",
                r.id, r.severity, r.source, r.when
            ));
        }
        format!(
            "{}+{}",
            env!("CARGO_PKG_VERSION"),
            &fingerprint(&text, ObjectKind::ReceiveConnector, "")[..8]
        )
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id.eq_ignore_ascii_case(id))
    }
}

fn collect_toml(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                collect_toml(&p, out);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
}

/// The object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    /// The identity as Exchange prints it.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

/// One rule firing on one object.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub category: String,
    pub title: String,
    pub object: ObjectRef,
    /// The Exchange version the finding was judged under (`2019`, or `2007+` when no
    /// Get-ExchangeServer export says).
    pub version: String,
    pub message: String,
    pub evidence: Vec<Evidence>,
    pub remediation: String,
    pub fingerprint: String,
    /// Set when an operator waiver accepts this finding (it then never fails CI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<Waived>,
    /// With `--baseline`: `new` (not in the baseline; counts toward `--fail-on`) or
    /// `unchanged` (accepted before; does not count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineState>,
}

impl Finding {
    /// Does this finding count toward `--fail-on`? Waived and baseline-unchanged ones don't.
    pub fn counts(&self) -> bool {
        self.waiver.is_none() && self.baseline != Some(BaselineState::Unchanged)
    }
}

/// The waiver that accepted a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waived {
    pub justification: String,
    pub owner: String,
    /// `YYYY-MM-DD`: the waiver stops applying after this day.
    pub expires: String,
    /// Where the waiver is written (`waivers.toml:12`).
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineState {
    New,
    Unchanged,
}

/// The object id of a permission entry whose export did not say which connector it is on.
pub const NO_IDENTITY: &str = "(connector not named in the export)";

/// A stable fingerprint: FNV-1a 64 over rule id, object kind and lower-cased identity, so
/// the same rule on the same object matches across runs and input formats.
pub fn fingerprint(rule: &str, kind: ObjectKind, id: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in rule
        .bytes()
        .chain([0])
        .chain(kind.as_str().bytes())
        .chain([0])
        .chain(id.trim().to_lowercase().into_bytes())
    {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// Escapes a value for a single-quoted PowerShell string: `'` (and the typographic single
/// quotes PowerShell also accepts as quote characters) doubled, line breaks and other control
/// characters dropped. Remediation templates put every placeholder inside '...', so a
/// connector named `x'; Remove-Item ...; '` stays one harmless argument when pasted.
pub fn ps_quote_content(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Fills a remediation template: values are escaped for PowerShell single quotes.
fn render_command(template: &str, vars: &dyn Fn(&str) -> Option<String>) -> String {
    render(template, &|k| vars(k).map(|v| ps_quote_content(&v)))
}

fn render(template: &str, vars: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j)
                if after[..j]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                let key = &after[..j];
                match vars(key) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[j + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Rule {
    fn applies_to(&self, product: Option<Product>) -> bool {
        match product {
            // Receive connectors exist from 2007 on; an unknown version is judged as 2007+.
            None => true,
            Some(p) => self.products.is_empty() || self.products.contains(&p),
        }
    }

    /// The finding this rule raises on one object: message and remediation rendered with
    /// `vars`, evidence deduplicated, fingerprint from rule, kind and identity.
    fn finding(
        &self,
        object: ObjectRef,
        version: String,
        vars: &dyn Fn(&str) -> Option<String>,
        evidence: Vec<Evidence>,
    ) -> Finding {
        Finding {
            rule: self.id.clone(),
            severity: self.severity,
            category: self.category.clone(),
            title: self.title.clone(),
            fingerprint: fingerprint(&self.id, object.kind, &object.id),
            object,
            version,
            message: render(&self.message, vars),
            evidence: dedup(evidence),
            remediation: render_command(&self.remediation, vars),
            waiver: None,
            baseline: None,
        }
    }
}

/// Evaluates every rule over the model.
pub fn evaluate(rules: &RuleSet, model: &Model, facts: &Facts<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let products: std::collections::HashMap<String, Product> = model
        .servers
        .iter()
        .filter_map(|s| s.product.map(|p| (s.name.to_lowercase(), p)))
        .collect();
    let version_of = |server: &str| -> (Option<Product>, String) {
        match products.get(&server.to_lowercase()).copied() {
            Some(p) => (Some(p), p.as_str().to_string()),
            None => (None, "2007+".to_string()),
        }
    };
    for rule in &rules.rules {
        match rule.object {
            ObjectKind::ReceiveConnector => {
                for f in &facts.connectors {
                    let c = f.connector;
                    let (product, version) = version_of(&c.server);
                    if !rule.applies_to(product) {
                        continue;
                    }
                    if let Some(evidence) = rule.when.eval(&Subject::Connector(f)) {
                        let vars = |k: &str| -> Option<String> {
                            match k {
                                "object" => Some(c.identity.clone()),
                                "server" => Some(c.server.clone()),
                                "name" => Some(c.name.clone()),
                                _ => c.raw(k).map(|r| {
                                    if r.truncated {
                                        format!("{}...", r.value.trim_end_matches("..."))
                                    } else {
                                        r.value.clone()
                                    }
                                }),
                            }
                        };
                        out.push(rule.finding(
                            ObjectRef {
                                kind: ObjectKind::ReceiveConnector,
                                id: c.identity.clone(),
                                server: Some(c.server.clone()).filter(|s| !s.is_empty()),
                            },
                            version,
                            &vars,
                            evidence,
                        ));
                    }
                }
            }
            ObjectKind::AcceptedDomain => {
                for d in &model.domains {
                    if let Some(evidence) = rule.when.eval(&Subject::Domain(d)) {
                        let vars = |k: &str| -> Option<String> {
                            match k {
                                "object" => Some(d.identity.clone()),
                                "domain" | "DomainName" => Some(d.domain_name.clone()),
                                "DomainType" => d.domain_type.clone(),
                                _ => d
                                    .raw
                                    .iter()
                                    .find(|r| r.name.eq_ignore_ascii_case(k))
                                    .map(|r| r.value.clone()),
                            }
                        };
                        out.push(rule.finding(
                            ObjectRef {
                                kind: ObjectKind::AcceptedDomain,
                                id: d.identity.clone(),
                                server: None,
                            },
                            org_version(model),
                            &vars,
                            evidence,
                        ));
                    }
                }
            }
            ObjectKind::AdPermission => {
                // One finding per connector identity, citing every matching entry.
                let mut by_target: Vec<(String, Vec<Evidence>, Option<String>)> = Vec::new();
                let mut target_index: std::collections::HashMap<String, usize> =
                    std::collections::HashMap::new();
                for a in &model.aces {
                    let exported = a
                        .identity
                        .as_deref()
                        .is_some_and(|id| facts.connector(id).is_some());
                    let subject = Subject::Ace {
                        ace: a,
                        connector_exported: exported,
                    };
                    if let Some(ev) = rule.when.eval(&subject) {
                        let target = a
                            .identity
                            .clone()
                            .unwrap_or_else(|| NO_IDENTITY.to_string());
                        let server = (target != NO_IDENTITY)
                            .then(|| target.split_once('\\').map(|(s, _)| s.to_string()))
                            .flatten();
                        match target_index.get(&target.to_lowercase()) {
                            Some(&i) => by_target[i].1.extend(ev),
                            None => {
                                target_index.insert(target.to_lowercase(), by_target.len());
                                by_target.push((target, ev, server));
                            }
                        }
                    }
                }
                for (target, evidence, server) in by_target {
                    let vars = |k: &str| -> Option<String> {
                        match k {
                            "object" => Some(target.clone()),
                            "server" => server.clone(),
                            _ => None,
                        }
                    };
                    let version = server
                        .as_deref()
                        .map(|s| version_of(s).1)
                        .unwrap_or_else(|| "2007+".into());
                    out.push(rule.finding(
                        ObjectRef {
                            kind: ObjectKind::AdPermission,
                            id: target.clone(),
                            server: server.clone(),
                        },
                        version,
                        &vars,
                        evidence,
                    ));
                }
            }
            ObjectKind::ExchangeServer => {}
            ObjectKind::Input => {
                for g in &model.gaps {
                    let Some(evidence) = rule.when.eval(&Subject::Input(g)) else {
                        continue;
                    };
                    let file = g.src.file.to_string();
                    let first = g
                        .lines
                        .first()
                        .map(|(l, t)| format!("line {l}: {}", crate::input::lines::clip(t, 120)))
                        .unwrap_or_default();
                    let vars = |k: &str| -> Option<String> {
                        match k {
                            "object" | "file" => Some(file.clone()),
                            "count" => Some(g.count.to_string()),
                            "first" => Some(first.clone()),
                            "objects_used" => Some(g.objects_used.to_string()),
                            _ => None,
                        }
                    };
                    out.push(rule.finding(
                        ObjectRef {
                            kind: ObjectKind::Input,
                            id: file.clone(),
                            server: None,
                        },
                        org_version(model),
                        &vars,
                        evidence,
                    ));
                }
            }
            ObjectKind::Imc | ObjectKind::SmtpVirtualServer | ObjectKind::SmtpConnector => {
                for o in model.legacy.iter().filter(|o| o.kind == rule.object) {
                    if !rule.applies_to(o.product) {
                        continue;
                    }
                    let Some(evidence) = rule.when.eval(&Subject::Legacy(o)) else {
                        continue;
                    };
                    let vars = |k: &str| -> Option<String> {
                        match k {
                            "object" => Some(o.identity.clone()),
                            "server" => Some(o.server.clone()),
                            "name" => Some(o.name.clone()),
                            _ => o.raw(k).map(|r| r.value.clone()),
                        }
                    };
                    // Without a version (a .reg or LDIF export alone), the kind says which
                    // generation the object belongs to.
                    let version = o
                        .product
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_else(|| match o.kind {
                            ObjectKind::Imc => "4.0-5.5".into(),
                            _ => "2000/2003".into(),
                        });
                    out.push(rule.finding(
                        ObjectRef {
                            kind: o.kind,
                            id: o.identity.clone(),
                            server: Some(o.server.clone()),
                        },
                        version,
                        &vars,
                        evidence,
                    ));
                }
            }
        }
    }
    sort_findings(&mut out);
    out
}

fn dedup(mut ev: Vec<Evidence>) -> Vec<Evidence> {
    let mut seen = std::collections::HashSet::new();
    ev.retain(|e| seen.insert((e.property.clone(), e.value.clone(), e.file.clone(), e.line)));
    ev
}

/// The newest version among the exported servers (accepted domains are organisation-wide).
fn org_version(model: &Model) -> String {
    model
        .servers
        .iter()
        .filter_map(|s| s.product)
        .max()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "2007+".into())
}

/// Worst first, then by server, object and rule: deterministic output.
pub fn sort_findings(f: &mut [Finding]) {
    f.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then_with(|| a.object.server.cmp(&b.object.server))
            .then_with(|| a.object.id.to_lowercase().cmp(&b.object.id.to_lowercase()))
            .then_with(|| a.rule.cmp(&b.rule))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_load_and_ids_are_unique() {
        let set = RuleSet::builtin().unwrap();
        assert!(set.rules.len() >= 12, "{}", set.rules.len());
        for r in &set.rules {
            let file_id = r
                .source
                .rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches(".toml");
            assert_eq!(file_id, r.id, "file name must be the rule id");
            let dir = r.source.split('/').nth(1).unwrap();
            assert_eq!(
                dir,
                r.object.as_str(),
                "{} is filed under its object kind",
                r.id
            );
            assert!(!r.references.is_empty(), "{} cites references", r.id);
            assert!(r.example.is_some(), "{} has an example", r.id);
        }
    }

    #[test]
    fn typo_reports_file_line_col_and_expected() {
        let text = "id = \"X-1\"\ntitle = \"t\"\nseverity = \"high\"\ncategory = \"relay\"\nobject = \"receive-connector\"\nversions = [\"2019\"]\nmessage = \"m\"\nwhat = \"w\"\nwhy = \"y\"\nremediation = \"r\"\nwhen.all = [\n  { public_adresses_gt = 256 },\n]\n";
        let e = parse_rule("my.toml", text).unwrap_err();
        assert_eq!((e.line, e.col), (12, 5), "{e}");
        assert!(e.message.contains("public_addresses_gt"), "{e}");
        assert!(e.to_string().starts_with("my.toml:12:5: "), "{e}");
    }

    #[test]
    fn severity_typo_names_the_choices() {
        let text = "id = \"X-1\"\ntitle = \"t\"\nseverity = \"hihg\"\n";
        let e = parse_rule("my.toml", text).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("critical"), "{e}");
    }

    #[test]
    fn fingerprints_are_stable_and_case_insensitive() {
        let a = fingerprint("R", ObjectKind::ReceiveConnector, "EX01\\Relay");
        let b = fingerprint("R", ObjectKind::ReceiveConnector, "ex01\\relay ");
        assert_eq!(a, b);
        assert_eq!(a.len(), 16);
        assert_ne!(
            a,
            fingerprint("R2", ObjectKind::ReceiveConnector, "EX01\\Relay")
        );
    }

    #[test]
    fn remediation_values_cannot_break_out_of_their_quotes() {
        let r = render_command("Remove-AcceptedDomain -Identity '{object}'", &|_| {
            Some("x'; Remove-Item C:\\ -Recurse; '\n".into())
        });
        assert_eq!(
            r,
            "Remove-AcceptedDomain -Identity 'x''; Remove-Item C:\\ -Recurse; '''"
        );
        // and every built-in remediation puts its placeholders inside single quotes
        for rule in RuleSet::builtin().unwrap().rules {
            for line in rule.remediation.lines() {
                let mut quotes = 0;
                for (i, c) in line.char_indices() {
                    if c == '\'' {
                        quotes += 1;
                    }
                    if c == '{' {
                        let key: String = line[i + 1..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        let closed = line[i + 1 + key.len()..].starts_with('}');
                        if !key.is_empty() && closed {
                            assert!(
                                quotes % 2 == 1,
                                "{}: {{{key}}} outside single quotes in: {line}",
                                rule.id
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn templates_fill_known_keys_only() {
        let r = render("{object} from {RemoteIPRanges} {unknown} {", &|k| match k {
            "object" => Some("EX01\\R".into()),
            "RemoteIPRanges" => Some("0.0.0.0-255.255.255.255".into()),
            _ => None,
        });
        assert_eq!(r, "EX01\\R from 0.0.0.0-255.255.255.255 {unknown} {");
    }
}
