//! Image quality on 8-bit RGB, in f64: PSNR and SSIM as scikit-image and `tf.image.ssim`
//! compute them (the paper's quality module), and colour fidelity ([`colour`]: CIEDE2000,
//! PSNR of Y, Cb, Cr).

pub mod colour;
pub mod msssim;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use burn::prelude::*;
use image::RgbImage;
use serde::Serialize;

use crate::data::batches::image_to_tensor;
use crate::data::images::{list_images, load_rgb};
use crate::loss::{SSIM_WINDOW, gaussian_window, perceptual};
use crate::vgg::{Vgg16, VggLayer};
pub use colour::Colour;

pub(crate) fn same_size(a: &RgbImage, b: &RgbImage) -> Result<()> {
    ensure!(
        a.dimensions() == b.dimensions(),
        "images differ in size: {}x{} and {}x{}",
        a.width(),
        a.height(),
        b.width(),
        b.height()
    );
    Ok(())
}

/// PSNR in dB with peak 255, the MSE taken over all pixels and channels; infinite for
/// identical images.
pub fn psnr(a: &RgbImage, b: &RgbImage) -> Result<f64> {
    same_size(a, b)?;
    let n = a.as_raw().len() as f64;
    let se: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| {
            let d = *x as f64 - *y as f64;
            d * d
        })
        .sum();
    Ok(10.0 * (255.0 * 255.0 / (se / n)).log10())
}

/// SSIM (Wang et al. 2004): Gaussian 11x11 window with sigma 1.5, K1 = 0.01, K2 = 0.03,
/// data range 255, population covariance, each channel over the valid region (windows fully
/// inside the image), then the mean over channels. Equal to scikit-image's
/// `structural_similarity(channel_axis=-1, data_range=255, gaussian_weights=True, sigma=1.5,
/// use_sample_covariance=False)`. Both sides must be at least 11 pixels.
pub fn ssim(a: &RgbImage, b: &RgbImage) -> Result<f64> {
    same_size(a, b)?;
    let (w, h) = (a.width() as usize, a.height() as usize);
    ensure!(
        w >= SSIM_WINDOW && h >= SSIM_WINDOW,
        "SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {w}x{h}"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return Ok(unsafe { ssim_avx2(a, b) });
    }
    Ok(ssim_body(a, b))
}

/// [`ssim_body`] compiled for AVX2: four lanes instead of two, and the same result, since
/// Rust never fuses a multiply and an add by itself.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn ssim_avx2(a: &RgbImage, b: &RgbImage) -> f64 {
    ssim_body(a, b)
}

/// The five maps (x, y, x², y², xy) are filtered in one fused pass per channel: rows first,
/// then each output row is summed over its 11 input rows and turned into SSIM values at once.
/// Maps are planar so the tap loops vectorise; each sum runs over the taps in order.
#[inline(always)]
fn ssim_body(a: &RgbImage, b: &RgbImage) -> f64 {
    let (w, h) = (a.width() as usize, a.height() as usize);
    let g = gaussian_window();
    let (c1, c2) = ((0.01 * 255.0f64).powi(2), (0.03 * 255.0f64).powi(2));
    let (ow, oh) = (w + 1 - SSIM_WINDOW, h + 1 - SSIM_WINDOW);
    let mut rows: [Vec<f64>; 5] = std::array::from_fn(|_| vec![0.0; ow * h]);
    let mut line: [Vec<f64>; 5] = std::array::from_fn(|_| vec![0.0; w]);
    let mut acc: [Vec<f64>; 5] = std::array::from_fn(|_| vec![0.0; ow]);
    let (ra, rb) = (a.as_raw(), b.as_raw());
    let mut total = 0.0;
    for c in 0..3 {
        for r in 0..h {
            let [lx, ly, lxx, lyy, lxy] = &mut line;
            for i in 0..w {
                let j = (r * w + i) * 3 + c;
                let (x, y) = (ra[j] as f64, rb[j] as f64);
                lx[i] = x;
                ly[i] = y;
                lxx[i] = x * x;
                lyy[i] = y * y;
                lxy[i] = x * y;
            }
            for (dst, src) in rows.iter_mut().zip(&line) {
                let out = &mut dst[r * ow..(r + 1) * ow];
                out.fill(0.0);
                for (k, gk) in g.iter().enumerate() {
                    for (o, v) in out.iter_mut().zip(&src[k..k + ow]) {
                        *o += gk * v;
                    }
                }
            }
        }
        let mut sum = 0.0;
        for r in 0..oh {
            for (a, src) in acc.iter_mut().zip(&rows) {
                a.fill(0.0);
                for (k, gk) in g.iter().enumerate() {
                    for (o, v) in a.iter_mut().zip(&src[(r + k) * ow..(r + k + 1) * ow]) {
                        *o += gk * v;
                    }
                }
            }
            let [mx, my, sxx, syy, sxy] = &acc;
            for i in 0..ow {
                let (ux, uy) = (mx[i], my[i]);
                let vx = sxx[i] - ux * ux;
                let vy = syy[i] - uy * uy;
                let cov = sxy[i] - ux * uy;
                sum += ((2.0 * ux * uy + c1) * (2.0 * cov + c2))
                    / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            }
        }
        total += sum / (ow * oh) as f64;
    }
    total / 3.0
}

