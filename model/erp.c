/*
 * erp.c — the simulated ERP source (see erp.h, SPEC §1.9).
 *
 * A table is its generated count (with one change time for all of them) and
 * an array of written rows in order of first write. A written row whose id
 * is a generated one overrides it: a bitmap over the generated numbers,
 * allocated on the first such write, lets erp_foreach skip the generated
 * version without searching.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "erp.h"

struct erp_row {
    struct row row;            /* fields; stamps unused */
    int64_t changed_at;
};

struct erp_table {
    char name[NAME_MAX_LEN + 1];
    int gen_n;
    int64_t gen_at;
    uint8_t *overridden;       /* gen_n bits, or NULL: none overridden */
    struct erp_row *rows;
    int nrows, cap;
};

struct erp {
    struct erp_table t[ERP_MAX_TABLES];
    int ntables;
};

struct erp *erp_new(void)
{
    struct erp *e = calloc(1, sizeof *e);
    return e;
}

void erp_free(struct erp *e)
{
    if (e == NULL)
        return;
    SS_ASSERT(e->ntables >= 0 && e->ntables <= ERP_MAX_TABLES);
    for (int i = 0; i < e->ntables; i++) {
        for (int r = 0; r < e->t[i].nrows; r++)
            row_free(&e->t[i].rows[r].row);
        free(e->t[i].rows);
        free(e->t[i].overridden);
    }
    free(e);
}

static struct erp_table *table_find(const struct erp *e, const char *name)
{
    SS_ASSERT(e != NULL && name != NULL);
    for (int i = 0; i < e->ntables; i++)
        if (strcmp(e->t[i].name, name) == 0)
            return (struct erp_table *)&e->t[i];
    return NULL;
}

static struct erp_table *table_get(struct erp *e, const char *name)
{
    struct erp_table *t = table_find(e, name);
    if (t != NULL)
        return t;
    if (e->ntables == ERP_MAX_TABLES || name[0] == '\0' || strlen(name) > NAME_MAX_LEN)
        return NULL;
    t = &e->t[e->ntables++];
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    return t;
}

/* The generated number of id (NAME-i, 1 ≤ i ≤ gen_n, no leading zero), or 0. */
static int gen_number(const struct erp_table *t, const char *id)
{
    size_t n = strlen(t->name);
    if (strncmp(id, t->name, n) != 0 || id[n] != '-' || id[n + 1] < '1' || id[n + 1] > '9')
        return 0;
    long v = 0;
    for (const char *p = id + n + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > ERP_MAX_GENERATED)
            return 0;
        v = v * 10 + (*p - '0');
    }
    return v <= t->gen_n ? (int)v : 0;
}

static bool is_overridden(const struct erp_table *t, int i)
{
    SS_ASSERT(i >= 1 && i <= t->gen_n);
    return t->overridden != NULL && (t->overridden[(i - 1) / 8] >> ((i - 1) % 8) & 1u);
}

int erp_seed(struct erp *e, const char *table, int n, int64_t at_ms)
{
    SS_ASSERT(e != NULL && table != NULL);
    SS_ASSERT(n >= 0);
    struct erp_table *t = table_get(e, table);
    if (t == NULL || n > ERP_MAX_GENERATED)
        return -1;
    free(t->overridden);
    t->overridden = NULL;
    t->gen_n = n;
    t->gen_at = at_ms;
    for (int r = 0; r < t->nrows; r++) {   /* written rows that are now generated ids */
        int g = gen_number(t, t->rows[r].row.id);
        if (g == 0)
            continue;
        if (t->overridden == NULL && (t->overridden = calloc((size_t)n / 8 + 1, 1)) == NULL)
            return -1;
        t->overridden[(g - 1) / 8] |= (uint8_t)(1u << ((g - 1) % 8));
    }
    return 0;
}

/* The written row of id, created (with its generated fields, if it is a
 * generated id) when absent; NULL past the limits. */
