//! A study on a Slurm cluster: an `sbatch` job array with one task per member, each running
//! `niclab study FILE --member $SLURM_ARRAY_TASK_ID`, and a report job that waits for all of
//! them (`--dependency=afterok`). Slurm schedules; niclab only writes the scripts and, when
//! asked, hands them to `sbatch`.
//!
//! Preemption and time limits: a member saves its checkpoint on SIGTERM (what Slurm sends
//! when it preempts, requeues, cancels or times out a job), and on the `--signal` warning
//! before the time limit it also requeues its own task (`scontrol requeue`), so the task
//! continues where it stopped. After SIGTERM it requeues itself only while Slurm still counts
//! the task as running ([`after_stop`]): `scancel` sends SIGTERM too, and a cancelled task
//! must stay cancelled.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use anyhow::{Context, Result, bail};

use super::{Study, StudyOptions};
use crate::train::checkpoint::write_atomic;

/// A signal Slurm sends ahead of the time limit (`--signal=B:NAME@SECONDS`), on which a
/// member checkpoints and requeues itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarningSignal {
    /// `USR1` or `USR2`.
    pub name: RequeueSignal,
    /// Seconds before the time limit.
    pub seconds: u32,
}

/// The signals a member may requeue itself on: not TERM (`scancel` sends it) nor INT (Ctrl-C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequeueSignal {
    /// SIGUSR1.
    Usr1,
    /// SIGUSR2.
    Usr2,
}

impl RequeueSignal {
    /// The signal's number.
    pub fn number(self) -> i32 {
        match self {
            Self::Usr1 => libc::SIGUSR1,
            Self::Usr2 => libc::SIGUSR2,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Usr1 => "USR1",
            Self::Usr2 => "USR2",
        }
    }
}

impl FromStr for RequeueSignal {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim_start_matches("SIG") {
            "USR1" => Ok(Self::Usr1),
            "USR2" => Ok(Self::Usr2),
            other => Err(format!(
                "`{other}` cannot be the requeue signal: use USR1 or USR2 (TERM already saves \
                 a checkpoint, but scancel sends it too, so it never requeues)"
            )),
        }
    }
}

impl std::fmt::Display for RequeueSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WarningSignal {
    type Err = String;
    /// `USR1@120`, as sbatch's `--signal` without its `B:`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim_start_matches("B:");
        let (name, secs) = s.split_once('@').unwrap_or((s, "120"));
        let seconds = secs
            .parse::<u32>()
            .ok()
            .filter(|&t| t <= 65535)
            .ok_or_else(|| format!("`{secs}` is not a number of seconds (0 to 65535)"))?;
        Ok(Self {
            name: name.parse()?,
            seconds,
        })
    }
}

/// What the job scripts ask Slurm for.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// `--time` per task, e.g. `4:00:00`.
    pub time: Option<String>,
    /// GPUs per task; with any, members train on `cuda:0` of their allocation (libtorch).
    pub gpus_per_task: u32,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<u32>,
    /// `--mem`, e.g. `32G`.
    pub mem: Option<String>,
    /// At most this many tasks at once (`--array=0-N%K`).
    pub max_parallel: Option<usize>,
    /// The warning before the time limit.
    pub signal: WarningSignal,
    /// More `#SBATCH` options, as given (`--qos=high`).
    pub extra: Vec<String>,
}

/// The scripts written for a study.
#[derive(Debug, Clone)]
pub struct Scripts {
    /// The job array.
    pub array: PathBuf,
    /// The report job.
    pub report: PathBuf,
    /// Per-member logs (`member-<index>.log`) and the report's.
    pub logs: PathBuf,
}

