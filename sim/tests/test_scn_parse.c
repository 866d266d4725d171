/*
 * test_scn_parse.c — the scenario-language parser (SPEC §4): the SPEC's own
 * example, resolved times, `on` triggers, quoting, every action and
 * assertion form, the exact `FILE:LINE:COL: expected …, found …` errors,
 * and a fixed-seed mutation loop (the parser is fuzzed; it must never
 * crash and must always say where it stopped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "event.h"
#include "scn.h"

/* SPEC §4, verbatim. */
static const char spec_example[] =
    "scenario \"app killed while pushing keeps every write\"\n"
    "seed 7                          # optional: seeds faults and jitter (default 1)\n"
    "device phone user alice         # devices, users and wall-clock skew\n"
    "device tablet user alice skew -30s\n"
    "table orders rw rows 200        # server rows at start (generated deterministically)\n"
    "config cooldown=5s lock_timeout=5m debounce=500ms   # override any constant\n"
    "faults none                     # none (default) | swarm | loss=0.05 dup=0.01 "
    "delay=10ms..2s ...\n"
    "\n"
    "at 0s   start phone             # timed actions: absolute 'at T' or relative 'after D'\n"
    "at 0s   login phone             # initial sync starts\n"
    "at 10s  write phone orders o1 qty=2 status=open   # a repository trigger follows the "
    "debounce\n"
    "on phone sync.push_sent crash phone     # fires when the event happens (first time; "
    "'count N' for the Nth)\n"
    "after 5s restart phone          # relative to the previous timed line: at 15 s\n"
    "expect phone event lock.stale_cleared holder=repository   # same time, file order\n"
    "expect phone outbox 1\n"
    "quiesce                          # heal every fault and run until all devices are idle "
    "and synced\n"
    "expect converged\n"
    "expect server row orders o1 qty=2\n";

/* Every action and assertion form at least once (also the fuzz seed). */
static const char full_file[] =
    "# live: yes\n"
    "scenario \"every form\"\n"
    "seed 0x2a\n"
    "device phone user alice skew +2m\n"
    "device tablet user bob\n"
    "table customers rw rows 3 strategy merge\n"
    "table orders rw strategy manual rows 1200\n"
    "table products ro\n"
    "config cooldown=5s lock_timeout=5m debounce=500ms clock=hlc\n"
    "faults loss=0.05 dup=0.01 delay=10ms..2s clock_skew=30s\n"
    "at 0s start phone\n"
    "start tablet\n"
    "login phone\n"
    "login tablet bob\n"
    "after 1m30s write phone orders o1 qty=2 status=open text=\"a b\"\n"
    "delete phone orders o1\n"
    "trigger phone manual\n"
    "crash phone\n"
    "crash phone power\n"
    "restart phone\n"
    "logout phone\n"
    "cancel-initial phone\n"
    "offline tablet\n"
    "online tablet\n"
    "partition tablet\n"
    "heal tablet\n"
    "heal all\n"
    "clock phone +1h\n"
    "clock tablet -30s\n"
    "migrate phone add-table notes\n"
    "write phone notes n1 body=hi\n"
    "server write orders s1 qty=1\n"
    "server bob write orders s2 qty=1\n"
    "server delete orders s1\n"
    "server bob delete orders s2\n"
    "server fail 3\n"
    "server fail 2 status 429 retry-after 2s\n"
    "server crash\n"
    "server restart\n"
    "server revoke tablet\n"
    "orchestrate orders full\n"
    "orchestrate prices incremental\n"
    "orchestrator on\n"
    "orchestrator off\n"
    "erp write products p1 price=3\n"
    "requeue phone\n"
    "resolve phone orders o1 local\n"
    "resolve phone orders o1 remote\n"
    "expect phone lock free\n"
    "expect phone lock held background\n"
    "expect phone queued\n"
    "expect phone not queued\n"
    "expect phone initial complete\n"
    "expect tablet initial incomplete\n"
    "expect phone outbox 0\n"
    "expect phone deadletter 2\n"
    "expect phone conflicts 1\n"
    "expect phone conflicts 1 unresolved\n"
    "expect phone status synced\n"
    "expect phone row orders o1 qty=2\n"
    "expect phone row orders o1\n"
    "expect phone no row orders o9\n"
    "expect server row orders o1 qty=2\n"
    "expect server bob row orders s2 qty=1\n"
    "expect server no row orders o9\n"
    "expect server bob no row orders o9\n"
    "expect phone event lock.acquired kind=manual\n"
    "expect phone event sync.completed kind=manual count 2\n"
    "expect phone no event lock.rejected reason=gate\n"
    "expect phone requests push 1\n"
    "expect phone requests pull 3\n"
    "expect converged\n"
    "expect orchestrator orders completed\n"
    "expect orchestrator prices unhealthy\n"
    "expect server event orch.status job=orders status=running count 1\n"
    "on phone lock.acquired kind=repository count 2 after 1s crash phone power\n"
    "on server orch.status job=orders status=running server crash\n"
    "quiesce\n"
    "expect phone event toast text=\"Sync already in progress \xe2\x80\x94 your request is "
    "queued\"\n";

