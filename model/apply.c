/*
 * apply.c — installing what the server says into the device's database:
 * pulled rows, initial pages and push acks, under the pull guard (RUN-3)
 * and CONF-5's base_seq rule; conflict detection and recording (CONF-3).
 * Everything here runs inside the caller's transaction.
 */
#include "device_int.h"

#include <stdio.h>
#include <string.h>

static int save_hlc(struct device *d, int64_t before)
{
    if (d->cfg->clock != CLOCK_HLC || d->hlc == before) return 0;
    return store_set_int(d->st, "hlc", d->hlc);
}

int apply_server_row(struct device *d, const struct row *r, bool from_ack)
{
    SS_ASSERT(r && r->table[0]);
    if (!dev_table(d, r->table)) return 0;   /* another device migrated it; not ours yet */
    int64_t hlc_before = d->hlc;
    dev_hlc_seen(d, r->st.at);               /* CONF-4: guard-skipped rows count too */
    /* outbox_n is never below the truth (it lags only after removals), so
     * with an empty outbox no local change can be pending (RUN-3) and
     * CONF-5 is the statement's own condition — initial pages, mostly. */
    if (d->outbox_n == 0) {
        if (store_put_row_if_newer(d->st, r, r->seq) != 0) return -1;
        return save_hlc(d, hlc_before);
    }
    struct row local = {0};
    uint64_t base = 0;
    int found = store_get_row(d->st, r->table, r->id, &local, &base);
    row_free(&local);
    if (found < 0) return -1;
    /* CONF-5: never install a version older than the one last seen. */
    if (found && r->seq < base) return save_hlc(d, hlc_before);
    int pending = store_outbox_pending(d->st, r->table, r->id);
    if (pending < 0) return -1;
    if (pending > 0) {
        /* RUN-3: the local change wins locally until the server rules on it;
         * an ack (CONF-5) still moves base_seq. */
        if (from_ack && found && store_set_base_seq(d->st, r->table, r->id, r->seq) != 0) return -1;
        return save_hlc(d, hlc_before);
    }
    if (store_put_row(d->st, r, r->seq) != 0) return -1;
    return save_hlc(d, hlc_before);
}

static int record_conflict(struct device *d, const struct push_item *item,
                           const struct push_result *res, struct event *evs, int cap)
{
    SS_ASSERT(cap >= 2);
    /* The version the push met: the server says (it may be gone now that an
     * applied push replaced it); a replayed ack carries only the row. */
    bool pushed_delete = item->row.deleted;
    bool server_delete = res->has_prev ? res->prev_deleted : res->has_row && res->row.deleted;
    char type[32], fields[EV_VAL_MAX + 1];
    snprintf(type, sizeof type, "%s/%s", pushed_delete ? "delete" : "update",
             server_delete ? "delete" : "update");
    static const struct row empty;
    if (res->has_prev)
        str_copy(fields, sizeof fields, res->prev_fields);
    else
        row_diff_fields(&item->row, res->has_row ? &res->row : &empty, fields, sizeof fields);
    const char *winner = res->outcome == PUSH_APPLIED ? "local" : "remote";
    bool resolved = res->outcome != PUSH_CONFLICT;   /* manual waits for the app */
    if (store_conflict_add(d->st, &item->row, type, fields, winner, resolved) != 0) return -1;
    int n = 0;
    ev_init(&evs[n], "conflict.detected");
    ev_str(&evs[n], "table", item->row.table);
    ev_str(&evs[n], "id", item->row.id);
    ev_str(&evs[n], "type", type);
    ev_str(&evs[n], "fields", fields);
    n++;
    if (resolved) {
        ev_init(&evs[n], "conflict.resolved");
        ev_str(&evs[n], "table", item->row.table);
        ev_str(&evs[n], "id", item->row.id);
        ev_str(&evs[n], "winner", winner);
        n++;
    }
    return n;
}

int apply_push_result(struct device *d, const struct push_item *item,
                      const struct push_result *res, struct event *evs, int cap)
{
    SS_ASSERT(item && res && cap >= 2);
    SS_ASSERT(strcmp(item->op_id, res->op_id) == 0);
    int n = 0;
    if (res->outcome == PUSH_REJECTED) {
        /* OUT-3: a rejected item goes to the dead letters at once, with why. */
        const char *why = reject_reason_name(res->reason);
        if (store_deadletter(d->st, item->op_id, why) != 0) return -1;
        ev_init(&evs[n], "outbox.deadlettered");
        ev_str(&evs[n], "op", item->op_id);
        ev_str(&evs[n], "reason", why);
        n++;
    } else if (store_outbox_remove(d->st, item->op_id) != 0) {   /* OUT-2 */
        return -1;
    }
    if (res->has_row && apply_server_row(d, &res->row, true) != 0) return -1;
    if (res->outcome != PUSH_REJECTED
        && (res->concurrent || res->outcome == PUSH_STALE || res->outcome == PUSH_CONFLICT)) {
        int k = record_conflict(d, item, res, evs + n, cap - n);
        if (k < 0) return -1;
        n += k;
    }
    return n;
}
