/*
 * test_orch.c — the import orchestrator (SPEC §1.9: ORCH-1 … ORCH-5, and
 * INV-ORCH of §2) and its ERP source, driven through orch.h only.
 *
 * A tiny environment: a manual clock (server wall = T0 + monotonic), the
 * three orchestrator timers kept in an array and fired in deadline order by
 * advance() (as the simulator's heap would), every event recorded, and a
 * driver that records each start_import. Each test gets a fresh in-memory
 * database; a server crash is orch_close + orch_open on the same one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "erp.h"
#include "orch.h"

#define T0 1767225600000LL   /* 2026-01-01T00:00:00Z (SPEC §3): a whole hour */
#define MIN 60000LL
#define MAX_EV 4096
#define MAX_RUNS 1024

struct start { uint64_t id; enum orch_job job; enum orch_mode mode; int64_t since, at; };

struct fx {
    int64_t mono;
    bool armed[ORCH_TIMER_COUNT];
    int64_t at[ORCH_TIMER_COUNT];
    struct event ev[MAX_EV];
    int nev;
    struct start runs[MAX_RUNS];
    int nruns;
    int bad_pick, max_wait_over;     /* INV-ORCH as seen by observe */
    int64_t max_wait;
    struct env env;
    struct orch_driver drv;
    struct config cfg;
    sqlite3 *db;
    struct srv *srv;
    struct erp *erp;
    struct orch *o;
};

static int64_t t_now(void *ctx) { return T0 + ((struct fx *)ctx)->mono; }
static int64_t t_mono(void *ctx) { return ((struct fx *)ctx)->mono; }
static uint64_t t_random(void *ctx) { (void)ctx; static uint64_t c; return ++c * 0x9e3779b97f4a7c15ULL; }

static void t_set_timer(void *ctx, int id, int64_t at)
{
    struct fx *f = ctx;
    assert_true(id >= 0 && id < ORCH_TIMER_COUNT);
    f->armed[id] = true;
    f->at[id] = at < f->mono ? f->mono : at;
}

static void t_cancel_timer(void *ctx, int id) { ((struct fx *)ctx)->armed[id] = false; }

static void t_emit(void *ctx, const struct event *e)
{
    struct fx *f = ctx;
    assert_true(f->nev < MAX_EV);
    f->ev[f->nev++] = *e;
}

static void t_start(void *ctx, uint64_t id, enum orch_job job, enum orch_mode mode, int64_t since)
{
    struct fx *f = ctx;
    assert_true(f->nruns < MAX_RUNS);
    f->runs[f->nruns++] = (struct start){ id, job, mode, since, f->mono };
}

/* INV-ORCH, independently of orch.c's pick: the started entry has the
 * highest base + floor(waited / 5 min), ties to the higher base; no entry
 * waited more than 60 min. */
