"""Runs one of the reference benchmark scripts unchanged on the CUDA device.

    python3 scripts/reference/on_cuda.py --tf32 off scripts/reference/bench_nst.py --sizes 512 --steps 5

Every tensor the script creates lands on the GPU (torch.set_default_device), and TF32 is
switched off (`--tf32 off`: true f32 matmuls and convolutions, the comparison for our f32
kernels) or left at PyTorch's defaults (`--tf32 default`: cuDNN convolutions use TF32).
Each JSON line the script prints gets "device" and "tf32" fields. The scripts read a loss
back every step (float(...)), which waits for the GPU, so their wall-clock timing is the
GPU's.
"""
import io
import json
import runpy
import sys
from contextlib import redirect_stdout

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
    sys.argv = [script] + rest
    buf = io.StringIO()

    class Tee(io.TextIOBase):
        def write(self, s):
            buf.write(s)
            while "\n" in buf.getvalue():
                line, tail = buf.getvalue().split("\n", 1)
                buf.seek(0)
                buf.truncate()
                buf.write(tail)
                if line.startswith("{"):
                    r = json.loads(line)
                    r["device"] = torch.cuda.get_device_name(0)
                    r["tf32"] = tf32
                    line = json.dumps(r)
                sys.__stdout__.write(line + "\n")
                sys.__stdout__.flush()
            return len(s)

    with redirect_stdout(Tee()):
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
