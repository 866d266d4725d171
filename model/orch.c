/*
 * orch.c — the import orchestrator (see orch.h, SPEC §1.9).
 *
 * Memory: the queue (ORCH-2), the running run, the last status event shown
 * per job. SQLite (tables orch_meta, orch_jobs, orch_running in the
 * server's database): everything that must survive a server crash (ORCH-4,
 * ORCH-5). A run's start is persisted before the driver is asked, and its
 * end in one transaction with the job's outcome, so a crash at any instant
 * leaves either "running" (→ server_crash at restart) or the outcome.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch.h"

static const char *const job_names[ORCH_JOB_COUNT] = { "orders", "customers", "products",
                                                        "prices" };
static const char *const status_names[] = { "idle", "queued", "running", "completed", "error" };

struct job_state {
    /* persisted */
    bool has_success;
    int64_t success_start, success_end;   /* server wall ms of the last successful run */
    int fails;                            /* consecutive failures */
    enum orch_status outcome;             /* IDLE, COMPLETED or ERROR */
    enum orch_mode outcome_mode;
    char reason[ORCH_REASON_MAX + 1];
    bool healthy;
    /* memory: the last orch.status this process emitted (or loaded) */
    enum orch_status shown;
    enum orch_mode shown_mode;
};

struct orch {
    sqlite3 *db;
    struct srv *srv;
    const struct erp *erp;
    const struct env *env;
    struct config cfg;
    struct orch_driver drv;
    struct job_state jobs[ORCH_JOB_COUNT];
    struct orch_entry queue[ORCH_QUEUE_MAX];
    int nqueue;
    bool running;
    uint64_t run_id;
    enum orch_job run_job;
    enum orch_mode run_mode;
    int64_t run_start_mono, run_start_wall, run_since;
    uint64_t last_run_id;                 /* persisted counter: ids never repeat */
    bool schedule;                        /* persisted (ORCH-3) */
    int64_t first_start;                  /* persisted: the server's first start (ORCH-5) */
    int64_t last_slot;                    /* memory: the last slot fired */
    bool in_driver;                       /* no re-entry from driver callbacks */
    char err[256];
};

/* ---- names and arithmetic ---------------------------------------------- */

const char *orch_job_name(enum orch_job j)
{
    return (int)j >= 0 && j < ORCH_JOB_COUNT ? job_names[j] : "?";
}

int orch_job_parse(const char *s, enum orch_job *out)
{
    SS_ASSERT(out != NULL);
    for (int j = 0; s != NULL && j < ORCH_JOB_COUNT; j++) {
        if (strcmp(s, job_names[j]) == 0) {
            *out = (enum orch_job)j;
            return 0;
        }
    }
    return -1;
}

const char *orch_mode_name(enum orch_mode m) { return m == ORCH_FULL ? "full" : "incremental"; }

const char *orch_status_name(enum orch_status s)
{
    return (int)s >= 0 && s <= ORCH_ST_ERROR ? status_names[s] : "?";
}

/* ORCH-1: orders 4, customers 3, products 2, prices 1. */
int orch_base_priority(enum orch_job job)
{
    SS_ASSERT((int)job >= 0 && job < ORCH_JOB_COUNT);
    return ORCH_JOB_COUNT - (int)job;
}

/* ORCH-3: base + whole minutes waited / 5 = base + floor(waited / 5 min). */
int orch_effective_priority(const struct orch_entry *e, int64_t now_mono)
{
    SS_ASSERT(e != NULL);
    int64_t waited = now_mono - e->queued_mono;
    SS_ASSERT(waited >= 0);
    int64_t aged = waited / ORCH_AGING_MS;
    if (aged > 1000000)
        aged = 1000000;   /* a limit on everything: no overflow after years */
    return orch_base_priority(e->job) + (int)aged;
}

/* ORCH-3: orders :00, customers :15, products :30, prices :45. */
enum orch_job orch_slot_job(int64_t slot_wall_ms)
{
    SS_ASSERT(slot_wall_ms % ORCH_SLOT_MS == 0);
    int64_t q = (slot_wall_ms / ORCH_SLOT_MS) % ORCH_JOB_COUNT;
    if (q < 0)
        q += ORCH_JOB_COUNT;
    return (enum orch_job)q;
}

