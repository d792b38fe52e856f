//! Pictures of an evaluation: per-image SSIM, PSNR and compression-ratio lines (the paper's
//! figures 3-5 and 9-11) and side-by-side strips (figures 6-7 and 12-13), as PNG.
//!
//! Text is drawn with DejaVu Sans compiled into the binary, so plots look the same on every
//! machine and need no system fonts.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};
use image::RgbImage;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::Evaluation;
use super::report::ratio;

/// SSIM per image.
pub const SSIM_PLOT: &str = "plots/ssim.png";
/// PSNR per image.
pub const PSNR_PLOT: &str = "plots/psnr.png";
/// Compression ratio per image.
pub const RATIO_PLOT: &str = "plots/ratio.png";
/// Enlargement of the strips' panels (nearest neighbour, so pixels stay visible).
pub const STRIP_ZOOM: u32 = 2;

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
const PLOT_SIZE: (u32, u32) = (1000, 420);
/// Autoencoder colour in every chart.
pub const AE_COLOUR: RGBColor = RGBColor(214, 39, 40);
/// JPEG colour in every chart.
pub const JPEG_COLOUR: RGBColor = RGBColor(31, 119, 180);
/// The classical codecs' colours, in the order of [`crate::classic::Codec::ALL`] (JPEG's
/// first): blue, green, purple, brown.
pub const CODEC_COLOURS: [RGBColor; 4] = [
    JPEG_COLOUR,
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err(anyhow!("the built-in plot font cannot be read"))
    }
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw: {e:?}")
}

/// One line of a chart.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Line colour.
    pub colour: RGBColor,
    /// (x, y) points; non-finite y values are left out.
    pub points: Vec<(f64, f64)>,
    /// Draw a dot at every point and a thicker line (for charts of few points).
    pub dots: bool,
}

/// A line chart of one series per image index, saved as PNG.
fn line_plot(
    path: &Path,
    title: &str,
    y_label: &str,
    series: &[(&str, RGBColor, Vec<f64>)],
) -> Result<()> {
    let series: Vec<Series> = series
        .iter()
        .map(|(name, colour, values)| Series {
            name: name.to_string(),
            colour: *colour,
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as f64, *v))
                .collect(),
            dots: false,
        })
        .collect();
    xy_plot(path, title, ("image", y_label), &series)
}

/// A line chart of (x, y) series, saved as PNG; `labels` are the x and y axis titles.
pub fn xy_plot(path: &Path, title: &str, labels: (&str, &str), series: &[Series]) -> Result<()> {
    font()?;
    let (w, h) = PLOT_SIZE;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let finite: Vec<(f64, f64)> = series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let span = |vals: &mut dyn Iterator<Item = f64>| {
            let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) }
        };
        let (x_lo, x_hi) = span(&mut finite.iter().map(|p| p.0));
        let (lo, hi) = span(&mut finite.iter().map(|p| p.1));
        let pad = ((hi - lo) * 0.05).max(1e-3);
        let x_hi = if x_hi > x_lo { x_hi } else { x_lo + 1.0 };
        // Image indices and depths are whole numbers; bits per pixel are not.
        let whole = finite.iter().all(|p| p.0.fract() == 0.0);
        let digits = match x_hi - x_lo {
            _ if whole => 0,
            d if d >= 20.0 => 0,
            d if d >= 2.0 => 1,
            _ => 2,
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x_lo..x_hi, (lo - pad)..(hi + pad))
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(labels.0)
            .x_label_formatter(&|x| format!("{x:.digits$}"))
            .y_desc(labels.1)
            .label_style((FONT, 13))
            .draw()
            .map_err(draw_err)?;
        for s in series {
            let points: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(_, y)| y.is_finite())
                .collect();
            let colour = s.colour;
            let width = if s.dots { 2 } else { 1 };
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(width)))
                .map_err(draw_err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            if s.dots {
                chart
                    .draw_series(points.iter().map(|p| Circle::new(*p, 4, colour.filled())))
                    .map_err(draw_err)?;
            }
        }
        // Per-image curves and rising curves (rate-distortion) leave the lower right
        // freest; curves over depth fall to the right.
        let falls = series.first().is_some_and(
            |s| matches!((s.points.first(), s.points.last()), (Some(a), Some(b)) if b.1 < a.1),
        );
        let legend = if series.iter().any(|s| s.dots) && falls {
            SeriesLabelPosition::UpperRight
        } else {
            SeriesLabelPosition::LowerRight
        };
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 14))
            .position(legend)
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    save(path, w, h, buf)
}

