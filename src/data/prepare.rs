//! `niclab data prepare`: the fixed 1000-crop test set with its manifest, and the training
//! folder, from the unpacked Debian packages.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::progress::bar;
use anyhow::{Context, Result, bail, ensure};
use image::RgbImage;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::batches::{grid_cells, mix_seed};
use super::images::{downscale, list_images, load_rgb};
use super::sources::{extract_webp_photos, gcompris_rcc_files, test_photos, train_photo_files};

/// How a test set is cut from its photos.
#[derive(Debug, Clone, Copy)]
pub struct TestSetSpec {
    /// Number of crops.
    pub count: usize,
    /// Side of a crop.
    pub crop: u32,
    /// Photos are shrunk by this factor first (area averaging), which washes out their JPEG
    /// artefacts.
    pub downscale: usize,
    /// Seed of the crop choice.
    pub seed: u64,
}

/// The fixed test set of niclab: 1000 crops of 128x128 from photos halved in size.
pub const TEST_1000: TestSetSpec = TestSetSpec {
    count: 1000,
    crop: 128,
    downscale: 2,
    seed: 2024,
};

/// The second test set: each of the 24 test photos halved (area averaging), then its centre
/// cut to at most 768x512, Kodak's size (a photo smaller than that after halving is kept
/// whole), where a JPEG's ~620 bytes of tables weigh about 0.013 bpp instead of 0.30 on a
/// 128x128 crop.
pub const TEST_PHOTOS: PhotoSetSpec = PhotoSetSpec {
    width: 768,
    height: 512,
    downscale: 2,
};

/// How the full-size test set is cut from its photos.
#[derive(Debug, Clone, Copy)]
pub struct PhotoSetSpec {
    /// Largest width of an image.
    pub width: u32,
    /// Largest height of an image.
    pub height: u32,
    /// Photos are shrunk by this factor first.
    pub downscale: usize,
}

/// Columns of the manifest.
pub const MANIFEST_HEADER: &str = "crop\tsource\tsource_sha256\tx\ty\tpixels_sha256";

pub use crate::digest::sha256_hex;

/// Splits `total` crops over photos holding `caps` grid cells each, as evenly as the caps
/// allow: every photo gets the same number, except that a photo with fewer cells gives all it
/// has and the rest is shared by the others; a remainder goes one each to the first photos that
/// still have room.
pub fn allocate(caps: &[usize], total: usize) -> Result<Vec<usize>> {
    let available: usize = caps.iter().sum();
    ensure!(
        available >= total,
        "the photos hold {available} grid cells, fewer than the {total} crops asked for"
    );
    let filled = |level: usize| caps.iter().map(|c| (*c).min(level)).sum::<usize>();
    // The highest level that does not overshoot; then hand out the remainder.
    let (mut lo, mut hi) = (0, caps.iter().copied().max().unwrap_or(0));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if filled(mid) <= total {
            lo = mid
        } else {
            hi = mid - 1
        }
    }
    let mut alloc: Vec<usize> = caps.iter().map(|c| (*c).min(lo)).collect();
    let mut rest = total - filled(lo);
    for (a, c) in alloc.iter_mut().zip(caps) {
        if rest > 0 && *c > *a {
            *a += 1;
            rest -= 1;
        }
    }
    Ok(alloc)
}

/// One row of the test-set manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRow {
    /// Crop file name.
    pub crop: String,
    /// Id of the source photo.
    pub source: String,
    /// SHA-256 of the source file.
    pub source_sha256: String,
    /// Left edge in the downscaled photo.
    pub x: u32,
    /// Top edge in the downscaled photo.
    pub y: u32,
    /// SHA-256 of the crop's RGB samples, row by row (independent of PNG encoding).
    pub pixels_sha256: String,
}

impl ManifestRow {
    fn to_line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            self.crop, self.source, self.source_sha256, self.x, self.y, self.pixels_sha256
        )
    }
}

/// Renders a manifest file.
pub fn manifest_text(rows: &[ManifestRow]) -> String {
    let mut s = format!("{MANIFEST_HEADER}\n");
    for r in rows {
        s.push_str(&r.to_line());
        s.push('\n');
    }
    s
}

