#!/usr/bin/env bash
# run.sh — the live-mode tests (SPEC §6, issue 7; `make test-live`, and
# tools/tests.d/live.sh under `make test`). Real processes on 127.0.0.1
# only, killed with SIGKILL, time moved with libfaketime; every wait is
# bounded. Last line: `live: N passed, N failed`.
#
# Environment: BUILD (build dir, default build), KILLS (kill-loop
# iterations, default 200), KEEP=1 (keep the logs), ONLY=name (one test).
set -u
cd "$(dirname "$0")/../../.." || exit 2
. sim/live/tests/lib.sh

KILLS=${KILLS:-200}
want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }

# ---------------------------------------------------------------------------
# 0. smoke: login, initial sync, a write pushed, the server has it.
t_smoke() {
  local n=smoke
  server_start $n 0 --table customers:rw:30 --table orders:rw || { fail $n "server"; return; }
  dev_start a a.db -- --name phone --user alice --table customers --table orders --config cooldown=500ms || { fail $n "device"; return; }
  cmd a login && cmd a "wait initial.completed" || { fail $n "initial sync: $ANS"; return; }
  cmd a "row customers customers-7" && [[ $ANS == *"n=7"* ]] || { fail $n "seeded row: $ANS"; return; }
  cmd a "write orders o1 qty=2 status=open" || { fail $n "write: $ANS"; return; }
  cmd a "wait sync.completed kind=repository" || { fail $n "repository sync: $ANS"; return; }
  cmd a outbox && [ "$ANS" = "ok outbox 0" ] || { fail $n "outbox: $ANS"; return; }
  local r; r=$(ctl ROW alice orders o1)
  [[ $r == *"qty=2 status=open"* ]] || { fail $n "server row: $r"; return; }
  dev_quit a
  ok "$n: login, initial sync (30 rows), write pushed and on the server"
}

# ---------------------------------------------------------------------------
# 1. kill at sync.push_sent → restart → lock.stale_cleared, outbox intact,
#    the server applies the change once (COORD-7, OUT-2, SRV-2, INV-ONCE).
t_push_sent() {
  local n=kill-at-push-sent
  server_start $n 0 --table orders:rw || { fail $n "server"; return; }
  local slog=$T/$n.srv.log
  dev_start p1 p.db SYNCSIM_KILL_AT=sync.push_sent -- --name phone --user alice --table orders --config cooldown=500ms ||
    { fail $n "device"; return; }
  cmd p1 login && cmd p1 "wait initial.completed" || { fail $n "initial: $ANS"; return; }
  cmd p1 "write orders o1 qty=2" || { fail $n "write: $ANS"; return; }
  wait_dead "${DPID[p1]}" 10 || { fail $n "SYNCSIM_KILL_AT=sync.push_sent did not kill the device"; return; }
  dev_close_fd p1
  grep -q '^killed at sync.push_sent:1' "${DLOG[p1]}" || { fail $n "no 'killed at' line"; return; }
  # The request was on its way when the process died: the server applied it.
  wait_line "$slog" '^srv commit user=alice op=phone:1 outcome=applied' 5 || { fail $n "server never applied phone:1"; return; }
  # Restart while the server is stopped: the outbox is still there.
  kill -STOP "$SPID"
  dev_start p2 p.db -- --name phone --user alice --table orders --config cooldown=500ms || { kill -CONT "$SPID"; fail $n "restart"; return; }
  cmd p2 "wait lock.stale_cleared holder=repository timeout=3000" || { kill -CONT "$SPID"; fail $n "no lock.stale_cleared holder=repository: $ANS"; return; }
  cmd p2 ops; local ops=$ANS
  kill -CONT "$SPID"
  [ "$ops" = "ok ops phone:1:outbox" ] || { fail $n "outbox after restart: $ops"; return; }
  cmd p2 "wait sync.push_acked" && cmd p2 "wait sync.completed kind=background" || { fail $n "resync: $ANS"; return; }
  cmd p2 outbox && [ "$ANS" = "ok outbox 0" ] || { fail $n "outbox after resync: $ANS"; return; }
  local pushes commits
  pushes=$(grep -c 'srv req push .*ops=phone:1' "$slog")
  commits=$(grep -c '^srv commit user=alice op=phone:1 ' "$slog")
  [ "$pushes" -ge 2 ] || { fail $n "expected the push twice at the server, saw $pushes"; return; }
  [ "$commits" = 1 ] || { fail $n "server committed phone:1 $commits times"; return; }
  local r; r=$(ctl ROW alice orders o1); [[ $r == *"qty=2"* ]] || { fail $n "server row: $r"; return; }
  local s; s=$(ctl SEQ alice); [ "$s" = "SEQ 1" ] || { fail $n "server sequence $s (applied more than once?)"; return; }
  dev_quit p2
  kill -9 "$SPID"
  ok "$n: SIGKILL at sync.push_sent; restart clears the stale lock, outbox intact, pushed twice, applied once"
}

