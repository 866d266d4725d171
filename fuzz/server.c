/*
 * server.c — fuzz harness: the server's request handler (model/server.h
 * srv_handle) fed hostile requests (SPEC §1.7, §5): wrong, revoked, empty
 * and other users' tokens, other users' and other devices' ids, replays of
 * earlier requests, oversized batches and frames, bad tables, rows past the
 * limits, flipped bytes.
 *
 * Checks on every answer:
 *   - srv_handle returns 0 and its response decodes, echoes the request id,
 *     and is of the request's response type or an error (SRV-4);
 *   - a wrong or revoked token gets 401 and nothing else, and changes no
 *     user's data (SRV-4);
 *   - a push gets one result per item, in order, for that item's op id
 *     (SRV-1); a replayed op id gets its first outcome again (SRV-2); the
 *     server commits each (user, op id) at most once (INV-ONCE, observer);
 *     pushes into a read-only table are rejected (SRV-1);
 *   - no row in any answer is another user's (INV-SCOPE): every pulled or
 *     paged row is the requesting user's row at exactly that version
 *     (srv_get_row), every ack row the user's at that version or later; a
 *     request of one user never changes another user's sequence.
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "row.h"
#include "server.h"
#include "wire.h"

#include "fuzz.h"

#define MAX_REQS 48
#define MAX_SEEN 8192

static const char *const USERS[] = {"alice", "bob"};
static const char *const TABLES[] = {"customers", "orders", "notes", "remote", "products",
                                     "nosuch", "sqlite_master", "rows"};
static const char *const IDS[] = {"customers-1", "customers-2", "b1", "a1", "x", "",
                                  "orders-1", "../etc"};
static const char *const BYS[] = {"phone", "tablet", "server", "erp", "", "alice"};

struct seen {
    int user;
    char op[OP_ID_MAX + 1];
    enum push_outcome outcome;
    int commits;
};

static struct {
    sqlite3 *db;
    struct srv *srv;
    struct env env;
    struct config cfg;
    int64_t now;
    uint64_t rng;
    char tok[4][40];            /* alice, bob, revoked, garbage */
    uint8_t *snap;
    sqlite3_int64 snap_len;
    struct seen seen[MAX_SEEN];
    int nseen;
    bool overflow;
    bool trace;                 /* FUZZ_TRACE=1: every push result on stderr */
    int nseen_before;           /* S.seen entries older than the request being checked */
    uint8_t *prev;              /* previous request (replays) */
    size_t prev_len;
} S;

static int64_t e_now(void *c) { (void)c; return S.now; }
static int64_t e_mono(void *c) { (void)c; return S.now - 1767225600000LL; }
static uint64_t e_random(void *c)
{
    (void)c;
    S.rng ^= S.rng << 13;
    S.rng ^= S.rng >> 7;
    S.rng ^= S.rng << 17;
    return S.rng;
}
static void e_set_timer(void *c, int id, int64_t at) { (void)c; (void)id; (void)at; }
static void e_cancel_timer(void *c, int id) { (void)c; (void)id; }
static void e_emit(void *c, const struct event *e) { (void)c; (void)e; }

static int user_of(const char *u)
{
    for (int i = 0; i < 2; i++)
        if (strcmp(u, USERS[i]) == 0) return i;
    return -1;
}

static struct seen *seen_find(int user, const char *op)
{
    for (int i = 0; i < S.nseen; i++)
        if (S.seen[i].user == user && strcmp(S.seen[i].op, op) == 0) return &S.seen[i];
    return NULL;
}

