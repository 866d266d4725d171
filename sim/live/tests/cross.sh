#!/usr/bin/env bash
# cross.sh — the live-mode cross-check (SPEC §6, issue 7): every scenario
# marked `# live: yes` runs in the simulator and live (real server and
# device processes on 127.0.0.1) and both must give the same expectation
# results: `syncsim scenario --live scenarios/*.scn` (sim/live/scn_live.c).
# Unmarked files are skipped at once. Bounded: the whole run is killed after
# TIMEOUT seconds; the runner's processes die with it (PR_SET_PDEATHSIG).
# Last line: `cross: N passed, N failed`.
#
# Environment: BUILD (build dir, default build), TIMEOUT (s, default 600),
# MIN (at least this many files must agree, default 8), KEEP=1 (keep every
# live run's logs; failed runs keep theirs anyway), -v as $1 (show both runs).
set -u
cd "$(dirname "$0")/../../.." || exit 2
BUILD=${BUILD:-build}
BIN=$BUILD/syncsim
TIMEOUT=${TIMEOUT:-600}
MIN=${MIN:-8}
[ "${KEEP:-0}" = 1 ] && export SYNCSIM_LIVE_KEEP=1

if [ ! -x "$BIN" ]; then
  echo "cross: no $BIN (make all first)"
  echo "cross: 0 passed, 1 failed"
  exit 1
fi

out=$(mktemp /tmp/syncsim-cross-out.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -f "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

timeout -k 5 "$TIMEOUT" "$BIN" scenario --live "$@" scenarios/*.scn >"$out" 2>&1 &
pid=$!
shown=0
# Stream the output while it runs (bounded by the timeout above).
while kill -0 "$pid" 2>/dev/null; do
  n=$(wc -l <"$out")
  [ "$n" -gt "$shown" ] && { sed -n "$((shown + 1)),${n}p" "$out" | grep -v '^skip .*no .# live: yes. header$'; shown=$n; }
  sleep 0.5
done
wait "$pid"; rc=$?; pid=
n=$(wc -l <"$out")
[ "$n" -gt "$shown" ] && sed -n "$((shown + 1)),${n}p" "$out" | grep -v '^skip .*no .# live: yes. header$'

last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
passed=${last%% passed*}
failed=${last#*, }; failed=${failed%% failed}
[ -n "$last" ] || { passed=$(grep -c '^ok ' "$out"); failed=$(grep -c '^FAIL ' "$out"); }
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  echo "cross: timed out after ${TIMEOUT}s"
  failed=$((failed + 1))
elif [ "$rc" -gt 1 ]; then
  echo "cross: syncsim exited $rc"
  [ "$failed" = 0 ] && failed=1
fi
if [ "$passed" -lt "$MIN" ]; then
  echo "cross: only $passed files agree; at least $MIN scenarios must be marked '# live: yes' and agree"
  failed=$((failed + 1))
fi
echo "cross: $passed passed, $failed failed"
[ "$failed" = 0 ]
