/* raild import-orders — the commerce plane from a CSV file (DESIGN §6).
 *
 *   reference,amount,status,updated_at
 *   ord-1001,125.50,paid,2026-11-26T12:00:00Z
 *
 * Every row is validated first and every problem reported as "line L, column C (name)".
 * A file with any error imports nothing, unless --partial: then the good rows are
 * imported (one transaction) and the skipped ones listed. Same rules as the API:
 * an older updated_at never overwrites a newer one. Exit: 0 all imported, 1 nothing
 * imported, 2 usage, 3 --partial imported some rows and skipped others. */
#include "raild/audit.h"
#include "raild/cli.h"
#include "raild/csv.h"
#include "raild/orders.h"
#include "core/amount.h"
#include "core/db.h"
#include "core/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_MAX_BYTES (256L * 1024 * 1024)
#define NCOLS 4
static const char *const COLS[NCOLS] = { "reference", "amount", "status", "updated_at" };

struct row {
    int line;
    char *ref, *units, *status, *ts;
};

struct import {
    struct row *rows;
    int nrows, cap;
    int nerrors;            /* rows with an error */
};

/* references seen so far → first line, for duplicates: open addressing, FNV-1a */
struct seen {
    char **ref;
    int *line;
    size_t cap, n;
};

static size_t fnv(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* returns the first line of ref if seen, else records it and returns 0 */
static int seen_put(struct seen *t, const char *ref, int line)
{
    if (2 * (t->n + 1) > t->cap) {
        struct seen nt = { calloc(t->cap ? t->cap * 2 : 1024, sizeof(char *)), NULL, t->cap ? t->cap * 2 : 1024, 0 };
        nt.line = calloc(nt.cap, sizeof(int));
        for (size_t i = 0; i < t->cap; i++)
            if (t->ref[i]) {
                size_t j = fnv(t->ref[i]) & (nt.cap - 1);
                while (nt.ref[j]) j = (j + 1) & (nt.cap - 1);
                nt.ref[j] = t->ref[i];
                nt.line[j] = t->line[i];
                nt.n++;
            }
        free(t->ref);
        free(t->line);
        *t = nt;
    }
    size_t j = fnv(ref) & (t->cap - 1);
    for (; t->ref[j]; j = (j + 1) & (t->cap - 1))
        if (!strcmp(t->ref[j], ref)) return t->line[j];
    t->ref[j] = strdup(ref);
    t->line[j] = line;
    t->n++;
    return 0;
}

static void seen_free(struct seen *t)
{
    for (size_t i = 0; i < t->cap; i++) free(t->ref[i]);
    free(t->ref);
    free(t->line);
}

static void row_error(struct import *im, int line, int col, const char *fmt, const char *detail)
{
    if (col > 0 && col <= NCOLS)
        fprintf(stderr, "line %d, column %d (%s): ", line, col, COLS[col - 1]);
    else if (col > 0)
        fprintf(stderr, "line %d, column %d: ", line, col);
    else
        fprintf(stderr, "line %d: ", line);
    fprintf(stderr, fmt, detail);
    fputc('\n', stderr);
    (void)im;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "raild import-orders: cannot open %s: %s\n", path, strerror(errno)); return NULL; }
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
    for (size_t got; b && (got = fread(b + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            if (cap >= (size_t)IMPORT_MAX_BYTES) { fprintf(stderr, "raild import-orders: %s is larger than 256 MiB\n", path); free(b); b = NULL; break; }
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); b = NULL; break; }
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

/* validates one data record; on success appends a row. Returns 0 or -1 (reported). */
static int check_record(struct import *im, struct csv_rec *rec, struct seen *seen)
{
    if (rec->nfields != NCOLS) {
        fprintf(stderr, "line %d: expected %d columns (reference,amount,status,updated_at), found %d\n",
                rec->line, NCOLS, rec->nfields);
        return -1;
    }
    int bad = 0;
    for (int i = 0; i < NCOLS; i++) {
        size_t off;
        if (!csv_utf8_valid(rec->field[i], rec->flen[i], &off)) {
            char d[64];
            snprintf(d, sizeof d, "%zu", off + 1);
            row_error(im, rec->line, i + 1, "not valid UTF-8 (byte %s of the field)", d);
            bad = 1;
        }
    }
    if (bad) return -1;
    const char *ref = rec->field[0], *amt = rec->field[1], *st = rec->field[2], *ts = rec->field[3];
    char units[AMOUNT_STR_MAX];
    if (!orders_reference_valid(ref)) {
        row_error(im, rec->line, 1, "'%.80s' is not a reference (1-200 characters, no control characters)", ref);
        bad = 1;
    } else {
        /* the first occurrence counts even if its other fields are bad */
        int first = seen_put(seen, ref, rec->line);
        if (first) {
            char d[32];
            snprintf(d, sizeof d, "%d", first);
            row_error(im, rec->line, 1, "duplicate reference: also on line %s", d);
            bad = 1;
        }
    }
    if (orders_amount_units(amt, units, sizeof units)) {
        row_error(im, rec->line, 2, "'%.80s' is not an amount (a positive decimal such as 125.50, "
                  "at most 18 fractional digits)", amt);
        bad = 1;
    }
    if (!orders_status_valid(st)) {
        row_error(im, rec->line, 3, "unknown status '%.80s' (pending, paid, fulfilled, canceled, refunded)", st);
        bad = 1;
    }
    if (!util_rfc3339_valid(ts)) {
        row_error(im, rec->line, 4, "'%.80s' is not an RFC 3339 time with a zone (2026-11-26T12:00:00Z)", ts);
        bad = 1;
    }
    if (bad) return -1;
    if (im->nrows == im->cap) {
        im->cap = im->cap ? im->cap * 2 : 256;
        im->rows = realloc(im->rows, sizeof *im->rows * im->cap);
        if (!im->rows) return -1;
    }
    struct row *r = &im->rows[im->nrows++];
    r->line = rec->line;
    r->ref = strdup(ref);
    r->units = strdup(units);
    r->status = strdup(st);
    r->ts = strdup(ts);
    return 0;
}

static int header_ok(struct csv_rec *rec)
{
    if (rec->nfields != NCOLS) return 0;
    for (int i = 0; i < NCOLS; i++)
        if (strcmp(rec->field[i], COLS[i])) return 0;
    return 1;
}

/* Parses and validates the whole file. Returns -1 on a file-level problem. */
static int parse(struct import *im, const char *buf, size_t len)
{
    struct csv c;
    struct csv_rec rec;
    csv_init(&c, buf, len);
    int rc = csv_read(&c, &rec);
    if (rc == 0 || (rc == 1 && rec.nfields == 1 && rec.flen[0] == 0 && c.pos >= c.len)) {
        fprintf(stderr, "line 1: the file is empty (expected the header reference,amount,status,updated_at)\n");
        csv_rec_free(&rec);
        return -1;
    }
    if (rc < 0 || !header_ok(&rec)) {
        fprintf(stderr, "line 1: the first line must be the header reference,amount,status,updated_at\n");
        csv_rec_free(&rec);
        return -1;
    }
    csv_rec_free(&rec);
    struct seen seen = { 0 };
    while ((rc = csv_read(&c, &rec)) != 0) {
        if (rc < 0) {
            row_error(im, rec.line, rec.err_col, "%s", rec.err);
            im->nerrors++;
            csv_rec_free(&rec);
            continue;
        }
        if (rec.nfields == 1 && rec.flen[0] == 0) { csv_rec_free(&rec); continue; }   /* blank line */
        if (check_record(im, &rec, &seen)) im->nerrors++;
        csv_rec_free(&rec);
    }
    seen_free(&seen);
    if (im->nrows == 0 && im->nerrors == 0) {
        fprintf(stderr, "line 2: the file has a header but no orders\n");
        return -1;
    }
    return 0;
}

struct tally { long long created, updated, unchanged, stale, conflict; };

static int apply(PGconn *db, struct import *im, long long mid, const char *env, struct tally *t)
{
    for (int i = 0; i < im->nrows; i++) {
        struct row *r = &im->rows[i];
        switch (orders_put(db, mid, env, r->ref, r->units, r->status, r->ts, "csv")) {
        case ORDER_CREATED: t->created++; break;
        case ORDER_UPDATED: t->updated++; break;
        case ORDER_UNCHANGED: t->unchanged++; break;
        case ORDER_STALE: t->stale++; break;
        case ORDER_CONFLICT:
            fprintf(stderr, "line %d, column 4 (updated_at): the stored order has the same updated_at "
                            "and different content\n", r->line);
            t->conflict++;
            break;
        default:
            fprintf(stderr, "line %d: the database refused the row: %s", r->line, PQerrorMessage(db));
            return -1;
        }
    }
    return 0;
}

static int usage_err(const char *msg, const char *arg)
{
    return cli_usage_error("import-orders", "%s%s\nusage: raild import-orders --merchant ID --env sandbox|production "
                           "[--partial] [--db CONNINFO] FILE.csv", msg, arg ? arg : "");
}

int cmd_import_orders(int argc, char **argv)
{
    const char *db = NULL, *env = NULL, *file = NULL, *merchant = NULL;
    int partial = 0;
    long long mid = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            printf("usage: raild import-orders --merchant ID --env sandbox|production [--partial] [--db CONNINFO] FILE.csv\n"
                   "  FILE.csv: header reference,amount,status,updated_at; amounts in USDT (\"125.50\");\n"
                   "  status pending|paid|fulfilled|canceled|refunded; updated_at RFC 3339.\n"
                   "  Any bad row and nothing is imported, unless --partial (good rows imported,\n"
                   "  bad ones listed). Exit 0 all imported, 1 nothing imported, 3 partly imported.\n");
            return 0;
        } else if (!strcmp(a, "--partial")) partial = 1;
        else if (!strcmp(a, "--merchant") || !strcmp(a, "--env") || !strcmp(a, "--db")) {
            if (i + 1 >= argc) return usage_err(a, " needs a value");
            const char *v = argv[++i];
            if (!strcmp(a, "--merchant")) merchant = v;
            else if (!strcmp(a, "--env")) env = v;
            else db = v;
        } else if (a[0] == '-' && a[1]) return usage_err("unknown option ", a);
        else if (file) return usage_err("more than one file: ", a);
        else file = a;
    }
    if (!merchant || util_parse_i64(merchant, 1, 1LL << 62, &mid)) return usage_err("--merchant must be a merchant id", NULL);
    if (!env || (strcmp(env, "sandbox") && strcmp(env, "production")))
        return usage_err("--env must be sandbox or production", NULL);
    if (!file) return usage_err("no FILE.csv given", NULL);

    PGconn *conn = cli_db(db);
    if (!conn) return 1;
    char *exists = db_val(conn, "SELECT 1 FROM merchants WHERE id = $1::bigint", merchant);
    if (!exists) { PQfinish(conn); fprintf(stderr, "raild import-orders: no merchant %s\n", merchant); return 1; }
    free(exists);

    size_t len = 0;
    char *buf = read_file(file, &len);
    struct import im = { 0 };
    int rc = 1;
    if (!buf) goto out;
    if (parse(&im, buf, len)) { fprintf(stderr, "raild import-orders: nothing imported\n"); goto out; }
    if (im.nerrors && !partial) {
        fprintf(stderr, "raild import-orders: nothing imported: %d bad row%s (fix them, or --partial to import "
                        "the %d good ones)\n", im.nerrors, im.nerrors == 1 ? "" : "s", im.nrows);
        goto out;
    }
    struct tally t = { 0 };
    db_cmd(conn, "BEGIN");
    if (apply(conn, &im, mid, env, &t) || (t.conflict && !partial)) {
        db_cmd(conn, "ROLLBACK");
        fprintf(stderr, "raild import-orders: nothing imported\n");
        goto out;
    }
    json_t *after = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:i}", "file", file, "environment", env,
                              "created", t.created, "updated", t.updated, "unchanged", t.unchanged,
                              "stale", t.stale, "conflict", t.conflict, "skipped", im.nerrors);
    int bad = audit_write_cli(conn, "orders.import", "merchant", merchant, partial ? "import-orders --partial"
                              : "import-orders", NULL, after);
    json_decref(after);
    if (bad || db_cmd(conn, "COMMIT")) {
        db_cmd(conn, "ROLLBACK");
        fprintf(stderr, "raild import-orders: nothing imported: %s", PQerrorMessage(conn));
        goto out;
    }
    printf("import-orders: %d rows: %lld created, %lld updated, %lld unchanged, %lld older than stored (ignored)",
           im.nrows, t.created, t.updated, t.unchanged, t.stale);
    if (t.conflict || im.nerrors) printf(", %lld skipped", t.conflict + im.nerrors);
    printf("\n");
    rc = (t.conflict || im.nerrors) ? 3 : 0;
out:
    for (int i = 0; i < im.nrows; i++) {
        free(im.rows[i].ref);
        free(im.rows[i].units);
        free(im.rows[i].status);
        free(im.rows[i].ts);
    }
    free(im.rows);
    free(buf);
    PQfinish(conn);
    return rc;
}
