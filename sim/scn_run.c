/*
 * scn_run.c — the scenario runner (scn_run.h, SPEC §4).
 *
 * One parsed scenario drives one simulated world. Top-level statements run in
 * file order, each when the clock reaches its resolved time (epoch start +
 * at_ms): the runner advances the world to just before that instant
 * (world_run_before) and then executes the statement, so statements at one
 * instant run in file order before any other step at that instant (SPEC §4
 * "Timing"). `quiesce` hands the clock to world_quiesce and starts a new epoch
 * at the instant it ended.
 *
 * `on` lines are armed at their resolved time. The world's event hook counts
 * matching events; the Nth match runs the nested statement at once (inside
 * the hook: right after the emitting step, before any other step) or queues
 * it `after D` later. The main loop advances the world one instant at a time
 * whenever a queued statement could fall before its next target, so a delayed
 * statement runs exactly at its time.
 *
 * Decisions where SPEC §4 is silent (also in scenarios/README.md):
 *   - `D row T ID k=v…` needs the row present and live (not a tombstone);
 *     the reserved key `deleted=true|false` asserts the tombstone flag
 *     instead (and then a tombstone matches). `D no row T ID` means absent:
 *     a tombstone is a row (SPEC §1.1 never deletes physically), so `no row`
 *     fails on it with "was tombstone {…}".
 *   - A delayed `on` statement and a top-level statement due at the same
 *     instant: the delayed one runs first (it was scheduled earlier).
 *   - A delayed `on` statement falling inside a `quiesce` runs when the
 *     quiesce ends (the quiesce owns the clock); the trace marks it late.
 *   - Per-step fault kinds of `faults` (crash, power, disk, partition,
 *     flap, clock_jump, server_crash; downtime) are played by a fault ticker
 *     here, as the swarm workload does, until `heal all` or `quiesce`.
 *     Network and server keys (loss, dup, delay, server_error, throttle) go
 *     to the world. `clock_skew=D` adds a seeded skew in [-D, D] to every
 *     device.
 *   - Orchestrator statements drive the world's orchestrator (ORCH-*);
 *     `server event` and `on server` watch its events (dev -1).
 */
#include "scn_run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "dumpdb.h"
#include "swarm.h"
#include "world.h"

#define RUN_TAIL_LINES 20              /* trace lines printed with a failure */
#define RUN_TICK_MIN_MS 50             /* fault ticker period (as the swarm workload) */
#define RUN_TICK_MAX_MS 5000
#define RUN_DOWNTIME_MIN_MS 100        /* `downtime` default: restart delay of a crash */
#define RUN_DOWNTIME_MAX_MS 120000
#define RUN_THROTTLE_RETRY_MS 5000     /* Retry-After of `throttle` 429s */
#define RUN_CLOCK_JUMP_MAX_MS 3600000  /* |jump| of `clock_jump` */
#define RUN_SERVER_BACK_P 0.2          /* per tick: a ticker-crashed server restarts */
#define RUN_SKEW_STREAM 200            /* rng stream of `clock_skew` (not a world stream) */
#define RUN_ACTUAL_MAX 768
#define RUN_TEXT_MAX 512
#define NO_HANDLER "has no handler in this runner"

/* An `on` statement waiting for its delay (SPEC §4 `after D`). */
struct delayed {
    int64_t at;
    uint64_t seq;                      /* scheduling order: ties run in it */
    int on;                            /* index of the top-level `on` statement */
};

struct watcher {
    bool armed, fired;
    int64_t seen;                      /* matching events since armed */
};

/* Per-step faults of the `faults` line (SPEC §3), played like the swarm. */
struct ticker {
    bool on;                           /* until `heal all` or `quiesce` */
    int64_t next;                      /* next fault tick (INT64_MAX: none) */
    struct faults f;
    int64_t down_lo, down_hi;
    int64_t restart_at[WORLD_MAX_DEV]; /* crashed by the ticker: back then (-1) */
    bool server_down;                  /* the ticker crashed the server */
    bool drift;                        /* `faults swarm` chose clock faults: drift too */
};

struct runner {
    const struct scn *s;
    const char *file;
    struct world *w;
    int64_t epoch_start;               /* world time the current epoch began */
    struct watcher *watch;             /* one per top-level statement */
    struct delayed *q;                 /* bounded: each `on` fires once */
    int nq, qcap;
    uint64_t qseq;
    struct ticker tk;
    int last_line;                     /* the statement being run (for messages) */
    bool stop;                         /* an expectation failed */
    bool in_hook;                      /* running inside the world's event hook */
    struct scn_outcome *out;
};

/* ------------------------------------------------------------- helpers */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Appends printf output to buf[0..n) at *len, truncating safely. */
static void put(char *buf, size_t n, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
    SS_ASSERT(buf && n > 0 && *len < n);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, n - *len, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    *len = *len + (size_t)k >= n ? n - 1 : *len + (size_t)k;
}

/* " k=v…"; long values are cut (a 4 KiB value would flood the trace). */
static void put_kvs(char *buf, size_t n, size_t *len, const struct scn_kv *kv, int nkv)
{
    enum { CUT = 40 };
    for (int i = 0; i < nkv; i++) {
        size_t vl = strlen(kv[i].val);
        if (vl <= CUT) put(buf, n, len, " %s=%s", kv[i].key, kv[i].val);
        else put(buf, n, len, " %s=%.*s…(%zu bytes)", kv[i].key, CUT, kv[i].val, vl);
    }
}

