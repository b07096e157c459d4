/* config — flags, the config file ($XDG_CONFIG_HOME/railtop/config) and environment.
 * Precedence: flag > environment > config file > default. Every value is validated and a
 * bad one stops the program with a message saying what to fix. The API key never comes
 * from argv: RAILTOP_KEY or a key file that only its owner can read. */
#include "app.h"
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char USAGE[] =
    "usage: railtop [options]\n"
    "\n"
    "The railtop operations console: live payments, exceptions, webhooks and the audit log.\n"
    "Reads PostgreSQL with a read-only role; acts only through raild's API with your key.\n"
    "\n"
    "  --db CONNINFO      libpq connection string or URI (default: PG* variables, service file)\n"
    "  --api URL          raild base URL, e.g. http://127.0.0.1:8080 (env RAILTOP_API)\n"
    "  --key-file PATH    file holding your API key; must not be group/world readable\n"
    "                     (or set RAILTOP_KEY; a key is never accepted on the command line)\n"
    "  --env ENV          environment to look at: sandbox | production (default: your key's)\n"
    "  --theme NAME       default | light | high-contrast | mono, or a theme in\n"
    "                     $XDG_CONFIG_HOME/railtop/themes/NAME.theme (NO_COLOR forces mono)\n"
    "  --read-only        no mutating actions at all\n"
    "  --ascii            ASCII box drawing instead of UTF-8\n"
    "  --help, --version\n"
    "  --keys-markdown    print the key table (ui/README.md's, generated from it) and exit\n"
    "\n"
    "Config file: $XDG_CONFIG_HOME/railtop/config (default ~/.config/railtop/config), lines\n"
    "  key = value   with keys: db, api, key_file, env, theme, read_only, ascii, mouse, graphs, and\n"
    "  bind = REQUEST KEY / unbind = REQUEST  (names as in the ? help: bind = claim C)\n"
    "Environment: RAILTOP_API, RAILTOP_KEY, RAILTOP_CONFIG (another config file),\n"
    "  RAILTOP_TRACE (append timing milestones to a file), NO_COLOR, PG*.\n"
    "In the console press ? for every key.\n";

static int bad(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "railtop: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    return 2;
}

static int valid_url(const char *u)
{
    if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) return 0;
    const char *host = strstr(u, "//") + 2;
    if (!*host || *host == '/') return 0;
    for (const char *p = u; *p; p++)
        if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20) return 0;
    return strlen(u) < 400;
}

static int valid_key(const char *k)
{
    size_t n = strlen(k);
    if (n < 8 || n > 100) return 0;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') return 0;
    return 1;
}

static int valid_theme_name(const char *t)
{
    if (!*t || strlen(t) > 60) return 0;
    for (const char *p = t; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') return 0;
    return 1;
}

static int parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "on")) { *out = 1; return 0; }
    if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0") || !strcmp(v, "off")) { *out = 0; return 0; }
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

