#include "../../src/core/type_option.h"
#include "unit.h"

static const cq_type *read_ok(cq_arena *a, const uint8_t *in, size_t n) {
  cq_reader r;
  cq_reader_init(&r, in, n);
  const cq_type *t = NULL;
  cq_diag d;
  int rc = cq_type_option_read(&r, a, &t, &d);
  if (rc != CQ_OK) fprintf(stderr, "    unexpected failure: %s\n", d.msg);
  CHECK_EQ(rc, CQ_OK);
  CHECK_EQ(r.pos, n);
  return t;
}

/* Every strict prefix of a valid encoding must fail cleanly (TRUNCATED). */
static void check_prefixes_fail(const uint8_t *in, size_t n) {
  for (size_t k = 0; k < n; k++) {
    cq_arena a;
    cq_arena_init(&a, 0);
    cq_reader r;
    cq_reader_init(&r, in, k);
    const cq_type *t = (const cq_type *)1;
    cq_diag d;
    int rc = cq_type_option_read(&r, &a, &t, &d);
    if (rc != CQ_ERR_TRUNCATED) UNIT_FAIL("prefix %zu: rc %d", k, rc);
    CHECK(t == NULL);
    CHECK(d.msg[0] != '\0');
    cq_arena_free(&a);
  }
}

static void check_roundtrip(const cq_type *t, const uint8_t *want, size_t n) {
  cq_buf b;
  cq_buf_init(&b);
  CHECK_EQ(cq_type_option_write(&b, t), CQ_OK);
  CHECK_EQ(b.len, n);
  if (b.len == n) CHECK_MEM(b.data, want, n);
  cq_buf_free(&b);
}

TEST(natives_map_to_their_kinds) {
  static const unsigned ids[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0B,
                                 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    cq_arena a;
    cq_arena_init(&a, 0);
    uint8_t in[2] = {0, (uint8_t)ids[i]};
    const cq_type *t = read_ok(&a, in, 2);
    REQUIRE(t);
    CHECK_EQ(t->kind, ids[i]);
    CHECK_EQ(t->nsub, 0);
    check_roundtrip(t, in, 2);
    cq_arena_free(&a);
  }
}

TEST(unknown_ids_are_malformed) {
  static const unsigned ids[] = {0x000A, 0x0016, 0x001F, 0x0023, 0x0032, 0x0100, 0xFFFF};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    cq_arena a;
    cq_arena_init(&a, 0);
    uint8_t in[2] = {(uint8_t)(ids[i] >> 8), (uint8_t)ids[i]};
    cq_reader r;
    cq_reader_init(&r, in, 2);
    const cq_type *t;
    cq_diag d;
    CHECK_EQ(cq_type_option_read(&r, &a, &t, &d), CQ_ERR_MALFORMED);
    CHECK(strstr(d.msg, "unknown option id") != NULL);
    cq_arena_free(&a);
  }
}

/* An [option] carrying a custom class name. */
static size_t custom_option(uint8_t *in, const char *cls) {
  size_t n = strlen(cls);
  in[0] = 0;
  in[1] = 0;
  in[2] = (uint8_t)(n >> 8);
  in[3] = (uint8_t)n;
  memcpy(in + 4, cls, n);
  return 4 + n;
}

TEST(known_class_names_become_their_types_and_write_back_unchanged) {
  cq_arena a;
  cq_arena_init(&a, 0);
  uint8_t in[256];
  /* Vectors only ever arrive as class names. */
  size_t n = custom_option(
      in,
      "org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType, 3)");
  const cq_type *t = read_ok(&a, in, n);
  REQUIRE(t);
  CHECK_EQ(t->kind, CQ_TYPE_VECTOR);
  CHECK_EQ(t->dimension, 3);
  REQUIRE(t->nsub == 1 && t->sub[0]);
  CHECK_EQ(t->sub[0]->kind, CQ_TYPE_FLOAT);
  check_roundtrip(t, in, n);
  check_prefixes_fail(in, n);
  /* On v3 a date column arrives as SimpleDateType. */
  n = custom_option(in, "org.apache.cassandra.db.marshal.SimpleDateType");
  t = read_ok(&a, in, n);
  REQUIRE(t);
  CHECK_EQ(t->kind, CQ_TYPE_DATE);
  check_roundtrip(t, in, n);
  /* Inside a collection too: list<duration> as a v4 server sends it. */
  static const char dur[] = "org.apache.cassandra.db.marshal.DurationType";
  uint8_t l[64] = {0x00, 0x20};
  size_t m = 2 + custom_option(l + 2, dur);
  t = read_ok(&a, l, m);
  REQUIRE(t && t->nsub == 1);
  CHECK_EQ(t->kind, CQ_TYPE_LIST);
  CHECK_EQ(t->sub[0]->kind, CQ_TYPE_DURATION);
  check_roundtrip(t, l, m);
  cq_arena_free(&a);
}

