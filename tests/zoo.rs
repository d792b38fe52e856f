//! The model zoo: `niclab models add` ships a trained run (weights only, tables, figures),
//! `niclab models` lists it, compress without `--model` uses the default, decompress finds
//! the model from the file's fingerprint; damaged shipped files, unknown names and unknown
//! fingerprints are clear errors. And the models shipped in `models/` match their
//! checksums and reproduce their figures on a sample of the test set.

mod common;

use std::path::Path;
use std::process::Command;

use niclab::config::{Entropy, Trainable};
use niclab::eval::source::ModelSource;
use niclab::rd::bjontegaard::{bd_rate, quality_at};
use niclab::zoo::{Kind, SAMPLE_EVERY, Scorer, Zoo};

fn niclab(args: &[&str], cwd: &Path, zoo: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_niclab"))
        .args(args)
        .current_dir(cwd)
        .env("NICLAB_MODELS", zoo)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(args: &[&str], cwd: &Path, zoo: &Path) -> String {
    let (code, out, err) = niclab(args, cwd, zoo);
    assert_eq!(code, 0, "niclab {args:?}: {err}");
    out
}

/// A project with a tiny trained codec `c1` (and a second, `c2`) and a few eval images.
fn project() -> tempfile::TempDir {
    let dir = common::tiny_project(16);
    let root = dir.path();
    for (name, seed) in [("c1", 11), ("c2", 12)] {
        let text = common::tiny_experiment(&root.join("photos"), 16)
            .replace("name = \"tiny\"", &format!("name = \"{name}\""))
            .replace(
                "latent_channels = 3",
                "latent_channels = 3\nentropy = \"factorized\"",
            )
            .replace("mse = 0.5", "mse = 0.5\nrate = 0.05")
            .replace("seed = 11", &format!("seed = {seed}"));
        std::fs::write(root.join(format!("{name}.toml")), text).unwrap();
        ok(
            &[
                "train",
                &format!("{name}.toml"),
                "--checkpoints",
                "ck",
                "--runs",
                "runs",
            ],
            root,
            &root.join("zoo"),
        );
    }
    std::fs::create_dir_all(root.join("images")).unwrap();
    for i in 0..4 {
        common::synthetic_photo(40, 24, 30 + i)
            .save(root.join(format!("images/img{i}.png")))
            .unwrap();
    }
    dir
}

fn add(root: &Path, zoo: &Path, run: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "models",
        "add",
        run,
        "--description",
        "a tiny test codec",
        "--command",
        "niclab train c1.toml",
        "--commit",
        "0123abc",
        "--images",
        "images",
        "--checkpoints",
        "ck",
    ];
    args.extend_from_slice(extra);
    ok(&args, root, zoo)
}

#[test]
fn a_shipped_model_compresses_and_decompresses_by_fingerprint() {
    let dir = project();
    let root = dir.path();
    let zoo = root.join("zoo");
    let added = add(root, &zoo, "ck/c1", &["--name", "tiny-codec"]);
    assert!(added.contains("added tiny-codec"), "{added}");
    // Weights only: far smaller than the run's checkpoint with Adam's moments.
    let shipped = std::fs::metadata(zoo.join("tiny-codec/model.ckpt"))
        .unwrap()
        .len();
    let run = std::fs::metadata(root.join("ck/c1/best.ckpt"))
        .unwrap()
        .len();
    assert!(shipped * 2 < run, "{shipped} vs {run} bytes");
    assert!(zoo.join("tiny-codec/model.tables.json").is_file());
    // Its reports label it by the zoo's name, not the run's (c1).
    let exp = std::fs::read_to_string(zoo.join("tiny-codec/experiment.toml")).unwrap();
    assert!(exp.contains("name = \"tiny-codec\""), "{exp}");

    let listing = ok(&["models"], root, &zoo);
    assert!(
        listing.contains("tiny-codec") && listing.contains("(default)"),
        "{listing}"
    );
    let z = Zoo::load(&zoo).unwrap();
    let e = z.find("tiny-codec").unwrap();
    assert_eq!(e.trained.commit, "0123abc");
    assert_eq!(e.test.count, 4);
    assert_eq!(e.sample.count, 4_usize.div_ceil(SAMPLE_EVERY));
    assert!(e.test.scores.bpp > 0.0 && e.test.scores.colour.delta_e > 0.0);
    ok(&["models", "verify"], root, &zoo);

    // No --model: the default; no --model to decompress: found by fingerprint, and the
    // pixels are the run's own.
    ok(&["compress", "images/img0.png", "a.nic"], root, &zoo);
    ok(&["decompress", "a.nic", "a.png"], root, &zoo);
    ok(
        &["decompress", "--model", "ck/c1", "a.nic", "b.png"],
        root,
        &zoo,
    );
    assert_eq!(
        image::open(root.join("a.png")).unwrap().to_rgb8(),
        image::open(root.join("b.png")).unwrap().to_rgb8()
    );
    // The shipped model writes the run's files byte for byte.
    ok(
        &["compress", "--model", "ck/c1", "images/img0.png", "run.nic"],
        root,
        &zoo,
    );
    assert_eq!(
        std::fs::read(root.join("a.nic")).unwrap(),
        std::fs::read(root.join("run.nic")).unwrap()
    );
    // A file of a run that is not shipped is found among the runs in --checkpoints.
    ok(
        &["compress", "--model", "ck/c2", "images/img1.png", "c2.nic"],
        root,
        &zoo,
    );
    ok(
        &["decompress", "c2.nic", "c2.png", "--checkpoints", "ck"],
        root,
        &zoo,
    );

    // Unknown fingerprint: named in the error, nothing written.
    std::fs::rename(root.join("ck/c2"), root.join("elsewhere")).unwrap();
    let (code, _, err) = niclab(
        &["decompress", "c2.nic", "x.png", "--checkpoints", "ck"],
        root,
        &zoo,
    );
    let header = niclab::codec::nic::parse(&std::fs::read(root.join("c2.nic")).unwrap())
        .unwrap()
        .0;
    let fp = niclab::codec::hex(&header.fingerprint);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&fp) && err.contains("c2.nic") && err.contains("--model"),
        "{err}"
    );
    assert!(!root.join("x.png").exists());

    // Unknown model name: the error lists the shipped ones.
    let (code, _, err) = niclab(
        &["compress", "--model", "nosuch", "images/img0.png", "y.nic"],
        root,
        &zoo,
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("nosuch") && err.contains("tiny-codec"),
        "{err}"
    );

    // A damaged shipped file is refused with its name and how to restore it.
    let ckpt = zoo.join("tiny-codec/model.ckpt");
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&ckpt, &bytes).unwrap();
    for args in [
        vec!["compress", "images/img0.png", "z.nic"],
        vec!["decompress", "a.nic", "z.png"],
        vec![
            "compress",
            "--model",
            "tiny-codec",
            "images/img0.png",
            "z.nic",
        ],
        vec!["models", "verify"],
    ] {
        let (code, _, err) = niclab(&args, root, &zoo);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains("SHA-256") && err.contains("model.ckpt") && err.contains("git checkout"),
            "{err}"
        );
        assert!(!root.join("z.nic").exists() && !root.join("z.png").exists());
    }
    // A missing tables file too.
    bytes[n / 2] ^= 1;
    std::fs::write(&ckpt, &bytes).unwrap();
    ok(&["models", "verify"], root, &zoo);
    std::fs::remove_file(zoo.join("tiny-codec/model.tables.json")).unwrap();
    let (code, _, err) = niclab(&["compress", "images/img0.png", "z.nic"], root, &zoo);
    assert_eq!(code, 1);
    assert!(err.contains("model.tables.json"), "{err}");
}

