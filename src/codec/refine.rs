//! Latent refinement at encode time (`niclab compress --refine STEPS`): the encoder's latent
//! `y` (and, with a hyperprior, `z = h_a(y)`) is only a network's guess at the latent that
//! minimises the model's own objective `D + λ R` for this image; a few steps of gradient
//! descent on `y` and `z` themselves, through the decoder and the entropy model with the
//! weights fixed, lower that objective for the image at hand (Campos et al. 2019, "Content
//! adaptive optimization for neural image compression"; Yang et al. 2020 call the gap the
//! encoder leaves the amortization gap). The file format and the decoder are untouched:
//! the coder quantises and codes the refined latents as it codes any, so the files decode
//! on every backend exactly as before.
//!
//! Each step evaluates the objective at the latent the coder would code (both latents
//! rounded as the codec rounds them, the gradient passed straight through the rounding) and
//! keeps the best latent seen, so a refined batch never costs more than the encoder's own
//! latent under that objective (to the float rounding between burn's hyper-synthesis and
//! the coder's exact one).

use anyhow::{Result, bail};
use burn::module::Module;
use burn::prelude::*;

use super::hyperprior::Hyperprior;
use crate::config::LossConfig;
use crate::loss::HybridLoss;
use crate::model::{Autoencoder, straight_through_round};

/// Adam's default step size on the latents (their rounding step is 1), chosen on the test
/// photos (README, "Refining the latent at encode time").
pub const LEARNING_RATE: f64 = 0.01;
const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPSILON: f64 = 1e-8;

/// Refines the latents of a model with an entropy model against its training objective.
pub struct Refiner {
    /// The model on the autodiff device, its weights without gradients.
    model: Autoencoder,
    loss: HybridLoss,
    lambda: f64,
    steps: u32,
    lr: f64,
}

/// A batch's refined latents and the objective before and after.
pub struct Refined {
    /// The latent `[B, M, h, w]`, on the session's device.
    pub y: Tensor<4>,
    /// The hyper-latent, with a hyperprior.
    pub z: Option<Tensor<4>>,
    /// `D + λ R` of the encoder's own latents, as coded.
    pub before: f64,
    /// `D + λ R` of the latents returned.
    pub after: f64,
}

impl Refiner {
    /// `steps` of refinement for `model` (on `device`), against `loss`, the objective the
    /// model was trained with (its rate weight is the `λ`).
    pub fn new(
        model: &Autoencoder,
        loss: &LossConfig,
        device: &Device,
        steps: u32,
    ) -> Result<Self> {
        if !model.has_entropy_model() {
            bail!(
                "--refine needs a model with an entropy model (a codec): this one stores its \
                 latent as float32, there is no rate to trade against"
            );
        }
        if loss.rate <= 0.0 {
            bail!(
                "--refine needs the model's loss.rate (its λ) above 0 to trade bits against \
                 distortion; this model's is {}",
                loss.rate
            );
        }
        let ad = device.clone().autodiff();
        Ok(Self {
            model: model.clone().no_grad().fork(&ad),
            loss: HybridLoss::new(loss, &ad)?,
            lambda: loss.rate,
            steps,
            lr: LEARNING_RATE,
        })
    }

    /// Adam's step size instead of [`LEARNING_RATE`].
    pub fn with_learning_rate(mut self, lr: f64) -> Result<Self> {
        if !(lr.is_finite() && lr > 0.0) {
            bail!("the refinement's learning rate must be above 0, not {lr}");
        }
        self.lr = lr;
        Ok(self)
    }

