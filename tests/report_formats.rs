//! Report writers through the library API: SARIF against the official 2.1.0 schema, every
//! format agreeing on the findings, CSV without formula cells, Markdown that export values
//! cannot break, JUnit that parses back with the right failures.

use quick_xml::events::Event;
use quick_xml::reader::Reader;
use regex::Regex;
use relay_audit::diag::{Diagnostic, InputError, Level};
use relay_audit::report;
use relay_audit::rules::{BaselineState, Finding, RuleSet, Severity, Waived};
use relay_audit::scan::{self, FailOn, InputSummary, Report, Resolved, ScanOptions};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

const OPEN_RELAY: &str = "fixtures/open-relay-anonymous/clixml";
const SAMPLES: &str = "fixtures/e2019-css-exchange-samples";
/// Object names that are HTML markup and a spreadsheet formula.
const HOSTILE: &str = "fixtures/hostile-names/clixml";

type Writer = fn(&Report, &RuleSet, FailOn, &mut dyn std::io::Write) -> std::io::Result<()>;

fn rules() -> RuleSet {
    RuleSet::builtin().unwrap()
}

/// Scans with paths relative to the package root (cargo runs tests there), as a user would.
fn scan_of(path: &str, rules: &RuleSet) -> Report {
    scan::scan(&[PathBuf::from(path)], rules, &ScanOptions::default())
}

fn render(w: Writer, rep: &Report, rules: &RuleSet, fail_on: FailOn) -> String {
    let mut buf = Vec::new();
    w(rep, rules, fail_on, &mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

fn json_of(rep: &Report) -> Value {
    let mut buf = Vec::new();
    report::json::write(rep, &mut buf).unwrap();
    serde_json::from_slice(&buf).unwrap()
}

fn high() -> FailOn {
    FailOn::At(Severity::High)
}

/// A copy of `f` about another object (with its own fingerprint).
fn variant(f: &Finding, id: &str, fingerprint: &str) -> Finding {
    let mut g = f.clone();
    g.object.id = id.to_string();
    g.fingerprint = fingerprint.to_string();
    g
}

/// The open-relay scan plus everything a review adds: a waived finding, baseline states, a
/// resolved finding, a warning and an unreadable input, evidence without a line (and with
/// line 0), and object ids and values built to break CSV, Markdown and XML.
fn review_report(rules: &RuleSet) -> Report {
    let mut rep = scan_of(OPEN_RELAY, rules);
    assert!(rep.findings.len() >= 2, "fixture raises findings");
    let base = rep.findings[0].clone();
    assert_eq!(base.severity, Severity::Critical);

    let mut waived = variant(&base, "EX01\\Waived <b>relay</b>", "00000000000000aa");
    waived.waiver = Some(Waived {
        justification: "Lab only & never on the Internet".into(),
        owner: "j.doe@contoso.com".into(),
        expires: "2099-12-31".into(),
        source: "waivers.toml:3".into(),
    });
    let mut unchanged = variant(&base, "EX01\\Old | relay", "00000000000000bb");
    unchanged.baseline = Some(BaselineState::Unchanged);
    let mut hostile = variant(&base, "=HYPERLINK(\"http://x\",\"y\")", "00000000000000cc");
    hostile.baseline = Some(BaselineState::New);
    hostile.object.server = Some("<script>alert(1)</script>".into());
    hostile.message =
        "a|b `code` *bold* _em_ [link](http://x) <img src=x onerror=alert(1)>\n# heading".into();
    hostile.remediation = "Set-Thing -Name \"```\"\n```\n<script>".into();
    hostile.evidence[0].value = "@SUM(A1)\u{1}".into();
    hostile.evidence[0].line = None;
    if hostile.evidence.len() > 1 {
        hostile.evidence[1].line = Some(0);
    }
    let plus = variant(&base, "+1", "00000000000000dd");
    let minus = variant(&base, "-2", "00000000000000ee");
    let mut tab = variant(&base, "\tx", "00000000000000ff");
    tab.object.server = None;
    for f in [waived, unchanged, hostile, plus, minus, tab] {
        rep.summary.critical += 1;
        rep.findings.insert(1, f);
    }
    rep.resolved.push(Resolved {
        rule: "RC-ANON-RELAY-SCOPED".into(),
        severity: Severity::Medium,
        object: relay_audit::rules::ObjectRef {
            kind: relay_audit::input::record::ObjectKind::ReceiveConnector,
            id: "EX01\\Gone [relay]".into(),
            server: Some("EX01".into()),
        },
        fingerprint: "0123456789abcdef".into(),
    });
    rep.diagnostics.push(Diagnostic::warning(
        "fixtures/open-relay-anonymous/clixml/receive-connectors.xml",
        Some(12),
        "RemoteIPRanges was cut off by the export <truncated>",
    ));
    // A file named on the command line that could not be parsed (paths are shown with `/`).
    let err = InputError::new("C:/exports/broken rc.xml", Some(3), "malformed XML");
    rep.inputs.push(InputSummary {
        path: err.file.clone(),
        status: "error",
        format: Some("clixml"),
        encoding: Some("utf-16le"),
        kind: None,
        records: 0,
        records_used: 0,
        skipped: Vec::new(),
        blocks: Vec::new(),
        not_understood: Vec::new(),
        log: None,
        error: Some(err.to_string()),
    });
    rep.diagnostics.push(Diagnostic {
        level: Level::Error,
        file: err.file.clone(),
        line: err.line,
        message: err.message.clone(),
    });
    rep.errors.push(err);
    rep
}

// ---------------------------------------------------------------------------------------
// SARIF

fn sarif_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sarif-schema-2.1.0.json"),
    )
    .unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn assert_valid_sarif(v: &Value) {
    let validator = sarif_validator();
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF does not validate:\n{}",
        errors.join("\n")
    );
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let rules = rules();
    // legacy-mixed: .reg, LDIF, MetaBase.xml, settings and CliXML, evidence from two files
    for path in [OPEN_RELAY, SAMPLES, HOSTILE, "fixtures/legacy-mixed/all"] {
        let rep = scan_of(path, &rules);
        assert!(!rep.findings.is_empty(), "{path} raises findings");
        for fail_on in [high(), FailOn::Never] {
            let v: Value =
                serde_json::from_str(&render(report::sarif::write, &rep, &rules, fail_on)).unwrap();
            assert_valid_sarif(&v);
        }
    }
    let rep = review_report(&rules);
    let v: Value =
        serde_json::from_str(&render(report::sarif::write, &rep, &rules, high())).unwrap();
    assert_valid_sarif(&v);
}

