#!/usr/bin/env python3
"""The table of `scripts/bench-train.sh`, from the JSON lines one or more runs left.

    python3 scripts/reference/train_report.py bench-results [more result folders ...]

Each folder holds one run: `train-torch.jsonl` and `train-torch2.jsonl` (PyTorch before and
after ours), `train-native-cpu.jsonl`, `train-native-wgpu.jsonl`, `train-chromium.jsonl`
(records with "backend": "webgpu" or "cpu"). A cell's ratio is PyTorch's time / ours against
the faster PyTorch run of the same folder, so a ratio never mixes two runs; when several
folders measured a cell, the last one named wins. Prints a Markdown table.
"""

import json
import os
import sys

OURS = [("native CPU (burn-flex)", "train-native-cpu.jsonl", None),
        ("native wgpu", "train-native-wgpu.jsonl", None),
        ("Chromium WebGPU", "train-chromium.jsonl", "webgpu"),
        ("Chromium CPU (wasm)", "train-chromium.jsonl", "cpu")]


def load(folder, name, backend=None):
    rows = {}
    path = os.path.join(folder, name)
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                r = json.loads(line)
                if backend is None or r.get("backend") == backend:
                    rows[(r["model"], r["size"], r["batch"])] = r
    return rows


def ratio(r):
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.3f}x"


def main(folders):
    torch_runs, cells, generators = {}, {}, {}
    for folder in folders:
        torch = [load(folder, "train-torch.jsonl"), load(folder, "train-torch2.jsonl")]
        for run in torch:
            for key, r in run.items():
                torch_runs.setdefault(key, []).append(r["ms_per_iter"])
                generators[key] = r.get("generator", "")
        for label, name, backend in OURS:
            for key, r in load(folder, name, backend).items():
                refs = [t[key]["ms_per_iter"] for t in torch if key in t]
                cells[(label, key)] = (r["ms_per_iter"], min(refs) if refs else None)
    keys = sorted(set(torch_runs) | {k for _, k in cells}, key=lambda k: (k[0] != "pix2pix", k[1], k[2]))
    print("| model | size | batch | PyTorch CPU it/s (each run) | "
          + " | ".join(f"{label} it/s (x PyTorch)" for label, _, _ in OURS) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(OURS))
    for key in keys:
        row = []
        for label, _, _ in OURS:
            if (label, key) in cells:
                ms, ref = cells[(label, key)]
                row.append(f"{1e3 / ms:.3g}" + (f" ({ratio(ref / ms)})" if ref else ""))
            else:
                row.append("not run")
        torch = " / ".join(f"{1e3 / ms:.3g}" for ms in torch_runs.get(key, []))
        print(f"| {key[0]} ({generators.get(key, '')}) | {key[1]} | {key[2]} | {torch} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:] or ["bench-results"])
