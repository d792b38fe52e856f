//! The classical codecs niclab is measured against: JPEG ([`jpeg`], libjpeg-turbo), WebP
//! ([`webp`], libwebp), AVIF and JPEG XL ([`tools`], Debian's avifenc and cjxl). Each is the
//! real library at its own tool's default settings, files counted whole; only the quality
//! knob moves.
//!
//! Every codec's knob is a [`Level`]: an integer that rises with quality, so the same
//! sweeps and bisections serve all of them. For JPEG, WebP and JPEG XL it is the tool's own
//! quality (1-100); for AVIF it is 63 − the colour quantizer (avifenc `--min Q --max Q`).

pub mod jpeg;
pub mod tools;
pub mod webp;

use std::fmt;
use std::str::FromStr;

use anyhow::{Result, ensure};
use image::RgbImage;
use serde::Serialize;

use jpeg::{JpegCodec, Quality};
use tools::Workdir;

/// A classical codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// JPEG (libjpeg-turbo, 4:2:0, baseline Huffman: Pillow's defaults).
    Jpeg,
    /// WebP (libwebp 1.6.0, lossy, cwebp's defaults).
    Webp,
    /// AVIF (avifenc 0.11.1 with libaom 3.6.0, speed 6, 4:4:4).
    Avif,
    /// JPEG XL (cjxl 0.7.0, VarDCT, effort 7).
    Jxl,
}

impl Codec {
    /// All of them, in the order reports list them.
    pub const ALL: [Codec; 4] = [Codec::Jpeg, Codec::Webp, Codec::Avif, Codec::Jxl];

    /// Its name in `--codecs`, CSV files and TensorBoard tags.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Webp => "webp",
            Self::Avif => "avif",
            Self::Jxl => "jxl",
        }
    }

    /// Its name and implementation, for reports and plot legends ([`Codec::version`] has
    /// the versions: the tools are the system's).
    pub fn label(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG (libjpeg-turbo)",
            Self::Webp => "WebP (libwebp)",
            Self::Avif => "AVIF (avifenc, libaom)",
            Self::Jxl => "JPEG XL (cjxl, libjxl)",
        }
    }

    /// Its name in a table heading: JPEG, WebP, AVIF, JPEG XL.
    pub fn title(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Webp => "WebP",
            Self::Avif => "AVIF",
            Self::Jxl => "JPEG XL",
        }
    }

    /// The level of a setting as the tool spells it: a quality, or for AVIF a quantizer
    /// (0-63; level 63 - it).
    pub fn level_of_setting(self, n: u32) -> Result<Level> {
        match self {
            Self::Avif => {
                ensure!(n <= 63, "avif has no quantizer {n} (0..=63, 0 lossless)");
                self.level(63 - n)
            }
            _ => self.level(n),
        }
    }

    /// The tool's own number for a level: the inverse of [`Codec::level_of_setting`].
    pub fn setting_number(self, level: Level) -> u8 {
        match self {
            Self::Avif => 63 - level.0,
            _ => level.0,
        }
    }

    /// The extension of its files.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            _ => self.name(),
        }
    }

    /// `JPEG q75`, `AVIF qp24`.
    pub fn titled(self, level: Level) -> String {
        format!("{} {}", self.title(), self.setting(level))
    }

    /// The implementation and its version, as run here (the tools are asked).
    pub fn version(self) -> Result<String> {
        Ok(match self {
            Self::Jpeg => "libjpeg-turbo 3.1.0 (bundled by turbojpeg-sys)".into(),
            Self::Webp => {
                // SAFETY: a plain query with no arguments.
                let v = unsafe { libwebp_sys::WebPGetEncoderVersion() };
                format!(
                    "libwebp {}.{}.{} (bundled by libwebp-sys)",
                    v >> 16,
                    (v >> 8) & 0xFF,
                    v & 0xFF
                )
            }
            Self::Avif => tools::AVIFENC.version()?,
            Self::Jxl => tools::CJXL.version()?,
        })
    }

    /// The levels it has, lowest quality first.
    pub fn levels(self) -> std::ops::RangeInclusive<u8> {
        match self {
            Self::Avif => 0..=63,
            // cjxl 0.7 maps q < 5 to Butteraugli distances above 25, which libjxl refuses.
            Self::Jxl => 5..=100,
            _ => 1..=100,
        }
    }

    /// `level` if the codec has it.
    pub fn level(self, level: u32) -> Result<Level> {
        let r = self.levels();
        ensure!(
            level <= u32::from(*r.end()) && level >= u32::from(*r.start()),
            "{} has no level {level} (levels {}..={})",
            self.name(),
            r.start(),
            r.end()
        );
        Ok(Level(level as u8))
    }

    /// The setting a level stands for, as the tool spells it: `q75`, or `qp24` for AVIF.
    pub fn setting(self, level: Level) -> String {
        let n = self.setting_number(level);
        match self {
            Self::Avif => format!("qp{n}"),
            _ => format!("q{n}"),
        }
    }

    /// Bytes of the coded data alone, without the format's headers: JPEG without its tables
    /// and markers, WebP without the RIFF and chunk headers, AVIF without `ftyp` and `meta`
    /// (the `mdat` box's contents). A JPEG XL codestream's headers are a few bytes, not
    /// separable from the image: its whole file is its payload.
    pub fn payload_len(self, file: &[u8]) -> usize {
        let len = match self {
            Self::Jpeg => jpeg::entropy_coded_len(file),
            Self::Webp => webp::payload_len(file),
            Self::Avif => tools::avif_payload_len(file),
            Self::Jxl => None,
        };
        len.unwrap_or(file.len())
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Codec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s || (s == "jpegxl" && *c == Self::Jxl))
            .ok_or_else(|| format!("unknown codec `{s}`: give some of jpeg, webp, avif, jxl"))
    }
}