/* ---- errors, clocks, effects -------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static int orch_fail(struct orch *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->err, sizeof o->err, fmt, ap);
    va_end(ap);
    return -1;
}

static int64_t wall(const struct orch *o) { return o->env->now_ms(o->env->ctx); }
static int64_t mono(const struct orch *o) { return o->env->mono_ms(o->env->ctx); }

static void emit(const struct orch *o, const struct event *ev)
{
    SS_ASSERT(o->env->emit != NULL);
    SS_ASSERT(ev->name[0] != '\0');
    o->env->emit(o->env->ctx, ev);
}

/* A deadline on the server wall clock as a monotonic timer. */
static void set_timer_wall(struct orch *o, int id, int64_t at_wall)
{
    SS_ASSERT(id >= 0 && id < ORCH_TIMER_COUNT);
    int64_t d = at_wall - wall(o);
    o->env->set_timer(o->env->ctx, id, mono(o) + (d > 0 ? d : 0));
}

static void observe(struct orch *o, const struct orch_obs *obs)
{
    SS_ASSERT(obs->nqueue >= 0 && obs->nqueue <= ORCH_QUEUE_MAX);
    if (o->drv.observe == NULL)
        return;
    o->in_driver = true;
    o->drv.observe(o->drv.ctx, obs);
    o->in_driver = false;
}

