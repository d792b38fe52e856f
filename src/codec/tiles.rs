//! Large images in bounded memory: the encoder and the decoder run tile by tile, each tile
//! with a margin (halo) as wide as the network's receptive field, and only the tile's core
//! is kept. Every core value then sees exactly the inputs it would see in one pass over the
//! whole image, so the latent (and the `.nic` file: one latent, range coded as before) is
//! the whole-image one up to float summation order, and the format is unchanged.
//!
//! Memory is that of one tile (its activations: a few hundred MB for the shipped codecs at
//! 512 pixels of core) plus the image, the latent and the output, whatever the image size.

use anyhow::{Result, ensure};
use burn::prelude::*;
use image::RgbImage;

use super::{rgb_at, to_vec};
use crate::cpu_encoder::ImageEncoder;
use crate::model::Autoencoder;

/// Images of more padded pixels than this go through tiles (724 x 724; one such image is
/// a batch of its own, [`super::files::BATCH_PIXELS`]).
pub const TILED_ABOVE: u64 = 1 << 19;

/// Side of a tile's core, in image pixels (a multiple of every model's scale).
pub const CORE: u32 = 512;

/// How a model's images are cut: the core and the halo in latent pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    /// Latent pixels of a tile's core, per side.
    pub core: usize,
    /// Latent pixels of margin on each side.
    pub halo: usize,
    /// Image pixels per latent pixel.
    pub scale: usize,
}

impl Tiling {
    /// The tiling of `model` (latent `scale`) with cores of `core_px` image pixels.
    pub fn new(model: &Autoencoder, scale: usize, core_px: u32) -> Result<Self> {
        ensure!(
            scale > 0 && (core_px as usize).is_multiple_of(scale) && core_px as usize >= scale,
            "a tile core of {core_px} pixels does not fit the model's scale {scale}"
        );
        // Receptive-field radius of a latent pixel, in image pixels: each layer adds its
        // kernel's half-width times the spacing of its input grid.
        let mut radius = 0usize;
        let mut spacing = 1usize;
        for layer in model.encoder_layers() {
            let k = layer.weight.dims()[2];
            radius += (k / 2) * spacing;
            spacing *= layer.stride;
        }
        // The decoder mirrors the encoder (same kernels and strides), so the same margin in
        // latent pixels covers what its transposed convolutions reach, plus one for their
        // extra output row; a resize decoder's 3x3 convolutions after each doubling reach
        // no farther (one input pixel each way).
        Ok(Self {
            core: core_px as usize / scale,
            halo: radius.div_ceil(scale) + 1,
            scale,
        })
    }

    /// Tiles along one latent side of `n`: (start, end) of each core.
    fn cores(&self, n: usize) -> Vec<(usize, usize)> {
        (0..n)
            .step_by(self.core)
            .map(|a| (a, (a + self.core).min(n)))
            .collect()
    }

    /// The core with its halo, clipped to `0..n`.
    fn region(&self, (a, b): (usize, usize), n: usize) -> (usize, usize) {
        (a.saturating_sub(self.halo), (b + self.halo).min(n))
    }
}

/// The latent `[C, lh, lw]` (row-major) of a padded image, tile by tile.
pub fn encode(
    encoder: &ImageEncoder,
    img: &RgbImage,
    t: &Tiling,
) -> Result<(Vec<f32>, usize, usize, usize)> {
    let s = t.scale;
    let (lw, lh) = (img.width() as usize / s, img.height() as usize / s);
    let mut out: Vec<f32> = Vec::new();
    let mut channels = 0;
    for ys in t.cores(lh) {
        let ry = t.region(ys, lh);
        for xs in t.cores(lw) {
            let rx = t.region(xs, lw);
            let tile = image::imageops::crop_imm(
                img,
                (rx.0 * s) as u32,
                (ry.0 * s) as u32,
                ((rx.1 - rx.0) * s) as u32,
                ((ry.1 - ry.0) * s) as u32,
            )
            .to_image();
            let z = encoder.encode(&[&tile])?;
            let [_, c, th, tw] = z.dims();
            let z = to_vec(z, "latent")?;
            if out.is_empty() {
                channels = c;
                out = vec![0.0; c * lh * lw];
            }
            for ch in 0..c {
                for y in ys.0..ys.1 {
                    let src = ch * th * tw + (y - ry.0) * tw + (xs.0 - rx.0);
                    let dst = ch * lh * lw + y * lw + xs.0;
                    let n = xs.1 - xs.0;
                    out[dst..dst + n].copy_from_slice(&z[src..src + n]);
                }
            }
        }
    }
    Ok((out, channels, lh, lw))
}

/// Decodes a latent `[C, lh, lw]` tile by tile into the image of `size` (cropped from the
/// padded `lw * scale x lh * scale`).
pub fn decode(
    model: &Autoencoder,
    latent: &[f32],
    (c, lh, lw): (usize, usize, usize),
    size: (u32, u32),
    t: &Tiling,
    device: &Device,
) -> Result<RgbImage> {
    ensure!(
        latent.len() == c * lh * lw,
        "latent of {} values is not {c} x {lh} x {lw}",
        latent.len()
    );
    let s = t.scale;
    let mut img = RgbImage::new(size.0, size.1);
    for ys in t.cores(lh) {
        let ry = t.region(ys, lh);
        for xs in t.cores(lw) {
            let rx = t.region(xs, lw);
            let (th, tw) = (ry.1 - ry.0, rx.1 - rx.0);
            let mut part = Vec::with_capacity(c * th * tw);
            for ch in 0..c {
                for y in ry.0..ry.1 {
                    let row = ch * lh * lw + y * lw;
                    part.extend_from_slice(&latent[row + rx.0..row + rx.1]);
                }
            }
            let z = Tensor::<4>::from_data(TensorData::new(part, [1, c, th, tw]), device);
            let y = to_vec(model.decode(z), "reconstruction")?;
            let (pw, ph) = (tw * s, th * s);
            let plane = pw * ph;
            // The core's pixels that lie inside the image (the padding is dropped).
            let (x0, x1) = ((xs.0 * s) as u32, ((xs.1 * s) as u32).min(size.0));
            let (y0, y1) = ((ys.0 * s) as u32, ((ys.1 * s) as u32).min(size.1));
            for py in y0..y1 {
                let ty = py as usize - ry.0 * s;
                for px in x0..x1 {
                    let j = ty * pw + (px as usize - rx.0 * s);
                    img.put_pixel(px, py, rgb_at(&y, plane, j));
                }
            }
        }
    }
    Ok(img)
}
