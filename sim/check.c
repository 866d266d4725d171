/*
 * check.c — the invariants of SPEC §2, checked after every step from the
 * event stream, the messages on the wire and the databases.
 *
 * The checker keeps its own small record of what happened (who holds the
 * lock by the events, when the run last made progress, which tables finished
 * downloading) so that it does not trust the device's memory; the
 * coordinator's decisions are also replayed through the reference model
 * (oracle.c) from world.c's observe hook.
 */
#include "world_int.h"

#include <stdlib.h>
#include <string.h>

const char *const check_names[CK_COUNT] = {
    "INV-MUTEX", "INV-GATE", "INV-COOLDOWN", "INV-COLLAPSE", "INV-TIMEOUT", "INV-STALE",
    "INV-DURABLE", "INV-ONCE", "INV-GUARD", "INV-ORDER", "INV-SCOPE", "INV-CONVERGE",
    "INV-RESUME", "INV-ORCH", "ORACLE"
};

static bool is(const struct event *e, const char *name) { return strcmp(e->name, name) == 0; }

static void on_acquired(struct sdev *d, const struct event *e)
{
    struct world *w = d->w;
    w->check_counts[CK_MUTEX]++;
    if (d->holding)
        world_fail(w, "INV-MUTEX", "%s: lock.acquired while the lock was already held", d->spec.name);
    d->holding = true;
    d->progress_mono = sdev_mono(d);
    const char *kind = ev_get(e, "kind");
    if (!kind || strcmp(kind, "initial") == 0) return;
    w->check_counts[CK_COOLDOWN]++;
    if (oracle_in_cooldown(&d->oracle, sdev_wall(d), sdev_mono(d)))
        world_fail(w, "INV-COOLDOWN", "%s: %s sync acquired within the cooldown", d->spec.name, kind);
}

static void on_started(struct sdev *d, const struct event *e)
{
    const char *kind = ev_get(e, "kind");
    struct dev_state st;
    dev_get_state(d->dev, &st);
    d->w->check_counts[CK_GATE]++;
    if (kind && strcmp(kind, "initial") != 0 && !st.initial_complete)
        world_fail(d->w, "INV-GATE", "%s: %s sync started before initial sync completed", d->spec.name, kind);
    d->run_start_step = d->w->steps;
}

static void on_blocked(struct sdev *d, const struct event *e)
{
    /* INV-TIMEOUT: a held lock without progress for longer never blocks. */
    bool busy = is(e, "lock.queued") || (is(e, "lock.rejected") && ev_get(e, "reason")
                                         && strcmp(ev_get(e, "reason"), "busy") == 0);
    if (!busy) return;
    d->w->check_counts[CK_TIMEOUT]++;
    if (d->holding && sdev_mono(d) - d->progress_mono > d->w->cfg.lock_timeout_ms)
        world_fail(d->w, "INV-TIMEOUT", "%s: a lock without progress for %lld ms blocked a request",
                   d->spec.name, (long long)(sdev_mono(d) - d->progress_mono));
}

static void on_force(struct sdev *d)
{
    d->w->check_counts[CK_TIMEOUT]++;
    if (sdev_mono(d) - d->progress_mono <= d->w->cfg.lock_timeout_ms)
        world_fail(d->w, "INV-TIMEOUT", "%s: force-release after only %lld ms without progress",
                   d->spec.name, (long long)(sdev_mono(d) - d->progress_mono));
    d->holding = false;
}

/* A commit of a run (RUN-10: its event follows the commit). COORD-12: a run
 * whose lock was force-released or ended commits nothing more, so every
 * commit happens while some run holds the lock. */
static void on_commit(struct sdev *d, const struct event *e)
{
    d->w->check_counts[CK_MUTEX]++;
    if (!d->holding)
        world_fail(d->w, "INV-MUTEX", "%s: %s committed while no run held the lock "
                   "(a fenced run must commit nothing, COORD-12)", d->spec.name, e->name);
    d->progress_mono = sdev_mono(d);
}

static void on_table_done(struct sdev *d, const struct event *e)
{
    const char *t = ev_get(e, "table");
    if (!t || d->ndone >= MAX_TABLES) return;
    str_copy(d->done_tables[d->ndone++], NAME_MAX_LEN + 1, t);
}

