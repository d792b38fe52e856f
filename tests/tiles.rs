//! Large images in bounded memory (on flex):
//! - tiles change nothing: with the factorized codec-lambda-0.004 (4 pairs of 5x5
//!   convolutions, 64-128 channels) on a 700x452 mosaic of real crops, cut into 64-pixel
//!   cores, the tiled latent equals the whole-image one to float rounding and quantises to
//!   the same symbols, and the tiled decoder's pixels are within one level of the
//!   whole-image ones; so are a resize decoder's (`upsample = "resize"`, fresh weights);
//! - a 24-megapixel image (6000x4000) compresses and decompresses through the command line
//!   with the shipped default codec (a mean-scale hyperprior with GDN, the same transform's
//!   shape) with a peak memory under 1.5 GB each way, to the right size and a sane PSNR.

mod common;

use std::path::Path;
use std::process::Command;

use image::RgbImage;
use niclab::codec::files::{Session, decode_latents};
use niclab::codec::tiles::{self, Tiling};
use niclab::codec::{pad, padded};
use niclab::cpu_encoder::ImageEncoder;

fn crops() -> Vec<RgbImage> {
    common::quality_crops()
        .iter()
        .map(|p| image::open(p).unwrap().to_rgb8())
        .collect()
}

/// `w x h` tiled with the real crops, each flipped by its position so no two neighbours
/// repeat exactly.
fn mosaic(w: u32, h: u32) -> RgbImage {
    let c = crops();
    RgbImage::from_fn(w, h, |x, y| {
        let (tx, ty) = (x / 128, y / 128);
        let t = &c[((tx + 2 * ty) % 4) as usize];
        let (mut u, mut v) = (x % 128, y % 128);
        if tx % 2 == 1 {
            u = 127 - u;
        }
        if ty % 2 == 1 {
            v = 127 - v;
        }
        *t.get_pixel(u, v)
    })
}

/// The largest difference between two images' samples, in levels.
fn largest_difference(a: &RgbImage, b: &RgbImage) -> u8 {
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

fn session() -> Session {
    Session::open(
        Path::new("models/codec-lambda-0.004/model.ckpt"),
        Path::new("checkpoints"),
        None,
        None,
    )
    .unwrap()
}

#[test]
fn tiles_give_the_whole_image_latent_and_pixels() {
    let s = session();
    let img = mosaic(700, 452);
    let (pw, ph) = padded(700, 452, s.coder.scale);
    let grown = pad(&img, pw, ph);
    let encoder = ImageEncoder::new(&s.model, &s.device).unwrap();
    let whole = encoder.encode(&[&grown]).unwrap();
    let [_, c, lh, lw] = whole.dims();
    let whole = niclab::codec::to_vec(whole, "latent").unwrap();

    let t = Tiling::new(&s.model, s.coder.scale, 64).unwrap();
    // Four 5x5 stride-2 layers see 2 * (1 + 2 + 4 + 8) = 30 pixels around a latent
    // pixel: 2 latent pixels, plus one.
    assert_eq!((t.core, t.halo, t.scale), (4, 3, 16));
    let (tiled, tc, tlh, tlw) = tiles::encode(&encoder, &grown, &t).unwrap();
    assert_eq!((tc, tlh, tlw), (c, lh, lw));
    let worst = whole
        .iter()
        .zip(&tiled)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "latents differ by up to {worst}");
    let (qa, qb) = (
        s.coder.tables.quantize(&whole),
        s.coder.tables.quantize(&tiled),
    );
    let same = qa.iter().zip(&qb).filter(|(a, b)| a == b).count();
    assert!(
        same as f64 >= 0.9999 * qa.len() as f64,
        "{} of {} symbols differ",
        qa.len() - same,
        qa.len()
    );

    // Decoding: the same latent, whole and in tiles.
    let z = burn::tensor::Tensor::<4>::from_data(
        burn::tensor::TensorData::new(whole.clone(), [1, c, lh, lw]),
        &s.device,
    );
    let one = decode_latents(&s.model, z, (pw, ph), (700, 452)).unwrap();
    let parts = tiles::decode(&s.model, &whole, (c, lh, lw), (700, 452), &t, &s.device).unwrap();
    let d = largest_difference(&one[0], &parts);
    assert!(d <= 1, "tiled decoding differs by up to {d} levels");
    let psnr = niclab::metrics::psnr(&img, &parts).unwrap();
    assert!(psnr > 24.0, "PSNR {psnr:.2}");
}

