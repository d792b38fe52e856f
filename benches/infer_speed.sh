#!/usr/bin/env bash
# `make bench`, fourth part: autoencoder inference (encode + decode) images/s of each depth
# of the study (3, 5, 7, 10 pairs): niclab on flex and on libtorch (the autoencoder time
# `niclab eval` reports on the 1000 test crops, batch 32) against PyTorch eager
# (benches/torch_train.py infer: same architecture, batch, threads), one after the other;
# appends a section to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
NICLAB=target/release/niclab
THREADS=$(nproc)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# niclab_infer PAIRS BACKEND: images/s, empty when the binary lacks the backend.
niclab_infer() {
  local exp=experiments/paper-depth-$1.toml
  # Weights do not change the cost of inference: two steps give a checkpoint to time.
  $NICLAB train "$exp" --overwrite --checkpoints "$WORK/ck" --runs "$WORK/runs" \
    --set train.steps=2 --set loss.perceptual=0 --set loss.ssim=0.7 --set train.backend="$2" \
    --set data.val_crops=4 >/dev/null 2>&1 || return 0
  $NICLAB eval "$exp" --checkpoints "$WORK/ck" --runs "$WORK/runs" --out "$WORK/eval" \
    --jpeg-quality 50 --no-images >/dev/null 2>&1
  python3 -c "import json,sys; print(f\"{1 / json.load(open(sys.argv[1]))['autoencoder']['seconds_per_image']:.1f}\")" "$WORK/eval/summary.json"
}

rows=""
for p in 3 5 7 10; do
  flex=$(niclab_infer "$p" flex)
  torch=$(niclab_infer "$p" libtorch)
  eager=""
  if [ -x .venv-torch/bin/python ]; then
    eager=$(.venv-torch/bin/python benches/torch_train.py infer "$THREADS" "$p" 1000 32 2>/dev/null)
  fi
  echo "$p pairs: niclab flex $flex, libtorch ${torch:-not built}, PyTorch eager ${eager:-not measured} (images/s)"
  rows="$rows$p $flex ${torch:--} ${eager:--}\n"
done
printf "$rows" | python3 -c '
import sys
threads = sys.argv[1]
print(f"## Inference: encode + decode of the 1000 test crops, batch 32, {threads} threads\n")
print("niclab: the autoencoder time of `niclab eval` (tensors in and out included, file I/O")
print("excluded); PyTorch 2.9 eager under `torch.inference_mode`; one after the other.\n")
print("| pairs | niclab flex, images/s | niclab libtorch, images/s | PyTorch eager, images/s | flex / PyTorch | libtorch / PyTorch |")
print("|---|---|---|---|---|---|")
r = lambda a, b: f"{float(a) / float(b):.2f}x" if "-" not in (a, b) else ""
for line in sys.stdin:
    p, flex, torch, eager = line.split()
    print(f"| {p} | {flex} | {torch} | {eager} | {r(flex, eager)} | {r(torch, eager)} |")
print()
' "$THREADS" >> BENCHMARKS.md
