/*
 * swarm_many.c — `syncsim swarm` and `syncsim determinism`: seeds fanned
 * out to worker processes (fork; one pipe each), a progress line on a TTY,
 * failing seeds listed with their repro commands. The real clock is read
 * here only, for the progress rate and --time-budget.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"
#include "world_int.h"   /* check_names: the ids of swarm_result.checks */

#define MAX_WORKERS 64

const char *cli_repro(uint64_t seed, const struct swarm_opts *o)
{
    static char buf[1024];
    int n = snprintf(buf, sizeof buf, "build/syncsim replay 0x%016llx", (unsigned long long)seed);
    if (o->devices > 0) n += snprintf(buf + n, sizeof buf - (size_t)n, " --devices %d", o->devices);
    if (o->users > 0) n += snprintf(buf + n, sizeof buf - (size_t)n, " --users %d", o->users);
    if (o->duration_ms > 0) n += snprintf(buf + n, sizeof buf - (size_t)n, " --duration %lldms", (long long)o->duration_ms);
    if (o->faults >= 0) n += snprintf(buf + n, sizeof buf - (size_t)n, " --faults %s", o->faults ? "swarm" : "none");
    for (int i = 0; i < o->nconfig && n < (int)sizeof buf; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, " --config %s", o->config[i]);
    return buf;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- determinism ---- */

static int run_to_file(uint64_t seed, const struct swarm_opts *o, FILE *f, struct swarm_result *r)
{
    struct swarm_opts oo = *o;
    oo.trace = f;
    char err[512];
    if (swarm_run(seed, &oo, r, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "syncsim: %s\n", err);
        return -1;
    }
    fflush(f);
    rewind(f);
    return 0;
}

static void first_difference(FILE *a, FILE *b)
{
    char la[1024], lb[1024];
    for (long step = 1;; step++) {
        char *pa = fgets(la, sizeof la, a), *pb = fgets(lb, sizeof lb, b);
        if (!pa && !pb) return;
        if (!pa || !pb || strcmp(la, lb) != 0) {
            printf("first difference at trace line %ld:\n  run 1: %s  run 2: %s", step,
                   pa ? la : "(end)\n", pb ? lb : "(end)\n");
            return;
        }
    }
}

int cli_determinism(uint64_t seed, const struct swarm_opts *o)
{
    FILE *a = tmpfile(), *b = tmpfile();
    struct swarm_result ra, rb;
    if (!a || !b || run_to_file(seed, o, a, &ra) || run_to_file(seed, o, b, &rb)) {
        if (a) fclose(a);
        if (b) fclose(b);
        return 2;
    }
    bool same = ra.hash == rb.hash && ra.events == rb.events;
    printf("seed=0x%016llx run1 hash=0x%016llx run2 hash=0x%016llx %s\n", (unsigned long long)seed,
           (unsigned long long)ra.hash, (unsigned long long)rb.hash, same ? "deterministic" : "DIFFERENT");
    if (!same) first_difference(a, b);
    fclose(a);
    fclose(b);
    return same ? 0 : 1;
}

/* ---- swarm ---- */

struct swarm_cfg {
    long seeds;
    uint64_t from;
    long jobs;
    double budget_s;
    long shard_i, shard_n;
    const char *report;
    struct swarm_opts o;
};

struct tally {
    long done, failed;
    double sim_ms;
    long fault_hist[SWARM_FAULT_KINDS];
    uint64_t checks[16];
    char (*fail_lines)[1400];
    int nfail_lines;
    long cov[RPT_COV_STATES][KIND_COUNT];   /* coordinator coverage (issue 6) */
};

/* One result line: "seed ok events sim_ms mask checks… invariant\tfailure". */
static void write_result(int fd, const struct swarm_result *r, const struct rpt_cov *cov)
{
    char line[2600];
    int n = snprintf(line, sizeof line, "%llu %d %llu %llu %u", (unsigned long long)r->seed, r->ok,
                     (unsigned long long)r->events, (unsigned long long)r->sim_ms, r->fault_mask);
    for (int j = 0; j < 16; j++) n += snprintf(line + n, sizeof line - (size_t)n, " %llu", (unsigned long long)r->checks[j]);
    for (int st = 0; st < RPT_COV_STATES; st++)
        for (int k = 0; k < KIND_COUNT; k++)
            n += snprintf(line + n, sizeof line - (size_t)n, " %ld", cov ? cov->count[st][k] : 0L);
    n += snprintf(line + n, sizeof line - (size_t)n, " %s\t%.1000s\n", r->invariant[0] ? r->invariant : "-", r->failure);
    /* One write below PIPE_BUF: lines of concurrent writers never interleave. */
    if (write(fd, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1)) < 0) _exit(3);
}

