//! Checkpoint files: model weights, Adam state and training state in one self-checking file,
//! written atomically (temporary file, fsync, rename) so a crash mid-write leaves the previous
//! checkpoint intact.
//!
//! Layout: `NICLABCK`, format version (u32 LE), header length (u32 LE), JSON header,
//! model length (u64 LE), model burnpack, optimiser length (u64 LE), optimiser burnpack,
//! SHA-256 of everything before it.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Experiment;

const MAGIC: &[u8; 8] = b"NICLABCK";
const VERSION: u32 = 1;

/// Training state stored next to the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// niclab version that wrote it.
    pub niclab_version: String,
    /// The resolved experiment of the run.
    pub experiment: Experiment,
    /// Optimiser steps done; training resumes at this step.
    pub step: u64,
    /// Validation loss at `step`, if validated there.
    pub val_loss: Option<f64>,
    /// Best validation loss seen so far in the run.
    pub best_val_loss: Option<f64>,
}

/// A checkpoint read back from disk.
pub struct Checkpoint {
    /// Training state.
    pub meta: CheckpointMeta,
    /// Model weights (burnpack).
    pub model: Vec<u8>,
    /// Adam state (burnpack).
    pub optimizer: Vec<u8>,
}

impl Checkpoint {
    /// Serialises the checkpoint.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = serde_json::to_vec(&self.meta)?;
        let mut out =
            Vec::with_capacity(64 + header.len() + self.model.len() + self.optimizer.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        for part in [&self.model, &self.optimizer] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(part);
        }
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        Ok(out)
    }

    /// Parses and checks a checkpoint; every length is checked against the data first.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        ensure!(
            bytes.len() >= 8 + 4 + 4 + 32,
            "too short to be a checkpoint"
        );
        ensure!(&bytes[..8] == MAGIC, "not a niclab checkpoint (bad magic)");
        let (body, digest) = bytes.split_at(bytes.len() - 32);
        ensure!(
            Sha256::digest(body).as_slice() == digest,
            "checksum mismatch: the file is truncated or corrupted"
        );
        let version = u32::from_le_bytes(body[8..12].try_into()?);
        ensure!(
            version == VERSION,
            "checkpoint format version {version}, this niclab reads version {VERSION}"
        );
        let mut rest = &body[12..];
        let header_len = u32::from_le_bytes(take(&mut rest, 4)?.try_into()?) as usize;
        let meta: CheckpointMeta = serde_json::from_slice(take(&mut rest, header_len)?)
            .context("bad checkpoint header")?;
        let mut part = || -> Result<Vec<u8>> {
            let len = u64::from_le_bytes(take(&mut rest, 8)?.try_into()?);
            let len = usize::try_from(len).context("section length overflows")?;
            Ok(take(&mut rest, len)?.to_vec())
        };
        let model = part()?;
        let optimizer = part()?;
        ensure!(
            rest.is_empty(),
            "{} stray bytes after the last section",
            rest.len()
        );
        Ok(Self {
            meta,
            model,
            optimizer,
        })
    }

    /// Writes to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }

    /// Reads `path`; errors name the file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes =
            fs::read(path).with_context(|| format!("cannot read checkpoint {}", path.display()))?;
        Self::from_bytes(&bytes).with_context(|| format!("{}", path.display()))
    }
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if rest.len() < n {
        bail!("section of {n} bytes runs past the end of the file");
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

/// Writes `bytes` to `path` through a temporary file in the same folder, fsynced, then renamed
/// over the target: readers see the old file or the new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    let result = (|| -> Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Makes the rename itself durable; not every filesystem allows it, hence `ok()`.
            File::open(dir).and_then(|d| d.sync_all()).ok();
        }
        Ok(())
    })();
    if result.is_err() {
        fs::remove_file(&tmp).ok();
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// The temporary name `write_atomic` uses for `path`.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Keys that may differ between a checkpoint and the run resuming it; everything else must match.
/// Evaluation settings are among them: they do not touch training.
pub const RESUMABLE_CHANGES: [&str; 9] = [
    "train.steps",
    "train.epochs",
    "train.checkpoint_every",
    "train.val_every",
    "train.log_every",
    "train.backend",
    "train.device",
    "eval.batch_size",
    "eval.storage",
];

/// The dotted keys whose values differ between two experiments (leaves only).
pub fn differing_keys(a: &Experiment, b: &Experiment) -> Vec<String> {
    fn walk(prefix: &str, a: &toml::Value, b: Option<&toml::Value>, out: &mut Vec<String>) {
        match (a, b) {
            (toml::Value::Table(ta), Some(toml::Value::Table(tb))) => {
                let mut keys: Vec<&String> = ta.keys().chain(tb.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    match ta.get(k) {
                        Some(va) => walk(&key, va, tb.get(k), out),
                        None => out.push(key),
                    }
                }
            }
            (va, Some(vb)) if va == vb => {}
            _ => out.push(prefix.to_string()),
        }
    }
    let (Ok(va), Ok(vb)) = (toml::Value::try_from(a), toml::Value::try_from(b)) else {
        return vec!["<unserialisable>".into()];
    };
    let mut out = Vec::new();
    walk("", &va, Some(&vb), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            meta: CheckpointMeta {
                niclab_version: "t".into(),
                experiment: Experiment::parse("", Path::new("s.toml"), &[]).unwrap(),
                step: 12,
                val_loss: Some(0.5),
                best_val_loss: Some(0.25),
            },
            model: vec![1, 2, 3, 4, 5],
            optimizer: vec![9; 100],
        }
    }

    #[test]
    fn round_trips() {
        let c = sample();
        let back = Checkpoint::from_bytes(&c.to_bytes().unwrap()).unwrap();
        assert_eq!(back.meta, c.meta);
        assert_eq!(back.model, c.model);
        assert_eq!(back.optimizer, c.optimizer);
    }

    #[test]
    fn every_truncation_and_flip_is_an_error() {
        let bytes = sample().to_bytes().unwrap();
        for n in 0..bytes.len() {
            assert!(
                Checkpoint::from_bytes(&bytes[..n]).is_err(),
                "truncated to {n}"
            );
        }
        for i in (0..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(Checkpoint::from_bytes(&b).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn atomic_write_keeps_old_file_when_the_write_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last.ckpt");
        write_atomic(&path, b"old").unwrap();
        // A directory squatting on the temporary name makes the write fail before the rename.
        fs::create_dir(tmp_path(&path)).unwrap();
        assert!(write_atomic(&path, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        fs::remove_dir(tmp_path(&path)).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(!tmp_path(&path).exists());
    }

    #[test]
    fn differing_keys_lists_leaves() {
        let a = Experiment::parse("", Path::new("s.toml"), &[]).unwrap();
        let b = Experiment::parse(
            "",
            Path::new("s.toml"),
            &["model.pairs=5".to_string(), "train.lr=0.01".to_string()],
        )
        .unwrap();
        assert_eq!(differing_keys(&a, &b), ["model.pairs", "train.lr"]);
        assert!(differing_keys(&a, &a).is_empty());
    }
}
