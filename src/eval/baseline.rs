//! A classical codec over a whole image set, and the search for the level whose mean SSIM
//! matches the autoencoder's (the paper's "JPEG at equal SSIM", for any codec).

use std::collections::BTreeMap;
use std::time::Instant;

use crate::progress::Progress;
use anyhow::{Context, Result};
use image::RgbImage;

use super::parallel::par_map;
use super::{Scored, mean_of};
use crate::classic::{Codec, Encoder, Level};
use crate::metrics::{compare, psnr, ssim};

/// Every image at one level of one codec.
pub struct Pass {
    /// The codec.
    pub codec: Codec,
    /// Its level.
    pub level: Level,
    /// Per image, in set order.
    pub scores: Vec<Scored>,
    /// The files.
    pub files: Vec<Vec<u8>>,
    /// Seconds spent in PSNR and SSIM, summed over images.
    pub metrics_seconds: f64,
}

impl Pass {
    /// Mean SSIM over the set.
    pub fn mean_ssim(&self) -> f64 {
        mean_of(&self.scores, |s| s.ssim)
    }

    /// The setting as its tool spells it (`q75`, `qp24`).
    pub fn setting(&self) -> String {
        self.codec.setting(self.level)
    }
}

/// Encodes, decodes and scores every image at `level` on all cores, with its colour scores
/// and MS-SSIM (where defined) when `with_colour`. Each image's time is its encode +
/// decode, without metrics.
pub fn pass(
    originals: &[&RgbImage],
    codec: Codec,
    level: Level,
    with_colour: bool,
    bar: &Progress,
) -> Result<Pass> {
    let setting = codec.setting(level);
    bar.set_message(format!("{} {setting}", codec.name()));
    let rows = par_map(
        originals,
        || Encoder::new(codec),
        |enc, _, o| {
            let t = Instant::now();
            let file = enc.encode(o, level)?;
            let decoded = enc.decode(&file)?;
            let seconds = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let (psnr, ssim, colour, ms_ssim) = if with_colour {
                let q = compare(o, &decoded, None)?;
                (q.psnr, q.ssim, Some(q.colour), q.ms_ssim)
            } else {
                (psnr(o, &decoded)?, ssim(o, &decoded)?, None, None)
            };
            let score = Scored {
                bytes: file.len(),
                psnr,
                ssim,
                seconds,
                colour,
                ms_ssim,
            };
            let metrics = t.elapsed().as_secs_f64();
            bar.inc(1);
            Ok((score, file, metrics))
        },
    )
    .with_context(|| format!("{} at {setting}", codec.label()))?;
    let mut pass = Pass {
        codec,
        level,
        scores: Vec::with_capacity(rows.len()),
        files: Vec::with_capacity(rows.len()),
        metrics_seconds: 0.0,
    };
    for (score, file, metrics) in rows {
        pass.scores.push(score);
        pass.files.push(file);
        pass.metrics_seconds += metrics;
    }
    Ok(pass)
}

/// Images of the set used to estimate the matching quality before it is confirmed on all.
pub const SAMPLE_EVERY: usize = 8;

