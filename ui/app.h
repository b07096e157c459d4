/* app — the console's shared state and the interfaces between its parts.
 *
 * Shape (like htop/tig): one file per view behind `struct view_ops`; one request table
 * (requests.h, an X-macro) drives key dispatch, the bottom hint line and the `?` help
 * screen; themes are data files (themes/README.md). The console READS PostgreSQL with
 * the read-only role and ACTS only through raild's HTTP API with the operator's key. */
#ifndef UI_APP_H
#define UI_APP_H
#include <libpq-fe.h>
#include <jansson.h>
#include <stdint.h>
#include <stddef.h>
#include <time.h>
#include "requests.h"

#define RAILTOP_VERSION "0.1.0"
#define MIN_COLS 80
#define MIN_ROWS 24
#define STATEMENT_TIMEOUT_MS 2000
#define REPAINT_MIN_MS 34          /* coalesce: at most 30 repaints a second */
#define POLL_INTERVAL_MS 1000      /* change_log polling on a hot standby */

/* ------------------------------------------------------------------ config */
struct config {
    char conninfo[1024];      /* libpq conninfo/URI; "" = PG* variables / service file */
    char api[512];            /* raild base URL */
    char key[128];            /* operator key (never from argv) */
    char key_source[600];     /* "RAILTOP_KEY" or the key file path, for messages */
    char theme[64];
    char env[16];             /* environment looked at: sandbox | production | "" = key's */
    char trace[512];          /* RAILTOP_TRACE file */
    int read_only;
    int ascii;                /* force ASCII box drawing */
    int mouse;                /* mouse = on: click selects a row or a tab, the wheel scrolls */
    int graphs;               /* graphs = braille|block|ascii (enum graph_mode); 0 = by the terminal */
    int theme_explicit;
};
/* Parses argv, config file and environment. Prints to stderr and returns exit code >= 0
 * when the program should exit (--help, --version, bad input), -1 to continue. */
int config_load(struct config *c, int argc, char **argv);

/* ------------------------------------------------------------------ theme */
enum style {
    S_NORMAL, S_DIM, S_HEADER, S_HEADER_PROD, S_TAB, S_TAB_ACTIVE, S_TITLE, S_COLHEAD,
    S_SELECTED, S_BORDER, S_HINT, S_HINT_KEY, S_HINT_OFF, S_STATUS_OK, S_STATUS_ERR,
    S_STALE, S_PAUSED, S_DIALOG, S_DIALOG_TITLE, S_BUTTON, S_BUTTON_FOCUS, S_PROD_WARN,
    S_ST_AWAITING, S_ST_DETECTED, S_ST_CONFIRMING, S_ST_CONFIRMED, S_ST_FINALIZED,
    S_ST_EXPIRED, S_ST_CANCELED, S_SEV1, S_SEV2, S_SEV3, S_SEV4, S_OVERDUE, S_GOOD, S_BAD,
    S_WARN, S_LABEL, S_MATCH, S__COUNT
};
extern const char *const style_names[S__COUNT];
/* Loads theme `name` (search: $XDG_CONFIG_HOME/railtop/themes, then the themes/ dir
 * beside the binary). 0 ok; -1 with err filled. */
int theme_load(const char *name, char *err, size_t errlen);
/* Applies the loaded theme to curses colour pairs (after start_color). */
void theme_apply(int mono);
int style_attr(enum style s);

/* ------------------------------------------------------------------ views */
struct app;
struct view;

/* A query under construction: constant SQL fragments, values only as $n parameters. */
/* A query being built: SQL that grows as needed and its parameters. Running out of memory
 * or of parameter slots marks it broken; the grid then refuses to run it and says so
 * (a truncated WHERE clause would show the wrong rows). Free with qb_free. */
#define QB_MAXPARAMS 24
struct qb { char *sql; size_t len, cap; const char *p[QB_MAXPARAMS]; int n; int broken; };
void qb_free(struct qb *q);

