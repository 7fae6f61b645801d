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
  * `nst_lbfgs.json`: the same method optimised with torch.optim.LBFGS instead of Adam (see
    "L-BFGS" below): run 1 (lr 1.0, 30 steps) and run 2 (lr 0.5, 20 steps), per step the losses
    plus optimiser diagnostics (step size t, g.d, y.s, whether the pair was stored, history
    length, H_diag, |g|_1, |g|_max, closure calls); both runs also in float64 with the per-step
    relative float32-vs-float64 difference.
  * `nst_lbfgs.safetensors` (float32 [1,3,H,W]): `run1_x1`, `run1_x2` (x after steps 0 and 1,
    clamped: the first-step size and the first two-loop direction), `run1_final`, `run2_x1`,
    `run2_final`. dJ/dx at step 0 equals `run_a_grad0` of `nst_adam.safetensors` (same x0).

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

L-BFGS (`nst_lbfgs.json`): run A's problem (x0 = content, weights "equal", alpha 1, beta 1,
gamma 1e-2) with torch.optim.LBFGS([x], lr, max_iter=1, history_size=10, tolerance_grad=1e-7,
tolerance_change=1e-9, line_search_fn=None); run 1: lr = 1.0, 30 steps; run 2: lr = 0.5, 20
steps. One "step" s = one `optimizer.step(closure)` call, then (no grad) x.clamp_(0, 1) in place.
The closure: zero grad; losses at the current x; J.backward(); return J. With max_iter=1 and no
line search the closure runs exactly once per step (counted and recorded), so the losses recorded
for step s are those at x before step s's update, as for Adam. What torch/optim/lbfgs.py does in
one step() with these settings (g = flat dJ/dx at the current x, d and t from the last step):
  * State kept between step() calls (on the optimizer, not touched by our clamp): n_iter (steps
    that got past the gradient check, starts 0), d (last direction), t (last step size),
    old_dirs (list of y vectors -- note the name), old_stps (list of s vectors), ro (list of
    1/(y.s)), H_diag (initial inverse-Hessian scale, 1 at first), prev_flat_grad (g of the last
    step), prev_loss (J of the last step; unused with max_iter=1).
  1. J, g = closure(). If max|g| <= tolerance_grad (1e-7): return at once. Nothing else happens:
     x is NOT moved, n_iter and all state stay as they were (so the next step sees the same x, the
     same g and returns again: x is frozen from then on). Our clamp is then a no-op.
  2. n_iter += 1.
     If n_iter == 1: d = -g; old_dirs = old_stps = ro = []; H_diag = 1.
     Else: y = g - prev_flat_grad; s = t_prev * d_prev (the UNCLAMPED step of the last call: the
     clamp happened outside the optimiser, so x_now - x_prev may differ from s where pixels hit
     0 or 1, while y uses the gradient at the clamped x_now); ys = y.s.
       If ys > 1e-10: (if len == history_size (10): drop the oldest y, s, ro) append y to
       old_dirs, s to old_stps, 1/ys to ro; H_diag = ys / (y.y). Else the pair is dropped and
       H_diag keeps its previous value (1 if no pair was ever stored).
       Two-loop recursion over the m stored pairs (index 0 = oldest):
         q = -g; for i = m-1 down to 0: al_i = ro_i * (s_i.q); q -= al_i * y_i
         r = H_diag * q; for i = 0 up to m-1: be_i = ro_i * (y_i.r); r += (al_i - be_i) * s_i
         d = r   (with m = 0 this is d = -H_diag * g)
  3. prev_flat_grad = g; prev_loss = J.
  4. Step size: t = min(1, 1/sum|g|) * lr if n_iter == 1 (the very first step only; in float32
     1/sum|g| is a float32 scalar), else t = lr.
  5. gtd = g.d; if gtd > -tolerance_change (-1e-9): leave the loop WITHOUT moving x -- but d and
     t (= lr) are stored in the state all the same and n_iter has counted, so the next step forms
     s = t*d for a move that never happened. (Never hit in these runs: d is a descent direction.)
  6. x += t * d. No further evaluation (n_iter == max_iter), so the other convergence checks
     (|d*t|max <= tolerance_change, |J - prev_loss| < tolerance_change, max_eval) are never
     reached; they could only end the inner loop, which ends here anyway.
  7. State saved: d, t, old_dirs, old_stps, ro, H_diag, prev_flat_grad, prev_loss. Return J.
  Then our clamp: x = clamp(x, 0, 1).
  Arithmetic: everything in the dtype of x (float32 / float64): dots, 1/ys, H_diag, al_i, be_i
  are 0-d tensors of that dtype; scalar factors are rounded to it before the axpy's.

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
from junyanz_networks import VGGFeatures  # noqa: E402
from make_network_fixtures import VGG_WIDTHS  # noqa: E402

