//! `niclab serve`: the paper's GUI as a local web app. An HTTP server (axum on tokio) with a
//! JSON API over the run folders and a single page embedded in the binary (plain HTML, CSS
//! and JavaScript; charts by the vendored uPlot).
//!
//! - `GET /api/runs`: every run under the checkpoints root ([`runs::summary`]), and those
//!   that cannot be read, with the reason.
//! - `GET /api/curves?run=ID&points=N`: its training and validation curves, thinned to N
//!   points on the server.
//! - `GET /api/config?run=ID`: its resolved experiment (`config.toml`).
//! - `GET /api/evals`: every earlier evaluation under the runs root (`summary.json`);
//!   `GET /api/eval?id=ID`: one, with its per-image rows (`per_image.csv`) and the versions
//!   of its images; `GET /api/eval/file?id=ID&version=V&image=NAME`: one image, for the
//!   viewer.
//! - `GET /api/reports`: the studies and rate–distortion comparisons under the runs root;
//!   `GET /api/report?id=ID`: one, as written; `GET /api/report/file?id=ID&file=F`: one of
//!   its PNG plots or strips.
//! - `GET /api/options`: the image folders a comparison may use and the experiment and
//!   study files a job may start.
//! - `POST /api/try?model=M` (an image or `.nic` file as the body): "try a codec"
//!   ([`trials`]); `GET /api/trial?id=ID` and `/api/trial/file?id=ID&file=F`: its result.
//! - `POST /api/compare`, `POST /api/launch`: start a job ([`launch`]); `GET /api/jobs`
//!   lists them with their progress and log; `POST /api/jobs/stop?id=N` stops one as Ctrl-C.
//! - `GET /api/events`: server-sent events; `runs` whenever a run's files change (so the page
//!   updates live while a run trains, without reloading), `jobs` whenever a job moves.
//!
//! Loopback by default. On any other address every request needs the token printed in the
//! URL (`?token=` or `Authorization: Bearer`), else 401. A run id is only ever looked up
//! among the folders found under the root (never joined to a path), so `..`, absolute paths
//! and links out of the root are refused (403) or unknown (404).

pub mod evals;
pub mod folders;
pub mod jobs;
pub mod launch;
pub mod reports;
pub mod runs;
pub mod trials;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// What the server serves and how it is reached.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (loopback unless asked).
    pub host: IpAddr,
    /// Port (0: any free one; the URL printed says which).
    pub port: u16,
    /// The run folders (`niclab train --checkpoints`).
    pub checkpoints: PathBuf,
    /// The TensorBoard and evaluation folders (`--runs`).
    pub runs: PathBuf,
    /// Image folders a comparison from the page may read.
    pub images: Vec<PathBuf>,
    /// The experiment and study files a job from the page may start.
    pub experiments: PathBuf,
    /// The model zoo (its codecs can be tried from the page).
    pub models: PathBuf,
    /// Required on every request when set (always set off loopback).
    pub token: Option<String>,
}

/// Shared by the handlers.
#[derive(Debug)]
pub struct AppState {
    opts: ServeOptions,
    jobs: Arc<jobs::Jobs>,
    /// Turns true when the server stops: the event streams end, so that open pages do not
    /// hold the graceful shutdown forever.
    stopping: tokio::sync::watch::Receiver<bool>,
}

/// An API error: a status and a message the page shows.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: String,
        }
        (self.0, Json(Body { error: self.1 })).into_response()
    }
}

/// A fresh random token (128 bits, hex) for a server reachable from other machines.
pub fn new_token() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..4)
        .map(|_| format!("{:08x}", rng.random::<u32>()))
        .collect()
}

