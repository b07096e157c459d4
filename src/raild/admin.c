/* raild admin — reviewed onboarding (DESIGN §7). A merchant exists only when an
 * admin creates it and has no rails until enabled per environment. Every command
 * that changes something writes an audit row in the same transaction. */
#include "raild/audit.h"
#include "raild/auth.h"
#include "raild/cli.h"
#include "raild/governance.h"
#include "raild/history.h"
#include "raild/query.h"
#include "raild/webhook_sign.h"
#include "core/address.h"
#include "core/amount.h"
#include "core/db.h"
#include "core/util.h"
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTS 12

struct opts {
    const char *cmd;
    const char *k[MAX_OPTS];
    const char *v[MAX_OPTS];
    int n;
};

static const char *opt(const struct opts *o, const char *k)
{
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->k[i], k)) return o->v[i];
    return NULL;
}

/* Parses "--key value" pairs, accepting only `allowed` (space-separated names). */
static int parse_opts(struct opts *o, int argc, char **argv, const char *allowed)
{
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2))
            return cli_usage_error(o->cmd, "unexpected argument '%s'", argv[i]);
        const char *name = argv[i] + 2;
        char pat[64];
        snprintf(pat, sizeof pat, " %s ", name);
        char all[256];
        snprintf(all, sizeof all, " %s ", allowed);
        if (!*name || !strstr(all, pat))
            return cli_usage_error(o->cmd, "unknown option '%s' (allowed: --%s)", argv[i], allowed);
        if (i + 1 >= argc) return cli_usage_error(o->cmd, "--%s needs a value", name);
        if (opt(o, name)) return cli_usage_error(o->cmd, "--%s given twice", name);
        if (o->n == MAX_OPTS) return cli_usage_error(o->cmd, "too many options");
        o->k[o->n] = name;
        o->v[o->n++] = argv[++i];
    }
    return 0;
}

static int need(const struct opts *o, const char *k, const char **out)
{
    *out = opt(o, k);
    if (!*out || !**out) return cli_usage_error(o->cmd, "--%s is required", k);
    return 0;
}

static int check_env(const struct opts *o, const char *env)
{
    if (strcmp(env, "sandbox") && strcmp(env, "production"))
        return cli_usage_error(o->cmd, "--env must be 'sandbox' or 'production', got '%s'", env);
    return 0;
}

static int check_id(const struct opts *o, const char *name, const char *v)
{
    long long x;
    if (util_parse_i64(v, 1, (long long)1 << 62, &x))
        return cli_usage_error(o->cmd, "--%s must be a positive integer id, got '%s'", name, v);
    return 0;
}

static int fail_db(PGconn *db, const char *what)
{
    fprintf(stderr, "raild admin: %s failed: %s", what, PQerrorMessage(db));
    db_cmd(db, "ROLLBACK");
    PQfinish(db);
    return 1;
}

static int finish(PGconn *db, const char *what)
{
    if (db_cmd(db, "COMMIT")) return fail_db(db, what);
    PQfinish(db);
    return 0;
}

/* ---- create-merchant ------------------------------------------------ */
static int admin_create_merchant(struct opts *o)
{
    const char *name, *tol = opt(o, "tolerance-bps"), *fee = opt(o, "fee-bps");
    long long x;
    if (need(o, "name", &name)) return 2;
    if (strlen(name) > 200) return cli_usage_error(o->cmd, "--name must be at most 200 characters");
    if (tol && util_parse_i64(tol, 0, 10000, &x))
        return cli_usage_error(o->cmd, "--tolerance-bps must be an integer from 0 to 10000, got '%s'", tol);
    if (fee && util_parse_i64(fee, 0, 10000, &x))
        return cli_usage_error(o->cmd, "--fee-bps must be an integer from 0 to 10000, got '%s'", fee);
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    db_cmd(db, "BEGIN");
    PGresult *r = db_q(db, "INSERT INTO merchants (name, tolerance_bps, fee_bps)"
                           " VALUES ($1, coalesce($2::int, 0), coalesce($3::int, 0)) RETURNING id",
                       name, tol, fee);
    if (db_failed(r)) {
        int dup = !strcmp(db_sqlstate(r), SQLSTATE_UNIQUE_VIOLATION);
        PQclear(r);
        if (dup) {
            db_cmd(db, "ROLLBACK");
            PQfinish(db);
            fprintf(stderr, "raild admin create-merchant: a merchant named '%s' already exists\n", name);
            return 1;
        }
        return fail_db(db, "create-merchant");
    }
    char id[32];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    json_t *after = json_pack("{s:s,s:s*,s:s*}", "name", name, "tolerance_bps", tol, "fee_bps", fee);
    int bad = audit_write_cli(db, "merchant.create", "merchant", id, NULL, NULL, after);
    json_decref(after);
    if (bad) return fail_db(db, "audit");
    if (finish(db, "create-merchant")) return 1;
    printf("%s\n", id);
    return 0;
}

/* ---- enable-rail / disable-rail ------------------------------------- */
static int admin_set_rail(struct opts *o, int enable)
{
    const char *m, *env, *rail;
    if (need(o, "merchant", &m) || need(o, "env", &env) || need(o, "rail", &rail)) return 2;
    if (check_id(o, "merchant", m) || check_env(o, env)) return 2;
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    char *ok = db_val(db, "SELECT 1 FROM rails WHERE id = $1", rail);
    if (!ok) {
        PQfinish(db);
        return cli_usage_error(o->cmd, "unknown rail '%s' (see the rails table)", rail) ? 1 : 1;
    }
    free(ok);
    ok = db_val(db, "SELECT 1 FROM merchants WHERE id = $1::bigint", m);
    if (!ok) {
        PQfinish(db);
        fprintf(stderr, "raild admin %s: no merchant with id %s\n", o->cmd, m);
        return 1;
    }
    free(ok);
    db_cmd(db, "BEGIN");
    char *before = db_val(db, "SELECT enabled::text FROM merchant_rails WHERE merchant_id = $1::bigint"
                              " AND environment = $2 AND rail = $3 FOR UPDATE", m, env, rail);
    PGresult *r = db_q(db, "INSERT INTO merchant_rails (merchant_id, environment, rail, enabled)"
                           " VALUES ($1::bigint, $2, $3, $4::boolean)"
                           " ON CONFLICT (merchant_id, environment, rail)"
                           " DO UPDATE SET enabled = EXCLUDED.enabled, changed_at = now()",
                       m, env, rail, enable ? "true" : "false");
    int bad = db_failed(r);
    PQclear(r);
    if (bad) { free(before); return fail_db(db, o->cmd); }
    char oid[256];
    snprintf(oid, sizeof oid, "%s/%s/%s", m, env, rail);
    json_t *b = before ? json_pack("{s:b}", "enabled", !strcmp(before, "true")) : NULL;
    json_t *a = json_pack("{s:b}", "enabled", enable);
    bad = audit_write_cli(db, enable ? "rail.enable" : "rail.disable", "merchant_rail", oid, NULL, b, a);
    json_decref(a);
    if (b) json_decref(b);
    free(before);
    if (bad) return fail_db(db, "audit");
    if (finish(db, o->cmd)) return 1;
    printf("rail %s %s for merchant %s in %s\n", rail, enable ? "enabled" : "disabled", m, env);
    return 0;
}

