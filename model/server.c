/*
 * server.c — the sync server (server.h; SPEC §1.6, §1.7).
 *
 * Everything the server knows is in its SQLite database, so a crash is
 * srv_close() + srv_open() (SRV-5). Schema:
 *   srv_tables (name, ord, read_only, strategy)     declared tables, in order
 *   srv_tokens (token, user, device, revoked)       sessions (SPEC §1.8)
 *   srv_seqs   (user, seq)                          latest change sequence per user
 *   srv_rows   (user, tbl, id, seq, row)            one current version per row;
 *                                                   row = row_encode blob
 *   srv_ops    (user, op_id, outcome, concurrent, row)  first result of each op
 *
 * Idempotency (SRV-2, INV-ONCE) is keyed by (user, op_id), not op_id alone:
 * a client of one user can then neither read another user's recorded result
 * (INV-SCOPE) nor poison it by pushing that op id first.
 *
 * A push batch is one transaction: every first-seen result commits together
 * with its change (SRV-2), and an SQLite failure rolls the whole batch back
 * and answers 500, so the device retries and nothing is half-applied. The
 * observer hears about commits only after COMMIT, in commit order.
 *
 * Every query is filtered by the user of the request's token (INV-SCOPE);
 * iteration orders come from ORDER BY only (determinism).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define SRV_MAX_PAGE 1000          /* SRV-3: rows per pull/page response, at most */
#define SRV_RESP_BUDGET (WIRE_MAX_MSG - 65536u)  /* rows stop here: room for the frame */
#define SRV_TOKEN_TRIES 16         /* fresh random tokens tried before giving up */
#define SRV_TOKEN_HEX 32           /* two 64-bit draws */
#define SRV_COUNT_CACHE 32         /* (user, table) row counts kept in memory */
#define SRV_BY_SERVER "server"     /* SPEC §1.1: reserved writer ids */
#define SRV_BY_ERP "erp"

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS srv_tables(name TEXT PRIMARY KEY, ord INTEGER NOT NULL,"
    " read_only INTEGER NOT NULL, strategy INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS srv_tokens(token TEXT PRIMARY KEY, user TEXT NOT NULL,"
    " device TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS srv_tokens_by_device ON srv_tokens(device);"
    "CREATE TABLE IF NOT EXISTS srv_seqs(user TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS srv_rows(user TEXT NOT NULL, tbl TEXT NOT NULL,"
    " id TEXT NOT NULL, seq INTEGER NOT NULL, row BLOB NOT NULL,"
    " PRIMARY KEY(user, tbl, id)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX IF NOT EXISTS srv_rows_by_seq ON srv_rows(user, seq);"
    "CREATE INDEX IF NOT EXISTS srv_rows_by_tbl_seq ON srv_rows(user, tbl, seq);"
    "CREATE TABLE IF NOT EXISTS srv_ops(user TEXT NOT NULL, op_id TEXT NOT NULL,"
    " outcome INTEGER NOT NULL, concurrent INTEGER NOT NULL, row BLOB,"
    " PRIMARY KEY(user, op_id)) WITHOUT ROWID;";

/* Prepared once at open, finalized at close (ARCHITECTURE "Style"). */
enum srv_q {
    Q_BEGIN, Q_BEGIN_READ, Q_COMMIT, Q_ROLLBACK,
    Q_TABLE_PUT, Q_TABLE_ALL,
    Q_TOKEN_PUT, Q_TOKEN_GET, Q_TOKEN_REVOKE,
    Q_SEQ_GET, Q_SEQ_NEXT, Q_SEQ_SET,
    Q_ROW_GET, Q_ROW_PUT, Q_PULL, Q_PAGE, Q_TABLE_COUNT,
    Q_OP_GET, Q_OP_PUT, Q_USERS,
    Q_COUNT
};

static const char *const q_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_BEGIN_READ] = "BEGIN DEFERRED",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_TABLE_PUT] = "INSERT INTO srv_tables(name, ord, read_only, strategy) VALUES(?1,"
                    " (SELECT COALESCE(MAX(ord), 0) + 1 FROM srv_tables), ?2, ?3)"
                    " ON CONFLICT(name) DO UPDATE SET read_only = excluded.read_only,"
                    " strategy = excluded.strategy",
    [Q_TABLE_ALL] = "SELECT name, read_only, strategy FROM srv_tables ORDER BY ord",
    [Q_TOKEN_PUT] = "INSERT OR IGNORE INTO srv_tokens(token, user, device, revoked)"
                    " VALUES(?1, ?2, ?3, 0)",
    [Q_TOKEN_GET] = "SELECT user, device, revoked FROM srv_tokens WHERE token = ?1",
    [Q_TOKEN_REVOKE] = "UPDATE srv_tokens SET revoked = 1 WHERE device = ?1",
    [Q_SEQ_GET] = "SELECT seq FROM srv_seqs WHERE user = ?1",
    [Q_SEQ_NEXT] = "INSERT INTO srv_seqs(user, seq) VALUES(?1, 1)"
                   " ON CONFLICT(user) DO UPDATE SET seq = seq + 1 RETURNING seq",
    [Q_SEQ_SET] = "INSERT INTO srv_seqs(user, seq) VALUES(?1, ?2)"
                  " ON CONFLICT(user) DO UPDATE SET seq = excluded.seq",
    [Q_ROW_GET] = "SELECT seq, row FROM srv_rows WHERE user = ?1 AND tbl = ?2 AND id = ?3",
    [Q_ROW_PUT] = "INSERT OR REPLACE INTO srv_rows(user, tbl, id, seq, row)"
                  " VALUES(?1, ?2, ?3, ?4, ?5)",
    [Q_PULL] = "SELECT seq, row FROM srv_rows WHERE user = ?1 AND seq > ?2"
               " ORDER BY seq LIMIT ?3",
    [Q_PAGE] = "SELECT seq, row FROM srv_rows WHERE user = ?1 AND tbl = ?2 AND seq > ?3"
               " ORDER BY seq LIMIT ?4",
    [Q_TABLE_COUNT] = "SELECT count(*) FROM srv_rows WHERE user = ?1 AND tbl = ?2",
    [Q_OP_GET] = "SELECT outcome, concurrent, row FROM srv_ops WHERE user = ?1 AND op_id = ?2",
    [Q_OP_PUT] = "INSERT INTO srv_ops(user, op_id, outcome, concurrent, row)"
                 " VALUES(?1, ?2, ?3, ?4, ?5)",
    [Q_USERS] = "SELECT user FROM srv_seqs UNION SELECT user FROM srv_tokens"
                " ORDER BY 1 LIMIT ?1",
};

