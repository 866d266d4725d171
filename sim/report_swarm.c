/*
 * report_swarm.c — the swarm summary page (report.h): reads DIR/swarm.json
 * as `syncsim swarm --report DIR` writes it, and writes DIR/swarm.html (one
 * self-contained page) and DIR/swarm-summary.json (for CI bots: one entry
 * per failing seed with its invariant, repro command and failure page).
 *
 * swarm.json is our own flat format, so it is read by looking keys up, not
 * by a general JSON parser; unknown keys are ignored, missing ones are
 * reported as "not recorded" on the page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "types.h"

#define SWARM_JSON_MAX (64 << 20)
#define SWARM_FAIL_MAX 1000

char *rpt_read_file(const char *path, size_t max, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno)); return NULL; }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
        if (n + 1 == cap) {
            if (cap > max) { free(buf); buf = NULL; snprintf(err, errlen, "%s is too large", path); break; }
            char *b = realloc(buf, cap * 2);
            if (!b) { free(buf); buf = NULL; break; }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    else if (!err[0]) snprintf(err, errlen, "out of memory");
    return buf;
}

static const char *ws(const char *p) { while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++; return p; }

/* The value after "key": (first occurrence), or NULL. */
static const char *jkey(const char *s, const char *key)
{
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    for (const char *p = s; (p = strstr(p, pat)); p++) {
        const char *q = ws(p + strlen(pat));
        if (*q == ':') return ws(q + 1);
    }
    return NULL;
}

static double jnum(const char *s, const char *key, double dflt)
{
    const char *p = jkey(s, key);
    if (!p) return dflt;
    char *end;
    double v = strtod(p, &end);
    return end == p ? dflt : v;
}

/* A JSON string at p into out (decoded); returns the position after it. */
static const char *jstr(const char *p, char *out, size_t n)
{
    size_t k = 0;
    if (*p != '"') { if (n) out[0] = 0; return p; }
    for (p++; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            p++;
            c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
            if (*p == 'u') { c = '?'; for (int i = 0; i < 4 && p[1]; i++) p++; }
        }
        if (k + 1 < n) out[k++] = c;
    }
    if (n) out[k] = 0;
    return *p == '"' ? p + 1 : p;
}

/* A flat object of "name": number pairs. */
static int jcounts(const char *s, const char *key, char names[][32], double *vals, int max)
{
    const char *p = jkey(s, key);
    if (!p || *p != '{') return -1;
    int n = 0;
    p = ws(p + 1);
    while (*p == '"' && n < max) {
        p = ws(jstr(p, names[n], 32));
        if (*p != ':') break;
        char *end;
        vals[n++] = strtod(ws(p + 1), &end);
        p = ws(end);
        if (*p == ',') p = ws(p + 1);
    }
    return n;
}

/* "FAIL seed=0x… INV-X: message\n  repro: command" (cli/swarm_many.c). */
static void parse_failure(const char *line, struct rpt_swarm_failure *f)
{
    memset(f, 0, sizeof *f);
    unsigned long long seed = 0;
    const char *p = strstr(line, "seed=");
    if (p) seed = strtoull(p + 5, NULL, 0);
    f->seed = seed;
    const char *inv = p ? strchr(p, ' ') : NULL;
    if (inv) {
        inv++;
        const char *colon = strstr(inv, ": ");
        size_t k = colon ? (size_t)(colon - inv) : 0;
        if (k >= sizeof f->invariant) k = sizeof f->invariant - 1;
        memcpy(f->invariant, inv, k);
        f->invariant[k] = 0;
        const char *msg = colon ? colon + 2 : inv;
        const char *nl = strstr(msg, "\n  repro: ");
        size_t ml = nl ? (size_t)(nl - msg) : strlen(msg);
        snprintf(f->message, sizeof f->message, "%.*s", (int)(ml < sizeof f->message ? ml : sizeof f->message - 1), msg);
        if (nl) snprintf(f->repro, sizeof f->repro, "%s", nl + 10);
    }
    if (!f->repro[0]) snprintf(f->repro, sizeof f->repro, "build/syncsim replay 0x%016llx", seed);
}

