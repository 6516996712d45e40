//! Transport services: where and for how long a server keeps its SMTP logs.
//!
//! `Get-TransportService` / `Get-FrontEndTransportService` (2013+) and `Get-TransportServer`
//! (2007/2010) print `ReceiveProtocolLogMaxAge` (an EnhancedTimeSpan, `30.00:00:00`),
//! `ReceiveProtocolLogMaxDirectorySize` (`250 MB (262,144,000 bytes)`) and
//! `ReceiveProtocolLogPath` (empty: protocol logging is off for the whole service). The usage
//! analysis compares the window the logs cover with this retention.

use super::{ModelBuilder, Raw, Source};
use crate::input::record::Record;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct TransportService {
    /// The server (`EX01`), from Name / Identity.
    pub server: String,
    pub src: Source,
    /// `ReceiveProtocolLogMaxAge` in days, when it parses.
    pub receive_max_age_days: Option<f64>,
    pub raw: Vec<Raw>,
}

impl TransportService {
    pub fn raw(&self, name: &str) -> Option<&Raw> {
        self.raw.iter().find(|r| r.name.eq_ignore_ascii_case(name))
    }
}

/// `30.00:00:00` (days.hh:mm:ss), `7.00:00:00`, `12:00:00` → days. `00:00:00` (age-based
/// cleanup off) is `None`: the retention is then the directory size alone.
pub fn timespan_days(s: &str) -> Option<f64> {
    let s = s.trim();
    let (days, rest) = match s.split_once('.') {
        Some((d, r)) if r.contains(':') && !d.contains(':') => (d.parse::<f64>().ok()?, r),
        _ => (0.0, s),
    };
    let mut p = rest.split(':');
    let h: f64 = p.next()?.trim().parse().ok()?;
    let m: f64 = p.next()?.trim().parse().ok()?;
    let sec: f64 = p.next().unwrap_or("0").split('.').next()?.parse().ok()?;
    let total = days + (h * 3600.0 + m * 60.0 + sec) / 86_400.0;
    (total > 0.0).then_some(total)
}

pub(super) fn from_record(file: &Arc<str>, rec: &Record) -> Option<TransportService> {
    let server = ModelBuilder::text(rec, "Name").or_else(|| ModelBuilder::text(rec, "Identity"))?;
    let raw: Vec<Raw> = [
        "ReceiveProtocolLogMaxAge",
        "ReceiveProtocolLogMaxDirectorySize",
        "ReceiveProtocolLogPath",
        "MessageTrackingLogMaxAge",
    ]
    .into_iter()
    .filter_map(|n| ModelBuilder::raw(rec, n))
    .collect();
    let receive_max_age_days = raw
        .iter()
        .find(|r| r.name == "ReceiveProtocolLogMaxAge")
        .and_then(|r| timespan_days(&r.value));
    Some(TransportService {
        server,
        src: Source {
            file: file.clone(),
            line: rec.line,
        },
        receive_max_age_days,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_timespans() {
        assert_eq!(timespan_days("30.00:00:00"), Some(30.0));
        assert_eq!(timespan_days("7.12:00:00"), Some(7.5));
        assert_eq!(timespan_days("12:00:00"), Some(0.5));
        assert_eq!(timespan_days("00:00:00"), None);
        assert_eq!(timespan_days("unlimited"), None);
    }
}
