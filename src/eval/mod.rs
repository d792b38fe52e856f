//! The evaluator: the paper's comparison of the autoencoder with JPEG on a folder of images.
//!
//! Top to bottom: [`source`] picks the checkpoint, the images are read, [`autoencoder`]
//! reconstructs them in batches, [`baseline`] runs libjpeg-turbo ([`jpeg`]) at the chosen or
//! SSIM-matched quality, and [`report`], [`plots`] and [`tensorboard`] write the results.

pub mod autoencoder;
pub mod baseline;
pub mod parallel;
pub mod plots;
pub mod report;
pub mod source;
pub mod tensorboard;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::backend;
use crate::classic::Codec;
use crate::classic::Encoder;
use crate::classic::jpeg::QualityChoice;
use crate::codec::finalize::coder;
use crate::config::{Backend, DeviceSpec, Storage};
use crate::cpu_encoder::ImageEncoder;
use crate::data::images::{list_images, load_rgb};
use crate::loss::SSIM_WINDOW;
use crate::metrics::colour::Reference;
use crate::metrics::{Colour, psnr, ssim};
use crate::progress::bar;
use crate::train::model_from_checkpoint;
use autoencoder::{Reconstruction, reconstruct};
use baseline::{Pass, match_ssim, pass};
use parallel::par_map;
use source::ModelSource;

/// What to evaluate and where the results go.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Folder of images (all of it, recursively).
    pub images: PathBuf,
    /// Output folder; `None`: `<runs>/<experiment>/eval`.
    pub out: Option<PathBuf>,
    /// The classical codec to compare with (the paper's: JPEG).
    pub baseline: Codec,
    /// Its settings to compare at (numbers as its tool spells them), or match-ssim.
    pub jpeg: QualityChoice,
    /// Images per inference batch; `None`: the experiment's `eval.batch_size`.
    pub batch_size: Option<usize>,
    /// Backend; `None`: the one the model was trained with.
    pub backend: Option<Backend>,
    /// Device; `None`: the one the model was trained with.
    pub device: Option<DeviceSpec>,
    /// Folder of checkpoint folders (to resolve experiment files and run names).
    pub checkpoints: PathBuf,
    /// Folder of TensorBoard runs; the evaluation goes to `<runs>/<experiment>/eval`.
    pub runs: PathBuf,
    /// Write reconstructions, latents and JPEG files (the scores and reports are always
    /// written).
    pub write_images: bool,
    /// How the autoencoder's bytes are counted; `None`: the experiment's `eval.storage`.
    pub storage: Option<Storage>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            images: "datasets/test-1000".into(),
            out: None,
            baseline: Codec::Jpeg,
            jpeg: QualityChoice::MatchSsim,
            batch_size: None,
            backend: None,
            device: None,
            checkpoints: "checkpoints".into(),
            runs: "runs".into(),
            write_images: true,
            storage: None,
        }
    }
}

/// One codec's result on one image.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Scored {
    /// Compressed size in bytes.
    pub bytes: usize,
    /// PSNR in dB against the original.
    pub psnr: f64,
    /// SSIM against the original.
    pub ssim: f64,
    /// Encode + decode seconds (no file I/O, no metrics).
    pub seconds: f64,
    /// ΔE00 and Y/Cb/Cr PSNRs; `None` on the JPEG passes of the quality search, which
    /// only need SSIM (colour costs more than SSIM and PSNR together).
    pub colour: Option<Colour>,
    /// MS-SSIM, where asked for and defined (161 pixels a side or more).
    pub ms_ssim: Option<f64>,
}

/// Mean of `f` over `rows` (0 for none).
pub fn mean_of(rows: &[Scored], f: impl Fn(&Scored) -> f64) -> f64 {
    rows.iter().map(f).sum::<f64>() / rows.len().max(1) as f64
}

/// Mean colour scores over `rows`; `None` if any row lacks them.
pub fn mean_colour(rows: &[Scored]) -> Option<Colour> {
    let all: Option<Vec<Colour>> = rows.iter().map(|r| r.colour).collect();
    all.map(|c| Colour::mean(&c))
}

/// A JPEG quality's results over the set.
pub struct JpegResult {
    /// Whether it was SSIM-matched or asked for.
    pub matched: bool,
    /// The pass.
    pub pass: Pass,
}

/// Where the time went (seconds). Codec and metrics times are summed over images, so on
/// several threads they can exceed the wall time of their phase.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Timing {
    /// Reading and decoding the image files.
    pub load: f64,
    /// Loading the checkpoint, building the model and its coding tables.
    pub model: f64,
    /// Autoencoder encode + decode over all batches (wall).
    pub ae: f64,
    /// Autoencoder PSNR/SSIM (wall).
    pub ae_metrics: f64,
    /// All JPEG passes, codec and metrics (wall).
    pub jpeg: f64,
    /// JPEG encode + decode summed over every image of every pass.
    pub jpeg_codec: f64,
    /// JPEG PSNR/SSIM summed over every image of every pass.
    pub jpeg_metrics: f64,
    /// JPEG passes made (1 per fixed quality; about 7 for match-ssim).
    pub jpeg_passes: usize,
    /// Colour scores of the autoencoder and of the reported JPEG qualities (wall).
    #[serde(default)]
    pub colour: f64,
    /// Writing images, reports, plots and TensorBoard events (wall).
    pub write: f64,
    /// The whole evaluation (wall).
    pub total: f64,
}