/// Parses a manifest file.
pub fn parse_manifest(text: &str, origin: &Path) -> Result<Vec<ManifestRow>> {
    let mut lines = text.lines();
    ensure!(
        lines.next() == Some(MANIFEST_HEADER),
        "{}:1: not a test-set manifest (expected header `{MANIFEST_HEADER}`)",
        origin.display()
    );
    lines
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split('\t').collect();
            let bad = || anyhow::anyhow!("{}:{}: malformed manifest row", origin.display(), i + 2);
            if f.len() != 6 {
                return Err(bad());
            }
            Ok(ManifestRow {
                crop: f[0].into(),
                source: f[1].into(),
                source_sha256: f[2].into(),
                x: f[3].parse().map_err(|_| bad())?,
                y: f[4].parse().map_err(|_| bad())?,
                pixels_sha256: f[5].into(),
            })
        })
        .collect()
}

/// The crops of one photo: decodes, downscales, and picks `count` grid cells by seed.
fn crops_of(pixels: &RgbImage, side: u32, count: usize, seed: u64) -> Vec<(u32, u32, RgbImage)> {
    let mut cells = grid_cells(pixels.width(), pixels.height(), side);
    cells.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    cells.truncate(count);
    cells.sort_by_key(|&(x, y)| (y, x));
    cells
        .into_iter()
        .map(|(x, y)| {
            let c = image::imageops::crop_imm(pixels, x, y, side, side).to_image();
            (x, y, c)
        })
        .collect()
}

/// Builds the test set from the photos under `raw` into `out` (replaced whole, via a
/// temporary folder) and returns its manifest rows.
pub fn prepare_test_set(raw: &Path, out: &Path, spec: TestSetSpec) -> Result<Vec<ManifestRow>> {
    let (photos, decoded) = decode_test_photos(raw, spec.downscale)?;
    let caps: Vec<usize> = decoded
        .iter()
        .map(|(_, img)| grid_cells(img.width(), img.height(), spec.crop).len())
        .collect();
    let counts = allocate(&caps, spec.count)?;

    let tmp = out.with_extension("partial");
    fresh_dir(&tmp)?;
    let pb = bar(spec.count, "writing test crops");
    let mut rows = Vec::with_capacity(spec.count);
    for (i, ((photo, (sha, img)), n)) in photos.iter().zip(&decoded).zip(&counts).enumerate() {
        for (x, y, crop) in crops_of(img, spec.crop, *n, mix_seed(&[spec.seed, i as u64])) {
            let name = format!("{}_x{x:04}_y{y:04}.png", photo.id);
            rows.push(save_cut(&tmp, name, photo, sha, (x, y), &crop)?);
            pb.inc(1);
        }
    }
    pb.finish();
    replace_dir(&tmp, out)?;
    Ok(rows)
}

/// The 24 test photos (id and path) and each one's file SHA-256 and pixels shrunk by
/// `factor`.
type Decoded = (Vec<super::sources::SourcePhoto>, Vec<(String, RgbImage)>);

fn decode_test_photos(raw: &Path, factor: usize) -> Result<Decoded> {
    let photos = test_photos(raw)?;
    ensure!(
        photos.len() == 24,
        "expected the 24 test photos under {}, found {}: run `make data`",
        raw.display(),
        photos.len()
    );
    let pb = bar(photos.len(), "decoding test photos");
    let mut decoded = Vec::new();
    for p in &photos {
        let bytes = fs::read(&p.path)
            .with_context(|| format!("{} is missing: run `make data`", p.path.display()))?;
        let img = image::load_from_memory(&bytes)
            .with_context(|| format!("{}: not a readable image", p.path.display()))?
            .to_rgb8();
        decoded.push((sha256_hex(&bytes), downscale(&img, factor)));
        pb.inc(1);
    }
    pb.finish();
    Ok((photos, decoded))
}