#[test]
fn bad_zoo_files_name_the_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let zoo = root.join("zoo");
    std::fs::create_dir_all(&zoo).unwrap();
    for (text, want) in [
        ("default = \"x\"\ncolour = 3\n", "zoo.toml:2"),
        ("default = \"missing\"\n", "names no listed model"),
        ("[[model]]\nname = 3\n", "zoo.toml:2"),
    ] {
        std::fs::write(zoo.join("zoo.toml"), text).unwrap();
        let (code, _, err) = niclab(&["models"], root, &zoo);
        assert_ne!(code, 0, "{text}");
        assert!(err.contains(want), "{text}: {err}");
    }
    // No zoo at all: compress without --model says what to do.
    std::fs::remove_file(zoo.join("zoo.toml")).unwrap();
    let img = root.join("a.png");
    common::synthetic_photo(20, 20, 1).save(&img).unwrap();
    let (code, _, err) = niclab(&["compress", "a.png", "a.nic"], root, &zoo);
    assert_eq!(code, 1);
    assert!(
        err.contains("no default model") && err.contains("--model"),
        "{err}"
    );
}

/// The models shipped in the repository: checksums, and their sample figures reproduced on
/// flex (the figures were measured on flex; another CPU may round differently, hence the
/// tolerances).
#[test]
fn shipped_models_reproduce_their_figures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let zoo = Zoo::load(&dir).unwrap();
    assert!(!zoo.models.is_empty(), "models/zoo.toml lists no model");
    assert!(zoo.default.is_some());
    // Four factorized codecs (λ 0.001 .. 0.008), two hyperprior codecs of the first recipe
    // (λ 0.0005, 0.002), four of the second (λ 0.0005, 0.001, 0.002, 0.008) and their four
    // MS-SSIM decoders, four of the third (λ 0.0005, 0.001, 0.002, 0.008) and their four
    // MS-SSIM decoders, three of the fourth (λ 0.0005, 0.001, 0.002: the third continued),
    // four of the fifth (λ 0.0005 ... 0.008: fine-tuned on the codec's own objective) and
    // its four MS-SSIM models, nine more rounds of four (the MSE set's second to sixth, the
    // MS-SSIM set's second to fifth: hyperprior9 ... 13), the colour set's four (the MSE set
    // with the colour term: hyperprior14-msecolour), its second to fifth rounds
    // (hyperprior15-msecolour, hyperprior17-msecolour ... hyperprior20-msecolour), its fifth λ
    // (hyperprior21-msecolour-0.004), its seventh round at five λ (hyperprior22-msecolour), its
    // eighth round at four (hyperprior23-msecolour) and the CPU reproduction's four depths;
    // every entry checks its experiment file too.
    let count = |k: Kind| zoo.models.iter().filter(|e| e.kind == k).count();
    assert_eq!((count(Kind::Codec), count(Kind::Paper)), (103, 4));
    assert!(zoo.models.iter().all(|e| e.experiment_sha256.is_some()));
    let (_, images) = niclab::eval::load_images(Path::new("datasets/test-1000")).unwrap();
    let sample: Vec<_> = images.into_iter().step_by(SAMPLE_EVERY).collect();
    for e in &zoo.models {
        e.verify(&dir).unwrap();
        let source = ModelSource::resolve(&e.checkpoint(&dir), Path::new("checkpoints")).unwrap();
        let s = Scorer::open(source).unwrap();
        assert_eq!(s.fingerprint(), e.fingerprint, "{}", e.name);
        assert_eq!(e.fingerprint.is_some(), e.kind == Kind::Codec, "{}", e.name);
        let got = s.score(&e.name, &sample).unwrap();
        let want = &e.sample.scores;
        assert_eq!(sample.len(), e.sample.count);
        assert!(
            (got.bpp - want.bpp).abs() <= 1e-3 * want.bpp,
            "{}: bpp {} vs {}",
            e.name,
            got.bpp,
            want.bpp
        );
        assert!(
            (got.psnr - want.psnr).abs() <= 0.01,
            "{}: PSNR {} vs {}",
            e.name,
            got.psnr,
            want.psnr
        );
        assert!(
            (got.ssim - want.ssim).abs() <= 1e-4,
            "{}: SSIM {} vs {}",
            e.name,
            got.ssim,
            want.ssim
        );
        assert!(
            (got.colour.delta_e - want.colour.delta_e).abs() <= 0.01,
            "{}: dE00 {} vs {}",
            e.name,
            got.colour.delta_e,
            want.colour.delta_e
        );
        // No shipped codec drains the colours: trained on 1 - SSIM alone, a hyperprior
        // codec turned a test photo almost grey (ΔE00 17.2); the worst shipped is 6.36.
        assert!(
            e.kind != Kind::Codec || got.colour.delta_e < 7.0,
            "{}: dE00 {}",
            e.name,
            got.colour.delta_e
        );
        eprintln!(
            "{}: {:.4} bpp, {:.2} dB, SSIM {:.4}, dE00 {:.2} on {} images",
            e.name,
            got.bpp,
            got.psnr,
            got.ssim,
            got.colour.delta_e,
            sample.len()
        );
    }
}

