/*
 * swarm.c — what a seed decides and the workload that plays it (swarm.h).
 *
 * The workload behaves like the apps' users and OS: writes and deletes on
 * every table (read-only ones included, which the device refuses), triggers
 * of all five kinds, kills and restarts, logout/login, connectivity flaps,
 * partitions, clock jumps, server writes, server crashes, migrations and
 * requeues — each kind only when the seed enabled it.
 */
#include "swarm.h"

#include <stdlib.h>
#include <string.h>

#include "dumpdb.h"

const char *const swarm_fault_names[SWARM_FAULT_KINDS] = {
    "loss", "dup", "delay", "partition", "flap", "server_error", "throttle",
    "crash", "power", "clock", "server_crash", "logout", "disk"
};

enum { F_LOSS, F_DUP, F_DELAY, F_PARTITION, F_FLAP, F_5XX, F_429, F_CRASH, F_POWER, F_CLOCK,
       F_SRV_CRASH, F_LOGOUT, F_DISK };

void swarm_opts_default(struct swarm_opts *o)
{
    memset(o, 0, sizeof *o);
    o->devices = -1;
    o->users = -1;
    o->duration_ms = -1;
    o->faults = -1;
}

static const char *const dev_names[] = { "phone", "tablet", "laptop", "watch" };
static const char *const user_names[] = { "alice", "bob", "carol" };

static void pick_tables(struct rng *r, struct world_params *p)
{
    int n = table_defaults(p->tables, MAX_TABLES);
    SS_ASSERT(n == 4);
    p->ntables = n;
    static const enum strategy strats[] = { STRAT_LWW, STRAT_LWW, STRAT_MERGE, STRAT_LOCAL,
                                            STRAT_REMOTE, STRAT_MANUAL };
    for (int i = 0; i < n; i++) {
        if (!p->tables[i].read_only) p->tables[i].strategy = strats[rng_below(r, 6)];
        p->rows[i] = rng_chance(r, 0.3) ? (int)rng_range(r, 0, 1200) : (int)rng_range(r, 0, 20);
    }
}

static void pick_faults(struct rng *r, struct faults *f, unsigned *mask)
{
    memset(f, 0, sizeof *f);
    f->delay_min = f->delay_max = 10;   /* SPEC §3: no faults, exactly 10 ms */
    *mask = 0;
    for (int k = 0; k < SWARM_FAULT_KINDS; k++)
        if (rng_chance(r, 0.35)) *mask |= 1u << k;
    if (*mask & (1u << F_LOSS)) f->loss = rng_unit(r) * 0.2;
    if (*mask & (1u << F_DUP)) f->dup = rng_unit(r) * 0.2;
    if (*mask & (1u << F_DELAY)) {
        f->delay_min = rng_range(r, 1, 50);
        f->delay_max = f->delay_min + rng_range(r, 0, 2000);
        f->tail = rng_unit(r) * 0.05;
        f->tail_max = rng_range(r, 1000, 120000);
    }
    if (*mask & (1u << F_PARTITION)) f->partition = rng_unit(r) * 0.05;
    if (*mask & (1u << F_FLAP)) f->flap = rng_unit(r) * 0.05;
    if (*mask & (1u << F_5XX)) f->server_error = rng_unit(r) * 0.2;
    if (*mask & (1u << F_429)) { f->throttle = rng_unit(r) * 0.1; f->retry_after = rng_range(r, 100, 30000); }
    if (*mask & (1u << F_CRASH)) f->crash = rng_unit(r) * 0.03;
    if (*mask & (1u << F_POWER)) f->power = rng_unit(r);
    if (*mask & (1u << F_CLOCK)) { f->clock_jump = rng_unit(r) * 0.03; f->clock_jump_max = rng_range(r, 1000, 3600000); }
    if (*mask & (1u << F_SRV_CRASH)) f->server_crash = rng_unit(r) * 0.01;
    if (*mask & (1u << F_DISK)) f->disk = rng_unit(r) * 0.03;
}

/* §1.9, issue 8: half the seeds run the orchestrator, with an ERP that is
 * slow (sometimes past orch_timeout: late answers), fails and hangs at
 * random intensities. Drawn after everything else, so the topology and
 * faults of every seed stay what they were. */
