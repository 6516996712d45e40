//! UTF-16 to UTF-8, as `encoding_rs` decodes it, with a word-at-a-time path for ASCII.
//!
//! Every large Exchange export is UTF-16LE (Windows PowerShell's `Export-Clixml`, `>` and
//! `Out-File`), and nearly all of its text is ASCII: eight code units are checked and packed
//! with two 64-bit operations. Anything else is decoded one unit at a time with the
//! `encoding_rs` rules: an unpaired surrogate and an odd last byte each become U+FFFD. A test
//! compares the two decoders on random input cut at random places.

/// The replacement character, encoded.
const REPLACEMENT: [u8; 3] = [0xEF, 0xBF, 0xBD];

/// Decodes `input` into `out`; returns (bytes read, bytes written).
///
/// Stops when the input is used up, when `out` has fewer than 4 bytes left, or before a
/// unit that cannot be decoded yet (an odd byte or a high surrogate at the end of `input`
/// while more may come). With `last`, those are decoded as U+FFFD instead.
pub fn decode(big_endian: bool, input: &[u8], out: &mut [u8], last: bool) -> (usize, usize) {
    let (mut i, mut o) = (0, 0);
    let unit = |i: usize| {
        let b = [input[i], input[i + 1]];
        if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    };
    loop {
        let (r, w) = ascii(big_endian, &input[i..], &mut out[o..]);
        i += r;
        o += w;
        if out.len() - o < 4 {
            break;
        }
        if input.len() - i < 2 {
            if last && i < input.len() {
                out[o..o + 3].copy_from_slice(&REPLACEMENT);
                o += 3;
                i = input.len();
            }
            break;
        }
        let u = unit(i);
        let c = match u {
            0xD800..=0xDBFF => {
                if input.len() - i < 4 {
                    if !last {
                        break; // its low surrogate may be in the next chunk
                    }
                    // An odd byte after it is part of the same error (one U+FFFD).
                    i = input.len() - 2;
                    None
                } else {
                    let v = unit(i + 2);
                    if (0xDC00..=0xDFFF).contains(&v) {
                        i += 2;
                        let c = 0x10000 + ((u32::from(u) - 0xD800) << 10) + (u32::from(v) - 0xDC00);
                        char::from_u32(c)
                    } else {
                        None
                    }
                }
            }
            0xDC00..=0xDFFF => None,
            _ => char::from_u32(u32::from(u)),
        };
        i += 2;
        match c {
            Some(c) => o += c.encode_utf8(&mut out[o..]).len(),
            None => {
                out[o..o + 3].copy_from_slice(&REPLACEMENT);
                o += 3;
            }
        }
    }
    (i, o)
}