/* INV-ONCE: every change the server commits, in commit order. */
static void on_commit(void *arg, const char *user, const char *op_id, const struct push_item *item,
                      const struct row *written, enum push_outcome outcome)
{
    (void)arg;
    (void)written;
    if (!item || !op_id[0]) return;
    int u = user_of(user);
    if (u < 0) fuzz_fail("INV-SCOPE", "server committed op %s for unknown user %s", op_id, user);
    struct seen *s = seen_find(u, op_id);
    if (s && s->commits > 0)
        fuzz_fail("INV-ONCE", "server committed op %s of %s twice (outcomes %s then %s)", op_id, user,
                  push_outcome_name(s->outcome), push_outcome_name(outcome));
    if (!s && S.nseen == MAX_SEEN) S.overflow = true;   /* op ids past the table: skip SRV-2 checks */
    if (!s && S.nseen < MAX_SEEN) {
        s = &S.seen[S.nseen++];
        s->user = u;
        snprintf(s->op, sizeof s->op, "%s", op_id);
    }
    if (s) {
        s->outcome = outcome;
        s->commits++;
    }
}

static void open_srv(void)
{
    char err[256];
    S.srv = srv_open(S.db, &S.env, &S.cfg, err, sizeof err);
    if (!S.srv) fuzz_fail("SETUP", "srv_open: %s", err);
}

static void fuzz_setup(void)
{
    config_default(&S.cfg);
    S.trace = getenv("FUZZ_TRACE") != NULL;
    S.env = (struct env){ .now_ms = e_now, .mono_ms = e_mono, .random = e_random,
                          .set_timer = e_set_timer, .cancel_timer = e_cancel_timer, .emit = e_emit };
    S.now = 1767225600000LL;
    S.rng = 0x2545F4914F6CDD1Dull;
    sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (sqlite3_open(":memory:", &S.db) != SQLITE_OK) fuzz_fail("SETUP", "sqlite3_open");
    open_srv();
    static const struct { const char *name; bool ro; enum strategy st; } decl[] = {
        {"customers", false, STRAT_LWW}, {"orders", false, STRAT_MERGE}, {"notes", false, STRAT_MANUAL},
        {"remote", false, STRAT_REMOTE}, {"products", true, STRAT_LWW},
    };
    for (size_t i = 0; i < sizeof decl / sizeof decl[0]; i++) {
        struct table_decl t = { .read_only = decl[i].ro, .strategy = decl[i].st };
        snprintf(t.name, sizeof t.name, "%s", decl[i].name);
        if (srv_declare_table(S.srv, &t) != 0) fuzz_fail("SETUP", "declare %s", t.name);
    }
    /* Both users have rows with the same ids (a leak would not be caught
     * by id alone) and different contents. */
    for (int u = 0; u < 2; u++) {
        if (srv_seed_rows(S.srv, USERS[u], "customers", 3) || srv_seed_rows(S.srv, USERS[u], "products", 2))
            fuzz_fail("SETUP", "seed rows");
        const char *n[] = {"owner", "secret"};
        const char *v[] = {USERS[u], u ? "bob-secret" : "alice-secret"};
        if (srv_write(S.srv, USERS[u], "orders", "orders-1", 2, n, v, false, "server")
            || srv_write(S.srv, USERS[u], "notes", u ? "b1" : "a1", 2, n, v, false, "server"))
            fuzz_fail("SETUP", "server write: %s", srv_errmsg(S.srv));
    }
    if (srv_issue_token(S.srv, "alice", "phone", S.tok[0], sizeof S.tok[0])
        || srv_issue_token(S.srv, "bob", "tablet", S.tok[1], sizeof S.tok[1])
        || srv_issue_token(S.srv, "alice", "stolen", S.tok[2], sizeof S.tok[2])
        || srv_revoke_device(S.srv, "stolen"))
        fuzz_fail("SETUP", "tokens: %s", srv_errmsg(S.srv));
    snprintf(S.tok[3], sizeof S.tok[3], "%.31s", S.tok[0]);   /* a prefix of a valid one */
    srv_close(S.srv);
    S.srv = NULL;
    S.snap = sqlite3_serialize(S.db, "main", &S.snap_len, 0);
    if (!S.snap) fuzz_fail("SETUP", "serialize");
}

