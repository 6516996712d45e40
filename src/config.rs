//! `relay-audit.toml`: an operator's defaults for `scan` and `diff` — fail-on, format, output,
//! waivers, site file, extra rules, and rule selection (`select`, `extend-select`, `ignore`,
//! ids or prefixes, as ruff does). Found from the working directory upward, or named with
//! `--config`; `--isolated` ignores it. Command-line flags win over the file.
//!
//! The file is the operator's judgement, like a waiver: one found inside an audited folder is
//! refused, so a client's export cannot switch rules off.

use crate::rules::RuleSet;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "relay-audit.toml";

/// A config file is read up to this size.
const MAX_BYTES: u64 = 256 << 10;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub fail_on: Option<String>,
    pub format: Option<String>,
    /// Title of the HTML and Markdown reports (`--title` wins).
    pub title: Option<String>,
    /// Client name for the HTML and Markdown reports (`--client` wins).
    pub client: Option<String>,
    pub output: Option<PathBuf>,
    #[serde(default)]
    pub waivers: Vec<PathBuf>,
    pub site: Option<PathBuf>,
    /// Extra rule files or folders.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    pub select: Option<Vec<String>>,
    #[serde(default)]
    pub extend_select: Vec<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Where the file was read from.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// The nearest `relay-audit.toml` from `start` upward.
pub fn discover(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let p = d.join(FILE_NAME);
        if p.is_file() {
            return Some(p);
        }
        dir = d.parent();
    }
    None
}

/// Reads a config file; relative paths in it are taken from its folder.
pub fn load(path: &Path) -> Result<Config, String> {
    let show = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{show}: {e}"))?;
    if !meta.is_file() || meta.len() > MAX_BYTES {
        return Err(format!(
            "{show}: not a regular file of at most {MAX_BYTES} bytes"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{show}: {e}"))?;
    let mut c: Config = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
            .unwrap_or(1);
        format!("{show}:{line}: {}", e.message())
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let abs = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            base.join(p)
        }
    };
    c.output = c.output.as_ref().map(abs);
    c.site = c.site.as_ref().map(abs);
    c.waivers = c.waivers.iter().map(abs).collect();
    c.rules = c.rules.iter().map(abs).collect();
    c.path = Some(path.to_path_buf());
    Ok(c)
}

/// The config for a command: `--config FILE`, else the one found from the working directory
/// upward, unless `--isolated`. Refused when it lies inside an audited path.
pub fn for_command(
    explicit: Option<&Path>,
    isolated: bool,
    audited: &[PathBuf],
) -> Result<Config, String> {
    if isolated {
        return Ok(Config::default());
    }
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match std::env::current_dir().ok().and_then(|d| discover(&d)) {
            Some(p) => p,
            None => return Ok(Config::default()),
        },
    };
    if crate::review::inside_any(&path, audited) {
        return Err(format!(
            "{}: a config file is an operator file and must not come from inside the audited folder (run from elsewhere, or --isolated)",
            path.display()
        ));
    }
    load(&path)
}

/// Which rules run: `select` (default: all), plus `extend-select`, minus `ignore`. Entries are
/// rule ids or prefixes (`RC-`, `IMC-`, `PROBE-`), any case, or `ALL`. Between a selecting
/// and an ignoring entry that both match a rule, the longer (more specific) one wins.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    pub select: Option<Vec<String>>,
    pub extend_select: Vec<String>,
    pub ignore: Vec<String>,
}

fn longest_match(entries: &[String], id: &str) -> Option<usize> {
    entries
        .iter()
        .filter_map(|e| {
            let e = e.trim();
            if e.eq_ignore_ascii_case("ALL") {
                Some(0)
            } else {
                (id.len() >= e.len() && id[..e.len()].eq_ignore_ascii_case(e)).then_some(e.len())
            }
        })
        .max()
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.select.is_none() && self.extend_select.is_empty() && self.ignore.is_empty()
    }

    /// Keeps the selected rules. An entry that names no rule is an error (a typo would
    /// otherwise switch nothing off, or everything).
    pub fn apply(&self, set: &mut RuleSet) -> Result<(), String> {
        let all = ["ALL".to_string()];
        let select: Vec<String> = self
            .select
            .as_deref()
            .unwrap_or(&all)
            .iter()
            .chain(&self.extend_select)
            .cloned()
            .collect();
        for e in select.iter().chain(&self.ignore) {
            if longest_match(std::slice::from_ref(e), "").is_none()
                && !set
                    .rules
                    .iter()
                    .any(|r| longest_match(std::slice::from_ref(e), &r.id).is_some())
            {
                return Err(format!(
                    "rule selection `{e}` names no rule (`relay-audit rules list` shows the ids)"
                ));
            }
        }
        set.rules.retain(|r| match longest_match(&select, &r.id) {
            None => false,
            Some(s) => longest_match(&self.ignore, &r.id).is_none_or(|i| s > i),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(sel: Selection) -> Vec<String> {
        let mut set = RuleSet::builtin().unwrap();
        sel.apply(&mut set).unwrap();
        set.rules.into_iter().map(|r| r.id).collect()
    }

    #[test]
    fn select_ignore_and_specificity() {
        let all = ids(Selection::default()).len();
        let rc = ids(Selection {
            select: Some(vec!["rc-".into()]),
            ..Default::default()
        });
        assert!(!rc.is_empty() && rc.iter().all(|i| i.starts_with("RC-")));
        let no_default = ids(Selection {
            ignore: vec!["RC-DEFAULT-CONNECTOR-MODIFIED".into()],
            ..Default::default()
        });
        assert_eq!(no_default.len(), all - 1);
        // The more specific entry wins: ignore RC- but select one RC rule back.
        let one = ids(Selection {
            extend_select: vec!["RC-ANON-RELAY-INTERNET".into()],
            ignore: vec!["RC-".into()],
            ..Default::default()
        });
        assert!(one.contains(&"RC-ANON-RELAY-INTERNET".to_string()));
        assert!(!one.contains(&"RC-ANON-RELAY-BROAD".to_string()));
        let mut set = RuleSet::builtin().unwrap();
        let err = Selection {
            ignore: vec!["RC-TYPO".into()],
            ..Default::default()
        }
        .apply(&mut set)
        .unwrap_err();
        assert!(err.contains("names no rule"), "{err}");
    }

    #[test]
    fn discovery_walks_up_and_paths_are_the_files_own() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            "fail-on = \"medium\"\nwaivers = [\"waivers.toml\"]\nignore = [\"RC-\"]\n",
        )
        .unwrap();
        let found = discover(&deep).unwrap();
        let c = load(&found).unwrap();
        assert_eq!(c.fail_on.as_deref(), Some("medium"));
        assert_eq!(c.waivers, vec![dir.path().join("waivers.toml")]);
        std::fs::write(dir.path().join(FILE_NAME), "fail_on = 1\n").unwrap();
        let err = load(&found).unwrap_err();
        assert!(err.contains(":1:"), "{err}");
    }
}
