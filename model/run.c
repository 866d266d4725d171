/*
 * run.c — the sync run as an explicit state machine (RUN-*, OUT-*, INIT-*):
 *
 *   regular:  PUSH (batches) → PULL (pages) → completed
 *   periodic: PUSH → completed                                 (OUT-5)
 *   master:   PUSH → MASTER (read-only tables in full) → PULL  (RUN-11)
 *   initial:  INITIAL (table by table, page by page) → completed (INIT-1)
 *
 * One request in flight per device; a response is accepted only by the run
 * that sent its request id (RUN-6). Every commit first checks the fencing
 * generation (COORD-12), then counts as progress (COORD-6), then emits its
 * event (RUN-10).
 */
#include "device_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t mono(struct device *d) { return d->env->mono_ms(d->env->ctx); }

static void emit_kind(struct device *d, const char *name, enum sync_kind k, const char *reason)
{
    struct event e;
    ev_init(&e, name);
    ev_str(&e, "kind", kind_name(k));
    if (reason) ev_str(&e, "reason", reason);
    dev_emit(d, &e);
}

void run_cancel_retry(struct device *d)
{
    if (!d->retry_pending) return;
    d->env->cancel_timer(d->env->ctx, DT_RETRY);
    d->retry_pending = false;
}

/* The run gives the lock back (normal end or failure). */
static void run_end(struct device *d)
{
    SS_ASSERT(d->run.active);
    if (d->run.req_id) d->env->cancel_timer(d->env->ctx, DT_REQUEST);
    store_del(d->st, "holder");   /* COORD-7: nothing persisted once released */
    memset(&d->run, 0, sizeof d->run);
    coord_release(&d->coord, mono(d));
}

/* Logout, 401, migration: the run is fenced as by a force-release. */
void run_fence_current(struct device *d)
{
    if (!d->coord.held) return;
    if (d->run.active) {
        d->zombie = d->run;
        memset(&d->run, 0, sizeof d->run);
    }
    store_del(d->st, "holder");
    coord_end(&d->coord, mono(d));
}

static void run_complete(struct device *d)
{
    d->last_failed = false;
    d->fail_streak = 0;
    emit_kind(d, "sync.completed", d->run.kind, NULL);
    run_end(d);
}

static void set_retry(struct device *d, enum sync_kind kind, int64_t delay)
{
    SS_ASSERT(delay >= 0);
    d->retry_pending = true;
    d->retry_kind = kind;
    d->env->set_timer(d->env->ctx, DT_RETRY, mono(d) + delay);
}

/* INIT-3: 2 s, 5 s, 15 s, then give up until the user acts. */
static void initial_failed(struct device *d)
{
    d->init_failures++;
    if (d->init_failures > 3) {
        d->gave_up = true;
        struct event e;
        ev_init(&e, "initial.gave_up");
        dev_emit(d, &e);
        return;
    }
    int64_t delay = d->cfg->initial_retry_ms[d->init_failures - 1];
    set_retry(d, KIND_INITIAL, delay);
    struct event e;
    ev_init(&e, "initial.retry");
    ev_int(&e, "attempt", d->init_failures);
    ev_int(&e, "delay_ms", delay);
    dev_emit(d, &e);
}

/* RUN-4: 1, 2, 4, 8, 16 s (capped) ± jitter; Retry-After exactly. */
static int64_t backoff(struct device *d, int64_t retry_after)
{
    if (retry_after > 0) return retry_after;
    int shift = d->fail_streak - 1 < 10 ? d->fail_streak - 1 : 10;
    int64_t base = d->cfg->backoff_base_ms << (shift < 0 ? 0 : shift);
    if (base > d->cfg->backoff_cap_ms) base = d->cfg->backoff_cap_ms;
    int pct = d->cfg->jitter_pct;
    int64_t span = 2 * (int64_t)pct + 1;
    int64_t j = (int64_t)(d->env->random(d->env->ctx) % (uint64_t)span) - pct;
    return base + base * j / 100;
}

/* A failed run: retry timer first, then the release (SPEC: so a follow-up
 * starting on the release cancels it, RUN-9). retry_after < 0: no retry. */
