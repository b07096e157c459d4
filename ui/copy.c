/* copy — y / Y put the selected row's id, or the row as tab-separated text, on the
 * clipboard with OSC 52 (as k9s, pg_activity and gitui do). tmux takes it into its paste
 * buffer and on to the outer terminal with `set-clipboard on`. Nothing is written when
 * stdout is not a terminal. The status line says what was copied. */
#include "app.h"
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COPY_MAX 8192

static int osc52(const char *text)
{
    size_t n = strlen(text);
    if (n > COPY_MAX) n = COPY_MAX;
    unsigned char *b64 = malloc(4 * ((n + 2) / 3) + 1);
    if (!b64) return -1;
    EVP_EncodeBlock(b64, (const unsigned char *)text, (int)n);
    fprintf(stdout, "\033]52;c;%s\a", b64);
    fflush(stdout);
    free(b64);
    return 0;
}

/* the raw columns of the selected row, without the paging keys at the end */
static void row_tsv(struct view *v, char *out, size_t n)
{
    int nf = PQnfields(v->g.res), k = 0;
    while (view_keys(v) && view_keys(v)[k]) k++;
    size_t len = 0;
    out[0] = 0;
    for (int c = 0; c < nf - k && len + 1 < n; c++) {
        const char *val = grid_val(v, v->g.cur, c);
        len += (size_t)snprintf(out + len, n - len, "%s", c ? "\t" : "");
        for (const char *p = val; *p && len + 1 < n; p++) out[len++] = (*p == '\t' || *p == '\n') ? ' ' : *p;
        out[len] = 0;
    }
}

int copy_request(struct app *a, struct view *v, enum req r)
{
    if (r != REQ_COPYID && r != REQ_COPYROW) return 0;
    if (!grid_sel(v, 0)) { app_status(a, 1, "nothing selected to copy"); return 1; }
    if (!isatty(STDOUT_FILENO)) { app_status(a, 1, "copy needs a terminal (stdout is not one)"); return 1; }
    static char text[COPY_MAX + 1];
    if (r == REQ_COPYID) snprintf(text, sizeof text, "%s", grid_sel(v, 0));
    else row_tsv(v, text, sizeof text);
    if (osc52(text)) { app_status(a, 1, "copy failed"); return 1; }
    if (r == REQ_COPYID) app_status(a, 0, "copied %s", text);
    else app_status(a, 0, "copied the row of %s (%zu bytes, tab-separated)", grid_sel(v, 0), strlen(text));
    return 1;
}
