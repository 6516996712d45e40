//! Rules: data in `rules/<kind>/<ID>.toml`, embedded in the binary and extendable with
//! `--rules PATH`; loaded, validated, then evaluated over the model and its analysis facts.
//!
//! A rule file is one rule. It is parsed with `deny_unknown_fields` (a typo fails with
//! `file:line:col` and what was expected), then validated (predicates on the right object
//! kind, known principal classes, regexes that compile). A user rule whose id equals a
//! built-in one replaces it. Evaluation produces [`Finding`]s; it never formats output.

pub mod cond;
pub mod probe;

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

    /// Every placeholder name the rules' templates use, sorted, once each.
    pub fn placeholder_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .rules
            .iter()
            .flat_map(|r| r.placeholders())
            .map(str::to_string)
            .collect();
        names.sort();
        names.dedup();
        names
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
    /// In a scan of a folder of client folders: the client folder (one audit) it is from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<String>,
}

impl Finding {
    /// Does this finding count toward `--fail-on`? Waived and baseline-unchanged ones don't.
    pub fn counts(&self) -> bool {
        self.waiver.is_none() && self.baseline != Some(BaselineState::Unchanged)
    }

    /// The evidence, decisive first: a condition's evidence arrives in the rule's condition
    /// order, which puts preconditions (`Enabled = true`, the `Identity` a default connector is
    /// named by) before what decides (the grant, then the ranges). Code scanning and CI
    /// annotations point at the first location, so it has to be the grant.
    /// Places the finding in one audit of a batch: its fingerprint then tells the same
    /// connector of two clients apart.
    pub fn set_audit(&mut self, audit: &str) {
        self.fingerprint = fingerprint(
            &self.rule,
            self.object.kind,
            &format!("{audit}\u{0}{}", self.object.id),
        );
        self.audit = Some(audit.to_string());
    }

