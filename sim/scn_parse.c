/*
 * scn_parse.c — the scenario-language parser of SPEC §4 (see scn.h).
 *
 * Shape: the input is cut into lines, each line into words (lex_line), and
 * the first word picks a small parse function from a table (declarations,
 * actions, `expect` forms). Nothing recurses on input: an `on` line parses
 * its one nested statement with the same non-recursive body parser, which
 * refuses `on`. Every buffer and count has a limit, so arbitrary bytes
 * (AFL++) end in an error message, never a crash. The first error stops the
 * parse; everything allocated so far is freed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "scn.h"

/* A year and a day of simulated time: far past any scenario, far from
 * int64 overflow when the runner adds delays to it. */
#define SCN_MAX_TIME_MS (366LL * 24 * 3600 * 1000)
#define FOUND_MAX 40            /* bytes of a word quoted back in a message */
#define LIST_MAX 160            /* bytes of a name list in a message */
#define ARENA_CHUNK 65536
#define STMT_CAP0 64

/* Messages spell these limits out; keep them in step with scn.h. */
_Static_assert(SCN_MAX_TOKENS == 512, "lex_line message");
_Static_assert(SCN_MAX_LINE == 16384, "parse_text message");
_Static_assert(SCN_MAX_INPUT == 4194304, "parse_text message");
_Static_assert(SCN_MAX_STMTS == 4096 && SCN_MAX_NESTED == 1024, "new_stmt message");
_Static_assert(SCN_MAX_KV == 256, "parse_kvs message");
_Static_assert(SCN_MAX_CONFIG == 64, "config_pair message");
_Static_assert(EV_VAL_MAX == 95, "check_filter message");
_Static_assert(SCN_MAX_DEVICES <= 32, "migrated_by is a 32-bit device mask");

/* ------------------------------------------------------------------ arena */

/* Strings and small arrays live in chunks that never move, so the AST can
 * hold plain pointers, and scn_free releases everything in one walk. */
struct scn_arena {
    struct scn_arena *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

struct tok {
    const char *s;              /* unescaped word, NUL-terminated, in ps->buf */
    int col;                    /* 1-based column of its first byte */
    int end;                    /* column just after its last byte */
    int eq;                     /* offset of the first unquoted '=' in s; -1 */
};

/* Parse state: the current line's words and everything the checks need. */
struct ps {
    struct scn *scn;
    struct scn_error *err;
    const char *file;
    bool failed;
    int line;
    struct tok tok[SCN_MAX_TOKENS];
    int ntok, i, eol_col;
    char buf[SCN_MAX_LINE + SCN_MAX_TOKENS + 1];
    bool in_stmts, seen_scenario, seen_seed, seen_faults;
    int epoch;                  /* quiesces so far */
    int64_t base_ms;            /* time of the previous timed line, in the epoch */
    int stmt_cap, nested_cap;
    /* Tables a line may name: declared (or default) ones, then migrated
     * ones. migrated_by: bit d set when device d added it (SPEC §4). */
    char known[MAX_TABLES][NAME_MAX_LEN + 1];
    bool declared[MAX_TABLES];
    uint32_t migrated_by[MAX_TABLES];
    int nknown;
};

static int fail_at(struct ps *ps, int col, const char *expected, const char *found)
{
    SS_ASSERT(expected != NULL && found != NULL);
    if (ps->failed)
        return -1;
    ps->failed = true;
    SS_ASSERT(ps->line >= 1 && col >= 1);
    struct scn_error *e = ps->err;
    if (e == NULL)
        return -1;
    snprintf(e->file, sizeof e->file, "%s", ps->file);
    e->line = ps->line;
    e->col = col;
    snprintf(e->msg, sizeof e->msg, "%s:%d:%d: expected %s, found %s", e->file, ps->line, col,
             expected, found);
    return -1;
}

/* 'word', cut at FOUND_MAX bytes on a UTF-8 boundary. */
static void quote_found(const char *s, char *out, size_t n)
{
    size_t len = strlen(s);
    bool cut = len > FOUND_MAX;
    if (cut) {
        len = FOUND_MAX;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    snprintf(out, n, "'%.*s%s'", (int)len, s, cut ? "..." : "");
}

static int fail_tok(struct ps *ps, const struct tok *t, const char *expected)
{
    char found[FOUND_MAX + 8];
    SS_ASSERT(t != NULL);
    quote_found(t->s, found, sizeof found);
    return fail_at(ps, t->col, expected, found);
}

/* Fails at the current word, or at the end of the line when none is left. */
__attribute__((format(printf, 2, 3))) static int fail_here(struct ps *ps, const char *fmt, ...)
{
    char expected[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(expected, sizeof expected, fmt, ap);
    va_end(ap);
    if (ps->i < ps->ntok)
        return fail_tok(ps, &ps->tok[ps->i], expected);
    return fail_at(ps, ps->eol_col, expected, "end of line");
}

/* Fails at the previous word (the one just consumed). */
__attribute__((format(printf, 2, 3))) static int fail_prev(struct ps *ps, const char *fmt, ...)
{
    char expected[384];
    va_list ap;
    SS_ASSERT(ps->i > 0 && ps->i <= ps->ntok);
    va_start(ap, fmt);
    vsnprintf(expected, sizeof expected, fmt, ap);
    va_end(ap);
    return fail_tok(ps, &ps->tok[ps->i - 1], expected);
}

static void *arena_alloc(struct ps *ps, size_t size)
{
    struct scn *scn = ps->scn;
    size = (size + 15) & ~(size_t)15;
    struct scn_arena *a = scn->arena;
    if (a == NULL || a->cap - a->used < size) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        a = malloc(sizeof *a + cap);
        if (a == NULL) {
            fail_here(ps, "enough memory");
            return NULL;
        }
        a->cap = cap;
        a->used = 0;
        a->next = scn->arena;
        scn->arena = a;
    }
    void *p = a->data + a->used;
    a->used += size;
    SS_ASSERT(a->used <= a->cap);
    return p;
}

static const char *arena_str(struct ps *ps, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = arena_alloc(ps, n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* ------------------------------------------------------------------ lexer */

/* One word starting at p[*pi]; appends its unescaped text to ps->buf. */
static int lex_word(struct ps *ps, const char *p, int len, int *pi, char **pout)
{
    struct tok *t = &ps->tok[ps->ntok];
    char *out = *pout;
    int i = *pi;
    bool inq = false;
    t->s = out;
    t->col = i + 1;
    t->eq = -1;
    while (i < len) {
        unsigned char c = (unsigned char)p[i];
        if (!inq && (c == ' ' || c == '\t' || c == '#'))
            break;
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            char found[16];
            snprintf(found, sizeof found, "byte 0x%02x", c);
            return fail_at(ps, i + 1, "printable text", found);
        }
        if (c == '"') {
            inq = !inq;
            i++;
            continue;
        }
        if (inq && c == '\\') {
            if (i + 1 >= len || (p[i + 1] != '"' && p[i + 1] != '\\'))
                return fail_at(ps, i + 1, "\\\" or \\\\ inside quotes", "a lone backslash");
            i++;
            c = (unsigned char)p[i];
        }
        if (!inq && c == '=' && t->eq < 0)
            t->eq = (int)(out - t->s);
        *out++ = (char)c;
        i++;
    }
    if (inq)
        return fail_at(ps, i + 1, "a closing '\"'", "end of line");
    *out++ = '\0';
    SS_ASSERT(out <= ps->buf + sizeof ps->buf);
    t->end = i + 1;
    ps->ntok++;
    *pi = i;
    *pout = out;
    return 0;
}

static int lex_line(struct ps *ps, const char *p, int len)
{
    char *out = ps->buf;
    int i = 0;
    SS_ASSERT(len >= 0 && len <= SCN_MAX_LINE);
    ps->ntok = 0;
    ps->i = 0;
    while (i < len) {
        if (p[i] == ' ' || p[i] == '\t') {
            i++;
            continue;
        }
        if (p[i] == '#')
            break;
        if (ps->ntok == SCN_MAX_TOKENS)
            return fail_at(ps, i + 1, "at most 512 words on a line", "more");
        if (lex_word(ps, p, len, &i, &out) != 0)
            return -1;
    }
    ps->eol_col = ps->ntok > 0 ? ps->tok[ps->ntok - 1].end : i + 1;
    return 0;
}

/* `# live: yes` on a line of its own (SPEC §6 live mode). */
static void check_live(struct ps *ps, const char *p, int len)
{
    int i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i >= len || p[i++] != '#')
        return;
    while (i < len && p[i] == ' ')
        i++;
    if (len - i < 5 || memcmp(p + i, "live", 4) != 0)
        return;
    i += 4;
    while (i < len && p[i] == ' ')
        i++;
    if (i >= len || p[i++] != ':')
        return;
    while (i < len && p[i] == ' ')
        i++;
    int end = len;
    while (end > i && (p[end - 1] == ' ' || p[end - 1] == '\t'))
        end--;
    if (end - i == 3 && memcmp(p + i, "yes", 3) == 0)
        ps->scn->live = true;
    else if (end - i == 2 && memcmp(p + i, "no", 2) == 0)
        ps->scn->live = false;
}

/* ------------------------------------------------------------ word helpers */

static const struct tok *peek(const struct ps *ps)
{
    SS_ASSERT(ps->i >= 0 && ps->i <= ps->ntok && ps->ntok <= SCN_MAX_TOKENS);
    return ps->i < ps->ntok ? &ps->tok[ps->i] : NULL;
}

/* Consumes the next word when it is exactly `word` (not a key=value). */
static bool accept(struct ps *ps, const char *word)
{
    const struct tok *t = peek(ps);
    if (t == NULL || t->eq >= 0 || strcmp(t->s, word) != 0)
        return false;
    ps->i++;
    return true;
}

/* The next plain word (no '='), or NULL after an error naming `what`. */
static const char *next_word(struct ps *ps, const char *what)
{
    SS_ASSERT(what != NULL && !ps->failed);
    const struct tok *t = peek(ps);
    if (t == NULL || t->eq >= 0 || t->s[0] == '\0') {
        fail_here(ps, "%s", what);
        return NULL;
    }
    ps->i++;
    return t->s;
}

static int expect_end(struct ps *ps)
{
    return ps->i < ps->ntok ? fail_here(ps, "end of line") : 0;
}

/* Index of s in a NULL-terminated list, or -1. */
static int word_index(const char *const *list, const char *s)
{
    for (int i = 0; list[i] != NULL; i++) {
        if (strcmp(list[i], s) == 0)
            return i;
    }
    return -1;
}

/* The next word must be one of list; returns its index or -1 (error). */
static int next_choice(struct ps *ps, const char *const *list, const char *what)
{
    const char *w = next_word(ps, what);
    if (w == NULL)
        return -1;
    int k = word_index(list, w);
    if (k < 0)
        fail_prev(ps, "%s", what);
    return k;
}

static bool is_digits(const char *s, int maxlen)
{
    int n = 0;
    for (; s[n] != '\0'; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= maxlen)
            return false;
    }
    return n > 0;
}

/* A decimal count in [lo, hi]. */
static int next_count(struct ps *ps, int64_t lo, int64_t hi, const char *what, int64_t *out)
{
    SS_ASSERT(lo >= 0 && lo <= hi && hi <= SCN_MAX_COUNT);
    char desc[128];
    snprintf(desc, sizeof desc, "%s (a whole number from %lld to %lld)", what, (long long)lo,
             (long long)hi);
    const char *w = next_word(ps, desc);
    if (w == NULL)
        return -1;
    if (!is_digits(w, 12))
        return fail_prev(ps, "%s", desc);
    int64_t v = strtoll(w, NULL, 10);
    if (v < lo || v > hi)
        return fail_prev(ps, "%s", desc);
    *out = v;
    return 0;
}

#define DURATION_HINT "(like 250ms, 5s, 1.5s, 5m, 1h, 1m30s)"

static int next_duration(struct ps *ps, const char *what, int64_t *out)
{
    const char *w = next_word(ps, what);
    if (w == NULL)
        return -1;
    if (duration_parse(w, out) != 0)
        return fail_prev(ps, "%s " DURATION_HINT, what);
    SS_ASSERT(*out >= 0 && *out <= SCN_MAX_TIME_MS);
    return 0;
}

/* +D / -D; the sign is required unless sign_optional. */
static int next_signed_duration(struct ps *ps, const char *what, bool sign_optional,
                                int64_t *out)
{
    const char *w = next_word(ps, what);
    if (w == NULL)
        return -1;
    int64_t sign = 1;
    if (w[0] == '+' || w[0] == '-') {
        sign = w[0] == '-' ? -1 : 1;
        w++;
    } else if (!sign_optional) {
        return fail_prev(ps, "%s", what);
    }
    int64_t ms;
    if (duration_parse(w, &ms) != 0)
        return fail_prev(ps, "%s", what);
    SS_ASSERT(ms >= 0 && ms <= SCN_MAX_TIME_MS);
    *out = sign * ms;
    return 0;
}

/* ------------------------------------------------------------------ names */

static bool name_char(char c, bool table)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
        return true;
    return !table && c == '-';
}

