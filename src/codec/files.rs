//! `niclab compress` and `niclab decompress`: images to `.nic` files and back, one file or a
//! whole folder (batched, with a progress bar).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use image::RgbImage;

use super::coder::Latent;
use super::finalize::coder;
use super::refine::Refiner;
use super::tiles::{self, Tiling};
use super::{Coder, crop_image, pad, padded, to_vec};
use crate::backend;
use crate::config::{Backend, DeviceSpec, LossConfig};
use crate::cpu_encoder::ImageEncoder;
use crate::data::batches::images_to_tensor;
use crate::data::images::{IMAGE_EXTENSIONS, list_files, load_rgb};
use crate::eval::source::ModelSource;
use crate::model::Autoencoder;
use crate::progress::bar;
use crate::train::checkpoint::write_atomic;
use crate::train::model_from_checkpoint;

/// A model ready to compress and decompress.
pub struct Session {
    /// The autoencoder.
    pub model: Autoencoder,
    /// Its tables.
    pub coder: Coder,
    /// Where it runs.
    pub device: Device,
    /// Images per batch in folder mode.
    pub batch_size: usize,
    /// The checkpoint file.
    pub checkpoint: PathBuf,
    /// How images larger than [`tiles::TILED_ABOVE`] pixels are cut.
    pub tiling: Tiling,
    /// The loss the model was trained with: the objective `--refine` lowers (boxed, as the
    /// refiner: a session's size is kept close to a plain model's).
    pub loss: Box<LossConfig>,
    /// The latents' refinement before coding (`--refine`), if asked for.
    pub refiner: Option<Box<Refiner>>,
}

impl Session {
    /// Loads the model named by `target` (as `niclab eval` resolves it) and its tables
    /// (finalizing the checkpoint if needed), on the backend and device it was trained with
    /// unless given.
    pub fn open(
        target: &Path,
        checkpoints: &Path,
        backend: Option<Backend>,
        device: Option<DeviceSpec>,
    ) -> Result<Self> {
        Self::from_source(ModelSource::resolve(target, checkpoints)?, backend, device)
    }

    /// The session of an already loaded checkpoint.
    pub fn from_source(
        source: ModelSource,
        backend: Option<Backend>,
        device: Option<DeviceSpec>,
    ) -> Result<Self> {
        let exp = source.experiment();
        // Finalizing would write coding tables into the zoo folder; a shipped paper model is
        // the depth study's, not a codec.
        if let Some(e) = crate::zoo::entry_of(&source.path)
            && e.kind == crate::zoo::Kind::Paper
        {
            bail!(
                "{} is one of the paper's autoencoders, shipped for the depth study: it has no \
                 entropy model, so it does not compress to .nic files; use a codec (`niclab \
                 models` lists them)",
                e.name
            );
        }
        let dev = backend::device(
            backend.unwrap_or(exp.train.backend),
            device.unwrap_or(exp.train.device),
        )?;
        let model = model_from_checkpoint(&source.checkpoint, &source.path, &dev)?;
        let coder = coder(&source, &model, &dev)?;
        let tiling = Tiling::new(&model, coder.scale, tiles::CORE)?;
        Ok(Self {
            tiling,
            loss: Box::new(exp.loss.clone()),
            refiner: None,
            batch_size: exp.eval.batch_size,
            model,
            coder,
            device: dev,
            checkpoint: source.path,
        })
    }

    /// Refines every latent `steps` steps before coding (`--refine`; 0 turns it off), at
    /// Adam's step size `lr` ([`super::refine::LEARNING_RATE`] if `None`).
    pub fn refine(&mut self, steps: u32, lr: Option<f64>) -> Result<()> {
        self.refiner = match steps {
            0 => None,
            _ => {
                let r = Refiner::new(&self.model, &self.loss, &self.device, steps)
                    .with_context(|| format!("model {}", self.checkpoint.display()))?;
                Some(Box::new(match lr {
                    Some(lr) => r.with_learning_rate(lr)?,
                    None => r,
                }))
            }
        };
        Ok(())
    }

    /// The encoder of this session's model, refining as it was asked to.
    pub fn encoder(&self) -> Result<ImageEncoder<'_>> {
        Ok(ImageEncoder::new(&self.model, &self.device)?.refining(self.refiner.as_deref()))
    }
}

