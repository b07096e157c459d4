/* webhook_sign — Standard Webhooks v1 signing and secrets at rest. See webhook_sign.h. */
#include "raild/webhook_sign.h"
#include "core/util.h"
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WH_KEY_BYTES 32
#define WH_MIN_KEY_BYTES 24

void wh_secret_new(char *out)
{
    unsigned char raw[WH_KEY_BYTES];
    util_random_bytes(raw, sizeof raw);
    char *b = util_base64(raw, sizeof raw);
    snprintf(out, WH_SECRET_MAX, "whsec_%s", b ? b : "");
    OPENSSL_cleanse(raw, sizeof raw);
    free(b);
}

/* Decodes the key bytes of a whsec_ secret; NULL when malformed. */
static unsigned char *secret_key(const char *secret, size_t *len)
{
    if (!secret || strncmp(secret, "whsec_", 6)) return NULL;
    unsigned char *k = util_base64_decode(secret + 6, len);
    if (k && *len < WH_MIN_KEY_BYTES) {
        free(k);
        return NULL;
    }
    return k;
}

int wh_secret_valid(const char *s)
{
    size_t n;
    unsigned char *k = secret_key(s, &n);
    free(k);
    return k != NULL;
}

/* The HMAC implementation, fetched once: a fetch is a provider lookup, and the dispatcher
 * signs thousands of messages a second. EVP_MAC objects may be shared across threads. */
static EVP_MAC *g_hmac;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static void hmac_fetch(void) { g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL); }

/* raw 32-byte HMAC of "<id>.<ts>.<body>" */
static int sign_raw(const unsigned char *key, size_t klen, const char *msg_id, long long ts, const char *body,
                    size_t len, unsigned char mac[32])
{
    char prefix[256];
    int n = snprintf(prefix, sizeof prefix, "%s.%lld.", msg_id, ts);
    if (n < 0 || (size_t)n >= sizeof prefix) return -1;
    pthread_once(&hmac_once, hmac_fetch);
    EVP_MAC_CTX *h = g_hmac ? EVP_MAC_CTX_new(g_hmac) : NULL;
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0), OSSL_PARAM_construct_end() };
    size_t maclen = 0;
    int ok = h && EVP_MAC_init(h, key, klen, params) &&
             EVP_MAC_update(h, (const unsigned char *)prefix, (size_t)n) &&
             EVP_MAC_update(h, (const unsigned char *)body, len) && EVP_MAC_final(h, mac, &maclen, 32);
    EVP_MAC_CTX_free(h);
    return ok && maclen == 32 ? 0 : -1;
}

int wh_sign(const char *secret, const char *msg_id, long long timestamp, const char *body, size_t len, char *out)
{
    size_t klen;
    unsigned char *key = secret_key(secret, &klen), mac[32];
    if (!key) return -1;
    int rc = sign_raw(key, klen, msg_id, timestamp, body, len, mac);
    OPENSSL_cleanse(key, klen);
    free(key);
    if (rc) return -1;
    char *b = util_base64(mac, sizeof mac);
    if (!b) return -1;
    snprintf(out, WH_SIG_MAX, "v1,%s", b);
    free(b);
    return 0;
}

int wh_signature_header(const char *secret, const char *old_secret, const char *msg_id, long long timestamp,
                        const char *body, size_t len, char *out, size_t outlen)
{
    char a[WH_SIG_MAX], b[WH_SIG_MAX];
    if (wh_sign(secret, msg_id, timestamp, body, len, a)) return -1;
    if (old_secret && *old_secret) {
        if (wh_sign(old_secret, msg_id, timestamp, body, len, b)) return -1;
        snprintf(out, outlen, "%s %s", a, b);
    } else {
        snprintf(out, outlen, "%s", a);
    }
    return 0;
}

int wh_verify(const char *secret, const char *msg_id, long long timestamp, const char *body, size_t len,
              const char *header)
{
    char want[WH_SIG_MAX];
    if (!header || wh_sign(secret, msg_id, timestamp, body, len, want)) return -1;
    return util_sig_header_has(header, want + 3) ? 0 : -1;     /* want is "v1,<base64>" */
}

/* ------------------------------------------------------------ secrets at rest */

/* The sealing key from RAILD_SECRETS_KEY: 0, -1 when absent, -2 when set but not
 * base64 of 32 bytes (a typo must never silently downgrade to plain storage). */
static int sealing_key(unsigned char key[32])
{
    const char *v = getenv("RAILD_SECRETS_KEY");
    if (!v || !*v) return -1;
    size_t n;
    unsigned char *k = util_base64_decode(v, &n);
    if (!k || n != 32) {
        free(k);
        return -2;
    }
    memcpy(key, k, 32);
    OPENSSL_cleanse(k, n);
    free(k);
    return 0;
}

