/*
 * heap.h — the event queue of the simulated world: a binary min-heap of
 * steps ordered by (time, sequence number), so two steps at one instant run
 * in the order they were scheduled (never by address). Bounded.
 */
#ifndef SYNCSIM_HEAP_H
#define SYNCSIM_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define HEAP_MAX 1000000

struct step {
    int64_t at;
    uint64_t seq;
    int kind;          /* world's step kind */
    int a, b;          /* small operands (device index, timer id, …) */
    uint64_t gen;      /* generation / incarnation check */
    void *data;        /* owned payload (message bytes), freed by the world */
    size_t len;
};

struct heap {
    struct step *v;
    size_t n, cap;
    uint64_t next_seq;
};

void heap_init(struct heap *h);
void heap_free(struct heap *h, void (*free_data)(struct step *s));
/* 0, or -1 when full (HEAP_MAX) or out of memory. */
int heap_push(struct heap *h, struct step s);
/* 1 and the earliest step, or 0 when empty. */
int heap_pop(struct heap *h, struct step *out);
const struct step *heap_peek(const struct heap *h);

#endif
