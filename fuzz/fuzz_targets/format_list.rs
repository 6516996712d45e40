//! Any bytes through encoding detection and the Format-List parser: must return `Ok` or
//! `Err`, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_audit::input::{decode, format_list};
use std::io::BufReader;

fuzz_target!(|data: &[u8]| {
    let Ok((_encoding, _preview, reader)) = decode::decode(data, None) else {
        return;
    };
    let _ = format_list::parse(BufReader::new(reader), "fuzz.txt");
});
