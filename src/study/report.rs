//! A study's report: one row per experiment next to the paper's row of the same depth
//! (`report.md`, `summary.json`), SSIM and PSNR against depth (`plots/`), and the same
//! images across depths (`strips/`).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::paper::{self, PaperRow};
use super::{MemberState, Stage, Study, sweep};
use crate::classic::jpeg::JpegCodec;
use crate::eval::plots::{self, Series, Strip};
use crate::eval::report::{CodecSummary, machine};
use crate::metrics::{psnr, ssim};
use crate::train::checkpoint::write_atomic;

/// The study's report for people.
pub const REPORT_FILE: &str = "report.md";
/// The study's figures as JSON.
pub const SUMMARY_FILE: &str = "summary.json";
/// Mean SSIM against depth.
pub const SSIM_PLOT: &str = "plots/ssim-vs-depth.png";
/// Mean PSNR against depth.
pub const PSNR_PLOT: &str = "plots/psnr-vs-depth.png";

/// One experiment of the study, measured, and the paper's figures for its depth.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StudyRow {
    /// Experiment name.
    pub experiment: String,
    /// Conv pairs.
    pub pairs: usize,
    /// Steps trained.
    pub steps: u64,
    /// Backend and device it was evaluated on.
    pub backend: String,
    /// Training wall seconds (of the invocation that trained it; `None` if unknown).
    pub train_seconds: Option<f64>,
    /// Training images per second.
    pub train_images_per_sec: Option<f64>,
    /// Evaluation wall seconds.
    pub eval_seconds: Option<f64>,
    /// The checkpoint evaluated.
    pub checkpoint: PathBuf,
    /// The evaluation folder.
    pub eval_dir: PathBuf,
    /// Autoencoder means.
    pub autoencoder: CodecSummary,
    /// The first (SSIM-matched, by default) JPEG's means.
    pub jpeg: Option<CodecSummary>,
    /// The paper's row for this depth.
    pub paper: Option<PaperRow>,
    /// A sweep's values other than the depth (`train.seed=42`): members that share it form
    /// one series across depths. None outside sweeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
}

/// `summary.json` of a study.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StudySummary {
    /// niclab version.
    pub niclab_version: String,
    /// Study name.
    pub study: String,
    /// What it is for.
    pub description: Option<String>,
    /// Overrides applied to every experiment.
    pub overrides: Vec<String>,
    /// Test images.
    pub images: PathBuf,
    /// How many.
    pub count: usize,
    /// How the autoencoders' bytes were counted.
    pub storage_note: String,
    /// CPU and threads.
    pub machine: String,
    /// Wall seconds of the invocation that wrote this.
    pub seconds: f64,
    /// One row per experiment, in study order.
    pub rows: Vec<StudyRow>,
    /// The swept keys (rows are then named by member).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sweep: Vec<String>,
    /// Members not in the report yet, with where they stand (`niclab study --report` before
    /// all are done).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<MissingMember>,
}

/// A member left out of a report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MissingMember {
    /// Its name.
    pub experiment: String,
    /// Where it stands (`not started`, `interrupted at step 40 of 100`, ...).
    pub state: String,
}

