/*
 * world.c — the simulated world's steps, the env it gives the model, the
 * network and the actions drivers call (see world.h). Invariants are in
 * check.c, quiesce and convergence in quiesce.c.
 */
#include "world_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- clocks ---- */

int64_t sdev_wall(const struct sdev *d)
{
    /* Drift: the wall clock runs drift_ppm fast (or slow) against true time. */
    return WORLD_EPOCH_MS + d->w->now + d->w->now * d->drift_ppm / 1000000 + d->spec.skew_ms
           + d->clock_offset;
}

int64_t sdev_mono(const struct sdev *d) { return d->w->now - d->boot; }

static int64_t env_now(void *ctx) { return sdev_wall(ctx); }
static int64_t env_mono(void *ctx) { return sdev_mono(ctx); }
static uint64_t env_random(void *ctx) { return rng_next(&((struct sdev *)ctx)->rng); }

/* A process whose storage froze mid-step (a crash at an exact write) is
 * dead: whatever it still does before the step ends has no effect. */
static bool dead(const struct sdev *d) { return simfs_is_frozen(d->fs); }

static void env_set_timer(void *ctx, int id, int64_t at)
{
    struct sdev *d = ctx;
    SS_ASSERT(id >= 0 && id < DT_COUNT);
    if (dead(d)) return;
    d->tgen[id]++;
    int64_t when = at + d->boot;
    if (when < d->w->now) when = d->w->now;
    struct step s = { .at = when, .kind = SK_TIMER, .a = d->idx, .b = id,
                      .gen = ((uint64_t)d->incarnation << 32) | d->tgen[id] };
    if (heap_push(&d->w->heap, s) != 0) world_fail(d->w, "LIMIT", "event heap full");
}

static void env_cancel_timer(void *ctx, int id)
{
    struct sdev *d = ctx;
    SS_ASSERT(id >= 0 && id < DT_COUNT);
    d->tgen[id]++;
}

/* ---- network ---- */

static void free_step(struct step *s) { free(s->data); }

static int64_t net_delay(struct world *w)
{
    struct rng *r = &w->rng[RS_NET];
    const struct faults *f = &w->faults;
    int64_t d = f->delay_min == f->delay_max ? f->delay_min : rng_range(r, f->delay_min, f->delay_max);
    if (f->tail > 0 && rng_chance(r, f->tail)) d += rng_range(r, 0, f->tail_max);
    return d;
}

/* Schedules bytes between device `dev` and the server (kind says which way),
 * with loss, duplication and delay drawn from the network stream. */
static void net_send(struct world *w, enum step_kind kind, int dev, uint32_t inc,
                     const uint8_t *buf, size_t len)
{
    struct sdev *d = &w->devs[dev];
    const char *dir = kind == SK_TO_SERVER ? "->server" : "->device";
    unsigned way = kind == SK_TO_SERVER ? PART_UP : PART_DOWN;
    if ((d->partitioned & way) || rng_chance(&w->rng[RS_NET], w->faults.loss)) {
        trace_line(&w->trace, w->now, d->spec.name, "net %s lost len=%zu", dir, len);
        return;
    }
    int copies = rng_chance(&w->rng[RS_NET], w->faults.dup) ? 2 : 1;
    for (int i = 0; i < copies; i++) {
        uint8_t *copy = malloc(len);
        if (!copy) { world_fail(w, "LIMIT", "out of memory"); return; }
        memcpy(copy, buf, len);
        struct step s = { .at = w->now + net_delay(w), .kind = kind, .a = dev, .gen = inc,
                          .data = copy, .len = len };
        if (heap_push(&w->heap, s) != 0) { free(copy); world_fail(w, "LIMIT", "event heap full"); return; }
    }
}

static void env_send(void *ctx, const uint8_t *msg, size_t len)
{
    struct sdev *d = ctx;
    struct world *w = d->w;
    if (dead(d)) return;
    struct wire_msg m;
    struct wire_err err;
    if (wire_decode_keys(msg, len, &m, &err) == 0) {
        bool push = m.type == WIRE_PUSH_REQ;
        if (push) d->push_reqs++; else d->pull_reqs++;
        if (m.type == WIRE_PULL_REQ) d->pull_sent_step = w->steps;
        trace_line(&w->trace, w->now, d->spec.name, "send %s req=%016llx",
                   push ? "push" : m.type == WIRE_PULL_REQ ? "pull" : "page", (unsigned long long)m.req_id);
        check_request(d, &m);
    } else {
        world_fail(w, "WIRE", "%s sent an undecodable message: %s", d->spec.name, err.what);
    }
    wire_msg_free(&m);
    net_send(w, SK_TO_SERVER, d->idx, d->incarnation, msg, len);
}

/* Every event, a device's (dev ≥ 0) or the server's (-1): trace, log for
 * assertions, and the hook queue for `on` lines. */
static void log_event(struct world *w, int dev, const char *who, const struct event *e)
{
    char buf[512];
    ev_format(e, buf, sizeof buf);
    trace_line(&w->trace, w->now, who, "%s", buf);
    w->nevents++;
    if (w->p.keep_events) {
        if (w->nlog == w->log_cap) {
            int cap = w->log_cap ? w->log_cap * 2 : 256;
            struct world_event *v = realloc(w->log, (size_t)cap * sizeof *v);
            if (!v) { world_fail(w, "LIMIT", "out of memory"); return; }
            w->log = v;
            w->log_cap = cap;
        }
        w->log[w->nlog++] = (struct world_event){ .at = w->now, .dev = dev, .ev = *e };
    }
    if (w->hook && w->nhq < 4096) {
        if (w->nhq == w->hq_cap) {
            int cap = w->hq_cap ? w->hq_cap * 2 : 64;
            struct hook_ev *v = realloc(w->hq, (size_t)cap * sizeof *v);
            if (!v) return;
            w->hq = v;
            w->hq_cap = cap;
        }
        w->hq[w->nhq++] = (struct hook_ev){ .dev = dev, .ev = *e };
    }
}

