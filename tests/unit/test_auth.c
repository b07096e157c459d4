/* auth: every role against every capability (DESIGN §7), key format and hashing. */
#include "tap.h"
#include "raild/auth.h"
#include <string.h>

static const char *const ROLES[] = { "merchant", "watcher", "viewer", "support", "ops", "finance", "treasury", "admin" };
static const char *const CAPS[] = { "public", "merchant", "ingest", "read", "support", "ops", "finance", "treasury",
                                    "admin", "any_key" };

/* expected[role][cap]: the whole policy, written out so a change to auth.c must be a
 * deliberate change here too */
static const int EXPECTED[8][10] = {
    /*             pub mer ing read sup ops fin tre adm any */
    /* merchant */ { 1, 1, 0, 0, 0, 0, 0, 0, 0, 1 },
    /* watcher  */ { 1, 0, 1, 0, 0, 0, 0, 0, 0, 1 },
    /* viewer   */ { 1, 0, 0, 1, 0, 0, 0, 0, 0, 1 },
    /* support  */ { 1, 0, 0, 1, 1, 0, 0, 0, 0, 1 },
    /* ops      */ { 1, 0, 0, 1, 0, 1, 0, 0, 0, 1 },
    /* finance  */ { 1, 0, 0, 1, 0, 0, 1, 0, 0, 1 },
    /* treasury */ { 1, 0, 0, 1, 0, 0, 0, 1, 0, 1 },
    /* admin    */ { 1, 0, 0, 1, 1, 1, 1, 0, 1, 1 },
};

int main(void)
{
    for (int r = 0; r < 8; r++) {
        ok(role_valid(ROLES[r]), "%s is a role", ROLES[r]);
        for (int c = 0; c <= CAP_ANY_KEY; c++)
            is_int(role_can(ROLES[r], (enum cap)c), EXPECTED[r][c], "%s %s capability '%s'", ROLES[r],
                   EXPECTED[r][c] ? "has" : "lacks", CAPS[c]);
    }
    static const char *const bogus[] = { "", "Admin", "root", "admin ", "ops;", "superuser" };
    for (size_t i = 0; i < sizeof bogus / sizeof bogus[0]; i++) {
        ok(!role_valid(bogus[i]), "'%s' is not a role", bogus[i]);
        ok(!role_can(bogus[i], CAP_READ) && !role_can(bogus[i], CAP_ADMIN) &&
           !role_can(bogus[i], CAP_ANY_KEY),
           "'%s' gets no operator capability", bogus[i]);
    }

    char k1[KEY_MAX], k2[KEY_MAX], p1[16], p2[16], h1[80], h2[80], h[80];
    auth_new_key("production", k1, p1, h1);
    auth_new_key("sandbox", k2, p2, h2);
    ok(!strncmp(k1, "rk_live_", 8), "production keys start rk_live_");
    ok(!strncmp(k2, "rk_test_", 8), "sandbox keys start rk_test_");
    ok(strlen(k1) >= 8 + 24, "keys carry at least 24 random characters");
    ok(!strncmp(k1, p1, strlen(p1)) && strlen(p1) < strlen(k1) / 2, "the display prefix is a short head of the key");
    ok(strcmp(k1 + 8, k2 + 8) != 0, "two keys differ");
    ok(!strncmp(h1, "\\x", 2) && strlen(h1) == 66, "hash is \\x + 64 hex digits");
    ok(strstr(h1, k1 + 8) == NULL, "hash does not contain the key");
    auth_hash_key(k1, h);
    is_str(h, h1, "hashing the same key again gives the stored hash");
    auth_hash_key(k2, h);
    ok(strcmp(h, h1) != 0, "different keys hash differently");
    auth_hash_key("abc", h);
    is_str(h, "\\xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256('abc') test vector");
    return tap_done();
}
