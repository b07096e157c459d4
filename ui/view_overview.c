/* view_overview — tab 0: how the last hours went, as graphs (DESIGN §9). Payments created
 * and finalized per minute, time to finality per rail, the exception backlog and SLA
 * breaches, webhook success per endpoint, open breaks by class, chain lag per network.
 *
 * Everything comes from console_rollup (0070_console_overview.sql), per-minute rows the
 * sweeper and the dispatcher maintain, in ONE query grouped into as many time bins as the
 * graphs have samples: a repaint never scans history. Nothing the view shows changes
 * faster than the rollups (every 10 s), so it does not follow the change feed: it reloads
 * every 10 s for the moving time axis, and not at all on the other tabs.
 *   :overview 24h             the window (1h … 24h, default 6h)
 *   :overview graphs=block    braille | block | ascii (config: graphs = …) */
#include "app.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OV_BINS_MAX 600
#define OV_SER_MAX 48
#define OV_BUCKETS 256
#define OV_RELOAD_MS 10000

/* one (metric, subject): per-bin sums and maxima, the value at the newest sample (in the bin
 * that holds it); finality: bucket counts */
struct series {
    char metric[24], subject[96], label[160];
    long long sum[OV_BINS_MAX], mx[OV_BINS_MAX], last[OV_BINS_MAX];
    unsigned char has[OV_BINS_MAX];
    long long fin[OV_BUCKETS];
    double fin_upper[OV_BUCKETS];
    long long fin_n;
};

static struct {
    struct series s[OV_SER_MAX];
    int n, nbins, loaded, minutes, asked_mode;   /* nbins: time bins queried, <= minutes */
    char at[16];              /* the database clock when loaded, HH:MM:SS */
} ov = { .minutes = 360 };

static struct series *series_for(const char *metric, const char *subject, const char *label)
{
    for (int i = 0; i < ov.n; i++)
        if (!strcmp(ov.s[i].metric, metric) && !strcmp(ov.s[i].subject, subject)) return &ov.s[i];
    if (ov.n == OV_SER_MAX) return NULL;
    struct series *s = &ov.s[ov.n++];
    memset(s, 0, sizeof *s);
    snprintf(s->metric, sizeof s->metric, "%s", metric);
    snprintf(s->subject, sizeof s->subject, "%s", subject);
    snprintf(s->label, sizeof s->label, "%s", label);
    return s;
}

static int graph_cols(struct app *a) { return a->cols - 2 > OV_BINS_MAX / 2 ? OV_BINS_MAX / 2 : a->cols - 2; }

/* the columns of load()'s query, in order */
enum { O_METRIC, O_SUBJECT, O_BUCKET, O_BIN, O_SUM, O_MAX, O_LAST, O_LABEL, O_UPPER_S, O_AT };

