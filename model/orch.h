/*
 * orch.h — the server-side import orchestrator (SPEC §1.9, ORCH-1 … ORCH-5).
 *
 * A pure state machine over four import jobs (orders, customers, products,
 * prices; base priority 4, 3, 2, 1). One run at a time; requests never
 * block (orch_request returns at once with what it did); a bounded queue of
 * at most one entry per job where requests collapse; effective priority =
 * base + whole minutes waited / 5 (no starvation); the automatic schedule
 * (an incremental run per 15-minute slot of server time, in turn); a run
 * timeout on the server's monotonic clock; status and health per job, each
 * change an event (`orch.status job status mode [reason]`, `orch.health job
 * healthy`).
 *
 * The world around it goes through two interfaces:
 *   - struct env (env.h): the server clock (now_ms: slots and health;
 *     mono_ms: waits and the run timeout), events, and timers with the ids
 *     of enum orch_timer — the driver calls orch_on_timer(id) when one fires;
 *   - struct orch_driver: start_import(run_id, …) asks the driver to fetch
 *     from the ERP (which may be slow, fail or hang); the driver answers,
 *     later, with orch_import_done(run_id, ok). A late answer (after a
 *     timeout, for a run lost in a crash) is ignored: runs carry an id.
 * On success the orchestrator applies the ERP's rows of the job's table
 * (every row: full; rows changed since the start of the job's last
 * successful run: incremental) to every user of the server with srv_write
 * stamped `erp`; a table the server does not declare imports nothing.
 *
 * Durable state (in the server's SQLite database, so it survives a server
 * crash, SRV-5): per job the start and end of its last successful run,
 * consecutive failures, last outcome and health; the running run; the run
 * id counter; the schedule switch; the server's first start. The queue is
 * memory only: a crash loses it, and the run that was running is recorded
 * at the next orch_start as failed with reason=server_crash (ORCH-4).
 *
 * Life cycle: orch_open (after srv_open, on the same db) → orch_start
 * (recovery, health, timers; emits) → requests, timers, results →
 * orch_close (a crash is orch_close without anything else: nothing in
 * memory matters). Single-threaded; no call may be made from inside a
 * driver callback.
 */
#ifndef SYNCSIM_ORCH_H
#define SYNCSIM_ORCH_H

#include <sqlite3.h>

#include "config.h"
#include "env.h"
#include "erp.h"
#include "server.h"

/* ORCH-1: in this order (the order of scn.h's enum scn_job). */
enum orch_job { ORCH_ORDERS = 0, ORCH_CUSTOMERS, ORCH_PRODUCTS, ORCH_PRICES, ORCH_JOB_COUNT };
/* ORCH-2 (the order of the scenario's `full|incremental`). */
enum orch_mode { ORCH_FULL = 0, ORCH_INCREMENTAL };
/* ORCH-5 (the order of scn.h's enum scn_orch_status). */
enum orch_status { ORCH_ST_IDLE = 0, ORCH_ST_QUEUED, ORCH_ST_RUNNING, ORCH_ST_COMPLETED,
                   ORCH_ST_ERROR };
/* What a request did (ORCH-1, ORCH-2); it never waits. */
enum orch_answer { ORCH_STARTED = 0, ORCH_QUEUED, ORCH_COLLAPSED };
/* What a result did (ORCH-4). */
enum orch_done { ORCH_DONE_ACCEPTED = 0, ORCH_DONE_TIMED_OUT, ORCH_DONE_IGNORED };
/* Server-side timer ids the orchestrator sets through env->set_timer. */
enum orch_timer { ORCH_T_SLOT = 0, ORCH_T_TIMEOUT, ORCH_T_HEALTH, ORCH_TIMER_COUNT };

#define ORCH_QUEUE_MAX ORCH_JOB_COUNT        /* ORCH-2: one entry per job */
#define ORCH_SLOT_MS 900000                  /* ORCH-3: 15-minute stagger */
#define ORCH_AGING_MS 300000                 /* ORCH-3: +1 priority per 5 whole minutes */
#define ORCH_STARVE_MS 3600000               /* ORCH-3, INV-ORCH: 60 min */
#define ORCH_HEALTH_FAILS 3                  /* ORCH-5 */
#define ORCH_HEALTH_STALE_MS 7200000         /* ORCH-5: 2 h */
#define ORCH_MAX_USERS 256                   /* users one import writes to */
#define ORCH_REASON_MAX 23