static char *network_kind(PGconn *db, const char *network)
{
    return db_val(db, "SELECT address_kind FROM networks WHERE name = $1", network);
}

static char *network_env(PGconn *db, const char *network)
{
    return db_val(db, "SELECT environment FROM networks WHERE name = $1", network);
}

/* names the networks there are, so the fix is on screen */
static int unknown_network(const struct opts *o, const char *net)
{
    fprintf(stderr, "raild admin %s: unknown --network '%s' (see `raild admin list-networks`)\n", o->cmd, net);
    return 2;
}

/* ---- add-addresses -------------------------------------------------- */
static int admin_add_addresses(struct opts *o)
{
    const char *net, *file;
    if (need(o, "network", &net) || need(o, "file", &file)) return 2;
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "raild admin add-addresses: cannot read --file '%s': %s\n", file, strerror(errno));
        return 2;
    }
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) { fclose(f); return 1; }
    char *kind = network_kind(db, net);
    if (!kind) {
        fclose(f);
        PQfinish(db);
        return unknown_network(o, net);
    }
    /* validate the whole file first: a file with any bad line adds nothing */
    size_t cap = 1024, n = 0;
    char (*addrs)[64] = malloc(cap * sizeof *addrs);
    char line[512];
    int lineno = 0, errors = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        char *e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
        if (!*s || *s == '#') continue;
        if (n == cap) addrs = realloc(addrs, (cap *= 2) * sizeof *addrs);
        if (address_canonical(kind, s, addrs[n], sizeof addrs[n])) {
            if (errors++ < 20)
                fprintf(stderr, "%s:%d: not a valid %s address for network %s: '%.80s'\n", file, lineno, kind, net,
                        s);
            continue;
        }
        n++;
    }
    fclose(f);
    free(kind);
    if (errors) {
        fprintf(stderr, "raild admin add-addresses: %d invalid line(s); nothing added\n", errors);
        free(addrs);
        PQfinish(db);
        return 1;
    }
    if (n == 0) {   /* an empty file is a mistake (wrong path, truncated export), not "add nothing" */
        fprintf(stderr, "raild admin add-addresses: %s has no addresses (one a line; blank lines and # comments"
                        " are skipped); nothing added\n", file);
        free(addrs);
        PQfinish(db);
        return 1;
    }
    db_cmd(db, "BEGIN");
    long added = 0;
    for (size_t i = 0; i < n; i++) {
        PGresult *r = db_q(db, "INSERT INTO deposit_addresses (network, address) VALUES ($1, $2)"
                               " ON CONFLICT DO NOTHING", net, addrs[i]);
        if (db_failed(r)) { PQclear(r); free(addrs); return fail_db(db, "add-addresses"); }
        added += atol(PQcmdTuples(r));
        PQclear(r);
    }
    free(addrs);
    char cnt[64];
    snprintf(cnt, sizeof cnt, "%ld", added);
    json_t *a = json_pack("{s:s,s:I,s:I}", "network", net, "added", (json_int_t)added, "skipped_existing",
                          (json_int_t)((long)n - added));
    int bad = audit_write_cli(db, "addresses.add", "deposit_address_pool", net, NULL, NULL, a);
    json_decref(a);
    if (bad) return fail_db(db, "audit");
    if (finish(db, "add-addresses")) return 1;
    printf("added %ld address(es) to the %s pool, %ld already present\n", added, net, (long)n - added);
    return 0;
}

/* ---- add-wallet ----------------------------------------------------- */
static int admin_add_wallet(struct opts *o)
{
    const char *net, *addr, *kindopt;
    if (need(o, "network", &net) || need(o, "address", &addr) || need(o, "kind", &kindopt)) return 2;
    if (strcmp(kindopt, "hot") && strcmp(kindopt, "sweep"))
        return cli_usage_error(o->cmd, "--kind must be 'hot' or 'sweep', got '%s'", kindopt);
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    char *kind = network_kind(db, net);
    char canon[64];
    if (!kind) {
        PQfinish(db);
        return unknown_network(o, net);
    }
    int bad = address_canonical(kind, addr, canon, sizeof canon);
    if (bad) {
        PQfinish(db);
        bad = cli_usage_error(o->cmd, "--address is not a valid %s address for network %s", kind, net);
        free(kind);
        return bad;
    }
    free(kind);
    db_cmd(db, "BEGIN");
    PGresult *r = db_q(db, "INSERT INTO wallets (network, address, kind) VALUES ($1, $2, $3)"
                           " ON CONFLICT (network, address) DO NOTHING RETURNING id", net, canon, kindopt);
    if (db_failed(r)) { PQclear(r); return fail_db(db, "add-wallet"); }
    if (PQntuples(r) == 0) {
        PQclear(r);
        db_cmd(db, "ROLLBACK");
        PQfinish(db);
        fprintf(stderr, "raild admin add-wallet: %s is already a registered %s wallet\n", canon, net);
        return 1;
    }
    char id[32];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    json_t *a = json_pack("{s:s,s:s,s:s}", "network", net, "address", canon, "kind", kindopt);
    bad = audit_write_cli(db, "wallet.add", "wallet", id, NULL, NULL, a);
    json_decref(a);
    if (bad) return fail_db(db, "audit");
    if (finish(db, "add-wallet")) return 1;
    printf("%s\n", id);
    return 0;
}

/* A result as aligned columns under head (NULL-terminated): width N pads to N, -N also
 * cuts to N bytes (ASCII columns only), 0 is the last column, unpadded. */
static void print_table(PGresult *r, const char *const *head, const int *width)
{
    for (int row = -1; row < PQntuples(r); row++)
        for (int c = 0; head[c]; c++) {
            const char *v = row < 0 ? head[c] : PQgetvalue(r, row, c);
            if (width[c] < 0) printf("%-*.*s ", -width[c], -width[c], v);
            else if (width[c]) printf("%-*s ", width[c], v);
            else printf("%s\n", v);
        }
}

/* The list-* commands: one query, printed as a table. */
static int list_query(struct opts *o, const char *sql, const char *const *head, const int *width)
{
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    PGresult *r = db_q0(db, sql);
    if (db_failed(r)) { PQclear(r); return fail_db(db, o->cmd); }
    print_table(r, head, width);
    PQclear(r);
    PQfinish(db);
    return 0;
}