/// Quality of one image against a reference. PSNR is `null` in JSON for identical images.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Quality {
    /// dB, peak 255.
    pub psnr: f64,
    /// Mean SSIM.
    pub ssim: f64,
    /// MS-SSIM ([`msssim`]); `None` for images under 161 pixels a side, where it is not
    /// defined.
    pub ms_ssim: Option<f64>,
    /// VGG16 perceptual distance (as in the loss), if computed.
    pub perceptual: Option<f64>,
    /// Mean CIEDE2000 and the PSNRs of Y, Cb and Cr.
    #[serde(flatten)]
    pub colour: Colour,
}

/// The VGG16 half of the quality module: frozen weights and the layers compared.
pub struct Perceptual {
    vgg: Vgg16,
    layers: Vec<VggLayer>,
    device: Device,
}

impl Perceptual {
    /// Loads VGG16 on the CPU.
    pub fn load(weights: &Path, layers: Vec<VggLayer>) -> Result<Self> {
        ensure!(!layers.is_empty(), "no VGG16 layer chosen");
        let device = Device::flex();
        let vgg = Vgg16::load(weights, &device)?;
        Ok(Self {
            vgg,
            layers,
            device,
        })
    }

    /// Perceptual distance between two images of equal size.
    pub fn distance(&self, a: &RgbImage, b: &RgbImage) -> Result<f64> {
        same_size(a, b)?;
        let t = |img: &RgbImage| image_to_tensor(img, &self.device);
        let d = perceptual(&self.vgg, &self.layers, t(a), t(b));
        Ok(d.into_scalar::<f32>() as f64)
    }
}

/// PSNR, SSIM, MS-SSIM (where defined), colour and (with `vgg`) the perceptual distance of
/// `b` against `a`.
pub fn compare(a: &RgbImage, b: &RgbImage, vgg: Option<&Perceptual>) -> Result<Quality> {
    Ok(Quality {
        psnr: psnr(a, b)?,
        ssim: ssim(a, b)?,
        ms_ssim: msssim::has_ms_ssim(a.width(), a.height())
            .then(|| msssim::ms_ssim(a, b))
            .transpose()?,
        perceptual: vgg.map(|v| v.distance(a, b)).transpose()?,
        colour: colour::colour(a, b)?,
    })
}

/// Compares two image files; errors name the files.
pub fn compare_files(a: &Path, b: &Path, vgg: Option<&Perceptual>) -> Result<Quality> {
    let (x, y) = (load_rgb(a)?, load_rgb(b)?);
    compare(&x, &y, vgg).with_context(|| format!("{} vs {}", a.display(), b.display()))
}

