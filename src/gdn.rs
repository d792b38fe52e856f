//! Generalized divisive normalization (Ballé, Laparra, Simoncelli 2016), the activation of
//! learned codecs since Ballé et al. 2017: per pixel, channel `i` of the output is
//!
//! ```text
//! GDN:  y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²)
//! IGDN: y_i = x_i * sqrt(β_i + Σ_j γ_ij x_j²)      (the decoder's approximate inverse)
//! ```
//!
//! β and γ must stay non-negative (β above a small floor, or the root of a negative sum is
//! taken). As in CompressAI's `GDN`, they are reparametrised: the trained values are `b` and
//! `g` with `β = b² + β_min` and `γ = g²`, so no optimiser step can make them negative.
//! CompressAI bounds its parameters from below and squares them, with a pedestal; the
//! square alone gives the same guarantee without the bound's special gradient, and Adam's
//! step size does not depend on how small `g` starts.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// The floor of β: keeps the root away from zero.
pub const BETA_MIN: f32 = 1e-6;
/// γ's diagonal at the start (CompressAI's `gamma_init`); off the diagonal it starts at 0.
pub const GAMMA_INIT: f32 = 0.1;
/// `g`'s off-diagonal start: γ = g² is then about 1e-11, and `g` not exactly 0, whose square
/// would have no gradient.
const G_OFF_DIAGONAL: f32 = 3.814_697_3e-6; // 2^-18, CompressAI's reparametrisation offset

/// One GDN (or IGDN) over `channels` channels.
#[derive(Module, Debug)]
pub struct Gdn {
    /// `b`, with `β = b² + β_min`; `[C]`.
    b: Param<Tensor<1>>,
    /// `g`, with `γ = g²`; `[C, C]`, row `i` weighs the squares feeding channel `i`.
    g: Param<Tensor<2>>,
}

impl Gdn {
    /// A fresh GDN: β = 1, γ = 0.1 on the diagonal and 0 elsewhere (CompressAI's start).
    pub fn new(channels: usize, device: &Device) -> Self {
        let b = vec![(1.0 - BETA_MIN).sqrt(); channels];
        let mut g = vec![G_OFF_DIAGONAL; channels * channels];
        for i in 0..channels {
            g[i * channels + i] = GAMMA_INIT.sqrt();
        }
        Self::from_raw(b, g, channels, device)
    }

    /// A GDN with the trained values `b` (`[C]`) and `g` (`[C, C]`, row-major) as given.
    pub fn from_raw(b: Vec<f32>, g: Vec<f32>, channels: usize, device: &Device) -> Self {
        Self {
            b: Param::from_tensor(Tensor::from_data(TensorData::new(b, [channels]), device)),
            g: Param::from_tensor(Tensor::from_data(
                TensorData::new(g, [channels, channels]),
                device,
            )),
        }
    }

    /// β, `[C]`: at least [`BETA_MIN`].
    pub fn beta(&self) -> Tensor<1> {
        self.b.val().powi_scalar(2) + BETA_MIN
    }

    /// γ, `[C, C]`: non-negative.
    pub fn gamma(&self) -> Tensor<2> {
        self.g.val().powi_scalar(2)
    }

    /// `sqrt(β_i + Σ_j γ_ij x_j²)` per pixel, `[B, C, H, W]`: a 1x1 convolution of the
    /// squares.
    fn norm(&self, x: Tensor<4>) -> Tensor<4> {
        let [c, _] = self.g.val().dims();
        let dtype = x.dtype();
        // In the input's precision (bf16 training casts the weights, not these).
        let weight = self.gamma().reshape([c, c, 1, 1]).cast(dtype);
        let bias = self.beta().cast(dtype);
        let sum = conv2d(
            x.powi_scalar(2),
            weight,
            Some(bias),
            ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
        );
        sum.sqrt()
    }

