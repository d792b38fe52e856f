//! `niclab models`: the model zoo.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use niclab::zoo::Zoo;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The zoo folder [default: $NICLAB_MODELS, else ./models, else the source tree's].
    #[arg(long, global = true)]
    pub models: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum Command {
    /// List the shipped models (the default).
    List {
        /// Print models/zoo.toml's entries as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check every shipped file against its SHA-256.
    Verify,
    /// Ship a trained run: weights only, its coding tables and experiment, and its figures
    /// measured on the test set (on flex).
    Add {
        /// The run (name, folder, checkpoint or experiment file).
        run: PathBuf,
        /// Its name in the zoo [default: the run's name].
        #[arg(long)]
        name: Option<String>,
        /// codec or paper [default: from the model: a codec has an entropy model].
        #[arg(long)]
        kind: Option<niclab::zoo::Kind>,
        /// One line for the listing.
        #[arg(long)]
        description: String,
        /// The command that trained it.
        #[arg(long)]
        command: String,
        /// The niclab commit that trained it.
        #[arg(long)]
        commit: String,
        /// Make it the default model of `niclab compress` (a codec).
        #[arg(long)]
        default: bool,
        /// The test set the figures are measured on.
        #[arg(long, default_value = "datasets/test-1000")]
        images: PathBuf,
        /// Folder of run folders.
        #[arg(long, default_value = "checkpoints")]
        checkpoints: PathBuf,
    },
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args { command, models } = args;
    let dir = models.unwrap_or_else(niclab::zoo::default_dir);
    match command.unwrap_or(Command::List { json: false }) {
        Command::List { json } => {
            let zoo = Zoo::load(&dir)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&zoo)?);
            } else {
                print!("{}", niclab::zoo::listing(&zoo, &dir));
            }
        }
        Command::Verify => {
            let zoo = Zoo::load(&dir)?;
            for m in &zoo.models {
                m.verify(&dir)?;
            }
            println!(
                "{} shipped model(s) in {}: every SHA-256 matches",
                zoo.models.len(),
                dir.display()
            );
        }
        Command::Add {
            run,
            name,
            kind,
            description,
            command,
            commit,
            default,
            images,
            checkpoints,
        } => {
            let e = niclab::zoo::add(
                &run,
                &niclab::zoo::AddOptions {
                    dir: dir.clone(),
                    name,
                    kind,
                    description,
                    command,
                    commit,
                    images,
                    default,
                    checkpoints,
                },
            )?;
            let s = &e.test.scores;
            println!(
                "added {} ({}) to {}: {:.4} bpp, PSNR {:.2} dB, SSIM {:.4}, dE00 {:.2}, {} bytes{}",
                e.name,
                e.kind,
                dir.display(),
                s.bpp,
                s.psnr,
                s.ssim,
                s.colour.delta_e,
                e.bytes,
                e.fingerprint
                    .as_deref()
                    .map_or(String::new(), |f| format!(", fingerprint {f}"))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
