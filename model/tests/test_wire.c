/*
 * test_wire.c — the message codec: every message type round-trips; every
 * malformed frame (truncated, corrupted, oversized, unknown version, too
 * many items: SRV-4) is refused with an "expected …, found …" error and
 * never crashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire.h"

static uint64_t xs_state;
static uint64_t xs_next(void)  /* fixed-seed xorshift64, not the libc PRNG */
{
    uint64_t x = xs_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    xs_state = x;
    return x;
}

static struct stamp mk_stamp(int64_t at, const char *by, uint64_t seq)
{
    struct stamp s;
    memset(&s, 0, sizeof s);
    s.at = at;
    snprintf(s.by, sizeof s.by, "%s", by);
    s.seq = seq;
    return s;
}

static void mk_row(struct row *r, const char *table, int i)
{
    char id[32], v[32];
    struct stamp s = mk_stamp(1767225600000LL + i, "phone", (uint64_t)i + 1);
    snprintf(id, sizeof id, "%s-%d", table, i);
    snprintf(v, sizeof v, "value %d", i);
    row_init(r, table, id);
    assert_int_equal(row_set(r, "qty", v, &s), 0);
    assert_int_equal(row_set(r, "status", "open", &s), 0);
    r->st = s;
    r->seq = (uint64_t)i * 3;
    r->deleted = (i % 3) == 0;
    if (r->deleted)
        r->del_st = s;
}

static void fill_push_req(struct wire_msg *m, int n)
{
    wire_msg_init(m, WIRE_PUSH_REQ);
    m->req_id = 0x0102030405060708ULL;
    snprintf(m->token, sizeof m->token, "tok-alice");
    m->nitems = n;
    m->items = calloc((size_t)(n ? n : 1), sizeof *m->items);
    assert_non_null(m->items);
    for (int i = 0; i < n; i++) {
        snprintf(m->items[i].op_id, sizeof m->items[i].op_id, "phone:%d", i + 1);
        m->items[i].base_seq = (uint64_t)i;
        mk_row(&m->items[i].row, "orders", i);
    }
}

static void fill_push_resp(struct wire_msg *m, int n)
{
    wire_msg_init(m, WIRE_PUSH_RESP);
    m->req_id = 99;
    m->nresults = n;
    m->results = calloc((size_t)(n ? n : 1), sizeof *m->results);
    assert_non_null(m->results);
    for (int i = 0; i < n; i++) {
        struct push_result *r = &m->results[i];
        snprintf(r->op_id, sizeof r->op_id, "tablet:%d", i + 1);
        r->outcome = (enum push_outcome)(i % 4);
        r->concurrent = (i % 2) == 1;
        r->reason = r->outcome == PUSH_REJECTED ? REJ_READ_ONLY : REJ_NONE;
        r->has_row = (i % 3) != 2;  /* CONF-5: rows on most results */
        if (r->has_row)
            mk_row(&r->row, "customers", i);
    }
}

static void fill_rows_resp(struct wire_msg *m, enum wire_type t, int n)
{
    wire_msg_init(m, t);
    m->req_id = 7;
    m->nrows = n;
    m->rows = calloc((size_t)(n ? n : 1), sizeof *m->rows);
    assert_non_null(m->rows);
    for (int i = 0; i < n; i++)
        mk_row(&m->rows[i], "products", i);
    m->has_more = true;
    m->server_time = -1234567;  /* signed values survive */
    m->server_seq = 0xfedcba9876543210ULL;
    m->table_total = t == WIRE_PAGE_RESP ? 1200 : 0;
}

