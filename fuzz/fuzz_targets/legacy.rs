//! The legacy readers: any bytes through the IPSECLIST relay-list decoder, and through
//! encoding detection into the MetaBase.xml, LDIF and `.reg` parsers. Each must return `Ok` or `Err`,
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_audit::input::{decode, ldif, metabase, reg};
use relay_audit::model::ipseclist;
use std::io::{BufReader, Read};

fuzz_target!(|data: &[u8]| {
    let _ = ipseclist::decode(data);
    let Ok((_encoding, _preview, reader)) = decode::decode(data, None) else {
        return;
    };
    let mut text = String::new();
    if BufReader::new(reader).read_to_string(&mut text).is_err() {
        return;
    }
    let _ = metabase::parse(text.as_bytes(), "MetaBase.xml", &mut |_| {});
    let _ = ldif::parse(text.as_bytes(), "smtp.ldf", &mut |_| {});
    let _ = reg::parse(text.as_bytes(), "imc.reg", &mut |_| {});
});