#[test]
fn the_schema_check_catches_a_broken_log() {
    // Guard against a validator that accepts anything.
    let rules = rules();
    let rep = scan_of(OPEN_RELAY, &rules);
    let mut v: Value =
        serde_json::from_str(&render(report::sarif::write, &rep, &rules, high())).unwrap();
    v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from(0);
    v["runs"][0]["results"][0]["level"] = Value::from("critical");
    let errors = sarif_validator().iter_errors(&v).count();
    assert!(errors >= 2, "{errors} errors");
}

#[test]
fn sarif_carries_rules_results_suppressions_and_notifications() {
    let rules = rules();
    let rep = review_report(&rules);
    let v: Value =
        serde_json::from_str(&render(report::sarif::write, &rep, &rules, high())).unwrap();
    assert_eq!(
        v["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "relay-audit");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    let descriptors = driver["rules"].as_array().unwrap();
    assert_eq!(
        descriptors.len(),
        rules.rules.len(),
        "one descriptor per rule"
    );
    for (d, r) in descriptors.iter().zip(&rules.rules) {
        assert_eq!(d["id"], r.id.as_str());
        assert_eq!(d["shortDescription"]["text"], r.title.as_str());
        assert!(d["name"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| c.is_alphanumeric()));
        assert!(d["help"]["text"].as_str().unwrap().contains(r.why.trim()));
        assert!(d["help"]["markdown"].as_str().is_some());
        assert_eq!(d["helpUri"], r.references[0].as_str());
        assert_eq!(d["properties"]["severity"], r.severity.as_str());
        assert_eq!(d["properties"]["category"], r.category.as_str());
    }

    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), rep.findings.len(), "one result per finding");
    for (res, f) in results.iter().zip(&rep.findings) {
        assert_eq!(res["ruleId"], f.rule.as_str());
        let i = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            descriptors[i]["id"],
            f.rule.as_str(),
            "ruleIndex points at the rule"
        );
        let level = match f.severity {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info => "note",
        };
        assert_eq!(res["level"], level);
        assert_eq!(res["message"]["text"], f.message.as_str());
        assert_eq!(
            res["partialFingerprints"]["relayAudit/v1"],
            f.fingerprint.as_str()
        );
        assert_eq!(res["properties"]["object"]["id"], f.object.id.as_str());
        let locs = res["locations"].as_array().unwrap();
        assert_eq!(locs.len(), f.evidence.len().max(1));
        for (loc, e) in locs.iter().zip(f.decisive_evidence()) {
            let pl = &loc["physicalLocation"];
            let uri = pl["artifactLocation"]["uri"].as_str().unwrap();
            assert!(!uri.contains('\\') && !uri.contains(' '), "{uri}");
            assert_eq!(pl["artifactLocation"]["uriBaseId"], "%SRCROOT%");
            assert_eq!(uri, e.file, "fixture paths need no encoding");
            match e.line {
                Some(l) if l >= 1 => assert_eq!(pl["region"]["startLine"], l),
                _ => assert!(pl.get("region").is_none(), "no region without a line"),
            }
        }
        match f.baseline {
            Some(BaselineState::New) => assert_eq!(res["baselineState"], "new"),
            Some(BaselineState::Unchanged) => assert_eq!(res["baselineState"], "unchanged"),
            None => assert!(res.get("baselineState").is_none()),
        }
        match &f.waiver {
            Some(w) => {
                let s = &res["suppressions"][0];
                assert_eq!(s["kind"], "external");
                assert_eq!(s["status"], "accepted");
                assert_eq!(s["justification"], w.justification.as_str());
                assert_eq!(s["properties"]["owner"], w.owner.as_str());
                assert_eq!(s["properties"]["expires"], w.expires.as_str());
                assert_eq!(s["properties"]["source"], w.source.as_str());
            }
            None => assert!(res.get("suppressions").is_none()),
        }
    }

    let inv = &run["invocations"][0];
    assert_eq!(
        inv["executionSuccessful"], false,
        "an input could not be read"
    );
    let notes = inv["toolExecutionNotifications"].as_array().unwrap();
    let expected = rep
        .diagnostics
        .iter()
        .filter(|d| d.level != Level::Info)
        .count();
    assert_eq!(notes.len(), expected);
    let err = notes.iter().find(|n| n["level"] == "error").unwrap();
    assert_eq!(err["message"]["text"], "malformed XML");
    let loc = &err["locations"][0]["physicalLocation"];
    assert_eq!(
        loc["artifactLocation"]["uri"],
        "file:///C:/exports/broken%20rc.xml"
    );
    assert!(loc["artifactLocation"].get("uriBaseId").is_none());
    assert_eq!(loc["artifactLocation"]["index"], rep.inputs.len() - 1);
    assert_eq!(loc["region"]["startLine"], 3);

    let artifacts = run["artifacts"].as_array().unwrap();
    assert_eq!(
        artifacts.len(),
        rep.inputs.len(),
        "every input is an artifact"
    );
    for (a, i) in artifacts.iter().zip(&rep.inputs) {
        if i.path.starts_with("C:") {
            assert_eq!(a["location"]["uri"], "file:///C:/exports/broken%20rc.xml");
            assert_eq!(a["properties"]["status"], "error");
        } else {
            assert_eq!(a["location"]["uri"], i.path.as_str());
        }
    }
    assert_eq!(
        run["properties"]["resolved"][0]["rule"],
        "RC-ANON-RELAY-SCOPED"
    );
}