static void run_fail(struct device *d, const char *reason, int64_t retry_after)
{
    SS_ASSERT(d->run.active);
    enum sync_kind kind = d->run.kind;
    d->last_failed = true;
    if (kind == KIND_INITIAL && strcmp(reason, "breaker") == 0) {
        /* RUN-5: no request was sent, so no attempt: retry when it half-opens. */
        set_retry(d, KIND_INITIAL, retry_after);
    } else if (kind == KIND_INITIAL) {
        initial_failed(d);
    } else {
        d->fail_streak++;
        set_retry(d, kind, backoff(d, retry_after));
    }
    emit_kind(d, "sync.failed", kind, reason);
    run_end(d);
}

/* ---- circuit breaker (RUN-5) ---- */

static void breaker_event(struct device *d, const char *name)
{
    struct event e;
    ev_init(&e, name);
    dev_emit(d, &e);
}

static void breaker_failure(struct device *d)
{
    d->breaker_fails++;
    if (d->breaker == BR_HALF_OPEN
        || (d->breaker == BR_CLOSED && d->breaker_fails >= d->cfg->breaker_threshold)) {
        d->breaker = BR_OPEN;
        d->breaker_until = mono(d) + d->cfg->breaker_open_ms;
        d->env->set_timer(d->env->ctx, DT_BREAKER, d->breaker_until);
        breaker_event(d, "breaker.opened");
    }
}

static void breaker_success(struct device *d)
{
    d->breaker_fails = 0;
    if (d->breaker != BR_CLOSED) {
        d->breaker = BR_CLOSED;
        breaker_event(d, "breaker.closed");
    }
}

void run_on_breaker_timer(struct device *d)
{
    if (d->breaker != BR_OPEN) return;
    d->breaker = BR_HALF_OPEN;
    breaker_event(d, "breaker.half_open");
}

/* ---- requests ---- */

/* Sends m for the current run; -1 when the breaker is open (nothing sent). */
static int send_request(struct device *d, struct wire_msg *m)
{
    SS_ASSERT(d->run.active && d->run.req_id == 0);
    if (d->breaker == BR_OPEN) return -1;
    uint64_t id;
    do id = d->env->random(d->env->ctx); while (id == 0 || id == d->zombie.req_id);
    m->req_id = id;
    str_copy(m->token, sizeof m->token, d->token);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (wire_encode(m, &buf, &len) != 0) { free(buf); return -2; }
    d->run.req_id = id;
    d->run.req_type = m->type;
    d->env->set_timer(d->env->ctx, DT_REQUEST, mono(d) + d->cfg->request_timeout_ms);
    d->env->send(d->env->ctx, buf, len);
    free(buf);
    return 0;
}

/* A request could not be sent: the breaker is open (RUN-5: no attempt for
 * OUT-3; retry when it half-opens) or the message could not be built. */
static void send_failed(struct device *d, int rc)
{
    if (rc == -1) {
        int64_t wait = d->breaker_until - mono(d);
        run_fail(d, "breaker", wait > 0 ? wait : 1);
    } else {
        run_fail(d, "encode", 0);
    }
}

static void pull_next(struct device *d)
{
    struct wire_msg m;
    wire_msg_init(&m, WIRE_PULL_REQ);
    m.cursor = d->cursor;
    m.limit = (uint32_t)d->cfg->pull_page;
    int rc = send_request(d, &m);
    wire_msg_free(&m);
    if (rc) send_failed(d, rc);
}

static void page_request(struct device *d, const char *table, uint64_t after)
{
    struct wire_msg m;
    wire_msg_init(&m, WIRE_PAGE_REQ);
    str_copy(m.table, sizeof m.table, table);
    m.after_seq = after;
    m.limit = (uint32_t)d->cfg->pull_page;
    int rc = send_request(d, &m);
    wire_msg_free(&m);
    if (rc) send_failed(d, rc);
}