/* ---- SQLite ------------------------------------------------------------- */

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS orch_meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS orch_jobs(job INTEGER PRIMARY KEY, has_success INTEGER NOT NULL,"
    " success_start INTEGER NOT NULL, success_end INTEGER NOT NULL, fails INTEGER NOT NULL,"
    " outcome INTEGER NOT NULL, mode INTEGER NOT NULL, reason TEXT NOT NULL,"
    " healthy INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS orch_running(one INTEGER PRIMARY KEY CHECK(one = 1),"
    " run_id INTEGER NOT NULL, job INTEGER NOT NULL, mode INTEGER NOT NULL,"
    " started INTEGER NOT NULL, since INTEGER NOT NULL);";

/* Runs sql with n integer parameters, then text (if not NULL) as the last. */
static int db_run(struct orch *o, const char *sql, int n, const int64_t *v, const char *text)
{
    SS_ASSERT(n >= 0 && (n == 0 || v != NULL));
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(o->db, sql, -1, &st, NULL) != SQLITE_OK)
        return orch_fail(o, "orch: prepare: %s", sqlite3_errmsg(o->db));
    for (int i = 0; i < n; i++)
        sqlite3_bind_int64(st, i + 1, v[i]);
    if (text != NULL)
        sqlite3_bind_text(st, n + 1, text, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return orch_fail(o, "orch: %.40s: %s", sql, sqlite3_errmsg(o->db));
    return 0;
}

static int db_exec(struct orch *o, const char *sql)
{
    SS_ASSERT(o->db != NULL && sql != NULL);
    if (sqlite3_exec(o->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return orch_fail(o, "orch: %.40s: %s", sql, sqlite3_errmsg(o->db));
    return 0;
}

static int meta_set(struct orch *o, const char *k, int64_t v)
{
    SS_ASSERT(k != NULL);
    return db_run(o, "INSERT OR REPLACE INTO orch_meta(v, k) VALUES(?1, ?2)", 1, &v, k);
}

static int job_save(struct orch *o, enum orch_job j)
{
    const struct job_state *js = &o->jobs[j];
    SS_ASSERT(js->fails >= 0);
    int64_t v[8] = { j, js->has_success, js->success_start, js->success_end, js->fails,
                     js->outcome, js->outcome_mode, js->healthy };
    return db_run(o, "INSERT OR REPLACE INTO orch_jobs(job, has_success, success_start,"
                     " success_end, fails, outcome, mode, healthy, reason)"
                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", 8, v, js->reason);
}

/* One transaction, or none of it (ORCH-4: a crash leaves a consistent image). */
static int db_tx(struct orch *o, int (*body)(struct orch *, void *), void *arg)
{
    if (db_exec(o, "BEGIN IMMEDIATE") != 0)
        return -1;
    if (body(o, arg) != 0) {
        sqlite3_exec(o->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return db_exec(o, "COMMIT");
}

static void load_job(struct orch *o, sqlite3_stmt *st)
{
    int j = sqlite3_column_int(st, 0);
    if (j < 0 || j >= ORCH_JOB_COUNT)
        return;   /* not ours: ignore rather than trust */
    struct job_state *js = &o->jobs[j];
    js->has_success = sqlite3_column_int(st, 1) != 0;
    js->success_start = sqlite3_column_int64(st, 2);
    js->success_end = sqlite3_column_int64(st, 3);
    js->fails = sqlite3_column_int(st, 4);
    int out = sqlite3_column_int(st, 5);
    js->outcome = out == ORCH_ST_COMPLETED || out == ORCH_ST_ERROR ? (enum orch_status)out
                                                                    : ORCH_ST_IDLE;
    js->outcome_mode = sqlite3_column_int(st, 6) == ORCH_FULL ? ORCH_FULL : ORCH_INCREMENTAL;
    str_copy(js->reason, sizeof js->reason, (const char *)sqlite3_column_text(st, 7));
    js->healthy = sqlite3_column_int(st, 8) != 0;
    SS_ASSERT(js->fails >= 0);
}

static int load_state(struct orch *o)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(o->db, "SELECT job, has_success, success_start, success_end, fails,"
                           " outcome, mode, reason, healthy FROM orch_jobs", -1, &st, NULL) != SQLITE_OK)
        return orch_fail(o, "orch: load: %s", sqlite3_errmsg(o->db));
    while (sqlite3_step(st) == SQLITE_ROW)
        load_job(o, st);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(o->db, "SELECT k, v FROM orch_meta", -1, &st, NULL) != SQLITE_OK)
        return orch_fail(o, "orch: load: %s", sqlite3_errmsg(o->db));
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        int64_t v = sqlite3_column_int64(st, 1);
        if (strcmp(k, "last_run_id") == 0) o->last_run_id = (uint64_t)v;
        else if (strcmp(k, "schedule") == 0) o->schedule = v != 0;
        else if (strcmp(k, "first_start") == 0) o->first_start = v;
    }
    sqlite3_finalize(st);
    return 0;
}

/* ---- status and health (ORCH-5) ----------------------------------------- */

static const struct orch_entry *entry_of(const struct orch *o, enum orch_job j)
{
    for (int i = 0; i < o->nqueue; i++)
        if (o->queue[i].job == j)
            return &o->queue[i];
    return NULL;
}

static void emit_status(struct orch *o, enum orch_job j, enum orch_status s, enum orch_mode m,
                        const char *reason)
{
    struct event ev;
    ev_init(&ev, "orch.status");
    ev_str(&ev, "job", orch_job_name(j));
    ev_str(&ev, "status", orch_status_name(s));
    ev_str(&ev, "mode", orch_mode_name(m));
    if (s == ORCH_ST_ERROR)
        ev_str(&ev, "reason", reason);
    o->jobs[j].shown = s;
    o->jobs[j].shown_mode = m;
    emit(o, &ev);
}

/* ORCH-5: running > queued > last outcome > idle; an event on every change
 * of status or mode. */
static void status_sync(struct orch *o, enum orch_job j)
{
    const struct job_state *js = &o->jobs[j];
    const struct orch_entry *e = entry_of(o, j);
    enum orch_status s = js->outcome;
    enum orch_mode m = js->outcome_mode;
    if (o->running && o->run_job == j) {
        s = ORCH_ST_RUNNING;
        m = o->run_mode;
    } else if (e != NULL) {
        s = ORCH_ST_QUEUED;
        m = e->mode;
    }
    if (s == ORCH_ST_IDLE || (s == js->shown && m == js->shown_mode))
        return;
    emit_status(o, j, s, m, js->reason);
}

static bool health_of(const struct orch *o, enum orch_job j, int64_t now)
{
    const struct job_state *js = &o->jobs[j];
    int64_t since = js->has_success ? js->success_end : o->first_start;
    return js->fails < ORCH_HEALTH_FAILS && now - since <= ORCH_HEALTH_STALE_MS;
}

/* ORCH-5: emit and persist every change of health, then arm the timer for
 * the first instant a healthy job goes stale (> 2 h: the ms after). */
static int health_sync(struct orch *o)
{
    int64_t now = wall(o), next = INT64_MAX;
    int rc = 0;
    for (int j = 0; j < ORCH_JOB_COUNT; j++) {
        struct job_state *js = &o->jobs[j];
        bool h = health_of(o, (enum orch_job)j, now);
        if (h) {
            int64_t since = js->has_success ? js->success_end : o->first_start;
            if (since + ORCH_HEALTH_STALE_MS + 1 < next)
                next = since + ORCH_HEALTH_STALE_MS + 1;
        }
        if (h == js->healthy)
            continue;
        js->healthy = h;
        rc |= job_save(o, (enum orch_job)j);
        struct event ev;
        ev_init(&ev, "orch.health");
        ev_str(&ev, "job", orch_job_name((enum orch_job)j));
        ev_str(&ev, "healthy", h ? "true" : "false");
        emit(o, &ev);
    }
    if (next == INT64_MAX)
        o->env->cancel_timer(o->env->ctx, ORCH_T_HEALTH);
    else
        set_timer_wall(o, ORCH_T_HEALTH, next);
    return rc;
}

/* ---- the import (§1.9) -------------------------------------------------- */

struct apply_ctx {
    struct orch *o;
    char (*users)[NAME_MAX_LEN + 1];
    int nusers;
};

static int apply_row(void *arg, const char *table, const char *id, int n,
                     const char *const *names, const char *const *values)
{
    struct apply_ctx *a = arg;
    SS_ASSERT(a->o->srv != NULL && a->nusers >= 0);
    for (int u = 0; u < a->nusers; u++)
        if (srv_write(a->o->srv, a->users[u], table, id, n, names, values, false, "erp") != 0)
            return orch_fail(a->o, "orch: import %s/%s for %s: %s", table, id, a->users[u],
                             srv_errmsg(a->o->srv));
    return 0;
}

/* The ERP's rows of the job's table (all, or changed since the start of
 * the last successful run) to every user, stamped erp; an undeclared table
 * imports nothing. */
static int apply_import(struct orch *o)
{
    struct table_decl t;
    if (o->srv == NULL || o->erp == NULL || srv_table(o->srv, orch_job_name(o->run_job), &t) != 0)
        return 0;
    struct apply_ctx a = { .o = o, .users = calloc(ORCH_MAX_USERS, NAME_MAX_LEN + 1) };
    if (a.users == NULL)
        return orch_fail(o, "orch: import: out of memory");
    a.nusers = srv_users(o->srv, a.users, ORCH_MAX_USERS);
    int rc;
    if (a.nusers < 0)
        rc = orch_fail(o, "orch: import: %s", srv_errmsg(o->srv));
    else if (srv_batch_begin(o->srv) != 0)
        rc = orch_fail(o, "orch: import: %s", srv_errmsg(o->srv));
    else {
        /* one transaction: the import lands whole or not at all */
        rc = erp_foreach(o->erp, t.name, o->run_since, apply_row, &a);
        if (srv_batch_end(o->srv, rc == 0) != 0 && rc == 0)
            rc = orch_fail(o, "orch: import: %s", srv_errmsg(o->srv));
    }
    free(a.users);
    return rc;
}

/* ---- runs (ORCH-1, ORCH-2, ORCH-4) -------------------------------------- */

struct run_rec { uint64_t id; enum orch_job job; enum orch_mode mode; int64_t start, since; };

static int persist_start(struct orch *o, void *arg)
{
    const struct run_rec *r = arg;
    int64_t v[5] = { (int64_t)r->id, r->job, r->mode, r->start, r->since };
    if (meta_set(o, "last_run_id", (int64_t)r->id) != 0)
        return -1;
    return db_run(o, "INSERT OR REPLACE INTO orch_running(one, run_id, job, mode, started, since)"
                     " VALUES(1, ?1, ?2, ?3, ?4, ?5)", 5, v, NULL);
}

static int persist_end(struct orch *o, void *arg)
{
    enum orch_job j = *(const enum orch_job *)arg;
    if (db_run(o, "DELETE FROM orch_running", 0, NULL, NULL) != 0)
        return -1;
    return job_save(o, j);
}

/* Starts a run of job now: persisted first (ORCH-4), then the timeout, the
 * status event, and only then the driver is asked. An incremental run of a
 * job with no success yet runs full (ORCH-2). */
static void start_run(struct orch *o, enum orch_job job, enum orch_mode mode,
                      const struct orch_obs *pick)
{
    SS_ASSERT(!o->running && (int)job >= 0 && job < ORCH_JOB_COUNT);
    const struct job_state *js = &o->jobs[job];
    if (mode == ORCH_INCREMENTAL && !js->has_success)
        mode = ORCH_FULL;
    struct run_rec r = { .id = o->last_run_id + 1, .job = job, .mode = mode, .start = wall(o),
                         .since = mode == ORCH_FULL ? ERP_SINCE_ALL : js->success_start };
    (void)db_tx(o, persist_start, &r);   /* on error: runs on, not durable (orch_errmsg) */
    o->last_run_id = r.id;
    o->running = true;
    o->run_id = r.id;
    o->run_job = job;
    o->run_mode = mode;
    o->run_start_mono = mono(o);
    o->run_start_wall = r.start;
    o->run_since = r.since;
    /* ORCH-4: "> orch_timeout fails, ≤ does not": the first ms past it. */
    o->env->set_timer(o->env->ctx, ORCH_T_TIMEOUT, o->run_start_mono + o->cfg.orch_timeout_ms + 1);
    struct orch_obs obs = *pick;
    obs.op = ORCH_OBS_START;
    obs.run_id = r.id;
    obs.job = job;
    obs.mode = mode;
    obs.mono = o->run_start_mono;
    observe(o, &obs);
    status_sync(o, job);
    o->in_driver = true;
    o->drv.start_import(o->drv.ctx, r.id, job, mode, r.since);
    o->in_driver = false;
}

/* ORCH-3: the entry of highest effective priority, ties to the higher base. */
static int pick_index(const struct orch *o, int64_t now)
{
    int best = -1, best_p = 0;
    for (int i = 0; i < o->nqueue; i++) {
        int p = orch_effective_priority(&o->queue[i], now);
        if (best < 0 || p > best_p ||
            (p == best_p && orch_base_priority(o->queue[i].job) > orch_base_priority(o->queue[best].job))) {
            best = i;
            best_p = p;
        }
    }
    SS_ASSERT(best >= 0 || o->nqueue == 0);
    return best;
}

/* A run's end starts the next queued run at once (§1.9). */
static void start_next(struct orch *o)
{
    SS_ASSERT(!o->running);
    if (o->nqueue == 0)
        return;
    int64_t now = mono(o);
    int i = pick_index(o, now);
    struct orch_obs pick = { .nqueue = o->nqueue };
    memcpy(pick.queue, o->queue, sizeof o->queue);
    struct orch_entry e = o->queue[i];
    memmove(&o->queue[i], &o->queue[i + 1], (size_t)(o->nqueue - i - 1) * sizeof e);
    o->nqueue--;
    start_run(o, e.job, e.mode, &pick);
}

/* The run ends with an outcome: the job's state and the end of the run in
 * one transaction; the outcome is always an event (even when a queued run
 * of the same job follows at once: running → completed → queued →
 * running); health; then the next run (ORCH-4, ORCH-5). */
static void end_run(struct orch *o, bool ok, const char *reason)
{
    SS_ASSERT(o->running);
    SS_ASSERT(ok || reason != NULL);
    enum orch_job j = o->run_job;
    struct job_state *js = &o->jobs[j];
    o->env->cancel_timer(o->env->ctx, ORCH_T_TIMEOUT);
    if (ok) {
        js->has_success = true;
        js->success_start = o->run_start_wall;
        js->success_end = wall(o);
        js->fails = 0;
    } else if (js->fails < 1000000) {
        js->fails++;
    }
    js->outcome = ok ? ORCH_ST_COMPLETED : ORCH_ST_ERROR;
    js->outcome_mode = o->run_mode;
    str_copy(js->reason, sizeof js->reason, ok ? "" : reason);
    (void)db_tx(o, persist_end, &j);
    o->running = false;
    struct orch_obs obs = { .op = ORCH_OBS_END, .run_id = o->run_id, .job = j, .mode = o->run_mode,
                            .mono = mono(o), .started_mono = o->run_start_mono, .ok = ok,
                            .reason = ok ? NULL : reason };
    observe(o, &obs);
    emit_status(o, j, js->outcome, js->outcome_mode, js->reason);
    (void)health_sync(o);
    status_sync(o, j);
    start_next(o);
}

/* ---- schedule (ORCH-3) -------------------------------------------------- */

/* The next slot at or after now (statements first, then slots, at one
 * instant), and after the last one fired; slots while the server was down
 * are gone with it. */
static void arm_slot(struct orch *o)
{
    int64_t now = wall(o);
    int64_t slot = now / ORCH_SLOT_MS * ORCH_SLOT_MS;
    if (slot < now || slot <= o->last_slot)
        slot += ORCH_SLOT_MS;
    SS_ASSERT(slot >= now && slot > o->last_slot);
    set_timer_wall(o, ORCH_T_SLOT, slot);
}

static void on_slot(struct orch *o)
{
    int64_t now = wall(o);
    int64_t slot = now / ORCH_SLOT_MS * ORCH_SLOT_MS;
    if (!o->schedule)
        return;
    if (slot > o->last_slot) {
        o->last_slot = slot;
        (void)orch_request(o, orch_slot_job(slot), ORCH_INCREMENTAL);
    }
    arm_slot(o);
}

/* ---- public ------------------------------------------------------------- */

struct orch *orch_open(sqlite3 *db, struct srv *srv, const struct erp *erp,
                       const struct env *env, const struct config *cfg,
                       const struct orch_driver *drv, char *err, size_t errlen)
{
    SS_ASSERT(db != NULL && env != NULL && cfg != NULL);
    SS_ASSERT(drv != NULL && drv->start_import != NULL);
    struct orch *o = calloc(1, sizeof *o);
    if (o == NULL) {
        snprintf(err, errlen, "orch: out of memory");
        return NULL;
    }
    *o = (struct orch){ .db = db, .srv = srv, .erp = erp, .env = env, .cfg = *cfg, .drv = *drv,
                        .last_slot = INT64_MIN };
    for (int j = 0; j < ORCH_JOB_COUNT; j++)
        o->jobs[j] = (struct job_state){ .healthy = true, .outcome_mode = ORCH_INCREMENTAL };
    int64_t now = wall(o);
    if (db_exec(o, schema_sql) != 0 ||
        db_run(o, "INSERT OR IGNORE INTO orch_meta(v, k) VALUES(?1, 'first_start')", 1, &now, NULL) != 0 ||
        load_state(o) != 0) {
        str_copy(err, errlen, o->err);
        free(o);
        return NULL;
    }
    for (int j = 0; j < ORCH_JOB_COUNT; j++) {   /* what the last process showed */
        o->jobs[j].shown = o->jobs[j].outcome;
        o->jobs[j].shown_mode = o->jobs[j].outcome_mode;
    }
    return o;
}

/* ORCH-4: a run persisted as running belonged to a process that crashed. */
static int recover_crashed(struct orch *o)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(o->db, "SELECT job, mode FROM orch_running", -1, &st, NULL) != SQLITE_OK)
        return orch_fail(o, "orch: recover: %s", sqlite3_errmsg(o->db));
    int found = sqlite3_step(st) == SQLITE_ROW;
    int job = found ? sqlite3_column_int(st, 0) : 0;
    int mode = found ? sqlite3_column_int(st, 1) : 0;
    sqlite3_finalize(st);
    if (!found || job < 0 || job >= ORCH_JOB_COUNT)
        return found ? db_run(o, "DELETE FROM orch_running", 0, NULL, NULL) : 0;
    enum orch_job j = (enum orch_job)job;
    struct job_state *js = &o->jobs[j];
    js->fails++;
    js->outcome = ORCH_ST_ERROR;
    js->outcome_mode = mode == ORCH_FULL ? ORCH_FULL : ORCH_INCREMENTAL;
    snprintf(js->reason, sizeof js->reason, "server_crash");
    int rc = db_tx(o, persist_end, &j);
    emit_status(o, j, ORCH_ST_ERROR, js->outcome_mode, js->reason);
    return rc;
}

