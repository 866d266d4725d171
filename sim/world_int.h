/*
 * world_int.h — the world's internal state, shared by world.c (steps, env,
 * network, actions), check.c (invariants of SPEC §2) and quiesce.c. Not for
 * drivers: they use world.h.
 */
#ifndef SYNCSIM_WORLD_INT_H
#define SYNCSIM_WORLD_INT_H

#include "heap.h"
#include "oracle.h"
#include "oracle_srv.h"
#include "vfs.h"
#include "world.h"

/* SK_SRV_TIMER: b = orchestrator timer id, gen = server incarnation << 32 |
 * timer generation. SK_ERP_DONE: an ERP answer, gen = run id, b = ok (it
 * is delivered across server crashes: the orchestrator must ignore it). */
enum step_kind { SK_TIMER = 1, SK_TO_SERVER, SK_TO_DEVICE, SK_SRV_TIMER, SK_ERP_DONE };
enum { PART_UP = 1, PART_DOWN = 2, PART_BOTH = 3 };   /* device→server, server→device */

#define ACKED_MAX 200000

struct sdev {
    struct world *w;
    int idx;
    struct world_device_spec spec;
    char user[NAME_MAX_LEN + 1];     /* who it is logged in as (or last tried) */
    struct simfs *fs;
    sqlite3 *db;
    struct device *dev;
    bool running;
    bool crashed;
    uint32_t incarnation;
    int64_t boot;                     /* world time of process start (mono 0) */
    int64_t clock_offset;             /* jumps */
    uint32_t tgen[DT_COUNT];
    struct env env;
    struct rng rng;
    unsigned partitioned;             /* PART_UP | PART_DOWN: directions dropped */
    int64_t drift_ppm;                /* wall clock drift, parts per million */
    bool disk_faulted;                /* a storage fault since the last start */
    bool disk_full;                   /* a capacity limit in force (until healed) */
    bool power_armed;                 /* the armed crash-at-write is a power loss */
    struct oracle oracle;
    int push_reqs, pull_reqs;
    /* checker state, from the event stream */
    bool holding;
    int64_t progress_mono;
    char done_tables[MAX_TABLES][NAME_MAX_LEN + 1];
    int ndone;
    uint64_t pull_sent_step;          /* quiesce: a pull sent after the last change */
    uint64_t run_start_step;
    uint64_t synced_step;             /* the pull of the last completed run */
    sqlite3_stmt *q_guard, *q_pending, *q_any;   /* INV-GUARD queries, prepared once per open */
    struct guard_entry *guard;        /* INV-GUARD: pending rows before a delivery */
    int nguard, guard_cap;
    uint64_t *acked;                  /* INV-DURABLE: op seqs acknowledged to the app */
    int nacked, acked_cap;
};

struct hook_ev { int dev; struct event ev; };
struct guard_entry { char table[NAME_MAX_LEN + 1]; char id[ROW_ID_MAX + 1]; struct stamp st; };

struct world {
    struct world_params p;
    struct config cfg;
    struct rng rng[RS_COUNT];
    int64_t now;
    uint64_t steps;
    struct heap heap;
    struct trace trace;
    int ndev;
    struct sdev devs[WORLD_MAX_DEV];
    /* server */
    struct simfs *sfs;
    sqlite3 *sdb;
    struct srv *srv;
    struct env senv;
    bool server_up;
    int fail_n;
    int fail_status;
    int64_t fail_retry_after;
    struct faults faults;             /* in force (heal clears) */
    struct srv_oracle *srvo;
    /* orchestrator (SPEC §1.9) */
    struct orch *orch;                /* with the server process: NULL while down */
    struct erp *erp;                  /* the ERP: outlives server crashes */
    struct rng erp_rng;               /* its own stream: enabling it reshuffles nothing */
    uint32_t srv_incarnation;
    uint32_t srv_tgen[ORCH_TIMER_COUNT];
    struct { bool running; uint64_t run_id; int64_t started; } orch_chk;   /* INV-ORCH */
    struct table_decl migrated[MAX_TABLES];   /* tables added by `migrate`, re-declared at server start */
    int nmigrated;
    uint64_t *once;                   /* INV-ONCE: hashes of (user, op id) */
    size_t once_n, once_cap;
    uint64_t last_change_step[WORLD_MAX_USERS];
    char users[WORLD_MAX_USERS][NAME_MAX_LEN + 1];
    int nusers;
    /* events */
    struct world_event *log;
    int nlog, log_cap;
    uint64_t nevents;
    struct hook_ev *hq;
    int nhq, hq_cap;
    world_step_hook hook;
    void *hook_arg;
    bool in_hook;
    /* failure */
    bool failed;
    char failure[1024];
    char failure_inv[32];
    uint64_t check_counts[16];
};

/* check.c */
enum check_id {
    CK_MUTEX = 0, CK_GATE, CK_COOLDOWN, CK_COLLAPSE, CK_TIMEOUT, CK_STALE, CK_DURABLE,
    CK_ONCE, CK_GUARD, CK_ORDER, CK_SCOPE, CK_CONVERGE, CK_RESUME, CK_ORCH, CK_ORACLE, CK_COUNT
};
extern const char *const check_names[CK_COUNT];
void check_event(struct sdev *d, const struct event *e);
void check_request(struct sdev *d, const struct wire_msg *m);
void check_response(struct world *w, const char *user, const struct wire_msg *m);
void check_after_step(struct world *w, int dev, bool delivered);
void check_durable(struct sdev *d);
void guard_snapshot(struct sdev *d, const uint8_t *msg, size_t len);
void guard_close(struct sdev *d);
void check_guard(struct sdev *d);
void check_server_commit(struct world *w, const char *user, const char *op_id,
                         const struct push_item *item, const struct row *written,
                         enum push_outcome outcome);
int user_index(struct world *w, const char *user);
/* INV-ORCH: every run start/end (the orchestrator's observe hook), and
 * after every step (waits, run ages); check_orch_lost at a server crash. */
void check_orch_obs(struct world *w, const struct orch_obs *obs);
void check_orch(struct world *w);
void check_orch_lost(struct world *w);

/* world.c */
int64_t sdev_wall(const struct sdev *d);
int64_t sdev_mono(const struct sdev *d);

#endif