static void env_emit(void *ctx, const struct event *e)
{
    struct sdev *d = ctx;
    if (dead(d)) return;
    log_event(d->w, d->idx, d->spec.name, e);
    check_event(d, e);
}

static void env_observe(void *ctx, const struct coord_obs *obs)
{
    struct sdev *d = ctx;
    if (dead(d)) return;
    char why[512];
    d->w->check_counts[CK_ORACLE]++;
    if (oracle_check(&d->oracle, obs, why, sizeof why) != 0)
        world_fail(d->w, "ORACLE", "%s: coordinator disagrees with the reference model: %s",
                   d->spec.name, why);
}

static int64_t srv_now(void *ctx) { return WORLD_EPOCH_MS + ((struct world *)ctx)->now; }
static int64_t srv_mono(void *ctx) { return ((struct world *)ctx)->now; }
static uint64_t srv_random(void *ctx) { return rng_next(&((struct world *)ctx)->rng[RS_SERVER]); }
/* The server's timers are the orchestrator's (enum orch_timer); a crash
 * (a new incarnation) or a later set/cancel voids a pending one. */
static void srv_set_timer(void *ctx, int id, int64_t at)
{
    struct world *w = ctx;
    SS_ASSERT(id >= 0 && id < ORCH_TIMER_COUNT);
    w->srv_tgen[id]++;
    struct step s = { .at = at < w->now ? w->now : at, .kind = SK_SRV_TIMER, .a = 0, .b = id,
                      .gen = ((uint64_t)w->srv_incarnation << 32) | w->srv_tgen[id] };
    if (heap_push(&w->heap, s) != 0) world_fail(w, "LIMIT", "event heap full");
}

static void srv_cancel_timer(void *ctx, int id)
{
    struct world *w = ctx;
    SS_ASSERT(id >= 0 && id < ORCH_TIMER_COUNT);
    w->srv_tgen[id]++;
}

static void srv_emit(void *ctx, const struct event *e) { log_event(ctx, -1, "server", e); }

/* The ERP behind the orchestrator: an answer after a delay, a failure, or
 * none at all (a hang: ORCH-4's timeout ends the run), all drawn from the
 * ERP's own stream in a fixed order. The answer is delivered even if the
 * server crashed meanwhile: the orchestrator must ignore it by run id. */
static void erp_start_import(void *ctx, uint64_t run_id, enum orch_job job, enum orch_mode mode,
                             int64_t since_ms)
{
    struct world *w = ctx;
    const struct erp_profile *e = &w->p.erp;
    struct rng *r = &w->erp_rng;
    int64_t delay = e->delay_max > 0 ? rng_range(r, e->delay_min, e->delay_max) : w->cfg.erp_delay_ms;
    bool hang = rng_chance(r, e->hang);
    bool ok = !rng_chance(r, e->fail);
    trace_line(&w->trace, w->now, "erp", "import run=%llu %s %s since=%lld delay=%lld%s",
               (unsigned long long)run_id, orch_job_name(job), orch_mode_name(mode),
               (long long)(since_ms == ERP_SINCE_ALL ? -1 : since_ms), (long long)delay,
               hang ? " hang" : ok ? "" : " fail");
    if (hang) return;
    struct step s = { .at = w->now + delay, .kind = SK_ERP_DONE, .a = 0, .b = ok, .gen = run_id };
    if (heap_push(&w->heap, s) != 0) world_fail(w, "LIMIT", "event heap full");
}

static void erp_observe(void *ctx, const struct orch_obs *obs) { check_orch_obs(ctx, obs); }

static uint64_t fs_rnd(void *ctx) { return rng_next(ctx); }

/* ---- server process ---- */

static void on_server_commit(void *arg, const char *user, const char *op_id,
                             const struct push_item *item, const struct row *written,
                             enum push_outcome outcome)
{
    struct world *w = arg;
    int u = user_index(w, user);
    if (u >= 0 && (outcome == PUSH_APPLIED || !item)) w->last_change_step[u] = w->steps;
    check_server_commit(w, user, op_id, item, written, outcome);
}

static int server_open(struct world *w)
{
    char err[256];
    if (sqlite3_open_v2("server.db", &w->sdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        simfs_vfs_name(w->sfs)) != SQLITE_OK) {
        world_fail(w, "SRV-5", "server database does not open: %s", sqlite3_errmsg(w->sdb));
        return -1;
    }
    w->srv = srv_open(w->sdb, &w->senv, &w->cfg, err, sizeof err);
    if (!w->srv) { world_fail(w, "SRV-5", "server does not open: %s", err); return -1; }
    srv_set_observer(w->srv, on_server_commit, w);
    for (int i = 0; i < w->nmigrated; i++)
        if (srv_declare_table(w->srv, &w->migrated[i]) != 0) return -1;
    w->server_up = true;
    struct orch_driver drv = { .ctx = w, .start_import = erp_start_import, .observe = erp_observe };
    w->orch = orch_open(w->sdb, w->srv, w->erp, &w->senv, &w->cfg, &drv, err, sizeof err);
    if (!w->orch) { world_fail(w, "SRV-5", "orchestrator does not open: %s", err); return -1; }
    if (orch_start(w->orch) != 0)   /* ORCH-4: a run lost in a crash is failed now */
        world_fail(w, "SRV-5", "orchestrator does not start: %s", orch_errmsg(w->orch));
    return 0;
}