/// A paper model (no entropy model) ships too: kind from the model, no tables or fingerprint,
/// figures of its float32 latents; a study whose member is that very experiment evaluates the
/// shipped weights instead of training, `--retrain` trains, and another experiment is not
/// mistaken for it.
#[test]
fn a_study_finds_its_shipped_members_finished() {
    let dir = common::tiny_project(6);
    let root = dir.path();
    let zoo = root.join("zoo");
    common::write_photos(&root.join("test"), 4, 32, 32);
    std::fs::write(
        root.join("s.toml"),
        "name = \"s\"\nexperiments = [\"tiny.toml\"]\n\n[eval]\nimages = \"test\"\n",
    )
    .unwrap();
    let trained = ok(&["study", "s.toml", "--checkpoints", "ck"], root, &zoo);
    let row = |report: &str| {
        report
            .lines()
            .find(|l| l.starts_with("| 2 | niclab |"))
            .map(|l| l.split('|').skip(3).take(3).collect::<Vec<_>>().join("|"))
            .unwrap_or_else(|| panic!("no row in {report}"))
    };

    let add_paper = |extra: &[&str]| {
        let mut args = vec![
            "models",
            "add",
            "ck/s/tiny",
            "--description",
            "d",
            "--command",
            "niclab study s.toml",
            "--commit",
            "0",
            "--images",
            "test",
        ];
        args.extend_from_slice(extra);
        niclab(&args, root, &zoo)
    };
    // A codec kind for a paper model is refused; the kind is the model's.
    let (code, _, err) = add_paper(&["--kind", "codec"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("paper model") && err.contains("entropy"),
        "{err}"
    );
    let (code, added, err) = add_paper(&["--name", "tiny-paper"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        added.contains("(paper)") && !added.contains("fingerprint"),
        "{added}"
    );
    let z = Zoo::load(&zoo).unwrap();
    let e = z.find("tiny-paper").unwrap();
    assert_eq!((e.kind, e.fingerprint.as_deref()), (Kind::Paper, None));
    assert!(e.tables_sha256.is_none() && !zoo.join("tiny-paper/model.tables.json").exists());
    assert_eq!(z.default, None, "a paper model is no compress default");
    assert!(
        e.trained.seconds.is_some_and(|t| t > 0.0),
        "{:?}",
        e.trained
    );
    // One halving, 3 latent channels: a float32 latent of 3 x 16 x 16 per 32x32 image.
    assert!((e.test.scores.bpp - 3.0 * 256.0 * 32.0 / 1024.0).abs() < 1e-9);
    ok(&["models", "verify"], root, &zoo);
    let (code, _, err) = niclab(
        &[
            "compress",
            "--model",
            "tiny-paper",
            "test/photo00.png",
            "x.nic",
        ],
        root,
        &zoo,
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("tiny-paper") && err.contains("entropy model"),
        "{err}"
    );
    assert!(!root.join("x.nic").exists());
    assert!(!zoo.join("tiny-paper/model.tables.json").exists());

    // A fresh checkout: no checkpoints; the study evaluates the shipped model, same figures.
    std::fs::remove_dir_all(root.join("runs")).unwrap();
    let (code, out, err) = niclab(&["study", "s.toml", "--checkpoints", "fresh"], root, &zoo);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("shipped as model tiny-paper"), "{err}");
    assert!(!root.join("fresh/s/tiny").exists(), "it trained");
    assert_eq!(row(&out), row(&trained));
    // --retrain trains it.
    let (code, _, err) = niclab(
        &["study", "s.toml", "--checkpoints", "fresh", "--retrain"],
        root,
        &zoo,
    );
    assert_eq!(code, 0, "{err}");
    assert!(root.join("fresh/s/tiny/last.ckpt").is_file());
    // Another experiment (one more step) is not the shipped one.
    let (code, _, err) = niclab(
        &[
            "study",
            "s.toml",
            "--checkpoints",
            "other",
            "--set",
            "train.steps=7",
        ],
        root,
        &zoo,
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("shipped as"), "{err}");
    assert!(root.join("other/s/tiny/last.ckpt").is_file());

    // An edited shipped experiment file is an error naming it, not another experiment that
    // trains without a word; restored, the study finds the member again.
    let exp = zoo.join("tiny-paper/experiment.toml");
    let text = std::fs::read_to_string(&exp).unwrap();
    std::fs::write(&exp, text.replace("steps = 6", "steps = 7")).unwrap();
    for args in [
        &["models", "verify"][..],
        &["study", "s.toml", "--checkpoints", "edited"],
    ] {
        let (code, _, err) = niclab(args, root, &zoo);
        assert_eq!(code, 1, "{args:?}");
        assert!(
            err.contains("SHA-256") && err.contains("experiment.toml"),
            "{err}"
        );
    }
    assert!(!root.join("edited/s/tiny").exists());
    std::fs::write(&exp, text).unwrap();
    ok(&["models", "verify"], root, &zoo);

    // A damaged shipped file is an error naming it, not a silent retraining.
    let ckpt = zoo.join("tiny-paper/model.ckpt");
    let mut bytes = std::fs::read(&ckpt).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&ckpt, &bytes).unwrap();
    let (code, _, err) = niclab(&["study", "s.toml", "--checkpoints", "third"], root, &zoo);
    assert_eq!(code, 1);
    assert!(
        err.contains("SHA-256") && err.contains("model.ckpt"),
        "{err}"
    );
    assert!(!root.join("third/s/tiny").exists());
}

/// Every photo of test-photos compressed with each shipped hyperprior model on libtorch
/// decodes on flex to the latent the encoder meant, symbol for symbol, and the reverse
/// (issue 18): the Gaussian table of each value is chosen by niclab's scalar hyper-synthesis
/// on both sides, never by a backend's convolutions. The crops of test-1000 are dealt out
/// among the models (with n models, model k takes crops k, k + n, ...), so every crop is
/// coded by one of them at the cost of one model; the photos, which hold most of the latent
/// values, go two to a model, model k taking photos 2k and 2k + 1 (modulo their number), so
/// each model codes whole photos and every photo is coded by several models (all 24 photos
/// through every model took 1472 s for this file with 29 models, most of `make test`; with
/// 81 models two a model took it to 1144 s, with 77 four 1165 s on a faster day). A model
/// whose decoder alone was trained (`train.trainable = "decoder"`) codes with its parent's
/// encoder and entropy model, weights the same bit for bit (`tests/train.rs`), so its files
/// are its parent's and are not coded again.
#[test]
fn shipped_hyperprior_files_decode_alike_on_both_backends() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let zoo = Zoo::load(&dir).unwrap();
    let checkpoints = Path::new("checkpoints");
    let hyper: Vec<_> = zoo
        .models
        .iter()
        .filter(|e| {
            let source = ModelSource::resolve(&e.checkpoint(&dir), checkpoints).unwrap();
            let exp = source.experiment();
            exp.model.entropy == Entropy::Hyperprior && exp.train.trainable == Trainable::All
        })
        .collect();
    assert!(!hyper.is_empty(), "no hyperprior model is shipped");
    const PHOTOS_PER_MODEL: usize = 2;
    for (set, deal_crops) in [
        ("datasets/test-1000", true),
        ("datasets/test-photos", false),
    ] {
        let (names, all) = niclab::eval::load_images(Path::new(set)).unwrap();
        let mut coded = vec![false; all.len()];
        for (k, e) in hyper.iter().enumerate() {
            let picks: Vec<usize> = if deal_crops {
                (k..all.len()).step_by(hyper.len()).collect()
            } else {
                (0..PHOTOS_PER_MODEL)
                    .map(|i| (k * PHOTOS_PER_MODEL + i) % all.len())
                    .collect()
            };
            let images: Vec<_> = picks.iter().map(|&i| all[i].clone()).collect();
            for &i in &picks {
                coded[i] = true;
            }
            let indexes = common::codec::same_latents_on_both_backends(
                &e.checkpoint(&dir),
                checkpoints,
                &images,
            );
            let values: usize = indexes.values().sum();
            eprintln!(
                "{}, {set}: {} files each way, {values} latent values (flex's files) under {} of \
                 the 64 scales",
                e.name,
                images.len(),
                indexes.len()
            );
            // The predicted scales spread over the table, so a flipped index would show.
            assert!(indexes.len() >= 16, "{}: scales used {indexes:?}", e.name);
        }
        let missed: Vec<_> = names.iter().zip(&coded).filter(|(_, c)| !**c).collect();
        assert!(missed.is_empty(), "{set}: coded by no model: {missed:?}");
    }
}

