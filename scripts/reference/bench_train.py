#!/usr/bin/env python3
"""PyTorch CPU reference for `scripts/bench-train.sh`: time per training iteration.

The same runs as `ai-art bench train` (`src/techniques/training/session.rs`, `benchmark`): the
official networks at full width and the official iteration of junyanz/pytorch-CycleGAN-and-pix2pix
(`Pix2PixModel.optimize_parameters`, `CycleGANModel.optimize_parameters`), with the reference
classes and helpers of `make_training_fixtures.py` (checked against the Rust trainers there):
  pix2pix:  UnetGenerator(3, 3, log2(size) downs, at most 8, ngf 64, instance norm, dropout 0.5)
            and NLayerDiscriminator(6, 64, 3) on cat((A, B), 1); LSGAN + 100 * L1.
  cyclegan: two ResnetGenerator(3, 3, 64, 9 blocks, instance norm, reflect padding), two
            NLayerDiscriminator(3, 64, 3), LSGAN, cycle 10, identity 0.5, 50-image pools.
  Adam 2e-4 (0.5, 0.999); batches of noise in [-1, 1] (the time does not depend on the values).
One warm-up iteration, then the median of `--iters`; the losses are read back every iteration,
as the Rust side does.

    python scripts/reference/bench_train.py --models pix2pix,cyclegan --sizes 128,256 --batches 1,4

Prints one JSON object per case: {"model", "size", "batch", "iters", "ms_per_iter", "it_per_s",
"generator", "threads"}.
"""

import argparse
import itertools
import json
import random
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_training_fixtures import (  # noqa: E402
    ImagePool, adam, build_net, cyclegan_iteration, init_weights, pix2pix_iteration)


def pix2pix(size):
    downs = min(8, (size & -size).bit_length() - 1)
    G = init_weights(build_net({"class": "UnetGenerator", "input_nc": 3, "output_nc": 3,
                                "num_downs": downs, "ngf": 64, "norm": "instance",
                                "use_dropout": True}))
    D = init_weights(build_net({"class": "NLayerDiscriminator", "input_nc": 6, "ndf": 64,
                                "n_layers": 3, "norm": "instance"}))
    opt_G, opt_D = adam(G.parameters()), adam(D.parameters())

    def step(real_A, real_B):
        _, losses = pix2pix_iteration(G, D, opt_G, opt_D, real_A, real_B, 100.0)
        return [float(v.detach()) for v in losses]

    return step, f"unet_{1 << downs}"


def cyclegan(size):
    g = {"class": "ResnetGenerator", "input_nc": 3, "output_nc": 3, "ngf": 64, "n_blocks": 9,
         "norm": "instance", "use_dropout": False}
    d = {"class": "NLayerDiscriminator", "input_nc": 3, "ndf": 64, "n_layers": 3, "norm": "instance"}
    G_A, G_B = init_weights(build_net(g)), init_weights(build_net(g))
    D_A, D_B = init_weights(build_net(d)), init_weights(build_net(d))
    opt_G = adam(itertools.chain(G_A.parameters(), G_B.parameters()))
    opt_D = adam(itertools.chain(D_A.parameters(), D_B.parameters()))
    rng = random.Random(0)
    pool_A, pool_B = ImagePool(50, rng), ImagePool(50, rng)

    def step(real_A, real_B):
        _, losses = cyclegan_iteration(G_A, G_B, D_A, D_B, opt_G, opt_D, pool_A, pool_B,
                                       real_A, real_B, 10.0, 10.0, 0.5)
        return [float(v.detach()) for v in losses]

    return step, "resnet_9blocks"


def bench(model, size, batch, iters):
    torch.manual_seed(0)
    step, generator = {"pix2pix": pix2pix, "cyclegan": cyclegan}[model](size)
    real_A = torch.rand(batch, 3, size, size) * 2 - 1
    real_B = torch.rand(batch, 3, size, size) * 2 - 1
    step(real_A, real_B)
    samples = []
    for _ in range(iters):
        t = time.perf_counter()
        step(real_A, real_B)
        samples.append(time.perf_counter() - t)
    ms = statistics.median_high(samples) * 1e3
    return {"model": model, "size": size, "batch": batch, "iters": iters, "ms_per_iter": ms,
            "it_per_s": 1e3 / ms, "generator": generator, "threads": torch.get_num_threads()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="pix2pix,cyclegan")
    ap.add_argument("--sizes", default="128,256")
    ap.add_argument("--batches", default="1,4")
    ap.add_argument("--iters", type=int, default=3)
    args = ap.parse_args()
    for m in args.models.split(","):
        for s in args.sizes.split(","):
            for b in args.batches.split(","):
                print(json.dumps(bench(m, int(s), int(b), max(1, args.iters))), flush=True)


if __name__ == "__main__":
    main()
