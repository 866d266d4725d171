/*
 * oracle.c — the independent reference model of the coordinator.
 *
 * A direct transcription of SPEC §1.2: the decision table of COORD-1 (first
 * matching row wins), collapse of COORD-2, the cooldown clock of COORD-5
 * ("Cooldown clock" in "Coordinator details"), the lock timeout of COORD-6
 * and the follow-up of COORD-11. Written from SPEC only; see oracle.h.
 */
#include "oracle.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Self-contained assertion that stays on in release builds (the model's
 * SS_ASSERT lives in a file a colleague owns). */
#define ORACLE_ASSERT(e) ((e) ? (void)0 : oracle_assert_fail(#e, __LINE__))

static void oracle_assert_fail(const char *expr, int line)
{
    fprintf(stderr, "oracle.c:%d: assertion failed: %s\n", line, expr);
    abort();
}

/* ---- names (own tables, so the oracle depends on nothing in model/) ---- */

static const char *o_kind_name(enum sync_kind k)
{
    static const char *const names[] = {"initial", "manual", "background", "repository", "master"};
    return (unsigned)k < KIND_COUNT ? names[k] : "?";
}

static const char *o_answer_name(enum coord_answer a)
{
    static const char *const names[] = {"ACQUIRED", "QUEUED", "REJECTED"};
    return (unsigned)a <= COORD_REJECTED ? names[a] : "?";
}

static const char *o_reason_name(enum coord_reason r)
{
    static const char *const names[] = {"none", "logged_out", "busy", "done",
                                        "offline", "gate", "cooldown"};
    return (unsigned)r <= REASON_COOLDOWN ? names[r] : "?";
}

static const char *o_op_name(enum coord_op op)
{
    static const char *const names[] = {"START", "ACQUIRE", "POLL", "RELEASE", "PROGRESS",
                                        "INITIAL_DONE", "DISCARD", "END", "FORCE", "RESET"};
    return (unsigned)op <= COBS_RESET ? names[op] : "?";
}

/* The SPEC ids behind each row of the decision table (COORD-1). */
static const char *row_spec(int row)
{
    static const char *const ids[] = {
        "?",
        "COORD-6/COORD-12",   /* 1 force-release */
        "COORD-1",            /* 2 logged_out */
        "COORD-3",            /* 3 busy */
        "COORD-2",            /* 4 queued */
        "COORD-1",            /* 5 done */
        "COORD-1/INIT-1",     /* 6 initial offline */
        "COORD-1",            /* 7 initial acquired */
        "COORD-4/COORD-11",   /* 8 gate */
        "COORD-5/COORD-11",   /* 9 cooldown */
        "COORD-11",           /* 10 offline */
        "COORD-1",            /* 11 acquired */
    };
    return row >= 1 && row <= 11 ? ids[row] : ids[0];
}

/* ---- small rules ---- */

/* COORD-2: manual > repository > master > background; initial lowest. */
static int priority(enum sync_kind k)
{
    switch (k) {
    case KIND_MANUAL: return 4;
    case KIND_REPOSITORY: return 3;
    case KIND_MASTER: return 2;
    case KIND_BACKGROUND: return 1;
    default: return 0;
    }
}

/* COORD-6: ≤ lock_timeout without progress is not stale, > is. */
static bool is_stale(const struct oracle *o, int64_t mono)
{
    return o->held && mono - o->progress_mono > o->lock_timeout_ms;
}

/* COORD-5, "Cooldown clock": wall − completed < cooldown and mono < cap. */
bool oracle_in_cooldown(const struct oracle *o, int64_t wall, int64_t mono)
{
    ORACLE_ASSERT(o != NULL);
    if (!o->completed_known)
        return false;
    return wall - o->completed_wall < o->cooldown_ms && mono < o->cap_mono;
}

static void take_lock(struct oracle *o, enum sync_kind k, int64_t mono)
{
    o->held = true;
    o->holder = k;
    o->acquired_mono = mono;  /* COORD-6: the acquisition is progress */
    o->progress_mono = mono;
}

