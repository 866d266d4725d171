/*
 * test_oracle.c — the reference model of the coordinator (sim/oracle) on
 * hand-written observation sequences from SPEC §1.2 (COORD-1 … COORD-12).
 *
 * Every right report must give 0; every wrong one 1 (checked on a copy of
 * the oracle so the sequence goes on from the right state).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "oracle.h"

#define COOLDOWN 5000
#define TIMEOUT 300000

/* ---- helpers ---- */

struct world {
    bool session, initial_complete, online;
};

static const struct world READY = {true, true, true};

static struct coord_inputs at(struct world w, int64_t wall, int64_t mono)
{
    struct coord_inputs in = {w.session, w.initial_complete, w.online, wall, mono};
    return in;
}

static struct coord_obs op(enum coord_op o, struct coord_inputs in)
{
    struct coord_obs ob;
    memset(&ob, 0, sizeof ob);
    ob.op = o;
    ob.in = in;
    return ob;
}

static struct coord_obs acq(enum sync_kind k, struct coord_inputs in, enum coord_answer a,
                            enum coord_reason r, bool remembered)
{
    struct coord_obs ob = op(COBS_ACQUIRE, in);
    ob.kind = k;
    ob.res.answer = a;
    ob.res.reason = r;
    ob.res.remembered = remembered;
    return ob;
}

static struct coord_obs forced(struct coord_obs ob, enum sync_kind old, int64_t held_ms)
{
    ob.res.forced = true;
    ob.res.forced_kind = old;
    ob.res.forced_held_ms = held_ms;
    return ob;
}

static struct coord_obs poll_obs(struct coord_inputs in, bool started, enum sync_kind k)
{
    struct coord_obs ob = op(COBS_POLL, in);
    ob.started = started;
    ob.kind = k;
    return ob;
}

static struct coord_obs start_obs(int64_t mono, bool complete, int64_t completed_wall)
{
    struct coord_obs ob = op(COBS_START, at(READY, 0, mono));
    ob.initial_complete = complete;
    ob.completed_wall = completed_wall;
    return ob;
}

static struct coord_obs done_obs(int64_t wall, int64_t mono)
{
    struct coord_obs ob = op(COBS_INITIAL_DONE, at(READY, wall, mono));
    ob.completed_wall = wall;
    return ob;
}

static struct coord_obs simple(enum coord_op o, int64_t mono)
{
    return op(o, at(READY, 0, mono));
}

/* A right report: 0, and the reference moves on. */
static void ok(struct oracle *o, struct coord_obs ob)
{
    char why[512];
    int rc = oracle_check(o, &ob, why, sizeof why);
    if (rc != 0)
        fail_msg("unexpected mismatch: %s", why);
}

/* A wrong report: 1 with an explanation; checked on a copy. */
static void bad(const struct oracle *o, struct coord_obs ob, const char *must_mention)
{
    struct oracle copy = *o;
    char why[512];
    assert_int_equal(oracle_check(&copy, &ob, why, sizeof why), 1);
    assert_true(why[0] != '\0');
    if (must_mention != NULL && strstr(why, must_mention) == NULL)
        fail_msg("explanation lacks \"%s\": %s", must_mention, why);
}

/* Fresh process, initial sync completed long ago (no cooldown). */
static void ready(struct oracle *o)
{
    oracle_init(o, COOLDOWN, TIMEOUT);
    ok(o, start_obs(0, true, -1000000));
}

/* Holds the lock with kind at mono (through row 11 or row 7). */
static void hold(struct oracle *o, enum sync_kind k, int64_t mono)
{
    ok(o, acq(k, at(READY, mono, mono), COORD_ACQUIRED, REASON_NONE, false));
    enum sync_kind h;
    assert_true(oracle_held(o, &h));
    assert_int_equal(h, k);
}

/* ---- the decision table, row by row (COORD-1) ---- */

