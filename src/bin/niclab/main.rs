//! The `niclab` command line: parsing here, each subcommand in [`commands`].

mod commands;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use niclab::config::ConfigError;

use commands::{
    compress, config, data, decompress, eval, metrics, models, rd, serve, study, train, try_codec,
    weights,
};

/// Exit status for a bad experiment file or bad arguments.
const EXIT_USAGE: u8 = 2;

/// niclab: neural image compression experiments.
///
/// Write an experiment as a TOML file (see experiments/ and the README), train it on real
/// photographs, watch it in TensorBoard, compare it with JPEG on the 1000 test crops with
/// `niclab eval`, compress images into real .nic files with `niclab compress`, draw
/// rate-distortion curves against JPEG, WebP, AVIF and JPEG XL with `niclab rd`, and score
/// images with `niclab metrics`.
#[derive(Parser)]
#[command(version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How long stages (training, evaluation, studies, compress, rd) show their progress: a
    /// bar on a terminal; `json`: one JSON object per line on stderr (stage, done, total,
    /// message, metrics, elapsed_s, finished), for a program that follows niclab; or `none`.
    #[arg(
        long,
        global = true,
        default_value = "bar",
        value_name = "bar|json|none"
    )]
    progress: niclab::progress::Style,
}

#[derive(Subcommand)]
enum Command {
    /// Train an experiment: checkpoints and CSV logs go to CHECKPOINTS/<name>/, TensorBoard
    /// event files to RUNS/<name>/.
    ///
    /// Ctrl-C saves a checkpoint and exits (status 130); `--resume` continues it.
    Train(train::Args),
    /// Print an experiment with every default filled in, after overrides (checks it too).
    Config(config::Args),
    /// Quality of B against A: PSNR (dB), SSIM, colour and VGG16 perceptual distance.
    ///
    /// A and B are two image files, or two folders whose images pair up by relative path
    /// (per-pair rows, then the means). Colour: the mean CIEDE2000 difference (dE00, as
    /// scikit-image; above about 5 reads as another colour) and the PSNR of the Y, Cb and Cr
    /// planes (JFIF). PSNR is infinite (JSON null) for identical images.
    Metrics(metrics::Args),
    /// Compare a trained model with JPEG (or WebP, AVIF, JPEG XL) on a folder of images, as
    /// the paper did.
    ///
    /// Every image goes through the autoencoder (batched) and through the baseline (JPEG:
    /// libjpeg-turbo) at the setting whose mean SSIM matches the autoencoder's (or at the
    /// settings given). Writes per_image.csv, summary.json, report.md, plots/, strips/, the
    /// reconstructions (ae/) and the baseline's files (jpeg-qN/, avif-qpN/, ...) to OUT, and
    /// the curves to TensorBoard (RUNS/<name>/eval).
    Eval(eval::Args),
    /// Compress an image (or every image of a folder) into .nic files with a trained model.
    ///
    /// The latent is quantised and range-coded with the model's integer tables, made once
    /// per checkpoint and kept next to it (best.tables.json). Decompress with the same model.
    Compress(compress::Args),
    /// Decompress a .nic file (or every .nic file of a folder) into PNG.
    Decompress(decompress::Args),
    /// Rate-distortion curves of trained codecs against sweeps of the classical codecs (JPEG,
    /// WebP, AVIF, JPEG XL), and the Bjøntegaard delta rate (BD-rate) against each at equal
    /// PSNR, SSIM and MS-SSIM.
    ///
    /// Each model is one point (mean bits per pixel of its real .nic files, PSNR, SSIM,
    /// MS-SSIM where images have 161 pixels a side, CIEDE2000); models trained at different
    /// λ make the curve. Each classical codec is a
    /// curve over its quality knob, at its tool's default settings, files counted whole:
    /// JPEG = libjpeg-turbo (bundled), WebP = libwebp 1.6 (bundled), AVIF = avifenc
    /// (Debian's libavif-bin, libaom), JPEG XL = cjxl (Debian's libjxl-tools). Writes
    /// rd.csv, rd.json, report.md, plots/rd-psnr.png, rd-ssim.png and rd-delta-e.png, and
    /// TensorBoard scalars (rd/psnr_<codec>, ..., step = bits per pixel x 1000) to OUT.
    Rd(rd::Args),
    /// Train and evaluate several experiments and report them next to the paper's table.
    ///
    /// FILE lists experiment files and overrides applied to each (see
    /// experiments/depth-study-quick.toml), or is a folder of experiment files. Runs go to
    /// CHECKPOINTS/<study>/<experiment>/, evaluations to RUNS/<study>/<experiment>/eval/, the
    /// report (report.md, summary.json, plots/, strips/) to RUNS/<study>/. Finished runs and
    /// evaluations are kept and interrupted runs resume, so running it again continues; Ctrl-C
    /// (or SIGTERM) saves a checkpoint and exits (status 130).
    ///
    /// A `[sweep]` table makes a grid of overrides: each experiment becomes one member per
    /// point. `--list` shows the members and where each stands, `--member N` runs one,
    /// `--report` reports those done, and `--slurm [--submit]` writes (and submits) a Slurm
    /// job array with one task per member and a report job after them (README, "On a
    /// cluster").
    Study(study::Args),
    /// Build and check the datasets.
    #[command(subcommand)]
    Data(data::Command),
    /// Pretrained weights.
    #[command(subcommand)]
    Weights(weights::Command),
    /// The model zoo: trained models shipped in models/ (no training needed).
    ///
    /// Lists them with their figures on datasets/test-1000 (bits per pixel of the real .nic
    /// files, PSNR, SSIM, CIEDE2000). `niclab compress` without --model uses the default one;
    /// `--model NAME` picks another.
    Models(models::Args),
    /// One image through a learned codec and through JPEG at the same bytes and at the same
    /// SSIM, side by side: the files, the decoded images and their figures (trial.json).
    ///
    /// A .nic file is decoded instead. What the web app's "try a codec" runs.
    #[command(name = "try")]
    Try(try_codec::Args),
    /// The web app: runs with their live curves and resolved experiments, in a browser.
    ///
    /// Serves a page and a JSON API over the run folders on http://127.0.0.1:8080/ (it prints
    /// the URL). Loopback only unless --host says otherwise; then every request needs the
    /// token the printed URL carries. Ctrl-C stops it.
    Serve(serve::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        // Rust ignores SIGPIPE, so printing into a closed pipe (`niclab ... | head`) panics;
        // a command-line tool should end quietly there, as cat and grep do. Not for serve,
        // whose sockets and child pipes report a gone peer as an error to handle.
        // SAFETY: setting a signal's disposition to the default before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    niclab::progress::set_style(cli.progress);
    let result: Result<ExitCode> = match cli.command {
        Command::Train(a) => train::run(a),
        Command::Config(a) => config::run(a),
        Command::Metrics(a) => metrics::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Compress(a) => compress::run(a),
        Command::Decompress(a) => decompress::run(a),
        Command::Rd(a) => rd::run(a),
        Command::Study(a) => study::run(a),
        Command::Data(c) => data::run(c),
        Command::Weights(c) => weights::run(c),
        Command::Models(a) => models::run(a),
        Command::Try(a) => try_codec::run(a),
        Command::Serve(a) => serve::run(a),
    };
    match result {
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

// glibc's malloc returns the large, short-lived tensor buffers of every layer to the kernel
// and faults them in again (over half the time of inference went to the kernel); mimalloc
// keeps and reuses them.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
