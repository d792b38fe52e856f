//! The Gaussian conditional's coding side (Ballé et al. 2018, Minnen et al. 2018; as
//! CompressAI's `GaussianConditional` with its scale table): a latent value `y` with a
//! predicted mean `μ` and scale `σ` is coded as the integer `round(y - μ)` under the discretised
//! Gaussian N(0, σ̂²), where σ̂ is the first entry of a fixed table of 64 scales at or above
//! `σ` (from 0.11 to 256, geometric). Each table entry has a fixed integer probability table,
//! computed here once from the formula in pure-Rust f64 arithmetic (`libm`), so every machine
//! and backend builds the same tables bit for bit and only the choice of entry depends on the
//! network's floats.
//!
//! Values beyond an entry's range (±⌈6.11 σ̂⌉, past which the Gaussian holds under 1e-9) are
//! clamped to its ends, as [`super::tables`] clamps; the end symbols carry the tail mass.
//! No burn here: the fuzz target compiles this file with the rest of the format.

use std::sync::OnceLock;

use anyhow::{Result, anyhow, bail};
use constriction::stream::model::ContiguousCategoricalEntropyModel;
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};

use super::tables::{PRECISION, fixed_point, payload_words};

/// Smallest scale of the table (CompressAI's `SCALES_MIN`); smaller predictions use it.
pub const SCALE_MIN: f64 = 0.11;
/// Largest scale of the table (`SCALES_MAX`).
pub const SCALE_MAX: f64 = 256.0;
/// Entries of the table (`SCALES_LEVELS`).
pub const LEVELS: usize = 64;
/// Half-width of an entry's symbol range in units of its scale: the standard normal's mass
/// beyond ±6.11 is 1.0e-9 (CompressAI's tail mass).
pub const TAIL: f64 = 6.11;

type Categorical = ContiguousCategoricalEntropyModel<u32, Vec<u32>, PRECISION>;

/// One scale of the table and its integer probabilities over `-half..=half`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleEntry {
    /// σ̂.
    pub scale: f64,
    /// Symbols cover the integers `-half..=half`.
    pub half: u32,
    /// Probability of each, in units of `2^-PRECISION`; each at least 1.
    pub freqs: Vec<u32>,
}

/// The table: scales and their integer probability tables.
#[derive(Debug)]
pub struct ScaleTable {
    /// In increasing order of scale.
    pub entries: Vec<ScaleEntry>,
    models: Vec<Categorical>,
}

/// The standard normal's CDF, accurate in both tails (`erfc`, not `1 + erf`).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// The table's scales: `exp` of 64 evenly spaced points from `ln 0.11` to `ln 256`.
pub fn scales() -> Vec<f64> {
    let (lo, hi) = (libm::log(SCALE_MIN), libm::log(SCALE_MAX));
    (0..LEVELS)
        .map(|i| libm::exp(lo + (hi - lo) * i as f64 / (LEVELS - 1) as f64))
        .collect()
}

/// Probability of each integer `-half..=half` under N(0, scale²) discretised to unit bins,
/// the end bins extended to ±∞ so that they sum to 1.
pub fn pmf(scale: f64, half: u32) -> Vec<f64> {
    let h = half as i64;
    (-h..=h)
        .map(|k| {
            let upper = if k == h {
                1.0
            } else {
                normal_cdf((k as f64 + 0.5) / scale)
            };
            let lower = if k == -h {
                0.0
            } else {
                normal_cdf((k as f64 - 0.5) / scale)
            };
            upper - lower
        })
        .collect()
}