/* A keyset-paginated list: the page on screen, the cursor, and the key of the first row. */
#define GRID_MAXKEYS 4
struct grid {
    PGresult *res;
    int nrows;                /* rows in res that are shown (<= page) */
    int more_below;           /* the query returned page+1 rows */
    int cur;                  /* cursor index within the page */
    int page;                 /* rows that fit on screen */
    int has_anchor;
    char anchor[GRID_MAXKEYS][80];
    char sel_id[80];          /* column 0 of the selected row, to follow it across reloads */
    int row0;                 /* the screen row of the first data row, as last drawn (mouse) */
};

/* A scrolling document (detail screens): lines of styled segments. */
struct doc_seg { enum style st; char *text; };
struct doc_line { struct doc_seg *segs; int nsegs; };
struct doc {
    struct doc_line *lines;
    int nlines, cap;
    int top;                  /* first line shown */
};

/* A sort order a list offers: what the column header shows it on, and the key columns
 * (an index serves each: see 0060_console_sorts.sql) that keyset paging then follows. */
struct sort_opt {
    const char *label;                /* "amount": the status line */
    const char *col_head;             /* the column header that gets the arrow */
    const char *const *key_cols;
    const char *const *key_types;
    int desc;                         /* natural direction of the keys */
    int arrow_flip;                   /* the column reads the other way (5 - severity: most severe first) */
};

/* What a view's request handler asks of the main loop (htop's Htop_Reaction): RX_UNHANDLED,
 * the request is not the view's and the generic handler takes it; RX_HANDLED, it was (repaint);
 * RX_RELOAD as well, the view is queried again (an action went to raild: its data changed).
 * Actions return RX_HANDLED alone when the operator cancels: nothing changed. */
enum { RX_UNHANDLED = 0, RX_HANDLED = 1 << 0, RX_RELOAD = 1 << 1 };
typedef unsigned reaction;

struct view_ops {
    const char *name;                 /* command-mode name: "payments" */
    const char *title;                /* tab / title text */
    unsigned mask;                    /* VM_* bit, for the request table */
    int tab;                          /* 1-based tab number, 0 = sub-view */
    const char *const *tables;        /* change_log tables that affect it */
    /* list views: key columns (SQL expressions, one direction) and their types, for keyset
     * paging; build() writes SELECT … WHERE … whose LAST columns are those keys and whose
     * first column is a stable row id; chrome = screen rows the view uses above the list */
    const char *const *key_cols;
    const char *const *key_types;
    int key_desc;
    void (*build)(struct app *, struct view *, struct qb *);
    int chrome;
    int (*load)(struct app *, struct view *);              /* docs: 0 ok, -1 db error */
    void (*draw)(struct app *, struct view *, int y, int h);
    reaction (*request)(struct app *, struct view *, enum req);   /* what the main loop does next */
    /* command-mode args (key=value); 0 ok, -1 with err */
    int (*command)(struct app *, struct view *, int argc, char **argv, char *err, size_t errlen);
    /* why a request is unavailable right now (no selection…), or NULL */
    const char *(*unavailable)(struct app *, struct view *, enum req);
    void (*leave)(struct view *);
    int tag_ver_col;                  /* taggable lists: the column holding the row's version */
    /* command mode: the key=value names the view takes, and a key's fixed values (NULL:
     * none, or from the database for merchant and rail), for Tab completion */
    const char *const *arg_keys;
    const char *const *(*arg_values)(const char *key);
    const struct sort_opt *sorts;     /* NULL-label terminated; [0] is the default; NULL: one order */
};

/* Tagged rows of a list (neomutt's tag prefix, htop's foreachRow): the row id (column 0)
 * and the version the operator saw when tagging, so a bulk action is refused (409) for a
 * row that changed since, never applied blindly. */
#define TAGS_MAX 1000
struct tags {
    int n, mark;                      /* mark: V's first end (row index on the page + 1), 0 none */
    char (*id)[64];
    char (*ver)[16];
};

#define VIEW_MAXARGS 8
struct view {
    const struct view_ops *ops;
    struct grid g;
    struct doc d;
    char filter[128];
    int filter_not;
    int nargs;
    char args[VIEW_MAXARGS][2][96];   /* key=value filters from command mode */
    struct tags tags;
    int sort, sort_rev;               /* index into ops->sorts, and S's reversal */
    char target[96];                  /* the object a sub-view shows */
    char target2[96];
};

