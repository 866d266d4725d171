/*
 * live_io.c — what the live server and device processes share (live.h):
 * real clocks, randomness, the timer table, loopback sockets, frames,
 * unbuffered output lines and SYNCSIM_KILL_AT.
 */
#include "live.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

/* ---- clocks and randomness ---- */

static int64_t clock_ms(clockid_t c)
{
    struct timespec ts;
    int rc = clock_gettime(c, &ts);
    SS_ASSERT(rc == 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_base;

void live_clock_init(void) { mono_base = clock_ms(CLOCK_MONOTONIC); }
int64_t live_wall_ms(void) { return clock_ms(CLOCK_REALTIME); }

int64_t live_mono_ms(void)
{
    /* libfaketime may move CLOCK_MONOTONIC backwards when its offset file
     * changes; the model's monotonic clock never goes back (env.h). */
    static int64_t last;
    int64_t m = clock_ms(CLOCK_MONOTONIC) - mono_base;
    if (m < last) m = last;
    last = m;
    return m;
}

static bool seeded;
static uint64_t prng;

void live_random_seed(uint64_t seed) { seeded = true; prng = seed; }

uint64_t live_random(void)
{
    if (seeded) {   /* splitmix64 */
        uint64_t z = (prng += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    uint64_t v = 0;
    ssize_t n;
    do n = getrandom(&v, sizeof v, 0); while (n < 0 && errno == EINTR);
    SS_ASSERT(n == (ssize_t)sizeof v);
    return v;
}

/* ---- timers ---- */

void live_timer_set(struct live_timers *t, int id, int64_t at)
{
    SS_ASSERT(id >= 0 && id < LIVE_MAX_TIMERS);
    t->armed[id] = true;
    t->at[id] = at;
}

void live_timer_cancel(struct live_timers *t, int id)
{
    SS_ASSERT(id >= 0 && id < LIVE_MAX_TIMERS);
    t->armed[id] = false;
}

int live_timer_wait_ms(const struct live_timers *t, int64_t now)
{
    int64_t wait = LIVE_POLL_CAP_MS;
    for (int i = 0; i < LIVE_MAX_TIMERS; i++)
        if (t->armed[i] && t->at[i] - now < wait) wait = t->at[i] - now;
    return wait < 0 ? 0 : (int)wait;
}

int live_timer_take_due(struct live_timers *t, int64_t now)
{
    int best = -1;
    for (int i = 0; i < LIVE_MAX_TIMERS; i++)
        if (t->armed[i] && t->at[i] <= now && (best < 0 || t->at[i] < t->at[best])) best = i;
    if (best >= 0) t->armed[best] = false;
    return best;
}

/* ---- output ---- */

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

void live_out(const char *fmt, ...)
{
    char buf[LIVE_LINE_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    write_all(1, buf, (size_t)n);
}

static char kill_name[EV_NAME_MAX + 1];
static long kill_nth, kill_seen;

void live_kill_at_init(void)
{
    const char *s = getenv("SYNCSIM_KILL_AT");
    if (!s || !*s) return;
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    if (n > EV_NAME_MAX) n = EV_NAME_MAX;
    memcpy(kill_name, s, n);
    kill_name[n] = 0;
    kill_nth = colon ? strtol(colon + 1, NULL, 10) : 1;
    if (kill_nth < 1) kill_nth = 1;
}

void live_emit_line(const struct event *e)
{
    char buf[1024];
    ev_format(e, buf, sizeof buf);
    live_out("ev %s", buf);
    if (kill_name[0] && strcmp(kill_name, e->name) == 0 && ++kill_seen == kill_nth) {
        live_out("killed at %s:%ld", kill_name, kill_nth);
        raise(SIGKILL);   /* SYNCSIM_KILL_AT: die for real, at this event */
    }
}

/* ---- sockets ---- */

int live_parse_addr(const char *s, int *port)
{
    const char *pre = "127.0.0.1:";
    if (!s || strncmp(s, pre, strlen(pre)) != 0) return -1;
    char *end;
    long p = strtol(s + strlen(pre), &end, 10);
    if (*end || p < 0 || p > 65535) return -1;
    *port = (int)p;
    return 0;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int live_listen(int port, int *bound_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = loopback(port);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0) {
        close(fd);
        return -1;
    }
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *bound_port = ntohs(a.sin_port);
    live_set_nonblock(fd);
    return fd;
}

int live_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = loopback(port);
    int rc;
    do rc = connect(fd, (struct sockaddr *)&a, sizeof a); while (rc != 0 && errno == EINTR);
    if (rc != 0) { close(fd); return -1; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

void live_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int live_buf_add(struct live_buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

void live_buf_drop(struct live_buf *b, size_t n)
{
    SS_ASSERT(n <= b->len);
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

void live_buf_free(struct live_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int live_buf_flush(struct live_buf *b, int fd)
{
    while (b->len > 0) {
        ssize_t w = send(fd, b->p, b->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (w <= 0) return -1;
        live_buf_drop(b, (size_t)w);
    }
    return 0;
}

int live_buf_fill(struct live_buf *b, int fd)
{
    uint8_t tmp[65536];
    ssize_t r;
    do r = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT); while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (r <= 0) return -1;
    return live_buf_add(b, tmp, (size_t)r) == 0 ? 1 : -1;
}

long live_frame_len(const struct live_buf *b)
{
    if (b->len < 4) return 0;
    uint32_t n = ((uint32_t)b->p[0] << 24) | ((uint32_t)b->p[1] << 16) | ((uint32_t)b->p[2] << 8) | b->p[3];
    if (n > WIRE_MAX_MSG) return -1;
    return b->len >= 4 + (size_t)n ? (long)(4 + n) : 0;
}

int live_roundtrip(int port, const char *line, char *ans, size_t n)
{
    int fd = live_connect(port);
    if (fd < 0) return -1;
    struct live_buf out = { 0 }, in = { 0 };
    int rc = -1;
    live_set_nonblock(fd);
    if (live_buf_add(&out, line, strlen(line)) != 0 || live_buf_add(&out, "\n", 1) != 0) goto done;
    int64_t deadline = live_mono_ms() + LIVE_IO_TIMEOUT_MS;
    for (;;) {
        if (live_buf_flush(&out, fd) != 0) goto done;
        uint8_t *nl = in.len ? memchr(in.p, '\n', in.len) : NULL;
        if (nl) {
            size_t k = (size_t)(nl - in.p);
            if (k >= n) k = n - 1;
            memcpy(ans, in.p, k);
            ans[k] = 0;
            rc = 0;
            goto done;
        }
        int64_t left = deadline - live_mono_ms();
        if (left <= 0) goto done;
        struct pollfd p = { .fd = fd, .events = POLLIN | (out.len ? POLLOUT : 0) };
        if (poll(&p, 1, (int)(left < 100 ? left : 100)) < 0 && errno != EINTR) goto done;
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && live_buf_fill(&in, fd) < 0) {
            if (!in.len || !memchr(in.p, '\n', in.len)) goto done;
        }
    }
done:
    close(fd);
    live_buf_free(&out);
    live_buf_free(&in);
    return rc;
}

/* ---- parsing ---- */

int live_split(char *s, char **argv, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, " \t\r\n", &save); t && n < max; t = strtok_r(NULL, " \t\r\n", &save))
        argv[n++] = t;
    return n;
}

int live_parse_table(const char *s, struct table_decl *t, int *rows)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    memset(t, 0, sizeof *t);
    if (rows) *rows = 0;
    char *save = NULL;
    char *name = strtok_r(buf, ":", &save);
    if (!name || strlen(name) > NAME_MAX_LEN) return -1;
    snprintf(t->name, sizeof t->name, "%s", name);
    /* The defaults: products and prices are read-only (SPEC §1.1). */
    t->read_only = strcmp(name, "products") == 0 || strcmp(name, "prices") == 0;
    t->strategy = STRAT_LWW;
    for (char *p = strtok_r(NULL, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        enum strategy st;
        char *end;
        long v = strtol(p, &end, 10);
        if (strcmp(p, "rw") == 0) t->read_only = false;
        else if (strcmp(p, "ro") == 0) t->read_only = true;
        else if (strategy_parse(p, &st) == 0) t->strategy = st;
        else if (*p && !*end && v >= 0 && v <= 1000000) { if (rows) *rows = (int)v; }
        else return -1;
    }
    return 0;
}

/* Splits "k=v" words in place into name/value pairs (at most
 * ROW_HARD_FIELDS); the count, or -1 when a word has no '='. */
int live_split_fields(char **av, int ac, const char **names, const char **values)
{
    int n = 0;
    for (int i = 0; i < ac && n < ROW_HARD_FIELDS; i++) {
        char *eq = strchr(av[i], '=');
        if (!eq) return -1;
        *eq = 0;
        names[n] = av[i];
        values[n++] = eq + 1;
    }
    return n;
}
