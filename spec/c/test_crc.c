/* CRC24 / CRC32 of the v5 framing layer. Vectors computed from the spec's
 * parameters with an independent bit-at-a-time model (below and in Python's
 * zlib for CRC32). */
#include "../../src/core/crc.h"
#include "unit.h"

/* Bit-at-a-time CRC24 straight from the spec's wording: init 0x875060,
 * polynomial 0x1974F0B, MSB first. */
static uint32_t crc24_bitwise(const uint8_t *p, size_t n) {
  uint32_t crc = 0x875060;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint32_t)p[i] << 16;
    for (int b = 0; b < 8; b++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1974F0B;
    }
  }
  return crc;
}

static uint32_t crc32_bitwise(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int b = 0; b < 8; b++)
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

TEST(crc32_check_value) {
  CHECK_EQ_U64(cq_crc32_update(0, "123456789", 9), 0xcbf43926u);
  CHECK_EQ_U64(cq_crc32_update(0, "", 0), 0);
}

TEST(crc32_v5_includes_cassandra_prefix) {
  static const uint8_t prefix[] = {0xfa, 0x2d, 0x55, 0xca};
  CHECK_EQ_U64(cq_crc32_update(0, prefix, 4), CQ_CRC32_V5_INIT);
  CHECK_EQ_U64(cq_crc32_v5("123456789", 9), 0xe2a261a7u);
  CHECK_EQ_U64(cq_crc32_v5("", 0), 0x44777ed3u);
}

TEST(crc24_check_values) {
  CHECK_EQ_U64(cq_crc24("123456789", 9), 0x4b3f02u);
  CHECK_EQ_U64(cq_crc24("", 0), 0x875060u);
  /* Header of a 50-byte self-contained uncompressed segment: 32 00 02. */
  static const uint8_t h[] = {0x32, 0x00, 0x02};
  CHECK_EQ_U64(cq_crc24(h, 3), 0xeeffa5u);
}

TEST(crc24_matches_bitwise_model_on_random_input) {
  uint8_t buf[64];
  for (int iter = 0; iter < 2000; iter++) {
    size_t n = (size_t)(unit_rand() % sizeof buf);
    for (size_t i = 0; i < n; i++)
      buf[i] = (uint8_t)unit_rand();
    CHECK_EQ_U64(cq_crc24(buf, n), crc24_bitwise(buf, n));
    CHECK(cq_crc24(buf, n) <= 0xFFFFFFu);
  }
}

TEST(crc32_matches_bitwise_model_all_lengths_and_alignments) {
  static uint8_t buf[1100];
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)unit_rand();
  for (size_t off = 0; off < 8; off++)
    for (size_t n = 0; n + off <= 300; n++)
      CHECK_EQ_U64(cq_crc32_update(0, buf + off, n), crc32_bitwise(0, buf + off, n));
  CHECK_EQ_U64(cq_crc32_update(0, buf, sizeof buf), crc32_bitwise(0, buf, sizeof buf));
}

TEST(crc32_long_inputs_match_bitwise_model) {
  /* Long enough for the carry-less-multiply path on x86-64, with every
   * remainder mod 16 and mod 64, at odd alignments. */
  size_t cap = 200000;
  uint8_t *buf = malloc(cap + 8);
  REQUIRE(buf);
  for (size_t i = 0; i < cap + 8; i++)
    buf[i] = (uint8_t)unit_rand();
  for (size_t n = 120; n < 400; n++)
    CHECK_EQ_U64(cq_crc32_update(0x12345678u, buf + (n & 7), n),
                 crc32_bitwise(0x12345678u, buf + (n & 7), n));
  for (int iter = 0; iter < 40; iter++) {
    size_t n = (size_t)(unit_rand() % cap);
    size_t off = (size_t)(unit_rand() % 8);
    CHECK_EQ_U64(cq_crc32_v5(buf + off, n), crc32_bitwise(CQ_CRC32_V5_INIT, buf + off, n));
  }
  memset(buf, 0, cap);
  CHECK_EQ_U64(cq_crc32_update(0, buf, 4096), crc32_bitwise(0, buf, 4096));
  memset(buf, 0xff, cap);
  CHECK_EQ_U64(cq_crc32_update(0, buf, 4096), crc32_bitwise(0, buf, 4096));
  free(buf);
}

TEST(crc32_incremental_equals_one_shot) {
  static uint8_t buf[4096];
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)unit_rand();
  uint32_t whole = cq_crc32_update(0, buf, sizeof buf);
  for (int iter = 0; iter < 200; iter++) {
    uint32_t c = 0;
    size_t pos = 0;
    while (pos < sizeof buf) {
      size_t k = 1 + (size_t)(unit_rand() % 97);
      if (k > sizeof buf - pos) k = sizeof buf - pos;
      c = cq_crc32_update(c, buf + pos, k);
      pos += k;
    }
    CHECK_EQ_U64(c, whole);
  }
  uint32_t c24 = cq_crc24_update(CQ_CRC24_INIT, buf, 10);
  c24 = cq_crc24_update(c24, buf + 10, 20);
  CHECK_EQ_U64(c24, cq_crc24(buf, 30));
}

UNIT_MAIN()
