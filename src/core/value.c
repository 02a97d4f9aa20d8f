/* The value codec: decode/encode every CQL type to/from cq_cell trees. */
#include "value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "type_util.h"

/* Deeper type trees than this are refused, so hostile or cyclic trees can't
 * exhaust the stack. The type parsers cap nesting at the same depth. */
#define CQ_VALUE_MAX_DEPTH 64

#define TIME_MAX_NANOS 86399999999999LL

/* --- cell array ----------------------------------------------------- */

void cq_cells_init(cq_cells *c) { memset(c, 0, sizeof *c); }

void cq_cells_free(cq_cells *c) {
  free(c->v);
  memset(c, 0, sizeof *c);
}

void cq_cells_reset(cq_cells *c) { c->n = 0; }

int64_t cq_cells_push(cq_cells *c, size_t k) {
  if (k > (size_t)UINT32_MAX - c->n) return CQ_ERR_TOO_LARGE;
  if (c->n + k > c->cap) {
    size_t cap = c->cap ? c->cap : 64;
    while (cap < c->n + k)
      cap *= 2;
    cq_cell *v = realloc(c->v, cap * sizeof *v);
    if (!v) return CQ_ERR_NOMEM;
    c->v = v;
    c->cap = cap;
  }
  size_t first = c->n;
  if (k == 0) return (int64_t)first; /* c->v may still be NULL: no pointer arithmetic */
  memset(c->v + first, 0, k * sizeof *c->v);
  c->n += k;
  return (int64_t)first;
}

/* --- errors --------------------------------------------------------- */

/* --- vints ---------------------------------------------------------- */

size_t cq_uvint_put(uint8_t out[9], uint64_t v) {
  size_t n = 1;
  while (n < 9 && (n == 8 ? v >> 56 : v >> (7 * n)))
    n++;
  if (n == 9) {
    out[0] = 0xFF;
    cq_store_u64(out + 1, v);
    return 9;
  }
  for (size_t i = n; i-- > 0;) {
    out[i] = (uint8_t)v;
    v >>= 8;
  }
  out[0] |= (uint8_t) ~(0xFFu >> (n - 1));
  return n;
}

size_t cq_uvint_get(const uint8_t *p, size_t n, uint64_t *v) {
  if (n == 0) return 0;
  uint8_t b = p[0];
  size_t extra = 0;
  while (extra < 8 && (b & (0x80u >> extra)))
    extra++;
  if (extra + 1 > n) return 0;
  uint64_t x = extra == 8 ? 0 : (uint64_t)(b & (0xFFu >> (extra + 1)));
  for (size_t i = 1; i <= extra; i++)
    x = (x << 8) | p[i];
  *v = x;
  return extra + 1;
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* --- type helpers --------------------------------------------------- */

size_t cq_vector_elem_fixed_size(const cq_type *t) {
  switch (t->kind) {
  case CQ_TYPE_BOOLEAN: return 1;
  case CQ_TYPE_INT:
  case CQ_TYPE_FLOAT: return 4;
  case CQ_TYPE_BIGINT:
  case CQ_TYPE_DOUBLE:
  case CQ_TYPE_TIMESTAMP: return 8;
  case CQ_TYPE_UUID:
  case CQ_TYPE_TIMEUUID: return 16;
  case CQ_TYPE_VECTOR: {
    if (t->nsub != 1 || !t->sub || !t->sub[0]) return 0;
    size_t e = cq_vector_elem_fixed_size(t->sub[0]);
    if (e == 0 || t->dimension == 0 || e > SIZE_MAX / 2 / t->dimension) return 0;
    return e * t->dimension;
  }
  default: return 0;
  }
}

/* Nesting that the decoder/encoder need: list/set/vector 1 sub, map 2. */
static int shape_ok(const cq_type *t) {
  if (!t) return 0;
  switch (t->kind) {
  case CQ_TYPE_LIST:
  case CQ_TYPE_SET:
  case CQ_TYPE_VECTOR: return t->nsub == 1 && t->sub && t->sub[0];
  case CQ_TYPE_MAP: return t->nsub == 2 && t->sub && t->sub[0] && t->sub[1];
  case CQ_TYPE_TUPLE:
  case CQ_TYPE_UDT:
    if (t->nsub && !t->sub) return 0;
    for (size_t i = 0; i < t->nsub; i++)
      if (!t->sub[i]) return 0;
    return 1;
  default: return 1;
  }
}

/* --- float <-> double keeping NaN payloads ------------------------- */

/* The FPU conversion quiets signalling NaNs, which would change the bytes of
 * a float that merely passes through; NaNs are therefore moved by hand. */
static double float_bits_to_double(uint32_t u) {
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu)) {
    uint64_t b =
        ((uint64_t)(u >> 31) << 63) | ((uint64_t)0x7FF << 52) | ((uint64_t)(u & 0x007FFFFFu) << 29);
    double d;
    memcpy(&d, &b, 8);
    return d;
  }
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint32_t double_to_float_bits(double d) {
  uint64_t b;
  memcpy(&b, &d, 8);
  if ((b & 0x7FF0000000000000ull) == 0x7FF0000000000000ull && (b & 0x000FFFFFFFFFFFFFull)) {
    uint32_t m = (uint32_t)((b >> 29) & 0x007FFFFFu);
    if (!m) m = 0x00400000u; /* payload only in low bits: keep it a NaN */
    return ((uint32_t)(b >> 63) << 31) | 0x7F800000u | m;
  }
  float f = (float)d;
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* --- text validation ------------------------------------------------ */

static int utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    /* Fast path: 8 ASCII bytes at a time. */
    if (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      if (!(w & 0x8080808080808080ull)) {
        i += 8;
        continue;
      }
    }
    uint8_t c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      k = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      k = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      k = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (k > n - i - 1) return 0;
    for (size_t j = 1; j <= k; j++) {
      if ((p[i + j] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (p[i + j] & 0x3F);
    }
    if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += k + 1;
  }
  return 1;
}

static int ascii_valid(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] & 0x80) return 0;
  return 1;
}

/* --- decoding ------------------------------------------------------- */

typedef struct dec {
  cq_cells *c;
  const uint8_t *base;
  char *err;
  size_t errcap;
} dec;

#define TN(t) cq_type_kind_name((t)->kind)

static int dec_value(dec *d, size_t idx, const cq_type *t, size_t off, size_t len, int depth);

static int dec_fixed(dec *d, const cq_type *t, size_t len, size_t want) {
  if (len != want)
    return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED, "%s: expected %zu bytes, got %zu", TN(t),
                     want, len);
  return CQ_OK;
}

/* Reads an element [bytes] header at *pos within [off, end): sets *eoff,
 * *elen, *null. */
static int dec_elem_header(dec *d, const cq_type *t, size_t *pos, size_t end, size_t *elen,
                           int *null) {
  if (end - *pos < 4)
    return cq_errorf(d->err, d->errcap, CQ_ERR_TRUNCATED,
                     "%s: element length truncated at byte %zu", TN(t), *pos);
  int32_t l = (int32_t)cq_load_u32(d->base + *pos);
  *pos += 4;
  if (l < 0) {
    if (l != -1)
      return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED, "%s: invalid element length %d", TN(t),
                       (int)l);
    *null = 1;
    *elen = 0;
    return CQ_OK;
  }
  *null = 0;
  if ((size_t)l > end - *pos)
    return cq_errorf(d->err, d->errcap, CQ_ERR_TRUNCATED,
                     "%s: element length %d exceeds the %zu bytes left", TN(t), (int)l, end - *pos);
  *elen = (size_t)l;
  return CQ_OK;
}

