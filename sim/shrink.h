/*
 * shrink.h — minimise a failing scenario (SPEC §3 `syncsim shrink`, issue 6).
 *
 * A failure's signature is what must stay the same while shrinking: the
 * invariant id for a violation, the failing statement for an expectation
 * (its text without the timing prefix). The shrinker first rewrites every
 * statement with an absolute `at Nms` prefix (so dropping a line never moves
 * another), then delta-debugs: drops chunks of statements (halving), then
 * single statements, then simplifies values (fields of writes, `rows N`,
 * skews, faults and config pairs, unused devices and tables), repeating
 * until nothing more can go or the caller says stop. Every candidate is
 * parsed and run with scn_run; one that does not parse or fails differently
 * is rejected. Deterministic: the same input gives the same output.
 *
 * shrink_seed_scenario() turns a swarm seed into an explicit scenario from
 * its trace: the seed's topology, tables and network fault profile become
 * declarations; every action the workload took ("action …" trace lines)
 * becomes a statement at its time; then `quiesce` and `expect converged`.
 * Writes whose field values the trace does not carry get placeholder values
 * (see /tmp/report_hooks.patch: the world hook that logs them).
 */
#ifndef SYNCSIM_SHRINK_H
#define SYNCSIM_SHRINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "swarm.h"

struct shrink_sig {
    bool failed;
    char kind[16];             /* "invariant" or "expect" */
    char id[512];              /* INV-…, or the failing statement's text */
    char message[1024];
};

struct shrink_opts {
    bool (*stop)(void *arg);   /* time budget: the CLI owns the real clock */
    void *stop_arg;
    FILE *log;                 /* progress, may be NULL */
};

struct shrink_stats {
    int stmts_before, stmts_after;
    int runs;
    bool stopped;              /* the budget ran out before a fixpoint */
};

/* Runs text (a scenario) and says how it fails. 0, or -1 if it does not
 * parse (msg says why). */
int shrink_signature(const char *file, const char *text, struct shrink_sig *sig, char *msg, size_t n);
/* Shrinks text, which must fail; *out (malloc'd) gets the smallest scenario
 * found that fails with the same signature, without a header comment.
 * 0, or -1 with err (does not parse, or passes). */
int shrink_scenario(const char *file, const char *text, const struct shrink_opts *o, char **out,
                    struct shrink_sig *sig, struct shrink_stats *st, char *err, size_t errlen);
/* The scenario equivalent of a swarm seed (malloc'd in *out). 0 or -1. */
int shrink_seed_scenario(uint64_t seed, const struct swarm_opts *o, char **out, char *err, size_t errlen);
/* Statements of a scenario text (what "≤ 12 steps" counts); -1 on a parse error. */
int shrink_count_stmts(const char *text);

#endif
