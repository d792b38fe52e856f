//! Training batches cut from photos in memory: a validation split by photo, fixed validation
//! crops, and random crops with flips that are a pure function of `(seed, step)`, so a resumed
//! run sees exactly the batches an uninterrupted one would.

use anyhow::{Result, bail};
use burn::prelude::*;
use burn::tensor::TensorData;
use image::RgbImage;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::images::{Photo, load_folder};
use crate::config::DataConfig;

/// A batch of square RGB crops as `f32` in [0, 1], laid out `[B, 3, S, S]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Number of crops.
    pub len: usize,
    /// Side of each crop.
    pub side: usize,
    /// Channel-planar samples.
    pub values: Vec<f32>,
}

impl Batch {
    /// Packs crops (all `side x side`) into one planar buffer.
    pub fn from_crops<'a>(crops: impl IntoIterator<Item = &'a RgbImage>, side: usize) -> Self {
        let mut values = Vec::new();
        let mut len = 0;
        for crop in crops {
            push_planar(&mut values, crop);
            len += 1;
        }
        Self { len, side, values }
    }

    /// The batch as a tensor on `device`.
    pub fn to_tensor(&self, device: &Device) -> Tensor<4> {
        let data = TensorData::new(self.values.clone(), [self.len, 3, self.side, self.side]);
        Tensor::from_data(data, device)
    }
}

/// One image as a `[1, 3, H, W]` tensor in [0, 1].
pub fn image_to_tensor(img: &RgbImage, device: &Device) -> Tensor<4> {
    images_to_tensor(&[img], device)
}

/// Images of one size as a `[B, 3, H, W]` tensor in [0, 1].
pub fn images_to_tensor(imgs: &[&RgbImage], device: &Device) -> Tensor<4> {
    let (w, h) = imgs.first().map_or((0, 0), |i| i.dimensions());
    let mut values = Vec::with_capacity(imgs.len() * 3 * (w * h) as usize);
    for img in imgs {
        push_planar(&mut values, img);
    }
    Tensor::from_data(
        TensorData::new(values, [imgs.len(), 3, h as usize, w as usize]),
        device,
    )
}

fn push_planar(out: &mut Vec<f32>, img: &RgbImage) {
    for c in 0..3 {
        out.extend(img.pixels().map(|p| p[c] as f32 / 255.0));
    }
}

/// Mixes seed words into one 64-bit seed (SplitMix64 finaliser), so nearby inputs give
/// unrelated streams.
pub fn mix_seed(words: &[u64]) -> u64 {
    let mut h = 0x9E37_79B9_7F4A_7C15u64;
    for w in words {
        let mut z = h ^ w.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h = z ^ (z >> 31);
    }
    h
}

/// The top-left corners of the non-overlapping `side x side` grid cells of a `w x h` image.
pub fn grid_cells(w: u32, h: u32, side: u32) -> Vec<(u32, u32)> {
    let mut cells = Vec::new();
    for y in 0..h / side {
        for x in 0..w / side {
            cells.push((x * side, y * side));
        }
    }
    cells
}

/// Training photos, the fixed validation crops and the batch schedule.
pub struct TrainingData {
    train: Vec<Photo>,
    val: Vec<RgbImage>,
    val_photos: usize,
    side: usize,
    batch_size: usize,
    crops_per_image: usize,
    seed: u64,
    epoch_order: Option<(u64, Vec<u32>)>,
    /// `data.final_crop_size` and `data.final_crop_steps`, as the config gave them.
    final_crops: Option<(usize, u64)>,
    /// The closing phase, once [`TrainingData::finish_at`] has placed it in the run.
    closing: Option<Closing>,
}

/// The closing phase of a run: from step `from` on, `crops` crops of side `side` a step.
#[derive(Debug, Clone, Copy)]
struct Closing {
    side: usize,
    crops: usize,
    from: u64,
}

impl TrainingData {
    /// Loads `cfg.train`, splits it by photo and cuts the validation crops.
    pub fn load(cfg: &DataConfig, batch_size: usize, seed: u64) -> Result<Self> {
        let side = cfg.final_crop_size.unwrap_or(0).max(cfg.crop_size);
        let loaded = load_folder(&cfg.train, cfg.downscale, side, cfg.strict)?;
        eprintln!("{}", loaded.summary(&cfg.train));
        Self::from_photos(loaded.photos, cfg, batch_size, seed)
    }

    /// Splits decoded photos (already downscaled) into training and validation.
    pub fn from_photos(
        mut photos: Vec<Photo>,
        cfg: &DataConfig,
        batch_size: usize,
        seed: u64,
    ) -> Result<Self> {
        let n = photos.len();
        let n_val = if cfg.val_fraction > 0.0 {
            ((n as f64 * cfg.val_fraction).round() as usize).max(1)
        } else {
            0
        };
        if n_val >= n {
            bail!(
                "{}: {n} usable image(s) cannot be split into training and validation \
                 (data.val_fraction = {}); add images or set data.val_fraction = 0",
                cfg.train.display(),
                cfg.val_fraction
            );
        }
        let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(&[seed, 0x5011]));
        photos.shuffle(&mut rng);
        let val_photos: Vec<Photo> = photos.drain(..n_val).collect();
        // Back to path order, so the epoch shuffles do not depend on the split shuffle.
        photos.sort_by(|a, b| a.path.cmp(&b.path));