TEST(unknown_class_names_stay_custom) {
  cq_arena a;
  cq_arena_init(&a, 0);
  uint8_t in[128];
  size_t n = custom_option(in, "com.example.GeoPointType");
  const cq_type *t = read_ok(&a, in, n);
  REQUIRE(t);
  CHECK_EQ(t->kind, CQ_TYPE_CUSTOM);
  CHECK_STR(t->custom_class, "com.example.GeoPointType");
  check_roundtrip(t, in, n);
  cq_arena_free(&a);
}

TEST(collections) {
  cq_arena a;
  cq_arena_init(&a, 0);
  /* map<text, list<int>> */
  static const uint8_t m[] = {0x00, 0x21, 0x00, 0x0D, 0x00, 0x20, 0x00, 0x09};
  const cq_type *t = read_ok(&a, m, sizeof m);
  REQUIRE(t);
  CHECK_EQ(t->kind, CQ_TYPE_MAP);
  CHECK_EQ(t->nsub, 2);
  CHECK_EQ(t->sub[0]->kind, CQ_TYPE_VARCHAR);
  CHECK_EQ(t->sub[1]->kind, CQ_TYPE_LIST);
  CHECK_EQ(t->sub[1]->nsub, 1);
  CHECK_EQ(t->sub[1]->sub[0]->kind, CQ_TYPE_INT);
  check_roundtrip(t, m, sizeof m);
  check_prefixes_fail(m, sizeof m);
  /* set<uuid> */
  static const uint8_t s[] = {0x00, 0x22, 0x00, 0x0C};
  t = read_ok(&a, s, sizeof s);
  REQUIRE(t);
  CHECK_EQ(t->kind, CQ_TYPE_SET);
  CHECK_EQ(t->sub[0]->kind, CQ_TYPE_UUID);
  check_roundtrip(t, s, sizeof s);
  cq_arena_free(&a);
}

TEST(udt_and_tuple) {
  cq_arena a;
  cq_arena_init(&a, 0);
  /* UDT ks.addr {street text, zip tuple<int, blob>} */
  static const uint8_t u[] = {0x00, 0x30, 0x00, 0x02, 'k',  's',  0x00, 0x04, 'a', 'd',
                              'd',  'r',  0x00, 0x02, 0x00, 0x06, 's',  't',  'r', 'e',
                              'e',  't',  0x00, 0x0D, 0x00, 0x03, 'z',  'i',  'p', 0x00,
                              0x31, 0x00, 0x02, 0x00, 0x09, 0x00, 0x03};
  const cq_type *t = read_ok(&a, u, sizeof u);
  REQUIRE(t);
  CHECK_EQ(t->kind, CQ_TYPE_UDT);
  CHECK_STR(t->keyspace, "ks");
  CHECK_STR(t->name, "addr");
  REQUIRE(t->nsub == 2);
  CHECK_STR(t->field_names[0], "street");
  CHECK_STR(t->field_names[1], "zip");
  CHECK_EQ(t->sub[0]->kind, CQ_TYPE_VARCHAR);
  CHECK_EQ(t->sub[1]->kind, CQ_TYPE_TUPLE);
  REQUIRE(t->sub[1]->nsub == 2);
  CHECK_EQ(t->sub[1]->sub[0]->kind, CQ_TYPE_INT);
  CHECK_EQ(t->sub[1]->sub[1]->kind, CQ_TYPE_BLOB);
  check_roundtrip(t, u, sizeof u);
  check_prefixes_fail(u, sizeof u);

  cq_arena b2;
  cq_arena_init(&b2, 0);
  const cq_type *t2 = read_ok(&b2, u, sizeof u);
  CHECK(cq_type_equal(t, t2));
  static const uint8_t other[] = {0x00, 0x31, 0x00, 0x01, 0x00, 0x09};
  const cq_type *t3 = read_ok(&b2, other, sizeof other);
  CHECK(!cq_type_equal(t, t3));
  CHECK(!cq_type_equal(t->sub[1], t3));
  cq_arena_free(&b2);
  cq_arena_free(&a);
}

