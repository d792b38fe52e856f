//! `niclab rd`: rate–distortion curves of trained codecs against a sweep of JPEG qualities on
//! one image set, with the Bjøntegaard delta rate ([`bjontegaard`]).
//!
//! Every model is one point (its `.nic` files' mean bits per pixel, PSNR and SSIM); models
//! trained at different `λ` make the niclab curve. JPEG is libjpeg-turbo, as in `niclab eval`.

pub mod bjontegaard;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::board::{Board, event_files};
use crate::codec::files::Session;
use crate::codec::nic::{CHECKSUM_LEN, HEADER_LEN};
use crate::config::{Backend, DeviceSpec};
use crate::eval::autoencoder::reconstruct;
use crate::eval::baseline::{add_colour, jpeg_pass};
use crate::eval::jpeg::{Quality, entropy_coded_len};
use crate::eval::parallel::par_map;
use crate::eval::plots::{AE_COLOUR, JPEG_COLOUR, Series, xy_plot};
use crate::eval::{bar, load_images};
use crate::metrics::{Colour, colour, psnr, ssim};
use crate::train::checkpoint::write_atomic;
use bjontegaard::{bd_rate, quality_at, rate_at};

/// What to sweep and where the results go.
#[derive(Debug, Clone)]
pub struct RdOptions {
    /// Folder of images.
    pub images: PathBuf,
    /// JPEG qualities of the anchor curve.
    pub jpeg: Vec<Quality>,
    /// Output folder (CSV, JSON, report, plots, TensorBoard events).
    pub out: PathBuf,
    /// Folder of run folders, to resolve model names.
    pub checkpoints: PathBuf,
    /// Backend for the models; `None`: each one's own.
    pub backend: Option<Backend>,
    /// Device for the models; `None`: each one's own.
    pub device: Option<DeviceSpec>,
    /// Images per batch; `None`: each model's `eval.batch_size`.
    pub batch_size: Option<usize>,
}

/// One point of a curve: means over the image set.
#[derive(Debug, Clone, Serialize)]
pub struct RdPoint {
    /// `jpeg` or `niclab`.
    pub codec: String,
    /// The JPEG quality (`q50`) or the model's run name.
    pub setting: String,
    /// `λ` of the model's rate term (none for JPEG).
    pub lambda: Option<f64>,
    /// Its means over the set; `payload_bpp` leaves out JPEG's headers (tables, about 620
    /// bytes) and the `.nic` framing (42 bytes).
    #[serde(flatten)]
    pub scores: ModelScores,
    /// Bits per pixel JPEG needs for this point's SSIM (interpolated on the JPEG curve).
    pub jpeg_bpp_at_ssim: Option<f64>,
    /// The same for the coded data alone (JPEG's curve of payload bits).
    pub jpeg_payload_bpp_at_ssim: Option<f64>,
    /// JPEG's mean ΔE00 at this point's bits per pixel (whole files, interpolated).
    pub jpeg_delta_e_at_bpp: Option<f64>,
}

/// The sweep's result.
#[derive(Debug, Clone, Serialize)]
pub struct RdResult {
    /// The image folder.
    pub images: PathBuf,
    /// Images in it.
    pub count: usize,
    /// JPEG points, by quality.
    pub jpeg: Vec<RdPoint>,
    /// Model points, by bits per pixel.
    pub models: Vec<RdPoint>,
    /// BD-rate of niclab vs JPEG at equal PSNR, percent (negative: fewer bits).
    pub bd_rate_psnr: Option<f64>,
    /// BD-rate of niclab vs JPEG at equal SSIM, percent.
    pub bd_rate_ssim: Option<f64>,
    /// The same on the coded data alone (JPEG without its headers, `.nic` without framing).
    pub bd_rate_ssim_payload: Option<f64>,
    /// Models left out of a BD-rate curve, and why a BD-rate is missing, if one is.
    pub bd_note: Option<String>,
}

/// Bytes of `.nic` framing around the payload.
const FRAMING: usize = HEADER_LEN + CHECKSUM_LEN;

fn bpp(bytes: usize, img: &RgbImage) -> f64 {
    bytes as f64 * 8.0 / (img.width() as f64 * img.height() as f64)
}