static void assert_msgs_equal(const struct wire_msg *a, const struct wire_msg *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->req_id, b->req_id);
    assert_string_equal(a->token, b->token);
    assert_int_equal(a->cursor, b->cursor);
    assert_string_equal(a->table, b->table);
    assert_int_equal(a->after_seq, b->after_seq);
    assert_int_equal(a->limit, b->limit);
    assert_int_equal(a->nitems, b->nitems);
    for (int i = 0; i < a->nitems; i++) {
        assert_string_equal(a->items[i].op_id, b->items[i].op_id);
        assert_int_equal(a->items[i].base_seq, b->items[i].base_seq);
        assert_true(row_equal(&a->items[i].row, &b->items[i].row, true));
    }
    assert_int_equal(a->nresults, b->nresults);
    for (int i = 0; i < a->nresults; i++) {
        const struct push_result *x = &a->results[i], *y = &b->results[i];
        assert_string_equal(x->op_id, y->op_id);
        assert_int_equal(x->outcome, y->outcome);
        assert_int_equal(x->concurrent, y->concurrent);
        assert_int_equal(x->reason, y->reason);
        assert_int_equal(x->has_row, y->has_row);
        if (x->has_row)
            assert_true(row_equal(&x->row, &y->row, true));
    }
    assert_int_equal(a->nrows, b->nrows);
    for (int i = 0; i < a->nrows; i++)
        assert_true(row_equal(&a->rows[i], &b->rows[i], true));
    if (a->type >= WIRE_PUSH_RESP)
        assert_int_equal(a->status, b->status);
    if (a->type == WIRE_ERROR_RESP) {
        assert_int_equal(a->retry_after_ms, b->retry_after_ms);
        assert_string_equal(a->text, b->text);
    }
    if (a->type == WIRE_PULL_RESP || a->type == WIRE_PAGE_RESP) {
        assert_int_equal(a->has_more, b->has_more);
        assert_int_equal(a->server_time, b->server_time);
        assert_int_equal(a->server_seq, b->server_seq);
        assert_int_equal(a->table_total, b->table_total);
    }
}

/* Encodes, decodes, compares; returns the frame (caller frees). */
static uint8_t *roundtrip(const struct wire_msg *m, size_t *len)
{
    uint8_t *buf = NULL;
    struct wire_msg back;
    struct wire_err err;
    assert_int_equal(wire_encode(m, &buf, len), 0);
    assert_non_null(buf);
    /* the length prefix counts what follows it */
    uint32_t pre = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    assert_int_equal(pre, *len - 4);
    assert_int_equal(buf[4], WIRE_VERSION);
    if (wire_decode(buf, *len, &back, &err) != 0)
        fail_msg("decode failed at %zu: %s", err.offset, err.what);
    assert_msgs_equal(m, &back);
    enum wire_type t;
    uint64_t id;
    assert_int_equal(wire_peek(buf, *len, &t, &id), 0);
    assert_int_equal(t, m->type);
    assert_int_equal(id, m->req_id);
    wire_msg_free(&back);
    return buf;
}

static void test_roundtrip_push_req(void **state)
{
    (void)state;
    struct wire_msg m;
    size_t len;
    fill_push_req(&m, 5);
    free(roundtrip(&m, &len));
    wire_msg_free(&m);
    fill_push_req(&m, 0);  /* an empty batch is legal on the wire */
    free(roundtrip(&m, &len));
    wire_msg_free(&m);
}

static void test_roundtrip_pull_and_page_req(void **state)
{
    (void)state;
    struct wire_msg m;
    size_t len;
    wire_msg_init(&m, WIRE_PULL_REQ);  /* RUN-2 */
    m.req_id = UINT64_MAX;
    snprintf(m.token, sizeof m.token, "t");
    m.cursor = 123456789;
    m.limit = 500;
    free(roundtrip(&m, &len));
    wire_msg_free(&m);
    wire_msg_init(&m, WIRE_PAGE_REQ);  /* INIT-1 */
    snprintf(m.table, sizeof m.table, "prices");
    m.after_seq = 1000;
    m.limit = 500;
    free(roundtrip(&m, &len));
    wire_msg_free(&m);
}

