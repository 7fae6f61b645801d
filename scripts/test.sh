#!/usr/bin/env bash
# Runs every test: native unit and integration tests (CPU backend and wgpu on
# lavapipe), wasm-bindgen-test in headless Chromium on WebGPU (SwiftShader),
# then builds the app and runs the Playwright end-to-end tests against it.
#
#   scripts/test.sh
#
# Installs missing tools first (scripts/setup-tools.sh, idempotent).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

source "$ROOT/scripts/app-env.sh"
# Mesa's software drivers complain loudly without a runtime dir.
if [[ -z "${XDG_RUNTIME_DIR:-}" || ! -d "${XDG_RUNTIME_DIR:-}" ]]; then
  export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/ai-art-xdg-$(id -u)"
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
t0=$SECONDS

step "native tests (cargo test)"
cargo test --locked

step "browser tests (wasm-bindgen-test in headless Chromium, WebGPU on SwiftShader)"
# --release shares the compiled dependencies with the trunk build below.
cargo test --locked --release --target wasm32-unknown-unknown --test browser

step "build the app (trunk build --release)"
trunk build --release --offline

step "end-to-end tests (Playwright, headless Chromium)"
node --test --test-concurrency=1 tests/e2e/

step "all tests passed in $((SECONDS - t0)) s"
