/*
 * device.h — one device's client engine, wired together: local database
 * (rows, outbox, dead letters, conflicts, settings), the coordinator, the
 * sync run state machine (push then pull, RUN-*), initial sync (INIT-*),
 * client-side conflict handling (CONF-*), status and events (§1.8).
 *
 * Sans-I/O: every entry point is an input (app call, timer fired, message
 * received, connectivity change); effects go through the env given at
 * dev_open. A crash is dev_close() without anything else — all memory gone —
 * and dev_open() + dev_start() on the database the driver reopened.
 *
 * Every app call returns 0 on success or a negative DEV_E* code; refused
 * writes also emit `app.write_refused reason` (SPEC §1.8).
 */
#ifndef SYNCSIM_DEVICE_H
#define SYNCSIM_DEVICE_H

#include <sqlite3.h>

#include "config.h"
#include "coord.h"
#include "env.h"
#include "row.h"

struct device;

/* Timer ids a device sets through env->set_timer. */
enum dev_timer {
    DT_DEBOUNCE = 0,   /* OUT-4 */
    DT_RETRY,          /* RUN-4, INIT-3 */
    DT_COOLDOWN,       /* COORD-11: pending follow-up waiting on the cooldown */
    DT_PERIODIC,       /* OUT-5 */
    DT_REQUEST,        /* RUN-6 */
    DT_BREAKER,        /* RUN-5 half-open */
    DT_COUNT
};

enum dev_error {
    DEV_OK = 0,
    DEV_EREFUSED = -1,  /* refused by a rule (event says why) */
    DEV_EINVAL = -2,    /* bad arguments (unknown table, limits) */
    DEV_ESTORAGE = -3,  /* SQLite failed (disk full, I/O error): nothing stored */
    DEV_ESTATE = -4     /* not possible in this state (not started, logged in) */
};

enum dev_status {
    ST_LOGGED_OUT = 0, ST_INITIAL, ST_OFFLINE, ST_SYNCING, ST_DEADLETTER,
    ST_ERROR, ST_PENDING, ST_SYNCED
};
const char *dev_status_name(enum dev_status s);

/* What the simulator's checks and scenario assertions observe. */
struct dev_state {
    bool started;
    bool session;
    char user[NAME_MAX_LEN + 1];
    bool online;
    bool initial_complete;
    bool initial_gave_up;
    bool lock_held;
    enum sync_kind holder;
    bool followup_pending;
    enum sync_kind followup_kind;
    bool request_in_flight;
    bool retry_pending;
    bool debounce_pending;
    bool run_active;           /* a run holds the lock and has not ended */
    bool run_push_done;        /* INV-ORDER: the current run's push phase ended */
    int outbox;                /* items */
    int deadletters;
    int conflicts;
    int conflicts_unresolved;
    enum dev_status status;
    uint64_t cursor;
    int64_t initial_completed_at;   /* wall ms, 0 if never */
    uint64_t generation;
    int64_t last_pull_done_mono;    /* when the last pull phase completed (-1: never) */
};

/* Opens the device on db (schema created or migrated; PRAGMA
 * synchronous=FULL). tables is the scenario's declaration, used when the
 * database has none yet (a migrated database keeps its own). name is the
 * device id used in op ids and stamps. NULL with a message on error. */
struct device *dev_open(sqlite3 *db, const struct env *env, const struct config *cfg,
                        const char *name, const struct table_decl *tables, int ntables,
                        char *err, size_t errlen);
/* Frees all memory; touches neither the database nor the env (a crash). */
void dev_close(struct device *d);
/* A crash and a new process on the same connection, for harnesses that do
 * it thousands of times a second: everything the device holds in memory is
 * reset as by dev_close + dev_open (its store's memo too), except the
 * store's prepared statements (they carry no state between calls), so the
 * database may be changed in between. dev_start follows as usual. 0, or -1
 * with a message (then d is closed). */
int dev_recycle(struct device *d, char *err, size_t errlen);

/* Process start: clears a persisted holder (COORD-7), emits status, raises
 * RUN-8's background trigger or INIT-1's initial request. Device starts online. */
void dev_start(struct device *d);

/* Session (SPEC §1.8 login is out of band: the driver got the token). */
int dev_login(struct device *d, const char *user, const char *token);
int dev_logout(struct device *d);
int dev_cancel_initial(struct device *d);   /* INIT-3 cancel-and-logout */

/* App writes (§1.1, INIT-2, OUT-4). names/values: n pairs. */
int dev_write(struct device *d, const char *table, const char *id, int n,
              const char *const *names, const char *const *values);
int dev_delete(struct device *d, const char *table, const char *id);

/* Sync triggers as the app or OS would call them (no debounce). */
void dev_trigger(struct device *d, enum sync_kind kind);
/* Connectivity the device is told about. */
void dev_set_online(struct device *d, bool online);
void dev_on_timer(struct device *d, int id);
/* A response from the server (bytes borrowed). Unknown, late or duplicated
 * responses are ignored (RUN-6). */
void dev_on_message(struct device *d, const uint8_t *msg, size_t len);

/* COORD-10 migration: declares a new synced table and closes the gate. */
int dev_migrate_add_table(struct device *d, const struct table_decl *t);
/* OUT-3: dead letters back to the outbox, then a repository trigger. */
int dev_requeue(struct device *d);
/* CONF-2 manual resolution. */
int dev_resolve(struct device *d, const char *table, const char *id, bool take_local);

/* Observation (checks, scenarios, reports). */
void dev_get_state(struct device *d, struct dev_state *st);
/* 1 found (tombstones included), 0 absent, -1 error. */
int dev_get_row(struct device *d, const char *table, const char *id, struct row *out);
/* Rows of the synced tables, table then id order; stops on nonzero. */
int dev_foreach_row(struct device *d, int (*fn)(void *arg, const struct row *r), void *arg);
/* Op ids in the outbox and the dead letters (INV-DURABLE), in local order. */
int dev_foreach_op(struct device *d, int (*fn)(void *arg, const char *op_id, bool dead), void *arg);
/* Is (table, id) covered by a dead letter or an unresolved conflict?
 * (INV-CONVERGE exceptions) */
bool dev_row_excepted(struct device *d, const char *table, const char *id);
int dev_tables(struct device *d, struct table_decl *out, int cap);
const char *dev_name(const struct device *d);
/* The op seq of the last successful local write ("name:seq" is its op id). */
uint64_t dev_last_op_seq(const struct device *d);
sqlite3 *dev_db(struct device *d);

#endif