/* RUN-11: the next read-only table to re-download, or pull when none. */
static void master_next(struct device *d)
{
    while (d->run.master_table < d->ntables && !d->tables[d->run.master_table].decl.read_only) {
        d->run.master_table++;
        d->run.master_after = 0;
    }
    if (d->run.master_table >= d->ntables) {
        d->run.phase = PH_PULL;
        pull_next(d);
        return;
    }
    page_request(d, d->tables[d->run.master_table].decl.name, d->run.master_after);
}

static void push_phase_done(struct device *d)
{
    d->run.push_done = true;   /* INV-ORDER: no pull before this */
    if (d->run.push_only) {
        run_complete(d);
    } else if (d->run.kind == KIND_MASTER) {
        d->run.phase = PH_MASTER;
        master_next(d);
    } else {
        d->run.phase = PH_PULL;
        pull_next(d);
    }
}

/* OUT-1: the next batch, in local order; RUN-1: an empty outbox sends nothing. */
static void push_next(struct device *d)
{
    /* Sized by what the outbox holds (a remembered count): most runs push
     * nothing, and a batch-sized array per push showed in every profile. */
    int64_t pending = store_outbox_count(d->st);
    if (pending < 0) { run_fail(d, "storage", 0); return; }
    if (pending == 0) { push_phase_done(d); return; }
    int cap = pending < d->cfg->push_batch ? (int)pending : d->cfg->push_batch;
    struct push_item *items = malloc((size_t)cap * sizeof *items);   /* filled by the store */
    if (!items) { run_fail(d, "memory", 0); return; }
    int n = store_outbox_batch(d->st, cap, d->run.push_max_seq, items, d->run.batch_seq);
    if (n <= 0) {
        free(items);
        if (n < 0) run_fail(d, "storage", 0);
        else push_phase_done(d);
        return;
    }
    struct wire_msg m;
    wire_msg_init(&m, WIRE_PUSH_REQ);
    m.items = items;
    m.nitems = n;
    d->run.batch_n = n;
    int rc = send_request(d, &m);
    wire_msg_free(&m);   /* frees items and their rows */
    if (rc) { send_failed(d, rc); return; }
    struct event e;
    ev_init(&e, "sync.push_sent");
    ev_int(&e, "items", n);
    dev_emit(d, &e);
}

static void initial_next(struct device *d);

void run_begin(struct device *d, enum sync_kind kind, uint64_t gen, bool push_only)
{
    SS_ASSERT(!d->run.active);
    SS_ASSERT(coord_is_current(&d->coord, gen));
    run_cancel_retry(d);                           /* RUN-9 */
    memset(&d->run, 0, sizeof d->run);
    d->run.active = true;
    d->run.kind = kind;
    d->run.gen = gen;
    d->run.push_only = push_only;
    d->run.started_mono = mono(d);
    emit_kind(d, "sync.started", kind, NULL);
    if (store_set_text(d->st, "holder", kind_name(kind)) != 0) {   /* COORD-7 */
        run_fail(d, "storage", 0);
        return;
    }
    if (kind == KIND_INITIAL) {
        d->run.phase = PH_INITIAL;
        initial_next(d);
        return;
    }
    d->run.phase = PH_PUSH;
    d->run.push_max_seq = store_outbox_max_seq(d->st);
    push_next(d);
}

/* ---- initial sync (INIT-1 … INIT-5) ---- */

static int next_download(struct device *d)
{
    for (int i = 0; i < d->ntables; i++)
        if (!d->tables[i].dl_done) return i;
    return -1;
}

/* INIT-4: completion commits with the last page (or alone when nothing was
 * left to download); INIT-1: the cursor becomes the first page's snapshot
 * if the device had none. Inside the caller's transaction. */
static int commit_completion(struct device *d, int64_t wall)
{
    int64_t snap = 0;
    if (store_get_int(d->st, "init_snapshot", &snap) < 0) return -1;
    uint64_t cursor = d->cursor ? d->cursor : (uint64_t)snap;
    if (store_set_int(d->st, "completed_at", wall) || store_set_int(d->st, "cursor", (int64_t)cursor)
        || store_del(d->st, "init_snapshot"))
        return -1;
    return 0;
}