static void cov_sink(void *arg, int64_t t, const char *line)
{
    (void)t;
    rpt_cov_line(arg, line);
}

static void run_one(const struct swarm_cfg *c, uint64_t seed, int fd)
{
    struct swarm_result r;
    char err[256];
    static struct rpt_cov cov;
    rpt_cov_reset(&cov);
    struct swarm_opts o = c->o;
    o.sink = cov_sink;
    o.sink_arg = &cov;
    if (swarm_run(seed, &o, &r, NULL, err, sizeof err) != 0) {
        r.ok = false;
        snprintf(r.invariant, sizeof r.invariant, "SETUP");
        snprintf(r.failure, sizeof r.failure, "%s", err);
    }
    for (char *p = r.failure; *p; p++) if (*p == '\n' || *p == '\t') *p = ' ';
    write_result(fd, &r, &cov);
}

/* Each seed runs in a child of the worker, so a seed that dies on an
 * assertion (a found bug) is reported as a failure and the rest still run. */
static void worker(const struct swarm_cfg *c, long k, int fd, double start)
{
    for (long i = k; i < c->seeds; i += c->jobs) {
        if (c->shard_n > 1 && i % c->shard_n != c->shard_i) continue;
        if (c->budget_s > 0 && now_s() - start > c->budget_s) break;
        uint64_t seed = c->from + (uint64_t)i;
        pid_t pid = fork();
        if (pid == 0) { run_one(c, seed, fd); _exit(0); }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0) { run_one(c, seed, fd); continue; }
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) continue;
        struct swarm_result r = { .seed = seed, .ok = false };
        snprintf(r.invariant, sizeof r.invariant, "CRASH");
        snprintf(r.failure, sizeof r.failure, "the run died (%s %d): an assertion or a crash; replay the seed to see it",
                 WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        write_result(fd, &r, NULL);
    }
    close(fd);
    _exit(0);
}

static void take_line(struct tally *t, const struct swarm_cfg *c, char *line)
{
    unsigned long long seed, events, sim;
    int ok;
    unsigned mask;
    int used = 0;
    if (sscanf(line, "%llu %d %llu %llu %u%n", &seed, &ok, &events, &sim, &mask, &used) < 5) return;
    char *p = line + used;
    for (int j = 0; j < 16; j++) { t->checks[j] += strtoull(p, &p, 10); }
    for (int st = 0; st < RPT_COV_STATES; st++)
        for (int k = 0; k < KIND_COUNT; k++) t->cov[st][k] += strtol(p, &p, 10);
    t->done++;
    t->sim_ms += (double)sim;
    for (int k = 0; k < SWARM_FAULT_KINDS; k++) if (mask & (1u << k)) t->fault_hist[k]++;
    if (ok) return;
    t->failed++;
    while (*p == ' ') p++;
    char *tab = strchr(p, '\t');
    if (tab) *tab = 0;
    if (t->nfail_lines < 1000) {
        snprintf(t->fail_lines[t->nfail_lines++], 1400, "FAIL seed=0x%016llx %s: %s\n  repro: %s",
                 seed, p, tab ? tab + 1 : "", cli_repro(seed, &c->o));
    }
}

/* --config key=value: checked here, once, so a typo is one clear error
 * (exit 2) instead of a failed setup in every seed. */
