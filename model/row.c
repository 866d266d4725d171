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
    for (int i = 0; i < r->nfields && !r->packed; i++) {
        free(r->fields[i].name);
        free(r->fields[i].value);
    }
    free(r->fields);   /* packed: the strings live in this block */
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

/* A packed block for nfields fields and `strings` bytes of names and values
 * (NULs included): the field array first, the strings after it. */
static struct row_field *pack_alloc(int nfields, size_t strings, char **cursor)
{
    SS_ASSERT(nfields > 0 && nfields <= ROW_HARD_FIELDS);
    size_t head = (size_t)nfields * sizeof(struct row_field);
    struct row_field *f = malloc(head + strings);
    if (f != NULL) {
        memset(f, 0, head);
        *cursor = (char *)f + head;
    }
    return f;
}

static char *pack_str(char **cursor, const char *s, size_t len)
{
    char *d = *cursor;
    memcpy(d, s, len);
    d[len] = '\0';
    *cursor += len + 1;
    return d;
}

/* Gives every name and value its own allocation, so fields can be added and
 * replaced one by one. On failure r is unchanged. */
static int unpack(struct row *r)
{
    SS_ASSERT(r->packed && r->nfields > 0);
    struct row_field *f = calloc((size_t)r->nfields, sizeof *f);
    if (f == NULL)
        return -1;
    for (int i = 0; i < r->nfields; i++) {
        f[i].st = r->fields[i].st;
        f[i].name = dup_bytes(r->fields[i].name, strlen(r->fields[i].name));
        f[i].value = dup_bytes(r->fields[i].value, strlen(r->fields[i].value));
        if (f[i].name == NULL || f[i].value == NULL) {
            for (int j = 0; j <= i; j++) { free(f[j].name); free(f[j].value); }
            free(f);
            return -1;
        }
    }
    free(r->fields);
    r->fields = f;
    r->packed = false;
    return 0;
}

