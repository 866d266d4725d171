#!/usr/bin/env bash
# Live mode (SPEC §6): real processes on 127.0.0.1, SIGKILL, libfaketime.
# Run by tools/run-tests.sh with BUILD set; the suite is
# sim/live/tests/run.sh (also `make test-live`). Last line:
# `live: N passed, N failed`.
set -u
BUILD=${BUILD:-build}
if [ ! -x "$BUILD/syncsim" ]; then
  echo "live: no $BUILD/syncsim"
  echo "live: 0 passed, 1 failed"
  exit 1
fi
# libfaketime does not mix with ASan builds (clang ASan deadlocks under it).
if [ "${ASAN:-0}" = 1 ]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0}
fi
BUILD=$BUILD timeout 600 bash sim/live/tests/run.sh
rc=$?
if [ $rc = 124 ]; then echo "live: 0 passed, 1 failed (timed out after 600 s)"; fi
exit $rc