        // Validation measures what evaluation will: crops of the closing size when there is one.
        let side = cfg.final_crop_size.unwrap_or(cfg.crop_size) as u32;
        let mut cells: Vec<(usize, u32, u32)> = val_photos
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                grid_cells(p.pixels.width(), p.pixels.height(), side)
                    .into_iter()
                    .map(move |(x, y)| (i, x, y))
            })
            .collect();
        cells.shuffle(&mut rng);
        cells.truncate(cfg.val_crops);
        cells.sort();
        let val = cells
            .iter()
            .map(|&(i, x, y)| {
                image::imageops::crop_imm(&val_photos[i].pixels, x, y, side, side).to_image()
            })
            .collect();

        let data = Self {
            train: photos,
            val,
            val_photos: n_val,
            side: cfg.crop_size,
            batch_size,
            crops_per_image: cfg.crops_per_image,
            seed,
            epoch_order: None,
            final_crops: cfg.final_crop_size.zip(cfg.final_crop_steps),
            closing: None,
        };
        if data.steps_per_epoch() == 0 {
            bail!(
                "train.batch_size = {batch_size} is larger than one epoch ({} training images x \
                 data.crops_per_image = {}); lower the batch size or raise crops_per_image",
                data.train.len(),
                cfg.crops_per_image
            );
        }
        Ok(data)
    }

    /// Number of training photos.
    pub fn train_photos(&self) -> usize {
        self.train.len()
    }

    /// Number of validation photos.
    pub fn val_photos(&self) -> usize {
        self.val_photos
    }

    /// Full batches per epoch (the remainder of an epoch is dropped).
    pub fn steps_per_epoch(&self) -> u64 {
        ((self.train.len() * self.crops_per_image) / self.batch_size) as u64
    }

    /// Places `data.final_crop_steps` at the end of a `total`-step run: from then on a step
    /// takes `crop_size² x batch / final_crop_size²` crops of the closing size (rounded up to
    /// a multiple of `multiple`, the devices that share a step), the same pixels as before.
    /// Without `data.final_crop_size` nothing changes. The sizes are those of the config the
    /// data was loaded with, so validation and training cannot disagree on them.
    pub fn finish_at(&mut self, total: u64, multiple: usize) {
        let Some((side, steps)) = self.final_crops else {
            return;
        };
        self.closing = Some(Closing {
            side,
            crops: closing_crops(self.batch_size, self.side, side, multiple),
            from: total.saturating_sub(steps),
        });
    }

    /// The side and number of the crops of step `step`.
    pub fn crops_at(&self, step: u64) -> (usize, usize) {
        match self.closing {
            Some(c) if step >= c.from => (c.side, c.crops),
            _ => (self.side, self.batch_size),
        }
    }

    /// The training batch of optimiser step `step` (0-based). A closing step keeps the
    /// order of an ordinary one and cuts its larger crops from the first photos of the slot,
    /// so the schedule stays a pure function of `(seed, step)`.
    pub fn batch(&mut self, step: u64) -> Batch {
        let per_epoch = self.steps_per_epoch();
        let epoch = step / per_epoch;
        let first = ((step % per_epoch) as usize) * self.batch_size;
        if self.epoch_order.as_ref().is_none_or(|(e, _)| *e != epoch) {
            let mut order: Vec<u32> =
                (0..(self.train.len() * self.crops_per_image) as u32).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix_seed(&[
                self.seed, epoch,
            ])));
            self.epoch_order = Some((epoch, order));
        }
        let Some((_, order)) = &self.epoch_order else {
            unreachable!("set just above")
        };
        let (crop_side, crops) = self.crops_at(step);
        let side = crop_side as u32;
        let mut values = Vec::with_capacity(crops * 3 * crop_side * crop_side);
        for (pos, entry) in order.iter().enumerate().skip(first).take(crops) {
            let photo = &self.train[*entry as usize / self.crops_per_image].pixels;
            let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(&[self.seed, epoch, pos as u64]));
            let x = rng.random_range(0..=photo.width() - side);
            let y = rng.random_range(0..=photo.height() - side);
            let mut crop = image::imageops::crop_imm(photo, x, y, side, side).to_image();
            if rng.random_bool(0.5) {
                image::imageops::flip_horizontal_in_place(&mut crop);
            }
            push_planar(&mut values, &crop);
        }
        Batch {
            len: crops,
            side: crop_side,
            values,
        }
    }

    /// The fixed validation crops, in batches of at most `batch_size`.
    pub fn val_batches(&self) -> Vec<Batch> {
        self.val
            .chunks(self.batch_size)
            .map(|c| Batch::from_crops(c, c[0].width() as usize))
            .collect()
    }
}