static int parse_str(const char *text, struct scn *s, struct scn_error *e)
{
    return scn_parse("t.scn", text, strlen(text), s, e);
}

static void must_parse(const char *text, struct scn *s)
{
    struct scn_error e;
    int rc = parse_str(text, s, &e);
    if (rc != 0)
        fail_msg("unexpected parse error: %s", e.msg);
}

static void test_spec_example(void **state)
{
    (void)state;
    struct scn s;
    must_parse(spec_example, &s);
    assert_string_equal(s.name, "app killed while pushing keeps every write");
    assert_int_equal(s.seed, 7);
    assert_false(s.live);
    assert_int_equal(s.ndevices, 2);
    assert_string_equal(s.devices[1].name, "tablet");
    assert_int_equal(s.devices[1].skew_ms, -30000);
    assert_int_equal(s.devices[0].user, 0);
    assert_int_equal(s.devices[1].user, 0);
    assert_int_equal(s.nusers, 1);
    assert_string_equal(s.users[0], "alice");
    assert_true(s.tables_declared);
    assert_int_equal(s.ntables, 1);
    assert_string_equal(s.tables[0].name, "orders");
    assert_false(s.tables[0].read_only);
    assert_int_equal(s.tables[0].strategy, STRAT_LWW);
    assert_int_equal(s.table_rows[0], 200);
    assert_int_equal(s.nconfig, 3);
    assert_string_equal(s.config_kv[2].key, "debounce");
    assert_int_equal(s.config.lock_timeout_ms, 300000);
    assert_int_equal(s.config.debounce_ms, 500);
    assert_int_equal(s.faults_mode, SCN_FAULTS_NONE);
    scn_free(&s);
}

static void test_spec_example_statements(void **state)
{
    (void)state;
    struct scn s;
    must_parse(spec_example, &s);
    assert_int_equal(s.nstmts, 10);
    assert_int_equal(s.nnested, 1);
    assert_int_equal(s.nquiesce, 1);
    const struct scn_stmt *st = s.stmts;
    assert_int_equal(st[0].kind, SCN_ACTION);
    assert_int_equal(st[0].action, SCN_A_START);
    assert_int_equal(st[0].line, 9);
    assert_int_equal(st[0].col, 1);
    assert_int_equal(st[1].action, SCN_A_LOGIN);
    assert_int_equal(st[1].user, 0);            /* the device's own user */
    assert_int_equal(st[2].action, SCN_A_WRITE);
    assert_int_equal(st[2].at_ms, 10000);
    assert_string_equal(st[2].table, "orders");
    assert_string_equal(st[2].id, "o1");
    assert_int_equal(st[2].nkv, 2);
    assert_string_equal(st[2].kv[1].key, "status");
    assert_string_equal(st[2].kv[1].val, "open");
    assert_int_equal(st[3].kind, SCN_ON);
    assert_int_equal(st[3].at_ms, 10000);       /* armed at the previous timed line */
    assert_int_equal(st[3].on_trigger.dev, 0);
    assert_string_equal(st[3].on_trigger.event, "sync.push_sent");
    assert_int_equal(st[3].on_trigger.count, 1);
    assert_int_equal(st[3].on_trigger.delay_ms, 0);
    const struct scn_stmt *body = &s.nested[st[3].on_trigger.stmt];
    assert_int_equal(body->kind, SCN_ACTION);
    assert_int_equal(body->action, SCN_A_CRASH);
    assert_false(body->power);
    assert_int_equal(body->line, 12);
    assert_int_equal(body->col, 25);
    assert_int_equal(st[4].action, SCN_A_RESTART);
    assert_int_equal(st[4].timing, SCN_TIME_AFTER);
    assert_int_equal(st[4].at_ms, 15000);       /* "at 15 s" says the SPEC */
    assert_int_equal(st[5].kind, SCN_EXPECT);
    assert_int_equal(st[5].expect, SCN_E_EVENT);
    assert_int_equal(st[5].at_ms, 15000);
    assert_string_equal(st[5].event, "lock.stale_cleared");
    assert_string_equal(st[5].kv[0].key, "holder");
    assert_int_equal(st[5].count, -1);
    assert_int_equal(st[6].expect, SCN_E_OUTBOX);
    assert_int_equal(st[6].n, 1);
    assert_int_equal(st[7].kind, SCN_QUIESCE);
    assert_int_equal(st[7].epoch, 0);
    assert_int_equal(st[7].at_ms, 15000);
    assert_int_equal(st[8].expect, SCN_E_CONVERGED);
    assert_int_equal(st[8].epoch, 1);
    assert_int_equal(st[8].at_ms, 0);
    assert_int_equal(st[9].expect, SCN_E_SERVER_ROW);
    assert_int_equal(st[9].user, 0);
    scn_free(&s);
    scn_free(&s);  /* freeing twice is harmless: scn_free zeroes */
}