/// A point on a codec's quality knob; higher is better quality (see the module's notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Level(u8);

impl Level {
    /// The number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One thread's encoder and decoder for a codec (libjpeg-turbo handles and tool folders are
/// not shared between threads).
pub struct Encoder {
    codec: Codec,
    jpeg: Option<JpegCodec>,
    work: Option<Workdir>,
}

impl Encoder {
    /// Ready to encode and decode with `codec`.
    pub fn new(codec: Codec) -> Result<Self> {
        let (jpeg, work) = match codec {
            Codec::Jpeg => (Some(JpegCodec::new()?), None),
            Codec::Webp => (None, None),
            Codec::Avif | Codec::Jxl => (None, Some(Workdir::new()?)),
        };
        Ok(Self { codec, jpeg, work })
    }

    /// The file of `img` at `level`.
    pub fn encode(&mut self, img: &RgbImage, level: Level) -> Result<Vec<u8>> {
        let n = self.codec.setting_number(level);
        match (self.codec, &mut self.jpeg, &self.work) {
            (Codec::Jpeg, Some(j), _) => j.encode(img, Quality::new(u32::from(n))?),
            (Codec::Webp, ..) => webp::encode(img, n),
            (Codec::Avif, _, Some(w)) => w.avif_encode(img, n),
            (Codec::Jxl, _, Some(w)) => w.jxl_encode(img, n),
            _ => unreachable!("Encoder::new sets up every codec's state"),
        }
    }

    /// Decodes one of the codec's files to RGB.
    pub fn decode(&mut self, file: &[u8]) -> Result<RgbImage> {
        match (self.codec, &mut self.jpeg, &self.work) {
            (Codec::Jpeg, Some(j), _) => j.decode(file),
            (Codec::Webp, ..) => webp::decode(file),
            (Codec::Avif, _, Some(w)) => w.avif_decode(file),
            (Codec::Jxl, _, Some(w)) => w.jxl_decode(file),
            _ => unreachable!("Encoder::new sets up every codec's state"),
        }
    }
}

/// Parses `jpeg,webp,avif,jxl` (or `all`) into codecs, without repeats, in the given order.
pub fn parse_codecs(s: &str) -> Result<Vec<Codec>, String> {
    if s.trim() == "all" {
        return Ok(Codec::ALL.to_vec());
    }
    let mut out: Vec<Codec> = Vec::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let c: Codec = part.parse()?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    if out.is_empty() {
        return Err("give at least one codec: jpeg, webp, avif, jxl".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_parse_and_levels_check() {
        assert_eq!(parse_codecs("all").unwrap(), Codec::ALL.to_vec());
        assert_eq!(
            parse_codecs("JXL, webp,jxl").unwrap(),
            vec![Codec::Jxl, Codec::Webp]
        );
        assert!(
            parse_codecs("png")
                .unwrap_err()
                .contains("jpeg, webp, avif, jxl")
        );
        assert!(parse_codecs(",").is_err());
        assert!(Codec::Avif.level(64).is_err());
        assert!(Codec::Jpeg.level(0).is_err());
        assert_eq!(Codec::Avif.setting(Codec::Avif.level(39).unwrap()), "qp24");
        assert_eq!(Codec::Webp.setting(Codec::Webp.level(75).unwrap()), "q75");
        let qp24 = Codec::Avif.level_of_setting(24).unwrap();
        assert_eq!((qp24.get(), Codec::Avif.setting_number(qp24)), (39, 24));
        assert_eq!(Codec::Avif.titled(qp24), "AVIF qp24");
        assert!(Codec::Avif.level_of_setting(64).is_err());
        assert!(Codec::Jxl.level_of_setting(4).is_err());
    }
}