/// Bytes of each photo compressed with `model` whole and as the 128x128 tiles it cuts
/// into, each tile its own file.
fn whole_and_tiled_bytes(model: &str, photos: &[image::RgbImage]) -> Vec<(usize, usize)> {
    use niclab::codec::files::{Session, batches, compress_batch};
    use niclab::cpu_encoder::ImageEncoder;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let zoo = Zoo::load(&dir).unwrap();
    let entry = zoo.find(model).unwrap();
    let s = Session::open(
        &entry.checkpoint(&dir),
        Path::new("checkpoints"),
        Some(niclab::config::Backend::Flex),
        None,
    )
    .unwrap();
    let encoder = ImageEncoder::new(&s.model, &s.device).unwrap();
    let bytes = |images: &[image::RgbImage]| -> usize {
        batches(images, 32, |i| i.dimensions())
            .into_iter()
            .map(|chunk| {
                let refs: Vec<_> = chunk.iter().collect();
                let (files, _) = compress_batch(&encoder, &s.coder, &refs, &s.device).unwrap();
                files.iter().map(Vec::len).sum::<usize>()
            })
            .sum()
    };
    photos
        .iter()
        .map(|photo| {
            let (w, h) = photo.dimensions();
            let tiles: Vec<_> = (0..h / 128)
                .flat_map(|y| (0..w / 128).map(move |x| (x * 128, y * 128)))
                .map(|(x, y)| image::imageops::crop_imm(photo, x, y, 128, 128).to_image())
                .collect();
            (bytes(std::slice::from_ref(photo)), bytes(&tiles))
        })
        .collect()
}

/// The second hyperprior recipe's point (issue 18): trained on 128x128 crops only, the
/// hyper-latent is 2 x 2, all border, and the first recipe's model codes a whole photo in
/// about twice the bytes of its 128x128 tiles; closing on 256x256 crops, the second's codes
/// it whole in fewer bytes than its tiles (headers included), as a codec should.
#[test]
fn hyperprior_codecs_code_a_whole_photo_in_fewer_bytes_than_its_tiles() {
    let (_, photos) = niclab::eval::load_images(Path::new("datasets/test-photos")).unwrap();
    let photos = &photos[..2];
    assert!(photos.iter().all(|p| p.dimensions() == (768, 512)));
    let first = whole_and_tiled_bytes("hyperprior-mse-0.002", photos);
    let second = whole_and_tiled_bytes("hyperprior2-mse-0.002", photos);
    for ((old_whole, old_tiles), (whole, tiles)) in first.into_iter().zip(second) {
        eprintln!(
            "first recipe {old_whole} B whole, {old_tiles} B in tiles; second {whole} B, \
             {tiles} B"
        );
        assert!(
            old_whole * 10 > old_tiles * 15,
            "{old_whole} vs {old_tiles}"
        );
        assert!(whole < tiles, "{whole} B whole vs {tiles} B in 24 tiles");
    }
}

/// Asserts that each `(new, old)` shipped pair's test-1000 figures (which
/// `shipped_models_reproduce_their_figures` reproduces) have the new model ahead: a PSNR
/// higher by more than `db`, a higher SSIM and a lower ΔE00, for at most `bits` times the
/// old model's bits.
fn assert_ahead(pairs: &[(&str, &str)], db: f64, bits: f64) -> Zoo {
    let zoo = shipped_zoo();
    for &(new, old) in pairs {
        let (n, o) = (scores(&zoo, new), scores(&zoo, old));
        eprintln!(
            "{new}: {:.4} bpp {:.2} dB; {old}: {:.4} bpp {:.2} dB",
            n.bpp, n.psnr, o.bpp, o.psnr
        );
        assert!(
            n.bpp <= o.bpp * bits,
            "{new} vs {old}: bpp {} vs {}",
            n.bpp,
            o.bpp
        );
        assert!(
            n.psnr > o.psnr + db,
            "{new} vs {old}: PSNR {} vs {}",
            n.psnr,
            o.psnr
        );
        assert!(
            n.ssim > o.ssim,
            "{new} vs {old}: SSIM {} vs {}",
            n.ssim,
            o.ssim
        );
        assert!(
            n.colour.delta_e < o.colour.delta_e,
            "{new} vs {old}: dE00 {} vs {}",
            n.colour.delta_e,
            o.colour.delta_e
        );
    }
    zoo
}

/// The fourth recipe (the third continued with a warm restart) is shipped because it beats
/// its parents: at λ 0.002 and 0.0005 it codes test-1000 at a higher PSNR (by 0.2 dB or
/// more) and SSIM and a lower ΔE00 for at most 6 % more bits (λ 0.001 gains on the photos,
/// on the crops it sits on its parent's curve), and its λ 0.002 is ahead of the MS-SSIM
/// decoder that was the default before it.
#[test]
fn the_fourth_recipe_beats_the_models_it_continues() {
    assert_ahead(
        &[
            ("hyperprior7-mse-0.002", "hyperprior3-mse-0.002"),
            ("hyperprior7-mse-0.0005", "hyperprior3-mse-0.0005"),
            ("hyperprior7-mse-0.002", "hyperprior3-msssim-dec-0.002"),
        ],
        0.2,
        1.06,
    );
}

/// The fifth recipe (each model fine-tuned on the codec's own objective, both latents rounded
/// straight through) is shipped because each of its four beats the model it started from on
/// test-1000: more than 0.25 dB (0.30-2.41 measured), a higher SSIM, a lower ΔE00, in at most
/// 95 % of the bits (87-94 %).
#[test]
fn the_fifth_recipe_beats_the_models_it_fine_tunes() {
    assert_ahead(
        &[
            ("hyperprior8-mse-0.008", "hyperprior3-mse-0.008"),
            ("hyperprior8-mse-0.002", "hyperprior7-mse-0.002"),
            ("hyperprior8-mse-0.001", "hyperprior7-mse-0.001"),
            ("hyperprior8-mse-0.0005", "hyperprior7-mse-0.0005"),
        ],
        0.25,
        0.95,
    );
}

/// The fifth recipe's second round (each MSE model continued 3500 steps on the same
/// objective from a warm restart) is shipped because each of its four is ahead of the model
/// it continues on test-1000: more than 0.15 dB (0.22-0.62 measured), a higher SSIM, a lower
/// ΔE00, in at most 101 % of the bits (100.0-100.7 %); and its λ 0.002 is the default.
#[test]
fn the_second_round_beats_the_fifth_recipe() {
    let zoo = assert_ahead(
        &[
            ("hyperprior9-mse-0.008", "hyperprior8-mse-0.008"),
            ("hyperprior9-mse-0.002", "hyperprior8-mse-0.002"),
            ("hyperprior9-mse-0.001", "hyperprior8-mse-0.001"),
            ("hyperprior9-mse-0.0005", "hyperprior8-mse-0.0005"),
        ],
        0.15,
        1.01,
    );
    assert_eq!(zoo.default.as_deref(), Some("hyperprior9-mse-0.002"));
}

