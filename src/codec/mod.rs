//! The real codec: quantised latents, integer probability tables, range coding into `.nic`
//! files.
//!
//! Top to bottom: [`prior`] is the learned entropy model trained with the autoencoder
//! ([`hyperprior`] with [`conditional`] the mean-scale one); [`finalize`] turns a checkpoint
//! into a [`Coder`] (quantiser + integer [`tables`], stored next to the checkpoint, and for
//! a hyperprior the exact scalar hyper-synthesis of [`synthesis`], which picks each value's
//! [`gaussian`] table); [`nic`] is the file format (version 1 one payload, version 2 two);
//! [`files`] runs `niclab compress` and `niclab decompress` over files and folders.
//! [`Coder`], [`nic`], [`tables`], [`gaussian`] and [`synthesis`] use neither burn nor the
//! rest of niclab, so the fuzz target (`fuzz/`) compiles them on their own.

mod coder;
pub mod conditional;
pub mod files;
pub mod finalize;
pub mod gaussian;
pub mod hyperprior;
pub mod nic;
pub mod prior;
pub mod refine;
pub mod synthesis;
pub mod tables;
pub mod tiles;
pub mod trial;

use anyhow::Result;
use burn::prelude::*;
use image::RgbImage;

pub use coder::{Coder, hex};

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
    RgbImage::from_fn(w, h, |px, py| rgb_at(img, plane, (py * pw + px) as usize))
}

/// Pixel `j` of one planar decoded image (`[3, plane]` values in [0, 1]), rounded to 8 bits.
pub fn rgb_at(img: &[f32], plane: usize, j: usize) -> image::Rgb<u8> {
    let v = |c: usize| (img[c * plane + j].clamp(0.0, 1.0) * 255.0).round() as u8;
    image::Rgb([v(0), v(1), v(2)])
}

/// A tensor's values as `f32`.
pub fn to_vec<const D: usize>(t: Tensor<D>, what: &str) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("cannot read the {what} back from the device: {e:?}"))
}
