//! Analysis: facts no single record states.
//!
//! For 2007+ receive connectors: which access-control entries belong to which connector,
//! what rights a principal effectively holds there (permission groups imply rights,
//! Externally Secured implies rights, explicit Deny beats Allow), and whether the evidence
//! for those answers was exported at all. Rules (`crate::rules`) ask these questions; they
//! never walk the model themselves.

pub mod matrix;
pub mod permissions;
pub mod selection;
pub mod site;
pub mod usage;

pub use permissions::{ConnectorFacts, Facts, Grant, Via};