static int load(struct app *a, struct view *v)
{
    (void)v;
    /* as many bins as the graphs have samples, but never less than a minute each: a bin
     * holds whole minutes, and the graphs repeat a bin over the samples it spans */
    int mode = graph_mode(a, ov.asked_mode);
    ov.nbins = graph_cols(a) * graph_per_cell(mode);
    if (ov.nbins > ov.minutes) ov.nbins = ov.minutes;
    char mins[16], bins[16];
    snprintf(mins, sizeof mins, "%d", ov.minutes);
    snprintf(bins, sizeof bins, "%d", ov.nbins);
    a->reload_at = now_ms() + OV_RELOAD_MS;   /* the time axis moves */
    int64_t t0 = now_us();
    PGresult *r = cq(a,
        /* integer minute arithmetic for the bins; endpoint labels computed once per endpoint
         * (MATERIALIZED), not once per bin */
        /* "last": a gauge's value at the newest sample of the environment (tl), NULL (0) when
         * it has no row there — a break class with nothing open is not sampled */
        "WITH w AS (SELECT date_trunc('minute', now()) - make_interval(mins => $2::int - 1) AS t0,"
        "           (SELECT max(minute) FROM console_rollup WHERE environment = $1) AS tl),"
        " g AS (SELECT c.metric, c.subject, c.bucket,"
        "         CASE WHEN c.metric = 'finality' THEN 0"
        "              ELSE least($3::int - 1, (date_part('epoch', c.minute - w.t0)::int / 60) * $3::int / $2::int)"
        "         END AS bin,"
        "         sum(c.value) AS s, max(c.value) AS mx, max(c.value) FILTER (WHERE c.minute = w.tl) AS last"
        "       FROM console_rollup c, w WHERE c.environment = $1 AND c.minute >= w.t0 GROUP BY 1, 2, 3, 4),"
        " lab AS MATERIALIZED (SELECT e.id::text AS subject,"
        "         m.name || ' ' || coalesce(substring(e.url FROM '://([^/?#]+)'), '') AS label"
        "       FROM webhook_endpoints e JOIN merchants m ON m.id = e.merchant_id WHERE e.environment = $1)"
        " SELECT g.metric, g.subject, g.bucket, g.bin, g.s, g.mx, g.last, coalesce(lab.label, g.subject),"
        "   CASE WHEN g.metric = 'finality' THEN rollup_bucket_upper_s(g.bucket) END, to_char(now(), 'HH24:MI:SS')"
        " FROM g LEFT JOIN lab ON g.metric LIKE 'webhook%' AND lab.subject = g.subject"
        " ORDER BY g.metric, 8, g.subject, g.bucket, g.bin",
        a->cfg.env, mins, bins);
    char what[64];
    snprintf(what, sizeof what, "query overview %lld", (long long)(now_us() - t0));
    app_trace(a, what);
    ov.n = 0;
    ov.loaded = r != NULL;
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r); i++) {
#define F(c) PQgetvalue(r, i, c)
        if (!i) snprintf(ov.at, sizeof ov.at, "%s", F(O_AT));
        struct series *s = series_for(F(O_METRIC), F(O_SUBJECT), F(O_LABEL));
        int bin = atoi(F(O_BIN)), b = atoi(F(O_BUCKET));
        if (!s || bin < 0 || bin >= ov.nbins) continue;
        if (!strcmp(s->metric, "finality")) {
            if (b < 0 || b >= OV_BUCKETS) continue;
            s->fin[b] += atoll(F(O_SUM));
            s->fin_upper[b] = atof(F(O_UPPER_S));
            s->fin_n += atoll(F(O_SUM));
            continue;
        }
        s->sum[bin] = atoll(F(O_SUM));
        s->mx[bin] = atoll(F(O_MAX));
        s->last[bin] = atoll(F(O_LAST));
        s->has[bin] = 1;
#undef F
    }
    PQclear(r);
    return 0;
}

/* ------------------------------------------------------------------ formatting */

static void fmt_count(long long v, char *out, size_t n)
{
    char d[32];
    snprintf(d, sizeof d, "%lld", v < 0 ? -v : v);
    size_t len = strlen(d), o = 0;
    if (v < 0 && o + 1 < n) out[o++] = '-';
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) out[o++] = ',';
        out[o++] = d[i];
    }
    out[o] = 0;
}

/* tenths per minute of a bin's count, as "12.5/min" */
static void fmt_rate10(long long r10, char *out, size_t n)
{
    snprintf(out, n, "%lld.%lld/min", r10 / 10, r10 % 10);
}

static void fmt_secs(double s, char *out, size_t n)
{
    long long t = (long long)(s + 0.5);
    if (t < 100) snprintf(out, n, "%lld s", t);
    else if (t < 3600) snprintf(out, n, "%lldm%02llds", t / 60, t % 60);
    else snprintf(out, n, "%lldh%02lldm", t / 3600, t % 3600 / 60);
}

/* the bucket's upper bound at the p-th percentile of a finality histogram */
static double percentile(const struct series *s, int p)
{
    long long cum = 0;
    for (int b = 0; b < OV_BUCKETS; b++) {
        cum += s->fin[b];
        if (s->fin_n && cum * 100 >= (long long)p * s->fin_n) return s->fin_upper[b];
    }
    return 0;
}

/* ------------------------------------------------------------------ series arithmetic */

/* the sum over subjects of a counter metric, per bin, into out/has; the number of subjects */
static int total_of(const char *metric, long long *out, unsigned char *has)
{
    int k = 0;
    memset(out, 0, sizeof(long long) * (size_t)ov.nbins);
    memset(has, 0, (size_t)ov.nbins);
    for (int i = 0; i < ov.n; i++) {
        if (strcmp(ov.s[i].metric, metric)) continue;
        k++;
        for (int b = 0; b < ov.nbins; b++)
            if (ov.s[i].has[b]) { out[b] += ov.s[i].sum[b]; has[b] = 1; }
    }
    return k;
}