/// The fifth recipe's MS-SSIM set (every weight fine-tuned from the fifth MSE set on the
/// codec's objective with D = (1 - MS-SSIM) + ΔE*ab / 400) replaces the third recipe's MS-SSIM
/// decoders as the MS-SSIM set: each is ahead of the decoder at its rate on test-1000, by
/// more than 0.4 dB (0.45-2.14 measured), a higher SSIM and a lower ΔE00, in at most 96 % of
/// its bits (82-95 %).
#[test]
fn the_fifth_recipes_ms_ssim_set_beats_the_ms_ssim_decoders() {
    assert_ahead(
        &[
            ("hyperprior8-msssim-0.42", "hyperprior3-msssim-dec-0.008"),
            ("hyperprior8-msssim-0.22", "hyperprior3-msssim-dec-0.002"),
            ("hyperprior8-msssim-0.115", "hyperprior3-msssim-dec-0.001"),
            ("hyperprior8-msssim-0.06", "hyperprior3-msssim-dec-0.0005"),
        ],
        0.4,
        0.96,
    );
}

/// The MS-SSIM set's second round (each of the fifth recipe's MS-SSIM models continued 2000
/// steps on the same objective) is shipped because, as a set, it needs fewer bits than the
/// first round's for the same quality on test-1000 (niclab's BD-rate, checked against scipy's
/// PCHIP by `benches/bd_sets.py`): at equal SSIM -4.0 % measured, at equal ΔE00 -2.7 %, at
/// equal PSNR -1.0 %; one model alone may trade a little PSNR for bits (λ 0.22: -0.08 dB in
/// 97 % of the bits). On the photos the gain at equal MS-SSIM is -6.2 % (README).
#[test]
fn the_ms_ssim_sets_second_round_beats_its_first() {
    assert_set_ahead(
        ("hyperprior9-msssim", "hyperprior8-msssim"),
        MS_SSIM_SET,
        [-3.0, -2.0, -0.5],
    );
}

/// The MSE set's third round (each second-round model continued 3500 steps with the stretched
/// output, "Clamped output" in the README) is shipped because each of its four is ahead of
/// the model it continues on test-1000 (more than 0.1 dB: 0.16-0.48 measured; a higher SSIM,
/// a lower ΔE00, in at most 102 % of the bits: 101.2-101.6 %), and as a set it needs fewer
/// bits for the same quality (niclab's BD-rate; scipy's PCHIP via `benches/bd_sets.py --zoo`:
/// -3.2 % at equal PSNR, -5.0 % SSIM, -4.2 % ΔE00). On the photos: -8.2 % at equal PSNR.
#[test]
fn the_mse_sets_third_round_beats_its_second() {
    assert_round_ahead(
        ("hyperprior10-mse", "hyperprior9-mse"),
        MSE_SET,
        (0.1, 1.02),
        [-4.0, -3.0, -2.0],
    );
}

/// The MS-SSIM set's third round (each second-round MS-SSIM model continued 2000 steps with
/// the stretched output, "The MS-SSIM set's third round" in the README) is shipped because
/// each of its four is ahead of the model it continues on test-1000 (more than 0.05 dB:
/// 0.08-0.23 measured; a higher SSIM, a lower ΔE00, in fewer bits: 97.3-99.8 %), and as a set
/// it needs fewer bits for the same quality (niclab's BD-rate; scipy's PCHIP via
/// `benches/bd_sets.py --zoo`: -6.2 % at equal SSIM, -3.8 % ΔE00, -4.0 % PSNR). On the
/// photos: -4.4 % at equal MS-SSIM.
#[test]
fn the_ms_ssim_sets_third_round_beats_its_second() {
    assert_round_ahead(
        ("hyperprior10-msssim", "hyperprior9-msssim"),
        MS_SSIM_SET,
        (0.05, 1.0),
        [-5.0, -3.0, -3.0],
    );
}

/// The MSE set's fourth round (each third-round model continued 3500 steps with the same
/// recipe, "The MSE set's fourth round" in the README) is shipped because each of its four
/// is ahead of the model it continues on test-1000 (more than 0.15 dB: 0.20-0.34 measured; a
/// higher SSIM, a lower ΔE00, in at most 102.5 % of the bits: 100.2-101.9 %), and as a set it
/// needs fewer bits for the same quality (niclab's BD-rate; scipy's PCHIP via
/// `benches/bd_sets.py --zoo`: -4.6 % at equal SSIM, -5.7 % ΔE00, -7.4 % PSNR). On the photos:
/// -5.3 % at equal PSNR.
#[test]
fn the_mse_sets_fourth_round_beats_its_third() {
    assert_round_ahead(
        ("hyperprior11-mse", "hyperprior10-mse"),
        MSE_SET,
        (0.15, 1.025),
        [-3.5, -4.5, -6.0],
    );
}

/// The MS-SSIM set's fourth round (each third-round MS-SSIM model continued 2000 steps with
/// the same recipe, "The MS-SSIM set's fourth round" in the README) is shipped because as a
/// set it needs fewer bits for the same quality on test-1000 (niclab's BD-rate; scipy's PCHIP
/// via `benches/bd_sets.py --zoo`: -2.9 % at equal SSIM, -2.3 % ΔE00, -1.7 % PSNR) and each of
/// its four has a higher SSIM and a lower ΔE00 than the model it continues in at most 101 % of
/// its bits (97.8-100.5 % measured), its PSNR within 0.01 dB or above (-0.002 to +0.064 dB:
/// this round trades in bits, not dB).
#[test]
fn the_ms_ssim_sets_fourth_round_beats_its_third() {
    assert_round_ahead(
        ("hyperprior11-msssim", "hyperprior10-msssim"),
        MS_SSIM_SET,
        (-0.01, 1.01),
        [-2.5, -2.0, -1.2],
    );
}

/// The MSE set's fifth round (each fourth-round model continued 3500 steps with the same
/// recipe, "The MSE set's fifth round" in the README) is shipped because each of its four is
/// ahead of the model it continues on test-1000 (more than 0.15 dB: 0.19-0.22 measured; a
/// higher SSIM, a lower ΔE00, in at most 102 % of the bits: 100.4-101.7 %), and as a set it
/// needs fewer bits for the same quality (niclab's BD-rate; scipy's PCHIP via
/// `benches/bd_sets.py --zoo`: -4.0 % at equal SSIM, -4.2 % ΔE00, -4.7 % PSNR). On the
/// photos: -4.3 % at equal PSNR.
#[test]
fn the_mse_sets_fifth_round_beats_its_fourth() {
    assert_round_ahead(
        ("hyperprior12-mse", "hyperprior11-mse"),
        MSE_SET,
        (0.15, 1.02),
        [-3.0, -3.2, -3.7],
    );
}

