#!/usr/bin/env bash
# `make bench`: niclab serve in headless Chromium (first paint with 200 runs, the curves of 10
# long runs) and the compare button against `niclab eval` from the shell, side by side;
# appends a section to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
NICLAB=target/release/niclab
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "training experiments/paper-depth-3.toml for 60 steps to have a model to compare"
$NICLAB train experiments/paper-depth-3.toml --checkpoints "$WORK/ck" --runs "$WORK/runs" \
  --set train.steps=60 --set loss.perceptual=0 --set loss.ssim=0.6 --set loss.mse=0.4 \
  --set train.val_every=60 --set data.val_crops=16 >/dev/null
python3 benches/serve_speed.py "$NICLAB" "$WORK/ck" | tee -a BENCHMARKS.md
