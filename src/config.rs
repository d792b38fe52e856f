//! Experiment files: one TOML file per experiment, `--set` overrides, validation, and errors
//! that point at the file, line and key a user has to fix.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};

use crate::vgg::VggLayer;

/// A whole experiment: what to build, how to score it, what to train on and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Run name; checkpoints land in `checkpoints/<name>/`. Defaults to the file's stem.
    #[serde(default)]
    pub name: Option<String>,
    /// The autoencoder's shape.
    #[serde(default)]
    pub model: ModelConfig,
    /// Weights of the hybrid loss terms.
    #[serde(default)]
    pub loss: LossConfig,
    /// Where the images are and how they are cut.
    #[serde(default)]
    pub data: DataConfig,
    /// Optimiser, schedule, budget, checkpoints and backend.
    #[serde(default)]
    pub train: TrainConfig,
    /// Evaluation settings.
    #[serde(default)]
    pub eval: EvalConfig,
}

/// The paper's convolutional autoencoder, counted in conv pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Conv pairs: N encoder convolutions mirrored by N decoder transposed convolutions.
    pub pairs: usize,
    /// Output channels of the encoder convolutions before the latent one. Pair `i` uses
    /// `channels[min(i, len - 1)]`, so a short list stretches to any depth.
    pub channels: Vec<usize>,
    /// Square kernel size of every convolution (odd).
    pub kernel_size: usize,
    /// How many of the first pairs downsample by 2 (stride 2); the rest keep the size.
    pub downsample: usize,
    /// Channels of the latent (the last encoder convolution's output).
    pub latent_channels: usize,
    /// Entropy model of the latent: `none` (the paper's autoencoder), `factorized` (a
    /// learned per-channel density) or `hyperprior` (mean-scale), the last two trained with
    /// the `loss.rate` term.
    pub entropy: Entropy,
    /// How the fresh weights are drawn (only a new run uses it; a resumed one loads them).
    /// Left out when it is the default, so that the `[model]` section of models trained
    /// before it existed, which the codec's weights digest hashes, is unchanged.
    #[serde(skip_serializing_if = "Init::is_default")]
    pub init: Init,
    /// The nonlinearity between convolutions: `relu` (the paper's) or `gdn` (GDN in the
    /// encoder, inverse GDN in the decoder, as learned codecs since Ballé et al. 2017). Left
    /// out when it is the default, like `init`.
    #[serde(skip_serializing_if = "Activation::is_default")]
    pub activation: Activation,
    /// How the decoder doubles the size: `transposed` (stride-2 transposed convolutions, the
    /// paper's and CompressAI's) or `resize` (nearest-neighbour doubling, then a 3x3
    /// convolution). Left out when it is the default, like `init`.
    #[serde(skip_serializing_if = "Upsample::is_default")]
    pub upsample: Upsample,
    /// What maps the decoder's last convolution to pixels: `sigmoid` (the paper's), `clamp`
    /// (linear, clamped to [0, 1], the gradient passed straight through the clamp) or
    /// `stretched` (a sigmoid reaching 0 and 1, clamped). Left out when it is the default,
    /// like `init`.
    #[serde(skip_serializing_if = "Output::is_default")]
    pub output: Output,
}

/// The distribution of a new model's weights. Depth decides which one trains (README,
/// "Training deep models"): under `pytorch` or `glorot` a stack of 7 or 10 conv + ReLU pairs
/// falls to the mean image within its first hundred steps and never leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// PyTorch's and burn's default: weights and biases U(±1/sqrt(fan_in)).
    #[default]
    Pytorch,
    /// Keras's default, which the paper's TensorFlow program used: Glorot-uniform weights,
    /// U(±sqrt(6 / (fan_in + fan_out))), zero biases.
    Glorot,
    /// Glorot for the layers that halve or double the size; every stride-1 layer starts as
    /// the identity (channel to channel, plus a tenth of Glorot's noise), so a deep model
    /// starts as the 3-pair one it extends and its extra layers learn from there. The
    /// architecture is unchanged; only the starting point differs.
    Identity,
}

impl Init {
    fn is_default(&self) -> bool {
        *self == Init::default()
    }
}

/// The nonlinearity after every convolution but the latent one and the output
/// ([`crate::model::Autoencoder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// ReLU, as the paper.
    #[default]
    Relu,
    /// GDN after each encoder convolution, inverse GDN after each decoder one
    /// ([`crate::gdn`]).
    Gdn,
}

impl Activation {
    fn is_default(&self) -> bool {
        *self == Activation::default()
    }
}

/// How each of the decoder's size-doubling layers upsamples ([`crate::model::Autoencoder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Upsample {
    /// A stride-2 transposed convolution of the model's kernel size: its kernel taps overlap
    /// unevenly (odd kernel, stride 2), so a flat latent decodes to a periodic pattern unless
    /// training has learned to cancel it (Odena et al. 2016, "Deconvolution and Checkerboard
    /// Artifacts").
    #[default]
    Transposed,
    /// Nearest-neighbour doubling, then a 3x3 convolution (padding 1): a flat latent decodes
    /// to a flat image by construction, away from the border. 3x3 at the doubled size costs
    /// 1.44x the arithmetic of a 5x5 transposed convolution and reaches as far (one input
    /// pixel each way). Layers that keep the size use a convolution of the model's kernel.
    Resize,
}

impl Upsample {
    fn is_default(&self) -> bool {
        *self == Upsample::default()
    }
}

/// The decoder's output function ([`crate::model::Autoencoder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Output {
    /// A sigmoid, as the paper's model: pixels land in (0, 1), but its slope is under 0.05
    /// where they are within 12 levels of black or white, so the loss barely moves the
    /// darkest and brightest pixels (README, "Clamped output").
    #[default]
    Sigmoid,
    /// The convolution's value clamped to [0, 1] (CompressAI's decoders end linear and clamp
    /// when they evaluate): the loss sees the clamped picture the codec gives, and its
    /// gradient passes straight through the clamp, so a pixel pushed past a bound can come
    /// back.
    Clamp,
    /// The sigmoid stretched past both bounds and clamped, `clamp((1 + 2ε)·σ(v) − ε)` with ε =
    /// [`crate::model::STRETCH`]: black and white at a finite `v` (±4.6), where the slope is
    /// still 0.0099 (5 times the sigmoid's at half a level), and the sigmoid's picture to
    /// within ε elsewhere, so a sigmoid model's weights start it as they are. The gradient
    /// passes straight through the clamp.
    Stretched,
}

