/*
 * coordinator.c — fuzz harness: the coordinator + outbox state machine
 * against the reference model (SPEC §5, §1.2, §1.3).
 *
 * The input's first byte picks the driver:
 *   even: DEVICE mode — the real device engine (model/device.h) on an
 *         in-memory SQLite database, driven by a byte-decoded sequence of
 *         operations: acquires of each kind, app writes and deletes, time
 *         steps and timer firings (debounce, retry, cooldown, periodic,
 *         request timeout, breaker), hand-built server responses (push ack
 *         applied / stale / conflict / rejected, pull and initial pages,
 *         5xx / 429 / 401 / 400, wrong type, late, duplicated, garbage),
 *         connectivity, login / logout / cancel-initial, requeue, resolve,
 *         migration, wall-clock jumps and crash + restart on the same
 *         database;
 *   odd:  DIRECT mode — coord_* called straight from the bytes (fast, every
 *         corner of the decision table and the cooldown clock).
 * Every decision goes through env->observe to oracle_check (sim/oracle.c,
 * written from SPEC alone); a disagreement aborts with the reference's
 * explanation and the last operations. On top, the harness checks the
 * coordinator-level invariants itself (INV-MUTEX, INV-GATE, INV-COOLDOWN,
 * INV-COLLAPSE, INV-TIMEOUT, INV-STALE / COORD-7, COORD-12 fencing,
 * INV-DURABLE).
 *
 * Speed: one connection for the process, the schema created once, the
 * tables emptied per input by statements prepared once; the per-operation
 * checks read the device's state directly (device_int.h: white-box, no
 * SQL). See fuzz/README.md.
 *
 * FUZZ_SCN=FILE (replay binary only): also writes the input as an
 * equivalent scenario (SPEC §4) — fuzz/triage uses it.
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "coord.h"
#include "device.h"
#include "device_int.h"   /* white-box: the per-operation checks read the state without SQL */
#include "env.h"
#include "event.h"
#include "oracle.h"
#include "row.h"
#include "store.h"
#include "wire.h"

#include "fuzz.h"

#define MAX_OPS 400               /* operations per input (no hangs) */
/* Timer firings per input. One time step of an hour fires the periodic
 * job, retries and breaker probes hundreds of times (a run each); without
 * a bound a few such inputs took most of the fuzzer's time (fuzz/README.md
 * "Speed"). When it is spent, the input ends there, checks included. */
#ifndef MAX_TIMERS
#define MAX_TIMERS 128
#endif
#define MAX_WRITES 512            /* acknowledged writes tracked (INV-DURABLE) */
#define LOG_LINES 48              /* operations kept for the failure message */
#define HIST 4                    /* earlier requests kept (late answers) */
#define WALL0 1767225600000LL     /* 2026-01-01T00:00:00Z (SPEC §3) */

static const char *const TABLES[] = {"customers", "orders", "products"};
static const char *const IDS[] = {"r0", "r1", "r2", "r3"};
static const char *const USERS[] = {"alice", "bob"};
static const char *const KINDS[] = {"initial", "manual", "background", "repository", "master"};

/* ---- harness state (all of it reset per input) ---- */

struct req_info {
    bool valid;
    uint64_t req_id;
    enum wire_type type;
    char table[NAME_MAX_LEN + 1];
    uint64_t cursor, after;
    int nitems;
    char (*ops)[OP_ID_MAX + 1];   /* op ids of a push (cap OUT_PUSH_BATCH) */
};

struct written {
    char op[OP_ID_MAX + 1];
    bool acked;
};

struct h {
    struct env env;
    struct config cfg;
    sqlite3 *db;
    struct device *dev;
    struct oracle o;

    int64_t wall, mono;
    uint64_t rng;
    bool timer_set[DT_COUNT];
    int64_t timer_at[DT_COUNT];

    struct req_info req;            /* the last request sent */
    bool inflight;                  /* ... and not answered yet */
    struct req_info hist[HIST];     /* earlier ones: late answers (RUN-6, COORD-12) */
    uint8_t *last_resp;             /* for duplicated delivery */
    size_t last_resp_len;
    uint64_t srv_seq;

    /* event-side view of the lock (does not trust the device's memory) */
    bool ev_hold;
    int64_t ev_progress;
    bool gate_open;                 /* initial sync complete, by events */
    bool comp_known;                /* cooldown reference, by events */
    int64_t comp_wall, comp_cap;
    bool stale_cleared;
    int migrations;

    struct written w[MAX_WRITES];
    int nw;

    char log[LOG_LINES][128];
    int nlog;
    int nops;
    int ntimers;                    /* fired so far (MAX_TIMERS) */
    FILE *scn;                      /* FUZZ_SCN output */
    int64_t scn_t;                  /* ms of the last timed scenario line */
};

static struct h H;
static bool trace;                  /* FUZZ_TRACE=1: every operation and event on stderr */
static const char *dump_dir;        /* FUZZ_DUMP_WIRE=DIR: every frame into DIR (wire seeds) */

static void dump(const char *kind, const uint8_t *p, size_t n)
{
    static int k;
    if (!dump_dir || k >= 64) return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s-%02d", dump_dir, kind, k++);
    FILE *f = fopen(path, "wb");
    if (f) { fwrite(p, 1, n, f); fclose(f); }
}

/* ---- failure reporting ---- */

__attribute__((format(printf, 1, 2)))
/* Under afl-fuzz nobody reads a crash's stderr (fuzz/triage replays it with
 * the replay binary, which logs), and formatting every operation was a
 * twentieth of an execution: the AFL build keeps only the count. */
#ifdef __AFL_FUZZ_TESTCASE_LEN
#define HLOG_ON trace
#else
#define HLOG_ON true
#endif

