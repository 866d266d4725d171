/*
 * scn_live.h — `syncsim scenario --live FILE…` (SPEC §6, issue 7: the
 * cross-check). Each file marked `# live: yes` runs twice: in the simulator
 * (scn_run) and live — a real `syncsim live server` process and one
 * `syncsim live device` process per scenario device on 127.0.0.1, driven in
 * real time through their line protocols (sim/live/README.md) — and the two
 * runs must agree on every expectation: which `expect` lines held and which
 * failed. Output, one line per file:
 *   ok NAME (sim and live agree: K expectations)
 *   FAIL NAME: line L: sim says held, live says failed (was …)
 *   skip NAME: live mode cannot express line L (…)
 *   skip NAME: no '# live: yes' header
 * then `N skipped` and the closing line `N passed, N failed`.
 * Returns 0 (no file failed), 1 (some failed), 2 (bad input).
 * Decisions (timing tolerance, what is expressible) are in scn_live.c's
 * header and sim/live/README.md ("Cross-check").
 */
#ifndef SYNCSIM_SCN_LIVE_H
#define SYNCSIM_SCN_LIVE_H

#include <stdbool.h>

int scn_live_files(char **files, int n, bool verbose);

#endif
