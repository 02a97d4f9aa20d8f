/* Page-of-rows decoder. */
#include "../../src/core/arena.h"
#include "../../src/core/buf.h"
#include "../../src/core/rows.h"
#include "../../src/core/type_parse.h"
#include "unit.h"

static const cq_type *T(cq_arena *a, const char *cql) {
  const cq_type *t = NULL;
  if (cq_type_parse_cql(a, cql, strlen(cql), &t, NULL, 0) < 0) abort();
  return t;
}

static void put_int_value(cq_buf *b, int32_t v) {
  cq_buf_put_u32(b, 4);
  cq_buf_put_u32(b, (uint32_t)v);
}

TEST(decodes_rows_and_nested_columns) {
  cq_arena a;
  cq_arena_init(&a, 0);
  const cq_type *types[3] = {T(&a, "int"), T(&a, "text"), T(&a, "list<int>")};
  cq_buf b;
  cq_buf_init(&b);
  for (int r = 0; r < 3; r++) {
    put_int_value(&b, r * 10);
    if (r == 1) {
      cq_buf_put_u32(&b, 0xFFFFFFFFu); /* null text */
    } else {
      cq_buf_put_bytes(&b, "row", 3);
    }
    cq_buf_put_u32(&b, 4 + (uint32_t)r * 8);
    cq_buf_put_u32(&b, (uint32_t)r);
    for (int k = 0; k < r; k++)
      put_int_value(&b, k + 100);
  }
  cq_rows_page page;
  cq_rows_init(&page);
  char err[256] = "";
  REQUIRE(cq_rows_decode(&page, types, 3, 3, b.data, b.len, err, sizeof err) == 0);
  CHECK_EQ(page.nrows, 3);
  CHECK_EQ(page.ncols, 3);
  CHECK(page.src == b.data); /* borrowed, not copied */
  for (size_t r = 0; r < 3; r++) {
    const cq_cell *c0 = cq_rows_cell(&page, r, 0), *c1 = cq_rows_cell(&page, r, 1),
                  *c2 = cq_rows_cell(&page, r, 2);
    REQUIRE(c0 && c1 && c2);
    CHECK_EQ(c0->i, (int64_t)r * 10);
    if (r == 1) {
      CHECK_EQ(c1->kind, CQ_CELL_NULL);
    } else {
      CHECK_EQ(c1->kind, CQ_CELL_BYTES);
      CHECK(c1->len == 3 && memcmp(page.src + c1->off, "row", 3) == 0);
    }
    CHECK_EQ(c2->kind, CQ_CELL_LIST);
    REQUIRE(c2->len == r);
    for (size_t k = 0; k < r; k++)
      CHECK_EQ(page.cells.v[c2->off + k].i, (int64_t)k + 100);
  }
  CHECK(cq_rows_cell(&page, 3, 0) == NULL);
  CHECK(cq_rows_cell(&page, 0, 3) == NULL);
  /* Reuse the page for another (empty) page. */
  REQUIRE(cq_rows_decode(&page, types, 3, 0, b.data, 0, err, sizeof err) == 0);
  CHECK_EQ(page.nrows, 0);
  cq_rows_free(&page);
  cq_buf_free(&b);
  cq_arena_free(&a);
}

