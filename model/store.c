/*
 * store.c — the device's local database (see store.h).
 *
 * Rows of every synced table live in one generic table keyed by (tbl, id),
 * holding the row in row_encode form: scenarios declare tables at run time
 * and migrations add them (COORD-10), so a per-table SQL schema would buy
 * nothing. Prepared statements are cached per SQL text slot.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    Q_GET_SET, Q_ALL_SET, Q_SET_SET, Q_DEL_SET, Q_TABLES, Q_ADD_TABLE, Q_SAVE_PROG, Q_GET_ROW,
    Q_PUT_ROW, Q_PUT_NEWER, Q_SET_BASE, Q_OB_APPEND, Q_OB_BATCH, Q_OB_MAX, Q_OB_COUNT, Q_OB_PENDING,
    Q_OB_REMOVE, Q_OB_BUMP, Q_OB_OVER, Q_DL_INSERT, Q_DL_COUNT, Q_ROWS_ALL, Q_OPS, Q_DL_ROW,
    Q_OB_GET, Q_CF_ADD, Q_CF_COUNT, Q_CF_COUNT_OPEN, Q_CF_OPEN, Q_CF_LIST, Q_CF_RESOLVE,
    Q_REQUEUE, Q_DL_CLEAR, Q_ROWS_CLEAR, Q_CF_CLEAR, Q_PROG_RESET, Q_SET_CLEAR_USER,
    Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_SP_BEGIN, Q_SP_RELEASE, Q_SP_ROLLBACK, Q_COUNT
};

/* What the store remembers between calls, so that the hot path (every
 * run persists its holder, every status reads four counts, every run
 * bounds its push) does not ask SQLite again. Write-through: SQLite stays
 * the truth; the memo only answers reads and skips writes that would not
 * change anything. Forgotten whenever a transaction rolls back, a statement
 * fails, or the database changed behind the store's back (store_forget). */
#define MEMO_SETTINGS 16
#define MEMO_KEY 16                  /* longer keys are never remembered */
#define MEMO_TEXT 128                /* nor longer text values */

enum memo_kind { MK_ABSENT, MK_INT, MK_TEXT };

struct memo_setting {
    char key[MEMO_KEY];
    enum memo_kind kind;
    int64_t i;
    char text[MEMO_TEXT];
};

enum { MC_OUTBOX, MC_DEAD, MC_CONFLICTS, MC_OPEN, MC_OB_MAX, MC_COUNT };

struct store {
    sqlite3 *db;
    sqlite3_stmt *q[Q_COUNT];
    int nset;
    struct memo_setting set[MEMO_SETTINGS];
    bool all_known;                  /* set[] holds every setting (store_preload) */
    bool count_ok[MC_COUNT];
    int64_t count[MC_COUNT];
    bool nested;                     /* store_nested */
    bool in_sp;                      /* a savepoint of ours is open */
};

void store_nested(struct store *s, bool on)
{
    SS_ASSERT(!s->in_sp);
    s->nested = on;
}

void store_forget(struct store *s)
{
    s->nset = 0;
    s->all_known = false;
    memset(s->count_ok, 0, sizeof s->count_ok);
}

static struct memo_setting *memo_find(struct store *s, const char *key)
{
    for (int i = 0; i < s->nset; i++)
        if (strcmp(s->set[i].key, key) == 0) return &s->set[i];
    return NULL;
}

/* The entry for key, made if there is room; NULL when key is too long or
 * the memo is full (the caller then just does not remember). */
static struct memo_setting *memo_slot(struct store *s, const char *key)
{
    struct memo_setting *m = memo_find(s, key);
    if (m) return m;
    if (strlen(key) >= MEMO_KEY || s->nset == MEMO_SETTINGS) {
        s->all_known = false;   /* a setting it cannot hold */
        return NULL;
    }
    m = &s->set[s->nset++];
    str_copy(m->key, sizeof m->key, key);
    return m;
}

static void memo_int(struct store *s, const char *key, int64_t v)
{
    struct memo_setting *m = memo_slot(s, key);
    if (m) { m->kind = MK_INT; m->i = v; }
}

