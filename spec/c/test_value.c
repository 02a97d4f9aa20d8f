/* Value codec: hand-derived byte vectors for every type (spec section 5/6),
 * edge values, malformed input, and encode/decode round-trip properties. */
#include <math.h>

#include "../../src/core/arena.h"
#include "../../src/core/buf.h"
#include "../../src/core/type_parse.h"
#include "../../src/core/type_util.h"
#include "../../src/core/value.h"
#include "unit.h"

/* Parses a CQL type string into the arena (tests only use valid strings). */
static const cq_type *T(cq_arena *a, const char *cql) {
  const cq_type *t = NULL;
  char err[256];
  if (cq_type_parse_cql(a, cql, strlen(cql), &t, err, sizeof err) < 0) {
    fprintf(stderr, "bad test type %s: %s\n", cql, err);
    abort();
  }
  return t;
}

/* Hex string ("00 0a ff") to bytes; returns the length. */
static size_t H(const char *hex, uint8_t *out) {
  size_t n = 0;
  int hi = -1;
  for (const char *p = hex; *p; p++) {
    int v;
    if (*p >= '0' && *p <= '9')
      v = *p - '0';
    else if (*p >= 'a' && *p <= 'f')
      v = *p - 'a' + 10;
    else if (*p >= 'A' && *p <= 'F')
      v = *p - 'A' + 10;
    else
      continue;
    if (hi < 0)
      hi = v;
    else {
      out[n++] = (uint8_t)(hi * 16 + v);
      hi = -1;
    }
  }
  return n;
}

typedef struct fixture {
  cq_arena a;
  cq_cells c;
  uint8_t in[4096];
  size_t n;
  char err[256];
  size_t root;
} fixture;

static void fx_init(fixture *f) {
  cq_arena_init(&f->a, 0);
  cq_cells_init(&f->c);
  f->err[0] = 0;
}

static void fx_free(fixture *f) {
  cq_arena_free(&f->a);
  cq_cells_free(&f->c);
}

/* Decodes hex as type cql; returns the status. */
static int fx_dec(fixture *f, const char *cql, const char *hex) {
  cq_cells_reset(&f->c);
  f->n = H(hex, f->in);
  f->err[0] = 0;
  return cq_value_decode(&f->c, T(&f->a, cql), f->in, (int64_t)f->n, &f->root, f->err,
                         sizeof f->err);
}

static const cq_cell *fx_root(fixture *f) { return &f->c.v[f->root]; }

/* Re-encodes the decoded value and checks the bytes equal the input. */
static int fx_reencodes(fixture *f, const char *cql) {
  cq_buf b;
  cq_buf_init(&b);
  char err[256] = "";
  int rc =
      cq_value_encode(&b, T(&f->a, cql), f->c.v, f->c.n, f->root, f->in, f->n, err, sizeof err);
  int ok = rc == CQ_OK && b.len == f->n && (f->n == 0 || memcmp(b.data, f->in, f->n) == 0);
  if (!ok) {
    fprintf(stderr, "    re-encode of %s: rc %d %s\n", cql, rc, err);
    unit_hexdump("got", b.data, b.len);
    unit_hexdump("want", f->in, f->n);
  }
  cq_buf_free(&b);
  return ok;
}