/// The ASCII run at the start of `input`, eight units at a time: (bytes read, bytes written).
fn ascii(big_endian: bool, input: &[u8], out: &mut [u8]) -> (usize, usize) {
    // In a little-endian load, the high byte of each unit is the odd byte (LE) or the even
    // one (BE); ASCII has it zero and bit 7 of the low byte clear.
    let mask: u64 = if big_endian {
        0x80FF_80FF_80FF_80FF
    } else {
        0xFF80_FF80_FF80_FF80
    };
    let shift = if big_endian { 8 } else { 0 };
    let pack = |w: u64| {
        let w = w >> shift; // units at bits 0, 16, 32, 48, each below 0x80
        let x = w | (w >> 8);
        ((x & 0xFFFF) | ((x >> 16) & 0xFFFF_0000)) as u32
    };
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    let (mut i, mut o) = (0, 0);
    // Blocks of 32 units, written so that the compiler vectorises them (a safe loop, no
    // intrinsics): all below 0x80, then each narrowed to its low byte.
    const UNITS: usize = 32;
    while input.len() - i >= 2 * UNITS && out.len() - o >= UNITS {
        let block: &[u8; 2 * UNITS] = input[i..i + 2 * UNITS].try_into().expect("a block");
        let mut units = [0u16; UNITS];
        for (u, b) in units.iter_mut().zip(block.chunks_exact(2)) {
            let b = [b[0], b[1]];
            *u = if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            };
        }
        if units.iter().fold(0, |a, &u| a | u) >= 0x80 {
            break;
        }
        for (d, u) in out[o..o + UNITS].iter_mut().zip(units) {
            *d = u as u8;
        }
        i += 2 * UNITS;
        o += UNITS;
    }
    // Then eight at a time up to the first unit that is not ASCII.
    while input.len() - i >= 16 && out.len() - o >= 8 {
        let (a, b) = (word(&input[i..i + 8]), word(&input[i + 8..i + 16]));
        if (a | b) & mask != 0 {
            break;
        }
        out[o..o + 4].copy_from_slice(&pack(a).to_le_bytes());
        out[o + 4..o + 8].copy_from_slice(&pack(b).to_le_bytes());
        i += 16;
        o += 8;
    }
    (i, o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{UTF_16BE, UTF_16LE};

    /// Decodes `bytes` cut into pieces of the given lengths, with an output buffer of
    /// `room` bytes per call.
    fn ours(big: bool, bytes: &[u8], cuts: &[usize], room: usize) -> Vec<u8> {
        let mut text = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut out = vec![0u8; room];
        let mut at = 0;
        let mut k = 0;
        loop {
            let take = cuts
                .get(k)
                .copied()
                .unwrap_or(bytes.len())
                .min(bytes.len() - at);
            k += 1;
            pending.extend_from_slice(&bytes[at..at + take]);
            at += take;
            let last = at == bytes.len();
            loop {
                let (r, w) = decode(big, &pending, &mut out, last);
                text.extend_from_slice(&out[..w]);
                pending.drain(..r);
                if r == 0 && w == 0 {
                    break;
                }
            }
            if last {
                assert!(pending.is_empty(), "input left over at the end");
                return text;
            }
        }
    }

    fn theirs(big: bool, bytes: &[u8]) -> Vec<u8> {
        let enc = if big { UTF_16BE } else { UTF_16LE };
        enc.decode_without_bom_handling(bytes)
            .0
            .into_owned()
            .into_bytes()
    }

    /// A small deterministic generator (no dependency for one test).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn equals_encoding_rs_on_random_units_cut_anywhere() {
        let mut g = Lcg(7);
        for case in 0..3000 {
            let n = (g.next() % 200) as usize;
            let mut bytes = Vec::new();
            for _ in 0..n {
                // Mostly ASCII, with runs long enough for the word path, and every kind of
                // unit: two-byte, three-byte, high and low surrogates, U+FEFF, NUL.
                let u: u16 = match g.next() % 12 {
                    0 => 0xD800 + (g.next() % 0x400) as u16,
                    1 => 0xDC00 + (g.next() % 0x400) as u16,
                    2 => 0x80 + (g.next() % 0x780) as u16,
                    3 => 0x800 + (g.next() % 0xC000) as u16,
                    4 => 0xFEFF,
                    5 => 0,
                    _ => (g.next() % 0x80) as u16,
                };
                bytes.extend_from_slice(&u.to_le_bytes());
            }
            if case % 3 == 0 {
                bytes.push(b'x'); // an odd last byte
            }
            let cuts: Vec<usize> = (0..4).map(|_| (g.next() % 40) as usize).collect();
            let room = 4 + (g.next() % 64) as usize;
            assert_eq!(
                ours(false, &bytes, &cuts, room),
                theirs(false, &bytes),
                "LE case {case}"
            );
            let be: Vec<u8> = bytes
                .chunks(2)
                .flat_map(|c| c.iter().rev().copied().collect::<Vec<_>>())
                .collect();
            assert_eq!(
                ours(true, &be, &cuts, room),
                theirs(true, &be),
                "BE case {case}"
            );
        }
    }

    #[test]
    fn ascii_goes_eight_units_at_a_time() {
        let text = "<Obj RefId=\"0\">\r\n  <S N=\"Name\">Default Frontend EX01</S>\r\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut out = vec![0u8; 256];
        let (r, w) = ascii(false, &le, &mut out);
        assert_eq!(r, le.len() / 16 * 16, "whole blocks of 32 units, then of 8");
        assert_eq!(&out[..w], &text.as_bytes()[..w]);
        assert_eq!(decode(false, &le, &mut out, true), (le.len(), text.len()));
        assert_eq!(&out[..text.len()], text.as_bytes());
    }
}
