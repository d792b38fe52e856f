//! The JPEG baseline writes the same bytes as Pillow, and decodes to the same pixels, (libjpeg-turbo, 4:2:0) at the qualities
//! the paper matched: 95, 75, 20, 13 (fixture made by tests/fixtures/make_jpeg_fixture.py
//! from the real crops of tests/fixtures/quality).

mod common;

use std::path::Path;

use niclab::classic::jpeg::{JpegCodec, Quality};

#[test]
fn jpeg_bytes_equal_pillows() {
    let fixture = Path::new("tests/fixtures/jpeg");
    let originals = common::quality_crops();
    let mut codec = JpegCodec::new().unwrap();
    let mut checked = 0;
    for src in &originals {
        let img = image::open(src).unwrap().to_rgb8();
        let stem = src.file_stem().unwrap().to_string_lossy();
        for q in [95, 75, 20, 13] {
            let ours = codec.encode(&img, Quality::new(q).unwrap()).unwrap();
            let pillow = std::fs::read(fixture.join(format!("{stem}_q{q}.jpg"))).unwrap();
            let first_diff = ours.iter().zip(&pillow).position(|(a, b)| a != b);
            assert!(
                ours == pillow,
                "{stem} q{q}: {} bytes vs Pillow's {}, first difference at {first_diff:?}",
                ours.len(),
                pillow.len()
            );
            let back = codec.decode(&pillow).unwrap();
            let decoded = image::open(fixture.join(format!("{stem}_q{q}_decoded.png")))
                .unwrap()
                .to_rgb8();
            assert!(
                back == decoded,
                "{stem} q{q}: decoded pixels differ from Pillow's"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 16);
}
