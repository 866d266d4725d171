/*
 * shrink.c — `syncsim shrink FILE.scn | SEED [run options] [--out FILE]
 * [--budget T] [--report DIR]` (SPEC §3, issue 6).
 *
 * FILE.scn: delta-debugs the scenario (sim/shrink.h) while it fails the same
 * way and writes the smallest one with a header comment (original, the
 * failure). SEED: turns the seed's run into scenario forms that fail with
 * the seed's invariant (sim/shrink_seed.c), shrinks them one after another
 * until one has at most SHRINK_GOAL statements, and writes the smallest
 * (the form it came from next to it as *.full.scn). The written file is
 * run once more as `syncsim scenario` would. The time budget (default 30 s
 * of real time) lives here: cli/ owns the real clock. --report DIR also
 * renders the shrunk scenario's failure page.
 *
 * Exit: 0 shrunk (written, and the written file fails the same way), 1
 * nothing to shrink (the input passes, or no scenario form of the seed
 * fails the same way), 2 bad usage or input. -v prints the progress.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "report.h"
#include "scn.h"
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

/* Writes the shrunk scenario with its header comment, then runs the
 * written file as `syncsim scenario` would: it must fail the same way. */
static int write_result(const char *outpath, const char *origin, const char *out, const struct shrink_sig *sig,
                        int before, int after, int runs, double t0, bool stopped, const char *report_dir)
{
    char head[2600];
    snprintf(head, sizeof head,
             "# Shrunk by `syncsim shrink` from %s (%d statements -> %d, %d runs, %.1f s%s).\n"
             "# Fails the same way as the original: %s %s\n# Original message: %.1200s\n",
             origin, before, after, runs, now_s() - t0, stopped ? ", budget ran out" : "",
             sig->kind, sig->id, sig->message);
    for (char *p = head; *p; p++) if (*p == '\n' && p[1] && p[1] != '#') *p = ' ';
    ensure_dir_of(outpath);
    if (write_file(outpath, head, out) != 0) return 2;
    char err[256] = "";
    char *whole = rpt_read_file(outpath, SCN_MAX_INPUT, err, sizeof err);
    struct shrink_sig again;
    bool same = whole && shrink_signature(outpath, whole, &again, NULL, 0) == 0 && shrink_same(&again, sig);
    free(whole);
    printf("shrunk: %d -> %d statements in %d runs (%.1f s)%s\nfails: %s %s%s\nwritten: %s\nrun it: build/syncsim scenario %s\n",
           before, after, runs, now_s() - t0, stopped ? " (budget ran out)" : "", sig->kind, sig->id,
           same ? "" : " (NOT reproduced by the written file)", outpath, outpath);
    if (!same) return 1;
    return report_dir ? cli_report_scenario(outpath, report_dir) : 0;
}

static int shrink_file(const char *file, const char *text, const char *outpath, struct budget *b, double t0,
                       FILE *log, const char *report_dir)
{
    struct shrink_opts o = { .stop = over, .stop_arg = b, .log = log };
    struct shrink_sig sig;
    struct shrink_stats st;
    char err[1024], *out = NULL;
    if (shrink_scenario(file, text, &o, &out, &sig, &st, err, sizeof err) != 0) {
        fprintf(stderr, "syncsim: %s\n", err);
        return strstr(err, "passes") ? 1 : 2;
    }
    int rc = write_result(outpath, file, out, &sig, st.stmts_before, st.stmts_after, st.runs, t0, st.stopped, report_dir);
    free(out);
    return rc;
}

/* A seed: its scenario forms that fail as it did, one after another
 * (sim/shrink_seed.c), each shrunk, until one is at most SHRINK_GOAL
 * statements or the budget is gone; the smallest is written, and the form
 * it came from next to it as *.full.scn. */
