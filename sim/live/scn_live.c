/*
 * scn_live.c — the live scenario runner and the cross-check of
 * `syncsim scenario --live FILE…` (scn_live.h, SPEC §6, issue 7).
 *
 * For each file with the `# live: yes` header:
 *   1. the simulator runs it (scn_run) with its trace captured; the lines
 *      `scenario line N: expect …: ok|FAILED` say which expectations held;
 *   2. the live runner runs it with real processes: a `syncsim live server`
 *      on a temporary database and a kernel-chosen 127.0.0.1 port, one
 *      `syncsim live device` per scenario device (its own database, its own
 *      user, the scenario's tables and config), started at its `start` line,
 *      SIGKILLed at `crash`, started again on the same database at `restart`;
 *   3. the two result lists are compared statement by statement, in file
 *      order; the first difference fails the file.
 * Both runs stop at their first failed expectation (the simulator does), so
 * the comparison covers the expectations up to and including that line.
 *
 * Real time. Statement times are real milliseconds from the scenario start
 * (the runner sleeps until each statement's instant, reading the processes'
 * output meanwhile). Statements of one instant that address one device are
 * sent to it as one batch of command lines, so the device runs them back to
 * back without handling the network in between — as the simulator runs the
 * statements of an instant before any other step. Expectations inside a
 * batch become query commands (`state`, `row`, or `status` as a marker for
 * event expectations: the events printed before its answer are those
 * emitted before the expectation).
 *
 * Timing tolerance (settle). An expectation that fails at its instant is
 * polled again every LIVE_SETTLE_POLL_MS for up to LIVE_SETTLE_MS (500 ms,
 * shared by the expectations of one batch) before it counts as failed:
 * real processes lag the simulator's instants by a few milliseconds (pipes,
 * process start, fsync). `no event` and `no row` are not polled (waiting can
 * only make them fail); later statements are delayed by the settle time.
 * Choose scenarios whose expectations sit well clear (≥ 10 ms) of the
 * events they look at: the live network answers in well under a
 * millisecond where the simulator's takes 10 ms each way, so an expectation
 * that relies on a request being in flight for those 10 ms cannot agree.
 *
 * What live mode cannot express (the file is skipped, not failed): `faults`
 * other than none, skewed devices, `quiesce`, `on` lines, `partition`,
 * `heal`, `clock`, `crash D power`, `server crash|restart`, the
 * orchestrator and ERP lines, `expect converged`, `orchestrator …`,
 * `server event`, `requests` with more than one device (the count comes
 * from the server's `srv req` lines, which do not name the device), write
 * values the device's line protocol cannot carry (empty, blanks, quotes),
 * and scenarios longer than LIVE_MAX_SCENARIO_MS of real time.
 */
#include "scn_live.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "live.h"
#include "scn.h"
#include "scn_run.h"

#define LIVE_MAX_SCENARIO_MS 60000   /* longer scenarios are skipped */
#define LIVE_SETTLE_MS 500           /* polling of a failed expectation */
#define LIVE_SETTLE_POLL_MS 20
#define LIVE_START_MS 10000          /* a process prints its first line */
#define LIVE_ANSWER_MS 10000         /* a device answers a batch */
#define LIVE_DRAIN_MS 2000           /* a killed process's last output */
#define LIVE_ACTUAL_MAX 512
#define LIVE_MAX_ANSWERS 4096

enum res { R_NONE = 0, R_HELD, R_FAILED };

/* SIGINT/SIGTERM (cross.sh's timeout): stop, kill the processes, clean up. */
static volatile sig_atomic_t g_interrupted;
static void on_signal(int sig) { (void)sig; g_interrupted = 1; }

/* A child process: stdout (and stderr) on a pipe, stdin on a pipe (devices). */
struct child {
    pid_t pid;                   /* 0: none */
    int in, out;                 /* -1 when closed */
    char part[LIVE_LINE_MAX + 1];/* a line not finished yet */
    size_t plen;
    FILE *log;                   /* transcript: DIR/NAME.log */
};

struct answer {
    char *text;
    int nev;                     /* events logged when it arrived */
};

struct rdev {
    struct child c;
    bool up;                     /* started and not crashed by the scenario */
    bool died;                   /* exited on its own */
    struct event *ev;            /* every `ev` line of every incarnation */
    int nev, evcap;
    struct answer ans[LIVE_MAX_ANSWERS];
    int nans;
};

struct lrun {
    const struct scn *s;
    bool verbose;
    char dir[512];
    char exe[PATH_MAX];
    struct child srv;
    int port;
    int64_t npush, npull;        /* `srv req push` / `srv req pull|page` lines */
    struct rdev dev[SCN_MAX_DEVICES];
    int64_t t0;
    enum res *res;               /* per top-level statement */
    char (*actual)[LIVE_ACTUAL_MAX];
    char err[512];               /* an infrastructure failure, "" if none */
    bool stop;
    bool quiet;                  /* inside a batch: -v lines come after it */
    char **src;                  /* the file's lines (for -v), 1-based */
    int nsrc;
};

