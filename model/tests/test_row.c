/*
 * test_row.c — rows (SPEC §1.1): sorted fields, hard caps, the binary form
 * and its decoder under truncation and corruption, and stamp order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "row.h"

static struct stamp mk_stamp(int64_t at, const char *by, uint64_t seq)
{
    struct stamp s;
    memset(&s, 0, sizeof s);
    s.at = at;
    snprintf(s.by, sizeof s.by, "%s", by);
    s.seq = seq;
    return s;
}

/* Fixed-seed xorshift64: the tests never depend on rand() or time. */
static uint64_t xs_state;
static uint64_t xs_next(void)
{
    uint64_t x = xs_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    xs_state = x;
    return x;
}

/* A row with every kind of content: deleted, stamps, high bytes, empty
 * values. */
static void sample_row(struct row *r)
{
    struct stamp a = mk_stamp(1767225600000LL, "phone", 7);
    struct stamp b = mk_stamp(1767225600123LL, "server", 0);
    row_init(r, "orders", "o-1");
    assert_int_equal(row_set(r, "qty", "2", &a), 0);
    assert_int_equal(row_set(r, "status", "open now", &b), 0);
    assert_int_equal(row_set(r, "empty", "", &a), 0);
    assert_int_equal(row_set(r, "n\xc3\xa4me", "v\xe2\x80\x94x", &b), 0);
    r->deleted = true;
    r->del_st = b;
    r->st = b;
    r->seq = 42;
}

/* ---- SPEC §1.1 stamps ---- */

static void test_stamp_order_s1_1(void **state)
{
    (void)state;
    struct stamp a = mk_stamp(100, "zzz", 9), b = mk_stamp(101, "aaa", 0);
    /* modified_at decides first */
    assert_true(stamp_cmp(&a, &b) < 0);
    assert_true(stamp_cmp(&b, &a) > 0);
    /* then modified_by, bytewise: 'Z' (0x5a) < 'a' (0x61), prefix first */
    a = mk_stamp(100, "Zed", 5);
    b = mk_stamp(100, "abe", 1);
    assert_int_equal(stamp_cmp(&a, &b), -1);
    a = mk_stamp(100, "ab", 5);
    b = mk_stamp(100, "abc", 1);
    assert_int_equal(stamp_cmp(&a, &b), -1);
    /* bytewise means unsigned: 0x7f < 0x80 (a signed char compare would flip it) */
    a = mk_stamp(100, "d\x7f", 5);
    b = mk_stamp(100, "d\x80", 1);
    assert_int_equal(stamp_cmp(&a, &b), -1);
    assert_int_equal(stamp_cmp(&b, &a), 1);
    /* then op seq */
    a = mk_stamp(100, "dev", 1);
    b = mk_stamp(100, "dev", 2);
    assert_int_equal(stamp_cmp(&a, &b), -1);
    assert_int_equal(stamp_cmp(&b, &b), 0);
    /* negative times order too (skewed clocks) */
    a = mk_stamp(-5, "dev", 1);
    b = mk_stamp(3, "dev", 1);
    assert_int_equal(stamp_cmp(&a, &b), -1);
}

static void test_stamp_is_zero(void **state)
{
    (void)state;
    struct stamp z;
    memset(&z, 0, sizeof z);
    assert_true(stamp_is_zero(&z));
    struct stamp s = mk_stamp(0, "", 1);
    assert_false(stamp_is_zero(&s));
    s = mk_stamp(0, "x", 0);
    assert_false(stamp_is_zero(&s));
}

/* ---- fields ---- */

static void test_fields_sorted_bytewise(void **state)
{
    (void)state;
    struct row r;
    struct stamp s = mk_stamp(1, "d", 1);
    const char *in[] = { "b", "a", "B", "\xc3\xa9", "aa", "_" };
    const char *want[] = { "B", "_", "a", "aa", "b", "\xc3\xa9" };
    row_init(&r, "customers", "c1");
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(row_set(&r, in[i], in[i], &s), 0);
    assert_int_equal(r.nfields, 6);
    for (int i = 0; i < 6; i++)
        assert_string_equal(r.fields[i].name, want[i]);
    /* replace keeps the count and takes the new stamp */
    struct stamp s2 = mk_stamp(2, "e", 3);
    assert_int_equal(row_set(&r, "aa", "new", &s2), 0);
    assert_int_equal(r.nfields, 6);
    assert_string_equal(row_get(&r, "aa"), "new");
    assert_int_equal(stamp_cmp(&row_field(&r, "aa")->st, &s2), 0);
    assert_null(row_get(&r, "missing"));
    assert_int_equal(row_bytes(&r), strlen("B_aaab\xc3\xa9") + strlen("B_anewb\xc3\xa9"));
    row_free(&r);
    assert_int_equal(r.nfields, 0);
    assert_null(r.fields);
}

