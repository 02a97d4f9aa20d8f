/* v5 segments: byte layout, packing, splitting, streaming decode, and every
 * way a peer can lie. Expected bytes were computed independently (Python
 * zlib + a bitwise CRC24 model) from the spec's parameters. */
#include "../../src/core/crc.h"
#include "../../src/core/frame.h"
#include "../../src/core/segment.h"
#include "unit.h"

/* READY, v5 response, stream 0, empty body. */
static const uint8_t ready[] = {0x85, 0, 0, 0, 0x02, 0, 0, 0, 0};

TEST(uncompressed_segment_bytes) {
  static const uint8_t want[] = {0x09, 0x00, 0x02, 0xa4, 0xc8, 0xc1, 0x85, 0x00, 0x00, 0x00,
                                 0x02, 0x00, 0x00, 0x00, 0x00, 0x4f, 0x5a, 0x5d, 0x99};
  cq_segment_encoder e;
  cq_segment_encoder_init(&e, 0);
  cq_buf out;
  cq_buf_init(&out);
  CHECK_EQ(cq_segment_write(&e, &out, ready, sizeof ready, 1), CQ_OK);
  CHECK_EQ(out.len, sizeof want);
  CHECK_MEM(out.data, want, sizeof want);
  /* Max payload, not self-contained: length bits all set, flag clear. */
  uint8_t *big = calloc(1, CQ_SEGMENT_MAX_PAYLOAD + 1);
  REQUIRE(big);
  cq_buf_reset(&out);
  CHECK_EQ(cq_segment_write(&e, &out, big, CQ_SEGMENT_MAX_PAYLOAD, 0), CQ_OK);
  static const uint8_t hmax[] = {0xff, 0xff, 0x01, 0x38, 0x91, 0xfe};
  CHECK_MEM(out.data, hmax, 6);
  CHECK_EQ(out.len, 6 + CQ_SEGMENT_MAX_PAYLOAD + 4);
  cq_buf_reset(&out);
  CHECK_EQ(cq_segment_write(&e, &out, big, CQ_SEGMENT_MAX_PAYLOAD + 1, 1), CQ_ERR_TOO_LARGE);
  CHECK_EQ(out.len, 0);
  free(big);
  cq_buf_free(&out);
  cq_segment_encoder_free(&e);
}

TEST(compressed_segment_bytes_stored_and_compressed) {
  /* Too small to compress: stored, uncompressed length 0. */
  static const uint8_t want[] = {0x09, 0x00, 0x00, 0x00, 0x04, 0xc2, 0xb8, 0x95, 0x85, 0x00, 0x00,
                                 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x4f, 0x5a, 0x5d, 0x99};
  cq_segment_encoder e;
  cq_segment_encoder_init(&e, 1);
  cq_buf out;
  cq_buf_init(&out);
  CHECK_EQ(cq_segment_write(&e, &out, ready, sizeof ready, 1), CQ_OK);
  CHECK_EQ(out.len, sizeof want);
  CHECK_MEM(out.data, want, sizeof want);
  /* Compressible payload: check every header field by hand. */
  uint8_t pay[1000];
  for (size_t i = 0; i < sizeof pay; i++)
    pay[i] = (uint8_t) "abcdefgh"[i % 8];
  cq_buf_reset(&out);
  CHECK_EQ(cq_segment_write(&e, &out, pay, sizeof pay, 0), CQ_OK);
  uint64_t h5 = 0;
  for (int i = 4; i >= 0; i--)
    h5 = (h5 << 8) | out.data[i];
  size_t clen = (size_t)(h5 & 0x1FFFF);
  CHECK_EQ((h5 >> 17) & 0x1FFFF, sizeof pay);
  CHECK_EQ((h5 >> 34) & 1, 0);
  CHECK_EQ(h5 >> 35, 0);
  CHECK(clen < 100);
  CHECK_EQ(out.len, 8 + clen + 4);
  uint32_t c24 = out.data[5] | (out.data[6] << 8) | ((uint32_t)out.data[7] << 16);
  CHECK_EQ_U64(c24, cq_crc24(out.data, 5));
  uint32_t c32 = out.data[8 + clen] | (out.data[9 + clen] << 8) |
                 ((uint32_t)out.data[10 + clen] << 16) | ((uint32_t)out.data[11 + clen] << 24);
  CHECK_EQ_U64(c32, cq_crc32_v5(out.data + 8, clen));
  cq_buf_free(&out);
  cq_segment_encoder_free(&e);
}

