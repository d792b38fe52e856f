//! The evaluation in TensorBoard, as the sub-run `<runs>/<experiment>/eval` next to the
//! training curves: per-image curves (step = image index), the means and the HParams test
//! metrics (step = the checkpoint's training step), and the side-by-side strips as images.
//! A new evaluation replaces the previous one's event files, so curves never mix two runs.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use image::RgbImage;

use super::Evaluation;
use super::report::{Summary, ratio};
use crate::board::{Board, event_files};
use crate::metrics::Colour;

/// Per-image tags with the default baseline (JPEG); another baseline's tags carry its name
/// (`eval/ssim_webp`, ...).
pub const PER_IMAGE_TAGS: [&str; 8] = [
    "eval/ssim_ae",
    "eval/ssim_jpeg",
    "eval/psnr_ae",
    "eval/psnr_jpeg",
    "eval/ratio_ae",
    "eval/ratio_jpeg",
    "eval/delta_e_ae",
    "eval/delta_e_jpeg",
];

/// `eval/mean_delta_e_<codec>` and `eval/mean_psnr_{y,cb,cr}_<codec>`.
fn colour_means(board: &mut Board, codec: &str, c: Option<Colour>, step: u64) {
    if let Some(c) = c {
        for (what, v) in [
            ("delta_e", c.delta_e),
            ("psnr_y", c.psnr_y),
            ("psnr_cb", c.psnr_cb),
            ("psnr_cr", c.psnr_cr),
        ] {
            board.scalar(&format!("eval/mean_{what}_{codec}"), v, step);
        }
    }
}

/// Writes the evaluation's events into `dir`: `s` is its summary, `strips` its rendered
/// strips (rule, image).
pub fn write(e: &Evaluation, s: &Summary, strips: &[(String, RgbImage)], dir: &Path) -> Result<()> {
    let old = event_files(dir)?;
    // Open (and lock) first, so a concurrent writer's files are never deleted.
    let mut board = Board::open(dir, None)?;
    for f in old {
        fs::remove_file(&f).with_context(|| format!("cannot remove {}", f.display()))?;
    }
    let jpeg = e.jpeg.first();
    for i in 0..e.names.len() {
        let step = i as u64;
        let ae = &e.ae[i];
        board.scalar("eval/ssim_ae", ae.ssim, step);
        board.scalar("eval/psnr_ae", ae.psnr, step);
        board.scalar("eval/ratio_ae", ratio(e.raw_bytes(i), ae.bytes), step);
        if let Some(c) = ae.colour {
            board.scalar("eval/delta_e_ae", c.delta_e, step);
        }
        if let Some(j) = jpeg {
            let (s, n) = (&j.pass.scores[i], j.pass.codec.name());
            board.scalar(&format!("eval/ssim_{n}"), s.ssim, step);
            board.scalar(&format!("eval/psnr_{n}"), s.psnr, step);
            board.scalar(
                &format!("eval/ratio_{n}"),
                ratio(e.raw_bytes(i), s.bytes),
                step,
            );
            if let Some(c) = s.colour {
                board.scalar(&format!("eval/delta_e_{n}"), c.delta_e, step);
            }
        }
    }
    let step = s.step;
    let a = &s.autoencoder;
    for (tag, v) in [
        ("eval/mean_ssim_ae", a.ssim),
        ("eval/mean_psnr_ae", a.psnr),
        ("eval/mean_ratio_ae", a.ratio),
        ("eval/mean_bpp_ae", a.bpp),
        ("eval/seconds_per_image_ae", a.seconds_per_image),
        ("hparams/test_psnr", a.psnr),
        ("hparams/test_ssim", a.ssim),
        ("hparams/test_ratio", a.ratio),
    ] {
        board.scalar(tag, v, step);
    }
    colour_means(&mut board, "ae", a.colour, step);
    if let Some(c) = a.colour {
        board.scalar("hparams/test_delta_e", c.delta_e, step);
    }
    if let Some(j) = s.jpeg.first() {
        let n = j.codec.as_str();
        colour_means(&mut board, n, j.colour, step);
        for (tag, v) in [
            ("eval/mean_ssim", j.ssim),
            ("eval/mean_psnr", j.psnr),
            ("eval/mean_ratio", j.ratio),
            ("eval/mean_bpp", j.bpp),
            ("eval/seconds_per_image", j.seconds_per_image),
            ("hparams/quality", f64::from(j.quality.unwrap_or(0))),
            ("hparams/psnr", j.psnr),
            ("hparams/ratio", j.ratio),
        ] {
            // `eval/mean_ssim_jpeg`, `hparams/jpeg_quality`, ...
            let tag = match tag.strip_prefix("hparams/") {
                Some(what) => format!("hparams/{n}_{what}"),
                None => format!("{tag}_{n}"),
            };
            board.scalar(&tag, v, step);
        }
    }
    for (rule, img) in strips {
        board.image(&format!("eval/strip_{rule}"), img, step)?;
    }
    board.flush();
    Ok(())
}
