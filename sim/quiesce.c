/*
 * quiesce.c — the database-level checks (INV-GUARD, INV-DURABLE), SPEC §4's
 * quiesce and INV-CONVERGE. These read the device's database with SQL, as a
 * person would with the sqlite3 shell: the checker trusts the durable
 * state, not the device's memory.
 */
#include "world_int.h"

#include <stdlib.h>
#include <string.h>

/* Rows with a pending outbox item, with their current stamp. */
void guard_snapshot(struct sdev *d)
{
    d->nguard = 0;
    if (!d->q_guard
        && sqlite3_prepare_v3(d->db, "SELECT DISTINCT o.tbl, o.id, r.data FROM outbox o JOIN rows r"
                              " ON r.tbl=o.tbl AND r.id=o.id ORDER BY o.tbl, o.id", -1,
                              SQLITE_PREPARE_PERSISTENT, &d->q_guard, NULL) != SQLITE_OK)
        return;
    sqlite3_stmt *st = d->q_guard;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (d->nguard == d->guard_cap) {
            int cap = d->guard_cap ? d->guard_cap * 2 : 64;
            struct guard_entry *v = realloc(d->guard, (size_t)cap * sizeof *v);
            if (!v) break;
            d->guard = v;
            d->guard_cap = cap;
        }
        struct guard_entry *g = &d->guard[d->nguard];
        struct row r = {0};
        if (row_decode(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), &r) < 0) continue;
        snprintf(g->table, sizeof g->table, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(g->id, sizeof g->id, "%s", (const char *)sqlite3_column_text(st, 1));
        g->st = r.st;
        row_free(&r);
        d->nguard++;
    }
    sqlite3_reset(st);
}

/* Before the device's connection closes (crash, end of the world). */
void guard_close(struct sdev *d)
{
    sqlite3_finalize(d->q_guard);
    sqlite3_finalize(d->q_pending);
    d->q_guard = d->q_pending = NULL;
}

static int pending_count(struct sdev *d, const char *table, const char *id)
{
    if (!d->q_pending
        && sqlite3_prepare_v3(d->db, "SELECT COUNT(*) FROM outbox WHERE tbl=?1 AND id=?2", -1,
                              SQLITE_PREPARE_PERSISTENT, &d->q_pending, NULL) != SQLITE_OK)
        return -1;
    sqlite3_stmt *st = d->q_pending;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_reset(st);
    return n;
}

/* INV-GUARD: a row whose item is still pending after the delivery kept its
 * local version. */
void check_guard(struct sdev *d)
{
    struct world *w = d->w;
    for (int i = 0; i < d->nguard && !w->failed; i++) {
        struct guard_entry *g = &d->guard[i];
        struct row r = {0};
        if (pending_count(d, g->table, g->id) <= 0) continue;
        w->check_counts[CK_GUARD]++;
        if (dev_get_row(d->dev, g->table, g->id, &r) == 1 && stamp_cmp(&r.st, &g->st) != 0)
            world_fail(w, "INV-GUARD", "%s: pulled row %s/%s replaced a local row with a pending outbox item",
                       d->spec.name, g->table, g->id);
        row_free(&r);
    }
    d->nguard = 0;
}

struct op_set { char (*ids)[OP_ID_MAX + 1]; int n, cap; };

static int collect_op(void *arg, const char *op_id, bool dead)
{
    struct op_set *s = arg;
    (void)dead;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        void *v = realloc(s->ids, (size_t)cap * sizeof *s->ids);
        if (!v) return 1;
        s->ids = v;
        s->cap = cap;
    }
    snprintf(s->ids[s->n++], OP_ID_MAX + 1, "%s", op_id);
    return 0;
}

static bool in_set(const struct op_set *s, const char *id)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0) return true;
    return false;
}

/* INV-DURABLE: every write acknowledged to the app is in the outbox, the
 * dead letters, or seen by the server. Checked at every (re)start. */
void check_durable(struct sdev *d)
{
    struct world *w = d->w;
    if (!w->server_up || !d->running || d->nacked == 0) return;
    struct op_set s = {0};
    dev_foreach_op(d->dev, collect_op, &s);
    for (int i = 0; i < d->nacked && !w->failed; i++) {
        char op[OP_ID_MAX + 1];
        snprintf(op, sizeof op, "%s:%llu", d->spec.name, (unsigned long long)d->acked[i]);
        w->check_counts[CK_DURABLE]++;
        if (in_set(&s, op)) continue;
        bool seen = false;
        for (int u = 0; u < w->nusers && !seen; u++) seen = srv_op_seen(w->srv, w->users[u], op) == 1;
        if (!seen)
            world_fail(w, "INV-DURABLE", "%s: acknowledged write %s is neither in the outbox, "
                       "the dead letters nor on the server", d->spec.name, op);
    }
    free(s.ids);
}

/* ---- quiesce (SPEC §4) ---- */

static bool wants_sync(struct sdev *d)
{
    if (!d->running) return false;
    struct dev_state st;
    dev_get_state(d->dev, &st);
    return st.session;
}

static bool idle(struct sdev *d, struct dev_state *st)
{
    dev_get_state(d->dev, st);
    return !st->lock_held && !st->followup_pending && !st->retry_pending && !st->debounce_pending
           && !st->request_in_flight && st->outbox == 0 && st->initial_complete;
}

static void kick(struct world *w, int i)
{
    struct dev_state st;
    dev_get_state(w->devs[i].dev, &st);
    if (!st.initial_complete && !(st.lock_held && st.holder == KIND_INITIAL))
        world_trigger(w, i, KIND_INITIAL);
    else
        world_trigger(w, i, KIND_MANUAL);
}