__attribute__((format(printf, 1, 2)))
static void hlog(const char *fmt, ...)
{
    if (!HLOG_ON) { H.nlog++; return; }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(H.log[H.nlog % LOG_LINES], sizeof H.log[0], fmt, ap);
    va_end(ap);
    if (trace) fprintf(stderr, "  op %s\n", H.log[H.nlog % LOG_LINES]);
    H.nlog++;
}

__attribute__((format(printf, 2, 3), noreturn))
static void fail(const char *inv, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!HLOG_ON) {
        fprintf(stderr, "coordinator: after %d operations (replay the input with the .replay "
                "binary for their log)\n", H.nlog);
    } else {
        fprintf(stderr, "coordinator: last operations (oldest first):\n");
        int from = H.nlog > LOG_LINES ? H.nlog - LOG_LINES : 0;
        for (int i = from; i < H.nlog; i++)
            fprintf(stderr, "  #%d %s\n", i, H.log[i % LOG_LINES]);
    }
    fprintf(stderr, "  at wall=%" PRId64 " mono=%" PRId64 "\n", H.wall, H.mono);
    fuzz_fail(inv, "%s", msg);
}

/* ---- scenario output (fuzz/triage) ---- */

__attribute__((format(printf, 1, 2)))
static void scn(const char *fmt, ...)
{
    if (!H.scn) return;
    /* `at T` of the scenario is the harness's mono time since the start,
     * accumulated across crashes (mono restarts, scenario time does not). */
    fprintf(H.scn, "at %" PRId64 "ms ", H.scn_t);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(H.scn, fmt, ap);
    va_end(ap);
    fputc('\n', H.scn);
}

/* ---- env ---- */

static int64_t e_now(void *c) { (void)c; return H.wall; }
static int64_t e_mono(void *c) { (void)c; return H.mono; }
static uint64_t e_random(void *c)
{
    (void)c;
    H.rng ^= H.rng << 13;
    H.rng ^= H.rng >> 7;
    H.rng ^= H.rng << 17;
    return H.rng;
}
static void e_set_timer(void *c, int id, int64_t at)
{
    (void)c;
    if (id < 0 || id >= DT_COUNT) fail("ENV", "set_timer with unknown id %d", id);
    H.timer_set[id] = true;
    H.timer_at[id] = at;
}
static void e_cancel_timer(void *c, int id)
{
    (void)c;
    if (id < 0 || id >= DT_COUNT) fail("ENV", "cancel_timer with unknown id %d", id);
    H.timer_set[id] = false;
}

static void req_clear(struct req_info *r)
{
    char (*ops)[OP_ID_MAX + 1] = r->ops;
    memset(r, 0, sizeof *r);
    r->ops = ops;
}

static void e_send(void *c, const uint8_t *msg, size_t len)
{
    (void)c;
    struct wire_msg m;
    struct wire_err err;
    dump("req", msg, len);
    if (wire_decode(msg, len, &m, &err) != 0)
        fail("WIRE", "the device sent a request that does not decode: %s at byte %zu", err.what, err.offset);
    if (m.type != WIRE_PUSH_REQ && m.type != WIRE_PULL_REQ && m.type != WIRE_PAGE_REQ)
        fail("WIRE", "the device sent a message of type %d", (int)m.type);
    if (m.type == WIRE_PUSH_REQ && (m.nitems < 1 || m.nitems > H.cfg.push_batch))
        fail("OUT-1", "push of %d items (batch limit %d)", m.nitems, H.cfg.push_batch);
    /* one request in flight per device: the previous one (answered or
     * not) can now only arrive late; keep it for late answers */
    char (*spare)[OP_ID_MAX + 1] = H.hist[HIST - 1].ops;
    for (int i = HIST - 1; i > 0; i--) H.hist[i] = H.hist[i - 1];
    H.hist[0] = H.req;
    H.req.ops = spare;
    req_clear(&H.req);
    H.req.valid = true;
    H.inflight = true;
    H.req.req_id = m.req_id;
    H.req.type = m.type;
    str_copy(H.req.table, sizeof H.req.table, m.table);
    H.req.cursor = m.cursor;
    H.req.after = m.after_seq;
    H.req.nitems = m.nitems < OUT_PUSH_BATCH ? m.nitems : OUT_PUSH_BATCH;
    for (int i = 0; i < H.req.nitems; i++)
        str_copy(H.req.ops[i], OP_ID_MAX + 1, m.items[i].op_id);
    wire_msg_free(&m);
}

static bool is(const struct event *e, const char *n) { return strcmp(e->name, n) == 0; }

static bool h_in_cooldown(void)
{
    return H.comp_known && H.wall - H.comp_wall < H.cfg.cooldown_ms && H.mono < H.comp_cap;
}

/* The event stream, checked on its own (sim/check.c does the same for the
 * world): who holds the lock, progress, fencing. */
