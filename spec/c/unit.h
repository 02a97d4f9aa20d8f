/* A minimal unit-test harness for the C tests.
 *
 *   TEST(frame_header_roundtrip) { CHECK_EQ(1, 1); }
 *   UNIT_MAIN()
 *
 * Each TEST registers itself; main runs them all, or only those whose names
 * contain argv[1]. A failing CHECK reports file:line and the test goes on;
 * the test counts as failed. The last line is "<file>: N passed, N failed",
 * which scripts/run-tests adds up. */
#ifndef CQ_UNIT_H
#define CQ_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*unit_fn)(void);
struct unit_case {
  const char *name;
  unit_fn fn;
};

#define UNIT_MAX_CASES 1024
extern struct unit_case unit_cases[UNIT_MAX_CASES];
extern int unit_ncases;
extern int unit_failures; /* failed checks in the running test */
extern int unit_skipped;  /* the running test called SKIP */

#define TEST(name)                                                                                 \
  static void name(void);                                                                          \
  __attribute__((constructor)) static void register_##name(void) {                                 \
    if (unit_ncases < UNIT_MAX_CASES) unit_cases[unit_ncases++] = (struct unit_case){#name, name}; \
  }                                                                                                \
  static void name(void)

#define UNIT_FAIL(...)                                                                             \
  do {                                                                                             \
    unit_failures++;                                                                               \
    fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                              \
    fprintf(stderr, __VA_ARGS__);                                                                  \
    fputc('\n', stderr);                                                                           \
  } while (0)

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) UNIT_FAIL("CHECK(%s) failed", #cond);                                             \
  } while (0)

#define CHECK_EQ(a, b)                                                                             \
  do {                                                                                             \
    long long unit_a_ = (long long)(a), unit_b_ = (long long)(b);                                  \
    if (unit_a_ != unit_b_) UNIT_FAIL("%s == %s: %lld != %lld", #a, #b, unit_a_, unit_b_);         \
  } while (0)

#define CHECK_EQ_U64(a, b)                                                                         \
  do {                                                                                             \
    uint64_t unit_a_ = (uint64_t)(a), unit_b_ = (uint64_t)(b);                                     \
    if (unit_a_ != unit_b_)                                                                        \
      UNIT_FAIL("%s == %s: 0x%" PRIx64 " != 0x%" PRIx64, #a, #b, unit_a_, unit_b_);                \
  } while (0)

#define CHECK_STR(a, b)                                                                            \
  do {                                                                                             \
    const char *unit_a_ = (a), *unit_b_ = (b);                                                     \
    if (!unit_a_ || !unit_b_ || strcmp(unit_a_, unit_b_) != 0)                                     \
      UNIT_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, unit_a_ ? unit_a_ : "(null)",                \
                unit_b_ ? unit_b_ : "(null)");                                                     \
  } while (0)

#define CHECK_MEM(a, b, n)                                                                         \
  do {                                                                                             \
    size_t unit_n_ = (n);                                                                          \
    if (memcmp((a), (b), unit_n_) != 0) {                                                          \
      UNIT_FAIL("%s and %s differ in %zu bytes", #a, #b, unit_n_);                                 \
      unit_hexdump("got", (const void *)(a), unit_n_);                                             \
      unit_hexdump("want", (const void *)(b), unit_n_);                                            \
    }                                                                                              \
  } while (0)

/* Skips the current test, printing why; it counts as skipped, not passed. */
#define SKIP(...)                                                                                  \
  do {                                                                                             \
    unit_skipped = 1;                                                                              \
    printf("SKIP %s: ", __func__);                                                                 \
    printf(__VA_ARGS__);                                                                           \
    putchar('\n');                                                                                 \
    return;                                                                                        \
  } while (0)

/* Stops the current test (e.g. after a NULL that later checks would deref). */
#define REQUIRE(cond)                                                                              \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      UNIT_FAIL("REQUIRE(%s) failed", #cond);                                                      \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

void unit_hexdump(const char *label, const void *p, size_t n);
/* Deterministic PRNG for property tests (seed from UNIT_SEED or fixed). */
uint64_t unit_rand(void);

#define UNIT_MAIN()                                                                                \
  struct unit_case unit_cases[UNIT_MAX_CASES];                                                     \
  int unit_ncases, unit_failures, unit_skipped;                                                    \
  static uint64_t unit_rng_state = 0x9E3779B97F4A7C15ull;                                          \
  uint64_t unit_rand(void) {                                                                       \
    uint64_t z = (unit_rng_state += 0x9E3779B97F4A7C15ull);                                        \
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;                                                   \
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;                                                   \
    return z ^ (z >> 31);                                                                          \
  }                                                                                                \
  void unit_hexdump(const char *label, const void *p, size_t n) {                                  \
    const unsigned char *b = p;                                                                    \
    fprintf(stderr, "    %s:", label);                                                             \
    for (size_t i = 0; i < n && i < 64; i++)                                                       \
      fprintf(stderr, " %02x", b[i]);                                                              \
    fprintf(stderr, n > 64 ? " ...\n" : "\n");                                                     \
  }                                                                                                \
  int main(int argc, char **argv) {                                                                \
    const char *seed = getenv("UNIT_SEED");                                                        \
    if (seed) unit_rng_state = strtoull(seed, NULL, 0);                                            \
    int passed = 0, failed = 0, skipped = 0;                                                       \
    for (int i = 0; i < unit_ncases; i++) {                                                        \
      if (argc > 1 && !strstr(unit_cases[i].name, argv[1])) continue;                              \
      unit_failures = 0;                                                                           \
      unit_skipped = 0;                                                                            \
      unit_cases[i].fn();                                                                          \
      if (unit_failures) {                                                                         \
        failed++;                                                                                  \
        fprintf(stderr, "FAIL %s\n", unit_cases[i].name);                                          \
      } else if (unit_skipped) {                                                                   \
        skipped++;                                                                                 \
      } else {                                                                                     \
        passed++;                                                                                  \
      }                                                                                            \
    }                                                                                              \
    if (skipped)                                                                                   \
      printf("%s: %d passed, %d failed, %d skipped\n", __FILE__, passed, failed, skipped);         \
    else                                                                                           \
      printf("%s: %d passed, %d failed\n", __FILE__, passed, failed);                              \
    return failed ? 1 : 0;                                                                         \
  }

#endif
