/*
 * test_config.c — SPEC constants and their overrides (§4 `config`), the
 * duration syntax of §4, and the shared vocabulary: kinds and priorities
 * (COORD-1, COORD-2), strategies (§1.6), default tables (§1.1) and events
 * (§1.8).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "event.h"

static void test_defaults_match_spec(void **state)
{
    (void)state;
    struct config c;
    config_default(&c);
    assert_int_equal(c.cooldown_ms, 5000);            /* COORD-5 */
    assert_int_equal(c.lock_timeout_ms, 300000);      /* COORD-6 */
    assert_int_equal(c.debounce_ms, 500);             /* OUT-4 */
    assert_int_equal(c.push_batch, 100);              /* OUT-1 */
    assert_int_equal(c.max_retries, 5);               /* OUT-3 */
    assert_int_equal(c.background_interval_ms, 900000); /* OUT-5 */
    assert_int_equal(c.pull_page, 500);               /* RUN-2 */
    assert_int_equal(c.request_timeout_ms, 30000);    /* RUN-6 */
    assert_int_equal(c.backoff_base_ms, 1000);        /* RUN-4 */
    assert_int_equal(c.backoff_cap_ms, 16000);
    assert_int_equal(c.jitter_pct, 20);
    assert_int_equal(c.breaker_threshold, 5);         /* RUN-5 */
    assert_int_equal(c.breaker_open_ms, 30000);
    assert_int_equal(c.initial_retry_ms[0], 2000);    /* INIT-3 */
    assert_int_equal(c.initial_retry_ms[1], 5000);
    assert_int_equal(c.initial_retry_ms[2], 15000);
    assert_int_equal(c.clock, CLOCK_WALL);            /* CONF-4 */
    assert_int_equal(c.orch_timeout_ms, 600000);      /* ORCH-4 */
    assert_int_equal(c.erp_delay_ms, 30000);
    assert_int_equal(c.quiesce_limit_ms, 3600000);
}

/* SPEC §4: 250ms, 5s, 1.5s, 5m, 1h, 1m30s. */
static void test_duration_valid(void **state)
{
    (void)state;
    static const struct { const char *s; int64_t ms; } ok[] = {
        { "250ms", 250 }, { "5s", 5000 }, { "1.5s", 1500 }, { "5m", 300000 },
        { "1h", 3600000 }, { "1m30s", 90000 }, { "0", 0 }, { "0s", 0 },
        { "0ms", 0 }, { "1h2m3s4ms", 3723004 }, { "0.25s", 250 }, { "1.5m", 90000 },
        { "2h30m", 9000000 }, { "1.001s", 1001 }, { "007s", 7000 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -1;
        if (duration_parse(ok[i].s, &ms) != 0)
            fail_msg("'%s' refused", ok[i].s);
        assert_int_equal(ms, ok[i].ms);
    }
}

static void test_duration_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "x", "5", "-5s", "+5s", "5 s", " 5s", "5s ", "5sec", "s", "ms", "5S",
        "1.5ms",        /* not a whole millisecond */
        "1.0001s",      /* idem */
        "30s1m",        /* units largest first */
        "1m1m", "1s500", "1.s", ".5s", "1..5s", "5s,", "5d",
        "99999999999999h", "1000000h",  /* overflow / past the bound */
        "0x10s", "1e3ms",
        "100000000000000000000000000000000000000000000000000000000000000000ms",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 777;
        if (duration_parse(bad[i], &ms) == 0)
            fail_msg("'%s' accepted as %lld", bad[i], (long long)ms);
        assert_int_equal(ms, 777);  /* unchanged on failure */
    }
    int64_t ms = 777;
    assert_int_equal(duration_parse(NULL, &ms), -1);
}

