/*
 * oracle_srv.h — the independent reference model of the server's conflict
 * rules (SPEC §1.1, §1.6 CONF-1/CONF-2, §1.7 SRV-1/SRV-2, §2 INV-CONVERGE).
 *
 * Written from SPEC alone, not from model/server.c or model/apply.c. The
 * simulator feeds it, in the server's commit order, every op the server saw
 * for the first time (srvo_push) and every server write (srvo_server_write);
 * the oracle applies them per user with §1.6 and its own change sequence,
 * predicts each push's outcome, and at the end compares every server row
 * against its own (srvo_compare_row, then srvo_missing).
 *
 * Conventions (SPEC §1.1, wire.h "struct push_item"):
 *  - the write set of a pushed or server-written row is the fields whose
 *    stamp equals row.st; the write set includes `deleted` iff
 *    row.del_st equals row.st (its value is then row.deleted, so a write
 *    that clears a tombstone carries deleted=false with del_st == st);
 *  - the pushing device is the part of op_id before the first ':' (the
 *    whole op_id when it has none).
 *
 * Decisions where SPEC is silent (see the report / README):
 *  - concurrency (§1.6): a current row exists, its seq > item.base_seq and
 *    its row stamp's `by` differs from the pushing device;
 *  - no current row: every strategy applies the push whole;
 *  - merge replaces nothing outside the write set; "wins" means the push's
 *    stamp is strictly greater than the stamp the row's field (or `deleted`)
 *    holds (an absent field holds the zero stamp); the row stamp becomes the
 *    push's stamp even when it is smaller than the previous row stamp;
 *  - a push whose stamp equals the current row stamp does not "win" (lww
 *    stale) — SPEC says two writes never tie, so only a replay could;
 *  - rejected (nothing changes, not recorded, SRV-2): unknown table or
 *    empty table/id → invalid; read-only table → read_only; > 32 fields of
 *    the pushed (whole) row → invalid; > 4096 bytes of its names + values →
 *    too_large;
 *  - SRV-2 idempotency is modelled too: an op id already recorded (applied,
 *    stale, conflict) returns its first verdict, duplicate=true, no change;
 *  - a server write is an unconditional patch: it sets its write-set fields
 *    (and `deleted` if in its write set), the row gets its stamp and the
 *    next sequence; per §1.1 "a write onto a tombstone clears deleted", a
 *    server write that sets at least one field and not `deleted` clears a
 *    current tombstone (del_st becomes its stamp). Fields of `written`
 *    outside the write set are ignored (also for a new row).
 *
 * Ownership: the oracle owns every row it stores; rows passed in are only
 * read. Limits: SRVO_MAX_ROWS rows, SRVO_MAX_OPS recorded op ids,
 * SRVO_MAX_USERS users, SRVO_MAX_TABLES tables; exceeding one (or running
 * out of memory) is a harness failure and fails an SS_ASSERT.
 */
#ifndef SYNCSIM_ORACLE_SRV_H
#define SYNCSIM_ORACLE_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "row.h"
#include "types.h"
#include "wire.h"

#define SRVO_MAX_ROWS 1000000     /* all users together */
#define SRVO_MAX_OPS 4000000      /* recorded op ids, all users together */
#define SRVO_MAX_USERS 4096
#define SRVO_MAX_TABLES 64

struct srv_oracle;

/* What the reference predicts for one push (SRV-1, CONF-3). */
struct srvo_verdict {
    enum push_outcome outcome;
    bool concurrent;              /* §1.6 definition, at the time of the push */
    enum reject_reason reason;    /* REJ_NONE unless rejected */
    bool duplicate;               /* SRV-2: op id seen before, first verdict */
};

/* tables[0..n): the declared tables with their strategies. NULL on OOM. */
struct srv_oracle *srvo_new(const struct table_decl *tables, int n);
/* Declare a table, or redeclare one (a migration changes its strategy or
 * read-only flag from now on; rows are kept). */
void srvo_add_table(struct srv_oracle *o, const struct table_decl *t);
void srvo_free(struct srv_oracle *o);

/* Apply one push (§1.6, SRV-1, SRV-2) and return the predicted outcome. */
enum push_outcome srvo_push(struct srv_oracle *o, const char *user,
                            const struct push_item *item);
/* Same, with the whole verdict in *v (v may be NULL). */
enum push_outcome srvo_push_v(struct srv_oracle *o, const char *user,
                              const struct push_item *item,
                              struct srvo_verdict *v);
/* Apply one server write (stamped "server"/"erp"), unconditionally. */
void srvo_server_write(struct srv_oracle *o, const char *user,
                       const struct row *written);

/* The reference row, or NULL (valid until the next call that changes it). */
const struct row *srvo_row(const struct srv_oracle *o, const char *user,
                           const char *table, const char *id);
/* The user's change sequence: the number of changes applied so far. */
uint64_t srvo_seq(const struct srv_oracle *o, const char *user);

/* INV-CONVERGE: compare one server row with the reference row of the same
 * user/table/id: deleted flag, field names and values (tombstones with their
 * fields; stamps and seq are not compared). 0 if equal, 1 with a message in
 * why[0..n) naming table/id/field and both values. Marks the reference row
 * as compared. */
int srvo_compare_row(struct srv_oracle *o, const char *user,
                     const struct row *server_row, char *why, size_t n);
/* After comparing all of a user's server rows: 1 with a message naming the
 * first (table, id order, bytewise) reference row never compared, else 0.
 * Either way it clears the user's compared marks (a new round can start). */
int srvo_missing(struct srv_oracle *o, const char *user, char *why, size_t n);

#endif
