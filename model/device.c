/*
 * device.c — a device's inputs (app calls, triggers, timers, messages,
 * connectivity), its lifecycle (start, login, logout, migration) and its
 * status. The sync run itself is in run.c; installing server rows in
 * apply.c.
 *
 * Every input is bracketed by enter()/leave(): before handling it, a pending
 * follow-up whose conditions hold starts (SPEC "Order at one instant");
 * after it, the follow-up gets another chance (COORD-11 "whichever first
 * finds them so"), its cooldown wake-up is armed and status recomputed.
 */
#include "device_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {
    "logged_out", "initial", "offline", "syncing", "deadletter", "error", "pending", "synced"
};

const char *dev_status_name(enum dev_status s)
{
    SS_ASSERT((int)s >= 0 && (int)s <= ST_SYNCED);
    return status_names[s];
}

void dev_emit(struct device *d, struct event *e)
{
    if (d->env->emit) d->env->emit(d->env->ctx, e);
}

struct coord_inputs dev_inputs(struct device *d)
{
    struct coord_inputs in = {
        .session = d->session,
        .initial_complete = d->initial_complete,
        .online = d->online,
        .wall = d->env->now_ms(d->env->ctx),
        .mono = d->env->mono_ms(d->env->ctx),
    };
    return in;
}

const struct store_table *dev_table(struct device *d, const char *name)
{
    for (int i = 0; i < d->ntables; i++)
        if (strcmp(d->tables[i].decl.name, name) == 0) return &d->tables[i];
    return NULL;
}

/* Cached counts (status, observation) refreshed after every change of the
 * outbox, the dead letters or the conflicts table. */
int dev_refresh_counts(struct device *d)
{
    int o = store_outbox_count(d->st), dl = store_deadletter_count(d->st);
    int c = store_conflict_count(d->st, false), co = store_conflict_count(d->st, true);
    if (o < 0 || dl < 0 || c < 0 || co < 0) return -1;
    d->outbox_n = o;
    d->dead_n = dl;
    d->conflicts_n = c;
    d->conflicts_open_n = co;
    return 0;
}

static int load_tables(struct device *d)
{
    int n = store_tables(d->st, d->tables, MAX_TABLES);
    if (n < 0) return -1;
    d->ntables = n;
    return 0;
}

static int load_settings(struct device *d)
{
    int64_t v;
    if (store_preload(d->st) != 0) return -1;   /* one query for what follows */
    if (store_get_text(d->st, "user", d->user, sizeof d->user) == 1
        && store_get_text(d->st, "token", d->token, sizeof d->token) == 1)
        d->session = true;
    d->initial_complete = store_get_int(d->st, "completed_at", &v) == 1;
    d->completed_at = d->initial_complete ? v : 0;
    d->cursor = store_get_int(d->st, "cursor", &v) == 1 ? (uint64_t)v : 0;
    d->op_seq = store_get_int(d->st, "op_seq", &v) == 1 ? (uint64_t)v : 0;
    d->hlc = store_get_int(d->st, "hlc", &v) == 1 ? v : 0;
    return load_tables(d) == 0 && dev_refresh_counts(d) == 0 ? 0 : -1;
}

struct device *dev_open(sqlite3 *db, const struct env *env, const struct config *cfg,
                        const char *name, const struct table_decl *tables, int ntables,
                        char *err, size_t errlen)
{
    SS_ASSERT(db && env && cfg && name);
    SS_ASSERT(env->now_ms && env->mono_ms && env->random && env->set_timer && env->cancel_timer);
    if (strlen(name) == 0 || strlen(name) > NAME_MAX_LEN || strchr(name, ':')) {
        snprintf(err, errlen, "device name must be 1..%d bytes without ':'", NAME_MAX_LEN);
        return NULL;
    }
    struct device *d = calloc(1, sizeof *d);
    if (!d) { snprintf(err, errlen, "out of memory"); return NULL; }
    d->db = db;
    d->env = env;
    d->cfg = cfg;
    str_copy(d->name, sizeof d->name, name);
    d->st = store_open(db, tables, ntables, err, errlen);
    if (!d->st) { dev_close(d); return NULL; }
    if (load_settings(d) != 0) {
        snprintf(err, errlen, "device database: %s", store_errmsg(d->st));
        dev_close(d);
        return NULL;
    }
    coord_init(&d->coord, env, cfg);
    d->last_pull_done_mono = -1;
    return d;
}