static void test_roundtrip_responses(void **state)
{
    (void)state;
    struct wire_msg m;
    size_t len;
    fill_push_resp(&m, 9);
    free(roundtrip(&m, &len));
    wire_msg_free(&m);
    fill_rows_resp(&m, WIRE_PULL_RESP, 4);
    free(roundtrip(&m, &len));
    wire_msg_free(&m);
    fill_rows_resp(&m, WIRE_PAGE_RESP, 3);
    free(roundtrip(&m, &len));
    wire_msg_free(&m);
    fill_rows_resp(&m, WIRE_PAGE_RESP, 0);  /* INIT-1: an empty table is one empty page */
    m.has_more = false;
    free(roundtrip(&m, &len));
    wire_msg_free(&m);
    wire_msg_init(&m, WIRE_ERROR_RESP);  /* RUN-4: 429 with Retry-After */
    m.status = WS_THROTTLE;
    m.retry_after_ms = 2500;
    snprintf(m.text, sizeof m.text, "slow down, \"please\"");
    free(roundtrip(&m, &len));
    wire_msg_free(&m);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(push_outcome_name(PUSH_APPLIED), "applied");
    assert_string_equal(push_outcome_name(PUSH_STALE), "stale");
    assert_string_equal(push_outcome_name(PUSH_CONFLICT), "conflict");
    assert_string_equal(push_outcome_name(PUSH_REJECTED), "rejected");
    assert_string_equal(reject_reason_name(REJ_NONE), "none");
    assert_string_equal(reject_reason_name(REJ_INVALID), "invalid");
    assert_string_equal(reject_reason_name(REJ_READ_ONLY), "read_only");
    assert_string_equal(reject_reason_name(REJ_TOO_LARGE), "too_large");
}

/* SRV-4: more than 1000 items, results or rows is refused by the encoder. */
static void test_srv4_encode_refuses_1001_items(void **state)
{
    (void)state;
    struct wire_msg m;
    uint8_t *buf = NULL;
    size_t len = 0;
    fill_push_req(&m, WIRE_MAX_ITEMS);
    assert_int_equal(wire_encode(&m, &buf, &len), 0);
    free(buf);
    wire_msg_free(&m);
    fill_push_req(&m, WIRE_MAX_ITEMS + 1);
    assert_int_equal(wire_encode(&m, &buf, &len), -1);
    assert_null(buf);
    wire_msg_free(&m);
    fill_rows_resp(&m, WIRE_PULL_RESP, WIRE_MAX_ITEMS + 1);
    assert_int_equal(wire_encode(&m, &buf, &len), -1);
    wire_msg_free(&m);
    fill_push_resp(&m, WIRE_MAX_ITEMS + 1);
    assert_int_equal(wire_encode(&m, &buf, &len), -1);
    wire_msg_free(&m);
}

/* SRV-4: a 1001-item count on the wire is refused by the decoder, naming
 * the count. The frame is built by patching a valid 1-item request. */
static void test_srv4_decode_refuses_1001_items(void **state)
{
    (void)state;
    struct wire_msg m, back;
    struct wire_err err;
    uint8_t *buf;
    size_t len;
    fill_push_req(&m, 1);
    assert_int_equal(wire_encode(&m, &buf, &len), 0);
    size_t at = 14 + 2 + strlen(m.token);  /* header, token, then the count */
    buf[at] = (uint8_t)(1001 >> 8);
    buf[at + 1] = (uint8_t)(1001 & 0xff);
    assert_int_equal(wire_decode(buf, len, &back, &err), -1);
    assert_int_equal(err.offset, at);
    assert_non_null(strstr(err.what, "1001"));
    assert_non_null(strstr(err.what, "expected"));
    assert_null(back.items);
    free(buf);
    wire_msg_free(&m);
}

/* SRV-4: > 1 MiB is refused, by the encoder and by the decoder. */
static void test_srv4_oversized(void **state)
{
    (void)state;
    struct wire_msg m, back;
    struct wire_err err;
    uint8_t *buf = NULL;
    size_t len = 0;
    char *big = malloc(4001);
    assert_non_null(big);
    memset(big, 'x', 4000);
    big[4000] = '\0';
    fill_rows_resp(&m, WIRE_PULL_RESP, 300);  /* 300 × ~4 KiB > 1 MiB */
    for (int i = 0; i < m.nrows; i++)
        assert_int_equal(row_set(&m.rows[i], "blob", big, NULL), 0);
    assert_int_equal(wire_encode(&m, &buf, &len), -1);
    assert_null(buf);
    wire_msg_free(&m);
    free(big);
    size_t n = WIRE_MAX_MSG + 1;
    uint8_t *huge = calloc(n, 1);
    assert_non_null(huge);
    huge[0] = (uint8_t)((n - 4) >> 24);
    huge[1] = (uint8_t)((n - 4) >> 16);
    huge[2] = (uint8_t)((n - 4) >> 8);
    huge[3] = (uint8_t)(n - 4);
    huge[4] = WIRE_VERSION;
    assert_int_equal(wire_decode(huge, n, &back, &err), -1);
    assert_int_equal(err.offset, 0);
    assert_non_null(strstr(err.what, "1048576"));
    free(huge);
}

