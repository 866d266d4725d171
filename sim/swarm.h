/*
 * swarm.h — one seed decides a whole run (SPEC §3): topology, durations,
 * workload mix and fault profile (swarm testing: each seed enables a random
 * subset of fault kinds at random intensities), then a workload phase, a
 * heal-and-converge liveness phase, and the final checks.
 *
 * swarm_run() runs one seed in this process; swarm_many() fans seeds out to
 * worker processes (fork: no threads on the simulated path) and collects one
 * result line per seed.
 */
#ifndef SYNCSIM_SWARM_H
#define SYNCSIM_SWARM_H

#include <stdio.h>

#include "world.h"

/* Overrides of what the seed would pick (-1 / NULL: the seed decides). */
struct swarm_opts {
    int devices;               /* 1..4 */
    int users;                 /* 1..3 */
    int64_t duration_ms;       /* workload phase */
    int faults;                /* -1 seed, 0 none, 1 swarm */
    const char *config[16];    /* key=value overrides */
    int nconfig;
    FILE *trace;               /* full trace (replay --trace / --verbose) */
    /* every trace line, as it is written (reports: coverage); may be NULL */
    void (*sink)(void *arg, int64_t t, const char *line);
    void *sink_arg;
    const char *dump_db;       /* --dump-db DIR: the databases at the end (= the failure point) */
};

struct swarm_result {
    uint64_t seed;
    bool ok;
    uint64_t hash;
    uint64_t events;
    uint64_t steps;
    int64_t sim_ms;            /* simulated time covered */
    char invariant[32];
    char failure[1024];
    unsigned fault_mask;       /* which fault kinds this seed enabled (reports) */
    uint64_t checks[16];       /* invariant checks, by check id */
};

#define SWARM_FAULT_KINDS 13
extern const char *const swarm_fault_names[SWARM_FAULT_KINDS];

void swarm_opts_default(struct swarm_opts *o);
/* Builds the world parameters a seed decides. 0, or -1 with err. */
int swarm_params(uint64_t seed, const struct swarm_opts *o, struct world_params *p,
                 unsigned *fault_mask, char *err, size_t errlen);
/* Runs one seed; fills r (r->ok false on any violation). 0, or -1 when the
 * run could not be set up (err says why). */
int swarm_run(uint64_t seed, const struct swarm_opts *o, struct swarm_result *r,
              FILE *tail_out, char *err, size_t errlen);

#endif
