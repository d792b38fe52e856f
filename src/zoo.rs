//! The model zoo: trained models shipped in `models/`, so that `niclab compress` and
//! `decompress` work on a fresh clone with no training.
//!
//! `models/zoo.toml` lists them (name, kind, SHA-256 of each file, the `.nic` fingerprint,
//! the commit and command that trained them, their figures on `datasets/test-1000` and on a
//! sample of it); `models/<name>/` holds `model.ckpt` (a checkpoint with the weights only, no
//! optimiser state), `model.tables.json` (its integer coding tables, made once, so every
//! machine codes with the same integers) and `experiment.toml` (the resolved experiment).
//! Loading a shipped model checks its files' SHA-256 against the list, and a study checks
//! the experiment file's before it trusts it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use burn::prelude::Device;
use image::RgbImage;

use crate::codec::files::Session;
use crate::codec::finalize::tables_path;
use crate::config::{Backend, DeviceSpec, Entropy, Experiment, parse_located};
use crate::cpu_encoder::ImageEncoder;
use crate::data::batches::closing_crops;
use crate::digest::sha256_hex;
use crate::eval::load_images;
use crate::eval::source::ModelSource;
use crate::model::Autoencoder;
use crate::rd::{ModelScores, score_model};
use crate::train::checkpoint::{Checkpoint, write_atomic};
use crate::train::model_from_checkpoint;

/// The list of shipped models, inside the zoo folder.
pub const ZOO_FILE: &str = "zoo.toml";
/// A shipped model's weights, inside its folder.
pub const MODEL_FILE: &str = "model.ckpt";
/// The resolved experiment in a shipped model's folder.
pub const EXPERIMENT_FILE: &str = "experiment.toml";
/// Every `SAMPLE_EVERY`-th test image makes the sample whose figures a test reproduces.
pub const SAMPLE_EVERY: usize = 10;

/// What a shipped model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A learned codec (entropy model, rate term): `niclab compress`.
    Codec,
    /// One of the paper's plain autoencoders (the depth study).
    Paper,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Codec => "codec",
            Kind::Paper => "paper",
        })
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "codec" => Ok(Kind::Codec),
            "paper" => Ok(Kind::Paper),
            other => Err(format!(
                "unknown kind `{other}`, expected \"codec\" or \"paper\""
            )),
        }
    }
}

/// How a shipped model was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trained {
    /// The commit of niclab that trained it.
    pub commit: String,
    /// The command that trained it.
    pub command: String,
    /// Training steps of the checkpoint.
    pub step: u64,
    /// Backend it was trained on.
    pub backend: String,
    /// Training wall seconds, from the run's `metrics.csv` (validation included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

/// A model's means over one image set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figures {
    /// The folder.
    pub images: String,
    /// Images scored.
    pub count: usize,
    /// The means.
    pub scores: ModelScores,
}

/// One shipped model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Its name, also its folder: `--model NAME`.
    pub name: String,
    /// Codec or paper model.
    pub kind: Kind,
    /// One line for `niclab models`.
    pub description: String,
    /// SHA-256 of `model.ckpt`.
    pub sha256: String,
    /// SHA-256 of `model.tables.json` (codecs only: a paper model has no tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables_sha256: Option<String>,
    /// SHA-256 of `experiment.toml`: a study matches its members against that file, so an
    /// edited one must be an error, not another experiment that silently trains again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_sha256: Option<String>,
    /// The fingerprint its `.nic` files carry (16 hex digits; codecs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Bytes of `model.ckpt`.
    pub bytes: u64,
    /// How it was trained.
    pub trained: Trained,
    /// Figures on the whole test set, `.nic` files counted.
    pub test: Figures,
    /// Figures on every [`SAMPLE_EVERY`]-th image of it (reproduced by a test).
    pub sample: Figures,
}