int dev_recycle(struct device *d, char *err, size_t errlen)
{
    SS_ASSERT(d && d->st);
    struct device keep = *d;
    memset(d, 0, sizeof *d);
    d->db = keep.db;
    d->st = keep.st;
    d->env = keep.env;
    d->cfg = keep.cfg;
    memcpy(d->name, keep.name, sizeof d->name);
    store_forget(d->st);   /* a new process remembers nothing */
    if (load_settings(d) != 0) {
        snprintf(err, errlen, "device database: %s", store_errmsg(d->st));
        dev_close(d);
        return -1;
    }
    coord_init(&d->coord, d->env, d->cfg);
    d->last_pull_done_mono = -1;
    return 0;
}

void dev_close(struct device *d)
{
    if (!d) return;
    store_close(d->st);
    free(d);
}

/* §1.8: the first status that applies. */
static enum dev_status compute_status(struct device *d)
{
    if (!d->session) return ST_LOGGED_OUT;
    if (!d->initial_complete) return ST_INITIAL;
    if (!d->online) return ST_OFFLINE;
    if (d->run.active) return ST_SYNCING;
    if (d->dead_n > 0) return ST_DEADLETTER;
    if (d->last_failed) return ST_ERROR;
    if (d->outbox_n > 0) return ST_PENDING;
    return ST_SYNCED;
}

static void update_status(struct device *d)
{
    enum dev_status s = compute_status(d);
    if (d->status_emitted && s == d->status) return;
    d->status = s;
    d->status_emitted = true;
    struct event e;
    ev_init(&e, "status");
    ev_str(&e, "status", dev_status_name(s));
    dev_emit(d, &e);
}

void dev_poll(struct device *d)
{
    if (!d->started) return;
    struct coord_inputs in = dev_inputs(d);
    enum sync_kind kind;
    uint64_t gen;
    if (coord_poll(&d->coord, &in, &kind, &gen)) {
        d->cooldown_armed = false;
        d->env->cancel_timer(d->env->ctx, DT_COOLDOWN);
        run_begin(d, kind, gen, false);
    }
}

/* COORD-11 / "Cooldown clock": a follow-up waiting on the cooldown is woken
 * by a monotonic timer set when it starts waiting. */
static void arm_cooldown(struct device *d)
{
    if (!d->coord.pending || d->cooldown_armed || !d->started) return;
    struct coord_inputs in = dev_inputs(d);
    int64_t at = coord_cooldown_wake(&d->coord, in.wall, in.mono);
    if (at < 0) return;
    d->env->set_timer(d->env->ctx, DT_COOLDOWN, at);
    d->cooldown_armed = true;
}

static void enter(struct device *d) { dev_poll(d); }

static void leave(struct device *d)
{
    dev_poll(d);
    arm_cooldown(d);
    if (d->started) update_status(d);
}

/* COORD-6/12: the force-released run is a zombie now (its late answers are
 * fenced) and no holder stays persisted (COORD-7); run_begin persists the
 * next one if this attempt takes the lock. */
static void forced_release(struct device *d)
{
    if (d->run.active) {
        d->zombie = d->run;
        memset(&d->run, 0, sizeof d->run);
    }
    store_del(d->st, "holder");
}

