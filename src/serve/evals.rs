//! Earlier evaluations (`niclab eval`, study members): every `eval/` folder under the runs
//! root with its `summary.json`, opened without recomputing, with its per-image rows.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How deep under the runs root an `eval/` folder may sit (`<study>/<member>/eval` is 3).
const MAX_DEPTH: usize = 4;

/// An evaluation folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalDir {
    /// The path of the folder that holds `eval/`, under the root, `/`-separated.
    pub id: String,
    /// The `eval/` folder.
    pub dir: PathBuf,
}

/// Every evaluation under `root`, sorted by id; links are not followed.
pub fn discover(root: &Path) -> Vec<EvalDir> {
    let mut out: Vec<EvalDir> = walkdir::WalkDir::new(root)
        .min_depth(1)
        .max_depth(MAX_DEPTH)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_type().is_dir()
                && e.file_name() == "eval"
                && e.path().join("summary.json").is_file()
        })
        .filter_map(|e| {
            let rel = e.path().parent()?.strip_prefix(root).ok()?;
            let id = rel
                .components()
                .map(|c| c.as_os_str().to_str())
                .collect::<Option<Vec<_>>>()?
                .join("/");
            (!id.is_empty()).then(|| EvalDir {
                id,
                dir: e.path().to_path_buf(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
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
