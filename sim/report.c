/*
 * report.c — the timeline of a run, built from its trace lines (report.h),
 * and the SPEC §2 texts a failure page quotes.
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "report_tl.h"
#include "types.h"

const char *const rpt_kinds[5] = { "initial", "manual", "background", "repository", "master" };

int rpt_kind_index(const char *name)
{
    for (int i = 0; i < 5; i++)
        if (strncmp(name, rpt_kinds[i], strlen(rpt_kinds[i])) == 0) return i;
    return 0;
}

/* ------------------------------------------------------------ SPEC texts */

/* SPEC §2, verbatim; plus the checker's other ids. */
static const struct { const char *id, *text; } inv_texts[] = {
    { "INV-MUTEX", "Per device, at most one sync holds the lock." },
    { "INV-GATE", "No non-initial sync runs while initial sync is incomplete." },
    { "INV-COOLDOWN", "No non-initial sync acquires within the cooldown after initial completion." },
    { "INV-COLLAPSE", "At most one pending follow-up; a request queued behind a run is followed by exactly "
                      "one follow-up run (no trigger lost, none doubled), unless logout, a 401, "
                      "cancel-and-logout or a crash discarded it." },
    { "INV-TIMEOUT", "No force-release before `lock_timeout` without progress; a held lock without "
                     "progress for longer never blocks an acquire." },
    { "INV-STALE", "After start-up no persisted holder survives and no lock is held." },
    { "INV-DURABLE", "Every write acknowledged to the app survives any crash: it is in the outbox, the "
                     "dead letters, or acknowledged by the server." },
    { "INV-ONCE", "The server applies each op id at most once." },
    { "INV-GUARD", "A pulled row never replaced a local row with a pending outbox item." },
    { "INV-ORDER", "Within a run, no pull request precedes the end of the push phase." },
    { "INV-SCOPE", "No response to a user contains another user's rows." },
    { "INV-CONVERGE", "After faults stop and every device finishes a sync (bounded time), each device's "
                      "synced tables equal the server's, and every server row is what the reference "
                      "model computes by applying, in the server's order, every op id the server first "
                      "saw and every server write, with §1.6 (no write lost, none invented); tombstones "
                      "are compared with their fields. Rows whose change sits in the dead letters or in "
                      "an unresolved manual conflict are the only exceptions, and they are visible in "
                      "status." },
    { "INV-RESUME", "After a crash in initial sync, finished tables are not fetched again." },
    { "INV-ORCH", "Orchestrator: one run at a time; each run started is the queued entry of highest "
                  "effective priority (ORCH-3); no entry waits more than 60 min; no run outlives "
                  "`orch_timeout`." },
    { "ORACLE", "The coordinator's answer to a request differs from the independent reference model "
                "of the COORD-1 decision table (sim/oracle.c, written from SPEC §1.2 alone)." },
    { "EXPECT", "A scenario expectation (`expect …`, SPEC §4) did not hold at its time." },
    { "SCENARIO", "A scenario statement failed while it ran (SPEC §4)." },
    { "WIRE", "A message could not be decoded (the wire codec, versioned)." },
    { "LIMIT", "A limit of the simulator was reached (memory, event heap)." },
};

const char *rpt_invariant_text(const char *id)
{
    if (!id) return "";
    for (size_t i = 0; i < sizeof inv_texts / sizeof inv_texts[0]; i++)
        if (strcmp(id, inv_texts[i].id) == 0) return inv_texts[i].text;
    if (strncmp(id, "SRV-", 4) == 0) return "A server rule of SPEC §1.5 was broken.";
    return "(no SPEC text for this id)";
}

/* The first word that looks like an id: INV-…, ORACLE, WIRE, LIMIT, SRV-…. */
const char *rpt_invariant_of(const char *message, char *buf, size_t n)
{
    SS_ASSERT(buf && n > 0);
    buf[0] = 0;
    if (!message) return buf;
    static const char *const ids[] = { "INV-", "ORACLE", "WIRE", "LIMIT", "SRV-", "SCENARIO" };
    const char *best = NULL;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const char *p = strstr(message, ids[i]);
        if (p && (!best || p < best)) best = p;
    }
    if (!best) return buf;
    size_t k = 0;
    while (best[k] && (best[k] == '-' || (best[k] >= 'A' && best[k] <= 'Z') || (best[k] >= '0' && best[k] <= '9')) && k + 1 < n) {
        buf[k] = best[k];
        k++;
    }
    buf[k] = 0;
    return buf;
}

/* ------------------------------------------------------------- builders */

