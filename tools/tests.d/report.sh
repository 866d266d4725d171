#!/usr/bin/env bash
# Reports and shrinking (issue 6): renders a failure page from a planted
# failing scenario and from a seed, a swarm page, checks they are
# self-contained and name what they should, shrinks the planted scenario
# (≤ 12 statements, same failure, within 30 s) and a planted failing seed
# (seed 7 with a too short quiesce_limit), and screenshots the failure
# page in headless Chromium (skipped with a message when it is absent).
# Last line: `report: N passed, N failed`.
set -u
BUILD=${BUILD:-build}
S="$BUILD/syncsim"
PLANT=reports/planted_offline_outbox.scn
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
bad()  { failed=$((failed + 1)); echo "FAIL $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

html_ok() {  # FILE: a whole, self-contained page
  local f=$1
  [ -s "$f" ] && grep -q '<!DOCTYPE html>' "$f" && grep -q '</html>' "$f" \
    && ! grep -qiE '(src|href)="(https?:)?//' "$f" && ! grep -qi '<link ' "$f"
}
tags_balanced() {  # FILE: as many <svg>/<section> openings as closings
  local f=$1 t
  for t in svg section table pre; do
    [ "$(grep -o "<$t[ >]" "$f" | wc -l)" = "$(grep -o "</$t>" "$f" | wc -l)" ] || return 1
  done
}

# 1. failure page of the planted scenario
"$S" report failure "$PLANT" --out "$out" >"$out/r1.log" 2>&1
page="$out/failure-planted_offline_outbox.html"
check "failure page written" test -s "$page"
check "failure page self-contained" html_ok "$page"
check "failure page tags balanced" tags_balanced "$page"
check "failure page names the failing expectation" grep -q 'expectation phone outbox 0 was 2' "$page"
check "failure page has an SVG timeline with lanes" bash -c "grep -q '<svg id=\"timeline\"' '$page' && grep -q '>phone</text>' '$page' && grep -q '>tablet</text>' '$page' && grep -q '>server</text>' '$page'"
check "failure page marks the failing step" grep -q 'id="failstep"' "$page"
check "failure page draws locks, messages and a crash" bash -c "grep -q 'class=\"lock' '$page' && grep -q 'class=\"mreq\"' '$page' && grep -q 'class=\"kx\"' '$page'"
check "failure JSON summary" bash -c "grep -q '\"invariant\": \"EXPECT\"' '$out/failure-planted_offline_outbox.json' && grep -q '\"repro\"' '$out/failure-planted_offline_outbox.json'"

# 2. a seed's page (passing seeds render too) and its SPEC text table
"$S" report failure --seed 7 --out "$out" >"$out/r2.log" 2>&1
spage="$out/failure-0x0000000000000007.html"
check "seed page written and self-contained" html_ok "$spage"
check "seed page has lanes and a repro command" bash -c "grep -q '<svg id=\"timeline\"' '$spage' && grep -q 'build/syncsim replay 0x0000000000000007' '$spage'"

# 3. swarm page from swarm.json (as `syncsim swarm --report` writes it),
#    with a failing seed listed, and the in-process mode with coverage
mkdir -p "$out/sw"
cat >"$out/sw/swarm.json" <<'JSON'
{
  "seeds": 20,
  "failed": 1,
  "from": 1,
  "wall_s": 1.5,
  "seeds_per_sec": 13.3,
  "sim_wall_ratio": 9000,
  "fault_kinds": {"loss": 7, "dup": 5, "delay": 8},
  "failures": [
    "FAIL seed=0x0000000000000003 INV-MUTEX: INV-MUTEX at step 9 (t=5 ms): phone: two holders\n  repro: build/syncsim replay 0x0000000000000003"
  ]
}
JSON
"$S" report swarm "$out/sw" --pages 1 >"$out/r3.log" 2>&1
check "swarm page written and self-contained" html_ok "$out/sw/swarm.html"
check "swarm page lists the failure and its repro" bash -c "grep -q 'INV-MUTEX' '$out/sw/swarm.html' && grep -q 'build/syncsim replay 0x0000000000000003' '$out/sw/swarm.html' && grep -q 'seeds/s' '$out/sw/swarm.html'"
check "swarm page links the failure page" bash -c "grep -q 'href=\"failure-0x0000000000000003.html\"' '$out/sw/swarm.html' && test -s '$out/sw/failure-0x0000000000000003.html'"
check "swarm summary JSON for bots" grep -q '"repro": "build/syncsim replay 0x0000000000000003"' "$out/sw/swarm-summary.json"
"$S" report swarm "$out/sw2" --seeds 4 --duration 60s >"$out/r4.log" 2>&1
check "swarm run mode: checks and coverage matrix" bash -c "grep -q 'INV-MUTEX' '$out/sw2/swarm.html' && grep -q 'class=\"cov\"' '$out/sw2/swarm.html' && grep -q '\"checks\"' '$out/sw2/swarm.json'"

# 4. shrinking the planted failure: ≤ 12 statements, same failure, < 30 s
start=$(date +%s)
"$S" shrink "$PLANT" --out "$out/min.scn" --budget 30s >"$out/r5.log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
check "shrink exits 0 within 30 s" test "$rc" = 0 -a "$secs" -le 30
n=$(grep -cE '^at ' "$out/min.scn" 2>/dev/null || echo 99)
check "shrunk scenario has <= 12 statements ($n)" test "$n" -le 12
check "shrunk scenario has its header comment" grep -q '^# Shrunk by `syncsim shrink` from' "$out/min.scn"
"$S" scenario "$out/min.scn" >"$out/r6.log" 2>&1
check "shrunk scenario fails the same way" bash -c "grep -q 'expectation phone outbox 0 was 2' '$out/r6.log'"
"$S" shrink scenarios/kill_mid_push.scn --out "$out/pass.scn" >"$out/r7.log" 2>&1
check "shrinking a passing scenario exits 1" test $? = 1

# 4b. shrinking a seed: seed 7 with a liveness limit shorter than its
#     initial syncs fails INV-CONVERGE on the correct model (a planted
#     seed failure); ≤ 12 statements within 30 s, the same failure when the
#     written file runs, the same file twice
start=$(date +%s)
"$S" shrink 7 --config quiesce_limit=1s --out "$out/seed.scn" --budget 30s >"$out/r8.log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
check "shrink SEED exits 0 within 30 s" test "$rc" = 0 -a "$secs" -le 30
check "the seed's scenario form is written" test -s "$out/seed.full.scn"
n=$(grep -cE '^at ' "$out/seed.scn" 2>/dev/null || echo 99)
check "shrunk seed has <= 12 statements ($n)" test "$n" -le 12
"$S" scenario "$out/seed.scn" >"$out/r9.log" 2>&1
check "shrunk seed fails the same way (INV-CONVERGE)" bash -c "grep -q '^FAIL .*INV-CONVERGE' '$out/r9.log'"
"$S" shrink 7 --config quiesce_limit=1s --out "$out/seed2.scn" --budget 30s >"$out/r10.log" 2>&1
check "shrinking a seed is deterministic" cmp -s <(grep -v '^#' "$out/seed.scn") <(grep -v '^#' "$out/seed2.scn")
"$S" shrink 7 --out "$out/pass7.scn" >"$out/r11.log" 2>&1
check "shrinking a passing seed exits 1" test $? = 1

# 5. a screenshot in headless Chromium is not blank
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$CHROME" ]; then
  echo "skip screenshot: chromium is not installed (apt-get install chromium to run it)"
else
  png="$out/failure.png"
  timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$(mktemp -d)" \
    --screenshot="$png" --window-size=1400,900 "file://$(realpath "$page")" >"$out/chrome.log" 2>&1
  size=$(stat -c %s "$png" 2>/dev/null || echo 0)
  distinct=$(od -An -v -tu1 "$png" 2>/dev/null | tr -s ' ' '\n' | sort -u | wc -l)
  check "screenshot is not blank (size $size, $distinct distinct byte values)" test "$size" -gt 20000 -a "$distinct" -gt 200
fi

echo "report: $passed passed, $failed failed"
[ "$failed" = 0 ]
