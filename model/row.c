/*
 * row.c — a synced row (SPEC §1.1) with fields kept sorted by name, and its
 * compact binary form.
 *
 * Binary form (all integers big-endian, strings u16 length + bytes, no NUL):
 *   str table | str id | u8 flags (bit 0: deleted) | stamp st | stamp del_st |
 *   u64 seq | u16 nfields | nfields × (str name | str value | stamp)
 *   stamp = i64 at | str by | u64 seq
 * Decoding trusts nothing: every length is checked against what remains and
 * against the limits below before anything is read or allocated.
 */
/* strnlen is POSIX 2008: the Makefile defines _GNU_SOURCE, other builds
 * (fuzz harnesses) may not. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "row.h"

#define ROW_FIELD_NAME_MAX 64                 /* bytes of a field name */
#define ROW_VALUE_MAX (ROW_MAX_BYTES * 4)     /* bytes of one value (a merged row's
                                                 value came from a ≤ 4 KiB write) */
#define ROW_FLAG_DELETED 0x01u

void row_init(struct row *r, const char *table, const char *id)
{
    SS_ASSERT(r != NULL);
    memset(r, 0, sizeof *r);
    if (table != NULL) {
        SS_ASSERT(strnlen(table, NAME_MAX_LEN + 1) <= NAME_MAX_LEN);
        strcpy(r->table, table);
    }
    if (id != NULL) {
        SS_ASSERT(strnlen(id, ROW_ID_MAX + 1) <= ROW_ID_MAX);
        strcpy(r->id, id);
    }
}

void row_free(struct row *r)
{
    if (r == NULL)
        return;
    SS_ASSERT(r->nfields >= 0 && (r->nfields == 0 || r->fields != NULL));
    for (int i = 0; i < r->nfields; i++) {
        free(r->fields[i].name);
        free(r->fields[i].value);
    }
    free(r->fields);
    memset(r, 0, sizeof *r);
}

