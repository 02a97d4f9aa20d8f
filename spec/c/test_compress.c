/* LZ4 wrappers: block round trips, the v3/v4 body format, corrupt input. */
#include "../../src/core/compress.h"
#include "unit.h"

static void fill_text(uint8_t *p, size_t n) {
  static const char words[] = "SELECT key, value FROM ks.table WHERE id = ? AND ts > ? ";
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)words[i % (sizeof words - 1)];
}

static void fill_random(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)unit_rand();
}

static void roundtrip_body(const uint8_t *src, size_t n) {
  cq_buf c, d;
  cq_buf_init(&c);
  cq_buf_init(&d);
  long got = cq_lz4_compress_body(NULL, &c, src, n);
  CHECK(got >= 5);
  CHECK_EQ(c.len, (size_t)got);
  CHECK_EQ(cq_load_u32(c.data), n);
  CHECK_EQ(cq_lz4_decompress_body(&d, c.data, c.len, 1u << 30), CQ_OK);
  CHECK_EQ(d.len, n);
  if (n) CHECK_MEM(d.data, src, n);
  cq_buf_free(&c);
  cq_buf_free(&d);
}

TEST(body_roundtrip_empty) { roundtrip_body((const uint8_t *)"", 0); }

TEST(body_roundtrip_small_text_and_random) {
  uint8_t a[1000];
  fill_text(a, sizeof a);
  roundtrip_body(a, sizeof a);
  fill_random(a, sizeof a);
  roundtrip_body(a, sizeof a);
  for (size_t n = 1; n < 40; n++)
    roundtrip_body(a, n);
}

TEST(body_roundtrip_one_mib) {
  size_t n = 1u << 20;
  uint8_t *a = malloc(n);
  REQUIRE(a);
  fill_text(a, n);
  for (size_t i = 0; i < n; i += 4096)
    a[i] = (uint8_t)unit_rand();
  cq_buf c;
  cq_buf_init(&c);
  long got = cq_lz4_compress_body(NULL, &c, a, n);
  CHECK(got > 0 && (size_t)got < n / 4); /* repetitive text compresses well */
  roundtrip_body(a, n);
  fill_random(a, n);
  roundtrip_body(a, n); /* incompressible */
  cq_buf_free(&c);
  free(a);
}

TEST(incompressible_block_grows_within_bound) {
  uint8_t a[4096];
  fill_random(a, sizeof a);
  cq_buf c;
  cq_buf_init(&c);
  long got = cq_lz4_compress(NULL, &c, a, sizeof a);
  CHECK(got > (long)sizeof a);
  CHECK((size_t)got <= cq_lz4_bound(sizeof a));
  uint8_t back[4096];
  CHECK_EQ(cq_lz4_decompress(c.data, c.len, back, sizeof back), CQ_OK);
  CHECK_MEM(back, a, sizeof a);
  cq_buf_free(&c);
}

TEST(decompress_rejects_wrong_size_and_corruption) {
  uint8_t a[2000], back[2000];
  fill_text(a, sizeof a);
  cq_buf c;
  cq_buf_init(&c);
  REQUIRE(cq_lz4_compress(NULL, &c, a, sizeof a) > 0);
  /* Declared size one too small or too large. */
  CHECK_EQ(cq_lz4_decompress(c.data, c.len, back, sizeof a - 1), CQ_ERR_MALFORMED);
  uint8_t *big = malloc(sizeof a + 1);
  REQUIRE(big);
  CHECK_EQ(cq_lz4_decompress(c.data, c.len, big, sizeof a + 1), CQ_ERR_MALFORMED);
  free(big);
  /* Truncated input. */
  CHECK_EQ(cq_lz4_decompress(c.data, c.len - 1, back, sizeof a), CQ_ERR_MALFORMED);
  CHECK_EQ(cq_lz4_decompress(c.data, 0, back, sizeof a), CQ_ERR_MALFORMED);
  /* Random garbage never crashes and never claims success with wrong size. */
  for (int i = 0; i < 2000; i++) {
    uint8_t junk[64];
    size_t n = 1 + (size_t)(unit_rand() % sizeof junk);
    fill_random(junk, n);
    int rc = cq_lz4_decompress(junk, n, back, 1 + (size_t)(unit_rand() % sizeof back));
    CHECK(rc == CQ_OK || rc == CQ_ERR_MALFORMED);
  }
  /* Empty output: only the single 0x00 token is valid. */
  static const uint8_t zero = 0;
  CHECK_EQ(cq_lz4_decompress(&zero, 1, back, 0), CQ_OK);
  CHECK_EQ(cq_lz4_decompress(a, 3, back, 0), CQ_ERR_MALFORMED);
  cq_buf_free(&c);
}

TEST(body_decompress_limits) {
  cq_buf d;
  cq_buf_init(&d);
  static const uint8_t short_body[] = {0, 0, 1};
  CHECK_EQ(cq_lz4_decompress_body(&d, short_body, sizeof short_body, 100), CQ_ERR_MALFORMED);
  /* Declares 1 GiB: refused before any allocation. */
  static const uint8_t huge[] = {0x40, 0, 0, 0, 0x00};
  CHECK_EQ(cq_lz4_decompress_body(&d, huge, sizeof huge, 256u << 20), CQ_ERR_TOO_LARGE);
  CHECK(d.cap == 0);
  /* Just the length 0 with no block is accepted as empty. */
  static const uint8_t empty4[] = {0, 0, 0, 0};
  CHECK_EQ(cq_lz4_decompress_body(&d, empty4, 4, 100), CQ_OK);
  CHECK_EQ(d.len, 0);
  /* Declared length larger than what the block holds. */
  uint8_t a[300];
  fill_text(a, sizeof a);
  cq_buf c;
  cq_buf_init(&c);
  REQUIRE(cq_lz4_compress_body(NULL, &c, a, sizeof a) > 0);
  cq_store_u32(c.data, 301);
  CHECK_EQ(cq_lz4_decompress_body(&d, c.data, c.len, 1000), CQ_ERR_MALFORMED);
  cq_store_u32(c.data, 300);
  CHECK_EQ(cq_lz4_decompress_body(&d, c.data, c.len, 299), CQ_ERR_TOO_LARGE);
  CHECK_EQ(cq_lz4_decompress_body(&d, c.data, c.len, 300), CQ_OK);
  cq_buf_free(&c);
  cq_buf_free(&d);
}

TEST(reused_context_makes_independent_blocks) {
  /* Each block must decompress on its own even though the LZ4 state is
   * reused: similar consecutive inputs would tempt a dictionary match. */
  cq_lz4_ctx ctx = {0};
  uint8_t a[3000], back[3000];
  fill_text(a, sizeof a);
  cq_buf c;
  cq_buf_init(&c);
  for (int i = 0; i < 200; i++) {
    size_t n = 1 + (size_t)(unit_rand() % sizeof a);
    a[unit_rand() % sizeof a] = (uint8_t)unit_rand();
    cq_buf_reset(&c);
    uint8_t *copy = malloc(n); /* the source is gone before decompression */
    REQUIRE(copy);
    memcpy(copy, a, n);
    long got = cq_lz4_compress(&ctx, &c, copy, n);
    memset(copy, 0xAA, n);
    free(copy);
    REQUIRE(got > 0);
    CHECK_EQ(cq_lz4_decompress(c.data, (size_t)got, back, n), CQ_OK);
    CHECK_MEM(back, a, n);
  }
  cq_lz4_ctx_free(&ctx);
  cq_lz4_ctx_free(&ctx); /* idempotent */
  cq_buf_free(&c);
}

UNIT_MAIN()
