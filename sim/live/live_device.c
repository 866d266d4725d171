/*
 * live_device.c — `syncsim live device`: one device's engine
 * (model/device.h) as a real process: a real SQLite file, the real clocks,
 * a loopback TCP connection to `syncsim live server`, and commands on stdin,
 * one per line, each answered by exactly one `ok …` or `err …` line on
 * stdout. Events are printed as they happen (`ev NAME k=v…`). The command
 * set is in sim/live/README.md.
 *
 * Networking is deliberately simple and honest: a request goes out on the
 * connection (opened on demand); if the server cannot be reached the bytes
 * are dropped and the model's own request timeout (RUN-6) deals with it, as
 * with a lost message in the simulator. A connection that breaks loses the
 * answers still in flight.
 */
#include "live.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "device.h"
#include "wire.h"

#define LIVE_EVLOG_MAX 20000

struct ldev {
    struct device *dev;
    sqlite3 *db;
    struct env env;
    struct config cfg;
    struct live_timers timers;
    struct table_decl tables[MAX_TABLES];
    int ntables;
    char name[NAME_MAX_LEN + 1];
    char user[NAME_MAX_LEN + 1];
    int port;
    int fd;                       /* -1: not connected */
    struct live_buf in, out;
    struct live_buf cmd;          /* stdin bytes not yet handled */
    bool stdin_eof;
    struct event *evlog;          /* for `wait` and `count` */
    int nev, evcap;
    /* A command that waits (wait, sleep) blocks the next ones, not the loop. */
    bool waiting;
    int64_t wait_until;
    struct event wait_ev;
    int wait_count;
    bool wait_is_sleep;
    bool quit;
};

static struct ldev *g_ld;

/* ---- env ---- */

static int64_t env_now(void *ctx) { return live_wall_ms(); }
static int64_t env_mono(void *ctx) { return live_mono_ms(); }
static uint64_t env_random(void *ctx) { return live_random(); }
static void env_set_timer(void *ctx, int id, int64_t at) { live_timer_set(&((struct ldev *)ctx)->timers, id, at); }
static void env_cancel_timer(void *ctx, int id) { live_timer_cancel(&((struct ldev *)ctx)->timers, id); }

static void conn_close(struct ldev *ld, const char *why)
{
    if (ld->fd < 0) return;
    close(ld->fd);
    ld->fd = -1;
    ld->in.len = 0;
    ld->out.len = 0;
    live_out("net disconnected %s", why);
}

static void env_send(void *ctx, const uint8_t *msg, size_t len)
{
    struct ldev *ld = ctx;
    if (ld->fd < 0) {
        ld->fd = live_connect(ld->port);
        if (ld->fd < 0) {
            live_out("net send_failed len=%zu (server unreachable: %s)", len, strerror(errno));
            return;
        }
        live_set_nonblock(ld->fd);
        live_out("net connected");
    }
    /* Written at once, so an event emitted after the send (sync.push_sent)
     * finds the bytes in the kernel: SYNCSIM_KILL_AT there kills a process
     * whose request is already on its way. */
    if (live_buf_add(&ld->out, msg, len) != 0 || live_buf_flush(&ld->out, ld->fd) != 0)
        conn_close(ld, "send");
}

static void env_emit(void *ctx, const struct event *e)
{
    struct ldev *ld = ctx;
    if (ld->nev < LIVE_EVLOG_MAX) {
        if (ld->nev == ld->evcap) {
            int cap = ld->evcap ? ld->evcap * 2 : 256;
            struct event *v = realloc(ld->evlog, (size_t)cap * sizeof *v);
            if (v) { ld->evlog = v; ld->evcap = cap; }
        }
        if (ld->nev < ld->evcap) ld->evlog[ld->nev++] = *e;
    }
    live_emit_line(e);
}

/* ---- commands ---- */

static const char *dev_err_name(int rc)
{
    switch (rc) {
    case DEV_OK: return "ok";
    case DEV_EREFUSED: return "refused";
    case DEV_EINVAL: return "invalid";
    case DEV_ESTORAGE: return "storage";
    case DEV_ESTATE: return "state";
    default: return "error";
    }
}

static void reply_rc(const char *cmd, int rc)
{
    if (rc == 0) live_out("ok %s", cmd);
    else live_out("err %s %s", cmd, dev_err_name(rc));
}


