#!/usr/bin/env bash
# Style-transfer speed, one command: milliseconds per optimisation step at the given widths
# (heights 3/4 of them) natively on wgpu and on the CPU backend, and in headless Chromium on
# WebGPU, each beside PyTorch CPU running the same method on this machine in the same run.
#
#   scripts/bench-nst.sh                      # --sizes 256,512 --steps 3
#   scripts/bench-nst.sh --sizes 256 --steps 5
#
# Needs a Python with torch (AI_ART_TORCH_PYTHON, default /tmp/torchvenv/bin/python; see
# scripts/reference/make_network_fixtures.py for the venv). Writes bench-results/nst.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SIZES=256,512
STEPS=3
while (($#)); do
  case "$1" in
    --sizes) SIZES="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    *) echo "usage: $0 [--sizes 256,512] [--steps 3]" >&2; exit 2 ;;
  esac
done
# shellcheck source=scripts/bench-common.sh
source "$ROOT/scripts/bench-common.sh"

echo "== PyTorch CPU" >&2
"$PY" scripts/reference/bench_nst.py --sizes "$SIZES" --steps "$STEPS" | tee "$OUT/nst-torch.jsonl"
echo "== ours, native wgpu" >&2
"$BIN" bench nst --backend wgpu --sizes "$SIZES" --steps "$STEPS" | tee "$OUT/nst-wgpu.jsonl"
echo "== ours, native CPU (burn-flex)" >&2
"$BIN" bench nst --backend cpu --sizes "$SIZES" --steps "$STEPS" | tee "$OUT/nst-cpu.jsonl"
echo "== ours, headless Chromium on WebGPU" >&2
# SwiftShader takes minutes per step at these sizes: the runner's usual 300 s is too short.
WASM_BINDGEN_TEST_TIMEOUT=3600 AI_ART_BENCH_SIZES="$SIZES" AI_ART_BENCH_STEPS="$STEPS" \
  cargo test --locked --release --target wasm32-unknown-unknown --features browser-bench --test bench_browser -- --nocapture \
  2>&1 | tee "$OUT/nst-chromium.log" | grep -o '{"size".*}' | tee "$OUT/nst-chromium.jsonl" \
  || echo "warning: the Chromium run failed; see $OUT/nst-chromium.log" >&2
echo "== PyTorch CPU again (the machine is shared: both PyTorch runs are shown)" >&2
"$PY" scripts/reference/bench_nst.py --sizes "$SIZES" --steps "$STEPS" | tee "$OUT/nst-torch2.jsonl"

python3 - "$OUT" <<'PY' | tee "$OUT/nst.md"
import json, sys, os
out = sys.argv[1]
def load(name):
    path = os.path.join(out, name)
    rows = {}
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                r = json.loads(line)
                rows[r["size"]] = r["ms_per_step"]
    return rows
torch = [load("nst-torch.jsonl"), load("nst-torch2.jsonl")]
print("| backend | image | ms / step (ours) | ms / step (PyTorch CPU, 2 runs) | PyTorch / ours |")
print("|---|---|---:|---:|---:|")
for label, name in [("native wgpu", "nst-wgpu.jsonl"), ("native CPU (burn-flex)", "nst-cpu.jsonl"), ("Chromium WebGPU (SwiftShader)", "nst-chromium.jsonl")]:
    for size, ms in sorted(load(name).items()):
        refs = [t[size] for t in torch if size in t]
        ref = min(refs) if refs else float("nan")
        print(f"| {label} | {size}x{size * 3 // 4} | {ms:.0f} | {' / '.join(f'{r:.0f}' for r in refs)} | {ref / ms:.2f}x |")
PY