static int dec_children(dec *d, size_t idx, size_t count, uint8_t kind, size_t *first) {
  int64_t f = cq_cells_push(d->c, count);
  if (f < 0) return cq_errorf(d->err, d->errcap, (int)f, "out of memory for %zu cells", count);
  cq_cell *c = &d->c->v[idx];
  c->kind = kind;
  c->off = (uint32_t)f;
  c->len = (uint32_t)count;
  *first = (size_t)f;
  return CQ_OK;
}

/* list, set, map: [int] n then n (or 2n) [bytes] elements. */
static int dec_collection(dec *d, size_t idx, const cq_type *t, size_t off, size_t len, int depth) {
  size_t end = off + len;
  if (len < 4)
    return cq_errorf(d->err, d->errcap, CQ_ERR_TRUNCATED, "%s: element count truncated", TN(t));
  int32_t n = (int32_t)cq_load_u32(d->base + off);
  if (n < 0)
    return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED, "%s: negative element count %d", TN(t),
                     (int)n);
  size_t per = t->kind == CQ_TYPE_MAP ? 2 : 1;
  size_t count = (size_t)n * per;
  /* Each element needs at least its 4-byte length: refuse counts that lie
   * before allocating anything for them. */
  if (count > (len - 4) / 4)
    return cq_errorf(d->err, d->errcap, CQ_ERR_TRUNCATED,
                     "%s: element count %d needs more than the %zu bytes left", TN(t), (int)n,
                     len - 4);
  size_t first = 0;
  uint8_t kind = t->kind == CQ_TYPE_LIST  ? CQ_CELL_LIST
                 : t->kind == CQ_TYPE_SET ? CQ_CELL_SET
                                          : CQ_CELL_MAP;
  int rc = dec_children(d, idx, count, kind, &first);
  if (rc < 0) return rc;
  size_t pos = off + 4;
  for (size_t i = 0; i < count; i++) {
    size_t elen = 0;
    int null = 0;
    if ((rc = dec_elem_header(d, t, &pos, end, &elen, &null)) < 0) return rc;
    if (!null) {
      const cq_type *st = t->sub[per == 2 ? (i & 1) : 0];
      if ((rc = dec_value(d, first + i, st, pos, elen, depth + 1)) < 0) return rc;
      pos += elen;
    }
  }
  if (pos != end)
    return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED, "%s: %zu bytes of trailing garbage",
                     TN(t), end - pos);
  return CQ_OK;
}

/* tuple, udt: [bytes] per element; trailing elements may be absent. */
static int dec_struct(dec *d, size_t idx, const cq_type *t, size_t off, size_t len, int depth) {
  if (t->kind == CQ_TYPE_UDT && t->nsub == 0)
    return cq_errorf(d->err, d->errcap, CQ_ERR_INVALID, "udt %s: unresolved user type (no fields)",
                     t->name ? t->name : "?");
  size_t end = off + len, pos = off, count = 0;
  /* First pass over the headers only, to size the child range exactly. */
  while (pos < end && count < t->nsub) {
    size_t elen = 0;
    int null = 0, rc;
    if ((rc = dec_elem_header(d, t, &pos, end, &elen, &null)) < 0) return rc;
    pos += elen;
    count++;
  }
  if (pos != end)
    return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED,
                     "%s: %zu bytes left after all %u elements", TN(t), end - pos,
                     (unsigned)t->nsub);
  size_t first = 0;
  int rc =
      dec_children(d, idx, count, t->kind == CQ_TYPE_UDT ? CQ_CELL_UDT : CQ_CELL_TUPLE, &first);
  if (rc < 0) return rc;
  pos = off;
  for (size_t i = 0; i < count; i++) {
    size_t elen = 0;
    int null = 0;
    dec_elem_header(d, t, &pos, end, &elen, &null); /* validated above */
    if (!null) {
      if ((rc = dec_value(d, first + i, t->sub[i], pos, elen, depth + 1)) < 0) return rc;
      pos += elen;
    }
  }
  return CQ_OK;
}

static int dec_vector(dec *d, size_t idx, const cq_type *t, size_t off, size_t len, int depth) {
  size_t dim = t->dimension, end = off + len;
  const cq_type *et = t->sub[0];
  size_t fixed = cq_vector_elem_fixed_size(et);
  if (fixed) {
    if (dim > len / fixed || dim * fixed != len)
      return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED,
                       "vector<%s, %zu>: expected %zu-byte elements, got %zu bytes", TN(et), dim,
                       fixed, len);
  } else if (dim > len) {
    /* Every variable element needs at least a one-byte length. */
    return cq_errorf(d->err, d->errcap, CQ_ERR_TRUNCATED,
                     "vector<%s, %zu>: %zu bytes cannot hold %zu elements", TN(et), dim, len, dim);
  }
  size_t first = 0;
  int rc = dec_children(d, idx, dim, CQ_CELL_VECTOR, &first);
  if (rc < 0) return rc;
  size_t pos = off;
  for (size_t i = 0; i < dim; i++) {
    size_t elen = fixed;
    if (!fixed) {
      uint64_t v;
      size_t k = cq_uvint_get(d->base + pos, end - pos, &v);
      if (k == 0)
        return cq_errorf(d->err, d->errcap, CQ_ERR_TRUNCATED,
                         "vector: element %zu length truncated", i);
      pos += k;
      if (v > end - pos)
        return cq_errorf(d->err, d->errcap, CQ_ERR_TRUNCATED,
                         "vector: element %zu length %llu exceeds the %zu bytes left", i,
                         (unsigned long long)v, end - pos);
      elen = (size_t)v;
    }
    if ((rc = dec_value(d, first + i, et, pos, elen, depth + 1)) < 0) return rc;
    pos += elen;
  }
  if (pos != end)
    return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED, "vector: %zu bytes of trailing garbage",
                     end - pos);
  return CQ_OK;
}

static int dec_duration(dec *d, cq_cell *c, const uint8_t *p, size_t len) {
  int64_t f[3];
  size_t pos = 0;
  for (int i = 0; i < 3; i++) {
    uint64_t v;
    size_t k = cq_uvint_get(p + pos, len - pos, &v);
    if (k == 0) return cq_errorf(d->err, d->errcap, CQ_ERR_TRUNCATED, "duration: truncated vint");
    pos += k;
    f[i] = unzigzag(v);
  }
  if (pos != len)
    return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED, "duration: %zu bytes of trailing garbage",
                     len - pos);
  if (f[0] < INT32_MIN || f[0] > INT32_MAX || f[1] < INT32_MIN || f[1] > INT32_MAX)
    return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED,
                     "duration: months or days out of 32-bit range");
  if ((f[0] < 0 || f[1] < 0 || f[2] < 0) && (f[0] > 0 || f[1] > 0 || f[2] > 0))
    return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED,
                     "duration: months, days and nanoseconds must share one sign");
  c->kind = CQ_CELL_DURATION;
  c->a = (int32_t)f[0];
  c->b = (int32_t)f[1];
  c->i = f[2];
  return CQ_OK;
}

