/*
 * test_coord.c — unit tests of the coordinator (SPEC §1.2, COORD-1 …
 * COORD-12): every row of the decision table, the follow-up, the cooldown
 * clock, the lock timeout and fencing, with exact event sequences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "coord.h"
#include "env.h"
#include "event.h"

#define T_MAX_EVENTS 64
#define T_MAX_OBS 64
#define T_LINE 256
#define TOAST "toast text=Sync already in progress \xE2\x80\x94 your request is queued"

/* The test world: emit and observe record, so tests assert exact sequences. */
struct tenv {
    struct env env;
    struct config cfg;
    struct coord c;
    char ev[T_MAX_EVENTS][T_LINE];   /* "name k=v k=v", unquoted */
    int nev;
    struct coord_obs obs[T_MAX_OBS];
    int nobs;
};

static struct tenv T;

static void t_emit(void *ctx, const struct event *e)
{
    struct tenv *t = ctx;
    assert_true(t->nev < T_MAX_EVENTS);
    char *line = t->ev[t->nev++];
    size_t off = (size_t)snprintf(line, T_LINE, "%s", e->name);
    for (int i = 0; i < e->n && off < T_LINE; i++)
        off += (size_t)snprintf(line + off, T_LINE - off, " %s=%s", e->f[i].key, e->f[i].val);
}

static void t_observe(void *ctx, const struct coord_obs *o)
{
    struct tenv *t = ctx;
    assert_true(t->nobs < T_MAX_OBS);
    t->obs[t->nobs++] = *o;
}

/* A fresh coordinator at mono 0, no initial sync completed yet. */
static struct coord *fresh(void)
{
    memset(&T, 0, sizeof T);
    T.env.ctx = &T;
    T.env.emit = t_emit;
    T.env.observe = t_observe;
    T.cfg.cooldown_ms = COORD_COOLDOWN_MS;
    T.cfg.lock_timeout_ms = COORD_LOCK_TIMEOUT_MS;
    coord_init(&T.c, &T.env, &T.cfg);
    coord_start(&T.c, 0, false, 0);
    T.nobs = 0;
    return &T.c;
}

/* A coordinator started with an initial sync completed a day ago, so no
 * cooldown applies at wall W0 + m. */
#define W0 1767225600000LL   /* 2026-01-01T00:00:00Z */
#define DAY_MS 86400000LL
static struct coord *ready(void)
{
    struct coord *c = fresh();
    coord_start(c, 0, true, W0 - DAY_MS);
    T.nobs = 0;
    return c;
}

static void clear_log(void)
{
    T.nev = 0;
    T.nobs = 0;
}

static struct coord_inputs in_at(bool session, bool complete, bool online, int64_t wall, int64_t mono)
{
    struct coord_inputs in = { session, complete, online, wall, mono };
    return in;
}

/* Logged in, initial complete, online, at mono m (wall follows mono). */
static struct coord_inputs ok_at(int64_t m)
{
    return in_at(true, true, true, W0 + m, m);
}

static struct coord_result acq(struct coord *c, enum sync_kind k, struct coord_inputs in)
{
    return coord_acquire(c, k, &in);
}

static bool poll_at(struct coord *c, struct coord_inputs in, enum sync_kind *k, uint64_t *g)
{
    return coord_poll(c, &in, k, g);
}

/* Exactly these events, in this order, since the last clear_log. */
static void expect_events(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n && i < T.nev; i++)
        assert_string_equal(T.ev[i], va_arg(ap, const char *));
    va_end(ap);
    assert_int_equal(T.nev, n);
}

static void expect_rejected(struct coord_result r, enum coord_reason reason, bool remembered)
{
    assert_int_equal(r.answer, COORD_REJECTED);
    assert_int_equal(r.reason, reason);
    assert_int_equal(r.remembered, remembered);
    assert_false(r.forced);
    assert_int_equal(r.generation, 0);
}

/* ---- names -------------------------------------------------------------- */

static void test_coord1_reason_and_answer_names(void **s)
{
    (void)s;
    assert_string_equal(coord_reason_name(REASON_LOGGED_OUT), "logged_out");
    assert_string_equal(coord_reason_name(REASON_BUSY), "busy");
    assert_string_equal(coord_reason_name(REASON_DONE), "done");
    assert_string_equal(coord_reason_name(REASON_OFFLINE), "offline");
    assert_string_equal(coord_reason_name(REASON_GATE), "gate");
    assert_string_equal(coord_reason_name(REASON_COOLDOWN), "cooldown");
    assert_string_equal(coord_answer_name(COORD_ACQUIRED), "acquired");
    assert_string_equal(coord_answer_name(COORD_QUEUED), "queued");
    assert_string_equal(coord_answer_name(COORD_REJECTED), "rejected");
}

/* ---- decision table, row by row (COORD-1) ------------------------------- */

