/*
 * coord.c — the per-device sync coordinator (SPEC §1.2, COORD-1 … COORD-12).
 *
 * Pure memory: one typed lock with a fencing generation, at most one pending
 * follow-up, the initial-sync gate and the cooldown clock. Decisions emit
 * `lock.*` events (and the queued toast) through env->emit and are reported
 * to env->observe so the reference model (sim/oracle) can replay them.
 */
#include <string.h>

#include "coord.h"

/* §1.8: the one user-visible coordination message (COORD-2). */
#define COORD_TOAST_QUEUED "Sync already in progress \xE2\x80\x94 your request is queued"

const char *coord_reason_name(enum coord_reason r)
{
    /* Spelled as the `reason=` of `lock.rejected` (§1.8, decision table). */
    switch (r) {
    case REASON_NONE: return "none";
    case REASON_LOGGED_OUT: return "logged_out";
    case REASON_BUSY: return "busy";
    case REASON_DONE: return "done";
    case REASON_OFFLINE: return "offline";
    case REASON_GATE: return "gate";
    case REASON_COOLDOWN: return "cooldown";
    }
    return "?";
}

const char *coord_answer_name(enum coord_answer a)
{
    switch (a) {
    case COORD_ACQUIRED: return "acquired";
    case COORD_QUEUED: return "queued";
    case COORD_REJECTED: return "rejected";
    }
    return "?";
}

/* ---- effects ------------------------------------------------------------ */

static void coord_emit(const struct coord *c, const struct event *ev)
{
    SS_ASSERT(c->env != NULL);
    SS_ASSERT(c->env->emit != NULL);
    c->env->emit(c->env->ctx, ev);
}

/* Every decision goes to the oracle with its inputs, so the reference model
 * can replay the same call sequence (ARCHITECTURE "Checking"). */
static void coord_report(const struct coord *c, const struct coord_obs *obs)
{
    SS_ASSERT(c->env != NULL);
    SS_ASSERT((int)obs->op >= COBS_START && obs->op <= COBS_RESET);
    if (c->env->observe != NULL)
        c->env->observe(c->env->ctx, obs);
}

static void coord_obs_init(struct coord_obs *obs, enum coord_op op, int64_t mono)
{
    memset(obs, 0, sizeof *obs);
    obs->op = op;
    obs->in.mono = mono;
}

static void emit_kind(const struct coord *c, const char *name, const char *key,
                      enum sync_kind kind, const char *key2, int64_t held_ms)
{
    struct event ev;
    ev_init(&ev, name);
    ev_str(&ev, key, kind_name(kind));
    if (key2 != NULL)
        ev_int(&ev, key2, held_ms);
    coord_emit(c, &ev);
}

/* ---- lock --------------------------------------------------------------- */

/* COORD-12: every acquisition gets a new generation, so a run whose lock
 * was taken away (force-release, coord_end) can never look current again. */
static uint64_t coord_take(struct coord *c, enum sync_kind kind, int64_t mono)
{
    SS_ASSERT(!c->held);
    SS_ASSERT((int)kind >= 0 && kind < KIND_COUNT);
    c->held = true;
    c->holder = kind;
    c->generation++;
    c->acquired_mono = mono;
    c->progress_mono = mono;   /* COORD-6: the acquisition is progress */
    emit_kind(c, "lock.acquired", "kind", kind, NULL, 0);
    return c->generation;
}

/* Frees the lock. The generation is kept: coord_is_current needs `held`, and
 * the next acquisition increments it, so the old run stays fenced. */
static int64_t coord_drop(struct coord *c, int64_t mono, const char *event)
{
    SS_ASSERT(c->held);
    SS_ASSERT(mono >= c->acquired_mono);
    int64_t held_ms = mono - c->acquired_mono;
    c->held = false;
    emit_kind(c, event, "kind", c->holder, "held_ms", held_ms);
    return held_ms;
}

/* COORD-2, COORD-11: one follow-up; collapsing keeps the highest priority. */
static void coord_remember(struct coord *c, enum sync_kind kind)
{
    SS_ASSERT(kind != KIND_INITIAL);   /* initial is never a follow-up */
    SS_ASSERT((int)kind >= 0 && kind < KIND_COUNT);
    if (!c->pending || kind_priority(kind) > kind_priority(c->pending_kind))
        c->pending_kind = kind;
    c->pending = true;
}