/// The app: API routes, the page and its assets, the token check.
pub fn router(
    opts: ServeOptions,
    jobs: Arc<jobs::Jobs>,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> Router {
    let state = Arc::new(AppState {
        opts,
        jobs,
        stopping,
    });
    Router::new()
        .route("/api/runs", get(list_runs))
        .route("/api/curves", get(curves))
        .route("/api/config", get(config))
        .route("/api/evals", get(list_evals))
        .route("/api/eval", get(eval))
        .route("/api/eval/file", get(eval_file))
        .route("/api/reports", get(list_reports))
        .route("/api/report", get(report))
        .route("/api/report/file", get(report_file))
        .route("/api/options", get(launch::options))
        .route("/api/compare", post(launch::compare))
        .route("/api/launch", post(launch::launch))
        .route("/api/jobs", get(launch::jobs))
        .route("/api/jobs/stop", post(launch::stop))
        .route(
            "/api/try",
            post(trials::start).layer(axum::extract::DefaultBodyLimit::max(trials::MAX_UPLOAD)),
        )
        .route("/api/trial", get(trials::trial))
        .route("/api/trial/file", get(trials::trial_file))
        .route("/api/events", get(events))
        .route("/", get(|| asset("index.html".to_string())))
        .route(
            "/assets/{*path}",
            get(|axum::extract::Path(p): axum::extract::Path<String>| asset(p)),
        )
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such page".into()) })
        .layer(middleware::from_fn_with_state(state.clone(), check_token))
        .with_state(state)
}

/// How long the server's Ctrl-C waits for its jobs to stop (a training saving a checkpoint).
pub const JOB_PATIENCE: Duration = Duration::from_secs(120);

/// Listens on `opts.host:opts.port`, prints the URL and serves until `shutdown` resolves;
/// then stops its jobs as Ctrl-C stops them.
pub async fn serve(
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr = SocketAddr::new(opts.host, opts.port);
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (another server on that port? try --port)")
    })?;
    let local = listener.local_addr()?;
    let host = match local.ip() {
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    let query = opts
        .token
        .as_ref()
        .map(|t| format!("?token={t}"))
        .unwrap_or_default();
    println!(
        "niclab serve: http://{host}:{}/{query}  (Ctrl-C stops it)",
        local.port()
    );
    eprintln!(
        "runs from {}, evaluations from {}",
        opts.checkpoints.display(),
        opts.runs.display()
    );
    let exe = std::env::current_exe().context("cannot find the niclab binary to run jobs")?;
    let jobs = jobs::Jobs::new(exe);
    let running = jobs.clone();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    axum::serve(listener, router(opts, jobs, stopping))
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop.send(true);
            running.stop_all(JOB_PATIENCE).await;
        })
        .await
        .context("the server stopped")
}

async fn check_token(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(want) = &state.opts.token {
        let from_query = req
            .uri()
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|kv| kv.strip_prefix("token="));
        let from_header = bearer(req.headers());
        if from_query != Some(want.as_str()) && from_header.as_deref() != Some(want.as_str()) {
            return Err(ApiError(
                StatusCode::UNAUTHORIZED,
                "this server needs its token: open the URL it printed (…/?token=…)".into(),
            ));
        }
    }
    Ok(next.run(req).await)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(str::to_string)
}

#[derive(Serialize)]
struct RunList {
    root: String,
    runs: Vec<runs::RunSummary>,
    unreadable: Vec<runs::Unreadable>,
}

async fn list_runs(State(state): State<Arc<AppState>>) -> Json<RunList> {
    let root = state.opts.checkpoints.clone();
    let (ok, bad): (Vec<_>, Vec<_>) = runs::discover(&root)
        .iter()
        .map(runs::summary)
        .partition(|r| r.is_ok());
    Json(RunList {
        root: root.display().to_string(),
        runs: ok.into_iter().filter_map(|r| r.ok()).collect(),
        unreadable: bad.into_iter().filter_map(|r| r.err()).collect(),
    })
}

#[derive(Deserialize)]
struct RunQuery {
    run: Option<String>,
    points: Option<usize>,
}

/// Something the API names by id: a run, an evaluation, a report.
trait Named {
    fn id(&self) -> &str;
}