/// The MS-SSIM set's fifth round (each fourth-round MS-SSIM model continued 2000 steps with
/// the same recipe, "The MS-SSIM set's fifth round" in the README) is shipped because as a set
/// it needs fewer bits for the same quality on test-1000 (niclab's BD-rate; scipy's PCHIP via
/// `benches/bd_sets.py --zoo`: -3.0 % at equal SSIM, -2.2 % ΔE00, -1.5 % PSNR) and each of its
/// four has a higher SSIM and a lower ΔE00 than the model it continues in no more of its bits
/// (98.5-99.7 % measured), its PSNR within 0.02 dB or above (-0.012 to +0.117 dB). On the
/// photos: -2.6 % at equal MS-SSIM, the first unrefined set under WebP there (-1.2 %).
#[test]
fn the_ms_ssim_sets_fifth_round_beats_its_fourth() {
    assert_round_ahead(
        ("hyperprior12-msssim", "hyperprior11-msssim"),
        MS_SSIM_SET,
        (-0.02, 1.0),
        [-2.5, -1.8, -1.0],
    );
}

/// The MSE set's sixth round (each fifth-round model continued 3500 steps with the same
/// recipe, "The MSE set's sixth round" in the README) is shipped because each of its four is
/// ahead of the model it continues on test-1000 (more than 0.15 dB: 0.16-0.21 measured; a
/// higher SSIM, a lower ΔE00, in at most 102 % of the bits: 100.2-101.4 %), and as a set it
/// needs fewer bits for the same quality (niclab's BD-rate; scipy's PCHIP via
/// `benches/bd_sets.py --zoo`: -3.9 % at equal SSIM, -3.9 % ΔE00, -4.7 % PSNR). On the
/// photos: -4.7 % at equal PSNR.
#[test]
fn the_mse_sets_sixth_round_beats_its_fifth() {
    assert_round_ahead(
        ("hyperprior13-mse", "hyperprior12-mse"),
        MSE_SET,
        (0.15, 1.02),
        [-3.0, -3.2, -3.7],
    );
}

/// The colour set (each of the MSE set's sixth-round models continued 3500 steps with the
/// colour term beside the MSE, D = MSE + ΔE*ab / 5000; "Colour beside MSE" in the README) is
/// shipped because at equal ΔE00 it needs far fewer bits than the set it continues on
/// test-1000 (niclab's BD-rate; scipy's PCHIP via `benches/bd_sets.py --zoo`: -14.0 %, where
/// a round without the colour term gained -3.9 %), and fewer at equal PSNR (-4.9 %), for at
/// most 1.5 % more bits at equal SSIM (+1.0 % measured). Each model spends 6-10 % more bits
/// than its parent, so the per-model check of the rounds does not apply. On the photos:
/// -12.6 % at equal ΔE00, WebP's lead there +54.2 % -> +35.4 %.
#[test]
fn the_colour_set_beats_the_mse_sets_sixth_round_in_colour() {
    assert_set_ahead(
        ("hyperprior14-msecolour", "hyperprior13-mse"),
        MSE_SET,
        [1.5, -12.0, -4.0],
    );
}

/// The colour set's second round (each of its models continued 3500 steps with its recipe
/// unchanged, "The colour set's second round" in the README) is shipped because each of its
/// four is ahead of the model it continues on test-1000 (more than 0.15 dB: 0.18-0.24
/// measured; a higher SSIM, a lower ΔE00, in at most 103 % of the bits: 101.0-102.8 %), and
/// as a set it needs fewer bits for the same quality (niclab's BD-rate; scipy's PCHIP via
/// `benches/bd_sets.py --zoo`: -2.1 % at equal SSIM, -5.5 % ΔE00, -3.4 % PSNR).
#[test]
fn the_colour_sets_second_round_beats_its_first() {
    assert_round_ahead(
        ("hyperprior15-msecolour", "hyperprior14-msecolour"),
        MSE_SET,
        (0.15, 1.03),
        [-1.5, -4.5, -2.5],
    );
}

/// The colour set's third round (each of its second-round models continued 3500 steps at
/// twice the peak learning rate, "The colour set's third round" in the README) is shipped
/// because each of its four is ahead of the model it continues on test-1000 (more than 0.1
/// dB: 0.13-0.25 measured; a higher SSIM, a lower ΔE00, in at most 102 % of the bits:
/// 100.9-101.5 %), and as a set it needs fewer bits for the same quality (niclab's BD-rate;
/// scipy's PCHIP via `benches/bd_sets.py --zoo`: -2.8 % at equal SSIM, -4.7 % ΔE00, -2.9 %
/// PSNR).
#[test]
fn the_colour_sets_third_round_beats_its_second() {
    assert_round_ahead(
        ("hyperprior17-msecolour", "hyperprior15-msecolour"),
        MSE_SET,
        (0.1, 1.02),
        [-2.0, -4.0, -2.0],
    );
}

/// The colour set's fourth round (each of its third-round models continued 3500 steps with
/// the third round's recipe, "The colour set's fourth round" in the README) is shipped
/// because each of its four is ahead of the model it continues on test-1000 (more than 0.1
/// dB: 0.11-0.23 measured; a higher SSIM, a lower ΔE00, in at most 101 % of the bits:
/// 100.5-100.7 %), and as a set it needs fewer bits for the same quality (niclab's BD-rate;
/// scipy's PCHIP via `benches/bd_sets.py --zoo`: -4.5 % at equal SSIM, -6.1 % ΔE00, -5.8 %
/// PSNR).
#[test]
fn the_colour_sets_fourth_round_beats_its_third() {
    assert_round_ahead(
        ("hyperprior18-msecolour", "hyperprior17-msecolour"),
        MSE_SET,
        (0.1, 1.01),
        [-3.5, -5.0, -4.5],
    );
}

/// The colour set's fifth round (each of its fourth-round models continued 3500 steps with
/// the third round's recipe, "The colour set's fifth round" in the README) is shipped
/// because each of its four is ahead of the model it continues on test-1000 (more than 0.1
/// dB: 0.15-0.19 measured; a higher SSIM, a lower ΔE00, in at most 101 % of the bits:
/// 99.9-100.8 %), and as a set it needs fewer bits for the same quality (niclab's BD-rate;
/// scipy's PCHIP via `benches/bd_sets.py --zoo`: -3.7 % at equal SSIM, -4.6 % ΔE00, -4.2 %
/// PSNR).
#[test]
fn the_colour_sets_fifth_round_beats_its_fourth() {
    assert_round_ahead(
        ("hyperprior19-msecolour", "hyperprior18-msecolour"),
        MSE_SET,
        (0.1, 1.01),
        [-3.0, -4.0, -3.5],
    );
}

/// The colour set's sixth round (each of its fifth-round models continued 3500 steps with the
/// third round's recipe, "The colour set's sixth round" in the README) is shipped because
/// each of its four is ahead of the model it continues on test-1000 (more than 0.1 dB:
/// 0.13-0.22 measured; a higher SSIM, a lower ΔE00, in at most 101 % of the bits:
/// 99.8-100.3 %), and as a set it needs fewer bits for the same quality (niclab's BD-rate;
/// scipy's PCHIP via `benches/bd_sets.py --zoo`: -3.3 % at equal SSIM, -4.9 % ΔE00, -4.5 %
/// PSNR).
#[test]
fn the_colour_sets_sixth_round_beats_its_fifth() {
    assert_round_ahead(
        ("hyperprior20-msecolour", "hyperprior19-msecolour"),
        MSE_SET,
        (0.1, 1.01),
        [-2.5, -4.0, -3.5],
    );
}

