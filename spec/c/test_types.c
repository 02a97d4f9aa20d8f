/* Type tree helpers: constructors, equality, formatting. */
#include "../../src/core/arena.h"
#include "../../src/core/buf.h"
#include "../../src/core/type_util.h"
#include "unit.h"

static const char *fmt(cq_buf *b, const cq_type *t, int cls) {
  cq_buf_reset(b);
  if (cls)
    cq_type_to_class(b, t);
  else
    cq_type_to_cql(b, t);
  cq_buf_put_u8(b, 0);
  return (const char *)b->data;
}

TEST(constructors_build_expected_nodes) {
  cq_arena a;
  cq_arena_init(&a, 0);
  const cq_type *i = cq_type_native(&a, CQ_TYPE_INT);
  REQUIRE(i);
  CHECK_EQ(i->kind, CQ_TYPE_INT);
  CHECK(cq_type_native(&a, CQ_TYPE_LIST) == NULL);
  CHECK(cq_type_native(&a, (cq_type_kind)0x000A) == NULL);
  const cq_type *l = cq_type_list(&a, i, 1);
  REQUIRE(l);
  CHECK_EQ(l->nsub, 1);
  CHECK(l->sub[0] == i);
  CHECK_EQ(l->frozen, 1);
  CHECK(cq_type_list(&a, NULL, 0) == NULL);
  const cq_type *m = cq_type_map(&a, cq_type_native(&a, CQ_TYPE_VARCHAR), l, 0);
  REQUIRE(m);
  CHECK_EQ(m->nsub, 2);
  const cq_type *subs[2] = {i, m};
  const cq_type *tu = cq_type_tuple(&a, subs, 2);
  REQUIRE(tu);
  CHECK_EQ(tu->nsub, 2);
  CHECK(cq_type_tuple(&a, subs, 0) == NULL);
  const char *names[2] = {"x", "Y z"};
  const cq_type *u = cq_type_udt(&a, "ks", "pt", names, subs, 2, 0);
  REQUIRE(u);
  CHECK_STR(u->field_names[1], "Y z");
  CHECK_STR(u->keyspace, "ks");
  const cq_type *v = cq_type_vector(&a, cq_type_native(&a, CQ_TYPE_FLOAT), 3);
  REQUIRE(v);
  CHECK_EQ(v->dimension, 3);
  const cq_type *c = cq_type_custom(&a, "a.B");
  REQUIRE(c);
  CHECK_STR(c->custom_class, "a.B");
  cq_arena_free(&a);
}

TEST(formatting_as_cql_and_class) {
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_buf b;
  cq_buf_init(&b);
  const cq_type *text = cq_type_native(&a, CQ_TYPE_VARCHAR);
  const cq_type *i = cq_type_native(&a, CQ_TYPE_INT);
  const cq_type *m = cq_type_map(&a, text, cq_type_list(&a, i, 0), 1);
  CHECK_STR(fmt(&b, m, 0), "frozen<map<text, list<int>>>");
  CHECK_STR(fmt(&b, m, 1), CQ_MARSHAL_PREFIX
            "FrozenType(" CQ_MARSHAL_PREFIX "MapType(" CQ_MARSHAL_PREFIX
            "UTF8Type," CQ_MARSHAL_PREFIX "ListType(" CQ_MARSHAL_PREFIX "Int32Type)))");
  CHECK_STR(fmt(&b, cq_type_vector(&a, cq_type_native(&a, CQ_TYPE_FLOAT), 3), 0),
            "vector<float, 3>");
  const char *names[1] = {"f"};
  CHECK_STR(fmt(&b, cq_type_udt(&a, "ks", "plain_name1", names, &i, 1, 0), 0), "plain_name1");
  CHECK_STR(fmt(&b, cq_type_udt(&a, "ks", "Mixed", names, &i, 1, 1), 0), "frozen<\"Mixed\">");
  CHECK_STR(fmt(&b, cq_type_udt(&a, "ks", "map", names, &i, 1, 0), 0), "\"map\"");
  CHECK_STR(fmt(&b, cq_type_udt(&a, "ks", "1st", names, &i, 1, 0), 0), "\"1st\"");
  CHECK_STR(fmt(&b, cq_type_udt(&a, "ks", "Ab", names, &i, 1, 0), 1),
            CQ_MARSHAL_PREFIX "UserType(ks,4162,66:" CQ_MARSHAL_PREFIX "Int32Type)");
  CHECK_STR(fmt(&b, cq_type_custom(&a, "it's.X"), 0), "'it''s.X'");
  CHECK_STR(fmt(&b, cq_type_custom(&a, "it's.X"), 1), "it's.X");
  cq_type *r = cq_type_native(&a, CQ_TYPE_TIMESTAMP);
  r->reversed = 1;
  CHECK_STR(fmt(&b, r, 1), CQ_MARSHAL_PREFIX "ReversedType(" CQ_MARSHAL_PREFIX "TimestampType)");
  CHECK_STR(fmt(&b, r, 0), "timestamp");
  static const cq_type_kind all[] = {
      CQ_TYPE_ASCII,   CQ_TYPE_BIGINT,  CQ_TYPE_BLOB,     CQ_TYPE_BOOLEAN,  CQ_TYPE_COUNTER,
      CQ_TYPE_DECIMAL, CQ_TYPE_DOUBLE,  CQ_TYPE_FLOAT,    CQ_TYPE_INT,      CQ_TYPE_TIMESTAMP,
      CQ_TYPE_UUID,    CQ_TYPE_VARCHAR, CQ_TYPE_VARINT,   CQ_TYPE_TIMEUUID, CQ_TYPE_INET,
      CQ_TYPE_DATE,    CQ_TYPE_TIME,    CQ_TYPE_SMALLINT, CQ_TYPE_TINYINT,  CQ_TYPE_DURATION};
  static const char *const cql[] = {"ascii",   "bigint", "blob",     "boolean",  "counter",
                                    "decimal", "double", "float",    "int",      "timestamp",
                                    "uuid",    "text",   "varint",   "timeuuid", "inet",
                                    "date",    "time",   "smallint", "tinyint",  "duration"};
  for (size_t k = 0; k < 20; k++) {
    CHECK_STR(fmt(&b, cq_type_native(&a, all[k]), 0), cql[k]);
    CHECK(cq_type_kind_class(all[k]) != NULL);
  }
  cq_buf_free(&b);
  cq_arena_free(&a);
}