/// Scores every model in `models` (checkpoints, run folders, experiment files or run names)
/// and every JPEG quality on `opts.images`.
pub fn sweep(models: &[PathBuf], opts: &RdOptions) -> Result<RdResult> {
    if models.is_empty() {
        bail!("give at least one trained model");
    }
    if opts.jpeg.len() < 2 {
        bail!("give at least 2 JPEG qualities for the anchor curve");
    }
    let (_, originals) = load_images(&opts.images)?;
    let refs: Vec<&RgbImage> = originals.iter().collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;

    let jb = bar(opts.jpeg.len() * refs.len(), "JPEG");
    let mut jpeg = Vec::new();
    for &q in &opts.jpeg {
        let mut pass = jpeg_pass(&refs, q, &jb)?;
        add_colour(&mut pass, &refs)?;
        let bpps: Vec<f64> = pass
            .scores
            .iter()
            .zip(&originals)
            .map(|(s, o)| bpp(s.bytes, o))
            .collect();
        let payload: Vec<f64> = pass
            .files
            .iter()
            .zip(&originals)
            .map(|(f, o)| bpp(entropy_coded_len(f).unwrap_or(f.len()), o))
            .collect();
        jpeg.push(RdPoint {
            codec: "jpeg".into(),
            setting: format!("q{q}"),
            lambda: None,
            scores: ModelScores {
                bpp: mean(&bpps),
                payload_bpp: mean(&payload),
                psnr: mean(&pass.scores.iter().map(|s| s.psnr).collect::<Vec<_>>()),
                ssim: mean(&pass.scores.iter().map(|s| s.ssim).collect::<Vec<_>>()),
                colour: Colour::mean(pass.scores.iter().filter_map(|s| s.colour.as_ref())),
                bytes: pass.scores.iter().map(|s| s.bytes).sum(),
            },
            jpeg_bpp_at_ssim: None,
            jpeg_payload_bpp_at_ssim: None,
            jpeg_delta_e_at_bpp: None,
        });
    }
    jb.finish_and_clear();
    let jpeg_ssim: Vec<(f64, f64)> = jpeg.iter().map(|p| (p.scores.bpp, p.scores.ssim)).collect();
    let jpeg_payload_ssim: Vec<(f64, f64)> = jpeg
        .iter()
        .map(|p| (p.scores.payload_bpp, p.scores.ssim))
        .collect();
    let jpeg_delta_e: Vec<(f64, f64)> = jpeg
        .iter()
        .map(|p| (p.scores.bpp, p.scores.colour.delta_e))
        .collect();

    let mut points = Vec::new();
    for target in models {
        let mut s = Session::open(target, &opts.checkpoints, opts.backend, opts.device)
            .with_context(|| format!("model {}", target.display()))?;
        if let Some(b) = opts.batch_size {
            s.batch_size = b.max(1);
        }
        let ck = crate::train::checkpoint::Checkpoint::load(&s.checkpoint)?;
        let exp = &ck.meta.experiment;
        let m = score_model(&s, exp.name(), &originals)?;
        let point = RdPoint {
            codec: "niclab".into(),
            setting: exp.name().to_string(),
            lambda: (exp.loss.rate > 0.0).then_some(exp.loss.rate),
            scores: m,
            jpeg_bpp_at_ssim: rate_at(&jpeg_ssim, m.ssim),
            jpeg_payload_bpp_at_ssim: rate_at(&jpeg_payload_ssim, m.ssim),
            jpeg_delta_e_at_bpp: quality_at(&jpeg_delta_e, m.bpp),
        };
        eprintln!(
            "{}: {:.4} bpp, PSNR {:.2} dB, SSIM {:.4}, dE00 {:.2}",
            exp.name(),
            point.scores.bpp,
            point.scores.psnr,
            point.scores.ssim,
            point.scores.colour.delta_e
        );
        points.push(point);
    }
    points.sort_by(|a, b| a.scores.bpp.total_cmp(&b.scores.bpp));

    type Metric = fn(&RdPoint) -> f64;
    let (psnr_of, ssim_of): (Metric, Metric) = (|p| p.scores.psnr, |p| p.scores.ssim);
    let (files, payload): (Metric, Metric) = (|p| p.scores.bpp, |p| p.scores.payload_bpp);
    let mut notes = Vec::new();
    let mut bd = |rate: Metric, quality: Metric, what: &str| -> Option<f64> {
        let anchor: Vec<(f64, f64)> = jpeg.iter().map(|p| (rate(p), quality(p))).collect();
        let (front, dropped) = pareto_front(&points, rate, quality);
        if !dropped.is_empty() {
            notes.push(format!(
                "{what}: left out of niclab's curve as beaten on both rate and quality by \
                 another model: {}",
                dropped.join(", ")
            ));
        }
        match bd_rate(&anchor, &front) {
            Ok(v) => Some(v),
            Err(e) => {
                notes.push(format!("{what}: BD-rate not computed: {e}"));
                None
            }
        }
    };
    let bd_psnr = bd(files, psnr_of, "PSNR");
    let bd_ssim = bd(files, ssim_of, "SSIM");
    let bd_ssim_payload = bd(payload, ssim_of, "SSIM on payloads");
    let bd_note = (!notes.is_empty()).then(|| notes.join("; "));
    Ok(RdResult {
        images: opts.images.clone(),
        count: refs.len(),
        jpeg,
        models: points,
        bd_rate_psnr: bd_psnr,
        bd_rate_ssim: bd_ssim,
        bd_rate_ssim_payload: bd_ssim_payload,
        bd_note,
    })
}

