//! Studies: several experiments trained, evaluated against JPEG and reported side by side,
//! next to the paper's table (`niclab study`).
//!
//! A study file lists experiment files and overrides applied to all of them:
//!
//! ```toml
//! name = "depth-study-quick"                 # default: the file's stem
//! description = "what this budget is for"    # shown in the report
//! experiments = ["paper-depth-3.toml", "paper-depth-5.toml"]   # relative to this file
//!
//! [set]                                      # as `niclab train --set KEY=VALUE`, for each
//! train.steps = 1500
//! data.crop_size = 64
//!
//! [eval]
//! images = "datasets/test-1000"
//! jpeg_quality = "match-ssim"                # or "95,75"
//! ```
//!
//! A `[sweep]` table adds a grid of overrides ([`sweep`]): each experiment becomes one member
//! per grid point, named after it. A folder works too: every `*.toml` in it, no overrides.
//! Runs go to `CHECKPOINTS/<study>/<experiment>/`, TensorBoard and evaluations to
//! `RUNS/<study>/<experiment>/`, the study's report to `RUNS/<study>/`. Finished runs and
//! evaluations are kept, interrupted runs resume, so starting a study again continues it.
//! A member with no run of its own whose exact experiment is shipped in the model zoo
//! (`models/`, [`crate::zoo::trained_with`]) counts as finished: it is evaluated from the
//! shipped weights (`StudyOptions::retrain` trains it anyway).
//!
//! Members are independent: [`run_member`] trains and evaluates one (what a Slurm array task
//! runs, [`slurm`]), [`state`] tells where one stands, [`gather`] collects the finished ones
//! for the report.

pub mod paper;
pub mod report;
pub mod slurm;
pub mod sweep;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::classic::jpeg::QualityChoice;
use crate::config::{ConfigError, Experiment, key_span, locate, parse_located};
use crate::eval::report::{SUMMARY_FILE, Summary};
use crate::eval::{EvalOptions, evaluate};
use crate::progress::Progress;
use crate::train::{TrainOptions, train};

/// Evaluation settings shared by the study's experiments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StudyEval {
    /// The images every model and JPEG compress.
    pub images: PathBuf,
    /// `match-ssim` or fixed qualities such as `"95,75"`.
    pub jpeg_quality: String,
    /// Images per inference batch (default: each experiment's `eval.batch_size`).
    pub batch_size: Option<usize>,
}

