//! The training loop: Adam on the hybrid loss, validation, checkpoints, resume, Ctrl-C.
//!
//! An explicit loop rather than burn-train's `Learner`: bit-exact resume needs the data order
//! to be a function of the step and every piece of state (weights, Adam moments, step, best
//! validation loss) in one atomically written file, and a NaN must stop the run before anything
//! is saved; the Learner's checkpointer and data loaders own those decisions.

pub mod checkpoint;
pub mod replicas;
pub mod schedule;
pub mod tensorboard;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::grad_clipping::GradientClippingConfig;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;

use crate::backend;
use crate::config::{Experiment, Output};
use crate::data::batches::{Batch, TrainingData, mix_seed};
use crate::loss::{HybridLoss, TermValues, ssim_per_image};
use crate::model::Autoencoder;
use crate::progress::Progress;
use crate::run_lock::RunLock;
use checkpoint::{Checkpoint, CheckpointMeta, RESUMABLE_CHANGES, differing_keys, write_atomic};
use replicas::{Replicas, StepGrads};

/// How to start a run.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Continue from `last.ckpt` of the run.
    pub resume: bool,
    /// Start afresh even if the run folder holds checkpoints (they are replaced).
    pub overwrite: bool,
    /// Stop as if interrupted once this many steps are done (a checkpoint is saved).
    pub stop_after: Option<u64>,
    /// Folder holding one sub-folder per run.
    pub checkpoints: PathBuf,
    /// Folder of TensorBoard run folders (`runs/<name>/`); `None` writes no event files.
    pub runs: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Steps done by the end of this invocation.
    pub step: u64,
    /// Steps the run is planned for.
    pub total_steps: u64,
    /// Whether it stopped early (Ctrl-C or `stop_after`); `last.ckpt` holds the state.
    pub interrupted: bool,
    /// Last training loss seen.
    pub last_loss: Option<f64>,
    /// Best validation loss of the run.
    pub best_val_loss: Option<f64>,
    /// Training throughput of this invocation, excluding validation and checkpoints.
    pub images_per_sec: f64,
}

/// Validation results over the fixed validation crops.
#[derive(Debug, Clone, Copy)]
pub struct ValStats {
    /// Mean hybrid loss.
    pub loss: f64,
    /// Mean PSNR (dB) on [0, 1] samples.
    pub psnr: f64,
    /// Mean SSIM.
    pub ssim: f64,
    /// Mean weighted loss terms.
    pub terms: TermValues,
    /// Mean bits per pixel of the rounded latent under the entropy model, if any.
    pub bpp: Option<f64>,
}

/// Files of a run folder.
pub struct RunFiles {
    /// The folder.
    pub dir: PathBuf,
}

impl RunFiles {
    /// Latest state, for resuming.
    pub fn last(&self) -> PathBuf {
        self.dir.join("last.ckpt")
    }
    /// State with the lowest validation loss.
    pub fn best(&self) -> PathBuf {
        self.dir.join("best.ckpt")
    }
    /// The resolved experiment.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
    /// Training curve.
    pub fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.csv")
    }
    /// Validation curve.
    pub fn validation(&self) -> PathBuf {
        self.dir.join("validation.csv")
    }
}

/// Environment variable naming a step (1-based) whose batch is replaced by NaNs, to test the
/// NaN guard end to end.
pub const FAULT_NAN_ENV: &str = "NICLAB_FAULT_NAN_AT_STEP";

// The colour and side-rate terms came after the first runs; they go last, so the rows of
// those runs still line up.
const METRICS_HEADER: &str = "step,epoch,lr,loss,ssim_term,perceptual_term,mse_term,rate_term,\
    images_per_sec,colour_term,side_rate_term";
const VALIDATION_HEADER: &str = "step,val_loss,val_psnr,val_ssim,val_ssim_term,\
    val_perceptual_term,val_mse_term,val_rate_term,val_bpp,val_colour_term,val_side_rate_term";

/// Steps of a run whose experiment gives neither `train.steps` nor `train.epochs`.
pub const DEFAULT_STEPS: u64 = 1000;