void dev_request(struct device *d, enum sync_kind kind, bool push_only)
{
    SS_ASSERT(d->started);
    struct coord_inputs in = dev_inputs(d);
    if (kind == KIND_INITIAL && d->gave_up) {
        /* INIT-3: any initial request ends the give-up and starts the
         * retry schedule again from its first step. */
        d->gave_up = false;
        d->init_failures = 0;
    }
    struct coord_result r = coord_acquire(&d->coord, kind, &in);
    if (r.forced) forced_release(d);
    if (r.answer == COORD_ACQUIRED) run_begin(d, kind, r.generation, push_only);
}

static void persist_holder_clear(struct device *d)
{
    char holder[32];
    if (store_get_text(d->st, "holder", holder, sizeof holder) != 1) return;
    /* COORD-7: a persisted holder at start is a lock from a killed process. */
    if (store_del(d->st, "holder") != 0) return;
    struct event e;
    ev_init(&e, "lock.stale_cleared");
    ev_str(&e, "holder", holder);
    dev_emit(d, &e);
}

static void arm_periodic(struct device *d)
{
    int64_t now = d->env->mono_ms(d->env->ctx);
    d->env->set_timer(d->env->ctx, DT_PERIODIC, now + d->cfg->background_interval_ms);
    d->periodic_armed = true;
}

void dev_start(struct device *d)
{
    SS_ASSERT(!d->started);
    d->started = true;
    d->online = true;   /* "A device starts online." */
    struct coord_inputs in = dev_inputs(d);
    coord_start(&d->coord, in.mono, d->initial_complete, d->completed_at);
    persist_holder_clear(d);
    update_status(d);
    if (d->session && d->initial_complete) {
        arm_periodic(d);                         /* OUT-5 */
        dev_request(d, KIND_BACKGROUND, false);  /* RUN-8 */
    } else if (d->session) {
        dev_request(d, KIND_INITIAL, false);     /* INIT-1 */
    }
    leave(d);
}

static int refused(struct device *d, const char *reason)
{
    struct event e;
    ev_init(&e, "app.write_refused");
    ev_str(&e, "reason", reason);
    dev_emit(d, &e);
    return DEV_EREFUSED;
}

static int login_refused(struct device *d, const char *reason)
{
    struct event e;
    ev_init(&e, "auth.login_refused");
    ev_str(&e, "reason", reason);
    dev_emit(d, &e);
    return DEV_EREFUSED;
}

/* COORD-10: another user's login clears the previous user's data first. */
static int switch_user(struct device *d, const char *user)
{
    char last[NAME_MAX_LEN + 1] = "";
    if (store_get_text(d->st, "last_user", last, sizeof last) != 1 || strcmp(last, user) == 0)
        return 0;
    if (d->outbox_n > 0 || d->dead_n > 0) return login_refused(d, "pending");
    if (store_begin(d->st) != 0) return DEV_ESTORAGE;
    if (store_clear_user_data(d->st) != 0) { store_rollback(d->st); return DEV_ESTORAGE; }
    if (store_commit(d->st) != 0) return DEV_ESTORAGE;
    d->cursor = 0;
    d->hlc = 0;
    return load_tables(d) == 0 && dev_refresh_counts(d) == 0 ? 0 : DEV_ESTORAGE;
}

int dev_login(struct device *d, const char *user, const char *token)
{
    SS_ASSERT(user && token);
    if (!d->started) return DEV_ESTATE;
    if (strlen(user) == 0 || strlen(user) > NAME_MAX_LEN || strlen(token) > TOKEN_MAX) return DEV_EINVAL;
    enter(d);
    int rc = d->session ? login_refused(d, "logged_in") : switch_user(d, user);
    if (rc == 0) {
        if (store_begin(d->st) != 0) { rc = DEV_ESTORAGE; goto out; }
        if (store_set_text(d->st, "user", user) || store_set_text(d->st, "token", token)
            || store_set_text(d->st, "last_user", user) || store_commit(d->st)) {
            store_rollback(d->st);
            rc = DEV_ESTORAGE;
            goto out;
        }
        str_copy(d->user, sizeof d->user, user);
        str_copy(d->token, sizeof d->token, token);
        d->session = true;
        d->init_failures = 0;
        dev_request(d, d->initial_complete ? KIND_BACKGROUND : KIND_INITIAL, false);
    }
out:
    leave(d);
    return rc;
}

