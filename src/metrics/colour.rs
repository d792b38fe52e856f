//! Colour fidelity, which SSIM per RGB channel barely sees: the mean CIEDE2000 colour
//! difference (ΔE00) and PSNR on the Y, Cb and Cr planes.
//!
//! ΔE00 is scikit-image's `deltaE_ciede2000(rgb2lab(a), rgb2lab(b))` averaged over pixels:
//! sRGB (IEC 61966-2-1) to linear light, to CIE XYZ, to CIELAB with the D65 white of the 2°
//! observer, then Sharma, Wu and Dalal's CIEDE2000 with kL = kC = kH = 1. A ΔE00 of about 1
//! is the smallest difference a person sees side by side; above about 5 two patches read
//! as different colours.
//!
//! Y, Cb and Cr are JPEG's full-range planes (ITU-T T.871, the JFIF transform): what
//! JPEG, WebP and AVIF code, and where a codec's chroma loss shows. They are kept unrounded,
//! so these PSNRs measure the image, not a second quantisation; each is capped at 100 dB.

use std::f64::consts::PI;
use std::sync::OnceLock;

use anyhow::Result;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::same_size;

/// Colour scores of one image against a reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Colour {
    /// Mean CIEDE2000 over pixels (0: the same colours).
    pub delta_e: f64,
    /// PSNR of the luma plane, dB (peak 255; at most [`MAX_PLANE_PSNR`]).
    pub psnr_y: f64,
    /// PSNR of the blue-difference chroma plane, dB.
    pub psnr_cb: f64,
    /// PSNR of the red-difference chroma plane, dB.
    pub psnr_cr: f64,
}

impl Colour {
    /// Mean of each score over `items` (NaN when there are none).
    pub fn mean<'a>(items: impl IntoIterator<Item = &'a Colour>) -> Colour {
        let (mut sum, mut n) = ([0.0; 4], 0usize);
        for c in items {
            for (s, v) in sum.iter_mut().zip(c.values()) {
                *s += v;
            }
            n += 1;
        }
        let m = sum.map(|s| s / n as f64);
        Colour {
            delta_e: m[0],
            psnr_y: m[1],
            psnr_cb: m[2],
            psnr_cr: m[3],
        }
    }

    fn values(&self) -> [f64; 4] {
        [self.delta_e, self.psnr_y, self.psnr_cb, self.psnr_cr]
    }
}

/// ΔE00 and the Y/Cb/Cr PSNRs of `b` against `a`.
pub fn colour(a: &RgbImage, b: &RgbImage) -> Result<Colour> {
    Reference::new(a).colour(b)
}

/// A reference image with its CIELAB values, computed once for scoring several images
/// against it (an evaluation scores the autoencoder's and JPEG's against one original).
pub struct Reference<'a> {
    img: &'a RgbImage,
    lab: Vec<[f64; 3]>,
}

impl<'a> Reference<'a> {
    /// `img` and its CIELAB pixels.
    pub fn new(img: &'a RgbImage) -> Self {
        let lab = img
            .as_raw()
            .chunks_exact(3)
            .map(|p| lab([p[0], p[1], p[2]]))
            .collect();
        Self { img, lab }
    }

    /// ΔE00 and the Y/Cb/Cr PSNRs of `b` against the reference.
    pub fn colour(&self, b: &RgbImage) -> Result<Colour> {
        same_size(self.img, b)?;
        let [psnr_y, psnr_cb, psnr_cr] = ycbcr_psnr(self.img, b);
        Ok(Colour {
            delta_e: self.mean_delta_e(b),
            psnr_y,
            psnr_cb,
            psnr_cr,
        })
    }

    /// Mean CIEDE2000 of `b` (same size) against the reference.
    fn mean_delta_e(&self, b: &RgbImage) -> f64 {
        let (ra, rb) = (self.img.as_raw(), b.as_raw());
        let n = ra.len() / 3;
        let mut sum = 0.0;
        for ((pa, pb), la) in ra.chunks_exact(3).zip(rb.chunks_exact(3)).zip(&self.lab) {
            if pa != pb {
                sum += ciede2000(*la, lab([pb[0], pb[1], pb[2]]));
            }
        }
        sum / n.max(1) as f64
    }
}

/// sRGB values above this are on the power segment of the transfer function.
pub const SRGB_KNEE: f64 = 0.04045;
/// Linear RGB (sRGB primaries) to CIE XYZ, scikit-image's matrix.
pub const RGB_TO_XYZ: [[f64; 3]; 3] = [
    [0.412453, 0.357580, 0.180423],
    [0.212671, 0.715160, 0.072169],
    [0.019334, 0.119193, 0.950227],
];
/// The D65 white of the 2° observer, in XYZ.
pub const D65_WHITE: [f64; 3] = [0.95047, 1.0, 1.08883];
/// CIELAB's `f(t)` is a cube root above this and the line `LAB_SLOPE t + 16/116` below.
pub const LAB_KNEE: f64 = 0.008856;
/// Slope of CIELAB's linear segment.
pub const LAB_SLOPE: f64 = 7.787;

