/* csv — RFC 4180 records from a buffer: quoted fields ("" inside quotes), LF or CRLF,
 * newlines inside quotes. Reports where a malformed record starts (line) and which
 * field is wrong (column, 1-based), so an import can say exactly what to fix. */
#ifndef RAILD_CSV_H
#define RAILD_CSV_H
#include <stddef.h>

#define CSV_MAX_FIELDS 32

struct csv {
    const char *buf;
    size_t len, pos;
    int line;                       /* line where the next record starts, 1-based */
};

struct csv_rec {
    int line;                       /* first line of this record */
    int nfields;                    /* all fields seen (may exceed CSV_MAX_FIELDS) */
    char *field[CSV_MAX_FIELDS];    /* malloc'd, NUL-terminated; only the first CSV_MAX_FIELDS */
    size_t flen[CSV_MAX_FIELDS];    /* lengths (a field may contain NUL: then it is invalid) */
    int err_col;                    /* on error: the field */
    char err[128];
};

void csv_init(struct csv *c, const char *buf, size_t len);
/* 1: a record; 0: end of input; -1: malformed (rec->err, rec->err_col; the reader skips
 * to the next line so the caller can go on). Free with csv_rec_free either way. */
int csv_read(struct csv *c, struct csv_rec *rec);
void csv_rec_free(struct csv_rec *rec);
/* 1 if s[0..n) is well-formed UTF-8 without NUL; else 0 and *bad = offset of the first bad byte */
int csv_utf8_valid(const char *s, size_t n, size_t *bad);
#endif
