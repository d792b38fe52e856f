//! `niclab rd`: rate–distortion curves of trained codecs against sweeps of the classical
//! codecs ([`crate::classic`]: JPEG, WebP, AVIF, JPEG XL) on one image set, with the
//! Bjøntegaard delta rate ([`bjontegaard`]) against each.
//!
//! Every model is one point (its `.nic` files' mean bits per pixel, PSNR, SSIM, ΔE00);
//! models trained at different `λ` make the niclab curve. Every classical codec is a curve
//! over its levels, its real files counted whole.

pub mod bjontegaard;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::board::{Board, event_files};
use crate::classic::{Codec, Level};
use crate::codec::Coder;
use crate::codec::files::Session;
use crate::config::{Backend, DeviceSpec};
use crate::cpu_encoder::ImageEncoder;
use crate::eval::autoencoder::reconstruct;
use crate::eval::baseline::pass;
use crate::eval::load_images;
use crate::eval::parallel::par_map;
use crate::eval::plots::{AE_COLOUR, CODEC_COLOURS, Series, xy_plot};
use crate::metrics::msssim::MS_SSIM_MIN_SIDE;
use crate::metrics::{Colour, compare};
use crate::progress::{Progress, bar};
use crate::train::checkpoint::write_atomic;
use bjontegaard::{bd_rate, quality_at, rate_at};

/// What to sweep and where the results go.
#[derive(Debug, Clone)]
pub struct RdOptions {
    /// Folder of images.
    pub images: PathBuf,
    /// The classical codecs and the levels each is swept over.
    pub classic: Vec<(Codec, Vec<Level>)>,
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
    /// Steps of latent refinement before coding (`--refine`, 0: none) and its step size.
    pub refine: (u32, Option<f64>),
}

/// One point of a curve: means over the image set.
#[derive(Debug, Clone, Serialize)]
pub struct RdPoint {
    /// `niclab` or the classical codec's name.
    pub codec: String,
    /// The classical codec's setting (`q50`, `qp24`) or the model's run name.
    pub setting: String,
    /// `λ` of the model's rate term (none for the classical codecs).
    pub lambda: Option<f64>,
    /// Its means over the set; `payload_bpp` leaves out the formats' headers
    /// ([`Codec::payload_len`]) and the `.nic` framing (42 bytes, 46 with a hyperprior).
    #[serde(flatten)]
    pub scores: ModelScores,
    /// For a model: what each classical codec needs and gives at this point.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub against: Vec<Against>,
}

/// A classical codec's curve read at a model's point (interpolated over log-rate).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Against {
    /// The classical codec.
    pub codec: Codec,
    /// Its bits per pixel for the model's SSIM (whole files); `None` out of its range.
    pub bpp_at_ssim: Option<f64>,
    /// The same for the coded data alone.
    pub payload_bpp_at_ssim: Option<f64>,
    /// Its bits per pixel for the model's PSNR (whole files).
    pub bpp_at_psnr: Option<f64>,
    /// Its bits per pixel for the model's MS-SSIM (whole files), where defined.
    pub bpp_at_ms_ssim: Option<f64>,
    /// Its mean ΔE00 at the model's bits per pixel (whole files).
    pub delta_e_at_bpp: Option<f64>,
    /// Its mean ΔE00 at the model's payload bits per pixel (coded data alone).
    pub delta_e_at_payload_bpp: Option<f64>,
    /// The fewest bits per pixel of a swept point at least as good as the model in PSNR,
    /// SSIM and ΔE00 at once (an upper bound on what the codec needs; `None` if none is).
    /// Still meaningful when the curves do not overlap and nothing can be interpolated.
    pub bpp_no_worse: Option<f64>,
}

/// A classical codec's sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    /// The codec.
    pub codec: Codec,
    /// The implementation that ran, with its version.
    pub version: String,
    /// Its points, lowest level first.
    pub points: Vec<RdPoint>,
}

