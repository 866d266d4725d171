/*
 * report.c — `syncsim report …` (SPEC §3, issue 6):
 *
 *   report failure --seed S [run options] [--out DIR] [--scenario FILE.scn]
 *   report failure FILE.scn [--out DIR]
 *   report swarm DIR [--pages N]
 *   report swarm DIR --seeds N [--from S] [--duration T] [--faults none|swarm] [--pages N]
 *
 * `failure` re-runs the seed (or the scenario) with its full trace, builds
 * the timeline from the trace lines and writes DIR/failure-<id>.html and a
 * JSON summary DIR/failure-<id>.json (seed, invariant, repro, report). A
 * passing run still gets its page (exit 0 either way: the report was
 * written). `swarm` renders DIR/swarm.json (as `syncsim swarm --report DIR`
 * writes it) into DIR/swarm.html and DIR/swarm-summary.json, with a failure
 * page for each of the first N failing seeds (--pages, default 5); with
 * --seeds it runs the seeds itself first (in this process) and also
 * measures invariant checks and the coordinator's coverage matrix.
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
#include "scn_run.h"
#include "world_int.h"   /* check_names: the ids of swarm_result.checks */

#define DEFAULT_OUT "reports/out"

static int mkdirs(const char *dir)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = n >= 0 && n < SCN_MAX_INPUT ? malloc((size_t)n + 1) : NULL;
    if (s) s[fread(s, 1, (size_t)n, f)] = 0;
    fclose(f);
    return s;
}

static int finish_page(const char *dir, const char *id, const struct rpt_failure *fl,
                       const struct rpt_timeline *tl, char *page, size_t pagelen)
{
    char html[4096], json[4096], err[512];
    if (mkdirs(dir) != 0) { fprintf(stderr, "syncsim: cannot create %s: %s\n", dir, strerror(errno)); return 2; }
    snprintf(html, sizeof html, "%s/failure-%s.html", dir, id);
    snprintf(json, sizeof json, "%s/failure-%s.json", dir, id);
    if (rpt_write_failure(html, fl, tl, err, sizeof err) != 0 || rpt_write_failure_json(json, fl, html, err, sizeof err) != 0) {
        fprintf(stderr, "syncsim: %s\n", err);
        return 2;
    }
    if (page) snprintf(page, pagelen, "failure-%s.html", id);
    printf("report: %s\nsummary: %s\n", html, json);
    return 0;
}

/* Parses run options (as `syncsim run`) from argv[i..]: --devices --users
 * --duration --faults --config. Unknown options are left to the caller:
 * returns the index of the first one it did not take, or -1. */
static int run_opt(int argc, char **argv, int i, struct swarm_opts *o)
{
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    long n;
    int64_t ms;
    if (!v) return -1;
    if (!strcmp(a, "--devices") && !cli_parse_int(v, 1, 4, &n)) o->devices = (int)n;
    else if (!strcmp(a, "--users") && !cli_parse_int(v, 1, 3, &n)) o->users = (int)n;
    else if (!strcmp(a, "--duration") && !duration_parse(v, &ms) && ms > 0) o->duration_ms = ms;
    else if (!strcmp(a, "--faults") && (!strcmp(v, "none") || !strcmp(v, "swarm"))) o->faults = !strcmp(v, "swarm");
    else if (!strcmp(a, "--config") && o->nconfig < 16) o->config[o->nconfig++] = v;
    else return -1;
    return i + 2;
}