static void e_emit(void *c, const struct event *e)
{
    (void)c;
    if (trace) {
        char buf[256];
        ev_format(e, buf, sizeof buf);
        fprintf(stderr, "    ev %s\n", buf);
    }
    const char *kind = ev_get(e, "kind");
    if (is(e, "lock.acquired")) {
        if (H.ev_hold) fail("INV-MUTEX", "lock.acquired kind=%s while the lock was already held", kind);
        H.ev_hold = true;
        H.ev_progress = H.mono;
        bool initial = kind && strcmp(kind, "initial") == 0;
        if (!initial && !H.gate_open)
            fail("INV-GATE", "lock.acquired kind=%s before initial sync completed (COORD-4)", kind);
        if (!initial && h_in_cooldown())
            fail("INV-COOLDOWN", "lock.acquired kind=%s %" PRId64 " ms (wall) after initial sync "
                 "completed, cap at mono %" PRId64 " (COORD-5)", kind, H.wall - H.comp_wall, H.comp_cap);
    } else if (is(e, "lock.released")) {
        if (!H.ev_hold) fail("COORD-8", "lock.released kind=%s while no lock was held", kind);
        H.ev_hold = false;
    } else if (is(e, "lock.force_released")) {
        if (!H.ev_hold) fail("COORD-6", "lock.force_released while no lock was held");
        if (H.mono - H.ev_progress <= H.cfg.lock_timeout_ms)
            fail("INV-TIMEOUT", "force-release after only %" PRId64 " ms without progress (lock_timeout %" PRId64 ")",
                 H.mono - H.ev_progress, H.cfg.lock_timeout_ms);
        H.ev_hold = false;
    } else if (is(e, "lock.queued") || (is(e, "lock.rejected") && ev_get(e, "reason")
                                        && strcmp(ev_get(e, "reason"), "busy") == 0)) {
        if (!H.ev_hold) fail("COORD-2", "%s kind=%s while no lock was held", e->name, kind);
        if (H.mono - H.ev_progress > H.cfg.lock_timeout_ms)
            fail("INV-TIMEOUT", "a lock without progress for %" PRId64 " ms blocked a %s request",
                 H.mono - H.ev_progress, kind);
    } else if (is(e, "sync.push_acked") || is(e, "sync.pull_page") || is(e, "initial.page")) {
        if (!H.ev_hold) fail("COORD-12", "%s committed by a run that does not hold the lock", e->name);
        H.ev_progress = H.mono;
    } else if (is(e, "sync.started")) {
        if (!H.ev_hold) fail("INV-MUTEX", "sync.started kind=%s without the lock", kind);
        if (kind && strcmp(kind, "initial") != 0 && !H.gate_open)
            fail("INV-GATE", "%s sync started before initial sync completed", kind);
    } else if (is(e, "initial.completed")) {
        H.gate_open = true;
        H.comp_known = true;
        H.comp_wall = H.wall;
        H.comp_cap = H.mono + H.cfg.cooldown_ms;
    } else if (is(e, "auth.logged_out")) {
        H.gate_open = false;
        H.comp_known = false;
    } else if (is(e, "lock.stale_cleared")) {
        H.stale_cleared = true;
    }
}

static void e_observe(void *c, const struct coord_obs *obs)
{
    (void)c;
    char why[600];
    if (oracle_check(&H.o, obs, why, sizeof why) != 0)
        fail("ORACLE", "coordinator disagrees with the reference model: %s", why);
    /* gate and cooldown never violated on acquire (INV-GATE, INV-COOLDOWN),
     * checked against the reference's view too */
    bool acquired = (obs->op == COBS_ACQUIRE && obs->res.answer == COORD_ACQUIRED) ||
                    (obs->op == COBS_POLL && obs->started);
    if (acquired && obs->kind != KIND_INITIAL) {
        if (!obs->in.initial_complete) fail("INV-GATE", "%s acquired with the gate closed", KINDS[obs->kind]);
        if (!obs->in.session) fail("COORD-1", "%s acquired without a session", KINDS[obs->kind]);
        if (!obs->in.online) fail("COORD-1", "%s acquired while offline", KINDS[obs->kind]);
    }
    /* (INV-TIMEOUT is checked on lock.force_released, which comes first) */
}

/* ---- database reset ----
 *
 * The hot path (fuzz/README.md "Speed"): the schema is created once, then
 * the harness opens a transaction of its own and the store turns its
 * transactions into savepoints inside it (store_nested). An input is reset
 * by rolling that transaction back to the pristine schema: no SQL parsed,
 * no table emptied row by row, no commit per unit of work. A crash of the
 * harness is a process kill, which keeps every released savepoint, as a
 * real kill keeps every commit. */

static sqlite3_stmt *outer_begin, *outer_rollback;

static void db_reset(void)
{
    if (!sqlite3_get_autocommit(H.db) && sqlite3_step(outer_rollback) != SQLITE_DONE)
        fail("SETUP", "reset: ROLLBACK: %s", sqlite3_errmsg(H.db));
    sqlite3_reset(outer_rollback);
    if (sqlite3_step(outer_begin) != SQLITE_DONE)
        fail("SETUP", "reset: BEGIN: %s", sqlite3_errmsg(H.db));
    sqlite3_reset(outer_begin);
}

static struct table_decl decls[3];

static struct device *open_dev(void)
{
    char err[256];
    struct device *d = dev_open(H.db, &H.env, &H.cfg, "phone", decls, 3, err, sizeof err);
    if (!d) fail("SETUP", "dev_open: %s", err);
    return d;
}

