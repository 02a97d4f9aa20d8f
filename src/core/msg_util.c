#include "msg_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cq_dec_init(cq_dec *D, const uint8_t *body, size_t len, int version, cq_arena *a, cq_diag *d,
                 const char *ctx) {
  /* An empty body may come as NULL; the reader only needs a valid base. */
  static const uint8_t empty[1] = {0};
  cq_reader_init(&D->r, body ? body : empty, body ? len : 0);
  D->a = a;
  D->d = d;
  D->version = version;
  D->ctx = ctx;
  D->status = 0;
  if (d) d->msg[0] = '\0';
}

static void dec_vformat(cq_dec *D, const char *fmt, va_list ap) {
  if (!D->d) return;
  int n = snprintf(D->d->msg, sizeof D->d->msg, "%s: ", D->ctx ? D->ctx : "message");
  if (n < 0) n = 0;
  if ((size_t)n < sizeof D->d->msg) vsnprintf(D->d->msg + n, sizeof D->d->msg - (size_t)n, fmt, ap);
}

int cq_dec_fail(cq_dec *D, int st, const char *fmt, ...) {
  if (D->status) return D->status;
  D->status = st;
  cq_reader_fail(&D->r, st);
  va_list ap;
  va_start(ap, fmt);
  dec_vformat(D, fmt, ap);
  va_end(ap);
  return st;
}

void cq_dec_reword(cq_dec *D, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  dec_vformat(D, fmt, ap);
  va_end(ap);
}

int cq_dec_check(cq_dec *D, const char *what) {
  if (D->status) return D->status;
  if (!D->r.err) return 0;
  const char *why = D->r.err == CQ_ERR_TRUNCATED   ? "truncated"
                    : D->r.err == CQ_ERR_MALFORMED ? "malformed"
                                                   : cq_status_name(D->r.err);
  return cq_dec_fail(D, D->r.err, "%s reading %s at byte %zu", why, what, D->r.pos);
}

int cq_dec_u8(cq_dec *D, uint8_t *out, const char *what) {
  *out = cq_read_u8(&D->r);
  return cq_dec_check(D, what);
}

int cq_dec_u16_slow(cq_dec *D, uint16_t *out, const char *what) {
  *out = cq_read_u16(&D->r);
  return cq_dec_check(D, what);
}

int cq_dec_i32_slow(cq_dec *D, int32_t *out, const char *what) {
  *out = cq_read_i32(&D->r);
  return cq_dec_check(D, what);
}

int cq_dec_i64(cq_dec *D, int64_t *out, const char *what) {
  *out = (int64_t)cq_read_u64(&D->r);
  return cq_dec_check(D, what);
}

int cq_dec_string_slow(cq_dec *D, cq_str *out, const char *what) {
  out->p = cq_read_string(&D->r, &out->len);
  return cq_dec_check(D, what);
}

int cq_dec_long_string(cq_dec *D, cq_str *out, const char *what) {
  out->p = cq_read_long_string(&D->r, &out->len);
  return cq_dec_check(D, what);
}

int cq_dec_short_bytes(cq_dec *D, cq_bytes *out, const char *what) {
  out->p = cq_read_short_bytes(&D->r, &out->len);
  return cq_dec_check(D, what);
}

int cq_dec_value(cq_dec *D, cq_value *out, int allow_unset, const char *what) {
  size_t n;
  int kind;
  size_t at = D->r.pos;
  out->p = cq_read_value(&D->r, &n, &kind);
  CQ_TRY(cq_dec_check(D, what));
  if (kind == -2 && !allow_unset)
    return cq_dec_fail(D, CQ_ERR_MALFORMED, "%s at byte %zu is 'unset', not allowed here", what,
                       at);
  out->len = kind ? kind : (int32_t)n;
  return CQ_OK;
}

void *cq_dec_array(cq_dec *D, size_t count, size_t size, size_t min_wire, const char *what) {
  size_t left = cq_reader_left(&D->r);
  if (min_wire && count > left / min_wire) {
    cq_dec_fail(D, CQ_ERR_TRUNCATED, "%s count %zu but only %zu bytes left", what, count, left);
    return NULL;
  }
  void *p = cq_arena_calloc(D->a, count ? count : 1, size);
  if (!p) cq_dec_fail(D, CQ_ERR_NOMEM, "out of memory for %zu %s", count, what);
  return p;
}

int cq_dec_string_list(cq_dec *D, const cq_str **out, uint16_t *n, const char *what) {
  *out = NULL;
  CQ_TRY(cq_dec_u16(D, n, what));
  cq_str *v = cq_dec_array(D, *n, sizeof *v, 2, what);
  if (!v) return D->status;
  for (uint16_t i = 0; i < *n; i++)
    CQ_TRY(cq_dec_string(D, &v[i], what));
  *out = v;
  return CQ_OK;
}

int cq_dec_string_map(cq_dec *D, const cq_str_pair **out, uint16_t *n, const char *what) {
  *out = NULL;
  CQ_TRY(cq_dec_u16(D, n, what));
  cq_str_pair *v = cq_dec_array(D, *n, sizeof *v, 4, what);
  if (!v) return D->status;
  for (uint16_t i = 0; i < *n; i++) {
    CQ_TRY(cq_dec_string(D, &v[i].key, what));
    CQ_TRY(cq_dec_string(D, &v[i].value, what));
  }
  *out = v;
  return CQ_OK;
}

