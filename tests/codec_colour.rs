//! A codec trained with the colour-keeping distortion keeps colours: two tiny factorized-prior
//! codecs trained on saturated synthetic photos, one with D = MSE (the shipped codecs' loss)
//! and one with the old SSIM-led D = 0.85 (1 - SSIM) + 0.15 MSE; each compressed into real
//! .nic files by `niclab eval`, their mean CIEDE2000 read from its summary. The MSE codec
//! must stay under a bound; the SSIM-led one, trained the same way, lands well above it,
//! the failure the bound guards against.

mod common;

use std::path::Path;

use image::{Rgb, RgbImage};

/// Saturated regions (a red disc, blue sky, green and orange bands, a pink patch) over a
/// gradient, with mild texture: colours SSIM per channel barely constrains.
fn colourful(w: u32, h: u32, seed: u32) -> RgbImage {
    let palette = [
        [200, 40, 30],
        [40, 90, 200],
        [30, 160, 60],
        [240, 150, 20],
        [230, 120, 180],
        [120, 60, 160],
    ];
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(7);
    let (cx, cy) = ((seed * 7 % w) as f32, (seed * 5 % h) as f32);
    RgbImage::from_fn(w, h, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 3) as i32 - 1;
        let (fx, fy) = (x as f32, y as f32);
        let band = ((x + 2 * y + seed * 11) / 12) as usize;
        let inside = (fx - cx).powi(2) + (fy - cy).powi(2) < (w as f32 / 4.0).powi(2);
        let base = if inside {
            palette[seed as usize % palette.len()]
        } else {
            palette[(band + seed as usize) % palette.len()]
        };
        let shade = (fy / h as f32 * 40.0) as i32 - 20;
        let c = |v: i32| (v + shade + noise).clamp(0, 255) as u8;
        Rgb([c(base[0]), c(base[1]), c(base[2])])
    })
}

fn experiment(photos: &Path, name: &str, loss: &str, rate: f64) -> String {
    common::tiny_experiment(photos, STEPS)
        .replace("name = \"tiny\"", &format!("name = \"{name}\""))
        .replace("channels = [6]", "channels = [12]")
        .replace(
            "latent_channels = 3",
            "latent_channels = 6\nentropy = \"factorized\"",
        )
        .replace("ssim = 0.5\nmse = 0.5", &format!("{loss}\nrate = {rate}"))
        .replace("crop_size = 16", "crop_size = 32")
        .replace("val_every = 4", "val_every = 100")
        .replace("checkpoint_every = 3", "checkpoint_every = 100")
        .replace("log_every = 1", "log_every = 50")
}

const STEPS: u64 = 1000;

/// Mean ΔE00 and PSNR of the codec `name` on the eval images.
fn train_and_score(root: &Path, name: &str, loss: &str, rate: f64) -> (f64, f64, f64) {
    let file = format!("{name}.toml");
    std::fs::write(
        root.join(&file),
        experiment(&root.join("photos"), name, loss, rate),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let (code, _, err) = common::niclab(args, root);
        assert_eq!(code, 0, "niclab {args:?}: {err}");
    };
    run(&["train", &file, "--checkpoints", "ck", "--runs", "runs"]);
    let out = format!("ev-{name}");
    run(&[
        "eval",
        &format!("ck/{name}"),
        "--images",
        "images",
        "--out",
        &out,
        "--jpeg-quality",
        "50",
        "--no-images",
        "--checkpoints",
        "ck",
        "--runs",
        "runs",
    ]);
    let s: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join(out).join("summary.json")).unwrap(),
    )
    .unwrap();
    let ae = &s["autoencoder"];
    (
        ae["colour"]["delta_e"].as_f64().unwrap(),
        ae["psnr"].as_f64().unwrap(),
        ae["bpp"].as_f64().unwrap(),
    )
}

#[test]
fn the_mse_codec_keeps_colours() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (folder, n, seed0) in [("photos", 12, 0), ("images", 4, 100)] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
        for i in 0..n {
            colourful(64, 48, seed0 + i)
                .save(root.join(folder).join(format!("c{i:02}.png")))
                .unwrap();
        }
    }
    let (de_mse, psnr_mse, bpp_mse) = train_and_score(root, "mse", "mse = 1.0", 0.001);
    let (de_ssim, psnr_ssim, bpp_ssim) =
        train_and_score(root, "ssim", "ssim = 0.85\nmse = 0.15", 0.02);
    eprintln!(
        "D = MSE: dE00 {de_mse:.2}, {psnr_mse:.2} dB, {bpp_mse:.3} bpp; \
         D = 0.85 SSIM + 0.15 MSE: dE00 {de_ssim:.2}, {psnr_ssim:.2} dB, {bpp_ssim:.3} bpp"
    );
    assert!(
        de_mse < BOUND,
        "D = MSE shifts colours: mean dE00 {de_mse:.2} >= {BOUND}"
    );
    assert!(
        de_ssim > de_mse + 2.0,
        "the SSIM-led loss was expected to keep colours worse ({de_ssim:.2} vs {de_mse:.2})"
    );
}

/// Measured on flex (seed 11, 1000 steps): D = MSE 5.6, the SSIM-led D 9.4. A model this
/// small (12 channels, 22.8 dB) cannot reach the shipped codecs' figures; the bound sits
/// between the two so that losing colour fails the test.
const BOUND: f64 = 6.5;