impl Default for StudyEval {
    fn default() -> Self {
        Self {
            images: PathBuf::from("datasets/test-1000"),
            jpeg_quality: "match-ssim".into(),
            batch_size: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StudyFile {
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    experiments: Vec<PathBuf>,
    #[serde(default)]
    set: toml::Table,
    #[serde(default)]
    sweep: toml::Table,
    #[serde(default)]
    eval: StudyEval,
}

/// A study, read and checked: every experiment loaded with the study's overrides.
#[derive(Debug, Clone)]
pub struct Study {
    /// Its name (folder of its runs and report).
    pub name: String,
    /// What it is for, in words.
    pub description: Option<String>,
    /// The members: the experiments in the order given (a folder's: by depth, then name),
    /// each expanded into one per point of the sweep's grid.
    pub experiments: Vec<Experiment>,
    /// The swept keys and their values (empty: no sweep).
    pub sweep: Vec<sweep::Axis>,
    /// The overrides applied to each, as `KEY=VALUE`.
    pub overrides: Vec<String>,
    /// Evaluation settings.
    pub eval: StudyEval,
    /// How JPEG qualities are chosen (parsed from `eval.jpeg_quality`).
    pub jpeg: QualityChoice,
}

impl Study {
    /// Reads a study file or folder; `extra` overrides (`KEY=VALUE`) come after the file's.
    pub fn load(path: &Path, extra: &[String]) -> Result<Self> {
        if path.is_dir() {
            return Self::from_folder(path, extra);
        }
        let text = fs::read_to_string(path).map_err(|e| ConfigError {
            origin: path.display().to_string(),
            message: format!("cannot read study file: {e}"),
        })?;
        let (file, spanned): (StudyFile, _) = parse_located(&text, path)?;
        let key_err = |key: &str, message: String| ConfigError {
            origin: locate(path, &text, key_span(spanned.get_ref(), key)),
            message: format!("{key}: {message}"),
        };
        let name = match file.name {
            Some(n) => n,
            None => stem(path),
        };
        crate::config::check_name(&name).map_err(|m| key_err("name", m))?;
        if file.experiments.is_empty() {
            return Err(key_err("experiments", "lists no experiment file".into()).into());
        }
        let jpeg: QualityChoice = file
            .eval
            .jpeg_quality
            .parse()
            .map_err(|m: String| key_err("eval", format!("jpeg_quality: {m}")))?;
        // `[set]` as `a.b=value` items (values in TOML syntax), then the command line's.
        let mut overrides: Vec<String> = crate::config::dotted_leaves(&file.set)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        overrides.extend(extra.iter().cloned());
        let axes = sweep::axes(&file.sweep).map_err(|(k, m)| ConfigError {
            origin: locate(path, &text, key_span(spanned.get_ref(), "sweep")),
            message: format!("sweep.\"{k}\": {m}"),
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        let files: Vec<PathBuf> = file.experiments.iter().map(|f| base.join(f)).collect();
        let experiments = load_all(&files, &overrides, &sweep::points(&axes), path)?;
        Ok(Self {
            name,
            description: file.description,
            experiments,
            sweep: axes,
            overrides,
            eval: file.eval,
            jpeg,
        })
    }

    /// The member `which` names: its index (from 0, as `--list` shows) or its name.
    pub fn member(&self, which: &str) -> Result<usize> {
        let n = self.experiments.len();
        if let Ok(i) = which.parse::<usize>() {
            if i < n {
                return Ok(i);
            }
            bail!(
                "study {} has members 0 to {}, not {i} (niclab study FILE --list shows them)",
                self.name,
                n - 1
            );
        }
        self.experiments
            .iter()
            .position(|e| e.name() == which)
            .with_context(|| {
                format!(
                    "study {} has no member named `{which}` (niclab study FILE --list shows them)",
                    self.name
                )
            })
    }

    fn from_folder(dir: &Path, extra: &[String]) -> Result<Self> {
        let mut files = Vec::new();
        for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let p = entry?.path();
            if p.extension().is_some_and(|e| e == "toml") {
                files.push(p);
            }
        }
        if files.is_empty() {
            bail!("{} holds no experiment files (*.toml)", dir.display());
        }
        files.sort();
        let mut experiments = load_all(&files, extra, &sweep::points(&[]), dir)?;
        experiments.sort_by_key(|e| e.model.pairs);
        let name = stem(dir);
        crate::config::check_name(&name).map_err(|m| ConfigError {
            origin: dir.display().to_string(),
            message: format!("the folder name is the study's name: {m}"),
        })?;
        Ok(Self {
            name,
            description: None,
            experiments,
            sweep: Vec::new(),
            overrides: extra.to_vec(),
            eval: StudyEval::default(),
            jpeg: QualityChoice::MatchSsim,
        })
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "study".into(), |s| s.to_string_lossy().into_owned())
}

/// Every file at every grid point; a swept member is named `<experiment>_<point>`.
fn load_all(
    files: &[PathBuf],
    overrides: &[String],
    points: &[sweep::Point],
    study: &Path,
) -> Result<Vec<Experiment>> {
    let mut out: Vec<Experiment> = Vec::new();
    for f in files {
        let base = Experiment::load(f, overrides)
            .with_context(|| format!("in study {}", study.display()))?;
        for p in points {
            let exp = if p.overrides.is_empty() {
                base.clone()
            } else {
                let mut all = overrides.to_vec();
                all.extend(p.overrides.iter().cloned());
                all.push(format!("name=\"{}_{}\"", base.name(), p.suffix));
                Experiment::load(f, &all)
                    .with_context(|| format!("in study {}", study.display()))?
            };
            if let Some(other) = out.iter().find(|e| e.name() == exp.name()) {
                bail!(
                    "{}: two members are named `{}`; give the experiments different `name`s \
                     (or the swept values different names), their runs would overwrite each other",
                    study.display(),
                    other.name()
                );
            }
            out.push(exp);
        }
    }
    Ok(out)
}

/// Where a study's files go.
#[derive(Debug, Clone)]
pub struct StudyOptions {
    /// Folder of run folders; the study's runs go to `checkpoints/<study>/`.
    pub checkpoints: PathBuf,
    /// Folder of TensorBoard run folders; the study's go to `runs/<study>/`.
    pub runs: PathBuf,
    /// Train every member, also those shipped in the model zoo (`models/`).
    pub retrain: bool,
}

impl StudyOptions {
    /// Checkpoint folders of `study`'s runs.
    pub fn checkpoints_of(&self, study: &Study) -> PathBuf {
        self.checkpoints.join(&study.name)
    }

    /// TensorBoard runs, evaluations and the report of `study`.
    pub fn runs_of(&self, study: &Study) -> PathBuf {
        self.runs.join(&study.name)
    }
}

/// What happened to one experiment in this invocation, and its evaluation.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The experiment.
    pub experiment: Experiment,
    /// Steps done.
    pub step: u64,
    /// Training wall seconds spent now (`None`: it was already finished).
    pub train_seconds: Option<f64>,
    /// Training images per second now.
    pub images_per_sec: Option<f64>,
    /// Evaluation wall seconds spent now (`None`: a valid evaluation was kept).
    pub eval_seconds: Option<f64>,
    /// The evaluation's summary.
    pub eval: Summary,
    /// Its folder.
    pub eval_dir: PathBuf,
}

impl Stage {
    fn new(
        exp: &Experiment,
        step: u64,
        times: MemberTimes,
        eval: Summary,
        eval_dir: PathBuf,
    ) -> Self {
        Self {
            experiment: exp.clone(),
            step,
            train_seconds: times.train_seconds,
            images_per_sec: times.images_per_sec,
            eval_seconds: times.eval_seconds,
            eval,
            eval_dir,
        }
    }
}

/// The outcome of [`run`].
pub struct StudyOutcome {
    /// Experiments trained and evaluated, in order (fewer when interrupted).
    pub stages: Vec<Stage>,
    /// Stopped by an interrupt; starting again continues.
    pub interrupted: bool,
    /// The report and its figures, when every experiment was done.
    pub report: Option<(PathBuf, report::StudySummary)>,
}

/// Trains (or resumes, or keeps) and evaluates every member of `study`, then writes the
/// report. `interrupt` stops it after the current training step or evaluation.
pub fn run(study: &Study, opts: &StudyOptions, interrupt: &AtomicBool) -> Result<StudyOutcome> {
    let started = Instant::now();
    let n = study.experiments.len();
    let mut stages = Vec::new();
    let members = Progress::outer("study", n as u64);
    for (i, exp) in study.experiments.iter().enumerate() {
        members.set_message(exp.name());
        members.set_position(i as u64);
        let Some(stage) = run_member(study, i, opts, interrupt)? else {
            return Ok(StudyOutcome {
                stages,
                interrupted: true,
                report: None,
            });
        };
        stages.push(stage);
        if interrupt.load(Ordering::SeqCst) {
            return Ok(StudyOutcome {
                stages,
                interrupted: true,
                report: None,
            });
        }
    }
    members.set_position(n as u64);
    members.finish();
    let report = report::write(
        study,
        &stages,
        &[],
        &opts.runs_of(study),
        started.elapsed().as_secs_f64(),
    )?;
    Ok(StudyOutcome {
        stages,
        interrupted: false,
        report: Some(report),
    })
}

/// Trains (or resumes, or keeps) and evaluates member `i` of `study` alone; `None` when
/// interrupted (its checkpoint is saved). Safe to repeat: a finished member is kept, an
/// interrupted one resumes, one training elsewhere is refused (its run lock).
pub fn run_member(
    study: &Study,
    i: usize,
    opts: &StudyOptions,
    interrupt: &AtomicBool,
) -> Result<Option<Stage>> {
    let exp = &study.experiments[i];
    let n = study.experiments.len();
    let ck_root = opts.checkpoints_of(study);
    let runs_root = opts.runs_of(study);
    let (target, step, train_seconds, images_per_sec) = match shipped_member(study, exp, opts)? {
        Some((ckpt, entry)) => {
            eprintln!(
                "[{}/{n}] {}: shipped as model {} ({}, step {}); --retrain trains it again",
                i + 1,
                exp.name(),
                entry.name,
                ckpt.display(),
                entry.trained.step
            );
            let seconds = entry.trained.seconds;
            let ips =
                seconds.map(|t| (entry.trained.step as usize * exp.train.batch_size) as f64 / t);
            (ckpt, entry.trained.step, seconds, ips)
        }
        None => match train_member(study, exp, opts, (i, n), interrupt)? {
            Some(done) => done,
            None => return Ok(None),
        },
    };

    let eval_dir = runs_root.join(exp.name()).join("eval");
    let (eval, eval_seconds) = match kept_evaluation(study, exp, &target, &eval_dir)? {
        Some(s) => {
            eprintln!(
                "[{}/{n}] {}: evaluation kept ({})",
                i + 1,
                exp.name(),
                eval_dir.display()
            );
            (s, None)
        }
        None => {
            eprintln!(
                "[{}/{n}] {}: evaluating on {}",
                i + 1,
                exp.name(),
                study.eval.images.display()
            );
            let t = Instant::now();
            let eopts = EvalOptions {
                images: study.eval.images.clone(),
                out: Some(eval_dir.clone()),
                jpeg: study.jpeg.clone(),
                batch_size: study.eval.batch_size,
                backend: None,
                device: None,
                checkpoints: ck_root.clone(),
                runs: runs_root.clone(),
                write_images: true,
                storage: Some(exp.eval.storage),
                // The paper compared with JPEG.
                ..EvalOptions::default()
            };
            let (e, _) = evaluate(&target, &eopts)
                .with_context(|| format!("study {}: evaluating {}", study.name, exp.name()))?;
            (
                crate::eval::report::summary(&e),
                Some(t.elapsed().as_secs_f64()),
            )
        }
    };
    let times = MemberTimes {
        train_seconds,
        images_per_sec,
        eval_seconds,
    }
    .or_recorded(&runs_root, exp)?;
    Ok(Some(Stage::new(exp, step, times, eval, eval_dir)))
}

/// The zoo's weights for `exp` when it counts as finished through them: no run of its own,
/// not asked to retrain, and the very experiment shipped in `models/`.
fn shipped_member(
    study: &Study,
    exp: &Experiment,
    opts: &StudyOptions,
) -> Result<Option<(PathBuf, crate::zoo::Entry)>> {
    let own_run = opts
        .checkpoints_of(study)
        .join(exp.name())
        .join("last.ckpt")
        .exists();
    if own_run || opts.retrain {
        return Ok(None);
    }
    crate::zoo::trained_with(exp).with_context(|| format!("study {}: {}", study.name, exp.name()))
}

/// The times a member's training and evaluation took, kept in `RUNS/<study>/<member>/member.json`
/// by the invocation that spent them, so that a report gathered later (another process,
/// another node) still shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct MemberTimes {
    train_seconds: Option<f64>,
    images_per_sec: Option<f64>,
    eval_seconds: Option<f64>,
}

const MEMBER_TIMES: &str = "member.json";

impl MemberTimes {
    /// These times, each unknown one taken from the member's record; the record is updated
    /// with what this invocation measured.
    fn or_recorded(self, runs_root: &Path, exp: &Experiment) -> Result<Self> {
        let file = runs_root.join(exp.name()).join(MEMBER_TIMES);
        let old: Self = fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let merged = Self {
            train_seconds: self.train_seconds.or(old.train_seconds),
            images_per_sec: self.images_per_sec.or(old.images_per_sec),
            eval_seconds: self.eval_seconds.or(old.eval_seconds),
        };
        if merged != old {
            crate::train::checkpoint::write_atomic(
                &file,
                format!("{}\n", serde_json::to_string_pretty(&merged)?).as_bytes(),
            )?;
        }
        Ok(merged)
    }
}

/// Where one member stands, read from its files (nothing is trained or evaluated).
#[derive(Debug, Clone, PartialEq)]
pub enum MemberState {
    /// No run folder with a checkpoint, nothing shipped.
    NotStarted,
    /// A live process holds its run lock.
    Running {
        /// The trainer.
        holder: crate::run_lock::Holder,
        /// Its last checkpoint's step, if any.
        step: Option<u64>,
    },
    /// Stopped before the end; `--member` continues it.
    Interrupted {
        /// Steps done.
        step: u64,
        /// Steps planned (`None`: counted in epochs, known once the data is read).
        total: Option<u64>,
    },
    /// Trained to the end (or shipped in the zoo), not evaluated with the study's settings.
    Finished {
        /// Steps done.
        step: u64,
        /// The zoo model it comes from, when shipped.
        shipped: Option<String>,
    },
    /// Trained and evaluated: ready for the report.
    Evaluated {
        /// Steps done.
        step: u64,
        /// The zoo model it comes from, when shipped.
        shipped: Option<String>,
    },
}

impl std::fmt::Display for MemberState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = |s: &Option<String>| {
            s.as_ref()
                .map_or(String::new(), |m| format!(", shipped as {m}"))
        };
        match self {
            Self::NotStarted => write!(f, "not started"),
            Self::Running { holder, step } => write!(
                f,
                "running (pid {} on {}){}",
                holder.pid,
                holder.host,
                step.map_or(String::new(), |s| format!(", checkpoint at step {s}"))
            ),
            Self::Interrupted { step, total } => match total {
                Some(t) => write!(f, "interrupted at step {step} of {t}"),
                None => write!(f, "interrupted at step {step}"),
            },
            Self::Finished { step, shipped } => {
                write!(f, "finished (step {step}{}), not evaluated", from(shipped))
            }
            Self::Evaluated { step, shipped } => {
                write!(f, "evaluated (step {step}{})", from(shipped))
            }
        }
    }
}