static void fuzz_setup(void)
{
    memset(&H, 0, sizeof H);
    config_default(&H.cfg);
    H.env = (struct env){ .now_ms = e_now, .mono_ms = e_mono, .random = e_random,
                          .set_timer = e_set_timer, .cancel_timer = e_cancel_timer,
                          .send = e_send, .emit = e_emit, .observe = e_observe };
    for (int i = 0; i < 3; i++) {
        str_copy(decls[i].name, sizeof decls[i].name, TABLES[i]);
        decls[i].read_only = i == 2;
        decls[i].strategy = i == 1 ? STRAT_MANUAL : STRAT_LWW;
    }
    /* One thread, no memory statistics: SQLite skips its mutexes and
     * accounting (the device never shares a connection). */
    sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (sqlite3_open(":memory:", &H.db) != SQLITE_OK) fail("SETUP", "sqlite3_open");
    /* Small pages: every input runs inside one transaction with the store's
     * units of work as savepoints, so each first touch of a page copies it
     * into the in-memory journal; 1 KiB pages made an input 8 % cheaper.
     * The engine's logic does not see the page size. */
    if (sqlite3_exec(H.db, "PRAGMA page_size=1024", NULL, NULL, NULL) != SQLITE_OK)
        fail("SETUP", "page_size: %s", sqlite3_errmsg(H.db));
    /* The schema, created once, and the one device of the process. */
    H.env.observe = NULL;
    H.env.emit = NULL;
    H.dev = open_dev();
    H.env.emit = e_emit;
    H.env.observe = e_observe;
    store_nested(H.dev->st, true);
    if (sqlite3_prepare_v3(H.db, "BEGIN", -1, SQLITE_PREPARE_PERSISTENT, &outer_begin, NULL) != SQLITE_OK
        || sqlite3_prepare_v3(H.db, "ROLLBACK", -1, SQLITE_PREPARE_PERSISTENT, &outer_rollback, NULL) != SQLITE_OK)
        fail("SETUP", "prepare: %s", sqlite3_errmsg(H.db));
    for (int i = 0; i < HIST; i++) H.hist[i].ops = calloc(OUT_PUSH_BATCH, OP_ID_MAX + 1);
    H.req.ops = calloc(OUT_PUSH_BATCH, OP_ID_MAX + 1);
    trace = getenv("FUZZ_TRACE") != NULL;
    dump_dir = getenv("FUZZ_DUMP_WIRE");
    const char *p = getenv("FUZZ_SCN");
    if (p && *p) {
        H.scn = fopen(p, "w");
        if (!H.scn) { perror(p); exit(2); }
    }
}

static void h_reset(void)
{
    char (*ops[HIST + 1])[OP_ID_MAX + 1];
    for (int i = 0; i < HIST; i++) ops[i] = H.hist[i].ops;
    ops[HIST] = H.req.ops;
    H.wall = WALL0;
    H.mono = 0;
    H.rng = 0x9E3779B97F4A7C15ull;
    memset(H.timer_set, 0, sizeof H.timer_set);
    memset(H.hist, 0, sizeof H.hist);
    memset(&H.req, 0, sizeof H.req);
    H.inflight = false;
    for (int i = 0; i < HIST; i++) H.hist[i].ops = ops[i];
    H.req.ops = ops[HIST];
    free(H.last_resp);
    H.last_resp = NULL;
    H.last_resp_len = 0;
    H.srv_seq = 0;
    H.ev_hold = false;
    H.ev_progress = 0;
    H.gate_open = H.comp_known = false;
    H.stale_cleared = false;
    H.migrations = 0;
    H.nw = 0;
    H.nlog = 0;
    H.nops = 0;
    H.ntimers = 0;
    H.scn_t = 0;
    oracle_init(&H.o, H.cfg.cooldown_ms, H.cfg.lock_timeout_ms);
}

/* ---- device-level checks ---- */

struct view {
    bool held, run_active, pending, initial_complete;
    enum sync_kind holder, pending_kind;
};

static void check_view(const struct view *v)
{
    if (v->held != v->run_active)
        fail("INV-MUTEX", "lock %s but %s run is active (the lock is held iff a run is active)",
             v->held ? "held" : "free", v->run_active ? "a" : "no");
    if (v->held != H.ev_hold)
        fail("COORD-8", "the lock is %s but the lock.* events say %s",
             v->held ? "held" : "free", H.ev_hold ? "held" : "free");
    enum sync_kind rk = KIND_COUNT;
    bool rheld = oracle_held(&H.o, &rk);
    if (rheld != v->held || (rheld && rk != KIND_COUNT && rk != v->holder))
        fail("ORACLE", "lock %s (%s) but the reference model has it %s (%s)",
             v->held ? "held" : "free", KINDS[v->holder], rheld ? "held" : "free",
             rk < KIND_COUNT ? KINDS[rk] : "?");
    bool rpend = oracle_pending(&H.o, &rk);
    if (rpend != v->pending || (rpend && rk != v->pending_kind))
        fail("INV-COLLAPSE", "follow-up %s (%s) but the reference model has %s (%s)",
             v->pending ? "pending" : "none", KINDS[v->pending_kind],
             rpend ? "pending" : "none", rk < KIND_COUNT ? KINDS[rk] : "?");
    if (v->held && v->holder != KIND_INITIAL && !v->initial_complete)
        fail("INV-GATE", "a %s run holds the lock while initial sync is incomplete", KINDS[v->holder]);
    if (v->initial_complete != H.gate_open)
        fail("INIT-4", "initial sync %s but the events say %s",
             v->initial_complete ? "complete" : "incomplete", H.gate_open ? "complete" : "incomplete");
}

/* After every operation: straight from the device's memory. */
static void check_state(void)
{
    const struct device *d = H.dev;
    struct view v = { d->coord.held, d->run.active, d->coord.pending, d->initial_complete,
                      d->coord.holder, d->coord.pending_kind };
    check_view(&v);
}

/* After a restart and at the end: through the public API (dev_get_state). */
static void check_state_full(void)
{
    struct dev_state st;
    dev_get_state(H.dev, &st);
    struct view v = { st.lock_held, st.run_active, st.followup_pending, st.initial_complete,
                      st.holder, st.followup_kind };
    check_view(&v);
    if (st.outbox < 0 || st.deadletters < 0 || st.conflicts < 0 || st.conflicts_unresolved > st.conflicts)
        fail("OUT-3", "counts out of range: outbox %d dead %d conflicts %d/%d", st.outbox,
             st.deadletters, st.conflicts_unresolved, st.conflicts);
}

static bool durable_seen[MAX_WRITES];

static int durable_cb(void *arg, const char *op_id, bool dead)
{
    (void)arg;
    (void)dead;
    for (int i = 0; i < H.nw; i++)
        if (!durable_seen[i] && strcmp(H.w[i].op, op_id) == 0) { durable_seen[i] = true; break; }
    return 0;
}

