/* Standard Webhooks v1 signing: the spec's published vector, rotation headers, tampering,
 * secret format and sealing at rest. */
#include "tap.h"
#include "raild/webhook_sign.h"
#include <stdlib.h>
#include <string.h>

static void vector(void)
{
    /* the example from the Standard Webhooks specification / reference libraries */
    const char *secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const char *body = "{\"test\": 2432232314}";
    char sig[WH_SIG_MAX];
    ok(wh_sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig) == 0, "signs");
    is_str(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "matches the spec's vector");
    ok(wh_verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig) == 0, "verifies");
    ok(wh_verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, strlen(body), sig) != 0,
       "another timestamp fails");
    ok(wh_verify(secret, "msg_other", 1614265330, body, strlen(body), sig) != 0, "another id fails");
    const char *tampered = "{\"test\": 2432232315}";
    ok(wh_verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, tampered, strlen(tampered), sig) != 0,
       "a tampered body fails");
}

static void rotation(void)
{
    char a[WH_SECRET_MAX], b[WH_SECRET_MAX], hdr[2 * WH_SIG_MAX];
    wh_secret_new(a);
    wh_secret_new(b);
    ok(!strncmp(a, "whsec_", 6) && wh_secret_valid(a), "new secrets are whsec_ and valid");
    ok(strcmp(a, b) != 0, "two new secrets differ");
    const char *body = "{\"id\":\"evt_1\"}";
    ok(wh_signature_header(b, a, "evt_1", 1700000000, body, strlen(body), hdr, sizeof hdr) == 0, "header");
    ok(strchr(hdr, ' ') != NULL && !strncmp(hdr, "v1,", 3) && strstr(hdr, " v1,") != NULL,
       "rotation header carries two v1 signatures");
    ok(wh_verify(a, "evt_1", 1700000000, body, strlen(body), hdr) == 0, "old secret verifies the header");
    ok(wh_verify(b, "evt_1", 1700000000, body, strlen(body), hdr) == 0, "new secret verifies the header");
    char c[WH_SECRET_MAX];
    wh_secret_new(c);
    ok(wh_verify(c, "evt_1", 1700000000, body, strlen(body), hdr) != 0, "an unrelated secret does not");
    ok(wh_signature_header(b, NULL, "evt_1", 1700000000, body, strlen(body), hdr, sizeof hdr) == 0 &&
       strchr(hdr, ' ') == NULL, "without an old secret the header has one signature");
}

static void formats(void)
{
    char sig[WH_SIG_MAX];
    ok(!wh_secret_valid("whsec_"), "empty secret invalid");
    ok(!wh_secret_valid("whsec_c2hvcnQ="), "secret under 24 bytes invalid");
    ok(!wh_secret_valid("sk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "wrong prefix invalid");
    ok(!wh_secret_valid("whsec_!!!!"), "non-base64 invalid");
    ok(wh_sign("nope", "x", 1, "", 0, sig) == -1, "signing with a bad secret fails");
}

static void sealing(void)
{
    char s[WH_SECRET_MAX], stored[WH_STORED_MAX], back[WH_SECRET_MAX];
    wh_secret_new(s);
    unsetenv("RAILD_SECRETS_KEY");
    ok(!wh_sealing_enabled(), "no key: sealing off");
    ok(wh_secret_seal(s, stored) == 0 && !strncmp(stored, "plain:", 6), "no key: stored plain:");
    ok(wh_secret_open(stored, back) == 0 && !strcmp(back, s), "plain: opens");
    setenv("RAILD_SECRETS_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", 1);
    ok(wh_sealing_enabled(), "key set: sealing on");
    ok(wh_secret_seal(s, stored) == 0 && !strncmp(stored, "aes:", 4), "key set: stored aes:");
    ok(strstr(stored, s + 6) == NULL, "sealed value does not contain the secret");
    ok(wh_secret_open(stored, back) == 0 && !strcmp(back, s), "aes: opens to the same secret");
    stored[10] = stored[10] == 'A' ? 'B' : 'A';
    ok(wh_secret_open(stored, back) != 0, "a corrupted sealed value is rejected (GCM tag)");
    wh_secret_seal(s, stored);
    setenv("RAILD_SECRETS_KEY", "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", 1);
    ok(wh_secret_open(stored, back) != 0, "the wrong key cannot open it");
    unsetenv("RAILD_SECRETS_KEY");
    ok(wh_secret_open(stored, back) != 0, "no key cannot open it");
}

int main(void)
{
    vector();
    rotation();
    formats();
    sealing();
    return tap_done();
}
