/*
 * event.c — structured events of SPEC §1.8 (COORD-8) in fixed storage, so
 * emitting never allocates, plus their one-line text form for traces.
 */
/* strnlen is POSIX 2008: the Makefile defines _GNU_SOURCE, other builds
 * (fuzz harnesses) may not. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "types.h"

/* SPEC §1.8: every event name tests and scenarios may use. The scenario
 * parser rejects anything else when the file is read (SPEC §4). */
const char *const ev_known_names[] = {
    "lock.acquired", "lock.released", "lock.queued", "lock.rejected",
    "lock.force_released", "lock.stale_cleared",
    "sync.started", "sync.fenced", "sync.push_sent", "sync.push_acked",
    "sync.pull_page", "sync.completed", "sync.failed",
    "initial.page", "initial.table_done", "initial.completed", "initial.retry",
    "initial.gave_up",
    "outbox.deadlettered",
    "conflict.detected", "conflict.resolved",
    "auth.login_refused", "app.write_refused",
    "breaker.opened", "breaker.half_open", "breaker.closed",
    "auth.logged_out", "toast", "status",
    "orch.status", "orch.health",
    NULL
};

int ev_name_known(const char *name)
{
    if (name == NULL)
        return 0;
    for (int i = 0; ev_known_names[i] != NULL; i++) {
        if (strcmp(name, ev_known_names[i]) == 0)
            return 1;
    }
    return 0;
}

void ev_init(struct event *e, const char *name)
{
    SS_ASSERT(e != NULL && name != NULL);
    SS_ASSERT(strnlen(name, EV_NAME_MAX + 1) <= EV_NAME_MAX);
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
}

static struct ev_field *find_field(struct event *e, const char *key)
{
    for (int i = 0; i < e->n; i++) {
        if (strcmp(e->f[i].key, key) == 0)
            return &e->f[i];
    }
    return NULL;
}

void ev_str(struct event *e, const char *key, const char *val)
{
    SS_ASSERT(e != NULL && key != NULL && key[0] != '\0');
    SS_ASSERT(strnlen(key, EV_KEY_MAX + 1) <= EV_KEY_MAX);
    /* A key given twice keeps one field (the last value), so a match or a
     * trace never sees two answers for one key. */
    struct ev_field *f = find_field(e, key);
    if (f == NULL) {
        SS_ASSERT(e->n >= 0 && e->n < EV_MAX_FIELDS);
        f = &e->f[e->n++];
        strcpy(f->key, key);
    }
    if (val == NULL)
        val = "";
    size_t len = strnlen(val, EV_VAL_MAX);  /* values truncate (event.h) */
    memcpy(f->val, val, len);
    f->val[len] = '\0';
}

void ev_int(struct event *e, const char *key, int64_t val)
{
    /* Decimal by hand: snprintf was a tenth of the fuzz harness's time. */
    char buf[24], *p = buf + sizeof buf;  /* -9223372036854775808 is 20 chars */
    uint64_t u = val < 0 ? 0 - (uint64_t)val : (uint64_t)val;
    *--p = '\0';
    do { *--p = (char)('0' + u % 10); u /= 10; } while (u);
    if (val < 0) *--p = '-';
    ev_str(e, key, p);
}

const char *ev_get(const struct event *e, const char *key)
{
    SS_ASSERT(e != NULL && key != NULL);
    SS_ASSERT(e->n >= 0 && e->n <= EV_MAX_FIELDS);
    for (int i = 0; i < e->n; i++) {
        if (strcmp(e->f[i].key, key) == 0)
            return e->f[i].val;
    }
    return NULL;
}

/* A bounded appender: writes what fits (leaving room for the NUL) and
 * remembers how much was written, so truncation is never an overrun. */
struct out {
    char *buf;
    size_t n, len;
};

static void put_char(struct out *o, char c)
{
    if (o->len + 1 < o->n)
        o->buf[o->len++] = c;
}

static void put_str(struct out *o, const char *s)
{
    for (; *s != '\0'; s++)
        put_char(o, *s);
}

static int needs_quotes(const char *v)
{
    if (v[0] == '\0')
        return 1;  /* `k=` alone would read as a missing value */
    for (; *v != '\0'; v++) {
        unsigned char c = (unsigned char)*v;
        if (c == ' ' || c == '"' || c < 0x20 || c == 0x7f)
            return 1;
    }
    return 0;
}

/* Quoted form: \" and \\ escaped; control bytes as \n, \t or \xHH so a
 * trace line stays one line. */
static void put_quoted(struct out *o, const char *v)
{
    put_char(o, '"');
    for (; *v != '\0'; v++) {
        unsigned char c = (unsigned char)*v;
        char esc[5];
        if (c == '"' || c == '\\') {
            put_char(o, '\\');
            put_char(o, (char)c);
        } else if (c == '\n') {
            put_str(o, "\\n");
        } else if (c == '\t') {
            put_str(o, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            put_str(o, esc);
        } else {
            put_char(o, (char)c);
        }
    }
    put_char(o, '"');
}

size_t ev_format(const struct event *e, char *buf, size_t n)
{
    SS_ASSERT(e != NULL && (buf != NULL || n == 0));
    SS_ASSERT(e->n >= 0 && e->n <= EV_MAX_FIELDS);
    struct out o = { buf, n, 0 };
    if (n == 0)
        return 0;
    put_str(&o, e->name);
    for (int i = 0; i < e->n; i++) {
        put_char(&o, ' ');
        put_str(&o, e->f[i].key);
        put_char(&o, '=');
        if (needs_quotes(e->f[i].val))
            put_quoted(&o, e->f[i].val);
        else
            put_str(&o, e->f[i].val);
    }
    SS_ASSERT(o.len < n);
    buf[o.len] = '\0';
    return o.len;
}

int ev_matches(const struct event *e, const struct event *want)
{
    SS_ASSERT(e != NULL && want != NULL);
    SS_ASSERT(want->n >= 0 && want->n <= EV_MAX_FIELDS);
    if (strcmp(e->name, want->name) != 0)
        return 0;
    for (int i = 0; i < want->n; i++) {
        const char *v = ev_get(e, want->f[i].key);
        if (v == NULL || strcmp(v, want->f[i].val) != 0)
            return 0;
    }
    return 1;
}