/// Trains `exp`; `interrupt` is polled after every step (set it from a Ctrl-C handler).
pub fn train(
    exp: &Experiment,
    opts: &TrainOptions,
    interrupt: &AtomicBool,
) -> Result<TrainOutcome> {
    let files = RunFiles {
        dir: opts.checkpoints.join(exp.name()),
    };
    // Before anything is read or removed: a second trainer on this run is refused.
    let _lock = RunLock::acquire(&files.dir)?;
    let device = backend::device(exp.train.backend, exp.train.device)?;
    let ad = device.clone().autodiff();
    let loss_fn = HybridLoss::new(&exp.loss, &ad)?;
    let val_loss_fn = loss_fn.valid();
    let replicas = Replicas::new(exp, &ad, loss_fn)?;
    backend::set_cudnn_benchmark(exp.train.backend, !exp.train.deterministic);
    // Every device takes `batch_size` crops of each step.
    let step_crops = exp.train.batch_size * replicas.count();

    let previous = if opts.resume {
        if !files.last().exists() {
            bail!(
                "nothing to resume: {} does not exist; run without --resume",
                files.last().display()
            );
        }
        Some(Checkpoint::load(&files.last())?)
    } else {
        if files.last().exists() && !opts.overwrite {
            bail!(
                "{} already holds a run; continue it with --resume or replace it with --overwrite",
                files.dir.display()
            );
        }
        None
    };
    if let Some(ckpt) = &previous {
        check_resumable(&ckpt.meta.experiment, exp, &files.last())?;
    }

    let mut data = TrainingData::load(&exp.data, step_crops, exp.train.seed)?;
    let total = match (exp.train.steps, exp.train.epochs) {
        (_, Some(epochs)) => epochs.saturating_mul(data.steps_per_epoch()),
        (Some(steps), None) => steps,
        (None, None) => DEFAULT_STEPS,
    };
    data.finish_at(total, replicas.count());
    eprintln!(
        "{}: {} training / {} validation photos, {} validation crops, {} steps/epoch, {total} steps, \
         {} backend on {} ({}{})",
        exp.name(),
        data.train_photos(),
        data.val_photos(),
        data.val_batches().iter().map(|b| b.len).sum::<usize>(),
        data.steps_per_epoch(),
        exp.train.backend,
        exp.train
            .replica_devices()
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        exp.train.precision,
        if crate::subnormals::flushed() {
            ", subnormals flushed to zero"
        } else {
            ""
        }
    );

    let warmup = schedule::warmup_steps(&exp.train, total);
    if warmup < exp.train.warmup_steps {
        eprintln!(
            "{}: train.warmup_steps = {} is capped at a tenth of the run: {warmup} of {total} steps",
            exp.name(),
            exp.train.warmup_steps
        );
    }
    if let (Some(side), Some(steps)) = (exp.data.final_crop_size, exp.data.final_crop_steps) {
        let (_, crops) = data.crops_at(total.saturating_sub(1));
        eprintln!(
            "{}: the last {} steps on {side}x{side} crops, {crops} a step",
            exp.name(),
            steps.min(total)
        );
    }

    if let Some(ckpt) = &previous
        && ckpt.meta.step >= total
    {
        // Nothing to do: leave the files and the TensorBoard run exactly as they are.
        eprintln!(
            "{}: already finished ({} of {total} steps)",
            exp.name(),
            ckpt.meta.step
        );
        return Ok(TrainOutcome {
            run_dir: files.dir,
            step: ckpt.meta.step,
            total_steps: total,
            interrupted: false,
            last_loss: None,
            best_val_loss: ckpt.meta.best_val_loss,
            images_per_sec: 0.0,
        });
    }

    let mut model = Autoencoder::new(&exp.model, &ad, exp.train.seed);
    let mut optim = AdamConfig::new()
        .with_epsilon(exp.train.adam_epsilon.map_or(1e-5, |e| e as f32))
        .with_grad_clipping(
            exp.train
                .clip_grad_norm
                .map(|c| GradientClippingConfig::Norm(c as f32)),
        )
        .init();
    let mut start = 0;
    let mut best = None;
    if let Some(ckpt) = previous {
        model = model_from_checkpoint(&ckpt, &files.last(), &ad)?;
        optim = optim
            .from_bytes(Bytes::from_bytes_vec(ckpt.optimizer))
            .map_err(|e| anyhow::anyhow!("{}: bad optimiser state: {e}", files.last().display()))?;
        start = ckpt.meta.step;
        best = ckpt.meta.best_val_loss;
        eprintln!("resuming {} at step {start}", files.last().display());
    } else {
        if let Some(init) = &exp.train.init_from {
            model = initial_weights(init, exp, &ad)?;
            eprintln!(
                "{}: starting from the weights of {}",
                exp.name(),
                init.display()
            );
        }
        if files.dir.exists() {
            for f in [
                files.last(),
                files.best(),
                files.metrics(),
                files.validation(),
            ] {
                if f.exists() {
                    fs::remove_file(&f)
                        .with_context(|| format!("cannot remove {}", f.display()))?;
                }
            }
        }
        fs::create_dir_all(&files.dir)
            .with_context(|| format!("cannot create {}", files.dir.display()))?;
    }
    write_atomic(&files.config(), exp.to_toml().as_bytes())?;
    let mut metrics = CsvLog::open(&files.metrics(), METRICS_HEADER, start)?;
    let mut validation = CsvLog::open(&files.validation(), VALIDATION_HEADER, start)?;

    let save = |model: &Autoencoder,
                optim: &burn::optim::ModuleOptimizer,
                step: u64,
                val_loss: Option<f64>,
                best: Option<f64>,
                path: &Path|
     -> Result<()> {
        let ckpt = Checkpoint {
            meta: CheckpointMeta {
                niclab_version: env!("CARGO_PKG_VERSION").into(),
                experiment: exp.clone(),
                step,
                val_loss,
                best_val_loss: best,
            },
            model: model
                .clone()
                .into_record()
                .into_bytes()
                .map_err(|e| anyhow::anyhow!("cannot serialise the model: {e}"))?
                .to_vec(),
            optimizer: optim
                .into_bytes()
                .map_err(|e| anyhow::anyhow!("cannot serialise the optimiser: {e}"))?
                .to_vec(),
        };
        ckpt.save(path)
    };

    // Fault injection for testing the NaN guard end to end: poisons one batch.
    let fault_nan_at: Option<u64> = std::env::var(FAULT_NAN_ENV)
        .ok()
        .and_then(|v| v.parse().ok());
    let mut board = tensorboard::RunBoard::open(
        opts.runs.as_deref(),
        exp,
        &files.dir,
        total,
        (start > 0).then_some(start),
    )?;
    let shown = data.val_batches().first().map(|b| {
        let n = b.len.min(tensorboard::SHOWN_CROPS);
        Batch {
            len: n,
            side: b.side,
            values: b.values[..n * 3 * b.side * b.side].to_vec(),
        }
    });
    let mut last_val = None;
    let bar = progress_bar(total, start);
    let mut last_loss = None;
    let mut interrupted = false;
    let mut step = start;
    let mut train_secs = 0.0;
    let mut crops_done = 0usize;
    // Start of the throughput window and the crops trained since.
    let mut window = (Instant::now(), 0usize);
    let mut last_saved = start;
    while step < total {
        if interrupt.load(Ordering::SeqCst) || opts.stop_after.is_some_and(|s| step >= s) {
            interrupted = true;
            break;
        }
        let t0 = Instant::now();
        let lr = schedule::learning_rate(&exp.train, step, total);
        let seed = |share: usize| match share {
            0 => mix_seed(&[exp.train.seed, 0x0004_015E, step]),
            _ => mix_seed(&[exp.train.seed, 0x0004_015E, step, share as u64]),
        };
        let poison = fault_nan_at == Some(step + 1);
        let batch = data.batch(step);
        window.1 += batch.len;
        crops_done += batch.len;
        let StepGrads {
            loss,
            terms: weighted,
            grads,
        } = match replicas.step(&model, &batch, seed, poison) {
            Ok(out) => out,
            Err(loss) => {
                bar.abandon();
                board.finish(step, None, false)?;
                bail!(
                    "training loss became {loss} at step {}; stopped without saving. The last \
                     good checkpoint ({}, step {last_saved}) is kept; try a lower train.lr",
                    step + 1,
                    files.last().display()
                );
            }
        };
        model = optim.step(lr, model, grads);
        step += 1;
        train_secs += t0.elapsed().as_secs_f64();
        last_loss = Some(loss);

        if step % exp.train.log_every == 0 || step == total {
            let (since, crops) = window;
            let ips = crops as f64 / since.elapsed().as_secs_f64();
            window = (Instant::now(), 0);
            // `weighted`: the terms as weighted (they add up to the loss); empty when off.
            board.train_step(step, loss, &weighted, lr, ips);
            metrics.row(&format!(
                "{step},{},{lr},{loss},{},{ips:.2},{}",
                (step - 1) / data.steps_per_epoch(),
                weighted.csv(),
                weighted.newer_csv()
            ))?;
            let parts: Vec<String> = weighted
                .present()
                .iter()
                .map(|(t, v)| format!("{} {v:.4}", t.name()))
                .collect();
            bar.set_message(format!(
                "loss {loss:.5} ({}) | {ips:.1} img/s",
                parts.join(", ")
            ));
            let mut figures = vec![("loss", loss), ("lr", lr), ("images_per_sec", ips)];
            figures.extend(weighted.present().into_iter().map(|(t, v)| (t.name(), v)));
            bar.set_metrics(&figures);
        }
        bar.set_position(step);

        let mut val_loss = None;
        let validating = step % exp.train.val_every == 0 || step == total;
        // Only a validating step needs the autodiff-free copy of the model.
        let valid_model = validating.then(|| model.valid());
        if let Some(valid_model) = &valid_model
            && let Some(v) = validate(valid_model, &data, &val_loss_fn, &device)
        {
            if let Some(shown) = &shown {
                board.validation(step, &v, valid_model, shown, &device)?;
            }
            last_val = Some(v);
            validation.row(&format!(
                "{step},{},{},{},{},{},{}",
                v.loss,
                v.psnr,
                v.ssim,
                v.terms.csv(),
                v.bpp.map(|b| b.to_string()).unwrap_or_default(),
                v.terms.newer_csv()
            ))?;
            let rate = v.bpp.map(|b| format!(", {b:.4} bpp")).unwrap_or_default();
            let line = format!(
                "step {step}: val loss {:.5}, PSNR {:.2} dB, SSIM {:.4}{rate}",
                v.loss, v.psnr, v.ssim
            );
            bar.set_metrics(&[
                ("val_loss", v.loss),
                ("val_psnr", v.psnr),
                ("val_ssim", v.ssim),
            ]);
            bar.println(line);
            val_loss = Some(v.loss);
            if best.is_none_or(|b| v.loss < b) {
                best = Some(v.loss);
                save(&model, &optim, step, val_loss, best, &files.best())?;
            }
        }
        if step % exp.train.checkpoint_every == 0 || step == total {
            save(&model, &optim, step, val_loss, best, &files.last())?;
            last_saved = step;
        }
    }
    if step != last_saved {
        save(&model, &optim, step, None, best, &files.last())?;
    }
    if !interrupted {
        board.finish(step, last_val.as_ref(), true)?;
    }
    bar.finish();
    Ok(TrainOutcome {
        run_dir: files.dir,
        step,
        total_steps: total,
        interrupted,
        last_loss,
        best_val_loss: best,
        images_per_sec: if train_secs > 0.0 {
            crops_done as f64 / train_secs
        } else {
            0.0
        },
    })
}

