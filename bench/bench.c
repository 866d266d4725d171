/*
 * bench.c — benchmark and bug-hunting driver (issue 9), linked against
 * build/libsyncsim.a and build/libsyncmodel.a. Not on the simulated path:
 * it reads the real clock (CLOCK_MONOTONIC) to time what the simulator does.
 *
 *   bench heap [REPS]                 event-queue microbenchmark (no SQLite)
 *   bench loop [REPS]                 world steps/s, SQLite in the loop
 *   bench changes [N] [REPS]          engine_changes_per_sec, end to end
 *   bench initial [ROWS] [REPS]       initial sync of ROWS rows, wall seconds
 *   bench scale DEVICES HOURS [REPS]  wall seconds per simulated hour
 *   bench hunt [--from S] [-j J] [--budget SECONDS] [--max N]
 *                                     swarm seeds until the first failure
 *
 * Every measurement prints `bench NAME=MEDIAN min=MIN max=MAX reps=N unit=U`.
 * hunt prints `hunt: caught seed=0x… index=N seeds=N seconds=T invariant=X
 * failure=…` or `hunt: none seeds=N seconds=T`, and counts a worker killed by
 * a signal (a failed assertion) as a failure, which `syncsim swarm` does not.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heap.h"
#include "swarm.h"
#include "world.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int n, const char *unit, const char *extra)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    const char *fmt = med >= 100 ? "bench %s=%.0f min=%.0f max=%.0f reps=%d unit=%s%s%s\n"
                                 : "bench %s=%.4g min=%.4g max=%.4g reps=%d unit=%s%s%s\n";
    printf(fmt, name, med, v[0], v[n - 1], n, unit, extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

static uint64_t xs(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return *s = x;
}

/* ---- heap: the event loop without SQLite ---- */

static void bench_heap(int reps)
{
    double v[64];
    const long ops = 5000000;
    for (int r = 0; r < reps; r++) {
        struct heap h;
        heap_init(&h);
        uint64_t s = 88172645463325252ull;
        int64_t t = 0;
        for (int i = 0; i < 1000; i++) heap_push(&h, (struct step){ .at = (int64_t)(xs(&s) % 10000) });
        double t0 = now_s();
        for (long i = 0; i < ops; i++) {
            struct step st;
            heap_pop(&h, &st);
            t = st.at;
            heap_push(&h, (struct step){ .at = t + 1 + (int64_t)(xs(&s) % 10000), .kind = 1 });
        }
        double dt = now_s() - t0;
        heap_free(&h, NULL);
        v[r] = (double)ops / dt;   /* one pop + one push = one event */
    }
    report("events_per_sec_heap_only", v, reps, "events/s", NULL);
}

/* ---- worlds ---- */

static void base_params(struct world_params *p, uint64_t seed, int ndev)
{
    static const char *const users[] = { "alice" };
    memset(p, 0, sizeof *p);
    p->seed = seed;
    config_default(&p->cfg);
    p->ndev = ndev;
    for (int i = 0; i < ndev; i++) {
        snprintf(p->devs[i].name, sizeof p->devs[i].name, "dev%d", i);
        snprintf(p->devs[i].user, sizeof p->devs[i].user, "%s", users[0]);
    }
    p->ntables = table_defaults(p->tables, MAX_TABLES);
    p->faults.delay_min = p->faults.delay_max = 10;   /* SPEC §3: no faults */
}

static struct world *new_world(const struct world_params *p)
{
    char err[512];
    struct world *w = world_new(p, err, sizeof err);
    if (!w) { fprintf(stderr, "bench: world_new: %s\n", err); exit(2); }
    return w;
}

/* Runs every step until cond(arg) or the heap is empty; -1 on a failure. */
static int run_until(struct world *w, int (*cond)(void *), void *arg, int64_t limit)
{
    while (!world_failed(w) && !(cond && cond(arg))) {
        int64_t t = world_next_step(w);
        if (t == INT64_MAX || t > limit) break;
        if (world_run_before(w, t + 1) != 0) break;
    }
    return world_failed(w) ? -1 : 0;
}

