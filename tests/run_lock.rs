//! One trainer per run: a live lock refuses a second `niclab train` with the reason and
//! leaves the run untouched; a dead process's lock is taken over; a training that fails
//! before it starts leaves no folder behind.

mod common;

use std::path::Path;

use common::niclab;
use niclab::run_lock::{LOCK_FILE, holder};

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_run_is_trained_by_one_process_at_a_time() {
    let dir = common::tiny_project(3);
    let root = dir.path();
    let run = root.join("checkpoints/tiny");
    std::fs::create_dir_all(&run).unwrap();
    let lock = run.join(LOCK_FILE);

    // Held by a live process (this test) on this host, or by any process on another host
    // (a shared file system: it cannot be checked from here).
    let me = std::process::id();
    for (text, who) in [
        (
            format!("{me} {}\n", host()),
            format!("process {me} on {}", host()),
        ),
        (
            "1 other-node\n".to_string(),
            "process 1 on other-node".to_string(),
        ),
    ] {
        std::fs::write(&lock, &text).unwrap();
        assert!(holder(&run).is_some());
        let (code, _, err) = niclab(&["train", "tiny.toml"], root);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("being trained by") && err.contains(&who),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(&lock).unwrap(),
            text,
            "the lock was touched"
        );
        assert!(!run.join("metrics.csv").exists() && !run.join("last.ckpt").exists());
    }

    // A dead process's lock is taken over, and released when the run ends.
    std::fs::write(&lock, format!("4194303 {}\n", host())).unwrap();
    assert!(holder(&run).is_none());
    let (code, _, err) = niclab(&["train", "tiny.toml"], root);
    assert_eq!(code, 0, "{err}");
    assert!(run.join("last.ckpt").is_file());
    assert!(!lock.exists());
}

#[test]
fn a_training_that_cannot_start_leaves_no_folder() {
    let dir = common::tiny_project(3);
    let root = dir.path();
    let (code, _, err) = niclab(&["train", "tiny.toml", "--resume"], root);
    assert_eq!(code, 1);
    assert!(err.contains("nothing to resume"), "{err}");
    assert!(!Path::new(&root.join("checkpoints/tiny")).exists());
}
