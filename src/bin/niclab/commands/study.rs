//! `niclab study`: several experiments (or a sweep's members) trained, evaluated and
//! reported; one member at a time, its members' states, and Slurm job arrays.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::Result;
use niclab::study::slurm::{RequeueSignal, SlurmOptions, WarningSignal};
use niclab::study::{Study, StudyOptions};

use super::{EXIT_INTERRUPTED, interrupt_flag, requeue_flag};

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("mode").args(["list", "member", "report", "slurm"]))]
pub struct Args {
    /// The study file (.toml) or a folder of experiment files.
    pub file: PathBuf,
    /// Override a field of every experiment, after the study's own (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Folder of run folders.
    #[arg(long, default_value = "checkpoints")]
    pub checkpoints: PathBuf,
    /// Folder of TensorBoard run folders.
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Train every experiment, also those shipped trained in the model zoo (models/), which
    /// are otherwise evaluated from the shipped weights.
    #[arg(long)]
    pub retrain: bool,
    /// Print the members (index, name, state) and do nothing else.
    #[arg(long)]
    pub list: bool,
    /// Train and evaluate this member only (its index from --list, or its name). Safe to
    /// repeat: a finished member is kept, an interrupted one resumes, one running elsewhere is
    /// refused.
    #[arg(long, value_name = "N|NAME")]
    pub member: Option<String>,
    /// Write the report from the members evaluated so far, naming those still missing.
    #[arg(long)]
    pub report: bool,
    /// Write a Slurm job array (one task per member) and a report job that waits for it,
    /// into RUNS/<study>/slurm/; with --submit, hand them to sbatch.
    #[arg(long)]
    pub slurm: bool,
    /// With --slurm: submit the array and the report job (sbatch).
    #[arg(long, requires = "slurm")]
    pub submit: bool,
    /// With --slurm: the partition.
    #[arg(long, requires = "slurm")]
    pub partition: Option<String>,
    /// With --slurm: the account to charge.
    #[arg(long, requires = "slurm")]
    pub account: Option<String>,
    /// With --slurm: each task's time limit, e.g. 4:00:00.
    #[arg(long, requires = "slurm")]
    pub time: Option<String>,
    /// With --slurm: GPUs per task; members then train on cuda:0 of their allocation with
    /// libtorch. 0 for CPU-only tasks.
    #[arg(long, requires = "slurm", default_value_t = 1)]
    pub gpus_per_task: u32,
    /// With --slurm: CPUs per task.
    #[arg(long, requires = "slurm")]
    pub cpus_per_task: Option<u32>,
    /// With --slurm: memory per task, e.g. 32G.
    #[arg(long, requires = "slurm")]
    pub mem: Option<String>,
    /// With --slurm: at most this many tasks at once (--array=0-N%K).
    #[arg(long, requires = "slurm", value_name = "K")]
    pub max_parallel: Option<usize>,
    /// With --slurm: the signal Slurm sends SECONDS before the time limit, on which a member
    /// saves a checkpoint and requeues its task (USR1 or USR2).
    #[arg(
        long,
        requires = "slurm",
        default_value = "USR1@120",
        value_name = "SIG@SECONDS"
    )]
    pub signal: WarningSignal,
    /// With --slurm: another #SBATCH option for both jobs, e.g. --sbatch=--qos=high
    /// (repeatable).
    #[arg(
        long = "sbatch",
        requires = "slurm",
        value_name = "OPTION",
        allow_hyphen_values = true
    )]
    pub sbatch: Vec<String>,
    /// With --member, inside a Slurm task: when this signal stops the member, save its
    /// checkpoint and requeue the task (scontrol requeue $SLURM_JOB_ID); after SIGTERM, requeue
    /// it only while Slurm still counts it as running (not after scancel). The job scripts of
    /// --slurm pass it.
    #[arg(long, requires = "member", value_name = "USR1|USR2")]
    pub requeue_on: Option<RequeueSignal>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    // It trains: flushed before any worker thread exists, so that they all inherit it.
    niclab::subnormals::flush_to_zero();
    let study = Study::load(&args.file, &args.overrides)?;
    let opts = StudyOptions {
        checkpoints: args.checkpoints.clone(),
        runs: args.runs.clone(),
        retrain: args.retrain,
    };
    if args.list {
        return list(&study, &opts);
    }
    if args.report {
        return report(&study, &opts);
    }
    if args.slurm {
        return slurm(&args, &study, &opts);
    }
    if let Some(which) = &args.member {
        return member(&study, &opts, which, args.requeue_on);
    }
    let interrupt = interrupt_flag()?;
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
    Ok(ExitCode::SUCCESS)
}

