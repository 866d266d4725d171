/*
 * config.c — the SPEC constants, their defaults, and setting them by name
 * from scenarios (`config key=value`) and the CLI.
 */
/* strnlen is POSIX 2008: the Makefile defines _GNU_SOURCE, other builds
 * (fuzz harnesses) may not. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

/* Upper bound of any duration: a year of simulated time is far past every
 * run, and keeps sums of durations (now + delay) far from int64 overflow. */
#define CONFIG_DURATION_MAX_MS (366LL * 24 * 3600 * 1000)
/* SRV-4: a batch or page of more than 1000 items is refused by the server,
 * so no count may be configured above it. */
#define CONFIG_COUNT_MAX 1000
/* Longest value quoted back in an error message. */
#define CONFIG_ECHO_MAX 40
#define DURATION_TEXT_MAX 64

void config_default(struct config *c)
{
    SS_ASSERT(c != NULL);
    memset(c, 0, sizeof *c);
    c->cooldown_ms = COORD_COOLDOWN_MS;
    c->lock_timeout_ms = COORD_LOCK_TIMEOUT_MS;
    c->debounce_ms = OUT_DEBOUNCE_MS;
    c->push_batch = OUT_PUSH_BATCH;
    c->max_retries = OUT_MAX_RETRIES;
    c->background_interval_ms = OUT_BACKGROUND_INTERVAL_MS;
    c->pull_page = RUN_PULL_PAGE;
    c->request_timeout_ms = RUN_REQUEST_TIMEOUT_MS;
    c->backoff_base_ms = RUN_BACKOFF_BASE_MS;
    c->backoff_cap_ms = RUN_BACKOFF_CAP_MS;
    c->jitter_pct = RUN_JITTER_PCT;
    c->breaker_threshold = RUN_BREAKER_THRESHOLD;
    c->breaker_open_ms = RUN_BREAKER_OPEN_MS;
    c->initial_retry_ms[0] = 2000;  /* INIT-3: 2 s, 5 s, 15 s */
    c->initial_retry_ms[1] = 5000;
    c->initial_retry_ms[2] = 15000;
    c->clock = CLOCK_WALL;          /* CONF-4: wall is the default */
    c->orch_timeout_ms = ORCH_TIMEOUT_MS;
    c->erp_delay_ms = ORCH_ERP_DELAY_MS;
    c->quiesce_limit_ms = SIM_QUIESCE_LIMIT_MS;
    SS_ASSERT(c->backoff_base_ms <= c->backoff_cap_ms);
}

/* Units of SPEC §4, largest first: a duration lists them in this order,
 * each at most once ("1m30s", never "30s1m"). */
static const struct { const char *name; int64_t ms; } duration_units[] = {
    { "h", 3600000 }, { "ms", 1 }, { "m", 60000 }, { "s", 1000 },
};
/* Rank for the strictly-descending check (h > m > s > ms). */
static int unit_rank(int64_t unit_ms)
{
    return unit_ms == 3600000 ? 4 : unit_ms == 60000 ? 3 : unit_ms == 1000 ? 2 : 1;
}

/* Reads one unit at *p ("ms" is tried before "m"); 0 if none. */
static int64_t read_unit(const char **p)
{
    SS_ASSERT(p != NULL && *p != NULL);
    int n = (int)(sizeof duration_units / sizeof duration_units[0]);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(duration_units[i].name);
        if (strncmp(*p, duration_units[i].name, len) == 0) {
            *p += len;
            return duration_units[i].ms;
        }
    }
    return 0;
}

/* Reads digits into *v (with overflow check) and counts them in *ndig. */
static int read_digits(const char **p, int64_t *v, int *ndig, int max_digits)
{
    SS_ASSERT(p != NULL && *p != NULL);
    SS_ASSERT(max_digits > 0 && max_digits <= 18);
    *v = 0;
    *ndig = 0;
    while (**p >= '0' && **p <= '9') {
        if (*ndig >= max_digits)
            return -1;
        *v = *v * 10 + (**p - '0');
        (*ndig)++;
        (*p)++;
    }
    return 0;
}

