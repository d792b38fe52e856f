//! One training step's loss and gradients, on one device or data-parallel over several, in
//! f32 or bf16.
//!
//! Several devices follow burn-train's multi-device strategy in niclab's own loop: the model
//! is forked onto every device, each takes its share of the batch, each share's loss is
//! weighted by its share of the crops (so the sum is the whole batch's mean), and the
//! gradients are moved to the first device and summed there in device order, for one
//! optimiser step. The order is fixed, so a resumed run repeats the uninterrupted one.
//! burn 0.22 has no all-reduce for libtorch; on CUDA the devices still overlap, because
//! libtorch queues kernels and nothing is read back until every share's backward is queued.
//!
//! bf16 (`train.precision`): the autoencoder runs on bf16 copies of its f32 weights (the cast
//! is differentiable, so the gradients land on the f32 weights, in f32) and a bf16 input;
//! the reconstruction is cast back and the loss (SSIM, VGG16, MSE, rate) is f32. bf16 keeps
//! f32's 8-bit exponent, so small gradients do not underflow as they do in f16: no loss
//! scaling is needed.

use anyhow::Result;
use burn::module::{ModuleMapper, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use burn::tensor::FloatDType;

use crate::backend;
use crate::config::{DecoderInput, Experiment, Precision, RateInput, Trainable};
use crate::data::batches::Batch;
use crate::loss::{HybridLoss, TermValues};
use crate::model::Autoencoder;

/// A device that trains, with its own copy of the loss (VGG16 lives on the device).
struct Replica {
    device: Device,
    loss: HybridLoss,
}

/// The devices of `train.devices` (or `train.device`) and the step's arithmetic.
pub struct Replicas {
    replicas: Vec<Replica>,
    precision: Precision,
    trainable: Trainable,
    decoder_input: DecoderInput,
    rate_input: RateInput,
    rate_weight: f64,
}

/// What a step computed before the optimiser applies it.
pub struct StepGrads {
    /// The batch's loss (mean over all crops).
    pub loss: f64,
    /// Its weighted terms.
    pub terms: TermValues,
    /// Gradients of the loss, on the main device.
    pub grads: GradientsParams,
}

impl Replicas {
    /// `main` (an autodiff device) and `loss` are the run's own; the other devices of
    /// `train.devices` get a loss of their own.
    pub fn new(exp: &Experiment, main: &Device, loss: HybridLoss) -> Result<Self> {
        let mut replicas = vec![Replica {
            device: main.clone(),
            loss,
        }];
        for spec in exp.train.replica_devices().into_iter().skip(1) {
            let device = backend::device(exp.train.backend, spec)?.autodiff();
            let loss = HybridLoss::new(&exp.loss, &device)?;
            replicas.push(Replica { device, loss });
        }
        Ok(Self {
            replicas,
            precision: exp.train.precision,
            trainable: exp.train.trainable,
            decoder_input: exp.train.decoder_input,
            rate_input: exp.train.rate_input,
            rate_weight: exp.loss.rate,
        })
    }

    /// How many devices train.
    pub fn count(&self) -> usize {
        self.replicas.len()
    }

    /// Loss and gradients of `model` (on the main device) for `batch`, split in `len()`
    /// contiguous shares; share `i` draws its latent noise from `noise_seed(i)`. With
    /// `poison`, the input is NaN (the NaN guard's test). `Err(loss)` when the loss is not
    /// finite: nothing was differentiated.
    pub fn step(
        &self,
        model: &Autoencoder,
        batch: &Batch,
        noise_seed: impl Fn(usize) -> u64,
        poison: bool,
    ) -> Result<StepGrads, f64> {
        let n = self.replicas.len();
        let mut shares = Vec::with_capacity(n);
        for (i, (replica, part)) in self.replicas.iter().zip(split(batch, n)).enumerate() {
            let weight = part.len as f64 / batch.len as f64;
            let copy = match i {
                0 => model.clone(),
                _ => model.clone().fork(&replica.device),
            };
            let mut x = part.to_tensor(&replica.device);
            if poison {
                x = x * f32::NAN;
            }
            let pass = |m: &Autoencoder, x: Tensor<4>| match self.trainable {
                Trainable::All => {
                    m.forward_train(x, noise_seed(i), self.decoder_input, self.rate_input)
                }
                Trainable::Decoder => m.forward_decoder_train(x),
            };
            let (recon, rate) = match self.precision {
                Precision::F32 => pass(&copy, x.clone()),
                Precision::Bf16 => {
                    let (recon, rate) = pass(
                        &cast(&copy, FloatDType::BF16),
                        x.clone().cast(FloatDType::BF16),
                    );
                    (recon.cast(FloatDType::F32), rate)
                }
            };
            let mut terms = replica.loss.forward(recon, x);
            if let Some(rate) = rate {
                terms = terms.with_rate(self.rate_weight, rate);
            }
            shares.push((copy, terms, weight));
        }
        // Read back only now: on CUDA every device has its forward queued by this point.
        let mut loss = 0.0;
        let mut values = TermValues::default();
        for (_, terms, weight) in &shares {
            loss += terms.total.clone().into_scalar::<f32>() as f64 * weight;
            values.add_scaled(&terms.weighted(), *weight);
        }
        if !loss.is_finite() {
            return Err(loss);
        }
        // Weighting by 1.0 and summing one set of gradients leave one device's step exactly
        // as it was.
        let main = &self.replicas[0].device;
        let mut sum = GradientsAccumulator::new();
        for (copy, terms, weight) in shares {
            let grads = GradientsParams::from_grads((terms.total * weight).backward(), &copy);
            sum.accumulate(model, grads.to_device(main, model));
        }
        let grads = sum.grads();
        Ok(StepGrads {
            loss,
            terms: values,
            grads,
        })
    }
}

/// `batch` in `n` contiguous shares, sizes differing by at most one.
fn split(batch: &Batch, n: usize) -> Vec<Batch> {
    let per_crop = 3 * batch.side * batch.side;
    let mut start = 0;
    (0..n)
        .map(|i| {
            let len = batch.len / n + usize::from(i < batch.len % n);
            let values = batch.values[start * per_crop..(start + len) * per_crop].to_vec();
            start += len;
            Batch {
                len,
                side: batch.side,
                values,
            }
        })
        .collect()
}

/// A copy of `model` whose weights are `dtype` casts of its own: differentiable, so the
/// gradients reach the original (f32) weights under their ids.
fn cast(model: &Autoencoder, dtype: FloatDType) -> Autoencoder {
    struct Cast(FloatDType);
    impl ModuleMapper for Cast {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let dtype = self.0;
            param.map(|t| t.cast(dtype))
        }
    }
    model.encoder_decoder_map(&mut Cast(dtype))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_every_crop_in_order() {
        let batch = Batch {
            len: 5,
            side: 1,
            values: (0..15).map(|v| v as f32).collect(),
        };
        let parts = split(&batch, 2);
        assert_eq!(parts.iter().map(|p| p.len).collect::<Vec<_>>(), [3, 2]);
        let joined: Vec<f32> = parts.iter().flat_map(|p| p.values.clone()).collect();
        assert_eq!(joined, batch.values);
        assert_eq!(split(&batch, 1)[0].values, batch.values);
    }
}