/* Device and user names: [A-Za-z0-9_-], 1..63 bytes (they end up in op ids
 * `device:seq` and stamps, so no ':' or spaces). Table names are SQL-safe
 * identifiers: a letter or '_' first, no '-'. */
static bool valid_name(const char *s, bool table)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    if (table && s[0] >= '0' && s[0] <= '9')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!name_char(s[i], table))
            return false;
    }
    return true;
}

/* "a, b, c" of count names stride bytes apart, cut near LIST_MAX. */
static void join_names(char *out, size_t n, const char *base, size_t stride, int count)
{
    size_t len = 0;
    SS_ASSERT(n >= LIST_MAX + 8);
    out[0] = '\0';
    for (int k = 0; k < count; k++) {
        const char *s = base + (size_t)k * stride;
        if (len + strlen(s) + 2 > LIST_MAX) {
            snprintf(out + len, n - len, ", ...");
            return;
        }
        len += (size_t)snprintf(out + len, n - len, "%s%s", k > 0 ? ", " : "", s);
    }
}

static void join_list(char *out, size_t n, const char *const *list)
{
    int count = 0;
    size_t len = 0;
    SS_ASSERT(n >= LIST_MAX + 8);
    out[0] = '\0';
    for (; list[count] != NULL; count++) {
        if (len + strlen(list[count]) + 2 > LIST_MAX) {
            snprintf(out + len, n - len, ", ...");
            return;
        }
        len += (size_t)snprintf(out + len, n - len, "%s%s", count > 0 ? ", " : "",
                                list[count]);
    }
}

static int device_index(const struct scn *scn, const char *s)
{
    for (int d = 0; d < scn->ndevices; d++) {
        if (strcmp(scn->devices[d].name, s) == 0)
            return d;
    }
    return -1;
}

static int user_index(const struct scn *scn, const char *s)
{
    for (int u = 0; u < scn->nusers; u++) {
        if (strcmp(scn->users[u], s) == 0)
            return u;
    }
    return -1;
}

static int table_index(const struct ps *ps, const char *s)
{
    for (int t = 0; t < ps->nknown; t++) {
        if (strcmp(ps->known[t], s) == 0)
            return t;
    }
    return -1;
}

/* A device declared by an earlier `device` line (SPEC §4: unknown devices
 * are errors when the file is read). alt lists other words the caller
 * accepts here, for the message. */
static int next_device(struct ps *ps, const char *alt, int *out)
{
    const struct scn *scn = ps->scn;
    char list[LIST_MAX + 8], what[LIST_MAX + 128];
    join_names(list, sizeof list, scn->devices[0].name, sizeof scn->devices[0],
               scn->ndevices);
    if (scn->ndevices == 0)
        snprintf(what, sizeof what, "a device declared by a 'device' line%s", alt);
    else
        snprintf(what, sizeof what, "a declared device (%s)%s", list, alt);
    const char *w = next_word(ps, what);
    if (w == NULL)
        return -1;
    *out = device_index(scn, w);
    if (*out < 0)
        return fail_prev(ps, "%s", what);
    SS_ASSERT(*out < scn->ndevices);
    return 0;
}

static int next_user(struct ps *ps, int *out)
{
    const struct scn *scn = ps->scn;
    char list[LIST_MAX + 8], what[LIST_MAX + 64];
    join_names(list, sizeof list, scn->users[0], sizeof scn->users[0], scn->nusers);
    snprintf(what, sizeof what, "a user named on a 'device' line (%s)", list);
    const char *w = next_word(ps, what);
    if (w == NULL)
        return -1;
    *out = user_index(scn, w);
    if (*out < 0)
        return fail_prev(ps, "%s", what);
    SS_ASSERT(*out < scn->nusers);
    return 0;
}

