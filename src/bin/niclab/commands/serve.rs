//! `niclab serve`: the web app over the run folders.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use niclab::serve::{ServeOptions, new_token, serve};

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on. Anything but loopback needs the token the URL carries.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port (0: any free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Folder of run folders (as `niclab train --checkpoints`).
    #[arg(long, default_value = "checkpoints")]
    pub checkpoints: PathBuf,
    /// Folder of TensorBoard runs and evaluations (as `--runs`).
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Require this token on every request (default: a fresh one off loopback, none on it).
    #[arg(long)]
    pub token: Option<String>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    anyhow::ensure!(
        args.checkpoints.is_dir(),
        "--checkpoints {}: no such folder (train a run first, or name the folder your runs are in)",
        args.checkpoints.display()
    );
    let token = args
        .token
        .or_else(|| (!args.host.is_loopback()).then(new_token));
    let opts = ServeOptions {
        host: args.host,
        port: args.port,
        checkpoints: args.checkpoints,
        runs: args.runs,
        token,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    rt.block_on(serve(opts, async {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("stopping");
    }))?;
    Ok(ExitCode::SUCCESS)
}