impl Output {
    fn is_default(&self) -> bool {
        *self == Output::default()
    }
}

/// The entropy model over the latent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Entropy {
    /// None: the paper's autoencoder, ReLU latent; `.nic` files use a post-training
    /// quantiser with tables counted on training crops.
    #[default]
    None,
    /// Ballé et al.'s factorized prior (CompressAI's `EntropyBottleneck`), learned jointly;
    /// the latent is linear (no ReLU) and rounded to integers.
    Factorized,
    /// The mean-scale hyperprior (Minnen et al. 2018; CompressAI's `MeanScaleHyperprior`):
    /// a hyper-latent under a factorized prior predicts a Gaussian for every latent value.
    Hyperprior,
}

impl Entropy {
    /// The name an experiment file uses.
    pub fn name(self) -> &'static str {
        match self {
            Entropy::None => "none",
            Entropy::Factorized => "factorized",
            Entropy::Hyperprior => "hyperprior",
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            pairs: 3,
            channels: vec![64, 128],
            kernel_size: 3,
            downsample: 3,
            latent_channels: 32,
            entropy: Entropy::None,
            init: Init::Pytorch,
            activation: Activation::Relu,
            upsample: Upsample::Transposed,
            output: Output::Sigmoid,
        }
    }
}

impl ModelConfig {
    /// Output channels of encoder layer `i` (the last one is the latent).
    pub fn encoder_channels(&self, i: usize) -> usize {
        if i + 1 == self.pairs {
            self.latent_channels
        } else {
            self.channels[i.min(self.channels.len() - 1)]
        }
    }

    /// Factor by which the latent is smaller than the image on each side.
    pub fn scale(&self) -> usize {
        1 << self.downsample
    }

    /// What an input's sides must be a multiple of: [`ModelConfig::scale`], times the
    /// hyperprior's own factor of 4 with one.
    pub fn input_multiple(&self) -> usize {
        match self.entropy {
            Entropy::Hyperprior => self.scale() * crate::codec::hyperprior::HYPER_SCALE,
            _ => self.scale(),
        }
    }
}

/// `L = a (1 - SSIM) + b Perceptual + c MSE`, with `a + b + c = 1`. A weight left out of a
/// `[loss]` section is 0; without the section the weights are (0.5, 0, 0.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossConfig {
    /// `a`: weight of `1 - SSIM`.
    #[serde(default)]
    pub ssim: f64,
    /// Scales of the SSIM term: 1, SSIM; 5, MS-SSIM (its five scales and weights, as the
    /// metric; crops of at least 161 pixels a side). Left out of a saved config when 1.
    #[serde(default = "one_scale", skip_serializing_if = "is_one_scale")]
    pub ssim_scales: usize,
    /// `b`: weight of the VGG16 perceptual term.
    #[serde(default)]
    pub perceptual: f64,
    /// `c`: weight of the mean squared error.
    #[serde(default)]
    pub mse: f64,
    /// VGG16 layers whose feature maps the perceptual term compares (mean over layers).
    #[serde(default = "default_vgg_layers")]
    pub vgg_layers: Vec<VggLayer>,
    /// The imported VGG16 weights (`make weights` writes them).
    #[serde(default = "default_vgg_weights")]
    pub vgg_weights: PathBuf,
    /// `d`: weight of niclab's colour term, the mean CIELAB colour difference ΔE*ab / 100,
    /// added on top of the paper's three (outside `a + b + c = 1`; 0, off, by default). Left
    /// out of a saved config when 0, so that the configs of runs before it are unchanged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub colour: f64,
    /// `λ` of the rate term: `L = λ · bits per pixel + D` (D: the terms above). Needs
    /// `model.entropy = "factorized"` or `"hyperprior"` (whose bits are the latent's and
    /// the hyper-latent's).
    #[serde(default)]
    pub rate: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn one_scale() -> usize {
    1
}

fn is_one_scale(v: &usize) -> bool {
    *v == 1
}

fn default_vgg_layers() -> Vec<VggLayer> {
    vec![VggLayer::Relu2_2]
}

fn default_vgg_weights() -> PathBuf {
    PathBuf::from("checkpoints/vgg16-imagenet.bpk")
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            ssim: 0.5,
            ssim_scales: 1,
            perceptual: 0.0,
            mse: 0.5,
            vgg_layers: default_vgg_layers(),
            vgg_weights: default_vgg_weights(),
            colour: 0.0,
            rate: 0.0,
        }
    }
}

/// Training and test images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Folder of training photos (searched recursively), relative to the working directory.
    pub train: PathBuf,
    /// Folder of test images (the fixed 1000 crops by default).
    pub test: PathBuf,
    /// Side of the square training crops, in pixels.
    pub crop_size: usize,
    /// Training photos are first shrunk by this factor with area averaging (1 = as is).
    pub downscale: usize,
    /// Fraction of the training photos held out for validation (split by photo).
    pub val_fraction: f64,
    /// Number of fixed crops cut from the validation photos.
    pub val_crops: usize,
    /// Random crops taken from every training photo per epoch.
    pub crops_per_image: usize,
    /// Make unreadable or too-small images fatal instead of reported and left out.
    pub strict: bool,
    /// Side of the crops of the run's last `final_crop_steps` steps and of the validation
    /// crops: train small for speed, finish at the size the model is judged on (FixRes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_crop_size: Option<usize>,
    /// Number of closing steps on `final_crop_size` crops, each step the same pixels as a
    /// `crop_size` batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_crop_steps: Option<u64>,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            train: PathBuf::from("datasets/train"),
            test: PathBuf::from("datasets/test-1000"),
            crop_size: 128,
            downscale: 2,
            val_fraction: 0.1,
            val_crops: 64,
            crops_per_image: 4,
            strict: false,
            final_crop_size: None,
            final_crop_steps: None,
        }
    }
}

/// Learning-rate schedule over the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// The same rate throughout.
    Constant,
    /// Cosine decay from `lr` to `min_lr` over the run, after the warm-up.
    Cosine,
    /// Multiply by `decay_gamma` every `decay_every` steps.
    Step,
}

