//! The paper's hybrid loss `L = a (1 - SSIM) + b Perceptual + c MSE`, built from
//! differentiable burn terms; the perceptual term compares frozen VGG16 feature maps. Two
//! terms can be added on top: niclab's colour term (mean CIELAB distance) and a codec's rate.

use burn::prelude::*;
use burn::tensor::module::{avg_pool2d, conv2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions};

use crate::config::LossConfig;
use crate::metrics::colour::{D65_WHITE, LAB_KNEE, LAB_SLOPE, RGB_TO_XYZ, SRGB_KNEE};
use crate::model::Rate;
use crate::vgg::{Vgg16, VggLayer};

/// One term of the hybrid loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    /// `1 - SSIM`.
    Ssim,
    /// VGG16 feature distance.
    Perceptual,
    /// Mean squared error.
    Mse,
    /// Mean CIELAB colour difference (ΔE*ab) / 100.
    Colour,
    /// Bits per pixel of the latent under the entropy model.
    Rate,
    /// Bits per pixel of the hyperprior's hyper-latent (side information).
    SideRate,
}

impl Term {
    /// Short name used in logs and metric files.
    pub fn name(self) -> &'static str {
        match self {
            Term::Ssim => "ssim",
            Term::Perceptual => "perceptual",
            Term::Mse => "mse",
            Term::Colour => "colour",
            Term::Rate => "rate",
            Term::SideRate => "side_rate",
        }
    }
}

/// The loss of one batch: the weighted total and each unweighted term that has a weight.
pub struct LossTerms {
    /// `sum(weight * term)`, the value to minimise.
    pub total: Tensor<1>,
    /// Unweighted terms with their weights, in `Term` order.
    pub terms: Vec<(Term, f64, Tensor<1>)>,
}

impl LossTerms {
    /// Adds the rate term `lambda * bpp`: the latent's bits per pixel and, with a
    /// hyperprior, the hyper-latent's as a term of its own (the same `lambda`).
    pub fn with_rate(mut self, lambda: f64, rate: Rate) -> Self {
        self.total = self.total + rate.total() * lambda;
        self.terms.push((Term::Rate, lambda, rate.latent));
        if let Some(side) = rate.side {
            self.terms.push((Term::SideRate, lambda, side));
        }
        self
    }

    /// The weighted terms as numbers (they add up to the total).
    pub fn weighted(&self) -> TermValues {
        let mut v = TermValues::default();
        for (t, w, x) in &self.terms {
            *v.get_mut(*t) = Some(w * x.clone().into_scalar::<f32>() as f64);
        }
        v
    }
}

/// One number per loss term, `None` for a term that is off.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TermValues {
    /// `a (1 - SSIM)`.
    pub ssim: Option<f64>,
    /// `b Perceptual`.
    pub perceptual: Option<f64>,
    /// `c MSE`.
    pub mse: Option<f64>,
    /// `d ΔE*ab / 100`.
    pub colour: Option<f64>,
    /// `λ bpp` (the latent's).
    pub rate: Option<f64>,
    /// `λ bpp` of the hyper-latent.
    pub side_rate: Option<f64>,
}

impl TermValues {
    /// The slot of term `t`.
    pub fn get_mut(&mut self, t: Term) -> &mut Option<f64> {
        match t {
            Term::Ssim => &mut self.ssim,
            Term::Perceptual => &mut self.perceptual,
            Term::Mse => &mut self.mse,
            Term::Colour => &mut self.colour,
            Term::Rate => &mut self.rate,
            Term::SideRate => &mut self.side_rate,
        }
    }

    /// The terms that are on, in `Term` order.
    pub fn present(&self) -> Vec<(Term, f64)> {
        [
            (Term::Ssim, self.ssim),
            (Term::Perceptual, self.perceptual),
            (Term::Mse, self.mse),
            (Term::Colour, self.colour),
            (Term::Rate, self.rate),
            (Term::SideRate, self.side_rate),
        ]
        .into_iter()
        .filter_map(|(t, v)| v.map(|v| (t, v)))
        .collect()
    }

