/*
 * shrink_seed.c — a swarm seed as an explicit scenario (shrink.h).
 *
 * Declarations come from swarm_params (what the seed decides); statements
 * from the run's trace: every "action …" line the workload caused becomes
 * the scenario statement that does the same at the same instant. The
 * world's own actions inside the liveness phase are not copied: the
 * scenario's `quiesce` does them.
 *
 * The language cannot say everything a seed does: a kill at an exact
 * storage write (mid-transaction), a disk fault, a one-way partition, the
 * hostile client, clock drift, long-tail delays and the drawn Retry-After.
 * So the seed is rendered in a few variants, tried in order until one
 * fails the way the seed failed (shrink_seed_pick):
 *
 *   0 concrete   every action as a statement; a kill at a write during a
 *                device's own action becomes `crash` in its place (the
 *                interrupted transaction never committed), a one-way
 *                partition becomes `partition`. The server's random 5xx and
 *                429 become `server fail 1 …` at the instant they happened
 *                (so dropping statements does not move them onto other
 *                requests); so do random losses, as a partition of the
 *                sender for that instant, when the network draws nothing
 *                else (no duplicates, a fixed delay). What stays random
 *                stays a `faults` key.
 *   1 explicit   the same statements with the network profile as `faults`
 *                keys (5xx, 429 and losses random again).
 *   2 swarm      the same statements with `faults swarm`: the exact
 *                network profile (tails, Retry-After) and drift; the fault
 *                ticker adds per-step faults of the seed's kinds on top.
 *   3 ticker     `faults swarm` and only the app's actions: the fault ticker
 *                plays crashes at exact writes, disk faults, partitions and
 *                clock jumps of the seed's kinds and intensities.
 *   4 boosted    as 3 with the seed's per-step fault kinds as `faults` keys
 *                at a higher intensity (the rare interleaving a seed hit by
 *                luck becomes likely).
 *
 * When none of them fails with the seed's invariant (what the seed did by
 * chance, typically a kill between two transactions of one step, cannot be
 * written down), neighbours of the run are tried (explore_candidate): the
 * whole run without the tables' server rows, then slices of it around the
 * failure (its devices and rows, the last few statements before it), under
 * the seed's fault profile and a few neighbouring seeds. The picker
 * (shrink_seed_open / _next) yields every form that fails as the seed did,
 * in that fixed order, so the caller can shrink one after another and keep
 * the smallest. Nothing here reads a clock: the caller's stop ends it.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "shrink.h"
#include "types.h"

struct buf {
    char *s;
    size_t n, cap;
};

static void bput(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bput(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        int k = b->s ? vsnprintf(b->s + b->n, room, fmt, ap) : -1;
        va_end(ap);
        if (k >= 0 && (size_t)k < room) { b->n += (size_t)k; return; }
        size_t cap = b->cap ? b->cap * 2 : 8192;
        while (k >= 0 && cap < b->n + (size_t)k + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) return;
        b->s = s;
        b->cap = cap;
    }
}

/* ------------------------------------------------------ the seed's run */

/* One statement (or comment) taken from the trace. */
struct item {
    int64_t t;
    char actor[64];
    char *text;               /* statement without timing, or comment text */
    bool comment;
    bool fault;               /* a fault the ticker plays in variants 2 and 3 */
    bool action;              /* from an "action …" line of actor */
    bool concrete;            /* a random server failure made a statement: the concrete variant only */
    bool closs;               /* a random loss made a statement: ditto, when exact (exact_loss) */
};

struct seed_run {
    uint64_t seed;
    struct swarm_opts o;
    struct world_params p;
    unsigned mask;
    struct swarm_result r;
    struct item *it;
    int n, cap;
    int64_t last;             /* the instant the liveness phase began */
    unsigned parted;          /* devices (by index) partitioned by an action */
    int prev;                 /* the item the previous trace line added, or -1 */
};

static void run_free(struct seed_run *s)
{
    for (int i = 0; i < s->n; i++) free(s->it[i].text);
    free(s->it);
    s->it = NULL;
    s->n = s->cap = 0;
}

static struct item *add(struct seed_run *s, int64_t t, const char *actor, bool comment, bool fault,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static struct item *add(struct seed_run *s, int64_t t, const char *actor, bool comment, bool fault,
                        const char *fmt, ...)
{
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 256;
        struct item *v = realloc(s->it, (size_t)cap * sizeof *v);
        if (!v) return NULL;
        s->it = v;
        s->cap = cap;
    }
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    size_t k = strlen(text);
    while (k && text[k - 1] == '\n') text[--k] = 0;
    struct item *x = &s->it[s->n];
    memset(x, 0, sizeof *x);
    x->text = malloc(k + 1);
    if (!x->text) return NULL;
    memcpy(x->text, text, k + 1);
    x->t = t;
    snprintf(x->actor, sizeof x->actor, "%s", actor);
    x->comment = comment;
    x->fault = fault;
    s->n++;
    return x;
}