/* A table declared (or default), or added by an earlier `migrate` line. */
static int next_table(struct ps *ps, const char **out)
{
    char list[LIST_MAX + 8], what[LIST_MAX + 64];
    join_names(list, sizeof list, ps->known[0], sizeof ps->known[0], ps->nknown);
    snprintf(what, sizeof what, "a declared table (%s)", list);
    const char *w = next_word(ps, what);
    if (w == NULL)
        return -1;
    SS_ASSERT(ps->in_stmts);  /* the table set is settled (begin_stmts) */
    int t = table_index(ps, w);
    if (t < 0)
        return fail_prev(ps, "%s", what);
    *out = arena_str(ps, ps->known[t]);
    return *out == NULL ? -1 : 0;
}

static int next_id(struct ps *ps, const char **out)
{
    const char *w = next_word(ps, "a row id");
    if (w == NULL)
        return -1;
    if (strlen(w) > SCN_MAX_ID)
        return fail_prev(ps, "a row id of at most %d bytes", SCN_MAX_ID);
    *out = arena_str(ps, w);
    return *out == NULL ? -1 : 0;
}

static int known_add(struct ps *ps, const char *name, bool declared, int dev)
{
    if (ps->nknown == MAX_TABLES)
        return fail_prev(ps, "at most %d tables", MAX_TABLES);
    int t = ps->nknown++;
    SS_ASSERT(strlen(name) <= NAME_MAX_LEN);
    strcpy(ps->known[t], name);
    ps->declared[t] = declared;
    ps->migrated_by[t] = dev >= 0 ? 1u << dev : 0;
    return 0;
}

/* --------------------------------------------------------- event checks */

/* Field keys of SPEC §1.8 per event, so a typo in a filter (which would
 * make `expect … no event` pass forever) is caught when the file is read.
 * `reason` on outbox.deadlettered and orch.status: OUT-3, ORCH-5. An event
 * ev_name_known accepts but missing here takes any key. */
static const struct ev_spec {
    const char *name;
    const char *keys[6];
} ev_specs[] = {
    { "lock.acquired", { "kind" } },
    { "lock.released", { "kind", "held_ms" } },
    { "lock.queued", { "kind", "holder" } },
    { "lock.rejected", { "kind", "reason" } },
    { "lock.force_released", { "kind", "held_ms" } },
    { "lock.stale_cleared", { "holder" } },
    { "sync.started", { "kind" } },
    { "sync.fenced", { "kind" } },
    { "sync.push_sent", { "items" } },
    { "sync.push_acked", { "applied", "stale", "conflict", "rejected" } },
    { "sync.pull_page", { "rows" } },
    { "sync.completed", { "kind" } },
    { "sync.failed", { "kind", "reason" } },
    { "initial.page", { "table", "rows_done", "rows_total", "pct", "eta_ms" } },
    { "initial.table_done", { "table" } },
    { "initial.completed", { NULL } },
    { "initial.retry", { "attempt", "delay_ms" } },
    { "initial.gave_up", { NULL } },
    { "outbox.deadlettered", { "op", "reason" } },
    { "conflict.detected", { "table", "id", "type", "fields" } },
    { "conflict.resolved", { "table", "id", "winner" } },
    { "auth.login_refused", { "reason" } },
    { "app.write_refused", { "reason" } },
    { "breaker.opened", { NULL } },
    { "breaker.half_open", { NULL } },
    { "breaker.closed", { NULL } },
    { "auth.logged_out", { NULL } },
    { "toast", { "text" } },
    { "status", { "status" } },
    { "orch.status", { "job", "status", "mode", "reason" } },
    { "orch.health", { "job", "healthy" } },
};

static const char *const status_names[] = {
    [ST_LOGGED_OUT] = "logged_out", [ST_INITIAL] = "initial", [ST_OFFLINE] = "offline",
    [ST_SYNCING] = "syncing", [ST_DEADLETTER] = "deadletter", [ST_ERROR] = "error",
    [ST_PENDING] = "pending", [ST_SYNCED] = "synced", NULL
};
static const char *const job_names[] = { "orders", "customers", "products", "prices", NULL };
static const char *const orch_status_names[] = { "idle", "queued", "running", "completed",
                                                 "error", NULL };
static const char *const mode_names[] = { "full", "incremental", NULL };
static const char *const winner_names[] = { "local", "remote", NULL };

static const struct ev_spec *ev_spec_find(const char *name)
{
    for (size_t i = 0; i < sizeof ev_specs / sizeof ev_specs[0]; i++) {
        if (strcmp(ev_specs[i].name, name) == 0)
            return &ev_specs[i];
    }
    return NULL;
}

static int next_event(struct ps *ps, bool server, const char **out)
{
    const char *w = next_word(ps, "an event name");
    if (w == NULL)
        return -1;
    if (!ev_name_known(w))
        return fail_prev(ps, "an event name of SPEC 1.8 (lock.acquired, sync.completed, ...)");
    bool orch = strncmp(w, "orch.", 5) == 0;
    if (server && !orch)
        return fail_prev(ps, "a server event (orch.status, orch.health)");
    if (!server && orch)
        return fail_prev(ps, "a device event (orch.* events are the server's)");
    *out = arena_str(ps, w);
    return *out == NULL ? -1 : 0;
}

/* Values with a closed set of spellings are checked too (SPEC §4: unknown
 * kinds are errors when the file is read). NULL: anything goes. */
static const char *const *filter_domain(const char *event, const char *key)
{
    static const char *const kinds[] = { "initial", "manual", "background", "repository",
                                         "master", NULL };
    if (strcmp(key, "kind") == 0 || strcmp(key, "holder") == 0)
        return kinds;
    if (strcmp(key, "job") == 0)
        return job_names;
    if (strcmp(key, "mode") == 0)
        return mode_names;
    if (strcmp(key, "winner") == 0)
        return winner_names;
    if (strcmp(key, "status") == 0)
        return strcmp(event, "status") == 0 ? status_names : orch_status_names;
    return NULL;
}

static int check_filter(struct ps *ps, const struct tok *t, const char *event,
                        const struct scn_kv *kv)
{
    char list[LIST_MAX + 8], what[LIST_MAX + 96];
    const struct ev_spec *spec = ev_spec_find(event);
    if (spec != NULL && word_index(spec->keys, kv->key) < 0) {
        join_list(list, sizeof list, spec->keys);
        snprintf(what, sizeof what, "a field of %s (%s)", event,
                 list[0] != '\0' ? list : "it has none");
        return fail_tok(ps, t, what);
    }
    if (strlen(kv->val) > EV_VAL_MAX)
        return fail_tok(ps, t, "an event field value of at most 95 bytes");
    const char *const *dom = filter_domain(event, kv->key);
    if (dom != NULL && word_index(dom, kv->val) < 0) {
        join_list(list, sizeof list, dom);
        snprintf(what, sizeof what, "%s=one of %s", kv->key, list);
        return fail_tok(ps, t, what);
    }
    return 0;
}

/* ------------------------------------------------------------ key=value */

static const char *arena_strn(struct ps *ps, const char *s, size_t n)
{
    char *p = arena_alloc(ps, n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Field names: like device names plus '.', at most 63 bytes. */
static bool valid_key(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!name_char(s[i], false) && s[i] != '.')
            return false;
    }
    return true;
}

/* The run of key=value words at the cursor. event == NULL: row fields;
 * otherwise filters of that event. Keys must be distinct: a row patch or a
 * filter naming a key twice has no single meaning. */
static int parse_kvs(struct ps *ps, const char *event, int min, struct scn_kv **out, int *nout)
{
    int n = 0;
    while (ps->i + n < ps->ntok && ps->tok[ps->i + n].eq >= 0)
        n++;
    SS_ASSERT(min == 0 || min == 1);
    SS_ASSERT(*out == NULL && *nout == 0);  /* one run of pairs per statement */
    if (n < min)
        return fail_here(ps, "field=value");
    if (n > SCN_MAX_KV)
        return fail_tok(ps, &ps->tok[ps->i + SCN_MAX_KV], "at most 256 key=value pairs");
    struct scn_kv *kv = n > 0 ? arena_alloc(ps, (size_t)n * sizeof *kv) : NULL;
    if (n > 0 && kv == NULL)
        return -1;
    for (int k = 0; k < n; k++) {
        const struct tok *t = &ps->tok[ps->i];
        kv[k].key = arena_strn(ps, t->s, (size_t)t->eq);
        kv[k].val = arena_str(ps, t->s + t->eq + 1);
        if (kv[k].key == NULL || kv[k].val == NULL)
            return -1;
        if (!valid_key(kv[k].key))
            return fail_tok(ps, t, "field=value (a field name of letters, digits, '_', '-' "
                                   "or '.')");
        for (int j = 0; j < k; j++) {
            if (strcmp(kv[j].key, kv[k].key) == 0)
                return fail_tok(ps, t, "each field once");
        }
        if (event != NULL && check_filter(ps, t, event, &kv[k]) != 0)
            return -1;
        ps->i++;
    }
    *out = kv;
    *nout = n;
    return 0;
}

