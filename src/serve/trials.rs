//! "Try a codec": an uploaded image (or `.nic` file) through a codec model and JPEG at the
//! same bytes and SSIM (`niclab try`, run as a job), and the trials made so far
//! (`RUNS/try/<n>/trial.json`). Uploads are checked before anything is written: a size and
//! a pixel limit, and the bytes must be a PNG, JPEG or WebP image or a `.nic` file.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::jobs::{JobKind, JobView};
use super::{ApiError, AppState, Named, lookup, runs};
use crate::codec::trial::{TRIAL_FILE, Trial};

/// Largest upload, bytes.
pub const MAX_UPLOAD: usize = 64 << 20;
/// Most pixels an uploaded image may have (the codec's tiles bound its memory; this bounds
/// the time a job takes).
pub const MAX_PIXELS: u64 = 50_000_000;
/// The trials' folder under the runs root.
pub const TRY_DIR: &str = "try";

/// A codec model the page may try: a shipped one (by name) or a codec run.
#[derive(Debug, Clone, Serialize)]
pub struct CodecChoice {
    /// `shipped:NAME` or `run:ID`.
    pub id: String,
    pub label: String,
}

/// The shipped codecs of `models` and the runs with an entropy model under `checkpoints`.
pub fn codec_choices(models: &Path, checkpoints: &Path) -> Vec<CodecChoice> {
    let mut out = Vec::new();
    if let Ok(zoo) = crate::zoo::Zoo::load(models) {
        for e in zoo
            .models
            .iter()
            .filter(|e| e.kind == crate::zoo::Kind::Codec)
        {
            let default = if zoo.default.as_deref() == Some(e.name.as_str()) {
                ", the default"
            } else {
                ""
            };
            out.push(CodecChoice {
                id: format!("shipped:{}", e.name),
                label: format!("{} (shipped{default})", e.name),
            });
        }
    }
    for run in runs::discover(checkpoints) {
        if let Ok(s) = runs::summary(&run)
            && s.model.entropy != "none"
        {
            out.push(CodecChoice {
                id: format!("run:{}", run.id),
                label: format!("{} (run, {} steps)", run.id, s.steps_done),
            });
        }
    }
    out
}

/// A trial folder.
#[derive(Debug, Clone)]
pub struct TrialDir {
    /// `try/<n>`.
    pub id: String,
    pub dir: PathBuf,
}

impl Named for TrialDir {
    fn id(&self) -> &str {
        &self.id
    }
}

/// The trials under `runs/try/`, those with a `trial.json`.
pub fn discover(runs_root: &Path) -> Vec<TrialDir> {
    super::folders::find(&runs_root.join(TRY_DIR), 1, |d| {
        d.join(TRIAL_FILE).is_file().then(|| d.to_path_buf())
    })
    .into_iter()
    .map(|(n, dir)| TrialDir {
        id: format!("{TRY_DIR}/{n}"),
        dir,
    })
    .collect()
}

fn read(t: &TrialDir) -> Result<Trial, ApiError> {
    let path = t.dir.join(TRIAL_FILE);
    std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        .map_err(|e| {
            ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{}: {e}", path.display()),
            )
        })
}

#[derive(Deserialize)]
pub struct TrialQuery {
    id: Option<String>,
    file: Option<String>,
}

fn find(state: &AppState, id: Option<&str>) -> Result<TrialDir, ApiError> {
    let root = &state.opts.runs;
    lookup(discover(root), id, ("id", "trial", "POST /api/try"), root)
}

/// `GET /api/trial?id=try/N`: its `trial.json`.
pub async fn trial(
    State(state): State<Arc<AppState>>,
    Query(q): Query<TrialQuery>,
) -> Result<Json<Trial>, ApiError> {
    let t = find(&state, q.id.as_deref())?;
    read(&t).map(Json)
}

/// `GET /api/trial/file?id=try/N&file=F`: one of the files its sides name.
pub async fn trial_file(
    State(state): State<Arc<AppState>>,
    Query(q): Query<TrialQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let t = find(&state, q.id.as_deref())?;
    let trial = read(&t)?;
    let file = q.file.as_deref().unwrap_or_default();
    let known = trial
        .sides
        .iter()
        .any(|s| s.file == file || s.stored.as_deref() == Some(file));
    if !known {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no file {file:?} in trial {}", t.id),
        ));
    }
    let mime = super::evals::shown_mime(Path::new(file)).unwrap_or("application/octet-stream");
    let path = t.dir.join(file);
    let bytes = super::read_file(&path)?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, mime.to_string()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{file}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct TryQuery {
    /// A choice from /api/options' codecs; empty for a `.nic` file (its fingerprint says).
    model: Option<String>,
}

