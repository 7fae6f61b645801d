#!/usr/bin/env python3
"""Generate the PyTorch parity fixtures of `src/models/tests.rs` into `tests/fixtures/networks/`.

What: small random-weight instances of the networks the studio runs (junyanz
pytorch-CycleGAN-and-pix2pix `ResnetGenerator`, `UnetGenerator`, `NLayerDiscriminator`,
torchvision's `vgg19` features and pytorch/examples' fast-style `TransformerNet`), each saved the way real checkpoints are saved (torch zip, torch
legacy with a `module.` prefix, safetensors), together with an input and the output PyTorch computes
for it (`<case>.io.safetensors`, float32 NCHW). `manifest.json` lists the cases with their config
and a tolerance; `full_layouts.json` holds the state-dict key -> shape maps of the full-width
official layouts (nothing saved, only instantiated on the meta device). With
`--vintagify-wheel` it also renders a procedural test picture (`tests/fixtures/images/scene.png`)
and stores what the real pretrained vintagify CycleGAN generator makes of it.

Why: the Rust networks must give the same numbers as PyTorch for the same checkpoint, and load
every real-world key layout. The reference classes (`junyanz_networks.py`) reproduce the official
module structure exactly (same `nn.Sequential` indices, so the same state-dict keys): junyanz's
`get_norm_layer` (instance = InstanceNorm2d(affine=False, track_running_stats=False), batch =
BatchNorm2d(affine=True)), its use_bias rule (conv bias only with InstanceNorm; the last conv of
each generator and the first and last conv of the PatchGAN always have a bias) and its Dropout
placement. Every network runs in `eval()` under `torch.no_grad()` (dropout is the identity,
BatchNorm uses the running statistics). Weights use PyTorch's default init (VGG: torchvision's
kaiming init) rather than junyanz's N(0, 0.02), so activations are O(1); affine norm parameters
are random, and BatchNorm running statistics are those of a random batch, randomly perturbed.
Widths are reduced (ngf 2-4, ndf 4, VGG [4, 8, 16, 32, 32]) to keep the files small; the input
sizes are what the tests need (non-square, not a multiple of 4, batch 2, 2^num_downs).

The fixtures are committed; torch is only needed to regenerate them. Deterministic: fixed seeds,
one CPU thread; running it twice gives byte-identical files.

Run:
    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch safetensors numpy pillow torchvision  # CPU is enough
    /tmp/torchvenv/bin/pip download --no-deps vintagify==0.1.2 -d /tmp/vint
    /tmp/torchvenv/bin/python scripts/reference/make_network_fixtures.py \
        --vintagify-wheel /tmp/vint/vintagify-0.1.2-py3-none-any.whl

Without `--vintagify-wheel` the vintagify files and the manifest's `vintagify` entry are kept as
they are.
"""

import argparse
import collections
import copy
import hashlib
import io
import json
import math
import pickle
import pickletools
import struct
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "networks"
IMAGES = ROOT / "tests" / "fixtures" / "images"

VINTAGIFY_WHEEL_URL = (
    "https://files.pythonhosted.org/packages/e3/50/"
    "53aaa00fe47bc8a8f67ec0a5f040b9cc95f0fa108217934222dca4df90bd/vintagify-0.1.2-py3-none-any.whl"
)
VINTAGIFY_WHEEL_SHA256 = "f3b38b728cc6158e97f77c3cc1bf784a63f427db47c445941ad2da3747fa208f"
VINTAGIFY_MEMBER = "vintagify/resources/G_A2B_epoch33.pth"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from junyanz_networks import build as build_junyanz  # noqa: E402  (the reference networks, shared)
from fast_style_network import TransformerNet  # noqa: E402


def build(network: str, config: dict) -> nn.Module:
    if network == "fast_style":
        return TransformerNet(config["input_nc"], config["output_nc"], config["widths"], config["n_res"])
    return build_junyanz(network, config)


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------