static bool starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static int dev_index(const struct seed_run *s, const char *name)
{
    for (int i = 0; i < s->p.ndev; i++)
        if (!strcmp(s->p.devs[i].name, name)) return i;
    return -1;
}

static bool partitioned(const struct seed_run *s, const char *dev)
{
    int i = dev_index(s, dev);
    return i >= 0 && (s->parted >> i & 1u);
}

/* Follows partitions the workload made (their losses are not random). */
static void note_partition(struct seed_run *s, const char *actor, const char *body)
{
    int i = dev_index(s, actor);
    if (!strcmp(actor, "world") && !strcmp(body, "action heal all")) s->parted = 0;
    if (i < 0) return;
    if (starts(body, "action partition")) s->parted |= 1u << i;
    if (!strcmp(body, "action heal")) s->parted &= ~(1u << i);
}

/* "write T ID n=N [k=v…]" → "write DEV T ID k=v…" (placeholders without
 * the values, which older traces did not carry). */
static void write_stmt(struct buf *b, const char *dev, const char *a)
{
    char t[64], id[128];
    int n = 1, used = 0;
    if (sscanf(a, "write %63s %127s n=%d%n", t, id, &n, &used) < 3) return;
    const char *rest = a + used;
    while (*rest == ' ') rest++;
    if (*rest) {   /* the values; a name set twice keeps the last */
        char pairs[16][128];
        int np = 0, off = 0, k;
        while (np < 16 && sscanf(rest + off, "%127s%n", pairs[np], &k) == 1) {
            off += k;
            char *eq = strchr(pairs[np], '=');
            size_t nl = eq ? (size_t)(eq - pairs[np]) + 1 : strlen(pairs[np]);
            for (int j = 0; j < np; j++)
                if (!strncmp(pairs[j], pairs[np], nl)) pairs[j][0] = 0;
            np++;
        }
        bput(b, "write %s %s %s", dev, t, id);
        for (int j = 0; j < np; j++) if (pairs[j][0]) bput(b, " %s", pairs[j]);
        return;
    }
    static const char *const names[] = { "qty", "status", "name" };
    bput(b, "write %s %s %s", dev, t, id);
    for (int i = 0; i < n && i < 3; i++) bput(b, " %s=v%d", names[i], i);
}

/* A device's action as a statement (false: no scenario form); *fault says
 * whether it is a fault the ticker plays. */
static bool device_action(struct buf *b, const char *dev, const char *a, bool *fault)
{
    char x[128], y[128];
    *fault = false;
    if (!strcmp(a, "start")) bput(b, "start %s", dev);
    else if (!strcmp(a, "restart")) { bput(b, "restart %s", dev); *fault = true; }
    else if (starts(a, "crash")) { bput(b, "crash %s%s", dev, strstr(a, "power") ? " power" : ""); *fault = true; }
    else if (sscanf(a, "login %127s", x) == 1) bput(b, "login %s %s", dev, x);
    else if (!strcmp(a, "logout") || !strcmp(a, "cancel-initial") || !strcmp(a, "requeue"))
        bput(b, "%s %s", a, dev);
    else if (!strcmp(a, "offline") || !strcmp(a, "online")) { bput(b, "%s %s", a, dev); *fault = true; }
    /* a one-way partition ("partition up|down") is nearest to a partition */
    else if (starts(a, "partition")) { bput(b, "partition %s", dev); *fault = true; }
    else if (!strcmp(a, "heal")) { bput(b, "heal %s", dev); *fault = true; }
    else if (starts(a, "write ")) write_stmt(b, dev, a);
    else if (sscanf(a, "delete %127s %127s", x, y) == 2) bput(b, "delete %s %s %s", dev, x, y);
    else if (sscanf(a, "trigger %127s", x) == 1) bput(b, "trigger %s %s", dev, x);
    else if (sscanf(a, "clock %127s", x) == 1) { bput(b, "clock %s %sms", dev, x); *fault = true; }
    else if (sscanf(a, "migrate add-table %127s", x) == 1) bput(b, "migrate %s add-table %s", dev, x);
    else if (starts(a, "resolve ")) bput(b, "resolve %s %s", dev, a + 8);
    else return false;
    return true;
}

/* "action server write T ID [k=v…]", "action server delete T ID",
 * "action fail N status S", "action crash", "action restart",
 * "action revoke D", orchestrator requests. */