static void read_failures(const char *s, struct rpt_swarm *sw)
{
    const char *p = jkey(s, "failures");
    if (!p || *p != '[') return;
    sw->fail = calloc(SWARM_FAIL_MAX, sizeof *sw->fail);
    if (!sw->fail) return;
    char *line = malloc(4096);
    if (!line) return;
    p = ws(p + 1);
    while (*p == '"' && sw->nfail < SWARM_FAIL_MAX) {
        p = ws(jstr(p, line, 4096));
        parse_failure(line, &sw->fail[sw->nfail++]);
        if (*p == ',') p = ws(p + 1);
    }
    free(line);
}

/* "coverage_STATE": {kind: count, …} per coordinator state (cli/swarm_many.c). */
static void read_cov(const char *s, struct rpt_swarm *sw)
{
    struct rpt_cov c;
    memset(&c, 0, sizeof c);
    bool any = false;
    for (int st = 0; st < RPT_COV_STATES; st++) {
        char key[64], names[32][32];
        double v[32];
        snprintf(key, sizeof key, "coverage_%s", rpt_cov_state_names[st]);
        int n = jcounts(s, key, names, v, 32);
        for (int i = 0; i < n; i++) {
            enum sync_kind k;
            if (kind_parse(names[i], &k) == 0) { c.count[st][k] = (long)v[i]; any = true; }
        }
    }
    if (any) rpt_cov_into(&c, sw);
}

int rpt_swarm_read(const char *dir, struct rpt_swarm *sw, char *err, size_t errlen)
{
    memset(sw, 0, sizeof *sw);
    char path[4096];
    snprintf(path, sizeof path, "%s/swarm.json", dir);
    err[0] = 0;
    char *s = rpt_read_file(path, SWARM_JSON_MAX, err, errlen);
    if (!s) return -1;
    if (!jkey(s, "seeds")) { snprintf(err, errlen, "%s: expected a swarm report (no \"seeds\")", path); free(s); return -1; }
    sw->seeds = (long)jnum(s, "seeds", 0);
    sw->failed = (long)jnum(s, "failed", 0);
    sw->from = (uint64_t)jnum(s, "from", 1);
    sw->wall_s = jnum(s, "wall_s", 0);
    sw->seeds_per_sec = jnum(s, "seeds_per_sec", 0);
    sw->sim_wall_ratio = jnum(s, "sim_wall_ratio", 0);
    sw->budget_s = jnum(s, "time_budget_s", 0);
    double v[32];
    int n = jcounts(s, "fault_kinds", sw->fault_names, v, 32);
    for (int i = 0; i < n; i++) sw->fault_counts[i] = (long)v[i];
    sw->nfaults = n > 0 ? n : 0;
    n = jcounts(s, "checks", sw->check_names, v, 32);
    for (int i = 0; i < n; i++) sw->check_counts[i] = (unsigned long long)v[i];
    sw->nchecks = n > 0 ? n : 0;
    read_cov(s, sw);
    read_failures(s, sw);
    free(s);
    return 0;
}

void rpt_swarm_free(struct rpt_swarm *sw)
{
    free(sw->fail);
    sw->fail = NULL;
}

/* ---------------------------------------------------------------- page */

static void bar_row(FILE *f, const char *name, double v, double max, const char *color, const char *note)
{
    double w = max > 0 ? 420.0 * v / max : 0;
    fputs("<tr><td>", f);
    rpt_html_escaped(f, name);
    fprintf(f, "</td><td><svg width=\"430\" height=\"14\"><rect width=\"%.1f\" height=\"12\" y=\"1\" fill=\"%s\"/></svg></td>"
               "<td class=\"num\">%.0f</td><td class=\"muted\">%s</td></tr>\n", w, color, v, note ? note : "");
}

static long fired(const struct rpt_swarm *sw, const char *id)
{
    long n = 0;
    for (int i = 0; i < sw->nfail; i++) if (strcmp(sw->fail[i].invariant, id) == 0) n++;
    return n;
}