/* One component "N[.F]UNIT"; adds its ms to *total. */
static int parse_component(const char **p, int64_t *total, int *last_rank)
{
    int64_t ip = 0, fp = 0, scale = 1;
    int nip = 0, nfp = 0;
    SS_ASSERT(*total >= 0 && *total <= CONFIG_DURATION_MAX_MS);
    /* 12 digits keep ip * 3600000 below 2^63 before the range check. */
    if (read_digits(p, &ip, &nip, 12) != 0 || nip == 0)
        return -1;
    if (**p == '.') {
        (*p)++;
        if (read_digits(p, &fp, &nfp, 6) != 0 || nfp == 0)
            return -1;
        for (int i = 0; i < nfp; i++)
            scale *= 10;
    }
    int64_t unit = read_unit(p);
    if (unit == 0)
        return -1;
    int rank = unit_rank(unit);
    if (rank >= *last_rank)
        return -1;
    *last_rank = rank;
    /* A fraction must come to whole milliseconds ("1.5s" yes, "1.5ms" no). */
    if ((fp * unit) % scale != 0)
        return -1;
    SS_ASSERT(ip <= 999999999999LL && fp < scale);
    int64_t part = ip * unit + (fp * unit) / scale;
    if (part > CONFIG_DURATION_MAX_MS || *total > CONFIG_DURATION_MAX_MS - part)
        return -1;
    *total += part;
    return 0;
}

int duration_parse(const char *s, int64_t *ms)
{
    SS_ASSERT(ms != NULL);
    if (s == NULL || s[0] == '\0' || strnlen(s, DURATION_TEXT_MAX + 1) > DURATION_TEXT_MAX)
        return -1;
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return 0;
    }
    const char *p = s;
    int64_t total = 0;
    int last_rank = 5;
    while (*p != '\0') {
        if (parse_component(&p, &total, &last_rank) != 0)
            return -1;
    }
    SS_ASSERT(total >= 0 && total <= CONFIG_DURATION_MAX_MS);
    *ms = total;
    return 0;
}

enum key_type { KEY_DURATION, KEY_INT, KEY_RETRY, KEY_CLOCK };

struct key_def {
    const char *name;
    enum key_type type;
    size_t off;
    int64_t min, max;
};

#define DUR(n, f, lo) { n, KEY_DURATION, offsetof(struct config, f), lo, CONFIG_DURATION_MAX_MS }
#define INT(n, f, lo, hi) { n, KEY_INT, offsetof(struct config, f), lo, hi }

/* Durations a run would loop on at zero (a zero interval or timeout)
 * must be positive; cooldown, debounce and erp_delay may be 0. */
static const struct key_def key_defs[] = {
    DUR("cooldown", cooldown_ms, 0),
    DUR("lock_timeout", lock_timeout_ms, 1),
    DUR("debounce", debounce_ms, 0),
    INT("push_batch", push_batch, 1, CONFIG_COUNT_MAX),
    INT("pull_page", pull_page, 1, CONFIG_COUNT_MAX),
    INT("max_retries", max_retries, 1, CONFIG_COUNT_MAX),
    DUR("request_timeout", request_timeout_ms, 1),
    DUR("background_interval", background_interval_ms, 1),
    DUR("backoff_base", backoff_base_ms, 1),
    DUR("backoff_cap", backoff_cap_ms, 1),
    INT("jitter_pct", jitter_pct, 0, 100),
    INT("breaker_threshold", breaker_threshold, 1, CONFIG_COUNT_MAX),
    DUR("breaker_open", breaker_open_ms, 1),
    { "initial_retry", KEY_RETRY, offsetof(struct config, initial_retry_ms), 1,
      CONFIG_DURATION_MAX_MS },
    { "clock", KEY_CLOCK, offsetof(struct config, clock), 0, 0 },
    DUR("orch_timeout", orch_timeout_ms, 1),
    DUR("erp_delay", erp_delay_ms, 0),
    DUR("quiesce_limit", quiesce_limit_ms, 1),
};
#define KEY_COUNT ((int)(sizeof key_defs / sizeof key_defs[0]))

const char *const config_keys[] = {
    "cooldown", "lock_timeout", "debounce", "push_batch", "pull_page",
    "max_retries", "request_timeout", "background_interval", "backoff_base",
    "backoff_cap", "jitter_pct", "breaker_threshold", "breaker_open",
    "initial_retry", "clock", "orch_timeout", "erp_delay", "quiesce_limit",
    NULL
};

/* "KEY: expected WHAT, found 'VALUE'" — the value is echoed, bounded. */
static void set_err(char *err, size_t errlen, const char *key, const char *what,
                    const char *value)
{
    if (err == NULL || errlen == 0)
        return;
    snprintf(err, errlen, "%s: expected %s, found '%.*s'", key, what, CONFIG_ECHO_MAX,
             value);
}

