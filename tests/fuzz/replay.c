/* replay — runs a harness's corpus without libFuzzer: every file named on the command line
 * (or every file of a directory) through LLVMFuzzerTestOneInput once. Prints TAP. */
#include "fuzz.h"
#include <dirent.h>
#include <sys/stat.h>

static int n_ok;

static int one(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) { printf("not ok %d - cannot read %s\n", ++n_ok, path); return 1; }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    size_t got = len > 0 ? fread(b, 1, (size_t)len, f) : 0;
    fclose(f);
    LLVMFuzzerTestOneInput(b, got);     /* a failed property aborts the whole run */
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0, bad = 0;
#ifdef FUZZ_CORPUS
    char *dflt[] = { argv[0], FUZZ_CORPUS, NULL };      /* run from the top of the tree */
    if (argc < 2) { argv = dflt; argc = 2; }
#endif
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.') continue;
                char p[4096];
                snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
                bad += one(p);
                files++;
            }
            if (d) closedir(d);
        } else {
            bad += one(argv[i]);
            files++;
        }
    }
    printf("%s 1 - %d corpus files replayed without a crash or a failed property\n", bad || !files ? "not ok" : "ok",
           files);
    printf("1..1\n");
    return bad || !files;
}
