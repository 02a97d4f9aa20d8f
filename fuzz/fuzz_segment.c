/* libFuzzer target: the v5 segment decoder (compressed and uncompressed)
 * and an encode -> decode round trip.
 *
 * Byte 0 picks the mode:
 *   0: raw bytes into the decoder (CRCs will mostly fail: tests the guards)
 *   1: the input describes segments whose CRCs this harness fixes up, so
 *      the decoder's logic past the checksums (lengths, LZ4, reassembly)
 *      sees arbitrary content
 *   2: round trip: frames cut from the input are segmented and decoded back
 * Bit 0x10 selects the LZ4 format, byte 1 seeds the chunk sizes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "frame.h"
#include "segment.h"

static uint32_t next_rand(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

static volatile uint8_t sink;
static void touch(const cq_frame *f) {
  uint8_t x = 0;
  for (size_t i = 0; i < f->body_len; i++)
    x ^= f->body[i];
  sink = x;
}

/* Feeds bytes in random chunks; every frame is touched. */
static void decode(const uint8_t *p, size_t n, int lz4, uint32_t seed, int dir) {
  cq_segment_decoder d;
  cq_segment_decoder_init(&d, lz4);
  d.max_body = 1u << 20;
  d.direction = (uint8_t)dir;
  size_t pos = 0;
  for (;;) {
    cq_frame f;
    int rc;
    while ((rc = cq_segment_decoder_next(&d, &f)) == 1)
      touch(&f);
    if (rc < 0) {
      if (!cq_segment_decoder_error(&d)[0]) abort();
      break;
    }
    if (pos == n) {
      (void)cq_segment_decoder_finish(&d);
      break;
    }
    size_t k = 1 + next_rand(&seed) % 300;
    if (k > n - pos) k = n - pos;
    if (cq_segment_decoder_feed(&d, p + pos, k) < 0) break;
    pos += k;
  }
  cq_segment_decoder_free(&d);
}

static void put_le(cq_buf *b, uint64_t v, int n) {
  for (int i = 0; i < n; i++)
    cq_buf_put_u8(b, (uint8_t)(v >> (8 * i)));
}

/* Input: repeated [flags u8][len u16 LE][ulen u16 LE if lz4][payload]. */
static void fixed_crc_mode(const uint8_t *p, size_t n, int lz4, uint32_t seed) {
  cq_buf w;
  cq_buf_init(&w);
  size_t pos = 0;
  size_t hdr = lz4 ? 5 : 3;
  while (pos + hdr <= n) {
    uint8_t fl = p[pos];
    size_t len = p[pos + 1] | ((size_t)p[pos + 2] << 8);
    size_t ulen = lz4 ? (p[pos + 3] | ((size_t)p[pos + 4] << 8)) : 0;
    if (fl & 2) ulen <<= 1; /* reach past 64 KiB sometimes */
    ulen &= 0x1FFFF;
    pos += hdr;
    if (len > n - pos) len = n - pos;
    uint8_t h[8];
    uint64_t sc = fl & 1;
    if (lz4) {
      uint64_t v = (uint64_t)len | ((uint64_t)ulen << 17) | (sc << 34);
      for (int i = 0; i < 5; i++)
        h[i] = (uint8_t)(v >> (8 * i));
      cq_buf_put(&w, h, 5);
      put_le(&w, cq_crc24(h, 5), 3);
    } else {
      uint64_t v = (uint64_t)len | (sc << 17);
      for (int i = 0; i < 3; i++)
        h[i] = (uint8_t)(v >> (8 * i));
      cq_buf_put(&w, h, 3);
      put_le(&w, cq_crc24(h, 3), 3);
    }
    cq_buf_put(&w, p + pos, len);
    put_le(&w, cq_crc32_v5(p + pos, len), 4);
    pos += len;
  }
  decode(w.data, w.len, lz4, seed, CQ_DIR_ANY);
  cq_buf_free(&w);
}

static void roundtrip_mode(const uint8_t *p, size_t n, int lz4, uint32_t seed, uint8_t opt) {
  cq_frame_writer fw;
  cq_frame_writer_init(&fw, 5, 0);
  cq_buf frames, wire;
  cq_buf_init(&frames);
  cq_buf_init(&wire);
  size_t nf = 0, pos = 0;
  size_t offs[64], lens[64], reps[64];
  while (pos + 2 <= n && nf < 64) {
    size_t len = p[pos] | ((size_t)p[pos + 1] << 8);
    pos += 2;
    size_t rep = 1 + (len >> 13); /* body repeats the slice to reach > 128 KiB */
    len &= 0x1FFF;
    if (len > n - pos) len = n - pos;
    cq_frame_header h = {0};
    h.response = 1;
    h.stream = (int16_t)nf;
    h.opcode = CQ_OP_RESULT;
    size_t at = cq_frame_begin(&fw, &frames, &h);
    for (size_t r = 0; r < rep; r++)
      cq_buf_put(&frames, p + pos, len);
    if (cq_frame_end(&fw, &frames, at) != CQ_OK) abort();
    offs[nf] = pos;
    lens[nf] = len;
    reps[nf++] = rep;
    pos += len;
  }
  cq_segment_encoder e;
  cq_segment_encoder_init(&e, lz4);
  if (opt & 0x20) e.max_payload = 1 + (seed % 2000); /* many small segments */
  if (cq_segment_encode_frames(&e, &wire, frames.data, frames.len) != CQ_OK) abort();
  cq_segment_decoder d;
  cq_segment_decoder_init(&d, lz4);
  size_t got = 0, fed = 0;
  for (;;) {
    cq_frame f;
    int rc;
    while ((rc = cq_segment_decoder_next(&d, &f)) == 1) {
      if (got >= nf || f.header.stream != (int16_t)got || f.body_len != lens[got] * reps[got])
        abort();
      for (size_t r = 0; r < reps[got]; r++)
        if (lens[got] && memcmp(f.body + r * lens[got], p + offs[got], lens[got]) != 0) abort();
      got++;
    }
    if (rc < 0) abort();
    if (fed == wire.len) break;
    size_t k = 1 + next_rand(&seed) % 5000;
    if (k > wire.len - fed) k = wire.len - fed;
    if (cq_segment_decoder_feed(&d, wire.data + fed, k) < 0) abort();
    fed += k;
  }
  if (got != nf || cq_segment_decoder_finish(&d) != CQ_OK) abort();
  cq_segment_decoder_free(&d);
  cq_segment_encoder_free(&e);
  cq_frame_writer_free(&fw);
  cq_buf_free(&frames);
  cq_buf_free(&wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  uint8_t opt = data[0];
  int lz4 = (opt & 0x10) != 0;
  uint32_t seed = 0x9e3779b9u ^ data[1];
  switch (opt % 3) {
  case 0: decode(data + 2, size - 2, lz4, seed, CQ_DIR_ANY); break;
  case 1: fixed_crc_mode(data + 2, size - 2, lz4, seed); break;
  default: roundtrip_mode(data + 2, size - 2, lz4, seed, opt); break;
  }
  return 0;
}