static void t_observe(void *ctx, const struct orch_obs *obs)
{
    struct fx *f = ctx;
    if (obs->op != ORCH_OBS_START || obs->nqueue == 0)
        return;
    int best = -1;
    int64_t best_p = -1, started_wait = -1;
    for (int i = 0; i < obs->nqueue; i++) {
        const struct orch_entry *e = &obs->queue[i];
        int64_t p = (ORCH_JOB_COUNT - (int)e->job) * 1000 + (obs->mono - e->queued_mono) / (5 * MIN) * 1000
                    + (ORCH_JOB_COUNT - (int)e->job);
        if (p > best_p) { best_p = p; best = i; }
        if (e->job == obs->job) started_wait = obs->mono - e->queued_mono;
    }
    if (obs->queue[best].job != obs->job) f->bad_pick++;
    if (started_wait > f->max_wait) f->max_wait = started_wait;
    if (started_wait > 60 * MIN) f->max_wait_over++;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->env = (struct env){ .ctx = f, .now_ms = t_now, .mono_ms = t_mono, .random = t_random,
                           .set_timer = t_set_timer, .cancel_timer = t_cancel_timer, .emit = t_emit };
    f->drv = (struct orch_driver){ .ctx = f, .start_import = t_start, .observe = t_observe };
    config_default(&f->cfg);
    assert_int_equal(sqlite3_open(":memory:", &f->db), SQLITE_OK);
    char err[256];
    f->o = orch_open(f->db, NULL, NULL, &f->env, &f->cfg, &f->drv, err, sizeof err);
    assert_non_null(f->o);
    assert_int_equal(orch_start(f->o), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    orch_close(f->o);
    if (f->srv) srv_close(f->srv);
    erp_free(f->erp);
    sqlite3_close(f->db);
    free(f);
    return 0;
}

/* Moves the clock to mono + ms, firing due timers in deadline order. */
static void advance(struct fx *f, int64_t ms)
{
    int64_t end = f->mono + ms;
    for (;;) {
        int id = -1;
        for (int i = 0; i < ORCH_TIMER_COUNT; i++)
            if (f->armed[i] && f->at[i] <= end && (id < 0 || f->at[i] < f->at[id])) id = i;
        if (id < 0) break;
        f->mono = f->at[id];
        f->armed[id] = false;
        orch_on_timer(f->o, id);
    }
    f->mono = end;
}

/* The server crashes (memory gone) and restarts later. */
static void crash_restart(struct fx *f, int64_t down_ms)
{
    orch_close(f->o);
    memset(f->armed, 0, sizeof f->armed);
    f->mono += down_ms;
    char err[256];
    f->o = orch_open(f->db, f->srv, f->erp, &f->env, &f->cfg, &f->drv, err, sizeof err);
    assert_non_null(f->o);
    assert_int_equal(orch_start(f->o), 0);
}

static uint64_t last_id(const struct fx *f) { return f->runs[f->nruns - 1].id; }

/* Number of events name with the given job and field (key=val; NULL: any). */
static int count_ev(const struct fx *f, const char *name, const char *job, const char *key,
                    const char *val)
{
    int n = 0;
    for (int i = 0; i < f->nev; i++) {
        const struct event *e = &f->ev[i];
        if (strcmp(e->name, name) != 0) continue;
        if (job && (!ev_get(e, "job") || strcmp(ev_get(e, "job"), job) != 0)) continue;
        if (key && (!ev_get(e, key) || strcmp(ev_get(e, key), val) != 0)) continue;
        n++;
    }
    return n;
}

static const char *last_ev(const struct fx *f, const char *name, const char *job, const char *key)
{
    for (int i = f->nev - 1; i >= 0; i--)
        if (strcmp(f->ev[i].name, name) == 0 && strcmp(ev_get(&f->ev[i], "job"), job) == 0)
            return ev_get(&f->ev[i], key);
    return NULL;
}

/* ---- ORCH-1 ---- */

static void test_orch1_one_run_at_a_time_requests_never_wait(void **state)
{
    struct fx *f = *state;
    assert_int_equal(orch_request(f->o, ORCH_PRICES, ORCH_FULL), ORCH_STARTED);
    assert_int_equal(f->nruns, 1);   /* asked of the driver, not waited for */
    assert_int_equal(orch_request(f->o, ORCH_ORDERS, ORCH_FULL), ORCH_QUEUED);
    assert_int_equal(orch_request(f->o, ORCH_CUSTOMERS, ORCH_FULL), ORCH_QUEUED);
    assert_int_equal(f->nruns, 1);   /* one at a time: nothing else started */
    assert_int_equal(orch_status(f->o, ORCH_PRICES), ORCH_ST_RUNNING);
    assert_int_equal(orch_status(f->o, ORCH_ORDERS), ORCH_ST_QUEUED);
    assert_int_equal(orch_status(f->o, ORCH_PRODUCTS), ORCH_ST_IDLE);
    advance(f, 30000);
    assert_int_equal(orch_import_done(f->o, last_id(f), true), ORCH_DONE_ACCEPTED);
    assert_int_equal(f->nruns, 2);   /* a run's end starts the next at once */
    assert_int_equal(f->runs[1].job, ORCH_ORDERS);
    assert_int_equal(orch_status(f->o, ORCH_PRICES), ORCH_ST_COMPLETED);
}

static void test_orch1_base_priorities(void **state)
{
    struct fx *f = *state;
    assert_int_equal(orch_base_priority(ORCH_ORDERS), 4);
    assert_int_equal(orch_base_priority(ORCH_CUSTOMERS), 3);
    assert_int_equal(orch_base_priority(ORCH_PRODUCTS), 2);
    assert_int_equal(orch_base_priority(ORCH_PRICES), 1);
    orch_request(f->o, ORCH_PRICES, ORCH_FULL);
    orch_request(f->o, ORCH_PRICES, ORCH_FULL);    /* the running job: one more run */
    orch_request(f->o, ORCH_PRODUCTS, ORCH_FULL);
    orch_request(f->o, ORCH_ORDERS, ORCH_FULL);
    orch_request(f->o, ORCH_CUSTOMERS, ORCH_FULL);
    for (int i = 0; i < 4; i++) {
        advance(f, 1000);
        orch_import_done(f->o, last_id(f), true);
    }
    assert_int_equal(f->nruns, 5);
    assert_int_equal(f->runs[1].job, ORCH_ORDERS);
    assert_int_equal(f->runs[2].job, ORCH_CUSTOMERS);
    assert_int_equal(f->runs[3].job, ORCH_PRODUCTS);
    assert_int_equal(f->runs[4].job, ORCH_PRICES);
    assert_int_equal(f->bad_pick, 0);   /* INV-ORCH */
}

/* ---- ORCH-2 ---- */

static void test_orch2_collapse_no_duplicate_entries(void **state)
{
    struct fx *f = *state;
    struct orch_entry q[ORCH_QUEUE_MAX];
    orch_request(f->o, ORCH_ORDERS, ORCH_FULL);
    advance(f, MIN);
    assert_int_equal(orch_request(f->o, ORCH_PRICES, ORCH_INCREMENTAL), ORCH_QUEUED);
    advance(f, MIN);
    for (int i = 0; i < 50; i++)   /* the original design queued every one of these */
        assert_int_equal(orch_request(f->o, ORCH_PRICES, ORCH_INCREMENTAL), ORCH_COLLAPSED);
    assert_int_equal(orch_queue(f->o, q, ORCH_QUEUE_MAX), 1);
    assert_int_equal(q[0].mode, ORCH_INCREMENTAL);
    assert_int_equal(q[0].queued_mono, MIN);     /* keeps its oldest queue time */
    assert_int_equal(orch_request(f->o, ORCH_PRICES, ORCH_FULL), ORCH_COLLAPSED);
    assert_int_equal(orch_request(f->o, ORCH_PRICES, ORCH_INCREMENTAL), ORCH_COLLAPSED);
    assert_int_equal(orch_queue(f->o, q, ORCH_QUEUE_MAX), 1);
    assert_int_equal(q[0].mode, ORCH_FULL);      /* full absorbs incremental */
    assert_int_equal(q[0].queued_mono, MIN);
    assert_int_equal(count_ev(f, "orch.status", "prices", "status", "queued"), 2);  /* incr, then full */
    orch_import_done(f->o, last_id(f), true);
    assert_int_equal(f->nruns, 2);
    assert_int_equal(f->runs[1].mode, ORCH_FULL);
    orch_import_done(f->o, last_id(f), true);
    assert_int_equal(f->nruns, 2);               /* exactly one run for 53 requests */
}

static void test_orch2_running_job_queues_one_more_run(void **state)
{
    struct fx *f = *state;
    orch_request(f->o, ORCH_ORDERS, ORCH_FULL);
    for (int i = 0; i < 5; i++)
        orch_request(f->o, ORCH_ORDERS, ORCH_INCREMENTAL);
    assert_int_equal(orch_status(f->o, ORCH_ORDERS), ORCH_ST_RUNNING);
    advance(f, 30000);
    orch_import_done(f->o, last_id(f), true);
    assert_int_equal(f->nruns, 2);
    assert_int_equal(f->runs[1].job, ORCH_ORDERS);
    assert_int_equal(f->runs[1].mode, ORCH_INCREMENTAL);
    assert_int_equal(f->runs[1].since, T0);      /* the start of the last successful run */
    orch_import_done(f->o, last_id(f), true);
    assert_int_equal(f->nruns, 2);               /* not a third */
    /* every outcome is an event, even with a queued run right behind it */
    assert_int_equal(count_ev(f, "orch.status", "orders", "status", "completed"), 2);
    assert_int_equal(count_ev(f, "orch.status", "orders", "status", "running"), 2);
}

static void test_orch2_incremental_without_success_runs_full(void **state)
{
    struct fx *f = *state;
    orch_request(f->o, ORCH_CUSTOMERS, ORCH_INCREMENTAL);
    assert_int_equal(f->runs[0].mode, ORCH_FULL);
    assert_int_equal(f->runs[0].since, ERP_SINCE_ALL);
    assert_string_equal(last_ev(f, "orch.status", "customers", "mode"), "full");
    orch_import_done(f->o, last_id(f), false);   /* a failure is no success */
    advance(f, 5 * MIN);
    orch_request(f->o, ORCH_CUSTOMERS, ORCH_INCREMENTAL);
    assert_int_equal(f->runs[1].mode, ORCH_FULL);
    advance(f, MIN);
    orch_import_done(f->o, last_id(f), true);
    advance(f, 10 * MIN);
    orch_request(f->o, ORCH_CUSTOMERS, ORCH_INCREMENTAL);
    assert_int_equal(f->runs[2].mode, ORCH_INCREMENTAL);
    assert_int_equal(f->runs[2].since, T0 + 5 * MIN);   /* start, not end, of that run */
}

static int writes_seen;
static void on_commit(void *arg, const char *user, const char *op_id, const struct push_item *item,
                      const struct row *written, enum push_outcome outcome)
{
    (void)arg, (void)user, (void)op_id, (void)outcome;
    assert_null(item);
    assert_string_equal(written->st.by, "erp");
    writes_seen++;
}

/* ORCH-2 with a real server: full = every ERP row, incremental = rows
 * changed since the last successful run's start; undeclared → nothing. */
static void test_orch2_full_and_incremental_import(void **state)
{
    struct fx *f = *state;
    char err[256];
    orch_close(f->o);
    f->srv = srv_open(f->db, &f->env, &f->cfg, err, sizeof err);
    assert_non_null(f->srv);
    struct table_decl t = { .name = "orders", .strategy = STRAT_LWW };
    assert_int_equal(srv_declare_table(f->srv, &t), 0);
    assert_int_equal(srv_seed_rows(f->srv, "alice", "orders", 3), 0);
    assert_int_equal(srv_seed_rows(f->srv, "bob", "orders", 3), 0);
    f->erp = erp_new();
    assert_int_equal(erp_seed(f->erp, "orders", 3, T0), 0);
    f->o = orch_open(f->db, f->srv, f->erp, &f->env, &f->cfg, &f->drv, err, sizeof err);
    assert_non_null(f->o);
    srv_set_observer(f->srv, on_commit, NULL);
    writes_seen = 0;
    advance(f, MIN);
    orch_request(f->o, ORCH_ORDERS, ORCH_INCREMENTAL);        /* no success yet: full */
    advance(f, 30000);
    orch_import_done(f->o, last_id(f), true);
    assert_int_equal(writes_seen, 6);                         /* 3 rows × 2 users */
    advance(f, MIN);
    const char *nm[] = { "qty" }, *v[] = { "7" };
    assert_int_equal(erp_write(f->erp, "orders", "orders-2", 1, nm, v, T0 + 3 * MIN), 0);
    assert_int_equal(erp_write(f->erp, "orders", "o-new", 1, nm, v, T0 + 3 * MIN), 0);
    advance(f, 2 * MIN);
    writes_seen = 0;
    orch_request(f->o, ORCH_ORDERS, ORCH_INCREMENTAL);
    orch_import_done(f->o, last_id(f), true);
    assert_int_equal(writes_seen, 4);                         /* 2 changed rows × 2 users */
    struct row r = {0};
    assert_int_equal(srv_get_row(f->srv, "bob", "orders", "orders-2", &r), 1);
    assert_string_equal(row_get(&r, "qty"), "7");
    assert_string_equal(row_get(&r, "name"), "orders-2");
    row_free(&r);
    writes_seen = 0;
    orch_request(f->o, ORCH_ORDERS, ORCH_FULL);
    orch_import_done(f->o, last_id(f), true);
    assert_int_equal(writes_seen, 8);                         /* every ERP row: 4 × 2 */
    writes_seen = 0;
    orch_request(f->o, ORCH_PRICES, ORCH_FULL);               /* table not declared */
    assert_int_equal(erp_write(f->erp, "prices", "p1", 1, nm, v, T0), 0);
    orch_import_done(f->o, last_id(f), true);
    assert_int_equal(writes_seen, 0);
    assert_int_equal(orch_status(f->o, ORCH_PRICES), ORCH_ST_COMPLETED);
}

static void test_erp_source(void **state)
{
    (void)state;
    struct erp *e = erp_new();
    assert_non_null(e);
    assert_int_equal(erp_seed(e, "products", 1200, 0), 0);
    assert_int_equal(erp_count(e, "products", ERP_SINCE_ALL), 1200);
    assert_int_equal(erp_count(e, "products", 1), 0);
    const char *nm[] = { "price" }, *v[] = { "9" };
    assert_int_equal(erp_write(e, "products", "products-7", 1, nm, v, 50), 0);
    assert_int_equal(erp_write(e, "products", "products-07", 1, nm, v, 60), 0);  /* not generated */
    assert_int_equal(erp_count(e, "products", ERP_SINCE_ALL), 1201);
    assert_int_equal(erp_count(e, "products", 50), 2);
    assert_int_equal(erp_count(e, "products", 51), 1);
    assert_int_equal(erp_count(e, "nothing", ERP_SINCE_ALL), 0);
    erp_free(e);
}

/* ---- ORCH-3 ---- */

static void test_orch3_aging_and_ties(void **state)
{
    (void)state;
    struct orch_entry prices = { .job = ORCH_PRICES, .queued_mono = 0 };
    assert_int_equal(orch_effective_priority(&prices, 5 * MIN - 1), 1);
    assert_int_equal(orch_effective_priority(&prices, 5 * MIN), 2);   /* whole minutes / 5 */
    assert_int_equal(orch_effective_priority(&prices, 15 * MIN), 4);
    assert_int_equal(orch_effective_priority(&prices, 60 * MIN), 13);
    struct fx *f = *state;
    char err[256];
    orch_close(f->o);                   /* runs slower than 10 min: a longer orch_timeout */
    f->cfg.orch_timeout_ms = 60 * MIN;
    f->o = orch_open(f->db, NULL, NULL, &f->env, &f->cfg, &f->drv, err, sizeof err);
    assert_non_null(f->o);
    /* prices waited 15 min (1 + 3 = 4) vs a fresh orders entry (4): tie → orders */
    orch_request(f->o, ORCH_CUSTOMERS, ORCH_FULL);
    orch_request(f->o, ORCH_PRICES, ORCH_FULL);
    advance(f, 15 * MIN);
    orch_request(f->o, ORCH_ORDERS, ORCH_FULL);
    orch_import_done(f->o, last_id(f), true);
    assert_int_equal(f->runs[1].job, ORCH_ORDERS);
    /* at 20 min prices is 5 > a fresh orders' 4 */
    advance(f, 5 * MIN);
    orch_request(f->o, ORCH_ORDERS, ORCH_FULL);
    orch_import_done(f->o, last_id(f), true);
    assert_int_equal(f->runs[2].job, ORCH_PRICES);
    assert_int_equal(f->bad_pick, 0);
}

/* No starvation (ORCH-3, INV-ORCH): a constant stream of orders requests,
 * every run as slow as allowed (done at exactly orch_timeout), the other
 * jobs requested again as soon as they start: every entry starts within
 * 60 min of being queued, each start is the highest effective priority. */
static void test_orch3_no_starvation_inv_orch(void **state)
{
    struct fx *f = *state;
    orch_request(f->o, ORCH_ORDERS, ORCH_FULL);
    int seen[ORCH_JOB_COUNT] = {0};
    for (int minute = 0; minute < 24 * 60; minute++) {
        orch_request(f->o, ORCH_ORDERS, ORCH_INCREMENTAL);
        for (int j = 1; j < ORCH_JOB_COUNT; j++)
            orch_request(f->o, (enum orch_job)j, ORCH_INCREMENTAL);
        advance(f, MIN);
        uint64_t id;
        int64_t started;
        if (orch_running(f->o, &id, NULL, &started) && f->mono - started >= f->cfg.orch_timeout_ms)
            assert_int_equal(orch_import_done(f->o, id, true), ORCH_DONE_ACCEPTED);
    }
    for (int i = 0; i < f->nruns; i++) seen[f->runs[i].job]++;
    for (int j = 0; j < ORCH_JOB_COUNT; j++) assert_true(seen[j] >= 20);
    assert_int_equal(f->bad_pick, 0);
    assert_int_equal(f->max_wait_over, 0);
    assert_true(f->max_wait <= 60 * MIN);
    assert_true(f->max_wait >= 30 * MIN);   /* the test did push the bound */
}

static void test_orch3_schedule_stagger(void **state)
{
    struct fx *f = *state;
    assert_int_equal(orch_set_schedule(f->o, true), 0);
    for (int i = 0; i < 8; i++) {           /* two hours of slots, each run 30 s */
        advance(f, (i == 0 ? 0 : 15 * MIN - 30000));
        assert_int_equal(f->nruns, i + 1);
        assert_int_equal(f->runs[i].job, (enum orch_job)(i % 4));   /* :00 :15 :30 :45 */
        assert_int_equal(f->runs[i].at, i * 15 * MIN);
        assert_int_equal(f->runs[i].mode, i < 4 ? ORCH_FULL : ORCH_INCREMENTAL);
        advance(f, 30000);
        orch_import_done(f->o, last_id(f), true);
    }
    assert_int_equal(orch_slot_job(T0 + 45 * MIN), ORCH_PRICES);
    assert_int_equal(orch_set_schedule(f->o, false), 0);
    advance(f, 3 * 60 * MIN);
    assert_int_equal(f->nruns, 8);          /* off: no slots */
}

static void test_orch3_slot_skipped_while_server_down(void **state)
{
    struct fx *f = *state;
    orch_set_schedule(f->o, true);
    advance(f, 30000);
    orch_import_done(f->o, last_id(f), true);   /* orders at :00 */
    advance(f, 10 * MIN);
    crash_restart(f, 10 * MIN);                  /* down :10:30 … :20:30 (customers' :15) */
    assert_true(orch_schedule_on(f->o));         /* the switch survives */
    advance(f, 15 * MIN);
    assert_int_equal(f->nruns, 2);
    assert_int_equal(f->runs[1].job, ORCH_PRODUCTS);
    assert_int_equal(f->runs[1].at, 30 * MIN);
}

/* ---- ORCH-4 ---- */

static void test_orch4_timeout_boundary(void **state)
{
    struct fx *f = *state;
    orch_request(f->o, ORCH_ORDERS, ORCH_FULL);
    advance(f, 600000);                          /* ≤ orch_timeout: not failed */
    assert_int_equal(orch_status(f->o, ORCH_ORDERS), ORCH_ST_RUNNING);
    assert_int_equal(orch_import_done(f->o, last_id(f), true), ORCH_DONE_ACCEPTED);
    assert_int_equal(orch_status(f->o, ORCH_ORDERS), ORCH_ST_COMPLETED);
    orch_request(f->o, ORCH_PRODUCTS, ORCH_FULL);
    orch_request(f->o, ORCH_PRICES, ORCH_FULL);
    advance(f, 600001);                          /* > orch_timeout: failed by the timer */
    assert_int_equal(count_ev(f, "orch.status", "products", "reason", "timeout"), 1);
    assert_int_equal(orch_status(f->o, ORCH_PRODUCTS), ORCH_ST_ERROR);
    assert_int_equal(orch_import_done(f->o, f->runs[1].id, true), ORCH_DONE_IGNORED);  /* late */
    assert_int_equal(orch_status(f->o, ORCH_PRODUCTS), ORCH_ST_ERROR);
    assert_int_equal(f->runs[2].job, ORCH_PRICES);   /* the end started the next */
    f->mono += 600001;                               /* a result in the same ms as the timer */
    assert_int_equal(orch_import_done(f->o, last_id(f), true), ORCH_DONE_TIMED_OUT);
    assert_int_equal(count_ev(f, "orch.status", "prices", "reason", "timeout"), 1);
    assert_int_equal(f->nruns, 3);                   /* failed runs are not retried */
}

static void test_orch4_failed_run_not_retried(void **state)
{
    struct fx *f = *state;
    orch_request(f->o, ORCH_CUSTOMERS, ORCH_FULL);
    assert_int_equal(orch_import_done(f->o, last_id(f), false), ORCH_DONE_ACCEPTED);
    assert_string_equal(last_ev(f, "orch.status", "customers", "reason"), "erp");
    advance(f, 5 * 60 * MIN);
    assert_int_equal(f->nruns, 1);
    /* a fallback that calls again after a successful call (the original bug)
     * finds no run: its result is ignored and nothing runs twice */
    orch_request(f->o, ORCH_ORDERS, ORCH_FULL);
    uint64_t id = last_id(f);
    assert_int_equal(orch_import_done(f->o, id, true), ORCH_DONE_ACCEPTED);
    assert_int_equal(orch_import_done(f->o, id, true), ORCH_DONE_IGNORED);
    assert_int_equal(orch_import_done(f->o, id, false), ORCH_DONE_IGNORED);
    assert_int_equal(count_ev(f, "orch.status", "orders", "status", "completed"), 1);
    assert_int_equal(count_ev(f, "orch.status", "orders", "status", "error"), 0);
}

static void test_orch4_server_crash(void **state)
{
    struct fx *f = *state;
    orch_request(f->o, ORCH_PRODUCTS, ORCH_FULL);
    orch_request(f->o, ORCH_ORDERS, ORCH_FULL);
    uint64_t lost = last_id(f);
    crash_restart(f, 2 * MIN);
    assert_int_equal(count_ev(f, "orch.status", "products", "reason", "server_crash"), 1);
    assert_int_equal(orch_status(f->o, ORCH_PRODUCTS), ORCH_ST_ERROR);
    assert_int_equal(orch_status(f->o, ORCH_ORDERS), ORCH_ST_IDLE);   /* the queue is lost */
    assert_false(orch_running(f->o, NULL, NULL, NULL));
    assert_int_equal(orch_import_done(f->o, lost, true), ORCH_DONE_IGNORED);
    advance(f, 3 * 60 * MIN);
    assert_int_equal(f->nruns, 1);                    /* not retried */
    orch_request(f->o, ORCH_PRODUCTS, ORCH_FULL);
    assert_true(last_id(f) > lost);                   /* ids never repeat across crashes */
    crash_restart(f, MIN);
    crash_restart(f, MIN);                            /* recorded once, not at every start */
    assert_int_equal(count_ev(f, "orch.status", "products", "reason", "server_crash"), 2);
}

/* ---- ORCH-5 ---- */

static void test_orch5_status_events(void **state)
{
    struct fx *f = *state;
    orch_request(f->o, ORCH_ORDERS, ORCH_FULL);
    orch_request(f->o, ORCH_CUSTOMERS, ORCH_INCREMENTAL);
    orch_request(f->o, ORCH_CUSTOMERS, ORCH_INCREMENTAL);   /* no change: no event */
    orch_import_done(f->o, last_id(f), true);
    orch_import_done(f->o, last_id(f), false);
    const char *want[][4] = {
        { "orders", "running", "full", NULL },
        { "customers", "queued", "incremental", NULL },
        { "orders", "completed", "full", NULL },
        { "customers", "running", "full", NULL },
        { "customers", "error", "full", "erp" },
    };
    assert_int_equal(count_ev(f, "orch.status", NULL, NULL, NULL), 5);
    for (int i = 0, k = 0; i < f->nev; i++) {
        if (strcmp(f->ev[i].name, "orch.status") != 0) continue;
        assert_string_equal(ev_get(&f->ev[i], "job"), want[k][0]);
        assert_string_equal(ev_get(&f->ev[i], "status"), want[k][1]);
        assert_string_equal(ev_get(&f->ev[i], "mode"), want[k][2]);
        if (want[k][3]) assert_string_equal(ev_get(&f->ev[i], "reason"), want[k][3]);
        else assert_null(ev_get(&f->ev[i], "reason"));
        k++;
    }
    assert_int_equal(orch_status(f->o, ORCH_PRICES), ORCH_ST_IDLE);
}

static void test_orch5_health_three_failures(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 3; i++) {
        assert_true(orch_healthy(f->o, ORCH_PRICES));
        orch_request(f->o, ORCH_PRICES, ORCH_FULL);
        advance(f, MIN);
        orch_import_done(f->o, last_id(f), false);
    }
    assert_false(orch_healthy(f->o, ORCH_PRICES));
    assert_int_equal(count_ev(f, "orch.health", "prices", "healthy", "false"), 1);
    orch_request(f->o, ORCH_PRICES, ORCH_FULL);
    orch_import_done(f->o, last_id(f), false);        /* still unhealthy: no event */
    assert_int_equal(count_ev(f, "orch.health", "prices", NULL, NULL), 1);
    crash_restart(f, MIN);                            /* persisted: no event at start */
    assert_false(orch_healthy(f->o, ORCH_PRICES));
    orch_request(f->o, ORCH_PRICES, ORCH_FULL);
    orch_import_done(f->o, last_id(f), true);         /* any success restores it */
    assert_true(orch_healthy(f->o, ORCH_PRICES));
    assert_int_equal(count_ev(f, "orch.health", "prices", "healthy", "true"), 1);
    assert_int_equal(count_ev(f, "orch.health", "orders", NULL, NULL), 0);
}

