//! `niclab config`: an experiment with every default filled in.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use niclab::config::Experiment;

#[derive(clap::Args)]
pub struct Args {
    /// The experiment file.
    pub file: PathBuf,
    /// Override a field (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args { file, overrides } = args;
    print!("{}", Experiment::load(&file, &overrides)?.to_toml());
    Ok(ExitCode::SUCCESS)
}
