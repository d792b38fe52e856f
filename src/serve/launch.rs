//! What the page may start, checked before anything runs: the comparison with JPEG (a run's
//! checkpoint on one of the served image folders, into a new evaluation folder) and a
//! training or study from the experiments folder with `--set` overrides. Everything the page
//! names is looked up among what the server lists (runs, image folders, experiment files),
//! never joined to a path, and jobs write only into the checkpoints and runs folders.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::jobs::{JobKind, JobView};
use super::{ApiError, AppState, find_run};
use crate::classic::jpeg::QualityChoice;

/// An image folder the page may compare on (`serve --images`).
#[derive(Debug, Serialize)]
pub struct ImageRoot {
    /// The folder as given on the command line.
    pub id: String,
    pub images: usize,
}

/// An experiment or study file of the experiments folder.
#[derive(Debug, Serialize)]
pub struct ExperimentFile {
    /// Its file name (`smoke.toml`).
    pub file: String,
    /// `train` (an experiment) or `study` (a list of experiments).
    pub kind: &'static str,
    /// The experiment's or study's `name`.
    pub name: Option<String>,
}

#[derive(Serialize)]
pub struct Options {
    images: Vec<ImageRoot>,
    codecs: Vec<super::trials::CodecChoice>,
    experiments: Vec<ExperimentFile>,
    experiments_root: String,
}

/// Files that count as images in a folder (as `niclab eval` reads them).
fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["png", "jpg", "jpeg"].contains(&e.to_ascii_lowercase().as_str()))
}

fn count_images(dir: &Path) -> usize {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && is_image(e.path()))
        .count()
}

/// The experiment and study files directly in `dir`, by name.
pub fn experiment_files(dir: &Path) -> Vec<(ExperimentFile, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(ExperimentFile, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let path = e.path();
            let file = e.file_name().to_str()?.to_string();
            if !file.ends_with(".toml") {
                return None;
            }
            let table: toml::Table = std::fs::read_to_string(&path).ok()?.parse().ok()?;
            let kind = if table.contains_key("experiments") {
                "study"
            } else {
                "train"
            };
            let name = table.get("name").and_then(|n| n.as_str()).map(String::from);
            Some((ExperimentFile { file, kind, name }, path))
        })
        .collect();
    out.sort_by(|a, b| a.0.file.cmp(&b.0.file));
    out
}

pub async fn options(State(state): State<Arc<AppState>>) -> Json<Options> {
    let opts = &state.opts;
    Json(Options {
        images: opts
            .images
            .iter()
            .map(|d| ImageRoot {
                id: d.display().to_string(),
                images: count_images(d),
            })
            .collect(),
        experiments: experiment_files(&opts.experiments)
            .into_iter()
            .map(|(e, _)| e)
            .collect(),
        experiments_root: opts.experiments.display().to_string(),
        codecs: super::trials::codec_choices(&opts.models, &opts.checkpoints),
    })
}

fn bad(m: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, m)
}

/// A JSON body, or 400 saying what is wrong with it.
fn body<T: for<'de> Deserialize<'de>>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| bad(format!("bad request body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompareRequest {
    /// A run id from /api/runs.
    run: String,
    /// An image folder id from /api/options.
    images: String,
    /// The new evaluation's name: RUNS/<out>/eval.
    out: String,
    /// `match-ssim` or JPEG qualities (`50` or `95,75,20`).
    #[serde(default = "match_ssim")]
    quality: String,
}

fn match_ssim() -> String {
    "match-ssim".into()
}

/// Longest evaluation name.
pub const MAX_NAME: usize = 64;

/// An evaluation name: one folder name of letters, digits, `.`, `_`, `-`.
fn check_name(out: &str) -> Result<(), ApiError> {
    let ok = !out.is_empty()
        && out.len() <= MAX_NAME
        && !out.starts_with('.')
        && out
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "out {out:?}: a name of up to {MAX_NAME} letters, digits, '.', '_' or '-' (it becomes a folder under the runs folder)"
        )))
    }
}

fn started(job: Result<JobView, String>) -> Result<(StatusCode, Json<JobView>), ApiError> {
    job.map(|j| (StatusCode::ACCEPTED, Json(j)))
        .map_err(|m| ApiError(StatusCode::CONFLICT, m))
}