static void memo_text(struct store *s, const char *key, const char *v)
{
    struct memo_setting *m = memo_slot(s, key);
    if (!m) return;
    if (strlen(v) >= MEMO_TEXT) {   /* too long: forget it */
        *m = s->set[--s->nset];
        s->all_known = false;
        return;
    }
    m->kind = MK_TEXT;
    str_copy(m->text, sizeof m->text, v);
}

static void memo_absent(struct store *s, const char *key)
{
    struct memo_setting *m = memo_slot(s, key);
    if (m) m->kind = MK_ABSENT;
}

/* What the memo knows of key: its entry, an absent one when every setting
 * is known and key is not among them, or NULL (ask SQLite). */
static const struct memo_setting *memo_get(struct store *s, const char *key)
{
    static const struct memo_setting absent = { .kind = MK_ABSENT };
    const struct memo_setting *m = memo_find(s, key);
    return m || !s->all_known ? m : &absent;
}

/* A known count moved by d (no effect on an unknown one). */
static void memo_add(struct store *s, int which, int64_t d)
{
    if (s->count_ok[which]) s->count[which] += d;
    SS_ASSERT(!s->count_ok[which] || s->count[which] >= 0);
}

static const char *const schema_v1 =
    "CREATE TABLE IF NOT EXISTS settings(k TEXT PRIMARY KEY, v);"
    "CREATE TABLE IF NOT EXISTS synced_tables(pos INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
    " ro INT NOT NULL, strategy INT NOT NULL, dl_done INT NOT NULL DEFAULT 0,"
    " dl_after INT NOT NULL DEFAULT 0, dl_rows INT NOT NULL DEFAULT 0, dl_total INT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS rows(tbl TEXT NOT NULL, id TEXT NOT NULL, base_seq INT NOT NULL,"
    " data BLOB NOT NULL, PRIMARY KEY(tbl, id));"
    "CREATE TABLE IF NOT EXISTS outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, op_id TEXT UNIQUE NOT NULL,"
    " tbl TEXT NOT NULL, id TEXT NOT NULL, base_seq INT NOT NULL, data BLOB NOT NULL,"
    " retries INT NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS outbox_row ON outbox(tbl, id);"
    "CREATE TABLE IF NOT EXISTS deadletters(seq INTEGER PRIMARY KEY AUTOINCREMENT, op_id TEXT NOT NULL,"
    " tbl TEXT NOT NULL, id TEXT NOT NULL, base_seq INT NOT NULL, data BLOB NOT NULL, reason TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS conflicts(n INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL,"
    " id TEXT NOT NULL, type TEXT NOT NULL, fields TEXT NOT NULL, winner TEXT NOT NULL,"
    " resolved INT NOT NULL, data BLOB NOT NULL);";

