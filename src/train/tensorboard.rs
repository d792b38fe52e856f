//! What a training run shows in TensorBoard: `runs/<name>/` with the loss terms, learning
//! rate and throughput, validation quality, reconstructions of a fixed validation batch, a
//! histogram of the latent, and the HParams session that lines runs up as a study.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::prelude::*;
use image::RgbImage;

use super::ValStats;
use super::checkpoint::write_atomic;
use crate::board::{Board, HParam};
use crate::config::Experiment;
use crate::data::batches::Batch;
use crate::loss::TermValues;
use crate::model::Autoencoder;

/// Validation crops shown as original | reconstruction pairs.
pub const SHOWN_CROPS: usize = 4;
/// Buckets of the latent histogram.
pub const LATENT_BUCKETS: usize = 30;

/// The TensorBoard side of a run (nothing when the run has no runs folder).
pub struct RunBoard {
    board: Option<Board>,
}

/// The hyperparameters a run reports to the HParams dashboard.
pub fn hparams(exp: &Experiment, total_steps: u64) -> Vec<(String, HParam)> {
    let m = &exp.model;
    let side = exp.data.crop_size / m.scale();
    let num = |k: &str, v: f64| (k.to_string(), HParam::Number(v));
    let text = |k: &str, v: String| (k.to_string(), HParam::Text(v));
    let channels: Vec<String> = (0..m.pairs)
        .map(|i| m.encoder_channels(i).to_string())
        .collect();
    let layers: Vec<String> = if exp.loss.perceptual > 0.0 {
        exp.loss
            .vgg_layers
            .iter()
            .map(|l| l.name().to_string())
            .collect()
    } else {
        vec!["none".into()]
    };
    vec![
        num("pairs", m.pairs as f64),
        text("channels", channels.join(",")),
        num("kernel_size", m.kernel_size as f64),
        num("downsample", m.downsample as f64),
        num("latent_channels", m.latent_channels as f64),
        num("latent_size", (m.latent_channels * side * side) as f64),
        num("loss_a_ssim", exp.loss.ssim),
        num("loss_b_perceptual", exp.loss.perceptual),
        num("loss_c_mse", exp.loss.mse),
        num("loss_d_colour", exp.loss.colour),
        num("loss_rate_lambda", exp.loss.rate),
        text("entropy", format!("{:?}", m.entropy).to_lowercase()),
        text("vgg_layers", layers.join(",")),
        num("lr", exp.train.lr),
        num("batch_size", exp.train.batch_size as f64),
        num("steps", total_steps as f64),
        text("backend", exp.train.backend.to_string()),
    ]
}

impl RunBoard {
    /// Opens `runs/<name>/` (when `runs` is given): the resolved config, a pointer to the
    /// checkpoints, and the HParams session start. `resume_step` continues earlier curves.
    pub fn open(
        runs: Option<&Path>,
        exp: &Experiment,
        checkpoints: &Path,
        total_steps: u64,
        resume_step: Option<u64>,
    ) -> Result<Self> {
        let Some(runs) = runs else {
            return Ok(Self { board: None });
        };
        let dir: PathBuf = runs.join(exp.name());
        // Events after the checkpoint we resume from were written by a run that then died;
        // TensorBoard drops events at and after a restart step, so restart one step later.
        let mut board = Board::open(&dir, resume_step.map(|s| s + 1))?;
        write_atomic(&dir.join("config.toml"), exp.to_toml().as_bytes())?;
        let pointer = serde_json::json!({ "checkpoints": checkpoints });
        write_atomic(&dir.join("run.json"), pointer.to_string().as_bytes())?;
        board.session_start(&hparams(exp, total_steps))?;
        board.flush();
        Ok(Self { board: Some(board) })
    }

    /// Training scalars: the weighted terms and their total, learning rate, images/s.
    pub fn train_step(&mut self, step: u64, loss: f64, terms: &TermValues, lr: f64, ips: f64) {
        let Some(b) = &mut self.board else { return };
        b.scalar("loss/total", loss, step);
        for (t, v) in terms.present() {
            b.scalar(&format!("loss/{}", t.name()), v, step);
        }
        b.scalar("train/lr", lr, step);
        b.scalar("train/images_per_sec", ips, step);
    }

    /// Validation scalars, the reconstructions of the first validation crops and the latent
    /// histogram.
    pub fn validation(
        &mut self,
        step: u64,
        v: &ValStats,
        model: &Autoencoder,
        shown: &Batch,
        device: &Device,
    ) -> Result<()> {
        let Some(b) = &mut self.board else {
            return Ok(());
        };
        b.scalar("val/loss", v.loss, step);
        b.scalar("val/psnr", v.psnr, step);
        b.scalar("val/ssim", v.ssim, step);
        for (t, x) in v.terms.present() {
            b.scalar(&format!("val/loss_{}", t.name()), x, step);
        }
        if let Some(bpp) = v.bpp {
            b.scalar("val/bpp", bpp, step);
        }
        let x = shown.to_tensor(device);
        let z = model.quantize(model.encode(x.clone()));
        let latent: Vec<f32> = z.clone().into_data().try_to_vec().unwrap_or_default();
        b.histogram("val/latent", &latent, LATENT_BUCKETS, step);
        let y: Vec<f32> = model.decode(z).into_data().try_to_vec().unwrap_or_default();
        b.image(
            "val/original_vs_reconstruction",
            &side_by_side(shown, &y),
            step,
        )?;
        b.flush();
        Ok(())
    }

    /// The last validation as HParams metrics, and the session end.
    pub fn finish(&mut self, step: u64, last: Option<&ValStats>, success: bool) -> Result<()> {
        let Some(b) = &mut self.board else {
            return Ok(());
        };
        if let Some(v) = last {
            b.scalar("hparams/val_psnr", v.psnr, step);
            b.scalar("hparams/val_ssim", v.ssim, step);
            b.scalar("hparams/val_loss", v.loss, step);
            if let Some(bpp) = v.bpp {
                b.scalar("hparams/val_bpp", bpp, step);
            }
        }
        b.session_end(success)
            .context("cannot end the HParams session")?;
        b.flush();
        Ok(())
    }
}

/// Rows of `original | reconstruction`, one per crop of `batch` (`recon` planar like it).
pub fn side_by_side(batch: &Batch, recon: &[f32]) -> RgbImage {
    let s = batch.side;
    let plane = s * s;
    let px = |v: &[f32], n: usize, c: usize, i: usize| -> u8 {
        let x = v.get((n * 3 + c) * plane + i).copied().unwrap_or(0.0);
        (x.clamp(0.0, 1.0) * 255.0).round() as u8
    };
    RgbImage::from_fn((2 * s) as u32, (batch.len * s) as u32, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let (n, row) = (y / s, y % s);
        let (src, col): (&[f32], usize) = if x < s {
            (&batch.values, x)
        } else {
            (recon, x - s)
        };
        let i = row * s + col;
        image::Rgb([px(src, n, 0, i), px(src, n, 1, i), px(src, n, 2, i)])
    })
}