static void test_COORD_6_row1_force_release_then_acquire(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    hold(&o, KIND_BACKGROUND, 1000);
    struct coord_inputs in = at(READY, 301001, 301001);
    struct coord_obs right =
        forced(acq(KIND_MANUAL, in, COORD_ACQUIRED, REASON_NONE, false), KIND_BACKGROUND, 300001);
    bad(&o, acq(KIND_MANUAL, in, COORD_QUEUED, REASON_NONE, true), "row 11");
    bad(&o, forced(acq(KIND_MANUAL, in, COORD_ACQUIRED, REASON_NONE, false), KIND_MANUAL, 300001),
        "COORD-6");
    bad(&o, forced(acq(KIND_MANUAL, in, COORD_ACQUIRED, REASON_NONE, false), KIND_BACKGROUND, 300000),
        NULL);
    ok(&o, right);
    enum sync_kind h;
    assert_true(oracle_held(&o, &h));
    assert_int_equal(h, KIND_MANUAL);
    assert_false(oracle_pending(&o, NULL));
}

static void test_COORD_6_row1_then_row2_logged_out(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    hold(&o, KIND_MASTER, 0);
    struct world out = {false, true, true};
    struct coord_inputs in = at(READY, 400000, 400000);
    in.session = out.session;
    bad(&o, acq(KIND_MANUAL, in, COORD_REJECTED, REASON_LOGGED_OUT, false), "row 2");
    ok(&o, forced(acq(KIND_MANUAL, in, COORD_REJECTED, REASON_LOGGED_OUT, false), KIND_MASTER, 400000));
    assert_false(oracle_held(&o, NULL));
}

static void test_COORD_1_row2_logged_out(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    struct world out = {false, true, true};
    struct coord_inputs in = at(out, 100000, 100000);
    bad(&o, acq(KIND_MANUAL, in, COORD_REJECTED, REASON_LOGGED_OUT, true), "row 2");
    bad(&o, acq(KIND_MANUAL, in, COORD_ACQUIRED, REASON_NONE, false), "row 2");
    ok(&o, acq(KIND_MANUAL, in, COORD_REJECTED, REASON_LOGGED_OUT, false));
    /* row 2 comes before row 3: logged out and held */
    hold(&o, KIND_BACKGROUND, 100000);
    ok(&o, acq(KIND_INITIAL, at(out, 100001, 100001), COORD_REJECTED, REASON_LOGGED_OUT, false));
    assert_false(oracle_pending(&o, NULL));
}

static void test_COORD_3_row3_initial_busy(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    hold(&o, KIND_MANUAL, 100000);
    struct coord_inputs in = at(READY, 100001, 100001);
    bad(&o, acq(KIND_INITIAL, in, COORD_QUEUED, REASON_NONE, true), "row 3");
    bad(&o, acq(KIND_INITIAL, in, COORD_REJECTED, REASON_BUSY, true), "COORD-3");
    ok(&o, acq(KIND_INITIAL, in, COORD_REJECTED, REASON_BUSY, false));
    assert_false(oracle_pending(&o, NULL));
}

static void test_COORD_2_row4_queued(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    hold(&o, KIND_BACKGROUND, 100000);
    /* held beats offline, gate and cooldown (row 4 before rows 8–10) */
    struct world offline_gate = {true, false, false};
    struct coord_inputs in = at(offline_gate, 100001, 100001);
    bad(&o, acq(KIND_REPOSITORY, in, COORD_REJECTED, REASON_GATE, true), "row 4");
    bad(&o, acq(KIND_REPOSITORY, in, COORD_QUEUED, REASON_NONE, false), "COORD-2");
    ok(&o, acq(KIND_REPOSITORY, in, COORD_QUEUED, REASON_NONE, true));
    enum sync_kind k;
    assert_true(oracle_pending(&o, &k));
    assert_int_equal(k, KIND_REPOSITORY);
}

static void test_COORD_1_row5_initial_done(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    struct world offline = {true, true, false};
    struct coord_inputs in = at(offline, 100000, 100000);
    bad(&o, acq(KIND_INITIAL, in, COORD_REJECTED, REASON_OFFLINE, false), "row 5");
    ok(&o, acq(KIND_INITIAL, in, COORD_REJECTED, REASON_DONE, false));
}

