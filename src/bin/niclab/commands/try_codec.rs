//! `niclab try`: one image through a learned codec and through JPEG at the same bytes and at
//! the same SSIM, side by side in a folder (what the web app's "try a codec" runs).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use niclab::codec::trial::{TRIAL_FILE, is_nic, trial};

use super::RunArgs;
use super::compress::default_model;

#[derive(clap::Args)]
pub struct Args {
    /// An image (png, jpg, webp), or a .nic file to decode.
    pub input: PathBuf,
    /// Output folder: original.png, niclab.nic, niclab.png, jpeg-qN.jpg and trial.json.
    #[arg(long)]
    pub out: PathBuf,
    /// The codec model, as for compress [default: the zoo's default model; for a .nic file,
    /// the model its fingerprint names].
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args {
        input,
        out,
        model,
        run,
    } = args;
    let model = match model {
        Some(m) => m,
        None if is_nic(&input) => niclab::zoo::model_of_file(&input, &run.checkpoints)?,
        None => default_model()?,
    };
    let s = run.session(&model)?;
    let t = trial(&s, &input, &out)?;
    println!(
        "{} ({} x {}), model {} ({})",
        t.input, t.width, t.height, t.model, t.fingerprint
    );
    for side in &t.sides {
        let fig = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |x| format!("{x:.d$}"));
        println!(
            "  {:<16} {:>10} bytes {:>7.3} bpp  PSNR {:>6} dB  SSIM {:>6}  dE00 {:>5}",
            side.name,
            side.bytes,
            side.bpp,
            fig(side.psnr, 2),
            fig(side.ssim, 4),
            fig(side.delta_e, 2)
        );
    }
    for n in &t.notes {
        println!("  note: {n}");
    }
    println!("files and {TRIAL_FILE} in {}", out.display());
    Ok(ExitCode::SUCCESS)
}
