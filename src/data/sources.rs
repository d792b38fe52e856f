//! Where the real photographs sit inside the unpacked Debian packages (`make data` puts them in
//! `datasets/raw/`), which files are photos and which are drawings, and how GCompris' WebP
//! photos are found inside its Qt resource files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Lomiri wallpapers that are drawings or patterns, not photographs.
pub const LOMIRI_EXCLUDED: [&str; 5] = [
    "umang_",
    "analogpattern_",
    "Fossa_",
    "Painting-Colors_",
    "Infinite-Sea_",
];

/// Plasma wallpapers that are photographs.
pub const PLASMA_PHOTOS: [&str; 10] = [
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "Kite",
    "OneStandsOut",
    "Path",
    "summer_1am",
];

/// GCompris activities whose resource files hold photographs.
pub const GCOMPRIS_RCC: [&str; 5] = [
    "erase",
    "explore_monuments",
    "explore_world_animals",
    "explore_farm_animals",
    "explore_world_music",
];

/// A source photo: a short unique id and its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePhoto {
    /// Short name used in crop names and manifests.
    pub id: String,
    /// The file under the raw folder.
    pub path: PathBuf,
}

fn sorted_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("{} is missing: run `make data` first", dir.display()))?
    {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_file() && keep(name) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The 24 test photographs: Lomiri's photos (both packages unpack into one folder) and ten
/// Plasma wallpapers, in a fixed order.
pub fn test_photos(raw: &Path) -> Result<Vec<SourcePhoto>> {
    let lomiri = sorted_files(&raw.join("usr/share/backgrounds"), |n| {
        n.contains("_by_")
            && n.ends_with(".jpg")
            && !LOMIRI_EXCLUDED.iter().any(|p| n.starts_with(p))
    })?;
    let mut photos: Vec<SourcePhoto> = lomiri
        .into_iter()
        .map(|p| SourcePhoto {
            id: stem(&p),
            path: p,
        })
        .collect();
    for name in PLASMA_PHOTOS {
        photos.push(SourcePhoto {
            id: name.to_string(),
            path: raw.join(format!(
                "usr/share/wallpapers/{name}/contents/images/2560x1600.jpg"
            )),
        });
    }
    Ok(photos)
}

/// Training photographs that are plain files: MATE's nature backgrounds, Tux Paint's photo
/// templates and Palapeli's puzzle photos, each with the sub-folder it is copied into.
pub fn train_photo_files(raw: &Path) -> Result<Vec<(&'static str, PathBuf)>> {
    let jpg = |n: &str| n.ends_with(".jpg");
    let mut out = Vec::new();
    for (group, dir) in [
        ("mate", "usr/share/backgrounds/mate/nature"),
        ("tuxpaint", "usr/share/tuxpaint/templates"),
        ("palapeli", "usr/share/palapeli/collection"),
    ] {
        for p in sorted_files(&raw.join(dir), jpg)? {
            out.push((group, p));
        }
    }
    Ok(out)
}

/// The GCompris resource files that hold photographs.
pub fn gcompris_rcc_files(raw: &Path) -> Vec<PathBuf> {
    GCOMPRIS_RCC
        .iter()
        .map(|n| raw.join(format!("usr/share/gcompris-qt/rcc/{n}.rcc")))
        .collect()
}

/// The lossy, opaque WebP files stored uncompressed inside a Qt resource file.
///
/// A WebP file is a RIFF container: `RIFF`, a little-endian length, `WEBP`, then chunks.
/// Kept: files whose image chunk is lossy `VP8 ` with no alpha (`ALPH`), no lossless `VP8L`
/// and no animation (`ANIM`): the photographs. Icons and drawings use the others.
pub fn extract_webp_photos(rcc: &[u8]) -> Vec<&[u8]> {
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(off) = find(&rcc[i..], b"RIFF") {
        let start = i + off;
        i = start + 4;
        let Some(header) = rcc.get(start..start + 12) else {
            break;
        };
        if &header[8..12] != b"WEBP" {
            continue;
        }
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let Some(file) = rcc.get(start..start + 8 + len) else {
            continue;
        };
        let chunks = chunk_ids(&file[12..]);
        let lossy = chunks.iter().any(|c| c == b"VP8 ");
        let other = chunks
            .iter()
            .any(|c| matches!(c, b"ALPH" | b"VP8L" | b"ANIM"));
        if lossy && !other {
            found.push(file);
            i = start + 8 + len;
        }
    }
    found
}

fn chunk_ids(mut body: &[u8]) -> Vec<[u8; 4]> {
    let mut ids = Vec::new();
    while body.len() >= 8 {
        let id = [body[0], body[1], body[2], body[3]];
        let len = u32::from_le_bytes([body[4], body[5], body[6], body[7]]) as usize;
        ids.push(id);
        let next = 8usize.saturating_add(len).saturating_add(len & 1);
        if next > body.len() {
            break;
        }
        body = &body[next..];
    }
    ids
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webp(chunks: &[(&[u8; 4], usize)]) -> Vec<u8> {
        let mut body = b"WEBP".to_vec();
        for (id, len) in chunks {
            body.extend_from_slice(*id);
            body.extend_from_slice(&(*len as u32).to_le_bytes());
            body.extend(std::iter::repeat_n(7u8, *len + (*len & 1)));
        }
        let mut f = b"RIFF".to_vec();
        f.extend_from_slice(&(body.len() as u32).to_le_bytes());
        f.extend(body);
        f
    }

    #[test]
    fn finds_lossy_opaque_webps_only() {
        let photo = webp(&[(b"VP8X", 10), (b"ICCP", 3), (b"VP8 ", 20)]);
        let plain = webp(&[(b"VP8 ", 11)]);
        let alpha = webp(&[(b"VP8X", 10), (b"ALPH", 4), (b"VP8 ", 20)]);
        let lossless = webp(&[(b"VP8L", 9)]);
        let mut rcc = b"qres\0\0RIFFxxxxWAVE".to_vec();
        for f in [&photo, &alpha, &plain, &lossless] {
            rcc.extend_from_slice(b"\0\0\x01");
            rcc.extend_from_slice(f);
        }
        rcc.extend_from_slice(b"RIFF\xff\xff\xff\x00WEBP"); // truncated: ignored
        let found = extract_webp_photos(&rcc);
        assert_eq!(found, vec![photo.as_slice(), plain.as_slice()]);
    }
}