static int dec_value(dec *d, size_t idx, const cq_type *t, size_t off, size_t len, int depth) {
  if (depth > CQ_VALUE_MAX_DEPTH)
    return cq_errorf(d->err, d->errcap, CQ_ERR_TOO_LARGE, "type nested deeper than %d",
                     CQ_VALUE_MAX_DEPTH);
  if (!shape_ok(t))
    return cq_errorf(d->err, d->errcap, CQ_ERR_INVALID, "%s: malformed type description",
                     t ? TN(t) : "(null)");
  if (off > UINT32_MAX || len > UINT32_MAX - off)
    return cq_errorf(d->err, d->errcap, CQ_ERR_TOO_LARGE, "%s: value beyond 4 GiB", TN(t));
  const uint8_t *p = d->base + off;
  cq_cell *c = &d->c->v[idx];
  int rc;
  switch (t->kind) {
  case CQ_TYPE_VARCHAR:
    if (!utf8_valid(p, len))
      return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED, "text: invalid UTF-8");
    goto bytes;
  case CQ_TYPE_ASCII:
    if (!ascii_valid(p, len))
      return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED, "ascii: byte outside 0..127");
    goto bytes;
  case CQ_TYPE_BLOB:
  case CQ_TYPE_CUSTOM:
  bytes:
    c->kind = CQ_CELL_BYTES;
    c->off = (uint32_t)off;
    c->len = (uint32_t)len;
    return CQ_OK;
  default: break;
  }
  if (len == 0) {
    /* Legacy "empty" values: distinct from null, legal for these types. */
    c->kind = CQ_CELL_EMPTY;
    return CQ_OK;
  }
  switch (t->kind) {
  case CQ_TYPE_BIGINT:
  case CQ_TYPE_COUNTER:
    if ((rc = dec_fixed(d, t, len, 8)) < 0) return rc;
    c->kind = CQ_CELL_INT;
    c->i = (int64_t)cq_load_u64(p);
    return CQ_OK;
  case CQ_TYPE_INT:
    if ((rc = dec_fixed(d, t, len, 4)) < 0) return rc;
    c->kind = CQ_CELL_INT;
    c->i = (int32_t)cq_load_u32(p);
    return CQ_OK;
  case CQ_TYPE_SMALLINT:
    if ((rc = dec_fixed(d, t, len, 2)) < 0) return rc;
    c->kind = CQ_CELL_INT;
    c->i = (int16_t)cq_load_u16(p);
    return CQ_OK;
  case CQ_TYPE_TINYINT:
    if ((rc = dec_fixed(d, t, len, 1)) < 0) return rc;
    c->kind = CQ_CELL_INT;
    c->i = (int8_t)p[0];
    return CQ_OK;
  case CQ_TYPE_BOOLEAN:
    if ((rc = dec_fixed(d, t, len, 1)) < 0) return rc;
    c->kind = CQ_CELL_BOOL;
    c->i = p[0] != 0;
    return CQ_OK;
  case CQ_TYPE_DOUBLE: {
    if ((rc = dec_fixed(d, t, len, 8)) < 0) return rc;
    uint64_t u = cq_load_u64(p);
    c->kind = CQ_CELL_DOUBLE;
    memcpy(&c->d, &u, 8);
    return CQ_OK;
  }
  case CQ_TYPE_FLOAT: {
    if ((rc = dec_fixed(d, t, len, 4)) < 0) return rc;
    c->kind = CQ_CELL_DOUBLE;
    c->d = float_bits_to_double(cq_load_u32(p));
    return CQ_OK;
  }
  case CQ_TYPE_TIMESTAMP:
    if ((rc = dec_fixed(d, t, len, 8)) < 0) return rc;
    c->kind = CQ_CELL_TIMESTAMP;
    c->i = (int64_t)cq_load_u64(p);
    return CQ_OK;
  case CQ_TYPE_DATE:
    if ((rc = dec_fixed(d, t, len, 4)) < 0) return rc;
    c->kind = CQ_CELL_DATE;
    c->i = (int64_t)cq_load_u32(p) - ((int64_t)1 << 31);
    return CQ_OK;
  case CQ_TYPE_TIME: {
    if ((rc = dec_fixed(d, t, len, 8)) < 0) return rc;
    int64_t v = (int64_t)cq_load_u64(p);
    if (v < 0 || v > TIME_MAX_NANOS)
      return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED,
                       "time: %lld nanoseconds is outside 0..86399999999999", (long long)v);
    c->kind = CQ_CELL_TIME;
    c->i = v;
    return CQ_OK;
  }
  case CQ_TYPE_UUID:
  case CQ_TYPE_TIMEUUID:
    if ((rc = dec_fixed(d, t, len, 16)) < 0) return rc;
    if (t->kind == CQ_TYPE_TIMEUUID && (p[6] >> 4) != 1)
      return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED, "timeuuid: version %d, expected 1",
                       p[6] >> 4);
    goto bytes;
  case CQ_TYPE_INET:
    if (len != 4 && len != 16)
      return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED, "inet: expected 4 or 16 bytes, got %zu",
                       len);
    goto bytes;
  case CQ_TYPE_VARINT: {
    int64_t v;
    c->kind = CQ_CELL_BYTES;
    c->off = (uint32_t)off;
    c->len = (uint32_t)len;
    if (cq_varint_to_i64(p, len, &v) == CQ_OK) {
      c->flags = CQ_CELL_FLAG_I64;
      c->i = v;
    }
    return CQ_OK;
  }
  case CQ_TYPE_DECIMAL:
    if (len < 5)
      return cq_errorf(d->err, d->errcap, CQ_ERR_MALFORMED,
                       "decimal: expected a 4-byte scale and at least 1 byte, got %zu bytes", len);
    c->kind = CQ_CELL_DECIMAL;
    c->a = (int32_t)cq_load_u32(p);
    c->off = (uint32_t)(off + 4);
    c->len = (uint32_t)(len - 4);
    return CQ_OK;
  case CQ_TYPE_DURATION: return dec_duration(d, c, p, len);
  case CQ_TYPE_LIST:
  case CQ_TYPE_SET:
  case CQ_TYPE_MAP: return dec_collection(d, idx, t, off, len, depth);
  case CQ_TYPE_TUPLE:
  case CQ_TYPE_UDT: return dec_struct(d, idx, t, off, len, depth);
  case CQ_TYPE_VECTOR: return dec_vector(d, idx, t, off, len, depth);
  default:
    return cq_errorf(d->err, d->errcap, CQ_ERR_UNSUPPORTED, "unknown type kind 0x%04x",
                     (unsigned)t->kind);
  }
}

int cq_value_decode_at(cq_cells *cells, size_t idx, const cq_type *t, const uint8_t *base,
                       size_t off, size_t len, char *err, size_t errcap) {
  if (idx >= cells->n) return cq_errorf(err, errcap, CQ_ERR_INVALID, "cell index out of range");
  if (!base) {
    /* Only an empty value may come without bytes; NULL + 0 is still UB. */
    static const uint8_t none[1] = {0};
    if (off || len) return cq_errorf(err, errcap, CQ_ERR_INVALID, "no source bytes");
    base = none;
  }
  dec d = {cells, base, err, errcap};
  return dec_value(&d, idx, t, off, len, 0);
}

int cq_value_decode(cq_cells *cells, const cq_type *t, const uint8_t *p, int64_t len, size_t *root,
                    char *err, size_t errcap) {
  int64_t r = cq_cells_push(cells, 1);
  if (r < 0) return cq_errorf(err, errcap, (int)r, "out of memory");
  *root = (size_t)r;
  if (len < 0) return CQ_OK; /* null */
  return cq_value_decode_at(cells, (size_t)r, t, p, 0, (size_t)len, err, errcap);
}

/* --- encoding ------------------------------------------------------- */

