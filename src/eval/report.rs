//! The evaluation's files: reconstructions, latents and JPEG files, `per_image.csv`,
//! `summary.json`, `report.md` (the paper's panel), plots and side-by-side strips.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::parallel::{par_map, threads};
use super::plots::{self, Strip};
use super::{Evaluation, Scored, Timing, mean_colour, mean_of};
use crate::classic::Codec;
use crate::metrics::Colour;
use crate::train::checkpoint::write_atomic;

/// Per-image scores, one row per image and codec (`ae`, `jpeg`).
pub const CSV_FILE: &str = "per_image.csv";
/// Means, settings and timing as JSON.
pub const SUMMARY_FILE: &str = "summary.json";
/// The report for people.
pub const REPORT_FILE: &str = "report.md";
const CSV_HEADER: &str = "image,width,height,codec,quality,bytes,ratio,bpp,psnr,ssim,seconds,delta_e,psnr_y,psnr_cb,psnr_cr";

/// Means of one codec over the set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodecSummary {
    /// `autoencoder`, or the baseline: `jpeg`, `webp`, `avif`, `jxl`.
    pub codec: String,
    /// The baseline's setting as its tool spells it: a quality, or AVIF's quantizer.
    pub quality: Option<u8>,
    /// `match-ssim` or `fixed` for the baseline.
    pub chosen_by: Option<String>,
    /// Mean PSNR (dB).
    pub psnr: f64,
    /// Mean SSIM.
    pub ssim: f64,
    /// Mean CIEDE2000 and Y/Cb/Cr PSNRs (absent in evaluations made before niclab scored
    /// colour).
    #[serde(default)]
    pub colour: Option<Colour>,
    /// Mean of the per-image compression ratios (raw RGB bytes / compressed bytes).
    pub ratio: f64,
    /// Mean bits per pixel.
    pub bpp: f64,
    /// Compressed bytes of the whole set.
    pub bytes: usize,
    /// Mean encode + decode seconds per image, without file I/O.
    pub seconds_per_image: f64,
    /// Encode + decode seconds of the whole set.
    pub total_seconds: f64,
}

impl CodecSummary {
    /// `JPEG q75`, `AVIF qp24`: a classical codec's summary as a heading.
    pub fn titled(&self) -> String {
        let q = self.quality.unwrap_or(0);
        match self.codec.parse::<Codec>() {
            Ok(c) => match c.level_of_setting(u32::from(q)) {
                Ok(l) => c.titled(l),
                Err(_) => format!("{} {q}", c.title()),
            },
            Err(_) => self.codec.clone(),
        }
    }
}

/// An image shown as a strip, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StripInfo {
    /// The rule: best, median or worst autoencoder SSIM.
    pub rule: String,
    /// The image.
    pub image: String,
    /// The PNG, relative to the output folder.
    pub file: String,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// niclab version.
    pub niclab_version: String,
    /// Experiment name.
    pub experiment: String,
    /// Checkpoint evaluated.
    pub checkpoint: PathBuf,
    /// Its training step.
    pub step: u64,
    /// Conv pairs.
    pub pairs: usize,
    /// Image folder.
    pub images: PathBuf,
    /// Number of images.
    pub count: usize,
    /// Backend and device.
    pub backend: String,
    /// CPU model and threads.
    pub machine: String,
    /// How the autoencoder's bytes are stored.
    pub storage: crate::config::Storage,
    /// The same, in words.
    pub storage_note: String,
    /// Autoencoder means.
    pub autoencoder: CodecSummary,
    /// JPEG means per quality, the matched (or first) one first.
    pub jpeg: Vec<CodecSummary>,
    /// Mean SSIM at each quality match-ssim tried.
    pub match_ssim_tried: Vec<(u8, f64)>,
    /// Where time went.
    pub timing: Timing,
    /// The strips drawn.
    pub strips: Vec<StripInfo>,
}

/// Compression ratio: raw RGB bytes over compressed bytes.
pub fn ratio(raw: usize, bytes: usize) -> f64 {
    raw as f64 / bytes.max(1) as f64
}

fn codec_summary(
    e: &Evaluation,
    scores: &[Scored],
    codec: &str,
    quality: Option<(u8, bool)>,
) -> CodecSummary {
    let n = scores.len().max(1) as f64;
    let ratios: f64 = (0..scores.len())
        .map(|i| ratio(e.raw_bytes(i), scores[i].bytes))
        .sum();
    let bpps: f64 = (0..scores.len())
        .map(|i| scores[i].bytes as f64 * 8.0 / e.pixels(i) as f64)
        .sum();
    let total: f64 = scores.iter().map(|s| s.seconds).sum();
    CodecSummary {
        codec: codec.into(),
        quality: quality.map(|(q, _)| q),
        chosen_by: quality.map(|(_, m)| if m { "match-ssim" } else { "fixed" }.into()),
        psnr: mean_of(scores, |s| s.psnr),
        ssim: mean_of(scores, |s| s.ssim),
        colour: mean_colour(scores),
        ratio: ratios / n,
        bpp: bpps / n,
        bytes: scores.iter().map(|s| s.bytes).sum(),
        seconds_per_image: total / n,
        total_seconds: total,
    }
}