/// Writes `report.md`, `summary.json`, plots and strips into `dir` for `stages`, naming the
/// `missing` members; returns the report's path and the summary.
/// Times of stages skipped now (already done) are taken from the previous `summary.json`.
pub fn write(
    study: &Study,
    stages: &[Stage],
    missing: &[(String, MemberState)],
    dir: &Path,
    seconds: f64,
) -> Result<(PathBuf, StudySummary)> {
    let previous: Option<StudySummary> = fs::read_to_string(dir.join(SUMMARY_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let earlier = |name: &str| {
        previous
            .as_ref()
            .and_then(|p| p.rows.iter().find(|r| r.experiment == name))
    };
    let paper = paper::rows()?;
    let points = sweep::points(&study.sweep);
    let rows: Vec<StudyRow> = stages
        .iter()
        .map(|s| {
            let name = s.experiment.name().to_string();
            let old = earlier(&name);
            StudyRow {
                pairs: s.experiment.model.pairs,
                steps: s.step,
                backend: s.eval.backend.clone(),
                train_seconds: s.train_seconds.or(old.and_then(|o| o.train_seconds)),
                train_images_per_sec: s
                    .images_per_sec
                    .or(old.and_then(|o| o.train_images_per_sec)),
                eval_seconds: s.eval_seconds.or(old.and_then(|o| o.eval_seconds)),
                checkpoint: s.eval.checkpoint.clone(),
                eval_dir: s.eval_dir.clone(),
                autoencoder: s.eval.autoencoder.clone(),
                jpeg: s.eval.jpeg.first().cloned(),
                paper: paper
                    .iter()
                    .find(|p| p.pairs == s.experiment.model.pairs)
                    .cloned(),
                series: series_of(&name, &points),
                experiment: name,
            }
        })
        .collect();
    let first = stages.first().map(|s| &s.eval);
    let summary = StudySummary {
        niclab_version: env!("CARGO_PKG_VERSION").into(),
        study: study.name.clone(),
        description: study.description.clone(),
        overrides: study.overrides.clone(),
        images: study.eval.images.clone(),
        count: first.map_or(0, |e| e.count),
        storage_note: first.map_or(String::new(), |e| e.storage_note.clone()),
        machine: machine(),
        seconds,
        rows,
        sweep: study.sweep.iter().map(|a| a.key.clone()).collect(),
        missing: missing
            .iter()
            .map(|(name, state)| MissingMember {
                experiment: name.clone(),
                state: state.to_string(),
            })
            .collect(),
    };
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    depth_plots(&summary, dir)?;
    let strips = depth_strips(study, stages, dir)?;
    write_atomic(
        &dir.join(SUMMARY_FILE),
        format!("{}\n", serde_json::to_string_pretty(&summary)?).as_bytes(),
    )?;
    let report = dir.join(REPORT_FILE);
    write_atomic(&report, markdown(&summary, &strips).as_bytes())?;
    Ok((report, summary))
}

/// The table of measured rows; after each run of consecutive rows of one depth (a sweep's
/// members of that depth, or a single row), the paper's row of that depth.
pub fn table(s: &StudySummary) -> String {
    let mut t = String::from(
        "| pairs | source | AE PSNR | AE SSIM | AE ΔE00 | AE ratio | AE bpp | AE s/img | JPEG q \
         | JPEG PSNR | JPEG SSIM | JPEG ΔE00 | JPEG ratio | JPEG s/img |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (i, r) in s.rows.iter().enumerate() {
        let a = &r.autoencoder;
        let j = |f: &dyn Fn(&CodecSummary) -> String| r.jpeg.as_ref().map_or("-".into(), f);
        let de = |c: &CodecSummary| c.colour.map_or("-".into(), |c| format!("{:.2}", c.delta_e));
        // Members of a sweep share depths: their rows carry their names.
        let source = if s.sweep.is_empty() {
            "niclab"
        } else {
            &r.experiment
        };
        let _ = writeln!(
            t,
            "| {} | {source} | {:.2} | {:.4} | {} | {:.2} | {:.2} | {:.4} | {} | {} | {} | {} | {} \
             | {} |",
            r.pairs,
            a.psnr,
            a.ssim,
            de(a),
            a.ratio,
            a.bpp,
            a.seconds_per_image,
            j(&|c| c.quality.map_or("-".into(), |q| format!(
                "{q}{}",
                if out_of_reach(a, c) { "†" } else { "" }
            ))),
            j(&|c| format!("{:.2}", c.psnr)),
            j(&|c| format!("{:.4}", c.ssim)),
            j(&de),
            j(&|c| format!("{:.2}", c.ratio)),
            j(&|c| format!("{:.5}", c.seconds_per_image)),
        );
        let depth_goes_on = s.rows.get(i + 1).is_some_and(|n| n.pairs == r.pairs);
        if let Some(p) = r.paper.as_ref().filter(|_| !depth_goes_on) {
            let _ = writeln!(
                t,
                "| {} | paper | {:.2} | {:.4} | - | {:.2} | {:.2}* | {:.2} | ~{} | {:.2} | {:.4} | - \
                 | {:.2} | {:.2} |",
                p.pairs,
                p.ae_psnr,
                p.ae_ssim,
                p.ae_ratio,
                PaperRow::bpp(p.ae_ratio),
                p.ae_seconds,
                p.jpeg_quality,
                p.jpeg_psnr,
                p.jpeg_ssim,
                p.jpeg_ratio,
                p.jpeg_seconds
            );
        }
    }
    t
}

/// JPEG at the end of the quality range still on the far side of the model's SSIM: the
/// closest quality, but no match.
fn out_of_reach(ae: &CodecSummary, jpeg: &CodecSummary) -> bool {
    match jpeg.quality {
        Some(1) => jpeg.ssim > ae.ssim,
        Some(100) => jpeg.ssim < ae.ssim,
        _ => false,
    }
}

/// "falls", "rises" or "is not monotonic" for values in depth order.
fn trend(values: &[f64]) -> &'static str {
    if values.windows(2).all(|w| w[1] < w[0]) {
        "falls with every added depth"
    } else if values.windows(2).all(|w| w[1] > w[0]) {
        "rises with every added depth"
    } else {
        "does not change monotonically with depth"
    }
}

/// The series of member `name`: its grid point's overrides but the depth's, or None when
/// it is no member of a sweep (or the depth alone is swept).
fn series_of(name: &str, points: &[sweep::Point]) -> Option<String> {
    // The longest suffix that fits: `_seed-2` must not take `..._seed-42`'s place.
    let point = points
        .iter()
        .filter(|p| name.ends_with(&format!("_{}", p.suffix)))
        .max_by_key(|p| p.suffix.len())?;
    let rest: Vec<&str> = point
        .overrides
        .iter()
        .map(String::as_str)
        .filter(|o| !o.starts_with("model.pairs="))
        .collect();
    (!rest.is_empty()).then(|| rest.join(", "))
}

/// The rows by series (in the order they first appear), each in depth order.
fn by_series(rows: &[StudyRow]) -> Vec<(Option<&str>, Vec<&StudyRow>)> {
    let mut groups: Vec<(Option<&str>, Vec<&StudyRow>)> = Vec::new();
    for r in rows {
        let key = r.series.as_deref();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    for (_, g) in &mut groups {
        g.sort_by_key(|r| r.pairs);
    }
    groups
}

fn fmt_secs(s: Option<f64>) -> String {
    s.map_or("-".into(), |s| format!("{s:.0} s"))
}

/// `report.md`.
pub fn markdown(s: &StudySummary, strips: &[String]) -> String {
    let mut m = format!("# Study `{}`\n\n", s.study);
    if let Some(d) = &s.description {
        let _ = writeln!(m, "{}\n", d.trim());
    }
    let _ = writeln!(
        m,
        "{} models, each evaluated on the {} images of `{}` and compared with JPEG \
         (libjpeg-turbo, 4:2:0) at the quality whose mean SSIM matches the model's. Rows \
         marked *paper* are Marchenko et al. 2024 for the same depth. Autoencoder bytes: {}. \
         Ratio = raw RGB bytes / compressed bytes (mean over images); times are encode + \
         decode per image without file I/O.\n",
        s.rows.len(),
        s.count,
        s.images.display(),
        s.storage_note
    );
    if !s.missing.is_empty() {
        let _ = writeln!(
            m,
            "**Incomplete: {} of {} members are missing** (`niclab study FILE --list`):\n",
            s.missing.len(),
            s.missing.len() + s.rows.len()
        );
        for g in &s.missing {
            let _ = writeln!(m, "- `{}`: {}", g.experiment, g.state);
        }
        m.push('\n');
    }
    if !s.sweep.is_empty() {
        let _ = writeln!(
            m,
            "Swept: {}; each row is one member, named after its values.\n",
            s.sweep
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    m.push_str(&table(s));
    m.push_str("\n\\* the paper gives no bpp: 24 / its ratio.\n");
    if s.rows.iter().any(|r| {
        r.jpeg
            .as_ref()
            .is_some_and(|j| out_of_reach(&r.autoencoder, j))
    }) {
        m.push_str(
            "† the closest quality, not a match: JPEG's SSIM at the end of the range (1 or \
             100) is still on the far side of the model's.\n",
        );
    }
    m.push('\n');

    // A sweep's members form one series per value of everything but the depth (one per
    // seed, say): a trend is read along a series, never across them.
    let groups = by_series(&s.rows);
    let list = |v: &[f64], d: usize| {
        v.iter()
            .map(|x| format!("{x:.d$}"))
            .collect::<Vec<_>>()
            .join(" → ")
    };
    let mut trends = String::new();
    for (key, rows) in groups.iter().filter(|(_, g)| g.len() > 1) {
        let ssims: Vec<f64> = rows.iter().map(|r| r.autoencoder.ssim).collect();
        let psnrs: Vec<f64> = rows.iter().map(|r| r.autoencoder.psnr).collect();
        let depths: Vec<String> = rows.iter().map(|r| r.pairs.to_string()).collect();
        let _ = writeln!(
            trends,
            "{}From {} pairs: autoencoder SSIM {} ({}); PSNR {} dB ({}).\n",
            key.map_or(String::new(), |k| format!("`{k}`: ")),
            depths.join(", "),
            list(&ssims, 4),
            trend(&ssims),
            list(&psnrs, 2),
            trend(&psnrs)
        );
    }
    if !trends.is_empty() {
        let _ = writeln!(
            m,
            "## Depth trend\n\n{trends}In the paper both fall with depth.\n"
        );
    }

    m.push_str("## Plots\n\n");
    let _ = writeln!(
        m,
        "![SSIM against depth]({SSIM_PLOT})\n\n![PSNR against depth]({PSNR_PLOT})\n"
    );
    if !strips.is_empty() {
        m.push_str(
            "## The same images at every depth\n\nImages picked by the first model's \
             autoencoder SSIM (best, median, worst); top row: original and each model's \
             reconstruction, bottom row: original and JPEG at each model's matched quality.\n\n",
        );
        for f in strips {
            let _ = writeln!(m, "![{f}]({f})\n");
        }
    }

    m.push_str(
        "## Runs\n\n| experiment | pairs | steps | backend | training | train img/s | evaluation | \
         checkpoint |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in &s.rows {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} | `{}` |",
            r.experiment,
            r.pairs,
            r.steps,
            r.backend,
            fmt_secs(r.train_seconds),
            r.train_images_per_sec
                .map_or("-".into(), |v| format!("{v:.1}")),
            fmt_secs(r.eval_seconds),
            r.checkpoint.display()
        );
    }
    let train: f64 = s.rows.iter().filter_map(|r| r.train_seconds).sum();
    let eval: f64 = s.rows.iter().filter_map(|r| r.eval_seconds).sum();
    let _ = writeln!(
        m,
        "\nTraining {train:.0} s and evaluation {eval:.0} s in all; this invocation took \
         {:.0} s (stages already done are not repeated). Machine: {}.",
        s.seconds, s.machine
    );
    if !s.overrides.is_empty() {
        let _ = writeln!(
            m,
            "\nOverrides applied to every experiment: `{}`.",
            s.overrides.join("`, `")
        );
    }
    m
}

fn depth_plots(s: &StudySummary, dir: &Path) -> Result<()> {
    let mut rows: Vec<&StudyRow> = s.rows.iter().collect();
    rows.sort_by_key(|r| r.pairs);
    // Members of one depth share the paper's row.
    rows.dedup_by_key(|r| r.pairs);
    let groups = by_series(&s.rows);
    let paper_colour = |c: plotters::style::RGBColor| {
        plotters::style::RGBColor(c.0 / 2 + 127, c.1 / 2 + 127, c.2 / 2 + 127)
    };
    // Series after the first get darker, so that each can be followed.
    let shade = |c: plotters::style::RGBColor, i: usize| {
        let k = 1.0 - 0.5 * i as f64 / groups.len() as f64;
        let f = |v: u8| (v as f64 * k) as u8;
        plotters::style::RGBColor(f(c.0), f(c.1), f(c.2))
    };
    let chart = |file: &str,
                 title: &str,
                 label: &str,
                 ours: &dyn Fn(&CodecSummary) -> f64,
                 theirs: &dyn Fn(&PaperRow) -> (f64, f64)| {
        let x = |r: &StudyRow| r.pairs as f64;
        let mut series = Vec::new();
        for (i, (key, members)) in groups.iter().enumerate() {
            let of = key.map_or(String::new(), |k| format!(", {k}"));
            series.push(Series {
                name: format!("niclab autoencoder{of}"),
                colour: shade(plots::AE_COLOUR, i),
                points: members
                    .iter()
                    .map(|r| (x(r), ours(&r.autoencoder)))
                    .collect(),
                dots: true,
            });
            series.push(Series {
                name: format!("niclab JPEG (matched){of}"),
                colour: shade(plots::JPEG_COLOUR, i),
                points: members
                    .iter()
                    .filter_map(|r| r.jpeg.as_ref().map(|j| (x(r), ours(j))))
                    .collect(),
                dots: true,
            });
        }
        let paper: Vec<(f64, (f64, f64))> = rows
            .iter()
            .filter_map(|r| r.paper.as_ref().map(|p| (x(r), theirs(p))))
            .collect();
        if !paper.is_empty() {
            series.push(Series {
                name: "paper autoencoder".into(),
                colour: paper_colour(plots::AE_COLOUR),
                points: paper.iter().map(|(x, (a, _))| (*x, *a)).collect(),
                dots: true,
            });
            series.push(Series {
                name: "paper JPEG".into(),
                colour: paper_colour(plots::JPEG_COLOUR),
                points: paper.iter().map(|(x, (_, j))| (*x, *j)).collect(),
                dots: true,
            });
        }
        plots::xy_plot(&dir.join(file), title, ("conv pairs", label), &series)
    };
    chart(
        SSIM_PLOT,
        "Mean SSIM against depth",
        "SSIM",
        &|c| c.ssim,
        &|p| (p.ae_ssim, p.jpeg_ssim),
    )?;
    chart(
        PSNR_PLOT,
        "Mean PSNR against depth",
        "PSNR (dB)",
        &|c| c.psnr,
        &|p| (p.ae_psnr, p.jpeg_psnr),
    )
}

/// The first model's strip images, shown at every depth; returns the files written
/// (relative to `dir`). Evaluations run without images leave nothing to show.
fn depth_strips(study: &Study, stages: &[Stage], dir: &Path) -> Result<Vec<String>> {
    let strip_dir = dir.join("strips");
    if strip_dir.exists() {
        fs::remove_dir_all(&strip_dir)
            .with_context(|| format!("cannot remove the old {}", strip_dir.display()))?;
    }
    let Some(first) = stages.first() else {
        return Ok(vec![]);
    };
    let mut codec = JpegCodec::new()?;
    let mut written = Vec::new();
    for pick in &first.eval.strips {
        let original_path = study.eval.images.join(&pick.image);
        let original = image::open(&original_path)
            .with_context(|| format!("cannot read {}", original_path.display()))?
            .to_rgb8();
        let stem = Path::new(&pick.image).with_extension("");
        let label = |what: String, img: &RgbImage| -> Result<String> {
            Ok(format!(
                "{what}: {:.2} dB, SSIM {:.4}",
                psnr(&original, img)?,
                ssim(&original, img)?
            ))
        };
        let mut ae_panels = vec![("original".to_string(), original.clone())];
        let mut jpeg_panels = vec![("original".to_string(), original.clone())];
        for s in stages {
            let ae_file = s.eval_dir.join("ae").join(&stem).with_extension("png");
            let Ok(ae) = image::open(&ae_file) else {
                return Ok(vec![]);
            };
            let ae = ae.to_rgb8();
            ae_panels.push((
                label(format!("{} pairs", s.experiment.model.pairs), &ae)?,
                ae,
            ));
            if let Some(q) = s.eval.jpeg.first().and_then(|j| j.quality) {
                let f = s
                    .eval_dir
                    .join(format!("jpeg-q{q}"))
                    .join(&stem)
                    .with_extension("jpg");
                let bytes = fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
                let img = codec.decode(&bytes)?;
                jpeg_panels.push((
                    label(
                        format!("JPEG q{q} ({} pairs)", s.experiment.model.pairs),
                        &img,
                    )?,
                    img,
                ));
            }
        }
        let top = plots::render_strip(&Strip {
            title: format!(
                "{} ({} autoencoder SSIM at {} pairs)",
                pick.image, pick.rule, first.experiment.model.pairs
            ),
            panels: ae_panels,
        })?;
        let bottom = plots::render_strip(&Strip {
            title: "JPEG at each model's matched quality".into(),
            panels: jpeg_panels,
        })?;
        let (w, h) = (
            top.width().max(bottom.width()),
            top.height() + bottom.height(),
        );
        let mut both = RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255]));
        image::imageops::replace(&mut both, &top, 0, 0);
        image::imageops::replace(&mut both, &bottom, 0, i64::from(top.height()));
        let file = format!("strips/{}.png", pick.rule);
        plots::save_png(&both, &dir.join(&file))?;
        written.push(file);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, pairs: usize, ssim: f64, series: Option<&str>) -> StudyRow {
        let ae = CodecSummary {
            codec: "autoencoder".into(),
            quality: None,
            chosen_by: None,
            psnr: 20.0 + 10.0 * ssim,
            ssim,
            colour: None,
            ratio: 1.0,
            bpp: 24.0,
            bytes: 1,
            seconds_per_image: 0.0,
            total_seconds: 0.0,
        };
        StudyRow {
            experiment: name.into(),
            pairs,
            steps: 1,
            backend: "flex".into(),
            train_seconds: None,
            train_images_per_sec: None,
            eval_seconds: None,
            checkpoint: PathBuf::new(),
            eval_dir: PathBuf::new(),
            autoencoder: ae,
            jpeg: None,
            paper: paper::rows()
                .unwrap()
                .into_iter()
                .find(|p| p.pairs == pairs),
            series: series.map(String::from),
        }
    }

    fn summary(rows: Vec<StudyRow>, sweep: &[&str]) -> StudySummary {
        StudySummary {
            niclab_version: String::new(),
            study: "s".into(),
            description: None,
            overrides: vec![],
            images: PathBuf::new(),
            count: 1,
            storage_note: String::new(),
            machine: String::new(),
            seconds: 0.0,
            rows,
            sweep: sweep.iter().map(|k| k.to_string()).collect(),
            missing: vec![],
        }
    }

    #[test]
    fn a_member_belongs_to_the_series_of_its_longest_suffix_less_the_depth() {
        let axes = sweep::axes(
            &toml::from_str("\"train.seed\" = [2, 42]\n\"model.pairs\" = [3, 5]").unwrap(),
        )
        .unwrap();
        let points = sweep::points(&axes);
        assert_eq!(
            series_of("a_pairs-3_seed-42", &points).as_deref(),
            Some("train.seed=42")
        );
        assert_eq!(
            series_of("a_pairs-5_seed-2", &points).as_deref(),
            Some("train.seed=2")
        );
        let depth_only = sweep::points(
            &sweep::axes(&toml::from_str("\"model.pairs\" = [3, 5]").unwrap()).unwrap(),
        );
        assert_eq!(series_of("a_pairs-3", &depth_only), None);
        assert_eq!(series_of("a", &[]), None);
    }

    #[test]
    fn a_swept_study_reads_its_trend_per_series_and_shows_each_paper_row_once() {
        // Seeds 42 and 1 at 3 and 5 pairs: each seed falls with depth, but the four rows
        // in depth order (0.95, 0.90, 0.92, 0.91) do not.
        let s = summary(
            vec![
                row("d3_seed-42", 3, 0.95, Some("train.seed=42")),
                row("d3_seed-1", 3, 0.90, Some("train.seed=1")),
                row("d5_seed-42", 5, 0.92, Some("train.seed=42")),
                row("d5_seed-1", 5, 0.89, Some("train.seed=1")),
            ],
            &["train.seed"],
        );
        let md = markdown(&s, &[]);
        assert!(
            md.contains(
                "`train.seed=42`: From 3, 5 pairs: autoencoder SSIM 0.9500 → 0.9200 (falls"
            ) && md.contains(
                "`train.seed=1`: From 3, 5 pairs: autoencoder SSIM 0.9000 → 0.8900 (falls"
            ),
            "{md}"
        );
        assert!(!md.contains("monotonically"), "{md}");
        let t = table(&s);
        assert_eq!(t.matches("| 3 | paper |").count(), 1, "{t}");
        assert_eq!(t.matches("| 5 | paper |").count(), 1, "{t}");
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[3].starts_with("| 3 | d3_seed-1 |") && lines[4].starts_with("| 3 | paper |"),
            "{t}"
        );

        // Without a sweep: one series, as before.
        let plain = summary(vec![row("a", 3, 0.95, None), row("b", 5, 0.96, None)], &[]);
        let md = markdown(&plain, &[]);
        assert!(
            md.contains("\n\nFrom 3, 5 pairs: autoencoder SSIM 0.9500 → 0.9600 (rises"),
            "{md}"
        );
        assert_eq!(table(&plain).matches("| paper |").count(), 2);
    }
}