static long long max_of(const long long *v, const unsigned char *has, int n)
{
    long long m = 0;
    for (int i = 0; i < n; i++) if (has[i] && v[i] > m) m = v[i];
    return m;
}

/* the latest bin with data */
static int last_bin(const unsigned char *has, int n)
{
    for (int i = n - 1; i >= 0; i--) if (has[i]) return i;
    return -1;
}

/* ------------------------------------------------------------------ drawing */

struct frame { struct app *a; int mode, y, end, x, w; };

static int room(struct frame *f, int rows) { return f->y + rows <= f->end; }

static void heading(struct frame *f, const char *title, const char *stats)
{
    if (!room(f, 1)) return;
    int tw = text_width(title);
    draw_text(f->y, 1, tw, S_TITLE, title);
    if (stats && *stats) draw_text(f->y, 1 + tw + 2, f->a->cols - tw - 4, S_DIM, stats);
    f->y++;
}

/* the minutes bin b holds: those m in [0, minutes) with floor(m * nbins / minutes) == b */
static long long bin_minutes(int b)
{
    long long lo = ((long long)b * ov.minutes + ov.nbins - 1) / ov.nbins,
              hi = ((long long)(b + 1) * ov.minutes + ov.nbins - 1) / ov.nbins;
    return hi > lo ? hi - lo : 1;
}

/* a counter over the window as tenths per minute: heading with the last hour, the peak and
 * the total, then the graph */
static void counter_graph(struct frame *f, const char *metric, const char *title, int h, enum style st)
{
    static long long v[OV_BINS_MAX], g[OV_BINS_MAX];
    static unsigned char has[OV_BINS_MAX], gh[OV_BINS_MAX];
    total_of(metric, v, has);
    long long total = 0, hour = 0, hour_min = 0;
    for (int b = 0; b < ov.nbins; b++) {
        total += v[b];
        if ((long long)(b + 1) * ov.minutes > (long long)(ov.minutes - 60) * ov.nbins) {   /* the last hour */
            hour += v[b];
            hour_min += bin_minutes(b);
        }
        v[b] = v[b] * 10 / bin_minutes(b);
    }
    long long peak = max_of(v, has, ov.nbins);
    char a[32], b[32], c[32], stats[160];
    fmt_rate10(hour_min ? hour * 10 / hour_min : 0, a, sizeof a);
    fmt_rate10(peak, b, sizeof b);
    fmt_count(total, c, sizeof c);
    snprintf(stats, sizeof stats, "last hour %s  peak %s  total %s", a, b, c);
    heading(f, title, stats);
    if (!room(f, h)) return;
    int m = f->w * graph_per_cell(f->mode);
    graph_resample(v, has, ov.nbins, g, gh, m, GRAPH_MAX);
    graph_draw(f->a, f->mode, f->y, f->x, h, f->w, g, gh, peak, st);
    f->y += h;
}

/* a gauge over the full width: the peak of each bin */
static void gauge_graph(struct frame *f, const struct series *s, int h, long long max, enum style st)
{
    static long long g[OV_BINS_MAX];
    static unsigned char gh[OV_BINS_MAX];
    if (!room(f, h)) return;
    graph_resample(s->mx, s->has, ov.nbins, g, gh, f->w * graph_per_cell(f->mode), GRAPH_MAX);
    graph_draw(f->a, f->mode, f->y, f->x, h, f->w, g, gh, max, st);
    f->y += h;
}

static void axis(struct frame *f)
{
    if (!room(f, 1)) return;
    char line[600];
    int w = f->w < (int)sizeof line - 1 ? f->w : (int)sizeof line - 1, hours = ov.minutes / 60;
    memset(line, ' ', (size_t)w);
    line[w] = 0;
    int marks = hours <= 12 ? hours : hours / 2, step = hours / (marks ? marks : 1);
    for (int k = marks; k >= 1; k--) {   /* -6h … -1h at their columns */
        char lab[16];
        int len = snprintf(lab, sizeof lab, "-%dh", k * step), col = w - (int)((long long)k * step * 60 * w / ov.minutes);
        if (col >= 0 && col + len < w - 4) memcpy(line + col, lab, (size_t)len);
    }
    memcpy(line + w - 3, "now", 3);
    draw_text(f->y++, f->x, w, S_DIM, line);
}