typedef struct enc {
  cq_buf *out;
  const cq_cell *cells;
  size_t ncells;
  const uint8_t *bytes;
  size_t bytes_len;
  char *err;
  size_t errcap;
} enc;

static const char *cell_kind_name(unsigned k) {
  static const char *const names[] = {"null", "unset", "empty",     "integer",  "double", "boolean",
                                      "date", "time",  "timestamp", "duration", "bytes",  "decimal",
                                      "list", "set",   "map",       "tuple",    "udt",    "vector"};
  return k < sizeof names / sizeof names[0] ? names[k] : "invalid";
}

static int mismatch(enc *e, const cq_type *t, const cq_cell *c, const char *want) {
  return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "%s: expected %s, got %s", TN(t), want,
                   cell_kind_name(c->kind));
}

static int enc_body(enc *e, const cq_type *t, size_t idx, int depth);

/* Byte range of a byte-like cell, bounds-checked against the caller's buffer. */
static int cell_bytes(enc *e, const cq_type *t, const cq_cell *c, const uint8_t **p) {
  if (c->off > e->bytes_len || c->len > e->bytes_len - c->off)
    return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID,
                     "%s: byte range %u+%u is outside the %zu-byte buffer", TN(t), (unsigned)c->off,
                     (unsigned)c->len, e->bytes_len);
  *p = e->bytes ? e->bytes + c->off : (const uint8_t *)"";
  return CQ_OK;
}

static int int_range(enc *e, const cq_type *t, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi)
    return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "%s: %lld is out of range %lld..%lld",
                     TN(t), (long long)v, (long long)lo, (long long)hi);
  return CQ_OK;
}

/* Writes element idx as [bytes] (i32 length + body, or -1 for null). */
static int enc_elem(enc *e, const cq_type *t, size_t idx, int depth) {
  if (idx >= e->ncells)
    return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "%s: child cell %zu out of range", TN(t),
                     idx);
  const cq_cell *c = &e->cells[idx];
  if (c->kind == CQ_CELL_NULL) {
    cq_buf_put_u32(e->out, 0xFFFFFFFFu);
    return CQ_OK;
  }
  if (c->kind == CQ_CELL_UNSET)
    return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "%s: unset is only legal at the top level",
                     TN(t));
  size_t at = e->out->len;
  cq_buf_put_u32(e->out, 0);
  int rc = enc_body(e, t, idx, depth);
  if (rc < 0) return rc;
  if (e->out->err) return cq_errorf(e->err, e->errcap, e->out->err, "output buffer failure");
  size_t n = e->out->len - at - 4;
  if (n > INT32_MAX)
    return cq_errorf(e->err, e->errcap, CQ_ERR_TOO_LARGE, "%s: element over 2 GiB", TN(t));
  cq_buf_patch_u32(e->out, at, (uint32_t)n);
  return CQ_OK;
}

static int children(enc *e, const cq_type *t, const cq_cell *c) {
  if (c->off > e->ncells || c->len > e->ncells - c->off)
    return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "%s: child range %u+%u outside %zu cells",
                     TN(t), (unsigned)c->off, (unsigned)c->len, e->ncells);
  return CQ_OK;
}

static int enc_vector(enc *e, const cq_type *t, const cq_cell *c, int depth) {
  int rc;
  if ((rc = children(e, t, c)) < 0) return rc;
  if (c->len != t->dimension)
    return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "vector: expected %u elements, got %u",
                     (unsigned)t->dimension, (unsigned)c->len);
  const cq_type *et = t->sub[0];
  size_t fixed = cq_vector_elem_fixed_size(et);
  size_t first = c->off, n = c->len;
  for (size_t i = 0; i < n; i++) {
    const cq_cell *ec = &e->cells[first + i];
    if (ec->kind == CQ_CELL_NULL || ec->kind == CQ_CELL_UNSET ||
        (fixed && ec->kind == CQ_CELL_EMPTY))
      return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "vector: element %zu may not be %s", i,
                       cell_kind_name(ec->kind));
    size_t at = e->out->len;
    if ((rc = enc_body(e, et, first + i, depth + 1)) < 0) return rc;
    if (e->out->err) return cq_errorf(e->err, e->errcap, e->out->err, "output buffer failure");
    size_t len = e->out->len - at;
    if (fixed) {
      if (len != fixed)
        return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID,
                         "vector: element %zu is %zu bytes, not %zu", i, len, fixed);
      continue;
    }
    /* Variable elements are prefixed by an unsigned vint length known only
     * now: make room and slide the body up. */
    uint8_t v[9];
    size_t k = cq_uvint_put(v, len);
    if (!cq_buf_reserve(e->out, k))
      return cq_errorf(e->err, e->errcap, e->out->err, "output buffer failure");
    memmove(e->out->data + at + k, e->out->data + at, len);
    memcpy(e->out->data + at, v, k);
    e->out->len += k;
  }
  return CQ_OK;
}

