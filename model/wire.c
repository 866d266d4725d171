/*
 * wire.c — the message codec between devices and the server (wire.h).
 *
 * Frame: u32 length of the rest | u8 version | u8 type | u64 req_id | body.
 * Bodies (integers big-endian; str = u16 length + bytes; row = row.c form):
 *   PUSH_REQ   str token | u16 n | n × (str op_id | u64 base_seq | row)
 *   PULL_REQ   str token | u64 cursor | u32 limit
 *   PAGE_REQ   str token | str table | u64 after_seq | u32 limit
 *   PUSH_RESP  u16 status | u16 n | n × (str op_id | u8 outcome |
 *              u8 flags (1 concurrent, 2 has_row, 4 has_prev) | u8 reason |
 *              [u8 prev_deleted | str prev_fields] | [row])
 *   PULL_RESP  u16 status | u16 n | n × row | u8 has_more | i64 server_time |
 *              u64 server_seq
 *   PAGE_RESP  as PULL_RESP, then u64 table_total
 *   ERROR_RESP u16 status | i64 retry_after_ms | str text
 * The decoder never trusts a length or a count (SRV-4): counts are checked
 * against WIRE_MAX_ITEMS and against the bytes left before allocating.
 */
/* strnlen is POSIX 2008: the Makefile defines _GNU_SOURCE, other builds
 * (fuzz harnesses) may not. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define WIRE_HEADER_LEN 14u        /* u32 len + u8 version + u8 type + u64 req_id */
#define WIRE_ROW_MIN 53u           /* smallest encoded row (row.c layout) */
#define WIRE_ITEM_MIN (3u + 8u + WIRE_ROW_MIN)
#define WIRE_RESULT_MIN 6u
#define WIRE_FLAG_CONCURRENT 0x01u
#define WIRE_FLAG_HAS_ROW 0x02u
#define WIRE_FLAG_HAS_PREV 0x04u
#define WIRE_TEXT_MAX (sizeof(((struct wire_msg *)0)->text) - 1)

const char *push_outcome_name(enum push_outcome o)
{
    static const char *const names[] = { "applied", "stale", "conflict", "rejected" };
    if ((int)o < 0 || (int)o > PUSH_REJECTED)
        return "?";
    return names[o];
}

const char *reject_reason_name(enum reject_reason r)
{
    static const char *const names[] = { "none", "invalid", "read_only", "too_large" };
    if ((int)r < 0 || (int)r > REJ_TOO_LARGE)
        return "?";
    return names[r];
}

void wire_msg_init(struct wire_msg *m, enum wire_type type)
{
    SS_ASSERT(m != NULL);
    SS_ASSERT(type >= WIRE_PUSH_REQ && type <= WIRE_ERROR_RESP);
    memset(m, 0, sizeof *m);
    m->type = type;
    m->status = WS_OK;
}

void wire_msg_free(struct wire_msg *m)
{
    if (m == NULL)
        return;
    SS_ASSERT(m->nitems >= 0 && m->nresults >= 0 && m->nrows >= 0);
    for (int i = 0; i < m->nitems && m->items != NULL; i++)
        row_free(&m->items[i].row);
    for (int i = 0; i < m->nresults && m->results != NULL; i++)
        row_free(&m->results[i].row);
    for (int i = 0; i < m->nrows && m->rows != NULL; i++)
        row_free(&m->rows[i]);
    free(m->items);
    free(m->results);
    free(m->rows);
    m->items = NULL;
    m->results = NULL;
    m->rows = NULL;
    m->nitems = m->nresults = m->nrows = 0;
}

/* ---- encoding ---- */

struct wenc {
    uint8_t *buf;
    size_t len, cap;
    int failed;
};

static void w_bytes(struct wenc *e, const void *p, size_t n)
{
    SS_ASSERT(e->len <= e->cap && (p != NULL || n == 0));
    if (e->failed)
        return;
    /* Past WIRE_MAX_MSG the frame is refused anyway: stop growing early so a
     * huge message never costs more than ~1 MiB of memory. */
    if (e->len + n > WIRE_MAX_MSG) {
        e->failed = 1;
        return;
    }
    if (e->cap - e->len < n) {
        size_t want = e->cap ? e->cap : 1024;
        while (want - e->len < n)
            want *= 2;
        uint8_t *nb = realloc(e->buf, want);
        if (nb == NULL) {
            e->failed = 1;
            return;
        }
        e->buf = nb;
        e->cap = want;
    }
    memcpy(e->buf + e->len, p, n);
    e->len += n;
}

