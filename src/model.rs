//! The paper's convolutional autoencoder: N `Conv2d + ReLU` layers down, N mirrored
//! `ConvTranspose2d` layers up, a Sigmoid at the end so pixels land in [0, 1]; optionally a
//! learned entropy model over the latent (see [`crate::codec`]: a factorized prior or a
//! mean-scale hyperprior), GDN instead of ReLU ([`crate::gdn`]) and resize convolutions
//! instead of the transposed ones (`upsample = "resize"`).

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::FloatDType;
use burn::tensor::activation::{relu, sigmoid};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::codec::hyperprior::Hyperprior;
use crate::codec::prior::FactorizedPrior;
use crate::config::{
    Activation, DecoderInput, Entropy, Init, ModelConfig, Output, RateInput, Upsample,
};
use crate::data::batches::mix_seed;
use crate::gdn::Gdn;

/// Encoder and decoder, one `Vec` entry per conv pair, and the entropy model if any.
#[derive(Module, Debug)]
pub struct Autoencoder {
    encoder: Vec<Conv2d>,
    decoder: Vec<ConvTranspose2d>,
    /// The factorized prior of `entropy = "factorized"` models.
    prior: Option<FactorizedPrior>,
    /// With `activation = "gdn"`: a GDN after each encoder convolution but the last (after
    /// the prior in the record, so ReLU models keep their parameter order).
    encoder_gdn: Vec<Gdn>,
    /// With `activation = "gdn"`: an inverse GDN after each decoder convolution but the last.
    decoder_gdn: Vec<Gdn>,
    /// The mean-scale hyperprior of `entropy = "hyperprior"` models (last in the record, as
    /// `decoder_gdn` before it).
    hyper: Option<Hyperprior>,
    /// With `upsample = "resize"`: the decoder's convolutions in place of `decoder` (which is
    /// then empty), one per pair; last in the record, so earlier models load as they were.
    decoder_resize: Vec<ResizeConv>,
    /// What maps the last layer's value to pixels (configuration, not in the record).
    #[module(skip)]
    output: Output,
}

/// The ε of `output = "stretched"`: `clamp((1 + 2ε)·σ(v) − ε)` (README, "Clamped output").
pub const STRETCH: f64 = 0.01;

/// The decoder's last layer's value `v` to pixels, as `output` says.
fn output_pixels(output: Output, v: Tensor<4>) -> Tensor<4> {
    match output {
        Output::Sigmoid => sigmoid(v),
        Output::Clamp => straight_through_clamp(v),
        Output::Stretched => straight_through_clamp(sigmoid(v) * (1.0 + 2.0 * STRETCH) - STRETCH),
    }
}

/// The slope `k` of the line `clamp(½ + k·v)` that replaces the sigmoid `σ(v)` when a sigmoid
/// model starts a clamped one: over pixels spread evenly in [0, 1] it is off by 7.4 levels
/// (RMS, of 255) where the tangent at 0 (`k = ¼`) is off by 12.3; on the validation crops
/// hyperprior9-mse-0.002 converted starts at 26.7 dB with it, 24.7 dB with the tangent (28.98
/// before). Least squares over `k` in steps of 0.01 (README, "Clamped output").
pub const CLAMP_FROM_SIGMOID_SLOPE: f64 = 0.2;

/// A decoder layer of `upsample = "resize"`: nearest-neighbour doubling (when `up`), then a
/// convolution that keeps the size.
#[derive(Module, Debug)]
pub struct ResizeConv {
    conv: Conv2d,
    up: bool,
}

impl ResizeConv {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = if self.up { double_nearest(x) } else { x };
        self.conv.forward(x)
    }
}

/// Each pixel repeated 2x2: `[B, C, H, W]` to `[B, C, 2H, 2W]`, by reshapes that every
/// backend differentiates the same way.
fn double_nearest(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .expand([b, c, h, 2, w, 2])
        .reshape([b, c, 2 * h, 2 * w])
}

/// The rate of a pass in bits per pixel: the latent's and, with a hyperprior, the
/// hyper-latent's (side information), each `[1]`.
pub struct Rate {
    /// `y`'s bits per pixel (given `z`, with a hyperprior).
    pub latent: Tensor<1>,
    /// `z`'s bits per pixel, with a hyperprior.
    pub side: Option<Tensor<1>>,
}

impl Rate {
    /// Both parts together: what the file costs.
    pub fn total(&self) -> Tensor<1> {
        match &self.side {
            Some(side) => self.latent.clone() + side.clone(),
            None => self.latent.clone(),
        }
    }
}

