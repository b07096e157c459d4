/* cli — the migrate and serve commands and helpers shared by raild's subcommands. */
#include "raild/cli.h"
#include "raild/http.h"
#include "raild/migrate.h"
#include "raild/webhook_netguard.h"
#include "raild/webhook_sign.h"
#include "raild/worker.h"
#include "core/db.h"
#include "core/log.h"
#include "core/util.h"
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "raild %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

PGconn *cli_db(const char *conninfo)
{
    char err[512];
    PGconn *c = db_connect(conninfo ? conninfo : "", "raild-cli", 0, err, sizeof err);
    if (c) db_cmd(c, "SET client_min_messages = warning");
    if (!c) fprintf(stderr, "raild: cannot connect to the database: %s\n"
                            "  (give --db CONNINFO, or set PGHOST/PGPORT/PGUSER/PGDATABASE)\n", err);
    return c;
}

int cmd_migrate(int argc, char **argv)
{
    const char *db = NULL, *upto = NULL;
    static const char usage[] = "usage: raild migrate [--db CONNINFO] [--to NAME]";
    static const struct option opts[] = { { "db", required_argument, 0, 'd' }, { "to", required_argument, 0, 't' },
                                          { "help", no_argument, 0, 'h' }, { 0 } };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd') db = optarg;
        else if (c == 't') upto = optarg;
        else if (c == 'h') { printf("%s\n  --to NAME  stop after migration NAME (e.g. 0074_webhook_last_mile)\n", usage); return 0; }
        else return cli_usage_error("migrate", usage);
    }
    if (optind < argc) return cli_usage_error("migrate", "unexpected argument '%s'", argv[optind]);
    if (upto && !migrate_known(upto))
        return cli_usage_error("migrate", "--to: no migration is named '%s' (see db/migrations)", upto);
    PGconn *conn = cli_db(db);
    if (!conn) return 1;
    int n = migrate_run(conn, 1, upto);
    PQfinish(conn);
    if (n < 0) return 1;
    if (upto) printf("migrations: %d applied, database at %s\n", n, upto);
    else printf("migrations: %d applied, database up to date\n", n);
    return 0;
}

int cli_require_migrated(const char *cmd, const char *conninfo, const char *table)
{
    PGconn *probe = cli_db(conninfo);
    if (!probe) return 1;
    char *v = db_val(probe, "SELECT to_regclass($1) IS NOT NULL", table);
    PQfinish(probe);
    int ready = v && !strcmp(v, "t");
    free(v);
    if (!ready) fprintf(stderr, "raild %s: the database is not migrated; run `raild migrate` first\n", cmd);
    return ready ? 0 : 1;
}

int cli_require_sealing(const char *cmd, const char *conninfo)
{
    if (wh_sealing_enabled()) return 0;
    PGconn *db = cli_db(conninfo);
    if (!db) return 1;
    /* what a daemon would have to store or read in plain text: production webhook secrets,
     * RPC and signer URLs of production networks */
    char *v = db_val(db, "SELECT (SELECT count(*) FROM webhook_endpoints WHERE environment = 'production'"
                         "   AND status <> 'deleted')"
                         " + (SELECT count(*) FROM network_rpc r JOIN networks n ON n.name = r.network"
                         "    WHERE n.environment = 'production')"
                         " + (SELECT count(*) FROM network_signer s JOIN networks n ON n.name = s.network"
                         "    WHERE n.environment = 'production')");
    PQfinish(db);
    long long n = v ? atoll(v) : -1;
    free(v);
    if (n == 0) {
        log_warn("secrets.plain", "cmd=%s msg=\"no RAILD_SECRETS_KEY: sandbox secrets are stored in plain text;"
                 " production ones are refused\"", cmd);
        return 0;
    }
    fprintf(stderr, "raild %s: %s; set RAILD_SECRETS_KEY (base64 of 32 random bytes, e.g. `openssl rand -base64 32`, "
            "in the service's EnvironmentFile)\n", cmd, n < 0 ? "cannot check for production secrets"
            : "the database holds production secrets (webhook secrets, RPC or signer URLs) and this raild has no key "
              "to seal or open them: production secrets are never kept in plain text");
    return 1;
}

void cli_on_stop_signals(void (*fn)(int))
{
    struct sigaction sa = { .sa_handler = fn };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; http_stop(); }

