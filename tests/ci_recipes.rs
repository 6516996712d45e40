//! The CI recipes under examples/ci run the real binary with the command lines they show: each
//! `relay-audit scan exports …` line is run on a fixture standing in for `exports`, must be a
//! valid command line, exit as its step expects, and write what the next step reads.
//! (The recipes themselves are schema-validated and audited by .ci/validate-workflows.sh.)

mod common;
#[path = "common/shapes.rs"]
mod shapes;

use common::{relay_audit, root};

/// Every `relay-audit scan …` command of a recipe (not comments, not step names).
fn commands(recipe: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(root().join(recipe)).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let i = l.find("relay-audit scan ")?;
            // A command, not a step's name: only a list dash or `run:`/`bash:` before it.
            ["", "-", "run:", "bash:", "- bash:", "- run:"]
                .contains(&l[..i].trim())
                .then(|| &l[i..])
        })
        .map(|c| c.split_whitespace().skip(1).map(String::from).collect())
        .collect()
}

fn run_recipe(recipe: &str, want: usize) {
    let cmds = commands(recipe);
    assert_eq!(cmds.len(), want, "{recipe}: {cmds:?}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("exports")).unwrap();
    for e in std::fs::read_dir(root().join("fixtures/open-relay-anonymous/clixml")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join("exports").join(p.file_name().unwrap())).unwrap();
    }
    for args in cmds {
        let out = relay_audit()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        let code = out.status.code().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.stderr.is_empty(),
            "{recipe}: {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let gate = !args.iter().any(|a| a == "--exit-zero");
        // The fixture is an open relay: the gate fails the job, the report step does not.
        assert_eq!(code, if gate { 1 } else { 0 }, "{recipe}: {args:?}");
        let format = &args[args.iter().position(|a| a == "--format").unwrap() + 1];
        let written = args
            .iter()
            .position(|a| a == "-o")
            .map(|i| std::fs::read_to_string(dir.path().join(&args[i + 1])).unwrap());
        let text = written.as_deref().unwrap_or(&stdout);
        match format.as_str() {
            "github" => assert_eq!(shapes::check_github(text), 2),
            "azure" => assert_eq!(shapes::check_azure(text), 2),
            "gitlab" => assert_eq!(shapes::check_gitlab(text), 2),
            "sarif" => assert!(text.contains("\"ruleId\": \"RC-ANON-RELAY-INTERNET\"")),
            "junit" => assert!(text.contains("<failure")),
            "table" => assert!(text.contains("RC-ANON-RELAY-INTERNET")),
            f => panic!("{recipe}: a format this test does not know: {f}"),
        }
    }
}

#[test]
fn github_recipe_commands_run() {
    run_recipe("examples/ci/github/relay-audit.yml", 2);
}

#[test]
fn azure_recipe_commands_run() {
    run_recipe("examples/ci/azure/azure-pipelines.yml", 2);
}

#[test]
fn gitlab_recipe_commands_run() {
    run_recipe("examples/ci/gitlab/.gitlab-ci.yml", 2);
}
