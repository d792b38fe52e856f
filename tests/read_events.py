"""Reads a run folder with TensorBoard's own EventAccumulator and prints JSON, for
tests/tensorboard.rs: scalars, images (size and SHA-256 of the decoded RGB pixels),
histograms, and the HParams session data.

Usage: read_events.py RUN_DIR
"""

import hashlib
import io
import json
import sys

import numpy as np
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2


def main(run_dir):
    acc = EventAccumulator(run_dir, size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    out = {"scalars": {}, "images": {}, "histograms": {}, "hparams": {}}
    for tag in tags["scalars"]:
        out["scalars"][tag] = [[e.step, e.value] for e in acc.Scalars(tag)]
    for tag in tags["images"]:
        rows = []
        for e in acc.Images(tag):
            img = Image.open(io.BytesIO(e.encoded_image_string)).convert("RGB")
            rows.append({
                "step": e.step, "width": e.width, "height": e.height,
                "png_size": list(img.size),
                "sha256": hashlib.sha256(np.asarray(img).tobytes()).hexdigest(),
            })
        out["images"][tag] = rows
    for tag in tags["histograms"]:
        out["histograms"][tag] = [
            {"step": e.step, "min": e.histogram_value.min, "max": e.histogram_value.max,
             "num": e.histogram_value.num, "bucket": list(e.histogram_value.bucket_limit and e.histogram_value.bucket)}
            for e in acc.Histograms(tag)
        ]
    try:
        hparams = acc.PluginTagToContent("hparams")
    except KeyError:  # a run without HParams data (an evaluation sub-run)
        hparams = {}
    for tag, content in hparams.items():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        kind = data.WhichOneof("data")
        if kind == "session_start_info":
            hp = {}
            for k, v in data.session_start_info.hparams.items():
                hp[k] = v.number_value if v.WhichOneof("kind") == "number_value" else v.string_value
            out["hparams"][tag] = hp
        elif kind == "session_end_info":
            out["hparams"][tag] = {"status": data.session_end_info.status}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
