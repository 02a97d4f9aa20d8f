/* Frame header codec, frame writer and streaming frame reader. */
#include "../../src/core/compress.h"
#include "../../src/core/frame.h"
#include "unit.h"

static cq_frame_header hdr(int response, uint8_t flags, int16_t stream, uint8_t op) {
  cq_frame_header h = {0};
  h.response = (uint8_t)response;
  h.flags = flags;
  h.stream = stream;
  h.opcode = op;
  return h;
}

TEST(header_bytes_for_each_version) {
  /* v4 request QUERY, stream 1, body 0x12345678 long. */
  cq_frame_header h = {4, 0, CQ_FLAG_TRACING, CQ_OP_QUERY, 1, 0x12345678};
  uint8_t out[9];
  cq_frame_header_encode(out, &h);
  static const uint8_t v4[] = {0x04, 0x02, 0x00, 0x01, 0x07, 0x12, 0x34, 0x56, 0x78};
  CHECK_MEM(out, v4, 9);
  /* v3 response EVENT on stream -1 with warning + custom payload flags. */
  h = (cq_frame_header){3, 1, CQ_FLAG_WARNING | CQ_FLAG_CUSTOM_PAYLOAD, CQ_OP_EVENT, -1, 5};
  cq_frame_header_encode(out, &h);
  static const uint8_t v3[] = {0x83, 0x0c, 0xff, 0xff, 0x0c, 0x00, 0x00, 0x00, 0x05};
  CHECK_MEM(out, v3, 9);
  /* v5 response RESULT, stream 0x7fff, beta flag, compression flag. */
  h = (cq_frame_header){5, 1, CQ_FLAG_USE_BETA | CQ_FLAG_COMPRESSION, CQ_OP_RESULT, 32767, 0};
  cq_frame_header_encode(out, &h);
  static const uint8_t v5[] = {0x85, 0x11, 0x7f, 0xff, 0x08, 0x00, 0x00, 0x00, 0x00};
  CHECK_MEM(out, v5, 9);

  cq_frame_header d;
  CHECK_EQ(cq_frame_header_decode(v3, &d), CQ_OK);
  CHECK_EQ(d.version, 3);
  CHECK_EQ(d.response, 1);
  CHECK_EQ(d.flags, 0x0c);
  CHECK_EQ(d.stream, -1);
  CHECK_EQ(d.opcode, CQ_OP_EVENT);
  CHECK_EQ(d.length, 5);
  CHECK_EQ(cq_frame_header_decode(v4, &d), CQ_OK);
  CHECK_EQ(d.version, 4);
  CHECK_EQ(d.response, 0);
  CHECK_EQ(d.length, 0x12345678);
  CHECK_EQ(cq_frame_header_decode(v5, &d), CQ_OK);
  CHECK_EQ(d.stream, 32767);
  /* stream 0x8000 decodes as -32768 */
  static const uint8_t neg[] = {0x84, 0, 0x80, 0x00, 0x08, 0, 0, 0, 0};
  CHECK_EQ(cq_frame_header_decode(neg, &d), CQ_OK);
  CHECK_EQ(d.stream, -32768);
}

TEST(header_rejects_unknown_versions) {
  uint8_t b[9] = {0, 0, 0, 0, 8, 0, 0, 0, 0};
  static const uint8_t bad[] = {0x00, 0x01, 0x02, 0x06, 0x7f, 0x82, 0x86, 0xff, 0x41};
  cq_frame_header d;
  for (size_t i = 0; i < sizeof bad; i++) {
    b[0] = bad[i];
    CHECK_EQ(cq_frame_header_decode(b, &d), CQ_ERR_UNSUPPORTED);
  }
  char msg[100];
  b[0] = 0x82;
  CHECK_EQ(cq_frame_header_check(b, &d, 0, CQ_DIR_ANY, 100, msg, sizeof msg), CQ_ERR_UNSUPPORTED);
  CHECK(strstr(msg, "0x82") != NULL);
}

