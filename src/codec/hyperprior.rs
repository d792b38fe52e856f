//! The mean-scale hyperprior (Ballé et al. 2018, "Variational image compression with a scale
//! hyperprior"; Minnen et al. 2018, its "mean" variant; CompressAI's `MeanScaleHyperprior`):
//! a second, small autoencoder over the latent `y`. Its analysis `h_a` summarises `y` into
//! the hyper-latent `z` (a quarter of `y`'s size each way), coded under a [`FactorizedPrior`];
//! its synthesis `h_s` predicts from the decoded `ẑ` a mean and a scale for every value of
//! `y`, which is then coded under the Gaussian conditional ([`super::conditional`],
//! [`super::gaussian`]). The rate is that of `z` (side information) plus that of `y` given
//! `z`.
//!
//! Layers as CompressAI's `mbt2018-mean`, with `M` the latent's channels and `N` = `M` the
//! hyper-latent's: `h_a` = conv 3x3 (M→N), LeakyReLU, conv 5x5 /2 (N→N), LeakyReLU, conv 5x5
//! /2 (N→N); `h_s` = transposed conv 5x5 x2 (N→M), LeakyReLU, transposed conv 5x5 x2
//! (M→3M/2), LeakyReLU, conv 3x3 (3M/2→2M), whose output is split into means and scales.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::conditional::likelihood;
use super::gaussian::SCALE_MIN;
use super::prior::FactorizedPrior;
use super::synthesis::{Layer, Synthesis};
use super::to_vec;
use crate::model::pytorch_init;

/// Slope of the LeakyReLUs (PyTorch's default, as CompressAI uses them).
const LEAKY_SLOPE: f64 = 0.01;
/// How much smaller `z` is than `y` each way (two stride-2 layers).
pub const HYPER_SCALE: usize = 4;

/// `h_a`, `h_s` and the factorized prior of `z`.
#[derive(Module, Debug)]
pub struct Hyperprior {
    analysis: Vec<Conv2d>,
    synthesis_up: Vec<ConvTranspose2d>,
    synthesis_out: Conv2d,
    prior: FactorizedPrior,
}

/// The means and scales `h_s` predicts for `y`, each `[B, M, h, w]`.
pub struct Params {
    /// μ.
    pub means: Tensor<4>,
    /// σ, at least [`SCALE_MIN`] in value; below it the gradient still flows (a
    /// straight-through bound, like CompressAI's `LowerBound`), so a scale predicted too
    /// small is not stuck there.
    pub scales: Tensor<4>,
}

impl Params {
    /// The parameters of a latent of `lh x lw`: `h_s` gives `z`'s size times
    /// [`HYPER_SCALE`], which is larger when the latent's sides are not multiples of it
    /// (the coder's scalar synthesis crops the same way).
    pub fn cropped(self, [lh, lw]: [usize; 2]) -> Self {
        let [b, m, _, _] = self.means.dims();
        Self {
            means: self.means.slice([0..b, 0..m, 0..lh, 0..lw]),
            scales: self.scales.slice([0..b, 0..m, 0..lh, 0..lw]),
        }
    }
}

impl Hyperprior {
    /// Fresh weights (PyTorch's default initialisation from `seed`) for a latent of
    /// `channels` channels.
    pub fn new(channels: usize, device: &Device, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (m, n) = (channels, channels);
        let wide = m * 3 / 2;
        let mut conv = |c_in: usize, c_out: usize, k: usize, stride: usize| {
            let pad = k / 2;
            let mut c = Conv2dConfig::new([c_in, c_out], [k, k])
                .with_stride([stride; 2])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_initializer(Initializer::Zeros)
                .init(device);
            let (w, b) = pytorch_init(&mut rng, [c_out, c_in, k, k], c_out, c_in * k * k, device);
            c.weight = w;
            c.bias = Some(b);
            c
        };
        let analysis = vec![conv(m, n, 3, 1), conv(n, n, 5, 2), conv(n, n, 5, 2)];
        let synthesis_out = conv(wide, 2 * m, 3, 1);
        let mut up = |c_in: usize, c_out: usize| {
            let mut d = ConvTranspose2dConfig::new([c_in, c_out], [5, 5])
                .with_stride([2; 2])
                .with_padding([2; 2])
                .with_padding_out([1; 2])
                .with_initializer(Initializer::Zeros)
                .init(device);
            // burn and PyTorch count a transposed conv's fan-in over its outputs.
            let (w, b) = pytorch_init(&mut rng, [c_in, c_out, 5, 5], c_out, c_out * 25, device);
            d.weight = w;
            d.bias = Some(b);
            d
        };
        let synthesis_up = vec![up(n, m), up(m, wide)];
        let prior = FactorizedPrior::new(n, device, seed ^ 0x5EED_0F2A);
        Self {
            analysis,
            synthesis_up,
            synthesis_out,
            prior,
        }
    }