/// Where member `i` of `study` stands.
pub fn state(study: &Study, i: usize, opts: &StudyOptions) -> Result<MemberState> {
    Ok(inspect(study, i, opts)?.0)
}

/// Where member `i` stands and, when it is evaluated, that evaluation and its folder (what
/// the report takes), found once.
fn inspect(
    study: &Study,
    i: usize,
    opts: &StudyOptions,
) -> Result<(MemberState, Option<(Summary, PathBuf)>)> {
    let exp = &study.experiments[i];
    let run_dir = opts.checkpoints_of(study).join(exp.name());
    let eval_dir = opts.runs_of(study).join(exp.name()).join("eval");
    let last = run_dir.join("last.ckpt");
    let step = || -> Result<Option<u64>> {
        if !last.exists() {
            return Ok(None);
        }
        Ok(Some(
            crate::train::checkpoint::Checkpoint::load(&last)?.meta.step,
        ))
    };
    if let Some(holder) = crate::run_lock::holder(&run_dir) {
        let state = MemberState::Running {
            holder,
            step: step()?,
        };
        return Ok((state, None));
    }
    let (step, total, shipped, target) = match step()? {
        Some(step) => {
            let total = match (exp.train.steps, exp.train.epochs) {
                (_, Some(_)) => None,
                (Some(s), None) => Some(s),
                (None, None) => Some(crate::train::DEFAULT_STEPS),
            };
            (step, total, None, run_dir)
        }
        None => match shipped_member(study, exp, opts)? {
            Some((ckpt, entry)) => (entry.trained.step, None, Some(entry.name), ckpt),
            None => return Ok((MemberState::NotStarted, None)),
        },
    };
    let evaluation = kept_evaluation(study, exp, &target, &eval_dir)?;
    let state = match (total, &evaluation) {
        (Some(t), _) if step < t => MemberState::Interrupted { step, total },
        // Counted in epochs: only an evaluation, made after training, says it ended.
        (None, None) if shipped.is_none() => MemberState::Interrupted { step, total },
        (_, Some(_)) => MemberState::Evaluated { step, shipped },
        (_, None) => MemberState::Finished { step, shipped },
    };
    let evaluation = match state {
        MemberState::Evaluated { .. } => evaluation.map(|e| (e, eval_dir)),
        _ => None,
    };
    Ok((state, evaluation))
}

