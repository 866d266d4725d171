/*
 * test_oracle_srv.c — the reference model of the server's conflict rules
 * (sim/oracle_srv) on hand-built pushes and server writes: SPEC §1.1, §1.6
 * CONF-1/CONF-2, §1.7 SRV-1/SRV-2, §2 INV-CONVERGE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "oracle_srv.h"

#define U "alice"

/* ---- helpers ---- */

static struct stamp stp(int64_t at, const char *by, uint64_t seq)
{
    struct stamp s;
    memset(&s, 0, sizeof s);
    s.at = at;
    snprintf(s.by, sizeof s.by, "%s", by);
    s.seq = seq;
    return s;
}

/* Every table the tests use: one per strategy, plus a read-only one. */
static struct srv_oracle *mk_oracle(void)
{
    static const struct { const char *name; enum strategy s; bool ro; } t[] = {
        {"lww", STRAT_LWW, false},       {"merge", STRAT_MERGE, false},
        {"remote", STRAT_REMOTE, false}, {"local", STRAT_LOCAL, false},
        {"manual", STRAT_MANUAL, false}, {"products", STRAT_LWW, true},
    };
    struct table_decl d[6];
    memset(d, 0, sizeof d);
    for (int i = 0; i < 6; i++) {
        snprintf(d[i].name, sizeof d[i].name, "%s", t[i].name);
        d[i].strategy = t[i].s;
        d[i].read_only = t[i].ro;
    }
    struct srv_oracle *o = srvo_new(d, 6);
    assert_non_null(o);
    return o;
}

/* Set "k=v" pairs (space separated) with stamp st on r. */
static void set_kv(struct row *r, const char *kvs, const struct stamp *st)
{
    char buf[8192];
    snprintf(buf, sizeof buf, "%s", kvs);
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = '\0';
        assert_int_equal(row_set(r, tok, eq + 1, st), 0);
    }
}

/* A push from op "dev:seq": `old` fields keep an older stamp (not in the
 * write set), `set` fields are the write set; del: -1 not in the write
 * set, 0 clears, 1 deletes. */
static void mk_push(struct push_item *it, const char *dev, uint64_t opseq,
                    uint64_t base, const char *table, const char *id,
                    int64_t at, const char *old, const char *set, int del)
{
    memset(it, 0, sizeof *it);
    snprintf(it->op_id, sizeof it->op_id, "%s:%llu", dev,
             (unsigned long long)opseq);
    it->base_seq = base;
    row_init(&it->row, table, id);
    it->row.st = stp(at, dev, opseq);
    struct stamp older = stp(1, "server", 0);
    if (old)
        set_kv(&it->row, old, &older);
    if (set)
        set_kv(&it->row, set, &it->row.st);
    if (del >= 0) {
        it->row.deleted = del == 1;
        it->row.del_st = it->row.st;
    }
}

static enum push_outcome push(struct srv_oracle *o, const char *dev,
                              uint64_t opseq, uint64_t base, const char *table,
                              const char *id, int64_t at, const char *old,
                              const char *set, int del)
{
    struct push_item it;
    mk_push(&it, dev, opseq, base, table, id, at, old, set, del);
    enum push_outcome r = srvo_push(o, U, &it);
    row_free(&it.row);
    return r;
}

/* A server write stamped "server" at `at`: fields `set`; del as mk_push. */
static void swrite(struct srv_oracle *o, const char *table, const char *id,
                   int64_t at, const char *set, int del)
{
    struct row w;
    row_init(&w, table, id);
    w.st = stp(at, "server", 0);
    if (set)
        set_kv(&w, set, &w.st);
    if (del >= 0) {
        w.deleted = del == 1;
        w.del_st = w.st;
    }
    srvo_server_write(o, U, &w);
    row_free(&w);
}

static const char *get(struct srv_oracle *o, const char *table, const char *id,
                       const char *field)
{
    const struct row *r = srvo_row(o, U, table, id);
    assert_non_null(r);
    return row_get(r, field);
}

/* ---- CONF-1: lww ---- */