static bool server_action(struct buf *b, const char *a, bool *fault)
{
    char by[32], op[16], t[64], id[128];
    int n, s, used = 0;
    *fault = false;
    if (sscanf(a, "%31s %15s %63s %127s%n", by, op, t, id, &used) == 4 && (!strcmp(op, "write") || !strcmp(op, "delete"))) {
        const char *rest = a + used;
        while (*rest == ' ') rest++;
        if (strcmp(by, "server") != 0) return false;
        char user[80] = "", who[96] = "";
        int ul = 0;
        if (sscanf(rest, "user=%63s%n", user, &ul) == 1) {
            rest += ul;
            while (*rest == ' ') rest++;
            snprintf(who, sizeof who, " %s", user);
        }
        if (!strcmp(op, "delete")) bput(b, "server%s delete %s %s", who, t, id);
        else bput(b, "server%s write %s %s %s", who, t, id, *rest ? rest : "status=s0");
    } else if (sscanf(a, "fail %d status %d", &n, &s) == 2) bput(b, "server fail %d status %d", n, s);
    else if (!strcmp(a, "crash")) { bput(b, "server crash"); *fault = true; }
    else if (!strcmp(a, "restart")) { bput(b, "server restart"); *fault = true; }
    else if (sscanf(a, "revoke %127s", id) == 1) bput(b, "server revoke %s", id);
    else if (sscanf(a, "orchestrate %63s %15s", t, op) == 2) bput(b, "orchestrate %s %s", t, op);
    else if (!strcmp(a, "orchestrator on") || !strcmp(a, "orchestrator off")) bput(b, "%s", a);
    else return false;
    return true;
}

/* A kill at an exact write, reaped right after the device's own action:
 * the action's transaction never committed (nothing of the device was
 * traced in between), so the kill takes the action's place. */
static void died(struct seed_run *s, int64_t t, const char *actor, bool power)
{
    struct item *prev = s->prev >= 0 ? &s->it[s->prev] : NULL;
    if (prev && prev->action && !prev->comment && prev->t == t && !strcmp(prev->actor, actor)) {
        char *was = prev->text;
        prev->comment = true;
        size_t k = strlen(was) + 64;
        prev->text = malloc(k);
        if (prev->text) snprintf(prev->text, k, "(killed at a write inside) %s", was);
        else prev->text = was, was = NULL;
        free(was);
    }
    add(s, t, actor, false, true, "crash %s%s", actor, power ? " power" : "");
}

/* One trace line; returns false at the start of the liveness phase. */
static bool take(struct seed_run *s, const char *line)
{
    long long sec, ms;
    char actor[64];
    int used = 0;
    if (sscanf(line, "t=%lld.%lld %63s %n", &sec, &ms, actor, &used) < 3 || !used) return true;
    int64_t t = sec * 1000 + ms;
    char body[1024];
    snprintf(body, sizeof body, "%s", line + used);
    size_t n = strlen(body);
    while (n && (body[n - 1] == '\n' || body[n - 1] == '\r')) body[--n] = 0;
    int before = s->n, prev = s->prev, st;
    char who[64], dir[16];
    s->prev = -1;
    note_partition(s, actor, body);
    if (!strcmp(actor, "world")) {
        if (!strcmp(body, "quiesce")) { s->last = t; return false; }
        if (!strcmp(body, "action heal all")) add(s, t, actor, false, true, "heal all");
    } else if (!strcmp(actor, "check") || !strcmp(actor, "scenario")) {
        /* nothing */
    } else if (!strcmp(actor, "hostile")) {
        add(s, t, actor, true, false, "a hostile client's request (not expressible)");
    } else if (!strcmp(actor, "erp")) {
        char tb[64], id[128];
        if (sscanf(body, "action write %63s %127s", tb, id) == 2)   /* values are not traced */
            add(s, t, actor, false, false, "erp write %s %s status=e%lld", tb, id, (long long)t);
    } else if (starts(body, "action ")) {
        struct buf one = {0};
        bool fault = false, srv = !strcmp(actor, "server");
        bool ok = srv ? server_action(&one, body + 7, &fault) : device_action(&one, actor, body + 7, &fault);
        struct item *x;
        if (ok && one.s) x = add(s, t, actor, false, fault, "%s", one.s);
        else x = add(s, t, actor, true, false, "%s%s%s (not expressible)", srv ? "server" : actor, " ", body + 7);
        if (x) x->action = !srv;
        free(one.s);
    } else if (!strcmp(actor, "server") && sscanf(body, "fail %d to %63s", &st, who) == 2) {
        /* a random 5xx or 429 of the profile, as the statement that does it */
        struct item *x;
        if (st == 429) x = add(s, t, actor, false, true, "server fail 1 status 429 retry-after %lldms", (long long)s->p.faults.retry_after);
        else x = add(s, t, actor, false, true, "server fail 1 status %d", st);
        if (x) x->concrete = true;
    } else if (sscanf(body, "net %15s lost", dir) == 1) {
        /* a lost message: a partition for the instant it was sent */
        if (!partitioned(s, actor)) {
            struct item *x = add(s, t, actor, false, true, "partition %s", actor);
            if (x) x->closs = true;
            x = add(s, t + 1, actor, false, true, "heal %s", actor);
            if (x) x->closs = true;
        }
    } else if (starts(body, "died at a write")) {
        s->prev = prev;
        died(s, t, actor, strstr(body, "power") != NULL);
    } else if (starts(body, "disk fault") || starts(body, "disk capacity")) {
        add(s, t, actor, true, true, "%s: %s (not expressible)", actor, body);
    }
    if (s->n == before + 1) s->prev = before;
    if (strcmp(actor, "check") != 0 && strcmp(actor, "scenario") != 0) s->last = t;
    return true;
}

