/*
 * test_server.c — the sync server (SPEC §1.6, §1.7, INV-SCOPE, INV-ONCE)
 * driven only through its network surface: requests built with wire_encode,
 * answered by srv_handle, responses read back with wire_decode.
 *
 * A tiny environment: a manual wall clock and a counter for randomness.
 * Each test gets a fresh in-memory database (SRV-5 uses a file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server.h"

#define T0 1767225600000LL  /* 2026-01-01T00:00:00Z (SPEC §3) */
#define MAX_OBS 64

struct tenv {
    int64_t now;
    uint64_t ctr;
};

static int64_t t_now(void *ctx) { return ((struct tenv *)ctx)->now; }
static int64_t t_mono(void *ctx) { return ((struct tenv *)ctx)->now - T0; }
static uint64_t t_random(void *ctx) { return ++((struct tenv *)ctx)->ctr * 0x9e3779b97f4a7c15ULL; }

struct obs {
    char user[NAME_MAX_LEN + 1];
    char op[OP_ID_MAX + 1];
    bool has_item;
    enum push_outcome outcome;
    uint64_t seq;
    char id[ROW_ID_MAX + 1];
};

struct fx {
    struct tenv tenv;
    struct env env;
    struct config cfg;
    sqlite3 *db;
    struct srv *s;
    char path[128];                /* file database, SRV-5 only */
    char phone[TOKEN_MAX + 1];     /* alice's devices */
    char tablet[TOKEN_MAX + 1];
    char bob[TOKEN_MAX + 1];       /* another user (INV-SCOPE) */
    uint64_t req;
    int nobs;
    struct obs obs[MAX_OBS];
};

static void on_commit(void *arg, const char *user, const char *op_id,
                      const struct push_item *item, const struct row *written,
                      enum push_outcome outcome)
{
    struct fx *f = arg;
    if (f->nobs++ >= MAX_OBS)
        return;  /* counted, not kept */
    struct obs *o = &f->obs[f->nobs - 1];
    snprintf(o->user, sizeof o->user, "%s", user);
    snprintf(o->op, sizeof o->op, "%s", op_id);
    o->has_item = item != NULL;
    o->outcome = outcome;
    o->seq = written->seq;
    snprintf(o->id, sizeof o->id, "%s", written->id);
}

static void declare(struct srv *s, const char *name, bool ro, enum strategy st)
{
    struct table_decl t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    t.read_only = ro;
    t.strategy = st;
    assert_int_equal(srv_declare_table(s, &t), 0);
}

static void open_srv(struct fx *f)
{
    char err[256] = "";
    f->s = srv_open(f->db, &f->env, &f->cfg, err, sizeof err);
    if (f->s == NULL)
        fail_msg("srv_open: %s", err);
    srv_set_observer(f->s, on_commit, f);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->tenv.now = T0;
    f->env = (struct env){ .ctx = &f->tenv, .now_ms = t_now, .mono_ms = t_mono,
                           .random = t_random };
    config_default(&f->cfg);
    assert_int_equal(sqlite3_open(":memory:", &f->db), SQLITE_OK);
    open_srv(f);
    struct table_decl defs[MAX_TABLES];
    int n = table_defaults(defs, MAX_TABLES);
    for (int i = 0; i < n; i++)
        assert_int_equal(srv_declare_table(f->s, &defs[i]), 0);
    declare(f->s, "m_merge", false, STRAT_MERGE);
    declare(f->s, "m_remote", false, STRAT_REMOTE);
    declare(f->s, "m_local", false, STRAT_LOCAL);
    declare(f->s, "m_manual", false, STRAT_MANUAL);
    assert_int_equal(srv_issue_token(f->s, "alice", "phone", f->phone, sizeof f->phone), 0);
    assert_int_equal(srv_issue_token(f->s, "alice", "tablet", f->tablet, sizeof f->tablet), 0);
    assert_int_equal(srv_issue_token(f->s, "bob", "bphone", f->bob, sizeof f->bob), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    srv_close(f->s);
    sqlite3_close(f->db);
    if (f->path[0] != '\0') {
        unlink(f->path);
        char *slash = strrchr(f->path, '/');
        if (slash) *slash = '\0';
        rmdir(f->path);   /* the mkdtemp directory */
    }
    free(f);
    return 0;
}

/* ---- building requests ---- */

/* An item whose row sets every field in kv ("a=1 b=2") with one stamp. */
static void item(struct push_item *it, const char *op, const char *table, const char *id,
                 uint64_t base, int64_t at, const char *by, uint64_t opseq, const char *kv)
{
    struct stamp st;
    memset(it, 0, sizeof *it);
    memset(&st, 0, sizeof st);
    snprintf(it->op_id, sizeof it->op_id, "%s", op);
    it->base_seq = base;
    st.at = at;
    snprintf(st.by, sizeof st.by, "%s", by);
    st.seq = opseq;
    row_init(&it->row, table, id);
    it->row.st = st;
    char *buf = strdup(kv);
    assert_non_null(buf);
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = '\0';
        assert_int_equal(row_set(&it->row, tok, eq + 1, &st), 0);
    }
    free(buf);
}

/* Sends bytes, decodes the answer, checks it echoes req_id. */
static void roundtrip(struct fx *f, const uint8_t *req, size_t len, uint64_t req_id,
                      struct wire_msg *resp)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    struct wire_err err;
    assert_int_equal(srv_handle(f->s, req, len, &out, &out_len), 0);
    assert_true(out_len <= WIRE_MAX_MSG);
    if (wire_decode(out, out_len, resp, &err) != 0)
        fail_msg("response does not decode: %s at %zu", err.what, err.offset);
    assert_int_equal(resp->req_id, req_id);
    free(out);
}

static void send_msg(struct fx *f, struct wire_msg *m, struct wire_msg *resp)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    m->req_id = ++f->req;
    assert_int_equal(wire_encode(m, &buf, &len), 0);
    roundtrip(f, buf, len, m->req_id, resp);
    free(buf);
}

static void push(struct fx *f, const char *tok, struct push_item *items, int n,
                 struct wire_msg *resp)
{
    struct wire_msg m;
    wire_msg_init(&m, WIRE_PUSH_REQ);
    snprintf(m.token, sizeof m.token, "%s", tok);
    m.items = items;
    m.nitems = n;
    send_msg(f, &m, resp);
}

