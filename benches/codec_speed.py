"""`make bench`, codec speed: encode and decode megapixels per second of the classical
codecs on the full-size photos of datasets/test-photos, one thread each, the image already
in memory where the library allows it:
- JPEG (q75) and WebP (q75) through Pillow 13, which bundles the same libjpeg-turbo 3.1 and
  libwebp 1.6.0 as niclab (in memory, no files);
- AVIF (qp 32) and JPEG XL (q75) through Debian's avifenc / avifdec and cjxl / djxl, as
  niclab runs them (one worker thread; PNG in, PNG out on the disk: the tool's real cost).
Prints one line per codec: name, encode MP/s, decode MP/s, bits per pixel."""

import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image


def timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def main():
    photos = sorted(Path(sys.argv[1]).glob("*.png"))
    imgs = [Image.open(p).convert("RGB") for p in photos]
    for im in imgs:
        im.load()
    mp = sum(im.width * im.height for im in imgs) / 1e6
    px = mp * 1e6
    for name, fmt, kw in [("jpeg q75", "JPEG", {"quality": 75}), ("webp q75", "WEBP", {"quality": 75})]:
        enc = dec = bits = 0.0
        for im in imgs:
            buf = io.BytesIO()
            _, s = timed(lambda: im.save(buf, fmt, **kw))
            enc += s
            data = buf.getvalue()
            bits += 8 * len(data)
            _, s = timed(lambda: Image.open(io.BytesIO(data)).load())
            dec += s
        print(f"{name} {mp / enc:.2f} {mp / dec:.2f} {bits / px:.4f}")
    tools = [
        ("avif qp32", ["avifenc", "-j", "1", "--min", "32", "--max", "32"], ["avifdec", "-j", "1"], "avif"),
        ("jxl q75", ["cjxl", "--quiet", "-q", "75", "--num_threads=1"], ["djxl", "--quiet", "--num_threads=1"], "jxl"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, encode, decode, ext in tools:
            enc = dec = bits = 0.0
            for p in photos:
                out = Path(tmp) / f"x.{ext}"
                _, s = timed(lambda: subprocess.run([*encode, str(p), str(out)], check=True, capture_output=True))
                enc += s
                bits += 8 * out.stat().st_size
                back = Path(tmp) / "back.png"
                _, s = timed(lambda: subprocess.run([*decode, str(out), str(back)], check=True, capture_output=True))
                dec += s
            print(f"{name} {mp / enc:.2f} {mp / dec:.2f} {bits / px:.4f}")


if __name__ == "__main__":
    main()
