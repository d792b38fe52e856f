//! SSIM and PSNR against scikit-image on real photo crops and their JPEG q75/q20 versions
//! (fixture made by tests/fixtures/make_quality_fixture.py).

use std::path::Path;

use burn::prelude::*;
use niclab::data::batches::image_to_tensor;
use niclab::metrics::{psnr, ssim};

const DIR: &str = "tests/fixtures/quality";

fn load(name: &str) -> image::RgbImage {
    image::open(Path::new(DIR).join(name)).unwrap().to_rgb8()
}

/// (a, b, scikit-image SSIM, scikit-image PSNR) rows.
fn expected() -> Vec<(String, String, f64, f64)> {
    let text = std::fs::read_to_string(Path::new(DIR).join("expected.tsv")).unwrap();
    let rows: Vec<_> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 8, "4 photos x (q75, q20)");
    rows
}

#[test]
fn f64_metrics_match_scikit_image() {
    let (mut worst_s, mut worst_p) = (0f64, 0f64);
    for (a, b, want_ssim, want_psnr) in expected() {
        let (x, y) = (load(&a), load(&b));
        let s = ssim(&x, &y).unwrap();
        let p = psnr(&x, &y).unwrap();
        worst_s = worst_s.max((s - want_ssim).abs());
        worst_p = worst_p.max((p - want_psnr).abs());
        assert!(
            (s - want_ssim).abs() <= 1e-5,
            "{b}: SSIM {s} vs {want_ssim}"
        );
        assert!(
            (p - want_psnr).abs() <= 1e-6,
            "{b}: PSNR {p} vs {want_psnr}"
        );
        assert!(s < 0.999 && p < 60.0, "{b}: a real difference");
    }
    eprintln!("f64 metrics: max |SSIM - skimage| {worst_s:e}, max |PSNR - skimage| {worst_p:e} dB");
}

#[test]
fn differentiable_ssim_matches_scikit_image() {
    let device = Device::flex();
    let mut worst = 0f64;
    for (a, b, want, _) in expected() {
        let got = niclab::loss::ssim(
            image_to_tensor(&load(&a), &device),
            image_to_tensor(&load(&b), &device),
        )
        .into_scalar::<f32>() as f64;
        assert!((got - want).abs() <= 1e-5, "{b}: SSIM {got} vs {want}");
        worst = worst.max((got - want).abs());
    }
    eprintln!("differentiable SSIM (f32): max |SSIM - skimage| {worst:e}");
}
