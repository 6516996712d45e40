//! Organisations are boundaries: a folder of client folders is a batch of audits, never one
//! organisation.
//!
//! A consultant keeps one folder per client. Scanned as one organisation, the clients'
//! connectors with the same identity (`EX01\Default Frontend EX01` is everyone's) were taken
//! as duplicates and every client's permission entries piled onto the first client's
//! connectors: a verdict about nobody. So a folder given alone whose own files hold no export,
//! and which holds two or more folders, is split: each sub-folder is one client, loaded,
//! judged and dropped on its own (both cores take clients from one queue, so memory holds one
//! model per core, not the batch), and the report lists the audits with a verdict each.
//! Exports of one organisation in one folder (the collection script's output, with its
//! `permissions\` sub-folder beside the files) still merge, and `--one-organisation` (or
//! naming the folders on the command line) merges a batch on purpose.

use super::walk::{named_path, Named};
use super::{audit_with_site, load_with, show, Loaded, ModelCounts, Report, ScanOptions, Summary};
use crate::diag::Diagnostic;
use crate::rules::RuleSet;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One client of a batch, as the report lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    /// The client folder's name (what its findings carry as `audit`).
    pub name: String,
    pub path: String,
    /// Files read, and those that could not be read.
    pub files: usize,
    pub unreadable: usize,
    /// Findings per severity (waivers and baselines are applied to the whole report later).
    pub summary: Summary,
}

/// How a batch is split: the folder, its own files (read as the folder's, outside any
/// audit: a README, notes) and its client folders.
pub struct Split {
    pub root: PathBuf,
    pub top: Loaded,
    pub clients: Vec<(String, PathBuf)>,
}

/// The batch `paths` is, if it is one: a single folder holding two or more folders, none of
/// whose own files gives an object (links are not followed, hidden folders are left out). A
/// file of the folder's own that gives one means the folder is an export, not a batch.
pub fn split(paths: &[PathBuf], opts: &ScanOptions) -> Option<Split> {
    let [root] = paths else {
        return None;
    };
    if !matches!(named_path(root), Named::Folder) {
        return None;
    }
    let mut files = Vec::new();
    let mut clients = Vec::new();
    for e in std::fs::read_dir(root).ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            if !name.starts_with('.') {
                clients.push((name, e.path()));
            }
        } else if t.is_file() {
            files.push(e.path());
        }
    }
    if clients.len() < 2 {
        return None;
    }
    clients.sort();
    files.sort();
    let top = load_with(&files, opts, false);
    let gives_objects = top.inputs.iter().any(|i| i.records_used > 0)
        || !top.model.connectors.is_empty()
        || !top.model.aces.is_empty();
    if gives_objects {
        return None;
    }
    Some(Split {
        root: root.clone(),
        top,
        clients,
    })
}

/// One client's audit: its inputs, diagnostics, errors and findings (the model is dropped).
struct Done {
    loaded: Loaded,
    findings: Vec<crate::rules::Finding>,
}

fn audit_one(path: &std::path::Path, rules: &RuleSet, opts: &ScanOptions) -> Done {
    // One reading thread per client: the batch already keeps every core busy.
    let loaded = super::load_in(std::slice::from_ref(&path.to_path_buf()), opts, true, 1);
    let findings = audit_with_site(&loaded.model, rules, opts.site.as_deref());
    Done { loaded, findings }
}

fn add(total: &mut ModelCounts, r: &Report) {
    let m = &r.model_counts;
    total.servers += m.servers;
    total.connectors += m.connectors;
    total.permissions += m.permissions;
    total.domains += m.domains;
    total.imcs += m.imcs;
    total.virtual_servers += m.virtual_servers;
    total.smtp_connectors += m.smtp_connectors;
    total.log_sets += m.log_sets;
}

/// Audits every client of `split` on its own, in parallel, and puts the audits in one
/// report: findings worst first (each with its `audit`), inputs and diagnostics in client
/// order, and the audits listed.
pub fn scan(split: Split, rules: &RuleSet, opts: &ScanOptions) -> Report {
    let n = split.clients.len();
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .min(n);
    let next = AtomicUsize::new(0);
    let done: Vec<Mutex<Option<Report>>> = (0..n).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let (name, path) = &split.clients[i];
                let Done {
                    loaded,
                    mut findings,
                } = audit_one(path, rules, opts);
                for f in &mut findings {
                    f.set_audit(name);
                }
                let r = super::report(loaded, findings, rules);
                *done[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            });
        }
    });

    // The folder's own files (a README, notes): read as the folder's, in no audit.
    let mut report = super::report(split.top, Vec::new(), rules);
    report.diagnostics.retain(|d| d.file != "(rules)");
    let mut counts = report.model_counts;
    for (cell, (name, path)) in done.into_iter().zip(&split.clients) {
        let Some(r) = cell.into_inner().unwrap_or_else(|e| e.into_inner()) else {
            continue;
        };
        add(&mut counts, &r);
        report.audits.push(Audit {
            name: name.clone(),
            path: show(path),
            files: r.inputs.iter().filter(|i| i.status != "skipped").count(),
            unreadable: r.inputs.iter().filter(|i| i.status == "error").count(),
            summary: r.summary,
        });
        report.inputs.extend(r.inputs);
        report
            .diagnostics
            .extend(r.diagnostics.into_iter().filter(|d| d.file != "(rules)"));
        report.errors.extend(r.errors);
        report.findings.extend(r.findings);
        if let Some(u) = r.usage {
            match &mut report.usage {
                Some(all) => {
                    all.log_sets.extend(u.log_sets);
                    all.hosts.extend(u.hosts);
                    all.domains_known |= u.domains_known;
                }
                None => report.usage = Some(u),
            }
        }
    }
    // Worst first across the batch; within a severity, client by client.
    report.findings.sort_by_key(|f| f.severity);
    for n in &rules.notes {
        report
            .diagnostics
            .push(Diagnostic::info("(rules)", None, n.clone()));
    }
    report.diagnostics.insert(
        0,
        Diagnostic::info(
            &show(&split.root),
            None,
            format!(
                "a folder of {} client folders: each audited on its own (--one-organisation audits them as one organisation)",
                split.clients.len()
            ),
        ),
    );
    report.summary = Summary::of(&report.findings);
    report.model_counts = counts;
    report
}
