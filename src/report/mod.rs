//! Report writers: one file per `--format` value, all taking the same [`Report`].
//!
//! Writers only format: they never analyse, filter or re-sort (findings arrive sorted worst
//! first). Output is deterministic.

pub mod csv;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod probe;
pub mod sarif;
pub mod table;

pub use crate::scan::Report;
