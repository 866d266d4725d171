/*
 * row.h — a synced row (SPEC §1.1): table, id, fields with per-field stamps,
 * a tombstone flag with its own stamp, the row stamp, and the server
 * sequence of this version. Fields are kept sorted by name (bytewise) so
 * every encoding and comparison is deterministic.
 *
 * Ownership: a struct row owns its fields; row_free releases them. A zeroed
 * struct row is a valid empty row. Decoded and copied rows are `packed`: the
 * field array and every name and value are one allocation (one malloc per
 * row instead of 2n + 1); row_set unpacks first. Only row.c allocates or
 * frees field strings.
 */
#ifndef SYNCSIM_ROW_H
#define SYNCSIM_ROW_H

#include "types.h"

struct row_field {
    char *name;
    char *value;
    struct stamp st;           /* the write that last set this field */
};

struct row {
    char table[NAME_MAX_LEN + 1];
    char id[ROW_ID_MAX + 1];
    bool deleted;
    struct stamp del_st;       /* the write that last set `deleted` (zero: never) */
    struct stamp st;           /* the write that made this version */
    uint64_t seq;              /* server sequence of this version (0: none) */
    int nfields;
    struct row_field *fields;  /* sorted by name */
    bool packed;               /* fields and their strings are one block (row.c) */
};

void row_init(struct row *r, const char *table, const char *id);
void row_free(struct row *r);
/* Deep copy; dst is overwritten (must be freed or zeroed before). 0 / -1. */
int row_copy(struct row *dst, const struct row *src);
/* Set (insert or replace) a field with its stamp. 0, or -1 past the hard caps. */
int row_set(struct row *r, const char *name, const char *value, const struct stamp *st);
/* The field's value, or NULL. */
const char *row_get(const struct row *r, const char *name);
const struct row_field *row_field(const struct row *r, const char *name);
/* Bytes of names and values (the 4 KiB limit of SPEC §1.1). */
size_t row_bytes(const struct row *r);
/* Same fields, values, deleted flag (what INV-CONVERGE compares; stamps and
 * seq are compared only when with_stamps). */
bool row_equal(const struct row *a, const struct row *b, bool with_stamps);

/* Compact binary form, used for SQLite blobs and inside wire messages.
 * row_encode appends to *buf (realloc'd; *len and *cap updated). row_decode
 * reads one row from p[0..n), bounds-checked, and returns the bytes used
 * or -1 on malformed input (r is then freed/empty). */
int row_encode(const struct row *r, uint8_t **buf, size_t *len, size_t *cap);
long row_decode(const uint8_t *p, size_t n, struct row *r);
/* The same checks as row_decode, but r gets the header only (table, id,
 * flags, stamps, seq; no fields, nothing to free): for readers that need a
 * row's identity, like the simulator's checkers. */
long row_decode_keys(const uint8_t *p, size_t n, struct row *r);

/* Names of the fields whose values differ between a and b, comma-separated
 * in name order of a then b (CONF-3 `fields`); truncated to n-1 bytes. */
void row_diff_fields(const struct row *a, const struct row *b, char *out, size_t n);

/* "k=v k=v" of the fields, sorted, for messages and traces. */
size_t row_format(const struct row *r, char *buf, size_t n);

#endif