/* Table: type, input, expected status, whether re-encoding gives the input. */
static const struct vec {
  const char *type, *hex;
  int status;
  int canonical;
} vectors[] = {
    {"int", "00 00 00 2a", 0, 1},
    {"int", "80 00 00 00", 0, 1},
    {"int", "7f ff ff ff", 0, 1},
    {"int", "", 0, 1}, /* empty value */
    {"int", "00 00 2a", CQ_ERR_MALFORMED, 0},
    {"int", "00 00 00 00 2a", CQ_ERR_MALFORMED, 0},
    {"bigint", "80 00 00 00 00 00 00 00", 0, 1},
    {"bigint", "7f ff ff ff ff ff ff ff", 0, 1},
    {"bigint", "00 00 00 01", CQ_ERR_MALFORMED, 0},
    {"counter", "00 00 00 00 00 00 00 05", 0, 1},
    {"smallint", "ff ff", 0, 1},
    {"smallint", "80 00", 0, 1},
    {"smallint", "01", CQ_ERR_MALFORMED, 0},
    {"tinyint", "80", 0, 1},
    {"tinyint", "7f", 0, 1},
    {"tinyint", "00 01", CQ_ERR_MALFORMED, 0},
    {"boolean", "01", 0, 1},
    {"boolean", "00", 0, 1},
    {"boolean", "02", 0, 0}, /* true, re-encodes as 01 */
    {"boolean", "", 0, 1},
    {"boolean", "00 01", CQ_ERR_MALFORMED, 0},
    {"float", "3f c0 00 00", 0, 1},
    {"float", "7f c0 00 00", 0, 1},
    {"float", "7f 80 00 00", 0, 1},
    {"float", "ff 80 00 00", 0, 1},
    {"float", "ff 96 ff 01", 0, 1}, /* signalling NaN keeps its bits (fuzz finding) */
    {"vector<float, 2>", "ff 96 ff 01 11 08 ff 40", 0, 1},
    {"float", "3f c0 00", CQ_ERR_MALFORMED, 0},
    {"double", "3f f8 00 00 00 00 00 00", 0, 1},
    {"double", "7f f8 00 00 00 00 00 00", 0, 1},
    {"double", "7f f0 00 00 00 00 00 00", 0, 1},
    {"double", "ff f0 00 00 00 00 00 00", 0, 1},
    {"double", "3f f8 00 00", CQ_ERR_MALFORMED, 0},
    {"timestamp", "ff ff ff ff ff ff ff ff", 0, 1},
    {"timestamp", "00 00 01 8b cf e5 68 00", 0, 1},
    {"date", "80 00 00 00", 0, 1},
    {"date", "00 00 00 00", 0, 1},
    {"date", "ff ff ff ff", 0, 1},
    {"date", "7f ff ff ff", 0, 1},
    {"date", "80 00 00", CQ_ERR_MALFORMED, 0},
    {"time", "00 00 00 00 00 00 00 00", 0, 1},
    {"time", "00 00 4e 94 91 4e ff ff", 0, 1},
    {"time", "00 00 4e 94 91 4f 00 00", CQ_ERR_MALFORMED, 0},
    {"time", "ff ff ff ff ff ff ff ff", CQ_ERR_MALFORMED, 0},
    {"uuid", "00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff", 0, 1},
    {"uuid", "00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee", CQ_ERR_MALFORMED, 0},
    {"timeuuid", "00 11 22 33 44 55 16 77 88 99 aa bb cc dd ee ff", 0, 1},
    {"timeuuid", "00 11 22 33 44 55 46 77 88 99 aa bb cc dd ee ff", CQ_ERR_MALFORMED, 0},
    {"inet", "7f 00 00 01", 0, 1},
    {"inet", "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01", 0, 1},
    {"inet", "7f 00 00 01 00", CQ_ERR_MALFORMED, 0},
    {"inet", "", 0, 1},
    {"text", "68 c3 a9 6c 6c 6f", 0, 1},
    {"text", "", 0, 1},
    {"text", "c3 28", CQ_ERR_MALFORMED, 0},
    {"text", "ed a0 80", CQ_ERR_MALFORMED, 0}, /* surrogate */
    {"text", "c0 80", CQ_ERR_MALFORMED, 0},    /* overlong */
    {"text", "f0 9f 98 80", 0, 1},
    {"ascii", "61 62 63", 0, 1},
    {"ascii", "61 80", CQ_ERR_MALFORMED, 0},
    {"blob", "00 ff 00", 0, 1},
    {"blob", "", 0, 1},
    {"'com.example.Raw'", "de ad", 0, 1},
    {"varint", "00", 0, 1},
    {"varint", "7f", 0, 1},
    {"varint", "00 80", 0, 1},
    {"varint", "00 81", 0, 1},
    {"varint", "ff", 0, 1},
    {"varint", "80", 0, 1},
    {"varint", "ff 7f", 0, 1},
    {"varint", "00 ff", 0, 1},
    {"varint", "01 00", 0, 1},
    {"varint", "", 0, 1},
    {"decimal", "00 00 00 04 ed 29 bc", 0, 1},
    {"decimal", "ff ff ff fe 01", 0, 1},
    {"decimal", "00 00 00 04", CQ_ERR_MALFORMED, 0},
    {"duration", "02 04 06", 0, 1},
    {"duration", "01 03 05", 0, 1},
    {"duration", "00 00 87 d0", 0, 1},
    {"duration", "02 04", CQ_ERR_TRUNCATED, 0},
    {"duration", "02 04 06 00", CQ_ERR_MALFORMED, 0},
    {"duration", "02 03 06", CQ_ERR_MALFORMED, 0},             /* mixed signs */
    {"duration", "f1 00 00 00 00 00 00", CQ_ERR_MALFORMED, 0}, /* months 2^31 */
    {"duration", "f0 ff ff ff ff 00 00", 0, 1},                /* months -2^31 */
    {"duration", "00 00 ff ff ff ff ff ff ff ff ff", 0, 1},    /* nanos INT64_MIN */
    {"list<int>", "00 00 00 03 00 00 00 04 00 00 00 01 ff ff ff ff 00 00 00 04 00 00 00 03", 0, 1},
    {"list<int>", "00 00 00 00", 0, 1},
    {"list<int>", "", 0, 1},
    {"list<int>", "00 00 03 e8 00 00 00 04 00 00 00 01", CQ_ERR_TRUNCATED, 0},
    {"list<int>", "ff ff ff ff", CQ_ERR_MALFORMED, 0},
    {"list<int>", "00 00 00 01 00 00 00 04 00 00 00 01 00", CQ_ERR_MALFORMED, 0},
    {"list<int>", "00 00 00 01 00 00 00 05 00 00 00 01", CQ_ERR_TRUNCATED, 0},
    {"list<int>", "00 00 00 01 00 00 00 03 00 00 01", CQ_ERR_MALFORMED, 0},
    {"list<int>", "00 00 00 01 ff ff ff fe", CQ_ERR_MALFORMED, 0},
    {"set<text>", "00 00 00 02 00 00 00 01 61 00 00 00 00", 0, 1},
    {"map<text, int>", "00 00 00 01 00 00 00 01 61 00 00 00 04 00 00 00 01", 0, 1},
    {"map<text, int>", "00 00 00 01 00 00 00 01 61", CQ_ERR_TRUNCATED, 0},
    {"map<text, int>", "00 00 00 00", 0, 1},
    {"tuple<int, text>", "00 00 00 04 00 00 00 01 ff ff ff ff", 0, 1},
    {"tuple<int, text>", "00 00 00 04 00 00 00 01", 0, 1}, /* trailing element absent */
    {"tuple<int, text>", "00 00 00 04 00 00 00 01 ff ff ff ff 00", CQ_ERR_MALFORMED, 0},
    {"vector<float, 2>", "3f 80 00 00 40 00 00 00", 0, 1},
    {"vector<float, 2>", "3f 80 00 00 40 00 00", CQ_ERR_MALFORMED, 0},
    {"vector<text, 2>", "01 61 02 62 63", 0, 1},
    {"vector<text, 2>", "01 61 03 62 63", CQ_ERR_TRUNCATED, 0},
    {"vector<text, 2>", "01 61 02 62 63 00", CQ_ERR_MALFORMED, 0},
    {"vector<smallint, 2>", "02 00 01 02 00 02", 0, 1},
    {"vector<smallint, 2>", "00 02 00 02", 0, 1}, /* an empty element */
    {"vector<vector<int, 1>, 2>", "00 00 00 01 00 00 00 02", 0, 1},
    {"vector<boolean, 3>", "01 00 01", 0, 1},
    {"list<list<list<list<list<int>>>>>",
     "00 00 00 01 00 00 00 24 00 00 00 01 00 00 00 1c 00 00 00 01 00 00 00 14"
     " 00 00 00 01 00 00 00 0c 00 00 00 01 00 00 00 04 00 00 00 07",
     0, 1},
};

TEST(decode_hand_vectors_for_every_type) {
  fixture f;
  fx_init(&f);
  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    const struct vec *v = &vectors[i];
    int rc = fx_dec(&f, v->type, v->hex);
    if (rc != v->status) {
      UNIT_FAIL("vector %zu (%s '%s'): status %d, want %d (%s)", i, v->type, v->hex, rc, v->status,
                f.err);
      continue;
    }
    if (rc < 0) {
      CHECK(f.err[0] != '\0');
      continue;
    }
    if (v->canonical && !fx_reencodes(&f, v->type)) UNIT_FAIL("vector %zu (%s)", i, v->type);
  }
  fx_free(&f);
}