TEST(empty_udt_and_tuple) {
  cq_arena a;
  cq_arena_init(&a, 0);
  static const uint8_t u[] = {0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  const cq_type *t = read_ok(&a, u, sizeof u);
  REQUIRE(t);
  CHECK_EQ(t->nsub, 0);
  CHECK_STR(t->keyspace, "");
  check_roundtrip(t, u, sizeof u);
  static const uint8_t tu[] = {0x00, 0x31, 0x00, 0x00};
  t = read_ok(&a, tu, sizeof tu);
  REQUIRE(t);
  CHECK_EQ(t->kind, CQ_TYPE_TUPLE);
  check_roundtrip(t, tu, sizeof tu);
  cq_arena_free(&a);
}

TEST(lying_counts_fail_fast) {
  cq_arena a;
  cq_arena_init(&a, 0);
  static const uint8_t u[] = {0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00};
  cq_reader r;
  cq_reader_init(&r, u, sizeof u);
  const cq_type *t;
  cq_diag d;
  CHECK_EQ(cq_type_option_read(&r, &a, &t, &d), CQ_ERR_TRUNCATED);
  CHECK(strstr(d.msg, "65535 fields") != NULL);
  static const uint8_t tu[] = {0x00, 0x31, 0xFF, 0xFF, 0x00, 0x09};
  cq_reader_init(&r, tu, sizeof tu);
  CHECK_EQ(cq_type_option_read(&r, &a, &t, &d), CQ_ERR_TRUNCATED);
  CHECK(a.used < 4096);
  cq_arena_free(&a);
}

TEST(depth_limit) {
  uint8_t in[2 * 80];
  for (int depth = 62; depth <= 66; depth++) {
    /* depth-1 lists wrapping an int: depth nodes in all. */
    size_t n = 0;
    for (int i = 0; i < depth - 1; i++) {
      in[n++] = 0x00;
      in[n++] = 0x20;
    }
    in[n++] = 0x00;
    in[n++] = 0x09;
    cq_arena a;
    cq_arena_init(&a, 0);
    cq_reader r;
    cq_reader_init(&r, in, n);
    const cq_type *t;
    cq_diag d;
    int rc = cq_type_option_read(&r, &a, &t, &d);
    if (depth <= CQ_TYPE_OPTION_MAX_DEPTH) {
      CHECK_EQ(rc, CQ_OK);
      cq_buf b;
      cq_buf_init(&b);
      CHECK_EQ(cq_type_option_write(&b, t), CQ_OK);
      CHECK_EQ(b.len, n);
      cq_buf_free(&b);
    } else {
      CHECK_EQ(rc, CQ_ERR_MALFORMED);
      CHECK(strstr(d.msg, "deeper") != NULL);
    }
    cq_arena_free(&a);
  }
}

TEST(embedded_nul_in_names_is_malformed) {
  static const uint8_t in[] = {0x00, 0x30, 0x00, 0x02, 'k', 0x00, 0x00, 0x01, 'u', 0x00, 0x00};
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_reader r;
  cq_reader_init(&r, in, sizeof in);
  const cq_type *t;
  cq_diag d;
  CHECK_EQ(cq_type_option_read(&r, &a, &t, &d), CQ_ERR_MALFORMED);
  CHECK(strstr(d.msg, "NUL") != NULL);
  cq_arena_free(&a);
}

TEST(write_refuses_bad_trees) {
  cq_buf b;
  cq_buf_init(&b);
  cq_type vec = {.kind = CQ_TYPE_VECTOR, .nsub = 0, .dimension = 3};
  CHECK_EQ(cq_type_option_write(&b, &vec), CQ_ERR_UNSUPPORTED);
  cq_buf_reset(&b);
  vec.custom_class = "org.apache.cassandra.db.marshal.VectorType(x, 3)";
  CHECK_EQ(cq_type_option_write(&b, &vec), CQ_OK);
  CHECK_EQ(b.data[0], 0);
  CHECK_EQ(b.data[1], 0);
  cq_buf_reset(&b);
  cq_type list = {.kind = CQ_TYPE_LIST, .nsub = 0};
  CHECK_EQ(cq_type_option_write(&b, &list), CQ_ERR_INVALID);
  cq_buf_reset(&b);
  cq_type bogus = {.kind = (cq_type_kind)0x0A};
  CHECK_EQ(cq_type_option_write(&b, &bogus), CQ_ERR_INVALID);
  cq_buf_reset(&b);
  CHECK_EQ(cq_type_option_write(&b, NULL), CQ_ERR_INVALID);
  cq_buf_free(&b);
}

TEST(random_bytes_never_crash) {
  uint8_t in[64];
  for (int iter = 0; iter < 20000; iter++) {
    size_t n = (size_t)(unit_rand() % sizeof in);
    for (size_t i = 0; i < n; i++) {
      uint64_t x = unit_rand();
      /* Bias toward small ids and lengths so structure appears. */
      in[i] = (uint8_t)((x & 3) ? (x >> 8) % 0x32 : x >> 16);
    }
    cq_arena a;
    cq_arena_init(&a, 0);
    cq_reader r;
    cq_reader_init(&r, in, n);
    const cq_type *t;
    cq_diag d;
    int rc = cq_type_option_read(&r, &a, &t, &d);
    if (rc == CQ_OK) {
      cq_buf b;
      cq_buf_init(&b);
      CHECK_EQ(cq_type_option_write(&b, t), CQ_OK);
      CHECK_EQ(b.len, r.pos);
      if (b.len == r.pos) CHECK_MEM(b.data, in, b.len);
      cq_buf_free(&b);
    }
    cq_arena_free(&a);
  }
}

UNIT_MAIN()