/* Pushes one item (freed after) and expects a 200 with one result. */
static void push1(struct fx *f, const char *tok, struct push_item *it, struct wire_msg *resp)
{
    push(f, tok, it, 1, resp);
    row_free(&it->row);
    assert_int_equal(resp->type, WIRE_PUSH_RESP);
    assert_int_equal(resp->status, WS_OK);
    assert_int_equal(resp->nresults, 1);
}

static void pull(struct fx *f, const char *tok, uint64_t cursor, uint32_t limit,
                 struct wire_msg *resp)
{
    struct wire_msg m;
    wire_msg_init(&m, WIRE_PULL_REQ);
    snprintf(m.token, sizeof m.token, "%s", tok);
    m.cursor = cursor;
    m.limit = limit;
    send_msg(f, &m, resp);
}

static void page(struct fx *f, const char *tok, const char *table, uint64_t after,
                 uint32_t limit, struct wire_msg *resp)
{
    struct wire_msg m;
    wire_msg_init(&m, WIRE_PAGE_REQ);
    snprintf(m.token, sizeof m.token, "%s", tok);
    snprintf(m.table, sizeof m.table, "%s", table);
    m.after_seq = after;
    m.limit = limit;
    send_msg(f, &m, resp);
}

static void swrite(struct fx *f, const char *user, const char *table, const char *id,
                   const char *name, const char *value, bool deleted)
{
    const char *names[1] = { name }, *values[1] = { value };
    assert_int_equal(srv_write(f->s, user, table, id, name ? 1 : 0, names, values,
                               deleted, "server"), 0);
}

static void assert_field(const struct row *r, const char *name, const char *want)
{
    const char *v = row_get(r, name);
    if (v == NULL || strcmp(v, want) != 0)
        fail_msg("%s/%s: %s=%s, expected %s", r->table, r->id, name, v ? v : "(none)", want);
}

static void assert_server_field(struct fx *f, const char *user, const char *table,
                                const char *id, const char *name, const char *want)
{
    struct row r;
    assert_int_equal(srv_get_row(f->s, user, table, id, &r), 1);
    assert_field(&r, name, want);
    row_free(&r);
}

/* ---- SRV-1 ---- */

static void test_srv1_result_per_item_and_next_sequence(void **state)
{
    struct fx *f = *state;
    struct push_item it[3];
    struct wire_msg resp;
    item(&it[0], "phone:1", "customers", "c1", 0, T0 + 1, "phone", 1, "name=Ann");
    item(&it[1], "phone:2", "orders", "o1", 0, T0 + 2, "phone", 2, "qty=2");
    item(&it[2], "phone:3", "customers", "c2", 0, T0 + 3, "phone", 3, "name=Bo");
    push(f, f->phone, it, 3, &resp);
    assert_int_equal(resp.status, WS_OK);
    assert_int_equal(resp.nresults, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(resp.results[i].op_id, it[i].op_id);
        assert_int_equal(resp.results[i].outcome, PUSH_APPLIED);
        assert_false(resp.results[i].concurrent);
        assert_true(resp.results[i].has_row);
        assert_int_equal(resp.results[i].row.seq, (uint64_t)i + 1);  /* SRV-1 */
        row_free(&it[i].row);
    }
    assert_int_equal(srv_user_seq(f->s, "alice"), 3);
    assert_server_field(f, "alice", "orders", "o1", "qty", "2");
    assert_int_equal(f->nobs, 3);
    assert_string_equal(f->obs[2].op, "phone:3");
    assert_int_equal(f->obs[2].seq, 3);
    wire_msg_free(&resp);
    /* A batch takes its sequences in memory and stores the last once: the
     * next writer, a server write and another batch, continue from it. */
    swrite(f, "alice", "customers", "c9", "name", "Srv", false);   /* seq 4 */
    item(&it[0], "tablet:1", "customers", "c3", 0, T0 + 4, "tablet", 1, "name=Cy");
    item(&it[1], "tablet:2", "customers", "c1", 1, T0 + 5, "tablet", 2, "name=Ann2");
    push(f, f->tablet, it, 2, &resp);
    assert_int_equal(resp.results[0].row.seq, 5);
    assert_int_equal(resp.results[1].row.seq, 6);
    row_free(&it[0].row);
    row_free(&it[1].row);
    wire_msg_free(&resp);
    assert_int_equal(srv_user_seq(f->s, "alice"), 6);
    swrite(f, "alice", "customers", "c9", "name", "Srv2", false);
    assert_int_equal(srv_user_seq(f->s, "alice"), 7);
}

/* ---- SRV-2 ---- */

static void test_srv2_duplicate_op_returns_first_result_verbatim(void **state)
{
    struct fx *f = *state;
    struct push_item it, dup[2];
    struct wire_msg r1, r2;
    item(&it, "phone:1", "customers", "c1", 0, T0 + 10, "phone", 1, "name=Ann");
    push1(f, f->phone, &it, &r1);
    assert_int_equal(r1.results[0].outcome, PUSH_APPLIED);
    f->tenv.now = T0 + 1000;
    swrite(f, "alice", "customers", "c1", "name", "Server", false);  /* seq 2 */
    int nobs = f->nobs;
    /* A retry (and a duplicated packet in the same batch) with other content. */
    item(&dup[0], "phone:1", "customers", "c1", 0, T0 + 5000, "phone", 1, "name=Other");
    item(&dup[1], "phone:1", "customers", "c1", 0, T0 + 5000, "phone", 1, "name=Other");
    push(f, f->phone, dup, 2, &r2);
    row_free(&dup[0].row);
    row_free(&dup[1].row);
    assert_int_equal(r2.nresults, 2);
    for (int i = 0; i < 2; i++) {
        const struct push_result *a = &r1.results[0], *b = &r2.results[i];
        assert_int_equal(b->outcome, a->outcome);
        assert_int_equal(b->concurrent, a->concurrent);
        assert_int_equal(b->has_row, a->has_row);
        assert_true(row_equal(&b->row, &a->row, true));  /* the row as recorded */
    }
    assert_server_field(f, "alice", "customers", "c1", "name", "Server");  /* unchanged */
    assert_int_equal(srv_user_seq(f->s, "alice"), 2);
    assert_int_equal(f->nobs, nobs);  /* INV-ONCE: not applied again */
    assert_int_equal(srv_op_seen(f->s, "alice", "phone:1"), 1);
    wire_msg_free(&r1);
    wire_msg_free(&r2);
}

