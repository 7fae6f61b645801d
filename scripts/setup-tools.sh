#!/usr/bin/env bash
# Installs every tool the build and the tests need, pinned, idempotently, into
# the git-ignored folder .tools/ (and node_modules/ for npm packages).
# Safe to run again: each step checks the installed version first.
#
#   scripts/setup-tools.sh            install everything
#   scripts/setup-tools.sh --env      print the PATH/env exports only
#
# Pins (keep in sync with Cargo.lock and Trunk.toml):
#   trunk 0.21.14 (0.22 needs rustc >= 1.96.1), wasm-bindgen-cli = the
#   wasm-bindgen in Cargo.lock, binaryen (wasm-opt) 132 from npm (Debian's 108
#   cannot read what rustc 1.95 emits), playwright-core from package-lock.json,
#   Debian's chromium + chromium-driver, mesa-vulkan-drivers (lavapipe, so wgpu
#   runs natively without a GPU).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
TRUNK_VERSION="0.21.14"
# The CLI must equal the wasm-bindgen crate in Cargo.lock, or the generated
# glue does not match the compiled wasm.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock")"

export PATH="$TOOLS/cargo/bin:$ROOT/node_modules/.bin:$PATH"
if [[ "${1:-}" == "--env" ]]; then
  echo "export PATH=\"$TOOLS/cargo/bin:$ROOT/node_modules/.bin:\$PATH\""
  exit 0
fi

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

mkdir -p "$TOOLS"

# --- Rust wasm target ----------------------------------------------------
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown || die "could not add the wasm32-unknown-unknown target (rustup needs the network)"
fi

# --- Debian packages: Chromium, its driver, lavapipe ---------------------
need_apt=()
[[ -x /usr/bin/chromium ]] || need_apt+=(chromium)
[[ -x /usr/bin/chromedriver ]] || need_apt+=(chromium-driver)
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need_apt+=(mesa-vulkan-drivers)
if ((${#need_apt[@]})); then
  log "installing Debian packages: ${need_apt[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install ${need_apt[*]}"
    SUDO="sudo"
  fi
  $SUDO apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" \
    || die "apt-get install ${need_apt[*]} failed"
fi

# --- cargo-installed tools, built once into .tools/cargo -----------------
cargo_tool() { # name crate version extra-args...
  local bin="$1" crate="$2" version="$3"; shift 3
  if [[ -x "$TOOLS/cargo/bin/$bin" ]] && "$TOOLS/cargo/bin/$bin" --version 2>/dev/null | grep -q " $version\b"; then
    return 0
  fi
  log "building $crate $version (one-off, several minutes)"
  # Tools are built without LTO and at opt-level 1: they only drive the build,
  # and this halves their compile time on 2 cores.
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=0 \
  CARGO_TARGET_DIR="$TOOLS/cargo-build" \
    cargo install --quiet --root "$TOOLS/cargo" --force "$crate" --version "=$version" "$@" \
    || die "cargo install $crate $version failed"
}
[[ -n "$WASM_BINDGEN_VERSION" ]] || die "no wasm-bindgen entry in Cargo.lock"
# wasm-bindgen-cli: no --locked (its lockfile wants a webpki-roots release the registry lacks).
cargo_tool wasm-bindgen wasm-bindgen-cli "$WASM_BINDGEN_VERSION"
cargo_tool trunk trunk "$TRUNK_VERSION" --locked
rm -rf "$TOOLS/cargo-build"

# --- npm packages: binaryen (wasm-opt), playwright-core, axe-core ---------
if ! (cd "$ROOT" && npm ls --silent >/dev/null 2>&1); then
  log "installing npm packages from package-lock.json"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
fi

# --- report ---------------------------------------------------------------
log "trunk:        $(trunk --version)"
log "wasm-bindgen: $(wasm-bindgen --version)"
log "wasm-opt:     $(wasm-opt --version)"
log "chromium:     $(/usr/bin/chromium --version 2>/dev/null)"
log "chromedriver: $(/usr/bin/chromedriver --version 2>/dev/null | cut -d' ' -f1-2)"