static int enc_body(enc *e, const cq_type *t, size_t idx, int depth) {
  if (depth > CQ_VALUE_MAX_DEPTH)
    return cq_errorf(e->err, e->errcap, CQ_ERR_TOO_LARGE, "type nested deeper than %d",
                     CQ_VALUE_MAX_DEPTH);
  if (!shape_ok(t))
    return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "%s: malformed type description",
                     t ? TN(t) : "(null)");
  if (idx >= e->ncells)
    return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "%s: cell %zu out of range", TN(t), idx);
  const cq_cell *c = &e->cells[idx];
  cq_buf *o = e->out;
  const uint8_t *p = NULL;
  int rc;
  if (c->kind == CQ_CELL_EMPTY) return CQ_OK; /* zero-length body */
  if (c->kind == CQ_CELL_NULL || c->kind == CQ_CELL_UNSET)
    return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "%s: a %s has no body", TN(t),
                     cell_kind_name(c->kind));
  switch (t->kind) {
  case CQ_TYPE_BIGINT:
  case CQ_TYPE_COUNTER:
    if (c->kind != CQ_CELL_INT) return mismatch(e, t, c, "integer");
    cq_buf_put_u64(o, (uint64_t)c->i);
    break;
  case CQ_TYPE_INT:
    if (c->kind != CQ_CELL_INT) return mismatch(e, t, c, "integer");
    if ((rc = int_range(e, t, c->i, INT32_MIN, INT32_MAX)) < 0) return rc;
    cq_buf_put_u32(o, (uint32_t)c->i);
    break;
  case CQ_TYPE_SMALLINT:
    if (c->kind != CQ_CELL_INT) return mismatch(e, t, c, "integer");
    if ((rc = int_range(e, t, c->i, INT16_MIN, INT16_MAX)) < 0) return rc;
    cq_buf_put_u16(o, (uint16_t)c->i);
    break;
  case CQ_TYPE_TINYINT:
    if (c->kind != CQ_CELL_INT) return mismatch(e, t, c, "integer");
    if ((rc = int_range(e, t, c->i, INT8_MIN, INT8_MAX)) < 0) return rc;
    cq_buf_put_u8(o, (uint8_t)c->i);
    break;
  case CQ_TYPE_BOOLEAN:
    if (c->kind != CQ_CELL_BOOL) return mismatch(e, t, c, "boolean");
    cq_buf_put_u8(o, c->i ? 1 : 0);
    break;
  case CQ_TYPE_DOUBLE: {
    if (c->kind != CQ_CELL_DOUBLE) return mismatch(e, t, c, "double");
    uint64_t u;
    memcpy(&u, &c->d, 8);
    cq_buf_put_u64(o, u);
    break;
  }
  case CQ_TYPE_FLOAT: {
    if (c->kind != CQ_CELL_DOUBLE) return mismatch(e, t, c, "double");
    cq_buf_put_u32(o, double_to_float_bits(c->d));
    break;
  }
  case CQ_TYPE_TIMESTAMP:
    if (c->kind != CQ_CELL_TIMESTAMP && c->kind != CQ_CELL_INT)
      return mismatch(e, t, c, "timestamp");
    cq_buf_put_u64(o, (uint64_t)c->i);
    break;
  case CQ_TYPE_DATE:
    if (c->kind != CQ_CELL_DATE && c->kind != CQ_CELL_INT) return mismatch(e, t, c, "date");
    if ((rc = int_range(e, t, c->i, -((int64_t)1 << 31), ((int64_t)1 << 31) - 1)) < 0) return rc;
    cq_buf_put_u32(o, (uint32_t)(c->i + ((int64_t)1 << 31)));
    break;
  case CQ_TYPE_TIME:
    if (c->kind != CQ_CELL_TIME && c->kind != CQ_CELL_INT) return mismatch(e, t, c, "time");
    if ((rc = int_range(e, t, c->i, 0, TIME_MAX_NANOS)) < 0) return rc;
    cq_buf_put_u64(o, (uint64_t)c->i);
    break;
  case CQ_TYPE_DURATION: {
    if (c->kind != CQ_CELL_DURATION) return mismatch(e, t, c, "duration");
    if ((c->a < 0 || c->b < 0 || c->i < 0) && (c->a > 0 || c->b > 0 || c->i > 0))
      return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID,
                       "duration: months, days and nanoseconds must share one sign");
    uint8_t v[27];
    size_t k = cq_uvint_put(v, zigzag(c->a));
    k += cq_uvint_put(v + k, zigzag(c->b));
    k += cq_uvint_put(v + k, zigzag(c->i));
    cq_buf_put(o, v, k);
    break;
  }
  case CQ_TYPE_VARCHAR:
  case CQ_TYPE_ASCII:
  case CQ_TYPE_BLOB:
  case CQ_TYPE_CUSTOM:
  case CQ_TYPE_UUID:
  case CQ_TYPE_TIMEUUID:
  case CQ_TYPE_INET:
    if (c->kind != CQ_CELL_BYTES) return mismatch(e, t, c, "bytes");
    if ((rc = cell_bytes(e, t, c, &p)) < 0) return rc;
    if (t->kind == CQ_TYPE_VARCHAR && !utf8_valid(p, c->len))
      return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "text: invalid UTF-8");
    if (t->kind == CQ_TYPE_ASCII && !ascii_valid(p, c->len))
      return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "ascii: byte outside 0..127");
    if ((t->kind == CQ_TYPE_UUID || t->kind == CQ_TYPE_TIMEUUID) && c->len != 16)
      return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "%s: expected 16 bytes, got %u", TN(t),
                       (unsigned)c->len);
    if (t->kind == CQ_TYPE_TIMEUUID && (p[6] >> 4) != 1)
      return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "timeuuid: version %d, expected 1",
                       p[6] >> 4);
    if (t->kind == CQ_TYPE_INET && c->len != 4 && c->len != 16)
      return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "inet: expected 4 or 16 bytes, got %u",
                       (unsigned)c->len);
    cq_buf_put(o, p, c->len);
    break;
  case CQ_TYPE_VARINT:
    if (c->kind == CQ_CELL_INT) {
      uint8_t v[8];
      cq_buf_put(o, v, cq_varint_from_i64(c->i, v));
      break;
    }
    if (c->kind != CQ_CELL_BYTES) return mismatch(e, t, c, "bytes or integer");
    if ((rc = cell_bytes(e, t, c, &p)) < 0) return rc;
    if (c->len == 0)
      return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID,
                       "varint: zero bytes (use an empty value)");
    cq_buf_put(o, p, c->len);
    break;
  case CQ_TYPE_DECIMAL:
    if (c->kind != CQ_CELL_DECIMAL) return mismatch(e, t, c, "decimal");
    if ((rc = cell_bytes(e, t, c, &p)) < 0) return rc;
    if (c->len == 0)
      return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "decimal: empty unscaled value");
    cq_buf_put_u32(o, (uint32_t)c->a);
    cq_buf_put(o, p, c->len);
    break;
  case CQ_TYPE_LIST:
  case CQ_TYPE_SET:
  case CQ_TYPE_MAP: {
    int is_map = t->kind == CQ_TYPE_MAP;
    if (is_map ? c->kind != CQ_CELL_MAP
               : (c->kind != CQ_CELL_LIST && c->kind != CQ_CELL_SET && c->kind != CQ_CELL_VECTOR))
      return mismatch(e, t, c, is_map ? "map" : "list, set or vector");
    if ((rc = children(e, t, c)) < 0) return rc;
    if (is_map && (c->len & 1))
      return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "map: odd number of children (%u)",
                       (unsigned)c->len);
    size_t first = c->off, n = c->len;
    cq_buf_put_u32(o, (uint32_t)(is_map ? n / 2 : n));
    for (size_t i = 0; i < n; i++)
      if ((rc = enc_elem(e, t->sub[is_map ? (i & 1) : 0], first + i, depth + 1)) < 0) return rc;
    break;
  }
  case CQ_TYPE_TUPLE:
  case CQ_TYPE_UDT: {
    if (c->kind != CQ_CELL_TUPLE && c->kind != CQ_CELL_UDT)
      return mismatch(e, t, c, "tuple or udt");
    if ((rc = children(e, t, c)) < 0) return rc;
    if (c->len > t->nsub)
      return cq_errorf(e->err, e->errcap, CQ_ERR_INVALID, "%s: %u values for %u fields", TN(t),
                       (unsigned)c->len, (unsigned)t->nsub);
    size_t first = c->off, n = c->len;
    for (size_t i = 0; i < n; i++)
      if ((rc = enc_elem(e, t->sub[i], first + i, depth + 1)) < 0) return rc;
    break;
  }
  case CQ_TYPE_VECTOR:
    if (c->kind != CQ_CELL_VECTOR && c->kind != CQ_CELL_LIST)
      return mismatch(e, t, c, "vector or list");
    return enc_vector(e, t, c, depth);
  default:
    return cq_errorf(e->err, e->errcap, CQ_ERR_UNSUPPORTED, "unknown type kind 0x%04x",
                     (unsigned)t->kind);
  }
  if (o->err) return cq_errorf(e->err, e->errcap, o->err, "output buffer failure");
  return CQ_OK;
}

int cq_value_encode(cq_buf *out, const cq_type *t, const cq_cell *cells, size_t ncells, size_t idx,
                    const uint8_t *bytes, size_t bytes_len, char *err, size_t errcap) {
  enc e = {out, cells, ncells, bytes, bytes_len, err, errcap};
  size_t start = out->len;
  int rc = enc_body(&e, t, idx, 0);
  if (rc < 0 && !out->err) out->len = start; /* leave no half-written value */
  return rc;
}

int cq_value_encode_value(cq_buf *out, const cq_type *t, const cq_cell *cells, size_t ncells,
                          size_t idx, const uint8_t *bytes, size_t bytes_len, char *err,
                          size_t errcap) {
  if (idx >= ncells) return cq_errorf(err, errcap, CQ_ERR_INVALID, "cell index out of range");
  if (cells[idx].kind == CQ_CELL_UNSET) {
    cq_buf_put_u32(out, 0xFFFFFFFEu);
    return out->err ? out->err : CQ_OK;
  }
  enc e = {out, cells, ncells, bytes, bytes_len, err, errcap};
  size_t start = out->len;
  int rc = enc_elem(&e, t, idx, 0);
  if (rc < 0 && !out->err) out->len = start;
  return rc;
}