struct rpt_timeline *rpt_tl_new(void)
{
    struct rpt_timeline *tl = calloc(1, sizeof *tl);
    if (!tl) return NULL;
    tl->tail = calloc(RPT_TAIL_LINES, sizeof *tl->tail);
    if (!tl->tail) { free(tl); return NULL; }
    tl->server_down = tl->quiesce = -1;
    tl->fail_lane = RPT_WORLD;
    return tl;
}

void rpt_tl_free(struct rpt_timeline *tl)
{
    if (!tl) return;
    free(tl->spans);
    free(tl->msgs);
    free(tl->marks);
    free(tl->tail);
    free(tl);
}

static bool grow(void **v, int *cap, int n, size_t size)
{
    if (n < *cap) return true;
    int c = *cap ? *cap * 2 : 256;
    void *p = realloc(*v, (size_t)c * size);
    if (!p) return false;
    *v = p;
    *cap = c;
    return true;
}

static int span_open(struct rpt_timeline *tl, int lane, int64_t t, enum rpt_span_kind k, int sub,
                     const char *label)
{
    if (!grow((void **)&tl->spans, &tl->cspans, tl->nspans, sizeof *tl->spans)) return -1;
    struct rpt_span *s = &tl->spans[tl->nspans];
    memset(s, 0, sizeof *s);
    *s = (struct rpt_span){ .lane = lane, .t0 = t, .t1 = -1, .kind = k, .sub = sub };
    snprintf(s->label, sizeof s->label, "%s", label);
    return tl->nspans++;
}

static void span_close(struct rpt_timeline *tl, int *idx, int64_t t, bool cut, const char *more)
{
    if (*idx < 0) return;
    struct rpt_span *s = &tl->spans[*idx];
    s->t1 = t;
    s->cut = cut;
    if (more && *more) {
        size_t l = strlen(s->label);
        snprintf(s->label + l, sizeof s->label - l, " %s", more);
    }
    *idx = -1;
}

static void mark(struct rpt_timeline *tl, int lane, int64_t t, char sym, const char *text)
{
    if (!grow((void **)&tl->marks, &tl->cmarks, tl->nmarks, sizeof *tl->marks)) return;
    struct rpt_mark *m = &tl->marks[tl->nmarks++];
    m->lane = lane;
    m->t = t;
    m->sym = sym;
    snprintf(m->text, sizeof m->text, "%s", text);
}

static int msg_new(struct rpt_timeline *tl, int dev, bool to_server, int64_t t, const char *label)
{
    if (!grow((void **)&tl->msgs, &tl->cmsgs, tl->nmsgs, sizeof *tl->msgs)) return -1;
    struct rpt_msg *m = &tl->msgs[tl->nmsgs];
    memset(m, 0, sizeof *m);
    m->dev = dev;
    m->to_server = to_server;
    m->t0 = t;
    m->t1 = -1;
    snprintf(m->label, sizeof m->label, "%s", label);
    return tl->nmsgs++;
}

static void q_push(int *q, int *n, int v)
{
    if (v < 0) return;
    if (*n == RPT_PENDING_MAX) { memmove(q, q + 1, (RPT_PENDING_MAX - 1) * sizeof *q); (*n)--; }
    q[(*n)++] = v;
}

static int q_pop(int *q, int *n)
{
    if (*n == 0) return -1;
    int v = q[0];
    memmove(q, q + 1, (size_t)(*n - 1) * sizeof *q);
    (*n)--;
    return v;
}

static int lane_of(struct rpt_timeline *tl, const char *name, bool create)
{
    for (int i = 0; i < tl->nlanes; i++)
        if (strcmp(tl->lanes[i], name) == 0) return i;
    if (!create || tl->nlanes == RPT_MAX_LANES) return RPT_WORLD;
    int i = tl->nlanes++;
    snprintf(tl->lanes[i], sizeof tl->lanes[i], "%s", name);
    struct rpt_dev_state *s = &tl->st[i];
    s->lock = s->run = s->phase = s->partition = s->offline = -1;
    s->last_send = s->last_resp = -1;
    return i;
}

