/*
 * report_html.c — the failure page (report.h): one self-contained HTML file
 * with the violated invariant and its SPEC text, the repro command, the
 * scenario, an overview strip and an SVG timeline of the run's last
 * RPT_WINDOW_TIMES instants before the failure.
 *
 * The timeline's time axis is compressed: every instant at which something
 * happened gets a column, and the gap to the next one is drawn with a width
 * that grows with the log of its length (10 ms ≈ 15 px, 1 min ≈ 50 px), so a
 * burst of milliseconds and an idle quarter of an hour both stay readable.
 * Tick labels give the simulated time.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_tl.h"
#include "types.h"

#define LANE_H 92
#define SRV_H 64
#define TOP 34
#define LEFT 96
#define OVERVIEW_W 1240

static const char *const kind_colors[5] = { "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#e15759" };
static const char *const phase_colors[3] = { "#76b7b2", "#edc948", "#9c755f" };
static const char *const phase_names[3] = { "initial pages", "push", "pull" };

struct xmap {
    int64_t *t;                 /* distinct instants in the window, sorted */
    double *x;
    int n;
    int64_t ws, we;             /* window */
    double width;
};

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double gap_w(int64_t g)
{
    if (g <= 0) return 0;
    double w = 6 + 9 * log10(1 + (double)g);
    return w > 60 ? 60 : w;
}

static double xat(const struct xmap *m, int64_t t)
{
    if (m->n == 0) return LEFT;
    if (t <= m->t[0]) return m->x[0];
    if (t >= m->t[m->n - 1]) return m->x[m->n - 1];
    int lo = 0, hi = m->n - 1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (m->t[mid] <= t) lo = mid; else hi = mid;
    }
    double f = (double)(t - m->t[lo]) / (double)(m->t[hi] - m->t[lo]);
    return m->x[lo] + f * (m->x[hi] - m->x[lo]);
}

static void add_t(int64_t *v, int *n, int cap, int64_t t)
{
    if (t >= 0 && *n < cap) v[(*n)++] = t;
}

/* Builds the compressed axis over the last RPT_WINDOW_TIMES instants up to
 * the failure (or the end). */
static int xmap_build(const struct rpt_timeline *tl, struct xmap *m)
{
    memset(m, 0, sizeof *m);
    int cap = 2 * tl->nspans + 2 * tl->nmsgs + tl->nmarks + 2, n = 0;
    int64_t *all = malloc((size_t)cap * sizeof *all);
    if (!all) return -1;
    int64_t end = tl->failed ? tl->fail_t : tl->t_end;
    for (int i = 0; i < tl->nspans; i++) { add_t(all, &n, cap, tl->spans[i].t0); add_t(all, &n, cap, tl->spans[i].t1); }
    for (int i = 0; i < tl->nmsgs; i++) { add_t(all, &n, cap, tl->msgs[i].t0); add_t(all, &n, cap, tl->msgs[i].t1); }
    for (int i = 0; i < tl->nmarks; i++) add_t(all, &n, cap, tl->marks[i].t);
    add_t(all, &n, cap, end);
    qsort(all, (size_t)n, sizeof *all, cmp64);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (all[i] <= end && (k == 0 || all[k - 1] != all[i])) all[k++] = all[i];
    int first = k > RPT_WINDOW_TIMES ? k - RPT_WINDOW_TIMES : 0;
    m->n = k - first;
    m->t = malloc((size_t)(m->n + 1) * sizeof *m->t);
    m->x = malloc((size_t)(m->n + 1) * sizeof *m->x);
    if (!m->t || !m->x) { free(all); free(m->t); free(m->x); return -1; }
    for (int i = 0; i < m->n; i++) m->t[i] = all[first + i];
    free(all);
    double x = LEFT + 10;
    for (int i = 0; i < m->n; i++) {
        if (i > 0) x += gap_w(m->t[i] - m->t[i - 1]);
        m->x[i] = x;
    }
    m->ws = m->n ? m->t[0] : 0;
    m->we = m->n ? m->t[m->n - 1] : 0;
    m->width = x + 140;
    return 0;
}

