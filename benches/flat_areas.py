"""Where a codec's error lies on full-size photos, and what it does with flat colour (an
independent check in numpy, not niclab's code). For each folder of decoded images against
the originals, means over the images of:
- PSNR;
- the share of the squared error that is low-frequency: the error of the 16x16 block means
  (a colour or brightness shifted over a patch, not lost detail);
- the share that is a 16-pixel periodic pattern: the signed error averaged over all 16x16
  cells at each position of the cell (a grid, as transposed convolutions leave at the
  latent's spacing), its mean removed.
The other modes serve benches/flat_areas.sh: --flat DIR writes the two synthetic images (a
flat 384x256 patch of one blue, a vertical gradient between two blues); --webp Q SRC OUT
codes every PNG of SRC with WebP at quality Q through Pillow (OUT gets the .webp files and
their decoded PNGs) and prints the mean bits per pixel; --patches FLAT reads "codec image
bytes decoded.png" lines and prints the table of what each codec made of the images.

usage: flat_areas.py ORIGINALS NAME=DECODED... | --flat DIR | --webp Q SRC OUT | --patches FLAT"""

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

CELL = 16


def flat_images(out):
    out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((256, 384, 3), (90, 120, 170), np.uint8)).save(out / "flat.png")
    g = np.linspace(0.0, 1.0, 256)[:, None, None]
    sky = np.array([60, 90, 150]) * (1 - g) + np.array([120, 150, 200]) * g
    sky = sky * np.ones((1, 384, 1))
    Image.fromarray(sky.round().astype(np.uint8)).save(out / "grad.png")


def load(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


def shares(a, b):
    e = b - a
    mse = (e**2).mean()
    h, w = (a.shape[0] // CELL) * CELL, (a.shape[1] // CELL) * CELL
    cells = e[:h, :w].reshape(h // CELL, CELL, w // CELL, CELL, 3)
    inner = (e[:h, :w] ** 2).mean()
    low = (cells.mean(axis=(1, 3)) ** 2).mean() / inner
    pattern = cells.mean(axis=(0, 2))
    pattern = pattern - pattern.mean(axis=(0, 1))
    periodic = (pattern**2).mean() / inner
    return 10 * np.log10(255**2 / mse), low, periodic


def webp(quality, src, out):
    out.mkdir(parents=True)
    bpp = []
    for p in sorted(src.glob("*.png")):
        image = Image.open(p).convert("RGB")
        b = io.BytesIO()
        image.save(b, "WEBP", quality=quality)
        (out / (p.stem + ".webp")).write_bytes(b.getvalue())
        Image.open(b).convert("RGB").save(out / p.name)
        bpp.append(8 * len(b.getvalue()) / (image.width * image.height))
    print(f"{np.mean(bpp):.3f}")


def patches(flat, lines):
    print(
        "| codec | image | bytes | PSNR (dB) | mean error R / G / B (levels) "
        "| 16-px periodic std (levels) |"
    )
    print("|---|---|---:|---:|---|---:|")
    for line in lines:
        name, image, size, path = line.split()
        e = load(path) - load(flat / (image + ".png"))
        # 32 pixels in from the border, where the codecs' padding reaches.
        inner = e[32:-32, 32:-32]
        h, w = inner.shape[0] // CELL, inner.shape[1] // CELL
        cells = inner.reshape(h, CELL, w, CELL, 3).mean(axis=(0, 2))
        bias = " / ".join(f"{v:+.1f}" for v in e.mean(axis=(0, 1)))
        psnr = 10 * np.log10(255**2 / max((e**2).mean(), 1e-10))
        print(
            f"| {name.replace('_', ' ')} | {image} | {size} | {psnr:.2f} | {bias} "
            f"| {cells.std():.2f} |"
        )


def main(args):
    if args[0] == "--flat":
        flat_images(Path(args[1]))
        return
    if args[0] == "--webp":
        webp(int(args[1]), Path(args[2]), Path(args[3]))
        return
    if args[0] == "--patches":
        patches(Path(args[1]), sys.stdin)
        return
    originals = sorted(Path(args[0]).glob("*.png"))
    print("| decoded | PSNR (dB) | low-frequency share | 16-px periodic share |")
    print("|---|---:|---:|---:|")
    for arg in args[1:]:
        name, folder = arg.split("=", 1)
        rows = [shares(load(p), load(Path(folder) / p.name)) for p in originals]
        psnr, low, periodic = np.mean(rows, axis=0)
        print(f"| {name} | {psnr:.2f} | {low:.3f} | {periodic:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
