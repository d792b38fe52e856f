"""Error of decoded pixels binned by the original's level (16 bins of 16 levels, the three
channels together), for niclab's files against WebP at each file's bytes (Pillow's libwebp,
the highest quality that fits). An outside look at where a codec's error sits: a decoder
whose output cannot reach black or white shows a bias towards grey in the end bins.

    bias_by_level.py PHOTOS NIC_DIR DECODED_DIR

PHOTOS holds the originals (PNG), NIC_DIR the `.nic` files of `niclab compress PHOTOS NIC_DIR`,
DECODED_DIR the PNGs of `niclab decompress NIC_DIR DECODED_DIR`.
"""

import io
import os
import sys

import numpy as np
from PIL import Image


def webp_at(img, target):
    """The decoded WebP of the highest quality whose file fits `target` bytes (quality 0 if none)."""
    lo, hi, best = 0, 100, None
    while lo <= hi:
        q = (lo + hi) // 2
        buf = io.BytesIO()
        img.save(buf, "WEBP", quality=q)
        if buf.tell() <= target:
            best, lo = buf.getvalue(), q + 1
        else:
            hi = q - 1
    if best is None:
        buf = io.BytesIO()
        img.save(buf, "WEBP", quality=0)
        best = buf.getvalue()
    return np.asarray(Image.open(io.BytesIO(best)).convert("RGB"), dtype=np.float64)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    photos, nics, decoded = sys.argv[1:]
    edges = np.arange(0, 257, 16)
    sums = {k: np.zeros((3, 16)) for k in ("niclab", "webp")}  # error, squared error, count
    for name in sorted(f for f in os.listdir(photos) if f.endswith(".png")):
        img = Image.open(os.path.join(photos, name)).convert("RGB")
        orig = np.asarray(img, dtype=np.float64)
        ours = np.asarray(Image.open(os.path.join(decoded, name)).convert("RGB"), dtype=np.float64)
        size = os.path.getsize(os.path.join(nics, name[:-4] + ".nic"))
        level = np.digitize(orig, edges) - 1
        for key, out in (("niclab", ours), ("webp", webp_at(img, size))):
            err = out - orig
            for b in range(16):
                sel = level == b
                sums[key][:, b] += (err[sel].sum(), (err[sel] ** 2).sum(), sel.sum())
    total = sums["niclab"][2].sum()
    print("| original level | share of samples | niclab bias | niclab RMSE | WebP bias | WebP RMSE |")
    print("|---|---:|---:|---:|---:|---:|")
    for b in range(16):
        n = sums["niclab"][2, b]
        if n == 0:
            continue
        cols = []
        for key in ("niclab", "webp"):
            e, e2, _ = sums[key][:, b]
            cols += [f"{e / n:+.2f}", f"{np.sqrt(e2 / n):.2f}"]
        print(f"| {edges[b]}-{edges[b + 1] - 1} | {100 * n / total:.1f} % | " + " | ".join(cols) + " |")


if __name__ == "__main__":
    main()