static void finality_table(struct frame *f, int max_rows)
{
    char t[200];
    snprintf(t, sizeof t, "Time to finality, detected %s finalized", f->a->unicode ? "→" : "->");
    heading(f, t, "per rail, over the window");
    if (!room(f, 1)) return;
    char row[200];
    snprintf(row, sizeof row, "  %-24s %10s %10s %10s", "RAIL", "FINALIZED", "P50", "P95");
    draw_text(f->y++, 1, f->a->cols - 2, S_COLHEAD, row);
    int shown = 0, rails = 0;
    for (int i = 0; i < ov.n; i++) {
        struct series *s = &ov.s[i];
        if (strcmp(s->metric, "finality") || !s->fin_n) continue;
        rails++;
        if (shown == max_rows || !room(f, 1)) continue;
        char n[32], p50[32], p95[32];
        fmt_count(s->fin_n, n, sizeof n);
        fmt_secs(percentile(s, 50), p50, sizeof p50);
        fmt_secs(percentile(s, 95), p95, sizeof p95);
        snprintf(row, sizeof row, "  %-24.24s %10s %10s %10s", s->subject, n, p50, p95);
        draw_text(f->y++, 1, f->a->cols - 2, S_NORMAL, row);
        shown++;
    }
    if (!rails && room(f, 1)) draw_text(f->y++, 3, f->a->cols - 4, S_DIM, "no payment finalized in the window");
    else if (rails > shown && room(f, 1)) {
        snprintf(row, sizeof row, "  +%d more rails", rails - shown);
        draw_text(f->y++, 1, f->a->cols - 2, S_DIM, row);
    }
}

#define SPARK_FIG_W 22

/* the label column of the one-row sparklines: merchant and host need room on a wide screen */
static int spark_label_w(struct frame *f) { return f->a->cols >= 120 ? 40 : 30; }

/* the samples a one-row sparkline has */
static int spark_samples(struct frame *f)
{
    int sw = f->a->cols - 2 - spark_label_w(f) - SPARK_FIG_W - 2;
    int m = (sw < 8 ? 8 : sw) * graph_per_cell(f->mode);
    return m > OV_BINS_MAX ? OV_BINS_MAX : m;
}

/* one row: label, a one-row sparkline of the series (n samples: resampled, a bin's peak
 * standing for the bins it merges), then a figure */
static void spark_row(struct frame *f, const char *label, const long long *v, const unsigned char *has, int n,
                      long long max, const char *figure, enum style st)
{
    if (!room(f, 1)) return;
    int lw = spark_label_w(f), fw = SPARK_FIG_W, m = spark_samples(f), sw = m / graph_per_cell(f->mode);
    static long long rv[OV_BINS_MAX];
    static unsigned char rh[OV_BINS_MAX];
    graph_resample(v, has, n, rv, rh, m, GRAPH_MAX);
    char lab[64];
    snprintf(lab, sizeof lab, "  %s", label);
    draw_text(f->y, 1, lw, S_NORMAL, lab);
    graph_draw(f->a, f->mode, f->y, 1 + lw, 1, sw, rv, rh, max, st);
    draw_text(f->y, 1 + lw + sw + 2, fw, S_NORMAL, figure);
    f->y++;
}

static void gauge_rows(struct frame *f, const char *metric, const char *title, const char *empty, const char *unit,
                       int max_rows, enum style st)
{
    int total = 0;
    for (int i = 0; i < ov.n; i++) total += !strcmp(ov.s[i].metric, metric);
    char stats[64] = "";
    if (total > max_rows) snprintf(stats, sizeof stats, "%d of %d shown", max_rows, total);
    heading(f, title, stats);
    if (!total && room(f, 1)) draw_text(f->y++, 3, f->a->cols - 4, S_DIM, empty);
    for (int i = 0, shown = 0; i < ov.n && shown < max_rows; i++) {
        struct series *s = &ov.s[i];
        if (strcmp(s->metric, metric)) continue;
        int lb = last_bin(s->has, ov.nbins);
        char now[32], fig[64];
        fmt_count(lb >= 0 ? s->last[lb] : 0, now, sizeof now);
        snprintf(fig, sizeof fig, "now %s%s", now, unit);
        spark_row(f, s->label, s->mx, s->has, ov.nbins, max_of(s->mx, s->has, ov.nbins), fig, st);
        shown++;
    }
}

