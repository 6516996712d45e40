//! Diagnostics and errors about inputs: what could not be read, and where.
//!
//! Three things are kept apart (see the style guide): *findings* are the audit result
//! (`crate::rules`), *diagnostics* are problems with the input that did not stop the run
//! (a skipped file, a truncated list, an object of an unknown kind), and an [`InputError`]
//! means one file could not be read at all (exit code 2; every other file is still audited).

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Info,
}

/// An input problem that did not stop the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub level: Level,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub message: String,
}

impl Diagnostic {
    pub fn warning(file: &str, line: Option<u32>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            level: Level::Warning,
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }

    pub fn info(file: &str, line: Option<u32>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            level: Level::Info,
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
        };
        match self.line {
            Some(l) => write!(f, "{}:{}: {}: {}", self.file, l, level, self.message),
            None => write!(f, "{}: {}: {}", self.file, level, self.message),
        }
    }
}

/// A file that could not be read: unreadable, not an export, or malformed.
/// Rendered on one line as `path:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InputError {
    pub file: String,
    pub line: Option<u32>,
    /// 1-based column, where the format knows it (settings files).
    pub col: Option<u32>,
    pub message: String,
}

impl InputError {
    pub fn new(file: &str, line: Option<u32>, message: impl Into<String>) -> InputError {
        InputError {
            file: file.to_string(),
            line,
            col: None,
            message: message.into(),
        }
    }

    /// The same error, pointing at a column of its line.
    pub fn at_col(mut self, col: u32) -> InputError {
        self.col = Some(col);
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => match self.col {
                Some(c) => write!(f, "{}:{}:{}: {}", self.file, l, c, self.message),
                None => write!(f, "{}:{}: {}", self.file, l, self.message),
            },
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}
