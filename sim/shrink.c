/*
 * shrink.c — delta debugging of scenarios (shrink.h).
 *
 * A candidate is a scenario text; it "fails the same way" when it parses
 * and its run fails with the wanted signature. Every candidate's answer is
 * cached by the text's hash, so no text runs twice. The passes, cheapest
 * and widest first, repeated until nothing more goes or the caller says
 * stop:
 *
 *   prefix    the statements before the last `quiesce` are cut to the
 *             shortest prefix that still fails: first at the failure's
 *             instant (nothing after it can matter when the failure comes
 *             before the liveness phase), then by bisection (a failure at
 *             the end, such as INV-CONVERGE, usually needs only the first
 *             part of the workload);
 *   groups    every statement of one device, of one row (table and id), of
 *             one table, or of one kind of statement (all triggers, all
 *             crashes and restarts, …), largest groups first;
 *   chunks    delta debugging proper: chunks of consecutive statements,
 *             halving the chunk size down to single statements;
 *   values    optional words of statements and declarations (fields of
 *             writes, `power`, fault keys, config pairs, `rows N`, skews,
 *             strategies) and whole declarations (unused devices, tables,
 *             config and fault lines);
 *   times     each statement moved to the time of the one before it, the
 *             final `quiesce` to the last action (smaller times, fewer idle
 *             minutes in the written file).
 *
 * Deterministic: the same input gives the same output (the caller's stop
 * can only end it earlier).
 */
#include "shrink.h"

#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "scn.h"
#include "scn_run.h"
#include "types.h"

#define SHRINK_LINE_MAX 4096
#define SHRINK_HDR_MAX 256
#define SHRINK_ROUNDS 32         /* passes over everything, at most */
#define SHRINK_GROUP_ROUNDS 4

/* A scenario as lines: declarations, then one statement per line. */
struct doc {
    char *hdr[SHRINK_HDR_MAX];
    int nhdr;
    char **st;
    int nst;
};

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static void doc_free(struct doc *d)
{
    for (int i = 0; i < d->nhdr; i++) free(d->hdr[i]);
    for (int i = 0; i < d->nst; i++) free(d->st[i]);
    free(d->st);
    memset(d, 0, sizeof *d);
}

/* The text of d with the statements keep[] says (NULL: all). */
static char *doc_text_keep(const struct doc *d, const bool *keep)
{
    size_t n = 1;
    for (int i = 0; i < d->nhdr; i++) n += strlen(d->hdr[i]) + 1;
    for (int i = 0; i < d->nst; i++) if (!keep || keep[i]) n += strlen(d->st[i]) + 1;
    char *s = malloc(n), *p = s;
    if (!s) return NULL;
    for (int i = 0; i < d->nhdr; i++) p += sprintf(p, "%s\n", d->hdr[i]);
    for (int i = 0; i < d->nst; i++) if (!keep || keep[i]) p += sprintf(p, "%s\n", d->st[i]);
    *p = 0;
    return s;
}

static char *doc_text(const struct doc *d) { return doc_text_keep(d, NULL); }

/* Copies line without its comment and trailing blanks. */
static void strip_comment(const char *line, char *out, size_t n)
{
    bool q = false;
    size_t k = 0;
    for (const char *p = line; *p && *p != '\n' && k + 1 < n; p++) {
        if (*p == '"' && (p == line || p[-1] != '\\')) q = !q;
        if (*p == '#' && !q) break;
        out[k++] = *p == '\r' ? ' ' : *p;
    }
    while (k > 0 && (out[k - 1] == ' ' || out[k - 1] == '\t')) k--;
    out[k] = 0;
}

/* The statement without its `at T` / `after D` prefix. */
static const char *skip_timing(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    if (strncmp(s, "at ", 3) == 0 || strncmp(s, "after ", 6) == 0 || strncmp(s, "at\t", 3) == 0) {
        while (*s && *s != ' ' && *s != '\t') s++;
        while (*s == ' ' || *s == '\t') s++;
        while (*s && *s != ' ' && *s != '\t') s++;
        while (*s == ' ' || *s == '\t') s++;
    }
    return s;
}

