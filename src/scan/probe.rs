//! `relay-audit probe` as a report: the probe's runs, set beside the export when one is
//! given, judged by the `probe` rules, in the same [`Report`] every writer formats.

use super::FailOn;
use super::{report, Loaded, Report};
use crate::probe::{crosscheck, ProbeRun};
use crate::rules::RuleSet;
use std::net::IpAddr;

/// What to compare the probe with (`--export`, `--server`, `--as-seen-from`).
pub struct Export {
    pub loaded: Loaded,
    /// The export's server, picked before the probe connects.
    pub server: String,
    pub as_seen_from: Option<IpAddr>,
    /// The port the server listens on behind port forwarding (default: the port probed).
    pub server_port: Option<u16>,
}

/// Compares each run with the export (when given) and evaluates the probe rules.
pub fn probe_report(mut runs: Vec<ProbeRun>, export: Option<Export>, rules: &RuleSet) -> Report {
    let mut loaded = None;
    if let Some(x) = export {
        for run in &mut runs {
            match crosscheck::check(
                &x.loaded.model,
                run,
                &x.server,
                x.as_seen_from,
                x.server_port,
            ) {
                Ok(c) => run.export = Some(c),
                Err(e) => run.notes.push(format!("not compared with the export: {e}")),
            }
        }
        loaded = Some(x.loaded);
    }
    let findings = crate::rules::probe::evaluate_probes(rules, &runs);
    let loaded = loaded.unwrap_or_else(|| Loaded {
        model: Default::default(),
        inputs: Vec::new(),
        diagnostics: Vec::new(),
        errors: Vec::new(),
    });
    let mut rep = report(loaded, findings, rules);
    rep.model_counts.probes = runs.len();
    rep.probes = runs;
    rep
}

/// 1: a finding at or above `fail_on` (an open relay is one, even when the export could not
/// all be read); 2: an export input could not be read, or a probe decided nothing (it never
/// got an answer that decides relay); 0 otherwise.
pub fn exit_code(rep: &Report, fail_on: FailOn) -> i32 {
    let counts = match fail_on {
        FailOn::Never => false,
        FailOn::At(s) => rep.findings.iter().any(|f| f.severity <= s && f.counts()),
    };
    if counts {
        1
    } else if !rep.errors.is_empty() || rep.probes.iter().any(|p| !p.decided()) {
        2
    } else {
        0
    }
}
