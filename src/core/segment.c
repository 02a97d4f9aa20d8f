/* v5 segment encoder and streaming decoder; see segment.h. */
#include "segment.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "compress.h"
#include "crc.h"

static void store_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t load_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* ---- encoder --------------------------------------------------------- */

void cq_segment_encoder_init(cq_segment_encoder *e, int lz4) {
  memset(e, 0, sizeof *e);
  e->lz4 = lz4 ? 1 : 0;
  e->max_payload = CQ_SEGMENT_MAX_PAYLOAD;
  cq_buf_init(&e->scratch);
}

void cq_segment_encoder_free(cq_segment_encoder *e) {
  cq_buf_free(&e->scratch);
  cq_lz4_ctx_free(&e->lz4s);
}

static size_t enc_max(const cq_segment_encoder *e) {
  size_t m = e->max_payload;
  return (m == 0 || m > CQ_SEGMENT_MAX_PAYLOAD) ? CQ_SEGMENT_MAX_PAYLOAD : m;
}

int cq_segment_write(cq_segment_encoder *e, cq_buf *out, const void *payload, size_t n,
                     int self_contained) {
  if (out->err) return out->err;
  if (n > enc_max(e)) return CQ_ERR_TOO_LARGE;
  const uint8_t *body = payload;
  size_t body_len = n;
  uint8_t hdr[CQ_SEGMENT_HEADER_SIZE_LZ4];
  size_t hsz;
  uint64_t sc = self_contained ? 1 : 0;
  if (e->lz4) {
    uint64_t ulen = 0;
    cq_buf_reset(&e->scratch);
    /* Store as is unless compression actually saves bytes (the spec's
     * "uncompressed length 0"). */
    long got = n ? cq_lz4_compress(&e->lz4s, &e->scratch, payload, n) : -1;
    if (got > 0 && (size_t)got < n) {
      body = e->scratch.data;
      body_len = (size_t)got;
      ulen = n;
    }
    store_le(hdr, (uint64_t)body_len | (ulen << 17) | (sc << 34), 5);
    store_le(hdr + 5, cq_crc24(hdr, 5), 3);
    hsz = CQ_SEGMENT_HEADER_SIZE_LZ4;
  } else {
    store_le(hdr, (uint64_t)n | (sc << 17), 3);
    store_le(hdr + 3, cq_crc24(hdr, 3), 3);
    hsz = CQ_SEGMENT_HEADER_SIZE;
  }
  size_t start = out->len;
  uint8_t *p = cq_buf_reserve(out, hsz + body_len + CQ_SEGMENT_TRAILER_SIZE);
  if (!p) return out->err;
  memcpy(p, hdr, hsz);
  if (body_len) memcpy(p + hsz, body, body_len);
  store_le(p + hsz + body_len, cq_crc32_v5(body, body_len), 4);
  out->len = start + hsz + body_len + CQ_SEGMENT_TRAILER_SIZE;
  return CQ_OK;
}

int cq_segment_encode_frames(cq_segment_encoder *e, cq_buf *out, const void *frames, size_t n) {
  const uint8_t *f = frames;
  size_t maxp = enc_max(e);
  size_t start0 = out->len;
  size_t off = 0;
  int rc = CQ_OK;
  while (off < n && rc == CQ_OK) {
    size_t run = off; /* first frame of the self-contained run being packed */
    while (off < n) {
      if (n - off < CQ_FRAME_HEADER_SIZE) {
        rc = CQ_ERR_INVALID;
        break;
      }
      uint64_t flen = CQ_FRAME_HEADER_SIZE + (uint64_t)cq_load_u32(f + off + 5);
      if (flen > n - off) {
        rc = CQ_ERR_INVALID;
        break;
      }
      if (flen > maxp) {
        if (off > run) break; /* flush the packed run first */
        /* One frame too large for a segment: cut it into pieces. */
        for (size_t cut = 0; cut < flen && rc == CQ_OK; cut += maxp) {
          size_t piece = flen - cut < maxp ? (size_t)(flen - cut) : maxp;
          rc = cq_segment_write(e, out, f + off + cut, piece, 0);
        }
        off += (size_t)flen;
        run = off;
        continue;
      }
      if (off - run + flen > maxp) break;
      off += (size_t)flen;
    }
    if (rc == CQ_OK && off > run) rc = cq_segment_write(e, out, f + run, off - run, 1);
  }
  if (rc < 0 && !out->err) out->len = start0;
  return rc;
}

/* ---- decoder --------------------------------------------------------- */