TEST(decode_scalar_values) {
  fixture f;
  fx_init(&f);
  REQUIRE(fx_dec(&f, "int", "80 00 00 00") == 0);
  CHECK_EQ(fx_root(&f)->kind, CQ_CELL_INT);
  CHECK_EQ(fx_root(&f)->i, INT32_MIN);
  REQUIRE(fx_dec(&f, "bigint", "80 00 00 00 00 00 00 00") == 0);
  CHECK(fx_root(&f)->i == INT64_MIN);
  REQUIRE(fx_dec(&f, "smallint", "80 00") == 0);
  CHECK_EQ(fx_root(&f)->i, -32768);
  REQUIRE(fx_dec(&f, "tinyint", "ff") == 0);
  CHECK_EQ(fx_root(&f)->i, -1);
  REQUIRE(fx_dec(&f, "boolean", "02") == 0);
  CHECK_EQ(fx_root(&f)->kind, CQ_CELL_BOOL);
  CHECK_EQ(fx_root(&f)->i, 1);
  REQUIRE(fx_dec(&f, "float", "3f c0 00 00") == 0);
  CHECK(fx_root(&f)->d == 1.5);
  REQUIRE(fx_dec(&f, "float", "7f c0 00 00") == 0);
  CHECK(isnan(fx_root(&f)->d));
  REQUIRE(fx_dec(&f, "double", "ff f0 00 00 00 00 00 00") == 0);
  CHECK(isinf(fx_root(&f)->d) && fx_root(&f)->d < 0);
  REQUIRE(fx_dec(&f, "date", "80 00 00 00") == 0);
  CHECK_EQ(fx_root(&f)->kind, CQ_CELL_DATE);
  CHECK_EQ(fx_root(&f)->i, 0);
  REQUIRE(fx_dec(&f, "date", "7f ff ff ff") == 0); /* 1969-12-31 */
  CHECK_EQ(fx_root(&f)->i, -1);
  REQUIRE(fx_dec(&f, "date", "00 00 00 00") == 0); /* -5877641-06-23 */
  CHECK_EQ(fx_root(&f)->i, -2147483648LL);
  REQUIRE(fx_dec(&f, "date", "ff ff ff ff") == 0); /* 5881580-07-11 */
  CHECK_EQ(fx_root(&f)->i, 2147483647LL);
  REQUIRE(fx_dec(&f, "time", "00 00 4e 94 91 4e ff ff") == 0);
  CHECK_EQ(fx_root(&f)->i, 86399999999999LL);
  REQUIRE(fx_dec(&f, "timestamp", "ff ff ff ff ff ff ff ff") == 0);
  CHECK_EQ(fx_root(&f)->kind, CQ_CELL_TIMESTAMP);
  CHECK_EQ(fx_root(&f)->i, -1);
  REQUIRE(fx_dec(&f, "duration", "01 03 05") == 0);
  CHECK_EQ(fx_root(&f)->kind, CQ_CELL_DURATION);
  CHECK_EQ(fx_root(&f)->a, -1);
  CHECK_EQ(fx_root(&f)->b, -2);
  CHECK_EQ(fx_root(&f)->i, -3);
  REQUIRE(fx_dec(&f, "duration", "00 00 87 d0") == 0);
  CHECK_EQ(fx_root(&f)->i, 1000);
  REQUIRE(fx_dec(&f, "decimal", "00 00 00 04 ed 29 bc") == 0);
  CHECK_EQ(fx_root(&f)->kind, CQ_CELL_DECIMAL);
  CHECK_EQ(fx_root(&f)->a, 4);
  CHECK_EQ(fx_root(&f)->off, 4);
  CHECK_EQ(fx_root(&f)->len, 3);
  REQUIRE(fx_dec(&f, "varint", "ff 7f") == 0);
  CHECK_EQ(fx_root(&f)->kind, CQ_CELL_BYTES);
  CHECK(fx_root(&f)->flags & CQ_CELL_FLAG_I64);
  CHECK_EQ(fx_root(&f)->i, -129);
  REQUIRE(fx_dec(&f, "text", "68 c3 a9") == 0);
  CHECK_EQ(fx_root(&f)->kind, CQ_CELL_BYTES);
  CHECK_EQ(fx_root(&f)->len, 3);
  fx_free(&f);
}

TEST(null_empty_and_unset_are_distinct) {
  fixture f;
  fx_init(&f);
  cq_cells_reset(&f.c);
  REQUIRE(cq_value_decode(&f.c, T(&f.a, "int"), f.in, -1, &f.root, f.err, sizeof f.err) == 0);
  CHECK_EQ(fx_root(&f)->kind, CQ_CELL_NULL);
  REQUIRE(fx_dec(&f, "int", "") == 0);
  CHECK_EQ(fx_root(&f)->kind, CQ_CELL_EMPTY);
  REQUIRE(fx_dec(&f, "text", "") == 0);
  CHECK_EQ(fx_root(&f)->kind, CQ_CELL_BYTES);
  CHECK_EQ(fx_root(&f)->len, 0);
  /* [value] encoding of each. */
  cq_cell cells[3] = {{.kind = CQ_CELL_NULL}, {.kind = CQ_CELL_UNSET}, {.kind = CQ_CELL_EMPTY}};
  cq_buf b;
  cq_buf_init(&b);
  const cq_type *ti = T(&f.a, "int");
  for (size_t i = 0; i < 3; i++)
    CHECK_EQ(cq_value_encode_value(&b, ti, cells, 3, i, NULL, 0, f.err, sizeof f.err), 0);
  uint8_t want[12];
  H("ff ff ff ff ff ff ff fe 00 00 00 00", want);
  CHECK_EQ(b.len, 12);
  CHECK_MEM(b.data, want, 12);
  /* Unset is illegal inside a collection. */
  cq_cell lc[2] = {{.kind = CQ_CELL_LIST, .off = 1, .len = 1}, {.kind = CQ_CELL_UNSET}};
  cq_buf_reset(&b);
  CHECK_EQ(cq_value_encode(&b, T(&f.a, "list<int>"), lc, 2, 0, NULL, 0, f.err, sizeof f.err),
           CQ_ERR_INVALID);
  CHECK(strstr(f.err, "unset") != NULL);
  cq_buf_free(&b);
  fx_free(&f);
}

TEST(collections_decode_into_child_ranges) {
  fixture f;
  fx_init(&f);
  REQUIRE(fx_dec(&f, "map<text, list<int>>",
                 "00 00 00 02"
                 " 00 00 00 01 61  00 00 00 0c 00 00 00 01 00 00 00 04 00 00 00 05"
                 " 00 00 00 01 62  ff ff ff ff") == 0);
  const cq_cell *m = fx_root(&f);
  CHECK_EQ(m->kind, CQ_CELL_MAP);
  REQUIRE(m->len == 4);
  const cq_cell *k0 = &f.c.v[m->off], *v0 = &f.c.v[m->off + 1], *v1 = &f.c.v[m->off + 3];
  CHECK_EQ(k0->kind, CQ_CELL_BYTES);
  CHECK_EQ(f.in[k0->off], 'a');
  CHECK_EQ(v0->kind, CQ_CELL_LIST);
  REQUIRE(v0->len == 1);
  CHECK_EQ(f.c.v[v0->off].i, 5);
  CHECK_EQ(v1->kind, CQ_CELL_NULL);
  /* Deep nesting: 5 levels of list. */
  REQUIRE(fx_dec(&f, "list<list<list<list<list<int>>>>>",
                 vectors[sizeof vectors / sizeof vectors[0] - 1].hex) == 0);
  const cq_cell *c = fx_root(&f);
  for (int d = 0; d < 5; d++) {
    REQUIRE(c->kind == CQ_CELL_LIST && c->len == 1);
    c = &f.c.v[c->off];
  }
  CHECK_EQ(c->i, 7);
  fx_free(&f);
}

