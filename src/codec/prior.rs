//! Ballé et al.'s factorized prior ("Variational image compression with a scale hyperprior",
//! 2018, appendix 6.1; CompressAI's `EntropyBottleneck`): one learned, non-parametric
//! cumulative density per latent channel, built from small monotone layers.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softplus};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Widths of the hidden layers of each channel's density (CompressAI's default).
const FILTERS: [usize; 3] = [3, 3, 3];
/// Scale the density starts at: a broad hump about 10 quantisation bins wide.
const INIT_SCALE: f64 = 10.0;
/// Floor of a bin's likelihood, so that its bits stay finite.
pub const LIKELIHOOD_FLOOR: f64 = 1e-9;

/// Per-channel density `p_c`, with `P(bin k) = cdf_c(k + ½) - cdf_c(k - ½)`.
#[derive(Module, Debug)]
pub struct FactorizedPrior {
    /// `[C, out, in]` per layer; softplus keeps them positive, so the CDF is monotone.
    matrices: Vec<Param<Tensor<3>>>,
    /// `[C, out, 1]` per layer.
    biases: Vec<Param<Tensor<3>>>,
    /// `[C, out, 1]` per hidden layer: gain of the `tanh` non-linearity.
    factors: Vec<Param<Tensor<3>>>,
}

impl FactorizedPrior {
    /// A fresh prior over `channels` latent channels, its random biases drawn from `seed`.
    pub fn new(channels: usize, device: &Device, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let dims: Vec<usize> = std::iter::once(1)
            .chain(FILTERS)
            .chain(std::iter::once(1))
            .collect();
        let scale = INIT_SCALE.powf(1.0 / (FILTERS.len() + 1) as f64);
        let (mut matrices, mut biases, mut factors) = (Vec::new(), Vec::new(), Vec::new());
        for (i, w) in dims.windows(2).enumerate() {
            let (fan_in, fan_out) = (w[0], w[1]);
            // softplus(init) = 1 / (scale * fan_out): the layers together scale by INIT_SCALE.
            let init = (1.0 / scale / fan_out as f64).exp_m1().ln() as f32;
            let m = vec![init; channels * fan_out * fan_in];
            matrices.push(param(m, [channels, fan_out, fan_in], device));
            let b: Vec<f32> = (0..channels * fan_out)
                .map(|_| rng.random_range(-0.5f32..0.5))
                .collect();
            biases.push(param(b, [channels, fan_out, 1], device));
            if i < FILTERS.len() {
                factors.push(param(
                    vec![0.0; channels * fan_out],
                    [channels, fan_out, 1],
                    device,
                ));
            }
        }
        Self {
            matrices,
            biases,
            factors,
        }
    }

    /// Latent channels it models.
    pub fn channels(&self) -> usize {
        self.biases.first().map_or(0, |b| b.dims()[0])
    }

    /// Logits of the CDF at `x` (`[C, 1, N]` to `[C, 1, N]`).
    pub fn logits_cumulative(&self, x: Tensor<3>) -> Tensor<3> {
        let mut logits = x;
        for (i, (m, b)) in self.matrices.iter().zip(&self.biases).enumerate() {
            logits = softplus(m.val(), 1.0).matmul(logits) + b.val();
            if let Some(f) = self.factors.get(i) {
                logits = logits.clone() + f.val().tanh() * logits.tanh();
            }
        }
        logits
    }

    /// Likelihood of each value of `y` (`[B, C, H, W]`, continuous: noisy or rounded) under its
    /// channel's density convolved with U(-½, ½), floored at [`LIKELIHOOD_FLOOR`].
    pub fn likelihoods(&self, y: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = y.dims();
        let v = y.permute([1, 0, 2, 3]).reshape([c, 1, b * h * w]);
        let lower = self.logits_cumulative(v.clone() - 0.5);
        let upper = self.logits_cumulative(v + 0.5);
        // Differences of sigmoids are taken on the side where they are small (left of the
        // median: as is; right: mirrored), where f32 keeps their digits.
        let sign = (lower.clone() + upper.clone()).sign().neg().detach();
        let lik = (sigmoid(sign.clone() * upper) - sigmoid(sign * lower)).abs();
        lik.clamp_min(LIKELIHOOD_FLOOR)
            .reshape([c, b, h, w])
            .permute([1, 0, 2, 3])
    }