static void test_COORD_1_row6_initial_offline_not_remembered(void **state)
{
    (void)state;
    struct oracle o;
    oracle_init(&o, COOLDOWN, TIMEOUT);
    ok(&o, start_obs(0, false, 0));
    struct world w = {true, false, false};
    struct coord_inputs in = at(w, 10, 10);
    bad(&o, acq(KIND_INITIAL, in, COORD_REJECTED, REASON_OFFLINE, true), "row 6");
    bad(&o, acq(KIND_INITIAL, in, COORD_ACQUIRED, REASON_NONE, false), "row 6");
    ok(&o, acq(KIND_INITIAL, in, COORD_REJECTED, REASON_OFFLINE, false));
    assert_false(oracle_pending(&o, NULL));
}

static void test_COORD_1_row7_initial_acquired(void **state)
{
    (void)state;
    struct oracle o;
    oracle_init(&o, COOLDOWN, TIMEOUT);
    ok(&o, start_obs(0, false, 0));
    struct world w = {true, false, true};
    struct coord_inputs in = at(w, 10, 10);
    bad(&o, acq(KIND_INITIAL, in, COORD_REJECTED, REASON_GATE, true), "row 7");
    ok(&o, acq(KIND_INITIAL, in, COORD_ACQUIRED, REASON_NONE, false));
    enum sync_kind h;
    assert_true(oracle_held(&o, &h));
    assert_int_equal(h, KIND_INITIAL);
}

static void test_COORD_4_row8_gate_remembered(void **state)
{
    (void)state;
    struct oracle o;
    oracle_init(&o, COOLDOWN, TIMEOUT);
    ok(&o, start_obs(0, false, 0));
    struct world w = {true, false, false};    /* gate before offline */
    struct coord_inputs in = at(w, 10, 10);
    bad(&o, acq(KIND_MANUAL, in, COORD_REJECTED, REASON_OFFLINE, true), "row 8");
    bad(&o, acq(KIND_MANUAL, in, COORD_REJECTED, REASON_GATE, false), "COORD-4");
    ok(&o, acq(KIND_MANUAL, in, COORD_REJECTED, REASON_GATE, true));
    enum sync_kind k;
    assert_true(oracle_pending(&o, &k));
    assert_int_equal(k, KIND_MANUAL);
}

static void test_COORD_5_row9_cooldown_remembered(void **state)
{
    (void)state;
    struct oracle o;
    oracle_init(&o, COOLDOWN, TIMEOUT);
    ok(&o, start_obs(0, false, 0));
    ok(&o, done_obs(20000, 20000));
    struct world offline = {true, true, false};   /* cooldown before offline */
    struct coord_inputs in = at(offline, 21000, 21000);
    bad(&o, acq(KIND_BACKGROUND, in, COORD_REJECTED, REASON_OFFLINE, true), "row 9");
    bad(&o, acq(KIND_BACKGROUND, in, COORD_REJECTED, REASON_COOLDOWN, false), "COORD-5");
    ok(&o, acq(KIND_BACKGROUND, in, COORD_REJECTED, REASON_COOLDOWN, true));
    assert_true(oracle_pending(&o, NULL));
}

static void test_COORD_11_row10_offline_remembered(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    struct world offline = {true, true, false};
    struct coord_inputs in = at(offline, 100000, 100000);
    bad(&o, acq(KIND_MASTER, in, COORD_ACQUIRED, REASON_NONE, false), "row 10");
    bad(&o, acq(KIND_MASTER, in, COORD_REJECTED, REASON_OFFLINE, false), "COORD-11");
    ok(&o, acq(KIND_MASTER, in, COORD_REJECTED, REASON_OFFLINE, true));
    enum sync_kind k;
    assert_true(oracle_pending(&o, &k));
    assert_int_equal(k, KIND_MASTER);
}

