//! The runs the web app shows: every run folder under the checkpoints root (single
//! experiments, study members, codecs), summarised from its own files, and its curves from
//! `metrics.csv` and `validation.csv`, thinned on the server so a long run draws at once.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Experiment;
use crate::run_lock;

/// How deep under the root a run folder may sit (`<study>/<member>` is 2).
const MAX_DEPTH: usize = 3;

/// A run folder: where `niclab train` wrote `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    /// Its path under the root, `/`-separated: the id the API uses.
    pub id: String,
    /// The folder.
    pub dir: PathBuf,
}

/// Every run folder under `root`, sorted by id. Symbolic links are not followed, so nothing
/// outside the root is listed.
pub fn discover(root: &Path) -> Vec<RunDir> {
    super::folders::find(root, MAX_DEPTH, |d| {
        d.join("config.toml").is_file().then(|| d.to_path_buf())
    })
    .into_iter()
    .map(|(id, dir)| RunDir { id, dir })
    .collect()
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// A live process holds its lock.
    Running,
    /// All its steps are done.
    Finished,
    /// Stopped before its last step (Ctrl-C, `--stop-after`, a crash): `--resume` continues.
    Interrupted,
    /// No step logged yet.
    NotStarted,
}

/// The model's shape, as the runs table shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelShape {
    /// Conv pairs.
    pub pairs: usize,
    /// Channels per level.
    pub channels: Vec<usize>,
    /// Latent channels.
    pub latent_channels: usize,
    /// `none` or `factorized`.
    pub entropy: String,
}

/// Validation figures of one step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ValPoint {
    /// The step.
    pub step: u64,
    /// Validation loss.
    pub loss: f64,
    /// PSNR (dB).
    pub psnr: f64,
    /// SSIM.
    pub ssim: f64,
    /// Bits per pixel (codecs).
    pub bpp: Option<f64>,
}

/// One row of the runs table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run's id (its path under the checkpoints root).
    pub id: String,
    /// Its experiment's name.
    pub name: String,
    /// Running, finished, interrupted or not started.
    pub state: State,
    /// Steps logged.
    pub steps_done: u64,
    /// Steps planned (none when the experiment counts epochs).
    pub steps_planned: Option<u64>,
    /// The model.
    pub model: ModelShape,
    /// Loss weights by term (`ssim`, `perceptual`, `mse`, `colour`, `rate`).
    pub loss: BTreeMap<String, f64>,
    /// `flex` or `libtorch`, and the device.
    pub backend: String,
    /// The validation step with the lowest loss.
    pub best: Option<ValPoint>,
    /// The last validation step.
    pub last: Option<ValPoint>,
}

/// A run that could not be read: listed with the reason rather than left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unreadable {
    /// The run's id.
    pub id: String,
    /// What is wrong.
    pub error: String,
}

/// Summarises `run` from its files.
pub fn summary(run: &RunDir) -> Result<RunSummary, Unreadable> {
    let bad = |error: String| Unreadable {
        id: run.id.clone(),
        error,
    };
    let config = run.dir.join("config.toml");
    let text = fs::read_to_string(&config)
        .map_err(|e| bad(format!("cannot read {}: {e}", config.display())))?;
    let exp: Experiment =
        toml::from_str(&text).map_err(|e| bad(format!("{}: {}", config.display(), e.message())))?;
    let train = read_csv(&run.dir.join("metrics.csv"));
    let val = read_csv(&run.dir.join("validation.csv"));
    let steps_done = train
        .as_ref()
        .and_then(|t| t.column("step"))
        .and_then(|s| s.last().copied().flatten())
        .unwrap_or(0.0) as u64;
    let steps_planned = match exp.train.epochs {
        Some(_) => None,
        None => Some(exp.train.steps.unwrap_or(1000)),
    };
    let state = if run_lock::holder(&run.dir).is_some() {
        State::Running
    } else if steps_done == 0 {
        State::NotStarted
    } else if steps_planned.is_none_or(|p| steps_done >= p) {
        State::Finished
    } else {
        State::Interrupted
    };
    let points = val.as_ref().map(val_points).unwrap_or_default();
    let best = points
        .iter()
        .copied()
        .filter(|p| p.loss.is_finite())
        .min_by(|a, b| a.loss.total_cmp(&b.loss));
    let l = &exp.loss;
    Ok(RunSummary {
        id: run.id.clone(),
        name: exp.name().to_string(),
        state,
        steps_done,
        steps_planned,
        model: ModelShape {
            pairs: exp.model.pairs,
            channels: exp.model.channels.clone(),
            latent_channels: exp.model.latent_channels,
            entropy: exp.model.entropy.name().to_string(),
        },
        loss: [
            ("ssim", l.ssim),
            ("perceptual", l.perceptual),
            ("mse", l.mse),
            ("colour", l.colour),
            ("rate", l.rate),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        backend: format!("{} on {}", exp.train.backend, exp.train.device),
        best,
        last: points.last().copied(),
    })
}

fn val_points(t: &Table) -> Vec<ValPoint> {
    let col = |n: &str| t.column(n).unwrap_or_default();
    let (step, loss, psnr, ssim, bpp) = (
        col("step"),
        col("val_loss"),
        col("val_psnr"),
        col("val_ssim"),
        col("val_bpp"),
    );
    (0..step.len())
        .filter_map(|i| {
            Some(ValPoint {
                step: step[i]? as u64,
                loss: loss.get(i).copied().flatten()?,
                psnr: psnr.get(i).copied().flatten()?,
                ssim: ssim.get(i).copied().flatten()?,
                bpp: bpp.get(i).copied().flatten(),
            })
        })
        .collect()
}

/// A CSV log: its header and its rows of numbers (an empty cell is `None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, as long as the header (short rows padded with `None`).
    pub rows: Vec<Vec<Option<f64>>>,
}