static const char *const sql[Q_COUNT] = {
    [Q_GET_SET] = "SELECT v FROM settings WHERE k=?1",
    [Q_ALL_SET] = "SELECT k, v FROM settings",
    [Q_SET_SET] = "INSERT INTO settings(k,v) VALUES(?1,?2) ON CONFLICT(k) DO UPDATE SET v=excluded.v",
    [Q_DEL_SET] = "DELETE FROM settings WHERE k=?1",
    [Q_TABLES] = "SELECT name, ro, strategy, dl_done, dl_after, dl_rows, dl_total FROM synced_tables ORDER BY pos",
    [Q_ADD_TABLE] = "INSERT OR IGNORE INTO synced_tables(name, ro, strategy) VALUES(?1,?2,?3)",
    [Q_SAVE_PROG] = "UPDATE synced_tables SET dl_done=?2, dl_after=?3, dl_rows=?4, dl_total=?5 WHERE name=?1",
    [Q_GET_ROW] = "SELECT data, base_seq FROM rows WHERE tbl=?1 AND id=?2",
    [Q_PUT_ROW] = "INSERT INTO rows(tbl,id,base_seq,data) VALUES(?1,?2,?3,?4)"
                  " ON CONFLICT(tbl,id) DO UPDATE SET base_seq=excluded.base_seq, data=excluded.data",
    [Q_PUT_NEWER] = "INSERT INTO rows(tbl,id,base_seq,data) VALUES(?1,?2,?3,?4)"
                    " ON CONFLICT(tbl,id) DO UPDATE SET base_seq=excluded.base_seq, data=excluded.data"
                    " WHERE excluded.base_seq > rows.base_seq"
                    " OR (excluded.base_seq = rows.base_seq AND excluded.data IS NOT rows.data)",
    [Q_SET_BASE] = "UPDATE rows SET base_seq=?3 WHERE tbl=?1 AND id=?2",
    [Q_OB_APPEND] = "INSERT INTO outbox(op_id,tbl,id,base_seq,data) VALUES(?1,?2,?3,?4,?5)",
    [Q_OB_BATCH] = "SELECT op_id, base_seq, data, seq FROM outbox WHERE seq<=?2 ORDER BY seq LIMIT ?1",
    [Q_OB_MAX] = "SELECT COALESCE(MAX(seq),0) FROM outbox",
    [Q_OB_COUNT] = "SELECT COUNT(*) FROM outbox",
    [Q_OB_PENDING] = "SELECT COUNT(*) FROM outbox WHERE tbl=?1 AND id=?2",
    [Q_OB_REMOVE] = "DELETE FROM outbox WHERE op_id=?1",
    [Q_OB_BUMP] = "UPDATE outbox SET retries=retries+1 WHERE seq BETWEEN ?1 AND ?2",
    [Q_OB_OVER] = "SELECT op_id FROM outbox WHERE seq BETWEEN ?1 AND ?2 AND retries>=?3 ORDER BY seq",
    [Q_DL_INSERT] = "INSERT INTO deadletters(op_id,tbl,id,base_seq,data,reason)"
                    " SELECT op_id,tbl,id,base_seq,data,?2 FROM outbox WHERE op_id=?1",
    [Q_DL_COUNT] = "SELECT COUNT(*) FROM deadletters",
    [Q_ROWS_ALL] = "SELECT r.data FROM rows r JOIN synced_tables t ON t.name=r.tbl ORDER BY t.pos, r.id",
    [Q_OPS] = "SELECT op_id, 0 FROM outbox UNION ALL SELECT op_id, 1 FROM deadletters",
    [Q_DL_ROW] = "SELECT 1 FROM deadletters WHERE tbl=?1 AND id=?2 LIMIT 1",
    [Q_OB_GET] = "SELECT op_id, base_seq, data FROM outbox WHERE op_id=?1",
    [Q_CF_ADD] = "INSERT INTO conflicts(tbl,id,type,fields,winner,resolved,data) VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [Q_CF_COUNT] = "SELECT COUNT(*) FROM conflicts",
    [Q_CF_COUNT_OPEN] = "SELECT COUNT(*) FROM conflicts WHERE resolved=0",
    [Q_CF_OPEN] = "SELECT 1 FROM conflicts WHERE tbl=?1 AND id=?2 AND resolved=0 LIMIT 1",
    [Q_CF_LIST] = "SELECT data FROM conflicts WHERE tbl=?1 AND id=?2 AND resolved=0 ORDER BY n",
    [Q_CF_RESOLVE] = "UPDATE conflicts SET resolved=1, winner=?3 WHERE tbl=?1 AND id=?2 AND resolved=0",
    /* Back at the end of the outbox, in dead-letter order, same op id (the
     * server judges a rejected op again: SRV-2). */
    [Q_REQUEUE] = "INSERT INTO outbox(op_id,tbl,id,base_seq,data,retries)"
                  " SELECT op_id,tbl,id,base_seq,data,0 FROM deadletters ORDER BY seq",
    [Q_DL_CLEAR] = "DELETE FROM deadletters",
    [Q_ROWS_CLEAR] = "DELETE FROM rows",
    [Q_CF_CLEAR] = "DELETE FROM conflicts",
    [Q_PROG_RESET] = "UPDATE synced_tables SET dl_done=0, dl_after=0, dl_rows=0, dl_total=0",
    [Q_SET_CLEAR_USER] = "DELETE FROM settings WHERE k IN ('cursor','init_snapshot','completed_at','hlc')",
    /* Prepared once: every local write, page and ack is a transaction. */
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    /* store_nested: the same units as savepoints in the caller's transaction */
    [Q_SP_BEGIN] = "SAVEPOINT store",
    [Q_SP_RELEASE] = "RELEASE store",
    [Q_SP_ROLLBACK] = "ROLLBACK TO store",
};