/* ---- lifecycle ---------------------------------------------------------- */

void coord_init(struct coord *c, const struct env *env, const struct config *cfg)
{
    SS_ASSERT(c != NULL);
    SS_ASSERT(env != NULL && cfg != NULL);
    memset(c, 0, sizeof *c);
    c->env = env;
    c->cfg = cfg;
    c->holder = KIND_INITIAL;
    c->pending_kind = KIND_BACKGROUND;
}

void coord_start(struct coord *c, int64_t mono, bool initial_complete, int64_t completed_wall)
{
    SS_ASSERT(c != NULL && c->cfg != NULL);
    SS_ASSERT(c->cfg->cooldown_ms >= 0);
    /* Across a crash nothing in memory survives (§1.2 details): no holder
     * (the persisted one is the device's COORD-7 business), no follow-up,
     * generation 0. */
    c->held = false;
    c->pending = false;
    c->generation = 0;
    c->completed_known = initial_complete;
    c->completed_wall = initial_complete ? completed_wall : 0;
    /* COORD-5 "Cooldown clock": after a restart the cap counts from the
     * start, as the completion's mono time belongs to a dead process. */
    c->cap_mono = mono + c->cfg->cooldown_ms;

    struct coord_obs obs;
    coord_obs_init(&obs, COBS_START, mono);
    obs.in.initial_complete = initial_complete;
    obs.initial_complete = initial_complete;
    obs.completed_wall = c->completed_wall;
    coord_report(c, &obs);
}

/* ---- acquire (COORD-1) -------------------------------------------------- */

static void coord_reject(struct coord *c, enum sync_kind kind, struct coord_result *res,
                         enum coord_reason reason, bool remember)
{
    SS_ASSERT(reason != REASON_NONE);
    SS_ASSERT(!remember || kind != KIND_INITIAL);
    res->answer = COORD_REJECTED;
    res->reason = reason;
    res->remembered = remember;
    if (remember)
        coord_remember(c, kind);   /* COORD-11: no trigger is lost */
    struct event ev;
    ev_init(&ev, "lock.rejected");
    ev_str(&ev, "kind", kind_name(kind));
    ev_str(&ev, "reason", coord_reason_name(reason));
    coord_emit(c, &ev);
}

/* Row 4 (COORD-2): the request becomes / merges into the follow-up. */
static void coord_queue(struct coord *c, enum sync_kind kind, struct coord_result *res)
{
    SS_ASSERT(c->held);
    SS_ASSERT(kind != KIND_INITIAL);   /* row 3 took initial */
    res->answer = COORD_QUEUED;
    res->remembered = true;
    coord_remember(c, kind);
    struct event ev;
    ev_init(&ev, "lock.queued");
    ev_str(&ev, "kind", kind_name(kind));
    ev_str(&ev, "holder", kind_name(c->holder));
    coord_emit(c, &ev);
    /* §1.8: only a manual request tells the user; others queue silently. */
    if (kind == KIND_MANUAL) {
        ev_init(&ev, "toast");
        ev_str(&ev, "text", COORD_TOAST_QUEUED);
        coord_emit(c, &ev);
    }
}

static void coord_grant(struct coord *c, enum sync_kind kind, struct coord_result *res,
                        int64_t mono)
{
    res->answer = COORD_ACQUIRED;
    res->reason = REASON_NONE;
    res->generation = coord_take(c, kind, mono);
}

/* Rows 2–11 of the decision table, first row that applies. */
static void coord_decide(struct coord *c, enum sync_kind kind, const struct coord_inputs *in,
                         struct coord_result *res)
{
    const bool initial = kind == KIND_INITIAL;
    if (!in->session)
        coord_reject(c, kind, res, REASON_LOGGED_OUT, false);          /* 2 */
    else if (c->held && initial)
        coord_reject(c, kind, res, REASON_BUSY, false);                /* 3, COORD-3 */
    else if (c->held)
        coord_queue(c, kind, res);                                     /* 4, COORD-2 */
    else if (initial && in->initial_complete)
        coord_reject(c, kind, res, REASON_DONE, false);                /* 5 */
    else if (initial && !in->online)
        coord_reject(c, kind, res, REASON_OFFLINE, false);             /* 6, INIT-1 */
    else if (initial)
        coord_grant(c, kind, res, in->mono);                           /* 7 */
    else if (!in->initial_complete)
        coord_reject(c, kind, res, REASON_GATE, true);                 /* 8, COORD-4 */
    else if (coord_in_cooldown(c, in->wall, in->mono))
        coord_reject(c, kind, res, REASON_COOLDOWN, true);             /* 9, COORD-5 */
    else if (!in->online)
        coord_reject(c, kind, res, REASON_OFFLINE, true);              /* 10 */
    else
        coord_grant(c, kind, res, in->mono);                           /* 11 */
}