/* The report of one seed into dir; page gets the page's file name. */
static int seed_report(uint64_t seed, const struct swarm_opts *o0, const char *dir, const char *scn_file,
                       char *page, size_t pagelen)
{
    struct swarm_opts o = *o0;
    FILE *tf = tmpfile();
    struct rpt_timeline *tl = rpt_tl_new();
    if (!tf || !tl) { fprintf(stderr, "syncsim: out of memory\n"); if (tf) fclose(tf); rpt_tl_free(tl); return 2; }
    o.trace = tf;
    struct swarm_result r;
    char err[512];
    if (swarm_run(seed, &o, &r, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "syncsim: %s\n", err);
        fclose(tf);
        rpt_tl_free(tl);
        return 2;
    }
    rewind(tf);
    rpt_tl_read(tl, tf);
    fclose(tf);
    char title[64], id[40], repro[1100], replay[1200], extra[600];
    snprintf(title, sizeof title, "seed 0x%016llx", (unsigned long long)seed);
    snprintf(id, sizeof id, "0x%016llx", (unsigned long long)seed);
    snprintf(repro, sizeof repro, "%s", cli_repro(seed, &o));
    snprintf(replay, sizeof replay, "%s --trace trace.txt   # the full trace to a file", repro);
    size_t n = 0;
    n += (size_t)snprintf(extra, sizeof extra, "%d device(s); faults:", rpt_tl_lanes(tl));
    for (int k = 0; k < SWARM_FAULT_KINDS && n < sizeof extra; k++)
        if (r.fault_mask & (1u << k)) n += (size_t)snprintf(extra + n, sizeof extra - n, " %s", swarm_fault_names[k]);
    if (!r.fault_mask && n < sizeof extra) snprintf(extra + n, sizeof extra - n, " none");
    char *scn_text = scn_file ? read_text(scn_file) : NULL;
    struct rpt_failure fl = { .title = title, .failed = !r.ok, .invariant = r.invariant, .message = r.failure,
                              .repro = repro, .replay = replay, .seed = seed, .hash = r.hash, .events = r.events,
                              .sim_ms = r.sim_ms, .extra = extra, .scenario = scn_text,
                              .scenario_note = scn_text ? "The shrunk scenario that fails the same way:" : NULL };
    int rc = finish_page(dir, id, &fl, tl, page, pagelen);
    free(scn_text);
    rpt_tl_free(tl);
    return rc;
}


static int scenario_report(const char *file, const char *dir)
{
    struct scn s;
    struct scn_error e;
    if (scn_parse_file(file, &s, &e) != 0) { fprintf(stderr, "%s\n", e.msg); return 2; }
    FILE *tf = tmpfile();
    struct rpt_timeline *tl = rpt_tl_new();
    struct scn_outcome *out = calloc(1, sizeof *out);
    char *text = read_text(file);
    if (!tf || !tl || !out) { fprintf(stderr, "syncsim: out of memory\n"); scn_free(&s); return 2; }
    scn_run(&s, file, tf, out);
    rewind(tf);
    rpt_tl_read(tl, tf);
    fclose(tf);
    char inv[48], id[200], repro[4200];
    if (out->passed) inv[0] = 0;
    else if (out->line > 0) snprintf(inv, sizeof inv, "EXPECT");
    else if (!rpt_invariant_of(out->message, inv, sizeof inv)[0]) snprintf(inv, sizeof inv, "SCENARIO");
    if (!out->passed && !rpt_tl_failed(tl, NULL, NULL)) rpt_tl_set_failure(tl, -1, out->message);
    snprintf(repro, sizeof repro, "build/syncsim scenario %s", file);
    char title[300];
    snprintf(title, sizeof title, "%s", s.name && s.name[0] ? s.name : file);
    struct rpt_failure fl = { .title = title, .failed = !out->passed, .invariant = inv, .message = out->message,
                              .repro = repro, .replay = NULL, .seed = s.seed, .hash = out->hash, .events = out->events,
                              .sim_ms = out->sim_ms, .scenario = text, .scenario_note = file };
    char rr[4300];
    snprintf(rr, sizeof rr, "build/syncsim scenario %s -v   # with the full trace", file);
    fl.replay = rr;
    int rc = finish_page(dir, cli_base_noext(file, id, sizeof id), &fl, tl, NULL, 0);
    free(text);
    free(out);
    rpt_tl_free(tl);
    scn_free(&s);
    return rc;
}

/* Used by `syncsim shrink --report DIR` (cli/shrink.c). */
int cli_report_scenario(const char *file, const char *dir);
int cli_report_scenario(const char *file, const char *dir) { return scenario_report(file, dir); }