/// Writes `img`, cut at `(x, y)` from `photo` (file SHA-256 `sha`), as `dir/name`, and
/// returns its manifest row.
fn save_cut(
    dir: &Path,
    name: String,
    photo: &super::sources::SourcePhoto,
    sha: &str,
    (x, y): (u32, u32),
    img: &RgbImage,
) -> Result<ManifestRow> {
    img.save(dir.join(&name))
        .with_context(|| format!("cannot write {}", dir.join(&name).display()))?;
    Ok(ManifestRow {
        crop: name,
        source: photo.id.clone(),
        source_sha256: sha.to_string(),
        x,
        y,
        pixels_sha256: sha256_hex(img.as_raw()),
    })
}

/// An empty folder at `dir` (cleared if it was there).
fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// `tmp` moved to `out`, replacing what was there.
fn replace_dir(tmp: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        fs::remove_dir_all(out).with_context(|| format!("cannot replace {}", out.display()))?;
    }
    fs::rename(tmp, out).with_context(|| format!("cannot move images into {}", out.display()))
}

/// Builds the full-size test set (one image per test photo, its centre) into `out` and
/// returns its manifest rows.
pub fn prepare_photo_set(raw: &Path, out: &Path, spec: PhotoSetSpec) -> Result<Vec<ManifestRow>> {
    let (photos, decoded) = decode_test_photos(raw, spec.downscale)?;
    let tmp = out.with_extension("partial");
    fresh_dir(&tmp)?;
    let mut rows = Vec::with_capacity(photos.len());
    for (photo, (sha, img)) in photos.iter().zip(&decoded) {
        let (w, h) = img.dimensions();
        let (cw, ch) = (w.min(spec.width), h.min(spec.height));
        let (x, y) = ((w - cw) / 2, (h - ch) / 2);
        let cut = image::imageops::crop_imm(img, x, y, cw, ch).to_image();
        rows.push(save_cut(
            &tmp,
            format!("{}.png", photo.id),
            photo,
            sha,
            (x, y),
            &cut,
        )?);
    }
    replace_dir(&tmp, out)?;
    Ok(rows)
}

/// Checks freshly made rows against the committed manifest read from `origin`.
pub fn compare_with_manifest(
    rows: &[ManifestRow],
    expected: &[ManifestRow],
    origin: &Path,
) -> Result<()> {
    if let Some((got, want)) = rows.iter().zip(expected).find(|(a, b)| a != b) {
        bail!(
            "test crop {} differs from {} (expected {} with pixels {}): the photos or the \
             decoder are not the pinned ones",
            got.crop,
            origin.display(),
            want.crop,
            want.pixels_sha256
        );
    }
    ensure!(
        rows.len() == expected.len(),
        "made {} test crops, {} lists {}",
        rows.len(),
        origin.display(),
        expected.len()
    );
    Ok(())
}

/// Checks that `dir` holds exactly the images of the manifest (each `size` when given),
/// pixel for pixel.
pub fn verify_test_set(dir: &Path, rows: &[ManifestRow], size: Option<(u32, u32)>) -> Result<()> {
    let (files, others) = list_images(dir)?;
    ensure!(
        others.is_empty(),
        "{} holds {} non-image file(s)",
        dir.display(),
        others.len()
    );
    ensure!(
        files.len() == rows.len(),
        "{} holds {} images, the manifest lists {}",
        dir.display(),
        files.len(),
        rows.len()
    );
    for row in rows {
        let path = dir.join(&row.crop);
        let img = load_rgb(&path)?;
        if let Some((w, h)) = size {
            ensure!(
                img.dimensions() == (w, h),
                "{}: is {}x{}, not {w}x{h}",
                path.display(),
                img.width(),
                img.height()
            );
        }
        let got = sha256_hex(img.as_raw());
        ensure!(
            got == row.pixels_sha256,
            "{}: pixels differ from the manifest (sha256 {got}, expected {})",
            path.display(),
            row.pixels_sha256
        );
    }
    Ok(())
}

/// What went into the training folder.
pub struct TrainSet {
    /// Files written, with the sha256 of their bytes and where they came from.
    pub files: Vec<(PathBuf, String, String)>,
    /// Byte-identical duplicates left out.
    pub duplicates: usize,
}

