//! `niclab eval` end to end on a tiny trained model: every output, the SSIM match against a
//! brute-force search, the stored latents decoding to the written reconstructions, the
//! TensorBoard sub-run read back with TensorBoard's own reader, and bad inputs.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use burn::prelude::*;
use niclab::classic::jpeg::{JpegCodec, Quality, QualityChoice};
use niclab::classic::{Codec, Encoder};
use niclab::config::{Experiment, Storage};
use niclab::digest::sha256_hex;
use niclab::eval::{EvalOptions, evaluate};
use niclab::metrics::{psnr, ssim};
use niclab::train::checkpoint::Checkpoint;
use niclab::train::{TrainOptions, model_from_checkpoint, train};
use serde_json::Value;

/// Eval images: odd sizes, so the model (downsampling 2) has to pad them.
const W: u32 = 31;
const H: u32 = 23;
const N: usize = 6;

/// A tiny project trained for a few steps: (temp dir, checkpoint folder).
fn trained() -> (tempfile::TempDir, PathBuf) {
    let dir = common::tiny_project(6);
    let exp = Experiment::load(&dir.path().join("tiny.toml"), &[]).unwrap();
    let opts = TrainOptions {
        checkpoints: dir.path().join("ck"),
        runs: Some(dir.path().join("runs")),
        ..TrainOptions::default()
    };
    train(&exp, &opts, &AtomicBool::new(false)).unwrap();
    common::write_photos(&dir.path().join("images"), N as u32, W, H);
    let ck = dir.path().join("ck/tiny");
    (dir, ck)
}

fn options(root: &Path, jpeg: QualityChoice) -> EvalOptions {
    EvalOptions {
        images: root.join("images"),
        out: Some(root.join("out")),
        jpeg,
        checkpoints: root.join("ck"),
        runs: root.join("runs"),
        // The paper's storage, whose latent files these tests decode by hand; `.nic` files
        // are tested in tests/codec.rs.
        storage: Some(Storage::F32),
        ..EvalOptions::default()
    }
}

