/*
 * test_store.c — the store's memo (model/store.h): settings and counts are
 * answered from memory, but never differ from what SQLite holds — after
 * writes, rollbacks, failed transactions and changes behind its back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "row.h"
#include "store.h"

struct fx {
    sqlite3 *db;
    struct store *st;
};

static int setup(void **state)
{
    static struct fx f;
    memset(&f, 0, sizeof f);
    assert_int_equal(sqlite3_open(":memory:", &f.db), SQLITE_OK);
    struct table_decl t[MAX_TABLES];
    int n = table_defaults(t, MAX_TABLES);
    char err[256];
    f.st = store_open(f.db, t, n, err, sizeof err);
    assert_non_null(f.st);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    sqlite3_close(f->db);
    return 0;
}

static int64_t sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Every count the store answers equals SQLite's own. */
static void assert_counts_true(struct fx *f)
{
    assert_int_equal(store_outbox_count(f->st), sql_int(f->db, "SELECT COUNT(*) FROM outbox"));
    assert_int_equal(store_deadletter_count(f->st), sql_int(f->db, "SELECT COUNT(*) FROM deadletters"));
    assert_int_equal(store_conflict_count(f->st, false), sql_int(f->db, "SELECT COUNT(*) FROM conflicts"));
    assert_int_equal(store_conflict_count(f->st, true),
                     sql_int(f->db, "SELECT COUNT(*) FROM conflicts WHERE resolved=0"));
    /* the max seq is an upper bound of every item (store.h) */
    assert_true(store_outbox_max_seq(f->st) >= sql_int(f->db, "SELECT COALESCE(MAX(seq),0) FROM outbox"));
}

static void append(struct fx *f, const char *op, const char *id)
{
    struct row r;
    row_init(&r, "customers", id);
    struct stamp st = { .at = 1, .seq = 1 };
    snprintf(st.by, sizeof st.by, "phone");
    assert_int_equal(row_set(&r, "name", op, &st), 0);
    assert_int_equal(store_outbox_append(f->st, op, &r, 0), 0);
    row_free(&r);
}

static void test_settings_memo_follows_writes_and_rollback(void **state)
{
    struct fx *f = *state;
    int64_t v = 0;
    char buf[64];
    assert_int_equal(store_get_int(f->st, "cursor", &v), 0);
    assert_int_equal(store_set_int(f->st, "cursor", 7), 0);
    assert_int_equal(store_get_int(f->st, "cursor", &v), 1);
    assert_int_equal(v, 7);
    assert_int_equal(sql_int(f->db, "SELECT v FROM settings WHERE k='cursor'"), 7);
    /* a rolled-back write is forgotten, not answered */
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(store_set_int(f->st, "cursor", 9), 0);
    assert_int_equal(store_set_text(f->st, "holder", "manual"), 0);
    store_rollback(f->st);
    assert_int_equal(store_get_int(f->st, "cursor", &v), 1);
    assert_int_equal(v, 7);
    assert_int_equal(store_get_text(f->st, "holder", buf, sizeof buf), 0);
    /* set, delete, set again: each reaches SQLite */
    assert_int_equal(store_set_text(f->st, "holder", "manual"), 0);
    assert_int_equal(sql_int(f->db, "SELECT COUNT(*) FROM settings WHERE k='holder'"), 1);
    assert_int_equal(store_del(f->st, "holder"), 0);
    assert_int_equal(sql_int(f->db, "SELECT COUNT(*) FROM settings WHERE k='holder'"), 0);
    assert_int_equal(store_del(f->st, "holder"), 0);
    assert_int_equal(store_set_text(f->st, "holder", "initial"), 0);
    assert_int_equal(store_get_text(f->st, "holder", buf, sizeof buf), 1);
    assert_string_equal(buf, "initial");
    /* a value too long to remember is still stored and read back whole */
    char longv[300];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = 0;
    char got[400];
    assert_int_equal(store_set_text(f->st, "token", longv), 0);
    assert_int_equal(store_get_text(f->st, "token", got, sizeof got), 1);
    assert_string_equal(got, longv);
    /* a key too long to remember works too */
    assert_int_equal(store_set_int(f->st, "a_rather_long_settings_key", 3), 0);
    assert_int_equal(store_get_int(f->st, "a_rather_long_settings_key", &v), 1);
    assert_int_equal(v, 3);
}

