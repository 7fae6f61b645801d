# Sourced by scripts/bench-nst.sh and scripts/bench-train.sh after their options: checks the
# PyTorch that runs beside ours, installs and puts on PATH the project's tools (Chromium,
# the wasm-bindgen runner), builds the CLI and sets
#   PY   the Python with torch (AI_ART_TORCH_PYTHON, default /tmp/torchvenv/bin/python;
#        scripts/reference/make_network_fixtures.py says how to make that venv),
#   OUT  bench-results/, where the JSON lines and the tables go,
#   BIN  the test-profile `ai-art` (dependencies at opt-level 2, which is what runs the
#        kernels; the test command has already built it).
PY="${AI_ART_TORCH_PYTHON:-/tmp/torchvenv/bin/python}"
"$PY" -c 'import torch' 2>/dev/null || {
  echo "error: $PY cannot import torch; set AI_ART_TORCH_PYTHON to a Python with torch" >&2
  exit 1
}
"$ROOT/scripts/setup-tools.sh" >/dev/null
eval "$("$ROOT/scripts/setup-tools.sh" --env)"
if [[ -z "${XDG_RUNTIME_DIR:-}" || ! -d "${XDG_RUNTIME_DIR:-}" ]]; then
  export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/ai-art-xdg-$(id -u)"
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi
OUT="$ROOT/bench-results"
mkdir -p "$OUT"
cargo build --locked --bin ai-art
BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/ai-art"