static void reset(void)
{
    uint8_t *copy = sqlite3_malloc64((sqlite3_uint64)S.snap_len);
    if (!copy) fuzz_fail("SETUP", "out of memory");
    memcpy(copy, S.snap, (size_t)S.snap_len);
    if (sqlite3_deserialize(S.db, "main", copy, S.snap_len, S.snap_len,
                            SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) != SQLITE_OK)
        fuzz_fail("SETUP", "deserialize: %s", sqlite3_errmsg(S.db));
    open_srv();
    srv_set_observer(S.srv, on_commit, NULL);
    S.nseen = 0;
    S.overflow = false;
    S.now = 1767225600000LL;
    S.rng = 0x2545F4914F6CDD1Dull;
    free(S.prev);
    S.prev = NULL;
    S.prev_len = 0;
}

/* ---- building requests ---- */

/* token choice: 0 alice, 1 bob, 2 revoked, 3 prefix of alice's, 4 empty;
 * returns the user index or -1 when the token must be refused */
static int pick_token(struct fz *z, char *tok, size_t n)
{
    int t = fz_u8(z) % 5;
    snprintf(tok, n, "%s", t < 4 ? S.tok[t] : "");
    return t < 2 ? t : -1;
}

static void build_item(struct fz *z, struct push_item *it)
{
    uint8_t a = fz_u8(z), b = fz_u8(z), c = fz_u8(z);
    snprintf(it->op_id, sizeof it->op_id, "%s:%u", (a & 1) ? "tablet" : "phone", (unsigned)(a >> 1) % 16);
    it->base_seq = (b & 0x80) ? UINT64_MAX - (b & 3) : (uint64_t)(b & 0xf);
    row_init(&it->row, TABLES[c % 8], IDS[(c >> 3) % 8]);
    struct stamp st = { .at = S.now - 1000 + (int64_t)(b % 8) * 500, .seq = (a >> 1) % 16 };
    snprintf(st.by, sizeof st.by, "%s", BYS[(c >> 6) % 6 + ((b >> 4) & 1)]);
    int shape = (b >> 4) & 7;
    int nf = shape == 7 ? 33 : 1 + shape % 2;     /* > 32 fields: invalid */
    char name[16], val[5001];
    for (int f = 0; f < nf; f++) {
        snprintf(name, sizeof name, "f%d", f);
        if (shape == 6 && f == 0) {                /* > 4096 bytes: too large */
            memset(val, 'x', 5000);
            val[5000] = 0;
        } else {
            snprintf(val, sizeof val, "v%u", fz_u8(z));
        }
        row_set(&it->row, name, val, &st);
    }
    if (c & 0x20) { it->row.deleted = true; it->row.del_st = st; }
    it->row.st = st;
}

/* Encodes m into a frame; -1 if the encoder refuses it (limits). */
static int encode(struct wire_msg *m, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    if (wire_encode(m, buf, len) != 0) { free(*buf); *buf = NULL; return -1; }
    return 0;
}

/* A frame claiming more than WIRE_MAX_ITEMS items, or longer than 1 MiB. */
static uint8_t *oversized(struct fz *z, size_t *len)
{
    uint8_t k = fz_u8(z);
    size_t n = (k & 1) ? (WIRE_MAX_MSG + 16) : 64;
    uint8_t *p = calloc(1, n);
    uint32_t l = (uint32_t)(n - 4);
    p[0] = (uint8_t)(l >> 24); p[1] = (uint8_t)(l >> 16); p[2] = (uint8_t)(l >> 8); p[3] = (uint8_t)l;
    p[4] = WIRE_VERSION;
    p[5] = WIRE_PUSH_REQ;
    p[6 + 7] = 1;                   /* req id 1 */
    /* token: u16 length 0, then item count 1001 (> WIRE_MAX_ITEMS) */
    p[14] = 0; p[15] = 0;
    p[16] = (uint8_t)(1001 >> 8); p[17] = (uint8_t)(1001 & 0xff);
    *len = n;
    return p;
}

