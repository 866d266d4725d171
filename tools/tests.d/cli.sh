#!/usr/bin/env bash
# The command line: bad input is one clear error with exit code 2 and no
# crash; `--config` reaches the simulated world for run and swarm alike.
# Last line: `cli: N passed, N failed`.
set -u
BUILD=${BUILD:-build}
S="$BUILD/syncsim"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0 failed=0
ok()  { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }

# exit 2 and a message naming what was wrong
rejects() {  # WHAT PATTERN ARGS…
  local what=$1 pat=$2; shift 2
  "$S" "$@" >"$out/o" 2>"$out/e"
  local rc=$?
  if [ "$rc" = 2 ] && grep -q -- "$pat" "$out/e"; then ok "$what"
  else bad "$what (exit $rc, stderr: $(head -1 "$out/e"))"; fi
}

rejects "swarm --config with an unknown key" "expected a config key" swarm --seeds 2 --config bogus=1
rejects "swarm --config with a bad value" "cooldown: expected a duration" swarm --seeds 2 --config cooldown=xx
rejects "swarm --seeds not a number" "--seeds: expected a count" swarm --seeds many
rejects "swarm option without a value" "needs a value" swarm --seeds
rejects "run --config with an unknown key" "config key" run --seed 1 --config bogus=1
rejects "run --devices out of range" "--devices: expected 1..4" run --seed 1 --devices 9
rejects "an unknown command" "expected a command\|unknown command" frobnicate
rejects "scenario with a missing file" "cannot be opened" scenario "$out/missing.scn"

# --config changes the world: the same seed hashes differently with another
# pull page size (more pages, more events).
h0=$("$S" run --seed 7 | sed -n 's/.*hash=\(0x[0-9a-f]*\).*/\1/p')
h1=$("$S" run --seed 7 --config pull_page=1 | sed -n 's/.*hash=\(0x[0-9a-f]*\).*/\1/p')
if [ -n "$h0" ] && [ -n "$h1" ] && [ "$h0" != "$h1" ]; then ok "run --config changes the run"
else bad "run --config changes the run ($h0 vs $h1)"; fi
if "$S" swarm --seeds 3 -j 2 --config cooldown=1s --config push_batch=3 >"$out/sw" 2>&1 \
   && grep -q '3 passed, 0 failed' "$out/sw"; then ok "swarm accepts repeated --config"
else bad "swarm accepts repeated --config: $(tail -2 "$out/sw")"; fi
# ... and every seed runs with it: INV-SCOPE counts rows sent, which a page
# of one row changes
"$S" swarm --seeds 2 --report "$out/a" >/dev/null 2>&1
"$S" swarm --seeds 2 --config pull_page=1 --report "$out/b" >/dev/null 2>&1
ca=$(grep -o '"INV-SCOPE": [0-9]*' "$out/a/swarm.json"); cb=$(grep -o '"INV-SCOPE": [0-9]*' "$out/b/swarm.json")
if [ -n "$ca" ] && [ -n "$cb" ] && [ "$ca" != "$cb" ]; then ok "swarm --config reaches every seed"
else bad "swarm --config reaches every seed ($ca vs $cb)"; fi

echo "cli: $passed passed, $failed failed"
[ "$failed" = 0 ]