/* ---- create-key / list-keys / revoke-key ---------------------------- */
static int admin_create_key(struct opts *o)
{
    const char *role, *name, *env = opt(o, "env"), *m = opt(o, "merchant"), *net = opt(o, "network");
    if (need(o, "role", &role) || need(o, "name", &name)) return 2;
    if (!strcmp(role, "watcher") && !net)
        return cli_usage_error(o->cmd, "--network is required for a watcher key (it posts for that network only)");
    if (strcmp(role, "watcher") && net) return cli_usage_error(o->cmd, "--network is only for watcher keys");
    if (!net && need(o, "env", &env)) return 2;
    if (!role_valid(role))
        return cli_usage_error(o->cmd, "--role must be one of merchant, watcher, viewer, support, ops, finance, admin;"
                                       " got '%s'", role);
    if (env && check_env(o, env)) return 2;
    if (strlen(name) > 200) return cli_usage_error(o->cmd, "--name must be at most 200 characters");
    if (!strcmp(role, "merchant") && !m) return cli_usage_error(o->cmd, "--merchant is required for a merchant key");
    if (strcmp(role, "merchant") && m) return cli_usage_error(o->cmd, "--merchant is only for merchant keys");
    if (m && check_id(o, "merchant", m)) return 2;
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    if (m) {
        char *ok = db_val(db, "SELECT 1 FROM merchants WHERE id = $1::bigint", m);
        if (!ok) {
            PQfinish(db);
            fprintf(stderr, "raild admin create-key: no merchant with id %s\n", m);
            return 1;
        }
        free(ok);
    }
    char netenv[16] = "";
    if (net) {   /* a watcher key's environment is its network's */
        char *ne = network_env(db, net);
        if (!ne) {
            PQfinish(db);
            return unknown_network(o, net);
        }
        snprintf(netenv, sizeof netenv, "%s", ne);
        free(ne);
        if (env && strcmp(env, netenv)) {
            PQfinish(db);
            return cli_usage_error(o->cmd, "network '%s' serves %s, not --env %s", net, netenv, env);
        }
        env = netenv;
    }
    char key[KEY_MAX], prefix[16], hash[80];
    auth_new_key(env, key, prefix, hash);
    db_cmd(db, "BEGIN");
    PGresult *r = db_q(db, "INSERT INTO api_keys (name, role, merchant_id, environment, prefix, hash, network)"
                           " VALUES ($1, $2, $3::bigint, $4, $5, $6::bytea, $7) RETURNING id",
                       name, role, m, env, prefix, hash, net);
    if (db_failed(r)) { PQclear(r); return fail_db(db, "create-key"); }
    char id[32];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    json_t *a = json_pack("{s:s,s:s,s:s*,s:s,s:s,s:s*}", "name", name, "role", role, "merchant_id", m, "environment",
                          env, "prefix", prefix, "network", net);
    int bad = audit_write_cli(db, "key.create", "api_key", id, NULL, NULL, a);
    json_decref(a);
    if (bad) return fail_db(db, "audit");
    if (finish(db, "create-key")) return 1;
    fprintf(stderr, "created key %s (%s, %s); it is shown once — store it now\n", id, role, env);
    printf("%s\n", key);
    return 0;
}

static int admin_list_keys(struct opts *o)
{
    static const char *const head[] = { "ID", "NAME", "ROLE", "MERCHANT", "ENV", "NETWORK", "PREFIX", "CREATED",
                                        "REVOKED", NULL };
    static const int width[] = { 6, -24, 9, 9, 11, -13, 14, 17, 0 };
    return list_query(o, "SELECT id, name, role, coalesce(merchant_id::text, '-'), environment,"
                      " coalesce(network, '-'), prefix || '…',"
                      " to_char(created_at, 'YYYY-MM-DD HH24:MI'),"
                      " coalesce(to_char(revoked_at, 'YYYY-MM-DD HH24:MI'), '-')"
                      " FROM api_keys ORDER BY id", head, width);
}

static int admin_revoke_key(struct opts *o)
{
    const char *id, *reason = opt(o, "reason");
    if (need(o, "id", &id) || check_id(o, "id", id)) return 2;
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    db_cmd(db, "BEGIN");
    PGresult *r = db_q(db, "UPDATE api_keys SET revoked_at = now() WHERE id = $1::bigint AND revoked_at IS NULL"
                           " RETURNING name", id);
    if (db_failed(r)) { PQclear(r); return fail_db(db, "revoke-key"); }
    if (PQntuples(r) == 0) {
        PQclear(r);
        db_cmd(db, "ROLLBACK");
        PQfinish(db);
        fprintf(stderr, "raild admin revoke-key: no active key with id %s\n", id);
        return 1;
    }
    PQclear(r);
    json_t *a = json_pack("{s:b}", "revoked", 1);
    int bad = audit_write_cli(db, "key.revoke", "api_key", id, reason, NULL, a);
    json_decref(a);
    if (bad) return fail_db(db, "audit");
    if (finish(db, "revoke-key")) return 1;
    printf("key %s revoked\n", id);
    return 0;
}

/* ---- networks, rails, RPC endpoints, heads (DESIGN §2, §10) ---------- */
static int admin_add_network(struct opts *o)
{
    const char *name, *env, *kind, *cid, *bt = opt(o, "block-time-ms");
    long long x;
    if (need(o, "name", &name) || need(o, "env", &env) || need(o, "kind", &kind) || need(o, "chain-id", &cid))
        return 2;
    if (check_env(o, env)) return 2;
    size_t n = strlen(name);
    int form = n >= 1 && n <= 32 && (islower((unsigned char)name[0]) || isdigit((unsigned char)name[0]));
    for (size_t i = 0; form && i < n; i++)
        form = islower((unsigned char)name[i]) || isdigit((unsigned char)name[i]) || name[i] == '-';
    if (!form) return cli_usage_error(o->cmd, "--name must be 1-32 of a-z, 0-9 and '-', starting with a letter or digit");
    if (strcmp(kind, "evm") && strcmp(kind, "tron"))
        return cli_usage_error(o->cmd, "--kind must be 'evm' or 'tron', got '%s'", kind);
    if (util_parse_i64(cid, 1, (long long)1 << 53, &x))
        return cli_usage_error(o->cmd, "--chain-id must be a positive integer (what eth_chainId answers), got '%s'", cid);
    if (bt && util_parse_i64(bt, 100, 600000, &x))
        return cli_usage_error(o->cmd, "--block-time-ms must be an integer from 100 to 600000, got '%s'", bt);
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    db_cmd(db, "BEGIN");
    PGresult *r = db_q(db, "INSERT INTO networks (name, address_kind, environment, chain_id, block_time_ms)"
                           " VALUES ($1, $2, $3, $4::bigint, coalesce($5::int, 3000)) ON CONFLICT DO NOTHING"
                           " RETURNING name", name, kind, env, cid, bt);
    if (db_failed(r)) { PQclear(r); return fail_db(db, o->cmd); }
    int added = PQntuples(r);
    PQclear(r);
    if (!added) {
        db_cmd(db, "ROLLBACK");
        PQfinish(db);
        fprintf(stderr, "raild admin add-network: a network named '%s' or with chain id %s already exists\n", name,
                cid);
        return 1;
    }
    json_t *a = json_pack("{s:s,s:s,s:s,s:s,s:s*}", "name", name, "environment", env, "kind", kind, "chain_id", cid,
                          "block_time_ms", bt);
    int bad = audit_write_cli(db, "network.add", "network", name, NULL, NULL, a);
    json_decref(a);
    if (bad) return fail_db(db, "audit");
    if (finish(db, o->cmd)) return 1;
    printf("network %s (%s, %s, chain id %s) added\n", name, env, kind, cid);
    return 0;
}