static void swarm_css(FILE *f)
{
    fputs("<style>body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}"
          "header{background:#2d2d2d;color:#fff;padding:14px 24px}h1{margin:0;font-size:20px}"
          "main{padding:12px 24px}section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 16px;margin:12px 0}"
          "h2{font-size:16px;margin:4px 0 8px}.num{text-align:right;font-variant-numeric:tabular-nums;padding:0 10px}"
          ".muted{color:#777}.big{font-size:26px;font-weight:700;margin-right:28px}.bad{color:#d62728}.good{color:#2ca02c}"
          "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left}tr:nth-child(even){background:#f6f6f6}"
          "pre{background:#1e1e1e;color:#eee;padding:4px 8px;border-radius:4px;margin:2px 0;overflow-x:auto}"
          ".cov td.c{width:70px;text-align:center}.cov td.z{background:#fde0dd;color:#b30000}</style>", f);
}

static void swarm_failures(FILE *f, const struct rpt_swarm *sw)
{
    fputs("<section id=\"failures\"><h2>Failing seeds</h2>", f);
    if (sw->nfail == 0) { fputs("<p class=\"good\">none</p></section>\n", f); return; }
    fputs("<table><tr><th>seed</th><th>invariant</th><th>what</th><th>page</th></tr>\n", f);
    for (int i = 0; i < sw->nfail; i++) {
        const struct rpt_swarm_failure *x = &sw->fail[i];
        fprintf(f, "<tr><td>0x%016llx</td><td class=\"bad\">", (unsigned long long)x->seed);
        rpt_html_escaped(f, x->invariant);
        fputs("</td><td>", f);
        rpt_html_escaped(f, x->message);
        fputs("<pre>", f);
        rpt_html_escaped(f, x->repro);
        fputs("</pre></td><td>", f);
        if (x->page[0]) { fputs("<a href=\"", f); rpt_html_escaped(f, x->page); fputs("\">failure page</a>", f); }
        fputs("</td></tr>\n", f);
    }
    fputs("</table></section>\n", f);
}

static void swarm_coverage(FILE *f, const struct rpt_swarm *sw)
{
    fputs("<section id=\"coverage\"><h2>Coordinator coverage (state × request kind)</h2>", f);
    if (!sw->has_cov) {
        fputs("<p class=\"muted\">not recorded in swarm.json — run <code>syncsim report swarm DIR --seeds N</code> "
              "to measure it.</p></section>\n", f);
        return;
    }
    fputs("<p>How often each request kind met each coordinator state. Red cells were never exercised: "
          "the gaps to write scenarios for.</p><table class=\"cov\"><tr><th>state \\ request</th>", f);
    for (int k = 0; k < sw->ncov_kinds; k++) fprintf(f, "<th>%s</th>", sw->cov_kinds[k]);
    fputs("</tr>\n", f);
    for (int s = 0; s < sw->ncov_states; s++) {
        fprintf(f, "<tr><td>%s</td>", sw->cov_states[s]);
        for (int k = 0; k < sw->ncov_kinds; k++)
            fprintf(f, "<td class=\"c%s\">%ld</td>", sw->cov[s][k] ? "" : " z", sw->cov[s][k]);
        fputs("</tr>\n", f);
    }
    fputs("</table></section>\n", f);
}

