//! `niclab eval`: the paper's comparison of a model with a classical codec.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use niclab::classic::Codec;
use niclab::classic::jpeg::QualityChoice;
use niclab::config::{Backend, DeviceSpec, Storage};
use niclab::eval::{EvalOptions, evaluate};

#[derive(clap::Args)]
pub struct Args {
    /// A checkpoint (.ckpt), a checkpoint or run folder, an experiment file (.toml) or a
    /// run name; in a folder best.ckpt is used, else last.ckpt.
    pub target: PathBuf,
    /// The images to compress.
    #[arg(long, default_value = "datasets/test-1000")]
    pub images: PathBuf,
    /// Output folder [default: RUNS/<name>/eval].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The classical codec to compare with: jpeg (the paper's), webp, avif or jxl.
    #[arg(long, default_value = "jpeg")]
    pub baseline: Codec,
    /// `match-ssim` (the baseline's setting whose mean SSIM is closest to the
    /// autoencoder's), or settings as its tool spells them: 95 or 95,75,20 (qualities
    /// 1-100; JPEG XL 5-100; AVIF quantizers 1-63).
    #[arg(
        long,
        alias = "quality",
        default_value = "match-ssim",
        value_name = "match-ssim|Q[,Q...]"
    )]
    pub jpeg_quality: QualityChoice,
    /// Images per inference batch [default: the experiment's eval.batch_size].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Backend: flex or libtorch [default: the one it was trained with].
    #[arg(long)]
    pub backend: Option<Backend>,
    /// Device: cpu or cuda:N [default: the one it was trained with].
    #[arg(long)]
    pub device: Option<DeviceSpec>,
    /// Only scores, reports and plots: no reconstructions, latents or JPEG files.
    #[arg(long)]
    pub no_images: bool,
    /// How the autoencoder's bytes are counted: nic (real .nic files) or f32 (raw float32
    /// latent, as the paper) [default: the experiment's eval.storage].
    #[arg(long, value_name = "nic|f32")]
    pub storage: Option<Storage>,
    /// Folder of run folders (checkpoints).
    #[arg(long, default_value = "checkpoints")]
    pub checkpoints: PathBuf,
    /// Folder of TensorBoard run folders.
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args {
        target,
        images,
        out,
        baseline,
        jpeg_quality,
        batch_size,
        backend,
        device,
        no_images,
        storage,
        checkpoints,
        runs,
    } = args;
    let opts = EvalOptions {
        storage,
        images,
        out,
        baseline,
        jpeg: jpeg_quality,
        batch_size,
        backend,
        device,
        checkpoints,
        runs,
        write_images: !no_images,
    };
    let (eval, out) = evaluate(&target, &opts)?;
    print!("{}", eval_lines(&eval, &out));
    Ok(ExitCode::SUCCESS)
}

/// The console summary of an evaluation: the paper's panel in short, and where it went.
fn eval_lines(e: &niclab::eval::Evaluation, out: &Path) -> String {
    let s = niclab::eval::report::summary(e);
    let line = |name: &str, c: &niclab::eval::report::CodecSummary| {
        let de = c.colour.map_or("-".into(), |c| format!("{:.2}", c.delta_e));
        format!(
            "  {name:<26} PSNR {:6.2} dB  SSIM {:.4}  dE00 {de:>5}  ratio {:6.2}  {:.3} bpp  \
             {:.5} s/image\n",
            c.psnr, c.ssim, c.ratio, c.bpp, c.seconds_per_image
        )
    };
    let mut text = format!("{} images from {}\n", s.count, s.images.display());
    text.push_str(&line("autoencoder", &s.autoencoder));
    for j in &s.jpeg {
        let how = if j.chosen_by.as_deref() == Some("match-ssim") {
            " (SSIM-matched)"
        } else {
            ""
        };
        text.push_str(&line(&format!("{}{how}", j.titled()), j));
    }
    let t = &s.timing;
    text.push_str(&format!(
        "total {:.2} s (autoencoder {:.2} s, {} {:.2} s in {} passes, metrics {:.2} s, \
         colour {:.2} s, reading {:.2} s, writing {:.2} s)\nreport: {}\n",
        t.total,
        t.ae,
        e.baseline.title(),
        t.jpeg,
        t.jpeg_passes,
        t.ae_metrics,
        t.colour,
        t.load,
        t.write,
        out.join(niclab::eval::report::REPORT_FILE).display()
    ));
    text
}