void check_event(struct sdev *d, const struct event *e)
{
    if (is(e, "lock.acquired")) on_acquired(d, e);
    else if (is(e, "lock.released")) d->holding = false;
    else if (is(e, "lock.force_released")) on_force(d);
    else if (is(e, "sync.started")) on_started(d, e);
    else if (is(e, "sync.push_acked") || is(e, "sync.pull_page") || is(e, "initial.page"))
        on_commit(d, e);
    else if (is(e, "initial.table_done")) on_table_done(d, e);
    else if (is(e, "initial.completed")) d->ndone = 0;
    else if (is(e, "sync.completed") && d->pull_sent_step >= d->run_start_step)
        d->synced_step = d->pull_sent_step;
    on_blocked(d, e);
}

/* INV-ORDER and INV-RESUME, on every request a device sends. */
void check_request(struct sdev *d, const struct wire_msg *m)
{
    struct world *w = d->w;
    struct dev_state st;
    dev_get_state(d->dev, &st);
    bool pulling = m->type == WIRE_PULL_REQ || m->type == WIRE_PAGE_REQ;
    if (pulling && st.run_active && st.holder != KIND_INITIAL) {
        w->check_counts[CK_ORDER]++;
        if (!st.run_push_done)
            world_fail(w, "INV-ORDER", "%s: pull request before the push phase ended", d->spec.name);
    }
    if (m->type == WIRE_PAGE_REQ && st.run_active && st.holder == KIND_INITIAL) {
        w->check_counts[CK_RESUME]++;
        for (int i = 0; i < d->ndone; i++)
            if (strcmp(d->done_tables[i], m->table) == 0)
                world_fail(w, "INV-RESUME", "%s: table %s fetched again after it finished downloading",
                           d->spec.name, m->table);
    }
}

/* INV-SCOPE: every row in a response is the requesting user's, at that version. */
static void scope_row(struct world *w, const char *user, const struct row *r)
{
    w->check_counts[CK_SCOPE]++;
    /* The reference follows every server commit (check_server_commit), so it
     * answers the common case without SQL; only a row it does not vouch
     * for is looked up in the server's database, which has the last word. */
    const struct row *ref = srvo_row(w->srvo, user, r->table, r->id);
    if (ref && ref->seq >= r->seq) return;
    struct row mine = {0};
    int found = srv_get_row(w->srv, user, r->table, r->id, &mine);
    if (found != 1 || mine.seq < r->seq)
        world_fail(w, "INV-SCOPE", "response to %s carries %s/%s seq %llu that is not %s's",
                   user, r->table, r->id, (unsigned long long)r->seq, user);
    row_free(&mine);
}

void check_response(struct world *w, const char *user, const struct wire_msg *m)
{
    for (int i = 0; i < m->nrows && !w->failed; i++) scope_row(w, user, &m->rows[i]);
    for (int i = 0; i < m->nresults && !w->failed; i++)
        if (m->results[i].has_row) scope_row(w, user, &m->results[i].row);
}

static uint64_t op_hash(const char *user, const char *op_id)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = user; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;
    for (const char *p = op_id; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    return h | 1;   /* 0 marks an empty slot */
}

/* Open-addressing set of (user, op id) hashes; false when already present. */
static bool once_insert(struct world *w, uint64_t h)
{
    if (w->once_n * 2 >= w->once_cap) {
        size_t cap = w->once_cap ? w->once_cap * 2 : 1024;
        uint64_t *v = calloc(cap, sizeof *v);
        if (!v) return true;
        for (size_t i = 0; i < w->once_cap; i++) {
            if (!w->once[i]) continue;
            size_t j = w->once[i] & (cap - 1);
            while (v[j]) j = (j + 1) & (cap - 1);
            v[j] = w->once[i];
        }
        free(w->once);
        w->once = v;
        w->once_cap = cap;
    }
    size_t j = h & (w->once_cap - 1);
    while (w->once[j]) {
        if (w->once[j] == h) return false;
        j = (j + 1) & (w->once_cap - 1);
    }
    w->once[j] = h;
    w->once_n++;
    return true;
}