TEST(writer_plain_bytes) {
  cq_frame_writer w;
  cq_frame_writer_init(&w, 4, 0);
  cq_buf out;
  cq_buf_init(&out);
  cq_frame_header h = hdr(0, CQ_FLAG_COMPRESSION /* cleared: not compressed */, 3, CQ_OP_OPTIONS);
  CHECK_EQ(cq_frame_write(&w, &out, &h, NULL, 0), CQ_OK);
  h = hdr(0, 0, 258, CQ_OP_QUERY);
  CHECK_EQ(cq_frame_write(&w, &out, &h, "abc", 3), CQ_OK);
  static const uint8_t want[] = {0x04, 0x00, 0x00, 0x03, 0x05, 0, 0, 0,   0,   0x04, 0x00,
                                 0x01, 0x02, 0x07, 0,    0,    0, 3, 'a', 'b', 'c'};
  CHECK_EQ(out.len, sizeof want);
  CHECK_MEM(out.data, want, sizeof want);
  cq_buf_free(&out);
  cq_frame_writer_free(&w);
}

static void fill_text(uint8_t *p, size_t n) {
  static const char words[] = "INSERT INTO ks.t (k, v) VALUES (?, ?) USING TTL 86400; ";
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)words[i % (sizeof words - 1)];
}

TEST(writer_compresses_only_when_it_helps) {
  cq_frame_writer w;
  cq_frame_writer_init(&w, 3, 1);
  cq_buf out;
  cq_buf_init(&out);
  uint8_t body[4000];
  fill_text(body, sizeof body);
  cq_frame_header h = hdr(0, CQ_FLAG_TRACING, 7, CQ_OP_QUERY);
  CHECK_EQ(cq_frame_write(&w, &out, &h, body, sizeof body), CQ_OK);
  CHECK_EQ(out.data[0], 3);
  CHECK_EQ(out.data[1], CQ_FLAG_TRACING | CQ_FLAG_COMPRESSION);
  uint32_t len = cq_load_u32(out.data + 5);
  CHECK(len < sizeof body / 4);
  CHECK_EQ(out.len, 9 + len);
  cq_buf plain;
  cq_buf_init(&plain);
  CHECK_EQ(cq_lz4_decompress_body(&plain, out.data + 9, len, 1u << 20), CQ_OK);
  CHECK_EQ(plain.len, sizeof body);
  CHECK_MEM(plain.data, body, sizeof body);

  /* Incompressible: sent plain, flag clear. */
  for (size_t i = 0; i < sizeof body; i++)
    body[i] = (uint8_t)unit_rand();
  cq_buf_reset(&out);
  h.flags = CQ_FLAG_COMPRESSION;
  CHECK_EQ(cq_frame_write(&w, &out, &h, body, sizeof body), CQ_OK);
  CHECK_EQ(out.data[1], 0);
  CHECK_EQ(cq_load_u32(out.data + 5), sizeof body);
  CHECK_MEM(out.data + 9, body, sizeof body);

  /* STARTUP is never compressed, whatever its size. */
  fill_text(body, sizeof body);
  cq_buf_reset(&out);
  h = hdr(0, 0, 0, CQ_OP_STARTUP);
  CHECK_EQ(cq_frame_write(&w, &out, &h, body, sizeof body), CQ_OK);
  CHECK_EQ(out.data[1], 0);
  CHECK_EQ(out.len, 9 + sizeof body);

  /* Below compress_min: plain. */
  cq_buf_reset(&out);
  h = hdr(0, 0, 0, CQ_OP_QUERY);
  CHECK_EQ(cq_frame_write(&w, &out, &h, body, 40), CQ_OK);
  CHECK_EQ(out.data[1], 0);
  cq_frame_writer_free(&w);

  /* v5 frames are never compressed by the frame layer. */
  cq_frame_writer_init(&w, 5, 1);
  cq_buf_reset(&out);
  CHECK_EQ(cq_frame_write(&w, &out, &h, body, sizeof body), CQ_OK);
  CHECK_EQ(out.data[0], 5);
  CHECK_EQ(out.data[1], 0);
  CHECK_EQ(out.len, 9 + sizeof body);
  cq_frame_writer_free(&w);
  cq_buf_free(&plain);
  cq_buf_free(&out);
}

