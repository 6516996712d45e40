//! relay-audit: offline audit of exported Microsoft Exchange configuration for SMTP relay
//! pitfalls.

pub mod diag;
pub mod input;
pub mod model;