static void test_row_caps(void **state)
{
    (void)state;
    struct row r;
    char name[80];
    row_init(&r, "orders", "o1");
    /* names: non-empty, at most 64 bytes */
    assert_int_equal(row_set(&r, "", "v", NULL), -1);
    memset(name, 'n', 65);
    name[65] = '\0';
    assert_int_equal(row_set(&r, name, "v", NULL), -1);
    name[64] = '\0';
    assert_int_equal(row_set(&r, name, "v", NULL), 0);
    row_free(&r);
    /* ROW_HARD_FIELDS fields fit, one more does not */
    row_init(&r, "orders", "o1");
    for (int i = 0; i < ROW_HARD_FIELDS; i++) {
        snprintf(name, sizeof name, "f%03d", i);
        assert_int_equal(row_set(&r, name, "x", NULL), 0);
    }
    assert_int_equal(row_set(&r, "g", "x", NULL), -1);
    assert_int_equal(row_set(&r, "f000", "replaced", NULL), 0);  /* replacing is fine */
    assert_int_equal(r.nfields, ROW_HARD_FIELDS);
    row_free(&r);
    /* ROW_HARD_BYTES of names and values */
    char *big = malloc(ROW_MAX_BYTES * 4 + 2);
    assert_non_null(big);
    memset(big, 'v', ROW_MAX_BYTES * 4);
    big[ROW_MAX_BYTES * 4] = '\0';
    row_init(&r, "orders", "o1");
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "f%d", i);
        if (row_set(&r, name, big, NULL) == 0)
            ok++;
    }
    assert_int_equal(ok, 3);  /* 4 × (16384 + 2) > 65536 */
    assert_true(row_bytes(&r) <= ROW_HARD_BYTES);
    big[ROW_MAX_BYTES * 4] = 'v';  /* one byte over the value limit */
    big[ROW_MAX_BYTES * 4 + 1] = '\0';
    assert_int_equal(row_set(&r, "zz", big, NULL), -1);
    free(big);
    row_free(&r);
}

static void test_copy_and_equal(void **state)
{
    (void)state;
    struct row a, b;
    sample_row(&a);
    assert_int_equal(row_copy(&b, &a), 0);
    assert_true(row_equal(&a, &b, true));
    assert_ptr_not_equal(a.fields, b.fields);
    assert_ptr_not_equal(a.fields[0].name, b.fields[0].name);
    /* a stamp difference matters only with stamps */
    b.fields[1].st.seq++;
    assert_true(row_equal(&a, &b, false));
    assert_false(row_equal(&a, &b, true));
    b.fields[1].st.seq--;
    b.seq++;
    assert_true(row_equal(&a, &b, false));
    assert_false(row_equal(&a, &b, true));
    /* values and the tombstone always matter (INV-CONVERGE) */
    assert_int_equal(row_set(&b, "qty", "3", NULL), 0);
    assert_false(row_equal(&a, &b, false));
    row_free(&b);
    assert_int_equal(row_copy(&b, &a), 0);
    b.deleted = false;
    assert_false(row_equal(&a, &b, false));
    row_free(&a);
    row_free(&b);
}

/* ---- binary form ---- */

static void encode_ok(const struct row *r, uint8_t **buf, size_t *len)
{
    size_t cap = 0;
    *buf = NULL;
    *len = 0;
    assert_int_equal(row_encode(r, buf, len, &cap), 0);
    assert_true(*len > 0 && *len <= cap);
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct row a, b;
    uint8_t *buf;
    size_t len;
    sample_row(&a);
    encode_ok(&a, &buf, &len);
    assert_int_equal(row_decode(buf, len, &b), (long)len);
    assert_true(row_equal(&a, &b, true));
    assert_true(b.deleted);
    assert_int_equal(b.seq, 42);
    row_free(&b);
    /* decode reads one row and reports what it used: trailing bytes stay */
    uint8_t *more = malloc(len + 3);
    assert_non_null(more);
    memcpy(more, buf, len);
    memset(more + len, 0xee, 3);
    assert_int_equal(row_decode(more, len + 3, &b), (long)len);
    row_free(&b);
    free(more);
    free(buf);
    row_free(&a);
}

/* Decoded and copied rows are one block (row.h); changing one gives its
 * fields their own allocations first. ASan checks the ownership. */
