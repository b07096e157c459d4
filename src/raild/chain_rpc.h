/* chain_rpc — an Ethereum JSON-RPC client for the chain watcher (DESIGN §10), and the
 * strict parsers for what a node answers. A node is untrusted input: every reply is
 * checked (JSON-RPC 2.0 envelope, our id, result of the right type, hex forms, ranges)
 * and anything malformed is an error naming what was wrong, never a guess.
 * Several URLs fail over in order; URLs are secrets, only their hosts are ever shown. */
#ifndef RAILD_CHAIN_RPC_H
#define RAILD_CHAIN_RPC_H
#include "raild/ingest.h"
#include <jansson.h>

enum rpc_fail {
    RPC_OK = 0,
    RPC_TRANSPORT,   /* connect/reset/timeout: try the next URL, back off */
    RPC_HTTP,        /* a non-200 status (429: retry_after_s) */
    RPC_ERROR,       /* a JSON-RPC error object: code + message */
    RPC_MALFORMED,   /* not JSON-RPC, wrong id, wrong result type */
};

struct rpc_err {
    enum rpc_fail fail;
    long code;              /* HTTP status or JSON-RPC error code */
    int timeout;            /* RPC_TRANSPORT because of the time limit */
    int retry_after_s;      /* from a 429's Retry-After, else 0 */
    char msg[200];
};

struct rpc {
    char *urls[8];
    char hosts[8][128];
    int nurls, cur;
    int timeout_ms;
    long long next_id;
    void *curl;             /* CURL * */
};

/* From a newline-separated URL list (as set-rpc stores it, unsealed). 0 or -1. */
int rpc_init(struct rpc *c, const char *url_lines, int timeout_ms);
void rpc_free(struct rpc *c);
/* The host of the URL in use (never the URL). */
const char *rpc_host(const struct rpc *c);
/* Moves to the next URL (after a transport error). */
void rpc_failover(struct rpc *c);
/* One call. Returns the `result` (new reference; may be JSON null) or NULL with *e set.
 * params is stolen. */
json_t *rpc_call(struct rpc *c, const char *method, json_t *params, struct rpc_err *e);
/* "-32005" / "http-429" / "timeout" / "malformed": the label /metrics counts errors by. */
void rpc_err_label(const struct rpc_err *e, char *out, size_t n);
/* 1 when the error means "ask for fewer blocks": -32005 and its kin (range or result-count
 * limits, in code or message) and timeouts. */
int rpc_err_is_range(const struct rpc_err *e);

/* ---- parsers (pure; unit-tested) ---- */
/* A QUANTITY: "0x" + 1-16 hex digits, no leading zero, value <= 2^53-1. 0 ok. */
int rpc_quantity(json_t *v, long long *out);
/* DATA of exactly nbytes: "0x" + 2*nbytes hex; out (>= 2*nbytes+3) gets it lower-cased. 0 ok. */
int rpc_data(json_t *v, int nbytes, char *out);

/* ERC-20 Transfer(address,address,uint256) topic */
#define RPC_TRANSFER_TOPIC "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

/* One eth_getLogs entry as a transfer for ingest, in the network's address form ("evm":
 * 0x lower-case; "tron": base58check, hashes without 0x). Returns 0 ok, 1 not an ERC-20
 * Transfer (another event, or 4 topics: ERC-721) — skip it, -1 malformed (*why says what).
 * block_hash_out (>= 67) gets the log's block hash as the node wrote it, lower-cased. */
int rpc_parse_transfer_log(json_t *log, const char *kind, struct xfer_in *x, char *block_hash_out,
                           const char **why);
/* A block header from eth_getBlockByNumber: number, hash, parentHash, timestamp. 0 ok,
 * -1 malformed. */
struct rpc_block {
    long long number, timestamp;
    char hash[72], parent[72];
};
int rpc_parse_block(json_t *b, struct rpc_block *out, const char **why);
/* 32 big-endian bytes (64 hex digits) as a decimal string (out >= 80). */
void rpc_u256_decimal(const char *hex64, char *out);
#endif
