#!/usr/bin/env bash
# `make bench`, third part: JPEG encode + decode per image, niclab (libjpeg-turbo via the
# turbojpeg crate) against Pillow, on the same 1000 test crops at the same qualities, one
# after the other; also checks that both wrote the same number of bytes. Appends to
# BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
NICLAB=target/release/niclab
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Any trained model will do: only the JPEG side is read.
$NICLAB train experiments/smoke.toml --checkpoints "$WORK/ck" --runs "$WORK/runs" \
  --set train.steps=5 --set data.val_crops=4 >/dev/null 2>&1
rows=""
for q in 95 75 20 13; do
  $NICLAB eval experiments/smoke.toml --checkpoints "$WORK/ck" --runs "$WORK/runs" \
    --out "$WORK/eval$q" --jpeg-quality "$q" --no-images >/dev/null 2>&1
  ours=$(python3 -c "import json,sys; j=json.load(open(sys.argv[1]))['jpeg'][0]; print(j['seconds_per_image'], j['bytes'])" "$WORK/eval$q/summary.json")
  pillow=$(.venv-tests/bin/python benches/pillow_jpeg.py datasets/test-1000 "$q")
  echo "q$q: niclab $ours, Pillow $pillow"
  rows="$rows$q $ours $pillow\n"
done
printf "$rows" | python3 -c '
import sys
print("## JPEG encode + decode per image: niclab vs Pillow, 1000 test crops\n")
print("Each image'"'"'s encode + decode timed on the thread doing it: niclab through `niclab eval")
print("--jpeg-quality Q` (2 such threads at once), Pillow 13.0.0 through benches/pillow_jpeg.py")
print("(one thread: save to memory, open, load). Equal byte totals: the same files.\n")
print("| quality | niclab (us) | Pillow (us) | Pillow / niclab | bytes, niclab | bytes, Pillow |")
print("|---|---|---|---|---|---|")
for line in sys.stdin:
    if not line.strip():
        continue
    q, ours, ob, pil, pb, n = line.split()
    print(f"| {q} | {float(ours) * 1e6:.0f} | {float(pil) * 1e6:.0f} | {float(pil) / float(ours):.2f}x | {ob} | {pb} |")
print()
' >> BENCHMARKS.md
