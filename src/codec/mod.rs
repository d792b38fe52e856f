//! The real codec: quantised latents, integer probability tables, range coding into `.nic`
//! files.
//!
//! Top to bottom: [`prior`] is the learned entropy model trained with the autoencoder;
//! [`finalize`] turns a checkpoint into a [`Coder`] (quantiser + integer [`tables`], stored
//! next to the checkpoint); [`nic`] is the file format; [`files`] runs `niclab compress` and
//! `niclab decompress` over files and folders.

pub mod files;
pub mod finalize;
pub mod nic;
pub mod prior;
pub mod tables;

use anyhow::{Result, bail};
use burn::prelude::*;
use image::RgbImage;

use nic::Header;
use tables::Tables;

/// A finalized model's entropy coder: its tables and the fingerprint its files carry.
#[derive(Debug, Clone)]
pub struct Coder {
    /// Quantiser and integer tables, one per latent channel.
    pub tables: Tables,
    /// First 8 bytes of SHA-256 over architecture, weights and tables.
    pub fingerprint: [u8; 8],
    /// How much smaller the latent is than the image, per side.
    pub scale: usize,
}

impl Coder {
    /// The `.nic` file of one image: `latent` is its `[C, lh, lw]` latent (channel-major),
    /// `w x h` the image size before padding. Also returns the dequantised latent, which is
    /// exactly what a decoder of the file gets.
    pub fn encode(
        &self,
        latent: &[f32],
        (w, h): (u32, u32),
        (lh, lw): (usize, usize),
    ) -> Result<(Vec<u8>, Vec<f32>)> {
        nic::check_size(w, h)?;
        let c = self.tables.channels.len();
        if latent.len() != c * lh * lw {
            bail!("latent of {} values is not {c} x {lh} x {lw}", latent.len());
        }
        let symbols = self.tables.quantize(latent);
        let payload = self.tables.encode(&symbols)?;
        let header = Header {
            quantizer: self.tables.quantizer,
            fingerprint: self.fingerprint,
            width: w,
            height: h,
            pad_right: u8::try_from(lw * self.scale - w as usize)?,
            pad_bottom: u8::try_from(lh * self.scale - h as usize)?,
            channels: u16::try_from(c)?,
            latent_height: u32::try_from(lh)?,
            latent_width: u32::try_from(lw)?,
        };
        Ok((
            nic::write(&header, &payload),
            self.tables.dequantize(&symbols),
        ))
    }

    /// Reads a `.nic` file written by this model: its header and dequantised latent. A file
    /// that is damaged, truncated, from another model or absurd is an error saying which.
    pub fn decode(&self, bytes: &[u8]) -> Result<(Header, Vec<f32>)> {
        let (h, payload) = nic::parse(bytes)?;
        if h.fingerprint != self.fingerprint {
            bail!(
                "written by another model (fingerprint {}, this model is {}): decompress it \
                 with the model that compressed it",
                hex(&h.fingerprint),
                hex(&self.fingerprint)
            );
        }
        if h.quantizer != self.tables.quantizer {
            bail!("quantiser {:?} differs from the model's", h.quantizer);
        }
        if h.channels as usize != self.tables.channels.len() {
            bail!(
                "{} latent channels, the model has {}",
                h.channels,
                self.tables.channels.len()
            );
        }
        let scale = (h.width + h.pad_right as u32) / h.latent_width;
        if scale as usize != self.scale {
            bail!(
                "latent scale {scale}, the model downsamples by {}",
                self.scale
            );
        }
        let symbols = self.tables.decode(payload, h.plane())?;
        Ok((h, self.tables.dequantize(&symbols)))
    }

    /// The fingerprint as 16 hex digits.
    pub fn fingerprint_hex(&self) -> String {
        hex(&self.fingerprint)
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `img` grown to `w x h` by repeating its last column and row.
pub fn pad(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    let (iw, ih) = img.dimensions();
    RgbImage::from_fn(w, h, |x, y| *img.get_pixel(x.min(iw - 1), y.min(ih - 1)))
}

/// Padded size of a `w x h` image for a model of `scale`.
pub fn padded(w: u32, h: u32, scale: usize) -> (u32, u32) {
    let s = scale as u32;
    (w.div_ceil(s) * s, h.div_ceil(s) * s)
}

/// Image `i` of a decoded batch (`[B, 3, ph, pw]` planar values in [0, 1]), cropped to
/// `w x h` and rounded to 8 bits.
pub fn crop_image(y: &[f32], i: usize, (pw, ph): (u32, u32), (w, h): (u32, u32)) -> RgbImage {
    let plane = (pw * ph) as usize;
    let img = &y[i * 3 * plane..(i + 1) * 3 * plane];
    RgbImage::from_fn(w, h, |px, py| {
        let j = (py * pw + px) as usize;
        let v = |c: usize| (img[c * plane + j].clamp(0.0, 1.0) * 255.0).round() as u8;
        image::Rgb([v(0), v(1), v(2)])
    })
}

/// A tensor's values as `f32`.
pub fn to_vec<const D: usize>(t: Tensor<D>, what: &str) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("cannot read the {what} back from the device: {e:?}"))
}