    /// Refines the latent `y` the encoder gave for `images` (`[B, 3, H, W]` in [0, 1], the
    /// padded batch), both on the session's device.
    pub fn refine(&self, images: Tensor<4>, y: Tensor<4>) -> Result<Refined> {
        let x = images.autodiff();
        let mut y = y.inner();
        let mut z = self
            .model
            .hyperprior()
            .map(|h| h.analyse(y.clone().autodiff()).inner());
        let mut adam_y = Adam::new(&y);
        let mut adam_z = z.as_ref().map(Adam::new);
        let (mut best_y, mut best_z) = (y.clone(), z.clone());
        let (mut before, mut best) = (f64::NAN, f64::INFINITY);
        for t in 0..=self.steps {
            let yv = y.clone().autodiff().require_grad();
            let zv = z.clone().map(|z| z.autodiff().require_grad());
            let objective = self.objective(x.clone(), yv.clone(), zv.clone());
            let value = objective.clone().inner().into_scalar::<f32>() as f64;
            if !value.is_finite() {
                bail!("the refinement's objective is {value} at step {t}");
            }
            if t == 0 {
                before = value;
            }
            if value < best {
                best = value;
                best_y = y.clone();
                best_z = z.clone();
            }
            if t == self.steps {
                break;
            }
            // Cosine decay to 0 over the steps: the rounding makes the objective jump, and a
            // constant step keeps hopping between bins at the end.
            let progress = f64::from(t) / f64::from(self.steps);
            let lr = self.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
            let grads = objective.backward();
            let gy = yv.grad(&grads).ok_or_else(|| no_gradient("y"))?;
            y = adam_y.step(y, gy, t + 1, lr);
            if let (Some(zv), Some(adam), Some(zt)) = (zv, adam_z.as_mut(), z.take()) {
                let gz = zv.grad(&grads).ok_or_else(|| no_gradient("z"))?;
                z = Some(adam.step(zt, gz, t + 1, lr));
            }
        }
        Ok(Refined {
            y: best_y,
            z: best_z,
            before,
            after: best,
        })
    }

    /// `D + λ R` with both latents rounded as the codec rounds them (values) and the
    /// gradient passed straight through the rounding.
    fn objective(&self, x: Tensor<4>, y: Tensor<4>, z: Option<Tensor<4>>) -> Tensor<1> {
        let [b, _, h, w] = x.dims();
        let pixels = (b * h * w) as f64;
        let (y_hat, bits) = match (self.model.hyperprior(), self.model.prior(), z) {
            (Some(hyper), _, Some(z)) => {
                let z_hat = straight_through_round(z, None);
                let side = hyper.prior().bits(z_hat.clone());
                let [_, _, lh, lw] = y.dims();
                let params = hyper.synthesise(z_hat).cropped([lh, lw]);
                let y_hat = straight_through_round(y, Some(params.means.clone()));
                let bits = Hyperprior::latent_bits(y_hat.clone(), &params);
                (y_hat, bits + side)
            }
            (_, Some(prior), _) => {
                let y_hat = straight_through_round(y, None);
                let bits = prior.bits(y_hat.clone());
                (y_hat, bits)
            }
            // `new` refuses models without an entropy model.
            _ => unreachable!("a refined model has an entropy model"),
        };
        let distortion = self.loss.forward(self.model.decode(y_hat), x).total;
        distortion + bits * (self.lambda / pixels)
    }
}

fn no_gradient(what: &str) -> anyhow::Error {
    anyhow::anyhow!("the refinement's objective has no gradient for {what}")
}

/// Adam's moments for one latent tensor (plain tensors: the latents are the only variables).
struct Adam {
    m: Tensor<4>,
    v: Tensor<4>,
}

impl Adam {
    fn new(like: &Tensor<4>) -> Self {
        Self {
            m: like.zeros_like(),
            v: like.zeros_like(),
        }
    }

    /// Step `t` (from 1) of `x` along the gradient `g`.
    fn step(&mut self, x: Tensor<4>, g: Tensor<4>, t: u32, lr: f64) -> Tensor<4> {
        let g = g.inner();
        self.m = self.m.clone() * BETA1 + g.clone() * (1.0 - BETA1);
        self.v = self.v.clone() * BETA2 + g.powi_scalar(2) * (1.0 - BETA2);
        let m_hat = self.m.clone() / (1.0 - BETA1.powi(t as i32));
        let v_hat = self.v.clone() / (1.0 - BETA2.powi(t as i32));
        x - m_hat * lr / (v_hat.sqrt() + EPSILON)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Activation, Entropy, ModelConfig};