static void test_srv2_rejected_not_recorded_and_judged_again(void **state)
{
    struct fx *f = *state;
    struct push_item it;
    struct wire_msg r;
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char kv[5100];
    snprintf(kv, sizeof kv, "note=%s", big);
    item(&it, "phone:7", "customers", "c1", 0, T0 + 1, "phone", 7, kv);
    push1(f, f->phone, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_REJECTED);
    assert_int_equal(r.results[0].reason, REJ_TOO_LARGE);
    assert_int_equal(srv_op_seen(f->s, "alice", "phone:7"), 0);
    assert_int_equal(srv_user_seq(f->s, "alice"), 0);
    assert_int_equal(f->nobs, 0);  /* rejected: nothing to replay */
    wire_msg_free(&r);
    /* Requeued with the same op id after a fix: judged again, applies. */
    item(&it, "phone:7", "customers", "c1", 0, T0 + 2, "phone", 7, "note=short");
    push1(f, f->phone, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_APPLIED);
    assert_int_equal(srv_op_seen(f->s, "alice", "phone:7"), 1);
    assert_server_field(f, "alice", "customers", "c1", "note", "short");
    wire_msg_free(&r);
}

/* ---- SRV-3 ---- */

static void test_srv3_pull_pages_each_row_once_in_order(void **state)
{
    struct fx *f = *state;
    char id[16];
    for (int i = 1; i <= 5; i++) {
        snprintf(id, sizeof id, "c%d", i);
        swrite(f, "alice", "customers", id, "v", "1", false);
    }
    swrite(f, "alice", "customers", "c2", "v", "2", false);  /* c2 moves to seq 6 */
    f->tenv.now = T0 + 777;
    const uint64_t want[] = { 1, 3, 4, 5, 6 };
    uint64_t cursor = 0;
    int got = 0, pages = 0;
    struct wire_msg r;
    do {
        pull(f, f->phone, cursor, 2, &r);
        assert_int_equal(r.type, WIRE_PULL_RESP);
        assert_int_equal(r.status, WS_OK);
        assert_int_equal(r.server_seq, 6);
        assert_int_equal(r.server_time, T0 + 777);
        assert_true(r.nrows <= 2);
        for (int i = 0; i < r.nrows; i++) {
            assert_true(got < 5);
            assert_int_equal(r.rows[i].seq, want[got++]);
            cursor = r.rows[i].seq;
        }
        if (r.rows != NULL && r.nrows > 0 && r.rows[r.nrows - 1].seq == 6)
            assert_field(&r.rows[r.nrows - 1], "v", "2");  /* current version */
        bool more = r.has_more;
        wire_msg_free(&r);
        pages++;
        if (!more)
            break;
    } while (pages < 10);
    assert_int_equal(got, 5);
    assert_int_equal(pages, 3);  /* 2 + 2 + 1: has_more exactly when rows remain */
    pull(f, f->phone, 6, 2, &r);
    assert_int_equal(r.nrows, 0);
    assert_false(r.has_more);
    wire_msg_free(&r);
    pull(f, f->phone, 4, 2, &r);  /* exactly two remain: has_more false */
    assert_int_equal(r.nrows, 2);
    assert_false(r.has_more);
    wire_msg_free(&r);
}

static void test_srv3_page_table_total_and_empty_table(void **state)
{
    struct fx *f = *state;
    struct wire_msg r;
    assert_int_equal(srv_seed_rows(f->s, "alice", "customers", 5), 0);
    swrite(f, "alice", "orders", "o1", "qty", "1", false);
    uint64_t after = 0;
    const int sizes[] = { 2, 2, 1 };
    for (int p = 0; p < 3; p++) {
        page(f, f->phone, "customers", after, 2, &r);
        assert_int_equal(r.type, WIRE_PAGE_RESP);
        assert_int_equal(r.nrows, sizes[p]);
        assert_int_equal(r.has_more, p < 2);
        assert_int_equal(r.table_total, 5);
        assert_int_equal(r.server_seq, 6);
        for (int i = 0; i < r.nrows; i++)
            assert_string_equal(r.rows[i].table, "customers");
        after = r.rows[r.nrows - 1].seq;
        wire_msg_free(&r);
    }
    /* INIT-1: an empty table is one empty page. */
    page(f, f->phone, "products", 0, 500, &r);
    assert_int_equal(r.status, WS_OK);
    assert_int_equal(r.nrows, 0);
    assert_false(r.has_more);
    assert_int_equal(r.table_total, 0);
    wire_msg_free(&r);
    page(f, f->phone, "nosuch", 0, 500, &r);
    assert_int_equal(r.type, WIRE_ERROR_RESP);
    assert_int_equal(r.status, WS_PROTOCOL);
    wire_msg_free(&r);
}

static void test_srv3_pull_response_fits_wire_limit(void **state)
{
    struct fx *f = *state;
    static char big[4001];
    char id[16];
    memset(big, 'y', 4000);
    for (int i = 0; i < 300; i++) {  /* ~1.2 MB of rows: more than one message */
        snprintf(id, sizeof id, "c%d", i);
        swrite(f, "alice", "customers", id, "blob", big, false);
    }
    struct wire_msg r;
    pull(f, f->phone, 0, 1000, &r);
    assert_int_equal(r.status, WS_OK);
    assert_true(r.nrows > 0 && r.nrows < 300);
    assert_true(r.has_more);
    uint64_t cursor = r.rows[r.nrows - 1].seq;
    int total = r.nrows;
    wire_msg_free(&r);
    pull(f, f->phone, cursor, 1000, &r);
    total += r.nrows;
    assert_false(r.has_more);
    assert_int_equal(total, 300);
    wire_msg_free(&r);
}

/* CONF-5 within WIRE_MAX_MSG: 300 stale acks each carrying a 4 KB server row
 * would not fit one message; the server drops rows from the tail instead of
 * failing the whole batch. */
static void test_conf5_push_acks_fit_wire_limit(void **state)
{
    struct fx *f = *state;
    static char big[4001];
    enum { N = 300 };
    struct push_item *it = calloc(N, sizeof *it);
    char id[16], op[32];
    struct wire_msg r;
    assert_non_null(it);
    memset(big, 'y', 4000);
    f->tenv.now = T0 + 1000;
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "c%d", i);
        swrite(f, "alice", "customers", id, "blob", big, false);
        snprintf(op, sizeof op, "phone:%d", i + 1);
        item(&it[i], op, "customers", id, 0, T0 + 1, "phone", (uint64_t)i + 1, "v=old");
    }
    push(f, f->phone, it, N, &r);
    assert_int_equal(r.status, WS_OK);
    assert_int_equal(r.nresults, N);
    assert_true(r.results[0].has_row);
    assert_false(r.results[N - 1].has_row);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r.results[i].outcome, PUSH_STALE);
        row_free(&it[i].row);
    }
    free(it);
    wire_msg_free(&r);
}

