//! MS-SSIM against pytorch_msssim 1.0.0 (float64, data range 255) on three real image pairs
//! of tests/fixtures/msssim (made by tests/fixtures/make_msssim_fixture.py): a JPEG, noise on
//! odd sides (padded pooling), a blur at the smallest height MS-SSIM accepts.

use std::path::Path;

use niclab::metrics::msssim::ms_ssim;

#[test]
fn ms_ssim_equals_pytorch_msssim() {
    let dir = Path::new("tests/fixtures/msssim");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let mut checked = 0;
    for name in ["jpeg", "noise", "blur"] {
        let a = image::open(dir.join(format!("{name}.png")))
            .unwrap()
            .to_rgb8();
        let b = image::open(dir.join(format!("{name}.test.png")))
            .unwrap()
            .to_rgb8();
        let ours = ms_ssim(&a, &b).unwrap();
        let theirs = expected[name].as_f64().unwrap();
        assert!(
            (ours - theirs).abs() < 1e-9,
            "{name}: niclab {ours} vs pytorch_msssim {theirs}"
        );
        // And it is not SSIM under another name: the scales move it.
        let single = niclab::metrics::ssim(&a, &b).unwrap();
        assert!(
            (ours - single).abs() > 1e-3,
            "{name}: {ours} vs SSIM {single}"
        );
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn metrics_reports_ms_ssim_where_defined() {
    let dir = Path::new("tests/fixtures/msssim");
    let run = |a: &Path, b: &Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_niclab"))
            .args(["metrics", "--no-perceptual", "--json"])
            .arg(a)
            .arg(b)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let v = run(&dir.join("noise.png"), &dir.join("noise.test.png"));
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let got = v["ms_ssim"].as_f64().unwrap();
    assert!(
        (got - expected["noise"].as_f64().unwrap()).abs() < 1e-9,
        "{v}"
    );
    // A 128x128 crop has none: null, not a number made up from fewer scales.
    let crop = Path::new("tests/fixtures/quality/Kite_x0640_y0512.png");
    let v = run(
        crop,
        Path::new("tests/fixtures/quality/Kite_x0640_y0512_q20.png"),
    );
    assert!(v["ms_ssim"].is_null(), "{v}");
}