static void test_COORD_1_row11_acquired(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    struct coord_inputs in = at(READY, 100000, 100000);
    bad(&o, acq(KIND_REPOSITORY, in, COORD_QUEUED, REASON_NONE, true), "row 11");
    bad(&o, acq(KIND_REPOSITORY, in, COORD_ACQUIRED, REASON_NONE, true), "row 11");
    ok(&o, acq(KIND_REPOSITORY, in, COORD_ACQUIRED, REASON_NONE, false));
    assert_true(oracle_held(&o, NULL));
}

/* ---- collapse (COORD-2) ---- */

static void test_COORD_2_collapse_of_five_kinds(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    hold(&o, KIND_BACKGROUND, 100000);
    const enum sync_kind order[] = {KIND_BACKGROUND, KIND_MASTER, KIND_MANUAL, KIND_REPOSITORY,
                                    KIND_BACKGROUND};
    for (int i = 0; i < 5; i++)
        ok(&o, acq(order[i], at(READY, 100001 + i, 100001 + i), COORD_QUEUED, REASON_NONE, true));
    ok(&o, acq(KIND_INITIAL, at(READY, 100010, 100010), COORD_REJECTED, REASON_BUSY, false));
    enum sync_kind k;
    assert_true(oracle_pending(&o, &k));
    assert_int_equal(k, KIND_MANUAL);
    ok(&o, simple(COBS_RELEASE, 100020));
    struct coord_inputs in = at(READY, 100020, 100020);
    bad(&o, poll_obs(in, true, KIND_REPOSITORY), "COORD-2");
    bad(&o, poll_obs(in, false, KIND_BACKGROUND), "COORD-11");
    ok(&o, poll_obs(in, true, KIND_MANUAL));
    assert_false(oracle_pending(&o, NULL));   /* exactly one follow-up */
    ok(&o, simple(COBS_RELEASE, 100030));
    ok(&o, poll_obs(at(READY, 100030, 100030), false, KIND_BACKGROUND));
    bad(&o, poll_obs(at(READY, 100030, 100030), true, KIND_MANUAL), "no follow-up pending");
}

static void test_COORD_2_priority_repository_over_master_over_background(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    struct world offline = {true, true, false};
    ok(&o, acq(KIND_BACKGROUND, at(offline, 1, 100000), COORD_REJECTED, REASON_OFFLINE, true));
    ok(&o, acq(KIND_MASTER, at(offline, 2, 100001), COORD_REJECTED, REASON_OFFLINE, true));
    enum sync_kind k;
    assert_true(oracle_pending(&o, &k));
    assert_int_equal(k, KIND_MASTER);
    ok(&o, acq(KIND_REPOSITORY, at(offline, 3, 100002), COORD_REJECTED, REASON_OFFLINE, true));
    ok(&o, acq(KIND_MASTER, at(offline, 4, 100003), COORD_REJECTED, REASON_OFFLINE, true));
    assert_true(oracle_pending(&o, &k));
    assert_int_equal(k, KIND_REPOSITORY);
}

/* ---- cooldown (COORD-5, "Cooldown clock") ---- */

static void test_COORD_5_boundary_4999_rejected_5000_accepted(void **state)
{
    (void)state;
    struct oracle o;
    oracle_init(&o, COOLDOWN, TIMEOUT);
    ok(&o, start_obs(0, false, 0));
    ok(&o, done_obs(50000, 7000));
    struct coord_inputs in4999 = at(READY, 54999, 11999);
    bad(&o, acq(KIND_MANUAL, in4999, COORD_ACQUIRED, REASON_NONE, false), "row 9");
    ok(&o, acq(KIND_MANUAL, in4999, COORD_REJECTED, REASON_COOLDOWN, true));
    struct coord_inputs in5000 = at(READY, 55000, 12000);
    bad(&o, acq(KIND_MANUAL, in5000, COORD_REJECTED, REASON_COOLDOWN, true), "row 11");
    ok(&o, acq(KIND_MANUAL, in5000, COORD_ACQUIRED, REASON_NONE, false));
}