extern const struct view_ops overview_ops, payments_ops, detail_ops, exceptions_ops, webhooks_ops,
    deliveries_ops, delivery_ops, audit_ops, recon_ops, audit_entry_ops, exception_ops, break_ops, networks_ops,
    payouts_ops, payout_ops, changes_ops;

/* The chains of the console's environment, for the strip on the tabs line (view_networks.c):
 * reloaded when watcher_status or payments change (heads move payments), never on a timer. */
#define NETS_MAX 16
struct net_info {
    char name[40], rail[40], state[16];   /* state: raild's watcher, "" when fed from outside */
    long long head, fin, lag;             /* -1 unknown */
    long long age_ms;                     /* since the head last changed, when loaded */
    int block_ms, rpc_error;              /* an RPC error in the last 5 minutes */
};

/* ------------------------------------------------------------------ app */
struct who {
    int known;
    char name[256], role[16], env[16];
    char err[256];
};

#define STACK_MAX 8
#define NTABS 7
#define TAB_START 1                       /* the console opens on Payments; 0 is the Overview */
struct app {
    struct config cfg;
    PGconn *db;
    char dbname[256];
    int db_ok;
    int listen_ok;                    /* 0 → poll change_log */
    long long change_id;              /* last change_log id seen */
    time_t db_stale_since, api_stale_since;
    int64_t db_retry_at, api_retry_at;
    int db_backoff, api_backoff;
    int64_t next_poll_at;
    struct who who;
    int unicode;
    int mono;
    int rows, cols;
    int paused;
    int pending_reload;               /* the screen's data changed */
    int64_t reload_at;                /* a view asked to be reloaded then (0 = never) */
    int pending_paint;
    int64_t last_paint;
    char changed[16][32];             /* tables changed since the last reload */
    int nchanged;
    char status[512];
    int status_err;
    int quit;
    struct view tabs[NTABS];          /* the top-level views, one per tab */
    int tab;                          /* current tab */
    struct view stack[STACK_MAX];     /* sub-views pushed over the tab */
    int depth;
    FILE *trace;
    int first_complete;
    int64_t t_start;
    struct net_info nets[NETS_MAX];
    int nnets, nets_dirty;
    int64_t nets_loaded_at;
};

