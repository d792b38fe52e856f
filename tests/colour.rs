//! The colour scores (mean CIEDE2000, PSNR of Y, Cb, Cr) against scikit-image and numpy
//! (tests/colour_reference.py) to 1e-6: real photo crops and their JPEG versions, and
//! made-up images that reach every branch (hues either side of red, greys with no chroma,
//! near-black below CIELAB's linear knee).

mod common;

use std::path::Path;

use image::{Rgb, RgbImage};
use niclab::metrics::colour::{MAX_PLANE_PSNR, colour};

const QUALITY: &str = "tests/fixtures/quality";

fn pairs() -> Vec<(String, RgbImage, RgbImage)> {
    let load = |name: &str| {
        image::open(Path::new(QUALITY).join(name))
            .unwrap()
            .to_rgb8()
    };
    let mut out = Vec::new();
    for stem in [
        "Kite_x0640_y0512",
        "Bridge_by_Sander_Klootwijk_x0768_y0512",
        "friends_by_Aitzol_Berasategi_x0128_y0640",
        "ColorfulCups_x0640_y0384",
    ] {
        for q in [20, 75] {
            out.push((
                format!("{stem}_q{q}"),
                load(&format!("{stem}.png")),
                load(&format!("{stem}_q{q}.png")),
            ));
        }
    }
    // Every hue at full and half saturation, against the same shifted and desaturated: hue
    // differences across 0/360 degrees and every branch of the hue mean.
    let wheel = |shift: f32, sat: f32| {
        RgbImage::from_fn(64, 24, |x, y| {
            let h = (x as f32 / 64.0 * 360.0 + shift).rem_euclid(360.0);
            let s = if y < 12 { 1.0 } else { 0.5 } * sat;
            hsv(h, s, 0.3 + 0.7 * (y % 12) as f32 / 11.0)
        })
    };
    out.push(("wheel".into(), wheel(0.0, 1.0), wheel(17.0, 0.8)));
    // Greys (chroma 0) against slightly tinted greys, and near-black.
    let grey = RgbImage::from_fn(32, 16, |x, y| {
        let v = (x * 8) as u8;
        if y < 8 {
            Rgb([v, v, v])
        } else {
            Rgb([v / 16, v / 16, v / 16])
        }
    });
    let tinted = RgbImage::from_fn(32, 16, |x, y| {
        let Rgb([r, g, b]) = *grey.get_pixel(x, y);
        if (x + y) % 3 == 0 {
            Rgb([r, g, b])
        } else {
            Rgb([r.saturating_add(3), g, b.saturating_sub(2)])
        }
    });
    out.push(("greys".into(), grey, tinted));
    let photo = common::synthetic_photo(40, 32, 3);
    out.push(("identical".into(), photo.clone(), photo));
    out
}

fn hsv(h: f32, s: f32, v: f32) -> Rgb<u8> {
    let c = v * s;
    let x = c * (1.0 - ((h / 60.0).rem_euclid(2.0) - 1.0).abs());
    let (r, g, b) = match (h / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    let q = |t: f32| ((t + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    Rgb([q(r), q(g), q(b)])
}

#[test]
fn colour_scores_match_scikit_image() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = pairs();
    for (name, a, b) in &pairs {
        a.save(dir.path().join(format!("{name}.png"))).unwrap();
        b.save(dir.path().join(format!("{name}.test.png"))).unwrap();
    }
    let want = common::python_json("tests/colour_reference.py", dir.path());
    let mut worst = [0f64; 2];
    for (name, a, b) in &pairs {
        let got = colour(a, b).unwrap();
        let w = &want[name];
        let de = w["delta_e"].as_f64().unwrap();
        assert!(
            (got.delta_e - de).abs() <= 1e-6,
            "{name}: dE00 {} vs {de}",
            got.delta_e
        );
        worst[0] = worst[0].max((got.delta_e - de).abs());
        for (ours, key) in [
            (got.psnr_y, "psnr_y"),
            (got.psnr_cb, "psnr_cb"),
            (got.psnr_cr, "psnr_cr"),
        ] {
            // numpy's planes in float: an exact plane is infinite (None) there, capped here.
            let v = w[key].as_f64().unwrap_or(f64::INFINITY).min(MAX_PLANE_PSNR);
            assert!((ours - v).abs() <= 1e-6, "{name}: {key} {ours} vs {v}");
            worst[1] = worst[1].max((ours - v).abs());
        }
    }
    // The cases mean something: JPEG q20 shifts the cups' colours visibly, the shifted wheel a lot.
    assert!(
        want["ColorfulCups_x0640_y0384_q20"]["delta_e"]
            .as_f64()
            .unwrap()
            > 1.5
    );
    assert!(want["wheel"]["delta_e"].as_f64().unwrap() > 5.0);
    assert_eq!(want["identical"]["delta_e"].as_f64().unwrap(), 0.0);
    eprintln!(
        "max |dE00 - skimage| {:e}, max |PSNR Y/Cb/Cr - numpy| {:e} dB",
        worst[0], worst[1]
    );
}