static int admin_list_networks(struct opts *o)
{
    static const char *const head[] = { "NETWORK", "ENV", "KIND", "CHAIN ID", "HEAD", "FINALIZED", "RPC HOSTS", "RAILS",
                                        NULL };
    static const int width[] = { 16, 11, 5, 12, 10, 10, 24, 0 };
    return list_query(o, "SELECT n.name, n.environment, n.address_kind, n.chain_id, coalesce(h.head::text, '-'),"
                      " coalesce(h.finalized::text, '-'), coalesce(rpc.hosts, '-'),"
                      " coalesce((SELECT string_agg(id, ',' ORDER BY id) FROM rails WHERE network = n.name), '-')"
                      " FROM networks n LEFT JOIN chain_heads h ON h.network = n.name"
                      " LEFT JOIN network_rpc rpc ON rpc.network = n.name ORDER BY n.environment, n.name", head, width);
}

/* set-rail: creates or changes the rail of one environment. Decision: a production change
 * is audited with before/after here; its two-person approval is the governed-change flow
 * of DESIGN §11 (payouts issue). */
/* The proposer or decider of a governed change: the API key in --key-file (never argv). 0 ok,
 * else the exit code (message printed). */
static int key_principal(struct opts *o, PGconn *db, const char *env, struct principal *who)
{
    const char *file = opt(o, "key-file");
    if (!file)
        return cli_usage_error(o->cmd, "%s changes are governed: --key-file FILE must hold your %s admin or treasury"
                                       " API key", env, env);
    FILE *f = fopen(file, "r");
    char key[KEY_MAX + 8] = "";
    if (!f) return cli_usage_error(o->cmd, "cannot read --key-file '%s': %s", file, strerror(errno));
    if (!fgets(key, sizeof key, f)) key[0] = 0;
    fclose(f);
    key[strcspn(key, "\r\n")] = 0;
    int rc = auth_lookup(db, key, who);
    OPENSSL_cleanse(key, sizeof key);
    if (rc == -2) return fail_db(db, o->cmd);
    if (rc || strcmp(who->env, env) || (strcmp(who->role, "admin") && strcmp(who->role, "treasury")))
        return cli_usage_error(o->cmd, "--key-file must hold a valid %s admin or treasury key", env);
    return 0;
}

/* Records a governed change instead of making it; prints what happens next. */
static int propose(struct opts *o, PGconn *db, const char *command, const char *env, const char *target, json_t *args,
                   const char *sealed, json_t *before, json_t *after)
{
    struct principal who = { 0 };
    const char *eff = opt(o, "effective-at"), *reason = opt(o, "reason");
    int rc = key_principal(o, db, env, &who);
    if (rc) { db_cmd(db, "ROLLBACK"); PQfinish(db); return rc; }
    if (strcmp(who.role, "admin")) {
        db_cmd(db, "ROLLBACK");
        PQfinish(db);
        return cli_usage_error(o->cmd, "an admin proposes governed changes; treasury approves them");
    }
    if (eff && !util_rfc3339_valid(eff)) {
        db_cmd(db, "ROLLBACK");
        PQfinish(db);
        return cli_usage_error(o->cmd, "--effective-at must be an RFC 3339 time, e.g. 2026-12-01T18:00:00Z; got '%s'", eff);
    }
    char pub[48];
    if (gov_propose(db, &who, command, env, target, args, sealed, before, after, eff, reason, pub, sizeof pub) < 0)
        return fail_db(db, o->cmd);
    if (finish(db, o->cmd)) return 1;
    printf("proposed %s: %s %s (needs `raild admin approve-change --id %s --key-file FILE` by another admin or"
           " treasury key; effective %s)\n", pub, command, target, pub, eff ? eff : "when approved");
    return 0;
}

static int admin_configure_rail(struct opts *o)
{
    const char *env, *rail, *net, *contract, *dec = opt(o, "decimals"), *conf = opt(o, "confirmations");
    const char *fin = opt(o, "finality");
    long long d = -1, c = -1, f = -1;
    if (need(o, "env", &env) || need(o, "rail", &rail) || need(o, "network", &net) || need(o, "contract", &contract))
        return 2;
    if (check_env(o, env)) return 2;
    const char *colon = strchr(rail, ':');
    int form = colon && colon > rail && colon[1] && strlen(rail) <= 48;
    for (const char *p = rail; form && *p; p++)
        form = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || (*p == ':' && p == colon);
    if (!form) return cli_usage_error(o->cmd, "--rail must be NETWORK:ASSET in lower case, e.g. ethereum:usdt");
    if (dec && util_parse_i64(dec, 0, 36, &d))
        return cli_usage_error(o->cmd, "--decimals must be an integer from 0 to 36, got '%s'", dec);
    if (conf && util_parse_i64(conf, 1, 100000, &c))
        return cli_usage_error(o->cmd, "--confirmations must be an integer from 1 to 100000, got '%s'", conf);
    int tag = fin && !strcmp(fin, "tag");
    if (fin && !tag && util_parse_i64(fin, 1, 100000, &f))
        return cli_usage_error(o->cmd, "--finality must be a block count from 1 to 100000 or 'tag' (the node's"
                                       " finalized block), got '%s'", fin);
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    char *kind = network_kind(db, net), *nenv = network_env(db, net);
    char canon[64];
    int rc = 0;
    if (!kind) rc = unknown_network(o, net);
    else if (strcmp(nenv, env)) rc = cli_usage_error(o->cmd, "network '%s' serves %s, not --env %s", net, nenv, env);
    else if (address_canonical(kind, contract, canon, sizeof canon))
        rc = cli_usage_error(o->cmd, "--contract is not a valid %s address", kind);
    free(kind);
    free(nenv);
    if (rc) { PQfinish(db); return rc; }
    db_cmd(db, "BEGIN");
    enum { RL_NETWORK, RL_CONTRACT, RL_DECIMALS, RL_CONFIRMATIONS, RL_FINALITY_DEPTH, RL_FINALITY_TAG };
    PGresult *r = db_q(db, "SELECT network, coalesce(contract, ''), decimals, confirm_depth, finality_depth,"
                           " finality_tag FROM rails WHERE environment = $1 AND id = $2 FOR UPDATE", env, rail);
    if (db_failed(r)) { PQclear(r); return fail_db(db, o->cmd); }
    json_t *before = NULL;
    if (PQntuples(r) == 1)
        before = json_pack("{s:s,s:s,s:i,s:i,s:i,s:b}", "network", PQgetvalue(r, 0, RL_NETWORK), "contract",
                           PQgetvalue(r, 0, RL_CONTRACT), "decimals", atoi(PQgetvalue(r, 0, RL_DECIMALS)), "confirmations",
                           atoi(PQgetvalue(r, 0, RL_CONFIRMATIONS)), "finality_depth", atoi(PQgetvalue(r, 0, RL_FINALITY_DEPTH)), "finality_tag",
                           PQgetvalue(r, 0, RL_FINALITY_TAG)[0] == 't');
    PQclear(r);
    if (!before && (d < 0 || c < 0 || !fin)) {
        db_cmd(db, "ROLLBACK");
        PQfinish(db);
        return cli_usage_error(o->cmd, "a new rail needs --decimals, --confirmations and --finality");
    }
    if (!strcmp(env, "production")) {   /* governed (DESIGN §11): a proposal another key approves */
        json_t *args = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:b,s:b}", "env", env, "rail", rail, "network", net,
                                 "contract", canon, "decimals", (json_int_t)d, "confirmations", (json_int_t)c,
                                 "finality", (json_int_t)f, "finality_tag", tag, "finality_given", fin != NULL);
        /* what it will be: the current rail with the options given */
        json_t *after = before ? json_deep_copy(before) : json_object();
        json_object_set_new(after, "network", json_string(net));
        json_object_set_new(after, "contract", json_string(canon));
        if (d >= 0) json_object_set_new(after, "decimals", json_integer(d));
        if (c > 0) json_object_set_new(after, "confirmations", json_integer(c));
        if (f > 0) json_object_set_new(after, "finality_depth", json_integer(f));
        if (fin) json_object_set_new(after, "finality_tag", json_boolean(tag));
        char target[96];
        snprintf(target, sizeof target, "%s/%s", env, rail);
        int rc = propose(o, db, "set-rail", env, target, args, NULL, before, after);
        json_decref(args);
        json_decref(after);
        json_decref(before);
        return rc;
    }
    char msg[512];
    json_t *after = NULL;
    int w = gov_rail_write(db, before != NULL, env, rail, net, canon, d, c, f, tag, fin != NULL, &after, msg, sizeof msg);
    if (w) {
        json_decref(before);
        if (w < 0) return fail_db(db, o->cmd);
        db_cmd(db, "ROLLBACK");
        PQfinish(db);
        fprintf(stderr, "raild admin set-rail: refused (the finality depth must be at least the confirmations, and"
                        " a contract serves one rail per network): %s", msg);
        return 1;
    }
    char oid[96];
    snprintf(oid, sizeof oid, "%s/%s", env, rail);
    int bad = audit_write_cli(db, before ? "rail.configure" : "rail.create", "rail", oid, NULL, before, after);
    json_decref(before);
    json_decref(after);
    if (bad) return fail_db(db, "audit");
    if (finish(db, o->cmd)) return 1;
    printf("rail %s in %s: network %s, contract %s\n", rail, env, net, canon);
    return 0;
}