/* Logout, 401 (RUN-7) and cancel-and-logout (INIT-3): the running sync is
 * fenced, the follow-up and retry discarded, the gate closes (COORD-10);
 * rows, progress, outbox and dead letters stay. */
void dev_logout_internal(struct device *d, bool by_401)
{
    run_fence_current(d);
    coord_discard_followup(&d->coord);
    run_cancel_retry(d);
    d->env->cancel_timer(d->env->ctx, DT_DEBOUNCE);
    d->env->cancel_timer(d->env->ctx, DT_COOLDOWN);
    d->env->cancel_timer(d->env->ctx, DT_PERIODIC);
    d->debounce_pending = d->cooldown_armed = d->periodic_armed = false;
    d->session = false;
    d->token[0] = 0;
    d->initial_complete = false;
    d->gave_up = false;
    coord_reset_initial(&d->coord);
    if (store_begin(d->st) == 0) {
        if (store_del(d->st, "user") || store_del(d->st, "token") || store_del(d->st, "completed_at")
            || store_commit(d->st))
            store_rollback(d->st);
    }
    struct event e;
    ev_init(&e, "auth.logged_out");
    if (by_401) ev_str(&e, "reason", "401");
    dev_emit(d, &e);
}

int dev_logout(struct device *d)
{
    if (!d->started || !d->session) return DEV_ESTATE;
    enter(d);
    dev_logout_internal(d, false);
    leave(d);
    return 0;
}

int dev_cancel_initial(struct device *d)
{
    /* "cancel-initial while initial sync is complete does nothing." */
    if (!d->started || !d->session || d->initial_complete) return DEV_ESTATE;
    enter(d);
    dev_logout_internal(d, false);
    leave(d);
    return 0;
}

int64_t dev_stamp_clock(struct device *d)
{
    int64_t wall = d->env->now_ms(d->env->ctx);
    if (d->cfg->clock != CLOCK_HLC) return wall;
    /* CONF-4: modified_at = max(wall, H + 1). */
    int64_t at = wall > d->hlc + 1 ? wall : d->hlc + 1;
    d->hlc = at;
    return at;
}

void dev_hlc_seen(struct device *d, int64_t at)
{
    if (d->cfg->clock == CLOCK_HLC && at > d->hlc) d->hlc = at;
}

/* The row a write produces: the stored row (or a new one) with the named
 * fields set at one stamp; a delete sets the tombstone and keeps the fields,
 * a write onto a tombstone clears it (§1.1). */
static int build_write(struct row *r, const struct stamp *stp, int n,
                       const char *const *names, const char *const *values, bool del)
{
    for (int i = 0; i < n; i++)
        if (row_set(r, names[i], values[i], stp) != 0) return -1;
    if (del || r->deleted) {
        r->deleted = del;
        r->del_st = *stp;
    }
    r->st = *stp;
    r->seq = 0;
    return 0;
}

/* One SQLite transaction: the row and its outbox item (INV-DURABLE) and,
 * for `resolve … local`, the conflicts it resolves (so a crash never leaves
 * the write without its resolution, or the other way round). */
