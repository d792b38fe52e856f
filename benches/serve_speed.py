"""`make bench`: niclab serve in a real browser (Debian's chromium through chromedriver).

1. First paint and a filled runs table with 200 runs; the curves of 10 runs of 20 000 steps
   drawn, and the longest stretch the page's main thread was blocked meanwhile.
2. The compare button against the command line: the same `niclab eval` of a 3-pair model on
   the 1000 test crops, started from the API (until the job says finished) and from the
   shell, alternately, three times each, side by side in one run.

Prints a Markdown section for BENCHMARKS.md. Usage: serve_speed.py NICLAB CHECKPOINTS
(CHECKPOINTS holds the trained run `paper-depth-3`).
"""

import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

NICLAB, CK = sys.argv[1], sys.argv[2]
RUN = os.path.join(CK, "paper-depth-3")
TRAIN_HEAD = "step,epoch,lr,loss,ssim_term,perceptual_term,mse_term,rate_term,images_per_sec\n"
VAL_HEAD = "step,val_loss,val_psnr,val_ssim,val_ssim_term,val_perceptual_term,val_mse_term,val_rate_term,val_bpp\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_runs(root, n, long_runs, long_steps=20000, short_steps=1500):
    """`n` run folders: the real run's config, made-up curves (every step logged)."""
    rng = random.Random(7)
    config = open(os.path.join(RUN, "config.toml")).read()
    for i in range(n):
        steps = long_steps if i < long_runs else short_steps
        d = os.path.join(root, f"run{i:03d}")
        os.makedirs(d)
        open(os.path.join(d, "config.toml"), "w").write(config.replace('name = "paper-depth-3"', f'name = "run{i:03d}"'))
        with open(os.path.join(d, "metrics.csv"), "w") as f:
            f.write(TRAIN_HEAD)
            for s in range(1, steps + 1):
                loss = 0.02 + 0.1 * math.exp(-s / 2000) + rng.random() * 0.004
                f.write(f"{s},0,0.002,{loss},{loss * 0.1},,{loss * 0.9},,150.0\n")
        with open(os.path.join(d, "validation.csv"), "w") as f:
            f.write(VAL_HEAD)
            for s in range(250, steps + 1, 250):
                f.write(f"{s},{0.02 + 0.1 * math.exp(-s / 2000)},{25 + s / 2000},{0.8 + s / 200000},,,,,\n")


class Server:
    def __init__(self, ck, runs):
        self.p = subprocess.Popen([NICLAB, "serve", "--port", "0", "--checkpoints", ck, "--runs", runs,
                                   "--images", "datasets/test-1000"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline()
        self.url = next(w for w in line.split() if w.startswith("http://"))

    def call(self, method, path, body=None):
        req = urllib.request.Request(self.url.rstrip("/") + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def close(self):
        self.p.terminate()
        self.p.wait()


class Browser:
    def __init__(self):
        self.port = free_port()
        self.drv = subprocess.Popen(["chromedriver", f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port)).close()
                break
            except OSError:
                time.sleep(0.05)
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]}}}}
        self.sid = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.load(r)["value"]

    def js(self, script):
        return self.call("POST", f"/session/{self.sid}/execute/sync", {"script": script, "args": []})

    def goto(self, url):
        self.call("POST", f"/session/{self.sid}/url", {"url": url})

    def wait(self, script, timeout=60):
        t = time.time()
        while time.time() - t < timeout:
            v = self.js(script)
            if v:
                return v
            time.sleep(0.02)
        raise SystemExit(f"timed out: {script}")

    def close(self):
        try:
            self.call("DELETE", f"/session/{self.sid}")
        finally:
            self.drv.kill()


# Long tasks (main thread blocked over 50 ms) are recorded from the start of each page.
OBSERVE = """
window.__long = [];
new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); })
  .observe({ type: 'longtask', buffered: true });
"""


def page_figures(browser, server, n_runs, long_runs):
    browser.goto(server.url)
    browser.js(OBSERVE)
    filled = browser.wait(f"""return document.querySelectorAll('#runs tbody tr').length === {n_runs}
        ? performance.now() : null""")
    fcp = browser.js("""const e = performance.getEntriesByName('first-contentful-paint')[0];
        return e ? e.startTime : null""")
    ids = ",".join(f"run{i:03d}" for i in range(long_runs))
    browser.goto(f"{server.url}?select={ids}")
    browser.js(OBSERVE)
    drawn = browser.wait(f"""const c = charts.get('train/loss');
        return c && c.plot.series.length === {long_runs + 1} && document.querySelectorAll('#charts .uplot').length >= 6
          ? performance.now() : null""")
    longest = browser.js("return Math.max(0, ...window.__long)")
    return fcp, filled, drawn, longest


def compare_times(server, work):
    """(page seconds, CLI seconds) for three alternating runs each."""
    page, cli = [], []
    for i in range(3):
        t = time.time()
        job = server.call("POST", "/api/compare", {"run": "paper-depth-3", "images": "datasets/test-1000",
                                                   "out": f"page{i}", "quality": "match-ssim"})
        while True:
            jobs = server.call("GET", "/api/jobs")["jobs"]
            state = next(j for j in jobs if j["id"] == job["id"])["state"]
            if state != "running":
                break
            time.sleep(0.05)
        page.append(time.time() - t)
        assert state == "finished", state
        t = time.time()
        subprocess.run([NICLAB, "eval", RUN, "--images", "datasets/test-1000", "--out",
                        os.path.join(work, "runs", f"cli{i}", "eval"), "--checkpoints", CK,
                        "--runs", os.path.join(work, "runs")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cli.append(time.time() - t)
    return page, cli


def main():
    work = tempfile.mkdtemp()
    try:
        ck = os.path.join(work, "many")
        make_runs(ck, 200, 10)
        os.makedirs(os.path.join(work, "runs"))
        browser = Browser()
        server = Server(ck, os.path.join(work, "runs"))
        try:
            fcp, filled, drawn, longest = page_figures(browser, server, 200, 10)
        finally:
            server.close()
        server = Server(CK, os.path.join(work, "runs"))
        try:
            page, cli = compare_times(server, work)
        finally:
            server.close()
            browser.close()
        version = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
        pm, cm = statistics.median(page), statistics.median(cli)
        print(f"""
## `niclab serve` in a browser ({version}, headless)

200 runs (10 of 20 000 logged steps, 190 of 1500; made-up curves, a real run's config):
first contentful paint {fcp:.0f} ms, the runs table filled at {filled:.0f} ms after the
navigation (target: under 1000 ms). The 10 long runs selected (`?select=`): every chart drawn
at {drawn:.0f} ms (the server thins each curve to 1000 points); longest main-thread task meanwhile
{longest:.0f} ms.

The compare button against the command line, the same `niclab eval` of the 3-pair model on
the 1000 test crops (JPEG matched in SSIM, files written), alternately, three times each:

| | runs (s) | median (s) |
|---|---|---|
| from the page (`POST /api/compare` until the job is finished) | {', '.join(f'{x:.2f}' for x in page)} | {pm:.2f} |
| from the shell (`niclab eval`) | {', '.join(f'{x:.2f}' for x in cli)} | {cm:.2f} |

Page / shell: {pm / cm:.3f} (target: at most 1.10).""")
    finally:
        shutil.rmtree(work, ignore_errors=True)


main()