static void pick_erp(struct rng *r, struct world_params *p)
{
    memset(&p->erp, 0, sizeof p->erp);
    p->orchestrator = rng_chance(r, 0.5);
    if (!p->orchestrator) return;
    p->erp.delay_min = rng_range(r, 10, 60000);
    p->erp.delay_max = p->erp.delay_min + (rng_chance(r, 0.3) ? rng_range(r, 0, 900000) : rng_range(r, 0, 60000));
    if (rng_chance(r, 0.5)) p->erp.fail = rng_unit(r) * 0.3;
    if (rng_chance(r, 0.3)) p->erp.hang = rng_unit(r) * 0.1;
}

int swarm_params(uint64_t seed, const struct swarm_opts *o, struct world_params *p,
                 unsigned *fault_mask, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    struct rng r;
    rng_seed(&r, seed, RS_TOPOLOGY);
    p->seed = seed;
    config_default(&p->cfg);
    if (rng_chance(&r, 0.3)) p->cfg.clock = CLOCK_HLC;
    /* Some seeds let a request outlive the lock timeout, so stuck runs are
     * force-released and fenced (COORD-6, COORD-12) instead of timing out. */
    bool slow = rng_chance(&r, 0.15);
    int64_t request_timeout = rng_range(&r, 360000, 1200000);
    if (slow) p->cfg.request_timeout_ms = request_timeout;
    p->ndev = o->devices > 0 ? o->devices : (int)rng_range(&r, 1, 4);
    int users = o->users > 0 ? o->users : (int)rng_range(&r, 1, 3);
    if (p->ndev > 4 || users > 3) { snprintf(err, errlen, "at most 4 devices and 3 users"); return -1; }
    for (int i = 0; i < p->ndev; i++) {
        snprintf(p->devs[i].name, sizeof p->devs[i].name, "%s", dev_names[i]);
        snprintf(p->devs[i].user, sizeof p->devs[i].user, "%s", user_names[rng_below(&r, (uint64_t)users)]);
        p->devs[i].skew_ms = rng_chance(&r, 0.5) ? rng_range(&r, -60000, 60000) : 0;
    }
    pick_tables(&r, p);
    pick_faults(&r, &p->faults, fault_mask);
    pick_erp(&r, p);
    if (o->faults == 0) { memset(&p->faults, 0, sizeof p->faults); p->faults.delay_min = p->faults.delay_max = 10; *fault_mask = 0; }
    for (int i = 0; i < o->nconfig; i++)
        if (config_set_kv(&p->cfg, o->config[i], err, errlen) != 0) return -1;
    return 0;
}

/* ---- the workload ---- */

struct workload {
    struct world *w;
    struct rng *r;
    const struct world_params *p;
    unsigned mask;
    int64_t restart_at[WORLD_MAX_DEV];   /* crashed devices come back (-1: up) */
    bool migrated;
    bool hostile;
};

static const char *pick_table(struct workload *wl)
{
    return wl->p->tables[rng_below(wl->r, (uint64_t)wl->p->ntables)].name;
}

static void do_write(struct workload *wl, int dev)
{
    static const char *const fields[] = { "qty", "status", "name", "note", "price" };
    char id[16], vals[3][16];
    const char *names[3], *values[3];
    snprintf(id, sizeof id, "r%d", (int)rng_below(wl->r, 12));
    int n = (int)rng_range(wl->r, 1, 3);
    for (int i = 0; i < n; i++) {
        names[i] = fields[rng_below(wl->r, 5)];
        snprintf(vals[i], sizeof vals[i], "v%d", (int)rng_below(wl->r, 1000));
        values[i] = vals[i];
    }
    /* Duplicate names in one write would be one field set twice: keep the last. */
    world_write(wl->w, dev, pick_table(wl), id, n, names, values);
}

static void do_server_write(struct workload *wl)
{
    char id[16], val[16];
    snprintf(id, sizeof id, "r%d", (int)rng_below(wl->r, 12));
    snprintf(val, sizeof val, "s%d", (int)rng_below(wl->r, 1000));
    const char *names[1] = { "status" }, *values[1] = { val };
    int u = (int)rng_below(wl->r, (uint64_t)wl->p->ndev);
    bool del = rng_chance(wl->r, 0.1);
    world_server_write(wl->w, wl->p->devs[u].user, pick_table(wl), id, del ? 0 : 1, names, values, del, "server");
}