static void must_ok(struct world *w, const char *what)
{
    if (world_failed(w)) { fprintf(stderr, "bench: %s: %s\n", what, world_failure(w)); exit(1); }
}

static int quiesce(struct world *w)
{
    char why[1024];
    if (world_quiesce(w, 3600000, why, sizeof why) != 0) {
        fprintf(stderr, "bench: quiesce: %s\n", world_failed(w) ? world_failure(w) : why);
        return -1;
    }
    return 0;
}

static int table_index(const struct world_params *p, const char *name)
{
    for (int i = 0; i < p->ntables; i++) if (strcmp(p->tables[i].name, name) == 0) return i;
    return -1;
}

/* engine_changes_per_sec: two devices of one user; one writes N rows, both
 * sync; N / wall time of the writes, push, server apply and both pulls. */
static void bench_changes(int n, int reps)
{
    double v[64], steps_v[64];
    for (int r = 0; r < reps; r++) {
        struct world_params p;
        base_params(&p, 1000 + (uint64_t)r, 2);
        struct world *w = new_world(&p);
        for (int i = 0; i < 2; i++) { world_start(w, i); world_login(w, i, NULL); }
        if (quiesce(w)) exit(1);
        /* past the cooldown, so the sync starts at once */
        world_run_before(w, world_now(w) + 10000);
        must_ok(w, "changes setup");
        uint64_t steps0 = world_step_count(w);
        double t0 = now_s();
        char id[32], val[32];
        for (int i = 0; i < n; i++) {
            snprintf(id, sizeof id, "c%d", i);
            snprintf(val, sizeof val, "v%d", i);
            const char *names[2] = { "name", "qty" }, *values[2] = { id, val };
            if (world_write(w, 0, "customers", id, 2, names, values) != 0) {
                fprintf(stderr, "bench: write %d refused\n", i);
                exit(1);
            }
        }
        if (quiesce(w)) exit(1);
        double dt = now_s() - t0;
        char why[1024];
        if (world_check_converged(w, why, sizeof why) != 0) { fprintf(stderr, "bench: not converged: %s\n", why); exit(1); }
        v[r] = n / dt;
        steps_v[r] = (double)(world_step_count(w) - steps0) / dt;
        world_free(w);
    }
    char extra[64];
    snprintf(extra, sizeof extra, "n=%d", n);
    report("engine_changes_per_sec", v, reps, "changes/s", extra);
    report("events_per_sec_sqlite", steps_v, reps, "steps/s", "workload=changes");
}

struct done_flag { int done; };

static void on_ev(void *arg, struct world *w, int dev, const struct event *ev)
{
    (void)w; (void)dev;
    if (strcmp(ev->name, "initial.completed") == 0) ((struct done_flag *)arg)->done++;
}

static int is_done(void *arg) { return ((struct done_flag *)arg)->done > 0; }

static void bench_initial(int rows, int reps)
{
    double v[64], setup_v[64];
    for (int r = 0; r < reps; r++) {
        struct world_params p;
        base_params(&p, 2000 + (uint64_t)r, 1);
        p.rows[table_index(&p, "products")] = rows;
        double t0 = now_s();
        struct world *w = new_world(&p);
        struct done_flag f = {0};
        world_set_event_hook(w, on_ev, &f);
        world_start(w, 0);
        double t1 = now_s();
        world_login(w, 0, NULL);
        run_until(w, is_done, &f, INT64_MAX);
        double t2 = now_s();
        must_ok(w, "initial");
        if (!f.done) { fprintf(stderr, "bench: initial sync did not complete\n"); exit(1); }
        v[r] = t2 - t1;
        setup_v[r] = t1 - t0;
        world_free(w);
    }
    char name[64], extra[64];
    snprintf(name, sizeof name, "initial_sync_%dk_rows_s", rows / 1000);
    snprintf(extra, sizeof extra, "rows=%d", rows);
    report(name, v, reps, "s", extra);
    snprintf(name, sizeof name, "server_setup_%dk_rows_s", rows / 1000);
    report(name, setup_v, reps, "s", extra);
}