/* ---- SRV-4 ---- */

static void assert_error(struct wire_msg *r, int status)
{
    assert_int_equal(r->type, WIRE_ERROR_RESP);
    assert_int_equal(r->status, status);
    assert_int_equal(r->nrows, 0);
    assert_int_equal(r->nresults, 0);
    wire_msg_free(r);
}

static void test_srv4_bad_or_revoked_token_gets_401(void **state)
{
    struct fx *f = *state;
    struct wire_msg r;
    struct push_item it;
    swrite(f, "alice", "customers", "c1", "v", "1", false);
    pull(f, "not-a-token", 0, 10, &r);
    assert_error(&r, WS_AUTH);
    pull(f, "", 0, 10, &r);
    assert_error(&r, WS_AUTH);
    assert_int_equal(srv_revoke_device(f->s, "phone"), 0);
    pull(f, f->phone, 0, 10, &r);
    assert_error(&r, WS_AUTH);
    item(&it, "phone:1", "customers", "c2", 0, T0 + 1, "phone", 1, "v=1");
    push(f, f->phone, &it, 1, &r);
    row_free(&it.row);
    assert_error(&r, WS_AUTH);
    assert_int_equal(srv_get_row(f->s, "alice", "customers", "c2", &it.row), 0);
    assert_int_equal(srv_op_seen(f->s, "alice", "phone:1"), 0);  /* nothing else */
    page(f, f->phone, "customers", 0, 10, &r);
    assert_error(&r, WS_AUTH);
    /* Another device of the same user keeps its session. */
    pull(f, f->tablet, 0, 10, &r);
    assert_int_equal(r.status, WS_OK);
    assert_int_equal(r.nrows, 1);
    wire_msg_free(&r);
}

static void test_srv4_malformed_oversized_unknown_version_get_400(void **state)
{
    struct fx *f = *state;
    struct wire_msg m, r;
    uint8_t *buf = NULL;
    size_t len = 0;
    wire_msg_init(&m, WIRE_PULL_REQ);
    snprintf(m.token, sizeof m.token, "%s", f->phone);
    m.req_id = 4242;
    m.limit = 10;
    assert_int_equal(wire_encode(&m, &buf, &len), 0);
    roundtrip(f, buf, len - 3, 4242, &r);        /* truncated: req_id still echoed */
    assert_error(&r, WS_PROTOCOL);
    roundtrip(f, buf, 5, 0, &r);                 /* too short for a header */
    assert_error(&r, WS_PROTOCOL);
    roundtrip(f, NULL, 0, 0, &r);
    assert_error(&r, WS_PROTOCOL);
    buf[4] = 99;                                 /* unknown version */
    roundtrip(f, buf, len, 4242, &r);
    assert_error(&r, WS_PROTOCOL);
    buf[4] = WIRE_VERSION;
    buf[5] = WIRE_PULL_RESP;                     /* a response is not a request */
    roundtrip(f, buf, len, 4242, &r);
    assert_error(&r, WS_PROTOCOL);
    free(buf);
    uint8_t *huge = calloc(1, WIRE_MAX_MSG + 1);  /* > 1 MiB */
    assert_non_null(huge);
    roundtrip(f, huge, WIRE_MAX_MSG + 1, 0, &r);
    assert_error(&r, WS_PROTOCOL);
    free(huge);
    /* The server keeps working. */
    pull(f, f->phone, 0, 10, &r);
    assert_int_equal(r.status, WS_OK);
    wire_msg_free(&r);
}

static void test_srv4_more_than_1000_items_gets_400(void **state)
{
    struct fx *f = *state;
    struct push_item *items = calloc(WIRE_MAX_ITEMS, sizeof *items);
    struct wire_msg m, r;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_non_null(items);
    for (int i = 0; i < WIRE_MAX_ITEMS; i++) {
        char op[32], id[32];
        snprintf(op, sizeof op, "phone:%d", i + 1);
        snprintf(id, sizeof id, "c%d", i);
        item(&items[i], op, "customers", id, 0, T0 + i, "phone", (uint64_t)i + 1, "v=1");
    }
    wire_msg_init(&m, WIRE_PUSH_REQ);
    snprintf(m.token, sizeof m.token, "%s", f->phone);
    m.req_id = 77;
    m.items = items;
    m.nitems = WIRE_MAX_ITEMS;
    assert_int_equal(wire_encode(&m, &buf, &len), 0);
    size_t count_at = 14 + 2 + strlen(f->phone);  /* header | str token | u16 count */
    assert_int_equal(buf[count_at] << 8 | buf[count_at + 1], WIRE_MAX_ITEMS);
    buf[count_at] = (WIRE_MAX_ITEMS + 1) >> 8;
    buf[count_at + 1] = (WIRE_MAX_ITEMS + 1) & 0xff;
    roundtrip(f, buf, len, 77, &r);
    assert_error(&r, WS_PROTOCOL);
    assert_int_equal(srv_user_seq(f->s, "alice"), 0);
    /* Exactly 1000 is allowed. */
    buf[count_at] = WIRE_MAX_ITEMS >> 8;
    buf[count_at + 1] = WIRE_MAX_ITEMS & 0xff;
    roundtrip(f, buf, len, 77, &r);
    assert_int_equal(r.status, WS_OK);
    assert_int_equal(r.nresults, WIRE_MAX_ITEMS);
    assert_int_equal(srv_user_seq(f->s, "alice"), WIRE_MAX_ITEMS);
    wire_msg_free(&r);
    free(buf);
    for (int i = 0; i < WIRE_MAX_ITEMS; i++)
        row_free(&items[i].row);
    free(items);
}

/* ---- SRV-5 ---- */