/// The level of `codec` whose mean SSIM over the set is closest to `target`, assuming mean
/// SSIM rises with the level. A bisection over the codec's levels on every 8th image
/// estimates it (7 cheap passes for 100 levels); then passes over the whole set, stepping out
/// from the estimate with doubling steps and bisecting, find the two neighbouring levels
/// whose means straddle the target, and the closer one wins. The answer is the one a
/// bisection over the whole set gives, in about 2 full passes instead of 7. Returns the
/// chosen level and every full pass made.
pub fn match_ssim(
    originals: &[&RgbImage],
    codec: Codec,
    target: f64,
    bar: &Progress,
) -> Result<(Level, BTreeMap<Level, Pass>)> {
    let sample: Vec<&RgbImage> = originals.iter().step_by(SAMPLE_EVERY).copied().collect();
    let quiet = Progress::hidden();
    let estimate = bisect(codec, target, |l| {
        Ok(pass(&sample, codec, l, false, &quiet)?.mean_ssim())
    })?;

    let (first, last) = bounds(codec);
    let mut passes: BTreeMap<Level, Pass> = BTreeMap::new();
    let mut mean_at = |l: i32| -> Result<f64> {
        let l = codec.level(l as u32)?;
        if let Some(p) = passes.get(&l) {
            return Ok(p.mean_ssim());
        }
        let p = pass(originals, codec, l, false, bar)?;
        let m = p.mean_ssim();
        passes.insert(l, p);
        Ok(m)
    };
    // Bracket: mean at `lo` below the target, at `hi` not below; first - 1 and last + 1
    // stand for minus and plus infinity and are never encoded.
    let l0 = i32::from(estimate.get());
    let at_l0 = mean_at(l0)?;
    let (mut lo, mut hi);
    if at_l0 < target {
        lo = (l0, at_l0);
        hi = (last + 1, f64::INFINITY);
        let mut step = 1;
        while lo.0 + step <= last {
            let l = lo.0 + step;
            let m = mean_at(l)?;
            if m >= target {
                hi = (l, m);
                break;
            }
            lo = (l, m);
            step *= 2;
        }
    } else {
        hi = (l0, at_l0);
        lo = (first - 1, f64::NEG_INFINITY);
        let mut step = 1;
        while hi.0 - step >= first {
            let l = hi.0 - step;
            let m = mean_at(l)?;
            if m < target {
                lo = (l, m);
                break;
            }
            hi = (l, m);
            step *= 2;
        }
    }
    let best = narrow(codec, target, lo, hi, &mut mean_at)?;
    Ok((best, passes))
}

/// The codec's first and last level.
fn bounds(codec: Codec) -> (i32, i32) {
    let r = codec.levels();
    (i32::from(*r.start()), i32::from(*r.end()))
}

/// Bisects a bracket of levels, `lo` = (level, mean) below `target` and `hi` not below
/// (first - 1 and last + 1 standing for minus and plus infinity, never asked for), down to
/// two neighbours, and returns the one whose mean is closer (the lower one on a tie).
fn narrow(
    codec: Codec,
    target: f64,
    mut lo: (i32, f64),
    mut hi: (i32, f64),
    mean: &mut dyn FnMut(i32) -> Result<f64>,
) -> Result<Level> {
    let (first, last) = bounds(codec);
    while hi.0 - lo.0 > 1 {
        let mid = (lo.0 + hi.0) / 2;
        let m = mean(mid)?;
        if m < target {
            lo = (mid, m);
        } else {
            hi = (mid, m);
        }
    }
    let take_lo = lo.0 >= first && (hi.0 > last || target - lo.1 <= hi.1 - target);
    codec.level((if take_lo { lo.0 } else { hi.0 }) as u32)
}

/// Bisection over the codec's levels for the one whose `mean` is closest to `target`.
pub fn bisect(
    codec: Codec,
    target: f64,
    mut mean: impl FnMut(Level) -> Result<f64>,
) -> Result<Level> {
    let (first, last) = bounds(codec);
    narrow(
        codec,
        target,
        (first - 1, f64::NEG_INFINITY),
        (last + 1, f64::INFINITY),
        &mut |l| mean(codec.level(l as u32)?),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bisection_finds_the_closest_quality() {
        // A made-up rising curve: mean(q) = q / 100.
        let mut calls = 0;
        let q = bisect(Codec::Jpeg, 0.424, |q| {
            calls += 1;
            Ok(f64::from(q.get()) / 100.0)
        })
        .unwrap();
        assert_eq!(q.get(), 42);
        assert!(calls <= 7, "{calls} evaluations");
        assert_eq!(
            bisect(Codec::Jpeg, 0.426, |q| Ok(f64::from(q.get()) / 100.0))
                .unwrap()
                .get(),
            43
        );
        assert_eq!(
            bisect(Codec::Jpeg, -1.0, |q| Ok(f64::from(q.get())))
                .unwrap()
                .get(),
            1
        );
        assert_eq!(
            bisect(Codec::Jpeg, 1e9, |q| Ok(f64::from(q.get())))
                .unwrap()
                .get(),
            100
        );
        // AVIF's levels start at 0 (quantizer 63).
        let avif = |t| {
            bisect(Codec::Avif, t, |l| Ok(f64::from(l.get())))
                .unwrap()
                .get()
        };
        assert_eq!(
            (avif(-1.0), avif(0.2), avif(30.6), avif(1e9)),
            (0, 0, 31, 63)
        );
    }
}