/// Crops of a closing step (`data.final_crop_size`): the pixels of `batch_size` crops of
/// `side`, in crops of `final_side`, rounded up to a multiple of `multiple` (the devices that
/// share a step), never more than `batch_size`.
pub fn closing_crops(batch_size: usize, side: usize, final_side: usize, multiple: usize) -> usize {
    (batch_size * side * side)
        .div_ceil(final_side * final_side)
        .next_multiple_of(multiple.max(1))
        .min(batch_size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn photos(n: usize) -> Vec<Photo> {
        (0..n)
            .map(|i| Photo {
                path: PathBuf::from(format!("p{i:02}.png")),
                pixels: RgbImage::from_fn(40 + i as u32, 36, |x, y| {
                    image::Rgb([(x * 3) as u8, (y * 5) as u8, (i * 20) as u8])
                }),
            })
            .collect()
    }

    fn cfg() -> DataConfig {
        DataConfig {
            crop_size: 16,
            val_fraction: 0.25,
            val_crops: 5,
            crops_per_image: 2,
            ..DataConfig::default()
        }
    }

    #[test]
    fn batches_are_a_function_of_seed_and_step() {
        let mut a = TrainingData::from_photos(photos(8), &cfg(), 4, 9).unwrap();
        let mut b = TrainingData::from_photos(photos(8), &cfg(), 4, 9).unwrap();
        assert_eq!((a.train_photos(), a.val_photos()), (6, 2));
        assert_eq!(a.steps_per_epoch(), 3);
        let first: Vec<Batch> = (0..7).map(|s| a.batch(s)).collect();
        // Asked out of order, the same step gives the same batch.
        assert_eq!(b.batch(5), first[5]);
        assert_eq!(b.batch(0), first[0]);
        assert_ne!(first[0], first[1]);
        assert_ne!(first[0], first[3], "a new epoch reshuffles and recrops");
        assert_eq!(first[0].values.len(), 4 * 3 * 16 * 16);
        let mut c = TrainingData::from_photos(photos(8), &cfg(), 4, 10).unwrap();
        assert_ne!(c.batch(0), first[0]);
    }

    /// `data.final_crop_size`: the closing steps take fewer, larger crops (the same pixels),
    /// the steps before are those of a run without it, and validation uses the closing size.
    #[test]
    fn closing_steps_take_larger_crops() {
        let closing = DataConfig {
            final_crop_size: Some(32),
            final_crop_steps: Some(2),
            ..cfg()
        };
        let mut plain = TrainingData::from_photos(photos(8), &cfg(), 4, 9).unwrap();
        let mut a = TrainingData::from_photos(photos(8), &closing, 4, 9).unwrap();
        a.finish_at(6, 1);
        for step in 0..4 {
            assert_eq!(a.batch(step), plain.batch(step), "step {step}");
        }
        for step in 4..6 {
            let b = a.batch(step);
            assert_eq!((b.len, b.side), (1, 32), "step {step}");
            assert_eq!(b.values.len(), 3 * 32 * 32);
        }
        assert_eq!(a.crops_at(3), (16, 4));
        assert_eq!(a.crops_at(5), (32, 1));
        // Two devices share a step: each gets one crop.
        a.finish_at(6, 2);
        assert_eq!(a.batch(5).len, 2);
        let val = a.val_batches();
        assert!(!val.is_empty());
        assert!(
            val.iter().all(|b| b.side == 32),
            "validation at the closing size"
        );
        // Without finish_at (or the setting) nothing changes.
        let unplaced = TrainingData::from_photos(photos(8), &closing, 4, 9).unwrap();
        assert_eq!(unplaced.crops_at(5), (16, 4));
    }

    #[test]
    fn validation_is_fixed_and_disjoint_by_photo() {
        let a = TrainingData::from_photos(photos(8), &cfg(), 4, 9).unwrap();
        let vb = a.val_batches();
        assert_eq!(vb.iter().map(|b| b.len).sum::<usize>(), 5);
        let train_paths: Vec<_> = a.train.iter().map(|p| p.path.clone()).collect();
        assert_eq!(train_paths.len(), 6);
        let b = TrainingData::from_photos(photos(8), &cfg(), 4, 9).unwrap();
        assert_eq!(b.val_batches(), vb);
    }

    #[test]
    fn too_few_images_is_a_clear_error() {
        let err = TrainingData::from_photos(photos(1), &cfg(), 4, 9)
            .err()
            .unwrap();
        assert!(err.to_string().contains("val_fraction"), "{err}");
        let err = TrainingData::from_photos(photos(4), &cfg(), 64, 9)
            .err()
            .unwrap();
        assert!(err.to_string().contains("batch_size"), "{err}");
    }
}