impl Autoencoder {
    /// Builds the model with fresh weights on `device`, drawn from `seed` as `cfg.init` says.
    ///
    /// The weights come from our own generator rather than the backend's global one: that one
    /// is shared by every thread of the process, and differs between backends, so a run would
    /// not be repeatable.
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
                let shape = ConvShape {
                    channels: [in_ch(i), cfg.encoder_channels(i)],
                    k,
                    stride: stride(i),
                    keeps_size: stride(i) == 1,
                };
                shape.draw(cfg.init, &mut rng, device)
            })
            .collect();
        // Decoder layer j mirrors encoder layer N-1-j: same kernel and stride, channels reversed.
        // With padding k/2, a stride-2 transposed conv needs one extra output row/column to
        // exactly double the size.
        let transposed = cfg.upsample == Upsample::Transposed;
        let decoder = (0..cfg.pairs)
            .rev()
            .filter(|_| transposed)
            .map(|i| {
                let s = stride(i);
                let (c_in, c_out) = (cfg.encoder_channels(i), in_ch(i));
                let mut deconv = ConvTranspose2dConfig::new([c_in, c_out], [k, k])
                    .with_stride([s; 2])
                    .with_padding([pad; 2])
                    .with_padding_out([s - 1; 2])
                    .with_initializer(Initializer::Zeros)
                    .init(device);
                let fans = Fans {
                    // burn and PyTorch count a transposed conv's fan-in over its outputs.
                    pytorch: c_out * k * k,
                    glorot: (c_in + c_out) * k * k,
                    keeps_size: s == 1,
                };
                let (weight, bias) =
                    fans.draw(cfg.init, &mut rng, [c_in, c_out, k, k], c_out, device);
                deconv.weight = weight;
                deconv.bias = Some(bias);
                deconv
            })
            .collect();
        let prior = (cfg.entropy == Entropy::Factorized)
            .then(|| FactorizedPrior::new(cfg.latent_channels, device, mix_seed(&[seed, 0x91A7])));
        let (encoder_gdn, decoder_gdn) = match cfg.activation {
            Activation::Relu => (Vec::new(), Vec::new()),
            Activation::Gdn => (
                (0..cfg.pairs - 1)
                    .map(|i| Gdn::new(cfg.encoder_channels(i), device))
                    .collect(),
                // Decoder layer j outputs what encoder layer N-2-j took in.
                (0..cfg.pairs - 1)
                    .rev()
                    .map(|i| Gdn::new(cfg.encoder_channels(i), device))
                    .collect(),
            ),
        };
        let hyper = (cfg.entropy == Entropy::Hyperprior)
            .then(|| Hyperprior::new(cfg.latent_channels, device, mix_seed(&[seed, 0x4E7A])));
        // Drawn after every other layer, from a stream of their own, so the transposed
        // models' weights stay what their seed gave before this option existed.
        let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(&[seed, 0x2E51]));
        let decoder_resize = (0..cfg.pairs)
            .rev()
            .filter(|_| !transposed)
            .map(|i| {
                let up = stride(i) == 2;
                let shape = ConvShape {
                    channels: [cfg.encoder_channels(i), in_ch(i)],
                    k: if up { 3 } else { k },
                    stride: 1,
                    // The layer doubles the size though its convolution does not.
                    keeps_size: !up,
                };
                let conv = shape.draw(cfg.init, &mut rng, device);
                ResizeConv { conv, up }
            })
            .collect();
        Self {
            encoder,
            decoder,
            prior,
            encoder_gdn,
            decoder_gdn,
            hyper,
            decoder_resize,
            output: cfg.output,
        }
    }

    /// A sigmoid-output model's weights as the start of an `output = "clamp"` one: the last
    /// layer scaled so that `clamp(½ + k·v)` stands in for `σ(v)`
    /// ([`CLAMP_FROM_SIGMOID_SLOPE`]), and fine-tuning has that difference to learn rather
    /// than everything.
    pub fn clamped_from_sigmoid(mut self) -> Self {
        // Each a fresh leaf: the product's graph would otherwise hang off the parameter and
        // the second backward pass would find its tape consumed.
        let k = CLAMP_FROM_SIGMOID_SLOPE;
        let scale = |w: Param<Tensor<4>>| w.map(|w| (w * k).detach().require_grad());
        let shift = |b: Param<Tensor<1>>| b.map(|b| (b * k + 0.5).detach().require_grad());
        if let Some(last) = self.decoder.last_mut() {
            last.weight = scale(last.weight.clone());
            last.bias = last.bias.take().map(shift);
        }
        if let Some(last) = self.decoder_resize.last_mut() {
            last.conv.weight = scale(last.conv.weight.clone());
            last.conv.bias = last.conv.bias.take().map(shift);
        }
        self.output = Output::Clamp;
        self
    }

    /// A sigmoid-output model as the start of an `output = "stretched"` one: the same weights,
    /// whose pictures move by at most ε ([`STRETCH`]).
    pub fn stretched_from_sigmoid(mut self) -> Self {
        self.output = Output::Stretched;
        self
    }

    /// Whether the model has an entropy model (its latent is linear and rounded).
    pub fn has_entropy_model(&self) -> bool {
        self.prior.is_some() || self.hyper.is_some()
    }

    /// Whether GDN layers replace the ReLUs (inference paths that only know ReLU step aside).
    pub fn has_gdn(&self) -> bool {
        !self.encoder_gdn.is_empty() || !self.decoder_gdn.is_empty()
    }

    /// The same model with `mapper` applied to the encoder's and decoder's parameters only
    /// (the entropy model is left as it is: its densities stay f32 under bf16 training).
    pub fn encoder_decoder_map<M: ModuleMapper>(&self, mapper: &mut M) -> Self {
        Self {
            encoder: self.encoder.iter().map(|c| c.clone().map(mapper)).collect(),
            decoder: self.decoder.iter().map(|c| c.clone().map(mapper)).collect(),
            prior: self.prior.clone(),
            encoder_gdn: self
                .encoder_gdn
                .iter()
                .map(|g| g.clone().map(mapper))
                .collect(),
            decoder_gdn: self
                .decoder_gdn
                .iter()
                .map(|g| g.clone().map(mapper))
                .collect(),
            hyper: self.hyper.clone(),
            decoder_resize: self
                .decoder_resize
                .iter()
                .map(|c| c.clone().map(mapper))
                .collect(),
            output: self.output,
        }
    }

    /// Image batch `[B, 3, H, W]` in [0, 1] to latent `[B, C, H/2^d, W/2^d]`. With an entropy
    /// model the last layer is linear: a ReLU would pile half the latent onto one bin and
    /// leave the density nothing to learn below it.
    pub fn encode(&self, x: Tensor<4>) -> Tensor<4> {
        let last = self.encoder.len() - 1;
        let linear = self.has_entropy_model();
        self.encoder.iter().enumerate().fold(x, |x, (i, conv)| {
            let y = conv.forward(x);
            match self.encoder_gdn.get(i) {
                Some(gdn) => gdn.forward(y),
                None if i == last && linear => y,
                None => relu(y),
            }
        })
    }

    /// The encoder's layers in order, as plain values: for inference paths that run the
    /// convolutions their own way ([`crate::cpu_encoder`]).
    pub fn encoder_layers(&self) -> impl Iterator<Item = EncoderLayer> + '_ {
        let last = self.encoder.len() - 1;
        let linear = self.has_entropy_model();
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

    /// The hyperprior, for `entropy = "hyperprior"` models.
    pub fn hyperprior(&self) -> Option<&Hyperprior> {
        self.hyper.as_ref()
    }

    /// The latent as the decoder sees it at inference: rounded to integers with an entropy
    /// model, as is without one (its quantiser is fitted after training, see
    /// [`crate::codec::tables`]).
    pub fn quantize(&self, z: Tensor<4>) -> Tensor<4> {
        if self.has_entropy_model() {
            z.round()
        } else {
            z
        }
    }

    /// Latent to reconstruction in [0, 1].
    pub fn decode(&self, z: Tensor<4>) -> Tensor<4> {
        let layers = self.decoder.len().max(self.decoder_resize.len());
        (0..layers).fold(z, |z, j| {
            let y = match self.decoder.get(j) {
                Some(deconv) => deconv.forward(z),
                None => self.decoder_resize[j].forward(z),
            };
            match self.decoder_gdn.get(j) {
                _ if j == layers - 1 => output_pixels(self.output, y),
                Some(igdn) => igdn.inverse(y),
                None => relu(y),
            }
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
    /// the rate term estimates the real code length. The decoder sees the same noisy latent,
    /// or with [`DecoderInput::Rounded`] the latent rounded as the codec rounds it, the
    /// gradient passed straight through. With [`RateInput::Rounded`] (which goes with a
    /// rounded decoder input) there is no noise: both latents are rounded as the codec rounds
    /// them, the rate is what the coder will spend on them and the pass is the codec's
    /// ([`Self::forward_quantized`]) in value, the gradients passed straight through the
    /// rounding. The noise comes from `noise_seed` (no global generator: runs stay
    /// repeatable).
    pub fn forward_train(
        &self,
        x: Tensor<4>,
        noise_seed: u64,
        input: DecoderInput,
        rate_input: RateInput,
    ) -> (Tensor<4>, Option<Rate>) {
        let [b, _, h, w] = x.dims();
        let pixels = (b * h * w) as f64;
        let y = self.encode(x);
        if !self.has_entropy_model() {
            return (self.decode(y), None);
        }
        if rate_input == RateInput::Rounded {
            let (latent, rate) = self.rounded_latent(y, pixels, straight_through_round);
            return (self.decode(latent), Some(rate));
        }
        let noisy = y.clone() + uniform_noise(y.dims(), noise_seed, &y);
        // The densities in f32 whatever the autoencoder's precision (a no-op for f32).
        let y32 = noisy.clone().cast(FloatDType::F32);
        let (rate, means) = match (&self.prior, &self.hyper) {
            (Some(prior), _) => {
                let rate = Rate {
                    latent: prior.bits(y32) / pixels,
                    side: None,
                };
                (rate, None)
            }
            (None, Some(hyper)) => {
                // z from the clean latent, as CompressAI's models do; its own noise seed.
                let z = hyper.analyse(y.clone().cast(FloatDType::F32));
                let z = z.clone() + uniform_noise(z.dims(), mix_seed(&[noise_seed, 0x2]), &z);
                let side = hyper.prior().bits(z.clone()) / pixels;
                let params = hyper.synthesise(z);
                let rate = Rate {
                    latent: Hyperprior::latent_bits(y32, &params) / pixels,
                    side: Some(side),
                };
                (rate, Some(params.means))
            }
            (None, None) => unreachable!("has_entropy_model"),
        };
        let latent = match input {
            DecoderInput::Noisy => noisy,
            DecoderInput::Rounded => straight_through_round(y, means),
        };
        (self.decode(latent), Some(rate))
    }

    /// The latents rounded as the codec rounds them by `round` ([`codec_round`] for the codec's
    /// pass, [`straight_through_round`] for training's, which passes the gradients straight
    /// through, so that the rate of `round(y - μ)` reaches the encoder through `y` and the
    /// hyperprior through μ and σ, as Yang et al. 2020's and Guo et al. 2021's fine-tunes on
    /// the rounded objective train), and their rate in bits per pixel: the latent the decoder
    /// gets and what the coder spends on it. The densities in f32 whatever the autoencoder's
    /// precision (a no-op for f32). For a model with an entropy model.
    fn rounded_latent(
        &self,
        y: Tensor<4>,
        pixels: f64,
        round: fn(Tensor<4>, Option<Tensor<4>>) -> Tensor<4>,
    ) -> (Tensor<4>, Rate) {
        match (&self.prior, &self.hyper) {
            (Some(prior), _) => {
                let y_hat = round(y, None);
                let latent = prior.bits(y_hat.clone().cast(FloatDType::F32)) / pixels;
                (y_hat, Rate { latent, side: None })
            }
            (None, Some(hyper)) => {
                let z = hyper.analyse(y.clone().cast(FloatDType::F32));
                let z_hat = round(z, None);
                let side = hyper.prior().bits(z_hat.clone()) / pixels;
                let params = hyper.synthesise(z_hat);
                let y_hat = round(y, Some(params.means.clone()));
                let latent =
                    Hyperprior::latent_bits(y_hat.clone().cast(FloatDType::F32), &params) / pixels;
                let rate = Rate {
                    latent,
                    side: Some(side),
                };
                (y_hat, rate)
            }
            (None, None) => unreachable!("called with an entropy model"),
        }
    }

    /// An inference pass as the codec runs it: the latent rounded (with an entropy model),
    /// and the rate its bins cost under the entropy model, in bits per pixel.
    pub fn forward_quantized(&self, x: Tensor<4>) -> (Tensor<4>, Option<Rate>) {
        let (y, rate) = self.quantized_latent(x);
        (self.decode(y), rate)
    }

    /// A training pass for the decoder alone (`train.trainable = "decoder"`): the latent
    /// exactly as the codec hands it to the decoder, cut from the graph, so that only the
    /// decoder gets gradients and it learns from what it will see in a file (no noise
    /// stands in for rounding). The rate is the files', a constant here. The latent is
    /// computed without autodiff: a detached graph is never freed by a backward pass, and
    /// kept the encoder's every step (24 GB by step 350).
    pub fn forward_decoder_train(&self, x: Tensor<4>) -> (Tensor<4>, Option<Rate>) {
        let (y, rate) = self.valid().quantized_latent(x.inner());
        let rate = rate.map(|r| Rate {
            latent: r.latent.autodiff(),
            side: r.side.map(|s| s.autodiff()),
        });
        (self.decode(y.autodiff()), rate)
    }

    /// The latent as the decoder gets it from the codec, and its rate in bits per pixel.
    /// With a hyperprior, `z` is rounded, and `y` is coded as `round(y - μ)`, so the decoder
    /// sees `round(y - μ) + μ`. Without an entropy model, the latent as is.
    fn quantized_latent(&self, x: Tensor<4>) -> (Tensor<4>, Option<Rate>) {
        let [b, _, h, w] = x.dims();
        let pixels = (b * h * w) as f64;
        let y = self.encode(x);
        if !self.has_entropy_model() {
            return (y, None);
        }
        let (y, rate) = self.rounded_latent(y, pixels, codec_round);
        (y, Some(rate))
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

/// `round(y - μ) + μ` (μ = 0 without a hyperprior) in value, `y` in gradient: the rounding
/// is added as a constant, so the encoder learns as if the decoder had seen `y`, and the
/// means get no gradient from the decoder (CompressAI's `quantize_ste`, as Minnen & Singh
/// 2020 use it). Rounded in f32, whatever the autoencoder's precision, as the codec does.
pub(crate) fn straight_through_round(y: Tensor<4>, means: Option<Tensor<4>>) -> Tensor<4> {
    let dtype = FloatDType::from(y.dtype());
    let clean = y.clone().inner().cast(FloatDType::F32);
    let rounded = codec_round(clean.clone(), means.map(Tensor::inner));
    y + (rounded - clean).cast(dtype)
}

/// `x` clamped to [0, 1] in value, its gradient passed straight through the clamp: the loss
/// measures the picture the codec gives, and a pixel past a bound still learns its way back
/// (a plain clamp's gradient is 0 there, and such a pixel would stay stuck).
fn straight_through_clamp(x: Tensor<4>) -> Tensor<4> {
    let clean = x.clone().inner();
    x + (clean.clone().clamp(0.0, 1.0) - clean)
}

/// The latent as the codec hands it to the decoder: `round(y - μ) + μ` under a hyperprior
/// (its values are coded as `round(y - μ)`), `round(y)` under a factorized prior. One
/// definition for the codec's pass and training's straight-through copy of it.
fn codec_round(y: Tensor<4>, means: Option<Tensor<4>>) -> Tensor<4> {
    match means {
        Some(m) => (y - m.clone()).round() + m,
        None => y.round(),
    }
}

/// U(-½, ½) noise of `shape` from `seed`, in `like`'s dtype and on its device (no global
/// generator: runs stay repeatable).
fn uniform_noise(shape: [usize; 4], seed: u64, like: &Tensor<4>) -> Tensor<4> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| rng.random_range(-0.5f32..0.5))
        .collect();
    Tensor::<4>::from_data(TensorData::new(noise, shape), &like.device())
        .cast(FloatDType::from(like.dtype()))
}

/// A weight of `shape` and its bias of `c_out` entries, PyTorch's default
/// U(±1/sqrt(fan_in)), drawn from `rng`.
pub(crate) fn pytorch_init(
    rng: &mut ChaCha8Rng,
    shape: [usize; 4],
    c_out: usize,
    fan_in: usize,
    device: &Device,
) -> (Param<Tensor<4>>, Param<Tensor<1>>) {
    let fans = Fans {
        pytorch: fan_in,
        glorot: fan_in,
        keeps_size: false,
    };
    fans.draw(Init::Pytorch, rng, shape, c_out, device)
}

/// A convolution of the autoencoder (padding `k / 2`), before its weights are drawn.
struct ConvShape {
    /// Input and output channels.
    channels: [usize; 2],
    /// Square kernel side.
    k: usize,
    stride: usize,
    /// Whether the layer's output has its input's size (see [`Fans::keeps_size`]).
    keeps_size: bool,
}

impl ConvShape {
    /// The convolution with weights and biases drawn from `rng` as `init` says.
    fn draw(&self, init: Init, rng: &mut ChaCha8Rng, device: &Device) -> Conv2d {
        let ([c_in, c_out], k) = (self.channels, self.k);
        let pad = k / 2;
        let mut conv = Conv2dConfig::new([c_in, c_out], [k, k])
            .with_stride([self.stride; 2])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_initializer(Initializer::Zeros)
            .init(device);
        let fans = Fans {
            pytorch: c_in * k * k,
            glorot: (c_in + c_out) * k * k,
            keeps_size: self.keeps_size,
        };
        let (weight, bias) = fans.draw(init, rng, [c_out, c_in, k, k], c_out, device);
        conv.weight = weight;
        conv.bias = Some(bias);
        conv
    }
}

/// The fan sizes of one layer, as each initialiser counts them.
struct Fans {
    /// burn's and PyTorch's fan-in.
    pytorch: usize,
    /// Keras's fan-in + fan-out.
    glorot: usize,
    /// Stride 1: the output has the input's size, so the layer can start as the identity.
    keeps_size: bool,
}

impl Fans {
    /// A layer's weight of `shape` and its bias of `c_out` entries.
    fn draw(
        &self,
        init: Init,
        rng: &mut ChaCha8Rng,
        shape: [usize; 4],
        c_out: usize,
        device: &Device,
    ) -> (Param<Tensor<4>>, Param<Tensor<1>>) {
        let (weights, biases) = self.values(init, rng, shape, c_out);
        (
            Param::from_data(TensorData::new(weights, shape), device),
            Param::from_data(TensorData::new(biases, [c_out]), device),
        )
    }

    fn values(
        &self,
        init: Init,
        rng: &mut ChaCha8Rng,
        shape: [usize; 4],
        c_out: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let n: usize = shape.iter().product();
        match init {
            Init::Pytorch => {
                let bound = 1.0 / (self.pytorch as f32).sqrt();
                let mut draw = || rng.random_range(-bound..bound);
                let w = (0..n).map(|_| draw()).collect();
                (w, (0..c_out).map(|_| draw()).collect())
            }
            Init::Glorot => {
                let bound = (6.0 / self.glorot as f32).sqrt();
                let w = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
                (w, vec![0.0; c_out])
            }
            Init::Identity if self.keeps_size => {
                // Channel a to channel a through the kernel's centre (for a conv and a
                // transposed conv alike), plus a tenth of Glorot's noise so that no channel
                // starts at exactly zero (a ReLU at 0 passes no gradient).
                let bound = 0.1 * (6.0 / self.glorot as f32).sqrt();
                let mut w: Vec<f32> = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
                let [rows, cols, k, _] = shape;
                for a in 0..rows.min(cols) {
                    w[((a * cols + a) * k + k / 2) * k + k / 2] += 1.0;
                }
                (w, vec![0.0; c_out])
            }
            Init::Identity => self.values(Init::Glorot, rng, shape, c_out),
        }
    }
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
            init: Init::Pytorch,
            ..ModelConfig::default()
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

    /// How much an untrained model's output depends on its input: the mean absolute
    /// difference between the reconstructions of two different images.
    fn input_dependence(pairs: usize, init: Init) -> f32 {
        let device = Device::flex();
        let cfg = ModelConfig {
            pairs,
            channels: vec![16, 32],
            latent_channels: 8,
            init,
            ..ModelConfig::default()
        };
        let m = Autoencoder::new(&cfg, &device, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let pixels: Vec<f32> = (0..2 * 3 * 32 * 32)
            .map(|_| rng.random_range(0.0..1.0))
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(pixels, [2, 3, 32, 32]), &device);
        let y = m.forward(x);
        let a = y.clone().slice(0..1);
        let b = y.slice(1..2);
        (a - b).abs().mean().into_scalar::<f32>()
    }

    #[test]
    fn identity_init_keeps_the_input_through_ten_pairs() {
        // PyTorch's and Keras's defaults shrink the signal at every layer: after 10 pairs the
        // output is the same flat image for any input, the start the deep paper models never
        // left. Identity-initialised extra layers pass the 3 strided pairs' signal through,
        // so 10 pairs start as input-dependent as 3 (measured: 1e-10, 4e-8, 2.2e-4; 3.7e-4).
        let pytorch = input_dependence(10, Init::Pytorch);
        let glorot = input_dependence(10, Init::Glorot);
        let identity = input_dependence(10, Init::Identity);
        let three = input_dependence(3, Init::Glorot);
        assert!(
            identity > 1e5 * pytorch,
            "pytorch {pytorch}, identity {identity}"
        );
        assert!(
            identity > 1e3 * glorot,
            "glorot {glorot}, identity {identity}"
        );
        assert!(
            identity > 0.3 * three,
            "3 pairs {three}, identity {identity}"
        );
        // At 3 pairs (no stride-1 layer) identity is Glorot.
        assert_eq!(input_dependence(3, Init::Identity), three);
    }

    #[test]
    fn identity_layers_start_as_the_identity_and_glorot_has_its_bound() {
        let device = Device::flex();
        let cfg = ModelConfig {
            pairs: 3,
            channels: vec![6],
            downsample: 1,
            latent_channels: 4,
            init: Init::Identity,
            ..ModelConfig::default()
        };
        let m = Autoencoder::new(&cfg, &device, 1);
        // Encoder layer 1 (stride 1, 6 -> 6): the kernel centre of channel a to a is 1
        // (give or take a tenth of Glorot's bound), every other tap is small.
        let w: Vec<f32> = m.encoder[1].weight.val().into_data().try_to_vec().unwrap();
        let bound = (6.0f32 / ((6 + 6) * 9) as f32).sqrt();
        for (i, v) in w.iter().enumerate() {
            let (o, c, tap) = (i / 54, (i / 9) % 6, i % 9);
            let want = if o == c && tap == 4 { 1.0 } else { 0.0 };
            assert!((v - want).abs() <= 0.1 * bound, "weight {i}: {v}");
        }
        // Layer 0 (stride 2) is Glorot-uniform with zero biases.
        let w: Vec<f32> = m.encoder[0].weight.val().into_data().try_to_vec().unwrap();
        let b: Vec<f32> = m.encoder[0]
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec()
            .unwrap();
        let bound = (6.0f32 / ((3 + 6) * 9) as f32).sqrt();
        assert!(b.iter().all(|&v| v == 0.0));
        assert!(w.iter().all(|v| v.abs() <= bound));
        assert!(w.iter().any(|v| v.abs() > 0.9 * bound));
        // The latent layer (stride 1, 6 -> 4) keeps the first 4 channels.
        let w: Vec<f32> = m.encoder[2].weight.val().into_data().try_to_vec().unwrap();
        assert!(w.iter().filter(|v| **v > 0.9).count() == 4);
    }

    #[test]
    fn straight_through_rounding_rounds_values_and_passes_gradients() {
        let device = Device::flex().autodiff();
        let y = [-1.7f32, -0.2, 0.3, 0.49, 1.6, 2.55];
        let mu = [0.25f32, -0.4, 1.0, 0.0, -0.3, 0.1];
        let t = |v: &[f32]| {
            Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, 1, 2, 3]), &device)
                .require_grad()
        };
        let (yt, mt) = (t(&y), t(&mu));
        let out = straight_through_round(yt.clone(), Some(mt.clone()));
        let got: Vec<f32> = out.clone().into_data().try_to_vec().unwrap();
        for ((g, y), m) in got.iter().zip(y).zip(mu) {
            let want = (y - m).round() + m;
            assert!((g - want).abs() < 1e-6, "{y} - {m}: got {g}, want {want}");
        }
        let grads = (out * 3.0).sum().backward();
        let g: Vec<f32> = yt.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
        assert_eq!(g, [3.0; 6], "the gradient of y passes straight through");
        assert!(
            mt.grad(&grads).is_none(),
            "the means get none from the decoder"
        );
        // Without means (a factorized prior): round(y).
        let got: Vec<f32> = straight_through_round(t(&y), None)
            .into_data()
            .try_to_vec()
            .unwrap();
        assert_eq!(got, [-2.0, 0.0, 0.0, 0.0, 2.0, 3.0]);
    }

    /// Two random 32x32 images on `device`, drawn from `seed`.
    fn two_images(device: &Device, seed: u64) -> Tensor<4> {
        device.seed(seed);
        let uniform = burn::tensor::Distribution::Uniform(0.0, 1.0);
        Tensor::<4>::random([2, 3, 32, 32], uniform, device)
    }

    fn vec(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }

    fn scalar(t: Tensor<1>) -> f32 {
        t.into_scalar::<f32>()
    }

    #[test]
    fn a_rounded_decoder_input_decodes_the_codec_latent_at_the_same_rate() {
        let device = Device::flex();
        let x = two_images(&device, 3);
        for entropy in [Entropy::Factorized, Entropy::Hyperprior] {
            let c = ModelConfig {
                entropy,
                ..cfg(2, 2)
            };
            let m = Autoencoder::new(&c, &device, 5);
            let (noisy, rn) = m.forward_train(x.clone(), 9, DecoderInput::Noisy, RateInput::Noisy);
            let (rounded, rr) =
                m.forward_train(x.clone(), 9, DecoderInput::Rounded, RateInput::Noisy);
            let (rn, rr) = (rn.unwrap(), rr.unwrap());
            assert_eq!(
                scalar(rn.latent),
                scalar(rr.latent),
                "{entropy:?}: same rate"
            );
            assert_eq!(
                rn.side.map(scalar),
                rr.side.map(scalar),
                "{entropy:?}: same side rate"
            );
            let (noisy, rounded) = (vec(noisy), vec(rounded));
            let moved = noisy.iter().zip(&rounded).map(|(a, b)| (a - b).abs());
            assert!(
                moved.fold(0.0, f32::max) > 1e-3,
                "{entropy:?}: not the noisy latent"
            );
            if entropy == Entropy::Factorized {
                // round(y), as the codec's files hand it to the decoder.
                let codec = vec(m.forward_quantized(x.clone()).0);
                let gap = codec.iter().zip(&rounded).map(|(a, b)| (a - b).abs());
                assert!(gap.fold(0.0, f32::max) < 1e-5);
            }
        }
    }

    #[test]
    fn a_rounded_rate_is_the_codec_pass_in_value_and_trains_the_encoder_through_it() {
        let device = Device::flex().autodiff();
        let x = two_images(&device, 4);
        for entropy in [Entropy::Factorized, Entropy::Hyperprior] {
            let c = ModelConfig {
                entropy,
                activation: Activation::Gdn,
                ..cfg(2, 2)
            };
            let m = Autoencoder::new(&c, &device, 5);
            let (codec, cr) = m.forward_quantized(x.clone());
            let (ste, sr) =
                m.forward_train(x.clone(), 9, DecoderInput::Rounded, RateInput::Rounded);
            let (_, nr) = m.forward_train(x.clone(), 9, DecoderInput::Rounded, RateInput::Noisy);
            let (cr, sr, nr) = (cr.unwrap(), sr.unwrap(), nr.unwrap());
            let (codec, ste) = (vec(codec), vec(ste));
            let gap = codec.iter().zip(&ste).map(|(a, b)| (a - b).abs());
            assert!(
                gap.fold(0.0, f32::max) < 1e-6,
                "{entropy:?}: the codec's picture"
            );
            let close = |a: f32, b: f32| (a - b).abs() <= 1e-5 * a.abs();
            let (c_bits, s_bits) = (scalar(cr.latent.clone()), scalar(sr.latent.clone()));
            assert!(close(c_bits, s_bits), "{entropy:?}: {c_bits} vs {s_bits}");
            assert_ne!(s_bits, scalar(nr.latent), "{entropy:?}: not the noisy rate");
            if let (Some(c), Some(s)) = (cr.side, sr.side.clone()) {
                assert!(close(scalar(c), scalar(s)), "the side rate");
            }
            // The rate alone moves the encoder's first weights (through y, and under the
            // hyperprior through z), and the hyper-synthesis through μ and σ.
            let bits = sr.side.map_or(sr.latent.clone(), |s| s + sr.latent);
            let grads = bits.backward();
            let g = m.encoder[0].weight.grad(&grads).unwrap();
            let g: Vec<f32> = g.into_data().try_to_vec().unwrap();
            assert!(g.iter().any(|v| v.abs() > 0.0), "{entropy:?}: encoder");
            if let Some(h) = &m.hyper {
                let mut any = false;
                h.visit(&mut GradSeen(&grads, &mut any));
                assert!(any, "the hyperprior learns from the rounded rate");
            }
        }
    }

    #[test]
    fn the_straight_through_clamp_clamps_values_and_passes_every_gradient() {
        let device = Device::flex().autodiff();
        let v = [-0.5f32, 0.0, 0.2, 0.999, 1.7, 3.0];
        let x = Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, 1, 2, 3]), &device)
            .require_grad();
        let out = straight_through_clamp(x.clone());
        assert_eq!(vec(out.clone()), [0.0, 0.0, 0.2, 0.999, 1.0, 1.0]);
        // A plain clamp's gradient is 0 past the bounds: a pixel pushed there would stay.
        let weights = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 1, 2, 3]),
            &device,
        );
        let grads = (out * weights).sum().backward();
        let g = vec(x.grad(&grads).unwrap());
        assert_eq!(g, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    /// `output = "stretched"` reaches black and white at a finite value, where the sigmoid
    /// only nears them, is within ε of the sigmoid everywhere, and passes the gradient
    /// through its clamp.
    #[test]
    fn the_stretched_sigmoid_reaches_the_bounds_within_epsilon_of_the_sigmoid() {
        let device = Device::flex().autodiff();
        let v = [-9.0f32, -5.0, -1.0, 0.0, 2.0, 5.0, 9.0];
        let x = Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, 1, 1, 7]), &device)
            .require_grad();
        let out = output_pixels(Output::Stretched, x.clone());
        let plain = vec(output_pixels(Output::Sigmoid, x.clone()));
        let got = vec(out.clone());
        assert_eq!(
            (got[0], got[1], got[5], got[6]),
            (0.0, 0.0, 1.0, 1.0),
            "{got:?}"
        );
        assert!(plain[1] > 0.0 && plain[5] < 1.0, "{plain:?}");
        assert_eq!(got[3], 0.5);
        for (g, p) in got.iter().zip(&plain) {
            assert!((g - p).abs() <= STRETCH as f32 + 1e-6, "{g} vs {p}");
        }
        let grads = out.sum().backward();
        let g = vec(x.grad(&grads).unwrap());
        // Past the bounds the clamp passes the stretched sigmoid's slope on, not 0.
        assert!(g.iter().all(|d| *d > 0.0), "{g:?}");
    }

    /// A sigmoid model converted to a clamped one decodes `clamp(½ + k·v)` where it decoded
    /// `σ(v)`, for both kinds of decoder, and trains: two steps' backward passes (the
    /// converted weights are leaves, not products hanging off the old ones).
    #[test]
    fn a_sigmoid_model_starts_a_clamped_one_on_the_line_and_trains() {
        let device = Device::flex().autodiff();
        for upsample in [Upsample::Transposed, Upsample::Resize] {
            let c = ModelConfig {
                entropy: Entropy::Hyperprior,
                activation: Activation::Gdn,
                upsample,
                ..cfg(2, 2)
            };
            let sigmoid_model = Autoencoder::new(&c, &device, 5);
            assert_eq!(sigmoid_model.output, Output::Sigmoid);
            device.seed(3);
            let normal = burn::tensor::Distribution::Normal(0.0, 15.0);
            let y = Tensor::<4>::random([1, 5, 4, 4], normal, &device);
            let before = vec(sigmoid_model.decode(y.clone()));
            let clamped = sigmoid_model.clamped_from_sigmoid();
            assert_eq!(clamped.output, Output::Clamp);
            let after = vec(clamped.decode(y));
            let k = CLAMP_FROM_SIGMOID_SLOPE as f32;
            let mut saturated = 0;
            for (s, c) in before.iter().zip(&after) {
                let logit = (s / (1.0 - s)).ln();
                let want = (0.5 + k * logit).clamp(0.0, 1.0);
                assert!(
                    (c - want).abs() < 1e-4,
                    "{upsample:?}: σ {s} -> {c}, want {want}"
                );
                saturated += usize::from(*c == 0.0 || *c == 1.0);
            }
            assert!(saturated > 0, "{upsample:?}: no pixel reached a bound");
            assert!(
                saturated < before.len() - 100,
                "{upsample:?}: {saturated} at a bound"
            );
            let x = two_images(&device, 4);
            for step in 0..2 {
                let (out, _) = clamped.forward_train(
                    x.clone(),
                    step,
                    DecoderInput::Rounded,
                    RateInput::Rounded,
                );
                let grads = (out - x.clone()).powi_scalar(2).mean().backward();
                let mut any = false;
                clamped.visit(&mut GradSeen(&grads, &mut any));
                assert!(any, "{upsample:?}: step {step} has gradients");
            }
        }
    }

    /// Sets the flag when any float parameter visited has a non-zero gradient.
    struct GradSeen<'a>(&'a burn::tensor::Gradients, &'a mut bool);
    impl ModuleVisitor for GradSeen<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = param.val().grad(self.0) {
                let g: Vec<f32> = g.into_data().convert::<f32>().try_to_vec().unwrap();
                *self.1 |= g.iter().any(|v| v.abs() > 0.0);
            }
        }
    }

    /// The largest spread of a channel of the decoded image's interior (`margin` pixels in
    /// from each side) for a latent that is the same value everywhere.
    fn interior_spread_of_a_flat_latent(upsample: Upsample, margin: usize) -> f32 {
        let device = Device::flex();
        let cfg = ModelConfig {
            activation: Activation::Gdn,
            entropy: Entropy::Hyperprior,
            upsample,
            ..cfg(4, 4)
        };
        let m = Autoencoder::new(&cfg, &device, 3);
        let y = m.decode(Tensor::<4>::ones([1, 5, 6, 6], &device) * 0.7);
        assert_eq!(y.dims(), [1, 3, 96, 96]);
        (0..3)
            .map(|c| {
                let inner =
                    y.clone()
                        .slice([0..1, c..c + 1, margin..96 - margin, margin..96 - margin]);
                let v: Vec<f32> = inner.into_data().try_to_vec().expect("f32 data");
                let (lo, hi) = v
                    .iter()
                    .fold((f32::MAX, f32::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
                hi - lo
            })
            .fold(0.0, f32::max)
    }

    #[test]
    fn a_resize_decoder_decodes_a_flat_latent_flat_and_a_transposed_one_does_not() {
        // Four doublings: the border's zero padding reaches 1 + 2 + 4 + 8 = 15 pixels in.
        let resize = interior_spread_of_a_flat_latent(Upsample::Resize, 16);
        let transposed = interior_spread_of_a_flat_latent(Upsample::Transposed, 16);
        assert!(resize < 1e-6, "resize: interior spread {resize}");
        assert!(
            transposed > 1e-3,
            "transposed: interior spread {transposed}"
        );
    }

    #[test]
    fn a_resize_decoder_replaces_the_transposed_layers_and_keeps_the_shapes() {
        let device = Device::flex();
        for (pairs, downsample) in [(4, 4), (5, 3)] {
            let cfg = ModelConfig {
                upsample: Upsample::Resize,
                ..cfg(pairs, downsample)
            };
            let m = Autoencoder::new(&cfg, &device, 0);
            assert!(m.decoder.is_empty());
            assert_eq!(m.decoder_resize.len(), pairs);
            let ups: Vec<bool> = m.decoder_resize.iter().map(|l| l.up).collect();
            let want: Vec<bool> = (0..pairs).rev().map(|i| i < downsample).collect();
            assert_eq!(ups, want, "which layers double");
            let y = m.forward(Tensor::<4>::zeros([1, 3, 48, 32], &device));
            assert_eq!(y.dims(), [1, 3, 48, 32]);
        }
        // The option draws from a stream of its own: the encoder starts the same either way.
        let encoder = |upsample| {
            let cfg = ModelConfig {
                upsample,
                ..cfg(3, 2)
            };
            let m = Autoencoder::new(&cfg, &device, 7);
            let w: Vec<f32> = m.encoder[2]
                .weight
                .val()
                .into_data()
                .try_to_vec()
                .expect("f32");
            w
        };
        assert_eq!(encoder(Upsample::Resize), encoder(Upsample::Transposed));
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
