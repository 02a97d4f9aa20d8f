/* libFuzzer target: the value codec.
 * The first bytes describe a type tree (a tiny prefix code, see build());
 * the rest is decoded as a value of that type. When decoding succeeds the
 * cells are re-encoded (must succeed), decoded again (must be equal), and
 * for types whose encoding is canonical the bytes must equal the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "type_util.h"
#include "value.h"

static const cq_type_kind natives[] = {
    CQ_TYPE_ASCII,   CQ_TYPE_BIGINT,  CQ_TYPE_BLOB,     CQ_TYPE_BOOLEAN,  CQ_TYPE_COUNTER,
    CQ_TYPE_DECIMAL, CQ_TYPE_DOUBLE,  CQ_TYPE_FLOAT,    CQ_TYPE_INT,      CQ_TYPE_TIMESTAMP,
    CQ_TYPE_UUID,    CQ_TYPE_VARCHAR, CQ_TYPE_VARINT,   CQ_TYPE_TIMEUUID, CQ_TYPE_INET,
    CQ_TYPE_DATE,    CQ_TYPE_TIME,    CQ_TYPE_SMALLINT, CQ_TYPE_TINYINT,  CQ_TYPE_DURATION};

typedef struct src {
  const uint8_t *p;
  size_t n, pos;
} src;

static uint8_t next(src *s) { return s->pos < s->n ? s->p[s->pos++] : 0; }

static const cq_type *build(cq_arena *a, src *s, int depth) {
  uint8_t b = next(s);
  unsigned op = b % 32;
  if (depth >= 6 || op < 20) return cq_type_native(a, natives[op % 20]);
  const cq_type *subs[4];
  const char *names[4] = {"a", "b", "c", "d"};
  size_t n;
  switch (op) {
  case 20: return cq_type_list(a, build(a, s, depth + 1), 0);
  case 21: return cq_type_set(a, build(a, s, depth + 1), 0);
  case 22: {
    const cq_type *k = build(a, s, depth + 1);
    return cq_type_map(a, k, build(a, s, depth + 1), 0);
  }
  case 23:
  case 24:
    n = 1 + next(s) % 4;
    for (size_t i = 0; i < n; i++)
      subs[i] = build(a, s, depth + 1);
    return op == 23 ? cq_type_tuple(a, subs, n) : cq_type_udt(a, "ks", "u", names, subs, n, 1);
  case 25: {
    uint32_t dim = 1 + next(s) % 8;
    return cq_type_vector(a, build(a, s, depth + 1), dim);
  }
  case 26: return cq_type_custom(a, "x.Y");
  default: return cq_type_native(a, natives[b % 20]);
  }
}

/* Types whose decode/encode round trip reproduces the exact input bytes
 * (booleans may be any non-zero byte, vints may be non-minimal). */
static int canonical(const cq_type *t) {
  if (t->kind == CQ_TYPE_BOOLEAN || t->kind == CQ_TYPE_DURATION) return 0;
  if (t->kind == CQ_TYPE_VECTOR && !cq_vector_elem_fixed_size(t->sub[0])) return 0;
  for (size_t i = 0; i < t->nsub; i++)
    if (!canonical(t->sub[i])) return 0;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  src s = {data, size, 0};
  cq_arena a;
  cq_arena_init(&a, 0);
  const cq_type *t = build(&a, &s, 0);
  if (!t) abort();
  const uint8_t *body = data + s.pos;
  size_t blen = size - s.pos;
  /* Copy so ASan sees exact bounds even when s.pos == size. */
  uint8_t *copy = malloc(blen ? blen : 1);
  if (!copy) abort();
  if (blen) memcpy(copy, body, blen);
  cq_cells c1, c2;
  cq_cells_init(&c1);
  cq_cells_init(&c2);
  char err[256] = "";
  size_t r1, r2;
  int rc = cq_value_decode(&c1, t, copy, (int64_t)blen, &r1, err, sizeof err);
  if (rc == 0) {
    cq_buf e1, e2;
    cq_buf_init(&e1);
    cq_buf_init(&e2);
    cq_buf_put_u8(&e1, 0); /* keep data non-NULL */
    e1.len = 0;
    if (cq_value_encode(&e1, t, c1.v, c1.n, r1, copy, blen, err, sizeof err) != 0) abort();
    if (cq_value_decode(&c2, t, e1.data, (int64_t)e1.len, &r2, err, sizeof err) != 0) abort();
    if (!cq_cell_equal(c1.v, c1.n, r1, copy, c2.v, c2.n, r2, e1.data)) abort();
    if (cq_value_encode(&e2, t, c2.v, c2.n, r2, e1.data, e1.len, err, sizeof err) != 0) abort();
    if (e2.len != e1.len || (e1.len && memcmp(e1.data, e2.data, e1.len) != 0)) abort();
    if (canonical(t) && (e1.len != blen || (blen && memcmp(e1.data, copy, blen) != 0))) abort();
    cq_buf_free(&e1);
    cq_buf_free(&e2);
  } else if (err[0] == '\0') {
    abort();
  }
  cq_cells_free(&c1);
  cq_cells_free(&c2);
  free(copy);
  cq_arena_free(&a);
  return 0;
}