static void test_times_resolved(void **state)
{
    (void)state;
    struct scn s;
    must_parse("device p user u\n"
               "start p\n"
               "after 1.5s start p\n"
               "after 250ms start p\n"
               "start p\n"
               "at 1m30s start p\n"
               "after 1h start p\n"
               "at 3690000ms quiesce\n"
               "start p\n"
               "after 5s start p\n"
               "at 7s start p\n"
               "quiesce\n"
               "after 0 start p\n", &s);
    static const struct { int epoch; int64_t at; enum scn_timing timing; } want[] = {
        { 0, 0, SCN_TIME_NONE },    { 0, 1500, SCN_TIME_AFTER }, { 0, 1750, SCN_TIME_AFTER },
        { 0, 1750, SCN_TIME_NONE }, { 0, 90000, SCN_TIME_AT },   { 0, 3690000, SCN_TIME_AFTER },
        { 0, 3690000, SCN_TIME_AT }, { 1, 0, SCN_TIME_NONE },    { 1, 5000, SCN_TIME_AFTER },
        { 1, 7000, SCN_TIME_AT },   { 1, 7000, SCN_TIME_NONE },  { 2, 0, SCN_TIME_AFTER },
    };
    assert_int_equal(s.nstmts, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < s.nstmts; i++) {
        assert_int_equal(s.stmts[i].epoch, want[i].epoch);
        assert_int_equal(s.stmts[i].at_ms, want[i].at);
        assert_int_equal(s.stmts[i].timing, want[i].timing);
    }
    assert_int_equal(s.stmts[4].timing_ms, 90000);
    assert_int_equal(s.nquiesce, 2);
    scn_free(&s);
}

static void test_on_trigger(void **state)
{
    (void)state;
    struct scn s;
    must_parse("device p user u\n"
               "at 3s on p lock.acquired kind=manual count 3 after 2s expect p lock held manual\n"
               "on p sync.failed reason=timeout after 500ms trigger p background\n"
               "on p initial.completed count 2 write p orders o1 a=1\n", &s);
    assert_int_equal(s.nstmts, 3);
    assert_int_equal(s.nnested, 3);
    const struct scn_on *on = &s.stmts[0].on_trigger;
    assert_int_equal(s.stmts[0].kind, SCN_ON);
    assert_int_equal(s.stmts[0].at_ms, 3000);
    assert_string_equal(on->event, "lock.acquired");
    assert_int_equal(on->nkv, 1);
    assert_string_equal(on->kv[0].val, "manual");
    assert_int_equal(on->count, 3);
    assert_int_equal(on->delay_ms, 2000);
    const struct scn_stmt *b = &s.nested[on->stmt];
    assert_int_equal(b->kind, SCN_EXPECT);
    assert_int_equal(b->expect, SCN_E_LOCK_HELD);
    assert_int_equal(b->sync_kind, KIND_MANUAL);
    assert_int_equal(b->at_ms, -1);
    on = &s.stmts[1].on_trigger;
    assert_int_equal(on->count, 1);
    assert_int_equal(on->delay_ms, 500);
    assert_int_equal(s.nested[on->stmt].action, SCN_A_TRIGGER);
    assert_int_equal(s.nested[on->stmt].sync_kind, KIND_BACKGROUND);
    on = &s.stmts[2].on_trigger;
    assert_int_equal(on->count, 2);
    assert_int_equal(on->nkv, 0);
    assert_int_equal(on->stmt, 2);
    assert_int_equal(s.nested[2].action, SCN_A_WRITE);
    scn_free(&s);
}

