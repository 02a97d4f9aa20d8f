/* libFuzzer target: the page-of-rows decoder.
 * Byte 0: column count (1..8); then each column's type as a CQL type id
 * byte; then a 16-bit rows count; the rest is the rows content. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "rows.h"
#include "type_util.h"

static const cq_type_kind kinds[] = {
    CQ_TYPE_ASCII,   CQ_TYPE_BIGINT,  CQ_TYPE_BLOB,     CQ_TYPE_BOOLEAN,  CQ_TYPE_COUNTER,
    CQ_TYPE_DECIMAL, CQ_TYPE_DOUBLE,  CQ_TYPE_FLOAT,    CQ_TYPE_INT,      CQ_TYPE_TIMESTAMP,
    CQ_TYPE_UUID,    CQ_TYPE_VARCHAR, CQ_TYPE_VARINT,   CQ_TYPE_TIMEUUID, CQ_TYPE_INET,
    CQ_TYPE_DATE,    CQ_TYPE_TIME,    CQ_TYPE_SMALLINT, CQ_TYPE_TINYINT,  CQ_TYPE_DURATION};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t ncols = 1 + data[0] % 8, pos = 1;
  if (size < pos + ncols + 2) return 0;
  cq_arena a;
  cq_arena_init(&a, 0);
  const cq_type *types[8];
  for (size_t c = 0; c < ncols; c++) {
    uint8_t b = data[pos++];
    const cq_type *e = cq_type_native(&a, kinds[b % 20]);
    switch (b / 20 % 6) {
    case 1: types[c] = cq_type_list(&a, e, 0); break;
    case 2: types[c] = cq_type_map(&a, cq_type_native(&a, CQ_TYPE_VARCHAR), e, 0); break;
    case 3: types[c] = cq_type_vector(&a, e, 1 + b % 3); break;
    case 4: {
      const cq_type *subs[2] = {e, cq_type_list(&a, e, 1)};
      types[c] = cq_type_tuple(&a, subs, 2);
      break;
    }
    default: types[c] = e; break;
    }
  }
  int64_t rows = (int64_t)((data[pos] << 8) | data[pos + 1]);
  pos += 2;
  size_t len = size - pos;
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) abort();
  if (len) memcpy(copy, data + pos, len);
  cq_rows_page page;
  cq_rows_init(&page);
  char err[256] = "";
  int rc = cq_rows_decode(&page, types, ncols, rows, copy, len, err, sizeof err);
  if (rc == 0) {
    if (page.nrows != (size_t)rows) abort();
    /* Every byte-like cell and child range must lie within bounds. */
    for (size_t i = 0; i < page.cells.n; i++) {
      const cq_cell *c = &page.cells.v[i];
      if (c->kind == CQ_CELL_BYTES || c->kind == CQ_CELL_DECIMAL) {
        if ((size_t)c->off + c->len > len) abort();
      } else if (c->kind >= CQ_CELL_LIST) {
        if ((size_t)c->off + c->len > page.cells.n || c->off <= i) abort();
      }
    }
  } else if (err[0] == '\0') {
    abort();
  }
  cq_rows_free(&page);
  free(copy);
  cq_arena_free(&a);
  return 0;
}
