#!/usr/bin/env bash
# Builds the app and serves it on http://127.0.0.1:8080 (rebuilding on change).
#
#   scripts/serve.sh            optimised build (what visitors get)
#   scripts/serve.sh --dev      faster, unoptimised build for development
#
# Installs missing tools first (scripts/setup-tools.sh, idempotent).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

source "$ROOT/scripts/app-env.sh"

release=(--release)
[[ "${1:-}" == "--dev" ]] && release=()
echo "Serving the studio on http://127.0.0.1:8080 (Ctrl-C to stop)"
exec trunk serve "${release[@]}" --offline --address 127.0.0.1 --port 8080
