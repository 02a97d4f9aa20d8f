/* Throughput figures for the framing layer, printed side by side with
 * references measured in the same run (zlib's crc32 when built with zlib,
 * memcpy always). Not a test: it prints numbers and exits 0. Each figure
 * runs for about 0.3 s, so the whole program takes a few seconds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crc.h"
#include "frame.h"
#include "murmur3.h"

#ifdef HAVE_ZLIB
#include <zlib.h>
#endif

#define SLICE 0.3

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile uint64_t sink;

/* Runs fn(arg) in growing batches until SLICE seconds pass; returns calls/s. */
typedef void (*bench_fn)(void *arg, size_t reps);
static double rate(bench_fn fn, void *arg) {
  size_t reps = 1, done = 0;
  double t0 = now(), t;
  for (;;) {
    fn(arg, reps);
    done += reps;
    t = now() - t0;
    if (t >= SLICE) break;
    if (t < SLICE / 10) reps *= 2;
  }
  return (double)done / t;
}

typedef struct {
  uint8_t *src, *dst;
  size_t n;
} blk;

static void run_crc32(void *a, size_t reps) {
  blk *b = a;
  uint32_t c = 0;
  for (size_t i = 0; i < reps; i++)
    c ^= cq_crc32_v5(b->src, b->n);
  sink += c;
}
static void run_crc24(void *a, size_t reps) {
  blk *b = a;
  uint32_t c = 0;
  for (size_t i = 0; i < reps; i++)
    c ^= cq_crc24(b->src, b->n);
  sink += c;
}
#ifdef HAVE_ZLIB
static void run_zlib(void *a, size_t reps) {
  blk *b = a;
  uLong c = 0;
  for (size_t i = 0; i < reps; i++)
    c ^= crc32(0, b->src, (uInt)b->n);
  sink += c;
}
#endif
static void run_memcpy(void *a, size_t reps) {
  blk *b = a;
  for (size_t i = 0; i < reps; i++) {
    memcpy(b->dst, b->src, b->n);
    sink += b->dst[i % b->n];
  }
}

typedef struct {
  uint8_t keys[1024][16];
  uint8_t out[16];
} keyset;

static void run_murmur(void *a, size_t reps) {
  keyset *k = a;
  int64_t x = 0;
  for (size_t i = 0; i < reps; i++)
    x ^= cq_murmur3_token(k->keys[i & 1023], 16);
  sink += (uint64_t)x;
}
static void run_key_memcpy(void *a, size_t reps) {
  keyset *k = a;
  for (size_t i = 0; i < reps; i++) {
    memcpy(k->out, k->keys[i & 1023], 16);
    sink += k->out[i & 15];
  }
}

typedef struct {
  cq_frame_writer w;
  cq_buf out;
  uint8_t body[200];
} framer;

static void run_frames(void *a, size_t reps) {
  framer *f = a;
  cq_frame_header h = {0};
  h.opcode = CQ_OP_QUERY;
  for (size_t i = 0; i < reps; i++) {
    if (f->out.len > (1u << 20)) cq_buf_reset(&f->out);
    h.stream = (int16_t)(i & 0x7fff);
    cq_frame_write(&f->w, &f->out, &h, f->body, sizeof f->body);
  }
  sink += f->out.len;
}
static void run_frame_memcpy(void *a, size_t reps) {
  framer *f = a;
  for (size_t i = 0; i < reps; i++) {
    if (f->out.len > (1u << 20)) cq_buf_reset(&f->out);
    cq_buf_put(&f->out, f->body, 9);
    cq_buf_put(&f->out, f->body, sizeof f->body);
  }
  sink += f->out.len;
}

static void line(const char *what, double v, const char *unit, double ref, const char *refname) {
  printf("  %-34s %12.1f %-9s", what, v, unit);
  if (ref > 0) printf("  x%.2f of %s", v / ref, refname);
  printf("\n");
}

int main(void) {
  blk b;
  b.n = 64 * 1024; /* a typical segment payload; stays in L2 */
  b.src = malloc(b.n);
  b.dst = malloc(b.n);
  if (!b.src || !b.dst) return 1;
  uint32_t s = 12345;
  for (size_t i = 0; i < b.n; i++) {
    s = s * 1103515245u + 12345u;
    b.src[i] = (uint8_t)(s >> 16);
  }
  double mb = (double)b.n / 1e6;
  /* PCLMUL folding on x86-64 CPUs that have it, slicing-by-16 otherwise. */
  double crc32 = rate(run_crc32, &b) * mb;
  double crc24 = rate(run_crc24, &b) * mb;
  double mcp = rate(run_memcpy, &b) * mb;
  double zl = 0;
#ifdef HAVE_ZLIB
  zl = rate(run_zlib, &b) * mb;
#endif
  printf("checksums over %zu-byte buffers (MB/s):\n", b.n);
  line("memcpy", mcp, "MB/s", 0, "");
#ifdef HAVE_ZLIB
  line("zlib crc32", zl, "MB/s", mcp, "memcpy");
  line("cq_crc32_v5", crc32, "MB/s", zl, "zlib crc32");
#else
  line("cq_crc32_v5", crc32, "MB/s", mcp, "memcpy");
  printf("  (zlib not found at build time: no zlib reference)\n");
#endif
  line("cq_crc24 (bytewise; 3-5 byte headers)", crc24, "MB/s", mcp, "memcpy");

  keyset *k = malloc(sizeof *k);
  if (!k) return 1;
  for (size_t i = 0; i < 1024; i++)
    for (size_t j = 0; j < 16; j++) {
      s = s * 1103515245u + 12345u;
      k->keys[i][j] = (uint8_t)(s >> 16);
    }
  double mm = rate(run_murmur, k);
  double km = rate(run_key_memcpy, k);
  printf("murmur3 token, 16-byte keys:\n");
  line("memcpy of a 16-byte key", km / 1e6, "M ops/s", 0, "");
  line("cq_murmur3_token", mm / 1e6, "M hash/s", km / 1e6, "memcpy");

  framer *f = malloc(sizeof *f);
  if (!f) return 1;
  for (size_t i = 0; i < sizeof f->body; i++)
    f->body[i] = (uint8_t) "SELECT * FROM ks.t WHERE k=?"[i % 28];
  cq_buf_init(&f->out);
  cq_frame_writer_init(&f->w, 4, 0);
  double fm = rate(run_frame_memcpy, f);
  double fp = rate(run_frames, f);
  cq_frame_writer_free(&f->w);
  cq_frame_writer_init(&f->w, 4, 1);
  double fz = rate(run_frames, f);
  cq_buf_reset(&f->out);
  run_frames(f, 1);
  size_t zlen = f->out.len;
  cq_frame_writer_free(&f->w);
  cq_buf_free(&f->out);
  printf("frames with a 200-byte QUERY-sized body:\n");
  line("memcpy header+body into a cq_buf", fm / 1e6, "M/s", 0, "");
  line("cq_frame_write, uncompressed", fp / 1e6, "M frames/s", fm / 1e6, "memcpy");
  line("cq_frame_write, LZ4", fz / 1e6, "M frames/s", fm / 1e6, "memcpy");
  printf("  (LZ4 frame: %zu bytes on the wire for 209 plain)\n", zlen);
  free(f);
  free(k);
  free(b.src);
  free(b.dst);
  return 0;
}