impl Named for runs::RunDir {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Named for evals::EvalDir {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Named for reports::ReportDir {
    fn id(&self) -> &str {
        &self.id
    }
}

/// The item of `found` (what a listing discovered under `root`) that the query's
/// `?{param}=ID` names: ids are only ever compared with discovered ones, never joined to a
/// path. A missing id is a 400, a path-like one (`..`, absolute) a 403 saying why, an
/// unknown one a 404. `noun` names the kind, `listing` the endpoint that lists the ids.
fn lookup<T: Named>(
    found: Vec<T>,
    id: Option<&str>,
    (param, noun, listing): (&str, &str, &str),
    root: &std::path::Path,
) -> Result<T, ApiError> {
    let id = id.ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("missing ?{param}=ID (an id from {listing})"),
        )
    })?;
    let outside = !folders::is_plain(id);
    if outside {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("{noun} {id:?}: not an id; paths outside the served folders are not served"),
        ));
    }
    found.into_iter().find(|x| x.id() == id).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no {noun} {id:?} under {}", root.display()),
        )
    })
}

/// The run folder `id` names.
fn find_run(state: &AppState, id: Option<&str>) -> Result<runs::RunDir, ApiError> {
    let root = &state.opts.checkpoints;
    lookup(runs::discover(root), id, ("run", "run", "/api/runs"), root)
}

#[derive(Serialize)]
struct EvalList {
    root: String,
    evals: Vec<evals::Listed>,
    unreadable: Vec<runs::Unreadable>,
}

async fn list_evals(State(state): State<Arc<AppState>>) -> Json<EvalList> {
    let root = state.opts.runs.clone();
    let mut out = EvalList {
        root: root.display().to_string(),
        evals: Vec::new(),
        unreadable: Vec::new(),
    };
    for e in evals::discover(&root) {
        match evals::summary(&e) {
            Ok(l) => out.evals.push(l),
            Err(error) => out.unreadable.push(runs::Unreadable { id: e.id, error }),
        }
    }
    Json(out)
}

#[derive(Deserialize)]
struct EvalQuery {
    id: Option<String>,
}

#[derive(Serialize)]
struct EvalDetail {
    #[serde(flatten)]
    listed: evals::Listed,
    per_image: Vec<evals::ImageRow>,
    /// The versions the viewer can show.
    versions: Vec<evals::Version>,
    /// Whether the originals can be shown (their folder is one of the served ones).
    originals: bool,
}

/// The evaluation `id` names.
fn find_eval(state: &AppState, id: Option<&str>) -> Result<evals::EvalDir, ApiError> {
    let root = &state.opts.runs;
    lookup(
        evals::discover(root),
        id,
        ("id", "evaluation", "/api/evals"),
        root,
    )
}

/// A file the API serves, or 404 naming it.
fn read_file(path: &std::path::Path) -> Result<Vec<u8>, ApiError> {
    std::fs::read(path).map_err(|err| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("cannot read {}: {err}", path.display()),
        )
    })
}

fn unreadable(m: String) -> ApiError {
    ApiError(StatusCode::UNPROCESSABLE_ENTITY, m)
}

/// The folder the evaluation read its originals from, when it is one of `--images` (the
/// server shows no file of any other folder).
fn originals_folder(state: &AppState, listed: &evals::Listed) -> Option<PathBuf> {
    let folder = PathBuf::from(listed.summary.get("images")?.as_str()?);
    let canonical = folder.canonicalize().ok()?;
    state
        .opts
        .images
        .iter()
        .any(|d| d.canonicalize().is_ok_and(|c| c == canonical))
        .then_some(folder)
}

async fn eval(
    State(state): State<Arc<AppState>>,
    Query(q): Query<EvalQuery>,
) -> Result<Json<EvalDetail>, ApiError> {
    let e = find_eval(&state, q.id.as_deref())?;
    let listed = evals::summary(&e).map_err(unreadable)?;
    Ok(Json(EvalDetail {
        originals: originals_folder(&state, &listed).is_some(),
        per_image: evals::per_image(&e).map_err(unreadable)?,
        versions: evals::versions(&e),
        listed,
    }))
}