/// niclab's BD-rates against one classical codec, percent (negative: fewer bits).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BdRates {
    /// The anchor.
    pub codec: Codec,
    /// At equal PSNR, whole files.
    pub psnr: Option<f64>,
    /// At equal SSIM, whole files.
    pub ssim: Option<f64>,
    /// At equal MS-SSIM, whole files (where every image has an MS-SSIM).
    pub ms_ssim: Option<f64>,
    /// At equal PSNR, coded data alone.
    pub psnr_payload: Option<f64>,
    /// At equal SSIM, coded data alone.
    pub ssim_payload: Option<f64>,
    /// At equal MS-SSIM, coded data alone.
    pub ms_ssim_payload: Option<f64>,
}

/// The sweep's result.
#[derive(Debug, Clone, Serialize)]
pub struct RdResult {
    /// The image folder.
    pub images: PathBuf,
    /// Images in it.
    pub count: usize,
    /// The classical codecs' curves, in the order asked.
    pub classic: Vec<Curve>,
    /// Model points, by bits per pixel.
    pub models: Vec<RdPoint>,
    /// BD-rates of niclab against each classical codec.
    pub bd: Vec<BdRates>,
    /// Models left out of a BD-rate curve, and why a BD-rate is missing, if one is.
    pub bd_note: Option<String>,
}

/// A point's rate or quality.
type Metric = fn(&RdPoint) -> f64;

fn bpp(bytes: usize, img: &RgbImage) -> f64 {
    bytes as f64 * 8.0 / (img.width() as f64 * img.height() as f64)
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    sum / n.max(1) as f64
}

/// The mean, if every value is there.
fn mean_if_all(v: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let all: Option<Vec<f64>> = v.collect();
    all.map(|a| mean(a.into_iter()))
}

/// Sweeps one classical codec over its levels (colour scored in the same pass).
fn sweep_codec(
    codec: Codec,
    levels: &[Level],
    originals: &[RgbImage],
    bar: &Progress,
) -> Result<Curve> {
    let refs: Vec<&RgbImage> = originals.iter().collect();
    let mut points = Vec::new();
    for &level in levels {
        let p = pass(&refs, codec, level, true, bar)?;
        let files = p.files.iter().zip(originals);
        points.push(RdPoint {
            codec: codec.name().into(),
            setting: codec.setting(level),
            lambda: None,
            scores: ModelScores {
                bpp: mean(files.clone().map(|(f, o)| bpp(f.len(), o))),
                payload_bpp: mean(files.map(|(f, o)| bpp(codec.payload_len(f), o))),
                psnr: mean(p.scores.iter().map(|s| s.psnr)),
                ssim: mean(p.scores.iter().map(|s| s.ssim)),
                ms_ssim: mean_if_all(p.scores.iter().map(|s| s.ms_ssim)),
                colour: Colour::mean(p.scores.iter().filter_map(|s| s.colour.as_ref())),
                bytes: p.scores.iter().map(|s| s.bytes).sum(),
            },
            against: Vec::new(),
        });
    }
    Ok(Curve {
        codec,
        version: codec.version()?,
        points,
    })
}

