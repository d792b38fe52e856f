//! `data prepare` on a small made-up copy of the Debian package layout.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use niclab::data::prepare::{
    TestSetSpec, compare_with_manifest, prepare_test_set, prepare_train_set, verify_test_set,
};
use niclab::data::sources::{GCOMPRIS_RCC, LOMIRI_EXCLUDED, PLASMA_PHOTOS};

const LOMIRI: [&str; 14] = [
    "Bridge_by_A",
    "Dragonfly_by_B",
    "Kleiber_by_C",
    "Picture_0B_by_D",
    "Picture_1A_by_E",
    "Wine_by_F",
    "aitzgorri_by_G",
    "free_by_H",
    "friends_by_I",
    "greentock_by_J",
    "life_by_K",
    "picosdeeuropa_by_L",
    "seeding_by_M",
    "sunset_by_N",
];
fn jpg(path: &Path, w: u32, h: u32, seed: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    common::synthetic_photo(w, h, seed).save(path).unwrap();
}

/// The package layout with tiny photos: 24 test photos (one of them smaller), 5 drawings that
/// must not be used, and training photos including a lossy WebP inside a resource file.
fn fake_raw(raw: &Path) {
    let bg = raw.join("usr/share/backgrounds");
    for (i, n) in LOMIRI.iter().enumerate() {
        let w = if i == 4 { 40 } else { 80 };
        jpg(&bg.join(format!("{n}.jpg")), w, 64, i as u32);
    }
    for prefix in LOMIRI_EXCLUDED {
        jpg(&bg.join(format!("{prefix}by_X.jpg")), 80, 64, 99);
    }
    for (i, n) in PLASMA_PHOTOS.iter().enumerate() {
        jpg(
            &raw.join(format!(
                "usr/share/wallpapers/{n}/contents/images/2560x1600.jpg"
            )),
            96,
            64,
            20 + i as u32,
        );
    }
    jpg(&bg.join("mate/nature/Aqua.jpg"), 50, 40, 40);
    jpg(
        &raw.join("usr/share/tuxpaint/templates/cliff.jpg"),
        50,
        40,
        41,
    );
    jpg(
        &raw.join("usr/share/palapeli/collection/bee.jpg"),
        50,
        40,
        42,
    );
    let rcc = raw.join("usr/share/gcompris-qt/rcc");
    std::fs::create_dir_all(&rcc).unwrap();
    let mut webp = b"RIFF\x14\0\0\0WEBPVP8 \x08\0\0\0abcdefgh".to_vec();
    webp.splice(0..0, b"qres-header".iter().copied());
    for n in GCOMPRIS_RCC {
        std::fs::write(
            rcc.join(format!("{n}.rcc")),
            if n == "erase" { &webp[..] } else { b"qres" },
        )
        .unwrap();
    }
}

const SPEC: TestSetSpec = TestSetSpec {
    count: 60,
    crop: 16,
    downscale: 2,
    seed: 5,
};

#[test]
fn test_set_is_deterministic_even_and_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    fake_raw(&raw);
    let out = dir.path().join("test-set");
    let rows = prepare_test_set(&raw, &out, SPEC).unwrap();
    assert_eq!(rows.len(), 60);
    verify_test_set(&out, &rows, Some((16, 16))).unwrap();

    // Spread: Picture_1A (20x32 after halving: 2 cells) gives all it has, the others 2 or 3.
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rows {
        *per.entry(r.source.as_str()).or_default() += 1;
    }
    assert_eq!(per.len(), 24);
    assert_eq!(per["Picture_1A_by_E"], 2);
    assert!(per.values().all(|n| (2..=3).contains(n)), "{per:?}");
    assert!(
        rows.iter()
            .all(|r| !LOMIRI_EXCLUDED.iter().any(|d| r.source.starts_with(d)))
    );

    // Made again: the same crops, so the manifest check passes.
    let again = prepare_test_set(&raw, &dir.path().join("again"), SPEC).unwrap();
    compare_with_manifest(&again, &rows, Path::new("m.tsv")).unwrap();
    let other = prepare_test_set(
        &raw,
        &dir.path().join("other"),
        TestSetSpec { seed: 6, ..SPEC },
    )
    .unwrap();
    let err = compare_with_manifest(&other, &rows, Path::new("m.tsv")).unwrap_err();
    assert!(err.to_string().contains("differs from m.tsv"), "{err}");

    // A changed pixel, a missing crop and an extra file are each caught.
    let victim = out.join(&rows[7].crop);
    let mut img = image::open(&victim).unwrap().to_rgb8();
    img.get_pixel_mut(3, 3).0[0] ^= 1;
    img.save(&victim).unwrap();
    let err = verify_test_set(&out, &rows, Some((16, 16)))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&rows[7].crop) && err.contains("pixels differ"),
        "{err}"
    );
    std::fs::remove_file(&victim).unwrap();
    assert!(
        verify_test_set(&out, &rows, Some((16, 16)))
            .unwrap_err()
            .to_string()
            .contains("59 images")
    );
}

#[test]
fn train_set_copies_bytes_and_shares_nothing_with_the_test_set() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    fake_raw(&raw);
    let rows = prepare_test_set(&raw, &dir.path().join("test"), SPEC).unwrap();
    let test_sha: Vec<String> = rows.iter().map(|r| r.source_sha256.clone()).collect();
    let train = dir.path().join("train");
    let set = prepare_train_set(&raw, &train, &test_sha).unwrap();
    let names: Vec<String> = set
        .files
        .iter()
        .map(|f| f.0.display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "mate/Aqua.jpg",
            "tuxpaint/cliff.jpg",
            "palapeli/bee.jpg",
            "gcompris/erase-000.webp"
        ]
    );
    assert_eq!(
        std::fs::read(train.join("mate/Aqua.jpg")).unwrap(),
        std::fs::read(raw.join("usr/share/backgrounds/mate/nature/Aqua.jpg")).unwrap()
    );
    assert!(
        std::fs::read_to_string(train.join("SOURCES.tsv"))
            .unwrap()
            .contains("erase.rcc#0")
    );

    // A training source that is byte for byte a test photo is refused.
    std::fs::copy(
        raw.join("usr/share/backgrounds/Kleiber_by_C.jpg"),
        raw.join("usr/share/palapeli/collection/kleiber.jpg"),
    )
    .unwrap();
    let err = prepare_train_set(&raw, &train, &test_sha)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("kleiber.jpg is one of the test photos"),
        "{err}"
    );
}

#[test]
fn missing_packages_say_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let err = prepare_test_set(dir.path(), &dir.path().join("t"), SPEC).unwrap_err();
    assert!(format!("{err:#}").contains("make data"), "{err:#}");
}
