#!/usr/bin/env python3
"""Generate the checkpoint fixtures of `src/weights/tests.rs` into `tests/fixtures/weights/`.

Every well-formed fixture is written by real PyTorch (`torch.save`, both the zip format and the
legacy `_use_new_zipfile_serialization=False` format, `torch.jit.save`) or by the `safetensors`
package; `expected.json` holds what torch itself reads back from each one (keys, shapes, dtypes and
every value, converted to float32 the way `tensor.float()` does), so the Rust tests compare against
torch, not against a re-implementation.

A few fixtures are derived from those files by hand, each documented where it is made:
  * `zip_bigendian.pth`: the zip file rewritten with `byteorder` = `big` and every storage
    byte-swapped, exactly what torch writes on a big-endian machine; checked by loading it back
    with `torch.load`, which byte-swaps it again.
  * `zip_deflate.pth`: the same records re-compressed with deflate (torch stores them uncompressed,
    but a user may re-zip a checkpoint).
  * hostile pickles (made with Python's own `pickle`, never loaded here) and truncated/corrupt files.

Run (PyTorch is only needed to regenerate; the fixtures are committed):
    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch safetensors numpy
    /tmp/torchvenv/bin/python scripts/reference/make_weight_fixtures.py

To check a real checkpoint against torch (not committed: too large):
    /tmp/torchvenv/bin/python scripts/reference/make_weight_fixtures.py --summary x.pth /tmp/x.json
    AI_ART_CHECKPOINT=x.pth AI_ART_CHECKPOINT_SUMMARY=/tmp/x.json \
        cargo test --lib weights -- --ignored --nocapture
"""

import collections
import io
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "weights"

FLOAT_DTYPES = {torch.float32, torch.float16, torch.bfloat16, torch.float64}

# The legacy format's first three pickles (torch/serialization.py `_legacy_save`).
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001


def describe(t: torch.Tensor) -> dict:
    """What the Rust reader must produce for one tensor: floats as float32, integers as int64."""
    if t.dtype in FLOAT_DTYPES:
        dtype, values = "f32", t.detach().float().reshape(-1).tolist()
    else:
        dtype, values = "i64", t.detach().to(torch.int64).reshape(-1).tolist()
    return {"shape": list(t.shape), "dtype": dtype, "values": values}


def flatten(obj, prefix="", out=None):
    """The Rust flattening rule: dict keys and list/tuple indices joined with '.', tensors kept,
    plain scalars (ints, floats, strings, None, bools) ignored."""
    if out is None:
        out = {}
    if isinstance(obj, torch.Tensor):
        out[prefix] = describe(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}.{i}" if prefix else str(i), out)
    return out


def write(name: str, data: bytes):
    (OUT / name).write_bytes(data)


def saved(obj, legacy=False) -> bytes:
    buf = io.BytesIO()
    if legacy:
        torch.save(obj, buf, _use_new_zipfile_serialization=False)
    else:
        torch.save(obj, buf)
    return buf.getvalue()


def reloaded(data: bytes):
    return torch.load(io.BytesIO(data), weights_only=True)


def assert_same(a: dict, b: dict):
    assert list(a.keys()) == list(b.keys()), (a.keys(), b.keys())
    for k in a:
        assert a[k]["shape"] == b[k]["shape"] and a[k]["dtype"] == b[k]["dtype"], k
        assert a[k]["values"] == b[k]["values"], k


