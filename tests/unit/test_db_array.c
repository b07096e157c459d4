/* db_array: a batch's column as a PostgreSQL array literal (core/db.c). What PostgreSQL's
 * array_in reads back must be exactly the elements put in: quotes and backslashes escaped,
 * separators and braces inside quotes, NULL distinct from the text "NULL" and from "". */
#include "core/db.h"
#include "tap.h"
#include <stdlib.h>

int main(void)
{
    struct db_array a = { 0 };
    is_str(db_array_text(&a), "{}", "an empty column is {}");
    db_array_free(&a);

    db_array_str(&a, "0xabc");
    is_str(db_array_text(&a), "{\"0xabc\"}", "one element, quoted");
    db_array_str(&a, NULL);
    db_array_str(&a, "");
    db_array_str(&a, "NULL");
    is_str(db_array_text(&a), "{\"0xabc\",NULL,\"\",\"NULL\"}",
           "SQL NULL unquoted; the empty text and the text NULL quoted");
    db_array_free(&a);

    db_array_str(&a, "{\"k\":\"a\\\\b\"}");
    db_array_str(&a, "x,y} {z");
    is_str(db_array_text(&a), "{\"{\\\"k\\\":\\\"a\\\\\\\\b\\\"}\",\"x,y} {z\"}",
           "quotes and backslashes escaped; commas and braces inside quotes as they are");
    db_array_free(&a);

    db_array_ll(&a, 0);
    db_array_ll(&a, -42);
    db_array_ll(&a, 9223372036854775807LL);
    is_str(db_array_text(&a), "{0,-42,9223372036854775807}", "integers bare, to the 64-bit limit");
    db_array_free(&a);

    db_array_bool(&a, 1);
    db_array_bool(&a, 0);
    is_str(db_array_text(&a), "{t,f}", "booleans t and f");
    db_array_ll(&a, 7);
    is_str(db_array_text(&a), "{t,f,7}", "adding after reading the text goes on from where it was");
    db_array_free(&a);

    char big[5000];
    memset(big, '"', sizeof big - 1);
    big[sizeof big - 1] = 0;
    for (int i = 0; i < 300; i++) db_array_str(&a, big);
    const char *t = db_array_text(&a);
    is_int((long long)strlen(t), 2 + 300 * (2 + 2 * 4999) + 299, "300 elements of 4,999 quotes each: every quote escaped, the buffer grown");
    db_array_free(&a);
    ok(a.buf == NULL && a.len == 0, "free leaves it empty and reusable");
    return tap_done();
}