/* Line `no` (1-based) of text into out. */
static void line_of(const char *text, int no, char *out, size_t n)
{
    const char *p = text;
    for (int i = 1; i < no && p; i++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (!p) { out[0] = 0; return; }
    strip_comment(p, out, n);
}

/* Does the statement on `line` run at the instant a quiesce ended? */
static bool after_quiesce(const struct scn *s, int line)
{
    for (int i = 1; i < s->nstmts; i++) {
        if (s->stmts[i].line != line) continue;
        for (int j = i - 1; j >= 0; j--) {
            if (s->stmts[j].kind == SCN_QUIESCE) return s->stmts[i].epoch == s->stmts[j].epoch + 1 && s->stmts[i].at_ms == 0;
            if (s->stmts[j].kind != SCN_EXPECT) return false;   /* expectations in between are fine */
        }
    }
    return false;
}

int shrink_signature(const char *file, const char *text, struct shrink_sig *sig, char *msg, size_t n)
{
    memset(sig, 0, sizeof *sig);
    struct scn s;
    struct scn_error e;
    if (scn_parse(file, text, strlen(text), &s, &e) != 0) {
        if (msg) snprintf(msg, n, "%s", e.msg);
        return -1;
    }
    struct scn_outcome *out = calloc(1, sizeof *out);
    if (!out) { scn_free(&s); return -1; }
    scn_run(&s, file, NULL, out);
    sig->failed = !out->passed;
    sig->at_ms = out->sim_ms;
    snprintf(sig->message, sizeof sig->message, "%s", out->message);
    if (sig->failed) {
        char inv[64], line[SHRINK_LINE_MAX];
        line_of(text, out->line, line, sizeof line);
        const char *stmt = skip_timing(line);
        rpt_invariant_of(out->message, inv, sizeof inv);
        /* `expect converged` is INV-CONVERGE only right after a quiesce:
         * anywhere else devices are simply not synced yet */
        if (!inv[0] && strcmp(stmt, "expect converged") == 0 && after_quiesce(&s, out->line))
            snprintf(inv, sizeof inv, "INV-CONVERGE");
        if (inv[0] || out->line == 0) {
            snprintf(sig->kind, sizeof sig->kind, "invariant");
            snprintf(sig->id, sizeof sig->id, "%s", inv[0] ? inv : "unknown");
        } else {
            /* the statement and what it found instead: an expectation
             * that fails for another reason (a device never started, say)
             * is another failure */
            const char *was = strstr(out->message, " was ");
            snprintf(sig->kind, sizeof sig->kind, "expect");
            snprintf(sig->id, sizeof sig->id, "%.300s%s%.200s", stmt, was ? " —" : "", was ? was : "");
        }
    }
    free(out);
    scn_free(&s);
    return 0;
}

bool shrink_same(const struct shrink_sig *a, const struct shrink_sig *b)
{
    return a->failed && b->failed && strcmp(a->kind, b->kind) == 0 && strcmp(a->id, b->id) == 0;
}

/* Splits text into declarations and statements, each statement rewritten
 * with its resolved `at Nms` (normalize) or kept as written. */
static int doc_load(const char *file, const char *text, bool normalize, struct doc *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    struct scn s;
    struct scn_error e;
    if (scn_parse(file, text, strlen(text), &s, &e) != 0) { snprintf(err, errlen, "%s", e.msg); return -1; }
    int first = s.nstmts > 0 ? s.stmts[0].line : 1 << 30;
    char line[SHRINK_LINE_MAX], out[SHRINK_LINE_MAX + 32];
    int no = 1;
    for (const char *p = text; *p && no < first; no++) {
        strip_comment(p, line, sizeof line);
        if (line[0] && d->nhdr < SHRINK_HDR_MAX) d->hdr[d->nhdr++] = dupstr(line);
        p = strchr(p, '\n');
        if (!p) break;
        p++;
    }
    d->st = calloc((size_t)(s.nstmts > 0 ? s.nstmts : 1), sizeof *d->st);
    if (!d->st) { scn_free(&s); return -1; }
    for (int i = 0; i < s.nstmts; i++) {
        line_of(text, s.stmts[i].line, line, sizeof line);
        if (normalize) snprintf(out, sizeof out, "at %lldms %s", (long long)s.stmts[i].at_ms, skip_timing(line));
        else snprintf(out, sizeof out, "%s", line);
        d->st[d->nst++] = dupstr(out);
    }
    scn_free(&s);
    return 0;
}

/* ------------------------------------------------------------ the cache */

struct cache_ent { uint64_t h, h2; uint32_t len; uint8_t used, fails; };   /* two hashes: no false hit */

struct ctx {
    const char *file;
    const struct shrink_opts *o;
    struct shrink_sig want;
    struct shrink_stats *st;
    struct cache_ent *tab;
    size_t cap, n;
    int64_t fail_ms;           /* when the current scenario fails (simulated) */
};

static uint64_t fnv(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ull; }
    return h;
}

