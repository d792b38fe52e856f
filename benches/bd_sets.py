"""BD-rate of one set of niclab models against another set and against every codec, from the
points tables of `niclab rd` reports (an outside reference for niclab's own BD tables: scipy's
PCHIP over log-rate, the same Bjøntegaard integral).

    bd_sets.py REPORT.md [REPORT2.md ...] --set A,B,C,D [--against E,F,G,H] [--zoo models/zoo.toml]

Points of the same model in several reports: the first report's are used. With --zoo, the
niclab models' points are the zoo's test-1000 figures instead (no MS-SSIM at 128x128), for
use with a test-1000 report's classical curves. Each curve keeps
its Pareto front (points beaten on both rate and quality by another of its points are left
out, as the reports do). ΔE00 is a distance, so its negative is the quality.
"""

import argparse
import re
import sys
import tomllib

import numpy as np
from scipy.interpolate import PchipInterpolator

METRICS = {"PSNR": 4, "SSIM": 5, "MS-SSIM": 6, "ΔE00": 7}


def read_points(paths):
    """(codec, setting) -> (bpp, payload bpp, PSNR, SSIM, MS-SSIM, ΔE00); "-" (not defined) is NaN."""
    points = {}
    for path in paths:
        for line in open(path, encoding="utf-8"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 8 or not re.fullmatch(r"[0-9.]+", cells[2]):
                continue
            codec, setting = cells[0], cells[1].split(" (")[0]
            points.setdefault((codec, setting), tuple(float("nan") if c == "-" else float(c) for c in cells[2:8]))
    return points


def read_zoo(path):
    """The zoo's test-1000 figures of every shipped codec, as report points."""
    with open(path, "rb") as f:
        zoo = tomllib.load(f)
    points = {}
    for m in zoo.get("model", []):
        s = m.get("test", {}).get("scores")
        if m.get("kind") == "codec" and s:
            points[("niclab", m["name"])] = (s["bpp"], s["payload_bpp"], s["psnr"], s["ssim"], float("nan"), s["delta_e"])
    return points


def front(curve):
    """The curve's points no other point beats on both rate and quality, by rising rate."""
    kept = [p for p in curve if not any(q[0] <= p[0] and q[1] >= p[1] and q != p for q in curve)]
    return sorted(kept)


def bd_rate(a, b):
    """Mean log-rate difference of curve a over curve b at equal quality, as a percentage."""
    if any(np.isnan(q) for _, q in a + b):
        return None
    a, b = front(a), front(b)
    if len(a) < 2 or len(b) < 2:
        return None
    lo = max(min(q for _, q in a), min(q for _, q in b))
    hi = min(max(q for _, q in a), max(q for _, q in b))
    if hi <= lo:
        return None

    def integral(curve):
        q = np.array([p[1] for p in curve])
        r = np.log(np.array([p[0] for p in curve]))
        order = np.argsort(q)
        f = PchipInterpolator(q[order], r[order])
        return f.integrate(lo, hi) / (hi - lo)

    return (np.exp(integral(a) - integral(b)) - 1) * 100


def curve(points, keys, metric, payload):
    col = METRICS[metric] - 2
    sign = -1 if metric == "ΔE00" else 1
    return [(points[k][1 if payload else 0], sign * points[k][col]) for k in keys]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+")
    ap.add_argument("--set", required=True, help="comma-separated niclab model names")
    ap.add_argument("--against", help="another comma-separated set of niclab models")
    ap.add_argument("--zoo", help="take the niclab points from this zoo.toml's test-1000 figures")
    args = ap.parse_args()
    points = read_points(args.reports)
    if args.zoo:
        points = {k: v for k, v in points.items() if k[0] != "niclab"} | read_zoo(args.zoo)
    names = args.set.split(",")
    missing = [n for n in names if ("niclab", n) not in points]
    if missing:
        sys.exit(f"error: no points for {', '.join(missing)} in {', '.join(args.reports)}")
    mine = [("niclab", n) for n in names]
    others = {}
    if args.against:
        others["niclab " + args.against] = [("niclab", n) for n in args.against.split(",")]
    for codec in sorted({c for c, _ in points if c != "niclab"}):
        others[codec] = [k for k in points if k[0] == codec]
    print("| against | " + " | ".join(METRICS) + " |")
    print("|---|" + "---:|" * len(METRICS))
    for label, keys in others.items():
        cells = []
        for metric in METRICS:
            whole = bd_rate(curve(points, mine, metric, False), curve(points, keys, metric, False))
            pay = bd_rate(curve(points, mine, metric, True), curve(points, keys, metric, True))
            fmt = lambda v: "none" if v is None else f"{v:+.1f} %"
            cells.append(f"{fmt(whole)} / {fmt(pay)}")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
