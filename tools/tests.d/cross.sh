#!/usr/bin/env bash
# Cross-check (SPEC §6): scenarios marked `# live: yes` run in the simulator
# and as real processes and must give the same expectation results. Run by
# tools/run-tests.sh with BUILD set; last line `cross: N passed, N failed`.
set -u
BUILD=${BUILD:-build}
BUILD=$BUILD timeout 600 bash sim/live/tests/cross.sh
rc=$?
if [ $rc = 124 ]; then echo "cross: 0 passed, 1 failed (timed out after 600 s)"; fi
exit $rc