/// Scores every model in `models` (checkpoints, run folders, experiment files or run names)
/// and every classical codec's levels on `opts.images`.
pub fn sweep(models: &[PathBuf], opts: &RdOptions) -> Result<RdResult> {
    if models.is_empty() {
        bail!("give at least one trained model");
    }
    if opts.classic.is_empty() {
        bail!("give at least one classical codec to compare with");
    }
    for (codec, levels) in &opts.classic {
        if levels.len() < 2 {
            bail!("give at least 2 levels of {} for its curve", codec.name());
        }
    }
    let (_, originals) = load_images(&opts.images)?;
    let total: usize = opts.classic.iter().map(|(_, l)| l.len()).sum();
    let cb = bar(total * originals.len(), "classical codecs");
    let mut classic = Vec::new();
    for (codec, levels) in &opts.classic {
        classic.push(sweep_codec(*codec, levels, &originals, &cb)?);
    }
    cb.finish();

    let mut points = Vec::new();
    for target in models {
        let mut s = Session::open(target, &opts.checkpoints, opts.backend, opts.device)
            .with_context(|| format!("model {}", target.display()))?;
        if let Some(b) = opts.batch_size {
            s.batch_size = b.max(1);
        }
        s.refine(opts.refine.0, opts.refine.1)?;
        let ck = crate::train::checkpoint::Checkpoint::load(&s.checkpoint)?;
        let exp = &ck.meta.experiment;
        // A refined model's points are named apart from its plain ones.
        let name = match opts.refine.0 {
            0 => exp.name().to_string(),
            steps => format!("{}+refine{steps}", exp.name()),
        };
        let m = score_model(&s, &name, &originals)?;
        let against = classic.iter().map(|c| read_at(c, &m)).collect();
        eprintln!(
            "{name}: {:.4} bpp, PSNR {:.2} dB, SSIM {:.4}, dE00 {:.2}",
            m.bpp, m.psnr, m.ssim, m.colour.delta_e
        );
        points.push(RdPoint {
            codec: "niclab".into(),
            setting: name,
            lambda: (exp.loss.rate > 0.0).then_some(exp.loss.rate),
            scores: m,
            against,
        });
    }
    points.sort_by(|a, b| a.scores.bpp.total_cmp(&b.scores.bpp));

    let (psnr_of, ssim_of): (Metric, Metric) = (|p| p.scores.psnr, |p| p.scores.ssim);
    let ms_ssim_of: Metric = |p| p.scores.ms_ssim.unwrap_or(f64::NAN);
    let has_ms_ssim = points.iter().all(|p| p.scores.ms_ssim.is_some())
        && classic
            .iter()
            .all(|c| c.points.iter().all(|p| p.scores.ms_ssim.is_some()));
    let (files, payload): (Metric, Metric) = (|p| p.scores.bpp, |p| p.scores.payload_bpp);
    let mut notes = Vec::new();
    if !has_ms_ssim {
        notes.push(format!(
            "MS-SSIM: not defined on images under {MS_SSIM_MIN_SIDE} pixels a side, so no \
             BD-rate at equal MS-SSIM"
        ));
    }
    let mut fronts = Vec::new();
    // (rate, quality, name, slot in BdRates' order).
    let mut measures = vec![
        (files, psnr_of, "PSNR", 0),
        (files, ssim_of, "SSIM", 1),
        (payload, psnr_of, "PSNR on payloads", 3),
        (payload, ssim_of, "SSIM on payloads", 4),
    ];
    if has_ms_ssim {
        measures.push((files, ms_ssim_of, "MS-SSIM", 2));
        measures.push((payload, ms_ssim_of, "MS-SSIM on payloads", 5));
    }
    for (rate, quality, what, slot) in measures {
        let (front, dropped) = pareto_front(&points, rate, quality);
        if !dropped.is_empty() {
            notes.push(format!(
                "{what}: left out of niclab's curve as beaten on both rate and quality by \
                 another model: {}",
                dropped.join(", ")
            ));
        }
        fronts.push((rate, quality, what, slot, front));
    }
    let mut bd = Vec::new();
    for c in &classic {
        let mut vals = [None; 6];
        for (rate, quality, what, slot, front) in &fronts {
            // A codec's own curve can bend back (on small crops cjxl's q5 beats its q10 and
            // q15): its points beaten by another of its points are left out.
            let (anchor, dropped) = pareto_front(&c.points, *rate, *quality);
            if !dropped.is_empty() {
                notes.push(format!(
                    "{what}: left out of {}'s curve as beaten on both rate and quality by \
                     another of its settings: {}",
                    c.codec.label(),
                    dropped.join(", ")
                ));
            }
            match bd_rate(&anchor, front) {
                Ok(x) => vals[*slot] = Some(x),
                Err(e) => notes.push(format!(
                    "{what} vs {}: BD-rate not computed: {e}",
                    c.codec.label()
                )),
            }
        }
        bd.push(BdRates {
            codec: c.codec,
            psnr: vals[0],
            ssim: vals[1],
            ms_ssim: vals[2],
            psnr_payload: vals[3],
            ssim_payload: vals[4],
            ms_ssim_payload: vals[5],
        });
    }
    let bd_note = (!notes.is_empty()).then(|| notes.join("; "));
    Ok(RdResult {
        images: opts.images.clone(),
        count: originals.len(),
        classic,
        models: points,
        bd,
        bd_note,
    })
}