def legacy_container(object_pickle: bytes, storage_keys=()) -> bytes:
    """The legacy (pre-1.6) layout around a hand-made object pickle, as `_legacy_save` writes it."""
    sys_info = {
        "protocol_version": LEGACY_PROTOCOL_VERSION,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    return (
        pickle.dumps(LEGACY_MAGIC, protocol=2)
        + pickle.dumps(LEGACY_PROTOCOL_VERSION, protocol=2)
        + pickle.dumps(sys_info, protocol=2)
        + object_pickle
        + pickle.dumps(list(storage_keys), protocol=2)
    )


def rezip(data: bytes, transform=None, compression=zipfile.ZIP_STORED) -> bytes:
    """Copy a torch zip record by record, optionally replacing some records' bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if transform is not None:
                body = transform(info.filename, body)
                if body is None:
                    continue
            dst.writestr(zipfile.ZipInfo(info.filename), body, compress_type=compression)
    return out.getvalue()


def storage_element_sizes(data: bytes) -> dict:
    """Storage key -> element size, read from a torch zip's data.pkl with torch's own classes
    (our trusted file), the way torch's loader resolves persistent ids."""
    z = zipfile.ZipFile(io.BytesIO(data))
    prefix = z.namelist()[0].split("/")[0]
    sizes = {}

    class Scan(pickle.Unpickler):
        def persistent_load(self, pid):
            _, storage_type, key, _location, numel = pid
            dtype = storage_type(0).dtype
            sizes[key] = torch.empty((), dtype=dtype).element_size()
            return torch.storage.TypedStorage(numel, dtype=dtype)

    Scan(io.BytesIO(z.read(f"{prefix}/data.pkl"))).load()
    return prefix, sizes


class Evil:
    """Hostile objects: unpickling them runs a callable. Never unpickled here."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def make_state_dict():
    torch.manual_seed(1234)
    # A real module's state_dict: an OrderedDict with a `_metadata` attribute (pickled with BUILD),
    # BatchNorm buffers including the int64 `num_batches_tracked`.
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    with torch.no_grad():
        model[1].running_mean.copy_(torch.randn(4))
        model[1].running_var.copy_(torch.rand(4) + 0.5)
        model[1].num_batches_tracked.fill_(17)
    sd = model.state_dict()
    assert hasattr(sd, "_metadata")
    for k in sd:  # own copies: the model is trained later, for the wrapped checkpoint
        sd[k] = sd[k].clone()
    sd["half.weight"] = torch.randn(2, 3).half()
    sd["bf16.weight"] = torch.randn(3).bfloat16()
    sd["double.weight"] = torch.randn(2, 2, dtype=torch.float64)
    sd["int32.index"] = torch.tensor([[-3, 0, 7]], dtype=torch.int32)
    sd["bool.mask"] = torch.tensor([True, False, True])
    # Non-contiguous view saved as-is: strides (1, 4) over a [3, 4] storage.
    base = torch.randn(3, 4)
    sd["transposed"] = base.t()
    assert not sd["transposed"].is_contiguous()
    # Two views of one storage, one with an offset, and a stepped view.
    shared = torch.arange(10, dtype=torch.float32) * 0.5 - 1.0
    sd["shared.head"] = shared[0:2]
    sd["shared.middle"] = shared[3:7].view(2, 2)
    sd["shared.every_other"] = shared[1::3]
    assert sd["shared.middle"].storage_offset() == 3
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2))
    return model, sd


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    expected = {}

    def ok(name, data, obj_for_expected, state_dict_from=None, note=""):
        """A fixture that must load; expected values come from torch.load of the bytes."""
        write(name, data)
        loaded = obj_for_expected if obj_for_expected is not None else reloaded(data)
        flat = flatten(loaded)
        entry = {"expect": "ok", "note": note, "tensors": flat}
        if state_dict_from is not None:
            prefix = state_dict_from
            entry["state_dict"] = {
                "from_prefix": prefix,
                "keys": sorted(k[len(prefix):] for k in flat if k.startswith(prefix)),
            }
        expected[name] = entry
        return flat

    def err(name, data, kind, contains, note=""):
        write(name, data)
        expected[name] = {"expect": "error", "kind": kind, "contains": contains, "note": note}

    model, sd = make_state_dict()

    # --- real torch files -----------------------------------------------------------------
    zip_basic = saved(sd)
    flat_zip = ok("zip_basic.pth", zip_basic, None, state_dict_from="",
                  note="torch.save zip format: f32/f16/bf16/f64/int32/bool/int64, views, offsets, _metadata")
    assert_same(flat_zip, flatten(sd))
    legacy_basic = saved(sd, legacy=True)
    flat_legacy = ok("legacy_basic.pth", legacy_basic, None, state_dict_from="",
                     note="torch.save(_use_new_zipfile_serialization=False), the pre-1.6 format")
    assert_same(flat_legacy, flatten(sd))

    dp = torch.nn.DataParallel(model)
    ok("zip_module_prefix.pth", saved(dp.state_dict()), None, state_dict_from="module.",
       note="nn.DataParallel(model).state_dict(): every key starts with 'module.'")

    # A training checkpoint: the weights under 'state_dict' next to an optimizer's state (tensors
    # under integer keys, lists of ints, tuples, None, bools) and scalar metadata.
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 5, 5)).sum().backward()
    opt.step()
    wrapped = {
        "epoch": 7,
        "best": 0.25,
        "arch": "tiny",
        "nothing": None,
        # Metadata objects torch's own weights_only loader allows, read as plain data.
        "device": torch.device("cpu"),
        "dtype": torch.float16,
        "input_shape": torch.Size([1, 3, 5, 5]),
        "state_dict": model.state_dict(),
        "optimizer": opt.state_dict(),
    }
    ok("zip_wrapped.pth", saved(wrapped), None, state_dict_from="state_dict.",
       note="{'state_dict': ..., 'optimizer': Adam state, 'epoch': 7, ...}")
    ok("legacy_wrapped.pth", saved({"model": model.state_dict(), "iteration": 3}, legacy=True),
       None, state_dict_from="model.", note="legacy format, {'model': state_dict} wrapper")

    # Big-endian: byte-swap every storage and record byteorder=big, as a big-endian machine writes.
    prefix, elem = storage_element_sizes(zip_basic)

    def to_big(name, body):
        if name == f"{prefix}/byteorder":
            return b"big"
        if name.startswith(f"{prefix}/data/"):
            size = elem[name.rsplit("/", 1)[1]]
            return b"".join(body[i:i + size][::-1] for i in range(0, len(body), size))
        return body

    zip_big = rezip(zip_basic, to_big)
    assert_same(flatten(reloaded(zip_big)), flat_zip)
    ok("zip_bigendian.pth", zip_big, None, state_dict_from="",
       note="zip_basic with byteorder=big and byte-swapped storages; torch.load reads it back equal")

    zip_deflate = rezip(zip_basic, compression=zipfile.ZIP_DEFLATED)
    ok("zip_deflate.pth", zip_deflate, reloaded(zip_basic), state_dict_from="",
       note="zip_basic re-compressed with deflate")

    # safetensors: contiguous tensors only, no shared storage.
    st_tensors = {
        "conv.weight": sd["0.weight"].contiguous(),
        "conv.bias": sd["0.bias"],
        "half": sd["half.weight"],
        "bf16": sd["bf16.weight"],
        "double": sd["double.weight"],
        "steps": sd["1.num_batches_tracked"],
        "int32": sd["int32.index"],
        "transposed": sd["transposed"].contiguous(),
    }
    st_path = OUT / "model.safetensors"
    save_file(st_tensors, str(st_path), metadata={"format": "pt", "note": "fixture"})
    from safetensors.torch import load_file
    ok("model.safetensors", st_path.read_bytes(), load_file(str(st_path)), state_dict_from="",
       note="safetensors.torch.save_file with metadata")

    # --- whole modules: pickled Python classes, rejected ------------------------------------
    err("hostile_nn_module.pth", saved(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1))),
        "ForbiddenGlobal", ["torch.nn.modules.container.Sequential", "state_dict"],
        note="torch.save(model): a pickled nn.Module")
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1))), buf)
    err("torchscript.pt", buf.getvalue(), "ForbiddenGlobal", ["__torch__", "TorchScript"],
        note="torch.jit.save archive")

    # --- hostile pickles (never unpickled here) ----------------------------------------------
    err("hostile_os_system_p2.pkl",
        pickle.dumps({"w": Evil(os.system, ("echo pwned",))}, protocol=2),
        "ForbiddenGlobal", [f"{os.system.__module__}.system"],
        note="bare pickle, protocol 2 GLOBAL, __reduce__ -> os.system")
    err("hostile_eval_p4.pkl",
        pickle.dumps({"w": Evil(eval, ("1+1",))}, protocol=4),
        "ForbiddenGlobal", ["builtins.eval"], note="bare pickle, protocol 4 STACK_GLOBAL -> eval")

    def evil_data_pkl(name, body):
        if name.endswith("/data.pkl"):
            return pickle.dumps(collections.OrderedDict(w=Evil(eval, ("1+1",))), protocol=3)
        return body

    err("hostile_zip_eval.pth", rezip(zip_basic, evil_data_pkl), "ForbiddenGlobal",
        ["builtins.eval"], note="torch zip whose data.pkl calls builtins.eval")
    err("hostile_legacy_popen.pth",
        legacy_container(pickle.dumps({"w": Evil(subprocess.Popen, (["true"],))}, protocol=2,
                                     fix_imports=False)),
        "ForbiddenGlobal", ["subprocess.Popen"], note="legacy container calling subprocess.Popen")

    # --- resource bombs -----------------------------------------------------------------------
    # A legal torch view (stride 0) claiming 4 Gi elements over a one-element storage.
    err("expand_huge.pth", saved({"w": torch.zeros(1).expand(65536, 65536)}), "TooLarge",
        ["w"], note="torch.zeros(1).expand(65536, 65536) saved as-is")
    cyc = []
    cyc.append(cyc)
    err("cycle_legacy.pth", legacy_container(pickle.dumps({"a": cyc}, protocol=2)),
        "Unsupported", ["deeply"], note="a list that contains itself")
    laughs = {"leaf": 1}
    for _ in range(48):
        laughs = {"x": laughs, "y": laughs}
    err("laughs_legacy.pth", legacy_container(pickle.dumps(laughs, protocol=2)), "TooLarge",
        ["objects"], note="48 levels of a dict shared twice: 2^48 paths in a tiny file")

    # --- corrupt and truncated files --------------------------------------------------------
    err("truncated_zip.pth", zip_basic[: len(zip_basic) * 3 // 5], "Zip", ["zip"],
        note="zip_basic cut at 60%: no central directory")
    err("truncated_legacy_data.pth", legacy_basic[:-10], "Corrupt", ["truncated"],
        note="legacy_basic without its last 10 bytes (inside the last storage)")
    err("truncated_legacy_pickle.pth", legacy_basic[:300], "Corrupt", ["truncated"],
        note="legacy_basic cut inside the object pickle")

    weight_key = None

    def shrink_storage(name, body):
        nonlocal weight_key
        if name.startswith(f"{prefix}/data/") and len(body) == 4 * 108:
            weight_key = name
            return body[:8]
        return body

    err("zip_storage_too_small.pth", rezip(zip_basic, shrink_storage), "Corrupt",
        ["0.weight", "storage"], note="the conv weight's storage cut to 2 elements")
    assert weight_key is not None

    err("zip_no_data_pkl.pth",
        rezip(zip_basic, lambda n, b: None if n.endswith("/data.pkl") else b),
        "Unsupported", ["data.pkl"], note="a zip without data.pkl")
    err("not_a_checkpoint.txt", b"hello, this is not a checkpoint\n", "UnknownFormat", [],
        note="plain text")
    err("empty.pth", b"", "Empty", [], note="zero bytes")
    st_bytes = st_path.read_bytes()
    err("truncated.safetensors", st_bytes[:-16], "Safetensors", [],
        note="model.safetensors without its last 16 bytes")

    text = json.dumps(
        {"generator": "scripts/reference/make_weight_fixtures.py",
         "torch": torch.__version__, "fixtures": expected}, indent=1, sort_keys=True)
    # One line per list of numbers or strings, to keep the file short and diffable.
    text = re.sub(r"\[\n\s*([^\[\]{}]*?)\n\s*\]",
                  lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    (OUT / "expected.json").write_text(text + "\n")
    os.chmod(st_path, 0o644)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(expected)} fixtures + expected.json to {OUT} ({total} bytes in all)")


def summary(checkpoint: str, out: str):
    """`--summary CKPT OUT.json`: what torch reads from a real checkpoint (shape, sum in f64,
    first value per tensor), for the ignored Rust test `real_checkpoint_from_env`."""
    obj = torch.load(checkpoint, map_location="cpu", weights_only=True)
    flat = {}

    def walk(o, p):
        if isinstance(o, torch.Tensor):
            flat[p] = o
        elif isinstance(o, dict):
            for k, v in o.items():
                walk(v, f"{p}.{k}" if p else str(k))
        elif isinstance(o, (list, tuple)):
            for i, v in enumerate(o):
                walk(v, f"{p}.{i}" if p else str(i))

    walk(obj, "")
    Path(out).write_text(json.dumps({
        k: {"shape": list(t.shape),
            "sum": float(t.double().sum()),
            "first": float(t.reshape(-1)[0]) if t.numel() else None}
        for k, t in sorted(flat.items())}))
    print(f"{len(flat)} tensors from {checkpoint} -> {out}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--summary":
        sys.exit(summary(sys.argv[2], sys.argv[3]))
    sys.exit(main())