/// `models/zoo.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zoo {
    /// The model `niclab compress` uses without `--model`.
    pub default: Option<String>,
    /// The models, by name.
    #[serde(default, rename = "model")]
    pub models: Vec<Entry>,
}

/// The zoo folder: `$NICLAB_MODELS`, else `models/` under the working directory when it has
/// a `zoo.toml`, else the `models/` of the source tree the binary was built from.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("NICLAB_MODELS") {
        return d.into();
    }
    let here = PathBuf::from("models");
    if here.join(ZOO_FILE).is_file() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

impl Zoo {
    /// Reads `dir/zoo.toml`; a missing file is an empty zoo, a bad one an error naming the
    /// file, line and key.
    pub fn load(dir: &Path) -> Result<Self> {
        let file = dir.join(ZOO_FILE);
        let text = match fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
        };
        let (zoo, _): (Zoo, _) = parse_located(&text, &file)?;
        let mut names: Vec<&str> = zoo.models.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            bail!("{}: model {} is listed twice", file.display(), w[0]);
        }
        if let Some(d) = &zoo.default
            && zoo.find(d).is_none()
        {
            bail!("{}: default = {d:?} names no listed model", file.display());
        }
        Ok(zoo)
    }

    /// The entry named `name`.
    pub fn find(&self, name: &str) -> Option<&Entry> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The entry whose files carry `fingerprint`.
    pub fn by_fingerprint(&self, fingerprint: &str) -> Option<&Entry> {
        self.models
            .iter()
            .find(|m| m.fingerprint.as_deref() == Some(fingerprint))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        let mut text = String::from(
            "# The model zoo: trained models shipped with niclab (`niclab models`, README \
             \"Model zoo\").\n# Written by `niclab models add`; the checksums are checked \
             whenever a model is loaded.\n\n",
        );
        text.push_str(&toml::to_string(self).context("cannot write the zoo list")?);
        write_atomic(&dir.join(ZOO_FILE), text.as_bytes())
    }
}

impl Entry {
    /// Its checkpoint file.
    pub fn checkpoint(&self, dir: &Path) -> PathBuf {
        dir.join(&self.name).join(MODEL_FILE)
    }

    /// Its `experiment.toml`.
    pub fn experiment_file(&self, dir: &Path) -> PathBuf {
        dir.join(&self.name).join(EXPERIMENT_FILE)
    }

    /// Checks its files against the listed SHA-256s; the error names the file and says how
    /// to restore it.
    pub fn verify(&self, dir: &Path) -> Result<()> {
        let ckpt = self.checkpoint(dir);
        let mut files = vec![(ckpt.clone(), &self.sha256)];
        if let Some(tables) = &self.tables_sha256 {
            files.push((tables_path(&ckpt), tables));
        }
        if let Some(exp) = &self.experiment_sha256 {
            files.push((self.experiment_file(dir), exp));
        }
        for (file, want) in files {
            self.read_checked(dir, &file, Some(want))?;
        }
        Ok(())
    }

    /// The experiment it was trained with, its file checked against the listed SHA-256.
    pub fn experiment(&self, dir: &Path) -> Result<Experiment> {
        let file = self.experiment_file(dir);
        let bytes = self.read_checked(dir, &file, self.experiment_sha256.as_ref())?;
        let text = String::from_utf8_lossy(&bytes);
        parse_located::<Experiment>(&text, &file)
            .map(|(exp, _)| exp)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("shipped model {}", self.name))
    }

    /// The bytes of `file`, refused when they do not hash to `want`.
    fn read_checked(&self, dir: &Path, file: &Path, want: Option<&String>) -> Result<Vec<u8>> {
        let bytes = fs::read(file).with_context(|| {
            format!(
                "shipped model {}: cannot read {} (restore it with `git checkout -- {}`)",
                self.name,
                file.display(),
                file.display()
            )
        })?;
        let got = sha256_hex(&bytes);
        match want {
            Some(want) if got != *want => bail!(
                "shipped model {}: {} has SHA-256 {got}, {} lists {want}: the file is \
                 damaged or was replaced (restore it with `git checkout -- {}`)",
                self.name,
                file.display(),
                dir.join(ZOO_FILE).display(),
                file.display()
            ),
            _ => Ok(bytes),
        }
    }
}

