/*
 * test_device.c — end-to-end unit tests of the device engine (device.h)
 * against the real server (server.h).
 *
 * A tiny hand-stepped world drives them: per device a manual wall clock
 * (world time + skew) and monotonic clock, a counter-seeded xorshift random,
 * a timer table (set/cancel by id; w_advance fires due timers in deadline
 * order, ties in the order they were set, as the simulator's heap does), a
 * captured queue of sent requests that the test delivers to srv_handle — or
 * drops, duplicates, holds back, or answers with a forged status — and every
 * event recorded as its ev_format line so tests assert exact sequences and
 * counts. Each device and the server run on their own ":memory:" database;
 * a crash is dev_close + dev_open on the same connection.
 *
 * Every test is named for the SPEC ids it checks (grep the id).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "config.h"
#include "device.h"
#include "event.h"
#include "server.h"
#include "wire.h"

#define W0 1767225600000LL   /* 2026-01-01T00:00:00Z (SPEC §3) */
#define H_MAX_DEV 3
#define H_MAX_EV 16384
#define H_LINE 256
#define H_MAX_PEND 64
#define H_MAX_SENT 4096
#define H_MAX_TX 4096
#define H_MAX_RETRY 256

/* ---- the world ------------------------------------------------------- */

struct msg {
    uint8_t *buf;
    size_t len;
    uint64_t req_id;
    enum wire_type type;
};

/* What a device sent, decoded at send time. */
struct sent {
    enum wire_type type;
    char table[NAME_MAX_LEN + 1];
    uint64_t after;              /* page: after_seq; pull: cursor */
    int nitems;
    uint64_t first_seq, last_seq;/* op seqs of a push ("device:seq") */
    int ordered;                 /* op ids of this device, seqs strictly increasing */
};

/* One committed write transaction of a device database. */
struct txrec {
    char tbl[12][24];
    int ntbl;
    int64_t settings[16];        /* rowids of `settings` touched */
    int nset;
};

struct world;

struct hdev {
    struct world *w;
    char name[32];
    sqlite3 *db;
    struct device *d;
    struct env env;
    struct config cfg;
    struct table_decl tables[MAX_TABLES];
    int ntables;
    int64_t mono;
    int64_t skew;
    uint64_t rng;
    bool t_set[DT_COUNT];
    int64_t t_at[DT_COUNT];
    uint64_t t_seq[DT_COUNT];
    struct msg pend[H_MAX_PEND];
    int npend;
    struct sent *sent;
    int nsent;
    char (*ev)[H_LINE];
    int nev;
    int64_t retry_delay[H_MAX_RETRY];   /* every DT_RETRY set: at − mono */
    int nretry;
    /* RUN-10: what the database held when progress events were emitted */
    int progress_events;
    int progress_in_tx;
    int64_t outbox_at_ack;
    int64_t cursor_at_pull;
    struct txrec *tx;
    int ntx;
    struct txrec cur;
};

struct world {
    int64_t now;                 /* ms since W0 */
    sqlite3 *sdb;
    struct srv *srv;
    struct env senv;
    struct config scfg;
    uint64_t srng;
    struct hdev dev[H_MAX_DEV];
    int ndev;
    uint64_t tseq;
};

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ---- device env ---- */

static int64_t h_now(void *ctx)
{
    struct hdev *h = ctx;
    return W0 + h->w->now + h->skew;
}

static int64_t h_mono(void *ctx) { return ((struct hdev *)ctx)->mono; }
static uint64_t h_random(void *ctx) { return xorshift(&((struct hdev *)ctx)->rng); }

static void h_set_timer(void *ctx, int id, int64_t at)
{
    struct hdev *h = ctx;
    assert_true(id >= 0 && id < DT_COUNT);
    h->t_set[id] = true;
    h->t_at[id] = at;
    h->t_seq[id] = ++h->w->tseq;
    if (id == DT_RETRY) {
        assert_true(h->nretry < H_MAX_RETRY);
        h->retry_delay[h->nretry++] = at - h->mono;
    }
}

static void h_cancel_timer(void *ctx, int id)
{
    struct hdev *h = ctx;
    assert_true(id >= 0 && id < DT_COUNT);
    h->t_set[id] = false;
}

static uint64_t op_seq_of(const struct hdev *h, const char *op_id, int *ok)
{
    size_t n = strlen(h->name);
    if (strncmp(op_id, h->name, n) != 0 || op_id[n] != ':') { *ok = 0; return 0; }
    return strtoull(op_id + n + 1, NULL, 10);
}

static void log_sent(struct hdev *h, const uint8_t *buf, size_t len)
{
    struct wire_msg m;
    struct wire_err err;
    assert_int_equal(wire_decode(buf, len, &m, &err), 0);
    assert_true(h->nsent < H_MAX_SENT);
    struct sent *s = &h->sent[h->nsent++];
    memset(s, 0, sizeof *s);
    s->type = m.type;
    snprintf(s->table, sizeof s->table, "%s", m.table);
    s->after = m.type == WIRE_PAGE_REQ ? m.after_seq : m.cursor;
    s->nitems = m.nitems;
    s->ordered = 1;
    for (int i = 0; i < m.nitems; i++) {
        uint64_t seq = op_seq_of(h, m.items[i].op_id, &s->ordered);
        if (i == 0) s->first_seq = seq;
        else if (seq <= s->last_seq) s->ordered = 0;
        s->last_seq = seq;
    }
    wire_msg_free(&m);
}

static void h_send(void *ctx, const uint8_t *buf, size_t len)
{
    struct hdev *h = ctx;
    assert_true(h->npend < H_MAX_PEND);
    struct msg *m = &h->pend[h->npend++];
    m->buf = malloc(len);
    assert_non_null(m->buf);
    memcpy(m->buf, buf, len);
    m->len = len;
    assert_int_equal(wire_peek(buf, len, &m->type, &m->req_id), 0);
    log_sent(h, buf, len);
}

static int64_t sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

/* RUN-10: a progress event must find its transaction committed. */
static void check_progress(struct hdev *h, const char *name)
{
    static const char *const progress[] = {
        "sync.push_acked", "sync.pull_page", "initial.page", "initial.table_done", NULL
    };
    bool is = false;
    for (int i = 0; progress[i]; i++) is = is || strcmp(name, progress[i]) == 0;
    if (!is) return;
    h->progress_events++;
    if (!sqlite3_get_autocommit(h->db)) h->progress_in_tx++;
    if (strcmp(name, "sync.push_acked") == 0)
        h->outbox_at_ack = sql_int(h->db, "SELECT COUNT(*) FROM outbox");
    if (strcmp(name, "sync.pull_page") == 0)
        h->cursor_at_pull = sql_int(h->db, "SELECT v FROM settings WHERE k='cursor'");
}

static void h_emit(void *ctx, const struct event *e)
{
    struct hdev *h = ctx;
    assert_true(h->nev < H_MAX_EV);
    ev_format(e, h->ev[h->nev++], H_LINE);
    check_progress(h, e->name);
}

/* ---- transaction log (update + commit hooks) ---- */

static void tx_update(void *arg, int op, const char *dbn, const char *tbl, sqlite3_int64 rowid)
{
    struct hdev *h = arg;
    struct txrec *t = &h->cur;
    (void)op;
    (void)dbn;
    bool known = false;
    for (int i = 0; i < t->ntbl; i++) known = known || strcmp(t->tbl[i], tbl) == 0;
    if (!known && t->ntbl < 12) snprintf(t->tbl[t->ntbl++], sizeof t->tbl[0], "%s", tbl);
    if (strcmp(tbl, "settings") == 0 && t->nset < 16) t->settings[t->nset++] = rowid;
}

static int tx_commit(void *arg)
{
    struct hdev *h = arg;
    if (h->cur.ntbl > 0 && h->ntx < H_MAX_TX) h->tx[h->ntx++] = h->cur;
    memset(&h->cur, 0, sizeof h->cur);
    return 0;
}

static void tx_rollback(void *arg)
{
    struct hdev *h = arg;
    memset(&h->cur, 0, sizeof h->cur);
}

static bool tx_touched(const struct txrec *t, const char *tbl)
{
    for (int i = 0; i < t->ntbl; i++)
        if (strcmp(t->tbl[i], tbl) == 0) return true;
    return false;
}

/* ---- server env ---- */

static int64_t s_now(void *ctx) { return W0 + ((struct world *)ctx)->now; }
static int64_t s_mono(void *ctx) { return ((struct world *)ctx)->now; }
static uint64_t s_random(void *ctx) { return xorshift(&((struct world *)ctx)->srng); }
static void s_set_timer(void *ctx, int id, int64_t at) { (void)ctx; (void)id; (void)at; }
static void s_cancel_timer(void *ctx, int id) { (void)ctx; (void)id; }
static void s_emit(void *ctx, const struct event *e) { (void)ctx; (void)e; }

static void s_table(struct world *w, const char *name, bool ro, enum strategy strat)
{
    struct table_decl t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    t.read_only = ro;
    t.strategy = strat;
    assert_int_equal(srv_declare_table(w->srv, &t), 0);
}

static int w_setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->srng = 0x9E3779B97F4A7C15ULL;
    assert_int_equal(sqlite3_open(":memory:", &w->sdb), SQLITE_OK);
    w->senv = (struct env){ .ctx = w, .now_ms = s_now, .mono_ms = s_mono, .random = s_random,
                            .set_timer = s_set_timer, .cancel_timer = s_cancel_timer,
                            .emit = s_emit };
    config_default(&w->scfg);
    char err[256];
    w->srv = srv_open(w->sdb, &w->senv, &w->scfg, err, sizeof err);
    assert_non_null(w->srv);
    struct table_decl defs[MAX_TABLES];
    int n = table_defaults(defs, MAX_TABLES);
    for (int i = 0; i < n; i++) s_table(w, defs[i].name, defs[i].read_only, defs[i].strategy);
    *state = w;
    return 0;
}

static int w_teardown(void **state)
{
    struct world *w = *state;
    for (int i = 0; i < w->ndev; i++) {
        struct hdev *h = &w->dev[i];
        dev_close(h->d);
        for (int k = 0; k < h->npend; k++) free(h->pend[k].buf);
        sqlite3_close(h->db);
        free(h->sent);
        free(h->ev);
        free(h->tx);
    }
    srv_close(w->srv);
    sqlite3_close(w->sdb);
    free(w);
    return 0;
}

/* ---- devices ---- */

/* A device not yet opened: tests may change cfg and tables, then h_boot. */
static struct hdev *h_create(struct world *w, const char *name)
{
    assert_true(w->ndev < H_MAX_DEV);
    struct hdev *h = &w->dev[w->ndev++];
    memset(h, 0, sizeof *h);
    h->w = w;
    snprintf(h->name, sizeof h->name, "%s", name);
    assert_int_equal(sqlite3_open(":memory:", &h->db), SQLITE_OK);
    sqlite3_update_hook(h->db, tx_update, h);
    sqlite3_commit_hook(h->db, tx_commit, h);
    sqlite3_rollback_hook(h->db, tx_rollback, h);
    config_default(&h->cfg);
    h->ntables = table_defaults(h->tables, MAX_TABLES);
    h->rng = 0x2545F4914F6CDD1DULL * (uint64_t)w->ndev;
    h->env = (struct env){ .ctx = h, .now_ms = h_now, .mono_ms = h_mono, .random = h_random,
                           .set_timer = h_set_timer, .cancel_timer = h_cancel_timer,
                           .send = h_send, .emit = h_emit };
    h->sent = calloc(H_MAX_SENT, sizeof *h->sent);
    h->ev = calloc(H_MAX_EV, sizeof *h->ev);
    h->tx = calloc(H_MAX_TX, sizeof *h->tx);
    assert_true(h->sent && h->ev && h->tx);
    return h;
}

