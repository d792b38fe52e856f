//! The `niclab` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use niclab::config::{ConfigError, Experiment};
use niclab::data::prepare::{
    TEST_1000, compare_with_manifest, manifest_text, parse_manifest, prepare_test_set,
    prepare_train_set, verify_test_set,
};
use niclab::train::{TrainOptions, train};

/// Exit status for a bad experiment file or bad arguments.
const EXIT_USAGE: u8 = 2;
/// Exit status after Ctrl-C (a checkpoint was saved).
const EXIT_INTERRUPTED: u8 = 130;

/// niclab: neural image compression experiments.
///
/// Write an experiment as a TOML file (see experiments/ and the README), train it, and
/// compare it with JPEG on the fixed 1000-image test set.
#[derive(Parser)]
#[command(version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train an experiment; checkpoints and logs go to CHECKPOINTS/<name>/.
    ///
    /// Ctrl-C saves a checkpoint and exits (status 130); `--resume` continues it.
    Train {
        /// The experiment file, e.g. experiments/smoke.toml.
        file: PathBuf,
        /// Override a field: --set train.lr=3e-4 --set model.pairs=5 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Continue from the run's last checkpoint.
        #[arg(long, conflicts_with = "overwrite")]
        resume: bool,
        /// Replace an existing run of the same name.
        #[arg(long)]
        overwrite: bool,
        /// Make unreadable or too-small training images fatal (same as --set data.strict=true).
        #[arg(long)]
        strict: bool,
        /// Stop (as on Ctrl-C, saving a checkpoint) once this many steps are done.
        #[arg(long, value_name = "STEPS")]
        stop_after: Option<u64>,
        /// Folder of run folders.
        #[arg(long, default_value = "checkpoints")]
        checkpoints: PathBuf,
    },
    /// Print an experiment with every default filled in, after overrides (checks it too).
    Config {
        /// The experiment file.
        file: PathBuf,
        /// Override a field (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Build and check the datasets.
    #[command(subcommand)]
    Data(DataCommand),
}

#[derive(Subcommand)]
enum DataCommand {
    /// Cut the 1000 test crops and fill the training folder from the unpacked Debian
    /// packages (`make data` runs this after fetching them).
    Prepare {
        /// Where the packages were unpacked.
        #[arg(long, default_value = "datasets/raw")]
        raw: PathBuf,
        /// Output folder for test-1000/ and train/.
        #[arg(long, default_value = "datasets")]
        out: PathBuf,
        /// The committed manifest the test set must match.
        #[arg(long, default_value = "datasets/test-1000.tsv")]
        manifest: PathBuf,
        /// Write the manifest instead of checking against it.
        #[arg(long)]
        write_manifest: bool,
    },
    /// Check that a test folder holds exactly the manifest's crops, pixel for pixel.
    Verify {
        /// The folder of crops.
        #[arg(long, default_value = "datasets/test-1000")]
        images: PathBuf,
        /// The manifest.
        #[arg(long, default_value = "datasets/test-1000.tsv")]
        manifest: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(c) = e.downcast_ref::<ConfigError>() {
                eprintln!("error: {c}");
                return ExitCode::from(EXIT_USAGE);
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Train {
            file,
            overrides,
            resume,
            overwrite,
            strict,
            stop_after,
            checkpoints,
        } => {
            let mut exp = Experiment::load(&file, &overrides)?;
            exp.data.strict |= strict;
            let interrupt = Arc::new(AtomicBool::new(false));
            let flag = interrupt.clone();
            ctrlc::set_handler(move || {
                if flag.swap(true, Ordering::SeqCst) {
                    // A second Ctrl-C while saving: give up at once.
                    std::process::exit(i32::from(EXIT_INTERRUPTED));
                }
                eprintln!("\ninterrupted: saving a checkpoint (Ctrl-C again to abort)");
            })
            .context("cannot install the Ctrl-C handler")?;
            let opts = TrainOptions {
                resume,
                overwrite,
                stop_after,
                checkpoints,
            };
            let out = train(&exp, &opts, &interrupt)?;
            let loss = out.last_loss.map_or("-".into(), |l| format!("{l:.5}"));
            let best = out.best_val_loss.map_or("-".into(), |l| format!("{l:.5}"));
            println!(
                "{}: step {}/{}, last loss {loss}, best val loss {best}, {:.1} img/s\n  \
                 checkpoints, config and metrics: {}",
                exp.name(),
                out.step,
                out.total_steps,
                out.images_per_sec,
                out.run_dir.display()
            );
            if out.interrupted {
                println!(
                    "  stopped early; continue with: niclab train {} --resume",
                    file.display()
                );
                return Ok(ExitCode::from(EXIT_INTERRUPTED));
            }
        }
        Command::Config { file, overrides } => {
            print!("{}", Experiment::load(&file, &overrides)?.to_toml());
        }
        Command::Data(DataCommand::Prepare {
            raw,
            out,
            manifest,
            write_manifest,
        }) => {
            let test_dir = out.join("test-1000");
            let rows = prepare_test_set(&raw, &test_dir, TEST_1000)?;
            if write_manifest {
                std::fs::write(&manifest, manifest_text(&rows))
                    .with_context(|| format!("cannot write {}", manifest.display()))?;
                println!("wrote {}", manifest.display());
            } else {
                let text = std::fs::read_to_string(&manifest)
                    .with_context(|| format!("cannot read {}", manifest.display()))?;
                let expected = parse_manifest(&text, &manifest)?;
                compare_with_manifest(&rows, &expected, &manifest)?;
                verify_test_set(&test_dir, &expected, TEST_1000.crop)?;
            }
            println!(
                "{}: {} crops of 128x128 from 24 photos, matching {}",
                test_dir.display(),
                rows.len(),
                manifest.display()
            );
            let test_sha: Vec<String> = rows.iter().map(|r| r.source_sha256.clone()).collect();
            let train_dir = out.join("train");
            let set = prepare_train_set(&raw, &train_dir, &test_sha)?;
            println!(
                "{}: {} training photos ({} byte-identical duplicates left out), none shared with the test set",
                train_dir.display(),
                set.files.len(),
                set.duplicates
            );
        }
        Command::Data(DataCommand::Verify { images, manifest }) => {
            let text = std::fs::read_to_string(&manifest)
                .with_context(|| format!("cannot read {}", manifest.display()))?;
            let rows = parse_manifest(&text, &manifest)?;
            verify_test_set(&images, &rows, TEST_1000.crop)?;
            println!(
                "{}: {} crops match {}",
                images.display(),
                rows.len(),
                manifest.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