static int cmd_failure(int argc, char **argv)
{
    struct swarm_opts o;
    swarm_opts_default(&o);
    const char *out = DEFAULT_OUT, *file = NULL, *scn = NULL;
    uint64_t seed = 0;
    bool have_seed = false;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int j;
        if (!strcmp(a, "--seed") && v) { if (cli_parse_seed(v, &seed)) return cli_usage_error("--seed: expected a seed, found '%s'", v); have_seed = true; i++; }
        else if (!strcmp(a, "--out") && v) { out = v; i++; }
        else if (!strcmp(a, "--scenario") && v) { scn = v; i++; }
        else if ((j = run_opt(argc, argv, i, &o)) > 0) i = j - 1;
        else if (a[0] != '-' && !file) file = a;
        else return cli_usage_error("report failure: unexpected '%s'", a);
    }
    if (have_seed == !!file) return cli_usage_error("report failure: expected --seed S or a FILE.scn%s", "");
    return have_seed ? seed_report(seed, &o, out, scn, NULL, 0) : scenario_report(file, out);
}

/* Options of a repro command ("build/syncsim replay 0x… --devices 2 …"). */
static void opts_of_repro(const char *repro, struct swarm_opts *o, char store[16][128])
{
    swarm_opts_default(o);
    char buf[512], *argv[40];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", repro);
    for (char *tok = strtok(buf, " "); tok && argc < 40; tok = strtok(NULL, " ")) argv[argc++] = tok;
    for (int i = 3; i < argc; i++) {
        int j = run_opt(argc, argv, i, o);
        if (j < 0) continue;
        i = j - 1;
    }
    for (int i = 0; i < o->nconfig; i++) {   /* argv points into buf: keep copies */
        snprintf(store[i], 128, "%s", o->config[i]);
        o->config[i] = store[i];
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs seeds in this process: checks, fault kinds, failures and coverage. */
static int run_seeds(struct rpt_swarm *sw, long seeds, uint64_t from, const struct swarm_opts *o0)
{
    struct rpt_cov *cov = calloc(1, sizeof *cov);
    sw->fail = calloc(1000, sizeof *sw->fail);
    if (!cov || !sw->fail) { free(cov); return -1; }
    double t0 = now_s(), sim = 0;
    unsigned long long checks[CK_COUNT] = {0};
    long hist[SWARM_FAULT_KINDS] = {0};
    char line[2048];
    for (long i = 0; i < seeds; i++) {
        struct swarm_opts o = *o0;
        FILE *tf = tmpfile();
        if (!tf) break;
        o.trace = tf;
        struct swarm_result r;
        char err[512];
        uint64_t seed = from + (uint64_t)i;
        if (swarm_run(seed, &o, &r, NULL, err, sizeof err) != 0) { fclose(tf); continue; }
        rewind(tf);
        rpt_cov_reset(cov);
        while (fgets(line, sizeof line, tf)) rpt_cov_line(cov, line);
        fclose(tf);
        sw->seeds++;
        sim += (double)r.sim_ms;
        for (int k = 0; k < CK_COUNT; k++) checks[k] += r.checks[k];
        for (int k = 0; k < SWARM_FAULT_KINDS; k++) if (r.fault_mask & (1u << k)) hist[k]++;
        if (!r.ok && sw->nfail < 1000) {
            struct rpt_swarm_failure *x = &sw->fail[sw->nfail++];
            x->seed = seed;
            snprintf(x->invariant, sizeof x->invariant, "%s", r.invariant);
            snprintf(x->message, sizeof x->message, "%s", r.failure);
            snprintf(x->repro, sizeof x->repro, "%s", cli_repro(seed, o0));
            sw->failed++;
        }
    }
    sw->from = from;
    sw->wall_s = now_s() - t0;
    sw->seeds_per_sec = (double)sw->seeds / (sw->wall_s + 1e-9);
    sw->sim_wall_ratio = sim / 1000.0 / (sw->wall_s + 1e-9);
    sw->nfaults = SWARM_FAULT_KINDS;
    for (int k = 0; k < SWARM_FAULT_KINDS; k++) { snprintf(sw->fault_names[k], 32, "%s", swarm_fault_names[k]); sw->fault_counts[k] = hist[k]; }
    sw->nchecks = CK_COUNT;
    for (int k = 0; k < CK_COUNT; k++) { snprintf(sw->check_names[k], 32, "%s", check_names[k]); sw->check_counts[k] = checks[k]; }
    rpt_cov_into(cov, sw);
    free(cov);
    return 0;
}

/* swarm.json in the format of cli/swarm_many.c, plus checks. */
static void write_swarm_json(const char *dir, const struct rpt_swarm *sw)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/swarm.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "{\n  \"seeds\": %ld,\n  \"failed\": %ld,\n  \"from\": %llu,\n  \"wall_s\": %.3f,\n  \"seeds_per_sec\": %.2f,\n"
               "  \"sim_wall_ratio\": %.0f,\n  \"fault_kinds\": {", sw->seeds, sw->failed, (unsigned long long)sw->from,
            sw->wall_s, sw->seeds_per_sec, sw->sim_wall_ratio);
    for (int k = 0; k < sw->nfaults; k++) fprintf(f, "%s\"%s\": %ld", k ? ", " : "", sw->fault_names[k], sw->fault_counts[k]);
    fputs("},\n  \"checks\": {", f);
    for (int k = 0; k < sw->nchecks; k++) fprintf(f, "%s\"%s\": %llu", k ? ", " : "", sw->check_names[k], sw->check_counts[k]);
    fputs("},\n  \"failures\": [", f);
    for (int i = 0; i < sw->nfail; i++) {
        char line[2048];
        snprintf(line, sizeof line, "FAIL seed=0x%016llx %s: %s\n  repro: %s", (unsigned long long)sw->fail[i].seed,
                 sw->fail[i].invariant, sw->fail[i].message, sw->fail[i].repro);
        fputs(i ? ",\n    " : "\n    ", f);
        rpt_json_escaped(f, line);
    }
    fputs("\n  ]\n}\n", f);
    fclose(f);
}

