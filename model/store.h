/*
 * store.h — the device's local database: schema and migrations (PRAGMA
 * user_version), settings, synced rows, the outbox, dead letters, the
 * conflicts table and per-table download progress.
 *
 * Every function runs inside the caller's transaction when one is open
 * (store_begin/commit/rollback), so a row and its outbox item commit
 * together (INV-DURABLE). Functions return 0 (or a count / found flag) on
 * success and -1 when SQLite failed; the SQLite error is then in
 * store_errmsg().
 */
#ifndef SYNCSIM_STORE_H
#define SYNCSIM_STORE_H

#include <sqlite3.h>

#include "row.h"
#include "wire.h"

#define STORE_SCHEMA_VERSION 1

/* A synced table with its initial-download progress (INIT-1). */
struct store_table {
    struct table_decl decl;
    bool dl_done;
    uint64_t dl_after;      /* last seq of the pages already committed */
    int64_t dl_rows;        /* rows received */
    int64_t dl_total;       /* announced by the server (INIT-5) */
};

struct store;

/* Creates or migrates the schema on db (owned by the caller). defaults are
 * recorded as the synced tables when the database has none. */
struct store *store_open(sqlite3 *db, const struct table_decl *defaults, int n,
                         char *err, size_t errlen);
void store_close(struct store *s);
const char *store_errmsg(struct store *s);
/* The store remembers settings and counts it has read or written (SQLite
 * stays the truth; a rollback or a failed statement forgets them). Call
 * this when the database was changed behind the store's back. */
void store_forget(struct store *s);
/* Forgets, then reads every setting in one query: a key the memo then does
 * not hold is known to be absent (a start-up reads most of them). 0 / -1. */
int store_preload(struct store *s);

int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);
/* on: the caller holds a transaction of its own around everything the
 * store does, and store_begin/commit/rollback become a savepoint, its
 * release and its rollback. For harnesses that reset the database by
 * rolling their transaction back (fuzz/coordinator.c); nothing is durable
 * then. Only between units (no savepoint open). */
void store_nested(struct store *s, bool on);

/* Settings: a small key → value table. get returns 1 found, 0 absent. */
int store_get_int(struct store *s, const char *key, int64_t *v);
int store_set_int(struct store *s, const char *key, int64_t v);
int store_get_text(struct store *s, const char *key, char *buf, size_t n);
int store_set_text(struct store *s, const char *key, const char *v);
int store_del(struct store *s, const char *key);

/* Tables in declaration order. */
int store_tables(struct store *s, struct store_table *out, int cap);
int store_add_table(struct store *s, const struct table_decl *t);
int store_save_progress(struct store *s, const struct store_table *t);
int store_reset_progress(struct store *s);   /* every table to download again */

/* Rows: 1 found, 0 absent, -1 error. */
int store_get_row(struct store *s, const char *table, const char *id,
                  struct row *out, uint64_t *base_seq);
int store_put_row(struct store *s, const struct row *r, uint64_t base_seq);
/* As store_put_row, but a stored row with a larger base_seq stays (CONF-5),
 * in one statement; an identical row is not rewritten (RUN-11 downloads
 * read-only tables again and again). */
int store_put_row_if_newer(struct store *s, const struct row *r, uint64_t base_seq);
int store_set_base_seq(struct store *s, const char *table, const char *id, uint64_t base_seq);
int store_clear_rows(struct store *s);
/* Walks the rows; fn may use the store but must not start another walk. */
int store_foreach_row(struct store *s, int (*fn)(void *arg, const struct row *r), void *arg);

/* Outbox (OUT-1..3), in local order. */
int store_outbox_append(struct store *s, const char *op_id, const struct row *r, uint64_t base_seq);
/* Up to limit items with local seq ≤ max_seq (caller frees each row);
 * range[0] and range[1] get the local seqs of the first and the last. The
 * items of the outbox with a seq in that range are this batch for as long
 * as they stay: later items get larger seqs (AUTOINCREMENT). */
int store_outbox_batch(struct store *s, int limit, int64_t max_seq, struct push_item *items,
                       int64_t range[2]);
/* An upper bound of the outbox's local seqs: every item in it now has a seq
 * ≤ this, every item appended later a larger one (AUTOINCREMENT). */
int64_t store_outbox_max_seq(struct store *s);
int store_outbox_count(struct store *s);
/* Items still pending for (table, id). */
int store_outbox_pending(struct store *s, const char *table, const char *id);
int store_outbox_remove(struct store *s, const char *op_id);
/* The outbox item op_id: 1 found (caller frees item->row), 0 absent, -1 error. */
int store_outbox_get(struct store *s, const char *op_id, struct push_item *item);
/* +1 retry for every item with a local seq in [lo, hi] (a batch, see
 * store_outbox_batch); the op ids that now have at least `limit` retries go
 * to over[0..cap), in local order. Returns how many, or -1 on error. */
int store_outbox_bump_range(struct store *s, int64_t lo, int64_t hi, int limit,
                            char (*over)[OP_ID_MAX + 1], int cap);
/* Moves the item to the dead letters with reason. */
int store_deadletter(struct store *s, const char *op_id, const char *reason);
int store_deadletter_count(struct store *s);
/* Dead letters back to the outbox, fresh retry count (OUT-3 requeue). */
int store_requeue(struct store *s);
int store_foreach_op(struct store *s, int (*fn)(void *arg, const char *op_id, bool dead), void *arg);
bool store_row_deadlettered(struct store *s, const char *table, const char *id);

/* Conflicts (CONF-2, CONF-3). */
int store_conflict_add(struct store *s, const struct row *local, const char *type,
                       const char *fields, const char *winner, bool resolved);
int store_conflict_count(struct store *s, bool unresolved_only);
bool store_conflict_open(struct store *s, const char *table, const char *id);
/* The open conflicts of a row, oldest first (caller frees rows); count. */
int store_conflict_list_open(struct store *s, const char *table, const char *id,
                             struct row *out, int cap);
int store_conflict_resolve(struct store *s, const char *table, const char *id, const char *winner);
int store_clear_user_data(struct store *s);   /* another user logs in (COORD-10) */

#endif
