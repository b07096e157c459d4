/* theme files (railtop): every line is a style or a `file:line`-style error, never a crash,
 * and an accepted line sets that style. Includes the theme translation unit for its static
 * line parser. */
#include "fuzz.h"
#include "../../ui/theme.c"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    char *s = fuzz_str(d, n);
    char *save = NULL;
    int no = 0;
    for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char err[256] = "", where[32];
        snprintf(where, sizeof where, "fuzz.theme:%d", ++no);
        memset(g_theme, 0, sizeof g_theme);
        int rc = parse_line(l, where, err, sizeof err);
        FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
        if (rc) {
            FUZZ_CHECK(!strncmp(err, where, strlen(where)), "error '%s' does not say where", err);
        } else {
            int set = 0;
            for (int i = 0; i < S__COUNT; i++) set += g_theme[i].set;
            FUZZ_CHECK(set == 1, "an accepted line set %d styles", set);
        }
    }
    free(s);
    return 0;
}