TEST(udt_may_have_fewer_fields_than_its_type) {
  fixture f;
  fx_init(&f);
  const cq_type *fields[3] = {T(&f.a, "int"), T(&f.a, "text"), T(&f.a, "boolean")};
  const char *names[3] = {"a", "b", "c"};
  const cq_type *u = cq_type_udt(&f.a, "ks", "u", names, fields, 3, 1);
  REQUIRE(u);
  f.n = H("00 00 00 04 00 00 00 09 ff ff ff ff", f.in);
  cq_cells_reset(&f.c);
  REQUIRE(cq_value_decode(&f.c, u, f.in, (int64_t)f.n, &f.root, f.err, sizeof f.err) == 0);
  CHECK_EQ(fx_root(&f)->kind, CQ_CELL_UDT);
  CHECK_EQ(fx_root(&f)->len, 2);
  CHECK_EQ(f.c.v[fx_root(&f)->off].i, 9);
  CHECK_EQ(f.c.v[fx_root(&f)->off + 1].kind, CQ_CELL_NULL);
  /* Too many fields is trailing garbage. */
  f.n = H("00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", f.in);
  cq_cells_reset(&f.c);
  CHECK_EQ(cq_value_decode(&f.c, u, f.in, (int64_t)f.n, &f.root, f.err, sizeof f.err),
           CQ_ERR_MALFORMED);
  /* An unresolved reference (no fields) cannot decode. */
  cq_cells_reset(&f.c);
  CHECK_EQ(cq_value_decode(&f.c, T(&f.a, "ks.other"), f.in, 4, &f.root, f.err, sizeof f.err),
           CQ_ERR_INVALID);
  CHECK(strstr(f.err, "unresolved") != NULL);
  fx_free(&f);
}

TEST(error_messages_name_the_type_and_problem) {
  fixture f;
  fx_init(&f);
  CHECK_EQ(fx_dec(&f, "int", "00 00 2a"), CQ_ERR_MALFORMED);
  CHECK_STR(f.err, "int: expected 4 bytes, got 3");
  CHECK_EQ(fx_dec(&f, "list<int>", "00 00 03 e8 00 00 00 04 00 00 00 01"), CQ_ERR_TRUNCATED);
  CHECK(strstr(f.err, "list") && strstr(f.err, "1000"));
  CHECK_EQ(fx_dec(&f, "inet", "01 02 03"), CQ_ERR_MALFORMED);
  CHECK(strstr(f.err, "inet") && strstr(f.err, "4 or 16"));
  CHECK_EQ(fx_dec(&f, "time", "ff ff ff ff ff ff ff ff"), CQ_ERR_MALFORMED);
  CHECK(strstr(f.err, "time"));
  /* Encoding: a cell kind that does not fit names both. */
  cq_cell c = {.kind = CQ_CELL_DOUBLE, .d = 1.0};
  cq_buf b;
  cq_buf_init(&b);
  CHECK_EQ(cq_value_encode(&b, T(&f.a, "int"), &c, 1, 0, NULL, 0, f.err, sizeof f.err),
           CQ_ERR_INVALID);
  CHECK_STR(f.err, "int: expected integer, got double");
  CHECK_EQ(b.len, 0);
  c = (cq_cell){.kind = CQ_CELL_INT, .i = 40000};
  CHECK_EQ(cq_value_encode(&b, T(&f.a, "smallint"), &c, 1, 0, NULL, 0, f.err, sizeof f.err),
           CQ_ERR_INVALID);
  CHECK(strstr(f.err, "out of range"));
  c = (cq_cell){.kind = CQ_CELL_BYTES, .off = 0, .len = 15};
  uint8_t u[15] = {0};
  CHECK_EQ(cq_value_encode(&b, T(&f.a, "uuid"), &c, 1, 0, u, sizeof u, f.err, sizeof f.err),
           CQ_ERR_INVALID);
  c = (cq_cell){.kind = CQ_CELL_BYTES, .off = 10, .len = 15};
  CHECK_EQ(cq_value_encode(&b, T(&f.a, "blob"), &c, 1, 0, u, sizeof u, f.err, sizeof f.err),
           CQ_ERR_INVALID);
  CHECK(strstr(f.err, "outside"));
  c = (cq_cell){.kind = CQ_CELL_LIST, .off = 5, .len = 3};
  CHECK_EQ(cq_value_encode(&b, T(&f.a, "list<int>"), &c, 1, 0, NULL, 0, f.err, sizeof f.err),
           CQ_ERR_INVALID);
  c = (cq_cell){.kind = CQ_CELL_DURATION, .a = 1, .b = -1};
  CHECK_EQ(cq_value_encode(&b, T(&f.a, "duration"), &c, 1, 0, NULL, 0, f.err, sizeof f.err),
           CQ_ERR_INVALID);
  CHECK_EQ(b.len, 0);
  cq_buf_free(&b);
  fx_free(&f);
}

TEST(encode_builds_protocol_bytes) {
  cq_arena a;
  cq_arena_init(&a, 0);
  char err[256];
  const uint8_t src[] = "abcdef";
  /* map<text, vector<text, 2>> {"a": ["b", "cd"]} */
  cq_cell cells[] = {
      {.kind = CQ_CELL_MAP, .off = 1, .len = 2},    {.kind = CQ_CELL_BYTES, .off = 0, .len = 1},
      {.kind = CQ_CELL_VECTOR, .off = 3, .len = 2}, {.kind = CQ_CELL_BYTES, .off = 1, .len = 1},
      {.kind = CQ_CELL_BYTES, .off = 2, .len = 2},
  };
  cq_buf b;
  cq_buf_init(&b);
  REQUIRE(cq_value_encode(&b, T(&a, "map<text, vector<text, 2>>"), cells, 5, 0, src, 6, err,
                          sizeof err) == 0);
  uint8_t want[64];
  size_t n = H("00 00 00 01 00 00 00 01 61 00 00 00 05 01 62 02 63 64", want);
  CHECK_EQ(b.len, n);
  CHECK_MEM(b.data, want, n);
  /* Scalars as [value]s. */
  cq_cell s[] = {{.kind = CQ_CELL_INT, .i = 255},
                 {.kind = CQ_CELL_DATE, .i = -1},
                 {.kind = CQ_CELL_DOUBLE, .d = 1.5},
                 {.kind = CQ_CELL_DURATION, .a = -1, .b = -2, .i = -3},
                 {.kind = CQ_CELL_INT, .i = -129}};
  const char *types[] = {"varint", "date", "float", "duration", "varint"};
  const char *hex[] = {"00 00 00 02 00 ff", "00 00 00 04 7f ff ff ff", "00 00 00 04 3f c0 00 00",
                       "00 00 00 03 01 03 05", "00 00 00 02 ff 7f"};
  for (size_t i = 0; i < 5; i++) {
    cq_buf_reset(&b);
    REQUIRE(cq_value_encode_value(&b, T(&a, types[i]), s, 5, i, NULL, 0, err, sizeof err) == 0);
    n = H(hex[i], want);
    CHECK_EQ(b.len, n);
    CHECK_MEM(b.data, want, n);
  }
  /* Vectors refuse a wrong element count and nulls. */
  cq_cell v[] = {{.kind = CQ_CELL_VECTOR, .off = 1, .len = 2},
                 {.kind = CQ_CELL_DOUBLE, .d = 1},
                 {.kind = CQ_CELL_NULL}};
  cq_buf_reset(&b);
  CHECK_EQ(cq_value_encode(&b, T(&a, "vector<float, 3>"), v, 3, 0, NULL, 0, err, sizeof err),
           CQ_ERR_INVALID);
  CHECK_EQ(cq_value_encode(&b, T(&a, "vector<float, 2>"), v, 3, 0, NULL, 0, err, sizeof err),
           CQ_ERR_INVALID);
  CHECK(strstr(err, "null"));
  cq_buf_free(&b);
  cq_arena_free(&a);
}