# ---------------------------------------------------------------------------
# 2. kill during initial sync → restart → resumes at the unfinished table
#    (INIT-1, INV-RESUME).
t_initial_resume() {
  local n=kill-during-initial
  server_start $n 0 --table customers:rw:1200 --table orders:rw:1200 || { fail $n "server"; return; }
  local slog=$T/$n.srv.log
  # pages: customers 500 500 200, orders 500 500 200; die at the 4th page
  # (the first of orders), after its commit (RUN-10).
  dev_start i1 i.db SYNCSIM_KILL_AT=initial.page:4 -- --name phone --user alice --table customers --table orders ||
    { fail $n "device"; return; }
  cmd i1 login || { fail $n "login: $ANS"; return; }
  wait_dead "${DPID[i1]}" 15 || { fail $n "not killed at initial.page:4"; return; }
  dev_close_fd i1
  grep -q '^ev initial.table_done table=customers' "${DLOG[i1]}" || { fail $n "customers not done before the kill"; return; }
  local mark; mark=$(lines "$slog")
  dev_start i2 i.db -- --name phone --user alice --table customers --table orders || { fail $n "restart"; return; }
  cmd i2 "wait initial.completed timeout=15000" || { fail $n "initial sync did not complete after restart: $ANS"; return; }
  local first; first=$(grep -m1 '^ev initial.page' "${DLOG[i2]}")
  [[ $first == "ev initial.page table=orders rows_done=1000 "* ]] || { fail $n "first page after restart: $first"; return; }
  cmd i2 "count initial.page table=customers" && [ "$ANS" = "ok count 0" ] || { fail $n "customers fetched again: $ANS"; return; }
  if after_line "$slog" "$mark" | grep -q 'srv req page table=customers'; then fail $n "server saw a customers page request after restart"; return; fi
  local req; req=$(after_line "$slog" "$mark" | grep -m1 '^srv req page')
  [[ $req == "srv req page table=orders after="* ]] && [ "${req##*after=}" -gt 0 ] ||
    { fail $n "first page request after restart: $req"; return; }
  cmd i2 "row customers customers-1200" && cmd i2 "row orders orders-1200" && [[ $ANS == *"n=1200"* ]] || { fail $n "rows: $ANS"; return; }
  dev_quit i2
  kill -9 "$SPID"
  ok "$n: SIGKILL at initial.page:4; restart resumes at orders rows_done=1000, customers not fetched again"
}