/// Copies the training photos (and the WebP photos inside GCompris' resources) into `out`,
/// byte for byte, and writes `out/SOURCES.tsv`. Refuses any file whose bytes are one of the
/// test photos (`test_sha256`).
pub fn prepare_train_set(raw: &Path, out: &Path, test_sha256: &[String]) -> Result<TrainSet> {
    let mut items: Vec<(PathBuf, Vec<u8>, String)> = Vec::new();
    for (group, path) in train_photo_files(raw)? {
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let name = path.file_name().map(|n| n.to_owned()).unwrap_or_default();
        let rel = path
            .strip_prefix(raw)
            .unwrap_or(&path)
            .display()
            .to_string();
        items.push((PathBuf::from(group).join(name), bytes, rel));
    }
    for rcc in gcompris_rcc_files(raw) {
        let bytes = fs::read(&rcc)
            .with_context(|| format!("{} is missing: run `make data`", rcc.display()))?;
        let stem = rcc
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rel = rcc.strip_prefix(raw).unwrap_or(&rcc).display().to_string();
        for (i, webp) in extract_webp_photos(&bytes).into_iter().enumerate() {
            let name = PathBuf::from("gcompris").join(format!("{stem}-{i:03}.webp"));
            items.push((name, webp.to_vec(), format!("{rel}#{i}")));
        }
    }
    ensure!(
        !items.is_empty(),
        "no training photos under {}: run `make data`",
        raw.display()
    );

    let tmp = out.with_extension("partial");
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let mut files = Vec::new();
    let mut duplicates = 0;
    for (rel, bytes, source) in items {
        let sha = sha256_hex(&bytes);
        if test_sha256.contains(&sha) {
            bail!("training source {source} is one of the test photos");
        }
        if seen.contains_key(&sha) {
            duplicates += 1;
            continue;
        }
        seen.insert(sha.clone(), rel.clone());
        let dest = tmp.join(&rel);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&dest, &bytes).with_context(|| format!("cannot write {}", dest.display()))?;
        files.push((rel, sha, source));
    }
    let mut tsv = String::from("file\tsha256\tsource\n");
    for (rel, sha, source) in &files {
        tsv.push_str(&format!("{}\t{sha}\t{source}\n", rel.display()));
    }
    fs::write(tmp.join("SOURCES.tsv"), tsv)?;
    if out.exists() {
        fs::remove_dir_all(out)?;
    }
    fs::rename(&tmp, out)?;
    Ok(TrainSet { files, duplicates })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_even_within_caps() {
        assert_eq!(allocate(&[10, 10, 10], 9).unwrap(), [3, 3, 3]);
        assert_eq!(allocate(&[10, 10, 10], 10).unwrap(), [4, 3, 3]);
        assert_eq!(allocate(&[2, 10, 10], 12).unwrap(), [2, 5, 5]);
        assert_eq!(allocate(&[2, 10, 10], 13).unwrap(), [2, 6, 5]);
        assert_eq!(allocate(&[3, 3], 6).unwrap(), [3, 3]);
        assert!(allocate(&[3, 3], 7).is_err());
        let caps = [60, 20, 45, 300];
        let a = allocate(&caps, 150).unwrap();
        assert_eq!(a.iter().sum::<usize>(), 150);
        assert_eq!(a, [44, 20, 43, 43]);
    }

    #[test]
    fn manifest_round_trips_and_rejects_garbage() {
        let rows = vec![ManifestRow {
            crop: "a_x0000_y0128.png".into(),
            source: "a".into(),
            source_sha256: "00".into(),
            x: 0,
            y: 128,
            pixels_sha256: "ff".into(),
        }];
        let text = manifest_text(&rows);
        assert_eq!(parse_manifest(&text, Path::new("m.tsv")).unwrap(), rows);
        let err =
            parse_manifest(&text.replace("\t128\t", "\tx\t"), Path::new("m.tsv")).unwrap_err();
        assert_eq!(err.to_string(), "m.tsv:2: malformed manifest row");
        assert!(parse_manifest("nope\n", Path::new("m.tsv")).is_err());
    }
}
