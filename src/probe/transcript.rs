//! The raw transcript of a probe: every line sent and received, and what happened between
//! them, each with its time (UTC, milliseconds) and the connection it belongs to.

use serde::{Deserialize, Serialize};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Lines kept at most; past that, one note says how many were dropped (a server that floods
/// continuation lines cannot grow the report without bound).
pub const MAX_LINES: usize = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dir {
    /// From the probe to the server (`->`).
    #[serde(rename = "->")]
    Sent,
    /// From the server (`<-`).
    #[serde(rename = "<-")]
    Received,
    /// What the probe did or saw between lines (`**`).
    #[serde(rename = "**")]
    Note,
}

impl Dir {
    pub fn arrow(self) -> &'static str {
        match self {
            Dir::Sent => "->",
            Dir::Received => "<-",
            Dir::Note => "**",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    /// UTC, `2026-12-06T14:21:02.123Z`.
    pub at: String,
    /// Milliseconds since the probe started.
    pub ms: u64,
    /// The connection (1, 2, ... after reconnects; 0 before the first).
    pub conn: u32,
    pub dir: Dir,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Transcript {
    pub lines: Vec<Line>,
    #[serde(skip)]
    start: Option<Instant>,
    #[serde(skip)]
    pub conn: u32,
    #[serde(skip)]
    dropped: usize,
}

impl Default for Transcript {
    fn default() -> Self {
        Transcript::new()
    }
}

impl Transcript {
    pub fn new() -> Transcript {
        Transcript {
            lines: Vec::new(),
            start: Some(Instant::now()),
            conn: 0,
            dropped: 0,
        }
    }

    pub fn push(&mut self, dir: Dir, text: &str) {
        if self.lines.len() >= MAX_LINES {
            self.dropped += 1;
            return;
        }
        let ms = self
            .start
            .map(|s| s.elapsed().as_millis() as u64)
            .unwrap_or(0);
        self.lines.push(Line {
            at: now_utc(),
            ms,
            conn: self.conn,
            dir,
            text: text.to_string(),
        });
    }

    pub fn note(&mut self, text: impl AsRef<str>) {
        self.push(Dir::Note, text.as_ref());
    }

    /// Closes the transcript: a note for lines dropped past [`MAX_LINES`].
    pub fn finish(&mut self) {
        if self.dropped > 0 {
            let n = self.dropped;
            self.dropped = 0;
            self.lines.pop();
            self.note(format!(
                "{n} more lines were not kept (the transcript holds {MAX_LINES})"
            ));
        }
    }
}

/// The current time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn now_utc() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = crate::input::logs::event::format_time(d.as_secs() as i64);
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), d.subsec_millis())
}
