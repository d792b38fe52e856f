#!/usr/bin/env bash
# `make bench`: times `niclab eval` on the 1000 test crops with a 3-pair model and writes
# BENCHMARKS.md. The model is trained briefly here (its weights change the matched JPEG
# quality, not the cost of inference); three timed runs, the median reported.
set -euo pipefail
cd "$(dirname "$0")/.."
EXPERIMENT=${1:-experiments/paper-depth-3.toml}
NICLAB=target/release/niclab
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "training $EXPERIMENT for 60 steps (SSIM + MSE) to have a model to time"
$NICLAB train "$EXPERIMENT" --checkpoints "$WORK/ck" --runs "$WORK/runs" \
  --set train.steps=60 --set loss.perceptual=0 --set loss.ssim=0.6 --set loss.mse=0.4 \
  --set train.val_every=60 --set data.val_crops=16 >/dev/null

for i in 1 2 3; do
  /usr/bin/time -f "%e %M" -o "$WORK/time$i" \
    $NICLAB eval "$EXPERIMENT" --checkpoints "$WORK/ck" --runs "$WORK/runs" --out "$WORK/eval$i" >/dev/null 2>&1
  cp "$WORK/eval$i/summary.json" "$WORK/summary$i.json"
  echo "run $i: $(cut -d' ' -f1 "$WORK/time$i") s wall"
done

# A trained-for-a-minute model often matches JPEG at quality 1 in one pass; the paper's four
# qualities give the cost of a search that needs several whole-set passes.
/usr/bin/time -f "%e %M" -o "$WORK/time4" \
  $NICLAB eval "$EXPERIMENT" --checkpoints "$WORK/ck" --runs "$WORK/runs" --out "$WORK/eval4" \
  --jpeg-quality 95,75,20,13 >/dev/null 2>&1
cp "$WORK/eval4/summary.json" "$WORK/summary4.json"
echo "four JPEG qualities: $(cut -d' ' -f1 "$WORK/time4") s wall"

python3 - "$WORK" "$EXPERIMENT" > BENCHMARKS.md <<'PY'
import json, statistics, subprocess, sys, datetime, platform
work, experiment = sys.argv[1], sys.argv[2]
runs = []
for i in (1, 2, 3):
    wall, rss = open(f"{work}/time{i}").read().split()
    runs.append((float(wall), int(rss), json.load(open(f"{work}/summary{i}.json"))))
runs.sort(key=lambda r: r[0])
wall, rss, s = runs[1]
t, ae, jp = s["timing"], s["autoencoder"], s["jpeg"][0]
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print(f"""# Benchmarks

Written by `make bench` on {datetime.date.today()}, commit {commit or 'unknown'}.
Machine: {s['machine']}; backend: {s['backend']}.

## `niclab eval`: {s['count']} test crops of 128x128, {s['pairs']}-pair model ({experiment})

Median of 3 runs (walls: {', '.join(f'{r[0]:.2f} s' for r in sorted(runs))}), whole command,
reconstructions, latents and JPEG files written.

| | this run | paper (3 pairs) | paper / niclab |
|---|---|---|---|
| whole evaluation, wall (s) | {wall:.2f} | 1519 + 92 | {1611 / wall:.0f}x |
| autoencoder encode+decode, all images (s) | {t['ae']:.2f} | 1519 | {1519 / t['ae']:.0f}x |
| autoencoder per image (s) | {ae['seconds_per_image']:.5f} | 1.46 | {1.46 / ae['seconds_per_image']:.0f}x |
| JPEG encode+decode per image (s) | {jp['seconds_per_image']:.6f} | 0.02 | {0.02 / jp['seconds_per_image']:.0f}x |

Where the wall time went: reading {t['load']:.2f} s, model {t['model']:.2f} s, autoencoder
{t['ae']:.2f} s, its metrics {t['ae_metrics']:.2f} s, JPEG search and scoring {t['jpeg']:.2f} s
({t['jpeg_passes']} whole-set passes at quality {jp['quality']}; codec {t['jpeg_codec']:.2f} s
and metrics {t['jpeg_metrics']:.2f} s summed over threads), writing {t['write']:.2f} s.
Peak resident memory: {rss / 1024:.0f} MiB.
""")
wall4, rss4 = open(f"{work}/time4").read().split()
s4 = json.load(open(f"{work}/summary4.json"))
t4 = s4["timing"]
print(f"""With `--jpeg-quality 95,75,20,13` (the paper's four qualities, 4 whole-set JPEG passes):
{float(wall4):.2f} s wall (autoencoder {t4['ae']:.2f} s, JPEG {t4['jpeg']:.2f} s, metrics
{t4['ae_metrics']:.2f} s + {t4['jpeg_metrics']:.2f} s summed over threads), peak resident
memory {int(rss4) / 1024:.0f} MiB.
""")
PY
cat BENCHMARKS.md