static sqlite3_stmt *q(struct store *s, int i)
{
    SS_ASSERT(i >= 0 && i < Q_COUNT);
    if (!s->q[i]) {
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL) != SQLITE_OK)
            return NULL;
    }
    sqlite3_reset(s->q[i]);
    sqlite3_clear_bindings(s->q[i]);
    return s->q[i];
}

/* Runs a statement that returns nothing (or whose rows are ignored). */
static int run_done(sqlite3_stmt *st)
{
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {}
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Runs a statement that returns one integer (0 when no row). */
static int64_t run_int(sqlite3_stmt *st, int *err)
{
    *err = 0;
    if (!st) { *err = 1; return 0; }
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) *err = 1;
    sqlite3_reset(st);
    return v;
}

static void bind_key(sqlite3_stmt *st, const char *table, const char *id)
{
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
}

static int bind_row(sqlite3_stmt *st, int col, const struct row *r)
{
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    if (row_encode(r, &buf, &len, &cap) != 0) { free(buf); return -1; }
    return sqlite3_bind_blob(st, col, buf, (int)len, free) == SQLITE_OK ? 0 : -1;
}

static int column_row(sqlite3_stmt *st, int col, struct row *out)
{
    const void *p = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    return row_decode(p, (size_t)n, out) < 0 ? -1 : 0;
}

static int schema(struct store *s, const struct table_decl *defaults, int n)
{
    int64_t ver = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) ver = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (ver > STORE_SCHEMA_VERSION) return -1;   /* a newer app wrote it: never guess */
    if (ver < 1) {
        if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) return -1;
        if (sqlite3_exec(s->db, schema_v1, NULL, NULL, NULL) != SQLITE_OK) goto fail;
        for (int i = 0; i < n; i++)
            if (store_add_table(s, &defaults[i]) != 0) goto fail;
        if (sqlite3_exec(s->db, "PRAGMA user_version=1; COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto fail;
    }
    return 0;
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

struct store *store_open(sqlite3 *db, const struct table_decl *defaults, int n,
                         char *err, size_t errlen)
{
    SS_ASSERT(db && n >= 0 && n <= MAX_TABLES);
    struct store *s = calloc(1, sizeof *s);
    if (!s) { snprintf(err, errlen, "out of memory"); return NULL; }
    s->db = db;
    /* synchronous=FULL: an acknowledged write survives power loss (INV-DURABLE). */
    if (sqlite3_exec(db, "PRAGMA synchronous=FULL; PRAGMA journal_mode=PERSIST;", NULL, NULL, NULL) != SQLITE_OK
        || schema(s, defaults, n) != 0) {
        snprintf(err, errlen, "device database: %s", sqlite3_errmsg(db));
        store_close(s);
        return NULL;
    }
    return s;
}

void store_close(struct store *s)
{
    if (!s) return;
    for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(s->q[i]);
    free(s);
}

const char *store_errmsg(struct store *s) { return sqlite3_errmsg(s->db); }

int store_begin(struct store *s)
{
    if (!s->nested) {
        SS_ASSERT(sqlite3_get_autocommit(s->db));
        return run_done(q(s, Q_BEGIN));
    }
    SS_ASSERT(!s->in_sp && !sqlite3_get_autocommit(s->db));   /* inside the caller's */
    if (run_done(q(s, Q_SP_BEGIN)) != 0) return -1;
    s->in_sp = true;
    return 0;
}

int store_commit(struct store *s)
{
    if (!s->nested) {
        if (run_done(q(s, Q_COMMIT)) == 0) return 0;
    } else if (s->in_sp && run_done(q(s, Q_SP_RELEASE)) == 0) {
        s->in_sp = false;
        return 0;
    }
    store_rollback(s);
    return -1;
}

void store_rollback(struct store *s)
{
    if (!s->nested) {
        if (!sqlite3_get_autocommit(s->db)) run_done(q(s, Q_ROLLBACK));
        SS_ASSERT(sqlite3_get_autocommit(s->db));
    } else if (s->in_sp) {
        run_done(q(s, Q_SP_ROLLBACK));
        run_done(q(s, Q_SP_RELEASE));
        s->in_sp = false;
    }
    store_forget(s);   /* the memo may hold what was just undone */
}

/* Reads a setting from SQLite and remembers what it found. 1 found (the
 * statement is left on its row for the caller), 0 absent, -1 error. */
static int setting_read(struct store *s, const char *key, sqlite3_stmt **out)
{
    sqlite3_stmt *st = q(s, Q_GET_SET);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) { sqlite3_reset(st); memo_absent(s, key); return 0; }
    if (rc != SQLITE_ROW) { sqlite3_reset(st); store_forget(s); return -1; }
    if (sqlite3_column_type(st, 0) == SQLITE_INTEGER)
        memo_int(s, key, sqlite3_column_int64(st, 0));
    else if (sqlite3_column_type(st, 0) == SQLITE_TEXT)
        memo_text(s, key, (const char *)sqlite3_column_text(st, 0));
    *out = st;
    return 1;
}