TEST(writer_begin_end_and_limits) {
  cq_frame_writer w;
  cq_frame_writer_init(&w, 4, 0);
  cq_buf out;
  cq_buf_init(&out);
  cq_buf_put(&out, "xx", 2); /* frames may follow other bytes */
  cq_frame_header h = hdr(1, 0, -1, CQ_OP_EVENT);
  size_t at = cq_frame_begin(&w, &out, &h);
  CHECK_EQ(at, 2);
  cq_buf_put_string(&out, "hi", 2);
  CHECK_EQ(cq_frame_end(&w, &out, at), CQ_OK);
  static const uint8_t want[] = {'x', 'x', 0x84, 0, 0xff, 0xff, 0x0c, 0, 0, 0, 4, 0, 2, 'h', 'i'};
  CHECK_EQ(out.len, sizeof want);
  CHECK_MEM(out.data, want, sizeof want);
  /* A body over max_body is refused and nothing is left behind. */
  w.max_body = 10;
  at = cq_frame_begin(&w, &out, &h);
  cq_buf_put(&out, "0123456789A", 11);
  CHECK_EQ(cq_frame_end(&w, &out, at), CQ_ERR_TOO_LARGE);
  CHECK_EQ(out.len, sizeof want);
  CHECK_EQ(cq_frame_write(&w, &out, &h, "0123456789A", 11), CQ_ERR_TOO_LARGE);
  CHECK_EQ(out.len, sizeof want);
  cq_buf_free(&out);
  cq_frame_writer_free(&w);
}

/* Builds a stream of response frames; returns the bodies' layout for checks. */
typedef struct {
  int16_t stream;
  uint8_t opcode;
  size_t len;
  uint8_t seed;
} spec_frame;

static void make_body(uint8_t *b, size_t n, uint8_t seed) {
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)(seed + i * 7 + (i >> 5));
}

static void build_stream(cq_buf *out, int version, int lz4, const spec_frame *fs, size_t nf) {
  cq_frame_writer w;
  cq_frame_writer_init(&w, version, lz4);
  for (size_t i = 0; i < nf; i++) {
    uint8_t *b = malloc(fs[i].len + 1);
    make_body(b, fs[i].len, fs[i].seed);
    cq_frame_header h = hdr(1, 0, fs[i].stream, fs[i].opcode);
    CHECK_EQ(cq_frame_write(&w, out, &h, b, fs[i].len), CQ_OK);
    free(b);
  }
  cq_frame_writer_free(&w);
}

static const spec_frame sample[] = {
    {0, CQ_OP_READY, 0, 0},   {1, CQ_OP_RESULT, 5, 1},        {2, CQ_OP_RESULT, 200, 2},
    {-1, CQ_OP_EVENT, 60, 3}, {32767, CQ_OP_RESULT, 5000, 4}, {3, CQ_OP_ERROR, 70000, 5},
    {4, CQ_OP_RESULT, 1, 6},
};
#define NSAMPLE (sizeof sample / sizeof sample[0])

/* Feeds the stream in chunks of the given policy (0 = one byte, else random
 * up to that) and checks every frame. */
static void read_back(const cq_buf *s, int version, int lz4, size_t maxchunk, int expect) {
  cq_frame_reader r;
  cq_frame_reader_init(&r, version, lz4);
  size_t pos = 0, got = 0;
  uint8_t *want = malloc(70000);
  while (pos < s->len || got < NSAMPLE) {
    if (pos < s->len) {
      size_t k = maxchunk ? 1 + (size_t)(unit_rand() % maxchunk) : 1;
      if (k > s->len - pos) k = s->len - pos;
      REQUIRE(cq_frame_reader_feed(&r, s->data + pos, k) == CQ_OK);
      pos += k;
    }
    cq_frame f;
    int rc;
    while ((rc = cq_frame_reader_next(&r, &f)) == 1) {
      REQUIRE(got < NSAMPLE);
      const spec_frame *e = &sample[got++];
      CHECK_EQ(f.header.version, expect);
      CHECK_EQ(f.header.response, 1);
      CHECK_EQ(f.header.stream, e->stream);
      CHECK_EQ(f.header.opcode, e->opcode);
      CHECK_EQ(f.body_len, e->len);
      make_body(want, e->len, e->seed);
      if (e->len) CHECK_MEM(f.body, want, e->len);
    }
    CHECK_EQ(rc, 0);
    if (pos == s->len && rc == 0 && got < NSAMPLE) break;
  }
  CHECK_EQ(got, NSAMPLE);
  CHECK_EQ(cq_frame_reader_finish(&r), CQ_OK);
  free(want);
  cq_frame_reader_free(&r);
}

