/* Type parsers: marshal class names and CQL type strings. */
#include "../../src/core/arena.h"
#include "../../src/core/buf.h"
#include "../../src/core/type_parse.h"
#include "../../src/core/type_util.h"
#include "unit.h"

#define M CQ_MARSHAL_PREFIX

static const cq_type *pclass(cq_arena *a, const char *s, int *rc, char *err, size_t errcap) {
  const cq_type *t = NULL;
  *rc = cq_type_parse_class(a, s, strlen(s), &t, err, errcap);
  return t;
}

static const cq_type *pcql(cq_arena *a, const char *s, int *rc, char *err, size_t errcap) {
  const cq_type *t = NULL;
  *rc = cq_type_parse_cql(a, s, strlen(s), &t, err, errcap);
  return t;
}

/* Formats t as CQL into a static-free caller buffer. */
static const char *as_cql(cq_buf *b, const cq_type *t) {
  cq_buf_reset(b);
  cq_type_to_cql(b, t);
  cq_buf_put_u8(b, 0);
  return (const char *)b->data;
}

static const char *as_class(cq_buf *b, const cq_type *t) {
  cq_buf_reset(b);
  cq_type_to_class(b, t);
  cq_buf_put_u8(b, 0);
  return (const char *)b->data;
}

TEST(class_names_of_every_native_type) {
  static const struct {
    const char *name;
    cq_type_kind kind;
  } cases[] = {
      {"AsciiType", CQ_TYPE_ASCII},
      {"LongType", CQ_TYPE_BIGINT},
      {"BytesType", CQ_TYPE_BLOB},
      {"BooleanType", CQ_TYPE_BOOLEAN},
      {"CounterColumnType", CQ_TYPE_COUNTER},
      {"DecimalType", CQ_TYPE_DECIMAL},
      {"DoubleType", CQ_TYPE_DOUBLE},
      {"FloatType", CQ_TYPE_FLOAT},
      {"Int32Type", CQ_TYPE_INT},
      {"TimestampType", CQ_TYPE_TIMESTAMP},
      {"DateType", CQ_TYPE_TIMESTAMP},
      {"UUIDType", CQ_TYPE_UUID},
      {"UTF8Type", CQ_TYPE_VARCHAR},
      {"IntegerType", CQ_TYPE_VARINT},
      {"TimeUUIDType", CQ_TYPE_TIMEUUID},
      {"InetAddressType", CQ_TYPE_INET},
      {"SimpleDateType", CQ_TYPE_DATE},
      {"TimeType", CQ_TYPE_TIME},
      {"ShortType", CQ_TYPE_SMALLINT},
      {"ByteType", CQ_TYPE_TINYINT},
      {"DurationType", CQ_TYPE_DURATION},
  };
  cq_arena a;
  cq_arena_init(&a, 0);
  char err[256], full[128];
  int rc;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const cq_type *t = pclass(&a, cases[i].name, &rc, err, sizeof err);
    CHECK_EQ(rc, 0);
    if (t) CHECK_EQ(t->kind, cases[i].kind);
    snprintf(full, sizeof full, "  %s%s ", M, cases[i].name);
    t = pclass(&a, full, &rc, err, sizeof err);
    CHECK_EQ(rc, 0);
    if (t) CHECK_EQ(t->kind, cases[i].kind);
  }
  const cq_type *t = pclass(&a, M "EmptyType", &rc, err, sizeof err);
  REQUIRE(rc == 0 && t);
  CHECK_EQ(t->kind, CQ_TYPE_CUSTOM);
  CHECK_STR(t->custom_class, M "EmptyType");
  t = pclass(&a, "com.example.Fancy", &rc, err, sizeof err);
  REQUIRE(rc == 0 && t);
  CHECK_EQ(t->kind, CQ_TYPE_CUSTOM);
  CHECK_STR(t->custom_class, "com.example.Fancy");
  t = pclass(&a, M "CompositeType(" M "UTF8Type," M "Int32Type)", &rc, err, sizeof err);
  REQUIRE(rc == 0 && t);
  CHECK_EQ(t->kind, CQ_TYPE_CUSTOM);
  CHECK_STR(t->custom_class, M "CompositeType(" M "UTF8Type," M "Int32Type)");
  cq_arena_free(&a);
}