struct srv {
    sqlite3 *db;                         /* borrowed: the caller opens and closes it */
    const struct env *env;
    struct config cfg;
    sqlite3_stmt *q[Q_COUNT];
    int ntables;                         /* cache of srv_tables, rebuilt at open */
    struct table_decl tables[MAX_TABLES];
    srv_observer obs;
    void *obs_arg;
    char err[256];                       /* the last error, with context */
    /* Rows per (user, table), for the table_total of every initial page
     * (INIT-5): counting the index on every page made a download quadratic.
     * Filled on first use, bumped when a row is first stored, emptied when a
     * transaction rolls back (it may have bumped an entry). */
    int ncounts;
    struct srv_count {
        char user[NAME_MAX_LEN + 1];
        char table[NAME_MAX_LEN + 1];
        uint64_t n;
    } counts[SRV_COUNT_CACHE];
    /* srv_batch_begin … srv_batch_end: the rows written, for the observer
     * after the COMMIT */
    bool batch;
    /* handle_push: the batch's sequences come from memory, read once and
     * stored once (an upsert with RETURNING per applied row was 7 % of the
     * engine's time per change) */
    bool seq_rsv_on;
    uint64_t seq_rsv;
    int npend, cappend;
    struct srv_pending {
        char user[NAME_MAX_LEN + 1];
        struct row row;
    } *pend;
};

/* Who a request speaks for: the token's user scopes every query (SRV-4). */
struct srv_auth {
    char user[NAME_MAX_LEN + 1];
    char device[NAME_MAX_LEN + 1];
};

/* What a strategy decided for one pushed item (SPEC §1.6). */
struct decision {
    enum push_outcome outcome;
    enum reject_reason reason;
    bool concurrent;
    struct row next;                     /* the row to store when applied */
};

/* ---- errors and statements ---- */

static int srv_fail(struct srv *s, const char *fmt, ...)
{
    va_list ap;
    SS_ASSERT(s != NULL && fmt != NULL);
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return -1;
}

static int db_fail(struct srv *s, const char *what)
{
    SS_ASSERT(what != NULL);
    return srv_fail(s, "%s: %s", what, sqlite3_errmsg(s->db));
}

const char *srv_errmsg(const struct srv *s)
{
    SS_ASSERT(s != NULL);
    return s->err;
}

/* A cached statement, reset and unbound, ready to bind. */
static sqlite3_stmt *q(const struct srv *s, enum srv_q id)
{
    SS_ASSERT(id >= 0 && id < Q_COUNT);
    SS_ASSERT(s->q[id] != NULL);
    sqlite3_reset(s->q[id]);
    sqlite3_clear_bindings(s->q[id]);
    return s->q[id];
}

/* 1 row, 0 done, -1 error (with what as context). */
static int step(struct srv *s, sqlite3_stmt *st, const char *what)
{
    SS_ASSERT(st != NULL);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    sqlite3_reset(st);  /* release the statement's locks at once */
    if (rc == SQLITE_DONE)
        return 0;
    return db_fail(s, what);
}

