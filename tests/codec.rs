//! The codec end to end on tiny trained models: compress -> decompress reproduces the pixels
//! `niclab eval` reports and the `.nic` sizes are the bytes it counts; damaged, truncated and
//! foreign files fail cleanly; thousands of mutated files never panic; the rate term is
//! trained and logged; `niclab rd` writes its curves; BD-rate agrees with scipy.

mod common;

use std::path::Path;
use std::process::Command;

use niclab::codec::files::{Session, decompress_batch};
use niclab::codec::nic;
use niclab::rd::bjontegaard::bd_rate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Eval images: odd sizes (padding), and two sizes (two batch shapes).
const SIZES: [(u32, u32); 5] = [(31, 23), (31, 23), (31, 23), (20, 28), (20, 28)];

fn ok(args: &[&str], cwd: &Path) -> String {
    let (code, out, err) = common::niclab(args, cwd);
    assert_eq!(code, 0, "niclab {args:?}: {err}");
    out
}

/// The tiny experiment with a factorized prior and rate weight `lambda`, named `name`.
fn codec_experiment(photos: &Path, name: &str, lambda: f64, seed: u64) -> String {
    common::tiny_experiment(photos, 16)
        .replace("name = \"tiny\"", &format!("name = \"{name}\""))
        .replace(
            "latent_channels = 3",
            "latent_channels = 3\nentropy = \"factorized\"",
        )
        .replace("mse = 0.5", &format!("mse = 0.5\nrate = {lambda}"))
        .replace("seed = 11", &format!("seed = {seed}"))
}

/// A project with photos, eval images and the codec models `(name, lambda, seed)` trained.
fn project(models: &[(&str, f64, u64)]) -> tempfile::TempDir {
    let dir = common::tiny_project(16);
    let root = dir.path();
    for (name, lambda, seed) in models {
        let file = format!("{name}.toml");
        std::fs::write(
            root.join(&file),
            codec_experiment(&root.join("photos"), name, *lambda, *seed),
        )
        .unwrap();
        ok(
            &["train", &file, "--checkpoints", "ck", "--runs", "runs"],
            root,
        );
    }
    let images = root.join("images");
    std::fs::create_dir_all(&images).unwrap();
    for (i, (w, h)) in SIZES.iter().enumerate() {
        common::synthetic_photo(*w, *h, i as u32 + 20)
            .save(images.join(format!("img{i}.png")))
            .unwrap();
    }
    dir
}

fn pixels(path: &Path) -> Vec<u8> {
    image::open(path).unwrap().to_rgb8().into_raw()
}