static int run_seed(uint64_t seed, const struct swarm_opts *o0, struct seed_run *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->prev = -1;
    s->seed = seed;
    s->o = *o0;
    if (swarm_params(seed, o0, &s->p, &s->mask, err, errlen) != 0) return -1;
    FILE *tf = tmpfile();
    if (!tf) { snprintf(err, errlen, "cannot create a temporary file"); return -1; }
    struct swarm_opts o = *o0;
    o.trace = tf;
    o.sink = NULL;
    o.dump_db = NULL;
    if (swarm_run(seed, &o, &s->r, NULL, err, errlen) != 0) { fclose(tf); return -1; }
    rewind(tf);
    char line[4096];
    while (fgets(line, sizeof line, tf))
        if (!take(s, line)) break;
    fclose(tf);
    return 0;
}

/* ------------------------------------------------------------ variants */

static void network_keys(struct buf *b, const struct faults *f)
{
    if (f->loss > 0) bput(b, " loss=%.6f", f->loss);
    if (f->dup > 0) bput(b, " dup=%.6f", f->dup);
    if (f->delay_min != 10 || f->delay_max != 10) bput(b, " delay=%lldms..%lldms", (long long)f->delay_min, (long long)f->delay_max);
    if (f->server_error > 0) bput(b, " server_error=%.6f", f->server_error);
    if (f->throttle > 0) bput(b, " throttle=%.6f", f->throttle);
}

/* Losses become exact statements when the network draws nothing else. */
static bool exact_loss(const struct faults *f)
{
    return f->dup <= 0 && f->delay_min == f->delay_max && f->tail <= 0;
}

static double boost(double p, double by) { return p <= 0 ? 0 : p * by > 1 ? 1 : p * by; }

static void declarations(struct buf *b, const struct seed_run *s, int variant, uint64_t seed, bool rows)
{
    const struct world_params *p = &s->p;
    struct config def;
    config_default(&def);
    bput(b, "scenario \"seed 0x%016llx as a scenario\"\nseed %llu\n", (unsigned long long)s->seed,
         (unsigned long long)seed);
    for (int i = 0; i < p->ndev; i++) {
        bput(b, "device %s user %s", p->devs[i].name, p->devs[i].user);
        if (p->devs[i].skew_ms) bput(b, " skew %+lldms", (long long)p->devs[i].skew_ms);
        bput(b, "\n");
    }
    for (int i = 0; i < p->ntables; i++)
        if (rows) bput(b, "table %s %s rows %d strategy %s\n", p->tables[i].name, p->tables[i].read_only ? "ro" : "rw",
                       p->rows[i], strategy_name(p->tables[i].strategy));
        else bput(b, "table %s %s strategy %s\n", p->tables[i].name, p->tables[i].read_only ? "ro" : "rw",
                  strategy_name(p->tables[i].strategy));
    if (p->cfg.clock == CLOCK_HLC) bput(b, "config clock=hlc\n");
    if (p->cfg.request_timeout_ms != def.request_timeout_ms)
        bput(b, "config request_timeout=%lldms\n", (long long)p->cfg.request_timeout_ms);
    for (int i = 0; i < s->o.nconfig; i++) bput(b, "config %s\n", s->o.config[i]);
    const struct faults *f = &p->faults;
    if (variant == SHRINK_SEED_SWARM || variant == SHRINK_SEED_TICKER) { bput(b, "faults swarm\n\n"); return; }
    struct buf k = {0};
    struct faults nf = *f;
    if (variant == SHRINK_SEED_CONCRETE) {   /* these became statements */
        nf.server_error = nf.throttle = 0;
        if (exact_loss(f)) nf.loss = 0;
    }
    network_keys(&k, &nf);
    if (variant == SHRINK_SEED_BOOSTED) {
        /* every per-step kind of the seed, ten times as likely */
        if (f->partition > 0) bput(&k, " partition=%.6f", boost(f->partition, 10));
        if (f->flap > 0) bput(&k, " flap=%.6f", boost(f->flap, 10));
        if (f->server_crash > 0) bput(&k, " server_crash=%.6f", boost(f->server_crash, 10));
        if (f->crash > 0) bput(&k, " crash=%.6f", boost(f->crash, 10));
        if (f->crash > 0 && f->power > 0) bput(&k, " power=%.6f", f->power);
        if (f->disk > 0) bput(&k, " disk=%.6f", boost(f->disk, 10));
        if (f->clock_jump > 0) bput(&k, " clock_jump=%.6f", boost(f->clock_jump, 10));
    }
    if (!k.s || !k.s[0]) bput(b, "faults none\n\n");
    else bput(b, "faults%s\n\n", k.s);
    free(k.s);
}