/// Everything an evaluation found.
pub struct Evaluation {
    /// The checkpoint evaluated.
    pub source: ModelSource,
    /// The image folder.
    pub images_dir: PathBuf,
    /// Image paths relative to it, in order.
    pub names: Vec<String>,
    /// The originals.
    pub originals: Vec<RgbImage>,
    /// The autoencoder's reconstructions.
    pub recon: Vec<Reconstruction>,
    /// Autoencoder scores per image.
    pub ae: Vec<Scored>,
    /// How its bytes are stored.
    pub storage: Storage,
    /// JPEG results, the matched or first quality first.
    pub jpeg: Vec<JpegResult>,
    /// Mean SSIM at every quality tried by match-ssim, by quality.
    pub search: Vec<(crate::classic::Level, f64)>,
    /// The classical codec compared with.
    pub baseline: Codec,
    /// Backend and device used.
    pub backend: String,
    /// Where time went.
    pub timing: Timing,
}

impl Evaluation {
    /// Raw RGB bytes of image `i` (H x W x 3).
    pub fn raw_bytes(&self, i: usize) -> usize {
        let (w, h) = self.originals[i].dimensions();
        (w * h * 3) as usize
    }

    /// Pixels of image `i`.
    pub fn pixels(&self, i: usize) -> usize {
        self.raw_bytes(i) / 3
    }
}

/// Reads every image of `dir`: an empty folder, a file that is not an image, an unreadable
/// image or one smaller than the SSIM window is an error naming it.
pub fn load_images(dir: &Path) -> Result<(Vec<String>, Vec<RgbImage>)> {
    let (files, others) = list_images(dir)?;
    if !others.is_empty() {
        let strays: Vec<String> = others
            .iter()
            .take(3)
            .map(|p| p.display().to_string())
            .collect();
        bail!(
            "{} holds {} file(s) that are not images (png, jpg, jpeg, webp), e.g. {}: \
             an evaluation set must hold only images, move them out",
            dir.display(),
            others.len(),
            strays.join(", ")
        );
    }
    if files.is_empty() {
        bail!(
            "{} holds no images (png, jpg, jpeg, webp); `make data` makes datasets/test-1000",
            dir.display()
        );
    }
    let bar = bar(files.len(), "reading");
    let images = par_map(
        &files,
        || Ok(()),
        |_, _, f| {
            let img = load_rgb(f)?;
            let (w, h) = img.dimensions();
            if (w as usize) < SSIM_WINDOW || (h as usize) < SSIM_WINDOW {
                bail!(
                    "{}: {w}x{h} is smaller than the {SSIM_WINDOW}x{SSIM_WINDOW} SSIM window",
                    f.display()
                );
            }
            bar.inc(1);
            Ok(img)
        },
    )?;
    bar.finish();
    let names = files
        .iter()
        .map(|f| f.strip_prefix(dir).unwrap_or(f).display().to_string())
        .collect();
    Ok((names, images))
}

/// Colour of the autoencoder's reconstructions and of each reported JPEG quality, in one
/// pass over the images: each original's CIELAB is computed once for all of them.
fn score_colour(
    originals: &[RgbImage],
    recon: &[Reconstruction],
    ae: &mut [Scored],
    jpeg: &mut [JpegResult],
    baseline: Codec,
) -> Result<()> {
    let items: Vec<usize> = (0..originals.len()).collect();
    let files: Vec<&Vec<Vec<u8>>> = jpeg.iter().map(|j| &j.pass.files).collect();
    let rows = par_map(
        &items,
        || Encoder::new(baseline),
        |codec, _, &i| {
            let reference = Reference::new(&originals[i]);
            let own = reference.colour(&recon[i].image)?;
            let theirs = files
                .iter()
                .map(|f| reference.colour(&codec.decode(&f[i])?))
                .collect::<Result<Vec<_>>>()?;
            Ok((own, theirs))
        },
    )
    .context("colour scores")?;
    for (i, (own, theirs)) in rows.into_iter().enumerate() {
        ae[i].colour = Some(own);
        for (j, c) in jpeg.iter_mut().zip(theirs) {
            j.pass.scores[i].colour = Some(c);
        }
    }
    Ok(())
}

