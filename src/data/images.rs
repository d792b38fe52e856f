//! Reading a folder of images: which files count, how colour modes are normalised, and a
//! report of everything left out, so nothing is skipped silently.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::progress::bar;
use anyhow::{Context, Result, bail};
use image::RgbImage;
use walkdir::WalkDir;

/// File extensions read as images (case-insensitive).
pub const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "webp"];

/// Whether `path` has one of [`IMAGE_EXTENSIONS`].
pub fn is_image_path(path: &Path) -> bool {
    has_extension(path, &IMAGE_EXTENSIONS)
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// All image files under `dir`, sorted by path so every machine sees the same order.
/// Returns the images and the other files seen.
pub fn list_images(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    if !dir.is_dir() {
        bail!(
            "image folder {} does not exist or is not a folder",
            dir.display()
        );
    }
    list_files(dir, &IMAGE_EXTENSIONS)
}

/// All files under `dir` with one of `extensions` (any case), sorted by path, and the other
/// files seen.
pub fn list_files(dir: &Path, extensions: &[&str]) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut matching = Vec::new();
    let mut others = Vec::new();
    for entry in WalkDir::new(dir).follow_links(true).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot walk {}", dir.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        if has_extension(entry.path(), extensions) {
            matching.push(entry.into_path());
        } else {
            others.push(entry.into_path());
        }
    }
    Ok((matching, others))
}

/// Decodes an image file to 8-bit RGB.
///
/// The stated rule for other modes: greyscale is copied to the three channels, an alpha
/// channel is dropped (colour kept as stored), 16-bit and float samples are scaled to 8 bits.
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    let reader = image::ImageReader::open(path)
        .with_context(|| format!("{}: cannot open", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let img = reader
        .decode()
        .with_context(|| format!("{}: not a readable image", path.display()))?;
    Ok(img.to_rgb8())
}

/// Shrinks by an integer `factor` with area averaging (each output pixel is the rounded mean
/// of a `factor x factor` block); a right or bottom remainder is cut off.
pub fn downscale(img: &RgbImage, factor: usize) -> RgbImage {
    if factor <= 1 {
        return img.clone();
    }
    let f = factor as u32;
    let (w, h) = (img.width() / f, img.height() / f);
    let n = f * f;
    RgbImage::from_fn(w, h, |x, y| {
        let mut sum = [0u32; 3];
        for dy in 0..f {
            for dx in 0..f {
                let p = img.get_pixel(x * f + dx, y * f + dy);
                for c in 0..3 {
                    sum[c] += p[c] as u32;
                }
            }
        }
        image::Rgb(sum.map(|s| ((s + n / 2) / n) as u8))
    })
}

/// Why an image was left out.
#[derive(Debug, Clone)]
pub enum Problem {
    /// The file could not be decoded.
    Unreadable(String),
    /// Smaller than the crop size after downscaling.
    TooSmall {
        /// Width after downscaling.
        width: u32,
        /// Height after downscaling.
        height: u32,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unreadable(e) => write!(f, "unreadable: {e}"),
            Problem::TooSmall { width, height } => {
                write!(f, "too small after downscaling ({width}x{height})")
            }
        }
    }
}

/// One decoded photo kept in memory.
pub struct Photo {
    /// Where it came from.
    pub path: PathBuf,
    /// Its pixels after downscaling.
    pub pixels: RgbImage,
}

/// What loading a folder found.
pub struct Loaded {
    /// The photos kept, in path order.
    pub photos: Vec<Photo>,
    /// Images left out, with why.
    pub problems: Vec<(PathBuf, Problem)>,
    /// Files that are not images by extension.
    pub other_files: usize,
}

impl Loaded {
    /// One-line summary for the user.
    pub fn summary(&self, dir: &Path) -> String {
        format!(
            "{}: {} images loaded, {} left out, {} non-image files ignored",
            dir.display(),
            self.photos.len(),
            self.problems.len(),
            self.other_files
        )
    }
}

/// Loads every image under `dir`, shrunk by `downscale`; images that cannot be read or are
/// smaller than `min_side` are reported (and fatal when `strict`).
pub fn load_folder(
    dir: &Path,
    downscale_by: usize,
    min_side: usize,
    strict: bool,
) -> Result<Loaded> {
    let (paths, others) = list_images(dir)?;
    let other_files = others.len();
    if paths.is_empty() {
        bail!("{} holds no images ({:?})", dir.display(), IMAGE_EXTENSIONS);
    }
    let bar = bar(paths.len(), "decoding images");
    let mut photos = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        bar.inc(1);
        let problem = match load_rgb(&path) {
            Ok(img) => {
                let pixels = downscale(&img, downscale_by);
                let (width, height) = pixels.dimensions();
                if (width as usize) < min_side || (height as usize) < min_side {
                    Problem::TooSmall { width, height }
                } else {
                    photos.push(Photo { path, pixels });
                    continue;
                }
            }
            Err(e) => Problem::Unreadable(format!("{e:#}")),
        };
        if strict {
            bar.finish();
            bail!("{}: {problem} (strict mode)", path.display());
        }
        problems.push((path, problem));
    }
    bar.finish();
    for (path, problem) in &problems {
        eprintln!("warning: left out {}: {problem}", path.display());
    }
    Ok(Loaded {
        photos,
        problems,
        other_files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downscale_averages_blocks_with_rounding() {
        let img = RgbImage::from_fn(5, 4, |x, y| {
            image::Rgb([(x * 10) as u8, (y * 10) as u8, 255])
        });
        let d = downscale(&img, 2);
        assert_eq!(d.dimensions(), (2, 2));
        // Block (0..2, 0..2): red 0,10,0,10 -> 5; green 0,0,10,10 -> 5.
        assert_eq!(d.get_pixel(0, 0).0, [5, 5, 255]);
        assert_eq!(d.get_pixel(1, 1).0, [25, 25, 255]);
        let odd = RgbImage::from_fn(2, 1, |x, _| image::Rgb([x as u8, 0, 0]));
        assert_eq!(downscale(&odd, 2).dimensions(), (1, 0));
        let half = RgbImage::from_fn(2, 2, |x, y| image::Rgb([(x + y == 2) as u8, 0, 0]));
        assert_eq!(
            downscale(&half, 2).get_pixel(0, 0).0[0],
            0,
            "0.25 rounds down"
        );
    }
}
