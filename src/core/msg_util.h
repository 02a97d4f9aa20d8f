/* Internal helpers shared by msg_request.c and msg_response.c: a decoding
 * context with diagnostics, and readers/writers for the protocol's compound
 * notations (section 3). Not a public API.
 *
 * Ownership: readers return cq_str/cq_value/cq_bytes pointing into the
 * input and allocate arrays in the context's arena (owned by the caller). */
#ifndef CQ_MSG_UTIL_H
#define CQ_MSG_UTIL_H

#include <string.h>

#include "message.h"

/* Decoding state: the reader, where arrays go, where messages go, and the
 * message name used as the prefix of every diagnostic. status is the first
 * failure; once set, later failures keep the first message. */
typedef struct cq_dec {
  cq_reader r;
  cq_arena *a;
  cq_diag *d;
  int version;
  const char *ctx;
  int status;
} cq_dec;

/* Starts decoding len bytes of body; clears diag. */
void cq_dec_init(cq_dec *D, const uint8_t *body, size_t len, int version, cq_arena *a, cq_diag *d,
                 const char *ctx);
/* Records failure st with "<ctx>: <fmt...>" unless one is already recorded;
 * returns the recorded status. */
int cq_dec_fail(cq_dec *D, int st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Replaces the recorded message (keeps the status): lets a loop turn a
 * generic "truncated" into "count N but only K items". */
void cq_dec_reword(cq_dec *D, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* If the reader failed, records "<status> reading <what> at byte N". Returns
 * the recorded status (0 when all is well). */
int cq_dec_check(cq_dec *D, const char *what);

#define CQ_TRY(x)                                                                                  \
  do {                                                                                             \
    int cq_try_rc_ = (x);                                                                          \
    if (cq_try_rc_ < 0) return cq_try_rc_;                                                         \
  } while (0)

/* Each reader returns CQ_OK or the recorded failure status. */
int cq_dec_u8(cq_dec *D, uint8_t *out, const char *what);
int cq_dec_u16_slow(cq_dec *D, uint16_t *out, const char *what);
int cq_dec_i32_slow(cq_dec *D, int32_t *out, const char *what);
int cq_dec_i64(cq_dec *D, int64_t *out, const char *what);
int cq_dec_string_slow(cq_dec *D, cq_str *out, const char *what);

/* Inline fast paths for the fields metadata is made of (the slow versions
 * handle failure and diagnostics); metadata decoding is mostly these. */
static inline int cq_dec_u16(cq_dec *D, uint16_t *out, const char *what) {
  cq_reader *r = &D->r;
  if (!r->err && r->len - r->pos >= 2) {
    *out = cq_load_u16(r->p + r->pos);
    r->pos += 2;
    return CQ_OK;
  }
  return cq_dec_u16_slow(D, out, what);
}
static inline int cq_dec_i32(cq_dec *D, int32_t *out, const char *what) {
  cq_reader *r = &D->r;
  if (!r->err && r->len - r->pos >= 4) {
    *out = (int32_t)cq_load_u32(r->p + r->pos);
    r->pos += 4;
    return CQ_OK;
  }
  return cq_dec_i32_slow(D, out, what);
}
static inline int cq_dec_string(cq_dec *D, cq_str *out, const char *what) {
  cq_reader *r = &D->r;
  if (!r->err && r->len - r->pos >= 2) {
    size_t n = cq_load_u16(r->p + r->pos);
    if (r->len - r->pos - 2 >= n) {
      out->p = (const char *)r->p + r->pos + 2;
      out->len = n;
      r->pos += 2 + n;
      return CQ_OK;
    }
  }
  return cq_dec_string_slow(D, out, what);
}
int cq_dec_long_string(cq_dec *D, cq_str *out, const char *what);
int cq_dec_short_bytes(cq_dec *D, cq_bytes *out, const char *what);
/* [bytes] (allow_unset 0) or [value] (allow_unset 1). */
int cq_dec_value(cq_dec *D, cq_value *out, int allow_unset, const char *what);
int cq_dec_string_list(cq_dec *D, const cq_str **out, uint16_t *n, const char *what);
int cq_dec_string_map(cq_dec *D, const cq_str_pair **out, uint16_t *n, const char *what);
int cq_dec_string_multimap(cq_dec *D, const cq_multimap_entry **out, uint16_t *n, const char *what);
int cq_dec_bytes_map(cq_dec *D, const cq_payload_entry **out, uint16_t *n, const char *what);
int cq_dec_inetaddr(cq_dec *D, cq_inetaddr *out, const char *what);
int cq_dec_inet(cq_dec *D, cq_inet *out, const char *what);
/* A [short] n then n ([string] name if named) [value]; unset needs v4+. */
int cq_dec_values(cq_dec *D, int named, uint16_t *n, const cq_value **values, const cq_str **names,
                  const char *what);
/* Allocates count*size zeroed bytes in the arena, failing cleanly when the
 * remaining input cannot hold count items of at least min_wire bytes each. */
void *cq_dec_array(cq_dec *D, size_t count, size_t size, size_t min_wire, const char *what);

/* Inline appenders: the same bytes and sticky errors as cq_buf_put_*, but
 * with the common "it fits" case inlined, since encoders write many tiny
 * fields and a call per field dominated the QUERY/EXECUTE encode time. */
static inline void cq_w_raw(cq_buf *b, const void *p, size_t n) {
  if (!b->err && b->cap - b->len >= n) {
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
  } else {
    cq_buf_put(b, p, n);
  }
}
static inline void cq_w_u8(cq_buf *b, uint8_t v) {
  if (!b->err && b->cap - b->len >= 1)
    b->data[b->len++] = v;
  else
    cq_buf_put_u8(b, v);
}
static inline void cq_w_u16(cq_buf *b, uint16_t v) {
  if (!b->err && b->cap - b->len >= 2) {
    cq_store_u16(b->data + b->len, v);
    b->len += 2;
  } else {
    cq_buf_put_u16(b, v);
  }
}
static inline void cq_w_u32(cq_buf *b, uint32_t v) {
  if (!b->err && b->cap - b->len >= 4) {
    cq_store_u32(b->data + b->len, v);
    b->len += 4;
  } else {
    cq_buf_put_u32(b, v);
  }
}
static inline void cq_w_u64(cq_buf *b, uint64_t v) {
  if (!b->err && b->cap - b->len >= 8) {
    cq_store_u64(b->data + b->len, v);
    b->len += 8;
  } else {
    cq_buf_put_u64(b, v);
  }
}

/* Writers: append to b; failures stay in b->err (sticky). */
void cq_put_str(cq_buf *b, cq_str s);
void cq_put_long_str(cq_buf *b, cq_str s);
void cq_put_short_bytes(cq_buf *b, cq_bytes s);
/* Writes a [value]/[bytes]; returns CQ_ERR_INVALID for len < -2. */
int cq_put_value(cq_buf *b, cq_value v);
void cq_put_string_list(cq_buf *b, const cq_str *v, uint16_t n);
void cq_put_bytes_map(cq_buf *b, const cq_payload_entry *v, uint16_t n);
/* [inetaddr]; CQ_ERR_INVALID unless len is 4 or 16. */
int cq_put_inetaddr(cq_buf *b, const cq_inetaddr *a);

/* Equality helpers for tests and fuzzers. */
int cq_str_eq(cq_str a, cq_str b);
int cq_bytes_eq(cq_bytes a, cq_bytes b);
int cq_value_eq(cq_value a, cq_value b);

#endif
