//! The `niclab` binary: exit statuses, one-line config errors, Ctrl-C.

mod common;

use std::path::Path;
use std::process::Command;

use niclab::train::checkpoint::Checkpoint;

fn niclab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_niclab"))
}

/// Runs niclab in `dir` and waits for it.
fn run_in(dir: &Path, args: &[&str]) -> std::process::Output {
    niclab().args(args).current_dir(dir).output().unwrap()
}

fn bad_config(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let out = run_in(dir.path(), &["train", "bad.toml"]);
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn bad_experiment_files_give_one_located_line_and_status_2() {
    let cases = [
        (
            "[model]\npairs = 3\ncolour = 1\n",
            "bad.toml:3:1: model.colour: unknown field `colour`",
        ),
        (
            "[train]\nlr = \"fast\"\n",
            "bad.toml:2:6: train.lr: invalid type: string \"fast\"",
        ),
        (
            "[loss]\nssim = 0.5\nperceptual = 0.0\nmse = 0.6\n",
            "bad.toml:1:2: loss: weights must add up to 1",
        ),
        (
            "[model]\n\npairs = 40\n",
            "bad.toml:3:1: model.pairs: 40 is out of range",
        ),
    ];
    for (text, expected) in cases {
        let (code, stderr) = bad_config(text);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"));
    }
}

#[test]
fn bad_override_names_the_override() {
    let out = niclab()
        .args([
            "config",
            "experiments/smoke.toml",
            "--set",
            "train.batch_size=0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("--set train.batch_size=0: train.batch_size: 0 is out of range"),
        "{stderr}"
    );
}

/// `niclab config` checks `train.init_from` as a run would: a missing checkpoint and one of
/// another model are errors naming the field and the file, before any training.
#[test]
fn config_checks_the_checkpoint_a_run_starts_from() {
    for (init, expected) in [
        ("no/such.ckpt", "cannot read checkpoint no/such.ckpt"),
        (
            "models/hyperprior3-mse-0.002/model.ckpt",
            "models/hyperprior3-mse-0.002/model.ckpt holds a different model (model.",
        ),
    ] {
        let out = niclab()
            .args(["config", "experiments/smoke.toml", "--set"])
            .arg(format!("train.init_from={init}"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{init}");
        assert!(out.stdout.is_empty(), "{init}: printed a config");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains("experiments/smoke.toml") && stderr.contains("train.init_from"),
            "{stderr}"
        );
        assert!(stderr.contains(expected), "{stderr}");
    }
}

/// A sigmoid model's weights may start a clamped or stretched one (`model.output`), not the
/// other way: a stretched model's checkpoint refused as the start of a sigmoid experiment,
/// naming the key.
#[test]
fn init_from_changes_a_sigmoid_output_and_only_that() {
    let config = |args: &[&str]| {
        niclab()
            .args(["config", "experiments/hyperprior9-mse-0.002.toml"])
            .args(args)
            .output()
            .unwrap()
    };
    for output in ["clamp", "stretched"] {
        let out = config(&["--set", &format!("model.output={output}")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{output}: {stderr}");
        let printed = String::from_utf8(out.stdout).unwrap();
        assert!(
            printed.contains(&format!("output = \"{output}\"")),
            "{printed}"
        );
    }
    let out = config(&[
        "--set",
        "train.init_from=models/hyperprior10-mse-0.002/model.ckpt",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "printed a config");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("hyperprior10-mse-0.002/model.ckpt holds a different model (model.output)"),
        "{stderr}"
    );
}

/// Every experiment file in `experiments/` parses, validates and is named after its file (a
/// shipped model's run takes that name). Study files (a `[set]` table) are a study's, not
/// `config`'s.
#[test]
fn shipped_experiments_are_valid_and_resolve() {
    let mut checked = Vec::new();
    for entry in std::fs::read_dir("experiments").unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if path.extension().is_none_or(|e| e != "toml") || text.contains("\n[set]") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let out = niclab()
            .args(["config", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(&format!("name = \"{name}\"")), "{text}");
        checked.push(name);
    }
    for name in [
        "smoke",
        "paper-depth-10",
        "hyperprior2-mse-0.002",
        "hyperprior2-ssim-0.4",
    ] {
        assert!(
            checked.iter().any(|c| c == name),
            "{name} not checked: {checked:?}"
        );
    }
}

#[test]
fn help_explains_the_commands() {
    let out = niclab().arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for word in ["train", "config", "data", "eval", "study"] {
        assert!(text.contains(word), "{text}");
    }
    let out = niclab().args(["train", "--help"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for word in ["--set", "--resume", "--overwrite", "Ctrl-C"] {
        assert!(text.contains(word), "{text}");
    }
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    // `niclab config ... | head -0`: the reader is gone before niclab prints.
    let mut child = niclab()
        .args(["config", "experiments/smoke.toml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.signal(),
        Some(13),
        "ended by SIGPIPE: {:?}",
        out.status
    );
}

#[test]
fn ctrl_c_saves_a_checkpoint_and_resume_finishes() {
    let dir = common::tiny_project(1_000_000);
    let out = common::interrupt_after_rows(
        niclab()
            .args([
                "train",
                "tiny.toml",
                "--set",
                "train.checkpoint_every=1000000",
            ])
            .current_dir(dir.path()),
        &dir.path().join("checkpoints/tiny/metrics.csv"),
        4,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("--resume"));

    let ck = Checkpoint::load(&dir.path().join("checkpoints/tiny/last.ckpt")).unwrap();
    let step = ck.meta.step;
    assert!((4..1_000_000).contains(&step), "saved at step {step}");
    let steps = format!("train.steps={}", step + 3);
    let out = run_in(
        dir.path(),
        &["train", "tiny.toml", "--resume", "--set", &steps],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ck = Checkpoint::load(&dir.path().join("checkpoints/tiny/last.ckpt")).unwrap();
    assert_eq!(ck.meta.step, step + 3);
}

#[test]
fn nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let dir = common::tiny_project(20);
    let out = niclab()
        .args(["train", "tiny.toml"])
        .env(niclab::train::FAULT_NAN_ENV, "8")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("training loss became NaN at step 8")
            && stderr.contains("last.ckpt, step 6) is kept"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // checkpoint_every = 3: the step-6 checkpoint is there and loads.
    let ck = Checkpoint::load(&dir.path().join("checkpoints/tiny/last.ckpt")).unwrap();
    assert_eq!(ck.meta.step, 6);
    let best = Checkpoint::load(&dir.path().join("checkpoints/tiny/best.ckpt")).unwrap();
    assert_eq!(best.meta.step, 4, "val_every = 4");
}

/// `niclab train` flushes subnormal floats to zero on x86-64 (src/subnormals.rs) and says so
/// in its header; `--keep-subnormals` keeps IEEE arithmetic, and the tiny run learns the same.
#[test]
fn training_flushes_subnormals_unless_asked_to_keep_them() {
    let dir = common::tiny_project(4);
    let losses = |dir: &Path| -> Vec<f64> {
        let text = std::fs::read_to_string(dir.join("checkpoints/tiny/metrics.csv")).unwrap();
        text.lines()
            .skip(1)
            .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
            .collect()
    };
    let out = run_in(dir.path(), &["train", "tiny.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let says = stderr.contains("subnormals flushed to zero");
    assert_eq!(says, cfg!(target_arch = "x86_64"), "{stderr}");
    let flushed = losses(dir.path());

    let out = run_in(
        dir.path(),
        &["train", "tiny.toml", "--keep-subnormals", "--overwrite"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("subnormals flushed"), "{stderr}");
    let kept = losses(dir.path());
    assert_eq!(flushed.len(), 4);
    for (f, k) in flushed.iter().zip(&kept) {
        assert!((f - k).abs() <= 1e-6 * k.abs(), "{flushed:?} vs {kept:?}");
    }
}

#[test]
fn corrupt_training_images_are_reported_or_fatal_with_strict() {
    let dir = common::tiny_project(2);
    std::fs::write(
        dir.path().join("photos/broken.jpg"),
        b"\xff\xd8\xff\xe0 not a jpeg",
    )
    .unwrap();

    let out = run_in(dir.path(), &["train", "tiny.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: left out") && stderr.contains("broken.jpg"),
        "{stderr}"
    );
    assert!(stderr.contains("8 images loaded, 1 left out"), "{stderr}");

    let out = run_in(
        dir.path(),
        &["train", "tiny.toml", "--strict", "--overwrite"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("broken.jpg") && stderr.contains("strict"),
        "{stderr}"
    );
}

#[test]
fn niclab_try_refuses_what_is_not_an_image_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.png"), "not a picture").unwrap();
    for (input, says) in [("notes.png", "notes.png"), ("missing.png", "missing.png")] {
        let (code, _, err) = common::niclab(&["try", input, "--out", "trial"], dir.path());
        assert_eq!(code, 1, "{input}: {err}");
        assert!(err.contains(says), "{input}: {err}");
        assert!(
            !dir.path().join("trial").exists(),
            "{input}: a folder was left"
        );
    }
}