static void cmd_write(struct ldev *ld, char **av, int ac)
{
    const char *names[ROW_HARD_FIELDS], *values[ROW_HARD_FIELDS];
    int n = live_split_fields(av + 3, ac - 3, names, values);
    if (n < 0) { live_out("err write fields are k=v"); return; }
    int rc = dev_write(ld->dev, av[1], av[2], n, names, values);
    if (rc == 0) live_out("ok write op=%s:%llu", ld->name, (unsigned long long)dev_last_op_seq(ld->dev));
    else reply_rc("write", rc);
}

/* `writeloop TABLE N [PREFIX]`: N writes (0: until killed) as fast as the
 * disk allows, each acknowledged write printed `w OP` after dev_write
 * returned — the claim INV-DURABLE is checked against after a SIGKILL. */
static void cmd_writeloop(struct ldev *ld, char **av, int ac)
{
    long n = atol(av[2]);
    const char *prefix = ac > 3 ? av[3] : "k";
    long done = 0;
    for (long i = 1; n == 0 || i <= n; i++) {
        char id[ROW_ID_MAX + 1], val[32];
        snprintf(id, sizeof id, "%s-%ld", prefix, i);
        snprintf(val, sizeof val, "%ld", i);
        const char *names[1] = { "n" }, *values[1] = { val };
        int rc = dev_write(ld->dev, av[1], id, 1, names, values);
        if (rc != 0) { live_out("err writeloop %s at %ld", dev_err_name(rc), i); return; }
        live_out("w %s:%llu", ld->name, (unsigned long long)dev_last_op_seq(ld->dev));
        done++;
    }
    live_out("ok writeloop %ld", done);
}

static void cmd_login(struct ldev *ld, char **av, int ac)
{
    const char *user = ac > 1 ? av[1] : ld->user;
    char line[256], ans[256];
    if (!*user) { live_out("err login no user (--user or login USER)"); return; }
    snprintf(line, sizeof line, "AUTH %s %s", user, ld->name);
    if (live_roundtrip(ld->port, line, ans, sizeof ans) != 0) { live_out("err login unreachable"); return; }
    if (strncmp(ans, "TOKEN ", 6) != 0) { live_out("err login server %s", ans); return; }
    int rc = dev_login(ld->dev, user, ans + 6);
    if (rc == 0) snprintf(ld->user, sizeof ld->user, "%s", user);
    reply_rc("login", rc);
}

static int print_op(void *arg, const char *op, bool dead)
{
    struct live_buf *b = arg;
    char tmp[OP_ID_MAX + 16];
    int n = snprintf(tmp, sizeof tmp, " %s:%s", op, dead ? "dead" : "outbox");
    return live_buf_add(b, tmp, (size_t)n);
}

static void cmd_ops(struct ldev *ld)
{
    struct live_buf b = { 0 };
    live_buf_add(&b, "ok ops", 6);
    int rc = dev_foreach_op(ld->dev, print_op, &b);
    live_buf_add(&b, "\n", 1);
    if (rc < 0) live_out("err ops storage");
    else if (write(1, b.p, b.len) < 0) {}
    live_buf_free(&b);
}

static void cmd_row(struct ldev *ld, char **av)
{
    struct row r;
    memset(&r, 0, sizeof r);
    int rc = dev_get_row(ld->dev, av[1], av[2], &r);
    if (rc == 1) {
        char f[LIVE_LINE_MAX - 128];
        row_format(&r, f, sizeof f);
        live_out("ok row seq=%llu deleted=%d %s", (unsigned long long)r.seq, r.deleted, f);
    } else {
        live_out(rc == 0 ? "ok norow" : "err row storage");
    }
    row_free(&r);
}

static void cmd_integrity(struct ldev *ld)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ld->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) {
        live_out("err integrity %s", sqlite3_errmsg(ld->db));
        return;
    }
    char res[512] = "";
    if (sqlite3_step(st) == SQLITE_ROW) snprintf(res, sizeof res, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (strcmp(res, "ok") == 0) live_out("ok integrity ok");
    else live_out("err integrity %s", res);
}

static void cmd_state(struct ldev *ld)
{
    struct dev_state s;
    dev_get_state(ld->dev, &s);
    live_out("ok state started=%d session=%d user=%s online=%d initial=%d gave_up=%d lock=%s holder=%s "
             "followup=%s request=%d retry=%d debounce=%d outbox=%d deadletters=%d conflicts=%d unresolved=%d "
             "status=%s cursor=%llu completed_at=%lld generation=%llu",
             s.started, s.session, *s.user ? s.user : "-", s.online, s.initial_complete, s.initial_gave_up,
             s.lock_held ? "held" : "free", s.lock_held ? kind_name(s.holder) : "-",
             s.followup_pending ? kind_name(s.followup_kind) : "none", s.request_in_flight, s.retry_pending,
             s.debounce_pending, s.outbox, s.deadletters, s.conflicts, s.conflicts_unresolved,
             dev_status_name(s.status), (unsigned long long)s.cursor, (long long)s.initial_completed_at,
             (unsigned long long)s.generation);
}

