//! One module per subcommand (as cargo's `src/bin/cargo/commands/`): each has its `Args`
//! (or `Command` for a group) and a `run`; what several share lives here.

pub mod compress;
pub mod config;
pub mod data;
pub mod decompress;
pub mod eval;
pub mod metrics;
pub mod models;
pub mod rd;
pub mod serve;
pub mod study;
pub mod train;
pub mod try_codec;
pub mod weights;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use niclab::codec::files::Session;
use niclab::config::{Backend, DeviceSpec};

/// Exit status after Ctrl-C (a checkpoint was saved).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Where a model runs and where its runs are (shared by compress and decompress).
#[derive(clap::Args)]
pub struct RunArgs {
    /// Images per batch for folders [default: the experiment's eval.batch_size].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Backend: flex or libtorch [default: the one it was trained with].
    #[arg(long)]
    pub backend: Option<Backend>,
    /// Device: cpu or cuda:N [default: the one it was trained with].
    #[arg(long)]
    pub device: Option<DeviceSpec>,
    /// Folder of run folders (checkpoints).
    #[arg(long, default_value = "checkpoints")]
    pub checkpoints: PathBuf,
}

/// Latent refinement at encode time, for the commands that encode.
#[derive(clap::Args)]
pub struct RefineArgs {
    /// Steps of gradient descent on each image's latents before coding, against the
    /// model's own objective D + λR (decoder and entropy model fixed): fewer bytes and
    /// less distortion for a slower encode; the files decode as any. 0: off. Images of up
    /// to 0.5 megapixels (not tiled).
    #[arg(long, default_value_t = 0, value_name = "STEPS")]
    pub refine: u32,
    /// Adam's step size for --refine (cosine-decayed to 0 over the steps) [default: 0.01].
    #[arg(long, value_name = "LR")]
    pub refine_lr: Option<f64>,
    /// Keep IEEE subnormal floats while refining. By default --refine flushes them to zero
    /// (x86-64), as training does: 4.5x faster refining on an Intel Xeon (README, "Refining
    /// the latent at encode time"); the files decode alike either way. For comparisons.
    #[arg(long, requires = "refine")]
    pub keep_subnormals: bool,
}

impl RefineArgs {
    /// Refining is gradient descent through the decoder, as in training, and as slow on
    /// subnormal floats (README, "Refining the latent at encode time"): flushed before any
    /// worker thread exists. The coder's exact code keeps IEEE floats on its own.
    pub fn flush_subnormals(&self) {
        if self.refine > 0 && !self.keep_subnormals {
            niclab::subnormals::flush_to_zero();
        }
    }
}

impl RunArgs {
    /// The model `model` loaded as these arguments say.
    pub fn session(&self, model: &Path) -> Result<Session> {
        let mut s = Session::open(model, &self.checkpoints, self.backend, self.device)?;
        if let Some(b) = self.batch_size {
            s.batch_size = b.max(1);
        }
        Ok(s)
    }
}

/// A flag set by Ctrl-C or SIGTERM (what Slurm, systemd and `kill` send): work stops at the
/// next step and saves a checkpoint; a second Ctrl-C exits at once.
pub fn interrupt_flag() -> Result<Arc<AtomicBool>> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!("\ninterrupted: saving a checkpoint (Ctrl-C again to abort)");
    })
    .context("cannot install the Ctrl-C handler")?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, interrupt.clone())
        .context("cannot install the SIGTERM handler")?;
    Ok(interrupt)
}

/// A flag set, with `interrupt`, by `signal` (Slurm's warning before a time limit): the work
/// stops as on Ctrl-C and the caller requeues its Slurm task.
pub fn requeue_flag(
    signal: niclab::study::slurm::RequeueSignal,
    interrupt: &Arc<AtomicBool>,
) -> Result<Arc<AtomicBool>> {
    let requeue = Arc::new(AtomicBool::new(false));
    for flag in [&requeue, interrupt] {
        signal_hook::flag::register(signal.number(), Arc::clone(flag))
            .with_context(|| format!("cannot install the SIG{signal} handler"))?;
    }
    Ok(requeue)
}

/// `24.0 MP in 80.1 s (0.30 MP/s)`: pixels coded and the time it took, file I/O included.
pub fn speed(pixels: u64, took: std::time::Duration) -> String {
    let (mp, s) = (pixels as f64 / 1e6, took.as_secs_f64());
    format!("{mp:.2} MP in {s:.2} s ({:.2} MP/s)", mp / s.max(1e-9))
}