/* --- varint / decimal / duration helpers --------------------------- */

static void check_varint_str(const char *hex, const char *dec) {
  uint8_t in[512];
  size_t n = H(hex, in);
  cq_buf b;
  cq_buf_init(&b);
  CHECK_EQ(cq_varint_to_string(&b, in, n), 0);
  cq_buf_put_u8(&b, 0);
  CHECK_STR((const char *)b.data, dec);
  cq_buf_reset(&b);
  CHECK_EQ(cq_varint_from_string(&b, dec, strlen(dec)), 0);
  CHECK_EQ(b.len, n);
  CHECK_MEM(b.data, in, n);
  cq_buf_free(&b);
}

TEST(varint_strings_at_byte_boundaries) {
  check_varint_str("00", "0");
  check_varint_str("01", "1");
  check_varint_str("7f", "127");
  check_varint_str("00 80", "128");
  check_varint_str("00 81", "129");
  check_varint_str("ff", "-1");
  check_varint_str("80", "-128");
  check_varint_str("ff 7f", "-129");
  check_varint_str("00 ff", "255");
  check_varint_str("01 00", "256");
  check_varint_str("ff 00", "-256");
  check_varint_str("80 00", "-32768");
  check_varint_str("7f ff ff ff ff ff ff ff", "9223372036854775807");
  check_varint_str("80 00 00 00 00 00 00 00", "-9223372036854775808");
  check_varint_str("00 80 00 00 00 00 00 00 00", "9223372036854775808");
  check_varint_str("ff 7f ff ff ff ff ff ff ff", "-9223372036854775809");
  /* 2^128 and -(2^128) */
  check_varint_str("01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
                   "340282366920938463463374607431768211456");
  check_varint_str("ff 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
                   "-340282366920938463463374607431768211456");
  cq_buf b;
  cq_buf_init(&b);
  CHECK_EQ(cq_varint_from_string(&b, "12a", 3), CQ_ERR_INVALID);
  CHECK_EQ(cq_varint_from_string(&b, "-", 1), CQ_ERR_INVALID);
  CHECK_EQ(cq_varint_from_string(&b, "", 0), CQ_ERR_INVALID);
  CHECK_EQ(cq_varint_from_string(&b, "-0", 2), 0);
  CHECK_EQ(b.len, 1);
  CHECK_EQ(b.data[0], 0);
  cq_buf_free(&b);
}

TEST(huge_varints_round_trip_through_strings) {
  /* 10^k - 1 and -(10^k) for k up to 400 digits. */
  for (int k = 1; k <= 400; k += 37) {
    char s[420];
    memset(s, '9', (size_t)k);
    s[k] = 0;
    cq_buf b, d;
    cq_buf_init(&b);
    cq_buf_init(&d);
    CHECK_EQ(cq_varint_from_string(&b, s, (size_t)k), 0);
    CHECK_EQ(cq_varint_to_string(&d, b.data, b.len), 0);
    CHECK(d.len == (size_t)k && memcmp(d.data, s, (size_t)k) == 0);
    s[0] = '-';
    s[1] = '1';
    memset(s + 2, '0', (size_t)k);
    s[k + 2] = 0;
    cq_buf_reset(&b);
    cq_buf_reset(&d);
    CHECK_EQ(cq_varint_from_string(&b, s, strlen(s)), 0);
    CHECK(b.data[0] & 0x80);
    CHECK_EQ(cq_varint_to_string(&d, b.data, b.len), 0);
    CHECK(d.len == strlen(s) && memcmp(d.data, s, d.len) == 0);
    cq_buf_free(&b);
    cq_buf_free(&d);
  }
}

TEST(varint_int64_helpers) {
  int64_t vals[] = {0, 1, -1, 127, 128, -128, -129, 255, 256, INT64_MAX, INT64_MIN, 32767, -32769};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    uint8_t b[8];
    size_t n = cq_varint_from_i64(vals[i], b);
    int64_t back = 0;
    CHECK_EQ(cq_varint_to_i64(b, n, &back), 0);
    CHECK(back == vals[i]);
  }
  uint8_t b[8];
  CHECK_EQ(cq_varint_from_i64(127, b), 1);
  CHECK_EQ(cq_varint_from_i64(128, b), 2);
  CHECK_EQ(cq_varint_from_i64(-128, b), 1);
  CHECK_EQ(cq_varint_from_i64(-129, b), 2);
  uint8_t big[9] = {0x00, 0x80, 0, 0, 0, 0, 0, 0, 0};
  int64_t v;
  CHECK_EQ(cq_varint_to_i64(big, 9, &v), CQ_ERR_TOO_LARGE);
  uint8_t padded[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
  CHECK_EQ(cq_varint_to_i64(padded, 10, &v), 0);
  CHECK_EQ(v, -129);
}

static void check_decimal(int32_t scale, const char *unscaled, const char *text) {
  cq_buf u, s;
  cq_buf_init(&u);
  cq_buf_init(&s);
  CHECK_EQ(cq_varint_from_string(&u, unscaled, strlen(unscaled)), 0);
  CHECK_EQ(cq_decimal_to_string(&s, scale, u.data, u.len), 0);
  cq_buf_put_u8(&s, 0);
  CHECK_STR((const char *)s.data, text);
  cq_buf u2;
  cq_buf_init(&u2);
  int32_t sc2 = 0;
  CHECK_EQ(cq_decimal_from_string(&u2, &sc2, text, strlen(text)), 0);
  CHECK_EQ(sc2, scale);
  CHECK(u2.len == u.len && memcmp(u2.data, u.data, u.len) == 0);
  cq_buf_free(&u);
  cq_buf_free(&s);
  cq_buf_free(&u2);
}