/* What to render: a variant, the items to keep (NULL: all), the seed of
 * the `seed` line and the instant of the final quiesce (-1: after the
 * last item). */
struct rview {
    int variant;
    const bool *keep;
    uint64_t seed;
    int64_t quiesce_at;
    bool norows;              /* tables without their server rows (runs 5-10x faster) */
};

static char *render_view(const struct seed_run *s, const struct rview *v)
{
    struct buf b = {0};
    int variant = v->variant;
    bput(&b, "# seed 0x%016llx: %s\n", (unsigned long long)s->seed, s->r.ok ? "passed" : s->r.failure);
    declarations(&b, s, variant, v->seed, !v->norows);
    bool app_only = variant == SHRINK_SEED_TICKER || variant == SHRINK_SEED_BOOSTED;
    /* in time order, trace order within an instant (a heal after a loss is
     * due a millisecond after it) */
    int *ord = malloc((size_t)(s->n + 1) * sizeof *ord);
    if (!ord) { free(b.s); return NULL; }
    for (int i = 0; i < s->n; i++) {
        int j = i;
        while (j > 0 && s->it[ord[j - 1]].t > s->it[i].t) { ord[j] = ord[j - 1]; j--; }
        ord[j] = i;
    }
    int64_t q = v->quiesce_at;
    for (int oi = 0; oi < s->n; oi++) {
        const struct item *x = &s->it[ord[oi]];
        if (v->keep && !v->keep[ord[oi]]) continue;
        if (app_only && x->fault) continue;
        if (x->concrete && variant != SHRINK_SEED_CONCRETE) continue;
        if (x->closs && !(variant == SHRINK_SEED_CONCRETE && exact_loss(&s->p.faults))) continue;
        if (v->keep && x->comment) continue;
        if (x->comment) bput(&b, "# at %lldms %s\n", (long long)x->t, x->text);
        else bput(&b, "at %lldms %s\n", (long long)x->t, x->text);
        if (v->quiesce_at < 0 && x->t > q) q = x->t;
    }
    free(ord);
    if (q < 0 || (v->quiesce_at < 0 && !v->keep && q < s->last)) q = v->keep ? 0 : s->last;
    bput(&b, "at %lldms quiesce\nexpect converged\n", (long long)q);
    return b.s;
}

static char *render(const struct seed_run *s, int variant)
{
    struct rview v = { .variant = variant, .keep = NULL, .seed = s->seed, .quiesce_at = -1, .norows = false };
    return render_view(s, &v);
}

/* ------------------------------------------------------------- explore */

/* Is name a word of text (not part of a longer name)? */
static bool has_word(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
        bool l = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '-');
        bool r = !(isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '-');
        if (l && r) return true;
    }
    return false;
}

/* The row an item touches ("TABLE ID"), or "". */
static void item_row(const struct item *x, char *out, size_t n)
{
    char w[6][64];
    out[0] = 0;
    int k = sscanf(x->text, "%63s %63s %63s %63s %63s %63s", w[0], w[1], w[2], w[3], w[4], w[5]);
    if (k >= 4 && (!strcmp(w[0], "write") || !strcmp(w[0], "delete") || !strcmp(w[0], "resolve")))
        snprintf(out, n, "%s %s", w[2], w[3]);
    else if (k >= 4 && !strcmp(w[0], "server") && (!strcmp(w[1], "write") || !strcmp(w[1], "delete")))
        snprintf(out, n, "%s %s", w[2], w[3]);
    else if (k >= 5 && !strcmp(w[0], "server") && (!strcmp(w[2], "write") || !strcmp(w[2], "delete")))
        snprintf(out, n, "%s %s", w[3], w[4]);
    else if (k >= 4 && !strcmp(w[0], "erp"))
        snprintf(out, n, "%s %s", w[2], w[3]);
}

