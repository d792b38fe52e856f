#!/usr/bin/env bash
# `make bench`, subnormals: training images/s with subnormal floats flushed to zero (niclab
# train's default, src/subnormals.rs) and kept (`--keep-subnormals`), side by side in one run,
# for the default codec's fine-tune (experiments/hyperprior9-mse-0.002.toml: GDN, a mean-scale
# hyperprior, batch 2 of 256x256) and the 3-pair paper model (batch 16 of 128x128, 0.7 (1 -
# SSIM) + 0.3 MSE as in benches/train_speed.sh), on each
# backend this binary has; and the first steps' losses of both, which must agree. Then the
# same for refining latents at encode time (`compress --refine`, one photo). Appends to
# BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
NICLAB=target/release/niclab
STEPS=${STEPS:-60}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# speed EXPERIMENT BACKEND [FLAGS...]: "images/s loss-at-step-20", empty if the backend is missing.
speed() {
  local exp=$1 backend=$2
  shift 2
  rm -rf "$WORK/ck"
  $NICLAB train "$exp" --overwrite --progress none --checkpoints "$WORK/ck" --runs "$WORK/runs" \
    --set name=bench --set train.backend="$backend" --set train.steps="$STEPS" \
    --set train.warmup_steps=0 --set train.val_every=100000 --set train.checkpoint_every=100000 \
    --set train.log_every=20 --set data.val_crops=16 "$@" > "$WORK/out" 2>/dev/null || return 0
  echo "$(sed -n 's/.* \([0-9.]*\) img\/s$/\1/p' "$WORK/out") $(awk -F, '$1 == 20 { print $4 }' "$WORK/ck/bench/metrics.csv")"
}

# refine BACKEND [FLAGS...]: "seconds bytes" of `compress --refine` on one test photo with the
# default codec, empty if the backend is missing.
PHOTO=datasets/test-photos/Kite.png
REFINE_STEPS=${REFINE_STEPS:-20}
refine() {
  local backend=$1
  shift
  $NICLAB compress "$PHOTO" "$WORK/kite.nic" --refine "$REFINE_STEPS" --backend "$backend" \
    --progress none "$@" > "$WORK/out" 2>/dev/null || return 0
  echo "$(sed -n 's/.* MP in \([0-9.]*\) s .*/\1/p' "$WORK/out") $(stat -c %s "$WORK/kite.nic")"
}

PAPER=(--set loss.perceptual=0 --set loss.ssim=0.7 --set loss.mse=0.3)
rows=""
for exp in experiments/hyperprior9-mse-0.002.toml experiments/paper-depth-3.toml; do
  extra=()
  [[ $exp == *paper* ]] && extra=("${PAPER[@]}")
  for backend in libtorch flex; do
    flushed=$(speed "$exp" "$backend" "${extra[@]}")
    [ -n "$flushed" ] || continue
    kept=$(speed "$exp" "$backend" "${extra[@]}" --keep-subnormals)
    echo "$exp $backend: flushed $flushed, kept $kept"
    read -r f_ips f_loss <<< "$flushed"
    read -r k_ips k_loss <<< "$kept"
    rows+="| $(basename "$exp" .toml) | $backend | $k_ips | $f_ips | $(python3 -c "print(f'{$f_ips / $k_ips:.2f}x')") | $k_loss / $f_loss |"$'\n'
  done
done
refine_rows=""
for backend in libtorch flex; do
  flushed=$(refine "$backend")
  [ -n "$flushed" ] || continue
  kept=$(refine "$backend" --keep-subnormals)
  echo "refine $backend: flushed $flushed, kept $kept"
  read -r f_s f_bytes <<< "$flushed"
  read -r k_s k_bytes <<< "$kept"
  refine_rows+="| $backend | $k_s | $f_s | $(python3 -c "print(f'{$k_s / $f_s:.2f}x')") | $k_bytes / $f_bytes |"$'\n'
done
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
  echo
  echo "## Training with subnormal floats flushed to zero"
  echo
  echo "$cpu, $(nproc) threads; $STEPS steps each, one after the other, no validation; images/s as"
  echo "\`niclab train\` reports it (validation and checkpoints excluded). Kept: \`--keep-subnormals\`"
  echo "(IEEE arithmetic); flushed: the default (flush-to-zero and denormals-are-zero on every"
  echo "training thread). Losses: the training loss at step 20, kept / flushed."
  echo
  echo "| experiment | backend | kept, images/s | flushed, images/s | speed-up | loss at step 20 |"
  echo "|---|---|---:|---:|---:|---|"
  printf '%s' "$rows"
  echo
  echo "Refining (\`niclab compress --refine $REFINE_STEPS\`, the default codec, $(basename "$PHOTO"), 768x512):"
  echo "seconds of the whole encode as compress reports it, kept (\`--keep-subnormals\`) and flushed"
  echo "(the default); the files' bytes, kept / flushed."
  echo
  echo "| backend | kept, s | flushed, s | speed-up | bytes |"
  echo "|---|---:|---:|---:|---|"
  printf '%s' "$refine_rows"
} >> BENCHMARKS.md