/* Value of key=… in text (into buf); "" when absent. */
static const char *kv(const char *text, const char *key, char *buf, size_t n)
{
    size_t kl = strlen(key);
    buf[0] = 0;
    for (const char *p = text; (p = strstr(p, key)); p += kl) {
        if ((p == text || p[-1] == ' ') && p[kl] == '=') {
            size_t i = 0;
            for (const char *v = p + kl + 1; *v && *v != ' ' && i + 1 < n; v++) buf[i++] = *v;
            buf[i] = 0;
            return buf;
        }
    }
    return buf;
}

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* Ends what a dead process had open: lock, run, phase (cut by the crash). */
static void dev_died(struct rpt_timeline *tl, int d, int64_t t)
{
    struct rpt_dev_state *s = &tl->st[d];
    span_close(tl, &s->lock, t, true, "(cut by crash)");
    span_close(tl, &s->run, t, true, "(cut by crash)");
    span_close(tl, &s->phase, t, true, NULL);
    span_close(tl, &s->partition, t, false, NULL);
}

static void dev_send(struct rpt_timeline *tl, int d, int64_t t, const char *what)
{
    struct rpt_dev_state *s = &tl->st[d];
    char kindw[16] = "", label[64];
    sscanf(what, "%15s", kindw);
    snprintf(label, sizeof label, "%s request", kindw);
    s->last_send = msg_new(tl, d, true, t, label);
    q_push(s->sends, &s->nsends, s->last_send);
    int ph = strcmp(kindw, "push") == 0 ? PH_PUSH : strcmp(kindw, "pull") == 0 ? PH_PULL : PH_INITIAL;
    if (s->run >= 0 && (s->phase < 0 || tl->spans[s->phase].sub != ph)) {
        span_close(tl, &s->phase, t, false, NULL);
        s->phase = span_open(tl, d, t, SPAN_PHASE, ph, ph == PH_PUSH ? "push phase" : ph == PH_PULL ? "pull phase" : "initial sync pages");
    }
}

static void dev_event(struct rpt_timeline *tl, int d, int64_t t, const char *text)
{
    struct rpt_dev_state *s = &tl->st[d];
    char b[64], b2[64], label[200];
    if (starts(text, "lock.acquired")) {
        span_close(tl, &s->lock, t, true, NULL);
        snprintf(label, sizeof label, "lock held: %s", kv(text, "kind", b, sizeof b));
        s->lock = span_open(tl, d, t, SPAN_LOCK, rpt_kind_index(b), label);
    } else if (starts(text, "lock.released")) {
        snprintf(label, sizeof label, "held_ms=%s", kv(text, "held_ms", b, sizeof b));
        span_close(tl, &s->lock, t, false, label);
    } else if (starts(text, "lock.force_released")) {
        span_close(tl, &s->lock, t, true, "(force-released)");
        mark(tl, d, t, 'F', text);
    } else if (starts(text, "lock.stale_cleared")) mark(tl, d, t, 'C', text);
    else if (starts(text, "lock.queued")) mark(tl, d, t, 'Q', text);
    else if (starts(text, "lock.rejected")) mark(tl, d, t, 'J', text);
    else if (starts(text, "sync.started")) {
        span_close(tl, &s->run, t, true, NULL);
        snprintf(label, sizeof label, "run: %s", kv(text, "kind", b, sizeof b));
        s->run = span_open(tl, d, t, SPAN_RUN, rpt_kind_index(b), label);
    } else if (starts(text, "sync.completed") || starts(text, "sync.failed") || starts(text, "sync.fenced")) {
        const char *how = starts(text, "sync.completed") ? "completed" : starts(text, "sync.failed") ? "failed" : "fenced";
        snprintf(label, sizeof label, "%s %s", how, kv(text, "reason", b2, sizeof b2));
        span_close(tl, &s->phase, t, false, NULL);
        span_close(tl, &s->run, t, !starts(text, "sync.completed"), label);
        if (!starts(text, "sync.completed")) mark(tl, d, t, 'E', text);
    } else if (starts(text, "initial.completed") || starts(text, "initial.gave_up") || starts(text, "auth.")
               || starts(text, "breaker.opened") || starts(text, "outbox.deadlettered")
               || starts(text, "conflict.detected") || starts(text, "toast") || starts(text, "app.write_refused")) {
        mark(tl, d, t, 'E', text);
    }
}

static void dev_action(struct rpt_timeline *tl, int d, int64_t t, const char *a)
{
    struct rpt_dev_state *s = &tl->st[d];
    char label[200];
    snprintf(label, sizeof label, "%.190s", a);
    if (starts(a, "crash")) { mark(tl, d, t, 'X', label); dev_died(tl, d, t); }
    else if (starts(a, "start")) mark(tl, d, t, 'S', label);
    else if (starts(a, "restart")) mark(tl, d, t, 'R', label);
    else if (starts(a, "write") || starts(a, "delete")) mark(tl, d, t, 'W', label);
    else if (starts(a, "trigger")) mark(tl, d, t, 'T', label);
    else if (starts(a, "offline")) { if (s->offline < 0) s->offline = span_open(tl, d, t, SPAN_FAULT, FW_OFFLINE, "told offline"); }
    else if (starts(a, "online")) span_close(tl, &s->offline, t, false, NULL);
    else if (starts(a, "partition")) { if (s->partition < 0) s->partition = span_open(tl, d, t, SPAN_FAULT, FW_PARTITION, "partitioned (silent)"); }
    else if (starts(a, "heal")) span_close(tl, &s->partition, t, false, NULL);
    else mark(tl, d, t, 'A', label);
}