/* ---- round trips ---------------------------------------------------- */

typedef struct {
  int16_t stream;
  size_t len;
} fspec;

static void body_of(uint8_t *b, size_t n, int16_t stream) {
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)((size_t)stream * 31 + i * 13 + (i >> 9));
}

static void write_frames(cq_buf *frames, const fspec *fs, size_t nf) {
  cq_frame_writer w;
  cq_frame_writer_init(&w, 5, 0);
  for (size_t i = 0; i < nf; i++) {
    uint8_t *b = malloc(fs[i].len + 1);
    body_of(b, fs[i].len, fs[i].stream);
    cq_frame_header h = {0};
    h.response = 1;
    h.stream = fs[i].stream;
    h.opcode = CQ_OP_RESULT;
    CHECK_EQ(cq_frame_write(&w, frames, &h, b, fs[i].len), CQ_OK);
    free(b);
  }
  cq_frame_writer_free(&w);
}

/* Decodes `wire` in chunks (maxchunk 0 = one byte at a time) and checks the
 * frames against fs. */
static void decode_check(const cq_buf *wire, int lz4, const fspec *fs, size_t nf, size_t maxchunk) {
  cq_segment_decoder d;
  cq_segment_decoder_init(&d, lz4);
  size_t pos = 0, got = 0;
  size_t maxlen = 1;
  for (size_t i = 0; i < nf; i++)
    if (fs[i].len > maxlen) maxlen = fs[i].len;
  uint8_t *want = malloc(maxlen);
  for (;;) {
    cq_frame f;
    int rc;
    while ((rc = cq_segment_decoder_next(&d, &f)) == 1) {
      REQUIRE(got < nf);
      CHECK_EQ(f.header.version, 5);
      CHECK_EQ(f.header.stream, fs[got].stream);
      CHECK_EQ(f.header.opcode, CQ_OP_RESULT);
      CHECK_EQ(f.body_len, fs[got].len);
      body_of(want, fs[got].len, fs[got].stream);
      if (f.body_len == fs[got].len && f.body_len) CHECK_MEM(f.body, want, f.body_len);
      got++;
    }
    CHECK_EQ(rc, 0);
    if (rc < 0) {
      fprintf(stderr, "  decoder: %s\n", cq_segment_decoder_error(&d));
      break;
    }
    if (pos == wire->len) break;
    size_t k = maxchunk ? 1 + (size_t)(unit_rand() % maxchunk) : 1;
    if (k > wire->len - pos) k = wire->len - pos;
    REQUIRE(cq_segment_decoder_feed(&d, wire->data + pos, k) == CQ_OK);
    pos += k;
  }
  CHECK_EQ(got, nf);
  CHECK_EQ(cq_segment_decoder_finish(&d), CQ_OK);
  free(want);
  cq_segment_decoder_free(&d);
}

/* Walks segment headers of an uncompressed stream: count, flags, lengths. */
static size_t walk_segments(const cq_buf *wire, int lz4, int *sc_flags, size_t *lens, size_t cap) {
  size_t pos = 0, n = 0;
  size_t hsz = lz4 ? 8 : 6;
  while (pos + hsz <= wire->len) {
    uint64_t h = 0;
    for (int i = (int)(lz4 ? 4 : 2); i >= 0; i--)
      h = (h << 8) | wire->data[pos + (size_t)i];
    size_t len = (size_t)(h & 0x1FFFF);
    if (n < cap) {
      sc_flags[n] = (int)((h >> (lz4 ? 34 : 17)) & 1);
      lens[n] = len;
    }
    n++;
    pos += hsz + len + 4;
  }
  CHECK_EQ(pos, wire->len);
  return n;
}

static const fspec several[] = {{1, 0}, {2, 10}, {3, 200}, {-1, 60}, {4, 1000}, {5, 9}};
#define NSEV (sizeof several / sizeof several[0])