/// One pair of a folder comparison.
#[derive(Debug, Clone, Serialize)]
pub struct PairQuality {
    /// Path relative to both folders.
    pub name: PathBuf,
    /// Its quality.
    #[serde(flatten)]
    pub quality: Quality,
}

/// Compares every image of folder `a` with the file of the same relative path in `b`.
/// Images present on one side only are an error listing them.
pub fn compare_folders(a: &Path, b: &Path, vgg: Option<&Perceptual>) -> Result<Vec<PairQuality>> {
    let rel = |dir: &Path| -> Result<Vec<PathBuf>> {
        let (files, _) = list_images(dir)?;
        Ok(files
            .into_iter()
            .filter_map(|f| f.strip_prefix(dir).ok().map(Path::to_path_buf))
            .collect())
    };
    let (ra, rb) = (rel(a)?, rel(b)?);
    let only = |x: &[PathBuf], y: &[PathBuf]| -> Vec<String> {
        x.iter()
            .filter(|p| !y.contains(p))
            .map(|p| p.display().to_string())
            .collect()
    };
    let (only_a, only_b) = (only(&ra, &rb), only(&rb, &ra));
    if !only_a.is_empty() || !only_b.is_empty() {
        bail!(
            "the folders do not pair up: {} image(s) only in {} ({}), {} only in {} ({})",
            only_a.len(),
            a.display(),
            preview(&only_a),
            only_b.len(),
            b.display(),
            preview(&only_b)
        );
    }
    let bar = crate::progress::bar(ra.len(), "comparing");
    let mut rows = Vec::with_capacity(ra.len());
    for name in ra {
        let quality = compare_files(&a.join(&name), &b.join(&name), vgg)?;
        rows.push(PairQuality { name, quality });
        bar.inc(1);
    }
    bar.finish();
    Ok(rows)
}

fn preview(names: &[String]) -> String {
    let mut s = names.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 3 {
        s.push_str(", ...");
    }
    if s.is_empty() { "none".into() } else { s }
}

/// Means over pairs (PSNR is infinite if any pair is identical).
pub fn mean(rows: &[PairQuality]) -> Quality {
    let n = rows.len().max(1) as f64;
    let sum = |f: &dyn Fn(&Quality) -> f64| rows.iter().map(|r| f(&r.quality)).sum::<f64>() / n;
    Quality {
        psnr: sum(&|q| q.psnr),
        ssim: sum(&|q| q.ssim),
        ms_ssim: rows
            .iter()
            .all(|r| r.quality.ms_ssim.is_some())
            .then(|| sum(&|q| q.ms_ssim.unwrap_or(0.0))),
        perceptual: rows
            .iter()
            .all(|r| r.quality.perceptual.is_some())
            .then(|| sum(&|q| q.perceptual.unwrap_or(0.0))),
        colour: Colour::mean(rows.iter().map(|r| &r.quality.colour)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_images_and_size_errors() {
        let a = RgbImage::from_fn(20, 16, |x, y| image::Rgb([x as u8 * 9, y as u8 * 11, 77]));
        assert_eq!(psnr(&a, &a).unwrap(), f64::INFINITY);
        assert!((ssim(&a, &a).unwrap() - 1.0).abs() < 1e-12);
        let b = RgbImage::new(16, 20);
        assert!(
            psnr(&a, &b)
                .unwrap_err()
                .to_string()
                .contains("differ in size")
        );
        let tiny = RgbImage::new(10, 10);
        assert!(
            ssim(&tiny, &tiny)
                .unwrap_err()
                .to_string()
                .contains("at least 11x11")
        );
    }

    #[test]
    fn psnr_of_a_uniform_offset() {
        let a = RgbImage::from_pixel(4, 4, image::Rgb([100, 100, 100]));
        let b = RgbImage::from_pixel(4, 4, image::Rgb([110, 100, 100]));
        // MSE = 100 / 3.
        let expected = 10.0 * (255.0f64 * 255.0 * 3.0 / 100.0).log10();
        assert!((psnr(&a, &b).unwrap() - expected).abs() < 1e-12);
    }
}
