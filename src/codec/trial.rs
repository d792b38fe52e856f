//! One image through a learned codec and through JPEG at the same bytes and at the same SSIM
//! (`niclab try`, the web app's "try a codec"): the files, the decoded images and their
//! figures side by side in one folder. A `.nic` file is decoded instead (no original to
//! compare with).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::files::{Session, compress, decompress};
use crate::classic::jpeg::{JpegCodec, Quality};
use crate::data::images::load_rgb;
use crate::metrics::{colour::colour, psnr, ssim};
use crate::train::checkpoint::write_atomic;

/// The trial's summary in its folder.
pub const TRIAL_FILE: &str = "trial.json";

/// One side of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// `original`, `niclab`, `jpeg-same-bytes` or `jpeg-same-ssim`.
    pub name: String,
    /// The image a browser shows, in the trial's folder.
    pub file: String,
    /// The compressed file, in the trial's folder (the `.nic` or the JPEG).
    pub stored: Option<String>,
    /// JPEG's quality.
    pub quality: Option<u8>,
    /// Bytes of the compressed file (the original's file for `original`).
    pub bytes: u64,
    pub bpp: f64,
    /// Against the original (none for a decoded `.nic` file: there is no original).
    pub psnr: Option<f64>,
    pub ssim: Option<f64>,
    pub delta_e: Option<f64>,
    /// Encode + decode, seconds.
    pub seconds: Option<f64>,
}

/// What `niclab try` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// The input file.
    pub input: String,
    pub width: u32,
    pub height: u32,
    /// The model's checkpoint and the fingerprint its files carry.
    pub model: String,
    pub fingerprint: String,
    /// The original first (when there is one), then niclab, then JPEG at niclab's bytes and
    /// at niclab's SSIM.
    pub sides: Vec<Side>,
    /// Anything a reader should know (JPEG's smallest file larger than niclab's, ...).
    pub notes: Vec<String>,
}

/// Whether `path` is a `.nic` file (by its first bytes; only those are read).
pub fn is_nic(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path).is_ok_and(|mut f| f.read_exact(&mut magic).is_ok())
        && magic == super::nic::MAGIC
}

fn bpp(bytes: u64, w: u32, h: u32) -> f64 {
    bytes as f64 * 8.0 / (f64::from(w) * f64::from(h))
}

/// Compresses `input` with `s` and with JPEG into `out` (or decodes a `.nic` `input`), and
/// writes [`TRIAL_FILE`] there.
pub fn trial(s: &Session, input: &Path, out: &Path) -> Result<Trial> {
    let nic = out.join("niclab.nic");
    let png = out.join("niclab.png");
    let model = s.checkpoint.display().to_string();
    let fingerprint = s.coder.fingerprint_hex();
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);

    if is_nic(input) {
        let t = Instant::now();
        decompress(s, input, &png)?;
        let seconds = t.elapsed().as_secs_f64();
        let bytes =
            std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
        write_atomic(&nic, &bytes)?;
        let img = load_rgb(&png)?;
        let (w, h) = img.dimensions();
        let trial = Trial {
            input: input.display().to_string(),
            width: w,
            height: h,
            model,
            fingerprint,
            sides: vec![Side {
                name: "niclab".into(),
                file: "niclab.png".into(),
                stored: Some("niclab.nic".into()),
                quality: None,
                bytes: bytes.len() as u64,
                bpp: bpp(bytes.len() as u64, w, h),
                psnr: None,
                ssim: None,
                delta_e: None,
                seconds: Some(seconds),
            }],
            notes: vec!["a .nic file, decoded: no original to compare with".into()],
        };
        return save(trial, out);
    }

    // Read before anything is written: a file that is not an image leaves no folder.
    let original = load_rgb(input)?;
    let (w, h) = original.dimensions();
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let orig_png = out.join("original.png");
    original
        .save(&orig_png)
        .with_context(|| format!("cannot write {}", orig_png.display()))?;
    let t = Instant::now();
    compress(s, input, &nic)?;
    decompress(s, &nic, &png)?;
    let seconds = t.elapsed().as_secs_f64();
    let rec = load_rgb(&png)?;
    let nic_bytes = size(&nic);
    let ours = score(&original, &rec)?;

    let mut jpeg = JpegTrials::new(&original)?;
    let mut notes = Vec::new();
    // The largest quality whose file is no larger than niclab's.
    let q_bytes = match jpeg.search(|t| t.bytes <= nic_bytes as usize)? {
        Some(q) => q,
        None => {
            notes.push(format!(
                "JPEG's smallest file (quality 1, {} bytes) is larger than niclab's ({nic_bytes} bytes)",
                jpeg.at(1)?.bytes
            ));
            1
        }
    };
    // The smallest quality at least as good in SSIM as niclab (100 if none is).
    let q_ssim = match jpeg.search(|t| t.ssim < ours.0)? {
        Some(q) if q < 100 => q + 1,
        Some(_) => {
            notes.push("JPEG at quality 100 stays below niclab's SSIM".into());
            100
        }
        None => {
            notes.push("JPEG at quality 1 is already at least as good in SSIM".into());
            1
        }
    };

    let mut sides = vec![
        Side {
            name: "original".into(),
            file: "original.png".into(),
            stored: None,
            quality: None,
            bytes: size(input),
            bpp: bpp(size(input), w, h),
            psnr: None,
            ssim: None,
            delta_e: None,
            seconds: None,
        },
        Side {
            name: "niclab".into(),
            file: "niclab.png".into(),
            stored: Some("niclab.nic".into()),
            quality: None,
            bytes: nic_bytes,
            bpp: bpp(nic_bytes, w, h),
            psnr: Some(ours.1),
            ssim: Some(ours.0),
            delta_e: Some(ours.2),
            seconds: Some(seconds),
        },
    ];
    for (name, q) in [("jpeg-same-bytes", q_bytes), ("jpeg-same-ssim", q_ssim)] {
        let t = jpeg.at(q)?.clone();
        let file = format!("jpeg-q{q}.jpg");
        write_atomic(&out.join(&file), &t.file)?;
        let (ssim, psnr, delta_e) = score(&original, &t.decoded)?;
        sides.push(Side {
            name: name.into(),
            file: file.clone(),
            stored: Some(file),
            quality: Some(q),
            bytes: t.bytes as u64,
            bpp: bpp(t.bytes as u64, w, h),
            psnr: Some(psnr),
            ssim: Some(ssim),
            delta_e: Some(delta_e),
            seconds: Some(t.seconds),
        });
    }
    save(
        Trial {
            input: input.display().to_string(),
            width: w,
            height: h,
            model,
            fingerprint,
            sides,
            notes,
        },
        out,
    )
}