TEST(self_contained_segment_with_several_frames) {
  for (int lz4 = 0; lz4 <= 1; lz4++) {
    cq_buf frames, wire;
    cq_buf_init(&frames);
    cq_buf_init(&wire);
    write_frames(&frames, several, NSEV);
    cq_segment_encoder e;
    cq_segment_encoder_init(&e, lz4);
    CHECK_EQ(cq_segment_encode_frames(&e, &wire, frames.data, frames.len), CQ_OK);
    int sc[8];
    size_t lens[8];
    CHECK_EQ(walk_segments(&wire, lz4, sc, lens, 8), 1);
    CHECK_EQ(sc[0], 1);
    if (!lz4) CHECK_EQ(lens[0], frames.len);
    decode_check(&wire, lz4, several, NSEV, 0);
    for (int i = 0; i < 10; i++)
      decode_check(&wire, lz4, several, NSEV, 50);
    cq_segment_encoder_free(&e);
    cq_buf_free(&frames);
    cq_buf_free(&wire);
  }
}

TEST(large_frame_split_and_reassembled) {
  static const fspec fs[] = {{1, 100}, {2, 300 * 1024}, {3, 50}, {4, 131071 - 9}, {5, 131071 - 8}};
  size_t nf = sizeof fs / sizeof fs[0];
  for (int lz4 = 0; lz4 <= 1; lz4++) {
    cq_buf frames, wire;
    cq_buf_init(&frames);
    cq_buf_init(&wire);
    write_frames(&frames, fs, nf);
    cq_segment_encoder e;
    cq_segment_encoder_init(&e, lz4);
    CHECK_EQ(cq_segment_encode_frames(&e, &wire, frames.data, frames.len), CQ_OK);
    int sc[16];
    size_t lens[16];
    size_t n = walk_segments(&wire, lz4, sc, lens, 16);
    /* [100] | 300K+9 over 3 pieces | [50] | [exactly-max frame] | 131072 over 2 */
    CHECK_EQ(n, 1 + 3 + 1 + 1 + 2);
    if (n == 8) {
      static const int want_sc[] = {1, 0, 0, 0, 1, 1, 0, 0};
      for (size_t i = 0; i < 8; i++)
        CHECK_EQ(sc[i], want_sc[i]);
      if (!lz4) {
        CHECK_EQ(lens[0], 109);
        CHECK_EQ(lens[1], 131071);
        CHECK_EQ(lens[2], 131071);
        CHECK_EQ(lens[3], 300 * 1024 + 9 - 2 * 131071);
        CHECK_EQ(lens[4], 59); /* the max-size frame doesn't fit beside it */
        CHECK_EQ(lens[5], 131071);
        CHECK_EQ(lens[6], 131071);
        CHECK_EQ(lens[7], 1);
      }
    }
    decode_check(&wire, lz4, fs, nf, 70000);
    decode_check(&wire, lz4, fs, nf, 7);
    cq_segment_encoder_free(&e);
    cq_buf_free(&frames);
    cq_buf_free(&wire);
  }
}

TEST(one_byte_at_a_time_split_frame) {
  static const fspec fs[] = {{7, 140000}, {8, 3}};
  cq_buf frames, wire;
  cq_buf_init(&frames);
  cq_buf_init(&wire);
  write_frames(&frames, fs, 2);
  cq_segment_encoder e;
  cq_segment_encoder_init(&e, 1);
  CHECK_EQ(cq_segment_encode_frames(&e, &wire, frames.data, frames.len), CQ_OK);
  decode_check(&wire, 1, fs, 2, 0);
  cq_segment_encoder_free(&e);
  cq_buf_free(&frames);
  cq_buf_free(&wire);
}

TEST(many_frames_pack_into_several_self_contained_segments) {
  fspec fs[400];
  for (size_t i = 0; i < 400; i++)
    fs[i] = (fspec){(int16_t)i, (size_t)(unit_rand() % 2000)};
  cq_buf frames, wire;
  cq_buf_init(&frames);
  cq_buf_init(&wire);
  write_frames(&frames, fs, 400);
  for (int lz4 = 0; lz4 <= 1; lz4++) {
    cq_segment_encoder e;
    cq_segment_encoder_init(&e, lz4);
    cq_buf_reset(&wire);
    CHECK_EQ(cq_segment_encode_frames(&e, &wire, frames.data, frames.len), CQ_OK);
    int sc[64];
    size_t lens[64];
    size_t n = walk_segments(&wire, lz4, sc, lens, 64);
    CHECK(n >= 4 && n <= 64);
    for (size_t i = 0; i < n && i < 64; i++)
      CHECK_EQ(sc[i], 1);
    decode_check(&wire, lz4, fs, 400, 100000);
    cq_segment_encoder_free(&e);
  }
  cq_buf_free(&frames);
  cq_buf_free(&wire);
}