#[test]
fn sarif_without_input_errors_is_successful_and_absolute_paths_are_file_uris() {
    let rules = rules();
    // Outside the working directory (under it, a path is made relative to `%SRCROOT%`).
    let dir = tempfile::tempdir().unwrap();
    let abs = dir.path().join("samples");
    std::fs::create_dir(&abs).unwrap();
    for e in std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SAMPLES)).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, abs.join(p.file_name().unwrap())).unwrap();
    }
    // (three lab organisations, judged as one on purpose)
    let opts = ScanOptions {
        one_organisation: true,
        ..ScanOptions::default()
    };
    let rep = scan::scan(std::slice::from_ref(&abs), &rules, &opts);
    assert!(rep.errors.is_empty());
    let v: Value =
        serde_json::from_str(&render(report::sarif::write, &rep, &rules, high())).unwrap();
    assert_valid_sarif(&v);
    let run = &v["runs"][0];
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    let uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert!(uri.starts_with("file:///"), "{uri}");
    assert!(uri.ends_with(".clixml.xml"), "{uri}");
}

// ---------------------------------------------------------------------------------------
// Every format tells the same story

/// (rule, fingerprint) of every finding, as each format shows it.
fn fingerprints_json(rep: &Report) -> Vec<(String, String)> {
    json_of(rep)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["fingerprint"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn fingerprints_sarif(text: &str) -> Vec<(String, String)> {
    let v: Value = serde_json::from_str(text).unwrap();
    v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ruleId"].as_str().unwrap().to_string(),
                r["partialFingerprints"]["relayAudit/v1"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

fn csv_records(text: &str) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    let rows = r.records().map(|x| x.unwrap()).collect();
    (header, rows)
}

fn fingerprints_csv(text: &str) -> Vec<(String, String)> {
    let (h, rows) = csv_records(text);
    let rule = h.iter().position(|c| c == "rule").unwrap();
    let fp = h.iter().position(|c| c == "fingerprint").unwrap();
    rows.iter()
        .map(|r| (r[rule].to_string(), r[fp].to_string()))
        .collect()
}

/// One parsed JUnit testcase.
#[derive(Debug, Default, Clone)]
struct Case {
    suite: String,
    classname: String,
    name: String,
    failure: Option<(String, String)>,
    skipped: bool,
    error: bool,
    text: String,
}

/// Parses JUnit XML back (failing on malformed XML) into the suites' declared counts and
/// the testcases.
fn parse_junit(xml: &str) -> (BTreeMap<String, [usize; 4]>, Vec<Case>) {
    let mut r = Reader::from_str(xml);
    let mut suites = BTreeMap::new();
    let mut cases = Vec::new();
    let mut suite = String::new();
    let mut cur: Option<Case> = None;
    let mut in_text = false;
    let attr = |e: &quick_xml::events::BytesStart, name: &str| -> String {
        e.try_get_attribute(name)
            .unwrap()
            .map(|a| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .unwrap()
                    .into_owned()
            })
            .unwrap_or_default()
    };
    let mut depth = 0usize;
    loop {
        let ev = r
            .read_event()
            .unwrap_or_else(|e| panic!("malformed JUnit at {}: {e}\n{xml}", r.error_position()));
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                if !empty {
                    depth += 1;
                }
                match e.name().as_ref() {
                    "testsuites" => {
                        assert_eq!(attr(e, "name"), "relay-audit");
                        // The Jenkins xUnit schema (junit-10.xsd) allows exactly these here.
                        for a in e.attributes() {
                            let a = a.unwrap();
                            let key: &str = a.key.as_ref();
                            assert!(
                                ["name", "time", "tests", "failures", "errors"].contains(&key),
                                "<testsuites {key}=...> is not in junit-10.xsd"
                            );
                        }
                    }
                    "testsuite" => {
                        suite = attr(e, "name");
                        let n = |k| attr(e, k).parse::<usize>().unwrap();
                        suites.insert(
                            suite.clone(),
                            [n("tests"), n("failures"), n("errors"), n("skipped")],
                        );
                    }
                    "testcase" => {
                        let c = Case {
                            suite: suite.clone(),
                            classname: attr(e, "classname"),
                            name: attr(e, "name"),
                            ..Case::default()
                        };
                        if empty {
                            cases.push(c);
                        } else {
                            cur = Some(c);
                        }
                    }
                    "failure" => {
                        let c = cur.as_mut().unwrap();
                        c.failure = Some((attr(e, "message"), attr(e, "type")));
                        in_text = !empty;
                    }
                    "system-out" => in_text = !empty,
                    "skipped" => cur.as_mut().unwrap().skipped = true,
                    "error" => cur.as_mut().unwrap().error = true,
                    other => panic!("unexpected element {other}"),
                }
            }
            Event::Text(t) if in_text => {
                cur.as_mut().unwrap().text.push_str(&t.xml10_content());
            }
            Event::GeneralRef(g) if in_text => {
                let c = cur.as_mut().unwrap();
                if let Some(ch) = g.resolve_char_ref().unwrap() {
                    c.text.push(ch);
                } else {
                    let s = quick_xml::escape::resolve_predefined_entity(&g)
                        .unwrap_or_else(|| panic!("unknown entity {:?}", g));
                    c.text.push_str(s);
                }
            }
            Event::End(e) => {
                depth -= 1;
                match e.name().as_ref() {
                    "testcase" => cases.push(cur.take().unwrap()),
                    "failure" | "system-out" => in_text = false,
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "every element closed");
    (suites, cases)
}

fn fingerprint_re() -> Regex {
    Regex::new(r"Fingerprint: ([0-9a-f]{16})").unwrap()
}

/// Testcases that stand for findings (not the "no finding" or input ones).
fn finding_cases(cases: &[Case]) -> Vec<&Case> {
    cases
        .iter()
        .filter(|c| c.suite != "inputs" && fingerprint_re().is_match(&c.text))
        .collect()
}

fn fingerprints_junit(text: &str) -> Vec<(String, String)> {
    let (_, cases) = parse_junit(text);
    finding_cases(&cases)
        .iter()
        .map(|c| {
            let fp = fingerprint_re().captures(&c.text).unwrap()[1].to_string();
            (c.suite.clone(), fp)
        })
        .collect()
}

fn fingerprints_markdown(text: &str) -> Vec<(String, String)> {
    let re = Regex::new(r"(?m)^- (?:❌ )?\*\*\w+\*\* ([A-Z0-9\\-]+?)(?: ·[^:]*)?: .*\(fingerprint `([0-9a-f]{16})`\)$").unwrap();
    re.captures_iter(text)
        .map(|c| (c[1].replace('\\', ""), c[2].to_string()))
        .collect()
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

#[test]
fn every_format_agrees_on_the_findings() {
    let rules = rules();
    let mut reports: Vec<(&str, Report)> = [OPEN_RELAY, SAMPLES, HOSTILE]
        .into_iter()
        .map(|p| (p, scan_of(p, &rules)))
        .collect();
    reports.push(("review", review_report(&rules)));
    for (name, rep) in &reports {
        let json = fingerprints_json(rep);
        assert_eq!(json.len(), rep.findings.len());
        assert!(!json.is_empty(), "{name}");
        let sarif = fingerprints_sarif(&render(report::sarif::write, rep, &rules, high()));
        let csv = fingerprints_csv(&render(report::csv::write, rep, &rules, high()));
        let junit = fingerprints_junit(&render(report::junit::write, rep, &rules, high()));
        let md = fingerprints_markdown(&render(report::markdown::write, rep, &rules, high()));
        // Report order is kept by the formats that list findings in order.
        assert_eq!(sarif, json, "{name}: sarif");
        assert_eq!(csv, json, "{name}: csv");
        // JUnit groups by rule, Markdown by server and object: same set.
        assert_eq!(sorted(junit), sorted(json.clone()), "{name}: junit");
        assert_eq!(sorted(md), sorted(json.clone()), "{name}: markdown");

        let v: Value =
            serde_json::from_str(&render(report::sarif::write, rep, &rules, high())).unwrap();
        for s in Severity::ALL {
            let level_count = v["runs"][0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["properties"]["severity"] == s.as_str())
                .count();
            assert_eq!(level_count, rep.summary.count(s), "{name}: {s}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// CSV

#[test]
fn csv_has_a_header_a_row_per_finding_and_no_formula_cell() {
    let rules = rules();
    let rep = review_report(&rules);
    let text = render(report::csv::write, &rep, &rules, high());
    let (header, rows) = csv_records(&text);
    assert_eq!(
        header.iter().collect::<Vec<_>>(),
        report::csv::HEADER.to_vec()
    );
    assert_eq!(rows.len(), rep.findings.len());
    for row in &rows {
        assert_eq!(row.len(), header.len());
        for cell in row.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "formula cell {cell:?}"
            );
        }
    }
    let id = header.iter().position(|c| c == "object_id").unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| &r[id]).collect();
    for hostile in ["'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'-2", "'\tx"] {
        assert!(ids.contains(&hostile), "{hostile:?} in {ids:?}");
    }
    let ev = header.iter().position(|c| c == "evidence").unwrap();
    assert!(
        rows.iter().any(|r| r[ev].contains(" Enabled=true")),
        "evidence as file:line property=value"
    );
    assert!(
        rows.iter()
            .any(|r| r[ev].contains("receive-connectors.xml:1122 Enabled=true")),
        "{:?}",
        rows[0]
    );
    let waived = header.iter().position(|c| c == "waived").unwrap();
    let baseline = header.iter().position(|c| c == "baseline").unwrap();
    assert!(rows
        .iter()
        .any(|r| &r[waived] == "Lab only & never on the Internet"));
    assert!(rows.iter().any(|r| &r[baseline] == "unchanged"));
    assert!(rows.iter().any(|r| &r[baseline] == "new"));
}

#[test]
fn hostile_names_from_an_export_stay_text_in_every_format() {
    let rules = rules();
    let rep = scan_of(HOSTILE, &rules);
    assert_eq!(rep.findings.len(), 2, "the fixture's two findings");

    let (header, rows) = csv_records(&render(report::csv::write, &rep, &rules, high()));
    let id = header.iter().position(|c| c == "object_id").unwrap();
    assert!(rows
        .iter()
        .any(|r| r[id].starts_with("'=HYPERLINK(\"http://evil.example\"")));
    for row in &rows {
        for cell in row.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?}"
            );
        }
    }

    let md = render(report::markdown::write, &rep, &rules, high());
    let prose = outside_fences(&md);
    assert!(!prose.contains("<script"), "{md}");
    assert!(
        prose.contains("EX01\\\\&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{md}"
    );

    let xml = render(report::junit::write, &rep, &rules, high());
    assert!(!xml.contains("<script"));
    let (_, cases) = parse_junit(&xml);
    assert!(cases
        .iter()
        .any(|c| c.name == "RC-ANON-RELAY-INTERNET EX01\\<script>alert(1)</script>"));
    assert_eq!(failures(&xml), 2);
}

#[test]
fn csv_neutralises_evidence_that_starts_a_formula() {
    let rules = rules();
    let mut rep = scan_of(OPEN_RELAY, &rules);
    rep.findings.truncate(1);
    rep.findings[0].evidence.truncate(1);
    rep.findings[0].evidence[0].file = "@SUM(A1)".into();
    rep.findings[0].evidence[0].line = None;
    rep.findings[0].remediation = "-Force".into();
    let text = render(report::csv::write, &rep, &rules, high());
    let (header, rows) = csv_records(&text);
    let ev = header.iter().position(|c| c == "evidence").unwrap();
    assert!(rows[0][ev].starts_with("'@SUM(A1) "), "{:?}", &rows[0][ev]);
    let rem = header.iter().position(|c| c == "remediation").unwrap();
    assert_eq!(&rows[0][rem], "'-Force");
}

// ---------------------------------------------------------------------------------------
// Markdown

#[test]
fn markdown_verdict_follows_fail_on() {
    let rules = rules();
    let rep = scan_of(OPEN_RELAY, &rules);
    let md = render(report::markdown::write, &rep, &rules, high());
    assert!(
        md.lines()
            .next()
            .unwrap()
            .contains("❌ 1 finding at or above high"),
        "{md}"
    );
    let md = render(
        report::markdown::write,
        &rep,
        &rules,
        FailOn::At(Severity::Medium),
    );
    assert!(md
        .lines()
        .next()
        .unwrap()
        .contains("❌ 2 findings at or above medium"));
    let md = render(
        report::markdown::write,
        &rep,
        &rules,
        FailOn::At(Severity::Critical),
    );
    assert!(md
        .lines()
        .next()
        .unwrap()
        .contains("❌ 1 finding at or above critical"));
    let clean = scan_of("fixtures/clean-2019/clixml", &rules);
    let md = render(report::markdown::write, &clean, &rules, high());
    assert!(
        md.lines()
            .next()
            .unwrap()
            .contains("✅ no finding at or above high"),
        "{md}"
    );
    let md = render(report::markdown::write, &rep, &rules, FailOn::Never);
    assert!(md.lines().next().unwrap().starts_with("## relay-audit: ✅"));
    let mut broken = scan_of("fixtures/clean-2019/clixml", &rules);
    broken
        .errors
        .push(InputError::new("rc.xml", Some(3), "malformed XML"));
    let unsure = render(report::markdown::write, &broken, &rules, high());
    assert!(
        unsure
            .lines()
            .next()
            .unwrap()
            .contains("⚠️ no finding at or above high, but 1 input could not be read"),
        "{unsure}"
    );
    // Summary table: one row per severity.
    for s in Severity::ALL {
        assert!(
            md.contains(&format!("| {s} | {} |", rep.summary.count(s))),
            "{md}"
        );
    }
    // Remediation in a fenced block, evidence nested.
    assert!(
        md.contains("  ```powershell\n  Remove-ADPermission"),
        "{md}"
    );
    assert!(md.contains(
        "  - fixtures/open-relay-anonymous/clixml/receive-connectors.xml:1122: Enabled = true"
    ));
}

/// The Markdown without the contents of fenced code blocks (CommonMark rules: a fence
/// closes only on a line of at least as many backticks and nothing else).
fn outside_fences(md: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<usize> = None;
    for line in md.lines() {
        let t = line.trim();
        let ticks = t.len() - t.trim_start_matches('`').len();
        match fence {
            None if ticks >= 3 => fence = Some(ticks),
            None => {
                out.push_str(line);
                out.push('\n');
            }
            Some(n) if ticks >= n && ticks == t.len() => fence = None,
            Some(_) => {}
        }
    }
    assert!(fence.is_none(), "every fence closes");
    out
}

#[test]
fn markdown_escapes_values_from_the_export() {
    let rules = rules();
    let rep = review_report(&rules);
    let md = render(report::markdown::write, &rep, &rules, high());
    // No HTML from the export survives outside code blocks: only the writer's own
    // <details>/<summary>.
    let prose = outside_fences(&md);
    let tags = Regex::new(r"<(/?)([A-Za-z]+)").unwrap();
    for c in tags.captures_iter(&prose) {
        assert!(
            matches!(&c[2], "details" | "summary"),
            "raw HTML tag <{}{}> in:\n{md}",
            &c[1],
            &c[2]
        );
    }
    assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{md}");
    assert!(md.contains("EX01\\\\Old \\| relay"), "{md}");
    assert!(
        md.contains("\n**x** (receive-connector)"),
        "a tab-led id stays bold"
    );
    // The link's `:` is escaped too: no autolink (issue "Hostile and damaged exports").
    assert!(md.contains("a\\|b \\`code\\` \\*bold\\* \\_em\\_ \\[link\\](http\\://x)"));
    assert!(
        md.contains("EX01\\\\Gone \\[relay\\]"),
        "resolved listed: {md}"
    );
    // The message's line break does not start a heading.
    assert!(!md.lines().any(|l| l.starts_with("# heading")));
    // Table rows keep their five cell borders.
    for line in md.lines().filter(|l| l.starts_with('|')) {
        let borders = line.matches('|').count() - line.matches("\\|").count();
        assert_eq!(borders, 5, "{line}");
    }
    // A remediation with a ``` line cannot close its fence early.
    assert!(md.contains("  ````powershell\n  Set-Thing -Name \"```\"\n  ```\n  <script>\n  ````"));
    // Waived findings are in their own <details> section, with the waiver.
    let details = md.find("<details>").expect("waived section");
    let waived_at = md.find("Waived &lt;b&gt;relay&lt;/b&gt;").unwrap();
    assert!(
        waived_at > details,
        "the waived finding is inside <details>"
    );
    assert!(md[details..].contains("Lab only &amp; never on the Internet"));
    // Input problems listed.
    assert!(md.contains("### Input problems"));
    assert!(md.contains("- **error** C:/exports/broken rc.xml:3: malformed XML"));
    assert!(md.contains("5 files read (0 skipped, 1 unreadable)"));
    assert!(md.contains("&lt;truncated&gt;"));
    assert!(md.contains("could not be read"));
}

// ---------------------------------------------------------------------------------------
// JUnit

fn failures(xml: &str) -> usize {
    let (suites, cases) = parse_junit(xml);
    let n = cases.iter().filter(|c| c.failure.is_some()).count();
    let declared: usize = suites.values().map(|c| c[1]).sum();
    assert_eq!(n, declared, "suite failure counts match their testcases");
    for (name, [tests, failures, errors, skipped]) in &suites {
        let mine: Vec<_> = cases.iter().filter(|c| &c.suite == name).collect();
        assert_eq!(*tests, mine.len(), "{name}");
        assert_eq!(
            *failures,
            mine.iter().filter(|c| c.failure.is_some()).count()
        );
        assert_eq!(*errors, mine.iter().filter(|c| c.error).count());
        assert_eq!(*skipped, mine.iter().filter(|c| c.skipped).count());
    }
    n
}

#[test]
fn junit_parses_back_with_the_failures_fail_on_asks_for() {
    let rules = rules();
    let rep = scan_of(OPEN_RELAY, &rules);
    assert_eq!(rep.summary.critical, 1);
    assert_eq!(rep.summary.medium, 1);
    let render_at = |f| render(report::junit::write, &rep, &rules, f);
    assert_eq!(failures(&render_at(high())), 1);
    assert_eq!(failures(&render_at(FailOn::At(Severity::Medium))), 2);
    assert_eq!(failures(&render_at(FailOn::Never)), 0);

    let xml = render_at(high());
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let (suites, cases) = parse_junit(&xml);
    // One suite per rule (plus the inputs), every rule shown.
    for r in &rules.rules {
        assert!(suites.contains_key(&r.id), "suite for {}", r.id);
        assert!(cases.iter().any(|c| c.suite == r.id));
    }
    assert_eq!(suites.len(), rules.rules.len() + 1);
    let failed = cases.iter().find(|c| c.failure.is_some()).unwrap();
    assert_eq!(failed.classname, "receive-connector");
    assert_eq!(
        failed.name,
        "RC-ANON-RELAY-INTERNET EX01\\Default Frontend EX01"
    );
    let (message, kind) = failed.failure.clone().unwrap();
    assert_eq!(kind, "critical");
    assert_eq!(message, rep.findings[0].message);
    assert!(failed
        .text
        .contains("receive-connectors.xml:1122: Enabled = true"));
    assert!(failed.text.contains("Remediation:\nRemove-ADPermission"));
    let below = cases
        .iter()
        .find(|c| c.name.starts_with("RC-DEFAULT-CONNECTOR-MODIFIED "))
        .unwrap();
    assert!(below.failure.is_none());
    assert!(
        below.text.contains("below --fail-on high"),
        "{}",
        below.text
    );
    let quiet = cases
        .iter()
        .find(|c| c.name == "RC-ANON-RELAY-SCOPED")
        .unwrap();
    assert!(quiet.failure.is_none() && !quiet.skipped);
    assert!(quiet.text.starts_with("no finding"));
    let inputs: Vec<_> = cases.iter().filter(|c| c.suite == "inputs").collect();
    assert_eq!(inputs.len(), rep.inputs.len());
}

#[test]
fn junit_waived_and_unchanged_findings_pass_and_values_are_escaped() {
    let rules = rules();
    let rep = review_report(&rules);
    let xml = render(report::junit::write, &rep, &rules, high());
    let counting = rep
        .findings
        .iter()
        .filter(|f| f.counts() && f.severity <= Severity::High)
        .count();
    assert_eq!(failures(&xml), counting);
    assert!(!xml.contains("<script>") && !xml.contains("<b>"));
    assert!(!xml.contains('\u{1}'), "control characters are replaced");
    let (_, cases) = parse_junit(&xml);
    let waived = cases
        .iter()
        .find(|c| c.name.ends_with("Waived <b>relay</b>"))
        .unwrap();
    assert!(waived.failure.is_none());
    assert!(waived
        .text
        .contains("waived until 2099-12-31 by j.doe@contoso.com"));
    let unchanged = cases
        .iter()
        .find(|c| c.name.ends_with("Old | relay"))
        .unwrap();
    assert!(unchanged.failure.is_none());
    assert!(unchanged.text.contains("unchanged since the baseline"));
    let hostile = cases
        .iter()
        .find(|c| c.name.ends_with("=HYPERLINK(\"http://x\",\"y\")"))
        .unwrap();
    let (message, _) = hostile
        .failure
        .clone()
        .expect("a new critical finding fails");
    assert!(message.contains("<img src=x onerror=alert(1)>\n# heading"));
    assert!(hostile.text.contains("<script>alert(1)</script>"));
    let inputs: Vec<_> = cases.iter().filter(|c| c.suite == "inputs").collect();
    assert_eq!(inputs.len(), rep.inputs.len());
    let broken: Vec<_> = inputs.iter().filter(|c| c.error).collect();
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].name, "C:/exports/broken rc.xml");
    assert_eq!(finding_cases(&cases).len(), rep.findings.len());
}

#[test]
fn junit_skips_rules_whose_object_kind_was_not_exported() {
    let rules = rules();
    // The samples hold connectors, domains and servers, but no permission entries.
    let rep = scan_of(SAMPLES, &rules);
    assert_eq!(rep.model_counts.permissions, 0);
    let (_, cases) = parse_junit(&render(report::junit::write, &rep, &rules, high()));
    for r in rules
        .rules
        .iter()
        .filter(|r| r.object.as_str() == "ad-permission")
    {
        let c = cases.iter().find(|c| c.suite == r.id).unwrap();
        if !rep.findings.iter().any(|f| f.rule == r.id) {
            assert!(c.skipped, "{} judged nothing", r.id);
        }
    }
    let skipped_inputs = cases
        .iter()
        .filter(|c| c.suite == "inputs" && c.skipped)
        .count();
    assert_eq!(
        skipped_inputs,
        rep.inputs.iter().filter(|i| i.status == "skipped").count()
    );
}

// ---------------------------------------------------------------------------------------

#[test]
fn writers_are_deterministic() {
    let rules = rules();
    let rep = review_report(&rules);
    for w in [
        report::sarif::write as Writer,
        report::junit::write,
        report::csv::write,
        report::markdown::write,
    ] {
        assert_eq!(
            render(w, &rep, &rules, high()),
            render(w, &rep, &rules, high())
        );
    }
}

/// A probe's SARIF (live evidence, no file locations; the export's connector with its line
/// when compared) is valid SARIF 2.1.0 too.
#[test]
fn probe_sarif_is_valid() {
    let replay = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/rules/PROBE-CONTRADICTS-EXPORT/fires-open-postfix-vs-closed-exchange-2019/probe.json");
    let export = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/clean-2019/format-list");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_relay-audit"))
        .args(["probe", "--replay"])
        .arg(&replay)
        .arg("--export")
        .arg(&export)
        .args([
            "--server",
            "EX01",
            "--server-port",
            "25",
            "--format",
            "sarif",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid_sarif(&v);
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(results
        .iter()
        .any(|r| r["ruleId"] == "PROBE-CONTRADICTS-EXPORT"));
}

#[test]
fn sarif_stays_within_github_code_scanning_limits() {
    // docs.github.com, "SARIF results exceed hard limit": at most 25,000 results per run,
    // 1,000 locations per result and 20 tags per rule, or the upload is rejected.
    let rules = rules();
    let mut rep = scan::scan(
        &[PathBuf::from("fixtures/open-relay-anonymous/clixml")],
        &rules,
        &ScanOptions::default(),
    );
    let first = rep.findings[0].clone();
    let mut many = first.clone();
    many.evidence = (0..1_500).map(|_| first.evidence[0].clone()).collect();
    rep.findings = std::iter::once(many)
        .chain((0..25_010).map(|i| {
            let mut f = first.clone();
            f.fingerprint = format!("{i:016x}");
            f
        }))
        .collect();
    let v: Value =
        serde_json::from_str(&render(report::sarif::write, &rep, &rules, high())).unwrap();
    let run = &v["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 25_000);
    assert_eq!(results[0]["locations"].as_array().unwrap().len(), 1_000);
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert!(
        notes.iter().any(|n| n["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("11 findings left out of this log")),
        "{notes:?}"
    );
    for r in run["tool"]["driver"]["rules"].as_array().unwrap() {
        assert!(r["properties"]["tags"].as_array().unwrap().len() <= 10);
        let s: f64 = r["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.0..=10.0).contains(&s));
    }
}