static void fmt_t(char *buf, size_t n, int64_t t)
{
    if (t >= 60000) snprintf(buf, n, "%lld:%02lld.%03llds", (long long)(t / 60000), (long long)(t / 1000 % 60), (long long)(t % 1000));
    else snprintf(buf, n, "%lld.%03llds", (long long)(t / 1000), (long long)(t % 1000));
}

static double lane_y(const struct rpt_timeline *tl, int lane)
{
    if (lane >= 0) return TOP + lane * LANE_H;
    return TOP + tl->nlanes * LANE_H;   /* server (and world marks) */
}

static double total_h(const struct rpt_timeline *tl) { return TOP + tl->nlanes * LANE_H + SRV_H + 10; }

static void title(FILE *f, const char *text)
{
    fputs("<title>", f);
    rpt_html_escaped(f, text);
    fputs("</title>", f);
}

static void draw_lanes(FILE *f, const struct rpt_timeline *tl, const struct xmap *m)
{
    for (int i = 0; i <= tl->nlanes; i++) {
        bool srv = i == tl->nlanes;
        double y = srv ? lane_y(tl, RPT_SERVER) : lane_y(tl, i);
        fprintf(f, "<rect x=\"0\" y=\"%.0f\" width=\"%.0f\" height=\"%d\" class=\"%s\"/>\n", y, m->width,
                srv ? SRV_H : LANE_H, srv ? "lsrv" : i % 2 ? "lodd" : "leven");
        /* labels repeat so a scrolled timeline still names its lanes */
        for (double x = 4; x < m->width; x += 1400) {
            fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"lname\">", x, y + 20);
            rpt_html_escaped(f, srv ? "server" : tl->lanes[i]);
            fputs("</text>\n", f);
            if (!srv) fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"lsub\">lock · run · events</text>\n", x, y + 34);
        }
    }
}

static void draw_axis(FILE *f, const struct xmap *m, double h)
{
    double last = -1000;
    char b[32];
    for (int i = 0; i < m->n; i++) {
        if (m->x[i] - last < 95) continue;
        last = m->x[i];
        fmt_t(b, sizeof b, m->t[i]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\" class=\"tick\"/>"
                   "<text x=\"%.1f\" y=\"%d\" class=\"tlabel\">%s</text>\n",
                m->x[i], TOP - 6, m->x[i], h, m->x[i] + 2, TOP - 10, b);
    }
}

static bool visible(const struct xmap *m, int64_t t0, int64_t t1)
{
    if (t1 < 0) t1 = INT64_MAX;
    return m->n > 0 && t1 >= m->ws && t0 <= m->we;
}

