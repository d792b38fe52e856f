//! The encoder's inference pass on burn's flex (CPU) backend, as one im2col and one matmul
//! per layer over channels-last data.
//!
//! flex turns every convolution's input to channels-last on one thread before its im2col;
//! for the encoder's stride-2 layers that costs about as much as the arithmetic (measured
//! on the 3-pair paper model, batch 32: flex's encoder 160 ms against 85 ms for its decoder
//! of the same FLOPs; this one 100-105 ms). Here the activations stay channels-last from
//! the image to the latent, the patches are gathered on every core, and the products are
//! burn matmuls. Same sums in another order: the latent agrees with
//! [`Autoencoder::encode`] to float rounding (tested). The decoder's transposed
//! convolutions are flex's own: they work on the channels-first data as it is.

use anyhow::Result;
use burn::prelude::*;
use image::RgbImage;

use crate::codec::refine::Refiner;
use crate::codec::to_vec;
use crate::data::batches::images_to_tensor;
use crate::eval::parallel::threads;
use crate::model::Autoencoder;

/// The encoder that inference runs: on flex a [`CpuEncoder`], elsewhere the model's own
/// layers (libtorch's convolutions need no help).
pub struct ImageEncoder<'a> {
    model: &'a Autoencoder,
    cpu: Option<CpuEncoder>,
    device: Device,
    refiner: Option<&'a Refiner>,
}

impl<'a> ImageEncoder<'a> {
    /// The encoder of `model`, whose weights live on `device`.
    pub fn new(model: &'a Autoencoder, device: &Device) -> Result<Self> {
        // The channels-last path knows ReLU only; GDN models run their own layers.
        let cpu = if *device == Device::flex() && !model.has_gdn() {
            Some(CpuEncoder::new(model, device)?)
        } else {
            None
        };
        Ok(Self {
            model,
            cpu,
            device: device.clone(),
            refiner: None,
        })
    }

    /// The same encoder, its latents refined by `refiner` before coding (`--refine`).
    pub fn refining(self, refiner: Option<&'a Refiner>) -> Self {
        Self { refiner, ..self }
    }

    /// The refinement the coded latents get, if any.
    pub fn refiner(&self) -> Option<&'a Refiner> {
        self.refiner
    }

    /// The model it encodes for.
    pub fn model(&self) -> &'a Autoencoder {
        self.model
    }

    /// Where the latents it returns live.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The latent `[B, C, H/2^d, W/2^d]` of `images` (all of one size).
    pub fn encode(&self, images: &[&RgbImage]) -> Result<Tensor<4>> {
        match &self.cpu {
            Some(cpu) => cpu.encode(images),
            None => Ok(self.model.encode(images_to_tensor(images, &self.device))),
        }
    }
}

/// One encoder layer, its weights laid out for a channels-last matmul.
struct Layer {
    /// `[k * k * c_in, c_out]`, rows ordered (kernel row, kernel column, input channel).
    weight: Tensor<2>,
    /// `[c_out]`.
    bias: Vec<f32>,
    kernel: usize,
    stride: usize,
    pad: usize,
    c_in: usize,
    c_out: usize,
    relu: bool,
}

/// The encoder of an [`Autoencoder`], ready for inference on the CPU.
pub struct CpuEncoder {
    layers: Vec<Layer>,
    device: Device,
}

/// Shape of a channels-last batch.
#[derive(Debug, Clone, Copy)]
struct Nhwc {
    n: usize,
    h: usize,
    w: usize,
    c: usize,
}

