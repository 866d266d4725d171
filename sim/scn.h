/*
 * scn.h — the scenario language of SPEC §4, parsed into an AST the scenario
 * runner executes. This header is the language's manual for the runner.
 *
 * The parser reads the whole file up front and checks every name (devices,
 * users, tables, events, kinds, statuses, jobs) and every value (durations,
 * probabilities, config overrides) when the file is read, not when a line
 * runs (SPEC §4). Bad input yields an error `FILE:LINE:COL: expected …,
 * found …` (the CLI exits 2 with it). It never crashes on any input (it is
 * fuzzed): every token, line, count and nesting level is bounded, and it
 * never recurses on input.
 *
 * Lexical rules
 *   - Lines end with \n (a \r before it is ignored); at most SCN_MAX_LINE
 *     bytes, SCN_MAX_TOKENS words. A leading UTF-8 BOM is skipped.
 *   - `#` outside double quotes starts a comment to the end of the line.
 *     A whole-line comment `# live: yes` (spaces optional) sets scn->live.
 *   - Words are separated by spaces or tabs. A word may contain
 *     double-quoted parts with \" and \\ escapes: `"a name"`, `text="a b"`.
 *     Control bytes (other than tab) are errors; UTF-8 is fine.
 *   - Durations: 0, 250ms, 5s, 1.5s, 5m, 1h, 1m30s (units h > m > s > ms,
 *     each once, whole milliseconds, at most 366 days: duration_parse of
 *     config.h). Signed ones (skew, clock) take a leading + or -.
 *   - Counts are decimal; the seed may be decimal or 0x-hex.
 *
 * File layout
 *   Declarations first (`scenario`, `seed`, `device`, `table`, `config`,
 *   `faults`), then statements in file order. A declaration after the first
 *   statement is an error: names must be settled before any line uses them.
 *
 * Checks at read time (SPEC §4)
 *   - Devices: declared by an earlier `device` line (≤ SCN_MAX_DEVICES);
 *     names [A-Za-z0-9_-] ≤ 63 bytes, not server|erp|all|converged|
 *     orchestrator. Users: named on a `device` line; not row|no|event|write|
 *     delete|fail|crash|restart|revoke (words that follow `server`).
 *   - Tables: the `table` lines (SQL-safe identifiers), or the four
 *     defaults when there are none, plus any added by an earlier `migrate`.
 *   - Events: ev_name_known(); orch.* only on the server side, the rest
 *     only on devices. Filter keys must be fields SPEC §1.8 lists for that
 *     event (a typo would make `no event` pass forever); kind/holder, job,
 *     mode, winner and status values must be valid spellings.
 *   - Kinds (kind_parse), strategies (strategy_parse), statuses, jobs,
 *     config overrides (config_set), fault keys and values.
 *   - Key=value pairs of one statement have distinct keys.
 *
 * Timing (SPEC §4 "Timing")
 *   Every top-level statement has a resolved time: (epoch, at_ms). Epoch 0
 *   starts at the scenario start; epoch k > 0 starts at the instant the k-th
 *   `quiesce` ended, which only the run knows. `at T` sets the time to T
 *   from the start of the current epoch (so after a quiesce, `at T` counts
 *   from its end — a decision; SPEC only says such lines run when it ended);
 *   `after D` adds D to the previous timed line's time; a line without a
 *   prefix runs at the previous timed line's time. Times never go backwards
 *   in file order (`at 5s` after `at 10s` is an error), so the runner can
 *   run statements in file order, each when the clock reaches its time.
 *   An `on` line is armed at its resolved time; its nested statement has no
 *   time of its own (it runs when the trigger fires, plus on.delay_ms).
 *
 * Ownership: scn_parse fills a struct scn that owns every string and array
 * it points to; scn_free releases them. On error *out is left freed and
 * zeroed, so scn_free on it is always safe.
 */
#ifndef SYNCSIM_SCN_H
#define SYNCSIM_SCN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "device.h"   /* enum dev_status */
#include "types.h"

