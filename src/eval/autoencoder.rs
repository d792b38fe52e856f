//! The autoencoder side of an evaluation: batched encode (+ entropy coding) + decode, timed
//! without file I/O.

use std::time::Instant;

use crate::progress::Progress;
use anyhow::Result;
use image::RgbImage;

use crate::codec::files::{batches, compress_batch, decode_latents};
use crate::codec::{Coder, pad, padded, to_vec};
use crate::config::Storage;
use crate::cpu_encoder::ImageEncoder;

/// A sentence for reports on how the autoencoder's bytes were counted.
pub fn describe(storage: Storage) -> &'static str {
    match storage {
        Storage::Nic => {
            "real .nic files: latent quantised, range-coded with the model's integer tables, \
             42 bytes of header and checksum included"
        }
        Storage::F32 => {
            "latent stored as raw float32 (4 bytes per value, no quantisation or entropy \
             coding), as in the paper"
        }
    }
}

/// One image through the autoencoder.
pub struct Reconstruction {
    /// The decoded image, rounded to 8 bits.
    pub image: RgbImage,
    /// The stored bytes: a `.nic` file, or the raw float32 latent (little-endian).
    pub stored: Vec<u8>,
    /// Encode + decode time of its batch divided by the batch size (seconds).
    pub seconds: f64,
}

/// Encodes and decodes `images` in batches of up to `batch_size` images of the same size.
/// Sides that are not multiples of the model's downsampling `scale` are padded by repeating
/// the edge, and the padding is cut off again (its latent is stored, so it counts in the
/// bytes). With a `coder` the latent goes through the real codec (quantise, range-code,
/// decode from the dequantised symbols), and the time includes it; without one it is
/// stored as float32. The time covers the upload to the device, encode, decode and the
/// download of latent and reconstruction, and the latent's refinement if `encoder` refines.
pub fn reconstruct(
    encoder: &ImageEncoder,
    coder: Option<&Coder>,
    images: &[&RgbImage],
    batch_size: usize,
    scale: usize,
    bar: &Progress,
) -> Result<Vec<Reconstruction>> {
    let mut out = Vec::with_capacity(images.len());
    let (model, device) = (encoder.model(), encoder.device());
    for chunk in batches(images, batch_size, |img| img.dimensions()) {
        let (w, h) = chunk[0].dimensions();
        let n = chunk.len();
        let t = Instant::now();
        let (stored, recon) = match coder {
            Some(coder) => {
                let (files, latents) = compress_batch(encoder, coder, chunk, device)?;
                let recon = decode_latents(model, latents, padded(w, h, scale), (w, h))?;
                (files, recon)
            }
            None => {
                let (pw, ph) = padded(w, h, scale);
                let grown: Vec<RgbImage> = chunk.iter().map(|img| pad(img, pw, ph)).collect();
                let refs: Vec<&RgbImage> = grown.iter().collect();
                let z = encoder.encode(&refs)?;
                let latent = to_vec(z.clone(), "latent")?;
                let recon = decode_latents(model, z, (pw, ph), (w, h))?;
                let per = latent.len() / n;
                let stored = latent
                    .chunks(per.max(1))
                    .map(|l| l.iter().flat_map(|v| v.to_le_bytes()).collect())
                    .collect();
                (stored, recon)
            }
        };
        let seconds = t.elapsed().as_secs_f64() / n as f64;
        out.extend(
            stored
                .into_iter()
                .zip(recon)
                .map(|(stored, image)| Reconstruction {
                    image,
                    stored,
                    seconds,
                }),
        );
        bar.inc(n as u64);
    }
    Ok(out)
}