fn read_events(dir: &Path) -> Value {
    common::python_json("tests/read_events.py", dir)
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "image,width,height,codec,quality,bytes,ratio,bpp,psnr,ssim,seconds,delta_e,psnr_y,psnr_cb,psnr_cr"
    );
    lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn evaluation_writes_every_output_and_matches_the_closest_jpeg_quality() {
    let (dir, ck) = trained();
    let root = dir.path();
    let (eval, out) = evaluate(&ck, &options(root, QualityChoice::MatchSsim)).unwrap();
    assert_eq!(out, root.join("out"));
    assert_eq!(eval.names.len(), N);

    // The chosen quality is the one a search over all 100 qualities picks.
    let target = eval.ae.iter().map(|s| s.ssim).sum::<f64>() / N as f64;
    let mut codec = JpegCodec::new().unwrap();
    let mut best = (f64::INFINITY, 0);
    for q in 1..=100 {
        let mean = eval
            .originals
            .iter()
            .map(|img| {
                let f = codec.encode(img, Quality::new(q).unwrap()).unwrap();
                ssim(img, &codec.decode(&f).unwrap()).unwrap()
            })
            .sum::<f64>()
            / N as f64;
        if (mean - target).abs() < best.0 {
            best = ((mean - target).abs(), q);
        }
    }
    let chosen = eval.jpeg[0].pass.level.get();
    assert_eq!(u32::from(chosen), best.1, "match-ssim chose {chosen}");

    // per_image.csv: an ae row and a jpeg row per image, agreeing with the files on disk.
    let rows = csv_rows(&out.join("per_image.csv"));
    assert_eq!(rows.len(), 2 * N);
    // The latent of a 31x23 image padded to 32x24: 3 channels of 16x12, float32.
    let latent_bytes = 4 * 3 * 16 * 12;
    let ck_file = Checkpoint::load(&ck.join("best.ckpt")).unwrap();
    let device = Device::flex();
    let model = model_from_checkpoint(&ck_file, &ck.join("best.ckpt"), &device).unwrap();
    for r in &rows {
        let name = Path::new(&r[0]).with_extension("");
        let img = image::open(root.join("images").join(&r[0]))
            .unwrap()
            .to_rgb8();
        assert_eq!((r[1].as_str(), r[2].as_str()), ("31", "23"));
        let bytes: usize = r[5].parse().unwrap();
        let ratio: f64 = r[6].parse().unwrap();
        assert!((ratio - (W * H * 3) as f64 / bytes as f64).abs() < 1e-5);
        let decoded = if r[3] == "ae" {
            assert_eq!(bytes, latent_bytes);
            let latent =
                std::fs::read(out.join("ae").join(&name).with_extension("latent")).unwrap();
            assert_eq!(latent.len(), latent_bytes);
            let recon = image::open(out.join("ae").join(&name).with_extension("png"))
                .unwrap()
                .to_rgb8();
            // The stored latent decodes to the written reconstruction.
            let values: Vec<f32> = latent
                .chunks(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            let z = Tensor::<4>::from_data(TensorData::new(values, [1, 3, 12, 16]), &device);
            let y: Vec<f32> = model.decode(z).into_data().try_to_vec().unwrap();
            let again = image::RgbImage::from_fn(W, H, |x, yy| {
                let j = (yy * 32 + x) as usize;
                let v = |c: usize| (y[c * 32 * 24 + j].clamp(0.0, 1.0) * 255.0).round() as u8;
                image::Rgb([v(0), v(1), v(2)])
            });
            assert!(
                again == recon,
                "{}: latent does not decode to the PNG",
                r[0]
            );
            recon
        } else {
            assert_eq!(r[4], chosen.to_string());
            let file = std::fs::read(
                out.join(format!("jpeg-q{chosen}"))
                    .join(&name)
                    .with_extension("jpg"),
            )
            .unwrap();
            assert_eq!(file.len(), bytes);
            codec.decode(&file).unwrap()
        };
        let p: f64 = r[8].parse().unwrap();
        let s: f64 = r[9].parse().unwrap();
        assert!((psnr(&img, &decoded).unwrap() - p).abs() < 1e-5, "{r:?}");
        assert!((ssim(&img, &decoded).unwrap() - s).abs() < 1e-7, "{r:?}");
        // Colour columns: ΔE00 and Y/Cb/Cr PSNRs of the same files, for both codecs.
        let c = niclab::metrics::colour::colour(&img, &decoded).unwrap();
        let col: Vec<f64> = r[11..15].iter().map(|v| v.parse().unwrap()).collect();
        assert!(c.delta_e > 0.0, "{r:?}");
        for (got, want) in col.iter().zip([c.delta_e, c.psnr_y, c.psnr_cb, c.psnr_cr]) {
            assert!((got - want).abs() < 1e-5, "{r:?}: {got} vs {want}");
        }
    }

    // summary.json and report.md.
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["count"], N);
    assert_eq!(summary["storage"], "f32");
    assert_eq!(summary["jpeg"][0]["chosen_by"], "match-ssim");
    assert_eq!(summary["jpeg"][0]["quality"], chosen);
    assert!((summary["autoencoder"]["ssim"].as_f64().unwrap() - target).abs() < 1e-12);
    for codec in [&summary["autoencoder"], &summary["jpeg"][0]] {
        assert!(
            codec["colour"]["delta_e"].as_f64().unwrap() > 0.0,
            "{codec}"
        );
        assert!(
            codec["colour"]["psnr_cr"].as_f64().unwrap() > 10.0,
            "{codec}"
        );
    }
    assert!(summary["timing"]["total"].as_f64().unwrap() > 0.0);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in [
        "| mean PSNR (dB) |",
        "| mean SSIM |",
        "| mean ΔE00 (CIEDE2000) |",
        "| mean PSNR Y / Cb / Cr (dB) |",
        "| mean compression ratio |",
        "| mean time per image (s) |",
        "| total time (s) |",
        &format!("JPEG q{chosen} (SSIM-matched)"),
        "raw float32",
        "no file reading or writing",
        "![SSIM per image](plots/ssim.png)",
    ] {
        assert!(
            report.contains(needle),
            "report.md lacks {needle:?}:\n{report}"
        );
    }
    for plot in ["ssim", "psnr", "ratio"] {
        let img = image::open(out.join(format!("plots/{plot}.png"))).unwrap();
        assert_eq!((img.width(), img.height()), (1000, 420));
    }

    // TensorBoard: per-image curves equal the CSV, strips equal the PNGs.
    let board = root.join("runs/tiny/eval");
    let ev = read_events(&board);
    let ae_ssim: Vec<f64> = rows
        .iter()
        .filter(|r| r[3] == "ae")
        .map(|r| r[9].parse().unwrap())
        .collect();
    let curve = ev["scalars"]["eval/ssim_ae"].as_array().unwrap();
    assert_eq!(curve.len(), N);
    for (i, p) in curve.iter().enumerate() {
        assert_eq!(p[0].as_u64().unwrap(), i as u64);
        assert!((p[1].as_f64().unwrap() - ae_ssim[i]).abs() < 1e-6);
    }
    for tag in niclab::eval::tensorboard::PER_IMAGE_TAGS {
        assert_eq!(ev["scalars"][tag].as_array().unwrap().len(), N, "{tag}");
    }
    let jpeg_de: Vec<f64> = rows
        .iter()
        .filter(|r| r[3] == "jpeg")
        .map(|r| r[11].parse().unwrap())
        .collect();
    for (p, want) in ev["scalars"]["eval/delta_e_jpeg"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&jpeg_de)
    {
        assert!(
            (p[1].as_f64().unwrap() - want).abs() < 1e-4,
            "{p} vs {want}"
        );
    }
    assert!(
        ev["scalars"]["hparams/test_delta_e"][0][1]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let step = ck_file.meta.step;
    let q = &ev["scalars"]["hparams/jpeg_quality"][0];
    assert_eq!(
        (q[0].as_u64().unwrap(), q[1].as_f64().unwrap()),
        (step, f64::from(chosen))
    );
    for rule in ["best", "median", "worst"] {
        let png = image::open(out.join(format!("strips/{rule}.png")))
            .unwrap()
            .to_rgb8();
        let shown = &ev["images"][format!("eval/strip_{rule}")][0];
        assert_eq!(shown["width"].as_u64().unwrap(), u64::from(png.width()));
        assert_eq!(shown["height"].as_u64().unwrap(), u64::from(png.height()));
        assert_eq!(shown["sha256"].as_str().unwrap(), sha256_hex(png.as_raw()));
        assert!(png.width() > png.height(), "a strip is wider than high");
    }

    // A second evaluation at fixed qualities replaces the first one's files and events.
    let fixed = QualityChoice::Fixed(vec![Quality::new(95).unwrap(), Quality::new(20).unwrap()]);
    let (eval2, _) = evaluate(&ck, &options(root, fixed)).unwrap();
    assert_eq!(eval2.jpeg.len(), 2);
    assert!(out.join("jpeg-q95").is_dir() && out.join("jpeg-q20").is_dir());
    if ![95, 20].contains(&chosen) {
        assert!(!out.join(format!("jpeg-q{chosen}")).exists());
    }
    assert_eq!(csv_rows(&out.join("per_image.csv")).len(), 3 * N);
    assert_eq!(niclab::board::event_files(&board).unwrap().len(), 1);
    let ev = read_events(&board);
    assert_eq!(ev["scalars"]["eval/ssim_ae"].as_array().unwrap().len(), N);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("| | Autoencoder | JPEG q95 | JPEG q20 |"),
        "{report}"
    );
}