static void server_close(struct world *w)
{
    if (w->orch) orch_close(w->orch);   /* its queue and timers die with the process */
    w->orch = NULL;
    w->srv_incarnation++;
    if (w->srv) srv_close(w->srv);
    if (w->sdb) sqlite3_close(w->sdb);
    w->srv = NULL;
    w->sdb = NULL;
    w->server_up = false;
}

static int server_setup(struct world *w)
{
    if (server_open(w) != 0) return -1;
    for (int t = 0; t < w->p.ntables; t++)
        if (srv_declare_table(w->srv, &w->p.tables[t]) != 0) return -1;
    for (int u = 0; u < w->nusers; u++)
        for (int t = 0; t < w->p.ntables; t++)
            if (w->p.rows[t] > 0 && srv_seed_rows(w->srv, w->users[u], w->p.tables[t].name, w->p.rows[t]) != 0)
                return -1;
    return 0;
}

int user_index(struct world *w, const char *user)
{
    for (int i = 0; i < w->nusers; i++)
        if (strcmp(w->users[i], user) == 0) return i;
    return -1;
}

static void add_user(struct world *w, const char *user)
{
    if (user_index(w, user) >= 0 || w->nusers >= WORLD_MAX_USERS) return;
    str_copy(w->users[w->nusers++], NAME_MAX_LEN + 1, user);
}

/* ---- world ---- */

static void setup_device(struct world *w, int i)
{
    struct sdev *d = &w->devs[i];
    d->w = w;
    d->idx = i;
    d->spec = w->p.devs[i];
    /* (memcpy: gcc -O1 cannot tell d->spec from d->user and warns on snprintf) */
    _Static_assert(sizeof d->user == sizeof d->spec.user, "user names");
    memcpy(d->user, d->spec.user, sizeof d->user);
    d->user[sizeof d->user - 1] = '\0';
    rng_seed(&d->rng, w->p.seed, 100 + (uint64_t)i);
    d->env = (struct env){ .ctx = d, .now_ms = env_now, .mono_ms = env_mono, .random = env_random,
                           .set_timer = env_set_timer, .cancel_timer = env_cancel_timer,
                           .send = env_send, .emit = env_emit, .observe = env_observe };
    oracle_init(&d->oracle, w->cfg.cooldown_ms, w->cfg.lock_timeout_ms);
    add_user(w, d->spec.user);
}