int orch_start(struct orch *o)
{
    SS_ASSERT(o != NULL && !o->running);
    SS_ASSERT(o->nqueue == 0);
    int rc = recover_crashed(o);
    rc |= health_sync(o);
    if (o->schedule)
        arm_slot(o);
    return rc;
}

void orch_close(struct orch *o)
{
    if (o == NULL)
        return;
    SS_ASSERT(!o->in_driver);
    free(o);
}

const char *orch_errmsg(const struct orch *o)
{
    SS_ASSERT(o != NULL);
    return o->err;
}

enum orch_answer orch_request(struct orch *o, enum orch_job job, enum orch_mode mode)
{
    SS_ASSERT(o != NULL && !o->in_driver);
    SS_ASSERT((int)job >= 0 && job < ORCH_JOB_COUNT && (mode == ORCH_FULL || mode == ORCH_INCREMENTAL));
    if (!o->running) {                         /* ORCH-1: nothing runs, so nothing is queued */
        SS_ASSERT(o->nqueue == 0);
        struct orch_obs pick = { .nqueue = 0 };
        start_run(o, job, mode, &pick);
        return ORCH_STARTED;
    }
    for (int i = 0; i < o->nqueue; i++) {      /* ORCH-2: collapse, keep the oldest time */
        if (o->queue[i].job != job)
            continue;
        if (mode == ORCH_FULL)
            o->queue[i].mode = ORCH_FULL;
        status_sync(o, job);
        return ORCH_COLLAPSED;
    }
    SS_ASSERT(o->nqueue < ORCH_QUEUE_MAX);     /* one entry per job */
    o->queue[o->nqueue++] = (struct orch_entry){ .job = job, .mode = mode, .queued_mono = mono(o) };
    status_sync(o, job);                       /* the running job stays `running` */
    return ORCH_QUEUED;
}