static void test_packed_rows_change_like_any_other(void **state)
{
    (void)state;
    struct row a, b, c;
    uint8_t *buf;
    size_t len;
    sample_row(&a);
    assert_false(a.packed);
    encode_ok(&a, &buf, &len);
    assert_int_equal(row_decode(buf, len, &b), (long)len);
    assert_true(b.packed);
    struct stamp st = { .at = 7, .seq = 9 };
    strcpy(st.by, "tablet");
    assert_int_equal(row_set(&b, "qty", "99", &st), 0);     /* replace */
    assert_int_equal(row_set(&b, "aaa", "first", NULL), 0); /* insert before all */
    assert_false(b.packed);
    assert_string_equal(row_get(&b, "qty"), "99");
    assert_string_equal(row_get(&b, "aaa"), "first");
    assert_int_equal(b.nfields, a.nfields + 1);
    assert_int_equal(row_copy(&c, &b), 0);
    assert_true(c.packed);
    assert_true(row_equal(&b, &c, true));
    assert_false(row_equal(&a, &c, false));
    assert_int_equal(row_set(&a, "qty", "99", &st), 0);
    assert_int_equal(row_set(&a, "aaa", "first", NULL), 0);
    assert_true(row_equal(&a, &c, true));
    free(buf);
    row_free(&a);
    row_free(&b);
    row_free(&c);
}

static void test_roundtrip_max_fields(void **state)
{
    (void)state;
    struct row a, b;
    uint8_t *buf;
    size_t len;
    char name[16];
    row_init(&a, "products", "p-\xff\x01");
    for (int i = 0; i < ROW_HARD_FIELDS; i++) {
        struct stamp s = mk_stamp(i, "erp", 0);
        snprintf(name, sizeof name, "k%d", i);
        assert_int_equal(row_set(&a, name, name, &s), 0);
    }
    encode_ok(&a, &buf, &len);
    assert_int_equal(row_decode(buf, len, &b), (long)len);
    assert_true(row_equal(&a, &b, true));
    row_free(&b);
    free(buf);
    row_free(&a);
}

static void test_encode_refuses_unnamed(void **state)
{
    (void)state;
    struct row r;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    memset(&r, 0, sizeof r);  /* zeroed: valid empty row, but no table/id */
    assert_int_equal(row_encode(&r, &buf, &len, &cap), -1);
    assert_int_equal(len, 0);
    free(buf);
}

/* Every strict prefix of a valid encoding is malformed. */
/* row_decode, after checking that row_decode_keys accepts exactly the same
 * bytes and reads the same header. */
static long decode_both(const uint8_t *p, size_t n, struct row *r)
{
    struct row k;
    long used_keys = row_decode_keys(p, n, &k);
    long used = row_decode(p, n, r);
    assert_int_equal(used_keys, used);
    assert_int_equal(k.nfields, 0);
    assert_null(k.fields);
    if (used >= 0) {
        assert_string_equal(k.table, r->table);
        assert_string_equal(k.id, r->id);
        assert_int_equal(k.seq, r->seq);
        assert_int_equal(k.deleted, r->deleted);
        assert_int_equal(stamp_cmp(&k.st, &r->st), 0);
    }
    return used;
}

static void test_decode_every_prefix_fails(void **state)
{
    (void)state;
    struct row a, b;
    uint8_t *buf;
    size_t len;
    sample_row(&a);
    encode_ok(&a, &buf, &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);  /* exact size: ASan sees overreads */
        assert_non_null(copy);
        memcpy(copy, buf, n);
        assert_int_equal(decode_both(copy, n, &b), -1);
        assert_int_equal(b.nfields, 0);
        assert_null(b.fields);
        free(copy);
    }
    free(buf);
    row_free(&a);
}

/* Builds a two-field row by hand to corrupt specific parts. */
static size_t put_str(uint8_t *p, const char *s, size_t n)
{
    p[0] = (uint8_t)(n >> 8);
    p[1] = (uint8_t)n;
    memcpy(p + 2, s, n);
    return n + 2;
}

static size_t put_zero_stamp(uint8_t *p)
{
    memset(p, 0, 18);
    return 18;
}

static size_t hand_row(uint8_t *p, const char *f1, const char *f2, uint8_t flags, uint16_t nf)
{
    size_t o = 0;
    o += put_str(p + o, "orders", 6);
    o += put_str(p + o, "o1", 2);
    p[o++] = flags;
    o += put_zero_stamp(p + o);
    o += put_zero_stamp(p + o);
    memset(p + o, 0, 8);
    o += 8;
    p[o++] = (uint8_t)(nf >> 8);
    p[o++] = (uint8_t)nf;
    o += put_str(p + o, f1, strlen(f1));
    o += put_str(p + o, "v", 1);
    o += put_zero_stamp(p + o);
    o += put_str(p + o, f2, strlen(f2));
    o += put_str(p + o, "w", 1);
    o += put_zero_stamp(p + o);
    return o;
}

