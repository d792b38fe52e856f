//! One trainer per run folder: `run.lock` holds the training process's id and host while it
//! runs, so a second `niclab train` (or a study member, or a job a server starts) on the same
//! run is refused with the reason instead of both writing the same checkpoints, and anything
//! that lists runs can tell a running one from an interrupted one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The lock's file name inside a run folder.
pub const LOCK_FILE: &str = "run.lock";

/// Who holds a lock: `pid host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The training process.
    pub pid: u32,
    /// The machine it runs on.
    pub host: String,
}

impl Holder {
    fn me() -> Self {
        Self {
            pid: std::process::id(),
            host: host(),
        }
    }

    /// Whether the holder still runs. A process on another host (a shared file system)
    /// cannot be checked from here and counts as alive.
    pub fn alive(&self) -> bool {
        if self.host != host() {
            return true;
        }
        // Without /proc (not Linux) there is no cheap check: the lock counts.
        let proc = Path::new("/proc");
        !proc.is_dir() || proc.join(self.pid.to_string()).exists()
    }
}

fn host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

/// The live holder of `run_dir`'s lock, if any (a lock left by a dead process is none).
pub fn holder(run_dir: &Path) -> Option<Holder> {
    let text = fs::read_to_string(run_dir.join(LOCK_FILE)).ok()?;
    let mut it = text.split_whitespace();
    let pid = it.next()?.parse().ok()?;
    let host = it.next().unwrap_or("localhost").to_string();
    let h = Holder { pid, host };
    h.alive().then_some(h)
}

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    /// The run folder, when taking the lock created it (removed again if left empty).
    created: Option<PathBuf>,
}

impl RunLock {
    /// Takes `run_dir`'s lock, creating the folder if needed. Refused while another live
    /// process holds it; a lock left by a process that died is taken over.
    pub fn acquire(run_dir: &Path) -> Result<Self> {
        let created = (!run_dir.exists()).then(|| run_dir.to_path_buf());
        fs::create_dir_all(run_dir)
            .with_context(|| format!("cannot create {}", run_dir.display()))?;
        let path = run_dir.join(LOCK_FILE);
        let lock = Self { path, created };
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock.path)
            {
                Ok(mut f) => {
                    let me = Holder::me();
                    writeln!(f, "{} {}", me.pid, me.host)
                        .with_context(|| format!("cannot write {}", lock.path.display()))?;
                    return Ok(lock);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if let Some(h) = holder(run_dir) {
                        let path = lock.path.clone();
                        // Not ours: Drop must leave that process's lock file alone.
                        std::mem::forget(lock);
                        bail!(
                            "{} is being trained by process {} on {} (lock {}); stop that \
                             run first (Ctrl-C saves it), or delete the lock if that process \
                             is gone",
                            run_dir.display(),
                            h.pid,
                            h.host,
                            path.display()
                        );
                    }
                    // A dead process's lock: take it over.
                    fs::remove_file(&lock.path)
                        .with_context(|| format!("cannot remove {}", lock.path.display()))?;
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot create {}", lock.path.display()));
                }
            }
        }
        bail!(
            "{}: another process took the lock at the same time",
            lock.path.display()
        )
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        if let Some(dir) = &self.created {
            // Only if nothing else was written (a run that failed before it started).
            let _ = fs::remove_dir(dir);
        }
    }
}