static void draw_spans(FILE *f, const struct rpt_timeline *tl, const struct xmap *m)
{
    double h = total_h(tl);
    for (int i = 0; i < tl->nspans; i++) {
        const struct rpt_span *s = &tl->spans[i];
        if (!visible(m, s->t0, s->t1)) continue;
        double x0 = xat(m, s->t0), x1 = s->t1 < 0 ? m->x[m->n - 1] + 30 : xat(m, s->t1);
        double w = x1 - x0 < 2 ? 2 : x1 - x0, y = lane_y(tl, s->lane);
        char tip[200], a[32], b[32];
        fmt_t(a, sizeof a, s->t0);
        if (s->t1 >= 0) fmt_t(b, sizeof b, s->t1); else snprintf(b, sizeof b, "(still open)");
        snprintf(tip, sizeof tip, "%s  %s → %s%s", s->label, a, b, s->cut ? " — cut short" : "");
        if (s->kind == SPAN_FAULT) {
            const char *cls = s->sub == FW_PARTITION ? "fpart" : s->sub == FW_OFFLINE ? "foff" : s->sub == FW_DOWN ? "fdown" : "fquiet";
            double yy = s->lane == RPT_WORLD ? TOP : y, hh = s->lane == RPT_WORLD ? h - TOP - 10 : s->lane == RPT_SERVER ? SRV_H : LANE_H;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" class=\"%s\">", x0, yy, w, hh, cls);
            title(f, tip);
            fputs("</rect>\n", f);
            if (s->lane == RPT_WORLD) fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" class=\"fq\">quiesce</text>\n", x0 + 3, h - 14);
            continue;
        }
        if (s->kind == SPAN_LOCK) {
            fprintf(f, "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"18\" rx=\"3\" fill=\"%s\" class=\"lock%s\">",
                    x0, y + 40, w, kind_colors[s->sub], s->cut ? " cut" : "");
            title(f, tip);
            fputs("</rect>\n", f);
            if (w > 60) fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" class=\"lk\">%s</text>\n", x0 + 4, y + 53, rpt_kinds[s->sub]);
        } else if (s->kind == SPAN_RUN) {
            fprintf(f, "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"10\" class=\"run%s\">", x0, y + 61, w, s->cut ? " cut" : "");
            title(f, tip);
            fputs("</rect>\n", f);
        } else {
            fprintf(f, "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"6\" fill=\"%s\">", x0, y + 63, w, phase_colors[s->sub]);
            title(f, tip);
            fputs("</rect>\n", f);
        }
    }
}

static void draw_msgs(FILE *f, const struct rpt_timeline *tl, const struct xmap *m)
{
    double ys = lane_y(tl, RPT_SERVER) + 6;
    for (int i = 0; i < tl->nmsgs; i++) {
        const struct rpt_msg *g = &tl->msgs[i];
        if (g->t0 < m->ws || g->t0 > m->we) continue;
        double yd = lane_y(tl, g->dev) + LANE_H - 16;
        double x0 = xat(m, g->t0), y0 = g->to_server ? yd : ys, y1 = g->to_server ? ys : yd;
        bool arrived = g->t1 >= 0 && !g->lost;
        double x1 = g->t1 >= 0 ? xat(m, g->t1) : x0 + 14;
        if (!arrived && g->t1 < 0) y1 = y0 + (y1 - y0) * 0.35;
        const char *cls = g->lost ? "mlost" : g->status >= 400 ? "merr" : g->to_server ? "mreq" : "mresp";
        char tip[160], a[32];
        fmt_t(a, sizeof a, g->t0);
        snprintf(tip, sizeof tip, "%s %s %s at %s%s", tl->lanes[g->dev], g->to_server ? "→ server" : "← server",
                 g->label, a, g->lost ? " — LOST" : g->t1 < 0 ? " — never answered" : "");
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" class=\"%s\" marker-end=\"url(#%s)\">",
                x0, y0, x1, y1, cls, g->lost ? "ax" : "ah");
        title(f, tip);
        fputs("</line>\n", f);
    }
}

static const char *mark_class(char sym)
{
    switch (sym) {
    case 'X': return "kx";
    case 'S': case 'R': return "ks";
    case 'W': return "kw";
    case 'T': return "kt";
    case 'F': return "kf";
    case 'C': return "kc";
    case 'Q': return "kq";
    case 'J': return "kj";
    case 'V': return "kv";
    default: return "ke";
    }
}