TEST(decimal_strings) {
  check_decimal(4, "-1234500", "-123.4500");
  check_decimal(0, "42", "42");
  check_decimal(2, "5", "0.05");
  check_decimal(1, "-5", "-0.5");
  check_decimal(3, "0", "0.000");
  /* Java's BigDecimal.toString forms, which Cassandra's CAST(x AS text) prints. */
  check_decimal(-3, "12", "1.2E+4");
  check_decimal(-1, "123", "1.23E+3");
  check_decimal(-2, "0", "0E+2");
  check_decimal(1000, "7", "7E-1000");
  check_decimal(6, "1", "0.000001"); /* adjusted exponent -6: still plain */
  check_decimal(7, "1", "1E-7");     /* -7: scientific */
  check_decimal(10, "-123456", "-0.0000123456");
  check_decimal(12, "123456", "1.23456E-7");
  check_decimal(2, "123456789012345678901234567890", "1234567890123456789012345678.90");
  cq_buf u;
  cq_buf_init(&u);
  int32_t sc;
  CHECK_EQ(cq_decimal_from_string(&u, &sc, "1.5e3", 5), 0);
  CHECK_EQ(sc, -2);
  CHECK_EQ(cq_decimal_from_string(&u, &sc, "abc", 3), CQ_ERR_INVALID);
  CHECK_EQ(cq_decimal_from_string(&u, &sc, "1.2.3", 5), CQ_ERR_INVALID);
  CHECK_EQ(cq_decimal_from_string(&u, &sc, "1e", 2), CQ_ERR_INVALID);
  CHECK_EQ(cq_decimal_from_string(&u, &sc, "1e99999999999", 13), CQ_ERR_TOO_LARGE);
  cq_buf_free(&u);
}

static void check_dur(const char *s, int32_t mo, int32_t d, int64_t ns) {
  int32_t m2 = 99, d2 = 99;
  int64_t n2 = 99;
  char err[200] = "";
  int rc = cq_duration_from_string(s, strlen(s), &m2, &d2, &n2, err, sizeof err);
  if (rc != 0 || m2 != mo || d2 != d || n2 != ns)
    UNIT_FAIL("duration '%s': rc %d (%s) -> %d %d %lld, want %d %d %lld", s, rc, err, m2, d2,
              (long long)n2, mo, d, (long long)ns);
}

TEST(duration_strings) {
  check_dur("1y2mo3w4d5h6m7s8ms9us10ns", 14, 25,
            5 * 3600000000000LL + 6 * 60000000000LL + 7000000000LL + 8000000 + 9000 + 10);
  check_dur("-1d", 0, -1, 0);
  check_dur("12H30M", 0, 0, 12 * 3600000000000LL + 30 * 60000000000LL);
  check_dur("5\xc2\xb5s", 0, 0, 5000);
  check_dur("P1Y2M3DT4H5M6S", 14, 3, 4 * 3600000000000LL + 5 * 60000000000LL + 6000000000LL);
  check_dur("P2W", 0, 14, 0);
  check_dur("-P1D", 0, -1, 0);
  check_dur("P0001-02-03T04:05:06", 14, 3, 4 * 3600000000000LL + 5 * 60000000000LL + 6000000000LL);
  check_dur("0s", 0, 0, 0);
  check_dur("-9223372036854775808ns", 0, 0, INT64_MIN);
  check_dur("2147483647mo", INT32_MAX, 0, 0);
  int32_t m, d;
  int64_t n;
  char err[200];
  CHECK_EQ(cq_duration_from_string("1x", 2, &m, &d, &n, err, sizeof err), CQ_ERR_INVALID);
  CHECK(strstr(err, "offset 1"));
  CHECK_EQ(cq_duration_from_string("", 0, &m, &d, &n, err, sizeof err), CQ_ERR_INVALID);
  CHECK_EQ(cq_duration_from_string("d", 1, &m, &d, &n, err, sizeof err), CQ_ERR_INVALID);
  CHECK_EQ(cq_duration_from_string("P", 1, &m, &d, &n, err, sizeof err), CQ_ERR_INVALID);
  CHECK_EQ(cq_duration_from_string("PT1D", 4, &m, &d, &n, err, sizeof err), CQ_ERR_INVALID);
  CHECK_EQ(cq_duration_from_string("2147483648mo", 12, &m, &d, &n, err, sizeof err),
           CQ_ERR_TOO_LARGE);
  CHECK_EQ(cq_duration_from_string("9223372036854775808ns", 21, &m, &d, &n, err, sizeof err),
           CQ_ERR_TOO_LARGE);
  CHECK_EQ(cq_duration_from_string("99999999999999999999y", 21, &m, &d, &n, err, sizeof err),
           CQ_ERR_TOO_LARGE);

  char out[64];
  CHECK(cq_duration_to_string(out, sizeof out, 14, 25, 5 * 3600000000000LL + 10) > 0);
  CHECK_STR(out, "1y2mo25d5h10ns");
  CHECK(cq_duration_to_string(out, sizeof out, -1, -2, -3) > 0);
  CHECK_STR(out, "-1mo2d3ns");
  CHECK(cq_duration_to_string(out, sizeof out, 0, 0, 0) > 0);
  CHECK_STR(out, "0s");
  CHECK(cq_duration_to_string(out, sizeof out, INT32_MIN, INT32_MIN, INT64_MIN) > 0);
  CHECK_EQ(cq_duration_to_string(out, 4, 14, 25, 1), CQ_ERR_TOO_LARGE);
  /* Round trip through text for extremes. */
  int32_t mm[] = {0, 1, 13, INT32_MAX, -1, INT32_MIN};
  for (size_t i = 0; i < sizeof mm / sizeof mm[0]; i++) {
    int64_t ns = mm[i] < 0 ? INT64_MIN + (int64_t)i : INT64_MAX - (int64_t)i;
    int32_t dd = mm[i] < 0 ? -7 : 7;
    CHECK(cq_duration_to_string(out, sizeof out, mm[i], dd, ns) > 0);
    check_dur(out, mm[i], dd, ns);
  }
}

/* --- round-trip property ------------------------------------------- */

static const cq_type_kind natives[] = {
    CQ_TYPE_ASCII,   CQ_TYPE_BIGINT,  CQ_TYPE_BLOB,     CQ_TYPE_BOOLEAN,  CQ_TYPE_COUNTER,
    CQ_TYPE_DECIMAL, CQ_TYPE_DOUBLE,  CQ_TYPE_FLOAT,    CQ_TYPE_INT,      CQ_TYPE_TIMESTAMP,
    CQ_TYPE_UUID,    CQ_TYPE_VARCHAR, CQ_TYPE_VARINT,   CQ_TYPE_TIMEUUID, CQ_TYPE_INET,
    CQ_TYPE_DATE,    CQ_TYPE_TIME,    CQ_TYPE_SMALLINT, CQ_TYPE_TINYINT,  CQ_TYPE_DURATION};

