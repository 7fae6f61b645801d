#!/usr/bin/env python3
"""Generate the PyTorch parity fixture of Deep Dream (`src/techniques/deep_dream/tests.rs`) into
`tests/fixtures/deep_dream/`.

What: the original notebook's `deepdream` (L2 objective, jitter by rolling the image, the
gradient normalised by its mean magnitude, clamping, an image pyramid whose octaves hand their
detail on) with VGG19 in place of GoogLeNet, written as `src/techniques/deep_dream/mod.rs`
describes it, on `tests/fixtures/networks/vgg19_small.pth` (widths 4/8/16/32/32) and the
40x32 `tests/fixtures/nst/content.png` in [0, 1]. Two cases, each with its shifts given (so that
no random generator stands between the two sides):

* `steps`: three steps at the image's size on conv4_3, all channels;
* `octaves`: three octaves 1.4 apart (sizes by `round(prev / 1.4)`, half away from zero),
  two steps each, on relu3_2 channels 1 and 3; the octaves are resized with
  `F.interpolate(mode='bilinear', align_corners=False)`.

Saved: `deep_dream.safetensors` (`input`, and each case's image after each step:
`steps.1`..`steps.3`, `octaves.1`..`octaves.6`) and `deep_dream.json` (the settings and shifts).

Run (torch, torchvision, safetensors, numpy, pillow):
    /tmp/torchvenv/bin/python scripts/reference/make_deep_dream_fixtures.py
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "deep_dream"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from junyanz_networks import VGGFeatures  # noqa: E402

CASES = {
    "steps": {"layer": "conv4_3", "channels": [], "octaves": 1, "octave_scale": 1.4, "steps": 3,
              "lr": 0.02, "shifts": [[3, -2], [-5, 4], [0, 7]]},
    "octaves": {"layer": "relu3_2", "channels": [1, 3], "octaves": 3, "octave_scale": 1.4, "steps": 2,
                "lr": 0.02, "shifts": [[1, 0], [-2, 3], [4, -1], [0, -3], [2, 2], [-1, -4]]},
}


def activation(vgg, image01, layer):
    """VGG19's activation `layer` (`convB_I`, `reluB_I`) of an image in [0, 1], as
    `VGGFeatures.activations` names them, without running the layers after it (small octaves
    are too small for the last pools)."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x, b, i = (image01 - mean) / std, 1, 0
    for m in vgg.features:
        x = m(x)
        if isinstance(m, torch.nn.Conv2d):
            i += 1
            name = f"conv{b}_{i}"
        elif isinstance(m, torch.nn.ReLU):
            name = f"relu{b}_{i}"
        else:
            b, i, name = b + 1, 0, f"pool{b}"
        if name == layer:
            return x
    raise ValueError(layer)


def objective(vgg, x, layer, channels):
    a = activation(vgg, x, layer)
    if channels:
        a = a[:, channels]
    return (a * a).mean()


def step(vgg, img, shift, c):
    dy, dx = shift
    rolled = torch.roll(img, shifts=(dy, dx), dims=(2, 3))
    x = rolled.clone().requires_grad_(True)
    objective(vgg, x, c["layer"], c["channels"]).backward()
    g = x.grad
    moved = rolled + c["lr"] * g / (g.abs().mean() + 1e-8)
    return torch.roll(moved, shifts=(-dy, -dx), dims=(2, 3)).clamp(0, 1).detach()


def octave_sizes(h, w, n, scale):
    sizes = [(h, w)]
    for _ in range(1, max(n, 1)):
        ph, pw = sizes[-1]
        sizes.append((max(math.floor(ph / scale + 0.5), 1), max(math.floor(pw / scale + 0.5), 1)))
    return sizes[::-1]


def resize(x, size):
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def dream(vgg, image, c):
    shifts = list(c["shifts"])
    sizes = octave_sizes(image.shape[2], image.shape[3], c["octaves"], c["octave_scale"])
    detail = torch.zeros(1, 3, *sizes[0])
    out = []
    for size in sizes:
        base = resize(image, size)
        current = (base + resize(detail, size)).clamp(0, 1)
        for _ in range(c["steps"]):
            current = step(vgg, current, shifts.pop(0), c)
            out.append(current)
        detail = current - base
    return out, sizes


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    OUT.mkdir(parents=True, exist_ok=True)
    vgg = VGGFeatures([4, 8, 16, 32, 32], "max")
    vgg.load_state_dict(torch.load(ROOT / "tests/fixtures/networks/vgg19_small.pth", map_location="cpu", weights_only=True), strict=True)
    vgg.eval()
    for p in vgg.parameters():
        p.requires_grad_(False)
    img = Image.open(ROOT / "tests/fixtures/nst/content.png").convert("RGB")
    image = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)[None].contiguous()
    tensors = {"input": image}
    meta = {"generator": "scripts/reference/make_deep_dream_fixtures.py", "torch": torch.__version__.split("+")[0], "cases": {}}
    for name, c in CASES.items():
        images, sizes = dream(vgg, image, c)
        for i, t in enumerate(images, 1):
            tensors[f"{name}.{i}"] = t.contiguous()
        meta["cases"][name] = dict(c, sizes=[list(s) for s in sizes])
        print(name, sizes, [float((t - image if t.shape == image.shape else t).abs().mean()) for t in images])
    save_file(tensors, str(OUT / "deep_dream.safetensors"))
    with open(OUT / "deep_dream.json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    for p in OUT.iterdir():
        p.chmod(0o644)


if __name__ == "__main__":
    main()