TEST(reader_one_byte_at_a_time_each_version) {
  for (int v = 3; v <= 5; v++) {
    cq_buf s;
    cq_buf_init(&s);
    build_stream(&s, v, 0, sample, NSAMPLE);
    read_back(&s, v, 0, 0, v);
    read_back(&s, 0, 0, 0, v); /* not negotiated yet: any version */
    cq_buf_free(&s);
  }
}

TEST(reader_random_chunks_plain_and_lz4) {
  for (int lz4 = 0; lz4 <= 1; lz4++) {
    cq_buf s;
    cq_buf_init(&s);
    build_stream(&s, 4, lz4, sample, NSAMPLE);
    if (lz4) CHECK(s.len < 9 * NSAMPLE + 75266 / 2); /* bodies did get compressed */
    for (int i = 0; i < 20; i++)
      read_back(&s, 4, lz4, 1 + (size_t)(unit_rand() % 9000), 4);
    read_back(&s, 4, lz4, s.len, 4); /* everything at once, mostly */
    cq_buf_free(&s);
  }
}

TEST(reader_empty_compressed_body_and_hand_built_lz4_frame) {
  /* v4 RESULT, compressed, body = length 0 + LZ4 empty block (0x00). */
  static const uint8_t fr[] = {0x84, 0x01, 0, 9, 0x08, 0, 0, 0, 5, 0, 0, 0, 0, 0x00};
  cq_frame_reader r;
  cq_frame_reader_init(&r, 4, 1);
  CHECK_EQ(cq_frame_reader_feed(&r, fr, sizeof fr), CQ_OK);
  cq_frame f;
  CHECK_EQ(cq_frame_reader_next(&r, &f), 1);
  CHECK_EQ(f.body_len, 0);
  CHECK_EQ(f.header.stream, 9);
  CHECK_EQ(f.header.flags, CQ_FLAG_COMPRESSION);
  CHECK_EQ(cq_frame_reader_next(&r, &f), 0);
  /* "hello" compressed: LZ4 literal-only block 0x50 'h' 'e' 'l' 'l' 'o'. */
  static const uint8_t fr2[] = {0x84, 0x01, 0, 1,    0x08, 0,   0,   0,   10, 0,
                                0,    0,    5, 0x50, 'h',  'e', 'l', 'l', 'o'};
  CHECK_EQ(cq_frame_reader_feed(&r, fr2, sizeof fr2), CQ_OK);
  CHECK_EQ(cq_frame_reader_next(&r, &f), 1);
  CHECK_EQ(f.body_len, 5);
  CHECK_MEM(f.body, "hello", 5);
  cq_frame_reader_free(&r);
}

TEST(reader_reuses_its_buffers) {
  cq_buf s;
  cq_buf_init(&s);
  spec_frame one = {1, CQ_OP_RESULT, 300, 9};
  cq_frame_writer w;
  cq_frame_writer_init(&w, 4, 1);
  uint8_t b[300];
  fill_text(b, sizeof b);
  cq_frame_header h = hdr(1, 0, one.stream, one.opcode);
  CHECK_EQ(cq_frame_write(&w, &s, &h, b, sizeof b), CQ_OK);
  CHECK_EQ(s.data[1], CQ_FLAG_COMPRESSION);
  cq_frame_reader r;
  cq_frame_reader_init(&r, 4, 1);
  cq_frame f;
  CHECK_EQ(cq_frame_reader_feed(&r, s.data, s.len), CQ_OK);
  CHECK_EQ(cq_frame_reader_next(&r, &f), 1);
  const uint8_t *in0 = r.in.data, *plain0 = r.plain.data;
  for (int i = 0; i < 1000; i++) {
    CHECK_EQ(cq_frame_reader_feed(&r, s.data, s.len), CQ_OK);
    CHECK_EQ(cq_frame_reader_next(&r, &f), 1);
    CHECK_EQ(f.body_len, sizeof b);
  }
  CHECK_MEM(f.body, b, sizeof b);
  CHECK(r.in.data == in0);
  CHECK(r.plain.data == plain0);
  cq_frame_reader_free(&r);
  cq_frame_writer_free(&w);
  cq_buf_free(&s);
}

