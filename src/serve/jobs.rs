//! Jobs the page starts: a comparison with JPEG (`niclab eval`, the paper's button), a
//! training or a study. Each is a child `niclab` process, so a crash of a job cannot take
//! the server down; the server follows it through `--progress json` (never by reading the
//! terminal bar), keeps the tail of its log, and stops it with SIGINT, the signal Ctrl-C
//! sends (a training saves its checkpoint). One job runs at a time: two trainings on a
//! 2-core CPU each run several times slower.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::progress::Event;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Compare,
    Train,
    Study,
    /// `niclab try`: an uploaded image through a codec and JPEG.
    Try,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    /// Exited with status 0.
    Finished,
    /// Stopped from the page (or the server's Ctrl-C): a training saved its checkpoint.
    Stopped,
    /// Exited with an error; its log says why.
    Failed,
}

/// Most log lines a job keeps.
pub const LOG_LINES: usize = 200;

/// A job as the page sees it.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub id: u64,
    pub kind: JobKind,
    /// What the page shows (`compare tiny on test`).
    pub title: String,
    /// The niclab arguments it runs with.
    pub args: Vec<String>,
    pub state: JobState,
    /// The latest progress line of each stage, in the order the stages began.
    pub progress: Vec<Event>,
    /// The last [`LOG_LINES`] lines it printed that are not progress.
    pub log: Vec<String>,
    pub exit_code: Option<i32>,
    /// What it makes: the evaluation id (compare) or run id (train).
    pub result: Option<String>,
    /// Seconds since the Unix epoch.
    pub started: f64,
}

#[derive(Debug)]
struct Job {
    view: JobView,
    pid: Option<u32>,
    stop_asked: bool,
}

/// Every job of this server.
#[derive(Debug)]
pub struct Jobs {
    exe: PathBuf,
    list: Mutex<Vec<Job>>,
    version: AtomicU64,
}

impl Jobs {
    /// Jobs run `exe` (this niclab binary).
    pub fn new(exe: PathBuf) -> Arc<Self> {
        Arc::new(Jobs {
            exe,
            list: Mutex::new(Vec::new()),
            version: AtomicU64::new(0),
        })
    }

    /// Changes whenever a job starts, reports progress, logs or ends.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Job>> {
        // A handler that panicked while holding the lock leaves the list usable.
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut Job)) {
        if let Some(j) = self.lock().iter_mut().find(|j| j.view.id == id) {
            f(j);
        }
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// Every job, newest first.
    pub fn list(&self) -> Vec<JobView> {
        self.lock().iter().rev().map(|j| j.view.clone()).collect()
    }

    /// The running job, if any.
    pub fn running(&self) -> Option<JobView> {
        self.lock()
            .iter()
            .find(|j| j.view.state == JobState::Running)
            .map(|j| j.view.clone())
    }

    /// Starts `niclab --progress json ARGS` unless a job is running (then `Err` names it).
    pub fn start(
        self: &Arc<Self>,
        kind: JobKind,
        title: String,
        args: Vec<String>,
        result: Option<String>,
    ) -> Result<JobView, String> {
        let mut list = self.lock();
        if let Some(r) = list.iter().find(|j| j.view.state == JobState::Running) {
            return Err(format!(
                "job {} ({}) is running: stop it or wait (one job at a time: two on a small CPU each run several times slower)",
                r.view.id, r.view.title
            ));
        }
        let mut child = tokio::process::Command::new(&self.exe)
            .args(["--progress", "json"])
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C in the server's terminal reaches the server
            // only, which then stops each job once (a second SIGINT would abort a training
            // before its checkpoint).
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.exe.display()))?;
        let id = list.iter().map(|j| j.view.id).max().unwrap_or(0) + 1;
        let view = JobView {
            id,
            kind,
            title,
            args,
            state: JobState::Running,
            progress: Vec::new(),
            log: Vec::new(),
            exit_code: None,
            result,
            started: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
        };
        list.push(Job {
            view: view.clone(),
            pid: child.id(),
            stop_asked: false,
        });
        drop(list);
        self.version.fetch_add(1, Ordering::SeqCst);

        let out = child.stdout.take();
        let err = child.stderr.take();
        let jobs = self.clone();
        tokio::spawn(async move {
            let follow_out = jobs.follow(id, out);
            let follow_err = jobs.follow(id, err);
            let (_, _, status) = tokio::join!(follow_out, follow_err, child.wait());
            let code = status.ok().and_then(|s| s.code());
            jobs.update(id, |j| {
                j.view.exit_code = code;
                j.view.state = match code {
                    Some(0) => JobState::Finished,
                    _ if j.stop_asked => JobState::Stopped,
                    _ => JobState::Failed,
                };
                j.pid = None;
            });
        });
        Ok(view)
    }

    /// Reads a child's stream line by line: progress lines into `progress`, the rest into
    /// the log.
    async fn follow(&self, id: u64, stream: Option<impl tokio::io::AsyncRead + Unpin>) {
        let Some(stream) = stream else { return };
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let event = line
                .starts_with('{')
                .then(|| serde_json::from_str::<Event>(&line).ok())
                .flatten();
            self.update(id, |j| match event {
                Some(e) => match j.view.progress.iter_mut().find(|p| p.stage == e.stage) {
                    Some(p) => *p = e,
                    None => j.view.progress.push(e),
                },
                None => {
                    j.view.log.push(line);
                    let n = j.view.log.len();
                    if n > LOG_LINES {
                        j.view.log.drain(..n - LOG_LINES);
                    }
                }
            });
        }
    }

    /// Asks job `id` to stop, as Ctrl-C would.
    pub fn stop(&self, id: u64) -> Result<JobView, String> {
        let mut list = self.lock();
        let j = list
            .iter_mut()
            .find(|j| j.view.id == id)
            .ok_or_else(|| format!("no job {id}"))?;
        let pid = match (j.view.state, j.pid) {
            (JobState::Running, Some(pid)) => pid,
            _ => return Err(format!("job {id} is not running")),
        };
        interrupt(pid).map_err(|e| format!("cannot stop job {id}: {e}"))?;
        j.stop_asked = true;
        let view = j.view.clone();
        drop(list);
        self.version.fetch_add(1, Ordering::SeqCst);
        Ok(view)
    }

    /// Stops every running job and waits for them up to `patience` (the server's Ctrl-C).
    pub async fn stop_all(&self, patience: Duration) {
        let ids: Vec<u64> = self
            .lock()
            .iter()
            .filter(|j| j.view.state == JobState::Running)
            .map(|j| j.view.id)
            .collect();
        for id in &ids {
            if self.stop(*id).is_ok() {
                eprintln!("stopping job {id}");
            }
        }
        let t = std::time::Instant::now();
        while self.running().is_some() && t.elapsed() < patience {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// SIGINT to `pid`.
fn interrupt(pid: u32) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, libc::SIGINT) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