int store_preload(struct store *s)
{
    store_forget(s);
    sqlite3_stmt *st = q(s, Q_ALL_SET);
    if (!st) return -1;
    bool complete = true;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        if (!k) { complete = false; continue; }
        if (sqlite3_column_type(st, 1) == SQLITE_INTEGER)
            memo_int(s, k, sqlite3_column_int64(st, 1));
        else if (sqlite3_column_type(st, 1) == SQLITE_TEXT)
            memo_text(s, k, (const char *)sqlite3_column_text(st, 1));
        if (!memo_find(s, k)) complete = false;   /* too long, too many, other type */
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) { store_forget(s); return -1; }
    s->all_known = complete;
    return 0;
}

int store_get_int(struct store *s, const char *key, int64_t *v)
{
    const struct memo_setting *m = memo_get(s, key);
    if (m && m->kind == MK_ABSENT) return 0;
    if (m && m->kind == MK_INT) { *v = m->i; return 1; }
    sqlite3_stmt *st = NULL;
    int found = setting_read(s, key, &st);
    if (found == 1) { *v = sqlite3_column_int64(st, 0); sqlite3_reset(st); }
    return found;
}

int store_get_text(struct store *s, const char *key, char *buf, size_t n)
{
    SS_ASSERT(n > 0);
    const struct memo_setting *m = memo_get(s, key);
    if (m && m->kind == MK_ABSENT) return 0;
    if (m && m->kind == MK_TEXT) { str_copy(buf, n, m->text); return 1; }
    sqlite3_stmt *st = NULL;
    int found = setting_read(s, key, &st);
    if (found == 1) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        str_copy(buf, n, t ? t : "");
        sqlite3_reset(st);
    }
    return found;
}

int store_set_int(struct store *s, const char *key, int64_t v)
{
    const struct memo_setting *m = memo_get(s, key);
    if (m && m->kind == MK_INT && m->i == v) return 0;   /* already so */
    sqlite3_stmt *st = q(s, Q_SET_SET);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    if (run_done(st) != 0) { store_forget(s); return -1; }
    memo_int(s, key, v);
    return 0;
}

int store_set_text(struct store *s, const char *key, const char *v)
{
    const struct memo_setting *m = memo_get(s, key);
    if (m && m->kind == MK_TEXT && strcmp(m->text, v) == 0) return 0;
    sqlite3_stmt *st = q(s, Q_SET_SET);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
    if (run_done(st) != 0) { store_forget(s); return -1; }
    memo_text(s, key, v);
    return 0;
}

int store_del(struct store *s, const char *key)
{
    const struct memo_setting *m = memo_get(s, key);
    if (m && m->kind == MK_ABSENT) return 0;
    sqlite3_stmt *st = q(s, Q_DEL_SET);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (run_done(st) != 0) { store_forget(s); return -1; }
    memo_absent(s, key);
    return 0;
}

