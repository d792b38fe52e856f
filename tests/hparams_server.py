"""Starts TensorBoard's own server on loopback over LOGDIR, asks its HParams endpoint for the
session groups, prints them as JSON ({name: {"hparams": ..., "metrics": {tag: value}}}) and
stops the server. For tests/tensorboard.rs; also a manual check:
    .venv-tests/bin/python tests/hparams_server.py runs

Usage: hparams_server.py LOGDIR
"""

import json
import socket
import subprocess
import sys
import time
import urllib.request


def post(base, path, body):
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-XSRF-Protected": "1"},
    )
    return json.load(urllib.request.urlopen(req, timeout=30))


def main(logdir):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", logdir,
         "--host", "127.0.0.1", "--port", str(port), "--load_fast", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/data/runs", timeout=2)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("TensorBoard did not start")
                time.sleep(0.2)
        groups = []
        for _ in range(50):  # the first reload of the logdir may still be running
            groups = post(base, "/data/plugin/hparams/session_groups", {
                "experimentName": "",
                "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
                "colParams": [], "startIndex": 0, "sliceSize": 100,
            }).get("sessionGroups", [])
            if groups:
                break
            time.sleep(0.2)
        out = {
            g["name"]: {
                "hparams": g["hparams"],
                "metrics": {m["name"]["tag"]: m["value"] for m in g.get("metricValues", [])},
            }
            for g in groups
        }
        print(json.dumps(out))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main(sys.argv[1])
