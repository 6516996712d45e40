//! Any text as a rule file: `parse_rule` must return a rule or a `file:line:col` error,
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = relay_audit::rules::parse_rule("fuzz.toml", &text);
});
