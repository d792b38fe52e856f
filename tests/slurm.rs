//! `niclab study --slurm` against a real Slurm (tests/common/slurm.rs): a two-member sweep
//! submitted as a job array ends as the same study run locally, a member requeued in the
//! middle of training resumes from its checkpoint to the same weights, and a cancelled one
//! keeps its checkpoint and stays cancelled.

mod common;

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::slurm::Slurm;

const NICLAB: &str = env!("CARGO_BIN_EXE_niclab");

/// One cluster at a time: both tests would fight over the two cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// A tiny study over `exps/tiny.toml` (`steps` steps), swept over `sweep` (TOML lines of
/// `[sweep]`), evaluated on six synthetic 32x32 images.
fn study(steps: u64, sweep: &str) -> tempfile::TempDir {
    let dir = common::tiny_project(steps);
    std::fs::create_dir_all(dir.path().join("exps")).unwrap();
    std::fs::rename(
        dir.path().join("tiny.toml"),
        dir.path().join("exps/tiny.toml"),
    )
    .unwrap();
    common::write_photos(&dir.path().join("test"), 6, 32, 32);
    std::fs::write(
        dir.path().join("s.toml"),
        format!(
            "name = \"s\"\nexperiments = [\"exps/tiny.toml\"]\n\n[set]\ntrain.val_every = 5\n\
             train.checkpoint_every = 1000000\n\n[sweep]\n{sweep}\n[eval]\nimages = \"test\"\n"
        ),
    )
    .unwrap();
    dir
}

/// Submits `dir`'s study (CPU only); returns the array's and the report's job ids.
fn submit(slurm: &Slurm, dir: &Path) -> (String, String) {
    let out = common::succeed(
        slurm
            .command(NICLAB)
            .args([
                "study",
                "s.toml",
                "--slurm",
                "--submit",
                "--gpus-per-task",
                "0",
            ])
            .args(["--cpus-per-task", "1", "--time", "30:00"])
            .current_dir(dir),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ids: Vec<String> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("submitted: job array "))
        .unwrap_or_else(|| panic!("{stdout}"))
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    (ids[0].clone(), ids[1].clone())
}