/// The model stored in a checkpoint (read from `path`), on `device`.
pub fn model_from_checkpoint(
    ckpt: &Checkpoint,
    path: &Path,
    device: &Device,
) -> Result<Autoencoder> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(ckpt.model.clone()))
        .map_err(|e| anyhow::anyhow!("{}: bad model weights: {e}", path.display()))?;
    Autoencoder::new(&ckpt.meta.experiment.model, device, 0)
        .try_load_record(record)
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: weights do not fit the model it names: {e}",
                path.display()
            )
        })
}

/// The weights a fine-tuning run starts from (`train.init_from`): the checkpoint's model, which
/// must be the experiment's own.
///
/// The one change of `[model]` allowed: a sigmoid model's weights may start an `output =
/// "clamp"` one ([`Autoencoder::clamped_from_sigmoid`]) or a `"stretched"` one.
fn initial_weights(path: &Path, exp: &Experiment, device: &Device) -> Result<Autoencoder> {
    let ckpt = init_checkpoint(path, exp)?;
    let model = model_from_checkpoint(&ckpt, path, device)?;
    Ok(
        match (ckpt.meta.experiment.model.output, exp.model.output) {
            (Output::Sigmoid, Output::Clamp) => model.clamped_from_sigmoid(),
            (Output::Sigmoid, Output::Stretched) => model.stretched_from_sigmoid(),
            // The same output (`init_checkpoint` refuses any other change).
            _ => model,
        },
    )
}

