//! The libtorch backend (cargo feature `tch`) against flex: the same experiment trains to the
//! same numbers within float tolerance, evaluation agrees, and a missing GPU is a clear error.
//! (Resume on libtorch is bit-exact too: tests/train.rs.)
#![cfg(feature = "tch")]

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use burn::tensor::Device;
use niclab::backend;
use niclab::config::{Backend, DeviceSpec, Experiment};
use niclab::eval::{EvalOptions, evaluate};
use niclab::train::checkpoint::Checkpoint;
use niclab::train::{TrainOptions, model_from_checkpoint, train};

fn run(root: &Path, backend: &str) -> (Vec<f32>, Vec<f64>) {
    let exp = Experiment::load(
        &root.join("tiny.toml"),
        &[format!("train.backend={backend}")],
    )
    .unwrap();
    let ck = root.join(backend);
    let opts = TrainOptions {
        checkpoints: ck.clone(),
        ..TrainOptions::default()
    };
    train(&exp, &opts, &AtomicBool::new(false)).unwrap();
    let path = ck.join("tiny/last.ckpt");
    let c = Checkpoint::load(&path).unwrap();
    let weights = model_from_checkpoint(&c, &path, &Device::flex())
        .unwrap()
        .flat_parameters();
    let val: Vec<f64> = std::fs::read_to_string(ck.join("tiny/validation.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    (weights, val)
}

#[test]
fn libtorch_and_flex_train_to_the_same_numbers() {
    let dir = common::tiny_project(10);
    let (wf, vf) = run(dir.path(), "flex");
    let (wt, vt) = run(dir.path(), "libtorch");
    // Same seed, same data, same initial weights (drawn by niclab, not the backend): after 10
    // Adam steps only float rounding separates them.
    assert_eq!(wf.len(), wt.len());
    let max_diff = wf
        .iter()
        .zip(&wt)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(max_diff < 1e-3, "weights differ by up to {max_diff}");
    assert_ne!(wf, vec![0.0; wf.len()]);
    assert_eq!(vf.len(), vt.len());
    for (a, b) in vf.iter().zip(&vt) {
        assert!(
            (a - b).abs() < 1e-4 * a.abs().max(1.0),
            "val loss {a} vs {b}"
        );
    }

    // Evaluating the flex-trained model on libtorch gives the same scores.
    common::write_photos(&dir.path().join("images"), 4, 40, 32);
    let eval_on = |b: Backend| {
        let opts = EvalOptions {
            images: dir.path().join("images"),
            out: Some(dir.path().join(format!("eval-{b}"))),
            checkpoints: dir.path().join("flex"),
            runs: dir.path().join(format!("runs-{b}")),
            backend: Some(b),
            write_images: false,
            ..EvalOptions::default()
        };
        evaluate(&dir.path().join("flex/tiny"), &opts).unwrap().0
    };
    let (f, t) = (eval_on(Backend::Flex), eval_on(Backend::Libtorch));
    assert_eq!(t.backend, "libtorch on cpu");
    for (a, b) in f.ae.iter().zip(&t.ae) {
        assert!(
            (a.psnr - b.psnr).abs() < 0.05,
            "PSNR {} vs {}",
            a.psnr,
            b.psnr
        );
        assert!(
            (a.ssim - b.ssim).abs() < 1e-3,
            "SSIM {} vs {}",
            a.ssim,
            b.ssim
        );
        assert_eq!(a.bytes, b.bytes);
    }
}

#[test]
fn a_missing_gpu_is_a_clear_error() {
    let count = unsafe { torch_sys::cuda::atc_cuda_device_count() };
    match backend::device(Backend::Libtorch, DeviceSpec::Cuda(count.max(0) as usize)) {
        Ok(_) => panic!("cuda:{count} accepted with {count} GPU(s)"),
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains(&format!("cuda:{count}")), "{e}");
            assert!(
                e.contains("no CUDA GPU") || e.contains("numbered from 0"),
                "{e}"
            );
        }
    }
    assert!(backend::device(Backend::Libtorch, DeviceSpec::Cpu).is_ok());
}