#[test]
fn tiles_decode_a_resize_decoder_as_one_pass() {
    use burn::prelude::*;
    use niclab::config::{Activation, Entropy, ModelConfig, Upsample};
    use niclab::model::Autoencoder;
    let device = Device::flex();
    let cfg = ModelConfig {
        pairs: 4,
        channels: vec![16, 24],
        kernel_size: 5,
        downsample: 4,
        latent_channels: 8,
        entropy: Entropy::Hyperprior,
        activation: Activation::Gdn,
        upsample: Upsample::Resize,
        ..ModelConfig::default()
    };
    let model = Autoencoder::new(&cfg, &device, 11);
    let (c, lh, lw) = (8, 29, 44);
    // A rounded latent with structure at every scale: integers from a fixed recurrence.
    let latent: Vec<f32> = (0..c * lh * lw)
        .map(|i| ((i * 7919 % 13) as f32 - 6.0) * if i % 5 == 0 { 1.0 } else { 0.3 })
        .collect();
    let size = (700, 452);
    let z = Tensor::<4>::from_data(TensorData::new(latent.clone(), [1, c, lh, lw]), &device);
    let one = decode_latents(&model, z, (lw as u32 * 16, lh as u32 * 16), size).unwrap();
    let t = Tiling::new(&model, 16, 64).unwrap();
    let parts = tiles::decode(&model, &latent, (c, lh, lw), size, &t, &device).unwrap();
    let d = largest_difference(&one[0], &parts);
    assert!(d <= 1, "tiled decoding differs by up to {d} levels");
    // The halo matters: without it the tiles' borders show.
    let bare = Tiling { halo: 0, ..t };
    let cut = tiles::decode(&model, &latent, (c, lh, lw), size, &bare, &device).unwrap();
    let worst = largest_difference(&one[0], &cut);
    assert!(worst > 1, "tiles without a halo differ by only {worst}");
}

/// The peak memory `niclab` printed.
fn peak_mb(stdout: &str) -> u64 {
    let at = stdout.find("peak memory ").expect(stdout) + "peak memory ".len();
    stdout[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_24_megapixel_image_round_trips_under_1_5_gb() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (6000, 4000);
    let img = mosaic(w, h);
    let src = dir.path().join("big.png");
    img.save(&src).unwrap();
    let run = |args: &[&Path]| {
        let out = Command::new(env!("CARGO_BIN_EXE_niclab"))
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let nic = dir.path().join("big.nic");
    let back = dir.path().join("back.png");
    let c = run(&[Path::new("compress"), &src, &nic]);
    let d = run(&[Path::new("decompress"), &nic, &back]);
    for (what, out) in [("compress", &c), ("decompress", &d)] {
        let mb = peak_mb(out);
        assert!(mb < 1536, "{what}: peak memory {mb} MB: {out}");
        assert!(out.contains("24.00 MP"), "{out}");
    }
    let decoded = image::open(&back).unwrap().to_rgb8();
    assert_eq!(decoded.dimensions(), (w, h));
    let psnr = niclab::metrics::psnr(&img, &decoded).unwrap();
    assert!(psnr > 24.0, "PSNR {psnr:.2}");
    let bytes = std::fs::metadata(&nic).unwrap().len();
    let bpp = bytes as f64 * 8.0 / (w * h) as f64;
    assert!(bpp > 0.05 && bpp < 2.0, "{bpp} bpp");
}