fn niclab(args: &[&str], cwd: &Path) -> (i32, String) {
    let (code, _, err) = common::niclab(args, cwd);
    (code, err)
}

#[test]
fn bad_inputs_give_one_clear_error_each() {
    let (dir, _) = trained();
    let root = dir.path();
    let eval = |images: &str, target: &str| {
        niclab(
            &[
                "eval",
                target,
                "--images",
                images,
                "--checkpoints",
                "ck",
                "--runs",
                "runs",
            ],
            root,
        )
    };
    std::fs::create_dir_all(root.join("empty")).unwrap();
    let (code, err) = eval("empty", "ck/tiny");
    assert_eq!(code, 1);
    assert!(err.contains("empty holds no images"), "{err}");

    std::fs::create_dir_all(root.join("mixed")).unwrap();
    common::write_photos(&root.join("mixed"), 2, 20, 20);
    std::fs::write(root.join("mixed/notes.txt"), "not a picture").unwrap();
    let (code, err) = eval("mixed", "ck/tiny");
    assert_eq!(code, 1);
    assert!(
        err.contains("not images") && err.contains("notes.txt"),
        "{err}"
    );

    std::fs::write(root.join("mixed/notes.txt"), "").unwrap();
    std::fs::rename(root.join("mixed/notes.txt"), root.join("mixed/broken.png")).unwrap();
    let (code, err) = eval("mixed", "ck/tiny");
    assert_eq!(code, 1);
    assert!(
        err.contains("broken.png") && err.contains("not a readable image"),
        "{err}"
    );

    std::fs::create_dir_all(root.join("ck/untrained")).unwrap();
    let (code, err) = eval("images", "ck/untrained");
    assert_eq!(code, 1);
    assert!(
        err.contains("holds no checkpoint") && err.contains("niclab train"),
        "{err}"
    );

    let (code, err) = eval("images", "no-such-run");
    assert_eq!(code, 1);
    assert!(err.contains("is not a checkpoint"), "{err}");

    let bytes = std::fs::read(root.join("ck/tiny/best.ckpt")).unwrap();
    std::fs::write(root.join("cut.ckpt"), &bytes[..bytes.len() / 2]).unwrap();
    let (code, err) = eval("images", "cut.ckpt");
    assert_eq!(code, 1);
    assert!(
        err.contains("cut.ckpt") && err.contains("truncated or corrupted"),
        "{err}"
    );

    let (code, err) = niclab(&["eval", "ck/tiny", "--jpeg-quality", "0"], root);
    assert_eq!(code, 2);
    assert!(err.contains("not in 1..100"), "{err}");

    // The experiment file and the run folder name the same model.
    for target in ["tiny.toml", "runs/tiny"] {
        let (code, err) = eval("images", target);
        assert_eq!(code, 0, "{target}: {err}");
    }
}

