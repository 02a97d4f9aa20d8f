/* libFuzzer target: the streaming frame reader (v3/v4/v5 headers, LZ4 on
 * and off, arbitrary chunking), plus a writer -> reader round trip.
 *
 * Input: byte 0 selects options, byte 1 seeds the chunk sizes, the rest is
 * the byte stream (reader mode) or frame material (round-trip mode). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "frame.h"

static uint32_t next_rand(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

/* Reads every byte of a handed-out body so ASan sees any bad pointer. */
static volatile uint8_t sink;
static void touch(const cq_frame *f) {
  uint8_t x = 0;
  for (size_t i = 0; i < f->body_len; i++)
    x ^= f->body[i];
  sink = x;
}

static void reader_mode(uint8_t opt, uint32_t seed, const uint8_t *p, size_t n) {
  static const int versions[4] = {0, 3, 4, 5};
  cq_frame_reader r;
  cq_frame_reader_init(&r, versions[(opt >> 1) & 3], opt & 1);
  r.direction = (uint8_t)((opt >> 3) % 3);
  r.max_body = (opt & 0x20) ? 64 : (1u << 20); /* keep allocations small */
  size_t pos = 0;
  int maxchunk = (opt & 0x40) ? 1 : 257;
  for (;;) {
    cq_frame f;
    int rc;
    while ((rc = cq_frame_reader_next(&r, &f)) == 1)
      touch(&f);
    if (rc < 0) {
      if (!cq_frame_reader_error(&r)[0]) abort(); /* every error has a message */
      break;
    }
    if (pos == n) {
      (void)cq_frame_reader_finish(&r);
      break;
    }
    size_t k = 1 + next_rand(&seed) % (uint32_t)maxchunk;
    if (k > n - pos) k = n - pos;
    if (cq_frame_reader_feed(&r, p + pos, k) < 0) break;
    pos += k;
  }
  cq_frame_reader_free(&r);
}

/* Cuts the input into frames (u8 length scale, bodies from the input),
 * writes them with the frame writer and checks the reader returns them. */
static void roundtrip_mode(uint8_t opt, uint32_t seed, const uint8_t *p, size_t n) {
  int version = 3 + (opt >> 1) % 3;
  int lz4 = opt & 1;
  cq_frame_writer w;
  cq_frame_writer_init(&w, version, lz4);
  w.compress_min = opt & 0x20 ? 0 : 64;
  cq_buf wire;
  cq_buf_init(&wire);
  size_t nf = 0, pos = 0;
  size_t offs[64], lens[64];
  while (pos < n && nf < 64) {
    size_t len = (size_t)p[pos++] * ((opt & 0x40) ? 37 : 1);
    if (len > n - pos) len = n - pos;
    cq_frame_header h = {0};
    h.response = 1;
    h.stream = (int16_t)nf;
    h.opcode = CQ_OP_RESULT;
    if (cq_frame_write(&w, &wire, &h, p + pos, len) != CQ_OK) abort();
    offs[nf] = pos;
    lens[nf++] = len;
    pos += len;
  }
  cq_frame_reader r;
  cq_frame_reader_init(&r, version, lz4);
  size_t got = 0, fed = 0;
  for (;;) {
    cq_frame f;
    int rc;
    while ((rc = cq_frame_reader_next(&r, &f)) == 1) {
      if (got >= nf || f.header.stream != (int16_t)got || f.body_len != lens[got] ||
          (f.body_len && memcmp(f.body, p + offs[got], f.body_len) != 0))
        abort();
      got++;
    }
    if (rc < 0) abort();
    if (fed == wire.len) break;
    size_t k = 1 + next_rand(&seed) % 1000;
    if (k > wire.len - fed) k = wire.len - fed;
    if (cq_frame_reader_feed(&r, wire.data + fed, k) < 0) abort();
    fed += k;
  }
  if (got != nf || cq_frame_reader_finish(&r) != CQ_OK) abort();
  cq_frame_reader_free(&r);
  cq_frame_writer_free(&w);
  cq_buf_free(&wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  uint8_t opt = data[0];
  uint32_t seed = 0x9e3779b9u ^ data[1];
  if (opt & 0x80)
    roundtrip_mode(opt, seed, data + 2, size - 2);
  else
    reader_mode(opt, seed, data + 2, size - 2);
  return 0;
}