fn list(study: &Study, opts: &StudyOptions) -> Result<ExitCode> {
    println!("index\tname\tstate");
    for (i, exp) in study.experiments.iter().enumerate() {
        let state = niclab::study::state(study, i, opts)?;
        println!("{i}\t{}\t{state}", exp.name());
    }
    Ok(ExitCode::SUCCESS)
}

fn member(
    study: &Study,
    opts: &StudyOptions,
    which: &str,
    requeue_on: Option<RequeueSignal>,
) -> Result<ExitCode> {
    let i = study.member(which)?;
    let interrupt = interrupt_flag()?;
    let requeue = requeue_on
        .map(|s| requeue_flag(s, &interrupt))
        .transpose()?;
    let name = study.experiments[i].name();
    match niclab::study::run_member(study, i, opts, &interrupt)? {
        Some(stage) => {
            let a = &stage.eval.autoencoder;
            println!(
                "{name}: member {i} done, step {}: PSNR {:.2} dB, SSIM {:.4} ({})",
                stage.step,
                a.psnr,
                a.ssim,
                stage.eval_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        None => {
            println!("{name}: member {i} stopped, checkpoint saved; --member {i} continues it");
            if let Some(warned) = requeue {
                use niclab::study::slurm::{AfterStop, after_stop};
                match after_stop(warned.load(Ordering::SeqCst))? {
                    AfterStop::Requeued(job) => println!("{name}: requeued Slurm job {job}"),
                    AfterStop::LeftToSlurm(state) => {
                        println!("{name}: Slurm is ending this task ({state}); not requeued")
                    }
                }
            }
            Ok(ExitCode::from(EXIT_INTERRUPTED))
        }
    }
}

fn report(study: &Study, opts: &StudyOptions) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let (stages, missing) = niclab::study::gather(study, opts)?;
    if stages.is_empty() {
        anyhow::bail!(
            "study {}: no member is evaluated yet, so there is nothing to report \
             (niclab study FILE --list)",
            study.name
        );
    }
    let (path, summary) = niclab::study::report::write(
        study,
        &stages,
        &missing,
        &opts.runs_of(study),
        started.elapsed().as_secs_f64(),
    )?;
    print!("{}", niclab::study::report::table(&summary));
    for (name, state) in &missing {
        eprintln!("missing from the report: {name} ({state})");
    }
    println!(
        "report: {} ({} of {} members)",
        path.display(),
        stages.len(),
        study.experiments.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn slurm(args: &Args, study: &Study, opts: &StudyOptions) -> Result<ExitCode> {
    let sopts = SlurmOptions {
        partition: args.partition.clone(),
        account: args.account.clone(),
        time: args.time.clone(),
        gpus_per_task: args.gpus_per_task,
        cpus_per_task: args.cpus_per_task,
        mem: args.mem.clone(),
        max_parallel: args.max_parallel,
        signal: args.signal,
        extra: args.sbatch.clone(),
    };
    let scripts =
        niclab::study::slurm::write_scripts(study, &args.file, &args.overrides, opts, &sopts)?;
    println!(
        "{}: {} members, one array task each\n  job array:  {}\n  report job: {}\n  logs:       {}",
        study.name,
        study.experiments.len(),
        scripts.array.display(),
        scripts.report.display(),
        scripts.logs.display()
    );
    if args.submit {
        let (array, report) = niclab::study::slurm::submit(&scripts)?;
        println!(
            "submitted: job array {array}, report job {report} (after every task ends well)\n  \
             squeue -j {array},{report}; niclab study {} --list",
            args.file.display()
        );
    } else {
        println!(
            "submit with: id=$(sbatch --parsable {}) && sbatch --dependency=afterok:$id {}\n  \
             (or add --submit)",
            scripts.array.display(),
            scripts.report.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
