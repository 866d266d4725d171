/*
 * types.h — the small vocabulary every module shares: sync kinds, stamps and
 * the assertion macro that stays on in release builds.
 *
 * Nothing here allocates or touches the outside world.
 */
#ifndef SYNCSIM_TYPES_H
#define SYNCSIM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Assertions are part of the program, not a debug aid (ARCHITECTURE "Style"):
 * they stay on with -O2 and NDEBUG. A failing one in the simulator is a found
 * bug with a seed. */
void ss_assert_fail(const char *expr, const char *file, int line);
#define SS_ASSERT(e) ((e) ? (void)0 : ss_assert_fail(#e, __FILE__, __LINE__))

/* Copies src into dst[n], truncated to n - 1 bytes, always terminated
 * (n == 0: nothing; src NULL: ""): snprintf(dst, n, "%s", src) without the
 * format machinery, which showed in every profile of the hot paths. */
void str_copy(char *dst, size_t n, const char *src);

/* The five kinds of acquire (COORD-1). Order is the enum order used in
 * arrays; priority is given by kind_priority(), not by this order. */
enum sync_kind {
    KIND_INITIAL = 0,
    KIND_MANUAL,
    KIND_BACKGROUND,
    KIND_REPOSITORY,
    KIND_MASTER,
    KIND_COUNT
};

const char *kind_name(enum sync_kind k);
/* Returns 0 and sets *out on a known name, -1 otherwise. */
int kind_parse(const char *s, enum sync_kind *out);
/* COORD-2: manual > repository > master > background; initial is lowest
 * (it is never a follow-up). */
int kind_priority(enum sync_kind k);

/* Limits of SPEC §1.1 and of the implementation (every buffer has one). */
#define NAME_MAX_LEN 63        /* table, device, user names */
#define ROW_ID_MAX 64          /* bytes of a row id */
#define ROW_MAX_FIELDS 32      /* a write's resulting row (device) / push (server) */
#define ROW_MAX_BYTES 4096     /* names + values of a row */
#define ROW_HARD_FIELDS 256    /* merged rows may exceed 32; this is the hard cap */
#define ROW_HARD_BYTES 65536   /* and this the hard byte cap of any row */
#define OP_ID_MAX 95
#define TOKEN_MAX 63
#define MAX_TABLES 16

/* A stamp orders writes (SPEC §1.1): modified_at, then modified_by
 * (bytewise), then op seq. Two writes never tie. */
struct stamp {
    int64_t at;                 /* ms, the writer's clock */
    char by[NAME_MAX_LEN + 1];  /* writer id; "server"/"erp" are reserved */
    uint64_t seq;               /* op seq; 0 for server writes */
};

int stamp_cmp(const struct stamp *a, const struct stamp *b);
bool stamp_is_zero(const struct stamp *s);

/* Conflict strategies (SPEC §1.6). */
enum strategy { STRAT_LWW = 0, STRAT_LOCAL, STRAT_REMOTE, STRAT_MERGE, STRAT_MANUAL };
const char *strategy_name(enum strategy s);
int strategy_parse(const char *s, enum strategy *out);

/* A synced table as declared by a scenario (or the four defaults). */
struct table_decl {
    char name[NAME_MAX_LEN + 1];
    bool read_only;             /* products, prices: read-only on devices */
    enum strategy strategy;
};

/* The four default tables (SPEC §1.1, §4 "Tables"). */
int table_defaults(struct table_decl *out, int cap);

#endif