fn save(trial: Trial, out: &Path) -> Result<Trial> {
    write_atomic(
        &out.join(TRIAL_FILE),
        format!("{}\n", serde_json::to_string_pretty(&trial)?).as_bytes(),
    )?;
    Ok(trial)
}

/// (SSIM, PSNR, ΔE00) of `b` against `a`.
fn score(a: &RgbImage, b: &RgbImage) -> Result<(f64, f64, f64)> {
    Ok((ssim(a, b)?, psnr(a, b)?, colour(a, b)?.delta_e))
}

/// One JPEG setting tried.
#[derive(Clone)]
struct JpegTrial {
    file: Vec<u8>,
    decoded: RgbImage,
    bytes: usize,
    ssim: f64,
    seconds: f64,
}

/// JPEG of one image at the qualities a search asks for, each encoded once.
struct JpegTrials<'a> {
    original: &'a RgbImage,
    codec: JpegCodec,
    tried: BTreeMap<u8, JpegTrial>,
}

impl<'a> JpegTrials<'a> {
    fn new(original: &'a RgbImage) -> Result<Self> {
        Ok(Self {
            original,
            codec: JpegCodec::new()?,
            tried: BTreeMap::new(),
        })
    }

    fn at(&mut self, q: u8) -> Result<&JpegTrial> {
        if !self.tried.contains_key(&q) {
            let t = Instant::now();
            let file = self
                .codec
                .encode(self.original, Quality::new(u32::from(q))?)?;
            let decoded = self.codec.decode(&file)?;
            let seconds = t.elapsed().as_secs_f64();
            let ssim = ssim(self.original, &decoded)?;
            let bytes = file.len();
            self.tried.insert(
                q,
                JpegTrial {
                    file,
                    decoded,
                    bytes,
                    ssim,
                    seconds,
                },
            );
        }
        Ok(&self.tried[&q])
    }

    /// The largest quality in 1..=100 for which `ok` holds, by bisection (bytes and SSIM
    /// grow with the quality); `None` when it fails at quality 1.
    fn search(&mut self, ok: impl Fn(&JpegTrial) -> bool) -> Result<Option<u8>> {
        if !ok(self.at(1)?) {
            return Ok(None);
        }
        let (mut lo, mut hi) = (1u8, 100u8);
        if ok(self.at(hi)?) {
            return Ok(Some(hi));
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if ok(self.at(mid)?) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(Some(lo))
    }
}