static int shrink_seed_cli(uint64_t seed, const struct swarm_opts *so, const char *outpath, struct budget *b,
                           double t0, FILE *log, const char *report_dir)
{
    char err[1024], full[4096], origin[1400];
    struct shrink_sig want;
    struct shrink_seed *p;
    if (shrink_seed_open(seed, so, &p, &want, err, sizeof err) != 0) {
        fprintf(stderr, "syncsim: %s\n", err);
        return strstr(err, "passes") ? 1 : 2;
    }
    snprintf(full, sizeof full, "%.*s.full.scn", (int)(strlen(outpath) > 4 ? strlen(outpath) - 4 : strlen(outpath)), outpath);
    struct shrink_opts po = { .stop = over, .stop_arg = b, .log = log };
    char *best = NULL, *best_full = NULL;
    int best_variant = -1, runs = 0, forms = 0;
    struct shrink_stats best_st = {0};
    bool stopped = false;
    for (;;) {
        char *text = NULL;
        int variant;
        if (shrink_seed_next(p, &po, &text, &variant) != 0) break;
        forms++;
        struct shrink_opts o = { .stop = over, .stop_arg = b, .log = log, .want = &want };
        struct shrink_sig sig;
        struct shrink_stats st;
        char *out = NULL;
        if (shrink_scenario(full, text, &o, &out, &sig, &st, err, sizeof err) != 0) {
            fprintf(stderr, "syncsim: %s\n", err);
            free(text);
            continue;
        }
        runs += st.runs;
        stopped = st.stopped;
        if (log) fprintf(log, "shrink: %s form: %d -> %d statements\n", shrink_seed_variant_name(variant), st.stmts_before, st.stmts_after);
        if (!best || st.stmts_after < best_st.stmts_after) {
            free(best);
            free(best_full);
            best = out;
            best_full = text;
            best_st = st;
            best_variant = variant;
        } else {
            free(out);
            free(text);
        }
        if (best_st.stmts_after <= SHRINK_GOAL || over(b)) break;
    }
    ensure_dir_of(full);
    if (!best) {   /* no form fails as the seed did: the explicit one, for the record */
        char *text = shrink_seed_render(p, SHRINK_SEED_EXPLICIT);
        if (text && write_file(full, "", text) == 0)
            printf("seed as a scenario: %s (%d statements; it does not fail as the seed did)\n", full, shrink_count_stmts(text));
        free(text);
        shrink_seed_close(p);
        fprintf(stderr, "syncsim: no scenario form of seed 0x%016llx fails as the seed does (%s)%s\n",
                (unsigned long long)seed, want.id, over(b) ? " within the budget" : "");
        return 1;
    }
    shrink_seed_close(p);
    int rc = write_file(full, "", best_full) == 0 ? 0 : 2;
    printf("seed as a scenario: %s (%d statements, %s form; %d form%s shrunk)\n", full, best_st.stmts_before,
           shrink_seed_variant_name(best_variant), forms, forms == 1 ? "" : "s");
    snprintf(origin, sizeof origin, "seed 0x%016llx (%s; %s form)", (unsigned long long)seed, cli_repro(seed, so),
             shrink_seed_variant_name(best_variant));
    if (rc == 0)
        rc = write_result(outpath, origin, best, &want, best_st.stmts_before, best_st.stmts_after, runs, t0,
                          stopped || over(b), report_dir);
    free(best);
    free(best_full);
    return rc;
}

int cli_shrink(int argc, char **argv)
{
    if (argc < 3) return cli_usage_error("shrink: expected a seed or a FILE.scn%s", "");
    const char *what = argv[2], *outpath = NULL, *report = NULL;
    double budget = 30;
    bool verbose = false;
    struct swarm_opts so;
    swarm_opts_default(&so);
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        int64_t ms;
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) { verbose = true; continue; }
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
    double t0 = now_s();
    struct budget b = { t0 + budget };
    FILE *log = verbose ? stderr : NULL;
    size_t wl = strlen(what);
    if (wl > 4 && !strcmp(what + wl - 4, ".scn")) {
        char err[256] = "";
        char *text = rpt_read_file(what, SCN_MAX_INPUT, err, sizeof err);
        if (!text) { fprintf(stderr, "%s:0:0: expected a readable scenario file, found: %s\n", what, err); return 2; }
        if (!outpath) { snprintf(path, sizeof path, "%s/%s.shrunk.scn", DEFAULT_DIR, cli_base_noext(what, name, sizeof name)); outpath = path; }
        int rc = shrink_file(what, text, outpath, &b, t0, log, report);
        free(text);
        return rc;
    }
    if (cli_parse_seed(what, &seed)) return cli_usage_error("shrink: expected a seed or a FILE.scn, found '%s'", what);
    if (!outpath) { snprintf(path, sizeof path, "%s/seed-0x%016llx.scn", DEFAULT_DIR, (unsigned long long)seed); outpath = path; }
    return shrink_seed_cli(seed, &so, outpath, &b, t0, log, report);
}