/* Runs a statement that returns no rows. */
static int exec(struct srv *s, sqlite3_stmt *st, const char *what)
{
    int rc = step(s, st, what);
    SS_ASSERT(rc <= 0);  /* a write statement never yields rows */
    return rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    SS_ASSERT(v != NULL);
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Sequences are stored as SQLite's signed 64-bit; a hostile cursor above
 * INT64_MAX means "after everything", never a negative wrap. */
static void bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
    sqlite3_bind_int64(st, i, v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

static int tx_begin(struct srv *s, bool write)
{
    SS_ASSERT(sqlite3_get_autocommit(s->db));  /* never nested */
    return exec(s, q(s, write ? Q_BEGIN : Q_BEGIN_READ), "begin");
}

static int tx_commit(struct srv *s)
{
    return exec(s, q(s, Q_COMMIT), "commit");
}

static void tx_rollback(struct srv *s)
{
    /* A failed COMMIT or statement may already have ended the transaction. */
    if (!sqlite3_get_autocommit(s->db))
        (void)exec(s, q(s, Q_ROLLBACK), "rollback");
    SS_ASSERT(sqlite3_get_autocommit(s->db));
    s->ncounts = 0;   /* an entry may count a row the rollback removed */
}

/* ---- names ---- */

static bool name_ok(const char *n)
{
    return n != NULL && n[0] != '\0' && strlen(n) <= NAME_MAX_LEN;
}

/* A row id must be printable to serve as a key in traces and scenarios:
 * non-empty, ≤ ROW_ID_MAX bytes, no control bytes. */
static bool id_sane(const char *id)
{
    size_t n = id != NULL ? strnlen(id, ROW_ID_MAX + 1) : 0;
    if (n == 0 || n > ROW_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
            return false;
    return true;
}

static bool by_reserved(const char *by)
{
    return strcmp(by, SRV_BY_SERVER) == 0 || strcmp(by, SRV_BY_ERP) == 0;
}

static const struct table_decl *table_find(const struct srv *s, const char *name)
{
    SS_ASSERT(s->ntables >= 0 && s->ntables <= MAX_TABLES);
    SS_ASSERT(name != NULL);
    for (int i = 0; i < s->ntables; i++)
        if (strcmp(s->tables[i].name, name) == 0)
            return &s->tables[i];
    return NULL;
}

/* ---- rows ---- */

static int row_from_stmt(struct srv *s, sqlite3_stmt *st, struct row *out)
{
    const void *p = sqlite3_column_blob(st, 1);
    int n = sqlite3_column_bytes(st, 1);
    SS_ASSERT(n >= 0);
    long used = row_decode(p, (size_t)n, out);
    if (used != (long)n) {
        row_free(out);
        return srv_fail(s, "stored row is corrupt (%d bytes)", n);
    }
    out->seq = (uint64_t)sqlite3_column_int64(st, 0);
    SS_ASSERT(out->seq > 0);  /* every stored version has a sequence (SRV-1) */
    return 0;
}

/* 1 found, 0 absent, -1 error. */
static int row_load(struct srv *s, const char *user, const char *table, const char *id,
                    struct row *out)
{
    SS_ASSERT(user != NULL && table != NULL && id != NULL);
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = q(s, Q_ROW_GET);
    bind_text(st, 1, user);
    bind_text(st, 2, table);
    bind_text(st, 3, id);
    int rc = step(s, st, "read row");
    if (rc <= 0)
        return rc;
    rc = row_from_stmt(s, st, out);
    sqlite3_reset(st);
    return rc < 0 ? -1 : 1;
}

static struct srv_count *count_find(struct srv *s, const char *user, const char *table)
{
    for (int i = 0; i < s->ncounts; i++)
        if (strcmp(s->counts[i].table, table) == 0 && strcmp(s->counts[i].user, user) == 0)
            return &s->counts[i];
    return NULL;
}

/* fresh: the row did not exist before (the caller loaded it). */
static int row_store(struct srv *s, const char *user, const struct row *r, bool fresh)
{
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    SS_ASSERT(r->seq > 0);
    if (row_encode(r, &buf, &len, &cap) != 0) {
        free(buf);
        return srv_fail(s, "row %s/%s cannot be encoded", r->table, r->id);
    }
    sqlite3_stmt *st = q(s, Q_ROW_PUT);
    bind_text(st, 1, user);
    bind_text(st, 2, r->table);
    bind_text(st, 3, r->id);
    bind_u64(st, 4, r->seq);
    int rc = sqlite3_bind_blob(st, 5, buf, (int)len, SQLITE_STATIC);
    rc = rc == SQLITE_OK ? exec(s, st, "store row") : db_fail(s, "bind row");
    sqlite3_reset(st);
    free(buf);
    struct srv_count *c = fresh && rc == 0 ? count_find(s, user, r->table) : NULL;
    if (c != NULL)
        c->n++;
    return rc;
}

/* SRV-1: the user's next change sequence (inside the caller's transaction). */
static int seq_next(struct srv *s, const char *user, uint64_t *out)
{
    sqlite3_stmt *st = q(s, Q_SEQ_NEXT);
    bind_text(st, 1, user);
    int rc = step(s, st, "next sequence");
    if (rc == 0)
        return srv_fail(s, "next sequence: no row returned");
    if (rc < 0)
        return -1;
    *out = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    SS_ASSERT(*out > 0);
    return 0;
}

/* The user's sequence after a batch that reserved its range itself. */
static int seq_set(struct srv *s, const char *user, uint64_t seq)
{
    sqlite3_stmt *st = q(s, Q_SEQ_SET);
    bind_text(st, 1, user);
    bind_u64(st, 2, seq);
    int rc = exec(s, st, "set sequence");
    sqlite3_reset(st);
    return rc;
}

/* The user's sequence (0 before the first change); -1 on error. */
static int seq_get(struct srv *s, const char *user, uint64_t *out)
{
    sqlite3_stmt *st = q(s, Q_SEQ_GET);
    bind_text(st, 1, user);
    *out = 0;
    int rc = step(s, st, "read sequence");
    if (rc <= 0)
        return rc;
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    SS_ASSERT(v >= 0);
    *out = (uint64_t)v;
    return 0;
}

/* 0 when the user has no change yet (or on error, with s->err set). */
uint64_t srv_user_seq(struct srv *s, const char *user)
{
    SS_ASSERT(s != NULL && user != NULL);
    uint64_t v;
    return seq_get(s, user, &v) == 0 ? v : 0;
}

/* ---- open / close ---- */

static int load_tables(struct srv *s)
{
    sqlite3_stmt *st = q(s, Q_TABLE_ALL);
    int rc;
    s->ntables = 0;
    while ((rc = step(s, st, "read tables")) == 1) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int strat = sqlite3_column_int(st, 2);
        if (s->ntables >= MAX_TABLES || !name_ok(name) || strat < STRAT_LWW ||
            strat > STRAT_MANUAL) {
            sqlite3_reset(st);
            return srv_fail(s, "stored table %d is invalid", s->ntables);
        }
        struct table_decl *t = &s->tables[s->ntables++];
        memset(t, 0, sizeof *t);
        strcpy(t->name, name);
        t->read_only = sqlite3_column_int(st, 1) != 0;
        t->strategy = (enum strategy)strat;
    }
    return rc;
}

static int open_db(struct srv *s)
{
    /* SRV-5: a change the server answered for is on disk before the answer
     * leaves (FULL), in a rollback journal the simulated VFS models. */
    static const char *const pragmas =
        "PRAGMA synchronous=FULL; PRAGMA journal_mode=PERSIST;";
    char *msg = NULL;
    if (sqlite3_exec(s->db, pragmas, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(s->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
        srv_fail(s, "server schema: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -1;
    }
    for (int i = 0; i < Q_COUNT; i++) {
        SS_ASSERT(q_sql[i] != NULL);
        if (sqlite3_prepare_v2(s->db, q_sql[i], -1, &s->q[i], NULL) != SQLITE_OK)
            return srv_fail(s, "prepare %d: %s", i, sqlite3_errmsg(s->db));
    }
    return load_tables(s);
}

struct srv *srv_open(sqlite3 *db, const struct env *env, const struct config *cfg,
                     char *err, size_t errlen)
{
    SS_ASSERT(db != NULL && env != NULL);
    SS_ASSERT(env->now_ms != NULL && env->random != NULL && (err != NULL || errlen == 0));
    struct srv *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "server: out of memory");
        return NULL;
    }
    s->db = db;
    s->env = env;
    if (cfg != NULL)
        s->cfg = *cfg;
    else
        config_default(&s->cfg);
    if (open_db(s) != 0) {
        snprintf(err, errlen, "server open: %s", s->err);
        srv_close(s);
        return NULL;
    }
    return s;
}

void srv_close(struct srv *s)
{
    if (s == NULL)
        return;
    SS_ASSERT(s->db != NULL);
    if (s->q[Q_ROLLBACK] != NULL)
        tx_rollback(s);
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->q[i]);  /* NULL is a harmless no-op */
    for (int i = 0; i < s->npend; i++)
        row_free(&s->pend[i].row);
    free(s->pend);
    free(s);
}

void srv_set_observer(struct srv *s, srv_observer fn, void *arg)
{
    SS_ASSERT(s != NULL);
    SS_ASSERT(fn != NULL || arg == NULL);
    s->obs = fn;
    s->obs_arg = arg;
}

/* ---- tables and tokens ---- */

int srv_declare_table(struct srv *s, const struct table_decl *t)
{
    SS_ASSERT(s != NULL && t != NULL);
    if (!name_ok(t->name) || t->strategy < STRAT_LWW || t->strategy > STRAT_MANUAL)
        return srv_fail(s, "declare table: bad name or strategy");
    if (table_find(s, t->name) == NULL && s->ntables >= MAX_TABLES)
        return srv_fail(s, "declare table %s: more than %d tables", t->name, MAX_TABLES);
    sqlite3_stmt *st = q(s, Q_TABLE_PUT);
    bind_text(st, 1, t->name);
    sqlite3_bind_int(st, 2, t->read_only ? 1 : 0);
    sqlite3_bind_int(st, 3, (int)t->strategy);
    if (exec(s, st, "declare table") != 0)
        return -1;
    return load_tables(s);  /* the cache mirrors SQLite, order included */
}

int srv_table(const struct srv *s, const char *name, struct table_decl *out)
{
    SS_ASSERT(s != NULL && out != NULL);
    const struct table_decl *t = name != NULL ? table_find(s, name) : NULL;
    if (t == NULL)
        return -1;
    *out = *t;
    return 0;
}

int srv_issue_token(struct srv *s, const char *user, const char *device,
                    char *token, size_t n)
{
    SS_ASSERT(s != NULL && token != NULL);
    if (!name_ok(user) || !name_ok(device) || n < SRV_TOKEN_HEX + 1)
        return srv_fail(s, "issue token: bad user, device or buffer");
    /* Tokens come from env->random only (determinism); a collision with a
     * stored token (a reseeded stream after a restart) draws again. */
    for (int tries = 0; tries < SRV_TOKEN_TRIES; tries++) {
        uint64_t a = s->env->random(s->env->ctx), b = s->env->random(s->env->ctx);
        snprintf(token, n, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
        sqlite3_stmt *st = q(s, Q_TOKEN_PUT);
        bind_text(st, 1, token);
        bind_text(st, 2, user);
        bind_text(st, 3, device);
        if (exec(s, st, "issue token") != 0)
            return -1;
        if (sqlite3_changes(s->db) == 1)
            return 0;
    }
    token[0] = '\0';
    return srv_fail(s, "issue token: %d colliding draws", SRV_TOKEN_TRIES);
}

int srv_revoke_device(struct srv *s, const char *device)
{
    SS_ASSERT(s != NULL && device != NULL);
    sqlite3_stmt *st = q(s, Q_TOKEN_REVOKE);
    bind_text(st, 1, device);
    int rc = exec(s, st, "revoke device");
    SS_ASSERT(rc <= 0);
    return rc;
}

/* 1 valid, 0 unknown or revoked, -1 error. */
static int auth_check(struct srv *s, const char *token, struct srv_auth *a)
{
    SS_ASSERT(token != NULL && a != NULL);
    memset(a, 0, sizeof *a);
    if (token[0] == '\0')
        return 0;
    sqlite3_stmt *st = q(s, Q_TOKEN_GET);
    bind_text(st, 1, token);
    int rc = step(s, st, "check token");
    if (rc <= 0)
        return rc;
    const char *user = (const char *)sqlite3_column_text(st, 0);
    const char *device = (const char *)sqlite3_column_text(st, 1);
    bool revoked = sqlite3_column_int(st, 2) != 0;
    if (name_ok(user) && name_ok(device)) {
        strcpy(a->user, user);
        strcpy(a->device, device);
    }
    sqlite3_reset(st);
    return !revoked && a->user[0] != '\0' ? 1 : 0;
}

/* ---- conflict strategies (SPEC §1.6) ---- */

/* CONF-2 merge: each field of the write set (and `deleted`, if the write set
 * it) takes the greater stamp; a push that wins nothing is stale. */
static int decide_merge(const struct row *cur, const struct push_item *it, struct decision *d)
{
    const struct row *in = &it->row;
    int won = 0;
    SS_ASSERT(cur != NULL);
    if (row_copy(&d->next, cur) != 0)
        return -1;
    for (int i = 0; i < in->nfields; i++) {
        const struct row_field *f = &in->fields[i];
        if (stamp_cmp(&f->st, &in->st) != 0)
            continue;  /* not set by this write: it carries no claim */
        const struct row_field *c = row_field(cur, f->name);
        if (c != NULL && stamp_cmp(&f->st, &c->st) <= 0)
            continue;
        if (row_set(&d->next, f->name, f->value, &f->st) != 0) {
            /* Past the hard caps of a merged row (SPEC §1.1 lets a merged
             * row exceed 32 fields / 4 KiB, not these). */
            row_free(&d->next);
            d->outcome = PUSH_REJECTED;
            d->reason = REJ_TOO_LARGE;
            return 0;
        }
        won++;
    }
    if (stamp_cmp(&in->del_st, &in->st) == 0 && stamp_cmp(&in->del_st, &cur->del_st) > 0) {
        d->next.deleted = in->deleted;
        d->next.del_st = in->del_st;
        won++;
    }
    if (won == 0) {
        row_free(&d->next);
        d->outcome = PUSH_STALE;
        return 0;
    }
    d->next.st = in->st;
    d->outcome = PUSH_APPLIED;
    return 0;
}

/* Decides one item against the current row (NULL: none). Applied rows are
 * left in d->next without a sequence. -1 only when out of memory. */
static int decide(enum strategy strat, const struct row *cur, const struct push_item *it,
                  const char *device, struct decision *d)
{
    SS_ASSERT(it != NULL && device != NULL && d != NULL);
    memset(d, 0, sizeof *d);
    /* §1.6: concurrent iff the current version is newer than what the push
     * was based on AND another writer made it — a device's own earlier
     * writes never make its later ones concurrent. No row: never. */
    d->concurrent = cur != NULL && cur->seq > it->base_seq && strcmp(cur->st.by, device) != 0;
    bool apply = true;
    if (cur != NULL) {
        switch (strat) {
        case STRAT_LWW: apply = stamp_cmp(&it->row.st, &cur->st) > 0; break;  /* CONF-1 */
        case STRAT_REMOTE: apply = !d->concurrent; break;                    /* CONF-2 */
        case STRAT_LOCAL: apply = true; break;
        case STRAT_MANUAL: apply = !d->concurrent; break;
        case STRAT_MERGE: return decide_merge(cur, it, d);
        default: SS_ASSERT(!"decide: unknown strategy");
        }
    }
    if (!apply) {
        d->outcome = strat == STRAT_MANUAL ? PUSH_CONFLICT : PUSH_STALE;
        return 0;
    }
    /* CONF-1: an applied push replaces the whole row and gives it its stamp. */
    if (row_copy(&d->next, &it->row) != 0)
        return -1;
    d->outcome = PUSH_APPLIED;
    SS_ASSERT(strcmp(d->next.id, it->row.id) == 0);
    return 0;
}

/* ---- push (SRV-1, SRV-2) ---- */

/* SRV-1's rejections, judged before any strategy; t is NULL for an unknown
 * table. A stamp by `server`/`erp` is reserved (SPEC §1.1): a client
 * claiming it could outrank every server write, so it is invalid. */
/* A device writes only as itself: the stamp's writer and the op id's
 * device must be the token's device, or one device could make its writes
 * look like another's own (never concurrent, §1.6) or take its op ids. */
static bool writer_is(const struct push_item *it, const char *device)
{
    size_t n = strlen(device);
    return strcmp(it->row.st.by, device) == 0 && strncmp(it->op_id, device, n) == 0
           && it->op_id[n] == ':';
}

static enum reject_reason push_validate(const struct table_decl *t, const struct push_item *it,
                                        const char *device)
{
    SS_ASSERT(it != NULL && device != NULL);
    const struct row *r = &it->row;
    if (t == NULL)
        return REJ_INVALID;
    if (t->read_only)
        return REJ_READ_ONLY;
    if (!id_sane(r->id) || r->st.by[0] == '\0' || by_reserved(r->st.by) || !writer_is(it, device))
        return REJ_INVALID;
    if (r->nfields > ROW_MAX_FIELDS)
        return REJ_INVALID;
    if (row_bytes(r) > ROW_MAX_BYTES)
        return REJ_TOO_LARGE;
    return REJ_NONE;
}

/* SRV-2: 1 with res filled verbatim when (user, op_id) was seen, 0 if not. */
static int op_get(struct srv *s, const char *user, const char *op_id, struct push_result *res)
{
    sqlite3_stmt *st = q(s, Q_OP_GET);
    bind_text(st, 1, user);
    bind_text(st, 2, op_id);
    int rc = step(s, st, "read op");
    if (rc <= 0)
        return rc;
    int outcome = sqlite3_column_int(st, 0);
    if (outcome < PUSH_APPLIED || outcome >= PUSH_REJECTED) {
        sqlite3_reset(st);
        return srv_fail(s, "op %s: stored outcome %d is invalid", op_id, outcome);
    }
    res->outcome = (enum push_outcome)outcome;
    res->concurrent = sqlite3_column_int(st, 1) != 0;
    res->has_row = sqlite3_column_type(st, 2) != SQLITE_NULL;
    if (res->has_row) {
        const void *p = sqlite3_column_blob(st, 2);
        int n = sqlite3_column_bytes(st, 2);
        if (row_decode(p, (size_t)n, &res->row) != (long)n)
            rc = srv_fail(s, "op %s: stored row is corrupt", op_id);
    }
    sqlite3_reset(st);
    return rc;
}

/* Records a first result (never a rejection, SRV-2) with the row it carried. */
static int op_put(struct srv *s, const char *user, const struct push_result *res)
{
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    SS_ASSERT(res->outcome != PUSH_REJECTED);
    if (res->has_row && row_encode(&res->row, &buf, &len, &cap) != 0) {
        free(buf);
        return srv_fail(s, "op %s: result row cannot be encoded", res->op_id);
    }
    sqlite3_stmt *st = q(s, Q_OP_PUT);
    bind_text(st, 1, user);
    bind_text(st, 2, res->op_id);
    sqlite3_bind_int(st, 3, (int)res->outcome);
    sqlite3_bind_int(st, 4, res->concurrent ? 1 : 0);
    int rc = res->has_row ? sqlite3_bind_blob(st, 5, buf, (int)len, SQLITE_STATIC)
                          : sqlite3_bind_null(st, 5);
    rc = rc == SQLITE_OK ? exec(s, st, "record op") : db_fail(s, "bind op row");
    sqlite3_reset(st);
    free(buf);
    return rc;
}

/* Applies a decision: an applied row gets the user's next sequence (SRV-1)
 * and is stored; res takes the server's row after the decision (CONF-5). */
static int push_commit(struct srv *s, const char *user, struct decision *d, struct row *cur,
                       bool have, struct push_result *res)
{
    res->outcome = d->outcome;
    res->reason = d->reason;
    res->concurrent = d->outcome == PUSH_REJECTED ? false : d->concurrent;
    if (d->outcome == PUSH_APPLIED) {
        if (s->seq_rsv_on) d->next.seq = ++s->seq_rsv;
        else if (seq_next(s, user, &d->next.seq) != 0) return -1;
        if (row_store(s, user, &d->next, !have) != 0)
            return -1;
        res->row = d->next;   /* moved */
        memset(&d->next, 0, sizeof d->next);
        res->has_row = true;
    } else {
        SS_ASSERT(have || d->outcome == PUSH_REJECTED);  /* no row always applies */
        res->row = *cur;      /* moved */
        memset(cur, 0, sizeof *cur);
        res->has_row = have;
    }
    if (d->outcome == PUSH_REJECTED)
        return 0;             /* SRV-2: changed nothing, so nothing recorded */
    return op_put(s, user, res);
}

/* One item, inside the batch transaction. *fresh: first seen and recorded
 * (the observer hears of it after COMMIT). */
static int push_one(struct srv *s, const struct srv_auth *a, const struct push_item *it,
                    struct push_result *res, bool *fresh)
{
    SS_ASSERT(strlen(it->op_id) <= OP_ID_MAX);
    memset(res, 0, sizeof *res);
    strcpy(res->op_id, it->op_id);
    *fresh = false;
    int seen = op_get(s, a->user, it->op_id, res);
    if (seen != 0)
        return seen < 0 ? -1 : 0;  /* SRV-2: the first result, verbatim */
    const struct table_decl *t = table_find(s, it->row.table);
    struct row cur;
    struct decision d;
    int have = 0;
    memset(&cur, 0, sizeof cur);
    memset(&d, 0, sizeof d);
    /* CONF-5: even a rejected item's ack carries the current row, if any. */
    if (t != NULL && id_sane(it->row.id))
        have = row_load(s, a->user, t->name, it->row.id, &cur);
    if (have < 0)
        return -1;
    d.reason = push_validate(t, it, a->device);
    if (d.reason != REJ_NONE) {
        d.outcome = PUSH_REJECTED;
    } else if (decide(t->strategy, have ? &cur : NULL, it, a->device, &d) != 0) {
        row_free(&cur);
        return srv_fail(s, "push %s: out of memory", it->op_id);
    }
    /* CONF-3: the version the push met, before an applied push replaces it. */
    bool conflict = have == 1 && d.outcome != PUSH_REJECTED
                    && (d.concurrent || d.outcome == PUSH_STALE || d.outcome == PUSH_CONFLICT);
    bool prev_deleted = conflict && cur.deleted;
    char prev_fields[sizeof res->prev_fields] = "";
    if (conflict) row_diff_fields(&it->row, &cur, prev_fields, sizeof prev_fields);
    int rc = push_commit(s, a->user, &d, &cur, have == 1, res);
    if (rc == 0 && conflict) {
        res->has_prev = true;
        res->prev_deleted = prev_deleted;
        memcpy(res->prev_fields, prev_fields, sizeof prev_fields);
    }
    row_free(&cur);
    row_free(&d.next);
    *fresh = rc == 0 && res->outcome != PUSH_REJECTED;
    return rc;
}

/* An upper bound of a row's wire size (row.c layout), for the 1 MiB limit. */
static size_t row_wire_bound(const struct row *r)
{
    size_t n = 2 * 2 + strlen(r->table) + strlen(r->id) + 1 + 2 * (18 + NAME_MAX_LEN) + 8 + 2;
    SS_ASSERT(r->nfields >= 0);
    for (int i = 0; i < r->nfields; i++)
        n += 4 + strlen(r->fields[i].name) + strlen(r->fields[i].value) + 18 + NAME_MAX_LEN;
    return n;
}

/* WIRE_MAX_MSG: results keep their rows while the response fits; past the
 * budget a result goes without its row (has_row=false) and the device gets
 * that row by pull instead. Stored rows may be larger than pushed ones
 * (merge), so a full batch of acks could otherwise not be encoded. */
static void push_fit_budget(struct wire_msg *out)
{
    size_t total = 64;
    SS_ASSERT(out->nresults >= 0);
    for (int i = 0; i < out->nresults; i++) {
        struct push_result *r = &out->results[i];
        size_t sz = r->has_row ? row_wire_bound(&r->row) : 0;
        if (total + sz > SRV_RESP_BUDGET) {
            row_free(&r->row);
            r->has_row = false;
            sz = 0;
        }
        total += 2 + OP_ID_MAX + 3 + sz;
    }
    SS_ASSERT(total <= WIRE_MAX_MSG);
}

static void push_notify(struct srv *s, const struct srv_auth *a, const struct wire_msg *in,
                        const struct wire_msg *out, const bool *fresh)
{
    SS_ASSERT(in->nitems == out->nresults);
    if (s->obs == NULL)
        return;
    for (int i = 0; i < out->nresults; i++) {
        const struct push_result *r = &out->results[i];
        if (!fresh[i])
            continue;
        SS_ASSERT(r->has_row);  /* every recorded result has a row */
        s->obs(s->obs_arg, a->user, r->op_id, &in->items[i], &r->row, r->outcome);
    }
}

/* 200, or 500 with s->err set (the batch then changed nothing). */
static int handle_push(struct srv *s, const struct srv_auth *a, const struct wire_msg *in,
                       struct wire_msg *out)
{
    SS_ASSERT(in->nitems >= 0 && in->nitems <= WIRE_MAX_ITEMS);
    int n = in->nitems;
    out->type = WIRE_PUSH_RESP;
    out->results = n > 0 ? calloc((size_t)n, sizeof *out->results) : NULL;
    bool *fresh = calloc((size_t)n + 1, sizeof *fresh);
    if ((n > 0 && out->results == NULL) || fresh == NULL) {
        free(fresh);
        srv_fail(s, "push: out of memory");
        return WS_SERVER;
    }
    int rc = tx_begin(s, true);
    uint64_t first = 0;
    if (rc == 0) rc = seq_get(s, a->user, &first);
    s->seq_rsv = first;
    s->seq_rsv_on = rc == 0;
    for (int i = 0; i < n && rc == 0; i++) {
        out->nresults = i + 1;
        rc = push_one(s, a, &in->items[i], &out->results[i], &fresh[i]);
    }
    s->seq_rsv_on = false;
    if (rc == 0 && s->seq_rsv != first)
        rc = seq_set(s, a->user, s->seq_rsv);   /* SRV-1: inside the batch's transaction */
    if (rc == 0)
        rc = tx_commit(s);
    if (rc != 0) {
        tx_rollback(s);
        free(fresh);
        return WS_SERVER;
    }
    SS_ASSERT(out->nresults == n);
    push_notify(s, a, in, out, fresh);
    push_fit_budget(out);
    free(fresh);
    return WS_OK;
}

/* ---- pull and page (SRV-3, INIT-1) ---- */

static uint32_t page_limit(uint32_t asked)
{
    /* 0 asks for no particular size: the server's maximum. */
    return asked == 0 || asked > SRV_MAX_PAGE ? SRV_MAX_PAGE : asked;
}

/* Reads up to limit rows from a bound query that was asked for limit + 1:
 * the extra row only tells whether more remain (has_more). Stops early,
 * with has_more, before the response would pass WIRE_MAX_MSG. */
static int grow_rows(struct wire_msg *out, uint32_t *cap, uint32_t limit)
{
    uint32_t n = *cap ? *cap * 2 : 16;
    if (n > limit) n = limit;
    SS_ASSERT(n > *cap);
    struct row *r = realloc(out->rows, (size_t)n * sizeof *r);
    if (r == NULL) return -1;
    memset(r + *cap, 0, (size_t)(n - *cap) * sizeof *r);
    out->rows = r;
    *cap = n;
    return 0;
}

static int read_rows(struct srv *s, sqlite3_stmt *st, uint32_t limit, struct wire_msg *out)
{
    size_t total = 64;
    int rc;
    uint32_t cap = 0;
    SS_ASSERT(limit > 0 && limit <= SRV_MAX_PAGE);
    SS_ASSERT(out->rows == NULL && out->nrows == 0);
    while ((rc = step(s, st, "read rows")) == 1) {
        size_t sz = (size_t)sqlite3_column_bytes(st, 1);
        if ((uint32_t)out->nrows == limit || total + sz > SRV_RESP_BUDGET) {
            out->has_more = true;
            break;
        }
        /* Grown as rows come: most pulls carry a few rows, and a page-sized
         * array zeroed per request was a tenth of a swarm run. */
        if ((uint32_t)out->nrows == cap && grow_rows(out, &cap, limit) != 0) {
            rc = srv_fail(s, "rows: out of memory");
            break;
        }
        if (row_from_stmt(s, st, &out->rows[out->nrows]) != 0) {
            rc = -1;
            break;
        }
        out->nrows++;
        total += sz;
    }
    sqlite3_reset(st);
    SS_ASSERT(out->nrows > 0 || !out->has_more);  /* a page always advances */
    return rc < 0 ? -1 : 0;
}

static int handle_pull(struct srv *s, const struct srv_auth *a, const struct wire_msg *in,
                       struct wire_msg *out)
{
    uint32_t limit = page_limit(in->limit);
    out->type = WIRE_PULL_RESP;
    if (tx_begin(s, false) != 0)
        return WS_SERVER;
    sqlite3_stmt *st = q(s, Q_PULL);
    bind_text(st, 1, a->user);   /* INV-SCOPE */
    bind_u64(st, 2, in->cursor);
    sqlite3_bind_int64(st, 3, (int64_t)limit + 1);
    int rc = read_rows(s, st, limit, out);
    out->server_seq = srv_user_seq(s, a->user);
    if (rc == 0)
        rc = tx_commit(s);
    if (rc != 0) {
        tx_rollback(s);
        return WS_SERVER;
    }
    out->server_time = s->env->now_ms(s->env->ctx);
    SS_ASSERT(out->nrows == 0 || out->rows[out->nrows - 1].seq <= out->server_seq);
    return WS_OK;
}

static int table_count(struct srv *s, const char *user, const char *table, uint64_t *out)
{
    struct srv_count *c = count_find(s, user, table);
    if (c != NULL) {
        *out = c->n;
        return 0;
    }
    sqlite3_stmt *st = q(s, Q_TABLE_COUNT);
    bind_text(st, 1, user);
    bind_text(st, 2, table);
    int rc = step(s, st, "count rows");
    if (rc <= 0)
        return rc < 0 ? -1 : srv_fail(s, "count rows: no result");
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    SS_ASSERT(n >= 0);
    *out = (uint64_t)n;
    if (s->ncounts == SRV_COUNT_CACHE)
        s->ncounts = 0;   /* many users: start over rather than search long */
    c = &s->counts[s->ncounts++];
    str_copy(c->user, sizeof c->user, user);
    str_copy(c->table, sizeof c->table, table);
    c->n = *out;
    return 0;
}

/* INIT-1: one table's rows after after_seq; an empty table is one empty
 * page with has_more=false. An undeclared table is a protocol error. */
static int handle_page(struct srv *s, const struct srv_auth *a, const struct wire_msg *in,
                       struct wire_msg *out)
{
    uint32_t limit = page_limit(in->limit);
    out->type = WIRE_PAGE_RESP;
    if (table_find(s, in->table) == NULL) {
        srv_fail(s, "unknown table %s", in->table);
        return WS_PROTOCOL;
    }
    if (tx_begin(s, false) != 0)
        return WS_SERVER;
    sqlite3_stmt *st = q(s, Q_PAGE);
    bind_text(st, 1, a->user);   /* INV-SCOPE */
    bind_text(st, 2, in->table);
    bind_u64(st, 3, in->after_seq);
    sqlite3_bind_int64(st, 4, (int64_t)limit + 1);
    int rc = read_rows(s, st, limit, out);
    if (rc == 0)
        rc = table_count(s, a->user, in->table, &out->table_total);
    out->server_seq = srv_user_seq(s, a->user);
    if (rc == 0)
        rc = tx_commit(s);
    if (rc != 0) {
        tx_rollback(s);
        return WS_SERVER;
    }
    out->server_time = s->env->now_ms(s->env->ctx);
    SS_ASSERT((uint64_t)out->nrows <= out->table_total);
    return WS_OK;
}

/* ---- the network surface ---- */

static void make_error(struct wire_msg *out, uint64_t req_id, int status, const char *text)
{
    SS_ASSERT(status >= 400 && status <= 599);
    wire_msg_free(out);
    wire_msg_init(out, WIRE_ERROR_RESP);
    out->req_id = req_id;
    out->status = status;
    /* The context is cut to what the wire carries (wire.h text[128]). */
    snprintf(out->text, sizeof out->text, "%.*s", (int)sizeof out->text - 1,
             text != NULL ? text : "");
}

static void dispatch(struct srv *s, const struct wire_msg *in, struct wire_msg *out)
{
    struct srv_auth a;
    int status;
    SS_ASSERT(in->type == WIRE_PUSH_REQ || in->type == WIRE_PULL_REQ ||
              in->type == WIRE_PAGE_REQ);
    int ok = auth_check(s, in->token, &a);
    if (ok <= 0) {
        /* SRV-4: a wrong or revoked token gets 401 and nothing else; the
         * text does not tell which, so tokens cannot be probed. */
        make_error(out, in->req_id, ok < 0 ? WS_SERVER : WS_AUTH,
                   ok < 0 ? s->err : "token unknown or revoked");
        return;
    }
    SS_ASSERT(a.user[0] != '\0');
    if (in->type == WIRE_PUSH_REQ)
        status = handle_push(s, &a, in, out);
    else if (in->type == WIRE_PULL_REQ)
        status = handle_pull(s, &a, in, out);
    else
        status = handle_page(s, &a, in, out);
    if (status != WS_OK)
        make_error(out, in->req_id, status, s->err);
    else
        out->req_id = in->req_id;  /* RUN-6: the response names its request */
}

/* Decodes and answers; the result is always a message to send. */
static void answer(struct srv *s, const uint8_t *req, size_t len, struct wire_msg *out)
{
    struct wire_msg in;
    struct wire_err werr;
    enum wire_type type;
    uint64_t req_id = 0;
    char text[sizeof out->text];
    if (wire_decode(req, len, &in, &werr) != 0) {
        /* SRV-4: malformed, oversized, unknown version: 400, echoing the
         * request id when the header is readable (RUN-6). */
        if (wire_peek(req, len, &type, &req_id) != 0)
            req_id = 0;
        snprintf(text, sizeof text, "malformed at byte %zu: %s", werr.offset, werr.what);
        make_error(out, req_id, WS_PROTOCOL, text);
        return;
    }
    if (in.type != WIRE_PUSH_REQ && in.type != WIRE_PULL_REQ && in.type != WIRE_PAGE_REQ) {
        snprintf(text, sizeof text, "expected a request, found message type %d", (int)in.type);
        make_error(out, in.req_id, WS_PROTOCOL, text);
    } else {
        dispatch(s, &in, out);
    }
    wire_msg_free(&in);
}

int srv_handle(struct srv *s, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len)
{
    SS_ASSERT(s != NULL && resp != NULL && resp_len != NULL);
    SS_ASSERT(req != NULL || len == 0);
    struct wire_msg out;
    wire_msg_init(&out, WIRE_ERROR_RESP);
    s->err[0] = '\0';
    answer(s, req, len, &out);
    int rc = wire_encode(&out, resp, resp_len);
    if (rc != 0) {
        uint64_t req_id = out.req_id;
        make_error(&out, req_id, WS_SERVER, "response could not be encoded");
        rc = wire_encode(&out, resp, resp_len);
    }
    wire_msg_free(&out);
    return rc == 0 ? 0 : -1;
}

/* ---- server writes (`server write`, ERP imports, seeded rows) ---- */

/* One unconditional write inside the caller's transaction: every named
 * field and `deleted` get the server stamp (SPEC §1.1); a write onto a
 * tombstone clears it; a delete keeps the fields. *next_seq, when given, is
 * the sequence to use (and is advanced): a batch reserves its range once.
 * absent: the caller knows the row does not exist (no lookup). */
static int write_locked(struct srv *s, const char *user, const char *table, const char *id,
                        int n, const char *const *names, const char *const *values,
                        bool deleted, const struct stamp *st, uint64_t *next_seq, bool absent,
                        struct row *out)
{
    SS_ASSERT(n >= 0 && (n == 0 || (names != NULL && values != NULL)));
    int have = 0;
    if (absent)
        memset(out, 0, sizeof *out);
    else
        have = row_load(s, user, table, id, out);
    if (have < 0)
        return -1;
    if (have == 0)
        row_init(out, table, id);
    for (int i = 0; i < n; i++) {
        SS_ASSERT(names[i] != NULL && values[i] != NULL);
        if (row_set(out, names[i], values[i], st) != 0)
            return srv_fail(s, "write %s/%s: field %s past the limits", table, id, names[i]);
    }
    if (deleted || out->deleted) {
        out->deleted = deleted;
        out->del_st = *st;
    }
    out->st = *st;
    if (next_seq != NULL)
        out->seq = (*next_seq)++;
    else if (seq_next(s, user, &out->seq) != 0)
        return -1;
    return row_store(s, user, out, have == 0);
}

static int write_check(struct srv *s, const char *user, const char *table, const char *id)
{
    if (!name_ok(user))
        return srv_fail(s, "server write: bad user");
    if (table == NULL || table_find(s, table) == NULL)
        return srv_fail(s, "server write: unknown table %s", table ? table : "(null)");
    if (!id_sane(id))
        return srv_fail(s, "server write %s: bad row id", table);
    return 0;
}

static void server_stamp(struct srv *s, const char *by, struct stamp *st)
{
    SS_ASSERT(by != NULL && by_reserved(by));
    memset(st, 0, sizeof *st);
    st->at = s->env->now_ms(s->env->ctx);
    strcpy(st->by, by);
    st->seq = 0;  /* SPEC §1.1: server writes have op seq 0 */
}

/* A written row kept for the observer until the batch commits. */
static int pend_add(struct srv *s, const char *user, struct row *r)
{
    if (s->npend == s->cappend) {
        int cap = s->cappend ? s->cappend * 2 : 64;
        struct srv_pending *v = realloc(s->pend, (size_t)cap * sizeof *v);
        if (v == NULL)
            return srv_fail(s, "batch: out of memory");
        s->pend = v;
        s->cappend = cap;
    }
    struct srv_pending *p = &s->pend[s->npend++];
    str_copy(p->user, sizeof p->user, user);
    p->row = *r;   /* moved */
    memset(r, 0, sizeof *r);
    return 0;
}

int srv_batch_begin(struct srv *s)
{
    SS_ASSERT(s != NULL && !s->batch && s->npend == 0);
    if (tx_begin(s, true) != 0)
        return -1;
    s->batch = true;
    return 0;
}

int srv_batch_end(struct srv *s, bool ok)
{
    SS_ASSERT(s != NULL && s->batch);
    s->batch = false;
    int rc = ok ? tx_commit(s) : -1;
    if (rc != 0)
        tx_rollback(s);
    for (int i = 0; i < s->npend; i++) {
        if (rc == 0 && s->obs != NULL)
            s->obs(s->obs_arg, s->pend[i].user, "", NULL, &s->pend[i].row, PUSH_APPLIED);
        row_free(&s->pend[i].row);
    }
    s->npend = 0;
    return rc;
}

int srv_write(struct srv *s, const char *user, const char *table, const char *id,
              int n, const char *const *names, const char *const *values,
              bool deleted, const char *by)
{
    SS_ASSERT(s != NULL && n >= 0 && n <= ROW_HARD_FIELDS);
    struct stamp st;
    struct row r;
    server_stamp(s, by, &st);
    memset(&r, 0, sizeof r);
    if (write_check(s, user, table, id) != 0)
        return -1;
    if (s->batch) {   /* inside the caller's transaction */
        int rc = write_locked(s, user, table, id, n, names, values, deleted, &st, NULL, false, &r);
        if (rc == 0)
            rc = pend_add(s, user, &r);
        row_free(&r);
        return rc;
    }
    if (tx_begin(s, true) != 0)
        return -1;
    int rc = write_locked(s, user, table, id, n, names, values, deleted, &st, NULL, false, &r);
    if (rc == 0)
        rc = tx_commit(s);
    if (rc != 0)
        tx_rollback(s);
    else if (s->obs != NULL)
        s->obs(s->obs_arg, user, "", NULL, &r, PUSH_APPLIED);
    row_free(&r);
    return rc;
}

/* The generated row i of SPEC §4 `rows N`: id NAME-i, name=NAME-i, n=i. */
static int seed_one(struct srv *s, const char *user, const char *table, int i,
                    const struct stamp *st, uint64_t *next_seq, bool absent, struct row *out)
{
    char id[ROW_ID_MAX + 2], num[24];
    const char *names[2] = { "n", "name" };
    const char *values[2] = { num, id };
    SS_ASSERT(i > 0);
    int w = snprintf(id, sizeof id, "%s-%d", table, i);
    if (w < 0 || (size_t)w > ROW_ID_MAX)
        return srv_fail(s, "seed %s: row id %d too long", table, i);
    snprintf(num, sizeof num, "%d", i);
    return write_locked(s, user, table, id, 2, names, values, false, st, next_seq, absent, out);
}

int srv_seed_rows(struct srv *s, const char *user, const char *table, int n)
{
    SS_ASSERT(s != NULL && n >= 0);
    struct stamp st;
    server_stamp(s, SRV_BY_SERVER, &st);
    if (n == 0)
        return 0;
    struct row *rows = calloc((size_t)n, sizeof *rows);
    if (rows == NULL)
        return srv_fail(s, "seed %s: out of memory", table ? table : "");
    /* One transaction: sequences 1…N in id-number order (SPEC §1.1). */
    int rc = write_check(s, user, table, "x");
    if (rc == 0)
        rc = tx_begin(s, true);
    uint64_t next = 0, had = 0;
    if (rc == 0)
        rc = seq_get(s, user, &next);       /* the range, stored once at the end */
    next++;
    if (rc == 0)
        rc = table_count(s, user, table, &had);   /* an empty table needs no lookups */
    for (int i = 0; i < n && rc == 0; i++)
        rc = seed_one(s, user, table, i + 1, &st, &next, had == 0, &rows[i]);
    if (rc == 0)
        rc = seq_set(s, user, next - 1);
    if (rc == 0)
        rc = tx_commit(s);
    if (rc != 0)
        tx_rollback(s);
    for (int i = 0; i < n; i++) {
        if (rc == 0 && s->obs != NULL)
            s->obs(s->obs_arg, user, "", NULL, &rows[i], PUSH_APPLIED);
        row_free(&rows[i]);
    }
    free(rows);
    return rc;
}

/* ---- reads for checks and scenarios ---- */

int srv_get_row(struct srv *s, const char *user, const char *table, const char *id, struct row *out)
{
    SS_ASSERT(s != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    if (user == NULL || table == NULL || id == NULL)
        return -1;
    if (!name_ok(user) || !name_ok(table) || !id_sane(id))
        return 0;  /* such a row cannot exist */
    return row_load(s, user, table, id, out);
}

int srv_foreach_row(struct srv *s, const char *user,
                    int (*fn)(void *arg, const struct row *r), void *arg)
{
    SS_ASSERT(s != NULL && user != NULL && fn != NULL);
    /* A statement of its own, not a cached one: fn may call back into the
     * server (srv_get_row, srv_user_seq) while this one is open. */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT seq, row FROM srv_rows WHERE user = ?1"
                           " ORDER BY tbl, id", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "foreach row");
    bind_text(st, 1, user);
    int rc = 0, stop = 0;
    while (stop == 0 && (rc = step(s, st, "foreach row")) == 1) {
        struct row r;
        if (row_from_stmt(s, st, &r) != 0) {
            rc = -1;
            break;
        }
        stop = fn(arg, &r);
        row_free(&r);
    }
    sqlite3_finalize(st);
    SS_ASSERT(rc <= 1);
    return rc < 0 ? -1 : 0;
}

int srv_op_seen(struct srv *s, const char *user, const char *op_id)
{
    SS_ASSERT(s != NULL && user != NULL && op_id != NULL);
    struct push_result res;
    memset(&res, 0, sizeof res);
    int rc = op_get(s, user, op_id, &res);
    row_free(&res.row);
    SS_ASSERT(rc >= -1 && rc <= 1);
    return rc;
}

int srv_users(struct srv *s, char (*out)[NAME_MAX_LEN + 1], int cap)
{
    SS_ASSERT(s != NULL && cap >= 0);
    SS_ASSERT(out != NULL || cap == 0);
    sqlite3_stmt *st = q(s, Q_USERS);
    sqlite3_bind_int(st, 1, cap);
    int n = 0, rc;
    while ((rc = step(s, st, "list users")) == 1) {
        const char *u = (const char *)sqlite3_column_text(st, 0);
        if (n < cap && name_ok(u))
            strcpy(out[n++], u);
    }
    return rc < 0 ? -1 : n;
}
