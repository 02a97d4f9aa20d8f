/* Byte buffers: a growable writer and a bounds-checked reader.
 *
 * Both carry a sticky error: after the first failure every further call is a
 * no-op, so encoders and decoders can run straight-line and check once at the
 * end. All multi-byte integers are big-endian (network order), as the CQL
 * protocol uses everywhere. */
#ifndef CQ_BUF_H
#define CQ_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Growable output buffer. Owns `data` (free with cq_buf_free). */
typedef struct cq_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
  int err; /* first failure (CQ_ERR_NOMEM / CQ_ERR_TOO_LARGE), 0 if none */
} cq_buf;

void cq_buf_init(cq_buf *b);
void cq_buf_free(cq_buf *b);
void cq_buf_reset(cq_buf *b); /* len = 0, err = 0; keeps the allocation */
/* Makes room for n more bytes; returns a pointer to them (or NULL on error). */
uint8_t *cq_buf_reserve(cq_buf *b, size_t n);
void cq_buf_put(cq_buf *b, const void *p, size_t n);
void cq_buf_put_u8(cq_buf *b, uint8_t v);
void cq_buf_put_u16(cq_buf *b, uint16_t v);
void cq_buf_put_u32(cq_buf *b, uint32_t v);
void cq_buf_put_u64(cq_buf *b, uint64_t v);
/* [string]: u16 length then bytes. Sets CQ_ERR_TOO_LARGE past 65535. */
void cq_buf_put_string(cq_buf *b, const char *s, size_t n);
/* [long string]: i32 length then bytes. */
void cq_buf_put_long_string(cq_buf *b, const char *s, size_t n);
/* [bytes]: i32 length then bytes; p == NULL writes length -1 (null). */
void cq_buf_put_bytes(cq_buf *b, const void *p, size_t n);
/* Overwrites 4 bytes at `at` (for lengths known only after the body). */
void cq_buf_patch_u32(cq_buf *b, size_t at, uint32_t v);

/* Bounds-checked reader over memory it does not own. */
typedef struct cq_reader {
  const uint8_t *p;
  size_t len;
  size_t pos;
  int err; /* first failure (CQ_ERR_TRUNCATED / CQ_ERR_MALFORMED), 0 if none */
} cq_reader;

void cq_reader_init(cq_reader *r, const void *p, size_t len);
static inline size_t cq_reader_left(const cq_reader *r) { return r->err ? 0 : r->len - r->pos; }
/* Returns a pointer to the next n bytes and advances, or NULL (and err). */
const uint8_t *cq_read_raw(cq_reader *r, size_t n);
uint8_t cq_read_u8(cq_reader *r);
uint16_t cq_read_u16(cq_reader *r);
uint32_t cq_read_u32(cq_reader *r);
uint64_t cq_read_u64(cq_reader *r);
static inline int32_t cq_read_i32(cq_reader *r) { return (int32_t)cq_read_u32(r); }
/* [string] / [long string]: returns a pointer into the input, length in *n. */
const char *cq_read_string(cq_reader *r, size_t *n);
const char *cq_read_long_string(cq_reader *r, size_t *n);
/* [bytes]: *n = length; returns NULL with *n == (size_t)-1 for a null value
 * (negative length). Lengths below -1 are only legal where [value] allows -2
 * (unset); use cq_read_value for that. */
const uint8_t *cq_read_bytes(cq_reader *r, size_t *n);
/* [value]: like [bytes] but reports -1 (null) and -2 (unset) through *kind:
 * 0 = present, -1 = null, -2 = unset. Any other negative length is malformed. */
const uint8_t *cq_read_value(cq_reader *r, size_t *n, int *kind);
/* [short bytes]: u16 length then bytes. */
const uint8_t *cq_read_short_bytes(cq_reader *r, size_t *n);
void cq_reader_fail(cq_reader *r, int err);

/* Big-endian load/store helpers for code that works on raw pointers. */
static inline uint16_t cq_load_u16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t cq_load_u32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t cq_load_u64(const uint8_t *p) {
  return ((uint64_t)cq_load_u32(p) << 32) | cq_load_u32(p + 4);
}
static inline void cq_store_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void cq_store_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static inline void cq_store_u64(uint8_t *p, uint64_t v) {
  cq_store_u32(p, (uint32_t)(v >> 32));
  cq_store_u32(p + 4, (uint32_t)v);
}

#endif