struct coord_result coord_acquire(struct coord *c, enum sync_kind kind, const struct coord_inputs *in)
{
    SS_ASSERT(c != NULL && in != NULL);
    SS_ASSERT((int)kind >= 0 && kind < KIND_COUNT);
    struct coord_result res;
    memset(&res, 0, sizeof res);

    /* Row 1 (COORD-6): a stuck holder never blocks an acquire. The attempt
     * then goes on down the table; the follow-up does not start here. */
    if (coord_is_stale(c, in->mono)) {
        res.forced = true;
        res.forced_kind = c->holder;
        res.forced_held_ms = coord_drop(c, in->mono, "lock.force_released");
    }
    coord_decide(c, kind, in, &res);
    SS_ASSERT(res.answer != COORD_ACQUIRED || (c->held && res.generation == c->generation));

    struct coord_obs obs;
    coord_obs_init(&obs, COBS_ACQUIRE, in->mono);
    obs.kind = kind;
    obs.in = *in;
    obs.res = res;
    coord_report(c, &obs);
    return res;
}

/* ---- follow-up (COORD-11) ----------------------------------------------- */

bool coord_poll(struct coord *c, const struct coord_inputs *in, enum sync_kind *kind, uint64_t *gen)
{
    SS_ASSERT(c != NULL && in != NULL);
    SS_ASSERT(!c->pending || c->pending_kind != KIND_INITIAL);
    if (!c->pending)
        return false;   /* nothing waits: nothing to decide or report */

    const bool start = !c->held && in->session && in->initial_complete &&
                       !coord_in_cooldown(c, in->wall, in->mono) && in->online;
    const enum sync_kind k = c->pending_kind;
    uint64_t g = 0;
    if (start) {
        c->pending = false;   /* exactly one follow-up run (INV-COLLAPSE) */
        g = coord_take(c, k, in->mono);
        if (kind != NULL)
            *kind = k;
        if (gen != NULL)
            *gen = g;
    }

    struct coord_obs obs;
    coord_obs_init(&obs, COBS_POLL, in->mono);
    obs.kind = k;   /* the started kind, or the one still waiting */
    obs.in = *in;
    obs.started = start;
    if (start) {
        obs.res.answer = COORD_ACQUIRED;
        obs.res.generation = g;
    }
    coord_report(c, &obs);
    return start;
}

void coord_discard_followup(struct coord *c)
{
    SS_ASSERT(c != NULL);
    SS_ASSERT(!c->pending || c->pending_kind != KIND_INITIAL);
    /* COORD-11: logout, 401 and cancel-and-logout drop the follow-up. */
    struct coord_obs obs;
    coord_obs_init(&obs, COBS_DISCARD, 0);
    obs.kind = c->pending_kind;
    obs.started = false;
    c->pending = false;
    coord_report(c, &obs);
}

/* ---- the run ------------------------------------------------------------ */

void coord_progress(struct coord *c, int64_t mono)
{
    SS_ASSERT(c != NULL && c->held);   /* only a current run commits (COORD-12) */
    SS_ASSERT(mono >= c->progress_mono);
    c->progress_mono = mono;           /* COORD-6: a healthy run is never stale */
    struct coord_obs obs;
    coord_obs_init(&obs, COBS_PROGRESS, mono);
    obs.kind = c->holder;
    coord_report(c, &obs);
}

bool coord_is_current(const struct coord *c, uint64_t gen)
{
    SS_ASSERT(c != NULL);
    SS_ASSERT(gen <= c->generation);   /* no run holds a future generation */
    return c->held && gen == c->generation;
}

void coord_release(struct coord *c, int64_t mono)
{
    SS_ASSERT(c != NULL);
    SS_ASSERT(c->held);   /* a fenced run ends silently (COORD-12), never here */
    struct coord_obs obs;
    coord_obs_init(&obs, COBS_RELEASE, mono);
    obs.kind = c->holder;
    coord_drop(c, mono, "lock.released");   /* COORD-8: kind and held_ms */
    coord_report(c, &obs);
}