static void test_srv5_close_reopen_keeps_rows_tokens_idempotency(void **state)
{
    struct fx *f = *state;
    struct push_item it;
    struct wire_msg r1, r2;
    srv_close(f->s);
    sqlite3_close(f->db);
    /* A real file (SRV-5 is about durability), unique per run. */
    char dir[] = "/tmp/test_server_XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(f->path, sizeof f->path, "%s/server.db", dir);
    assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
    open_srv(f);
    declare(f->s, "customers", false, STRAT_LWW);
    assert_int_equal(srv_issue_token(f->s, "alice", "phone", f->phone, sizeof f->phone), 0);
    item(&it, "phone:1", "customers", "c1", 0, T0 + 1, "phone", 1, "name=Ann");
    push1(f, f->phone, &it, &r1);
    /* The crash: everything in memory goes, the file stays (SRV-5). */
    srv_close(f->s);
    sqlite3_close(f->db);
    assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
    open_srv(f);
    struct table_decl t;
    assert_int_equal(srv_table(f->s, "customers", &t), 0);
    assert_int_equal(t.strategy, STRAT_LWW);
    assert_server_field(f, "alice", "customers", "c1", "name", "Ann");
    assert_int_equal(srv_user_seq(f->s, "alice"), 1);
    item(&it, "phone:1", "customers", "c1", 0, T0 + 9, "phone", 1, "name=Zed");
    push1(f, f->phone, &it, &r2);  /* the token still works; the op is known */
    assert_int_equal(r2.results[0].outcome, PUSH_APPLIED);
    assert_true(row_equal(&r2.results[0].row, &r1.results[0].row, true));
    assert_server_field(f, "alice", "customers", "c1", "name", "Ann");
    wire_msg_free(&r2);
    item(&it, "phone:2", "customers", "c2", 1, T0 + 9, "phone", 2, "name=Bo");
    push1(f, f->phone, &it, &r2);
    assert_int_equal(r2.results[0].row.seq, 2);  /* the sequence goes on */
    wire_msg_free(&r1);
    wire_msg_free(&r2);
}

/* ---- INV-SCOPE ---- */

static void test_inv_scope_other_user_never_sees_rows(void **state)
{
    struct fx *f = *state;
    struct push_item it;
    struct wire_msg r;
    item(&it, "phone:1", "customers", "c1", 0, T0 + 1, "phone", 1, "secret=alice");
    push1(f, f->phone, &it, &r);
    wire_msg_free(&r);
    pull(f, f->bob, 0, 1000, &r);
    assert_int_equal(r.nrows, 0);
    assert_false(r.has_more);
    assert_int_equal(r.server_seq, 0);
    wire_msg_free(&r);
    page(f, f->bob, "customers", 0, 1000, &r);
    assert_int_equal(r.nrows, 0);
    assert_int_equal(r.table_total, 0);
    wire_msg_free(&r);
    /* Bob replays alice's op id on alice's row id: a device writes only as
     * itself, so it is rejected, and the ack never carries alice's row. */
    item(&it, "phone:1", "customers", "c1", 0, T0 - 5, "bphone", 1, "mine=bob");
    push1(f, f->bob, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_REJECTED);
    assert_int_equal(r.results[0].reason, REJ_INVALID);
    assert_false(r.results[0].has_row);
    wire_msg_free(&r);
    /* His own op id on the same row id: a row of his own, never alice's. */
    item(&it, "bphone:1", "customers", "c1", 0, T0 - 5, "bphone", 1, "mine=bob");
    push1(f, f->bob, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_APPLIED);
    assert_null(row_get(&r.results[0].row, "secret"));
    assert_field(&r.results[0].row, "mine", "bob");
    assert_int_equal(r.results[0].row.seq, 1);
    wire_msg_free(&r);
    assert_server_field(f, "alice", "customers", "c1", "secret", "alice");
    pull(f, f->bob, 0, 1000, &r);
    assert_int_equal(r.nrows, 1);
    assert_null(row_get(&r.rows[0], "secret"));
    wire_msg_free(&r);
    char users[4][NAME_MAX_LEN + 1];
    assert_int_equal(srv_users(f->s, users, 4), 2);
    assert_string_equal(users[0], "alice");
    assert_string_equal(users[1], "bob");
}

/* ---- CONF-1 ---- */

/* The same two pushes in both orders, to two users: same final row. */
static void test_conf1_lww_result_independent_of_arrival_order(void **state)
{
    struct fx *f = *state;
    struct push_item it;
    struct wire_msg r;
    /* Row o1 gets phone's older write first, o2 gets tablet's newer one first. */
    static const char *const rows[2] = { "o1", "o2" };
    for (int u = 0; u < 2; u++) {
        for (int k = 0; k < 2; k++) {
            bool newer = (k == 0) == (u == 1);
            char op[32];
            snprintf(op, sizeof op, "%s:%d", newer ? "tablet" : "phone", 10 + 2 * u + k);
            item(&it, op, "orders", rows[u], 0, newer ? T0 + 200 : T0 + 100,
                 newer ? "tablet" : "phone", 1, newer ? "qty=9 who=tablet" : "qty=1 who=phone");
            push1(f, newer ? f->tablet : f->phone, &it, &r);
            wire_msg_free(&r);
        }
    }
    struct row a, b;
    assert_int_equal(srv_get_row(f->s, "alice", "orders", "o1", &a), 1);
    assert_int_equal(srv_get_row(f->s, "alice", "orders", "o2", &b), 1);
    assert_field(&a, "who", "tablet");
    assert_field(&b, "who", "tablet");
    assert_int_equal(stamp_cmp(&a.st, &b.st), 0);
    assert_field(&a, "qty", "9");
    assert_field(&b, "qty", "9");
    assert_int_equal(a.nfields, b.nfields);
    /* o2's older push came second: stale, changes nothing, carries the row. */
    uint64_t seq = srv_user_seq(f->s, "alice");
    item(&it, "phone:13", "orders", "o2", 0, T0 + 100, "phone", 1, "qty=1 who=phone");
    push1(f, f->phone, &it, &r);  /* duplicate: the recorded stale ack */
    assert_int_equal(r.results[0].outcome, PUSH_STALE);
    assert_true(r.results[0].has_row);
    assert_field(&r.results[0].row, "who", "tablet");
    assert_int_equal(r.results[0].row.seq, b.seq);
    assert_int_equal(srv_user_seq(f->s, "alice"), seq);  /* stale took no sequence */
    wire_msg_free(&r);
    row_free(&a);
    row_free(&b);
}

/* ---- CONF-2 ---- */