    /// Total information content of `y` in bits: `-Σ log2 p(y)`.
    pub fn bits(&self, y: Tensor<4>) -> Tensor<1> {
        self.likelihoods(y).log().sum() * (-std::f64::consts::LOG2_E)
    }

    /// The logits of every channel's CDF at the points `x` (the same points for all), as
    /// `f64`s in `[channel][point]`: what the integer tables are made from (in `f64`, from
    /// the logits, both tails keep their digits).
    pub fn logits_at(&self, x: &[f32], device: &Device) -> anyhow::Result<Vec<Vec<f64>>> {
        let c = self.channels();
        let n = x.len();
        let points: Vec<f32> = (0..c).flat_map(|_| x.iter().copied()).collect();
        let t = Tensor::<3>::from_data(TensorData::new(points, [c, 1, n]), device);
        let v: Vec<f32> = self
            .logits_cumulative(t)
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .map_err(|e| anyhow::anyhow!("cannot read the prior's CDF back: {e:?}"))?;
        Ok(v.chunks(n.max(1))
            .map(|ch| ch.iter().map(|&l| l as f64).collect())
            .collect())
    }
}

fn param<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::from_data(TensorData::new(values, shape), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likelihoods_of_all_bins_add_up_to_one() {
        let device = Device::flex();
        let prior = FactorizedPrior::new(2, &device, 3);
        // Integers -300..=300 cover the initial density (logistic-like, scale about 10).
        let ks: Vec<f32> = (-300..=300).map(|k| k as f32).collect();
        let n = ks.len();
        let y = Tensor::<4>::from_data(
            TensorData::new(
                ks.iter().chain(&ks).copied().collect::<Vec<_>>(),
                [1, 2, 1, n],
            ),
            &device,
        );
        let lik: Vec<f32> = prior.likelihoods(y).into_data().try_to_vec().unwrap();
        for ch in lik.chunks(n) {
            let sum: f32 = ch.iter().sum();
            assert!((sum - 1.0).abs() < 1e-4, "sum {sum}");
            assert!(ch.iter().all(|p| *p > 0.0 && *p <= 1.0));
        }
        // Bits are -log2 of the likelihoods.
        let y0 = Tensor::<4>::zeros([1, 2, 1, 1], &device);
        let bits = prior.bits(y0.clone()).into_scalar::<f32>();
        let lik0: Vec<f32> = prior.likelihoods(y0).into_data().try_to_vec().unwrap();
        let expect: f32 = lik0.iter().map(|p| -p.log2()).sum();
        assert!((bits - expect).abs() < 1e-4);
    }

    #[test]
    fn cdf_is_monotone_and_seeded() {
        let device = Device::flex();
        let xs: Vec<f32> = (-200..=200).map(|k| k as f32 + 0.5).collect();
        let a = FactorizedPrior::new(3, &device, 1)
            .logits_at(&xs, &device)
            .unwrap();
        let b = FactorizedPrior::new(3, &device, 1)
            .logits_at(&xs, &device)
            .unwrap();
        let c = FactorizedPrior::new(3, &device, 2)
            .logits_at(&xs, &device)
            .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let sig = |l: f64| 1.0 / (1.0 + (-l).exp());
        for ch in &a {
            assert!(ch.windows(2).all(|w| w[1] >= w[0]));
            assert!(sig(ch[0]) < 1e-3 && sig(ch[ch.len() - 1]) > 1.0 - 1e-3);
        }
    }
}