void coord_end(struct coord *c, int64_t mono)
{
    SS_ASSERT(c != NULL);
    SS_ASSERT(!c->held || mono >= c->acquired_mono);
    struct coord_obs obs;
    coord_obs_init(&obs, COBS_END, mono);
    obs.kind = c->holder;
    obs.started = c->held;   /* END: whether a run was ended */
    /* Logout, 401, cancel-and-logout, reset_initial end the run as a
     * force-release does (fenced) but report it as a release (§1.2). */
    if (c->held)
        coord_drop(c, mono, "lock.released");
    coord_report(c, &obs);
}

bool coord_is_stale(const struct coord *c, int64_t mono)
{
    SS_ASSERT(c != NULL && c->cfg != NULL);
    if (!c->held)
        return false;
    SS_ASSERT(mono >= c->progress_mono);
    /* COORD-6: strictly longer than lock_timeout; exactly the timeout is
     * still healthy. */
    return mono - c->progress_mono > c->cfg->lock_timeout_ms;
}

bool coord_force_if_stale(struct coord *c, int64_t mono)
{
    SS_ASSERT(c != NULL);
    struct coord_obs obs;
    coord_obs_init(&obs, COBS_FORCE, mono);
    const bool stale = coord_is_stale(c, mono);
    if (stale) {
        /* Connectivity back (§1.2 details): force-release before the
         * follow-up or the background request. */
        obs.res.forced = true;
        obs.res.forced_kind = c->holder;
        obs.res.forced_held_ms = coord_drop(c, mono, "lock.force_released");
        obs.kind = obs.res.forced_kind;
    }
    SS_ASSERT(!stale || !c->held);
    coord_report(c, &obs);
    return stale;
}

/* ---- initial sync and cooldown (COORD-5, COORD-10) ---------------------- */

void coord_initial_completed(struct coord *c, int64_t wall, int64_t mono)
{
    SS_ASSERT(c != NULL && c->cfg != NULL);
    SS_ASSERT(c->cfg->cooldown_ms >= 0);
    /* INIT-4 starts the cooldown on the wall clock (persisted by the
     * device); the mono cap bounds it within this process. */
    c->completed_known = true;
    c->completed_wall = wall;
    c->cap_mono = mono + c->cfg->cooldown_ms;
    struct coord_obs obs;
    coord_obs_init(&obs, COBS_INITIAL_DONE, mono);
    obs.in.wall = wall;
    obs.in.initial_complete = true;
    obs.completed_wall = wall;
    coord_report(c, &obs);
}

void coord_reset_initial(struct coord *c)
{
    SS_ASSERT(c != NULL);
    SS_ASSERT(c->env != NULL);
    /* COORD-10: the gate closes (the device passes initial_complete=false);
     * forgetting the completion also ends any cooldown, which the next
     * completion starts afresh. The follow-up is kept: it waits at the gate
     * (COORD-11); logout discards it separately. */
    c->completed_known = false;
    c->completed_wall = 0;
    struct coord_obs obs;
    coord_obs_init(&obs, COBS_RESET, 0);
    coord_report(c, &obs);
}

bool coord_in_cooldown(const struct coord *c, int64_t wall, int64_t mono)
{
    SS_ASSERT(c != NULL && c->cfg != NULL);
    SS_ASSERT(c->cfg->cooldown_ms >= 0);
    if (!c->completed_known)
        return false;
    /* "Cooldown clock": a forward wall jump ends it early; a backward one
     * (negative elapsed) is bounded by the mono cap. */
    return wall - c->completed_wall < c->cfg->cooldown_ms && mono < c->cap_mono;
}

int64_t coord_cooldown_wake(const struct coord *c, int64_t wall, int64_t mono)
{
    SS_ASSERT(c != NULL && c->cfg != NULL);
    if (!coord_in_cooldown(c, wall, mono))
        return -1;
    const int64_t by_wall = mono + c->cfg->cooldown_ms - (wall - c->completed_wall);
    const int64_t wake = by_wall < c->cap_mono ? by_wall : c->cap_mono;
    SS_ASSERT(wake > mono);   /* in the cooldown, so it ends in the future */
    return wake;
}
