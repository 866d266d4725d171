/*
 * world.h — the deterministic simulated world: virtual time, an event heap,
 * 1–WORLD_MAX_DEV devices each on its own simulated file system, the server
 * on its own, a simulated network with faults, device clocks with skew and
 * jumps, and the invariant checks of SPEC §2 after every step.
 *
 * Drivers (the scenario runner, the swarm workload) advance time with
 * world_run_before(t) — every step scheduled before t runs, then the clock
 * is at t — and act with the world_* actions at that instant, so statements
 * at one instant run before any other step at that instant (SPEC §4).
 *
 * A violation stops the world: world_failed() is then true and
 * world_failure() says which invariant, at which step, and why.
 */
#ifndef SYNCSIM_WORLD_H
#define SYNCSIM_WORLD_H

#include <stdio.h>

#include "config.h"
#include "device.h"
#include "event.h"
#include "orch.h"
#include "rng.h"
#include "server.h"
#include "trace.h"

#define WORLD_MAX_DEV 8
#define WORLD_MAX_USERS 8
#define WORLD_EPOCH_MS 1767225600000LL   /* 2026-01-01T00:00:00Z (SPEC §3) */

/* The fault profile (SPEC §3). Probabilities are per message or per step. */
struct faults {
    double loss, dup;              /* per message, each direction */
    int64_t delay_min, delay_max;  /* uniform delay, ms (default 10..10) */
    double tail;                   /* chance of a long-tail delay … */
    int64_t tail_max;              /* … up to this many ms */
    double server_error;           /* a request answered 500/503 */
    double throttle;               /* a request answered 429 with Retry-After */
    int64_t retry_after;           /* ms */
    double crash;                  /* per device action: kill the device */
    double power;                  /* fraction of crashes that are power losses */
    double partition;              /* per workload tick: partition a device */
    double flap;                   /* per workload tick: offline/online */
    double clock_jump;             /* per workload tick: jump a device clock */
    int64_t clock_jump_max;        /* ms, both directions */
    double server_crash;           /* per workload tick */
    double disk;                   /* per workload tick: a write/sync error */
};

/* The simulated ERP behind the orchestrator (SPEC §1.9): every import
 * takes a delay drawn uniformly from delay_min..delay_max (both 0: exactly
 * cfg.erp_delay_ms, the scenario default), then fails with probability
 * fail, or never answers with probability hang (the run then times out,
 * ORCH-4). A swarm seed draws these; scenarios use erp_delay only. */
struct erp_profile {
    double fail, hang;
    int64_t delay_min, delay_max;
};

struct world_device_spec {
    char name[NAME_MAX_LEN + 1];
    char user[NAME_MAX_LEN + 1];
    int64_t skew_ms;
};

struct world_params {
    uint64_t seed;
    struct config cfg;
    int ndev;
    struct world_device_spec devs[WORLD_MAX_DEV];
    int ntables;
    struct table_decl tables[MAX_TABLES];
    int rows[MAX_TABLES];          /* server rows at start, per user */
    struct faults faults;
    struct erp_profile erp;        /* the ERP's latency, failures and hangs */
    bool orchestrator;             /* swarm: schedule on at start, orchestrator workload */
    bool keep_events;              /* keep every event for assertions */
    FILE *trace_out;               /* full trace, or NULL */
};

/* One logged event (scenario assertions, reports). */
struct world_event {
    int64_t at;
    int dev;                        /* -1: server */
    struct event ev;
};

struct world;

/* Call once per process before any database is opened (the CLI and the
 * benchmark do): the simulator and its tools have no threads, so SQLite
 * runs without its mutexes and memory accounting (5 % of a swarm run).
 * Without it everything works, only slower. */
void world_sqlite_single_thread(void);

struct world *world_new(const struct world_params *p, char *err, size_t errlen);
void world_free(struct world *w);

/* Run every step scheduled before t; the clock is then t. Returns 0, or -1
 * once an invariant failed (the world stops there). */
int world_run_before(struct world *w, int64_t t);
int64_t world_now(const struct world *w);
/* Time of the earliest pending step, or INT64_MAX. */
int64_t world_next_step(const struct world *w);

/* Actions (SPEC §4). dev is an index; they return 0, or a DEV_E* code /
 * -1 where the action was refused (refusals are events, not errors). */
int world_start(struct world *w, int dev);
int world_crash(struct world *w, int dev, bool power);
int world_restart(struct world *w, int dev);
/* The device dies after nwrites more writes to its storage — in the middle
 * of whatever transaction is running then (a process kill or a power loss). */
