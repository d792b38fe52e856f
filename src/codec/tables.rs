//! The quantiser and the integer probability tables of a finalized model, and the range coder
//! that uses only those tables.
//!
//! Tables are computed once, from floats, when a model is finalized (see
//! [`crate::codec::finalize`]) and stored as integers; encoder and decoder then never touch a
//! float density, so a file decodes the same on every machine and backend (CompressAI's float
//! CDFs gave corrupt decodes across devices: its issues #279 and #309).

use anyhow::{Result, bail};
use constriction::stream::model::ContiguousCategoricalEntropyModel;
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};
use serde::{Deserialize, Serialize};

/// Fixed-point precision of the tables: probabilities are integers out of `2^PRECISION`.
pub const PRECISION: usize = 24;
/// Most symbols a channel's table may have.
pub const MAX_SYMBOLS: usize = 1 << 14;

type Categorical = ContiguousCategoricalEntropyModel<u32, Vec<u32>, PRECISION>;

/// How latent values become symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuantizerKind {
    /// Rounding to integers (models with an entropy model, trained for it).
    Integer = 0,
    /// A uniform per-channel step fitted after training (the paper's plain autoencoders).
    Uniform = 1,
}

impl QuantizerKind {
    /// The kind stored in a file's header byte, if it is one.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::Integer),
            1 => Some(Self::Uniform),
            _ => None,
        }
    }
}

/// One latent channel: symbol `s` stands for the value `offset + step * s`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelTable {
    /// Value of symbol 0.
    pub offset: f32,
    /// Distance between neighbouring symbols' values.
    pub step: f32,
    /// Probability of each symbol, in units of `2^-PRECISION`; each at least 1, summing to
    /// `2^PRECISION`.
    pub freqs: Vec<u32>,
}

/// The quantiser and tables of every latent channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tables {
    /// How values become symbols.
    pub quantizer: QuantizerKind,
    /// One per latent channel.
    pub channels: Vec<ChannelTable>,
}

impl Tables {
    /// Checks what a range coder relies on (tables read from a file are checked before use).
    pub fn validate(&self) -> Result<()> {
        if self.channels.is_empty() {
            bail!("the tables have no channel");
        }
        for (c, t) in self.channels.iter().enumerate() {
            if t.freqs.is_empty() || t.freqs.len() > MAX_SYMBOLS {
                bail!(
                    "channel {c}: {} symbols, expected 1..={MAX_SYMBOLS}",
                    t.freqs.len()
                );
            }
            if t.freqs.contains(&0) {
                bail!("channel {c}: a symbol has probability 0");
            }
            let sum: u64 = t.freqs.iter().map(|&f| f as u64).sum();
            if sum != 1 << PRECISION {
                bail!("channel {c}: probabilities add up to {sum}, not 2^{PRECISION}");
            }
            if !(t.offset.is_finite() && t.step.is_finite() && t.step > 0.0) {
                bail!(
                    "channel {c}: offset {} and step {} must be finite, step above 0",
                    t.offset,
                    t.step
                );
            }
        }
        Ok(())
    }

    /// Symbols of a latent `[C, plane]` (channel-major), clamped to each channel's table.
    pub fn quantize(&self, latent: &[f32]) -> Vec<u32> {
        let plane = latent.len() / self.channels.len().max(1);
        latent
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let t = &self.channels[(i / plane.max(1)).min(self.channels.len() - 1)];
                let s = ((v - t.offset) / t.step).round();
                // NaN lands on symbol 0 (`as` saturates; NaN becomes 0).
                (s.max(0.0) as u32).min(t.freqs.len() as u32 - 1)
            })
            .collect()
    }

    /// The latent values of `symbols` (`[C, plane]`).
    pub fn dequantize(&self, symbols: &[u32]) -> Vec<f32> {
        let plane = symbols.len() / self.channels.len().max(1);
        symbols
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let t = &self.channels[(i / plane.max(1)).min(self.channels.len() - 1)];
                t.offset + t.step * s as f32
            })
            .collect()
    }

    fn models(&self) -> Result<Vec<Categorical>> {
        self.channels
            .iter()
            .enumerate()
            .map(|(c, t)| {
                Categorical::from_nonzero_fixed_point_probabilities(&t.freqs, false)
                    .map_err(|()| anyhow::anyhow!("channel {c}: invalid probability table"))
            })
            .collect()
    }

    /// Range-codes `symbols` (`[C, plane]`, from [`Tables::quantize`]) into bytes.
    pub fn encode(&self, symbols: &[u32]) -> Result<Vec<u8>> {
        let models = self.models()?;
        let plane = self.plane(symbols.len())?;
        let mut coder = DefaultRangeEncoder::new();
        for (c, model) in models.iter().enumerate() {
            let part = &symbols[c * plane..(c + 1) * plane];
            coder
                .encode_iid_symbols(part.iter().map(|&s| s as usize), model)
                .map_err(|e| anyhow::anyhow!("cannot range-code channel {c}: {e}"))?;
        }
        let words = coder
            .into_compressed()
            .map_err(|e| anyhow::anyhow!("cannot finish the range coder: {e:?}"))?;
        Ok(words.iter().flat_map(|w| w.to_le_bytes()).collect())
    }

    /// Decodes `C x plane` symbols from `payload`; an invalid stream is an error.
    pub fn decode(&self, payload: &[u8], plane: usize) -> Result<Vec<u32>> {
        let words = payload_words(payload)?;
        let models = self.models()?;
        let mut coder = DefaultRangeDecoder::from_compressed(words)
            .map_err(|e| anyhow::anyhow!("invalid payload: {e:?}"))?;
        let mut out = Vec::with_capacity(models.len() * plane);
        for (c, model) in models.iter().enumerate() {
            for s in coder.decode_iid_symbols(plane, model) {
                let s = s.map_err(|e| anyhow::anyhow!("channel {c}: corrupt payload: {e}"))?;
                out.push(s as u32);
            }
        }
        Ok(out)
    }

    fn plane(&self, n: usize) -> Result<usize> {
        let c = self.channels.len();
        if c == 0 || !n.is_multiple_of(c) {
            bail!("{n} symbols do not split into {c} channels");
        }
        Ok(n / c)
    }

    /// Ideal code length of `symbols` under the tables, in bits (for tests and reports).
    pub fn information_bits(&self, symbols: &[u32]) -> f64 {
        let plane = symbols.len() / self.channels.len().max(1);
        symbols
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let f = self.channels[i / plane.max(1)].freqs[s as usize];
                PRECISION as f64 - (f as f64).log2()
            })
            .sum()
    }
}