/* Strict decimal integer (no sign, no spaces, no leading '+'). */
static int parse_int(const char *s, int64_t *out)
{
    int64_t v = 0;
    int n = 0;
    if (s[0] == '\0')
        return -1;
    for (; s[n] != '\0'; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 12)
            return -1;
        v = v * 10 + (s[n] - '0');
    }
    SS_ASSERT(v >= 0);
    *out = v;
    return 0;
}

static int set_duration(struct config *c, const struct key_def *k, const char *value,
                        char *err, size_t errlen)
{
    int64_t ms;
    SS_ASSERT(k->type == KEY_DURATION);
    SS_ASSERT(k->min >= 0 && k->max <= CONFIG_DURATION_MAX_MS);
    if (duration_parse(value, &ms) != 0) {
        set_err(err, errlen, k->name, "a duration like 5s", value);
        return -1;
    }
    if (ms < k->min || ms > k->max) {
        set_err(err, errlen, k->name,
                k->min > 0 ? "a positive duration like 5s" : "a duration like 5s", value);
        return -1;
    }
    *(int64_t *)((char *)c + k->off) = ms;
    return 0;
}

static int set_int(struct config *c, const struct key_def *k, const char *value,
                   char *err, size_t errlen)
{
    int64_t v;
    SS_ASSERT(k->type == KEY_INT);
    SS_ASSERT(k->min >= 0 && k->max <= 2147483647);
    if (parse_int(value, &v) != 0 || v < k->min || v > k->max) {
        char what[64];
        snprintf(what, sizeof what, "a whole number from %lld to %lld", (long long)k->min,
                 (long long)k->max);
        set_err(err, errlen, k->name, what, value);
        return -1;
    }
    SS_ASSERT(v <= 2147483647);
    *(int *)((char *)c + k->off) = (int)v;
    return 0;
}

/* "2s,5s,15s": exactly the three delays of INIT-3. */
static int set_retry(struct config *c, const char *value, char *err, size_t errlen)
{
    int64_t ms[3];
    char part[DURATION_TEXT_MAX + 1];
    const char *p = value;
    SS_ASSERT(c != NULL && value != NULL);
    for (int i = 0; i < 3; i++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int last = (i == 2);
        if (len > DURATION_TEXT_MAX || (last && end) || (!last && !end))
            goto bad;
        memcpy(part, p, len);
        part[len] = '\0';
        if (duration_parse(part, &ms[i]) != 0 || ms[i] <= 0)
            goto bad;
        p = end ? end + 1 : p + len;
    }
    memcpy(c->initial_retry_ms, ms, sizeof ms);
    return 0;
bad:
    set_err(err, errlen, "initial_retry", "three durations like 2s,5s,15s", value);
    return -1;
}

static int set_clock(struct config *c, const char *value, char *err, size_t errlen)
{
    SS_ASSERT(c != NULL && value != NULL);
    if (strcmp(value, "wall") == 0) {
        c->clock = CLOCK_WALL;
        return 0;
    }
    if (strcmp(value, "hlc") == 0) {
        c->clock = CLOCK_HLC;  /* CONF-4 */
        return 0;
    }
    set_err(err, errlen, "clock", "wall or hlc", value);
    return -1;
}

int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
    SS_ASSERT(c != NULL);
    SS_ASSERT(key != NULL && value != NULL);
    for (int i = 0; i < KEY_COUNT; i++) {
        const struct key_def *k = &key_defs[i];
        if (strcmp(key, k->name) != 0)
            continue;
        switch (k->type) {
        case KEY_DURATION: return set_duration(c, k, value, err, errlen);
        case KEY_INT: return set_int(c, k, value, err, errlen);
        case KEY_RETRY: return set_retry(c, value, err, errlen);
        case KEY_CLOCK: return set_clock(c, value, err, errlen);
        }
        SS_ASSERT(!"config_set: unknown key type");
    }
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "expected a config key (cooldown, lock_timeout, debounce, "
                 "push_batch, ...), found '%.*s'", CONFIG_ECHO_MAX, key);
    return -1;
}

int config_set_kv(struct config *c, const char *kv, char *err, size_t errlen)
{
    SS_ASSERT(c != NULL && kv != NULL);
    char key[64];
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv || eq - kv >= (long)sizeof key) {
        snprintf(err, errlen, "expected key=value, found '%s'", kv);
        return -1;
    }
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    return config_set(c, key, eq + 1, err, errlen);
}