static void test_coord1_row2_logged_out_not_remembered(void **s)
{
    (void)s;
    struct coord *c = ready();
    struct coord_result r = acq(c, KIND_MANUAL, in_at(false, true, true, W0 + 10000, 10000));
    expect_rejected(r, REASON_LOGGED_OUT, false);
    expect_events(1, "lock.rejected kind=manual reason=logged_out");
    assert_false(c->pending);
    assert_false(c->held);
}

static void test_coord1_row2_logged_out_precedes_row4_queue(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_BACKGROUND, ok_at(10000));
    clear_log();
    struct coord_result r = acq(c, KIND_MANUAL, in_at(false, true, true, W0 + 10001, 10001));
    expect_rejected(r, REASON_LOGGED_OUT, false);
    expect_events(1, "lock.rejected kind=manual reason=logged_out");
    assert_false(c->pending);
    assert_true(c->held);
    assert_int_equal(c->holder, KIND_BACKGROUND);
}

static void test_coord3_row3_initial_while_held_busy(void **s)
{
    (void)s;
    struct coord *c = fresh();
    struct coord_result r = acq(c, KIND_INITIAL, in_at(true, false, true, W0, 0));
    assert_int_equal(r.answer, COORD_ACQUIRED);
    clear_log();
    r = acq(c, KIND_INITIAL, in_at(true, false, true, W0 + 1, 1));
    expect_rejected(r, REASON_BUSY, false);
    expect_events(1, "lock.rejected kind=initial reason=busy");
    assert_false(c->pending);
    assert_int_equal(c->holder, KIND_INITIAL);
}

static void test_coord2_row4_queued_behind_holder_becomes_follow_up(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_REPOSITORY, ok_at(10000));
    clear_log();
    struct coord_result r = acq(c, KIND_BACKGROUND, ok_at(10001));
    assert_int_equal(r.answer, COORD_QUEUED);
    assert_int_equal(r.reason, REASON_NONE);
    assert_true(r.remembered);
    expect_events(1, "lock.queued kind=background holder=repository");
    assert_true(c->pending);
    assert_int_equal(c->pending_kind, KIND_BACKGROUND);
}

static void test_coord2_row4_queued_even_offline_or_in_gate(void **s)
{
    (void)s;
    /* Row 4 precedes rows 8 and 10: a held lock queues whatever the rest. */
    struct coord *c = fresh();
    acq(c, KIND_INITIAL, in_at(true, false, true, W0, 0));
    clear_log();
    struct coord_result r = acq(c, KIND_MASTER, in_at(true, false, false, W0 + 5, 5));
    assert_int_equal(r.answer, COORD_QUEUED);
    expect_events(1, "lock.queued kind=master holder=initial");
    assert_int_equal(c->pending_kind, KIND_MASTER);
}

static void test_coord1_row5_initial_done_even_offline(void **s)
{
    (void)s;
    struct coord *c = ready();
    struct coord_result r = acq(c, KIND_INITIAL, in_at(true, true, false, W0 + 10000, 10000));
    expect_rejected(r, REASON_DONE, false);
    expect_events(1, "lock.rejected kind=initial reason=done");
    assert_false(c->pending);
}

static void test_coord1_row6_initial_offline_not_remembered(void **s)
{
    (void)s;
    struct coord *c = fresh();
    struct coord_result r = acq(c, KIND_INITIAL, in_at(true, false, false, W0, 0));
    expect_rejected(r, REASON_OFFLINE, false);
    expect_events(1, "lock.rejected kind=initial reason=offline");
    assert_false(c->pending);
    assert_false(c->held);
}

static void test_coord1_row7_initial_acquired_generation_1(void **s)
{
    (void)s;
    struct coord *c = fresh();
    struct coord_result r = acq(c, KIND_INITIAL, in_at(true, false, true, W0, 7));
    assert_int_equal(r.answer, COORD_ACQUIRED);
    assert_int_equal(r.reason, REASON_NONE);
    assert_int_equal(r.generation, 1);
    assert_false(r.remembered);
    expect_events(1, "lock.acquired kind=initial");
    assert_true(c->held);
    assert_int_equal(c->holder, KIND_INITIAL);
    assert_int_equal(c->acquired_mono, 7);
    assert_int_equal(c->progress_mono, 7);
}

static void test_coord4_row8_gate_remembered_precedes_offline(void **s)
{
    (void)s;
    struct coord *c = fresh();
    struct coord_result r = acq(c, KIND_REPOSITORY, in_at(true, false, false, W0, 0));
    expect_rejected(r, REASON_GATE, true);
    expect_events(1, "lock.rejected kind=repository reason=gate");
    assert_true(c->pending);
    assert_int_equal(c->pending_kind, KIND_REPOSITORY);
}

static void test_coord5_row9_cooldown_remembered_precedes_offline(void **s)
{
    (void)s;
    struct coord *c = fresh();
    coord_initial_completed(c, W0, 1000);
    clear_log();
    struct coord_result r = acq(c, KIND_BACKGROUND, in_at(true, true, false, W0 + 10, 1010));
    expect_rejected(r, REASON_COOLDOWN, true);
    expect_events(1, "lock.rejected kind=background reason=cooldown");
    assert_true(c->pending);
    assert_int_equal(c->pending_kind, KIND_BACKGROUND);
}

