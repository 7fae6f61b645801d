"""Checks a run handed over to junyanz's trainer (`ai-art export --format junyanz`, or the app's
"Export for junyanz's trainer" unzipped) with PyTorch: reads `train_opt.txt`, builds the
networks as junyanz's `define_G` / `define_D` would for those options (the classes of
`junyanz_networks.py`), loads every `latest_net_*.pth` with `torch.load(weights_only=True)`
and `load_state_dict(strict=True)`, as `BaseModel.load_networks` does, then runs one
`optimize_parameters` of the model (`make_training_fixtures.py`'s) on random images at the
crop size, with fresh Adam optimisers as `--continue_train` has them. Prints the losses; any
mismatch raises.

    python scripts/reference/continue_junyanz.py runs/facades-junyanz
"""

import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from junyanz_networks import NLayerDiscriminator, ResnetGenerator, UnetGenerator  # noqa: E402
from junyanz_training import ImagePool, adam  # noqa: E402
from make_training_fixtures import cyclegan_iteration, pix2pix_iteration  # noqa: E402


def read_options(path: Path) -> dict:
    opts = {}
    for line in path.read_text().splitlines():
        if ":" not in line or line.startswith("-"):
            continue
        key, value = line.split(":", 1)
        opts[key.strip()] = value.split("\t")[0].strip()
    return opts


def generator(o: dict) -> torch.nn.Module:
    use_dropout = o["no_dropout"] != "True"
    net_g, ngf, norm = o["netG"], int(o["ngf"]), o["norm"]
    if net_g.startswith("unet_"):
        return UnetGenerator(3, 3, {"unet_128": 7, "unet_256": 8}[net_g], ngf, norm, use_dropout)
    return ResnetGenerator(3, 3, ngf, {"resnet_6blocks": 6, "resnet_9blocks": 9}[net_g], norm, use_dropout=use_dropout)


def discriminator(o: dict, input_nc: int) -> torch.nn.Module:
    n_layers = 3 if o["netD"] == "basic" else int(o["n_layers_D"])
    return NLayerDiscriminator(input_nc, int(o["ndf"]), n_layers, o["norm"])


def load(net: torch.nn.Module, path: Path) -> torch.nn.Module:
    state = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    print(f"{path.name}: {len(state)} tensors loaded strictly into {type(net).__name__}")
    return net


def main():
    folder = Path(sys.argv[1])
    o = read_options(folder / "train_opt.txt")
    assert o["gan_mode"] == "lsgan", "the studio trains with LSGAN"
    size = int(o["crop_size"])
    torch.manual_seed(0)
    real_a, real_b = torch.rand(1, 3, size, size) * 2 - 1, torch.rand(1, 3, size, size) * 2 - 1
    if o["model"] == "pix2pix":
        G = load(generator(o), folder / "latest_net_G.pth")
        D = load(discriminator(o, 6), folder / "latest_net_D.pth")
        _, losses = pix2pix_iteration(G, D, adam(G.parameters()), adam(D.parameters()), real_a, real_b, float(o["lambda_L1"]))
        names = ["D_fake", "D_real", "D", "G_GAN", "G_L1", "G"]
    else:
        G_A, G_B = (load(generator(o), folder / f"latest_net_{n}.pth") for n in ("G_A", "G_B"))
        D_A, D_B = (load(discriminator(o, 3), folder / f"latest_net_{n}.pth") for n in ("D_A", "D_B"))
        pool = int(o["pool_size"])
        pools = ImagePool(pool, random.Random(0)), ImagePool(pool, random.Random(1))
        opt_g = adam(list(G_A.parameters()) + list(G_B.parameters()))
        opt_d = adam(list(D_A.parameters()) + list(D_B.parameters()))
        _, losses = cyclegan_iteration(G_A, G_B, D_A, D_B, opt_g, opt_d, pools[0], pools[1], real_a, real_b,
                                       float(o["lambda_A"]), float(o["lambda_B"]), float(o["lambda_identity"]))
        names = ["D_A", "D_B", "G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "G"]
    values = {n: float(v.detach()) for n, v in zip(names, losses)}
    assert all(v == v and abs(v) < float("inf") for v in values.values()), values
    print(f"one continued {o['model']} iteration (torch {torch.__version__}): "
          + ", ".join(f"{n} {v:.4f}" for n, v in values.items()))


if __name__ == "__main__":
    main()