static void rtrace(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rtrace(struct runner *r, const char *fmt, ...)
{
    SS_ASSERT(r && r->w && fmt);
    char line[TRACE_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    trace_line(world_trace(r->w), world_now(r->w), "scenario", "%s", line);
}

/* Stops the scenario with "FILE:LINE …" and halts the world's loops (a
 * failure inside the event hook or a quiesce must stop them too). */
static void fail(struct runner *r, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct runner *r, int line, const char *fmt, ...)
{
    SS_ASSERT(r && r->out && fmt);
    SS_ASSERT(line >= 0);
    if (r->stop) return;   /* the first failure is the one that matters */
    char what[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    r->stop = true;
    r->out->passed = false;
    r->out->line = line;
    snprintf(r->out->message, sizeof r->out->message, "%s:%d %s", r->file, line, what);
    /* Inside the event hook (an `on` statement, maybe during a quiesce) the
     * world's own loop must stop too; elsewhere the runner's loop does. */
    if (r->w && r->in_hook) world_fail(r->w, "SCENARIO", "%s", r->out->message);
}

static bool halted(const struct runner *r) { return r->stop || world_failed(r->w); }

static const char *dev_label(const struct runner *r, int dev)
{
    if (dev == -1) return "server";   /* `on server orch.…`, `expect server event` */
    return dev >= 0 && dev < r->s->ndevices ? r->s->devices[dev].name : "?";
}

/* ------------------------------------------------------ world parameters */

static void faults_none(struct faults *f)
{
    memset(f, 0, sizeof *f);
    f->delay_min = f->delay_max = 10;   /* SPEC §3: no faults, exactly 10 ms */
}

/* Maps one `faults` key (scn.h lists them) onto the profile. */
static void fault_key(const struct scn_fault *k, struct faults *f, struct ticker *tk)
{
    SS_ASSERT(k && k->key && f && tk);
    SS_ASSERT(k->p >= 0.0 && k->p <= 1.0 && k->lo_ms <= k->hi_ms);
    const char *key = k->key;
    if (!strcmp(key, "loss")) f->loss = k->p;
    else if (!strcmp(key, "dup")) f->dup = k->p;
    else if (!strcmp(key, "delay")) { f->delay_min = k->lo_ms; f->delay_max = k->hi_ms; }
    else if (!strcmp(key, "partition")) f->partition = k->p;
    else if (!strcmp(key, "flap")) f->flap = k->p;
    else if (!strcmp(key, "server_error")) f->server_error = k->p;
    else if (!strcmp(key, "throttle")) { f->throttle = k->p; f->retry_after = RUN_THROTTLE_RETRY_MS; }
    else if (!strcmp(key, "server_crash")) f->server_crash = k->p;
    else if (!strcmp(key, "crash")) f->crash = k->p;
    else if (!strcmp(key, "power")) f->power = k->p;
    else if (!strcmp(key, "clock_jump")) { f->clock_jump = k->p; f->clock_jump_max = RUN_CLOCK_JUMP_MAX_MS; }
    else if (!strcmp(key, "disk")) f->disk = k->p;   /* played by the ticker */
    else if (!strcmp(key, "downtime")) { tk->down_lo = k->lo_ms; tk->down_hi = k->hi_ms; }
    /* clock_skew is applied to the devices (build_params). */
}

static int build_faults(const struct scn *s, struct faults *f, struct ticker *tk, char *err, size_t n)
{
    SS_ASSERT(s && f && tk);
    SS_ASSERT(s->nfaults >= 0 && s->nfaults <= SCN_MAX_FAULTS);
    faults_none(f);
    tk->down_lo = RUN_DOWNTIME_MIN_MS;
    tk->down_hi = RUN_DOWNTIME_MAX_MS;
    if (s->faults_mode == SCN_FAULTS_LIST) {
        for (int i = 0; i < s->nfaults; i++) fault_key(&s->faults[i], f, tk);
    } else if (s->faults_mode == SCN_FAULTS_SWARM) {
        /* The seed picks the fault profile only; topology stays the file's. */
        struct swarm_opts o;
        struct world_params sp;
        unsigned mask;
        swarm_opts_default(&o);
        o.faults = 1;
        if (swarm_params(s->seed, &o, &sp, &mask, err, n) != 0) return -1;
        *f = sp.faults;
        for (int k = 0; k < SWARM_FAULT_KINDS; k++)
            if ((mask & (1u << k)) && strcmp(swarm_fault_names[k], "clock") == 0) tk->drift = true;
    }
    tk->f = *f;
    return 0;
}

static int build_params(const struct scn *s, struct world_params *p, struct ticker *tk,
                        FILE *trace, char *err, size_t n)
{
    SS_ASSERT(s->ndevices >= 0 && s->ndevices <= WORLD_MAX_DEV);
    SS_ASSERT(s->ntables >= 0 && s->ntables <= MAX_TABLES);
    memset(p, 0, sizeof *p);
    p->seed = s->seed;
    p->cfg = s->config;
    p->ndev = s->ndevices;
    for (int i = 0; i < s->ndevices; i++) {
        const struct scn_device *d = &s->devices[i];
        snprintf(p->devs[i].name, sizeof p->devs[i].name, "%s", d->name);
        snprintf(p->devs[i].user, sizeof p->devs[i].user, "%s", s->users[d->user]);
        p->devs[i].skew_ms = d->skew_ms;
    }
    p->ntables = s->ntables;
    for (int t = 0; t < s->ntables; t++) {
        p->tables[t] = s->tables[t];
        p->rows[t] = (int)s->table_rows[t];
    }
    if (build_faults(s, &p->faults, tk, err, n) != 0) return -1;
    for (int i = 0; i < s->nfaults && s->faults_mode == SCN_FAULTS_LIST; i++) {
        if (strcmp(s->faults[i].key, "clock_skew") != 0 || s->faults[i].lo_ms <= 0) continue;
        struct rng g;
        rng_seed(&g, s->seed, RUN_SKEW_STREAM);
        for (int d = 0; d < p->ndev; d++)
            p->devs[d].skew_ms += rng_range(&g, -s->faults[i].lo_ms, s->faults[i].lo_ms);
    }
    p->keep_events = true;
    p->trace_out = trace;
    return 0;
}

/* ---------------------------------------------------------- fault ticker */

static void ticker_init(struct runner *r)
{
    struct ticker *tk = &r->tk;
    const struct faults *f = &tk->f;
    SS_ASSERT(r->w && tk->down_lo <= tk->down_hi);
    for (int i = 0; i < WORLD_MAX_DEV; i++) tk->restart_at[i] = -1;
    tk->on = f->crash > 0 || f->partition > 0 || f->flap > 0 || f->clock_jump > 0
             || f->server_crash > 0 || f->disk > 0;
    struct rng *g = world_rng(r->w, RS_WORKLOAD);
    for (int i = 0; tk->drift && i < r->s->ndevices; i++)   /* as swarm_run does */
        world_set_drift(r->w, i, rng_range(g, -500, 500));
    tk->next = tk->on ? rng_range(g, RUN_TICK_MIN_MS, RUN_TICK_MAX_MS) : INT64_MAX;
}

static int64_t ticker_next(const struct runner *r)
{
    int64_t t = r->tk.on ? r->tk.next : INT64_MAX;
    for (int i = 0; i < r->s->ndevices; i++)
        if (r->tk.restart_at[i] >= 0) t = min64(t, r->tk.restart_at[i]);
    return t;
}

static void ticker_off(struct runner *r)
{
    r->tk.on = false;
    r->tk.next = INT64_MAX;
}

/* One device's per-step faults, as swarm.c's do_faults: a kill or power
 * loss now or at an exact later storage write (mid-transaction), disk
 * errors or a full disk, asymmetric partitions, flaps and clock jumps. */
static void tick_device(struct runner *r, struct rng *g, int dev)
{
    struct world *w = r->w;
    const struct faults *f = &r->tk.f;
    SS_ASSERT(dev >= 0 && dev < r->s->ndevices);
    SS_ASSERT(world_dev_running(w, dev));
    if (rng_chance(g, f->crash)) {
        bool power = rng_chance(g, f->power);
        r->tk.restart_at[dev] = world_now(w) + rng_range(g, r->tk.down_lo, r->tk.down_hi);
        if (rng_chance(g, 0.5)) { world_crash(w, dev, power); return; }
        world_crash_at_write(w, dev, (int)rng_range(g, 0, 40), power);
    }
    if (rng_chance(g, f->disk)) {
        if (rng_chance(g, 0.2))   /* persistent disk full, until `heal all` */
            world_disk_capacity(w, dev, rng_chance(g, 0.5) ? 0 : rng_range(g, 20000, 400000));
        else
            world_disk_fault(w, dev, (int)rng_below(g, 3));
    }
    if (rng_chance(g, f->partition))
        world_partition_dir(w, dev, rng_chance(g, 0.4) ? 0 : (unsigned)rng_range(g, 1, 3));
    if (rng_chance(g, f->flap)) {
        struct dev_state st;
        dev_get_state(world_device(w, dev), &st);
        world_set_online(w, dev, !st.online);
    }
    if (rng_chance(g, f->clock_jump))
        world_clock_jump(w, dev, rng_range(g, -f->clock_jump_max, f->clock_jump_max));
}

/* Ticker-crashed devices come back after their downtime; one armed to die
 * at a later write that has not died yet is looked at again later. */
static void tick_restarts(struct runner *r, int64_t now)
{
    for (int i = 0; i < r->s->ndevices; i++) {
        if (r->tk.restart_at[i] < 0 || r->tk.restart_at[i] > now) continue;
        if (world_dev_running(r->w, i)) {
            r->tk.restart_at[i] = now + RUN_TICK_MAX_MS;
            continue;
        }
        r->tk.restart_at[i] = -1;
        world_restart(r->w, i);
    }
}

static void tick(struct runner *r)
{
    struct world *w = r->w;
    struct rng *g = world_rng(w, RS_WORKLOAD);
    int64_t now = world_now(w);
    SS_ASSERT(g && r->s->ndevices <= WORLD_MAX_DEV);
    tick_restarts(r, now);
    if (!r->tk.on || r->tk.next > now || r->s->ndevices == 0) return;
    r->tk.next = now + rng_range(g, RUN_TICK_MIN_MS, RUN_TICK_MAX_MS);
    int dev = (int)rng_below(g, (uint64_t)r->s->ndevices);
    if (world_dev_running(w, dev)) tick_device(r, g, dev);
    if (r->tk.server_down && rng_chance(g, RUN_SERVER_BACK_P)) {
        r->tk.server_down = world_server_restart(w) != 0;
    } else if (!r->tk.server_down && world_server(w) && rng_chance(g, r->tk.f.server_crash)) {
        r->tk.server_down = world_server_crash(w) == 0;
    }
}

/* ------------------------------------------------------------- actions */

static int write_row(struct runner *r, const struct scn_stmt *st, bool server)
{
    const char *names[SCN_MAX_KV], *values[SCN_MAX_KV];
    SS_ASSERT(st->nkv >= 0 && st->nkv <= SCN_MAX_KV);
    for (int i = 0; i < st->nkv; i++) {
        names[i] = st->kv[i].key;
        values[i] = st->kv[i].val;
    }
    SS_ASSERT(st->table && st->id);
    if (st->action == SCN_A_ERP_WRITE)
        return world_erp_write(r->w, st->table, st->id, st->nkv, names, values);
    if (server)
        return world_server_write(r->w, r->s->users[st->user], st->table, st->id, st->nkv,
                                  names, values, false, "server");
    return world_write(r->w, st->dev, st->table, st->id, st->nkv, names, values);
}

typedef int (*act_fn)(struct runner *r, const struct scn_stmt *st);

static int a_start(struct runner *r, const struct scn_stmt *st) { return world_start(r->w, st->dev); }
static int a_crash(struct runner *r, const struct scn_stmt *st)
{
    r->tk.restart_at[st->dev] = -1;   /* the scenario owns this device's life now */
    return world_crash(r->w, st->dev, st->power);
}
static int a_restart(struct runner *r, const struct scn_stmt *st)
{
    r->tk.restart_at[st->dev] = -1;
    return world_restart(r->w, st->dev);
}
static int a_login(struct runner *r, const struct scn_stmt *st)
{
    return world_login(r->w, st->dev, st->user >= 0 ? r->s->users[st->user] : NULL);
}
static int a_logout(struct runner *r, const struct scn_stmt *st) { return world_logout(r->w, st->dev); }
static int a_cancel(struct runner *r, const struct scn_stmt *st) { return world_cancel_initial(r->w, st->dev); }
static int a_write(struct runner *r, const struct scn_stmt *st) { return write_row(r, st, false); }
static int a_delete(struct runner *r, const struct scn_stmt *st)
{
    return world_delete(r->w, st->dev, st->table, st->id);
}
static int a_trigger(struct runner *r, const struct scn_stmt *st)
{
    return world_trigger(r->w, st->dev, st->sync_kind);
}
static int a_offline(struct runner *r, const struct scn_stmt *st) { return world_set_online(r->w, st->dev, false); }
static int a_online(struct runner *r, const struct scn_stmt *st) { return world_set_online(r->w, st->dev, true); }
static int a_partition(struct runner *r, const struct scn_stmt *st) { return world_partition(r->w, st->dev, true); }
static int a_heal(struct runner *r, const struct scn_stmt *st)
{
    if (st->all) ticker_off(r);   /* `heal all` ends the faults profile (SPEC §4) */
    world_heal(r->w, st->all ? -1 : st->dev);
    return 0;
}
static int a_clock(struct runner *r, const struct scn_stmt *st) { return world_clock_jump(r->w, st->dev, st->ms); }
static int a_migrate(struct runner *r, const struct scn_stmt *st) { return world_migrate(r->w, st->dev, st->table); }
static int a_server_write(struct runner *r, const struct scn_stmt *st) { return write_row(r, st, true); }
static int a_server_delete(struct runner *r, const struct scn_stmt *st)
{
    return world_server_write(r->w, r->s->users[st->user], st->table, st->id, 0, NULL, NULL,
                              true, "server");
}
static int a_server_fail(struct runner *r, const struct scn_stmt *st)
{
    SS_ASSERT(st->n >= 1 && st->n <= SCN_MAX_COUNT);
    /* No Retry-After given: 0 (the wire carries no negative value). */
    world_server_fail(r->w, (int)st->n, st->http_status, st->ms < 0 ? 0 : st->ms);
    return 0;
}
static int a_server_crash(struct runner *r, const struct scn_stmt *st)
{
    (void)st;
    r->tk.server_down = false;
    return world_server_crash(r->w);
}
static int a_server_restart(struct runner *r, const struct scn_stmt *st)
{
    (void)st;
    r->tk.server_down = false;
    return world_server_restart(r->w);
}
static int a_revoke(struct runner *r, const struct scn_stmt *st) { return world_server_revoke(r->w, st->dev); }
static int a_requeue(struct runner *r, const struct scn_stmt *st) { return world_requeue(r->w, st->dev); }
static int a_resolve(struct runner *r, const struct scn_stmt *st)
{
    return world_resolve(r->w, st->dev, st->table, st->id, st->take_local);
}

/* SPEC §1.9: scn.h's job order is orch.h's (ORCH-1). */
static int a_orchestrate(struct runner *r, const struct scn_stmt *st)
{
    return world_orchestrate(r->w, (enum orch_job)st->job, st->full);
}
static int a_orchestrator(struct runner *r, const struct scn_stmt *st) { return world_orchestrator(r->w, st->on); }
static int a_erp_write(struct runner *r, const struct scn_stmt *st) { return write_row(r, st, false); }

static const act_fn act_table[SCN_A_COUNT] = {
    [SCN_A_START] = a_start, [SCN_A_CRASH] = a_crash, [SCN_A_RESTART] = a_restart,
    [SCN_A_LOGIN] = a_login, [SCN_A_LOGOUT] = a_logout, [SCN_A_CANCEL_INITIAL] = a_cancel,
    [SCN_A_WRITE] = a_write, [SCN_A_DELETE] = a_delete, [SCN_A_TRIGGER] = a_trigger,
    [SCN_A_OFFLINE] = a_offline, [SCN_A_ONLINE] = a_online, [SCN_A_PARTITION] = a_partition,
    [SCN_A_HEAL] = a_heal, [SCN_A_CLOCK] = a_clock, [SCN_A_MIGRATE] = a_migrate,
    [SCN_A_SERVER_WRITE] = a_server_write, [SCN_A_SERVER_DELETE] = a_server_delete,
    [SCN_A_SERVER_FAIL] = a_server_fail, [SCN_A_SERVER_CRASH] = a_server_crash,
    [SCN_A_SERVER_RESTART] = a_server_restart, [SCN_A_SERVER_REVOKE] = a_revoke,
    [SCN_A_REQUEUE] = a_requeue, [SCN_A_RESOLVE] = a_resolve,
    [SCN_A_ORCHESTRATE] = a_orchestrate, [SCN_A_ORCHESTRATOR] = a_orchestrator,
    [SCN_A_ERP_WRITE] = a_erp_write,
};

/* The action as a short line for the trace. */
static void fmt_action(const struct runner *r, const struct scn_stmt *st, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    put(buf, n, &len, "%s", scn_action_name(st->action));
    if (st->dev >= 0) put(buf, n, &len, " %s", dev_label(r, st->dev));
    if (st->action == SCN_A_TRIGGER) put(buf, n, &len, " %s", kind_name(st->sync_kind));
    if (st->action == SCN_A_HEAL && st->all) put(buf, n, &len, " all");
    if (st->action == SCN_A_CLOCK) put(buf, n, &len, " %+lldms", (long long)st->ms);
    if (st->action == SCN_A_SERVER_FAIL)
        put(buf, n, &len, " %lld status %d", (long long)st->n, st->http_status);
    if (st->table) put(buf, n, &len, " %s", st->table);
    if (st->id) put(buf, n, &len, " %s", st->id);
    put_kvs(buf, n, &len, st->kv, st->nkv);
}

static void run_action(struct runner *r, const struct scn_stmt *st)
{
    SS_ASSERT(st->kind == SCN_ACTION && (int)st->action >= 0 && st->action < SCN_A_COUNT);
    SS_ASSERT(st->dev < r->s->ndevices && st->user < r->s->nusers);
    char text[RUN_TEXT_MAX];
    fmt_action(r, st, text, sizeof text);
    act_fn fn = act_table[st->action];
    if (!fn) { fail(r, st->line, "%s: " NO_HANDLER, text); return; }
    rtrace(r, "line %d: %s", st->line, text);
    int rc = fn(r, st);
    /* SPEC §4: a refused action is an event, not a scenario error. */
    if (rc != 0 && !halted(r))
        rtrace(r, "line %d: %s refused rc=%d", st->line, scn_action_name(st->action), rc);
}

/* -------------------------------------------------------- expectations */

/* An evaluator: true when the expectation holds; otherwise `actual` says
 * what was found instead. */
typedef bool (*expect_fn)(struct runner *r, const struct scn_stmt *st, char *actual, size_t n);

/* The device's state, or NULL with why in actual. */
static struct device *dev_state(struct runner *r, int dev, struct dev_state *ds, char *actual, size_t n)
{
    SS_ASSERT(dev >= 0 && dev < r->s->ndevices);
    struct device *d = world_device(r->w, dev);
    if (!d) {
        snprintf(actual, n, "not running (%s is crashed or not started)", dev_label(r, dev));
        return NULL;
    }
    dev_get_state(d, ds);
    return d;
}

static bool e_lock(struct runner *r, const struct scn_stmt *st, char *actual, size_t n)
{
    struct dev_state ds;
    if (!dev_state(r, st->dev, &ds, actual, n)) return false;
    if (ds.lock_held) snprintf(actual, n, "held %s", kind_name(ds.holder));
    else snprintf(actual, n, "free");
    if (st->expect == SCN_E_LOCK_FREE) return !ds.lock_held;
    return ds.lock_held && ds.holder == st->sync_kind;
}

static bool e_queued(struct runner *r, const struct scn_stmt *st, char *actual, size_t n)
{
    struct dev_state ds;
    if (!dev_state(r, st->dev, &ds, actual, n)) return false;
    if (ds.followup_pending) snprintf(actual, n, "queued (follow-up %s)", kind_name(ds.followup_kind));
    else snprintf(actual, n, "not queued");
    return ds.followup_pending == (st->expect == SCN_E_QUEUED);
}

static bool e_initial(struct runner *r, const struct scn_stmt *st, char *actual, size_t n)
{
    struct dev_state ds;
    if (!dev_state(r, st->dev, &ds, actual, n)) return false;
    snprintf(actual, n, "%s%s", ds.initial_complete ? "complete" : "incomplete",
             ds.initial_gave_up ? " (gave up)" : "");
    return ds.initial_complete == st->complete;
}

static bool e_count(struct runner *r, const struct scn_stmt *st, char *actual, size_t n)
{
    SS_ASSERT(st->expect == SCN_E_OUTBOX || st->expect == SCN_E_DEADLETTER || st->expect == SCN_E_CONFLICTS);
    SS_ASSERT(st->n >= 0);
    struct dev_state ds;
    if (!dev_state(r, st->dev, &ds, actual, n)) return false;
    int v = st->expect == SCN_E_OUTBOX ? ds.outbox
          : st->expect == SCN_E_DEADLETTER ? ds.deadletters
          : st->unresolved ? ds.conflicts_unresolved : ds.conflicts;
    snprintf(actual, n, "%d", v);
    return v == st->n;
}

static bool e_status(struct runner *r, const struct scn_stmt *st, char *actual, size_t n)
{
    struct dev_state ds;
    if (!dev_state(r, st->dev, &ds, actual, n)) return false;
    snprintf(actual, n, "%s", dev_status_name(ds.status));
    return ds.status == st->status;
}

static void fmt_row(const struct row *row, int found, char *actual, size_t n)
{
    char fields[RUN_ACTUAL_MAX - 32];
    if (found != 1) { snprintf(actual, n, found == 0 ? "absent" : "unreadable"); return; }
    row_format(row, fields, sizeof fields);
    snprintf(actual, n, "%s{%s}", row->deleted ? "tombstone " : "", fields);
}

/* The listed fields match; `deleted=true|false` is the tombstone flag, and
 * without it the row must be live (see the header comment). */
static bool row_matches(const struct row *row, const struct scn_kv *kv, int nkv)
{
    SS_ASSERT(row && (kv || nkv == 0));
    SS_ASSERT(nkv >= 0 && nkv <= SCN_MAX_KV);
    bool flag_given = false;
    for (int i = 0; i < nkv; i++) {
        if (strcmp(kv[i].key, "deleted") == 0) {
            flag_given = true;
            bool want = strcmp(kv[i].val, "true") == 0 || strcmp(kv[i].val, "1") == 0;
            if (row->deleted != want) return false;
            continue;
        }
        const char *v = row_get(row, kv[i].key);
        if (!v || strcmp(v, kv[i].val) != 0) return false;
    }
    return flag_given || !row->deleted;
}

/* A row of a device (dev ≥ 0) or of the server (user ≥ 0): 1, 0, -1, or
 * -2 when it cannot be read (actual says why). */
static int get_row(struct runner *r, const struct scn_stmt *st, bool server, struct row *row,
                   char *actual, size_t n)
{
    if (server) {
        struct srv *srv = world_server(r->w);
        if (!srv) { snprintf(actual, n, "unreadable (the server is down)"); return -2; }
        SS_ASSERT(st->user >= 0 && st->user < r->s->nusers);
        return srv_get_row(srv, r->s->users[st->user], st->table, st->id, row);
    }
    struct dev_state ds;
    struct device *d = dev_state(r, st->dev, &ds, actual, n);
    if (!d) return -2;
    return dev_get_row(d, st->table, st->id, row);
}

static bool e_row(struct runner *r, const struct scn_stmt *st, char *actual, size_t n)
{
    bool server = st->expect == SCN_E_SERVER_ROW || st->expect == SCN_E_SERVER_NO_ROW;
    bool want_absent = st->expect == SCN_E_NO_ROW || st->expect == SCN_E_SERVER_NO_ROW;
    struct row row = {0};
    int found = get_row(r, st, server, &row, actual, n);
    if (found == -2) return false;
    fmt_row(&row, found, actual, n);
    bool ok = want_absent ? found == 0 : found == 1 && row_matches(&row, st->kv, st->nkv);
    row_free(&row);
    return ok;
}

static bool event_match(const struct event *e, const char *name, const struct scn_kv *kv, int nkv)
{
    SS_ASSERT(e && name);
    SS_ASSERT(nkv >= 0 && (kv || nkv == 0));
    if (strcmp(e->name, name) != 0) return false;
    for (int i = 0; i < nkv; i++) {
        const char *v = ev_get(e, kv[i].key);
        if (!v || strcmp(v, kv[i].val) != 0) return false;
    }
    return true;
}

/* "N times", plus the device's last few events of that name (whatever their
 * fields) so a failure shows what happened instead. */
static int64_t count_events(struct runner *r, const struct scn_stmt *st, char *actual, size_t n)
{
    enum { SHOW = 3 };
    int nev, ring[SHOW], seen = 0;
    SS_ASSERT(st->event && st->dev >= -1 && st->dev < r->s->ndevices);   /* -1: the server */
    const struct world_event *log = world_events(r->w, &nev);
    SS_ASSERT(nev >= 0 && (log || nev == 0));   /* keep_events is on */
    int64_t hits = 0;
    for (int i = 0; i < nev; i++) {
        if (log[i].dev != st->dev || strcmp(log[i].ev.name, st->event) != 0) continue;
        if (event_match(&log[i].ev, st->event, st->kv, st->nkv)) hits++;
        ring[seen++ % SHOW] = i;
    }
    int nshown = seen < SHOW ? seen : SHOW;
    size_t len = 0;
    put(actual, n, &len, "%lld time%s", (long long)hits, hits == 1 ? "" : "s");
    if (nshown == 0) put(actual, n, &len, " (%s emitted no %s)", dev_label(r, st->dev), st->event);
    for (int k = 0; k < nshown; k++) {
        char ev[256];
        int idx = ring[(seen - nshown + k) % SHOW];
        ev_format(&log[idx].ev, ev, sizeof ev);
        int64_t t = log[idx].at;
        put(actual, n, &len, "%s t=%lld.%03lld %s", k == 0 ? " (last:" : ";", (long long)(t / 1000),
            (long long)(t % 1000), ev);
    }
    if (nshown) put(actual, n, &len, ")");
    return hits;
}

static bool e_event(struct runner *r, const struct scn_stmt *st, char *actual, size_t n)
{
    int64_t hits = count_events(r, st, actual, n);
    if (st->expect == SCN_E_NO_EVENT) return hits == 0;
    return st->count < 0 ? hits >= 1 : hits == st->count;
}

static bool e_requests(struct runner *r, const struct scn_stmt *st, char *actual, size_t n)
{
    SS_ASSERT(st->dev >= 0 && st->dev < r->s->ndevices);
    SS_ASSERT(st->n >= 0);
    int v = world_requests(r->w, st->dev, st->push);
    snprintf(actual, n, "%d", v);
    return v == st->n;
}

static bool e_converged(struct runner *r, const struct scn_stmt *st, char *actual, size_t n)
{
    (void)st;
    char why[RUN_ACTUAL_MAX];
    if (world_check_converged(r->w, why, sizeof why) == 0) { snprintf(actual, n, "converged"); return true; }
    snprintf(actual, n, "not converged: %s", why);
    return false;
}

/* `orchestrator JOB STATUS|healthy|unhealthy` (ORCH-5); the server must be up. */
static bool e_orch(struct runner *r, const struct scn_stmt *st, char *actual, size_t n)
{
    struct orch *o = world_orch(r->w);
    enum orch_job j = (enum orch_job)st->job;
    if (!o) { snprintf(actual, n, "unknown (the server is down)"); return false; }
    if (st->expect == SCN_E_ORCH_HEALTH) {
        snprintf(actual, n, "%s", orch_healthy(o, j) ? "healthy" : "unhealthy");
        return orch_healthy(o, j) == st->healthy;
    }
    snprintf(actual, n, "%s", orch_status_name(orch_status(o, j)));
    return (int)orch_status(o, j) == (int)st->orch_status;
}

static const expect_fn expect_table[SCN_E_COUNT] = {
    [SCN_E_LOCK_FREE] = e_lock, [SCN_E_LOCK_HELD] = e_lock, [SCN_E_QUEUED] = e_queued,
    [SCN_E_NOT_QUEUED] = e_queued, [SCN_E_INITIAL] = e_initial, [SCN_E_OUTBOX] = e_count,
    [SCN_E_DEADLETTER] = e_count, [SCN_E_CONFLICTS] = e_count, [SCN_E_STATUS] = e_status,
    [SCN_E_ROW] = e_row, [SCN_E_NO_ROW] = e_row, [SCN_E_SERVER_ROW] = e_row,
    [SCN_E_SERVER_NO_ROW] = e_row, [SCN_E_EVENT] = e_event, [SCN_E_NO_EVENT] = e_event,
    [SCN_E_REQUESTS] = e_requests, [SCN_E_CONVERGED] = e_converged,
    [SCN_E_ORCH_STATUS] = e_orch, [SCN_E_ORCH_HEALTH] = e_orch, [SCN_E_SERVER_EVENT] = e_event,
};

/* The expectation as written (near enough) for messages. */
static void fmt_expect(const struct runner *r, const struct scn_stmt *st, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    enum scn_expect e = st->expect;
    bool server = e == SCN_E_SERVER_ROW || e == SCN_E_SERVER_NO_ROW || e == SCN_E_SERVER_EVENT;
    if (st->dev >= 0) put(buf, n, &len, "%s ", dev_label(r, st->dev));
    if (server) put(buf, n, &len, "server ");
    if (server && st->user > 0) put(buf, n, &len, "%s ", r->s->users[st->user]);
    static const char *const words[SCN_E_COUNT] = {
        [SCN_E_LOCK_FREE] = "lock free", [SCN_E_LOCK_HELD] = "lock held", [SCN_E_QUEUED] = "queued",
        [SCN_E_NOT_QUEUED] = "not queued", [SCN_E_INITIAL] = "initial", [SCN_E_OUTBOX] = "outbox",
        [SCN_E_DEADLETTER] = "deadletter", [SCN_E_CONFLICTS] = "conflicts", [SCN_E_STATUS] = "status",
        [SCN_E_ROW] = "row", [SCN_E_NO_ROW] = "no row", [SCN_E_SERVER_ROW] = "row",
        [SCN_E_SERVER_NO_ROW] = "no row", [SCN_E_EVENT] = "event", [SCN_E_NO_EVENT] = "no event",
        [SCN_E_REQUESTS] = "requests", [SCN_E_CONVERGED] = "converged",
        [SCN_E_ORCH_STATUS] = "orchestrator", [SCN_E_ORCH_HEALTH] = "orchestrator",
        [SCN_E_SERVER_EVENT] = "event",
    };
    put(buf, n, &len, "%s", words[e] ? words[e] : scn_expect_name(e));
    if (e == SCN_E_LOCK_HELD) put(buf, n, &len, " %s", kind_name(st->sync_kind));
    if (e == SCN_E_INITIAL) put(buf, n, &len, " %s", st->complete ? "complete" : "incomplete");
    if (e == SCN_E_OUTBOX || e == SCN_E_DEADLETTER || e == SCN_E_CONFLICTS) put(buf, n, &len, " %lld", (long long)st->n);
    if (e == SCN_E_CONFLICTS && st->unresolved) put(buf, n, &len, " unresolved");
    if (e == SCN_E_STATUS) put(buf, n, &len, " %s", dev_status_name(st->status));
    if (e == SCN_E_REQUESTS) put(buf, n, &len, " %s %lld", st->push ? "push" : "pull", (long long)st->n);
    if (st->table) put(buf, n, &len, " %s %s", st->table, st->id ? st->id : "");
    if (st->event) put(buf, n, &len, " %s", st->event);
    put_kvs(buf, n, &len, st->kv, st->nkv);
    if (st->count >= 0) put(buf, n, &len, " count %lld", (long long)st->count);
}

static void run_expect(struct runner *r, const struct scn_stmt *st)
{
    SS_ASSERT(st->kind == SCN_EXPECT && (int)st->expect >= 0 && st->expect < SCN_E_COUNT);
    SS_ASSERT(st->dev < r->s->ndevices && st->user < r->s->nusers);
    char text[RUN_TEXT_MAX], actual[RUN_ACTUAL_MAX];
    fmt_expect(r, st, text, sizeof text);
    expect_fn fn = expect_table[st->expect];
    if (!fn) { fail(r, st->line, "expectation %s: " NO_HANDLER, text); return; }
    bool ok = fn(r, st, actual, sizeof actual);
    rtrace(r, "line %d: expect %s: %s", st->line, text, ok ? "ok" : "FAILED");
    if (!ok) fail(r, st->line, "expectation %s was %s", text, actual);
}

/* ------------------------------------------------------- `on` statements */

static void run_stmt(struct runner *r, const struct scn_stmt *st)
{
    SS_ASSERT(r && st);
    SS_ASSERT(st->line > 0);
    r->last_line = st->line;
    if (st->kind == SCN_ACTION) run_action(r, st);
    else if (st->kind == SCN_EXPECT) run_expect(r, st);
    else SS_ASSERT(!"a nested statement is an action or an expect");
}

static void run_nested(struct runner *r, int on_idx)
{
    SS_ASSERT(on_idx >= 0 && on_idx < r->s->nstmts && r->s->stmts[on_idx].kind == SCN_ON);
    const struct scn_on *on = &r->s->stmts[on_idx].on_trigger;
    SS_ASSERT(on->stmt >= 0 && on->stmt < r->s->nnested);
    rtrace(r, "line %d: on %s %s fired", r->s->stmts[on_idx].line, dev_label(r, on->dev), on->event);
    run_stmt(r, &r->s->nested[on->stmt]);
}

static void enqueue(struct runner *r, int on_idx, int64_t at)
{
    SS_ASSERT(r->nq < r->qcap);   /* each `on` fires once: qcap = top-level statements */
    SS_ASSERT(at > world_now(r->w));
    r->q[r->nq++] = (struct delayed){ .at = at, .seq = r->qseq++, .on = on_idx };
}

static int64_t delayed_min(const struct runner *r)
{
    SS_ASSERT(r->nq >= 0 && r->nq <= r->qcap);
    int64_t t = INT64_MAX;
    for (int i = 0; i < r->nq; i++) t = min64(t, r->q[i].at);
    return t;
}

/* Runs every delayed statement due by now, in (time, scheduling) order. */
static void run_due(struct runner *r)
{
    int64_t now = world_now(r->w);
    SS_ASSERT(delayed_min(r) <= now);
    while (r->nq > 0 && !halted(r)) {
        int best = -1;
        for (int i = 0; i < r->nq; i++) {
            if (r->q[i].at > now) continue;
            if (best < 0 || r->q[i].at < r->q[best].at
                || (r->q[i].at == r->q[best].at && r->q[i].seq < r->q[best].seq))
                best = i;
        }
        if (best < 0) return;
        struct delayed d = r->q[best];
        r->q[best] = r->q[--r->nq];
        if (d.at < now) rtrace(r, "line %d: runs late (due t=%lld, inside a quiesce)",
                               r->s->stmts[d.on].line, (long long)d.at);
        run_nested(r, d.on);
    }
}

/* The world's event hook: counts matches of every armed `on`, in file
 * order (SPEC §4: several `on` lines firing on one event run in file order). */
static void on_event(void *arg, struct world *w, int dev, const struct event *ev)
{
    struct runner *r = arg;
    SS_ASSERT(r && r->w == w && ev);
    for (int i = 0; i < r->s->nstmts && !halted(r); i++) {
        struct watcher *wt = &r->watch[i];
        if (!wt->armed || wt->fired) continue;
        const struct scn_on *on = &r->s->stmts[i].on_trigger;
        if (on->dev != dev || !event_match(ev, on->event, on->kv, on->nkv)) continue;
        if (++wt->seen < on->count) continue;
        wt->fired = true;
        if (on->delay_ms > 0) { enqueue(r, i, world_now(w) + on->delay_ms); continue; }
        bool outer = r->in_hook;
        r->in_hook = true;
        run_nested(r, i);
        r->in_hook = outer;
    }
}

/* ------------------------------------------------------------ main loop */

/* Runs the world to t, one instant at a time while a delayed statement could
 * become due before t (one may be queued by any step). */
static int run_to(struct runner *r, int64_t t)
{
    SS_ASSERT(r && r->w);
    SS_ASSERT(t >= 0);
    while (!halted(r)) {
        int64_t lim = min64(t, delayed_min(r));
        int64_t s = world_next_step(r->w);
        if (s >= lim) return world_run_before(r->w, lim);
        if (world_run_before(r->w, s + 1) != 0) return -1;
    }
    return -1;
}

/* Brings the clock to T running what falls before: delayed `on` statements
 * (also those due at T, before T's statements) and fault ticks (after T's
 * statements: only when strictly before T). */
static int advance(struct runner *r, int64_t T)
{
    SS_ASSERT(r && r->w);
    SS_ASSERT(T >= 0);
    while (!halted(r)) {
        int64_t target = min64(T, min64(delayed_min(r), ticker_next(r)));
        if (run_to(r, target) != 0) return -1;
        int64_t now = world_now(r->w);
        if (delayed_min(r) <= now) run_due(r);
        else if (ticker_next(r) <= now && now < T) tick(r);
        else if (now >= T) return 0;
    }
    return -1;
}

static void run_quiesce(struct runner *r, const struct scn_stmt *st)
{
    char why[1024];
    SS_ASSERT(st->kind == SCN_QUIESCE);
    SS_ASSERT(r->s->config.quiesce_limit_ms > 0);
    ticker_off(r);   /* quiesce heals every fault (SPEC §4) */
    rtrace(r, "line %d: quiesce", st->line);
    if (world_quiesce(r->w, r->s->config.quiesce_limit_ms, why, sizeof why) != 0)
        fail(r, st->line, "quiesce: %s", why);
    r->epoch_start = world_now(r->w);
}

static void run_top(struct runner *r, int i)
{
    SS_ASSERT(i >= 0 && i < r->s->nstmts);
    const struct scn_stmt *st = &r->s->stmts[i];
    r->last_line = st->line;
    if (st->kind == SCN_ON) {
        r->watch[i].armed = true;
        rtrace(r, "line %d: on %s %s armed", st->line, dev_label(r, st->on_trigger.dev),
               st->on_trigger.event);
    } else if (st->kind == SCN_QUIESCE) {
        run_quiesce(r, st);
    } else {
        run_stmt(r, st);
    }
}

/* The last RUN_TAIL_LINES trace lines, newest kept when they do not fit. */
static void keep_tail(struct runner *r)
{
    const struct trace *t = world_trace(r->w);
    SS_ASSERT(t && RUN_TAIL_LINES <= TRACE_TAIL);
    char *buf = r->out->tail;
    size_t cap = sizeof r->out->tail, len = 0;
    uint64_t first = t->lines > RUN_TAIL_LINES ? t->lines - RUN_TAIL_LINES : 0;
    for (uint64_t i = first; i < t->lines; i++) {
        size_t need = 0;
        for (uint64_t j = i; j < t->lines; j++) need += strlen(t->tail[j % TRACE_TAIL]) + 5;
        if (need < cap) { first = i; break; }
        first = i + 1;
    }
    buf[0] = 0;
    for (uint64_t i = first; i < t->lines; i++) put(buf, cap, &len, "  | %s\n", t->tail[i % TRACE_TAIL]);
}

static void run_body(struct runner *r)
{
    const struct scn *s = r->s;
    for (int i = 0; i < s->nstmts && !halted(r); i++) {
        const struct scn_stmt *st = &s->stmts[i];
        SS_ASSERT(st->at_ms >= 0 && st->epoch <= s->nquiesce);
        if (advance(r, r->epoch_start + st->at_ms) != 0) break;
        /* Times never go backwards (scn.h), so the clock is exactly there. */
        SS_ASSERT(world_now(r->w) == r->epoch_start + st->at_ms);
        run_top(r, i);
    }
    /* Delayed `on` statements still queued run at their time. */
    while (!halted(r) && r->nq > 0)
        if (advance(r, delayed_min(r)) != 0) break;
}

static void finish(struct runner *r)
{
    struct world *w = r->w;
    SS_ASSERT(w && r->out);
    if (!r->stop && world_failed(w)) {
        r->out->passed = false;
        r->out->line = 0;
        snprintf(r->out->message, sizeof r->out->message, "%s: after line %d: %s", r->file,
                 r->last_line, world_failure(w));
    }
    if (!r->out->passed) keep_tail(r);
    r->out->hash = world_hash(w);
    r->out->events = world_event_count(w);
    r->out->sim_ms = world_now(w);
}

int scn_run(const struct scn *s, const char *file, FILE *trace, struct scn_outcome *out)
{
    return scn_run_dump(s, file, trace, NULL, out);
}

int scn_run_dump(const struct scn *s, const char *file, FILE *trace, const char *dump_db,
                 struct scn_outcome *out)
{
    SS_ASSERT(s && file && out);
    memset(out, 0, sizeof *out);
    out->passed = true;
    struct runner r = { .s = s, .file = file, .out = out };
    struct world_params p;
    char err[512];
    if (build_params(s, &p, &r.tk, trace, err, sizeof err) != 0 || !(r.w = world_new(&p, err, sizeof err))) {
        fail(&r, 0, "the world could not be set up: %s", err);
        return 1;
    }
    r.qcap = s->nstmts > 0 ? s->nstmts : 1;
    r.watch = calloc((size_t)r.qcap, sizeof *r.watch);
    r.q = calloc((size_t)r.qcap, sizeof *r.q);
    if (!r.watch || !r.q) {
        fail(&r, 0, "out of memory");
    } else {
        world_set_event_hook(r.w, on_event, &r);
        ticker_init(&r);
        run_body(&r);
    }
    finish(&r);
    if (dump_db) {
        char derr[256];
        if (world_dump_dbs(r.w, dump_db, derr, sizeof derr) < 0) fprintf(stderr, "syncsim: dump-db: %s\n", derr);
    }
    world_free(r.w);
    free(r.watch);
    free(r.q);
    return out->passed ? 0 : 1;
}

/* ------------------------------------------------------------- reports */

struct file_result {
    const char *file;
    char name[SCN_MAX_NAME + 1];
    bool bad_input;                 /* parse error: message in o.message */
    char page[256];                 /* --report: failure page (relative), "" if none */
    struct scn_outcome o;
};

static void xml_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '&') fputs("&amp;", f);
        else if (c == '<') fputs("&lt;", f);
        else if (c == '>') fputs("&gt;", f);
        else if (c == '"') fputs("&quot;", f);
        else if (c == '\'') fputs("&apos;", f);
        else if (c < 0x20 && c != '\n' && c != '\t') fputc('?', f);  /* not allowed in XML 1.0 */
        else fputc(c, f);
    }
}