/// Compute backend; a run-time choice, the model code is the same for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn's pure-Rust CPU backend, built in.
    Flex,
    /// LibTorch (CPU or CUDA), built with the `tch` feature.
    Libtorch,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Flex => "flex",
            Backend::Libtorch => "libtorch",
        })
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "flex" => Ok(Backend::Flex),
            "libtorch" => Ok(Backend::Libtorch),
            other => Err(format!(
                "unknown backend `{other}`, expected \"flex\" or \"libtorch\""
            )),
        }
    }
}

impl std::str::FromStr for DeviceSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DeviceSpec::try_from(s.to_string())
    }
}

/// Where tensors live: `"cpu"` or `"cuda:N"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    /// The host CPU.
    Cpu,
    /// The CUDA GPU with this index.
    Cuda(usize),
}

impl TryFrom<String> for DeviceSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| format!("unknown device `{other}`, expected \"cpu\" or \"cuda:N\"")),
        }
    }
}

impl From<DeviceSpec> for String {
    fn from(d: DeviceSpec) -> String {
        d.to_string()
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

/// Optimiser, budget and bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Total optimiser steps (give this or `epochs`; 1000 when neither is given).
    pub steps: Option<u64>,
    /// Passes over the training photos (`crops_per_image` crops of each per pass).
    pub epochs: Option<u64>,
    /// Crops per optimiser step.
    pub batch_size: usize,
    /// Peak learning rate of Adam.
    pub lr: f64,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Linear warm-up from 0 to `lr` over this many steps.
    pub warmup_steps: u64,
    /// Floor of the cosine schedule.
    pub min_lr: f64,
    /// Step schedule: decay interval in steps.
    pub decay_every: u64,
    /// Step schedule: factor applied at each decay.
    pub decay_gamma: f64,
    /// Seed of weights, data split, crop positions and order.
    pub seed: u64,
    /// Write `last.ckpt` every this many steps (and at the end, and on Ctrl-C).
    pub checkpoint_every: u64,
    /// Validate (and maybe update `best.ckpt`) every this many steps, and at the end.
    pub val_every: u64,
    /// Append a row to `metrics.csv` every this many steps.
    pub log_every: u64,
    /// Compute backend.
    pub backend: Backend,
    /// Device of that backend.
    pub device: DeviceSpec,
    /// Several devices of that backend for data-parallel training: each takes `batch_size`
    /// crops of every step, their gradients are summed on the first, one optimiser step.
    /// Empty: `device` alone.
    pub devices: Vec<DeviceSpec>,
    /// `f32`, or `bf16`: the autoencoder's forward and backward in bfloat16 (weights, Adam's
    /// state, the loss and checkpoints stay f32).
    pub precision: Precision,
    /// On CUDA, `true` turns cuDNN's benchmark mode (fastest algorithms, timed per shape at
    /// the start) off, so that a resumed run repeats the uninterrupted one bit for bit.
    pub deterministic: bool,
    /// Scale each parameter's gradient down to this L2 norm when it is larger (burn's
    /// per-tensor `GradientClipping::Norm`; PyTorch's `clip_grad_norm_` takes one norm over
    /// all of them). None: no clipping. Left out when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_grad_norm: Option<f64>,
    /// Adam's ε. None: burn's default, 1e-5. PyTorch's is 1e-8; a loss whose gradients are
    /// small (a rate term weighted by λ per pixel) needs it: with 1e-5 the hyperprior's
    /// `z` prior barely trained (README, "The hyperprior"). Left out when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adam_epsilon: Option<f64>,
    /// Fine-tuning: a new run starts from the weights of this checkpoint (a run's
    /// `best.ckpt`, a zoo model's `model.ckpt`) instead of fresh ones; its `[model]` must be
    /// this experiment's, and Adam starts afresh. A resumed run loads its own `last.ckpt`.
    /// Left out when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_from: Option<PathBuf>,
    /// Which weights learn: `all`, or `decoder` (with `init_from`): the encoder and the
    /// entropy model stay as loaded, and the decoder learns from the latent exactly as the
    /// codec hands it over (rounded), so a model's files keep their bytes and only their
    /// reconstruction changes. Left out when `all`.
    #[serde(skip_serializing_if = "Trainable::is_default")]
    pub trainable: Trainable,
    /// What the decoder sees of the latent when every weight trains: `noisy` (the latent
    /// plus the U(-½, ½) noise the rate is measured on), or `rounded`: the latent as the
    /// codec rounds it, its gradient passed straight through, while the rate stays on the
    /// noisy latent (Minnen & Singh 2020's mixed quantisation). Left out when `noisy`.
    #[serde(skip_serializing_if = "DecoderInput::is_default")]
    pub decoder_input: DecoderInput,
    /// What the rate term is measured on: `noisy` (the latent plus U(-½, ½) noise, Ballé et
    /// al.'s stand-in for rounding), or `rounded`: the bits the coder will spend on the
    /// latents rounded as it rounds them, the gradient passed straight through the rounding
    /// (with `decoder_input = "rounded"`: then training's objective is the codec's own, as
    /// validation measures it). Left out when `noisy`.
    #[serde(skip_serializing_if = "RateInput::is_default")]
    pub rate_input: RateInput,
}

/// The weights a run trains (`train.trainable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trainable {
    /// Every weight.
    #[default]
    All,
    /// The decoder (synthesis) alone, on the rounded latent.
    Decoder,
}

impl Trainable {
    fn is_default(&self) -> bool {
        *self == Trainable::default()
    }
}

/// The latent the decoder trains on (`train.decoder_input`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecoderInput {
    /// The noisy latent, as the rate term sees it.
    #[default]
    Noisy,
    /// `round(y - μ) + μ` (μ = 0 under a factorized prior), the gradient of `y`.
    Rounded,
}

impl DecoderInput {
    fn is_default(&self) -> bool {
        *self == DecoderInput::default()
    }
}

/// The latent the rate term is measured on (`train.rate_input`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateInput {
    /// The latent plus U(-½, ½) noise.
    #[default]
    Noisy,
    /// The latents as the codec rounds them, the gradient passed straight through.
    Rounded,
}

impl RateInput {
    fn is_default(&self) -> bool {
        *self == RateInput::default()
    }
}

