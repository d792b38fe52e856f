"""References for tests/classic.rs, run on the folder it gives:

- every `NAME.png` is encoded to WebP by Pillow (libwebp 1.6.0, its bundled copy) at each
  quality in WEBP_QUALITIES, as `NAME_webp_qQ.webp`;
- every `*.webp`, `*.avif` and `*.jxl` file niclab wrote there (`niclab_*`) is decoded by an
  independent decoder to `FILE.ref.png`: Pillow for WebP and AVIF (its libavif 1.4 with
  dav1d, not Debian's avifdec), imagecodecs' libjxl 0.11 for JPEG XL.

Prints JSON: the versions used."""

import json
import sys
from pathlib import Path

import imagecodecs
import numpy as np
import PIL
from PIL import Image, features

WEBP_QUALITIES = [75, 20]


def main():
    folder = Path(sys.argv[1])
    for src in sorted(folder.glob("*.png")):
        if src.stem.startswith("niclab_") or src.name.endswith(".ref.png"):
            continue
        img = Image.open(src).convert("RGB")
        for q in WEBP_QUALITIES:
            img.save(folder / f"{src.stem}_webp_q{q}.webp", "WEBP", quality=q)
    for f in sorted(folder.glob("niclab_*")):
        if f.suffix in (".webp", ".avif"):
            Image.open(f).convert("RGB").save(f.with_name(f.name + ".ref.png"))
        elif f.suffix == ".jxl":
            rgb = imagecodecs.jpegxl_decode(f.read_bytes())
            Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(f.with_name(f.name + ".ref.png"))
    print(
        json.dumps(
            {
                "pillow": PIL.__version__,
                "libwebp": features.version("webp"),
                "libjxl": imagecodecs.jpegxl_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