impl CpuEncoder {
    /// The encoder of `model`, whose weights live on `device`.
    pub fn new(model: &Autoencoder, device: &Device) -> Result<Self> {
        anyhow::ensure!(
            !model.has_gdn(),
            "the channels-last encoder has no GDN; run the model's own layers"
        );
        let layers = model
            .encoder_layers()
            .map(|l| {
                let [c_out, c_in, k, _] = l.weight.dims();
                let weight = l
                    .weight
                    .permute([2, 3, 1, 0])
                    .reshape([k * k * c_in, c_out]);
                let bias = match l.bias {
                    Some(b) => to_vec(b, "encoder bias"),
                    None => Ok(vec![0.0; c_out]),
                }?;
                Ok(Layer {
                    weight,
                    bias,
                    kernel: k,
                    stride: l.stride,
                    pad: l.pad,
                    c_in,
                    c_out,
                    relu: l.relu,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            layers,
            device: device.clone(),
        })
    }

    /// The latent `[B, C, H/2^d, W/2^d]` of `images` (all of one size), as
    /// [`Autoencoder::encode`] of their `[0, 1]` tensor gives it.
    pub fn encode(&self, images: &[&RgbImage]) -> Result<Tensor<4>> {
        let (w, h) = images.first().map_or((0, 0), |i| i.dimensions());
        let mut shape = Nhwc {
            n: images.len(),
            h: h as usize,
            w: w as usize,
            c: 3,
        };
        let mut act: Vec<f32> = images
            .iter()
            .flat_map(|img| img.as_raw().iter().map(|&v| v as f32 / 255.0))
            .collect();
        for layer in &self.layers {
            let (cols, out) = im2col(&act, shape, layer);
            let rows = out.n * out.h * out.w;
            let patch = layer.kernel * layer.kernel * layer.c_in;
            let x = Tensor::<2>::from_data(TensorData::new(cols, [rows, patch]), &self.device);
            act = to_vec(x.matmul(layer.weight.clone()), "activations")?;
            bias_relu(&mut act, &layer.bias, layer.relu);
            shape = out;
        }
        let z = Tensor::<4>::from_data(
            TensorData::new(act, [shape.n, shape.h, shape.w, shape.c]),
            &self.device,
        );
        Ok(z.permute([0, 3, 1, 2]))
    }
}

/// Adds each row's `bias` (channels-last rows of `bias.len()` values) and applies a ReLU if
/// `relu`, on every core.
fn bias_relu(x: &mut [f32], bias: &[f32], relu: bool) {
    let c = bias.len();
    let per_thread = (x.len() / c).div_ceil(threads()).max(1) * c;
    std::thread::scope(|scope| {
        for chunk in x.chunks_mut(per_thread) {
            scope.spawn(move || {
                for row in chunk.chunks_exact_mut(c) {
                    for (v, b) in row.iter_mut().zip(bias) {
                        let y = *v + b;
                        // NaN passes through, as burn's ReLU lets it.
                        *v = if relu && y <= 0.0 { 0.0 } else { y };
                    }
                }
            });
        }
    });
}

/// The patches of `x` for `layer`: one row per output position (image, row, column), each
/// row the `k x k x c_in` window in (kernel row, kernel column, channel) order, zeros where
/// it overhangs the padded border. Filled on every core.
fn im2col(x: &[f32], s: Nhwc, layer: &Layer) -> (Vec<f32>, Nhwc) {
    let (k, st, p) = (layer.kernel, layer.stride, layer.pad);
    let out = Nhwc {
        n: s.n,
        h: (s.h + 2 * p - k) / st + 1,
        w: (s.w + 2 * p - k) / st + 1,
        c: layer.c_out,
    };
    let row_len = k * k * s.c;
    let rows = out.n * out.h * out.w;
    let mut cols = vec![0f32; rows * row_len];
    let per_thread = rows.div_ceil(threads()).max(1);
    std::thread::scope(|scope| {
        for (part, chunk) in cols.chunks_mut(per_thread * row_len).enumerate() {
            scope.spawn(move || {
                for (j, row) in chunk.chunks_exact_mut(row_len).enumerate() {
                    let r = part * per_thread + j;
                    let (img, oy, ox) = (r / (out.h * out.w), r / out.w % out.h, r % out.w);
                    for ky in 0..k {
                        let Some(iy) = (oy * st + ky).checked_sub(p).filter(|&y| y < s.h) else {
                            continue;
                        };
                        for kx in 0..k {
                            let Some(ix) = (ox * st + kx).checked_sub(p).filter(|&x| x < s.w)
                            else {
                                continue;
                            };
                            let src = ((img * s.h + iy) * s.w + ix) * s.c;
                            let dst = (ky * k + kx) * s.c;
                            row[dst..dst + s.c].copy_from_slice(&x[src..src + s.c]);
                        }
                    }
                }
            });
        }
    });
    (cols, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Entropy, Init, ModelConfig};

    fn images(w: u32, h: u32, n: u32) -> Vec<RgbImage> {
        (0..n)
            .map(|i| {
                RgbImage::from_fn(w, h, |x, y| {
                    let v = (x * 37 + y * 91 + i * 53) ^ (x * y);
                    image::Rgb([v as u8, (v >> 3) as u8, (x * 255 / w) as u8])
                })
            })
            .collect()
    }

    #[test]
    fn latent_matches_the_model_encoder() {
        let device = Device::flex();
        for (kernel, pairs, downsample, entropy, (w, h)) in [
            (3, 3, 3, Entropy::None, (128, 128)),
            (3, 5, 3, Entropy::None, (40, 24)),
            (5, 4, 2, Entropy::Factorized, (36, 20)),
        ] {
            let cfg = ModelConfig {
                pairs,
                channels: vec![8, 12],
                kernel_size: kernel,
                downsample,
                latent_channels: 5,
                entropy,
                init: Init::Pytorch,
                ..ModelConfig::default()
            };
            let model = Autoencoder::new(&cfg, &device, 7);
            let imgs = images(w, h, 3);
            let refs: Vec<&RgbImage> = imgs.iter().collect();
            let want = model.encode(images_to_tensor(&refs, &device));
            let got = CpuEncoder::new(&model, &device)
                .unwrap()
                .encode(&refs)
                .unwrap();
            assert_eq!(got.dims(), want.dims());
            let (got, want) = (to_vec(got, "").unwrap(), to_vec(want, "").unwrap());
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            let worst = got
                .iter()
                .zip(&want)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(scale > 0.01, "a latent of zeros tests nothing");
            assert!(
                worst <= 1e-5 * scale.max(1.0),
                "kernel {kernel}, {pairs} pairs: off by {worst} (scale {scale})"
            );
            // A linear last layer (entropy model) keeps negative values.
            assert_eq!(
                want.iter().any(|v| *v < 0.0),
                entropy == Entropy::Factorized
            );
        }
    }
}
