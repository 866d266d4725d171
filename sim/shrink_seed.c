/*
 * shrink_seed.c — a swarm seed as an explicit scenario (shrink.h).
 *
 * Declarations come from swarm_params (what the seed decides); statements
 * from the run's trace: every "action …" line the workload caused becomes
 * the scenario statement that does the same at the same instant. The
 * world's own actions inside the liveness phase are not copied: the
 * scenario's `quiesce` does them. Kinds the language cannot express (a
 * crash at an exact write, a disk fault, a hostile client) become the
 * nearest statement or a comment, so the result may not fail the same
 * way; the shrinker checks that before it starts.
 */
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

static void declarations(struct buf *b, uint64_t seed, const struct world_params *p, const struct swarm_opts *o)
{
    bput(b, "scenario \"seed 0x%016llx as a scenario\"\nseed %llu\n", (unsigned long long)seed, (unsigned long long)seed);
    for (int i = 0; i < p->ndev; i++) {
        bput(b, "device %s user %s", p->devs[i].name, p->devs[i].user);
        if (p->devs[i].skew_ms) bput(b, " skew %+lldms", (long long)p->devs[i].skew_ms);
        bput(b, "\n");
    }
    for (int i = 0; i < p->ntables; i++)
        bput(b, "table %s %s rows %d strategy %s\n", p->tables[i].name, p->tables[i].read_only ? "ro" : "rw",
             p->rows[i], strategy_name(p->tables[i].strategy));
    if (p->cfg.clock == CLOCK_HLC) bput(b, "config clock=hlc\n");
    for (int i = 0; i < o->nconfig; i++) bput(b, "config %s\n", o->config[i]);
    const struct faults *f = &p->faults;
    bool any = f->loss > 0 || f->dup > 0 || f->delay_min != 10 || f->delay_max != 10 || f->server_error > 0 || f->throttle > 0;
    if (!any) { bput(b, "faults none\n\n"); return; }
    bput(b, "faults");
    if (f->loss > 0) bput(b, " loss=%.6f", f->loss);
    if (f->dup > 0) bput(b, " dup=%.6f", f->dup);
    if (f->delay_min != 10 || f->delay_max != 10) bput(b, " delay=%lldms..%lldms", (long long)f->delay_min, (long long)f->delay_max);
    if (f->server_error > 0) bput(b, " server_error=%.6f", f->server_error);
    if (f->throttle > 0) bput(b, " throttle=%.6f", f->throttle);
    bput(b, "\n\n");
}

static bool starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* "write T ID n=N [k=v…]" → "write DEV T ID k=v…" (placeholders without
 * the world hook that logs values). */
static void write_stmt(struct buf *b, const char *dev, const char *a)
{
    char t[64], id[128];
    int n = 1, used = 0;
    if (sscanf(a, "write %63s %127s n=%d%n", t, id, &n, &used) < 3) return;
    const char *rest = a + used;
    while (*rest == ' ') rest++;
    if (*rest) {   /* with the world hook: the values; a name set twice keeps the last */
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
        bput(b, "\n");
        return;
    }
    static const char *const names[] = { "qty", "status", "name" };
    bput(b, "write %s %s %s", dev, t, id);
    for (int i = 0; i < n && i < 3; i++) bput(b, " %s=v%d", names[i], i);
    bput(b, "\n");
}

static void device_action(struct buf *b, const char *dev, const char *a)
{
    char x[128], y[128];
    if (!strcmp(a, "start")) bput(b, "start %s\n", dev);
    else if (!strcmp(a, "restart")) bput(b, "restart %s\n", dev);
    else if (starts(a, "crash")) bput(b, "crash %s%s\n", dev, strstr(a, "power") ? " power" : "");
    else if (sscanf(a, "login %127s", x) == 1) bput(b, "login %s %s\n", dev, x);
    else if (!strcmp(a, "logout") || !strcmp(a, "cancel-initial") || !strcmp(a, "requeue")
             || !strcmp(a, "offline") || !strcmp(a, "online") || !strcmp(a, "partition"))
        bput(b, "%s %s\n", a, dev);
    else if (!strcmp(a, "heal")) bput(b, "heal %s\n", dev);
    else if (starts(a, "write ")) write_stmt(b, dev, a);
    else if (sscanf(a, "delete %127s %127s", x, y) == 2) bput(b, "delete %s %s %s\n", dev, x, y);
    else if (sscanf(a, "trigger %127s", x) == 1) bput(b, "trigger %s %s\n", dev, x);
    else if (sscanf(a, "clock %127s", x) == 1) bput(b, "clock %s %sms\n", dev, x);
    else if (sscanf(a, "migrate add-table %127s", x) == 1) bput(b, "migrate %s add-table %s\n", dev, x);
    else if (starts(a, "resolve ")) bput(b, "resolve %s %s\n", dev, a + 8);
    else bput(b, "# (not expressible) %s %s\n", dev, a);
}

/* "action server write T ID [k=v…]", "action server delete T ID",
 * "action fail N status S", "action crash", "action restart",
 * "action revoke D". */
