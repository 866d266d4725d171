/*
 * trace.h — one line per step of a run (time, actor, what, key=values) and a
 * rolling 64-bit hash over every line: the determinism test (ARCHITECTURE
 * rule 4). The last TRACE_TAIL lines are kept for failure reports; the full
 * trace goes to a FILE* when one is given (replay --trace, --verbose).
 */
#ifndef SYNCSIM_TRACE_H
#define SYNCSIM_TRACE_H

#include <stdint.h>
#include <stdio.h>

#define TRACE_LINE_MAX 512
#define TRACE_TAIL 64

struct trace {
    uint64_t hash;
    uint64_t lines;
    FILE *out;                       /* optional full trace */
    char tail[TRACE_TAIL][TRACE_LINE_MAX];
    /* optional sink for every line (reports); may be NULL */
    void (*sink)(void *arg, int64_t t, const char *line);
    void *sink_arg;
};

void trace_init(struct trace *t, FILE *out);
/* Appends "t=<ms> <actor> <text>" and folds it into the hash. */
void trace_line(struct trace *t, int64_t now_ms, const char *actor, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prints the last n lines (oldest first) to f with a prefix. */
void trace_print_tail(const struct trace *t, FILE *f, int n, const char *prefix);

#endif