    pub fn decisive_evidence(&self) -> Vec<&Evidence> {
        let mut v: Vec<&Evidence> = self.evidence.iter().collect();
        v.sort_by_key(|e| match e.property.as_str() {
            "Enabled" | "Identity" => 1,
            _ => 0,
        });
        v
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
///
/// Dropping a control character changes the name (`Relay\u{7}X` would become `RelayX`,
/// another object): callers first refuse values with such characters
/// ([`crate::term::is_hidden`]; [`Rule::render_remediation`] writes a comment instead of
/// the command), so the dropping is only a last line of defence.
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

/// Is `s` a placeholder name: an identifier (`object`, `PermissionGroups`, `relay_list`)?
/// Only `{Identifier}` is a placeholder: `{0.0.0.0:25}`, a PowerShell script block
/// `{$_.IsInherited}` and `{}` stay as written.
fn is_key(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The first placeholder of `s`: (text before it, its name, text after it).
fn next_placeholder(s: &str) -> Option<(&str, &str, &str)> {
    let mut from = 0;
    while let Some(i) = s[from..].find('{') {
        let open = from + i;
        let inner = &s[open + 1..];
        if let Some(j) = inner.find('}') {
            if is_key(&inner[..j]) {
                return Some((&s[..open], &inner[..j], &inner[j + 1..]));
            }
        }
        from = open + 1;
    }
    None
}

/// The placeholder names a template uses (`{object}` gives `object`), each once, in order.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut rest = template;
    while let Some((_, key, after)) = next_placeholder(rest) {
        if !out.contains(&key) {
            out.push(key);
        }
        rest = after;
    }
    out
}

/// What a command says where a value is unknown: `connector identity` for `{object}` on a
/// receive connector, `server` for `{server}`, the property name otherwise. Written as
/// `<...>`, which no Exchange object is named and which PowerShell refuses outside quotes.
pub fn stand_in(kind: ObjectKind, key: &str) -> String {
    let s = match key {
        "object" => match kind {
            ObjectKind::ReceiveConnector | ObjectKind::AdPermission => "connector identity",
            ObjectKind::AcceptedDomain => "accepted domain identity",
            ObjectKind::ExchangeServer => "server",
            ObjectKind::Imc => "Internet Mail Service identity",
            ObjectKind::SmtpVirtualServer => "virtual server identity",
            ObjectKind::SmtpConnector => "SMTP connector identity",
            ObjectKind::Input => "file",
            ObjectKind::RelayUsage => "connector identity",
            ObjectKind::TransportService => "server",
            ObjectKind::Probe => "host",
        },
        "server" => "server",
        "name" if kind == ObjectKind::ReceiveConnector => "connector name",
        k => k,
    };
    format!("<{s}>")
}

/// How a template is filled.
#[derive(Debug, Clone, Copy)]
enum Fill {
    /// A finding message: an unknown value is said to be unknown (see [`unknown_in_message`]).
    Message,
    /// A PowerShell command: values escaped for single quotes ([`ps_quote_content`]), an
    /// unknown or empty value replaced by its [`stand_in`] so the command cannot silently
    /// target another object (`-Server ''` would mean the local server).
    Command(ObjectKind),
}

/// Fills a template. A placeholder whose value is unknown never stays as `{key}`.
fn render(template: &str, vars: &dyn Fn(&str) -> Option<String>, fill: Fill) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some((before, key, after)) = next_placeholder(rest) {
        out.push_str(before);
        let value = vars(key);
        let blank = value.as_deref().is_some_and(|v| v.trim().is_empty());
        match (fill, value) {
            (Fill::Message, Some(v)) if !blank => out.push_str(&v),
            (Fill::Message, v) => {
                let what = if v.is_some() { "empty" } else { "not exported" };
                let text = unknown_in_message(key, what, &out, after);
                out.push_str(&text);
            }
            (Fill::Command(_), Some(v)) if !blank => out.push_str(&ps_quote_content(&v)),
            (Fill::Command(kind), _) => out.push_str(&stand_in(kind, key)),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The remediation of a rule whose value `key` holds control or bidi characters: comments
/// only, nothing to run, the value shown with those characters escaped.
fn withheld(rule: &str, key: &str, value: &str) -> String {
    let what = if key == "object" { "identity" } else { key };
    format!(
        "# No command: the {what} '{}' contains control or bidi characters (shown as \\u{{..}} escapes).\n\
         # Quoted as exported they would be dropped or hidden, and a command would name another object.\n\
         # Find the object by its Guid (Format-List Name,Identity,Guid) and apply the fix of `relay-audit rules show {rule}` to it.\n",
        crate::term::visible_line(value)
    )
}

/// An unknown value in a message: `(PermissionGroups not exported)`. The sentence around it
/// is kept readable: after its own label (`PermissionGroups {PermissionGroups}`) it says
/// only `not exported`, and inside parentheses of the template (`({relay_list})`) it adds
/// none of its own.
fn unknown_in_message(key: &str, what: &str, before: &str, after: &str) -> String {
    let label = if key == "object" { "identity" } else { key };
    let labelled = before
        .len()
        .checked_sub(key.len() + 1)
        .and_then(|i| Some((before.get(..i)?, before.get(i..)?)))
        .is_some_and(|(head, tail)| {
            tail.eq_ignore_ascii_case(&format!("{key} "))
                && !head.ends_with(|c: char| c.is_alphanumeric() || c == '_')
        });
    if labelled {
        what.to_string()
    } else if before.ends_with('(') && after.starts_with(')') {
        format!("{label} {what}")
    } else {
        format!("({label} {what})")
    }
}

impl Rule {
    fn applies_to(&self, product: Option<Product>) -> bool {
        match product {
            // Receive connectors exist from 2007 on; an unknown version is judged as 2007+.
            None => true,
            Some(p) => self.products.is_empty() || self.products.contains(&p),
        }
    }

    /// The finding message for one object: `vars` gives each placeholder's value, `None`
    /// when the export did not have it (the message then says so, e.g.
    /// `(PermissionGroups not exported)`).
    pub fn render_message(&self, vars: &dyn Fn(&str) -> Option<String>) -> String {
        render(&self.message, vars, Fill::Message)
    }

    /// The remediation commands for one object: values quoted for PowerShell, an unknown
    /// value (or an entry not attributed to a connector, [`NO_IDENTITY`]) written as its
    /// stand-in, `'<connector identity>'`, never as `{object}` nor as an empty string.
    ///
    /// A value with control or bidi characters ([`crate::term::is_hidden`]) gets no command:
    /// quoted, those characters would be dropped or hidden and the command would name another
    /// object (`Relay\u{7}X` is not `RelayX`). The remediation is then a PowerShell comment
    /// saying so, with the value made visible.
    pub fn render_remediation(&self, vars: &dyn Fn(&str) -> Option<String>) -> String {
        let known = |k: &str| vars(k).filter(|v| v != NO_IDENTITY);
        for key in placeholders(&self.remediation) {
            if let Some(v) = known(key).filter(|v| v.chars().any(crate::term::is_hidden)) {
                return withheld(&self.id, key, &v);
            }
        }
        render(&self.remediation, &known, Fill::Command(self.object))
    }

    /// The remediation as rule-level help (SARIF `help`, `rules show`), about no object in
    /// particular: every placeholder is its stand-in (`'<connector identity>'`, `<server>`).
    pub fn remediation_help(&self) -> String {
        render(&self.remediation, &|_| None, Fill::Command(self.object))
    }

    /// Every placeholder name the message and remediation templates use.
    pub fn placeholders(&self) -> Vec<&str> {
        let mut out = placeholders(&self.message);
        for k in placeholders(&self.remediation) {
            if !out.contains(&k) {
                out.push(k);
            }
        }
        out
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
            message: self.render_message(vars),
            evidence: dedup(evidence),
            remediation: self.render_remediation(vars),
            waiver: None,
            baseline: None,
            audit: None,
        }
    }
}

/// A value derived by the model (identity, server, name): `None` when blank.
fn known(s: &str) -> Option<String> {
    Some(s.to_string()).filter(|s| !s.trim().is_empty())
}

/// Evaluates every rule over the model.
pub fn evaluate(rules: &RuleSet, model: &Model, facts: &Facts<'_>) -> Vec<Finding> {
    let usage = crate::analysis::usage::UsageFacts::compute(model, facts, None);
    evaluate_with(rules, model, facts, &usage)
}

/// [`evaluate`], with the usage facts of the logs (joined with a site file).
pub fn evaluate_with(
    rules: &RuleSet,
    model: &Model,
    facts: &Facts<'_>,
    usage: &crate::analysis::usage::UsageFacts<'_>,
) -> Vec<Finding> {
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
                                // Derived from the identity: absent, not empty, when
                                // the export did not name them.
                                "object" => known(&c.identity),
                                "server" => known(&c.server),
                                "name" => known(&c.name),
                                _ => c.raw(k).map(|r| {
                                    if r.truncated {
                                        format!("{}...", r.value.trim_end_matches("..."))
                                    } else {
                                        r.value.to_string()
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
                                "object" => known(&d.identity),
                                "domain" | "DomainName" => Some(d.domain_name.clone()),
                                "DomainType" => d.domain_type.clone(),
                                _ => d
                                    .raw
                                    .iter()
                                    .find(|r| r.name.eq_ignore_ascii_case(k))
                                    .map(|r| r.value.to_string()),
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
                    let subject = Subject::Ace {
                        ace: a,
                        connector: a.identity.as_deref().and_then(|id| facts.connector(id)),
                    };
                    if let Some(ev) = rule.when.eval(&subject) {
                        let target = a.identity.as_deref().unwrap_or(NO_IDENTITY).to_string();
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
            // Probes are judged by `probe::evaluate`, never in a scan.
            ObjectKind::ExchangeServer | ObjectKind::TransportService | ObjectKind::Probe => {}
            ObjectKind::RelayUsage => {
                for c in &usage.connectors {
                    let (product, version) = version_of(&c.server);
                    if !rule.applies_to(product) && product.is_some() {
                        continue;
                    }
                    let Some(evidence) = rule.when.eval(&Subject::Usage(c)) else {
                        continue;
                    };
                    let vars = |k: &str| cond::usage::vars(c, k);
                    out.push(rule.finding(
                        ObjectRef {
                            kind: ObjectKind::RelayUsage,
                            id: c.identity.clone(),
                            server: Some(c.server.clone()).filter(|s| !s.is_empty()),
                        },
                        version,
                        &vars,
                        evidence,
                    ));
                }
            }
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
                            "object" => known(&o.identity),
                            "server" => known(&o.server),
                            "name" => known(&o.name),
                            // The version and service pack may come from a server export
                            // rather than from the object's own record.
                            "version" => o
                                .raw(k)
                                .map(|r| r.value.to_string())
                                .or_else(|| o.product.map(|p| p.as_str().to_string())),
                            "service_pack" => o
                                .raw(k)
                                .map(|r| r.value.to_string())
                                .or_else(|| o.service_pack.map(|sp| sp.to_string())),
                            _ => o.raw(k).map(|r| r.value.to_string()),
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
        let r = render(
            "Remove-AcceptedDomain -Identity '{object}'",
            &|_| Some("x'; Remove-Item C:\\ -Recurse; '\n".into()),
            Fill::Command(ObjectKind::AcceptedDomain),
        );
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

    fn message(template: &str, vars: &dyn Fn(&str) -> Option<String>) -> String {
        render(template, vars, Fill::Message)
    }

    fn command(template: &str, vars: &dyn Fn(&str) -> Option<String>) -> String {
        render(template, vars, Fill::Command(ObjectKind::ReceiveConnector))
    }

    #[test]
    fn templates_fill_known_keys_and_say_which_are_unknown() {
        let r = message("{object} from {RemoteIPRanges} {unknown} {", &|k| match k {
            "object" => Some("EX01\\R".into()),
            "RemoteIPRanges" => Some("0.0.0.0-255.255.255.255".into()),
            _ => None,
        });
        assert_eq!(
            r,
            "EX01\\R from 0.0.0.0-255.255.255.255 (unknown not exported) {"
        );
    }

    #[test]
    fn only_identifiers_in_braces_are_placeholders() {
        let t = "{0.0.0.0:25} {$_.IsInherited -eq $false} {} {a, b} {{object}} {9x} {object}";
        assert_eq!(placeholders(t), vec!["object"]);
        let r = message(t, &|_| Some("X".into()));
        assert_eq!(
            r,
            "{0.0.0.0:25} {$_.IsInherited -eq $false} {} {a, b} {X} {9x} X"
        );
        let r = command(t, &|_| None);
        assert_eq!(
            r,
            "{0.0.0.0:25} {$_.IsInherited -eq $false} {} {a, b} {<connector identity>} {9x} <connector identity>"
        );
        // a value is never read as a template
        let r = message("{object} has {PermissionGroups}", &|k| match k {
            "object" => Some("{PermissionGroups}".into()),
            _ => Some("{ms-Exch-SMTP-Accept-Any-Recipient}".into()),
        });
        assert_eq!(
            r,
            "{PermissionGroups} has {ms-Exch-SMTP-Accept-Any-Recipient}"
        );
    }

    #[test]
    fn an_unknown_value_reads_as_such_in_the_sentence_around_it() {
        let none = |_: &str| None;
        let empty = |_: &str| Some(" ".to_string());
        for (template, want) in [
            (
                "beyond its presets (PermissionGroups {PermissionGroups}) but",
                "beyond its presets (PermissionGroups not exported) but",
            ),
            (
                "its RemoteIPRanges ({RemoteIPRanges}) cover",
                "its RemoteIPRanges (RemoteIPRanges not exported) cover",
            ),
            (
                "relay from {RemoteIPRanges} only",
                "relay from (RemoteIPRanges not exported) only",
            ),
            (
                "ProtocolLoggingLevel {ProtocolLoggingLevel}: nothing",
                "ProtocolLoggingLevel not exported: nothing",
            ),
            // a label is a whole word
            (
                "xRemoteIPRanges {RemoteIPRanges}",
                "xRemoteIPRanges (RemoteIPRanges not exported)",
            ),
            ("{object} relays", "(identity not exported) relays"),
        ] {
            assert_eq!(message(template, &none), want, "{template}");
        }
        assert_eq!(
            message("(PermissionGroups {PermissionGroups})", &empty),
            "(PermissionGroups empty)"
        );
        assert_eq!(
            message("({relay_list}) and {relay_list}", &empty),
            "(relay_list empty) and (relay_list empty)"
        );
    }

    #[test]
    fn an_unknown_or_empty_value_in_a_command_is_a_stand_in_not_an_empty_argument() {
        let t = "New-ReceiveConnector -Name 'Relay {server}' -Server '{server}' -PermissionGroups '{PermissionGroups}'\nGet-ReceiveConnector '{object}' | Export-Clixml 'p-{name}.xml'";
        let want = "New-ReceiveConnector -Name 'Relay <server>' -Server '<server>' -PermissionGroups '<PermissionGroups>'\nGet-ReceiveConnector '<connector identity>' | Export-Clixml 'p-<connector name>.xml'";
        assert_eq!(command(t, &|_| None), want);
        assert_eq!(command(t, &|_| Some(String::new())), want);
        assert_eq!(
            render(
                "Remove-AcceptedDomain -Identity '{object}'",
                &|_| None,
                Fill::Command(ObjectKind::AcceptedDomain)
            ),
            "Remove-AcceptedDomain -Identity '<accepted domain identity>'"
        );
    }

    fn holes(text: &str, names: &[String]) -> Vec<String> {
        names
            .iter()
            .map(|n| format!("{{{n}}}"))
            .filter(|p| text.contains(p.as_str()))
            .collect()
    }

    /// A plausible exported value, with braces of its own (`{a, b}`), which are values and not
    /// placeholders.
    fn sample(key: &str) -> Option<String> {
        Some(match key {
            "object" => "EX01\\Relay {EX01}".into(),
            "server" => "EX01".into(),
            "name" => "Relay {EX01}".into(),
            "service_pack" => "2".into(),
            "version" => "5.0".into(),
            k => format!("{{{k}-value, ms-Exch-SMTP-Accept-Any-Recipient}}"),
        })
    }

    #[test]
    fn every_builtin_rule_renders_without_holes_when_a_placeholder_value_is_missing() {
        let set = RuleSet::builtin().unwrap();
        let names = set.placeholder_names();
        assert!(names.iter().any(|n| n == "PermissionGroups"), "{names:?}");
        let mut checked = 0;
        for rule in &set.rules {
            let object = ObjectRef {
                kind: rule.object,
                id: "EX01\\Relay {EX01}".into(),
                server: Some("EX01".into()),
            };
            let keys = rule.placeholders();
            // each placeholder missing alone, each one empty alone, then all of them missing
            let mut cases: Vec<(Option<&str>, Option<String>)> = Vec::new();
            for &key in &keys {
                cases.push((Some(key), None));
                cases.push((Some(key), Some(String::new())));
            }
            cases.push((None, None));
            for (key, value) in &cases {
                let what = match (key, value) {
                    (Some(k), None) => format!("{k} missing"),
                    (Some(k), Some(_)) => format!("{k} empty"),
                    (None, _) => "everything missing".to_string(),
                };
                let vars = |x: &str| match key {
                    Some(k) if *k != x => sample(x),
                    _ => value.clone(),
                };
                let f = rule.finding(object.clone(), "2019".into(), &vars, Vec::new());
                for (field, text) in [("message", &f.message), ("remediation", &f.remediation)] {
                    let h = holes(text, &names);
                    assert!(
                        h.is_empty(),
                        "{} with {what}: {field} has {h:?}: {text}",
                        rule.id
                    );
                }
                checked += 1;
            }
            // and a missing value is said to be missing, where it would have been
            for &key in &keys {
                let vars = |x: &str| if x == key { None } else { sample(x) };
                let f = rule.finding(object.clone(), "2019".into(), &vars, Vec::new());
                if placeholders(&rule.message).contains(&key) {
                    assert!(
                        f.message.contains("not exported"),
                        "{} without {key}: {}",
                        rule.id,
                        f.message
                    );
                }
                if placeholders(&rule.remediation).contains(&key) {
                    let s = stand_in(rule.object, key);
                    assert!(
                        f.remediation.contains(&s),
                        "{} without {key}: {s} not in {}",
                        rule.id,
                        f.remediation
                    );
                }
            }
        }
        assert!(checked > set.rules.len(), "{checked}");
    }

    #[test]
    fn rule_help_shows_stand_ins_not_templates() {
        let set = RuleSet::builtin().unwrap();
        let names = set.placeholder_names();
        for rule in &set.rules {
            let help = rule.remediation_help();
            let h = holes(&help, &names);
            assert!(h.is_empty(), "{}: {h:?} in {help}", rule.id);
        }
        let r = set.get("RC-ANON-RELAY-INTERNET").unwrap();
        assert!(
            r.remediation_help().contains("-Server '<server>'"),
            "{}",
            r.remediation_help()
        );
    }

    #[test]
    fn a_value_with_control_characters_gets_no_command() {
        let set = RuleSet::builtin().unwrap();
        let r = set.get("RC-ANON-RELAY-INTERNET").unwrap();
        for hostile in [
            "EX01\\Relay\u{7}X",
            "EX01\\Re\u{202e}lay",
            "EX01\\R\u{1b}[2J",
            "EX01\\R\nX",
        ] {
            let vars = |k: &str| match k {
                "object" => Some(hostile.to_string()),
                "server" => Some("EX01".to_string()),
                _ => Some("x".to_string()),
            };
            let cmd = r.render_remediation(&vars);
            assert!(
                cmd.lines().all(|l| l.starts_with("# ")),
                "only comments: {cmd}"
            );
            assert!(!cmd.contains("EX01\\RelayX"), "{cmd}");
            assert!(
                !cmd.chars().any(|c| crate::term::is_hidden(c) && c != '\n'),
                "{cmd:?}"
            );
        }
        let vars = |k: &str| match k {
            "object" => Some("EX01\\Relay\u{7}X".to_string()),
            _ => Some("EX01".to_string()),
        };
        assert!(r
            .render_remediation(&vars)
            .contains("identity 'EX01\\Relay\\u{7}X'"));
    }

    #[test]
    fn a_permission_entry_without_a_connector_gets_no_command_naming_that_text() {
        let set = RuleSet::builtin().unwrap();
        let r = set.get("PERM-RIGHTS-NOT-EXPORTED").unwrap();
        let vars = |k: &str| match k {
            "object" => Some(NO_IDENTITY.to_string()),
            _ => None,
        };
        assert!(r.render_message(&vars).contains(NO_IDENTITY));
        let cmd = r.render_remediation(&vars);
        assert!(cmd.contains("'<connector identity>'"), "{cmd}");
        assert!(!cmd.contains(NO_IDENTITY), "{cmd}");
    }
}