/// The report's main table (the rows with 14 columns) without its timing columns (s/img of
/// the model and of JPEG).
fn table_without_times(dir: &Path) -> Vec<Vec<String>> {
    let report = std::fs::read_to_string(dir.join("runs/s/report.md")).unwrap();
    report
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| pairs"))
        .map(|l| {
            l.split('|')
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells.len() == 16)
        .map(|cells| {
            cells
                .iter()
                .enumerate()
                .filter(|(i, _)| ![8, 14].contains(i))
                .map(|(_, c)| c.clone())
                .collect()
        })
        .collect()
}

fn list(slurm: &Slurm, dir: &Path) -> String {
    let out = common::succeed(
        slurm
            .command(NICLAB)
            .args(["study", "s.toml", "--list"])
            .current_dir(dir),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_sweep_submitted_to_slurm_reports_as_the_same_study_run_locally() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sweep = "\"model.pairs\" = [2, 3]\n";
    let local = study(20, sweep);
    common::succeed(
        std::process::Command::new(NICLAB)
            .args(["study", "s.toml"])
            .current_dir(local.path()),
    );

    let slurm = Slurm::start();
    let remote = study(20, sweep);
    let before = list(&slurm, remote.path());
    assert_eq!(
        before,
        "index\tname\tstate\n0\ttiny_pairs-2\tnot started\n1\ttiny_pairs-3\tnot started\n"
    );
    let t = Instant::now();
    let (array, report) = submit(&slurm, remote.path());
    slurm.wait_jobs(&[&array, &report], Duration::from_secs(600));
    eprintln!(
        "two members and the report on Slurm: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(
        slurm.job_state(&report),
        "COMPLETED 0:0",
        "{}",
        slurm.logs()
    );
    for i in 0..2 {
        let log = remote
            .path()
            .join(format!("runs/s/slurm/logs/member-{i}.log"));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains(&format!("member {i} done")), "{text}");
    }
    assert_eq!(
        list(&slurm, remote.path()),
        "index\tname\tstate\n0\ttiny_pairs-2\tevaluated (step 20)\n1\ttiny_pairs-3\tevaluated (step 20)\n"
    );

    for member in ["tiny_pairs-2", "tiny_pairs-3"] {
        let file = format!("checkpoints/s/{member}/last.ckpt");
        assert!(
            common::weights(&remote.path().join(&file))
                == common::weights(&local.path().join(&file)),
            "{member}: trained on Slurm to other weights than locally"
        );
    }
    let (a, b) = (
        table_without_times(local.path()),
        table_without_times(remote.path()),
    );
    assert_eq!(a.len(), 3, "two members and the paper's 3-pair row: {a:?}");
    assert_eq!(a, b, "the Slurm study's report differs from the local one");
    assert!(
        a[0][2] == "tiny_pairs-2" && a[1][2] == "tiny_pairs-3",
        "{a:?}"
    );
}

/// Rows of a CSV log so far.
fn rows(log: &Path) -> usize {
    std::fs::read_to_string(log).map_or(0, |t| t.lines().count().saturating_sub(1))
}

/// Waits up to 300 s until `done`; `what` names it in the failure, with the daemons' logs.
fn wait_until(slurm: &Slurm, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen\n{}",
            slurm.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `text` occurs `n` times in the file `log`.
fn wait_text(slurm: &Slurm, log: &Path, text: &str, n: usize) {
    let said = || std::fs::read_to_string(log).map_or(0, |t| t.matches(text).count());
    let what = format!("{} saying `{text}` {n} times", log.display());
    wait_until(slurm, &what, || said() >= n);
}

fn wait_rows(slurm: &Slurm, log: &Path, n: usize) {
    let what = format!("{} reaching {n} rows", log.display());
    wait_until(slurm, &what, || rows(log) >= n);
}

#[test]
fn a_requeued_member_resumes_from_its_checkpoint_to_the_same_weights() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const STEPS: u64 = 3000;
    let sweep = "\"train.seed\" = [11]\n";
    let reference = study(STEPS, sweep);
    common::succeed(
        std::process::Command::new(NICLAB)
            .args(["study", "s.toml", "--member", "0"])
            .current_dir(reference.path()),
    );

    let slurm = Slurm::start();
    let dir = study(STEPS, sweep);
    let (array, report) = submit(&slurm, dir.path());
    let metrics = dir.path().join("checkpoints/s/tiny_seed-11/metrics.csv");
    let task = format!("{array}_0");
    let log = dir.path().join("runs/s/slurm/logs/member-0.log");
    // Each interruption waits for the previous restart to be training again: the tiny model
    // runs hundreds of steps a second, faster than a signal travels through Slurm.
    let training_again = |restarts: usize| {
        wait_text(&slurm, &log, "resuming", restarts);
        let now = rows(&metrics);
        wait_rows(&slurm, &metrics, now + 5);
    };
    // Slurm requeues (SIGTERM: the member checkpoints, Slurm starts it again) ...
    wait_rows(&slurm, &metrics, 5);
    slurm.run("scontrol", &["requeue", &task]);
    training_again(1);
    // ... the member requeues itself on the time-limit warning (USR1 to the batch step) ...
    slurm.run("scancel", &["--signal=USR1", "--batch", &task]);
    training_again(2);
    // ... and on SIGTERM while Slurm still counts it as running (a preemption's grace time).
    slurm.run("scancel", &["--signal=TERM", "--batch", &task]);
    slurm.wait_jobs(&[&array, &report], Duration::from_secs(600));
    assert_eq!(
        slurm.job_state(&report),
        "COMPLETED 0:0",
        "{}",
        slurm.logs()
    );

    let log = std::fs::read_to_string(dir.path().join("runs/s/slurm/logs/member-0.log")).unwrap();
    let resumed: Vec<u64> = log
        .lines()
        .filter_map(|l| l.split(" at step ").nth(1)?.trim().parse().ok())
        .collect();
    assert_eq!(resumed.len(), 3, "three restarts from a checkpoint:\n{log}");
    assert!(
        resumed[0] > 0 && resumed.windows(2).all(|w| w[0] < w[1]) && resumed[2] < STEPS,
        "resumed at {resumed:?}\n{log}"
    );
    // Slurm requeued the first time; the member itself the second and third.
    assert_eq!(log.matches("not requeued").count(), 1, "{log}");
    assert_eq!(log.matches("requeued Slurm job").count(), 2, "{log}");
    assert!(log.contains("member 0 done"), "{log}");
    let file = "checkpoints/s/tiny_seed-11/last.ckpt";
    assert!(
        common::weights(&dir.path().join(file)) == common::weights(&reference.path().join(file)),
        "the requeued member ended with other weights than an uninterrupted run"
    );
}

#[test]
fn a_cancelled_member_keeps_its_checkpoint_and_stays_cancelled() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let slurm = Slurm::start();
    let dir = study(3000, "\"train.seed\" = [11]\n");
    let (array, _report) = submit(&slurm, dir.path());
    let metrics = dir.path().join("checkpoints/s/tiny_seed-11/metrics.csv");
    wait_rows(&slurm, &metrics, 5);
    slurm.run("scancel", &[&array]);
    // Gone from the queue, not pending again: a requeued task would stay listed.
    slurm.wait_jobs(&[&array], Duration::from_secs(60));
    let log = std::fs::read_to_string(dir.path().join("runs/s/slurm/logs/member-0.log")).unwrap();
    assert!(log.contains("checkpoint saved"), "{log}");
    assert!(
        log.contains("Slurm is ending this task (") && log.contains("not requeued"),
        "{log}"
    );
    assert!(!log.contains("requeued Slurm job"), "{log}");
    let listed = list(&slurm, dir.path());
    assert!(
        listed.contains("0\ttiny_seed-11\tinterrupted at step "),
        "{listed}"
    );
}
