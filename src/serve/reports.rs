//! Reports under the runs root: studies (`niclab study`: `summary.json` with a row per
//! member, next to the paper's) and rate–distortion comparisons (`niclab rd`: `rd.json`),
//! with the PNG plots and strips they wrote.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How deep under the runs root a report may sit.
const MAX_DEPTH: usize = 3;

/// Folders of a report whose PNGs are shown.
const IMAGE_FOLDERS: [&str; 2] = ["plots", "strips"];

/// What wrote a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    Study,
    Rd,
}

impl ReportKind {
    fn file(self) -> &'static str {
        match self {
            Self::Study => "summary.json",
            Self::Rd => "rd.json",
        }
    }
}

/// A report folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportDir {
    /// Its path under the root, `/`-separated.
    pub id: String,
    pub kind: ReportKind,
    pub dir: PathBuf,
}

/// A study's `summary.json` has a study name and rows; an evaluation's has neither.
fn is_study(summary: &Path) -> bool {
    fs::read_to_string(summary)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("study").is_some() && v.get("rows").is_some())
}

/// Every report under `root`, sorted by id; links are not followed.
pub fn discover(root: &Path) -> Vec<ReportDir> {
    super::folders::find(root, MAX_DEPTH, |dir| {
        let kind = if dir.file_name().is_some_and(|n| n == "eval") {
            return None;
        } else if dir.join("rd.json").is_file() {
            ReportKind::Rd
        } else if is_study(&dir.join("summary.json")) {
            ReportKind::Study
        } else {
            return None;
        };
        Some((kind, dir.to_path_buf()))
    })
    .into_iter()
    .map(|(id, (kind, dir))| ReportDir { id, kind, dir })
    .collect()
}

/// A report as the page opens it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub id: String,
    pub kind: ReportKind,
    /// `summary.json` or `rd.json`, as written.
    pub data: serde_json::Value,
    /// Its PNG plots and strips, `folder/name.png`.
    pub images: Vec<String>,
}

/// Reads a report; the error names the file.
pub fn read(r: &ReportDir) -> Result<Report, String> {
    let path = r.dir.join(r.kind.file());
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let data = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Report {
        id: r.id.clone(),
        kind: r.kind,
        data,
        images: images(r),
    })
}

/// The plain PNG files of its plots and strips folders, sorted.
pub fn images(r: &ReportDir) -> Vec<String> {
    let mut out = Vec::new();
    for folder in IMAGE_FOLDERS {
        let Ok(entries) = fs::read_dir(r.dir.join(folder)) else {
            continue;
        };
        out.extend(
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().to_str().map(String::from))
                .filter(|n| n.ends_with(".png"))
                .map(|n| format!("{folder}/{n}")),
        );
    }
    out.sort();
    out
}

/// A report in the list: what it is, in one line.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub id: String,
    pub kind: ReportKind,
    pub title: String,
}

impl Report {
    /// Its line in the list: the study and its models, or the images and codecs compared.
    pub fn listed(&self) -> Listed {
        let d = &self.data;
        let count = |k: &str| d.get(k).and_then(|v| v.as_array()).map_or(0, Vec::len);
        let images = d.get("images").and_then(|v| v.as_str()).unwrap_or("?");
        let title = match self.kind {
            ReportKind::Study => format!(
                "study {}: {} models on {images}",
                d.get("study").and_then(|v| v.as_str()).unwrap_or("?"),
                count("rows")
            ),
            ReportKind::Rd => format!(
                "rate-distortion: {} models against {} codecs on {images}",
                count("models"),
                count("classic")
            ),
        };
        Listed {
            id: self.id.clone(),
            kind: self.kind,
            title,
        }
    }
}