static void test_quoting(void **state)
{
    (void)state;
    struct scn s;
    must_parse("scenario \"a # not a comment\"\r\n"
               "device p user u\n"
               "write p orders \"id 1\" text=\"a b\" q=\"say \\\"hi\\\" \\\\ \" empty= e2=\"\"\n"
               "expect p row orders o1 note=\"x#y\"   # a comment\n"
               "expect p event toast text=\"Sync already in progress \xe2\x80\x94 your request "
               "is queued\"\n", &s);
    assert_string_equal(s.name, "a # not a comment");
    const struct scn_stmt *w = &s.stmts[0];
    assert_string_equal(w->id, "id 1");
    assert_int_equal(w->nkv, 4);
    assert_string_equal(w->kv[0].val, "a b");
    assert_string_equal(w->kv[1].val, "say \"hi\" \\ ");
    assert_string_equal(w->kv[2].val, "");
    assert_string_equal(w->kv[3].val, "");
    assert_string_equal(s.stmts[1].kv[0].val, "x#y");
    assert_string_equal(s.stmts[2].kv[0].val,
                        "Sync already in progress \xe2\x80\x94 your request is queued");
    /* No table lines: the four defaults (SPEC §4 "Tables"). */
    assert_false(s.tables_declared);
    assert_int_equal(s.ntables, 4);
    assert_string_equal(s.tables[2].name, "products");
    assert_true(s.tables[2].read_only);
    scn_free(&s);
}

static void test_every_action(void **state)
{
    (void)state;
    struct scn s;
    must_parse(full_file, &s);
    assert_true(s.live);
    assert_int_equal(s.seed, 42);
    assert_int_equal(s.devices[0].skew_ms, 120000);
    assert_int_equal(s.nusers, 2);
    assert_int_equal(s.ntables, 3);
    assert_int_equal(s.tables[0].strategy, STRAT_MERGE);
    assert_int_equal(s.tables[1].strategy, STRAT_MANUAL);
    assert_int_equal(s.table_rows[1], 1200);
    assert_true(s.tables[2].read_only);
    assert_int_equal(s.config.clock, CLOCK_HLC);
    assert_int_equal(s.faults_mode, SCN_FAULTS_LIST);
    assert_int_equal(s.nfaults, 4);
    assert_true(s.faults[0].p > 0.0499 && s.faults[0].p < 0.0501);
    assert_string_equal(s.faults[2].key, "delay");
    assert_int_equal(s.faults[2].lo_ms, 10);
    assert_int_equal(s.faults[2].hi_ms, 2000);
    assert_int_equal(s.faults[3].lo_ms, 30000);

    bool seen[SCN_A_COUNT] = { false };
    for (int i = 0; i < s.nstmts; i++) {
        if (s.stmts[i].kind == SCN_ACTION)
            seen[s.stmts[i].action] = true;
    }
    for (int a = 0; a < SCN_A_COUNT; a++) {
        if (!seen[a])
            fail_msg("action %s not covered", scn_action_name((enum scn_action)a));
    }
    const struct scn_stmt *st = s.stmts;
    assert_int_equal(st[3].user, 1);                        /* login tablet bob */
    assert_int_equal(st[4].at_ms, 90000);                   /* after 1m30s */
    assert_string_equal(st[4].kv[2].val, "a b");
    assert_true(st[8].power);                               /* crash phone power */
    assert_false(st[7].power);
    assert_true(st[16].all);                                /* heal all */
    assert_int_equal(st[17].ms, 3600000);                   /* clock phone +1h */
    assert_int_equal(st[18].ms, -30000);
    assert_string_equal(st[19].table, "notes");             /* migrate … add-table notes */
    assert_string_equal(st[20].table, "notes");             /* known from then on */
    assert_int_equal(st[21].action, SCN_A_SERVER_WRITE);
    assert_int_equal(st[21].user, 0);                       /* the first user */
    assert_int_equal(st[22].user, 1);                       /* server bob write */
    assert_int_equal(st[24].action, SCN_A_SERVER_DELETE);
    assert_int_equal(st[24].user, 1);
    assert_int_equal(st[25].n, 3);
    assert_int_equal(st[25].http_status, 500);
    assert_int_equal(st[25].ms, -1);
    assert_int_equal(st[26].http_status, 429);
    assert_int_equal(st[26].ms, 2000);
    assert_int_equal(st[29].dev, 1);                        /* server revoke tablet */
    assert_int_equal(st[30].job, SCN_JOB_ORDERS);
    assert_true(st[30].full);
    assert_int_equal(st[31].job, SCN_JOB_PRICES);
    assert_false(st[31].full);
    assert_true(st[32].on);
    assert_false(st[33].on);
    assert_int_equal(st[34].action, SCN_A_ERP_WRITE);
    assert_int_equal(st[34].user, -1);
    assert_true(st[36].take_local);
    assert_false(st[37].take_local);
    scn_free(&s);
}

