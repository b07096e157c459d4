/* raild admin — reviewed onboarding (DESIGN §7). A merchant exists only when an
 * admin creates it and has no rails until enabled per environment. Every command
 * that changes something writes an audit row in the same transaction. */
#include "raild/audit.h"
#include "raild/auth.h"
#include "raild/cli.h"
#include "core/address.h"
#include "core/db.h"
#include "core/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTS 8

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
        fprintf(stderr, "raild admin add-addresses: unknown --network '%s' (tron, ethereum, bsc, polygon)\n", net);
        return 2;
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
                fprintf(stderr, "%s:%d: not a valid %s address: '%.80s'\n", file, lineno, net, s);
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
        return cli_usage_error(o->cmd, "unknown --network '%s' (tron, ethereum, bsc, polygon)", net);
    }
    int bad = address_canonical(kind, addr, canon, sizeof canon);
    free(kind);
    if (bad) {
        PQfinish(db);
        return cli_usage_error(o->cmd, "--address is not a valid %s address", net);
    }
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

/* ---- create-key / list-keys / revoke-key ---------------------------- */
static int admin_create_key(struct opts *o)
{
    const char *role, *name, *env, *m = opt(o, "merchant");
    if (need(o, "role", &role) || need(o, "name", &name) || need(o, "env", &env)) return 2;
    if (!auth_role_valid(role))
        return cli_usage_error(o->cmd, "--role must be one of merchant, watcher, viewer, support, ops, finance, admin;"
                                       " got '%s'", role);
    if (check_env(o, env)) return 2;
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
    char key[KEY_MAX], prefix[16], hash[80];
    auth_new_key(env, key, prefix, hash);
    db_cmd(db, "BEGIN");
    PGresult *r = db_q(db, "INSERT INTO api_keys (name, role, merchant_id, environment, prefix, hash)"
                           " VALUES ($1, $2, $3::bigint, $4, $5, $6::bytea) RETURNING id",
                       name, role, m, env, prefix, hash);
    if (db_failed(r)) { PQclear(r); return fail_db(db, "create-key"); }
    char id[32];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    json_t *a = json_pack("{s:s,s:s,s:s*,s:s,s:s}", "name", name, "role", role, "merchant_id", m, "environment", env,
                          "prefix", prefix);
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
    PGconn *db = cli_db(opt(o, "db"));
    if (!db) return 1;
    PGresult *r = db_q0(db, "SELECT id, name, role, coalesce(merchant_id::text, '-'), environment, prefix || '…',"
                            " to_char(created_at, 'YYYY-MM-DD HH24:MI'),"
                            " coalesce(to_char(revoked_at, 'YYYY-MM-DD HH24:MI'), '-')"
                            " FROM api_keys ORDER BY id");
    if (db_failed(r)) { PQclear(r); return fail_db(db, "list-keys"); }
    printf("%-6s %-24s %-9s %-9s %-11s %-14s %-17s %s\n", "ID", "NAME", "ROLE", "MERCHANT", "ENV", "PREFIX",
           "CREATED", "REVOKED");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-6s %-24.24s %-9s %-9s %-11s %-14s %-17s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
               PQgetvalue(r, i, 6), PQgetvalue(r, i, 7));
    PQclear(r);
    PQfinish(db);
    return 0;
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
    { "create-key", "db role name merchant env", admin_create_key, 0,
      "--role ROLE --name NAME [--merchant ID] --env sandbox|production" },
    { "list-keys", "db", admin_list_keys, 0, "" },
    { "revoke-key", "db id reason", admin_revoke_key, 0, "--id ID [--reason TEXT]" },
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
