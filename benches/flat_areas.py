"""Where a codec's error lies on full-size photos, and what it does with flat colour (an
independent check in numpy, not niclab's code). For each folder of decoded images against
the originals, means over the images of:
- PSNR;
- the share of the squared error that is low-frequency: the error of the 16x16 block means
  (a colour or brightness shifted over a patch, not lost detail);
- the share that is a 16-pixel periodic pattern: the signed error averaged over all 16x16
  cells at each position of the cell (a grid, as transposed convolutions leave at the
  latent's spacing), its mean removed.
With --flat DIR it writes the two synthetic images of that test instead: a flat 384x256
patch of one blue and a vertical gradient between two blues.

usage: flat_areas.py ORIGINALS NAME=DECODED... | flat_areas.py --flat DIR"""

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


def main(args):
    if args[0] == "--flat":
        flat_images(Path(args[1]))
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
