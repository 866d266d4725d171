/*
 * coord.h — the per-device sync coordinator (SPEC §1.2, COORD-1 … COORD-12).
 *
 * One typed lock, at most one pending follow-up (collapsed, highest
 * priority kind), the initial-sync gate, the cooldown, the lock timeout on
 * the monotonic clock and the fencing generation. The coordinator is pure
 * memory: it decides and emits `lock.*` events and the queued toast through
 * env->emit; the device persists the holder (COORD-7), runs the sync, and
 * tells the coordinator about progress and the end of the run.
 *
 * Every decision is also reported through env->observe (when set) as a
 * struct coord_obs with its inputs and result, so an independent reference
 * model can replay the same calls and compare (sim/oracle).
 *
 * Call pattern (the device's):
 *   - before and after handling any input: coord_poll() — a pending
 *     follow-up whose conditions hold starts now (COORD-11);
 *   - a request: coord_acquire(kind) → ACQUIRED (run starts with the returned
 *     generation), QUEUED or REJECTED;
 *   - every commit of the run: coord_fenced(gen) first, then coord_progress();
 *   - the run ends: coord_release(), then coord_poll().
 */
#ifndef SYNCSIM_COORD_H
#define SYNCSIM_COORD_H

#include "config.h"
#include "env.h"
#include "types.h"

enum coord_answer { COORD_ACQUIRED = 0, COORD_QUEUED, COORD_REJECTED };

enum coord_reason {
    REASON_NONE = 0,
    REASON_LOGGED_OUT,   /* row 2 */
    REASON_BUSY,         /* row 3 */
    REASON_DONE,         /* row 5 */
    REASON_OFFLINE,      /* rows 6, 10 */
    REASON_GATE,         /* row 8 */
    REASON_COOLDOWN      /* row 9 */
};
const char *coord_reason_name(enum coord_reason r);
const char *coord_answer_name(enum coord_answer a);

/* What the device knows at the moment of a decision. */
struct coord_inputs {
    bool session;           /* logged in */
    bool initial_complete;
    bool online;            /* what the device has been told (not the network) */
    int64_t wall;           /* env->now_ms */
    int64_t mono;           /* env->mono_ms */
};

struct coord_result {
    enum coord_answer answer;
    enum coord_reason reason;
    bool remembered;          /* became / merged into the pending follow-up */
    bool forced;              /* row 1 fired first (COORD-6) */
    enum sync_kind forced_kind;
    int64_t forced_held_ms;
    uint64_t generation;      /* of the new holder when ACQUIRED */
};

enum coord_op {
    COBS_START = 0,      /* coord_start */
    COBS_ACQUIRE,        /* coord_acquire */
    COBS_POLL,           /* coord_poll (only reported when it started a follow-up
                            or when asked with a pending follow-up) */
    COBS_RELEASE,        /* coord_release */
    COBS_PROGRESS,       /* coord_progress */
    COBS_INITIAL_DONE,   /* coord_initial_completed */
    COBS_DISCARD,        /* coord_discard_followup */
    COBS_END,            /* coord_end (logout, 401, reset_initial) */
    COBS_FORCE,          /* coord_force_if_stale (connectivity back) */
    COBS_RESET           /* coord_reset_initial */
};

struct coord_obs {
    enum coord_op op;
    enum sync_kind kind;          /* ACQUIRE: requested kind; POLL: started kind
                                     (or the waiting one when not started);
                                     RELEASE/PROGRESS/END/FORCE: the holder */
    struct coord_inputs in;
    struct coord_result res;      /* ACQUIRE */
    bool started;                 /* POLL: a follow-up started; END: a run
                                     was ended (the lock was held) */
    bool initial_complete;        /* START */
    int64_t completed_wall;       /* START, INITIAL_DONE */
};

struct coord {
    const struct env *env;
    const struct config *cfg;
    bool held;
    enum sync_kind holder;
    int64_t acquired_mono;
    int64_t progress_mono;
    uint64_t generation;          /* +1 per acquisition; starts at 0 per process */
    bool pending;                 /* the one follow-up (COORD-2, COORD-11) */
    enum sync_kind pending_kind;
    bool completed_known;         /* initial sync completed at completed_wall */
    int64_t completed_wall;
    int64_t cap_mono;             /* cooldown ends by this mono time at the latest */
};

void coord_init(struct coord *c, const struct env *env, const struct config *cfg);
/* Process start (also after a crash): nothing held, nothing pending,
 * generation 0. completed_wall is the persisted initial_sync_completed_at
 * when initial_complete; the cooldown cap becomes mono + cooldown. */
void coord_start(struct coord *c, int64_t mono, bool initial_complete, int64_t completed_wall);
/* The decision table of COORD-1; emits the answer (and force-release,
 * toast) events. On ACQUIRED the lock is held by kind. */
struct coord_result coord_acquire(struct coord *c, enum sync_kind kind, const struct coord_inputs *in);
/* Starts the pending follow-up if the lock is free, there is a session, the
 * gate is open, the cooldown over and the device online: takes the lock,
 * emits lock.acquired, returns true with its kind and generation. */
bool coord_poll(struct coord *c, const struct coord_inputs *in, enum sync_kind *kind, uint64_t *gen);
/* A commit of the running sync (COORD-6 progress). */
void coord_progress(struct coord *c, int64_t mono);
/* COORD-12: is the run holding generation gen still the holder? */
bool coord_is_current(const struct coord *c, uint64_t gen);
/* Normal end of the run: emits lock.released kind held_ms. */
void coord_release(struct coord *c, int64_t mono);
/* Logout, 401, cancel-and-logout, reset_initial while held: the run is
 * fenced (its generation is no longer current), lock.released is emitted,
 * the lock is free. Does not touch the follow-up (see discard). No-op when
 * not held. */
void coord_end(struct coord *c, int64_t mono);
/* Logout, 401, cancel-and-logout discard the follow-up (COORD-11). */
void coord_discard_followup(struct coord *c);
/* INIT-4 committed at wall/mono: the cooldown starts. */
void coord_initial_completed(struct coord *c, int64_t wall, int64_t mono);
/* COORD-10: the gate closes (the device tracks completion; this forgets the
 * cooldown). */
void coord_reset_initial(struct coord *c);
/* COORD-5 with the cap rule of "Cooldown clock". */
bool coord_in_cooldown(const struct coord *c, int64_t wall, int64_t mono);
/* Mono time at which a pending follow-up waiting on the cooldown should be
 * re-polled: min(cap, mono + cooldown − (wall − completed_wall)); -1 when not
 * in the cooldown. */
int64_t coord_cooldown_wake(const struct coord *c, int64_t wall, int64_t mono);
/* COORD-6: held and no progress for > lock_timeout at mono. */
bool coord_is_stale(const struct coord *c, int64_t mono);
/* Force-release a stale lock outside an acquire (connectivity back): emits
 * lock.force_released; returns whether it did. */
bool coord_force_if_stale(struct coord *c, int64_t mono);

#endif
