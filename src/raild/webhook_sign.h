/* webhook_sign — Standard Webhooks v1 signatures (DESIGN §5) and webhook secrets at rest.
 *   secret:    "whsec_" + base64 of 32 random bytes; the HMAC key is the decoded bytes
 *   signature: "v1," + base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>"))
 *              over the exact body bytes sent; during a rotation overlap the header holds
 *              the new and the old signature, space-separated.
 * Secrets at rest are sealed with AES-256-GCM when RAILD_SECRETS_KEY (base64 of 32 bytes)
 * is set: "aes:<base64 iv|tag|ciphertext>"; without it they are stored "plain:whsec_…"
 * (the console role still cannot read them). Nothing here logs a secret. */
#ifndef RAILD_WEBHOOK_SIGN_H
#define RAILD_WEBHOOK_SIGN_H
#include <stddef.h>

#define WH_SECRET_MAX 128    /* "whsec_" + base64, with room */
#define WH_SIG_MAX 64        /* "v1," + 44 base64 chars + NUL */
#define WH_STORED_MAX 256

/* Fills out (>= WH_SECRET_MAX) with a fresh whsec_ secret. */
void wh_secret_new(char *out);
/* 1 if s is "whsec_" + base64 decoding to >= 24 bytes. */
int wh_secret_valid(const char *s);
/* Signs one message; out >= WH_SIG_MAX gets "v1,<base64>". Returns 0, or -1 on a bad secret. */
int wh_sign(const char *secret, const char *msg_id, long long timestamp, const char *body, size_t len,
            char *out);
/* The webhook-signature header: the signature with `secret`, then (if old_secret is not NULL)
 * a space and the signature with old_secret. out >= 2 * WH_SIG_MAX. Returns 0 or -1. */
int wh_signature_header(const char *secret, const char *old_secret, const char *msg_id, long long timestamp,
                        const char *body, size_t len, char *out, size_t outlen);
/* 0 if any space-separated v1 signature in header verifies (constant-time compare), else -1. */
int wh_verify(const char *secret, const char *msg_id, long long timestamp, const char *body, size_t len,
              const char *header);

/* Sealing for the database column. Returns 0 or -1. out >= WH_STORED_MAX. */
int wh_secret_seal(const char *secret, char *out);
/* Opens a stored value into out (>= WH_SECRET_MAX). Returns 0, or -1 (wrong/missing key, corrupt). */
int wh_secret_open(const char *stored, char *out);
/* 1 when RAILD_SECRETS_KEY is set and valid (secrets are encrypted at rest). */
int wh_sealing_enabled(void);
/* Secrets of any length (RPC endpoint lists) in the same stored forms; malloc'd, NULL on
 * failure (a malformed RAILD_SECRETS_KEY, a wrong key, a corrupt value). */
char *secret_seal_text(const char *plain);
char *secret_open_text(const char *stored);
/* RAILD_SECRETS_KEY: 1 valid, 0 absent, -1 set but not base64 of 32 bytes */
int wh_secrets_key_status(void);
#endif