impl TrainConfig {
    /// The devices that train, the first (`device`, after parsing) holding the weights and
    /// the optimiser.
    pub fn replica_devices(&self) -> Vec<DeviceSpec> {
        if self.devices.is_empty() {
            vec![self.device]
        } else {
            self.devices.clone()
        }
    }
}

/// Arithmetic of the autoencoder's forward and backward passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats throughout.
    #[default]
    F32,
    /// bfloat16 activations and weight copies, f32 master weights.
    Bf16,
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        })
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: None,
            epochs: None,
            batch_size: 16,
            lr: 1e-3,
            schedule: Schedule::Cosine,
            warmup_steps: 0,
            min_lr: 1e-5,
            decay_every: 1000,
            decay_gamma: 0.5,
            seed: 42,
            checkpoint_every: 500,
            val_every: 500,
            log_every: 10,
            backend: Backend::Flex,
            device: DeviceSpec::Cpu,
            devices: Vec::new(),
            precision: Precision::F32,
            deterministic: false,
            clip_grad_norm: None,
            adam_epsilon: None,
            init_from: None,
            trainable: Trainable::All,
            decoder_input: DecoderInput::Noisy,
            rate_input: RateInput::Noisy,
        }
    }
}

/// Evaluation settings (`niclab eval`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Images per inference batch.
    pub batch_size: usize,
    /// How the autoencoder's bytes are counted: `nic` (real `.nic` files: quantised,
    /// range-coded) or `f32` (the latent as raw float32, as the paper stored it).
    pub storage: Storage,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            batch_size: 32,
            storage: Storage::Nic,
        }
    }
}

/// How an evaluation stores the autoencoder's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// Real `.nic` files: quantised latent, range-coded with the model's integer tables.
    Nic,
    /// The latent as raw little-endian float32, no quantisation or entropy coding: what the
    /// paper stored (its ratios of 1.11 to 1.51 come from this).
    F32,
}

impl std::str::FromStr for Storage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "nic" => Ok(Storage::Nic),
            "f32" => Ok(Storage::F32),
            other => Err(format!(
                "unknown storage `{other}`, expected \"nic\" or \"f32\""
            )),
        }
    }
}

/// Checks a run or study name: it becomes a folder name, so letters, digits, '-', '_' and
/// '.', not starting with '.'.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` must be letters, digits, '-', '_' or '.', not starting with '.'"
        ))
    }
}

/// A problem with an experiment file, placed as precisely as it can be.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    /// `file:line:column`, `file` or `--set key=value`.
    pub origin: String,
    /// What is wrong, naming the key.
    pub message: String,
}