static void test_coord1_row10_offline_remembered(void **s)
{
    (void)s;
    struct coord *c = ready();
    struct coord_result r = acq(c, KIND_MANUAL, in_at(true, true, false, W0 + 10000, 10000));
    expect_rejected(r, REASON_OFFLINE, true);
    expect_events(1, "lock.rejected kind=manual reason=offline");
    assert_true(c->pending);
    assert_int_equal(c->pending_kind, KIND_MANUAL);
}

static void test_coord1_row11_acquired(void **s)
{
    (void)s;
    struct coord *c = ready();
    struct coord_result r = acq(c, KIND_MASTER, ok_at(10000));
    assert_int_equal(r.answer, COORD_ACQUIRED);
    assert_int_equal(r.generation, 1);
    assert_false(r.forced);
    expect_events(1, "lock.acquired kind=master");
    assert_true(c->held);
    assert_int_equal(c->holder, KIND_MASTER);
    assert_false(c->pending);
}

/* ---- row 1 and COORD-6 -------------------------------------------------- */

static void test_coord6_row1_force_release_then_row11_acquires(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_BACKGROUND, ok_at(10000));
    clear_log();
    struct coord_result r = acq(c, KIND_MANUAL, ok_at(310001));
    assert_true(r.forced);
    assert_int_equal(r.forced_kind, KIND_BACKGROUND);
    assert_int_equal(r.forced_held_ms, 300001);
    assert_int_equal(r.answer, COORD_ACQUIRED);
    assert_int_equal(r.generation, 2);
    expect_events(2, "lock.force_released kind=background held_ms=300001",
                  "lock.acquired kind=manual");
    assert_int_equal(c->holder, KIND_MANUAL);
}

static void test_coord6_row1_force_release_then_row2_logged_out(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_REPOSITORY, ok_at(10000));
    clear_log();
    struct coord_result r = acq(c, KIND_MANUAL, in_at(false, true, true, W0 + 400000, 400000));
    assert_true(r.forced);
    assert_int_equal(r.answer, COORD_REJECTED);
    assert_int_equal(r.reason, REASON_LOGGED_OUT);
    expect_events(2, "lock.force_released kind=repository held_ms=390000",
                  "lock.rejected kind=manual reason=logged_out");
    assert_false(c->held);
    assert_false(c->pending);
}

static void test_coord6_row1_force_release_then_row8_gate_remembered(void **s)
{
    (void)s;
    struct coord *c = fresh();
    acq(c, KIND_INITIAL, in_at(true, false, true, W0, 0));
    clear_log();
    struct coord_result r = acq(c, KIND_REPOSITORY, in_at(true, false, true, W0 + 300001, 300001));
    assert_true(r.forced);
    assert_int_equal(r.forced_kind, KIND_INITIAL);
    assert_int_equal(r.answer, COORD_REJECTED);
    assert_int_equal(r.reason, REASON_GATE);
    assert_true(r.remembered);
    assert_true(c->pending);
    assert_int_equal(c->pending_kind, KIND_REPOSITORY);
    expect_events(2, "lock.force_released kind=initial held_ms=300001",
                  "lock.rejected kind=repository reason=gate");
    assert_false(c->held);
}

static void test_coord6_timeout_300000_not_stale_300001_stale(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_BACKGROUND, ok_at(1000));
    assert_false(coord_is_stale(c, 301000));
    assert_true(coord_is_stale(c, 301001));
    clear_log();
    struct coord_result r = acq(c, KIND_MANUAL, ok_at(301000));   /* exactly 300000 */
    assert_int_equal(r.answer, COORD_QUEUED);
    assert_false(r.forced);
    expect_events(2, "lock.queued kind=manual holder=background", TOAST);
    clear_log();
    r = acq(c, KIND_REPOSITORY, ok_at(301001));
    assert_true(r.forced);
    assert_int_equal(r.answer, COORD_ACQUIRED);
    expect_events(2, "lock.force_released kind=background held_ms=300001",
                  "lock.acquired kind=repository");
}

static void test_coord6_progress_keeps_long_healthy_sync(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_MANUAL, ok_at(0));
    coord_progress(c, 250000);
    coord_progress(c, 500000);
    clear_log();
    struct coord_result r = acq(c, KIND_BACKGROUND, ok_at(800000));   /* 300000 since */
    assert_int_equal(r.answer, COORD_QUEUED);
    assert_false(r.forced);
    r = acq(c, KIND_BACKGROUND, ok_at(800001));
    assert_true(r.forced);
    assert_int_equal(r.forced_held_ms, 800001);   /* counts from acquisition */
    expect_events(3, "lock.queued kind=background holder=manual",
                  "lock.force_released kind=manual held_ms=800001",
                  "lock.acquired kind=background");
}

