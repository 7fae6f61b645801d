"""Runs one of the reference benchmark scripts unchanged on the CUDA device.

    python3 scripts/reference/on_cuda.py --tf32 off scripts/reference/bench_nst.py --sizes 512 --steps 5

Every tensor the script creates lands on the GPU (torch.set_default_device), and TF32 is
switched off (`--tf32 off`: true f32 matmuls and convolutions, the comparison for our f32
kernels) or left at PyTorch's defaults (`--tf32 default`: cuDNN convolutions use TF32).
First prints one JSON line {"device": ..., "tf32": ...}, then the script's own lines. The
scripts read a loss back every step (float(...)), which waits for the GPU, so their
wall-clock timing is the GPU's.
"""
import json
import runpy
import sys

import torch


def main():
    args = sys.argv[1:]
    if len(args) < 3 or args[0] != "--tf32" or args[1] not in ("off", "default"):
        sys.exit(__doc__)
    tf32, script, rest = args[1], args[2], args[3:]
    if not torch.cuda.is_available():
        sys.exit("error: torch sees no CUDA device")
    torch.set_default_device("cuda")
    if tf32 == "off":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    print(json.dumps({"device": torch.cuda.get_device_name(0), "tf32": tf32, "torch": torch.__version__}), flush=True)
    sys.argv = [script] + rest
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
