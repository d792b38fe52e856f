"""Reference colour scores for tests/colour.rs: for every `NAME.png` / `NAME.test.png` pair in
the folder given, scikit-image's mean CIEDE2000 (deltaE_ciede2000 on rgb2lab) and the PSNR of
the JFIF (ITU-T T.871) Y, Cb, Cr planes in float64 with numpy. Prints JSON {name: {...}}."""

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab

T871 = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.168736, -0.331264, 0.5],
        [0.5, -0.418688, -0.081312],
    ]
)


def psnr(se):
    return None if se == 0 else float(10 * np.log10(255.0**2 / se))


def main():
    out = {}
    for a_path in sorted(Path(sys.argv[1]).glob("*.test.png")):
        name = a_path.name[: -len(".test.png")]
        a = np.asarray(Image.open(a_path.with_name(name + ".png")).convert("RGB"))
        b = np.asarray(Image.open(a_path).convert("RGB"))
        de = deltaE_ciede2000(rgb2lab(a), rgb2lab(b))
        d = a.astype(np.float64) - b.astype(np.float64)
        planes = d @ T871.T
        se = (planes**2).reshape(-1, 3).mean(axis=0)
        out[name] = {
            "delta_e": float(de.mean()),
            "psnr_y": psnr(se[0]),
            "psnr_cb": psnr(se[1]),
            "psnr_cr": psnr(se[2]),
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