/// A codec's means over an image set, its real files counted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelScores {
    /// Mean bits per pixel of the whole files (bytes · 8 / pixels, per image).
    pub bpp: f64,
    /// The same for the coded data alone, without headers and framing.
    pub payload_bpp: f64,
    /// Mean PSNR, dB.
    pub psnr: f64,
    /// Mean SSIM.
    pub ssim: f64,
    /// Mean ΔE00 and Y/Cb/Cr PSNRs.
    #[serde(flatten)]
    pub colour: Colour,
    /// Bytes of all the files.
    pub bytes: usize,
}

/// Compresses and decompresses `originals` with the session's model (a progress bar named
/// `name`) and scores the results.
pub fn score_model(s: &Session, name: &str, originals: &[RgbImage]) -> Result<ModelScores> {
    let refs: Vec<&RgbImage> = originals.iter().collect();
    let ab = bar(refs.len(), name);
    let recon = reconstruct(
        &s.model,
        Some(&s.coder),
        &refs,
        s.batch_size,
        s.coder.scale,
        &s.device,
        &ab,
    )?;
    ab.finish_and_clear();
    let items: Vec<usize> = (0..refs.len()).collect();
    let per_image = par_map(
        &items,
        || Ok(()),
        |_, _, &i| {
            let (r, o) = (&recon[i], &originals[i]);
            Ok(ModelScores {
                bpp: bpp(r.stored.len(), o),
                payload_bpp: bpp(r.stored.len().saturating_sub(FRAMING), o),
                psnr: psnr(o, &r.image)?,
                ssim: ssim(o, &r.image)?,
                colour: colour::colour(o, &r.image)?,
                bytes: r.stored.len(),
            })
        },
    )?;
    let mean = |f: fn(&ModelScores) -> f64| {
        per_image.iter().map(f).sum::<f64>() / per_image.len().max(1) as f64
    };
    Ok(ModelScores {
        bpp: mean(|s| s.bpp),
        payload_bpp: mean(|s| s.payload_bpp),
        psnr: mean(|s| s.psnr),
        ssim: mean(|s| s.ssim),
        colour: Colour::mean(per_image.iter().map(|s| &s.colour)),
        bytes: per_image.iter().map(|s| s.bytes).sum(),
    })
}

/// The models' points that no other model beats on both rate and quality (a BD-rate needs
/// a curve on which more bits buy more quality), as (rate, quality); and the names of
/// those left out.
fn pareto_front(
    points: &[RdPoint],
    rate: fn(&RdPoint) -> f64,
    quality: fn(&RdPoint) -> f64,
) -> (Vec<(f64, f64)>, Vec<String>) {
    let mut front = Vec::new();
    let mut dropped = Vec::new();
    for p in points {
        let beaten = points.iter().any(|o| {
            !std::ptr::eq(o, p)
                && rate(o) <= rate(p)
                && quality(o) >= quality(p)
                && (rate(o) < rate(p) || quality(o) > quality(p))
        });
        if beaten {
            dropped.push(p.setting.clone());
        } else {
            front.push((rate(p), quality(p)));
        }
    }
    (front, dropped)
}

/// CSV file of every point.
pub const CSV_FILE: &str = "rd.csv";

