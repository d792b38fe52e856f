//! A `niclab serve` started over a run tree the test makes, and plain HTTP requests to it
//! (for tests/serve.rs and tests/browser.rs).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running server, stopped when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(root: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_niclab"))
        .args(["serve", "--port", "0", "--checkpoints", "checkpoints"])
        .args(extra)
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "niclab serve: http://127.0.0.1:PORT/[?token=...]  (Ctrl-C stops it)"
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .replace("0.0.0.0", "127.0.0.1");
    Server { child, addr, url }
}

/// A tree with a trained run `tiny` and its evaluation against JPEG (3 images), a study
/// member `s/member`, an unreadable run `broken` and a link `out` to a run folder outside
/// the root.
pub fn tree() -> (tempfile::TempDir, tempfile::TempDir) {
    let dir = super::tiny_project(5);
    let root = dir.path();
    let (code, _, err) = super::niclab(&["train", "tiny.toml"], root);
    assert_eq!(code, 0, "{err}");
    super::write_photos(&root.join("test"), 3, 32, 32);
    let (code, _, err) = super::niclab(
        &[
            "eval",
            "checkpoints/tiny/best.ckpt",
            "--images",
            "test",
            "--jpeg-quality",
            "50",
            "--out",
            "runs/tiny/eval",
        ],
        root,
    );
    assert_eq!(code, 0, "{err}");
    let ck = root.join("checkpoints");
    std::fs::create_dir_all(ck.join("s/member")).unwrap();
    for f in ["config.toml", "metrics.csv", "validation.csv"] {
        std::fs::copy(ck.join("tiny").join(f), ck.join("s/member").join(f)).unwrap();
    }
    std::fs::create_dir_all(ck.join("broken")).unwrap();
    std::fs::write(ck.join("broken/config.toml"), "[model\npairs = ").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::copy(
        ck.join("tiny/config.toml"),
        outside.path().join("config.toml"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), ck.join("out")).unwrap();
    (dir, outside)
}

/// Adds a study `st` of one tiny 3-pair model to a [`tree`] and runs it: its report lands in
/// `runs/st/` (summary, plots, strips), its member in `checkpoints/st/a`.
pub fn add_study(root: &Path) {
    let a = std::fs::read_to_string(root.join("tiny.toml"))
        .unwrap()
        .replace("name = \"tiny\"", "name = \"a\"")
        .replace("pairs = 2", "pairs = 3");
    std::fs::create_dir_all(root.join("exps")).unwrap();
    std::fs::write(root.join("exps/a.toml"), a).unwrap();
    std::fs::write(
        root.join("st.toml"),
        "name = \"st\"\ndescription = \"one tiny model\"\nexperiments = [\"exps/a.toml\"]\n\n[eval]\nimages = \"test\"\n",
    )
    .unwrap();
    let (code, _, err) = super::niclab(&["study", "st.toml"], root);
    assert_eq!(code, 0, "{err}");
}

/// Writes `experiments/long.toml`: the tiny experiment as run `long`, `steps` long,
/// checkpointing every `every` steps (a job for the page to start and stop).
pub fn long_experiment(root: &Path, steps: u64, every: u64) {
    std::fs::create_dir_all(root.join("experiments")).unwrap();
    let toml = std::fs::read_to_string(root.join("tiny.toml"))
        .unwrap()
        .replace("name = \"tiny\"", "name = \"long\"")
        .replace("steps = 5", &format!("steps = {steps}"))
        .replace(
            "checkpoint_every = 3",
            &format!("checkpoint_every = {every}"),
        );
    std::fs::write(root.join("experiments/long.toml"), toml).unwrap();
}

/// Waits until run `run` has logged `lines` lines of `metrics.csv` (it is training).
pub fn wait_logged(root: &Path, run: &str, lines: usize) {
    let metrics = root.join("checkpoints").join(run).join("metrics.csv");
    let t = std::time::Instant::now();
    while std::fs::read_to_string(&metrics).map_or(0, |m| m.lines().count()) < lines {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(60),
            "{run} did not start training"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