static void dev_line(struct rpt_timeline *tl, int d, int64_t t, const char *text)
{
    struct rpt_dev_state *s = &tl->st[d];
    if (starts(text, "send ")) dev_send(tl, d, t, text + 5);
    else if (starts(text, "net ->server lost")) {
        /* logged right after the send it belongs to */
        if (s->last_send >= 0 && s->nsends > 0 && s->sends[s->nsends - 1] == s->last_send) {
            tl->msgs[s->last_send].lost = true;
            s->nsends--;
        }
    } else if (starts(text, "net ->device lost")) {
        if (s->last_resp >= 0 && s->nresps > 0 && s->resps[s->nresps - 1] == s->last_resp) {
            tl->msgs[s->last_resp].lost = true;
            s->nresps--;
        }
    } else if (starts(text, "recv")) {
        int m = q_pop(s->resps, &s->nresps);
        if (m >= 0) tl->msgs[m].t1 = t;
    } else if (starts(text, "net ->device dropped")) {
        int m = q_pop(s->resps, &s->nresps);
        if (m >= 0) { tl->msgs[m].t1 = t; tl->msgs[m].lost = true; }
    } else if (starts(text, "action ")) dev_action(tl, d, t, text + 7);
    else if (starts(text, "died at a write")) { mark(tl, d, t, 'X', text); dev_died(tl, d, t); }
    else if (starts(text, "armed crash") || starts(text, "disk fault")) mark(tl, d, t, 'A', text);
    else dev_event(tl, d, t, text);
}

/* The server's answer (or failure, or drop) to the oldest request of dev. */
static void server_reply(struct rpt_timeline *tl, int64_t t, const char *dev, int status, bool dropped)
{
    int d = lane_of(tl, dev, true);
    if (d < 0) return;
    struct rpt_dev_state *s = &tl->st[d];
    int m = q_pop(s->sends, &s->nsends);
    if (m >= 0) { tl->msgs[m].t1 = t; tl->msgs[m].lost = dropped; }
    if (dropped) return;
    char label[64];
    snprintf(label, sizeof label, "response %d", status);
    s->last_resp = msg_new(tl, d, false, t, label);
    if (s->last_resp >= 0) tl->msgs[s->last_resp].status = status;
    q_push(s->resps, &s->nresps, s->last_resp);
}

static void server_line(struct rpt_timeline *tl, int64_t t, const char *text)
{
    char dev[64];
    int status;
    if (sscanf(text, "answer %63s status=%d", dev, &status) == 2) server_reply(tl, t, dev, status, false);
    else if (sscanf(text, "fail %d to %63s", &status, dev) == 2) {
        server_reply(tl, t, dev, status, false);
        mark(tl, RPT_SERVER, t, 'J', text);
    } else if (sscanf(text, "drop from %63s", dev) == 1) server_reply(tl, t, dev, 0, true);
    else if (starts(text, "action crash")) {
        mark(tl, RPT_SERVER, t, 'X', "server crash");
        if (tl->server_down < 0) tl->server_down = span_open(tl, RPT_SERVER, t, SPAN_FAULT, FW_DOWN, "server down");
    } else if (starts(text, "action restart")) {
        mark(tl, RPT_SERVER, t, 'R', "server restart");
        span_close(tl, &tl->server_down, t, false, NULL);
    } else if (starts(text, "action ")) mark(tl, RPT_SERVER, t, strstr(text, " write ") || strstr(text, " delete ") ? 'W' : 'A', text + 7);
    else if (starts(text, "orch.")) mark(tl, RPT_SERVER, t, 'E', text);
}

static void fail_at(struct rpt_timeline *tl, int64_t t, const char *text)
{
    if (tl->failed) return;
    tl->failed = true;
    tl->fail_t = t;
    tl->fail_line = tl->lines;
    snprintf(tl->fail_text, sizeof tl->fail_text, "%s", text);
    tl->fail_lane = RPT_WORLD;
    for (int i = 0; i < tl->nlanes; i++)
        if (strstr(text, tl->lanes[i])) { tl->fail_lane = i; break; }
    mark(tl, tl->fail_lane, t, 'V', text);
}