/// Quotes `s` for bash.
fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Writes `RUNS/<study>/slurm/{array.sbatch,report.sbatch}`. `file` is the study file,
/// `overrides` the command line's `--set` items (passed on to every task). The tasks run
/// where this command ran (`--chdir`), which on a cluster must be a file system the nodes
/// share, with niclab's executable at the same absolute path.
pub fn write_scripts(
    study: &Study,
    file: &Path,
    overrides: &[String],
    opts: &StudyOptions,
    slurm: &SlurmOptions,
) -> Result<Scripts> {
    let n = study.experiments.len();
    let dir = opts.runs_of(study).join("slurm");
    let dir = std::path::absolute(&dir)
        .with_context(|| format!("cannot make {} absolute", dir.display()))?;
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let exe = std::env::current_exe().context("cannot find the niclab executable")?;

    let mut common = String::new();
    let mut sb = |k: &str, v: &str| {
        let _ = writeln!(common, "#SBATCH --{k}={}", quote(v));
    };
    sb("chdir", &cwd.to_string_lossy());
    if let Some(p) = &slurm.partition {
        sb("partition", p);
    }
    if let Some(a) = &slurm.account {
        sb("account", a);
    }
    if let Some(t) = &slurm.time {
        sb("time", t);
    }
    for e in &slurm.extra {
        let _ = writeln!(common, "#SBATCH {}", quote(e));
    }

    // The member's arguments, the same for the tasks and the report job, and as given: the
    // tasks run in this folder (--chdir), and relative paths keep the evaluations' records
    // the same as those a local `niclab study` makes and checks.
    let mut args = vec![
        "study".to_string(),
        file.to_string_lossy().into_owned(),
        "--checkpoints".into(),
        opts.checkpoints.to_string_lossy().into_owned(),
        "--runs".into(),
        opts.runs.to_string_lossy().into_owned(),
    ];
    if opts.retrain {
        args.push("--retrain".into());
    }
    let mut sets: Vec<String> = overrides.to_vec();
    if slurm.gpus_per_task > 0 {
        // Inside its allocation a task sees its own GPUs, numbered from 0.
        sets.extend([
            "train.backend=libtorch".into(),
            "train.device=cuda:0".into(),
        ]);
    }
    for s in &sets {
        args.extend(["--set".into(), s.clone()]);
    }
    let args: Vec<String> = args.iter().map(|a| quote(a)).collect();
    let exe = quote(&exe.to_string_lossy());
    let file_name = file.display();

    let mut array = format!(
        "#!/bin/bash\n\
         # niclab study {file_name}: one array task per member ({n}; `niclab study FILE --list`\n\
         # shows them with their indices). Written by `niclab study FILE --slurm`; submit it\n\
         # with `sbatch`, then report.sbatch with --dependency=afterok:<this job's id>.\n\
         #SBATCH --job-name={}\n",
        quote(&format!("niclab-{}", study.name))
    );
    let k = slurm
        .max_parallel
        .map_or(String::new(), |k| format!("%{k}"));
    let _ = writeln!(array, "#SBATCH --array=0-{}{k}", n.saturating_sub(1));
    array.push_str("#SBATCH --ntasks=1\n");
    if slurm.gpus_per_task > 0 {
        let _ = writeln!(array, "#SBATCH --gpus-per-task={}", slurm.gpus_per_task);
    }
    if let Some(c) = slurm.cpus_per_task {
        let _ = writeln!(array, "#SBATCH --cpus-per-task={c}");
    }
    if let Some(m) = &slurm.mem {
        let _ = writeln!(array, "#SBATCH --mem={}", quote(m));
    }
    array.push_str(&common);
    let _ = writeln!(
        array,
        "#SBATCH --output={}\n\
         #SBATCH --open-mode=append\n\
         #SBATCH --requeue\n\
         #SBATCH --signal=B:{}@{}\n\
         # niclab replaces the shell, so that Slurm's signals reach it: on TERM it saves a\n\
         # checkpoint; on {} it also requeues this task, which then resumes.\n\
         exec {exe} --progress none {} --member \"$SLURM_ARRAY_TASK_ID\" --requeue-on {}",
        quote(&logs.join("member-%a.log").to_string_lossy()),
        slurm.signal.name,
        slurm.signal.seconds,
        slurm.signal.name,
        args.join(" "),
        slurm.signal.name,
    );

    let mut report = format!(
        "#!/bin/bash\n\
         # niclab study {file_name}: the report, once every member's task has ended well\n\
         # (submitted with --dependency=afterok:<the array job>).\n\
         #SBATCH --job-name={}\n\
         #SBATCH --ntasks=1\n",
        quote(&format!("niclab-{}-report", study.name))
    );
    report.push_str(&common);
    let _ = writeln!(
        report,
        "#SBATCH --output={}\n\
         exec {exe} --progress none {} --report",
        quote(&logs.join("report.log").to_string_lossy()),
        args.join(" "),
    );

    let scripts = Scripts {
        array: dir.join("array.sbatch"),
        report: dir.join("report.sbatch"),
        logs,
    };
    write_atomic(&scripts.array, array.as_bytes())?;
    write_atomic(&scripts.report, report.as_bytes())?;
    Ok(scripts)
}

