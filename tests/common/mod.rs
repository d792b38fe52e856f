//! Helpers shared by the integration tests: small made-up photos and experiments.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

pub mod codec;
pub mod http;
pub mod server;
pub mod slurm;
pub mod webdriver;

/// The four real 128x128 test crops of tests/fixtures/quality (not their JPEG versions),
/// sorted by name.
pub fn quality_crops() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir("tests/fixtures/quality")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .filter(|p| !p.file_stem().unwrap().to_string_lossy().contains("_q"))
        .collect();
    v.sort();
    assert_eq!(v.len(), 4);
    v
}

/// A photo-like image: smooth colour gradients, a few edges and deterministic noise.
pub fn synthetic_photo(w: u32, h: u32, seed: u32) -> RgbImage {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    RgbImage::from_fn(w, h, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 17) as i32 - 8;
        let edge = if (x / 9 + y / 13 + seed).is_multiple_of(3) {
            60
        } else {
            0
        };
        let c = |base: u32| (((base % 200) as i32 + edge + noise).clamp(0, 255)) as u8;
        Rgb([
            c(x * 3 + seed * 40),
            c(y * 2 + seed * 70),
            c((x + y) + seed * 90),
        ])
    })
}

/// Writes `n` synthetic PNG photos of `w x h` into `dir` and returns their paths.
pub fn write_photos(dir: &Path, n: u32, w: u32, h: u32) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let p = dir.join(format!("photo{i:02}.png"));
            synthetic_photo(w, h, i).save(&p).unwrap();
            p
        })
        .collect()
}

/// A tiny experiment over `train_dir` (TOML text).
pub fn tiny_experiment(train_dir: &Path, steps: u64) -> String {
    format!(
        r#"name = "tiny"

[model]
pairs = 2
channels = [6]
downsample = 1
latent_channels = 3

[loss]
ssim = 0.5
mse = 0.5

[data]
train = "{}"
crop_size = 16
downscale = 1
val_fraction = 0.25
val_crops = 4
crops_per_image = 2

[train]
steps = {steps}
batch_size = 4
lr = 0.005
schedule = "cosine"
warmup_steps = 2
seed = 11
checkpoint_every = 3
val_every = 4
log_every = 1
"#,
        train_dir.display()
    )
}

/// A temporary folder holding `photos/` (8 synthetic photos of 40x32) and `tiny.toml`
/// training on them for `steps` steps.
pub fn tiny_project(steps: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    write_photos(&photos, 8, 40, 32);
    std::fs::write(
        dir.path().join("tiny.toml"),
        tiny_experiment(&photos, steps),
    )
    .unwrap();
    dir
}

/// The tests venv's Python (made by `make test`).
pub const PYTHON: &str = ".venv-tests/bin/python";

/// Runs a reference script of tests/ with the tests venv and parses the JSON it prints.
pub fn python_json(script: &str, arg: &Path) -> serde_json::Value {
    assert!(
        Path::new(PYTHON).exists(),
        "{PYTHON} is missing: run `make test`"
    );
    let out = succeed(std::process::Command::new(PYTHON).arg(script).arg(arg));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs the niclab binary in `cwd`: (exit status, stdout, stderr).
pub fn niclab(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_niclab"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `cmd`, failing the test with its stderr unless it exits with status 0.
pub fn succeed(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A checkpoint's step and its weights as bit patterns (burn's records also hold parameter
/// ids that differ between processes, so files are not compared byte for byte).
pub fn weights(path: &Path) -> (u64, Vec<u32>) {
    let ck = niclab::train::checkpoint::Checkpoint::load(path).unwrap();
    let model =
        niclab::train::model_from_checkpoint(&ck, path, &burn::tensor::Device::flex()).unwrap();
    let bits = model
        .flat_parameters()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    (ck.meta.step, bits)
}

/// A tensor's values as f32 bit patterns, for exact comparisons.
pub fn tensor_bits<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<u32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

/// Starts `cmd`, waits until the CSV `log` has more than `rows` rows, sends it Ctrl-C
/// (SIGINT), and checks that it stopped with status 130 and without a panic.
pub fn interrupt_after_rows(
    cmd: &mut std::process::Command,
    log: &Path,
    rows: usize,
) -> std::process::Output {
    let out = signal_after_rows(cmd, log, rows, "INT");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    out
}

/// Starts `cmd`, waits until the CSV `log` has more than `rows` rows, sends it `signal`
/// (`INT`, `TERM`, ...) and returns its output, checking that it did not panic.
pub fn signal_after_rows(
    cmd: &mut std::process::Command,
    log: &Path,
    rows: usize,
    signal: &str,
) -> std::process::Output {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(log).is_ok_and(|t| t.lines().count() > rows) {
        assert!(
            Instant::now() < deadline,
            "{} never reached {rows} rows",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let kill = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    out
}
