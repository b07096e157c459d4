/* pgjson — a result column as a JSON value: null when the column is SQL NULL. The one copy of
 * what the API's row renderers (payments, exceptions, recon breaks, networks) all need. */
#ifndef RAILD_PGJSON_H
#define RAILD_PGJSON_H
#include <jansson.h>
#include <libpq-fe.h>

/* the column's text, or null */
json_t *pgj_str(const PGresult *r, int row, int col);
/* the column as an integer (a bigint's text), or null */
json_t *pgj_int(const PGresult *r, int row, int col);
#endif