impl Table {
    /// The column `name`, if the header has it.
    pub fn column(&self, name: &str) -> Option<Vec<Option<f64>>> {
        let i = self.header.iter().position(|h| h == name)?;
        Some(
            self.rows
                .iter()
                .map(|r| r.get(i).copied().flatten())
                .collect(),
        )
    }
}

/// Reads a niclab CSV log; `None` when it does not exist or has no header. A cell that is
/// not a number reads as empty (a row being written while it is read is cut short).
pub fn read_csv(path: &Path) -> Option<Table> {
    let text = fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let header: Vec<String> = lines.next()?.split(',').map(str::to_string).collect();
    let complete = text.ends_with('\n');
    let mut body: Vec<&str> = lines.collect();
    if !complete {
        // The last line may be half written by a running trainer.
        body.pop();
    }
    let rows = body
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut r: Vec<Option<f64>> = l.split(',').map(|c| c.parse().ok()).collect();
            r.resize(header.len(), None);
            r
        })
        .collect();
    Some(Table { header, rows })
}

/// Curves for the page: column name to values, every column thinned to at most `points`
/// values by averaging consecutive rows (the step of a bucket is its last); columns with no
/// value at all are left out.
pub fn thin(table: &Table, points: usize) -> BTreeMap<String, Vec<Option<f64>>> {
    let n = table.rows.len();
    let points = points.max(2);
    let buckets: Vec<std::ops::Range<usize>> = if n <= points {
        (0..n).map(|i| i..i + 1).collect()
    } else {
        (0..points)
            .map(|b| (b * n / points)..((b + 1) * n / points))
            .collect()
    };
    let mut out = BTreeMap::new();
    for (c, name) in table.header.iter().enumerate() {
        let cell = |r: usize| table.rows[r].get(c).copied().flatten();
        if (0..n).all(|r| cell(r).is_none()) {
            continue;
        }
        let values = buckets
            .iter()
            .map(|range| {
                if name == "step" || name == "epoch" {
                    return cell(range.end - 1);
                }
                let vals: Vec<f64> = range.clone().filter_map(cell).collect();
                (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
            })
            .collect();
        out.insert(name.clone(), values);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: usize) -> Table {
        Table {
            header: vec!["step".into(), "loss".into(), "rate".into()],
            rows: (1..=rows)
                .map(|s| vec![Some(s as f64), Some(1.0 / s as f64), None])
                .collect(),
        }
    }

    #[test]
    fn thinning_averages_buckets_and_keeps_the_last_step() {
        let t = table(10);
        let all = thin(&t, 100);
        assert_eq!(all["step"].len(), 10);
        assert!(!all.contains_key("rate"), "an empty column is left out");
        let few = thin(&t, 2);
        assert_eq!(few["step"], vec![Some(5.0), Some(10.0)]);
        let mean = (1..=5).map(|s| 1.0 / s as f64).sum::<f64>() / 5.0;
        assert!((few["loss"][0].unwrap() - mean).abs() < 1e-12);
        // 20 000 steps come back as 500 points.
        assert_eq!(thin(&table(20_000), 500)["loss"].len(), 500);
    }

    #[test]
    fn a_half_written_last_line_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        fs::write(&p, "step,loss\n1,0.5\n2,0.4\n3,0.").unwrap();
        let t = read_csv(&p).unwrap();
        assert_eq!(t.rows.len(), 2);
        fs::write(&p, "step,loss\n1,0.5\n2,x\n").unwrap();
        assert_eq!(
            read_csv(&p).unwrap().column("loss").unwrap(),
            vec![Some(0.5), None]
        );
    }
}
