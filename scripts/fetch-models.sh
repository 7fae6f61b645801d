#!/usr/bin/env bash
# Fetches the pretrained models the app offers built in and the tests run, once, into
# the git-ignored .tools/ (verified by SHA-256; a second run does nothing).
#
#   scripts/fetch-models.sh
#
# vintagify 0.1.2 (PyPI, MIT) ships a CycleGAN ResNet-9 generator trained photo -> vintage
# (G_A2B_epoch33.pth, 45.6 MB). It becomes .tools/models/vintagify-photo2vintage.pth, which
# trunk copies into dist/models/ (index.html) and the tests load (tests/pretrained.rs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOWNLOADS="$ROOT/.tools/downloads"
MODELS="$ROOT/.tools/models"
mkdir -p "$DOWNLOADS" "$MODELS"

log() { printf '\033[1m[models]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[models] error:\033[0m %s\n' "$*" >&2; exit 1; }
sha() { python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }

WHEEL_URL="https://files.pythonhosted.org/packages/e3/50/53aaa00fe47bc8a8f67ec0a5f040b9cc95f0fa108217934222dca4df90bd/vintagify-0.1.2-py3-none-any.whl"
WHEEL_SHA="f3b38b728cc6158e97f77c3cc1bf784a63f427db47c445941ad2da3747fa208f"
WHEEL="$DOWNLOADS/vintagify-0.1.2-py3-none-any.whl"
MEMBER="vintagify/resources/G_A2B_epoch33.pth"
OUT="$MODELS/vintagify-photo2vintage.pth"
OUT_SHA="c502cd44ca720d004f89775f593fc403acc6b36d27d65390cbe2f476f771e560"

# The checksum of the extracted file is remembered next to the download, so the fast path
# does not hash 45 MB on every run.
STAMP="$DOWNLOADS/vintagify-photo2vintage.pth.ok"
if [[ -f "$OUT" && -f "$STAMP" && "$(cat "$STAMP")" == "$OUT_SHA $(stat -c %s "$OUT")" ]]; then
  exit 0
fi
if [[ ! -f "$WHEEL" || "$(sha "$WHEEL")" != "$WHEEL_SHA" ]]; then
  log "downloading vintagify 0.1.2 (the built-in CycleGAN demo model, 42 MB)"
  python3 - "$WHEEL_URL" "$WHEEL.part" <<'PY' || die "could not download $WHEEL_URL (the network is needed once)"
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=120) as r, open(sys.argv[2], "wb") as f:
    while chunk := r.read(1 << 20):
        f.write(chunk)
PY
  [[ "$(sha "$WHEEL.part")" == "$WHEEL_SHA" ]] || { rm -f "$WHEEL.part"; die "vintagify wheel checksum mismatch"; }
  mv "$WHEEL.part" "$WHEEL"
fi
python3 - "$WHEEL" "$MEMBER" "$OUT" <<'PY' || die "could not extract $MEMBER from the wheel"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[3], "wb") as f:
    f.write(z.read(sys.argv[2]))
PY
[[ "$(sha "$OUT")" == "$OUT_SHA" ]] || { rm -f "$OUT"; die "$MEMBER checksum mismatch"; }
echo "$OUT_SHA $(stat -c %s "$OUT")" > "$STAMP"
log "built-in model ready: $OUT"
