//! The logs found by the walk, read once every export is in the model (the accepted
//! domains tell relay from delivery): in parallel, one series at a time per worker.
//!
//! A series is up to a day of consecutive files of one protocol-log folder (`RECV…-1.LOG`
//! hourly files sort in time order): its files are read in order by one worker, and the
//! sessions an hourly rollover cut in two continue into the next file. Series, not machine
//! cores, decide where sessions are cut, so the report is the same on every machine.
//! Results merge in input order.

use super::read::{unread_gap, Deferred};
use super::walk::open_regular;
use super::{show, Counting, InputSummary, ScanOptions};
use crate::diag::{Diagnostic, InputError};
use crate::input::decode::{self, TextEncoding};
use crate::input::logs::{read_log_continued, Carry};
use crate::model::usage::{Domains, LogKind, UsageBuilder};
use crate::model::Model;

/// Reads the deferred logs, in parallel (one file per worker at a time), into the model's
/// usage. Results merge in input order, so the report does not depend on thread timing.
type Read = (
    crate::input::outcome::Outcome,
    crate::model::usage::UsageBuilder,
    crate::input::logs::LogSummary,
);
type Done = (usize, Result<Read, InputError>);

/// The most files of one series: a day of hourly files.
const SERIES_FILES: usize = 24;

/// The deferred logs as series of indices: consecutive protocol logs of one folder (sorted
/// by name: hourly files sort in time order), at most [`SERIES_FILES`] each; any other log
/// is a series of its own.
fn series(deferred: &[Deferred]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..deferred.len()).collect();
    order.sort_by(|&a, &b| deferred[a].path.cmp(&deferred[b].path));
    let mut out: Vec<Vec<usize>> = Vec::new();
    let protocol = |d: &Deferred| matches!(d.kind, LogKind::SmtpReceive | LogKind::SmtpSend);
    for i in order {
        let d = &deferred[i];
        let joins = out.last().is_some_and(|s| {
            let p = &deferred[*s.last().expect("series are not empty")];
            s.len() < SERIES_FILES
                && protocol(d)
                && p.kind == d.kind
                && p.path.parent() == d.path.parent()
        });
        match out.last_mut() {
            Some(s) if joins => s.push(i),
            _ => out.push(vec![i]),
        }
    }
    out
}

pub(super) fn read_logs(
    deferred: &[Deferred],
    opts: &ScanOptions,
    model: &mut Model,
    inputs: &mut [InputSummary],
    diagnostics: &mut Vec<Diagnostic>,
    errors: &mut Vec<InputError>,
) {
    if deferred.is_empty() {
        return;
    }
    let domains = std::sync::Arc::new(Domains::new(&model.domains));
    let series = series(deferred);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(series.len())
        .max(1);
    let mut done: Vec<Done> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let domains = domains.clone();
                let (next, series) = (&next, &series);
                scope.spawn(move || {
                    let mut out: Vec<Done> = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(files) = series.get(k) else {
                            break;
                        };
                        let mut carry = None;
                        for (n, &i) in files.iter().enumerate() {
                            let last = n + 1 == files.len();
                            let (r, c) =
                                read_one_log(&deferred[i], opts, domains.clone(), carry, last);
                            carry = c;
                            out.push((i, r));
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    for (i, r) in done {
        let d = &deferred[i];
        let summary = &mut inputs[d.index];
        match r {
            Ok((outcome, usage, log)) => {
                diagnostics.extend(outcome.notes);
                if !outcome.unread.is_empty() {
                    let file = std::sync::Arc::from(summary.path.as_str());
                    // The log lines read count as what the file gave: it is partly read.
                    let gap = unread_gap(
                        summary,
                        file,
                        outcome.unread,
                        outcome.unread_count,
                        log.lines as usize,
                    );
                    model.gaps.push(gap);
                }
                if let Some(e) = outcome.error {
                    summary.status = "error";
                    summary.error = Some(e.text());
                    errors.push(e);
                }
                summary.log = Some(log);
                model.usage.merge(usage);
            }
            Err(e) => {
                summary.status = "error";
                summary.error = Some(e.text());
                errors.push(e);
            }
        }
    }
    model.usage.domains_known = domains.known();
}

fn read_one_log(
    d: &Deferred,
    opts: &ScanOptions,
    domains: std::sync::Arc<Domains>,
    carry: Option<Carry>,
    last: bool,
) -> (Result<Read, InputError>, Option<Carry>) {
    let name = show(&d.path);
    let file = match open_regular(&d.path) {
        Ok(f) => Counting {
            inner: f,
            progress: opts.progress.clone(),
        },
        Err(e) => {
            let e = InputError::new(&name, None, format!("cannot read: {e}"));
            return (Err(e), None);
        }
    };
    let mut usage = UsageBuilder::new(std::sync::Arc::from(name.as_str()), domains);
    // UTF-8 (the logs as Exchange and IIS write them) is read straight into the reader's
    // buffer (a BOM is dropped with the line's blanks); anything else (a log re-saved as
    // UTF-16) goes through the decoder, in the encoding sniffed when it was recognised.
    let (outcome, summary, carry) =
        if matches!(d.encoding, TextEncoding::Utf8 | TextEncoding::Utf8Bom) {
            read_log_continued(file, &name, d.kind, &mut usage, carry, last)
        } else {
            match decode::decode(file, Some(d.encoding)) {
                Ok((_, _, reader)) => {
                    read_log_continued(reader, &name, d.kind, &mut usage, carry, last)
                }
                Err(e) => {
                    let e = InputError::new(&name, None, format!("cannot read: {e}"));
                    return (Err(e), None);
                }
            }
        };
    (Ok((outcome, usage, summary)), carry)
}