/// Indices of the best, median and worst autoencoder SSIM (ties by name order).
pub fn strip_picks(e: &Evaluation) -> Vec<(&'static str, usize)> {
    let mut order: Vec<usize> = (0..e.ae.len()).collect();
    order.sort_by(|&a, &b| e.ae[b].ssim.total_cmp(&e.ae[a].ssim).then(a.cmp(&b)));
    match order.len() {
        0 => vec![],
        n => vec![
            ("best", order[0]),
            ("median", order[n / 2]),
            ("worst", order[n - 1]),
        ],
    }
}

fn strip_file(rule: &str) -> String {
    format!("strips/{rule}.png")
}

/// The summary of `e`.
pub fn summary(e: &Evaluation) -> Summary {
    let exp = e.source.experiment();
    Summary {
        niclab_version: env!("CARGO_PKG_VERSION").into(),
        experiment: exp.name().into(),
        checkpoint: e.source.path.clone(),
        step: e.source.checkpoint.meta.step,
        pairs: exp.model.pairs,
        images: e.images_dir.clone(),
        count: e.names.len(),
        backend: e.backend.clone(),
        machine: machine(),
        storage: e.storage,
        storage_note: super::autoencoder::describe(e.storage).into(),
        autoencoder: codec_summary(e, &e.ae, "autoencoder", None),
        jpeg: e
            .jpeg
            .iter()
            .map(|j| {
                codec_summary(
                    e,
                    &j.pass.scores,
                    j.pass.codec.name(),
                    Some((j.pass.codec.setting_number(j.pass.level), j.matched)),
                )
            })
            .collect(),
        match_ssim_tried: e
            .search
            .iter()
            .map(|(l, s)| (e.baseline.setting_number(*l), *s))
            .collect(),
        timing: e.timing,
        strips: strip_picks(e)
            .into_iter()
            .map(|(rule, i)| StripInfo {
                rule: rule.into(),
                image: e.names[i].clone(),
                file: strip_file(rule),
            })
            .collect(),
    }
}

/// CPU model name and thread count, from /proc/cpuinfo where there is one.
pub fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.into());
    format!("{cpu}, {} threads", threads())
}