/// Encodes `images` (all the same size) into `.nic` files; also returns the dequantised
/// latent batch, which decodes to exactly what the files decompress to.
pub fn compress_batch(
    encoder: &ImageEncoder,
    coder: &Coder,
    images: &[&RgbImage],
    device: &Device,
) -> Result<(Vec<Vec<u8>>, Tensor<4>)> {
    let Some(first) = images.first() else {
        bail!("no images to compress");
    };
    let (w, h) = first.dimensions();
    // Refused before the encoder allocates for it.
    super::nic::check_size(w, h)?;
    let (pw, ph) = padded(w, h, coder.scale);
    let grown: Vec<RgbImage> = images.iter().map(|i| pad(i, pw, ph)).collect();
    let refs: Vec<&RgbImage> = grown.iter().collect();
    let y = encoder.encode(&refs)?;
    let [n, c, lh, lw] = y.dims();
    let (y, hyper) = match encoder.refiner() {
        Some(r) => {
            let refined = r.refine(images_to_tensor(&refs, device), y)?;
            let z = refined.z.map(|z| to_vec(z, "hyper-latent")).transpose()?;
            (refined.y, z)
        }
        None => {
            let hyper = hyper_latent(encoder.model(), &y)?;
            (y, hyper)
        }
    };
    let latent = to_vec(y, "latent")?;
    let per = c * lh * lw;
    let mut files = Vec::with_capacity(n);
    let mut deq = Vec::with_capacity(latent.len());
    for i in 0..n {
        let z = hyper.as_ref().map(|z| {
            let per = z.len() / n;
            &z[i * per..(i + 1) * per]
        });
        let y = &latent[i * per..(i + 1) * per];
        let (file, values) = coder.encode(
            Latent {
                y,
                z,
                size: (lh, lw),
            },
            (w, h),
        )?;
        files.push(file);
        deq.extend(values);
    }
    let deq = Tensor::from_data(TensorData::new(deq, [n, c, lh, lw]), device);
    Ok((files, deq))
}

/// Whether an image of `w x h` goes through tiles with a model of `scale`.
pub fn is_tiled(w: u32, h: u32, scale: usize) -> bool {
    let (pw, ph) = padded(w, h, scale);
    pw as u64 * ph as u64 > tiles::TILED_ABOVE
}

/// Encodes one image tile by tile ([`tiles`]) into a `.nic` file: the same format, and the
/// latent one pass over the whole image would give (to float summation order).
pub fn compress_tiled(
    encoder: &ImageEncoder,
    coder: &Coder,
    img: &RgbImage,
    tiling: &Tiling,
) -> Result<Vec<u8>> {
    let (w, h) = img.dimensions();
    super::nic::check_size(w, h)?;
    // Refused before the padded copy of a large image is made.
    if encoder.refiner().is_some() {
        bail!(
            "--refine codes images of up to {} pixels in one pass; this one is {w}x{h}, coded in \
             tiles: leave out --refine for it",
            tiles::TILED_ABOVE
        );
    }
    let (pw, ph) = padded(w, h, coder.scale);
    let grown = pad(img, pw, ph);
    let (latent, c, lh, lw) = tiles::encode(encoder, &grown, tiling)?;
    drop(grown);
    // h_a over the whole latent (1/256 of the image's positions for the shipped codecs).
    let hyper = match encoder.model().hyperprior() {
        Some(_) => {
            let y = TensorData::new(latent.clone(), [1, c, lh, lw]);
            hyper_latent(encoder.model(), &Tensor::from_data(y, encoder.device()))?
        }
        None => None,
    };
    let y = Latent {
        y: &latent,
        z: hyper.as_deref(),
        size: (lh, lw),
    };
    let (file, _) = coder.encode(y, (w, h))?;
    Ok(file)
}

/// `z = h_a(y)` of a hyperprior model's latent batch `y`, as `f32`; `None` without one.
fn hyper_latent(model: &Autoencoder, y: &Tensor<4>) -> Result<Option<Vec<f32>>> {
    model
        .hyperprior()
        .map(|h| to_vec(h.analyse(y.clone()), "hyper-latent"))
        .transpose()
}

