//! A headless Chromium driven over the W3C WebDriver protocol (Debian's `chromium` and
//! `chromium-driver`, installed by `make test`): the few commands the browser tests use,
//! as JSON over `super::http`.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::http::request;

/// One browser session; the session and its chromedriver end when dropped.
pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
    /// Screenshots land here (`target/browser/`).
    pub shots: PathBuf,
}

/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    pub fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start chromedriver ({e}): `make test` installs it (Debian's \
                     chromium and chromium-driver); or run 'sudo apt-get install chromium \
                     chromium-driver'"
                )
            });
        let addr = format!("127.0.0.1:{port}");
        let t = Instant::now();
        while TcpStream::connect(&addr).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "chromedriver did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .join("browser");
        std::fs::create_dir_all(&shots).unwrap();
        let mut b = Browser {
            driver,
            addr,
            session: String::new(),
            shots,
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1100"]},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"].as_str().unwrap().to_string();
        b
    }

    /// One WebDriver command; its `value`, or a panic with the driver's error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|v| panic!("{method} {path}: {v}"))
    }

    /// One WebDriver command; its `value`, or the driver's error answer.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (code, _, out) = request(
            &self.addr,
            method,
            path,
            &["Content-Type: application/json"],
            body.as_bytes(),
        );
        let v: Value = serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}: {}", String::from_utf8_lossy(&out)));
        if code == 200 {
            Ok(v["value"].clone())
        } else {
            Err(v)
        }
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_session_call(method, path, body)
            .unwrap_or_else(|v| panic!("{method} {path}: {v}"))
    }

    fn try_session_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        self.try_call(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub fn js(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Polls `script` until it returns something other than null / false, for up to 20 s.
    pub fn wait(&self, what: &str, script: &str) -> Value {
        let t = Instant::now();
        loop {
            let v = self.js(script);
            if !(v.is_null() || v == Value::Bool(false)) {
                return v;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what} ({script}); console: {:?}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The first element matching a CSS selector.
    pub fn find(&self, css: &str) -> String {
        let v = self.session_call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {v}"))
            .to_string()
    }

    /// A real click (the driver moves the pointer there), not a script's `click()`. The page
    /// re-renders its lists as the server reports, so an element found a moment ago may be
    /// gone ("stale element reference"): then it is found again, up to five times.
    pub fn click(&self, css: &str) {
        for _ in 0..5 {
            let e = self.find(css);
            // Centred first: the driver's own scrolling puts it under the tables' sticky headers.
            let scroll = json!({"script": "arguments[0].scrollIntoView({block: 'center'})",
                                "args": [{ ELEMENT: e }]});
            let done = self
                .try_session_call("POST", "/execute/sync", Some(scroll))
                .and_then(|_| {
                    self.try_session_call("POST", &format!("/element/{e}/click"), Some(json!({})))
                });
            match done {
                Ok(_) => return,
                Err(v) if v["value"]["error"] == "stale element reference" => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(v) => panic!("click {css}: {v}"),
            }
        }
        panic!("click {css}: the element went stale five times");
    }

    /// Types `text` into the element.
    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.session_call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn actions(&self, actions: Value) {
        self.session_call("POST", "/actions", Some(json!({ "actions": actions })));
        self.session_call("DELETE", "/actions", None);
    }

    /// One wheel turn over the element, `(x, y)` from its centre (`dy` < 0: away from the
    /// user, which zooms in).
    pub fn wheel(&self, css: &str, (x, y): (i64, i64), dy: i64) {
        let e = self.find(css);
        self.actions(json!([{"type": "wheel", "id": "wheel", "actions": [
            {"type": "scroll", "origin": { ELEMENT: e }, "x": x, "y": y, "deltaX": 0, "deltaY": dy}
        ]}]));
    }

    /// A mouse drag from `(x, y)` off the element's centre, by `(dx, dy)`.
    pub fn drag(&self, css: &str, (x, y): (i64, i64), (dx, dy): (i64, i64)) {
        let e = self.find(css);
        self.actions(json!([{"type": "pointer", "id": "mouse",
            "parameters": {"pointerType": "mouse"}, "actions": [
            {"type": "pointerMove", "duration": 0, "origin": { ELEMENT: e }, "x": x, "y": y},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerMove", "duration": 150, "origin": "pointer", "x": dx, "y": dy},
            {"type": "pointerUp", "button": 0},
        ]}]));
    }

    /// Presses and releases a key (a character, or a WebDriver key code such as
    /// `\u{E014}`, the right arrow).
    pub fn key(&self, key: &str) {
        self.actions(json!([{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key},
        ]}]));
    }

    /// Saves a PNG of the window as `target/browser/NAME.png`.
    pub fn screenshot(&self, name: &str) {
        let v = self.session_call("GET", "/screenshot", None);
        let png = decode_base64(v.as_str().unwrap());
        assert_eq!(&png[1..4], b"PNG");
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// The page's console messages at level SEVERE (JavaScript errors, failed requests).
    pub fn console(&self) -> Vec<String> {
        // chromedriver's log endpoint (not in the W3C protocol; the messages since the last
        // call).
        let v = self.session_call("POST", "/se/log", Some(json!({"type": "browser"})));
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter(|m| m["level"] == "SEVERE")
                    .map(|m| m["message"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = request(
                &self.addr,
                "DELETE",
                &format!("/session/{}", self.session),
                &[],
                b"",
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (the screenshot), padding allowed.
fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').map(val).collect();
    bytes
        .chunks(4)
        .flat_map(|c| {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &v)| n | (v as u32) << (18 - 6 * i));
            let k = c.len() * 6 / 8;
            (0..k).map(move |i| (n >> (16 - 8 * i)) as u8)
        })
        .collect()
}