void world_sqlite_single_thread(void)
{
    /* SQLITE_MISUSE once SQLite is initialised: then it stays serialised. */
    (void)sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct world *world_new(const struct world_params *p, char *err, size_t errlen)
{
    SS_ASSERT(p && p->ndev >= 0 && p->ndev <= WORLD_MAX_DEV);
    struct world *w = calloc(1, sizeof *w);
    if (!w) { snprintf(err, errlen, "out of memory"); return NULL; }
    w->p = *p;
    w->cfg = p->cfg;
    w->faults = p->faults;
    for (int s = 0; s < RS_COUNT; s++) rng_seed(&w->rng[s], p->seed, (uint64_t)s);
    heap_init(&w->heap);
    trace_init(&w->trace, p->trace_out);
    w->ndev = p->ndev;
    for (int i = 0; i < p->ndev; i++) setup_device(w, i);
    w->senv = (struct env){ .ctx = w, .now_ms = srv_now, .mono_ms = srv_mono, .random = srv_random,
                            .set_timer = srv_set_timer, .cancel_timer = srv_cancel_timer,
                            .emit = srv_emit };
    w->sfs = simfs_new("server", fs_rnd, &w->rng[RS_STORAGE], NULL, NULL);
    w->srvo = srvo_new(p->tables, p->ntables);
    w->erp = erp_new();
    rng_seed(&w->erp_rng, p->seed, 200);
    for (int t = 0; w->erp && t < p->ntables; t++)   /* §1.9: the scenario's generated rows */
        if (p->rows[t] > 0 && erp_seed(w->erp, p->tables[t].name, p->rows[t], WORLD_EPOCH_MS) != 0) {
            snprintf(err, errlen, "erp: %s rows past the limits", p->tables[t].name);
            world_free(w);
            return NULL;
        }
    if (!w->sfs || !w->srvo || !w->erp) { snprintf(err, errlen, "out of memory"); world_free(w); return NULL; }
    simfs_reseed_sqlite_prng(w->sfs);
    for (int i = 0; i < w->ndev; i++) {
        char name[64];
        snprintf(name, sizeof name, "dev-%s", w->devs[i].spec.name);
        w->devs[i].fs = simfs_new(name, fs_rnd, &w->rng[RS_STORAGE], NULL, NULL);
        if (!w->devs[i].fs) { snprintf(err, errlen, "out of memory"); world_free(w); return NULL; }
        simfs_set_fault_rnd(w->devs[i].fs, fs_rnd, &w->rng[RS_FAULTS]);
    }
    if (server_setup(w) != 0) {
        str_copy(err, errlen, w->failure);
        world_free(w);
        return NULL;
    }
    trace_line(&w->trace, 0, "world", "seed=0x%016llx devices=%d users=%d tables=%d",
               (unsigned long long)p->seed, w->ndev, w->nusers, p->ntables);
    return w;
}

static void device_down(struct sdev *d)
{
    guard_close(d);
    if (d->dev) dev_close(d->dev);
    if (d->db) sqlite3_close(d->db);
    d->dev = NULL;
    d->db = NULL;
    d->running = false;
}

void world_free(struct world *w)
{
    if (!w) return;
    for (int i = 0; i < w->ndev; i++) {
        device_down(&w->devs[i]);
        if (w->devs[i].fs) simfs_free(w->devs[i].fs);
        free(w->devs[i].acked);
        free(w->devs[i].guard);
    }
    server_close(w);
    if (w->sfs) simfs_free(w->sfs);
    if (w->srvo) srvo_free(w->srvo);
    erp_free(w->erp);
    heap_free(&w->heap, free_step);
    free(w->log);
    free(w->hq);
    free(w->once);
    free(w);
}

void world_fail(struct world *w, const char *invariant, const char *fmt, ...)
{
    if (w->failed) return;   /* the first violation is the one that matters */
    w->failed = true;
    str_copy(w->failure_inv, sizeof w->failure_inv, invariant);
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(w->failure, sizeof w->failure, "%s at step %llu (t=%lld ms): %s", invariant,
             (unsigned long long)w->steps, (long long)w->now, msg);
    trace_line(&w->trace, w->now, "check", "VIOLATION %s: %s", invariant, msg);
}

/* ---- steps ---- */

static void reap(struct world *w);

static void flush_hooks(struct world *w)
{
    if (!w->hook || w->in_hook) return;
    w->in_hook = true;
    /* Statements run by the hook may emit more events: drain until empty. */
    for (int i = 0; i < w->nhq && !w->failed; i++) {
        struct hook_ev he = w->hq[i];
        w->hook(w->hook_arg, w, he.dev, &he.ev);
    }
    w->nhq = 0;
    w->in_hook = false;
}

static void error_response(struct world *w, const uint8_t *req, size_t len, int status,
                           int64_t retry_after, uint8_t **out, size_t *out_len)
{
    struct wire_msg m;
    wire_msg_init(&m, WIRE_ERROR_RESP);
    enum wire_type t;
    if (wire_peek(req, len, &t, &m.req_id) != 0) m.req_id = 0;
    m.status = status;
    m.retry_after_ms = retry_after;
    snprintf(m.text, sizeof m.text, "injected %d", status);
    if (wire_encode(&m, out, out_len) != 0) { *out = NULL; *out_len = 0; }
    wire_msg_free(&m);
    (void)w;
}

/* `server fail N` first, then the swarm's random server errors. */
static bool injected_failure(struct world *w, int *status, int64_t *retry_after)
{
    if (w->fail_n > 0) {
        w->fail_n--;
        *status = w->fail_status;
        *retry_after = w->fail_status == WS_THROTTLE ? w->fail_retry_after : 0;
        return true;
    }
    struct rng *r = &w->rng[RS_FAULTS];
    if (rng_chance(r, w->faults.server_error)) { *status = rng_chance(r, 0.5) ? 500 : 503; *retry_after = 0; return true; }
    if (rng_chance(r, w->faults.throttle)) { *status = WS_THROTTLE; *retry_after = w->faults.retry_after; return true; }
    return false;
}

static void step_to_server(struct world *w, struct step *s)
{
    struct sdev *d = &w->devs[s->a];
    if (!w->server_up || (d->partitioned & PART_UP)) {
        trace_line(&w->trace, w->now, "server", "drop from %s (%s)", d->spec.name,
                   w->server_up ? "partitioned" : "server down");
        return;
    }
    uint8_t *resp = NULL;
    size_t rlen = 0;
    int status;
    int64_t ra;
    if (injected_failure(w, &status, &ra)) {
        error_response(w, s->data, s->len, status, ra, &resp, &rlen);
        trace_line(&w->trace, w->now, "server", "fail %d to %s", status, d->spec.name);
    } else {
        if (srv_handle(w->srv, s->data, s->len, &resp, &rlen) != 0) {
            world_fail(w, "SRV-4", "server could not answer");
            return;
        }
        struct wire_msg m;
        struct wire_err err;
        if (wire_decode_keys(resp, rlen, &m, &err) == 0) {
            trace_line(&w->trace, w->now, "server", "answer %s status=%d", d->spec.name, m.status);
            check_response(w, d->user, &m);
        } else {
            world_fail(w, "WIRE", "server sent an undecodable response: %s", err.what);
        }
        wire_msg_free(&m);
    }
    if (resp) net_send(w, SK_TO_DEVICE, s->a, (uint32_t)s->gen, resp, rlen);
    free(resp);
}

/* The orchestrator's steps: its timers, and the ERP's answers. */
static void run_server_step(struct world *w, struct step *s)
{
    if (!w->server_up || !w->orch) {
        trace_line(&w->trace, w->now, "server", "%s dropped (server down)",
                   s->kind == SK_SRV_TIMER ? "timer" : "erp answer");
        return;
    }
    if (s->kind == SK_SRV_TIMER) {
        if (s->gen != (((uint64_t)w->srv_incarnation << 32) | w->srv_tgen[s->b])) return;
        trace_line(&w->trace, w->now, "server", "orch timer %d", s->b);
        orch_on_timer(w->orch, s->b);
        return;
    }
    enum orch_done r = orch_import_done(w->orch, s->gen, s->b != 0);
    trace_line(&w->trace, w->now, "erp", "answer run=%llu ok=%d: %s", (unsigned long long)s->gen,
               s->b, r == ORCH_DONE_ACCEPTED ? "accepted" : r == ORCH_DONE_TIMED_OUT ? "timed out" : "ignored");
}

static void run_step(struct world *w, struct step *s)
{
    if (s->kind == SK_SRV_TIMER || s->kind == SK_ERP_DONE) {
        run_server_step(w, s);
        check_orch(w);
        return;
    }
    struct sdev *d = &w->devs[s->a];
    switch (s->kind) {
    case SK_TIMER:
        if (!d->running || s->gen != (((uint64_t)d->incarnation << 32) | d->tgen[s->b])) return;
        trace_line(&w->trace, w->now, d->spec.name, "timer %d", s->b);
        dev_on_timer(d->dev, s->b);
        break;
    case SK_TO_SERVER:
        step_to_server(w, s);
        break;
    case SK_TO_DEVICE:
        if (!d->running || (uint32_t)s->gen != d->incarnation || (d->partitioned & PART_DOWN)) {
            trace_line(&w->trace, w->now, d->spec.name, "net ->device dropped");
            return;
        }
        trace_line(&w->trace, w->now, d->spec.name, "recv len=%zu", s->len);
        guard_snapshot(d, s->data, s->len);
        dev_on_message(d->dev, s->data, s->len);
        break;
    }
    check_after_step(w, s->a, s->kind == SK_TO_DEVICE);
}

int world_run_before(struct world *w, int64_t t)
{
    while (!w->failed) {
        const struct step *top = heap_peek(&w->heap);
        if (!top || top->at >= t) break;
        struct step s;
        heap_pop(&w->heap, &s);
        SS_ASSERT(s.at >= w->now);
        w->now = s.at;
        w->steps++;
        run_step(w, &s);
        free(s.data);
        flush_hooks(w);
        reap(w);
    }
    if (!w->failed && t > w->now) w->now = t;
    return w->failed ? -1 : 0;
}

int64_t world_now(const struct world *w) { return w->now; }

int64_t world_next_step(const struct world *w)
{
    const struct step *top = heap_peek(&w->heap);
    return top ? top->at : INT64_MAX;
}

/* ---- actions ---- */

static void action_done(struct world *w, int dev)
{
    if (dev >= 0) check_after_step(w, dev, false);
    check_orch(w);
    flush_hooks(w);
    reap(w);
}

static struct sdev *dev_at(struct world *w, int dev)
{
    SS_ASSERT(dev >= 0 && dev < w->ndev);
    w->steps++;
    return &w->devs[dev];
}

static int read_holder(struct sdev *d, char *buf, size_t n)
{
    sqlite3_stmt *st;
    buf[0] = 0;
    if (sqlite3_prepare_v2(d->db, "SELECT v FROM settings WHERE k='holder'", -1, &st, NULL) != SQLITE_OK)
        return 0;
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) str_copy(buf, n, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return found;
}

static void check_stale(struct sdev *d, bool faulted);

/* Opens the device's database and process: start and restart (COORD-7). */
static int device_up(struct world *w, struct sdev *d)
{
    char err[256];
    if (sqlite3_open_v2("device.db", &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        simfs_vfs_name(d->fs)) != SQLITE_OK) {
        world_fail(w, "INV-DURABLE", "%s: database does not open: %s", d->spec.name, sqlite3_errmsg(d->db));
        return -1;
    }
    d->dev = dev_open(d->db, &d->env, &w->cfg, d->spec.name, w->p.tables, w->p.ntables, err, sizeof err);
    if (!d->dev) {
        world_fail(w, "INV-DURABLE", "%s: device does not open: %s", d->spec.name, err);
        return -1;
    }
    char holder[32];
    read_holder(d, holder, sizeof holder);
    d->boot = w->now;
    d->running = true;
    d->crashed = false;
    d->holding = false;
    bool faulted = d->disk_faulted || d->disk_full;
    d->disk_faulted = false;
    dev_start(d->dev);
    check_stale(d, faulted);
    check_durable(d);
    return 0;
}

/* INV-STALE: after start no persisted holder survives unless the lock is
 * held now by that kind (the start's own trigger took it). A storage fault
 * injected since the last start may legitimately keep the delete from
 * happening; the next acquisition overwrites it then. */
static void check_stale(struct sdev *d, bool faulted)
{
    struct world *w = d->w;
    char holder[32];
    w->check_counts[CK_STALE]++;
    if (!d->running || dead(d) || !read_holder(d, holder, sizeof holder) || faulted) return;
    struct dev_state st;
    dev_get_state(d->dev, &st);
    if (!st.lock_held || strcmp(holder, kind_name(st.holder)) != 0)
        world_fail(w, "INV-STALE", "%s: persisted holder %s survived start (lock %s)", d->spec.name,
                   holder, st.lock_held ? kind_name(st.holder) : "free");
}

int world_start(struct world *w, int dev)
{
    struct sdev *d = dev_at(w, dev);
    if (d->running || d->crashed) return -1;
    trace_line(&w->trace, w->now, d->spec.name, "action start");
    int rc = device_up(w, d);
    action_done(w, dev);
    return rc;
}

int world_crash(struct world *w, int dev, bool power)
{
    struct sdev *d = dev_at(w, dev);
    if (!d->running) return -1;
    trace_line(&w->trace, w->now, d->spec.name, "action crash%s", power ? " power" : "");
    simfs_freeze(d->fs);   /* the process is gone: its close must change nothing */
    device_down(d);
    simfs_crash(d->fs, power);
    d->crashed = true;
    d->incarnation++;
    d->holding = false;
    action_done(w, -1);   /* a partition outlives the crash: only heal ends it (SPEC §4) */
    return 0;
}

/* Devices whose storage froze during the step die now (the crash was at
 * an exact write, armed by world_crash_at_write). */
static void reap(struct world *w)
{
    for (int i = 0; i < w->ndev; i++) {
        struct sdev *d = &w->devs[i];
        if (!d->running || !dead(d)) continue;
        trace_line(&w->trace, w->now, d->spec.name, "died at a write (%s)", d->power_armed ? "power loss" : "kill");
        device_down(d);
        simfs_crash(d->fs, d->power_armed);
        d->crashed = true;
        d->incarnation++;
        d->holding = false;
    }
}

void world_crash_at_write(struct world *w, int dev, int nwrites, bool power)
{
    struct sdev *d = &w->devs[dev];
    if (!d->running) return;
    trace_line(&w->trace, w->now, d->spec.name, "armed crash after %d writes%s", nwrites, power ? " power" : "");
    d->power_armed = power;
    simfs_freeze_after_writes(d->fs, nwrites);
}

void world_disk_fault(struct world *w, int dev, int kind)
{
    struct sdev *d = &w->devs[dev];
    trace_line(&w->trace, w->now, d->spec.name, "disk fault %d", kind);
    d->disk_faulted = true;
    simfs_fail_next(d->fs, (enum simfs_fault)kind, 1);
}

int world_restart(struct world *w, int dev)
{
    struct sdev *d = dev_at(w, dev);
    if (!d->crashed) return -1;
    trace_line(&w->trace, w->now, d->spec.name, "action restart");
    int rc = device_up(w, d);
    action_done(w, dev);
    return rc;
}

int world_login(struct world *w, int dev, const char *user)
{
    struct sdev *d = dev_at(w, dev);
    if (!d->running || !w->server_up) return -1;
    const char *u = user ? user : d->spec.user;
    char token[TOKEN_MAX + 1];
    if (srv_issue_token(w->srv, u, d->spec.name, token, sizeof token) != 0) return -1;
    add_user(w, u);
    trace_line(&w->trace, w->now, d->spec.name, "action login %s", u);
    bool switched = strcmp(u, d->user) != 0;
    int rc = dev_login(d->dev, u, token);
    if (rc == 0 && switched) d->ndone = 0;   /* INV-RESUME: another user's download starts over */
    if (rc == 0) str_copy(d->user, sizeof d->user, u);
    action_done(w, dev);
    return rc;
}

#define SIMPLE_ACTION(fn, label, call)                                        \
    int fn(struct world *w, int dev)                                          \
    {                                                                         \
        struct sdev *d = dev_at(w, dev);                                      \
        if (!d->running) return -1;                                           \
        trace_line(&w->trace, w->now, d->spec.name, "action " label);         \
        int rc = call;                                                        \
        action_done(w, dev);                                                  \
        return rc;                                                            \
    }

SIMPLE_ACTION(world_logout, "logout", dev_logout(d->dev))
SIMPLE_ACTION(world_cancel_initial, "cancel-initial", dev_cancel_initial(d->dev))
SIMPLE_ACTION(world_requeue, "requeue", dev_requeue(d->dev))

static void record_ack(struct sdev *d)
{
    if (d->nacked == d->acked_cap) {
        int cap = d->acked_cap ? d->acked_cap * 2 : 64;
        if (cap > ACKED_MAX) return;
        uint64_t *v = realloc(d->acked, (size_t)cap * sizeof *v);
        if (!v) return;
        d->acked = v;
        d->acked_cap = cap;
    }
    d->acked[d->nacked++] = dev_last_op_seq(d->dev);
}

int world_write(struct world *w, int dev, const char *table, const char *id, int n,
                const char *const *names, const char *const *values)
{
    struct sdev *d = dev_at(w, dev);
    if (!d->running) return -1;
    char kvs[TRACE_LINE_MAX / 2];
    size_t kl = 0;
    kvs[0] = 0;
    for (int i = 0; i < n && kl + 1 < sizeof kvs; i++) {
        int k = snprintf(kvs + kl, sizeof kvs - kl, " %s=%s", names[i], values[i]);
        if (k < 0 || (size_t)k >= sizeof kvs - kl) { kvs[kl] = 0; break; }
        kl += (size_t)k;
    }
    /* the values let `syncsim shrink SEED` replay the write as a statement */
    trace_line(&w->trace, w->now, d->spec.name, "action write %s %s n=%d%s", table, id, n, kvs);
    int rc = dev_write(d->dev, table, id, n, names, values);
    if (rc == 0 && !dead(d)) record_ack(d);
    action_done(w, dev);
    return rc;
}

int world_delete(struct world *w, int dev, const char *table, const char *id)
{
    struct sdev *d = dev_at(w, dev);
    if (!d->running) return -1;
    trace_line(&w->trace, w->now, d->spec.name, "action delete %s %s", table, id);
    int rc = dev_delete(d->dev, table, id);
    if (rc == 0 && !dead(d)) record_ack(d);
    action_done(w, dev);
    return rc;
}

int world_trigger(struct world *w, int dev, enum sync_kind kind)
{
    struct sdev *d = dev_at(w, dev);
    if (!d->running) return -1;
    trace_line(&w->trace, w->now, d->spec.name, "action trigger %s", kind_name(kind));
    dev_trigger(d->dev, kind);
    action_done(w, dev);
    return 0;
}

int world_set_online(struct world *w, int dev, bool online)
{
    struct sdev *d = dev_at(w, dev);
    if (!d->running) return -1;
    trace_line(&w->trace, w->now, d->spec.name, "action %s", online ? "online" : "offline");
    dev_set_online(d->dev, online);
    action_done(w, dev);
    return 0;
}

int world_partition(struct world *w, int dev, bool on)
{
    return world_partition_dir(w, dev, on ? PART_BOTH : 0);
}

int world_partition_dir(struct world *w, int dev, unsigned dirs)
{
    struct sdev *d = dev_at(w, dev);
    static const char *const names[] = { "heal", "partition up", "partition down", "partition" };
    trace_line(&w->trace, w->now, d->spec.name, "action %s", names[dirs & PART_BOTH]);
    d->partitioned = dirs & PART_BOTH;
    action_done(w, -1);
    return 0;
}

void world_set_drift(struct world *w, int dev, int64_t ppm)
{
    SS_ASSERT(ppm > -1000000 && ppm < 1000000);
    w->devs[dev].drift_ppm = ppm;
}

void world_disk_capacity(struct world *w, int dev, int64_t bytes)
{
    trace_line(&w->trace, w->now, w->devs[dev].spec.name, "disk capacity %lld", (long long)bytes);
    w->devs[dev].disk_full = bytes > 0;
    simfs_set_capacity(w->devs[dev].fs, bytes);
}

void world_heal(struct world *w, int dev)
{
    if (dev >= 0) { world_partition(w, dev, false); return; }
    w->steps++;
    trace_line(&w->trace, w->now, "world", "action heal all");
    for (int i = 0; i < w->ndev; i++) {
        w->devs[i].partitioned = 0;
        simfs_set_capacity(w->devs[i].fs, 0);   /* a full disk is a fault too */
        w->devs[i].disk_full = false;
    }
    memset(&w->faults, 0, sizeof w->faults);
    w->faults.delay_min = w->faults.delay_max = 10;
    w->fail_n = 0;
    flush_hooks(w);
}

int world_clock_jump(struct world *w, int dev, int64_t delta_ms)
{
    struct sdev *d = dev_at(w, dev);
    trace_line(&w->trace, w->now, d->spec.name, "action clock %+lld", (long long)delta_ms);
    d->clock_offset += delta_ms;   /* a wall jump alone wakes nothing (COORD-5) */
    action_done(w, -1);
    return 0;
}

int world_migrate(struct world *w, int dev, const char *table)
{
    struct sdev *d = dev_at(w, dev);
    if (!d->running) return -1;
    struct table_decl t = { .read_only = false, .strategy = STRAT_LWW };
    str_copy(t.name, sizeof t.name, table);
    trace_line(&w->trace, w->now, d->spec.name, "action migrate add-table %s", table);
    bool known = false;
    for (int i = 0; i < w->nmigrated; i++) known |= strcmp(w->migrated[i].name, table) == 0;
    if (!known && w->nmigrated < MAX_TABLES) {
        w->migrated[w->nmigrated++] = t;
        srvo_add_table(w->srvo, &t);
    }
    if (w->server_up) srv_declare_table(w->srv, &t);
    int rc = dev_migrate_add_table(d->dev, &t);
    action_done(w, dev);
    return rc;
}

int world_server_write(struct world *w, const char *user, const char *table, const char *id,
                       int n, const char *const *names, const char *const *values, bool del,
                       const char *by)
{
    w->steps++;
    if (!w->server_up) return -1;
    char kvs[TRACE_LINE_MAX / 2];
    size_t kl = 0;
    kvs[0] = 0;
    for (int i = 0; i < n && !del && kl + 1 < sizeof kvs; i++) {
        int k = snprintf(kvs + kl, sizeof kvs - kl, " %s=%s", names[i], values[i]);
        if (k < 0 || (size_t)k >= sizeof kvs - kl) { kvs[kl] = 0; break; }
        kl += (size_t)k;
    }
    trace_line(&w->trace, w->now, "server", "action %s %s %s %s user=%s%s", by, del ? "delete" : "write",
               table, id, user, kvs);
    int rc = srv_write(w->srv, user, table, id, n, names, values, del, by);
    action_done(w, -1);
    return rc;
}

void world_server_fail(struct world *w, int n, int status, int64_t retry_after_ms)
{
    w->steps++;
    trace_line(&w->trace, w->now, "server", "action fail %d status %d", n, status);
    w->fail_n = n;
    w->fail_status = status;
    w->fail_retry_after = retry_after_ms;
}

int world_server_crash(struct world *w)
{
    w->steps++;
    if (!w->server_up) return -1;
    trace_line(&w->trace, w->now, "server", "action crash");
    simfs_freeze(w->sfs);
    server_close(w);
    check_orch_lost(w);   /* ORCH-4: the queue and the running run are gone */
    simfs_crash(w->sfs, false);
    action_done(w, -1);
    return 0;
}

int world_server_restart(struct world *w)
{
    w->steps++;
    if (w->server_up) return -1;
    trace_line(&w->trace, w->now, "server", "action restart");
    int rc = server_open(w);
    action_done(w, -1);
    return rc;
}

int world_orchestrate(struct world *w, enum orch_job job, bool full)
{
    w->steps++;
    if (!w->server_up) return -1;
    trace_line(&w->trace, w->now, "server", "action orchestrate %s %s", orch_job_name(job),
               full ? "full" : "incremental");
    enum orch_answer a = orch_request(w->orch, job, full ? ORCH_FULL : ORCH_INCREMENTAL);
    trace_line(&w->trace, w->now, "server", "orchestrate answered %s",
               a == ORCH_STARTED ? "started" : a == ORCH_QUEUED ? "queued" : "collapsed");
    action_done(w, -1);
    return 0;
}

int world_orchestrator(struct world *w, bool on)
{
    w->steps++;
    if (!w->server_up) return -1;
    trace_line(&w->trace, w->now, "server", "action orchestrator %s", on ? "on" : "off");
    int rc = orch_set_schedule(w->orch, on);
    action_done(w, -1);
    return rc;
}

int world_erp_write(struct world *w, const char *table, const char *id, int n,
                    const char *const *names, const char *const *values)
{
    w->steps++;
    trace_line(&w->trace, w->now, "erp", "action write %s %s n=%d", table, id, n);
    /* ERP changes carry the server's clock: incremental imports compare
     * them with the start of the last successful run (ORCH-2). */
    int rc = erp_write(w->erp, table, id, n, names, values, WORLD_EPOCH_MS + w->now);
    action_done(w, -1);
    return rc;
}

int world_server_revoke(struct world *w, int dev)
{
    struct sdev *d = dev_at(w, dev);
    if (!w->server_up) return -1;
    trace_line(&w->trace, w->now, "server", "action revoke %s", d->spec.name);
    int rc = srv_revoke_device(w->srv, d->spec.name);
    action_done(w, -1);
    return rc;
}

int world_resolve(struct world *w, int dev, const char *table, const char *id, bool local)
{
    struct sdev *d = dev_at(w, dev);
    if (!d->running) return -1;
    trace_line(&w->trace, w->now, d->spec.name, "action resolve %s %s %s", table, id, local ? "local" : "remote");
    int rc = dev_resolve(d->dev, table, id, local);
    if (rc == 0 && local && !dead(d)) record_ack(d);
    action_done(w, dev);
    return rc;
}

/* ---- observation ---- */

int world_ndev(const struct world *w) { return w->ndev; }

int world_dev_index(const struct world *w, const char *name)
{
    for (int i = 0; i < w->ndev; i++)
        if (strcmp(w->devs[i].spec.name, name) == 0) return i;
    return -1;
}

const char *world_dev_name(const struct world *w, int dev) { return w->devs[dev].spec.name; }
const char *world_dev_user(const struct world *w, int dev) { return w->devs[dev].user; }
bool world_dev_running(const struct world *w, int dev) { return w->devs[dev].running; }
struct device *world_device(struct world *w, int dev) { return w->devs[dev].running ? w->devs[dev].dev : NULL; }
struct srv *world_server(struct world *w) { return w->server_up ? w->srv : NULL; }
struct orch *world_orch(struct world *w) { return w->server_up ? w->orch : NULL; }

int world_requests(const struct world *w, int dev, bool push)
{
    return push ? w->devs[dev].push_reqs : w->devs[dev].pull_reqs;
}

const struct world_event *world_events(const struct world *w, int *n) { *n = w->nlog; return w->log; }
bool world_failed(const struct world *w) { return w->failed; }
const char *world_failure(const struct world *w) { return w->failure; }
const char *world_failure_invariant(const struct world *w) { return w->failure_inv; }
uint64_t world_step_count(const struct world *w) { return w->steps; }
uint64_t world_hash(const struct world *w) { return w->trace.hash; }
uint64_t world_event_count(const struct world *w) { return w->nevents; }
struct trace *world_trace(struct world *w) { return &w->trace; }
struct rng *world_rng(struct world *w, enum rng_stream s) { return &w->rng[s]; }
const struct world_params *world_params(const struct world *w) { return &w->p; }

void world_set_event_hook(struct world *w, world_step_hook fn, void *arg)
{
    w->hook = fn;
    w->hook_arg = arg;
}

void world_check_counts(const struct world *w, const char *const **ids, const uint64_t **counts, int *n)
{
    *ids = check_names;
    *counts = w->check_counts;
    *n = CK_COUNT;
}

/* ---- the hostile client (SRV-4, INV-SCOPE) ---- */

static void hostile_send(struct world *w, struct wire_msg *m, const char *what)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (wire_encode(m, &buf, &len) != 0) { free(buf); return; }
    struct rng *r = &w->rng[RS_FAULTS];
    if (rng_chance(r, 0.3) && len > 0) {   /* corrupt one byte (two draws, in order) */
        size_t at = (size_t)rng_below(r, len);
        buf[at] ^= (uint8_t)(1 + rng_below(r, 255));
    }
    if (rng_chance(r, 0.1)) len = (size_t)rng_below(r, len + 1);                                       /* truncate */
    uint8_t *resp = NULL;
    size_t rlen = 0;
    w->check_counts[CK_SCOPE]++;
    if (srv_handle(w->srv, buf, len, &resp, &rlen) != 0) {
        world_fail(w, "SRV-4", "server gave no answer to a hostile %s", what);
    } else {
        struct wire_msg a;
        struct wire_err err;
        if (wire_decode(resp, rlen, &a, &err) != 0)
            world_fail(w, "SRV-4", "server answered a hostile %s with an undecodable message: %s", what, err.what);
        else
            check_response(w, "mallory", &a);
        wire_msg_free(&a);
    }
    free(resp);
    free(buf);
}