/// Whether `init`'s sigmoid model starts `exp`'s other output (`model.output` may differ).
fn from_sigmoid(init: &Experiment, exp: &Experiment) -> bool {
    init.model.output == Output::Sigmoid && exp.model.output != Output::Sigmoid
}

/// Checks `train.init_from`, if set, as a run would before its first step: the checkpoint
/// reads and holds the experiment's `[model]` (`niclab config` says so before any training).
pub fn check_init_from(exp: &Experiment) -> Result<()> {
    match &exp.train.init_from {
        Some(path) => init_checkpoint(path, exp).map(|_| ()),
        None => Ok(()),
    }
}

fn init_checkpoint(path: &Path, exp: &Experiment) -> Result<Checkpoint> {
    let ckpt = Checkpoint::load(path).context("train.init_from")?;
    let converts = from_sigmoid(&ckpt.meta.experiment, exp);
    let diff: Vec<String> = differing_keys(&ckpt.meta.experiment, exp)
        .into_iter()
        .filter(|k| k.starts_with("model.") && !(converts && k == "model.output"))
        .collect();
    if !diff.is_empty() {
        bail!(
            "train.init_from: {} holds a different model ({}); fine-tuning needs the same [model] (but for a sigmoid model's model.output, which may become \"clamp\" or \"stretched\")",
            path.display(),
            diff.join(", ")
        );
    }
    Ok(ckpt)
}

