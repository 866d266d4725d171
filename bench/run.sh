#!/usr/bin/env bash
# bench/run.sh — `make bench` (issue 9). Prints `bench NAME=VALUE min=… max=…`
# lines (medians of >= 5 repetitions unless reps= says otherwise) and writes
# the same to reports/out/bench.json. BENCH_QUICK=1 shrinks every workload.
set -u
BUILD=${BUILD:-build}
OUT=${BENCH_OUT:-reports/out}
REPS=${BENCH_REPS:-5}
SS=$BUILD/syncsim
B=$BUILD/bench
mkdir -p "$OUT"
LINES=$(mktemp)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP" "$LINES"' EXIT
emit() { echo "$*" | tee -a "$LINES"; }
run() { "$@" | tee -a "$LINES"; }

if [ "${BENCH_QUICK:-0}" = 1 ]; then SEEDS=8; CHANGES=500; ROWS=20000; HOURS="1 4"; else SEEDS=24; CHANGES=2000; ROWS=100000; HOURS="1 4 16"; fi

# The event loop without SQLite (the heap alone).
run "$B" heap "$REPS"

# The default swarm profile on 2 workers: seeds/s and simulated/wall.
sps=(); swr=()
for r in $(seq 1 "$REPS"); do
  "$SS" swarm --seeds "$SEEDS" --from $(( 1 + (r - 1) * SEEDS )) -j 2 --report "$TMP/s$r" > "$TMP/s$r.out" 2>&1
  sps+=("$(sed -n 's/.*"seeds_per_sec": \([0-9.]*\).*/\1/p' "$TMP/s$r/swarm.json")")
  swr+=("$(sed -n 's/.*"sim_wall_ratio": \([0-9.]*\).*/\1/p' "$TMP/s$r/swarm.json")")
done
stat() { # NAME UNIT EXTRA values…
  local name=$1 unit=$2 extra=$3; shift 3
  printf '%s\n' "$@" | sort -g | awk -v n="$name" -v u="$unit" -v x="$extra" '
    { v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
      f = m >= 100 ? "%.0f" : "%.4g";
      printf "bench %s=" f " min=" f " max=" f " reps=%d unit=%s%s\n", n, m, v[1], v[NR], NR, u, x }'
}
emit "$(stat sim_wall_ratio x " seeds=$SEEDS jobs=2 profile=default" "${swr[@]}")"
emit "$(stat seeds_per_sec seeds/s " seeds=$SEEDS jobs=2 profile=default" "${sps[@]}")"

# End to end through the engine, and initial sync.
run "$B" changes "$CHANGES" "$REPS"
run "$B" initial "$ROWS" "$REPS"

# Scaling: cost per simulated hour by devices (1 h) and by duration (2 devices).
for d in 1 2 4 8; do run "$B" scale "$d" 1 "$REPS"; done
for h in $HOURS; do [ "$h" = 1 ] || run "$B" scale 2 "$h" "$REPS"; done

# live_vs_sim_ratio: the same scenario (a few cooldowns and syncs) in real
# time and in the simulator. `syncsim scenario --live` runs it both ways and
# checks they agree; its wall time is the live run's (the simulated one takes
# milliseconds), timed against `syncsim scenario` alone.
SCN=bench/live_cooldowns.scn
if ! "$SS" scenario --live "$SCN" > "$TMP/live.out" 2>&1; then
  emit "bench live_vs_sim_ratio=skipped reason=live_run_failed(see_syncsim_scenario_--live_$SCN)"
else
  lv=(); sv=()
  for r in $(seq 1 "$REPS"); do
    t0=$(date +%s.%N); "$SS" scenario --live "$SCN" > /dev/null 2>&1; t1=$(date +%s.%N)
    "$SS" scenario "$SCN" > /dev/null 2>&1; t2=$(date +%s.%N)
    lv+=("$(echo "$t1 - $t0" | bc -l)"); sv+=("$(echo "$t2 - $t1" | bc -l)")
  done
  ratios=(); for i in "${!lv[@]}"; do ratios+=("$(echo "${lv[$i]} / ${sv[$i]}" | bc -l)"); done
  emit "$(stat live_vs_sim_ratio x " scenario=$SCN" "${ratios[@]}")"
fi

# fuzz_execs_per_sec: the coordinator harness under afl-fuzz for ~10 s.
AFLBIN=$BUILD/fuzz/coordinator.afl
if [ ! -x "$AFLBIN" ]; then
  emit "bench fuzz_execs_per_sec=skipped reason=no_$AFLBIN(make_fuzz)"
elif ! command -v afl-fuzz > /dev/null; then
  emit "bench fuzz_execs_per_sec=skipped reason=afl-fuzz_not_installed"
else
  IN=fuzz/corpus/coordinator; [ -d "$IN" ] || { mkdir -p "$TMP/in"; printf 'AAAA' > "$TMP/in/a"; IN=$TMP/in; }
  AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
    timeout 30 afl-fuzz -V "${FUZZ_SECONDS:-10}" -i "$IN" -o "$TMP/afl" -- "$AFLBIN" > "$TMP/afl.log" 2>&1
  e=$(sed -n 's/^execs_per_sec *: *\([0-9.]*\).*/\1/p' "$TMP"/afl/*/fuzzer_stats 2>/dev/null | head -1)
  if [ -n "$e" ]; then emit "$(stat fuzz_execs_per_sec execs/s " seconds=${FUZZ_SECONDS:-10} harness=coordinator" "$e")"
  else emit "bench fuzz_execs_per_sec=skipped reason=afl-fuzz_failed(see_afl.log)"; tail -5 "$TMP/afl.log" >&2; fi
fi

# The machine, then reports/out/bench.json.
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
NPROC=$(nproc)
emit "bench machine nproc=$NPROC cpu=\"$CPU\""
{
  printf '{\n  "machine": {"nproc": %s, "cpu": "%s", "kernel": "%s"},\n  "bench": {' "$NPROC" "$CPU" "$(uname -r)"
  sep=""
  grep '^bench [a-z_0-9]*=' "$LINES" | while read -r _ kv rest; do
    name=${kv%%=*}; val=${kv#*=}
    printf '%s\n    "%s": {' "$sep" "$name"
    if [[ $val =~ ^[0-9.e+-]+$ ]]; then printf '"median": %s' "$val"; else printf '"value": "%s"' "$val"; fi
    for f in $rest; do k=${f%%=*}; v=${f#*=}
      if [[ $v =~ ^[0-9.e+-]+$ ]]; then printf ', "%s": %s' "$k" "$v"; else printf ', "%s": "%s"' "$k" "$v"; fi
    done
    printf '}'; sep=","
  done
  printf '\n  }\n}\n'
} > "$OUT/bench.json"
echo "bench: wrote $OUT/bench.json"