W, H = 40, 32
CONTENT_LAYER = "conv4_2"
STYLE_LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
STEPS = 50
LR, BETAS, EPS = 0.02, (0.9, 0.999), 1e-8
ALPHA, BETA, GAMMA = 1.0, 1.0, 1e-2  # BETA: see the docstring and `--probe`
RUN_B_SEED = 0
# L-BFGS runs (`nst_lbfgs.json`): name -> (lr, steps); the other settings are fixed.
LBFGS_RUNS = {"run1": (1.0, 30), "run2": (0.5, 20)}
LBFGS_KW = {"max_iter": 1, "history_size": 10, "tolerance_grad": 1e-7,
            "tolerance_change": 1e-9, "line_search_fn": None}


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


def run_lbfgs(net, content_img, style_img, x0, lr, steps, keep=(1, 2)):
    """The L-BFGS loop of the docstring (run A's problem). Returns per-step rows (losses and
    optimiser diagnostics), {k: x after step k-1 (clamped)} for k in keep, the final x."""
    weights = style_weights("equal")
    with torch.no_grad():
        content_target = net.activations(content_img)[CONTENT_LAYER]
        style_acts = net.activations(style_img)
        style_targets = [gram(style_acts[l]) for l in STYLE_LAYERS]
    # Contiguous: the PNG tensor is a permuted view and LBFGS flattens x.grad with .view(-1).
    x = x0.clone(memory_format=torch.contiguous_format).requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=lr, **LBFGS_KW)
    rows, snaps, calls = [], {}, []

    def closure():
        opt.zero_grad()
        c, s, t = losses(net, x, content_target, style_targets, weights)
        total = ALPHA * c + BETA * s + GAMMA * t
        total.backward()
        calls.append({"content": float(c.detach()), "style": float(s.detach()),
                      "tv": float(t.detach()), "total": float(total.detach()),
                      "grad": x.grad.detach().reshape(-1).clone()})
        return total

    for step in range(steps):
        st = opt.state[x]
        prev_d, prev_t, prev_g = st.get("d"), st.get("t"), st.get("prev_flat_grad")
        prev_g = None if prev_g is None else prev_g.clone()
        n_iter_before, n_before = st.get("n_iter", 0), len(calls)
        opt.step(closure)
        n_calls = len(calls) - n_before
        assert n_calls == 1, f"step {step}: {n_calls} closure calls"
        c = calls[-1]
        g = c["grad"]
        st = opt.state[x]
        moved = st["n_iter"] == n_iter_before + 1  # False: the max|g| <= tolerance_grad return
        row = {"step": step, **{k: c[k] for k in ("content", "style", "tv", "total")},
               "closure_calls": n_calls,
               "grad_l1": float(g.abs().sum()), "grad_max": float(g.abs().max())}
        if prev_d is not None:  # the curvature pair this step formed, in the optimiser's dtype
            y, sv = g - prev_g, prev_d.mul(prev_t)
            ys = y.dot(sv)
            row.update({"ys": float(ys), "pair_stored": bool(ys > 1e-10)})
        row.update({"t": float(st["t"]), "gtd": float(g.dot(st["d"])),
                    "history": len(st["old_dirs"]), "H_diag": float(st["H_diag"]),
                    "moved": moved})
        assert moved and row["gtd"] <= -LBFGS_KW["tolerance_change"], f"step {step}: no move"
        rows.append(row)
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
        if step + 1 in keep:
            snaps[step + 1] = x.detach().clone()
    assert opt.state[x]["func_evals"] == steps
    return rows, snaps, x.detach().clone()