static void test_decode_rejects_corruption(void **state)
{
    (void)state;
    uint8_t p[256];
    struct row r;
    size_t n = hand_row(p, "a", "b", 0, 2);
    assert_int_equal(decode_both(p, n, &r), (long)n);  /* the control case */
    row_free(&r);
    n = hand_row(p, "b", "a", 0, 2);                    /* unsorted */
    assert_int_equal(decode_both(p, n, &r), -1);
    n = hand_row(p, "a", "a", 0, 2);                    /* duplicate */
    assert_int_equal(decode_both(p, n, &r), -1);
    n = hand_row(p, "a", "b", 0x02, 2);                 /* unknown flag bit */
    assert_int_equal(decode_both(p, n, &r), -1);
    n = hand_row(p, "a", "b", 0, 3);                    /* count past the data */
    assert_int_equal(decode_both(p, n, &r), -1);
    n = hand_row(p, "a", "b", 0, ROW_HARD_FIELDS + 1);  /* count past the cap */
    assert_int_equal(decode_both(p, n, &r), -1);
    n = hand_row(p, "a", "", 0, 2);                     /* empty field name */
    assert_int_equal(decode_both(p, n, &r), -1);
    n = hand_row(p, "a", "bc", 0, 2);
    p[n - 18 - 3 - 1] = 0;                              /* NUL inside a field name */
    assert_int_equal(decode_both(p, n, &r), -1);
    n = hand_row(p, "a", "b", 0, 2);
    p[2] = 0;                                           /* NUL inside the table name */
    assert_int_equal(decode_both(p, n, &r), -1);
    n = hand_row(p, "a", "b", 0, 2);
    p[0] = 0;
    p[1] = 0;                                           /* empty table name */
    assert_int_equal(decode_both(p, n, &r), -1);
    n = hand_row(p, "a", "b", 0, 2);
    p[0] = 0xff;                                        /* table length 65280+ */
    assert_int_equal(decode_both(p, n, &r), -1);
    assert_int_equal(r.nfields, 0);
}

/* Random bytes and random flips of a valid row: never a crash, and a row
 * that decodes re-encodes (the decoder accepted only a valid row). */
static void test_decode_fuzz_no_crash(void **state)
{
    (void)state;
    struct row a, b;
    uint8_t *buf;
    size_t len;
    sample_row(&a);
    encode_ok(&a, &buf, &len);
    xs_state = 0x9e3779b97f4a7c15ULL;
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(copy, buf, len);
        int flips = 1 + (int)(xs_next() % 4);
        for (int k = 0; k < flips; k++)
            copy[xs_next() % len] ^= (uint8_t)(1 + xs_next() % 255);
        size_t n = (size_t)(xs_next() % (len + 1));
        long used = decode_both(copy, n, &b);
        if (used >= 0) {
            uint8_t *re = NULL;
            size_t rlen = 0, rcap = 0;
            assert_true((size_t)used <= n);
            assert_int_equal(row_encode(&b, &re, &rlen, &rcap), 0);
            assert_int_equal(rlen, (size_t)used);
            assert_memory_equal(re, copy, rlen);
            free(re);
        } else {
            assert_int_equal(b.nfields, 0);
        }
        row_free(&b);
    }
    for (int iter = 0; iter < 5000; iter++) {
        uint8_t junk[96];
        size_t n = (size_t)(xs_next() % sizeof junk);
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)xs_next();
        if (decode_both(junk, n, &b) >= 0)
            row_free(&b);
    }
    free(copy);
    free(buf);
    row_free(&a);
}

static void test_row_format(void **state)
{
    (void)state;
    struct row r;
    char buf[128];
    sample_row(&r);
    size_t n = row_format(&r, buf, sizeof buf);
    assert_string_equal(buf, "empty=\"\" n\xc3\xa4me=v\xe2\x80\x94x qty=2 status=\"open now\"");
    assert_int_equal(n, strlen(buf));
    /* truncation writes at most n - 1 bytes and terminates */
    char small[8];
    n = row_format(&r, small, sizeof small);
    assert_int_equal(n, 7);
    assert_int_equal(strlen(small), 7);
    row_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamp_order_s1_1),
        cmocka_unit_test(test_stamp_is_zero),
        cmocka_unit_test(test_fields_sorted_bytewise),
        cmocka_unit_test(test_row_caps),
        cmocka_unit_test(test_copy_and_equal),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_packed_rows_change_like_any_other),
        cmocka_unit_test(test_roundtrip_max_fields),
        cmocka_unit_test(test_encode_refuses_unnamed),
        cmocka_unit_test(test_decode_every_prefix_fails),
        cmocka_unit_test(test_decode_rejects_corruption),
        cmocka_unit_test(test_decode_fuzz_no_crash),
        cmocka_unit_test(test_row_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