/// A range coder's 32-bit words from a payload (little-endian, as written).
pub fn payload_words(payload: &[u8]) -> Result<Vec<u32>> {
    if !payload.len().is_multiple_of(4) {
        bail!(
            "payload of {} bytes is not a whole number of 32-bit words",
            payload.len()
        );
    }
    Ok(payload
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Probabilities (any non-negative weights, not all 0) as integers out of `2^PRECISION`, each
/// at least 1: `1 + floor(p * (2^PRECISION - n))`, the rounding remainder going to the most
/// probable symbol. Deterministic: the same weights give the same table everywhere.
pub fn fixed_point(weights: &[f64]) -> Vec<u32> {
    let n = weights.len();
    let total = (1u64 << PRECISION) - n as u64;
    let sum: f64 = weights.iter().map(|w| w.max(0.0)).sum();
    let mut freqs: Vec<u32> = weights
        .iter()
        .map(|w| {
            let p = if sum > 0.0 {
                w.max(0.0) / sum
            } else {
                1.0 / n as f64
            };
            1 + (p * total as f64).floor().min(total as f64) as u32
        })
        .collect();
    let used: u64 = freqs.iter().map(|&f| f as u64).sum();
    let top = (0..n).max_by_key(|&i| freqs[i]).unwrap_or(0);
    // `used` can only fall short of 2^PRECISION (floors), by less than n.
    freqs[top] += ((1u64 << PRECISION) - used) as u32;
    freqs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn tables() -> Tables {
        Tables {
            quantizer: QuantizerKind::Integer,
            channels: vec![
                ChannelTable {
                    offset: -3.0,
                    step: 1.0,
                    freqs: fixed_point(&[1.0, 4.0, 20.0, 60.0, 20.0, 4.0, 1.0]),
                },
                ChannelTable {
                    offset: 0.0,
                    step: 1.0,
                    freqs: fixed_point(&[1.0]),
                },
                ChannelTable {
                    offset: 0.0,
                    step: 0.25,
                    freqs: fixed_point(&[5.0, 1.0, 0.0, 1e-12]),
                },
            ],
        }
    }

    #[test]
    fn fixed_point_tables_are_valid_and_close() {
        let t = tables();
        t.validate().unwrap();
        let f = &t.channels[0].freqs;
        let p = f[3] as f64 / (1u64 << PRECISION) as f64;
        assert!((p - 60.0 / 110.0).abs() < 1e-6);
        assert_eq!(t.channels[1].freqs, vec![1 << PRECISION]);
        // Zero weights still get a symbol's minimum.
        assert_eq!(t.channels[2].freqs[2], 1);
    }

    #[test]
    fn range_coding_round_trips_at_the_ideal_length() {
        let t = tables();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let plane = 5000;
        let latent: Vec<f32> = (0..3 * plane)
            .map(|i| match i / plane {
                0 => (rng.random_range(-1.0f32..1.0) * 1.5) + rng.random_range(-1.0f32..1.0),
                1 => 0.2,
                _ => rng.random_range(0.0f32..0.6),
            })
            .collect();
        let symbols = t.quantize(&latent);
        let bytes = t.encode(&symbols).unwrap();
        assert_eq!(t.decode(&bytes, plane).unwrap(), symbols);
        // Within 1% + a couple of words of the information content.
        let ideal = t.information_bits(&symbols) / 8.0;
        assert!(
            (bytes.len() as f64) < ideal * 1.01 + 8.0,
            "{} bytes vs ideal {ideal}",
            bytes.len()
        );
        // Dequantised values are the symbols' centres, clamped to the table.
        let back = t.dequantize(&symbols);
        assert!(back[..plane].iter().all(|v| (-3.0..=3.0).contains(v)));
        assert!(back[plane..2 * plane].iter().all(|v| *v == 0.0));
        assert!(
            back[2 * plane..]
                .iter()
                .all(|v| [0.0, 0.25, 0.5].contains(v))
        );
    }

    #[test]
    fn bad_tables_and_payloads_are_errors() {
        let mut t = tables();
        t.channels[0].freqs[0] += 1;
        assert!(t.validate().unwrap_err().to_string().contains("add up"));
        let t = tables();
        let symbols = t.quantize(&vec![0.0; 300]);
        let bytes = t.encode(&symbols).unwrap();
        assert!(t.decode(&bytes[..bytes.len() - 1], 100).is_err());
        // Garbage decodes to something or fails, but never panics.
        for seed in 0..200u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let junk: Vec<u8> = (0..4 * rng.random_range(0..20))
                .map(|_| rng.random())
                .collect();
            let _ = t.decode(&junk, 100);
        }
    }
}