/* ----------------------------------------------------------- declarations */

static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        for (s += 2; s[n] != '\0'; n++) {
            char c = s[n];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0 || n >= 16)
                return -1;
            v = v * 16 + (uint64_t)d;
        }
    } else {
        for (; s[n] != '\0'; n++) {
            if (s[n] < '0' || s[n] > '9' || n >= 20)
                return -1;
            uint64_t d = (uint64_t)(s[n] - '0');
            if (v > (UINT64_MAX - d) / 10)
                return -1;
            v = v * 10 + d;
        }
    }
    *out = v;
    return n > 0 ? 0 : -1;
}

static int d_scenario(struct ps *ps)
{
    if (ps->seen_scenario)
        return fail_prev(ps, "one 'scenario' line");
    ps->seen_scenario = true;
    const char *w = next_word(ps, "a scenario name in double quotes");
    if (w == NULL)
        return -1;
    if (strlen(w) > SCN_MAX_NAME)
        return fail_prev(ps, "a scenario name of at most %d bytes", SCN_MAX_NAME);
    ps->scn->name = arena_str(ps, w);
    if (ps->scn->name == NULL)
        return -1;
    return expect_end(ps);
}

static int d_seed(struct ps *ps)
{
    if (ps->seen_seed)
        return fail_prev(ps, "one 'seed' line");
    ps->seen_seed = true;
    const char *w = next_word(ps, "a seed (decimal or 0x-hex)");
    if (w == NULL)
        return -1;
    if (parse_u64(w, &ps->scn->seed) != 0)
        return fail_prev(ps, "a seed (decimal or 0x-hex, 64 bits)");
    return expect_end(ps);
}

static const char *const reserved_devices[] = { "server", "erp", "all", "converged",
                                                "orchestrator", NULL };
/* Words that follow `server` (and `expect server`) where a user may stand. */
static const char *const reserved_users[] = { "row", "no", "event", "write", "delete", "fail",
                                              "crash", "restart", "revoke", NULL };

static int device_name(struct ps *ps, const char **out)
{
    const char *w = next_word(ps, "a device name");
    if (w == NULL)
        return -1;
    if (!valid_name(w, false))
        return fail_prev(ps, "a device name (letters, digits, '_' or '-', at most 63 bytes)");
    if (word_index(reserved_devices, w) >= 0)
        return fail_prev(ps, "a device name other than server, erp, all, converged and "
                             "orchestrator");
    if (device_index(ps->scn, w) >= 0)
        return fail_prev(ps, "a new device name");
    if (ps->scn->ndevices == SCN_MAX_DEVICES)
        return fail_prev(ps, "at most %d devices", SCN_MAX_DEVICES);
    *out = w;
    return 0;
}

static int d_device(struct ps *ps)
{
    struct scn *scn = ps->scn;
    const char *name = NULL, *user;
    int64_t skew = 0;
    if (device_name(ps, &name) != 0)
        return -1;
    if (!accept(ps, "user"))
        return fail_here(ps, "'user'");
    if ((user = next_word(ps, "a user name")) == NULL)
        return -1;
    if (!valid_name(user, false) || word_index(reserved_users, user) >= 0)
        return fail_prev(ps, "a user name (letters, digits, '_' or '-'; not a keyword)");
    if (accept(ps, "skew") &&
        next_signed_duration(ps, "a skew like -30s or +2m", true, &skew) != 0)
        return -1;
    if (expect_end(ps) != 0)
        return -1;
    int u = user_index(scn, user);
    if (u < 0) {
        SS_ASSERT(scn->nusers < SCN_MAX_USERS);  /* ≤ one user per device */
        u = scn->nusers++;
        strcpy(scn->users[u], user);
    }
    SS_ASSERT(name != NULL && scn->ndevices < SCN_MAX_DEVICES);
    struct scn_device *d = &scn->devices[scn->ndevices++];
    strcpy(d->name, name);
    d->user = u;
    d->skew_ms = skew;
    return 0;
}

static int table_options(struct ps *ps, int64_t *rows, enum strategy *strat)
{
    bool seen_rows = false, seen_strategy = false;
    while (ps->i < ps->ntok) {
        if (!seen_rows && accept(ps, "rows")) {
            seen_rows = true;
            if (next_count(ps, 0, SCN_MAX_ROWS, "a row count", rows) != 0)
                return -1;
        } else if (!seen_strategy && accept(ps, "strategy")) {
            seen_strategy = true;
            const char *w = next_word(ps, "lww, local, remote, merge or manual");
            if (w == NULL)
                return -1;
            if (strategy_parse(w, strat) != 0)
                return fail_prev(ps, "lww, local, remote, merge or manual");
        } else {
            return fail_here(ps, "rows N, strategy S or end of line");
        }
    }
    return 0;
}

static int d_table(struct ps *ps)
{
    static const char *const rw_ro[] = { "rw", "ro", NULL };
    struct scn *scn = ps->scn;
    const char *name = next_word(ps, "a table name");
    if (name == NULL)
        return -1;
    if (!valid_name(name, true))
        return fail_prev(ps, "a table name (a letter or '_', then letters, digits or '_')");
    for (int t = 0; t < scn->ntables; t++) {
        if (strcmp(scn->tables[t].name, name) == 0)
            return fail_prev(ps, "a new table name");
    }
    if (scn->ntables == MAX_TABLES)
        return fail_prev(ps, "at most %d tables", MAX_TABLES);
    int ro = next_choice(ps, rw_ro, "rw or ro");
    if (ro < 0)
        return -1;
    int64_t rows = 0;
    enum strategy strat = STRAT_LWW;
    if (table_options(ps, &rows, &strat) != 0)
        return -1;
    SS_ASSERT(scn->ntables < MAX_TABLES && !ps->in_stmts);
    struct table_decl *td = &scn->tables[scn->ntables];
    memset(td, 0, sizeof *td);
    strcpy(td->name, name);
    td->read_only = ro == 1;
    td->strategy = strat;
    scn->table_rows[scn->ntables++] = rows;
    scn->tables_declared = true;
    return 0;
}

/* config_set answers "KEY: expected WHAT, found 'V'"; reuse its WHAT so the
 * scenario error says what the key takes. */
static int config_fail(struct ps *ps, const struct tok *t, const char *key, const char *cerr)
{
    char what[256];
    const char *x = strstr(cerr, "expected ");
    const char *y = x != NULL ? strstr(x, ", found ") : NULL;
    if (x != NULL && y != NULL)
        snprintf(what, sizeof what, "%.*s for %s", (int)(y - x - 9), x + 9, key);
    else
        snprintf(what, sizeof what, "a valid value for %s", key);
    return fail_tok(ps, t, what);
}

static int config_pair(struct ps *ps, const struct tok *t)
{
    struct scn *scn = ps->scn;
    char list[LIST_MAX + 8], what[LIST_MAX + 64], cerr[256] = "";
    const char *key = arena_strn(ps, t->s, (size_t)t->eq);
    const char *val = arena_str(ps, t->s + t->eq + 1);
    if (key == NULL || val == NULL)
        return -1;
    if (word_index(config_keys, key) < 0) {
        join_list(list, sizeof list, config_keys);
        snprintf(what, sizeof what, "a config key (%s)", list);
        return fail_tok(ps, t, what);
    }
    for (int k = 0; k < scn->nconfig; k++) {
        if (strcmp(scn->config_kv[k].key, key) == 0)
            return fail_tok(ps, t, "each config key once");
    }
    if (scn->nconfig == SCN_MAX_CONFIG)
        return fail_tok(ps, t, "at most 64 config overrides");
    /* Validate now, on the scenario's own config, so a bad value fails
     * with its location instead of when the run starts. */
    if (config_set(&scn->config, key, val, cerr, sizeof cerr) != 0)
        return config_fail(ps, t, key, cerr);
    scn->config_kv[scn->nconfig].key = key;
    scn->config_kv[scn->nconfig].val = val;
    scn->nconfig++;
    return 0;
}

static int d_config(struct ps *ps)
{
    if (ps->i >= ps->ntok)
        return fail_here(ps, "key=value");
    while (ps->i < ps->ntok) {
        const struct tok *t = peek(ps);
        if (t->eq < 0)
            return fail_here(ps, "key=value");
        if (config_pair(ps, t) != 0)
            return -1;
        ps->i++;
    }
    return 0;
}