static void draw_marks(FILE *f, const struct rpt_timeline *tl, const struct xmap *m)
{
    double lastx[RPT_MAX_LANES + 2];
    int stack[RPT_MAX_LANES + 2];
    for (int i = 0; i < RPT_MAX_LANES + 2; i++) { lastx[i] = -1; stack[i] = 0; }
    for (int i = 0; i < tl->nmarks; i++) {
        const struct rpt_mark *k = &tl->marks[i];
        if (k->t < m->ws || k->t > m->we || k->sym == 'V') continue;
        int li = k->lane >= 0 ? k->lane : RPT_MAX_LANES + (k->lane == RPT_SERVER ? 0 : 1);
        double x = xat(m, k->t);
        stack[li] = fabs(x - lastx[li]) < 9 ? stack[li] + 1 : 0;
        lastx[li] = x;
        double y = k->lane >= 0 ? lane_y(tl, k->lane) + 6 + (stack[li] % 3) * 11 : lane_y(tl, RPT_SERVER) + 24 + (stack[li] % 3) * 11;
        char tip[260], a[32];
        fmt_t(a, sizeof a, k->t);
        snprintf(tip, sizeof tip, "t=%s %s", a, k->text);
        bool big = k->sym == 'X' || k->sym == 'R' || k->sym == 'S' || k->sym == 'F' || k->sym == 'C';
        fprintf(f, "<g class=\"%s\"><circle cx=\"%.1f\" cy=\"%.0f\" r=\"%d\"/>", mark_class(k->sym), x, y + 4, big ? 6 : 4);
        if (big) fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" class=\"ksym\">%c</text>", x, y + 7.5, k->sym);
        title(f, tip);
        fputs("</g>\n", f);
    }
}

static void draw_failure(FILE *f, const struct rpt_timeline *tl, const struct xmap *m)
{
    if (!tl->failed) return;
    double x = xat(m, tl->fail_t), h = total_h(tl);
    if (tl->fail_lane >= 0)
        fprintf(f, "<rect x=\"%.1f\" y=\"%.0f\" width=\"24\" height=\"%d\" class=\"failbox\"/>\n", x - 12, lane_y(tl, tl->fail_lane), LANE_H);
    fprintf(f, "<g id=\"failstep\"><line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\" class=\"failline\"/>", x, TOP - 4, x, h);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"failtext\">✖ failing step</text>", x - 100, TOP + 12);
    title(f, tl->fail_text);
    fputs("</g>\n", f);
}

static void svg_defs(FILE *f)
{
    fputs("<defs><marker id=\"ah\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\">"
          "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker>"
          "<marker id=\"ax\" viewBox=\"0 0 10 10\" refX=\"5\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\">"
          "<path d=\"M1,1 L9,9 M9,1 L1,9\" stroke=\"#d62728\" stroke-width=\"2.5\"/></marker>"
          "<pattern id=\"hatch\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
          "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#d62728\" stroke-width=\"3\" stroke-opacity=\"0.25\"/></pattern></defs>\n", f);
}

static void draw_timeline(FILE *f, const struct rpt_timeline *tl, const struct xmap *m)
{
    double h = total_h(tl);
    fprintf(f, "<div class=\"tlw\" id=\"tlw\"><svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
            m->width, h, m->width, h);
    svg_defs(f);
    draw_lanes(f, tl, m);
    draw_axis(f, m, h);
    draw_spans(f, tl, m);
    draw_msgs(f, tl, m);
    draw_marks(f, tl, m);
    draw_failure(f, tl, m);
    fputs("</svg></div>\n", f);
}

/* The whole run on a linear scale: lock spans and crashes per device, the
 * drawn window and the failure. */