/* `wait NAME [k=v…] [count=N] [timeout=MS]` and `count NAME [k=v…]`. */
static int parse_match(char **av, int ac, struct event *want, int *count, int64_t *timeout)
{
    ev_init(want, av[1]);
    *count = 1;
    *timeout = 10000;
    for (int i = 2; i < ac; i++) {
        char *eq = strchr(av[i], '=');
        if (!eq) return -1;
        *eq = 0;
        if (strcmp(av[i], "count") == 0) *count = atoi(eq + 1);
        else if (strcmp(av[i], "timeout") == 0) *timeout = atoll(eq + 1);
        else if (want->n < EV_MAX_FIELDS && strlen(av[i]) <= EV_KEY_MAX) ev_str(want, av[i], eq + 1);
        else return -1;
    }
    return 0;
}

static int count_matching(const struct ldev *ld, const struct event *want)
{
    int n = 0;
    for (int i = 0; i < ld->nev; i++) n += ev_matches(&ld->evlog[i], want) != 0;
    return n;
}

static void check_wait(struct ldev *ld)
{
    if (!ld->waiting) return;
    int64_t now = live_mono_ms();
    if (ld->wait_is_sleep) {
        if (now >= ld->wait_until) { ld->waiting = false; live_out("ok sleep"); }
        return;
    }
    int seen = count_matching(ld, &ld->wait_ev);
    if (seen >= ld->wait_count) { ld->waiting = false; live_out("ok wait %s", ld->wait_ev.name); }
    else if (now >= ld->wait_until) { ld->waiting = false; live_out("err wait timeout %s seen=%d", ld->wait_ev.name, seen); }
}

static void cmd_wait(struct ldev *ld, char **av, int ac, bool just_count)
{
    int64_t timeout;
    struct event want;
    int count;
    if (parse_match(av, ac, &want, &count, &timeout) != 0) { live_out("err %s bad k=v", av[0]); return; }
    if (just_count) { live_out("ok count %d", count_matching(ld, &want)); return; }
    ld->wait_ev = want;
    ld->wait_count = count;
    ld->wait_until = live_mono_ms() + timeout;
    ld->wait_is_sleep = false;
    ld->waiting = true;
    check_wait(ld);
}

static void cmd_trigger(struct ldev *ld, char **av, int ac)
{
    enum sync_kind k;
    if (ac != 2 || kind_parse(av[1], &k) != 0) { live_out("err trigger kind"); return; }
    dev_trigger(ld->dev, k);
    live_out("ok trigger %s", av[1]);
}

static void cmd_migrate(struct ldev *ld, char **av, int ac)
{
    struct table_decl t;
    char line[128], ans[128];
    if (ac != 3 || strcmp(av[1], "add-table") != 0 || live_parse_table(av[2], &t, NULL) != 0) {
        live_out("err migrate usage: migrate add-table NAME");
        return;
    }
    snprintf(line, sizeof line, "DECLARE %s", av[2]);
    if (live_roundtrip(ld->port, line, ans, sizeof ans) != 0 || strcmp(ans, "OK") != 0) {
        live_out("err migrate server");
        return;
    }
    reply_rc("migrate", dev_migrate_add_table(ld->dev, &t));
}

