//! `niclab serve` over real HTTP: the server started on port 0 over a run tree the test
//! makes (a trained run, a study member, an unreadable run, a link out of the root), every
//! endpoint, live events when a run logs a step, and each kind of bad request.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::http::{get, json, request};
use common::server::{add_study, long_experiment, start, tree, wait_logged};

#[test]
fn the_api_serves_runs_curves_and_configs() {
    let (dir, _outside) = tree();
    let s = start(dir.path(), &["--images", "test"]);
    assert!(
        s.url.starts_with("http://127.0.0.1:") && !s.url.contains("token"),
        "{}",
        s.url
    );

    let (code, v) = json(&s.addr, "/api/runs");
    assert_eq!(code, 200);
    let ids: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["s/member", "tiny"], "{v}");
    let tiny = &v["runs"][1];
    assert_eq!(tiny["state"], "finished");
    assert_eq!(
        (tiny["steps_done"].as_u64(), tiny["steps_planned"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(tiny["model"]["pairs"], 2);
    assert_eq!(tiny["loss"]["ssim"], 0.5);
    assert!(tiny["best"]["psnr"].as_f64().unwrap() > 5.0, "{tiny}");
    assert_eq!(v["unreadable"][0]["id"], "broken");
    assert!(
        v["unreadable"][0]["error"]
            .as_str()
            .unwrap()
            .contains("config.toml")
    );

    let (code, c) = json(&s.addr, "/api/curves?run=tiny");
    assert_eq!(code, 200);
    assert_eq!(c["train"]["step"].as_array().unwrap().len(), 5);
    assert_eq!(c["train"]["loss"].as_array().unwrap().len(), 5);
    assert!(
        c["train"].get("rate_term").is_none(),
        "an empty column is left out"
    );
    assert!(c["validation"]["val_psnr"].as_array().is_some());
    let (_, c) = json(&s.addr, "/api/curves?run=tiny&points=2");
    assert_eq!(c["train"]["step"], serde_json::json!([2.0, 5.0]));
    let (code, c) = json(&s.addr, "/api/curves?run=s/member");
    assert_eq!((code, c["run"].as_str()), (200, Some("s/member")));

    let (code, head, body) = get(&s.addr, "/api/config?run=tiny");
    assert_eq!(code, 200);
    assert!(head.contains("text/plain"));
    assert!(String::from_utf8_lossy(&body).contains("name = \"tiny\""));

    // The evaluation opens as niclab eval wrote it, with a row per image and codec.
    let (code, v) = json(&s.addr, "/api/evals");
    assert_eq!(code, 200);
    assert_eq!(v["evals"][0]["id"], "tiny", "{v}");
    assert_eq!(v["evals"][0]["summary"]["count"], 3);
    assert_eq!(v["evals"][0]["summary"]["jpeg"][0]["quality"], 50);
    let (code, e) = json(&s.addr, "/api/eval?id=tiny");
    assert_eq!(code, 200);
    let rows = e["per_image"].as_array().unwrap();
    assert_eq!(rows.len(), 6, "{e}");
    assert_eq!(rows.iter().filter(|r| r["codec"] == "ae").count(), 3);
    assert!(
        rows[0]["values"]["ssim"]
            .as_f64()
            .is_some_and(|x| x > 0.0 && x <= 1.0)
    );
    assert_eq!(e["summary"]["autoencoder"]["codec"], "autoencoder");
    // The viewer's files: the evaluation's own and the originals, byte for byte.
    assert_eq!(e["originals"], true);
    let names: Vec<&str> = e["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ae", "jpeg-q50"]);
    for (version, file, mime) in [
        ("original", "test/photo01.png", "image/png"),
        ("ae", "runs/tiny/eval/ae/photo01.png", "image/png"),
        (
            "jpeg-q50",
            "runs/tiny/eval/jpeg-q50/photo01.jpg",
            "image/jpeg",
        ),
    ] {
        let (code, head, body) = get(
            &s.addr,
            &format!("/api/eval/file?id=tiny&version={version}&image=photo01.png"),
        );
        assert_eq!(code, 200, "{version}");
        assert!(head.contains(mime), "{version}: {head}");
        assert_eq!(
            body,
            std::fs::read(dir.path().join(file)).unwrap(),
            "{version}"
        );
    }

    // The page and its assets come from the binary.
    let (code, head, body) = get(&s.addr, "/");
    assert_eq!(code, 200);
    assert!(head.contains("text/html"));
    assert!(String::from_utf8_lossy(&body).contains("assets/app.js"));
    let (code, _, body) = get(&s.addr, "/assets/vendor/uplot/uPlot.iife.min.js");
    assert_eq!((code, body.len()), (200, 51081));
    let (code, _, _) = get(&s.addr, "/assets/app.js");
    assert_eq!(code, 200);
}

#[test]
fn bad_requests_get_clear_4xx_answers() {
    let (dir, _outside) = tree();
    // A reconstruction replaced by a link out of the evaluation is not shown.
    let ae = dir.path().join("runs/tiny/eval/ae/photo02.png");
    std::fs::remove_file(&ae).unwrap();
    std::os::unix::fs::symlink(dir.path().join("test/photo02.png"), &ae).unwrap();
    let s = start(dir.path(), &[]);
    for (path, want, says) in [
        ("/api/curves", 400, "missing ?run"),
        ("/api/curves?run=../tiny", 403, "outside"),
        ("/api/curves?run=%2Fetc", 403, "outside"),
        ("/api/config?run=tiny/../../x", 403, "outside"),
        ("/api/curves?run=nope", 404, "no run"),
        // A link out of the root is not a run of this root.
        ("/api/config?run=out", 404, "no run"),
        ("/api/curves?run=broken", 200, ""),
        ("/api/eval", 400, "missing ?id=ID (an id from /api/evals)"),
        ("/api/eval?id=../tiny", 403, "outside"),
        ("/api/eval?id=tiny/eval", 404, "no evaluation"),
        ("/api/eval/file?id=tiny", 400, "missing ?version"),
        (
            "/api/eval/file?id=tiny&version=ae&image=../tiny.toml",
            404,
            "no image",
        ),
        (
            "/api/eval/file?id=tiny&version=ae&image=%2Fetc%2Fpasswd",
            404,
            "no image",
        ),
        (
            "/api/eval/file?id=tiny&version=plots&image=photo01.png",
            404,
            "no version",
        ),
        (
            "/api/eval/file?id=tiny&version=..&image=photo01.png",
            404,
            "no version",
        ),
        (
            "/api/eval/file?id=tiny&version=ae&image=photo02.png",
            404,
            "no ae file",
        ),
        // The originals' folder is not served by this server (no --images test).
        (
            "/api/eval/file?id=tiny&version=original&image=photo01.png",
            403,
            "not in a served folder",
        ),
        ("/assets/../Cargo.toml", 403, "no asset"),
        ("/assets/%2e%2e/Cargo.toml", 403, "no asset"),
        ("/assets/nothing.js", 404, "no asset"),
        ("/nowhere", 404, "no such page"),
    ] {
        let (code, _, body) = get(&s.addr, path);
        let text = String::from_utf8_lossy(&body);
        assert_eq!(code, want, "{path}: {text}");
        assert!(text.contains(says), "{path}: {text}");
    }
    // A damaged evaluation file is named, not a 500.
    let csv = dir.path().join("runs/tiny/eval/per_image.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&csv, text.replacen(",ae,", ",ae,,", 1)).unwrap();
    let (code, _, body) = get(&s.addr, "/api/eval?id=tiny");
    let body = String::from_utf8_lossy(&body);
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains("per_image.csv:2") && body.contains("cells"),
        "{body}"
    );

    // Malformed queries, other methods, garbage bodies: 4xx, and the server lives on.
    let (code, _, _) = get(&s.addr, "/api/curves?run=tiny&points=many");
    assert_eq!(code, 400);
    let (code, _, _) = request(
        &s.addr,
        "POST",
        "/api/runs",
        &["Content-Type: application/json"],
        b"{not json",
    );
    assert_eq!(code, 405);
    let mut raw = TcpStream::connect(&s.addr).unwrap();
    raw.write_all(b"\x00\x01garbage\r\n\r\n").unwrap();
    drop(raw);
    let (code, _) = json(&s.addr, "/api/runs");
    assert_eq!(code, 200);
}

#[test]
fn events_arrive_when_a_run_logs_a_step() {
    let (dir, _outside) = tree();
    let s = start(dir.path(), &[]);
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /api/events HTTP/1.1\r\nHost: {}\r\n\r\n",
        s.addr
    )
    .unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let count = |s: &str| s.matches("event: runs").count();
    let mut read_until = |stream: &mut TcpStream, seen: &mut String, n: usize| {
        let t = Instant::now();
        while count(seen) < n && t.elapsed() < Duration::from_secs(10) {
            let k = stream.read(&mut buf).unwrap();
            seen.push_str(&String::from_utf8_lossy(&buf[..k]));
        }
    };
    read_until(&mut stream, &mut seen, 1);
    assert!(seen.contains("text/event-stream"), "{seen}");
    assert_eq!(count(&seen), 1, "{seen}");
    let metrics = dir.path().join("checkpoints/tiny/metrics.csv");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(metrics)
        .unwrap();
    writeln!(f, "6,1,0.001,0.05,,,0.04,,100").unwrap();
    read_until(&mut stream, &mut seen, 2);
    assert_eq!(
        count(&seen),
        2,
        "no event after the run logged a step: {seen}"
    );
}