#[test]
fn round_trip_reproduces_eval_pixels_and_bytes() {
    let dir = project(&[("c1", 0.05, 11)]);
    let root = dir.path();
    let eval = [
        "eval",
        "ck/c1",
        "--images",
        "images",
        "--out",
        "ev",
        "--batch-size",
        "4",
        "--checkpoints",
        "ck",
        "--runs",
        "runs",
    ];
    ok(&eval, root);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("ev/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["storage"], "nic");
    let tables = root.join("ck/c1/best.tables.json");
    assert!(tables.is_file());
    let made = std::fs::metadata(&tables).unwrap().modified().unwrap();

    // The folder through compress and decompress, in the same batches as eval.
    ok(
        &[
            "compress",
            "--model",
            "ck/c1",
            "images",
            "nic",
            "--batch-size",
            "4",
        ],
        root,
    );
    ok(
        &[
            "decompress",
            "--model",
            "ck/c1",
            "nic",
            "dec",
            "--batch-size",
            "4",
        ],
        root,
    );
    // The tables were made once, by eval, and reused.
    assert_eq!(
        std::fs::metadata(&tables).unwrap().modified().unwrap(),
        made
    );

    let csv = std::fs::read_to_string(root.join("ev/per_image.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let ae_rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[col("codec")] == "ae")
        .collect();
    assert_eq!(ae_rows.len(), SIZES.len());
    for (i, row) in ae_rows.iter().enumerate() {
        let name = format!("img{i}");
        assert_eq!(row[col("image")], format!("{name}.png"));
        let file = std::fs::read(root.join("nic").join(&name).with_extension("nic")).unwrap();
        // The evaluator counts exactly the .nic file, and stores the same file.
        assert_eq!(row[col("bytes")].parse::<usize>().unwrap(), file.len());
        assert_eq!(
            std::fs::read(root.join("ev/ae").join(&name).with_extension("nic")).unwrap(),
            file
        );
        let decoded = pixels(&root.join("dec").join(&name).with_extension("png"));
        assert_eq!(
            decoded,
            pixels(&root.join("ev/ae").join(&name).with_extension("png")),
            "{name}: decompressed pixels differ from eval's"
        );
        let (w, h) = SIZES[i];
        assert_eq!(decoded.len(), (w * h * 3) as usize);
    }
    // One file on its own decodes to the same pixels.
    ok(
        &["decompress", "--model", "ck/c1", "nic/img3.nic", "one.png"],
        root,
    );
    assert_eq!(
        pixels(&root.join("one.png")),
        pixels(&root.join("dec/img3.png"))
    );
    // And compressing again writes the same bytes.
    ok(
        &[
            "compress",
            "--model",
            "ck/c1",
            "images/img3.png",
            "again.nic",
        ],
        root,
    );
    assert_eq!(
        std::fs::read(root.join("again.nic")).unwrap(),
        std::fs::read(root.join("nic/img3.nic")).unwrap()
    );

    // The rate term was trained and logged: metrics, validation bpp, TensorBoard.
    let metrics = std::fs::read_to_string(root.join("ck/c1/metrics.csv")).unwrap();
    let last: Vec<&str> = metrics.lines().last().unwrap().split(',').collect();
    assert!(
        last[7].parse::<f64>().unwrap() > 0.0,
        "rate term: {metrics}"
    );
    let val = std::fs::read_to_string(root.join("ck/c1/validation.csv")).unwrap();
    assert!(
        val.lines()
            .next()
            .unwrap()
            .contains("val_rate_term,val_bpp")
    );
    let column = val
        .lines()
        .next()
        .unwrap()
        .split(',')
        .position(|c| c == "val_bpp")
        .unwrap();
    let bpp: f64 = val
        .lines()
        .last()
        .unwrap()
        .split(',')
        .nth(column)
        .unwrap()
        .parse()
        .unwrap();
    assert!(bpp > 0.0 && bpp < 24.0, "{bpp}");
    let events = common::python_json("tests/read_events.py", &root.join("runs/c1"));
    for tag in ["loss/rate", "val/bpp", "val/loss_rate"] {
        assert!(
            events["scalars"][tag]
                .as_array()
                .is_some_and(|v| !v.is_empty()),
            "{tag} missing"
        );
    }
}

/// A hyperprior model trains with both rates logged, and asking for its `.nic` files, which
/// do not exist yet, is a clear error, not a file written with the wrong coder.
#[test]
fn a_hyperprior_model_trains_logs_both_rates_and_round_trips_on_both_backends() {
    let dir = project(&[]);
    let root = dir.path();
    train_hyperprior(root, "h1");
    let column = |file: &str, name: &str| -> Vec<f64> {
        let text = std::fs::read_to_string(root.join("ck/h1").join(file)).unwrap();
        let i = text
            .lines()
            .next()
            .unwrap()
            .split(',')
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("{file}: no {name}"));
        text.lines()
            .skip(1)
            .map(|l| l.split(',').nth(i).unwrap().parse().unwrap())
            .collect()
    };
    // λ times bits per pixel: the latent's and the hyper-latent's, both counted.
    for name in ["rate_term", "side_rate_term"] {
        let v = column("metrics.csv", name);
        assert_eq!(v.len(), 16, "{name}");
        assert!(v.iter().all(|r| *r > 0.0 && r.is_finite()), "{name}: {v:?}");
    }
    let total = column("validation.csv", "val_bpp");
    let latent = column("validation.csv", "val_rate_term");
    let side = column("validation.csv", "val_side_rate_term");
    for i in 0..total.len() {
        assert!(
            ((latent[i] + side[i]) / HYPER_LAMBDA - total[i]).abs() < 1e-4 * total[i],
            "{} + {} vs {}",
            latent[i],
            side[i],
            total[i]
        );
    }
    let events = common::python_json("tests/read_events.py", &root.join("runs/h1"));
    for tag in ["loss/rate", "loss/side_rate", "val/bpp"] {
        assert!(!events["scalars"][tag].is_null(), "no {tag}");
    }

    // Its files decode to the pixels and hold the bytes `niclab eval` measured.
    round_trips_as_eval_measured(root, "ck/h1");
    let file = std::fs::read(root.join("nic/img0.nic")).unwrap();
    assert_eq!(file[4], 2, "a hyperprior file is format version 2");
    let images: Vec<image::RgbImage> = (0..SIZES.len())
        .map(|i| pixels_of(&root.join(format!("images/img{i}.png"))))
        .collect();
    let indexes = common::codec::same_latents_on_both_backends(
        &root.join("ck/h1"),
        &root.join("ck"),
        &images,
    );
    // After 16 steps the tiny model's scales still sit on the table's floor; the shipped
    // models spread over the table (tests/zoo.rs).
    assert_eq!(indexes.keys().copied().collect::<Vec<_>>(), [0]);
}

fn pixels_of(path: &Path) -> image::RgbImage {
    image::open(path).unwrap().to_rgb8()
}

/// Rate weight of the tiny hyperprior model.
const HYPER_LAMBDA: f64 = 0.05;

/// Trains the tiny experiment with a hyperprior (λ = 0.05) as `ck/<name>`.
fn train_hyperprior(root: &Path, name: &str) {
    let text = codec_experiment(&root.join("photos"), name, HYPER_LAMBDA, 11)
        .replace("entropy = \"factorized\"", "entropy = \"hyperprior\"");
    let file = format!("{name}.toml");
    std::fs::write(root.join(&file), text).unwrap();
    ok(
        &["train", &file, "--checkpoints", "ck", "--runs", "runs"],
        root,
    );
}

/// `model` compresses `images/` and decompresses to the pixels and holds the bytes
/// `niclab eval` measured.
fn round_trips_as_eval_measured(root: &Path, model: &str) {
    let ev_args = [
        "eval",
        model,
        "--images",
        "images",
        "--out",
        "ev",
        "--checkpoints",
        "ck",
        "--runs",
        "runs",
    ];
    ok(&ev_args, root);
    ok(&["compress", "--model", model, "images", "nic"], root);
    ok(&["decompress", "--model", model, "nic", "dec"], root);
    for (i, (w, h)) in SIZES.iter().enumerate() {
        let name = format!("img{i}");
        let decoded = pixels(&root.join("dec").join(&name).with_extension("png"));
        assert_eq!(decoded.len(), (w * h * 3) as usize);
        assert_eq!(
            decoded,
            pixels(&root.join("ev/ae").join(&name).with_extension("png")),
            "{name}: decompressed pixels differ from eval's"
        );
        assert_eq!(
            std::fs::read(root.join("nic").join(&name).with_extension("nic")).unwrap(),
            std::fs::read(root.join("ev/ae").join(&name).with_extension("nic")).unwrap()
        );
    }
}

#[test]
fn a_gdn_codec_compresses_and_decodes_to_what_eval_measured() {
    let dir = project(&[]);
    let root = dir.path();
    let text = codec_experiment(&root.join("photos"), "g1", 0.05, 11).replace(
        "entropy = \"factorized\"",
        "entropy = \"factorized\"\nactivation = \"gdn\"",
    );
    std::fs::write(root.join("g1.toml"), text).unwrap();
    ok(
        &["train", "g1.toml", "--checkpoints", "ck", "--runs", "runs"],
        root,
    );
    let saved = std::fs::read_to_string(root.join("ck/g1/config.toml")).unwrap();
    assert!(saved.contains("activation = \"gdn\""), "{saved}");
    round_trips_as_eval_measured(root, "ck/g1");
}

#[test]
fn damaged_truncated_and_foreign_files_fail_cleanly() {
    let dir = project(&[("c1", 0.05, 11), ("c2", 0.05, 12)]);
    let root = dir.path();
    ok(
        &["compress", "--model", "ck/c1", "images/img0.png", "a.nic"],
        root,
    );
    let good = std::fs::read(root.join("a.nic")).unwrap();
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x10;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", good[..good.len() - 3].to_vec(), "truncated"),
        ("short", good[..10].to_vec(), "truncated"),
        ("flipped", flipped, "corrupted: checksum mismatch"),
        (
            "garbage",
            b"hello, this is not compressed at all, not even close".to_vec(),
            "not a .nic file",
        ),
        ("empty", Vec::new(), "truncated"),
    ];
    for (name, bytes, message) in cases {
        let file = format!("{name}.nic");
        std::fs::write(root.join(&file), bytes).unwrap();
        let out = format!("{name}.png");
        let (code, _, err) = common::niclab(&["decompress", "--model", "ck/c1", &file, &out], root);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(
            err.contains(&file) && err.contains(message),
            "{name}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(!root.join(&out).exists(), "{name}: wrote output");
    }
    // A file of another model (same architecture, other weights).
    let (code, _, err) =
        common::niclab(&["decompress", "--model", "ck/c2", "a.nic", "x.png"], root);
    assert_eq!(code, 1);
    assert!(err.contains("written by another model"), "{err}");
    // A plain autoencoder (no entropy model) compresses with its post-training quantiser.
    ok(
        &[
            "train",
            "tiny.toml",
            "--checkpoints",
            "ck",
            "--runs",
            "runs",
        ],
        root,
    );
    ok(&["compress", "--model", "ck/tiny", "images", "plain"], root);
    ok(
        &["decompress", "--model", "ck/tiny", "plain", "plain-dec"],
        root,
    );
    // Stray files in a folder are named, not skipped: both ways, nothing written.
    std::fs::write(root.join("images/notes.txt"), "not an image").unwrap();
    std::fs::write(root.join("plain/notes.txt"), "not a .nic file").unwrap();
    for (cmd, from, to, message) in [
        ("compress", "images", "stray-nic", "not images"),
        ("decompress", "plain", "stray-png", "not .nic files"),
    ] {
        let (code, _, err) = common::niclab(&[cmd, "--model", "ck/tiny", from, to], root);
        assert_eq!(code, 1, "{cmd}: {err}");
        assert!(
            err.contains(message) && err.contains("notes.txt"),
            "{cmd}: {err}"
        );
        assert!(!root.join(to).exists(), "{cmd} wrote output");
    }
    std::fs::remove_file(root.join("images/notes.txt")).unwrap();
    let t: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("ck/tiny/best.tables.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(t["tables"]["quantizer"], "uniform");
    assert_eq!(t["tables"]["channels"].as_array().unwrap().len(), 3);
    let (code, _, err) = common::niclab(
        &["decompress", "--model", "ck/tiny", "a.nic", "y.png"],
        root,
    );
    assert_eq!(code, 1);
    assert!(err.contains("written by another model"), "{err}");
    // Bad experiment settings name the key.
    std::fs::write(
        root.join("bad.toml"),
        common::tiny_experiment(&root.join("photos"), 4)
            .replace("mse = 0.5", "mse = 0.5\nrate = 0.1"),
    )
    .unwrap();
    let (code, _, err) = common::niclab(&["config", "bad.toml"], root);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.toml:") && err.contains("loss.rate") && err.contains("factorized"),
        "{err}"
    );
}

#[test]
fn mutated_files_never_panic() {
    let dir = project(&[("c1", 0.05, 11)]);
    let root = dir.path();
    train_hyperprior(root, "h1");
    for model in ["c1", "h1"] {
        mutated_files_of(root, model);
    }
}

/// Thousands of damaged versions of `model`'s files: errors or images, never a panic.
fn mutated_files_of(root: &Path, model: &str) {
    let ck = format!("ck/{model}");
    let out = format!("nic-{model}");
    ok(&["compress", "--model", &ck, "images", &out], root);
    let session = Session::open(&root.join(&ck), &root.join("ck"), None, None).unwrap();
    let files: Vec<Vec<u8>> = ["img0", "img3"]
        .iter()
        .map(|n| std::fs::read(root.join(&out).join(n).with_extension("nic")).unwrap())
        .collect();
    // Version 1 for the factorized prior, 2 (two payloads) for the hyperprior.
    let header_len = match files[0][4] {
        1 => nic::HEADER_LEN,
        _ => nic::HEADER_LEN_V2,
    };
    // Header fields that a valid checksum can hide: all but magic, version and the total
    // payload length (which sealing sets).
    let fields: Vec<usize> = (5..34).chain(38..header_len).collect();
    let decode = |b: &[u8]| decompress_batch(&session.model, &session.coder, &[b], &session.device);
    for f in &files {
        decode(f).unwrap();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let (mut tried, mut decoded) = (0, 0);
    for round in 0..4000 {
        let f = &files[round % files.len()];
        let mutated: Vec<u8> = match round % 5 {
            // Bit flips anywhere: the checksum catches them.
            0 => {
                let mut m = f.clone();
                for _ in 0..rng.random_range(1..8) {
                    let i = rng.random_range(0..m.len());
                    m[i] ^= 1 << rng.random_range(0..8);
                }
                m
            }
            1 => f[..rng.random_range(0..f.len())].to_vec(),
            2 => (0..rng.random_range(0..200))
                .map(|_| rng.random())
                .collect(),
            // Header fields changed behind a valid checksum: sizes, padding, channels, the
            // side payload's length.
            3 => {
                let mut m = f[..f.len() - nic::CHECKSUM_LEN].to_vec();
                for _ in 0..rng.random_range(1..4) {
                    let i = fields[rng.random_range(0..fields.len())];
                    m[i] = if rng.random_bool(0.5) {
                        rng.random()
                    } else {
                        rng.random_range(0..40)
                    };
                }
                nic::seal(&m)
            }
            // Garbage payloads behind a valid header and checksum (with a hyperprior, the
            // side length kept when it fits, so both payloads get garbage).
            _ => {
                let mut m = f[..header_len].to_vec();
                m.extend((0..4 * rng.random_range(0..40)).map(|_| rng.random::<u8>()));
                nic::seal(&m)
            }
        };
        if mutated == *f {
            continue;
        }
        tried += 1;
        if let Ok(images) = decode(&mutated) {
            decoded += 1;
            // Whatever decodes has the size its (valid) header announces.
            let (h, _) = nic::parse(&mutated).unwrap();
            assert_eq!(images[0].dimensions(), (h.width, h.height));
            assert!(
                round % 5 >= 3,
                "{model}, round {round}: a damaged file decoded"
            );
        }
    }
    assert!(tried > 3900, "{model}: {tried}");
    // Garbage payloads behind valid headers decode to some image (the range coder cannot
    // tell), which is why files carry a checksum.
    assert!(decoded > 0, "{model}");
}

#[test]
fn rd_curves_and_bd_rate() {
    let dir = project(&[("lo", 0.02, 11), ("hi", 0.5, 11)]);
    let root = dir.path();
    let out = ok(
        &[
            "rd",
            "ck/lo",
            "ck/hi",
            "--images",
            "images",
            "--jpeg-qualities",
            "10,50,90",
            "--webp-qualities",
            "10,90",
            "--avif-quantizers",
            "20,50",
            "--jxl-qualities",
            "20,90",
            "--out",
            "rd",
            "--checkpoints",
            "ck",
        ],
        root,
    );
    assert!(out.contains("## BD-rate of niclab"), "{out}");
    for label in [
        "| JPEG (libjpeg-turbo) |",
        "| WebP (libwebp) |",
        "| AVIF (avifenc, libaom) |",
        "| JPEG XL (cjxl, libjxl) |",
        "- WebP (libwebp): libwebp 1.6.0",
    ] {
        assert!(out.contains(label), "{label}: {out}");
    }
    let csv = std::fs::read_to_string(root.join("rd/rd.csv")).unwrap();
    let rows: Vec<Vec<String>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), 3 + 2 + 2 + 2 + 2);
    assert_eq!(rows.iter().filter(|r| r[0] == "jpeg").count(), 3);
    for c in ["webp", "avif", "jxl"] {
        assert_eq!(rows.iter().filter(|r| r[0] == c).count(), 2, "{c}");
    }
    // AVIF's settings are its quantizers, lowest quality first.
    let avif: Vec<&str> = rows
        .iter()
        .filter(|r| r[0] == "avif")
        .map(|r| r[1].as_str())
        .collect();
    assert_eq!(avif, ["qp50", "qp20"]);
    // The niclab points are the models' real files: bpp from the .nic sizes of eval.
    ok(&["compress", "--model", "ck/hi", "images", "nic-hi"], root);
    let (mut bits, mut payload) = (0.0, 0.0);
    for (i, (w, h)) in SIZES.iter().enumerate() {
        let n = std::fs::metadata(root.join(format!("nic-hi/img{i}.nic")))
            .unwrap()
            .len() as f64;
        let px = *w as f64 * *h as f64;
        bits += n * 8.0 / px;
        payload += (n - (nic::HEADER_LEN + nic::CHECKSUM_LEN) as f64) * 8.0 / px;
    }
    let hi = rows.iter().find(|r| r[1] == "hi").unwrap();
    let col = |r: &Vec<String>, c: usize| r[c].parse::<f64>().unwrap();
    assert!((col(hi, 3) - bits / SIZES.len() as f64).abs() < 1e-9);
    assert!((col(hi, 4) - payload / SIZES.len() as f64).abs() < 1e-9);
    // JPEG's payload leaves out its headers: hundreds of bytes of tables per file.
    for j in rows.iter().filter(|r| r[0] == "jpeg") {
        let header_bits = (col(j, 3) - col(j, 4)) * (31.0 * 23.0);
        assert!(header_bits > 8.0 * 500.0, "{j:?}");
    }
    assert_eq!(hi[2], "0.5");
    for f in [
        "rd.json",
        "report.md",
        "plots/rd-psnr.png",
        "plots/rd-ssim.png",
        "plots/rd-delta-e.png",
    ] {
        assert!(root.join("rd").join(f).is_file(), "{f}");
    }
    // Colour: each point's ΔE00 is the mean over the decoded files (the model's here).
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    ok(
        &["decompress", "--model", "ck/hi", "nic-hi", "dec-hi"],
        root,
    );
    let mut de = 0.0;
    for i in 0..SIZES.len() {
        let a = image::open(root.join(format!("images/img{i}.png")))
            .unwrap()
            .to_rgb8();
        let b = image::open(root.join(format!("dec-hi/img{i}.png")))
            .unwrap()
            .to_rgb8();
        de += niclab::metrics::colour::colour(&a, &b).unwrap().delta_e / SIZES.len() as f64;
    }
    assert!((col(hi, at("delta_e")) - de).abs() < 1e-9, "{hi:?} vs {de}");
    // JPEG gets more colour right with more bits.
    let jde: Vec<f64> = rows
        .iter()
        .filter(|r| r[0] == "jpeg")
        .map(|r| col(r, at("delta_e")))
        .collect();
    assert!(jde[0] > jde[2], "{jde:?}");
    // Every classical codec's bits go up with its quality, and its files are its own:
    // WebP's payload is the file less its 20 bytes of RIFF headers.
    for c in ["jpeg", "webp", "avif", "jxl"] {
        let pts: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == c).collect();
        assert!(col(pts[0], 3) < col(pts[pts.len() - 1], 3), "{c}");
        assert!(col(pts[0], 5) < col(pts[pts.len() - 1], 5), "{c}");
    }
    for w in rows.iter().filter(|r| r[0] == "webp") {
        let header_bytes = (col(w, 3) - col(w, 4)) * (31.0 * 23.0) / 8.0;
        assert!((header_bytes - 20.0).abs() < 3.0, "{w:?}");
    }
    // The JSON holds a BD-rate entry per codec, and each model is read against each.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("rd/rd.json")).unwrap()).unwrap();
    let bd: Vec<&str> = json["bd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["codec"].as_str().unwrap())
        .collect();
    assert_eq!(bd, ["jpeg", "webp", "avif", "jxl"]);
    for key in [
        "psnr",
        "ssim",
        "ms_ssim",
        "psnr_payload",
        "ssim_payload",
        "ms_ssim_payload",
    ] {
        assert!(json["bd"][0].get(key).is_some(), "{key}");
    }
    // No MS-SSIM on these small images: no BD-rate at equal MS-SSIM either.
    assert!(json["bd"][0]["ms_ssim"].is_null());
    assert_eq!(json["models"][0]["against"].as_array().unwrap().len(), 4);
    assert!(header.contains(&"avif_bpp_no_worse"), "{header:?}");
    assert!(header.contains(&"jxl_delta_e_at_payload_bpp"), "{header:?}");
    // These images are too small for MS-SSIM: blank cells and a note, no made-up figure.
    assert!(rows.iter().all(|r| r[at("ms_ssim")].is_empty()));
    assert!(
        out.contains("MS-SSIM: not defined on images under 161 pixels"),
        "{out}"
    );
    assert!(!root.join("rd/plots/rd-ms-ssim.png").exists());
    let events = common::python_json("tests/read_events.py", &root.join("rd"));
    assert_eq!(
        events["scalars"]["rd/psnr_avif"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        events["scalars"]["rd/psnr_jpeg"].as_array().unwrap().len(),
        3
    );
    assert_eq!(
        events["scalars"]["rd/ssim_niclab"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        events["scalars"]["rd/delta_e_jpeg"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn rd_refuses_unknown_codecs_bad_levels_and_missing_tools() {
    let dir = project(&[("lo", 0.02, 11)]);
    let root = dir.path();
    let base = [
        "rd",
        "ck/lo",
        "--images",
        "images",
        "--out",
        "rd",
        "--checkpoints",
        "ck",
    ];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        common::niclab(&args, root)
    };
    let (code, _, err) = run(&["--codecs", "jpeg,png"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown codec `png`"), "{err}");
    let (code, _, err) = run(&["--codecs", "avif", "--avif-quantizers", "70,20"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("--avif-quantizers") && err.contains("no quantizer 70"),
        "{err}"
    );
    let (code, _, err) = run(&["--codecs", "jxl", "--jxl-qualities", "2,50"]);
    assert_ne!(code, 0);
    assert!(err.contains("jxl has no level 2"), "{err}");
    let (code, _, err) = run(&["--codecs", "webp", "--webp-qualities", "50"]);
    assert_ne!(code, 0);
    assert!(err.contains("at least 2 levels of webp"), "{err}");
    // Without avifenc on PATH: an error naming the package, and nothing written.
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_niclab"));
    let out = Command::new(bin)
        .args(base)
        .args(["--codecs", "avif", "--avif-quantizers", "50,20"])
        .env("PATH", "/nonexistent")
        .current_dir(root)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("`avifenc` not found") && err.contains("apt-get install libavif-bin"),
        "{err}"
    );
    assert!(!root.join("rd/rd.csv").exists());
}

#[test]
fn bd_rate_matches_scipy_pchip() {
    let anchor = [
        (0.31, 27.9),
        (0.52, 30.6),
        (0.95, 33.8),
        (1.71, 36.9),
        (2.9, 39.2),
    ];
    let test = [(0.22, 28.4), (0.40, 31.5), (0.77, 34.0), (1.5, 37.8)];
    let ours = bd_rate(&anchor, &test).unwrap();
    let py = format!(
        "import numpy as np\nfrom scipy.interpolate import PchipInterpolator as P\n\
         a=np.array({a}); t=np.array({t})\n\
         lo=max(a[:,1].min(),t[:,1].min()); hi=min(a[:,1].max(),t[:,1].max())\n\
         ia=P(a[:,1],np.log(a[:,0])).integrate(lo,hi); it=P(t[:,1],np.log(t[:,0])).integrate(lo,hi)\n\
         print((np.exp((it-ia)/(hi-lo))-1)*100)",
        a = pylist(&anchor),
        t = pylist(&test)
    );
    assert!(Path::new(common::PYTHON).exists(), "run `make test`");
    let out = common::succeed(Command::new(common::PYTHON).arg("-c").arg(py));
    let theirs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(
        (ours - theirs).abs() < 1e-9,
        "niclab {ours} vs scipy {theirs}"
    );
    assert!(ours < -5.0, "{ours}");
}

fn pylist(points: &[(f64, f64)]) -> String {
    let items: Vec<String> = points.iter().map(|(r, q)| format!("[{r},{q}]")).collect();
    format!("[{}]", items.join(","))
}