static void test_CONF1_lww_greater_stamp_wins_whole(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    swrite(o, "lww", "c1", 10, "a=0 b=0", -1);                 /* seq 1 */
    assert_int_equal(push(o, "d1", 1, 1, "lww", "c1", 100, "b=0", "a=1", -1),
                     PUSH_APPLIED);                            /* seq 2 */
    /* concurrent and older: stale, nothing changes */
    struct push_item it;
    struct srvo_verdict v;
    mk_push(&it, "d2", 1, 1, "lww", "c1", 50, "a=0", "b=5", -1);
    assert_int_equal(srvo_push_v(o, U, &it, &v), PUSH_STALE);
    assert_true(v.concurrent);
    row_free(&it.row);
    assert_string_equal(get(o, "lww", "c1", "b"), "0");
    assert_int_equal(srvo_seq(o, U), 2);
    /* concurrent and newer: replaces the whole row (its a=0 too) */
    assert_int_equal(push(o, "d2", 2, 1, "lww", "c1", 200, "a=0", "b=7 z=1", -1),
                     PUSH_APPLIED);
    const struct row *r = srvo_row(o, U, "lww", "c1");
    assert_string_equal(row_get(r, "a"), "0");
    assert_string_equal(row_get(r, "b"), "7");
    assert_string_equal(row_get(r, "z"), "1");
    assert_string_equal(r->st.by, "d2");
    assert_int_equal(r->seq, 3);
    srvo_free(o);
}

/* CONF-1: "whether concurrent or not": a device's own later write with a
 * smaller stamp (clock went back) is stale too. */
static void test_CONF1_lww_own_smaller_stamp_stale(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    assert_int_equal(push(o, "d1", 1, 0, "lww", "c1", 500, NULL, "a=1", -1),
                     PUSH_APPLIED);
    assert_int_equal(push(o, "d1", 2, 1, "lww", "c1", 400, NULL, "a=2", -1),
                     PUSH_STALE);
    assert_string_equal(get(o, "lww", "c1", "a"), "1");
    srvo_free(o);
}

/* CONF-1 / INV-CONVERGE: among pushes the result depends only on stamps. */
static void run_two(struct srv_oracle *o, bool swap)
{
    swrite(o, "lww", "c1", 10, "a=0 b=0", -1);
    for (int k = 0; k < 2; k++) {
        if ((k == 0) != swap)
            push(o, "d1", 1, 1, "lww", "c1", 100, "b=0", "a=1", -1);
        else
            push(o, "d2", 1, 1, "lww", "c1", 200, "a=0", "b=2", -1);
    }
}

static void test_CONF1_INV_CONVERGE_lww_arrival_order_independent(void **state)
{
    (void)state;
    struct srv_oracle *a = mk_oracle(), *b = mk_oracle();
    run_two(a, false);
    run_two(b, true);
    const struct row *ra = srvo_row(a, U, "lww", "c1");
    const struct row *rb = srvo_row(b, U, "lww", "c1");
    assert_true(row_equal(ra, rb, false));
    assert_int_equal(stamp_cmp(&ra->st, &rb->st), 0);
    char why[256];
    assert_int_equal(srvo_compare_row(a, U, rb, why, sizeof why), 0);
    assert_string_equal(row_get(ra, "a"), "0");
    assert_string_equal(row_get(ra, "b"), "2");
    srvo_free(a);
    srvo_free(b);
}

/* ---- CONF-2: merge ---- */

static void test_CONF2_merge_different_fields_both_survive(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    swrite(o, "merge", "c1", 10, "a=0 b=0", -1);
    assert_int_equal(push(o, "d1", 1, 1, "merge", "c1", 100, "b=0", "a=1", -1),
                     PUSH_APPLIED);
    /* concurrent, older stamp, but a different field: b wins */
    assert_int_equal(push(o, "d2", 1, 1, "merge", "c1", 90, "a=0", "b=2", -1),
                     PUSH_APPLIED);
    const struct row *r = srvo_row(o, U, "merge", "c1");
    assert_string_equal(row_get(r, "a"), "1");
    assert_string_equal(row_get(r, "b"), "2");
    assert_string_equal(row_field(r, "a")->st.by, "d1");
    assert_string_equal(r->st.by, "d2");       /* the row gets its stamp */
    assert_int_equal(r->seq, 3);
    /* wins no field: stale, nothing changes */
    assert_int_equal(push(o, "d3", 1, 1, "merge", "c1", 50, "b=0", "a=9", -1),
                     PUSH_STALE);
    assert_string_equal(get(o, "merge", "c1", "a"), "1");
    assert_int_equal(srvo_seq(o, U), 3);
    /* wins one of two: applied, sets only the one it won */
    assert_int_equal(push(o, "d3", 2, 1, "merge", "c1", 95, NULL, "a=8 b=8", -1),
                     PUSH_APPLIED);
    assert_string_equal(get(o, "merge", "c1", "a"), "1");
    assert_string_equal(get(o, "merge", "c1", "b"), "8");
    srvo_free(o);
}