static void test_config_set_each_kind(void **state)
{
    (void)state;
    struct config c;
    char err[160];
    config_default(&c);
    assert_int_equal(config_set(&c, "cooldown", "1m30s", err, sizeof err), 0);
    assert_int_equal(c.cooldown_ms, 90000);
    assert_int_equal(config_set(&c, "lock_timeout", "5m", err, sizeof err), 0);
    assert_int_equal(c.lock_timeout_ms, 300000);
    assert_int_equal(config_set(&c, "debounce", "0", err, sizeof err), 0);
    assert_int_equal(c.debounce_ms, 0);
    assert_int_equal(config_set(&c, "push_batch", "1000", err, sizeof err), 0);
    assert_int_equal(c.push_batch, 1000);
    assert_int_equal(config_set(&c, "pull_page", "7", err, sizeof err), 0);
    assert_int_equal(c.pull_page, 7);
    assert_int_equal(config_set(&c, "jitter_pct", "0", err, sizeof err), 0);
    assert_int_equal(c.jitter_pct, 0);
    assert_int_equal(config_set(&c, "clock", "hlc", err, sizeof err), 0);
    assert_int_equal(c.clock, CLOCK_HLC);
    assert_int_equal(config_set(&c, "clock", "wall", err, sizeof err), 0);
    assert_int_equal(c.clock, CLOCK_WALL);
    assert_int_equal(config_set(&c, "initial_retry", "1s,250ms,1m", err, sizeof err), 0);
    assert_int_equal(c.initial_retry_ms[0], 1000);
    assert_int_equal(c.initial_retry_ms[1], 250);
    assert_int_equal(c.initial_retry_ms[2], 60000);
    assert_int_equal(config_set(&c, "quiesce_limit", "2h", err, sizeof err), 0);
    assert_int_equal(c.quiesce_limit_ms, 7200000);
}

/* A refused value names what was expected and leaves the config as it was. */
static void expect_refused(const char *key, const char *value, const char *needle)
{
    struct config c, before;
    char err[160] = "";
    config_default(&c);
    before = c;
    if (config_set(&c, key, value, err, sizeof err) != -1)
        fail_msg("%s=%s accepted", key, value);
    if (strstr(err, needle) == NULL)
        fail_msg("%s=%s: error '%s' lacks '%s'", key, value, err, needle);
    assert_memory_equal(&c, &before, sizeof c);
}

static void test_config_set_errors(void **state)
{
    (void)state;
    expect_refused("cooldown", "x", "expected a duration like 5s, found 'x'");
    expect_refused("cooldown", "-5s", "found '-5s'");
    expect_refused("lock_timeout", "0", "expected a positive duration");
    expect_refused("push_batch", "0", "expected a whole number from 1 to 1000");
    expect_refused("push_batch", "1001", "found '1001'");  /* SRV-4 limit */
    expect_refused("pull_page", "1001", "expected");
    expect_refused("pull_page", "5x", "found '5x'");
    expect_refused("max_retries", "-1", "found '-1'");
    expect_refused("max_retries", "99999999999999999999", "expected");
    expect_refused("jitter_pct", "101", "from 0 to 100");
    expect_refused("clock", "ntp", "expected wall or hlc, found 'ntp'");
    expect_refused("initial_retry", "2s,5s", "expected three durations");
    expect_refused("initial_retry", "2s,5s,15s,30s", "expected three durations");
    expect_refused("initial_retry", "2s,,15s", "expected three durations");
    expect_refused("initial_retry", "2s,0,15s", "expected three durations");
    expect_refused("nonsense", "1", "found 'nonsense'");
    expect_refused("", "1", "expected a config key");
}

/* Every name in config_keys is a key config_set knows (and vice versa for
 * the keys the SPEC names). */