def resnet_cfg(ngf, n_blocks, norm, affine=False, block_name="conv_block", use_dropout=False):
    return {"input_nc": 3, "output_nc": 3, "ngf": ngf, "n_blocks": n_blocks, "norm": norm,
            "affine": affine, "block_name": block_name, "use_dropout": use_dropout}


def unet_cfg(num_downs, ngf, norm, use_dropout, input_nc=3, output_nc=3):
    return {"input_nc": input_nc, "output_nc": output_nc, "num_downs": num_downs, "ngf": ngf,
            "norm": norm, "use_dropout": use_dropout}


def patch_cfg(input_nc, ndf, norm, n_layers=3):
    return {"input_nc": input_nc, "ndf": ndf, "n_layers": n_layers, "norm": norm}


def fast_cfg(widths, n_res):
    return {"input_nc": 3, "output_nc": 3, "widths": widths, "n_res": n_res}


VGG_WIDTHS = [4, 8, 16, 32, 32]

# (name, network, weights file, format, config, input shape, seed, notes, extra)
CASES = [
    ("resnet6_instance", "resnet", "resnet6_instance.pth", "zip",
     resnet_cfg(4, 6, "instance"), [1, 3, 32, 48], 101,
     "Official CycleGAN layout (non-affine InstanceNorm, conv_block). Old-checkpoint quirk: every "
     "InstanceNorm index also has `running_mean` and `running_var` tensors (e.g. model.2.running_mean, "
     "model.10.conv_block.2.running_var), as pre-0.4 junyanz checkpoints contain; a loader must "
     "ignore them (junyanz deletes them in __patch_instance_norm_state_dict).", {}),
    ("resnet9_affine_block", "resnet", "resnet9_affine_block.pth", "legacy",
     resnet_cfg(4, 9, "instance", affine=True, block_name="block"), [2, 3, 24, 20], 102,
     "vintagify-style ResNet-9: affine InstanceNorm (gamma U(0.5,1.5), beta N(0,0.1)), residual "
     "blocks named `block`; legacy (non-zip) torch.save format; every key prefixed `module.` as "
     "nn.DataParallel saves; batch 2.", {}),
    ("resnet6_batch", "resnet", "resnet6_batch.safetensors", "safetensors",
     resnet_cfg(4, 6, "batch", use_dropout=True), [1, 3, 28, 36], 103,
     "BatchNorm in eval (running stats of a random batch, perturbed: mean += N(0,0.2)*std, var *= "
     "U(0.5,2); gamma U(0.5,1.5), beta N(0,0.1)); convs before a norm have no bias; num_batches_tracked saved as int64 scalars. "
     "use_dropout=true: Dropout(0.5) at conv_block.4 (identity in eval), so the second block conv "
     "is conv_block.6 and its norm conv_block.7.", {}),
    ("resnet6_instance_pipeline", "resnet", "resnet6_instance.pth", "zip",
     resnet_cfg(4, 6, "instance"), [1, 3, 30, 45], 104,
     "Same weights as resnet6_instance. `output` is the inference pipeline: reflect-pad H,W to the "
     "next multiple of 4 (ph = 2, pw = 3 here; top = ph//2, bottom = ph-top, left = pw//2, right = "
     "pw-left: F.pad(x, (left, right, top, bottom), mode='reflect')), run, crop [top:top+H, "
     "left:left+W].", {"pipeline": {"multiple": 4}}),
    ("unet128_instance", "unet", "unet128_instance.pth", "zip",
     unet_cfg(7, 2, "instance", True), [1, 3, 128, 128], 105,
     "unet_128 layout, non-affine InstanceNorm, use_dropout (Dropout(0.5) appended to the ngf*8 "
     "middle blocks, identity in eval); 1x1 bottleneck.", {}),
    ("unet128_batch_nonsquare", "unet", "unet128_batch_nonsquare.pth", "zip",
     unet_cfg(7, 2, "batch", True), [1, 3, 128, 256], 106,
     "unet_128 layout with BatchNorm in eval (perturbed running stats, random affine params); convs "
     "before a norm and the outermost down conv have no bias; non-square input (1x2 bottleneck).",
     {}),
    ("unet256_instance", "unet", "unet256_instance.pth", "zip",
     unet_cfg(8, 2, "instance", False, input_nc=1, output_nc=3), [1, 1, 256, 256], 107,
     "unet_256 layout (num_downs 8), 1 input channel, 3 output channels, InstanceNorm.", {}),
    ("patchgan_6ch_instance", "patchgan", "patchgan_6ch_instance.pth", "zip",
     patch_cfg(6, 4, "instance"), [2, 6, 70, 70], 108,
     "pix2pix-style conditional PatchGAN (6 = 3+3 channels), InstanceNorm; 70x70 -> 6x6 logits "
     "(no sigmoid); batch 2.", {}),
    ("patchgan_3ch_batch", "patchgan", "patchgan_3ch_batch.pth", "zip",
     patch_cfg(3, 4, "batch"), [1, 3, 64, 96], 109,
     "CycleGAN-style PatchGAN with BatchNorm in eval (perturbed running stats, random affine params); 64x96 -> 6x10 logits.",
     {}),
    ("vgg19_max", "vgg19", "vgg19_small.pth", "zip",
     {"widths": VGG_WIDTHS, "pool": "max"}, [1, 3, 40, 56], 110,
     "torchvision vgg19 `features` with reduced widths (torchvision make_layers, same indices "
     "features.0..features.34 for the 16 convs). `input` is an image in [0,1]; the reference first "
     "normalises x' = (x - mean) / std with ImageNet mean [0.485,0.456,0.406] and std "
     "[0.229,0.224,0.225]. Every other tensor in the io file is a named activation: conv{b}_{i} "
     "(after the i-th conv of block b), relu{b}_{i}, pool{b}. Weights: kaiming_normal fan_out (as "
     "torchvision), biases U(-0.1,0.1).", {}),
    ("vgg19_avg", "vgg19", "vgg19_small.pth", "zip",
     {"widths": VGG_WIDTHS, "pool": "avg"}, [1, 3, 40, 56], 110,
     "Same weights and input as vgg19_max, with every MaxPool2d(2,2) replaced by AvgPool2d(2,2) "
     "at the same index (Gatys-style style transfer).", {}),
    ("fast_style_legacy", "fast_style", "fast_style_small.pth", "legacy",
     fast_cfg([4, 8, 16], 2), [1, 3, 32, 40], 111,
     "pytorch/examples fast_neural_style TransformerNet (fast_style_network.py: same module "
     "names), widths 4/8/16 and 2 residual blocks (published: 32/64/128, 5). Like the published "
     "models of 2017: legacy torch.save format and `running_mean`/`running_var` after every "
     "InstanceNorm (neural_style.py deletes them before loading); here also prefixed `module.`. "
     "The network works on pixels in [0, 255]; `input` and `output` are in the studio's "
     "generator range: output = net((input + 1) * 127.5) / 127.5 - 1. The last convolution is "
     "scaled so that the output spreads over about [0, 255] (std 60) before that rescaling.", {}),
    ("fast_style_pipeline", "fast_style", "fast_style_small.pth", "legacy",
     fast_cfg([4, 8, 16], 2), [1, 3, 30, 45], 112,
     "Same weights as fast_style_legacy, through the inference pipeline of resnet6_instance_pipeline "
     "(reflect-pad to a multiple of 4, run, crop). pytorch/examples itself does not pad: its output "
     "would be 32x48 here.", {"pipeline": {"multiple": 4}}),
]