/* The user a server item is for ("" when it names none: the first). */
static void item_user(const struct item *x, char *out, size_t n)
{
    char w[3][128];
    out[0] = 0;
    int k = sscanf(x->text, "%127s %127s %127s", w[0], w[1], w[2]);
    if (k == 3 && !strcmp(w[0], "server") && (!strcmp(w[2], "write") || !strcmp(w[2], "delete")))
        snprintf(out, n, "%s", w[1]);
}

/* The rows a failure message names ("customers/r2" → "customers r2"). */
static int message_rows(const struct seed_run *s, char rows[][192], int max)
{
    int n = 0;
    const char *m = s->r.failure;
    for (int t = 0; t < s->p.ntables && n < max; t++) {
        char pat[80];
        snprintf(pat, sizeof pat, "%s/", s->p.tables[t].name);
        for (const char *p = strstr(m, pat); p && n < max; p = strstr(p + 1, pat)) {
            if (p > m && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) continue;
            const char *id = p + strlen(pat);
            size_t k = 0;
            while (isalnum((unsigned char)id[k]) || id[k] == '_' || id[k] == '-') k++;
            if (k) snprintf(rows[n++], 192, "%s %.*s", s->p.tables[t].name, (int)k, id);
        }
    }
    return n;
}

struct explore {
    struct seed_run *s;
    bool rel_dev[WORLD_MAX_DEV], rel_user[WORLD_MAX_DEV];
    char rows[8][192];
    int nrows;
    int64_t tf;               /* the failure's instant */
};

static bool user_relevant(const struct explore *e, const char *user)
{
    for (int i = 0; i < e->s->p.ndev; i++)
        if (e->rel_user[i] && !strcmp(e->s->p.devs[i].user, user)) return true;
    return false;
}

/* Does the slice (narrow: the failure's devices and rows; wide: also every
 * device and server change of the same users) take item x? */
static bool in_slice(const struct explore *e, const struct item *x, bool wide)
{
    const struct seed_run *s = e->s;
    if (x->comment) return false;
    char row[192];
    item_row(x, row, sizeof row);
    for (int r = 0; r < e->nrows; r++)
        if (row[0] && !strcmp(row, e->rows[r])) return true;
    int d = dev_index(s, x->actor);
    if (d >= 0) return e->rel_dev[d] || (wide && user_relevant(e, s->p.devs[d].user));
    if (!wide || strcmp(x->actor, "server") != 0 || strncmp(x->text, "server", 6) != 0) return false;
    char user[128];
    item_user(x, user, sizeof user);
    return user_relevant(e, user[0] ? user : s->p.devs[0].user);
}

static bool is_setup(const struct item *x)
{
    return !strncmp(x->text, "start ", 6) || !strncmp(x->text, "login ", 6);
}

/* One candidate: the last n items of the slice before the failure, with
 * the start and login of every device they name. */
static char *slice_text(const struct explore *e, int n, bool wide, int variant, uint64_t seed, bool norows, bool *keep)
{
    const struct seed_run *s = e->s;
    int taken = 0;
    int64_t last = 0;
    bool used[WORLD_MAX_DEV] = { false };
    memset(keep, 0, (size_t)s->n * sizeof *keep);
    for (int i = s->n - 1; i >= 0 && taken < n; i--) {
        const struct item *x = &s->it[i];
        if (x->t > e->tf || is_setup(x) || !in_slice(e, x, wide)) continue;
        bool app_only = variant == SHRINK_SEED_TICKER || variant == SHRINK_SEED_BOOSTED;
        if ((app_only && x->fault) || x->concrete || x->closs) continue;
        keep[i] = true;
        taken++;
        if (x->t > last) last = x->t;
        int d = dev_index(s, x->actor);
        if (d >= 0) used[d] = true;
    }
    if (!taken) return NULL;
    for (int d = 0; d < s->p.ndev; d++) {
        if (!used[d] && !e->rel_dev[d]) continue;
        bool st = false, lg = false;
        for (int i = 0; i < s->n && !(st && lg); i++) {
            const struct item *x = &s->it[i];
            if (strcmp(x->actor, s->p.devs[d].name) || x->comment) continue;
            if (!st && !strncmp(x->text, "start ", 6)) keep[i] = st = true;
            else if (!lg && !strncmp(x->text, "login ", 6)) keep[i] = lg = true;
        }
    }
    struct rview v = { .variant = variant, .keep = keep, .seed = seed, .quiesce_at = last + 1000, .norows = norows };
    return render_view(s, &v);
}

/* When no variant of the whole run fails as the seed did (what it did by
 * chance cannot be written down exactly), a neighbour of it may: under the
 * seed's fault profile (boosted, `faults swarm`, as keys) and a few
 * neighbouring seeds, first the whole run without the tables' server rows
 * (they cost most of a run's time), then small slices of it — the
 * failure's devices and rows (narrow) or also every device and server
 * change of their users (wide), the last few statements before the
 * failure — without rows, then with them. Candidate `pos` of that order
 * (false past the last). */
