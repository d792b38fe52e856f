//! Progress of the long stages (training, evaluation, studies, compress, rd) as data: one
//! small type that either draws the terminal bar or prints JSON lines (`--progress json`),
//! so that a parent process (a job the web app starts) follows a child by reading its
//! stderr line by line, never by scraping a terminal bar.
//!
//! A JSON line is one object: `{"stage": "train", "done": 120, "total": 1500, "message":
//! "...", "metrics": {"loss": 0.012}, "elapsed_s": 3.2, "finished": false}`, at most one per
//! [`JSON_EVERY`] per stage (plus the first and the last). Other stderr lines are plain
//! text, as without the flag.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// A bar on stderr when it is a terminal (nothing otherwise).
    #[default]
    Bar,
    /// JSON lines on stderr.
    Json,
    /// Nothing.
    None,
}

impl FromStr for Style {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bar" => Ok(Style::Bar),
            "json" => Ok(Style::Json),
            "none" => Ok(Style::None),
            _ => Err(format!("unknown progress style {s:?}: bar, json or none")),
        }
    }
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Style::Bar => "bar",
            Style::Json => "json",
            Style::None => "none",
        })
    }
}

static STYLE: OnceLock<Style> = OnceLock::new();

/// Sets the style for the whole process (the command line does, once; later calls are
/// ignored).
pub fn set_style(style: Style) {
    let _ = STYLE.set(style);
}

/// The process's style (a bar unless set).
pub fn style() -> Style {
    STYLE.get().copied().unwrap_or_default()
}

/// Shortest time between two JSON lines of one stage.
pub const JSON_EVERY: Duration = Duration::from_millis(250);

/// A counter over `len` items, labelled `what` (and a message): the bar of evaluation,
/// compress, rd and data preparation.
pub fn bar(len: usize, what: &str) -> Progress {
    Progress::new(
        what,
        len as u64,
        &format!("{what} {{msg}} {{pos}}/{{len}} {{bar:30}} {{eta}}"),
    )
}

/// One JSON progress line.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Event {
    /// What is being done (`train`, `autoencoder`, `JPEG`, `compressing`, ...).
    pub stage: String,
    /// Items (steps, images) done.
    pub done: u64,
    /// Items in all (0 when not known yet).
    pub total: u64,
    /// The bar's message (losses, speed, the codec setting).
    pub message: String,
    /// Current figures by name (training: `loss`, `lr`, `images_per_sec`).
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// Seconds since the stage started.
    pub elapsed_s: f64,
    /// The last line of the stage.
    pub finished: bool,
}

struct Json {
    started: Instant,
    last: Option<Instant>,
    metrics: std::collections::BTreeMap<String, f64>,
}

/// A stage's progress: a terminal bar, JSON lines or nothing, by the process's [`style`].
/// Cloning shares it (workers of one stage count into the same one).
#[derive(Clone)]
pub struct Progress {
    stage: String,
    bar: ProgressBar,
    json: Option<Arc<Mutex<Json>>>,
}

impl Progress {
    /// A stage over `total` items; `template` is the indicatif template of its bar.
    pub fn new(stage: &str, total: u64, template: &str) -> Self {
        let style = style();
        let target = match style {
            Style::Bar => ProgressDrawTarget::stderr_with_hz(4),
            Style::Json | Style::None => ProgressDrawTarget::hidden(),
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        bar.set_style(
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let json = (style == Style::Json).then(|| {
            Arc::new(Mutex::new(Json {
                started: Instant::now(),
                last: None,
                metrics: Default::default(),
            }))
        });
        Self {
            stage: stage.to_string(),
            bar,
            json,
        }
    }

    /// A stage that has no bar of its own (its inner stages draw theirs) but does report
    /// JSON lines: a study's members.
    pub fn outer(stage: &str, total: u64) -> Self {
        let mut p = Self::new(stage, total, "{pos}/{len}");
        p.bar.set_draw_target(ProgressDrawTarget::hidden());
        if p.json.is_none() {
            p.bar = ProgressBar::hidden();
        }
        p
    }

    /// A stage that shows nothing whatever the style (work nested in another stage).
    pub fn hidden() -> Self {
        Self {
            stage: String::new(),
            bar: ProgressBar::hidden(),
            json: None,
        }
    }

    /// `n` more items done.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        self.emit(false);
    }

    /// Items done so far.
    pub fn set_position(&self, done: u64) {
        self.bar.set_position(done);
        self.emit(false);
    }

    /// Items in all.
    pub fn set_length(&self, total: u64) {
        self.bar.set_length(total);
    }

    /// Restarts the time estimate (a resumed run starts at its step, not at 0).
    pub fn reset_eta(&self) {
        self.bar.reset_eta();
    }

    /// The message shown after the bar.
    pub fn set_message(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
    }

    /// Current figures, reported with the next JSON line (the bar shows the message only).
    pub fn set_metrics(&self, metrics: &[(&str, f64)]) {
        if let Some(json) = &self.json
            && let Ok(mut j) = json.lock()
        {
            for (k, v) in metrics {
                j.metrics.insert((*k).to_string(), *v);
            }
        }
    }

    /// A line of text above the bar (or on stderr when there is no bar).
    pub fn println(&self, line: impl AsRef<str>) {
        if self.bar.is_hidden() {
            eprintln!("{}", line.as_ref());
        } else {
            self.bar.println(line.as_ref());
        }
    }

    /// Done: the bar goes away, the JSON stage ends with a finished line.
    pub fn finish(&self) {
        self.emit(true);
        self.bar.finish_and_clear();
    }

    /// Stopped by an error: the bar stays where it was.
    pub fn abandon(&self) {
        self.bar.abandon();
    }

    fn emit(&self, finished: bool) {
        let Some(json) = &self.json else {
            return;
        };
        let Ok(mut j) = json.lock() else {
            return;
        };
        let now = Instant::now();
        if !finished && j.last.is_some_and(|t| now.duration_since(t) < JSON_EVERY) {
            return;
        }
        j.last = Some(now);
        let event = Event {
            stage: self.stage.clone(),
            done: self.bar.position(),
            total: self.bar.length().unwrap_or(0),
            message: self.bar.message(),
            metrics: j.metrics.clone(),
            elapsed_s: now.duration_since(j.started).as_secs_f64(),
            finished,
        };
        if let Ok(line) = serde_json::to_string(&event) {
            eprintln!("{line}");
        }
    }
}