impl Experiment {
    /// Reads, overrides (`key=value` pairs, `value` in TOML syntax or a bare string),
    /// and validates an experiment file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: path.display().to_string(),
            message: format!("cannot read experiment file: {e}"),
        })?;
        Self::parse(&text, path, overrides)
    }

    /// Like [`Experiment::load`], from text already read; `path` names it in errors.
    pub fn parse(text: &str, path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let at = |span: Option<std::ops::Range<usize>>| locate(path, text, span);
        let (mut exp, spanned): (Experiment, _) = parse_located(text, path)?;

        let mut overridden = Vec::new();
        if !overrides.is_empty() {
            let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError {
                origin: at(e.span()),
                message: e.message().trim().to_string(),
            })?;
            for item in overrides {
                let key = apply_override(&mut table, item)?;
                overridden.push((key, item.clone()));
            }
            exp = Experiment::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError {
                origin: format!("--set {}", overrides.join(" --set ")),
                message: e.message().trim().to_string(),
            })?;
        }
        if exp.name.is_none() {
            exp.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        }

        exp.validate().map_err(|(key, message)| {
            let origin = match overridden.iter().rev().find(|(k, _)| k == &key) {
                Some((_, item)) => format!("--set {item}"),
                None => at(key_span(spanned.get_ref(), &key)),
            };
            ConfigError {
                origin,
                message: format!("{key}: {message}"),
            }
        })?;
        // `device` names the main device: the first of `devices` when those are given, so
        // that training, evaluation and the codec all start from the same one.
        if let Some(first) = exp.train.devices.first() {
            exp.train.device = *first;
        }
        Ok(exp)
    }

    /// The run's name (set from the file name when the file gives none).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("experiment")
    }

    /// The fully resolved experiment as TOML, every default spelled out.
    pub fn to_toml(&self) -> String {
        // Serialising plain structs of numbers, strings and arrays cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks ranges and cross-field rules; the error names the dotted key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let err = |k: &str, m: String| Err((k.to_string(), m));
        if let Some(name) = &self.name
            && let Err(m) = check_name(name)
        {
            return err("name", m);
        }
        let m = &self.model;
        if !(1..=32).contains(&m.pairs) {
            return err("model.pairs", format!("{} is out of range 1..=32", m.pairs));
        }
        if m.channels.is_empty() {
            return err("model.channels", "needs at least one entry".into());
        }
        if let Some(c) = m.channels.iter().find(|c| !(1..=4096).contains(*c)) {
            return err("model.channels", format!("{c} is out of range 1..=4096"));
        }
        if m.kernel_size.is_multiple_of(2) || !(1..=15).contains(&m.kernel_size) {
            return err(
                "model.kernel_size",
                format!("{} must be odd and in 1..=15", m.kernel_size),
            );
        }
        if m.downsample > m.pairs {
            return err(
                "model.downsample",
                format!("{} is more than model.pairs = {}", m.downsample, m.pairs),
            );
        }
        if !(1..=4096).contains(&m.latent_channels) {
            return err(
                "model.latent_channels",
                format!("{} is out of range 1..=4096", m.latent_channels),
            );
        }

        let l = &self.loss;
        for (k, v) in [
            ("loss.ssim", l.ssim),
            ("loss.perceptual", l.perceptual),
            ("loss.mse", l.mse),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return err(k, format!("{v} is out of range 0..=1"));
            }
        }
        if l.ssim_scales != 1 && l.ssim_scales != crate::metrics::msssim::MS_SSIM_WEIGHTS.len() {
            return err(
                "loss.ssim_scales",
                format!("{} must be 1 (SSIM) or 5 (MS-SSIM)", l.ssim_scales),
            );
        }
        if l.perceptual > 0.0 && l.vgg_layers.is_empty() {
            return err(
                "loss.vgg_layers",
                "needs at least one layer when loss.perceptual > 0".into(),
            );
        }
        if !(l.colour >= 0.0 && l.colour <= 10.0) {
            return err(
                "loss.colour",
                format!("{} is out of range 0..=10", l.colour),
            );
        }
        if !(l.rate >= 0.0 && l.rate <= 1000.0) {
            return err("loss.rate", format!("{} is out of range 0..=1000", l.rate));
        }
        match (m.entropy, l.rate > 0.0) {
            (Entropy::None, true) => {
                return err(
                    "loss.rate",
                    "needs an entropy model to measure the rate: set model.entropy = \"factorized\" \
                     or \"hyperprior\""
                        .into(),
                );
            }
            (Entropy::Factorized | Entropy::Hyperprior, false) => {
                return err(
                    "loss.rate",
                    format!(
                        "must be above 0 with model.entropy = \"{}\": the rate term is what \
                         trains the entropy model",
                        m.entropy.name()
                    ),
                );
            }
            _ => {}
        }
        let sum = l.ssim + l.perceptual + l.mse;
        if (sum - 1.0).abs() > 1e-6 {
            return err(
                "loss",
                format!(
                    "weights must add up to 1: ssim + perceptual + mse = {} + {} + {} = {sum}",
                    l.ssim, l.perceptual, l.mse
                ),
            );
        }

        let d = &self.data;
        if d.crop_size < 16 || d.crop_size > 4096 {
            return err(
                "data.crop_size",
                format!("{} is out of range 16..=4096", d.crop_size),
            );
        }
        if !d.crop_size.is_multiple_of(m.input_multiple()) {
            let why = if m.input_multiple() == m.scale() {
                "2^model.downsample"
            } else {
                "4 x 2^model.downsample (the hyperprior halves the latent twice)"
            };
            return err(
                "data.crop_size",
                format!(
                    "{} is not a multiple of {why} = {}",
                    d.crop_size,
                    m.input_multiple()
                ),
            );
        }
        match (d.final_crop_size, d.final_crop_steps) {
            (None, None) => {}
            (Some(_), None) | (None, Some(_)) => {
                let (set, missing) = if d.final_crop_size.is_some() {
                    ("data.final_crop_size", "data.final_crop_steps")
                } else {
                    ("data.final_crop_steps", "data.final_crop_size")
                };
                return err(set, format!("needs {missing} as well (both or neither)"));
            }
            (Some(side), Some(steps)) => {
                if side < d.crop_size || side > 4096 {
                    return err(
                        "data.final_crop_size",
                        format!(
                            "{side} is out of range data.crop_size..=4096 ({}..=4096)",
                            d.crop_size
                        ),
                    );
                }
                if !side.is_multiple_of(m.input_multiple()) {
                    return err(
                        "data.final_crop_size",
                        format!(
                            "{side} is not a multiple of {}, as data.crop_size",
                            m.input_multiple()
                        ),
                    );
                }
                if steps == 0 {
                    return err("data.final_crop_steps", "must be at least 1".into());
                }
            }
        }
        let min_side = crate::metrics::msssim::MS_SSIM_MIN_SIDE;
        if l.ssim > 0.0 && l.ssim_scales > 1 && d.crop_size < min_side {
            return err(
                "data.crop_size",
                format!(
                    "{} is too small for loss.ssim_scales = {}: MS-SSIM needs at least {min_side} \
                     pixels a side",
                    d.crop_size, l.ssim_scales
                ),
            );
        }
        if !(1..=16).contains(&d.downscale) {
            return err(
                "data.downscale",
                format!("{} is out of range 1..=16", d.downscale),
            );
        }
        if !(0.0..1.0).contains(&d.val_fraction) {
            return err(
                "data.val_fraction",
                format!("{} is out of range [0, 1)", d.val_fraction),
            );
        }
        if d.val_fraction > 0.0 && d.val_crops == 0 {
            return err(
                "data.val_crops",
                "must be at least 1 when data.val_fraction > 0".into(),
            );
        }
        if d.crops_per_image == 0 {
            return err("data.crops_per_image", "must be at least 1".into());
        }

        let t = &self.train;
        match (t.steps, t.epochs) {
            (Some(_), Some(_)) => {
                return err(
                    "train.epochs",
                    "give train.steps or train.epochs, not both".into(),
                );
            }
            (Some(0), _) => return err("train.steps", "must be at least 1".into()),
            (_, Some(0)) => return err("train.epochs", "must be at least 1".into()),
            _ => {}
        }
        if !(1..=4096).contains(&t.batch_size) {
            return err(
                "train.batch_size",
                format!("{} is out of range 1..=4096", t.batch_size),
            );
        }
        if let Some(first) = t.devices.first()
            && t.device != DeviceSpec::Cpu
            && t.device != *first
        {
            return err(
                "train.devices",
                format!(
                    "starts with \"{first}\" but train.device is \"{}\"; the first of \
                     train.devices is the main device: drop train.device or make them agree",
                    t.device
                ),
            );
        }
        if t.devices.len() > 64 {
            return err(
                "train.devices",
                format!("{} devices; at most 64", t.devices.len()),
            );
        }
        if !(t.lr > 0.0 && t.lr <= 1.0) {
            return err("train.lr", format!("{} is out of range (0, 1]", t.lr));
        }
        if let Some(c) = t.clip_grad_norm
            && !(c > 0.0 && c.is_finite())
        {
            return err(
                "train.clip_grad_norm",
                format!("{c} must be a positive number"),
            );
        }
        if let Some(e) = t.adam_epsilon
            && !(e > 0.0 && e < 1.0)
        {
            return err("train.adam_epsilon", format!("{e} is out of range (0, 1)"));
        }
        if t.trainable == Trainable::Decoder && t.init_from.is_none() {
            return err(
                "train.trainable",
                "\"decoder\" trains a decoder for a trained encoder: set train.init_from to \
                 that model's checkpoint"
                    .into(),
            );
        }
        if t.decoder_input == DecoderInput::Rounded {
            if m.entropy == Entropy::None {
                return err(
                    "train.decoder_input",
                    "\"rounded\" rounds the latent as the codec does, which needs an entropy \
                     model: set model.entropy = \"factorized\" or \"hyperprior\""
                        .into(),
                );
            }
            if t.trainable == Trainable::Decoder {
                return err(
                    "train.decoder_input",
                    "\"rounded\" is for train.trainable = \"all\"; a decoder trained alone \
                     always sees the rounded latent"
                        .into(),
                );
            }
        }
        if t.rate_input == RateInput::Rounded && t.decoder_input != DecoderInput::Rounded {
            return err(
                "train.rate_input",
                "\"rounded\" measures the rate of the codec's rounded latent, so the decoder \
                 must see that latent too: set train.decoder_input = \"rounded\""
                    .into(),
            );
        }
        if !(t.min_lr >= 0.0 && t.min_lr <= t.lr) {
            return err(
                "train.min_lr",
                format!("{} is out of range [0, train.lr = {}]", t.min_lr, t.lr),
            );
        }
        if !(t.decay_gamma > 0.0 && t.decay_gamma <= 1.0) {
            return err(
                "train.decay_gamma",
                format!("{} is out of range (0, 1]", t.decay_gamma),
            );
        }
        for (k, v) in [
            ("train.decay_every", t.decay_every),
            ("train.checkpoint_every", t.checkpoint_every),
            ("train.val_every", t.val_every),
            ("train.log_every", t.log_every),
        ] {
            if v == 0 {
                return err(k, "must be at least 1".into());
            }
        }
        if !(1..=4096).contains(&self.eval.batch_size) {
            return err(
                "eval.batch_size",
                format!("{} is out of range 1..=4096", self.eval.batch_size),
            );
        }
        Ok(())
    }
}