/// Writes `rd.csv`, `rd.json`, `report.md`, `plots/rd-psnr.png`, `plots/rd-ssim.png`, `plots/rd-delta-e.png` and
/// the curves as TensorBoard scalars (step = bits per pixel × 1000) into `out`.
pub fn write(r: &RdResult, out: &Path) -> Result<()> {
    fs::create_dir_all(out.join("plots"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    let mut csv = String::from(
        "codec,setting,lambda,bpp,payload_bpp,psnr,ssim,bytes,jpeg_bpp_at_ssim,\
         jpeg_payload_bpp_at_ssim,delta_e,psnr_y,psnr_cb,psnr_cr,jpeg_delta_e_at_bpp\n",
    );
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for p in r.jpeg.iter().chain(&r.models) {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            p.codec,
            p.setting,
            opt(p.lambda),
            p.scores.bpp,
            p.scores.payload_bpp,
            p.scores.psnr,
            p.scores.ssim,
            p.scores.bytes,
            opt(p.jpeg_bpp_at_ssim),
            opt(p.jpeg_payload_bpp_at_ssim),
            p.scores.colour.delta_e,
            p.scores.colour.psnr_y,
            p.scores.colour.psnr_cb,
            p.scores.colour.psnr_cr,
            opt(p.jpeg_delta_e_at_bpp)
        );
    }
    write_atomic(&out.join(CSV_FILE), csv.as_bytes())?;
    let json = serde_json::to_string_pretty(r).context("cannot serialise the result")?;
    write_atomic(&out.join("rd.json"), json.as_bytes())?;
    write_atomic(&out.join("report.md"), report(r).as_bytes())?;

    let series = |f: fn(&RdPoint) -> f64| {
        vec![
            Series {
                name: "JPEG (libjpeg-turbo)".into(),
                colour: JPEG_COLOUR,
                points: r.jpeg.iter().map(|p| (p.scores.bpp, f(p))).collect(),
                dots: true,
            },
            Series {
                name: "niclab".into(),
                colour: AE_COLOUR,
                points: r.models.iter().map(|p| (p.scores.bpp, f(p))).collect(),
                dots: true,
            },
        ]
    };
    type Plot = (
        &'static str,
        &'static str,
        &'static str,
        fn(&RdPoint) -> f64,
    );
    let plots: [Plot; 3] = [
        ("rd-psnr", "Rate-distortion: PSNR", "PSNR (dB)", |p| {
            p.scores.psnr
        }),
        ("rd-ssim", "Rate-distortion: SSIM", "SSIM", |p| {
            p.scores.ssim
        }),
        (
            "rd-delta-e",
            "Colour error: CIEDE2000 (lower is better)",
            "mean ΔE00",
            |p| p.scores.colour.delta_e,
        ),
    ];
    for (file, title, label, f) in plots {
        xy_plot(
            &out.join(format!("plots/{file}.png")),
            title,
            ("bits per pixel", label),
            &series(f),
        )?;
    }

    let old = event_files(out)?;
    let mut board = Board::open(out, None)?;
    for f in old {
        fs::remove_file(&f).with_context(|| format!("cannot remove {}", f.display()))?;
    }
    for p in r.jpeg.iter().chain(&r.models) {
        let step = (p.scores.bpp * 1000.0).round() as u64;
        board.scalar(&format!("rd/psnr_{}", p.codec), p.scores.psnr, step);
        board.scalar(&format!("rd/ssim_{}", p.codec), p.scores.ssim, step);
        board.scalar(
            &format!("rd/delta_e_{}", p.codec),
            p.scores.colour.delta_e,
            step,
        );
    }
    board.flush();
    Ok(())
}

/// A point's bpp, payload bpp, PSNR, SSIM, ΔE00 and Y / Cb / Cr cells of the report.
fn cells(s: &ModelScores) -> String {
    let c = &s.colour;
    format!(
        "{:.4} | {:.4} | {:.2} | {:.4} | {:.2} | {:.2} / {:.2} / {:.2}",
        s.bpp, s.payload_bpp, s.psnr, s.ssim, c.delta_e, c.psnr_y, c.psnr_cb, c.psnr_cr
    )
}

/// The Markdown report: both curves' points, the BD-rates, JPEG's bits at each model's SSIM.
pub fn report(r: &RdResult) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        "# Rate-distortion: niclab vs JPEG\n\n{} images from `{}`. Bits per pixel are file \
         bytes x 8 / pixels, averaged over images: whole `.nic` files (header and checksum \
         included) and whole JPEG files (libjpeg-turbo, 4:2:0).\n",
        r.count,
        r.images.display()
    );
    let _ = writeln!(
        m,
        "| codec | setting | bpp | payload bpp | PSNR (dB) | SSIM | ΔE00 | PSNR Y / Cb / Cr \
         | JPEG bpp at this SSIM (files / payload) | JPEG / niclab bits (files / payload) \
         | JPEG ΔE00 at this bpp |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for p in &r.models {
        let pair = |a: Option<f64>, b: Option<f64>, f: &dyn Fn(f64, f64) -> String| match (a, b) {
            (Some(a), Some(b)) => f(a, b),
            _ => "out of JPEG's range".to_string(),
        };
        let at = pair(p.jpeg_bpp_at_ssim, p.jpeg_payload_bpp_at_ssim, &|a, b| {
            format!("{a:.4} / {b:.4}")
        });
        let ratio = pair(p.jpeg_bpp_at_ssim, p.jpeg_payload_bpp_at_ssim, &|a, b| {
            format!(
                "{:.2}x / {:.2}x",
                a / p.scores.bpp,
                b / p.scores.payload_bpp
            )
        });
        let de_jpeg = p
            .jpeg_delta_e_at_bpp
            .map_or("out of JPEG's range".into(), |v| format!("{v:.2}"));
        let setting = format!(
            "{}{}",
            p.setting,
            p.lambda.map(|l| format!(" (λ = {l})")).unwrap_or_default()
        );
        let _ = writeln!(
            m,
            "| niclab | {setting} | {} | {at} | {ratio} | {de_jpeg} |",
            cells(&p.scores)
        );
    }
    for p in &r.jpeg {
        let _ = writeln!(m, "| JPEG | {} | {} | | | |", p.setting, cells(&p.scores));
    }
    let _ = writeln!(
        m,
        "\nΔE00: mean CIEDE2000 colour difference (scikit-image's `deltaE_ciede2000` on \
         `rgb2lab`; about 1 is just visible, above about 5 reads as another colour). \
         Y / Cb / Cr: PSNR of JPEG's full-range planes (JFIF), each capped at 100 dB. \"JPEG ΔE00 at this bpp\" \
         interpolates JPEG's ΔE00 curve (over log-rate) at the model's whole-file bits."
    );
    let _ = writeln!(
        m,
        "\nPayload: the coded data alone, without JPEG's headers (quantisation and Huffman \
         tables, about 620 bytes a file) or the 42 bytes of `.nic` framing; on small images \
         the headers are a large part of a JPEG file."
    );
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:+.1} %"));
    let _ = writeln!(
        m,
        "\nBD-rate of niclab vs JPEG (Bjøntegaard, PCHIP interpolation of log-rate over the \
         quality range both cover; negative = fewer bits for the same quality), whole files: \
         PSNR {}, SSIM {}; payloads only: SSIM {}.",
        pct(r.bd_rate_psnr),
        pct(r.bd_rate_ssim),
        pct(r.bd_rate_ssim_payload)
    );
    if let Some(note) = &r.bd_note {
        let _ = writeln!(m, "\n{note}.");
    }
    let _ = writeln!(
        m,
        "\n![PSNR](plots/rd-psnr.png)\n\n![SSIM](plots/rd-ssim.png)\n\n\
         ![ΔE00](plots/rd-delta-e.png)"
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(setting: &str, bpp: f64, ssim: f64) -> RdPoint {
        RdPoint {
            codec: "niclab".into(),
            setting: setting.into(),
            lambda: None,
            scores: ModelScores {
                bpp,
                payload_bpp: bpp,
                psnr: 0.0,
                ssim,
                colour: Colour::mean([]),
                bytes: 0,
            },
            jpeg_bpp_at_ssim: None,
            jpeg_payload_bpp_at_ssim: None,
            jpeg_delta_e_at_bpp: None,
        }
    }

    #[test]
    fn the_front_drops_models_beaten_on_rate_and_quality() {
        let pts = [
            point("a", 0.1, 0.70),
            point("b", 0.25, 0.79),
            point("c", 0.43, 0.77),
            point("d", 0.76, 0.83),
        ];
        let (front, dropped) = pareto_front(&pts, |p| p.scores.bpp, |p| p.scores.ssim);
        assert_eq!(front, vec![(0.1, 0.70), (0.25, 0.79), (0.76, 0.83)]);
        assert_eq!(dropped, vec!["c".to_string()]);
    }
}