fn check_resumable(old: &Experiment, new: &Experiment, path: &Path) -> Result<()> {
    let diff: Vec<String> = differing_keys(old, new)
        .into_iter()
        .filter(|k| !RESUMABLE_CHANGES.contains(&k.as_str()))
        .collect();
    if diff.iter().any(|k| k.starts_with("model.")) {
        bail!(
            "{} was trained with a different model ({}); it cannot be resumed with this \
             experiment. Use --overwrite to start afresh",
            path.display(),
            diff.join(", ")
        );
    }
    if !diff.is_empty() {
        bail!(
            "{} was trained with different settings ({}); resuming would not repeat the run. \
             Only {} may change on resume",
            path.display(),
            diff.join(", "),
            RESUMABLE_CHANGES.join(", ")
        );
    }
    Ok(())
}

/// Mean loss, PSNR and SSIM over the validation crops, or `None` without a validation split.
pub fn validate(
    model: &Autoencoder,
    data: &TrainingData,
    loss_fn: &HybridLoss,
    device: &Device,
) -> Option<ValStats> {
    let (mut loss, mut psnr, mut ssim, mut n) = (0.0, 0.0, 0.0, 0usize);
    let mut bits = None;
    let mut sums = TermValues::default();
    for batch in data.val_batches() {
        let x = batch.to_tensor(device);
        // As the codec runs: rounded latent, its rate under the prior.
        let (y, rate) = model.forward_quantized(x.clone());
        let mut terms = loss_fn.forward(y.clone(), x.clone());
        if let Some(rate) = rate {
            let b = rate.total().into_scalar::<f32>() as f64;
            bits = Some(bits.unwrap_or(0.0) + b * batch.len as f64);
            terms = terms.with_rate(loss_fn.rate_weight(), rate);
        }
        sums.add_scaled(&terms.weighted(), batch.len as f64);
        loss += terms.total.into_scalar::<f32>() as f64 * batch.len as f64;
        let mse = (y.clone() - x.clone())
            .powi_scalar(2)
            .reshape([batch.len as i32, -1])
            .mean_dim(1)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        psnr += mse
            .iter()
            .map(|m| 10.0 * (1.0 / (*m as f64).max(1e-10)).log10())
            .sum::<f64>();
        ssim += ssim_per_image(y, x)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default()
            .iter()
            .map(|v| *v as f64)
            .sum::<f64>();
        n += batch.len;
    }
    (n > 0).then(|| {
        let mut terms = TermValues::default();
        terms.add_scaled(&sums, 1.0 / n as f64);
        ValStats {
            loss: loss / n as f64,
            psnr: psnr / n as f64,
            ssim: ssim / n as f64,
            terms,
            bpp: bits.map(|b| b / n as f64),
        }
    })
}

fn progress_bar(total: u64, start: u64) -> Progress {
    let bar = Progress::new(
        "train",
        total,
        "step {pos}/{len} {bar:30} {msg} | ETA {eta}",
    );
    bar.set_position(start);
    bar.reset_eta();
    bar
}

/// A CSV file that a resumed run continues without duplicate steps: rows past the resume
/// step (written after the checkpoint it resumes from) are dropped on open.
struct CsvLog {
    file: fs::File,
}

impl CsvLog {
    fn open(path: &Path, header: &str, resume_step: u64) -> Result<Self> {
        let mut kept = format!("{header}\n");
        if resume_step > 0
            && let Ok(text) = fs::read_to_string(path)
        {
            for line in text.lines().skip(1) {
                let step: u64 = line
                    .split(',')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(u64::MAX);
                if step <= resume_step {
                    kept.push_str(line);
                    kept.push('\n');
                }
            }
        }
        write_atomic(path, kept.as_bytes())?;
        let file = fs::OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Self { file })
    }

    fn row(&mut self, line: &str) -> Result<()> {
        writeln!(self.file, "{line}").context("cannot append to a metrics file")
    }
}