/// `POST /api/compare`: `niclab eval` of a run against JPEG, as the CLI runs it.
pub async fn compare(
    State(state): State<Arc<AppState>>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let req: CompareRequest = body(&bytes)?;
    let run = find_run(&state, Some(&req.run))?;
    if !["best.ckpt", "last.ckpt"]
        .iter()
        .any(|f| run.dir.join(f).is_file())
    {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("run {:?} has no checkpoint yet", run.id),
        ));
    }
    let opts = &state.opts;
    let images = opts
        .images
        .iter()
        .find(|d| d.display().to_string() == req.images)
        .ok_or_else(|| {
            ApiError(
                StatusCode::FORBIDDEN,
                format!(
                    "images {:?}: not one of the served image folders (serve --images)",
                    req.images
                ),
            )
        })?;
    check_name(&req.out)?;
    req.quality
        .parse::<QualityChoice>()
        .map_err(|e| bad(format!("quality {:?}: {e}", req.quality)))?;
    let out = opts.runs.join(&req.out).join("eval");
    if out.exists() {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!(
                "{} exists: choose another name (an evaluation is never overwritten from the page)",
                out.display()
            ),
        ));
    }
    let args = vec![
        "eval".into(),
        run.dir.display().to_string(),
        "--images".into(),
        images.display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--jpeg-quality".into(),
        req.quality.clone(),
        "--checkpoints".into(),
        opts.checkpoints.display().to_string(),
        "--runs".into(),
        opts.runs.display().to_string(),
    ];
    let title = format!("compare {} with JPEG on {}", run.id, req.images);
    started(
        state
            .jobs
            .start(JobKind::Compare, title, args, Some(req.out.clone())),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LaunchRequest {
    /// A file name from /api/options' experiments.
    file: String,
    /// `KEY=VALUE` overrides, as `--set`.
    #[serde(default)]
    set: Vec<String>,
    /// Continue the run from its last checkpoint (experiments only).
    #[serde(default)]
    resume: bool,
}

/// Settings that name files or folders: the page may not point a job at other files.
pub const PATH_KEYS: [&str; 3] = ["data.train", "data.test", "loss.vgg_weights"];

fn check_override(item: &str) -> Result<(), ApiError> {
    let (key, value) = item
        .split_once('=')
        .ok_or_else(|| bad(format!("--set {item:?}: expected KEY=VALUE")))?;
    let key_ok = key.contains('.')
        && key.split('.').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
        });
    if !key_ok {
        return Err(bad(format!(
            "--set {item:?}: KEY is section.field, e.g. train.steps"
        )));
    }
    if PATH_KEYS.contains(&key) {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "--set {key}: paths cannot be changed from the page (edit the experiment file)"
            ),
        ));
    }
    if value.contains(['\n', '\r', '\0']) {
        return Err(bad(format!("--set {key}: one line, please")));
    }
    Ok(())
}

/// `POST /api/launch`: a training (`niclab train`) or a study (`niclab study`) of a file in
/// the experiments folder.
pub async fn launch(
    State(state): State<Arc<AppState>>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let req: LaunchRequest = body(&bytes)?;
    let opts = &state.opts;
    let (file, path) = experiment_files(&opts.experiments)
        .into_iter()
        .find(|(e, _)| e.file == req.file)
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                format!(
                    "no experiment or study {:?} in {}",
                    req.file,
                    opts.experiments.display()
                ),
            )
        })?;
    for item in &req.set {
        check_override(item)?;
    }
    let (kind, command) = match file.kind {
        "study" => (JobKind::Study, "study"),
        _ => (JobKind::Train, "train"),
    };
    if req.resume && kind == JobKind::Study {
        return Err(bad("resume: a study resumes its members by itself".into()));
    }
    let mut args = vec![command.to_string(), path.display().to_string()];
    for item in &req.set {
        args.extend(["--set".to_string(), item.clone()]);
    }
    if req.resume {
        args.push("--resume".into());
    }
    args.extend([
        "--checkpoints".into(),
        opts.checkpoints.display().to_string(),
        "--runs".into(),
        opts.runs.display().to_string(),
    ]);
    let title = format!("{command} {}", file.file);
    started(state.jobs.start(kind, title, args, file.name))
}

#[derive(Serialize)]
pub struct JobList {
    jobs: Vec<JobView>,
}

pub async fn jobs(State(state): State<Arc<AppState>>) -> Json<JobList> {
    Json(JobList {
        jobs: state.jobs.list(),
    })
}

#[derive(Deserialize)]
pub struct StopQuery {
    id: Option<u64>,
}

/// `POST /api/jobs/stop?id=N`: SIGINT, as Ctrl-C (a training saves its checkpoint).
pub async fn stop(
    State(state): State<Arc<AppState>>,
    Query(q): Query<StopQuery>,
) -> Result<Json<JobView>, ApiError> {
    let id =
        q.id.ok_or_else(|| bad("missing ?id=N (a job id from /api/jobs)".into()))?;
    state.jobs.stop(id).map(Json).map_err(|m| {
        let code = if m.starts_with("no job") {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::CONFLICT
        };
        ApiError(code, m)
    })
}