/// Decodes one `.nic` file tile by tile ([`tiles`]).
pub fn decompress_tiled(
    model: &Autoencoder,
    coder: &Coder,
    bytes: &[u8],
    tiling: &Tiling,
    device: &Device,
) -> Result<RgbImage> {
    let (h, latent) = coder.decode(bytes)?;
    let shape = (
        h.channels as usize,
        h.latent_height as usize,
        h.latent_width as usize,
    );
    tiles::decode(model, &latent, shape, (h.width, h.height), tiling, device)
}

/// Decodes a batch of latents to images cropped to `size` (padded size `padded`).
pub fn decode_latents(
    model: &Autoencoder,
    latents: Tensor<4>,
    padded: (u32, u32),
    size: (u32, u32),
) -> Result<Vec<RgbImage>> {
    let n = latents.dims()[0];
    let y = to_vec(model.decode(latents), "reconstruction")?;
    Ok((0..n).map(|i| crop_image(&y, i, padded, size)).collect())
}

/// Decodes `.nic` files that share one image size, in one batch.
pub fn decompress_batch(
    model: &Autoencoder,
    coder: &Coder,
    files: &[&[u8]],
    device: &Device,
) -> Result<Vec<RgbImage>> {
    let mut values = Vec::new();
    let mut shape = None;
    for bytes in files {
        let (h, latent) = coder.decode(bytes)?;
        let this = (h.width, h.height, h.latent_height, h.latent_width);
        if shape.is_some_and(|s| s != this) {
            bail!("files of one batch must share their size");
        }
        shape = Some(this);
        values.extend(latent);
    }
    let Some((w, h, lh, lw)) = shape else {
        return Ok(Vec::new());
    };
    let c = values.len() / (files.len() * lh as usize * lw as usize);
    let z = Tensor::from_data(
        TensorData::new(values, [files.len(), c, lh as usize, lw as usize]),
        device,
    );
    decode_latents(model, z, padded(w, h, coder.scale), (w, h))
}

/// What a compress or decompress run did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    /// Files written.
    pub files: usize,
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Image pixels coded.
    pub pixels: u64,
}