static void test_settings_changed_behind_the_back_need_forget(void **state)
{
    struct fx *f = *state;
    int64_t v = 0;
    assert_int_equal(store_set_int(f->st, "op_seq", 4), 0);
    assert_int_equal(sqlite3_exec(f->db, "UPDATE settings SET v=5 WHERE k='op_seq'", NULL, NULL, NULL), SQLITE_OK);
    store_forget(f->st);
    assert_int_equal(store_get_int(f->st, "op_seq", &v), 1);
    assert_int_equal(v, 5);
    /* the memo knows 5 now: setting 5 again is a no-op, setting 4 is not */
    assert_int_equal(store_set_int(f->st, "op_seq", 4), 0);
    assert_int_equal(sql_int(f->db, "SELECT v FROM settings WHERE k='op_seq'"), 4);
}

static void test_counts_memo_equals_sqlite_through_every_change(void **state)
{
    struct fx *f = *state;
    assert_counts_true(f);
    assert_int_equal(store_begin(f->st), 0);
    append(f, "phone:1", "c1");
    append(f, "phone:2", "c2");
    append(f, "phone:3", "c1");
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_outbox_count(f->st), 3);
    assert_counts_true(f);
    int64_t max = store_outbox_max_seq(f->st);
    assert_int_equal(store_outbox_remove(f->st, "phone:3"), 0);   /* the newest */
    assert_int_equal(store_outbox_remove(f->st, "nosuch"), 0);
    assert_counts_true(f);
    append(f, "phone:4", "c4");
    assert_true(store_outbox_max_seq(f->st) > max);   /* later items are above it */
    assert_int_equal(store_deadletter(f->st, "phone:1", "rejected"), 0);
    assert_int_equal(store_deadletter_count(f->st), 1);
    assert_counts_true(f);
    assert_int_equal(store_requeue(f->st), 0);
    assert_int_equal(store_deadletter_count(f->st), 0);
    assert_counts_true(f);
    /* conflicts: added open and resolved, then resolved */
    struct row r;
    row_init(&r, "customers", "c1");
    assert_int_equal(store_conflict_add(f->st, &r, "update", "name", "", false), 0);
    assert_int_equal(store_conflict_add(f->st, &r, "update", "name", "server", true), 0);
    assert_counts_true(f);
    assert_int_equal(store_conflict_count(f->st, true), 1);
    assert_int_equal(store_conflict_resolve(f->st, "customers", "c1", "local"), 0);
    assert_int_equal(store_conflict_count(f->st, true), 0);
    assert_counts_true(f);
    /* a rolled-back transaction leaves no trace in the counts */
    assert_int_equal(store_begin(f->st), 0);
    append(f, "phone:5", "c5");
    assert_int_equal(store_conflict_add(f->st, &r, "delete", "", "", false), 0);
    assert_int_equal(store_deadletter(f->st, "phone:2", "retries"), 0);
    store_rollback(f->st);
    assert_counts_true(f);
    assert_int_equal(store_outbox_count(f->st), 3);
    /* another user: the conflicts go */
    assert_int_equal(store_clear_user_data(f->st), 0);
    assert_counts_true(f);
    row_free(&r);
}

/* store_preload: after it, a key the memo lacks is absent — unless some
 * setting could not be remembered, which must then still be read whole. */
