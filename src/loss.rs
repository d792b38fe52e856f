//! The paper's hybrid loss `L = a (1 - SSIM) + b Perceptual + c MSE`, built from
//! differentiable burn terms; the perceptual term compares frozen VGG16 feature maps.

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use crate::config::LossConfig;
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
    /// Bits per pixel under the entropy model.
    Rate,
}

impl Term {
    /// Short name used in logs and metric files.
    pub fn name(self) -> &'static str {
        match self {
            Term::Ssim => "ssim",
            Term::Perceptual => "perceptual",
            Term::Mse => "mse",
            Term::Rate => "rate",
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
    /// Adds the rate term `lambda * bpp` (`bpp`: bits per pixel, `[1]`).
    pub fn with_rate(mut self, lambda: f64, bpp: Tensor<1>) -> Self {
        self.total = self.total + bpp.clone() * lambda;
        self.terms.push((Term::Rate, lambda, bpp));
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
    /// `λ bpp`.
    pub rate: Option<f64>,
}

impl TermValues {
    /// The slot of term `t`.
    pub fn get_mut(&mut self, t: Term) -> &mut Option<f64> {
        match t {
            Term::Ssim => &mut self.ssim,
            Term::Perceptual => &mut self.perceptual,
            Term::Mse => &mut self.mse,
            Term::Rate => &mut self.rate,
        }
    }

    /// The terms that are on, in `Term` order.
    pub fn present(&self) -> Vec<(Term, f64)> {
        [
            (Term::Ssim, self.ssim),
            (Term::Perceptual, self.perceptual),
            (Term::Mse, self.mse),
            (Term::Rate, self.rate),
        ]
        .into_iter()
        .filter_map(|(t, v)| v.map(|v| (t, v)))
        .collect()
    }

    /// `ssim,perceptual,mse,rate` for a CSV row, a term that is off left empty.
    pub fn csv(&self) -> String {
        let f = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        format!(
            "{},{},{},{}",
            f(self.ssim),
            f(self.perceptual),
            f(self.mse),
            f(self.rate)
        )
    }

    /// Adds `k * other` term by term (for averaging over batches).
    pub fn add_scaled(&mut self, other: &TermValues, k: f64) {
        for (t, v) in other.present() {
            let slot = self.get_mut(t);
            *slot = Some(slot.unwrap_or(0.0) + k * v);
        }
    }
}

/// The weighted sum of SSIM, perceptual and MSE terms; a term with weight 0 is not computed
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
            let one_minus = ssim(recon.clone(), target.clone()).neg() + 1.0;
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
            terms.push((Term::Mse, self.weights.mse, mse(recon, target.clone())));
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

fn ssim_map(x: Tensor<4>, y: Tensor<4>) -> Tensor<4> {
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
    let num = (mxy * 2.0 + C1) * (cov * 2.0 + C2);
    let den = (mx2 + my2 + C1) * (vx + vy + C2);
    num / den
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
        let t = both.forward(y, x);
        let names: Vec<_> = t.terms.iter().map(|(k, _, _)| k.name()).collect();
        assert_eq!(names, ["ssim", "mse"]);
        let parts: f64 = t
            .terms
            .iter()
            .map(|(_, w, v)| w * v.clone().into_scalar::<f32>() as f64)
            .sum();
        let total = t.total.into_scalar::<f32>() as f64;
        assert!((parts - total).abs() < 1e-6);
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
