//! Event files read back with TensorBoard's own reader (EventAccumulator) and server
//! (HParams endpoint), from the tests venv.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

use burn::tensor::Device;
use niclab::config::Experiment;
use niclab::data::batches::{Batch, TrainingData};
use niclab::digest::sha256_hex;
use niclab::train::checkpoint::Checkpoint;
use niclab::train::tensorboard::{SHOWN_CROPS, side_by_side};
use niclab::train::{TrainOptions, model_from_checkpoint, train};
use serde_json::Value;

fn opts(root: &Path) -> TrainOptions {
    TrainOptions {
        checkpoints: root.join("ck"),
        runs: Some(root.join("runs")),
        ..TrainOptions::default()
    }
}

fn steps(v: &Value, tag: &str) -> Vec<u64> {
    v["scalars"][tag]
        .as_array()
        .unwrap_or_else(|| panic!("no scalar {tag}"))
        .iter()
        .map(|p| p[0].as_u64().unwrap())
        .collect()
}

#[test]
fn training_curves_images_histogram_and_hparams_read_back() {
    let dir = common::tiny_project(8);
    let exp = Experiment::load(&dir.path().join("tiny.toml"), &[]).unwrap();
    train(&exp, &opts(dir.path()), &AtomicBool::new(false)).unwrap();
    let run = dir.path().join("runs/tiny");
    assert!(run.join("config.toml").exists() && run.join("run.json").exists());
    assert!(
        !run.join(niclab::board::LOCK_FILE).exists(),
        "lock released"
    );
    let v = common::python_json("tests/read_events.py", &run);

    // Scalars: every step (log_every = 1), values as in metrics.csv.
    assert_eq!(steps(&v, "loss/total"), (1..=8).collect::<Vec<_>>());
    for tag in ["loss/ssim", "loss/mse", "train/lr", "train/images_per_sec"] {
        assert_eq!(steps(&v, tag).len(), 8, "{tag}");
    }
    assert!(
        v["scalars"]["loss/perceptual"].is_null(),
        "weight 0: no curve"
    );
    let csv = std::fs::read_to_string(dir.path().join("ck/tiny/metrics.csv")).unwrap();
    let last: Vec<f64> = csv
        .lines()
        .last()
        .unwrap()
        .split(',')
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let tb_last = v["scalars"]["loss/total"][7][1].as_f64().unwrap();
    assert!((tb_last - last[3]).abs() < 1e-6, "{tb_last} vs {}", last[3]);
    assert_eq!(steps(&v, "val/psnr"), [4, 8]);
    assert_eq!(steps(&v, "val/loss_ssim"), [4, 8]);

    // The image at the last step: true width and height, and exactly our pixels.
    let images = v["images"]["val/original_vs_reconstruction"]
        .as_array()
        .unwrap();
    assert_eq!(images.len(), 2);
    let img = &images[1];
    assert_eq!(
        (img["width"].as_u64(), img["height"].as_u64()),
        (Some(32), Some(64))
    );
    assert_eq!(img["png_size"], serde_json::json!([32, 64]));
    let data = TrainingData::load(&exp.data, exp.train.batch_size, exp.train.seed).unwrap();
    let first = &data.val_batches()[0];
    let n = first.len.min(SHOWN_CROPS);
    let shown = Batch {
        len: n,
        side: 16,
        values: first.values[..n * 3 * 256].to_vec(),
    };
    let ckpt_path = dir.path().join("ck/tiny/last.ckpt");
    let model = model_from_checkpoint(
        &Checkpoint::load(&ckpt_path).unwrap(),
        &ckpt_path,
        &Device::flex(),
    )
    .unwrap();
    let recon: Vec<f32> = model
        .forward(shown.to_tensor(&Device::flex()))
        .into_data()
        .try_to_vec()
        .unwrap();
    let expected = side_by_side(&shown, &recon);
    assert_eq!(
        img["sha256"].as_str().unwrap(),
        sha256_hex(expected.as_raw())
    );

    // Latent histogram: every latent value of the shown crops (4 x 3 x 8 x 8).
    let h = &v["histograms"]["val/latent"][1];
    assert_eq!(h["step"], 8);
    assert_eq!(h["num"].as_f64(), Some(768.0));
    assert_eq!(
        h["bucket"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_f64().unwrap())
            .sum::<f64>(),
        768.0
    );

    // HParams session data.
    let hp = &v["hparams"]["_hparams_/session_start_info"];
    assert_eq!(hp["pairs"], 2.0);
    assert_eq!(hp["channels"], "6,3");
    assert_eq!(hp["loss_a_ssim"], 0.5);
    assert_eq!(hp["steps"], 8.0);
    assert_eq!(hp["backend"], "flex");
    assert_eq!(
        v["hparams"]["_hparams_/session_end_info"]["status"], 1,
        "STATUS_SUCCESS"
    );
    assert_eq!(steps(&v, "hparams/val_ssim"), [8]);
}

#[test]
fn resumed_run_has_no_gap_and_no_duplicate_step() {
    let dir = common::tiny_project(12);
    let exp = Experiment::load(&dir.path().join("tiny.toml"), &[]).unwrap();
    // A run that dies after step 7, past its step-6 checkpoint (checkpoint_every = 3).
    let out = Command::new(env!("CARGO_BIN_EXE_niclab"))
        .args(["train", "tiny.toml"])
        .env(niclab::train::FAULT_NAN_ENV, "8")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let resume = TrainOptions {
        resume: true,
        checkpoints: dir.path().join("checkpoints"),
        runs: Some(dir.path().join("runs")),
        ..TrainOptions::default()
    };
    train(&exp, &resume, &AtomicBool::new(false)).unwrap();
    let v = common::python_json("tests/read_events.py", &dir.path().join("runs/tiny"));
    assert_eq!(steps(&v, "loss/total"), (1..=12).collect::<Vec<_>>());
    assert_eq!(steps(&v, "val/loss"), [4, 8, 12]);
}

#[test]
fn hparams_endpoint_lists_both_runs_of_a_study() {
    let dir = common::tiny_project(4);
    let file = dir.path().join("tiny.toml");
    for (name, pairs) in [("depth-2", "2"), ("depth-3", "3")] {
        let sets = [format!("name={name}"), format!("model.pairs={pairs}")];
        let exp = Experiment::load(&file, &sets).unwrap();
        train(&exp, &opts(dir.path()), &AtomicBool::new(false)).unwrap();
    }
    let v = common::python_json("tests/hparams_server.py", &dir.path().join("runs"));
    assert_eq!(v["depth-2"]["hparams"]["pairs"], 2.0, "{v}");
    assert_eq!(v["depth-3"]["hparams"]["pairs"], 3.0, "{v}");
    for run in ["depth-2", "depth-3"] {
        let ssim = v[run]["metrics"]["hparams/val_ssim"].as_f64().unwrap();
        assert!(ssim > 0.0 && ssim < 1.0, "{run}: {ssim}");
    }
}