/* CONF-2: `deleted` merges like a field; the tombstone keeps its fields. */
static void test_CONF2_merge_delete_and_edit(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    swrite(o, "merge", "c1", 10, "a=0 b=0", -1);
    assert_int_equal(push(o, "d1", 1, 1, "merge", "c1", 300, "a=0 b=0", NULL, 1),
                     PUSH_APPLIED);
    assert_int_equal(push(o, "d2", 1, 1, "merge", "c1", 250, "b=0", "a=5", -1),
                     PUSH_APPLIED);
    const struct row *r = srvo_row(o, U, "merge", "c1");
    assert_true(r->deleted);
    assert_string_equal(row_get(r, "a"), "5");
    /* an older revive loses `deleted` and wins nothing else: stale */
    assert_int_equal(push(o, "d3", 1, 1, "merge", "c1", 200, "a=0 b=0", NULL, 0),
                     PUSH_STALE);
    /* a newer revive wins it */
    assert_int_equal(push(o, "d3", 2, 1, "merge", "c1", 400, "a=0 b=0", NULL, 0),
                     PUSH_APPLIED);
    assert_false(srvo_row(o, U, "merge", "c1")->deleted);
    assert_string_equal(get(o, "merge", "c1", "a"), "5");
    srvo_free(o);
}

/* ---- CONF-2: remote, local, manual ---- */

static void test_CONF2_remote_concurrent_stale(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    swrite(o, "remote", "c1", 10, "a=0", -1);
    /* concurrent with the server write, newer stamp: still stale */
    assert_int_equal(push(o, "d1", 1, 0, "remote", "c1", 999, NULL, "a=1", -1),
                     PUSH_STALE);
    /* not concurrent (base = current seq), older stamp: applies whole */
    assert_int_equal(push(o, "d1", 2, 1, "remote", "c1", 5, NULL, "b=2", -1),
                     PUSH_APPLIED);
    assert_null(get(o, "remote", "c1", "a"));
    assert_string_equal(get(o, "remote", "c1", "b"), "2");
    srvo_free(o);
}

static void test_CONF2_local_always_applies(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    swrite(o, "local", "c1", 1000, "a=0", -1);
    struct push_item it;
    struct srvo_verdict v;
    mk_push(&it, "d1", 1, 0, "local", "c1", 5, NULL, "a=1", -1);
    assert_int_equal(srvo_push_v(o, U, &it, &v), PUSH_APPLIED);
    assert_true(v.concurrent);
    row_free(&it.row);
    assert_string_equal(get(o, "local", "c1", "a"), "1");
    srvo_free(o);
}

static void test_CONF2_manual_concurrent_conflict(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    swrite(o, "manual", "c1", 10, "a=0", -1);
    assert_int_equal(push(o, "d1", 1, 0, "manual", "c1", 999, NULL, "a=1", -1),
                     PUSH_CONFLICT);
    assert_string_equal(get(o, "manual", "c1", "a"), "0");
    assert_int_equal(srvo_seq(o, U), 1);
    assert_int_equal(push(o, "d1", 2, 1, "manual", "c1", 20, NULL, "a=2", -1),
                     PUSH_APPLIED);
    assert_string_equal(get(o, "manual", "c1", "a"), "2");
    srvo_free(o);
}

/* §1.6: no current row → every strategy applies. */
static void test_CONF2_new_row_applies_under_every_strategy(void **state)
{
    (void)state;
    static const char *const t[] = {"lww", "merge", "remote", "local", "manual"};
    struct srv_oracle *o = mk_oracle();
    for (int i = 0; i < 5; i++) {
        assert_int_equal(push(o, "d1", (uint64_t)i + 1, 0, t[i], "n", 1,
                              "old=1", "a=1", -1), PUSH_APPLIED);
        assert_string_equal(get(o, t[i], "n", "old"), "1");  /* whole row */
    }
    assert_int_equal(srvo_seq(o, U), 5);
    srvo_free(o);
}