static int swarm_config_arg(struct swarm_cfg *c, const char *kv)
{
    struct config tmp;
    char err[256];
    config_default(&tmp);
    if (config_set_kv(&tmp, kv, err, sizeof err) != 0)
        return cli_usage_error("--config: %s", err);
    if (c->o.nconfig >= (int)(sizeof c->o.config / sizeof c->o.config[0]))
        return cli_usage_error("too many --config options%s", "");
    c->o.config[c->o.nconfig++] = kv;
    return 0;
}

static int parse_swarm(int argc, char **argv, struct swarm_cfg *c)
{
    memset(c, 0, sizeof *c);
    swarm_opts_default(&c->o);
    c->from = 1;
    c->jobs = 1;
    c->seeds = -1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return cli_usage_error("option %s needs a value", a);
        i++;
        int64_t ms;
        if (strcmp(a, "--seeds") == 0) { if (cli_parse_int(v, 1, 100000000, &c->seeds)) return cli_usage_error("--seeds: expected a count, found '%s'", v); }
        else if (strcmp(a, "--from") == 0) { if (cli_parse_seed(v, &c->from)) return cli_usage_error("--from: expected a seed, found '%s'", v); }
        else if (strcmp(a, "-j") == 0) { if (cli_parse_int(v, 1, MAX_WORKERS, &c->jobs)) return cli_usage_error("-j: expected 1..64, found '%s'", v); }
        else if (strcmp(a, "--time-budget") == 0) { if (duration_parse(v, &ms) || ms <= 0) return cli_usage_error("--time-budget: expected a duration like 60s, found '%s'", v); c->budget_s = (double)ms / 1000; }
        else if (strcmp(a, "--shard") == 0) { if (sscanf(v, "%ld/%ld", &c->shard_i, &c->shard_n) != 2 || c->shard_n < 1 || c->shard_i < 0 || c->shard_i >= c->shard_n) return cli_usage_error("--shard: expected i/n with 0 <= i < n, found '%s'", v); }
        else if (strcmp(a, "--report") == 0) c->report = v;
        else if (strcmp(a, "--duration") == 0) { if (duration_parse(v, &ms) || ms <= 0) return cli_usage_error("--duration: expected a duration, found '%s'", v); c->o.duration_ms = ms; }
        else if (strcmp(a, "--faults") == 0) { if (strcmp(v, "none") && strcmp(v, "swarm")) return cli_usage_error("--faults: expected none or swarm, found '%s'", v); c->o.faults = strcmp(v, "swarm") == 0; }
        else if (strcmp(a, "--config") == 0) { if (swarm_config_arg(c, v) != 0) return 2; }
        else return cli_usage_error("unknown option %s", a);
    }
    if (c->seeds < 0) return cli_usage_error("swarm: expected --seeds N%s", "");
    return 0;
}