impl ScaleTable {
    /// The table, built once per process.
    pub fn get() -> &'static Self {
        static TABLE: OnceLock<ScaleTable> = OnceLock::new();
        TABLE.get_or_init(Self::build)
    }

    fn build() -> Self {
        let entries: Vec<ScaleEntry> = scales()
            .into_iter()
            .map(|scale| {
                let half = libm::ceil(TAIL * scale) as u32;
                ScaleEntry {
                    scale,
                    half,
                    freqs: fixed_point(&pmf(scale, half)),
                }
            })
            .collect();
        let models = entries
            .iter()
            .map(|e| {
                // Valid by construction: every entry at least 1, summing to 2^PRECISION.
                Categorical::from_nonzero_fixed_point_probabilities(&e.freqs, false)
                    .expect("the scale table's probabilities are valid")
            })
            .collect();
        Self { entries, models }
    }

    /// The entry for a predicted scale: the first whose σ̂ is at least `scale` (the last for
    /// larger ones, the first for smaller ones and NaN).
    pub fn index(&self, scale: f32) -> u8 {
        let s = scale as f64;
        self.entries
            .iter()
            .position(|e| e.scale >= s)
            .unwrap_or(if s.is_nan() { 0 } else { LEVELS - 1 }) as u8
    }

    /// The symbol of `value` under entry `index` and mean `mean`: `round(value - mean)`
    /// clamped to the entry's range, offset to start at 0.
    pub fn symbol(&self, index: u8, value: f32, mean: f32) -> u32 {
        let e = &self.entries[index as usize];
        let h = e.half as f32;
        // NaN lands on -half (`as` saturates; NaN becomes 0).
        ((value - mean).round().clamp(-h, h) + h) as u32
    }

    /// The value a symbol stands for: its integer plus the mean.
    pub fn value(&self, index: u8, symbol: u32, mean: f32) -> f32 {
        let e = &self.entries[index as usize];
        (symbol as i64 - e.half as i64) as f32 + mean
    }

    /// The values of `symbols`, each under its entry and mean ([`ScaleTable::value`]).
    pub fn values(&self, symbols: &[u32], indexes: &[u8], means: &[f32]) -> Vec<f32> {
        symbols
            .iter()
            .zip(indexes.iter().zip(means))
            .map(|(&s, (&k, &m))| self.value(k, s, m))
            .collect()
    }

    /// Range-codes `symbols`, each under the entry `indexes` gives it.
    pub fn encode(&self, symbols: &[u32], indexes: &[u8]) -> Result<Vec<u8>> {
        if symbols.len() != indexes.len() {
            bail!("{} symbols but {} indexes", symbols.len(), indexes.len());
        }
        let mut coder = DefaultRangeEncoder::new();
        for (i, (&s, &k)) in symbols.iter().zip(indexes).enumerate() {
            let model = self.model(k)?;
            coder
                .encode_symbol(s as usize, model)
                .map_err(|e| anyhow!("cannot range-code symbol {i}: {e}"))?;
        }
        let words = coder
            .into_compressed()
            .map_err(|e| anyhow!("cannot finish the range coder: {e:?}"))?;
        Ok(words.iter().flat_map(|w| w.to_le_bytes()).collect())
    }

    /// Decodes one symbol per index from `payload`; an invalid stream is an error.
    pub fn decode(&self, payload: &[u8], indexes: &[u8]) -> Result<Vec<u32>> {
        let words = payload_words(payload)?;
        let mut coder = DefaultRangeDecoder::from_compressed(words)
            .map_err(|e| anyhow!("invalid payload: {e:?}"))?;
        indexes
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                coder
                    .decode_symbol(self.model(k)?)
                    .map(|s| s as u32)
                    .map_err(|e| anyhow!("symbol {i}: corrupt payload: {e}"))
            })
            .collect()
    }

    fn model(&self, index: u8) -> Result<&Categorical> {
        self.models
            .get(index as usize)
            .ok_or_else(|| anyhow!("scale index {index} is outside the table (0..{LEVELS})"))
    }

    /// Ideal code length of `symbols` under their entries, in bits.
    pub fn information_bits(&self, symbols: &[u32], indexes: &[u8]) -> f64 {
        symbols
            .iter()
            .zip(indexes)
            .map(|(&s, &k)| {
                let f = self.entries[k as usize].freqs[s as usize];
                PRECISION as f64 - (f as f64).log2()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_table_spans_its_scales_and_each_entry_sums_to_one() {
        let t = ScaleTable::get();
        assert_eq!(t.entries.len(), LEVELS);
        assert!((t.entries[0].scale - SCALE_MIN).abs() < 1e-12);
        assert!((t.entries[LEVELS - 1].scale - SCALE_MAX).abs() < 1e-9);
        for e in &t.entries {
            let p = pmf(e.scale, e.half);
            let sum: f64 = p.iter().sum();
            assert!(
                (sum - 1.0).abs() < 1e-12,
                "σ {}: pmf sums to {sum}",
                e.scale
            );
            // The range reaches ±6.11 σ̂, beyond which the Gaussian holds about 1e-9 (the end
            // bins carry it).
            assert!(2.0 * normal_cdf(-(e.half as f64) / e.scale) < 1.1e-9);
            assert_eq!(e.freqs.len(), 2 * e.half as usize + 1);
            assert_eq!(
                e.freqs.iter().map(|&f| f as u64).sum::<u64>(),
                1u64 << PRECISION
            );
            assert!(e.freqs.iter().all(|&f| f >= 1));
        }
        // The known values: Φ(0) = 1/2, Φ(-1.96) = 0.0249979 (to 7 digits), Φ(-8) = 6.22e-16.
        assert_eq!(normal_cdf(0.0), 0.5);
        assert!((normal_cdf(-1.96) - 0.024_997_895).abs() < 1e-8);
        assert!((normal_cdf(-8.0) / 6.220_960_574_271_785e-16 - 1.0).abs() < 1e-9);
        // Scale indexes: the first entry at or above.
        assert_eq!(t.index(0.0), 0);
        assert_eq!(t.index(0.11), 0);
        assert_eq!(t.index(0.1101), 1);
        assert_eq!(t.index(1e6), (LEVELS - 1) as u8);
        assert_eq!(t.index(f32::NAN), 0);
    }

    /// `n` draws of N(μ, σ²) with σ spread over the table, seeded.
    fn draws(n: usize, seed: u64) -> Vec<(f32, f32, f32)> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let scale = libm::exp(rng.random_range(-2.2f64..5.0)) as f32;
                let mean = rng.random_range(-20.0f32..20.0);
                // Box-Muller.
                let (u, v): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
                let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                (mean + scale * z as f32, mean, scale)
            })
            .collect()
    }

    #[test]
    fn coding_round_trips_within_one_percent_of_the_ideal_length() {
        let t = ScaleTable::get();
        let samples = draws(20_000, 5);
        let indexes: Vec<u8> = samples.iter().map(|&(_, _, s)| t.index(s)).collect();
        let symbols: Vec<u32> = samples
            .iter()
            .zip(&indexes)
            .map(|(&(y, m, _), &k)| t.symbol(k, y, m))
            .collect();
        let bytes = t.encode(&symbols, &indexes).unwrap();
        assert_eq!(t.decode(&bytes, &indexes).unwrap(), symbols);
        // The coded length against the tables' information content ...
        let table_bits = t.information_bits(&symbols, &indexes);
        let coded_bits = bytes.len() as f64 * 8.0;
        assert!(
            coded_bits <= table_bits * 1.01 + 64.0,
            "{coded_bits} coded bits vs {table_bits}"
        );
        // ... and against the ideal: -log2 of each rounded value's bin under the Gaussian of
        // its own entry, in f64 (what the fixed-point tables approximate).
        let ideal: f64 = samples
            .iter()
            .zip(&indexes)
            .map(|(&(y, m, _), &k)| {
                let s = t.entries[k as usize].scale;
                let q = (y - m).round() as f64;
                -(normal_cdf((q + 0.5) / s) - normal_cdf((q - 0.5) / s)).log2()
            })
            .sum();
        assert!(
            (coded_bits / ideal - 1.0).abs() < 0.01,
            "{coded_bits} coded bits vs ideal {ideal}"
        );
        // Decoded values are the rounded ones, to the mean's float rounding.
        for ((&(y, m, _), &k), &s) in samples.iter().zip(&indexes).zip(&symbols).take(1000) {
            let back = t.value(k, s, m);
            assert!(
                (back - m - (y - m).round()).abs() < 1e-3,
                "{y} {m} -> {back}"
            );
        }
    }

    #[test]
    fn bad_indexes_and_payloads_are_errors_not_panics() {
        let t = ScaleTable::get();
        assert!(t.encode(&[0], &[LEVELS as u8]).is_err());
        assert!(t.encode(&[0, 1], &[0]).is_err());
        let bytes = t.encode(&[3, 4, 5], &[10, 10, 10]).unwrap();
        assert!(t.decode(&bytes[..bytes.len() - 1], &[10, 10, 10]).is_err());
        assert!(t.decode(&bytes, &[10, 200, 10]).is_err());
        for seed in 0..200u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let junk: Vec<u8> = (0..4 * rng.random_range(0..20))
                .map(|_| rng.random())
                .collect();
            let indexes: Vec<u8> = (0..50).map(|_| rng.random_range(0..LEVELS as u8)).collect();
            let _ = t.decode(&junk, &indexes);
        }
    }
}