static void w_uint(struct wenc *e, uint64_t v, int width)
{
    uint8_t b[8];
    SS_ASSERT(width == 1 || width == 2 || width == 4 || width == 8);
    for (int i = 0; i < width; i++)
        b[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
    w_bytes(e, b, (size_t)width);
}

/* s is a fixed array of max + 1 bytes: strnlen keeps an unterminated one
 * from being read past its end. */
static void w_str(struct wenc *e, const char *s, size_t max)
{
    SS_ASSERT(s != NULL && max <= UINT16_MAX);
    size_t n = strnlen(s, max + 1);
    if (n > max) {
        e->failed = 1;
        return;
    }
    w_uint(e, n, 2);
    w_bytes(e, s, n);
}

static void w_row(struct wenc *e, const struct row *r)
{
    SS_ASSERT(r != NULL);
    if (e->failed)
        return;
    if (row_encode(r, &e->buf, &e->len, &e->cap) != 0 || e->len > WIRE_MAX_MSG)
        e->failed = 1;
}

static int count_ok(int n, const void *arr)
{
    return n >= 0 && n <= WIRE_MAX_ITEMS && (n == 0 || arr != NULL);
}

static void enc_push_req(struct wenc *e, const struct wire_msg *m)
{
    SS_ASSERT(m->type == WIRE_PUSH_REQ);
    SS_ASSERT(count_ok(m->nitems, m->items));
    w_str(e, m->token, TOKEN_MAX);
    w_uint(e, (uint64_t)m->nitems, 2);
    for (int i = 0; i < m->nitems && !e->failed; i++) {
        const struct push_item *it = &m->items[i];
        if (it->op_id[0] == '\0')
            e->failed = 1;
        w_str(e, it->op_id, OP_ID_MAX);
        w_uint(e, it->base_seq, 8);
        w_row(e, &it->row);
    }
}

static void enc_push_resp(struct wenc *e, const struct wire_msg *m)
{
    SS_ASSERT(m->type == WIRE_PUSH_RESP);
    SS_ASSERT(count_ok(m->nresults, m->results));
    w_uint(e, (uint64_t)m->nresults, 2);
    for (int i = 0; i < m->nresults && !e->failed; i++) {
        const struct push_result *r = &m->results[i];
        if (r->op_id[0] == '\0' || (int)r->outcome < 0 || r->outcome > PUSH_REJECTED ||
            (int)r->reason < 0 || r->reason > REJ_TOO_LARGE)
            e->failed = 1;
        w_str(e, r->op_id, OP_ID_MAX);
        w_uint(e, (uint64_t)r->outcome, 1);
        w_uint(e, (r->concurrent ? WIRE_FLAG_CONCURRENT : 0u) |
                      (r->has_row ? WIRE_FLAG_HAS_ROW : 0u) |
                      (r->has_prev ? WIRE_FLAG_HAS_PREV : 0u), 1);
        w_uint(e, (uint64_t)r->reason, 1);
        if (r->has_prev) {
            w_uint(e, r->prev_deleted ? 1u : 0u, 1);
            w_str(e, r->prev_fields, sizeof r->prev_fields - 1);
        }
        if (r->has_row)
            w_row(e, &r->row);
    }
}

static void enc_rows_resp(struct wenc *e, const struct wire_msg *m)
{
    SS_ASSERT(m->type == WIRE_PULL_RESP || m->type == WIRE_PAGE_RESP);
    SS_ASSERT(count_ok(m->nrows, m->rows));
    w_uint(e, (uint64_t)m->nrows, 2);
    for (int i = 0; i < m->nrows && !e->failed; i++)
        w_row(e, &m->rows[i]);
    w_uint(e, m->has_more ? 1 : 0, 1);
    w_uint(e, (uint64_t)m->server_time, 8);
    w_uint(e, m->server_seq, 8);
    if (m->type == WIRE_PAGE_RESP)
        w_uint(e, m->table_total, 8);
}

static void enc_body(struct wenc *e, const struct wire_msg *m)
{
    int is_resp = m->type >= WIRE_PUSH_RESP;
    if (is_resp && (m->status < 100 || m->status > 599))
        e->failed = 1;
    if (is_resp)
        w_uint(e, (uint64_t)m->status, 2);
    switch (m->type) {
    case WIRE_PUSH_REQ: enc_push_req(e, m); break;
    case WIRE_PULL_REQ:
        w_str(e, m->token, TOKEN_MAX);
        w_uint(e, m->cursor, 8);
        w_uint(e, m->limit, 4);
        break;
    case WIRE_PAGE_REQ:
        w_str(e, m->token, TOKEN_MAX);
        if (m->table[0] == '\0')
            e->failed = 1;
        w_str(e, m->table, NAME_MAX_LEN);
        w_uint(e, m->after_seq, 8);
        w_uint(e, m->limit, 4);
        break;
    case WIRE_PUSH_RESP: enc_push_resp(e, m); break;
    case WIRE_PULL_RESP:
    case WIRE_PAGE_RESP: enc_rows_resp(e, m); break;
    case WIRE_ERROR_RESP:
        if (m->retry_after_ms < 0)
            e->failed = 1;
        w_uint(e, (uint64_t)m->retry_after_ms, 8);
        w_str(e, m->text, WIRE_TEXT_MAX);
        break;
    default: e->failed = 1; break;
    }
}

int wire_encode(const struct wire_msg *m, uint8_t **out, size_t *len)
{
    SS_ASSERT(m != NULL && out != NULL && len != NULL);
    *out = NULL;
    *len = 0;
    /* SRV-4: more than WIRE_MAX_ITEMS items, results or rows is refused. */
    if (!count_ok(m->nitems, m->items) || !count_ok(m->nresults, m->results) ||
        !count_ok(m->nrows, m->rows))
        return -1;
    struct wenc e = { NULL, 0, 0, 0 };
    w_uint(&e, 0, 4);  /* length, patched below */
    w_uint(&e, WIRE_VERSION, 1);
    w_uint(&e, (uint64_t)m->type, 1);
    w_uint(&e, m->req_id, 8);
    enc_body(&e, m);
    if (e.failed) {
        free(e.buf);
        return -1;
    }
    SS_ASSERT(e.len >= WIRE_HEADER_LEN && e.len <= WIRE_MAX_MSG);
    uint32_t rest = (uint32_t)(e.len - 4);
    for (int i = 0; i < 4; i++)
        e.buf[i] = (uint8_t)(rest >> (8 * (3 - i)));
    *out = e.buf;
    *len = e.len;
    return 0;
}

/* ---- decoding ---- */

struct wdec {
    const uint8_t *p;
    size_t n, off;
    struct wire_err *err;
    int failed;
    bool keys_only;   /* wire_decode_keys */
};

/* Records the first failure only: later ones are consequences of it. */
static void fail(struct wdec *d, size_t off, const char *expected, const char *found)
{
    if (d->failed)
        return;
    d->failed = 1;
    d->err->offset = off;
    /* what[] is bounded (wire.h): a long message is cut, never overrun. */
    int w = snprintf(d->err->what, sizeof d->err->what, "expected %s, found %s", expected,
                     found);
    SS_ASSERT(w > 0);
}

static uint64_t r_uint(struct wdec *d, int width, const char *what)
{
    uint64_t v = 0;
    SS_ASSERT(d->off <= d->n);
    SS_ASSERT(width >= 1 && width <= 8);
    if (d->failed)
        return 0;
    if (d->n - d->off < (size_t)width) {
        fail(d, d->off, what, "end of frame");
        return 0;
    }
    for (int i = 0; i < width; i++)
        v = (v << 8) | d->p[d->off + (size_t)i];
    d->off += (size_t)width;
    return v;
}

/* A bool byte is exactly 0 or 1: anything else is corruption, not "true". */
static bool r_bool(struct wdec *d, const char *what)
{
    size_t at = d->off;
    uint64_t v = r_uint(d, 1, what);
    if (!d->failed && v > 1) {
        char found[32];
        snprintf(found, sizeof found, "%u", (unsigned)v);
        fail(d, at, what, found);
    }
    return v == 1;
}

/* A string of min..max bytes, no NUL, into out[max + 1]. */
static void r_str(struct wdec *d, char *out, size_t min, size_t max, const char *what)
{
    SS_ASSERT(out != NULL && min <= max && max <= UINT16_MAX);
    size_t at = d->off;
    size_t len = (size_t)r_uint(d, 2, what);
    char found[48];
    out[0] = '\0';
    if (d->failed)
        return;
    if (len < min || len > max) {
        snprintf(found, sizeof found, "length %zu (allowed %zu..%zu)", len, min, max);
        fail(d, at, what, found);
    } else if (d->n - d->off < len) {
        snprintf(found, sizeof found, "length %zu past end of frame", len);
        fail(d, at, what, found);
    } else if (memchr(d->p + d->off, '\0', len) != NULL) {
        fail(d, at, what, "a NUL byte");
    } else {
        memcpy(out, d->p + d->off, len);
        out[len] = '\0';
        d->off += len;
    }
}

static void r_row(struct wdec *d, struct row *r, const char *what)
{
    SS_ASSERT(r != NULL && d->off <= d->n);
    if (d->failed)
        return;
    long used = d->keys_only ? row_decode_keys(d->p + d->off, d->n - d->off, r)
                             : row_decode(d->p + d->off, d->n - d->off, r);
    if (used < 0) {
        fail(d, d->off, what, "a malformed row");
        return;
    }
    SS_ASSERT((size_t)used <= d->n - d->off);
    d->off += (size_t)used;
}

/* Reads a count and refuses it before allocating: over WIRE_MAX_ITEMS
 * (SRV-4), or more than the bytes left could hold at min_size each. */
static int r_count(struct wdec *d, size_t min_size, const char *what)
{
    SS_ASSERT(min_size > 0);
    size_t at = d->off;
    uint64_t n = r_uint(d, 2, what);
    char found[48];
    if (d->failed)
        return -1;
    if (n > WIRE_MAX_ITEMS) {
        snprintf(found, sizeof found, "%u (limit %d)", (unsigned)n, WIRE_MAX_ITEMS);
        fail(d, at, what, found);
        return -1;
    }
    if (n * min_size > d->n - d->off) {
        snprintf(found, sizeof found, "%u, more than the frame holds", (unsigned)n);
        fail(d, at, what, found);
        return -1;
    }
    return (int)n;
}

static void *alloc_array(struct wdec *d, int n, size_t size, bool zeroed)
{
    SS_ASSERT(n >= -1 && n <= WIRE_MAX_ITEMS);
    SS_ASSERT(size > 0);
    if (d->failed || n <= 0)
        return NULL;
    void *a = zeroed ? calloc((size_t)n, size) : malloc((size_t)n * size);
    if (a == NULL)
        fail(d, d->off, "memory for the array", "none");
    return a;
}

static void dec_push_req(struct wdec *d, struct wire_msg *m)
{
    SS_ASSERT(m->type == WIRE_PUSH_REQ && m->items == NULL);
    r_str(d, m->token, 0, TOKEN_MAX, "token");
    int n = r_count(d, WIRE_ITEM_MIN, "item count");
    m->items = alloc_array(d, n, sizeof *m->items, true);
    for (int i = 0; i < n && !d->failed; i++) {
        struct push_item *it = &m->items[i];
        m->nitems = i + 1;  /* freeable from here (row_decode empties on error) */
        r_str(d, it->op_id, 1, OP_ID_MAX, "op id");
        it->base_seq = r_uint(d, 8, "base_seq");
        r_row(d, &it->row, "item row");
    }
}

static void dec_result(struct wdec *d, struct push_result *r)
{
    SS_ASSERT(r != NULL && !r->has_row);
    r_str(d, r->op_id, 1, OP_ID_MAX, "op id");
    size_t at = d->off;
    uint64_t outcome = r_uint(d, 1, "push outcome");
    uint64_t flags = r_uint(d, 1, "result flags");
    uint64_t reason = r_uint(d, 1, "reject reason");
    char found[32];
    snprintf(found, sizeof found, "%u/%u/%u", (unsigned)outcome, (unsigned)flags,
             (unsigned)reason);
    if (outcome > PUSH_REJECTED || reason > REJ_TOO_LARGE ||
        (flags & ~(uint64_t)(WIRE_FLAG_CONCURRENT | WIRE_FLAG_HAS_ROW | WIRE_FLAG_HAS_PREV)) != 0)
        fail(d, at, "outcome 0..3, flags 0..7 and reason 0..3", found);
    if (d->failed)
        return;
    r->outcome = (enum push_outcome)outcome;
    r->reason = (enum reject_reason)reason;
    r->concurrent = (flags & WIRE_FLAG_CONCURRENT) != 0;
    r->has_row = (flags & WIRE_FLAG_HAS_ROW) != 0;
    r->has_prev = (flags & WIRE_FLAG_HAS_PREV) != 0;
    if (r->has_prev) {
        size_t pat = d->off;
        uint64_t del = r_uint(d, 1, "prev_deleted");
        if (del > 1)
            fail(d, pat, "prev_deleted 0 or 1", "more");
        r->prev_deleted = del == 1;
        r_str(d, r->prev_fields, 0, sizeof r->prev_fields - 1, "prev fields");
    }
    if (r->has_row && !d->failed)
        r_row(d, &r->row, "result row");
}

static void dec_push_resp(struct wdec *d, struct wire_msg *m)
{
    SS_ASSERT(m->type == WIRE_PUSH_RESP && m->results == NULL);
    int n = r_count(d, WIRE_RESULT_MIN, "result count");
    m->results = alloc_array(d, n, sizeof *m->results, true);
    for (int i = 0; i < n && !d->failed; i++) {
        m->nresults = i + 1;
        dec_result(d, &m->results[i]);
    }
}

static void dec_rows_resp(struct wdec *d, struct wire_msg *m)
{
    SS_ASSERT(m->type == WIRE_PULL_RESP || m->type == WIRE_PAGE_RESP);
    int n = r_count(d, WIRE_ROW_MIN, "row count");
    /* Not zeroed: a row is counted in nrows only as r_row decodes into it,
     * and decoding (or failing to) starts by emptying it. */
    m->rows = alloc_array(d, n, sizeof *m->rows, false);
    for (int i = 0; i < n && !d->failed; i++) {
        m->nrows = i + 1;
        r_row(d, &m->rows[i], "row");
    }
    m->has_more = r_bool(d, "has_more 0 or 1");
    m->server_time = (int64_t)r_uint(d, 8, "server_time");
    m->server_seq = r_uint(d, 8, "server_seq");
    if (m->type == WIRE_PAGE_RESP)
        m->table_total = r_uint(d, 8, "table_total");
}

static void dec_error_resp(struct wdec *d, struct wire_msg *m)
{
    SS_ASSERT(m->type == WIRE_ERROR_RESP);
    size_t at = d->off;
    uint64_t retry = r_uint(d, 8, "retry_after_ms");
    if (!d->failed && retry > (uint64_t)INT64_MAX)
        fail(d, at, "a non-negative retry_after_ms", "a negative one");
    m->retry_after_ms = (int64_t)retry;
    r_str(d, m->text, 0, WIRE_TEXT_MAX, "error text");
}

static void dec_body(struct wdec *d, struct wire_msg *m)
{
    SS_ASSERT(!d->failed && d->off == WIRE_HEADER_LEN);
    SS_ASSERT(m->type >= WIRE_PUSH_REQ && m->type <= WIRE_ERROR_RESP);
    if (m->type >= WIRE_PUSH_RESP) {
        size_t at = d->off;
        uint64_t st = r_uint(d, 2, "status");
        if (!d->failed && (st < 100 || st > 599)) {
            char found[16];
            snprintf(found, sizeof found, "%u", (unsigned)st);
            fail(d, at, "a status 100..599", found);
        }
        m->status = (int)st;
    }
    switch (m->type) {
    case WIRE_PUSH_REQ: dec_push_req(d, m); break;
    case WIRE_PULL_REQ:
        r_str(d, m->token, 0, TOKEN_MAX, "token");
        m->cursor = r_uint(d, 8, "cursor");
        m->limit = (uint32_t)r_uint(d, 4, "limit");
        break;
    case WIRE_PAGE_REQ:
        r_str(d, m->token, 0, TOKEN_MAX, "token");
        r_str(d, m->table, 1, NAME_MAX_LEN, "table name");
        m->after_seq = r_uint(d, 8, "after_seq");
        m->limit = (uint32_t)r_uint(d, 4, "limit");
        break;
    case WIRE_PUSH_RESP: dec_push_resp(d, m); break;
    case WIRE_PULL_RESP:
    case WIRE_PAGE_RESP: dec_rows_resp(d, m); break;
    case WIRE_ERROR_RESP: dec_error_resp(d, m); break;
    }
}

/* Length prefix, version and type (SRV-4: oversized and unknown-version
 * frames are protocol errors). */
static void dec_header(struct wdec *d, struct wire_msg *m)
{
    SS_ASSERT(d->off == 0 && !d->failed);
    char found[64];
    if (d->n > WIRE_MAX_MSG) {
        snprintf(found, sizeof found, "%zu bytes", d->n);
        fail(d, 0, "a frame of at most 1048576 bytes", found);
        return;
    }
    uint64_t len = r_uint(d, 4, "a 4-byte length prefix");
    if (!d->failed && len != d->n - 4) {
        snprintf(found, sizeof found, "%zu bytes after the prefix", d->n - 4);
        char exp[48];
        snprintf(exp, sizeof exp, "%llu bytes as the length says", (unsigned long long)len);
        fail(d, 0, exp, found);
    }
    uint64_t version = r_uint(d, 1, "a version byte");
    if (!d->failed && version != WIRE_VERSION) {
        snprintf(found, sizeof found, "version %u", (unsigned)version);
        fail(d, 4, "version 1", found);
    }
    uint64_t type = r_uint(d, 1, "a message type");
    if (!d->failed && (type < WIRE_PUSH_REQ || type > WIRE_ERROR_RESP)) {
        snprintf(found, sizeof found, "type %u", (unsigned)type);
        fail(d, 5, "a message type 1..7", found);
    }
    m->type = (enum wire_type)type;
    m->req_id = r_uint(d, 8, "a request id");
}

static int decode(const uint8_t *p, size_t n, struct wire_msg *m, struct wire_err *err,
                  bool keys_only)
{
    SS_ASSERT(m != NULL && err != NULL);
    SS_ASSERT(p != NULL || n == 0);
    struct wdec d = { p, n, 0, err, 0, keys_only };
    memset(m, 0, sizeof *m);
    memset(err, 0, sizeof *err);
    dec_header(&d, m);
    if (!d.failed)
        dec_body(&d, m);
    if (!d.failed && d.off != d.n) {
        char found[48];
        snprintf(found, sizeof found, "%zu trailing bytes", d.n - d.off);
        fail(&d, d.off, "the end of the frame", found);
    }
    if (d.failed) {
        wire_msg_free(m);  /* a half-decoded message is never handed out */
        return -1;
    }
    SS_ASSERT(d.off == n);
    return 0;
}

int wire_decode(const uint8_t *p, size_t n, struct wire_msg *m, struct wire_err *err)
{
    return decode(p, n, m, err, false);
}

int wire_decode_keys(const uint8_t *p, size_t n, struct wire_msg *m, struct wire_err *err)
{
    return decode(p, n, m, err, true);
}

int wire_peek(const uint8_t *p, size_t n, enum wire_type *type, uint64_t *req_id)
{
    SS_ASSERT(type != NULL && req_id != NULL);
    /* Only the header is read: a server can answer even a frame it cannot
     * decode with the request id it carried (RUN-6). The type byte is
     * returned as it is; wire_decode validates it. */
    if (p == NULL || n < WIRE_HEADER_LEN)
        return -1;
    *type = (enum wire_type)p[5];
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = (id << 8) | p[6 + i];
    *req_id = id;
    return 0;
}
