//! `niclab metrics` on files and folders, and its errors.

use std::process::{Command, Output};

const F: &str = "tests/fixtures/quality";

fn metrics(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_niclab"))
        .arg("metrics")
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn files_give_psnr_ssim_and_perceptual() {
    let a = format!("{F}/Kite_x0640_y0512.png");
    let v = json(&metrics(&[
        &a,
        &format!("{F}/Kite_x0640_y0512_q20.png"),
        "--json",
    ]));
    assert!(
        (v["psnr"].as_f64().unwrap() - 38.62630168723027).abs() < 1e-6,
        "{v}"
    );
    assert!(
        (v["ssim"].as_f64().unwrap() - 0.9485089864625854).abs() < 1e-5,
        "{v}"
    );
    // Colour: scikit-image's mean CIEDE2000 and numpy's Y/Cb/Cr PSNRs of this pair
    // (tests/colour_reference.py, to 1e-6).
    for (key, want) in [
        ("delta_e", 0.9860669789248919),
        ("psnr_y", 42.004457421482904),
        ("psnr_cb", 47.423009237714744),
        ("psnr_cr", 41.23246209212758),
    ] {
        assert!((v[key].as_f64().unwrap() - want).abs() < 1e-6, "{key}: {v}");
    }
    let p20 = v["perceptual"].as_f64().unwrap();
    let v75 = json(&metrics(&[
        &a,
        &format!("{F}/Kite_x0640_y0512_q75.png"),
        "--json",
    ]));
    let p75 = v75["perceptual"].as_f64().unwrap();
    assert!(
        p75 > 0.0 && p75 < p20,
        "q75 is closer than q20: {p75} vs {p20}"
    );
    let same = json(&metrics(&[&a, &a, "--json"]));
    assert_eq!(same["perceptual"].as_f64(), Some(0.0));
    assert!(same["psnr"].is_null(), "identical: infinite PSNR");
    let text = metrics(&[&a, &format!("{F}/Kite_x0640_y0512_q20.png")]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with(
            "PSNR 38.6263 dB  SSIM 0.948509  dE00 0.9861  PSNR Y/Cb/Cr 42.00/47.42/41.23 dB  \
             perceptual "
        ),
        "{text}"
    );
}

#[test]
fn folders_pair_by_name_with_means() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(a.join("sub")).unwrap();
    std::fs::create_dir_all(b.join("sub")).unwrap();
    for (name, q) in [
        ("Kite_x0640_y0512", "q20"),
        ("ColorfulCups_x0640_y0384", "q75"),
    ] {
        std::fs::copy(
            format!("{F}/{name}.png"),
            a.join("sub").join(format!("{name}.png")),
        )
        .unwrap();
        std::fs::copy(
            format!("{F}/{name}_{q}.png"),
            b.join("sub").join(format!("{name}.png")),
        )
        .unwrap();
    }
    let (sa, sb) = (a.to_str().unwrap(), b.to_str().unwrap());
    let v = json(&metrics(&[sa, sb, "--json", "--no-perceptual"]));
    assert_eq!(v["count"], 2);
    assert_eq!(v["pairs"][0]["name"], "sub/ColorfulCups_x0640_y0384.png");
    let mean = (0.9485089864625854 + 0.966325747433341) / 2.0;
    assert!(
        (v["mean"]["ssim"].as_f64().unwrap() - mean).abs() < 1e-5,
        "{v}"
    );
    assert!(v["mean"]["perceptual"].is_null());

    // A missing partner and a size mismatch are errors naming the files.
    std::fs::remove_file(b.join("sub/Kite_x0640_y0512.png")).unwrap();
    let out = metrics(&[sa, sb, "--no-perceptual"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("do not pair up") && err.contains("Kite_x0640_y0512.png"),
        "{err}"
    );
    image::RgbImage::new(64, 64)
        .save(b.join("sub/Kite_x0640_y0512.png"))
        .unwrap();
    let out = metrics(&[sa, sb, "--no-perceptual"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("differ in size") && err.contains("Kite_x0640_y0512.png"),
        "{err}"
    );
}

#[test]
fn unreadable_and_mixed_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"garbage").unwrap();
    let good = format!("{F}/Kite_x0640_y0512.png");
    let out = metrics(&[&good, bad.to_str().unwrap(), "--no-perceptual"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.png"));
    let out = metrics(&[&good, dir.path().to_str().unwrap(), "--no-perceptual"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not the same kind"));
    let out = metrics(&[&good, &good, "--vgg-layers", "relu9_9"]);
    assert_eq!(out.status.code(), Some(2));
}