/* --- equality ------------------------------------------------------- */

static int eq_rec(const cq_cell *ca, size_t na, size_t ia, const uint8_t *ba, const cq_cell *cb,
                  size_t nb, size_t ib, const uint8_t *bb, int depth) {
  if (ia >= na || ib >= nb || depth > CQ_VALUE_MAX_DEPTH + 1) return 0;
  const cq_cell *x = &ca[ia], *y = &cb[ib];
  if (x->kind != y->kind) return 0;
  switch (x->kind) {
  case CQ_CELL_NULL:
  case CQ_CELL_UNSET:
  case CQ_CELL_EMPTY: return 1;
  case CQ_CELL_INT:
  case CQ_CELL_BOOL:
  case CQ_CELL_DATE:
  case CQ_CELL_TIME:
  case CQ_CELL_TIMESTAMP: return x->i == y->i;
  case CQ_CELL_DOUBLE: return memcmp(&x->d, &y->d, sizeof x->d) == 0;
  case CQ_CELL_DURATION: return x->a == y->a && x->b == y->b && x->i == y->i;
  case CQ_CELL_DECIMAL:
    if (x->a != y->a) return 0;
    /* fall through */
  case CQ_CELL_BYTES:
    return x->len == y->len && (x->len == 0 || memcmp(ba + x->off, bb + y->off, x->len) == 0);
  default:
    if (x->len != y->len) return 0;
    if (x->off > na || x->len > na - x->off || y->off > nb || y->len > nb - y->off) return 0;
    for (size_t i = 0; i < x->len; i++)
      if (!eq_rec(ca, na, x->off + i, ba, cb, nb, y->off + i, bb, depth + 1)) return 0;
    return 1;
  }
}

int cq_cell_equal(const cq_cell *ca, size_t na, size_t ia, const uint8_t *ba, const cq_cell *cb,
                  size_t nb, size_t ib, const uint8_t *bb) {
  return eq_rec(ca, na, ia, ba, cb, nb, ib, bb, 0);
}

/* --- varint helpers ------------------------------------------------- */

size_t cq_varint_from_i64(int64_t v, uint8_t out[8]) {
  uint8_t t[8];
  cq_store_u64(t, (uint64_t)v);
  size_t i = 0;
  /* Drop a leading byte while the next byte's sign bit still says the same. */
  while (i < 7 && ((t[i] == 0x00 && !(t[i + 1] & 0x80)) || (t[i] == 0xFF && (t[i + 1] & 0x80))))
    i++;
  memcpy(out, t + i, 8 - i);
  return 8 - i;
}

int cq_varint_to_i64(const uint8_t *p, size_t n, int64_t *v) {
  if (n == 0) return CQ_ERR_INVALID;
  uint8_t sign = (p[0] & 0x80) ? 0xFF : 0x00;
  /* Skip redundant sign-extension bytes so oversized encodings still fit. */
  while (n > 8 && p[0] == sign && ((p[1] & 0x80) ? 0xFF : 0x00) == sign) {
    p++;
    n--;
  }
  if (n > 8) return CQ_ERR_TOO_LARGE;
  uint64_t u = sign ? UINT64_MAX : 0;
  for (size_t i = 0; i < n; i++)
    u = (u << 8) | p[i];
  *v = (int64_t)u;
  return CQ_OK;
}

int cq_varint_to_string(cq_buf *out, const uint8_t *p, size_t n) {
  if (n == 0) return CQ_ERR_INVALID;
  int neg = (p[0] & 0x80) != 0;
  /* Magnitude, big-endian, in a scratch copy owned by this call. */
  uint8_t *m = malloc(n);
  /* 9 decimal digits per 32-bit chunk; n bytes have at most 2.41*n+1 digits. */
  size_t maxchunks = n * 8 / 29 + 2;
  uint32_t *chunks = malloc(maxchunks * sizeof *chunks);
  if (!m || !chunks) {
    free(m);
    free(chunks);
    return CQ_ERR_NOMEM;
  }
  memcpy(m, p, n);
  if (neg) {
    /* Two's complement negate: invert then add one. */
    int carry = 1;
    for (size_t i = n; i-- > 0;) {
      unsigned x = (uint8_t)~m[i] + (unsigned)carry;
      m[i] = (uint8_t)x;
      carry = x >> 8;
    }
  }
  size_t start = 0, nchunks = 0;
  while (start < n && m[start] == 0)
    start++;
  while (start < n) {
    uint64_t rem = 0;
    for (size_t i = start; i < n; i++) {
      uint64_t cur = (rem << 8) | m[i];
      m[i] = (uint8_t)(cur / 1000000000u);
      rem = cur % 1000000000u;
    }
    chunks[nchunks++] = (uint32_t)rem;
    while (start < n && m[start] == 0)
      start++;
  }
  if (neg) cq_buf_put_u8(out, '-');
  if (nchunks == 0) {
    cq_buf_put_u8(out, '0');
  } else {
    char tmp[16];
    int k = snprintf(tmp, sizeof tmp, "%u", (unsigned)chunks[nchunks - 1]);
    cq_buf_put(out, tmp, (size_t)k);
    for (size_t i = nchunks - 1; i-- > 0;) {
      k = snprintf(tmp, sizeof tmp, "%09u", (unsigned)chunks[i]);
      cq_buf_put(out, tmp, (size_t)k);
    }
  }
  free(m);
  free(chunks);
  return out->err ? out->err : CQ_OK;
}

/* Appends the minimal two's complement of a little-endian magnitude. */
static void put_twos(cq_buf *out, uint8_t *mag, size_t len, int neg) {
  while (len > 0 && mag[len - 1] == 0)
    len--;
  if (len == 0) {
    cq_buf_put_u8(out, 0);
    return;
  }
  if (neg) {
    int carry = 1;
    for (size_t i = 0; i < len; i++) {
      unsigned x = (uint8_t)~mag[i] + (unsigned)carry;
      mag[i] = (uint8_t)x;
      carry = x >> 8;
    }
    /* Needs a 0xFF sign byte unless the top bit already says negative; drop
     * redundant 0xFF bytes (e.g. -128 is just 0x80). */
    while (len > 1 && mag[len - 1] == 0xFF && (mag[len - 2] & 0x80))
      len--;
    if (!(mag[len - 1] & 0x80)) cq_buf_put_u8(out, 0xFF);
  } else if (mag[len - 1] & 0x80) {
    cq_buf_put_u8(out, 0x00);
  }
  for (size_t i = len; i-- > 0;)
    cq_buf_put_u8(out, mag[i]);
}

/* Parses digits[0,n) into a little-endian magnitude; caller frees *mag. */
static int digits_to_mag(const char *s, size_t n, uint8_t **mag, size_t *mlen) {
  size_t cap = n / 2 + 2;
  uint8_t *m = calloc(cap, 1);
  if (!m) return CQ_ERR_NOMEM;
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned carry = (unsigned)(s[i] - '0');
    for (size_t j = 0; j < len; j++) {
      unsigned x = m[j] * 10u + carry;
      m[j] = (uint8_t)x;
      carry = x >> 8;
    }
    if (carry) m[len++] = (uint8_t)carry;
  }
  *mag = m;
  *mlen = len;
  return CQ_OK;
}