/* One RPC URL: http(s)://host[:port][/path], no spaces or control characters. Fills the
 * host (what logs and the console may show). 0 ok. */
static int rpc_url_ok(const char *u, char *host, size_t hostlen)
{
    const char *p = !strncmp(u, "https://", 8) ? u + 8 : !strncmp(u, "http://", 7) ? u + 7 : NULL;
    if (!p) return -1;
    for (const char *c = u; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) return -1;
    const char *at = strchr(p, '@'), *end = p + strcspn(p, "/?#");
    if (at && at < end) p = at + 1;   /* user:password@ is a secret too */
    size_t n = (size_t)(end - p);
    if (!n || n >= hostlen) return -1;
    memcpy(host, p, n);
    host[n] = 0;
    return 0;
}

/* set-rpc / set-signer: URLs often carry provider keys, so they come from a file or stdin,
 * never argv, are stored sealed (RAILD_SECRETS_KEY), and only their hosts are printed or
 * audited. `signer` picks the table: network_signer (eth_signTransaction) or network_rpc. */
static int set_endpoints(struct opts *o, int signer)
{
    const char *net, *file, *from = signer ? NULL : opt(o, "from-block");
    long long fb = -1;
    if (need(o, "network", &net) || need(o, "url-file", &file)) return 2;
    if (from && util_parse_i64(from, 0, 9007199254740991LL, &fb))
        return cli_usage_error(o->cmd, "--from-block must be a block number from 0 to 2^53-1, got '%s'", from);
    if (wh_secrets_key_status() < 0)
        return cli_usage_error(o->cmd, "RAILD_SECRETS_KEY must be base64 of 32 random bytes, or unset");
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!f) {
        fprintf(stderr, "raild admin %s: cannot read --url-file '%s': %s\n", o->cmd, file, strerror(errno));
        return 2;
    }
    char line[2048], urls[16384] = "", hosts[1024] = "";
    int lineno = 0, n = 0, errors = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char host[256];
        if (rpc_url_ok(line, host, sizeof host) || n == 8 || strlen(urls) + strlen(line) + 2 > sizeof urls) {
            fprintf(stderr, "%s:%d: not an http(s) URL (or more than 8 URLs); the URL is not shown\n",
                    strcmp(file, "-") ? file : "stdin", lineno);
            errors++;
            continue;
        }
        strcat(urls, line);
        strcat(urls, "\n");
        if (strlen(hosts) + strlen(host) + 2 < sizeof hosts) {
            if (n) strcat(hosts, ",");
            strcat(hosts, host);
        }
        n++;
    }
    if (f != stdin) fclose(f);
    OPENSSL_cleanse(line, sizeof line);
    if (errors || !n) {
        if (!errors) fprintf(stderr, "raild admin %s: no URLs given (one a line); nothing changed\n", o->cmd);
        OPENSSL_cleanse(urls, sizeof urls);
        return 2;
    }
    char *sealed = secret_seal_text(urls);
    OPENSSL_cleanse(urls, sizeof urls);
    if (!sealed) { fprintf(stderr, "raild admin %s: cannot seal the URLs\n", o->cmd); return 1; }
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) { free(sealed); return 1; }
    char *kind = network_kind(db, net), *nenv = kind ? network_env(db, net) : NULL;
    if (!kind) { free(sealed); PQfinish(db); return unknown_network(o, net); }
    free(kind);
    if (nenv && !strcmp(nenv, "production") && !wh_sealing_enabled()) {
        fprintf(stderr, "raild admin %s: %s is a production network and its URLs are never stored in plain text; "
                "set RAILD_SECRETS_KEY (the key raild runs with) and try again; nothing changed\n", o->cmd, net);
        free(nenv);
        free(sealed);
        PQfinish(db);
        return 2;
    }
    db_cmd(db, "BEGIN");
    if (nenv && !strcmp(nenv, "production")) {   /* governed (DESIGN §11): a proposal another key approves */
        free(nenv);
        char *cur = signer ? db_val(db, "SELECT hosts FROM network_signer WHERE network = $1", net)
                           : db_val(db, "SELECT hosts FROM network_rpc WHERE network = $1", net);
        json_t *args = json_pack("{s:s,s:s,s:i}", "network", net, "hosts", hosts, "urls", n);
        json_t *b = cur ? json_pack("{s:s}", "hosts", cur) : NULL, *a = json_pack("{s:s,s:i}", "hosts", hosts, "urls", n);
        free(cur);
        int rc = propose(o, db, signer ? "set-signer" : "set-rpc", "production", net, args, sealed, b, a);
        free(sealed);
        json_decref(args), json_decref(b), json_decref(a);
        return rc;
    }
    free(nenv);
    char *before = signer ? db_val(db, "SELECT hosts FROM network_signer WHERE network = $1 FOR UPDATE", net)
                          : db_val(db, "SELECT hosts FROM network_rpc WHERE network = $1 FOR UPDATE", net);
    int wrote = gov_endpoints_write(db, signer, net, sealed, hosts, "cli");
    free(sealed);
    PGresult *r;
    if (wrote) { free(before); return fail_db(db, o->cmd); }
    if (from) {   /* where the watcher starts (re)scanning; ingest is idempotent, so going back is safe */
        char cp[32];
        snprintf(cp, sizeof cp, "%lld", fb - 1);
        r = db_q(db, "INSERT INTO chain_checkpoints (network, block_number, block_hash) VALUES ($1, greatest($2::bigint, 0), '')"
                     " ON CONFLICT (network) DO UPDATE SET block_number = greatest($2::bigint, 0), block_hash = '',"
                     " updated_at = now()", net, cp);
        if (db_failed(r)) { PQclear(r); free(before); return fail_db(db, o->cmd); }
        PQclear(r);
    }
    json_t *b = before ? json_pack("{s:s}", "hosts", before) : NULL;
    json_t *a = json_pack("{s:s,s:i,s:b,s:s*}", "hosts", hosts, "urls", n, "sealed", wh_sealing_enabled(),
                          "from_block", from);
    int bad = audit_write_cli(db, signer ? "network.set_signer" : "network.set_rpc", "network", net, NULL, b, a);
    json_decref(a);
    json_decref(b);
    free(before);
    if (bad) return fail_db(db, "audit");
    if (finish(db, o->cmd)) return 1;
    printf("network %s: %d %s endpoint(s) stored%s (hosts %s)\n", net, n, signer ? "signer" : "RPC",
           wh_sealing_enabled() ? " sealed" : "", hosts);
    return 0;
}