int cq_dec_string_multimap(cq_dec *D, const cq_multimap_entry **out, uint16_t *n,
                           const char *what) {
  *out = NULL;
  CQ_TRY(cq_dec_u16(D, n, what));
  cq_multimap_entry *v = cq_dec_array(D, *n, sizeof *v, 4, what);
  if (!v) return D->status;
  for (uint16_t i = 0; i < *n; i++) {
    CQ_TRY(cq_dec_string(D, &v[i].key, what));
    CQ_TRY(cq_dec_string_list(D, &v[i].values, &v[i].nvalues, what));
  }
  *out = v;
  return CQ_OK;
}

int cq_dec_bytes_map(cq_dec *D, const cq_payload_entry **out, uint16_t *n, const char *what) {
  *out = NULL;
  CQ_TRY(cq_dec_u16(D, n, what));
  cq_payload_entry *v = cq_dec_array(D, *n, sizeof *v, 6, what);
  if (!v) return D->status;
  for (uint16_t i = 0; i < *n; i++) {
    CQ_TRY(cq_dec_string(D, &v[i].key, what));
    CQ_TRY(cq_dec_value(D, &v[i].value, 0, what));
  }
  *out = v;
  return CQ_OK;
}

int cq_dec_inetaddr(cq_dec *D, cq_inetaddr *out, const char *what) {
  memset(out, 0, sizeof *out);
  CQ_TRY(cq_dec_u8(D, &out->len, what));
  if (out->len != 4 && out->len != 16)
    return cq_dec_fail(D, CQ_ERR_MALFORMED, "%s address size %u (must be 4 or 16)", what,
                       (unsigned)out->len);
  const uint8_t *p = cq_read_raw(&D->r, out->len);
  CQ_TRY(cq_dec_check(D, what));
  memcpy(out->addr, p, out->len);
  return CQ_OK;
}

int cq_dec_inet(cq_dec *D, cq_inet *out, const char *what) {
  CQ_TRY(cq_dec_inetaddr(D, &out->addr, what));
  return cq_dec_i32(D, &out->port, what);
}

int cq_dec_values(cq_dec *D, int named, uint16_t *n, const cq_value **values, const cq_str **names,
                  const char *what) {
  *values = NULL;
  *names = NULL;
  CQ_TRY(cq_dec_u16(D, n, what));
  cq_value *v = cq_dec_array(D, *n, sizeof *v, named ? 6 : 4, what);
  if (!v) return D->status;
  cq_str *nm = NULL;
  if (named) {
    nm = cq_dec_array(D, *n, sizeof *nm, 0, what);
    if (!nm) return D->status;
  }
  for (uint16_t i = 0; i < *n; i++) {
    if (named) CQ_TRY(cq_dec_string(D, &nm[i], what));
    size_t at = D->r.pos;
    CQ_TRY(cq_dec_value(D, &v[i], 1, what));
    if (v[i].len == CQ_VALUE_UNSET && D->version < CQ_PROTOCOL_V4)
      return cq_dec_fail(D, CQ_ERR_MALFORMED, "%s %u at byte %zu is 'unset', which needs v4+", what,
                         (unsigned)i, at);
  }
  *values = v;
  *names = nm;
  return CQ_OK;
}

void cq_put_str(cq_buf *b, cq_str s) {
  if (s.len > 0xFFFF) {
    if (!b->err) b->err = CQ_ERR_TOO_LARGE;
    return;
  }
  cq_w_u16(b, (uint16_t)s.len);
  cq_w_raw(b, s.p ? s.p : "", s.len);
}

void cq_put_long_str(cq_buf *b, cq_str s) {
  if (s.len > INT32_MAX) {
    if (!b->err) b->err = CQ_ERR_TOO_LARGE;
    return;
  }
  cq_w_u32(b, (uint32_t)s.len);
  cq_w_raw(b, s.p ? s.p : "", s.len);
}

void cq_put_short_bytes(cq_buf *b, cq_bytes s) {
  if (s.len > 0xFFFF) {
    if (!b->err) b->err = CQ_ERR_TOO_LARGE;
    return;
  }
  cq_w_u16(b, (uint16_t)s.len);
  cq_w_raw(b, s.p ? (const void *)s.p : "", s.len);
}

int cq_put_value(cq_buf *b, cq_value v) {
  if (v.len < -2) return CQ_ERR_INVALID;
  if (v.len < 0) {
    cq_w_u32(b, (uint32_t)v.len);
  } else {
    cq_w_u32(b, (uint32_t)v.len);
    cq_w_raw(b, v.p ? (const void *)v.p : "", (size_t)v.len);
  }
  return CQ_OK;
}

void cq_put_string_list(cq_buf *b, const cq_str *v, uint16_t n) {
  cq_w_u16(b, n);
  for (uint16_t i = 0; i < n; i++)
    cq_put_str(b, v[i]);
}

void cq_put_bytes_map(cq_buf *b, const cq_payload_entry *v, uint16_t n) {
  cq_w_u16(b, n);
  for (uint16_t i = 0; i < n; i++) {
    cq_put_str(b, v[i].key);
    /* A payload value is [bytes]: unset has no meaning, send it as null. */
    cq_value x = v[i].value;
    if (x.len < 0) x.len = CQ_VALUE_NULL;
    cq_put_value(b, x);
  }
}

int cq_put_inetaddr(cq_buf *b, const cq_inetaddr *a) {
  if (a->len != 4 && a->len != 16) return CQ_ERR_INVALID;
  cq_w_u8(b, a->len);
  cq_w_raw(b, a->addr, a->len);
  return CQ_OK;
}

int cq_str_eq(cq_str a, cq_str b) {
  if ((a.p == NULL) != (b.p == NULL)) return 0;
  return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

int cq_bytes_eq(cq_bytes a, cq_bytes b) {
  if ((a.p == NULL) != (b.p == NULL)) return 0;
  return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

int cq_value_eq(cq_value a, cq_value b) {
  if (a.len != b.len) return 0;
  return a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0;
}
