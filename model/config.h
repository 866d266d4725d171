/*
 * config.h — every tunable constant of SPEC, in one place, under its SPEC
 * name, overridable at run time (`config key=value` in scenarios, flags on
 * the CLI).
 */
#ifndef SYNCSIM_CONFIG_H
#define SYNCSIM_CONFIG_H

#include "types.h"

#define COORD_COOLDOWN_MS 5000            /* COORD-5 */
#define COORD_LOCK_TIMEOUT_MS 300000      /* COORD-6 */
#define OUT_DEBOUNCE_MS 500               /* OUT-4 */
#define OUT_PUSH_BATCH 100                /* OUT-1 */
#define OUT_MAX_RETRIES 5                 /* OUT-3 */
#define OUT_BACKGROUND_INTERVAL_MS 900000 /* OUT-5 */
#define RUN_PULL_PAGE 500                 /* RUN-2, INIT-1 */
#define RUN_REQUEST_TIMEOUT_MS 30000      /* RUN-6 */
#define RUN_BACKOFF_BASE_MS 1000          /* RUN-4: 1, 2, 4, 8, 16 s */
#define RUN_BACKOFF_CAP_MS 16000
#define RUN_JITTER_PCT 20
#define RUN_BREAKER_THRESHOLD 5           /* RUN-5 */
#define RUN_BREAKER_OPEN_MS 30000
#define ORCH_TIMEOUT_MS 600000            /* ORCH-4 */
#define ORCH_ERP_DELAY_MS 30000
#define SIM_QUIESCE_LIMIT_MS 3600000      /* §4 quiesce */

enum clock_mode { CLOCK_WALL = 0, CLOCK_HLC };

struct config {
    int64_t cooldown_ms;
    int64_t lock_timeout_ms;
    int64_t debounce_ms;
    int push_batch;
    int max_retries;
    int64_t background_interval_ms;
    int pull_page;
    int64_t request_timeout_ms;
    int64_t backoff_base_ms;
    int64_t backoff_cap_ms;
    int jitter_pct;
    int breaker_threshold;
    int64_t breaker_open_ms;
    int64_t initial_retry_ms[3];  /* INIT-3: 2 s, 5 s, 15 s */
    enum clock_mode clock;        /* CONF-4 */
    int64_t orch_timeout_ms;
    int64_t erp_delay_ms;
    int64_t quiesce_limit_ms;
};

/* The SPEC defaults. */
void config_default(struct config *c);

/* Set one constant by its SPEC name ("cooldown", "lock_timeout", "debounce",
 * "push_batch", "pull_page", "max_retries", "request_timeout",
 * "background_interval", "breaker_threshold", "breaker_open", "clock",
 * "orch_timeout", "erp_delay", "quiesce_limit", ...). Durations take the
 * scenario syntax (250ms, 5s, 1.5s, 5m, 1h, 1m30s). Returns 0, or -1 with a
 * message in err naming what was expected. */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);

/* One "key=value" (the CLI's --config, the live processes' --config). 0, or
 * -1 with a message in err. */
int config_set_kv(struct config *c, const char *kv, char *err, size_t errlen);

/* Parse a duration of SPEC §4 into ms. Returns 0 or -1 (then *end_ok is
 * unchanged). Accepts "0" as zero. */
int duration_parse(const char *s, int64_t *ms);

/* Names accepted by config_set, NULL-terminated (for README and errors). */
extern const char *const config_keys[];

#endif