static void test_COORD_5_wall_backwards_never_stretches_past_cap(void **state)
{
    (void)state;
    struct oracle o;
    oracle_init(&o, COOLDOWN, TIMEOUT);
    ok(&o, start_obs(0, false, 0));
    ok(&o, done_obs(50000, 10000));   /* cap = mono 15000 */
    /* wall jumps back one hour: elapsed negative, still in cooldown until cap */
    ok(&o, acq(KIND_MANUAL, at(READY, 50000 - 3600000, 14999), COORD_REJECTED, REASON_COOLDOWN, true));
    assert_true(oracle_in_cooldown(&o, 50000 - 3600000, 14999));
    assert_false(oracle_in_cooldown(&o, 50000 - 3600000, 15000));
    struct coord_inputs atcap = at(READY, 50000 - 3600000 + 1, 15000);
    bad(&o, poll_obs(atcap, false, KIND_MANUAL), "COORD-11");
    ok(&o, poll_obs(atcap, true, KIND_MANUAL));
}

static void test_COORD_5_wall_forward_ends_cooldown_early(void **state)
{
    (void)state;
    struct oracle o;
    oracle_init(&o, COOLDOWN, TIMEOUT);
    ok(&o, start_obs(0, false, 0));
    ok(&o, done_obs(50000, 10000));
    struct coord_inputs in = at(READY, 55000, 10001);   /* wall +5000, mono +1 */
    bad(&o, acq(KIND_BACKGROUND, in, COORD_REJECTED, REASON_COOLDOWN, true), "row 11");
    ok(&o, acq(KIND_BACKGROUND, in, COORD_ACQUIRED, REASON_NONE, false));
}

static void test_COORD_5_restart_cap_is_start_mono_plus_cooldown(void **state)
{
    (void)state;
    struct oracle o;
    oracle_init(&o, COOLDOWN, TIMEOUT);
    /* completed at wall 100000; crash; restart at mono 0 with wall 101000 */
    ok(&o, start_obs(0, true, 100000));
    ok(&o, acq(KIND_MANUAL, at(READY, 101000, 0), COORD_REJECTED, REASON_COOLDOWN, true));
    /* the cooldown survives the restart in wall time: elapsed 4999 */
    ok(&o, acq(KIND_BACKGROUND, at(READY, 104999, 3999), COORD_REJECTED, REASON_COOLDOWN, true));
    /* wall went back after restart: cap (start mono + 5000) ends it */
    struct coord_inputs in = at(READY, 99000, 5000);
    bad(&o, poll_obs(in, false, KIND_MANUAL), NULL);
    ok(&o, poll_obs(in, true, KIND_MANUAL));

    /* a restart long after completion: no cooldown at all */
    ok(&o, start_obs(0, true, 100000));
    ok(&o, acq(KIND_MANUAL, at(READY, 105000, 0), COORD_ACQUIRED, REASON_NONE, false));
}

static void test_COORD_5_restart_forgets_pending_and_lock(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    hold(&o, KIND_MANUAL, 100000);
    ok(&o, acq(KIND_MASTER, at(READY, 100001, 100001), COORD_QUEUED, REASON_NONE, true));
    ok(&o, start_obs(0, true, -1000000));
    assert_false(oracle_held(&o, NULL));
    assert_false(oracle_pending(&o, NULL));
}

/* ---- lock timeout (COORD-6) ---- */

static void test_COORD_6_timeout_300000_not_stale_300001_stale(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    hold(&o, KIND_REPOSITORY, 1000);
    struct coord_inputs t300000 = at(READY, 301000, 301000);
    bad(&o, forced(acq(KIND_MANUAL, t300000, COORD_ACQUIRED, REASON_NONE, false), KIND_REPOSITORY,
                   300000), "row 4");
    ok(&o, acq(KIND_MANUAL, t300000, COORD_QUEUED, REASON_NONE, true));
    struct coord_inputs t300001 = at(READY, 301001, 301001);
    ok(&o, forced(acq(KIND_BACKGROUND, t300001, COORD_ACQUIRED, REASON_NONE, false),
                  KIND_REPOSITORY, 300001));
    /* the follow-up stays pending until the new holder releases (COORD-6) */
    enum sync_kind k;
    assert_true(oracle_pending(&o, &k));
    assert_int_equal(k, KIND_MANUAL);
    bad(&o, poll_obs(at(READY, 301002, 301002), true, KIND_MANUAL), "lock held");
    ok(&o, simple(COBS_RELEASE, 302000));
    ok(&o, poll_obs(at(READY, 302000, 302000), true, KIND_MANUAL));
}

