/*
 * oracle.h — the independent reference model of the coordinator
 * (SPEC §1.2, COORD-1 … COORD-12, "Coordinator details").
 *
 * Written from SPEC alone, not from model/coord.c: it replays every
 * decision the implementation reports (struct coord_obs, model/coord.h),
 * predicts the answer with a direct transcription of the decision table of
 * COORD-1 and says where the two disagree. After a disagreement it adopts
 * what the implementation reported, so checking can go on.
 *
 * Plain memory, no allocation, no dependency on the model sources.
 */
#ifndef SYNCSIM_ORACLE_H
#define SYNCSIM_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord.h"
#include "types.h"

struct oracle {
    int64_t cooldown_ms;          /* COORD-5 (5000) */
    int64_t lock_timeout_ms;      /* COORD-6 (300000) */

    bool held;                    /* COORD-1: the one lock */
    enum sync_kind holder;        /* KIND_COUNT = unknown (after a resync) */
    int64_t acquired_mono;        /* held_ms counts from here */
    int64_t progress_mono;        /* COORD-6: acquisition or last commit */

    bool pending;                 /* COORD-2 / COORD-11: the one follow-up */
    enum sync_kind pending_kind;

    bool completed_known;         /* COORD-5: cooldown reference point */
    int64_t completed_wall;       /* initial_sync_completed_at */
    int64_t cap_mono;             /* "Cooldown clock": mono cap */

    uint64_t checks;              /* observations checked */
    uint64_t mismatches;          /* observations that disagreed */
};

void oracle_init(struct oracle *o, int64_t cooldown_ms, int64_t lock_timeout_ms);

/* Applies obs to the reference state. Returns 0 when the implementation's
 * reported result equals the prediction (ACQUIRE: answer, reason,
 * remembered, forced, forced_kind, forced_held_ms; POLL: started, kind) and
 * the op is consistent with the reference state; 1 otherwise, with an
 * explanation in why (may be NULL). */
int oracle_check(struct oracle *o, const struct coord_obs *obs, char *why, size_t n);

/* For invariant checks (INV-COLLAPSE, INV-MUTEX). */
bool oracle_pending(const struct oracle *o, enum sync_kind *kind);
bool oracle_held(const struct oracle *o, enum sync_kind *kind);

/* COORD-5 with the cap rule (exposed for INV-COOLDOWN cross-checks). */
bool oracle_in_cooldown(const struct oracle *o, int64_t wall, int64_t mono);

#endif