static void test_coord6_force_then_acquire_keeps_follow_up_pending(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_BACKGROUND, ok_at(0));
    acq(c, KIND_MANUAL, ok_at(10));   /* queued: follow-up manual */
    clear_log();
    struct coord_result r = acq(c, KIND_MASTER, ok_at(300011));
    assert_true(r.forced);
    assert_int_equal(r.answer, COORD_ACQUIRED);
    assert_true(c->pending);   /* the force-release did not start it */
    assert_int_equal(c->pending_kind, KIND_MANUAL);
    enum sync_kind k = KIND_COUNT;
    uint64_t g = 99;
    assert_false(poll_at(c, ok_at(300012), &k, &g));   /* lock held by master */
    coord_release(c, 300100);
    assert_true(poll_at(c, ok_at(300100), &k, &g));
    assert_int_equal(k, KIND_MANUAL);
    assert_int_equal(g, 3);
    expect_events(4, "lock.force_released kind=background held_ms=300011",
                  "lock.acquired kind=master", "lock.released kind=master held_ms=89",
                  "lock.acquired kind=manual");
}

static void test_coord6_force_then_rejected_follow_up_starts_by_poll(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_BACKGROUND, ok_at(0));
    clear_log();
    struct coord_result r = acq(c, KIND_REPOSITORY, in_at(true, true, false, W0 + 400000, 400000));
    assert_true(r.forced);
    assert_int_equal(r.answer, COORD_REJECTED);
    assert_int_equal(r.reason, REASON_OFFLINE);
    assert_true(r.remembered);
    enum sync_kind k = KIND_COUNT;
    uint64_t g = 0;
    assert_false(poll_at(c, in_at(true, true, false, W0 + 400001, 400001), &k, &g));
    assert_true(poll_at(c, ok_at(400002), &k, &g));
    assert_int_equal(k, KIND_REPOSITORY);
    assert_int_equal(g, 2);
    expect_events(3, "lock.force_released kind=background held_ms=400000",
                  "lock.rejected kind=repository reason=offline",
                  "lock.acquired kind=repository");
}

static void test_coord6_force_if_stale_boundary_and_event(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_MASTER, ok_at(100));
    coord_progress(c, 200);
    clear_log();
    assert_false(coord_force_if_stale(c, 300200));
    assert_true(c->held);
    expect_events(0);
    assert_true(coord_force_if_stale(c, 300201));
    assert_false(c->held);
    expect_events(1, "lock.force_released kind=master held_ms=300101");
    assert_int_equal(T.nobs, 2);
    assert_int_equal(T.obs[1].op, COBS_FORCE);
    assert_true(T.obs[1].res.forced);
    assert_int_equal(T.obs[1].res.forced_kind, KIND_MASTER);
    assert_int_equal(T.obs[1].res.forced_held_ms, 300101);
    assert_false(coord_force_if_stale(c, 900000));   /* not held: nothing */
}

/* ---- COORD-2 collapse and the toast ------------------------------------- */

static void test_coord2_all_five_kinds_collapse_into_one_manual_follow_up(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_BACKGROUND, ok_at(10000));
    clear_log();
    assert_int_equal(acq(c, KIND_BACKGROUND, ok_at(10001)).answer, COORD_QUEUED);
    assert_int_equal(acq(c, KIND_REPOSITORY, ok_at(10002)).answer, COORD_QUEUED);
    assert_int_equal(acq(c, KIND_MANUAL, ok_at(10003)).answer, COORD_QUEUED);
    assert_int_equal(acq(c, KIND_MASTER, ok_at(10004)).answer, COORD_QUEUED);
    struct coord_result r = acq(c, KIND_INITIAL, ok_at(10005));
    expect_rejected(r, REASON_BUSY, false);
    assert_int_equal(acq(c, KIND_BACKGROUND, ok_at(10006)).answer, COORD_QUEUED);
    expect_events(7, "lock.queued kind=background holder=background",
                  "lock.queued kind=repository holder=background",
                  "lock.queued kind=manual holder=background", TOAST,
                  "lock.queued kind=master holder=background",
                  "lock.rejected kind=initial reason=busy",
                  "lock.queued kind=background holder=background");
    assert_true(c->pending);
    assert_int_equal(c->pending_kind, KIND_MANUAL);
    clear_log();
    coord_release(c, 20000);
    enum sync_kind k = KIND_COUNT;
    uint64_t g = 0;
    assert_true(poll_at(c, ok_at(20000), &k, &g));
    assert_int_equal(k, KIND_MANUAL);
    assert_int_equal(g, 2);
    coord_release(c, 21000);
    assert_false(poll_at(c, ok_at(21000), &k, &g));   /* exactly one follow-up */
    expect_events(3, "lock.released kind=background held_ms=10000",
                  "lock.acquired kind=manual", "lock.released kind=manual held_ms=1000");
}