static struct erp_row *erp_row_get(struct erp_table *t, const char *id)
{
    for (int r = 0; r < t->nrows; r++)
        if (strcmp(t->rows[r].row.id, id) == 0)
            return &t->rows[r];
    if (t->nrows == ERP_MAX_WRITTEN || strlen(id) > ROW_ID_MAX || id[0] == '\0')
        return NULL;
    int g = gen_number(t, id);
    if (g > 0 && t->overridden == NULL && (t->overridden = calloc((size_t)t->gen_n / 8 + 1, 1)) == NULL)
        return NULL;
    if (t->nrows == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        struct erp_row *v = realloc(t->rows, (size_t)cap * sizeof *v);
        if (v == NULL)
            return NULL;
        t->rows = v;
        t->cap = cap;
    }
    struct erp_row *er = &t->rows[t->nrows++];
    memset(er, 0, sizeof *er);
    row_init(&er->row, t->name, id);
    if (g > 0) {
        char num[24];
        struct stamp zero = {0};
        snprintf(num, sizeof num, "%d", g);
        t->overridden[(g - 1) / 8] |= (uint8_t)(1u << ((g - 1) % 8));
        if (row_set(&er->row, "n", num, &zero) != 0 || row_set(&er->row, "name", id, &zero) != 0)
            return NULL;
    }
    return er;
}

int erp_write(struct erp *e, const char *table, const char *id, int n,
              const char *const *names, const char *const *values, int64_t at_ms)
{
    SS_ASSERT(e != NULL && table != NULL && id != NULL);
    SS_ASSERT(n >= 0 && (n == 0 || (names != NULL && values != NULL)));
    struct erp_table *t = table_get(e, table);
    struct erp_row *er = t != NULL ? erp_row_get(t, id) : NULL;
    if (er == NULL)
        return -1;
    struct stamp zero = {0};
    for (int i = 0; i < n; i++)
        if (row_set(&er->row, names[i], values[i], &zero) != 0)
            return -1;
    er->changed_at = at_ms;
    return 0;
}

static int visit_written(const struct erp_row *er, erp_row_fn fn, void *arg)
{
    const char *names[ROW_HARD_FIELDS], *values[ROW_HARD_FIELDS];
    SS_ASSERT(er->row.nfields >= 0 && er->row.nfields <= ROW_HARD_FIELDS);
    for (int i = 0; i < er->row.nfields; i++) {
        names[i] = er->row.fields[i].name;
        values[i] = er->row.fields[i].value;
    }
    return fn(arg, er->row.table, er->row.id, er->row.nfields, names, values);
}

int erp_foreach(const struct erp *e, const char *table, int64_t since_ms,
                erp_row_fn fn, void *arg)
{
    SS_ASSERT(e != NULL && fn != NULL);
    const struct erp_table *t = table_find(e, table);
    if (t == NULL)
        return 0;
    if (t->gen_at >= since_ms) {
        for (int i = 1; i <= t->gen_n; i++) {
            if (is_overridden(t, i))
                continue;
            char id[ROW_ID_MAX + 24], num[24];
            snprintf(id, sizeof id, "%s-%d", t->name, i);
            snprintf(num, sizeof num, "%d", i);
            const char *names[2] = { "n", "name" }, *values[2] = { num, id };
            int rc = fn(arg, t->name, id, 2, names, values);
            if (rc != 0)
                return rc;
        }
    }
    for (int r = 0; r < t->nrows; r++) {
        if (t->rows[r].changed_at < since_ms)
            continue;
        int rc = visit_written(&t->rows[r], fn, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int count_one(void *arg, const char *table, const char *id, int n,
                     const char *const *names, const char *const *values)
{
    (void)table, (void)id, (void)n, (void)names, (void)values;
    (*(long *)arg)++;
    return 0;
}

long erp_count(const struct erp *e, const char *table, int64_t since_ms)
{
    long n = 0;
    int rc = erp_foreach(e, table, since_ms, count_one, &n);
    SS_ASSERT(rc == 0 && n >= 0);
    return n;
}