/* Index of name, or -(insertion point) - 1 (bytewise order, SPEC §1.1). */
static int find_index(const struct row *r, const char *name)
{
    int lo = 0, hi = r->nfields;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(r->fields[mid].name, name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -lo - 1;
}

size_t row_bytes(const struct row *r)
{
    SS_ASSERT(r != NULL);
    SS_ASSERT(r->nfields >= 0 && r->nfields <= ROW_HARD_FIELDS);
    size_t total = 0;
    for (int i = 0; i < r->nfields; i++)
        total += strlen(r->fields[i].name) + strlen(r->fields[i].value);
    return total;
}

static char *dup_bytes(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

/* Inserts a new field at pos, taking ownership of name and value. */
static int insert_at(struct row *r, int pos, char *name, char *value)
{
    SS_ASSERT(pos >= 0 && pos <= r->nfields);
    struct row_field *nf = realloc(r->fields, (size_t)(r->nfields + 1) * sizeof *nf);
    if (nf == NULL)
        return -1;
    r->fields = nf;
    memmove(&nf[pos + 1], &nf[pos], (size_t)(r->nfields - pos) * sizeof *nf);
    memset(&nf[pos], 0, sizeof nf[pos]);
    nf[pos].name = name;
    nf[pos].value = value;
    r->nfields++;
    return 0;
}

int row_set(struct row *r, const char *name, const char *value, const struct stamp *st)
{
    SS_ASSERT(r != NULL && name != NULL && value != NULL);
    SS_ASSERT(r->nfields >= 0 && r->nfields <= ROW_HARD_FIELDS);
    size_t nlen = strnlen(name, ROW_FIELD_NAME_MAX + 1);
    size_t vlen = strnlen(value, ROW_VALUE_MAX + 1);
    if (nlen == 0 || nlen > ROW_FIELD_NAME_MAX || vlen > ROW_VALUE_MAX)
        return -1;
    int idx = find_index(r, name);
    size_t old = idx >= 0 ? strlen(r->fields[idx].value) : 0;
    size_t grow = vlen + (idx >= 0 ? 0 : nlen);
    if (idx < 0 && r->nfields >= ROW_HARD_FIELDS)
        return -1;
    if (row_bytes(r) - old + grow > ROW_HARD_BYTES)
        return -1;
    char *v = dup_bytes(value, vlen);
    if (v == NULL)
        return -1;
    if (idx < 0) {
        char *n = dup_bytes(name, nlen);
        if (n == NULL || insert_at(r, -idx - 1, n, v) != 0) {
            free(n);
            free(v);
            return -1;
        }
        idx = -idx - 1;
    } else {
        free(r->fields[idx].value);
        r->fields[idx].value = v;
    }
    if (st != NULL)
        r->fields[idx].st = *st;
    else
        memset(&r->fields[idx].st, 0, sizeof r->fields[idx].st);
    return 0;
}

const struct row_field *row_field(const struct row *r, const char *name)
{
    SS_ASSERT(r != NULL && name != NULL);
    SS_ASSERT(r->nfields == 0 || r->fields != NULL);
    int idx = find_index(r, name);
    return idx >= 0 ? &r->fields[idx] : NULL;
}

const char *row_get(const struct row *r, const char *name)
{
    const struct row_field *f = row_field(r, name);
    return f != NULL ? f->value : NULL;
}

int row_copy(struct row *dst, const struct row *src)
{
    SS_ASSERT(dst != NULL && src != NULL && dst != src);
    SS_ASSERT(src->nfields >= 0 && src->nfields <= ROW_HARD_FIELDS);
    *dst = *src;
    dst->nfields = 0;
    dst->fields = NULL;
    if (src->nfields == 0)
        return 0;
    dst->fields = calloc((size_t)src->nfields, sizeof *dst->fields);
    if (dst->fields == NULL)
        goto fail;
    for (int i = 0; i < src->nfields; i++) {
        const struct row_field *f = &src->fields[i];
        struct row_field *d = &dst->fields[i];
        d->st = f->st;
        d->name = dup_bytes(f->name, strlen(f->name));
        d->value = dup_bytes(f->value, strlen(f->value));
        dst->nfields = i + 1;  /* so row_free releases what was copied */
        if (d->name == NULL || d->value == NULL)
            goto fail;
    }
    return 0;
fail:
    row_free(dst);
    return -1;
}

static bool stamp_eq(const struct stamp *a, const struct stamp *b)
{
    return stamp_cmp(a, b) == 0;
}

bool row_equal(const struct row *a, const struct row *b, bool with_stamps)
{
    SS_ASSERT(a != NULL && b != NULL);
    SS_ASSERT(a->nfields >= 0 && b->nfields >= 0);
    if (strcmp(a->table, b->table) != 0 || strcmp(a->id, b->id) != 0)
        return false;
    if (a->deleted != b->deleted || a->nfields != b->nfields)
        return false;
    if (with_stamps && (!stamp_eq(&a->st, &b->st) || !stamp_eq(&a->del_st, &b->del_st) ||
                        a->seq != b->seq))
        return false;
    for (int i = 0; i < a->nfields; i++) {
        const struct row_field *fa = &a->fields[i], *fb = &b->fields[i];
        if (strcmp(fa->name, fb->name) != 0 || strcmp(fa->value, fb->value) != 0)
            return false;
        if (with_stamps && !stamp_eq(&fa->st, &fb->st))
            return false;
    }
    return true;
}

/* ---- encoding ---- */

/* Grows *buf to hold more bytes; the caller's triple (buf, len, cap) is the
 * whole state, so wire.c can append rows to its own frame buffer. */
static int reserve(uint8_t **buf, size_t *len, size_t *cap, size_t more)
{
    if (*cap - *len >= more)
        return 0;
    size_t want = *cap ? *cap : 256;
    while (want - *len < more) {
        if (want > SIZE_MAX / 2)
            return -1;
        want *= 2;
    }
    uint8_t *nb = realloc(*buf, want);
    if (nb == NULL)
        return -1;
    *buf = nb;
    *cap = want;
    return 0;
}

struct enc {
    uint8_t **buf;
    size_t *len, *cap;
    int failed;
};

static void put_bytes(struct enc *e, const void *p, size_t n)
{
    if (e->failed || reserve(e->buf, e->len, e->cap, n) != 0) {
        e->failed = 1;
        return;
    }
    memcpy(*e->buf + *e->len, p, n);
    *e->len += n;
}

static void put_uint(struct enc *e, uint64_t v, int width)
{
    uint8_t b[8];
    SS_ASSERT(width == 1 || width == 2 || width == 4 || width == 8);
    for (int i = 0; i < width; i++)
        b[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
    put_bytes(e, b, (size_t)width);
}

static void put_string(struct enc *e, const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);  /* fixed arrays: never read past max */
    SS_ASSERT(max <= UINT16_MAX);
    if (n > max) {
        e->failed = 1;
        return;
    }
    put_uint(e, n, 2);
    put_bytes(e, s, n);
}

static void put_stamp(struct enc *e, const struct stamp *st)
{
    put_uint(e, (uint64_t)st->at, 8);
    put_string(e, st->by, NAME_MAX_LEN);
    put_uint(e, st->seq, 8);
}

int row_encode(const struct row *r, uint8_t **buf, size_t *len, size_t *cap)
{
    SS_ASSERT(r != NULL && buf != NULL && len != NULL && cap != NULL);
    SS_ASSERT(*len <= *cap && (*buf != NULL || *cap == 0));
    /* Refuse what row_decode would refuse, so every encoded row reads back. */
    if (r->table[0] == '\0' || r->id[0] == '\0' || r->nfields < 0 ||
        r->nfields > ROW_HARD_FIELDS || row_bytes(r) > ROW_HARD_BYTES)
        return -1;
    size_t start = *len;
    struct enc e = { buf, len, cap, 0 };
    put_string(&e, r->table, NAME_MAX_LEN);
    put_string(&e, r->id, ROW_ID_MAX);
    put_uint(&e, r->deleted ? ROW_FLAG_DELETED : 0, 1);
    put_stamp(&e, &r->st);
    put_stamp(&e, &r->del_st);
    put_uint(&e, r->seq, 8);
    put_uint(&e, (uint64_t)r->nfields, 2);
    for (int i = 0; i < r->nfields && !e.failed; i++) {
        const struct row_field *f = &r->fields[i];
        if (i > 0 && strcmp(r->fields[i - 1].name, f->name) >= 0)
            e.failed = 1;  /* unsorted: a broken row, not encodable */
        put_string(&e, f->name, ROW_FIELD_NAME_MAX);
        put_string(&e, f->value, ROW_VALUE_MAX);
        put_stamp(&e, &f->st);
    }
    if (e.failed) {
        *len = start;  /* nothing half-written is left behind */
        return -1;
    }
    return 0;
}

/* ---- decoding ---- */

struct dec {
    const uint8_t *p;
    size_t n, off;
    int failed;
};

static uint64_t get_uint(struct dec *d, int width)
{
    uint64_t v = 0;
    if (d->failed || d->n - d->off < (size_t)width) {
        d->failed = 1;
        return 0;
    }
    for (int i = 0; i < width; i++)
        v = (v << 8) | d->p[d->off + (size_t)i];
    d->off += (size_t)width;
    return v;
}

/* Reads a string of min..max bytes with no NUL into out (max + 1 bytes). */
static void get_string(struct dec *d, char *out, size_t min, size_t max)
{
    size_t n = (size_t)get_uint(d, 2);
    out[0] = '\0';
    if (d->failed || n < min || n > max || d->n - d->off < n ||
        memchr(d->p + d->off, '\0', n) != NULL) {
        d->failed = 1;
        return;
    }
    memcpy(out, d->p + d->off, n);
    out[n] = '\0';
    d->off += n;
}

static void get_stamp(struct dec *d, struct stamp *st)
{
    st->at = (int64_t)get_uint(d, 8);
    get_string(d, st->by, 0, NAME_MAX_LEN);
    st->seq = get_uint(d, 8);
}

/* A string of min..max bytes with no NUL, copied to the heap (NULL on
 * malformed input or out of memory). */
static char *get_heap_string(struct dec *d, size_t min, size_t max)
{
    size_t n = (size_t)get_uint(d, 2);
    if (d->failed || n < min || n > max || d->n - d->off < n ||
        memchr(d->p + d->off, '\0', n) != NULL) {
        d->failed = 1;
        return NULL;
    }
    char *s = dup_bytes((const char *)d->p + d->off, n);
    if (s == NULL)
        d->failed = 1;
    d->off += n;
    return s;
}

/* Appends one field into the slot r->fields[r->nfields] (preallocated);
 * names must strictly increase: sorted, no duplicates. */
static int get_field(struct dec *d, struct row *r, size_t *total)
{
    struct row_field *f = &r->fields[r->nfields];
    f->name = get_heap_string(d, 1, ROW_FIELD_NAME_MAX);
    f->value = get_heap_string(d, 0, ROW_VALUE_MAX);
    get_stamp(d, &f->st);
    r->nfields++;  /* owned by r from here on: row_free releases it */
    if (d->failed)
        return -1;
    SS_ASSERT(f->name != NULL && f->value != NULL);
    if (r->nfields > 1 && strcmp(r->fields[r->nfields - 2].name, f->name) >= 0)
        return -1;
    *total += strlen(f->name) + strlen(f->value);
    return *total > ROW_HARD_BYTES ? -1 : 0;
}

static int get_fields(struct dec *d, struct row *r, int nfields)
{
    size_t total = 0;
    SS_ASSERT(nfields > 0 && nfields <= ROW_HARD_FIELDS);
    /* Bounded by the caller: a count larger than the bytes left is refused
     * before this allocation. */
    r->fields = calloc((size_t)nfields, sizeof *r->fields);
    if (r->fields == NULL)
        return -1;
    for (int i = 0; i < nfields; i++) {
        if (get_field(d, r, &total) != 0)
            return -1;
    }
    return 0;
}

long row_decode(const uint8_t *p, size_t n, struct row *r)
{
    SS_ASSERT(r != NULL);
    SS_ASSERT(p != NULL || n == 0);
    struct dec d = { p, n, 0, 0 };
    memset(r, 0, sizeof *r);
    get_string(&d, r->table, 1, NAME_MAX_LEN);
    get_string(&d, r->id, 1, ROW_ID_MAX);
    uint64_t flags = get_uint(&d, 1);
    get_stamp(&d, &r->st);
    get_stamp(&d, &r->del_st);
    r->seq = get_uint(&d, 8);
    uint64_t nf = get_uint(&d, 2);
    /* A field takes at least 2+1 + 2 + 8+2+8 = 23 bytes: a count the input
     * cannot hold is refused before allocating for it. */
    if (d.failed || (flags & ~(uint64_t)ROW_FLAG_DELETED) != 0 || nf > ROW_HARD_FIELDS ||
        nf * 23 > d.n - d.off)
        goto bad;
    r->deleted = (flags & ROW_FLAG_DELETED) != 0;
    if (nf > 0 && get_fields(&d, r, (int)nf) != 0)
        goto bad;
    SS_ASSERT(r->nfields == (int)nf && d.off <= n);
    return (long)d.off;
bad:
    row_free(r);
    return -1;
}

/* ---- text ---- */

size_t row_format(const struct row *r, char *buf, size_t n)
{
    SS_ASSERT(r != NULL && (buf != NULL || n == 0));
    SS_ASSERT(r->nfields >= 0 && r->nfields <= ROW_HARD_FIELDS);
    size_t len = 0;
    if (n == 0)
        return 0;
    buf[0] = '\0';
    for (int i = 0; i < r->nfields; i++) {
        const struct row_field *f = &r->fields[i];
        /* Values with a space (or empty ones) are quoted so the text splits
         * back into the same pairs. */
        bool q = f->value[0] == '\0' || strpbrk(f->value, " \"\t\n") != NULL;
        int w = snprintf(buf + len, n - len, "%s%s=%s%s%s", i ? " " : "", f->name,
                         q ? "\"" : "", f->value, q ? "\"" : "");
        if (w < 0 || (size_t)w >= n - len) {
            len = n - 1;  /* truncated: snprintf wrote up to n - 1 */
            break;
        }
        len += (size_t)w;
    }
    SS_ASSERT(len < n);
    return len;
}

/* Names of the fields whose values differ, comma-separated (CONF-3). */
void row_diff_fields(const struct row *a, const struct row *b, char *out, size_t n)
{
    size_t len = 0;
    out[0] = 0;
    const struct row *rows[2] = { a, b };
    for (int side = 0; side < 2; side++) {
        const struct row *x = rows[side], *y = rows[1 - side];
        for (int i = 0; i < x->nfields; i++) {
            const char *other = row_get(y, x->fields[i].name);
            if (side == 1 && other) continue;   /* already compared from side 0 */
            if (other && strcmp(other, x->fields[i].value) == 0) continue;
            int w = snprintf(out + len, n - len, "%s%s", len ? "," : "", x->fields[i].name);
            if (w < 0 || (size_t)w >= n - len) return;
            len += (size_t)w;
        }
    }
}