# ---------------------------------------------------------------------------
# 3. cooldown survives restart (COORD-5): restarted under faketime 3 s after
#    initial completion → manual rejected (cooldown); 6 s after → accepted.
t_cooldown() {
  local n=cooldown-restart
  [ -n "${FAKETIME_LIB:-}" ] || { fail $n "libfaketime not available"; return; }
  server_start $n 0 --table orders:rw || { fail $n "server"; return; }
  dev_start c1 c.db -- --name phone --user alice --table orders || { fail $n "device"; return; }
  cmd c1 login && cmd c1 "wait initial.completed" && cmd c1 state || { fail $n "initial: $ANS"; return; }
  local w; w=$(sed -n 's/.* completed_at=\([0-9]*\) .*/\1/p' <<<"$ANS")
  [ -n "$w" ] && [ "$w" -gt 0 ] || { fail $n "no completed_at in: $ANS"; return; }
  dev_kill c1
  # 3 s after completion (wall clock faked; monotonic real, so only the
  # persisted wall time can say "cooldown").
  local off; off=$(awk -v w="$w" -v now="$(now_ms)" 'BEGIN { printf "%+.3f", (w + 3000 - now) / 1000 }')
  dev_start c2 c.db LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$off" FAKETIME_DONT_FAKE_MONOTONIC=1 -- \
    --name phone --user alice --table orders || { fail $n "restart at +3s"; return; }
  cmd c2 "trigger manual" || { fail $n "trigger: $ANS"; return; }
  grep -q '^ev lock.rejected kind=manual reason=cooldown' "${DLOG[c2]}" || { fail $n "+3s: manual not rejected for cooldown (offset $off)"; grep '^ev lock' "${DLOG[c2]}"; return; }
  grep -q '^ev lock.rejected kind=background reason=cooldown' "${DLOG[c2]}" || { fail $n "+3s: start trigger not rejected for cooldown"; return; }
  # COORD-11: the remembered trigger starts when the cooldown ends (~2 s).
  cmd c2 "wait lock.acquired kind=manual timeout=5000" || { fail $n "+3s: follow-up did not start after the cooldown: $ANS"; return; }
  dev_kill c2
  off=$(awk -v w="$w" -v now="$(now_ms)" 'BEGIN { printf "%+.3f", (w + 6000 - now) / 1000 }')
  dev_start c3 c.db LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$off" FAKETIME_DONT_FAKE_MONOTONIC=1 -- \
    --name phone --user alice --table orders || { fail $n "restart at +6s"; return; }
  cmd c3 "wait lock.acquired kind=background timeout=3000" || { fail $n "+6s: start trigger not accepted: $ANS"; return; }
  cmd c3 "wait sync.completed kind=background" && cmd c3 "trigger manual" || { fail $n "+6s: $ANS"; return; }
  cmd c3 "wait lock.acquired kind=manual timeout=1000" || { fail $n "+6s: manual not accepted: $ANS"; return; }
  if grep -q 'reason=cooldown' "${DLOG[c3]}"; then fail $n "+6s: a cooldown rejection"; return; fi
  dev_quit c3
  kill -9 "$SPID"
  ok "$n: restart at completion+3s rejects manual (cooldown), +6s accepts (faketime)"
}

# ---------------------------------------------------------------------------
# 4. lock timeout (COORD-6, COORD-12): a run stuck on a SIGSTOPped server;
#    time moved 6 min through FAKETIME_TIMESTAMP_FILE → the next trigger
#    force-releases. request_timeout is 10 min here so the stuck request is
#    still outstanding (a hung socket), as COORD-6 assumes.
t_lock_timeout() {
  local n=lock-timeout
  [ -n "${FAKETIME_LIB:-}" ] || { fail $n "libfaketime not available"; return; }
  server_start $n 0 --table orders:rw || { fail $n "server"; return; }
  local ts=$T/$n.faketime
  echo "+0" >"$ts"
  dev_start l1 l.db LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$ts" FAKETIME_NO_CACHE=1 -- \
    --name phone --user alice --table orders --config cooldown=500ms --config request_timeout=10m || { fail $n "device"; return; }
  cmd l1 login && cmd l1 "wait initial.completed" && cmd l1 "sleep 700" || { fail $n "initial: $ANS"; return; }
  kill -STOP "$SPID"
  cmd l1 "trigger manual" && cmd l1 "wait sync.started kind=manual" || { kill -CONT "$SPID"; fail $n "run: $ANS"; return; }
  cmd l1 "trigger manual"
  grep -q '^ev lock.queued kind=manual holder=manual' "${DLOG[l1]}" || { kill -CONT "$SPID"; fail $n "second trigger not queued before the jump"; return; }
  echo "+360" >"$ts"     # 6 minutes later, wall and monotonic
  cmd l1 "sleep 300" && cmd l1 "trigger manual"
  if ! grep -q '^ev lock.force_released kind=manual' "${DLOG[l1]}"; then
    kill -CONT "$SPID"; fail $n "no lock.force_released after a 6 min jump"; grep '^ev lock' "${DLOG[l1]}" | tail -5; return
  fi
  local fr acq
  fr=$(grep -n '^ev lock.force_released' "${DLOG[l1]}" | head -1 | cut -d: -f1)
  acq=$(grep -n '^ev lock.acquired kind=manual' "${DLOG[l1]}" | tail -1 | cut -d: -f1)
  [ "$acq" -gt "$fr" ] || { kill -CONT "$SPID"; fail $n "the forcing trigger did not take the lock"; return; }
  kill -CONT "$SPID"
  # COORD-12: the zombie's late answer commits nothing and ends fenced.
  cmd l1 "wait sync.fenced kind=manual" || { fail $n "no sync.fenced for the old run: $ANS"; return; }
  cmd l1 "wait sync.completed kind=manual" || { fail $n "new run did not complete: $ANS"; return; }
  dev_quit l1
  kill -9 "$SPID"
  ok "$n: stuck run on a SIGSTOPped server; +6 min (FAKETIME_TIMESTAMP_FILE) → next trigger force-releases; late answer fenced"
}

