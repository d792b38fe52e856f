"""PyTorch eager reference for `make bench`, with the niclab paper model: N conv pairs,
kernel 3, channels 64 then 128, latent 32, the first 3 pairs stride 2, ReLU, Sigmoid out.

  torch_train.py train THREADS STEPS [VGG_DIR]
      Adam, batch 16 of 128x128, loss 0.7 (1 - SSIM) + 0.3 MSE, or with VGG_DIR (weights
      written by benches/vgg_weights.py) niclab's full hybrid loss 0.6 (1 - SSIM) + 0.1
      perceptual (VGG16 relu2_2, ImageNet weights) + 0.3 MSE. Prints images/s over the timed
      steps (3 warm-up steps first). Environment: DEVICE (cpu or cuda:N, default cpu), BATCH
      (16), PRECISION (f32, or bf16: the model under torch.autocast in bfloat16, as a PyTorch
      user would write it); on CUDA it also prints the peak memory PyTorch allocated (MiB).
  torch_train.py infer THREADS PAIRS IMAGES BATCH
      Encode + decode of IMAGES random 128x128 images in batches, no autograd. Prints
      images/s (one warm-up batch first).

SSIM: Gaussian 11x11, sigma 1.5, valid region, as niclab.
"""

import json
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


# The paper's latent sizes, as experiments/paper-depth-*.toml.
LATENT = {3: 43, 5: 41, 7: 35, 10: 32}


def model(pairs, channels=(64, 128), latent=None, downsample=3):
    latent = latent or LATENT.get(pairs, 32)
    out = lambda i: latent if i == pairs - 1 else channels[min(i, len(channels) - 1)]
    inp = lambda i: 3 if i == 0 else out(i - 1)
    stride = lambda i: 2 if i < downsample else 1
    enc, dec = [], []
    for i in range(pairs):
        enc += [nn.Conv2d(inp(i), out(i), 3, stride=stride(i), padding=1), nn.ReLU()]
    for i in reversed(range(pairs)):
        s = stride(i)
        dec += [nn.ConvTranspose2d(out(i), inp(i), 3, stride=s, padding=1, output_padding=s - 1)]
        dec += [nn.ReLU() if i > 0 else nn.Sigmoid()]
    return nn.Sequential(*enc, *dec)


def gaussian():
    x = torch.arange(11, dtype=torch.float32) - 5
    g = torch.exp(-(x * x) / (2 * 1.5 ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(3, 1, 11, 11).contiguous()


def ssim(x, y, w):
    f = lambda t: F.conv2d(t, w, groups=3)
    mx, my = f(x), f(y)
    vx, vy, cxy = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean()


class Vgg(nn.Module):
    """VGG16 to relu2_2 with the ImageNet weights, frozen; input RGB in [0, 1]."""

    MEAN = torch.tensor([123.68, 116.779, 103.939]).view(1, 3, 1, 1)

    def __init__(self, folder):
        super().__init__()
        shapes = json.loads((Path(folder) / "shapes.json").read_text())
        self.convs = nn.ModuleList()
        for name, shape in shapes.items():
            conv = nn.Conv2d(shape[1], shape[0], 3, padding=1)
            read = lambda f, s: torch.frombuffer(bytearray((Path(folder) / f).read_bytes()), dtype=torch.float32).view(s)
            conv.weight.data = read(f"{name}.weight.f32", shape)
            conv.bias.data = read(f"{name}.bias.f32", [shape[0]])
            self.convs.append(conv)
        self.requires_grad_(False)

    def forward(self, x):
        h = x * 255.0 - self.MEAN
        for i, conv in enumerate(self.convs):
            if i == 2:
                h = F.max_pool2d(h, 2)
            h = F.relu(conv(h))
        return h


def train(threads, steps, vgg_dir=None):
    import os

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    device = torch.device(os.environ.get("DEVICE", "cpu"))
    batch = int(os.environ.get("BATCH", "16"))
    bf16 = os.environ.get("PRECISION", "f32") == "bf16"
    m = model(3).to(device)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    w = gaussian().to(device)
    vgg = Vgg(vgg_dir).to(device) if vgg_dir else None
    if vgg is not None:
        vgg.MEAN = vgg.MEAN.to(device)
    x = torch.rand(batch, 3, 128, 128, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for i in range(steps + 3):
        if i == 3:
            sync()
            t = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            y = m(x)
        y = y.float()
        if vgg is None:
            loss = 0.7 * (1 - ssim(y, x, w)) + 0.3 * F.mse_loss(y, x)
        else:
            perceptual = F.mse_loss(vgg(y), vgg(x).detach()) / (255.0 * 255.0)
            loss = 0.6 * (1 - ssim(y, x, w)) + 0.1 * perceptual + 0.3 * F.mse_loss(y, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync()
    rate = batch * steps / (time.perf_counter() - t)
    if device.type == "cuda":
        print(f"{rate:.2f} {torch.cuda.max_memory_allocated(device) / 2**20:.0f}")
    else:
        print(f"{rate:.2f}")


def infer(threads, pairs, images, batch):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = model(pairs).eval()
    x = torch.rand(images, 3, 128, 128)
    with torch.inference_mode():
        m(x[:batch])
        t = time.perf_counter()
        for i in range(0, images, batch):
            m(x[i : i + batch])
    print(f"{images / (time.perf_counter() - t):.2f}")


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "train":
        train(int(args[0]), int(args[1]), args[2] if len(args) > 2 else None)
    else:
        infer(*map(int, args))