    /// The factorized prior of `z`.
    pub fn prior(&self) -> &FactorizedPrior {
        &self.prior
    }

    /// `z = h_a(y)`: `[B, M, h, w]` to `[B, N, h/4, w/4]`.
    pub fn analyse(&self, y: Tensor<4>) -> Tensor<4> {
        let last = self.analysis.len() - 1;
        self.analysis.iter().enumerate().fold(y, |x, (i, conv)| {
            let x = conv.forward(x);
            if i == last {
                x
            } else {
                leaky_relu(x, LEAKY_SLOPE)
            }
        })
    }

    /// `h_s(ẑ)`: the means and scales of `y`.
    pub fn synthesise(&self, z: Tensor<4>) -> Params {
        let out = self.synthesis_raw(z);
        let [scales, means] = <[Tensor<4>; 2]>::try_from(out.chunk(2, 1))
            .unwrap_or_else(|_| unreachable!("2M channels split in two"));
        Params {
            means,
            scales: lower_bound(scales, SCALE_MIN as f32),
        }
    }

    /// `h_s`'s last layer's output: `[B, 2M, h, w]`, scales then means, unfloored.
    fn synthesis_raw(&self, z: Tensor<4>) -> Tensor<4> {
        let x = self
            .synthesis_up
            .iter()
            .fold(z, |x, up| leaky_relu(up.forward(x), LEAKY_SLOPE));
        self.synthesis_out.forward(x)
    }

    /// `h_s` with its weights read back, for the coder's exact scalar code
    /// ([`super::synthesis`]).
    pub fn synthesis(&self) -> anyhow::Result<Synthesis> {
        let layer = |weight: Tensor<4>, bias: Option<Tensor<1>>, transposed: bool| {
            let [a, b, k, _] = weight.dims();
            let (c_in, c_out) = if transposed { (a, b) } else { (b, a) };
            let bias = match bias {
                Some(b) => to_vec(b, "hyper-synthesis bias")?,
                None => vec![0.0; c_out],
            };
            anyhow::Ok(Layer {
                c_in,
                c_out,
                k,
                weight: to_vec(weight, "hyper-synthesis weight")?,
                bias,
            })
        };
        let up =
            |d: &ConvTranspose2d| layer(d.weight.val(), d.bias.as_ref().map(|b| b.val()), true);
        Ok(Synthesis {
            up: [up(&self.synthesis_up[0])?, up(&self.synthesis_up[1])?],
            out: layer(
                self.synthesis_out.weight.val(),
                self.synthesis_out.bias.as_ref().map(|b| b.val()),
                false,
            )?,
            slope: LEAKY_SLOPE as f32,
        })
    }

    /// Bits of `y` (noisy or rounded) under N(μ, σ²) discretised to unit bins:
    /// `-Σ log2 P`.
    pub fn latent_bits(y: Tensor<4>, params: &Params) -> Tensor<1> {
        likelihood(y, params.means.clone(), params.scales.clone())
            .log()
            .sum()
            * (-std::f64::consts::LOG2_E)
    }
}

/// `x` raised to `bound` in value, with the gradient of `x` everywhere.
fn lower_bound(x: Tensor<4>, bound: f32) -> Tensor<4> {
    // `x - x.detach()` is exactly 0 in value with the gradient of `x`; adding it to the
    // clamped value keeps that value exact (x + (bound - x) would be bound only to rounding,
    // sometimes just below it).
    let clamped = x.clone().clamp_min(bound).detach();
    clamped + (x.clone() - x.detach())
}

#[cfg(test)]
mod tests {
    use super::super::synthesis::Map;
    use super::*;
    use burn::tensor::{Distribution, TensorData};
    use rand::Rng;

