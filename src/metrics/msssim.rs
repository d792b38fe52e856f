//! MS-SSIM (Wang, Simoncelli and Bovik 2003), as `pytorch_msssim.ms_ssim` computes it and
//! CompressAI reports it: five scales with weights 0.0448, 0.2856, 0.3001, 0.2363, 0.1333;
//! at each scale the contrast-structure term (the luminance term too at the coarsest), from
//! the same Gaussian 11x11 window (sigma 1.5) over the valid region as [`super::ssim`];
//! between scales a 2x2 average pool (an odd side padded by one zero on both ends, counted
//! in the mean); negative terms clipped to 0; the product taken per RGB channel, then the
//! mean over channels. Data range 255.
//!
//! The window is exact in float64 (pytorch_msssim builds its default one in float32, which
//! moves MS-SSIM by about 1e-6; the tests hand it the float64 window).
//!
//! Four halvings of an 11-pixel window need sides of at least [`MS_SSIM_MIN_SIDE`] pixels:
//! on smaller images (the 128x128 test crops) MS-SSIM is not defined.

use anyhow::{Result, ensure};
use image::RgbImage;

use super::same_size;
use crate::loss::{SSIM_WINDOW, gaussian_window};

/// Weights of the five scales, finest first.
pub const MS_SSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

/// The smallest side MS-SSIM accepts: (11 − 1) · 2⁴ + 1.
pub const MS_SSIM_MIN_SIDE: usize = (SSIM_WINDOW - 1) * 16 + 1;

/// Whether an image of this size has an MS-SSIM.
pub fn has_ms_ssim(width: u32, height: u32) -> bool {
    width.min(height) as usize >= MS_SSIM_MIN_SIDE
}

/// One channel at one scale, row-major.
struct Plane {
    w: usize,
    h: usize,
    v: Vec<f64>,
}

impl Plane {
    fn channel(img: &RgbImage, c: usize) -> Self {
        Self {
            w: img.width() as usize,
            h: img.height() as usize,
            v: img
                .as_raw()
                .iter()
                .skip(c)
                .step_by(3)
                .map(|&x| f64::from(x))
                .collect(),
        }
    }

    /// 2x2 average pooling; an odd side gets one zero of padding at each end (PyTorch's
    /// `avg_pool2d(kernel_size=2, padding=side % 2)`, padding counted in the mean).
    fn pool(&self) -> Self {
        let (px, py) = (self.w % 2, self.h % 2);
        let (w, h) = ((self.w + 2 * px - 2) / 2 + 1, (self.h + 2 * py - 2) / 2 + 1);
        let at = |x: isize, y: isize| -> f64 {
            if x < 0 || y < 0 || x >= self.w as isize || y >= self.h as isize {
                0.0
            } else {
                self.v[y as usize * self.w + x as usize]
            }
        };
        let mut v = Vec::with_capacity(w * h);
        for oy in 0..h {
            let y = (2 * oy) as isize - py as isize;
            for ox in 0..w {
                let x = (2 * ox) as isize - px as isize;
                v.push((at(x, y) + at(x + 1, y) + at(x, y + 1) + at(x + 1, y + 1)) / 4.0);
            }
        }
        Self { w, h, v }
    }
}

/// Separable valid Gaussian filter of a plane: rows, then columns.
fn filter(p: &[f64], w: usize, h: usize, g: &[f64; SSIM_WINDOW]) -> Vec<f64> {
    let (ow, oh) = (w + 1 - SSIM_WINDOW, h + 1 - SSIM_WINDOW);
    let mut rows = vec![0.0; ow * h];
    for r in 0..h {
        let src = &p[r * w..(r + 1) * w];
        let out = &mut rows[r * ow..(r + 1) * ow];
        for (k, gk) in g.iter().enumerate() {
            for (o, v) in out.iter_mut().zip(&src[k..k + ow]) {
                *o += gk * v;
            }
        }
    }
    let mut out = vec![0.0; ow * oh];
    for r in 0..oh {
        let dst = &mut out[r * ow..(r + 1) * ow];
        for (k, gk) in g.iter().enumerate() {
            for (o, v) in dst.iter_mut().zip(&rows[(r + k) * ow..(r + k + 1) * ow]) {
                *o += gk * v;
            }
        }
    }
    out
}