/* ------------------------------------------------------------ helpers */

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void lerr(struct lrun *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lerr(struct lrun *r, const char *fmt, ...)
{
    if (r->err[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    r->stop = true;
}

static void vlog(struct lrun *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vlog(struct lrun *r, const char *fmt, ...)
{
    if (!r->verbose) return;
    int64_t t = mono_now() - r->t0;
    va_list ap;
    va_start(ap, fmt);
    printf("  live t=%lld.%03lld ", (long long)(t / 1000), (long long)(t % 1000));
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* The statement as written (for -v): its source line, blanks trimmed. */
static const char *src_line(const struct lrun *r, int line)
{
    if (!r->src || line < 1 || line > r->nsrc || !r->src[line]) return "?";
    const char *p = r->src[line];
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

static void load_src(struct lrun *r, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t k;
    int cap_lines = 0;
    while ((k = getline(&line, &cap, f)) >= 0) {
        while (k > 0 && (line[k - 1] == '\n' || line[k - 1] == '\r')) line[--k] = 0;
        if (r->nsrc + 2 > cap_lines) {
            int nc = cap_lines ? cap_lines * 2 : 64;
            char **v = realloc(r->src, (size_t)nc * sizeof *v);
            if (!v) break;
            r->src = v;
            cap_lines = nc;
        }
        if (r->nsrc == 0) r->src[r->nsrc++] = NULL;   /* 1-based */
        r->src[r->nsrc++] = strdup(line);
    }
    if (r->nsrc > 0) r->nsrc--;
    free(line);
    fclose(f);
}

static const char *base_name(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

/* A value the device/ctl line protocols carry as one word. */
static bool plain_word(const char *v)
{
    if (!v || !*v) return false;
    for (; *v; v++)
        if (*v == ' ' || *v == '\t' || *v == '"' || *v == '\n' || *v == '\r') return false;
    return true;
}

/* ------------------------------------------------------- suitability */

/* Returns true when live mode can run s; otherwise why names the line. */
static bool expressible(const struct scn *s, char *why, size_t n)
{
    if (s->faults_mode != SCN_FAULTS_NONE) { snprintf(why, n, "faults: the live network has no fault injection"); return false; }
    for (int d = 0; d < s->ndevices; d++)
        if (s->devices[d].skew_ms != 0) { snprintf(why, n, "device %s skew: needs libfaketime per device", s->devices[d].name); return false; }
    for (int i = 0; i < s->nstmts; i++) {
        const struct scn_stmt *st = &s->stmts[i];
        const char *bad = NULL;
        if (st->at_ms > LIVE_MAX_SCENARIO_MS) {
            snprintf(why, n, "line %d (at %.1f s: longer than %d s of real time)", st->line, st->at_ms / 1000.0,
                     LIVE_MAX_SCENARIO_MS / 1000);
            return false;
        }
        if (st->kind == SCN_QUIESCE) bad = "quiesce";
        else if (st->kind == SCN_ON) bad = "on EVENT … (event-triggered statement)";
        else if (st->kind == SCN_ACTION) {
            switch (st->action) {
            case SCN_A_PARTITION: bad = "partition"; break;
            case SCN_A_HEAL: bad = "heal"; break;
            case SCN_A_CLOCK: bad = "clock jump"; break;
            case SCN_A_SERVER_CRASH: bad = "server crash"; break;
            case SCN_A_SERVER_RESTART: bad = "server restart"; break;
            case SCN_A_ORCHESTRATE: case SCN_A_ORCHESTRATOR: bad = "orchestrator"; break;
            case SCN_A_ERP_WRITE: bad = "erp write"; break;
            case SCN_A_CRASH: if (st->power) bad = "crash power (power loss)"; break;
            case SCN_A_WRITE: case SCN_A_SERVER_WRITE: case SCN_A_DELETE: case SCN_A_SERVER_DELETE:
            case SCN_A_RESOLVE:
                if (!plain_word(st->id) || !plain_word(st->table)) bad = "a row id the line protocol cannot carry";
                for (int k = 0; k < st->nkv && !bad; k++)
                    if (!plain_word(st->kv[k].key) || !plain_word(st->kv[k].val) || strchr(st->kv[k].key, '='))
                        bad = "a field value the line protocol cannot carry (empty, blanks or quotes)";
                break;
            default: break;
            }
        } else if (st->kind == SCN_EXPECT) {
            switch (st->expect) {
            case SCN_E_CONVERGED: bad = "expect converged"; break;
            case SCN_E_ORCH_STATUS: case SCN_E_ORCH_HEALTH: bad = "expect orchestrator"; break;
            case SCN_E_SERVER_EVENT: bad = "expect server event"; break;
            case SCN_E_REQUESTS: if (s->ndevices > 1) bad = "requests with more than one device"; break;
            case SCN_E_ROW: case SCN_E_NO_ROW: case SCN_E_SERVER_ROW: case SCN_E_SERVER_NO_ROW:
                if (!plain_word(st->id)) bad = "a row id the line protocol cannot carry";
                break;
            default: break;
            }
        }
        if (bad) { snprintf(why, n, "line %d (%s)", st->line, bad); return false; }
    }
    return true;
}

/* ---------------------------------------------------------- processes */

static void child_init(struct child *c) { memset(c, 0, sizeof *c); c->in = c->out = -1; }

/* Starts EXE with argv (NULL-terminated); stdout+stderr to a pipe. */
static int child_spawn(struct lrun *r, struct child *c, char **argv, bool with_stdin, const char *logname)
{
    int outp[2], inp[2] = { -1, -1 };
    if (pipe2(outp, O_CLOEXEC) != 0) return -1;
    if (with_stdin && pipe2(inp, O_CLOEXEC) != 0) { close(outp[0]); close(outp[1]); return -1; }
    pid_t pid = fork();
    if (pid < 0) {
        close(outp[0]); close(outp[1]);
        if (with_stdin) { close(inp[0]); close(inp[1]); }
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the runner */
        int devnull = open("/dev/null", O_RDONLY);
        dup2(with_stdin ? inp[0] : devnull, 0);
        dup2(outp[1], 1);
        dup2(outp[1], 2);
        signal(SIGPIPE, SIG_DFL);
        /* /proc/self/exe: this very binary, even when a rebuild replaced
         * the file on disk meanwhile (then its path reads "… (deleted)"). */
        execv("/proc/self/exe", argv);
        dprintf(1, "exec %s failed: %s\n", r->exe, strerror(errno));
        _exit(127);
    }
    close(outp[1]);
    if (with_stdin) close(inp[0]);
    c->pid = pid;
    c->out = outp[0];
    c->in = with_stdin ? inp[1] : -1;
    c->plen = 0;
    fcntl(c->out, F_SETFL, O_NONBLOCK);
    if (!c->log) {
        char path[800];
        snprintf(path, sizeof path, "%s/%s.log", r->dir, logname);
        c->log = fopen(path, "a");
    }
    if (c->log) { fprintf(c->log, "## spawned pid %ld at t=%lld ms\n", (long)pid, (long long)(mono_now() - r->t0)); fflush(c->log); }
    return 0;
}

/* Parses "ev NAME k=v k=\"…\" …" into e. */
static void parse_event(const char *line, struct event *e)
{
    const char *p = line + 3;
    char name[EV_NAME_MAX + 1];
    size_t k = 0;
    while (*p && *p != ' ' && k < EV_NAME_MAX) name[k++] = *p++;
    name[k] = 0;
    while (*p && *p != ' ') p++;
    ev_init(e, name);
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        char key[EV_KEY_MAX + 1], val[EV_VAL_MAX + 1];
        size_t kl = 0, vl = 0;
        while (*p && *p != '=' && *p != ' ') { if (kl < EV_KEY_MAX) key[kl++] = *p; p++; }
        key[kl] = 0;
        if (*p != '=') continue;
        p++;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                char ch = *p++;
                if (ch == '\\' && *p) {
                    ch = *p++;
                    if (ch == 'n') ch = '\n';
                    else if (ch == 't') ch = '\t';
                    else if (ch == 'x' && p[0] && p[1]) { char hx[3] = { p[0], p[1], 0 }; ch = (char)strtol(hx, NULL, 16); p += 2; }
                }
                if (vl < EV_VAL_MAX) val[vl++] = ch;
            }
            if (*p == '"') p++;
        } else {
            while (*p && *p != ' ') { if (vl < EV_VAL_MAX) val[vl++] = *p; p++; }
        }
        val[vl] = 0;
        if (e->n < EV_MAX_FIELDS && kl > 0) ev_str(e, key, val);
    }
}

static void dev_line(struct lrun *r, struct rdev *d, const char *line)
{
    if (strncmp(line, "ev ", 3) == 0) {
        if (d->nev == d->evcap) {
            int cap = d->evcap ? d->evcap * 2 : 256;
            struct event *v = realloc(d->ev, (size_t)cap * sizeof *v);
            if (!v) return;
            d->ev = v;
            d->evcap = cap;
        }
        parse_event(line, &d->ev[d->nev++]);
        return;
    }
    bool is_ok = strncmp(line, "ok", 2) == 0 && (line[2] == ' ' || !line[2]);
    bool is_err = strncmp(line, "err", 3) == 0 && (line[3] == ' ' || !line[3]);
    if ((is_ok || is_err) && d->nans < LIVE_MAX_ANSWERS) {
        d->ans[d->nans].text = strdup(line);
        d->ans[d->nans].nev = d->nev;
        d->nans++;
    }
}

static void srv_line(struct lrun *r, const char *line)
{
    if (strncmp(line, "srv req push", 12) == 0) r->npush++;
    else if (strncmp(line, "srv req pull", 12) == 0 || strncmp(line, "srv req page", 12) == 0) r->npull++;
    else if (strncmp(line, "srv listening 127.0.0.1:", 24) == 0) r->port = atoi(line + 24);
}

/* Reads what c's pipe holds; 1 got bytes, 0 nothing, -1 EOF. */
static int child_read(struct lrun *r, struct child *c, int devi)
{
    if (c->out < 0) return -1;
    char buf[8192];
    ssize_t k = read(c->out, buf, sizeof buf);
    if (k < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (k == 0) {
        close(c->out);
        c->out = -1;
        if (c->log) { fprintf(c->log, "## eof\n"); fflush(c->log); }
        return -1;
    }
    if (c->log) fwrite(buf, 1, (size_t)k, c->log);
    for (ssize_t i = 0; i < k; i++) {
        if (buf[i] != '\n') {
            if (c->plen < LIVE_LINE_MAX) c->part[c->plen++] = buf[i];
            continue;
        }
        c->part[c->plen] = 0;
        if (devi < 0) srv_line(r, c->part);
        else dev_line(r, &r->dev[devi], c->part);
        c->plen = 0;
    }
    return 1;
}

/* One poll over every open pipe for up to wait_ms; handles what arrived. */
static void pump(struct lrun *r, int wait_ms)
{
    if (g_interrupted) { lerr(r, "interrupted"); return; }
    struct pollfd pf[SCN_MAX_DEVICES + 1];
    int who[SCN_MAX_DEVICES + 1], n = 0;
    if (r->srv.out >= 0) { pf[n] = (struct pollfd){ .fd = r->srv.out, .events = POLLIN }; who[n++] = -1; }
    for (int d = 0; d < r->s->ndevices; d++)
        if (r->dev[d].c.out >= 0) { pf[n] = (struct pollfd){ .fd = r->dev[d].c.out, .events = POLLIN }; who[n++] = d; }
    if (n == 0) { if (wait_ms > 0) usleep((useconds_t)wait_ms * 1000); return; }
    if (poll(pf, (nfds_t)n, wait_ms < 0 ? 0 : wait_ms) <= 0) return;
    for (int i = 0; i < n; i++) {
        if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        struct child *c = who[i] < 0 ? &r->srv : &r->dev[who[i]].c;
        while (child_read(r, c, who[i]) > 0) {}
        if (c->out < 0 && who[i] >= 0) {
            struct rdev *d = &r->dev[who[i]];
            if (d->up) { d->up = false; d->died = true; }   /* it exited on its own */
        }
    }
}

/* Pumps until the monotonic clock reaches `until`. */
static void pump_until(struct lrun *r, int64_t until)
{
    for (;;) {
        int64_t left = until - mono_now();
        if (left <= 0 || r->stop) { pump(r, 0); return; }
        pump(r, left > 50 ? 50 : (int)left);
    }
}

/* SIGKILLs c, reads its last output, reaps it. */
static void child_kill(struct lrun *r, struct child *c, int devi)
{
    if (c->pid <= 0) return;
    kill(c->pid, SIGKILL);
    int64_t until = mono_now() + LIVE_DRAIN_MS;
    while (c->out >= 0 && mono_now() < until) {
        struct pollfd p = { .fd = c->out, .events = POLLIN };
        if (poll(&p, 1, 50) > 0) while (child_read(r, c, devi) > 0) {}
    }
    if (c->out >= 0) { close(c->out); c->out = -1; }
    if (c->in >= 0) { close(c->in); c->in = -1; }
    waitpid(c->pid, NULL, 0);
    if (c->log) { fprintf(c->log, "## killed at t=%lld ms\n", (long long)(mono_now() - r->t0)); fflush(c->log); }
    c->pid = 0;
}

static void add_common_args(struct lrun *r, char **av, int *ac, char store[][160], int *ns, bool server)
{
    const struct scn *s = r->s;
    if (s->tables_declared) {
        for (int t = 0; t < s->ntables; t++) {
            const struct table_decl *td = &s->tables[t];
            if (server)
                snprintf(store[*ns], 160, "%s:%s:%lld:%s", td->name, td->read_only ? "ro" : "rw",
                         (long long)s->table_rows[t], strategy_name(td->strategy));
            else
                snprintf(store[*ns], 160, "%s:%s:%s", td->name, td->read_only ? "ro" : "rw", strategy_name(td->strategy));
            av[(*ac)++] = "--table";
            av[(*ac)++] = store[(*ns)++];
        }
    }
    for (int i = 0; i < s->nconfig; i++) {
        snprintf(store[*ns], 160, "%s=%s", s->config_kv[i].key, s->config_kv[i].val);
        av[(*ac)++] = "--config";
        av[(*ac)++] = store[(*ns)++];
    }
}

static int server_start(struct lrun *r)
{
    char *av[128], store[96][160], db[700], seed[32];
    int ac = 0, ns = 0;
    snprintf(db, sizeof db, "%s/server.db", r->dir);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->s->seed);
    av[ac++] = "syncsim"; av[ac++] = "live"; av[ac++] = "server";
    av[ac++] = "--db"; av[ac++] = db;
    av[ac++] = "--listen"; av[ac++] = "127.0.0.1:0";
    av[ac++] = "--seed"; av[ac++] = seed;
    add_common_args(r, av, &ac, store, &ns, true);
    av[ac] = NULL;
    if (child_spawn(r, &r->srv, av, false, "server") != 0) { lerr(r, "cannot start the server: %s", strerror(errno)); return -1; }
    int64_t until = mono_now() + LIVE_START_MS;
    while (r->port <= 0 && r->srv.out >= 0 && mono_now() < until && !g_interrupted) pump(r, 50);
    if (r->port <= 0) { lerr(r, "the live server did not start (see %s/server.log)", r->dir); return -1; }
    return 0;
}

static int device_start(struct lrun *r, int d)
{
    const struct scn *s = r->s;
    struct rdev *rd = &r->dev[d];
    char *av[128], store[96][160], db[700], srvaddr[64], seed[32];
    int ac = 0, ns = 0;
    snprintf(db, sizeof db, "%s/%s.db", r->dir, s->devices[d].name);
    snprintf(srvaddr, sizeof srvaddr, "127.0.0.1:%d", r->port);
    /* One stream per device, reproducible from the scenario's seed. */
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)(s->seed * 1000003ull + (uint64_t)d + 1));
    av[ac++] = "syncsim"; av[ac++] = "live"; av[ac++] = "device";
    av[ac++] = "--db"; av[ac++] = db;
    av[ac++] = "--server"; av[ac++] = srvaddr;
    av[ac++] = "--name"; av[ac++] = (char *)s->devices[d].name;
    av[ac++] = "--user"; av[ac++] = (char *)s->users[s->devices[d].user];
    av[ac++] = "--seed"; av[ac++] = seed;
    add_common_args(r, av, &ac, store, &ns, false);
    av[ac] = NULL;
    for (int i = 0; i < rd->nans; i++) free(rd->ans[i].text);   /* a previous process's */
    rd->nans = 0;
    if (child_spawn(r, &rd->c, av, true, s->devices[d].name) != 0) {
        lerr(r, "cannot start device %s: %s", s->devices[d].name, strerror(errno));
        return -1;
    }
    rd->up = true;
    rd->died = false;
    /* "dev started" is printed before dev_start; a first command's answer
     * follows dev_start, so an empty query makes the start complete. */
    if (write(rd->c.in, "status\n", 7) != 7) { lerr(r, "device %s: cannot write its stdin", s->devices[d].name); return -1; }
    int64_t until = mono_now() + LIVE_START_MS;
    while (rd->nans < 1 && rd->c.out >= 0 && mono_now() < until && !g_interrupted) pump(r, 20);
    if (rd->nans < 1) { lerr(r, "device %s did not start (see %s/%s.log)", s->devices[d].name, r->dir, s->devices[d].name); return -1; }
    for (int i = 0; i < rd->nans; i++) free(rd->ans[i].text);
    rd->nans = 0;
    return 0;
}

/* ----------------------------------------------------------- commands */

/* The device command of a statement (an action on the device or a query
 * for an expectation), or 0 when the statement is not a device command. */
static int stmt_command(const struct lrun *r, const struct scn_stmt *st, char *buf, size_t n)
{
    const struct scn *s = r->s;
    size_t len = 0;
    buf[0] = 0;
    if (st->kind == SCN_ACTION) {
        switch (st->action) {
        case SCN_A_LOGIN: snprintf(buf, n, "login %s", s->users[st->user >= 0 ? st->user : s->devices[st->dev].user]); return 1;
        case SCN_A_LOGOUT: snprintf(buf, n, "logout"); return 1;
        case SCN_A_CANCEL_INITIAL: snprintf(buf, n, "cancel-initial"); return 1;
        case SCN_A_OFFLINE: snprintf(buf, n, "offline"); return 1;
        case SCN_A_ONLINE: snprintf(buf, n, "online"); return 1;
        case SCN_A_REQUEUE: snprintf(buf, n, "requeue"); return 1;
        case SCN_A_TRIGGER: snprintf(buf, n, "trigger %s", kind_name(st->sync_kind)); return 1;
        case SCN_A_DELETE: snprintf(buf, n, "delete %s %s", st->table, st->id); return 1;
        case SCN_A_RESOLVE: snprintf(buf, n, "resolve %s %s %s", st->table, st->id, st->take_local ? "local" : "remote"); return 1;
        case SCN_A_MIGRATE: snprintf(buf, n, "migrate add-table %s", st->table); return 1;
        case SCN_A_WRITE:
            len = (size_t)snprintf(buf, n, "write %s %s", st->table, st->id);
            for (int k = 0; k < st->nkv && len < n; k++)
                len += (size_t)snprintf(buf + len, n - len, " %s=%s", st->kv[k].key, st->kv[k].val);
            return 1;
        default: return 0;
        }
    }
    if (st->kind != SCN_EXPECT || st->dev < 0) return 0;
    switch (st->expect) {
    case SCN_E_LOCK_FREE: case SCN_E_LOCK_HELD: case SCN_E_QUEUED: case SCN_E_NOT_QUEUED: case SCN_E_INITIAL:
    case SCN_E_OUTBOX: case SCN_E_DEADLETTER: case SCN_E_CONFLICTS: case SCN_E_STATUS:
        snprintf(buf, n, "state"); return 1;
    case SCN_E_ROW: case SCN_E_NO_ROW: snprintf(buf, n, "row %s %s", st->table, st->id); return 1;
    case SCN_E_EVENT: case SCN_E_NO_EVENT: snprintf(buf, n, "status"); return 1;   /* a marker */
    default: return 0;
    }
}

/* The value of key in a "k=v k=\"v w\" …" text (row_format / state), into
 * out; false when absent. */
static bool kv_get(const char *text, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    const char *p = text;
    while (*p) {
        while (*p == ' ') p++;
        const char *k = p;
        while (*p && *p != '=' && *p != ' ') p++;
        if (*p != '=') { while (*p && *p != ' ') p++; continue; }
        bool match = (size_t)(p - k) == kl && strncmp(k, key, kl) == 0;
        p++;
        const char *v = p, *ve;
        if (*p == '"') { v = ++p; while (*p && *p != '"') p++; ve = p; if (*p) p++; }
        else { while (*p && *p != ' ') p++; ve = p; }
        if (match) {
            size_t vl = (size_t)(ve - v) < n - 1 ? (size_t)(ve - v) : n - 1;
            memcpy(out, v, vl);
            out[vl] = 0;
            return true;
        }
    }
    return false;
}

/* The fields part of a row answer: after the leading `seq= deleted= [by=]`. */
static const char *row_fields(const char *text, int skip)
{
    const char *p = text;
    for (int i = 0; i < skip && *p; i++) {
        while (*p == ' ') p++;
        while (*p && *p != ' ') p++;
    }
    while (*p == ' ') p++;
    return p;
}

static bool row_match(const char *fields, bool deleted, const struct scn_kv *kv, int nkv)
{
    bool flag_given = false;
    char v[LIVE_LINE_MAX];
    for (int i = 0; i < nkv; i++) {
        if (strcmp(kv[i].key, "deleted") == 0) {
            flag_given = true;
            bool want = strcmp(kv[i].val, "true") == 0 || strcmp(kv[i].val, "1") == 0;
            if (deleted != want) return false;
            continue;
        }
        if (!kv_get(fields, kv[i].key, v, sizeof v) || strcmp(v, kv[i].val) != 0) return false;
    }
    return flag_given || !deleted;
}

/* Evaluates a device expectation from its query's answer (ans, NULL when
 * none came) and the events logged before it (nev). */
static bool eval_dev(struct lrun *r, const struct scn_stmt *st, const char *ans, int nev, char *actual, size_t n)
{
    struct rdev *d = &r->dev[st->dev];
    const char *name = r->s->devices[st->dev].name;
    if (st->expect == SCN_E_EVENT || st->expect == SCN_E_NO_EVENT) {
        int64_t hits = 0;
        int last = -1;
        for (int i = 0; i < nev && i < d->nev; i++) {
            if (strcmp(d->ev[i].name, st->event) != 0) continue;
            bool ok = true;
            for (int k = 0; k < st->nkv && ok; k++) {
                const char *v = ev_get(&d->ev[i], st->kv[k].key);
                ok = v && strcmp(v, st->kv[k].val) == 0;
            }
            hits += ok;
            last = i;
        }
        char evs[200] = "";
        if (last >= 0) ev_format(&d->ev[last], evs, sizeof evs);
        snprintf(actual, n, "%lld time%s (%s%s)%s", (long long)hits, hits == 1 ? "" : "s",
                 last >= 0 ? "last: " : "never emitted", evs, ans ? "" : " [no answer to the marker]");
        if (st->expect == SCN_E_NO_EVENT) return hits == 0;
        return st->count < 0 ? hits >= 1 : hits == st->count;
    }
    if (!ans || strncmp(ans, "ok ", 3) != 0) {
        if (d->died) snprintf(actual, n, "not running (%s exited on its own: see %s.log)", name, name);
        else snprintf(actual, n, "not running (%s is crashed or not started)", name);
        return false;
    }
    char v[128], h[64];
    switch (st->expect) {
    case SCN_E_LOCK_FREE: case SCN_E_LOCK_HELD: {
        bool held = kv_get(ans, "lock", v, sizeof v) && strcmp(v, "held") == 0;
        kv_get(ans, "holder", h, sizeof h);
        if (held) snprintf(actual, n, "held %s", h); else snprintf(actual, n, "free");
        return st->expect == SCN_E_LOCK_FREE ? !held : held && strcmp(h, kind_name(st->sync_kind)) == 0;
    }
    case SCN_E_QUEUED: case SCN_E_NOT_QUEUED: {
        bool q = kv_get(ans, "followup", v, sizeof v) && strcmp(v, "none") != 0;
        if (q) snprintf(actual, n, "queued (follow-up %s)", v); else snprintf(actual, n, "not queued");
        return q == (st->expect == SCN_E_QUEUED);
    }
    case SCN_E_INITIAL: {
        bool c = kv_get(ans, "initial", v, sizeof v) && strcmp(v, "1") == 0;
        bool g = kv_get(ans, "gave_up", h, sizeof h) && strcmp(h, "1") == 0;
        snprintf(actual, n, "%s%s", c ? "complete" : "incomplete", g ? " (gave up)" : "");
        return c == st->complete;
    }
    case SCN_E_OUTBOX: case SCN_E_DEADLETTER: case SCN_E_CONFLICTS: {
        const char *key = st->expect == SCN_E_OUTBOX ? "outbox" : st->expect == SCN_E_DEADLETTER ? "deadletters"
                        : st->unresolved ? "unresolved" : "conflicts";
        if (!kv_get(ans, key, v, sizeof v)) { snprintf(actual, n, "unknown (%.400s)", ans); return false; }
        snprintf(actual, n, "%s", v);
        return atoll(v) == st->n;
    }
    case SCN_E_STATUS:
        if (!kv_get(ans, "status", v, sizeof v)) { snprintf(actual, n, "unknown (%.400s)", ans); return false; }
        snprintf(actual, n, "%s", v);
        return strcmp(v, dev_status_name(st->status)) == 0;
    case SCN_E_ROW: case SCN_E_NO_ROW: {
        if (strcmp(ans, "ok norow") == 0) { snprintf(actual, n, "absent"); return st->expect == SCN_E_NO_ROW; }
        if (strncmp(ans, "ok row ", 7) != 0) { snprintf(actual, n, "unreadable (%.400s)", ans); return false; }
        bool del = kv_get(ans + 7, "deleted", v, sizeof v) && strcmp(v, "1") == 0;
        const char *f = row_fields(ans + 7, 2);
        snprintf(actual, n, "%s{%.400s}", del ? "tombstone " : "", f);
        if (st->expect == SCN_E_NO_ROW) return false;
        return row_match(f, del, st->kv, st->nkv);
    }
    default:
        snprintf(actual, n, "has no live evaluator");
        return false;
    }
}

/* Sends lines (each ending in \n) to device d and waits for nwant answers.
 * Returns the number of answers that arrived. */
static int dev_batch(struct lrun *r, int d, const char *lines, int nwant)
{
    struct rdev *rd = &r->dev[d];
    for (int i = 0; i < rd->nans; i++) free(rd->ans[i].text);
    rd->nans = 0;
    if (!rd->up || rd->c.in < 0 || nwant == 0) return 0;
    size_t len = strlen(lines), off = 0;
    while (off < len) {
        ssize_t k = write(rd->c.in, lines + off, len - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return 0;
        off += (size_t)k;
    }
    int64_t until = mono_now() + LIVE_ANSWER_MS;
    while (rd->nans < nwant && rd->c.out >= 0 && mono_now() < until && !g_interrupted) pump(r, 20);
    if (rd->nans < nwant && rd->up && rd->c.out >= 0)
        lerr(r, "device %s answered %d of %d commands within %d ms", r->s->devices[d].name, rd->nans, nwant, LIVE_ANSWER_MS);
    return rd->nans;
}

/* Asks the server one control line; ans gets the answer. */
static int ctl(struct lrun *r, const char *line, char *ans, size_t n)
{
    if (r->srv.log) { fprintf(r->srv.log, "## ctl> %s\n", line); fflush(r->srv.log); }
    int rc = live_roundtrip(r->port, line, ans, n);
    if (rc != 0) snprintf(ans, n, "(no answer)");
    if (r->srv.log) { fprintf(r->srv.log, "## ctl< %s\n", ans); fflush(r->srv.log); }
    pump(r, 0);
    return rc;
}

/* A server-side or process statement (not a device command). For an
 * expectation returns 1 held / 0 failed; actions return 1. */
static int run_single(struct lrun *r, const struct scn_stmt *st, char *actual, size_t n)
{
    const struct scn *s = r->s;
    char line[LIVE_LINE_MAX], ans[LIVE_LINE_MAX];
    size_t len = 0;
    if (st->kind == SCN_ACTION) {
        switch (st->action) {
        case SCN_A_START: case SCN_A_RESTART:
            if (r->dev[st->dev].up) return 1;   /* already running: nothing to do */
            device_start(r, st->dev);
            return 1;
        case SCN_A_CRASH:
            child_kill(r, &r->dev[st->dev].c, st->dev);
            r->dev[st->dev].up = false;
            return 1;
        case SCN_A_SERVER_WRITE: case SCN_A_SERVER_DELETE:
            len = (size_t)snprintf(line, sizeof line, "%s %s %s %s", st->action == SCN_A_SERVER_WRITE ? "WRITE" : "DELETE",
                                   s->users[st->user], st->table, st->id);
            for (int k = 0; k < st->nkv && len < sizeof line; k++)
                len += (size_t)snprintf(line + len, sizeof line - len, " %s=%s", st->kv[k].key, st->kv[k].val);
            break;
        case SCN_A_SERVER_FAIL:
            snprintf(line, sizeof line, "FAIL %lld %d %lld", (long long)st->n, st->http_status ? st->http_status : 500,
                     (long long)(st->ms < 0 ? 0 : st->ms));
            break;
        case SCN_A_SERVER_REVOKE:
            snprintf(line, sizeof line, "REVOKE %s", s->devices[st->dev].name);
            break;
        default:
            /* A device action on a device that is not running: as in the
             * simulator, refused (nothing to send). */
            return 1;
        }
        if (ctl(r, line, ans, sizeof ans) != 0 || strcmp(ans, "OK") != 0)
            lerr(r, "line %d: server control '%s' answered '%s'", st->line, line, ans);
        return 1;
    }
    SS_ASSERT(st->kind == SCN_EXPECT);
    if (st->expect == SCN_E_REQUESTS) {
        ctl(r, "PING", ans, sizeof ans);   /* the server logged what it received */
        pump(r, 5);
        int64_t v = st->push ? r->npush : r->npull;
        snprintf(actual, n, "%lld", (long long)v);
        return v == st->n;
    }
    if (st->expect == SCN_E_SERVER_ROW || st->expect == SCN_E_SERVER_NO_ROW) {
        snprintf(line, sizeof line, "ROW %s %s %s", s->users[st->user], st->table, st->id);
        if (ctl(r, line, ans, sizeof ans) != 0) { snprintf(actual, n, "unreadable (the server does not answer)"); return 0; }
        if (strcmp(ans, "NOROW") == 0) { snprintf(actual, n, "absent"); return st->expect == SCN_E_SERVER_NO_ROW; }
        if (strncmp(ans, "ROW ", 4) != 0) { snprintf(actual, n, "unreadable (%.400s)", ans); return 0; }
        char v[16];
        bool del = kv_get(ans + 4, "deleted", v, sizeof v) && strcmp(v, "1") == 0;
        const char *f = row_fields(ans + 4, 3);
        snprintf(actual, n, "%s{%.400s}", del ? "tombstone " : "", f);
        if (st->expect == SCN_E_SERVER_NO_ROW) return 0;
        return row_match(f, del, st->kv, st->nkv);
    }
    /* A device expectation on its own (settle polling). */
    char cmd[LIVE_LINE_MAX];
    if (!stmt_command(r, st, cmd, sizeof cmd - 1)) { snprintf(actual, n, "has no live evaluator"); return 0; }
    strcat(cmd, "\n");
    int got = dev_batch(r, st->dev, cmd, 1);
    struct rdev *rd = &r->dev[st->dev];
    return eval_dev(r, st, got ? rd->ans[0].text : NULL, got ? rd->ans[0].nev : rd->nev, actual, n);
}

static bool settleable(const struct scn_stmt *st)
{
    return st->expect != SCN_E_NO_EVENT && st->expect != SCN_E_NO_ROW && st->expect != SCN_E_SERVER_NO_ROW;
}

static void record(struct lrun *r, int i, bool held, const char *actual)
{
    const struct scn_stmt *st = &r->s->stmts[i];
    r->res[i] = held ? R_HELD : R_FAILED;
    snprintf(r->actual[i], LIVE_ACTUAL_MAX, "%s", actual);
    if (!r->quiet) vlog(r, "line %d: %s: %s (%s)", st->line, src_line(r, st->line), held ? "ok" : "FAILED", actual);
    if (!held) r->stop = true;
}

/* Polls the failed expectations idx[0..n) until each holds or deadline. */
static void settle(struct lrun *r, const int *idx, const bool *held, char (*act)[LIVE_ACTUAL_MAX], int n, int64_t deadline)
{
    for (int k = 0; k < n && !r->err[0]; k++) {
        const struct scn_stmt *st = &r->s->stmts[idx[k]];
        bool ok = held[k];
        while (!ok && settleable(st) && mono_now() < deadline && !r->err[0]) {
            pump_until(r, mono_now() + LIVE_SETTLE_POLL_MS);
            ok = run_single(r, st, act[k], LIVE_ACTUAL_MAX) == 1;
        }
        record(r, idx[k], ok, act[k]);
        if (!ok) return;
    }
}

/* Runs statements [i, j) of one instant for device d as one batch. */
static void run_batch(struct lrun *r, int d, int i, int j)
{
    const struct scn *s = r->s;
    int cnt = j - i;
    char *lines = malloc((size_t)cnt * (LIVE_LINE_MAX + 1) + 1);
    int *slot = calloc((size_t)cnt, sizeof *slot);
    int *idx = calloc((size_t)cnt, sizeof *idx);
    bool *held = calloc((size_t)cnt, sizeof *held);
    char (*act)[LIVE_ACTUAL_MAX] = calloc((size_t)cnt, sizeof *act);
    if (!lines || !slot || !idx || !held || !act) { lerr(r, "out of memory"); goto done; }
    size_t len = 0;
    int nw = 0;
    lines[0] = 0;
    for (int k = i; k < j; k++) {
        char c[LIVE_LINE_MAX];
        stmt_command(r, &s->stmts[k], c, sizeof c);
        len += (size_t)snprintf(lines + len, LIVE_LINE_MAX + 1, "%s\n", c);
        slot[k - i] = nw++;
    }
    int got = dev_batch(r, d, lines, nw);
    struct rdev *rd = &r->dev[d];
    int ne = 0;
    for (int k = i; k < j; k++) {
        const struct scn_stmt *st = &s->stmts[k];
        if (st->kind != SCN_EXPECT) continue;
        int a = slot[k - i];
        idx[ne] = k;
        held[ne] = eval_dev(r, st, a < got ? rd->ans[a].text : NULL, a < got ? rd->ans[a].nev : rd->nev, act[ne], LIVE_ACTUAL_MAX);
        ne++;
    }
    r->quiet = true;
    if (!r->err[0]) settle(r, idx, held, act, ne, mono_now() + LIVE_SETTLE_MS);
    r->quiet = false;
    for (int k = i; k < j && r->verbose; k++) {   /* file order, as they ran */
        const struct scn_stmt *st = &s->stmts[k];
        if (st->kind == SCN_ACTION) { vlog(r, "line %d: %s  (batch)", st->line, src_line(r, st->line)); continue; }
        if (r->res[k] == R_NONE) break;
        vlog(r, "line %d: %s: %s (%s)", st->line, src_line(r, st->line), r->res[k] == R_HELD ? "ok" : "FAILED", r->actual[k]);
    }
done:
    free(lines); free(slot); free(idx); free(held); free(act);
}

static bool is_dev_command(const struct lrun *r, const struct scn_stmt *st, int *dev)
{
    char buf[LIVE_LINE_MAX];
    if (st->dev < 0 || !stmt_command(r, st, buf, sizeof buf)) return false;
    if (st->kind == SCN_ACTION && !r->dev[st->dev].up) return false;   /* refused: run_single */
    *dev = st->dev;
    return true;
}

static void live_body(struct lrun *r)
{
    const struct scn *s = r->s;
    for (int i = 0; i < s->nstmts && !r->stop;) {
        const struct scn_stmt *st = &s->stmts[i];
        pump_until(r, r->t0 + st->at_ms);
        int d;
        if (is_dev_command(r, st, &d)) {
            int j = i + 1, d2;
            while (j < s->nstmts && s->stmts[j].at_ms == st->at_ms && is_dev_command(r, &s->stmts[j], &d2) && d2 == d) j++;
            run_batch(r, d, i, j);
            i = j;
            continue;
        }
        char actual[LIVE_ACTUAL_MAX] = "";
        if (st->kind == SCN_ACTION) {
            vlog(r, "line %d: %s", st->line, src_line(r, st->line));
            run_single(r, st, actual, sizeof actual);
        } else {
            int idx = i;
            bool held = run_single(r, st, actual, sizeof actual) == 1;
            if (!r->err[0]) settle(r, &idx, &held, &actual, 1, mono_now() + LIVE_SETTLE_MS);
        }
        i++;
    }
}

static void live_cleanup(struct lrun *r)
{
    for (int d = 0; d < r->s->ndevices; d++) {
        struct rdev *rd = &r->dev[d];
        child_kill(r, &rd->c, d);
        if (rd->c.log) fclose(rd->c.log);
        for (int i = 0; i < rd->nans; i++) free(rd->ans[i].text);
        free(rd->ev);
    }
    child_kill(r, &r->srv, -1);
    if (r->srv.log) fclose(r->srv.log);
}

static void rm_dir(const char *dir)
{
    char cmd[700];
    if (!dir[0] || strncmp(dir, "/tmp/syncsim-cross.", 19) != 0) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {}
}

/* ---------------------------------------------------------- the check */

/* Expectation results of the simulator from its trace. */
static void sim_results(FILE *tf, const struct scn *s, enum res *res)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t k;
    rewind(tf);
    while ((k = getline(&line, &cap, tf)) > 0) {
        while (k > 0 && (line[k - 1] == '\n' || line[k - 1] == '\r')) line[--k] = 0;
        char *p = strstr(line, " scenario line ");
        if (!p) continue;
        int ln = atoi(p + 15);
        char *e = strchr(p + 15, ':');
        if (!e || strncmp(e, ": expect ", 9) != 0) continue;
        enum res v = k >= 4 && strcmp(line + k - 4, ": ok") == 0 ? R_HELD
                   : k >= 8 && strcmp(line + k - 8, ": FAILED") == 0 ? R_FAILED : R_NONE;
        for (int i = 0; i < s->nstmts; i++)
            if (s->stmts[i].line == ln && s->stmts[i].kind == SCN_EXPECT) { res[i] = v; break; }
    }
    free(line);
}

/* 0 agree (K in *k), 1 disagree or broken (why), 2 skipped (why). */
static int cross_one(const char *path, const struct scn *s, bool verbose, int *kount, char *why, size_t n)
{
    char reason[400];
    if (!s->live) { snprintf(why, n, "no '# live: yes' header"); return 2; }
    if (!expressible(s, reason, sizeof reason)) { snprintf(why, n, "live mode cannot express %s", reason); return 2; }

    /* 1. the simulator */
    enum res *simr = calloc((size_t)s->nstmts + 1, sizeof *simr);
    FILE *tf = tmpfile();
    struct scn_outcome out;
    if (!simr || !tf) { free(simr); if (tf) fclose(tf); snprintf(why, n, "out of memory"); return 1; }
    scn_run(s, path, tf, &out);
    sim_results(tf, s, simr);
    fclose(tf);
    if (!out.passed && out.line == 0) {
        snprintf(why, n, "the simulator failed outside an expectation: %s", out.message);
        free(simr);
        return 1;
    }

    /* 2. live */
    struct lrun *r = calloc(1, sizeof *r);
    if (!r) { free(simr); snprintf(why, n, "out of memory"); return 1; }
    r->s = s;
    r->verbose = verbose;
    r->res = calloc((size_t)s->nstmts + 1, sizeof *r->res);
    r->actual = calloc((size_t)s->nstmts + 1, sizeof *r->actual);
    child_init(&r->srv);
    for (int d = 0; d < SCN_MAX_DEVICES; d++) child_init(&r->dev[d].c);
    ssize_t el = readlink("/proc/self/exe", r->exe, sizeof r->exe - 1);
    snprintf(r->dir, sizeof r->dir, "/tmp/syncsim-cross.XXXXXX");
    int rc = 1;
    if (!r->res || !r->actual || el <= 0 || !mkdtemp(r->dir)) {
        snprintf(why, n, "cannot set up the live run: %s", strerror(errno));
        r->dir[0] = 0;
        goto done;
    }
    r->exe[el] = 0;
    live_clock_init();
    if (verbose) load_src(r, path);
    r->t0 = mono_now();
    if (verbose) printf("  live run of %s in %s\n", path, r->dir);
    if (server_start(r) == 0) {
        r->t0 = mono_now();   /* the scenario starts with the server up */
        live_body(r);
    }
    live_cleanup(r);

    /* 3. compare */
    if (r->err[0]) {
        snprintf(why, n, "live run broken: %s", r->err);
        goto done;
    }
    int k = 0;
    rc = 0;
    for (int i = 0; i < s->nstmts; i++) {
        const struct scn_stmt *st = &s->stmts[i];
        if (st->kind != SCN_EXPECT) continue;
        enum res a = simr[i], b = r->res[i];
        if (a == R_NONE && b == R_NONE) break;   /* both stopped before */
        if (a == b) { k++; if (a == R_FAILED) break; continue; }
        char sa[1200], la[LIVE_ACTUAL_MAX + 32];
        if (a == R_HELD) snprintf(sa, sizeof sa, "held");
        else if (a == R_FAILED) snprintf(sa, sizeof sa, "failed (%s)", out.message);
        else snprintf(sa, sizeof sa, "not reached");
        if (b == R_HELD) snprintf(la, sizeof la, "held");
        else if (b == R_FAILED) snprintf(la, sizeof la, "failed (was %s)", r->actual[i]);
        else snprintf(la, sizeof la, "not reached");
        snprintf(why, n, "line %d: sim says %s, live says %s", st->line, sa, la);
        rc = 1;
        break;
    }
    *kount = k;
    if (rc == 0 && !out.passed) snprintf(why, n, "both fail at line %d", out.line);
done:
    if (rc == 0 && !getenv("SYNCSIM_LIVE_KEEP")) rm_dir(r->dir);
    else if (r->dir[0]) snprintf(why + strlen(why), n - strlen(why), " [logs: %s]", r->dir);
    for (int i = 0; i <= r->nsrc && r->src; i++) free(r->src[i]);
    free(r->src);
    free(r->res);
    free(r->actual);
    free(r);
    free(simr);
    return rc;
}

int scn_live_files(char **files, int n, bool verbose)
{
    int passed = 0, failed = 0, skipped = 0;
    bool bad = false;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;   /* no SA_RESTART: poll() returns at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (int i = 0; i < n && !g_interrupted; i++) {
        struct scn s;
        struct scn_error err;
        const char *name = base_name(files[i]);
        if (scn_parse_file(files[i], &s, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            printf("FAIL %s: %s\n", name, err.msg);
            failed++;
            bad = true;
            continue;
        }
        if (s.name && s.name[0]) name = s.name;
        char why[2048] = "";
        int k = 0;
        int rc = cross_one(files[i], &s, verbose, &k, why, sizeof why);
        if (rc == 0) {
            printf("ok %s (sim and live agree: %d expectation%s%s%s)\n", name, k, k == 1 ? "" : "s", why[0] ? "; " : "", why);
            passed++;
        } else if (rc == 2) {
            printf("skip %s: %s\n", name, why);
            skipped++;
        } else {
            printf("FAIL %s: %s\n", name, why);
            failed++;
        }
        fflush(stdout);
        scn_free(&s);
    }
    printf("%d skipped\n", skipped);
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return bad ? 2 : failed ? 1 : 0;
}
