/*
 * oracle_srv.c — independent reference model of the server's conflict rules
 * (SPEC §1.1, §1.6 CONF-1/CONF-2, §1.7 SRV-1/SRV-2, §2 INV-CONVERGE).
 * See oracle_srv.h for the conventions and the decisions taken where SPEC is
 * silent. Written from SPEC only; uses row.h/types.h for the data types.
 *
 * Storage: users in a sorted array of pointers; per user, rows in a sorted
 * array of pointers keyed (table, id) bytewise (deterministic iteration for
 * srvo_missing) and recorded op ids in an open-addressing hash (SRV-2).
 */
#include "oracle_srv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ent {                      /* one reference row */
    struct row row;               /* row.table / row.id are the key */
    bool compared;                /* seen by srvo_compare_row this round */
};

struct opent {                    /* one recorded op id (SRV-2) */
    char *op_id;                  /* NULL: empty slot */
    struct srvo_verdict v;
};

struct user {
    char name[NAME_MAX_LEN + 1];
    uint64_t seq;                 /* SRV-1: last change sequence */
    struct ent **rows;            /* sorted by (table, id) */
    size_t nrows, caprows;
    struct opent *ops;            /* hash, capacity a power of two */
    size_t nops, capops;
};

struct srv_oracle {
    struct table_decl tables[SRVO_MAX_TABLES];
    int ntables;
    struct user **users;          /* sorted by name */
    size_t nusers, capusers;
    size_t total_rows, total_ops;
};

/* ---- small helpers ---------------------------------------------------- */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {                     /* the harness cannot go on without memory */
        ss_assert_fail("realloc", __FILE__, __LINE__);
        abort();
    }
    return q;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    SS_ASSERT(src != NULL && strlen(src) < cap);
    memcpy(dst, src, strlen(src) + 1);
}

/* Grow a pointer array to hold one more element. */
static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    *cap = ncap;
    return xrealloc(arr, ncap * elem);
}

/* §1.1: a write's set is the fields stamped with the write's stamp. */
static bool field_in_set(const struct row_field *f, const struct stamp *st)
{
    return stamp_cmp(&f->st, st) == 0;
}

/* §1.1 / wire.h: the write set `deleted` iff del_st equals the row stamp. */
static bool deleted_in_set(const struct row *r)
{
    return stamp_cmp(&r->del_st, &r->st) == 0;
}

/* Linear search: does not rely on the caller's rows being sorted. */
static const struct row_field *find_field(const struct row *r, const char *name)
{
    for (int i = 0; i < r->nfields; i++)
        if (strcmp(r->fields[i].name, name) == 0)
            return &r->fields[i];
    return NULL;
}

/* §1.6: the device is the op id's part before ':' (OUT-1 "device:seq"). */
static void device_of(const char *op_id, char *dev, size_t cap)
{
    size_t len = strcspn(op_id, ":");
    if (len >= cap)
        len = cap - 1;
    memcpy(dev, op_id, len);
    dev[len] = '\0';
}

static const struct table_decl *find_table(const struct srv_oracle *o,
                                           const char *name)
{
    for (int i = 0; i < o->ntables; i++)
        if (strcmp(o->tables[i].name, name) == 0)
            return &o->tables[i];
    return NULL;
}

/* ---- users ------------------------------------------------------------ */