static const int explore_sizes[] = { 8, 16, 32, 64 };
static const int explore_modes[] = { SHRINK_SEED_BOOSTED, SHRINK_SEED_SWARM, SHRINK_SEED_EXPLICIT };
enum { EX_MODES = 3, EX_SIZES = 4, EX_WHOLE_SEEDS = 16, EX_SLICE_SEEDS = 8,
       EX_WHOLE = EX_MODES * EX_WHOLE_SEEDS, EX_SLICES = EX_SIZES * 2 * EX_MODES * EX_SLICE_SEEDS,
       EX_COUNT = EX_WHOLE + 2 * EX_SLICES };

static void explore_init(struct explore *e, struct seed_run *s)
{
    memset(e, 0, sizeof *e);
    e->s = s;
    bool any = false;
    for (int d = 0; d < s->p.ndev; d++) any |= e->rel_dev[d] = has_word(s->r.failure, s->p.devs[d].name);
    for (int d = 0; d < s->p.ndev; d++) e->rel_dev[d] |= !any;
    for (int d = 0; d < s->p.ndev; d++) e->rel_user[d] = e->rel_dev[d];
    e->nrows = message_rows(s, e->rows, 8);
    e->tf = s->r.sim_ms < s->last ? s->r.sim_ms : s->last;
}

static bool explore_candidate(const struct explore *e, int pos, bool *keep, char **text, int *mode,
                              char *what, size_t wn)
{
    const struct seed_run *s = e->s;
    *text = NULL;
    if (pos < 0 || pos >= EX_COUNT) return false;
    if (pos < EX_WHOLE) {
        int mi = pos / EX_WHOLE_SEEDS, k = pos % EX_WHOLE_SEEDS;
        *mode = explore_modes[mi];
        struct rview v = { .variant = *mode, .keep = NULL, .seed = s->seed + (uint64_t)k, .quiesce_at = -1, .norows = true };
        *text = render_view(s, &v);
        snprintf(what, wn, "the whole run without rows, %s faults, seed %+d", shrink_seed_variant_name(*mode), k);
        return true;
    }
    pos -= EX_WHOLE;
    bool rows = pos >= EX_SLICES;
    pos %= EX_SLICES;
    int k = pos % EX_SLICE_SEEDS;
    pos /= EX_SLICE_SEEDS;
    int mi = pos % EX_MODES;
    pos /= EX_MODES;
    int wide = pos % 2, si = pos / 2;
    *mode = explore_modes[mi];
    *text = slice_text(e, explore_sizes[si], wide, *mode, s->seed + (uint64_t)k, !rows, keep);
    snprintf(what, wn, "a %s slice of %d statements%s, %s faults, seed %+d", wide ? "wide" : "narrow",
             explore_sizes[si], rows ? "" : " without rows", shrink_seed_variant_name(*mode), k);
    return true;
}

/* ------------------------------------------------------------- the picker */

struct shrink_seed {
    struct seed_run s;
    struct shrink_sig want;
    struct explore e;
    bool *keep;
    int pos;                  /* next candidate: variants, then explore */
    int tried;
    char name[64];
};

int shrink_seed_open(uint64_t seed, const struct swarm_opts *o, struct shrink_seed **out, struct shrink_sig *want,
                     char *err, size_t errlen)
{
    *out = NULL;
    struct shrink_seed *p = calloc(1, sizeof *p);
    if (!p) { snprintf(err, errlen, "out of memory"); return -1; }
    if (run_seed(seed, o, &p->s, err, errlen) != 0) { shrink_seed_close(p); return -1; }
    struct shrink_sig *w = &p->want;
    w->failed = !p->s.r.ok;
    snprintf(w->kind, sizeof w->kind, "invariant");
    snprintf(w->id, sizeof w->id, "%s", p->s.r.invariant[0] ? p->s.r.invariant : "unknown");
    snprintf(w->message, sizeof w->message, "%s", p->s.r.failure);
    w->at_ms = p->s.r.sim_ms;
    *want = *w;
    if (p->s.r.ok) {
        snprintf(err, errlen, "seed 0x%016llx passes: nothing to shrink", (unsigned long long)seed);
        shrink_seed_close(p);
        return -1;
    }
    p->keep = malloc((size_t)(p->s.n + 1) * sizeof *p->keep);
    if (!p->keep) { snprintf(err, errlen, "out of memory"); shrink_seed_close(p); return -1; }
    explore_init(&p->e, &p->s);
    snprintf(p->name, sizeof p->name, "seed-0x%016llx.scn", (unsigned long long)seed);
    *out = p;
    return 0;
}