static void test_config_keys_all_known(void **state)
{
    (void)state;
    static const char *const spec[] = {
        "cooldown", "lock_timeout", "debounce", "push_batch", "pull_page",
        "max_retries", "request_timeout", "background_interval", "backoff_base",
        "backoff_cap", "jitter_pct", "breaker_threshold", "breaker_open",
        "initial_retry", "clock", "orch_timeout", "erp_delay", "quiesce_limit",
    };
    int n = 0;
    for (; config_keys[n] != NULL; n++) {
        struct config c;
        char err[160] = "";
        config_default(&c);
        assert_int_equal(config_set(&c, config_keys[n], "?", err, sizeof err), -1);
        if (strstr(err, "config key") != NULL)
            fail_msg("config_keys lists '%s' but config_set does not know it", config_keys[n]);
    }
    assert_int_equal(n, (int)(sizeof spec / sizeof spec[0]));
    for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
        int found = 0;
        for (int k = 0; k < n; k++)
            found |= strcmp(spec[i], config_keys[k]) == 0;
        assert_true(found);
    }
}

/* ---- shared vocabulary (types.h) ---- */

static void test_kinds_coord1_coord2(void **state)
{
    (void)state;
    static const char *const names[] = { "initial", "manual", "background",
                                         "repository", "master" };
    for (int k = 0; k < KIND_COUNT; k++) {
        enum sync_kind out = KIND_COUNT;
        assert_string_equal(kind_name((enum sync_kind)k), names[k]);
        assert_int_equal(kind_parse(names[k], &out), 0);
        assert_int_equal(out, k);
    }
    enum sync_kind out;
    assert_int_equal(kind_parse("Manual", &out), -1);
    assert_int_equal(kind_parse("", &out), -1);
    /* COORD-2: manual > repository > master > background > initial */
    assert_true(kind_priority(KIND_MANUAL) > kind_priority(KIND_REPOSITORY));
    assert_true(kind_priority(KIND_REPOSITORY) > kind_priority(KIND_MASTER));
    assert_true(kind_priority(KIND_MASTER) > kind_priority(KIND_BACKGROUND));
    assert_true(kind_priority(KIND_BACKGROUND) > kind_priority(KIND_INITIAL));
}

static void test_strategies_and_tables(void **state)
{
    (void)state;
    static const char *const names[] = { "lww", "local", "remote", "merge", "manual" };
    for (int s = 0; s < 5; s++) {
        enum strategy out;
        assert_string_equal(strategy_name((enum strategy)s), names[s]);
        assert_int_equal(strategy_parse(names[s], &out), 0);
        assert_int_equal(out, s);
    }
    enum strategy out;
    assert_int_equal(strategy_parse("LWW", &out), -1);
    struct table_decl t[MAX_TABLES];
    assert_int_equal(table_defaults(t, MAX_TABLES), 4);  /* §1.1, in this order */
    assert_string_equal(t[0].name, "customers");
    assert_false(t[0].read_only);
    assert_string_equal(t[1].name, "orders");
    assert_false(t[1].read_only);
    assert_string_equal(t[2].name, "products");
    assert_true(t[2].read_only);
    assert_string_equal(t[3].name, "prices");
    assert_true(t[3].read_only);
    for (int i = 0; i < 4; i++)
        assert_int_equal(t[i].strategy, STRAT_LWW);
    assert_int_equal(table_defaults(t, 3), -1);
}

/* ---- events (§1.8) ---- */

static void test_event_names_s1_8(void **state)
{
    (void)state;
    static const char *const spec[] = {
        "lock.acquired", "lock.released", "lock.queued", "lock.rejected",
        "lock.force_released", "lock.stale_cleared", "sync.started", "sync.fenced",
        "sync.push_sent", "sync.push_acked", "sync.pull_page", "sync.completed",
        "sync.failed", "initial.page", "initial.table_done", "initial.completed",
        "initial.retry", "initial.gave_up", "outbox.deadlettered", "conflict.detected",
        "conflict.resolved", "auth.login_refused", "app.write_refused", "breaker.opened",
        "breaker.half_open", "breaker.closed", "auth.logged_out", "toast", "status",
        "orch.status", "orch.health",
    };
    int n = 0;
    while (ev_known_names[n] != NULL)
        n++;
    assert_int_equal(n, (int)(sizeof spec / sizeof spec[0]));
    for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++)
        assert_true(ev_name_known(spec[i]));
    assert_false(ev_name_known("lock.acquire"));
    assert_false(ev_name_known(""));
}