/* Limits (ARCHITECTURE "Style": a limit on everything). */
#define SCN_MAX_INPUT (4 << 20)    /* bytes of a scenario file */
#define SCN_MAX_LINE 16384         /* bytes per line: room for a write past ROW_MAX_BYTES */
#define SCN_MAX_TOKENS 512         /* words per line */
#define SCN_MAX_STMTS 4096         /* top-level statements */
#define SCN_MAX_NESTED 1024        /* statements nested in `on` lines */
#define SCN_MAX_DEVICES 8
#define SCN_MAX_USERS SCN_MAX_DEVICES
#define SCN_MAX_KV ROW_HARD_FIELDS /* key=value pairs per statement */
#define SCN_MAX_CONFIG 64          /* config overrides */
#define SCN_MAX_FAULTS 32          /* faults key=value pairs */
#define SCN_MAX_ROWS 1000000       /* `table … rows N` */
#define SCN_MAX_COUNT 1000000000   /* N of counts, `server fail N`, … */
#define SCN_MAX_ID 256             /* bytes of a row id (longer than ROW_ID_MAX on
                                      purpose: a refused write is a scenario's business) */
#define SCN_MAX_NAME 255           /* bytes of the scenario name */
#define SCN_ERR_MAX 512

struct scn_error {
    char file[256];              /* as given (truncated) */
    int line, col;               /* 1-based; col counts bytes */
    char msg[SCN_ERR_MAX];       /* "FILE:LINE:COL: expected …, found …" */
};

/* One key=value pair. Strings are owned by the struct scn. */
struct scn_kv {
    const char *key;
    const char *val;
};

struct scn_device {
    char name[NAME_MAX_LEN + 1];
    int user;                    /* index into scn->users */
    int64_t skew_ms;             /* wall-clock skew, signed (SPEC §3) */
};

enum scn_faults_mode {
    SCN_FAULTS_NONE = 0,         /* default */
    SCN_FAULTS_SWARM,            /* the seed picks (as in a swarm run) */
    SCN_FAULTS_LIST              /* the key=value pairs in scn->faults */
};

/*
 * `faults` keys the parser knows (others are errors). P is a probability
 * 0..1 (decimal, e.g. 0.05), per message for network keys, per request for
 * server keys, per step for device and clock keys. A..B is a duration range
 * (A ≤ B, uniform).
 *   loss=P dup=P delay=A..B          network (SPEC §3; the SPEC §4 minimum)
 *   partition=P flap=P               silent partitions; told connectivity flaps
 *   server_error=P throttle=P        5xx; 429 with Retry-After
 *   server_crash=P                   server crash
 *   crash=P power=P downtime=A..B    device kill -9 / power loss; restart delay
 *   disk=P                           fsync/write errors and disk full
 *   clock_skew=D clock_jump=P        max |skew| (a duration); wall-clock jumps
 */
struct scn_fault {
    const char *key, *val;       /* as written */
    double p;                    /* probability keys */
    int64_t lo_ms, hi_ms;        /* range keys: A..B; clock_skew: D, D */
};

enum scn_timing { SCN_TIME_NONE = 0, SCN_TIME_AT, SCN_TIME_AFTER };

enum scn_kind {
    SCN_ACTION = 0,              /* see enum scn_action */
    SCN_EXPECT,                  /* see enum scn_expect */
    SCN_ON,                      /* see struct scn_on */
    SCN_QUIESCE                  /* heal all, restart, trigger, run until idle (SPEC §4) */
};

/*
 * Actions. Operand fields of struct scn_stmt each one sets (others are
 * zero/false/NULL, and dev = user = count = ms = -1):
 *   START RESTART LOGOUT CANCEL_INITIAL OFFLINE ONLINE PARTITION REQUEUE: dev
 *   CRASH          dev, power (`crash D power`)
 *   LOGIN          dev, user (the device's own user when not named)
 *   WRITE          dev, table, id, kv (≥ 1 field)
 *   DELETE         dev, table, id
 *   TRIGGER        dev, sync_kind
 *   HEAL           dev, or all (dev = -1)
 *   CLOCK          dev, ms (signed jump of D's wall clock)
 *   MIGRATE        dev, table (the new table: rw, empty, lww). Every later
 *                  line may name it, also when this line is the body of an
 *                  `on` that may never fire (names are settled at read time)
 *   SERVER_WRITE   user, table, id, kv (≥ 1 field)
 *   SERVER_DELETE  user, table, id
 *                  user: the first user named on a `device` line, as for
 *                  `server row`; `server USER write …` / `server USER delete
 *                  …` name another (an extension mirroring `server USER row`)
 *   SERVER_FAIL    n, http_status (500|503|429, default 500), ms
 *                  (retry-after, -1 when not given)
 *   SERVER_CRASH SERVER_RESTART: nothing
 *   SERVER_REVOKE  dev
 *   ORCHESTRATE    job, full (false: incremental)
 *   ORCHESTRATOR   on (false: off)
 *   ERP_WRITE      table, id, kv (≥ 1)
 *   RESOLVE        dev, table, id, take_local (false: remote)
 */
