//! The paper's depth-study table (Marchenko et al. 2024), kept as data in `paper.toml` so
//! that study reports can put every measured figure next to the published one.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

static PAPER_TOML: &str = include_str!("paper.toml");

/// One row of the paper's table: a depth, its autoencoder and its SSIM-matched JPEG.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperRow {
    /// Conv pairs.
    pub pairs: usize,
    /// Autoencoder mean PSNR (dB).
    pub ae_psnr: f64,
    /// Autoencoder mean SSIM.
    pub ae_ssim: f64,
    /// Autoencoder mean compression ratio.
    pub ae_ratio: f64,
    /// Autoencoder seconds per image.
    pub ae_seconds: f64,
    /// The matched JPEG quality (approximate in the paper).
    pub jpeg_quality: u8,
    /// JPEG mean PSNR (dB).
    pub jpeg_psnr: f64,
    /// JPEG mean SSIM.
    pub jpeg_ssim: f64,
    /// JPEG mean compression ratio.
    pub jpeg_ratio: f64,
    /// JPEG seconds per image.
    pub jpeg_seconds: f64,
}

impl PaperRow {
    /// Bits per pixel implied by a compression ratio of 24-bit RGB (the paper gives no bpp).
    pub fn bpp(ratio: f64) -> f64 {
        24.0 / ratio
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaperTable {
    row: Vec<PaperRow>,
}

/// The paper's four rows (3, 5, 7 and 10 pairs).
pub fn rows() -> Result<Vec<PaperRow>> {
    let table: PaperTable =
        toml::from_str(PAPER_TOML).context("the built-in table of the paper is malformed")?;
    Ok(table.row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_the_papers_figures() {
        let rows = rows().expect("paper.toml parses");
        let pairs: Vec<usize> = rows.iter().map(|r| r.pairs).collect();
        assert_eq!(pairs, [3, 5, 7, 10]);
        let (r3, r10) = (&rows[0], &rows[3]);
        assert_eq!(
            (r3.ae_psnr, r3.ae_ssim, r3.jpeg_quality),
            (27.09, 0.9738, 95)
        );
        assert_eq!((r10.jpeg_ratio, r10.jpeg_ssim), (40.82, 0.8147));
        // 49152 raw bytes / 4.58 = 10.7 kB at quality 95, as the paper notes.
        assert!((PaperRow::bpp(4.58) - 5.24).abs() < 0.01);
    }
}
