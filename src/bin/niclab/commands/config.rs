//! `niclab config`: an experiment with every default filled in, its `train.init_from`
//! checkpoint checked as a run would.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
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
    let exp = Experiment::load(&file, &overrides)?;
    niclab::train::check_init_from(&exp).with_context(|| format!("{}", file.display()))?;
    print!("{}", exp.to_toml());
    Ok(ExitCode::SUCCESS)
}