#[derive(Deserialize)]
struct FileQuery {
    id: Option<String>,
    version: Option<String>,
    image: Option<String>,
}

/// `GET /api/eval/file?id=ID&version=V&image=NAME`: one image of an evaluation as stored
/// (`original`, `ae` or a codec's folder), for the viewer. The image must be a row of its
/// `per_image.csv` and the version one of its folders.
async fn eval_file(
    State(state): State<Arc<AppState>>,
    Query(q): Query<FileQuery>,
) -> Result<Response, ApiError> {
    let e = find_eval(&state, q.id.as_deref())?;
    let (Some(version), Some(image)) = (q.version.as_deref(), q.image.as_deref()) else {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "missing ?version=V&image=NAME".into(),
        ));
    };
    let rows = evals::per_image(&e).map_err(unreadable)?;
    if !rows.iter().any(|r| r.image == image) {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no image {image:?} in evaluation {}", e.id),
        ));
    }
    let folder = if version == "original" {
        let listed = evals::summary(&e).map_err(unreadable)?;
        originals_folder(&state, &listed).ok_or_else(|| {
            ApiError(
                StatusCode::FORBIDDEN,
                format!(
                    "the originals of {} are not in a served folder (niclab serve --images DIR)",
                    e.id
                ),
            )
        })?
    } else {
        evals::versions(&e)
            .into_iter()
            .find(|v| v.name == version)
            .map(|v| e.dir.join(v.name))
            .ok_or_else(|| {
                ApiError(
                    StatusCode::NOT_FOUND,
                    format!("no version {version:?} in evaluation {}", e.id),
                )
            })?
    };
    let (path, mime) = evals::shown_file(&folder, image).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no {version} file of {image:?} the browser can show"),
        )
    })?;
    let bytes = read_file(&path)?;
    Ok(([(header::CONTENT_TYPE, mime)], bytes).into_response())
}

#[derive(Serialize)]
struct ReportList {
    reports: Vec<reports::Listed>,
    unreadable: Vec<runs::Unreadable>,
}

async fn list_reports(State(state): State<Arc<AppState>>) -> Json<ReportList> {
    let mut out = ReportList {
        reports: Vec::new(),
        unreadable: Vec::new(),
    };
    for r in reports::discover(&state.opts.runs) {
        match reports::read(&r) {
            Ok(rep) => out.reports.push(rep.listed()),
            Err(error) => out.unreadable.push(runs::Unreadable { id: r.id, error }),
        }
    }
    Json(out)
}

#[derive(Deserialize)]
struct ReportQuery {
    id: Option<String>,
    file: Option<String>,
}

/// The report `id` names.
fn find_report(state: &AppState, id: Option<&str>) -> Result<reports::ReportDir, ApiError> {
    let root = &state.opts.runs;
    lookup(
        reports::discover(root),
        id,
        ("id", "report", "/api/reports"),
        root,
    )
}

async fn report(
    State(state): State<Arc<AppState>>,
    Query(q): Query<ReportQuery>,
) -> Result<Json<reports::Report>, ApiError> {
    let r = find_report(&state, q.id.as_deref())?;
    reports::read(&r).map(Json).map_err(unreadable)
}

async fn report_file(
    State(state): State<Arc<AppState>>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let r = find_report(&state, q.id.as_deref())?;
    let file = q.file.as_deref().unwrap_or_default();
    if !reports::images(&r).iter().any(|f| f == file) {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no plot or strip {file:?} in report {}", r.id),
        ));
    }
    let path = r.dir.join(file);
    let bytes = read_file(&path)?;
    Ok(([(header::CONTENT_TYPE, "image/png")], bytes).into_response())
}

/// Most points a curve comes back with unless asked for fewer.
pub const MAX_POINTS: usize = 2000;

#[derive(Serialize)]
struct Curves {
    run: String,
    train: std::collections::BTreeMap<String, Vec<Option<f64>>>,
    validation: std::collections::BTreeMap<String, Vec<Option<f64>>>,
}

