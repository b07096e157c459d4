/* exc_catalog — the exception types of DESIGN §4 and the resolutions each offers.
 * One table for raild (which enforces it) and the console (which builds its menus
 * from it), so the two can never disagree. */
#ifndef CORE_EXC_CATALOG_H
#define CORE_EXC_CATALOG_H

/* the types, NULL-terminated: the nine of DESIGN §4, then recon_break (a
 * reconciliation break escalated by finance, DESIGN §6) */
extern const char *const exc_types[];
int exc_type_valid(const char *type);
/* resolutions allowed for a type, NULL-terminated (NULL for an unknown type) */
const char *const *exc_resolutions(const char *type);
int exc_resolution_allowed(const char *type, const char *resolution);
#endif