static void test_every_assertion(void **state)
{
    (void)state;
    struct scn s;
    must_parse(full_file, &s);
    bool seen[SCN_E_COUNT] = { false };
    const struct scn_stmt *e[SCN_E_COUNT * 2] = { NULL };
    int n = 0;
    for (int i = 0; i < s.nstmts; i++) {
        if (s.stmts[i].kind == SCN_EXPECT) {
            seen[s.stmts[i].expect] = true;
            if (n < SCN_E_COUNT * 2)
                e[n++] = &s.stmts[i];
        }
    }
    for (int a = 0; a < SCN_E_COUNT; a++) {
        if (!seen[a])
            fail_msg("assertion %s not covered", scn_expect_name((enum scn_expect)a));
    }
    assert_int_equal(e[1]->sync_kind, KIND_BACKGROUND);     /* lock held background */
    assert_true(e[4]->complete);
    assert_false(e[5]->complete);
    assert_int_equal(e[7]->n, 2);                           /* deadletter 2 */
    assert_false(e[8]->unresolved);
    assert_true(e[9]->unresolved);
    assert_int_equal(e[10]->status, ST_SYNCED);
    assert_int_equal(e[12]->nkv, 0);                        /* row without fields */
    assert_int_equal(e[14]->user, 0);                       /* server row: first user */
    assert_int_equal(e[15]->user, 1);                       /* server bob row */
    assert_int_equal(e[17]->expect, SCN_E_SERVER_NO_ROW);
    assert_int_equal(e[17]->user, 1);
    assert_int_equal(e[18]->count, -1);
    assert_int_equal(e[19]->count, 2);
    assert_int_equal(e[20]->expect, SCN_E_NO_EVENT);
    assert_true(e[21]->push);
    assert_false(e[22]->push);
    assert_int_equal(e[22]->n, 3);
    assert_int_equal(e[24]->orch_status, SCN_ORCH_COMPLETED);
    assert_int_equal(e[25]->expect, SCN_E_ORCH_HEALTH);
    assert_false(e[25]->healthy);
    assert_int_equal(e[26]->expect, SCN_E_SERVER_EVENT);
    assert_int_equal(e[26]->nkv, 2);
    assert_int_equal(e[26]->count, 1);
    /* on server …: dev -1, a server action inside */
    const struct scn_stmt *on = &s.stmts[s.nstmts - 3];
    assert_int_equal(on->kind, SCN_ON);
    assert_int_equal(on->on_trigger.dev, -1);
    assert_int_equal(s.nested[on->on_trigger.stmt].action, SCN_A_SERVER_CRASH);
    assert_string_equal(scn_job_name(SCN_JOB_PRICES), "prices");
    assert_string_equal(scn_orch_status_name(SCN_ORCH_ERROR), "error");
    assert_string_equal(scn_expect_name(SCN_E_COUNT), "?");
    scn_free(&s);
}