/* COORD-2 / COORD-11: at most one follow-up, highest priority kind. */
static void collapse(struct oracle *o, enum sync_kind k)
{
    ORACLE_ASSERT(k != KIND_INITIAL);
    if (!o->pending || priority(k) > priority(o->pending_kind))
        o->pending_kind = k;
    o->pending = true;
}

/* ---- the decision table (COORD-1) ---- */

struct prediction {
    int row;                       /* the row that answered, 2..11 */
    struct coord_result res;
};

static struct prediction answer(struct prediction p, int row, enum coord_answer a,
                                enum coord_reason r, bool remembered)
{
    p.row = row;
    p.res.answer = a;
    p.res.reason = r;
    p.res.remembered = remembered;
    return p;
}

static struct prediction decide(const struct oracle *o, enum sync_kind kind,
                                const struct coord_inputs *in)
{
    struct prediction p;
    memset(&p, 0, sizeof p);
    bool held = o->held;
    if (is_stale(o, in->mono)) {                       /* row 1, COORD-6 */
        p.res.forced = true;
        p.res.forced_kind = o->holder;
        p.res.forced_held_ms = in->mono - o->acquired_mono;
        held = false;
    }
    if (!in->session)                                  /* row 2 */
        return answer(p, 2, COORD_REJECTED, REASON_LOGGED_OUT, false);
    if (held && kind == KIND_INITIAL)                  /* row 3, COORD-3 */
        return answer(p, 3, COORD_REJECTED, REASON_BUSY, false);
    if (held)                                          /* row 4, COORD-2 */
        return answer(p, 4, COORD_QUEUED, REASON_NONE, true);
    if (kind == KIND_INITIAL && in->initial_complete)  /* row 5 */
        return answer(p, 5, COORD_REJECTED, REASON_DONE, false);
    if (kind == KIND_INITIAL && !in->online)           /* row 6, INIT-1 */
        return answer(p, 6, COORD_REJECTED, REASON_OFFLINE, false);
    if (kind == KIND_INITIAL)                          /* row 7 */
        return answer(p, 7, COORD_ACQUIRED, REASON_NONE, false);
    if (!in->initial_complete)                         /* row 8, COORD-4 */
        return answer(p, 8, COORD_REJECTED, REASON_GATE, true);
    if (oracle_in_cooldown(o, in->wall, in->mono))     /* row 9, COORD-5 */
        return answer(p, 9, COORD_REJECTED, REASON_COOLDOWN, true);
    if (!in->online)                                   /* row 10 */
        return answer(p, 10, COORD_REJECTED, REASON_OFFLINE, true);
    return answer(p, 11, COORD_ACQUIRED, REASON_NONE, false);  /* row 11 */
}

/* Applies an acquire's result to the state (the prediction, or after a
 * mismatch what the implementation reported). */
static void apply_acquire(struct oracle *o, enum sync_kind kind, const struct coord_inputs *in,
                          const struct coord_result *r)
{
    if (r->forced)
        o->held = false;               /* COORD-6; the follow-up stays (COORD-11) */
    if (r->answer == COORD_ACQUIRED)
        take_lock(o, kind, in->mono);
    if (r->remembered && kind != KIND_INITIAL)
        collapse(o, kind);
}

/* After a mismatch: adopt what the answer says about the lock. */
static void resync_acquire(struct oracle *o, const struct coord_obs *obs)
{
    const struct coord_result *r = &obs->res;
    apply_acquire(o, obs->kind, &obs->in, r);
    bool says_held = r->answer == COORD_QUEUED || r->reason == REASON_BUSY;
    bool says_free = r->answer == COORD_REJECTED && r->reason != REASON_BUSY &&
                     r->reason != REASON_LOGGED_OUT;
    if (says_held && !o->held)
        take_lock(o, KIND_COUNT, obs->in.mono);   /* holder unknown */
    if (says_free)
        o->held = false;
}