/* §1.6: a device's own earlier writes never make its later ones concurrent. */
static void test_CONF2_own_writer_never_concurrent(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    struct srvo_verdict v;
    struct push_item it;
    swrite(o, "manual", "c1", 10, "a=0", -1);                  /* seq 1 */
    assert_int_equal(push(o, "d1", 1, 1, "manual", "c1", 20, NULL, "a=1", -1),
                     PUSH_APPLIED);                            /* seq 2 */
    /* base 1 < seq 2, but d1 made seq 2 */
    mk_push(&it, "d1", 2, 1, "manual", "c1", 30, NULL, "a=2", -1);
    assert_int_equal(srvo_push_v(o, U, &it, &v), PUSH_APPLIED);
    assert_false(v.concurrent);
    row_free(&it.row);
    /* another device with an old base is concurrent */
    mk_push(&it, "d2", 1, 1, "manual", "c1", 40, NULL, "a=3", -1);
    assert_int_equal(srvo_push_v(o, U, &it, &v), PUSH_CONFLICT);
    assert_true(v.concurrent);
    row_free(&it.row);
    /* with base = current seq it is not */
    assert_int_equal(push(o, "d2", 2, 3, "manual", "c1", 40, NULL, "a=3", -1),
                     PUSH_APPLIED);
    srvo_free(o);
}

/* ---- §1.1 tombstones, server writes ---- */

static void test_INV_CONVERGE_tombstone_keeps_fields(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    swrite(o, "lww", "c1", 10, "a=0 b=0", -1);
    assert_int_equal(push(o, "d1", 1, 1, "lww", "c1", 100, "a=0 b=0", NULL, 1),
                     PUSH_APPLIED);
    const struct row *r = srvo_row(o, U, "lww", "c1");
    assert_true(r->deleted);
    assert_int_equal(r->nfields, 2);
    char why[256];
    struct row s;
    row_init(&s, "lww", "c1");
    s.deleted = true;
    assert_int_equal(srvo_compare_row(o, U, &s, why, sizeof why), 1);
    assert_non_null(strstr(why, "field a"));
    struct stamp st = stp(1, "x", 0);
    set_kv(&s, "a=0 b=0", &st);
    assert_int_equal(srvo_compare_row(o, U, &s, why, sizeof why), 0);
    row_free(&s);
    srvo_free(o);
}

static void test_CONF1_server_write_overrides(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    assert_int_equal(push(o, "d1", 1, 0, "lww", "c1", 1000, NULL, "a=1 b=1", -1),
                     PUSH_APPLIED);
    swrite(o, "lww", "c1", 5, "a=9", -1);   /* older stamp: applies anyway */
    const struct row *r = srvo_row(o, U, "lww", "c1");
    assert_string_equal(row_get(r, "a"), "9");
    assert_string_equal(row_get(r, "b"), "1");          /* a patch */
    assert_string_equal(r->st.by, "server");
    assert_int_equal(r->seq, 2);
    swrite(o, "lww", "c1", 6, NULL, 1);                  /* server delete */
    assert_true(srvo_row(o, U, "lww", "c1")->deleted);
    assert_string_equal(get(o, "lww", "c1", "b"), "1");
    swrite(o, "lww", "c1", 7, "c=3", -1);   /* §1.1: clears the tombstone */
    assert_false(srvo_row(o, U, "lww", "c1")->deleted);
    /* the server write is the last writer: d1 with base 1 is concurrent */
    assert_int_equal(push(o, "d1", 2, 1, "manual", "c1", 2000, NULL, "a=1", -1),
                     PUSH_APPLIED);                       /* other table: new */
    swrite(o, "manual", "c1", 8, "a=2", -1);
    assert_int_equal(push(o, "d1", 3, 5, "manual", "c1", 2001, NULL, "a=3", -1),
                     PUSH_CONFLICT);
    srvo_free(o);
}

/* ---- SRV-1 / SRV-2 ---- */

