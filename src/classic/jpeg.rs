//! The JPEG baseline: libjpeg-turbo (the copy bundled with the `turbojpeg` crate), baseline
//! Huffman coding, 4:2:0 chroma subsampling, the standard quality scaling. These are Pillow's
//! defaults, so the bytes equal what `Image.save(f, "JPEG", quality=q)` writes.

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, Result, bail, ensure};
use image::RgbImage;
use turbojpeg::{Compressor, Decompressor, Image, PixelFormat, Subsamp};

/// A JPEG quality, 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Quality(u8);

impl Quality {
    /// The lowest quality.
    pub const MIN: Quality = Quality(1);
    /// The highest quality.
    pub const MAX: Quality = Quality(100);

    /// `q` if it lies in 1..=100.
    pub fn new(q: u32) -> Result<Self> {
        ensure!((1..=100).contains(&q), "JPEG quality {q} is not in 1..100");
        Ok(Self(q as u8))
    }

    /// The number, 1 to 100.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Which JPEG qualities an evaluation compares with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QualityChoice {
    /// The quality whose mean SSIM over the set is closest to the autoencoder's.
    MatchSsim,
    /// These qualities, in the order given.
    Fixed(Vec<Quality>),
}

impl FromStr for QualityChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "match-ssim" {
            return Ok(Self::MatchSsim);
        }
        let qs = s
            .split(',')
            .map(|q| {
                q.trim()
                    .parse::<u32>()
                    .map_err(|_| {
                        format!("`{q}` is not a quality: give match-ssim or numbers like 95,75")
                    })
                    .and_then(|q| Quality::new(q).map_err(|e| e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::Fixed(qs))
    }
}

impl fmt::Display for QualityChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MatchSsim => f.write_str("match-ssim"),
            Self::Fixed(qs) => {
                let qs: Vec<String> = qs.iter().map(|q| q.to_string()).collect();
                f.write_str(&qs.join(","))
            }
        }
    }
}

/// An encoder and a decoder (one pair per thread: libjpeg-turbo handles are not shared).
pub struct JpegCodec {
    compressor: Compressor,
    decompressor: Decompressor,
    quality: Option<Quality>,
}

impl JpegCodec {
    /// A codec set to 4:2:0.
    pub fn new() -> Result<Self> {
        let mut compressor = Compressor::new().context("libjpeg-turbo: cannot start an encoder")?;
        compressor
            .set_subsamp(Subsamp::Sub2x2)
            .context("libjpeg-turbo: cannot set 4:2:0")?;
        Ok(Self {
            compressor,
            decompressor: Decompressor::new().context("libjpeg-turbo: cannot start a decoder")?,
            quality: None,
        })
    }

    /// The JPEG file of `img` at quality `q`.
    pub fn encode(&mut self, img: &RgbImage, q: Quality) -> Result<Vec<u8>> {
        if self.quality != Some(q) {
            self.compressor
                .set_quality(i32::from(q.get()))
                .context("libjpeg-turbo: cannot set the quality")?;
            self.quality = Some(q);
        }
        let (w, h) = (img.width() as usize, img.height() as usize);
        let image = Image {
            pixels: img.as_raw().as_slice(),
            width: w,
            pitch: 3 * w,
            height: h,
            format: PixelFormat::RGB,
        };
        let buf = self
            .compressor
            .compress_to_vec(image)
            .context("libjpeg-turbo cannot encode the image")?;
        Ok(buf)
    }

    /// Decodes a JPEG file to RGB; damaged data is an error, not a grey patch.
    pub fn decode(&mut self, jpeg: &[u8]) -> Result<RgbImage> {
        let header = self
            .decompressor
            .read_header(jpeg)
            .context("not a readable JPEG header")?;
        let (w, h) = (header.width, header.height);
        let mut pixels = vec![0u8; 3 * w * h];
        let image = Image {
            pixels: pixels.as_mut_slice(),
            width: w,
            pitch: 3 * w,
            height: h,
            format: PixelFormat::RGB,
        };
        self.decompressor
            .decompress(jpeg, image)
            .context("damaged JPEG data")?;
        match RgbImage::from_raw(w as u32, h as u32, pixels) {
            Some(img) => Ok(img),
            None => bail!("JPEG of {w}x{h} decoded to the wrong number of bytes"),
        }
    }
}

/// Bytes of a baseline JPEG file's entropy-coded data: the file without its headers (SOI,
/// tables, frame and scan headers, up to the end of the SOS segment) and the EOI marker.
/// `None` if the markers cannot be walked.
pub fn entropy_coded_len(file: &[u8]) -> Option<usize> {
    let mut pos = 2;
    while pos + 4 <= file.len() {
        if file[pos] != 0xFF {
            return None;
        }
        let marker = file[pos + 1];
        let len = u16::from_be_bytes([file[pos + 2], file[pos + 3]]) as usize;
        pos += 2 + len;
        if marker == 0xDA {
            return file.len().checked_sub(pos + 2);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_choice_parses() {
        assert_eq!("match-ssim".parse(), Ok(QualityChoice::MatchSsim));
        assert_eq!(
            "95, 20".parse(),
            Ok(QualityChoice::Fixed(vec![
                Quality::new(95).unwrap(),
                Quality::new(20).unwrap()
            ]))
        );
        assert!("0".parse::<QualityChoice>().unwrap_err().contains("1..100"));
        assert!(
            "high"
                .parse::<QualityChoice>()
                .unwrap_err()
                .contains("match-ssim")
        );
    }

    #[test]
    fn round_trip_and_damage() {
        let img = RgbImage::from_fn(40, 24, |x, y| image::Rgb([x as u8 * 6, y as u8 * 10, 128]));
        let mut codec = JpegCodec::new().unwrap();
        let q95 = codec.encode(&img, Quality::new(95).unwrap()).unwrap();
        let q20 = codec.encode(&img, Quality::new(20).unwrap()).unwrap();
        assert!(q20.len() < q95.len());
        assert_eq!(&q95[..2], &[0xFF, 0xD8]);
        let back = codec.decode(&q95).unwrap();
        assert_eq!(back.dimensions(), (40, 24));
        assert!(crate::metrics::psnr(&img, &back).unwrap() > 35.0);
        assert!(codec.decode(&q95[..q95.len() / 2]).is_err());
        // Headers (two quantisation and four Huffman tables here) are the same at any
        // quality; only the entropy-coded data shrinks.
        let (d95, d20) = (
            entropy_coded_len(&q95).unwrap(),
            entropy_coded_len(&q20).unwrap(),
        );
        assert_eq!(q95.len() - d95, q20.len() - d20);
        assert!(q95.len() - d95 > 500 && d20 < d95);
        assert_eq!(entropy_coded_len(b"\xFF\xD8junk"), None);
        assert!(codec.decode(b"not a jpeg").is_err());
    }
}