void cq_segment_decoder_init(cq_segment_decoder *d, int lz4) {
  memset(d, 0, sizeof *d);
  d->lz4 = lz4 ? 1 : 0;
  d->direction = CQ_DIR_RESPONSE;
  d->version = CQ_PROTOCOL_V5;
  d->max_body = CQ_FRAME_MAX_BODY_DEFAULT;
  cq_buf_init(&d->in);
  cq_buf_init(&d->plain);
  cq_buf_init(&d->large);
}

void cq_segment_decoder_free(cq_segment_decoder *d) {
  cq_buf_free(&d->in);
  cq_buf_free(&d->plain);
  cq_buf_free(&d->large);
  d->pos = d->cur_off = d->cur_end = d->large_need = 0;
  d->cur_src = d->large_ready = 0;
}

static int dec_fail(cq_segment_decoder *d, int err, const char *fmt, ...) {
  d->err = err;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->msg, sizeof d->msg, fmt, ap);
  va_end(ap);
  return err;
}

int cq_segment_decoder_feed(cq_segment_decoder *d, const void *p, size_t n) {
  if (d->err) return d->err;
  /* Keep unread frames of a self-contained payload that still sits in
   * `in`; drop everything before them. */
  size_t keep = d->cur_src == 1 ? d->cur_off : d->pos;
  if (keep) {
    size_t left = d->in.len - keep;
    if (left) memmove(d->in.data, d->in.data + keep, left);
    d->in.len = left;
    d->pos -= keep;
    if (d->cur_src == 1) {
      d->cur_off -= keep;
      d->cur_end -= keep;
    }
  }
  if (!n) return CQ_OK;
  cq_buf_put(&d->in, p, n);
  if (d->in.err)
    return dec_fail(d, d->in.err, "cannot buffer %zu received bytes: %s", n,
                    cq_status_name(d->in.err));
  return CQ_OK;
}

/* Appends a piece of a split frame to `large`; returns 1 when the frame is
 * complete, 0 when more pieces are needed, or an error. */
static int take_piece(cq_segment_decoder *d, const uint8_t *p, size_t n, cq_frame *f) {
  if (n == 0) return dec_fail(d, CQ_ERR_MALFORMED, "empty segment inside a split frame");
  if (d->large_need && n > d->large_need - d->large.len)
    return dec_fail(d, CQ_ERR_MALFORMED, "segment runs %zu bytes past the end of its split frame",
                    n - (d->large_need - d->large.len));
  size_t had = d->large.len;
  if (!d->large_need && had + n >= CQ_FRAME_HEADER_SIZE) {
    /* Validate the header before buffering the rest of the frame. */
    uint8_t hb[CQ_FRAME_HEADER_SIZE];
    if (had) memcpy(hb, d->large.data, had);
    memcpy(hb + had, p, CQ_FRAME_HEADER_SIZE - had);
    cq_frame_header h;
    int rc =
        cq_frame_header_check(hb, &h, d->version, d->direction, d->max_body, d->msg, sizeof d->msg);
    if (rc < 0) return d->err = rc;
    d->large_need = CQ_FRAME_HEADER_SIZE + (size_t)h.length;
    if (n > d->large_need - had)
      return dec_fail(d, CQ_ERR_MALFORMED, "segment runs %zu bytes past the end of its split frame",
                      n - (d->large_need - had));
    /* Reserve the whole frame when modest; beyond 8 MiB let the buffer
     * grow with the pieces actually received. */
    size_t ahead = d->large_need - had;
    if (ahead > ((size_t)8 << 20)) ahead = (size_t)8 << 20;
    if (!cq_buf_reserve(&d->large, ahead))
      return dec_fail(d, d->large.err, "cannot buffer a split frame of %zu bytes", d->large_need);
  }
  cq_buf_put(&d->large, p, n);
  if (d->large.err) return dec_fail(d, d->large.err, "cannot buffer a split frame");
  if (!d->large_need || d->large.len < d->large_need) return 0;
  cq_frame_header_decode(d->large.data, &f->header);
  f->body = d->large.data + CQ_FRAME_HEADER_SIZE;
  f->body_len = f->header.length;
  d->large_ready = 1;
  return 1;
}

/* Hands out the next frame of the current self-contained payload. */
static int next_in_payload(cq_segment_decoder *d, cq_frame *f) {
  const uint8_t *base = d->cur_src == 1 ? d->in.data : d->plain.data;
  size_t left = d->cur_end - d->cur_off;
  if (left < CQ_FRAME_HEADER_SIZE)
    return dec_fail(d, CQ_ERR_MALFORMED,
                    "self-contained segment ends inside a frame header (%zu bytes left)", left);
  const uint8_t *p = base + d->cur_off;
  int rc = cq_frame_header_check(p, &f->header, d->version, d->direction, d->max_body, d->msg,
                                 sizeof d->msg);
  if (rc < 0) return d->err = rc;
  if (f->header.length > left - CQ_FRAME_HEADER_SIZE)
    return dec_fail(d, CQ_ERR_MALFORMED,
                    "frame length %u overruns its self-contained segment (%zu bytes left)",
                    f->header.length, left - CQ_FRAME_HEADER_SIZE);
  f->body = p + CQ_FRAME_HEADER_SIZE;
  f->body_len = f->header.length;
  d->cur_off += CQ_FRAME_HEADER_SIZE + (size_t)f->header.length;
  if (d->cur_off == d->cur_end) d->cur_src = 0;
  return 1;
}