int store_tables(struct store *s, struct store_table *out, int cap)
{
    sqlite3_stmt *st = q(s, Q_TABLES);
    if (!st) return -1;
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < cap) {
        struct store_table *t = &out[n++];
        memset(t, 0, sizeof *t);
        str_copy(t->decl.name, sizeof t->decl.name, (const char *)sqlite3_column_text(st, 0));
        t->decl.read_only = sqlite3_column_int(st, 1) != 0;
        t->decl.strategy = (enum strategy)sqlite3_column_int(st, 2);
        t->dl_done = sqlite3_column_int(st, 3) != 0;
        t->dl_after = (uint64_t)sqlite3_column_int64(st, 4);
        t->dl_rows = sqlite3_column_int64(st, 5);
        t->dl_total = sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    return (rc == SQLITE_DONE || rc == SQLITE_ROW) ? n : -1;
}

int store_add_table(struct store *s, const struct table_decl *t)
{
    sqlite3_stmt *st = q(s, Q_ADD_TABLE);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, t->read_only);
    sqlite3_bind_int(st, 3, (int)t->strategy);
    return run_done(st);
}

int store_save_progress(struct store *s, const struct store_table *t)
{
    sqlite3_stmt *st = q(s, Q_SAVE_PROG);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, t->decl.name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, t->dl_done);
    sqlite3_bind_int64(st, 3, (int64_t)t->dl_after);
    sqlite3_bind_int64(st, 4, t->dl_rows);
    sqlite3_bind_int64(st, 5, t->dl_total);
    return run_done(st);
}

int store_reset_progress(struct store *s)
{
    return run_done(q(s, Q_PROG_RESET));
}

int store_get_row(struct store *s, const char *table, const char *id,
                  struct row *out, uint64_t *base_seq)
{
    sqlite3_stmt *st = q(s, Q_GET_ROW);
    if (!st) return -1;
    bind_key(st, table, id);
    int rc = sqlite3_step(st), res = 0;
    if (rc == SQLITE_ROW) {
        res = column_row(st, 0, out) == 0 ? 1 : -1;
        if (base_seq) *base_seq = (uint64_t)sqlite3_column_int64(st, 1);
    } else if (rc != SQLITE_DONE) {
        res = -1;
    }
    sqlite3_reset(st);
    return res;
}

/* Q_PUT_ROW or Q_PUT_NEWER: the same parameters, another conflict rule. */
static int put_row(struct store *s, int qid, const struct row *r, uint64_t base_seq)
{
    sqlite3_stmt *st = q(s, qid);
    if (!st) return -1;
    bind_key(st, r->table, r->id);
    sqlite3_bind_int64(st, 3, (int64_t)base_seq);
    if (bind_row(st, 4, r) != 0) return -1;
    return run_done(st);
}

int store_put_row(struct store *s, const struct row *r, uint64_t base_seq)
{
    return put_row(s, Q_PUT_ROW, r, base_seq);
}

int store_put_row_if_newer(struct store *s, const struct row *r, uint64_t base_seq)
{
    return put_row(s, Q_PUT_NEWER, r, base_seq);
}

int store_set_base_seq(struct store *s, const char *table, const char *id, uint64_t base_seq)
{
    sqlite3_stmt *st = q(s, Q_SET_BASE);
    if (!st) return -1;
    bind_key(st, table, id);
    sqlite3_bind_int64(st, 3, (int64_t)base_seq);
    return run_done(st);
}

int store_clear_rows(struct store *s)
{
    return run_done(q(s, Q_ROWS_CLEAR));
}

int store_foreach_row(struct store *s, int (*fn)(void *arg, const struct row *r), void *arg)
{
    /* The cached statement: fn may call into the store, but not into this
     * function again (that would reset the walk). */
    sqlite3_stmt *st = q(s, Q_ROWS_ALL);
    if (!st) return -1;
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct row r = {0};
        if (column_row(st, 0, &r) != 0) { stop = -1; break; }
        stop = fn(arg, &r);
        row_free(&r);
    }
    sqlite3_reset(st);
    return stop < 0 ? -1 : 0;
}

