//! Reading every input into one model: the walk of folders, standard input and archives
//! staged as folders, the files read at once (each into a builder of its own, taken into the
//! model in input order), and the logs, read last.

use super::read::{error_input, scan_file, skipped_input, Deferred};
use super::walk::{named_path, show, Named};
use super::{logs, stage, walk, InputSummary, Loaded, ScanOptions, Seen, Walked};
use crate::diag::{Diagnostic, InputError};
use crate::model::ModelBuilder;
use std::path::{Path, PathBuf};

/// Reads every path into one model (no rules yet).
pub fn load(paths: &[PathBuf], opts: &ScanOptions) -> Loaded {
    load_with(paths, opts, true)
}

/// [`load`] with the files read one after another, for a caller that already reads
/// several loads at once (`diff`'s two exports).
pub fn load_on_one_thread(paths: &[PathBuf], opts: &ScanOptions) -> Loaded {
    load_in(paths, opts, true, 1)
}

/// [`load`], telling whether the files were named by the user (`by_name`: a file that is not
/// an export is then an error) or found in a folder (then it is skipped, as in a walk).
pub(crate) fn load_with(paths: &[PathBuf], opts: &ScanOptions, by_name: bool) -> Loaded {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    load_in(paths, opts, by_name, workers)
}

/// What reading the inputs is made of, in input order: the files to read, and what was
/// decided without reading (a skipped file, an unreadable one, a note on a staged archive).
enum Job {
    /// Read this file (`bool`: named on the command line).
    Read(PathBuf, bool),
    /// A skipped or unreadable input, and its error.
    Decided(Box<InputSummary>, Option<InputError>),
    Note(Diagnostic),
    /// An error with no input entry (nothing on standard input).
    Error(InputError),
}

/// One file read in a builder of its own (see [`ModelBuilder::absorb`]).
struct Part {
    summary: InputSummary,
    builder: ModelBuilder,
    diagnostics: Vec<Diagnostic>,
    errors: Vec<InputError>,
    deferred: Vec<Deferred>,
}

fn read_part(path: &Path, by_name: bool, opts: &ScanOptions) -> Part {
    let mut builder = ModelBuilder::new();
    let mut diagnostics = Vec::new();
    let mut errors = Vec::new();
    let mut deferred = Vec::new();
    let summary = scan_file(
        path,
        by_name,
        opts,
        &mut builder,
        &mut diagnostics,
        &mut errors,
        &mut deferred,
    );
    Part {
        summary,
        builder,
        diagnostics,
        errors,
        deferred,
    }
}

/// Inputs of two Exchange organisations are never judged as one without being asked to
/// (`--one-organisation`): connectors of the same name would merge, one client's grants
/// would land on the other's connectors. The folder of client folders is the way to audit
/// several at once.
fn organisations_apart(
    model: &crate::model::Model,
    opts: &ScanOptions,
    diagnostics: &mut Vec<Diagnostic>,
    errors: &mut Vec<InputError>,
) {
    let orgs = &model.organisations;
    if orgs.len() < 2 {
        return;
    }
    let list = orgs
        .iter()
        .map(|(o, f)| format!("{o} (first in {f})"))
        .collect::<Vec<_>>()
        .join(", ");
    let message = format!(
        "the inputs hold {} Exchange organisations: {list}. One audit would judge them as one organisation (connectors of the same name merged)",
        orgs.len()
    );
    if opts.one_organisation {
        diagnostics.push(Diagnostic::warning(
            &orgs[1].1,
            None,
            format!("{message}: judged as one, as asked"),
        ));
    } else {
        errors.push(InputError::new(
            &orgs[1].1,
            None,
            format!("{message}; so this is no verdict. Put each organisation's export in a folder of its own and scan the folder that holds them (one audit each), or give --one-organisation to judge them as one"),
        ));
    }
}