static void test_coord2_priority_repository_over_master_over_background(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_MANUAL, ok_at(10000));
    acq(c, KIND_BACKGROUND, ok_at(10001));
    assert_int_equal(c->pending_kind, KIND_BACKGROUND);
    acq(c, KIND_MASTER, ok_at(10002));
    assert_int_equal(c->pending_kind, KIND_MASTER);
    acq(c, KIND_BACKGROUND, ok_at(10003));
    assert_int_equal(c->pending_kind, KIND_MASTER);
    acq(c, KIND_REPOSITORY, ok_at(10004));
    assert_int_equal(c->pending_kind, KIND_REPOSITORY);
    acq(c, KIND_MASTER, ok_at(10005));
    assert_int_equal(c->pending_kind, KIND_REPOSITORY);
}

static void test_coord2_toast_only_for_manual(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_REPOSITORY, ok_at(10000));
    clear_log();
    acq(c, KIND_MASTER, ok_at(10001));
    acq(c, KIND_BACKGROUND, ok_at(10002));
    acq(c, KIND_REPOSITORY, ok_at(10003));
    acq(c, KIND_MANUAL, ok_at(10004));
    acq(c, KIND_MANUAL, ok_at(10005));
    expect_events(7, "lock.queued kind=master holder=repository",
                  "lock.queued kind=background holder=repository",
                  "lock.queued kind=repository holder=repository",
                  "lock.queued kind=manual holder=repository", TOAST,
                  "lock.queued kind=manual holder=repository", TOAST);
    /* A manual rejection (not queued) shows no toast. */
    coord_release(c, 10010);
    coord_discard_followup(c);
    clear_log();
    acq(c, KIND_MANUAL, in_at(true, true, false, W0 + 10011, 10011));
    expect_events(1, "lock.rejected kind=manual reason=offline");
}

/* ---- COORD-11: remembered rejections, started by poll -------------------- */

static void test_coord11_gate_cooldown_offline_remembered_started_by_poll(void **s)
{
    (void)s;
    struct coord *c = fresh();
    enum sync_kind k = KIND_COUNT;
    uint64_t g = 0;
    acq(c, KIND_BACKGROUND, in_at(true, false, true, W0, 0));           /* gate */
    assert_false(poll_at(c, in_at(true, false, true, W0 + 1, 1), &k, &g));
    coord_initial_completed(c, W0 + 100, 100);
    acq(c, KIND_REPOSITORY, in_at(true, true, true, W0 + 200, 200));    /* cooldown */
    assert_false(poll_at(c, in_at(true, true, true, W0 + 5099, 5099), &k, &g));
    acq(c, KIND_MASTER, in_at(true, true, false, W0 + 5100, 5100));     /* offline */
    assert_false(poll_at(c, in_at(true, true, false, W0 + 6000, 6000), &k, &g));
    assert_false(poll_at(c, in_at(false, true, true, W0 + 6001, 6001), &k, &g)); /* no session */
    assert_int_equal(c->pending_kind, KIND_REPOSITORY);
    assert_true(poll_at(c, in_at(true, true, true, W0 + 7000, 7000), &k, &g));
    assert_int_equal(k, KIND_REPOSITORY);
    assert_int_equal(g, 1);
    assert_false(c->pending);
    /* While it waited it emitted nothing more than each request's answer. */
    expect_events(4, "lock.rejected kind=background reason=gate",
                  "lock.rejected kind=repository reason=cooldown",
                  "lock.rejected kind=master reason=offline",
                  "lock.acquired kind=repository");
}

static void test_coord11_poll_reports_only_with_pending(void **s)
{
    (void)s;
    struct coord *c = ready();
    enum sync_kind k = KIND_COUNT;
    uint64_t g = 0;
    assert_false(poll_at(c, ok_at(10000), &k, &g));
    assert_int_equal(T.nobs, 0);
    acq(c, KIND_MANUAL, in_at(true, true, false, W0 + 10001, 10001));
    assert_false(poll_at(c, in_at(true, true, false, W0 + 10002, 10002), &k, &g));
    assert_true(poll_at(c, ok_at(10003), &k, &g));
    assert_int_equal(T.nobs, 3);
    assert_int_equal(T.obs[0].op, COBS_ACQUIRE);
    assert_int_equal(T.obs[0].kind, KIND_MANUAL);
    assert_int_equal(T.obs[0].res.answer, COORD_REJECTED);
    assert_int_equal(T.obs[0].res.reason, REASON_OFFLINE);
    assert_true(T.obs[0].res.remembered);
    assert_false(T.obs[0].in.online);
    assert_int_equal(T.obs[0].in.mono, 10001);
    assert_int_equal(T.obs[1].op, COBS_POLL);
    assert_false(T.obs[1].started);
    assert_int_equal(T.obs[1].kind, KIND_MANUAL);
    assert_int_equal(T.obs[2].op, COBS_POLL);
    assert_true(T.obs[2].started);
    assert_int_equal(T.obs[2].kind, KIND_MANUAL);
    assert_int_equal(T.obs[2].res.generation, 1);
    assert_int_equal(T.obs[2].in.mono, 10003);
}

