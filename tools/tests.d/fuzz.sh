#!/usr/bin/env bash
# Fuzz suite of `make test` (SPEC §5, fuzz/README.md): builds the replay
# binaries (gcc + ASan + UBSan), replays every committed corpus and crash
# file through them, and, when afl++ is installed, runs a short AFL smoke
# per harness. Last line: `fuzz: N passed, N failed` (N = replayed files +
# smoke runs).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SMOKE=${FUZZ_SMOKE_SECONDS:-15}
passed=0 failed=0
names="coordinator scenario wire server"
if ! make -s --no-print-directory BUILD="$BUILD" fuzz-replay >/tmp/fuzz-build.$$ 2>&1; then
  tail -20 /tmp/fuzz-build.$$; rm -f /tmp/fuzz-build.$$
  echo "fuzz: 0 passed, 1 failed"; exit 1
fi
rm -f /tmp/fuzz-build.$$
asan=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}   # replays only: afl-fuzz wants its own
export FUZZ_QUIET=1
for n in $names; do
  bin=$BUILD/fuzz/$n.replay
  for f in fuzz/corpus/$n/* fuzz/crashes/$n/*; do
    [ -f "$f" ] || continue
    case "$f" in *.scn|*.txt|*.md) [ "$n" != scenario ] && continue;; esac
    if ASAN_OPTIONS=$asan timeout 60 "$bin" "$f" >/dev/null 2>/tmp/fuzz-replay.$$; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1)); echo "FAIL replay $n $f:"; head -30 /tmp/fuzz-replay.$$ | sed 's/^/  /'
    fi
  done
done
rm -f /tmp/fuzz-replay.$$
echo "replay: $passed passed, $failed failed"
if command -v afl-fuzz >/dev/null && command -v afl-clang-fast >/dev/null; then
  if make -s --no-print-directory BUILD="$BUILD" fuzz >/dev/null 2>&1; then
    for n in $names; do
      out=$(FUZZ_OUT=$BUILD/fuzz/smoke/$n fuzz/run "$n" "$SMOKE" 2>&1)
      line=$(echo "$out" | tail -1)
      echo "smoke $n: $line"
      c=$(echo "$line" | sed -n 's/.*crashes=\([0-9]*\).*/\1/p')
      e=$(echo "$line" | sed -n 's/.*execs_per_sec=\([0-9]*\).*/\1/p')
      if [ "${e:-0}" -gt 0 ] && [ "${c:-1}" = 0 ]; then passed=$((passed + 1)); else
        failed=$((failed + 1)); echo "$out" | tail -10 | sed 's/^/  /'; fi
    done
  else
    echo "FAIL make fuzz"; failed=$((failed + 1))
  fi
else
  echo "smoke: afl++ not installed, skipped"
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