/// Evaluates the model named by `target` (see [`ModelSource::resolve`]) on `opts.images`
/// and writes every output.
pub fn evaluate(target: &Path, opts: &EvalOptions) -> Result<(Evaluation, PathBuf)> {
    let t_total = Instant::now();
    let mut timing = Timing::default();

    let t = Instant::now();
    let source = ModelSource::resolve(target, &opts.checkpoints)?;
    let exp = source.experiment().clone();
    let backend = opts.backend.unwrap_or(exp.train.backend);
    let spec = opts.device.unwrap_or(exp.train.device);
    let device = backend::device(backend, spec)?;
    let model = model_from_checkpoint(&source.checkpoint, &source.path, &device)?;
    let storage = opts.storage.unwrap_or(exp.eval.storage);
    let coder = match storage {
        Storage::Nic => Some(coder(&source, &model, &device)?),
        Storage::F32 => None,
    };
    timing.model = t.elapsed().as_secs_f64();
    eprintln!(
        "{}: {} (step {}), {} backend on {spec}",
        exp.name(),
        source.path.display(),
        source.checkpoint.meta.step,
        backend
    );

    let t = Instant::now();
    let (names, originals) = load_images(&opts.images)?;
    timing.load = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let refs: Vec<&RgbImage> = originals.iter().collect();
    let batch_size = opts.batch_size.unwrap_or(exp.eval.batch_size).max(1);
    let ae_bar = bar(originals.len(), "autoencoder");
    let recon = reconstruct(
        &ImageEncoder::new(&model, &device)?,
        coder.as_ref(),
        &refs,
        batch_size,
        exp.model.scale(),
        &ae_bar,
    )?;
    ae_bar.finish();
    timing.ae = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let items: Vec<usize> = (0..originals.len()).collect();
    let mut ae = par_map(
        &items,
        || Ok(()),
        |_, _, &i| {
            let r = &recon[i];
            Ok(Scored {
                bytes: r.stored.len(),
                psnr: psnr(&originals[i], &r.image)?,
                ssim: ssim(&originals[i], &r.image)?,
                seconds: r.seconds,
                colour: None,
                ms_ssim: None,
            })
        },
    )?;
    timing.ae_metrics = t.elapsed().as_secs_f64();
    let ae_ssim = mean_of(&ae, |s| s.ssim);

    let t = Instant::now();
    let set = &refs;
    let base = opts.baseline;
    let jpeg_bar = bar(0, base.title());
    let mut search = Vec::new();
    let mut jpeg = match &opts.jpeg {
        QualityChoice::MatchSsim => {
            jpeg_bar.set_length(3 * set.len() as u64);
            let (chosen, mut passes) = match_ssim(set, base, ae_ssim, &jpeg_bar)?;
            for (q, p) in &passes {
                timing.jpeg_codec += p.scores.iter().map(|s| s.seconds).sum::<f64>();
                timing.jpeg_metrics += p.metrics_seconds;
                search.push((*q, p.mean_ssim()));
            }
            timing.jpeg_passes = passes.len();
            let pass = passes
                .remove(&chosen)
                .context("the chosen setting was never encoded")?;
            vec![JpegResult {
                matched: true,
                pass,
            }]
        }
        QualityChoice::Fixed(qs) => {
            jpeg_bar.set_length((qs.len() * set.len()) as u64);
            let mut out = Vec::new();
            for q in qs {
                let level = base.level_of_setting(u32::from(q.get()))?;
                let pass = pass(set, base, level, false, &jpeg_bar)?;
                timing.jpeg_codec += pass.scores.iter().map(|s| s.seconds).sum::<f64>();
                timing.jpeg_metrics += pass.metrics_seconds;
                timing.jpeg_passes += 1;
                out.push(JpegResult {
                    matched: false,
                    pass,
                });
            }
            out
        }
    };
    jpeg_bar.finish();
    timing.jpeg = t.elapsed().as_secs_f64();

    let t = Instant::now();
    score_colour(&originals, &recon, &mut ae, &mut jpeg, base)?;
    timing.colour = t.elapsed().as_secs_f64();

    let mut eval = Evaluation {
        source,
        images_dir: opts.images.clone(),
        names,
        originals,
        recon,
        ae,
        storage,
        jpeg,
        search,
        baseline: base,
        backend: format!("{backend} on {spec}"),
        timing,
    };
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| opts.runs.join(exp.name()).join("eval"));
    let t = Instant::now();
    let strips = report::rendered_strips(&eval)?;
    report::write_outputs(&eval, &out, opts.write_images, &strips)?;
    let board_dir = opts.runs.join(exp.name()).join("eval");
    tensorboard::write(&eval, &report::summary(&eval), &strips, &board_dir)?;
    eval.timing.write = t.elapsed().as_secs_f64();
    eval.timing.total = t_total.elapsed().as_secs_f64();
    // Written last: they hold the timing, writing included.
    report::write_summaries(&eval, &out)?;
    Ok((eval, out))
}