static void draw_overview(FILE *f, const struct rpt_timeline *tl, const struct xmap *m)
{
    int64_t end = tl->t_end > 0 ? tl->t_end : 1;
    double sc = (double)(OVERVIEW_W - LEFT - 10) / (double)end;
    int rows = tl->nlanes + 1;
    double h = 22 + rows * 16.0 + 6;
    fprintf(f, "<svg class=\"ov\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\">\n",
            OVERVIEW_W, h, OVERVIEW_W, h);
    fprintf(f, "<rect x=\"%.1f\" y=\"2\" width=\"%.1f\" height=\"%.0f\" class=\"ovwin\"><title>drawn in the timeline below</title></rect>\n",
            LEFT + m->ws * sc, (m->we - m->ws) * sc + 2, h - 4);
    for (int r = 0; r < rows; r++) {
        fprintf(f, "<text x=\"4\" y=\"%.0f\" class=\"ovl\">", 30 + r * 16.0);
        rpt_html_escaped(f, r < tl->nlanes ? tl->lanes[r] : "server");
        fputs("</text>\n", f);
    }
    for (int i = 0; i < tl->nspans; i++) {
        const struct rpt_span *s = &tl->spans[i];
        int r = s->lane >= 0 ? s->lane : s->lane == RPT_SERVER ? tl->nlanes : -1;
        if (r < 0 || (s->kind != SPAN_LOCK && s->kind != SPAN_FAULT)) continue;
        int64_t t1 = s->t1 < 0 ? end : s->t1;
        const char *fill = s->kind == SPAN_LOCK ? kind_colors[s->sub] : "#d62728";
        fprintf(f, "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%d\" fill=\"%s\" fill-opacity=\"%s\"/>\n",
                LEFT + s->t0 * sc, 20 + r * 16.0 + (s->kind == SPAN_FAULT ? 10 : 0), (t1 - s->t0) * sc + 1,
                s->kind == SPAN_FAULT ? 3 : 10, fill, s->kind == SPAN_FAULT ? "0.5" : "1");
    }
    for (int i = 0; i < tl->nmarks; i++) {
        const struct rpt_mark *k = &tl->marks[i];
        if (k->sym != 'X') continue;
        int r = k->lane >= 0 ? k->lane : tl->nlanes;
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" class=\"ovx\">✕</text>\n", LEFT + k->t * sc - 4, 30 + r * 16.0);
    }
    if (tl->failed)
        fprintf(f, "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%.0f\" class=\"failline\"/>\n", LEFT + tl->fail_t * sc, LEFT + tl->fail_t * sc, h);
    char a[32];
    fmt_t(a, sizeof a, end);
    fprintf(f, "<text x=\"%d\" y=\"12\" class=\"ovl\">0s</text><text x=\"%d\" y=\"12\" class=\"ovl\" text-anchor=\"end\">%s</text>\n",
            LEFT, OVERVIEW_W - 4, a);
    fputs("</svg>\n", f);
}

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}"
    "header{background:#2d2d2d;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}"
    ".badge{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600;margin-left:8px}"
    ".bfail{background:#d62728;color:#fff}.bok{background:#2ca02c;color:#fff}"
    "main{padding:12px 24px}section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 16px;margin:12px 0}"
    "h2{font-size:16px;margin:4px 0 8px}.inv{font-size:18px;font-weight:700;color:#b30000}"
    "blockquote{margin:6px 0;padding:6px 12px;border-left:4px solid #d62728;background:#fff5f5}"
    "pre{background:#f3f3f3;padding:8px 10px;border-radius:4px;overflow-x:auto;font:12.5px/1.4 ui-monospace,Menlo,Consolas,monospace}"
    "pre.cmd{background:#1e1e1e;color:#e8e8e8}"
    ".tlw{overflow-x:auto;border:1px solid #ccc;background:#fff}"
    ".leven{fill:#ffffff}.lodd{fill:#f6f8fb}.lsrv{fill:#eef2e6}"
    ".lname{font:600 13px system-ui,sans-serif;fill:#333}.lsub{font:10px system-ui,sans-serif;fill:#999}"
    ".tick{stroke:#e3e3e3;stroke-width:1}.tlabel{font:10px ui-monospace,monospace;fill:#666}"
    ".lock{stroke:#333;stroke-width:.5}.lock.cut{stroke:#d62728;stroke-width:2;stroke-dasharray:3 2}"
    ".lk{font:11px system-ui,sans-serif;fill:#fff;pointer-events:none}"
    ".run{fill:#bbb}.run.cut{fill:#e99}"
    ".mreq{stroke:#4e79a7;stroke-width:1.2;opacity:.75}.mresp{stroke:#59a14f;stroke-width:1.2;opacity:.75}"
    ".merr{stroke:#f28e2b;stroke-width:1.6}.mlost{stroke:#d62728;stroke-width:1.6;stroke-dasharray:4 3}"
    ".fpart{fill:url(#hatch)}.foff{fill:#999;fill-opacity:.15}.fdown{fill:#d62728;fill-opacity:.12}.fquiet{fill:#2ca02c;fill-opacity:.06}"
    ".fq{font:11px system-ui,sans-serif;fill:#2ca02c}"
    "circle{stroke:#fff;stroke-width:1}.ksym{font:bold 9px system-ui,sans-serif;fill:#fff;text-anchor:middle;pointer-events:none}"
    ".kx circle{fill:#d62728}.ks circle{fill:#2ca02c}.kw circle{fill:#8c6d31}.kt circle{fill:#17becf}"
    ".kf circle{fill:#9467bd}.kc circle{fill:#7f7f7f}.kq circle{fill:#bcbd22}.kj circle{fill:#ff9896}.ke circle{fill:#aec7e8}"
    ".failline{stroke:#d62728;stroke-width:2.5}.failbox{fill:#d62728;fill-opacity:.18}"
    ".failtext{font:bold 12px system-ui,sans-serif;fill:#d62728}"
    ".ov{background:#fff;border:1px solid #ccc}.ovl{font:11px system-ui,sans-serif;fill:#444}.ovx{font:12px sans-serif;fill:#d62728}"
    ".ovwin{fill:#4e79a7;fill-opacity:.08;stroke:#4e79a7;stroke-dasharray:3 2}"
    ".legend span{display:inline-block;margin:2px 12px 2px 0}.sw{display:inline-block;width:14px;height:10px;border-radius:2px;margin-right:4px;vertical-align:middle}"
    ".dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px;vertical-align:middle}"
    "table.kv td{padding:1px 12px 1px 0;vertical-align:top}.hl{background:#ffe0e0;font-weight:700}"
    ".muted{color:#777}";