enum fault_type { FT_PROB, FT_RANGE, FT_DURATION };

/* The keys scn.h documents (SPEC §3 fault kinds). */
static const struct fault_key {
    const char *key;
    enum fault_type type;
} fault_keys[] = {
    { "loss", FT_PROB },         { "dup", FT_PROB },        { "delay", FT_RANGE },
    { "partition", FT_PROB },    { "flap", FT_PROB },       { "server_error", FT_PROB },
    { "throttle", FT_PROB },     { "server_crash", FT_PROB }, { "crash", FT_PROB },
    { "power", FT_PROB },        { "downtime", FT_RANGE },  { "disk", FT_PROB },
    { "clock_skew", FT_DURATION }, { "clock_jump", FT_PROB },
};
#define FAULT_KEY_COUNT ((int)(sizeof fault_keys / sizeof fault_keys[0]))

/* A probability 0..1 in plain decimal ("0", "1", "0.05", "1.0"). */
static int parse_prob(const char *s, double *out)
{
    int64_t ip = 0, fp = 0, scale = 1;
    int n = 0;
    for (; s[n] >= '0' && s[n] <= '9'; n++) {
        if (n >= 9)
            return -1;
        ip = ip * 10 + (s[n] - '0');
    }
    if (n == 0)
        return -1;
    if (s[n] == '.') {
        int k = 0;
        for (n++; s[n] >= '0' && s[n] <= '9'; n++, k++) {
            if (k >= 9)
                return -1;
            fp = fp * 10 + (s[n] - '0');
            scale *= 10;
        }
        if (k == 0)
            return -1;
    }
    if (s[n] != '\0' || ip > 1 || (ip == 1 && fp > 0))
        return -1;
    *out = (double)ip + (double)fp / (double)scale;
    SS_ASSERT(*out >= 0.0 && *out <= 1.0);
    return 0;
}

/* "A..B", both durations, A ≤ B. */
static int parse_range(const char *s, int64_t *lo, int64_t *hi)
{
    char a[72];
    const char *dots = strstr(s, "..");
    if (dots == NULL || dots - s >= (ptrdiff_t)sizeof a)
        return -1;
    memcpy(a, s, (size_t)(dots - s));
    a[dots - s] = '\0';
    if (duration_parse(a, lo) != 0 || duration_parse(dots + 2, hi) != 0)
        return -1;
    return *lo <= *hi ? 0 : -1;
}

static int fault_value(struct ps *ps, const struct tok *t, enum fault_type type,
                       struct scn_fault *f)
{
    if (type == FT_PROB) {
        if (parse_prob(f->val, &f->p) != 0)
            return fail_tok(ps, t, "a probability from 0 to 1");
        return 0;
    }
    if (type == FT_RANGE) {
        if (parse_range(f->val, &f->lo_ms, &f->hi_ms) != 0)
            return fail_tok(ps, t, "a duration range A..B with A <= B, like 10ms..2s");
        return 0;
    }
    SS_ASSERT(type == FT_DURATION);
    if (duration_parse(f->val, &f->lo_ms) != 0)
        return fail_tok(ps, t, "a duration " DURATION_HINT);
    f->hi_ms = f->lo_ms;
    return 0;
}

static int fault_pair(struct ps *ps, const struct tok *t)
{
    struct scn *scn = ps->scn;
    int k = 0;
    while (k < FAULT_KEY_COUNT && ((int)strlen(fault_keys[k].key) != t->eq ||
                                   strncmp(fault_keys[k].key, t->s, (size_t)t->eq) != 0))
        k++;
    if (k == FAULT_KEY_COUNT)
        return fail_tok(ps, t, "a fault key (loss, dup, delay, partition, flap, server_error, "
                               "throttle, server_crash, crash, power, downtime, disk, "
                               "clock_skew, clock_jump)");
    for (int j = 0; j < scn->nfaults; j++) {
        if (strcmp(scn->faults[j].key, fault_keys[k].key) == 0)
            return fail_tok(ps, t, "each fault key once");
    }
    SS_ASSERT(scn->nfaults < SCN_MAX_FAULTS);  /* distinct keys ≤ FAULT_KEY_COUNT */
    struct scn_fault *f = &scn->faults[scn->nfaults];
    memset(f, 0, sizeof *f);
    f->key = fault_keys[k].key;
    f->val = arena_str(ps, t->s + t->eq + 1);
    if (f->val == NULL || fault_value(ps, t, fault_keys[k].type, f) != 0)
        return -1;
    scn->nfaults++;
    return 0;
}

static int d_faults(struct ps *ps)
{
    struct scn *scn = ps->scn;
    if (ps->seen_faults)
        return fail_prev(ps, "one 'faults' line");
    ps->seen_faults = true;
    if (accept(ps, "none") || accept(ps, "swarm")) {
        scn->faults_mode = strcmp(ps->tok[ps->i - 1].s, "none") == 0 ? SCN_FAULTS_NONE
                                                                      : SCN_FAULTS_SWARM;
        return expect_end(ps);
    }
    if (ps->i >= ps->ntok)
        return fail_here(ps, "none, swarm or fault key=value pairs");
    scn->faults_mode = SCN_FAULTS_LIST;
    while (ps->i < ps->ntok) {
        const struct tok *t = peek(ps);
        if (t->eq < 0)
            return fail_here(ps, "none, swarm or fault key=value pairs");
        if (fault_pair(ps, t) != 0)
            return -1;
        ps->i++;
    }
    return 0;
}

/* Called once, at the first statement (or the end of the file): the table
 * set is settled, so names can be checked from here on (SPEC §4 "Tables"). */