static void test_unknown_version_refused(void **state)
{
    (void)state;
    struct wire_msg m, back;
    struct wire_err err;
    uint8_t *buf;
    size_t len;
    fill_push_req(&m, 2);
    assert_int_equal(wire_encode(&m, &buf, &len), 0);
    buf[4] = 2;
    assert_int_equal(wire_decode(buf, len, &back, &err), -1);
    assert_int_equal(err.offset, 4);
    assert_non_null(strstr(err.what, "version 2"));
    /* wire_peek still reads the request id so the server can answer (RUN-6) */
    enum wire_type t;
    uint64_t id;
    assert_int_equal(wire_peek(buf, len, &t, &id), 0);
    assert_int_equal(id, m.req_id);
    buf[4] = WIRE_VERSION;
    buf[5] = 8;  /* unknown type */
    assert_int_equal(wire_decode(buf, len, &back, &err), -1);
    assert_int_equal(err.offset, 5);
    assert_non_null(strstr(err.what, "type 8"));
    free(buf);
    wire_msg_free(&m);
}

static void test_length_must_match(void **state)
{
    (void)state;
    struct wire_msg m, back;
    struct wire_err err;
    uint8_t *buf;
    size_t len;
    fill_rows_resp(&m, WIRE_PULL_RESP, 1);
    assert_int_equal(wire_encode(&m, &buf, &len), 0);
    uint8_t *more = malloc(len + 1);
    assert_non_null(more);
    memcpy(more, buf, len);
    more[len] = 0;
    /* one byte more than the prefix says */
    assert_int_equal(wire_decode(more, len + 1, &back, &err), -1);
    assert_int_equal(err.offset, 0);
    assert_non_null(strstr(err.what, "expected"));
    /* prefix fixed up: the body ends before the frame does */
    more[3]++;
    assert_int_equal(wire_decode(more, len + 1, &back, &err), -1);
    assert_int_equal(err.offset, len);
    assert_non_null(strstr(err.what, "trailing"));
    /* a has_more byte that is neither 0 nor 1 */
    memcpy(more, buf, len);
    more[len - 17] = 2;
    assert_int_equal(wire_decode(more, len, &back, &err), -1);
    assert_int_equal(err.offset, len - 17);
    free(more);
    free(buf);
    wire_msg_free(&m);
}

/* Every strict prefix of a valid frame fails cleanly with an error. */
static void check_prefixes(const struct wire_msg *m)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(wire_encode(m, &buf, &len), 0);
    for (size_t n = 0; n < len; n++) {
        struct wire_msg back;
        struct wire_err err;
        uint8_t *copy = malloc(n ? n : 1);  /* exact size: ASan sees overreads */
        assert_non_null(copy);
        memcpy(copy, buf, n);
        assert_int_equal(wire_decode(copy, n, &back, &err), -1);
        assert_true(strncmp(err.what, "expected ", 9) == 0);
        assert_true(err.offset <= n);
        assert_int_equal(back.nitems + back.nresults + back.nrows, 0);
        wire_msg_free(&back);
        /* and with the prefix fixed to the truncated length */
        if (n >= 4) {
            uint32_t rest = (uint32_t)(n - 4);
            for (int i = 0; i < 4; i++)
                copy[i] = (uint8_t)(rest >> (8 * (3 - i)));
            assert_int_equal(wire_decode(copy, n, &back, &err), -1);
            assert_true(strncmp(err.what, "expected ", 9) == 0);
            wire_msg_free(&back);
        }
        free(copy);
    }
    free(buf);
}

static void test_every_prefix_fails(void **state)
{
    (void)state;
    struct wire_msg m;
    fill_push_req(&m, 3);
    check_prefixes(&m);
    wire_msg_free(&m);
    fill_push_resp(&m, 4);
    check_prefixes(&m);
    wire_msg_free(&m);
    fill_rows_resp(&m, WIRE_PAGE_RESP, 2);
    check_prefixes(&m);
    wire_msg_free(&m);
    wire_msg_init(&m, WIRE_ERROR_RESP);
    m.status = WS_SERVER;
    snprintf(m.text, sizeof m.text, "boom");
    check_prefixes(&m);
    wire_msg_free(&m);
}