static int cmd_swarm(int argc, char **argv)
{
    if (argc < 4 || argv[3][0] == '-') return cli_usage_error("report swarm: expected a DIR, found '%s'", argc > 3 ? argv[3] : "");
    const char *dir = argv[3];
    long pages = 5, seeds = 0;
    uint64_t from = 1;
    struct swarm_opts o;
    swarm_opts_default(&o);
    for (int i = 4; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int j;
        if (!strcmp(a, "--pages") && v) { if (cli_parse_int(v, 0, 1000, &pages)) return cli_usage_error("--pages: expected 0..1000, found '%s'", v); i++; }
        else if (!strcmp(a, "--seeds") && v) { if (cli_parse_int(v, 1, 10000000, &seeds)) return cli_usage_error("--seeds: expected a count, found '%s'", v); i++; }
        else if (!strcmp(a, "--from") && v) { if (cli_parse_seed(v, &from)) return cli_usage_error("--from: expected a seed, found '%s'", v); i++; }
        else if ((j = run_opt(argc, argv, i, &o)) > 0) i = j - 1;
        else return cli_usage_error("report swarm: unexpected '%s'", a);
    }
    struct rpt_swarm sw;
    char err[512];
    if (seeds > 0) {
        memset(&sw, 0, sizeof sw);
        if (mkdirs(dir) != 0) { fprintf(stderr, "syncsim: cannot create %s\n", dir); return 2; }
        if (run_seeds(&sw, seeds, from, &o) != 0) { fprintf(stderr, "syncsim: out of memory\n"); return 2; }
        write_swarm_json(dir, &sw);
    } else if (rpt_swarm_read(dir, &sw, err, sizeof err) != 0) {
        fprintf(stderr, "syncsim: %s\n", err);
        return 2;
    }
    for (int i = 0; i < sw.nfail && i < pages; i++) {
        struct swarm_opts fo;
        char store[16][128];
        opts_of_repro(sw.fail[i].repro, &fo, store);
        seed_report(sw.fail[i].seed, &fo, dir, NULL, sw.fail[i].page, sizeof sw.fail[i].page);
    }
    int rc = rpt_swarm_write(dir, &sw, err, sizeof err);
    if (rc != 0) fprintf(stderr, "syncsim: %s\n", err);
    else printf("report: %s/swarm.html\nsummary: %s/swarm-summary.json\n", dir, dir);
    rpt_swarm_free(&sw);
    return rc ? 2 : 0;
}

int cli_report(int argc, char **argv)
{
    if (argc < 3) return cli_usage_error("report: expected failure or swarm%s", "");
    if (!strcmp(argv[2], "failure")) return cmd_failure(argc, argv);
    if (!strcmp(argv[2], "swarm")) return cmd_swarm(argc, argv);
    return cli_usage_error("report: expected failure or swarm, found '%s'", argv[2]);
}