/// Reads `curve` at a model's scores (on the curve's Pareto front for each measure, so a
/// curve that bends back still reads as a function).
fn read_at(curve: &Curve, m: &ModelScores) -> Against {
    let front = |rate: Metric, quality: Metric| pareto_front(&curve.points, rate, quality).0;
    let (files, payload): (Metric, Metric) = (|p| p.scores.bpp, |p| p.scores.payload_bpp);
    // ΔE00 falls as quality rises: the front of its negation, turned back.
    let de_front = |rate: Metric| -> Vec<(f64, f64)> {
        let f = front(rate, |p| -p.scores.colour.delta_e);
        f.into_iter().map(|(r, q)| (r, -q)).collect()
    };
    let no_worse = curve
        .points
        .iter()
        .filter(|p| {
            p.scores.psnr >= m.psnr
                && p.scores.ssim >= m.ssim
                && p.scores.colour.delta_e <= m.colour.delta_e
        })
        .map(|p| p.scores.bpp)
        .min_by(f64::total_cmp);
    Against {
        codec: curve.codec,
        bpp_at_ssim: rate_at(&front(files, |p| p.scores.ssim), m.ssim),
        payload_bpp_at_ssim: rate_at(&front(payload, |p| p.scores.ssim), m.ssim),
        bpp_at_psnr: rate_at(&front(files, |p| p.scores.psnr), m.psnr),
        bpp_at_ms_ssim: m.ms_ssim.and_then(|q| {
            let pts = front(files, |p| p.scores.ms_ssim.unwrap_or(f64::NAN));
            rate_at(&pts, q)
        }),
        delta_e_at_bpp: quality_at(&de_front(files), m.bpp),
        delta_e_at_payload_bpp: quality_at(&de_front(payload), m.payload_bpp),
        bpp_no_worse: no_worse,
    }
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
    /// Mean MS-SSIM; `None` unless every image has one (161 pixels a side or more).
    #[serde(default)]
    pub ms_ssim: Option<f64>,
    /// Mean ΔE00 and Y/Cb/Cr PSNRs.
    #[serde(flatten)]
    pub colour: Colour,
    /// Bytes of all the files.
    pub bytes: usize,
}

/// Compresses and decompresses `originals` with the session's model (a progress bar named
/// `name`) and scores the results.
pub fn score_model(s: &Session, name: &str, originals: &[RgbImage]) -> Result<ModelScores> {
    score(
        &s.encoder()?,
        Some(&s.coder),
        s.batch_size,
        s.coder.scale,
        name,
        originals,
    )
}

