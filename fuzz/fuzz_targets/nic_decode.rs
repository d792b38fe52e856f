//! The `.nic` parser and the range decoder behind it, on arbitrary bytes.
//!
//! Random bytes rarely carry a valid checksum, so each input is also tried sealed (right
//! length and checksum, the fuzzing model's fingerprint): that drives the header checks and
//! the range decoder with arbitrary fields and payloads.
//!
//! niclab's codec files are compiled here as they are, without the rest of niclab: the
//! decoder never touches burn, and instrumenting burn for coverage made the first build take
//! half an hour.
#![no_main]
#![allow(dead_code)]

#[path = "../../src/codec/coder.rs"]
mod coder;
#[path = "../../src/codec/nic.rs"]
mod nic;
#[path = "../../src/codec/tables.rs"]
mod tables;

use coder::Coder;
use libfuzzer_sys::fuzz_target;
use nic::{HEADER_LEN, MAGIC, VERSION};
use tables::{ChannelTable, QuantizerKind, Tables, fixed_point};

fn coder() -> Coder {
    let channel = |offset: f32, weights: &[f64]| ChannelTable {
        offset,
        step: 1.0,
        freqs: fixed_point(weights),
    };
    Coder {
        tables: Tables {
            quantizer: QuantizerKind::Integer,
            channels: vec![
                channel(-2.0, &[1.0, 5.0, 30.0, 5.0, 1.0]),
                channel(0.0, &[1.0]),
                channel(-100.0, &vec![1.0; 201]),
            ],
        },
        fingerprint: *b"fuzzfuzz",
        scale: 4,
    }
}

fuzz_target!(|data: &[u8]| {
    let coder = coder();
    let _ = coder.decode(data);
    if data.len() >= HEADER_LEN {
        let mut m = data.to_vec();
        m[..4].copy_from_slice(&MAGIC);
        m[4] = VERSION;
        m[6..14].copy_from_slice(&coder.fingerprint);
        let file = nic::seal(&m);
        // Keep each run short: the format allows up to 2^24 pixels.
        if nic::parse(&file).is_ok_and(|(h, _)| h.symbols() <= 1 << 16) {
            let _ = coder.decode(&file);
        }
    }
});
