#!/usr/bin/env bash
# The whole test suite (README "make test"): unit tests (cmocka), the
# scenario suite, a swarm of seeds, the determinism check and the cross-build
# hash check. Every part counts into the closing line `N passed, N failed`.
#
# Environment: BUILD (build dir), UNIT_ONLY=1 (unit tests only),
# SWARM_SEEDS (default 2000), JOBS (default 2), ASAN=1 (sanitizer build:
# smaller swarm).
set -u
BUILD=${BUILD:-build}
JOBS=${JOBS:-2}
SWARM_SEEDS=${SWARM_SEEDS:-2000}
[ "${ASAN:-0}" = 1 ] && SWARM_SEEDS=${ASAN_SWARM_SEEDS:-100}
passed=0 failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

count() { passed=$((passed + $1)); failed=$((failed + $2)); }

section() { printf '\n== %s\n' "$1"; }

section "unit tests"
for t in $(find "$BUILD/model/tests" "$BUILD/sim/tests" -maxdepth 1 -type f -name 'test_*' -perm -u+x 2>/dev/null | sort); do
  out="$log/$(basename "$t").out"
  CMOCKA_MESSAGE_OUTPUT=stdout "$t" >"$out" 2>&1
  rc=$?
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
  p=${p:-0} f=${f:-0}
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi   # a crash counts as a failure
  count "$p" "$f"
  if [ "$f" != 0 ]; then
    echo "FAIL $(basename "$t") ($p passed, $f failed, exit $rc):"
    grep -E '^\[  (FAILED|ERROR) |Failure|error:|assert' "$out" | head -20 | sed 's/^/  /'
  else
    echo "ok   $(basename "$t") ($p tests)"
  fi
done

if [ "${UNIT_ONLY:-0}" != 1 ]; then
  section "scenarios"
  if ls scenarios/*.scn >/dev/null 2>&1; then
    "$BUILD/syncsim" scenario scenarios/*.scn --junit "$BUILD/scenarios.junit.xml" >"$log/scn.out" 2>&1
    rc=$?
    grep -vE '^ok ' "$log/scn.out" | tail -200
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log/scn.out" | tail -1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p'); f=$(echo "$line" | sed -n 's/.*passed, \([0-9]*\) failed.*/\1/p')
    p=${p:-0} f=${f:-0}
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    echo "scenarios: $p passed, $f failed"
    count "$p" "$f"
  fi

  section "swarm ($SWARM_SEEDS seeds, -j $JOBS)"
  "$BUILD/syncsim" swarm --seeds "$SWARM_SEEDS" -j "$JOBS" >"$log/swarm.out" 2>&1
  rc=$?
  tail -40 "$log/swarm.out"
  if [ "$rc" = 0 ]; then count 1 0; else count 0 1; fi

  section "determinism (20 seeds)"
  bad=0
  for s in $(seq 1 20); do
    "$BUILD/syncsim" determinism "$s" >"$log/det.out" 2>&1 || { bad=$((bad + 1)); cat "$log/det.out"; }
  done
  echo "determinism: $((20 - bad)) of 20 seeds gave the same hash twice"
  count $((20 - bad)) "$bad"

  if [ "${ASAN:-0}" != 1 ] && command -v clang >/dev/null; then
    section "cross-build: gcc -O2 vs clang -O0 (5 seeds)"
    if make -s --no-print-directory BUILD=build/clang-O0 CC=clang OPT="-O0 -g" build/clang-O0/syncsim >"$log/clang.out" 2>&1; then
      bad=0
      for s in 11 22 33 44 55; do
        a=$("$BUILD/syncsim" run --seed "$s" | tail -1 | sed 's/.*hash=\(0x[0-9a-f]*\).*/\1/')
        b=$(build/clang-O0/syncsim run --seed "$s" | tail -1 | sed 's/.*hash=\(0x[0-9a-f]*\).*/\1/')
        if [ "$a" != "$b" ] || [ -z "$a" ]; then bad=$((bad + 1)); echo "seed $s: gcc $a clang $b"; fi
      done
      echo "cross-build: $((5 - bad)) of 5 seeds hash the same under gcc -O2 and clang -O0"
      count $((5 - bad)) "$bad"
    else
      echo "FAIL clang build:"; tail -20 "$log/clang.out"; count 0 1
    fi
  fi
fi

# Feature suites (fuzz replay, live mode, reports, …): each script in
# tools/tests.d ends with a line `NAME: N passed, N failed`.
if [ "${UNIT_ONLY:-0}" != 1 ]; then
  for s in $(ls tools/tests.d/*.sh 2>/dev/null | sort); do
    section "$(basename "$s" .sh)"
    BUILD=$BUILD bash "$s" >"$log/feat.out" 2>&1
    rc=$?
    tail -30 "$log/feat.out"
    line=$(grep -E '([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log/feat.out" | tail -1)
    p=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) passed.*/\1/p'); f=$(echo "$line" | sed -n 's/.*passed, \([0-9]*\) failed.*/\1/p')
    p=${p:-0} f=${f:-0}
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    count "$p" "$f"
  done
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