/// Compresses the image `input` to `output`, or every image of the folder `input` into the
/// folder `output` (same relative paths, `.nic` extension).
pub fn compress(s: &Session, input: &Path, output: &Path) -> Result<Totals> {
    let jobs = if input.is_dir() {
        let files = only(input, &IMAGE_EXTENSIONS, "images (png, jpg, jpeg, webp)")?;
        mirror(&files, input, output, "nic")
    } else {
        vec![(input.to_path_buf(), output.to_path_buf())]
    };
    let bar = bar(jobs.len(), "compressing");
    let encoder = s.encoder()?;
    let mut totals = Totals::default();
    for chunk in batches(&jobs, s.batch_size, |(src, _)| {
        image::image_dimensions(src).unwrap_or((0, 0))
    }) {
        let (w, h) = image::image_dimensions(&chunk[0].0).unwrap_or((0, 0));
        let files = if is_tiled(w, h, s.coder.scale) {
            // One large image in memory at a time.
            let mut files = Vec::with_capacity(chunk.len());
            for (src, _) in chunk {
                let img = load_rgb(src)?;
                totals.pixels += u64::from(img.width()) * u64::from(img.height());
                let file = compress_tiled(&encoder, &s.coder, &img, &s.tiling)
                    .with_context(|| format!("{}", src.display()))?;
                files.push(file);
            }
            files
        } else {
            let images: Vec<RgbImage> = chunk
                .iter()
                .map(|(src, _)| load_rgb(src))
                .collect::<Result<_>>()?;
            let refs: Vec<&RgbImage> = images.iter().collect();
            totals.pixels += refs.len() as u64 * u64::from(w) * u64::from(h);
            compress_batch(&encoder, &s.coder, &refs, &s.device)?.0
        };
        for ((src, dst), bytes) in chunk.iter().zip(files) {
            write_file(dst, &bytes)?;
            totals.files += 1;
            totals.bytes_in += std::fs::metadata(src).map(|m| m.len()).unwrap_or(0);
            totals.bytes_out += bytes.len() as u64;
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish();
    Ok(totals)
}

/// Decompresses the `.nic` file `input` to the PNG `output`, or every `.nic` file of the
/// folder `input` into the folder `output` (same relative paths, `.png` extension).
pub fn decompress(s: &Session, input: &Path, output: &Path) -> Result<Totals> {
    let jobs = if input.is_dir() {
        let files = only(input, &["nic"], ".nic files")?;
        mirror(&files, input, output, "png")
    } else {
        vec![(input.to_path_buf(), output.to_path_buf())]
    };
    let bar = bar(jobs.len(), "decompressing");
    let mut totals = Totals::default();
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    // Batches group files of one image size; the size is read from each header.
    let mut loaded = Vec::with_capacity(jobs.len());
    for (src, dst) in &jobs {
        let bytes = read(src)?;
        let (h, _) = super::nic::parse(&bytes).with_context(|| format!("{}", src.display()))?;
        loaded.push((src.clone(), dst.clone(), bytes, (h.width, h.height)));
    }
    let mut emit = |dst: &Path, bytes: &[u8], img: &RgbImage| -> Result<()> {
        let png = png_bytes(img)?;
        write_file(dst, &png)?;
        totals.files += 1;
        totals.bytes_in += bytes.len() as u64;
        totals.bytes_out += png.len() as u64;
        totals.pixels += u64::from(img.width()) * u64::from(img.height());
        Ok(())
    };
    for chunk in batches(&loaded, s.batch_size, |(_, _, _, size)| *size) {
        let (w, h) = chunk[0].3;
        if is_tiled(w, h, s.coder.scale) {
            // One large image in memory at a time.
            for (src, dst, bytes, _) in chunk {
                let img = decompress_tiled(&s.model, &s.coder, bytes, &s.tiling, &s.device)
                    .with_context(|| format!("{}", src.display()))?;
                emit(dst, bytes, &img)?;
            }
        } else {
            let files: Vec<&[u8]> = chunk.iter().map(|(_, _, b, _)| b.as_slice()).collect();
            let images =
                decompress_batch(&s.model, &s.coder, &files, &s.device).with_context(|| {
                    let names: Vec<String> = chunk
                        .iter()
                        .map(|(p, ..)| p.display().to_string())
                        .collect();
                    names.join(", ")
                })?;
            for ((_, dst, bytes, _), img) in chunk.iter().zip(images) {
                emit(dst, bytes, &img)?;
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish();
    Ok(totals)
}

/// The PNG file of `img`.
fn png_bytes(img: &RgbImage) -> Result<Vec<u8>> {
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .context("cannot encode PNG")?;
    Ok(png)
}

/// Pixels of a batch at the most (fewer images per batch for large ones): the network's
/// activations take about 1.4 GB per megapixel on the shipped codecs.
pub const BATCH_PIXELS: u64 = 1 << 19;

/// Consecutive runs of `items` with the same image size `key`, at most `size` long and at
/// most [`BATCH_PIXELS`] pixels (at least one image): the batches `niclab eval` also forms,
/// so a folder decompresses to its exact pixels.
pub fn batches<T>(items: &[T], size: usize, key: impl Fn(&T) -> (u32, u32)) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let k = key(&items[start]);
        let px = (u64::from(k.0) * u64::from(k.1)).max(1);
        let size = size.min((BATCH_PIXELS / px) as usize).max(1);
        let mut end = start + 1;
        while end < items.len() && end - start < size && key(&items[end]) == k {
            end += 1;
        }
        out.push(&items[start..end]);
        start = end;
    }
    out
}

/// The files of the folder `dir` with one of `extensions`: a folder holding none, or any
/// other file (named, never skipped silently), is an error.
fn only(dir: &Path, extensions: &[&str], what: &str) -> Result<Vec<PathBuf>> {
    let (files, others) = list_files(dir, extensions)?;
    if let Some(stray) = others.first() {
        bail!(
            "{} holds files that are not {what}, e.g. {}: move them out",
            dir.display(),
            stray.display()
        );
    }
    if files.is_empty() {
        bail!("{} holds no {what}", dir.display());
    }
    Ok(files)
}

fn mirror(files: &[PathBuf], from: &Path, to: &Path, ext: &str) -> Vec<(PathBuf, PathBuf)> {
    files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(from).unwrap_or(f);
            (f.clone(), to.join(rel).with_extension(ext))
        })
        .collect()
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_atomic(path, bytes)
}