static int format_result(char *buf, size_t n, const struct coord_result *r)
{
    int len = snprintf(buf, n, "%s%s%s remembered=%s forced=%s", o_answer_name(r->answer),
                       r->reason != REASON_NONE ? " " : "",
                       r->reason != REASON_NONE ? o_reason_name(r->reason) : "",
                       r->remembered ? "yes" : "no", r->forced ? "yes" : "no");
    if (r->forced && len >= 0 && (size_t)len < n)
        len += snprintf(buf + len, n - (size_t)len, "(%s held %" PRId64 " ms)",
                        o_kind_name(r->forced_kind), r->forced_held_ms);
    return len;
}

static bool same_result(const struct coord_result *a, const struct coord_result *b)
{
    if (a->answer != b->answer || a->reason != b->reason || a->remembered != b->remembered ||
        a->forced != b->forced)
        return false;
    return !a->forced ||
           (a->forced_kind == b->forced_kind && a->forced_held_ms == b->forced_held_ms);
}

__attribute__((format(printf, 3, 4)))
static void say(char *why, size_t n, const char *fmt, ...)
{
    if (why == NULL || n == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
}

static int check_acquire(struct oracle *o, const struct coord_obs *obs, char *why, size_t n)
{
    ORACLE_ASSERT(obs->kind < KIND_COUNT);
    struct prediction p = decide(o, obs->kind, &obs->in);
    if (same_result(&p.res, &obs->res)) {
        apply_acquire(o, obs->kind, &obs->in, &p.res);
        return 0;
    }
    char want[160], got[160];
    format_result(want, sizeof want, &p.res);
    format_result(got, sizeof got, &obs->res);
    say(why, n,
        "ACQUIRE %s (session=%d initial_complete=%d online=%d wall=%" PRId64 " mono=%" PRId64
        "): reference expects %s (decision table row %d, %s%s); implementation reported %s",
        o_kind_name(obs->kind), obs->in.session, obs->in.initial_complete, obs->in.online,
        obs->in.wall, obs->in.mono, want, p.row, row_spec(p.row),
        p.res.forced ? ", after row 1 COORD-6" : "", got);
    resync_acquire(o, obs);
    return 1;
}

/* COORD-11: a pending follow-up starts when the lock is free, there is a
 * session, the gate is open, the cooldown over and the device online. */
static const char *poll_blocker(const struct oracle *o, const struct coord_inputs *in)
{
    if (!o->pending) return "no follow-up pending (COORD-11)";
    if (o->held) return "lock held (COORD-2/COORD-11)";
    if (!in->session) return "no session (COORD-11)";
    if (!in->initial_complete) return "gate closed (COORD-4/COORD-11)";
    if (oracle_in_cooldown(o, in->wall, in->mono)) return "within the cooldown (COORD-5/COORD-11)";
    if (!in->online) return "offline (COORD-11)";
    return NULL;
}

static int check_poll(struct oracle *o, const struct coord_obs *obs, char *why, size_t n)
{
    const char *blocker = poll_blocker(o, &obs->in);
    bool start = blocker == NULL;
    int bad = 0;
    if (start != obs->started) {
        say(why, n, "POLL wall=%" PRId64 " mono=%" PRId64 ": reference %s%s; implementation %s",
            obs->in.wall, obs->in.mono,
            start ? "starts the pending follow-up (COORD-11: all conditions hold) as " : "starts nothing: ",
            start ? o_kind_name(o->pending_kind) : blocker,
            obs->started ? "started a follow-up" : "started nothing");
        bad = 1;
    } else if (start && obs->kind != o->pending_kind) {
        say(why, n, "POLL: reference starts the follow-up as %s (COORD-2 collapse: "
                    "manual > repository > master > background); implementation started %s",
            o_kind_name(o->pending_kind), o_kind_name(obs->kind));
        bad = 1;
    }
    if (obs->started) {                    /* reference or resync: same effect */
        take_lock(o, obs->kind, obs->in.mono);
        o->pending = false;
    }
    return bad;
}

static int check_release(struct oracle *o, const struct coord_obs *obs, char *why, size_t n)
{
    int bad = 0;
    if (!o->held) {
        say(why, n, "RELEASE mono=%" PRId64 ": reference lock is free; a released run must hold "
                    "the lock (COORD-1; a fenced run does not release: COORD-12)", obs->in.mono);
        bad = 1;
    }
    o->held = false;
    return bad;
}

static int check_progress(struct oracle *o, const struct coord_obs *obs, char *why, size_t n)
{
    if (!o->held) {
        say(why, n, "PROGRESS mono=%" PRId64 ": reference lock is free; a run without the lock "
                    "commits nothing (COORD-12)", obs->in.mono);
        return 1;
    }
    o->progress_mono = obs->in.mono;   /* COORD-6: every commit is progress */
    return 0;
}

static int check_initial_done(struct oracle *o, const struct coord_obs *obs, char *why, size_t n)
{
    int bad = 0;
    if (obs->completed_wall != obs->in.wall) {
        say(why, n, "INITIAL_DONE: the cooldown starts at the wall time of the INIT-4 commit %" PRId64
                    " (COORD-5); implementation recorded %" PRId64, obs->in.wall, obs->completed_wall);
        bad = 1;
    }
    o->completed_known = true;            /* the reported time is what is persisted */
    o->completed_wall = obs->completed_wall;
    o->cap_mono = obs->in.mono + o->cooldown_ms;
    return bad;
}

static void apply_start(struct oracle *o, const struct coord_obs *obs)
{
    /* COORD-7 / "Across a crash": nothing held, nothing pending. */
    o->held = false;
    o->holder = KIND_COUNT;
    o->pending = false;
    o->completed_known = obs->initial_complete;
    o->completed_wall = obs->completed_wall;
    o->cap_mono = obs->in.mono + o->cooldown_ms;   /* cap after a restart */
}

/* ---- public ---- */

void oracle_init(struct oracle *o, int64_t cooldown_ms, int64_t lock_timeout_ms)
{
    ORACLE_ASSERT(o != NULL && cooldown_ms >= 0 && lock_timeout_ms >= 0);
    memset(o, 0, sizeof *o);
    o->cooldown_ms = cooldown_ms;
    o->lock_timeout_ms = lock_timeout_ms;
    o->holder = KIND_COUNT;
    o->pending_kind = KIND_COUNT;
}

int oracle_check(struct oracle *o, const struct coord_obs *obs, char *why, size_t n)
{
    ORACLE_ASSERT(o != NULL && obs != NULL);
    if (why != NULL && n > 0)
        why[0] = '\0';
    int bad = 0;
    switch (obs->op) {
    case COBS_START: apply_start(o, obs); break;
    case COBS_ACQUIRE: bad = check_acquire(o, obs, why, n); break;
    case COBS_POLL: bad = check_poll(o, obs, why, n); break;
    case COBS_RELEASE: bad = check_release(o, obs, why, n); break;
    case COBS_PROGRESS: bad = check_progress(o, obs, why, n); break;
    case COBS_INITIAL_DONE: bad = check_initial_done(o, obs, why, n); break;
    case COBS_DISCARD: o->pending = false; break;          /* COORD-11 */
    case COBS_END: o->held = false; break;                 /* fenced, COORD-12; no-op if free */
    case COBS_FORCE:                                       /* COORD-6, connectivity back */
        if (is_stale(o, obs->in.mono))
            o->held = false;
        break;
    case COBS_RESET: o->completed_known = false; break;    /* COORD-10 */
    default:
        say(why, n, "unknown op %d (%s)", (int)obs->op, o_op_name(obs->op));
        bad = 1;
        break;
    }
    o->checks++;
    o->mismatches += (uint64_t)bad;
    return bad;
}

bool oracle_pending(const struct oracle *o, enum sync_kind *kind)
{
    ORACLE_ASSERT(o != NULL);
    if (o->pending && kind != NULL)
        *kind = o->pending_kind;
    return o->pending;
}

bool oracle_held(const struct oracle *o, enum sync_kind *kind)
{
    ORACLE_ASSERT(o != NULL);
    if (o->held && kind != NULL)
        *kind = o->holder;
    return o->held;
}