static void test_COORD_6_progress_keeps_long_sync_alive(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    hold(&o, KIND_MASTER, 0);
    ok(&o, simple(COBS_PROGRESS, 250000));
    ok(&o, simple(COBS_PROGRESS, 550000));
    struct coord_inputs in = at(READY, 850000, 850000);   /* 300000 after last commit */
    bad(&o, forced(acq(KIND_MANUAL, in, COORD_ACQUIRED, REASON_NONE, false), KIND_MASTER, 850000),
        "row 4");
    ok(&o, acq(KIND_MANUAL, in, COORD_QUEUED, REASON_NONE, true));
    /* held_ms counts from acquisition, not from the last commit */
    struct coord_inputs later = at(READY, 850001, 850001);
    bad(&o, forced(acq(KIND_MANUAL, later, COORD_QUEUED, REASON_NONE, true), KIND_MASTER, 300001),
        NULL);
    ok(&o, forced(acq(KIND_MANUAL, later, COORD_ACQUIRED, REASON_NONE, false), KIND_MASTER, 850001));
}

static void test_COORD_6_force_release_without_lock_for_attempt(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    hold(&o, KIND_BACKGROUND, 0);
    ok(&o, acq(KIND_MANUAL, at(READY, 10, 10), COORD_QUEUED, REASON_NONE, true));
    /* the attempt that forces is offline: rejected, remembered; the follow-up
     * waits for COORD-11 */
    struct world offline = {true, true, false};
    struct coord_inputs in = at(offline, 400000, 400000);
    ok(&o, forced(acq(KIND_BACKGROUND, in, COORD_REJECTED, REASON_OFFLINE, true), KIND_BACKGROUND,
                  400000));
    assert_false(oracle_held(&o, NULL));
    ok(&o, poll_obs(at(offline, 400001, 400001), false, KIND_BACKGROUND));
    ok(&o, poll_obs(at(READY, 400002, 400002), true, KIND_MANUAL));
}

static void test_COORD_6_force_on_connectivity_back(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    hold(&o, KIND_MANUAL, 0);
    ok(&o, simple(COBS_FORCE, 300000));           /* not stale yet */
    assert_true(oracle_held(&o, NULL));
    ok(&o, simple(COBS_FORCE, 300001));
    assert_false(oracle_held(&o, NULL));
}

/* ---- follow-up (COORD-11) ---- */