static void do_app(struct workload *wl, int dev)
{
    uint64_t x = rng_below(wl->r, 100);
    if (x < 45) do_write(wl, dev);
    else if (x < 52) {
        char id[16];
        snprintf(id, sizeof id, "r%d", (int)rng_below(wl->r, 12));
        world_delete(wl->w, dev, pick_table(wl), id);
    } else if (x < 70) world_trigger(wl->w, dev, (enum sync_kind)rng_below(wl->r, KIND_COUNT));
    else if (x < 76) do_server_write(wl);
    else if (x < 79) world_requeue(wl->w, dev);
    else if (x < 82) {
        char id[16];
        snprintf(id, sizeof id, "r%d", (int)rng_below(wl->r, 12));
        /* One draw per statement: argument evaluation order is unspecified in C,
         * and gcc and clang differ (the cross-build hash check). */
        const char *table = pick_table(wl);
        bool local = rng_chance(wl->r, 0.5);
        world_resolve(wl->w, dev, table, id, local);
    } else if (x < 84 && (wl->mask & (1u << F_LOGOUT))) {
        struct device *d = world_device(wl->w, dev);
        struct dev_state st;
        dev_get_state(d, &st);
        if (st.session) world_logout(wl->w, dev); else world_login(wl->w, dev, NULL);
    } else if (x < 85 && !wl->migrated && rng_chance(wl->r, 0.2)) {
        wl->migrated = true;
        world_migrate(wl->w, dev, "notes");
    }
}

static void do_faults(struct workload *wl, int dev)
{
    const struct faults *f = &wl->p->faults;
    struct world *w = wl->w;
    if (rng_chance(wl->r, f->crash)) {
        bool power = rng_chance(wl->r, f->power);
        wl->restart_at[dev] = world_now(w) + rng_range(wl->r, 100, 120000);
        if (rng_chance(wl->r, 0.5)) {
            world_crash(w, dev, power);
            return;
        }
        /* Die in the middle of a later transaction, at an exact write. */
        world_crash_at_write(w, dev, (int)rng_range(wl->r, 0, 40), power);
    }
    if (rng_chance(wl->r, f->disk)) {
        if (rng_chance(wl->r, 0.2))   /* persistent disk full, until healed */
            world_disk_capacity(w, dev, rng_chance(wl->r, 0.5) ? 0 : rng_range(wl->r, 20000, 400000));
        else
            world_disk_fault(w, dev, (int)rng_below(wl->r, 3));
    }
    if (rng_chance(wl->r, f->partition))
        world_partition_dir(w, dev, rng_chance(wl->r, 0.4) ? 0 : (unsigned)rng_range(wl->r, 1, 3));
    if (rng_chance(wl->r, f->flap)) {
        struct dev_state st;
        dev_get_state(world_device(w, dev), &st);
        world_set_online(w, dev, !st.online);
    }
    if (rng_chance(wl->r, f->clock_jump))
        world_clock_jump(w, dev, rng_range(wl->r, -f->clock_jump_max, f->clock_jump_max));
    if (rng_chance(wl->r, f->server_crash)) {
        if (world_server(w)) world_server_crash(w); else world_server_restart(w);
    }
}

/* Manual import requests and ERP changes (only for orchestrator seeds, so
 * other seeds draw exactly what they drew before). */
static void do_orch(struct workload *wl)
{
    static const char *const jobs[ORCH_JOB_COUNT] = { "orders", "customers", "products", "prices" };
    uint64_t x = rng_below(wl->r, 1000);
    if (x < 5) {
        enum orch_job job = (enum orch_job)rng_below(wl->r, ORCH_JOB_COUNT);
        bool full = rng_chance(wl->r, 0.2);
        world_orchestrate(wl->w, job, full);
    } else if (x < 25) {
        char id[16], val[16];
        snprintf(id, sizeof id, "e%d", (int)rng_below(wl->r, 12));
        snprintf(val, sizeof val, "erp%d", (int)rng_below(wl->r, 1000));
        const char *names[1] = { "status" }, *values[1] = { val };
        world_erp_write(wl->w, jobs[rng_below(wl->r, ORCH_JOB_COUNT)], id, 1, names, values);
    } else if (x < 27) {
        world_orchestrator(wl->w, rng_chance(wl->r, 0.8));
    }
}

