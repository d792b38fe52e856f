"""PyTorch eager reference for `make bench`: the niclab paper model (3 conv pairs, kernel 3,
channels 64/128, latent 32, 3 stride-2 pairs, ReLU, Sigmoid out) trained with
0.7 * (1 - SSIM) + 0.3 * MSE (SSIM: Gaussian 11x11, sigma 1.5, valid region), Adam, batch
16 of 128x128, on the CPU threads given. Prints images/s over the timed steps.

Usage: torch_train.py THREADS STEPS
"""

import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def model():
    enc, dec = [], []
    chans = [3, 64, 128, 32]
    for i in range(3):
        enc += [nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1), nn.ReLU()]
    for i in reversed(range(3)):
        dec += [nn.ConvTranspose2d(chans[i + 1], chans[i], 3, stride=2, padding=1, output_padding=1)]
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


def main(threads, steps):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = model()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    w = gaussian()
    x = torch.rand(16, 3, 128, 128)
    for i in range(steps + 3):
        if i == 3:
            t = time.perf_counter()
        y = m(x)
        loss = 0.7 * (1 - ssim(y, x, w)) + 0.3 * F.mse_loss(y, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"{16 * steps / (time.perf_counter() - t):.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