void shrink_seed_close(struct shrink_seed *p)
{
    if (!p) return;
    run_free(&p->s);
    free(p->keep);
    free(p);
}

char *shrink_seed_render(const struct shrink_seed *p, int variant)
{
    return variant >= 0 && variant < SHRINK_SEED_VARIANTS ? render(&p->s, variant) : NULL;
}

int shrink_seed_next(struct shrink_seed *p, const struct shrink_opts *so, char **out, int *variant)
{
    *out = NULL;
    *variant = -1;
    char what[160];
    for (;; p->pos++) {
        if (so && so->stop && so->stop(so->stop_arg)) return 1;
        char *text = NULL;
        int mode;
        if (p->pos < SHRINK_SEED_VARIANTS) {
            mode = p->pos;
            text = render(&p->s, mode);
            snprintf(what, sizeof what, "seed as a scenario, %s variant", shrink_seed_variant_name(mode));
        } else if (explore_candidate(&p->e, p->pos - SHRINK_SEED_VARIANTS, p->keep, &text, &mode, what, sizeof what)) {
            mode |= SHRINK_SEED_SLICE;
        } else {
            if (so && so->log) fprintf(so->log, "shrink: no more scenario forms of the seed (%d tried)\n", p->tried);
            return 1;
        }
        if (!text) continue;
        struct shrink_sig got;
        p->tried++;
        bool same = shrink_signature(p->name, text, &got, NULL, 0) == 0 && shrink_same(&got, &p->want);
        if (so && so->log && (same || p->pos < SHRINK_SEED_VARIANTS))
            fprintf(so->log, "shrink: %s: %s%s (%d tried)\n", what, got.failed ? got.id : "passes",
                    same ? "" : ", not the seed's failure", p->tried);
        if (same) {
            *out = text;
            *variant = mode;
            p->pos++;
            return 0;
        }
        free(text);
    }
}

int shrink_seed_variant(uint64_t seed, const struct swarm_opts *o, int variant, char **out,
                        struct shrink_sig *seed_sig, char *err, size_t errlen)
{
    *out = NULL;
    if (variant < 0 || variant >= SHRINK_SEED_VARIANTS) { snprintf(err, errlen, "no variant %d", variant); return -1; }
    struct seed_run s;
    if (run_seed(seed, o, &s, err, errlen) != 0) { run_free(&s); return -1; }
    if (seed_sig) {
        memset(seed_sig, 0, sizeof *seed_sig);
        seed_sig->failed = !s.r.ok;
        snprintf(seed_sig->kind, sizeof seed_sig->kind, "invariant");
        snprintf(seed_sig->id, sizeof seed_sig->id, "%s", s.r.invariant[0] ? s.r.invariant : "unknown");
        snprintf(seed_sig->message, sizeof seed_sig->message, "%s", s.r.failure);
    }
    *out = render(&s, variant);
    run_free(&s);
    if (!*out) { snprintf(err, errlen, "out of memory"); return -1; }
    return 0;
}

int shrink_seed_scenario(uint64_t seed, const struct swarm_opts *o, char **out, char *err, size_t errlen)
{
    return shrink_seed_variant(seed, o, SHRINK_SEED_CONCRETE, out, NULL, err, errlen);
}

const char *shrink_seed_variant_name(int variant)
{
    static const char *const names[SHRINK_SEED_VARIANTS] = { "concrete", "explicit", "swarm", "ticker", "boosted" };
    static const char *const slices[SHRINK_SEED_VARIANTS] = { "concrete slice", "explicit slice", "swarm slice",
                                                               "ticker slice", "boosted slice" };
    if (variant >= 0 && (variant & SHRINK_SEED_SLICE) && (variant & ~SHRINK_SEED_SLICE) < SHRINK_SEED_VARIANTS)
        return slices[variant & ~SHRINK_SEED_SLICE];
    return variant >= 0 && variant < SHRINK_SEED_VARIANTS ? names[variant] : "?";
}

int shrink_seed_pick(uint64_t seed, const struct swarm_opts *o, const struct shrink_opts *so, char **out,
                     struct shrink_sig *want, int *variant, char *err, size_t errlen)
{
    *out = NULL;
    *variant = -1;
    struct shrink_seed *p;
    if (shrink_seed_open(seed, o, &p, want, err, errlen) != 0) return -1;
    int rc = shrink_seed_next(p, so, out, variant);
    if (rc != 0) {
        *out = shrink_seed_render(p, 0);   /* for the record */
        snprintf(err, errlen, "no scenario form of seed 0x%016llx fails as the seed does (%s)",
                 (unsigned long long)seed, want->id);
    }
    shrink_seed_close(p);
    return rc;
}