/* Is every started, logged-in device idle and pulled after its user's last
 * change? Kicks the idle ones that are not. */
static bool settled(struct world *w)
{
    bool all = true;
    for (int i = 0; i < w->ndev; i++) {
        struct sdev *d = &w->devs[i];
        if (!wants_sync(d)) continue;
        struct dev_state st;
        bool quiet = idle(d, &st);
        int u = user_index(w, d->user);
        bool fresh = u >= 0 && d->synced_step > w->last_change_step[u];
        if (quiet && fresh) continue;
        all = false;
        /* A gate-blocked follow-up waits for initial sync, which waits for the user (INIT-3). */
        bool stuck_initial = !st.initial_complete && !st.lock_held && !st.retry_pending;
        if ((quiet && !fresh) || stuck_initial) kick(w, i);
    }
    return all;
}

int world_quiesce(struct world *w, int64_t limit_ms, char *why, size_t n)
{
    trace_line(&w->trace, w->now, "world", "quiesce");
    world_heal(w, -1);
    if (!w->server_up) world_server_restart(w);
    for (int i = 0; i < w->ndev; i++) {
        if (w->devs[i].crashed) world_restart(w, i);
        /* Connectivity flaps are a fault too: a quiesced device is told it is online. */
        struct dev_state st;
        if (w->devs[i].running && (dev_get_state(w->devs[i].dev, &st), !st.online))
            world_set_online(w, i, true);
        if (wants_sync(&w->devs[i])) kick(w, i);
    }
    int64_t end = w->now + limit_ms;
    while (!w->failed && w->now < end) {
        if (world_run_before(w, w->now + 1000) != 0) break;
        if (settled(w)) {
            trace_line(&w->trace, w->now, "world", "quiesced");
            return 0;
        }
    }
    if (!w->failed)
        world_fail(w, "INV-CONVERGE", "not quiet within %lld ms of quiesce (liveness)", (long long)limit_ms);
    snprintf(why, n, "%s", w->failure);
    return -1;
}

/* ---- INV-CONVERGE ---- */

struct cmp_ctx {
    struct world *w;
    struct sdev *d;
    const char *user;
    char *why;
    size_t n;
    int bad;
    int rows;
};

static int cmp_device_row(void *arg, const struct row *r)
{
    struct cmp_ctx *c = arg;
    c->rows++;
    if (dev_row_excepted(c->d->dev, r->table, r->id)) return 0;
    struct row s = {0};
    int found = srv_get_row(c->w->srv, c->user, r->table, r->id, &s);
    if (found != 1 || !row_equal(r, &s, false)) {
        char a[256], b[256];
        row_format(r, a, sizeof a);
        row_format(&s, b, sizeof b);
        snprintf(c->why, c->n, "%s %s/%s differs: device {%s%s} server %s{%s%s}", c->d->spec.name,
                 r->table, r->id, a, r->deleted ? " deleted" : "", found == 1 ? "" : "(absent) ",
                 b, s.deleted ? " deleted" : "");
        c->bad = 1;
    }
    row_free(&s);
    return c->bad;
}

static int cmp_server_row(void *arg, const struct row *r)
{
    struct cmp_ctx *c = arg;
    char why[512];
    if (srvo_compare_row(c->w->srvo, c->user, r, why, sizeof why) != 0) {
        snprintf(c->why, c->n, "server row differs from the reference model: %s", why);
        c->bad = 1;
        return 1;
    }
    if (!c->d) return 0;
    struct table_decl tabs[MAX_TABLES];
    int nt = dev_tables(c->d->dev, tabs, MAX_TABLES);
    bool synced = false;
    for (int i = 0; i < nt; i++) synced |= strcmp(tabs[i].name, r->table) == 0;
    if (!synced || dev_row_excepted(c->d->dev, r->table, r->id)) return 0;
    struct row local = {0};
    if (dev_get_row(c->d->dev, r->table, r->id, &local) != 1) {
        snprintf(c->why, c->n, "%s lacks server row %s/%s", c->d->spec.name, r->table, r->id);
        c->bad = 1;
    }
    row_free(&local);
    return c->bad;
}

int world_check_converged(struct world *w, char *why, size_t n)
{
    w->check_counts[CK_CONVERGE]++;
    if (!w->server_up) { snprintf(why, n, "server is down"); return 1; }
    for (int i = 0; i < w->ndev; i++) check_durable(&w->devs[i]);   /* INV-DURABLE at the end too */
    if (w->failed) { snprintf(why, n, "%s", w->failure); return 1; }
    for (int i = 0; i < w->ndev; i++) {
        struct sdev *d = &w->devs[i];
        if (!wants_sync(d)) continue;
        struct cmp_ctx c = { w, d, d->user, why, n, 0, 0 };
        dev_foreach_row(d->dev, cmp_device_row, &c);
        if (!c.bad) srv_foreach_row(w->srv, d->user, cmp_server_row, &c);
        if (c.bad) return 1;
    }
    for (int u = 0; u < w->nusers; u++) {
        struct cmp_ctx c = { w, NULL, w->users[u], why, n, 0, 0 };
        srv_foreach_row(w->srv, w->users[u], cmp_server_row, &c);
        if (c.bad) return 1;
        char missing[512];
        if (srvo_missing(w->srvo, w->users[u], missing, sizeof missing) != 0) {
            snprintf(why, n, "the reference model has a row the server lacks: %s", missing);
            return 1;
        }
    }
    return 0;
}