int dev_local_write(struct device *d, const char *table, const char *id, int n,
                    const char *const *names, const char *const *values, bool del,
                    bool resolves)
{
    struct row r = {0};
    uint64_t base = 0;
    int64_t hlc_before = d->hlc;
    if (store_begin(d->st) != 0) return DEV_ESTORAGE;
    int found = store_get_row(d->st, table, id, &r, &base);
    if (found < 0) goto fail;
    if (!found) row_init(&r, table, id);
    struct stamp stp = { .at = dev_stamp_clock(d), .seq = d->op_seq + 1 };
    str_copy(stp.by, sizeof stp.by, d->name);
    bool built = build_write(&r, &stp, n, names, values, del) == 0;
    if (!built || r.nfields > ROW_MAX_FIELDS || row_bytes(&r) > ROW_MAX_BYTES) {
        /* §1.1: the device refuses a write whose row breaks the limits. */
        const char *why = !built ? NULL : r.nfields > ROW_MAX_FIELDS ? "invalid" : "too_large";
        store_rollback(d->st);
        row_free(&r);
        d->hlc = hlc_before;
        return why ? refused(d, why) : DEV_EINVAL;
    }
    char op_id[OP_ID_MAX + 1];
    snprintf(op_id, sizeof op_id, "%s:%llu", d->name, (unsigned long long)stp.seq);
    if (store_put_row(d->st, &r, base) || store_outbox_append(d->st, op_id, &r, base)
        || store_set_int(d->st, "op_seq", (int64_t)stp.seq)
        || (d->cfg->clock == CLOCK_HLC && store_set_int(d->st, "hlc", d->hlc))
        || (resolves && store_conflict_resolve(d->st, table, id, "local"))
        || store_commit(d->st))
        goto fail;
    row_free(&r);
    d->op_seq = stp.seq;
    d->outbox_n++;
    return 0;
fail:
    store_rollback(d->st);
    row_free(&r);
    d->hlc = hlc_before;
    return DEV_ESTORAGE;
}

/* OUT-4: a repository trigger `debounce` after the first uncovered write. */
static void debounce(struct device *d)
{
    if (d->debounce_pending) return;
    int64_t now = d->env->mono_ms(d->env->ctx);
    d->env->set_timer(d->env->ctx, DT_DEBOUNCE, now + d->cfg->debounce_ms);
    d->debounce_pending = true;
}

static int check_write(struct device *d, const char *table, const char *id)
{
    if (!d->session) return refused(d, "logged_out");
    if (!d->initial_complete) return refused(d, "initial");          /* INIT-2 */
    const struct store_table *t = dev_table(d, table);
    if (!t) return refused(d, "unknown_table");
    if (t->decl.read_only) return refused(d, "read_only");
    if (strlen(id) == 0 || strlen(id) > ROW_ID_MAX) return refused(d, "invalid");
    return 0;
}

static int app_write(struct device *d, const char *table, const char *id, int n,
                     const char *const *names, const char *const *values, bool del)
{
    SS_ASSERT(table && id && n >= 0);
    if (!d->started) return DEV_ESTATE;
    enter(d);
    int rc = check_write(d, table, id);
    if (rc == 0 && n > ROW_HARD_FIELDS) rc = refused(d, "invalid");
    if (rc == 0) rc = dev_local_write(d, table, id, n, names, values, del, false);
    if (rc == 0) debounce(d);
    leave(d);
    return rc;
}

int dev_write(struct device *d, const char *table, const char *id, int n,
              const char *const *names, const char *const *values)
{
    return app_write(d, table, id, n, names, values, false);
}

int dev_delete(struct device *d, const char *table, const char *id)
{
    return app_write(d, table, id, 0, NULL, NULL, true);
}

void dev_trigger(struct device *d, enum sync_kind kind)
{
    SS_ASSERT((int)kind >= 0 && kind < KIND_COUNT);
    if (!d->started) return;
    enter(d);
    dev_request(d, kind, false);
    leave(d);
}

/* "Connectivity back" of SPEC §1.2 and RUN-8. */
static void came_online(struct device *d)
{
    if (!d->session) return;
    if (!d->initial_complete) {
        if (!d->gave_up) dev_request(d, KIND_INITIAL, false);
        return;
    }
    if (coord_force_if_stale(&d->coord, d->env->mono_ms(d->env->ctx))) forced_release(d);
    bool had_pending = d->coord.pending;
    dev_poll(d);
    if (!had_pending) dev_request(d, KIND_BACKGROUND, false);   /* RUN-8 */
}