# The weights of each file come from the first case that names it (seeded by that case).

FULL_LAYOUTS = [
    ("resnet_9blocks", "resnet", resnet_cfg(64, 9, "instance")),
    ("resnet_6blocks", "resnet", resnet_cfg(64, 6, "instance")),
    ("resnet_9blocks_batch", "resnet", resnet_cfg(64, 9, "batch", use_dropout=True)),
    ("unet_256", "unet", unet_cfg(8, 64, "instance", True)),
    ("unet_128", "unet", unet_cfg(7, 64, "batch", True)),
    ("patchgan_basic_6ch", "patchgan", patch_cfg(6, 64, "instance")),
    ("patchgan_basic_3ch_batch", "patchgan", patch_cfg(3, 64, "batch")),
    ("vgg19", "vgg19", {"widths": [64, 128, 256, 512, 512], "pool": "max"}),
    ("fast_style", "fast_style", fast_cfg([32, 64, 128], 5)),
]


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def randomize_norms(net: nn.Module, gen: torch.Generator):
    """Random affine parameters and running statistics, so none of them is a no-op."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.affine:
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0.0, 0.1, generator=gen)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.2, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
                m.num_batches_tracked.fill_(int(torch.randint(1000, 100000, (), generator=gen)))


def calibrate_batchnorm(net: nn.Module, shape, gen: torch.Generator):
    """BatchNorm running statistics like a trained network's, randomly perturbed: the statistics
    of one random batch (train mode, cumulative average), then mean += N(0, 0.2) * std and
    var *= U(0.5, 2). Plain N(0, 0.2) / U(0.5, 2) statistics under PyTorch's default conv init
    shrink the signal ~3x per conv and leave outputs near zero."""
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    with torch.no_grad():
        net(torch.rand([2] + list(shape[1:]), generator=gen) * 2 - 1)
        for m in bns:
            m.momentum = 0.1
            std = m.running_var.sqrt()
            m.running_mean += torch.empty_like(std).normal_(0.0, 0.2, generator=gen) * std
            m.running_var *= torch.empty_like(std).uniform_(0.5, 2.0, generator=gen)
            m.num_batches_tracked.fill_(int(torch.randint(1000, 100000, (), generator=gen)))
    net.eval()


def state_dict_with_quirk(net: nn.Module, gen: torch.Generator) -> collections.OrderedDict:
    """`net.state_dict()` with stale `running_mean`/`running_var` after every InstanceNorm (in
    module order, where a pre-0.4 torch would have put them)."""
    sd = collections.OrderedDict()
    for name, m in net.named_modules():
        prefix = f"{name}." if name else ""
        for k, p in m._parameters.items():
            if p is not None:
                sd[prefix + k] = p.detach().clone()
        for k, b in m._buffers.items():
            if b is not None and k not in m._non_persistent_buffers_set:
                sd[prefix + k] = b.clone()
        if isinstance(m, nn.InstanceNorm2d):
            n = m.num_features
            sd[prefix + "running_mean"] = torch.empty(n).normal_(0.0, 0.01, generator=gen)
            sd[prefix + "running_var"] = 1.0 + torch.empty(n).uniform_(-0.01, 0.01, generator=gen)
    plain = net.state_dict()
    assert [k for k in sd if not k.endswith(("running_mean", "running_var")) or k in plain] \
        == list(plain.keys())
    return sd


class _LegacyStub:
    """Stands for any global of a legacy checkpoint's object pickle while it is only inspected."""

    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        return (self.name, args)