static void test_COORD_11_poll_starts_only_when_all_conditions_hold(void **state)
{
    (void)state;
    struct oracle o;
    oracle_init(&o, COOLDOWN, TIMEOUT);
    ok(&o, start_obs(0, false, 0));
    struct world gate = {true, false, true};
    ok(&o, acq(KIND_REPOSITORY, at(gate, 10, 10), COORD_REJECTED, REASON_GATE, true));
    /* gate closed */
    bad(&o, poll_obs(at(gate, 20, 20), true, KIND_REPOSITORY), "gate");
    ok(&o, poll_obs(at(gate, 20, 20), false, KIND_BACKGROUND));
    /* initial sync runs: lock held */
    ok(&o, acq(KIND_INITIAL, at(gate, 30, 30), COORD_ACQUIRED, REASON_NONE, false));
    bad(&o, poll_obs(at(READY, 40, 40), true, KIND_REPOSITORY), "lock held");
    ok(&o, done_obs(1000, 1000));
    ok(&o, simple(COBS_RELEASE, 1000));
    /* cooldown */
    bad(&o, poll_obs(at(READY, 1000, 1000), true, KIND_REPOSITORY), "cooldown");
    ok(&o, poll_obs(at(READY, 5999, 5999), false, KIND_BACKGROUND));
    /* offline */
    struct world offline = {true, true, false};
    bad(&o, poll_obs(at(offline, 6000, 6000), true, KIND_REPOSITORY), "offline");
    ok(&o, poll_obs(at(offline, 6000, 6000), false, KIND_BACKGROUND));
    /* no session */
    struct world out = {false, true, true};
    bad(&o, poll_obs(at(out, 6001, 6001), true, KIND_REPOSITORY), "no session");
    ok(&o, poll_obs(at(out, 6001, 6001), false, KIND_BACKGROUND));
    /* all hold */
    bad(&o, poll_obs(at(READY, 6002, 6002), false, KIND_BACKGROUND), "COORD-11");
    ok(&o, poll_obs(at(READY, 6002, 6002), true, KIND_REPOSITORY));
    enum sync_kind h;
    assert_true(oracle_held(&o, &h));
    assert_int_equal(h, KIND_REPOSITORY);
    assert_false(oracle_pending(&o, NULL));
}

static void test_COORD_11_discard_on_logout(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    hold(&o, KIND_BACKGROUND, 100000);
    ok(&o, acq(KIND_MANUAL, at(READY, 100001, 100001), COORD_QUEUED, REASON_NONE, true));
    ok(&o, simple(COBS_END, 100002));             /* logout ends the run, COORD-12 */
    assert_false(oracle_held(&o, NULL));
    assert_true(oracle_pending(&o, NULL));        /* END does not touch it */
    ok(&o, simple(COBS_DISCARD, 100002));
    assert_false(oracle_pending(&o, NULL));
    bad(&o, poll_obs(at(READY, 100003, 100003), true, KIND_MANUAL), "no follow-up");
    ok(&o, simple(COBS_END, 100004));             /* no-op when free */
}

/* ---- gate reset (COORD-10) and fencing (COORD-12) ---- */

static void test_COORD_10_reset_closes_gate_and_forgets_cooldown(void **state)
{
    (void)state;
    struct oracle o;
    oracle_init(&o, COOLDOWN, TIMEOUT);
    ok(&o, start_obs(0, false, 0));
    ok(&o, done_obs(1000, 1000));
    ok(&o, simple(COBS_RESET, 1001));
    struct world gate = {true, false, true};
    ok(&o, acq(KIND_MANUAL, at(gate, 1002, 1002), COORD_REJECTED, REASON_GATE, true));
    /* device reports complete again without INITIAL_DONE: no cooldown known */
    ok(&o, poll_obs(at(READY, 1003, 1003), true, KIND_MANUAL));
}

static void test_COORD_12_release_or_progress_without_lock_is_a_mismatch(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    bad(&o, simple(COBS_RELEASE, 10), "COORD-1");
    bad(&o, simple(COBS_PROGRESS, 10), "COORD-12");
    hold(&o, KIND_BACKGROUND, 0);
    ok(&o, forced(acq(KIND_MANUAL, at(READY, 300001, 300001), COORD_ACQUIRED, REASON_NONE, false),
                  KIND_BACKGROUND, 300001));
    ok(&o, simple(COBS_PROGRESS, 300002));        /* the new holder's commit */
    ok(&o, simple(COBS_RELEASE, 300003));
    bad(&o, simple(COBS_RELEASE, 300004), "COORD-12");   /* the fenced run */
}

static void test_COORD_5_initial_done_records_commit_wall_time(void **state)
{
    (void)state;
    struct oracle o;
    oracle_init(&o, COOLDOWN, TIMEOUT);
    ok(&o, start_obs(0, false, 0));
    struct coord_obs d = done_obs(1000, 1000);
    d.completed_wall = 999;
    bad(&o, d, "COORD-5");
}

/* ---- resynchronisation after a mismatch ---- */

