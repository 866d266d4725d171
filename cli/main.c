/*
 * main.c — the `syncsim` command line (SPEC §3 "CLI").
 *
 * cli/ is the driver layer around the deterministic simulator: the only
 * place that reads the real clock (progress lines, time budgets) or forks
 * worker processes. Nothing here feeds the simulated path.
 *
 * Exit codes: 0 all good, 1 a check failed, 2 bad usage or bad input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "live/scn_live.h"
#include "scn_run.h"
#include "swarm.h"

static const char usage[] =
    "usage: syncsim COMMAND [options]\n"
    "  run --seed S [--devices N] [--users N] [--duration T] [--faults none|swarm]\n"
    "      [--config key=value]... [--trace FILE] [--verbose]   one seeded run\n"
    "  replay S [--trace FILE] [--verbose]                       the same run, with its trace\n"
    "  swarm --seeds N [--from S] [-j J] [--time-budget T] [--shard i/n] [--report DIR]\n"
    "      [--duration T] [--faults none|swarm] [--config key=value]...\n"
    "  scenario FILE... [--junit FILE] [--report DIR] [-v] [--live]  scripted scenarios\n"
    "  determinism S                                             run twice, compare trace hashes\n"
    "  shrink S | shrink FILE.scn                                minimise a failing run into a scenario\n"
    "  report …                                                  HTML/JSON/JUnit reports\n"
    "  live server|device …                                      the model as real processes\n"
    "Seeds are decimal or 0x-hex; durations like 90s, 5m, 1h.\n";

int cli_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "syncsim: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

const char *cli_base_noext(const char *path, char *buf, size_t n)
{
    const char *b = strrchr(path, '/');
    snprintf(buf, n, "%s", b ? b + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
    return buf;
}

int cli_parse_seed(const char *s, uint64_t *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end || s[0] == '-') return -1;
    *out = v;
    return 0;
}

int cli_parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Options shared by run and replay. */
static int parse_run_opts(int argc, char **argv, int i, struct swarm_opts *o, const char **trace,
                          bool *verbose)
{
    for (; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        int64_t ms;
        if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) { *verbose = true; continue; }
        if (!v) return cli_usage_error("option %s needs a value", a);
        i++;
        if (strcmp(a, "--trace") == 0) *trace = v;
        else if (strcmp(a, "--dump-db") == 0) {
            if (mkdir(v, 0777) != 0 && errno != EEXIST) return cli_usage_error("--dump-db: cannot create %s", v);
            o->dump_db = v;
        }
        else if (strcmp(a, "--devices") == 0) {
            if (cli_parse_int(v, 1, 4, &n)) return cli_usage_error("--devices: expected 1..4, found '%s'", v);
            o->devices = (int)n;
        } else if (strcmp(a, "--users") == 0) {
            if (cli_parse_int(v, 1, 3, &n)) return cli_usage_error("--users: expected 1..3, found '%s'", v);
            o->users = (int)n;
        } else if (strcmp(a, "--duration") == 0) {
            if (duration_parse(v, &ms) || ms <= 0) return cli_usage_error("--duration: expected a duration like 10m, found '%s'", v);
            o->duration_ms = ms;
        } else if (strcmp(a, "--faults") == 0) {
            if (strcmp(v, "none") && strcmp(v, "swarm")) return cli_usage_error("--faults: expected none or swarm, found '%s'", v);
            o->faults = strcmp(v, "swarm") == 0;
        } else if (strcmp(a, "--config") == 0) {
            if (o->nconfig >= 16) return cli_usage_error("too many --config options%s", "");
            o->config[o->nconfig++] = v;
        } else {
            return cli_usage_error("unknown option %s", a);
        }
    }
    return 0;
}

static void print_result(const struct swarm_result *r, const struct swarm_opts *o)
{
    if (!r->ok) {
        printf("FAIL %s\n  %s\n", r->invariant, r->failure);
        printf("  repro: %s\n", cli_repro(r->seed, o));
    }
    printf("seed=0x%016llx events=%llu hash=0x%016llx result=%s\n", (unsigned long long)r->seed,
           (unsigned long long)r->events, (unsigned long long)r->hash, r->ok ? "ok" : "FAIL");
}