static void h_table(struct hdev *h, const char *name, bool ro, enum strategy strat)
{
    assert_true(h->ntables < MAX_TABLES);
    struct table_decl *t = &h->tables[h->ntables++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->read_only = ro;
    t->strategy = strat;
}

static void h_boot(struct hdev *h)
{
    char err[256] = "";
    h->d = dev_open(h->db, &h->env, &h->cfg, h->name, h->tables, h->ntables, err, sizeof err);
    if (!h->d) fail_msg("dev_open: %s", err);
    dev_start(h->d);
}

static struct hdev *h_new(struct world *w, const char *name)
{
    struct hdev *h = h_create(w, name);
    h_boot(h);
    return h;
}

/* kill -9: memory and timers gone; requests already sent stay on the wire. */
static void h_crash(struct hdev *h)
{
    dev_close(h->d);
    h->d = NULL;
    memset(h->t_set, 0, sizeof h->t_set);
}

static void h_restart(struct hdev *h)
{
    h->mono = 0;   /* a new process: the monotonic clock restarts */
    h_boot(h);
}

static struct dev_state st(struct hdev *h)
{
    struct dev_state s;
    dev_get_state(h->d, &s);
    return s;
}

/* ---- time ---- */

static void w_tick(struct world *w, int64_t ms)
{
    assert_true(ms >= 0);
    w->now += ms;
    for (int i = 0; i < w->ndev; i++) w->dev[i].mono += ms;
}

/* Fires the next timer due by world time `end`; false when none is. */
static bool w_step(struct world *w, int64_t end)
{
    struct hdev *best = NULL;
    int best_id = -1;
    int64_t due = 0;
    uint64_t seq = 0;
    for (int i = 0; i < w->ndev; i++) {
        struct hdev *h = &w->dev[i];
        if (!h->d) continue;
        for (int id = 0; id < DT_COUNT; id++) {
            if (!h->t_set[id]) continue;
            int64_t t = w->now + (h->t_at[id] - h->mono);
            if (t < w->now) t = w->now;
            if (!best || t < due || (t == due && h->t_seq[id] < seq)) {
                best = h;
                best_id = id;
                due = t;
                seq = h->t_seq[id];
            }
        }
    }
    if (!best || due > end) return false;
    w_tick(w, due - w->now);
    best->t_set[best_id] = false;
    dev_on_timer(best->d, best_id);
    return true;
}

static void w_advance(struct world *w, int64_t ms)
{
    int64_t end = w->now + ms;
    int guard = 0;
    while (w_step(w, end)) assert_true(++guard < 100000);
    w_tick(w, end - w->now);
}

/* Fires timers until h has a request on the wire; false (clock at the
 * limit) when none came within limit ms. */
static bool h_wait_request(struct hdev *h, int64_t limit)
{
    struct world *w = h->w;
    int64_t end = w->now + limit;
    while (h->npend == 0) {
        if (!w_step(w, end)) {
            w_tick(w, end - w->now);
            return false;
        }
    }
    return true;
}

/* ---- the network ---- */

static struct msg h_pop(struct hdev *h)
{
    assert_true(h->npend > 0);
    struct msg m = h->pend[0];
    memmove(&h->pend[0], &h->pend[1], (size_t)(h->npend - 1) * sizeof h->pend[0]);
    h->npend--;
    return m;
}

/* The server answers the oldest request; the response is not delivered. */
static struct msg h_late(struct hdev *h)
{
    struct msg req = h_pop(h), resp = { 0 };
    assert_int_equal(srv_handle(h->w->srv, req.buf, req.len, &resp.buf, &resp.len), 0);
    assert_int_equal(wire_peek(resp.buf, resp.len, &resp.type, &resp.req_id), 0);
    free(req.buf);
    return resp;
}

/* Delivers a response to the device (and frees it). */
static void h_inject(struct hdev *h, struct msg m)
{
    if (h->d) dev_on_message(h->d, m.buf, m.len);
    free(m.buf);
}

static void h_deliver(struct hdev *h) { h_inject(h, h_late(h)); }
static void h_drop(struct hdev *h) { free(h_pop(h).buf); }

static void h_dup(struct hdev *h)
{
    struct msg r = h_late(h);
    dev_on_message(h->d, r.buf, r.len);
    dev_on_message(h->d, r.buf, r.len);
    free(r.buf);
}

/* Answers the oldest request with m (its req_id set), the server untouched. */
static void h_forge_msg(struct hdev *h, struct wire_msg *m)
{
    struct msg req = h_pop(h), resp = { 0 };
    m->req_id = req.req_id;
    assert_int_equal(wire_encode(m, &resp.buf, &resp.len), 0);
    free(req.buf);
    h_inject(h, resp);
}

static void h_forge(struct hdev *h, int status, int64_t retry_after)
{
    struct wire_msg m;
    wire_msg_init(&m, WIRE_ERROR_RESP);
    m.status = status;
    m.retry_after_ms = retry_after;
    snprintf(m.text, sizeof m.text, "forged");
    h_forge_msg(h, &m);
}

static int h_pump(struct hdev *h)
{
    int n = 0;
    while (h->npend > 0 && h->d) {
        h_deliver(h);
        assert_true(++n < 10000);
    }
    return n;
}

/* Requests sent before a crash that the test wants gone. */
static void h_drop_all(struct hdev *h)
{
    while (h->npend > 0) h_drop(h);
}

static enum wire_type h_peek_type(struct hdev *h)
{
    assert_true(h->npend > 0);
    return h->pend[0].type;
}

/* Requests of a type sent since index `from` of the sent log. */
static int sent_count(struct hdev *h, int from, enum wire_type type)
{
    int n = 0;
    for (int i = from; i < h->nsent; i++) n += h->sent[i].type == type;
    return n;
}

static int page_requests(struct hdev *h, int from, const char *table)
{
    int n = 0;
    for (int i = from; i < h->nsent; i++)
        n += h->sent[i].type == WIRE_PAGE_REQ && strcmp(h->sent[i].table, table) == 0;
    return n;
}

static int page_requests_after(struct hdev *h, int from, const char *table, uint64_t after)
{
    int n = 0;
    for (int i = from; i < h->nsent; i++)
        n += h->sent[i].type == WIRE_PAGE_REQ && strcmp(h->sent[i].table, table) == 0
             && h->sent[i].after == after;
    return n;
}

/* ---- events ---- */

/* pat = "name k=v k=v …": the name equals, every k=v is a field ("k=" alone:
 * the key is present). */
static bool line_match(const char *line, const char *pat)
{
    size_t nl = strcspn(pat, " ");
    if (strncmp(line, pat, nl) != 0 || (line[nl] != ' ' && line[nl] != '\0')) return false;
    const char *p = pat + nl;
    while (*p == ' ') p++;
    while (*p) {
        size_t tl = strcspn(p, " ");
        bool any_value = p[tl - 1] == '=';
        bool found = false;
        for (const char *s = strchr(line, ' '); s && !found; s = strchr(s + 1, ' '))
            found = strncmp(s + 1, p, tl) == 0 && (any_value || s[1 + tl] == ' ' || s[1 + tl] == '\0');
        if (!found) return false;
        p += tl;
        while (*p == ' ') p++;
    }
    return true;
}

static int h_count_from(struct hdev *h, int from, const char *pat)
{
    int n = 0;
    for (int i = from; i < h->nev; i++) n += line_match(h->ev[i], pat);
    return n;
}

static int h_find(struct hdev *h, int from, const char *pat)
{
    for (int i = from; i < h->nev; i++)
        if (line_match(h->ev[i], pat)) return i;
    return -1;
}

static void h_dump(struct hdev *h, int from)
{
    fprintf(stderr, "---- %s events from %d (of %d) ----\n", h->name, from, h->nev);
    for (int i = from < 0 ? 0 : from; i < h->nev && i < from + 300; i++)
        fprintf(stderr, "  [%d] %s\n", i, h->ev[i]);
}

static void assert_count_impl(struct hdev *h, int from, const char *pat, int want,
                              const char *file, int line)
{
    int got = h_count_from(h, from, pat);
    if (got == want) return;
    h_dump(h, from);
    fail_msg("%s:%d: %d x \"%s\", expected %d", file, line, got, pat, want);
}
#define ASSERT_COUNT(h, from, pat, n) assert_count_impl(h, from, pat, n, __FILE__, __LINE__)

/* The patterns occur in this order from `from` (others may sit between). */
static void assert_seq_impl(struct hdev *h, int from, const char *const *pats,
                            const char *file, int line)
{
    int at = from;
    for (int k = 0; pats[k]; k++) {
        int i = h_find(h, at, pats[k]);
        if (i < 0) {
            h_dump(h, from);
            fail_msg("%s:%d: \"%s\" not found in order after index %d", file, line, pats[k], at);
        }
        at = i + 1;
    }
}
#define ASSERT_SEQ(h, from, ...) do { \
    const char *const p_[] = { __VA_ARGS__, NULL }; \
    assert_seq_impl(h, from, p_, __FILE__, __LINE__); } while (0)

/* The events from `from` whose name starts with prefix are exactly these. */
static void assert_only_impl(struct hdev *h, int from, const char *prefix, const char *const *pats,
                             const char *file, int line)
{
    int k = 0;
    size_t pl = strlen(prefix);
    for (int i = from; i < h->nev; i++) {
        if (strncmp(h->ev[i], prefix, pl) != 0) continue;
        if (!pats[k] || !line_match(h->ev[i], pats[k])) {
            h_dump(h, from);
            fail_msg("%s:%d: event [%d] \"%s\" where \"%s\" was expected", file, line, i,
                     h->ev[i], pats[k] ? pats[k] : "(nothing more)");
        }
        k++;
    }
    if (pats[k]) {
        h_dump(h, from);
        fail_msg("%s:%d: \"%s\" missing (only %d \"%s\" events)", file, line, pats[k], k, prefix);
    }
}
#define ASSERT_ONLY(h, from, prefix, ...) do { \
    const char *const p_[] = { __VA_ARGS__, NULL }; \
    assert_only_impl(h, from, prefix, p_, __FILE__, __LINE__); } while (0)