/// The colour set's fifth λ (hyperprior20-msecolour-0.002 continued 3500 steps at λ 0.004,
/// "A fifth λ between 0.008 and 0.002" in the README) is shipped to check the sixth round's
/// curve where it had no file: on test-1000 it lies between λ 0.008 and 0.002 in bits, its
/// PSNR and SSIM on the curve through the four at its bits (PCHIP over log-rate; within 0.05
/// dB and 0.002: -0.005 dB and -0.0007 measured, scipy's the same), its ΔE00 more than 0.01
/// below it (0.026).
#[test]
fn the_colour_sets_fifth_lambda_lies_on_its_curve() {
    let zoo = shipped_zoo();
    let new = scores(&zoo, "hyperprior21-msecolour-0.004");
    let set: Vec<_> = MSE_SET
        .iter()
        .map(|l| scores(&zoo, &format!("hyperprior20-msecolour-{l}")))
        .collect();
    assert!(
        set[0].bpp < new.bpp && new.bpp < set[1].bpp,
        "{} bpp",
        new.bpp
    );
    let metrics: [(&str, Quality, f64); 3] = [
        ("PSNR", |s| s.psnr, -0.05),
        ("SSIM", |s| s.ssim, -0.002),
        ("ΔE00", |s| -s.colour.delta_e, 0.01),
    ];
    for (what, quality, above) in metrics {
        let curve: Vec<_> = set.iter().map(|s| (s.bpp, quality(s))).collect();
        let on = quality_at(&curve, new.bpp).unwrap();
        eprintln!(
            "{what} at {:.4} bpp: {:.4} vs {on:.4}",
            new.bpp,
            quality(new)
        );
        assert!(
            quality(new) - on > above,
            "{what}: {} vs {on}",
            quality(new)
        );
    }
}

/// The colour set's seventh round (each of its sixth-round models and its fifth λ continued
/// 3500 steps with the third round's recipe, "The colour set's seventh round" in the README)
/// is shipped because each of its four is ahead of the model it continues on test-1000 (more
/// than 0.1 dB: 0.12-0.17 measured; a higher SSIM, a lower ΔE00, in at most 101 % of the
/// bits: 99.7-100.3 %), as a set it needs fewer bits for the same quality (niclab's BD-rate;
/// scipy's PCHIP via `benches/bd_sets.py --zoo`: -4.0 % at equal SSIM, -5.1 % ΔE00, -4.5 %
/// PSNR), and its fifth λ spends fewer bits than the one it continues (98.0 %) for more
/// quality (more than 0.05 dB: 0.065; a higher SSIM, a lower ΔE00).
#[test]
fn the_colour_sets_seventh_round_beats_its_sixth() {
    assert_round_ahead(
        ("hyperprior22-msecolour", "hyperprior20-msecolour"),
        MSE_SET,
        (0.1, 1.01),
        [-3.0, -4.0, -3.5],
    );
    assert_ahead(
        &[(
            "hyperprior22-msecolour-0.004",
            "hyperprior21-msecolour-0.004",
        )],
        0.05,
        0.99,
    );
}

/// The colour set's eighth round (each of its seventh round's four at λ 0.008 ... 0.0005
/// continued 3500 steps with the third round's recipe, "The colour set's eighth round" in the
/// README) is shipped because each of its four is ahead of the model it continues on test-1000
/// (more than 0.07 dB: 0.09-0.13 measured; a higher SSIM, a lower ΔE00, in at most 101 % of the
/// bits: 99.5-100.1 %), and as a set it needs fewer bits for the same quality (niclab's BD-rate;
/// scipy's PCHIP via `benches/bd_sets.py --zoo`: -2.9 % at equal SSIM, -3.8 % ΔE00, -3.6 %
/// PSNR). An eighth round buys less than the seventh (-4.0, -5.1, -4.5 %), hence the margins.
#[test]
fn the_colour_sets_eighth_round_beats_its_seventh() {
    assert_round_ahead(
        ("hyperprior23-msecolour", "hyperprior22-msecolour"),
        MSE_SET,
        (0.07, 1.01),
        [-2.5, -3.0, -3.0],
    );
}

/// The λ of every round of the MSE set (hyperprior8-mse-* ... hyperprior13-mse-*) and of the
/// colour set (hyperprior14-msecolour-*, hyperprior15-msecolour-*, hyperprior17-msecolour-*,
/// hyperprior18-msecolour-* ... hyperprior20-msecolour-*, hyperprior22-msecolour-*,
/// hyperprior23-msecolour-*).
const MSE_SET: &[&str] = &["0.008", "0.002", "0.001", "0.0005"];
/// The λ of every round of the MS-SSIM set (hyperprior8-msssim-* ... hyperprior12-msssim-*).
const MS_SSIM_SET: &[&str] = &["0.42", "0.22", "0.115", "0.06"];

/// A later round of a set ahead of the round it continues: each `<new>-<λ>` ahead of
/// `<old>-<λ>` as [`assert_ahead`] checks it (with `db` and `bits`), and the set ahead
/// as [`assert_set_ahead`] checks it (`below`).
fn assert_round_ahead(
    (new, old): (&str, &str),
    lambdas: &[&str],
    (db, bits): (f64, f64),
    below: [f64; 3],
) {
    let names: Vec<(String, String)> = lambdas
        .iter()
        .map(|l| (format!("{new}-{l}"), format!("{old}-{l}")))
        .collect();
    let pairs: Vec<(&str, &str)> = names
        .iter()
        .map(|(n, o)| (n.as_str(), o.as_str()))
        .collect();
    assert_ahead(&pairs, db, bits);
    assert_set_ahead((new, old), lambdas, below);
}

/// A quality read off a model's figures (higher is better).
type Quality = fn(&niclab::rd::ModelScores) -> f64;

/// The zoo shipped in `models/`.
fn shipped_zoo() -> Zoo {
    Zoo::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models")).unwrap()
}

/// The test-1000 figures of the shipped model `name`.
fn scores<'a>(zoo: &'a Zoo, name: &str) -> &'a niclab::rd::ModelScores {
    &zoo.find(name)
        .unwrap_or_else(|| panic!("{name} is not in models/zoo.toml"))
        .test
        .scores
}

/// niclab's BD-rate over the zoo's test-1000 figures of the set `new` (`<new>-<λ>` for each
/// of `lambdas`) against the set `old`, below `below` per cent at equal SSIM, ΔE00 and PSNR.
fn assert_set_ahead((new, old): (&str, &str), lambdas: &[&str], below: [f64; 3]) {
    let zoo = shipped_zoo();
    let curve = |set: &str, quality: Quality| -> Vec<(f64, f64)> {
        lambdas
            .iter()
            .map(|l| scores(&zoo, &format!("{set}-{l}")))
            .map(|s| (s.bpp, quality(s)))
            .collect()
    };
    let metrics: [(&str, Quality); 3] = [
        ("SSIM", |s| s.ssim),
        ("ΔE00", |s| -s.colour.delta_e),
        ("PSNR", |s| s.psnr),
    ];
    for ((what, quality), below) in metrics.into_iter().zip(below) {
        let bd = bd_rate(&curve(old, quality), &curve(new, quality)).unwrap();
        eprintln!("{new} vs {old} at equal {what}: {bd:+.1} %");
        assert!(bd < below, "{new} at equal {what}: {bd:+.2} %");
    }
}

