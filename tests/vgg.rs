//! VGG16 with the real ImageNet weights against onnxruntime running the same ONNX file.
//! Needs `make weights` and the tests venv (`make test` makes both).

mod common;

use std::path::Path;
use std::process::Command;

use burn::prelude::*;
use niclab::data::batches::image_to_tensor;
use niclab::vgg::{Vgg16, VggLayer, WHEEL};

const WEIGHTS: &str = "checkpoints/vgg16-imagenet.bpk";
const PYTHON: &str = ".venv-tests/bin/python";

fn real_photo_crop(w: u32, h: u32) -> image::RgbImage {
    let photo = image::open("datasets/train/palapeli/castle-maintenon.jpg")
        .expect("datasets/train is missing: run `make data`")
        .to_rgb8();
    image::imageops::crop_imm(&photo, 300, 200, w, h).to_image()
}

#[test]
fn activations_match_onnxruntime_on_a_real_photo() {
    assert!(
        Path::new(PYTHON).exists(),
        "{PYTHON} is missing: run `make test`"
    );
    let dir = tempfile::tempdir().unwrap();
    let img = real_photo_crop(96, 80);
    let png = dir.path().join("in.png");
    img.save(&png).unwrap();
    let out = Command::new(PYTHON)
        .arg("tests/vgg_reference.py")
        .arg(Path::new("datasets/pypi").join(WHEEL))
        .arg(&png)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let device = Device::flex();
    let vgg = Vgg16::load(Path::new(WEIGHTS), &device).unwrap();
    let layers = [
        VggLayer::Relu1_2,
        VggLayer::Relu2_2,
        VggLayer::Relu3_3,
        VggLayer::Relu4_3,
    ];
    let ours = vgg.features(image_to_tensor(&img, &device), &layers);
    for (layer, got) in ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
        .iter()
        .zip(ours)
    {
        let bytes = std::fs::read(dir.path().join(format!("{layer}.f32"))).unwrap();
        let want: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let got: Vec<f32> = got.into_data().try_to_vec().unwrap();
        assert_eq!(got.len(), want.len(), "{layer}");
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let err = got
            .iter()
            .zip(&want)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            scale > 1.0,
            "{layer}: activations too small to mean anything ({scale})"
        );
        eprintln!(
            "{layer}: max abs error {err:e}, max activation {scale}, ratio {:e}",
            err / scale
        );
        assert!(
            err / scale <= 1e-4,
            "{layer}: max error {err} vs max activation {scale}"
        );
    }
}

#[test]
fn vgg_is_frozen_but_passes_gradients_to_its_input() {
    let device = Device::flex().autodiff();
    let vgg = Vgg16::load(Path::new(WEIGHTS), &device).unwrap();
    let x = image_to_tensor(&real_photo_crop(32, 32), &device).require_grad();
    let y = image_to_tensor(&real_photo_crop(32, 32), &device) * 0.9;
    let loss = niclab::loss::perceptual(&vgg, &[VggLayer::Relu2_2], x.clone(), y);
    let grads = loss.backward();
    let gx: Vec<f32> = x.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
    assert!(
        gx.iter().any(|g| *g != 0.0),
        "no gradient reached the input"
    );
    let params = burn::optim::GradientsParams::from_grads(grads, &vgg);
    assert!(
        params.is_empty(),
        "VGG16 weights got {} gradients",
        params.len()
    );
}

#[test]
fn missing_or_foreign_weight_files_are_clear_errors() {
    let device = Device::flex();
    let err = Vgg16::load(Path::new("no/such.bpk"), &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("make weights"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bpk");
    std::fs::write(&junk, b"not a record").unwrap();
    let err = Vgg16::load(&junk, &device).unwrap_err().to_string();
    assert!(err.contains("junk.bpk"), "{err}");
    let wrong = niclab::vgg::onnx_from_wheel(&junk).unwrap_err().to_string();
    assert!(wrong.contains("SHA-256"), "{wrong}");
}

#[test]
fn training_with_all_three_terms_lowers_each_of_them() {
    let dir = common::tiny_project(60);
    let sets: Vec<String> = [
        "loss.ssim=0.5",
        "loss.perceptual=0.2",
        "loss.mse=0.3",
        "train.lr=0.01",
        "model.channels=[16]",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let exp = niclab::config::Experiment::load(&dir.path().join("tiny.toml"), &sets).unwrap();
    let opts = niclab::train::TrainOptions {
        checkpoints: dir.path().join("ck"),
        ..Default::default()
    };
    niclab::train::train(&exp, &opts, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    let csv = std::fs::read_to_string(dir.path().join("ck/tiny/metrics.csv")).unwrap();
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        // The rate term (column 7) is empty without an entropy model.
        .map(|l| {
            l.split(',')
                .map(|v| {
                    if v.is_empty() {
                        0.0
                    } else {
                        v.parse().unwrap()
                    }
                })
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 60);
    // Columns 4..=6: weighted ssim, perceptual and mse terms; they add up to the loss.
    for r in &rows {
        assert!((r[4] + r[5] + r[6] - r[3]).abs() < 1e-5, "{r:?}");
    }
    let mean = |rs: &[Vec<f64>], c: usize| rs.iter().map(|r| r[c]).sum::<f64>() / rs.len() as f64;
    for (c, name) in [(4, "ssim"), (5, "perceptual"), (6, "mse")] {
        let (early, late) = (mean(&rows[..10], c), mean(&rows[50..], c));
        eprintln!("{name} term: {early:.5} -> {late:.5}");
        assert!(late < 0.9 * early, "{name} term: {early} -> {late}");
    }
}
