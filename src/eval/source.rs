//! Which trained model an evaluation uses: `niclab eval` accepts a checkpoint file, a
//! checkpoint folder, a TensorBoard run folder, an experiment file, a run name or the name
//! of a shipped model (`models/`, [`crate::zoo`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::config::Experiment;
use crate::train::checkpoint::Checkpoint;

/// A checkpoint chosen for evaluation.
pub struct ModelSource {
    /// The checkpoint file.
    pub path: PathBuf,
    /// Its contents.
    pub checkpoint: Checkpoint,
}

impl ModelSource {
    /// Resolves `target` (see the module doc); `checkpoints` is the folder of run folders.
    /// In a run folder, `best.ckpt` (lowest validation loss) is preferred to `last.ckpt`.
    pub fn resolve(target: &Path, checkpoints: &Path) -> Result<Self> {
        let path = checkpoint_path(target, checkpoints)?;
        crate::zoo::check_if_shipped(&path)?;
        let checkpoint = Checkpoint::load(&path)?;
        Ok(Self { path, checkpoint })
    }

    /// The experiment the model was trained with.
    pub fn experiment(&self) -> &Experiment {
        &self.checkpoint.meta.experiment
    }
}

fn checkpoint_path(target: &Path, checkpoints: &Path) -> Result<PathBuf> {
    let ext = target.extension().and_then(|e| e.to_str());
    if ext == Some("ckpt") {
        if !target.is_file() {
            bail!("checkpoint {} does not exist", target.display());
        }
        return Ok(target.to_path_buf());
    }
    let dir = if ext == Some("toml") {
        let exp = Experiment::load(target, &[])?;
        checkpoints.join(exp.name())
    } else if target.join("run.json").is_file() {
        // A TensorBoard run folder points to its checkpoint folder.
        let file = target.join("run.json");
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", file.display()))?;
        let dir = json["checkpoints"]
            .as_str()
            .with_context(|| format!("{}: no \"checkpoints\" entry", file.display()))?;
        PathBuf::from(dir)
    } else if target.is_dir() {
        target.to_path_buf()
    } else if target.components().count() == 1 && checkpoints.join(target).is_dir() {
        checkpoints.join(target)
    } else if let Some(name) = target.to_str().filter(|_| target.components().count() == 1)
        && let Some(path) = crate::zoo::shipped(&crate::zoo::default_dir(), name)?
    {
        return Ok(path);
    } else {
        let zoo = crate::zoo::default_dir();
        let shipped: Vec<String> = crate::zoo::Zoo::load(&zoo)
            .map(|z| z.models.into_iter().map(|m| m.name).collect())
            .unwrap_or_default();
        bail!(
            "{} is not a checkpoint (.ckpt), a run or checkpoint folder, an experiment file \
             (.toml), the name of a run in {} or a shipped model ({}: {})",
            target.display(),
            checkpoints.display(),
            zoo.display(),
            if shipped.is_empty() {
                "none".into()
            } else {
                shipped.join(", ")
            }
        );
    };
    for file in ["best.ckpt", "last.ckpt"] {
        if dir.join(file).is_file() {
            return Ok(dir.join(file));
        }
    }
    bail!(
        "{} holds no checkpoint (best.ckpt or last.ckpt): train the experiment first \
         (niclab train EXPERIMENT.toml)",
        dir.display()
    )
}
