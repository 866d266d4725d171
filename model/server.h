/*
 * server.h — the sync server (SPEC §1.7, §1.6): one SQLite database holding
 * every user's rows, a per-user change sequence, the conflict strategies,
 * idempotency by op id recorded in the same transaction as the change, pull
 * and page queries, and session tokens scoped to a user.
 *
 * srv_handle() is the whole network surface: request bytes in, response
 * bytes out, always a response (a protocol error for anything malformed),
 * never a crash, never another user's rows (INV-SCOPE). The server keeps no
 * state outside SQLite except caches it can rebuild, so a server crash is
 * srv_close() + srv_open() on the same database (SRV-5).
 */
#ifndef SYNCSIM_SERVER_H
#define SYNCSIM_SERVER_H

#include <sqlite3.h>

#include "config.h"
#include "env.h"
#include "row.h"
#include "wire.h"

struct srv;

/* Opens (creating the schema if needed) on db, which the caller owns and
 * closes after srv_close. env gives the server clock (now_ms) and the
 * randomness for tokens. NULL with a message on error. */
struct srv *srv_open(sqlite3 *db, const struct env *env, const struct config *cfg,
                     char *err, size_t errlen);
void srv_close(struct srv *s);
/* The last error, with context ("" if none); valid until the next call. */
const char *srv_errmsg(const struct srv *s);

/* Tables the server syncs (persisted; declaring again updates). */
int srv_declare_table(struct srv *s, const struct table_decl *t);
int srv_table(const struct srv *s, const char *name, struct table_decl *out);

/* Login is out of band (SPEC §1.8): a token for (user, device). */
int srv_issue_token(struct srv *s, const char *user, const char *device,
                    char *token, size_t n);
/* Revokes every token of device (`server revoke D`). */
int srv_revoke_device(struct srv *s, const char *device);

/* One request → one response (caller frees *resp with free()). Returns 0;
 * -1 only when the response itself cannot be built (out of memory). */
int srv_handle(struct srv *s, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len);

/* A server-side write applied unconditionally (`server write`, `server
 * delete`, ERP imports): stamped with the server clock and by ("server" or
 * "erp"), op seq 0, next sequence of the user. Fields are name/value pairs;
 * deleted sets the tombstone (keeping the fields). */
int srv_write(struct srv *s, const char *user, const char *table, const char *id,
              int n, const char *const *names, const char *const *values,
              bool deleted, const char *by);
/* Server writes in one transaction (an ERP import lands whole or not at
 * all): srv_write calls between these join it, and the observer hears of
 * each row after the COMMIT, in write order. srv_batch_end(ok=false), or a
 * failed COMMIT, rolls everything back. 0, or -1 (nothing was written). */
int srv_batch_begin(struct srv *s);
int srv_batch_end(struct srv *s, bool ok);
/* `table … rows N`: N generated rows NAME-1…NAME-N for user (SPEC §4). */
int srv_seed_rows(struct srv *s, const char *user, const char *table, int n);

/* Reads for checks and scenarios: 1 found, 0 absent, -1 error. */
int srv_get_row(struct srv *s, const char *user, const char *table, const char *id, struct row *out);
/* Calls fn for each row of user (table, then id order); stops on nonzero. */
int srv_foreach_row(struct srv *s, const char *user,
                    int (*fn)(void *arg, const struct row *r), void *arg);
/* Has the server applied/recorded op_id for user? (INV-ONCE bookkeeping) */
int srv_op_seen(struct srv *s, const char *user, const char *op_id);
uint64_t srv_user_seq(struct srv *s, const char *user);
/* Users the server has rows or tokens for, sorted; returns count (≤ cap). */
int srv_users(struct srv *s, char (*out)[NAME_MAX_LEN + 1], int cap);

/* Optional observer of every change the server commits, in commit order
 * (the INV-CONVERGE oracle replays them): op_id is "" for server writes;
 * item is the pushed item (NULL for server writes), row the stored result. */
typedef void (*srv_observer)(void *arg, const char *user, const char *op_id,
                             const struct push_item *item, const struct row *written,
                             enum push_outcome outcome);
void srv_set_observer(struct srv *s, srv_observer fn, void *arg);

#endif