static void test_conf2_merge_different_fields_both_survive(void **state)
{
    struct fx *f = *state;
    struct push_item it;
    struct wire_msg r;
    f->tenv.now = T0 + 10;
    const char *names[2] = { "a", "b" }, *values[2] = { "0", "0" };
    assert_int_equal(srv_write(f->s, "alice", "m_merge", "r1", 2, names, values, false,
                               "server"), 0);
    /* Both devices saw seq 1; phone sets a, tablet sets b (its a is stale). */
    item(&it, "phone:1", "m_merge", "r1", 1, T0 + 200, "phone", 1, "a=1");
    push1(f, f->phone, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_APPLIED);
    wire_msg_free(&r);
    item(&it, "tablet:1", "m_merge", "r1", 1, T0 + 100, "tablet", 1, "b=2");
    push1(f, f->tablet, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_APPLIED);
    assert_true(r.results[0].concurrent);  /* seq 2 by phone > base 1 */
    assert_field(&r.results[0].row, "a", "1");
    assert_field(&r.results[0].row, "b", "2");
    assert_int_equal(r.results[0].row.seq, 3);
    wire_msg_free(&r);
    /* A push whose only field carries an older stamp wins nothing: stale. */
    item(&it, "tablet:2", "m_merge", "r1", 1, T0 + 150, "tablet", 2, "a=old");
    push1(f, f->tablet, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_STALE);
    assert_field(&r.results[0].row, "a", "1");
    wire_msg_free(&r);
    assert_int_equal(srv_user_seq(f->s, "alice"), 3);
}

static void test_conf2_remote_concurrent_push_is_stale(void **state)
{
    struct fx *f = *state;
    struct push_item it;
    struct wire_msg r;
    f->tenv.now = T0 + 10;
    swrite(f, "alice", "m_remote", "r1", "v", "server", false);  /* seq 1 */
    item(&it, "phone:1", "m_remote", "r1", 0, T0 + 999, "phone", 1, "v=phone");
    push1(f, f->phone, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_STALE);  /* newer stamp, still loses */
    assert_true(r.results[0].concurrent);
    assert_field(&r.results[0].row, "v", "server");
    wire_msg_free(&r);
    /* Made on the current version: not concurrent, applies even with an
     * older stamp. */
    item(&it, "phone:2", "m_remote", "r1", 1, T0 + 1, "phone", 2, "v=phone2");
    push1(f, f->phone, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_APPLIED);
    assert_false(r.results[0].concurrent);
    wire_msg_free(&r);
    assert_server_field(f, "alice", "m_remote", "r1", "v", "phone2");
}

static void test_conf2_local_always_applies(void **state)
{
    struct fx *f = *state;
    struct push_item it;
    struct wire_msg r;
    f->tenv.now = T0 + 1000;
    swrite(f, "alice", "m_local", "r1", "v", "server", false);
    item(&it, "phone:1", "m_local", "r1", 0, T0 + 1, "phone", 1, "v=phone");
    push1(f, f->phone, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_APPLIED);
    assert_true(r.results[0].concurrent);
    assert_int_equal(r.results[0].row.st.at, T0 + 1);  /* the push's stamp, whole row */
    wire_msg_free(&r);
    assert_server_field(f, "alice", "m_local", "r1", "v", "phone");
}

static void test_conf2_manual_concurrent_push_is_conflict(void **state)
{
    struct fx *f = *state;
    struct push_item it;
    struct wire_msg r;
    item(&it, "phone:1", "m_manual", "r1", 0, T0 + 1, "phone", 1, "v=phone");
    push1(f, f->phone, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_APPLIED);  /* no row: never concurrent */
    wire_msg_free(&r);
    int nobs = f->nobs;
    item(&it, "tablet:1", "m_manual", "r1", 0, T0 + 50, "tablet", 1, "v=tablet");
    push1(f, f->tablet, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_CONFLICT);
    assert_true(r.results[0].concurrent);
    assert_field(&r.results[0].row, "v", "phone");
    wire_msg_free(&r);
    assert_server_field(f, "alice", "m_manual", "r1", "v", "phone");
    assert_int_equal(srv_user_seq(f->s, "alice"), 1);
    assert_int_equal(srv_op_seen(f->s, "alice", "tablet:1"), 1);  /* acknowledged */
    assert_int_equal(f->nobs, nobs + 1);
    assert_int_equal(f->obs[nobs].outcome, PUSH_CONFLICT);
    item(&it, "tablet:2", "m_manual", "r1", 1, T0 + 60, "tablet", 2, "v=resolved");
    push1(f, f->tablet, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_APPLIED);
    wire_msg_free(&r);
}

/* §1.6: a device's own earlier writes never make its later ones concurrent. */
static void test_concurrency_own_earlier_writes_never_concurrent(void **state)
{
    struct fx *f = *state;
    struct push_item it;
    struct wire_msg r;
    item(&it, "phone:1", "m_remote", "r1", 0, T0 + 1, "phone", 1, "v=1");
    push1(f, f->phone, &it, &r);
    wire_msg_free(&r);
    /* Phone has not installed the ack yet: base_seq still 0. */
    item(&it, "phone:2", "m_remote", "r1", 0, T0 + 2, "phone", 2, "v=2");
    push1(f, f->phone, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_APPLIED);
    assert_false(r.results[0].concurrent);
    wire_msg_free(&r);
    /* The same base from another device is concurrent. */
    item(&it, "tablet:1", "m_remote", "r1", 0, T0 + 3, "tablet", 1, "v=3");
    push1(f, f->tablet, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_STALE);
    assert_true(r.results[0].concurrent);
    wire_msg_free(&r);
    assert_server_field(f, "alice", "m_remote", "r1", "v", "2");
}

/* ---- CONF-5 ---- */

