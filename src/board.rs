//! TensorBoard event files for a run: scalars, images, histograms and the HParams session,
//! written with tensorboard-rs' `FileWriter` and the protos of `tensorboard-proto`.
//!
//! What tensorboard-rs gets wrong is done here instead: images are encoded with their true
//! width and height (its `add_image` swaps them), histograms are bucketed here (its
//! `add_histogram` panics), and the HParams plugin summaries are built from the protos (its
//! `add_hparams` panics). Its writer names files by second and pid and panics in a background
//! thread when it cannot write, so a lock file guards the folder (one writer at a time), the
//! folder is checked writable first, and a new writer waits for a fresh second.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use image::RgbImage;
use protobuf::Message;
use protobuf::well_known_types::Value;
use tensorboard_proto::api::Status;
use tensorboard_proto::event::{Event, SessionLog, SessionLog_SessionStatus};
use tensorboard_proto::plugin_hparams::{HParamsPluginData, SessionEndInfo, SessionStartInfo};
use tensorboard_proto::summary::{
    Summary, Summary_Image, Summary_Value, SummaryMetadata, SummaryMetadata_PluginData,
};
use tensorboard_rs::summary::{histogram_raw, scalar};
use tensorboard_rs::summary_writer::FileWriter;

/// Name of the lock file that marks a run folder as being written.
pub const LOCK_FILE: &str = ".writer.lock";

/// Prefix of every TensorBoard event file name.
pub const EVENT_FILE_PREFIX: &str = "events.out.tfevents.";

/// The event files directly in `dir` (none if it does not exist), sorted.
pub fn event_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(vec![]);
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(EVENT_FILE_PREFIX))
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A hyperparameter value for the HParams dashboard.
#[derive(Debug, Clone, PartialEq)]
pub enum HParam {
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
}