/* Inserts a new field at pos, taking ownership of name and value. */
static int insert_at(struct row *r, int pos, char *name, char *value)
{
    SS_ASSERT(pos >= 0 && pos <= r->nfields && !r->packed);
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
    if (r->packed && unpack(r) != 0)
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
    dst->packed = false;
    if (src->nfields == 0)
        return 0;
    size_t strings = 0;
    for (int i = 0; i < src->nfields; i++)
        strings += strlen(src->fields[i].name) + strlen(src->fields[i].value) + 2;
    char *cur;
    dst->fields = pack_alloc(src->nfields, strings, &cur);
    if (dst->fields == NULL)
        return -1;
    for (int i = 0; i < src->nfields; i++) {
        const struct row_field *f = &src->fields[i];
        dst->fields[i].st = f->st;
        dst->fields[i].name = pack_str(&cur, f->name, strlen(f->name));
        dst->fields[i].value = pack_str(&cur, f->value, strlen(f->value));
    }
    SS_ASSERT(cur == (char *)dst->fields + (size_t)src->nfields * sizeof *dst->fields + strings);
    dst->nfields = src->nfields;
    dst->packed = true;
    return 0;
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

/* The encoder measures first and writes second: one reserve per row, then
 * plain stores (the codec is on every page, push and store access). */

static size_t str_len(const char *s, size_t max, bool *bad)
{
    size_t n = strnlen(s, max + 1);  /* fixed arrays: never read past max */
    SS_ASSERT(max <= UINT16_MAX);
    if (n > max) *bad = true;
    return n;
}

static size_t stamp_size(const struct stamp *st, bool *bad)
{
    return 8 + 2 + str_len(st->by, NAME_MAX_LEN, bad) + 8;
}

/* Encoded size of r, or 0 when row_decode would refuse it (so every encoded
 * row reads back). */
static size_t encoded_size(const struct row *r)
{
    bool bad = r->table[0] == '\0' || r->id[0] == '\0' || r->nfields < 0 ||
               r->nfields > ROW_HARD_FIELDS;
    if (bad) return 0;
    size_t n = 2 + str_len(r->table, NAME_MAX_LEN, &bad) + 2 + str_len(r->id, ROW_ID_MAX, &bad) + 1 +
               stamp_size(&r->st, &bad) + stamp_size(&r->del_st, &bad) + 8 + 2;
    size_t bytes = 0;
    for (int i = 0; i < r->nfields; i++) {
        const struct row_field *f = &r->fields[i];
        if (i > 0 && strcmp(r->fields[i - 1].name, f->name) >= 0)
            bad = true;  /* unsorted: a broken row, not encodable */
        size_t nl = str_len(f->name, ROW_FIELD_NAME_MAX, &bad);
        size_t vl = str_len(f->value, ROW_VALUE_MAX, &bad);
        bytes += nl + vl;
        n += 2 + nl + 2 + vl + stamp_size(&f->st, &bad);
    }
    return bad || bytes > ROW_HARD_BYTES ? 0 : n;
}

/* Big-endian stores and loads of 1, 2 or 8 bytes. Widths are constants at
 * every call, so these fold to a byte swap and one move: the byte loops
 * they replace were a twentieth of a swarm run. */
static inline void store_be(uint8_t *w, uint64_t v, int width)
{
    if (width == 1) { w[0] = (uint8_t)v; return; }
    if (width == 2) { w[0] = (uint8_t)(v >> 8); w[1] = (uint8_t)v; return; }
    SS_ASSERT(width == 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
    memcpy(w, &v, 8);
#else
    for (int i = 0; i < 8; i++) w[i] = (uint8_t)(v >> (8 * (7 - i)));
#endif
}

static inline uint64_t load_be(const uint8_t *p, int width)
{
    if (width == 1) return p[0];
    if (width == 2) return (uint64_t)p[0] << 8 | p[1];
    SS_ASSERT(width == 8);
    uint64_t v;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&v, p, 8);
    v = __builtin_bswap64(v);
#else
    v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
#endif
    return v;
}

static inline uint8_t *put_uint(uint8_t *w, uint64_t v, int width)
{
    store_be(w, v, width);
    return w + width;
}

/* Lengths were checked by encoded_size. */
static uint8_t *put_string(uint8_t *w, const char *s)
{
    size_t n = strlen(s);
    w = put_uint(w, n, 2);
    memcpy(w, s, n);
    return w + n;
}

static uint8_t *put_stamp(uint8_t *w, const struct stamp *st)
{
    w = put_uint(w, (uint64_t)st->at, 8);
    w = put_string(w, st->by);
    return put_uint(w, st->seq, 8);
}

int row_encode(const struct row *r, uint8_t **buf, size_t *len, size_t *cap)
{
    SS_ASSERT(r != NULL && buf != NULL && len != NULL && cap != NULL);
    SS_ASSERT(*len <= *cap && (*buf != NULL || *cap == 0));
    size_t size = encoded_size(r);
    if (size == 0 || reserve(buf, len, cap, size) != 0)
        return -1;  /* nothing half-written is left behind */
    uint8_t *start = *buf + *len, *w = start;
    w = put_string(w, r->table);
    w = put_string(w, r->id);
    w = put_uint(w, r->deleted ? ROW_FLAG_DELETED : 0, 1);
    w = put_stamp(w, &r->st);
    w = put_stamp(w, &r->del_st);
    w = put_uint(w, r->seq, 8);
    w = put_uint(w, (uint64_t)r->nfields, 2);
    for (int i = 0; i < r->nfields; i++) {
        w = put_string(w, r->fields[i].name);
        w = put_string(w, r->fields[i].value);
        w = put_stamp(w, &r->fields[i].st);
    }
    SS_ASSERT((size_t)(w - start) == size);
    *len += size;
    return 0;
}

/* ---- decoding ---- */

struct dec {
    const uint8_t *p;
    size_t n, off;
    int failed;
};

static inline uint64_t get_uint(struct dec *d, int width)
{
    if (d->failed || d->n - d->off < (size_t)width) {
        d->failed = 1;
        return 0;
    }
    uint64_t v = load_be(d->p + d->off, width);
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

/* A string of min..max bytes with no NUL: its length, with *at pointing to
 * it in the input (0 with d->failed on malformed input). */
static size_t scan_string(struct dec *d, size_t min, size_t max, const uint8_t **at)
{
    size_t n = (size_t)get_uint(d, 2);
    if (d->failed || n < min || n > max || d->n - d->off < n ||
        memchr(d->p + d->off, '\0', n) != NULL) {
        d->failed = 1;
        return 0;
    }
    *at = d->p + d->off;
    d->off += n;
    return n;
}

/* Bytewise order of two NUL-free strings given by length (strcmp's). */
static int bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c != 0 ? c : an < bn ? -1 : an > bn;
}

/* Checks nfields fields from d on (lengths, no NUL, names strictly
 * increasing, the byte cap) and leaves d after them. Returns the bytes their
 * names and values take with their NULs, or 0 when they are malformed. */
static size_t scan_fields(struct dec *d, int nfields)
{
    const uint8_t *prev = NULL, *name, *other;
    size_t prev_len = 0, total = 0, bytes = 0;
    for (int i = 0; i < nfields; i++) {
        size_t nl = scan_string(d, 1, ROW_FIELD_NAME_MAX, &name);
        size_t vl = scan_string(d, 0, ROW_VALUE_MAX, &other);
        get_uint(d, 8);
        scan_string(d, 0, NAME_MAX_LEN, &other);   /* the stamp's writer */
        get_uint(d, 8);
        if (d->failed || (prev && bytes_cmp(prev, prev_len, name, nl) >= 0))
            return 0;   /* malformed, or names unsorted or repeated */
        prev = name;
        prev_len = nl;
        total += nl + vl;
        if (total > ROW_HARD_BYTES)
            return 0;
        bytes += nl + vl + 2;
    }
    return bytes;
}

/* Copies fields that scan_fields accepted into r's packed block. */
static void copy_fields(struct dec *d, struct row *r, int nfields, char *cur)
{
    for (int i = 0; i < nfields; i++) {
        struct row_field *f = &r->fields[i];
        size_t n = (size_t)get_uint(d, 2);
        f->name = pack_str(&cur, (const char *)d->p + d->off, n);
        d->off += n;
        n = (size_t)get_uint(d, 2);
        f->value = pack_str(&cur, (const char *)d->p + d->off, n);
        d->off += n;
        get_stamp(d, &f->st);
    }
    SS_ASSERT(!d->failed);
    r->nfields = nfields;
}

static int get_fields(struct dec *d, struct row *r, int nfields)
{
    SS_ASSERT(nfields > 0 && nfields <= ROW_HARD_FIELDS);
    /* Checked whole before anything is allocated; the count was bounded by
     * the caller (a count larger than the bytes left is refused). */
    struct dec probe = *d;
    size_t strings = scan_fields(&probe, nfields);
    char *cur;
    if (strings == 0 || (r->fields = pack_alloc(nfields, strings, &cur)) == NULL)
        return -1;
    r->packed = true;
    copy_fields(d, r, nfields, cur);
    SS_ASSERT(d->off == probe.off);
    return 0;
}

/* The row's header (everything but its fields), shared by both decoders.
 * Returns the field count, or -1. */
static long get_header(struct dec *d, struct row *r)
{
    memset(r, 0, sizeof *r);
    get_string(d, r->table, 1, NAME_MAX_LEN);
    get_string(d, r->id, 1, ROW_ID_MAX);
    uint64_t flags = get_uint(d, 1);
    get_stamp(d, &r->st);
    get_stamp(d, &r->del_st);
    r->seq = get_uint(d, 8);
    uint64_t nf = get_uint(d, 2);
    /* A field takes at least 2+1 + 2 + 8+2+8 = 23 bytes: a count the input
     * cannot hold is refused before allocating for it. */
    if (d->failed || (flags & ~(uint64_t)ROW_FLAG_DELETED) != 0 || nf > ROW_HARD_FIELDS ||
        nf * 23 > d->n - d->off)
        return -1;
    r->deleted = (flags & ROW_FLAG_DELETED) != 0;
    return (long)nf;
}

long row_decode_keys(const uint8_t *p, size_t n, struct row *r)
{
    SS_ASSERT(r != NULL);
    SS_ASSERT(p != NULL || n == 0);
    struct dec d = { p, n, 0, 0 };
    long nf = get_header(&d, r);
    if (nf < 0 || (nf > 0 && scan_fields(&d, (int)nf) == 0)) {
        memset(r, 0, sizeof *r);
        return -1;
    }
    return (long)d.off;
}

long row_decode(const uint8_t *p, size_t n, struct row *r)
{
    SS_ASSERT(r != NULL);
    SS_ASSERT(p != NULL || n == 0);
    struct dec d = { p, n, 0, 0 };
    long nf = get_header(&d, r);
    if (nf < 0 || (nf > 0 && get_fields(&d, r, (int)nf) != 0)) {
        row_free(r);
        return -1;
    }
    SS_ASSERT(r->nfields == (int)nf && d.off <= n);
    return (long)d.off;
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