/* reads the key from a file that only its owner may read */
static int read_key_file(struct config *c, const char *path)
{
    struct stat st;
    if (stat(path, &st)) return bad("cannot read key file %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return bad("key file %s is not a regular file%s", path, "");
    if (st.st_mode & 077)
        return bad("key file %s is readable by group or others: run chmod 600 %s", path, path);
    FILE *f = fopen(path, "r");
    if (!f) return bad("cannot read key file %s: %s", path, strerror(errno));
    char buf[256] = "";
    if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
    fclose(f);
    char *k = trim(buf);
    if (!valid_key(k)) return bad("key file %s does not hold an API key (expected rk_live_… or rk_test_…)%s", path, "");
    snprintf(c->key, sizeof c->key, "%s", k);
    snprintf(c->key_source, sizeof c->key_source, "%s", path);
    return -1;
}

struct settings {
    char db[1024], api[512], key_file[512], env[32], theme[64];
    int read_only, ascii, mouse, graphs;
    int have_db, have_api, have_key_file, have_env, have_theme;
};

static int set_value(struct settings *s, const char *k, const char *v, const char *where)
{
    char msg[700];
    if (!strcmp(k, "db")) { snprintf(s->db, sizeof s->db, "%s", v); s->have_db = 1; }
    else if (!strcmp(k, "api")) { snprintf(s->api, sizeof s->api, "%s", v); s->have_api = 1; }
    else if (!strcmp(k, "key_file")) { snprintf(s->key_file, sizeof s->key_file, "%s", v); s->have_key_file = 1; }
    else if (!strcmp(k, "env")) { snprintf(s->env, sizeof s->env, "%.31s", v); s->have_env = 1; }
    else if (!strcmp(k, "theme")) { snprintf(s->theme, sizeof s->theme, "%.63s", v); s->have_theme = 1; }
    else if (!strcmp(k, "read_only") || !strcmp(k, "ascii") || !strcmp(k, "mouse")) {
        int b;
        if (parse_bool(v, &b)) {
            snprintf(msg, sizeof msg, "%s: %s must be true or false, not '%.100s'", where, k, v);
            return bad("%s%s", msg, "");
        }
        if (!strcmp(k, "ascii")) s->ascii = b;
        else if (!strcmp(k, "mouse")) s->mouse = b;
        else s->read_only = b;
    } else if (!strcmp(k, "graphs")) {   /* the Overview's graphs (graph.c) */
        int g = graph_mode_parse(v);
        if (g < 0) {
            snprintf(msg, sizeof msg, "%s: graphs must be braille, block or ascii, not '%.100s'", where, v);
            return bad("%s%s", msg, "");
        }
        s->graphs = g;
    } else if (!strcmp(k, "bind") || !strcmp(k, "unbind")) {   /* applied in file order */
        char name[64] = "", key[32] = "", extra[8] = "", e[200];
        int n = sscanf(v, "%63s %31s %7s", name, key, extra);
        int rc = !strcmp(k, "bind") ? (n == 2 ? keys_bind(name, key, e, sizeof e) : (snprintf(e, sizeof e,
                                          "bind needs a request name and a key: bind = claim C"), -1))
                                    : (n == 1 ? keys_unbind(name, e, sizeof e) : (snprintf(e, sizeof e,
                                          "unbind needs one request name: unbind = claim"), -1));
        if (rc) {
            snprintf(msg, sizeof msg, "%s: %s: %s", where, k, e);
            return bad("%s%s", msg, "");
        }
    } else if (!strcmp(k, "key")) {
        snprintf(msg, sizeof msg, "%s: an API key may not be written in the config file; use key_file", where);
        return bad("%s%s", msg, "");
    } else {
        snprintf(msg, sizeof msg, "%s: unknown setting '%.60s' (known: db, api, key_file, env, theme, read_only, ascii, mouse,"
                                  " graphs, bind, unbind)",
                 where, k);
        return bad("%s%s", msg, "");
    }
    return -1;
}

static int read_config_file(struct settings *s)
{
    char path[600];
    const char *explicit_path = getenv("RAILTOP_CONFIG");
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (explicit_path && *explicit_path) snprintf(path, sizeof path, "%s", explicit_path);
    else if (xdg && *xdg) snprintf(path, sizeof path, "%s/railtop/config", xdg);
    else if (home && *home) snprintf(path, sizeof path, "%s/.config/railtop/config", home);
    else return -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (explicit_path && *explicit_path) return bad("cannot read RAILTOP_CONFIG %s: %s", path, strerror(errno));
        return -1;
    }
    char line[1200];
    int no = 0, rc = -1;
    while (rc < 0 && fgets(line, sizeof line, f)) {
        no++;
        char *l = trim(line);
        if (!*l || *l == '#') continue;
        char *eq = strchr(l, '=');
        char where[700];
        snprintf(where, sizeof where, "%s:%d", path, no);
        if (!eq) { rc = bad("%s: expected 'key = value', got '%.80s'", where, l); break; }
        *eq = 0;
        rc = set_value(s, trim(l), trim(eq + 1), where);
    }
    fclose(f);
    return rc;
}