TEST(encode_frames_rejects_partial_frames) {
  cq_segment_encoder e;
  cq_segment_encoder_init(&e, 0);
  cq_buf out;
  cq_buf_init(&out);
  CHECK_EQ(cq_segment_encode_frames(&e, &out, ready, 5), CQ_ERR_INVALID);
  static const uint8_t lies[] = {0x05, 0, 0, 1, 0x07, 0, 0, 0, 10, 1, 2};
  CHECK_EQ(cq_segment_encode_frames(&e, &out, lies, sizeof lies), CQ_ERR_INVALID);
  CHECK_EQ(out.len, 0);
  CHECK_EQ(cq_segment_encode_frames(&e, &out, NULL, 0), CQ_OK);
  CHECK_EQ(out.len, 0);
  cq_buf_free(&out);
  cq_segment_encoder_free(&e);
}

/* ---- failures ------------------------------------------------------- */

static int decode_all(const uint8_t *p, size_t n, int lz4, uint32_t max_body, cq_segment_decoder *d,
                      size_t *frames) {
  cq_segment_decoder_init(d, lz4);
  if (max_body) d->max_body = max_body;
  *frames = 0;
  int rc = cq_segment_decoder_feed(d, p, n);
  if (rc < 0) return rc;
  cq_frame f;
  while ((rc = cq_segment_decoder_next(d, &f)) == 1)
    (*frames)++;
  if (rc < 0) return rc;
  return cq_segment_decoder_finish(d);
}

static void segment_of(cq_buf *out, int lz4, const void *payload, size_t n, int sc) {
  cq_segment_encoder e;
  cq_segment_encoder_init(&e, lz4);
  CHECK_EQ(cq_segment_write(&e, out, payload, n, sc), CQ_OK);
  cq_segment_encoder_free(&e);
}

TEST(corrupted_header_crc) {
  for (int lz4 = 0; lz4 <= 1; lz4++) {
    size_t hsz = lz4 ? 8 : 6;
    for (size_t byte = 0; byte < hsz; byte++) {
      cq_buf w;
      cq_buf_init(&w);
      segment_of(&w, lz4, ready, sizeof ready, 1);
      w.data[byte] ^= 0x10;
      cq_segment_decoder d;
      size_t nf;
      CHECK_EQ(decode_all(w.data, w.len, lz4, 0, &d, &nf), CQ_ERR_CHECKSUM);
      CHECK(strstr(cq_segment_decoder_error(&d), "CRC24") != NULL);
      CHECK_EQ(nf, 0);
      cq_segment_decoder_free(&d);
      cq_buf_free(&w);
    }
  }
}

TEST(corrupted_payload_crc) {
  for (int lz4 = 0; lz4 <= 1; lz4++) {
    size_t hsz = lz4 ? 8 : 6;
    cq_buf w;
    cq_buf_init(&w);
    segment_of(&w, lz4, ready, sizeof ready, 1);
    for (size_t byte = hsz; byte < w.len; byte++) {
      w.data[byte] ^= 0x01;
      cq_segment_decoder d;
      size_t nf;
      CHECK_EQ(decode_all(w.data, w.len, lz4, 0, &d, &nf), CQ_ERR_CHECKSUM);
      CHECK(strstr(cq_segment_decoder_error(&d), "CRC32") != NULL);
      CHECK_EQ(nf, 0);
      cq_segment_decoder_free(&d);
      w.data[byte] ^= 0x01;
    }
    cq_buf_free(&w);
  }
}