static void exceptions_section(struct frame *f, int h)
{
    struct series *open = NULL, *late = NULL;
    for (int i = 0; i < ov.n; i++) {
        if (!strcmp(ov.s[i].metric, "exceptions_open")) open = &ov.s[i];
        if (!strcmp(ov.s[i].metric, "exceptions_overdue")) late = &ov.s[i];
    }
    int lo = open ? last_bin(open->has, ov.nbins) : -1, ll = late ? last_bin(late->has, ov.nbins) : -1;
    char a[32], b[32], c[32], stats[160];
    fmt_count(lo >= 0 ? open->last[lo] : 0, a, sizeof a);
    fmt_count(open ? max_of(open->mx, open->has, ov.nbins) : 0, b, sizeof b);
    fmt_count(ll >= 0 ? late->last[ll] : 0, c, sizeof c);
    snprintf(stats, sizeof stats, "open now %s  peak %s  past SLA now %s", a, b, c);
    heading(f, "Exception backlog", stats);
    if (!open) {
        if (room(f, 1)) draw_text(f->y++, 3, f->a->cols - 4, S_DIM, "no samples yet");
        return;
    }
    gauge_graph(f, open, h, max_of(open->mx, open->has, ov.nbins), S_WARN);
    if (late) {
        char fig[64];
        snprintf(fig, sizeof fig, "now %s", c);
        spark_row(f, "past SLA", late->mx, late->has, ov.nbins, max_of(open->mx, open->has, ov.nbins), fig, S_BAD);
    }
}

static void webhook_rows(struct frame *f, int max_rows)
{
    int total = 0;
    for (int i = 0; i < ov.n; i++) total += !strcmp(ov.s[i].metric, "webhook_attempts");
    char stats[64] = "";
    if (total > max_rows) snprintf(stats, sizeof stats, "%d of %d shown", max_rows, total);
    heading(f, "Webhook success per endpoint", stats);
    if (!total && room(f, 1)) draw_text(f->y++, 3, f->a->cols - 4, S_DIM, "no attempts in the window");
    int m = spark_samples(f);
    static long long att_s[OV_BINS_MAX], ok_s[OV_BINS_MAX], pct[OV_BINS_MAX];
    static unsigned char att_h[OV_BINS_MAX], ok_h[OV_BINS_MAX], has[OV_BINS_MAX];
    for (int i = 0, shown = 0; i < ov.n && shown < max_rows; i++) {
        struct series *att = &ov.s[i], *ok = NULL;
        if (strcmp(att->metric, "webhook_attempts")) continue;
        for (int k = 0; k < ov.n; k++)
            if (!strcmp(ov.s[k].metric, "webhook_successes") && !strcmp(ov.s[k].subject, att->subject)) ok = &ov.s[k];
        /* attempts and successes summed per sample first, then the ratio (tenths of a percent) */
        graph_resample(att->sum, att->has, ov.nbins, att_s, att_h, m, GRAPH_SUM);
        if (ok) graph_resample(ok->sum, ok->has, ov.nbins, ok_s, ok_h, m, GRAPH_SUM);
        else memset(ok_s, 0, sizeof ok_s);
        long long na = 0, nok = 0;
        for (int b = 0; b < m; b++) {
            has[b] = att_h[b] && att_s[b] > 0;
            pct[b] = has[b] ? ok_s[b] * 1000 / att_s[b] : 0;
            na += att_s[b];
            nok += ok_s[b];
        }
        char n[32], fig[64];
        fmt_count(na, n, sizeof n);
        long long p10 = na ? nok * 1000 / na : 0;
        snprintf(fig, sizeof fig, "%lld.%lld %% of %s", p10 / 10, p10 % 10, n);
        spark_row(f, att->label, pct, has, m, 1000, fig, p10 >= 990 ? S_GOOD : p10 >= 900 ? S_WARN : S_BAD);
        shown++;
    }
}