/* Random byte flips (fixed seed): never a crash or a leak; whatever decodes
 * re-encodes to exactly the same bytes (the format is canonical). */
static void fuzz_frame(const struct wire_msg *m, int iters)
{
    uint8_t *buf, *copy;
    size_t len;
    assert_int_equal(wire_encode(m, &buf, &len), 0);
    copy = malloc(len);
    assert_non_null(copy);
    for (int it = 0; it < iters; it++) {
        struct wire_msg back;
        struct wire_err err;
        memcpy(copy, buf, len);
        int flips = 1 + (int)(xs_next() % 3);
        for (int k = 0; k < flips; k++)
            copy[4 + xs_next() % (len - 4)] ^= (uint8_t)(1 + xs_next() % 255);
        /* the checkers' key-only decoder accepts exactly the same frames */
        struct wire_msg keys;
        struct wire_err kerr;
        int krc = wire_decode_keys(copy, len, &keys, &kerr);
        int rc = wire_decode(copy, len, &back, &err);
        assert_int_equal(krc, rc);
        if (rc == 0) {
            assert_int_equal(keys.nrows, back.nrows);
            assert_int_equal(keys.nitems, back.nitems);
            for (int i = 0; i < keys.nrows; i++) {
                assert_string_equal(keys.rows[i].id, back.rows[i].id);
                assert_int_equal(keys.rows[i].seq, back.rows[i].seq);
                assert_int_equal(keys.rows[i].nfields, 0);
            }
        } else {
            assert_int_equal(kerr.offset, err.offset);
        }
        wire_msg_free(&keys);
        if (rc == 0) {
            uint8_t *re = NULL;
            size_t rlen = 0;
            assert_int_equal(wire_encode(&back, &re, &rlen), 0);
            assert_int_equal(rlen, len);
            assert_memory_equal(re, copy, len);
            free(re);
        } else {
            assert_true(strncmp(err.what, "expected ", 9) == 0);
            assert_true(err.offset <= len);
        }
        wire_msg_free(&back);
    }
    free(copy);
    free(buf);
}

static void test_random_flips_no_crash(void **state)
{
    (void)state;
    struct wire_msg m;
    xs_state = 0x2545f4914f6cdd1dULL;
    fill_push_req(&m, 3);
    fuzz_frame(&m, 5000);
    wire_msg_free(&m);
    fill_push_resp(&m, 5);
    fuzz_frame(&m, 5000);
    wire_msg_free(&m);
    fill_rows_resp(&m, WIRE_PAGE_RESP, 3);
    fuzz_frame(&m, 5000);
    wire_msg_free(&m);
}

static void test_random_garbage_no_crash(void **state)
{
    (void)state;
    xs_state = 0xdeadbeefcafef00dULL;
    for (int it = 0; it < 20000; it++) {
        uint8_t junk[128];
        size_t n = (size_t)(xs_next() % sizeof junk);
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)xs_next();
        if (n >= 6 && (xs_next() & 1)) {  /* plausible header, random body */
            junk[0] = junk[1] = 0;
            junk[2] = (uint8_t)((n - 4) >> 8);
            junk[3] = (uint8_t)(n - 4);
            junk[4] = WIRE_VERSION;
            junk[5] = (uint8_t)(1 + xs_next() % 7);
        }
        struct wire_msg back;
        struct wire_err err;
        if (wire_decode(junk, n, &back, &err) != 0)
            assert_true(strncmp(err.what, "expected ", 9) == 0);
        wire_msg_free(&back);
    }
    enum wire_type t;
    uint64_t id;
    uint8_t tiny[13] = { 0 };
    assert_int_equal(wire_peek(tiny, sizeof tiny, &t, &id), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_push_req),
        cmocka_unit_test(test_roundtrip_pull_and_page_req),
        cmocka_unit_test(test_roundtrip_responses),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_srv4_encode_refuses_1001_items),
        cmocka_unit_test(test_srv4_decode_refuses_1001_items),
        cmocka_unit_test(test_srv4_oversized),
        cmocka_unit_test(test_unknown_version_refused),
        cmocka_unit_test(test_length_must_match),
        cmocka_unit_test(test_every_prefix_fails),
        cmocka_unit_test(test_random_flips_no_crash),
        cmocka_unit_test(test_random_garbage_no_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
