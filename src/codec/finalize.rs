//! Finalizing a checkpoint: its quantiser and integer tables, computed once and kept next to
//! it (`best.ckpt` → `best.tables.json`), so that every later compress and decompress uses
//! the same integers.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tables::{ChannelTable, MAX_SYMBOLS, QuantizerKind, Tables, fixed_point};
use super::{Coder, hex, to_vec};
use crate::config::Experiment;
use crate::data::batches::{Batch, TrainingData};
use crate::eval::source::ModelSource;
use crate::model::Autoencoder;
use crate::train::checkpoint::write_atomic;

/// Integer latent values searched for the support of a factorized prior's densities.
pub const SEARCH_RANGE: i32 = 1024;
/// Probability mass left out on each side of a channel's support (values beyond it are
/// clamped to the edge symbols, which absorb this mass).
pub const TAIL_MASS: f64 = 1e-7;
/// Levels of the post-training uniform quantiser of plain autoencoders (8 bits).
pub const UNIFORM_LEVELS: usize = 256;
/// Training batches sampled for a plain autoencoder's quantiser when there is no
/// validation split.
const SAMPLE_BATCHES: u64 = 8;

/// Version of the way tables are made; tables of another version are made again.
const TABLES_VERSION: u32 = 1;

/// The tables file as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TablesFile {
    /// [`TABLES_VERSION`] they were made with.
    version: u32,
    /// Checkpoint step the tables were made for.
    step: u64,
    /// SHA-256 of the architecture and weights they were made for.
    weights: String,
    /// How they were made.
    method: String,
    /// The tables.
    tables: Tables,
}

/// Where a checkpoint's tables are kept.
pub fn tables_path(checkpoint: &Path) -> PathBuf {
    checkpoint.with_extension("tables.json")
}

/// SHA-256 of the model's architecture (its `[model]` section) and every weight, bit for bit.
pub fn weights_digest(exp: &Experiment, model: &Autoencoder) -> String {
    let mut h = Sha256::new();
    h.update(b"niclab model\0");
    h.update(toml::to_string(&exp.model).unwrap_or_default().as_bytes());
    for v in model.flat_parameters() {
        h.update(v.to_le_bytes());
    }
    hex(&h.finalize())
}

/// The coder of `source`'s checkpoint: its stored tables when they were made for these
/// weights, otherwise freshly made (and stored). `model` is the checkpoint's model on
/// `device`.
pub fn coder(source: &ModelSource, model: &Autoencoder, device: &Device) -> Result<Coder> {
    let exp = source.experiment();
    let path = tables_path(&source.path);
    let weights = weights_digest(exp, model);
    let stored = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str::<TablesFile>(&text).ok())
        .filter(|f| f.weights == weights && f.version == TABLES_VERSION);
    let file = match stored {
        Some(f) => {
            f.tables
                .validate()
                .with_context(|| format!("{}: invalid tables", path.display()))?;
            f
        }
        None => {
            eprintln!(
                "finalizing {} (step {}): computing its integer tables",
                source.path.display(),
                source.checkpoint.meta.step
            );
            let (tables, method) = make_tables(exp, model, device)?;
            tables.validate().context("computed tables are invalid")?;
            let f = TablesFile {
                version: TABLES_VERSION,
                step: source.checkpoint.meta.step,
                weights,
                method,
                tables,
            };
            let text = serde_json::to_string(&f).context("cannot serialise the tables")?;
            write_atomic(&path, text.as_bytes())?;
            f
        }
    };
    // The weights as the checkpoint holds them: the same f32 bits on every backend.
    let hyper = model
        .hyperprior()
        .map(|h| h.synthesis().map(Box::new))
        .transpose()?;
    Ok(Coder {
        fingerprint: fingerprint(&file),
        tables: file.tables,
        scale: exp.model.scale(),
        hyper,
    })
}