/* Every name of ev_known_names is accepted where it belongs, and each has
 * a field list here (a bogus field is refused, naming the event). */
static void test_every_event_name(void **state)
{
    (void)state;
    for (int i = 0; ev_known_names[i] != NULL; i++) {
        const char *name = ev_known_names[i];
        bool server = strncmp(name, "orch.", 5) == 0;
        char text[256], want[128];
        struct scn s;
        struct scn_error e;
        snprintf(text, sizeof text, "device p user u\nexpect %s event %s\n",
                 server ? "server" : "p", name);
        must_parse(text, &s);
        scn_free(&s);
        snprintf(text, sizeof text, "device p user u\nexpect %s event %s zz=1\n",
                 server ? "server" : "p", name);
        assert_int_equal(parse_str(text, &s, &e), -1);
        snprintf(want, sizeof want, "expected a field of %s (", name);
        if (strstr(e.msg, want) == NULL)
            fail_msg("%s: %s", name, e.msg);
    }
}

/* Each case: input, the exact message ('*' once: any text there, for lists
 * other modules own, like config_keys). */
static const struct err_case {
    const char *text;
    const char *msg;
} err_cases[] = {
    /* unknown device */
    { "device phone user alice\nstart laptop\n",
      "t.scn:2:7: expected a declared device (phone), found 'laptop'" },
    { "start phone\n",
      "t.scn:1:7: expected a device declared by a 'device' line, found 'phone'" },
    /* unknown table */
    { "device p user u\ntable orders rw\nwrite p customers c1 a=1\n",
      "t.scn:3:9: expected a declared table (orders), found 'customers'" },
    { "device p user u\nwrite p notes n1 a=1\nmigrate p add-table notes\n",
      "t.scn:2:9: expected a declared table (customers, orders, products, prices), "
      "found 'notes'" },
    /* unknown event */
    { "device p user u\nexpect p event sync.finished\n",
      "t.scn:2:16: expected an event name of SPEC 1.8 (lock.acquired, sync.completed, ...), "
      "found 'sync.finished'" },
    { "device p user u\nexpect p event lock.acquired knd=manual\n",
      "t.scn:2:30: expected a field of lock.acquired (kind), found 'knd=manual'" },
    { "device p user u\nexpect p no event lock.acquired kind=manul\n",
      "t.scn:2:33: expected kind=one of initial, manual, background, repository, master, "
      "found 'kind=manul'" },
    { "expect server event lock.acquired\n",
      "t.scn:1:21: expected a server event (orch.status, orch.health), found 'lock.acquired'" },
    /* bad duration */
    { "device p user u\nat 5x start p\n",
      "t.scn:2:4: expected a time " "(like 250ms, 5s, 1.5s, 5m, 1h, 1m30s), found '5x'" },
    { "device p user u\nafter 30s1m start p\n",
      "t.scn:2:7: expected a delay (like 250ms, 5s, 1.5s, 5m, 1h, 1m30s), found '30s1m'" },
    { "config cooldown=5x\n",
      "t.scn:1:8: expected a duration like 5s for cooldown, found 'cooldown=5x'" },
    /* missing argument */
    { "device p user u\nstart\n",
      "t.scn:2:6: expected a declared device (p), found end of line" },
    { "device p user u\nwrite p orders o1\n",
      "t.scn:2:18: expected field=value, found end of line" },
    { "device p user u\ntrigger p\n",
      "t.scn:2:10: expected a sync kind (initial, manual, background, repository, master), "
      "found end of line" },
    /* trailing garbage */
    { "device p user u\nstart p now\n", "t.scn:2:9: expected end of line, found 'now'" },
    { "device p user u\nexpect p outbox 1 2\n", "t.scn:2:19: expected end of line, found '2'" },
    /* on inside on */
    { "device p user u\non p sync.push_sent on p sync.pull_page crash p\n",
      "t.scn:2:21: expected an action or expect, found 'on'" },
    { "device p user u\non p sync.push_sent quiesce\n",
      "t.scn:2:21: expected an action or expect, found 'quiesce'" },
    /* bad probability */
    { "faults loss=1.5\n", "t.scn:1:8: expected a probability from 0 to 1, found 'loss=1.5'" },
    { "faults dup=-0.1\n", "t.scn:1:8: expected a probability from 0 to 1, found 'dup=-0.1'" },
    { "faults delay=2s..10ms\n",
      "t.scn:1:8: expected a duration range A..B with A <= B, like 10ms..2s, "
      "found 'delay=2s..10ms'" },
    /* order, limits, lexing */
    { "device p user u\nat 10s start p\nat 5s start p\n",
      "t.scn:3:4: expected a time of at least 10000ms (lines run in file order), found '5s'" },
    { "device p user u\nstart p\ndevice q user u\n",
      "t.scn:3:1: expected a statement (declarations come before the first statement), "
      "found 'device'" },
    { "scenario \"open\n", "t.scn:1:15: expected a closing '\"', found end of line" },
    { "scenario x\x01y\n", "t.scn:1:11: expected printable text, found byte 0x01" },
    { "device p user u\nfrobnicate p\n", "t.scn:2:1: expected a statement, found 'frobnicate'" },
    { "device p user u\nexpect p status fine\n",
      "t.scn:2:17: expected a status (logged_out, initial, offline, syncing, deadletter, "
      "error, pending, synced), found 'fine'" },
    { "device p user u\nexpect server bob row orders o1\n",
      "t.scn:2:15: expected row, no row, event or a user, found 'bob'" },
    { "server write orders o1 a=1\n",
      "t.scn:1:8: expected a user named on a 'device' line first (server data is per user), "
      "found 'write'" },
    { "device p user u\nmigrate p add-table orders\n",
      "t.scn:2:21: expected a table new to p, found 'orders'" },
    { "device p user u\nwrite p orders o1 a=1 a=2\n",
      "t.scn:2:23: expected each field once, found 'a=2'" },
    { "device server user u\n",
      "t.scn:1:8: expected a device name other than server, erp, all, converged and "
      "orchestrator, found 'server'" },
    { "seed 7\nseed 8\n", "t.scn:2:1: expected one 'seed' line, found 'seed'" },
    { "config colldown=5s\n",
      "t.scn:1:8: expected a config key (cooldown, lock_timeout, *, ...), "
      "found 'colldown=5s'" },
    { "device p user u\nserver fail 2 status 404\n",
      "t.scn:2:22: expected 500, 503 or 429, found '404'" },
    { "device p user u\nclock p 5s\n",
      "t.scn:2:9: expected +DURATION or -DURATION (like +1h, -30s), found '5s'" },
    { "device p user u\non p sync.push_sent count 0 crash p\n",
      "t.scn:2:27: expected a count (a whole number from 1 to 1000000000), found '0'" },
};