static struct cache_ent *cache_slot(struct ctx *c, uint64_t h, uint64_t h2, uint32_t len)
{
    if (c->n * 2 >= c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        struct cache_ent *t = calloc(cap, sizeof *t);
        if (!t) return NULL;
        for (size_t i = 0; i < c->cap; i++) {
            if (!c->tab[i].used) continue;
            size_t j = c->tab[i].h & (cap - 1);
            while (t[j].used) j = (j + 1) & (cap - 1);
            t[j] = c->tab[i];
        }
        free(c->tab);
        c->tab = t;
        c->cap = cap;
    }
    size_t j = h & (c->cap - 1);
    while (c->tab[j].used && !(c->tab[j].h == h && c->tab[j].h2 == h2 && c->tab[j].len == len)) j = (j + 1) & (c->cap - 1);
    return &c->tab[j];
}

static bool stopped(struct ctx *c)
{
    if (c->st->stopped) return true;
    if (c->o && c->o->stop && c->o->stop(c->o->stop_arg)) { c->st->stopped = true; return true; }
    return false;
}

/* Does text fail the same way? Answers from the cache when it can. */
static bool text_fails(struct ctx *c, const char *text)
{
    size_t len = strlen(text);
    uint64_t h = fnv(text, len, 1469598103934665603ull), h2 = fnv(text, len, 0x9e3779b97f4a7c15ull);
    struct cache_ent *e = cache_slot(c, h, h2, (uint32_t)len);
    if (e && e->used) { c->st->cached++; return e->fails; }
    struct shrink_sig sig;
    c->st->runs++;
    bool ok = shrink_signature(c->file, text, &sig, NULL, 0) == 0 && shrink_same(&sig, &c->want);
    if (e) { e->used = 1; e->h = h; e->h2 = h2; e->len = (uint32_t)len; e->fails = ok; c->n++; }
    if (ok) c->fail_ms = sig.at_ms;
    return ok;
}

static bool still_fails(struct ctx *c, const struct doc *d)
{
    char *text = doc_text(d);
    if (!text) return false;
    bool ok = text_fails(c, text);
    free(text);
    return ok;
}

static void progress(struct ctx *c, const char *pass, const struct doc *d)
{
    if (c->o && c->o->log) fprintf(c->o->log, "shrink: %s: %d statements (%d runs)\n", pass, d->nst, c->st->runs);
}

/* Keeps only the statements keep[] says, when that still fails. */
static bool try_keep(struct ctx *c, struct doc *d, const bool *keep)
{
    int k = 0;
    for (int i = 0; i < d->nst; i++) k += keep[i];
    if (k == d->nst) return false;
    char *text = doc_text_keep(d, keep);
    if (!text) return false;
    bool ok = text_fails(c, text);
    free(text);
    if (!ok) return false;
    int j = 0;
    for (int i = 0; i < d->nst; i++) {
        if (keep[i]) d->st[j++] = d->st[i];
        else free(d->st[i]);
    }
    d->nst = j;
    return true;
}

/* ------------------------------------------------------------- statements */

/* Words of a line, quotes kept together. */
static int words(const char *line, char w[][256], int max)
{
    int n = 0;
    const char *p = line;
    while (*p && n < max) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        size_t k = 0;
        bool q = false;
        for (; *p && (q || (*p != ' ' && *p != '\t')); p++) {
            if (*p == '"') q = !q;
            if (k + 1 < 256) w[n][k++] = *p;
        }
        w[n++][k] = 0;
    }
    return n;
}

static void join(char w[][256], int n, int skip_from, int skip_n, char *out, size_t len)
{
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i >= skip_from && i < skip_from + skip_n) continue;
        int r = snprintf(out + k, len - k, "%s%s", k ? " " : "", w[i]);
        if (r < 0 || (size_t)r >= len - k) break;
        k += (size_t)r;
    }
}

static bool is_quiesce(const char *st) { return strcmp(skip_timing(st), "quiesce") == 0; }

/* `at Nms` of a normalized statement, or -1. */
static int64_t stmt_ms(const char *st)
{
    long long ms;
    char unit[8];
    if (sscanf(st, "at %lld%2[ms]", &ms, unit) == 2 && !strcmp(unit, "ms")) return ms;
    return -1;
}

/* What a statement is about: its kind, its device, its row. */
struct about {
    char verb[64];            /* "write", "server write", "trigger", … */
    char dev[64];             /* "" when none */
    char table[64], id[128];  /* "" when none */
};

