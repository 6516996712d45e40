//! Any bytes through encoding detection and the CliXML parser: must return `Ok` or `Err`,
//! never panic, and stay within the parser's own depth, value and reference bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_audit::input::{clixml, decode};
use std::io::BufReader;

fuzz_target!(|data: &[u8]| {
    let Ok((_encoding, _preview, reader)) = decode::decode(data, None) else {
        return;
    };
    let _ = clixml::parse(BufReader::new(reader), "fuzz.xml", &mut |_rec| {});
});