void dev_set_online(struct device *d, bool online)
{
    if (!d->started) { d->online = online; return; }
    enter(d);
    bool was = d->online;
    d->online = online;
    if (online && !was) came_online(d);
    leave(d);
}

void dev_on_timer(struct device *d, int id)
{
    SS_ASSERT(id >= 0 && id < DT_COUNT);
    if (!d->started) return;
    enter(d);
    switch (id) {
    case DT_DEBOUNCE:
        d->debounce_pending = false;
        dev_request(d, KIND_REPOSITORY, false);
        break;
    case DT_RETRY:
        d->retry_pending = false;
        dev_request(d, d->retry_kind, false);   /* RUN-4: through acquire like any other */
        break;
    case DT_COOLDOWN:
        d->cooldown_armed = false;              /* leave() polls */
        break;
    case DT_PERIODIC:
        arm_periodic(d);
        if (d->session && d->initial_complete) dev_request(d, KIND_BACKGROUND, true);  /* OUT-5 */
        break;
    case DT_REQUEST:
        run_on_timeout(d);
        break;
    case DT_BREAKER:
        run_on_breaker_timer(d);
        break;
    }
    leave(d);
}

void dev_on_message(struct device *d, const uint8_t *msg, size_t len)
{
    if (!d->started) return;
    enter(d);
    struct wire_msg m;
    struct wire_err err;
    if (wire_decode(msg, len, &m, &err) == 0) run_on_response(d, &m);
    wire_msg_free(&m);
    leave(d);
}

int dev_migrate_add_table(struct device *d, const struct table_decl *t)
{
    SS_ASSERT(t);
    if (!d->started) return DEV_ESTATE;
    if (dev_table(d, t->name)) return DEV_EINVAL;
    if (d->ntables >= MAX_TABLES) return DEV_EINVAL;
    enter(d);
    int rc = 0;
    if (store_begin(d->st) || store_add_table(d->st, t) || store_del(d->st, "completed_at")
        || store_commit(d->st)) {
        store_rollback(d->st);
        rc = DEV_ESTORAGE;
    } else {
        load_tables(d);
        /* COORD-10: the gate closes; only the new table is downloaded. */
        run_fence_current(d);
        d->initial_complete = false;
        d->gave_up = false;
        d->init_failures = 0;
        coord_reset_initial(&d->coord);
        if (d->session) dev_request(d, KIND_INITIAL, false);
    }
    leave(d);
    return rc;
}

int dev_requeue(struct device *d)
{
    if (!d->started) return DEV_ESTATE;
    enter(d);
    int rc = 0;
    if (store_begin(d->st) || store_requeue(d->st) || store_commit(d->st)) {
        store_rollback(d->st);
        rc = DEV_ESTORAGE;
    }
    dev_refresh_counts(d);
    if (rc == 0 && d->session) debounce(d);   /* OUT-3, OUT-4 */
    leave(d);
    return rc;
}

/* CONF-2 `resolve … local`: one new write setting every field the row's open
 * conflicts set, with the latest value of each (a delete if the latest was). */
static int resolve_local(struct device *d, const char *table, const char *id)
{
    struct row open[16];
    int n = store_conflict_list_open(d->st, table, id, open, 16);
    if (n <= 0) return DEV_EINVAL;
    const char *names[ROW_HARD_FIELDS], *values[ROW_HARD_FIELDS];
    int k = 0;
    bool del = false;
    for (int i = 0; i < n; i++) {
        const struct row *c = &open[i];
        if (stamp_cmp(&c->del_st, &c->st) == 0) del = c->deleted;
        for (int f = 0; f < c->nfields; f++) {
            if (stamp_cmp(&c->fields[f].st, &c->st) != 0) continue;
            int j = 0;
            while (j < k && strcmp(names[j], c->fields[f].name) != 0) j++;
            if (j == k && k < ROW_HARD_FIELDS) names[k++] = c->fields[f].name;
            if (j < ROW_HARD_FIELDS) values[j] = c->fields[f].value;
        }
    }
    int rc = dev_local_write(d, table, id, k, names, values, del, true);
    for (int i = 0; i < n; i++) row_free(&open[i]);
    return rc;
}