static void initial_completed(struct device *d, int64_t wall)
{
    d->initial_complete = true;
    d->completed_at = wall;
    d->init_failures = 0;
    d->gave_up = false;
    struct event e;
    ev_init(&e, "initial.completed");
    dev_emit(d, &e);
    coord_initial_completed(&d->coord, wall, mono(d));
    run_complete(d);
    /* OUT-5: the periodic job starts its interval now. */
    d->env->set_timer(d->env->ctx, DT_PERIODIC, mono(d) + d->cfg->background_interval_ms);
    d->periodic_armed = true;
    /* COORD-10: a re-login pushes what is pending (after the cooldown, COORD-11). */
    if (d->outbox_n > 0) dev_request(d, KIND_REPOSITORY, false);
}

static void initial_next(struct device *d)
{
    int i = next_download(d);
    if (i >= 0) {
        page_request(d, d->tables[i].decl.name, d->tables[i].dl_after);
        return;
    }
    int64_t wall = d->env->now_ms(d->env->ctx);
    if (store_begin(d->st) || commit_completion(d, wall) || store_commit(d->st)) {
        store_rollback(d->st);
        run_fail(d, "storage", 0);
        return;
    }
    int64_t v;
    d->cursor = store_get_int(d->st, "cursor", &v) == 1 ? (uint64_t)v : d->cursor;
    initial_completed(d, wall);
}

/* INIT-5: pct over the tables, eta from this attempt's observed rate. */
static void page_event(struct device *d, const struct store_table *t)
{
    int64_t frac_sum = 0, remaining = 0;
    for (int i = 0; i < d->ntables; i++) {
        const struct store_table *x = &d->tables[i];
        if (x->dl_done) { frac_sum += 1000; continue; }
        if (x->dl_total > 0) {
            frac_sum += 1000 * (x->dl_rows < x->dl_total ? x->dl_rows : x->dl_total) / x->dl_total;
            remaining += x->dl_total > x->dl_rows ? x->dl_total - x->dl_rows : 0;
        }
    }
    int64_t pct = d->ntables ? frac_sum / 10 / d->ntables : 100;
    int64_t elapsed = mono(d) - d->run.started_mono;
    int64_t eta = d->run.init_rows > 0 ? remaining * elapsed / d->run.init_rows : 0;
    struct event e;
    ev_init(&e, "initial.page");
    ev_str(&e, "table", t->decl.name);
    ev_int(&e, "rows_done", t->dl_rows);
    ev_int(&e, "rows_total", t->dl_total);
    ev_int(&e, "pct", pct);
    ev_int(&e, "eta_ms", eta);
    dev_emit(d, &e);
}

static int apply_rows(struct device *d, const struct wire_msg *m)
{
    for (int i = 0; i < m->nrows; i++)
        if (apply_server_row(d, &m->rows[i], false) != 0) return -1;
    return 0;
}

static void on_initial_page(struct device *d, const struct wire_msg *m)
{
    int i = next_download(d);
    SS_ASSERT(i >= 0);
    struct store_table t = d->tables[i];
    if (m->table[0] && strcmp(m->table, t.decl.name) != 0) { run_fail(d, "protocol", 0); return; }
    if (t.dl_rows == 0 && t.dl_after == 0) t.dl_total = (int64_t)m->table_total;   /* INIT-5 */
    if (m->nrows > 0) t.dl_after = m->rows[m->nrows - 1].seq;
    t.dl_rows += m->nrows;
    t.dl_done = !m->has_more;
    /* Tables before i are done (i is the first undone); last if none after it is left. */
    bool last = t.dl_done;
    for (int k = i + 1; k < d->ntables; k++)
        if (!d->tables[k].dl_done) last = false;
    int64_t wall = d->env->now_ms(d->env->ctx), snap;
    int rc = store_begin(d->st);
    if (!rc) rc = apply_rows(d, m) || store_save_progress(d->st, &t);
    if (!rc && store_get_int(d->st, "init_snapshot", &snap) == 0)   /* INIT-1: first page of first attempt */
        rc = store_set_int(d->st, "init_snapshot", (int64_t)m->server_seq);
    if (!rc && last) rc = commit_completion(d, wall);
    if (rc || store_commit(d->st)) { store_rollback(d->st); run_fail(d, "storage", 0); return; }
    d->tables[i] = t;
    d->run.init_rows += m->nrows;
    coord_progress(&d->coord, mono(d));
    page_event(d, &t);
    if (t.dl_done) {
        struct event e;
        ev_init(&e, "initial.table_done");
        ev_str(&e, "table", t.decl.name);
        dev_emit(d, &e);
    }
    if (last) {
        int64_t v;
        if (store_get_int(d->st, "cursor", &v) == 1) d->cursor = (uint64_t)v;
        initial_completed(d, wall);
    } else {
        initial_next(d);
    }
}

