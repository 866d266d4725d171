/*
 * quiesce.c — the database-level checks (INV-GUARD, INV-DURABLE), SPEC §4's
 * quiesce and INV-CONVERGE. These read the device's database with SQL, as a
 * person would with the sqlite3 shell: the checker trusts the durable
 * state, not the device's memory.
 */
#include "world_int.h"

#include <stdlib.h>
#include <string.h>

/* arr with room for one more element after n (doubling *cap): arr itself
 * or its reallocation, NULL when out of memory (arr is then unchanged). */
static void *room(void *arr, int *cap, int n, size_t elem)
{
    if (arr && n < *cap) return arr;
    int c = *cap ? *cap * 2 : 64;
    void *v = realloc(arr, (size_t)c * elem);
    if (v) *cap = c;
    return v;
}

static sqlite3_stmt *prepared(struct sdev *d, sqlite3_stmt **slot, const char *sql)
{
    if (!*slot && sqlite3_prepare_v3(d->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK)
        return NULL;
    return *slot;
}

static int pending_count(struct sdev *d, const char *table, const char *id)
{
    sqlite3_stmt *st = prepared(d, &d->q_pending, "SELECT COUNT(*) FROM outbox WHERE tbl=?1 AND id=?2");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_reset(st);
    return n;
}

/* A row of the message, if its local version has a pending item: its stamp
 * now, to compare after the delivery. */
static void guard_add(struct sdev *d, const char *table, const char *id)
{
    if (pending_count(d, table, id) <= 0) return;
    sqlite3_stmt *st = prepared(d, &d->q_guard, "SELECT data FROM rows WHERE tbl=?1 AND id=?2");
    if (!st) return;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    struct row r = {0};
    if (sqlite3_step(st) == SQLITE_ROW
        && row_decode(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &r) >= 0) {
        struct guard_entry *v = room(d->guard, &d->guard_cap, d->nguard, sizeof *v);
        if (!v) {
            row_free(&r);
            sqlite3_reset(st);
            return;
        }
        d->guard = v;
        struct guard_entry *g = &d->guard[d->nguard++];
        str_copy(g->table, sizeof g->table, table);
        str_copy(g->id, sizeof g->id, id);
        g->st = r.st;
    }
    row_free(&r);
    sqlite3_reset(st);
}

/* Before a delivery: the rows the message carries (pulled, paged, acked)
 * that have a pending outbox item, with their current stamp. Only those can
 * be overwritten by applying it; with an empty outbox there are none, and a
 * message that does not decode applies nothing. */
void guard_snapshot(struct sdev *d, const uint8_t *msg, size_t len)
{
    d->nguard = 0;
    sqlite3_stmt *st = prepared(d, &d->q_any, "SELECT 1 FROM outbox LIMIT 1");
    if (!st) return;
    int any = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (!any) return;
    struct wire_msg m;
    struct wire_err err;
    if (wire_decode_keys(msg, len, &m, &err) != 0) return;
    for (int i = 0; i < m.nrows; i++) guard_add(d, m.rows[i].table, m.rows[i].id);
    for (int i = 0; i < m.nresults; i++)
        if (m.results[i].has_row) guard_add(d, m.results[i].row.table, m.results[i].row.id);
    wire_msg_free(&m);
}

/* Before the device's connection closes (crash, end of the world). */
void guard_close(struct sdev *d)
{
    sqlite3_finalize(d->q_guard);
    sqlite3_finalize(d->q_pending);
    sqlite3_finalize(d->q_any);
    d->q_guard = d->q_pending = d->q_any = NULL;
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
    void *v = room(s->ids, &s->cap, s->n, sizeof *s->ids);
    if (!v) return 1;
    s->ids = v;
    str_copy(s->ids[s->n++], OP_ID_MAX + 1, op_id);
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
    str_copy(why, n, w->failure);
    return -1;
}

/* ---- INV-CONVERGE ----
 *
 * One walk of each database, then in-memory lookups: the server's rows of a
 * user and each device's rows are loaded once, sorted by (table, id), and
 * compared by binary search (a lookup per row was most of a swarm seed's
 * time with seeded tables). The server rows meet the reference model once
 * per user. */

struct rowset {
    struct row *v;
    int n, cap;
    bool oom;
};

static int rowset_add(void *arg, const struct row *r)
{
    struct rowset *rs = arg;
    struct row *v = room(rs->v, &rs->cap, rs->n, sizeof *v);
    if (!v) { rs->oom = true; return 1; }
    rs->v = v;
    memset(&rs->v[rs->n], 0, sizeof rs->v[rs->n]);
    if (row_copy(&rs->v[rs->n], r) != 0) { rs->oom = true; return 1; }
    rs->n++;
    return 0;
}

static void rowset_free(struct rowset *rs)
{
    for (int i = 0; i < rs->n; i++) row_free(&rs->v[i]);
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

static int key_cmp(const char *ta, const char *ia, const char *tb, const char *ib)
{
    int c = strcmp(ta, tb);
    return c ? c : strcmp(ia, ib);
}

static int row_key_cmp(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    return key_cmp(x->table, x->id, y->table, y->id);
}

static const struct row *rowset_find(const struct rowset *rs, const char *table, const char *id)
{
    int lo = 0, hi = rs->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = key_cmp(rs->v[mid].table, rs->v[mid].id, table, id);
        if (c == 0) return &rs->v[mid];
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return NULL;
}

static int load_rows(struct rowset *rs, struct srv *srv, struct device *dev, const char *user)
{
    int rc = dev ? dev_foreach_row(dev, rowset_add, rs) : srv_foreach_row(srv, user, rowset_add, rs);
    if (rc < 0 || rs->oom) return -1;
    if (rs->n > 1) qsort(rs->v, (size_t)rs->n, sizeof *rs->v, row_key_cmp);
    return 0;
}

/* Every device row equals the server's; every server row of a synced table
 * is on the device (dead-lettered and conflicted rows excepted, OUT-3). */
static int compare_device(struct sdev *d, const struct rowset *srv_rows, char *why, size_t n)
{
    struct rowset mine = {0};
    if (load_rows(&mine, NULL, d->dev, NULL) != 0) {
        rowset_free(&mine);
        snprintf(why, n, "%s: cannot read the device's rows", d->spec.name);
        return 1;
    }
    static const struct row absent;
    int bad = 0;
    for (int i = 0; i < mine.n && !bad; i++) {
        const struct row *r = &mine.v[i];
        if (dev_row_excepted(d->dev, r->table, r->id)) continue;
        const struct row *s = rowset_find(srv_rows, r->table, r->id);
        if (s && row_equal(r, s, false)) continue;
        char a[256], b[256];
        row_format(r, a, sizeof a);
        row_format(s ? s : &absent, b, sizeof b);
        snprintf(why, n, "%s %s/%s differs: device {%s%s} server %s{%s%s}", d->spec.name,
                 r->table, r->id, a, r->deleted ? " deleted" : "", s ? "" : "(absent) ",
                 b, s && s->deleted ? " deleted" : "");
        bad = 1;
    }
    struct table_decl tabs[MAX_TABLES];
    int nt = dev_tables(d->dev, tabs, MAX_TABLES);
    for (int i = 0; i < srv_rows->n && !bad; i++) {
        const struct row *r = &srv_rows->v[i];
        bool synced = false;
        for (int t = 0; t < nt; t++) synced |= strcmp(tabs[t].name, r->table) == 0;
        if (!synced || rowset_find(&mine, r->table, r->id)) continue;
        if (dev_row_excepted(d->dev, r->table, r->id)) continue;
        snprintf(why, n, "%s lacks server row %s/%s", d->spec.name, r->table, r->id);
        bad = 1;
    }
    rowset_free(&mine);
    return bad;
}

/* The server's rows of user against the reference model, both ways. */
static int compare_reference(struct world *w, const char *user, const struct rowset *srv_rows,
                             char *why, size_t n)
{
    char msg[512];
    for (int i = 0; i < srv_rows->n; i++) {
        if (srvo_compare_row(w->srvo, user, &srv_rows->v[i], msg, sizeof msg) != 0) {
            snprintf(why, n, "server row differs from the reference model: %s", msg);
            return 1;
        }
    }
    if (srvo_missing(w->srvo, user, msg, sizeof msg) != 0) {
        snprintf(why, n, "the reference model has a row the server lacks: %s", msg);
        return 1;
    }
    return 0;
}

int world_check_converged(struct world *w, char *why, size_t n)
{
    w->check_counts[CK_CONVERGE]++;
    if (!w->server_up) { snprintf(why, n, "server is down"); return 1; }
    for (int i = 0; i < w->ndev; i++) check_durable(&w->devs[i]);   /* INV-DURABLE at the end too */
    if (w->failed) { str_copy(why, n, w->failure); return 1; }
    /* users in order; the server against the reference first (a server
     * that is wrong is the root cause), then each of the user's devices */
    for (int u = 0; u < w->nusers; u++) {
        struct rowset srv_rows = {0};
        int bad = 0;
        if (load_rows(&srv_rows, w->srv, NULL, w->users[u]) != 0) {
            snprintf(why, n, "cannot read the server's rows of %s", w->users[u]);
            bad = 1;
        }
        if (!bad) bad = compare_reference(w, w->users[u], &srv_rows, why, n);
        for (int i = 0; i < w->ndev && !bad; i++) {
            struct sdev *d = &w->devs[i];
            if (wants_sync(d) && strcmp(d->user, w->users[u]) == 0)
                bad = compare_device(d, &srv_rows, why, n);
        }
        rowset_free(&srv_rows);
        if (bad) return 1;
    }
    /* a device of a user past WORLD_MAX_USERS is compared on its own */
    for (int i = 0; i < w->ndev; i++) {
        struct sdev *d = &w->devs[i];
        if (!wants_sync(d) || user_index(w, d->user) >= 0) continue;
        struct rowset srv_rows = {0};
        int bad = load_rows(&srv_rows, w->srv, NULL, d->user) != 0;
        if (bad) snprintf(why, n, "cannot read the server's rows of %s", d->user);
        else bad = compare_device(d, &srv_rows, why, n);
        rowset_free(&srv_rows);
        if (bad) return 1;
    }
    return 0;
}
