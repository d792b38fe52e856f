//! `--progress json`: long stages report their progress as JSON lines on stderr (what a
//! program following niclab reads), the terminal bar otherwise; a bad style is a usage error.

mod common;

use common::niclab;
use niclab::progress::Event;

/// The JSON progress lines of `stderr` (other lines are the command's plain messages).
fn events(stderr: &str) -> Vec<Event> {
    stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn training_and_a_study_report_json_lines() {
    let dir = common::tiny_project(6);
    let root = dir.path();
    let (code, _, err) = niclab(&["--progress", "json", "train", "tiny.toml"], root);
    assert_eq!(code, 0, "{err}");
    let ev = events(&err);
    let train: Vec<&Event> = ev.iter().filter(|e| e.stage == "train").collect();
    assert!(!train.is_empty(), "{err}");
    assert!(train.windows(2).all(|w| w[0].done <= w[1].done), "{err}");
    let last = train.last().unwrap();
    assert!(
        last.finished && (last.done, last.total) == (6, 6),
        "{last:?}"
    );
    for key in ["loss", "lr", "images_per_sec", "ssim", "mse", "val_psnr"] {
        assert!(last.metrics.contains_key(key), "{key}: {last:?}");
    }
    // The plain messages stay plain text.
    assert!(err.contains("val loss"), "{err}");

    // Without the flag stderr is no terminal here: no bar, no JSON.
    let (code, _, err) = niclab(&["train", "tiny.toml", "--set", "name=bar"], root);
    assert_eq!(code, 0, "{err}");
    assert!(events(&err).is_empty(), "{err}");

    // A study reports its members as a stage of its own, around its members' stages.
    common::write_photos(&root.join("test"), 3, 32, 32);
    std::fs::write(
        root.join("s.toml"),
        "name = \"s\"\nexperiments = [\"tiny.toml\"]\n\n[eval]\nimages = \"test\"\n",
    )
    .unwrap();
    let (code, _, err) = niclab(&["--progress", "json", "study", "s.toml"], root);
    assert_eq!(code, 0, "{err}");
    let ev = events(&err);
    let study: Vec<&Event> = ev.iter().filter(|e| e.stage == "study").collect();
    assert_eq!(study.first().map(|e| e.message.as_str()), Some("tiny"));
    let last = study.last().unwrap();
    assert!(
        last.finished && (last.done, last.total) == (1, 1),
        "{last:?}"
    );
    assert!(
        ev.iter().any(|e| e.stage == "autoencoder" && e.finished),
        "{err}"
    );
}

#[test]
fn an_unknown_progress_style_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = niclab(&["--progress", "loud", "models"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains("loud") && err.contains("bar, json or none"),
        "{err}"
    );
}
