//! Plain HTTP/1.1 requests over a TCP stream: the tests' client for niclab serve and for
//! chromedriver (no HTTP client crate: it would rebuild burn's dependencies for the tests).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One HTTP/1.1 request: (status, headers, body).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    // Read the head, then the body by its Content-Length when it has one (chromedriver
    // keeps the connection open), else to the end.
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let split = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "{method} {path}: connection closed before the headers"
        );
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let lower = head.to_ascii_lowercase();
    let length = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse::<usize>().unwrap());
    let mut body = raw[split + 4..].to_vec();
    match length {
        Some(n) => {
            while body.len() < n {
                let k = s.read(&mut buf).unwrap();
                assert!(k > 0, "{method} {path}: body cut short");
                body.extend_from_slice(&buf[..k]);
            }
        }
        None => {
            s.read_to_end(&mut body).unwrap();
        }
    }
    if lower.contains("transfer-encoding: chunked") {
        body = unchunk(&body);
    }
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, body)
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

pub fn get(addr: &str, path: &str) -> (u16, String, Vec<u8>) {
    request(addr, "GET", path, &[], b"")
}

pub fn json(addr: &str, path: &str) -> (u16, serde_json::Value) {
    let (code, _, body) = get(addr, path);
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&body)));
    (code, v)
}