static int admin_set_rpc(struct opts *o) { return set_endpoints(o, 0); }
static int admin_set_signer(struct opts *o) { return set_endpoints(o, 1); }


/* set-payout-policy: the four-eyes threshold and 24 h velocity limit of a rail (amounts in
 * the token, "none" to clear), and its network's fee cap and replacement patience. */
static int policy_amount(struct opts *o, const char *name, int decimals, char *units, size_t n)
{
    const char *v = opt(o, name);
    units[0] = 0;
    if (!v) return 0;
    if (!strcmp(v, "none")) { snprintf(units, n, "none"); return 0; }
    u128 x;
    if (amount_parse(v, decimals, &x))
        return cli_usage_error(o->cmd, "--%s must be a positive amount with at most %d decimals, or 'none'; got '%s'",
                               name, decimals, v);
    char s[AMOUNT_STR_MAX];
    amount_units_str(x, s);
    snprintf(units, n, "%s", s);
    return 0;
}

static int admin_set_payout_policy(struct opts *o)
{
    const char *env, *rail, *gwei = opt(o, "max-fee-gwei"), *rab = opt(o, "replace-after-blocks");
    long long g = -1, rb = -1;
    if (need(o, "env", &env) || need(o, "rail", &rail) || check_env(o, env)) return 2;
    if (gwei && util_parse_i64(gwei, 1, 100000, &g))
        return cli_usage_error(o->cmd, "--max-fee-gwei must be an integer from 1 to 100000, got '%s'", gwei);
    if (rab && util_parse_i64(rab, 1, 10000, &rb))
        return cli_usage_error(o->cmd, "--replace-after-blocks must be an integer from 1 to 10000, got '%s'", rab);
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    char *dec = db_val(db, "SELECT decimals FROM rails WHERE environment = $1 AND id = $2", env, rail);
    if (!dec) {
        PQfinish(db);
        return cli_usage_error(o->cmd, "unknown --rail '%s' in %s (see GET /v1/rails)", rail, env);
    }
    char dual[AMOUNT_STR_MAX + 8], vel[AMOUNT_STR_MAX + 8];
    int d = atoi(dec);
    free(dec);
    if (policy_amount(o, "dual-above", d, dual, sizeof dual) || policy_amount(o, "velocity-24h", d, vel, sizeof vel)) {
        PQfinish(db);
        return 2;
    }
    db_cmd(db, "BEGIN");
    const char *q = "SELECT json_build_object('dual_above', r.payout_dual_above::text, 'velocity_24h',"
                    " r.payout_velocity_24h::text, 'max_fee_per_gas', n.max_fee_per_gas::text, 'replace_after_blocks',"
                    " n.replace_after_blocks)::text FROM rails r JOIN networks n ON n.name = r.network"
                    " WHERE r.environment = $1 AND r.id = $2";
    char *b = db_val(db, q, env, rail);
    char gw[32], rbs[32];
    snprintf(gw, sizeof gw, "%lld", g);
    snprintf(rbs, sizeof rbs, "%lld", rb);
    PGresult *r = db_q(db,
        "WITH r AS (UPDATE rails SET payout_dual_above = CASE $3 WHEN '' THEN payout_dual_above WHEN 'none' THEN NULL"
        "            ELSE $3::numeric END,"
        "          payout_velocity_24h = CASE $4 WHEN '' THEN payout_velocity_24h WHEN 'none' THEN NULL"
        "            ELSE $4::numeric END, updated_at = now()"
        "          WHERE environment = $1 AND id = $2 RETURNING network)"
        " UPDATE networks n SET max_fee_per_gas = CASE WHEN $5::bigint > 0 THEN $5::numeric * 1000000000"
        "   ELSE max_fee_per_gas END,"
        "   replace_after_blocks = CASE WHEN $6::int > 0 THEN $6::int ELSE replace_after_blocks END"
        " FROM r WHERE n.name = r.network", env, rail, dual, vel, gw, rbs);
    if (db_failed(r)) { PQclear(r); free(b); return fail_db(db, o->cmd); }
    PQclear(r);
    char *a = db_val(db, q, env, rail);
    json_t *bj = b ? json_loads(b, 0, NULL) : NULL, *aj = a ? json_loads(a, 0, NULL) : NULL;
    char oid[96];
    snprintf(oid, sizeof oid, "%s/%s", env, rail);
    int bad = audit_write_cli(db, "rail.payout_policy", "rail", oid, NULL, bj, aj);
    json_decref(bj);
    json_decref(aj);
    free(b);
    if (bad) { free(a); return fail_db(db, "audit"); }
    if (finish(db, o->cmd)) { free(a); return 1; }
    printf("rail %s in %s: payout policy %s\n", rail, env, a ? a : "");
    free(a);
    return 0;
}

/* reset-head: repairs a head a watcher poisoned (a jump to 2^53 freezes a network:
 * later heads are below its finalized height). Finality moves down with it, never up. */
