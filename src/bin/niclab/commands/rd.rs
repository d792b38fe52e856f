//! `niclab rd`: rate-distortion curves against the classical codecs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use niclab::classic::Codec;
use niclab::rd::RdOptions;
use niclab::zoo::Zoo;

use super::{RefineArgs, RunArgs};

#[derive(clap::Args)]
pub struct Args {
    /// The models: shipped model names, checkpoints, run folders, experiment files or run
    /// names [default: every shipped codec, `niclab models`].
    pub models: Vec<PathBuf>,
    /// The images.
    #[arg(long, default_value = "datasets/test-1000")]
    pub images: PathBuf,
    /// The classical codecs to compare with: some of jpeg, webp, avif, jxl, or all.
    // Spelled `std::vec::Vec` so that clap takes the parser's list as one value.
    #[arg(long, default_value = "all", value_parser = niclab::classic::parse_codecs)]
    pub codecs: std::vec::Vec<Codec>,
    /// JPEG qualities of its curve (1-100).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "2,5,10,15,20,30,40,50,60,75,85,95"
    )]
    pub jpeg_qualities: Vec<u32>,
    /// WebP qualities (cwebp -q, 1-100).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "2,5,10,15,20,30,40,50,60,75,85,95"
    )]
    pub webp_qualities: Vec<u32>,
    /// AVIF colour quantizers (avifenc --min Q --max Q, 0-63, 0 lossless).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "60,56,52,48,44,40,36,32,28,24,20,16,12"
    )]
    pub avif_quantizers: Vec<u32>,
    /// JPEG XL qualities (cjxl -q, 5-100; 100 lossless).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "5,10,15,20,30,40,50,60,75,85,95"
    )]
    pub jxl_qualities: Vec<u32>,
    /// Output folder.
    #[arg(long, default_value = "runs/rd")]
    pub out: PathBuf,
    #[command(flatten)]
    pub refine: RefineArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args {
        models,
        images,
        codecs,
        jpeg_qualities,
        webp_qualities,
        avif_quantizers,
        jxl_qualities,
        out,
        refine,
        run,
    } = args;
    refine.flush_subnormals();
    let mut classic = Vec::new();
    for codec in codecs {
        let (flag, settings) = match codec {
            Codec::Jpeg => ("--jpeg-qualities", &jpeg_qualities),
            Codec::Webp => ("--webp-qualities", &webp_qualities),
            Codec::Jxl => ("--jxl-qualities", &jxl_qualities),
            Codec::Avif => ("--avif-quantizers", &avif_quantizers),
        };
        let mut levels = settings
            .iter()
            .map(|&n| codec.level_of_setting(n).with_context(|| flag.to_string()))
            .collect::<Result<Vec<_>>>()?;
        levels.sort();
        levels.dedup();
        classic.push((codec, levels));
    }
    let opts = RdOptions {
        images,
        classic,
        out: out.clone(),
        checkpoints: run.checkpoints.clone(),
        backend: run.backend,
        device: run.device,
        batch_size: run.batch_size,
        refine: (refine.refine, refine.refine_lr),
    };
    let models = if models.is_empty() {
        let dir = niclab::zoo::default_dir();
        let shipped: Vec<PathBuf> = Zoo::load(&dir)?
            .models
            .into_iter()
            .filter(|m| m.kind == niclab::zoo::Kind::Codec)
            .map(|m| m.checkpoint(&dir))
            .collect();
        if shipped.is_empty() {
            anyhow::bail!(
                "no models given and {} ships no codec: name trained runs",
                dir.display()
            );
        }
        shipped
    } else {
        models
    };
    let r = niclab::rd::sweep(&models, &opts)?;
    niclab::rd::write(&r, &out)?;
    print!("{}", niclab::rd::report(&r));
    println!("written to {}", out.display());
    Ok(ExitCode::SUCCESS)
}