static void test_coord11_discard_followup(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_MANUAL, in_at(true, true, false, W0 + 10000, 10000));
    assert_true(c->pending);
    clear_log();
    coord_discard_followup(c);
    assert_false(c->pending);
    expect_events(0);
    assert_int_equal(T.nobs, 1);
    assert_int_equal(T.obs[0].op, COBS_DISCARD);
    enum sync_kind k = KIND_COUNT;
    uint64_t g = 0;
    assert_false(poll_at(c, ok_at(10001), &k, &g));
    assert_int_equal(k, KIND_COUNT);   /* untouched when nothing started */
}

/* ---- COORD-12 fencing and generations ----------------------------------- */

static void test_coord12_fencing_after_force_release(void **s)
{
    (void)s;
    struct coord *c = ready();
    struct coord_result r1 = acq(c, KIND_BACKGROUND, ok_at(0));
    assert_int_equal(r1.generation, 1);
    assert_true(coord_is_current(c, 1));
    struct coord_result r2 = acq(c, KIND_REPOSITORY, ok_at(300001));
    assert_true(r2.forced);
    assert_int_equal(r2.generation, 2);
    assert_false(coord_is_current(c, 1));   /* the stuck run commits nothing */
    assert_true(coord_is_current(c, 2));
    coord_release(c, 300050);
    assert_false(coord_is_current(c, 2));
}

static void test_coord12_force_if_stale_fences_before_next_acquire(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_MANUAL, ok_at(0));
    assert_true(coord_force_if_stale(c, 300001));
    assert_false(coord_is_current(c, 1));   /* fenced even with no new holder */
    assert_int_equal(acq(c, KIND_BACKGROUND, ok_at(300002)).generation, 2);
    assert_false(coord_is_current(c, 1));
}

static void test_coord12_generation_increments_and_restarts_at_zero(void **s)
{
    (void)s;
    struct coord *c = ready();
    assert_int_equal(c->generation, 0);
    for (uint64_t i = 1; i <= 3; i++) {
        struct coord_result r = acq(c, KIND_MANUAL, ok_at((int64_t)i * 1000));
        assert_int_equal(r.generation, i);
        coord_release(c, (int64_t)i * 1000 + 1);
    }
    coord_start(c, 0, true, W0);   /* a crash: memory is gone */
    assert_int_equal(c->generation, 0);
    assert_int_equal(acq(c, KIND_MANUAL, in_at(true, true, true, W0 + 100000, 5000)).generation, 1);
}

/* ---- COORD-5 cooldown clock --------------------------------------------- */

static void test_coord5_cooldown_boundary_4999_rejected_5000_acquired(void **s)
{
    (void)s;
    struct coord *c = fresh();
    coord_initial_completed(c, W0, 2000);
    clear_log();
    struct coord_result r = acq(c, KIND_MANUAL, in_at(true, true, true, W0 + 4999, 6999));
    expect_rejected(r, REASON_COOLDOWN, true);
    assert_int_equal(coord_cooldown_wake(c, W0 + 4999, 6999), 7000);
    coord_discard_followup(c);
    r = acq(c, KIND_MANUAL, in_at(true, true, true, W0 + 5000, 7000));
    assert_int_equal(r.answer, COORD_ACQUIRED);
    assert_int_equal(coord_cooldown_wake(c, W0 + 5000, 7000), -1);
    expect_events(2, "lock.rejected kind=manual reason=cooldown", "lock.acquired kind=manual");
}

static void test_coord5_backward_wall_jump_capped(void **s)
{
    (void)s;
    struct coord *c = fresh();
    coord_initial_completed(c, W0, 1000);   /* cap = 6000 */
    const int64_t back = W0 - 3600000;      /* wall jumped back an hour */
    assert_true(coord_in_cooldown(c, back, 1500));
    assert_int_equal(coord_cooldown_wake(c, back, 1500), 6000);
    assert_true(coord_in_cooldown(c, back, 5999));
    assert_false(coord_in_cooldown(c, back, 6000));
    clear_log();
    struct coord_result r = acq(c, KIND_BACKGROUND, in_at(true, true, true, back, 5999));
    assert_int_equal(r.reason, REASON_COOLDOWN);
    enum sync_kind k = KIND_COUNT;
    uint64_t g = 0;
    assert_false(poll_at(c, in_at(true, true, true, back + 1, 5999), &k, &g));
    assert_true(poll_at(c, in_at(true, true, true, back + 1, 6000), &k, &g));
    assert_int_equal(k, KIND_BACKGROUND);
    expect_events(2, "lock.rejected kind=background reason=cooldown",
                  "lock.acquired kind=background");
}

