//! `niclab data`: build and check the datasets.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use niclab::data::prepare::{
    ManifestRow, TEST_1000, TEST_PHOTOS, compare_with_manifest, manifest_text, parse_manifest,
    prepare_photo_set, prepare_test_set, prepare_train_set, verify_test_set,
};

#[derive(Subcommand)]
pub enum Command {
    /// Cut the 1000 test crops and fill the training folder from the unpacked Debian
    /// packages (`make data` runs this after fetching them).
    Prepare {
        /// Where the packages were unpacked.
        #[arg(long, default_value = "datasets/raw")]
        raw: PathBuf,
        /// Output folder for test-1000/ and train/.
        #[arg(long, default_value = "datasets")]
        out: PathBuf,
        /// The committed manifest the test set must match.
        #[arg(long, default_value = "datasets/test-1000.tsv")]
        manifest: PathBuf,
        /// The committed manifest of the full-size test photos (datasets/test-photos).
        #[arg(long, default_value = "datasets/test-photos.tsv")]
        photos_manifest: PathBuf,
        /// Write the manifests instead of checking against them.
        #[arg(long)]
        write_manifest: bool,
    },
    /// Check that a test folder holds exactly the manifest's crops, pixel for pixel.
    Verify {
        /// The folder of crops.
        #[arg(long, default_value = "datasets/test-1000")]
        images: PathBuf,
        /// The manifest.
        #[arg(long, default_value = "datasets/test-1000.tsv")]
        manifest: PathBuf,
    },
}

/// Runs the command.
pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Prepare {
            raw,
            out,
            manifest,
            photos_manifest,
            write_manifest,
        } => {
            let test_dir = out.join("test-1000");
            let rows = prepare_test_set(&raw, &test_dir, TEST_1000)?;
            let side = TEST_1000.crop;
            check_manifest(
                &rows,
                &test_dir,
                &manifest,
                write_manifest,
                Some((side, side)),
            )?;
            println!(
                "{}: {} crops of 128x128 from 24 photos, matching {}",
                test_dir.display(),
                rows.len(),
                manifest.display()
            );
            let photos_dir = out.join("test-photos");
            let photo_rows = prepare_photo_set(&raw, &photos_dir, TEST_PHOTOS)?;
            check_manifest(
                &photo_rows,
                &photos_dir,
                &photos_manifest,
                write_manifest,
                None,
            )?;
            println!(
                "{}: {} photos of up to {}x{} (the same 24, halved, their centres), matching {}",
                photos_dir.display(),
                photo_rows.len(),
                TEST_PHOTOS.width,
                TEST_PHOTOS.height,
                photos_manifest.display()
            );
            let test_sha: Vec<String> = rows.iter().map(|r| r.source_sha256.clone()).collect();
            let train_dir = out.join("train");
            let set = prepare_train_set(&raw, &train_dir, &test_sha)?;
            println!(
                "{}: {} training photos ({} byte-identical duplicates left out), none shared with the test set",
                train_dir.display(),
                set.files.len(),
                set.duplicates
            );
        }
        Command::Verify { images, manifest } => {
            let text = std::fs::read_to_string(&manifest)
                .with_context(|| format!("cannot read {}", manifest.display()))?;
            let rows = parse_manifest(&text, &manifest)?;
            verify_test_set(&images, &rows, None)?;
            println!(
                "{}: {} crops match {}",
                images.display(),
                rows.len(),
                manifest.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `rows` as the manifest at `path`, or checks them and the folder against it.
fn check_manifest(
    rows: &[ManifestRow],
    dir: &Path,
    path: &Path,
    write: bool,
    size: Option<(u32, u32)>,
) -> Result<()> {
    if write {
        std::fs::write(path, manifest_text(rows))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
        return Ok(());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let expected = parse_manifest(&text, path)?;
    compare_with_manifest(rows, &expected, path)?;
    verify_test_set(dir, &expected, size)
}
