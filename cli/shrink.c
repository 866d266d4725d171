/*
 * shrink.c — `syncsim shrink FILE.scn | SEED [run options] [--out FILE]
 * [--budget T] [--report DIR]` (SPEC §3, issue 6).
 *
 * FILE.scn: delta-debugs the scenario (sim/shrink.h) while it fails the same
 * way and writes the smallest one with a header comment (original, the
 * failure). SEED: turns the seed's run into an explicit scenario first
 * (written next to the result as *.full.scn), checks that it fails the same
 * way, then shrinks it. The time budget (default 30 s of real time) lives
 * here: cli/ owns the real clock. --report DIR also renders the shrunk
 * scenario's failure page.
 *
 * Exit: 0 shrunk (written), 1 nothing to shrink (the input passes, or the
 * seed's scenario does not fail the same way), 2 bad usage or input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "report.h"
#include "shrink.h"

#define DEFAULT_DIR "reports/out"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct budget { double deadline; };
static bool over(void *arg) { return now_s() > ((struct budget *)arg)->deadline; }

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    while (s) {
        size_t r = fread(s + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
        if (n + 1 == cap) { char *t = realloc(s, cap *= 2); if (!t) { free(s); s = NULL; } else s = t; }
    }
    fclose(f);
    if (s) s[n] = 0;
    return s;
}

static int write_file(const char *path, const char *head, const char *body)
{
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "syncsim: cannot write %s: %s\n", path, strerror(errno)); return -1; }
    fputs(head, f);
    fputs(body, f);
    return fclose(f);
}

static void ensure_dir_of(const char *path)
{
    char d[4096];
    snprintf(d, sizeof d, "%s", path);
    for (char *p = d + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(d, 0777);
        *p = '/';
    }
}

/* cli/report.c: the failure page of a scenario file. */
int cli_report_scenario(const char *file, const char *dir);

static int shrink_text(const char *file, const char *text, const char *origin, const char *outpath,
                       double budget_s, const char *report_dir)
{
    struct budget b = { now_s() + budget_s };
    struct shrink_opts o = { .stop = over, .stop_arg = &b, .log = NULL };
    struct shrink_sig sig;
    struct shrink_stats st;
    char err[1024], *out = NULL;
    double t0 = now_s();
    if (shrink_scenario(file, text, &o, &out, &sig, &st, err, sizeof err) != 0) {
        fprintf(stderr, "syncsim: %s\n", err);
        return strstr(err, "passes") ? 1 : 2;
    }
    char head[2600];
    snprintf(head, sizeof head,
             "# Shrunk by `syncsim shrink` from %s (%d statements -> %d, %d runs, %.1f s%s).\n"
             "# Fails the same way as the original: %s %s\n# Original message: %.1200s\n",
             origin, st.stmts_before, st.stmts_after, st.runs, now_s() - t0, st.stopped ? ", budget ran out" : "",
             sig.kind, sig.id, sig.message);
    for (char *p = head; *p; p++) if (*p == '\n' && p[1] && p[1] != '#') *p = ' ';
    ensure_dir_of(outpath);
    int rc = write_file(outpath, head, out) == 0 ? 0 : 2;
    free(out);
    if (rc == 0) {
        printf("shrunk: %d -> %d statements in %d runs (%.1f s)%s\nfails: %s %s\nwritten: %s\nrun it: build/syncsim scenario %s\n",
               st.stmts_before, st.stmts_after, st.runs, now_s() - t0, st.stopped ? " (budget ran out)" : "",
               sig.kind, sig.id, outpath, outpath);
        if (report_dir) rc = cli_report_scenario(outpath, report_dir);
    }
    return rc;
}


int cli_shrink(int argc, char **argv)
{
    if (argc < 3) return cli_usage_error("shrink: expected a seed or a FILE.scn%s", "");
    const char *what = argv[2], *outpath = NULL, *report = NULL;
    double budget = 30;
    struct swarm_opts so;
    swarm_opts_default(&so);
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        int64_t ms;
        if (!v) return cli_usage_error("option %s needs a value", a);
        i++;
        if (!strcmp(a, "--out")) outpath = v;
        else if (!strcmp(a, "--report")) report = v;
        else if (!strcmp(a, "--budget")) { if (duration_parse(v, &ms) || ms <= 0) return cli_usage_error("--budget: expected a duration like 30s, found '%s'", v); budget = (double)ms / 1000; }
        else if (!strcmp(a, "--devices") && !cli_parse_int(v, 1, 4, &n)) so.devices = (int)n;
        else if (!strcmp(a, "--users") && !cli_parse_int(v, 1, 3, &n)) so.users = (int)n;
        else if (!strcmp(a, "--duration") && !duration_parse(v, &ms) && ms > 0) so.duration_ms = ms;
        else if (!strcmp(a, "--faults") && (!strcmp(v, "none") || !strcmp(v, "swarm"))) so.faults = !strcmp(v, "swarm");
        else if (!strcmp(a, "--config") && so.nconfig < 16) so.config[so.nconfig++] = v;
        else return cli_usage_error("shrink: unexpected option %s", a);
    }
    char path[4096], name[256];
    uint64_t seed;
    size_t wl = strlen(what);
    if (wl > 4 && !strcmp(what + wl - 4, ".scn")) {
        char *text = read_file(what);
        if (!text) { fprintf(stderr, "%s:0:0: expected a readable scenario file, found %s\n", what, strerror(errno)); return 2; }
        if (!outpath) { snprintf(path, sizeof path, "%s/%s.shrunk.scn", DEFAULT_DIR, cli_base_noext(what, name, sizeof name)); outpath = path; }
        int rc = shrink_text(what, text, what, outpath, budget, report);
        free(text);
        return rc;
    }
    if (cli_parse_seed(what, &seed)) return cli_usage_error("shrink: expected a seed or a FILE.scn, found '%s'", what);
    char *text = NULL, err[1024], full[4096], origin[1200];
    if (shrink_seed_scenario(seed, &so, &text, err, sizeof err) != 0) { fprintf(stderr, "syncsim: %s\n", err); return 2; }
    if (!outpath) { snprintf(path, sizeof path, "%s/seed-0x%016llx.scn", DEFAULT_DIR, (unsigned long long)seed); outpath = path; }
    snprintf(full, sizeof full, "%.*s.full.scn", (int)(strlen(outpath) > 4 ? strlen(outpath) - 4 : strlen(outpath)), outpath);
    ensure_dir_of(full);
    if (write_file(full, "", text) != 0) { free(text); return 2; }
    printf("seed as a scenario: %s (%d statements)\n", full, shrink_count_stmts(text));
    snprintf(origin, sizeof origin, "seed 0x%016llx (%s)", (unsigned long long)seed, cli_repro(seed, &so));
    int rc = shrink_text(full, text, origin, outpath, budget, report);
    free(text);
    return rc;
}
