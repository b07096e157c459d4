/* railtop — the operations console. main(): configuration, terminal set-up, and the
 * event loop: poll() on stdin and the PostgreSQL socket, nothing else. When nothing
 * changes the process sleeps in poll() and issues no queries. The services the views call
 * (the view stack, reloads, the status line) are in app.c. */
#include "app.h"
#include "core/util.h"
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct view_ops *const TAB_OPS[NTABS] = {
    &overview_ops, &payments_ops, &exceptions_ops, &webhooks_ops, &audit_ops, &recon_ops, &payouts_ops
};

static void on_resize(struct app *a)
{
    getmaxyx(stdscr, a->rows, a->cols);
    a->pending_paint = 1;
    if (a->rows >= MIN_ROWS && a->cols >= MIN_COLS) app_reload(a);
}

static void read_keys(struct app *a)
{
    wint_t wc;
    int rc;
    while (!a->quit && (rc = get_wch(&wc)) != ERR) {
        if (rc == KEY_CODE_YES && wc == KEY_RESIZE) { on_resize(a); continue; }
        keys_dispatch(a, (int)wc, rc == KEY_CODE_YES);
    }
}

static int poll_timeout(struct app *a)
{
    int64_t now = now_ms(), due = -1;
#define DUE(t) do { if (due < 0 || (t) < due) due = (t); } while (0)
    if (a->pending_reload && !a->paused && a->db_ok) DUE(a->last_paint + REPAINT_MIN_MS);
    if (a->pending_paint) DUE(now);
    if (!a->db_ok) DUE(a->db_retry_at);
    if (a->api_stale_since) DUE(a->api_retry_at);
    if (a->db_ok && !a->listen_ok) DUE(a->next_poll_at);
    if (a->reload_at) DUE(a->reload_at);
    /* ages on screen tick; redraw (no queries) twice a minute */
    DUE(a->last_paint + 30000);
#undef DUE
    int64_t t = due - now;
    return t < 0 ? 0 : t > 60000 ? 60000 : (int)t;
}

static void tick(struct app *a)
{
    int64_t now = now_ms();
    if (!a->db_ok && now >= a->db_retry_at && conn_open(a) == 0) {
        app_status(a, 0, "reconnected to the database");
        a->pending_reload = 1;
        a->last_paint = 0;
    }
    if (a->api_stale_since && now >= a->api_retry_at) api_whoami(a);
    if (a->db_ok && !a->listen_ok && now >= a->next_poll_at) {
        conn_poll_changes(a);
        a->next_poll_at = now + POLL_INTERVAL_MS;
    }
    if (a->reload_at && now >= a->reload_at) { a->reload_at = 0; a->pending_reload = 1; }
    if (a->pending_reload && !a->paused && a->db_ok && now - a->last_paint >= REPAINT_MIN_MS) {
        app_reload(a);
        app_trace(a, "reload");
    }
    if (a->pending_paint || now - a->last_paint >= 30000) {
        draw_all(a);
        a->last_paint = now;
        a->pending_paint = 0;
        app_trace(a, "repaint");
    }
}

static void loop(struct app *a)
{
    while (!a->quit) {
        struct pollfd p[2] = { { .fd = 0, .events = POLLIN } };
        int n = 1, s = conn_socket(a);
        if (s >= 0) { p[1].fd = s; p[1].events = POLLIN; n = 2; }
        int rc = poll(p, n, poll_timeout(a));
        if (rc < 0 && errno != EINTR) break;
        /* EINTR is usually SIGWINCH: get_wch then reports KEY_RESIZE */
        if ((rc < 0) || (rc > 0 && (p[0].revents & (POLLIN | POLLHUP)))) read_keys(a);
        if (rc > 0 && (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))) break;   /* terminal gone */
        if (rc > 0 && n == 2 && p[1].revents) conn_consume(a);
        if (a->quit) break;
        tick(a);
    }
}

static int check_terminal(void)
{
    if (!isatty(0) || !isatty(1)) {
        fprintf(stderr, "railtop: needs a terminal on stdin and stdout\n");
        return -1;
    }
    SCREEN *scr = newterm(NULL, stdout, stdin);     /* unlike initscr, returns NULL on failure */
    if (!scr) {
        const char *t = getenv("TERM");
        fprintf(stderr, "railtop: the terminal type '%s' is unknown here (TERM); try TERM=xterm-256color\n",
                t ? t : "");
        return -1;
    }
    return 0;
}

static void setup_terminal(struct app *a)
{
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    if (a->cfg.mouse) mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    if (has_colors() && !a->mono) {
        start_color();
        use_default_colors();
    }
    theme_apply(a->mono || !has_colors());
    getmaxyx(stdscr, a->rows, a->cols);
}

static int pick_theme(struct app *a)
{
    const char *nc = getenv("NO_COLOR");
    char err[512];
    a->mono = nc && *nc;
    const char *name = a->mono ? "mono" : a->cfg.theme[0] ? a->cfg.theme : "default";
    if (theme_load(name, err, sizeof err)) {
        fprintf(stderr, "railtop: %s\n", err);
        return -1;
    }
    if (!strcmp(name, "mono")) a->mono = 1;
    return 0;
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    static struct app app;
    struct app *a = &app;
    a->t_start = now_ms();
    int rc = config_load(&a->cfg, argc, argv);
    if (rc >= 0) return rc;
    if (pick_theme(a)) return 2;
    if (a->cfg.trace[0] && !(a->trace = fopen(a->cfg.trace, "a"))) {
        fprintf(stderr, "railtop: cannot open RAILTOP_TRACE file %s: %s\n", a->cfg.trace, strerror(errno));
        return 2;
    }
    app_trace(a, "start");
    signal(SIGPIPE, SIG_IGN);
    a->unicode = !a->cfg.ascii && !strcmp(nl_langinfo(CODESET), "UTF-8");
    api_init();
    if (a->cfg.key[0]) api_whoami(a);
    if (!a->cfg.env[0])
        snprintf(a->cfg.env, sizeof a->cfg.env, "%.15s", a->who.known ? a->who.env : "sandbox");
    for (int i = 0; i < NTABS; i++) a->tabs[i].ops = TAB_OPS[i];
    a->tab = TAB_START;
    if (check_terminal()) return 2;
    setup_terminal(a);
    conn_open(a);
    if (a->who.known && strcmp(a->who.env, a->cfg.env))
        app_status(a, 1, "the key is for %s but the console shows %s: actions are off (fix --env or the key)",
                   a->who.env, a->cfg.env);
    else if (a->who.err[0])
        app_status(a, 1, "%s", a->who.err);
    app_reload(a);
    draw_all(a);
    a->last_paint = now_ms();
    a->pending_paint = 0;
    app_trace(a, a->db_ok ? "first-complete-screen" : "first-screen-stale");
    loop(a);
    endwin();
    for (int i = 0; i < NTABS; i++) view_release(&a->tabs[i]);
    while (a->depth) view_release(&a->stack[--a->depth]);
    if (a->db) PQfinish(a->db);
    api_cleanup();
    if (a->trace) { app_trace(a, "exit"); fclose(a->trace); }
    return 0;
}