/* ---- responses ---- */

/* OUT-3: a transport failure counts one attempt for every item of the batch;
 * an item at max_retries moves to the dead letters. */
static void count_attempt(struct device *d)
{
    if (d->run.phase != PH_PUSH || d->run.batch_n == 0) return;
    int n = d->run.batch_n, nev = 0;
    /* one dead letter per item at most: push_batch may be larger than OUT_PUSH_BATCH */
    char (*over)[OP_ID_MAX + 1] = malloc((size_t)n * sizeof *over);
    struct event *evs = NULL;
    if (!over || store_begin(d->st) != 0) goto out;
    nev = store_outbox_bump_range(d->st, d->run.batch_seq[0], d->run.batch_seq[1],
                                  d->cfg->max_retries, over, n);
    if (nev < 0 || (nev > 0 && !(evs = calloc((size_t)nev, sizeof *evs)))) goto fail;
    for (int i = 0; i < nev; i++) {
        if (store_deadletter(d->st, over[i], "retries") != 0) goto fail;
        ev_init(&evs[i], "outbox.deadlettered");
        ev_str(&evs[i], "op", over[i]);
        ev_str(&evs[i], "reason", "retries");
    }
    if (store_commit(d->st) != 0) goto out;
    dev_refresh_counts(d);
    for (int i = 0; i < nev; i++) dev_emit(d, &evs[i]);
    goto out;
fail:
    store_rollback(d->st);
out:
    free(over);
    free(evs);
}

static void transport_failure(struct device *d, const char *reason, int64_t retry_after)
{
    breaker_failure(d);
    count_attempt(d);
    run_fail(d, reason, retry_after);
}

static void push_acked_event(struct device *d, const int counts[4])
{
    struct event e;
    ev_init(&e, "sync.push_acked");
    ev_int(&e, "applied", counts[PUSH_APPLIED]);
    ev_int(&e, "stale", counts[PUSH_STALE]);
    ev_int(&e, "conflict", counts[PUSH_CONFLICT]);
    ev_int(&e, "rejected", counts[PUSH_REJECTED]);
    dev_emit(d, &e);
}

/* Applies every result in one transaction; returns events to emit after the
 * commit (RUN-10) or NULL on failure. */
static struct event *apply_acks(struct device *d, const struct wire_msg *m, int *nev, int counts[4])
{
    int cap = 2 * m->nresults + 2;
    struct event *evs = calloc((size_t)cap, sizeof *evs);
    if (!evs || store_begin(d->st) != 0) { free(evs); return NULL; }
    *nev = 0;
    for (int i = 0; i < m->nresults; i++) {
        const struct push_result *res = &m->results[i];
        struct push_item item;
        int found = store_outbox_get(d->st, res->op_id, &item);
        if (found < 0) goto fail;
        if (!found) continue;   /* not ours (or already settled): ignore */
        int k = apply_push_result(d, &item, res, evs + *nev, cap - *nev);
        row_free(&item.row);
        if (k < 0) goto fail;
        *nev += k;
        counts[res->outcome]++;
    }
    if (store_commit(d->st) == 0) return evs;
fail:
    store_rollback(d->st);
    free(evs);
    return NULL;
}

static void on_push_ack(struct device *d, const struct wire_msg *m)
{
    int nev = 0, counts[4] = {0};
    struct event *evs = apply_acks(d, m, &nev, counts);
    if (!evs) { run_fail(d, "storage", 0); return; }
    dev_refresh_counts(d);
    coord_progress(&d->coord, mono(d));
    push_acked_event(d, counts);
    for (int i = 0; i < nev; i++) dev_emit(d, &evs[i]);
    free(evs);
    d->run.batch_n = 0;
    push_next(d);
}

