//! A finalized model's entropy coder: latent to `.nic` bytes and back, with its integer
//! tables only. Uses nothing of burn or of the rest of niclab (the fuzz target compiles this
//! file, [`super::nic`] and [`super::tables`] on their own).

use anyhow::{Result, bail};

use super::nic::{self, Header};
use super::tables::Tables;

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
