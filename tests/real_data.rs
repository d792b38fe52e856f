//! The real datasets made by `make data`: the 1000 test crops and the 24 full-size test
//! photos match their committed manifests, and no training photo is a test photo. `make test` runs `make data` first.

mod common;

use std::collections::HashSet;
use std::path::Path;

use niclab::data::prepare::{TEST_1000, parse_manifest, verify_test_set};

fn manifest() -> Vec<niclab::data::prepare::ManifestRow> {
    let path = Path::new("datasets/test-1000.tsv");
    parse_manifest(&std::fs::read_to_string(path).unwrap(), path).unwrap()
}

#[test]
fn committed_manifest_lists_1000_crops_of_24_photos() {
    let rows = manifest();
    assert_eq!(rows.len(), 1000);
    let sources: HashSet<&str> = rows.iter().map(|r| r.source.as_str()).collect();
    assert_eq!(sources.len(), 24);
    let names: HashSet<&str> = rows.iter().map(|r| r.crop.as_str()).collect();
    assert_eq!(names.len(), 1000);
}

#[test]
fn test_1000_matches_the_manifest_pixel_for_pixel() {
    let dir = Path::new("datasets/test-1000");
    assert!(
        dir.is_dir(),
        "datasets/test-1000 is missing: run `make data` (make test does)"
    );
    verify_test_set(dir, &manifest(), Some((TEST_1000.crop, TEST_1000.crop))).unwrap();
}

#[test]
fn test_photos_match_their_manifest_and_the_crops_photos() {
    let path = Path::new("datasets/test-photos.tsv");
    let rows = parse_manifest(&std::fs::read_to_string(path).unwrap(), path).unwrap();
    assert_eq!(rows.len(), 24);
    verify_test_set(Path::new("datasets/test-photos"), &rows, None).unwrap();
    // The same 24 source files as the crops, so neither test set meets the training set.
    let crops: HashSet<String> = manifest().into_iter().map(|r| r.source_sha256).collect();
    let photos: HashSet<String> = rows.iter().map(|r| r.source_sha256.clone()).collect();
    assert_eq!(crops, photos);
    let big = rows
        .iter()
        .filter(|r| {
            let img = image::open(Path::new("datasets/test-photos").join(&r.crop)).unwrap();
            (img.width(), img.height()) == (768, 512)
        })
        .count();
    assert_eq!(big, 23, "all but Picture_1A are 768x512");
}

#[test]
fn train_and_test_share_no_source_photo() {
    let sources = Path::new("datasets/train/SOURCES.tsv");
    let text = std::fs::read_to_string(sources)
        .unwrap_or_else(|_| panic!("{} is missing: run `make data`", sources.display()));
    let rows = manifest();
    let test_sha: HashSet<&str> = rows.iter().map(|r| r.source_sha256.as_str()).collect();
    let mut n = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 3, "{line}");
        assert!(!test_sha.contains(f[1]), "{} is a test photo", f[0]);
        assert!(
            !f[2].contains("usr/share/backgrounds/") || f[2].contains("/mate/"),
            "{} comes from a test package",
            f[2]
        );
        assert!(
            !f[2].contains("usr/share/wallpapers/"),
            "{} comes from a test package",
            f[2]
        );
        n += 1;
    }
    assert!(n >= 150, "only {n} training photos");
}

#[test]
fn paper_depth_3_trains_on_the_real_photos() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_niclab"))
        .args([
            "train",
            "experiments/paper-depth-3.toml",
            "--set",
            "train.steps=2",
        ])
        .args(["--set", "data.val_crops=4", "--checkpoints"])
        .arg(dir.path())
        .arg("--runs")
        .arg(dir.path().join("runs"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("datasets/train: 151 images loaded, 0 left out"),
        "{stderr}"
    );
    assert!(
        stderr.contains("136 training / 15 validation photos"),
        "{stderr}"
    );
    let ck =
        niclab::train::checkpoint::Checkpoint::load(&dir.path().join("paper-depth-3/last.ckpt"))
            .unwrap();
    assert_eq!(ck.meta.step, 2);
    assert_eq!(ck.meta.experiment.model.pairs, 3);
}