static void test_conf5_every_ack_carries_current_row_and_seq(void **state)
{
    struct fx *f = *state;
    struct push_item it[4];
    struct wire_msg r;
    assert_int_equal(srv_seed_rows(f->s, "alice", "products", 2), 0);  /* seq 1, 2 */
    swrite(f, "alice", "orders", "o1", "qty", "5", false);            /* seq 3 */
    item(&it[0], "phone:1", "customers", "c1", 0, T0 + 1, "phone", 1, "v=1");
    item(&it[1], "phone:2", "products", "products-2", 2, T0 + 2, "phone", 2, "name=hack");
    item(&it[2], "phone:3", "orders", "o1", 0, T0 - 1, "phone", 3, "qty=1");
    item(&it[3], "phone:4", "nosuch", "z", 0, T0 + 4, "phone", 4, "v=1");
    push(f, f->phone, it, 4, &r);
    assert_int_equal(r.nresults, 4);
    assert_true(r.results[0].has_row);
    assert_int_equal(r.results[0].row.seq, 4);
    assert_field(&r.results[0].row, "v", "1");
    assert_int_equal(r.results[1].outcome, PUSH_REJECTED);  /* rejected still carries it */
    assert_int_equal(r.results[1].reason, REJ_READ_ONLY);
    assert_true(r.results[1].has_row);
    assert_int_equal(r.results[1].row.seq, 2);
    assert_field(&r.results[1].row, "name", "products-2");
    assert_int_equal(r.results[2].outcome, PUSH_STALE);
    assert_int_equal(r.results[2].row.seq, 3);
    assert_field(&r.results[2].row, "qty", "5");
    assert_int_equal(r.results[3].outcome, PUSH_REJECTED);  /* no such row to carry */
    assert_false(r.results[3].has_row);
    for (int i = 0; i < 4; i++)
        row_free(&it[i].row);
    wire_msg_free(&r);
}

/* ---- rejections (SRV-1, OUT-3) ---- */

static void test_read_only_table_push_rejected(void **state)
{
    struct fx *f = *state;
    struct push_item it;
    struct wire_msg r;
    item(&it, "phone:1", "prices", "p1", 0, T0 + 1, "phone", 1, "amount=1");
    push1(f, f->phone, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_REJECTED);
    assert_int_equal(r.results[0].reason, REJ_READ_ONLY);
    assert_false(r.results[0].has_row);
    wire_msg_free(&r);
    assert_int_equal(srv_get_row(f->s, "alice", "prices", "p1", &it.row), 0);
    assert_int_equal(srv_op_seen(f->s, "alice", "phone:1"), 0);
}

static void test_out3_invalid_and_too_large_rejected_rest_of_batch_goes_on(void **state)
{
    struct fx *f = *state;
    struct push_item it[6];
    struct wire_msg r;
    char many[33 * 12] = "", big[4200] = "k=";
    for (int i = 0; i < 33; i++) {
        char kv[12];
        snprintf(kv, sizeof kv, "%sf%02d=1", i ? " " : "", i);
        strcat(many, kv);
    }
    memset(big + 2, 'z', 4095);  /* "k" + 4095 bytes = 4096: the most allowed */
    item(&it[0], "phone:1", "customers", "c1", 0, T0 + 1, "phone", 1, "v=1");
    item(&it[1], "phone:2", "customers", "c2", 0, T0 + 2, "phone", 2, many);
    item(&it[2], "phone:3", "customers", "c3", 0, T0 + 3, "phone", 3, big);
    item(&it[3], "phone:4", "customers", "c4", 0, T0 + 4, "server", 4, "v=1");
    big[2 + 4095] = 'z';  /* one byte past the limit */
    item(&it[4], "phone:5", "customers", "c5", 0, T0 + 5, "phone", 5, big);
    item(&it[5], "phone:6", "orders", "o1", 0, T0 + 6, "phone", 6, "v=1");
    push(f, f->phone, it, 6, &r);
    assert_int_equal(r.nresults, 6);
    const enum push_outcome want[6] = { PUSH_APPLIED, PUSH_REJECTED, PUSH_APPLIED,
                                        PUSH_REJECTED, PUSH_REJECTED, PUSH_APPLIED };
    const enum reject_reason why[6] = { REJ_NONE, REJ_INVALID, REJ_NONE,
                                        REJ_INVALID, REJ_TOO_LARGE, REJ_NONE };
    for (int i = 0; i < 6; i++) {
        assert_int_equal(r.results[i].outcome, want[i]);
        assert_int_equal(r.results[i].reason, why[i]);
        assert_int_equal(srv_op_seen(f->s, "alice", it[i].op_id), want[i] != PUSH_REJECTED);
        row_free(&it[i].row);
    }
    assert_int_equal(r.results[5].row.seq, 3);  /* rejected items took no sequence */
    assert_int_equal(f->nobs, 3);
    wire_msg_free(&r);
}

/* ---- server writes ---- */

/* INIT-5: table_total stays exact while the table grows between pages (the
 * server keeps the count in memory once it has counted; new rows bump it,
 * updates and other users' rows do not, a second seed continues the
 * sequence). */
static void test_init5_table_total_follows_writes_between_pages(void **state)
{
    struct fx *f = *state;
    struct wire_msg r;
    struct push_item it;
    assert_int_equal(srv_seed_rows(f->s, "alice", "customers", 3), 0);
    page(f, f->phone, "customers", 0, 2, &r);
    assert_int_equal(r.table_total, 3);
    wire_msg_free(&r);
    swrite(f, "alice", "customers", "customers-1", "name", "again", false);  /* update */
    swrite(f, "alice", "customers", "new", "name", "x", false);              /* new row */
    swrite(f, "bob", "customers", "b1", "name", "x", false);                 /* other user */
    item(&it, "phone:1", "customers", "p1", 0, T0 + 1, "phone", 1, "name=Ann");
    push1(f, f->phone, &it, &r);
    assert_int_equal(r.results[0].outcome, PUSH_APPLIED);
    wire_msg_free(&r);
    item(&it, "phone:2", "customers", "p1", 6, T0 + 2, "phone", 2, "name=Ann2");
    push1(f, f->phone, &it, &r);   /* an update of its own row: no new row */
    wire_msg_free(&r);
    page(f, f->phone, "customers", 0, 2, &r);
    assert_int_equal(r.table_total, 5);
    assert_int_equal(r.server_seq, 7);
    wire_msg_free(&r);
    assert_int_equal(srv_seed_rows(f->s, "alice", "customers", 2), 0);  /* 1, 2 exist: updates */
    struct row row;
    assert_int_equal(srv_get_row(f->s, "alice", "customers", "customers-2", &row), 1);
    assert_int_equal(row.seq, 9);  /* the seeded range follows the sequence */
    row_free(&row);
    assert_int_equal(srv_user_seq(f->s, "alice"), 9);
    page(f, f->phone, "customers", 0, 2, &r);
    assert_int_equal(r.table_total, 5);
    wire_msg_free(&r);
    srv_close(f->s);   /* a restart counts again */
    open_srv(f);
    page(f, f->phone, "customers", 0, 2, &r);
    assert_int_equal(r.table_total, 5);
    wire_msg_free(&r);
}

