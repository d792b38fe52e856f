#!/usr/bin/env bash
# `make bench`, codec speed: niclab's shipped default codec (a hyperprior) and the factorized
# codec it replaced (flex, all cores) compressing and decompressing datasets/test-photos and
# a 24-megapixel photo (6000x4000, one of the photos enlarged: tiles), against the classical
# codecs on the same photos (benches/codec_speed.py, one thread each). Appends to
# BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
NICLAB=target/release/niclab
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mp_s() { sed -n 's/.*(\([0-9.]*\) MP\/s).*/\1/p'; }
peak() { sed -n 's/.*peak memory \([0-9]*\) MB.*/\1/p'; }
# The zoo's default (models/zoo.toml's `default`), so the figures follow what users get.
DEFAULT=$(sed -n 's/^default = "\(.*\)"$/\1/p' models/zoo.toml)
MODELS=("$DEFAULT" codec-lambda-0.004)
.venv-tests/bin/python -c "
from PIL import Image
Image.open('datasets/test-photos/Bridge_by_Sander_Klootwijk.png').convert('RGB').resize((6000, 4000), Image.LANCZOS).save('$WORK/big.png')"
px=$(.venv-tests/bin/python -c "
from PIL import Image; from pathlib import Path
print(sum(Image.open(p).width * Image.open(p).height for p in Path('datasets/test-photos').glob('*.png')))")
rows=""
big=""
for m in "${MODELS[@]}"; do
  c=$($NICLAB compress --model "$m" datasets/test-photos "$WORK/nic-$m")
  d=$($NICLAB decompress --model "$m" "$WORK/nic-$m" "$WORK/png-$m")
  bytes=$(cat "$WORK/nic-$m"/*.nic | wc -c)
  bc=$($NICLAB compress --model "$m" "$WORK/big.png" "$WORK/big-$m.nic")
  bd=$($NICLAB decompress --model "$m" "$WORK/big-$m.nic" "$WORK/big-back.png")
  rows+="| niclab $m | $(echo "$c" | mp_s) | $(echo "$d" | mp_s) | $(python3 -c "print(f'{$bytes * 8 / $px:.4f}')") | $(echo "$c" | peak) / $(echo "$d" | peak) |"$'\n'
  big+="| $m | $(echo "$bc" | mp_s) | $(echo "$bc" | peak) | $(echo "$bd" | mp_s) | $(echo "$bd" | peak) |"$'\n'
done
classic=$(.venv-tests/bin/python benches/codec_speed.py datasets/test-photos)
{
  echo
  echo "## Codec speed: megapixels per second on full-size photos"
  echo
  echo "datasets/test-photos (24 photos, 9.4 MP in all). niclab: the default shipped codec"
  echo "($DEFAULT: GDN and a mean-scale hyperprior, its hyper-synthesis in"
  echo "niclab's scalar code on both sides) and the factorized codec-lambda-0.004, flex,"
  echo "both cores, through \`niclab compress\` / \`decompress\` on the folder, PNG reading and"
  echo "writing included. The classical codecs: one thread each"
  echo "(benches/codec_speed.py: JPEG and WebP in memory through Pillow's copies of the same"
  echo "libraries, AVIF and JPEG XL through their tools, PNG files included)."
  echo
  echo "| codec | encode MP/s | decode MP/s | bpp | peak memory (MB, encode / decode) |"
  echo "|---|---:|---:|---:|---:|"
  printf '%s' "$rows"
  echo "$classic" | while read -r name q enc dec bpp; do
    echo "| $name $q | $enc | $dec | $bpp | |"
  done
  echo
  echo "A 24-megapixel photo (6000x4000, tiles of 512 pixels):"
  echo
  echo "| model | compress MP/s | peak MB | decompress MP/s | peak MB |"
  echo "|---|---:|---:|---:|---:|"
  printf '%s' "$big"
  echo
} >> BENCHMARKS.md