#[test]
fn a_smoke_model_is_evaluated_on_the_1000_test_crops() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_niclab"))
            .args(args)
            .args(["--checkpoints"])
            .arg(dir.path().join("ck"))
            .arg("--runs")
            .arg(dir.path().join("runs"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&[
        "train",
        "experiments/smoke.toml",
        "--set",
        "train.steps=150",
    ]);
    // The paper's storage first (raw float32 latent), then real .nic files.
    let stdout = run(&[
        "eval",
        "experiments/smoke.toml",
        "--no-images",
        "--storage",
        "f32",
    ]);
    assert!(
        stdout.contains("1000 images from datasets/test-1000"),
        "{stdout}"
    );
    let out = dir.path().join("runs/smoke/eval");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["count"], 1000);
    // 64x64 crops of 128x128 with 2 stride-2 pairs and 8 latent channels: 8*32*32 floats.
    assert_eq!(summary["autoencoder"]["bytes"], 1000 * 8 * 32 * 32 * 4);
    assert!((summary["autoencoder"]["ratio"].as_f64().unwrap() - 1.5).abs() < 1e-9);
    let q = summary["jpeg"][0]["quality"].as_u64().unwrap();
    assert!((1..=100).contains(&q));
    let gap = (summary["jpeg"][0]["ssim"].as_f64().unwrap()
        - summary["autoencoder"]["ssim"].as_f64().unwrap())
    .abs();
    assert!(gap < 0.02, "matched JPEG SSIM is {gap} away");
    assert_eq!(
        std::fs::read_to_string(out.join("per_image.csv"))
            .unwrap()
            .lines()
            .count(),
        1 + 2000
    );
    for f in ["report.md", "plots/ssim.png", "strips/worst.png"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    assert!(!out.join("ae").exists(), "--no-images wrote images");

    // The same model through its post-training quantiser (8 bits per latent value) and
    // range coder: real files, several times smaller, at nearly the same quality.
    let nic = dir.path().join("nic-eval");
    let out_arg = nic.display().to_string();
    run(&[
        "eval",
        "experiments/smoke.toml",
        "--storage",
        "nic",
        "--out",
        &out_arg,
    ]);
    let coded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(nic.join("summary.json")).unwrap()).unwrap();
    assert_eq!(coded["storage"], "nic");
    let bytes = coded["autoencoder"]["bytes"].as_u64().unwrap();
    assert!(
        bytes < 1000 * 8 * 32 * 32,
        "{bytes} bytes: not below 1 byte per value"
    );
    let on_disk: u64 = std::fs::read_dir(nic.join("ae"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nic"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(on_disk, bytes);
    let loss = summary["autoencoder"]["ssim"].as_f64().unwrap()
        - coded["autoencoder"]["ssim"].as_f64().unwrap();
    assert!(loss.abs() < 0.01, "quantisation cost {loss} SSIM");
}

/// The smoke experiment on libtorch (CPU) and on flex: same seed, same data, same initial
/// weights. Measured: final validation loss 0.11724 vs 0.11697 (0.23 %), PSNR 18.681 vs
/// 18.684 dB, SSIM 0.7824 vs 0.7829; the tolerances below are a few times that.
#[cfg(feature = "tch")]
#[test]
fn smoke_training_agrees_on_libtorch_and_flex() {
    let dir = tempfile::tempdir().unwrap();
    let last_validation = |backend: &str| -> Vec<f64> {
        common::succeed(
            std::process::Command::new(env!("CARGO_BIN_EXE_niclab"))
                .args(["train", "experiments/smoke.toml", "--set"])
                .arg(format!("train.backend={backend}"))
                .arg("--checkpoints")
                .arg(dir.path().join(backend))
                .arg("--runs")
                .arg(dir.path().join("runs").join(backend)),
        );
        let csv =
            std::fs::read_to_string(dir.path().join(backend).join("smoke/validation.csv")).unwrap();
        let last = csv.lines().last().unwrap();
        assert!(last.starts_with("300,"), "{last}");
        last.split(',')
            .skip(1)
            .take(3)
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let flex = last_validation("flex");
    let torch = last_validation("libtorch");
    let (loss, psnr, ssim) = (
        (flex[0] - torch[0]).abs() / flex[0],
        (flex[1] - torch[1]).abs(),
        (flex[2] - torch[2]).abs(),
    );
    assert!(loss < 0.01, "val loss {} vs {}", flex[0], torch[0]);
    assert!(psnr < 0.1, "val PSNR {} vs {}", flex[1], torch[1]);
    assert!(ssim < 0.005, "val SSIM {} vs {}", flex[2], torch[2]);
}