struct view *app_view(struct app *a);
void app_push(struct app *a, const struct view_ops *ops, const char *target, const char *target2);
void app_pop(struct app *a);
/* frees what a view holds (its rows, tags, document) and calls its leave() */
void view_release(struct view *v);
void app_switch_tab(struct app *a, int tab);
void app_reload(struct app *a);        /* query the current view now */
void nets_load(struct app *a);         /* view_networks.c */
void nets_strip(struct app *a, char *out, size_t n, int maxw, int *alarm);
void app_status(struct app *a, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void app_trace(struct app *a, const char *what);
int app_can_mutate(struct app *a, const char **why);
int64_t now_ms(void);
int64_t now_us(void);

/* ------------------------------------------------------------------ database */
int conn_open(struct app *a);                 /* 0 ok, -1 (stale set) */
void conn_lost(struct app *a, const char *why);
/* Runs a parameterised query; on connection loss marks stale and returns NULL.
 * On other errors sets the status line and returns NULL. */
PGresult *conn_query(struct app *a, const char *sql, int n, const char *const *params);
#define cq(a, sql, ...) conn_query((a), (sql), DB_NARGS(__VA_ARGS__), (const char *const[]){ __VA_ARGS__ })
#define cq0(a, sql) conn_query((a), (sql), 0, NULL)
/* Reads notifications (or polls change_log on a standby); marks pending_reload if a
 * table the current view shows changed. */
void conn_consume(struct app *a);
void conn_poll_changes(struct app *a);
int conn_socket(struct app *a);
int view_watches(struct view *v, const char *table);

/* ------------------------------------------------------------------ api */
/* Calls raild. Returns the HTTP status (0 = transport failure); *out gets the parsed
 * JSON (caller decrefs) or NULL; msg gets "code: message" on failure. */
int api_call(struct app *a, const char *method, const char *path, json_t *body /* borrowed */,
             json_t **out, char *msg, size_t msglen);
void api_whoami(struct app *a);
/* The same, for a non-JSON reply (CSV): *body gets the malloc'd bytes on 2xx. */
int api_fetch(struct app *a, const char *path, char **body, size_t *len, char *msg, size_t msglen);
void api_init(void);
void api_cleanup(void);

/* ------------------------------------------------------------------ drawing */
void draw_all(struct app *a);
int tab_label(struct app *a, int i, char *out, size_t n);   /* the tabs line's label of tab i; its width */
void draw_text(int y, int x, int w, enum style st, const char *s);   /* pad/truncate by width */
int text_width(const char *s);
void draw_hline(struct app *a, int y, int x, int w, enum style st);
void draw_box(struct app *a, int y, int x, int h, int w, enum style st);
void fmt_age(long long secs, char *out, size_t n);
void fmt_since(const char *epoch, char *out, size_t n);
void fmt_amount(const char *units, int decimals, char *out, size_t n);
enum style state_style(const char *state);

/* grid: keyset list helpers (grid.c) */
void qb_init(struct qb *q, const char *select_from_where);
void qb_and(struct qb *q, const char *frag_with_pct_d, const char *val);  /* frag has one %d */
void qb_add(struct qb *q, const char *sql);                              /* constant SQL */
int grid_load(struct app *a, struct view *v);
/* the active sort's key columns (or the view's), their types and direction */
const char *const *view_keys(const struct view *v);
const char *const *view_key_types(const struct view *v);
int view_key_desc(const struct view *v);
/* "a, b" of view_keys(v), for a SELECT list that must end with the keys */
void view_key_list(const struct view *v, char *out, size_t n);
/* s / S on a list with sorts. 1 handled. */
int sort_request(struct app *a, struct view *v, enum req r);
/* the view's query from the top (filter and arguments applied), up to limit rows */
PGresult *grid_query_top(struct app *a, struct view *v, int limit);
int grid_request(struct app *a, struct view *v, enum req r);
const char *grid_val(struct view *v, int row, int col);
const char *grid_sel(struct view *v, int col);       /* selected row's column, or NULL */
int grid_isnull(struct view *v, int row, int col);
void grid_free(struct grid *g);
struct gcol { const char *head; int width; int right; };  /* width 0 = fill */
typedef enum style (*cell_fn)(struct app *, struct view *, int row, int col, char *buf, size_t n);
void grid_draw(struct app *a, struct view *v, int y, int h, const struct gcol *cols, int ncols, cell_fn cell);
void view_filter_sql(struct view *v, struct qb *q, const char *text_expr);
const char *view_arg(struct view *v, const char *key);

/* graphs (graph.c): the Overview's area graphs and sparklines */
enum graph_mode { GRAPH_AUTO, GRAPH_BRAILLE, GRAPH_BLOCK, GRAPH_ASCII };
enum { GRAPH_SUM, GRAPH_MAX, GRAPH_LAST };
int graph_mode_parse(const char *s);                 /* braille | block | ascii; -1 otherwise */
const char *graph_mode_name(int mode);
int graph_mode(struct app *a, int asked);            /* asked (0: the config's) as the terminal allows */
int graph_per_cell(int mode);                        /* samples per column */
/* w columns, h rows at (y, x) of w * graph_per_cell(mode) samples; has[i] 0 = no data */
void graph_draw(struct app *a, int mode, int y, int x, int h, int w, const long long *v, const unsigned char *has,
                long long max, enum style st);
void graph_resample(const long long *src, const unsigned char *src_has, int n, long long *dst, unsigned char *dst_has,
                    int m, int how);

/* a mouse event (mouse.c): a click on a tab or a row, the wheel. */
void mouse_event(struct app *a);

/* x / w / b from a payment, P / E from a delivery or break: the related views (jump.c) */
int jump_request(struct app *a, struct view *v, enum req r);

/* y / Y: the selected row's id or the row to the clipboard (copy.c). 1 handled. */
int copy_request(struct app *a, struct view *v, enum req r);

/* tags (tags.c) */
int tags_has(const struct view *v, const char *id);
void tags_clear(struct view *v);
void tags_remove(struct view *v, const char *id);
/* Space, V, *, u on a taggable list. 1 handled. */
reaction tags_request(struct app *a, struct view *v, enum req r);
/* Sends the tagged rows to a bulk endpoint (path) in chunks of 50 — base (borrowed) plus
 * "items": [{id[, version]}] — with a progress line (Esc stops between chunks), then shows
 * what succeeded and what failed and why; rows that succeeded are untagged. */
reaction tags_bulk_run(struct app *a, struct view *v, const char *path, json_t *base, int with_version, const char *id_prefix,
                   const char *verb);
/* A bulk action without versions on the tagged rows, from the operator's note to the result:
 * the note (the request's `field`; required or not), the confirmation of `what`, then
 * tags_bulk_run. A cancel at either step changes nothing. */
struct tags_bulk {
    const char *prompt_title, *prompt, *field;
    int required;
    const char *confirm_title, *button, *verb, *path, *id_prefix;
};
reaction tags_bulk_confirm(struct app *a, struct view *v, const struct tags_bulk *b, const char *what);
/* "{id1,id2,…}" for `= ANY($1::text[])` (ids are [a-z0-9_]); malloc'd */
char *tags_array(const struct view *v);

/* doc (doc.c) */
void doc_clear(struct doc *d);
/* A detail view's load starts here: the document cleared (its scroll position kept in *top
 * unless top is NULL) and the row of `sql` ($1 = the view's target) returned — or NULL when
 * the query failed (the status line says why) or found nothing (the document says
 * " no WHAT<target>"), and load() returns -1. doc_one_end restores the position; returns 0. */
PGresult *doc_one_begin(struct app *a, struct view *v, const char *what, const char *sql, int *top);
int doc_one_end(struct view *v, int top);
/* A detail view's plain fields: one "label  value" line each, the value from row 0 of r. */
struct doc_field { const char *label; enum style st; int col; };
void doc_fields(struct doc *d, PGresult *r, const struct doc_field *f, int n);
void doc_add(struct doc *d, enum style st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void doc_nl(struct doc *d);
void doc_kv(struct doc *d, const char *label, enum style st, const char *value);
void doc_draw(struct app *a, struct view *v, int y, int h);
int doc_request(struct app *a, struct view *v, enum req r);

/* dialogs (dialog.c) — modal; return after the operator decides */
int dlg_confirm(struct app *a, const char *title, const char *const *lines, int nlines, const char *action);
int dlg_menu(struct app *a, const char *title, const char *const *items, int n);
int dlg_prompt(struct app *a, const char *title, const char *label, char *buf, size_t n, int required);
void dlg_help(struct app *a);

/* keys and commands (keys.c, cmd.c) */
void keys_dispatch(struct app *a, int ch, int is_key);
void keys_draw_hints(struct app *a, int y);
int role_ok(struct app *a, int rr, const char **need);
const char *role_name(int rr);
int cmd_run(struct app *a, const char *line);
void cmd_filter(struct app *a);
void cmd_prompt(struct app *a);
int cmd_args(struct view *v, int argc, char **argv, const char *const *keys, char *err, size_t errlen);
int check_value(const char *key, const char *val, const char *const *allowed, char *err, size_t errlen);
/* A filter's values: the catalogue's list (core/catalog.h) with the console's own words
 * around it ("open" for several states, "all"), each NULL to leave out. Fills out (n >=
 * the list's length + 3) and returns it. */
const char *const *filter_values(const char *first, const char *const *catalog, const char *last, const char **out,
                                 size_t n);

/* since=: today | yesterday | YYYY-MM-DD | Nh | Nd → unix seconds as text; 0 ok, -1 not a period */
int since_epoch(const char *txt, char *out, size_t n);
int search_payment(struct app *a, const char *title, const char *mid, char *out, size_t n);

/* exception resolutions per type (DESIGN §4) */
#include "core/exc_catalog.h"   /* exc_resolutions(): the menu of resolutions per type */

#include "core/db.h"
#endif