/* The integer value of key in event line i (-1 if absent). */
static int64_t ev_int_of(struct hdev *h, int i, const char *key)
{
    char k[32];
    snprintf(k, sizeof k, " %s=", key);
    const char *p = strstr(h->ev[i], k);
    return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

/* ---- rows ---- */

/* "k=v k=v" into arrays (pointers into buf). */
static int split_kv(char *buf, const char **names, const char **values, int cap)
{
    int n = 0;
    for (char *tok = strtok(buf, " "); tok && n < cap; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = 0;
        names[n] = tok;
        values[n] = eq + 1;
        n++;
    }
    return n;
}

static int h_write_rc(struct hdev *h, const char *table, const char *id, const char *kv)
{
    char buf[512];
    const char *names[16], *values[16];
    snprintf(buf, sizeof buf, "%s", kv);
    int n = split_kv(buf, names, values, 16);
    return dev_write(h->d, table, id, n, names, values);
}

static void h_write(struct hdev *h, const char *table, const char *id, const char *kv)
{
    assert_int_equal(h_write_rc(h, table, id, kv), 0);
}

static void s_write(struct world *w, const char *user, const char *table, const char *id,
                    const char *kv)
{
    char buf[512];
    const char *names[16], *values[16];
    snprintf(buf, sizeof buf, "%s", kv);
    int n = split_kv(buf, names, values, 16);
    assert_int_equal(srv_write(w->srv, user, table, id, n, names, values, false, "server"), 0);
}

static const char *field_of(int found, struct row *r, const char *field)
{
    static char out[4][128];
    static int k;
    char *o = out[k++ % 4];
    const char *v = found == 1 ? row_get(r, field) : NULL;
    snprintf(o, 128, "%s", found != 1 ? "<no row>" : v ? v : "<unset>");
    row_free(r);
    return o;
}

static const char *h_val(struct hdev *h, const char *table, const char *id, const char *field)
{
    struct row r;
    memset(&r, 0, sizeof r);
    int found = dev_get_row(h->d, table, id, &r);
    return field_of(found, &r, field);
}

static const char *s_val(struct world *w, const char *user, const char *table, const char *id,
                         const char *field)
{
    struct row r;
    memset(&r, 0, sizeof r);
    int found = srv_get_row(w->srv, user, table, id, &r);
    return field_of(found, &r, field);
}

static bool h_has_row(struct hdev *h, const char *table, const char *id)
{
    struct row r;
    memset(&r, 0, sizeof r);
    int found = dev_get_row(h->d, table, id, &r);
    row_free(&r);
    return found == 1;
}

static int64_t h_stamp_at(struct hdev *h, const char *table, const char *id)
{
    struct row r;
    memset(&r, 0, sizeof r);
    assert_int_equal(dev_get_row(h->d, table, id, &r), 1);
    int64_t at = r.st.at;
    row_free(&r);
    return at;
}

/* ---- sessions ---- */

static int h_login(struct hdev *h, const char *user)
{
    char tok[TOKEN_MAX + 1];
    assert_int_equal(srv_issue_token(h->w->srv, user, h->name, tok, sizeof tok), 0);
    return dev_login(h->d, user, tok);
}

/* Login and a completed initial sync (the cooldown then runs). */
static void h_login_sync(struct hdev *h, const char *user)
{
    assert_int_equal(h_login(h, user), 0);
    h_pump(h);
    assert_true(st(h).initial_complete);
}

/* Logged in, initial sync complete, cooldown over: ready for runs. */
static void h_ready(struct hdev *h, const char *user)
{
    h_login_sync(h, user);
    w_advance(h->w, h->cfg.cooldown_ms);
}

static bool in_range(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }

/* ======================================================================
 * INV-DURABLE
 * ==================================================================== */

/* SPEC INV-DURABLE */
static void test_INV_DURABLE_write_commits_row_and_outbox_in_one_transaction(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    assert_int_equal(sql_int(a->db, "PRAGMA synchronous"), 2);   /* FULL */
    assert_int_equal(st(a).outbox, 0);
    int tx0 = a->ntx;
    h_write(a, "customers", "c1", "name=Ann city=Oslo");
    assert_int_equal(a->ntx - tx0, 1);                /* one commit … */
    assert_true(tx_touched(&a->tx[a->ntx - 1], "rows"));   /* … holding both */
    assert_true(tx_touched(&a->tx[a->ntx - 1], "outbox"));
    assert_int_equal(st(a).outbox, 1);
    assert_string_equal(h_val(a, "customers", "c1", "name"), "Ann");
}

static int collect_ops(void *arg, const char *op_id, bool dead)
{
    char *buf = arg;
    size_t n = strlen(buf);
    snprintf(buf + n, 256 - n, "%s%s%s", n ? "," : "", op_id, dead ? "(dead)" : "");
    return 0;
}

/* SPEC INV-DURABLE */
static void test_INV_DURABLE_write_survives_close_and_reopen(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    h_write(a, "orders", "o1", "qty=2");
    h_crash(a);                      /* before the debounce ever fired */
    h_restart(a);
    assert_int_equal(st(a).outbox, 2);
    char ops[256] = "";
    dev_foreach_op(a->d, collect_ops, ops);
    assert_string_equal(ops, "phone:1,phone:2");
    assert_string_equal(h_val(a, "customers", "c1", "name"), "Ann");
    assert_string_equal(h_val(a, "orders", "o1", "qty"), "2");
    /* OUT-1: op ids stay unique across the restart. */
    h_write(a, "customers", "c2", "name=Bo");
    assert_int_equal(dev_last_op_seq(a->d), 3);
}

/* ======================================================================
 * OUT-1 … OUT-5
 * ==================================================================== */

/* SPEC OUT-1: dev_recycle (a crash + restart on the same connection, for
 * harnesses) sizes the push batch for the config in force then; the fuzzer
 * found a batch kept from an earlier, smaller push_batch overflowing. */
static void test_OUT_1_recycle_follows_push_batch(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_create(w, "phone");
    a->cfg.push_batch = 2;
    h_boot(a);
    h_ready(a, "alice");
    char err[128], id[16];
    a->cfg.push_batch = 100;
    memset(a->t_set, 0, sizeof a->t_set);
    assert_int_equal(dev_recycle(a->d, err, sizeof err), 0);
    a->mono = 0;
    dev_start(a->d);
    h_pump(a);
    for (int i = 1; i <= 50; i++) {
        snprintf(id, sizeof id, "c%03d", i);
        h_write(a, "customers", id, "n=1");
    }
    int s0 = a->nsent;
    w_advance(w, a->cfg.cooldown_ms);
    dev_trigger(a->d, KIND_MANUAL);
    h_pump(a);
    assert_int_equal(sent_count(a, s0, WIRE_PUSH_REQ), 1);
    assert_int_equal(st(a).outbox, 0);
    assert_int_equal(srv_op_seen(w->srv, "alice", "phone:50"), 1);
}

/* SPEC OUT-1 */
static void test_OUT_1_batches_of_push_batch_in_local_order(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    char id[16], kv[32];
    for (int i = 1; i <= 250; i++) {
        snprintf(id, sizeof id, "c%03d", i);
        snprintf(kv, sizeof kv, "n=%d", i);
        h_write(a, "customers", id, kv);
    }
    int m = a->nev, s0 = a->nsent;
    dev_trigger(a->d, KIND_MANUAL);
    h_pump(a);
    assert_int_equal(sent_count(a, s0, WIRE_PUSH_REQ), 3);
    static const int want_n[3] = { 100, 100, 50 };
    static const uint64_t want_first[3] = { 1, 101, 201 }, want_last[3] = { 100, 200, 250 };
    for (int k = 0; k < 3; k++) {
        const struct sent *s = &a->sent[s0 + k];
        assert_int_equal(s->type, WIRE_PUSH_REQ);
        assert_int_equal(s->nitems, want_n[k]);
        assert_true(s->ordered);                 /* "phone:seq", increasing */
        assert_int_equal(s->first_seq, want_first[k]);
        assert_int_equal(s->last_seq, want_last[k]);
    }
    ASSERT_ONLY(a, m, "sync.push_sent", "sync.push_sent items=100", "sync.push_sent items=100",
                "sync.push_sent items=50");
    assert_int_equal(st(a).outbox, 0);
    assert_int_equal(srv_op_seen(w->srv, "alice", "phone:250"), 1);
}

/* SPEC OUT-2 */
static void test_OUT_2_item_leaves_outbox_only_after_ack(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    dev_trigger(a->d, KIND_MANUAL);
    assert_int_equal(h_peek_type(a), WIRE_PUSH_REQ);
    assert_int_equal(st(a).outbox, 1);          /* sent is not acknowledged */
    h_drop(a);                                  /* lost on the way */
    w_advance(w, a->cfg.request_timeout_ms);
    assert_int_equal(st(a).outbox, 1);
    assert_true(h_wait_request(a, 60000));
    assert_int_equal(h_peek_type(a), WIRE_PUSH_REQ);
    h_deliver(a);
    assert_int_equal(st(a).outbox, 0);
    assert_string_equal(s_val(w, "alice", "customers", "c1", "name"), "Ann");
}

/* SPEC OUT-2 */
static void test_OUT_2_lost_ack_keeps_item_and_server_applies_once(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    dev_trigger(a->d, KIND_MANUAL);
    struct msg lost = h_late(a);                /* applied, answer lost */
    free(lost.buf);
    uint64_t seq = srv_user_seq(w->srv, "alice");
    assert_int_equal(st(a).outbox, 1);
    w_advance(w, a->cfg.request_timeout_ms);
    assert_true(h_wait_request(a, 60000));
    int m = a->nev;
    h_pump(a);
    ASSERT_COUNT(a, m, "sync.push_acked applied=1 stale=0 conflict=0 rejected=0", 1);
    assert_int_equal(st(a).outbox, 0);
    assert_int_equal(srv_user_seq(w->srv, "alice"), seq);   /* SRV-2: applied once */
}

/* Forges `n` transport failures, each on the next request the device sends. */
static void fail_requests(struct hdev *h, int n, int status)
{
    for (int i = 0; i < n; i++) {
        assert_true(h_wait_request(h, 120000));
        h_forge(h, status, 0);
    }
}

/* SPEC OUT-3 */
static void test_OUT_3_five_transport_failures_move_item_to_dead_letters(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_create(w, "phone");
    a->cfg.breaker_threshold = 1000;   /* isolate OUT-3 from RUN-5 */
    h_boot(a);
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    int m = a->nev;
    dev_trigger(a->d, KIND_MANUAL);
    fail_requests(a, 4, 500);
    assert_int_equal(sql_int(a->db, "SELECT retries FROM outbox WHERE op_id='phone:1'"), 4);
    assert_int_equal(st(a).deadletters, 0);
    fail_requests(a, 1, 429);          /* 429 is a transport failure too */
    ASSERT_COUNT(a, m, "outbox.deadlettered op=phone:1", 1);
    ASSERT_COUNT(a, m, "sync.push_sent items=1", 5);
    assert_int_equal(st(a).outbox, 0);
    assert_int_equal(st(a).deadletters, 1);
    assert_int_equal(st(a).status, ST_DEADLETTER);
    assert_true(dev_row_excepted(a->d, "customers", "c1"));
}

/* SPEC OUT-3, OUT-1: a configured batch larger than one bump statement
 * takes (push_batch=150 > 100): every item gets its attempt counted and
 * every one reaches the dead letters, each with its event. */
static void test_OUT_3_large_batch_every_item_counted_and_dead_lettered(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_create(w, "phone");
    a->cfg.breaker_threshold = 1000;
    a->cfg.push_batch = 150;
    a->cfg.max_retries = 2;
    h_boot(a);
    h_ready(a, "alice");
    char id[16];
    for (int i = 0; i < 150; i++) {
        snprintf(id, sizeof id, "c%d", i);
        h_write(a, "customers", id, "name=x");
    }
    int m = a->nev;
    dev_trigger(a->d, KIND_MANUAL);
    fail_requests(a, 1, 500);
    ASSERT_COUNT(a, m, "sync.push_sent items=150", 1);
    assert_int_equal(sql_int(a->db, "SELECT COUNT(*) FROM outbox WHERE retries=1"), 150);
    fail_requests(a, 1, 503);
    ASSERT_COUNT(a, m, "outbox.deadlettered", 150);
    ASSERT_COUNT(a, m, "outbox.deadlettered op=phone:150 reason=retries", 1);
    assert_int_equal(st(a).outbox, 0);
    assert_int_equal(st(a).deadletters, 150);
}

/* SPEC OUT-3 */
static void test_OUT_3_rejected_item_dead_letters_at_once_rest_of_batch_goes_on(void **state)
{
    struct world *w = *state;
    s_table(w, "notes", true, STRAT_LWW);       /* read-only on the server … */
    struct hdev *a = h_create(w, "phone");
    h_table(a, "notes", false, STRAT_LWW);      /* … writable on this device */
    h_boot(a);
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    h_write(a, "notes", "n1", "text=hi");
    h_write(a, "customers", "c2", "name=Bo");
    int m = a->nev;
    dev_trigger(a->d, KIND_MANUAL);
    h_pump(a);
    ASSERT_COUNT(a, m, "sync.push_sent", 1);
    ASSERT_COUNT(a, m, "sync.push_acked applied=2 stale=0 conflict=0 rejected=1", 1);
    ASSERT_COUNT(a, m, "outbox.deadlettered op=phone:2 reason=read_only", 1);
    ASSERT_COUNT(a, m, "sync.completed kind=manual", 1);
    assert_int_equal(st(a).outbox, 0);
    assert_int_equal(st(a).deadletters, 1);
    assert_string_equal(s_val(w, "alice", "customers", "c2", "name"), "Bo");
    assert_string_equal(s_val(w, "alice", "notes", "n1", "text"), "<no row>");
}

/* SPEC OUT-3 */
static void test_OUT_3_requeue_returns_dead_letters_with_fresh_count(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_create(w, "phone");
    a->cfg.breaker_threshold = 1000;
    h_boot(a);
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    dev_trigger(a->d, KIND_MANUAL);
    fail_requests(a, 5, 500);
    assert_int_equal(st(a).deadletters, 1);
    int m = a->nev;
    assert_int_equal(dev_requeue(a->d), 0);
    assert_int_equal(st(a).deadletters, 0);
    assert_int_equal(st(a).outbox, 1);
    assert_true(st(a).debounce_pending);        /* OUT-4: requeue raises a trigger */
    assert_int_equal(sql_int(a->db, "SELECT retries FROM outbox WHERE op_id='phone:1'"), 0);
    fail_requests(a, 4, 500);                   /* a fresh count: 4 < 5 */
    assert_int_equal(st(a).deadletters, 0);
    ASSERT_COUNT(a, m, "outbox.deadlettered", 0);
    assert_true(h_wait_request(a, 120000));
    h_pump(a);
    assert_int_equal(st(a).outbox, 0);
    assert_string_equal(s_val(w, "alice", "customers", "c1", "name"), "Ann");
}

/* SPEC OUT-3 */
static void test_OUT_3_offline_is_not_an_attempt(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    dev_set_online(a->d, false);
    int s0 = a->nsent;
    dev_trigger(a->d, KIND_MANUAL);
    w_advance(w, 600000);
    assert_int_equal(a->nsent, s0);
    assert_int_equal(sql_int(a->db, "SELECT retries FROM outbox WHERE op_id='phone:1'"), 0);
}

/* SPEC OUT-4 */
static void test_OUT_4_debounce_500ms_writes_in_window_join(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    int m = a->nev;
    int64_t t0 = a->mono;
    h_write(a, "customers", "c1", "name=Ann");
    assert_true(a->t_set[DT_DEBOUNCE]);
    assert_int_equal(a->t_at[DT_DEBOUNCE], t0 + 500);
    w_advance(w, 300);
    h_write(a, "customers", "c2", "name=Bo");
    assert_int_equal(a->t_at[DT_DEBOUNCE], t0 + 500);   /* joins the window */
    w_advance(w, 199);
    ASSERT_COUNT(a, m, "lock.acquired", 0);
    w_advance(w, 1);
    ASSERT_COUNT(a, m, "lock.acquired kind=repository", 1);
    h_pump(a);
    ASSERT_ONLY(a, m, "sync.push_sent", "sync.push_sent items=2");
    /* A write after the trigger opens a new window. */
    int64_t t1 = a->mono;
    h_write(a, "customers", "c3", "name=Cy");
    assert_int_equal(a->t_at[DT_DEBOUNCE], t1 + 500);
}

/* SPEC OUT-4 */
static void test_OUT_4_manual_trigger_is_not_debounced(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    int m = a->nev;
    dev_trigger(a->d, KIND_MANUAL);              /* no time passes */
    ASSERT_COUNT(a, m, "lock.acquired kind=manual", 1);
    assert_int_equal(h_peek_type(a), WIRE_PUSH_REQ);
}

/* SPEC OUT-5 */
static void test_OUT_5_periodic_job_is_push_only_every_interval(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_login_sync(a, "alice");                    /* completion now */
    int64_t iv = a->cfg.background_interval_ms;
    assert_true(a->t_set[DT_PERIODIC]);
    assert_int_equal(a->t_at[DT_PERIODIC], a->mono + iv);
    w_advance(w, iv - 100);
    h_write(a, "customers", "c1", "name=Ann");   /* its debounce fires after the job */
    int m = a->nev, s0 = a->nsent;
    w_advance(w, 100);
    ASSERT_COUNT(a, m, "lock.acquired kind=background", 1);
    h_pump(a);
    assert_int_equal(sent_count(a, s0, WIRE_PUSH_REQ), 1);
    assert_int_equal(sent_count(a, s0, WIRE_PULL_REQ), 0);   /* push-only */
    ASSERT_COUNT(a, m, "sync.completed kind=background", 1);
    assert_int_equal(st(a).outbox, 0);
    assert_int_equal(a->t_at[DT_PERIODIC], a->mono + iv);     /* every interval */
    int s1 = a->nsent;
    w_advance(w, 400);                           /* the debounce: a full run */
    h_pump(a);
    assert_int_equal(sent_count(a, s1, WIRE_PULL_REQ), 1);
}

/* SPEC OUT-5 */
static void test_OUT_5_periodic_counts_from_start_after_restart(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    w_advance(w, 60000);
    h_crash(a);
    h_restart(a);
    h_pump(a);                                    /* RUN-8's run */
    assert_true(a->t_set[DT_PERIODIC]);
    assert_int_equal(a->t_at[DT_PERIODIC], a->cfg.background_interval_ms);   /* start mono 0 */
    int m = a->nev;
    w_advance(w, a->cfg.background_interval_ms);
    ASSERT_COUNT(a, m, "lock.acquired kind=background", 1);
}

/* ======================================================================
 * RUN-1 … RUN-11
 * ==================================================================== */

/* SPEC RUN-1 */
static void test_RUN_1_push_then_pull(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    int m = a->nev, s0 = a->nsent;
    dev_trigger(a->d, KIND_MANUAL);
    h_pump(a);
    assert_int_equal(a->nsent - s0, 2);
    assert_int_equal(a->sent[s0].type, WIRE_PUSH_REQ);
    assert_int_equal(a->sent[s0 + 1].type, WIRE_PULL_REQ);
    ASSERT_ONLY(a, m, "sync.", "sync.started kind=manual", "sync.push_sent items=1",
                "sync.push_acked applied=1 stale=0 conflict=0 rejected=0",
                "sync.pull_page rows=1", "sync.completed kind=manual");
}

/* SPEC RUN-1 */
static void test_RUN_1_empty_outbox_sends_no_push(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    int m = a->nev, s0 = a->nsent;
    dev_trigger(a->d, KIND_MANUAL);
    h_pump(a);
    assert_int_equal(a->nsent - s0, 1);
    assert_int_equal(a->sent[s0].type, WIRE_PULL_REQ);
    ASSERT_COUNT(a, m, "sync.push_sent", 0);
    ASSERT_COUNT(a, m, "sync.push_acked", 0);
    ASSERT_COUNT(a, m, "sync.completed kind=manual", 1);
}

/* SPEC RUN-1 */
static void test_RUN_1_failed_push_skips_pull(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    int m = a->nev, s0 = a->nsent;
    dev_trigger(a->d, KIND_MANUAL);
    h_forge(a, 503, 0);
    assert_int_equal(a->npend, 0);
    assert_int_equal(sent_count(a, s0, WIRE_PULL_REQ), 0);
    ASSERT_COUNT(a, m, "sync.failed kind=manual reason=http_503", 1);
    ASSERT_COUNT(a, m, "sync.pull_page", 0);
}

/* SPEC RUN-2 */
static void test_RUN_2_cursor_is_server_seq_and_pull_pages(void **state)
{
    struct world *w = *state;
    assert_int_equal(srv_seed_rows(w->srv, "alice", "customers", 3), 0);
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    assert_int_equal(st(a).cursor, 3);
    assert_int_equal(srv_seed_rows(w->srv, "alice", "orders", 1200), 0);   /* seqs 4..1203 */
    int m = a->nev, s0 = a->nsent;
    dev_trigger(a->d, KIND_MANUAL);
    h_pump(a);
    assert_int_equal(sent_count(a, s0, WIRE_PULL_REQ), 3);
    assert_int_equal(a->sent[s0].after, 3);
    assert_int_equal(a->sent[s0 + 1].after, 503);
    assert_int_equal(a->sent[s0 + 2].after, 1003);
    ASSERT_ONLY(a, m, "sync.pull_page", "sync.pull_page rows=500", "sync.pull_page rows=500",
                "sync.pull_page rows=200");
    assert_int_equal(st(a).cursor, 1203);
    assert_int_equal(st(a).cursor, srv_user_seq(w->srv, "alice"));
    assert_int_equal(sql_int(a->db, "SELECT v FROM settings WHERE k='cursor'"), 1203);
    assert_string_equal(h_val(a, "orders", "orders-1200", "n"), "1200");
}

/* SPEC RUN-3, INV-GUARD */
static void test_RUN_3_INV_GUARD_pull_never_overwrites_pending_local_row(void **state)
{
    struct world *w = *state;
    s_write(w, "alice", "customers", "c1", "name=v0");
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    dev_trigger(a->d, KIND_MANUAL);              /* empty outbox: pull in flight */
    assert_int_equal(h_peek_type(a), WIRE_PULL_REQ);
    h_write(a, "customers", "c1", "name=local"); /* pending, not in this run */
    w_advance(w, 10);
    s_write(w, "alice", "customers", "c1", "name=server");
    int m = a->nev;
    h_deliver(a);                                /* the page carries c1=server */
    ASSERT_COUNT(a, m, "sync.pull_page rows=1", 1);
    assert_string_equal(h_val(a, "customers", "c1", "name"), "local");
    /* CONF-5: the server's ruling comes back in the ack; nothing is lost. */
    assert_true(h_wait_request(a, 1000));
    h_pump(a);
    ASSERT_COUNT(a, m, "sync.push_acked applied=0 stale=1 conflict=0 rejected=0", 1);
    assert_string_equal(h_val(a, "customers", "c1", "name"), "server");
    assert_int_equal(st(a).outbox, 0);
}

/* SPEC RUN-4 */
static void test_RUN_4_backoff_1_2_4_8_16s_with_jitter(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_create(w, "phone");
    a->cfg.breaker_threshold = 1000;
    h_boot(a);
    h_ready(a, "alice");
    int m = a->nev;
    dev_trigger(a->d, KIND_MANUAL);
    int exact = 0;
    for (int i = 0; i < 7; i++) {
        int r0 = a->nretry;
        if (i > 0) assert_true(h_wait_request(a, 30000));
        h_forge(a, 500, 0);
        assert_int_equal(a->nretry, r0 + 1);
        int64_t base = i < 5 ? 1000LL << i : 16000;
        int64_t d = a->retry_delay[r0];
        if (!in_range(d, base * 8 / 10, base * 12 / 10))
            fail_msg("failure %d: retry in %lld ms, expected %lld ±20%%", i + 1, (long long)d,
                     (long long)base);
        exact += d == base;
    }
    assert_true(exact < 7);                       /* jitter is applied */
    ASSERT_COUNT(a, m, "lock.acquired kind=manual", 7);   /* the retries are manual */
}

/* SPEC RUN-4 */
static void test_RUN_4_success_resets_backoff(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    dev_trigger(a->d, KIND_MANUAL);
    h_forge(a, 500, 0);
    assert_true(h_wait_request(a, 30000));
    h_forge(a, 500, 0);
    assert_true(in_range(a->retry_delay[a->nretry - 1], 1600, 2400));
    assert_true(h_wait_request(a, 30000));
    h_pump(a);                                    /* success */
    dev_trigger(a->d, KIND_MANUAL);
    h_forge(a, 500, 0);
    assert_true(in_range(a->retry_delay[a->nretry - 1], 800, 1200));
}

/* SPEC RUN-4 */
static void test_RUN_4_retry_after_is_exact(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    int m = a->nev;
    assert_true(h_wait_request(a, 1000));         /* the debounced repository run */
    h_forge(a, 429, 7000);
    assert_int_equal(a->retry_delay[a->nretry - 1], 7000);
    ASSERT_COUNT(a, m, "sync.failed kind=repository", 1);
    assert_int_equal(sql_int(a->db, "SELECT retries FROM outbox WHERE op_id='phone:1'"), 1);
    w_advance(w, 6999);
    assert_int_equal(a->npend, 0);
    w_advance(w, 1);
    assert_int_equal(a->npend, 1);
}

/* Five failed requests in a row: the breaker opens (RUN-5). */
static void open_breaker(struct hdev *h)
{
    dev_trigger(h->d, KIND_MANUAL);
    fail_requests(h, 4, 500);
    assert_int_equal(h_count_from(h, 0, "breaker.opened"), 0);
    fail_requests(h, 1, 500);
    assert_int_equal(h_count_from(h, 0, "breaker.opened"), 1);
}

/* SPEC RUN-5 */
static void test_RUN_5_breaker_opens_after_5_failures_half_opens_after_30s(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    open_breaker(a);
    int64_t half_open = a->t_at[DT_BREAKER];
    assert_int_equal(half_open, a->mono + 30000);
    int m = a->nev, s0 = a->nsent;
    dev_trigger(a->d, KIND_MANUAL);               /* needs a request: fails at once */
    assert_int_equal(a->npend, 0);
    ASSERT_COUNT(a, m, "sync.failed kind=manual reason=breaker", 1);
    assert_int_equal(a->t_at[DT_RETRY], half_open);   /* retry when it half-opens */
    w_advance(w, 29999);
    assert_int_equal(a->nsent, s0);               /* nothing sent while open */
    w_advance(w, 1);
    ASSERT_SEQ(a, m, "breaker.half_open", "lock.acquired kind=manual");
    assert_int_equal(a->nsent - s0, 1);           /* one probe */
    h_pump(a);
    ASSERT_COUNT(a, m, "breaker.closed", 1);
    ASSERT_COUNT(a, m, "sync.completed kind=manual", 1);
}

/* SPEC RUN-5 */
static void test_RUN_5_failed_probe_reopens_breaker(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    open_breaker(a);
    int m = a->nev;
    w_advance(w, 30000);
    ASSERT_COUNT(a, m, "breaker.half_open", 1);
    assert_true(h_wait_request(a, 1));
    h_forge(a, 500, 0);                           /* the probe fails */
    ASSERT_COUNT(a, m, "breaker.opened", 1);
    int s0 = a->nsent;
    w_advance(w, 29999);
    assert_int_equal(a->nsent, s0);
}

/* SPEC RUN-5, OUT-3 */
static void test_RUN_5_breaker_refusal_is_no_attempt_for_OUT_3(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_create(w, "phone");
    a->cfg.max_retries = 10;
    h_boot(a);
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    open_breaker(a);                              /* five failed pushes */
    assert_int_equal(sql_int(a->db, "SELECT retries FROM outbox WHERE op_id='phone:1'"), 5);
    dev_trigger(a->d, KIND_MANUAL);
    ASSERT_COUNT(a, 0, "sync.failed kind=manual reason=breaker", 1);
    assert_int_equal(sql_int(a->db, "SELECT retries FROM outbox WHERE op_id='phone:1'"), 5);
}

/* SPEC RUN-6 */
static void test_RUN_6_timeout_at_30s_late_response_ignored(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    s_write(w, "alice", "customers", "c1", "name=v1");
    int m = a->nev;
    dev_trigger(a->d, KIND_MANUAL);
    struct msg late = h_late(a);
    w_advance(w, 29999);
    ASSERT_COUNT(a, m, "sync.failed", 0);
    w_advance(w, 1);
    ASSERT_COUNT(a, m, "sync.failed kind=manual reason=timeout", 1);
    assert_true(h_wait_request(a, 30000));        /* the retry's own request */
    int m2 = a->nev;
    uint64_t cur = st(a).cursor;
    h_inject(a, late);                            /* the old answer arrives */
    assert_int_equal(a->nev, m2);
    assert_int_equal(st(a).cursor, cur);
    assert_false(h_has_row(a, "customers", "c1"));
    assert_true(st(a).request_in_flight);
    h_pump(a);
    assert_string_equal(h_val(a, "customers", "c1", "name"), "v1");
}

/* SPEC RUN-6 */
static void test_RUN_6_duplicated_responses_applied_once(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    int m = a->nev;
    dev_trigger(a->d, KIND_MANUAL);
    h_dup(a);                                     /* push ack twice */
    assert_int_equal(h_peek_type(a), WIRE_PULL_REQ);
    h_dup(a);                                     /* pull page twice */
    ASSERT_COUNT(a, m, "sync.push_acked", 1);
    ASSERT_COUNT(a, m, "sync.pull_page", 1);
    ASSERT_COUNT(a, m, "sync.completed kind=manual", 1);
    ASSERT_COUNT(a, m, "lock.released kind=manual", 1);
}

/* SPEC RUN-6 */
static void test_RUN_6_response_from_before_restart_ignored(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    dev_trigger(a->d, KIND_MANUAL);
    struct msg late = h_late(a);
    h_crash(a);
    h_restart(a);                                 /* RUN-8: a new run, a new request */
    assert_true(st(a).request_in_flight);
    int m = a->nev;
    h_inject(a, late);
    assert_int_equal(a->nev, m);
    assert_true(st(a).request_in_flight);
}

/* SPEC RUN-7 */
static void test_RUN_7_401_logs_out_and_is_not_retried(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    assert_int_equal(srv_revoke_device(w->srv, "phone"), 0);
    int m = a->nev;
    dev_trigger(a->d, KIND_MANUAL);
    h_deliver(a);                                 /* the real server says 401 */
    ASSERT_COUNT(a, m, "auth.logged_out reason=401", 1);
    ASSERT_COUNT(a, m, "lock.released kind=manual", 1);
    ASSERT_COUNT(a, m, "sync.failed", 0);
    struct dev_state s = st(a);
    assert_false(s.session);
    assert_false(s.retry_pending);
    assert_false(s.lock_held);
    assert_int_equal(s.status, ST_LOGGED_OUT);
    assert_int_equal(s.outbox, 1);                /* data kept */
    int s0 = a->nsent;
    w_advance(w, 120000);
    assert_int_equal(a->nsent, s0);
}

/* SPEC RUN-8 */
static void test_RUN_8_start_with_session_runs_background_push_and_pull(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    h_crash(a);
    int m = a->nev, s0 = a->nsent;
    h_restart(a);
    ASSERT_SEQ(a, m, "lock.acquired kind=background", "sync.started kind=background");
    h_pump(a);
    assert_int_equal(a->nsent - s0, 2);
    assert_int_equal(a->sent[s0].type, WIRE_PUSH_REQ);
    assert_int_equal(a->sent[s0 + 1].type, WIRE_PULL_REQ);
    ASSERT_COUNT(a, m, "sync.completed kind=background", 1);
}

/* SPEC RUN-8 */
static void test_RUN_8_offline_triggers_remembered_one_run_when_online(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    dev_set_online(a->d, false);
    int m = a->nev, s0 = a->nsent;
    dev_trigger(a->d, KIND_BACKGROUND);
    h_write(a, "customers", "c1", "name=Ann");
    w_advance(w, 1000);                           /* the debounce fires offline */
    dev_trigger(a->d, KIND_MANUAL);
    ASSERT_COUNT(a, m, "lock.rejected reason=offline", 3);
    assert_int_equal(a->nsent, s0);
    assert_true(st(a).followup_pending);
    assert_int_equal(st(a).followup_kind, KIND_MANUAL);
    int m2 = a->nev;
    dev_set_online(a->d, true);
    ASSERT_ONLY(a, m2, "lock.acquired", "lock.acquired kind=manual");
    h_pump(a);
    w_advance(w, 60000);
    h_pump(a);
    ASSERT_ONLY(a, m2, "lock.acquired", "lock.acquired kind=manual");
    assert_int_equal(st(a).outbox, 0);
}

/* SPEC RUN-9 */
static void test_RUN_9_starting_a_run_cancels_pending_retry(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    dev_trigger(a->d, KIND_MANUAL);
    h_forge(a, 500, 0);
    assert_true(st(a).retry_pending);
    assert_true(a->t_set[DT_RETRY]);
    int m = a->nev;
    dev_trigger(a->d, KIND_MANUAL);
    assert_false(st(a).retry_pending);
    assert_false(a->t_set[DT_RETRY]);
    h_pump(a);
    w_advance(w, 60000);
    ASSERT_COUNT(a, m, "lock.acquired", 1);
}

/* SPEC RUN-9 */
static void test_RUN_9_followup_starting_on_release_cancels_retry(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    dev_trigger(a->d, KIND_MANUAL);
    dev_trigger(a->d, KIND_BACKGROUND);          /* queued behind it */
    int m = a->nev;
    h_forge(a, 500, 0);                           /* retry set, then release */
    ASSERT_SEQ(a, m, "sync.failed kind=manual", "lock.released kind=manual",
               "lock.acquired kind=background");
    assert_false(st(a).retry_pending);
    assert_false(a->t_set[DT_RETRY]);
    h_pump(a);
    w_advance(w, 60000);
    ASSERT_COUNT(a, m, "lock.acquired", 1);
}

/* SPEC RUN-10 */
static void test_RUN_10_progress_events_after_commit(void **state)
{
    struct world *w = *state;
    assert_int_equal(srv_seed_rows(w->srv, "alice", "customers", 1200), 0);
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    a->outbox_at_ack = -1;
    dev_trigger(a->d, KIND_MANUAL);
    h_pump(a);
    assert_true(a->progress_events >= 6 + 4 + 2);  /* pages, tables, ack, pull */
    assert_int_equal(a->progress_in_tx, 0);
    assert_int_equal(a->outbox_at_ack, 0);         /* the ack's removal is visible */
    assert_int_equal(a->cursor_at_pull, (int64_t)st(a).cursor);
}

/* SPEC RUN-11 */
static void test_RUN_11_master_pushes_redownloads_read_only_then_pulls(void **state)
{
    struct world *w = *state;
    assert_int_equal(srv_seed_rows(w->srv, "alice", "products", 3), 0);
    assert_int_equal(srv_seed_rows(w->srv, "alice", "prices", 2), 0);
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    s_write(w, "alice", "products", "products-1", "name=changed");
    h_write(a, "customers", "c1", "name=Ann");
    int m = a->nev, s0 = a->nsent;
    dev_trigger(a->d, KIND_MASTER);
    h_pump(a);
    assert_int_equal(a->nsent - s0, 4);
    assert_int_equal(a->sent[s0].type, WIRE_PUSH_REQ);
    assert_int_equal(a->sent[s0 + 1].type, WIRE_PAGE_REQ);
    assert_string_equal(a->sent[s0 + 1].table, "products");
    assert_int_equal(a->sent[s0 + 1].after, 0);
    assert_int_equal(a->sent[s0 + 2].type, WIRE_PAGE_REQ);
    assert_string_equal(a->sent[s0 + 2].table, "prices");
    assert_int_equal(a->sent[s0 + 2].after, 0);
    assert_int_equal(a->sent[s0 + 3].type, WIRE_PULL_REQ);
    ASSERT_COUNT(a, m, "lock.acquired kind=master", 1);
    ASSERT_ONLY(a, m, "sync.pull_page", "sync.pull_page rows=3", "sync.pull_page rows=2",
                "sync.pull_page rows=2");
    ASSERT_COUNT(a, m, "sync.completed kind=master", 1);
    assert_string_equal(h_val(a, "products", "products-1", "name"), "changed");
}

/* ======================================================================
 * INIT-1 … INIT-5
 * ==================================================================== */

/* SPEC INIT-1 */
static void test_INIT_1_pages_of_500_empty_table_is_one_page(void **state)
{
    struct world *w = *state;
    assert_int_equal(srv_seed_rows(w->srv, "alice", "customers", 1200), 0);
    assert_int_equal(srv_seed_rows(w->srv, "alice", "products", 3), 0);
    struct hdev *a = h_new(w, "phone");
    int m = a->nev, s0 = a->nsent;
    h_login_sync(a, "alice");
    assert_int_equal(sent_count(a, s0, WIRE_PAGE_REQ), 6);
    assert_int_equal(a->sent[s0 + 1].after, 500);
    assert_int_equal(a->sent[s0 + 2].after, 1000);
    ASSERT_ONLY(a, m, "initial.page",
                "initial.page table=customers rows_done=500 rows_total=1200",
                "initial.page table=customers rows_done=1000 rows_total=1200",
                "initial.page table=customers rows_done=1200 rows_total=1200",
                "initial.page table=orders rows_done=0 rows_total=0",
                "initial.page table=products rows_done=3 rows_total=3",
                "initial.page table=prices rows_done=0 rows_total=0");
    ASSERT_ONLY(a, m, "initial.table_done", "initial.table_done table=customers",
                "initial.table_done table=orders", "initial.table_done table=products",
                "initial.table_done table=prices");
    ASSERT_COUNT(a, m, "initial.completed", 1);
    assert_int_equal(st(a).cursor, 1203);
    assert_string_equal(h_val(a, "customers", "customers-1200", "n"), "1200");
}

/* SPEC INIT-1, INV-RESUME */
static void test_INIT_1_INV_RESUME_restart_resumes_without_refetching(void **state)
{
    struct world *w = *state;
    assert_int_equal(srv_seed_rows(w->srv, "alice", "customers", 1200), 0);
    assert_int_equal(srv_seed_rows(w->srv, "alice", "orders", 10), 0);
    struct hdev *a = h_new(w, "phone");
    int s0 = a->nsent;
    assert_int_equal(h_login(a, "alice"), 0);
    h_deliver(a);                                 /* customers page 1 */
    h_crash(a);
    h_drop_all(a);                                /* page 2's request dies with it */
    h_restart(a);
    assert_int_equal(a->sent[a->nsent - 1].type, WIRE_PAGE_REQ);
    assert_string_equal(a->sent[a->nsent - 1].table, "customers");
    assert_int_equal(a->sent[a->nsent - 1].after, 500);   /* the next page */
    h_deliver(a);
    h_deliver(a);                                 /* customers done */
    h_deliver(a);                                 /* orders done */
    assert_string_equal(a->sent[a->nsent - 1].table, "products");
    h_crash(a);
    h_drop_all(a);
    int m = a->nev;
    h_restart(a);
    ASSERT_SEQ(a, m, "lock.stale_cleared holder=initial", "lock.acquired kind=initial");
    assert_string_equal(a->sent[a->nsent - 1].table, "products");
    assert_int_equal(a->sent[a->nsent - 1].after, 0);
    h_pump(a);
    assert_true(st(a).initial_complete);
    /* p1, p2 (lost in the crash), p2 again, p3: page 1 never refetched */
    assert_int_equal(page_requests(a, s0, "customers"), 4);
    assert_int_equal(page_requests_after(a, s0, "customers", 0), 1);
    assert_int_equal(page_requests(a, s0, "orders"), 1);      /* finished: not again */
    assert_int_equal(page_requests(a, s0, "products"), 2);    /* in flight at the crash */
    assert_int_equal(page_requests(a, s0, "prices"), 1);
}

/* SPEC INIT-1 */
static void test_INIT_1_cursor_is_first_page_snapshot(void **state)
{
    struct world *w = *state;
    assert_int_equal(srv_seed_rows(w->srv, "alice", "customers", 600), 0);
    struct hdev *a = h_new(w, "phone");
    assert_int_equal(h_login(a, "alice"), 0);
    h_deliver(a);                                 /* snapshot: server seq 600 */
    s_write(w, "alice", "customers", "customers-5", "name=late");   /* seq 601 */
    s_write(w, "alice", "customers", "cx", "name=new");             /* seq 602 */
    h_pump(a);
    assert_true(st(a).initial_complete);
    assert_int_equal(st(a).cursor, 600);
    w_advance(w, a->cfg.cooldown_ms);
    int m = a->nev;
    dev_trigger(a->d, KIND_MANUAL);
    h_pump(a);
    ASSERT_ONLY(a, m, "sync.pull_page", "sync.pull_page rows=2");
    assert_int_equal(st(a).cursor, 602);
}

/* SPEC INIT-2 */
static void test_INIT_2_writes_refused_during_initial_sync(void **state)
{
    struct world *w = *state;
    assert_int_equal(srv_seed_rows(w->srv, "alice", "customers", 3), 0);
    struct hdev *a = h_new(w, "phone");
    assert_int_equal(h_login(a, "alice"), 0);     /* a page request in flight */
    int m = a->nev, tx0 = a->ntx;
    assert_int_equal(h_write_rc(a, "customers", "c9", "name=x"), DEV_EREFUSED);
    assert_int_equal(dev_delete(a->d, "customers", "customers-1"), DEV_EREFUSED);
    ASSERT_COUNT(a, m, "app.write_refused reason=initial", 2);
    assert_int_equal(a->ntx, tx0);                /* nothing stored */
    assert_int_equal(st(a).outbox, 0);
    h_pump(a);
    assert_false(h_has_row(a, "customers", "c9"));
    assert_string_equal(h_val(a, "customers", "customers-1", "n"), "1");
}

/* SPEC INIT-2 */
static void test_INIT_2_read_only_and_logged_out_writes_refused(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    int m = a->nev;
    assert_int_equal(h_write_rc(a, "customers", "c1", "name=x"), DEV_EREFUSED);
    ASSERT_COUNT(a, m, "app.write_refused reason=logged_out", 1);
    h_ready(a, "alice");
    assert_int_equal(h_write_rc(a, "products", "p1", "name=x"), DEV_EREFUSED);
    ASSERT_COUNT(a, m, "app.write_refused reason=read_only", 1);
    assert_int_equal(st(a).outbox, 0);
    assert_false(h_has_row(a, "products", "p1"));
}

/* Fails the initial attempts until INIT-3 gives up. */
static void initial_give_up(struct hdev *h)
{
    static const int64_t delays[3] = { 2000, 5000, 15000 };
    for (int i = 0; i < 3; i++) {
        h_forge(h, 500, 0);
        char want[64];
        snprintf(want, sizeof want, "initial.retry attempt=%d delay_ms=%lld", i + 1,
                 (long long)delays[i]);
        ASSERT_COUNT(h, 0, want, 1);
        assert_false(st(h).lock_held);            /* free between attempts */
        w_advance(h->w, delays[i] - 1);
        assert_int_equal(h->npend, 0);
        w_advance(h->w, 1);
        assert_int_equal(h->npend, 1);
    }
    h_forge(h, 500, 0);
    ASSERT_COUNT(h, 0, "initial.gave_up", 1);
}

/* SPEC INIT-3 */
static void test_INIT_3_retries_2_5_15s_then_gives_up(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    assert_int_equal(h_login(a, "alice"), 0);
    h_forge(a, 500, 0);
    int m = a->nev;
    dev_trigger(a->d, KIND_MANUAL);               /* between attempts: the gate */
    ASSERT_COUNT(a, m, "lock.rejected kind=manual reason=gate", 1);
    assert_true(h_wait_request(a, 2000));
    h_forge(a, 500, 0);
    ASSERT_COUNT(a, 0, "initial.retry attempt=2 delay_ms=5000", 1);
    assert_true(h_wait_request(a, 5000));
    h_forge(a, 500, 0);
    ASSERT_COUNT(a, 0, "initial.retry attempt=3 delay_ms=15000", 1);
    assert_true(h_wait_request(a, 15000));
    h_forge(a, 500, 0);
    ASSERT_COUNT(a, 0, "initial.gave_up", 1);
    assert_true(st(a).initial_gave_up);
    assert_false(st(a).retry_pending);
    int s0 = a->nsent;
    w_advance(w, 600000);
    assert_int_equal(a->nsent, s0);               /* waits for the user */
    dev_trigger(a->d, KIND_INITIAL);
    h_pump(a);
    assert_true(st(a).initial_complete);
}

/* SPEC INIT-3 */
static void test_INIT_3_exact_schedule(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    assert_int_equal(h_login(a, "alice"), 0);
    initial_give_up(a);
    ASSERT_COUNT(a, 0, "initial.retry", 3);
}

/* SPEC INIT-3 */
static void test_INIT_3_trigger_after_give_up_restarts_retry_schedule(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    assert_int_equal(h_login(a, "alice"), 0);
    initial_give_up(a);
    int m = a->nev;
    dev_trigger(a->d, KIND_INITIAL);              /* "starts it again" */
    assert_int_equal(a->npend, 1);
    h_forge(a, 500, 0);
    ASSERT_COUNT(a, m, "initial.retry attempt=1 delay_ms=2000", 1);
    ASSERT_COUNT(a, m, "initial.gave_up", 0);
}

/* SPEC INIT-3 */
static void test_INIT_3_offline_initial_request_ends_give_up(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    assert_int_equal(h_login(a, "alice"), 0);
    initial_give_up(a);
    dev_set_online(a->d, false);
    int m = a->nev;
    dev_trigger(a->d, KIND_INITIAL);
    ASSERT_COUNT(a, m, "lock.rejected kind=initial reason=offline", 1);
    assert_false(st(a).initial_gave_up);
    dev_set_online(a->d, true);                   /* INIT-1: starts when online */
    ASSERT_COUNT(a, m, "lock.acquired kind=initial", 1);
    h_pump(a);
    assert_true(st(a).initial_complete);
}

/* SPEC INIT-3, COORD-12 */
static void test_INIT_3_COORD_12_cancel_initial_logs_out_keeps_progress(void **state)
{
    struct world *w = *state;
    assert_int_equal(srv_seed_rows(w->srv, "alice", "customers", 1200), 0);
    struct hdev *a = h_new(w, "phone");
    int s0 = a->nsent;
    assert_int_equal(h_login(a, "alice"), 0);
    h_deliver(a);                                 /* page 1 committed */
    int m = a->nev;
    assert_int_equal(dev_cancel_initial(a->d), 0);
    ASSERT_COUNT(a, m, "auth.logged_out", 1);
    ASSERT_COUNT(a, m, "lock.released kind=initial", 1);
    assert_false(st(a).session);
    assert_false(st(a).lock_held);
    h_deliver(a);                                 /* page 2's late answer */
    ASSERT_COUNT(a, m, "sync.fenced kind=initial", 1);
    ASSERT_COUNT(a, m, "initial.page", 0);
    assert_false(h_has_row(a, "customers", "customers-501"));   /* committed nothing */
    assert_true(h_has_row(a, "customers", "customers-1"));      /* partial data kept */
    assert_int_equal(h_login(a, "alice"), 0);
    assert_int_equal(a->sent[a->nsent - 1].after, 500);         /* resumes */
    h_pump(a);
    assert_true(st(a).initial_complete);
    assert_int_equal(page_requests(a, s0, "customers"), 4);
}

/* SPEC INIT-4 */
static void test_INIT_4_completion_in_last_page_transaction_starts_cooldown(void **state)
{
    struct world *w = *state;
    assert_int_equal(srv_seed_rows(w->srv, "alice", "prices", 2), 0);
    struct hdev *a = h_new(w, "phone");
    h_login_sync(a, "alice");
    int64_t done_wall = W0 + w->now;
    assert_int_equal(st(a).initial_completed_at, done_wall);
    int64_t rid = sql_int(a->db, "SELECT rowid FROM settings WHERE k='completed_at'");
    assert_true(rid > 0);
    const struct txrec *t = NULL;
    for (int i = 0; i < a->ntx && !t; i++)
        for (int k = 0; k < a->tx[i].nset; k++)
            if (a->tx[i].settings[k] == rid) { t = &a->tx[i]; break; }
    assert_non_null(t);
    assert_true(tx_touched(t, "rows"));           /* the last page's rows … */
    assert_true(tx_touched(t, "synced_tables"));  /* … and its progress */
    int m = a->nev;
    w_advance(w, 4999);
    dev_trigger(a->d, KIND_MANUAL);
    ASSERT_COUNT(a, m, "lock.rejected kind=manual reason=cooldown", 1);
    w_advance(w, 1);
    ASSERT_COUNT(a, m, "lock.acquired kind=manual", 1);
}

/* SPEC INIT-4, COORD-5 */
static void test_INIT_4_COORD_5_completion_persisted_cooldown_survives_restart(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_login_sync(a, "alice");
    int64_t done = st(a).initial_completed_at;
    w_advance(w, 2000);
    h_crash(a);
    int m = a->nev;
    h_restart(a);
    assert_true(st(a).initial_complete);
    assert_int_equal(st(a).initial_completed_at, done);
    ASSERT_COUNT(a, m, "lock.rejected kind=background reason=cooldown", 1);
    w_advance(w, 2999);
    ASSERT_COUNT(a, m, "lock.acquired", 0);
    w_advance(w, 1);
    ASSERT_COUNT(a, m, "lock.acquired kind=background", 1);
}

/* SPEC INIT-5 */
static void test_INIT_5_page_events_carry_progress_and_eta(void **state)
{
    struct world *w = *state;
    assert_int_equal(srv_seed_rows(w->srv, "alice", "customers", 1200), 0);
    struct hdev *a = h_new(w, "phone");
    int m = a->nev;
    assert_int_equal(h_login(a, "alice"), 0);
    for (int i = 0; i < 3; i++) {
        w_advance(w, 100);
        h_deliver(a);
    }
    h_pump(a);
    ASSERT_ONLY(a, m, "initial.page",
                "initial.page table=customers rows_done=500 rows_total=1200 pct= eta_ms=140",
                "initial.page table=customers rows_done=1000 rows_total=1200 pct= eta_ms=40",
                "initial.page table=customers rows_done=1200 rows_total=1200 pct= eta_ms=0",
                "initial.page table=orders rows_done=0 rows_total=0 pct= eta_ms=",
                "initial.page table=products rows_done=0 rows_total=0 pct= eta_ms=",
                "initial.page table=prices rows_done=0 rows_total=0 pct=100 eta_ms=0");
    int64_t last = -1;
    for (int i = h_find(a, m, "initial.page"); i >= 0; i = h_find(a, i + 1, "initial.page")) {
        int64_t pct = ev_int_of(a, i, "pct");
        assert_true(in_range(pct, 0, 100));
        assert_true(pct >= last);                 /* never goes back */
        last = pct;
    }
}

/* ======================================================================
 * CONF-1 … CONF-5
 * ==================================================================== */

/* Two devices of alice, both ready. */
static void two_devices(struct world *w, struct hdev **a, struct hdev **b, const char *table,
                        enum strategy strat)
{
    if (table) s_table(w, table, false, strat);
    *a = h_create(w, "phone");
    *b = h_create(w, "tablet");
    if (table) {
        h_table(*a, table, false, strat);
        h_table(*b, table, false, strat);
    }
    h_boot(*a);
    h_boot(*b);
    h_login_sync(*a, "alice");
    h_login_sync(*b, "alice");
    w_advance(w, 5000);
}

/* One device's pending writes pushed now (its debounce fires). */
static void push_now(struct hdev *h)
{
    dev_trigger(h->d, KIND_MANUAL);
    h_pump(h);
}

/* SPEC CONF-1, CONF-3 */
static void test_CONF_1_CONF_3_lww_stale_push_detected_resolved_remote(void **state)
{
    struct world *w = *state;
    s_write(w, "alice", "customers", "c1", "name=v0 city=Oslo");
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=mine");
    w_advance(w, 10);
    s_write(w, "alice", "customers", "c1", "name=server");   /* a greater stamp */
    int m = a->nev;
    push_now(a);
    ASSERT_COUNT(a, m, "sync.push_acked applied=0 stale=1 conflict=0 rejected=0", 1);
    ASSERT_SEQ(a, m, "conflict.detected table=customers id=c1 type=update/update fields=name",
               "conflict.resolved table=customers id=c1 winner=remote");
    assert_string_equal(h_val(a, "customers", "c1", "name"), "server");
    assert_string_equal(s_val(w, "alice", "customers", "c1", "name"), "server");
    assert_int_equal(st(a).conflicts, 1);
    assert_int_equal(st(a).conflicts_unresolved, 0);
    assert_int_equal(st(a).outbox, 0);
}

/* SPEC CONF-1 */
static void test_CONF_1_lww_greater_stamp_wins_concurrent_push_resolved_local(void **state)
{
    struct world *w = *state;
    s_write(w, "alice", "customers", "c1", "name=v0");
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    s_write(w, "alice", "customers", "c1", "name=server");   /* unseen by phone */
    w_advance(w, 10);
    h_write(a, "customers", "c1", "name=mine");              /* a greater stamp */
    int m = a->nev;
    push_now(a);
    ASSERT_COUNT(a, m, "sync.push_acked applied=1 stale=0 conflict=0 rejected=0", 1);
    ASSERT_SEQ(a, m, "conflict.detected table=customers id=c1 type=update/update",
               "conflict.resolved table=customers id=c1 winner=local");
    assert_string_equal(s_val(w, "alice", "customers", "c1", "name"), "mine");
    assert_string_equal(h_val(a, "customers", "c1", "name"), "mine");
}

/* SPEC CONF-3 */
static void test_CONF_3_delete_update_types_and_fields(void **state)
{
    struct world *w = *state;
    s_write(w, "alice", "customers", "c1", "name=v0 city=Oslo");
    struct hdev *a, *b;
    two_devices(w, &a, &b, NULL, STRAT_LWW);
    assert_int_equal(dev_delete(a->d, "customers", "c1"), 0);   /* earlier stamp */
    w_advance(w, 10);
    h_write(b, "customers", "c1", "name=B");
    push_now(b);
    int m = a->nev;
    push_now(a);                                              /* stale */
    ASSERT_COUNT(a, m, "conflict.detected table=customers id=c1 type=delete/update fields=name", 1);
    ASSERT_COUNT(a, m, "conflict.resolved table=customers id=c1 winner=remote", 1);
}

/* SPEC CONF-3 */
static void test_CONF_3_applied_concurrent_push_reports_replaced_version(void **state)
{
    struct world *w = *state;
    s_write(w, "alice", "customers", "c1", "name=v0 city=Oslo");
    struct hdev *a, *b;
    two_devices(w, &a, &b, NULL, STRAT_LWW);
    assert_int_equal(dev_delete(b->d, "customers", "c1"), 0);   /* the server's version */
    push_now(b);
    w_advance(w, 10);
    h_write(a, "customers", "c1", "name=A");                    /* greater stamp: applies */
    int m = a->nev;
    push_now(a);
    ASSERT_COUNT(a, m, "sync.push_acked applied=1 stale=0 conflict=0 rejected=0", 1);
    /* push = update, server version it conflicted with = delete; name differs */
    ASSERT_COUNT(a, m, "conflict.detected table=customers id=c1 type=update/delete fields=name", 1);
}

/* SPEC CONF-2 */
static void test_CONF_2_merge_concurrent_edits_of_different_fields_survive(void **state)
{
    struct world *w = *state;
    struct hdev *a, *b;
    s_table(w, "notes", false, STRAT_MERGE);
    s_write(w, "alice", "notes", "n1", "a=1 b=1");
    two_devices(w, &a, &b, "notes", STRAT_MERGE);
    h_write(a, "notes", "n1", "a=2");
    h_write(b, "notes", "n1", "b=2");
    push_now(a);
    int m = b->nev;
    push_now(b);                                  /* concurrent, wins field b */
    ASSERT_COUNT(b, m, "sync.push_acked applied=1 stale=0 conflict=0 rejected=0", 1);
    ASSERT_COUNT(b, m, "conflict.resolved table=notes id=n1 winner=local", 1);
    assert_string_equal(s_val(w, "alice", "notes", "n1", "a"), "2");
    assert_string_equal(s_val(w, "alice", "notes", "n1", "b"), "2");
    assert_string_equal(h_val(b, "notes", "n1", "a"), "2");   /* CONF-5: from the ack */
    push_now(a);                                  /* a pulls the merged row */
    assert_string_equal(h_val(a, "notes", "n1", "b"), "2");
}

/* SPEC CONF-2 */
static void test_CONF_2_remote_concurrent_push_is_stale(void **state)
{
    struct world *w = *state;
    struct hdev *a, *b;
    two_devices(w, &a, &b, "prefs", STRAT_REMOTE);
    h_write(b, "prefs", "p1", "v=b");
    push_now(b);
    w_advance(w, 10);
    h_write(a, "prefs", "p1", "v=a");             /* later, but concurrent */
    int m = a->nev;
    push_now(a);
    ASSERT_COUNT(a, m, "sync.push_acked applied=0 stale=1 conflict=0 rejected=0", 1);
    ASSERT_COUNT(a, m, "conflict.resolved table=prefs id=p1 winner=remote", 1);
    assert_string_equal(s_val(w, "alice", "prefs", "p1", "v"), "b");
    assert_string_equal(h_val(a, "prefs", "p1", "v"), "b");
    h_write(a, "prefs", "p1", "v=a2");            /* now based on b's version */
    push_now(a);
    assert_string_equal(s_val(w, "alice", "prefs", "p1", "v"), "a2");
}

/* SPEC CONF-2 */
static void test_CONF_2_local_every_push_applies(void **state)
{
    struct world *w = *state;
    struct hdev *a, *b;
    two_devices(w, &a, &b, "drafts", STRAT_LOCAL);
    h_write(a, "drafts", "d1", "v=a");            /* the earlier stamp */
    w_advance(w, 10);
    h_write(b, "drafts", "d1", "v=b");
    push_now(b);
    int m = a->nev;
    push_now(a);
    ASSERT_COUNT(a, m, "sync.push_acked applied=1 stale=0 conflict=0 rejected=0", 1);
    ASSERT_COUNT(a, m, "conflict.resolved table=drafts id=d1 winner=local", 1);
    assert_string_equal(s_val(w, "alice", "drafts", "d1", "v"), "a");
}

/* Manual: b's edit applied, a's concurrent edit answered `conflict`. */
static void manual_conflict(struct world *w, struct hdev **a, struct hdev **b)
{
    s_table(w, "tasks", false, STRAT_MANUAL);
    s_write(w, "alice", "tasks", "t1", "s=open");
    two_devices(w, a, b, "tasks", STRAT_MANUAL);
    h_write(*b, "tasks", "t1", "s=done");
    push_now(*b);
    h_write(*a, "tasks", "t1", "s=wip note=x");
    int m = (*a)->nev;
    push_now(*a);
    ASSERT_COUNT(*a, m, "sync.push_acked applied=0 stale=0 conflict=1 rejected=0", 1);
    ASSERT_COUNT(*a, m, "conflict.detected table=tasks id=t1 type=update/update", 1);
    ASSERT_COUNT(*a, m, "conflict.resolved", 0);
    struct dev_state s = st(*a);
    assert_int_equal(s.conflicts_unresolved, 1);
    assert_int_equal(s.outbox, 0);
    assert_string_equal(h_val(*a, "tasks", "t1", "s"), "done");   /* the server's row */
    assert_true(dev_row_excepted((*a)->d, "tasks", "t1"));
}

/* SPEC CONF-2 */
static void test_CONF_2_manual_conflict_kept_then_resolved_local(void **state)
{
    struct world *w = *state;
    struct hdev *a, *b;
    manual_conflict(w, &a, &b);
    int m = a->nev;
    assert_int_equal(dev_resolve(a->d, "tasks", "t1", true), 0);
    ASSERT_COUNT(a, m, "conflict.resolved table=tasks id=t1 winner=local", 1);
    assert_int_equal(st(a).conflicts_unresolved, 0);
    assert_int_equal(st(a).outbox, 1);
    assert_string_equal(h_val(a, "tasks", "t1", "s"), "wip");
    assert_string_equal(h_val(a, "tasks", "t1", "note"), "x");
    assert_true(h_wait_request(a, 1000));         /* its repository trigger */
    h_pump(a);
    ASSERT_COUNT(a, m, "sync.push_acked applied=1 stale=0 conflict=0 rejected=0", 1);
    ASSERT_COUNT(a, m, "conflict.detected", 0);   /* based on the current version */
    assert_string_equal(s_val(w, "alice", "tasks", "t1", "s"), "wip");
    assert_string_equal(s_val(w, "alice", "tasks", "t1", "note"), "x");
}

/* SPEC CONF-2 */
static void test_CONF_2_manual_conflict_resolved_remote_drops_change(void **state)
{
    struct world *w = *state;
    struct hdev *a, *b;
    manual_conflict(w, &a, &b);
    int m = a->nev;
    assert_int_equal(dev_resolve(a->d, "tasks", "t1", false), 0);
    ASSERT_COUNT(a, m, "conflict.resolved table=tasks id=t1 winner=remote", 1);
    assert_int_equal(st(a).conflicts_unresolved, 0);
    assert_int_equal(st(a).outbox, 0);
    assert_false(dev_row_excepted(a->d, "tasks", "t1"));
    assert_string_equal(h_val(a, "tasks", "t1", "s"), "done");
    assert_string_equal(s_val(w, "alice", "tasks", "t1", "s"), "done");
}

/* CONF-4: phone's wall clock is 60 s slow. tablet writes; phone pulls it,
 * then edits 1 s later. Returns the server's value of the row. */
static const char *hlc_case(struct world *w, enum clock_mode clock)
{
    s_write(w, "alice", "customers", "c1", "name=v0");
    struct hdev *a = h_create(w, "phone"), *b = h_create(w, "tablet");
    a->skew = -60000;
    a->cfg.clock = b->cfg.clock = clock;
    h_boot(a);
    h_boot(b);
    h_login_sync(a, "alice");
    h_login_sync(b, "alice");
    w_advance(w, 5000);
    h_write(b, "customers", "c1", "name=B");
    push_now(b);
    push_now(a);                                  /* phone sees B */
    assert_string_equal(h_val(a, "customers", "c1", "name"), "B");
    w_advance(w, 1000);
    h_write(a, "customers", "c1", "name=A");      /* made after seeing B */
    if (clock == CLOCK_HLC)
        assert_int_equal(h_stamp_at(a, "customers", "c1"), h_stamp_at(b, "customers", "c1") + 1);
    push_now(a);
    return s_val(w, "alice", "customers", "c1", "name");
}

/* SPEC CONF-4 */
static void test_CONF_4_hlc_later_edit_wins_under_skew(void **state)
{
    assert_string_equal(hlc_case(*state, CLOCK_HLC), "A");
}

/* SPEC CONF-4 */
static void test_CONF_4_wall_clock_later_edit_loses_under_skew(void **state)
{
    assert_string_equal(hlc_case(*state, CLOCK_WALL), "B");
}

/* SPEC CONF-5 */
static void test_CONF_5_ack_moves_base_seq_keeps_row_while_item_pending(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_create(w, "phone");
    a->cfg.push_batch = 1;
    h_boot(a);
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "v=1");
    h_write(a, "customers", "c1", "v=2");
    dev_trigger(a->d, KIND_MANUAL);
    h_deliver(a);                                 /* ack of v=1 */
    uint64_t s1 = srv_user_seq(w->srv, "alice");
    assert_string_equal(h_val(a, "customers", "c1", "v"), "2");   /* RUN-3 */
    assert_int_equal(sql_int(a->db, "SELECT base_seq FROM rows WHERE tbl='customers' AND id='c1'"),
                     (int64_t)s1);
    assert_int_equal(st(a).outbox, 1);
    h_pump(a);
    assert_string_equal(h_val(a, "customers", "c1", "v"), "2");
    assert_int_equal(sql_int(a->db, "SELECT base_seq FROM rows WHERE tbl='customers' AND id='c1'"),
                     (int64_t)srv_user_seq(w->srv, "alice"));
    assert_int_equal(st(a).conflicts, 0);         /* its own writes never conflict */
}