    /// `ssim,perceptual,mse,rate` for a CSV row, a term that is off left empty. The colour
    /// and side-rate terms, newer than the files' layout, go last in the row
    /// ([`TermValues::newer_csv`]).
    pub fn csv(&self) -> String {
        format!(
            "{},{},{},{}",
            csv_field(self.ssim),
            csv_field(self.perceptual),
            csv_field(self.mse),
            csv_field(self.rate)
        )
    }

    /// `colour,side_rate`, the terms added after the first runs (empty when off).
    pub fn newer_csv(&self) -> String {
        format!("{},{}", csv_field(self.colour), csv_field(self.side_rate))
    }

    /// Adds `k * other` term by term (for averaging over batches).
    pub fn add_scaled(&mut self, other: &TermValues, k: f64) {
        for (t, v) in other.present() {
            let slot = self.get_mut(t);
            *slot = Some(slot.unwrap_or(0.0) + k * v);
        }
    }
}

fn csv_field(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The weighted sum of SSIM, perceptual, MSE and colour terms; a term with weight 0 is not computed
/// (no VGG16 is even loaded when `b = 0`).
#[derive(Debug, Clone)]
pub struct HybridLoss {
    weights: LossConfig,
    vgg: Option<(Vgg16, Vec<VggLayer>)>,
}

/// VGG16 features are computed on the 0..255 scale its weights expect; dividing their squared
/// differences by 255² puts the perceptual term in [0, 1]-image units, like the pixel MSE.
pub const PERCEPTUAL_SCALE: f64 = 1.0 / (255.0 * 255.0);

impl HybridLoss {
    /// Checks the weights and loads VGG16 (frozen, on `device`) when the perceptual term is on.
    pub fn new(weights: &LossConfig, device: &Device) -> anyhow::Result<Self> {
        if weights.ssim + weights.perceptual + weights.mse <= 0.0 {
            anyhow::bail!(
                "the loss has no term: give loss.ssim, loss.perceptual or loss.mse a weight above 0"
            );
        }
        let vgg = if weights.perceptual > 0.0 {
            let mut layers = weights.vgg_layers.clone();
            layers.sort();
            layers.dedup();
            anyhow::ensure!(!layers.is_empty(), "loss.vgg_layers is empty");
            Some((Vgg16::load(&weights.vgg_weights, device)?, layers))
        } else {
            None
        };
        Ok(Self {
            weights: weights.clone(),
            vgg,
        })
    }

    /// `λ` of the rate term (0 without an entropy model).
    pub fn rate_weight(&self) -> f64 {
        self.weights.rate
    }

    /// The same loss for tensors without autodiff (validation, evaluation).
    pub fn valid(&self) -> Self {
        Self {
            weights: self.weights.clone(),
            vgg: self.vgg.as_ref().map(|(v, l)| (v.valid(), l.clone())),
        }
    }

    /// Loss of `recon` against `target`, both `[B, 3, H, W]` in [0, 1].
    pub fn forward(&self, recon: Tensor<4>, target: Tensor<4>) -> LossTerms {
        let mut terms = Vec::new();
        if self.weights.ssim > 0.0 {
            let similarity = if self.weights.ssim_scales > 1 {
                ms_ssim(recon.clone(), target.clone())
            } else {
                ssim(recon.clone(), target.clone())
            };
            let one_minus = similarity.neg() + 1.0;
            terms.push((Term::Ssim, self.weights.ssim, one_minus));
        }
        if let Some((vgg, layers)) = &self.vgg {
            terms.push((
                Term::Perceptual,
                self.weights.perceptual,
                perceptual(vgg, layers, recon.clone(), target.clone()),
            ));
        }
        if self.weights.mse > 0.0 {
            terms.push((
                Term::Mse,
                self.weights.mse,
                mse(recon.clone(), target.clone()),
            ));
        }
        if self.weights.colour > 0.0 {
            terms.push((
                Term::Colour,
                self.weights.colour,
                colour_difference(recon, target.clone()),
            ));
        }
        // `new` guarantees at least one term; the fallback only keeps this panic-free.
        let total = terms
            .iter()
            .map(|(_, w, t)| t.clone() * *w)
            .reduce(|a, b| a + b)
            .unwrap_or_else(|| Tensor::zeros([1], &target.device()));
        LossTerms { total, terms }
    }
}

/// Mean over `layers` of the mean squared difference of VGG16 feature maps, times
/// [`PERCEPTUAL_SCALE`]. The target's features carry no gradient.
pub fn perceptual(
    vgg: &Vgg16,
    layers: &[VggLayer],
    recon: Tensor<4>,
    target: Tensor<4>,
) -> Tensor<1> {
    let fx = vgg.features(recon, layers);
    let fy = vgg.features(target.detach(), layers);
    let n = fx.len() as f64;
    fx.into_iter()
        .zip(fy)
        .map(|(a, b)| (a - b.detach()).powi_scalar(2).mean())
        .reduce(|a, b| a + b)
        .map(|sum| sum * (PERCEPTUAL_SCALE / n))
        .unwrap_or_else(|| Tensor::zeros([1], &vgg.devices()[0]))
}

/// Mean squared error over all elements.
pub fn mse(a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
    (a - b).powi_scalar(2).mean()
}

/// Below this CIELAB distance (about one just-noticeable difference) the colour term is
/// quadratic, above it linear.
pub const HUBER_DELTA_E: f64 = 1.0;

/// Mean CIE76 colour difference `ΔE*ab = |Lab(a) - Lab(b)|` over pixels, divided by 100 (the
/// range of L*), for `[B, 3, H, W]` sRGB images in [0, 1], in the smooth (pseudo-Huber) form
/// `sqrt(ΔE² + k²) - k` with `k` = [`HUBER_DELTA_E`]. MSE on RGB counts a colour cast no
/// more than any other error of its size, and SSIM hardly sees one; this term weighs errors
/// as CIELAB, which ΔE00 refines, does. Linear above `k`, its pull on a visible cast does
/// not fade as the cast shrinks; quadratic below, it does not push sign-like noise into
/// flat regions, as a plain distance did (stripes in 10-pair models). `b` carries no gradient.
pub fn colour_difference(a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
    let d = lab(a) - lab(b.detach());
    let k = HUBER_DELTA_E;
    ((d.powi_scalar(2).sum_dim(1) + k * k).sqrt() - k).mean() / 100.0
}

/// CIELAB of `[B, 3, H, W]` sRGB in [0, 1] (D65, 2° observer), as
/// [`crate::metrics::colour::lab`] computes it for one 8-bit pixel, differentiable.
pub fn lab(rgb: Tensor<4>) -> Tensor<4> {
    // Each piecewise function takes its power branch only where it applies and clamps that
    // branch's input there, so neither branch yields NaN or an infinite slope elsewhere.
    let power = ((rgb.clone().clamp_min(SRGB_KNEE) + 0.055) / 1.055).powf_scalar(2.4);
    let linear = (rgb.clone() / 12.92).mask_where(rgb.greater_elem(SRGB_KNEE), power);
    let c = linear.chunk(3, 1);
    let f = |row: usize| {
        let m = RGB_TO_XYZ[row];
        let t = (c[0].clone() * m[0] + c[1].clone() * m[1] + c[2].clone() * m[2]) / D65_WHITE[row];
        let root = t.clone().clamp_min(LAB_KNEE).powf_scalar(1.0 / 3.0);
        (t.clone() * LAB_SLOPE + 16.0 / 116.0).mask_where(t.greater_elem(LAB_KNEE), root)
    };
    let (x, y, z) = (f(0), f(1), f(2));
    Tensor::cat(
        vec![
            y.clone() * 116.0 - 16.0,
            (x - y.clone()) * 500.0,
            (y - z) * 200.0,
        ],
        1,
    )
}

/// Side of the Gaussian SSIM window.
pub const SSIM_WINDOW: usize = 11;
/// Standard deviation of the Gaussian SSIM window.
pub const SSIM_SIGMA: f64 = 1.5;

/// The normalised 1-D Gaussian of the SSIM window.
pub fn gaussian_window() -> [f64; SSIM_WINDOW] {
    let c = (SSIM_WINDOW / 2) as f64;
    let mut g = [0.0; SSIM_WINDOW];
    for (i, v) in g.iter_mut().enumerate() {
        let d = i as f64 - c;
        *v = (-d * d / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
    }
    let sum: f64 = g.iter().sum();
    g.map(|v| v / sum)
}

/// Per-image SSIM (Wang et al. 2004; Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03, data range 1,
/// population covariance, valid region), averaged over channels and pixels: `[B]`.
pub fn ssim_per_image(x: Tensor<4>, y: Tensor<4>) -> Tensor<1> {
    let [b, c, h, w] = x.dims();
    let map = ssim_map(x, y);
    let [_, _, hh, ww] = map.dims();
    debug_assert_eq!((hh, ww), (h + 1 - SSIM_WINDOW, w + 1 - SSIM_WINDOW));
    map.reshape([b, c * hh * ww]).mean_dim(1).reshape([b])
}

/// Mean SSIM over the batch (see [`ssim_per_image`]).
pub fn ssim(x: Tensor<4>, y: Tensor<4>) -> Tensor<1> {
    ssim_map(x, y).mean()
}

/// Mean MS-SSIM over the batch, as [`crate::metrics::msssim`] computes it (five scales, 2x2
/// average pooling between them, the contrast-structure term at the four finest and SSIM at
/// the coarsest, each a mean per image and channel, negative ones clipped, raised to its
/// weight and multiplied), differentiable. Sides of at least
/// [`crate::metrics::msssim::MS_SSIM_MIN_SIDE`].
pub fn ms_ssim(x: Tensor<4>, y: Tensor<4>) -> Tensor<1> {
    let [b, c, _, _] = x.dims();
    let weights = crate::metrics::msssim::MS_SSIM_WEIGHTS;
    let mut product = Tensor::<2>::ones([b, c], &x.device());
    let (mut x, mut y) = (x, y);
    for (scale, weight) in weights.iter().enumerate() {
        let [l_num, l_den, cs_num, cs_den] = ssim_parts(x.clone(), y.clone());
        let cs = cs_num / cs_den;
        let last = scale + 1 == weights.len();
        let map = if last { l_num / l_den * cs } else { cs };
        let [_, _, h, w] = map.dims();
        // The metric clips at 0; a floor just above it keeps the power's gradient finite.
        let mean = map
            .reshape([b, c, h * w])
            .mean_dim(2)
            .reshape([b, c])
            .clamp_min(1e-6);
        product = product * mean.powf_scalar(*weight);
        if !last {
            let [_, _, h, w] = x.dims();
            let pool = AvgPoolOptions::new([2, 2]).with_padding([h % 2, w % 2]);
            x = avg_pool2d(x, pool.clone());
            y = avg_pool2d(y, pool);
        }
    }
    product.mean()
}

fn ssim_map(x: Tensor<4>, y: Tensor<4>) -> Tensor<4> {
    // One division, in the order SSIM was always computed here, so SSIM-trained runs repeat.
    let [l_num, l_den, cs_num, cs_den] = ssim_parts(x, y);
    (l_num * cs_num) / (l_den * cs_den)
}

/// Numerators and denominators of SSIM's luminance and contrast-structure maps.
fn ssim_parts(x: Tensor<4>, y: Tensor<4>) -> [Tensor<4>; 4] {
    const C1: f64 = 0.01 * 0.01;
    const C2: f64 = 0.03 * 0.03;
    let [_, c, _, _] = x.dims();
    let device = x.device();
    // The five local moments in one grouped, separable Gaussian convolution. Second moments
    // are taken about 0.5, which leaves variances and covariance unchanged but keeps f32 from
    // losing digits in E[x²] - E[x]² (about 1e-5 of SSIM otherwise).
    let (xc, yc) = (x.clone() - 0.5, y.clone() - 0.5);
    let stack = Tensor::cat(
        vec![
            x,
            y,
            xc.clone() * xc.clone(),
            yc.clone() * yc.clone(),
            xc * yc,
        ],
        1,
    );
    let groups = 5 * c;
    let g: Vec<f32> = gaussian_window().iter().map(|v| *v as f32).collect();
    let gx = Tensor::<1>::from_floats(g.as_slice(), &device)
        .reshape([1, 1, 1, SSIM_WINDOW])
        .repeat_dim(0, groups);
    let gy = gx.clone().reshape([groups, 1, SSIM_WINDOW, 1]);
    let opts = ConvOptions::new([1, 1], [0, 0], [1, 1], groups);
    let blurred = conv2d(conv2d(stack, gx, None, opts.clone()), gy, None, opts);
    let m = blurred.chunk(5, 1);
    let (mx, my, xx, yy, xy) = (&m[0], &m[1], &m[2], &m[3], &m[4]);
    let (mxc, myc) = (mx.clone() - 0.5, my.clone() - 0.5);
    let vx = xx.clone() - mxc.clone() * mxc.clone();
    let vy = yy.clone() - myc.clone() * myc.clone();
    let cov = xy.clone() - mxc * myc;
    let mx2 = mx.clone() * mx.clone();
    let my2 = my.clone() * my.clone();
    let mxy = mx.clone() * my.clone();
    [mxy * 2.0 + C1, mx2 + my2 + C1, cov * 2.0 + C2, vx + vy + C2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    /// Direct f64 SSIM: every window summed out by hand, no convolution, no separability.
    fn reference_ssim(x: &[f64], y: &[f64], c: usize, h: usize, w: usize) -> f64 {
        let g = gaussian_window();
        let (c1, c2) = (1e-4, 9e-4);
        let mut total = 0.0;
        let mut n = 0usize;
        for ch in 0..c {
            for i in 0..=h - SSIM_WINDOW {
                for j in 0..=w - SSIM_WINDOW {
                    let (mut mx, mut my, mut xx, mut yy, mut xy) = (0.0, 0.0, 0.0, 0.0, 0.0);
                    for di in 0..SSIM_WINDOW {
                        for dj in 0..SSIM_WINDOW {
                            let wt = g[di] * g[dj];
                            let k = ch * h * w + (i + di) * w + (j + dj);
                            mx += wt * x[k];
                            my += wt * y[k];
                            xx += wt * x[k] * x[k];
                            yy += wt * y[k] * y[k];
                            xy += wt * x[k] * y[k];
                        }
                    }
                    let (vx, vy, cv) = (xx - mx * mx, yy - my * my, xy - mx * my);
                    total += ((2.0 * mx * my + c1) * (2.0 * cv + c2))
                        / ((mx * mx + my * my + c1) * (vx + vy + c2));
                    n += 1;
                }
            }
        }
        total / n as f64
    }

    #[test]
    fn ssim_matches_direct_reference() {
        let device = Device::flex();
        device.seed(7);
        let (c, h, w) = (3, 24, 19);
        let x = Tensor::<4>::random([1, c, h, w], Distribution::Uniform(0.0, 1.0), &device);
        let noise = Tensor::<4>::random([1, c, h, w], Distribution::Normal(0.0, 0.1), &device);
        let y = (x.clone() * 0.8 + noise + 0.1).clamp(0.0, 1.0);
        let xv: Vec<f32> = x.clone().into_data().try_to_vec().unwrap();
        let yv: Vec<f32> = y.clone().into_data().try_to_vec().unwrap();
        let to64 = |v: &[f32]| v.iter().map(|a| *a as f64).collect::<Vec<_>>();
        let expected = reference_ssim(&to64(&xv), &to64(&yv), c, h, w);
        let got = ssim(x, y).into_scalar::<f32>() as f64;
        assert!(
            expected > 0.2 && expected < 0.95,
            "a meaningful pair: {expected}"
        );
        assert!(
            (got - expected).abs() < 1e-5,
            "got {got}, expected {expected}"
        );
    }

    #[test]
    fn ssim_of_identical_images_is_one_and_per_image_shape() {
        let device = Device::flex();
        device.seed(3);
        let x = Tensor::<4>::random([2, 3, 16, 16], Distribution::Uniform(0.0, 1.0), &device);
        let s = ssim_per_image(x.clone(), x);
        assert_eq!(s.dims(), [2]);
        for v in s.into_data().try_to_vec::<f32>().unwrap() {
            assert!((v - 1.0).abs() < 1e-5, "{v}");
        }
    }

    /// The MS-SSIM loss term agrees with the MS-SSIM metric (itself checked against
    /// pytorch_msssim) on two photo-like images, one of odd sides (the pooling's padding), and
    /// its gradient is finite.
    #[test]
    fn ms_ssim_matches_the_metric_and_has_a_gradient() {
        use crate::data::batches::image_to_tensor;
        let device = Device::flex();
        for (w, h) in [(176u32, 168u32), (171, 165)] {
            let a = image::RgbImage::from_fn(w, h, |x, y| {
                let v = |k: u32| ((x * k + y * (7 - k) + (x * y) % 23) % 256) as u8;
                image::Rgb([v(1), v(2), v(3)])
            });
            let b = image::RgbImage::from_fn(w, h, |x, y| {
                let p = a.get_pixel(x, y);
                let d = ((x * 31 + y * 17) % 41) as i32 - 20;
                image::Rgb(p.0.map(|c| (c as i32 + d).clamp(0, 255) as u8))
            });
            let want = crate::metrics::msssim::ms_ssim(&a, &b).unwrap();
            let got = ms_ssim(image_to_tensor(&a, &device), image_to_tensor(&b, &device))
                .into_scalar::<f32>() as f64;
            assert!(
                (got - want).abs() < 1e-4,
                "{w}x{h}: {got} vs the metric's {want}"
            );
            assert!(want > 0.3 && want < 0.99, "{want}: the pair tests nothing");
        }
        let ad = device.clone().autodiff();
        ad.seed(5);
        let y = Tensor::<4>::random([2, 3, 161, 161], Distribution::Uniform(0.0, 1.0), &ad);
        let noise = Tensor::<4>::random([2, 3, 161, 161], Distribution::Normal(0.0, 0.05), &ad);
        let x = (y.clone() * 0.8 + noise + 0.1).detach().require_grad();
        let grads = ms_ssim(x.clone(), y).backward();
        let g: Vec<f32> = x.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
        assert!(g.iter().all(|v| v.is_finite()) && g.iter().any(|v| *v != 0.0));
    }

    /// The tensor CIELAB agrees with the per-pixel one the ΔE00 metric uses (itself checked
    /// against scikit-image), on every grey level and on saturated and dark colours.
    #[test]
    fn lab_matches_the_metric() {
        let device = Device::flex();
        let mut pixels: Vec<[u8; 3]> = (0..=255u8).map(|v| [v, v, v]).collect();
        pixels.extend([
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
            [200, 120, 30],
            [3, 7, 1],
            [10, 0, 40],
            [250, 250, 5],
        ]);
        let n = pixels.len();
        let mut planar = vec![0f32; 3 * n];
        for (i, p) in pixels.iter().enumerate() {
            for c in 0..3 {
                planar[c * n + i] = p[c] as f32 / 255.0;
            }
        }
        let x = Tensor::<4>::from_data(TensorData::new(planar, [1, 3, 1, n]), &device);
        let got: Vec<f32> = lab(x).into_data().try_to_vec().unwrap();
        for (i, p) in pixels.iter().enumerate() {
            let want = crate::metrics::colour::lab(*p);
            for c in 0..3 {
                let g = got[c * n + i] as f64;
                assert!(
                    (g - want[c]).abs() < 2e-3,
                    "{p:?} channel {c}: {g} vs {}",
                    want[c]
                );
            }
        }
    }

    /// The colour term is (sqrt(ΔE*ab² + 1) - 1) / 100, zero for equal images, and its
    /// gradient is finite everywhere, black, white and equal pixels included.
    #[test]
    fn colour_difference_values_and_gradient() {
        let device = Device::flex();
        let ad = device.clone().autodiff();
        let red = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 1.0, 0.0, 0.0, 0.0, 0.0], [1, 3, 1, 2]),
            &device,
        );
        // Pure red against pure black: ΔE*ab = |(53.24, 80.09, 67.20)| = 117.33 (scikit-image).
        let black = Tensor::<4>::zeros([1, 3, 1, 2], &device);
        let d = colour_difference(red.clone(), black).into_scalar::<f32>();
        assert!((d - 1.1633).abs() < 1e-4, "{d}");
        let same = colour_difference(red.clone(), red.clone()).into_scalar::<f32>();
        assert!(same.abs() < 1e-6, "{same}");

        let edge = Tensor::<4>::from_data(
            TensorData::new(vec![0.0f32, 1.0, 0.5, 0.0, 1.0, 0.02], [1, 3, 1, 2]),
            &ad,
        )
        .require_grad();
        let target = Tensor::<4>::from_data(
            TensorData::new(vec![0.0f32, 0.9, 0.5, 0.1, 1.0, 0.02], [1, 3, 1, 2]),
            &ad,
        );
        let loss = colour_difference(edge.clone(), target);
        let grads = loss.backward();
        let g: Vec<f32> = edge.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
        assert!(g.iter().any(|v| *v != 0.0), "{g:?}");
    }

    #[test]
    fn hybrid_weights_terms() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![0.5f32; 3 * 16 * 16], [1, 3, 16, 16]),
            &device,
        );
        let y = x.clone() + 0.1;
        let loss = HybridLoss::new(
            &LossConfig {
                ssim: 0.0,
                perceptual: 0.0,
                mse: 1.0,
                ..LossConfig::default()
            },
            &device,
        )
        .unwrap();
        let t = loss.forward(y.clone(), x.clone());
        assert_eq!(t.terms.len(), 1);
        let total: f32 = t.total.into_scalar();
        assert!((total - 0.01).abs() < 1e-6, "{total}");
        let both = HybridLoss::new(
            &LossConfig {
                ssim: 0.25,
                perceptual: 0.0,
                mse: 0.75,
                ..LossConfig::default()
            },
            &device,
        )
        .unwrap();
        let t = both.forward(y, x.clone());
        let names: Vec<_> = t.terms.iter().map(|(k, _, _)| k.name()).collect();
        assert_eq!(names, ["ssim", "mse"]);
        let parts: f64 = t
            .terms
            .iter()
            .map(|(_, w, v)| w * v.clone().into_scalar::<f32>() as f64)
            .sum();
        let total = t.total.into_scalar::<f32>() as f64;
        assert!((parts - total).abs() < 1e-6);

        let coloured = HybridLoss::new(
            &LossConfig {
                ssim: 0.0,
                perceptual: 0.0,
                mse: 1.0,
                colour: 0.5,
                ..LossConfig::default()
            },
            &device,
        )
        .unwrap();
        let t = coloured.forward(x.clone() + 0.1, x.clone());
        let names: Vec<_> = t.terms.iter().map(|(k, _, _)| k.name()).collect();
        assert_eq!(names, ["mse", "colour"]);
        let v = t.weighted();
        let expected = colour_difference(x.clone() + 0.1, x).into_scalar::<f32>() as f64 * 0.5;
        assert!((v.colour.unwrap() - expected).abs() < 1e-7);
        let newer = v.newer_csv();
        let (colour, side) = newer.split_once(',').unwrap();
        assert!(colour.parse::<f64>().is_ok() && side.is_empty(), "{newer}");
        assert!(v.csv().split(',').count() == 4);
    }

    #[test]
    fn perceptual_term_without_weights_says_what_to_run() {
        let cfg = LossConfig {
            ssim: 0.4,
            perceptual: 0.2,
            mse: 0.4,
            vgg_weights: "no/such/vgg.bpk".into(),
            ..LossConfig::default()
        };
        let err = HybridLoss::new(&cfg, &Device::flex()).unwrap_err();
        assert!(err.to_string().contains("make weights"), "{err}");
        assert!(err.to_string().contains("no/such/vgg.bpk"), "{err}");
    }
}
