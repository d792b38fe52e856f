//! Reading user folders: colour modes, corrupt and too-small files, strict mode.

mod common;

use image::{GrayImage, Luma, Rgba, RgbaImage};
use niclab::data::images::{Problem, load_folder};

#[test]
fn odd_inputs_follow_the_stated_rules_and_nothing_is_skipped_silently() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::write_photos(d, 2, 40, 32);
    GrayImage::from_fn(40, 32, |x, _| Luma([x as u8 * 6]))
        .save(d.join("grey.png"))
        .unwrap();
    RgbaImage::from_fn(40, 32, |_, y| Rgba([200, 10, y as u8, 7]))
        .save(d.join("alpha.png"))
        .unwrap();
    common::synthetic_photo(40, 32, 5)
        .save(d.join("photo.jpg"))
        .unwrap();
    common::synthetic_photo(12, 40, 6)
        .save(d.join("narrow.png"))
        .unwrap();
    std::fs::write(d.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let good = std::fs::read(d.join("photo00.png")).unwrap();
    std::fs::write(d.join("truncated.png"), &good[..good.len() / 2]).unwrap();
    std::fs::write(d.join("notes.txt"), "not an image").unwrap();

    let loaded = load_folder(d, 1, 16, false).unwrap();
    let names: Vec<String> = loaded
        .photos
        .iter()
        .map(|p| p.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "alpha.png",
            "grey.png",
            "photo.jpg",
            "photo00.png",
            "photo01.png"
        ]
    );
    let grey = &loaded.photos[1].pixels;
    assert_eq!(grey.get_pixel(3, 0).0, [18, 18, 18], "grey copied to RGB");
    let alpha = &loaded.photos[0].pixels;
    assert_eq!(
        alpha.get_pixel(0, 9).0,
        [200, 10, 9],
        "alpha dropped, colour kept"
    );

    let problems: Vec<(String, String)> = loaded
        .problems
        .iter()
        .map(|(p, e)| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                e.to_string(),
            )
        })
        .collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert_eq!(problems[0].0, "broken.png");
    assert!(problems[0].1.starts_with("unreadable"), "{problems:?}");
    assert_eq!(problems[1].0, "narrow.png");
    assert!(matches!(
        loaded.problems[1].1,
        Problem::TooSmall {
            width: 12,
            height: 40
        }
    ));
    assert_eq!(problems[2].0, "truncated.png");
    assert_eq!(loaded.other_files, 1);
    assert!(
        loaded
            .summary(d)
            .contains("5 images loaded, 3 left out, 1 non-image files ignored")
    );

    let err = load_folder(d, 1, 16, true).err().unwrap().to_string();
    assert!(
        err.contains("broken.png") && err.contains("strict"),
        "{err}"
    );
}

#[test]
fn empty_or_missing_folders_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_folder(dir.path(), 1, 16, false)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("holds no images"), "{err}");
    let err = load_folder(&dir.path().join("nope"), 1, 16, false)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
}
