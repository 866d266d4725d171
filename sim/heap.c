/* heap.c — see heap.h. */
#include "heap.h"

#include <stdlib.h>
#include <string.h>

#include "types.h"

void heap_init(struct heap *h) { memset(h, 0, sizeof *h); }

void heap_free(struct heap *h, void (*free_data)(struct step *s))
{
    for (size_t i = 0; i < h->n; i++)
        if (free_data) free_data(&h->v[i]);
    free(h->v);
    memset(h, 0, sizeof *h);
}

static int before(const struct step *a, const struct step *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

int heap_push(struct heap *h, struct step s)
{
    if (h->n >= HEAP_MAX) return -1;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        struct step *v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    s.seq = h->next_seq++;
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&s, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = s;
    return 0;
}

int heap_pop(struct heap *h, struct step *out)
{
    if (h->n == 0) return 0;
    *out = h->v[0];
    struct step last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct step *best = &last;
        if (l < h->n && before(&h->v[l], best)) { m = l; best = &h->v[l]; }
        if (r < h->n && before(&h->v[r], best)) m = r;
        if (m == i) break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n) h->v[i] = last;
    SS_ASSERT(h->n == 0 || h->v[0].at >= out->at);
    return 1;
}

const struct step *heap_peek(const struct heap *h) { return h->n ? &h->v[0] : NULL; }