static void run_command(struct ldev *ld, char *line)
{
    char *av[ROW_MAX_FIELDS + 8];
    int ac = live_split(line, av, (int)(sizeof av / sizeof av[0]));
    if (ac == 0 || av[0][0] == '#') return;
    const char *c = av[0];
    if (strcmp(c, "write") == 0 && ac >= 3) cmd_write(ld, av, ac);
    else if (strcmp(c, "delete") == 0 && ac == 3) {
        int rc = dev_delete(ld->dev, av[1], av[2]);
        if (rc == 0) live_out("ok delete op=%s:%llu", ld->name, (unsigned long long)dev_last_op_seq(ld->dev));
        else reply_rc("delete", rc);
    }
    else if (strcmp(c, "writeloop") == 0 && ac >= 3) cmd_writeloop(ld, av, ac);
    else if (strcmp(c, "trigger") == 0) cmd_trigger(ld, av, ac);
    else if (strcmp(c, "online") == 0) { dev_set_online(ld->dev, true); live_out("ok online"); }
    else if (strcmp(c, "offline") == 0) { dev_set_online(ld->dev, false); live_out("ok offline"); }
    else if (strcmp(c, "login") == 0) cmd_login(ld, av, ac);
    else if (strcmp(c, "logout") == 0) reply_rc("logout", dev_logout(ld->dev));
    else if (strcmp(c, "cancel-initial") == 0) reply_rc("cancel-initial", dev_cancel_initial(ld->dev));
    else if (strcmp(c, "requeue") == 0) reply_rc("requeue", dev_requeue(ld->dev));
    else if (strcmp(c, "resolve") == 0 && ac == 4)
        reply_rc("resolve", dev_resolve(ld->dev, av[1], av[2], strcmp(av[3], "local") == 0));
    else if (strcmp(c, "migrate") == 0) cmd_migrate(ld, av, ac);
    else if (strcmp(c, "status") == 0) { struct dev_state s; dev_get_state(ld->dev, &s); live_out("ok status %s", dev_status_name(s.status)); }
    else if (strcmp(c, "state") == 0) cmd_state(ld);
    else if (strcmp(c, "outbox") == 0) { struct dev_state s; dev_get_state(ld->dev, &s); live_out("ok outbox %d", s.outbox); }
    else if (strcmp(c, "deadletters") == 0) { struct dev_state s; dev_get_state(ld->dev, &s); live_out("ok deadletters %d", s.deadletters); }
    else if (strcmp(c, "ops") == 0) cmd_ops(ld);
    else if (strcmp(c, "row") == 0 && ac == 3) cmd_row(ld, av);
    else if (strcmp(c, "integrity") == 0) cmd_integrity(ld);
    else if (strcmp(c, "wait") == 0 && ac >= 2) cmd_wait(ld, av, ac, false);
    else if (strcmp(c, "count") == 0 && ac >= 2) cmd_wait(ld, av, ac, true);
    else if (strcmp(c, "sleep") == 0 && ac == 2) {
        ld->wait_is_sleep = true;
        ld->waiting = true;
        ld->wait_until = live_mono_ms() + atoll(av[1]);
    }
    else if (strcmp(c, "quit") == 0) { live_out("ok quit"); ld->quit = true; }
    else live_out("err unknown command: %s", c);
}

/* Handles complete stdin lines until a command waits. */
static void run_commands(struct ldev *ld)
{
    while (!ld->waiting && !ld->quit && ld->cmd.len > 0) {
        uint8_t *nl = memchr(ld->cmd.p, '\n', ld->cmd.len);
        if (!nl && !ld->stdin_eof) return;
        size_t k = nl ? (size_t)(nl - ld->cmd.p) : ld->cmd.len;
        char line[LIVE_LINE_MAX + 1];
        size_t c = k > LIVE_LINE_MAX ? LIVE_LINE_MAX : k;
        memcpy(line, ld->cmd.p, c);
        line[c] = 0;
        live_buf_drop(&ld->cmd, nl ? k + 1 : k);
        run_command(ld, line);
    }
}

/* ---- the loop ---- */

static void net_input(struct ldev *ld)
{
    int r = live_buf_fill(&ld->in, ld->fd);
    for (;;) {
        long n = live_frame_len(&ld->in);
        if (n < 0) { conn_close(ld, "oversized frame"); return; }
        if (n == 0) break;
        uint8_t *frame = malloc((size_t)n);
        if (!frame) return;
        memcpy(frame, ld->in.p, (size_t)n);
        live_buf_drop(&ld->in, (size_t)n);
        dev_on_message(ld->dev, frame, (size_t)n);   /* may send, or even close */
        free(frame);
        if (ld->fd < 0) return;
    }
    if (r < 0) conn_close(ld, "eof");
}