static int write_html(const char *path, const struct rpt_swarm *sw)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>syncsim swarm report</title>", f);
    swarm_css(f);
    fprintf(f, "</head><body><header><h1>syncsim swarm report</h1></header><main>\n"
               "<section id=\"summary\"><span class=\"big\">%ld seeds</span><span class=\"big %s\">%ld failed</span>"
               "<span class=\"big\">%.1f seeds/s</span><p>seeds %llu … %llu, %.1f s wall time",
            sw->seeds, sw->failed ? "bad" : "good", sw->failed, sw->seeds_per_sec, (unsigned long long)sw->from,
            (unsigned long long)(sw->from + (uint64_t)(sw->seeds > 0 ? sw->seeds - 1 : 0)), sw->wall_s);
    if (sw->sim_wall_ratio > 0) fprintf(f, ", simulated/wall time %.0f×", sw->sim_wall_ratio);
    if (sw->budget_s > 0) fprintf(f, ", time budget %.0f s", sw->budget_s);
    fputs("</p></section>\n", f);
    swarm_failures(f, sw);
    fputs("<section id=\"faults\"><h2>Fault kinds (seeds that enabled each)</h2><table>\n", f);
    for (int i = 0; i < sw->nfaults; i++) bar_row(f, sw->fault_names[i], (double)sw->fault_counts[i], (double)sw->seeds, "#4e79a7", NULL);
    if (!sw->nfaults) fputs("<tr><td class=\"muted\">not recorded</td></tr>", f);
    fputs("</table></section>\n<section id=\"checks\"><h2>Invariant checks</h2>", f);
    if (sw->nchecks) {
        double max = 0;
        for (int i = 0; i < sw->nchecks; i++) if ((double)sw->check_counts[i] > max) max = (double)sw->check_counts[i];
        fputs("<table><tr><th>invariant</th><th>checked</th><th class=\"num\">times</th><th>fired</th></tr>\n", f);
        for (int i = 0; i < sw->nchecks; i++) {
            char note[64];
            long n = fired(sw, sw->check_names[i]);
            snprintf(note, sizeof note, "%s%ld failing seed%s", n ? "<b class=bad>" : "", n, n == 1 ? "" : "s");
            if (n) strncat(note, "</b>", sizeof note - strlen(note) - 1);
            bar_row(f, sw->check_names[i], (double)sw->check_counts[i], max, sw->check_counts[i] ? "#59a14f" : "#d62728", note);
        }
        fputs("</table>", f);
    } else {
        fputs("<p class=\"muted\">check counts not recorded in swarm.json (see the report hook for cli/swarm_many.c); "
              "failures by invariant:</p><table>", f);
        for (int i = 0; i < sw->nfail; i++) {
            bool seen = false;
            for (int j = 0; j < i; j++) if (strcmp(sw->fail[j].invariant, sw->fail[i].invariant) == 0) seen = true;
            if (!seen) bar_row(f, sw->fail[i].invariant, (double)fired(sw, sw->fail[i].invariant), (double)sw->nfail, "#d62728", NULL);
        }
        fputs("</table>", f);
    }
    fputs("</section>\n", f);
    swarm_coverage(f, sw);
    fputs("</main></body></html>\n", f);
    return fclose(f);
}

static int write_summary(const char *path, const struct rpt_swarm *sw, const char *html)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "{\"seeds\": %ld, \"failed\": %ld, \"seeds_per_sec\": %.2f, \"report\": ", sw->seeds, sw->failed, sw->seeds_per_sec);
    rpt_json_escaped(f, html);
    fputs(", \"failures\": [", f);
    for (int i = 0; i < sw->nfail; i++) {
        const struct rpt_swarm_failure *x = &sw->fail[i];
        fprintf(f, "%s\n  {\"seed\": \"0x%016llx\", \"invariant\": ", i ? "," : "", (unsigned long long)x->seed);
        rpt_json_escaped(f, x->invariant);
        fputs(", \"message\": ", f);
        rpt_json_escaped(f, x->message);
        fputs(", \"repro\": ", f);
        rpt_json_escaped(f, x->repro);
        fputs(", \"report\": ", f);
        rpt_json_escaped(f, x->page);
        fputs("}", f);
    }
    fputs("\n]}\n", f);
    return fclose(f);
}

int rpt_swarm_write(const char *dir, const struct rpt_swarm *sw, char *err, size_t errlen)
{
    char html[4096], js[4096];
    snprintf(html, sizeof html, "%s/swarm.html", dir);
    snprintf(js, sizeof js, "%s/swarm-summary.json", dir);
    if (write_html(html, sw) != 0) { snprintf(err, errlen, "cannot write %s: %s", html, strerror(errno)); return -1; }
    if (write_summary(js, sw, html) != 0) { snprintf(err, errlen, "cannot write %s: %s", js, strerror(errno)); return -1; }
    return 0;
}

