/* Benchmark: decoding a 5,000-row page of 10 mixed columns with
 * cq_rows_decode, beside memcpy of the same bytes in the same run.
 * Prints rows/s and the decode/memcpy time ratio. Runs about 2 seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "buf.h"
#include "rows.h"
#include "type_parse.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define NROWS 5000
#define NCOLS 10

static void put_int(cq_buf *b, int32_t v) {
  cq_buf_put_u32(b, 4);
  cq_buf_put_u32(b, (uint32_t)v);
}

int main(void) {
  static const char *const cols[NCOLS] = {"uuid",      "text",          "int",     "bigint",
                                          "timestamp", "double",        "boolean", "blob",
                                          "list<int>", "map<text, int>"};
  cq_arena a;
  cq_arena_init(&a, 0);
  const cq_type *types[NCOLS];
  for (int c = 0; c < NCOLS; c++)
    if (cq_type_parse_cql(&a, cols[c], strlen(cols[c]), &types[c], NULL, 0) < 0) return 1;

  cq_buf b;
  cq_buf_init(&b);
  for (uint32_t r = 0; r < NROWS; r++) {
    uint8_t u[16];
    for (int i = 0; i < 16; i++)
      u[i] = (uint8_t)(r * 31 + (uint32_t)i);
    cq_buf_put_bytes(&b, u, 16);
    char name[32];
    int n = snprintf(name, sizeof name, "user-%u@example.com", r);
    cq_buf_put_bytes(&b, name, (size_t)n);
    put_int(&b, (int32_t)r);
    cq_buf_put_u32(&b, 8);
    cq_buf_put_u64(&b, (uint64_t)r * 1000003u);
    cq_buf_put_u32(&b, 8);
    cq_buf_put_u64(&b, 1700000000000ull + r);
    cq_buf_put_u32(&b, 8);
    cq_buf_put_u64(&b, 0x400921fb54442d18ull);
    cq_buf_put_u32(&b, 1);
    cq_buf_put_u8(&b, (uint8_t)(r & 1));
    uint8_t blob[24];
    memset(blob, (int)r, sizeof blob);
    cq_buf_put_bytes(&b, blob, sizeof blob);
    cq_buf_put_u32(&b, 4 + 3 * 8); /* list<int> of 3 */
    cq_buf_put_u32(&b, 3);
    for (int i = 0; i < 3; i++)
      put_int(&b, (int32_t)r + i);
    cq_buf_put_u32(&b, 4 + 2 * (4 + 4 + 8)); /* map<text,int> of 2 */
    cq_buf_put_u32(&b, 2);
    cq_buf_put_bytes(&b, "key1", 4);
    put_int(&b, 1);
    cq_buf_put_bytes(&b, "key2", 4);
    put_int(&b, 2);
  }
  if (b.err) return 1;

  cq_rows_page page;
  cq_rows_init(&page);
  char err[256];
  uint8_t *dst = malloc(b.len);
  if (!dst) return 1;

  /* Warm up both, then time each for ~1 s. */
  if (cq_rows_decode(&page, types, NCOLS, NROWS, b.data, b.len, err, sizeof err) != 0) {
    fprintf(stderr, "decode failed: %s\n", err);
    return 1;
  }
  memcpy(dst, b.data, b.len);

  size_t iters = 0;
  double t0 = now(), t1;
  do {
    for (int k = 0; k < 10; k++) {
      if (cq_rows_decode(&page, types, NCOLS, NROWS, b.data, b.len, err, sizeof err) != 0) return 1;
      iters++;
    }
    t1 = now();
  } while (t1 - t0 < 1.0);
  double dec_per = (t1 - t0) / (double)iters;

  size_t citers = 0;
  volatile uint8_t sink = 0;
  t0 = now();
  do {
    for (int k = 0; k < 100; k++) {
      b.data[citers % b.len] ^= 1; /* keep the copy from being elided */
      memcpy(dst, b.data, b.len);
      sink ^= dst[citers % b.len];
      citers++;
    }
    t1 = now();
  } while (t1 - t0 < 1.0);
  double cpy_per = (t1 - t0) / (double)citers;
  (void)sink;

  printf("bench_rows: page of %d rows x %d columns, %zu bytes, %zu cells\n", NROWS, NCOLS, b.len,
         page.cells.n);
  printf("  cq_rows_decode: %9.1f us/page  %12.0f rows/s  %8.1f MB/s\n", dec_per * 1e6,
         NROWS / dec_per, (double)b.len / dec_per / 1e6);
  printf("  memcpy:         %9.1f us/page  %12.0f rows/s  %8.1f MB/s\n", cpy_per * 1e6,
         NROWS / cpy_per, (double)b.len / cpy_per / 1e6);
  printf("  ratio decode/memcpy time: %.1fx\n", dec_per / cpy_per);

  free(dst);
  cq_rows_free(&page);
  cq_buf_free(&b);
  cq_arena_free(&a);
  return 0;
}