static void draw(struct app *a, struct view *v, int y, int h)
{
    (void)v;
    struct frame f = { .a = a, .mode = graph_mode(a, ov.asked_mode), .y = y, .end = y + h, .x = 1, .w = graph_cols(a) };
    char title[200], right[120];
    snprintf(title, sizeof title, " Overview of %s %s last %d h", a->cfg.env, a->unicode ? "·" : "-", ov.minutes / 60);
    char col[32];
    fmt_secs((double)ov.minutes * 60 / f.w, col, sizeof col);
    snprintf(right, sizeof right, "a column is %s  %s graphs  at %s ", col, graph_mode_name(f.mode), ov.at[0] ? ov.at : "-");
    draw_text(f.y, 0, a->cols, S_TITLE, title);
    draw_text(f.y, a->cols - text_width(right), text_width(right), S_DIM, right);
    f.y++;
    if (!ov.loaded) { draw_text(f.y, 2, a->cols - 4, S_STATUS_ERR, "the rollups could not be read"); return; }
    if (!ov.n) {
        draw_text(f.y + 1, 2, a->cols - 4, S_DIM,
                  "No rollups for this environment yet: raild's sweeper writes them every 10 s (is raild running?).");
        return;
    }
    /* the lists first take what they need (up to 4 rows each), the two payment graphs the rest */
    int nrail = 0, nep = 0, nbrk = 0, nnet = 0;
    for (int i = 0; i < ov.n; i++) {
        const char *m = ov.s[i].metric;
        nrail += !strcmp(m, "finality") && ov.s[i].fin_n;
        nep += !strcmp(m, "webhook_attempts");
        nbrk += !strcmp(m, "breaks_open");
        nnet += !strcmp(m, "chain_lag");
    }
#define CAP(n) ((n) > 4 ? 4 : (n) < 1 ? 1 : (n))
    int lists = 2 + CAP(nrail) + 1 + 2 + 1 + 1 + CAP(nep) + 1 + CAP(nbrk) + 1 + CAP(nnet);
    int gh = (h - 1 - 3 - lists) / 2;
    gh = gh < 1 ? 1 : gh > 8 ? 8 : gh;
    counter_graph(&f, "payments_created", "Payments created", gh, S_ST_CONFIRMING);
    counter_graph(&f, "payments_finalized", "Payments finalized", gh, S_ST_FINALIZED);
    axis(&f);
    finality_table(&f, CAP(nrail));
    exceptions_section(&f, 2);
    webhook_rows(&f, CAP(nep));
    gauge_rows(&f, "breaks_open", "Open reconciliation breaks by class", "no open breaks in the window", "", CAP(nbrk),
               S_WARN);
    gauge_rows(&f, "chain_lag", "Chain lag per network (blocks behind the head)",
               "no network watched by raild in this environment", " blocks", CAP(nnet), S_ST_DETECTED);
#undef CAP
}

static const char *const ARG_KEYS[] = { "graphs", NULL };

static const char *const *arg_values(const char *key)
{
    static const char *const modes[] = { "braille", "block", "ascii", NULL };
    return !strcmp(key, "graphs") ? modes : NULL;
}

/* :overview [1h … 24h] [graphs=braille|block|ascii] */
static int command(struct app *a, struct view *v, int argc, char **argv, char *err, size_t errlen)
{
    (void)a;
    (void)v;
    int minutes = ov.minutes, mode = ov.asked_mode;
    for (int i = 0; i < argc; i++) {
        char *end = NULL;
        long h = strtol(argv[i], &end, 10);
        if (end != argv[i] && !strcmp(end, "h")) {
            if (h < 1 || h > 24) { snprintf(err, errlen, "%s: the window is 1h to 24h", argv[i]); return -1; }
            minutes = (int)h * 60;
        } else if (!strncmp(argv[i], "graphs=", 7)) {
            if ((mode = graph_mode_parse(argv[i] + 7)) < 0) {
                snprintf(err, errlen, "%s: graphs are braille, block or ascii", argv[i]);
                return -1;
            }
        } else {
            snprintf(err, errlen, "'%s': :overview takes a window (6h, 24h: 1h to 24h) and graphs=braille|block|ascii",
                     argv[i]);
            return -1;
        }
    }
    ov.minutes = minutes;
    ov.asked_mode = mode;
    return 0;
}

const struct view_ops overview_ops = {
    .name = "overview", .title = "Overview", .mask = VM_OVERVIEW, .tab = 0, .tables = NULL,
    .load = load, .draw = draw, .command = command, .arg_keys = ARG_KEYS, .arg_values = arg_values,
};