static void test_SRV1_rejected_changes_nothing(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    struct push_item it;
    struct srvo_verdict v;
    mk_push(&it, "d1", 1, 0, "nosuch", "c1", 1, NULL, "a=1", -1);
    assert_int_equal(srvo_push_v(o, U, &it, &v), PUSH_REJECTED);
    assert_int_equal(v.reason, REJ_INVALID);
    row_free(&it.row);
    mk_push(&it, "d1", 1, 0, "products", "p1", 1, NULL, "a=1", -1);
    assert_int_equal(srvo_push_v(o, U, &it, &v), PUSH_REJECTED);
    assert_int_equal(v.reason, REJ_READ_ONLY);
    row_free(&it.row);
    /* 33 fields: invalid */
    mk_push(&it, "d1", 1, 0, "lww", "c1", 1, NULL, NULL, -1);
    char k[8];
    for (int i = 0; i < 33; i++) {
        snprintf(k, sizeof k, "f%02d", i);
        assert_int_equal(row_set(&it.row, k, "v", &it.row.st), 0);
    }
    assert_int_equal(srvo_push_v(o, U, &it, &v), PUSH_REJECTED);
    assert_int_equal(v.reason, REJ_INVALID);
    row_free(&it.row);
    /* 4097 bytes of names + values: too large; 4096 is fine */
    static char big[4200];
    memset(big, 'x', 4095);
    big[4095] = '\0';
    mk_push(&it, "d1", 1, 0, "lww", "c1", 1, NULL, NULL, -1);
    assert_int_equal(row_set(&it.row, "ab", big + 1, &it.row.st), 0); /* 4096 */
    struct push_item it2;
    mk_push(&it2, "d1", 1, 0, "lww", "c1", 1, NULL, NULL, -1);
    assert_int_equal(row_set(&it2.row, "ab", big, &it2.row.st), 0);   /* 4097 */
    assert_int_equal(srvo_push_v(o, U, &it2, &v), PUSH_REJECTED);
    assert_int_equal(v.reason, REJ_TOO_LARGE);
    assert_int_equal(srvo_seq(o, U), 0);
    assert_null(srvo_row(o, U, "lww", "c1"));
    /* SRV-2: the rejected op id was not recorded, so it is judged again */
    assert_int_equal(srvo_push_v(o, U, &it, &v), PUSH_APPLIED);
    assert_false(v.duplicate);
    assert_int_equal(srvo_seq(o, U), 1);
    row_free(&it.row);
    row_free(&it2.row);
    srvo_free(o);
}

static void test_SRV2_op_id_applies_once(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    struct push_item it;
    struct srvo_verdict v;
    mk_push(&it, "d1", 1, 0, "lww", "c1", 100, NULL, "a=1", -1);
    assert_int_equal(srvo_push(o, U, &it), PUSH_APPLIED);
    swrite(o, "lww", "c1", 200, "a=2", -1);
    assert_int_equal(srvo_push_v(o, U, &it, &v), PUSH_APPLIED);
    assert_true(v.duplicate);
    assert_string_equal(get(o, "lww", "c1", "a"), "2");
    assert_int_equal(srvo_seq(o, U), 2);
    /* another user has its own op ids and sequence */
    assert_int_equal(srvo_push_v(o, "bob", &it, &v), PUSH_APPLIED);
    assert_false(v.duplicate);
    assert_int_equal(srvo_seq(o, "bob"), 1);
    row_free(&it.row);
    srvo_free(o);
}

/* A migration: the table's strategy changes from now on. */
static void test_CONF2_add_table_migration(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    swrite(o, "lww", "c1", 10, "a=0", -1);
    struct table_decl d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "lww");
    d.strategy = STRAT_MANUAL;
    srvo_add_table(o, &d);
    assert_int_equal(push(o, "d1", 1, 0, "lww", "c1", 99, NULL, "a=1", -1),
                     PUSH_CONFLICT);
    snprintf(d.name, sizeof d.name, "extra");
    d.strategy = STRAT_LWW;
    srvo_add_table(o, &d);
    assert_int_equal(push(o, "d1", 2, 0, "extra", "e1", 99, NULL, "a=1", -1),
                     PUSH_APPLIED);
    srvo_free(o);
}

/* ---- INV-CONVERGE: comparison ---- */

