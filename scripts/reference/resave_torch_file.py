"""Reads a state dict written by the studio's torch.save writer (src/weights/torch_save.rs) with
PyTorch, checks what it holds, and saves it again with torch.save: the fixture pair of
`torch_reads_what_we_write_and_writes_it_back_the_same` (src/weights/tests.rs).

    python scripts/reference/resave_torch_file.py tests/fixtures/torch_save/written.pth \
        tests/fixtures/torch_save/resaved.pth
"""

import collections
import sys

import torch


def main():
    src, dst = sys.argv[1], sys.argv[2]
    # weights_only: the file must need nothing but tensors and plain containers.
    sd = torch.load(src, map_location="cpu", weights_only=True)
    assert isinstance(sd, collections.OrderedDict), type(sd)
    expected = {
        "model.0.weight": (torch.float32, (2, 3, 4, 4)),
        "model.0.bias": (torch.float32, (2,)),
        "model.1.running_mean": (torch.float32, (3,)),
        "model.1.num_batches_tracked": (torch.int64, ()),
        "scale": (torch.float32, ()),
        "empty": (torch.float32, (0, 5)),
        "steps": (torch.int64, (1, 2)),
    }
    assert list(sd) == list(expected), list(sd)
    for name, (dtype, shape) in expected.items():
        t = sd[name]
        assert t.dtype == dtype and tuple(t.shape) == shape and t.is_contiguous(), (name, t.dtype, t.shape)
    assert sd["model.0.bias"][0].item() == 0.0 and torch.signbit(sd["model.0.bias"][0]), "negative zero kept"
    assert sd["steps"][0, 1].item() == 1 << 40
    # A memory-mapped load needs the records aligned as torch aligns them.
    torch.load(src, map_location="cpu", weights_only=True, mmap=True)
    torch.save(sd, dst)
    print(f"{src}: {len(sd)} tensors read by torch {torch.__version__}; saved again as {dst}")


if __name__ == "__main__":
    main()