static void collect(struct tally *t, const struct swarm_cfg *c, int *fds, int n, double start)
{
    char buf[MAX_WORKERS][4096];
    size_t len[MAX_WORKERS] = {0};
    int open_n = n;
    bool tty = isatty(2);
    while (open_n > 0) {
        struct pollfd pf[MAX_WORKERS];
        for (int i = 0; i < n; i++) pf[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
        if (poll(pf, (nfds_t)n, 1000) < 0 && errno != EINTR) break;
        for (int i = 0; i < n; i++) {
            if (fds[i] < 0 || !(pf[i].revents & (POLLIN | POLLHUP))) continue;
            ssize_t r = read(fds[i], buf[i] + len[i], sizeof buf[i] - 1 - len[i]);
            if (r <= 0) { close(fds[i]); fds[i] = -1; open_n--; continue; }
            len[i] += (size_t)r;
            buf[i][len[i]] = 0;
            char *nl;
            while ((nl = strchr(buf[i], '\n'))) {
                *nl = 0;
                take_line(t, c, buf[i]);
                size_t rest = len[i] - (size_t)(nl + 1 - buf[i]);
                memmove(buf[i], nl + 1, rest + 1);
                len[i] = rest;
            }
        }
        if (tty) fprintf(stderr, "\rswarm: %ld seeds, %ld failed, %.1f seeds/s   ", t->done, t->failed,
                         (double)t->done / (now_s() - start + 1e-9));
    }
    if (tty) fprintf(stderr, "\n");
}

static void write_report(const struct swarm_cfg *c, const struct tally *t, double wall)
{
    char path[1024];
    snprintf(path, sizeof path, "mkdir -p '%s'", c->report);
    if (system(path) != 0) return;
    snprintf(path, sizeof path, "%s/swarm.json", c->report);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "{\n  \"seeds\": %ld,\n  \"failed\": %ld,\n  \"from\": %llu,\n  \"wall_s\": %.3f,\n"
            "  \"seeds_per_sec\": %.2f,\n  \"sim_wall_ratio\": %.0f,\n  \"fault_kinds\": {",
            t->done, t->failed, (unsigned long long)c->from, wall, (double)t->done / wall,
            t->sim_ms / 1000.0 / wall);
    for (int k = 0; k < SWARM_FAULT_KINDS; k++)
        fprintf(f, "%s\"%s\": %ld", k ? ", " : "", swarm_fault_names[k], t->fault_hist[k]);
    fprintf(f, "},\n  \"time_budget_s\": %.0f,\n  \"checks\": {", c->budget_s);
    for (int k = 0; k < CK_COUNT && k < 16; k++)
        fprintf(f, "%s\"%s\": %llu", k ? ", " : "", check_names[k], (unsigned long long)t->checks[k]);
    fprintf(f, "},\n");
    for (int st = 0; st < RPT_COV_STATES; st++) {   /* state × request kind (issue 6) */
        fprintf(f, "  \"coverage_%s\": {", rpt_cov_state_names[st]);
        for (int k = 0; k < KIND_COUNT; k++)
            fprintf(f, "%s\"%s\": %ld", k ? ", " : "", kind_name((enum sync_kind)k), t->cov[st][k]);
        fprintf(f, "},\n");
    }
    fprintf(f, "  \"failures\": [");
    for (int i = 0; i < t->nfail_lines; i++) {
        fprintf(f, "%s\n    ", i ? "," : "");
        rpt_json_escaped(f, t->fail_lines[i]);
    }
    fprintf(f, "\n  ]\n}\n");
    fclose(f);
    printf("report: %s\n", path);
    /* swarm.html, swarm-summary.json and a page per failing seed (cli/report.c) */
    char *argv[] = { "syncsim", "report", "swarm", (char *)c->report, NULL };
    cli_report(4, argv);
}

int cli_swarm(int argc, char **argv)
{
    struct swarm_cfg c;
    int rc = parse_swarm(argc, argv, &c);
    if (rc) return rc;
    struct tally t = {0};
    t.fail_lines = calloc(1000, sizeof *t.fail_lines);
    int fds[MAX_WORKERS];
    double start = now_s();
    fflush(stdout);
    for (long k = 0; k < c.jobs; k++) {
        int p[2];
        if (pipe(p) != 0) { perror("pipe"); return 2; }
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 2; }
        if (pid == 0) { close(p[0]); for (long j = 0; j < k; j++) close(fds[j]); worker(&c, k, p[1], start); }
        close(p[1]);
        fds[k] = p[0];
    }
    collect(&t, &c, fds, (int)c.jobs, start);
    while (wait(NULL) > 0) {}
    double wall = now_s() - start;
    for (int i = 0; i < t.nfail_lines; i++) printf("%s\n", t.fail_lines[i]);
    printf("swarm: %ld seeds in %.1f s (%.1f seeds/s, simulated/wall %.0fx)\n", t.done, wall,
           (double)t.done / (wall + 1e-9), t.sim_ms / 1000.0 / (wall + 1e-9));
    if (c.report) write_report(&c, &t, wall);
    printf("swarm: %ld passed, %ld failed\n", t.done - t.failed, t.failed);
    free(t.fail_lines);
    return t.failed ? 1 : 0;
}