static void loop(struct ldev *ld)
{
    while (!ld->quit) {
        run_commands(ld);
        if (ld->quit) break;
        if (ld->stdin_eof && ld->cmd.len == 0 && !ld->waiting) break;   /* script ended */
        int wait = live_timer_wait_ms(&ld->timers, live_mono_ms());
        if (ld->waiting && wait > 20) wait = 20;
        struct pollfd pf[2];
        int n = 0;
        int in_i = -1, net_i = -1;
        if (!ld->stdin_eof) { in_i = n; pf[n++] = (struct pollfd){ .fd = 0, .events = POLLIN }; }
        if (ld->fd >= 0) { net_i = n; pf[n++] = (struct pollfd){ .fd = ld->fd, .events = POLLIN | (ld->out.len ? POLLOUT : 0) }; }
        if (poll(pf, (nfds_t)n, wait) < 0 && errno != EINTR) return;
        int id;
        while ((id = live_timer_take_due(&ld->timers, live_mono_ms())) >= 0) dev_on_timer(ld->dev, id);
        if (net_i >= 0 && ld->fd >= 0 && (pf[net_i].revents & POLLOUT) && live_buf_flush(&ld->out, ld->fd) != 0)
            conn_close(ld, "send");
        if (net_i >= 0 && ld->fd >= 0 && (pf[net_i].revents & (POLLIN | POLLHUP | POLLERR))) net_input(ld);
        if (in_i >= 0 && (pf[in_i].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[4096];
            ssize_t r = read(0, buf, sizeof buf);
            if (r <= 0) ld->stdin_eof = true;
            else live_buf_add(&ld->cmd, buf, (size_t)r);
        }
        check_wait(ld);
    }
}

static int usage(const char *what)
{
    fprintf(stderr, "syncsim live device: %s\n"
            "usage: syncsim live device --db FILE --server 127.0.0.1:PORT --name NAME [--user U] "
            "[--table NAME[:rw|ro][:STRATEGY]]… [--config k=v]… [--seed S]\n", what);
    return 2;
}

static int parse_args(struct ldev *ld, int argc, char **argv, const char **db)
{
    *db = NULL;
    ld->port = -1;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char err[160];
        if (!v) return usage("an option lacks its value");
        i++;
        if (strcmp(a, "--db") == 0) *db = v;
        else if (strcmp(a, "--server") == 0) { if (live_parse_addr(v, &ld->port) != 0) return usage("--server takes 127.0.0.1:PORT"); }
        else if (strcmp(a, "--name") == 0) snprintf(ld->name, sizeof ld->name, "%s", v);
        else if (strcmp(a, "--user") == 0) snprintf(ld->user, sizeof ld->user, "%s", v);
        else if (strcmp(a, "--seed") == 0) live_random_seed(strtoull(v, NULL, 0));
        else if (strcmp(a, "--table") == 0) {
            if (ld->ntables >= MAX_TABLES || live_parse_table(v, &ld->tables[ld->ntables], NULL) != 0)
                return usage("bad --table");
            ld->ntables++;
        } else if (strcmp(a, "--config") == 0) {
            if (config_set_kv(&ld->cfg, v, err, sizeof err) != 0) return usage(err);
        } else return usage("unknown option");
    }
    if (!*db || ld->port < 0 || !ld->name[0]) return usage("--db, --server and --name are required");
    return 0;
}

int live_device_main(int argc, char **argv)
{
    static struct ldev ld;
    const char *dbpath;
    char err[256];
    g_ld = &ld;
    ld.fd = -1;
    config_default(&ld.cfg);
    live_clock_init();
    live_kill_at_init();
    if (parse_args(&ld, argc, argv, &dbpath) != 0) return 2;
    if (ld.ntables == 0) ld.ntables = table_defaults(ld.tables, MAX_TABLES);
    signal(SIGPIPE, SIG_IGN);
    ld.env = (struct env){ .ctx = &ld, .now_ms = env_now, .mono_ms = env_mono, .random = env_random,
                           .set_timer = env_set_timer, .cancel_timer = env_cancel_timer,
                           .send = env_send, .emit = env_emit };
    if (sqlite3_open_v2(dbpath, &ld.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        fprintf(stderr, "syncsim live device: %s: %s\n", dbpath, sqlite3_errmsg(ld.db));
        return 1;
    }
    ld.dev = dev_open(ld.db, &ld.env, &ld.cfg, ld.name, ld.tables, ld.ntables, err, sizeof err);
    if (!ld.dev) { fprintf(stderr, "syncsim live device: %s\n", err); return 1; }
    live_out("dev started name=%s pid=%ld", ld.name, (long)getpid());
    dev_start(ld.dev);
    loop(&ld);
    if (ld.fd >= 0) close(ld.fd);
    dev_close(ld.dev);
    sqlite3_close(ld.db);
    free(ld.evlog);
    live_buf_free(&ld.in);
    live_buf_free(&ld.out);
    live_buf_free(&ld.cmd);
    return 0;
}
