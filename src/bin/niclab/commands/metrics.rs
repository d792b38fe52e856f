//! `niclab metrics`: the quality module on two images or two folders.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use niclab::metrics::{Perceptual, Quality, compare_files, compare_folders, mean};
use niclab::vgg::VggLayer;

#[derive(clap::Args)]
pub struct Args {
    /// The reference image or folder.
    pub a: PathBuf,
    /// The image or folder to score.
    pub b: PathBuf,
    /// Print JSON (keys psnr, ssim, ms_ssim, perceptual, delta_e, psnr_y, psnr_cb, psnr_cr)
    /// instead of text.
    #[arg(long)]
    pub json: bool,
    /// Skip the perceptual distance (no VGG16 weights needed).
    #[arg(long)]
    pub no_perceptual: bool,
    /// The imported VGG16 weights.
    #[arg(long, default_value = "checkpoints/vgg16-imagenet.bpk")]
    pub vgg_weights: PathBuf,
    /// VGG16 layers compared (comma-separated: relu1_2, relu2_2, relu3_3, relu4_3).
    #[arg(long, value_delimiter = ',', default_value = "relu2_2")]
    pub vgg_layers: Vec<VggLayer>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args {
        a,
        b,
        json,
        no_perceptual,
        vgg_weights,
        vgg_layers,
    } = args;
    let vgg = if no_perceptual {
        None
    } else {
        Some(Perceptual::load(&vgg_weights, vgg_layers)?)
    };
    print!("{}", run_metrics(&a, &b, vgg.as_ref(), json)?);
    Ok(ExitCode::SUCCESS)
}

/// The report of `niclab metrics`, as text or JSON.
fn run_metrics(a: &Path, b: &Path, vgg: Option<&Perceptual>, json: bool) -> Result<String> {
    let line = |q: &Quality| {
        let p = q
            .perceptual
            .map_or(String::new(), |p| format!("  perceptual {p:.6}"));
        let c = &q.colour;
        let ms = q
            .ms_ssim
            .map_or(String::new(), |m| format!("  MS-SSIM {m:.6}"));
        format!(
            "PSNR {:.4} dB  SSIM {:.6}{ms}  dE00 {:.4}  PSNR Y/Cb/Cr {:.2}/{:.2}/{:.2} dB{p}",
            q.psnr, q.ssim, c.delta_e, c.psnr_y, c.psnr_cb, c.psnr_cr
        )
    };
    match (a.is_dir(), b.is_dir()) {
        (false, false) => {
            let q = compare_files(a, b, vgg)?;
            Ok(if json {
                format!("{}\n", serde_json::to_string_pretty(&q)?)
            } else {
                format!("{}\n", line(&q))
            })
        }
        (true, true) => {
            let rows = compare_folders(a, b, vgg)?;
            let m = mean(&rows);
            if json {
                let doc = serde_json::json!({ "pairs": rows, "mean": m, "count": rows.len() });
                return Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?));
            }
            let mut out = String::new();
            for r in &rows {
                out.push_str(&format!("{}  {}\n", r.name.display(), line(&r.quality)));
            }
            out.push_str(&format!("mean of {} pairs  {}\n", rows.len(), line(&m)));
            Ok(out)
        }
        _ => anyhow::bail!(
            "give two files or two folders: {} and {} are not the same kind",
            a.display(),
            b.display()
        ),
    }
}