/// A `.nic` file written by niclab before format version 2 existed (commit 0764cfa, the
/// shipped λ = 0.008 codec, a real 128x128 crop) still decodes, its model found from its
/// fingerprint, to the crop at that model's quality; and today's niclab still writes
/// version 1 for that model.
#[test]
fn a_file_of_the_previous_format_still_decodes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let zoo = root.join("models");
    let dir = tempfile::tempdir().unwrap();
    let old = root.join("tests/fixtures/nic/kite-v1-codec-lambda-0.008.nic");
    let crop = root.join("tests/fixtures/quality/Kite_x0640_y0512.png");
    let back = dir.path().join("back.png");
    ok(
        &["decompress", old.to_str().unwrap(), back.to_str().unwrap()],
        dir.path(),
        &zoo,
    );
    let original = image::open(&crop).unwrap().to_rgb8();
    let decoded = image::open(&back).unwrap().to_rgb8();
    let psnr = niclab::metrics::psnr(&original, &decoded).unwrap();
    // 29.96 dB when the file was made (scikit-image's PSNR); a misread file is noise.
    assert!((psnr - 29.96).abs() < 0.05, "{psnr} dB");
    let again = dir.path().join("again.nic");
    ok(
        &[
            "compress",
            "--model",
            "codec-lambda-0.008",
            crop.to_str().unwrap(),
            again.to_str().unwrap(),
        ],
        dir.path(),
        &zoo,
    );
    let (a, b) = (std::fs::read(&old).unwrap(), std::fs::read(&again).unwrap());
    assert_eq!((a[4], b[4]), (1, 1), "format versions");
    assert_eq!(a[..34], b[..34], "headers up to the payload length");
}

/// `--refine` (issue 18): refining the shipped hyperprior3-mse-0.002's latents lowers its
/// own objective, MSE + λ bpp, measured on the real files (whole bytes, decoded by the
/// coder and rounded to 8 bits) of the four real 128x128 test crops; and the refined files
/// still decode to exactly the latents the coder coded.
#[test]
fn refined_latents_lower_the_models_objective_on_real_files() {
    use niclab::codec::files::{Session, compress_batch, decompress_batch};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let zoo = Zoo::load(&dir).unwrap();
    let entry = zoo.find("hyperprior3-mse-0.002").unwrap();
    let mut s = Session::open(
        &entry.checkpoint(&dir),
        Path::new("checkpoints"),
        None,
        None,
    )
    .unwrap();
    let crops: Vec<image::RgbImage> = common::quality_crops()
        .iter()
        .map(|p| image::open(p).unwrap().to_rgb8())
        .collect();
    let refs: Vec<_> = crops.iter().collect();
    let lambda = s.loss.rate;
    let mut objective = |steps: u32| -> (f64, Vec<Vec<u8>>) {
        s.refine(steps, None).unwrap();
        let encoder = s.encoder().unwrap();
        let (files, _) = compress_batch(&encoder, &s.coder, &refs, &s.device).unwrap();
        let slices: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
        let decoded = decompress_batch(&s.model, &s.coder, &slices, &s.device).unwrap();
        let mut total = 0.0;
        for ((file, dec), orig) in files.iter().zip(&decoded).zip(&crops) {
            let pixels = f64::from(orig.width() * orig.height());
            let mse = orig
                .as_raw()
                .iter()
                .zip(dec.as_raw())
                .map(|(&a, &b)| ((f64::from(a) - f64::from(b)) / 255.0).powi(2))
                .sum::<f64>()
                / (3.0 * pixels);
            total += mse + lambda * 8.0 * file.len() as f64 / pixels;
        }
        (total, files)
    };
    let (plain, plain_files) = objective(0);
    let (refined, refined_files) = objective(20);
    eprintln!("MSE + λ bpp over the 4 crops: {plain:.6} plain, {refined:.6} refined");
    assert!(refined < plain * 0.97, "{plain} -> {refined}");
    assert_ne!(plain_files, refined_files);
}

/// `--refine`'s bad inputs: a step size of 0 and an image coded in tiles are refused with
/// a message naming the option, and no file is written.
#[test]
fn refine_refuses_a_zero_step_size_and_tiled_images() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let zoo = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    common::synthetic_photo(64, 64, 1)
        .save(root.join("small.png"))
        .unwrap();
    common::synthetic_photo(1024, 768, 2)
        .save(root.join("large.png"))
        .unwrap();
    for (args, says) in [
        (
            vec!["--refine", "3", "--refine-lr", "0", "small.png", "a.nic"],
            "learning rate",
        ),
        (vec!["--refine", "2", "large.png", "a.nic"], "--refine"),
    ] {
        let mut all = vec!["compress", "--model", "hyperprior3-mse-0.002"];
        all.extend(args);
        let (code, _, err) = niclab(&all, root, &zoo);
        assert_eq!(code, 1, "{all:?}: {err}");
        assert!(err.contains(says), "{all:?}: {err}");
        assert!(!root.join("a.nic").exists(), "{all:?} wrote a file");
    }
}

/// `--refine` flushes subnormal floats, as training does (their arithmetic made refining
/// 4.5x slower on an Intel Xeon), and says so; the file it writes decodes in a process that
/// keeps IEEE floats, as any other.
#[test]
fn refining_flushes_subnormals_and_its_files_decode() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let zoo = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    common::synthetic_photo(64, 64, 3)
        .save(root.join("small.png"))
        .unwrap();
    let compress = |args: &[&str]| {
        let all = [&["compress", "--model", "hyperprior9-mse-0.002"], args].concat();
        niclab(&all, root, &zoo)
    };
    let (code, out, err) = compress(&["--refine", "2", "small.png", "a.nic"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("latents refined 2 steps"), "{out}");
    let says = out.contains("subnormals flushed to zero");
    assert_eq!(says, cfg!(target_arch = "x86_64"), "{out}");
    let (code, out, err) = compress(&["--refine", "2", "--keep-subnormals", "small.png", "k.nic"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("refined 2 steps") && !out.contains("flushed"),
        "{out}"
    );
    let (code, out, err) = compress(&["small.png", "b.nic"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("refined") && !out.contains("flushed"),
        "{out}"
    );
    // Without --refine there is nothing to keep them for: refused, nothing written.
    let (code, _, err) = compress(&["--keep-subnormals", "small.png", "x.nic"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--refine"), "{err}");
    assert!(!root.join("x.nic").exists());
    for file in ["a.nic", "k.nic", "b.nic"] {
        let png = file.replace("nic", "png");
        let (code, _, err) = niclab(&["decompress", file, &png], root, &zoo);
        assert_eq!(code, 0, "{file}: {err}");
        let decoded = image::open(root.join(&png)).unwrap().to_rgb8();
        assert_eq!(decoded.dimensions(), (64, 64));
    }
}
