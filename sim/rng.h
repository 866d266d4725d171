/*
 * rng.h — the simulator's deterministic randomness: one 64-bit seed split
 * into independent streams (network, faults, workload, jitter, storage, …)
 * so that enabling one fault kind does not reshuffle the others
 * (ARCHITECTURE "sim/"). xoshiro256** seeded through splitmix64.
 */
#ifndef SYNCSIM_RNG_H
#define SYNCSIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

enum rng_stream {
    RS_TOPOLOGY = 0, RS_NET, RS_FAULTS, RS_WORKLOAD, RS_JITTER, RS_STORAGE, RS_SERVER,
    RS_COUNT
};

struct rng { uint64_t s[4]; };

void rng_seed(struct rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Uniform in [lo, hi] (inclusive). */
int64_t rng_range(struct rng *r, int64_t lo, int64_t hi);
/* True with probability p (0..1). */
bool rng_chance(struct rng *r, double p);
double rng_unit(struct rng *r);

#endif