/// The fingerprint `.nic` files of these tables carry: SHA-256 over the weights' digest and
/// the tables.
fn fingerprint(file: &TablesFile) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(file.weights.as_bytes());
    h.update(serde_json::to_vec(&file.tables).unwrap_or_default());
    let mut fingerprint = [0u8; 8];
    fingerprint.copy_from_slice(&h.finalize()[..8]);
    fingerprint
}

/// The fingerprint of the checkpoint whose tables file is `path`, without loading the model
/// (`None` if there is no valid tables file there). Finds which model wrote a `.nic` file.
pub fn stored_fingerprint(path: &Path) -> Option<[u8; 8]> {
    let text = std::fs::read_to_string(path).ok()?;
    let file: TablesFile = serde_json::from_str(&text).ok()?;
    (file.version == TABLES_VERSION).then(|| fingerprint(&file))
}

/// Tables for `model`: from its prior's densities (the hyper-latent's, with a hyperprior),
/// or, for a plain autoencoder, a uniform quantiser and symbol counts over latents of
/// training crops.
fn make_tables(exp: &Experiment, model: &Autoencoder, device: &Device) -> Result<(Tables, String)> {
    let hyper = model.hyperprior();
    match model.prior().or(hyper.map(|h| h.prior())) {
        Some(prior) => {
            // The CDF's logits at every half-integer -R-½ ..= R+½: bin k lies between
            // points k+R and k+R+1.
            let points: Vec<f32> = (-SEARCH_RANGE - 1..=SEARCH_RANGE)
                .map(|k| k as f32 + 0.5)
                .collect();
            let channels = prior
                .logits_at(&points, device)?
                .iter()
                .map(|l| support_table(-SEARCH_RANGE, l))
                .collect::<Result<_>>()?;
            Ok((
                Tables {
                    quantizer: QuantizerKind::Integer,
                    channels,
                },
                format!(
                    "{}factorized prior: integer bins, support where the tail mass exceeds \
                     {TAIL_MASS:e}",
                    if hyper.is_some() {
                        "hyper-latent z under its "
                    } else {
                        ""
                    }
                ),
            ))
        }
        None => {
            let data = TrainingData::load(&exp.data, exp.train.batch_size, exp.train.seed)?;
            let mut batches = data.val_batches();
            let from_val = !batches.is_empty();
            if !from_val {
                let mut data = data;
                batches = (0..SAMPLE_BATCHES).map(|s| data.batch(s)).collect();
            }
            let tables = uniform_tables(model, &batches, exp.model.latent_channels, device)?;
            let crops: usize = batches.iter().map(|b| b.len).sum();
            Ok((
                tables,
                format!(
                    "post-training uniform quantiser, {UNIFORM_LEVELS} levels per channel over \
                     the latent's range on {crops} {} crops; symbol counts from the same crops",
                    if from_val { "validation" } else { "training" }
                ),
            ))
        }
    }
}

/// One channel's table from its CDF's logits at the half-integers around bins `first`,
/// `first + 1`, ...: the support keeps every bin from the first whose lower tail
/// `P(Y < k + ½)` exceeds [`TAIL_MASS`] to the last whose upper tail `P(Y > k - ½)` does; the
/// edge symbols take the tails (values beyond are clamped to them).
fn support_table(first: i32, logits: &[f64]) -> Result<ChannelTable> {
    let sig = |l: f64| 1.0 / (1.0 + (-l).exp());
    let bins = logits.len() - 1;
    // Bin j spans logits[j] .. logits[j + 1].
    let below = |j: usize| sig(logits[j + 1]);
    let above = |j: usize| sig(-logits[j]);
    let lo = (0..bins).find(|&j| below(j) > TAIL_MASS).unwrap_or(0);
    let hi = (lo..bins)
        .rev()
        .find(|&j| above(j) > TAIL_MASS)
        .unwrap_or(lo);
    if hi - lo + 1 > MAX_SYMBOLS {
        bail!(
            "the prior's density spans {} integers, more than {MAX_SYMBOLS}: the model has not \
             learned a usable density",
            hi - lo + 1
        );
    }
    let weights: Vec<f64> = (lo..=hi)
        .map(|j| {
            if lo == hi {
                1.0
            } else if j == lo {
                below(j)
            } else if j == hi {
                above(j)
            } else if logits[j] + logits[j + 1] > 0.0 {
                // Right of the median: difference of upper tails (small numbers, exact).
                sig(-logits[j]) - sig(-logits[j + 1])
            } else {
                sig(logits[j + 1]) - sig(logits[j])
            }
        })
        .collect();
    Ok(ChannelTable {
        offset: (first + lo as i32) as f32,
        step: 1.0,
        freqs: fixed_point(&weights),
    })
}

