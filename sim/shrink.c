/*
 * shrink.c — delta debugging of scenarios, and seeds turned into scenarios
 * (shrink.h).
 */
#include "shrink.h"

#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "scn.h"
#include "scn_run.h"
#include "types.h"

#define SHRINK_MAX_LINES SCN_MAX_STMTS
#define SHRINK_LINE_MAX 4096

/* A scenario as lines: declarations, then one statement per line. */
struct doc {
    char *hdr[256];
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

static char *doc_text(const struct doc *d)
{
    size_t n = 1;
    for (int i = 0; i < d->nhdr; i++) n += strlen(d->hdr[i]) + 1;
    for (int i = 0; i < d->nst; i++) n += strlen(d->st[i]) + 1;
    char *s = malloc(n), *p = s;
    if (!s) return NULL;
    for (int i = 0; i < d->nhdr; i++) p += sprintf(p, "%s\n", d->hdr[i]);
    for (int i = 0; i < d->nst; i++) p += sprintf(p, "%s\n", d->st[i]);
    *p = 0;
    return s;
}

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
    snprintf(sig->message, sizeof sig->message, "%s", out->message);
    if (sig->failed) {
        char inv[64], line[SHRINK_LINE_MAX];
        line_of(text, out->line, line, sizeof line);
        const char *stmt = skip_timing(line);
        rpt_invariant_of(out->message, inv, sizeof inv);
        if (!inv[0] && strcmp(stmt, "expect converged") == 0) snprintf(inv, sizeof inv, "INV-CONVERGE");
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

static bool same_sig(const struct shrink_sig *a, const struct shrink_sig *b)
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
        if (line[0] && d->nhdr < 256) d->hdr[d->nhdr++] = dupstr(line);
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

struct ctx {
    const char *file;
    const struct shrink_opts *o;
    struct shrink_sig want;
    struct shrink_stats *st;
};

static bool stopped(struct ctx *c)
{
    if (c->o && c->o->stop && c->o->stop(c->o->stop_arg)) { c->st->stopped = true; return true; }
    return false;
}

static bool still_fails(struct ctx *c, const struct doc *d)
{
    char *text = doc_text(d);
    if (!text) return false;
    struct shrink_sig sig;
    c->st->runs++;
    bool ok = shrink_signature(c->file, text, &sig, NULL, 0) == 0 && same_sig(&sig, &c->want);
    free(text);
    return ok;
}

/* Drops chunks of statements, halving the chunk size down to one; repeats
 * while anything went. */
static bool drop_chunks(struct ctx *c, struct doc *d)
{
    bool any = false, again = true;
    while (again && !stopped(c)) {
        again = false;
        for (int chunk = d->nst / 2 > 0 ? d->nst / 2 : 1; chunk >= 1 && !stopped(c); chunk /= 2) {
            for (int start = 0; start < d->nst && !stopped(c);) {
                int k = start + chunk <= d->nst ? chunk : d->nst - start;
                char **saved = malloc((size_t)k * sizeof *saved);
                if (!saved) return any;
                memcpy(saved, d->st + start, (size_t)k * sizeof *saved);
                memmove(d->st + start, d->st + start + k, (size_t)(d->nst - start - k) * sizeof *d->st);
                d->nst -= k;
                if (still_fails(c, d)) {
                    for (int i = 0; i < k; i++) free(saved[i]);
                    any = again = true;
                    if (c->o && c->o->log) fprintf(c->o->log, "shrink: %d statements\n", d->nst);
                } else {
                    memmove(d->st + start + k, d->st + start, (size_t)(d->nst - start) * sizeof *d->st);
                    memcpy(d->st + start, saved, (size_t)k * sizeof *saved);
                    d->nst += k;
                    start += k;
                }
                free(saved);
            }
        }
    }
    return any;
}

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
 * fewer idle gaps), when the failure stays. */
static bool compact_times(struct ctx *c, struct doc *d)
{
    static char w[64][256];
    char cand[SHRINK_LINE_MAX];
    bool any = false;
    for (int i = 1; i < d->nst && !stopped(c); i++) {
        int n = words(d->st[i], w, 64), m;
        static char pw[64][256];
        m = words(d->st[i - 1], pw, 64);
        if (n < 3 || m < 3 || strcmp(w[0], "at") || strcmp(pw[0], "at") || !strcmp(w[1], pw[1])) continue;
        if (!strcmp(w[2], "quiesce") || !strcmp(pw[2], "quiesce")) continue;
        snprintf(w[1], sizeof w[1], "%s", pw[1]);
        join(w, n, -1, 0, cand, sizeof cand);
        if (try_line(c, d, &d->st[i], cand)) any = true;
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
    struct ctx c = { .file = file, .o = o, .st = st };
    if (shrink_signature(file, text, &c.want, err, errlen) != 0) return -1;
    *sig = c.want;
    if (!c.want.failed) { snprintf(err, errlen, "%s: the scenario passes: nothing to shrink", file); return -1; }
    struct doc d;
    if (doc_load(file, text, true, &d, err, errlen) != 0) return -1;
    st->stmts_before = d.nst;
    if (!still_fails(&c, &d)) {   /* absolute times changed it: keep the lines as written */
        doc_free(&d);
        if (doc_load(file, text, false, &d, err, errlen) != 0) return -1;
    }
    for (int round = 0; round < 8 && !stopped(&c); round++) {
        bool any = drop_chunks(&c, &d);
        for (int i = 0; i < d.nst && !stopped(&c); i++) any |= simplify_line(&c, &d, &d.st[i], false);
        any |= drop_headers(&c, &d);
        if (!any) break;
    }
    compact_times(&c, &d);
    st->stmts_after = d.nst;
    *out = doc_text(&d);
    doc_free(&d);
    return *out ? 0 : -1;
}