/// Scores `model` on `originals`: with a `coder`, its real `.nic` files; without one (a
/// paper model), its float32 latents, which have no framing (payload = whole).
pub fn score(
    encoder: &ImageEncoder,
    coder: Option<&Coder>,
    batch_size: usize,
    scale: usize,
    name: &str,
    originals: &[RgbImage],
) -> Result<ModelScores> {
    let refs: Vec<&RgbImage> = originals.iter().collect();
    let ab = bar(refs.len(), name);
    let recon = reconstruct(encoder, coder, &refs, batch_size, scale, &ab)?;
    ab.finish();
    let framing = coder.map_or(0, Coder::framing);
    let items: Vec<usize> = (0..refs.len()).collect();
    let per_image = par_map(
        &items,
        || Ok(()),
        |_, _, &i| {
            let (r, o) = (&recon[i], &originals[i]);
            let q = compare(o, &r.image, None)?;
            Ok(ModelScores {
                bpp: bpp(r.stored.len(), o),
                payload_bpp: bpp(r.stored.len().saturating_sub(framing), o),
                psnr: q.psnr,
                ssim: q.ssim,
                ms_ssim: q.ms_ssim,
                colour: q.colour,
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
        ms_ssim: mean_if_all(per_image.iter().map(|s| s.ms_ssim)),
        colour: Colour::mean(per_image.iter().map(|s| &s.colour)),
        bytes: per_image.iter().map(|s| s.bytes).sum(),
    })
}

/// The models' points that no other model beats on both rate and quality (a BD-rate needs
/// a curve on which more bits buy more quality), as (rate, quality); and the names of
/// those left out.
fn pareto_front(
    points: &[RdPoint],
    rate: Metric,
    quality: Metric,
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

/// Writes `rd.csv`, `rd.json`, `report.md`, `plots/rd-psnr.png`, `plots/rd-ssim.png`,
/// `plots/rd-delta-e.png` and the curves as TensorBoard scalars (`rd/psnr_<codec>`, ...,
/// step = bits per pixel × 1000) into `out`.
pub fn write(r: &RdResult, out: &Path) -> Result<()> {
    fs::create_dir_all(out.join("plots"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    let mut csv = String::from(
        "codec,setting,lambda,bpp,payload_bpp,psnr,ssim,ms_ssim,bytes,delta_e,psnr_y,psnr_cb,\
         psnr_cr",
    );
    for c in &r.classic {
        let n = c.codec.name();
        let _ = write!(
            csv,
            ",{n}_bpp_at_ssim,{n}_payload_bpp_at_ssim,{n}_bpp_at_psnr,{n}_bpp_at_ms_ssim,\
             {n}_delta_e_at_bpp,{n}_delta_e_at_payload_bpp,{n}_bpp_no_worse"
        );
    }
    csv.push('\n');
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let all = || r.classic.iter().flat_map(|c| &c.points).chain(&r.models);
    for p in all() {
        let s = &p.scores;
        let _ = write!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            p.codec,
            p.setting,
            opt(p.lambda),
            s.bpp,
            s.payload_bpp,
            s.psnr,
            s.ssim,
            opt(s.ms_ssim),
            s.bytes,
            s.colour.delta_e,
            s.colour.psnr_y,
            s.colour.psnr_cb,
            s.colour.psnr_cr,
        );
        for c in &r.classic {
            match p.against.iter().find(|a| a.codec == c.codec) {
                Some(a) => {
                    let _ = write!(
                        csv,
                        ",{},{},{},{},{},{},{}",
                        opt(a.bpp_at_ssim),
                        opt(a.payload_bpp_at_ssim),
                        opt(a.bpp_at_psnr),
                        opt(a.bpp_at_ms_ssim),
                        opt(a.delta_e_at_bpp),
                        opt(a.delta_e_at_payload_bpp),
                        opt(a.bpp_no_worse)
                    );
                }
                None => csv.push_str(",,,,,,,"),
            }
        }
        csv.push('\n');
    }
    write_atomic(&out.join(CSV_FILE), csv.as_bytes())?;
    let json = serde_json::to_string_pretty(r).context("cannot serialise the result")?;
    write_atomic(&out.join("rd.json"), json.as_bytes())?;
    write_atomic(&out.join("report.md"), report(r).as_bytes())?;

    let series = |f: fn(&RdPoint) -> f64| {
        let mut v: Vec<Series> = r
            .classic
            .iter()
            .map(|c| Series {
                name: c.codec.label().into(),
                colour: CODEC_COLOURS[Codec::ALL.iter().position(|x| *x == c.codec).unwrap_or(0)],
                points: c.points.iter().map(|p| (p.scores.bpp, f(p))).collect(),
                dots: true,
            })
            .collect();
        v.push(Series {
            name: "niclab".into(),
            colour: AE_COLOUR,
            points: r.models.iter().map(|p| (p.scores.bpp, f(p))).collect(),
            dots: true,
        });
        v
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
    let ms_plot: Plot = ("rd-ms-ssim", "Rate-distortion: MS-SSIM", "MS-SSIM", |p| {
        p.scores.ms_ssim.unwrap_or(f64::NAN)
    });
    for (file, title, label, f) in plots.into_iter().chain(has_ms_ssim(r).then_some(ms_plot)) {
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
    for p in all() {
        let step = (p.scores.bpp * 1000.0).round() as u64;
        board.scalar(&format!("rd/psnr_{}", p.codec), p.scores.psnr, step);
        board.scalar(&format!("rd/ssim_{}", p.codec), p.scores.ssim, step);
        if let Some(m) = p.scores.ms_ssim {
            board.scalar(&format!("rd/ms_ssim_{}", p.codec), m, step);
        }
        board.scalar(
            &format!("rd/delta_e_{}", p.codec),
            p.scores.colour.delta_e,
            step,
        );
    }
    for b in &r.bd {
        for (what, v) in [
            ("psnr", b.psnr),
            ("ssim", b.ssim),
            ("ms_ssim", b.ms_ssim),
            ("psnr_payload", b.psnr_payload),
            ("ssim_payload", b.ssim_payload),
            ("ms_ssim_payload", b.ms_ssim_payload),
        ] {
            if let Some(v) = v {
                board.scalar(&format!("rd/bd_rate_{what}_vs_{}", b.codec), v, 0);
            }
        }
    }
    board.flush();
    Ok(())
}

/// A point's bpp, payload bpp, PSNR, SSIM, MS-SSIM, ΔE00 and Y / Cb / Cr cells of the
/// report.
/// Whether every model point has an MS-SSIM (images of 161 pixels a side or more): then the
/// MS-SSIM curve is plotted and linked.
fn has_ms_ssim(r: &RdResult) -> bool {
    r.models.iter().all(|p| p.scores.ms_ssim.is_some())
}

fn cells(s: &ModelScores) -> String {
    let c = &s.colour;
    let ms = s.ms_ssim.map_or("-".into(), |m| format!("{m:.4}"));
    format!(
        "{:.4} | {:.4} | {:.2} | {:.4} | {ms} | {:.2} | {:.2} / {:.2} / {:.2}",
        s.bpp, s.payload_bpp, s.psnr, s.ssim, c.delta_e, c.psnr_y, c.psnr_cb, c.psnr_cr
    )
}

/// The Markdown report: every point, the BD-rates against each classical codec, and each
/// classical codec's bits and colour at each model's point.
pub fn report(r: &RdResult) -> String {
    let mut m = String::new();
    let names: Vec<&str> = r.classic.iter().map(|c| c.codec.label()).collect();
    let _ = writeln!(
        m,
        "# Rate-distortion: niclab vs {}\n\n{} images from `{}`. Bits per pixel are file \
         bytes x 8 / pixels, averaged over images: whole `.nic` files (header and checksum \
         included) and whole files of each classical codec, at its tool's default settings.\n",
        names.join(", "),
        r.count,
        r.images.display()
    );
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:+.1} %"));
    let _ = writeln!(
        m,
        "## BD-rate of niclab\n\nBjøntegaard delta rate (PCHIP interpolation of log-rate \
         over the quality range both cover; negative = niclab needs fewer bits for the same \
         quality), whole files / coded data alone.\n\n| against | PSNR | SSIM | MS-SSIM \
         |\n|---|---:|---:|---:|"
    );
    for b in &r.bd {
        let _ = writeln!(
            m,
            "| {} | {} / {} | {} / {} | {} / {} |",
            b.codec.label(),
            pct(b.psnr),
            pct(b.psnr_payload),
            pct(b.ssim),
            pct(b.ssim_payload),
            pct(b.ms_ssim),
            pct(b.ms_ssim_payload)
        );
    }
    if let Some(note) = &r.bd_note {
        let _ = writeln!(m, "\n{note}.");
    }
    let _ = writeln!(
        m,
        "\n## Points\n\n| codec | setting | bpp | payload bpp | PSNR (dB) | SSIM | MS-SSIM \
         | ΔE00 | PSNR Y / Cb / Cr |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for p in &r.models {
        let setting = format!(
            "{}{}",
            p.setting,
            p.lambda.map(|l| format!(" (λ = {l})")).unwrap_or_default()
        );
        let _ = writeln!(m, "| niclab | {setting} | {} |", cells(&p.scores));
    }
    for c in &r.classic {
        for p in &c.points {
            let _ = writeln!(
                m,
                "| {} | {} | {} |",
                c.codec.label(),
                p.setting,
                cells(&p.scores)
            );
        }
    }
    let _ = writeln!(
        m,
        "\n## The classical codecs at niclab's points\n\nEach codec's curve read at each \
         model's point (interpolated over log-rate): the bits it needs for the model's \
         SSIM, PSNR and MS-SSIM (and its ratio to the model's), and its ΔE00 at the model's \
         bits (whole files / coded data alone); \
         \"-\": outside the codec's swept range. \"No worse at\": the fewest bits of a swept \
         setting that is at least as good as the model in PSNR, SSIM and ΔE00 at once (an \
         upper bound on the codec's need, defined even where the curves do not \
         overlap).\n\n| model | codec | bpp at this SSIM (files / payload) | its bits / \
         niclab's (files / payload) | bpp at this PSNR | bpp at this MS-SSIM | ΔE00 at this \
         bpp, files / payload (niclab's) | no worse at (bpp, its bits / niclab's) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|"
    );
    let f4 = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    let f2 = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    let x2 = |v: Option<f64>, base: f64| v.map_or("-".to_string(), |v| format!("{:.2}x", v / base));
    for p in &r.models {
        for a in &p.against {
            let _ = writeln!(
                m,
                "| {} | {} | {} / {} | {} / {} | {} | {} | {} / {} ({:.2}) | {} ({}) |",
                p.setting,
                a.codec.label(),
                f4(a.bpp_at_ssim),
                f4(a.payload_bpp_at_ssim),
                x2(a.bpp_at_ssim, p.scores.bpp),
                x2(a.payload_bpp_at_ssim, p.scores.payload_bpp),
                f4(a.bpp_at_psnr),
                f4(a.bpp_at_ms_ssim),
                f2(a.delta_e_at_bpp),
                f2(a.delta_e_at_payload_bpp),
                p.scores.colour.delta_e,
                f4(a.bpp_no_worse),
                x2(a.bpp_no_worse, p.scores.bpp)
            );
        }
    }
    let _ = writeln!(
        m,
        "\nΔE00: mean CIEDE2000 colour difference (scikit-image's `deltaE_ciede2000` on \
         `rgb2lab`; about 1 is just visible, above about 5 reads as another colour). \
         Y / Cb / Cr: PSNR of JPEG's full-range planes (JFIF), each capped at 100 dB."
    );
    let _ = writeln!(
        m,
        "\nPayload: the coded data alone, without the format's headers: JPEG's tables and \
         markers (about 620 bytes a file), WebP's RIFF and chunk headers (20 bytes), AVIF's \
         `ftyp` and `meta` boxes (the `mdat` box's contents are kept), the 42 bytes of `.nic` \
         framing (46 with a hyperprior, whose z is payload); a JPEG XL codestream's few header bytes are not separable, so its payload \
         is its file. On small images the headers are a large part of a JPEG or AVIF file."
    );
    let _ = writeln!(m, "\nImplementations:");
    for c in &r.classic {
        let _ = writeln!(m, "- {}: {}", c.codec.label(), c.version);
    }
    let _ = writeln!(
        m,
        "\n![PSNR](plots/rd-psnr.png)\n\n![SSIM](plots/rd-ssim.png)\n\n\
         ![ΔE00](plots/rd-delta-e.png)"
    );
    if has_ms_ssim(r) {
        let _ = writeln!(m, "\n![MS-SSIM](plots/rd-ms-ssim.png)");
    }
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
                ms_ssim: None,
                colour: Colour::mean([]),
                bytes: 0,
            },
            against: Vec::new(),
        }
    }

    /// The report links the MS-SSIM plot exactly when `write` draws it: every model point
    /// has an MS-SSIM.
    #[test]
    fn the_report_links_the_ms_ssim_plot_when_it_is_drawn() {
        let mut r = RdResult {
            images: PathBuf::from("photos"),
            count: 2,
            classic: Vec::new(),
            models: vec![point("a", 0.1, 0.70), point("b", 0.25, 0.79)],
            bd: Vec::new(),
            bd_note: None,
        };
        let link = "![MS-SSIM](plots/rd-ms-ssim.png)";
        assert!(!report(&r).contains(link));
        r.models[0].scores.ms_ssim = Some(0.93);
        assert!(!report(&r).contains(link), "one point without MS-SSIM");
        r.models[1].scores.ms_ssim = Some(0.95);
        let md = report(&r);
        assert!(md.contains(link), "{md}");
        assert!(md.contains("![ΔE00](plots/rd-delta-e.png)"));
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
