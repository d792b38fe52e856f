//! `niclab train`: one experiment, with exact resume.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use niclab::config::Experiment;
use niclab::train::{TrainOptions, train};

use super::{EXIT_INTERRUPTED, interrupt_flag};

#[derive(clap::Args)]
pub struct Args {
    /// The experiment file, e.g. experiments/smoke.toml.
    pub file: PathBuf,
    /// Override a field: --set train.lr=3e-4 --set model.pairs=5 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Continue from the run's last checkpoint.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Replace an existing run of the same name.
    #[arg(long)]
    pub overwrite: bool,
    /// Make unreadable or too-small training images fatal (same as --set data.strict=true).
    #[arg(long)]
    pub strict: bool,
    /// Stop (as on Ctrl-C, saving a checkpoint) once this many steps are done.
    #[arg(long, value_name = "STEPS")]
    pub stop_after: Option<u64>,
    /// Keep IEEE subnormal floats. By default training flushes them to zero (x86-64), which
    /// changes nothing a model learns but spares many CPUs a slow path: 3.5x faster training on
    /// an Intel Xeon (README, "Training speed"). For comparisons.
    #[arg(long)]
    pub keep_subnormals: bool,
    /// Folder of run folders.
    #[arg(long, default_value = "checkpoints")]
    pub checkpoints: PathBuf,
    /// Folder of TensorBoard run folders (event files go to RUNS/<name>/).
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    // Before any worker thread exists, so that they all inherit it.
    if !args.keep_subnormals {
        niclab::subnormals::flush_to_zero();
    }
    let Args {
        file,
        overrides,
        resume,
        overwrite,
        strict,
        stop_after,
        keep_subnormals: _,
        checkpoints,
        runs,
    } = args;
    let mut exp = Experiment::load(&file, &overrides)?;
    exp.data.strict |= strict;
    let interrupt = interrupt_flag()?;
    let board_dir = runs.join(exp.name());
    let opts = TrainOptions {
        resume,
        overwrite,
        stop_after,
        checkpoints,
        runs: Some(runs),
    };
    let out = train(&exp, &opts, &interrupt)?;
    let loss = out.last_loss.map_or("-".into(), |l| format!("{l:.5}"));
    let best = out.best_val_loss.map_or("-".into(), |l| format!("{l:.5}"));
    println!(
        "{}: step {}/{}, last loss {loss}, best val loss {best}, {:.1} img/s\n  \
         checkpoints, config and metrics: {}\n  TensorBoard: {}",
        exp.name(),
        out.step,
        out.total_steps,
        out.images_per_sec,
        out.run_dir.display(),
        board_dir.display()
    );
    if out.interrupted {
        println!(
            "  stopped early; continue with: niclab train {} --resume",
            file.display()
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}