/* Scaling: DEVICES devices of one user, a steady workload (every 30 s of
 * simulated time each device writes with p=0.5 and syncs manually with
 * p=0.1), no faults, HOURS simulated hours; wall seconds per simulated hour. */
static void bench_scale(int ndev, int hours, int reps)
{
    double v[64], ev_v[64];
    static const char *const tables[] = { "customers", "orders" };
    for (int r = 0; r < reps; r++) {
        struct world_params p;
        base_params(&p, 3000 + (uint64_t)r, ndev);
        struct world *w = new_world(&p);
        uint64_t s = 0x9E3779B97F4A7C15ull + (uint64_t)r;
        double t0 = now_s();
        for (int i = 0; i < ndev; i++) { world_start(w, i); world_login(w, i, NULL); }
        int64_t end = (int64_t)hours * 3600000;
        char id[32], val[32];
        while (world_now(w) < end && !world_failed(w)) {
            world_run_before(w, world_now(w) + 30000);
            for (int i = 0; i < ndev; i++) {
                uint64_t x = xs(&s) % 100;
                if (x < 50) {
                    snprintf(id, sizeof id, "r%d", (int)(xs(&s) % 200));
                    snprintf(val, sizeof val, "v%d", (int)(xs(&s) % 1000));
                    const char *names[1] = { "qty" }, *values[1] = { val };
                    world_write(w, i, tables[xs(&s) % 2], id, 1, names, values);
                } else if (x < 60) {
                    world_trigger(w, i, KIND_MANUAL);
                }
            }
        }
        double dt = now_s() - t0;
        must_ok(w, "scale");
        v[r] = dt / hours;
        ev_v[r] = (double)world_step_count(w) / dt;
        world_free(w);
    }
    char name[64], extra[64];
    snprintf(name, sizeof name, "wall_s_per_sim_hour_dev%d_h%d", ndev, hours);
    snprintf(extra, sizeof extra, "devices=%d hours=%d", ndev, hours);
    report(name, v, reps, "s", extra);
    snprintf(name, sizeof name, "events_per_sec_sqlite_dev%d_h%d", ndev, hours);
    report(name, ev_v, reps, "steps/s", extra);
}

/* ---- hunt: the swarm until its first failure ---- */

struct hunt_msg { uint64_t seed; int ok; char inv[32]; char failure[400]; };