/* RUN-2: the page's rows and the new cursor commit together. */
static void on_pull_page(struct device *d, const struct wire_msg *m)
{
    uint64_t cursor = m->nrows > 0 ? m->rows[m->nrows - 1].seq : d->cursor;
    int rc = store_begin(d->st);
    if (!rc) rc = apply_rows(d, m) || store_set_int(d->st, "cursor", (int64_t)cursor);
    if (rc || store_commit(d->st)) { store_rollback(d->st); run_fail(d, "storage", 0); return; }
    d->cursor = cursor;
    coord_progress(&d->coord, mono(d));
    struct event e;
    ev_init(&e, "sync.pull_page");
    ev_int(&e, "rows", m->nrows);
    dev_emit(d, &e);
    if (m->has_more) { pull_next(d); return; }
    d->last_pull_done_mono = mono(d);
    run_complete(d);
}

/* RUN-11: a page of a read-only table, re-downloaded in full. */
static void on_master_page(struct device *d, const struct wire_msg *m)
{
    int rc = store_begin(d->st);
    if (!rc) rc = apply_rows(d, m);
    if (rc || store_commit(d->st)) { store_rollback(d->st); run_fail(d, "storage", 0); return; }
    coord_progress(&d->coord, mono(d));
    struct event e;
    ev_init(&e, "sync.pull_page");
    ev_int(&e, "rows", m->nrows);
    dev_emit(d, &e);
    if (m->has_more && m->nrows > 0) {
        d->run.master_after = m->rows[m->nrows - 1].seq;
    } else {
        d->run.master_table++;
        d->run.master_after = 0;
    }
    master_next(d);
}

static const enum wire_type expected_resp[] = {
    [PH_PUSH] = WIRE_PUSH_RESP, [PH_PULL] = WIRE_PULL_RESP,
    [PH_INITIAL] = WIRE_PAGE_RESP, [PH_MASTER] = WIRE_PAGE_RESP,
};

static void on_ok(struct device *d, const struct wire_msg *m)
{
    switch (d->run.phase) {
    case PH_PUSH: on_push_ack(d, m); break;
    case PH_PULL: on_pull_page(d, m); break;
    case PH_INITIAL: on_initial_page(d, m); break;
    case PH_MASTER: on_master_page(d, m); break;
    default: SS_ASSERT(!"response in no phase");
    }
}

void run_on_response(struct device *d, const struct wire_msg *m)
{
    if (d->zombie.req_id && m->req_id == d->zombie.req_id) {
        /* COORD-12: the force-released run commits nothing and ends silently. */
        emit_kind(d, "sync.fenced", d->zombie.kind, NULL);
        memset(&d->zombie, 0, sizeof d->zombie);
        return;
    }
    if (!d->run.active || d->run.req_id == 0 || m->req_id != d->run.req_id) return;   /* RUN-6 */
    SS_ASSERT(coord_is_current(&d->coord, d->run.gen));
    d->env->cancel_timer(d->env->ctx, DT_REQUEST);
    d->run.req_id = 0;
    if (m->status == WS_AUTH) {            /* RUN-7: logged out, never retried */
        breaker_success(d);
        dev_logout_internal(d, true);
        return;
    }
    if (m->status == WS_THROTTLE) { transport_failure(d, "throttled", m->retry_after_ms > 0 ? m->retry_after_ms : 0); return; }
    if (m->status != WS_OK || m->type != expected_resp[d->run.phase]) {
        char why[24];
        snprintf(why, sizeof why, "http_%d", m->status == WS_OK ? WS_PROTOCOL : m->status);
        transport_failure(d, why, 0);
        return;
    }
    breaker_success(d);
    on_ok(d, m);
}

void run_on_timeout(struct device *d)
{
    if (!d->run.active || d->run.req_id == 0) return;
    d->run.req_id = 0;   /* RUN-6: its late answer will be ignored */
    transport_failure(d, "timeout", 0);
}