int orch_set_schedule(struct orch *o, bool on)
{
    SS_ASSERT(o != NULL && !o->in_driver);
    o->schedule = on;
    int rc = meta_set(o, "schedule", on);
    if (on)
        arm_slot(o);
    else
        o->env->cancel_timer(o->env->ctx, ORCH_T_SLOT);
    return rc;
}

enum orch_done orch_import_done(struct orch *o, uint64_t run_id, bool ok)
{
    SS_ASSERT(o != NULL);
    SS_ASSERT(!o->in_driver);   /* answer later, never from inside start_import */
    if (!o->running || run_id != o->run_id)
        return ORCH_DONE_IGNORED;              /* ORCH-4: late, or lost in a crash */
    if (mono(o) - o->run_start_mono > o->cfg.orch_timeout_ms) {
        end_run(o, false, "timeout");          /* its timer is due at this very ms */
        return ORCH_DONE_TIMED_OUT;
    }
    const char *reason = "erp";
    if (ok && apply_import(o) != 0) {
        ok = false;
        reason = "apply";
    }
    end_run(o, ok, reason);
    return ORCH_DONE_ACCEPTED;
}

void orch_on_timer(struct orch *o, int id)
{
    SS_ASSERT(o != NULL && !o->in_driver);
    SS_ASSERT(id >= 0 && id < ORCH_TIMER_COUNT);
    switch (id) {
    case ORCH_T_SLOT:
        on_slot(o);
        break;
    case ORCH_T_TIMEOUT:                       /* ORCH-4: > orch_timeout fails */
        if (o->running && mono(o) - o->run_start_mono > o->cfg.orch_timeout_ms)
            end_run(o, false, "timeout");
        else if (o->running)
            o->env->set_timer(o->env->ctx, ORCH_T_TIMEOUT, o->run_start_mono + o->cfg.orch_timeout_ms + 1);
        break;
    case ORCH_T_HEALTH:
        (void)health_sync(o);
        break;
    }
}