/// The checkpoint of the shipped model `name`, if the zoo in `dir` lists it (its files are
/// checked when it is loaded, by [`check_if_shipped`]).
pub fn shipped(dir: &Path, name: &str) -> Result<Option<PathBuf>> {
    Ok(Zoo::load(dir)?.find(name).map(|e| e.checkpoint(dir)))
}

/// The zoo entry whose checkpoint `path` is (a path into the zoo folder, however spelled).
pub fn entry_of(path: &Path) -> Option<Entry> {
    let dir = default_dir();
    let (Ok(zoo), Ok(target)) = (Zoo::load(&dir), path.canonicalize()) else {
        return None;
    };
    zoo.models
        .into_iter()
        .find(|e| e.checkpoint(&dir).canonicalize().ok().as_deref() == Some(target.as_path()))
}

/// Checks `path` against the zoo if it is a shipped model's checkpoint; other paths pass.
pub fn check_if_shipped(path: &Path) -> Result<()> {
    match entry_of(path) {
        Some(e) => e.verify(&default_dir()),
        None => Ok(()),
    }
}

/// What `niclab models add` records.
pub struct AddOptions {
    /// The zoo folder.
    pub dir: PathBuf,
    /// Name in the zoo; `None`: the run's experiment name.
    pub name: Option<String>,
    /// Codec or paper model; `None`: from the model (a codec has an entropy model).
    pub kind: Option<Kind>,
    /// One line.
    pub description: String,
    /// The command that trained it.
    pub command: String,
    /// The commit that trained it.
    pub commit: String,
    /// The test set the figures are measured on.
    pub images: PathBuf,
    /// Make it the default model (codecs only).
    pub default: bool,
    /// Folder of run folders, to resolve the run.
    pub checkpoints: PathBuf,
}

/// The kind a trained model is: a codec has an entropy model, a paper model has none.
fn kind_of(source: &ModelSource) -> Kind {
    match source.experiment().model.entropy {
        Entropy::None => Kind::Paper,
        _ => Kind::Codec,
    }
}

/// A model loaded for scoring: a codec with its tables (real `.nic` files), or a paper model
/// (float32 latents).
pub enum Scorer {
    /// A learned codec.
    Codec(Session),
    /// One of the paper's plain autoencoders.
    Paper {
        /// The model.
        model: Autoencoder,
        /// Where it runs.
        device: Device,
        /// Images per batch.
        batch_size: usize,
        /// Padding multiple of its input.
        scale: usize,
    },
}

impl Scorer {
    /// Loads `source` on the backend and device its experiment names.
    pub fn open(source: ModelSource) -> Result<Self> {
        if kind_of(&source) == Kind::Codec {
            return Ok(Self::Codec(Session::from_source(source, None, None)?));
        }
        let exp = source.experiment();
        let device = crate::backend::device(exp.train.backend, exp.train.device)?;
        let model = model_from_checkpoint(&source.checkpoint, &source.path, &device)?;
        Ok(Self::Paper {
            batch_size: exp.eval.batch_size,
            scale: exp.model.scale(),
            model,
            device,
        })
    }

    /// The fingerprint a codec's files carry.
    pub fn fingerprint(&self) -> Option<String> {
        match self {
            Self::Codec(s) => Some(s.coder.fingerprint_hex()),
            Self::Paper { .. } => None,
        }
    }

    /// Means over `images` (a progress bar named `name`).
    pub fn score(&self, name: &str, images: &[RgbImage]) -> Result<ModelScores> {
        match self {
            Self::Codec(s) => score_model(s, name, images),
            Self::Paper {
                model,
                device,
                batch_size,
                scale,
            } => crate::rd::score(
                &ImageEncoder::new(model, device)?,
                None,
                *batch_size,
                *scale,
                name,
                images,
            ),
        }
    }
}