static void test_INV_CONVERGE_compare_and_missing(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    char why[256];
    swrite(o, "lww", "c1", 10, "a=0 b=0", -1);
    swrite(o, "lww", "c2", 10, "a=0", -1);
    struct stamp st = stp(1, "server", 0);
    struct row s;
    row_init(&s, "lww", "c1");
    set_kv(&s, "a=0 b=1", &st);
    assert_int_equal(srvo_compare_row(o, U, &s, why, sizeof why), 1);
    assert_non_null(strstr(why, "lww/c1 field b: server \"1\", reference \"0\""));
    row_free(&s);
    row_init(&s, "lww", "c1");
    set_kv(&s, "a=0 b=0 c=2", &st);             /* a field the reference lacks */
    assert_int_equal(srvo_compare_row(o, U, &s, why, sizeof why), 1);
    assert_non_null(strstr(why, "field c: server \"2\", reference (absent)"));
    row_free(&s);
    row_init(&s, "lww", "c1");
    set_kv(&s, "a=0 b=0", &st);
    s.deleted = true;
    assert_int_equal(srvo_compare_row(o, U, &s, why, sizeof why), 1);
    assert_non_null(strstr(why, "deleted"));
    s.deleted = false;
    assert_int_equal(srvo_compare_row(o, U, &s, why, sizeof why), 0);
    row_free(&s);
    row_init(&s, "lww", "zz");                  /* the reference has none */
    assert_int_equal(srvo_compare_row(o, U, &s, why, sizeof why), 1);
    assert_non_null(strstr(why, "reference has none"));
    row_free(&s);
    assert_int_equal(srvo_missing(o, U, why, sizeof why), 1);
    assert_non_null(strstr(why, "lww/c2"));
    /* the marks were cleared: a new round reports c1 first */
    assert_int_equal(srvo_missing(o, U, why, sizeof why), 1);
    assert_non_null(strstr(why, "lww/c1"));
    assert_int_equal(srvo_missing(o, "nobody", why, sizeof why), 0);
    srvo_free(o);
}

/* Many rows and op ids (sorted inserts, hash growth), deterministic order. */
static void test_SRV1_many_rows_and_ops(void **state)
{
    (void)state;
    struct srv_oracle *o = mk_oracle();
    char id[16], dev[16], why[256];
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "r%03d", (i * 7919) % 500);
        snprintf(dev, sizeof dev, "d%d", i % 3);
        push(o, dev, (uint64_t)i + 1, 0, "lww", id, 10 + i, NULL, "a=1", -1);
    }
    assert_int_equal(srvo_seq(o, U), 3000);      /* stamps grow: all applied */
    for (int i = 499; i >= 1; i--) {
        snprintf(id, sizeof id, "r%03d", i);
        const struct row *r = srvo_row(o, U, "lww", id);
        assert_non_null(r);
        assert_int_equal(srvo_compare_row(o, U, r, why, sizeof why), 0);
    }
    assert_int_equal(srvo_missing(o, U, why, sizeof why), 1);
    assert_non_null(strstr(why, "lww/r000"));
    srvo_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_CONF1_lww_greater_stamp_wins_whole),
        cmocka_unit_test(test_CONF1_lww_own_smaller_stamp_stale),
        cmocka_unit_test(test_CONF1_INV_CONVERGE_lww_arrival_order_independent),
        cmocka_unit_test(test_CONF2_merge_different_fields_both_survive),
        cmocka_unit_test(test_CONF2_merge_delete_and_edit),
        cmocka_unit_test(test_CONF2_remote_concurrent_stale),
        cmocka_unit_test(test_CONF2_local_always_applies),
        cmocka_unit_test(test_CONF2_manual_concurrent_conflict),
        cmocka_unit_test(test_CONF2_new_row_applies_under_every_strategy),
        cmocka_unit_test(test_CONF2_own_writer_never_concurrent),
        cmocka_unit_test(test_INV_CONVERGE_tombstone_keeps_fields),
        cmocka_unit_test(test_CONF1_server_write_overrides),
        cmocka_unit_test(test_SRV1_rejected_changes_nothing),
        cmocka_unit_test(test_SRV2_op_id_applies_once),
        cmocka_unit_test(test_CONF2_add_table_migration),
        cmocka_unit_test(test_INV_CONVERGE_compare_and_missing),
        cmocka_unit_test(test_SRV1_many_rows_and_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