int cq_varint_from_string(cq_buf *out, const char *s, size_t n) {
  size_t i = 0;
  int neg = 0;
  if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  if (i == n) return CQ_ERR_INVALID;
  for (size_t j = i; j < n; j++)
    if (s[j] < '0' || s[j] > '9') return CQ_ERR_INVALID;
  uint8_t *mag;
  size_t mlen;
  int rc = digits_to_mag(s + i, n - i, &mag, &mlen);
  if (rc < 0) return rc;
  put_twos(out, mag, mlen, neg);
  free(mag);
  return out->err ? out->err : CQ_OK;
}

int cq_decimal_to_string(cq_buf *out, int32_t scale, const uint8_t *unscaled, size_t n) {
  cq_buf digits;
  cq_buf_init(&digits);
  int rc = cq_varint_to_string(&digits, unscaled, n);
  if (rc < 0) {
    cq_buf_free(&digits);
    return rc;
  }
  const char *d = (const char *)digits.data;
  size_t dn = digits.len;
  if (d[0] == '-') {
    cq_buf_put_u8(out, '-');
    d++;
    dn--;
  }
  /* Java's BigDecimal.toString layout, which is what Cassandra prints:
   * plain when the scale is not negative and the adjusted exponent is at
   * least -6, otherwise one digit, the rest after a point, and E<exp>. */
  int64_t adjusted = -(int64_t)scale + (int64_t)dn - 1;
  if (scale == 0) {
    cq_buf_put(out, d, dn);
  } else if (scale > 0 && adjusted >= -6) {
    if ((size_t)scale < dn) {
      cq_buf_put(out, d, dn - (size_t)scale);
      cq_buf_put_u8(out, '.');
      cq_buf_put(out, d + dn - (size_t)scale, (size_t)scale);
    } else {
      cq_buf_put(out, "0.", 2);
      for (size_t i = dn; i < (size_t)scale; i++)
        cq_buf_put_u8(out, '0');
      cq_buf_put(out, d, dn);
    }
  } else {
    cq_buf_put(out, d, 1);
    if (dn > 1) {
      cq_buf_put_u8(out, '.');
      cq_buf_put(out, d + 1, dn - 1);
    }
    if (adjusted != 0) {
      char tmp[24];
      int k = snprintf(tmp, sizeof tmp, "E%+lld", (long long)adjusted);
      cq_buf_put(out, tmp, (size_t)k);
    }
  }
  cq_buf_free(&digits);
  return out->err ? out->err : CQ_OK;
}

int cq_decimal_from_string(cq_buf *out, int32_t *scale, const char *s, size_t n) {
  size_t i = 0;
  int neg = 0;
  if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  /* Gather the digits without the point into a scratch string. */
  char *dig = malloc(n + 1);
  if (!dig) return CQ_ERR_NOMEM;
  size_t nd = 0, frac = 0;
  int seen_point = 0, ndigits_seen = 0;
  for (; i < n; i++) {
    if (s[i] >= '0' && s[i] <= '9') {
      dig[nd++] = s[i];
      ndigits_seen = 1;
      if (seen_point) frac++;
    } else if (s[i] == '.' && !seen_point) {
      seen_point = 1;
    } else {
      break;
    }
  }
  int64_t exp = 0;
  int rc = CQ_OK;
  if (!ndigits_seen) rc = CQ_ERR_INVALID;
  if (rc == CQ_OK && i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    int eneg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
    if (i == n) rc = CQ_ERR_INVALID;
    for (; i < n && rc == CQ_OK; i++) {
      if (s[i] < '0' || s[i] > '9') {
        rc = CQ_ERR_INVALID;
        break;
      }
      exp = exp * 10 + (s[i] - '0');
      if (exp > ((int64_t)1 << 33)) rc = CQ_ERR_TOO_LARGE;
    }
    if (eneg) exp = -exp;
  }
  if (rc == CQ_OK && i != n) rc = CQ_ERR_INVALID;
  int64_t sc = (int64_t)frac - exp;
  if (rc == CQ_OK && (sc < INT32_MIN || sc > INT32_MAX)) rc = CQ_ERR_TOO_LARGE;
  if (rc == CQ_OK) {
    uint8_t *mag;
    size_t mlen;
    rc = digits_to_mag(dig, nd, &mag, &mlen);
    if (rc == CQ_OK) {
      put_twos(out, mag, mlen, neg);
      free(mag);
      *scale = (int32_t)sc;
      rc = out->err ? out->err : CQ_OK;
    }
  }
  free(dig);
  return rc;
}

/* --- duration helpers ----------------------------------------------- */

#define NS_US 1000LL
#define NS_MS 1000000LL
#define NS_S 1000000000LL
#define NS_M (60 * NS_S)
#define NS_H (60 * NS_M)

int cq_duration_to_string(char *out, size_t cap, int32_t months, int32_t days, int64_t nanos) {
  char tmp[160];
  size_t k = 0;
  int neg = months < 0 || days < 0 || nanos < 0;
  /* Work on magnitudes; uint64 so INT64_MIN negates cleanly. */
  uint64_t mo = months < 0 ? (uint64_t)0 - (uint64_t)(int64_t)months : (uint64_t)months;
  uint64_t dd = days < 0 ? (uint64_t)0 - (uint64_t)(int64_t)days : (uint64_t)days;
  uint64_t ns = nanos < 0 ? (uint64_t)0 - (uint64_t)nanos : (uint64_t)nanos;
  if (neg) tmp[k++] = '-';
  struct {
    uint64_t v;
    const char *u;
  } parts[] = {{mo / 12, "y"},
               {mo % 12, "mo"},
               {dd, "d"},
               {ns / NS_H, "h"},
               {ns % NS_H / NS_M, "m"},
               {ns % NS_M / NS_S, "s"},
               {ns % NS_S / NS_MS, "ms"},
               {ns % NS_MS / NS_US, "us"},
               {ns % NS_US, "ns"}};
  int any = 0;
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    if (!parts[i].v) continue;
    k += (size_t)snprintf(tmp + k, sizeof tmp - k, "%llu%s", (unsigned long long)parts[i].v,
                          parts[i].u);
    any = 1;
  }
  if (!any) k += (size_t)snprintf(tmp + k, sizeof tmp - k, "0s");
  if (k + 1 > cap) return CQ_ERR_TOO_LARGE;
  memcpy(out, tmp, k + 1);
  return (int)k;
}

typedef struct dur_acc {
  int64_t months, days;
  uint64_t nanos;
} dur_acc;

/* Adds v units to the accumulator with overflow checks. */
static int dur_add(dur_acc *a, uint64_t v, int which, uint64_t mult) {
  if (mult && v > UINT64_MAX / mult) return 0;
  uint64_t x = v * (mult ? mult : 1);
  if (which == 0) {
    if (x > (uint64_t)INT32_MAX + 1 - (uint64_t)a->months) return 0;
    a->months += (int64_t)x;
  } else if (which == 1) {
    if (x > (uint64_t)INT32_MAX + 1 - (uint64_t)a->days) return 0;
    a->days += (int64_t)x;
  } else {
    if (x > (uint64_t)INT64_MAX + 1 - a->nanos) return 0;
    a->nanos += x;
  }
  return 1;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int dur_finish(dur_acc *a, int neg, int32_t *months, int32_t *days, int64_t *nanos,
                      const char *s, size_t n, char *err, size_t errcap) {
  /* Magnitudes may be one past the positive max only when negated. */
  if (!neg && (a->months > INT32_MAX || a->days > INT32_MAX || a->nanos > (uint64_t)INT64_MAX))
    return cq_errorf(err, errcap, CQ_ERR_TOO_LARGE, "duration out of range in '%.*s'", (int)n, s);
  *months = (int32_t)(neg ? -a->months : a->months);
  *days = (int32_t)(neg ? -a->days : a->days);
  *nanos = neg ? (int64_t)(0 - a->nanos) : (int64_t)a->nanos;
  return CQ_OK;
}

static int read_num(const char *s, size_t n, size_t *i, uint64_t *v) {
  size_t start = *i;
  uint64_t x = 0;
  while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
    unsigned dg = (unsigned)(s[*i] - '0');
    if (x > (UINT64_MAX - dg) / 10) return -1;
    x = x * 10 + dg;
    (*i)++;
  }
  *v = x;
  return *i > start ? 1 : 0;
}

