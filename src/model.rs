//! The paper's convolutional autoencoder: N `Conv2d + ReLU` layers down, N mirrored
//! `ConvTranspose2d` layers up, a Sigmoid at the end so pixels land in [0, 1]; optionally a
//! learned entropy model over the latent (see [`crate::codec`]).

use burn::module::{ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::codec::prior::FactorizedPrior;
use crate::config::{Entropy, ModelConfig};
use crate::data::batches::mix_seed;

/// Encoder and decoder, one `Vec` entry per conv pair, and the entropy model if any.
#[derive(Module, Debug)]
pub struct Autoencoder {
    encoder: Vec<Conv2d>,
    decoder: Vec<ConvTranspose2d>,
    /// The factorized prior of `entropy = "factorized"` models.
    prior: Option<FactorizedPrior>,
}

impl Autoencoder {
    /// Builds the model with fresh weights on `device`, drawn from `seed`.
    ///
    /// The weights follow burn's default (Kaiming-uniform, bound 1/sqrt(fan_in), biases too)
    /// but come from our own generator rather than the backend's global one: that one is shared
    /// by every thread of the process, and differs between backends, so a run would not be
    /// repeatable.
    pub fn new(cfg: &ModelConfig, device: &Device, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(&[seed, 0x1417]));
        let k = cfg.kernel_size;
        let pad = k / 2;
        let stride = |i: usize| if i < cfg.downsample { 2 } else { 1 };
        let in_ch = |i: usize| {
            if i == 0 {
                3
            } else {
                cfg.encoder_channels(i - 1)
            }
        };

        let encoder = (0..cfg.pairs)
            .map(|i| {
                let (c_in, c_out) = (in_ch(i), cfg.encoder_channels(i));
                let mut conv = Conv2dConfig::new([c_in, c_out], [k, k])
                    .with_stride([stride(i); 2])
                    .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                    .with_initializer(Initializer::Zeros)
                    .init(device);
                let fan_in = c_in * k * k;
                conv.weight = uniform(&mut rng, [c_out, c_in, k, k], fan_in, device);
                conv.bias = Some(uniform(&mut rng, [c_out], fan_in, device));
                conv
            })
            .collect();
        // Decoder layer j mirrors encoder layer N-1-j: same kernel and stride, channels reversed.
        // With padding k/2, a stride-2 transposed conv needs one extra output row/column to
        // exactly double the size.
        let decoder = (0..cfg.pairs)
            .rev()
            .map(|i| {
                let s = stride(i);
                let (c_in, c_out) = (cfg.encoder_channels(i), in_ch(i));
                let mut deconv = ConvTranspose2dConfig::new([c_in, c_out], [k, k])
                    .with_stride([s; 2])
                    .with_padding([pad; 2])
                    .with_padding_out([s - 1; 2])
                    .with_initializer(Initializer::Zeros)
                    .init(device);
                // burn counts a transposed conv's fan-in over its output channels.
                let fan_in = c_out * k * k;
                deconv.weight = uniform(&mut rng, [c_in, c_out, k, k], fan_in, device);
                deconv.bias = Some(uniform(&mut rng, [c_out], fan_in, device));
                deconv
            })
            .collect();
        let prior = (cfg.entropy == Entropy::Factorized)
            .then(|| FactorizedPrior::new(cfg.latent_channels, device, mix_seed(&[seed, 0x91A7])));
        Self {
            encoder,
            decoder,
            prior,
        }
    }

    /// Image batch `[B, 3, H, W]` in [0, 1] to latent `[B, C, H/2^d, W/2^d]`. With an entropy
    /// model the last layer is linear: a ReLU would pile half the latent onto one bin and
    /// leave the density nothing to learn below it.
    pub fn encode(&self, x: Tensor<4>) -> Tensor<4> {
        let last = self.encoder.len() - 1;
        let linear = self.prior.is_some();
        self.encoder.iter().enumerate().fold(x, |x, (i, conv)| {
            let y = conv.forward(x);
            if i == last && linear { y } else { relu(y) }
        })
    }

    /// The encoder's layers in order, as plain values: for inference paths that run the
    /// convolutions their own way ([`crate::cpu_encoder`]).
    pub fn encoder_layers(&self) -> impl Iterator<Item = EncoderLayer> + '_ {
        let last = self.encoder.len() - 1;
        let linear = self.prior.is_some();
        self.encoder
            .iter()
            .enumerate()
            .map(move |(i, conv)| EncoderLayer {
                weight: conv.weight.val(),
                bias: conv.bias.as_ref().map(|b| b.val()),
                stride: conv.stride[0],
                // Built with symmetric explicit padding of kernel / 2 (see `new`).
                pad: conv.kernel_size[0] / 2,
                relu: !(i == last && linear),
            })
    }

    /// The entropy model, for `entropy = "factorized"` models.
    pub fn prior(&self) -> Option<&FactorizedPrior> {
        self.prior.as_ref()
    }

    /// The latent as the decoder sees it at inference: rounded to integers with an entropy
    /// model, as is without one (its quantiser is fitted after training, see
    /// [`crate::codec::tables`]).
    pub fn quantize(&self, z: Tensor<4>) -> Tensor<4> {
        if self.prior.is_some() { z.round() } else { z }
    }

    /// Latent to reconstruction in [0, 1].
    pub fn decode(&self, z: Tensor<4>) -> Tensor<4> {
        let last = self.decoder.len() - 1;
        self.decoder.iter().enumerate().fold(z, |z, (j, deconv)| {
            let y = deconv.forward(z);
            if j == last { sigmoid(y) } else { relu(y) }
        })
    }

    /// Encode then decode.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.decode(self.encode(x))
    }

    /// A training pass: the reconstruction and, with an entropy model, the rate in bits per
    /// pixel. Rounding has no gradient, so training adds U(-½, ½) noise to the latent
    /// instead (Ballé et al. 2017): the noisy latent's density is the prior convolved with
    /// the noise, whose likelihoods are exactly what the bins of the rounded latent get, so
    /// the rate term estimates the real code length. The decoder sees the same noisy latent.
    /// The noise comes from `noise_seed` (no global generator: runs stay repeatable).
    pub fn forward_train(&self, x: Tensor<4>, noise_seed: u64) -> (Tensor<4>, Option<Tensor<1>>) {
        let [b, _, h, w] = x.dims();
        let z = self.encode(x);
        match &self.prior {
            None => (self.decode(z), None),
            Some(prior) => {
                let shape = z.dims();
                let mut rng = ChaCha8Rng::seed_from_u64(noise_seed);
                let noise: Vec<f32> = (0..shape.iter().product::<usize>())
                    .map(|_| rng.random_range(-0.5f32..0.5))
                    .collect();
                let noisy =
                    z.clone() + Tensor::from_data(TensorData::new(noise, shape), &z.device());
                let bpp = prior.bits(noisy.clone()) / (b * h * w) as f64;
                (self.decode(noisy), Some(bpp))
            }
        }
    }

    /// An inference pass as the codec runs it: the latent rounded (with an entropy model),
    /// and the rate its bins cost under the prior, in bits per pixel.
    pub fn forward_quantized(&self, x: Tensor<4>) -> (Tensor<4>, Option<Tensor<1>>) {
        let [b, _, h, w] = x.dims();
        let z = self.quantize(self.encode(x));
        let bpp = self
            .prior
            .as_ref()
            .map(|p| p.bits(z.clone()) / (b * h * w) as f64);
        (self.decode(z), bpp)
    }

    /// Every weight and bias as `f32`, in module order: for exact comparisons and fingerprints
    /// (the serialised record also holds random parameter ids, so its bytes differ per run).
    pub fn flat_parameters(&self) -> Vec<f32> {
        struct Collect(Vec<f32>);
        impl ModuleVisitor for Collect {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let data = param.val().into_data().convert::<f32>();
                self.0.extend(data.try_to_vec::<f32>().unwrap_or_default());
            }
        }
        let mut c = Collect(Vec::new());
        self.visit(&mut c);
        c.0
    }
}

