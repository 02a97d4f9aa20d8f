/* Frame header codec, frame writer and streaming frame reader; see frame.h. */
#include "frame.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* How far ahead of the received bytes a reader may reserve (see _next). */
#define CQ_FRAME_RESERVE_AHEAD ((size_t)8 << 20)

void cq_frame_header_encode(uint8_t out[CQ_FRAME_HEADER_SIZE], const cq_frame_header *h) {
  out[0] = (uint8_t)((h->version & 0x7F) | (h->response ? CQ_VERSION_RESPONSE_BIT : 0));
  out[1] = h->flags;
  cq_store_u16(out + 2, (uint16_t)h->stream);
  out[4] = h->opcode;
  cq_store_u32(out + 5, h->length);
}

int cq_frame_header_decode(const uint8_t in[CQ_FRAME_HEADER_SIZE], cq_frame_header *h) {
  h->version = in[0] & 0x7F;
  h->response = (in[0] & CQ_VERSION_RESPONSE_BIT) ? 1 : 0;
  h->flags = in[1];
  h->stream = (int16_t)cq_load_u16(in + 2);
  h->opcode = in[4];
  h->length = cq_load_u32(in + 5);
  if (h->version < CQ_PROTOCOL_MIN || h->version > CQ_PROTOCOL_MAX) return CQ_ERR_UNSUPPORTED;
  return CQ_OK;
}

static void put_msg(char *msg, size_t msgsz, const char *fmt, ...) {
  if (!msg || !msgsz) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, msgsz, fmt, ap);
  va_end(ap);
}

int cq_frame_header_check(const uint8_t in[CQ_FRAME_HEADER_SIZE], cq_frame_header *h, int version,
                          int direction, uint32_t max_body, char *msg, size_t msgsz) {
  if (cq_frame_header_decode(in, h) < 0) {
    put_msg(msg, msgsz, "unsupported protocol version byte 0x%02x in frame header", in[0]);
    return CQ_ERR_UNSUPPORTED;
  }
  if (version && h->version != version) {
    put_msg(msg, msgsz, "frame has protocol version %u, connection uses v%d", h->version, version);
    return CQ_ERR_MALFORMED;
  }
  if ((direction == CQ_DIR_RESPONSE && !h->response) ||
      (direction == CQ_DIR_REQUEST && h->response)) {
    put_msg(msg, msgsz, "expected a %s frame, got version byte 0x%02x",
            direction == CQ_DIR_RESPONSE ? "response" : "request", in[0]);
    return CQ_ERR_MALFORMED;
  }
  if (h->length > max_body) {
    put_msg(msg, msgsz, "frame body of %u bytes exceeds the limit of %u", h->length, max_body);
    return CQ_ERR_TOO_LARGE;
  }
  return CQ_OK;
}

/* ---- writer ---------------------------------------------------------- */

void cq_frame_writer_init(cq_frame_writer *w, int version, int lz4) {
  memset(w, 0, sizeof *w);
  w->version = (uint8_t)version;
  w->lz4 = lz4 ? 1 : 0;
  /* Below ~64 bytes LZ4 rarely wins once the 4-byte length is added. */
  w->compress_min = 64;
  w->max_body = CQ_FRAME_MAX_BODY_DEFAULT;
  cq_buf_init(&w->scratch);
}

void cq_frame_writer_free(cq_frame_writer *w) {
  cq_buf_free(&w->scratch);
  cq_lz4_ctx_free(&w->lz4s);
}

size_t cq_frame_begin(cq_frame_writer *w, cq_buf *out, const cq_frame_header *h) {
  size_t start = out->len;
  uint8_t *p = cq_buf_reserve(out, CQ_FRAME_HEADER_SIZE);
  if (!p) return start;
  cq_frame_header hh = *h;
  hh.version = w->version;
  hh.length = 0; /* patched by cq_frame_end */
  cq_frame_header_encode(p, &hh);
  out->len += CQ_FRAME_HEADER_SIZE;
  return start;
}

int cq_frame_end(cq_frame_writer *w, cq_buf *out, size_t start) {
  if (out->err || out->len < start + CQ_FRAME_HEADER_SIZE) {
    int rc = out->err ? out->err : CQ_ERR_INVALID;
    if (out->len > start) out->len = start;
    return rc;
  }
  uint8_t *hdr = out->data + start;
  size_t n = out->len - start - CQ_FRAME_HEADER_SIZE;
  if (n > w->max_body) {
    out->len = start;
    return CQ_ERR_TOO_LARGE;
  }
  uint8_t flags = hdr[1] & (uint8_t)~CQ_FLAG_COMPRESSION;
  uint8_t op = hdr[4];
  /* STARTUP picks the compression, so it (and OPTIONS, which may precede
   * it) can never be compressed; v5 compresses segments, not frames. */
  if (w->lz4 && w->version < CQ_PROTOCOL_V5 && n >= w->compress_min && op != CQ_OP_STARTUP &&
      op != CQ_OP_OPTIONS) {
    cq_buf_reset(&w->scratch);
    long got = cq_lz4_compress_body(&w->lz4s, &w->scratch, hdr + CQ_FRAME_HEADER_SIZE, n);
    if (got > 0 && (size_t)got < n) {
      memcpy(hdr + CQ_FRAME_HEADER_SIZE, w->scratch.data, (size_t)got);
      n = (size_t)got;
      out->len = start + CQ_FRAME_HEADER_SIZE + n;
      flags |= CQ_FLAG_COMPRESSION;
    }
    /* On a compression failure the frame simply goes out uncompressed. */
  }
  hdr[1] = flags;
  cq_store_u32(hdr + 5, (uint32_t)n);
  return CQ_OK;
}