static void test_coord5_forward_wall_jump_ends_early(void **s)
{
    (void)s;
    struct coord *c = fresh();
    coord_initial_completed(c, W0, 1000);
    assert_true(coord_in_cooldown(c, W0 + 100, 1100));
    assert_int_equal(coord_cooldown_wake(c, W0 + 100, 1100), 6000);
    assert_int_equal(coord_cooldown_wake(c, W0 + 3000, 1100), 3100);   /* jumped 2.9 s */
    assert_false(coord_in_cooldown(c, W0 + 5000, 1101));
    clear_log();
    struct coord_result r = acq(c, KIND_REPOSITORY, in_at(true, true, true, W0 + 60000, 1200));
    assert_int_equal(r.answer, COORD_ACQUIRED);
    expect_events(1, "lock.acquired kind=repository");
}

static void test_coord5_restart_cap_counts_from_start(void **s)
{
    (void)s;
    struct coord *c = fresh();
    /* Completed at W0 in a previous process; restarted at mono 0. */
    coord_start(c, 0, true, W0);
    assert_true(coord_in_cooldown(c, W0 + 1000, 0));
    assert_int_equal(coord_cooldown_wake(c, W0 + 1000, 0), 4000);
    assert_false(coord_in_cooldown(c, W0 + 5000, 4000));
    /* The persisted time lies in the future (clock moved back): cap rules. */
    assert_true(coord_in_cooldown(c, W0 - 100000, 4999));
    assert_int_equal(coord_cooldown_wake(c, W0 - 100000, 10), 5000);
    assert_false(coord_in_cooldown(c, W0 - 100000, 5000));
    /* Long ago: no cooldown at all after the restart. */
    coord_start(c, 50, true, W0 - 86400000);
    assert_false(coord_in_cooldown(c, W0, 60));
    assert_int_equal(coord_cooldown_wake(c, W0, 60), -1);
}

/* ---- COORD-7, COORD-8, COORD-9, COORD-10, coord_end --------------------- */

static void test_coord7_start_holds_nothing_and_forgets_follow_up(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_REPOSITORY, ok_at(10000));
    acq(c, KIND_MANUAL, ok_at(10001));
    clear_log();
    coord_start(c, 0, true, W0);   /* kill -9 and restart */
    assert_false(c->held);
    assert_false(c->pending);
    assert_int_equal(c->generation, 0);
    expect_events(0);   /* the stale-clear event is the device's (COORD-7) */
    assert_int_equal(T.nobs, 1);
    assert_int_equal(T.obs[0].op, COBS_START);
    assert_true(T.obs[0].initial_complete);
    assert_int_equal(T.obs[0].completed_wall, W0);
    assert_int_equal(T.obs[0].in.mono, 0);
}

static void test_coord8_release_event_kind_and_held_ms(void **s)
{
    (void)s;
    struct coord *c = ready();
    acq(c, KIND_MASTER, ok_at(10000));
    coord_progress(c, 12000);
    coord_release(c, 12345);
    expect_events(2, "lock.acquired kind=master", "lock.released kind=master held_ms=2345");
    assert_false(c->held);
    assert_int_equal(T.nobs, 3);
    assert_int_equal(T.obs[1].op, COBS_PROGRESS);
    assert_int_equal(T.obs[2].op, COBS_RELEASE);
    assert_int_equal(T.obs[2].kind, KIND_MASTER);
    assert_int_equal(T.obs[2].in.mono, 12345);
}

static void test_coord9_queued_callers_share_one_follow_up_run(void **s)
{
    (void)s;
    /* Many callers queued behind one run get one follow-up (COORD-9 waiters
     * share its result): a single lock.acquired after the release. */
    struct coord *c = ready();
    acq(c, KIND_MANUAL, ok_at(10000));
    for (int i = 0; i < 10; i++)
        assert_int_equal(acq(c, KIND_REPOSITORY, ok_at(10001 + i)).answer, COORD_QUEUED);
    coord_release(c, 11000);
    clear_log();
    enum sync_kind k;
    uint64_t g;
    assert_true(poll_at(c, ok_at(11000), &k, &g));
    assert_false(poll_at(c, ok_at(11000), &k, &g));
    coord_release(c, 11500);
    assert_false(poll_at(c, ok_at(11500), &k, &g));
    expect_events(2, "lock.acquired kind=repository", "lock.released kind=repository held_ms=500");
}

static void test_coord10_reset_initial_closes_gate_and_forgets_cooldown(void **s)
{
    (void)s;
    struct coord *c = fresh();
    coord_initial_completed(c, W0, 0);
    acq(c, KIND_REPOSITORY, in_at(true, true, true, W0 + 100, 100));   /* cooldown */
    coord_reset_initial(c);
    assert_false(coord_in_cooldown(c, W0 + 200, 200));
    assert_int_equal(coord_cooldown_wake(c, W0 + 200, 200), -1);
    assert_true(c->pending);   /* kept: it now waits at the gate */
    clear_log();
    struct coord_result r = acq(c, KIND_MANUAL, in_at(true, false, true, W0 + 300, 300));
    expect_rejected(r, REASON_GATE, true);
    r = acq(c, KIND_INITIAL, in_at(true, false, true, W0 + 301, 301));
    assert_int_equal(r.answer, COORD_ACQUIRED);
    coord_initial_completed(c, W0 + 9000, 9000);
    coord_release(c, 9000);
    enum sync_kind k;
    uint64_t g;
    assert_false(poll_at(c, in_at(true, true, true, W0 + 13999, 13999), &k, &g));
    assert_true(poll_at(c, in_at(true, true, true, W0 + 14000, 14000), &k, &g));
    assert_int_equal(k, KIND_MANUAL);
    expect_events(4, "lock.rejected kind=manual reason=gate", "lock.acquired kind=initial",
                  "lock.released kind=initial held_ms=8699", "lock.acquired kind=manual");
}