static void test_preload_knows_absence_only_when_complete(void **state)
{
    struct fx *f = *state;
    int64_t v = 0;
    char buf[400];
    assert_int_equal(store_set_int(f->st, "cursor", 7), 0);
    assert_int_equal(store_set_text(f->st, "user", "alice"), 0);
    assert_int_equal(store_preload(f->st), 0);
    assert_int_equal(store_get_int(f->st, "cursor", &v), 1);
    assert_int_equal(v, 7);
    assert_int_equal(store_get_text(f->st, "user", buf, sizeof buf), 1);
    assert_string_equal(buf, "alice");
    assert_int_equal(store_get_int(f->st, "hlc", &v), 0);
    assert_int_equal(store_del(f->st, "holder"), 0);
    /* a value too long for the memo: preload is not complete */
    char longv[300];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = 0;
    assert_int_equal(store_set_text(f->st, "token", longv), 0);
    assert_int_equal(store_preload(f->st), 0);
    assert_int_equal(store_get_text(f->st, "token", buf, sizeof buf), 1);
    assert_string_equal(buf, longv);
    /* complete again without it; then a long value written afterwards is
     * not taken for absent either */
    assert_int_equal(store_del(f->st, "token"), 0);
    assert_int_equal(store_preload(f->st), 0);
    assert_int_equal(store_get_text(f->st, "token", buf, sizeof buf), 0);
    assert_int_equal(store_set_text(f->st, "token", longv), 0);
    assert_int_equal(store_get_text(f->st, "token", buf, sizeof buf), 1);
    assert_string_equal(buf, longv);
    /* and a rollback forgets what preload knew */
    assert_int_equal(store_preload(f->st), 0);
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(store_set_int(f->st, "hlc", 5), 0);
    store_rollback(f->st);
    assert_int_equal(store_get_int(f->st, "hlc", &v), 0);
    assert_int_equal(sql_int(f->db, "SELECT COUNT(*) FROM settings WHERE k='hlc'"), 0);
}

/* OUT-3: a batch is a seq range; a transport failure counts one attempt on
 * every item of it still in the outbox, and on nothing else. */
static void test_out3_batch_range_bump(void **state)
{
    struct fx *f = *state;
    append(f, "phone:1", "a");
    append(f, "phone:2", "b");
    append(f, "phone:3", "c");
    append(f, "phone:4", "d");
    struct push_item items[3];
    int64_t range[2];
    int64_t max = store_outbox_max_seq(f->st);
    assert_int_equal(store_outbox_batch(f->st, 3, max, items, range), 3);
    for (int i = 0; i < 3; i++) row_free(&items[i].row);
    assert_string_equal(items[0].op_id, "phone:1");
    assert_string_equal(items[2].op_id, "phone:3");
    assert_true(range[0] < range[1]);
    /* an item of the batch settled meanwhile, one written after it */
    assert_int_equal(store_outbox_remove(f->st, "phone:2"), 0);
    append(f, "phone:5", "e");
    char over[3][OP_ID_MAX + 1];
    for (int attempt = 1; attempt < 5; attempt++)
        assert_int_equal(store_outbox_bump_range(f->st, range[0], range[1], 5, over, 3), 0);
    assert_int_equal(store_outbox_bump_range(f->st, range[0], range[1], 5, over, 3), 2);
    assert_string_equal(over[0], "phone:1");
    assert_string_equal(over[1], "phone:3");
    assert_int_equal(sql_int(f->db, "SELECT retries FROM outbox WHERE op_id='phone:1'"), 5);
    assert_int_equal(sql_int(f->db, "SELECT retries FROM outbox WHERE op_id='phone:4'"), 0);
    assert_int_equal(sql_int(f->db, "SELECT retries FROM outbox WHERE op_id='phone:5'"), 0);
    /* cap bounds what is reported, not what is counted */
    assert_int_equal(store_outbox_bump_range(f->st, range[0], range[1], 5, over, 1), 1);
    assert_int_equal(sql_int(f->db, "SELECT retries FROM outbox WHERE op_id='phone:3'"), 6);
    assert_counts_true(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_settings_memo_follows_writes_and_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_changed_behind_the_back_need_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_memo_equals_sqlite_through_every_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preload_knows_absence_only_when_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out3_batch_range_bump, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