/// Training wall seconds of the run in `run_dir`, trained with `exp`, added up from its
/// `metrics.csv`: each row's steps times the crops of such a step over its images per second.
/// A closing step (`data.final_crop_size`) takes fewer, larger crops, and its rows count those
/// a second. `None` without a readable file.
pub fn training_seconds(run_dir: &Path, exp: &Experiment) -> Option<f64> {
    let text = fs::read_to_string(run_dir.join("metrics.csv")).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let step_col = header.iter().position(|h| *h == "step")?;
    let ips_col = header.iter().position(|h| *h == "images_per_sec")?;
    let mut rows = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let step: u64 = cells.get(step_col)?.parse().ok()?;
        let ips: f64 = cells.get(ips_col)?.parse().ok()?;
        rows.push((step, ips));
    }
    // The run's length: `train.steps`, or (sized by `train.epochs`) where its metrics end.
    let end = rows.last()?.0;
    let total = exp
        .train
        .steps
        .filter(|_| exp.train.epochs.is_none())
        .unwrap_or(end);
    let batch = exp.train.batch_size;
    let closing = exp
        .data
        .final_crop_size
        .zip(exp.data.final_crop_steps)
        .map(|(side, n)| {
            let devices = exp.train.replica_devices().len();
            (
                total.saturating_sub(n),
                closing_crops(batch, exp.data.crop_size, side, devices),
            )
        });
    let crops_at = |step: u64| match closing {
        Some((from, crops)) if step >= from => crops,
        _ => batch,
    };
    let (mut secs, mut last) = (0.0, 0u64);
    for (step, ips) in rows {
        if ips > 0.0 && step > last {
            secs += (step - last) as f64 * crops_at(step - 1) as f64 / ips;
        }
        last = step;
    }
    (secs > 0.0).then_some(secs)
}