class _LegacyInspector(pickle.Unpickler):
    def __init__(self, f):
        super().__init__(f)
        self.pids = []

    def persistent_load(self, pid):
        self.pids.append(pid)
        return pid

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        return _LegacyStub(f"{module}.{name}")


LEGACY_ELEMENT_SIZE = {"torch.FloatStorage": 4, "torch.DoubleStorage": 8, "torch.HalfStorage": 2,
                       "torch.BFloat16Storage": 2, "torch.LongStorage": 8, "torch.IntStorage": 4,
                       "torch.ShortStorage": 2, "torch.ByteStorage": 1, "torch.CharStorage": 1,
                       "torch.BoolStorage": 1}


def renumber_legacy_storage_keys(data: bytes) -> bytes:
    """Make a legacy-format file deterministic. Torch names each storage by its memory address
    (`str(storage._cdata)`) and writes the storages sorted by that name, so two runs differ in both
    names and order. Rename them to fixed address-like numbers in order of first use and write the
    storages in that order; every other byte is torch's. Legacy layout: 3 small pickles (magic,
    protocol, sys_info), the object pickle (persistent ids ('storage', type, key, location,
    numel)), the pickled list of keys, then per key an int64 element count and the raw bytes.
    Protocol 2 has no frames, so single opcodes can be rewritten in place."""
    f = io.BytesIO(data)
    for _ in range(3):
        pickle.load(f)
    head_end = f.tell()
    obj_ops = list(pickletools.genops(f))
    obj_end = f.tell()
    f.seek(head_end)
    inspector = _LegacyInspector(f)
    inspector.load()
    keys = pickle.load(f)
    keys_end = f.tell()
    assert pickle.dumps(keys, protocol=2) == data[obj_end:keys_end]

    blocks, pos = {}, keys_end
    elsize = {pid[2]: LEGACY_ELEMENT_SIZE[pid[1].name] for pid in inspector.pids}
    for k in keys:
        (numel,) = struct.unpack("<q", data[pos:pos + 8])
        end = pos + 8 + numel * elsize[k]
        blocks[k] = data[pos:end]
        pos = end
    assert pos == len(data)
    order = list(dict.fromkeys(pid[2] for pid in inspector.pids))
    assert sorted(order) == sorted(keys)
    mapping = {k: str(140_000_000_000_000 + 4096 * i) for i, k in enumerate(order)}

    new = bytearray(data[:head_end])
    for j, (op, arg, at) in enumerate(obj_ops):
        nxt = obj_ops[j + 1][2] if j + 1 < len(obj_ops) else obj_end
        if isinstance(arg, str) and arg in mapping:
            assert op.name == "BINUNICODE", op.name
            enc = mapping[arg].encode()
            new += b"X" + struct.pack("<I", len(enc)) + enc
        else:
            new += data[at:nxt]
    new += pickle.dumps([mapping[k] for k in order], protocol=2)
    for k in order:
        new += blocks[k]
    return bytes(new)