/* INV-DURABLE: every write acknowledged to the app is in the outbox, the
 * dead letters, or acknowledged by the server. */
static void check_durable(void)
{
    memset(durable_seen, 0, sizeof durable_seen);
    if (dev_foreach_op(H.dev, durable_cb, NULL) < 0) fail("INV-DURABLE", "cannot list the outbox");
    for (int i = 0; i < H.nw; i++)
        if (!durable_seen[i] && !H.w[i].acked)
            fail("INV-DURABLE", "write %s was acknowledged to the app but is neither in the outbox, "
                 "the dead letters nor acknowledged by the server", H.w[i].op);
}

/* ---- time ---- */

/* Fires every timer due by target, in deadline order, then sets mono. */
static void advance_to(int64_t target)
{
    for (;;) {
        int best = -1;
        for (int i = 0; i < DT_COUNT; i++)
            if (H.timer_set[i] && H.timer_at[i] <= target && (best < 0 || H.timer_at[i] < H.timer_at[best]))
                best = i;
        if (best < 0) break;
        if (H.ntimers >= MAX_TIMERS) return;   /* the input ends here: time stays */
        H.ntimers++;
        int64_t at = H.timer_at[best] > H.mono ? H.timer_at[best] : H.mono;
        H.wall += at - H.mono;
        H.scn_t += at - H.mono;
        H.mono = at;
        H.timer_set[best] = false;
        hlog("timer %d fires", best);
        dev_on_timer(H.dev, best);
        check_state();
    }
    if (target > H.mono) {
        H.wall += target - H.mono;
        H.scn_t += target - H.mono;
        H.mono = target;
    }
}

static const int64_t STEPS[] = {
    0, 1, 10, 100, 499, 500, 501, 999, 1000, 2000, 4999, 5000, 5001, 15000, 29999, 30000,
    30001, 60000, 299999, 300000, 300001, 600000, 899999, 900000, 900001, 3600000
};

/* ---- writes ---- */

static void op_write(struct fz *z, bool del)
{
    uint8_t b = fz_u8(z), v = fz_u8(z);
    const char *table = TABLES[b % 3];
    const char *id = IDS[(b >> 2) % 4];
    int rc;
    if (del) {
        hlog("delete %s %s", table, id);
        rc = dev_delete(H.dev, table, id);
        if (rc == 0) scn("delete phone %s %s", table, id);
    } else {
        char val[16];
        snprintf(val, sizeof val, "v%u", v);
        const char *names[2] = { (b & 0x40) ? "qty" : "status", "note" };
        const char *vals[2] = { val, "x" };
        int n = (b & 0x80) ? 2 : 1;
        hlog("write %s %s %s=%s%s", table, id, names[0], val, n == 2 ? " note=x" : "");
        rc = dev_write(H.dev, table, id, n, names, vals);
        if (rc == 0) scn("write phone %s %s %s=%s%s", table, id, names[0], val, n == 2 ? " note=x" : "");
    }
    if (rc == 0 && H.nw < MAX_WRITES) {
        snprintf(H.w[H.nw].op, sizeof H.w[0].op, "phone:%" PRIu64, dev_last_op_seq(H.dev));
        H.w[H.nw].acked = false;
        H.nw++;
    }
}

/* ---- hand-built responses ---- */

static void server_row(struct row *r, const char *table, const char *id, const char *val)
{
    row_init(r, table, id);
    struct stamp st = { .at = H.wall - 1, .seq = 0 };
    snprintf(st.by, sizeof st.by, "server");
    row_set(r, "status", val, &st);
    r->st = st;
    r->seq = ++H.srv_seq;
}

static void deliver_msg(struct wire_msg *m, const char *what)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (wire_encode(m, &buf, &len) != 0) { free(buf); return; }
    hlog("deliver %s (req %016" PRIx64 ")", what, m->req_id);
    dump("resp", buf, len);
    dev_on_message(H.dev, buf, len);
    free(H.last_resp);
    H.last_resp = buf;
    H.last_resp_len = len;
}

/* Fills a push ack for r from the input; marks acknowledged writes. */
static void build_push_ack(struct fz *z, const struct req_info *r, struct wire_msg *m, bool mark)
{
    int n = r->nitems;
    m->results = calloc((size_t)n + 1, sizeof *m->results);
    if (!m->results) return;
    uint8_t shape = fz_u8(z);
    for (int i = 0; i < n; i++) {
        uint8_t b = (shape & 1) ? fz_u8(z) : 0;   /* all applied unless asked */
        struct push_result *res = &m->results[m->nresults];
        if ((shape & 2) && (b & 0x80)) continue;   /* partial ack: item left out */
        str_copy(res->op_id, sizeof res->op_id, r->ops[i]);
        res->outcome = (enum push_outcome)(b & 3);
        res->concurrent = res->outcome == PUSH_CONFLICT || (b & 4);
        if (res->outcome == PUSH_REJECTED) res->reason = (enum reject_reason)(1 + (b >> 3) % 3);
        res->has_row = res->outcome != PUSH_REJECTED || (b & 0x40);
        if (res->has_row) {
            /* the server's current row; its table and id are the item's,
             * taken from the op's row in the device's outbox would be
             * ideal, but the id set is tiny, so pick from the input */
            server_row(&res->row, TABLES[(b >> 4) % 2], IDS[(b >> 5) % 4],
                       res->outcome == PUSH_APPLIED ? "applied" : "theirs");
        }
        if (mark && res->outcome != PUSH_REJECTED)
            for (int k = 0; k < H.nw; k++)
                if (strcmp(H.w[k].op, res->op_id) == 0) H.w[k].acked = true;
        m->nresults++;
    }
}