#[test]
fn off_loopback_every_request_needs_the_token() {
    let (dir, _outside) = tree();
    let s = start(dir.path(), &["--host", "0.0.0.0"]);
    let token = s
        .url
        .split("?token=")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", s.url));
    assert_eq!(token.len(), 32);
    for path in ["/", "/api/runs", "/api/runs?token=wrong"] {
        let (code, _, body) = get(&s.addr, path);
        assert_eq!(code, 401, "{path}");
        assert!(String::from_utf8_lossy(&body).contains("token"));
    }
    assert_eq!(get(&s.addr, &format!("/api/runs?token={token}")).0, 200);
    let auth = format!("Authorization: Bearer {token}");
    assert_eq!(request(&s.addr, "GET", "/api/runs", &[&auth], b"").0, 200);

    // A token given on loopback is required too.
    let s = start(dir.path(), &["--token", "secret"]);
    assert_eq!(get(&s.addr, "/api/runs").0, 401);
    assert_eq!(get(&s.addr, "/?token=secret").0, 200);
}

#[test]
fn a_missing_checkpoints_folder_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = common::niclab(
        &["serve", "--port", "0", "--checkpoints", "nope"],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("nope") && err.contains("no such folder"),
        "{err}"
    );
}

/// POSTs a JSON body: (status, parsed answer).
fn post(addr: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (code, _, out) = request(
        addr,
        "POST",
        path,
        &["Content-Type: application/json"],
        body.as_bytes(),
    );
    let v = serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&out)));
    (code, v)
}

