/*
 * shrink.h — minimise a failing scenario (SPEC §3 `syncsim shrink`, issue 6).
 *
 * A failure's signature is what must stay the same while shrinking: the
 * invariant id for a violation, the failing statement for an expectation
 * (its text without the timing prefix). The shrinker first rewrites every
 * statement with an absolute `at Nms` prefix (so dropping a line never moves
 * another), then cuts the workload to the shortest failing prefix, drops
 * groups of statements (a device's, a row's, a table's, a kind's), delta-
 * debugs chunks of statements down to single ones, simplifies values and
 * declarations and compacts times, repeating until nothing more can go or
 * the caller says stop (shrink.c). Every candidate is parsed and run with
 * scn_run; one that does not parse or fails differently is rejected; no
 * candidate text runs twice (a cache by hash). Deterministic: the same
 * input gives the same output.
 *
 * A swarm seed is first turned into a scenario from its trace
 * (shrink_seed.c): declarations from what the seed decides, a statement for
 * every action the workload took, then `quiesce` and `expect converged`.
 * What the language cannot say exactly (a kill at an exact write, disk
 * faults, long-tail delays, drift) is approximated in a few variants, and
 * the first that fails with the seed's invariant is shrunk.
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
    int64_t at_ms;             /* simulated time the run ended (the failure's instant) */
};

struct shrink_opts {
    bool (*stop)(void *arg);   /* time budget: the CLI owns the real clock */
    void *stop_arg;
    FILE *log;                 /* progress, may be NULL */
    const struct shrink_sig *want;   /* the failure to keep (a seed's); NULL: the input's own */
};

struct shrink_stats {
    int stmts_before, stmts_after;
    int runs;                  /* scenario runs (cache hits not counted) */
    int cached;                /* candidates answered from the cache */
    bool stopped;              /* the budget ran out before a fixpoint */
};

/* Runs text (a scenario) and says how it fails. 0, or -1 if it does not
 * parse (msg says why). */
int shrink_signature(const char *file, const char *text, struct shrink_sig *sig, char *msg, size_t n);
/* Same failure: both failed, same kind and id. */
bool shrink_same(const struct shrink_sig *a, const struct shrink_sig *b);
/* Shrinks text, which must fail; *out (malloc'd) gets the smallest scenario
 * found that fails with the same signature, without a header comment.
 * 0, or -1 with err (does not parse, or passes). */
int shrink_scenario(const char *file, const char *text, const struct shrink_opts *o, char **out,
                    struct shrink_sig *sig, struct shrink_stats *st, char *err, size_t errlen);
/* The scenario equivalent of a swarm seed (malloc'd in *out), the first
 * variant. 0 or -1. */
int shrink_seed_scenario(uint64_t seed, const struct swarm_opts *o, char **out, char *err, size_t errlen);

/* The scenario forms of a seed, in the order shrink_seed_pick tries them
 * (shrink_seed.c says what each keeps and what it approximates). */
enum { SHRINK_SEED_CONCRETE = 0, SHRINK_SEED_EXPLICIT, SHRINK_SEED_SWARM, SHRINK_SEED_TICKER, SHRINK_SEED_BOOSTED,
       SHRINK_SEED_VARIANTS,
       SHRINK_SEED_SLICE = 0x100 /* or'ed: a slice of the run (no variant of all of it failed so) */ };
const char *shrink_seed_variant_name(int variant);
/* One variant (malloc'd in *out); seed_sig (may be NULL) gets the seed's
 * own failure. 0 or -1. */
int shrink_seed_variant(uint64_t seed, const struct swarm_opts *o, int variant, char **out,
                        struct shrink_sig *seed_sig, char *err, size_t errlen);
/* Runs the seed once, then its variants in order until one fails with the
 * seed's invariant: *out gets it, *variant its number, *want the seed's
 * failure (the signature to keep while shrinking). When none does, small
 * slices of the run around the failure under the seed's fault profile and
 * neighbouring seeds (*variant then has SHRINK_SEED_SLICE set). 0; 1 when no variant
 * fails that way (*out: the first one, *variant -1); -1 on errors and
 * when the seed passes (err says which). */
int shrink_seed_pick(uint64_t seed, const struct swarm_opts *o, const struct shrink_opts *so, char **out,
                     struct shrink_sig *want, int *variant, char *err, size_t errlen);

/* The same one form at a time: shrink_seed_open runs the seed (*want gets
 * its failure; -1 with err on errors and when it passes), each
 * shrink_seed_next yields the next form that fails as the seed did (0;
 * 1 when none is left or so->stop says so), so a caller can shrink
 * several and keep the smallest. */
struct shrink_seed;
int shrink_seed_open(uint64_t seed, const struct swarm_opts *o, struct shrink_seed **p, struct shrink_sig *want,
                     char *err, size_t errlen);
int shrink_seed_next(struct shrink_seed *p, const struct shrink_opts *so, char **out, int *variant);
/* Variant v of the whole run, whether it fails or not (malloc'd; NULL). */
char *shrink_seed_render(const struct shrink_seed *p, int variant);
void shrink_seed_close(struct shrink_seed *p);

/* What `syncsim shrink SEED` aims for: at most this many statements. */
#define SHRINK_GOAL 12
/* Statements of a scenario text (what "≤ 12 steps" counts); -1 on a parse error. */
int shrink_count_stmts(const char *text);

#endif
