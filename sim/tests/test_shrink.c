/*
 * test_shrink.c — `syncsim shrink` (issue 6, sim/shrink.h): failure
 * signatures (an `expect converged` before any quiesce is not
 * INV-CONVERGE), delta debugging of a planted failure down to the
 * statements it needs (same failure, deterministic, no text run twice,
 * tables without rows, fault keys raised then dropped), a seed turned into
 * a scenario that fails as the seed did and shrinks to a few statements,
 * and the errors (a passing input, a passing seed, another failure).
 *
 * The planted failures need no mutant: `config quiesce_limit=…` shorter
 * than any initial sync makes the liveness phase fail (INV-CONVERGE) on
 * the correct model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shrink.h"

/* A liveness failure buried in noise: 2 devices, rows, faults, writes. */
static const char planted[] =
    "scenario \"planted liveness failure\"\n"
    "seed 5\n"
    "device phone user alice\n"
    "device tablet user alice skew -30s\n"
    "table orders rw rows 300\n"
    "table customers rw rows 40 strategy merge\n"
    "config quiesce_limit=1ms\n"
    "faults loss=0.05 dup=0.02\n"
    "\n"
    "at 0s start phone\n"
    "at 0s start tablet\n"
    "at 0s login phone\n"
    "at 0s login tablet\n"
    "at 2s write phone orders o1 qty=1\n"
    "at 3s write tablet customers c1 name=ann status=new\n"
    "at 4s trigger phone manual\n"
    "at 5s write phone orders o2 qty=2 note=x\n"
    "after 1s write tablet orders o3 qty=3\n"
    "at 8s offline phone\n"
    "at 9s write phone customers c2 name=bob\n"
    "at 10s online phone\n"
    "at 11s trigger tablet background\n"
    "at 12s delete tablet orders o1\n"
    "at 13s write phone orders o4 qty=4\n"
    "at 14s requeue phone\n"
    "at 15s write tablet customers c3 name=cy\n"
    "at 20s quiesce\n"
    "expect converged\n";

static void test_signature_converged_needs_quiesce(void **state)
{
    (void)state;
    struct shrink_sig sig;
    char msg[256];
    /* right after login nothing is synced: not INV-CONVERGE, an expectation */
    const char *early = "device phone user alice\ntable orders rw rows 600\n"
                        "at 0s start phone\nat 0s login phone\nexpect converged\n";
    assert_int_equal(shrink_signature("early.scn", early, &sig, msg, sizeof msg), 0);
    assert_true(sig.failed);
    assert_string_equal(sig.kind, "expect");
    assert_string_not_equal(sig.id, "INV-CONVERGE");
    /* after a quiesce that cannot finish: the invariant */
    const char *late = "device phone user alice\ntable orders rw rows 600\nconfig quiesce_limit=1ms\n"
                       "at 0s start phone\nat 0s login phone\nquiesce\nexpect converged\n";
    assert_int_equal(shrink_signature("late.scn", late, &sig, msg, sizeof msg), 0);
    assert_true(sig.failed);
    assert_string_equal(sig.kind, "invariant");
    assert_string_equal(sig.id, "INV-CONVERGE");
    struct shrink_sig again = sig;
    assert_true(shrink_same(&sig, &again));
    snprintf(again.id, sizeof again.id, "INV-MUTEX");
    assert_false(shrink_same(&sig, &again));
    /* a parse error is -1 with where it stopped */
    assert_int_equal(shrink_signature("bad.scn", "at 0s start nobody\n", &sig, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "bad.scn:1:"));
}

static void test_shrink_planted(void **state)
{
    (void)state;
    struct shrink_sig sig, sig2;
    struct shrink_stats st, st2;
    char err[512], *out = NULL, *out2 = NULL;
    assert_int_equal(shrink_count_stmts(planted), 19);
    assert_int_equal(shrink_scenario("planted.scn", planted, NULL, &out, &sig, &st, err, sizeof err), 0);
    assert_non_null(out);
    assert_string_equal(sig.id, "INV-CONVERGE");
    /* start, login, quiesce: nothing else is needed for this failure */
    assert_int_equal(shrink_count_stmts(out), 3);
    assert_int_equal(st.stmts_before, 19);
    assert_int_equal(st.stmts_after, 3);
    assert_non_null(strstr(out, "quiesce"));
    assert_null(strstr(out, "tablet"));      /* the unused device went */
    assert_null(strstr(out, "rows"));        /* tables without their rows */
    assert_null(strstr(out, "faults"));      /* the fault profile went */
    assert_false(st.stopped);
    assert_true(st.cached > 0);              /* texts tried twice were not run twice */
    /* the result fails the same way */
    struct shrink_sig got;
    assert_int_equal(shrink_signature("min.scn", out, &got, NULL, 0), 0);
    assert_true(shrink_same(&got, &sig));
    /* deterministic */
    assert_int_equal(shrink_scenario("planted.scn", planted, NULL, &out2, &sig2, &st2, err, sizeof err), 0);
    assert_string_equal(out, out2);
    assert_int_equal(st.runs, st2.runs);
    free(out);
    free(out2);
}