TEST(counts_that_lie_and_garbage_are_errors) {
  cq_arena a;
  cq_arena_init(&a, 0);
  const cq_type *types[2] = {T(&a, "int"), T(&a, "bigint")};
  cq_buf b;
  cq_buf_init(&b);
  put_int_value(&b, 1);
  cq_buf_put_u32(&b, 8);
  cq_buf_put_u64(&b, 2);
  cq_rows_page page;
  cq_rows_init(&page);
  char err[256];
  CHECK_EQ(cq_rows_decode(&page, types, 2, 1, b.data, b.len, err, sizeof err), 0);
  /* More rows than bytes. */
  CHECK_EQ(cq_rows_decode(&page, types, 2, 1000, b.data, b.len, err, sizeof err), CQ_ERR_TRUNCATED);
  CHECK(strstr(err, "1000 rows"));
  CHECK_EQ(page.nrows, 0);
  CHECK_EQ(cq_rows_decode(&page, types, 2, 2, b.data, b.len, err, sizeof err), CQ_ERR_TRUNCATED);
  CHECK_EQ(cq_rows_decode(&page, types, 2, -1, b.data, b.len, err, sizeof err), CQ_ERR_MALFORMED);
  CHECK_EQ(cq_rows_decode(&page, types, 2, (int64_t)1 << 40, b.data, b.len, err, sizeof err),
           CQ_ERR_TRUNCATED);
  /* Fewer rows than bytes: trailing garbage. */
  cq_buf_put_u8(&b, 0);
  CHECK_EQ(cq_rows_decode(&page, types, 2, 1, b.data, b.len, err, sizeof err), CQ_ERR_MALFORMED);
  CHECK(strstr(err, "trailing"));
  /* Truncated inside a value. */
  CHECK_EQ(cq_rows_decode(&page, types, 2, 1, b.data, b.len - 3, err, sizeof err),
           CQ_ERR_TRUNCATED);
  /* A bad value names its row and column. */
  uint8_t bad[] = {0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3};
  CHECK_EQ(cq_rows_decode(&page, types, 2, 1, bad, sizeof bad, err, sizeof err), CQ_ERR_MALFORMED);
  CHECK_STR(err, "row 0 column 1: bigint: expected 8 bytes, got 3");
  uint8_t unset[] = {0, 0, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe};
  CHECK_EQ(cq_rows_decode(&page, types, 2, 1, unset, sizeof unset, err, sizeof err),
           CQ_ERR_MALFORMED);
  /* Zero columns. */
  CHECK_EQ(cq_rows_decode(&page, types, 0, 5, b.data, 0, err, sizeof err), 0);
  CHECK_EQ(page.nrows, 5);
  CHECK_EQ(cq_rows_decode(&page, types, 0, 5, b.data, 1, err, sizeof err), CQ_ERR_MALFORMED);
  cq_rows_free(&page);
  cq_buf_free(&b);
  cq_arena_free(&a);
}

TEST(many_rows_mixed_columns) {
  cq_arena a;
  cq_arena_init(&a, 0);
  const cq_type *types[4] = {T(&a, "uuid"), T(&a, "map<text, int>"), T(&a, "double"),
                             T(&a, "vector<float, 2>")};
  cq_buf b;
  cq_buf_init(&b);
  size_t nrows = 2000;
  for (size_t r = 0; r < nrows; r++) {
    uint8_t u[16] = {0};
    u[15] = (uint8_t)r;
    cq_buf_put_bytes(&b, u, 16);
    cq_buf_put_u32(&b, 4 + 2 * (4 + 1 + 8));
    cq_buf_put_u32(&b, 2);
    cq_buf_put_bytes(&b, "a", 1);
    put_int_value(&b, (int32_t)r);
    cq_buf_put_bytes(&b, "b", 1);
    put_int_value(&b, -(int32_t)r);
    cq_buf_put_u32(&b, 8);
    cq_buf_put_u64(&b, 0x3ff0000000000000ull);
    cq_buf_put_u32(&b, 8);
    cq_buf_put_u32(&b, 0x3f800000u);
    cq_buf_put_u32(&b, 0x40000000u);
  }
  cq_rows_page page;
  cq_rows_init(&page);
  char err[256] = "";
  REQUIRE(cq_rows_decode(&page, types, 4, (int64_t)nrows, b.data, b.len, err, sizeof err) == 0);
  /* 4 top cells + 4 map children + 2 vector children per row. */
  CHECK_EQ(page.cells.n, nrows * 10);
  const cq_cell *m = cq_rows_cell(&page, 1999, 1);
  REQUIRE(m && m->kind == CQ_CELL_MAP && m->len == 4);
  CHECK_EQ(page.cells.v[m->off + 3].i, -1999);
  const cq_cell *v = cq_rows_cell(&page, 1999, 3);
  REQUIRE(v && v->kind == CQ_CELL_VECTOR && v->len == 2);
  CHECK(page.cells.v[v->off + 1].d == 2.0);
  CHECK(cq_rows_cell(&page, 7, 2)->d == 1.0);
  cq_rows_free(&page);
  cq_buf_free(&b);
  cq_arena_free(&a);
}

UNIT_MAIN()
