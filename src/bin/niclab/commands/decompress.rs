//! `niclab decompress`: `.nic` files back to PNG.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use niclab::codec::files::decompress;

use super::{RunArgs, speed};

#[derive(clap::Args)]
pub struct Args {
    /// The model that compressed it [default: the shipped model, or the run in
    /// CHECKPOINTS, whose fingerprint the (first) file carries].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// A .nic file or a folder of them.
    pub input: PathBuf,
    /// The PNG file, or the output folder for a folder.
    pub output: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args {
        model,
        input,
        output,
        run,
    } = args;
    let model = match model {
        Some(m) => m,
        None => niclab::zoo::model_of_file(&input, &run.checkpoints)?,
    };
    let s = run.session(&model)?;
    let start = std::time::Instant::now();
    let t = decompress(&s, &input, &output)?;
    println!(
        "{} file(s), {} bytes -> {} bytes of PNG in {}; {}{}",
        t.files,
        t.bytes_in,
        t.bytes_out,
        output.display(),
        speed(t.pixels, start.elapsed()),
        niclab::memory::peak_note()
    );
    Ok(ExitCode::SUCCESS)
}
