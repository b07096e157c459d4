/* graph — area graphs for the Overview, as htop and btop draw them: braille (2 samples by 4
 * levels per cell), block characters (1 sample by 8 levels), or ASCII (1 sample by 3
 * levels) where the terminal has no UTF-8 (or `graphs = ascii`). Bottom-aligned; a sample
 * with data and a value above zero always shows at least one level, so a trickle is visible
 * next to a peak; a sample without data stays blank. */
#include "app.h"
#include <stdio.h>
#include <string.h>

static const char *const MODE_NAMES[] = { "auto", "braille", "block", "ascii", NULL };

int graph_mode_parse(const char *s)
{
    for (int i = 1; MODE_NAMES[i]; i++)
        if (!strcmp(s, MODE_NAMES[i])) return i;
    return -1;
}

const char *graph_mode_name(int m)
{
    return m > 0 && m <= GRAPH_ASCII ? MODE_NAMES[m] : "auto";
}

int graph_mode(struct app *a, int asked)
{
    int m = asked ? asked : a->cfg.graphs;
    if (!a->unicode) return GRAPH_ASCII;   /* braille and blocks need UTF-8 */
    return m ? m : GRAPH_BRAILLE;
}

int graph_per_cell(int mode)
{
    return mode == GRAPH_BRAILLE ? 2 : 1;
}

static int levels_per_row(int mode)
{
    return mode == GRAPH_BRAILLE ? 4 : mode == GRAPH_BLOCK ? 8 : 3;
}

/* UTF-8 of a code point in U+0800..U+FFFF */
static int put_u3(char *o, unsigned cp)
{
    o[0] = (char)(0xe0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* the level (0 … total) a sample reaches */
static int level(long long v, int has, long long max, int total)
{
    if (!has || v <= 0 || max <= 0) return 0;
    long long l = (v * total + max - 1) / max;   /* ceiling: the smallest value shows */
    return l < 1 ? 1 : l > total ? total : (int)l;
}

/* filled levels of one cell row k (0 = bottom) for a sample at level l */
static int fill(int l, int k, int per)
{
    int f = l - k * per;
    return f < 0 ? 0 : f > per ? per : f;
}

/* braille dots from the bottom up: left column 7 3 2 1, right column 8 6 5 4 */
static const unsigned char DOTS_L[] = { 0x40, 0x04, 0x02, 0x01 }, DOTS_R[] = { 0x80, 0x20, 0x10, 0x08 };

void graph_draw(struct app *a, int mode, int y, int x, int h, int w, const long long *v, const unsigned char *has,
                long long max, enum style st)
{
    int per = levels_per_row(mode), total = per * h, pc = graph_per_cell(mode);
    char line[4 * 512 + 1];
    if (w > 512) w = 512;
    for (int r = 0; r < h; r++) {
        int k = h - 1 - r, o = 0;
        for (int c = 0; c < w; c++) {
            if (mode == GRAPH_BRAILLE) {
                int l0 = level(v[c * pc], has[c * pc], max, total), l1 = level(v[c * pc + 1], has[c * pc + 1], max, total);
                unsigned bits = 0;
                for (int d = 0; d < fill(l0, k, per); d++) bits |= DOTS_L[d];
                for (int d = 0; d < fill(l1, k, per); d++) bits |= DOTS_R[d];
                if (bits) o += put_u3(line + o, 0x2800 + bits);
                else line[o++] = ' ';
            } else {
                int f = fill(level(v[c], has[c], max, total), k, per);
                if (mode == GRAPH_BLOCK) {
                    if (f) o += put_u3(line + o, 0x2580 + (unsigned)f);   /* ▁ … █ */
                    else line[o++] = ' ';
                } else {
                    line[o++] = " .:#"[f];
                }
            }
        }
        line[o] = 0;
        draw_text(y + r, x, w, st, line);
    }
}

/* Resamples src (n samples) into dst (m samples): each output sample covers an equal share of
 * the input; sums add, maxima and last values take the maximum and the latest with data. */
void graph_resample(const long long *src, const unsigned char *src_has, int n, long long *dst, unsigned char *dst_has,
                    int m, int how)
{
    for (int j = 0; j < m; j++) {
        int i0 = (int)((long long)j * n / m), i1 = (int)((long long)(j + 1) * n / m);
        if (i1 <= i0) i1 = i0 + 1;
        long long acc = 0;
        int any = 0;
        for (int i = i0; i < i1 && i < n; i++) {
            if (!src_has[i]) continue;
            if (how == GRAPH_SUM) acc += src[i];
            else if (how == GRAPH_MAX) acc = any && acc > src[i] ? acc : src[i];
            else acc = src[i];   /* GRAPH_LAST: the latest sample with data */
            any = 1;
        }
        dst[j] = acc;
        dst_has[j] = (unsigned char)any;
    }
}