typedef void (*report_fn)(FILE *f, const struct file_result *res, int n);

/* Writes path atomically: a temporary file in the same directory, then
 * rename (a reader never sees half a report). 0, or -1 with a message. */
static int write_atomic(const char *path, report_fn fn, const struct file_result *res, int n)
{
    SS_ASSERT(path && fn);
    SS_ASSERT(n >= 0 && (res || n == 0));
    char tmp[4096];
    /* One writer per report file: a fixed suffix keeps the simulated path
     * free of process ids. */
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        fprintf(stderr, "syncsim: report path too long: %s\n", path);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) { fprintf(stderr, "syncsim: cannot write %s: %s\n", tmp, strerror(errno)); return -1; }
    fn(f, res, n);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0) bad = true;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "syncsim: cannot write %s: %s\n", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

static void junit_body(FILE *f, const struct file_result *res, int n)
{
    int failures = 0, errors = 0;
    for (int i = 0; i < n; i++) {
        if (res[i].bad_input) errors++;
        else if (!res[i].o.passed) failures++;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites tests=\"%d\" failures=\"%d\" errors=\"%d\">\n", n, failures, errors);
    fprintf(f, "<testsuite name=\"scenarios\" tests=\"%d\" failures=\"%d\" errors=\"%d\">\n", n, failures, errors);
    for (int i = 0; i < n; i++) {
        const struct file_result *x = &res[i];
        fputs("  <testcase classname=\"scenarios\" name=\"", f);
        xml_escaped(f, x->name);
        fputs("\" file=\"", f);
        xml_escaped(f, x->file);
        fputs("\"", f);
        if (x->o.passed && !x->bad_input) { fputs("/>\n", f); continue; }
        fprintf(f, ">\n    <%s message=\"", x->bad_input ? "error" : "failure");
        xml_escaped(f, x->o.message);
        fputs("\">", f);
        xml_escaped(f, x->o.message);
        fputs("\n", f);
        xml_escaped(f, x->o.tail);
        fprintf(f, "</%s>\n  </testcase>\n", x->bad_input ? "error" : "failure");
    }
    fputs("</testsuite>\n</testsuites>\n", f);
}

