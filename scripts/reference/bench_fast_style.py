#!/usr/bin/env python3
"""PyTorch reference for `ai-art bench fast-style` (`src/cli/bench.rs`, `fast_style`): the same
cases, with the same networks and loss.

* inference: pytorch/examples' `TransformerNet` at its published width (32/64/128, 5 residual
  blocks; `fast_style_network.py`, the same module names), random weights, in eval mode under
  `no_grad`, on one `size x size` image of pixels in [0, 255]; the result is clamped and
  copied to the host (as a frame of a live video would be) each time;
* training: one step of `make_fast_style_fixtures.py` (content on relu2_2, Gram style on
  relu1_2, relu2_2, relu3_4, relu4_4, Adam 1e-3) with torchvision's VGG19 features at full
  width up to relu4_4 (the Rust side builds no deeper), on a batch of random images; the
  losses are read back every step, as the Rust side does.

One warm-up run, then the median of `--steps`. On the GPU run it through `on_cuda.py`.

    python scripts/reference/bench_fast_style.py --sizes 256,512,1024 --train-sizes 256 --batches 4

Prints one JSON object per case: {"what": "inference", "size", "ms_per_image", "fps",
"threads"} or {"what": "training", "size", "batch", "ms_per_iter", "it_per_s", "threads"}.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_style_network import TransformerNet  # noqa: E402
from make_fast_style_fixtures import gram  # noqa: E402

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# torchvision vgg19 `features` indices of the layers the loss reads.
LAYERS = {"relu1_2": 3, "relu2_2": 8, "relu3_4": 17, "relu4_4": 26}


def timed(f, steps):
    f()
    samples = []
    for _ in range(max(steps, 1)):
        t = time.perf_counter()
        f()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e3


def vgg_acts(features, image01):
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    x, out = (image01 - mean) / std, {}
    for i, m in enumerate(features):
        x = m(x)
        for name, idx in LAYERS.items():
            if idx == i:
                out[name] = x
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--train-sizes", default="256")
    ap.add_argument("--batches", default="4")
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    threads = torch.get_num_threads()
    net = TransformerNet().eval()
    for size in [int(s) for s in args.sizes.split(",") if s]:
        image = torch.rand(1, 3, size, size) * 255

        def infer():
            with torch.no_grad():
                net(image).clamp(0, 255).cpu()

        ms = timed(infer, args.steps)
        print(json.dumps({"what": "inference", "size": size, "ms_per_image": ms, "fps": 1e3 / ms, "threads": threads}), flush=True)

    from torchvision.models import vgg19
    features = vgg19(weights=None).features[: max(LAYERS.values()) + 1]
    for p in features.parameters():
        p.requires_grad_(False)
    for m in features:
        if isinstance(m, torch.nn.ReLU):
            m.inplace = False
    for size in [int(s) for s in args.train_sizes.split(",") if s]:
        for batch in [int(b) for b in args.batches.split(",") if b]:
            model = TransformerNet().train()
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            style = torch.rand(1, 3, size, size)
            style_grams = [gram(a) for a in vgg_acts(features, style).values()]
            photos = torch.rand(batch, 3, size, size)

            def step():
                opt.zero_grad()
                y = model(photos * 255) / 255
                fy, fx = vgg_acts(features, y), vgg_acts(features, photos)
                content = 1e5 * F.mse_loss(fy["relu2_2"], fx["relu2_2"].detach())
                style_loss = 1e10 * sum(F.mse_loss(gram(a), g.expand(batch, -1, -1)) for a, g in zip(fy.values(), style_grams))
                total = content + style_loss
                total.backward()
                opt.step()
                [v.item() for v in (content.detach(), style_loss.detach(), total.detach())]

            ms = timed(step, args.steps)
            print(json.dumps({"what": "training", "size": size, "batch": batch, "ms_per_iter": ms, "it_per_s": 1e3 / ms, "threads": threads}), flush=True)


if __name__ == "__main__":
    main()