/* `run --seed S …` and `replay S …`. */
static int cmd_run(int argc, char **argv, bool replay)
{
    struct swarm_opts o;
    swarm_opts_default(&o);
    uint64_t seed = 0;
    int i = 2;
    if (replay) {
        if (argc < 3 || cli_parse_seed(argv[2], &seed)) return cli_usage_error("replay: expected a seed, found '%s'", argc > 2 ? argv[2] : "");
        i = 3;
    } else {
        if (argc < 4 || strcmp(argv[2], "--seed") || cli_parse_seed(argv[3], &seed))
            return cli_usage_error("run: expected --seed S, found '%s'", argc > 3 ? argv[3] : "");
        i = 4;
    }
    const char *trace = NULL;
    bool verbose = replay;
    int rc = parse_run_opts(argc, argv, i, &o, &trace, &verbose);
    if (rc) return rc;
    FILE *tf = NULL;
    if (trace && !(tf = fopen(trace, "w"))) return cli_usage_error("cannot write trace file %s", trace);
    o.trace = tf ? tf : verbose ? stdout : NULL;
    struct swarm_result r;
    char err[512];
    rc = swarm_run(seed, &o, &r, stdout, err, sizeof err);
    if (tf) fclose(tf);
    if (rc) { fprintf(stderr, "syncsim: %s\n", err); return 2; }
    print_result(&r, &o);
    return r.ok ? 0 : 1;
}

static int cmd_determinism(int argc, char **argv)
{
    uint64_t seed;
    if (argc != 3 || cli_parse_seed(argv[2], &seed)) return cli_usage_error("determinism: expected a seed, found '%s'", argc > 2 ? argv[2] : "");
    struct swarm_opts o;
    swarm_opts_default(&o);
    return cli_determinism(seed, &o);
}

static int cmd_scenario(int argc, char **argv)
{
    struct scn_run_opts o = {0};
    bool live = false;   /* --live: sim vs live cross-check (sim/live/scn_live.h) */
    char **files = calloc((size_t)argc, sizeof *files);
    int n = 0;
    if (!files) return 2;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) o.verbose = true;
        else if (strcmp(a, "--live") == 0) live = true;
        else if (strcmp(a, "--dump-db") == 0 && i + 1 < argc) o.dump_db = argv[++i];
        else if (strcmp(a, "--junit") == 0 || strcmp(a, "--report") == 0) {
            if (i + 1 >= argc) { free(files); return cli_usage_error("option %s needs a value", a); }
            if (a[2] == 'j') o.junit = argv[++i]; else o.report_dir = argv[++i];
        } else if (a[0] == '-') { free(files); return cli_usage_error("unknown option %s", a); }
        else files[n++] = argv[i];
    }
    if (n == 0) { free(files); return cli_usage_error("scenario: expected at least one FILE%s", ""); }
    int rc = live ? scn_live_files(files, n, o.verbose) : scn_run_files(files, n, &o);
    free(files);
    return rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    world_sqlite_single_thread();
    if (argc < 2) return cli_usage_error("expected a command%s", "");
    const char *c = argv[1];
    if (strcmp(c, "run") == 0) return cmd_run(argc, argv, false);
    if (strcmp(c, "replay") == 0) return cmd_run(argc, argv, true);
    if (strcmp(c, "swarm") == 0) return cli_swarm(argc, argv);
    if (strcmp(c, "scenario") == 0) return cmd_scenario(argc, argv);
    if (strcmp(c, "determinism") == 0) return cmd_determinism(argc, argv);
    if (strcmp(c, "live") == 0) return cli_live(argc, argv);
    if (strcmp(c, "shrink") == 0) return cli_shrink(argc, argv);
    if (strcmp(c, "report") == 0) return cli_report(argc, argv);
    if (strcmp(c, "-h") == 0 || strcmp(c, "--help") == 0 || strcmp(c, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    return cli_usage_error("unknown command '%s'", c);
}