/// The sRGB transfer function undone, for each 8-bit value.
fn linear_lut() -> &'static [f64; 256] {
    static LUT: OnceLock<[f64; 256]> = OnceLock::new();
    LUT.get_or_init(|| {
        std::array::from_fn(|i| {
            let v = i as f64 / 255.0;
            if v > SRGB_KNEE {
                ((v + 0.055) / 1.055).powf(2.4)
            } else {
                v / 12.92
            }
        })
    })
}

/// CIELAB of an 8-bit sRGB pixel (D65, 2° observer), as scikit-image's `rgb2lab`.
pub fn lab(rgb: [u8; 3]) -> [f64; 3] {
    let lut = linear_lut();
    let l = rgb.map(|v| lut[v as usize]);
    let f = |row: usize| {
        let m = RGB_TO_XYZ[row];
        let t = (m[0] * l[0] + m[1] * l[1] + m[2] * l[2]) / D65_WHITE[row];
        if t > LAB_KNEE {
            cube_root(t)
        } else {
            LAB_SLOPE * t + 16.0 / 116.0
        }
    };
    let (x, y, z) = (f(0), f(1), f(2));
    [116.0 * y - 16.0, 500.0 * (x - y), 200.0 * (y - z)]
}

/// The cube root of `t` in (0.0089, 1.1), where CIELAB takes it: a bit-level estimate (3 %)
/// and two Halley steps, within 1e-14 of the exact root and a fifth of the time of `cbrt`
/// (Rust links a software one) or `powf`, which were two thirds of the cost of ΔE00.
fn cube_root(t: f64) -> f64 {
    let mut y = f64::from_bits(t.to_bits() / 3 + 0x2A9F_7893_782D_A1CE);
    for _ in 0..2 {
        let y3 = y * y * y;
        y *= (y3 + 2.0 * t) / (2.0 * y3 + t);
    }
    y
}

/// CIEDE2000 between two CIELAB colours (Sharma, Wu, Dalal 2005; kL = kC = kH = 1), in the
/// order of scikit-image's `deltaE_ciede2000`.
pub fn ciede2000(lab1: [f64; 3], lab2: [f64; 3]) -> f64 {
    const P25_7: f64 = 6_103_515_625.0; // 25^7
    let [l1, a1, b1] = lab1;
    let [l2, a2, b2] = lab2;
    // a* is stretched by the mean chroma first; everything after works in the stretched
    // (primed) coordinates.
    let cbar = 0.5 * ((a1 * a1 + b1 * b1).sqrt() + (a2 * a2 + b2 * b2).sqrt());
    let c7 = cbar.powi(7);
    let g = 0.5 * (1.0 - (c7 / (c7 + P25_7)).sqrt());
    let scale = 1.0 + g;
    let polar = |a: f64, b: f64| {
        let (x, y) = (a * scale, b);
        let t = y.atan2(x);
        (
            (x * x + y * y).sqrt(),
            if t < 0.0 { t + 2.0 * PI } else { t },
        )
    };
    let (c1, h1) = polar(a1, b1);
    let (c2, h2) = polar(a2, b2);

    let lbar = 0.5 * (l1 + l2);
    let tmp = (lbar - 50.0).powi(2);
    let sl = 1.0 + 0.015 * tmp / (20.0 + tmp).sqrt();
    let l_term = (l2 - l1) / sl;

    let cbar = 0.5 * (c1 + c2);
    let sc = 1.0 + 0.045 * cbar;
    let c_term = (c2 - c1) / sc;

    let h_diff = h2 - h1;
    let h_sum = h1 + h2;
    let cc = c1 * c2;
    let mut dh = h_diff;
    if h_diff > PI {
        dh -= 2.0 * PI;
    }
    if h_diff < -PI {
        dh += 2.0 * PI;
    }
    if cc == 0.0 {
        dh = 0.0;
    }
    let dh_term = 2.0 * cc.sqrt() * (dh / 2.0).sin();

    let mut hbar = h_sum;
    if cc != 0.0 && h_diff.abs() > PI {
        if h_sum < 2.0 * PI {
            hbar += 2.0 * PI;
        } else {
            hbar -= 2.0 * PI;
        }
    }
    if cc == 0.0 {
        hbar *= 2.0;
    }
    hbar *= 0.5;

    // T = 1 - 0.17 cos(h - 30°) + 0.24 cos 2h + 0.32 cos(3h + 6°) - 0.20 cos(4h - 63°), the
    // multiple angles from one sine and cosine (a third of the time, the same to 1e-15).
    let (sn1, cs1) = hbar.sin_cos();
    let (sn2, cs2) = (2.0 * sn1 * cs1, 2.0 * cs1 * cs1 - 1.0);
    let (sn3, cs3) = (sn1 * (3.0 - 4.0 * sn1 * sn1), cs1 * (4.0 * cs1 * cs1 - 3.0));
    let (sn4, cs4) = (2.0 * sn2 * cs2, 2.0 * cs2 * cs2 - 1.0);
    // sin and cos of 30°, 6° and 63°.
    let (sin30, cos30) = (0.49999999999999994, 0.8660254037844387);
    let (sin6, cos6) = (0.10452846326765347, 0.9945218953682733);
    let (sin63, cos63) = (0.8910065241883678, 0.4539904997395468);
    let t =
        1.0 - 0.17 * (cs1 * cos30 + sn1 * sin30) + 0.24 * cs2 + 0.32 * (cs3 * cos6 - sn3 * sin6)
            - 0.20 * (cs4 * cos63 + sn4 * sin63);
    let sh = 1.0 + 0.015 * cbar * t;
    let h_term = dh_term / sh;

    let c7 = cbar.powi(7);
    let rc = 2.0 * (c7 / (c7 + P25_7)).sqrt();
    let dtheta = 30f64.to_radians() * (-((hbar.to_degrees() - 275.0) / 25.0).powi(2)).exp();
    let r_term = -(2.0 * dtheta).sin() * rc * c_term * h_term;

    let de2 = l_term * l_term + c_term * c_term + h_term * h_term + r_term;
    de2.max(0.0).sqrt()
}