    /// GDN: `x / norm`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        x.clone() / self.norm(x)
    }

    /// IGDN: `x * norm`.
    pub fn inverse(&self, x: Tensor<4>) -> Tensor<4> {
        x.clone() * self.norm(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::optim::{AdamConfig, GradientsParams};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// The closed form in f64, pixel by pixel.
    fn reference(
        x: &[f32],
        shape: [usize; 4],
        beta: &[f64],
        gamma: &[f64],
        inverse: bool,
    ) -> Vec<f64> {
        let [b, c, h, w] = shape;
        let at = |n: usize, ch: usize, p: usize| x[(n * c + ch) * h * w + p] as f64;
        let mut out = vec![0.0; x.len()];
        for n in 0..b {
            for p in 0..h * w {
                for i in 0..c {
                    let s: f64 = beta[i]
                        + (0..c)
                            .map(|j| gamma[i * c + j] * at(n, j, p).powi(2))
                            .sum::<f64>();
                    let v = at(n, i, p);
                    out[(n * c + i) * h * w + p] =
                        if inverse { v * s.sqrt() } else { v / s.sqrt() };
                }
            }
        }
        out
    }

    #[test]
    fn gdn_and_igdn_follow_their_closed_form() {
        let device = Device::flex();
        let (c, shape) = (3, [2, 3, 2, 2]);
        let b = vec![0.9f32, 1.3, 0.2];
        let g = vec![0.5f32, -0.2, 0.1, 0.3, 0.7, -0.4, 0.05, 0.6, 1.1];
        let gdn = Gdn::from_raw(b.clone(), g.clone(), c, &device);
        let x: Vec<f32> = (0..24)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.37)
            .collect();
        let beta: Vec<f64> = b
            .iter()
            .map(|&v| (v as f64).powi(2) + BETA_MIN as f64)
            .collect();
        let gamma: Vec<f64> = g.iter().map(|&v| (v as f64).powi(2)).collect();
        let input: Tensor<4> = Tensor::from_data(TensorData::new(x.clone(), shape), &device);
        for inverse in [false, true] {
            let got = values(if inverse {
                gdn.inverse(input.clone())
            } else {
                gdn.forward(input.clone())
            });
            let want = reference(&x, shape, &beta, &gamma, inverse);
            for (a, b) in got.iter().zip(&want) {
                assert!(
                    (*a as f64 - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "{inverse}: {a} vs {b}"
                );
            }
        }
        // At the start: β = 1, γ = 0.1 I (to float rounding).
        let fresh = Gdn::new(c, &device);
        let beta = values(fresh.beta());
        let gamma = values(fresh.gamma());
        assert!(beta.iter().all(|v| (v - 1.0).abs() < 1e-6), "{beta:?}");
        for i in 0..c {
            for j in 0..c {
                let want = if i == j { GAMMA_INIT } else { 0.0 };
                assert!((gamma[i * c + j] - want).abs() < 1e-6, "{gamma:?}");
            }
        }
    }

    #[test]
    fn beta_and_gamma_stay_non_negative_when_training_pushes_them_down() {
        let device = Device::flex().autodiff();
        let mut gdn = Gdn::new(4, &device);
        let mut adam = AdamConfig::new().init();
        let x: Vec<f32> = (0..4 * 4 * 3 * 3)
            .map(|i| ((i % 9) as f32 - 4.0) * 0.5)
            .collect();
        let x: Tensor<4> = Tensor::from_data(TensorData::new(x, [4, 4, 3, 3]), &device);
        // Larger outputs want smaller β and γ: the loss drives them towards and past zero.
        for _ in 0..300 {
            let loss = -gdn.forward(x.clone()).abs().mean();
            let grads = GradientsParams::from_grads(loss.backward(), &gdn);
            gdn = adam.step(0.05, gdn, grads);
        }
        let (b, g) = (values(gdn.b.val()), values(gdn.g.val()));
        let beta = values(gdn.beta());
        let gamma = values(gdn.gamma());
        // The raw values went down (γ's off-diagonal ones past zero); the parametrised ones
        // stayed at or above their floors, where β = b and γ = g would be negative.
        assert!(
            b.iter().all(|v| v.abs() < 0.5),
            "b did not move down: {b:?}"
        );
        assert!(g.iter().any(|&v| v < -0.1), "no g crossed zero: {g:?}");
        assert!(beta.iter().all(|&v| v >= BETA_MIN), "{beta:?}");
        assert!(gamma.iter().all(|&v| v >= 0.0), "{gamma:?}");
    }
}
