#!/usr/bin/env bash
# Training speed, one command: iterations per second of Pix2Pix and CycleGAN (the papers'
# full-width networks) natively on the CPU backend and on wgpu, and in headless Chromium on
# WebGPU and on the CPU fallback, each beside PyTorch CPU running the same iteration on this
# machine in the same run (before and after ours: the machine is shared).
#
#   scripts/bench-train.sh                     # the defaults below (about 40 min on 2 cores)
#   scripts/bench-train.sh --models pix2pix --sizes 128 --batches 1 --iters 3
#   scripts/bench-train.sh --iters 3 --wgpu-cases pix2pix:256:4,cyclegan:256:4 --webgpu-cases cyclegan:128:1
#
# Every case is one warm-up iteration, then the median of --iters timed ones (default 1:
# on 2 CPU cores one CycleGAN iteration at 256 px, batch 4, takes PyTorch a minute).
# --models/--sizes/--batches: the grid for PyTorch and the native CPU backend (--models ""
#   skips it).
# --wgpu-cases, --webgpu-cases, --wasm-cpu-cases: model:size:batch lists for wgpu natively,
#   WebGPU in Chromium and the CPU fallback in Chromium (single-threaded WebAssembly); "" skips
#   one. Without a GPU, wgpu and WebGPU run on software rasterisers (lavapipe, SwiftShader),
#   one to two orders of magnitude slower than PyTorch here (lavapipe takes 90 s for one
#   Pix2Pix iteration at 256 px), so the defaults are the small cases. On a machine with a GPU,
#   pass the whole grid.
# PyTorch also runs every listed case outside the grid. Needs a Python with torch
# (AI_ART_TORCH_PYTHON, default /tmp/torchvenv/bin/python; see
# scripts/reference/make_network_fixtures.py for the venv). Writes bench-results/train.md
# (scripts/reference/train_report.py renders it, and can merge the folders of several runs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODELS=pix2pix,cyclegan
SIZES=128,256
BATCHES=1,4
ITERS=1
WGPU_CASES=pix2pix:128:1,pix2pix:128:4,pix2pix:256:1
WEBGPU_CASES=pix2pix:128:1,pix2pix:128:4
WASM_CPU_CASES=pix2pix:128:1,pix2pix:128:4,pix2pix:256:1,pix2pix:256:4,cyclegan:128:1
while (($#)); do
  case "$1" in
    --models) MODELS="$2"; shift 2 ;;
    --sizes) SIZES="$2"; shift 2 ;;
    --batches) BATCHES="$2"; shift 2 ;;
    --iters) ITERS="$2"; shift 2 ;;
    --wgpu-cases) WGPU_CASES="$2"; shift 2 ;;
    --webgpu-cases) WEBGPU_CASES="$2"; shift 2 ;;
    --wasm-cpu-cases) WASM_CPU_CASES="$2"; shift 2 ;;
    *) echo "usage: $0 [--models pix2pix,cyclegan] [--sizes 128,256] [--batches 1,4] [--iters 3] [--wgpu-cases|--webgpu-cases|--wasm-cpu-cases m:s:b,...]" >&2; exit 2 ;;
  esac
done
# shellcheck source=scripts/bench-common.sh
source "$ROOT/scripts/bench-common.sh"
rm -f "$OUT"/train-*.jsonl
in_list() { [[ ",$2," == *",$1,"* ]]; }
torch_run() {
  if [[ -n "$MODELS" ]]; then
    "$PY" scripts/reference/bench_train.py --models "$MODELS" --sizes "$SIZES" --batches "$BATCHES" --iters "$ITERS"
  fi
  # The PyTorch row of every listed case outside the grid too.
  for c in $(tr , '\n' <<<"$WGPU_CASES,$WEBGPU_CASES,$WASM_CPU_CASES" | sort -u); do
    IFS=: read -r m s b <<<"$c"
    in_list "$m" "$MODELS" && in_list "$s" "$SIZES" && in_list "$b" "$BATCHES" && continue
    "$PY" scripts/reference/bench_train.py --models "$m" --sizes "$s" --batches "$b" --iters "$ITERS"
  done
}

echo "== PyTorch CPU" >&2
torch_run | tee "$OUT/train-torch.jsonl"
if [[ -n "$MODELS" ]]; then
  echo "== ours, native CPU (burn-flex)" >&2
  "$BIN" bench train --backend cpu --models "$MODELS" --sizes "$SIZES" --batches "$BATCHES" --iters "$ITERS" \
    | sed 's/}$/, "backend": "native-cpu"}/' | tee "$OUT/train-native-cpu.jsonl"
fi
echo "== ours, native wgpu" >&2
for c in ${WGPU_CASES//,/ }; do
  IFS=: read -r m s b <<<"$c"
  "$BIN" bench train --backend wgpu --models "$m" --sizes "$s" --batches "$b" --iters "$ITERS" \
    | sed 's/}$/, "backend": "native-wgpu"}/' | tee -a "$OUT/train-native-wgpu.jsonl"
done
if [[ -n "$WEBGPU_CASES$WASM_CPU_CASES" ]]; then
  echo "== ours, headless Chromium (WebGPU, CPU fallback)" >&2
  # Software WebGPU takes minutes per iteration: the runner's usual 300 s is far too short.
  WASM_BINDGEN_TEST_TIMEOUT=7200 AI_ART_BENCH_TRAIN_GPU="$WEBGPU_CASES" AI_ART_BENCH_TRAIN_CPU="$WASM_CPU_CASES" \
    AI_ART_BENCH_ITERS="$ITERS" \
    cargo test --locked --release --target wasm32-unknown-unknown --features browser-bench --test bench_browser_train -- --nocapture \
    2>&1 | tee "$OUT/train-chromium.log" | grep -o '{.*"ms_per_iter".*}' | tee "$OUT/train-chromium.jsonl" \
    || echo "warning: the Chromium run failed; see $OUT/train-chromium.log" >&2
fi
echo "== PyTorch CPU again" >&2
torch_run | tee "$OUT/train-torch2.jsonl"

python3 scripts/reference/train_report.py "$OUT" | tee "$OUT/train.md"