/// Adds (or replaces) a trained run in the zoo: its checkpoint without optimiser state, set
/// to run on flex (built into every binary), a codec's tables, its experiment, and its
/// figures measured on flex.
pub fn add(run: &Path, opts: &AddOptions) -> Result<Entry> {
    let source = ModelSource::resolve(run, &opts.checkpoints)?;
    let kind = kind_of(&source);
    if let Some(asked) = opts.kind
        && asked != kind
    {
        bail!(
            "{}: --kind {asked}, but the model is a {kind} model (a codec has an entropy \
             model, a paper model has none: model.entropy = {:?})",
            source.path.display(),
            source.experiment().model.entropy
        );
    }
    if opts.default && kind != Kind::Codec {
        bail!("--default: only a codec can be niclab compress's default model");
    }
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| source.experiment().name().to_string());
    let mut meta = source.checkpoint.meta.clone();
    let trained_backend = meta.experiment.train.backend.to_string();
    let seconds = source
        .path
        .parent()
        .and_then(|d| training_seconds(d, &meta.experiment));
    as_shipped(&mut meta.experiment);
    // A codec's reports (eval, rd) label it by its experiment's name: make that the zoo's.
    // Not a paper model's, which a study matches against its own experiment, name included.
    if kind == Kind::Codec {
        meta.experiment.name = Some(name.clone());
    }
    let folder = opts.dir.join(&name);
    fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    let ckpt = folder.join(MODEL_FILE);
    let shipped = Checkpoint {
        meta,
        model: source.checkpoint.model,
        optimizer: Vec::new(),
    };
    shipped.save(&ckpt)?;
    // The run's own tables when it has them, so the zoo model writes the run's files.
    let run_tables = tables_path(&source.path);
    if kind == Kind::Codec && run_tables.is_file() {
        fs::copy(&run_tables, tables_path(&ckpt))
            .with_context(|| format!("cannot copy {}", run_tables.display()))?;
    }
    let exp_text =
        toml::to_string(&shipped.meta.experiment).context("cannot write the experiment")?;
    write_atomic(&folder.join(EXPERIMENT_FILE), exp_text.as_bytes())?;

    let step = shipped.meta.step;
    let scorer = Scorer::open(ModelSource {
        path: ckpt.clone(),
        checkpoint: shipped,
    })?;
    let (names, originals) = load_images(&opts.images)?;
    let test = scorer.score(&name, &originals)?;
    // Scored on its own, as the test that reproduces it does (batches of the sample only).
    let sample_images: Vec<_> = originals.into_iter().step_by(SAMPLE_EVERY).collect();
    let sample = scorer.score(&name, &sample_images)?;
    let images = opts.images.display().to_string();
    let tables_sha256 = match kind {
        Kind::Codec => Some(sha256_hex(&fs::read(tables_path(&ckpt))?)),
        Kind::Paper => None,
    };
    let entry = Entry {
        name,
        kind,
        description: opts.description.clone(),
        sha256: sha256_hex(&fs::read(&ckpt)?),
        tables_sha256,
        experiment_sha256: Some(sha256_hex(exp_text.as_bytes())),
        fingerprint: scorer.fingerprint(),
        bytes: fs::metadata(&ckpt)?.len(),
        trained: Trained {
            commit: opts.commit.clone(),
            command: opts.command.clone(),
            step,
            backend: trained_backend,
            seconds,
        },
        test: Figures {
            images: images.clone(),
            count: names.len(),
            scores: test,
        },
        sample: Figures {
            images: format!("{images}, every {SAMPLE_EVERY}th image"),
            count: sample_images.len(),
            scores: sample,
        },
    };
    let mut zoo = Zoo::load(&opts.dir)?;
    zoo.models.retain(|m| m.name != entry.name);
    zoo.models.push(entry.clone());
    zoo.models.sort_by(|a, b| {
        (a.kind as u8, a.test.scores.bpp)
            .partial_cmp(&(b.kind as u8, b.test.scores.bpp))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    if opts.default || (zoo.default.is_none() && kind == Kind::Codec) {
        zoo.default = Some(entry.name.clone());
    }
    zoo.save(&opts.dir)?;
    Ok(entry)
}

/// `exp` as the zoo stores it: on flex and the CPU, where every build runs it. The number
/// of training devices stays (each took `batch_size` crops of a step), their kind does not.
fn as_shipped(exp: &mut Experiment) {
    exp.train.backend = Backend::Flex;
    exp.train.device = DeviceSpec::Cpu;
    exp.train.devices.fill(DeviceSpec::Cpu);
}

/// The shipped model trained with exactly `exp` (the backend and device it ran on aside), if
/// any: a study finds its members there before it trains them.
pub fn trained_with(exp: &Experiment) -> Result<Option<(PathBuf, Entry)>> {
    let dir = default_dir();
    let zoo = Zoo::load(&dir)?;
    let mut want = exp.clone();
    as_shipped(&mut want);
    for e in &zoo.models {
        // A damaged or edited experiment file is an error: matching it as "another
        // experiment" would retrain the member without a word.
        if e.experiment(&dir)? == want {
            return Ok(Some((e.checkpoint(&dir), e.clone())));
        }
    }
    Ok(None)
}

/// The table `niclab models` prints.
pub fn listing(zoo: &Zoo, dir: &Path) -> String {
    if zoo.models.is_empty() {
        return format!("no shipped models in {}\n", dir.display());
    }
    let mut out = format!(
        "{:<22} {:<6} {:>7} {:>7} {:>7} {:>6} {:>8}  {}\n",
        "model", "kind", "bpp", "PSNR", "SSIM", "dE00", "size", "fingerprint"
    );
    for m in &zoo.models {
        let s = &m.test.scores;
        let mark = if zoo.default.as_deref() == Some(m.name.as_str()) {
            " (default)"
        } else {
            ""
        };
        out.push_str(&format!(
            "{:<22} {:<6} {:>7.4} {:>7.2} {:>7.4} {:>6.2} {:>6.1}MB  {}{mark}\n",
            m.name,
            m.kind,
            s.bpp,
            s.psnr,
            s.ssim,
            s.colour.delta_e,
            m.bytes as f64 / 1e6,
            m.fingerprint.as_deref().unwrap_or("-")
        ));
    }
    let first = &zoo.models[0].test;
    out.push_str(&format!(
        "figures: means over the {} images of {} (codecs: .nic files counted; paper models: \
         float32 latents, as the paper stored them); models in {}\n",
        first.count,
        first.images,
        dir.display()
    ));
    out
}

/// The model that wrote the `.nic` file `input` (a folder: its first `.nic` file), found by
/// the fingerprint in its header: a shipped model, else a run in `checkpoints` whose tables
/// carry it. The error names the fingerprint when none does.
pub fn model_of_file(input: &Path, checkpoints: &Path) -> Result<PathBuf> {
    let file = if input.is_dir() {
        let (files, _) = crate::data::images::list_files(input, &["nic"])?;
        files
            .into_iter()
            .next()
            .with_context(|| format!("{} holds no .nic files", input.display()))?
    } else {
        input.to_path_buf()
    };
    let bytes = fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let (header, _) =
        crate::codec::nic::parse(&bytes).with_context(|| format!("{}", file.display()))?;
    let fingerprint = crate::codec::hex(&header.fingerprint);
    let dir = default_dir();
    let zoo = Zoo::load(&dir)?;
    if let Some(e) = zoo.by_fingerprint(&fingerprint) {
        // The shipped file itself: a run of the same name in `checkpoints` may differ.
        return Ok(e.checkpoint(&dir));
    }
    let mut runs = Vec::new();
    if let Ok(entries) = fs::read_dir(checkpoints) {
        for entry in entries.flatten() {
            for ckpt in ["best.ckpt", "last.ckpt"] {
                let path = entry.path().join(ckpt);
                runs.push(path);
            }
        }
    }
    runs.sort();
    for ckpt in runs {
        let tables = tables_path(&ckpt);
        if ckpt.is_file()
            && crate::codec::finalize::stored_fingerprint(&tables)
                .is_some_and(|f| crate::codec::hex(&f) == fingerprint)
        {
            return Ok(ckpt);
        }
    }
    bail!(
        "{}: no shipped model ({}) and no run in {} has fingerprint {fingerprint}, the model \
         that wrote it: pass --model with the model that compressed it",
        file.display(),
        dir.display(),
        checkpoints.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of 40 steps of 8 crops of 128x128 whose last 20 take two of 256x256: its rows
    /// count closing crops a second, so those steps must be timed by 2 crops, not the batch.
    #[test]
    fn training_time_counts_the_closing_steps_crops() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("metrics.csv"),
            "step,loss,images_per_sec\n10,1,10\n20,1,10\n30,1,2.5\n40,1,2.5\n",
        )
        .unwrap();
        let text = "[data]\ncrop_size = 128\nfinal_crop_size = 256\nfinal_crop_steps = 20\n\
                    [train]\nsteps = 40\nbatch_size = 8\n";
        let exp = Experiment::parse(text, Path::new("x.toml"), &[]).unwrap();
        // 20 steps x 8 crops / 10 a second, then 20 x 2 / 2.5.
        let secs = training_seconds(dir.path(), &exp).unwrap();
        assert!((secs - 32.0).abs() < 1e-9, "{secs} s");
        // With epochs the run ends where its metrics do: the same here.
        let exp = Experiment::parse(
            &text.replace("steps = 40", "epochs = 1"),
            Path::new("x.toml"),
            &[],
        )
        .unwrap();
        let secs = training_seconds(dir.path(), &exp).unwrap();
        assert!((secs - 32.0).abs() < 1e-9, "{secs} s");
    }
}