static void about_of(const char *st, struct about *a)
{
    static char w[16][256];
    memset(a, 0, sizeof *a);
    int n = words(skip_timing(st), w, 16);
    if (n == 0) return;
    snprintf(a->verb, sizeof a->verb, "%.31s", w[0]);
    if (!strcmp(w[0], "server") || !strcmp(w[0], "erp")) {
        int i = 1;
        if (!strcmp(w[0], "server") && n > 2 && strcmp(w[1], "write") && strcmp(w[1], "delete") && strcmp(w[1], "fail")
            && strcmp(w[1], "crash") && strcmp(w[1], "restart") && strcmp(w[1], "revoke"))
            i = 2;   /* `server USER write …` */
        if (i < n) snprintf(a->verb, sizeof a->verb, "%.20s %.31s", w[0], w[i]);
        if (i + 2 < n && (!strcmp(w[i], "write") || !strcmp(w[i], "delete"))) {
            snprintf(a->table, sizeof a->table, "%.63s", w[i + 1]);
            snprintf(a->id, sizeof a->id, "%.127s", w[i + 2]);
        }
        if (i + 1 < n && !strcmp(w[i], "revoke")) snprintf(a->dev, sizeof a->dev, "%.63s", w[i + 1]);
        return;
    }
    if (!strcmp(w[0], "expect") || !strcmp(w[0], "quiesce") || !strcmp(w[0], "on") || !strcmp(w[0], "orchestrate")
        || !strcmp(w[0], "orchestrator"))
        return;
    if (!strcmp(w[0], "heal") && n > 1 && !strcmp(w[1], "all")) return;
    if (n > 1) snprintf(a->dev, sizeof a->dev, "%.63s", w[1]);
    if ((!strcmp(w[0], "write") || !strcmp(w[0], "delete") || !strcmp(w[0], "resolve")) && n > 3) {
        snprintf(a->table, sizeof a->table, "%.63s", w[2]);
        snprintf(a->id, sizeof a->id, "%.127s", w[3]);
    }
    /* crashes and restarts go together, as do connectivity and partitions */
    if (!strcmp(w[0], "restart")) snprintf(a->verb, sizeof a->verb, "crash");
    if (!strcmp(w[0], "online")) snprintf(a->verb, sizeof a->verb, "offline");
    if (!strcmp(w[0], "heal")) snprintf(a->verb, sizeof a->verb, "partition");
}

/* ---------------------------------------------------------------- passes */

/* The statements before the last quiesce, cut to the shortest prefix that
 * still fails. */
static bool cut_prefix(struct ctx *c, struct doc *d)
{
    int q = d->nst;
    for (int i = d->nst - 1; i >= 0; i--)
        if (is_quiesce(d->st[i])) { q = i; break; }
    if (q <= 1) return false;
    bool *keep = malloc((size_t)d->nst * sizeof *keep);
    if (!keep) return false;
    int best = q;
    /* the failure's instant, when it comes before the quiesce */
    int64_t qms = q < d->nst ? stmt_ms(d->st[q]) : -1;
    if (c->fail_ms >= 0 && (qms < 0 || c->fail_ms < qms)) {
        int k = 0;
        while (k < q && stmt_ms(d->st[k]) >= 0 && stmt_ms(d->st[k]) <= c->fail_ms) k++;
        if (k < q) {
            for (int i = 0; i < d->nst; i++) keep[i] = i < k || i >= q;
            if (!stopped(c)) {
                char *text = doc_text_keep(d, keep);
                if (text && text_fails(c, text)) best = k;
                free(text);
            }
        }
    }
    int lo = 0, hi = best;
    while (lo < hi && !stopped(c)) {
        int mid = lo + (hi - lo) / 2;
        for (int i = 0; i < d->nst; i++) keep[i] = i < mid || i >= q;
        char *text = doc_text_keep(d, keep);
        bool f = text && text_fails(c, text);
        free(text);
        if (f) hi = mid; else lo = mid + 1;
    }
    bool any = false;
    if (hi < q) {
        for (int i = 0; i < d->nst; i++) keep[i] = i < hi || i >= q;
        any = try_keep(c, d, keep);   /* from the cache */
        if (any) progress(c, "prefix", d);
    }
    free(keep);
    return any;
}

struct group { int n; char key[200]; };

static int group_cmp(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    if (x->n != y->n) return y->n - x->n;
    return strcmp(x->key, y->key);
}

static bool in_group(const struct about *a, const char *key)
{
    char k[200];
    if (a->dev[0]) { snprintf(k, sizeof k, "dev %s", a->dev); if (!strcmp(k, key)) return true; }
    if (a->table[0]) {
        snprintf(k, sizeof k, "row %s/%s", a->table, a->id);
        if (!strcmp(k, key)) return true;
        snprintf(k, sizeof k, "table %s", a->table);
        if (!strcmp(k, key)) return true;
    }
    if (a->verb[0]) { snprintf(k, sizeof k, "verb %s", a->verb); if (!strcmp(k, key)) return true; }
    return false;
}