enum scn_action {
    SCN_A_START = 0, SCN_A_CRASH, SCN_A_RESTART, SCN_A_LOGIN, SCN_A_LOGOUT,
    SCN_A_CANCEL_INITIAL, SCN_A_WRITE, SCN_A_DELETE, SCN_A_TRIGGER, SCN_A_OFFLINE,
    SCN_A_ONLINE, SCN_A_PARTITION, SCN_A_HEAL, SCN_A_CLOCK, SCN_A_MIGRATE,
    SCN_A_SERVER_WRITE, SCN_A_SERVER_DELETE, SCN_A_SERVER_FAIL, SCN_A_SERVER_CRASH,
    SCN_A_SERVER_RESTART, SCN_A_SERVER_REVOKE, SCN_A_ORCHESTRATE, SCN_A_ORCHESTRATOR,
    SCN_A_ERP_WRITE, SCN_A_REQUEUE, SCN_A_RESOLVE,
    SCN_A_COUNT
};

/*
 * Assertions (`expect …`) and the operand fields each sets:
 *   LOCK_FREE QUEUED NOT_QUEUED: dev
 *   LOCK_HELD      dev, sync_kind
 *   INITIAL        dev, complete (false: incomplete)
 *   OUTBOX DEADLETTER: dev, n
 *   CONFLICTS      dev, n, unresolved (count only unresolved ones)
 *   STATUS         dev, status
 *   ROW            dev, table, id, kv (0 or more fields that must match)
 *   NO_ROW         dev, table, id
 *   SERVER_ROW     user (the first user unless named), table, id, kv
 *   SERVER_NO_ROW  user, table, id
 *   EVENT          dev, event, kv (filters), count (-1: at least once;
 *                  N: exactly N times since the scenario began)
 *   NO_EVENT       dev, event, kv
 *   REQUESTS       dev, push (false: pull), n
 *   CONVERGED      nothing
 *   ORCH_STATUS    job, orch_status
 *   ORCH_HEALTH    job, healthy
 *   SERVER_EVENT   event (orch.*), kv, count (as EVENT)
 */
enum scn_expect {
    SCN_E_LOCK_FREE = 0, SCN_E_LOCK_HELD, SCN_E_QUEUED, SCN_E_NOT_QUEUED,
    SCN_E_INITIAL, SCN_E_OUTBOX, SCN_E_DEADLETTER, SCN_E_CONFLICTS, SCN_E_STATUS,
    SCN_E_ROW, SCN_E_NO_ROW, SCN_E_SERVER_ROW, SCN_E_SERVER_NO_ROW, SCN_E_EVENT,
    SCN_E_NO_EVENT, SCN_E_REQUESTS, SCN_E_CONVERGED, SCN_E_ORCH_STATUS,
    SCN_E_ORCH_HEALTH, SCN_E_SERVER_EVENT,
    SCN_E_COUNT
};

/* Orchestrator jobs, in ORCH-1 order (base priority 4, 3, 2, 1). */
enum scn_job { SCN_JOB_ORDERS = 0, SCN_JOB_CUSTOMERS, SCN_JOB_PRODUCTS, SCN_JOB_PRICES,
               SCN_JOB_COUNT };
/* ORCH-5 statuses. */
enum scn_orch_status { SCN_ORCH_IDLE = 0, SCN_ORCH_QUEUED, SCN_ORCH_RUNNING,
                       SCN_ORCH_COMPLETED, SCN_ORCH_ERROR, SCN_ORCH_COUNT };