/// One encoder convolution: `y = W * x + b` over `x` zero-padded by `pad` on every side,
/// then a ReLU unless `relu` is false.
pub struct EncoderLayer {
    /// `[c_out, c_in, k, k]`.
    pub weight: Tensor<4>,
    /// `[c_out]`.
    pub bias: Option<Tensor<1>>,
    /// Stride, both directions.
    pub stride: usize,
    /// Zero padding on each side.
    pub pad: usize,
    /// Whether a ReLU follows.
    pub relu: bool,
}

/// A trainable parameter of `shape` drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
fn uniform<const D: usize>(
    rng: &mut ChaCha8Rng,
    shape: [usize; D],
    fan_in: usize,
    device: &Device,
) -> Param<Tensor<D>> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    let values: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| rng.random_range(-bound..bound))
        .collect();
    Param::from_data(TensorData::new(values, shape), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: usize, downsample: usize) -> ModelConfig {
        ModelConfig {
            pairs,
            channels: vec![8, 12],
            kernel_size: 3,
            downsample,
            latent_channels: 5,
            entropy: Entropy::None,
        }
    }

    #[test]
    fn paper_depths_keep_shape_on_128() {
        let device = Device::flex();
        for pairs in [3, 5, 7, 10] {
            let m = Autoencoder::new(&cfg(pairs, 3), &device, 0);
            let x = Tensor::<4>::ones([1, 3, 128, 128], &device) * 0.5;
            let z = m.encode(x.clone());
            assert_eq!(z.dims(), [1, 5, 16, 16], "latent of {pairs} pairs");
            let y = m.decode(z);
            assert_eq!(y.dims(), [1, 3, 128, 128], "output of {pairs} pairs");
            assert_eq!(m.encoder.len(), pairs);
            assert_eq!(m.decoder.len(), pairs);
        }
    }

    #[test]
    fn fully_convolutional_on_other_sizes() {
        let device = Device::flex();
        let m = Autoencoder::new(&cfg(4, 2), &device, 0);
        let y = m.forward(Tensor::<4>::zeros([2, 3, 36, 20], &device));
        assert_eq!(y.dims(), [2, 3, 36, 20]);
        let z = m.encode(Tensor::<4>::zeros([1, 3, 36, 20], &device));
        assert_eq!(z.dims(), [1, 5, 9, 5]);
    }

    #[test]
    fn weights_depend_only_on_the_seed() {
        // Built on several threads at once, as parallel tests and runs do: a shared global
        // generator would interleave draws and break this.
        let build = |seed| {
            std::thread::spawn(move || {
                Autoencoder::new(&cfg(3, 2), &Device::flex(), seed).flat_parameters()
            })
        };
        let runs: Vec<Vec<f32>> = [5, 5, 5, 6]
            .into_iter()
            .map(build)
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        assert_eq!(runs[0], runs[1]);
        assert_eq!(runs[0], runs[2]);
        assert_ne!(runs[0], runs[3]);
        // burn's default bound, 1/sqrt(fan_in): the first layer has fan-in 3*3*3 = 27.
        let first = &runs[0][..8 * 27];
        let bound = 1.0 / 27f32.sqrt();
        assert!(first.iter().all(|v| v.abs() <= bound));
        assert!(first.iter().any(|v| v.abs() > 0.9 * bound));
    }

    #[test]
    fn output_is_in_unit_range() {
        let device = Device::flex();
        device.seed(1);
        let m = Autoencoder::new(&cfg(3, 2), &device, 1);
        let x = Tensor::<4>::random(
            [2, 3, 16, 16],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let y: Vec<f32> = m.forward(x).into_data().try_to_vec().expect("f32 data");
        assert!(y.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