int cq_segment_decoder_next(cq_segment_decoder *d, cq_frame *f) {
  if (d->err) return d->err;
  if (d->large_ready) {
    d->large.len = 0;
    d->large_need = 0;
    d->large_ready = 0;
  }
  for (;;) {
    if (d->cur_src) return next_in_payload(d, f);
    size_t avail = d->in.len - d->pos;
    size_t hsz = d->lz4 ? CQ_SEGMENT_HEADER_SIZE_LZ4 : CQ_SEGMENT_HEADER_SIZE;
    if (avail < hsz) return 0;
    const uint8_t *p = d->in.data + d->pos;
    size_t clen, ulen = 0;
    int sc;
    uint32_t crc, want;
    if (d->lz4) {
      uint64_t h5 = load_le(p, 5);
      clen = (size_t)(h5 & 0x1FFFF);
      ulen = (size_t)((h5 >> 17) & 0x1FFFF);
      sc = (int)((h5 >> 34) & 1);
      want = (uint32_t)load_le(p + 5, 3);
      crc = cq_crc24(p, 5);
    } else {
      uint64_t h3 = load_le(p, 3);
      clen = (size_t)(h3 & 0x1FFFF);
      sc = (int)((h3 >> 17) & 1);
      want = (uint32_t)load_le(p + 3, 3);
      crc = cq_crc24(p, 3);
    }
    if (crc != want)
      return dec_fail(d, CQ_ERR_CHECKSUM,
                      "segment header CRC24 mismatch (sent 0x%06x, computed 0x%06x)", want, crc);
    size_t total = hsz + clen + CQ_SEGMENT_TRAILER_SIZE;
    if (avail < total) {
      if (!cq_buf_reserve(&d->in, total - avail))
        return dec_fail(d, d->in.err, "cannot buffer a segment of %zu bytes", total);
      return 0;
    }
    const uint8_t *payload = p + hsz;
    uint32_t pcrc = cq_crc32_v5(payload, clen);
    uint32_t pwant = (uint32_t)load_le(payload + clen, 4);
    if (pcrc != pwant)
      return dec_fail(d, CQ_ERR_CHECKSUM,
                      "segment payload CRC32 mismatch (sent 0x%08x, computed 0x%08x)", pwant, pcrc);
    size_t seg_off = d->pos + hsz;
    d->pos += total;
    const uint8_t *data = payload;
    size_t len = clen;
    if (ulen) {
      cq_buf_reset(&d->plain);
      uint8_t *dst = cq_buf_reserve(&d->plain, ulen);
      if (!dst) return dec_fail(d, d->plain.err, "cannot buffer a %zu-byte payload", ulen);
      int rc = cq_lz4_decompress(payload, clen, dst, ulen);
      if (rc < 0)
        return dec_fail(d, CQ_ERR_MALFORMED,
                        "corrupt LZ4 segment payload (%zu bytes, %zu declared uncompressed)", clen,
                        ulen);
      d->plain.len = ulen;
      data = d->plain.data;
      len = ulen;
    }
    if (sc) {
      if (d->large.len)
        return dec_fail(d, CQ_ERR_MALFORMED,
                        "self-contained segment interrupts a frame split across segments");
      if (!len) continue; /* nothing inside; harmless */
      d->cur_src = ulen ? 2 : 1;
      d->cur_off = ulen ? 0 : seg_off;
      d->cur_end = d->cur_off + len;
      continue;
    }
    int rc = take_piece(d, data, len, f);
    if (rc != 0) return rc;
  }
}

int cq_segment_decoder_finish(cq_segment_decoder *d) {
  if (d->err) return d->err;
  size_t left = d->in.len - d->pos;
  if (left)
    return dec_fail(d, CQ_ERR_TRUNCATED, "stream ended inside a segment (%zu bytes buffered)",
                    left);
  if (d->large.len && !d->large_ready)
    return dec_fail(d, CQ_ERR_TRUNCATED,
                    "stream ended inside a frame split across segments (%zu of %zu bytes)",
                    d->large.len, d->large_need);
  return CQ_OK;
}
