/* pgjson — see pgjson.h */
#include "raild/pgjson.h"
#include <stdlib.h>

json_t *pgj_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

json_t *pgj_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : json_integer(atoll(PQgetvalue(r, row, col)));
}
