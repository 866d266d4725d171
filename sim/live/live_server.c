/*
 * live_server.c — `syncsim live server`: the model's server (model/server.h)
 * as a real process on a loopback TCP port, its database a real SQLite file.
 *
 * One port, two kinds of connection, told apart by the first byte: a wire
 * frame starts with its u32 big-endian length (first byte 0x00 for any
 * frame ≤ 1 MiB); a control connection starts with an upper-case letter and
 * speaks lines (AUTH for login, ROW/SEQ/OPSEEN for tests, WRITE/DELETE/
 * REVOKE/FAIL/DECLARE for scenarios). Control is live-only, never in
 * model/wire (sim/live/README.md).
 *
 * Output on stdout, one line each: `srv listening 127.0.0.1:PORT`, every
 * request (`srv req …`), every commit (`srv commit …`, from srv_set_observer
 * — what the tests count for INV-ONCE), every control line's answer.
 */
#include "live.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sqlite3.h>

#include "server.h"
#include "wire.h"

#define LIVE_MAX_CLIENTS 64

enum conn_mode { CM_NEW = 0, CM_FRAME, CM_LINE };

struct client {
    int fd;
    enum conn_mode mode;
    struct live_buf in, out;
};

struct lsrv {
    struct srv *srv;
    sqlite3 *db;
    struct env env;
    struct config cfg;
    struct live_timers timers;
    struct table_decl tables[MAX_TABLES];
    int rows[MAX_TABLES];
    int ntables;
    int lfd;
    struct client cl[LIVE_MAX_CLIENTS];
    int ncl;
    int fail_n, fail_status;        /* `server fail N [status S]` */
    bool seeding;                   /* seeded rows are summarised, not logged */
    int64_t fail_retry_after;
};

static int64_t env_now(void *ctx) { return live_wall_ms(); }
static int64_t env_mono(void *ctx) { return live_mono_ms(); }
static uint64_t env_random(void *ctx) { return live_random(); }
static void env_set_timer(void *ctx, int id, int64_t at) { live_timer_set(&((struct lsrv *)ctx)->timers, id, at); }
static void env_cancel_timer(void *ctx, int id) { live_timer_cancel(&((struct lsrv *)ctx)->timers, id); }
static void env_emit(void *ctx, const struct event *e) { live_emit_line(e); }

static void on_commit(void *arg, const char *user, const char *op_id, const struct push_item *item,
                      const struct row *w, enum push_outcome outcome)
{
    if (((struct lsrv *)arg)->seeding) return;
    live_out("srv commit user=%s op=%s outcome=%s table=%s id=%s seq=%llu", user, *op_id ? op_id : "-",
             push_outcome_name(outcome), w->table, w->id, (unsigned long long)w->seq);
}

static int usage(const char *what)
{
    fprintf(stderr, "syncsim live server: %s\n"
            "usage: syncsim live server --db FILE --listen 127.0.0.1:PORT [--table NAME[:rw|ro][:ROWS][:STRATEGY]]… "
            "[--config k=v]… [--seed S]\n", what);
    return 2;
}

static int parse_args(struct lsrv *s, int argc, char **argv, const char **db, int *port)
{
    *db = NULL;
    *port = -1;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char err[160];
        if (!v) return usage("an option lacks its value");
        i++;
        if (strcmp(a, "--db") == 0) *db = v;
        else if (strcmp(a, "--listen") == 0) { if (live_parse_addr(v, port) != 0) return usage("--listen takes 127.0.0.1:PORT"); }
        else if (strcmp(a, "--seed") == 0) live_random_seed(strtoull(v, NULL, 0));
        else if (strcmp(a, "--table") == 0) {
            if (s->ntables >= MAX_TABLES || live_parse_table(v, &s->tables[s->ntables], &s->rows[s->ntables]) != 0)
                return usage("bad --table");
            s->ntables++;
        } else if (strcmp(a, "--config") == 0) {
            if (config_set_kv(&s->cfg, v, err, sizeof err) != 0) return usage(err);
        } else return usage("unknown option");
    }
    if (!*db || *port < 0) return usage("--db and --listen are required");
    return 0;
}

