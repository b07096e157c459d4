/* http — raild's HTTP layer: libmicrohttpd server, route table, auth, JSON replies.
 * A handler gets a parsed, authenticated request and fills a response; the layer
 * owns body limits, error envelopes, metrics, request logging and rollback of any
 * transaction a handler left open. */
#ifndef RAILD_HTTP_H
#define RAILD_HTTP_H
#include "core/catalog.h"
#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#define HTTP_MAX_BODY (64 * 1024)
/* POST /v1/chain/transfers carries up to 1000 transfers (~400 bytes each in JSON): the one
 * route allowed a larger body, so a watcher can send a full batch. */
#define HTTP_MAX_INGEST_BODY (1024 * 1024)
#define HTTP_MAX_PARAMS 4

/* Who is calling: the API key's identity. */
struct principal {
    long long key_id;
    char name[256];
    char role[16];          /* merchant watcher viewer support ops finance treasury admin */
    long long merchant_id;  /* 0 unless role == merchant */
    char env[16];           /* sandbox | production */
    char network[40];       /* watcher keys: the one network they post for; "" otherwise */
};

struct req {
    const char *method;
    const char *url;
    const char *route;                      /* the matched pattern, for metrics */
    const char *params[HTTP_MAX_PARAMS];    /* {id}-style path segments, in order */
    int nparams;
    const char *body;                       /* NUL-terminated raw body */
    size_t body_len;
    struct principal who;
    PGconn *db;                             /* this thread's connection */
    void *mhd;                              /* struct MHD_Connection * */
};

struct resp {
    int status;
    json_t *json;               /* reply body (stolen), or */
    char *raw;                  /* raw body (malloc'd), with content_type */
    const char *content_type;
    char extra_header[2][2][128]; /* up to two extra headers (name, value) */
};

typedef void (*handler_fn)(struct req *, struct resp *);

/* enum cap (what a route needs) is the catalogue's: core/catalog.h */

struct route {
    const char *method;
    const char *pattern;        /* "/v1/payments/{id}/cancel" */
    enum cap cap;
    handler_fn fn;
};

/* --- replies ------------------------------------------------------------ */
void resp_json(struct resp *r, int status, json_t *body /* stolen */);
void resp_error(struct resp *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void resp_header(struct resp *r, const char *name, const char *value);

/* --- request helpers ---------------------------------------------------- */
const char *req_query(struct req *q, const char *name);   /* ?name=value, or NULL */
const char *req_header(struct req *q, const char *name);
/* Parses the body as a JSON object whose keys are all in `allowed` (NULL-terminated).
 * On failure fills resp (400 invalid_json / unknown_field) and returns NULL. */
json_t *req_json_object(struct req *q, struct resp *r, const char *const *allowed);
/* Field getters: on a wrong type or missing required field they fill resp with
 * 400 invalid_request naming the field and return -1. Absent optional → 0, *out untouched. */
int jget_str(json_t *o, const char *k, int required, size_t maxlen, const char **out, struct resp *r);
int jget_int(json_t *o, const char *k, int required, long long min, long long max, long long *out, struct resp *r);
int jget_bool(json_t *o, const char *k, int required, int *out, struct resp *r);
/* Starts/commits a transaction; on commit failure fills resp 500/409 and returns -1. */
int tx_begin(struct req *q, struct resp *r);
int tx_commit(struct req *q, struct resp *r);
/* Fills resp with 500 "internal" and logs the database error (never the parameters). */
void resp_db_error(struct resp *r, PGconn *db, PGresult *res, const char *what);

/* --- server ------------------------------------------------------------- */
struct server_opts {
    const char *conninfo;
    const char *host;
    int port;
    int threads;
};
int http_serve(const struct server_opts *o);   /* runs until SIGINT/SIGTERM */
void http_stop(void);

/* Bulk actions (the console's tagged rows): runs fn once per item as if it were called on
 * that item's path with body_of(item) as its body — each its own transaction, audit row and
 * checks, exactly the single route's — and rolls back whatever an item left open. Returns
 * one result per item ({id, status, ok, version?|error}) and counts the successes. */
json_t *http_bulk(struct req *q, handler_fn fn, json_t *items, char *(*body_of)(json_t *item, void *ctx), void *ctx,
                  int *succeeded);
/* Checks `items`: an array of 1..max objects holding exactly the string "id" and, when
 * with_version, the integer "version". 0 ok, -1 (resp filled: 400 invalid_request). */
int http_bulk_items(json_t *items, int max, int with_version, struct resp *r);

/* all routes: routes.c */
extern const struct route *const route_tables[];
#endif
