#!/usr/bin/env bash
# `make bench`, second part: training images/s of the 3-pair paper model with the SSIM + MSE
# loss (0.7 / 0.3), batch 16 of 128x128, on flex, on libtorch (CPU) and in PyTorch eager
# (benches/torch_train.py, same architecture, loss, optimiser and batch), one after the other
# on the same threads; appends a section to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
NICLAB=target/release/niclab
STEPS=${STEPS:-30}
THREADS=$(nproc)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

niclab_speed() {
  $NICLAB train experiments/paper-depth-3.toml --overwrite --checkpoints "$WORK/ck" \
    --runs "$WORK/runs" --set train.backend="$1" --set loss.perceptual=0 --set loss.ssim=0.7 \
    --set loss.mse=0.3 --set train.steps="$STEPS" --set train.warmup_steps=0 \
    --set train.val_every=100000 --set train.checkpoint_every=100000 --set data.val_crops=16 \
    2>/dev/null | sed -n 's/.* \([0-9.]*\) img\/s$/\1/p'
}

flex=$(niclab_speed flex)
echo "flex: $flex img/s"
# Empty when the binary was built without libtorch (BACKEND=flex).
torch=$(niclab_speed libtorch || true)
eager=""
if [ -n "$torch" ] && [ -x .venv-torch/bin/python ]; then
  echo "libtorch: $torch img/s"
  eager=$(.venv-torch/bin/python benches/torch_train.py "$THREADS" "$STEPS" 2>/dev/null)
  echo "PyTorch eager: $eager img/s"
else
  echo "this niclab has no libtorch (BACKEND=flex): only flex is measured"
fi

python3 - "$flex" "$torch" "$eager" "$STEPS" "$THREADS" >> BENCHMARKS.md <<'PY'
import sys
flex, torch, eager, steps, threads = sys.argv[1:]
rows = [("niclab, flex", flex), ("niclab, libtorch (CPU)", torch), ("PyTorch 2.9 eager", eager)]
print(f"""## Training: 3-pair paper model, 0.7 (1 - SSIM) + 0.3 MSE, Adam, batch 16 of 128x128

{steps} steps each, one after the other in one run, {threads} threads; niclab's figure excludes
validation and checkpoints, PyTorch's skips 3 warm-up steps.

| | images/s | vs flex |
|---|---|---|""")
for name, v in rows:
    if v:
        print(f"| {name} | {float(v):.1f} | {float(v) / float(flex):.2f}x |")
    else:
        print(f"| {name} | not measured (BACKEND=flex) | |")
print()
PY