static bool msg_matches(const char *got, const char *want)
{
    const char *star = strchr(want, '*');
    if (star == NULL)
        return strcmp(got, want) == 0;
    size_t pre = (size_t)(star - want), post = strlen(star + 1), n = strlen(got);
    return n >= pre + post && strncmp(got, want, pre) == 0 &&
           strcmp(got + n - post, star + 1) == 0;
}

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
        struct scn s;
        struct scn_error e;
        int rc = parse_str(err_cases[i].text, &s, &e);
        if (rc == 0)
            fail_msg("case %zu parsed but should fail: %s", i, err_cases[i].text);
        if (!msg_matches(e.msg, err_cases[i].msg))
            fail_msg("case %zu:\n  got  %s\n  want %s", i, e.msg, err_cases[i].msg);
        assert_true(e.line >= 1 && e.col >= 1);
        assert_string_equal(e.file, "t.scn");
        assert_null(s.stmts);   /* freed on error */
        assert_null(s.arena);
    }
}

static void test_limits(void **state)
{
    (void)state;
    struct scn s;
    struct scn_error e;
    /* A line one byte over the limit. */
    size_t n = SCN_MAX_LINE + 1;
    char *big = malloc(n + 2);
    assert_non_null(big);
    memset(big, 'a', n);
    big[n] = '\n';
    big[n + 1] = '\0';
    assert_int_equal(parse_str(big, &s, &e), -1);
    assert_string_equal(e.msg, "t.scn:1:16385: expected a line of at most 16384 bytes, "
                               "found a longer line");
    free(big);
    /* 4097 statements. */
    size_t cap = 32 + (SCN_MAX_STMTS + 1) * 10;
    char *many = malloc(cap), *p = many;
    assert_non_null(many);
    p += sprintf(p, "device p user u\n");
    for (int i = 0; i <= SCN_MAX_STMTS; i++)
        p += sprintf(p, "start p\n");
    assert_int_equal(parse_str(many, &s, &e), -1);
    assert_string_equal(e.msg, "t.scn:4098:1: expected at most 4096 statements, found another");
    free(many);
    /* Empty input and only comments are valid scenarios with defaults. */
    assert_int_equal(scn_parse("e.scn", "", 0, &s, &e), 0);
    assert_int_equal(s.seed, 1);
    assert_int_equal(s.ntables, 4);
    assert_string_equal(s.name, "");
    scn_free(&s);
    /* Text need not be NUL-terminated; a NUL byte is an error. */
    assert_int_equal(scn_parse("z.scn", "seed 1\0x\n", 9, &s, &e), -1);
    assert_string_equal(e.msg, "z.scn:1:7: expected printable text, found byte 0x00");
}

