"""Pillow's side of the JPEG benchmark: encode + decode every image of a folder at one
quality, on one thread, as niclab's per-image JPEG time is measured. Prints the mean seconds
per image and the total bytes (niclab's files are byte-identical, so the totals must match).

Usage: pillow_jpeg.py FOLDER QUALITY
"""

import io
import sys
import time
from pathlib import Path

from PIL import Image


def main(folder, quality):
    images = [Image.open(p).convert("RGB") for p in sorted(Path(folder).rglob("*.png"))]
    for im in images:
        im.load()
    total_bytes, elapsed = 0, 0.0
    for im in images:
        t = time.perf_counter()
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality)
        back = Image.open(io.BytesIO(buf.getvalue()))
        back.load()
        elapsed += time.perf_counter() - t
        total_bytes += buf.tell()
    print(f"{elapsed / len(images):.8f} {total_bytes} {len(images)}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