static int admin_reset_head(struct opts *o)
{
    const char *net, *head, *reason;
    long long h;
    if (need(o, "network", &net) || need(o, "head", &head) || need(o, "reason", &reason)) return 2;
    if (util_parse_i64(head, 0, 9007199254740991LL, &h))
        return cli_usage_error(o->cmd, "--head must be a block number from 0 to 2^53-1, got '%s'", head);
    if (strlen(reason) > 500) return cli_usage_error(o->cmd, "--reason must be at most 500 characters");
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    char *kind = network_kind(db, net);
    if (!kind) { PQfinish(db); return unknown_network(o, net); }
    free(kind);
    db_cmd(db, "BEGIN");
    PGresult *r = db_q(db, "SELECT pg_advisory_xact_lock(hashtext('raild.ingest.' || $1))", net);
    PQclear(r);
    enum { H_HEAD, H_FINALIZED };
    r = db_q(db, "SELECT head, finalized FROM chain_heads WHERE network = $1 FOR UPDATE", net);
    if (db_failed(r)) { PQclear(r); return fail_db(db, o->cmd); }
    json_t *before = PQntuples(r) ? json_pack("{s:I,s:I}", "head", (json_int_t)atoll(PQgetvalue(r, 0, H_HEAD)),
                                              "finalized", (json_int_t)atoll(PQgetvalue(r, 0, H_FINALIZED)))
                                  : NULL;
    PQclear(r);
    r = db_q(db, "INSERT INTO chain_heads (network, head, finalized)"
                 " VALUES ($1, $2::bigint, greatest($2::bigint - coalesce((SELECT max(finality_depth) FROM rails"
                 "                                    WHERE network = $1), 0), 0))"
                 " ON CONFLICT (network) DO UPDATE SET head = $2::bigint,"
                 "   finalized = least(chain_heads.finalized, EXCLUDED.finalized), updated_at = now()"
                 " RETURNING finalized", net, head);
    if (db_failed(r)) { PQclear(r); json_decref(before); return fail_db(db, o->cmd); }
    json_t *after = json_pack("{s:I,s:I}", "head", (json_int_t)h, "finalized", (json_int_t)atoll(PQgetvalue(r, 0, 0)));
    PQclear(r);
    int bad = audit_write_cli(db, "chain.reset_head", "network", net, reason, before, after);
    json_decref(before);
    json_decref(after);
    if (bad) return fail_db(db, "audit");
    if (finish(db, o->cmd)) return 1;
    printf("network %s: head reset to %lld\n", net, h);
    return 0;
}

/* approve-change / reject-change: a governed change decided by another admin or treasury
 * key (--key-file); an approved change whose time has come is applied at once. */
static int admin_approve_change(struct opts *o)
{
    const char *id, *note = opt(o, "note");
    if (need(o, "id", &id)) return 2;
    if (note && strlen(note) > 2000) return cli_usage_error(o->cmd, "--note must be at most 2000 characters");
    int approve = !strcmp(o->cmd, "approve-change");
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    char *env = db_val(db, "SELECT environment FROM governed_changes WHERE public_id = $1", id);
    if (!env) { PQfinish(db); return cli_usage_error(o->cmd, "no change '%s' (see raild admin list-changes)", id); }
    struct principal who = { 0 };
    int rc = key_principal(o, db, env, &who);
    free(env);
    if (rc) { PQfinish(db); return rc; }
    char code[32], msg[300];
    db_cmd(db, "BEGIN");
    rc = gov_decide(db, &who, id, approve, note, code, sizeof code, msg, sizeof msg);
    if (rc < 0) return fail_db(db, o->cmd);
    if (rc) {
        db_cmd(db, "ROLLBACK");
        PQfinish(db);
        fprintf(stderr, "raild admin %s: %s (%s)\n", o->cmd, msg, code);
        return 2;
    }
    if (finish(db, o->cmd)) return 1;
    db = cli_db(opt(o, "db"));
    int applied = db && approve ? gov_apply_due(db) : 0;
    char *st = db ? db_val(db, "SELECT state || coalesce(' from ' || " SQL_TS("effective_at") ", '')"
                               " FROM governed_changes WHERE public_id = $1", id) : NULL;
    if (db) PQfinish(db);
    printf("change %s %s: now %s\n", id, approve ? "approved" : "rejected", st ? st : "?");
    free(st);
    return applied < 0 ? 1 : 0;
}

static int admin_list_changes(struct opts *o)
{
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    enum { CH_ID, CH_STATE, CH_COMMAND, CH_TARGET, CH_PROPOSED_BY, CH_DECIDED_BY, CH_EFFECTIVE, CH_BEFORE, CH_AFTER };
    PGresult *r = db_q0(db, "SELECT public_id, state, command, target, proposed_by, coalesce(decided_by, '-'),"
                            " coalesce(" SQL_TS("effective_at") ", 'on approval'),"
                            " coalesce(before::text, '-'), after::text FROM governed_changes ORDER BY id DESC LIMIT 200");
    if (db_failed(r)) { PQclear(r); return fail_db(db, o->cmd); }
    for (int i = 0; i < PQntuples(r); i++)
        printf("%s  %-8s %-10s %-28s by %s, decided by %s, effective %s\n    %s -> %s\n", PQgetvalue(r, i, CH_ID),
               PQgetvalue(r, i, CH_STATE), PQgetvalue(r, i, CH_COMMAND), PQgetvalue(r, i, CH_TARGET), PQgetvalue(r, i, CH_PROPOSED_BY), PQgetvalue(r, i, CH_DECIDED_BY),
               PQgetvalue(r, i, CH_EFFECTIVE), PQgetvalue(r, i, CH_BEFORE), PQgetvalue(r, i, CH_AFTER));
    PQclear(r);
    PQfinish(db);
    return 0;
}

/* ---- history (0075): partitions ahead, retention, one pass now -------- */
static int admin_maintain_history(struct opts *o)
{
    const char *now = opt(o, "now");
    if (now && !util_rfc3339_valid(now))
        return cli_usage_error(o->cmd, "--now must be an RFC 3339 time such as 2027-03-01T00:00:00Z, got '%s'", now);
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    int dropped = history_pass(db, now, stdout);
    if (dropped < 0) return fail_db(db, o->cmd);
    if (!dropped) { PQfinish(db); return 0; }
    /* each drop committed on its own (history.c); the pass is audited after them */
    db_cmd(db, "BEGIN");
    json_t *after = json_pack("{s:s?,s:i}", "now", now, "partitions_dropped", dropped);
    int bad = audit_write_cli(db, "history.maintain", "history", "all", NULL, NULL, after);
    json_decref(after);
    if (bad) return fail_db(db, "audit");
    return finish(db, o->cmd);
}

