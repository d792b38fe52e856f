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
    /// An image folder the page may compare on (repeatable) [default: datasets/test-1000
    /// and datasets/test-photos, those that exist].
    #[arg(long = "images", value_name = "DIR")]
    pub images: Vec<PathBuf>,
    /// Folder of the experiment and study files the page may start.
    #[arg(long, default_value = "experiments")]
    pub experiments: PathBuf,
    /// The model zoo whose codecs the page may try [default: as niclab models].
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Require this token on every request (default: a fresh one off loopback, none on it).
    #[arg(long)]
    pub token: Option<String>,
}

/// The test sets, when no --images is given.
const DEFAULT_IMAGES: [&str; 2] = ["datasets/test-1000", "datasets/test-photos"];

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    anyhow::ensure!(
        args.checkpoints.is_dir(),
        "--checkpoints {}: no such folder (train a run first, or name the folder your runs are in)",
        args.checkpoints.display()
    );
    for dir in &args.images {
        anyhow::ensure!(dir.is_dir(), "--images {}: no such folder", dir.display());
    }
    let images = if args.images.is_empty() {
        DEFAULT_IMAGES
            .iter()
            .map(PathBuf::from)
            .filter(|d| d.is_dir())
            .collect()
    } else {
        args.images
    };
    let token = args
        .token
        .or_else(|| (!args.host.is_loopback()).then(new_token));
    let opts = ServeOptions {
        host: args.host,
        port: args.port,
        checkpoints: args.checkpoints,
        runs: args.runs,
        images,
        experiments: args.experiments,
        models: args.models.unwrap_or_else(niclab::zoo::default_dir),
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
