#!/usr/bin/env python3
"""Generate the neural-style-transfer (Gatys et al.) parity fixtures into `tests/fixtures/nst/`.

What: two small procedural pictures (`content.png`, `style.png`, 40 wide x 32 high, 8-bit RGB) and
the loss trajectories PyTorch computes when it optimises an image with Adam against them, using
the small random-weight VGG19 of the network fixtures (`tests/fixtures/networks/vgg19_small.pth`,
torchvision layout `features.N.weight/bias`, widths [4, 8, 16, 32, 32], max pooling; built by
`make_network_fixtures.py`, whose `VGGFeatures` class is reused here). Outputs:
  * `nst_adam.json`: every hyper-parameter, the layer names, the style-weight mode and, per run and
    per step, the losses `content`, `style`, `tv`, `total` (float64 values, shortest repr that
    round-trips); for run A also the same 50 steps in float64 and the per-step relative
    float32-vs-float64 difference of each loss (how tight a parity check can be).
  * `nst_adam.safetensors` (float32 [1,3,H,W]): `run_b_init` (the noise start of run B),
    `run_a_final`, `run_b_final` (the images after the last step) and, to debug a backward pass,
    `run_a_grad0`, `run_b_grad0` (dJ/dx at step 0).

The method (the Rust side implements exactly this definition):
  * Images are float32 [1,3,H,W] in [0,1], read from the PNGs as x/255. VGG input:
    (x - mean) / std with ImageNet mean [0.485,0.456,0.406], std [0.229,0.224,0.225], then the
    torchvision `features` (max pooling). `conv{b}_{i}` is the i-th conv output of block b BEFORE
    its ReLU, `relu{b}_{i}` after (as in the network fixtures).
  * Content layer: conv4_2. Style layers: conv1_1, conv2_1, conv3_1, conv4_1, conv5_1 (L = 5).
  * Gram of F [1,C,H,W]: F reshaped to [C, H*W], G = F F^T / (C*H*W).
  * content = mean((F_l(x) - F_l(content))^2) over all elements of layer l = conv4_2.
  * style = sum_l w_l * mean((G_l(x) - G_l(style))^2) over the style layers, with
    "equal": w_l = 1/L, or "decay": w_l = 0.5^k / sum_j 0.5^j for the k-th style layer (k = 0 for
    conv1_1).
  * tv = mean((x[:,:,1:,:] - x[:,:,:-1,:])^2) + mean((x[:,:,:,1:] - x[:,:,:,:-1])^2).
  * J = alpha*content + beta*style + gamma*tv.
  * The variable is x itself (the [0,1] image). Optimiser torch.optim.Adam([x], lr=0.02,
    betas=(0.9, 0.999), eps=1e-8). Each step: zero grad; compute all losses at the current x;
    J.backward(); optimizer.step(); then, without grad, clamp x to [0,1] in place. The losses
    recorded for step s are those computed before step s's update.
  * Run A: x0 = content image, alpha=1, beta=1, gamma=1e-2, weights "equal", 50 steps.
    Run B: the same with weights "decay" and x0 = torch.rand([1,3,H,W], generator=
    torch.Generator().manual_seed(0)) (stored as `run_b_init`, so no RNG has to be reproduced).
  * beta = 1: this random-weight VGG has O(1) activations (kaiming init), so its Gram matrices
    are O(1) too, unlike the real VGG19 where beta ~ 1e3..1e6 is usual. Run A's content loss is
    exactly 0 at step 0 (x0 = content), so beta is set from run B's step 0, where content 0.096
    and style 0.116 are then of the same size; in run A both terms stay of the same order
    (content rises 0 -> 0.019 while style falls 0.163 -> 0.015 over 50 steps). With beta = 1e3
    style dominates J by ~1000x and the content term hardly matters to the trajectory.
    `--probe` prints the step-0 losses at beta = 1.

Why: the Rust style-transfer loop (VGG forward, Gram matrices, hand-written backward, Adam,
clamping) must follow the same trajectory as PyTorch for the same weights and pictures.

The fixtures are committed; torch is only needed to regenerate them. Deterministic: fixed seeds,
one CPU thread, deterministic algorithms; running it twice gives byte-identical files.

Run:
    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch safetensors numpy pillow torchvision  # CPU is enough
    /tmp/torchvenv/bin/python scripts/reference/make_nst_fixtures.py
(needs `tests/fixtures/networks/vgg19_small.pth`, written by `make_network_fixtures.py`.)
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "tests" / "fixtures" / "nst"
NETWORKS = ROOT / "tests" / "fixtures" / "networks"
sys.path.insert(0, str(HERE))
from make_network_fixtures import VGG_WIDTHS, VGGFeatures  # noqa: E402

W, H = 40, 32
CONTENT_LAYER = "conv4_2"
STYLE_LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
STEPS = 50
LR, BETAS, EPS = 0.02, (0.9, 0.999), 1e-8
ALPHA, BETA, GAMMA = 1.0, 1.0, 1e-2  # BETA: see the docstring and `--probe`
RUN_B_SEED = 0


# ---------------------------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------------------------


def draw_content():
    """A simple scene: sky gradient, sun, ground gradient, a house-like block and a tree."""
    from PIL import Image, ImageDraw

    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    t = yy / (H - 1)
    img = np.stack([60 + 120 * t, 110 + 100 * t, 210 + 30 * t], -1)
    ground = yy >= 20
    g = (yy - 20) / (H - 20)
    img[ground] = np.stack([70 + 40 * g, 140 - 40 * g, 50 + 10 * g], -1)[ground]
    # Sun with a soft glow.
    d = np.hypot(xx - 31, yy - 7)
    glow = np.exp(-(d / 6.0) ** 2)[..., None]
    img = img * (1 - 0.7 * glow) + np.array([255, 235, 150]) * 0.7 * glow
    pic = Image.fromarray(img.round().clip(0, 255).astype(np.uint8), "RGB")
    dr = ImageDraw.Draw(pic)
    dr.rectangle([6, 15, 17, 25], fill=(205, 170, 125), outline=(90, 60, 40))
    dr.polygon([(4, 15), (11, 8), (19, 15)], fill=(160, 45, 40))
    dr.rectangle([10, 19, 12, 25], fill=(95, 55, 30))
    dr.rectangle([14, 17, 16, 19], fill=(170, 215, 240))
    dr.rectangle([26, 18, 27, 27], fill=(90, 60, 30))
    dr.ellipse([21, 10, 32, 20], fill=(35, 100, 45))
    return pic


def draw_style():
    """A strongly textured pattern: diagonal coloured stripes bent by waves, plus a checker
    modulation and fixed-seed noise."""
    from PIL import Image

    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    phase = 2 * math.pi * (xx + yy) / 7.0 + 1.8 * np.sin(2 * math.pi * yy / 11.0)
    r = 0.5 + 0.5 * np.sin(phase)
    g = 0.5 + 0.5 * np.sin(phase + 2.1 + 0.6 * np.cos(2 * math.pi * xx / 13.0))
    b = 0.5 + 0.5 * np.sin(2 * math.pi * (xx - yy) / 5.0)
    checker = ((xx // 4 + yy // 4) % 2) * 0.25
    img = np.stack([r, g * (0.75 + checker), b * (1.0 - checker)], -1) * 255
    img += rng.normal(0, 20, img.shape)
    return Image.fromarray(img.round().clip(0, 255).astype(np.uint8), "RGB")


def read_png(path: Path) -> torch.Tensor:
    from PIL import Image

    arr = np.asarray(Image.open(path).convert("RGB"))
    assert arr.shape == (H, W, 3) and arr.dtype == np.uint8
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float() / 255.0


# ---------------------------------------------------------------------------------------------
# Losses and the optimisation loop
# ---------------------------------------------------------------------------------------------


def style_weights(mode: str) -> list:
    if mode == "equal":
        return [1.0 / len(STYLE_LAYERS)] * len(STYLE_LAYERS)
    if mode == "decay":
        raw = [0.5 ** k for k in range(len(STYLE_LAYERS))]
        return [v / sum(raw) for v in raw]
    raise ValueError(mode)


def gram(f: torch.Tensor) -> torch.Tensor:
    _, c, h, w = f.shape
    m = f.reshape(c, h * w)
    return m @ m.t() / (c * h * w)


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    return ((x[:, :, 1:, :] - x[:, :, :-1, :]) ** 2).mean() + \
        ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).mean()


def losses(net, x, content_target, style_targets, weights):
    acts = net.activations(x)
    content = ((acts[CONTENT_LAYER] - content_target) ** 2).mean()
    style = sum(w * ((gram(acts[l]) - g) ** 2).mean()
                for w, l, g in zip(weights, STYLE_LAYERS, style_targets))
    return content, style, tv_loss(x)


def run(net, content_img, style_img, x0, mode, alpha, beta, gamma, steps=STEPS):
    """The Adam loop of the docstring; returns per-step losses, the final x and dJ/dx at step 0."""
    weights = style_weights(mode)
    with torch.no_grad():
        content_target = net.activations(content_img)[CONTENT_LAYER]
        style_acts = net.activations(style_img)
        style_targets = [gram(style_acts[l]) for l in STYLE_LAYERS]
    x = x0.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=LR, betas=BETAS, eps=EPS)
    rows, grad0 = [], None
    for step in range(steps):
        opt.zero_grad()
        c, s, t = losses(net, x, content_target, style_targets, weights)
        total = alpha * c + beta * s + gamma * t
        total.backward()
        if step == 0:
            grad0 = x.grad.detach().clone()
        rows.append({"step": step, "content": float(c.detach()), "style": float(s.detach()),
                     "tv": float(t.detach()),
                     "total": float(total.detach())})
        opt.step()
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
    return rows, x.detach().clone(), grad0


def load_vgg(dtype=torch.float32):
    torch.manual_seed(0)  # VGGFeatures draws an init that the loaded weights then replace
    net = VGGFeatures(VGG_WIDTHS, "max").eval()
    sd = torch.load(NETWORKS / "vgg19_small.pth", map_location="cpu", weights_only=True)
    net.load_state_dict(sd, strict=True)
    for p in net.parameters():
        p.requires_grad_(False)
    return net.to(dtype)


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def table(name: str, rows: list):
    print(f"{name}\n {'step':>4} {'content':>12} {'style':>12} {'tv':>12} {'total':>12}")
    for r in rows:
        if r["step"] % 10 == 0 or r["step"] == len(rows) - 1:
            print(f" {r['step']:4d} {r['content']:12.5e} {r['style']:12.5e} {r['tv']:12.5e} "
                  f"{r['total']:12.5e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--probe", action="store_true",
                    help="print the step-0 losses (to choose beta) and write nothing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}")

    OUT.mkdir(parents=True, exist_ok=True)
    draw_content().save(OUT / "content.png", optimize=False)
    draw_style().save(OUT / "style.png", optimize=False)
    content_img, style_img = read_png(OUT / "content.png"), read_png(OUT / "style.png")
    x0_b = torch.rand([1, 3, H, W], generator=torch.Generator().manual_seed(RUN_B_SEED))
    net = load_vgg()

    if args.probe:
        for name, x0, mode in [("A", content_img, "equal"), ("B", x0_b, "decay")]:
            rows, _, _ = run(net, content_img, style_img, x0, mode, ALPHA, 1.0, GAMMA, steps=1)
            r = rows[0]
            print(f"run {name} step 0 (beta=1): content {r['content']:.4e} style {r['style']:.4e} "
                  f"tv {r['tv']:.4e} -> content/style {r['content'] / r['style']:.3e}")
        return

    runs = {
        "run_a": {"init": "content", "style_weights": "equal"},
        "run_b": {"init": f"uniform [0,1): torch.rand([1,3,{H},{W}], generator="
                          f"torch.Generator().manual_seed({RUN_B_SEED})), stored as run_b_init",
                  "style_weights": "decay"},
    }
    tensors = {"run_b_init": x0_b.contiguous()}
    for name, cfg in runs.items():
        x0 = content_img if name == "run_a" else x0_b
        rows, final, grad0 = run(net, content_img, style_img, x0, cfg["style_weights"],
                                 ALPHA, BETA, GAMMA)
        cfg.update({"alpha": ALPHA, "beta": BETA, "gamma": GAMMA,
                    "style_layer_weights": style_weights(cfg["style_weights"]), "steps": rows})
        tensors[f"{name}_final"] = final.contiguous()
        tensors[f"{name}_grad0"] = grad0.contiguous()
        table(name, rows)
        assert rows[-1]["total"] < 0.5 * rows[0]["total"], f"{name}: total did not fall"
        assert rows[-1]["style"] < 0.5 * rows[0]["style"], f"{name}: style did not fall"

    # Run A again, everything in float64 (weights, pictures, x, Adam state).
    net64 = load_vgg(torch.float64)
    rows64, final64, _ = run(net64, content_img.double(), style_img.double(), content_img.double(),
                             "equal", ALPHA, BETA, GAMMA)
    rows32 = runs["run_a"]["steps"]
    keys = ["content", "style", "tv", "total"]
    reldiff = [{"step": a["step"], **{k: rel(a[k], b[k]) for k in keys}}
               for a, b in zip(rows32, rows64)]
    # Step 0 of run A has content = 0 exactly in both precisions; rel() gives 0 there.
    max_rel = {k: max(r[k] for r in reldiff) for k in keys}
    runs["run_a"]["float64"] = {
        "steps": rows64, "rel_diff_f32_vs_f64": reldiff, "max_rel_diff": max_rel,
        "final_max_abs_diff": float((tensors["run_a_final"].double() - final64).abs().max()),
        "notes": "The same run A with the VGG weights, pictures, x and the Adam state in float64; "
                 "rel_diff = |f32 - f64| / |f64| per step and loss (0 where both are 0)."}

    fixture = {
        "generator": "scripts/reference/make_nst_fixtures.py",
        "torch": torch.__version__.split("+")[0],
        "vgg": {"weights": "../networks/vgg19_small.pth", "widths": VGG_WIDTHS, "pool": "max",
                "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "content_image": "content.png", "style_image": "style.png", "width": W, "height": H,
        "content_layer": CONTENT_LAYER, "style_layers": STYLE_LAYERS,
        "gram": "F [1,C,H,W] -> [C,H*W]; G = F F^T / (C*H*W)",
        "content_loss": "mean((F(x) - F(content))^2) at content_layer",
        "style_loss": "sum_l w_l * mean((G_l(x) - G_l(style))^2)",
        "tv_loss": "mean((x[:,:,1:,:]-x[:,:,:-1,:])^2) + mean((x[:,:,:,1:]-x[:,:,:,:-1])^2)",
        "total": "alpha*content + beta*style + gamma*tv",
        "optimizer": {"name": "adam", "lr": LR, "betas": list(BETAS), "eps": EPS,
                      "clamp": [0.0, 1.0],
                      "notes": "zero grad, losses at current x (recorded), backward on total, "
                               "Adam step, clamp x in place"},
        "num_steps": STEPS,
        "tensors": "nst_adam.safetensors: run_b_init, run_a_final, run_b_final, run_a_grad0, "
                   "run_b_grad0 (float32 [1,3,H,W]; grad0 = dJ/dx at step 0)",
        "runs": runs,
    }
    with open(OUT / "nst_adam.json", "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    save_file(tensors, str(OUT / "nst_adam.safetensors"))

    # Self-check: the files read back give the same start and the same first losses.
    back = load_file(str(OUT / "nst_adam.safetensors"))
    assert torch.equal(back["run_b_init"], x0_b)
    assert torch.equal(read_png(OUT / "content.png"), content_img)
    print("float32 vs float64 (run A), max relative difference over the 50 steps: " +
          ", ".join(f"{k} {v:.2e}" for k, v in max_rel.items()))
    for s in (0, 10, 25, 49):
        r = reldiff[s]
        print(f"  step {s:2d}: " + ", ".join(f"{k} {r[k]:.2e}" for k in keys))
    files = sorted(OUT.iterdir())
    for p in files:
        print(f"  {p.name:24} {p.stat().st_size:8d} bytes")


if __name__ == "__main__":
    main()