/// Members left out of a report: name and where each stands.
pub type Missing = Vec<(String, MemberState)>;

/// The evaluated members as stages for the report, and the names of the others with where
/// they stand.
pub fn gather(study: &Study, opts: &StudyOptions) -> Result<(Vec<Stage>, Missing)> {
    let runs_root = opts.runs_of(study);
    let mut stages = Vec::new();
    let mut missing = Vec::new();
    for (i, exp) in study.experiments.iter().enumerate() {
        match inspect(study, i, opts)? {
            (MemberState::Evaluated { step, .. }, Some((eval, eval_dir))) => {
                let times = MemberTimes::default().or_recorded(&runs_root, exp)?;
                stages.push(Stage::new(exp, step, times, eval, eval_dir));
            }
            (state, _) => missing.push((exp.name().to_string(), state)),
        }
    }
    Ok((stages, missing))
}

/// What a trained member hands to its evaluation: the run folder, the step reached, and
/// the training time and speed when this call trained (none when the run was finished).
type Trained = (PathBuf, u64, Option<f64>, Option<f64>);

/// Trains (or continues, or keeps) one member in its run folder; `None` when interrupted.
fn train_member(
    study: &Study,
    exp: &Experiment,
    opts: &StudyOptions,
    (i, n): (usize, usize),
    interrupt: &AtomicBool,
) -> Result<Option<Trained>> {
    let ck_root = opts.checkpoints_of(study);
    let run_dir = ck_root.join(exp.name());
    let resume = run_dir.join("last.ckpt").exists();
    eprintln!(
        "[{}/{n}] {}: {} ({} pairs)",
        i + 1,
        exp.name(),
        if resume { "continuing" } else { "training" },
        exp.model.pairs
    );
    let t = Instant::now();
    let topts = TrainOptions {
        resume,
        overwrite: false,
        stop_after: None,
        checkpoints: ck_root,
        runs: Some(opts.runs_of(study)),
    };
    let out = train(exp, &topts, interrupt)
        .with_context(|| format!("study {}: training {}", study.name, exp.name()))?;
    if out.interrupted || interrupt.load(Ordering::SeqCst) {
        return Ok(None);
    }
    // A run that was already finished did no steps and reports no speed.
    let trained = out.images_per_sec > 0.0;
    Ok(Some((
        run_dir,
        out.step,
        trained.then_some(t.elapsed().as_secs_f64()),
        trained.then_some(out.images_per_sec),
    )))
}