/* A client that forges tokens and user ids, replays old requests and sends
 * malformed or oversized messages. It has a real token of its own (user
 * mallory): whatever it asks, every row it gets back must be mallory's. */
void world_hostile(struct world *w)
{
    w->steps++;
    if (!w->server_up) return;
    struct rng *r = &w->rng[RS_FAULTS];
    static char token[TOKEN_MAX + 1];
    if (srv_issue_token(w->srv, "mallory", "mallory-dev", token, sizeof token) != 0) return;
    struct wire_msg m;
    int kind = (int)rng_below(r, 4);
    wire_msg_init(&m, kind == 0 ? WIRE_PUSH_REQ : kind == 1 ? WIRE_PULL_REQ : WIRE_PAGE_REQ);
    m.req_id = rng_next(r);
    str_copy(m.token, sizeof m.token, rng_chance(r, 0.3) ? "forged-token" : token);
    m.cursor = rng_chance(r, 0.5) ? 0 : rng_below(r, 1000);
    m.limit = (uint32_t)rng_range(r, 0, 2000);
    str_copy(m.table, sizeof m.table, w->p.ntables ? w->p.tables[rng_below(r, (uint64_t)w->p.ntables)].name : "orders");
    if (kind == 0) {
        m.nitems = 1;
        m.items = calloc(1, sizeof *m.items);
        if (m.items) {
            /* Another user's op id and row id: it must land in mallory's data only. */
            snprintf(m.items[0].op_id, sizeof m.items[0].op_id, "%s:%d", w->ndev ? w->devs[0].spec.name : "phone",
                     (int)rng_range(r, 1, 5));
            row_init(&m.items[0].row, m.table, "r1");
            struct stamp st = { .at = WORLD_EPOCH_MS + w->now, .seq = 1 };
            snprintf(st.by, sizeof st.by, "mallory-dev");
            row_set(&m.items[0].row, "status", "forged", &st);
            m.items[0].row.st = st;
        }
    }
    trace_line(&w->trace, w->now, "hostile", "request type=%d", (int)m.type);
    hostile_send(w, &m, "request");
    wire_msg_free(&m);
}