TEST(truncated_segments) {
  for (int lz4 = 0; lz4 <= 1; lz4++) {
    cq_buf w;
    cq_buf_init(&w);
    segment_of(&w, lz4, ready, sizeof ready, 1);
    for (size_t cut = 1; cut < w.len; cut++) {
      cq_segment_decoder d;
      size_t nf;
      CHECK_EQ(decode_all(w.data, cut, lz4, 0, &d, &nf), CQ_ERR_TRUNCATED);
      CHECK_EQ(nf, 0);
      CHECK(strstr(cq_segment_decoder_error(&d), "ended") != NULL);
      cq_segment_decoder_free(&d);
    }
    cq_buf_free(&w);
  }
  /* A split frame whose last piece never comes. */
  static const fspec fs[] = {{1, 200000}};
  cq_buf frames, wire;
  cq_buf_init(&frames);
  cq_buf_init(&wire);
  write_frames(&frames, fs, 1);
  cq_segment_encoder e;
  cq_segment_encoder_init(&e, 0);
  CHECK_EQ(cq_segment_encode_frames(&e, &wire, frames.data, frames.len), CQ_OK);
  cq_segment_decoder d;
  size_t nf;
  CHECK_EQ(decode_all(wire.data, 6 + 131071 + 4, 0, 0, &d, &nf), CQ_ERR_TRUNCATED);
  CHECK(strstr(cq_segment_decoder_error(&d), "split") != NULL);
  cq_segment_decoder_free(&d);
  cq_segment_encoder_free(&e);
  cq_buf_free(&frames);
  cq_buf_free(&wire);
}

TEST(lengths_that_lie) {
  cq_segment_decoder d;
  size_t nf;
  cq_buf w;
  cq_buf_init(&w);
  /* Frame claims 10 body bytes, the self-contained payload holds 0. */
  static const uint8_t longer[] = {0x85, 0, 0, 0, 0x08, 0, 0, 0, 10};
  segment_of(&w, 0, longer, sizeof longer, 1);
  CHECK_EQ(decode_all(w.data, w.len, 0, 0, &d, &nf), CQ_ERR_MALFORMED);
  CHECK(strstr(cq_segment_decoder_error(&d), "overruns") != NULL);
  cq_segment_decoder_free(&d);
  /* Payload ends inside a second frame's header. */
  uint8_t two[9 + 4];
  memcpy(two, ready, 9);
  memcpy(two + 9, ready, 4);
  cq_buf_reset(&w);
  segment_of(&w, 1, two, sizeof two, 1);
  CHECK_EQ(decode_all(w.data, w.len, 1, 0, &d, &nf), CQ_ERR_MALFORMED);
  CHECK_EQ(nf, 1);
  cq_segment_decoder_free(&d);
  /* Split frame: the pieces carry more than the frame's length. */
  uint8_t piece[20];
  memcpy(piece, longer, 9);
  memset(piece + 9, 7, 11);
  cq_buf_reset(&w);
  segment_of(&w, 0, piece, 5, 0);
  segment_of(&w, 0, piece + 5, 15, 0); /* 9 + 10 needed, 20 sent */
  CHECK_EQ(decode_all(w.data, w.len, 0, 0, &d, &nf), CQ_ERR_MALFORMED);
  CHECK(strstr(cq_segment_decoder_error(&d), "past the end") != NULL);
  cq_segment_decoder_free(&d);
  /* Exactly right in two pieces works (header split across segments too). */
  cq_buf_reset(&w);
  segment_of(&w, 0, piece, 5, 0);
  segment_of(&w, 0, piece + 5, 14, 0);
  CHECK_EQ(decode_all(w.data, w.len, 0, 0, &d, &nf), CQ_OK);
  CHECK_EQ(nf, 1);
  cq_segment_decoder_free(&d);
  /* A self-contained segment interrupting a split frame. */
  cq_buf_reset(&w);
  segment_of(&w, 0, piece, 12, 0);
  segment_of(&w, 0, ready, 9, 1);
  CHECK_EQ(decode_all(w.data, w.len, 0, 0, &d, &nf), CQ_ERR_MALFORMED);
  CHECK(strstr(cq_segment_decoder_error(&d), "interrupts") != NULL);
  cq_segment_decoder_free(&d);
  /* LZ4 segment whose declared uncompressed length is wrong. */
  uint8_t pay[600];
  for (size_t i = 0; i < sizeof pay; i++)
    pay[i] = (uint8_t)(i % 3);
  memcpy(pay, ready, 9);
  pay[7] = (uint8_t)((sizeof pay - 9) >> 8); /* body fills the payload */
  pay[8] = (uint8_t)(sizeof pay - 9);
  cq_buf_reset(&w);
  segment_of(&w, 1, pay, sizeof pay, 1);
  CHECK_EQ(decode_all(w.data, w.len, 1, 0, &d, &nf), CQ_OK);
  CHECK_EQ(nf, 1);
  cq_segment_decoder_free(&d);
  uint64_t h5 = 0;
  for (int i = 4; i >= 0; i--)
    h5 = (h5 << 8) | w.data[i];
  REQUIRE(((h5 >> 17) & 0x1FFFF) == sizeof pay);
  h5 = (h5 & ~((uint64_t)0x1FFFF << 17)) | ((uint64_t)(sizeof pay + 1) << 17);
  for (int i = 0; i < 5; i++)
    w.data[i] = (uint8_t)(h5 >> (8 * i));
  uint32_t c = cq_crc24(w.data, 5);
  for (int i = 0; i < 3; i++)
    w.data[5 + i] = (uint8_t)(c >> (8 * i));
  CHECK_EQ(decode_all(w.data, w.len, 1, 0, &d, &nf), CQ_ERR_MALFORMED);
  CHECK(strstr(cq_segment_decoder_error(&d), "LZ4") != NULL);
  cq_segment_decoder_free(&d);
  cq_buf_free(&w);
}