TEST(class_names_of_collections_and_wrappers) {
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_buf b;
  cq_buf_init(&b);
  char err[256];
  int rc;
  const cq_type *t = pclass(&a, M "MapType(" M "UTF8Type," M "Int32Type)", &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK_STR(as_cql(&b, t), "map<text, int>");
  t = pclass(&a, "FrozenType(ListType(SetType(TimeUUIDType)))", &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK_STR(as_cql(&b, t), "frozen<list<set<timeuuid>>>");
  t = pclass(&a, M "ReversedType(" M "TimestampType)", &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK_EQ(t->kind, CQ_TYPE_TIMESTAMP);
  CHECK_EQ(t->reversed, 1);
  t = pclass(&a, M "VectorType(" M "FloatType, 3)", &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK_EQ(t->kind, CQ_TYPE_VECTOR);
  CHECK_EQ(t->dimension, 3);
  CHECK_STR(as_cql(&b, t), "vector<float, 3>");
  t = pclass(&a, "TupleType(Int32Type,UTF8Type,BooleanType)", &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK_STR(as_cql(&b, t), "tuple<int, text, boolean>");
  /* UserType(keyspace, hex(name), hex(field):type, ...) */
  t = pclass(&a,
             M "UserType(ks,61646472657373,737472656574:" M "UTF8Type,7a6970:" M
               "Int32Type,54616773:" M "ListType(" M "UTF8Type))",
             &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK_EQ(t->kind, CQ_TYPE_UDT);
  CHECK_STR(t->keyspace, "ks");
  CHECK_STR(t->name, "address");
  REQUIRE(t->nsub == 3);
  CHECK_STR(t->field_names[0], "street");
  CHECK_STR(t->field_names[1], "zip");
  CHECK_STR(t->field_names[2], "Tags");
  CHECK_EQ(t->sub[2]->kind, CQ_TYPE_LIST);
  CHECK_STR(as_cql(&b, t), "address");
  /* Class formatting parses back to the same tree. */
  const char *cls = as_class(&b, t);
  CHECK_STR(cls, M "UserType(ks,61646472657373,737472656574:" M "UTF8Type,7a6970:" M
                   "Int32Type,54616773:" M "ListType(" M "UTF8Type))");
  const cq_type *t2 = pclass(&a, cls, &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK(cq_type_equal_flags(t, t2, 0));
  cq_buf_free(&b);
  cq_arena_free(&a);
}

TEST(class_name_errors) {
  static const char *bad[] = {
      "",
      "(",
      M "MapType(" M "UTF8Type)",
      M "ListType(",
      M "ListType()",
      M "ListType(" M "UTF8Type",
      M "ListType(" M "UTF8Type))",
      M "VectorType(" M "FloatType)",
      M "VectorType(" M "FloatType,0)",
      M "VectorType(" M "FloatType,x)",
      M "VectorType(" M "FloatType,99999999999)",
      M "UserType(ks,6g,61:Int32Type)",
      M "UserType(ks,616,61:Int32Type)",
      M "UserType(ks,61,61 Int32Type)",
      M "Int32Type(x)",
      "com.example.Foo(",
      "FrozenType(Int32Type",
  };
  cq_arena a;
  cq_arena_init(&a, 0);
  char err[256];
  int rc;
  /* NUL bytes inside a kept class name (fuzz finding) are refused, since
   * custom_class is a C string. */
  static const char nul[] = "com.x.Y(a\0b)";
  const cq_type *t = NULL;
  CHECK_EQ(cq_type_parse_class(&a, nul, sizeof nul - 1, &t, err, sizeof err), CQ_ERR_MALFORMED);
  CHECK_EQ(cq_type_parse_cql(&a, "'a\0b'", 5, &t, err, sizeof err), CQ_ERR_MALFORMED);
  static const char nulks[] = M "UserType(\0ks,61,62:Int32Type)";
  CHECK_EQ(cq_type_parse_class(&a, nulks, sizeof nulks - 1, &t, err, sizeof err), CQ_ERR_MALFORMED);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    pclass(&a, bad[i], &rc, err, sizeof err);
    if (rc >= 0) UNIT_FAIL("accepted bad class '%s'", bad[i]);
    CHECK(strstr(err, "offset") != NULL);
  }
  cq_arena_free(&a);
}

TEST(cql_strings_of_every_native_type) {
  static const struct {
    const char *name;
    cq_type_kind kind;
  } cases[] = {
      {"ascii", CQ_TYPE_ASCII},         {"bigint", CQ_TYPE_BIGINT},
      {"blob", CQ_TYPE_BLOB},           {"boolean", CQ_TYPE_BOOLEAN},
      {"counter", CQ_TYPE_COUNTER},     {"date", CQ_TYPE_DATE},
      {"decimal", CQ_TYPE_DECIMAL},     {"double", CQ_TYPE_DOUBLE},
      {"duration", CQ_TYPE_DURATION},   {"float", CQ_TYPE_FLOAT},
      {"inet", CQ_TYPE_INET},           {"int", CQ_TYPE_INT},
      {"smallint", CQ_TYPE_SMALLINT},   {"text", CQ_TYPE_VARCHAR},
      {"varchar", CQ_TYPE_VARCHAR},     {"time", CQ_TYPE_TIME},
      {"timestamp", CQ_TYPE_TIMESTAMP}, {"timeuuid", CQ_TYPE_TIMEUUID},
      {"tinyint", CQ_TYPE_TINYINT},     {"uuid", CQ_TYPE_UUID},
      {"varint", CQ_TYPE_VARINT},       {" BigInt ", CQ_TYPE_BIGINT},
      {"TEXT", CQ_TYPE_VARCHAR},
  };
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_buf b;
  cq_buf_init(&b);
  char err[256];
  int rc;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const cq_type *t = pcql(&a, cases[i].name, &rc, err, sizeof err);
    CHECK_EQ(rc, 0);
    REQUIRE(t);
    CHECK_EQ(t->kind, cases[i].kind);
    /* Formatting gives the canonical name, which parses to the same kind. */
    const cq_type *t2 = pcql(&a, as_cql(&b, t), &rc, err, sizeof err);
    CHECK(rc == 0 && t2 && t2->kind == t->kind);
  }
  cq_buf_free(&b);
  cq_arena_free(&a);
}

TEST(cql_strings_nested_custom_and_udt) {
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_buf b;
  cq_buf_init(&b);
  char err[256];
  int rc;
  const cq_type *t = pcql(&a, "FROZEN < Map<Text ,LIST<int>> >", &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK_EQ(t->kind, CQ_TYPE_MAP);
  CHECK_EQ(t->frozen, 1);
  CHECK_STR(as_cql(&b, t), "frozen<map<text, list<int>>>");
  CHECK_STR(as_class(&b, t),
            M "FrozenType(" M "MapType(" M "UTF8Type," M "ListType(" M "Int32Type)))");
  t = pcql(&a, "vector<float,3>", &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK_STR(as_cql(&b, t), "vector<float, 3>");
  CHECK_STR(as_class(&b, t), M "VectorType(" M "FloatType,3)");
  t = pcql(&a, "tuple<int, text, frozen<set<uuid>>>", &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK_EQ(t->nsub, 3);
  CHECK_STR(as_cql(&b, t), "tuple<int, text, frozen<set<uuid>>>");
  t = pcql(&a, "'org.example.My''Type'", &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK_EQ(t->kind, CQ_TYPE_CUSTOM);
  CHECK_STR(t->custom_class, "org.example.My'Type");
  CHECK_STR(as_cql(&b, t), "'org.example.My''Type'");
  t = pcql(&a, "Address", &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK_EQ(t->kind, CQ_TYPE_UDT);
  CHECK_EQ(t->nsub, 0);
  CHECK_STR(t->name, "address");
  CHECK(t->keyspace == NULL);
  t = pcql(&a, "\"MyKs\".\"Odd \"\"Name\"\"\"", &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK_STR(t->keyspace, "MyKs");
  CHECK_STR(t->name, "Odd \"Name\"");
  CHECK_STR(as_cql(&b, t), "\"Odd \"\"Name\"\"\"");
  t = pcql(&a, "ks.text", &rc, err, sizeof err); /* a keyspace named like a type */
  REQUIRE(rc == 0);
  CHECK_EQ(t->kind, CQ_TYPE_UDT);
  CHECK_STR(t->name, "text");
  CHECK_STR(as_cql(&b, t), "\"text\"");
  t = pcql(&a, "frozen<ks.addr>", &rc, err, sizeof err);
  REQUIRE(rc == 0);
  CHECK_EQ(t->frozen, 1);
  CHECK_STR(as_cql(&b, t), "frozen<addr>");
  cq_buf_free(&b);
  cq_arena_free(&a);
}

TEST(cql_errors_name_offset_and_expectation) {
  cq_arena a;
  cq_arena_init(&a, 0);
  char err[256];
  int rc;
  pcql(&a, "map<text, int", &rc, err, sizeof err);
  CHECK_EQ(rc, CQ_ERR_MALFORMED);
  CHECK_STR(err, "expected '>' at offset 13 in 'map<text, int'");
  static const char *bad[] = {"",
                              "<",
                              "list<>",
                              "list<int",
                              "map<int>",
                              "map<int,>",
                              "map<a,b,c>",
                              "tuple<>",
                              "vector<float>",
                              "vector<float, 0>",
                              "vector<float, -1>",
                              "frozen<int>",
                              "frozen",
                              "list",
                              "int int",
                              "'unterminated",
                              "\"unterminated",
                              "\"\"",
                              "ks.",
                              "list<int>>",
                              "vector<float, 99999999999>",
                              "ks.name.x",
                              "in-t"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    pcql(&a, bad[i], &rc, err, sizeof err);
    if (rc >= 0) UNIT_FAIL("accepted bad CQL type '%s'", bad[i]);
    if (!strstr(err, "offset")) UNIT_FAIL("message for '%s' lacks an offset: %s", bad[i], err);
  }
  cq_arena_free(&a);
}

TEST(nesting_is_capped) {
  cq_arena a;
  cq_arena_init(&a, 0);
  char err[256];
  int rc;
  char s[2000];
  size_t n = 0;
  for (int i = 0; i < 200; i++)
    n += (size_t)snprintf(s + n, sizeof s - n, "list<");
  n += (size_t)snprintf(s + n, sizeof s - n, "int");
  for (int i = 0; i < 200; i++)
    s[n++] = '>';
  s[n] = 0;
  pcql(&a, s, &rc, err, sizeof err);
  CHECK_EQ(rc, CQ_ERR_TOO_LARGE);
  CHECK(strstr(err, "deeper"));
  /* 60 levels is fine. */
  n = 0;
  for (int i = 0; i < 60; i++)
    n += (size_t)snprintf(s + n, sizeof s - n, "list<");
  n += (size_t)snprintf(s + n, sizeof s - n, "int");
  for (int i = 0; i < 60; i++)
    s[n++] = '>';
  s[n] = 0;
  pcql(&a, s, &rc, err, sizeof err);
  CHECK_EQ(rc, 0);
  n = 0;
  for (int i = 0; i < 200; i++)
    n += (size_t)snprintf(s + n, sizeof s - n, "ListType(");
  pclass(&a, s, &rc, err, sizeof err);
  CHECK_EQ(rc, CQ_ERR_TOO_LARGE);
  cq_arena_free(&a);
}

/* Random trees: format as CQL and as a class name, parse both back. */
static const cq_type *rand_tree(cq_arena *a, int depth) {
  static const cq_type_kind natives[] = {
      CQ_TYPE_ASCII,   CQ_TYPE_BIGINT,  CQ_TYPE_BLOB,     CQ_TYPE_BOOLEAN,  CQ_TYPE_COUNTER,
      CQ_TYPE_DECIMAL, CQ_TYPE_DOUBLE,  CQ_TYPE_FLOAT,    CQ_TYPE_INT,      CQ_TYPE_TIMESTAMP,
      CQ_TYPE_UUID,    CQ_TYPE_VARCHAR, CQ_TYPE_VARINT,   CQ_TYPE_TIMEUUID, CQ_TYPE_INET,
      CQ_TYPE_DATE,    CQ_TYPE_TIME,    CQ_TYPE_SMALLINT, CQ_TYPE_TINYINT,  CQ_TYPE_DURATION};
  unsigned r = (unsigned)(unit_rand() % 10);
  if (depth >= 4 || r < 4) return cq_type_native(a, natives[unit_rand() % 20]);
  const cq_type *subs[3];
  switch (r) {
  case 4: return cq_type_list(a, rand_tree(a, depth + 1), (int)(unit_rand() & 1));
  case 5: return cq_type_set(a, rand_tree(a, depth + 1), (int)(unit_rand() & 1));
  case 6:
    return cq_type_map(a, rand_tree(a, depth + 1), rand_tree(a, depth + 1), (int)(unit_rand() & 1));
  case 7:
    for (int i = 0; i < 3; i++)
      subs[i] = rand_tree(a, depth + 1);
    return cq_type_tuple(a, subs, 1 + unit_rand() % 3);
  case 8: return cq_type_vector(a, rand_tree(a, depth + 1), 1 + (uint32_t)(unit_rand() % 1000));
  default: return cq_type_custom(a, "com.example.X");
  }
}

TEST(format_then_parse_round_trips) {
  cq_buf b;
  cq_buf_init(&b);
  char err[256];
  int rc;
  for (int i = 0; i < 2000; i++) {
    cq_arena a;
    cq_arena_init(&a, 0);
    const cq_type *t = rand_tree(&a, 0);
    const cq_type *back = pcql(&a, as_cql(&b, t), &rc, err, sizeof err);
    if (rc != 0 || !cq_type_equal_flags(t, back, 0))
      UNIT_FAIL("cql round trip of %s: %d %s", (char *)b.data, rc, err);
    back = pclass(&a, as_class(&b, t), &rc, err, sizeof err);
    if (rc != 0 || !cq_type_equal_flags(t, back, 0))
      UNIT_FAIL("class round trip of %s: %d %s", (char *)b.data, rc, err);
    cq_arena_free(&a);
  }
  cq_buf_free(&b);
}

UNIT_MAIN()