/// What an upload is, by its bytes: (extension to save it under, width, height).
fn sniff(bytes: &[u8]) -> Result<(&'static str, u32, u32), ApiError> {
    let bad = |m: String| ApiError(StatusCode::BAD_REQUEST, m);
    if bytes.is_empty() {
        return Err(bad("the upload is empty: choose an image".into()));
    }
    let (ext, w, h) = if bytes.starts_with(&crate::codec::nic::MAGIC) {
        let (h, _) = crate::codec::nic::parse(bytes)
            .map_err(|e| bad(format!("a damaged .nic file: {e}")))?;
        ("nic", h.width, h.height)
    } else {
        let reader = image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| bad(format!("cannot read the upload: {e}")))?;
        let ext = match reader.format() {
            Some(image::ImageFormat::Png) => "png",
            Some(image::ImageFormat::Jpeg) => "jpg",
            Some(image::ImageFormat::WebP) => "webp",
            _ => {
                return Err(bad(
                    "not an image niclab reads: upload a PNG, JPEG or WebP image, or a .nic file"
                        .into(),
                ));
            }
        };
        let (w, h) = reader
            .into_dimensions()
            .map_err(|e| bad(format!("a damaged {ext} image: {e}")))?;
        (ext, w, h)
    };
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{w} x {h} is over the page's limit of {MAX_PIXELS} pixels: use niclab try from the shell"
            ),
        ));
    }
    Ok((ext, w, h))
}

/// A fresh `runs/try/<n>/` folder.
fn new_folder(runs_root: &Path) -> Result<(String, PathBuf), ApiError> {
    let base = runs_root.join(TRY_DIR);
    let fail = |e: std::io::Error| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot create a folder under {}: {e}", base.display()),
        )
    };
    std::fs::create_dir_all(&base).map_err(fail)?;
    for n in 1u32.. {
        let dir = base.join(n.to_string());
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((format!("{TRY_DIR}/{n}"), dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(fail(e)),
        }
    }
    unreachable!("u32 folders")
}

/// `POST /api/try?model=CHOICE` with the image (or `.nic` file) as the body.
pub async fn start(
    State(state): State<Arc<AppState>>,
    Query(q): Query<TryQuery>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let (ext, w, h) = sniff(&bytes)?;
    if ext != "nic" {
        // Decoded whole before anything is written: a cut or damaged file is refused here,
        // not by the job.
        let data = bytes.clone();
        tokio::task::spawn_blocking(move || image::load_from_memory(&data).map(drop))
            .await
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .map_err(|e| {
                ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("a damaged {ext} image: {e}"),
                )
            })?;
    }
    let opts = &state.opts;
    let model = match q.model.as_deref().filter(|m| !m.is_empty()) {
        None if ext == "nic" => None,
        None => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "missing ?model= (a codec from /api/options)".into(),
            ));
        }
        Some(m) => {
            let choice = codec_choices(&opts.models, &opts.checkpoints)
                .into_iter()
                .find(|c| c.id == m)
                .ok_or_else(|| {
                    ApiError(
                        StatusCode::NOT_FOUND,
                        format!("no codec {m:?}: choose one of /api/options' codecs"),
                    )
                })?;
            Some(match choice.id.split_once(':') {
                Some(("shipped", name)) => name.to_string(),
                Some((_, run)) => opts.checkpoints.join(run).display().to_string(),
                None => choice.id,
            })
        }
    };
    if let Some(r) = state.jobs.running() {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("job {} ({}) is running: stop it or wait", r.id, r.title),
        ));
    }
    let (id, dir) = new_folder(&opts.runs)?;
    let upload = dir.join(format!("upload.{ext}"));
    crate::train::checkpoint::write_atomic(&upload, &bytes).map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot save the upload: {e:#}"),
        )
    })?;
    let mut args = vec![
        "try".to_string(),
        upload.display().to_string(),
        "--out".into(),
        dir.display().to_string(),
        "--checkpoints".into(),
        opts.checkpoints.display().to_string(),
    ];
    if let Some(m) = &model {
        args.extend(["--model".to_string(), m.clone()]);
    }
    let title = format!(
        "try {} on a {w} x {h} {ext}",
        model.as_deref().unwrap_or("the .nic file's model")
    );
    state
        .jobs
        .start(JobKind::Try, title, args, Some(id))
        .map(|j| (StatusCode::ACCEPTED, Json(j)))
        .map_err(|m| ApiError(StatusCode::CONFLICT, m))
}