/* SPEC CONF-5 */
static void test_CONF_5_row_below_base_seq_never_installed(void **state)
{
    struct world *w = *state;
    s_write(w, "alice", "customers", "c1", "v=1");              /* seq 1 */
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    s_write(w, "alice", "customers", "c1", "v=2");              /* seq 2 */
    push_now(a);
    assert_string_equal(h_val(a, "customers", "c1", "v"), "2");
    dev_trigger(a->d, KIND_MANUAL);
    struct row old;
    row_init(&old, "customers", "c1");
    struct stamp sp = { .at = W0, .seq = 0 };
    snprintf(sp.by, sizeof sp.by, "server");
    assert_int_equal(row_set(&old, "v", "old", &sp), 0);
    old.st = sp;
    old.seq = 1;
    struct wire_msg m;
    wire_msg_init(&m, WIRE_PULL_RESP);
    m.rows = &old;
    m.nrows = 1;
    m.server_seq = 2;
    h_forge_msg(a, &m);                           /* a stale page */
    row_free(&old);
    assert_string_equal(h_val(a, "customers", "c1", "v"), "2");
}

/* ======================================================================
 * COORD-7, COORD-10, COORD-12
 * ==================================================================== */

/* SPEC COORD-7 */
static void test_COORD_7_persisted_holder_cleared_at_start(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    dev_trigger(a->d, KIND_MANUAL);
    char holder[32] = "";
    sqlite3_stmt *q = NULL;
    sqlite3_prepare_v2(a->db, "SELECT v FROM settings WHERE k='holder'", -1, &q, NULL);
    if (sqlite3_step(q) == SQLITE_ROW) snprintf(holder, sizeof holder, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    assert_string_equal(holder, "manual");        /* persisted while held */
    h_crash(a);
    int m = a->nev;
    h_restart(a);
    ASSERT_COUNT(a, m, "lock.stale_cleared holder=manual", 1);
    ASSERT_SEQ(a, m, "lock.stale_cleared holder=manual", "lock.acquired kind=background");
    h_pump(a);
    assert_int_equal(sql_int(a->db, "SELECT COUNT(*) FROM settings WHERE k='holder'"), 0);
    h_crash(a);
    m = a->nev;
    h_restart(a);
    ASSERT_COUNT(a, m, "lock.stale_cleared", 0);  /* nothing held at the crash */
}

/* SPEC COORD-7 */
static void test_COORD_7_holder_not_persisted_after_force_release_frees_lock(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_create(w, "phone");
    a->cfg.request_timeout_ms = 600000;           /* a stuck run can outlive lock_timeout */
    h_boot(a);
    h_ready(a, "alice");
    dev_trigger(a->d, KIND_MANUAL);
    dev_set_online(a->d, false);
    w_advance(w, 300001);
    int m = a->nev;
    dev_trigger(a->d, KIND_MANUAL);
    ASSERT_SEQ(a, m, "lock.force_released kind=manual held_ms=300001",
               "lock.rejected kind=manual reason=offline");
    assert_false(st(a).lock_held);
    assert_int_equal(sql_int(a->db, "SELECT COUNT(*) FROM settings WHERE k='holder'"), 0);
}

/* SPEC COORD-10 */
static void test_COORD_10_logout_keeps_data_same_user_completes_at_once(void **state)
{
    struct world *w = *state;
    s_write(w, "alice", "customers", "c1", "name=v0");
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c2", "name=Bo");     /* pending at logout */
    assert_int_equal(dev_logout(a->d), 0);
    assert_false(st(a).session);
    assert_false(st(a).initial_complete);         /* the gate closes */
    assert_true(h_has_row(a, "customers", "c1"));
    assert_int_equal(st(a).outbox, 1);
    int m = a->nev, s0 = a->nsent;
    assert_int_equal(h_login(a, "alice"), 0);
    ASSERT_COUNT(a, m, "initial.completed", 1);   /* at once */
    assert_int_equal(sent_count(a, s0, WIRE_PAGE_REQ), 0);
    assert_true(st(a).initial_complete);
    assert_true(h_wait_request(a, 6000));         /* after the cooldown: the push */
    h_pump(a);
    assert_int_equal(st(a).outbox, 0);
    assert_string_equal(s_val(w, "alice", "customers", "c2", "name"), "Bo");
}

/* SPEC COORD-10 */
static void test_COORD_10_other_user_login_refused_while_outbox_not_empty(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c2", "name=Bo");
    assert_int_equal(dev_logout(a->d), 0);
    int m = a->nev;
    assert_int_equal(h_login(a, "bob"), DEV_EREFUSED);
    ASSERT_COUNT(a, m, "auth.login_refused reason=pending", 1);
    assert_false(st(a).session);
    assert_true(h_has_row(a, "customers", "c2"));
    assert_int_equal(st(a).outbox, 1);
}

/* SPEC COORD-10 */
static void test_COORD_10_other_user_login_clears_previous_user_data(void **state)
{
    struct world *w = *state;
    s_write(w, "alice", "customers", "c1", "name=alice");
    s_write(w, "bob", "customers", "b1", "name=bob");
    s_write(w, "bob", "customers", "b2", "name=bob");
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    assert_int_equal(dev_logout(a->d), 0);
    h_login_sync(a, "bob");
    assert_false(h_has_row(a, "customers", "c1"));
    assert_true(h_has_row(a, "customers", "b2"));
    assert_int_equal(st(a).cursor, srv_user_seq(w->srv, "bob"));
    assert_int_equal(st(a).cursor, 2);
}

/* SPEC COORD-10 */
static void test_COORD_10_login_while_logged_in_refused(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    int m = a->nev;
    assert_int_equal(h_login(a, "alice"), DEV_EREFUSED);
    ASSERT_COUNT(a, m, "auth.login_refused reason=logged_in", 1);
}

/* SPEC COORD-12 */
static void test_COORD_12_force_released_run_late_response_is_fenced(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_create(w, "phone");
    a->cfg.request_timeout_ms = 600000;
    h_boot(a);
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    dev_trigger(a->d, KIND_MANUAL);               /* the push gets stuck */
    w_advance(w, 300001);
    int m = a->nev;
    dev_trigger(a->d, KIND_MANUAL);
    ASSERT_SEQ(a, m, "lock.force_released kind=manual held_ms=300001", "lock.acquired kind=manual");
    assert_int_equal(a->npend, 2);                /* old push, new push */
    int m2 = a->nev;
    h_deliver(a);                                 /* the old run's answer */
    ASSERT_ONLY(a, m2, "", "sync.fenced kind=manual");   /* and nothing else */
    assert_int_equal(st(a).outbox, 1);            /* committed nothing */
    assert_true(st(a).lock_held);
    h_pump(a);                                    /* the new run: verbatim result */
    ASSERT_COUNT(a, m2, "sync.push_acked applied=1 stale=0 conflict=0 rejected=0", 1);
    assert_int_equal(st(a).outbox, 0);
}

/* SPEC COORD-12 */
static void test_COORD_12_logout_fences_running_sync(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    dev_trigger(a->d, KIND_MANUAL);
    int m = a->nev;
    assert_int_equal(dev_logout(a->d), 0);
    ASSERT_SEQ(a, m, "lock.released kind=manual", "auth.logged_out");
    h_deliver(a);
    ASSERT_COUNT(a, m, "sync.fenced kind=manual", 1);
    ASSERT_COUNT(a, m, "sync.push_acked", 0);
    assert_int_equal(st(a).outbox, 1);
}

/* ======================================================================
 * Status (§1.8) — STATUS-precedence
 * ==================================================================== */

/* SPEC status (§1.8) */
static void test_STATUS_1_8_events_at_start_and_every_change(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_new(w, "phone");
    h_login_sync(a, "alice");
    w_advance(w, 5000);
    h_write(a, "customers", "c1", "name=Ann");
    dev_trigger(a->d, KIND_MANUAL);
    h_pump(a);
    ASSERT_ONLY(a, 0, "status", "status status=logged_out", "status status=initial",
                "status status=synced", "status status=pending", "status status=syncing",
                "status status=synced");
}

/* SPEC status (§1.8) */
static void test_STATUS_1_8_precedence(void **state)
{
    struct world *w = *state;
    struct hdev *a = h_create(w, "phone");
    a->cfg.breaker_threshold = 1000;
    h_boot(a);
    h_ready(a, "alice");
    h_write(a, "customers", "c1", "name=Ann");
    assert_int_equal(st(a).status, ST_PENDING);
    dev_trigger(a->d, KIND_MANUAL);
    assert_int_equal(st(a).status, ST_SYNCING);
    h_forge(a, 500, 0);
    assert_int_equal(st(a).status, ST_ERROR);           /* error > pending */
    fail_requests(a, 4, 500);
    assert_int_equal(st(a).deadletters, 1);
    assert_int_equal(st(a).status, ST_DEADLETTER);      /* deadletter > error */
    dev_trigger(a->d, KIND_MANUAL);
    assert_int_equal(st(a).status, ST_SYNCING);         /* syncing > deadletter */
    dev_set_online(a->d, false);
    assert_int_equal(st(a).status, ST_OFFLINE);         /* offline > syncing */
    assert_int_equal(dev_logout(a->d), 0);
    assert_int_equal(st(a).status, ST_LOGGED_OUT);
    struct hdev *b = h_new(w, "tablet");
    dev_set_online(b->d, false);
    assert_int_equal(h_login(b, "alice"), 0);
    assert_int_equal(st(b).status, ST_INITIAL);         /* initial > offline */
}

#define T(f) cmocka_unit_test_setup_teardown(f, w_setup, w_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_INV_DURABLE_write_commits_row_and_outbox_in_one_transaction),
        T(test_INV_DURABLE_write_survives_close_and_reopen),
        T(test_OUT_1_recycle_follows_push_batch),
        T(test_OUT_1_batches_of_push_batch_in_local_order),
        T(test_OUT_2_item_leaves_outbox_only_after_ack),
        T(test_OUT_2_lost_ack_keeps_item_and_server_applies_once),
        T(test_OUT_3_five_transport_failures_move_item_to_dead_letters),
        T(test_OUT_3_large_batch_every_item_counted_and_dead_lettered),
        T(test_OUT_3_rejected_item_dead_letters_at_once_rest_of_batch_goes_on),
        T(test_OUT_3_requeue_returns_dead_letters_with_fresh_count),
        T(test_OUT_3_offline_is_not_an_attempt),
        T(test_OUT_4_debounce_500ms_writes_in_window_join),
        T(test_OUT_4_manual_trigger_is_not_debounced),
        T(test_OUT_5_periodic_job_is_push_only_every_interval),
        T(test_OUT_5_periodic_counts_from_start_after_restart),
        T(test_RUN_1_push_then_pull),
        T(test_RUN_1_empty_outbox_sends_no_push),
        T(test_RUN_1_failed_push_skips_pull),
        T(test_RUN_2_cursor_is_server_seq_and_pull_pages),
        T(test_RUN_3_INV_GUARD_pull_never_overwrites_pending_local_row),
        T(test_RUN_4_backoff_1_2_4_8_16s_with_jitter),
        T(test_RUN_4_success_resets_backoff),
        T(test_RUN_4_retry_after_is_exact),
        T(test_RUN_5_breaker_opens_after_5_failures_half_opens_after_30s),
        T(test_RUN_5_failed_probe_reopens_breaker),
        T(test_RUN_5_breaker_refusal_is_no_attempt_for_OUT_3),
        T(test_RUN_6_timeout_at_30s_late_response_ignored),
        T(test_RUN_6_duplicated_responses_applied_once),
        T(test_RUN_6_response_from_before_restart_ignored),
        T(test_RUN_7_401_logs_out_and_is_not_retried),
        T(test_RUN_8_start_with_session_runs_background_push_and_pull),
        T(test_RUN_8_offline_triggers_remembered_one_run_when_online),
        T(test_RUN_9_starting_a_run_cancels_pending_retry),
        T(test_RUN_9_followup_starting_on_release_cancels_retry),
        T(test_RUN_10_progress_events_after_commit),
        T(test_RUN_11_master_pushes_redownloads_read_only_then_pulls),
        T(test_INIT_1_pages_of_500_empty_table_is_one_page),
        T(test_INIT_1_INV_RESUME_restart_resumes_without_refetching),
        T(test_INIT_1_cursor_is_first_page_snapshot),
        T(test_INIT_2_writes_refused_during_initial_sync),
        T(test_INIT_2_read_only_and_logged_out_writes_refused),
        T(test_INIT_3_retries_2_5_15s_then_gives_up),
        T(test_INIT_3_exact_schedule),
        T(test_INIT_3_trigger_after_give_up_restarts_retry_schedule),
        T(test_INIT_3_offline_initial_request_ends_give_up),
        T(test_INIT_3_COORD_12_cancel_initial_logs_out_keeps_progress),
        T(test_INIT_4_completion_in_last_page_transaction_starts_cooldown),
        T(test_INIT_4_COORD_5_completion_persisted_cooldown_survives_restart),
        T(test_INIT_5_page_events_carry_progress_and_eta),
        T(test_CONF_1_CONF_3_lww_stale_push_detected_resolved_remote),
        T(test_CONF_1_lww_greater_stamp_wins_concurrent_push_resolved_local),
        T(test_CONF_3_delete_update_types_and_fields),
        T(test_CONF_3_applied_concurrent_push_reports_replaced_version),
        T(test_CONF_2_merge_concurrent_edits_of_different_fields_survive),
        T(test_CONF_2_remote_concurrent_push_is_stale),
        T(test_CONF_2_local_every_push_applies),
        T(test_CONF_2_manual_conflict_kept_then_resolved_local),
        T(test_CONF_2_manual_conflict_resolved_remote_drops_change),
        T(test_CONF_4_hlc_later_edit_wins_under_skew),
        T(test_CONF_4_wall_clock_later_edit_loses_under_skew),
        T(test_CONF_5_ack_moves_base_seq_keeps_row_while_item_pending),
        T(test_CONF_5_row_below_base_seq_never_installed),
        T(test_COORD_7_persisted_holder_cleared_at_start),
        T(test_COORD_7_holder_not_persisted_after_force_release_frees_lock),
        T(test_COORD_10_logout_keeps_data_same_user_completes_at_once),
        T(test_COORD_10_other_user_login_refused_while_outbox_not_empty),
        T(test_COORD_10_other_user_login_clears_previous_user_data),
        T(test_COORD_10_login_while_logged_in_refused),
        T(test_COORD_12_force_released_run_late_response_is_fenced),
        T(test_COORD_12_logout_fences_running_sync),
        T(test_STATUS_1_8_events_at_start_and_every_change),
        T(test_STATUS_1_8_precedence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