def save_weights(sd: dict, path: Path, fmt: str):
    if fmt == "zip":
        torch.save(sd, path)
    elif fmt == "legacy":
        buf = io.BytesIO()
        torch.save(sd, buf, _use_new_zipfile_serialization=False)
        path.write_bytes(renumber_legacy_storage_keys(buf.getvalue()))
        back = torch.load(path, map_location="cpu", weights_only=True)
        assert list(back) == list(sd) and all(torch.equal(back[k], sd[k]) for k in sd)
    elif fmt == "safetensors":
        save_file({k: v.contiguous() for k, v in sd.items()}, str(path), metadata={"format": "pt"})
    else:
        raise ValueError(fmt)


def load_weights(path: Path, fmt: str) -> dict:
    if fmt == "safetensors":
        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)


def clean_state_dict(sd: dict, net: nn.Module) -> dict:
    """What a correct loader does: strip `module.`, drop InstanceNorm running stats."""
    sd = {k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()}
    inorm = {name for name, m in net.named_modules() if isinstance(m, nn.InstanceNorm2d)}
    return {k: v for k, v in sd.items()
            if not (k.rsplit(".", 1)[0] in inorm
                    and k.rsplit(".", 1)[1] in ("running_mean", "running_var", "num_batches_tracked"))}


def scale_to_pixels(net: nn.Module, shape, gen: torch.Generator):
    """Scales a fast style network's last convolution so that its output on random pixels has
    standard deviation 60 and mean 128, as a trained one's spreads over [0, 255]."""
    with torch.no_grad():
        y = net(torch.rand(shape, generator=gen) * 255)
        conv = net.deconv3.conv2d
        k = 60.0 / float(y.std())
        conv.weight.mul_(k)
        conv.bias.mul_(k).add_(128.0 - float(y.mean()) * k)


def as_generator(net, network: str):
    """The network in the studio's generator range, [-1, 1] in and out."""
    if network == "fast_style":
        return lambda x: net((x + 1) * 127.5) / 127.5 - 1
    return net