static int feed_one(cq_frame_reader *r, const uint8_t *p, size_t n, cq_frame *f) {
  int rc = cq_frame_reader_feed(r, p, n);
  if (rc < 0) return rc;
  return cq_frame_reader_next(r, f);
}

TEST(reader_errors) {
  cq_frame_reader r;
  cq_frame f;
  /* Oversize body: rejected from the header alone, before buffering it. */
  static const uint8_t big[] = {0x84, 0, 0, 1, 0x08, 0x10, 0x00, 0x00, 0x01};
  cq_frame_reader_init(&r, 4, 0);
  CHECK_EQ(feed_one(&r, big, sizeof big, &f), CQ_ERR_TOO_LARGE);
  CHECK(strstr(cq_frame_reader_error(&r), "exceeds") != NULL);
  CHECK(r.in.cap < 1024);
  /* Sticky. */
  CHECK_EQ(cq_frame_reader_feed(&r, big, 1), CQ_ERR_TOO_LARGE);
  CHECK_EQ(cq_frame_reader_next(&r, &f), CQ_ERR_TOO_LARGE);
  cq_frame_reader_free(&r);

  /* Configurable limit: exactly at the limit passes, one over fails. */
  static const uint8_t ten[] = {0x84, 0, 0, 1, 0x08, 0, 0, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  cq_frame_reader_init(&r, 4, 0);
  r.max_body = 10;
  CHECK_EQ(feed_one(&r, ten, sizeof ten, &f), 1);
  r.max_body = 9;
  CHECK_EQ(feed_one(&r, ten, sizeof ten, &f), CQ_ERR_TOO_LARGE);
  cq_frame_reader_free(&r);

  /* Version differs from the negotiated one. */
  cq_frame_reader_init(&r, 5, 0);
  CHECK_EQ(feed_one(&r, ten, sizeof ten, &f), CQ_ERR_MALFORMED);
  CHECK(strstr(cq_frame_reader_error(&r), "version 4") != NULL);
  cq_frame_reader_free(&r);

  /* Unknown version, even when not negotiated yet. */
  uint8_t v2[sizeof ten];
  memcpy(v2, ten, sizeof ten);
  v2[0] = 0x82;
  cq_frame_reader_init(&r, 0, 0);
  CHECK_EQ(feed_one(&r, v2, sizeof v2, &f), CQ_ERR_UNSUPPORTED);
  CHECK(strstr(cq_frame_reader_error(&r), "unsupported") != NULL);
  cq_frame_reader_free(&r);

  /* Request bit on a client connection. */
  v2[0] = 0x04;
  cq_frame_reader_init(&r, 4, 0);
  CHECK_EQ(feed_one(&r, v2, sizeof v2, &f), CQ_ERR_MALFORMED);
  CHECK(strstr(cq_frame_reader_error(&r), "response") != NULL);
  cq_frame_reader_free(&r);
  cq_frame_reader_init(&r, 4, 0);
  r.direction = CQ_DIR_REQUEST;
  CHECK_EQ(feed_one(&r, v2, sizeof v2, &f), 1);
  cq_frame_reader_free(&r);

  /* Compressed flag without LZ4 negotiated; ignored for v5. */
  v2[0] = 0x84;
  v2[1] = CQ_FLAG_COMPRESSION;
  cq_frame_reader_init(&r, 4, 0);
  CHECK_EQ(feed_one(&r, v2, sizeof v2, &f), CQ_ERR_MALFORMED);
  CHECK(strstr(cq_frame_reader_error(&r), "compress") != NULL);
  cq_frame_reader_free(&r);
  v2[0] = 0x85;
  cq_frame_reader_init(&r, 5, 1);
  CHECK_EQ(feed_one(&r, v2, sizeof v2, &f), 1);
  CHECK_EQ(f.body_len, 10);
  cq_frame_reader_free(&r);

  /* Corrupt LZ4 body. */
  v2[0] = 0x84;
  cq_frame_reader_init(&r, 4, 1);
  r.max_body = 1000;
  CHECK_EQ(feed_one(&r, v2, sizeof v2, &f), CQ_ERR_TOO_LARGE); /* declares 0x01020304 bytes */
  CHECK(strstr(cq_frame_reader_error(&r), "inflates") != NULL);
  cq_frame_reader_free(&r);
  v2[9] = 0;
  v2[10] = 0;
  v2[11] = 0;
  v2[12] = 50; /* 50 bytes from a 6-byte block */
  cq_frame_reader_init(&r, 4, 1);
  CHECK_EQ(feed_one(&r, v2, sizeof v2, &f), CQ_ERR_MALFORMED);
  CHECK(strstr(cq_frame_reader_error(&r), "LZ4") != NULL);
  cq_frame_reader_free(&r);

  /* Truncated stream. */
  cq_frame_reader_init(&r, 4, 0);
  CHECK_EQ(feed_one(&r, ten, sizeof ten - 1, &f), 0);
  size_t pending;
  CHECK(cq_frame_reader_pending(&r, &pending) != NULL);
  CHECK_EQ(pending, sizeof ten - 1);
  CHECK_EQ(cq_frame_reader_finish(&r), CQ_ERR_TRUNCATED);
  CHECK(strstr(cq_frame_reader_error(&r), "ended") != NULL);
  cq_frame_reader_free(&r);
}

TEST(reader_large_frame_and_bounded_reservation) {
  /* A header claiming 200 MiB commits at most a few MiB until bytes come. */
  static const uint8_t claim[] = {0x84, 0, 0, 1, 0x08, 0x0c, 0x80, 0x00, 0x00};
  cq_frame_reader r;
  cq_frame_reader_init(&r, 4, 0);
  cq_frame f;
  CHECK_EQ(feed_one(&r, claim, sizeof claim, &f), 0);
  CHECK(r.in.cap <= (16u << 20));
  cq_frame_reader_free(&r);
  /* A real 20 MiB frame in 1 MiB chunks. */
  size_t n = 20u << 20;
  cq_buf s;
  cq_buf_init(&s);
  cq_frame_writer w;
  cq_frame_writer_init(&w, 4, 0);
  uint8_t *body = malloc(n);
  REQUIRE(body);
  for (size_t i = 0; i < n; i++)
    body[i] = (uint8_t)(i * 2654435761u >> 13);
  cq_frame_header h = hdr(1, 0, 5, CQ_OP_RESULT);
  CHECK_EQ(cq_frame_write(&w, &s, &h, body, n), CQ_OK);
  cq_frame_reader_init(&r, 4, 0);
  int got = 0;
  for (size_t pos = 0; pos < s.len; pos += 1u << 20) {
    size_t k = s.len - pos < (1u << 20) ? s.len - pos : 1u << 20;
    int rc = feed_one(&r, s.data + pos, k, &f);
    if (rc == 1) {
      got++;
      CHECK_EQ(f.body_len, n);
      CHECK(memcmp(f.body, body, n) == 0);
    } else {
      CHECK_EQ(rc, 0);
    }
  }
  CHECK_EQ(got, 1);
  free(body);
  cq_frame_reader_free(&r);
  cq_frame_writer_free(&w);
  cq_buf_free(&s);
}

TEST(reader_hands_leftover_bytes_to_next_layer) {
  /* READY (v5, unframed) followed by the first bytes of a segment. */
  static const uint8_t in[] = {0x85, 0, 0, 0, 0x02, 0, 0, 0, 0, 0xaa, 0xbb, 0xcc};
  cq_frame_reader r;
  cq_frame_reader_init(&r, 5, 0);
  cq_frame f;
  CHECK_EQ(feed_one(&r, in, sizeof in, &f), 1);
  CHECK_EQ(f.header.opcode, CQ_OP_READY);
  size_t n;
  const uint8_t *rest = cq_frame_reader_pending(&r, &n);
  CHECK_EQ(n, 3);
  CHECK_MEM(rest, in + 9, 3);
  cq_frame_reader_free(&r);
}

UNIT_MAIN()