static void legend(FILE *f)
{
    fputs("<div class=\"legend\"><b>Lock held by kind:</b> ", f);
    for (int i = 0; i < 5; i++) fprintf(f, "<span><i class=\"sw\" style=\"background:%s\"></i>%s</span>", kind_colors[i], rpt_kinds[i]);
    fputs("<span class=\"muted\">(red dashed border: cut by a crash or force-release)</span><br><b>Run phases</b> (thin bar under the lock): ", f);
    for (int i = 0; i < 3; i++) fprintf(f, "<span><i class=\"sw\" style=\"background:%s\"></i>%s</span>", phase_colors[i], phase_names[i]);
    fputs("<br><b>Messages:</b> <span><i class=\"sw\" style=\"background:#4e79a7\"></i>request</span>"
          "<span><i class=\"sw\" style=\"background:#59a14f\"></i>response</span>"
          "<span><i class=\"sw\" style=\"background:#f28e2b\"></i>error response (5xx/429)</span>"
          "<span><i class=\"sw\" style=\"background:#d62728\"></i>lost / dropped (dashed, ✕)</span><br><b>Marks:</b> "
          "<span><i class=\"dot\" style=\"background:#d62728\"></i>X crash</span><span><i class=\"dot\" style=\"background:#2ca02c\"></i>S start / R restart</span>"
          "<span><i class=\"dot\" style=\"background:#8c6d31\"></i>write</span><span><i class=\"dot\" style=\"background:#17becf\"></i>trigger</span>"
          "<span><i class=\"dot\" style=\"background:#9467bd\"></i>F force-release</span><span><i class=\"dot\" style=\"background:#7f7f7f\"></i>C stale lock cleared</span>"
          "<span><i class=\"dot\" style=\"background:#bcbd22\"></i>queued</span><span><i class=\"dot\" style=\"background:#ff9896\"></i>rejected / server error</span>"
          "<span><i class=\"dot\" style=\"background:#aec7e8\"></i>other event</span><br><b>Shading:</b> "
          "<span><i class=\"sw\" style=\"background:repeating-linear-gradient(45deg,#f3b7b7 0 3px,#fff 3px 6px)\"></i>partitioned (silent)</span>"
          "<span><i class=\"sw\" style=\"background:#ddd\"></i>told offline</span><span><i class=\"sw\" style=\"background:#f6d3d3\"></i>server down</span>"
          "<span><i class=\"sw\" style=\"background:#e6f3e6\"></i>quiesce (liveness phase)</span>"
          "<p class=\"muted\">Hover any shape for its details. The time axis is compressed: every instant at which something happened gets a column, "
          "and idle gaps are shortened (the labels give simulated time). Requests and answers are paired in order per device, "
          "so with reordering faults an arrow may join a request to another answer.</p></div>\n", f);
}