static int admin_set_retention(struct opts *o)
{
    const char *tbl, *keep, *reason;
    if (need(o, "table", &tbl) || need(o, "keep", &keep) || need(o, "reason", &reason)) return 2;
    int days = history_parse_keep(keep);
    if (days < 0) return cli_usage_error(o->cmd, "--keep must be a number of days such as 90d (1d to 36500d), or never;"
                                         " got '%s'", keep);
    if (strlen(reason) > 500) return cli_usage_error(o->cmd, "--reason must be at most 500 characters");
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    db_cmd(db, "BEGIN");
    enum { HT_DROPPABLE, HT_KEEP };
    PGresult *r = db_q(db, "SELECT droppable, coalesce(extract(day FROM retention)::text, 'never') FROM history_tables"
                           " WHERE tbl = $1 FOR UPDATE", tbl);
    if (db_failed(r)) { PQclear(r); return fail_db(db, o->cmd); }
    if (!PQntuples(r)) {
        PQclear(r);
        db_cmd(db, "ROLLBACK");
        PQfinish(db);
        return cli_usage_error(o->cmd, "--table must be one of the history tables (see raild admin list-history),"
                               " got '%s'", tbl);
    }
    int droppable = !strcmp(PQgetvalue(r, 0, HT_DROPPABLE), "t");
    json_t *before = json_pack("{s:s}", "keep", PQgetvalue(r, 0, HT_KEEP));
    PQclear(r);
    if (!droppable && days) {
        json_decref(before);
        db_cmd(db, "ROLLBACK");
        PQfinish(db);
        return cli_usage_error(o->cmd, "%s is never dropped: it is the record of who did what", tbl);
    }
    char d[16];
    snprintf(d, sizeof d, "%d", days);
    r = db_q(db, "UPDATE history_tables SET retention = CASE WHEN $2::int = 0 THEN NULL"
                 " ELSE make_interval(days => $2::int) END WHERE tbl = $1", tbl, d);
    int bad = db_failed(r);
    PQclear(r);
    json_t *after = json_pack("{s:s}", "keep", days ? keep : "never");
    bad = bad || audit_write_cli(db, "history.set_retention", "history_table", tbl, reason, before, after);
    json_decref(before);
    json_decref(after);
    if (bad) return fail_db(db, o->cmd);
    if (finish(db, o->cmd)) return 1;
    printf("%s: kept %s%s\n", tbl, days ? keep : "for ever", days ? " (whole partitions past it are dropped)" : "");
    return 0;
}

static int admin_list_history(struct opts *o)
{
    static const char *const head[] = { "TABLE", "PERIOD", "KEEP", "PARTITIONS", "AHEAD", "OLDEST", "DEFAULT ROWS",
                                        NULL };
    static const int width[] = { -24, 6, 6, 10, 6, 10, 0 };
    return list_query(o, "SELECT tbl, period, coalesce(extract(day FROM retention) || 'd', 'never'), partitions,"
                      " ahead, coalesce(to_char(oldest AT TIME ZONE 'UTC', 'YYYY-MM-DD'), '-'), default_rows"
                      " FROM history_status()", head, width);
}

struct admin_cmd {
    const char *name;
    const char *allowed;   /* option names; "db" always allowed */
    int (*fn)(struct opts *);
    int arg;
    const char *usage;
};

static int enable_rail(struct opts *o) { return admin_set_rail(o, 1); }
static int disable_rail(struct opts *o) { return admin_set_rail(o, 0); }

static const struct admin_cmd admin_cmds[] = {
    { "create-merchant", "db name tolerance-bps fee-bps", admin_create_merchant, 0,
      "--name NAME [--tolerance-bps N] [--fee-bps N]" },
    { "enable-rail", "db merchant env rail", enable_rail, 0, "--merchant ID --env sandbox|production --rail RAIL" },
    { "disable-rail", "db merchant env rail", disable_rail, 0, "--merchant ID --env sandbox|production --rail RAIL" },
    { "add-addresses", "db network file", admin_add_addresses, 0, "--network NET --file FILE (one address a line)" },
    { "add-wallet", "db network address kind", admin_add_wallet, 0, "--network NET --address ADDR --kind hot|sweep" },
    { "create-key", "db role name merchant env network", admin_create_key, 0,
      "--role ROLE --name NAME [--merchant ID] --env sandbox|production (watcher: --network NET)" },
    { "list-keys", "db", admin_list_keys, 0, "" },
    { "add-network", "db name env kind chain-id block-time-ms", admin_add_network, 0,
      "--name NAME --env sandbox|production --kind evm|tron --chain-id N [--block-time-ms N]" },
    { "list-networks", "db", admin_list_networks, 0, "" },
    { "set-rail", "db env rail network contract decimals confirmations finality key-file effective-at reason",
      admin_configure_rail, 0,
      "--env ENV --rail NET:ASSET --network NAME --contract ADDR [--decimals N] [--confirmations N]"
      " [--finality N|tag] (production: a proposal, with --key-file FILE [--effective-at T] [--reason TEXT])" },
    { "set-rpc", "db network url-file from-block key-file effective-at reason", admin_set_rpc, 0,
      "--network NAME --url-file FILE|- (one URL a line) [--from-block N] (production: a proposal, --key-file FILE)" },
    { "set-signer", "db network url-file key-file effective-at reason", admin_set_signer, 0,
      "--network NAME --url-file FILE|- (one eth_signTransaction URL a line) (production: a proposal, --key-file FILE)" },
    { "approve-change", "db id key-file note", admin_approve_change, 1,
      "--id chg_… --key-file FILE [--note TEXT] (another admin or treasury key than the proposer's)" },
    { "reject-change", "db id key-file note", admin_approve_change, 0, "--id chg_… --key-file FILE [--note TEXT]" },
    { "list-changes", "db", admin_list_changes, 0, "" },
    { "set-payout-policy", "db env rail dual-above velocity-24h max-fee-gwei replace-after-blocks", admin_set_payout_policy,
      0, "--env ENV --rail RAIL [--dual-above AMOUNT|none] [--velocity-24h AMOUNT|none] [--max-fee-gwei N]"
      " [--replace-after-blocks N]" },
    { "reset-head", "db network head reason", admin_reset_head, 0, "--network NAME --head N --reason TEXT" },
    { "revoke-key", "db id reason", admin_revoke_key, 0, "--id ID [--reason TEXT]" },
    { "maintain-history", "db now", admin_maintain_history, 0,
      "[--now RFC3339] (one pass now: partitions ahead, drops past retention; --now moves the clock)" },
    { "set-retention", "db table keep reason", admin_set_retention, 0, "--table NAME --keep Nd|never --reason TEXT" },
    { "list-history", "db", admin_list_history, 0, "" },
    { 0 }
};

static void admin_usage(FILE *f)
{
    fprintf(f, "usage: raild admin <command> [--db CONNINFO] [options]\n\n");
    for (const struct admin_cmd *c = admin_cmds; c->name; c++) fprintf(f, "  %-16s %s\n", c->name, c->usage);
}

int cmd_admin(int argc, char **argv)
{
    if (argc < 2) { admin_usage(stderr); return 2; }
    if (!strcmp(argv[1], "--help")) { admin_usage(stdout); return 0; }
    for (const struct admin_cmd *c = admin_cmds; c->name; c++) {
        if (strcmp(argv[1], c->name)) continue;
        struct opts o = { .cmd = c->name };
        if (argc > 2 && !strcmp(argv[2], "--help")) {
            printf("usage: raild admin %s %s\n", c->name, c->usage);
            return 0;
        }
        if (parse_opts(&o, argc - 2, argv + 2, c->allowed)) return 2;
        return c->fn(&o);
    }
    fprintf(stderr, "raild admin: unknown command '%s'\n", argv[1]);
    admin_usage(stderr);
    return 2;
}