static void test_coord12_end_releases_fences_and_keeps_follow_up(void **s)
{
    (void)s;
    struct coord *c = ready();
    struct coord_result r = acq(c, KIND_BACKGROUND, ok_at(10000));
    acq(c, KIND_MANUAL, ok_at(10001));
    clear_log();
    coord_end(c, 10500);   /* logout while the run holds the lock */
    assert_false(c->held);
    assert_false(coord_is_current(c, r.generation));
    assert_true(c->pending);   /* discard is a separate call */
    expect_events(1, "lock.released kind=background held_ms=500");
    coord_end(c, 10600);   /* not held: no-op */
    expect_events(1, "lock.released kind=background held_ms=500");
    assert_int_equal(T.nobs, 2);
    assert_int_equal(T.obs[0].op, COBS_END);
    assert_true(T.obs[0].started);
    assert_false(T.obs[1].started);
    coord_discard_followup(c);
    assert_false(c->pending);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coord1_reason_and_answer_names),
        cmocka_unit_test(test_coord1_row2_logged_out_not_remembered),
        cmocka_unit_test(test_coord1_row2_logged_out_precedes_row4_queue),
        cmocka_unit_test(test_coord3_row3_initial_while_held_busy),
        cmocka_unit_test(test_coord2_row4_queued_behind_holder_becomes_follow_up),
        cmocka_unit_test(test_coord2_row4_queued_even_offline_or_in_gate),
        cmocka_unit_test(test_coord1_row5_initial_done_even_offline),
        cmocka_unit_test(test_coord1_row6_initial_offline_not_remembered),
        cmocka_unit_test(test_coord1_row7_initial_acquired_generation_1),
        cmocka_unit_test(test_coord4_row8_gate_remembered_precedes_offline),
        cmocka_unit_test(test_coord5_row9_cooldown_remembered_precedes_offline),
        cmocka_unit_test(test_coord1_row10_offline_remembered),
        cmocka_unit_test(test_coord1_row11_acquired),
        cmocka_unit_test(test_coord6_row1_force_release_then_row11_acquires),
        cmocka_unit_test(test_coord6_row1_force_release_then_row2_logged_out),
        cmocka_unit_test(test_coord6_row1_force_release_then_row8_gate_remembered),
        cmocka_unit_test(test_coord6_timeout_300000_not_stale_300001_stale),
        cmocka_unit_test(test_coord6_progress_keeps_long_healthy_sync),
        cmocka_unit_test(test_coord6_force_then_acquire_keeps_follow_up_pending),
        cmocka_unit_test(test_coord6_force_then_rejected_follow_up_starts_by_poll),
        cmocka_unit_test(test_coord6_force_if_stale_boundary_and_event),
        cmocka_unit_test(test_coord2_all_five_kinds_collapse_into_one_manual_follow_up),
        cmocka_unit_test(test_coord2_priority_repository_over_master_over_background),
        cmocka_unit_test(test_coord2_toast_only_for_manual),
        cmocka_unit_test(test_coord11_gate_cooldown_offline_remembered_started_by_poll),
        cmocka_unit_test(test_coord11_poll_reports_only_with_pending),
        cmocka_unit_test(test_coord11_discard_followup),
        cmocka_unit_test(test_coord12_fencing_after_force_release),
        cmocka_unit_test(test_coord12_force_if_stale_fences_before_next_acquire),
        cmocka_unit_test(test_coord12_generation_increments_and_restarts_at_zero),
        cmocka_unit_test(test_coord5_cooldown_boundary_4999_rejected_5000_acquired),
        cmocka_unit_test(test_coord5_backward_wall_jump_capped),
        cmocka_unit_test(test_coord5_forward_wall_jump_ends_early),
        cmocka_unit_test(test_coord5_restart_cap_counts_from_start),
        cmocka_unit_test(test_coord7_start_holds_nothing_and_forgets_follow_up),
        cmocka_unit_test(test_coord8_release_event_kind_and_held_ms),
        cmocka_unit_test(test_coord9_queued_callers_share_one_follow_up_run),
        cmocka_unit_test(test_coord10_reset_initial_closes_gate_and_forgets_cooldown),
        cmocka_unit_test(test_coord12_end_releases_fences_and_keeps_follow_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
