/*
 * util.c — the shared vocabulary of types.h: assertion failure, kind and
 * strategy names, stamp order, the default tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"

void ss_assert_fail(const char *expr, const char *file, int line)
{
    /* Assertions stay on in release builds (ARCHITECTURE "Style"): a failure
     * is a found bug, so stop at once with enough to find the line. */
    fprintf(stderr, "assertion failed: %s at %s:%d\n", expr ? expr : "?",
            file ? file : "?", line);
    fflush(stderr);
    abort();
}

void str_copy(char *dst, size_t n, const char *src)
{
    SS_ASSERT(dst != NULL || n == 0);
    if (n == 0) return;
    if (src == NULL) src = "";   /* a NULL column (out of memory) reads as empty */
    size_t len = strnlen(src, n - 1);
    memmove(dst, src, len);   /* memmove: a caller may copy a string onto itself */
    dst[len] = '\0';
}

/* Indexed by enum sync_kind (COORD-1). */
static const char *const kind_names[KIND_COUNT] = {
    [KIND_INITIAL] = "initial",
    [KIND_MANUAL] = "manual",
    [KIND_BACKGROUND] = "background",
    [KIND_REPOSITORY] = "repository",
    [KIND_MASTER] = "master",
};

const char *kind_name(enum sync_kind k)
{
    /* A bad kind is a programming error, but names feed traces and events,
     * so answer something printable rather than crash inside a format. */
    if ((int)k < 0 || k >= KIND_COUNT)
        return "?";
    SS_ASSERT(kind_names[k] != NULL);
    return kind_names[k];
}

int kind_parse(const char *s, enum sync_kind *out)
{
    SS_ASSERT(out != NULL);
    if (s == NULL)
        return -1;
    for (int k = 0; k < KIND_COUNT; k++) {
        if (strcmp(s, kind_names[k]) == 0) {
            *out = (enum sync_kind)k;
            return 0;
        }
    }
    return -1;
}

int kind_priority(enum sync_kind k)
{
    /* COORD-2: manual > repository > master > background; initial lowest
     * because it is never a follow-up. */
    switch (k) {
    case KIND_MANUAL: return 4;
    case KIND_REPOSITORY: return 3;
    case KIND_MASTER: return 2;
    case KIND_BACKGROUND: return 1;
    case KIND_INITIAL: return 0;
    default: break;
    }
    SS_ASSERT(!"kind_priority: unknown kind");
    return -1;
}

static int cmp_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }
static int cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }

int stamp_cmp(const struct stamp *a, const struct stamp *b)
{
    SS_ASSERT(a != NULL);
    SS_ASSERT(b != NULL);
    /* SPEC §1.1: modified_at, then modified_by bytewise (strcmp compares as
     * unsigned char, so ids with high bytes order the same everywhere),
     * then op seq. */
    int c = cmp_i64(a->at, b->at);
    if (c != 0)
        return c;
    c = strncmp(a->by, b->by, sizeof a->by);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return cmp_u64(a->seq, b->seq);
}

bool stamp_is_zero(const struct stamp *s)
{
    SS_ASSERT(s != NULL);
    return s->at == 0 && s->by[0] == '\0' && s->seq == 0;
}

static const char *const strategy_names[] = {
    [STRAT_LWW] = "lww",
    [STRAT_LOCAL] = "local",
    [STRAT_REMOTE] = "remote",
    [STRAT_MERGE] = "merge",
    [STRAT_MANUAL] = "manual",
};
#define STRATEGY_COUNT ((int)(sizeof strategy_names / sizeof strategy_names[0]))

const char *strategy_name(enum strategy s)
{
    if ((int)s < 0 || (int)s >= STRATEGY_COUNT)
        return "?";
    SS_ASSERT(strategy_names[s] != NULL);
    return strategy_names[s];
}

int strategy_parse(const char *s, enum strategy *out)
{
    SS_ASSERT(out != NULL);
    if (s == NULL)
        return -1;
    for (int i = 0; i < STRATEGY_COUNT; i++) {
        if (strcmp(s, strategy_names[i]) == 0) {
            *out = (enum strategy)i;
            return 0;
        }
    }
    return -1;
}

int table_defaults(struct table_decl *out, int cap)
{
    /* SPEC §1.1 and §4 "Tables": declaration order matters (initial sync
     * downloads table by table in this order, INIT-1). */
    static const struct { const char *name; bool ro; } defs[] = {
        { "customers", false }, { "orders", false },
        { "products", true },   { "prices", true },
    };
    const int n = (int)(sizeof defs / sizeof defs[0]);
    SS_ASSERT(out != NULL || cap == 0);
    if (cap < n)
        return -1;
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        SS_ASSERT(strlen(defs[i].name) <= NAME_MAX_LEN);
        strcpy(out[i].name, defs[i].name);
        out[i].read_only = defs[i].ro;
        out[i].strategy = STRAT_LWW;
    }
    return n;
}
