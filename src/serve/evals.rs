//! Earlier evaluations (`niclab eval`, study members): every `eval/` folder under the runs
//! root with its `summary.json`, opened without recomputing, with its per-image rows.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How deep under the runs root the folder holding `eval/` may sit (`<study>/<member>` is 2).
const MAX_DEPTH: usize = 3;

/// An evaluation folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalDir {
    /// The path of the folder that holds `eval/`, under the root, `/`-separated.
    pub id: String,
    /// The `eval/` folder.
    pub dir: PathBuf,
}

/// Every evaluation under `root`, sorted by id; links are not followed. Its id is the path
/// of the folder that holds `eval/`.
pub fn discover(root: &Path) -> Vec<EvalDir> {
    super::folders::find(root, MAX_DEPTH, |d| {
        let eval = d.join("eval");
        let is_dir = fs::symlink_metadata(&eval).is_ok_and(|m| m.is_dir());
        (is_dir && eval.join("summary.json").is_file()).then_some(eval)
    })
    .into_iter()
    .map(|(id, dir)| EvalDir { id, dir })
    .collect()
}

/// An evaluation's summary as written (`summary.json`), with its id.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// Its id.
    pub id: String,
    /// `summary.json`, as `niclab eval` wrote it.
    pub summary: serde_json::Value,
}

/// Reads `summary.json`; the error names the file.
pub fn summary(e: &EvalDir) -> Result<Listed, String> {
    let path = e.dir.join("summary.json");
    let text = fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
    let summary =
        serde_json::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))?;
    Ok(Listed {
        id: e.id.clone(),
        summary,
    })
}

/// One row of `per_image.csv`: the image, the codec and its setting, and the figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageRow {
    /// The image's file name.
    pub image: String,
    /// `ae` or the classical codec.
    pub codec: String,
    /// The codec's setting (empty for the autoencoder).
    pub quality: String,
    /// Figures by column name (bytes, ratio, bpp, psnr, ssim, seconds, delta_e, ...).
    pub values: std::collections::BTreeMap<String, Option<f64>>,
}

/// The rows of `per_image.csv`; the error names the file and line.
pub fn per_image(e: &EvalDir) -> Result<Vec<ImageRow>, String> {
    let path = e.dir.join("per_image.csv");
    let text = fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| format!("{}: empty", path.display()))?
        .split(',')
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("{}: no column {name:?}", path.display()))
    };
    let (image, codec, quality) = (col("image")?, col("codec")?, col("quality")?);
    lines
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            let cells: Vec<&str> = l.split(',').collect();
            if cells.len() != header.len() {
                return Err(format!(
                    "{}:{}: {} cells, the header has {}",
                    path.display(),
                    i + 2,
                    cells.len(),
                    header.len()
                ));
            }
            let values = header
                .iter()
                .zip(&cells)
                .enumerate()
                .filter(|(k, _)| ![image, codec, quality].contains(k))
                .map(|(_, (h, c))| (h.to_string(), c.parse().ok()))
                .collect();
            Ok(ImageRow {
                image: cells[image].to_string(),
                codec: cells[codec].to_string(),
                quality: cells[quality].to_string(),
                values,
            })
        })
        .collect()
}

/// Extensions of the files a browser can show, in the order they are looked for.
const SHOWN: [(&str, &str); 4] = [
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
];

/// Folders of an evaluation that hold no codec's images.
const NOT_VERSIONS: [&str; 2] = ["plots", "strips"];

/// One version of the images the viewer can show: `ae` (the autoencoder's reconstructions)
/// or a classical codec at one setting (`jpeg-q79`), with the `per_image.csv` rows it
/// matches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Version {
    /// Its folder's name.
    pub name: String,
    /// `ae` or the codec (the `codec` column).
    pub codec: String,
    /// The `quality` column of its rows (empty for the autoencoder).
    pub quality: String,
}

/// The versions an evaluation kept images of (none with `--no-images`), sorted by name
/// with `ae` first.
pub fn versions(e: &EvalDir) -> Vec<Version> {
    let Ok(entries) = fs::read_dir(&e.dir) else {
        return Vec::new();
    };
    let mut out: Vec<Version> = entries
        .filter_map(|d| d.ok())
        .filter(|d| d.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|d| d.file_name().to_str().map(String::from))
        .filter(|n| !NOT_VERSIONS.contains(&n.as_str()))
        .map(|name| {
            let (codec, setting) = name.split_once('-').unwrap_or((&name, ""));
            let quality: String = setting.chars().filter(char::is_ascii_digit).collect();
            Version {
                codec: codec.to_string(),
                quality,
                name: name.clone(),
            }
        })
        .collect();
    out.sort_by(|a, b| (a.name != "ae", &a.name).cmp(&(b.name != "ae", &b.name)));
    out
}

/// The content type of a file a browser can show, by its extension.
pub fn shown_mime(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    SHOWN.iter().find(|(e, _)| *e == ext).map(|(_, m)| *m)
}

/// The file of `image` in `folder` (an image name from `per_image.csv`, checked plain)
/// under any shown extension, with its content type.
pub fn shown_file(folder: &Path, image: &str) -> Option<(PathBuf, &'static str)> {
    if !super::folders::is_plain(image) {
        return None;
    }
    let exact = folder.join(image);
    let stem = exact.with_extension("");
    // A plain file inside the folder: a link out of it is not shown.
    let inside = |p: &Path| {
        fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
            && matches!((p.canonicalize(), folder.canonicalize()), (Ok(f), Ok(d)) if f.starts_with(&d))
    };
    if let Some(mime) = shown_mime(&exact).filter(|_| inside(&exact)) {
        return Some((exact, mime));
    }
    SHOWN.iter().find_map(|(ext, mime)| {
        let p = stem.with_extension(ext);
        inside(&p).then_some((p, *mime))
    })
}