int worker_sleep(struct worker_ctx *w, int ms)
{
    while (ms > 0 && !*w->stop) {
        int step = ms > 100 ? 100 : ms;
        struct timespec ts = { 0, step * 1000000L };
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return *w->stop;
}

#define PER_NETWORK_MAX 32

struct net_thread {
    struct worker_ctx *w;
    void (*fn)(struct worker_ctx *, const char *);
    char net[40];
    pthread_t tid;
};

static void *net_thread_main(void *p)
{
    struct net_thread *t = p;
    t->fn(t->w, t->net);
    return NULL;
}

void worker_per_network(struct worker_ctx *w, const char *appname, const char *sql,
                        void (*fn)(struct worker_ctx *, const char *))
{
    struct net_thread ts[PER_NETWORK_MAX];
    int nt = 0;
    char err[256];
    PGconn *db = NULL;
    while (!*w->stop) {
        if (!db || PQstatus(db) != CONNECTION_OK) {
            if (db) { db_forget_statements(db); PQfinish(db); }
            db = db_connect(w->conninfo, appname, 10000, err, sizeof err);
        }
        PGresult *r = db ? db_q0(db, sql) : NULL;
        for (int i = 0; r && !db_failed(r) && i < PQntuples(r) && nt < PER_NETWORK_MAX; i++) {
            int have = 0;
            for (int j = 0; j < nt; j++) have |= !strcmp(ts[j].net, PQgetvalue(r, i, 0));
            if (have) continue;
            ts[nt].w = w;
            ts[nt].fn = fn;
            snprintf(ts[nt].net, sizeof ts[nt].net, "%s", PQgetvalue(r, i, 0));
            if (pthread_create(&ts[nt].tid, NULL, net_thread_main, &ts[nt]) == 0) nt++;
        }
        PQclear(r);
        worker_sleep(w, 5000);
    }
    for (int i = 0; i < nt; i++) pthread_join(ts[i].tid, NULL);
    if (db) { db_forget_statements(db); PQfinish(db); }
    db_thread_done();
}

int cmd_serve(int argc, char **argv)
{
    const char *db = NULL, *listen = "127.0.0.1:8080";
    long long threads = 8;
    int disabled[32] = { 0 };
    int nworkers = 0;
    while (worker_table[nworkers].name) nworkers++;
    optind = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            printf("usage: raild serve [--db CONNINFO] [--listen HOST:PORT] [--threads N] [--no-workers]");
            for (int w = 0; w < nworkers; w++) printf(" [--no-%s]", worker_table[w].name);
            printf("\n  --listen   address to bind (default 127.0.0.1:8080)\n"
                   "  --threads  request threads, 1-64 (default 8); each holds one database connection\n"
                   "  --no-workers, --no-NAME  run without all / one of the background workers\n");
            return 0;
        } else if (!strcmp(a, "--db") || !strcmp(a, "--listen") || !strcmp(a, "--threads")) {
            if (i + 1 >= argc) return cli_usage_error("serve", "%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--db")) db = v;
            else if (!strcmp(a, "--listen")) listen = v;
            else if (util_parse_i64(v, 1, 64, &threads))
                return cli_usage_error("serve", "--threads must be an integer from 1 to 64, got '%s'", v);
        } else if (!strcmp(a, "--no-workers")) {
            for (int w = 0; w < nworkers && w < 32; w++) disabled[w] = 1;
        } else if (!strncmp(a, "--no-", 5)) {
            int w;
            for (w = 0; w < nworkers; w++)
                if (!strcmp(a + 5, worker_table[w].name)) break;
            if (w == nworkers) return cli_usage_error("serve", "unknown option '%s' (see --help)", a);
            disabled[w] = 1;
        } else {
            return cli_usage_error("serve", "unknown option '%s' (see --help)", a);
        }
    }
    char host[256];
    int port;
    if (util_parse_hostport(listen, host, sizeof host, &port))
        return cli_usage_error("serve", "--listen must be HOST:PORT with a port from 0 to 65535, got '%s'", listen);

    if (wh_secrets_key_status() < 0)
        return cli_usage_error("serve", "RAILD_SECRETS_KEY must be base64 of 32 random bytes "
                                        "(e.g. `openssl rand -base64 32`), or unset");

    if (netguard_init()) return 2;   /* RAILD_WEBHOOK_ALLOW_NETS: the message is out */
    if (cli_require_migrated("serve", db, "schema_migrations") || cli_require_sealing("serve", db)) return 1;
    cli_on_stop_signals(on_signal);

    struct worker_ctx ctx = { .conninfo = db ? db : "", .stop = &g_stop };
    pthread_t tids[32];
    int started[32] = { 0 };
    for (int w = 0; w < nworkers && w < 32; w++) {
        if (disabled[w]) continue;
        if (pthread_create(&tids[w], NULL, worker_table[w].run, &ctx) == 0) started[w] = 1;
    }
    struct server_opts so = { .conninfo = db, .host = host, .port = port, .threads = (int)threads };
    int rc = http_serve(&so);
    g_stop = 1;
    for (int w = 0; w < nworkers && w < 32; w++)
        if (started[w]) pthread_join(tids[w], NULL);
    return rc;
}

