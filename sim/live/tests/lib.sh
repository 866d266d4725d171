# lib.sh — helpers for the live-mode tests (sourced by run.sh): start real
# server and device processes on 127.0.0.1, script devices through a FIFO,
# wait for lines with bounded timeouts, kill with SIGKILL.
# Every wait is bounded; every process started here is killed at exit.

BIN=${BIN:-${BUILD:-build}/syncsim}
T=$(mktemp -d /tmp/syncsim-live.XXXXXX)
PIDS=()
declare -A DPID DFD DLOG
passed=0 failed=0

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ "${KEEP:-0}" = 1 ] || [ "$failed" != 0 ]; then echo "live: logs kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; shift; [ $# -gt 0 ] && echo "     $*"; return 1; }

# wait_line FILE REGEX [TIMEOUT_S]: until a line of FILE matches (grep -E).
wait_line() {
  local f=$1 re=$2 t=${3:-10} i=0
  while [ $i -lt $((t * 20)) ]; do
    grep -qE -- "$re" "$f" 2>/dev/null && return 0
    sleep 0.05; i=$((i + 1))
  done
  return 1
}

# wait_dead PID [TIMEOUT_S]: until the process is gone.
wait_dead() {
  local p=$1 t=${2:-10} i=0
  while kill -0 "$p" 2>/dev/null; do
    [ $i -ge $((t * 20)) ] && return 1
    sleep 0.05; i=$((i + 1))
  done
  wait "$p" 2>/dev/null
  return 0
}

# server_start NAME [PORT] [ARGS…] — sets SPORT (chosen by the kernel if 0).
server_start() {
  local name=$1 port=$2; shift 2
  touch "$T/$name.srv.log"
  local n; n=$(grep -c '^srv listening' "$T/$name.srv.log")
  "$BIN" live server --db "$T/$name.srv.db" --listen "127.0.0.1:$port" "$@" >>"$T/$name.srv.log" 2>&1 &
  SPID=$!
  PIDS+=("$SPID")
  local i=0
  while [ "$(grep -c '^srv listening' "$T/$name.srv.log")" = "$n" ]; do
    [ $i -ge 100 ] && { echo "server $name did not start"; cat "$T/$name.srv.log"; return 1; }
    kill -0 "$SPID" 2>/dev/null || { echo "server $name died"; cat "$T/$name.srv.log"; return 1; }
    sleep 0.05; i=$((i + 1))
  done
  SPORT=$(sed -n 's/^srv listening 127.0.0.1:\([0-9]*\)$/\1/p' "$T/$name.srv.log" | tail -1)
}

ctl() { "$BIN" live ctl --server "127.0.0.1:$SPORT" "$@"; }

# dev_start ID DB [ENV=V…] -- [DEVICE ARGS…]: a device process reading
# commands from a FIFO; its stdout (events, answers) goes to $T/ID.log.
dev_start() {
  local id=$1 db=$2; shift 2
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  local fifo="$T/$id.in"
  rm -f "$fifo"; mkfifo "$fifo"
  DLOG[$id]="$T/$id.log"
  : >"${DLOG[$id]}"
  local fd
  exec {fd}<>"$fifo"
  env "${envs[@]}" "$BIN" live device --db "$T/$db" --server "127.0.0.1:$SPORT" "$@" <"$fifo" >"${DLOG[$id]}" 2>&1 &
  DPID[$id]=$!
  DFD[$id]=$fd
  PIDS+=("${DPID[$id]}")
  wait_line "${DLOG[$id]}" '^dev started' 10 || { echo "device $id did not start"; cat "${DLOG[$id]}"; return 1; }
}

# cmd ID LINE [TIMEOUT_S]: sends one command, waits for its answer (ANS);
# status 0 iff the answer starts with "ok".
cmd() {
  local id=$1 line=$2 t=${3:-15} log=${DLOG[$1]}
  local before; before=$(grep -cE '^(ok|err)( |$)' "$log")
  echo "$line" >&"${DFD[$id]}"
  local i=0
  while [ "$(grep -cE '^(ok|err)( |$)' "$log")" -le "$before" ]; do
    if [ $i -ge $((t * 20)) ] || ! kill -0 "${DPID[$id]}" 2>/dev/null; then ANS="(no answer to: $line)"; return 1; fi
    sleep 0.05; i=$((i + 1))
  done
  ANS=$(grep -E '^(ok|err)( |$)' "$log" | sed -n "$((before + 1))p")
  [[ $ANS == ok* ]]
}

# dev_kill ID: SIGKILL (a process kill, kill -9) and reap.
dev_kill() {
  local id=$1
  kill -9 "${DPID[$id]}" 2>/dev/null
  wait_dead "${DPID[$id]}" 5
  dev_close_fd "$id"
}

dev_close_fd() { local fd=${DFD[$1]:-}; [ -n "$fd" ] && exec {fd}>&- 2>/dev/null; DFD[$1]=; }

# dev_quit ID: a clean exit.
dev_quit() {
  local id=$1
  cmd "$id" quit 5 >/dev/null
  wait_dead "${DPID[$id]}" 5 || kill -9 "${DPID[$id]}" 2>/dev/null
  dev_close_fd "$id"
}

# Lines of a log after line N.
after_line() { tail -n +"$(($2 + 1))" "$1"; }
lines() { wc -l <"$1"; }

now_ms() { date +%s%3N; }

# libfaketime (SPEC §6): installed when missing and running as root.
find_faketime() {
  local c
  for c in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 /usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1 \
           /usr/lib/faketime/libfaketime.so.1 /usr/local/lib/faketime/libfaketime.so.1; do
    [ -f "$c" ] && { FAKETIME_LIB=$c; return 0; }
  done
  FAKETIME_LIB=$(dpkg -L libfaketime 2>/dev/null | grep -m1 '/libfaketime.so.1$')
  [ -n "$FAKETIME_LIB" ] && [ -f "$FAKETIME_LIB" ]
}

ensure_faketime() {
  find_faketime && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing faketime libfaketime"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime libfaketime >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime libfaketime >/dev/null 2>&1; }
  fi
  find_faketime
}