static int begin_stmts(struct ps *ps)
{
    struct scn *scn = ps->scn;
    SS_ASSERT(!ps->in_stmts);
    ps->in_stmts = true;
    if (!scn->tables_declared) {
        scn->ntables = table_defaults(scn->tables, MAX_TABLES);
        SS_ASSERT(scn->ntables > 0 && scn->ntables <= MAX_TABLES);
    }
    for (int t = 0; t < scn->ntables; t++) {
        if (known_add(ps, scn->tables[t].name, true, -1) != 0)
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- actions */

typedef int (*parse_fn)(struct ps *ps, struct scn_stmt *st);

static int a_dev(struct ps *ps, struct scn_stmt *st)
{
    return next_device(ps, "", &st->dev);
}

static int a_crash(struct ps *ps, struct scn_stmt *st)
{
    if (next_device(ps, "", &st->dev) != 0)
        return -1;
    st->power = accept(ps, "power");
    return 0;
}

static int a_login(struct ps *ps, struct scn_stmt *st)
{
    if (next_device(ps, "", &st->dev) != 0)
        return -1;
    if (ps->i >= ps->ntok) {
        st->user = ps->scn->devices[st->dev].user;  /* COORD-10: its own user */
        return 0;
    }
    return next_user(ps, &st->user);
}

/* TABLE ID k=v…: the row part shared by every write form. */
static int row_write(struct ps *ps, struct scn_stmt *st)
{
    if (next_table(ps, &st->table) != 0 || next_id(ps, &st->id) != 0)
        return -1;
    return parse_kvs(ps, NULL, 1, &st->kv, &st->nkv);
}

static int a_write(struct ps *ps, struct scn_stmt *st)
{
    if (next_device(ps, "", &st->dev) != 0)
        return -1;
    return row_write(ps, st);
}

static int a_delete(struct ps *ps, struct scn_stmt *st)
{
    if (next_device(ps, "", &st->dev) != 0 || next_table(ps, &st->table) != 0)
        return -1;
    return next_id(ps, &st->id);
}

static int next_kind(struct ps *ps, enum sync_kind *out)
{
    const char *what = "a sync kind (initial, manual, background, repository, master)";
    const char *w = next_word(ps, what);
    if (w == NULL)
        return -1;
    return kind_parse(w, out) == 0 ? 0 : fail_prev(ps, "%s", what);
}

static int a_trigger(struct ps *ps, struct scn_stmt *st)
{
    if (next_device(ps, "", &st->dev) != 0)
        return -1;
    return next_kind(ps, &st->sync_kind);
}

static int a_heal(struct ps *ps, struct scn_stmt *st)
{
    if (accept(ps, "all")) {
        st->all = true;
        return 0;
    }
    return next_device(ps, " or all", &st->dev);
}

static int a_clock(struct ps *ps, struct scn_stmt *st)
{
    if (next_device(ps, "", &st->dev) != 0)
        return -1;
    return next_signed_duration(ps, "+DURATION or -DURATION (like +1h, -30s)", false, &st->ms);
}

/* SPEC §4: NAME is new to D (rw, empty, lww) and known to later lines. */
static int a_migrate(struct ps *ps, struct scn_stmt *st)
{
    if (next_device(ps, "", &st->dev) != 0)
        return -1;
    if (!accept(ps, "add-table"))
        return fail_here(ps, "'add-table'");
    const char *w = next_word(ps, "a table name");
    if (w == NULL)
        return -1;
    if (!valid_name(w, true))
        return fail_prev(ps, "a table name (a letter or '_', then letters, digits or '_')");
    int t = table_index(ps, w);
    uint32_t bit = 1u << st->dev;
    if (t >= 0 && (ps->declared[t] || (ps->migrated_by[t] & bit) != 0))
        return fail_prev(ps, "a table new to %s", ps->scn->devices[st->dev].name);
    if (t >= 0)
        ps->migrated_by[t] |= bit;
    else if (known_add(ps, w, false, st->dev) != 0)
        return -1;
    st->table = arena_str(ps, w);
    return st->table == NULL ? -1 : 0;
}

/* Server data is per user; unnamed, it is the first user's (SPEC §4
 * "Users"), so there must be one. */
static int default_user(struct ps *ps, struct scn_stmt *st)
{
    if (st->user >= 0)
        return 0;
    if (ps->scn->nusers == 0)
        return fail_prev(ps, "a user named on a 'device' line first (server data is per user)");
    st->user = 0;
    return 0;
}

static int server_fail(struct ps *ps, struct scn_stmt *st)
{
    static const char *const statuses[] = { "500", "503", "429", NULL };
    st->http_status = 500;
    if (next_count(ps, 1, SCN_MAX_COUNT, "a request count", &st->n) != 0)
        return -1;
    if (accept(ps, "status")) {
        int k = next_choice(ps, statuses, "500, 503 or 429");
        if (k < 0)
            return -1;
        st->http_status = atoi(statuses[k]);
    }
    if (accept(ps, "retry-after"))
        return next_duration(ps, "a Retry-After duration", &st->ms);
    return 0;
}

static int a_server(struct ps *ps, struct scn_stmt *st)
{
    static const char *const verbs[] = { "write", "delete", "fail", "crash", "restart",
                                         "revoke", NULL };
    const struct tok *t = peek(ps);
    if (t != NULL && t->eq < 0 && word_index(verbs, t->s) < 0 &&
        user_index(ps->scn, t->s) >= 0) {
        st->user = user_index(ps->scn, t->s);
        ps->i++;
    }
    int k = next_choice(ps, verbs, st->user >= 0 ? "write or delete"
                                   : "write, delete, fail, crash, restart, revoke or a user");
    if (k < 0)
        return -1;
    if (st->user >= 0 && k > 1)
        return fail_prev(ps, "write or delete");
    static const enum scn_action acts[] = { SCN_A_SERVER_WRITE, SCN_A_SERVER_DELETE,
                                            SCN_A_SERVER_FAIL, SCN_A_SERVER_CRASH,
                                            SCN_A_SERVER_RESTART, SCN_A_SERVER_REVOKE };
    st->action = acts[k];
    switch (st->action) {
    case SCN_A_SERVER_WRITE:
        return default_user(ps, st) != 0 ? -1 : row_write(ps, st);
    case SCN_A_SERVER_DELETE:
        if (default_user(ps, st) != 0 || next_table(ps, &st->table) != 0)
            return -1;
        return next_id(ps, &st->id);
    case SCN_A_SERVER_FAIL: return server_fail(ps, st);
    case SCN_A_SERVER_REVOKE: return next_device(ps, "", &st->dev);
    default: return 0;
    }
}

static int a_orchestrate(struct ps *ps, struct scn_stmt *st)
{
    int j = next_choice(ps, job_names, "a job (orders, customers, products, prices)");
    if (j < 0)
        return -1;
    st->job = (enum scn_job)j;
    int m = next_choice(ps, mode_names, "full or incremental");
    st->full = m == 0;
    return m < 0 ? -1 : 0;
}

static int a_orchestrator(struct ps *ps, struct scn_stmt *st)
{
    static const char *const on_off[] = { "on", "off", NULL };
    int k = next_choice(ps, on_off, "on or off");
    st->on = k == 0;
    return k < 0 ? -1 : 0;
}

static int a_erp(struct ps *ps, struct scn_stmt *st)
{
    if (!accept(ps, "write"))
        return fail_here(ps, "'write'");
    return row_write(ps, st);
}

static int a_resolve(struct ps *ps, struct scn_stmt *st)
{
    if (next_device(ps, "", &st->dev) != 0 || next_table(ps, &st->table) != 0 ||
        next_id(ps, &st->id) != 0)
        return -1;
    int k = next_choice(ps, winner_names, "local or remote");
    st->take_local = k == 0;
    return k < 0 ? -1 : 0;
}

struct verb {
    const char *word;
    int code;                   /* enum scn_action or enum scn_expect */
    parse_fn fn;
};

static const struct verb actions[] = {
    { "start", SCN_A_START, a_dev },
    { "crash", SCN_A_CRASH, a_crash },
    { "restart", SCN_A_RESTART, a_dev },
    { "login", SCN_A_LOGIN, a_login },
    { "logout", SCN_A_LOGOUT, a_dev },
    { "cancel-initial", SCN_A_CANCEL_INITIAL, a_dev },
    { "write", SCN_A_WRITE, a_write },
    { "delete", SCN_A_DELETE, a_delete },
    { "trigger", SCN_A_TRIGGER, a_trigger },
    { "offline", SCN_A_OFFLINE, a_dev },
    { "online", SCN_A_ONLINE, a_dev },
    { "partition", SCN_A_PARTITION, a_dev },
    { "heal", SCN_A_HEAL, a_heal },
    { "clock", SCN_A_CLOCK, a_clock },
    { "migrate", SCN_A_MIGRATE, a_migrate },
    { "server", SCN_A_SERVER_WRITE, a_server },   /* a_server picks the action */
    { "orchestrate", SCN_A_ORCHESTRATE, a_orchestrate },
    { "orchestrator", SCN_A_ORCHESTRATOR, a_orchestrator },
    { "erp", SCN_A_ERP_WRITE, a_erp },
    { "requeue", SCN_A_REQUEUE, a_dev },
    { "resolve", SCN_A_RESOLVE, a_resolve },
};

/* ------------------------------------------------------------- assertions */

static int e_none(struct ps *ps, struct scn_stmt *st)
{
    (void)ps;
    (void)st;
    return 0;
}

static int e_lock(struct ps *ps, struct scn_stmt *st)
{
    static const char *const free_held[] = { "free", "held", NULL };
    int k = next_choice(ps, free_held, "free or held");
    if (k < 0)
        return -1;
    st->expect = k == 0 ? SCN_E_LOCK_FREE : SCN_E_LOCK_HELD;
    return k == 0 ? 0 : next_kind(ps, &st->sync_kind);
}

static int e_not(struct ps *ps, struct scn_stmt *st)
{
    st->expect = SCN_E_NOT_QUEUED;
    return accept(ps, "queued") ? 0 : fail_here(ps, "'queued'");
}

static int e_initial(struct ps *ps, struct scn_stmt *st)
{
    static const char *const states[] = { "complete", "incomplete", NULL };
    int k = next_choice(ps, states, "complete or incomplete");
    st->complete = k == 0;
    return k < 0 ? -1 : 0;
}

static int e_n(struct ps *ps, struct scn_stmt *st)
{
    return next_count(ps, 0, SCN_MAX_COUNT, "a count", &st->n);
}

static int e_conflicts(struct ps *ps, struct scn_stmt *st)
{
    if (next_count(ps, 0, SCN_MAX_COUNT, "a count", &st->n) != 0)
        return -1;
    st->unresolved = accept(ps, "unresolved");
    return 0;
}

static int e_status(struct ps *ps, struct scn_stmt *st)
{
    int k = next_choice(ps, status_names, "a status (logged_out, initial, offline, syncing, "
                                          "deadletter, error, pending, synced)");
    st->status = (enum dev_status)k;
    return k < 0 ? -1 : 0;
}

static int e_row(struct ps *ps, struct scn_stmt *st)
{
    if (next_table(ps, &st->table) != 0 || next_id(ps, &st->id) != 0)
        return -1;
    return parse_kvs(ps, NULL, 0, &st->kv, &st->nkv);
}

static int e_no_row(struct ps *ps, struct scn_stmt *st)
{
    if (next_table(ps, &st->table) != 0)
        return -1;
    return next_id(ps, &st->id);
}

/* EVENT [k=v…] [count N] (count only where allowed). */
static int event_ref(struct ps *ps, struct scn_stmt *st, bool server, bool with_count)
{
    if (next_event(ps, server, &st->event) != 0)
        return -1;
    if (parse_kvs(ps, st->event, 0, &st->kv, &st->nkv) != 0)
        return -1;
    if (with_count && accept(ps, "count"))
        return next_count(ps, 0, SCN_MAX_COUNT, "a count", &st->count);
    return 0;
}

static int e_event(struct ps *ps, struct scn_stmt *st)
{
    return event_ref(ps, st, false, true);
}

static int e_no(struct ps *ps, struct scn_stmt *st)
{
    static const char *const what[] = { "row", "event", NULL };
    int k = next_choice(ps, what, "row or event");
    if (k < 0)
        return -1;
    st->expect = k == 0 ? SCN_E_NO_ROW : SCN_E_NO_EVENT;
    return k == 0 ? e_no_row(ps, st) : event_ref(ps, st, false, false);
}

static int e_requests(struct ps *ps, struct scn_stmt *st)
{
    static const char *const kinds[] = { "push", "pull", NULL };
    int k = next_choice(ps, kinds, "push or pull");
    if (k < 0)
        return -1;
    st->push = k == 0;
    return next_count(ps, 0, SCN_MAX_COUNT, "a count", &st->n);
}

static const struct verb dev_asserts[] = {
    { "lock", SCN_E_LOCK_FREE, e_lock },
    { "queued", SCN_E_QUEUED, e_none },
    { "not", SCN_E_NOT_QUEUED, e_not },
    { "initial", SCN_E_INITIAL, e_initial },
    { "outbox", SCN_E_OUTBOX, e_n },
    { "deadletter", SCN_E_DEADLETTER, e_n },
    { "conflicts", SCN_E_CONFLICTS, e_conflicts },
    { "status", SCN_E_STATUS, e_status },
    { "row", SCN_E_ROW, e_row },
    { "no", SCN_E_NO_ROW, e_no },
    { "event", SCN_E_EVENT, e_event },
    { "requests", SCN_E_REQUESTS, e_requests },
};

/* server [USER] row|no row …, server event … */
static int e_server(struct ps *ps, struct scn_stmt *st)
{
    static const char *const forms[] = { "row", "no", "event", NULL };
    const struct tok *t = peek(ps);
    if (t != NULL && t->eq < 0 && word_index(forms, t->s) < 0 &&
        user_index(ps->scn, t->s) >= 0) {
        st->user = user_index(ps->scn, t->s);
        ps->i++;
    }
    int k = next_choice(ps, forms,
                        st->user >= 0 ? "row or no row" : "row, no row, event or a user");
    if (k < 0 || (k == 2 && st->user >= 0))
        return k < 0 ? -1 : fail_prev(ps, "row or no row");
    if (k == 2) {
        st->expect = SCN_E_SERVER_EVENT;
        return event_ref(ps, st, true, true);
    }
    if (k == 1 && !accept(ps, "row"))
        return fail_here(ps, "'row'");
    st->expect = k == 0 ? SCN_E_SERVER_ROW : SCN_E_SERVER_NO_ROW;
    if (default_user(ps, st) != 0)
        return -1;
    return k == 0 ? e_row(ps, st) : e_no_row(ps, st);
}

static int e_orch(struct ps *ps, struct scn_stmt *st)
{
    static const char *const health[] = { "healthy", "unhealthy", NULL };
    int j = next_choice(ps, job_names, "a job (orders, customers, products, prices)");
    if (j < 0)
        return -1;
    st->job = (enum scn_job)j;
    const char *w = next_word(ps, "a job status (idle, queued, running, completed, error) "
                                  "or healthy or unhealthy");
    if (w == NULL)
        return -1;
    int k = word_index(orch_status_names, w);
    if (k >= 0) {
        st->expect = SCN_E_ORCH_STATUS;
        st->orch_status = (enum scn_orch_status)k;
        return 0;
    }
    if ((k = word_index(health, w)) < 0)
        return fail_prev(ps, "a job status (idle, queued, running, completed, error) or "
                             "healthy or unhealthy");
    st->expect = SCN_E_ORCH_HEALTH;
    st->healthy = k == 0;
    return 0;
}

static int parse_expect(struct ps *ps, struct scn_stmt *st)
{
    if (accept(ps, "converged")) {
        st->expect = SCN_E_CONVERGED;
        return 0;
    }
    if (accept(ps, "server"))
        return e_server(ps, st);
    if (accept(ps, "orchestrator"))
        return e_orch(ps, st);
    if (next_device(ps, ", server, converged or orchestrator", &st->dev) != 0)
        return -1;
    const char *what = "an assertion (lock, queued, not queued, initial, outbox, deadletter, "
                       "conflicts, status, row, no row, event, no event, requests)";
    const char *w = next_word(ps, what);
    if (w == NULL)
        return -1;
    for (size_t k = 0; k < sizeof dev_asserts / sizeof dev_asserts[0]; k++) {
        if (strcmp(dev_asserts[k].word, w) == 0) {
            st->expect = (enum scn_expect)dev_asserts[k].code;
            return dev_asserts[k].fn(ps, st);
        }
    }
    return fail_prev(ps, "%s", what);
}

/* ------------------------------------------------------------- statements */

static struct scn_stmt *new_stmt(struct ps *ps, bool nested, int col)
{
    struct scn *scn = ps->scn;
    struct scn_stmt **arr = nested ? &scn->nested : &scn->stmts;
    int *n = nested ? &scn->nnested : &scn->nstmts;
    int *cap = nested ? &ps->nested_cap : &ps->stmt_cap;
    int max = nested ? SCN_MAX_NESTED : SCN_MAX_STMTS;
    if (*n == max) {
        fail_at(ps, col, nested ? "at most 1024 'on' lines" : "at most 4096 statements",
                "another");
        return NULL;
    }
    if (*n == *cap) {
        int ncap = *cap == 0 ? STMT_CAP0 : (*cap * 2 > max ? max : *cap * 2);
        struct scn_stmt *p = realloc(*arr, (size_t)ncap * sizeof *p);
        if (p == NULL) {
            fail_at(ps, col, "enough memory", "none");
            return NULL;
        }
        *arr = p;
        *cap = ncap;
    }
    SS_ASSERT(*n < *cap);
    struct scn_stmt *st = &(*arr)[(*n)++];
    memset(st, 0, sizeof *st);
    st->line = ps->line;
    st->col = col;
    st->dev = st->user = -1;
    st->count = -1;
    st->ms = -1;
    st->epoch = ps->epoch;
    st->at_ms = -1;
    return st;
}

/* `at T` / `after D` (SPEC §4 "Timing"), resolved against the previous
 * timed line of the current epoch. */
static int parse_timing(struct ps *ps, struct scn_stmt *st)
{
    int64_t v;
    if (accept(ps, "at")) {
        if (next_duration(ps, "a time", &v) != 0)
            return -1;
        if (v < ps->base_ms)
            return fail_prev(ps, "a time of at least %lldms (lines run in file order)",
                             (long long)ps->base_ms);
        st->timing = SCN_TIME_AT;
        ps->base_ms = v;
    } else if (accept(ps, "after")) {
        if (next_duration(ps, "a delay", &v) != 0)
            return -1;
        if (v > SCN_MAX_TIME_MS - ps->base_ms)
            return fail_prev(ps, "a time within 366 days");
        st->timing = SCN_TIME_AFTER;
        ps->base_ms += v;
    } else {
        v = 0;
    }
    st->timing_ms = v;
    st->epoch = ps->epoch;
    st->at_ms = ps->base_ms;
    return 0;
}

/* An action or an `expect`, to the end of the line. Never an `on` (no
 * nesting beyond one level) and never `quiesce` (a line of its own). */
static int parse_body(struct ps *ps, struct scn_stmt *st, const char *what)
{
    SS_ASSERT(st != NULL && ps->in_stmts);
    const struct tok *t = peek(ps);
    if (t == NULL || t->eq >= 0)
        return fail_here(ps, "%s", what);
    ps->i++;
    if (strcmp(t->s, "expect") == 0) {
        st->kind = SCN_EXPECT;
        return parse_expect(ps, st) != 0 ? -1 : expect_end(ps);
    }
    for (size_t k = 0; k < sizeof actions / sizeof actions[0]; k++) {
        if (strcmp(actions[k].word, t->s) == 0) {
            st->kind = SCN_ACTION;
            st->action = (enum scn_action)actions[k].code;
            return actions[k].fn(ps, st) != 0 ? -1 : expect_end(ps);
        }
    }
    return fail_prev(ps, "%s", what);
}

static int on_options(struct ps *ps, struct scn_on *on)
{
    bool seen_count = false, seen_after = false;
    for (;;) {
        if (!seen_count && accept(ps, "count")) {
            seen_count = true;
            if (next_count(ps, 1, SCN_MAX_COUNT, "a count", &on->count) != 0)
                return -1;
        } else if (!seen_after && accept(ps, "after")) {
            seen_after = true;
            if (next_duration(ps, "a delay", &on->delay_ms) != 0)
                return -1;
        } else {
            return 0;
        }
    }
}

/* on D EVENT [k=v…] [count N] [after D] STATEMENT */
static int parse_on(struct ps *ps, struct scn_stmt *st)
{
    SS_ASSERT(st->kind == SCN_ACTION && st->on_trigger.event == NULL);  /* fresh */
    struct scn_on *on = &st->on_trigger;
    st->kind = SCN_ON;
    on->count = 1;
    on->dev = -1;
    bool server = accept(ps, "server");
    if (!server && next_device(ps, " or server", &on->dev) != 0)
        return -1;
    if (next_event(ps, server, &on->event) != 0)
        return -1;
    if (parse_kvs(ps, on->event, 0, &on->kv, &on->nkv) != 0 || on_options(ps, on) != 0)
        return -1;
    int col = ps->i < ps->ntok ? ps->tok[ps->i].col : ps->eol_col;
    int idx = ps->scn->nnested;
    struct scn_stmt *body = new_stmt(ps, true, col);
    if (body == NULL)
        return -1;
    on->stmt = idx;
    SS_ASSERT(&ps->scn->nested[idx] == body && body->at_ms == -1);
    return parse_body(ps, body, "an action or expect");
}

static int parse_statement(struct ps *ps)
{
    SS_ASSERT(ps->ntok > 0 && ps->i == 0);
    struct scn_stmt *st = new_stmt(ps, false, ps->tok[0].col);
    if (st == NULL || parse_timing(ps, st) != 0)
        return -1;
    if (accept(ps, "on"))
        return parse_on(ps, st);
    if (accept(ps, "quiesce")) {
        st->kind = SCN_QUIESCE;
        if (expect_end(ps) != 0)
            return -1;
        /* Later lines run when it ended, an instant only the run knows. */
        SS_ASSERT(ps->epoch == ps->scn->nquiesce);
        ps->epoch++;
        ps->base_ms = 0;
        ps->scn->nquiesce++;
        return 0;
    }
    return parse_body(ps, st, "a statement");
}

static const struct decl {
    const char *word;
    int (*fn)(struct ps *ps);
} decls[] = {
    { "scenario", d_scenario }, { "seed", d_seed },     { "device", d_device },
    { "table", d_table },       { "config", d_config }, { "faults", d_faults },
};

static int parse_line(struct ps *ps, const char *p, int len)
{
    if (lex_line(ps, p, len) != 0)
        return -1;
    if (ps->ntok == 0) {
        check_live(ps, p, len);
        return 0;
    }
    const struct tok *t = &ps->tok[0];
    for (size_t k = 0; k < sizeof decls / sizeof decls[0]; k++) {
        if (t->eq < 0 && strcmp(decls[k].word, t->s) == 0) {
            if (ps->in_stmts)
                return fail_tok(ps, t, "a statement (declarations come before the first "
                                       "statement)");
            ps->i = 1;
            SS_ASSERT(!ps->in_stmts);
            return decls[k].fn(ps);
        }
    }
    if (!ps->in_stmts && begin_stmts(ps) != 0)
        return -1;
    return parse_statement(ps);
}

static int parse_text(struct ps *ps, const char *text, size_t len)
{
    size_t pos = 0;
    if (len > SCN_MAX_INPUT)
        return fail_at(ps, 1, "at most 4194304 bytes of input", "more");
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;  /* a UTF-8 BOM some editors write */
    while (pos < len) {
        const char *p = text + pos;
        const char *nl = memchr(p, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - p) : len - pos;
        size_t next = pos + n + (nl != NULL);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n > SCN_MAX_LINE)
            return fail_at(ps, SCN_MAX_LINE + 1, "a line of at most 16384 bytes",
                           "a longer line");
        if (parse_line(ps, p, (int)n) != 0)
            return -1;
        SS_ASSERT(next > pos);
        pos = next;
        ps->line++;
    }
    return 0;
}

int scn_parse(const char *filename, const char *text, size_t len, struct scn *out,
              struct scn_error *err)
{
    SS_ASSERT(out != NULL);
    SS_ASSERT(text != NULL || len == 0);
    memset(out, 0, sizeof *out);
    if (err != NULL)
        memset(err, 0, sizeof *err);
    struct ps *ps = calloc(1, sizeof *ps);
    if (ps == NULL) {
        if (err != NULL)
            snprintf(err->msg, sizeof err->msg, "%s:0:0: expected enough memory, found none",
                     filename != NULL ? filename : "<input>");
        return -1;
    }
    ps->scn = out;
    ps->err = err;
    ps->file = filename != NULL ? filename : "<input>";
    ps->line = 1;
    out->name = "";
    out->seed = 1;
    config_default(&out->config);
    int rc = parse_text(ps, text, len);
    if (rc == 0 && !ps->in_stmts)
        rc = begin_stmts(ps);
    SS_ASSERT(rc == 0 || ps->failed);
    free(ps);
    if (rc != 0)
        scn_free(out);
    return rc;
}

static int file_error(const char *path, struct scn_error *err, const char *found)
{
    if (err != NULL) {
        memset(err, 0, sizeof *err);
        snprintf(err->file, sizeof err->file, "%s", path);
        snprintf(err->msg, sizeof err->msg, "%s:0:0: expected a readable scenario file of at "
                 "most %d bytes, found %s", err->file, SCN_MAX_INPUT, found);
    }
    return -1;
}

int scn_parse_file(const char *path, struct scn *out, struct scn_error *err)
{
    SS_ASSERT(path != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return file_error(path, err, "a file that cannot be opened");
    /* One byte more than the limit tells "too long" from "exactly at it". */
    char *buf = malloc((size_t)SCN_MAX_INPUT + 1);
    if (buf == NULL) {
        fclose(f);
        return file_error(path, err, "no memory to read it");
    }
    size_t n = fread(buf, 1, (size_t)SCN_MAX_INPUT + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    int rc;
    if (bad)
        rc = file_error(path, err, "a read error");
    else if (n > SCN_MAX_INPUT)
        rc = file_error(path, err, "a longer file");
    else
        rc = scn_parse(path, buf, n, out, err);
    free(buf);
    return rc;
}

void scn_free(struct scn *scn)
{
    if (scn == NULL)
        return;
    struct scn_arena *a = scn->arena;
    while (a != NULL) {
        struct scn_arena *next = a->next;
        free(a);
        a = next;
    }
    free(scn->stmts);
    free(scn->nested);
    memset(scn, 0, sizeof *scn);
}

/* ------------------------------------------------------------------ names */

static const char *const action_names[SCN_A_COUNT] = {
    "start", "crash", "restart", "login", "logout", "cancel-initial", "write", "delete",
    "trigger", "offline", "online", "partition", "heal", "clock", "migrate", "server write",
    "server delete", "server fail", "server crash", "server restart", "server revoke",
    "orchestrate", "orchestrator", "erp write", "requeue", "resolve",
};

static const char *const expect_names[SCN_E_COUNT] = {
    "lock free", "lock held", "queued", "not queued", "initial", "outbox", "deadletter",
    "conflicts", "status", "row", "no row", "server row", "server no row", "event",
    "no event", "requests", "converged", "orchestrator status", "orchestrator health",
    "server event",
};

const char *scn_action_name(enum scn_action a)
{
    return (int)a >= 0 && a < SCN_A_COUNT ? action_names[a] : "?";
}

const char *scn_expect_name(enum scn_expect e)
{
    return (int)e >= 0 && e < SCN_E_COUNT ? expect_names[e] : "?";
}

const char *scn_job_name(enum scn_job j)
{
    return (int)j >= 0 && j < SCN_JOB_COUNT ? job_names[j] : "?";
}

const char *scn_orch_status_name(enum scn_orch_status s)
{
    return (int)s >= 0 && s < SCN_ORCH_COUNT ? orch_status_names[s] : "?";
}