static void test_orch5_health_two_hours(void **state)
{
    struct fx *f = *state;
    advance(f, 30 * MIN);
    orch_request(f->o, ORCH_ORDERS, ORCH_FULL);
    advance(f, MIN);
    orch_import_done(f->o, last_id(f), true);         /* orders: success at 0:31 */
    advance(f, 120 * MIN - 31 * MIN);                 /* 2:00 exactly since server start */
    assert_int_equal(count_ev(f, "orch.health", NULL, NULL, NULL), 0);
    advance(f, 1);                                    /* > 2 h: unhealthy, all but orders */
    assert_int_equal(count_ev(f, "orch.health", NULL, "healthy", "false"), 3);
    assert_true(orch_healthy(f->o, ORCH_ORDERS));
    advance(f, 31 * MIN - 1);                         /* orders: 2 h since its success */
    assert_true(orch_healthy(f->o, ORCH_ORDERS));
    advance(f, 1);
    assert_false(orch_healthy(f->o, ORCH_ORDERS));
    crash_restart(f, MIN);                            /* a restart restores nothing */
    assert_false(orch_healthy(f->o, ORCH_CUSTOMERS));
    orch_request(f->o, ORCH_CUSTOMERS, ORCH_FULL);
    orch_import_done(f->o, last_id(f), true);
    assert_true(orch_healthy(f->o, ORCH_CUSTOMERS));
    assert_int_equal(count_ev(f, "orch.health", NULL, "healthy", "true"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_orch1_one_run_at_a_time_requests_never_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch1_base_priorities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch2_collapse_no_duplicate_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch2_running_job_queues_one_more_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch2_incremental_without_success_runs_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch2_full_and_incremental_import, setup, teardown),
        cmocka_unit_test(test_erp_source),
        cmocka_unit_test_setup_teardown(test_orch3_aging_and_ties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch3_no_starvation_inv_orch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch3_schedule_stagger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch3_slot_skipped_while_server_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch4_timeout_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch4_failed_run_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch4_server_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch5_status_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch5_health_three_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orch5_health_two_hours, setup, teardown),
    };
    return cmocka_run_group_tests(tests, 0, NULL);
}