/* One seed in a child process, so a failed assertion is a result too. */
static void hunt_seed(uint64_t seed, struct hunt_msg *m)
{
    memset(m, 0, sizeof *m);
    m->seed = seed;
    int p[2], e[2];
    if (pipe(p) || pipe(e)) { perror("pipe"); exit(2); }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]); close(e[0]);
        dup2(e[1], 2);
        struct swarm_opts o;
        swarm_opts_default(&o);
        struct swarm_result r;
        char err[256];
        struct hunt_msg out = { .seed = seed };
        if (swarm_run(seed, &o, &r, NULL, err, sizeof err) != 0) {
            snprintf(out.inv, sizeof out.inv, "SETUP");
            snprintf(out.failure, sizeof out.failure, "%s", err);
        } else {
            out.ok = r.ok;
            snprintf(out.inv, sizeof out.inv, "%s", r.invariant);
            snprintf(out.failure, sizeof out.failure, "%.390s", r.failure);
        }
        if (write(p[1], &out, sizeof out) != (ssize_t)sizeof out) _exit(3);
        _exit(0);
    }
    close(p[1]); close(e[1]);
    ssize_t got = read(p[0], m, sizeof *m);
    char ebuf[2048];
    ssize_t en = 0, k;
    while ((k = read(e[0], ebuf + en, sizeof ebuf - 1 - (size_t)en)) > 0) en += k;
    ebuf[en > 0 ? en : 0] = 0;
    close(p[0]); close(e[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != (ssize_t)sizeof *m) {
        m->seed = seed;
        m->ok = 0;
        snprintf(m->inv, sizeof m->inv, "CRASH");
        char *nl = strrchr(ebuf, '\n');
        while (nl && nl == ebuf + strlen(ebuf) - 1) { *nl = 0; nl = strrchr(ebuf, '\n'); }
        snprintf(m->failure, sizeof m->failure, "%s%s (%s %d)", nl ? "" : "", nl ? nl + 1 : ebuf,
                 WIFSIGNALED(status) ? "signal" : "exit",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
    for (char *c = m->failure; *c; c++) if (*c == '\n' || *c == '\t') *c = ' ';
}

static int bench_hunt(int argc, char **argv)
{
    uint64_t from = 1;
    long jobs = 2, max = 100000;
    double budget = 60;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--from")) from = strtoull(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "-j")) jobs = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--budget")) budget = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--max")) max = strtol(argv[i + 1], NULL, 10);
        else { fprintf(stderr, "bench hunt: unknown option %s\n", argv[i]); return 2; }
    }
    if (jobs < 1 || jobs > 64) return 2;
    double t0 = now_s();
    pid_t pids[64];
    int fds[64];
    for (long k = 0; k < jobs; k++) {
        int p[2];
        if (pipe(p)) { perror("pipe"); return 2; }
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            for (long i = k; i < max; i += jobs) {
                if (now_s() - t0 > budget) break;
                struct hunt_msg m;
                hunt_seed(from + (uint64_t)i, &m);
                if (write(p[1], &m, sizeof m) != (ssize_t)sizeof m) break;
            }
            _exit(0);
        }
        close(p[1]);
        pids[k] = pid;
        fds[k] = p[0];
    }
    long done = 0;
    int open_n = (int)jobs;
    struct hunt_msg first = {0};
    int caught = 0;
    double at = 0;
    while (open_n > 0 && !caught) {
        struct pollfd pf[64];
        for (long k = 0; k < jobs; k++) pf[k] = (struct pollfd){ .fd = fds[k], .events = POLLIN };
        if (poll(pf, (nfds_t)jobs, 1000) < 0 && errno != EINTR) break;
        for (long k = 0; k < jobs && !caught; k++) {
            if (fds[k] < 0 || !(pf[k].revents & (POLLIN | POLLHUP))) continue;
            struct hunt_msg m;
            ssize_t n = read(fds[k], &m, sizeof m);
            if (n != (ssize_t)sizeof m) { close(fds[k]); fds[k] = -1; open_n--; continue; }
            done++;
            if (!m.ok) { first = m; caught = 1; at = now_s() - t0; }
        }
    }
    for (long k = 0; k < jobs; k++) {
        kill(pids[k], SIGKILL);
        waitpid(pids[k], NULL, 0);
        if (fds[k] >= 0) close(fds[k]);
    }
    if (caught)
        printf("hunt: caught seed=0x%016llx index=%llu seeds=%ld seconds=%.2f invariant=%s failure=%s\n",
               (unsigned long long)first.seed, (unsigned long long)(first.seed - from + 1), done, at,
               first.inv[0] ? first.inv : "-", first.failure);
    else
        printf("hunt: none seeds=%ld seconds=%.2f\n", done, now_s() - t0);
    return caught ? 1 : 0;
}

static int arg_int(int argc, char **argv, int i, int def)
{
    return i < argc ? atoi(argv[i]) : def;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    world_sqlite_single_thread();
    if (argc < 2) {
        fprintf(stderr, "usage: bench heap|changes|initial|scale|hunt …\n");
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "heap")) bench_heap(arg_int(argc, argv, 2, 5));
    else if (!strcmp(c, "changes")) bench_changes(arg_int(argc, argv, 2, 10000), arg_int(argc, argv, 3, 5));
    else if (!strcmp(c, "initial")) bench_initial(arg_int(argc, argv, 2, 100000), arg_int(argc, argv, 3, 5));
    else if (!strcmp(c, "scale")) bench_scale(arg_int(argc, argv, 2, 1), arg_int(argc, argv, 3, 1), arg_int(argc, argv, 4, 5));
    else if (!strcmp(c, "hunt")) return bench_hunt(argc, argv);
    else { fprintf(stderr, "bench: unknown command %s\n", c); return 2; }
    return 0;
}
