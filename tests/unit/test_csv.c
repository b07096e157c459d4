/* test_csv — the CSV reader behind `raild import-orders` and the shared order validators. */
#include "tap.h"
#include "raild/csv.h"
#include "raild/orders.h"
#include "core/amount.h"
#include "core/util.h"
#include <stdlib.h>

static int read_all(const char *buf, struct csv_rec *out, int max, int *errors)
{
    struct csv c;
    csv_init(&c, buf, strlen(buf));
    int n = 0, rc;
    struct csv_rec rec;
    *errors = 0;
    while ((rc = csv_read(&c, &rec)) != 0) {
        if (rc < 0) { (*errors)++; out[n < max ? n : max - 1] = rec; if (n < max) n++; continue; }
        if (n < max) out[n++] = rec; else csv_rec_free(&rec);
    }
    return n;
}

static void free_all(struct csv_rec *r, int n)
{
    for (int i = 0; i < n; i++) csv_rec_free(&r[i]);
}

int main(void)
{
    struct csv_rec r[8];
    int e, n;

    n = read_all("a,b,c\n1,2,3\n", r, 8, &e);
    ok(n == 2 && e == 0 && r[0].nfields == 3 && r[1].line == 2, "two plain records, line numbers");
    is_str(r[1].field[2], "3", "last field without the newline");
    free_all(r, n);

    n = read_all("\xEF\xBB\xBFref,\"x, \"\"y\"\"\"\r\nz,\"multi\nline\"\nlast,1", r, 8, &e);
    ok(n == 3 && e == 0, "BOM, quotes, CRLF, newline inside quotes, no final newline");
    is_str(r[0].field[0], "ref", "the BOM is not part of the first field");
    is_str(r[0].field[1], "x, \"y\"", "quoted comma and doubled quotes");
    is_str(r[1].field[1], "multi\nline", "newline inside quotes kept");
    is_int(r[2].line, 4, "the record after a quoted newline starts on line 4");
    free_all(r, n);

    n = read_all("a,\"open\nb,c\n", r, 8, &e);
    ok(e == 1 && n >= 1 && r[0].err_col == 2 && strstr(r[0].err, "unterminated"), "unterminated quote: column 2");
    free_all(r, n);
    n = read_all("a,\"x\"y,c\nok,1\n", r, 8, &e);
    ok(e == 1 && r[0].err_col == 2 && strstr(r[0].err, "after a closing quote"), "text after a closing quote");
    ok(n == 2 && r[1].nfields == 2 && r[1].line == 2, "the reader recovers on the next line");
    free_all(r, n);
    n = read_all("a,b\"c\n", r, 8, &e);
    ok(e == 1 && r[0].err_col == 2, "a quote inside an unquoted field");
    free_all(r, n);
    n = read_all("a,,\n", r, 8, &e);
    ok(n == 1 && r[0].nfields == 3 && r[0].flen[1] == 0 && r[0].flen[2] == 0, "empty fields count");
    free_all(r, n);

    size_t bad = 0;
    ok(csv_utf8_valid("plain", 5, &bad), "ASCII is UTF-8");
    ok(csv_utf8_valid("\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80", 9, &bad), "2-, 3- and 4-byte sequences");
    ok(!csv_utf8_valid("ab\xff", 3, &bad) && bad == 2, "0xFF is not UTF-8 (offset 2)");
    ok(!csv_utf8_valid("\xc0\xaf", 2, &bad), "overlong encoding refused");
    ok(!csv_utf8_valid("\xed\xa0\x80", 3, &bad), "surrogate refused");
    ok(!csv_utf8_valid("\xe2\x82", 2, &bad), "truncated sequence refused");
    ok(!csv_utf8_valid("a\0b", 3, &bad) && bad == 1, "NUL refused");

    char u[64];
    ok(orders_amount_units("125.50", u, sizeof u) == 0, "125.50 parses");
    is_str(u, "125500000000000000000", "in 10^-18 units");
    ok(orders_amount_units("0.000000000000000001", u, sizeof u) == 0 && !strcmp(u, "1"), "the smallest unit");
    ok(orders_amount_units("1.0000000000000000001", u, sizeof u) != 0, "19 decimals refused");
    ok(orders_amount_units("-1", u, sizeof u) != 0 && orders_amount_units("1e3", u, sizeof u) != 0 &&
       orders_amount_units("0", u, sizeof u) != 0 && orders_amount_units("", u, sizeof u) != 0,
       "sign, exponent, zero, empty refused");
    ok(orders_status_valid("fulfilled") && !orders_status_valid("Paid") && !orders_status_valid(""), "statuses");
    ok(util_rfc3339_valid("2024-02-29T23:59:59Z") && util_rfc3339_valid("2026-11-26T12:00:00.123456+05:30"),
       "valid RFC 3339 times (leap day, fraction, offset)");
    ok(!util_rfc3339_valid("2026-02-29T00:00:00Z") && !util_rfc3339_valid("2026-11-26 12:00:00Z") &&
       !util_rfc3339_valid("2026-11-26T12:00:00") && !util_rfc3339_valid("2026-11-26T12:00:60Z") &&
       !util_rfc3339_valid("2026-11-26T12:00:00+24:00") && !util_rfc3339_valid("infinity"),
       "invalid times refused (no leap day, space, no zone, second 60, offset 24, infinity)");
    ok(orders_reference_valid("Bestellung-\xc3\xbc 'x;--") && !orders_reference_valid("") &&
       !orders_reference_valid("a\x01") && !orders_reference_valid("a\xc2\x85") && !orders_reference_valid("\xff"),
       "references: UTF-8 text without control characters");
    return tap_done();
}