fn save(path: &Path, w: u32, h: u32, buf: Vec<u8>) -> Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))?;
    }
    let img = RgbImage::from_raw(w, h, buf).context("plot buffer of the wrong size")?;
    img.save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The three per-image plots, autoencoder against the baseline's first setting.
pub fn per_image_plots(e: &Evaluation, dir: &Path) -> Result<()> {
    let jpeg = e.jpeg.first();
    let jpeg_name = jpeg.map_or(String::from("JPEG"), |j| j.pass.codec.titled(j.pass.level));
    let root = dir.parent().unwrap_or(dir);
    let plot = |file: &str, title: &str, label: &str, f: &dyn Fn(usize, &super::Scored) -> f64| {
        let mut series = vec![(
            "autoencoder",
            AE_COLOUR,
            e.ae.iter()
                .enumerate()
                .map(|(i, s)| f(i, s))
                .collect::<Vec<_>>(),
        )];
        if let Some(j) = jpeg {
            series.push((
                jpeg_name.as_str(),
                JPEG_COLOUR,
                j.pass
                    .scores
                    .iter()
                    .enumerate()
                    .map(|(i, s)| f(i, s))
                    .collect(),
            ));
        }
        line_plot(&root.join(file), title, label, &series)
    };
    plot(SSIM_PLOT, "SSIM per image", "SSIM", &|_, s| s.ssim)?;
    plot(PSNR_PLOT, "PSNR per image", "PSNR (dB)", &|_, s| s.psnr)?;
    plot(
        RATIO_PLOT,
        "Compression ratio per image",
        "raw bytes / compressed bytes",
        &|i, s| ratio(e.raw_bytes(i), s.bytes),
    )
}

/// Images shown next to each other, each under a two-line label ("what: numbers").
pub struct Strip {
    /// Line above all panels.
    pub title: String,
    /// (label, image) per panel; all images the same size.
    pub panels: Vec<(String, RgbImage)>,
}

const TITLE_BAND: u32 = 30;
const LABEL_BAND: u32 = 40;
const GAP: u32 = 10;

/// Renders a strip to an image: panels enlarged [`STRIP_ZOOM`] times, labels above them.
pub fn render_strip(strip: &Strip) -> Result<RgbImage> {
    font()?;
    let (pw, ph) = strip.panels.first().map_or((0, 0), |(_, img)| {
        (img.width() * STRIP_ZOOM, img.height() * STRIP_ZOOM)
    });
    let n = strip.panels.len() as u32;
    let w = (n * pw + (n + 1) * GAP).max(300);
    let h = TITLE_BAND + LABEL_BAND + ph + GAP;
    let mut img = RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255]));
    for (k, (_, panel)) in strip.panels.iter().enumerate() {
        let x0 = GAP + k as u32 * (pw + GAP);
        let y0 = TITLE_BAND + LABEL_BAND;
        for y in 0..ph.min(panel.height() * STRIP_ZOOM) {
            for x in 0..pw.min(panel.width() * STRIP_ZOOM) {
                img.put_pixel(
                    x0 + x,
                    y0 + y,
                    *panel.get_pixel(x / STRIP_ZOOM, y / STRIP_ZOOM),
                );
            }
        }
    }
    {
        let root = BitMapBackend::with_buffer(&mut img, (w, h)).into_drawing_area();
        let title = (FONT, 16).into_font().color(&BLACK);
        root.draw_text(&strip.title, &title, (GAP as i32, 6))
            .map_err(draw_err)?;
        let style = (FONT, 13).into_font().color(&BLACK);
        for (k, (label, _)) in strip.panels.iter().enumerate() {
            let x = (GAP + k as u32 * (pw + GAP)) as i32;
            let (head, tail) = label.split_once(": ").unwrap_or((label.as_str(), ""));
            root.draw_text(head, &style, (x, TITLE_BAND as i32))
                .map_err(draw_err)?;
            root.draw_text(tail, &style, (x, TITLE_BAND as i32 + 17))
                .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }
    Ok(img)
}

/// Saves a rendered image as PNG, creating its folder.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let (w, h) = img.dimensions();
    save(path, w, h, img.as_raw().clone())
}
