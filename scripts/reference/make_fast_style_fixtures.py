#!/usr/bin/env python3
"""Generate the PyTorch parity fixture of fast style training (`src/techniques/fast_style/tests.rs`)
into `tests/fixtures/fast_style/`.

What: the training loop of pytorch/examples' `fast_neural_style` (`neural_style.py train`), with
VGG19 in place of its VGG16 (the studio's network): a `TransformerNet` (`fast_style_network.py`,
the same module names, reduced to widths 4/8/16 and 2 residual blocks) learns from batches of
images in [0, 255]; the content loss is the mean squared error of the relu2_2 activations of
output and input, the style loss the sum over relu1_2, relu2_2, relu3_4, relu4_4 of the mean
squared error between the output's Gram matrices (`F F^T / (C H W)`) and the style image's, and
(an addition of ours, off in pytorch/examples) a total-variation term (the mean squared
difference of neighbouring pixels, down and across, of the output in [0, 1]). VGG19 gets
`x / 255`, ImageNet-normalised; its weights are `tests/fixtures/networks/vgg19_small.pth`
(widths 4/8/16/32/32). Adam (PyTorch's defaults: betas 0.9, 0.999, eps 1e-8), three steps.
The loss weights are chosen so that each term is of order 1 with these small random networks
(pytorch/examples' 1e5 and 1e10 suit the real VGG at 256 px).

Saved: `init.safetensors` (the network's initial weights, pytorch/examples' key names),
`batches.safetensors` (`batch0`..`batch2`, [2, 3, 32, 32] in [0, 1]: the training images, so
that no image decoder stands between the two sides), `after3.safetensors` (the weights after
three steps), and `fast_style.json` (settings; each step's losses, computed before its update).
The style image is `tests/fixtures/nst/style.png`, read as [0, 1] (PIL, as the studio decodes
it: 8-bit RGB / 255).

Run (torch, torchvision, safetensors, numpy, pillow):
    /tmp/torchvenv/bin/python scripts/reference/make_fast_style_fixtures.py
Deterministic: fixed seeds, one CPU thread.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "fast_style"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_style_network import TransformerNet  # noqa: E402
from junyanz_networks import VGGFeatures  # noqa: E402

SETTINGS = {
    "widths": [4, 8, 16], "n_res": 2,
    "content_layer": "relu2_2", "style_layers": ["relu1_2", "relu2_2", "relu3_4", "relu4_4"],
    "content_weight": 1.0, "style_weight": 1.0, "tv_weight": 1e6, "lr": 1e-3,
    "batch": [2, 3, 32, 32], "steps": 3,
}


def gram(f):
    b, c, h, w = f.shape
    f = f.reshape(b, c, h * w)
    return f.bmm(f.transpose(1, 2)) / (c * h * w)


def tv(x):
    return F.mse_loss(x[:, :, 1:, :], x[:, :, :-1, :]) + F.mse_loss(x[:, :, :, 1:], x[:, :, :, :-1])


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    OUT.mkdir(parents=True, exist_ok=True)
    s = SETTINGS

    vgg = VGGFeatures([4, 8, 16, 32, 32], "max")
    state = torch.load(ROOT / "tests/fixtures/networks/vgg19_small.pth", map_location="cpu", weights_only=True)
    vgg.load_state_dict(state, strict=True)
    vgg.eval()
    for p in vgg.parameters():
        p.requires_grad_(False)

    style = Image.open(ROOT / "tests/fixtures/nst/style.png").convert("RGB")
    style = torch.from_numpy(np.asarray(style, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    style_acts = vgg.activations(style)
    style_grams = [gram(style_acts[l]) for l in s["style_layers"]]

    torch.manual_seed(2024)
    net = TransformerNet(3, 3, s["widths"], s["n_res"])
    gen = torch.Generator().manual_seed(2025)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.InstanceNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0.0, 0.1, generator=gen)
    save_file({k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}, str(OUT / "init.safetensors"))

    batches = {f"batch{i}": torch.rand(s["batch"], generator=gen) for i in range(s["steps"])}
    save_file(batches, str(OUT / "batches.safetensors"))

    opt = torch.optim.Adam(net.parameters(), lr=s["lr"])
    losses = []
    for i in range(s["steps"]):
        x = batches[f"batch{i}"]
        opt.zero_grad()
        y = net(x * 255.0) / 255.0
        fy, fx = vgg.activations(y), vgg.activations(x)
        content = s["content_weight"] * F.mse_loss(fy[s["content_layer"]], fx[s["content_layer"]].detach())
        style_loss = sum(F.mse_loss(gram(fy[l]), g.expand(x.shape[0], -1, -1)) for l, g in zip(s["style_layers"], style_grams))
        style_loss = s["style_weight"] * style_loss
        tv_loss = s["tv_weight"] * tv(y)
        total = content + style_loss + tv_loss
        total.backward()
        if i == 0:
            grads = {n: float(p.grad.abs().max()) for n, p in net.named_parameters()}
        opt.step()
        losses.append({"content": content.item(), "style": style_loss.item(), "tv": tv_loss.item(), "total": total.item()})
    save_file({k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}, str(OUT / "after3.safetensors"))
    # Parameters whose gradient is zero but for rounding: the biases of convolutions an instance
    # norm follows, and the residual blocks' last norm biases (a per-channel shift that only
    # reaches later instance norms). Adam turns their rounding noise into steps of about the
    # learning rate, in directions no two implementations share.
    largest = max(grads.values())
    rounding_only = sorted(n for n, g in grads.items() if g < 1e-5 * largest)
    print("largest gradient", largest, "rounding only:", {n: grads[n] for n in rounding_only})
    meta = {"generator": "scripts/reference/make_fast_style_fixtures.py", "torch": torch.__version__.split("+")[0],
            "settings": s, "losses": losses, "rounding_only": rounding_only}
    for p in OUT.iterdir():
        p.chmod(0o644)
    with open(OUT / "fast_style.json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    for i, l in enumerate(losses):
        print(i, l)


if __name__ == "__main__":
    main()