static int validate(struct config *c, struct settings *s)
{
    snprintf(c->conninfo, sizeof c->conninfo, "%s", s->db);
    if (s->have_api && !valid_url(s->api))
        return bad("--api '%s' is not a URL: use http://HOST:PORT (no spaces)%s", s->api, "");
    snprintf(c->api, sizeof c->api, "%s", s->api);
    size_t n = strlen(c->api);
    while (n && c->api[n - 1] == '/') c->api[--n] = 0;
    if (s->have_env && strcmp(s->env, "sandbox") && strcmp(s->env, "production"))
        return bad("--env '%s' is not an environment: use sandbox or production%s", s->env, "");
    if (s->have_env) snprintf(c->env, sizeof c->env, "%.15s", s->env);
    if (s->have_theme && !valid_theme_name(s->theme))
        return bad("--theme '%s' is not a theme name (letters, digits, - and _)%s", s->theme, "");
    if (s->have_theme) { snprintf(c->theme, sizeof c->theme, "%s", s->theme); c->theme_explicit = 1; }
    c->read_only = s->read_only;
    c->ascii = s->ascii;
    c->mouse = s->mouse;
    c->graphs = s->graphs;
    return -1;
}

static int load_key(struct config *c, struct settings *s)
{
    if (s->have_key_file) return read_key_file(c, s->key_file);
    const char *k = getenv("RAILTOP_KEY");
    if (k && *k) {
        if (!valid_key(k)) return bad("RAILTOP_KEY does not hold an API key (expected rk_live_… or rk_test_…)%s%s", "", "");
        snprintf(c->key, sizeof c->key, "%s", k);
        snprintf(c->key_source, sizeof c->key_source, "RAILTOP_KEY");
    }
    return -1;
}

int config_load(struct config *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "db", required_argument, 0, 'd' }, { "api", required_argument, 0, 'a' },
        { "key-file", required_argument, 0, 'k' }, { "env", required_argument, 0, 'e' },
        { "theme", required_argument, 0, 't' }, { "read-only", no_argument, 0, 'r' },
        { "ascii", no_argument, 0, 'A' }, { "help", no_argument, 0, 'h' },
        { "version", no_argument, 0, 'V' }, { "key", required_argument, 0, 'K' }, { 0, 0, 0, 0 }
    };
    struct settings s = { 0 };
    memset(c, 0, sizeof *c);
    for (int i = 1; i < argc; i++)   /* the built-in table, before any config file rebinds it */
        if (!strcmp(argv[i], "--keys-markdown")) { keys_markdown(stdout); return 0; }
    int rc = read_config_file(&s);
    if (rc >= 0) return rc;
    const char *api = getenv("RAILTOP_API");
    if (api && *api) { snprintf(s.api, sizeof s.api, "%s", api); s.have_api = 1; }
    const char *tr = getenv("RAILTOP_TRACE");
    if (tr && *tr) snprintf(c->trace, sizeof c->trace, "%s", tr);
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'h': fputs(USAGE, stdout); return 0;
        case 'V': printf("railtop %s\n", RAILTOP_VERSION); return 0;
        case 'd': rc = set_value(&s, "db", optarg, "--db"); break;
        case 'a': rc = set_value(&s, "api", optarg, "--api"); break;
        case 'k': rc = set_value(&s, "key_file", optarg, "--key-file"); break;
        case 'e': rc = set_value(&s, "env", optarg, "--env"); break;
        case 't': rc = set_value(&s, "theme", optarg, "--theme"); break;
        case 'r': s.read_only = 1; break;
        case 'A': s.ascii = 1; break;
        case 'K':
            return bad("--key: an API key on the command line leaks through ps and shell history; "
                       "use RAILTOP_KEY or --key-file%s%s", "", "");
        default:
            return bad("unknown option '%s' (see railtop --help)%s", argv[optind - 1], "");
        }
        if (rc >= 0) return rc;
    }
    if (optind < argc) return bad("unexpected argument '%s' (see railtop --help)%s", argv[optind], "");
    if ((rc = validate(c, &s)) >= 0) return rc;
    if ((rc = load_key(c, &s)) >= 0) return rc;
    if (c->key[0] && !c->api[0])
        return bad("an API key is set but not raild's URL: pass --api URL or set RAILTOP_API%s%s", "", "");
    return -1;
}