async fn curves(
    State(state): State<Arc<AppState>>,
    Query(q): Query<RunQuery>,
) -> Result<Json<Curves>, ApiError> {
    let run = find_run(&state, q.run.as_deref())?;
    let points = q.points.unwrap_or(MAX_POINTS).clamp(2, MAX_POINTS);
    let read = |f: &str| {
        runs::read_csv(&run.dir.join(f))
            .map(|t| runs::thin(&t, points))
            .unwrap_or_default()
    };
    Ok(Json(Curves {
        run: run.id.clone(),
        train: read("metrics.csv"),
        validation: read("validation.csv"),
    }))
}

async fn config(
    State(state): State<Arc<AppState>>,
    Query(q): Query<RunQuery>,
) -> Result<Response, ApiError> {
    let run = find_run(&state, q.run.as_deref())?;
    let path = run.dir.join("config.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// A fingerprint of every run's files (names, sizes, times, locks): it changes when a run
/// logs a step, validates, starts or stops.
fn runs_version(root: &std::path::Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for run in runs::discover(root) {
        run.id.hash(&mut h);
        for f in [
            "metrics.csv",
            "validation.csv",
            "last.ckpt",
            crate::run_lock::LOCK_FILE,
        ] {
            if let Ok(m) = std::fs::metadata(run.dir.join(f)) {
                m.len().hash(&mut h);
                m.modified()
                    .ok()
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .hash(&mut h);
            }
        }
    }
    h.finish()
}

/// How often the server looks at the run folders for the events stream.
pub const POLL: Duration = Duration::from_millis(1000);

async fn events(
    State(state): State<Arc<AppState>>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
    let root = state.opts.checkpoints.clone();
    let jobs = state.jobs.clone();
    let stopping = state.stopping.clone();
    // (runs fingerprint, jobs version) last sent, and whether to look again at once: after
    // an event the other source is looked at before sleeping, so a training that changes
    // its files every second cannot starve the jobs' events.
    type Seen = (Option<u64>, Option<u64>, bool);
    let stream = futures_util::stream::unfold(
        (None, None, true),
        move |(mut last_runs, mut last_jobs, mut now): Seen| {
            let root = root.clone();
            let jobs = jobs.clone();
            let mut stopping = stopping.clone();
            async move {
                loop {
                    // Stopping, or the server gone: the stream ends.
                    if *stopping.borrow() || stopping.has_changed().is_err() {
                        return None;
                    }
                    if !now {
                        tokio::select! {
                            _ = tokio::time::sleep(POLL) => {}
                            _ = stopping.changed() => continue,
                        }
                    }
                    now = false;
                    let r = root.clone();
                    let v = tokio::task::spawn_blocking(move || runs_version(&r))
                        .await
                        .unwrap_or(0);
                    let j = jobs.version();
                    let event = if last_runs != Some(v) {
                        last_runs = Some(v);
                        Event::default().event("runs").data(v.to_string())
                    } else if last_jobs != Some(j) {
                        last_jobs = Some(j);
                        Event::default().event("jobs").data(j.to_string())
                    } else {
                        continue;
                    };
                    return Some((Ok(event), (last_runs, last_jobs, true)));
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(rust_embed::RustEmbed)]
#[folder = "src/serve/web/"]
struct Assets;

async fn asset(path: String) -> Response {
    if path.split('/').any(|c| c == "..") {
        return ApiError(StatusCode::FORBIDDEN, format!("no asset {path:?}")).into_response();
    }
    match Assets::get(&path) {
        Some(file) => {
            let mime = match path.rsplit('.').next() {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("svg") => "image/svg+xml",
                Some("png") => "image/png",
                _ => "application/octet-stream",
            };
            ([(header::CONTENT_TYPE, mime)], file.data.into_owned()).into_response()
        }
        None => ApiError(StatusCode::NOT_FOUND, format!("no asset {path:?}")).into_response(),
    }
}