static void json_body(FILE *f, const struct file_result *res, int n)
{
    fputs("{\"scenarios\": [\n", f);
    for (int i = 0; i < n; i++) {
        const struct file_result *x = &res[i];
        fputs("  {\"file\": ", f);
        rpt_json_escaped(f, x->file);
        fputs(", \"name\": ", f);
        rpt_json_escaped(f, x->name);
        fprintf(f, ", \"result\": \"%s\", \"line\": %d, \"hash\": \"0x%016llx\", \"events\": %llu, "
                   "\"sim_ms\": %lld, \"message\": ",
                x->bad_input ? "error" : x->o.passed ? "ok" : "fail", x->o.line,
                (unsigned long long)x->o.hash, (unsigned long long)x->o.events, (long long)x->o.sim_ms);
        rpt_json_escaped(f, x->o.message);
        fputs(", \"page\": ", f);
        rpt_json_escaped(f, x->page);
        fprintf(f, "}%s\n", i + 1 < n ? "," : "");
    }
    fputs("]}\n", f);
}

static int write_reports(const struct scn_run_opts *o, const struct file_result *res, int n)
{
    int rc = 0;
    if (o->junit && write_atomic(o->junit, junit_body, res, n) != 0) rc = -1;
    if (o->report_dir) {
        char path[4096];
        if (mkdir(o->report_dir, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "syncsim: cannot create %s: %s\n", o->report_dir, strerror(errno));
            return -1;
        }
        snprintf(path, sizeof path, "%s/scenarios.json", o->report_dir);
        if (write_atomic(path, json_body, res, n) != 0) rc = -1;
    }
    return rc;
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* The whole file (for the failure page), or NULL. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(SCN_MAX_INPUT + 1);
    size_t n = buf ? fread(buf, 1, SCN_MAX_INPUT, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

/* --report DIR: a failed scenario's page DIR/failure-BASE.html (+ .json),
 * drawn from its full trace (tf) by the report module (sim/report.h). */
static int failure_page(const char *dir, const struct scn *s, struct file_result *res, FILE *tf)
{
    SS_ASSERT(dir && s && res && tf);
    SS_ASSERT(!res->o.passed);
    char base[200], html[4096], json[4096], repro[4400], replay[4500], inv[48], err[512];
    snprintf(base, sizeof base, "%s", base_name(res->file));
    char *dot = strrchr(base, '.');
    if (dot && dot != base) *dot = 0;
    snprintf(res->page, sizeof res->page, "failure-%s.html", base);
    snprintf(html, sizeof html, "%s/%s", dir, res->page);
    snprintf(json, sizeof json, "%s/failure-%s.json", dir, base);
    snprintf(repro, sizeof repro, "build/syncsim scenario %s", res->file);
    snprintf(replay, sizeof replay, "%s -v   # with the full trace", repro);
    if (res->o.line > 0) snprintf(inv, sizeof inv, "EXPECT");
    else if (!rpt_invariant_of(res->o.message, inv, sizeof inv)[0]) snprintf(inv, sizeof inv, "SCENARIO");
    struct rpt_timeline *tl = rpt_tl_new();
    char *text = read_text(res->file);
    if (!tl) { free(text); fprintf(stderr, "syncsim: out of memory\n"); return -1; }
    rewind(tf);
    rpt_tl_read(tl, tf);
    if (!rpt_tl_failed(tl, NULL, NULL)) rpt_tl_set_failure(tl, -1, res->o.message);
    struct rpt_failure fl = { .title = res->name, .failed = true, .invariant = inv,
                              .message = res->o.message, .repro = repro, .replay = replay,
                              .scenario = text, .scenario_note = res->file, .seed = s->seed,
                              .hash = res->o.hash, .events = res->o.events, .sim_ms = res->o.sim_ms };
    int rc = rpt_write_failure(html, &fl, tl, err, sizeof err) == 0
             && rpt_write_failure_json(json, &fl, html, err, sizeof err) == 0 ? 0 : -1;
    if (rc) { fprintf(stderr, "syncsim: %s\n", err); res->page[0] = 0; }
    rpt_tl_free(tl);
    free(text);
    return rc;
}

/* Copies the captured trace to stdout (-v together with --report). */
static void copy_trace(FILE *tf)
{
    char buf[4096];
    size_t k;
    rewind(tf);
    while ((k = fread(buf, 1, sizeof buf, tf)) > 0) fwrite(buf, 1, k, stdout);
}

/* Parses and runs one file into res; prints its line(s). Returns -1 when
 * a --report page could not be written. */
static int run_file(const char *path, const struct scn_run_opts *o, struct file_result *res)
{
    struct scn s;
    struct scn_error err;
    SS_ASSERT(path && o && res);
    memset(res, 0, sizeof *res);
    res->file = path;
    snprintf(res->name, sizeof res->name, "%s", base_name(path));
    if (scn_parse_file(path, &s, &err) != 0) {
        res->bad_input = true;
        snprintf(res->o.message, sizeof res->o.message, "%s", err.msg);
        fprintf(stderr, "%s\n", err.msg);
        printf("FAIL %s: %s\n", res->name, err.msg);
        return 0;
    }
    if (s.name && s.name[0]) snprintf(res->name, sizeof res->name, "%s", s.name);
    FILE *tf = o->report_dir ? tmpfile() : NULL;   /* the failure page reads the full trace */
    char ddir[4096];
    const char *dump = NULL;
    if (o->dump_db) {   /* one directory per scenario: DIR/<file name> */
        snprintf(ddir, sizeof ddir, "%s/%s", o->dump_db, base_name(path));
        mkdir(o->dump_db, 0777);
        if (mkdir(ddir, 0777) == 0 || errno == EEXIST) dump = ddir;
    }
    scn_run_dump(&s, path, tf ? tf : o->verbose ? stdout : NULL, dump, &res->o);
    if (tf && o->verbose) copy_trace(tf);
    if (res->o.passed) printf("ok %s\n", res->name);
    else printf("FAIL %s: %s\n%s", res->name, res->o.message, res->o.tail);
    int rc = 0;
    if (o->report_dir && !res->o.passed) {
        if (!tf || (mkdir(o->report_dir, 0777) != 0 && errno != EEXIST)) {
            fprintf(stderr, "syncsim: cannot write a report in %s\n", o->report_dir);
            rc = -1;
        } else {
            rc = failure_page(o->report_dir, &s, res, tf);
        }
    }
    if (tf) fclose(tf);
    scn_free(&s);
    return rc;
}

int scn_run_files(char **files, int n, const struct scn_run_opts *o)
{
    SS_ASSERT(files && n >= 0 && o);
    struct file_result *res = calloc(n > 0 ? (size_t)n : 1, sizeof *res);
    if (!res) { fprintf(stderr, "syncsim: out of memory\n"); return 2; }
    int passed = 0, failed = 0;
    bool bad = false;
    bool report_failed = false;
    for (int i = 0; i < n; i++) {
        report_failed |= run_file(files[i], o, &res[i]) != 0;
        bad |= res[i].bad_input;
        if (res[i].o.passed && !res[i].bad_input) passed++;
        else failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    if (write_reports(o, res, n) != 0 || report_failed) bad = true;
    free(res);
    return bad ? 2 : failed ? 1 : 0;
}