/// The evaluation already in `eval_dir`, if it scored the checkpoint the study would use now
/// (in the run folder or the shipped file `target`) on the same images with the same JPEG
/// choice.
fn kept_evaluation(
    study: &Study,
    exp: &Experiment,
    target: &Path,
    eval_dir: &Path,
) -> Result<Option<Summary>> {
    let file = eval_dir.join(SUMMARY_FILE);
    let Ok(text) = fs::read_to_string(&file) else {
        return Ok(None);
    };
    let Ok(summary) = serde_json::from_str::<Summary>(&text) else {
        return Ok(None);
    };
    let source = crate::eval::source::ModelSource::resolve(target, Path::new(""))?;
    let jpeg_same = match &study.jpeg {
        QualityChoice::MatchSsim => summary
            .jpeg
            .first()
            .is_some_and(|j| j.chosen_by.as_deref() == Some("match-ssim")),
        QualityChoice::Fixed(qs) => {
            let had: Vec<Option<u8>> = summary.jpeg.iter().map(|j| j.quality).collect();
            let want: Vec<Option<u8>> = qs.iter().map(|q| Some(q.get())).collect();
            had == want
        }
    };
    // An evaluation older than its checkpoint scored earlier weights (a run trained again).
    let newer = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = matches!((newer(&file), newer(&source.path)), (Some(a), Some(b)) if a >= b);
    let same = fresh
        && summary.checkpoint == source.path
        && summary.step == source.checkpoint.meta.step
        && summary.images == study.eval.images
        && summary.storage == exp.eval.storage
        && jpeg_same;
    Ok(same.then_some(summary))
}
