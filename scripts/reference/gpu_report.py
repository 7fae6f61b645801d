"""Renders scripts/bench-gpu.sh's JSON lines as the README's table: ours against PyTorch CUDA
in f32 (TF32 off) and with PyTorch's defaults (TF32), as speed ratios (PyTorch's time / ours:
1.0 means as fast, 0.5 means we take twice as long).

    python3 scripts/reference/gpu_report.py bench-results/gpu
"""
import json
import os
import sys


def load(folder, name):
    """The measurement lines of a JSON-lines file (on_cuda.py's device line left out)."""
    return [r for r in load_all(folder, name) if "device" not in r]


def load_all(folder, name):
    rows = []
    path = os.path.join(folder, name)
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def main():
    folder = sys.argv[1]
    out = ["| work | ours (ms) | PyTorch f32, TF32 off (ms) | ratio | PyTorch default, TF32 (ms) | ratio |",
           "|---|---:|---:|---:|---:|---:|"]

    def ratio(ref, ours):
        return f"{ref / ours:.2f}x" if ref and ours else "-"

    def fmt(v):
        return f"{v:,.1f}" if v else "-"

    def key_nst(r):
        return ("nst", r["size"])

    def key_train(r):
        return (r["model"], r["size"], r["batch"])

    def key_fast(r):
        return (r["what"], r["size"], r.get("batch", 1))

    def label_fast(k):
        if k[0] == "inference":
            return f"fast style network, one {k[1]}x{k[1]} frame"
        return f"fast style training iteration {k[1]} px, batch {k[2]}"

    tables = [
        ("nst", lambda r: r["ms_per_step"], key_nst, lambda k: f"style-transfer step {k[1]}x{k[1] * 3 // 4}"),
        ("train", lambda r: r["ms_per_iter"], key_train, lambda k: f"{'Pix2Pix' if k[0] == 'pix2pix' else 'CycleGAN'} iteration {k[1]} px, batch {k[2]}"),
        ("fast-style", lambda r: r.get("ms_per_image", r.get("ms_per_iter")), key_fast, label_fast),
    ]
    for name, value, key, label in tables:
        ours = {key(r): value(r) for r in load(folder, f"{name}-ours.jsonl")}
        off = {key(r): value(r) for r in load(folder, f"{name}-torch-off.jsonl")}
        tf32 = {key(r): value(r) for r in load(folder, f"{name}-torch-tf32.jsonl")}
        for k in sorted(set(ours) | set(off) | set(tf32)):
            o, a, b = ours.get(k), off.get(k), tf32.get(k)
            out.append(f"| {label(k)} | {fmt(o)} | {fmt(a)} | {ratio(a, o)} | {fmt(b)} | {ratio(b, o)} |")
    devices = {f"{r['device']} (torch {r.get('torch', '?')})" for n in ("nst-torch-off.jsonl", "train-torch-off.jsonl")
               for r in load_all(folder, n) if "device" in r}
    if devices:
        out.append("")
        out.append("PyTorch on " + ", ".join(sorted(devices)) + ".")
    print("\n".join(out))


if __name__ == "__main__":
    main()