/// The JFIF transform's three rows, in millionths (T.871 gives six decimals, so these are
/// exact; Y, Cb and Cr without their constant offsets, which cancel in a difference).
/// Integers keep a grey image's chroma error exactly 0, where floats would leave 1e-17.
const YCBCR: [[i64; 3]; 3] = [
    [299_000, 587_000, 114_000],
    [-168_736, -331_264, 500_000],
    [500_000, -418_688, -81_312],
];

/// Plane PSNRs stop here: an exact plane (the chroma of a grey image) would be infinite and
/// make every mean over images infinite.
pub const MAX_PLANE_PSNR: f64 = 100.0;

/// PSNR (peak 255, at most [`MAX_PLANE_PSNR`]) of the Y, Cb and Cr planes.
fn ycbcr_psnr(a: &RgbImage, b: &RgbImage) -> [f64; 3] {
    let mut se = [0u128; 3];
    for (pa, pb) in a.as_raw().chunks_exact(3).zip(b.as_raw().chunks_exact(3)) {
        let d = [0, 1, 2].map(|c| pa[c] as i64 - pb[c] as i64);
        for (s, row) in se.iter_mut().zip(&YCBCR) {
            let v = row[0] * d[0] + row[1] * d[1] + row[2] * d[2];
            *s += (v * v) as u128;
        }
    }
    let n = (a.as_raw().len() / 3).max(1) as f64;
    se.map(|s| {
        let mse = s as f64 / 1e12 / n;
        (10.0 * (255.0 * 255.0 / mse).log10()).min(MAX_PLANE_PSNR)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cube_root_is_exact_to_1e14_over_its_range() {
        let mut t = 0.0088f64;
        while t < 1.2 {
            let want = t.cbrt();
            assert!((cube_root(t) - want).abs() <= 1e-14 * want, "{t}");
            t *= 1.001;
        }
    }

    #[test]
    fn sharma_reference_pairs() {
        // Pairs 1, 7, 17 and 25 of Sharma, Wu and Dalal's test data (their Table 1).
        let cases = [
            ([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485], 2.0425),
            ([50.0, 0.0, 0.0], [50.0, -1.0, 2.0], 2.3669),
            ([50.0, 2.5, 0.0], [73.0, 25.0, -18.0], 27.1492),
            (
                [60.2574, -34.0099, 36.2677],
                [60.4626, -34.1751, 39.4387],
                1.2644,
            ),
        ];
        for (a, b, want) in cases {
            let got = ciede2000(a, b);
            assert!((got - want).abs() < 5e-5, "{a:?} {b:?}: {got} vs {want}");
            assert!((ciede2000(b, a) - got).abs() < 1e-12, "symmetric");
        }
    }

    #[test]
    fn white_is_l100_and_identical_images_score_zero() {
        let w = lab([255, 255, 255]);
        assert!((w[0] - 100.0).abs() < 1e-3 && w[1].abs() < 1e-2 && w[2].abs() < 1e-2);
        let img = RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8 * 30, y as u8 * 30, 9]));
        let c = colour(&img, &img).unwrap();
        assert_eq!(c.delta_e, 0.0);
        assert_eq!(c.psnr_y, MAX_PLANE_PSNR);
    }

    #[test]
    fn a_grey_shift_moves_luma_not_chroma() {
        let a = RgbImage::from_pixel(4, 4, image::Rgb([100, 120, 140]));
        let b = RgbImage::from_pixel(4, 4, image::Rgb([110, 130, 150]));
        let c = colour(&a, &b).unwrap();
        // Y moves by 10, Cb and Cr not at all (their rows sum to 0).
        assert!((c.psnr_y - 10.0 * (255.0f64 * 255.0 / 100.0).log10()).abs() < 1e-9);
        assert_eq!((c.psnr_cb, c.psnr_cr), (MAX_PLANE_PSNR, MAX_PLANE_PSNR));
        assert!(c.delta_e > 1.0);
    }
}