int wh_secrets_key_status(void)
{
    unsigned char k[32];
    int rc = sealing_key(k);
    OPENSSL_cleanse(k, sizeof k);
    return rc == 0 ? 1 : rc == -1 ? 0 : -1;
}

int wh_sealing_enabled(void)
{
    unsigned char k[32];
    int ok = sealing_key(k) == 0;
    OPENSSL_cleanse(k, sizeof k);
    return ok;
}

static int aes_gcm(int enc, const unsigned char key[32], const unsigned char iv[12], unsigned char tag[16],
                   const unsigned char *in, int inlen, unsigned char *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, f = 0;
    int ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv, enc) &&
             (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag)) &&
             EVP_CipherUpdate(c, out, &n, in, inlen) && EVP_CipherFinal_ex(c, out + n, &f) &&
             (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag));
    EVP_CIPHER_CTX_free(c);
    return ok && n + f == inlen ? 0 : -1;
}

int wh_secret_seal(const char *secret, char *out)
{
    unsigned char key[32];
    size_t len = strlen(secret);
    if (len >= WH_SECRET_MAX) return -1;
    int k = sealing_key(key);
    if (k == -2) return -1;
    if (k == -1) {
        snprintf(out, WH_STORED_MAX, "plain:%s", secret);
        return 0;
    }
    unsigned char buf[12 + 16 + WH_SECRET_MAX];
    util_random_bytes(buf, 12);
    int rc = aes_gcm(1, key, buf, buf + 12, (const unsigned char *)secret, (int)len, buf + 28);
    OPENSSL_cleanse(key, sizeof key);
    if (rc) return -1;
    char *b = util_base64(buf, 28 + len);
    if (!b) return -1;
    snprintf(out, WH_STORED_MAX, "aes:%s", b);
    free(b);
    return 0;
}

int wh_secret_open(const char *stored, char *out)
{
    if (!stored) return -1;
    if (!strncmp(stored, "plain:", 6)) {
        if (strlen(stored + 6) >= WH_SECRET_MAX) return -1;
        snprintf(out, WH_SECRET_MAX, "%s", stored + 6);
        return 0;
    }
    if (strncmp(stored, "aes:", 4)) return -1;
    unsigned char key[32];
    if (sealing_key(key)) return -1;
    size_t n;
    unsigned char *b = util_base64_decode(stored + 4, &n);
    int rc = -1;
    if (b && n > 28 && n - 28 < WH_SECRET_MAX) {
        rc = aes_gcm(0, key, b, b + 12, b + 28, (int)(n - 28), (unsigned char *)out);
        if (!rc) out[n - 28] = 0;
    }
    OPENSSL_cleanse(key, sizeof key);
    free(b);
    return rc;
}

/* Any-length secrets (RPC URL lists): the same "aes:" / "plain:" forms, malloc'd. */
char *secret_seal_text(const char *plain)
{
    unsigned char key[32];
    size_t len = strlen(plain);
    int k = sealing_key(key);
    if (k == -2 || len > 1 << 20) return NULL;
    if (k == -1) {
        char *out = malloc(len + 7);
        if (out) snprintf(out, len + 7, "plain:%s", plain);
        return out;
    }
    unsigned char *buf = malloc(28 + len);
    char *out = NULL;
    if (buf) {
        util_random_bytes(buf, 12);
        if (!aes_gcm(1, key, buf, buf + 12, (const unsigned char *)plain, (int)len, buf + 28)) {
            char *b = util_base64(buf, 28 + len);
            if (b && (out = malloc(strlen(b) + 5))) snprintf(out, strlen(b) + 5, "aes:%s", b);
            free(b);
        }
        OPENSSL_cleanse(buf, 28 + len);
        free(buf);
    }
    OPENSSL_cleanse(key, sizeof key);
    return out;
}

char *secret_open_text(const char *stored)
{
    if (!stored) return NULL;
    if (!strncmp(stored, "plain:", 6)) return strdup(stored + 6);
    if (strncmp(stored, "aes:", 4)) return NULL;
    unsigned char key[32];
    if (sealing_key(key)) return NULL;
    size_t n;
    unsigned char *b = util_base64_decode(stored + 4, &n);
    char *out = NULL;
    if (b && n > 28 && (out = malloc(n - 28 + 1))) {
        if (aes_gcm(0, key, b, b + 12, b + 28, (int)(n - 28), (unsigned char *)out)) {
            free(out);
            out = NULL;
        } else {
            out[n - 28] = 0;
        }
    }
    OPENSSL_cleanse(key, sizeof key);
    free(b);
    return out;
}