static void test_parse_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_scn_parseXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, spec_example, sizeof spec_example - 1),
                     (ssize_t)(sizeof spec_example - 1));
    close(fd);
    struct scn s;
    struct scn_error e;
    assert_int_equal(scn_parse_file(path, &s, &e), 0);
    assert_int_equal(s.nstmts, 10);
    scn_free(&s);
    unlink(path);
    assert_int_equal(scn_parse_file(path, &s, &e), -1);
    assert_non_null(strstr(e.msg, "expected a readable scenario file"));
    assert_null(s.stmts);
}

/* xorshift64: fixed seed, so every run mutates the same way. */
static uint64_t xs_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static size_t mutate(char *buf, size_t len, size_t cap, uint64_t *rng)
{
    static const char dict[][12] = { " ", "\n", "\"", "=", "#", "on p ", "at ", "after ",
                                     "..", "0", "-", "\\", "count ", "\t", "expect " };
    int edits = 1 + (int)(xs_next(rng) % 8);
    for (int k = 0; k < edits && len > 0; k++) {
        size_t at = (size_t)(xs_next(rng) % len);
        switch (xs_next(rng) % 5) {
        case 0: buf[at] = (char)xs_next(rng); break;            /* any byte */
        case 1: memmove(buf + at, buf + at + 1, len - at - 1); len--; break;
        case 2: len = at; break;                                /* truncate */
        default: {
            const char *d = dict[xs_next(rng) % (sizeof dict / sizeof dict[0])];
            size_t dl = strlen(d);
            if (len + dl > cap)
                break;
            memmove(buf + at + dl, buf + at, len - at);
            memcpy(buf + at, d, dl);
            len += dl;
        }
        }
    }
    return len;
}

static void test_mutations_never_crash(void **state)
{
    (void)state;
    const size_t base = sizeof full_file - 1, cap = base + 512;
    char *buf = malloc(cap);
    assert_non_null(buf);
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    int ok = 0, bad = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, full_file, base);
        size_t len = mutate(buf, base, cap, &rng);
        struct scn s;
        struct scn_error e;
        if (scn_parse("m.scn", buf, len, &s, &e) == 0) {
            ok++;
            assert_true(s.nstmts >= 0 && s.nstmts <= SCN_MAX_STMTS);
            scn_free(&s);
            continue;
        }
        bad++;
        assert_true(e.line >= 1);
        assert_true(e.col >= 1);
        assert_true(strncmp(e.msg, "m.scn:", 6) == 0);
        assert_non_null(strstr(e.msg, ": expected "));
        assert_non_null(strstr(e.msg, ", found "));
        assert_null(s.arena);
    }
    assert_true(ok > 0 && bad > 0);  /* the loop explored both sides */
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_spec_example_statements),
        cmocka_unit_test(test_every_event_name),
        cmocka_unit_test(test_times_resolved),
        cmocka_unit_test(test_on_trigger),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_every_action),
        cmocka_unit_test(test_every_assertion),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_parse_file),
        cmocka_unit_test(test_mutations_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
