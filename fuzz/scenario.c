/*
 * scenario.c — fuzz harness: the scenario parser (sim/scn.h) on arbitrary
 * text. It must never crash, leak or read outside the input (ASan), and
 * every rejection must carry the SPEC §4 message `FILE:LINE:COL: expected
 * …, found …` pointing inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scn.h"

#include "fuzz.h"

static void fuzz_setup(void) {}

static void fuzz_one(const uint8_t *p, size_t n)
{
    struct scn s;
    struct scn_error err;
    memset(&err, 0, sizeof err);
    int rc = scn_parse("fuzz.scn", (const char *)p, n, &s, &err);
    if (rc != 0) {
        if (strncmp(err.msg, "fuzz.scn:", 9) != 0 || strstr(err.msg, "expected") == NULL)
            fuzz_fail("SCN", "error message not in the form FILE:LINE:COL: expected …: \"%s\"", err.msg);
        if (err.line < 0 || err.col < 0)
            fuzz_fail("SCN", "negative error position %d:%d", err.line, err.col);
        size_t lines = 1;
        for (size_t i = 0; i < n; i++) lines += p[i] == '\n';
        if ((size_t)err.line > lines + 1)
            fuzz_fail("SCN", "error at line %d of a %zu-line input: %s", err.line, lines, err.msg);
    } else {
        if (s.nstmts < 0 || s.nstmts > SCN_MAX_STMTS || s.nnested < 0 || s.nnested > SCN_MAX_NESTED)
            fuzz_fail("SCN", "statement counts out of their limits: %d, %d", s.nstmts, s.nnested);
    }
    scn_free(&s);
}
