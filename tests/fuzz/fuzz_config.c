/* railtop's config file: any content loads or stops with one `file:line: …` message naming
 * what to fix; never a crash, never a value longer than its field. Includes the config
 * translation unit for its static reader, fed through a real file (RAILTOP_CONFIG). */
#include "fuzz.h"
#include "../../ui/config.c"
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/railtop-fuzz-config.%d", (int)getpid());
        setenv("RAILTOP_CONFIG", path, 1);
    }
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(d, 1, n, f);
    fclose(f);
    struct settings s;
    memset(&s, 0, sizeof s);
    int rc = read_config_file(&s);
    FUZZ_CHECK(rc == 0 || rc == -1 || rc == 2, "rc %d", rc);
    FUZZ_CHECK(strlen(s.db) < sizeof s.db && strlen(s.env) < sizeof s.env && strlen(s.theme) < sizeof s.theme,
               "field overrun");
    return 0;
}
