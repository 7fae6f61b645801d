#!/usr/bin/env bash
# GPU speed, one command, on a machine with a GPU: our CLI on native wgpu beside PyTorch CUDA
# (the same reference scripts as the CPU benchmarks, on the GPU, with TF32 off and with
# PyTorch's defaults) in one run, then where our time goes (`bench profile`) and our kernels
# against Burn's on the same GPU (`bench kernels`). Writes JSON lines, logs and gpu.md (the
# table with ratios) to the output folder.
#
#   scripts/bench-gpu.sh [--out DIR] [--nst-sizes 256,512,1024] [--train-sizes 256]
#                        [--batches 1,4] [--steps 5] [--profile-sizes 512,256]
#                        [--fast-style-sizes 256,512,1024]
#                        [--kernel-sizes 512] [--tile-sweep] [--quick]
#
# The CLI: .gpu/run.sh when present (the lent GPU machine: ../shared/gpu/prepare.sh builds it
# here, the device tool carries .gpu/ there and runs `bash scripts/bench-gpu.sh --out $OUT`),
# else $AI_ART_CLI, else target/release/ai-art. The Python: $AI_ART_TORCH_PYTHON, else
# python3; it needs torch with CUDA. Each phase runs under a time limit, so one slow phase
# does not cost the others (PHASE_LIMIT seconds, default 240).
# --quick: style transfer and the fast style network at 512 only, CycleGAN and Pix2Pix at batch 1, 3 steps.
# --profile-sizes: the style-transfer and the training profiles' sizes.
# --tile-sweep: also time the convolutions on each tile shape (AI_ART_CONV_TILE), to tune
#   the automatic choice (kernels-<tile>.md).
# --fast-style-sizes: the fast style network's frames (its training: --train-sizes, the last batch).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/bench-results/gpu"
NST_SIZES=256,512,1024
TRAIN_SIZES=256
BATCHES=1,4
STEPS=5
KERNEL_SIZES=512
FAST_SIZES=256,512,1024
PROFILE_NST=512
PROFILE_TRAIN=256
TILE_SWEEP=0
while (($#)); do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --nst-sizes) NST_SIZES="$2"; shift 2 ;;
    --train-sizes) TRAIN_SIZES="$2"; shift 2 ;;
    --batches) BATCHES="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --profile-sizes) PROFILE_NST="${2%%,*}"; PROFILE_TRAIN="${2##*,}"; shift 2 ;;
    --kernel-sizes) KERNEL_SIZES="$2"; shift 2 ;;
    --fast-style-sizes) FAST_SIZES="$2"; shift 2 ;;
    --tile-sweep) TILE_SWEEP=1; shift ;;
    --quick) NST_SIZES=512; BATCHES=1; STEPS=3; FAST_SIZES=512; shift ;;
    *) sed -n '2,22p' "$0" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
LIMIT="${PHASE_LIMIT:-240}"
PY="${AI_ART_TORCH_PYTHON:-python3}"
if [[ -x .gpu/run.sh || -f .gpu/run.sh ]]; then
  CLI=(bash .gpu/run.sh)
elif [[ -n "${AI_ART_CLI:-}" ]]; then
  CLI=("$AI_ART_CLI")
else
  CLI=("$ROOT/target/release/ai-art")
fi

phase() { # name, output file, command...
  local name="$1" file="$2"; shift 2
  echo "== $name" >&2
  local t0=$SECONDS
  timeout "$LIMIT" "$@" > "$OUT/$file" 2> "$OUT/$file.log"
  local rc=$?
  cat "$OUT/$file"
  ((rc == 0)) || echo "   (exit $rc after $((SECONDS - t0)) s; see $OUT/$file.log)" >&2
  echo "   $((SECONDS - t0)) s" >&2
}

"${CLI[@]}" info --backend wgpu > "$OUT/info.txt" 2>&1; cat "$OUT/info.txt" >&2
"$PY" -c 'import torch; assert torch.cuda.is_available(); print("torch", torch.__version__, torch.cuda.get_device_name(0))' >&2 \
  || { echo "error: $PY has no torch with CUDA" >&2; exit 1; }

for tf32 in off tf32; do
  flag=$([[ $tf32 == off ]] && echo off || echo default)
  phase "PyTorch CUDA style transfer (TF32 $flag)" "nst-torch-$tf32.jsonl" \
    "$PY" scripts/reference/on_cuda.py --tf32 "$flag" scripts/reference/bench_nst.py --sizes "$NST_SIZES" --steps "$STEPS"
  phase "PyTorch CUDA training (TF32 $flag)" "train-torch-$tf32.jsonl" \
    "$PY" scripts/reference/on_cuda.py --tf32 "$flag" scripts/reference/bench_train.py --models pix2pix,cyclegan \
      --sizes "$TRAIN_SIZES" --batches "$BATCHES" --iters "$STEPS"
  phase "PyTorch CUDA fast style network (TF32 $flag)" "fast-style-torch-$tf32.jsonl" \
    "$PY" scripts/reference/on_cuda.py --tf32 "$flag" scripts/reference/bench_fast_style.py --sizes "$FAST_SIZES" \
      --train-sizes "$TRAIN_SIZES" --batches "${BATCHES##*,}" --steps "$STEPS"
done
phase "ours: style transfer" nst-ours.jsonl "${CLI[@]}" bench nst --backend wgpu --sizes "$NST_SIZES" --steps "$STEPS"
phase "ours: training" train-ours.jsonl "${CLI[@]}" bench train --backend wgpu --models pix2pix,cyclegan \
  --sizes "$TRAIN_SIZES" --batches "$BATCHES" --iters "$STEPS"
phase "ours: fast style network" fast-style-ours.jsonl "${CLI[@]}" bench fast-style --backend wgpu --sizes "$FAST_SIZES" \
  --train-sizes "$TRAIN_SIZES" --batches "${BATCHES##*,}" --steps "$STEPS"
phase "ours: profile, style transfer" profile-nst.md "${CLI[@]}" bench profile nst --size "$PROFILE_NST"
phase "ours: profile, CycleGAN" profile-cyclegan.md "${CLI[@]}" bench profile cyclegan --size "$PROFILE_TRAIN"
phase "ours: profile, Pix2Pix" profile-pix2pix.md "${CLI[@]}" bench profile pix2pix --size "$PROFILE_TRAIN"
phase "ours: kernels against Burn's" kernels.md "${CLI[@]}" bench kernels --sizes "$KERNEL_SIZES" --runs "$STEPS"
if ((TILE_SWEEP)); then
  for tile in 128x128 64x256 64x64 16x256; do
    phase "ours: convolutions on the $tile tile" "kernels-$tile.md" \
      env AI_ART_CONV_TILE=$tile "${CLI[@]}" bench kernels --ops conv --sizes "$KERNEL_SIZES" --runs "$STEPS"
  done
fi

python3 scripts/reference/gpu_report.py "$OUT" | tee "$OUT/gpu.md"