static const cq_type *rand_type(cq_arena *a, int depth) {
  unsigned r = (unsigned)(unit_rand() % 10);
  if (depth >= 4 || r < 5) {
    if (unit_rand() % 30 == 0) return cq_type_custom(a, "com.example.Blobby");
    return cq_type_native(a, natives[unit_rand() % (sizeof natives / sizeof natives[0])]);
  }
  switch (r) {
  case 5: return cq_type_list(a, rand_type(a, depth + 1), (int)(unit_rand() & 1));
  case 6: return cq_type_set(a, rand_type(a, depth + 1), 1);
  case 7: return cq_type_map(a, rand_type(a, depth + 1), rand_type(a, depth + 1), 0);
  case 8: {
    const cq_type *subs[4];
    size_t n = 1 + unit_rand() % 4;
    for (size_t i = 0; i < n; i++)
      subs[i] = rand_type(a, depth + 1);
    if (unit_rand() & 1) return cq_type_tuple(a, subs, n);
    const char *names[4] = {"f1", "F2", "f 3", "f4"};
    return cq_type_udt(a, "ks", "ud", names, subs, n, 1);
  }
  default: return cq_type_vector(a, rand_type(a, depth + 1), 1 + (uint32_t)(unit_rand() % 4));
  }
}

/* Appends n random bytes to the source buffer; returns their offset. */
static uint32_t rand_bytes(cq_buf *src, size_t n, int ascii) {
  uint32_t off = (uint32_t)src->len;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = (uint8_t)unit_rand();
    cq_buf_put_u8(src, ascii ? (uint8_t)(c & 0x7f) : c);
  }
  return off;
}

static uint32_t rand_utf8(cq_buf *src, uint32_t *len) {
  static const char *const pieces[] = {
      "a",        "Z",           "0", " ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
      "\xdf\xbf", "\xef\xbf\xbf"};
  uint32_t off = (uint32_t)src->len;
  size_t n = unit_rand() % 12;
  for (size_t i = 0; i < n; i++) {
    const char *p = pieces[unit_rand() % (sizeof pieces / sizeof pieces[0])];
    cq_buf_put(src, p, strlen(p));
  }
  *len = (uint32_t)(src->len - off);
  return off;
}

static void rand_varint(cq_buf *src, cq_cell *c) {
  size_t n = 1 + unit_rand() % 24;
  uint32_t off = rand_bytes(src, n, 0);
  /* Make it minimal: drop redundant sign bytes. */
  uint8_t *p = src->data + off;
  size_t skip = 0;
  while (n - skip > 1 &&
         ((p[skip] == 0 && !(p[skip + 1] & 0x80)) || (p[skip] == 0xff && (p[skip + 1] & 0x80))))
    skip++;
  c->off = off + (uint32_t)skip;
  c->len = (uint32_t)(n - skip);
}

/* Fills cells->v[idx] with a random valid value of type t. */
static void rand_value(cq_cells *cells, size_t idx, const cq_type *t, cq_buf *src, int in_vector,
                       int top) {
  cq_cell c;
  memset(&c, 0, sizeof c);
  int fixed_vec = in_vector && cq_vector_elem_fixed_size(t);
  if (!in_vector && !top && unit_rand() % 12 == 0) { /* null element */
    cells->v[idx] = c;
    return;
  }
  if (!fixed_vec && t->kind != CQ_TYPE_VARCHAR && t->kind != CQ_TYPE_ASCII &&
      t->kind != CQ_TYPE_BLOB && t->kind != CQ_TYPE_CUSTOM && unit_rand() % 15 == 0) {
    c.kind = CQ_CELL_EMPTY;
    cells->v[idx] = c;
    return;
  }
  uint64_t r = unit_rand();
  switch (t->kind) {
  case CQ_TYPE_BIGINT:
  case CQ_TYPE_COUNTER: c.kind = CQ_CELL_INT, c.i = (int64_t)r; break;
  case CQ_TYPE_INT: c.kind = CQ_CELL_INT, c.i = (int32_t)r; break;
  case CQ_TYPE_SMALLINT: c.kind = CQ_CELL_INT, c.i = (int16_t)r; break;
  case CQ_TYPE_TINYINT: c.kind = CQ_CELL_INT, c.i = (int8_t)r; break;
  case CQ_TYPE_BOOLEAN: c.kind = CQ_CELL_BOOL, c.i = (int64_t)(r & 1); break;
  case CQ_TYPE_DOUBLE: {
    c.kind = CQ_CELL_DOUBLE;
    memcpy(&c.d, &r, 8);
    if (isnan(c.d)) c.d = NAN;
    break;
  }
  case CQ_TYPE_FLOAT: {
    uint32_t u = (uint32_t)r;
    float f;
    memcpy(&f, &u, 4);
    c.kind = CQ_CELL_DOUBLE;
    c.d = isnan(f) ? (double)NAN : (double)f;
    break;
  }
  case CQ_TYPE_TIMESTAMP: c.kind = CQ_CELL_TIMESTAMP, c.i = (int64_t)r; break;
  case CQ_TYPE_DATE: c.kind = CQ_CELL_DATE, c.i = (int64_t)(r & 0xffffffffu) - 2147483648LL; break;
  case CQ_TYPE_TIME: c.kind = CQ_CELL_TIME, c.i = (int64_t)(r % 86400000000000ULL); break;
  case CQ_TYPE_DURATION: {
    int neg = (int)(r & 1);
    c.kind = CQ_CELL_DURATION;
    c.a = (int32_t)((r >> 1) % 1000000);
    c.b = (int32_t)((r >> 21) % 100000);
    c.i = (int64_t)(unit_rand() >> 1);
    if (neg) c.a = -c.a, c.b = -c.b, c.i = -c.i;
    break;
  }
  case CQ_TYPE_UUID:
  case CQ_TYPE_TIMEUUID:
    c.kind = CQ_CELL_BYTES;
    c.off = rand_bytes(src, 16, 0);
    c.len = 16;
    if (t->kind == CQ_TYPE_TIMEUUID)
      src->data[c.off + 6] = (uint8_t)((src->data[c.off + 6] & 0x0f) | 0x10);
    break;
  case CQ_TYPE_INET:
    c.kind = CQ_CELL_BYTES;
    c.len = (r & 1) ? 4 : 16;
    c.off = rand_bytes(src, c.len, 0);
    break;
  case CQ_TYPE_ASCII:
    c.kind = CQ_CELL_BYTES;
    c.len = (uint32_t)(r % 20);
    c.off = rand_bytes(src, c.len, 1);
    break;
  case CQ_TYPE_BLOB:
  case CQ_TYPE_CUSTOM:
    c.kind = CQ_CELL_BYTES;
    c.len = (uint32_t)(r % 20);
    c.off = rand_bytes(src, c.len, 0);
    break;
  case CQ_TYPE_VARCHAR: c.kind = CQ_CELL_BYTES, c.off = rand_utf8(src, &c.len); break;
  case CQ_TYPE_VARINT: c.kind = CQ_CELL_BYTES, rand_varint(src, &c); break;
  case CQ_TYPE_DECIMAL: c.kind = CQ_CELL_DECIMAL, c.a = (int32_t)r, rand_varint(src, &c); break;
  case CQ_TYPE_LIST:
  case CQ_TYPE_SET:
  case CQ_TYPE_MAP:
  case CQ_TYPE_TUPLE:
  case CQ_TYPE_UDT:
  case CQ_TYPE_VECTOR: {
    size_t n;
    if (t->kind == CQ_TYPE_VECTOR)
      n = t->dimension;
    else if (t->kind == CQ_TYPE_TUPLE)
      n = t->nsub;
    else if (t->kind == CQ_TYPE_UDT)
      n = t->nsub - (r % 3 == 0 ? r / 3 % t->nsub : 0);
    else
      n = (r % 5) * (t->kind == CQ_TYPE_MAP ? 2 : 1);
    int64_t first = cq_cells_push(cells, n);
    if (first < 0) abort();
    c.kind = t->kind == CQ_TYPE_LIST    ? CQ_CELL_LIST
             : t->kind == CQ_TYPE_SET   ? CQ_CELL_SET
             : t->kind == CQ_TYPE_MAP   ? CQ_CELL_MAP
             : t->kind == CQ_TYPE_TUPLE ? CQ_CELL_TUPLE
             : t->kind == CQ_TYPE_UDT   ? CQ_CELL_UDT
                                        : CQ_CELL_VECTOR;
    c.off = (uint32_t)first;
    c.len = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
      const cq_type *st = t->kind == CQ_TYPE_MAP                                 ? t->sub[i & 1]
                          : (t->kind == CQ_TYPE_TUPLE || t->kind == CQ_TYPE_UDT) ? t->sub[i]
                                                                                 : t->sub[0];
      rand_value(cells, (size_t)first + i, st, src, t->kind == CQ_TYPE_VECTOR, 0);
    }
    break;
  }
  default: abort();
  }
  cells->v[idx] = c;
}