/*
 * `on D EVENT [k=v…] [count N] [after D] STATEMENT`: when D emits EVENT
 * with those fields for the count-th time, run nested statement `stmt`
 * (index into scn->nested), delay_ms later (0: right after the emitting
 * step). Fires once. `on server orch.… …` watches the server's events
 * (dev = -1) — an extension of the SPEC grammar.
 */
struct scn_on {
    int dev;                     /* device index; -1: the server */
    const char *event;
    struct scn_kv *kv;
    int nkv;
    int64_t count;               /* ≥ 1, default 1 */
    int64_t delay_ms;            /* ≥ 0, default 0 */
    int stmt;                    /* index into scn->nested */
};

struct scn_stmt {
    int line, col;               /* where the line's first word is */
    enum scn_timing timing;      /* the prefix as written */
    int64_t timing_ms;           /* T of `at T`, D of `after D` */
    int epoch;                   /* quiesce statements before this one */
    int64_t at_ms;               /* resolved: ms from the start of the epoch;
                                    -1 for nested statements */
    enum scn_kind kind;
    enum scn_action action;      /* kind == SCN_ACTION */
    enum scn_expect expect;      /* kind == SCN_EXPECT */

    /* Operands (see the tables above). */
    int dev;                     /* device index or -1 */
    int user;                    /* user index or -1 */
    const char *table;           /* NULL if none */
    const char *id;              /* NULL if none */
    const char *event;           /* event name (SPEC §1.8) or NULL */
    struct scn_kv *kv;           /* fields or event filters, in file order */
    int nkv;
    enum sync_kind sync_kind;
    enum dev_status status;
    enum scn_job job;
    enum scn_orch_status orch_status;
    int64_t n;
    int64_t count;               /* -1 when not given */
    int64_t ms;
    int http_status;
    bool power, all, full, on, take_local, complete, unresolved, push, healthy;

    struct scn_on on_trigger;    /* kind == SCN_ON */
};

struct scn {
    const char *name;            /* `scenario "…"`; "" when absent */
    uint64_t seed;               /* default 1 */
    bool live;                   /* `# live: yes` (SPEC §6) */

    struct scn_device devices[SCN_MAX_DEVICES];
    int ndevices;
    char users[SCN_MAX_USERS][NAME_MAX_LEN + 1];  /* in order of first `device` line */
    int nusers;

    /* Synced tables in declaration order (the four defaults when the file
     * declares none); ready for dev_open. table_rows[i]: `rows N` of
     * tables[i] (0 when absent). Tables added by `migrate` are not here. */
    struct table_decl tables[MAX_TABLES];
    int64_t table_rows[MAX_TABLES];
    int ntables;
    bool tables_declared;        /* false: the defaults */

    struct scn_kv config_kv[SCN_MAX_CONFIG];  /* overrides as written */
    int nconfig;
    struct config config;        /* config_default + the overrides, validated */

    enum scn_faults_mode faults_mode;
    struct scn_fault faults[SCN_MAX_FAULTS];
    int nfaults;

    struct scn_stmt *stmts;      /* top level, file order */
    int nstmts;
    struct scn_stmt *nested;     /* bodies of `on` lines */
    int nnested;
    int nquiesce;                /* epochs = nquiesce + 1 */

    struct scn_arena *arena;     /* private: owns every string above */
};

/* Parses text[0..len) (need not be NUL-terminated; NUL bytes are errors).
 * filename is used in messages only. Returns 0, or -1 with *err set and
 * *out freed. */
int scn_parse(const char *filename, const char *text, size_t len, struct scn *out,
              struct scn_error *err);
/* Reads path (≤ SCN_MAX_INPUT bytes) and parses it. 0 or -1 as above
 * (unreadable files: "expected a readable scenario file, found …" at 0:0). */
int scn_parse_file(const char *path, struct scn *out, struct scn_error *err);
/* Frees everything scn owns and zeroes it. NULL and zeroed structs are fine. */
void scn_free(struct scn *scn);

/* Names for traces and messages ("server write", "lock held", "orders",
 * "completed"); "?" when out of range. */
const char *scn_action_name(enum scn_action a);
const char *scn_expect_name(enum scn_expect e);
const char *scn_job_name(enum scn_job j);
const char *scn_orch_status_name(enum scn_orch_status s);

#endif