int cq_frame_write(cq_frame_writer *w, cq_buf *out, const cq_frame_header *h, const void *body,
                   size_t n) {
  if (out->err) return out->err;
  if (n > w->max_body) return CQ_ERR_TOO_LARGE;
  size_t start = cq_frame_begin(w, out, h);
  cq_buf_put(out, body, n);
  return cq_frame_end(w, out, start);
}

/* ---- reader ---------------------------------------------------------- */

void cq_frame_reader_init(cq_frame_reader *r, int version, int lz4) {
  memset(r, 0, sizeof *r);
  r->version = (uint8_t)version;
  r->lz4 = lz4 ? 1 : 0;
  r->direction = CQ_DIR_RESPONSE;
  r->max_body = CQ_FRAME_MAX_BODY_DEFAULT;
  cq_buf_init(&r->in);
  cq_buf_init(&r->plain);
}

void cq_frame_reader_free(cq_frame_reader *r) {
  cq_buf_free(&r->in);
  cq_buf_free(&r->plain);
  r->pos = 0;
}

static int reader_fail(cq_frame_reader *r, int err, const char *fmt, ...) {
  r->err = err;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->msg, sizeof r->msg, fmt, ap);
  va_end(ap);
  return err;
}

int cq_frame_reader_feed(cq_frame_reader *r, const void *p, size_t n) {
  if (r->err) return r->err;
  /* Drop consumed frames first; what remains is at most one partial frame,
   * so each byte is moved at most once per frame boundary. */
  if (r->pos) {
    size_t left = r->in.len - r->pos;
    if (left) memmove(r->in.data, r->in.data + r->pos, left);
    r->in.len = left;
    r->pos = 0;
  }
  if (!n) return CQ_OK;
  cq_buf_put(&r->in, p, n);
  if (r->in.err)
    return reader_fail(r, r->in.err, "cannot buffer %zu received bytes: %s", n,
                       cq_status_name(r->in.err));
  return CQ_OK;
}

int cq_frame_reader_next(cq_frame_reader *r, cq_frame *f) {
  if (r->err) return r->err;
  size_t avail = r->in.len - r->pos;
  if (avail < CQ_FRAME_HEADER_SIZE) return 0;
  const uint8_t *hp = r->in.data + r->pos;
  cq_frame_header h;
  int rc =
      cq_frame_header_check(hp, &h, r->version, r->direction, r->max_body, r->msg, sizeof r->msg);
  if (rc < 0) {
    r->err = rc;
    return rc;
  }
  int compressed = (h.flags & CQ_FLAG_COMPRESSION) && h.version < CQ_PROTOCOL_V5;
  if (compressed && !r->lz4)
    return reader_fail(r, CQ_ERR_MALFORMED,
                       "frame on stream %d is compressed but no compression was negotiated",
                       h.stream);
  size_t need = CQ_FRAME_HEADER_SIZE + (size_t)h.length;
  if (avail < need) {
    /* Grow once to the whole frame instead of doubling along the way, but
     * only up to 8 MiB ahead of what arrived, so a bare header claiming a
     * huge body cannot make us commit memory for it. */
    size_t ahead = need - avail;
    if (ahead > CQ_FRAME_RESERVE_AHEAD) ahead = CQ_FRAME_RESERVE_AHEAD;
    if (!cq_buf_reserve(&r->in, ahead))
      return reader_fail(r, r->in.err, "cannot buffer a frame of %zu bytes", need);
    return 0;
  }
  const uint8_t *body = hp + CQ_FRAME_HEADER_SIZE;
  r->pos += need;
  f->header = h;
  if (compressed) {
    rc = cq_lz4_decompress_body(&r->plain, body, h.length, r->max_body);
    if (rc == CQ_ERR_TOO_LARGE)
      return reader_fail(r, rc, "compressed frame on stream %d inflates beyond %u bytes", h.stream,
                         r->max_body);
    if (rc < 0)
      return reader_fail(r, rc, "corrupt LZ4 body in frame on stream %d (%s)", h.stream,
                         cq_status_name(rc));
    f->body = r->plain.data;
    f->body_len = r->plain.len;
  } else {
    f->body = body;
    f->body_len = h.length;
  }
  return 1;
}

const uint8_t *cq_frame_reader_pending(const cq_frame_reader *r, size_t *n) {
  *n = r->in.len - r->pos;
  return r->in.data ? r->in.data + r->pos : NULL;
}

int cq_frame_reader_finish(cq_frame_reader *r) {
  if (r->err) return r->err;
  size_t left = r->in.len - r->pos;
  if (left)
    return reader_fail(r, CQ_ERR_TRUNCATED, "stream ended inside a frame (%zu bytes buffered)",
                       left);
  return CQ_OK;
}