/* One queue entry (ORCH-2): oldest queue time, full absorbs incremental. */
struct orch_entry {
    enum orch_job job;
    enum orch_mode mode;
    int64_t queued_mono;
};

/* A run starting or ending, for checkers (INV-ORCH). On START, queue is
 * the queue just before the pick (the started entry included; empty when a
 * request found nothing running and started at once). */
enum orch_obs_op { ORCH_OBS_START = 0, ORCH_OBS_END };
struct orch_obs {
    enum orch_obs_op op;
    uint64_t run_id;
    enum orch_job job;
    enum orch_mode mode;             /* the mode the run uses */
    int64_t mono;                    /* server monotonic time of the step */
    int64_t started_mono;            /* END: when the run started */
    bool ok;                         /* END */
    const char *reason;              /* END and !ok: erp, timeout, apply */
    int nqueue;                      /* START */
    struct orch_entry queue[ORCH_QUEUE_MAX];
};

struct orch_driver {
    void *ctx;
    /* Fetch job's rows from the ERP: since_ms is ERP_SINCE_ALL for a full
     * run, else the start (server wall ms) of the last successful run.
     * Answer later with orch_import_done(run_id, ok) — never from inside. */
    void (*start_import)(void *ctx, uint64_t run_id, enum orch_job job, enum orch_mode mode,
                         int64_t since_ms);
    /* Optional (may be NULL): every run start and end. */
    void (*observe)(void *ctx, const struct orch_obs *obs);
};

struct orch;

/* Opens on the server's db (creating the orchestrator's tables); srv and
 * erp may be NULL (then imports apply nothing: unit tests of the state
 * machine). Borrows every pointer until orch_close. NULL with err. */
struct orch *orch_open(sqlite3 *db, struct srv *srv, const struct erp *erp,
                       const struct env *env, const struct config *cfg,
                       const struct orch_driver *drv, char *err, size_t errlen);
/* Server start: records a run lost in a crash as failed (server_crash),
 * evaluates health, arms the schedule and health timers. 0 or -1. */
int orch_start(struct orch *o);
void orch_close(struct orch *o);
/* The last error, with context ("" if none). */
const char *orch_errmsg(const struct orch *o);

/* ORCH-1, ORCH-2: returns at once; a run it starts is only asked of the
 * driver (start_import), never waited for. */
enum orch_answer orch_request(struct orch *o, enum orch_job job, enum orch_mode mode);
/* ORCH-3: the automatic schedule on or off (persisted). 0 or -1. */
int orch_set_schedule(struct orch *o, bool on);
/* The driver's answer for run_id (ORCH-4: late or unknown ones ignored). */
enum orch_done orch_import_done(struct orch *o, uint64_t run_id, bool ok);
/* One of enum orch_timer fired. */
void orch_on_timer(struct orch *o, int id);

/* Observation (scenarios, checks). */
enum orch_status orch_status(const struct orch *o, enum orch_job job);
bool orch_healthy(const struct orch *o, enum orch_job job);
bool orch_schedule_on(const struct orch *o);
/* Is a run running? Its id, job and start (monotonic) if so. */
bool orch_running(const struct orch *o, uint64_t *run_id, enum orch_job *job,
                  int64_t *started_mono);
/* Copies the queue (≤ cap entries, in arrival order); returns its length. */
int orch_queue(const struct orch *o, struct orch_entry *out, int cap);

/* ORCH-1, ORCH-3 arithmetic, shared with checkers. */
int orch_base_priority(enum orch_job job);
int orch_effective_priority(const struct orch_entry *e, int64_t now_mono);
/* The job of the slot at wall ms (a multiple of ORCH_SLOT_MS). */
enum orch_job orch_slot_job(int64_t slot_wall_ms);

const char *orch_job_name(enum orch_job j);
int orch_job_parse(const char *s, enum orch_job *out);
const char *orch_mode_name(enum orch_mode m);
const char *orch_status_name(enum orch_status s);

#endif
