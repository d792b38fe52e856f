//! The `.nic` parser and the range decoders behind it, on arbitrary bytes, for both format
//! versions: a factorized model's (version 1) and a hyperprior model's (version 2: the
//! hyper-latent's payload, the scalar hyper-synthesis, the Gaussian tables it selects).
//!
//! Random bytes rarely carry a valid checksum, so each input is also tried sealed (right
//! length and checksum, the fuzzing model's fingerprint) as each version: that drives the
//! header checks and the range decoders with arbitrary fields and payloads.
//!
//! niclab's codec files are compiled here as they are, without the rest of niclab: the
//! decoder never touches burn, and instrumenting burn for coverage made the first build take
//! half an hour.
#![no_main]
#![allow(dead_code)]

#[path = "../../src/codec/coder.rs"]
mod coder;
#[path = "../../src/codec/gaussian.rs"]
mod gaussian;
#[path = "../../src/codec/nic.rs"]
mod nic;
#[path = "../../src/codec/synthesis.rs"]
mod synthesis;
#[path = "../../src/subnormals.rs"]
mod subnormals;
#[path = "../../src/codec/tables.rs"]
mod tables;

use coder::Coder;
use libfuzzer_sys::fuzz_target;
use nic::{HEADER_LEN, MAGIC};
use synthesis::{Layer, Synthesis};
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
        hyper: None,
    }
}

/// A hyperprior model of 3 channels: the same z tables, a hyper-synthesis whose weights
/// spread the scales over the Gaussian table.
fn hyper_coder() -> Coder {
    let layer = |c_in: usize, c_out: usize, k: usize| Layer {
        c_in,
        c_out,
        k,
        weight: (0..c_in * c_out * k * k)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 10.0)
            .collect(),
        bias: (0..c_out).map(|o| o as f32).collect(),
    };
    Coder {
        hyper: Some(Box::new(Synthesis {
            up: [layer(3, 3, 5), layer(3, 4, 5)],
            out: layer(4, 6, 3),
            slope: 0.01,
        })),
        fingerprint: *b"fuzzhypr",
        ..coder()
    }
}

fuzz_target!(|data: &[u8]| {
    for (coder, version) in [(coder(), 1u8), (hyper_coder(), 2)] {
        let _ = coder.decode(data);
        if data.len() >= HEADER_LEN {
            let mut m = data.to_vec();
            m[..4].copy_from_slice(&MAGIC);
            m[4] = version;
            m[6..14].copy_from_slice(&coder.fingerprint);
            let file = nic::seal(&m);
            // Keep each run short: the format allows up to 2^26 pixels.
            if nic::parse(&file).is_ok_and(|(h, _)| h.symbols() <= 1 << 16) {
                let _ = coder.decode(&file);
            }
        }
    }
});