/// Per channel: [`UNIFORM_LEVELS`] levels from the smallest to the largest latent value seen
/// on `batches`, and the symbols' counts there as probabilities.
fn uniform_tables(
    model: &Autoencoder,
    batches: &[Batch],
    channels: usize,
    device: &Device,
) -> Result<Tables> {
    let mut latents = Vec::new();
    for b in batches {
        let z = model.encode(b.to_tensor(device));
        let [n, c, h, w] = z.dims();
        let v = to_vec(z, "latent")?;
        latents.push((v, n, c, h * w));
    }
    let per_channel = |ch: usize| {
        latents.iter().flat_map(move |(v, n, c, plane)| {
            (0..*n).flat_map(move |i| {
                let start = (i * c + ch) * plane;
                v[start..start + plane].iter().copied()
            })
        })
    };
    let mut tables = Vec::with_capacity(channels);
    for ch in 0..channels {
        let (lo, hi) = per_channel(ch).fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        if !(lo.is_finite() && hi.is_finite()) {
            bail!("the latent of channel {ch} is not finite on the training crops");
        }
        let (step, levels) = if hi - lo > 1e-6 {
            ((hi - lo) / (UNIFORM_LEVELS - 1) as f32, UNIFORM_LEVELS)
        } else {
            (1.0, 1)
        };
        let mut counts = vec![0f64; levels];
        for x in per_channel(ch) {
            let s = (((x - lo) / step).round().max(0.0) as usize).min(levels - 1);
            counts[s] += 1.0;
        }
        tables.push(ChannelTable {
            offset: lo,
            step,
            freqs: fixed_point(&counts),
        });
    }
    Ok(Tables {
        quantizer: QuantizerKind::Uniform,
        channels: tables,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_keeps_the_mass_and_folds_the_tails() {
        // A logistic density of scale 1 centred on 2: logits (x - 2) at x = -10.5 ..= 10.5.
        let logits: Vec<f64> = (-11..=10).map(|k| k as f64 + 0.5 - 2.0).collect();
        let t = support_table(-10, &logits).unwrap();
        // Tail mass 1e-7 of a logistic lies beyond ±16: the whole grid is kept, the edges
        // taking what lies outside it.
        assert_eq!(t.offset, -10.0);
        assert_eq!(t.freqs.len(), 21);
        let sum: u64 = t.freqs.iter().map(|&f| f as u64).sum();
        assert_eq!(sum, 1 << super::super::tables::PRECISION);
        // P(bin 2) = sig(0.5) - sig(-0.5).
        let p = t.freqs[12] as f64 / sum as f64;
        let sig = |l: f64| 1.0 / (1.0 + (-l).exp());
        assert!((p - (sig(0.5) - sig(-0.5))).abs() < 1e-6, "{p}");
        // Narrow densities keep only the bins holding more than the tail mass: at scale
        // 1/20 bin ±1 holds 4.5e-5 (kept), at scale 1/100 about 2e-22 (left out).
        let narrow = |k: f64| -> ChannelTable {
            let logits: Vec<f64> = (-11..=10).map(|j| k * (j as f64 + 0.5)).collect();
            support_table(-10, &logits).unwrap()
        };
        let t = narrow(20.0);
        assert_eq!((t.offset, t.freqs.len()), (-1.0, 3));
        let t = narrow(100.0);
        assert_eq!((t.offset, t.freqs.len()), (0.0, 1));
    }
}