/// `per_image.csv`.
pub fn csv(e: &Evaluation) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    for i in 0..e.names.len() {
        let (w, h) = e.originals[i].dimensions();
        let mut row = |codec: &str, q: String, s: &Scored| {
            let colour = s.colour.map_or(",,,".to_string(), |c| {
                format!(
                    "{:.6},{:.6},{:.6},{:.6}",
                    c.delta_e, c.psnr_y, c.psnr_cb, c.psnr_cr
                )
            });
            let _ = writeln!(
                out,
                "{},{w},{h},{codec},{q},{},{:.6},{:.6},{:.6},{:.8},{:.6},{colour}",
                csv_field(&e.names[i]),
                s.bytes,
                ratio(e.raw_bytes(i), s.bytes),
                s.bytes as f64 * 8.0 / e.pixels(i) as f64,
                s.psnr,
                s.ssim,
                s.seconds
            );
        };
        row("ae", String::new(), &e.ae[i]);
        for j in &e.jpeg {
            let n = j.pass.codec.setting_number(j.pass.level);
            row(j.pass.codec.name(), n.to_string(), &j.pass.scores[i]);
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `report.md`: the paper's panel, AE against JPEG, then how it was measured.
pub fn markdown(s: &Summary) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Evaluation of `{}`\n", s.experiment);
    let _ = writeln!(
        m,
        "{} images from `{}`; checkpoint `{}` (step {}, {} conv pairs); {}; {}.\n",
        s.count,
        s.images.display(),
        s.checkpoint.display(),
        s.step,
        s.pairs,
        s.backend,
        s.machine
    );
    let mut cols = vec!["Autoencoder".to_string()];
    for j in &s.jpeg {
        let how = match j.chosen_by.as_deref() {
            Some("match-ssim") => " (SSIM-matched)",
            _ => "",
        };
        cols.push(format!("{}{how}", j.titled()));
    }
    let _ = writeln!(m, "| | {} |", cols.join(" | "));
    let _ = writeln!(m, "|---|{}", "---|".repeat(cols.len()));
    let all: Vec<&CodecSummary> = std::iter::once(&s.autoencoder).chain(&s.jpeg).collect();
    let row = |m: &mut String, name: &str, f: &dyn Fn(&CodecSummary) -> String| {
        let cells: Vec<String> = all.iter().map(|c| f(c)).collect();
        let _ = writeln!(m, "| {name} | {} |", cells.join(" | "));
    };
    row(&mut m, "mean PSNR (dB)", &|c| format!("{:.2}", c.psnr));
    row(&mut m, "mean SSIM", &|c| format!("{:.4}", c.ssim));
    row(&mut m, "mean ΔE00 (CIEDE2000)", &|c| {
        c.colour.map_or("-".into(), |c| format!("{:.2}", c.delta_e))
    });
    row(&mut m, "mean PSNR Y / Cb / Cr (dB)", &|c| {
        c.colour.map_or("-".into(), |c| {
            format!("{:.2} / {:.2} / {:.2}", c.psnr_y, c.psnr_cb, c.psnr_cr)
        })
    });
    row(&mut m, "mean compression ratio", &|c| {
        format!("{:.2}", c.ratio)
    });
    row(&mut m, "mean bits per pixel", &|c| format!("{:.3}", c.bpp));
    row(&mut m, "mean time per image (s)", &|c| {
        format!("{:.5}", c.seconds_per_image)
    });
    row(&mut m, "total time (s)", &|c| {
        format!("{:.2}", c.total_seconds)
    });
    let _ = writeln!(m);
    let base = s
        .jpeg
        .first()
        .and_then(|j| j.codec.parse::<Codec>().ok())
        .unwrap_or(Codec::Jpeg);
    let _ = writeln!(
        m,
        "- Autoencoder bytes: {}. Compression ratio = raw RGB bytes (H x W x 3) / compressed \
         bytes, averaged over images.",
        s.storage_note
    );
    let _ = writeln!(
        m,
        "- Colour: ΔE00 is the CIEDE2000 difference per pixel (as scikit-image's \
         `deltaE_ciede2000` on `rgb2lab`), averaged over pixels and images; about 1 is just \
         visible side by side, above about 5 reads as another colour. Y, Cb, Cr are JPEG's \
         full-range planes (JFIF); their PSNRs are capped at 100 dB (a grey image's chroma is exact)."
    );
    let _ = writeln!(
        m,
        "- Times are encode + decode only: no file reading or writing, no metrics. The \
         autoencoder's is its batch time divided by the batch size; {}'s is per image on \
         one thread ({}, its tool's default settings{}).",
        base.title(),
        base.label(),
        if base == Codec::Jpeg {
            ": 4:2:0, baseline, Pillow's"
        } else {
            ""
        }
    );
    if !s.match_ssim_tried.is_empty() {
        let tried: Vec<String> = s
            .match_ssim_tried
            .iter()
            .map(|(q, v)| {
                let setting = base
                    .level_of_setting(u32::from(*q))
                    .map_or(q.to_string(), |l| base.setting(l));
                format!("{setting}: {v:.4}")
            })
            .collect();
        let _ = writeln!(
            m,
            "- {} has the mean SSIM closest to the autoencoder's {:.4} (a bisection over the \
             codec's settings on every {}th image estimates it, whole-set passes confirm the two \
             neighbouring settings that straddle the target; mean SSIM over the set at each \
             setting encoded: {}).",
            s.jpeg.first().map_or(String::new(), |j| j.titled()),
            s.autoencoder.ssim,
            super::baseline::SAMPLE_EVERY,
            tried.join(", ")
        );
    }
    let t = &s.timing;
    let _ = writeln!(
        m,
        "- Wall time {:.2} s: reading images {:.2} s, model {:.2} s, autoencoder {:.2} s, its \
         metrics {:.2} s, {} {:.2} s ({} whole-set passes; codec {:.2} s and metrics {:.2} s \
         summed over threads), colour of both {:.2} s, writing outputs {:.2} s.\n",
        t.total,
        t.load,
        t.model,
        t.ae,
        t.ae_metrics,
        base.title(),
        t.jpeg,
        t.jpeg_passes,
        t.jpeg_codec,
        t.jpeg_metrics,
        t.colour,
        t.write
    );
    let _ = writeln!(m, "## Per image\n");
    for (file, what) in [
        (plots::SSIM_PLOT, "SSIM"),
        (plots::PSNR_PLOT, "PSNR"),
        (plots::RATIO_PLOT, "Compression ratio"),
    ] {
        let _ = writeln!(m, "![{what} per image]({file})\n");
    }
    let _ = writeln!(
        m,
        "## Side by side\n\nOriginal | autoencoder | {}, enlarged {}x, for the images with \
         the best, median and worst autoencoder SSIM.\n",
        base.title(),
        plots::STRIP_ZOOM
    );
    for st in &s.strips {
        let _ = writeln!(
            m,
            "**{}**: `{}`\n\n![{}]({})\n",
            st.rule, st.image, st.rule, st.file
        );
    }
    let _ = writeln!(
        m,
        "Files: `{CSV_FILE}` (per image), `{SUMMARY_FILE}`, `ae/` (reconstructions and \
         the stored files: `.nic`, or `.latent` for raw float32), `{}-q*/` ({} files), \
         `plots/`, `strips/`.",
        base.name(),
        base.title()
    );
    m
}

/// The side-by-side strips of `e`'s picked images, rendered: (rule, image).
pub fn rendered_strips(e: &Evaluation) -> Result<Vec<(String, RgbImage)>> {
    strips(e)
        .into_iter()
        .map(|(rule, strip)| Ok((rule, plots::render_strip(&strip)?)))
        .collect()
}

/// The side-by-side strips of `e`'s picked images.
pub fn strips(e: &Evaluation) -> Vec<(String, Strip)> {
    let Some(jpeg) = e.jpeg.first() else {
        return vec![];
    };
    strip_picks(e)
        .into_iter()
        .map(|(rule, i)| {
            let ae = &e.ae[i];
            let jp = &jpeg.pass.scores[i];
            let decoded = crate::classic::Encoder::new(jpeg.pass.codec)
                .and_then(|mut c| c.decode(&jpeg.pass.files[i]))
                .unwrap_or_else(|_| e.originals[i].clone());
            let label = |what: String, s: &Scored| {
                format!(
                    "{what}: {:.2} dB, SSIM {:.4}, {:.2}:1",
                    s.psnr,
                    s.ssim,
                    ratio(e.raw_bytes(i), s.bytes)
                )
            };
            (
                rule.to_string(),
                Strip {
                    title: format!("{rule} autoencoder SSIM: {}", e.names[i]),
                    panels: vec![
                        ("original".into(), e.originals[i].clone()),
                        (label("autoencoder".into(), ae), e.recon[i].image.clone()),
                        (label(jpeg.pass.codec.titled(jpeg.pass.level), jp), decoded),
                    ],
                },
            )
        })
        .collect()
}

/// Replaces the output folders this evaluation owns (`ae/`, `jpeg-q*/`, `plots/`,
/// `strips/`) and writes everything but the summaries (they hold the time this takes).
pub fn write_outputs(
    e: &Evaluation,
    out: &Path,
    write_images: bool,
    strips: &[(String, RgbImage)],
) -> Result<()> {
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for entry in fs::read_dir(out).with_context(|| format!("cannot list {}", out.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.file_type()?.is_dir()
            && (["ae", "plots", "strips"].contains(&name.as_str())
                || Codec::ALL
                    .iter()
                    .any(|c| name.starts_with(&format!("{}-q", c.name()))))
        {
            fs::remove_dir_all(entry.path())
                .with_context(|| format!("cannot remove the old {}", entry.path().display()))?;
        }
    }
    if write_images {
        let items: Vec<usize> = (0..e.names.len()).collect();
        par_map(
            &items,
            || Ok(()),
            |_, _, &i| {
                let stem = Path::new(&e.names[i]).with_extension("");
                let ae = out.join("ae").join(&stem);
                create_parent(&ae)?;
                let png = ae.with_extension("png");
                e.recon[i]
                    .image
                    .save(&png)
                    .with_context(|| format!("cannot write {}", png.display()))?;
                // The file as stored: a real `.nic` file, or the raw float32 latent.
                let latent = ae.with_extension(match e.storage {
                    crate::config::Storage::Nic => "nic",
                    crate::config::Storage::F32 => "latent",
                });
                fs::write(&latent, &e.recon[i].stored)
                    .with_context(|| format!("cannot write {}", latent.display()))?;
                for j in &e.jpeg {
                    let f = out
                        .join(format!("{}-{}", j.pass.codec.name(), j.pass.setting()))
                        .join(&stem)
                        .with_extension(j.pass.codec.extension());
                    create_parent(&f)?;
                    fs::write(&f, &j.pass.files[i])
                        .with_context(|| format!("cannot write {}", f.display()))?;
                }
                Ok(())
            },
        )?;
    }
    write_atomic(&out.join(CSV_FILE), csv(e).as_bytes())?;
    plots::per_image_plots(e, &out.join("plots"))?;
    for (rule, img) in strips {
        plots::save_png(img, &out.join(strip_file(rule)))?;
    }
    Ok(())
}

/// `summary.json` and `report.md`.
pub fn write_summaries(e: &Evaluation, out: &Path) -> Result<()> {
    let s = summary(e);
    write_atomic(
        &out.join(SUMMARY_FILE),
        format!("{}\n", serde_json::to_string_pretty(&s)?).as_bytes(),
    )?;
    write_atomic(&out.join(REPORT_FILE), markdown(&s).as_bytes())
}

fn create_parent(path: &Path) -> Result<()> {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))?;
    }
    Ok(())
}