#[test]
fn every_classical_codec_can_be_the_baseline() {
    let (dir, ck) = trained();
    let root = dir.path();
    // AVIF: match-ssim over its 64 quantizers equals a brute-force search, and its files are
    // written, named and scored as JPEG's are.
    let opts = EvalOptions {
        baseline: Codec::Avif,
        ..options(root, QualityChoice::MatchSsim)
    };
    let (eval, out) = evaluate(&ck, &opts).unwrap();
    let target = eval.ae.iter().map(|s| s.ssim).sum::<f64>() / N as f64;
    let mut enc = Encoder::new(Codec::Avif).unwrap();
    let mut best = (f64::INFINITY, 0);
    for l in Codec::Avif.levels() {
        let level = Codec::Avif.level(u32::from(l)).unwrap();
        let mean = eval
            .originals
            .iter()
            .map(|img| {
                let f = enc.encode(img, level).unwrap();
                ssim(img, &enc.decode(&f).unwrap()).unwrap()
            })
            .sum::<f64>()
            / N as f64;
        if (mean - target).abs() < best.0 {
            best = ((mean - target).abs(), l);
        }
    }
    let chosen = eval.jpeg[0].pass.level;
    assert_eq!(chosen.get(), best.1, "match-ssim chose {chosen}");
    let qp = Codec::Avif.setting_number(chosen);
    let rows = csv_rows(&out.join("per_image.csv"));
    let avif: Vec<&Vec<String>> = rows.iter().filter(|r| r[3] == "avif").collect();
    assert_eq!(avif.len(), N);
    for r in avif {
        assert_eq!(r[4], qp.to_string());
        let name = Path::new(&r[0]).with_extension("avif");
        let file = std::fs::read(out.join(format!("avif-qp{qp}")).join(&name)).unwrap();
        assert_eq!(r[5], file.len().to_string());
        let img = image::open(root.join("images").join(&r[0]))
            .unwrap()
            .to_rgb8();
        let back = enc.decode(&file).unwrap();
        assert!((psnr(&img, &back).unwrap() - r[8].parse::<f64>().unwrap()).abs() < 1e-5);
    }
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["jpeg"][0]["codec"], "avif");
    assert_eq!(summary["jpeg"][0]["quality"], qp);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains(&format!("| AVIF qp{qp} (SSIM-matched) |")),
        "{report}"
    );
    let events = read_events(&root.join("runs/tiny/eval"));
    assert_eq!(
        events["scalars"]["eval/ssim_avif"]
            .as_array()
            .unwrap()
            .len(),
        N
    );
    assert!(events["scalars"].get("eval/ssim_jpeg").is_none());

    // WebP and JPEG XL at fixed settings (JPEG XL's levels start at 5).
    for (codec, q) in [(Codec::Webp, 50u8), (Codec::Jxl, 60)] {
        let opts = EvalOptions {
            baseline: codec,
            ..options(
                root,
                QualityChoice::Fixed(vec![Quality::new(q.into()).unwrap()]),
            )
        };
        let (eval, out) = evaluate(&ck, &opts).unwrap();
        assert_eq!(eval.jpeg[0].pass.codec, codec);
        assert_eq!(eval.jpeg[0].pass.level.get(), q);
        let dir = out.join(format!("{}-q{q}", codec.name()));
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            N,
            "{}",
            dir.display()
        );
    }
    let bad = EvalOptions {
        baseline: Codec::Jxl,
        ..options(root, QualityChoice::Fixed(vec![Quality::new(3).unwrap()]))
    };
    let Err(err) = evaluate(&ck, &bad) else {
        panic!("JPEG XL at q3 was accepted");
    };
    let err = format!("{err:#}");
    assert!(err.contains("jxl has no level 3"), "{err}");
}
