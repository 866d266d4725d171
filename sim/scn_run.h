/*
 * scn_run.h — the scenario runner: `syncsim scenario FILE…` (SPEC §4).
 * Runs each parsed scenario in its own simulated world, evaluates its
 * expectations at their times, checks every invariant, and reports one line
 * per scenario and the closing line `N passed, N failed`.
 */
#ifndef SYNCSIM_SCN_RUN_H
#define SYNCSIM_SCN_RUN_H

#include <stdbool.h>
#include <stdio.h>

#include "scn.h"

struct scn_run_opts {
    bool verbose;             /* -v: print the full trace */
    const char *junit;        /* --junit FILE, or NULL */
    const char *dump_db;      /* --dump-db DIR: DIR/<file>/ gets each scenario's databases at its end */
    const char *report_dir;   /* --report DIR, or NULL: DIR/scenarios.json */
};

struct scn_outcome {
    bool passed;
    int line;                 /* the failing statement's line (0: invariant) */
    char message[1024];       /* "FILE:LINE expectation … was …" or the invariant */
    uint64_t hash;
    uint64_t events;
    int64_t sim_ms;
    char tail[8192];          /* failed: the last trace lines, "  | …\n" each */
};

/* Runs one parsed scenario; trace (may be NULL) gets the full trace.
 * Returns 0 passed, 1 failed (out says why; out->tail has the last trace
 * lines). Decisions where SPEC §4 is silent: see scn_run.c's header. */
int scn_run(const struct scn *s, const char *file, FILE *trace, struct scn_outcome *out);
/* The same, writing every database into dump_db (when not NULL) at the end
 * of the run, which is the failure point when it fails (sim/dumpdb.h). */
int scn_run_dump(const struct scn *s, const char *file, FILE *trace, const char *dump_db,
                 struct scn_outcome *out);
/* Runs every file (parse errors: "FILE:LINE:COL: expected …" on stderr;
 * the other files still run), prints `ok NAME` / `FAIL NAME: …` lines and
 * `N passed, N failed`, then writes --junit / --report atomically.
 * Returns 0 all passed, 1 some failed, 2 bad input or a report not written. */
int scn_run_files(char **files, int n, const struct scn_run_opts *o);

#endif