def write_lbfgs(net, content_img, style_img):
    """`nst_lbfgs.json` / `nst_lbfgs.safetensors` (see the docstring)."""
    net64 = load_vgg(torch.float64)
    keys = ["content", "style", "tv", "total"]
    runs, tensors = {}, {}
    for name, (lr, steps) in LBFGS_RUNS.items():
        rows, snaps, final = run_lbfgs(net, content_img, style_img, content_img, lr, steps)
        rows64, _, final64 = run_lbfgs(net64, content_img.double(), style_img.double(),
                                       content_img.double(), lr, steps)
        reldiff = [{"step": a["step"], **{k: rel(a[k], b[k]) for k in keys}}
                   for a, b in zip(rows, rows64)]
        max_rel = {k: max(r[k] for r in reldiff) for k in keys}
        runs[name] = {
            "lr": lr, "num_steps": steps, "init": "content", "style_weights": "equal",
            "alpha": ALPHA, "beta": BETA, "gamma": GAMMA,
            "style_layer_weights": style_weights("equal"),
            "closure_calls_total": sum(r["closure_calls"] for r in rows),
            "steps": rows,
            "float64": {
                "steps": rows64, "rel_diff_f32_vs_f64": reldiff, "max_rel_diff": max_rel,
                "final_max_abs_diff": float((final.double() - final64).abs().max()),
                "notes": "The same run with the VGG weights, pictures, x and the L-BFGS state in "
                         "float64; rel_diff = |f32 - f64| / |f64| per step and loss (0 where "
                         "both are 0)."}}
        tensors[f"{name}_x1"] = snaps[1].contiguous()
        if name == "run1":
            tensors[f"{name}_x2"] = snaps[2].contiguous()
        tensors[f"{name}_final"] = final.contiguous()
        table(f"L-BFGS {name} (lr {lr})", rows)
        assert rows[-1]["total"] < 0.7 * rows[0]["total"], f"{name}: total did not fall"
        print(f"  f32 vs f64 max relative difference: " +
              ", ".join(f"{k} {v:.2e}" for k, v in max_rel.items()) +
              f"; final x max abs diff {runs[name]['float64']['final_max_abs_diff']:.2e}")

    fixture = {
        "generator": "scripts/reference/make_nst_fixtures.py",
        "torch": torch.__version__.split("+")[0],
        "problem": "run_a of nst_adam.json (same VGG, pictures, layers, losses, x0 = content, "
                   "style weights equal, alpha 1, beta 1, gamma 1e-2); only the optimiser differs",
        "optimizer": {"name": "lbfgs", **LBFGS_KW, "max_eval": LBFGS_KW["max_iter"] * 5 // 4,
                      "clamp": [0.0, 1.0],
                      "notes": "per step: one optimizer.step(closure) (closure: zero grad, losses "
                               "at current x (recorded), backward on total, return total; called "
                               "exactly once per step), then clamp x in place outside the "
                               "optimiser. First step t = min(1, 1/sum|g|) * lr, later t = lr. "
                               "Exact iteration: the docstring of the generator."},
        "step_fields": {
            "content/style/tv/total": "losses at x before this step's update (the closure call)",
            "closure_calls": "closure evaluations inside this step() (always 1 here)",
            "grad_l1, grad_max": "sum|g| and max|g| of dJ/dx at that x",
            "ys": "y.s of the pair formed this step (y = g - g_prev, s = t_prev * d_prev, "
                  "unclamped); absent at step 0",
            "pair_stored": "ys > 1e-10",
            "t": "step size used this step", "gtd": "g.d for this step's direction d",
            "history": "stored pairs after this step (<= history_size)",
            "H_diag": "H_diag after this step", "moved": "x was updated (no early return)"},
        "tensors": "nst_lbfgs.safetensors: run1_x1, run1_x2, run1_final, run2_x1, run2_final "
                   "(float32 [1,3,H,W]; x_k = x after step k-1, clamped); dJ/dx at step 0 = "
                   "run_a_grad0 of nst_adam.safetensors",
        "runs": runs,
    }
    write_fixture("nst_lbfgs", fixture, tensors)


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


def write_fixture(name: str, fixture: dict, tensors: dict):
    """`<name>.json` (the fixture, indented, ending in a newline) and `<name>.safetensors`."""
    with open(OUT / f"{name}.json", "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    save_file(tensors, str(OUT / f"{name}.safetensors"))


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
    write_fixture("nst_adam", fixture, tensors)

    # Self-check: the files read back give the same start and the same first losses.
    back = load_file(str(OUT / "nst_adam.safetensors"))
    assert torch.equal(back["run_b_init"], x0_b)
    assert torch.equal(read_png(OUT / "content.png"), content_img)
    print("float32 vs float64 (run A), max relative difference over the 50 steps: " +
          ", ".join(f"{k} {v:.2e}" for k, v in max_rel.items()))
    for s in (0, 10, 25, 49):
        r = reldiff[s]
        print(f"  step {s:2d}: " + ", ".join(f"{k} {r[k]:.2e}" for k in keys))

    write_lbfgs(net, content_img, style_img)
    files = sorted(OUT.iterdir())
    for p in files:
        print(f"  {p.name:24} {p.stat().st_size:8d} bytes")


if __name__ == "__main__":
    main()