void world_crash_at_write(struct world *w, int dev, int nwrites, bool power);
/* The next storage operation of that kind fails (enum simfs_fault). */
void world_disk_fault(struct world *w, int dev, int kind);
int world_login(struct world *w, int dev, const char *user);   /* NULL: its own user */
int world_logout(struct world *w, int dev);
int world_cancel_initial(struct world *w, int dev);
int world_write(struct world *w, int dev, const char *table, const char *id, int n,
                const char *const *names, const char *const *values);
int world_delete(struct world *w, int dev, const char *table, const char *id);
int world_trigger(struct world *w, int dev, enum sync_kind kind);
int world_set_online(struct world *w, int dev, bool online);
int world_partition(struct world *w, int dev, bool on);
/* Asymmetric partition: dirs is 1 (device→server dropped), 2 (server→device
 * dropped), 3 (both) or 0 (healed). */
int world_partition_dir(struct world *w, int dev, unsigned dirs);
/* Wall-clock drift of a device, parts per million (SPEC §3). */
void world_set_drift(struct world *w, int dev, int64_t ppm);
/* Persistent disk full: the device's storage holds at most bytes (0: no
 * limit). Healed by heal all. */
void world_disk_capacity(struct world *w, int dev, int64_t bytes);
void world_heal(struct world *w, int dev);   /* dev < 0: heal all (faults, server fail) */
int world_clock_jump(struct world *w, int dev, int64_t delta_ms);
int world_migrate(struct world *w, int dev, const char *table);
int world_server_write(struct world *w, const char *user, const char *table, const char *id,
                       int n, const char *const *names, const char *const *values, bool del,
                       const char *by);
void world_server_fail(struct world *w, int n, int status, int64_t retry_after_ms);
int world_server_crash(struct world *w);
int world_server_restart(struct world *w);
int world_server_revoke(struct world *w, int dev);
/* The orchestrator (SPEC §1.9, §4). orchestrate and `orchestrator on|off`
 * are refused (-1) while the server is down; the ERP is outside the server,
 * so `erp write` works whenever (stamped with the server's clock). */
int world_orchestrate(struct world *w, enum orch_job job, bool full);
int world_orchestrator(struct world *w, bool on);
int world_erp_write(struct world *w, const char *table, const char *id, int n,
                    const char *const *names, const char *const *values);
int world_requeue(struct world *w, int dev);
/* A hostile client's request straight to the server (SRV-4, INV-SCOPE). */
void world_hostile(struct world *w);
int world_resolve(struct world *w, int dev, const char *table, const char *id, bool local);

/* SPEC §4 quiesce: heal, restart, trigger, run until every started
 * logged-in device is idle and has pulled after its user's last change.
 * 0, or -1 with why (the limit passed, or an invariant failed). */
int world_quiesce(struct world *w, int64_t limit_ms, char *why, size_t n);
/* INV-CONVERGE for the started, logged-in devices (0, or 1 with why). */
int world_check_converged(struct world *w, char *why, size_t n);

/* Observation. */
int world_ndev(const struct world *w);
int world_dev_index(const struct world *w, const char *name);
const char *world_dev_name(const struct world *w, int dev);
const char *world_dev_user(const struct world *w, int dev);
bool world_dev_running(const struct world *w, int dev);
struct device *world_device(struct world *w, int dev);   /* NULL while crashed */
struct srv *world_server(struct world *w);               /* NULL while down */
struct orch *world_orch(struct world *w);               /* NULL while the server is down */
/* Requests of a kind a device sent (push: PUSH_REQ; pull: PULL/PAGE_REQ). */
int world_requests(const struct world *w, int dev, bool push);
const struct world_event *world_events(const struct world *w, int *n);
bool world_failed(const struct world *w);
const char *world_failure(const struct world *w);     /* "INV-X: …" */
const char *world_failure_invariant(const struct world *w);
uint64_t world_step_count(const struct world *w);
uint64_t world_hash(const struct world *w);
uint64_t world_event_count(const struct world *w);
struct trace *world_trace(struct world *w);
struct rng *world_rng(struct world *w, enum rng_stream s);
const struct world_params *world_params(const struct world *w);
/* Invariant checks performed so far, per id (reports). */
void world_check_counts(const struct world *w, const char *const **ids, const uint64_t **counts, int *n);

/* Called after each step (and after each action) with the events that step
 * emitted — the scenario runner's `on` lines. */
typedef void (*world_step_hook)(void *arg, struct world *w, int dev, const struct event *ev);
void world_set_event_hook(struct world *w, world_step_hook fn, void *arg);
/* Flag a failure from outside (a scenario's expectation, say). */
void world_fail(struct world *w, const char *invariant, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