/// Waits until job `id` has left `running`, and returns it.
fn wait_job(addr: &str, id: u64) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let (_, v) = json(addr, "/api/jobs");
        let job = v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no job {id} in {v}"));
        if job["state"] != "running" {
            return job;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "job {id}: {job}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The per-image figures of an evaluation, timing columns left out.
fn figures(addr: &str, id: &str) -> Vec<serde_json::Value> {
    let (code, e) = json(addr, &format!("/api/eval?id={id}"));
    assert_eq!(code, 200, "{e}");
    e["per_image"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let values = r["values"].as_object_mut().unwrap();
            values.retain(|k, _| !k.contains("sec") && !k.contains("time"));
            r
        })
        .collect()
}

#[test]
fn the_compare_button_runs_niclab_eval() {
    let (dir, _outside) = tree();
    let s = start(dir.path(), &["--images", "test"]);
    let (code, o) = json(&s.addr, "/api/options");
    assert_eq!(code, 200);
    assert_eq!(
        o["images"],
        serde_json::json!([{"id": "test", "images": 3}])
    );

    let ask = r#"{"run": "tiny", "images": "test", "out": "from-page", "quality": "50"}"#;
    let (code, job) = post(&s.addr, "/api/compare", ask);
    assert_eq!(code, 202, "{job}");
    assert_eq!(
        (job["kind"].as_str(), job["state"].as_str()),
        (Some("compare"), Some("running"))
    );
    let job = wait_job(&s.addr, job["id"].as_u64().unwrap());
    assert_eq!(job["state"], "finished", "{job}");
    assert_eq!(job["result"], "from-page");
    // Followed through --progress json: each stage's last line, all images done.
    let stages = job["progress"].as_array().unwrap();
    assert!(!stages.is_empty(), "{job}");
    for p in stages {
        assert_eq!(p["done"], p["total"], "{p}");
    }
    // The same files `niclab eval` writes from the command line, figure for figure.
    assert!(
        dir.path()
            .join("runs/from-page/eval/per_image.csv")
            .is_file()
    );
    assert_eq!(figures(&s.addr, "from-page"), figures(&s.addr, "tiny"));

    // Bad requests: named, 4xx, nothing started.
    for (body, want, says) in [
        (ask, 409, "exists"),
        (
            r#"{"run": "tiny", "images": "photos", "out": "x"}"#,
            403,
            "not one of the served image folders",
        ),
        (
            r#"{"run": "../tiny", "images": "test", "out": "x"}"#,
            403,
            "outside",
        ),
        (
            r#"{"run": "nope", "images": "test", "out": "x"}"#,
            404,
            "no run",
        ),
        (
            r#"{"run": "tiny", "images": "test", "out": "../x"}"#,
            400,
            "letters, digits",
        ),
        (
            r#"{"run": "tiny", "images": "test", "out": "x", "quality": "best"}"#,
            400,
            "not a quality",
        ),
        (
            r#"{"run": "tiny", "images": "test"}"#,
            400,
            "missing field `out`",
        ),
        (
            r#"{"run": "tiny", "images": "test", "out": "x", "shell": "rm"}"#,
            400,
            "unknown field",
        ),
        ("{not json", 400, "bad request body"),
    ] {
        let (code, v) = post(&s.addr, "/api/compare", body);
        assert_eq!(code, want, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(says), "{body}: {v}");
    }
    let (_, v) = json(&s.addr, "/api/jobs");
    assert_eq!(v["jobs"].as_array().unwrap().len(), 1, "{v}");
    assert!(!dir.path().join("runs/x").exists());
}