/// The TensorBoard writer of one run folder; holds the folder's lock until dropped.
pub struct Board {
    writer: FileWriter,
    lock: PathBuf,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Board {
    /// Opens `dir` for writing. `resume_step`: the step a resumed run continues from; a
    /// `SessionLog START` there makes TensorBoard drop the events a crashed writer left after
    /// it, so curves have no duplicate steps.
    pub fn open(dir: &Path, resume_step: Option<u64>) -> Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let lock = dir.join(LOCK_FILE);
        match OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(mut f) => {
                writeln!(f, "{}", std::process::id())
                    .with_context(|| format!("cannot write {}", lock.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let pid = fs::read_to_string(&lock).unwrap_or_default();
                let pid = pid.trim();
                if !pid.is_empty() && Path::new("/proc").join(pid).exists() {
                    bail!(
                        "{} is being written by process {pid}; one writer per run folder",
                        dir.display()
                    );
                }
                // A stale lock from a crashed run: take it over.
                fs::write(&lock, format!("{}\n", std::process::id()))
                    .with_context(|| format!("cannot write {}", lock.display()))?;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot write into {}", dir.display()));
            }
        }
        // tensorboard-rs names the file by second and pid: never reuse a name in this folder.
        let prefix = |t: u64| format!("{EVENT_FILE_PREFIX}{t:010}.");
        loop {
            let t = now() as u64;
            let taken = fs::read_dir(dir)?.any(|e| {
                e.ok()
                    .and_then(|e| e.file_name().into_string().ok())
                    .is_some_and(|n| n.starts_with(&prefix(t)))
            });
            if !taken {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let mut board = Self {
            writer: FileWriter::new(dir),
            lock,
        };
        if let Some(step) = resume_step {
            let mut log = SessionLog::new();
            log.set_status(SessionLog_SessionStatus::START);
            let mut event = Event::new();
            event.set_session_log(log);
            board.writer.add_event(&event, step as usize);
        }
        Ok(board)
    }

    /// A scalar curve point.
    pub fn scalar(&mut self, tag: &str, value: f64, step: u64) {
        self.writer
            .add_summary(scalar(tag, value as f32), step as usize);
    }

    /// An RGB image, stored as PNG with its true width and height.
    pub fn image(&mut self, tag: &str, img: &RgbImage, step: u64) -> Result<()> {
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .context("cannot encode a TensorBoard image")?;
        let mut im = Summary_Image::new();
        im.set_width(img.width() as i32);
        im.set_height(img.height() as i32);
        im.set_colorspace(3);
        im.set_encoded_image_string(png);
        let mut value = Summary_Value::new();
        value.set_tag(tag.to_string());
        value.set_image(im);
        self.summary(value, step);
        Ok(())
    }

    /// A histogram of `values` in `buckets` equal-width buckets between their min and max.
    pub fn histogram(&mut self, tag: &str, values: &[f32], buckets: usize, step: u64) {
        let Some((limits, counts, stats)) = bucketize(values, buckets) else {
            return;
        };
        let (min, max, sum, sum_sq) = stats;
        self.writer.add_summary(
            histogram_raw(
                tag,
                min,
                max,
                values.len() as f64,
                sum,
                sum_sq,
                &limits,
                &counts,
            ),
            step as usize,
        );
    }

    /// The HParams session start: this run's hyperparameters.
    pub fn session_start(&mut self, hparams: &[(String, HParam)]) -> Result<()> {
        let mut info = SessionStartInfo::new();
        let mut map = HashMap::new();
        for (k, v) in hparams {
            let mut value = Value::new();
            match v {
                HParam::Number(x) => value.set_number_value(*x),
                HParam::Text(s) => value.set_string_value(s.clone()),
            }
            map.insert(k.clone(), value);
        }
        info.set_hparams(map);
        info.set_start_time_secs(now());
        let mut data = HParamsPluginData::new();
        data.set_version(0);
        data.set_session_start_info(info);
        self.hparams_summary("_hparams_/session_start_info", &data)
    }

    /// The HParams session end (successful or not).
    pub fn session_end(&mut self, success: bool) -> Result<()> {
        let mut info = SessionEndInfo::new();
        info.set_status(if success {
            Status::STATUS_SUCCESS
        } else {
            Status::STATUS_FAILURE
        });
        info.set_end_time_secs(now());
        let mut data = HParamsPluginData::new();
        data.set_version(0);
        data.set_session_end_info(info);
        self.hparams_summary("_hparams_/session_end_info", &data)
    }

    fn hparams_summary(&mut self, tag: &str, data: &HParamsPluginData) -> Result<()> {
        let mut plugin = SummaryMetadata_PluginData::new();
        plugin.set_plugin_name("hparams".into());
        plugin.set_content(
            data.write_to_bytes()
                .context("cannot encode HParams data")?,
        );
        let mut meta = SummaryMetadata::new();
        meta.set_plugin_data(plugin);
        let mut value = Summary_Value::new();
        value.set_tag(tag.to_string());
        value.set_metadata(meta);
        self.summary(value, 0);
        Ok(())
    }

    fn summary(&mut self, value: Summary_Value, step: u64) {
        let mut summary = Summary::new();
        summary.set_value(vec![value].into());
        self.writer.add_summary(summary, step as usize);
    }

    /// Pushes everything written so far to disk.
    pub fn flush(&mut self) {
        self.writer.flush();
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        self.writer.flush();
        fs::remove_file(&self.lock).ok();
    }
}

/// Equal-width buckets over the values' range: (right edges, counts, (min, max, sum, sum of
/// squares)); `None` for no values. Non-finite values are left out.
#[allow(clippy::type_complexity)]
pub fn bucketize(
    values: &[f32],
    buckets: usize,
) -> Option<(Vec<f64>, Vec<f64>, (f64, f64, f64, f64))> {
    let v: Vec<f64> = values
        .iter()
        .filter(|x| x.is_finite())
        .map(|x| *x as f64)
        .collect();
    if v.is_empty() || buckets == 0 {
        return None;
    }
    let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let width = if max > min {
        (max - min) / buckets as f64
    } else {
        1.0
    };
    let mut counts = vec![0.0; buckets];
    for x in &v {
        let i = (((x - min) / width) as usize).min(buckets - 1);
        counts[i] += 1.0;
    }
    let limits = (1..=buckets).map(|i| min + width * i as f64).collect();
    let sum = v.iter().sum();
    let sum_sq = v.iter().map(|x| x * x).sum();
    Some((limits, counts, (min, max, sum, sum_sq)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_count_every_value_once() {
        let (limits, counts, (min, max, sum, _)) =
            bucketize(&[0.0, 1.0, 1.0, 2.0, 4.0, f32::NAN], 4).unwrap();
        assert_eq!(limits, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(counts, [1.0, 2.0, 1.0, 1.0]);
        assert_eq!((min, max, sum), (0.0, 4.0, 8.0));
        assert!(bucketize(&[], 4).is_none());
        let (_, counts, _) = bucketize(&[3.0, 3.0], 5).unwrap();
        assert_eq!(counts.iter().sum::<f64>(), 2.0);
    }

    #[test]
    fn one_writer_per_folder() {
        let dir = tempfile::tempdir().unwrap();
        let a = Board::open(dir.path(), None).unwrap();
        let err = Board::open(dir.path(), None).err().unwrap().to_string();
        assert!(err.contains("one writer per run folder"), "{err}");
        drop(a);
        drop(Board::open(dir.path(), Some(3)).unwrap());
        // Two writers in one second never share a file name (a dropped writer has finished
        // its file).
        assert_eq!(event_files(dir.path()).unwrap().len(), 2);
    }
}