TEST(round_trip_random_types_and_values) {
  int failures = 0;
  for (int iter = 0; iter < 4000 && failures < 5; iter++) {
    cq_arena a;
    cq_arena_init(&a, 0);
    cq_cells in, out;
    cq_cells_init(&in);
    cq_cells_init(&out);
    cq_buf src, enc, enc2;
    cq_buf_init(&src);
    cq_buf_init(&enc);
    cq_buf_init(&enc2);
    cq_buf_put_u8(&src, 0); /* so src.data is never NULL */
    const cq_type *t = rand_type(&a, 0);
    char err[256] = "";
    if (cq_cells_push(&in, 1) != 0) abort();
    rand_value(&in, 0, t, &src, 0, 1);
    int rc = cq_value_encode(&enc, t, in.v, in.n, 0, src.data, src.len, err, sizeof err);
    size_t root = 0;
    if (rc == 0) {
      cq_buf_put_u8(&enc, 0); /* non-NULL data even for empty values */
      enc.len--;
      rc = cq_value_decode(&out, t, enc.data, (int64_t)enc.len, &root, err, sizeof err);
    }
    if (rc == 0 && !cq_cell_equal(in.v, in.n, 0, src.data, out.v, out.n, root, enc.data)) rc = -100;
    if (rc == 0) {
      /* Encoding the decoded cells gives the same bytes again. */
      rc = cq_value_encode(&enc2, t, out.v, out.n, root, enc.data, enc.len, err, sizeof err);
      if (rc == 0 &&
          (enc2.len != enc.len || (enc.len && memcmp(enc2.data, enc.data, enc.len) != 0)))
        rc = -101;
    }
    if (rc != 0) {
      cq_buf ts;
      cq_buf_init(&ts);
      cq_type_to_cql(&ts, t);
      cq_buf_put_u8(&ts, 0);
      UNIT_FAIL("iteration %d type %s: rc %d %s", iter, (char *)ts.data, rc, err);
      cq_buf_free(&ts);
      failures++;
    }
    cq_buf_free(&src);
    cq_buf_free(&enc);
    cq_buf_free(&enc2);
    cq_cells_free(&in);
    cq_cells_free(&out);
    cq_arena_free(&a);
  }
}

TEST(uvint_encoding) {
  uint64_t vals[] = {0,          1,         127, 128, 16383, 16384, 256000, (1ull << 56) - 1,
                     1ull << 56, UINT64_MAX};
  size_t lens[] = {1, 1, 1, 2, 2, 3, 3, 8, 9, 9};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    uint8_t b[9];
    size_t n = cq_uvint_put(b, vals[i]);
    CHECK_EQ(n, lens[i]);
    uint64_t v = 0;
    CHECK_EQ(cq_uvint_get(b, n, &v), n);
    CHECK_EQ_U64(v, vals[i]);
    CHECK_EQ(cq_uvint_get(b, n - 1, &v), 0);
  }
  uint8_t b[9];
  cq_uvint_put(b, 256000); /* the spec's example: 110 00011 11101000 00000000 */
  CHECK_EQ(b[0], 0xC3);
  CHECK_EQ(b[1], 0xE8);
  CHECK_EQ(b[2], 0x00);
}

TEST(deep_type_trees_are_refused_not_recursed) {
  cq_arena a;
  cq_arena_init(&a, 0);
  const cq_type *t = cq_type_native(&a, CQ_TYPE_INT);
  for (int i = 0; i < 100; i++)
    t = cq_type_list(&a, t, 0);
  /* 100 levels of one-element lists around an empty list. */
  static uint8_t in[800];
  size_t n = 4, len = 4; /* innermost: count 0 */
  memset(in, 0, sizeof in);
  for (int i = 0; i < 99; i++) {
    memmove(in + 8, in, n);
    cq_store_u32(in, 1);
    cq_store_u32(in + 4, (uint32_t)len);
    n += 8;
    len = n;
  }
  cq_cells c;
  cq_cells_init(&c);
  size_t root;
  char err[128];
  CHECK_EQ(cq_value_decode(&c, t, in, (int64_t)n, &root, err, sizeof err), CQ_ERR_TOO_LARGE);
  CHECK(strstr(err, "deeper"));
  cq_cells_free(&c);
  cq_arena_free(&a);
}

UNIT_MAIN()
