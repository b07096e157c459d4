/* tap.h — a minimal TAP producer for the C unit tests (prove reads it). */
#ifndef TESTS_TAP_H
#define TESTS_TAP_H
#include <stdio.h>
#include <string.h>
static int tap_n, tap_failed;
#define ok(cond, ...) do { int tc_ = !!(cond); tap_n++; if (!tc_) tap_failed++; \
    printf("%s %d - ", tc_ ? "ok" : "not ok", tap_n); printf(__VA_ARGS__); printf("\n"); \
    if (!tc_) printf("#   at %s:%d\n", __FILE__, __LINE__); } while (0)
#define is_str(got, want, ...) do { const char *g_ = (got), *w_ = (want); int c_ = g_ && w_ && !strcmp(g_, w_); \
    ok(c_, __VA_ARGS__); if (!c_) printf("#   got '%s' want '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } while (0)
#define is_int(got, want, ...) do { long long g_ = (got), w_ = (want); ok(g_ == w_, __VA_ARGS__); \
    if (g_ != w_) printf("#   got %lld want %lld\n", g_, w_); } while (0)
static inline int tap_done(void) { printf("1..%d\n", tap_n); return tap_failed ? 1 : 0; }
#endif
