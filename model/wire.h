/*
 * wire.h — the versioned, length-prefixed binary message codec between
 * devices and the server.
 *
 * Frame: u32 length (of what follows, big-endian) | u8 version | u8 type |
 * body. Integers are big-endian fixed width; strings are u16 length + bytes.
 * Decoding is bounds-checked everywhere and returns a wire_err naming what
 * was wrong and at which byte offset; it never reads past the input and
 * never trusts a length or count (SRV-4: > 1 MiB or > 1000 items is
 * refused).
 *
 * Ownership: wire_decode fills a struct wire_msg that owns its arrays;
 * wire_msg_free releases them. wire_encode allocates *out (caller frees).
 */
#ifndef SYNCSIM_WIRE_H
#define SYNCSIM_WIRE_H

#include "row.h"

#define WIRE_VERSION 1
#define WIRE_MAX_MSG (1u << 20)    /* SRV-4: 1 MiB */
#define WIRE_MAX_ITEMS 1000        /* SRV-4 */

enum wire_type {
    WIRE_PUSH_REQ = 1,   /* token, items */
    WIRE_PULL_REQ = 2,   /* token, cursor, limit: changes after cursor (RUN-2, SRV-3) */
    WIRE_PAGE_REQ = 3,   /* token, table, after_seq, limit: one table's rows (INIT-1, RUN-11) */
    WIRE_PUSH_RESP = 4,  /* status, results */
    WIRE_PULL_RESP = 5,  /* status, rows, has_more, server_time, server_seq */
    WIRE_PAGE_RESP = 6,  /* status, rows, has_more, server_time, server_seq, table_total */
    WIRE_ERROR_RESP = 7  /* status (400 protocol, 401, 429 + retry_after, 5xx), text */
};

/* HTTP-like status of a response. */
enum wire_status {
    WS_OK = 200,
    WS_PROTOCOL = 400,   /* malformed, oversized, unknown version (SRV-4) */
    WS_AUTH = 401,       /* wrong, expired or revoked token (RUN-7, SRV-4) */
    WS_THROTTLE = 429,   /* retry_after_ms applies (RUN-4) */
    WS_SERVER = 500,
    WS_UNAVAILABLE = 503
};

enum push_outcome { PUSH_APPLIED = 0, PUSH_STALE, PUSH_CONFLICT, PUSH_REJECTED };
enum reject_reason { REJ_NONE = 0, REJ_INVALID, REJ_READ_ONLY, REJ_TOO_LARGE };
const char *push_outcome_name(enum push_outcome o);
const char *reject_reason_name(enum reject_reason r);

/* One outbox item on the wire: the whole resulting row with its stamps
 * (the fields this write set are those whose stamp equals row.st; it set
 * `deleted` iff row.del_st equals row.st) and the base_seq it was made on. */
struct push_item {
    char op_id[OP_ID_MAX + 1];   /* "device:seq", unique forever (OUT-1) */
    uint64_t base_seq;
    struct row row;
};

struct push_result {
    char op_id[OP_ID_MAX + 1];
    enum push_outcome outcome;
    bool concurrent;              /* CONF-3 */
    enum reject_reason reason;
    bool has_row;                 /* CONF-5: the server's current row + seq */
    struct row row;
    /* CONF-3: the version the push met, when it was a conflict (concurrent or
     * stale) — an applied push replaced it, so `row` no longer shows it. */
    bool has_prev;
    bool prev_deleted;
    char prev_fields[96];         /* fields whose values differ from the push */
};

struct wire_msg {
    enum wire_type type;
    uint64_t req_id;              /* RUN-6: echoed by the response */
    /* requests */
    char token[TOKEN_MAX + 1];
    uint64_t cursor;              /* pull: after this sequence */
    char table[NAME_MAX_LEN + 1]; /* page */
    uint64_t after_seq;           /* page: rows of the table with seq > after_seq */
    uint32_t limit;
    int nitems;
    struct push_item *items;
    /* responses */
    int status;                   /* enum wire_status */
    int64_t retry_after_ms;       /* 429 */
    char text[128];               /* error text */
    int nresults;
    struct push_result *results;
    int nrows;
    struct row *rows;
    bool has_more;
    int64_t server_time;
    uint64_t server_seq;          /* user's latest change sequence */
    uint64_t table_total;         /* page: rows the table has (INIT-5) */
};

struct wire_err {
    size_t offset;
    char what[96];                /* "expected ..., found ..." */
};

void wire_msg_init(struct wire_msg *m, enum wire_type type);
void wire_msg_free(struct wire_msg *m);
/* 0, or -1 when the message would exceed WIRE_MAX_MSG / WIRE_MAX_ITEMS. */
int wire_encode(const struct wire_msg *m, uint8_t **out, size_t *len);
/* 0, or -1 with *err filled; m is always left freeable. */
int wire_decode(const uint8_t *p, size_t n, struct wire_msg *m, struct wire_err *err);
/* wire_decode with every check, but each row carries its header only
 * (row_decode_keys: no fields): what the simulator's checkers read. */
int wire_decode_keys(const uint8_t *p, size_t n, struct wire_msg *m, struct wire_err *err);
/* Peek the req_id and type of a frame without decoding it all (-1: too short). */
int wire_peek(const uint8_t *p, size_t n, enum wire_type *type, uint64_t *req_id);

#endif
