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
    const char *report_dir;   /* --report DIR, or NULL */
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

/* Runs one parsed scenario; trace (may be NULL) gets the full trace. */
int scn_run(const struct scn *s, const char *file, FILE *trace, struct scn_outcome *out);
/* Runs every file (parse errors: "FILE:LINE:COL: expected …" and exit 2).
 * Returns 0 all passed, 1 some failed, 2 bad input. */
int scn_run_files(char **files, int n, const struct scn_run_opts *o);

#endif