/// Sets `key=value` in `table`; returns the key.
/// A table's values under their dotted keys (`[a] b = 1` is `("a.b", 1)`), nested tables
/// walked depth first, keys in the table's order: what `--set` items and a study's `[set]`
/// and `[sweep]` address.
pub fn dotted_leaves(table: &toml::Table) -> Vec<(String, toml::Value)> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => walk(&key, t, out),
                v => out.push((key, v.clone())),
            }
        }
    }
    let mut out = Vec::new();
    walk("", table, &mut out);
    out
}

fn apply_override(table: &mut toml::Table, item: &str) -> Result<String, ConfigError> {
    let fail = |message: String| ConfigError {
        origin: format!("--set {item}"),
        message,
    };
    let (key, raw) = item
        .split_once('=')
        .ok_or_else(|| fail("expected KEY=VALUE, e.g. train.lr=3e-4".into()))?;
    let key = key.trim();
    let raw = raw.trim();
    // A value in TOML syntax (number, bool, array, quoted string); anything else is a string.
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(fail(format!("`{key}` is not a dotted key like train.lr")));
    }
    let (last, parents) = parts.split_last().ok_or_else(|| fail("empty key".into()))?;
    let mut cur = table;
    for p in parents {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| fail(format!("`{p}` is not a table")))?;
    }
    cur.insert(last.to_string(), value);
    Ok(key.to_string())
}

/// Parses TOML `text` (read from `path`) into `T`; an error names the file, line, column and
/// dotted key. Also returns the document with its spans, to place later errors.
pub(crate) fn parse_located<'a, T: serde::de::DeserializeOwned>(
    text: &'a str,
    path: &Path,
) -> Result<(T, toml::Spanned<DeTable<'a>>), ConfigError> {
    let at = |span: Option<std::ops::Range<usize>>| locate(path, text, span);
    let spanned = DeTable::parse(text).map_err(|e| ConfigError {
        origin: at(e.span()),
        message: e.message().trim().to_string(),
    })?;
    let value: T = toml::from_str(text).map_err(|e| {
        let key = e.span().and_then(|sp| key_at(spanned.get_ref(), sp.start));
        let message = e.message().trim().to_string();
        ConfigError {
            origin: at(e.span()),
            message: key.map_or(message.clone(), |k| format!("{k}: {message}")),
        }
    })?;
    Ok((value, spanned))
}

/// The dotted key whose name or value covers byte `offset` (the deepest one). A `[table]`'s
/// own span covers only its header, so every table is searched.
fn key_at(table: &DeTable<'_>, offset: usize) -> Option<String> {
    for (k, v) in table.iter() {
        let name = k.get_ref().to_string();
        if let DeValue::Table(t) = v.get_ref()
            && let Some(inner) = key_at(t, offset)
        {
            return Some(format!("{name}.{inner}"));
        }
        if k.span().contains(&offset) || v.span().contains(&offset) {
            return Some(name);
        }
    }
    None
}

/// The span of a dotted key's name in the parsed file, or of its nearest present parent.
pub(crate) fn key_span(table: &DeTable<'_>, key: &str) -> Option<std::ops::Range<usize>> {
    let mut cur = table;
    let mut best = None;
    for part in key.split('.') {
        let (k, v) = cur.iter().find(|(k, _)| k.get_ref().as_ref() == part)?;
        best = Some(k.span());
        match v.get_ref() {
            DeValue::Table(t) => cur = t,
            _ => break,
        }
    }
    best
}