enum orch_status orch_status(const struct orch *o, enum orch_job job)
{
    SS_ASSERT(o != NULL && (int)job >= 0 && job < ORCH_JOB_COUNT);
    if (o->running && o->run_job == job)
        return ORCH_ST_RUNNING;
    if (entry_of(o, job) != NULL)
        return ORCH_ST_QUEUED;
    return o->jobs[job].outcome;
}

bool orch_healthy(const struct orch *o, enum orch_job job)
{
    SS_ASSERT(o != NULL && (int)job >= 0 && job < ORCH_JOB_COUNT);
    return o->jobs[job].healthy;
}

bool orch_schedule_on(const struct orch *o) { return o->schedule; }

bool orch_running(const struct orch *o, uint64_t *run_id, enum orch_job *job, int64_t *started_mono)
{
    SS_ASSERT(o != NULL);
    if (o->running) {
        if (run_id) *run_id = o->run_id;
        if (job) *job = o->run_job;
        if (started_mono) *started_mono = o->run_start_mono;
    }
    return o->running;
}

int orch_queue(const struct orch *o, struct orch_entry *out, int cap)
{
    SS_ASSERT(o != NULL && cap >= 0);
    SS_ASSERT(out != NULL || cap == 0);
    for (int i = 0; i < o->nqueue && i < cap; i++)
        out[i] = o->queue[i];
    return o->nqueue;
}
