/*
 * device_int.h — the device's internal state, shared by device.c (inputs,
 * app calls, lifecycle, status), run.c (the sync run state machine: push,
 * pull, initial pages, master re-download, failure and retry) and
 * apply.c (installing server rows, acks and conflicts). Not for callers
 * outside model/.
 */
#ifndef SYNCSIM_DEVICE_INT_H
#define SYNCSIM_DEVICE_INT_H

#include "device.h"
#include "store.h"

enum run_phase { PH_NONE = 0, PH_PUSH, PH_PULL, PH_INITIAL, PH_MASTER };
enum breaker_state { BR_CLOSED = 0, BR_OPEN, BR_HALF_OPEN };

/* One sync run; at most one holds the lock. A run whose lock was taken away
 * (COORD-6 force-release, logout) becomes the zombie: its late response is
 * recognised and fenced (COORD-12). */
struct run {
    bool active;
    enum sync_kind kind;
    bool push_only;          /* OUT-5 periodic job */
    uint64_t gen;            /* fencing token */
    enum run_phase phase;
    bool push_done;          /* INV-ORDER */
    int64_t push_max_seq;    /* items written after the run started wait for the next one */
    int batch_n;             /* items of the batch in flight… */
    int64_t batch_seq[2];    /* …and their first and last local seq (OUT-3) */
    int master_table;        /* RUN-11: index of the read-only table re-downloading */
    uint64_t master_after;
    uint64_t req_id;         /* in flight (0: none) */
    enum wire_type req_type;
    int64_t started_mono;
    int64_t init_rows;       /* INIT-5 rate: rows this attempt */
};

struct device {
    sqlite3 *db;
    struct store *st;
    const struct env *env;
    const struct config *cfg;
    char name[NAME_MAX_LEN + 1];
    struct store_table tables[MAX_TABLES];
    int ntables;
    struct coord coord;

    bool started;
    bool online;
    bool session;
    char user[NAME_MAX_LEN + 1];
    char token[TOKEN_MAX + 1];
    bool initial_complete;
    int64_t completed_at;      /* wall ms of INIT-4 */
    bool gave_up;              /* INIT-3 */
    int init_failures;         /* INIT-3: failed attempts since the last success */
    uint64_t cursor;           /* RUN-2 */
    uint64_t op_seq;
    int64_t hlc;               /* CONF-4: greatest stamp issued or received */

    struct run run;
    struct run zombie;

    bool retry_pending;
    enum sync_kind retry_kind;
    int fail_streak;           /* RUN-4 backoff exponent */
    bool last_failed;          /* status `error` */
    bool debounce_pending;
    bool cooldown_armed;
    bool periodic_armed;

    enum breaker_state breaker;
    int breaker_fails;
    int64_t breaker_until;     /* mono time it half-opens */

    int outbox_n;              /* cached counts for status (§1.8) */
    int dead_n;
    int conflicts_n;
    int conflicts_open_n;
    enum dev_status status;
    bool status_emitted;
    int64_t last_pull_done_mono;
};

/* device.c */
void dev_emit(struct device *d, struct event *e);
struct coord_inputs dev_inputs(struct device *d);
void dev_request(struct device *d, enum sync_kind kind, bool push_only);
void dev_poll(struct device *d);
void dev_logout_internal(struct device *d, bool by_401);
int dev_refresh_counts(struct device *d);
int64_t dev_stamp_clock(struct device *d);
void dev_hlc_seen(struct device *d, int64_t at);
int dev_local_write(struct device *d, const char *table, const char *id, int n,
                    const char *const *names, const char *const *values, bool del,
                    bool resolves);
const struct store_table *dev_table(struct device *d, const char *name);

/* run.c */
void run_begin(struct device *d, enum sync_kind kind, uint64_t gen, bool push_only);
void run_on_response(struct device *d, const struct wire_msg *m);
void run_on_timeout(struct device *d);
void run_on_breaker_timer(struct device *d);
void run_fence_current(struct device *d);
void run_cancel_retry(struct device *d);

/* apply.c */
/* Installs a server row (pull, page, ack) under RUN-3 and CONF-5; inside the
 * caller's transaction. from_ack: CONF-5 moves base_seq even when guarded. */
int apply_server_row(struct device *d, const struct row *r, bool from_ack);
/* Handles one push result inside the transaction; fills events to emit
 * after the commit (RUN-10) into evs (cap entries), returns count or -1. */
int apply_push_result(struct device *d, const struct push_item *item,
                      const struct push_result *res, struct event *evs, int cap);

#endif
