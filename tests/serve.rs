//! `niclab serve` over real HTTP: the server started on port 0 over a run tree the test
//! makes (a trained run, a study member, an unreadable run, a link out of the root), every
//! endpoint, live events when a run logs a step, and each kind of bad request.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::http::{get, json, request};
use common::server::{start, tree};

#[test]
fn the_api_serves_runs_curves_and_configs() {
    let (dir, _outside) = tree();
    let s = start(dir.path(), &[]);
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
        ("/api/eval", 400, "missing ?eval"),
        ("/api/eval?id=../tiny", 403, "outside"),
        ("/api/eval?id=tiny/eval", 404, "no evaluation"),
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