static void server_action(struct buf *b, const char *a)
{
    char by[32], op[16], t[64], id[128];
    int n, s, used = 0;
    if (sscanf(a, "%31s %15s %63s %127s%n", by, op, t, id, &used) == 4 && (!strcmp(op, "write") || !strcmp(op, "delete"))) {
        const char *rest = a + used;
        while (*rest == ' ') rest++;
        if (strcmp(by, "server") != 0) { bput(b, "# (not expressible) %s\n", a); return; }
        char user[80] = "", who[96] = "";
        int ul = 0;
        if (sscanf(rest, "user=%63s%n", user, &ul) == 1) {   /* with the world hook */
            rest += ul;
            while (*rest == ' ') rest++;
            snprintf(who, sizeof who, " %s", user);
        }
        if (!strcmp(op, "delete")) bput(b, "server%s delete %s %s\n", who, t, id);
        else bput(b, "server%s write %s %s %s\n", who, t, id, *rest ? rest : "status=s0");
    } else if (sscanf(a, "fail %d status %d", &n, &s) == 2) bput(b, "server fail %d status %d\n", n, s);
    else if (!strcmp(a, "crash")) bput(b, "server crash\n");
    else if (!strcmp(a, "restart")) bput(b, "server restart\n");
    else if (sscanf(a, "revoke %127s", id) == 1) bput(b, "server revoke %s\n", id);
    else if (sscanf(a, "orchestrate %63s %15s", t, op) == 2) bput(b, "orchestrate %s %s\n", t, op);
    else if (!strcmp(a, "orchestrator on") || !strcmp(a, "orchestrator off")) bput(b, "%s\n", a);
    else bput(b, "# (not expressible) server %s\n", a);
}

/* One trace line; returns false at the start of the liveness phase. */
static bool take(struct buf *b, const char *line, int64_t *last)
{
    long long sec, ms;
    char actor[64];
    int used = 0;
    if (sscanf(line, "t=%lld.%lld %63s %n", &sec, &ms, actor, &used) < 3 || !used) return true;
    const char *text = line + used;
    int64_t t = sec * 1000 + ms;
    char body[1024];
    snprintf(body, sizeof body, "%s", text);
    size_t n = strlen(body);
    while (n && (body[n - 1] == '\n' || body[n - 1] == '\r')) body[--n] = 0;
    if (!strcmp(actor, "world")) {
        if (!strcmp(body, "quiesce")) { *last = t; return false; }
        if (!strcmp(body, "action heal all")) bput(b, "at %lldms heal all\n", (long long)t);
        return true;
    }
    if (!strcmp(actor, "check") || !strcmp(actor, "scenario")) return true;
    if (!strcmp(actor, "hostile")) { bput(b, "# at %lldms a hostile client's request (not expressible)\n", (long long)t); return true; }
    bool srv = !strcmp(actor, "server");
    if (!strcmp(actor, "erp")) {
        char tb[64], id[128];
        if (sscanf(body, "action write %63s %127s", tb, id) == 2)   /* values are not traced */
            bput(b, "at %lldms erp write %s %s status=e%lld\n", (long long)t, tb, id, (long long)t);
        return true;
    }
    if (starts(body, "action ")) {
        /* A statement, or a comment line when it has no scenario form (a
         * comment after `at T` would leave the line without a statement). */
        struct buf one = {0};
        if (srv) server_action(&one, body + 7); else device_action(&one, actor, body + 7);
        if (one.s && one.s[0] == '#') bput(b, "# at %lldms%s", (long long)t, one.s + 1);
        else if (one.s) bput(b, "at %lldms %s", (long long)t, one.s);
        free(one.s);
    } else if (!srv && starts(body, "died at a write")) {
        bput(b, "at %lldms crash %s%s\n", (long long)t, actor, strstr(body, "power") ? " power" : "");
    } else if (!srv && starts(body, "disk fault")) {
        bput(b, "# at %lldms %s: %s (not expressible)\n", (long long)t, actor, body);
    }
    *last = t;
    return true;
}

int shrink_seed_scenario(uint64_t seed, const struct swarm_opts *o0, char **out, char *err, size_t errlen)
{
    struct world_params p;
    unsigned mask;
    if (swarm_params(seed, o0, &p, &mask, err, errlen) != 0) return -1;
    struct swarm_opts o = *o0;
    FILE *tf = tmpfile();
    if (!tf) { snprintf(err, errlen, "cannot create a temporary file"); return -1; }
    o.trace = tf;
    struct swarm_result r;
    if (swarm_run(seed, &o, &r, NULL, err, errlen) != 0) { fclose(tf); return -1; }
    struct buf b = {0};
    bput(&b, "# seed 0x%016llx: %s\n", (unsigned long long)seed, r.ok ? "passed" : r.failure);
    declarations(&b, seed, &p, o0);
    rewind(tf);
    char line[2048];
    int64_t last = 0;
    bool quiesced = false;
    while (fgets(line, sizeof line, tf))
        if (!take(&b, line, &last)) { quiesced = true; break; }
    fclose(tf);
    bput(&b, "at %lldms quiesce\nexpect converged\n", (long long)last);
    (void)quiesced;
    if (!b.s) { snprintf(err, errlen, "out of memory"); return -1; }
    *out = b.s;
    return 0;
}