def pipeline_forward(net, x: torch.Tensor, multiple: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    top, left = ph // 2, pw // 2
    xp = F.pad(x, (left, pw - left, top, ph - top), mode="reflect")
    return net(xp)[..., top:top + h, left:left + w]


def run_case(net: nn.Module, network: str, x: torch.Tensor, extra: dict) -> dict:
    """Named outputs of one case (`output`, or the VGG activations)."""
    with torch.no_grad():
        if network == "vgg19":
            return net.activations(x)
        net = as_generator(net, network)
        if "pipeline" in extra:
            return {"output": pipeline_forward(net, x, extra["pipeline"]["multiple"])}
        return {"output": net(x)}


def max_abs(a: dict, b: dict) -> float:
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def tolerance_for(diff64: float) -> float:
    """A power of ten at least 20x the float32-vs-float64 error of torch itself, >= 1e-4."""
    return max(1e-4, 10.0 ** math.ceil(math.log10(max(diff64, 1e-12) * 20)))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


def make_cases():
    manifest_cases, built = [], {}
    for name, network, wfile, fmt, config, shape, seed, notes, extra in CASES:
        if wfile not in built:
            torch.manual_seed(seed)
            net = build(network, config)
            gen = torch.Generator().manual_seed(seed + 1000)
            randomize_norms(net, gen)
            calibrate_batchnorm(net, shape, gen)
            net.eval()
            if network == "fast_style":
                scale_to_pixels(net, shape, gen)
            if name in ("resnet6_instance", "fast_style_legacy"):
                sd = state_dict_with_quirk(net, gen)
            else:
                sd = collections.OrderedDict((k, v.detach().clone()) for k, v in net.state_dict().items())
            if fmt == "legacy":
                sd = collections.OrderedDict((f"module.{k}", v) for k, v in sd.items())
            save_weights(sd, OUT / wfile, fmt)
            built[wfile] = sd
        # A fresh network of this case's config, loaded from the weights as saved.
        torch.manual_seed(0)
        net = build(network, config).eval()
        net.load_state_dict(clean_state_dict(built[wfile], net), strict=True)

        gen = torch.Generator().manual_seed(seed + 2000)
        if network == "vgg19":
            x = torch.rand(shape, generator=gen)
        else:
            x = torch.rand(shape, generator=gen) * 2 - 1
        outputs = run_case(net, network, x, extra)
        ref64 = run_case(copy.deepcopy(net).double(), network, x.double(), extra)
        diff64 = max_abs(outputs, ref64)
        io_name = f"{name}.io.safetensors"
        tensors = {"input": x.contiguous()}
        tensors.update({k: v.float().contiguous() for k, v in outputs.items()})
        save_file(tensors, str(OUT / io_name))

        case = {"name": name, "network": network, "weights": wfile, "format": fmt,
                "config": config, "io": io_name, "tolerance": tolerance_for(diff64),
                "f32_vs_f64_max_abs": float(f"{diff64:.3g}"), "notes": notes}
        case.update(extra)
        manifest_cases.append(case)
    return manifest_cases


def self_check(cases):
    """Reload every weights and io file from disk, re-run, and require the same outputs."""
    rows = []
    for case in cases:
        torch.manual_seed(12345)
        net = build(case["network"], case["config"]).eval()
        sd = load_weights(OUT / case["weights"], case["format"])
        if case["format"] == "legacy":
            assert all(k.startswith("module.") for k in sd)
        net.load_state_dict(clean_state_dict(sd, net), strict=True)
        io_t = load_file(str(OUT / case["io"]))
        outs = run_case(net, case["network"], io_t["input"], case)
        for k, v in outs.items():
            assert torch.equal(v, io_t[k]), (case["name"], k)
        assert set(io_t) == set(outs) | {"input"}
        allv = torch.cat([v.reshape(-1) for k, v in io_t.items() if k != "input"])
        key = "output" if "output" in io_t else "pool5"
        rows.append((case["name"], (OUT / case["weights"]).stat().st_size,
                     (OUT / case["io"]).stat().st_size, list(io_t[key].shape),
                     float(allv.min()), float(allv.max()), float(allv.std())))
    print(f"{'case':28} {'weights':>9} {'io':>9}  {'out shape':18} {'min':>8} {'max':>8} {'std':>7}")
    for n, wb, ib, shp, lo, hi, sd in rows:
        print(f"{n:28} {wb:9d} {ib:9d}  {str(shp):18} {lo:8.3f} {hi:8.3f} {sd:7.3f}")


def make_full_layouts():
    layouts = {}
    for name, network, config in FULL_LAYOUTS:
        with torch.device("meta"):
            if network == "vgg19":
                from torchvision.models import vgg19
                net = vgg19(weights=None)
            else:
                net = build(network, config)
        sd = net.state_dict()
        entry = {"config": config,
                 "keys": {k: list(v.shape) for k, v in sd.items()
                          if network != "vgg19" or k.startswith("features.")}}
        if network == "vgg19":
            entry["notes"] = ("torchvision.models.vgg19(weights=None), `features.` keys only; the "
                              "real file also has classifier.0/3/6.weight/bias.")
        layouts[name] = entry
    with open(OUT / "full_layouts.json", "w") as f:
        json.dump(layouts, f, indent=1)
        f.write("\n")


# ---------------------------------------------------------------------------------------------
# vintagify (real pretrained CycleGAN ResNet-9)
# ---------------------------------------------------------------------------------------------


def draw_scene(w=128, h=96, seed=7):
    """A small, natural-looking, deterministic test picture."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    t = yy / (h * 0.6)
    sky = np.stack([70 + 150 * t, 120 + 100 * t, 200 + 30 * t], -1).clip(0, 255)
    # Sun with a soft glow.
    sx, sy = 96, 22
    d = np.hypot(xx - sx, yy - sy)
    glow = np.exp(-(d / 18.0) ** 2)[..., None]
    sky = sky * (1 - 0.6 * glow) + np.array([255, 230, 160]) * 0.6 * glow
    img = Image.fromarray(sky.clip(0, 255).astype(np.uint8), "RGB")
    dr = ImageDraw.Draw(img)
    dr.ellipse([sx - 7, sy - 7, sx + 7, sy + 7], fill=(255, 244, 200))
    # Two layers of hills.
    for base, amp, freq, phase, col in [(58, 9, 0.05, 0.3, (96, 132, 92)),
                                        (70, 6, 0.09, 1.7, (70, 120, 60))]:
        pts = [(x, base - amp * math.sin(freq * x + phase) - 0.5 * amp * math.sin(2.3 * freq * x))
               for x in range(0, w + 1, 2)]
        dr.polygon(pts + [(w, h), (0, h)], fill=col)
    # A house: walls, roof, door, windows.
    dr.rectangle([30, 56, 56, 76], fill=(200, 170, 130), outline=(90, 60, 40))
    dr.polygon([(27, 57), (43, 43), (59, 57)], fill=(150, 50, 40), outline=(80, 30, 25))
    dr.rectangle([40, 64, 46, 76], fill=(100, 60, 35))
    dr.rectangle([33, 60, 38, 65], fill=(170, 210, 235), outline=(60, 50, 40))
    dr.rectangle([49, 60, 54, 65], fill=(170, 210, 235), outline=(60, 50, 40))
    # A tree.
    dr.rectangle([75, 62, 78, 80], fill=(90, 60, 30))
    dr.ellipse([67, 46, 87, 66], fill=(40, 95, 45))
    img = img.filter(ImageFilter.GaussianBlur(0.6))
    arr = np.asarray(img).astype(np.float64)
    # Texture: grass streaks below the horizon, fine noise everywhere.
    grass = (yy > 62) & (rng.random((h, w)) < 0.25)
    arr[grass] += rng.normal(0, 18, (int(grass.sum()), 1)) * np.array([0.6, 1.0, 0.4])
    arr += rng.normal(0, 3.0, arr.shape)
    return Image.fromarray(arr.round().clip(0, 255).astype(np.uint8), "RGB")


def load_vintagify(wheel: Path):
    data = wheel.read_bytes()
    assert sha256(data) == VINTAGIFY_WHEEL_SHA256, "not the vintagify 0.1.2 wheel"
    zf = zipfile.ZipFile(io.BytesIO(data))
    member = zf.read(VINTAGIFY_MEMBER)
    # The package's own class, without importing the package (its __init__ pulls in more deps).
    mod = types.ModuleType("vintagify_generator")
    exec(compile(zf.read("vintagify/generator.py"), "vintagify/generator.py", "exec"), mod.__dict__)
    net = mod.ResnetGenerator(input_nc=3, output_nc=3, ngf=64, n_blocks=9)
    sd = torch.load(io.BytesIO(member), map_location="cpu", weights_only=True)
    net.load_state_dict(sd, strict=True)
    # Its keys are exactly our reference ResNet-9 with affine InstanceNorm and `block` naming.
    with torch.device("meta"):
        ref = build("resnet", resnet_cfg(64, 9, "instance", affine=True, block_name="block"))
    assert {k: list(v.shape) for k, v in ref.state_dict().items()} == \
        {k: list(v.shape) for k, v in sd.items()}
    return net.eval(), sha256(member)


def make_vintagify(wheel: Path) -> dict:
    from PIL import Image

    IMAGES.mkdir(parents=True, exist_ok=True)
    draw_scene().save(IMAGES / "scene.png", optimize=False)
    arr = np.asarray(Image.open(IMAGES / "scene.png").convert("RGB"))
    assert arr.shape == (96, 128, 3)
    x = (torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float() / 255.0) * 2.0 - 1.0
    net, member_sha = load_vintagify(wheel)
    with torch.no_grad():
        y = net(x)
        y64 = copy.deepcopy(net).double()(x.double())
    mse = float(((y.double() - y64) ** 2).mean())
    psnr = 10 * math.log10(4.0 / mse)  # peak-to-peak 2 ([-1, 1]), = PSNR of the [0, 1] images
    save_file({"input": x.contiguous(), "output": y.contiguous()},
              str(OUT / "vintagify_scene.safetensors"))
    out = load_file(str(OUT / "vintagify_scene.safetensors"))
    with torch.no_grad():
        assert torch.equal(net(out["input"]), out["output"])
    print(f"vintagify: output [{float(y.min()):.3f}, {float(y.max()):.3f}], float32 vs float64: "
          f"max abs {float((y.double() - y64).abs().max()):.2e}, PSNR {psnr:.1f} dB")
    return {"wheel_url": VINTAGIFY_WHEEL_URL, "wheel_sha256": VINTAGIFY_WHEEL_SHA256,
            "member": VINTAGIFY_MEMBER, "member_sha256": member_sha,
            "image": "../images/scene.png", "io": "vintagify_scene.safetensors", "psnr_min_db": 40,
            "notes": (f"vintagify 0.1.2 G_A2B_epoch33 (junyanz ResNet-9, ngf 64, affine "
                      f"InstanceNorm, `block` naming), input = PNG/255*2-1 as [1,3,96,128], output "
                      f"= raw tanh output in float32. PSNR (peak-to-peak 2) of this float32 output "
                      f"against the same network in float64: {psnr:.1f} dB (max abs diff "
                      f"{float((y.double() - y64).abs().max()):.1e}).")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vintagify-wheel", type=Path, help="vintagify-0.1.2-py3-none-any.whl")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    OUT.mkdir(parents=True, exist_ok=True)
    import torchvision
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")

    manifest_path = OUT / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    cases = make_cases()
    make_full_layouts()
    manifest = {"generator": "scripts/reference/make_network_fixtures.py",
                "torch": torch.__version__.split("+")[0], "cases": cases}
    if args.vintagify_wheel:
        manifest["vintagify"] = make_vintagify(args.vintagify_wheel)
    elif "vintagify" in old:
        manifest["vintagify"] = old["vintagify"]
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    self_check(cases)

    files = sorted(OUT.iterdir()) + (sorted(IMAGES.iterdir()) if IMAGES.exists() else [])
    total = sum(p.stat().st_size for p in files)
    print(f"{len(files)} files, {total} bytes ({total / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main()