/// `file:line:col` for a byte span (or just `file` without one).
pub(crate) fn locate(path: &Path, text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let start = span.start.min(text.len());
            let before = &text[..start];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("{}:{line}:{col}", path.display())
        }
        None => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, sets: &[&str]) -> Result<Experiment, ConfigError> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Experiment::parse(text, Path::new("x.toml"), &sets)
    }

    #[test]
    fn empty_file_takes_defaults_and_file_name() {
        let e = parse("", &[]).expect("defaults are valid");
        assert_eq!(e.name(), "x");
        assert_eq!(e.model, ModelConfig::default());
        assert_eq!(e.train.backend, Backend::Flex);
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e = parse("[model]\npairs = 3\ncolour = 2\n", &[]).unwrap_err();
        assert_eq!(e.origin, "x.toml:3:1");
        assert!(
            e.message
                .starts_with("model.colour: unknown field `colour`"),
            "{e}"
        );
    }

    #[test]
    fn wrong_type_names_line() {
        let e = parse("[train]\n\nlr = \"fast\"\n", &[]).unwrap_err();
        assert_eq!(e.origin, "x.toml:3:6");
        assert!(e.message.starts_with("train.lr: invalid type"), "{e}");
    }

    #[test]
    fn unknown_init_names_the_choices() {
        let e = parse("[model]\npairs = 3\ninit = \"he\"\n", &[]).unwrap_err();
        assert_eq!(e.origin, "x.toml:3:8");
        assert!(
            e.message.starts_with("model.init: unknown variant `he`")
                && e.message.contains("`pytorch`, `glorot`, `identity`"),
            "{e}"
        );
        let e = parse("[model]\ninit = \"identity\"\n", &[]).unwrap();
        assert_eq!(e.model.init, Init::Identity);
    }

    #[test]
    fn gradient_clipping_is_positive_and_unset_is_not_written() {
        for bad in ["0.0", "-1.0", "nan", "inf"] {
            let e = parse(&format!("[train]\nclip_grad_norm = {bad}\n"), &[]).unwrap_err();
            assert!(
                e.message.starts_with("train.clip_grad_norm: ")
                    && e.message.contains("must be a positive number"),
                "{bad}: {e}"
            );
        }
        let e = parse("[train]\nclip_grad_norm = 1.0\n", &[]).unwrap();
        assert_eq!(e.train.clip_grad_norm, Some(1.0));
        let e = parse("[train]\nsteps = 3\n", &[]).unwrap();
        assert!(!toml::to_string(&e).unwrap().contains("clip_grad_norm"));
        assert!(!toml::to_string(&e).unwrap().contains("adam_epsilon"));
    }

    #[test]
    fn adam_epsilon_is_in_range() {
        for bad in ["0.0", "-1e-8", "1.0", "nan"] {
            let e = parse(&format!("[train]\nadam_epsilon = {bad}\n"), &[]).unwrap_err();
            assert!(
                e.message.starts_with("train.adam_epsilon: ") && e.message.contains("out of range"),
                "{bad}: {e}"
            );
        }
        let e = parse("[train]\nadam_epsilon = 1e-8\n", &[]).unwrap();
        assert_eq!(e.train.adam_epsilon, Some(1e-8));
        // Written when set, and read back as the same value.
        let saved = toml::to_string(&e).unwrap();
        assert!(saved.contains("adam_epsilon"), "{saved}");
        assert_eq!(parse(&saved, &[]).unwrap().train.adam_epsilon, Some(1e-8));
    }

    #[test]
    fn activation_and_upsample_take_their_variants_and_their_defaults_are_not_written() {
        for (field, expected, other) in [
            ("activation", "expected `relu` or `gdn`", "gdn"),
            ("upsample", "expected `transposed` or `resize`", "resize"),
        ] {
            let e = parse(&format!("[model]\n{field} = \"swish\"\n"), &[]).unwrap_err();
            assert_eq!(e.origin, format!("x.toml:2:{}", field.len() + 4));
            assert!(
                e.message
                    .starts_with(&format!("model.{field}: unknown variant `swish`"))
                    && e.message.contains(expected),
                "{e}"
            );
            let e = parse(&format!("[model]\n{field} = \"{other}\"\n"), &[]).unwrap();
            let written = toml::to_string(&e).unwrap();
            assert!(
                written.contains(&format!("{field} = \"{other}\"")),
                "{written}"
            );
            // Earlier models' [model] section (which the codec's weights digest hashes) is
            // unchanged.
            let e = parse("[model]\npairs = 3\n", &[]).unwrap();
            assert!(!toml::to_string(&e).unwrap().contains(field));
        }
        let e = parse(
            "[model]\nactivation = \"gdn\"\nupsample = \"resize\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            (e.model.activation, e.model.upsample),
            (Activation::Gdn, Upsample::Resize)
        );
    }

    #[test]
    fn a_rounded_rate_input_needs_a_rounded_decoder_input() {
        let hyper = "[model]\nentropy = \"hyperprior\"\n[loss]\nmse = 1.0\nrate = 0.01\n";
        let both = [
            "train.decoder_input=\"rounded\"",
            "train.rate_input=\"rounded\"",
        ];
        let e = parse(hyper, &both).unwrap();
        assert_eq!(e.train.rate_input, RateInput::Rounded);
        assert_eq!(parse(&e.to_toml(), &[]).unwrap(), e, "round trip");
        assert!(
            !parse(hyper, &[]).unwrap().to_toml().contains("rate_input"),
            "absent when noisy, so older runs' configs are unchanged"
        );
        let err = parse(hyper, &both[1..]).unwrap_err();
        assert!(
            err.message.starts_with("train.rate_input: ")
                && err.message.contains("train.decoder_input = \"rounded\""),
            "{err}"
        );
        let err = parse(hyper, &["train.rate_input=\"hard\""]).unwrap_err();
        assert!(
            err.message.starts_with("unknown variant `hard`")
                && err.message.contains("`noisy` or `rounded`"),
            "{err}"
        );
    }

    #[test]
    fn decoder_input_is_noisy_or_rounded_and_rounded_needs_an_entropy_model() {
        let hyper = "[model]\nentropy = \"hyperprior\"\n[loss]\nmse = 1.0\nrate = 0.01\n";
        let e = parse(hyper, &["train.decoder_input=\"rounded\""]).unwrap();
        assert_eq!(e.train.decoder_input, DecoderInput::Rounded);
        assert_eq!(parse(&e.to_toml(), &[]).unwrap(), e, "round trip");
        assert!(
            !parse(hyper, &[])
                .unwrap()
                .to_toml()
                .contains("decoder_input"),
            "absent when noisy, so older runs' configs are unchanged"
        );
        let err = parse(hyper, &["train.decoder_input=\"exact\""]).unwrap_err();
        assert_eq!(err.origin, "--set train.decoder_input=\"exact\"");
        assert!(
            err.message.starts_with("unknown variant `exact`")
                && err.message.contains("`noisy` or `rounded`"),
            "{err}"
        );
        let err = parse("[train]\ndecoder_input = \"rounded\"\n", &[]).unwrap_err();
        assert_eq!(err.origin, "x.toml:2:1");
        assert!(
            err.message.starts_with("train.decoder_input: ")
                && err.message.contains("model.entropy"),
            "{err}"
        );
        let err = parse(
            hyper,
            &[
                "train.decoder_input=\"rounded\"",
                "train.trainable=\"decoder\"",
                "train.init_from=\"m.ckpt\"",
            ],
        )
        .unwrap_err();
        assert!(
            err.message.starts_with("train.decoder_input: ")
                && err.message.contains("always sees the rounded latent"),
            "{err}"
        );
    }

    #[test]
    fn weights_must_sum_to_one() {
        let e = parse("[loss]\nssim = 0.5\nperceptual = 0.2\nmse = 0.5\n", &[]).unwrap_err();
        assert_eq!(e.origin, "x.toml:1:2");
        assert!(
            e.message.starts_with("loss: weights must add up to 1"),
            "{e}"
        );
    }

    #[test]
    fn out_of_range_value_points_at_its_key() {
        let e = parse("[model]\npairs = 3\nkernel_size = 4\n", &[]).unwrap_err();
        assert_eq!(e.origin, "x.toml:3:1");
        assert!(e.message.starts_with("model.kernel_size:"), "{e}");
    }

    #[test]
    fn overrides_apply_and_errors_name_the_override() {
        let e = parse("[model]\npairs = 3\n", &["model.pairs=5", "train.lr=3e-4"]).unwrap();
        assert_eq!(e.model.pairs, 5);
        assert_eq!(e.train.lr, 3e-4);
        let e = parse("", &["train.device=cuda:1"]).unwrap();
        assert_eq!(e.train.device, DeviceSpec::Cuda(1));
        let err = parse("", &["model.pairs=0"]).unwrap_err();
        assert_eq!(err.origin, "--set model.pairs=0");
        let err = parse("", &["model.colour=1"]).unwrap_err();
        assert!(err.message.contains("unknown field `colour`"), "{err}");
        let err = parse("", &["nonsense"]).unwrap_err();
        assert!(err.message.contains("KEY=VALUE"), "{err}");
    }

    #[test]
    fn resolved_config_round_trips() {
        let e = parse(
            "name = \"r\"\n[train]\nsteps = 7\n",
            &["model.channels=[8, 16]"],
        )
        .unwrap();
        let again = parse(&e.to_toml(), &[]).unwrap();
        assert_eq!(e, again);
    }

    #[test]
    fn ssim_scales_are_one_or_five_and_ms_ssim_needs_large_crops() {
        let five = "[loss]\nssim = 0.5\nmse = 0.5\nssim_scales = 5\n[data]\ncrop_size = 192\n";
        let e = parse(five, &[]).unwrap();
        assert_eq!(e.loss.ssim_scales, 5);
        assert_eq!(parse(&e.to_toml(), &[]).unwrap(), e, "round trip");
        assert!(
            !parse("", &[]).unwrap().to_toml().contains("ssim_scales"),
            "absent by default"
        );
        let err = parse(five, &["loss.ssim_scales=3"]).unwrap_err();
        assert!(
            err.message
                .starts_with("loss.ssim_scales: 3 must be 1 (SSIM) or 5"),
            "{err}"
        );
        let err = parse(five, &["data.crop_size=128"]).unwrap_err();
        assert!(
            err.message.starts_with("data.crop_size: 128 is too small")
                && err.message.contains("at least 161"),
            "{err}"
        );
        // Without the SSIM term the scales do not matter.
        parse(five, &["data.crop_size=128", "loss.ssim=0", "loss.mse=1"]).unwrap();
    }

    #[test]
    fn final_crop_is_checked() {
        let e = parse(
            "[data]\ncrop_size = 32\nfinal_crop_size = 128\nfinal_crop_steps = 500\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            (e.data.final_crop_size, e.data.final_crop_steps),
            (Some(128), Some(500))
        );
        assert_eq!(parse(&e.to_toml(), &[]).unwrap(), e, "round trip");
        assert!(
            !parse("", &[]).unwrap().to_toml().contains("final_crop"),
            "absent by default"
        );
        let err = parse("[data]\nfinal_crop_size = 128\n", &[]).unwrap_err();
        assert_eq!(err.origin, "x.toml:2:1");
        assert!(
            err.message
                .starts_with("data.final_crop_size: needs data.final_crop_steps"),
            "{err}"
        );
        let err = parse("", &["data.final_crop_steps=5"]).unwrap_err();
        assert_eq!(err.origin, "--set data.final_crop_steps=5");
        assert!(err.message.contains("needs data.final_crop_size"), "{err}");
        let err = parse(
            "[data]\ncrop_size = 64\nfinal_crop_size = 32\nfinal_crop_steps = 5\n",
            &[],
        )
        .unwrap_err();
        assert!(
            err.message.contains("out of range data.crop_size..=4096"),
            "{err}"
        );
        let err = parse(
            "[data]\ncrop_size = 32\nfinal_crop_size = 100\nfinal_crop_steps = 5\n",
            &[],
        )
        .unwrap_err();
        assert!(err.message.contains("not a multiple of 8"), "{err}");
        let err = parse("[data]\nfinal_crop_size = 128\nfinal_crop_steps = 0\n", &[]).unwrap_err();
        assert!(
            err.message
                .starts_with("data.final_crop_steps: must be at least 1"),
            "{err}"
        );
    }

    #[test]
    fn devices_and_precision_are_checked() {
        let e = parse(
            "[train]\ndevices = [\"cuda:0\", \"cuda:1\"]\nprecision = \"bf16\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            e.train.replica_devices(),
            [DeviceSpec::Cuda(0), DeviceSpec::Cuda(1)]
        );
        assert_eq!(e.train.device, DeviceSpec::Cuda(0));
        assert_eq!(e.train.precision, Precision::Bf16);
        assert_eq!(
            parse("", &[]).unwrap().train.replica_devices(),
            [DeviceSpec::Cpu]
        );
        let err = parse(
            "[train]\ndevice = \"cuda:1\"\ndevices = [\"cuda:0\"]\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(err.origin, "x.toml:3:1");
        assert!(err.message.starts_with("train.devices:"), "{err}");
        let err = parse("[train]\ndevices = [\"gpu0\"]\n", &[]).unwrap_err();
        assert!(err.message.contains("unknown device `gpu0`"), "{err}");
        let err = parse("", &["train.precision=f16"]).unwrap_err();
        assert!(err.message.contains("`f32` or `bf16`"), "{err}");
    }

    #[test]
    fn syntax_error_is_located() {
        let e = parse("[model\npairs = 3\n", &[]).unwrap_err();
        assert!(e.origin.starts_with("x.toml:1:"), "{e}");
    }
}