/* ------------------------------------------------ coordinator coverage */

const char *const rpt_cov_state_names[RPT_COV_STATES] = {
    "idle", "held: initial", "held: manual", "held: background", "held: repository", "held: master",
    "gate closed", "cooldown", "offline", "logged out"
};

static struct rpt_cov_dev *cov_dev(struct rpt_cov *c, const char *name)
{
    for (int i = 0; i < c->ndev; i++)
        if (strcmp(c->dev[i].name, name) == 0) return &c->dev[i];
    if (c->ndev == RPT_MAX_LANES) return NULL;
    struct rpt_cov_dev *d = &c->dev[c->ndev++];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->held = -1;
    d->cooldown_until = -1;
    return d;
}

void rpt_cov_reset(struct rpt_cov *c) { c->ndev = 0; }

static int kind_of(const char *text)
{
    const char *p = strstr(text, "kind=");
    if (!p) return -1;
    static const char *const kinds[5] = { "initial", "manual", "background", "repository", "master" };
    for (int i = 0; i < 5; i++)
        if (strncmp(p + 5, kinds[i], strlen(kinds[i])) == 0) return i;
    return -1;
}

/* The state a request met, from what the trace said before its answer. */
static int cov_state(const struct rpt_cov_dev *d, const char *answer, int64_t t)
{
    if (d->held >= 0) return 1 + d->held;
    if (strstr(answer, "reason=logged_out")) return 9;
    if (strstr(answer, "reason=offline")) return 8;
    if (strstr(answer, "reason=gate") || !d->initial_done) return 6;
    if (strstr(answer, "reason=cooldown") || t < d->cooldown_until) return 7;
    return 0;
}

void rpt_cov_line(struct rpt_cov *c, const char *line)
{
    long long sec, ms;
    char actor[64];
    int used = 0;
    if (sscanf(line, "t=%lld.%lld %63s %n", &sec, &ms, actor, &used) < 3 || !used) return;
    const char *text = line + used;
    if (!strcmp(actor, "server") || !strcmp(actor, "world") || !strcmp(actor, "check") || !strcmp(actor, "scenario")
        || !strcmp(actor, "hostile"))
        return;
    struct rpt_cov_dev *d = cov_dev(c, actor);
    if (!d) return;
    int64_t t = sec * 1000 + ms;
    int k = kind_of(text);
    bool acq = strncmp(text, "lock.acquired", 13) == 0;
    if ((acq || strncmp(text, "lock.queued", 11) == 0 || strncmp(text, "lock.rejected", 13) == 0) && k >= 0)
        c->count[cov_state(d, text, t)][k]++;
    if (acq) d->held = k;
    else if (strncmp(text, "lock.released", 13) == 0 || strncmp(text, "lock.force_released", 19) == 0) d->held = -1;
    else if (strncmp(text, "initial.completed", 17) == 0) { d->initial_done = true; d->cooldown_until = t + 5000; }
    else if (strncmp(text, "action crash", 12) == 0 || strncmp(text, "died at", 7) == 0) d->held = -1;
    else if (strncmp(text, "action logout", 13) == 0 || strncmp(text, "action migrate", 14) == 0) d->initial_done = false;
}

void rpt_cov_into(const struct rpt_cov *c, struct rpt_swarm *sw)
{
    static const char *const kinds[5] = { "initial", "manual", "background", "repository", "master" };
    sw->has_cov = true;
    sw->ncov_states = RPT_COV_STATES;
    sw->ncov_kinds = 5;
    for (int s = 0; s < RPT_COV_STATES; s++) {
        snprintf(sw->cov_states[s], sizeof sw->cov_states[s], "%s", rpt_cov_state_names[s]);
        for (int k = 0; k < 5; k++) sw->cov[s][k] = c->count[s][k];
    }
    for (int k = 0; k < 5; k++) snprintf(sw->cov_kinds[k], sizeof sw->cov_kinds[k], "%s", kinds[k]);
}