int cq_duration_from_string(const char *s, size_t n, int32_t *months, int32_t *days, int64_t *nanos,
                            char *err, size_t errcap) {
  size_t i = 0;
  int neg = 0;
  dur_acc a = {0, 0, 0};
  if (i < n && s[i] == '-') {
    neg = 1;
    i++;
  }
  if (i == n) return cq_errorf(err, errcap, CQ_ERR_INVALID, "empty duration '%.*s'", (int)n, s);
  if (s[i] == 'P' || s[i] == 'p') {
    i++;
    /* Alternative ISO form: P0001-02-03T04:05:06. */
    if (n - i >= 19 && s[i + 4] == '-') {
      static const struct {
        size_t at, len;
        int which;
        uint64_t mult;
      } f[] = {{0, 4, 0, 12},    {5, 2, 0, 1},     {8, 2, 1, 1},
               {11, 2, 2, NS_H}, {14, 2, 2, NS_M}, {17, 2, 2, NS_S}};
      static const char sep[] = "--T::";
      if (n - i != 19)
        return cq_errorf(err, errcap, CQ_ERR_INVALID, "unexpected text at offset %zu in '%.*s'",
                         i + 19, (int)n, s);
      for (size_t k = 0; k < 5; k++)
        if (lower(s[i + f[k].at + f[k].len]) != lower(sep[k]))
          return cq_errorf(err, errcap, CQ_ERR_INVALID, "expected '%c' at offset %zu in '%.*s'",
                           sep[k], i + f[k].at + f[k].len, (int)n, s);
      for (size_t k = 0; k < 6; k++) {
        uint64_t v = 0;
        for (size_t j = 0; j < f[k].len; j++) {
          char ch = s[i + f[k].at + j];
          if (ch < '0' || ch > '9')
            return cq_errorf(err, errcap, CQ_ERR_INVALID,
                             "expected a digit at offset %zu in '%.*s'", i + f[k].at + j, (int)n,
                             s);
          v = v * 10 + (uint64_t)(ch - '0');
        }
        if (!dur_add(&a, v, f[k].which, f[k].mult))
          return cq_errorf(err, errcap, CQ_ERR_TOO_LARGE, "duration out of range in '%.*s'", (int)n,
                           s);
      }
      return dur_finish(&a, neg, months, days, nanos, s, n, err, errcap);
    }
    int in_time = 0, any = 0;
    while (i < n) {
      if (s[i] == 'T' || s[i] == 't') {
        if (in_time)
          return cq_errorf(err, errcap, CQ_ERR_INVALID, "unexpected 'T' at offset %zu in '%.*s'", i,
                           (int)n, s);
        in_time = 1;
        i++;
        continue;
      }
      uint64_t v;
      int r = read_num(s, n, &i, &v);
      if (r < 0)
        return cq_errorf(err, errcap, CQ_ERR_TOO_LARGE, "number too large in '%.*s'", (int)n, s);
      if (r == 0 || i == n)
        return cq_errorf(err, errcap, CQ_ERR_INVALID, "expected %s at offset %zu in '%.*s'",
                         r ? "a unit" : "a number", i, (int)n, s);
      int u = lower(s[i]);
      int ok;
      if (!in_time && u == 'y')
        ok = dur_add(&a, v, 0, 12);
      else if (!in_time && u == 'm')
        ok = dur_add(&a, v, 0, 1);
      else if (!in_time && u == 'w')
        ok = dur_add(&a, v, 1, 7);
      else if (!in_time && u == 'd')
        ok = dur_add(&a, v, 1, 1);
      else if (in_time && u == 'h')
        ok = dur_add(&a, v, 2, NS_H);
      else if (in_time && u == 'm')
        ok = dur_add(&a, v, 2, NS_M);
      else if (in_time && u == 's')
        ok = dur_add(&a, v, 2, NS_S);
      else
        return cq_errorf(err, errcap, CQ_ERR_INVALID,
                         "unexpected unit '%c' at offset %zu in '%.*s'", s[i], i, (int)n, s);
      if (!ok)
        return cq_errorf(err, errcap, CQ_ERR_TOO_LARGE, "duration out of range in '%.*s'", (int)n,
                         s);
      i++;
      any = 1;
    }
    if (!any)
      return cq_errorf(err, errcap, CQ_ERR_INVALID, "expected a number at offset %zu in '%.*s'", i,
                       (int)n, s);
    return dur_finish(&a, neg, months, days, nanos, s, n, err, errcap);
  }
  /* Standard form: (number unit)+. */
  while (i < n) {
    uint64_t v;
    int r = read_num(s, n, &i, &v);
    if (r < 0)
      return cq_errorf(err, errcap, CQ_ERR_TOO_LARGE, "number too large in '%.*s'", (int)n, s);
    if (r == 0)
      return cq_errorf(err, errcap, CQ_ERR_INVALID, "expected a number at offset %zu in '%.*s'", i,
                       (int)n, s);
    size_t u0 = i;
    while (i < n && !(s[i] >= '0' && s[i] <= '9'))
      i++;
    size_t ul = i - u0;
    char unit[4] = {0};
    int ok = 1, which = -1;
    uint64_t mult = 1;
    if (ul == 0 || ul > 3)
      return cq_errorf(err, errcap, CQ_ERR_INVALID, "expected a unit at offset %zu in '%.*s'", u0,
                       (int)n, s);
    for (size_t k = 0; k < ul; k++)
      unit[k] = (char)lower(s[u0 + k]);
    if (!strcmp(unit, "y"))
      which = 0, mult = 12;
    else if (!strcmp(unit, "mo"))
      which = 0;
    else if (!strcmp(unit, "w"))
      which = 1, mult = 7;
    else if (!strcmp(unit, "d"))
      which = 1;
    else if (!strcmp(unit, "h"))
      which = 2, mult = NS_H;
    else if (!strcmp(unit, "m"))
      which = 2, mult = NS_M;
    else if (!strcmp(unit, "s"))
      which = 2, mult = NS_S;
    else if (!strcmp(unit, "ms"))
      which = 2, mult = NS_MS;
    else if (!strcmp(unit, "us") || !strcmp(unit, "\xc2\xb5s"))
      which = 2, mult = NS_US;
    else if (!strcmp(unit, "ns"))
      which = 2;
    if (which < 0)
      return cq_errorf(err, errcap, CQ_ERR_INVALID, "unknown unit '%.*s' at offset %zu in '%.*s'",
                       (int)ul, s + u0, u0, (int)n, s);
    ok = dur_add(&a, v, which, mult);
    if (!ok)
      return cq_errorf(err, errcap, CQ_ERR_TOO_LARGE, "duration out of range in '%.*s'", (int)n, s);
  }
  return dur_finish(&a, neg, months, days, nanos, s, n, err, errcap);
}