#[test]
fn a_training_from_the_page_stops_with_a_checkpoint_and_resumes() {
    let (dir, _outside) = tree();
    let root = dir.path();
    long_experiment(root, 4000, 1000);
    std::fs::write(
        root.join("experiments/both.toml"),
        "name = \"both\"\nexperiments = [\"long.toml\"]\n",
    )
    .unwrap();
    let s = start(root, &[]);
    let (_, o) = json(&s.addr, "/api/options");
    assert_eq!(
        o["experiments"],
        serde_json::json!([
            {"file": "both.toml", "kind": "study", "name": "both"},
            {"file": "long.toml", "kind": "train", "name": "long"},
        ])
    );

    let (code, job) = post(&s.addr, "/api/launch", r#"{"file": "long.toml"}"#);
    assert_eq!(code, 202, "{job}");
    let id = job["id"].as_u64().unwrap();
    // One job at a time.
    let (code, v) = post(&s.addr, "/api/launch", r#"{"file": "long.toml"}"#);
    assert_eq!(code, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("is running"), "{v}");
    // Stopped once it has trained a little: as Ctrl-C, a checkpoint of the step reached.
    wait_logged(root, "long", 50);
    let (code, v) = post(&s.addr, &format!("/api/jobs/stop?id={id}"), "");
    assert_eq!(code, 200, "{v}");
    let job = wait_job(&s.addr, id);
    assert_eq!(job["state"], "stopped", "{job}");
    let (step, _) = common::weights(&root.join("checkpoints/long/last.ckpt"));
    assert!(step > 0 && step < 4000, "stopped at step {step}");
    let (code, v) = post(&s.addr, &format!("/api/jobs/stop?id={id}"), "");
    assert_eq!(code, 409, "{v}");

    // Resumed from the page, it ends where an uninterrupted run ends.
    let (code, job) = post(
        &s.addr,
        "/api/launch",
        r#"{"file": "long.toml", "resume": true}"#,
    );
    assert_eq!(code, 202, "{job}");
    let job = wait_job(&s.addr, job["id"].as_u64().unwrap());
    assert_eq!(job["state"], "finished", "{job}");
    assert!(
        job["args"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--resume")
    );
    let train = job["progress"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["stage"] == "train")
        .cloned()
        .unwrap_or_else(|| panic!("no train stage: {job}"));
    assert_eq!(
        (train["done"].as_u64(), train["total"].as_u64()),
        (Some(4000), Some(4000))
    );
    assert_eq!(
        common::weights(&root.join("checkpoints/long/last.ckpt")).0,
        4000
    );

    // A failing job is reported with its own error, and the server lives on.
    let (code, job) = post(&s.addr, "/api/launch", r#"{"file": "long.toml"}"#);
    assert_eq!(code, 202, "{job}");
    let job = wait_job(&s.addr, job["id"].as_u64().unwrap());
    assert_eq!(job["state"], "failed", "{job}");
    assert!(job["log"].to_string().contains("--resume"), "{job}");

    // A run that a training outside the server holds: the job fails with the lock's reason.
    let held = std::fs::read_to_string(root.join("experiments/long.toml"))
        .unwrap()
        .replace("name = \"long\"", "name = \"held\"")
        .replace("steps = 4000", "steps = 100000");
    std::fs::write(root.join("experiments/held.toml"), held).unwrap();
    let mut outside = std::process::Command::new(env!("CARGO_BIN_EXE_niclab"))
        .args(["train", "experiments/held.toml"])
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_logged(root, "held", 50);
    let (code, job) = post(
        &s.addr,
        "/api/launch",
        r#"{"file": "held.toml", "resume": true}"#,
    );
    assert_eq!(code, 202, "{job}");
    let job = wait_job(&s.addr, job["id"].as_u64().unwrap());
    outside.kill().unwrap();
    outside.wait().unwrap();
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["log"]
            .to_string()
            .contains("is being trained by process"),
        "{job}"
    );

    for (path, body, want, says) in [
        (
            "/api/launch",
            r#"{"file": "../tiny.toml"}"#,
            404,
            "no experiment",
        ),
        (
            "/api/launch",
            r#"{"file": "long.toml", "set": ["data.train=/etc"]}"#,
            403,
            "paths cannot",
        ),
        (
            "/api/launch",
            r#"{"file": "long.toml", "set": ["steps"]}"#,
            400,
            "KEY=VALUE",
        ),
        (
            "/api/launch",
            r#"{"file": "long.toml", "set": ["Train.steps=1"]}"#,
            400,
            "section.field",
        ),
        (
            "/api/launch",
            r#"{"file": "both.toml", "resume": true}"#,
            400,
            "study",
        ),
        ("/api/jobs/stop?id=99", "", 404, "no job"),
        ("/api/jobs/stop", "", 400, "missing ?id"),
    ] {
        let (code, v) = post(&s.addr, path, body);
        assert_eq!(code, want, "{path} {body}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains(says),
            "{path} {body}: {v}"
        );
    }
}

#[test]
fn ctrl_c_stops_the_server_and_its_job_with_a_checkpoint() {
    let (dir, _outside) = tree();
    let root = dir.path();
    long_experiment(root, 100000, 100000);
    let mut s = start(root, &[]);
    let (code, job) = post(&s.addr, "/api/launch", r#"{"file": "long.toml"}"#);
    assert_eq!(code, 202, "{job}");
    wait_logged(root, "long", 50);
    // An open page: its event stream must not hold the server up.
    let mut page = TcpStream::connect(&s.addr).unwrap();
    write!(page, "GET /api/events HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).unwrap();
    let mut first = [0u8; 256];
    assert!(page.read(&mut first).unwrap() > 0);
    // SAFETY: kill(2) with plain integers.
    let pid = libc::pid_t::try_from(s.child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let t = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the server did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // The job saved its checkpoint on the way out and released its run.
    let (step, _) = common::weights(&root.join("checkpoints/long/last.ckpt"));
    assert!(step > 0 && step < 100_000, "{step}");
    assert!(!root.join("checkpoints/long/run.lock").exists());
}

#[test]
fn studies_open_as_their_report() {
    let (dir, _outside) = tree();
    add_study(dir.path());
    let s = start(dir.path(), &[]);
    let (code, v) = json(&s.addr, "/api/reports");
    assert_eq!(code, 200);
    assert_eq!(
        v["reports"],
        serde_json::json!([{"id": "st", "kind": "study", "title": "study st: 1 models on test"}])
    );
    let (code, r) = json(&s.addr, "/api/report?id=st");
    assert_eq!(code, 200);
    assert_eq!(r["data"]["rows"][0]["pairs"], 3);
    assert_eq!(r["data"]["rows"][0]["paper"]["ae_ssim"], 0.9738);
    let images: Vec<&str> = r["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(images.contains(&"plots/psnr-vs-depth.png") && images.contains(&"strips/median.png"));
    let (code, head, body) = get(&s.addr, "/api/report/file?id=st&file=strips/median.png");
    assert_eq!(code, 200);
    assert!(head.contains("image/png"));
    assert_eq!(
        body,
        std::fs::read(dir.path().join("runs/st/strips/median.png")).unwrap()
    );
    for (path, want, says) in [
        (
            "/api/report",
            400,
            "missing ?id=ID (an id from /api/reports)",
        ),
        ("/api/report?id=../st", 403, "outside"),
        ("/api/report?id=tiny", 404, "no report"),
        (
            "/api/report/file?id=st&file=../summary.json",
            404,
            "no plot or strip",
        ),
        (
            "/api/report/file?id=st&file=summary.json",
            404,
            "no plot or strip",
        ),
        ("/api/report/file?id=st", 404, "no plot or strip"),
    ] {
        let (code, _, body) = get(&s.addr, path);
        let text = String::from_utf8_lossy(&body);
        assert_eq!(code, want, "{path}: {text}");
        assert!(text.contains(says), "{path}: {text}");
    }
}

/// A PNG header claiming `w x h` pixels (no pixel data): enough for the size check.
fn png_header(w: u32, h: u32) -> Vec<u8> {
    let crc = |data: &[u8]| {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    };
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(13u32.to_be_bytes());
    out.extend(&ihdr);
    out.extend(crc(&ihdr).to_be_bytes());
    // An empty first data chunk: decoders read the header up to it.
    out.extend(0u32.to_be_bytes());
    out.extend(b"IDAT");
    out.extend(crc(b"IDAT").to_be_bytes());
    out
}

fn upload(addr: &str, query: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let (code, _, out) = request(addr, "POST", &format!("/api/try{query}"), &[], body);
    let v = serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));
    (code, v)
}

#[test]
fn try_a_codec_on_an_uploaded_image_and_a_nic_file() {
    let (dir, _outside) = tree();
    let s = start(dir.path(), &[]);
    let (_, o) = json(&s.addr, "/api/options");
    let codecs = o["codecs"].to_string();
    assert!(codecs.contains("shipped:codec-lambda-0.008"), "{codecs}");

    // An image through a shipped codec and JPEG at its bytes and at its SSIM.
    let photo = std::fs::read(dir.path().join("test/photo01.png")).unwrap();
    let (code, job) = upload(&s.addr, "?model=shipped:codec-lambda-0.008", &photo);
    assert_eq!(code, 202, "{job}");
    let job = wait_job(&s.addr, job["id"].as_u64().unwrap());
    assert_eq!(
        (job["kind"].as_str(), job["state"].as_str()),
        (Some("try"), Some("finished")),
        "{job}"
    );
    let id = job["result"].as_str().unwrap().to_string();
    let (code, t) = json(&s.addr, &format!("/api/trial?id={id}"));
    assert_eq!(code, 200, "{t}");
    let names: Vec<&str> = t["sides"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["original", "niclab", "jpeg-same-bytes", "jpeg-same-ssim"]
    );
    let side = |n: usize, k: &str| t["sides"][n][k].as_f64().unwrap_or(f64::NAN);
    let same_bytes_fits = side(2, "bytes") <= side(1, "bytes");
    assert!(
        same_bytes_fits || t["notes"].to_string().contains("larger than niclab"),
        "{t}"
    );
    assert!(
        side(3, "ssim") >= side(1, "ssim") || t["notes"].to_string().contains("quality 100"),
        "{t}"
    );
    // The .nic to download, and the same file decoded when uploaded back.
    let (code, _, nic) = get(&s.addr, &format!("/api/trial/file?id={id}&file=niclab.nic"));
    assert_eq!(code, 200);
    assert!(nic.starts_with(b"NIC\x1a") && nic.len() as f64 == side(1, "bytes"));
    let (_, _, png) = get(&s.addr, &format!("/api/trial/file?id={id}&file=niclab.png"));
    let (code, job) = upload(&s.addr, "", &nic);
    assert_eq!(code, 202, "{job}");
    let job = wait_job(&s.addr, job["id"].as_u64().unwrap());
    assert_eq!(job["state"], "finished", "{job}");
    let back = job["result"].as_str().unwrap();
    let (_, _, again) = get(
        &s.addr,
        &format!("/api/trial/file?id={back}&file=niclab.png"),
    );
    assert_eq!(again, png, "the uploaded .nic decodes to the same image");

    // Bad uploads and requests: named, 4xx, nothing written.
    let before = std::fs::read_dir(dir.path().join("runs/try"))
        .unwrap()
        .count();
    let mut damaged = b"NIC\x1a".to_vec();
    damaged.extend([0u8; 7]);
    for (query, body, want, says) in [
        (
            "?model=shipped:codec-lambda-0.008",
            b"".to_vec(),
            400,
            "empty",
        ),
        (
            "?model=shipped:codec-lambda-0.008",
            b"[model]\npairs = 3\n".to_vec(),
            400,
            "not an image niclab reads",
        ),
        (
            "?model=shipped:codec-lambda-0.008",
            photo[..60].to_vec(),
            400,
            "damaged png",
        ),
        (
            "?model=shipped:codec-lambda-0.008",
            png_header(10_000, 10_000),
            413,
            "50000000 pixels",
        ),
        ("", damaged, 400, "damaged .nic"),
        ("", photo.clone(), 400, "missing ?model"),
        ("?model=shipped:nope", photo.clone(), 404, "no codec"),
        ("?model=run:tiny", photo.clone(), 404, "no codec"),
    ] {
        let (code, v) = upload(&s.addr, query, &body);
        assert_eq!(code, want, "{query} {says}: {v}");
        assert!(v["error"].as_str().unwrap().contains(says), "{query}: {v}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path().join("runs/try"))
            .unwrap()
            .count(),
        before
    );
    for (path, want, says) in [
        ("/api/trial?id=try/99", 404, "no trial"),
        ("/api/trial?id=../tiny", 403, "outside"),
        (
            &*format!("/api/trial/file?id={id}&file=upload.png"),
            404,
            "no file",
        ),
        (
            &*format!("/api/trial/file?id={id}&file=../../tiny.toml"),
            404,
            "no file",
        ),
    ] {
        let (code, _, body) = get(&s.addr, path);
        let text = String::from_utf8_lossy(&body);
        assert_eq!(code, want, "{path}: {text}");
        assert!(text.contains(says), "{path}: {text}");
    }
}
