#!/usr/bin/env python3
"""PyTorch CPU reference for `scripts/bench-nst.sh`: time per style-transfer step.

The same method as `src/techniques/style_transfer.rs` (and `make_nst_fixtures.py`, where it is checked
step by step): torchvision's VGG19 features (full width, random weights: the timing does not
depend on the values), ImageNet normalisation inside, content loss on conv4_2, Gram style loss
on conv1_1..conv5_1 with equal weights, total variation, Adam on the [0, 1] pixels, clamp after
each step. One warm-up step, then the median of `--steps` timed steps.

    python scripts/reference/bench_nst.py --sizes 256,512 --steps 3

Prints one JSON object per size: {"size": 256, "height": 192, "ms_per_step": ..., "threads": ...}.
The image is size x (size * 3 / 4), as the Rust side uses.
"""

import argparse
import json
import statistics
import time

import torch

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
CONTENT = "conv4_2"
STYLE = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]


def features():
    layers, names, c, b, i = [], [], 3, 1, 1
    for v in CFG:
        if v == "M":
            layers.append(torch.nn.MaxPool2d(2, 2))
            names.append(f"pool{b}")
            b, i = b + 1, 1
        else:
            layers += [torch.nn.Conv2d(c, v, 3, padding=1), torch.nn.ReLU()]
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
            c, i = v, i + 1
    return torch.nn.Sequential(*layers), names


def activations(net, names, x, wanted):
    out, h = {}, (x - MEAN) / STD
    deepest = max(names.index(w) for w in wanted)
    for k, layer in enumerate(net):
        h = layer(h)
        if names[k] in wanted:
            out[names[k]] = h
        if k == deepest:
            break
    return out


def gram(f):
    _, c, h, w = f.shape
    f = f.reshape(c, h * w)
    return f @ f.t() / (c * h * w)


def tv(x):
    return ((x[:, :, 1:, :] - x[:, :, :-1, :]) ** 2).mean() + ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).mean()


def bench(size, steps):
    torch.manual_seed(0)
    net, names = features()
    for p in net.parameters():
        p.requires_grad_(False)
    h = size * 3 // 4
    content, style = torch.rand(1, 3, h, size), torch.rand(1, 3, h, size)
    wanted = set(STYLE + [CONTENT])
    with torch.no_grad():
        target_c = activations(net, names, content, wanted)[CONTENT]
        target_s = {k: gram(v) for k, v in activations(net, names, style, wanted).items() if k in STYLE}
    x = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.02)

    def step():
        opt.zero_grad()
        acts = activations(net, names, x, wanted)
        lc = ((acts[CONTENT] - target_c) ** 2).mean()
        ls = sum(((gram(acts[k]) - target_s[k]) ** 2).mean() for k in STYLE) / len(STYLE)
        total = lc + 1e6 * ls + 0.1 * tv(x)
        total.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
        return float(total.detach())  # the Rust side reads its losses back every step too

    step()
    samples = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        samples.append(time.perf_counter() - t)
    return {"size": size, "height": h, "ms_per_step": statistics.median(samples) * 1e3, "threads": torch.get_num_threads()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    for s in args.sizes.split(","):
        print(json.dumps(bench(int(s), args.steps)), flush=True)


if __name__ == "__main__":
    main()
