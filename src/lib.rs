//! relay-audit: offline audit of exported Microsoft Exchange configuration for SMTP relay
//! pitfalls.

pub mod analysis;
pub mod config;
pub mod date;
pub mod diag;
pub mod diff;
pub mod explain;
pub mod input;
pub mod inventory;
pub mod model;
pub mod probe;
pub mod report;
pub mod review;
pub mod rules;
pub mod scan;
pub mod term;