/* Every commit of the server: INV-ONCE, and the reference model of §1.6
 * follows along (INV-CONVERGE compares against it at the end). */
void check_server_commit(struct world *w, const char *user, const char *op_id,
                         const struct push_item *item, const struct row *written,
                         enum push_outcome outcome)
{
    if (!item) {
        srvo_server_write(w->srvo, user, written);
        return;
    }
    w->check_counts[CK_ONCE]++;
    if (!once_insert(w, op_hash(user, op_id)))
        world_fail(w, "INV-ONCE", "server applied op %s of %s twice", op_id, user);
    const struct row *before = srvo_row(w->srvo, user, item->row.table, item->row.id);
    struct stamp prev = before ? before->st : (struct stamp){0};
    enum push_outcome want = srvo_push(w->srvo, user, item);
    if (want != outcome)
        world_fail(w, "INV-CONVERGE", "server answered %s for op %s (%s/%s stamp %lld/%s/%llu, base %llu);"
                   " the reference model says %s (its row: stamp %lld/%s/%llu)",
                   push_outcome_name(outcome), op_id, item->row.table, item->row.id,
                   (long long)item->row.st.at, item->row.st.by, (unsigned long long)item->row.st.seq,
                   (unsigned long long)item->base_seq, push_outcome_name(want),
                   (long long)prev.at, prev.by, (unsigned long long)prev.seq);
}

/* INV-COLLAPSE "no trigger lost": pending changes always have something
 * coming that will push them — a run, a follow-up, a retry (RUN-4) or a
 * debounced trigger (OUT-4). The 15-minute periodic job does not count: a
 * failed push that waits for it (or for the next write) was lost. */
static void check_no_trigger_lost(struct sdev *d, const struct dev_state *st)
{
    if (!st->session || !st->initial_complete || !st->online || st->outbox == 0) return;
    d->w->check_counts[CK_COLLAPSE]++;
    if (!st->lock_held && !st->followup_pending && !st->retry_pending && !st->debounce_pending)
        world_fail(d->w, "INV-COLLAPSE", "%s: %d outbox item(s) and nothing will push them "
                   "(no run, follow-up, retry or debounce): a trigger was lost", d->spec.name, st->outbox);
}

static void check_collapse(struct sdev *d)
{
    struct dev_state st;
    dev_get_state(d->dev, &st);
    enum sync_kind k;
    bool ref = oracle_pending(&d->oracle, &k);
    d->w->check_counts[CK_COLLAPSE]++;
    if (ref != st.followup_pending || (ref && k != st.followup_kind))
        world_fail(d->w, "INV-COLLAPSE", "%s: follow-up %s (%s) but the reference model has %s (%s)",
                   d->spec.name, st.followup_pending ? "pending" : "none", kind_name(st.followup_kind),
                   ref ? "pending" : "none", kind_name(k));
    d->w->check_counts[CK_MUTEX]++;
    if (st.run_active && !st.lock_held)
        world_fail(d->w, "INV-MUTEX", "%s: a run is active without holding the lock", d->spec.name);
    check_no_trigger_lost(d, &st);
}

void check_after_step(struct world *w, int dev, bool delivered)
{
    if (w->failed || dev < 0 || dev >= w->ndev) return;
    struct sdev *d = &w->devs[dev];
    if (!d->running || simfs_is_frozen(d->fs)) return;   /* dead until reaped */
    check_collapse(d);
    if (delivered) check_guard(d);
}

/* ---- INV-ORCH (SPEC §2, ORCH-1, ORCH-3, ORCH-4) ---- */

/* ORCH-3's bound holds for the SPEC's orch_timeout (10 min): with longer
 * runs allowed (`config orch_timeout=…`), 60 min is no longer promised. */
static bool starve_bound_applies(const struct world *w)
{
    return w->cfg.orch_timeout_ms <= ORCH_TIMEOUT_MS;
}

/* The entry ORCH-3 says must start, computed here from the SPEC (base
 * 4..1, + whole minutes waited / 5, ties to the higher base), not by
 * asking the orchestrator. */