/* ---- checks ---- */

static void scope_row(int user, const struct row *r, bool exact, const char *where)
{
    struct row mine = {0};
    int found = srv_get_row(S.srv, USERS[user], r->table, r->id, &mine);
    if (found != 1)
        fuzz_fail("INV-SCOPE", "%s to %s carries %s/%s seq %" PRIu64 ", which %s does not have",
                  where, USERS[user], r->table, r->id, r->seq, USERS[user]);
    if (exact ? (mine.seq != r->seq || !row_equal(&mine, r, true)) : mine.seq < r->seq)
        fuzz_fail("INV-SCOPE", "%s to %s carries %s/%s seq %" PRIu64 " but %s's version is seq %" PRIu64,
                  where, USERS[user], r->table, r->id, r->seq, USERS[user], mine.seq);
    row_free(&mine);
}

static void check(const struct wire_msg *req, bool req_ok, int user, const uint8_t *resp,
                  size_t rlen, const uint64_t seq_before[2])
{
    struct wire_msg m;
    struct wire_err err;
    if (wire_decode(resp, rlen, &m, &err) != 0)
        fuzz_fail("SRV-4", "the server's response does not decode: %s at byte %zu", err.what, err.offset);
    uint64_t after[2] = { srv_user_seq(S.srv, USERS[0]), srv_user_seq(S.srv, USERS[1]) };
    for (int u = 0; u < 2; u++)
        if (u != user && after[u] != seq_before[u])
            fuzz_fail("INV-SCOPE", "a request %s changed %s's data (sequence %" PRIu64 " -> %" PRIu64 ")",
                      user < 0 ? "with a refused token" : (user ? "of bob" : "of alice"), USERS[u],
                      seq_before[u], after[u]);
    if (!req_ok) {
        if (m.type != WIRE_ERROR_RESP || m.status == WS_OK)
            fuzz_fail("SRV-4", "a malformed request got a response of type %d status %d", (int)m.type, m.status);
        wire_msg_free(&m);
        return;
    }
    if (m.req_id != req->req_id)
        fuzz_fail("RUN-6", "response names request %016" PRIx64 ", the request was %016" PRIx64, m.req_id, req->req_id);
    if (user < 0) {
        if (m.type != WIRE_ERROR_RESP || m.status != WS_AUTH || m.nrows || m.nresults)
            fuzz_fail("SRV-4", "a wrong or revoked token got type %d status %d, not 401 and nothing else",
                      (int)m.type, m.status);
        wire_msg_free(&m);
        return;
    }
    enum wire_type want = req->type == WIRE_PUSH_REQ ? WIRE_PUSH_RESP
                        : req->type == WIRE_PULL_REQ ? WIRE_PULL_RESP : WIRE_PAGE_RESP;
    if (m.type == WIRE_ERROR_RESP) {
        if (m.status == WS_OK || m.status == WS_AUTH)
            fuzz_fail("SRV-4", "a valid token's request got an error with status %d: %s", m.status, m.text);
        wire_msg_free(&m);
        return;
    }
    if (m.type != want || m.status != WS_OK)
        fuzz_fail("SRV-4", "request type %d answered with type %d status %d", (int)req->type, (int)m.type, m.status);
    if (m.type == WIRE_PUSH_RESP) {
        if (m.nresults != req->nitems)
            fuzz_fail("SRV-1", "push of %d items got %d results", req->nitems, m.nresults);
        for (int i = 0; i < m.nresults; i++) {
            const struct push_result *r = &m.results[i];
            const struct push_item *it = &req->items[i];
            if (strcmp(r->op_id, it->op_id) != 0)
                fuzz_fail("SRV-1", "result %d names op %s, the item was %s", i, r->op_id, it->op_id);
            if (S.trace) fprintf(stderr, "  req %" PRIx64 " user %d item %d op %s %s/%s -> %s row %s/%s\n", req->req_id, user, i, it->op_id, it->row.table, it->row.id, push_outcome_name(r->outcome), r->has_row ? r->row.table : "-", r->has_row ? r->row.id : "-");
            struct seen *s = seen_find(user, r->op_id);
            bool old = S.overflow || (s && s - S.seen < S.nseen_before);   /* op id seen by an earlier request */
            for (int j = 0; j < i && !old; j++)
                old = strcmp(req->items[j].op_id, it->op_id) == 0;   /* ... or earlier in this batch */
            if (r->has_row) {
                /* a reused op id gets its first result verbatim (SRV-2), row included */
                if (!old && (strcmp(r->row.table, it->row.table) || strcmp(r->row.id, it->row.id)))
                    fuzz_fail("CONF-5", "ack of %s/%s carries row %s/%s", it->row.table, it->row.id,
                              r->row.table, r->row.id);
                scope_row(user, &r->row, false, "push ack");
            }
            if (!S.overflow && r->outcome != PUSH_REJECTED && s && s->outcome != r->outcome)
                fuzz_fail("SRV-2", "op %s of %s answered %s, first answered %s", r->op_id, USERS[user],
                          push_outcome_name(r->outcome), push_outcome_name(s->outcome));
            /* a rejected item is not recorded (SRV-2): only a result that
             * was recorded before (an earlier request, or an earlier item of
             * this batch that was not rejected) must come back verbatim */
            bool recorded = !S.overflow && s && s - S.seen < S.nseen_before && s->commits > 0;
            for (int j = 0; j < i && !recorded; j++)
                recorded = strcmp(req->items[j].op_id, it->op_id) == 0 && m.results[j].outcome != PUSH_REJECTED;
            if (r->outcome == PUSH_REJECTED && recorded)
                fuzz_fail("SRV-2", "op %s of %s was %s %s, now rejected (%s; item %d: %s/%s by %s)", r->op_id,
                          USERS[user], push_outcome_name(s->outcome),
                          "by an earlier request or item",
                          reject_reason_name(r->reason), i, it->row.table, it->row.id, it->row.st.by);
            if (!old && strcmp(it->row.table, "products") == 0 && r->outcome != PUSH_REJECTED)
                fuzz_fail("SRV-1", "push into the read-only table products answered %s",
                          push_outcome_name(r->outcome));
        }
    } else {
        uint64_t last = req->type == WIRE_PULL_REQ ? req->cursor : 0;
        for (int i = 0; i < m.nrows; i++) {
            const struct row *r = &m.rows[i];
            scope_row(user, r, true, m.type == WIRE_PULL_RESP ? "pull" : "page");
            if (req->type == WIRE_PULL_REQ && r->seq <= last)
                fuzz_fail("SRV-3", "pull row %d seq %" PRIu64 " not after %" PRIu64, i, r->seq, last);
            if (req->type == WIRE_PAGE_REQ && strcmp(r->table, req->table) != 0)
                fuzz_fail("SRV-3", "page of %s carries a row of %s", req->table, r->table);
            if (req->type == WIRE_PAGE_REQ && r->seq <= req->after_seq)
                fuzz_fail("SRV-3", "page row seq %" PRIu64 " not after %" PRIu64, r->seq, req->after_seq);
            last = r->seq;
        }
        if (req->limit > 0 && (uint32_t)m.nrows > req->limit)
            fuzz_fail("SRV-3", "%d rows for a limit of %u", m.nrows, req->limit);
    }
    wire_msg_free(&m);
}