static void test_COORD_1_resync_follows_the_implementation(void **state)
{
    (void)state;
    struct oracle o;
    ready(&o);
    struct world offline = {true, true, false};
    char why[512];
    /* the implementation wrongly acquires while offline (row 10) */
    struct coord_obs wrong = acq(KIND_MANUAL, at(offline, 100000, 100000), COORD_ACQUIRED,
                                 REASON_NONE, false);
    assert_int_equal(oracle_check(&o, &wrong, why, sizeof why), 1);
    assert_non_null(strstr(why, "row 10"));
    assert_non_null(strstr(why, "COORD-11"));
    /* the reference now holds as the implementation does */
    enum sync_kind h;
    assert_true(oracle_held(&o, &h));
    assert_int_equal(h, KIND_MANUAL);
    ok(&o, acq(KIND_MASTER, at(READY, 100001, 100001), COORD_QUEUED, REASON_NONE, true));
    /* a wrong POLL start is adopted too */
    ok(&o, simple(COBS_RELEASE, 100002));
    ok(&o, simple(COBS_DISCARD, 100002));
    struct coord_obs p = poll_obs(at(READY, 100003, 100003), true, KIND_BACKGROUND);
    assert_int_equal(oracle_check(&o, &p, why, sizeof why), 1);
    assert_true(oracle_held(&o, &h));
    assert_int_equal(h, KIND_BACKGROUND);
    assert_int_equal(o.mismatches, 2);
    /* NULL why is allowed */
    struct coord_obs w2 = acq(KIND_MANUAL, at(READY, 100004, 100004), COORD_ACQUIRED, REASON_NONE,
                              false);
    assert_int_equal(oracle_check(&o, &w2, NULL, 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_COORD_6_row1_force_release_then_acquire),
        cmocka_unit_test(test_COORD_6_row1_then_row2_logged_out),
        cmocka_unit_test(test_COORD_1_row2_logged_out),
        cmocka_unit_test(test_COORD_3_row3_initial_busy),
        cmocka_unit_test(test_COORD_2_row4_queued),
        cmocka_unit_test(test_COORD_1_row5_initial_done),
        cmocka_unit_test(test_COORD_1_row6_initial_offline_not_remembered),
        cmocka_unit_test(test_COORD_1_row7_initial_acquired),
        cmocka_unit_test(test_COORD_4_row8_gate_remembered),
        cmocka_unit_test(test_COORD_5_row9_cooldown_remembered),
        cmocka_unit_test(test_COORD_11_row10_offline_remembered),
        cmocka_unit_test(test_COORD_1_row11_acquired),
        cmocka_unit_test(test_COORD_2_collapse_of_five_kinds),
        cmocka_unit_test(test_COORD_2_priority_repository_over_master_over_background),
        cmocka_unit_test(test_COORD_5_boundary_4999_rejected_5000_accepted),
        cmocka_unit_test(test_COORD_5_wall_backwards_never_stretches_past_cap),
        cmocka_unit_test(test_COORD_5_wall_forward_ends_cooldown_early),
        cmocka_unit_test(test_COORD_5_restart_cap_is_start_mono_plus_cooldown),
        cmocka_unit_test(test_COORD_5_restart_forgets_pending_and_lock),
        cmocka_unit_test(test_COORD_6_timeout_300000_not_stale_300001_stale),
        cmocka_unit_test(test_COORD_6_progress_keeps_long_sync_alive),
        cmocka_unit_test(test_COORD_6_force_release_without_lock_for_attempt),
        cmocka_unit_test(test_COORD_6_force_on_connectivity_back),
        cmocka_unit_test(test_COORD_11_poll_starts_only_when_all_conditions_hold),
        cmocka_unit_test(test_COORD_11_discard_on_logout),
        cmocka_unit_test(test_COORD_10_reset_closes_gate_and_forgets_cooldown),
        cmocka_unit_test(test_COORD_12_release_or_progress_without_lock_is_a_mismatch),
        cmocka_unit_test(test_COORD_5_initial_done_records_commit_wall_time),
        cmocka_unit_test(test_COORD_1_resync_follows_the_implementation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