static int orch_expected(const struct orch_obs *obs)
{
    int best = -1;
    int64_t best_p = 0, best_base = 0;
    for (int i = 0; i < obs->nqueue; i++) {
        int64_t base = ORCH_JOB_COUNT - (int)obs->queue[i].job;
        int64_t p = base + (obs->mono - obs->queue[i].queued_mono) / 60000 / 5;
        if (best < 0 || p > best_p || (p == best_p && base > best_base)) {
            best = i;
            best_p = p;
            best_base = base;
        }
    }
    return best;
}

static void orch_obs_start(struct world *w, const struct orch_obs *obs)
{
    if (w->orch_chk.running)
        world_fail(w, "INV-ORCH", "run %llu (%s) started while run %llu still runs",
                   (unsigned long long)obs->run_id, orch_job_name(obs->job),
                   (unsigned long long)w->orch_chk.run_id);
    int best = orch_expected(obs);
    if (best >= 0 && obs->queue[best].job != obs->job)
        world_fail(w, "INV-ORCH", "started %s, but the queued entry of highest effective priority is %s",
                   orch_job_name(obs->job), orch_job_name(obs->queue[best].job));
    for (int i = 0; i < obs->nqueue; i++)
        if (obs->queue[i].job == obs->job && starve_bound_applies(w) &&
            obs->mono - obs->queue[i].queued_mono > ORCH_STARVE_MS)
            world_fail(w, "INV-ORCH", "%s started after waiting %lld ms (> 60 min)",
                       orch_job_name(obs->job), (long long)(obs->mono - obs->queue[i].queued_mono));
    w->orch_chk.running = true;
    w->orch_chk.run_id = obs->run_id;
    w->orch_chk.started = obs->mono;
}

void check_orch_obs(struct world *w, const struct orch_obs *obs)
{
    w->check_counts[CK_ORCH]++;
    if (obs->op == ORCH_OBS_START) {
        orch_obs_start(w, obs);
        return;
    }
    if (!w->orch_chk.running || w->orch_chk.run_id != obs->run_id)
        world_fail(w, "INV-ORCH", "run %llu ended but it is not the running run",
                   (unsigned long long)obs->run_id);
    /* "> orch_timeout fails": the earliest a hung run can end is 1 ms past. */
    if (obs->mono - w->orch_chk.started > w->cfg.orch_timeout_ms + 1)
        world_fail(w, "INV-ORCH", "run %llu (%s) lasted %lld ms, past orch_timeout",
                   (unsigned long long)obs->run_id, orch_job_name(obs->job),
                   (long long)(obs->mono - w->orch_chk.started));
    w->orch_chk.running = false;
}

/* After every step: no entry waits past 60 min, no run outlives the
 * timeout (+1 ms: the instant it is failed), and the checker's view of
 * "running" agrees with the orchestrator's. */
void check_orch(struct world *w)
{
    if (w->failed || !w->server_up || !w->orch) return;
    struct orch_entry q[ORCH_QUEUE_MAX];
    int n = orch_queue(w->orch, q, ORCH_QUEUE_MAX);
    int64_t started;
    bool running = orch_running(w->orch, NULL, NULL, &started);
    w->check_counts[CK_ORCH]++;
    for (int i = 0; i < n && i < ORCH_QUEUE_MAX; i++)
        if (starve_bound_applies(w) && w->now - q[i].queued_mono > ORCH_STARVE_MS)
            world_fail(w, "INV-ORCH", "%s queued for %lld ms (> 60 min)", orch_job_name(q[i].job),
                       (long long)(w->now - q[i].queued_mono));
    if (running != w->orch_chk.running || (n > 0 && !running))
        world_fail(w, "INV-ORCH", "orchestrator %s a run with %d queued; the checker saw %s",
                   running ? "has" : "has no", n, w->orch_chk.running ? "one" : "none");
    if (running && w->now - started > w->cfg.orch_timeout_ms + 1)
        world_fail(w, "INV-ORCH", "a run has lasted %lld ms, past orch_timeout",
                   (long long)(w->now - started));
}

void check_orch_lost(struct world *w) { w->orch_chk.running = false; }
