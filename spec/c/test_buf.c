#include "../../src/core/arena.h"
#include "../../src/core/buf.h"
#include "unit.h"

TEST(writer_encodes_big_endian_and_strings) {
  cq_buf b;
  cq_buf_init(&b);
  cq_buf_put_u8(&b, 0x01);
  cq_buf_put_u16(&b, 0x0203);
  cq_buf_put_u32(&b, 0x04050607);
  cq_buf_put_u64(&b, 0x08090a0b0c0d0e0full);
  cq_buf_put_string(&b, "ab", 2);
  cq_buf_put_bytes(&b, NULL, 0);
  static const uint8_t want[] = {1,  2,  3,  4, 5, 6,   7,   8,    9,    10,   11,  12,
                                 13, 14, 15, 0, 2, 'a', 'b', 0xff, 0xff, 0xff, 0xff};
  CHECK_EQ(b.err, 0);
  CHECK_EQ(b.len, sizeof want);
  CHECK_MEM(b.data, want, sizeof want);
  cq_buf_free(&b);
}

TEST(writer_refuses_oversized_short_string) {
  cq_buf b;
  cq_buf_init(&b);
  static char big[70000];
  cq_buf_put_string(&b, big, sizeof big);
  CHECK_EQ(b.err, CQ_ERR_TOO_LARGE);
  cq_buf_put_u8(&b, 1); /* sticky: ignored */
  CHECK_EQ(b.len, 0);
  cq_buf_free(&b);
}

TEST(reader_stops_at_truncation_and_stays_failed) {
  static const uint8_t in[] = {0, 5, 'a', 'b'};
  cq_reader r;
  cq_reader_init(&r, in, sizeof in);
  size_t n;
  CHECK(cq_read_string(&r, &n) == NULL);
  CHECK_EQ(r.err, CQ_ERR_TRUNCATED);
  CHECK_EQ(cq_read_u8(&r), 0);
  CHECK_EQ(cq_reader_left(&r), 0);
}

TEST(reader_value_kinds) {
  static const uint8_t in[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0,
                               0,    0,    1,    7,    0xff, 0xff, 0xff, 0xfd};
  cq_reader r;
  cq_reader_init(&r, in, sizeof in);
  size_t n;
  int kind;
  CHECK(cq_read_value(&r, &n, &kind) == NULL);
  CHECK_EQ(kind, -1);
  CHECK(cq_read_value(&r, &n, &kind) == NULL);
  CHECK_EQ(kind, -2);
  const uint8_t *p = cq_read_value(&r, &n, &kind);
  REQUIRE(p != NULL);
  CHECK_EQ(kind, 0);
  CHECK_EQ(n, 1);
  CHECK_EQ(p[0], 7);
  CHECK_EQ(r.err, 0);
  cq_read_value(&r, &n, &kind); /* -3 is never legal */
  CHECK_EQ(r.err, CQ_ERR_MALFORMED);
}

TEST(arena_aligns_and_frees_everything) {
  cq_arena a;
  cq_arena_init(&a, 64);
  for (int i = 0; i < 100; i++) {
    void *p = cq_arena_alloc(&a, (size_t)i * 7 + 1);
    REQUIRE(p != NULL);
    CHECK_EQ((uintptr_t)p % 16, 0);
  }
  char *s = cq_arena_strndup(&a, "hello", 3);
  CHECK_STR(s, "hel");
  cq_arena_reset(&a);
  CHECK_EQ(a.used, 0);
  CHECK(cq_arena_alloc(&a, 10) != NULL);
  cq_arena_free(&a);
}

UNIT_MAIN()