static void build_rows(struct fz *z, struct wire_msg *m, const char *table)
{
    uint8_t b = fz_u8(z);
    int n = b % 4;
    m->rows = calloc(4, sizeof *m->rows);
    if (!m->rows) return;
    for (int i = 0; i < n; i++) {
        uint8_t c = fz_u8(z);
        server_row(&m->rows[i], table ? table : TABLES[c % 3], IDS[(c >> 2) % 4], (c & 0x40) ? "srv" : "erp");
        if (c & 0x80) { m->rows[i].deleted = true; m->rows[i].del_st = m->rows[i].st; }
        m->nrows++;
    }
    m->has_more = (b & 4) != 0;
    m->server_time = H.wall;
    m->server_seq = H.srv_seq;
    m->table_total = (b >> 3) % 8;
}

/* An OK answer of the right type to request r (or, with wrong, of another). */
static void respond_ok(struct fz *z, const struct req_info *r, bool current, bool wrong)
{
    struct wire_msg m;
    enum wire_type t = r->type == WIRE_PUSH_REQ ? WIRE_PUSH_RESP
                     : r->type == WIRE_PULL_REQ ? WIRE_PULL_RESP : WIRE_PAGE_RESP;
    if (wrong) t = t == WIRE_PUSH_RESP ? WIRE_PULL_RESP : WIRE_PUSH_RESP;
    wire_msg_init(&m, t);
    m.req_id = r->req_id;
    m.status = WS_OK;
    if (t == WIRE_PUSH_RESP) {
        struct req_info fake = *r;
        if (r->type != WIRE_PUSH_REQ) fake.nitems = 0;
        build_push_ack(z, &fake, &m, current && !wrong);
    } else {
        const char *table = r->type == WIRE_PAGE_REQ ? r->table : NULL;
        if (table && (fz_u8(z) & 0x7) == 7) table = TABLES[0];   /* wrong table sometimes */
        build_rows(z, &m, table);
    }
    const char *tn = t == WIRE_PUSH_RESP ? "push ack" : t == WIRE_PULL_RESP ? "pull page" : "initial page";
    char what[96];
    snprintf(what, sizeof what, "%s%s%s", tn, current ? "" : " (late)", wrong ? " (wrong type)" : "");
    deliver_msg(&m, what);
    wire_msg_free(&m);
}

static void respond_err(struct fz *z, const struct req_info *r)
{
    static const int statuses[] = { WS_SERVER, WS_UNAVAILABLE, WS_THROTTLE, WS_AUTH, WS_PROTOCOL };
    uint8_t b = fz_u8(z);
    struct wire_msg m;
    wire_msg_init(&m, WIRE_ERROR_RESP);
    m.req_id = r->req_id;
    m.status = statuses[b % 5];
    if (m.status == WS_THROTTLE) m.retry_after_ms = (int64_t)(b >> 3) * 1000;
    snprintf(m.text, sizeof m.text, "fuzz");
    char what[64];
    snprintf(what, sizeof what, "error %d retry_after=%" PRId64, m.status, m.retry_after_ms);
    if (H.scn) {
        if (m.status == WS_THROTTLE && m.retry_after_ms > 0)
            fprintf(H.scn, "# next answer: %d\n", m.status);
        else
            fprintf(H.scn, "# next answer: %d (see `server fail` before the request)\n", m.status);
    }
    deliver_msg(&m, what);
    wire_msg_free(&m);
}

static void op_respond(struct fz *z, int variant)
{
    if (variant == 0) {                 /* the in-flight request, OK */
        if (!H.inflight) return;
        H.inflight = false;
        respond_ok(z, &H.req, true, false);
    } else if (variant == 1) {          /* the in-flight request, error */
        if (!H.inflight) return;
        H.inflight = false;
        respond_err(z, &H.req);
    } else {                            /* weird: late, dup, wrong type, garbage */
        uint8_t b = fz_u8(z);
        switch (b % 5) {
        case 0:
            if (H.hist[(b >> 3) % HIST].valid) respond_ok(z, &H.hist[(b >> 3) % HIST], false, false);
            break;
        case 1:
            if (H.hist[(b >> 3) % HIST].valid) respond_err(z, &H.hist[(b >> 3) % HIST]);
            break;
        case 2:
            if (H.last_resp) {
                hlog("deliver the last response again");
                uint8_t *copy = malloc(H.last_resp_len);
                memcpy(copy, H.last_resp, H.last_resp_len);
                dev_on_message(H.dev, copy, H.last_resp_len);
                free(copy);
            }
            break;
        case 3:
            if (H.inflight) {
                H.inflight = false;
                respond_ok(z, &H.req, true, true);
            }
            break;
        case 4: {
            uint8_t n = fz_u8(z) % 32;
            uint8_t buf[32];
            for (int i = 0; i < n; i++) buf[i] = fz_u8(z);
            hlog("deliver %u garbage bytes", n);
            dev_on_message(H.dev, buf, n);
            break;
        }
        }
    }
}

/* ---- device mode ---- */

static void dev_boot(void)
{
    /* One device for the whole process: a crash (and a new input) recycles
     * it, keeping only the prepared statements, so SQLite parses no SQL in
     * the loop. */
    char err[256];
    if (dev_recycle(H.dev, err, sizeof err) != 0) fail("SETUP", "dev_recycle: %s", err);
    struct dev_state st;
    dev_get_state(H.dev, &st);
    H.gate_open = st.initial_complete;
    H.comp_known = st.initial_complete;
    H.comp_wall = st.initial_completed_at;
    H.comp_cap = H.mono + H.cfg.cooldown_ms;
    H.stale_cleared = false;
    dev_start(H.dev);
}