static void world_line(struct rpt_timeline *tl, int64_t t, const char *actor, const char *text)
{
    if (strcmp(actor, "check") == 0 && starts(text, "VIOLATION ")) fail_at(tl, t, text + 10);
    else if (strcmp(actor, "scenario") == 0) {
        size_t n = strlen(text);
        if (n > 8 && strcmp(text + n - 8, ": FAILED") == 0) fail_at(tl, t, text);
    } else if (strcmp(actor, "world") == 0) {
        if (starts(text, "seed=")) snprintf(tl->header, sizeof tl->header, "%s", text);
        else if (strcmp(text, "quiesce") == 0) {
            if (tl->quiesce < 0) tl->quiesce = span_open(tl, RPT_WORLD, t, SPAN_FAULT, FW_QUIESCE, "quiesce: faults healed, every device syncs until idle");
        } else if (strcmp(text, "quiesced") == 0) span_close(tl, &tl->quiesce, t, false, NULL);
        else if (starts(text, "action heal all")) {
            mark(tl, RPT_WORLD, t, 'A', "heal all");
            for (int i = 0; i < tl->nlanes; i++) span_close(tl, &tl->st[i].partition, t, false, NULL);
        }
    }
}

void rpt_tl_line(struct rpt_timeline *tl, const char *line)
{
    SS_ASSERT(tl && line);
    long long sec = 0, ms = 0;
    int used = 0;
    char actor[64];
    if (sscanf(line, "t=%lld.%lld %63s %n", &sec, &ms, actor, &used) < 3 || used == 0) return;
    const char *text = line + used;
    int64_t t = (int64_t)sec * 1000 + ms;
    tl->lines++;
    char *slot = tl->tail[(tl->lines - 1) % RPT_TAIL_LINES];
    snprintf(slot, 512, "%s", line);
    size_t sl = strlen(slot);
    while (sl > 0 && (slot[sl - 1] == '\n' || slot[sl - 1] == '\r')) slot[--sl] = 0;
    if (t > tl->t_end) tl->t_end = t;
    char body[512];
    snprintf(body, sizeof body, "%s", text);
    size_t bl = strlen(body);
    while (bl > 0 && (body[bl - 1] == '\n' || body[bl - 1] == '\r')) body[--bl] = 0;
    if (strcmp(actor, "server") == 0) server_line(tl, t, body);
    else if (strcmp(actor, "world") == 0 || strcmp(actor, "check") == 0 || strcmp(actor, "scenario") == 0
             || strcmp(actor, "hostile") == 0)
        world_line(tl, t, actor, body);
    else {
        int d = lane_of(tl, actor, true);
        if (d >= 0) dev_line(tl, d, t, body);
    }
}

void rpt_tl_sink(void *arg, int64_t t, const char *line)
{
    (void)t;
    rpt_tl_line(arg, line);
}

void rpt_tl_read(struct rpt_timeline *tl, FILE *f)
{
    char line[2048];
    while (fgets(line, sizeof line, f)) rpt_tl_line(tl, line);
}

void rpt_tl_set_failure(struct rpt_timeline *tl, int64_t t, const char *text)
{
    fail_at(tl, t < 0 ? tl->t_end : t, text ? text : "failure");
}

int rpt_tl_lanes(const struct rpt_timeline *tl) { return tl->nlanes; }
const char *rpt_tl_lane_name(const struct rpt_timeline *tl, int lane)
{
    return lane >= 0 && lane < tl->nlanes ? tl->lanes[lane] : lane == RPT_SERVER ? "server" : "world";
}
bool rpt_tl_failed(const struct rpt_timeline *tl, int64_t *t, const char **text)
{
    if (t) *t = tl->fail_t;
    if (text) *text = tl->fail_text;
    return tl->failed;
}
int64_t rpt_tl_end(const struct rpt_timeline *tl) { return tl->t_end; }

/* ------------------------------------------------------------- escaping */

void rpt_html_escaped(FILE *f, const char *s)
{
    if (!s) return;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '&') fputs("&amp;", f);
        else if (c == '<') fputs("&lt;", f);
        else if (c == '>') fputs("&gt;", f);
        else if (c == '"') fputs("&quot;", f);
        else if (c < 0x20 && c != '\n' && c != '\t') fputc('?', f);
        else fputc(c, f);
    }
}

void rpt_json_escaped(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}
