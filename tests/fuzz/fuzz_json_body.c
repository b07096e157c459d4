/* request bodies: the layer every endpoint's body goes through — the JSON object check
 * (duplicate keys, unknown fields), the typed field readers (strings without control
 * characters, bounded integers, booleans) and bulk item lists. Whatever comes in, the
 * answer is either a value that meets the reader's contract or a 4xx error with a code. */
#include "fuzz.h"
#include "raild/http.h"
#include "core/util.h"
#include <jansson.h>

static const char *const ALLOWED[] = { "reference", "amount", "rail", "note", "version", "items", "enabled",
                                       "metadata", NULL };

static void expect_error(struct resp *r, const char *what)
{
    FUZZ_CHECK(r->status >= 400 && r->status < 500, "%s: status %d", what, r->status);
    json_t *e = r->json ? json_object_get(json_object_get(r->json, "error"), "code") : NULL;
    FUZZ_CHECK(json_is_string(e) && json_string_length(e) > 0, "%s: no error code", what);
}

static void reset(struct resp *r)
{
    json_decref(r->json);
    free(r->raw);
    memset(r, 0, sizeof *r);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    struct req q = { 0 };
    struct resp r = { 0 };
    char *body = fuzz_str(d, n);        /* raild hands handlers a NUL-terminated body */
    q.body = body;
    q.body_len = n;
    json_t *o = req_json_object(&q, &r, ALLOWED);
    if (!o) {
        expect_error(&r, "req_json_object");
        reset(&r);
        free(body);
        return 0;
    }
    FUZZ_CHECK(json_is_object(o), "not an object");
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int known = 0;
        for (int i = 0; ALLOWED[i]; i++) known |= !strcmp(k, ALLOWED[i]);
        FUZZ_CHECK(known, "unknown field '%s' accepted", k);
    }
    const char *s = NULL;      /* jget_str leaves it alone when the field is absent */
    if (jget_str(o, "note", 0, 64, &s, &r) == 0) {
        FUZZ_CHECK(!s || (strlen(s) <= 64 && util_text_control(s) < 0), "note '%s' accepted", s);
    } else {
        expect_error(&r, "jget_str");
    }
    reset(&r);
    long long i = 0;
    if (jget_int(o, "version", 0, 1, 1000000, &i, &r) == 0) {
        FUZZ_CHECK(!json_object_get(o, "version") || (i >= 1 && i <= 1000000), "version %lld accepted", i);
    } else {
        expect_error(&r, "jget_int");
    }
    reset(&r);
    int b;
    if (jget_bool(o, "enabled", 0, &b, &r)) expect_error(&r, "jget_bool");
    reset(&r);
    json_t *items = json_object_get(o, "items");
    if (items) {
        if (http_bulk_items(items, 1000, 1, &r) == 0) {
            FUZZ_CHECK(json_array_size(items) >= 1 && json_array_size(items) <= 1000, "items size");
        } else {
            expect_error(&r, "http_bulk_items");
        }
        reset(&r);
    }
    json_decref(o);
    reset(&r);
    free(body);
    return 0;
}
