#include "buf.h"

#include <stdlib.h>
#include <string.h>

/* Largest buffer we ever grow to: a CQL frame body is at most 256 MiB by
 * default server settings; anything beyond 1 GiB is certainly a bug. */
#define CQ_BUF_MAX ((size_t)1 << 30)

void cq_buf_init(cq_buf *b) { memset(b, 0, sizeof *b); }

void cq_buf_free(cq_buf *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

void cq_buf_reset(cq_buf *b) {
  b->len = 0;
  b->err = 0;
}

uint8_t *cq_buf_reserve(cq_buf *b, size_t n) {
  if (b->err) return NULL;
  if (n > CQ_BUF_MAX - b->len) {
    b->err = CQ_ERR_TOO_LARGE;
    return NULL;
  }
  /* Allocate even for n == 0 so the returned pointer is never NULL + 0. */
  if (!b->data || b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
      cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d) {
      b->err = CQ_ERR_NOMEM;
      return NULL;
    }
    b->data = d;
    b->cap = cap;
  }
  return b->data + b->len;
}

void cq_buf_put(cq_buf *b, const void *p, size_t n) {
  uint8_t *d = cq_buf_reserve(b, n);
  if (!d) return;
  if (n) memcpy(d, p, n);
  b->len += n;
}

void cq_buf_put_u8(cq_buf *b, uint8_t v) { cq_buf_put(b, &v, 1); }

void cq_buf_put_u16(cq_buf *b, uint16_t v) {
  uint8_t t[2];
  cq_store_u16(t, v);
  cq_buf_put(b, t, 2);
}

void cq_buf_put_u32(cq_buf *b, uint32_t v) {
  uint8_t t[4];
  cq_store_u32(t, v);
  cq_buf_put(b, t, 4);
}

void cq_buf_put_u64(cq_buf *b, uint64_t v) {
  uint8_t t[8];
  cq_store_u64(t, v);
  cq_buf_put(b, t, 8);
}

void cq_buf_put_string(cq_buf *b, const char *s, size_t n) {
  if (n > 0xFFFF) {
    if (!b->err) b->err = CQ_ERR_TOO_LARGE;
    return;
  }
  cq_buf_put_u16(b, (uint16_t)n);
  cq_buf_put(b, s, n);
}

void cq_buf_put_long_string(cq_buf *b, const char *s, size_t n) {
  if (n > INT32_MAX) {
    if (!b->err) b->err = CQ_ERR_TOO_LARGE;
    return;
  }
  cq_buf_put_u32(b, (uint32_t)n);
  cq_buf_put(b, s, n);
}

void cq_buf_put_bytes(cq_buf *b, const void *p, size_t n) {
  if (!p) {
    cq_buf_put_u32(b, 0xFFFFFFFFu);
    return;
  }
  cq_buf_put_long_string(b, p, n);
}

void cq_buf_patch_u32(cq_buf *b, size_t at, uint32_t v) {
  if (b->err || at + 4 > b->len) return;
  cq_store_u32(b->data + at, v);
}

void cq_reader_init(cq_reader *r, const void *p, size_t len) {
  r->p = p;
  r->len = len;
  r->pos = 0;
  r->err = 0;
}

void cq_reader_fail(cq_reader *r, int err) {
  if (!r->err) r->err = err;
}

const uint8_t *cq_read_raw(cq_reader *r, size_t n) {
  if (r->err) return NULL;
  if (n > r->len - r->pos) {
    r->err = CQ_ERR_TRUNCATED;
    return NULL;
  }
  const uint8_t *p = r->p + r->pos;
  r->pos += n;
  return p;
}

uint8_t cq_read_u8(cq_reader *r) {
  const uint8_t *p = cq_read_raw(r, 1);
  return p ? p[0] : 0;
}

uint16_t cq_read_u16(cq_reader *r) {
  const uint8_t *p = cq_read_raw(r, 2);
  return p ? cq_load_u16(p) : 0;
}

uint32_t cq_read_u32(cq_reader *r) {
  const uint8_t *p = cq_read_raw(r, 4);
  return p ? cq_load_u32(p) : 0;
}

uint64_t cq_read_u64(cq_reader *r) {
  const uint8_t *p = cq_read_raw(r, 8);
  return p ? cq_load_u64(p) : 0;
}

const char *cq_read_string(cq_reader *r, size_t *n) {
  *n = cq_read_u16(r);
  const char *s = (const char *)cq_read_raw(r, *n);
  if (!s) *n = 0;
  return s;
}

const char *cq_read_long_string(cq_reader *r, size_t *n) {
  int32_t len = cq_read_i32(r);
  if (len < 0) {
    cq_reader_fail(r, CQ_ERR_MALFORMED);
    *n = 0;
    return NULL;
  }
  *n = (size_t)len;
  const char *s = (const char *)cq_read_raw(r, *n);
  if (!s) *n = 0;
  return s;
}

const uint8_t *cq_read_value(cq_reader *r, size_t *n, int *kind) {
  int32_t len = cq_read_i32(r);
  *n = 0;
  *kind = 0;
  if (r->err) return NULL;
  if (len < 0) {
    if (len == -1 || len == -2) {
      *kind = len;
    } else {
      cq_reader_fail(r, CQ_ERR_MALFORMED);
    }
    return NULL;
  }
  const uint8_t *p = cq_read_raw(r, (size_t)len);
  if (p) *n = (size_t)len;
  return p;
}

const uint8_t *cq_read_bytes(cq_reader *r, size_t *n) {
  int kind;
  const uint8_t *p = cq_read_value(r, n, &kind);
  if (kind == -2) cq_reader_fail(r, CQ_ERR_MALFORMED);
  if (kind != 0) *n = (size_t)-1;
  return p;
}

const uint8_t *cq_read_short_bytes(cq_reader *r, size_t *n) {
  *n = cq_read_u16(r);
  const uint8_t *p = cq_read_raw(r, *n);
  if (!p) *n = 0;
  return p;
}