static void op_crash(struct fz *z)
{
    bool held = H.ev_hold;
    uint8_t b = fz_u8(z);
    hlog("crash + restart (lock %s)", held ? "held" : "free");
    scn("crash phone");
    /* all memory gone (dev_boot recycles it): timers, the in-flight request (now only late) */
    memset(H.timer_set, 0, sizeof H.timer_set);
    if (H.req.valid) {
        char (*spare)[OP_ID_MAX + 1] = H.hist[HIST - 1].ops;
        for (int i = HIST - 1; i > 0; i--) H.hist[i] = H.hist[i - 1];
        H.hist[0] = H.req;
        H.req.ops = spare;
        req_clear(&H.req);
    }
    H.inflight = false;
    H.ev_hold = false;
    /* downtime, and the monotonic clock restarts (env.h) */
    int64_t down = STEPS[b % (sizeof STEPS / sizeof STEPS[0])];
    H.wall += down;
    H.scn_t += down;
    H.mono = (int64_t)(b >> 5) * 1000;
    scn("restart phone");
    dev_boot();
    /* INV-STALE / COORD-7: a lock held at the kill is cleared and logged at
     * start; one not held leaves nothing to clear. */
    if (held && !H.stale_cleared)
        fail("INV-STALE", "the lock was held when the process was killed, but start did not emit lock.stale_cleared (COORD-7)");
    if (!held && H.stale_cleared)
        fail("COORD-7", "lock.stale_cleared at start although no lock was held when the process was killed "
             "(a holder stayed persisted after the lock was released)");
    check_state_full();
    check_durable();
}

static void run_device(struct fz *z)
{
    db_reset();
    uint8_t cfgb = fz_u8(z);
    H.cfg.max_retries = 1 + cfgb % 5;
    H.cfg.clock = (cfgb & 0x10) ? CLOCK_HLC : CLOCK_WALL;
    H.cfg.push_batch = (cfgb & 0x20) ? 2 : OUT_PUSH_BATCH;
    if (H.scn) {
        fprintf(H.scn, "scenario \"fuzz: coordinator input %s\"\n", fuzz_current);
        fprintf(H.scn, "device phone user alice\ndevice tablet user bob\n");
        fprintf(H.scn, "table customers rw\ntable orders rw strategy manual\ntable products ro\n");
        fprintf(H.scn, "config max_retries=%d push_batch=%d clock=%s\n", H.cfg.max_retries,
                H.cfg.push_batch, H.cfg.clock == CLOCK_HLC ? "hlc" : "wall");
        fprintf(H.scn, "# hand-built server answers of the harness are marked `# answer`; the\n"
                       "# simulated server answers on its own (see fuzz/README.md)\n");
        scn("start phone");
    }
    dev_boot();
    check_state();
    while (fz_more(z) && H.ntimers < MAX_TIMERS && H.nops++ < MAX_OPS) {
        uint8_t op = fz_u8(z);
        switch (op % 20) {
        case 0: case 1: {
            enum sync_kind k = (enum sync_kind)(fz_u8(z) % KIND_COUNT);
            hlog("trigger %s", KINDS[k]);
            scn("trigger phone %s", KINDS[k]);
            dev_trigger(H.dev, k);
            break;
        }
        case 2: {
            uint8_t b = fz_u8(z);
            int64_t d = STEPS[(b & 0x7f) % (sizeof STEPS / sizeof STEPS[0])];
            if (b & 0x80) {
                /* the process is suspended: time passes, timers are late
                 * and fire at the next time step (a sleeping phone) */
                hlog("suspended +%" PRId64 " ms", d);
                H.mono += d;
                H.wall += d;
                H.scn_t += d;
                break;
            }
            hlog("time +%" PRId64 " ms", d);
            advance_to(H.mono + d);
            break;
        }
        case 3: {
            int best = -1;
            for (int i = 0; i < DT_COUNT; i++)
                if (H.timer_set[i] && (best < 0 || H.timer_at[i] < H.timer_at[best])) best = i;
            if (best >= 0) advance_to(H.timer_at[best]);
            break;
        }
        case 4: case 5: op_write(z, false); break;
        case 6: op_write(z, true); break;
        case 7: case 8: case 9: if (H.inflight && H.scn) fprintf(H.scn, "# answer: ok\n");
            op_respond(z, 0); break;
        case 10: op_respond(z, 1); break;
        case 11: op_respond(z, 2); break;
        case 12: {
            bool on = fz_u8(z) & 1;
            hlog("%s", on ? "online" : "offline");
            scn("%s phone", on ? "online" : "offline");
            dev_set_online(H.dev, on);
            break;
        }
        case 13: op_crash(z); break;
        case 14: {
            const char *u = USERS[fz_u8(z) & 1];
            hlog("login %s", u);
            scn("login phone %s", u);
            char tok[32];
            snprintf(tok, sizeof tok, "tok-%s", u);
            dev_login(H.dev, u, tok);
            break;
        }
        case 15:
            hlog("logout");
            scn("logout phone");
            dev_logout(H.dev);
            break;
        case 16:
            hlog("cancel-initial");
            scn("cancel-initial phone");
            dev_cancel_initial(H.dev);
            break;
        case 17:
            hlog("requeue");
            scn("requeue phone");
            dev_requeue(H.dev);
            break;
        case 18: {
            uint8_t b = fz_u8(z);
            int64_t j = STEPS[(b & 0x7f) % (sizeof STEPS / sizeof STEPS[0])];
            if (b & 0x80) j = -j;
            hlog("wall clock %+" PRId64 " ms", j);
            scn("clock phone %s%" PRId64 "ms", j < 0 ? "-" : "+", j < 0 ? -j : j);
            H.wall += j;
            break;
        }
        case 19: {
            uint8_t b = fz_u8(z);
            if (b & 1) {
                const char *t = TABLES[(b >> 1) % 2], *id = IDS[(b >> 2) % 4];
                hlog("resolve %s %s %s", t, id, (b & 0x10) ? "local" : "remote");
                scn("resolve phone %s %s %s", t, id, (b & 0x10) ? "local" : "remote");
                dev_resolve(H.dev, t, id, (b & 0x10) != 0);
            } else if (H.migrations < 3) {
                struct table_decl t = { .read_only = false, .strategy = STRAT_LWW };
                snprintf(t.name, sizeof t.name, "extra%d", ++H.migrations);
                hlog("migrate add-table %s", t.name);
                scn("migrate phone add-table %s", t.name);
                if (dev_migrate_add_table(H.dev, &t) == 0) {
                    H.gate_open = false;
                    H.comp_known = false;
                }
            }
            break;
        }
        }
        check_state();
    }
    check_state_full();
    check_durable();
}