/* ---- frames ---- */

static void log_request(const uint8_t *p, size_t n)
{
    struct wire_msg m;
    struct wire_err err;
    if (wire_decode(p, n, &m, &err) != 0) {
        live_out("srv req malformed %s", err.what);
    } else if (m.type == WIRE_PUSH_REQ) {
        char ops[512] = "";
        size_t len = 0;
        for (int i = 0; i < m.nitems && len + OP_ID_MAX + 2 < sizeof ops; i++)
            len += (size_t)snprintf(ops + len, sizeof ops - len, "%s%s", i ? "," : "", m.items[i].op_id);
        live_out("srv req push items=%d ops=%s", m.nitems, ops);
    } else if (m.type == WIRE_PULL_REQ) {
        live_out("srv req pull cursor=%llu", (unsigned long long)m.cursor);
    } else if (m.type == WIRE_PAGE_REQ) {
        live_out("srv req page table=%s after=%llu", m.table, (unsigned long long)m.after_seq);
    } else {
        live_out("srv req type=%d", (int)m.type);
    }
    wire_msg_free(&m);
}

static void handle_frame(struct lsrv *s, struct client *c, const uint8_t *p, size_t n)
{
    log_request(p, n);
    uint8_t *resp = NULL;
    size_t rlen = 0;
    enum wire_type type;
    uint64_t req_id;
    if (s->fail_n > 0 && wire_peek(p, n, &type, &req_id) == 0) {
        /* `server fail N`: answered with the status, nothing changes. */
        s->fail_n--;
        struct wire_msg m;
        wire_msg_init(&m, WIRE_ERROR_RESP);
        m.req_id = req_id;
        m.status = s->fail_status;
        m.retry_after_ms = s->fail_retry_after;
        snprintf(m.text, sizeof m.text, "injected");
        int rc = wire_encode(&m, &resp, &rlen);
        wire_msg_free(&m);
        if (rc != 0) return;
        live_out("srv fail status=%d", s->fail_status);
    } else if (srv_handle(s->srv, p, n, &resp, &rlen) != 0) {
        return;
    }
    live_buf_add(&c->out, resp, rlen);
    free(resp);
}

/* ---- control lines ---- */

static void seed_user(struct lsrv *s, const char *user)
{
    if (srv_user_seq(s->srv, user) != 0) return;   /* seeded, or has data already */
    s->seeding = true;
    for (int t = 0; t < s->ntables; t++) {
        if (s->rows[t] <= 0) continue;
        if (srv_seed_rows(s->srv, user, s->tables[t].name, s->rows[t]) != 0)
            live_out("srv error seed %s: %s", user, srv_errmsg(s->srv));
        else
            live_out("srv seeded user=%s table=%s rows=%d", user, s->tables[t].name, s->rows[t]);
    }
    s->seeding = false;
}

