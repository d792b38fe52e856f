//! `niclab study`: several experiments trained, evaluated and reported.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use niclab::study::{Study, StudyOptions};

use super::{EXIT_INTERRUPTED, interrupt_flag};

#[derive(clap::Args)]
pub struct Args {
    /// The study file (.toml) or a folder of experiment files.
    pub file: PathBuf,
    /// Override a field of every experiment, after the study's own (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Folder of run folders.
    #[arg(long, default_value = "checkpoints")]
    pub checkpoints: PathBuf,
    /// Folder of TensorBoard run folders.
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Train every experiment, also those shipped trained in the model zoo (models/), which
    /// are otherwise evaluated from the shipped weights.
    #[arg(long)]
    pub retrain: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args {
        file,
        overrides,
        checkpoints,
        runs,
        retrain,
    } = args;
    let study = Study::load(&file, &overrides)?;
    let interrupt = interrupt_flag()?;
    let opts = StudyOptions {
        checkpoints,
        runs,
        retrain,
    };
    let out = niclab::study::run(&study, &opts, &interrupt)?;
    match out.report {
        Some((report, summary)) => {
            print!("{}", niclab::study::report::table(&summary));
            println!("report: {}", report.display());
        }
        None => {
            println!(
                "{}: stopped after {} of {} experiments; run the same command again to \
                 continue",
                study.name,
                out.stages.len(),
                study.experiments.len()
            );
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
    }
    Ok(ExitCode::SUCCESS)
}
