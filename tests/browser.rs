//! `niclab serve` in a real browser (headless Chromium over WebDriver): every view opened and
//! clicked as a person would, a run training while the page watches it, and no JavaScript
//! console error anywhere. Screenshots of each view land in `target/browser/`.

mod common;

use std::process::{Command, Stdio};

use common::server::{add_study, long_experiment, start, tree};
use common::webdriver::Browser;

/// The ids of the runs table's rows, top to bottom.
const RUN_IDS: &str =
    "return [...document.querySelectorAll('#runs tbody tr')].map((r) => r.dataset.run)";

#[test]
fn every_view_works_in_chromium() {
    let (dir, _outside) = tree();
    let s = start(dir.path(), &["--images", "test"]);
    let b = Browser::start();
    b.goto(&s.url);

    // Runs: the two readable runs, the unreadable one named in the error bar.
    b.wait(
        "the runs table",
        "return document.querySelectorAll('#runs tbody tr').length === 2",
    );
    assert_eq!(b.js(RUN_IDS), serde_json::json!(["s/member", "tiny"]));
    let error = b.js("return document.getElementById('error').textContent");
    assert!(
        error.as_str().unwrap().contains("broken")
            && error.as_str().unwrap().contains("config.toml"),
        "{error}"
    );
    // Sorting by a header and filtering by text.
    b.click("#runs th[data-key='id']");
    assert_eq!(b.js(RUN_IDS), serde_json::json!(["tiny", "s/member"]));
    b.type_into("#filter", "member");
    assert_eq!(b.js(RUN_IDS), serde_json::json!(["s/member"]));
    assert_eq!(
        b.js("return document.getElementById('count').textContent"),
        "1 of 2 runs"
    );
    b.js("const f = document.getElementById('filter'); f.value = ''; f.dispatchEvent(new Event('input'));");

    // Curves: ticking a run draws one chart per logged quantity, its points those of the CSV.
    b.click("#runs tr[data-run='tiny'] input");
    let titles = b.wait(
        "the curves of tiny",
        "const t = [...document.querySelectorAll('#charts .u-title')].map((e) => e.textContent);
         return t.length >= 4 ? t : null",
    );
    for want in ["training loss", "learning rate", "validation PSNR (dB)"] {
        assert!(
            titles.as_array().unwrap().iter().any(|t| t == want),
            "{want} not in {titles}"
        );
    }
    assert_eq!(
        b.js("return charts.get('train/loss').plot.data[0]"),
        serde_json::json!([1, 2, 3, 4, 5])
    );
    b.screenshot("runs");

    // Config: clicking a run's name shows its resolved experiment.
    b.click("#runs tr[data-run='tiny'] .config-link");
    let config = b.wait(
        "the config",
        "return document.getElementById('config-view').hidden ? null
              : document.getElementById('config').textContent",
    );
    assert!(
        config.as_str().unwrap().contains("name = \"tiny\""),
        "{config}"
    );
    b.js("document.getElementById('config-view').scrollIntoView()");
    b.screenshot("config");

    // Evaluations: the list, then one opened: the averages panel, three per-image charts and
    // a table of the three images, worst first in one click.
    b.wait(
        "the evaluations list",
        "return document.querySelectorAll('#evals tbody tr').length === 1",
    );
    b.click("#evals tbody tr");
    b.wait(
        "the evaluation",
        "return !document.getElementById('eval-detail').hidden
             && document.querySelectorAll('#per-image tbody tr').length === 3",
    );
    assert_eq!(
        b.js("return [...document.querySelectorAll('#averages td:first-child')].map((e) => e.textContent)"),
        serde_json::json!(["autoencoder", "jpeg q50"])
    );
    assert_eq!(
        b.js("return document.querySelectorAll('#eval-charts .uplot').length"),
        3
    );
    b.click("#worst");
    let ssim: Vec<f64> = serde_json::from_value(b.js(
        "return [...document.querySelectorAll('#per-image tbody tr')].map((r) => +r.children[2].textContent)",
    ))
    .unwrap();
    assert!(
        ssim.windows(2).all(|w| w[0] <= w[1]) && ssim.iter().all(|&x| x > 0.0),
        "{ssim:?}"
    );
    b.js("document.getElementById('eval-detail').scrollIntoView()");
    b.screenshot("evaluation");

    // The viewer, opened from the table: the original and the reconstruction of the worst
    // image with their figures; wheel zoom, pan and the split move both sides together.
    b.click("#per-image tbody tr:first-child td.image-link");
    b.wait(
        "the viewer",
        "return !document.getElementById('viewer').hidden
             && document.getElementById('v-right-img').naturalWidth === 32
             && document.getElementById('v-right-info').textContent.includes('bytes')",
    );
    assert_eq!(
        b.js("return [document.getElementById('v-left').value, document.getElementById('v-right').value]"),
        serde_json::json!(["original", "ae"])
    );
    let transforms = "return ['v-left-img', 'v-right-img'].map((i) => getComputedStyle(document.getElementById(i)).transform)";
    let fitted = b.js(transforms);
    b.wheel("#v-stage", (150, 40), -300);
    b.drag("#v-stage", (150, 40), (-60, 25));
    let moved = b.js(transforms);
    assert_eq!(moved[0], moved[1], "the two sides drifted apart");
    assert_ne!(moved[0], fitted[0], "wheel and drag changed nothing");
    assert_eq!(
        b.js("return document.getElementById('v-zoom').textContent"),
        format!(
            "{} %",
            (b.js("return view.s").as_f64().unwrap() * 100.0).round()
        )
    );
    b.drag("#v-split", (0, 0), (-200, 0));
    let split = b.js("return view.split").as_f64().unwrap();
    assert!(split < 0.5, "{split}");
    assert!(
        b.js("return document.getElementById('v-right-layer').style.clipPath")
            .as_str()
            .unwrap()
            .starts_with("inset(0px 0px 0px"),
    );
    // Keys: the next image, the sides swapped, the error map of the reconstruction.
    b.key("\u{E014}");
    b.wait(
        "the next image",
        "return document.getElementById('v-pos').textContent === '2 / 3'",
    );
    b.key("s");
    b.wait(
        "the sides swapped",
        "return document.getElementById('v-left').value === 'ae'",
    );
    b.key("s");
    b.key("e");
    let error = b.wait(
        "the error map",
        "const c = document.getElementById('v-err');
         if (c.hidden || c.width !== 32) return null;
         const d = c.getContext('2d').getImageData(0, 0, 32, 32).data;
         let sum = 0; for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
         return sum",
    );
    assert!(error.as_f64().unwrap() > 0.0, "an error map of nothing");
    b.screenshot("viewer");
    b.key("\u{E00C}");
    assert_eq!(
        b.js("return document.getElementById('viewer').hidden"),
        true
    );

    // Live: a run trained while the page is open appears, its curve grows and it ends
    // finished, with no reload (a mark left on the window survives).
    b.js("window.notReloaded = true; window.scrollTo(0, 0)");
    let toml = std::fs::read_to_string(dir.path().join("tiny.toml"))
        .unwrap()
        .replace("name = \"tiny\"", "name = \"live\"")
        .replace("steps = 5", "steps = 20000")
        .replace("checkpoint_every = 3", "checkpoint_every = 1000")
        .replace("val_every = 4", "val_every = 500");
    std::fs::write(dir.path().join("live.toml"), toml).unwrap();
    let mut train = Command::new(env!("CARGO_BIN_EXE_niclab"))
        .args(["train", "live.toml", "--set", "train.backend=flex"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    b.wait(
        "the live run's row",
        "return !!document.querySelector(\"#runs tr[data-run='live']\")",
    );
    b.click("#runs tr[data-run='live'] input");
    let last_step = "const c = charts.get('train/loss'); if (!c) return null;
        const i = c.plot.series.findIndex((s) => s.label === 'live');
        if (i < 0) return null;
        const ys = c.plot.data[i], xs = c.plot.data[0];
        let k = ys.length - 1; while (k >= 0 && ys[k] === null) k--;
        return k >= 0 ? xs[k] : null";
    let first = b.wait("the live run's curve", last_step).as_f64().unwrap();
    let later = b
        .wait(
            "the live run's curve to grow",
            &format!("const s = (() => {{ {last_step} }})(); return s > {first} ? s : null"),
        )
        .as_f64()
        .unwrap();
    assert!(train.wait().unwrap().success());
    b.wait(
        "the live run to finish",
        "const r = document.querySelector(\"#runs tr[data-run='live']\");
         return r && r.textContent.includes('finished') && r.textContent.includes('20000 / 20000')",
    );
    assert!(first < later && later <= 20000.0, "{first} {later}");
    assert_eq!(b.js("return window.notReloaded === true"), true);
    b.screenshot("live");

    let errors = b.console();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// Sets a form field's value as a person choosing it would (an input or change event).
fn choose(b: &Browser, id: &str, value: &str) {
    b.js(&format!(
        "const e = document.getElementById('{id}'); e.value = {value:?};
         e.dispatchEvent(new Event(e.tagName === 'SELECT' ? 'change' : 'input'));
         return e.value"
    ));
}

#[test]
fn the_compare_button_and_a_training_from_the_page() {
    let (dir, _outside) = tree();
    let root = dir.path();
    long_experiment(root, 100000, 100000);
    let s = start(root, &["--images", "test"]);
    let b = Browser::start();
    b.goto(&s.url);

    // The paper's button: a run, a folder, JPEG quality 50; the evaluation opens when done.
    b.wait(
        "the compare form",
        "return document.querySelectorAll('#cmp-images option').length === 1
             && document.querySelectorAll('#cmp-run option').length === 2",
    );
    choose(&b, "cmp-run", "tiny");
    assert_eq!(
        b.js("return document.getElementById('cmp-out').value"),
        "tiny-test"
    );
    choose(&b, "cmp-quality", "50");
    b.click("#cmp-run-button");
    b.wait(
        "the comparison's evaluation",
        "return !document.getElementById('eval-detail').hidden
             && document.getElementById('eval-id').textContent === 'tiny-test'
             && document.querySelectorAll('#per-image tbody tr').length === 3",
    );
    assert!(root.join("runs/tiny-test/eval/summary.json").is_file());
    assert_eq!(
        b.js("return document.querySelector('.job .state').textContent"),
        "finished"
    );
    b.js("document.getElementById('jobs-view').scrollIntoView()");
    b.screenshot("compare");

    // Try a codec: a chosen file through a shipped codec, opened in the viewer with JPEG at
    // the same bytes and the same SSIM, the .nic to download.
    let photo = root.join("test/photo02.png");
    b.type_into("#try-file", photo.to_str().unwrap());
    choose(&b, "try-model", "shipped:codec-lambda-0.008");
    b.click("#try-button");
    b.wait(
        "the trial in the viewer",
        "return !document.getElementById('viewer').hidden
             && document.getElementById('v-right').value === 'niclab'
             && document.getElementById('v-right-info').textContent.includes('bytes')
             && document.getElementById('v-left-img').naturalWidth === 32",
    );
    assert_eq!(
        b.js("return [...document.querySelectorAll('#v-right option')].map((o) => o.value)"),
        serde_json::json!(["original", "niclab", "jpeg-same-bytes", "jpeg-same-ssim"])
    );
    b.key("3");
    b.wait(
        "JPEG at niclab's bytes",
        "return document.getElementById('v-right-info').textContent.startsWith('jpeg-same-bytes (q')",
    );
    b.screenshot("try");
    b.key("\u{E00C}");
    assert_eq!(
        b.js("return [...document.querySelectorAll(\".job[data-job='2'] a[download]\")].map((a) => a.download)"),
        serde_json::json!(["niclab.nic", "niclab.png"])
    );

    // A training started from the page: its progress and its row appear, Stop saves a
    // checkpoint as Ctrl-C does.
    choose(&b, "launch-file", "long.toml");
    b.click("#launch-button");
    b.wait(
        "the training's progress",
        "const d = document.querySelector(\".job[data-job='3'] .stage .done\");
         return d && +d.textContent > 0",
    );
    b.wait(
        "the training's row",
        "const r = document.querySelector(\"#runs tr[data-run='long']\");
         return r && r.textContent.includes('running')",
    );
    assert_eq!(
        b.js("return document.getElementById('launch-button').disabled"),
        true
    );
    // Its curve, selected, grows while it trains.
    b.click("#runs tr[data-run='long'] input");
    let last = "const c = charts.get('train/loss');
        const i = c ? c.plot.series.findIndex((s) => s.label === 'long') : -1;
        if (i < 0) return null;
        const ys = c.plot.data[i]; let k = ys.length - 1;
        while (k >= 0 && ys[k] === null) k--;
        return k >= 0 ? c.plot.data[0][k] : null";
    let first = b.wait("the training's curve", last).as_f64().unwrap();
    b.wait(
        "the training's curve to grow",
        &format!("const s = (() => {{ {last} }})(); return s > {first}"),
    );
    b.js("document.getElementById('jobs-view').scrollIntoView()");
    b.screenshot("training");
    b.click(".job[data-job='3'] .stop");
    b.wait(
        "the training to stop",
        "const s = document.querySelector(\".job[data-job='3'] .state\");
         return s && s.textContent === 'stopped'",
    );
    let (step, _) = common::weights(&root.join("checkpoints/long/last.ckpt"));
    assert!(step > 0 && step < 100_000, "{step}");
    b.wait(
        "the run to show interrupted",
        "const r = document.querySelector(\"#runs tr[data-run='long']\");
         return r && r.textContent.includes('interrupted')",
    );

    let errors = b.console();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

#[test]
fn a_study_opens_as_its_report() {
    let (dir, _outside) = tree();
    add_study(dir.path());
    let s = start(dir.path(), &["--images", "test"]);
    let b = Browser::start();
    b.goto(&format!("{}?report=st", s.url));
    // The table next to the paper's row, three charts against depth, the strips.
    b.wait(
        "the study's report",
        "return !document.getElementById('report-detail').hidden
             && document.querySelectorAll('#report-charts .uplot').length === 3
             && [...document.querySelectorAll('#report-images img')].every((i) => i.complete && i.naturalWidth > 0)
             && document.querySelectorAll('#report-images img').length === 3",
    );
    assert_eq!(
        b.js("return [...document.querySelectorAll('#report-table tbody tr')].map((r) => r.children[1].textContent)"),
        serde_json::json!(["niclab", "paper"])
    );
    b.js("document.getElementById('report-detail').scrollIntoView()");
    b.screenshot("study");
    // A member's row opens its evaluation.
    b.click("#report-table tr.member");
    b.wait(
        "the member's evaluation",
        "return document.getElementById('eval-id').textContent === 'st/a'
             && document.querySelectorAll('#per-image tbody tr').length === 3",
    );
    let errors = b.console();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}