    fn model(entropy: Entropy) -> (Autoencoder, Device) {
        let device = Device::flex();
        let cfg = ModelConfig {
            pairs: 4,
            channels: vec![8, 12],
            kernel_size: 3,
            downsample: 4,
            latent_channels: 5,
            entropy,
            activation: Activation::Gdn,
            ..ModelConfig::default()
        };
        (Autoencoder::new(&cfg, &device, 7), device)
    }

    fn loss(rate: f64) -> LossConfig {
        LossConfig {
            ssim: 0.0,
            mse: 1.0,
            rate,
            ..LossConfig::default()
        }
    }

    /// A smooth 2-image batch of 128x112 in [0, 1]: the latent is 7 wide, the hyper-latent's
    /// means and scales 8 (cropped, as the coder crops them).
    fn images(device: &Device) -> Tensor<4> {
        let v: Vec<f32> = (0..2 * 3 * 128 * 112)
            .map(|i| 0.5 + 0.4 * ((i % 112) as f32 / 20.0 + (i / 3000) as f32).sin())
            .collect();
        Tensor::from_data(TensorData::new(v, [2, 3, 128, 112]), device)
    }

    #[test]
    fn refining_lowers_the_objective_of_both_entropy_models_and_zero_steps_keep_the_latent() {
        for entropy in [Entropy::Hyperprior, Entropy::Factorized] {
            let (m, device) = model(entropy);
            let x = images(&device);
            let y = m.encode(x.clone());
            // A fresh model's latents are small: a large step moves them across bins.
            let r = Refiner::new(&m, &loss(1.0), &device, 12)
                .unwrap()
                .with_learning_rate(0.3)
                .unwrap();
            let out = r.refine(x.clone(), y.clone()).unwrap();
            // A fresh model's decoder hardly reads its latent: any descent shows as a drop
            // (with no step or a step the wrong way, the best stays the start).
            assert!(
                out.after < out.before,
                "{entropy:?}: {} -> {}",
                out.before,
                out.after
            );
            assert_eq!(out.z.is_some(), entropy == Entropy::Hyperprior);
            // The objective of the latent returned, evaluated afresh, is the one reported.
            let again = Refiner::new(&m, &loss(1.0), &device, 0).unwrap();
            let kept = again.refine(x.clone(), out.y.clone()).unwrap();
            if entropy == Entropy::Factorized {
                assert!((kept.before - out.after).abs() < 1e-6 * out.after.abs());
            }
            // No steps: the encoder's latent as it was.
            let same = again.refine(x, y.clone()).unwrap();
            assert_eq!(same.before, same.after);
            let (a, b): (Vec<f32>, Vec<f32>) = (
                same.y.into_data().try_to_vec().unwrap(),
                y.into_data().try_to_vec().unwrap(),
            );
            assert_eq!(a, b);
        }
    }

    #[test]
    fn models_without_a_rate_and_bad_step_sizes_are_refused() {
        let (plain, device) = model(Entropy::None);
        let err = Refiner::new(&plain, &loss(0.01), &device, 5).err().unwrap();
        assert!(err.to_string().contains("entropy model"), "{err}");
        let (codec, _) = model(Entropy::Hyperprior);
        let err = Refiner::new(&codec, &loss(0.0), &device, 5).err().unwrap();
        assert!(err.to_string().contains("loss.rate"), "{err}");
        for lr in [0.0, -0.1, f64::NAN] {
            let r = Refiner::new(&codec, &loss(0.01), &device, 5).unwrap();
            let err = r.with_learning_rate(lr).err().unwrap();
            assert!(err.to_string().contains("learning rate"), "{err}");
        }
    }
}