static bool stop_now(void *arg)
{
    int *calls = arg;
    return ++*calls > 3;
}

static void test_shrink_budget_and_errors(void **state)
{
    (void)state;
    struct shrink_sig sig;
    struct shrink_stats st;
    char err[512], *out = NULL;
    /* the caller's stop ends it early with what it has, which still fails */
    int calls = 0;
    struct shrink_opts o = { .stop = stop_now, .stop_arg = &calls };
    assert_int_equal(shrink_scenario("planted.scn", planted, &o, &out, &sig, &st, err, sizeof err), 0);
    assert_true(st.stopped);
    struct shrink_sig got;
    assert_int_equal(shrink_signature("cut.scn", out, &got, NULL, 0), 0);
    assert_true(shrink_same(&got, &sig));
    free(out);
    /* a passing scenario: nothing to shrink */
    const char *pass = "device phone user alice\nat 0s start phone\nat 0s login phone\nquiesce\nexpect converged\n";
    assert_int_equal(shrink_scenario("pass.scn", pass, NULL, &out, &sig, &st, err, sizeof err), -1);
    assert_non_null(strstr(err, "passes"));
    /* another failure than the one asked for */
    struct shrink_sig want = { .failed = true };
    snprintf(want.kind, sizeof want.kind, "invariant");
    snprintf(want.id, sizeof want.id, "INV-MUTEX");
    struct shrink_opts ow = { .want = &want };
    assert_int_equal(shrink_scenario("planted.scn", planted, &ow, &out, &sig, &st, err, sizeof err), -1);
    assert_non_null(strstr(err, "not invariant INV-MUTEX"));
}

static void test_seed(void **state)
{
    (void)state;
    struct swarm_opts o;
    swarm_opts_default(&o);
    o.config[o.nconfig++] = "quiesce_limit=1s";   /* seed 7 then fails its liveness phase */
    char *text = NULL, err[512];
    struct shrink_sig want;
    int variant = -1;
    assert_int_equal(shrink_seed_pick(7, &o, NULL, &text, &want, &variant, err, sizeof err), 0);
    assert_non_null(text);
    assert_true(variant >= 0);
    assert_string_equal(want.kind, "invariant");
    assert_string_equal(want.id, "INV-CONVERGE");
    assert_non_null(strstr(text, "config quiesce_limit=1s"));
    struct shrink_sig got;
    assert_int_equal(shrink_signature("seed7.scn", text, &got, NULL, 0), 0);
    assert_true(shrink_same(&got, &want));
    /* and shrinks to a few statements that still fail that way */
    struct shrink_opts so = { .want = &want };
    struct shrink_sig sig;
    struct shrink_stats st;
    char *out = NULL;
    assert_int_equal(shrink_scenario("seed7.scn", text, &so, &out, &sig, &st, err, sizeof err), 0);
    assert_true(shrink_count_stmts(out) <= 12);
    assert_true(st.stmts_after < st.stmts_before);
    assert_int_equal(shrink_signature("seed7-min.scn", out, &got, NULL, 0), 0);
    assert_true(shrink_same(&got, &want));
    free(out);
    free(text);
    /* every variant parses, and names the seed */
    for (int v = 0; v < SHRINK_SEED_VARIANTS; v++) {
        assert_int_equal(shrink_seed_variant(7, &o, v, &text, NULL, err, sizeof err), 0);
        assert_true(shrink_count_stmts(text) > 0);
        assert_non_null(strstr(text, "seed 7\n"));
        free(text);
    }
    /* a passing seed has nothing to shrink */
    struct swarm_opts plain;
    swarm_opts_default(&plain);
    assert_int_equal(shrink_seed_pick(7, &plain, NULL, &text, &want, &variant, err, sizeof err), -1);
    assert_non_null(strstr(err, "passes"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_converged_needs_quiesce),
        cmocka_unit_test(test_shrink_planted),
        cmocka_unit_test(test_shrink_budget_and_errors),
        cmocka_unit_test(test_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