/* ---- direct mode: coord_* straight from the bytes ---- */

static void run_direct(struct fz *z)
{
    struct coord c;
    struct env env = H.env;
    env.emit = e_emit;
    coord_init(&c, &env, &H.cfg);
    struct coord_inputs in = { .session = true, .initial_complete = false, .online = true,
                               .wall = H.wall, .mono = H.mono };
    uint8_t first = fz_u8(z);
    in.initial_complete = first & 2;
    H.gate_open = true;               /* the gate is the inputs' business here */
    coord_start(&c, in.mono, in.initial_complete, in.wall - (first >> 2) * 100);
    while (fz_more(z) && H.nops++ < MAX_OPS) {
        uint8_t op = fz_u8(z);
        in.wall = H.wall;
        in.mono = H.mono;
        switch (op % 14) {
        case 0: case 1: {
            enum sync_kind k = (enum sync_kind)(fz_u8(z) % KIND_COUNT);
            hlog("acquire %s", KINDS[k]);
            bool stale = coord_is_stale(&c, in.mono);
            H.ev_hold = c.held;
            H.ev_progress = c.progress_mono;
            struct coord_result r = coord_acquire(&c, k, &in);
            if (r.forced != stale) fail("INV-TIMEOUT", "acquire: stale=%d but forced=%d", stale, r.forced);
            if (r.answer == COORD_ACQUIRED && k != KIND_INITIAL &&
                coord_in_cooldown(&c, in.wall, in.mono))
                fail("INV-COOLDOWN", "%s acquired within the cooldown", KINDS[k]);
            break;
        }
        case 2: {
            hlog("poll");
            H.ev_hold = c.held;
            enum sync_kind k;
            uint64_t g;
            coord_poll(&c, &in, &k, &g);
            break;
        }
        case 3:
            if (c.held) { hlog("release"); H.ev_hold = true; coord_release(&c, in.mono); }
            break;
        case 4:
            if (c.held) { hlog("progress"); H.ev_hold = true; coord_progress(&c, in.mono); H.ev_progress = in.mono; }
            break;
        case 5: H.mono += STEPS[fz_u8(z) % (sizeof STEPS / sizeof STEPS[0])]; H.wall += H.mono - in.mono;
            hlog("time -> mono %" PRId64, H.mono); break;
        case 6: {
            uint8_t b = fz_u8(z);
            int64_t j = STEPS[(b & 0x7f) % (sizeof STEPS / sizeof STEPS[0])];
            H.wall += (b & 0x80) ? -j : j;
            hlog("wall -> %" PRId64, H.wall);
            break;
        }
        case 7: in.session = !in.session; hlog("session=%d", in.session); break;
        case 8: in.online = !in.online; hlog("online=%d", in.online); break;
        case 9:
            hlog("initial completed");
            in.initial_complete = true;
            coord_initial_completed(&c, in.wall, in.mono);
            break;
        case 10:
            hlog("reset_initial");
            in.initial_complete = false;
            coord_reset_initial(&c);
            break;
        case 11:
            hlog("end (logout)");
            H.ev_hold = c.held;
            coord_end(&c, in.mono);
            if (fz_u8(z) & 1) coord_discard_followup(&c);
            break;
        case 12:
            hlog("force_if_stale");
            H.ev_hold = c.held;
            H.ev_progress = c.progress_mono;
            coord_force_if_stale(&c, in.mono);
            break;
        case 13: {
            hlog("restart");
            H.mono = (int64_t)(fz_u8(z) % 8) * 1000;
            H.ev_hold = false;
            coord_start(&c, H.mono, in.initial_complete, c.completed_wall);
            break;
        }
        }
        enum sync_kind rk;
        if (oracle_held(&H.o, &rk) != c.held)
            fail("INV-MUTEX", "lock %s but the reference model has it %s", c.held ? "held" : "free",
                 c.held ? "free" : "held");
        bool rp = oracle_pending(&H.o, &rk);
        if (rp != c.pending || (rp && rk != c.pending_kind))
            fail("INV-COLLAPSE", "follow-up %s (%s) but the reference model has %s (%s)",
                 c.pending ? "pending" : "none", KINDS[c.pending_kind], rp ? "pending" : "none",
                 rk < KIND_COUNT ? KINDS[rk] : "?");
    }
}

static void fuzz_one(const uint8_t *p, size_t n)
{
    struct fz z = { p, n, 0 };
    h_reset();
    if (n == 0) return;
    uint8_t mode = fz_u8(&z);
    if (mode & 1) {
        struct env saved = H.env;
        run_direct(&z);
        H.env = saved;
    } else {
        config_default(&H.cfg);
        run_device(&z);
        config_default(&H.cfg);
    }
    if (H.scn) fflush(H.scn);
}