TEST(structural_equality) {
  cq_arena a;
  cq_arena_init(&a, 0);
  const cq_type *i1 = cq_type_native(&a, CQ_TYPE_INT), *i2 = cq_type_native(&a, CQ_TYPE_INT);
  const cq_type *t = cq_type_native(&a, CQ_TYPE_VARCHAR);
  CHECK(cq_type_equal_flags(i1, i2, 0));
  CHECK(!cq_type_equal_flags(i1, t, 0));
  const cq_type *l1 = cq_type_list(&a, i1, 0), *l2 = cq_type_list(&a, i2, 1);
  CHECK(!cq_type_equal_flags(l1, l2, 0));
  CHECK(cq_type_equal_flags(l1, l2, CQ_TYPE_EQ_IGNORE_FROZEN));
  CHECK(!cq_type_equal_flags(cq_type_vector(&a, i1, 2), cq_type_vector(&a, i1, 3), 0));
  const char *n1[1] = {"a"}, *n2[1] = {"b"};
  CHECK(!cq_type_equal_flags(cq_type_udt(&a, "k", "u", n1, &i1, 1, 0),
                             cq_type_udt(&a, "k", "u", n2, &i1, 1, 0), 0));
  CHECK(cq_type_equal_flags(cq_type_udt(&a, "k", "u", n1, &i1, 1, 0),
                            cq_type_udt(&a, "k", "u", n1, &i2, 1, 0), 0));
  CHECK(!cq_type_equal_flags(cq_type_custom(&a, "x"), cq_type_custom(&a, "y"), 0));
  cq_type *rv = cq_type_native(&a, CQ_TYPE_INT);
  rv->reversed = 1;
  CHECK(!cq_type_equal_flags(rv, i1, 0));
  CHECK(cq_type_equal_flags(rv, i1, CQ_TYPE_EQ_IGNORE_REVERSED));
  CHECK(!cq_type_equal_flags(NULL, i1, 0));
  /* A cyclic hand-built tree does not hang. */
  cq_type *cyc = cq_type_list(&a, i1, 0);
  cq_type *cyc2 = cq_type_list(&a, i1, 0);
  ((const cq_type **)cyc->sub)[0] = cyc;
  ((const cq_type **)cyc2->sub)[0] = cyc2;
  CHECK(!cq_type_equal_flags(cyc, cyc2, 0));
  cq_buf b;
  cq_buf_init(&b);
  cq_type_to_cql(&b, cyc);
  CHECK(b.len > 0);
  cq_buf_free(&b);
  cq_arena_free(&a);
}

UNIT_MAIN()