/* Drops whole groups of statements: a device's, a row's, a table's, a
 * kind's; the largest first. */
static bool drop_groups(struct ctx *c, struct doc *d)
{
    bool any = false;
    for (int round = 0; round < SHRINK_GROUP_ROUNDS && !stopped(c); round++) {
        int cap = d->nst * 4 + 4, ng = 0;
        struct group *g = calloc((size_t)cap, sizeof *g);
        struct about *ab = calloc((size_t)(d->nst + 1), sizeof *ab);
        bool *keep = calloc((size_t)(d->nst + 1), sizeof *keep);
        if (!g || !ab || !keep) { free(g); free(ab); free(keep); return any; }
        for (int i = 0; i < d->nst; i++) {
            about_of(d->st[i], &ab[i]);
            char keys[4][200];
            int nk = 0;
            if (ab[i].dev[0]) snprintf(keys[nk++], 200, "dev %s", ab[i].dev);
            if (ab[i].table[0]) {
                snprintf(keys[nk++], 200, "row %s/%s", ab[i].table, ab[i].id);
                snprintf(keys[nk++], 200, "table %s", ab[i].table);
            }
            if (ab[i].verb[0] && strcmp(ab[i].verb, "expect") && strcmp(ab[i].verb, "quiesce"))
                snprintf(keys[nk++], 200, "verb %s", ab[i].verb);
            for (int k = 0; k < nk; k++) {
                int j = 0;
                while (j < ng && strcmp(g[j].key, keys[k])) j++;
                if (j == ng && ng < cap) memcpy(g[ng++].key, keys[k], 200);
                if (j < ng) g[j].n++;
            }
        }
        qsort(g, (size_t)ng, sizeof *g, group_cmp);
        bool progressed = false;
        for (int k = 0; k < ng && !stopped(c); k++) {
            if (g[k].n < 2 && d->nst > 24) continue;   /* single statements: the chunk pass */
            int left = 0;
            for (int i = 0; i < d->nst; i++) { keep[i] = !in_group(&ab[i], g[k].key); left += keep[i]; }
            if (left == d->nst || left == 0) continue;
            /* try_keep compacts d->st; ab must follow it */
            int j = 0;
            char *text = doc_text_keep(d, keep);
            bool f = text && text_fails(c, text);
            free(text);
            if (!f) continue;
            for (int i = 0; i < d->nst; i++) {
                if (keep[i]) { d->st[j] = d->st[i]; ab[j] = ab[i]; j++; }
                else free(d->st[i]);
            }
            d->nst = j;
            any = progressed = true;
            if (c->o && c->o->log) fprintf(c->o->log, "shrink: groups: without %s: %d statements (%d runs)\n", g[k].key, d->nst, c->st->runs);
        }
        free(g);
        free(ab);
        free(keep);
        if (!progressed) break;
    }
    return any;
}

/* Drops chunks of statements, halving the chunk size down to one; repeats
 * while anything went. */
static bool drop_chunks(struct ctx *c, struct doc *d)
{
    bool any = false, again = true;
    while (again && !stopped(c)) {
        again = false;
        for (int chunk = d->nst / 2 > 0 ? d->nst / 2 : 1; chunk >= 1 && !stopped(c); chunk /= 2) {
            bool *keep = malloc((size_t)(d->nst + 1) * sizeof *keep);
            if (!keep) return any;
            for (int start = 0; start < d->nst && !stopped(c);) {
                int k = start + chunk <= d->nst ? chunk : d->nst - start;
                for (int i = 0; i < d->nst; i++) keep[i] = i < start || i >= start + k;
                if (try_keep(c, d, keep)) {
                    any = again = true;
                    progress(c, "chunks", d);
                } else {
                    start += k;
                }
            }
            free(keep);
        }
    }
    return any;
}

/* Tries line *slot = candidate; keeps it when the failure stays. */
static bool try_line(struct ctx *c, struct doc *d, char **slot, const char *cand)
{
    char *old = *slot, *nw = dupstr(cand);
    if (!nw) return false;
    *slot = nw;
    if (still_fails(c, d)) { free(old); return true; }
    *slot = old;
    free(nw);
    return false;
}

/* Removes optional words of a line: k=v pairs (keeping one where a write
 * needs it), `power`, `rows N`, `skew D`, `strategy S`. */