/// Mean SSIM and mean contrast-structure term of two planes.
fn ssim_cs(x: &Plane, y: &Plane, g: &[f64; SSIM_WINDOW]) -> (f64, f64) {
    let (c1, c2) = ((0.01 * 255.0f64).powi(2), (0.03 * 255.0f64).powi(2));
    let (w, h) = (x.w, x.h);
    let prod = |f: &dyn Fn(f64, f64) -> f64| -> Vec<f64> {
        x.v.iter().zip(&y.v).map(|(a, b)| f(*a, *b)).collect()
    };
    let mx = filter(&x.v, w, h, g);
    let my = filter(&y.v, w, h, g);
    let sxx = filter(&prod(&|a, _| a * a), w, h, g);
    let syy = filter(&prod(&|_, b| b * b), w, h, g);
    let sxy = filter(&prod(&|a, b| a * b), w, h, g);
    let (mut s, mut cs) = (0.0, 0.0);
    for i in 0..mx.len() {
        let (ux, uy) = (mx[i], my[i]);
        let vx = sxx[i] - ux * ux;
        let vy = syy[i] - uy * uy;
        let cov = sxy[i] - ux * uy;
        let c = (2.0 * cov + c2) / (vx + vy + c2);
        cs += c;
        s += (2.0 * ux * uy + c1) / (ux * ux + uy * uy + c1) * c;
    }
    let n = mx.len() as f64;
    (s / n, cs / n)
}

/// MS-SSIM of `b` against `a` (see the module's notes); both sides at least
/// [`MS_SSIM_MIN_SIDE`] pixels.
pub fn ms_ssim(a: &RgbImage, b: &RgbImage) -> Result<f64> {
    same_size(a, b)?;
    ensure!(
        has_ms_ssim(a.width(), a.height()),
        "MS-SSIM needs images of at least {MS_SSIM_MIN_SIDE}x{MS_SSIM_MIN_SIDE} (five \
         scales of an 11-pixel window), got {}x{}",
        a.width(),
        a.height()
    );
    let g = gaussian_window();
    let mut total = 0.0;
    for c in 0..3 {
        let (mut x, mut y) = (Plane::channel(a, c), Plane::channel(b, c));
        let mut value = 1.0;
        for (level, weight) in MS_SSIM_WEIGHTS.iter().enumerate() {
            let (s, cs) = ssim_cs(&x, &y, &g);
            if level + 1 < MS_SSIM_WEIGHTS.len() {
                value *= cs.max(0.0).powf(*weight);
                x = x.pool();
                y = y.pool();
            } else {
                value *= s.max(0.0).powf(*weight);
            }
        }
        total += value;
    }
    Ok(total / 3.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_images_score_one_and_small_ones_are_refused() {
        let img = RgbImage::from_fn(170, 163, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        });
        assert!((ms_ssim(&img, &img).unwrap() - 1.0).abs() < 1e-12);
        let small = RgbImage::new(160, 300);
        let e = ms_ssim(&small, &small).unwrap_err().to_string();
        assert!(e.contains("161x161") && e.contains("160x300"), "{e}");
        assert!(!has_ms_ssim(128, 128) && has_ms_ssim(161, 161));
    }

    #[test]
    fn pooling_pads_odd_sides_at_both_ends() {
        let p = Plane {
            w: 3,
            h: 2,
            v: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        let q = p.pool();
        // Width 3 pads to 5 columns (0 | 1 2 3 | 0): windows [0,1] and [2,3]; height 2 is
        // even, no padding.
        assert_eq!((q.w, q.h), (2, 1));
        assert_eq!(q.v, vec![(1.0 + 4.0) / 4.0, (2.0 + 3.0 + 5.0 + 6.0) / 4.0]);
    }
}