static void tick(struct workload *wl)
{
    struct world *w = wl->w;
    if (wl->p->orchestrator) do_orch(wl);
    for (int i = 0; i < wl->p->ndev; i++)
        if (wl->restart_at[i] >= 0 && world_now(w) >= wl->restart_at[i] && !world_dev_running(w, i)) {
            world_restart(w, i);
            wl->restart_at[i] = -1;
        }
    if (!world_server(w) && rng_chance(wl->r, 0.2)) world_server_restart(w);
    if (wl->hostile && rng_chance(wl->r, 0.1)) world_hostile(w);
    int dev = (int)rng_below(wl->r, (uint64_t)wl->p->ndev);
    if (!world_dev_running(w, dev)) return;
    do_faults(wl, dev);
    if (world_dev_running(w, dev)) do_app(wl, dev);
}

static void fill_result(struct world *w, struct swarm_result *r)
{
    r->ok = !world_failed(w);
    r->hash = world_hash(w);
    r->events = world_event_count(w);
    r->steps = world_step_count(w);
    r->sim_ms = world_now(w);
    snprintf(r->invariant, sizeof r->invariant, "%s", world_failure_invariant(w));
    snprintf(r->failure, sizeof r->failure, "%s", world_failure(w));
    const char *const *ids;
    const uint64_t *counts;
    int n;
    world_check_counts(w, &ids, &counts, &n);
    for (int i = 0; i < n && i < 16; i++) r->checks[i] = counts[i];
}

int swarm_run(uint64_t seed, const struct swarm_opts *o, struct swarm_result *r,
              FILE *tail_out, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->seed = seed;
    struct world_params p;
    if (swarm_params(seed, o, &p, &r->fault_mask, err, errlen) != 0) return -1;
    p.trace_out = o->trace;
    struct world *w = world_new(&p, err, errlen);
    if (!w) return -1;
    world_trace(w)->sink = o->sink;
    world_trace(w)->sink_arg = o->sink_arg;
    struct workload wl = { .w = w, .r = world_rng(w, RS_WORKLOAD), .p = world_params(w), .mask = r->fault_mask,
                           .hostile = rng_chance(world_rng(w, RS_TOPOLOGY), 0.3) };
    if (p.orchestrator) world_orchestrator(w, true);   /* ORCH-3: the schedule runs */
    for (int i = 0; i < p.ndev; i++) {
        wl.restart_at[i] = -1;
        if (r->fault_mask & (1u << F_CLOCK)) world_set_drift(w, i, rng_range(wl.r, -500, 500));
        world_start(w, i);
        world_login(w, i, NULL);
    }
    int64_t duration = o->duration_ms > 0 ? o->duration_ms : rng_range(wl.r, 60000, 1800000);
    while (!world_failed(w) && world_now(w) < duration) {
        if (world_run_before(w, world_now(w) + rng_range(wl.r, 50, 5000)) != 0) break;
        tick(&wl);
    }
    char why[1024];
    if (!world_failed(w)) world_quiesce(w, p.cfg.quiesce_limit_ms, why, sizeof why);
    if (!world_failed(w) && world_check_converged(w, why, sizeof why) != 0)
        world_fail(w, "INV-CONVERGE", "%s", why);
    fill_result(w, r);
    if (!r->ok && tail_out) trace_print_tail(world_trace(w), tail_out, 20, "  | ");
    if (o->dump_db) {
        char derr[256];
        int nd = world_dump_dbs(w, o->dump_db, derr, sizeof derr);
        if (nd < 0) fprintf(stderr, "syncsim: dump-db: %s\n", derr);
        else if (tail_out) fprintf(tail_out, "dump-db: %d databases in %s\n", nd, o->dump_db);
    }
    world_free(w);
    return 0;
}