static bool simplify_line(struct ctx *c, struct doc *d, char **slot, bool header)
{
    static char w[64][256];
    char cand[SHRINK_LINE_MAX];
    bool any = false;
    for (int i = 1; !stopped(c);) {
        int n = words(*slot, w, 64);
        if (i >= n) break;
        if (!header && strcmp(w[0], "at") == 0 && i < 3) { i = 3; continue; }   /* the timing */
        if (strncmp(w[0], "scenario", 8) == 0 || strncmp(w[0], "seed", 4) == 0) break;
        int drop = 0;
        if (strchr(w[i], '=') && !strchr(w[i], '"')) drop = 1;
        else if (strcmp(w[i], "power") == 0) drop = 1;
        else if (header && (!strcmp(w[i], "rows") || !strcmp(w[i], "skew") || !strcmp(w[i], "strategy")) && i + 1 < n) drop = 2;
        if (drop) {
            join(w, n, i, drop, cand, sizeof cand);
            if (try_line(c, d, slot, cand)) { any = true; continue; }
        }
        i++;
    }
    return any;
}

/* Moves each statement to the time of the one before it (smaller times,
 * fewer idle gaps), the final quiesce last, when the failure stays. */
static bool compact_times(struct ctx *c, struct doc *d)
{
    static char w[64][256], pw[64][256];
    char cand[SHRINK_LINE_MAX];
    bool any = false;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 1; i < d->nst && !stopped(c); i++) {
            int n = words(d->st[i], w, 64), m = words(d->st[i - 1], pw, 64);
            if (n < 3 || m < 3 || strcmp(w[0], "at") || strcmp(pw[0], "at") || !strcmp(w[1], pw[1])) continue;
            if (!strcmp(pw[2], "quiesce")) continue;
            if ((pass == 0) == !strcmp(w[2], "quiesce")) continue;   /* quiesce in the second pass */
            snprintf(w[1], sizeof w[1], "%s", pw[1]);
            join(w, n, -1, 0, cand, sizeof cand);
            if (try_line(c, d, &d->st[i], cand)) any = true;
        }
    }
    return any;
}

/* Tables without their server rows: runs get several times faster (the
 * initial syncs), so this goes first. */
static bool drop_rows(struct ctx *c, struct doc *d)
{
    static char w[64][256];
    char cand[SHRINK_LINE_MAX];
    char *saved[SHRINK_HDR_MAX];
    bool changed = false;
    for (int i = 0; i < d->nhdr; i++) {
        saved[i] = d->hdr[i];
        int n = words(d->hdr[i], w, 64);
        if (n < 2 || strcmp(w[0], "table")) continue;
        for (int k = 2; k + 1 < n; k++) {
            if (strcmp(w[k], "rows")) continue;
            join(w, n, k, 2, cand, sizeof cand);
            char *nw = dupstr(cand);
            if (nw) { d->hdr[i] = nw; changed = true; }
            break;
        }
    }
    if (!changed) return false;
    bool ok = !stopped(c) && still_fails(c, d);
    for (int i = 0; i < d->nhdr; i++) {
        if (d->hdr[i] == saved[i]) continue;
        if (ok) free(saved[i]);
        else { free(d->hdr[i]); d->hdr[i] = saved[i]; }
    }
    if (ok && c->o && c->o->log) fprintf(c->o->log, "shrink: tables without rows (%d runs)\n", c->st->runs);
    return ok;
}

/* The `faults` declaration, or -1. */
static int faults_line(const struct doc *d)
{
    for (int i = 0; i < d->nhdr; i++)
        if (!strncmp(d->hdr[i], "faults ", 7) || !strcmp(d->hdr[i], "faults")) return i;
    return -1;
}

/* `faults swarm` as the keys it stands for (near enough: no long tails,
 * no drift, Retry-After and clock jumps as scenarios play them), so the
 * other passes can drop and raise them one by one. */
static bool expand_swarm(struct ctx *c, struct doc *d)
{
    int f = faults_line(d);
    if (f < 0 || strcmp(d->hdr[f], "faults swarm") != 0) return false;
    uint64_t seed = 1;
    for (int i = 0; i < d->nhdr; i++)
        if (!strncmp(d->hdr[i], "seed ", 5)) seed = strtoull(d->hdr[i] + 5, NULL, 0);
    struct swarm_opts so;
    struct world_params p;
    unsigned mask;
    char err[256], line[1024];
    swarm_opts_default(&so);
    so.faults = 1;
    if (swarm_params(seed, &so, &p, &mask, err, sizeof err) != 0) return false;
    const struct faults *x = &p.faults;
    const struct { const char *key; double p; } keys[] = {
        { "loss", x->loss }, { "dup", x->dup }, { "partition", x->partition }, { "flap", x->flap },
        { "server_error", x->server_error }, { "throttle", x->throttle }, { "server_crash", x->server_crash },
        { "crash", x->crash }, { "power", x->crash > 0 ? x->power : 0 }, { "disk", x->disk },
        { "clock_jump", x->clock_jump },
    };
    size_t k = (size_t)snprintf(line, sizeof line, "faults");
    for (size_t i = 0; i < sizeof keys / sizeof *keys && k < sizeof line; i++)
        if (keys[i].p > 0) k += (size_t)snprintf(line + k, sizeof line - k, " %s=%.6f", keys[i].key, keys[i].p);
    if (k < sizeof line && (x->delay_min != 10 || x->delay_max != 10))
        k += (size_t)snprintf(line + k, sizeof line - k, " delay=%lldms..%lldms", (long long)x->delay_min, (long long)x->delay_max);
    if (k >= sizeof line) return false;
    if (!strcmp(line, "faults")) snprintf(line, sizeof line, "faults none");
    return try_line(c, d, &d->hdr[f], line);
}