# ---------------------------------------------------------------------------
# 5. ≥ KILLS SIGKILLs at random points of a tight write loop: after each,
#    PRAGMA integrity_check is ok and every acknowledged write is in the
#    outbox (at least KILLS of them inside a write transaction) (INV-DURABLE; no server is reachable, so none left it).
t_kill_loop() {
  local n=kill-loop
  server_start $n 0 --table orders:rw || { fail $n "server"; return; }
  dev_start k0 k.db -- --name phone --user alice --table orders || { fail $n "device"; return; }
  cmd k0 login && cmd k0 "wait initial.completed" || { fail $n "initial: $ANS"; return; }
  dev_quit k0
  kill -9 "$SPID"; wait_dead "$SPID" 5
  local acked=$T/$n.acked mid=0 hot=0 i
  : >"$acked"
  printf 'writeloop orders 0\n' >"$T/$n.cmds"
  printf 'integrity\nops\nquit\n' >"$T/$n.check"
  # Kill points: uniform over [2 ms, 2 × a process's start-up + 40 ms), so
  # they land in start-up, recovery and (mostly) mid-transaction of the
  # write loop, also in slow (sanitizer) builds.
  local t0 t1 span
  t0=$(now_ms)
  timeout 10 "$BIN" live device --db "$T/k.db" --server "127.0.0.1:$SPORT" --name phone --table orders \
    <"$T/$n.check" >"$T/$n.check.log" 2>&1
  t1=$(now_ms)
  span=$(( (t1 - t0) * 2 + 40 ))
  # Until KILLS kills landed inside a write transaction (a hot journal left
  # behind), at most 4 × KILLS kills in all.
  i=0
  while [ "$hot" -lt "$KILLS" ] && [ "$i" -lt $((KILLS * 4)) ]; do
    i=$((i + 1))
    "$BIN" live device --db "$T/k.db" --server "127.0.0.1:$SPORT" --name phone --table orders \
      <"$T/$n.cmds" >"$T/$n.run.log" 2>&1 &
    local pid=$!
    local d=$(( RANDOM % span + 2 ))
    sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    [ -e "$T/k.db-journal" ] && hot=$((hot + 1))   # died inside a write transaction
    local w; w=$(grep -c '^w ' "$T/$n.run.log")
    [ "$w" -gt 0 ] && mid=$((mid + 1))
    grep '^w ' "$T/$n.run.log" | cut -d' ' -f2 >>"$acked"
    timeout 10 "$BIN" live device --db "$T/k.db" --server "127.0.0.1:$SPORT" --name phone --table orders \
      <"$T/$n.check" >"$T/$n.check.log" 2>&1
    if ! grep -q '^ok integrity ok' "$T/$n.check.log"; then
      fail $n "kill $i: integrity_check: $(grep -m1 -E '^(err|ok) integrity' "$T/$n.check.log")"; return
    fi
    local have; have=$(grep '^ok ops' "$T/$n.check.log" | tr ' ' '\n' | sed -n 's/^\(.*\):outbox$/\1/p' | sort)
    local missing; missing=$(comm -23 <(sort -u "$acked") <(echo "$have"))
    if [ -n "$missing" ]; then
      fail $n "kill $i: INV-DURABLE: acknowledged writes lost: $(echo $missing | head -c 200)"; return
    fi
  done
  local total; total=$(sort -u "$acked" | wc -l)
  [ "$hot" -ge "$KILLS" ] || { fail $n "only $hot of $i kills landed inside a write transaction"; return; }
  ok "$n: $i SIGKILLs ($hot inside a write transaction — hot journal left, $mid during the write loop, $total acknowledged writes): integrity ok and INV-DURABLE after every one"
}

ensure_faketime || echo "libfaketime not found (apt-get install faketime libfaketime): the faketime tests fail"
[ -x "$BIN" ] || { echo "no $BIN (make all first)"; echo "live: 0 passed, 1 failed"; exit 1; }

want smoke && t_smoke
want push-sent && t_push_sent
want initial && t_initial_resume
want cooldown && t_cooldown
want lock-timeout && t_lock_timeout
want kill-loop && t_kill_loop
want scenarios && [ -f sim/live/tests/scenarios.sh ] && . sim/live/tests/scenarios.sh

echo "live: $passed passed, $failed failed"
[ "$failed" = 0 ]
