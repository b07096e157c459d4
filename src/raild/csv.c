/* csv — see csv.h. A small state machine over a byte buffer. */
#include "raild/csv.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void csv_init(struct csv *c, const char *buf, size_t len)
{
    c->buf = buf;
    c->len = len;
    c->pos = 0;
    c->line = 1;
    /* a UTF-8 byte order mark is not part of the first field */
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) c->pos = 3;
}

void csv_rec_free(struct csv_rec *rec)
{
    for (int i = 0; i < rec->nfields && i < CSV_MAX_FIELDS; i++) free(rec->field[i]);
    rec->nfields = 0;
}

static void push_field(struct csv_rec *rec, const char *s, size_t n)
{
    if (rec->nfields < CSV_MAX_FIELDS) {
        char *f = malloc(n + 1);
        if (f) { memcpy(f, s, n); f[n] = 0; }
        rec->field[rec->nfields] = f;
        rec->flen[rec->nfields] = n;
    }
    rec->nfields++;
}

/* skip to just after the next newline (error recovery) */
static void skip_line(struct csv *c)
{
    while (c->pos < c->len && c->buf[c->pos] != '\n') c->pos++;
    if (c->pos < c->len) { c->pos++; c->line++; }
}

static int fail(struct csv *c, struct csv_rec *rec, const char *msg)
{
    rec->err_col = rec->nfields + 1;
    snprintf(rec->err, sizeof rec->err, "%s", msg);
    skip_line(c);
    return -1;
}

/* one quoted field starting at the opening quote; appends into a growing buffer */
static int quoted(struct csv *c, struct csv_rec *rec)
{
    size_t cap = 64, n = 0;
    char *b = malloc(cap);
    if (!b) return fail(c, rec, "out of memory");
    c->pos++;
    for (;;) {
        if (c->pos >= c->len) { free(b); return fail(c, rec, "unterminated quoted field"); }
        char ch = c->buf[c->pos++];
        if (ch == '"') {
            if (c->pos < c->len && c->buf[c->pos] == '"') c->pos++;
            else break;
        } else if (ch == '\n') {
            c->line++;
        }
        if (n + 1 >= cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); return fail(c, rec, "out of memory"); }
            b = nb;
        }
        b[n++] = ch;
    }
    if (c->pos < c->len && c->buf[c->pos] != ',' && c->buf[c->pos] != '\n' &&
        !(c->buf[c->pos] == '\r' && c->pos + 1 < c->len && c->buf[c->pos + 1] == '\n')) {
        free(b);
        return fail(c, rec, "text after a closing quote");
    }
    push_field(rec, b, n);
    free(b);
    return 0;
}

int csv_read(struct csv *c, struct csv_rec *rec)
{
    memset(rec, 0, sizeof *rec);
    if (c->pos >= c->len) return 0;
    rec->line = c->line;
    for (;;) {
        if (c->pos < c->len && c->buf[c->pos] == '"') {
            if (quoted(c, rec)) return -1;
        } else {
            size_t s = c->pos;
            while (c->pos < c->len && c->buf[c->pos] != ',' && c->buf[c->pos] != '\n') {
                if (c->buf[c->pos] == '"') return fail(c, rec, "a quote inside an unquoted field");
                c->pos++;
            }
            size_t e = c->pos;
            if (e > s && c->buf[e - 1] == '\r' && (e == c->len || c->buf[e] == '\n')) e--;
            push_field(rec, c->buf + s, e - s);
        }
        if (c->pos >= c->len) return 1;
        char ch = c->buf[c->pos];
        if (ch == ',') { c->pos++; continue; }
        if (ch == '\r') c->pos++;
        if (c->pos < c->len && c->buf[c->pos] == '\n') { c->pos++; c->line++; }
        return 1;
    }
}

int csv_utf8_valid(const char *str, size_t n, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned char b = s[i];
        size_t k;
        unsigned int cp;
        if (b == 0) { *bad = i; return 0; }
        if (b < 0x80) { i++; continue; }
        if ((b & 0xE0) == 0xC0) { k = 1; cp = b & 0x1F; }
        else if ((b & 0xF0) == 0xE0) { k = 2; cp = b & 0x0F; }
        else if ((b & 0xF8) == 0xF0) { k = 3; cp = b & 0x07; }
        else { *bad = i; return 0; }
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xC0) != 0x80) { *bad = i; return 0; }
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
            *bad = i;
            return 0;
        }
        i += k + 1;
    }
    return 1;
}