static void answer(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void answer(struct client *c, const char *fmt, ...)
{
    char buf[LIVE_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    live_buf_add(&c->out, buf, (size_t)n);
}

static void ctl_row(struct lsrv *s, struct client *c, char **av)
{
    struct row r;
    memset(&r, 0, sizeof r);
    int rc = srv_get_row(s->srv, av[1], av[2], av[3], &r);
    if (rc == 1) {
        char f[LIVE_LINE_MAX - 128];
        row_format(&r, f, sizeof f);
        answer(c, "ROW seq=%llu deleted=%d by=%s %s", (unsigned long long)r.seq, r.deleted, r.st.by, f);
    } else {
        answer(c, rc == 0 ? "NOROW" : "ERR %s", srv_errmsg(s->srv));
    }
    row_free(&r);
}


static void ctl_line(struct lsrv *s, struct client *c, char *line)
{
    char *av[ROW_MAX_FIELDS + 8];
    int ac = live_split(line, av, (int)(sizeof av / sizeof av[0]));
    if (ac == 0) return;
    const char *cmd = av[0];
    if (strcmp(cmd, "PING") == 0) { answer(c, "PONG"); return; }
    if (strcmp(cmd, "AUTH") == 0 && ac == 3) {
        char token[TOKEN_MAX + 1];
        if (srv_issue_token(s->srv, av[1], av[2], token, sizeof token) != 0) { answer(c, "ERR %s", srv_errmsg(s->srv)); return; }
        seed_user(s, av[1]);
        live_out("srv auth user=%s device=%s", av[1], av[2]);
        answer(c, "TOKEN %s", token);
        return;
    }
    if (strcmp(cmd, "ROW") == 0 && ac == 4) { ctl_row(s, c, av); return; }
    if (strcmp(cmd, "SEQ") == 0 && ac == 2) { answer(c, "SEQ %llu", (unsigned long long)srv_user_seq(s->srv, av[1])); return; }
    if (strcmp(cmd, "OPSEEN") == 0 && ac == 3) { answer(c, "OPSEEN %d", srv_op_seen(s->srv, av[1], av[2])); return; }
    if ((strcmp(cmd, "WRITE") == 0 || strcmp(cmd, "DELETE") == 0) && ac >= 4) {
        const char *names[ROW_HARD_FIELDS], *values[ROW_HARD_FIELDS];
        int n = live_split_fields(av + 4, ac - 4, names, values);
        if (n < 0) { answer(c, "ERR fields are k=v"); return; }
        bool del = strcmp(cmd, "DELETE") == 0;
        int rc = srv_write(s->srv, av[1], av[2], av[3], n, names, values, del, "server");
        if (rc == 0) answer(c, "OK"); else answer(c, "ERR %s", srv_errmsg(s->srv));
        return;
    }
    if (strcmp(cmd, "REVOKE") == 0 && ac == 2) {
        if (srv_revoke_device(s->srv, av[1]) == 0) answer(c, "OK"); else answer(c, "ERR %s", srv_errmsg(s->srv));
        return;
    }
    if (strcmp(cmd, "FAIL") == 0 && ac >= 2) {
        s->fail_n = atoi(av[1]);
        s->fail_status = ac >= 3 ? atoi(av[2]) : 500;
        s->fail_retry_after = ac >= 4 ? atoll(av[3]) : 0;
        answer(c, "OK");
        return;
    }
    if (strcmp(cmd, "DECLARE") == 0 && ac == 2) {
        struct table_decl t;
        if (live_parse_table(av[1], &t, NULL) != 0 || srv_declare_table(s->srv, &t) != 0) { answer(c, "ERR declare"); return; }
        answer(c, "OK");
        return;
    }
    answer(c, "ERR unknown command %s", cmd);
}

/* ---- connections ---- */

static void client_close(struct lsrv *s, int i)
{
    close(s->cl[i].fd);
    live_buf_free(&s->cl[i].in);
    live_buf_free(&s->cl[i].out);
    s->cl[i] = s->cl[--s->ncl];
    memset(&s->cl[s->ncl], 0, sizeof s->cl[s->ncl]);
}

/* Handles what c's input holds; -1 closes the connection. */
static int client_input(struct lsrv *s, struct client *c)
{
    for (;;) {
        if (c->in.len == 0) return 0;
        if (c->mode == CM_NEW) c->mode = c->in.p[0] >= 'A' && c->in.p[0] <= 'Z' ? CM_LINE : CM_FRAME;
        if (c->mode == CM_FRAME) {
            long n = live_frame_len(&c->in);
            if (n < 0) return -1;   /* SRV-4: over 1 MiB — we cannot even read it */
            if (n == 0) return 0;
            handle_frame(s, c, c->in.p, (size_t)n);
            live_buf_drop(&c->in, (size_t)n);
        } else {
            uint8_t *nl = memchr(c->in.p, '\n', c->in.len);
            if (!nl) return c->in.len > LIVE_LINE_MAX ? -1 : 0;
            size_t k = (size_t)(nl - c->in.p);
            char line[LIVE_LINE_MAX + 1];
            memcpy(line, c->in.p, k);
            line[k] = 0;
            live_buf_drop(&c->in, k + 1);
            ctl_line(s, c, line);
        }
    }
}

static void accept_all(struct lsrv *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        if (s->ncl >= LIVE_MAX_CLIENTS) { close(fd); continue; }
        s->cl[s->ncl++] = (struct client){ .fd = fd };
    }
}

static void serve(struct lsrv *s)
{
    struct pollfd pf[LIVE_MAX_CLIENTS + 1];
    for (;;) {
        int64_t now = live_mono_ms();
        int wait = live_timer_wait_ms(&s->timers, now);
        pf[0] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
        int n = s->ncl;
        for (int i = 0; i < n; i++)
            pf[i + 1] = (struct pollfd){ .fd = s->cl[i].fd, .events = POLLIN | (s->cl[i].out.len ? POLLOUT : 0) };
        if (poll(pf, (nfds_t)n + 1, wait) < 0 && errno != EINTR) return;
        /* The model's server sets no timers today; the table is there for
         * the orchestrator (ORCH-*), which has no on_timer entry yet. */
        while (live_timer_take_due(&s->timers, live_mono_ms()) >= 0) {}
        for (int i = n - 1; i >= 0; i--) {
            struct client *c = &s->cl[i];
            bool dead = false;
            if (pf[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) {
                int r = live_buf_fill(&c->in, c->fd);
                if (client_input(s, c) != 0) dead = true;
                if (r < 0) { live_buf_flush(&c->out, c->fd); dead = true; }
            }
            if (!dead && live_buf_flush(&c->out, c->fd) != 0) dead = true;
            if (dead) client_close(s, i);
        }
        if (pf[0].revents & POLLIN) accept_all(s);
    }
}

int live_server_main(int argc, char **argv)
{
    static struct lsrv s;
    const char *dbpath;
    int port, bound;
    char err[256];
    config_default(&s.cfg);
    live_clock_init();
    live_kill_at_init();
    if (parse_args(&s, argc, argv, &dbpath, &port) != 0) return 2;
    if (s.ntables == 0) s.ntables = table_defaults(s.tables, MAX_TABLES);
    signal(SIGPIPE, SIG_IGN);
    s.env = (struct env){ .ctx = &s, .now_ms = env_now, .mono_ms = env_mono, .random = env_random,
                          .set_timer = env_set_timer, .cancel_timer = env_cancel_timer, .emit = env_emit };
    if (sqlite3_open_v2(dbpath, &s.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        fprintf(stderr, "syncsim live server: %s: %s\n", dbpath, sqlite3_errmsg(s.db));
        return 1;
    }
    sqlite3_busy_timeout(s.db, 2000);
    s.srv = srv_open(s.db, &s.env, &s.cfg, err, sizeof err);
    if (!s.srv) { fprintf(stderr, "syncsim live server: %s\n", err); return 1; }
    srv_set_observer(s.srv, on_commit, &s);
    for (int t = 0; t < s.ntables; t++)
        if (srv_declare_table(s.srv, &s.tables[t]) != 0) { fprintf(stderr, "declare: %s\n", srv_errmsg(s.srv)); return 1; }
    s.lfd = live_listen(port, &bound);
    if (s.lfd < 0) { fprintf(stderr, "syncsim live server: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno)); return 1; }
    live_out("srv listening 127.0.0.1:%d", bound);
    serve(&s);
    srv_close(s.srv);
    sqlite3_close(s.db);
    return 1;
}
