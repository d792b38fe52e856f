#!/usr/bin/env bash
# `make bench`, flat areas: where the learned codecs' error lies on datasets/test-photos
# (low-frequency and 16-pixel periodic shares, benches/flat_areas.py) and what each codes a
# flat patch and a gentle gradient to, against WebP (Pillow's libwebp 1.6.0) at qualities of
# about the same bits. Appends to BENCHMARKS.md. MODELS overrides the models measured.
set -euo pipefail
cd "$(dirname "$0")/.."
NICLAB=target/release/niclab
PY=.venv-tests/bin/python
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# The zoo's default, and the third recipe's MSE model the earlier figures measured.
DEFAULT=$(sed -n 's/^default = "\(.*\)"$/\1/p' models/zoo.toml)
read -r -a MODELS <<< "${MODELS:-$DEFAULT hyperprior3-mse-0.002}"
$PY benches/flat_areas.py --flat "$WORK/flat"
args=()
flat=""
for m in "${MODELS[@]}"; do
  for set in photos flat; do
    src=datasets/test-photos
    [ "$set" = flat ] && src="$WORK/flat"
    $NICLAB compress --backend flex --model "$m" "$src" "$WORK/nic-$set-$m" > /dev/null
    $NICLAB decompress --backend flex --model "$m" "$WORK/nic-$set-$m" "$WORK/png-$set-$m" > /dev/null
  done
  args+=("$m=$WORK/png-photos-$m")
  for f in flat grad; do
    flat+="$m $f $(wc -c < "$WORK/nic-flat-$m/$f.nic") $WORK/png-flat-$m/$f.png"$'\n'
  done
done
for q in 10 30; do
  bpp=$($PY benches/flat_areas.py --webp "$q" datasets/test-photos "$WORK/webp$q-photos")
  $PY benches/flat_areas.py --webp "$q" "$WORK/flat" "$WORK/webp$q-flat" > /dev/null
  args+=("WebP q$q ($bpp bpp)=$WORK/webp$q-photos")
  for f in flat grad; do
    flat+="WebP_q$q $f $(wc -c < "$WORK/webp$q-flat/$f.webp") $WORK/webp$q-flat/$f.png"$'\n'
  done
done
table=$($PY benches/flat_areas.py datasets/test-photos "${args[@]}")
flats=$(printf '%s' "$flat" | $PY benches/flat_areas.py --patches "$WORK/flat")
{
  echo
  echo "## Flat areas: where the error lies"
  echo
  echo "datasets/test-photos, whole images decoded on flex; WebP through Pillow (libwebp 1.6.0)."
  echo "Low-frequency share: the part of the squared error that the 16x16 block means carry;"
  echo "periodic share: the part that repeats every 16 pixels (benches/flat_areas.py)."
  echo
  echo "$table"
  echo
  echo "A flat 384x256 patch of (90, 120, 170) and a vertical gradient from (60, 90, 150) to"
  echo "(120, 150, 200) (periodic std: of the mean 16x16 cell of the error, 32 pixels in from the border):"
  echo
  echo "$flats"
  echo
} >> BENCHMARKS.md
