//! `niclab compress`: images to `.nic` files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use niclab::codec::files::compress;
use niclab::zoo::Zoo;

use super::{RefineArgs, RunArgs, speed};

#[derive(clap::Args)]
pub struct Args {
    /// The model: a shipped model's name (`niclab models`), a checkpoint, run folder,
    /// experiment file or run name (as for eval) [default: the zoo's default model].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// An image (png, jpg, webp) or a folder of them.
    pub input: PathBuf,
    /// The .nic file, or the output folder for a folder.
    pub output: PathBuf,
    #[command(flatten)]
    pub refine: RefineArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args {
        model,
        input,
        output,
        refine,
        run,
    } = args;
    refine.flush_subnormals();
    let model = match model {
        Some(m) => m,
        None => default_model()?,
    };
    let mut s = run.session(&model)?;
    s.refine(refine.refine, refine.refine_lr)?;
    let start = std::time::Instant::now();
    let t = compress(&s, &input, &output)?;
    let refined = match refine.refine {
        0 => String::new(),
        n if niclab::subnormals::flushed() => {
            format!(", latents refined {n} steps (subnormals flushed to zero)")
        }
        n => format!(", latents refined {n} steps"),
    };
    println!(
        "{} file(s), {} -> {} bytes ({:.2}x), model {} ({}){refined}; {}{}",
        t.files,
        t.bytes_in,
        t.bytes_out,
        t.bytes_in as f64 / t.bytes_out.max(1) as f64,
        s.checkpoint.display(),
        s.coder.fingerprint_hex(),
        speed(t.pixels, start.elapsed()),
        niclab::memory::peak_note()
    );
    Ok(ExitCode::SUCCESS)
}

/// The zoo's default model, for `niclab compress` without `--model`.
pub fn default_model() -> Result<PathBuf> {
    let dir = niclab::zoo::default_dir();
    let zoo = Zoo::load(&dir)?;
    // The shipped file itself: a run of the same name in --checkpoints may differ.
    match zoo.default.as_deref().and_then(|d| zoo.find(d)) {
        Some(e) => Ok(e.checkpoint(&dir)),
        None => anyhow::bail!(
            "no --model given and {} names no default model: pass --model RUN (a trained run)",
            dir.join(niclab::zoo::ZOO_FILE).display()
        ),
    }
}
