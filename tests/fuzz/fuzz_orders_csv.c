/* the orders CSV import (raild import-orders): any file is either refused with line and
 * column errors or gives rows that each pass the API's own validators. Includes the
 * import's translation unit to reach its static parse(). */
#include "fuzz.h"
#include "../../src/raild/orders_import.c"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    struct import im = { 0 };
    int rc = parse(&im, (const char *)d, n);
    FUZZ_CHECK(rc == 0 || rc == -1, "parse returned %d", rc);
    for (int i = 0; i < im.nrows; i++) {
        struct row *r = &im.rows[i];
        u128 v;
        FUZZ_CHECK(orders_reference_valid(r->ref), "row %d: reference '%s' accepted", r->line, r->ref);
        FUZZ_CHECK(orders_status_valid(r->status), "row %d: status '%s' accepted", r->line, r->status);
        FUZZ_CHECK(util_rfc3339_valid(r->ts), "row %d: time '%s' accepted", r->line, r->ts);
        FUZZ_CHECK(amount_parse_units(r->units, &v) == 0 && v > 0, "row %d: units '%s'", r->line, r->units);
        FUZZ_CHECK(r->line >= 2, "a data row on line %d", r->line);
        free(r->ref); free(r->units); free(r->status); free(r->ts);
    }
    free(im.rows);
    return 0;
}