int store_outbox_append(struct store *s, const char *op_id, const struct row *r, uint64_t base_seq)
{
    sqlite3_stmt *st = q(s, Q_OB_APPEND);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, op_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)base_seq);
    if (bind_row(st, 5, r) != 0) return -1;
    if (run_done(st) != 0) { store_forget(s); return -1; }
    memo_add(s, MC_OUTBOX, 1);
    s->count[MC_OB_MAX] = sqlite3_last_insert_rowid(s->db);
    s->count_ok[MC_OB_MAX] = true;
    return 0;
}

int store_outbox_batch(struct store *s, int limit, int64_t max_seq, struct push_item *items,
                       int64_t range[2])
{
    SS_ASSERT(limit > 0 && limit <= WIRE_MAX_ITEMS);
    range[0] = range[1] = 0;
    sqlite3_stmt *st = q(s, Q_OB_BATCH);
    if (!st) return -1;
    sqlite3_bind_int(st, 1, limit);
    sqlite3_bind_int64(st, 2, max_seq);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
        struct push_item *it = &items[n];
        memset(it, 0, sizeof *it);
        str_copy(it->op_id, sizeof it->op_id, (const char *)sqlite3_column_text(st, 0));
        it->base_seq = (uint64_t)sqlite3_column_int64(st, 1);
        if (column_row(st, 2, &it->row) != 0) { rc = SQLITE_CORRUPT; break; }
        range[1] = sqlite3_column_int64(st, 3);
        if (n == 0) range[0] = range[1];
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        for (int i = 0; i < n; i++) row_free(&items[i].row);
        return -1;
    }
    return n;
}

/* A count from the memo, or from its query (then remembered). */
static int64_t counted(struct store *s, int which, int qid)
{
    if (s->count_ok[which]) return s->count[which];
    int err;
    int64_t v = run_int(q(s, qid), &err);
    if (err) { store_forget(s); return -1; }
    s->count[which] = v;
    s->count_ok[which] = true;
    return v;
}

int64_t store_outbox_max_seq(struct store *s)
{
    return counted(s, MC_OB_MAX, Q_OB_MAX);
}

int store_outbox_count(struct store *s)
{
    return (int)counted(s, MC_OUTBOX, Q_OB_COUNT);
}

int store_outbox_pending(struct store *s, const char *table, const char *id)
{
    sqlite3_stmt *st = q(s, Q_OB_PENDING);
    if (!st) return -1;
    bind_key(st, table, id);
    int err;
    int64_t v = run_int(st, &err);
    return err ? -1 : (int)v;
}

int store_outbox_remove(struct store *s, const char *op_id)
{
    sqlite3_stmt *st = q(s, Q_OB_REMOVE);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, op_id, -1, SQLITE_STATIC);
    if (run_done(st) != 0) { store_forget(s); return -1; }
    /* The max stays an upper bound: AUTOINCREMENT never reuses a seq. */
    memo_add(s, MC_OUTBOX, -sqlite3_changes(s->db));
    return 0;
}

int store_outbox_get(struct store *s, const char *op_id, struct push_item *item)
{
    sqlite3_stmt *st = q(s, Q_OB_GET);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, op_id, -1, SQLITE_STATIC);
    memset(item, 0, sizeof *item);
    int rc = sqlite3_step(st), res = 0;
    if (rc == SQLITE_ROW) {
        str_copy(item->op_id, sizeof item->op_id, (const char *)sqlite3_column_text(st, 0));
        item->base_seq = (uint64_t)sqlite3_column_int64(st, 1);
        res = column_row(st, 2, &item->row) == 0 ? 1 : -1;
    } else if (rc != SQLITE_DONE) {
        res = -1;
    }
    sqlite3_reset(st);
    return res;
}

/* One UPDATE over the batch's seq range, not one per op id: OUT-3's count
 * was a sixth of the coordinator harness's time. */
