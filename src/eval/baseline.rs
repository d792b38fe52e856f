//! JPEG over a whole image set, and the search for the quality whose mean SSIM matches the
//! autoencoder's (the paper's "JPEG at equal SSIM").

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result};
use image::RgbImage;
use indicatif::ProgressBar;

use super::jpeg::{JpegCodec, Quality};
use super::parallel::par_map;
use super::{Scored, mean_of};
use crate::metrics::colour::colour;
use crate::metrics::{psnr, ssim};

/// Every image at one JPEG quality.
pub struct JpegPass {
    /// The quality.
    pub quality: Quality,
    /// Per image, in set order.
    pub scores: Vec<Scored>,
    /// The JPEG files.
    pub files: Vec<Vec<u8>>,
    /// Seconds spent in PSNR and SSIM, summed over images.
    pub metrics_seconds: f64,
}

impl JpegPass {
    /// Mean SSIM over the set.
    pub fn mean_ssim(&self) -> f64 {
        mean_of(&self.scores, |s| s.ssim)
    }
}

/// Encodes, decodes and scores every image at `q` on all cores. Each image's time is its
/// encode + decode, without metrics.
pub fn jpeg_pass(originals: &[&RgbImage], q: Quality, bar: &ProgressBar) -> Result<JpegPass> {
    bar.set_message(format!("JPEG q{q}"));
    let rows = par_map(originals, JpegCodec::new, |codec, _, o| {
        let t = Instant::now();
        let file = codec.encode(o, q)?;
        let decoded = codec.decode(&file)?;
        let seconds = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let score = Scored {
            bytes: file.len(),
            psnr: psnr(o, &decoded)?,
            ssim: ssim(o, &decoded)?,
            seconds,
            colour: None,
        };
        let metrics = t.elapsed().as_secs_f64();
        bar.inc(1);
        Ok((score, file, metrics))
    })
    .with_context(|| format!("JPEG at quality {q}"))?;
    let mut pass = JpegPass {
        quality: q,
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

/// Scores the colour of every image of `pass` (decoding its files again), on all cores.
pub fn add_colour(pass: &mut JpegPass, originals: &[&RgbImage]) -> Result<()> {
    let items: Vec<usize> = (0..originals.len()).collect();
    let files = &pass.files;
    let colours = par_map(&items, JpegCodec::new, |codec, _, &i| {
        colour(originals[i], &codec.decode(&files[i])?)
    })
    .with_context(|| format!("colour of JPEG at quality {}", pass.quality))?;
    for (s, c) in pass.scores.iter_mut().zip(colours) {
        s.colour = Some(c);
    }
    Ok(())
}

/// Images of the set used to estimate the matching quality before it is confirmed on all.
pub const SAMPLE_EVERY: usize = 8;

/// The quality in 1..=100 whose mean SSIM over the set is closest to `target`, assuming mean
/// SSIM rises with quality. A bisection over 1..100 on every 8th image estimates it (7 cheap
/// passes); then passes over the whole set, stepping out from the estimate with doubling
/// steps and bisecting, find the two neighbouring qualities whose means straddle the target,
/// and the closer one wins. The answer is the one a bisection over the whole set gives, in
/// about 2 full passes instead of 7. Returns the chosen quality and every full pass made.
pub fn match_ssim(
    originals: &[&RgbImage],
    target: f64,
    bar: &ProgressBar,
) -> Result<(Quality, BTreeMap<Quality, JpegPass>)> {
    let sample: Vec<&RgbImage> = originals.iter().step_by(SAMPLE_EVERY).copied().collect();
    let quiet = ProgressBar::hidden();
    let estimate = bisect(target, |q| Ok(jpeg_pass(&sample, q, &quiet)?.mean_ssim()))?;

    let mut passes: BTreeMap<Quality, JpegPass> = BTreeMap::new();
    let mut mean_at = |q: u32| -> Result<f64> {
        let q = Quality::new(q)?;
        if let Some(p) = passes.get(&q) {
            return Ok(p.mean_ssim());
        }
        let pass = jpeg_pass(originals, q, bar)?;
        let m = pass.mean_ssim();
        passes.insert(q, pass);
        Ok(m)
    };
    // Bracket: mean at `lo` below the target, at `hi` not below; 0 and 101 stand for minus
    // and plus infinity and are never encoded.
    let q0 = u32::from(estimate.get());
    let at_q0 = mean_at(q0)?;
    let (mut lo, mut hi);
    if at_q0 < target {
        lo = (q0, at_q0);
        hi = (101, f64::INFINITY);
        let mut step = 1;
        while lo.0 + step <= 100 {
            let q = lo.0 + step;
            let m = mean_at(q)?;
            if m >= target {
                hi = (q, m);
                break;
            }
            lo = (q, m);
            step *= 2;
        }
    } else {
        hi = (q0, at_q0);
        lo = (0, f64::NEG_INFINITY);
        let mut step = 1;
        while hi.0 > step {
            let q = hi.0 - step;
            let m = mean_at(q)?;
            if m < target {
                lo = (q, m);
                break;
            }
            hi = (q, m);
            step *= 2;
        }
    }
    let best = narrow(target, lo, hi, &mut mean_at)?;
    Ok((best, passes))
}

/// Bisects a bracket of qualities, `lo` = (quality, mean) below `target` and `hi` not below
/// (0 and 101 standing for minus and plus infinity, never asked for), down to two
/// neighbours, and returns the one whose mean is closer (the lower one on a tie).
fn narrow(
    target: f64,
    mut lo: (u32, f64),
    mut hi: (u32, f64),
    mean: &mut dyn FnMut(u32) -> Result<f64>,
) -> Result<Quality> {
    while hi.0 - lo.0 > 1 {
        let mid = (lo.0 + hi.0) / 2;
        let m = mean(mid)?;
        if m < target {
            lo = (mid, m);
        } else {
            hi = (mid, m);
        }
    }
    let take_lo = lo.0 >= 1 && (hi.0 > 100 || target - lo.1 <= hi.1 - target);
    Quality::new(if take_lo { lo.0 } else { hi.0 })
}

/// Bisection over 1..=100 for the quality whose `mean` is closest to `target`.
pub fn bisect(target: f64, mut mean: impl FnMut(Quality) -> Result<f64>) -> Result<Quality> {
    narrow(
        target,
        (0, f64::NEG_INFINITY),
        (101, f64::INFINITY),
        &mut |q| mean(Quality::new(q)?),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bisection_finds_the_closest_quality() {
        // A made-up rising curve: mean(q) = q / 100.
        let mut calls = 0;
        let q = bisect(0.424, |q| {
            calls += 1;
            Ok(f64::from(q.get()) / 100.0)
        })
        .unwrap();
        assert_eq!(q.get(), 42);
        assert!(calls <= 7, "{calls} evaluations");
        assert_eq!(
            bisect(0.426, |q| Ok(f64::from(q.get()) / 100.0))
                .unwrap()
                .get(),
            43
        );
        assert_eq!(bisect(-1.0, |q| Ok(f64::from(q.get()))).unwrap().get(), 1);
        assert_eq!(bisect(1e9, |q| Ok(f64::from(q.get()))).unwrap().get(), 100);
    }
}