static bool prob_key(const char *k, size_t n)
{
    static const char *const keys[] = { "loss", "dup", "partition", "flap", "server_error", "throttle",
                                        "server_crash", "crash", "power", "disk", "clock_jump" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strlen(keys[i]) == n && !strncmp(keys[i], k, n)) return true;
    return false;
}

/* Raises each fault probability (tenfold, to 0.5, to 1): a failure that
 * needed a lucky draw becomes likely, so fewer statements keep it. */
static bool boost_faults(struct ctx *c, struct doc *d)
{
    static char w[64][256];
    char cand[SHRINK_LINE_MAX];
    bool any = false;
    int f = faults_line(d);
    if (f < 0) return false;
    int n = words(d->hdr[f], w, 64);
    for (int i = 1; i < n && !stopped(c); i++) {
        char *eq = strchr(w[i], '=');
        if (!eq || !prob_key(w[i], (size_t)(eq - w[i]))) continue;
        int klen = (int)(eq - w[i]);
        double v = atof(eq + 1);
        const double to[] = { v * 10 < 1 ? v * 10 : 1, 0.5, 1 };
        for (size_t t = 0; t < sizeof to / sizeof *to && !stopped(c); t++) {
            if (to[t] <= v + 1e-9) continue;
            char save[256];
            snprintf(save, sizeof save, "%s", w[i]);
            snprintf(w[i], sizeof w[i], "%.*s=%.6f", klen, save, to[t]);
            join(w, n, -1, 0, cand, sizeof cand);
            if (try_line(c, d, &d->hdr[f], cand)) {
                any = true;
                if (c->o && c->o->log) fprintf(c->o->log, "shrink: faults: %s (%d runs)\n", w[i], c->st->runs);
                break;
            }
            snprintf(w[i], sizeof w[i], "%s", save);
        }
        n = words(d->hdr[f], w, 64);
    }
    return any;
}

static bool drop_headers(struct ctx *c, struct doc *d)
{
    bool any = false;
    for (int i = 0; i < d->nhdr && !stopped(c);) {
        if (strncmp(d->hdr[i], "scenario", 8) == 0) { i++; continue; }
        char *saved = d->hdr[i];
        memmove(d->hdr + i, d->hdr + i + 1, (size_t)(d->nhdr - i - 1) * sizeof *d->hdr);
        d->nhdr--;
        if (still_fails(c, d)) { free(saved); any = true; continue; }
        memmove(d->hdr + i + 1, d->hdr + i, (size_t)(d->nhdr - i) * sizeof *d->hdr);
        d->hdr[i] = saved;
        d->nhdr++;
        i++;
    }
    for (int i = 0; i < d->nhdr && !stopped(c); i++) any |= simplify_line(c, d, &d->hdr[i], true);
    return any;
}

/* The `seed` declaration (added when absent: the default, 1). */
static int seed_line(struct doc *d)
{
    for (int i = 0; i < d->nhdr; i++)
        if (!strncmp(d->hdr[i], "seed ", 5)) return i;
    if (d->nhdr == SHRINK_HDR_MAX) return -1;
    int at = d->nhdr > 0 && !strncmp(d->hdr[0], "scenario", 8) ? 1 : 0;
    memmove(d->hdr + at + 1, d->hdr + at, (size_t)(d->nhdr - at) * sizeof *d->hdr);
    d->hdr[at] = dupstr("seed 1");
    d->nhdr++;
    return d->hdr[at] ? at : -1;
}

/* Past a fixpoint the statements left often only steer the random draws
 * to the one that fails: removing any of them moves the draws. Here a
 * chunk may go when the scenario still fails with one of the next few
 * seeds, which then becomes the scenario's. */