static void trace_tail(FILE *f, const struct rpt_timeline *tl)
{
    uint64_t last = tl->failed && tl->fail_line ? tl->fail_line : tl->lines;
    uint64_t n = last < 80 ? last : 80;
    if (tl->lines - last + n > RPT_TAIL_LINES) n = 0;   /* fell out of the ring */
    fputs("<section><h2>The trace before the failing step</h2><details open><summary>last lines (full trace: the replay command above)</summary><pre>", f);
    for (uint64_t i = last - n; i < last; i++) {
        const char *l = tl->tail[i % RPT_TAIL_LINES];
        bool hl = i + 1 == last && tl->failed;
        if (hl) fputs("<span class=\"hl\">", f);
        rpt_html_escaped(f, l);
        if (hl) fputs("</span>", f);
        fputc('\n', f);
    }
    fputs("</pre></details></section>\n", f);
}

static void head(FILE *f, const struct rpt_failure *fl)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>syncsim: ", f);
    rpt_html_escaped(f, fl->failed ? fl->invariant : "no failure");
    fputs(" — ", f);
    rpt_html_escaped(f, fl->title);
    fprintf(f, "</title><style>%s</style></head><body>\n<header><h1>syncsim failure report — ", css);
    rpt_html_escaped(f, fl->title);
    fprintf(f, "<span class=\"badge %s\">%s</span></h1></header><main>\n", fl->failed ? "bfail" : "bok", fl->failed ? "FAIL" : "ok");
}

static void what_failed(FILE *f, const struct rpt_failure *fl)
{
    fputs("<section id=\"invariant\"><h2>What failed</h2>", f);
    if (!fl->failed) {
        fputs("<p>This run passed every check. The timeline below shows it anyway.</p></section>\n", f);
        return;
    }
    fputs("<div class=\"inv\">", f);
    rpt_html_escaped(f, fl->invariant);
    fputs("</div><blockquote><b>SPEC:</b> ", f);
    rpt_html_escaped(f, rpt_invariant_text(fl->invariant));
    fputs("</blockquote><p><b>What the checker saw:</b></p><pre>", f);
    rpt_html_escaped(f, fl->message);
    fputs("</pre></section>\n", f);
}

static void repro(FILE *f, const struct rpt_failure *fl)
{
    fputs("<section id=\"repro\"><h2>Reproduce it</h2><pre class=\"cmd\">", f);
    rpt_html_escaped(f, fl->repro);
    if (fl->replay) { fputs("\n", f); rpt_html_escaped(f, fl->replay); }
    fputs("</pre>", f);
    fputs("<table class=\"kv\">", f);
    if (fl->seed || !fl->scenario) fprintf(f, "<tr><td>seed</td><td>0x%016llx</td></tr>", (unsigned long long)fl->seed);
    fprintf(f, "<tr><td>trace hash</td><td>0x%016llx</td></tr><tr><td>events</td><td>%llu</td></tr>"
               "<tr><td>simulated time</td><td>%.3f s</td></tr>",
            (unsigned long long)fl->hash, (unsigned long long)fl->events, (double)fl->sim_ms / 1000.0);
    if (fl->extra) { fputs("<tr><td>run</td><td>", f); rpt_html_escaped(f, fl->extra); fputs("</td></tr>", f); }
    fputs("</table></section>\n", f);
}

