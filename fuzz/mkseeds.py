#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/ (small, hand-made, one behaviour each).

The coordinator encoding (fuzz/coordinator.c): byte 0 mode (even: device,
odd: direct); device mode: byte 1 config, then ops, op byte % 20:
 0,1 trigger KIND(b%5) | 2 time +STEPS[b] | 3 next timer | 4,5 write b v |
 6 delete b | 7-9 answer ok | 10 answer error b | 11 weird b.. | 12 online b&1 |
 13 crash b | 14 login b&1 | 15 logout | 16 cancel-initial | 17 requeue |
 18 wall jump b | 19 resolve/migrate b
"""
import os, sys

here = os.path.dirname(os.path.abspath(__file__))

STEPS = [0, 1, 10, 100, 499, 500, 501, 999, 1000, 2000, 4999, 5000, 5001, 15000, 29999,
         30000, 30001, 60000, 299999, 300000, 300001, 600000, 899999, 900000, 900001, 3600000]
K = {"initial": 0, "manual": 1, "background": 2, "repository": 3, "master": 4}

def step(ms): return [2, STEPS.index(ms)]
def suspend(ms): return [2, 0x80 | STEPS.index(ms)]
def trig(k): return [0, K[k]]
def page(n=0, more=False): return [7, 0, (n % 4) | (4 if more else 0)] + [0x01] * n
def ok_pull(n=0, more=False): return [7, (n % 4) | (4 if more else 0)] + [0x04] * n
def ok_push_all(): return [7, 0]
def ok_push(outcomes): return [7, 1] + outcomes
def err(status):  # 500 503 429 401 400
    return [10, [500, 503, 429, 401, 400].index(status) | (5 << 3 if status == 429 else 0)]
def write(table=0, idn=0, v=1): return [4, table | (idn << 2), v]
LOGIN = [14, 0]
INITIAL = LOGIN + page() + page() + page()          # three tables, empty

def dev(*ops, cfg=0):
    out = [0, cfg]
    for o in ops: out += o
    return bytes(out)

seeds = {
    "login_initial_sync": dev(INITIAL),
    "cooldown_then_manual": dev(INITIAL, trig("manual"), step(4999), trig("manual"), step(1), [3], ok_pull()),
    "write_push_pull": dev(INITIAL, step(5000), write(), step(500), ok_push_all(), ok_pull()),
    "queued_behind_run": dev(INITIAL, step(5000), trig("manual"), trig("repository"), trig("manual"),
                             ok_pull(), ok_pull()),
    "stale_lock_forced": dev(INITIAL, step(5000), trig("manual"), suspend(300001), trig("manual"),
                             [11, 0], ok_pull(), [12, 0], trig("repository"), suspend(600000), [12, 1]),
    "crash_while_pushing": dev(INITIAL, step(5000), write(), write(1, 1), step(500), [13, 3],
                               step(5000), ok_push_all(), ok_pull()),
    "push_errors_deadletter": dev(INITIAL, step(5000), write(), step(500), err(500), [3], err(503),
                                  [3], err(429), [3], err(500), cfg=2),
    "push_mixed_outcomes": dev(INITIAL, step(5000), write(), write(1, 1), write(0, 2), step(500),
                               ok_push([0x00, 0x01 | 0x10, 0x03 | 0x08]), ok_pull(2)),
    "auth_401_logout": dev(INITIAL, step(5000), trig("manual"), err(401), LOGIN, page()),
    "offline_triggers": dev(INITIAL, step(5000), [12, 0], trig("manual"), trig("master"), step(60000),
                            [12, 1], ok_pull()),
    "initial_retry_give_up": dev(LOGIN, err(500), [3], err(500), [3], err(500), [3], err(500),
                                 trig("initial"), page(1, True), page()),
    "wall_jumps_cooldown": dev(INITIAL, [18, 0x80 | 19], trig("manual"), [3], [18, 11], trig("manual")),
    "logout_other_user": dev(INITIAL, step(5000), write(), [15], [14, 1], [14, 0], page(), page(), page()),
    "late_and_dup_answers": dev(INITIAL, step(5000), trig("manual"), step(30000), [11, 0], [11, 2],
                                trig("manual"), [11, 3], [11, 4, 5, 1, 2, 3, 4, 5]),
    "migrate_and_resolve": dev(INITIAL, step(5000), write(1, 1), step(500),
                               ok_push([0x02 | 0x10 | 0x20]), ok_pull(), [19, 0x21], [19, 0], page()),
    "periodic_job": dev(INITIAL, step(900000), ok_pull(), step(900000)),
    "direct_table": bytes([1, 2, 0, 1, 0, 2, 3, 2, 5, 19, 0, 1, 12, 5, 20, 0, 1, 7, 0, 1, 7, 9, 0, 2,
                           5, 11, 2, 8, 0, 3, 2, 8, 2, 13, 1, 0, 1, 6, 0x93, 0, 1]),
    "direct_cooldown_cap": bytes([1, 0, 9, 6, 0x80 | 11, 0, 1, 5, 10, 0, 1, 5, 1, 0, 1, 13, 2, 0, 1]),
}

def main():
    d = os.path.join(here, "corpus", "coordinator")
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} coordinator seeds in {d}")

if __name__ == "__main__":
    main()
