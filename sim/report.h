/*
 * report.h — failure and swarm reports (SPEC §3 `syncsim report`, issue 6).
 *
 * A report is built from trace lines only (trace.h: "t=S.mmm ACTOR text"),
 * so it needs no hook into the world: feed every line of a run to a
 * timeline (rpt_tl_line, or rpt_tl_sink as a trace sink, or rpt_tl_read
 * on a trace file), then render it. The timeline turns lines into lanes
 * (one per device, one for the server), lock-held spans by kind, runs and
 * their phases, messages (device → server → device, lost ones marked),
 * crashes, restarts, fault windows and the failing step.
 *
 * Every page is one self-contained HTML file: inline CSS and SVG, a few
 * lines of inline script (optional: the page reads fine without it), no
 * external asset, so it works offline and as a CI artifact.
 *
 * Message matching is by order per device (the trace names no request id
 * on the server side): with delay faults that reorder messages an arrow
 * may join a request to the wrong answer; the page says so.
 */
#ifndef SYNCSIM_REPORT_H
#define SYNCSIM_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define RPT_MAX_LANES 16           /* device lanes (the server has its own) */
#define RPT_TAIL_LINES 400         /* trace lines kept for the page */
#define RPT_WINDOW_TIMES 700       /* distinct instants drawn in the timeline */

/* A whole file as a NUL-terminated string (malloc'd), refused past about
 * max bytes; NULL with err set when it cannot be read. */
char *rpt_read_file(const char *path, size_t max, char *err, size_t errlen);

struct rpt_timeline;

/* A new, empty timeline (NULL: out of memory). */
struct rpt_timeline *rpt_tl_new(void);
void rpt_tl_free(struct rpt_timeline *tl);
/* One trace line, "t=S.mmm ACTOR text" (no newline needed). */
void rpt_tl_line(struct rpt_timeline *tl, const char *line);
/* Adapter for struct trace's sink: arg is the timeline. */
void rpt_tl_sink(void *arg, int64_t t, const char *line);
/* Every line of a trace file (from the current position). */
void rpt_tl_read(struct rpt_timeline *tl, FILE *f);
/* Marks the failing step by hand (a scenario expectation, say) when the
 * trace has no VIOLATION line; t < 0: the last instant of the trace. */
void rpt_tl_set_failure(struct rpt_timeline *tl, int64_t t, const char *text);
/* Facts for tests and the CLI. */
int rpt_tl_lanes(const struct rpt_timeline *tl);
const char *rpt_tl_lane_name(const struct rpt_timeline *tl, int lane);
bool rpt_tl_failed(const struct rpt_timeline *tl, int64_t *t, const char **text);
int64_t rpt_tl_end(const struct rpt_timeline *tl);

/* What a failure page says besides the timeline. Strings may be NULL. */
struct rpt_failure {
    const char *title;           /* "seed 0x…" or the scenario's name */
    bool failed;                 /* false: a passing run (the page says so) */
    const char *invariant;       /* "INV-MUTEX", "EXPECT", "ORACLE", … */
    const char *message;         /* the checker's or the runner's words */
    const char *repro;           /* one-line command */
    const char *replay;          /* the command that prints the full trace */
    const char *scenario;        /* scenario text (the shrunk one, ideally) */
    const char *scenario_note;   /* what that scenario is ("shrunk from …") */
    uint64_t seed, hash, events;
    int64_t sim_ms;
    const char *extra;           /* free text (run facts, fault profile) */
};

/* SPEC §2 text of an invariant id (also ORACLE, EXPECT, WIRE, LIMIT, …);
 * never NULL. */
const char *rpt_invariant_text(const char *id);
/* The id of "INV-X at step …", "…: after line 3: INV-X …" (into buf). */
const char *rpt_invariant_of(const char *message, char *buf, size_t n);

/* Writes the failure page to path. 0, or -1 with err. */
int rpt_write_failure(const char *path, const struct rpt_failure *f,
                      const struct rpt_timeline *tl, char *err, size_t errlen);
/* The JSON summary for CI bots: seed, invariant, message, repro, report. */
int rpt_write_failure_json(const char *path, const struct rpt_failure *f,
                           const char *html_path, char *err, size_t errlen);

/* Renders DIR/swarm.json into DIR/swarm.html and DIR/swarm-summary.json.
 * links[i] (may be NULL) names a failure page per failure, in file order.
 * 0, or -1 with err. */
struct rpt_swarm_failure {
    uint64_t seed;
    char invariant[48];
    char message[1024];
    char repro[512];
    char page[512];              /* failure page (relative), "" if none */
};
struct rpt_swarm {
    long seeds, failed;
    uint64_t from;
    double wall_s, seeds_per_sec, sim_wall_ratio, budget_s;
    char fault_names[32][32];
    long fault_counts[32];
    int nfaults;
    char check_names[32][32];
    unsigned long long check_counts[32];
    int nchecks;                 /* 0: swarm.json has no "checks" */
    /* coordinator coverage: state × request kind ("coverage" in swarm.json) */
    char cov_states[16][24];
    int ncov_states;
    char cov_kinds[8][16];
    int ncov_kinds;
    long cov[16][8];
    bool has_cov;
    struct rpt_swarm_failure *fail;
    int nfail;
};
/* Reads DIR/swarm.json. 0, or -1 with err. Free with rpt_swarm_free. */
int rpt_swarm_read(const char *dir, struct rpt_swarm *s, char *err, size_t errlen);
void rpt_swarm_free(struct rpt_swarm *s);
int rpt_swarm_write(const char *dir, const struct rpt_swarm *s, char *err, size_t errlen);

/* Coordinator coverage (issue 6): for each state a request met (idle,
 * held by each kind, gate closed, cooldown, offline, logged out) × request
 * kind, how many requests the trace shows. Feed every trace line of every
 * run (rpt_cov_reset between runs: devices restart from scratch). */
#define RPT_COV_STATES 10
extern const char *const rpt_cov_state_names[RPT_COV_STATES];
struct rpt_cov_dev {
    char name[64];
    int held;                    /* kind index, -1 free */
    bool initial_done;
    int64_t cooldown_until;
};
struct rpt_cov {
    long count[RPT_COV_STATES][5];
    struct rpt_cov_dev dev[RPT_MAX_LANES];
    int ndev;
};
void rpt_cov_reset(struct rpt_cov *c);
void rpt_cov_line(struct rpt_cov *c, const char *line);
void rpt_cov_into(const struct rpt_cov *c, struct rpt_swarm *sw);

/* HTML/JSON escaping helpers (shared with the CLI). */
void rpt_html_escaped(FILE *f, const char *s);
void rpt_json_escaped(FILE *f, const char *s);

#endif