static void test_event_fields_and_format(void **state)
{
    (void)state;
    struct event e, want;
    char buf[256];
    ev_init(&e, "lock.released");
    ev_str(&e, "kind", "manual");
    ev_int(&e, "held_ms", -12);
    assert_string_equal(ev_get(&e, "held_ms"), "-12");
    assert_null(ev_get(&e, "nope"));
    assert_int_equal(ev_format(&e, buf, sizeof buf), strlen("lock.released kind=manual held_ms=-12"));
    assert_string_equal(buf, "lock.released kind=manual held_ms=-12");
    /* quoting: spaces and quotes, with \" and \\ escaped */
    ev_init(&e, "toast");
    ev_str(&e, "text", "say \"hi\" \\ bye");
    ev_format(&e, buf, sizeof buf);
    assert_string_equal(buf, "toast text=\"say \\\"hi\\\" \\\\ bye\"");
    /* truncation: n - 1 bytes and a terminator */
    char small[6];
    assert_int_equal(ev_format(&e, small, sizeof small), 5);
    assert_string_equal(small, "toast");
    /* matching by name and a subset of fields */
    ev_init(&e, "lock.rejected");
    ev_str(&e, "kind", "manual");
    ev_str(&e, "reason", "cooldown");
    ev_init(&want, "lock.rejected");
    assert_true(ev_matches(&e, &want));
    ev_str(&want, "reason", "cooldown");
    assert_true(ev_matches(&e, &want));
    ev_str(&want, "reason", "gate");  /* same key: replaced, not added */
    assert_int_equal(want.n, 1);
    assert_false(ev_matches(&e, &want));
    ev_init(&want, "lock.queued");
    assert_false(ev_matches(&e, &want));
    /* values truncate at EV_VAL_MAX */
    char longv[EV_VAL_MAX + 20];
    memset(longv, 'v', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    ev_str(&e, "text", longv);
    assert_int_equal(strlen(ev_get(&e, "text")), EV_VAL_MAX);
    /* integers are written in decimal, both ends of int64 included */
    ev_init(&e, "x");
    ev_int(&e, "a", 0);
    ev_int(&e, "b", INT64_MIN);
    ev_int(&e, "c", INT64_MAX);
    ev_int(&e, "d", 1000);
    assert_string_equal(ev_get(&e, "a"), "0");
    assert_string_equal(ev_get(&e, "b"), "-9223372036854775808");
    assert_string_equal(ev_get(&e, "c"), "9223372036854775807");
    assert_string_equal(ev_get(&e, "d"), "1000");
}

static void test_str_copy_truncates_and_terminates(void **state)
{
    (void)state;
    char buf[6] = "zzzzz";
    str_copy(buf, sizeof buf, "abc");
    assert_string_equal(buf, "abc");
    str_copy(buf, sizeof buf, "abcdefgh");
    assert_string_equal(buf, "abcde");
    str_copy(buf, sizeof buf, NULL);
    assert_string_equal(buf, "");
    str_copy(buf, 1, "abc");
    assert_string_equal(buf, "");
    buf[0] = 'q';
    str_copy(buf, 0, "abc");   /* nothing written */
    assert_int_equal(buf[0], 'q');
    str_copy(buf, sizeof buf, "hello");
    str_copy(buf, sizeof buf, buf + 2);   /* overlapping */
    assert_string_equal(buf, "llo");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_spec),
        cmocka_unit_test(test_duration_valid),
        cmocka_unit_test(test_duration_invalid),
        cmocka_unit_test(test_config_set_each_kind),
        cmocka_unit_test(test_config_set_errors),
        cmocka_unit_test(test_config_keys_all_known),
        cmocka_unit_test(test_kinds_coord1_coord2),
        cmocka_unit_test(test_strategies_and_tables),
        cmocka_unit_test(test_event_names_s1_8),
        cmocka_unit_test(test_event_fields_and_format),
        cmocka_unit_test(test_str_copy_truncates_and_terminates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
