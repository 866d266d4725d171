/*
 * wire.c — fuzz harness: the message decoder (model/wire.h).
 *
 * Any bytes go to wire_decode. It must never read outside the input (ASan),
 * and a message it accepts must survive the round trip: encoding it again
 * succeeds (it came within the limits), decoding that gives the same
 * message, and a second encoding is byte-identical (one canonical form).
 * wire_peek must agree with the decoder on the header.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "row.h"
#include "wire.h"

#include "fuzz.h"

static void fuzz_setup(void) {}

static bool same_rows(const struct row *a, int na, const struct row *b, int nb)
{
    if (na != nb) return false;
    for (int i = 0; i < na; i++) {
        if (!row_equal(&a[i], &b[i], true) || a[i].seq != b[i].seq || strcmp(a[i].table, b[i].table)
            || strcmp(a[i].id, b[i].id))
            return false;
    }
    return true;
}

static void fuzz_one(const uint8_t *p, size_t n)
{
    struct wire_msg m, m2;
    struct wire_err err;
    enum wire_type pt;
    uint64_t pid;
    int peek = wire_peek(p, n, &pt, &pid);
    if (wire_decode(p, n, &m, &err) != 0) {
        if (err.what[0] == '\0') fuzz_fail("WIRE", "decode failed without saying why");
        if (err.offset > n) fuzz_fail("WIRE", "error offset %zu past the input (%zu bytes)", err.offset, n);
        wire_msg_free(&m);
        return;
    }
    if (peek != 0 || pt != m.type || pid != m.req_id)
        fuzz_fail("WIRE", "wire_peek disagrees with wire_decode on the header");
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t l1 = 0, l2 = 0;
    if (wire_encode(&m, &b1, &l1) != 0)
        fuzz_fail("WIRE", "a decoded message (type %d) does not encode again", (int)m.type);
    if (wire_decode(b1, l1, &m2, &err) != 0)
        fuzz_fail("WIRE", "re-encoded message does not decode: %s at byte %zu", err.what, err.offset);
    if (m2.type != m.type || m2.req_id != m.req_id || m2.status != m.status || m2.nitems != m.nitems
        || m2.nresults != m.nresults || m2.nrows != m.nrows || strcmp(m2.token, m.token)
        || m2.cursor != m.cursor || m2.after_seq != m.after_seq || m2.limit != m.limit
        || strcmp(m2.table, m.table) || m2.has_more != m.has_more || m2.server_seq != m.server_seq
        || m2.server_time != m.server_time || m2.table_total != m.table_total
        || m2.retry_after_ms != m.retry_after_ms || strcmp(m2.text, m.text))
        fuzz_fail("WIRE", "round trip changed the message (type %d)", (int)m.type);
    if (!same_rows(m.rows, m.nrows, m2.rows, m2.nrows))
        fuzz_fail("WIRE", "round trip changed the rows");
    for (int i = 0; i < m.nitems; i++)
        if (strcmp(m.items[i].op_id, m2.items[i].op_id) || m.items[i].base_seq != m2.items[i].base_seq
            || !same_rows(&m.items[i].row, 1, &m2.items[i].row, 1))
            fuzz_fail("WIRE", "round trip changed push item %d", i);
    for (int i = 0; i < m.nresults; i++)
        if (strcmp(m.results[i].op_id, m2.results[i].op_id) || m.results[i].outcome != m2.results[i].outcome
            || m.results[i].concurrent != m2.results[i].concurrent || m.results[i].reason != m2.results[i].reason
            || m.results[i].has_row != m2.results[i].has_row
            || (m.results[i].has_row && !same_rows(&m.results[i].row, 1, &m2.results[i].row, 1)))
            fuzz_fail("WIRE", "round trip changed push result %d", i);
    if (wire_encode(&m2, &b2, &l2) != 0 || l1 != l2 || memcmp(b1, b2, l1) != 0)
        fuzz_fail("WIRE", "encoding is not canonical (%zu vs %zu bytes)", l1, l2);
    free(b1);
    free(b2);
    wire_msg_free(&m);
    wire_msg_free(&m2);
}
