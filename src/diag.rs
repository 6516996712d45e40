//! Diagnostics and errors about inputs: what could not be read, and where.
//!
//! Three things are kept apart (see the style guide): *findings* are the audit result
//! (`crate::rules`), *diagnostics* are problems with the input that did not stop the run
//! (a skipped file, a truncated list, an object of an unknown kind), and an [`InputError`]
//! means one file could not be read at all (exit code 2; every other file is still audited).

use crate::term::visible_line;
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

/// One line for people (standard error, the table report): file and message made visible
/// ([`visible_line`]), so an input's text cannot act on the terminal.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
        };
        let file = visible_line(&self.file);
        let message = visible_line(&self.message);
        match self.line {
            Some(l) => write!(f, "{file}:{l}: {level}: {message}"),
            None => write!(f, "{file}: {level}: {message}"),
        }
    }
}

/// A file that could not be read: unreadable, not an export, or malformed.
/// Rendered on one line as `path:line: message`, file and message made visible
/// ([`visible_line`]).
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

impl InputError {
    /// `path:line: message` as the input has it, for machine-readable reports (JSON, SARIF),
    /// whose serialisers escape it; people get the [`fmt::Display`] form, made visible.
    pub fn text(&self) -> String {
        match self.line {
            Some(l) => match self.col {
                Some(c) => format!("{}:{l}:{c}: {}", self.file, self.message),
                None => format!("{}:{l}: {}", self.file, self.message),
            },
            None => format!("{}: {}", self.file, self.message),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&visible_line(&self.text()))
    }
}