static void scenario_section(FILE *f, const struct rpt_failure *fl)
{
    if (fl->scenario) {
        fputs("<section id=\"scenario\"><h2>Scenario</h2>", f);
        if (fl->scenario_note) { fputs("<p>", f); rpt_html_escaped(f, fl->scenario_note); fputs("</p>", f); }
        fputs("<pre>", f);
        rpt_html_escaped(f, fl->scenario);
        fputs("</pre></section>\n", f);
    }
}

int rpt_write_failure(const char *path, const struct rpt_failure *fl, const struct rpt_timeline *tl,
                      char *err, size_t errlen)
{
    SS_ASSERT(path && fl && tl);
    struct xmap m;
    if (xmap_build(tl, &m) != 0) { snprintf(err, errlen, "out of memory"); return -1; }
    FILE *f = fopen(path, "w");
    if (!f) { snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno)); free(m.t); free(m.x); return -1; }
    head(f, fl);
    what_failed(f, fl);
    repro(f, fl);
    char a[32], b[32];
    fmt_t(a, sizeof a, m.ws);
    fmt_t(b, sizeof b, m.we);
    fprintf(f, "<section id=\"timeline-section\"><h2>Timeline</h2><p>Whole run (%d device%s + server; "
               "the dashed box is the part drawn below: t=%s … %s):</p>\n",
            tl->nlanes, tl->nlanes == 1 ? "" : "s", a, b);
    draw_overview(f, tl, &m);
    draw_timeline(f, tl, &m);
    legend(f);
    fputs("</section>\n", f);
    scenario_section(f, fl);
    trace_tail(f, tl);
    fputs("<footer class=\"muted\" style=\"padding:8px 24px\">written by <code>syncsim report</code>; self-contained, works offline.</footer>\n", f);
    fputs("<script>(function(){var w=document.getElementById('tlw'),s=document.getElementById('failstep');"
          "if(w&&s){var b=s.getBBox();w.scrollLeft=Math.max(0,b.x-w.clientWidth+260);}else if(w){w.scrollLeft=w.scrollWidth;}})();</script>\n", f);
    fputs("</main></body></html>\n", f);
    free(m.t);
    free(m.x);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) { snprintf(err, errlen, "cannot write %s", path); return -1; }
    return 0;
}

int rpt_write_failure_json(const char *path, const struct rpt_failure *fl, const char *html_path,
                           char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) { snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno)); return -1; }
    fprintf(f, "{\"result\": \"%s\", \"seed\": \"0x%016llx\", \"invariant\": ", fl->failed ? "fail" : "ok",
            (unsigned long long)fl->seed);
    rpt_json_escaped(f, fl->failed ? fl->invariant : "");
    fputs(", \"message\": ", f);
    rpt_json_escaped(f, fl->message ? fl->message : "");
    fputs(", \"repro\": ", f);
    rpt_json_escaped(f, fl->repro ? fl->repro : "");
    fputs(", \"report\": ", f);
    rpt_json_escaped(f, html_path ? html_path : "");
    fprintf(f, ", \"hash\": \"0x%016llx\", \"events\": %llu, \"sim_ms\": %lld}\n", (unsigned long long)fl->hash,
            (unsigned long long)fl->events, (long long)fl->sim_ms);
    if (fclose(f) != 0) { snprintf(err, errlen, "cannot write %s", path); return -1; }
    return 0;
}
