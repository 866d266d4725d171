/*
 * report_tl.h — the timeline's data (report.h), shared by report.c (which
 * builds it from trace lines) and report_html.c (which draws it). Not for
 * other modules: they use report.h.
 */
#ifndef SYNCSIM_REPORT_TL_H
#define SYNCSIM_REPORT_TL_H

#include "report.h"

#define RPT_SERVER (-1)            /* lane of the server */
#define RPT_WORLD (-2)             /* world-wide marks (quiesce, heal all) */
#define RPT_PENDING_MAX 64         /* messages in flight per device */

enum rpt_span_kind {
    SPAN_LOCK = 0,                 /* lock held; sub = sync kind index */
    SPAN_RUN,                      /* a sync run; sub = kind */
    SPAN_PHASE,                    /* sub: PH_* */
    SPAN_FAULT                     /* sub: FW_* */
};
enum { PH_INITIAL = 0, PH_PUSH, PH_PULL };
enum { FW_PARTITION = 0, FW_OFFLINE, FW_DOWN, FW_QUIESCE };

struct rpt_span {
    int lane;                      /* device index, RPT_SERVER or RPT_WORLD */
    int64_t t0, t1;                /* t1 < 0: still open */
    enum rpt_span_kind kind;
    int sub;
    char label[96];                /* tooltip */
    bool cut;                      /* ended by a crash or a force-release */
};

struct rpt_msg {
    int dev;
    bool to_server;
    int64_t t0, t1;                /* t1 < 0: never arrived */
    bool lost;                     /* lost in the network or dropped */
    int status;                    /* responses */
    char label[64];
};

struct rpt_mark {
    int lane;
    int64_t t;
    char sym;                      /* X crash, S start, R restart, W write, T trigger,
                                      F force-release, C stale-clear, V violation,
                                      Q queued, J rejected, E event, A action */
    char text[200];
};

struct rpt_dev_state {
    int lock, run, phase;          /* open span indexes, -1 */
    int partition, offline;
    int sends[RPT_PENDING_MAX];    /* requests in flight (msg indexes) */
    int nsends;
    int resps[RPT_PENDING_MAX];    /* responses in flight */
    int nresps;
    int last_send, last_resp;      /* for "net … lost" right after */
};

struct rpt_timeline {
    char lanes[RPT_MAX_LANES][64];
    int nlanes;
    struct rpt_dev_state st[RPT_MAX_LANES];
    int server_down, quiesce;      /* open spans, -1 */
    struct rpt_span *spans;
    int nspans, cspans;
    struct rpt_msg *msgs;
    int nmsgs, cmsgs;
    struct rpt_mark *marks;
    int nmarks, cmarks;
    int64_t t_end;
    uint64_t lines;
    bool failed;
    int64_t fail_t;
    int fail_lane;
    char fail_text[512];
    char header[256];              /* the world's first line */
    char (*tail)[512];             /* last RPT_TAIL_LINES lines, ring */
    uint64_t fail_line;            /* line number of the VIOLATION (1-based) */
};

/* Sync kinds in the order of kind_name (enum sync_kind). */
extern const char *const rpt_kinds[5];
int rpt_kind_index(const char *name);

#endif