TEST(oversize_and_wrong_version_frames) {
  cq_segment_decoder d;
  size_t nf;
  cq_buf w;
  cq_buf_init(&w);
  static const uint8_t ten[] = {0x85, 0, 0, 1, 0x08, 0, 0, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  segment_of(&w, 0, ten, sizeof ten, 1);
  CHECK_EQ(decode_all(w.data, w.len, 0, 10, &d, &nf), CQ_OK);
  cq_segment_decoder_free(&d);
  CHECK_EQ(decode_all(w.data, w.len, 0, 9, &d, &nf), CQ_ERR_TOO_LARGE);
  cq_segment_decoder_free(&d);
  /* Split frame announcing 1 GiB: refused at its header, not buffered. */
  static const uint8_t huge[] = {0x85, 0, 0, 1, 0x08, 0x40, 0, 0, 0, 1, 2, 3};
  cq_buf_reset(&w);
  segment_of(&w, 0, huge, sizeof huge, 0);
  CHECK_EQ(decode_all(w.data, w.len, 0, 0, &d, &nf), CQ_ERR_TOO_LARGE);
  CHECK(d.large.cap < 4096);
  cq_segment_decoder_free(&d);
  /* v4 frame inside a v5 segment. */
  uint8_t v4[sizeof ten];
  memcpy(v4, ten, sizeof ten);
  v4[0] = 0x84;
  cq_buf_reset(&w);
  segment_of(&w, 0, v4, sizeof v4, 1);
  CHECK_EQ(decode_all(w.data, w.len, 0, 0, &d, &nf), CQ_ERR_MALFORMED);
  CHECK(strstr(cq_segment_decoder_error(&d), "version") != NULL);
  cq_segment_decoder_free(&d);
  v4[0] = 0x07;
  cq_buf_reset(&w);
  segment_of(&w, 0, v4, sizeof v4, 1);
  CHECK_EQ(decode_all(w.data, w.len, 0, 0, &d, &nf), CQ_ERR_UNSUPPORTED);
  cq_segment_decoder_free(&d);
  /* Request frame where a response is expected. */
  v4[0] = 0x05;
  cq_buf_reset(&w);
  segment_of(&w, 0, v4, sizeof v4, 1);
  CHECK_EQ(decode_all(w.data, w.len, 0, 0, &d, &nf), CQ_ERR_MALFORMED);
  cq_segment_decoder_free(&d);
  cq_buf_free(&w);
}

TEST(errors_are_sticky_and_empty_segments_tolerated) {
  cq_buf w;
  cq_buf_init(&w);
  segment_of(&w, 0, NULL, 0, 1); /* empty self-contained: nothing to hand out */
  segment_of(&w, 0, ready, 9, 1);
  cq_segment_decoder d;
  size_t nf;
  CHECK_EQ(decode_all(w.data, w.len, 0, 0, &d, &nf), CQ_OK);
  CHECK_EQ(nf, 1);
  cq_segment_decoder_free(&d);
  w.data[0] ^= 1;
  CHECK_EQ(decode_all(w.data, w.len, 0, 0, &d, &nf), CQ_ERR_CHECKSUM);
  CHECK_EQ(cq_segment_decoder_feed(&d, ready, 9), CQ_ERR_CHECKSUM);
  cq_frame f;
  CHECK_EQ(cq_segment_decoder_next(&d, &f), CQ_ERR_CHECKSUM);
  cq_segment_decoder_free(&d);
  cq_buf_free(&w);
}

UNIT_MAIN()
