//! Model: typed, version-aware objects built from records.

pub mod ip_range;
