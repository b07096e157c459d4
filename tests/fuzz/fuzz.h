/* fuzz.h — what the harnesses share. Each harness is a libFuzzer entry point
 * (LLVMFuzzerTestOneInput); `make fuzz` builds them with clang -fsanitize=fuzzer, and
 * `make check` builds them with gcc and replay.c, which feeds every file of the seed corpus
 * (tests/fuzz/corpus/<harness>/, crash reproducers included) through the same entry point
 * under ASan+UBSan. A property that does not hold aborts, which both count as a finding. */
#ifndef TESTS_FUZZ_H
#define TESTS_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                   \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "fuzz property failed: %s: ", #cond);               \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* the input as a NUL-terminated string (inputs with a NUL byte in them stop there) */
static inline char *fuzz_str(const uint8_t *d, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, d, n);
    s[n] = 0;
    return s;
}
#endif