/* Binary search; *pos is the insertion point when not found. */
static struct user *user_find(const struct srv_oracle *o, const char *name,
                              size_t *pos)
{
    SS_ASSERT(o != NULL && name != NULL);
    size_t lo = 0, hi = o->nusers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(o->users[mid]->name, name);
        if (c == 0) {
            if (pos)
                *pos = mid;
            return o->users[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos)
        *pos = lo;
    return NULL;
}

static struct user *user_get(struct srv_oracle *o, const char *name)
{
    size_t pos;
    SS_ASSERT(name != NULL);
    struct user *u = user_find(o, name, &pos);
    if (u)
        return u;
    SS_ASSERT(o->nusers < SRVO_MAX_USERS);
    u = xrealloc(NULL, sizeof *u);
    memset(u, 0, sizeof *u);
    copy_name(u->name, sizeof u->name, name);
    o->users = grow(o->users, &o->capusers, o->nusers + 1, sizeof *o->users);
    memmove(&o->users[pos + 1], &o->users[pos],
            (o->nusers - pos) * sizeof *o->users);
    o->users[pos] = u;
    o->nusers++;
    return u;
}

static void user_free(struct user *u)
{
    for (size_t i = 0; i < u->nrows; i++) {
        row_free(&u->rows[i]->row);
        free(u->rows[i]);
    }
    free(u->rows);
    for (size_t i = 0; i < u->capops; i++)
        free(u->ops[i].op_id);
    free(u->ops);
    free(u);
}

/* ---- rows ------------------------------------------------------------- */

static int key_cmp(const struct row *r, const char *table, const char *id)
{
    int c = strcmp(r->table, table);
    return c ? c : strcmp(r->id, id);
}

static struct ent *row_find(const struct user *u, const char *table,
                            const char *id, size_t *pos)
{
    size_t lo = 0, hi = u->nrows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(&u->rows[mid]->row, table, id);
        if (c == 0) {
            if (pos)
                *pos = mid;
            return u->rows[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos)
        *pos = lo;
    return NULL;
}

/* A new empty reference row at pos (its fields are filled by the caller). */
static struct ent *row_insert(struct srv_oracle *o, struct user *u, size_t pos,
                              const char *table, const char *id)
{
    SS_ASSERT(o->total_rows < SRVO_MAX_ROWS);
    struct ent *e = xrealloc(NULL, sizeof *e);
    memset(e, 0, sizeof *e);
    row_init(&e->row, table, id);
    u->rows = grow(u->rows, &u->caprows, u->nrows + 1, sizeof *u->rows);
    memmove(&u->rows[pos + 1], &u->rows[pos], (u->nrows - pos) * sizeof *u->rows);
    u->rows[pos] = e;
    u->nrows++;
    o->total_rows++;
    return e;
}

static struct ent *row_get_or_add(struct srv_oracle *o, struct user *u,
                                  const char *table, const char *id)
{
    size_t pos;
    struct ent *e = row_find(u, table, id, &pos);
    return e ? e : row_insert(o, u, pos, table, id);
}

/* ---- op ids (SRV-2) ---------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;            /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static struct opent *op_slot(struct opent *tab, size_t cap, const char *op_id)
{
    size_t i = (size_t)hash_str(op_id) & (cap - 1);
    while (tab[i].op_id && strcmp(tab[i].op_id, op_id) != 0)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static const struct opent *op_find(const struct user *u, const char *op_id)
{
    if (u->capops == 0)
        return NULL;
    const struct opent *s = op_slot(u->ops, u->capops, op_id);
    return s->op_id ? s : NULL;
}

static void op_rehash(struct user *u)
{
    size_t ncap = u->capops ? u->capops * 2 : 64;
    struct opent *nt = xrealloc(NULL, ncap * sizeof *nt);
    memset(nt, 0, ncap * sizeof *nt);
    for (size_t i = 0; i < u->capops; i++)
        if (u->ops[i].op_id)
            *op_slot(nt, ncap, u->ops[i].op_id) = u->ops[i];
    free(u->ops);
    u->ops = nt;
    u->capops = ncap;
}

static void op_record(struct srv_oracle *o, struct user *u, const char *op_id,
                      const struct srvo_verdict *v)
{
    SS_ASSERT(o->total_ops < SRVO_MAX_OPS);
    if (2 * (u->nops + 1) > u->capops)
        op_rehash(u);
    struct opent *s = op_slot(u->ops, u->capops, op_id);
    SS_ASSERT(s->op_id == NULL);
    s->op_id = strdup(op_id);
    SS_ASSERT(s->op_id != NULL);
    s->v = *v;
    u->nops++;
    o->total_ops++;
}

/* ---- lifecycle --------------------------------------------------------- */

struct srv_oracle *srvo_new(const struct table_decl *tables, int n)
{
    struct srv_oracle *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    SS_ASSERT(n >= 0 && (n == 0 || tables != NULL));
    for (int i = 0; i < n; i++)
        srvo_add_table(o, &tables[i]);
    return o;
}

void srvo_add_table(struct srv_oracle *o, const struct table_decl *t)
{
    SS_ASSERT(o != NULL && t != NULL);
    for (int i = 0; i < o->ntables; i++) {
        if (strcmp(o->tables[i].name, t->name) == 0) {
            o->tables[i] = *t;    /* migration: new strategy from now on */
            return;
        }
    }
    SS_ASSERT(o->ntables < SRVO_MAX_TABLES);
    o->tables[o->ntables++] = *t;
}

void srvo_free(struct srv_oracle *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->nusers; i++)
        user_free(o->users[i]);
    free(o->users);
    free(o);
}

/* ---- the rules --------------------------------------------------------- */

/* §1.1, SRV-1: rejected items change nothing. REJ_NONE if acceptable. */
static enum reject_reason check_reject(const struct srv_oracle *o,
                                       const struct row *r)
{
    const struct table_decl *t = find_table(o, r->table);
    if (!t || r->id[0] == '\0')
        return REJ_INVALID;                 /* unknown table, no id */
    if (t->read_only)
        return REJ_READ_ONLY;
    if (r->nfields > ROW_MAX_FIELDS)
        return REJ_INVALID;                 /* > 32 fields */
    size_t bytes = 0;
    for (int i = 0; i < r->nfields; i++)
        bytes += strlen(r->fields[i].name) + strlen(r->fields[i].value);
    return bytes > ROW_MAX_BYTES ? REJ_TOO_LARGE : REJ_NONE;
}

/* §1.6: the current version is newer than base_seq and made by another
 * writer (a device's own earlier writes never make its later ones
 * concurrent). */
static bool is_concurrent(const struct ent *cur, const struct push_item *it)
{
    if (!cur)
        return false;
    char dev[OP_ID_MAX + 1];
    device_of(it->op_id, dev, sizeof dev);
    return cur->row.seq > it->base_seq && strcmp(cur->row.st.by, dev) != 0;
}

/* CONF-2: how many write-set items (fields, and `deleted`) the push wins
 * against the current row (strictly greater stamp). */
static int merge_wins(const struct row *cur, const struct row *push)
{
    static const struct stamp zero;
    int wins = 0;
    for (int i = 0; i < push->nfields; i++) {
        const struct row_field *pf = &push->fields[i];
        if (!field_in_set(pf, &push->st))
            continue;
        const struct row_field *cf = find_field(cur, pf->name);
        if (stamp_cmp(&push->st, cf ? &cf->st : &zero) > 0)
            wins++;
    }
    if (deleted_in_set(push) && stamp_cmp(&push->st, &cur->del_st) > 0)
        wins++;
    return wins;
}

/* CONF-1/CONF-2: the outcome for an existing row under strategy s. */
static enum push_outcome decide(enum strategy s, const struct ent *cur,
                                const struct push_item *it, bool concurrent)
{
    if (!cur)
        return PUSH_APPLIED;              /* nothing to conflict with */
    switch (s) {
    case STRAT_LWW:                       /* CONF-1: greater stamp wins */
        return stamp_cmp(&it->row.st, &cur->row.st) > 0 ? PUSH_APPLIED
                                                        : PUSH_STALE;
    case STRAT_MERGE:                     /* CONF-2: wins no field → stale */
        return merge_wins(&cur->row, &it->row) > 0 ? PUSH_APPLIED : PUSH_STALE;
    case STRAT_REMOTE:                    /* CONF-2: server wins */
        return concurrent ? PUSH_STALE : PUSH_APPLIED;
    case STRAT_LOCAL:                     /* CONF-2: client wins */
        return PUSH_APPLIED;
    case STRAT_MANUAL:                    /* CONF-2: concurrent → conflict */
        return concurrent ? PUSH_CONFLICT : PUSH_APPLIED;
    }
    SS_ASSERT(0 && "unknown strategy");
    return PUSH_REJECTED;
}

/* CONF-1: an applied push replaces the whole row and gives it its stamp. */
static void apply_whole(struct ent *e, const struct row *push)
{
    row_free(&e->row);
    int rc = row_copy(&e->row, push);
    SS_ASSERT(rc == 0);
}

static void set_field(struct row *r, const char *name, const char *value,
                      const struct stamp *st)
{
    int rc = row_set(r, name, value, st);
    SS_ASSERT(rc == 0);                   /* past the hard caps of row.h */
}

/* CONF-2: set the write-set fields (and `deleted`) the push wins; the row
 * gets the push's stamp. */
static void apply_merge(struct ent *e, const struct row *push)
{
    struct row *cur = &e->row;
    for (int i = 0; i < push->nfields; i++) {
        const struct row_field *pf = &push->fields[i];
        if (!field_in_set(pf, &push->st))
            continue;
        const struct row_field *cf = find_field(cur, pf->name);
        if (!cf || stamp_cmp(&push->st, &cf->st) > 0)
            set_field(cur, pf->name, pf->value, &push->st);
    }
    if (deleted_in_set(push) && stamp_cmp(&push->st, &cur->del_st) > 0) {
        cur->deleted = push->deleted;
        cur->del_st = push->st;
    }
    cur->st = push->st;
}

enum push_outcome srvo_push_v(struct srv_oracle *o, const char *user,
                              const struct push_item *item,
                              struct srvo_verdict *out)
{
    SS_ASSERT(o != NULL && item != NULL);
    struct srvo_verdict v = { PUSH_REJECTED, false, REJ_NONE, false };
    struct user *u = user_get(o, user);
    const struct opent *seen = op_find(u, item->op_id);
    if (seen) {                           /* SRV-2: first result verbatim */
        v = seen->v;
        v.duplicate = true;
    } else if ((v.reason = check_reject(o, &item->row)) == REJ_NONE) {
        const struct row *r = &item->row;
        struct ent *cur = row_find(u, r->table, r->id, NULL);
        enum strategy s = find_table(o, r->table)->strategy;
        v.concurrent = is_concurrent(cur, item);
        v.outcome = decide(s, cur, item, v.concurrent);
        if (v.outcome == PUSH_APPLIED) {
            struct ent *e = cur ? cur : row_get_or_add(o, u, r->table, r->id);
            if (cur && s == STRAT_MERGE)
                apply_merge(e, r);
            else
                apply_whole(e, r);
            e->row.seq = ++u->seq;        /* SRV-1: next change sequence */
        }
        op_record(o, u, item->op_id, &v); /* SRV-2: not for rejected */
    }
    if (out)
        *out = v;
    return v.outcome;
}

enum push_outcome srvo_push(struct srv_oracle *o, const char *user,
                            const struct push_item *item)
{
    return srvo_push_v(o, user, item, NULL);
}

/* §1.1, CONF-1 "server writes apply unconditionally": a patch with the
 * write's stamp; a field write onto a tombstone clears `deleted`. */
void srvo_server_write(struct srv_oracle *o, const char *user,
                       const struct row *w)
{
    SS_ASSERT(o != NULL && w != NULL);
    struct user *u = user_get(o, user);
    struct ent *e = row_get_or_add(o, u, w->table, w->id);
    struct row *cur = &e->row;
    int nset = 0;
    for (int i = 0; i < w->nfields; i++) {
        if (field_in_set(&w->fields[i], &w->st)) {
            set_field(cur, w->fields[i].name, w->fields[i].value, &w->st);
            nset++;
        }
    }
    if (deleted_in_set(w)) {
        cur->deleted = w->deleted;
        cur->del_st = w->st;
    } else if (nset > 0 && cur->deleted) {
        cur->deleted = false;             /* §1.1: write onto a tombstone */
        cur->del_st = w->st;
    }
    cur->st = w->st;
    cur->seq = ++u->seq;
}

/* ---- queries and comparison (INV-CONVERGE) ----------------------------- */

const struct row *srvo_row(const struct srv_oracle *o, const char *user,
                           const char *table, const char *id)
{
    const struct user *u = user_find(o, user, NULL);
    const struct ent *e = u ? row_find(u, table, id, NULL) : NULL;
    return e ? &e->row : NULL;
}

uint64_t srvo_seq(const struct srv_oracle *o, const char *user)
{
    const struct user *u = user_find(o, user, NULL);
    return u ? u->seq : 0;
}

/* First field difference of a against b (a field of a absent from or
 * different in b); 1 with a message, else 0. a_is_ref names the sides. */
static int field_diff(const struct row *a, const struct row *b, bool a_is_ref,
                      char *why, size_t n)
{
    for (int i = 0; i < a->nfields; i++) {
        const struct row_field *fa = &a->fields[i];
        const struct row_field *fb = find_field(b, fa->name);
        if (fb && strcmp(fa->value, fb->value) == 0)
            continue;
        const char *va = fa->value, *vb = fb ? fb->value : NULL;
        const char *ref = a_is_ref ? va : vb, *srv = a_is_ref ? vb : va;
        snprintf(why, n, "%s/%s field %s: server %s%s%s, reference %s%s%s",
                 a->table, a->id, fa->name,
                 srv ? "\"" : "", srv ? srv : "(absent)", srv ? "\"" : "",
                 ref ? "\"" : "", ref ? ref : "(absent)", ref ? "\"" : "");
        return 1;
    }
    return 0;
}

int srvo_compare_row(struct srv_oracle *o, const char *user,
                     const struct row *s, char *why, size_t n)
{
    SS_ASSERT(o != NULL && s != NULL && why != NULL && n > 0);
    why[0] = '\0';
    struct user *u = user_find(o, user, NULL);
    struct ent *e = u ? row_find(u, s->table, s->id, NULL) : NULL;
    if (!e) {
        snprintf(why, n, "%s/%s: server has the row (deleted=%d, %d fields), "
                 "reference has none (user %s)", s->table, s->id,
                 (int)s->deleted, s->nfields, user);
        return 1;
    }
    e->compared = true;
    const struct row *r = &e->row;
    if (r->deleted != s->deleted) {
        snprintf(why, n, "%s/%s field deleted: server %d, reference %d",
                 s->table, s->id, (int)s->deleted, (int)r->deleted);
        return 1;
    }
    if (field_diff(r, s, true, why, n) || field_diff(s, r, false, why, n))
        return 1;
    return 0;
}

int srvo_missing(struct srv_oracle *o, const char *user, char *why, size_t n)
{
    SS_ASSERT(o != NULL && why != NULL && n > 0);
    why[0] = '\0';
    struct user *u = user_find(o, user, NULL);
    int found = 0;
    for (size_t i = 0; u && i < u->nrows; i++) {
        struct ent *e = u->rows[i];
        if (!e->compared && !found) {
            snprintf(why, n, "%s/%s: reference has the row (deleted=%d, "
                     "%d fields, seq %llu), server did not show it (user %s)",
                     e->row.table, e->row.id, (int)e->row.deleted,
                     e->row.nfields, (unsigned long long)e->row.seq, user);
            found = 1;
        }
        e->compared = false;              /* a new round can start */
    }
    return found;
}
