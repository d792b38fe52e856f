//! The autoencoder side of an evaluation: batched encode + decode, timed without file I/O.

use std::time::Instant;

use anyhow::Result;
use burn::prelude::*;
use image::RgbImage;
use indicatif::ProgressBar;

use crate::data::batches::images_to_tensor;
use crate::model::Autoencoder;

/// How the autoencoder's compressed bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Storage {
    /// The latent as raw little-endian float32, no quantisation or entropy coding: what the
    /// paper stored (its ratios of 1.11 to 1.51 come from this).
    Float32Latent,
}

impl Storage {
    /// A sentence for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Storage::Float32Latent => {
                "latent stored as raw float32 (4 bytes per value, no quantisation or entropy \
                 coding), as in the paper"
            }
        }
    }

    /// Bytes of a latent of `values` numbers.
    pub fn bytes(self, values: usize) -> usize {
        match self {
            Storage::Float32Latent => 4 * values,
        }
    }
}

/// One image through the autoencoder.
pub struct Reconstruction {
    /// The decoded image, rounded to 8 bits.
    pub image: RgbImage,
    /// The latent as stored (raw float32, little-endian).
    pub latent: Vec<u8>,
    /// Encode + decode time of its batch divided by the batch size (seconds).
    pub seconds: f64,
}

/// Encodes and decodes `images` in batches of up to `batch_size` images of the same size.
/// Sides that are not multiples of the model's downsampling `scale` are padded by repeating
/// the edge, and the padding is cut off again (its latent is stored, so it counts in the
/// bytes). The time covers the upload to the device, encode, decode and the download of
/// latent and reconstruction.
pub fn reconstruct(
    model: &Autoencoder,
    images: &[&RgbImage],
    batch_size: usize,
    scale: usize,
    device: &Device,
    bar: &ProgressBar,
) -> Result<Vec<Reconstruction>> {
    let mut out = Vec::with_capacity(images.len());
    let mut start = 0;
    while start < images.len() {
        let dims = images[start].dimensions();
        let mut end = start + 1;
        while end < images.len() && end - start < batch_size && images[end].dimensions() == dims {
            end += 1;
        }
        let (w, h) = (dims.0 as usize, dims.1 as usize);
        let (pw, ph) = (w.div_ceil(scale) * scale, h.div_ceil(scale) * scale);
        let padded: Vec<RgbImage> = images[start..end]
            .iter()
            .map(|img| pad(img, pw as u32, ph as u32))
            .collect();
        let refs: Vec<&RgbImage> = padded.iter().collect();
        let n = end - start;
        let t = Instant::now();
        let z = model.encode(images_to_tensor(&refs, device));
        let latent = to_vec(z.clone(), "latent")?;
        let y = to_vec(model.decode(z), "reconstruction")?;
        let seconds = t.elapsed().as_secs_f64() / n as f64;
        let per_latent = latent.len() / n;
        let plane = pw * ph;
        for i in 0..n {
            let img = &y[i * 3 * plane..(i + 1) * 3 * plane];
            let image = RgbImage::from_fn(w as u32, h as u32, |px, py| {
                let j = py as usize * pw + px as usize;
                let v = |c: usize| (img[c * plane + j].clamp(0.0, 1.0) * 255.0).round() as u8;
                image::Rgb([v(0), v(1), v(2)])
            });
            let latent = latent[i * per_latent..(i + 1) * per_latent]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            out.push(Reconstruction {
                image,
                latent,
                seconds,
            });
        }
        bar.inc(n as u64);
        start = end;
    }
    Ok(out)
}

fn to_vec(t: Tensor<4>, what: &str) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("cannot read the {what} back from the device: {e:?}"))
}

/// `img` grown to `w x h` by repeating its last column and row.
fn pad(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    let (iw, ih) = img.dimensions();
    RgbImage::from_fn(w, h, |x, y| *img.get_pixel(x.min(iw - 1), y.min(ih - 1)))
}