    #[test]
    fn shapes_and_the_scales_floor() {
        let device = Device::flex();
        let h = Hyperprior::new(6, &device, 3);
        let y = Tensor::<4>::random([2, 6, 8, 12], Distribution::Normal(0.0, 3.0), &device);
        let z = h.analyse(y);
        assert_eq!(z.dims(), [2, 6, 2, 3]);
        let p = h.synthesise(z.round());
        assert_eq!(p.means.dims(), [2, 6, 8, 12]);
        assert_eq!(p.scales.dims(), [2, 6, 8, 12]);
        let s: Vec<f32> = p.scales.into_data().try_to_vec().unwrap();
        assert!(s.iter().all(|v| *v >= SCALE_MIN as f32), "{s:?}");
        // A fresh model's raw scales are small: they sit exactly on the floor, not a
        // rounding below it (which would pick no table entry the coder agrees on).
        let floored = s.iter().filter(|v| **v == SCALE_MIN as f32).count();
        assert!(floored > 0, "{floored} of {}", s.len());
    }

    /// The scalar hyper-synthesis of the coder computes what burn's does, to float
    /// rounding (its own summation order), on a trained-looking scale of weights and inputs.
    #[test]
    fn scalar_synthesis_matches_burns() {
        let device = Device::flex();
        let h = Hyperprior::new(8, &device, 5);
        let z = Tensor::<4>::random([1, 8, 3, 5], Distribution::Normal(0.0, 4.0), &device).round();
        let want: Vec<f32> = h.synthesis_raw(z.clone()).into_data().try_to_vec().unwrap();
        let zv: Vec<f32> = z.into_data().try_to_vec().unwrap();
        let got = h.synthesis().unwrap().run(&Map {
            c: 8,
            h: 3,
            w: 5,
            data: zv,
        });
        assert_eq!((got.c, got.h, got.w), (16, 12, 20));
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.1, "{scale}");
        for (a, b) in got.data.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-5 * scale, "{a} vs {b}");
        }
    }

    /// The side rate alone, at the scale the training loss gives it (λ = 0.002 times bits per
    /// pixel of 8 crops of 128x128), minimised with Adam: with PyTorch's ε = 1e-8 `z`'s prior
    /// and `h_a` learn and the bits of a fixed batch of latents fall under a tenth; with
    /// burn's default 1e-5, ε swamps these small gradients and the same steps leave several
    /// times more bits (why the hyperprior experiments set `train.adam_epsilon`).
    #[test]
    fn the_side_rate_trains_the_prior_of_z_with_a_small_epsilon() {
        use burn::optim::{AdamConfig, GradientsParams};
        let device = Device::flex().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut normal = |n: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    let (u, v): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random());
                    scale * (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
                })
                .collect()
        };
        let y = Tensor::<4>::from_data(
            TensorData::new(normal(4 * 8 * 256, 8.0), [4, 8, 16, 16]),
            &device,
        );
        let noise: Vec<Tensor<4>> = (0..201)
            .map(|_| {
                let v: Vec<f32> = normal(4 * 8 * 16, 0.25)
                    .iter()
                    .map(|x| x.clamp(-0.5, 0.5))
                    .collect();
                Tensor::from_data(TensorData::new(v, [4, 8, 4, 4]), &device)
            })
            .collect();
        let train = |eps: f32| {
            let mut h = Hyperprior::new(8, &device, 3);
            let mut optim = AdamConfig::new().with_epsilon(eps).init();
            let bits =
                |h: &Hyperprior, n: &Tensor<4>| h.prior().bits(h.analyse(y.clone()) + n.clone());
            let first = bits(&h, &noise[0]).into_scalar::<f32>();
            for n in &noise[1..] {
                let loss = bits(&h, n) * (0.002 / (8.0 * 128.0 * 128.0));
                let grads = GradientsParams::from_grads(loss.backward(), &h);
                h = optim.step(1e-2, h, grads);
            }
            (first, bits(&h, &noise[0]).into_scalar::<f32>())
        };
        let (first, small) = train(1e-8);
        let (_, default) = train(1e-5);
        assert!(small < 0.1 * first, "ε 1e-8: {first} -> {small} bits");
        assert!(
            default > 3.0 * small,
            "ε 1e-5: {first} -> {default} bits, 1e-8: {small}"
        );
    }

    #[test]
    fn the_floor_passes_gradients_from_below() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::from_data(TensorData::new(vec![-1.0f32, 0.5], [1, 1, 1, 2]), &device)
            .require_grad();
        let y = lower_bound(x.clone(), 0.11);
        let v: Vec<f32> = y.clone().into_data().try_to_vec().unwrap();
        assert_eq!(v, [0.11, 0.5]);
        let grads = (y * 2.0).sum().backward();
        let g: Vec<f32> = x.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
        assert_eq!(g, [2.0, 2.0]);
    }
}
