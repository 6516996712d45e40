//! The documented shapes of the CI formats, checked line by line: a consumer that parses them
//! strictly reads every line of relay-audit's output as one command, and nothing from an
//! export can start another.
#![allow(dead_code)]

use regex::Regex;

/// GitHub Actions workflow commands (docs.github.com, "Workflow commands for GitHub
/// Actions"): `::error|warning|notice [file=…][,line=N][,title=…]::message`, property values
/// with `%`, CR, LF, `:` and `,` escaped, the message with `%`, CR and LF escaped.
pub fn check_github(out: &str) -> usize {
    let cmd = Regex::new(
        r"^::(error|warning|notice)( (file|line|endLine|col|endColumn|title)=[^,:\r\n]*(,(file|line|endLine|col|endColumn|title)=[^,:\r\n]*)*)?::[^\r\n]*$",
    )
    .unwrap();
    let mut n = 0;
    for line in out.lines() {
        if line.starts_with("::") {
            assert!(cmd.is_match(line), "not a workflow command: {line:?}");
            assert!(
                !line.contains("::error::") || line.starts_with("::error"),
                "{line:?}"
            );
            n += 1;
        } else {
            assert!(line.starts_with("relay-audit: "), "stray line: {line:?}");
        }
    }
    n
}

/// Azure Pipelines logging commands (learn.microsoft.com, "Logging commands"):
/// `##vso[task.logissue type=error|warning;sourcepath=…;linenumber=N;code=…;]message`, with
/// `;` and `]` escaped in properties and CR and LF everywhere.
pub fn check_azure(out: &str) -> usize {
    let cmd = Regex::new(
        r"^##vso\[task\.logissue type=(error|warning);(sourcepath=[^;\]\r\n]*;)?(linenumber=[1-9][0-9]*;)?code=[^;\]\r\n]+;\][^\r\n]*$",
    )
    .unwrap();
    for line in out.lines() {
        assert!(cmd.is_match(line), "not a logging command: {line:?}");
        assert_eq!(line.matches("##vso[").count(), 1, "{line:?}");
    }
    out.lines().count()
}

/// `--format concise`: `place: RULE severity message` per finding, then the summary line.
pub fn check_concise(out: &str) -> usize {
    let finding =
        Regex::new(r"^[^\r\n]+: [A-Z0-9]+(-[A-Z0-9]+)+ (critical|high|medium|low|info)( \((waived|baseline)\))? [^\r\n]+$").unwrap();
    let summary = Regex::new(r"^[0-9]+ findings \([0-9]+ critical, [0-9]+ high, [0-9]+ medium, [0-9]+ low, [0-9]+ info\)$").unwrap();
    let lines: Vec<&str> = out.lines().collect();
    let (last, body) = lines.split_last().expect("a summary line");
    assert!(summary.is_match(last), "{last:?}");
    for l in body {
        assert!(finding.is_match(l), "not a concise line: {l:?}");
    }
    body.len()
}

/// The GitLab code-quality schema in tests/schemas (from GitLab's documentation).
pub fn check_gitlab(out: &str) -> usize {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/schemas/gitlab-code-quality.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(out).expect("gitlab: JSON");
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "gitlab code quality: {errors:?}");
    let fps: std::collections::HashSet<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(
        fps.len(),
        v.as_array().unwrap().len(),
        "fingerprints unique"
    );
    fps.len()
}