static void handle(const uint8_t *req, size_t len, const struct wire_msg *m, bool ok, int user)
{
    uint64_t before[2] = { srv_user_seq(S.srv, USERS[0]), srv_user_seq(S.srv, USERS[1]) };
    S.nseen_before = S.nseen;
    uint8_t *resp = NULL;
    size_t rlen = 0;
    if (srv_handle(S.srv, req, len, &resp, &rlen) != 0)
        fuzz_fail("SRV-4", "srv_handle returned no response (%s)", srv_errmsg(S.srv));
    check(m, ok, user, resp, rlen, before);
    free(resp);
    S.now += 7;
}

static void fuzz_one(const uint8_t *p, size_t n)
{
    struct fz z = { p, n, 0 };
    reset();
    for (int k = 0; k < MAX_REQS && fz_more(&z); k++) {
        uint8_t op = fz_u8(&z);
        struct wire_msg m;
        wire_msg_init(&m, WIRE_PUSH_REQ);
        m.req_id = 0x1000 + (uint64_t)k;
        uint8_t *buf = NULL;
        size_t len = 0;
        int user = -1;
        bool ok = true;
        switch (op % 6) {
        case 0: {                                   /* push */
            user = pick_token(&z, m.token, sizeof m.token);
            uint8_t b = fz_u8(&z);
            int ni = (b & 0x80) ? WIRE_MAX_ITEMS : b % 6;
            m.items = calloc((size_t)ni + 1, sizeof *m.items);
            for (int i = 0; i < ni; i++) {
                if (i < 8) build_item(&z, &m.items[i]);
                else {                               /* a big batch: copies of the first */
                    m.items[i] = m.items[i % 8];
                    m.items[i].row.fields = NULL;
                    m.items[i].row.nfields = 0;
                    row_copy(&m.items[i].row, &m.items[i % 8].row);
                    snprintf(m.items[i].op_id, sizeof m.items[i].op_id, "phone:%d", 100 + i);
                }
                m.nitems = i + 1;
            }
            break;
        }
        case 1:                                     /* pull */
            m.type = WIRE_PULL_REQ;
            user = pick_token(&z, m.token, sizeof m.token);
            m.cursor = fz_u8(&z) % 16;
            m.limit = (uint32_t[]){0, 1, 2, 500, 100000}[fz_u8(&z) % 5];
            break;
        case 2:                                     /* page */
            m.type = WIRE_PAGE_REQ;
            user = pick_token(&z, m.token, sizeof m.token);
            snprintf(m.table, sizeof m.table, "%s", TABLES[fz_u8(&z) % 8]);
            m.after_seq = fz_u8(&z) % 16;
            m.limit = (uint32_t[]){0, 1, 2, 500, 100000}[fz_u8(&z) % 5];
            break;
        case 3: case 4: {                           /* replay / flip a byte of the previous */
            if (!S.prev) { wire_msg_free(&m); continue; }
            buf = malloc(S.prev_len);
            memcpy(buf, S.prev, S.prev_len);
            len = S.prev_len;
            if (op % 6 == 4) {
                uint16_t at = fz_u16(&z);
                buf[at % len] ^= (uint8_t)(1u << (fz_u8(&z) & 7));
            }
            struct wire_err err;
            wire_msg_free(&m);
            ok = wire_decode(buf, len, &m, &err) == 0 &&
                 (m.type == WIRE_PUSH_REQ || m.type == WIRE_PULL_REQ || m.type == WIRE_PAGE_REQ);
            if (ok) {
                user = -1;
                for (int t = 0; t < 2; t++)
                    if (strcmp(m.token, S.tok[t]) == 0) user = t;
            }
            break;
        }
        case 5:
            buf = oversized(&z, &len);
            ok = false;
            break;
        }
        if (!buf && encode(&m, &buf, &len) != 0) {
            /* beyond the encoder's limits: send it anyway as a truncated frame */
            wire_msg_free(&m);
            continue;
        }
        handle(buf, len, &m, ok, user);
        if (op % 6 != 5) {
            free(S.prev);
            S.prev = buf;
            S.prev_len = len;
        } else {
            free(buf);
        }
        wire_msg_free(&m);
    }
    srv_close(S.srv);
    S.srv = NULL;
}