/// [`load_with`] on `workers` threads: the files are read at once, each into a builder of
/// its own, and taken into the model in input order, so the model, the inputs and the
/// diagnostics are those of reading them one by one. (An export is often two large files,
/// the connectors and their permissions: one thread each.)
pub(crate) fn load_in(
    paths: &[PathBuf],
    opts: &ScanOptions,
    by_name: bool,
    workers: usize,
) -> Loaded {
    let mut seen = Seen::default();
    // Standard input and zip archives, staged as folders until the logs are read too.
    let mut staged: Vec<stage::Staged> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    let decided = |jobs: &mut Vec<Job>, summary: InputSummary, error: Option<InputError>| {
        jobs.push(Job::Decided(Box::new(summary), error))
    };
    let failed = |path: &Path, message: String| {
        let mut errors = Vec::new();
        let summary = error_input(path, message, &mut errors);
        (summary, errors.pop())
    };
    for given in paths {
        let mut p = given;
        let staged_path;
        let named = if given.as_os_str() == "-" {
            match stage::stage_stdin() {
                Ok((s, file)) => {
                    staged_path = file;
                    staged.push(s);
                    p = &staged_path;
                    Named::File
                }
                Err(e) => {
                    jobs.push(Job::Error(InputError::new(&show(given), None, e)));
                    continue;
                }
            }
        } else {
            match named_path(given) {
                Named::File if stage::is_zip(given) => {
                    let shown = show(given);
                    match stage::stage_zip(given, &shown) {
                        Ok((s, notes)) => {
                            for n in notes {
                                jobs.push(Job::Note(Diagnostic::warning(&shown, None, n)));
                            }
                            staged_path = s.path().to_path_buf();
                            staged.push(s);
                            p = &staged_path;
                            Named::Folder
                        }
                        Err(e) => {
                            let (summary, error) = failed(given, e);
                            decided(&mut jobs, summary, error);
                            continue;
                        }
                    }
                }
                n => n,
            }
        };
        match named {
            Named::Folder => {
                let mut items = Vec::new();
                walk(p, &mut seen, false, &mut items);
                for item in items {
                    match item {
                        Walked::File(f) => jobs.push(Job::Read(f, false)),
                        Walked::Skipped(f, reason) => {
                            decided(&mut jobs, skipped_input(&f, reason), None)
                        }
                        Walked::Error(f, message) => {
                            let (summary, error) = failed(&f, message);
                            decided(&mut jobs, summary, error);
                        }
                    }
                }
            }
            Named::Special(kind) => {
                let (summary, error) = failed(p, format!("{kind}, not a regular file: not opened"));
                decided(&mut jobs, summary, error);
            }
            Named::File => {
                // The same file named twice (or also inside a folder named before) is read once.
                let first = std::fs::metadata(p).ok().and_then(|m| seen.first(p, &m));
                match first {
                    Some(first) => decided(
                        &mut jobs,
                        skipped_input(p, format!("same file as {}: read once", show(&first))),
                        None,
                    ),
                    None => jobs.push(Job::Read(p.clone(), by_name)),
                }
            }
            Named::Missing => jobs.push(Job::Read(p.clone(), true)),
        }
    }

    let reads: Vec<usize> = (0..jobs.len())
        .filter(|&i| matches!(jobs[i], Job::Read(..)))
        .collect();
    let workers = workers.clamp(1, reads.len().max(1));
    let mut builder = ModelBuilder::new();
    let mut inputs = Vec::new();
    let mut diagnostics = Vec::new();
    let mut errors = Vec::new();
    let mut deferred: Vec<Deferred> = Vec::new();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Part)>();
        if workers > 1 {
            for _ in 0..workers {
                let tx = tx.clone();
                let (next, reads, jobs) = (&next, &reads, &jobs);
                scope.spawn(move || loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&i) = reads.get(k) else { break };
                    if let Job::Read(path, by_name) = &jobs[i] {
                        if tx.send((i, read_part(path, *by_name, opts))).is_err() {
                            break;
                        }
                    }
                });
            }
        }
        drop(tx);
        let mut arrived: std::collections::HashMap<usize, Part> = Default::default();
        for (i, job) in jobs.iter().enumerate() {
            match job {
                Job::Decided(summary, error) => {
                    inputs.push((**summary).clone());
                    errors.extend(error.clone());
                }
                Job::Note(d) => diagnostics.push(d.clone()),
                Job::Error(e) => errors.push(e.clone()),
                Job::Read(path, by_name) => {
                    let part = if workers > 1 {
                        loop {
                            if let Some(p) = arrived.remove(&i) {
                                break Some(p);
                            }
                            match rx.recv() {
                                Ok((j, p)) => {
                                    arrived.insert(j, p);
                                }
                                Err(_) => break None,
                            }
                        }
                    } else {
                        None
                    };
                    let absorbed = part.and_then(|p| match builder.absorb(p.builder) {
                        Ok(()) => Some((p.summary, p.diagnostics, p.errors, p.deferred)),
                        Err(_) => None,
                    });
                    match absorbed {
                        Some((summary, diags, errs, defs)) => {
                            inputs.push(summary);
                            diagnostics.extend(diags);
                            errors.extend(errs);
                            deferred.extend(defs);
                        }
                        // Read alone, or sharing an object with an earlier file: read here.
                        None => inputs.push(scan_file(
                            path,
                            *by_name,
                            opts,
                            &mut builder,
                            &mut diagnostics,
                            &mut errors,
                            &mut deferred,
                        )),
                    }
                    for d in deferred.iter_mut().filter(|d| d.index == usize::MAX) {
                        d.index = inputs.len() - 1;
                    }
                }
            }
        }
    });
    let (mut model, model_diags) = builder.finish();
    diagnostics.extend(model_diags);
    logs::read_logs(
        &deferred,
        opts,
        &mut model,
        &mut inputs,
        &mut diagnostics,
        &mut errors,
    );
    drop(staged);
    organisations_apart(&model, opts, &mut diagnostics, &mut errors);
    for e in &errors {
        diagnostics.push(Diagnostic {
            level: crate::diag::Level::Error,
            file: e.file.clone(),
            line: e.line,
            message: e.message.clone(),
        });
    }
    Loaded {
        model,
        inputs,
        diagnostics,
        errors,
    }
}