int store_outbox_bump_range(struct store *s, int64_t lo, int64_t hi, int limit,
                            char (*over)[OP_ID_MAX + 1], int cap)
{
    SS_ASSERT(lo <= hi && cap >= 0);
    sqlite3_stmt *st = q(s, Q_OB_BUMP);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    if (run_done(st) != 0) { store_forget(s); return -1; }
    if (!(st = q(s, Q_OB_OVER))) return -1;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    sqlite3_bind_int(st, 3, limit);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < cap)
        str_copy(over[n++], OP_ID_MAX + 1, (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? n : -1;
}

int store_deadletter(struct store *s, const char *op_id, const char *reason)
{
    sqlite3_stmt *st = q(s, Q_DL_INSERT);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, op_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
    if (run_done(st) != 0) { store_forget(s); return -1; }
    memo_add(s, MC_DEAD, sqlite3_changes(s->db));
    return store_outbox_remove(s, op_id);
}

int store_deadletter_count(struct store *s)
{
    return (int)counted(s, MC_DEAD, Q_DL_COUNT);
}

int store_requeue(struct store *s)
{
    store_forget(s);
    return run_done(q(s, Q_REQUEUE)) || run_done(q(s, Q_DL_CLEAR)) ? -1 : 0;
}

int store_foreach_op(struct store *s, int (*fn)(void *arg, const char *op_id, bool dead), void *arg)
{
    sqlite3_stmt *st = q(s, Q_OPS);   /* as store_foreach_row: no nested walk */
    if (!st) return -1;
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
        stop = fn(arg, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1) != 0);
    sqlite3_reset(st);
    return 0;
}

bool store_row_deadlettered(struct store *s, const char *table, const char *id)
{
    sqlite3_stmt *st = q(s, Q_DL_ROW);
    if (!st) return false;
    bind_key(st, table, id);
    int err;
    return run_int(st, &err) == 1;
}

int store_conflict_add(struct store *s, const struct row *local, const char *type,
                       const char *fields, const char *winner, bool resolved)
{
    sqlite3_stmt *st = q(s, Q_CF_ADD);
    if (!st) return -1;
    bind_key(st, local->table, local->id);
    sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, fields, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, winner, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, resolved);
    if (bind_row(st, 7, local) != 0) return -1;
    if (run_done(st) != 0) { store_forget(s); return -1; }
    memo_add(s, MC_CONFLICTS, 1);
    if (!resolved) memo_add(s, MC_OPEN, 1);
    return 0;
}

int store_conflict_count(struct store *s, bool unresolved_only)
{
    return unresolved_only ? (int)counted(s, MC_OPEN, Q_CF_COUNT_OPEN)
                           : (int)counted(s, MC_CONFLICTS, Q_CF_COUNT);
}

bool store_conflict_open(struct store *s, const char *table, const char *id)
{
    sqlite3_stmt *st = q(s, Q_CF_OPEN);
    if (!st) return false;
    bind_key(st, table, id);
    int err;
    return run_int(st, &err) == 1;
}

int store_conflict_list_open(struct store *s, const char *table, const char *id,
                             struct row *out, int cap)
{
    sqlite3_stmt *st = q(s, Q_CF_LIST);
    if (!st) return -1;
    bind_key(st, table, id);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < cap) {
        memset(&out[n], 0, sizeof out[n]);
        if (column_row(st, 0, &out[n]) != 0) break;
        n++;
    }
    sqlite3_reset(st);
    return n;
}

int store_conflict_resolve(struct store *s, const char *table, const char *id, const char *winner)
{
    sqlite3_stmt *st = q(s, Q_CF_RESOLVE);
    if (!st) return -1;
    bind_key(st, table, id);
    sqlite3_bind_text(st, 3, winner, -1, SQLITE_STATIC);
    if (run_done(st) != 0) { store_forget(s); return -1; }
    memo_add(s, MC_OPEN, -sqlite3_changes(s->db));
    return 0;
}

int store_clear_user_data(struct store *s)
{
    store_forget(s);
    return run_done(q(s, Q_ROWS_CLEAR)) || run_done(q(s, Q_CF_CLEAR)) || run_done(q(s, Q_PROG_RESET))
        || run_done(q(s, Q_SET_CLEAR_USER)) ? -1 : 0;
}
