/* trace.c — see trace.h. FNV-1a over the bytes of each line, newline included. */
#include "trace.h"

#include <stdarg.h>
#include <string.h>

#include "types.h"

void trace_init(struct trace *t, FILE *out)
{
    memset(t, 0, sizeof *t);
    t->hash = 0xcbf29ce484222325ull;
    t->out = out;
}

void trace_line(struct trace *t, int64_t now_ms, const char *actor, const char *fmt, ...)
{
    SS_ASSERT(t && actor && fmt);
    char *line = t->tail[t->lines % TRACE_TAIL];
    int n = snprintf(line, TRACE_LINE_MAX, "t=%lld.%03lld %s ", (long long)(now_ms / 1000),
                     (long long)(now_ms % 1000), actor);
    if (n < 0 || n >= TRACE_LINE_MAX) n = TRACE_LINE_MAX - 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, (size_t)(TRACE_LINE_MAX - n), fmt, ap);
    va_end(ap);
    for (const unsigned char *p = (const unsigned char *)line; *p; p++)
        t->hash = (t->hash ^ *p) * 0x100000001b3ull;
    t->hash = (t->hash ^ '\n') * 0x100000001b3ull;
    t->lines++;
    if (t->out) fprintf(t->out, "%s\n", line);
    if (t->sink) t->sink(t->sink_arg, now_ms, line);
}

void trace_print_tail(const struct trace *t, FILE *f, int n, const char *prefix)
{
    if (n > TRACE_TAIL) n = TRACE_TAIL;
    uint64_t first = t->lines > (uint64_t)n ? t->lines - (uint64_t)n : 0;
    for (uint64_t i = first; i < t->lines; i++)
        fprintf(f, "%s%s\n", prefix, t->tail[i % TRACE_TAIL]);
}