/// Submits the array, then the report job depending on it; returns both job ids.
pub fn submit(scripts: &Scripts) -> Result<(String, String)> {
    let array = sbatch(&[], &scripts.array)?;
    let report = sbatch(&[format!("--dependency=afterok:{array}")], &scripts.report)?;
    Ok((array, report))
}

fn sbatch(extra: &[String], script: &Path) -> Result<String> {
    let script = script.to_string_lossy();
    let mut args = vec!["--parsable"];
    args.extend(extra.iter().map(String::as_str));
    args.push(&script);
    let text = slurm_tool("sbatch", &args)?;
    // `--parsable` prints `id` or `id;cluster`.
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch {script} printed no job id: {text}");
    }
    Ok(id)
}

/// What a member stopped inside a Slurm task does about its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterStop {
    /// It asked Slurm to requeue the task (job id).
    Requeued(String),
    /// Slurm is already ending the task (its state then, e.g. `COMPLETING`): requeued,
    /// cancelled or timed out by Slurm, it is left as Slurm decided.
    LeftToSlurm(String),
}

/// After a member inside a Slurm task stopped with its checkpoint saved: on the warning
/// signal (`warned`) it requeues its task. On SIGTERM it requeues only while Slurm still
/// counts the task as running (a preemption's grace time, `scancel --signal=TERM`); a task
/// Slurm is already ending (`scancel`, `scontrol requeue`, preemption with requeue, the time
/// limit) is left as Slurm decided, so a cancelled task stays cancelled.
pub fn after_stop(warned: bool) -> Result<AfterStop> {
    let id = std::env::var("SLURM_JOB_ID")
        .context("--requeue-on: SLURM_JOB_ID is not set (not inside a Slurm job)")?;
    if !warned {
        let state = job_state(&id)?;
        if state != "RUNNING" {
            return Ok(AfterStop::LeftToSlurm(state));
        }
    }
    requeue(&id)?;
    Ok(AfterStop::Requeued(id))
}

/// A job's state as slurmctld has it now (`RUNNING`, `CANCELLED`, ...).
fn job_state(id: &str) -> Result<String> {
    let text = slurm_tool("scontrol", &["show", "job", id, "--oneliner"])?;
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("JobState="))
        .map(str::to_string)
        .with_context(|| format!("scontrol show job {id} gave no JobState: {text}"))
}

/// Inside a Slurm task, asks Slurm to requeue it (`scontrol requeue $SLURM_JOB_ID`); the task
/// then starts again and resumes from the checkpoint just saved.
fn requeue(id: &str) -> Result<()> {
    slurm_tool("scontrol", &["requeue", id]).map(drop)
}

/// Runs a Slurm client command; its stdout, or an error with its stderr.
fn slurm_tool(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program).args(args).output().with_context(|| {
        format!("cannot run {program}: is Slurm's client (slurm-client) installed and on PATH?")
    })?;
    if !out.status.success() {
        bail!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_signal_reads_as_sbatch_writes_it() {
        assert_eq!(
            "B:USR2@300".parse::<WarningSignal>().unwrap(),
            WarningSignal {
                name: RequeueSignal::Usr2,
                seconds: 300
            }
        );
        assert_eq!("SIGUSR1".parse::<WarningSignal>().unwrap().seconds, 120);
        assert!(
            "TERM@60"
                .parse::<WarningSignal>()
                .unwrap_err()
                .contains("scancel")
        );
        assert!("USR1@soon".parse::<WarningSignal>().is_err());
    }

    #[test]
    fn arguments_are_quoted_for_bash() {
        assert_eq!(quote("/a/b-c.toml"), "/a/b-c.toml");
        assert_eq!(quote("train.lr=3e-4"), "train.lr=3e-4");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$HOME"), "'$HOME'");
        assert_eq!(quote(""), "''");
    }
}