static void test_server_write_tombstone_and_seed_rows(void **state)
{
    struct fx *f = *state;
    struct row r;
    f->tenv.now = T0 + 5;
    assert_int_equal(srv_seed_rows(f->s, "alice", "customers", 3), 0);
    assert_int_equal(srv_get_row(f->s, "alice", "customers", "customers-3", &r), 1);
    assert_int_equal(r.seq, 3);
    assert_field(&r, "name", "customers-3");
    assert_field(&r, "n", "3");
    assert_string_equal(r.st.by, "server");
    assert_int_equal(r.st.at, T0 + 5);
    assert_int_equal(r.st.seq, 0);
    row_free(&r);
    f->tenv.now = T0 + 6;
    swrite(f, "alice", "customers", "customers-1", NULL, NULL, true);
    assert_int_equal(srv_get_row(f->s, "alice", "customers", "customers-1", &r), 1);
    assert_true(r.deleted);
    assert_field(&r, "name", "customers-1");  /* a tombstone keeps its fields */
    assert_int_equal(r.del_st.at, T0 + 6);
    assert_int_equal(r.seq, 4);
    row_free(&r);
    const char *names[1] = { "name" }, *values[1] = { "back" };
    assert_int_equal(srv_write(f->s, "alice", "customers", "customers-1", 1, names, values,
                               false, "erp"), 0);
    assert_int_equal(srv_get_row(f->s, "alice", "customers", "customers-1", &r), 1);
    assert_false(r.deleted);  /* a write onto a tombstone clears it */
    assert_string_equal(r.st.by, "erp");
    assert_string_equal(row_field(&r, "name")->st.by, "erp");
    assert_int_equal(r.seq, 5);
    row_free(&r);
    assert_int_equal(f->nobs, 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(f->obs[i].op, "");
        assert_false(f->obs[i].has_item);
        assert_int_equal(f->obs[i].seq, (uint64_t)i + 1);  /* commit order */
    }
    assert_int_equal(srv_write(f->s, "alice", "nosuch", "x", 1, names, values, false,
                               "server"), -1);
    assert_true(strlen(srv_errmsg(f->s)) > 0);
}

/* An ERP import in one transaction: nothing is observed before the COMMIT,
 * a batch ended with ok=false leaves no row and no sequence behind. */
static void test_server_write_batch_commits_whole_or_nothing(void **state)
{
    struct fx *f = *state;
    struct row r;
    const char *names[1] = { "name" }, *values[1] = { "v" };
    assert_int_equal(srv_batch_begin(f->s), 0);
    assert_int_equal(srv_write(f->s, "alice", "customers", "e1", 1, names, values, false, "erp"), 0);
    assert_int_equal(srv_write(f->s, "bob", "customers", "e2", 1, names, values, false, "erp"), 0);
    assert_int_equal(f->nobs, 0);                       /* not before the COMMIT */
    assert_int_equal(srv_batch_end(f->s, false), -1);   /* the import failed */
    assert_int_equal(srv_get_row(f->s, "alice", "customers", "e1", &r), 0);
    assert_int_equal(srv_user_seq(f->s, "alice"), 0);
    assert_int_equal(f->nobs, 0);
    assert_int_equal(srv_batch_begin(f->s), 0);
    assert_int_equal(srv_write(f->s, "alice", "customers", "e1", 1, names, values, false, "erp"), 0);
    assert_int_equal(srv_write(f->s, "alice", "customers", "e3", 1, names, values, false, "erp"), 0);
    assert_int_equal(srv_write(f->s, "alice", "nosuch", "x", 1, names, values, false, "erp"), -1);
    assert_int_equal(srv_batch_end(f->s, true), 0);
    assert_int_equal(f->nobs, 2);                       /* in write order, after the COMMIT */
    assert_int_equal(f->obs[0].seq, 1);
    assert_int_equal(f->obs[1].seq, 2);
    assert_int_equal(srv_get_row(f->s, "alice", "customers", "e3", &r), 1);
    assert_string_equal(r.st.by, "erp");
    row_free(&r);
}

static int count_row(void *arg, const struct row *r)
{
    (void)r;
    (*(int *)arg)++;
    return 0;
}

static void test_foreach_row_is_scoped_and_ordered(void **state)
{
    struct fx *f = *state;
    int n = 0;
    swrite(f, "alice", "orders", "o1", "v", "1", false);
    swrite(f, "alice", "customers", "c2", "v", "1", false);
    swrite(f, "alice", "customers", "c1", "v", "1", false);
    swrite(f, "bob", "customers", "b1", "v", "1", false);
    assert_int_equal(srv_foreach_row(f->s, "alice", count_row, &n), 0);
    assert_int_equal(n, 3);
    n = 0;
    assert_int_equal(srv_foreach_row(f->s, "bob", count_row, &n), 0);
    assert_int_equal(n, 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_srv1_result_per_item_and_next_sequence),
        T(test_srv2_duplicate_op_returns_first_result_verbatim),
        T(test_srv2_rejected_not_recorded_and_judged_again),
        T(test_srv3_pull_pages_each_row_once_in_order),
        T(test_srv3_page_table_total_and_empty_table),
        T(test_init5_table_total_follows_writes_between_pages),
        T(test_server_write_batch_commits_whole_or_nothing),
        T(test_srv3_pull_response_fits_wire_limit),
        T(test_conf5_push_acks_fit_wire_limit),
        T(test_srv4_bad_or_revoked_token_gets_401),
        T(test_srv4_malformed_oversized_unknown_version_get_400),
        T(test_srv4_more_than_1000_items_gets_400),
        T(test_srv5_close_reopen_keeps_rows_tokens_idempotency),
        T(test_inv_scope_other_user_never_sees_rows),
        T(test_conf1_lww_result_independent_of_arrival_order),
        T(test_conf2_merge_different_fields_both_survive),
        T(test_conf2_remote_concurrent_push_is_stale),
        T(test_conf2_local_always_applies),
        T(test_conf2_manual_concurrent_push_is_conflict),
        T(test_concurrency_own_earlier_writes_never_concurrent),
        T(test_conf5_every_ack_carries_current_row_and_seq),
        T(test_read_only_table_push_rejected),
        T(test_out3_invalid_and_too_large_rejected_rest_of_batch_goes_on),
        T(test_server_write_tombstone_and_seed_rows),
        T(test_foreach_row_is_scoped_and_ordered),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