int dev_resolve(struct device *d, const char *table, const char *id, bool take_local)
{
    if (!d->started) return DEV_ESTATE;
    if (!store_conflict_open(d->st, table, id)) return DEV_EINVAL;
    enter(d);
    int rc = take_local ? resolve_local(d, table, id) : 0;
    if (rc == 0) {
        const char *winner = take_local ? "local" : "remote";
        if (!take_local && store_conflict_resolve(d->st, table, id, winner) != 0) rc = DEV_ESTORAGE;
        struct event e;
        ev_init(&e, "conflict.resolved");
        ev_str(&e, "table", table);
        ev_str(&e, "id", id);
        ev_str(&e, "winner", winner);
        dev_refresh_counts(d);
        if (rc == 0) dev_emit(d, &e);
        if (rc == 0 && take_local) debounce(d);
    }
    leave(d);
    return rc;
}

void dev_get_state(struct device *d, struct dev_state *s)
{
    memset(s, 0, sizeof *s);
    s->started = d->started;
    s->session = d->session;
    str_copy(s->user, sizeof s->user, d->session ? d->user : "");
    s->online = d->online;
    s->initial_complete = d->initial_complete;
    s->initial_gave_up = d->gave_up;
    s->lock_held = d->coord.held;
    s->holder = d->coord.holder;
    s->followup_pending = d->coord.pending;
    s->followup_kind = d->coord.pending_kind;
    s->request_in_flight = d->run.req_id != 0;
    s->retry_pending = d->retry_pending;
    s->debounce_pending = d->debounce_pending;
    s->run_active = d->run.active;
    s->run_push_done = d->run.push_done;
    s->outbox = d->outbox_n;
    s->deadletters = d->dead_n;
    s->conflicts = d->conflicts_n;
    s->conflicts_unresolved = d->conflicts_open_n;
    s->status = d->started ? compute_status(d) : d->status;
    s->cursor = d->cursor;
    s->initial_completed_at = d->initial_complete ? d->completed_at : 0;
    s->generation = d->coord.generation;
    s->last_pull_done_mono = d->last_pull_done_mono;
}

int dev_get_row(struct device *d, const char *table, const char *id, struct row *out)
{
    return store_get_row(d->st, table, id, out, NULL);
}

int dev_foreach_row(struct device *d, int (*fn)(void *arg, const struct row *r), void *arg)
{
    return store_foreach_row(d->st, fn, arg);
}

int dev_foreach_op(struct device *d, int (*fn)(void *arg, const char *op_id, bool dead), void *arg)
{
    return store_foreach_op(d->st, fn, arg);
}

bool dev_row_excepted(struct device *d, const char *table, const char *id)
{
    /* the counts are remembered by the store: no lookup when none can match */
    return (store_deadletter_count(d->st) != 0 && store_row_deadlettered(d->st, table, id))
        || (store_conflict_count(d->st, true) != 0 && store_conflict_open(d->st, table, id));
}

int dev_tables(struct device *d, struct table_decl *out, int cap)
{
    int n = d->ntables < cap ? d->ntables : cap;
    for (int i = 0; i < n; i++) out[i] = d->tables[i].decl;
    return n;
}

const char *dev_name(const struct device *d) { return d->name; }
uint64_t dev_last_op_seq(const struct device *d) { return d->op_seq; }
sqlite3 *dev_db(struct device *d) { return d->db; }
