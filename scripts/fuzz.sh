#!/usr/bin/env bash
# Long fuzzing runs: every target of tests/fuzz (checkpoint readers, the pickle machine,
# image decoding, the worker protocol's messages, saved training runs) for SECONDS of
# fuzzing in all, split evenly among the targets, which run two at a time (so 600 takes
# about 5 minutes on two cores), from SEED (the same seed gives the same inputs).
#
#   scripts/fuzz.sh              # 300 s, a new seed (printed)
#   scripts/fuzz.sh 600 7        # 600 s from seed 7
#
# Release build, with overflow checks kept in our crate so that arithmetic bugs panic
# rather than wrap. Prints execs per target; findings (the input and a .txt saying what went
# wrong) are in target/fuzz-findings/, and
#   AI_ART_FUZZ_REPLAY=target/fuzz-findings/<target>-<hash>.bin cargo test --test fuzz <target>
# replays one (RUST_BACKTRACE=1 for where it panics). The CI run is the plain
# `cargo test`: 48 s of targets from seed 1 (docs/testing.md).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOTAL="${1:-300}"
SEED="${2:-$(date +%s)}"
if [[ ! "$TOTAL" =~ ^[0-9]+$ || ! "$SEED" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [SECONDS] [SEED]" >&2
  exit 2
fi
LOG="target/fuzz-$SEED.log"
START="target/fuzz-findings/.start-$SEED"
mkdir -p target/fuzz-findings
touch "$START"
echo "== fuzzing for $TOTAL s of targets from seed $SEED (log: $LOG)" >&2
status=0
AI_ART_FUZZ_SECONDS="$TOTAL" AI_ART_FUZZ_SEED="$SEED" \
  cargo test --locked --release --config 'profile.release.package.ai-art.overflow-checks=true' \
  --test fuzz -- --nocapture 2>&1 | tee "$LOG" || status=$?
echo "== execs per target" >&2
grep '^fuzz ' "$LOG" | sort || true
mapfile -t findings < <(find target/fuzz-findings -name '*.txt' -newer "$START" | sort)
rm -f "$START"
echo "== ${#findings[@]} findings in this run (target/fuzz-findings/)" >&2
for f in "${findings[@]}"; do
  printf '%s: %s\n' "${f%.txt}.bin" "$(head -n 1 "$f")"
done
exit "$status"