static bool drop_reseeded(struct ctx *c, struct doc *d, int reseeds)
{
    int had = d->nhdr;
    int sl = seed_line(d);
    if (sl < 0) return false;
    bool added = d->nhdr > had;   /* the default seed was made explicit */
    bool any = false;
    char line[64];
    for (int chunk = d->nst / 4 > 0 ? d->nst / 4 : 1; chunk >= 1 && !stopped(c); chunk /= 2) {
        bool *keep = malloc((size_t)(d->nst + 1) * sizeof *keep);
        if (!keep) return any;
        for (int start = 0; start < d->nst && !stopped(c);) {
            int k = start + chunk <= d->nst ? chunk : d->nst - start;
            for (int i = 0; i < d->nst; i++) keep[i] = i < start || i >= start + k;
            uint64_t seed = strtoull(d->hdr[sl] + 5, NULL, 0);
            char *orig = d->hdr[sl];
            bool ok = false;
            for (int r = 1; r <= reseeds && !ok && !stopped(c); r++) {
                snprintf(line, sizeof line, "seed %llu", (unsigned long long)(seed + (uint64_t)r));
                d->hdr[sl] = line;
                ok = try_keep(c, d, keep);
            }
            d->hdr[sl] = orig;
            if (ok) {
                free(orig);
                d->hdr[sl] = dupstr(line);
                any = true;
                if (c->o && c->o->log) fprintf(c->o->log, "shrink: reseeded: %s, %d statements (%d runs)\n", line, d->nst, c->st->runs);
                if (!d->hdr[sl]) { free(keep); return any; }
            } else {
                start += k;
            }
        }
        free(keep);
    }
    if (added && !any) {   /* nothing went: the line goes again */
        free(d->hdr[sl]);
        memmove(d->hdr + sl, d->hdr + sl + 1, (size_t)(d->nhdr - sl - 1) * sizeof *d->hdr);
        d->nhdr--;
    }
    return any;
}

int shrink_count_stmts(const char *text)
{
    struct scn s;
    struct scn_error e;
    if (scn_parse("count", text, strlen(text), &s, &e) != 0) return -1;
    int n = s.nstmts;
    scn_free(&s);
    return n;
}

int shrink_scenario(const char *file, const char *text, const struct shrink_opts *o, char **out,
                    struct shrink_sig *sig, struct shrink_stats *st, char *err, size_t errlen)
{
    SS_ASSERT(file && text && out && sig && st);
    memset(st, 0, sizeof *st);
    *out = NULL;
    struct ctx c = { .file = file, .o = o, .st = st, .fail_ms = -1 };
    struct shrink_sig got;
    if (shrink_signature(file, text, &got, err, errlen) != 0) return -1;
    st->runs++;
    c.want = o && o->want ? *o->want : got;
    *sig = c.want;
    if (!got.failed) { snprintf(err, errlen, "%s: the scenario passes: nothing to shrink", file); return -1; }
    if (!shrink_same(&got, &c.want)) {
        snprintf(err, errlen, "%s: the scenario fails with %s %s, not %s %s", file, got.kind, got.id, c.want.kind, c.want.id);
        return -1;
    }
    c.fail_ms = got.at_ms;
    struct doc d;
    if (doc_load(file, text, true, &d, err, errlen) != 0) return -1;
    st->stmts_before = d.nst;
    if (!still_fails(&c, &d)) {   /* absolute times changed it: keep the lines as written */
        doc_free(&d);
        if (doc_load(file, text, false, &d, err, errlen) != 0) return -1;
        c.fail_ms = got.at_ms;
    }
    for (int round = 0; round < SHRINK_ROUNDS && !stopped(&c); round++) {
        bool any = false;
        if (round == 0) { any |= drop_rows(&c, &d); any |= cut_prefix(&c, &d); }
        any |= expand_swarm(&c, &d);
        any |= boost_faults(&c, &d);
        any |= drop_groups(&c, &d);
        any |= drop_chunks(&c, &d);
        for (int i = 0; i < d.nst && !stopped(&c); i++) any |= simplify_line(&c, &d, &d.st[i], false);
        any |= drop_headers(&c, &d);
        if (round == 0) any |= compact_times(&c, &d);
        /* a fixpoint: let the random draws move (a few seeds, then more) */
        if (!any && !stopped(&c)) any = drop_reseeded(&c, &d, 4);
        if (!any && !stopped(&c)) any = drop_reseeded(&c, &d, 16);
        if (!any) break;
    }
    compact_times(&c, &d);
    st->stmts_after = d.nst;
    *out = doc_text(&d);
    doc_free(&d);
    free(c.tab);
    return *out ? 0 : -1;
}
