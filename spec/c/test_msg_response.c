/* RESULT, ERROR and every other response body: hand-built byte vectors from
 * the v3/v4/v5 specs, round trips, every-prefix truncation, lying counts. */
#include "../../src/core/message.h"
#include "unit.h"

/* Test-side byte builder: writes exactly what the spec notation says, with
 * no knowledge of the codec under test. */
static cq_buf B;
static void b_reset(void) {
  cq_buf_free(&B);
  cq_buf_init(&B);
}
static void u8(unsigned v) { cq_buf_put_u8(&B, (uint8_t)v); }
static void u16(unsigned v) { cq_buf_put_u16(&B, (uint16_t)v); }
static void i32(int32_t v) { cq_buf_put_u32(&B, (uint32_t)v); }
static void str(const char *s) { cq_buf_put_string(&B, s, strlen(s)); }
static void raw(const void *p, size_t n) { cq_buf_put(&B, p, n); }

static int str_is(cq_str s, const char *lit) {
  return s.p && s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* Decodes the builder's bytes (must succeed), checks that re-encoding gives
 * the same bytes, and that every strict prefix fails with TRUNCATED. The
 * decoded response stays valid while `a` and B live. */
static int decode_checked(int version, int flags, int opcode, cq_response *out, cq_arena *a) {
  cq_diag d;
  int rc = cq_response_decode(out, version, flags, opcode, B.data, B.len, a, &d);
  if (rc != CQ_OK) {
    UNIT_FAIL("decode v%d op 0x%02x: rc %d: %s", version, opcode, rc, d.msg);
    return rc;
  }
  cq_buf e;
  cq_buf_init(&e);
  rc = cq_response_encode(&e, version, flags, out);
  CHECK_EQ(rc, CQ_OK);
  CHECK_EQ(e.len, B.len);
  if (e.len == B.len && B.len) CHECK_MEM(e.data, B.data, B.len);
  cq_buf_free(&e);
  for (size_t k = 0; k < B.len; k++) {
    cq_arena pa;
    cq_arena_init(&pa, 0);
    cq_response pr;
    int prc = cq_response_decode(&pr, version, flags, opcode, B.data, k, &pa, &d);
    if (prc != CQ_ERR_TRUNCATED)
      UNIT_FAIL("v%d op 0x%02x: prefix %zu of %zu: rc %d (%s)", version, opcode, k, B.len, prc,
                d.msg);
    else if (!d.msg[0])
      UNIT_FAIL("prefix %zu: empty diagnostic", k);
    cq_arena_free(&pa);
  }
  return CQ_OK;
}

static int decode_fail(int version, int flags, int opcode, cq_diag *d) {
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r;
  int rc = cq_response_decode(&r, version, flags, opcode, B.data, B.len, &a, d);
  cq_arena_free(&a);
  return rc;
}

/* ---- ERROR ---- */

TEST(error_unavailable_literal) {
  static const uint8_t in[] = {0x00, 0x00, 0x10, 0x00, 0x00, 0x02, 'n',  'o',  0x00,
                               0x04, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01};
  for (int v = 3; v <= 5; v++) {
    b_reset();
    raw(in, sizeof in);
    cq_arena a;
    cq_arena_init(&a, 0);
    cq_response r;
    if (decode_checked(v, 0, CQ_OP_ERROR, &r, &a) == CQ_OK) {
      CHECK_EQ(r.u.error.code, CQ_ERROR_UNAVAILABLE);
      CHECK(str_is(r.u.error.message, "no"));
      CHECK_EQ(r.u.error.consistency, CQ_CL_QUORUM);
      CHECK_EQ(r.u.error.required, 3);
      CHECK_EQ(r.u.error.alive, 1);
    }
    cq_arena_free(&a);
  }
}

TEST(error_write_timeout_contentions_v5_cas_only) {
  for (int v = 3; v <= 5; v++) {
    for (int cas = 0; cas <= 1; cas++) {
      b_reset();
      i32(0x1100);
      str("timed out");
      u16(CQ_CL_SERIAL);
      i32(1);
      i32(2);
      str(cas ? "CAS" : "SIMPLE");
      if (cas && v == 5) u16(7);
      cq_arena a;
      cq_arena_init(&a, 0);
      cq_response r;
      if (decode_checked(v, 0, CQ_OP_ERROR, &r, &a) == CQ_OK) {
        const cq_error *e = &r.u.error;
        CHECK_EQ(e->consistency, CQ_CL_SERIAL);
        CHECK_EQ(e->received, 1);
        CHECK_EQ(e->block_for, 2);
        CHECK(str_is(e->write_type, cas ? "CAS" : "SIMPLE"));
        CHECK_EQ(e->has_contentions, cas && v == 5);
        if (cas && v == 5) CHECK_EQ(e->contentions, 7);
      }
      cq_arena_free(&a);
    }
  }
}

TEST(error_read_timeout) {
  b_reset();
  i32(0x1200);
  str("rt");
  u16(CQ_CL_ONE);
  i32(0);
  i32(1);
  u8(0);
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r;
  if (decode_checked(4, 0, CQ_OP_ERROR, &r, &a) == CQ_OK) {
    CHECK_EQ(r.u.error.code, CQ_ERROR_READ_TIMEOUT);
    CHECK_EQ(r.u.error.block_for, 1);
    CHECK_EQ(r.u.error.data_present, 0);
  }
  cq_arena_free(&a);
}

TEST(error_read_write_failure_v4_numfailures) {
  for (int code = 0x1300; code <= 0x1500; code += 0x200) {
    b_reset();
    i32(code);
    str("f");
    u16(CQ_CL_ALL);
    i32(1);
    i32(3);
    i32(2); /* numfailures */
    if (code == 0x1300)
      u8(1);
    else
      str("BATCH");
    cq_arena a;
    cq_arena_init(&a, 0);
    cq_response r;
    for (int v = 3; v <= 4; v++) {
      if (decode_checked(v, 0, CQ_OP_ERROR, &r, &a) == CQ_OK) {
        CHECK_EQ(r.u.error.num_failures, 2);
        CHECK_EQ(r.u.error.nreasons, 0);
        if (code == 0x1300)
          CHECK_EQ(r.u.error.data_present, 1);
        else
          CHECK(str_is(r.u.error.write_type, "BATCH"));
      }
    }
    cq_arena_free(&a);
  }
}

TEST(error_read_write_failure_v5_reasonmap) {
  static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  for (int code = 0x1300; code <= 0x1500; code += 0x200) {
    b_reset();
    i32(code);
    str("f");
    u16(CQ_CL_LOCAL_QUORUM);
    i32(1);
    i32(2);
    i32(2); /* reasonmap size */
    u8(4);
    raw("\x0a\x00\x00\x01", 4);
    u16(0x0001);
    u8(16);
    raw(v6, 16);
    u16(0x0005);
    if (code == 0x1300)
      u8(0);
    else
      str("SIMPLE");
    cq_arena a;
    cq_arena_init(&a, 0);
    cq_response r;
    if (decode_checked(5, 0, CQ_OP_ERROR, &r, &a) == CQ_OK) {
      const cq_error *e = &r.u.error;
      REQUIRE(e->nreasons == 2);
      CHECK_EQ(e->num_failures, 2);
      CHECK_EQ(e->reasons[0].endpoint.len, 4);
      CHECK_MEM(e->reasons[0].endpoint.addr, "\x0a\x00\x00\x01", 4);
      CHECK_EQ(e->reasons[0].code, 1);
      CHECK_EQ(e->reasons[1].endpoint.len, 16);
      CHECK_MEM(e->reasons[1].endpoint.addr, v6, 16);
      CHECK_EQ(e->reasons[1].code, 5);
    }
    cq_arena_free(&a);
  }
}

TEST(error_reasonmap_lies_and_bad_address_size) {
  b_reset();
  i32(0x1300);
  str("f");
  u16(1);
  i32(1);
  i32(2);
  i32(0x7FFFFFFF);
  u8(4);
  raw("\1\2\3\4", 4);
  u16(1);
  u8(0);
  cq_diag d;
  CHECK_EQ(decode_fail(5, 0, CQ_OP_ERROR, &d), CQ_ERR_TRUNCATED);
  CHECK(strstr(d.msg, "reasonmap") != NULL);
  b_reset();
  i32(0x1300);
  str("f");
  u16(1);
  i32(1);
  i32(2);
  i32(-1);
  CHECK_EQ(decode_fail(5, 0, CQ_OP_ERROR, &d), CQ_ERR_MALFORMED);
  b_reset();
  i32(0x1500);
  str("f");
  u16(1);
  i32(1);
  i32(2);
  i32(1);
  u8(5);
  raw("\1\2\3\4\5", 5);
  u16(1);
  str("SIMPLE");
  CHECK_EQ(decode_fail(5, 0, CQ_OP_ERROR, &d), CQ_ERR_MALFORMED);
  CHECK(strstr(d.msg, "address size 5") != NULL);
}

TEST(error_function_failure_already_exists_unprepared) {
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r;
  b_reset();
  i32(0x1400);
  str("boom");
  str("ks");
  str("fn");
  u16(2);
  str("int");
  str("text");
  if (decode_checked(4, 0, CQ_OP_ERROR, &r, &a) == CQ_OK) {
    CHECK(str_is(r.u.error.keyspace, "ks"));
    CHECK(str_is(r.u.error.function, "fn"));
    REQUIRE(r.u.error.narg_types == 2);
    CHECK(str_is(r.u.error.arg_types[1], "text"));
  }
  b_reset();
  i32(0x2400);
  str("exists");
  str("ks");
  str("");
  if (decode_checked(3, 0, CQ_OP_ERROR, &r, &a) == CQ_OK) {
    CHECK(str_is(r.u.error.keyspace, "ks"));
    CHECK(str_is(r.u.error.table, ""));
  }
  b_reset();
  i32(0x2500);
  str("unprepared");
  u16(3);
  raw("\xab\xcd\xef", 3);
  if (decode_checked(5, 0, CQ_OP_ERROR, &r, &a) == CQ_OK) {
    CHECK_EQ(r.u.error.unprepared_id.len, 3);
    CHECK_MEM(r.u.error.unprepared_id.p, "\xab\xcd\xef", 3);
  }
  cq_arena_free(&a);
}

TEST(error_cas_write_unknown_v5_and_cdc) {
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r;
  b_reset();
  i32(0x1700);
  str("cas?");
  u16(CQ_CL_LOCAL_SERIAL);
  i32(1);
  i32(2);
  if (decode_checked(5, 0, CQ_OP_ERROR, &r, &a) == CQ_OK) {
    CHECK_EQ(r.u.error.consistency, CQ_CL_LOCAL_SERIAL);
    CHECK_EQ(r.u.error.received, 1);
    CHECK_EQ(r.u.error.block_for, 2);
  }
  b_reset();
  i32(0x1600);
  str("cdc full");
  if (decode_checked(5, 0, CQ_OP_ERROR, &r, &a) == CQ_OK) {
    CHECK_EQ(r.u.error.code, CQ_ERROR_CDC_WRITE_FAILURE);
    CHECK(str_is(r.u.error.message, "cdc full"));
  }
  static const int plain[] = {0x0000, 0x000A, 0x0100, 0x1001, 0x1002,
                              0x1003, 0x2000, 0x2100, 0x2200, 0x2300};
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
    b_reset();
    i32(plain[i]);
    str("msg");
    if (decode_checked(4, 0, CQ_OP_ERROR, &r, &a) == CQ_OK) CHECK_EQ(r.u.error.code, plain[i]);
  }
  cq_arena_free(&a);
}

TEST(error_unknown_code_keeps_code_and_message) {
  b_reset();
  i32(0x7777);
  str("from the future");
  raw("\x01\x02\x03", 3); /* extra fields we do not know: ignored */
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r;
  cq_diag d;
  CHECK_EQ(cq_response_decode(&r, 5, 0, CQ_OP_ERROR, B.data, B.len, &a, &d), CQ_OK);
  CHECK_EQ(r.u.error.code, 0x7777);
  CHECK(str_is(r.u.error.message, "from the future"));
  cq_arena_free(&a);
}

/* ---- simple bodies ---- */

TEST(ready_authenticate_supported_auth) {
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r;
  b_reset();
  cq_diag d;
  CHECK_EQ(cq_response_decode(&r, 4, 0, CQ_OP_READY, NULL, 0, &a, &d), CQ_OK);
  decode_checked(4, 0, CQ_OP_READY, &r, &a);
  b_reset();
  str("org.apache.cassandra.auth.PasswordAuthenticator");
  if (decode_checked(4, 0, CQ_OP_AUTHENTICATE, &r, &a) == CQ_OK)
    CHECK(str_is(r.u.authenticator, "org.apache.cassandra.auth.PasswordAuthenticator"));
  b_reset();
  u16(2);
  str("CQL_VERSION");
  u16(1);
  str("3.4.5");
  str("PROTOCOL_VERSIONS");
  u16(3);
  str("3/v3");
  str("4/v4");
  str("5/v5");
  if (decode_checked(5, 0, CQ_OP_SUPPORTED, &r, &a) == CQ_OK) {
    REQUIRE(r.u.supported.n == 2);
    CHECK(str_is(r.u.supported.entries[0].key, "CQL_VERSION"));
    REQUIRE(r.u.supported.entries[1].nvalues == 3);
    CHECK(str_is(r.u.supported.entries[1].values[2], "5/v5"));
  }
  b_reset();
  i32(3);
  raw("abc", 3);
  if (decode_checked(4, 0, CQ_OP_AUTH_CHALLENGE, &r, &a) == CQ_OK) {
    CHECK_EQ(r.u.auth_token.len, 3);
    CHECK_MEM(r.u.auth_token.p, "abc", 3);
  }
  b_reset();
  i32(-1);
  if (decode_checked(4, 0, CQ_OP_AUTH_SUCCESS, &r, &a) == CQ_OK)
    CHECK_EQ(r.u.auth_token.len, CQ_VALUE_NULL);
  b_reset();
  i32(-2); /* unset is not a [bytes] */
  CHECK_EQ(decode_fail(4, 0, CQ_OP_AUTH_SUCCESS, &d), CQ_ERR_MALFORMED);
  cq_arena_free(&a);
}

TEST(flag_prefixes_tracing_warnings_payload) {
  static const uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  int flags = CQ_FLAG_TRACING | CQ_FLAG_WARNING | CQ_FLAG_CUSTOM_PAYLOAD;
  b_reset();
  raw(uuid, 16);
  u16(1);
  str("Aggregation query used without partition key");
  u16(1);
  str("k");
  i32(2);
  raw("vv", 2);
  i32(CQ_RESULT_VOID);
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r;
  for (int v = 4; v <= 5; v++) {
    if (decode_checked(v, flags, CQ_OP_RESULT, &r, &a) == CQ_OK) {
      CHECK_MEM(r.tracing_id, uuid, 16);
      REQUIRE(r.nwarnings == 1);
      CHECK(str_is(r.warnings[0], "Aggregation query used without partition key"));
      REQUIRE(r.npayload == 1);
      CHECK(str_is(r.payload[0].key, "k"));
      CHECK_EQ(r.payload[0].value.len, 2);
      CHECK_EQ(r.u.result.kind, CQ_RESULT_VOID);
    }
  }
  /* v3 knows only tracing: warning / payload flags do not exist there. */
  b_reset();
  raw(uuid, 16);
  i32(CQ_RESULT_VOID);
  if (decode_checked(3, flags, CQ_OP_RESULT, &r, &a) == CQ_OK) {
    CHECK_MEM(r.tracing_id, uuid, 16);
    CHECK_EQ(r.nwarnings, 0);
  }
  cq_arena_free(&a);
}

TEST(message_offset_skips_the_flag_prefixes) {
  static const uint8_t uuid[16] = {0};
  int flags = CQ_FLAG_TRACING | CQ_FLAG_WARNING | CQ_FLAG_CUSTOM_PAYLOAD;
  b_reset();
  raw(uuid, 16);
  u16(2);
  str("w1");
  str("warning two");
  u16(2);
  str("k");
  i32(2);
  raw("vv", 2);
  str("null");
  i32(-1);
  size_t prefix = B.len;
  i32(CQ_RESULT_VOID);
  CHECK_EQ(cq_response_message_offset(4, flags, B.data, B.len), (long)prefix);
  CHECK_EQ(cq_response_message_offset(5, CQ_FLAG_WARNING | CQ_FLAG_CUSTOM_PAYLOAD, B.data + 16,
                                      B.len - 16),
           (long)(prefix - 16));
  /* v3 has only tracing; no flags: the message starts at once. */
  CHECK_EQ(cq_response_message_offset(3, flags, B.data, B.len), 16);
  CHECK_EQ(cq_response_message_offset(4, 0, B.data, B.len), 0);
  /* Every body cut inside the prefix is too short. */
  for (size_t k = 0; k < prefix; k++)
    CHECK_EQ(cq_response_message_offset(4, flags, B.data, k), -1);
}

/* ---- RESULT ---- */

TEST(result_void_and_set_keyspace) {
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r;
  static const uint8_t vd[] = {0, 0, 0, 1};
  b_reset();
  raw(vd, 4);
  if (decode_checked(3, 0, CQ_OP_RESULT, &r, &a) == CQ_OK) CHECK_EQ(r.u.result.kind, 1);
  static const uint8_t ks[] = {0, 0, 0, 3, 0, 5, 'm', 'y', '_', 'k', 's'};
  b_reset();
  raw(ks, sizeof ks);
  if (decode_checked(4, 0, CQ_OP_RESULT, &r, &a) == CQ_OK)
    CHECK(str_is(r.u.result.keyspace, "my_ks"));
  cq_arena_free(&a);
}

TEST(result_rows_global_spec_literal) {
  /* Rows, flags Global_tables_spec|Has_more_pages, 2 columns, paging state
   * "PS", ks.t, k int, v map<text,blob>, 2 rows of two [bytes]. */
  static const uint8_t in[] = {
      0x00, 0x00, 0x00, 0x02,                               /* kind Rows */
      0x00, 0x00, 0x00, 0x03,                               /* flags */
      0x00, 0x00, 0x00, 0x02,                               /* columns_count */
      0x00, 0x00, 0x00, 0x02, 'P',  'S',                    /* paging state */
      0x00, 0x02, 'k',  's',  0x00, 0x01, 't',              /* global spec */
      0x00, 0x01, 'k',  0x00, 0x09,                         /* k int */
      0x00, 0x01, 'v',  0x00, 0x21, 0x00, 0x0D, 0x00, 0x03, /* v map<text,blob> */
      0x00, 0x00, 0x00, 0x02,                               /* rows_count */
      0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF,       /* row 1: '', null */
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,       /* row 2 */
  };
  for (int v = 3; v <= 5; v++) {
    b_reset();
    raw(in, sizeof in);
    cq_arena a;
    cq_arena_init(&a, 0);
    cq_response r;
    if (decode_checked(v, 0, CQ_OP_RESULT, &r, &a) == CQ_OK) {
      const cq_result *res = &r.u.result;
      CHECK_EQ(res->kind, CQ_RESULT_ROWS);
      CHECK_EQ(res->meta.column_count, 2);
      CHECK_EQ(res->meta.paging_state.len, 2);
      CHECK_MEM(res->meta.paging_state.p, "PS", 2);
      CHECK(str_is(res->meta.keyspace, "ks"));
      REQUIRE(res->meta.columns);
      CHECK(str_is(res->meta.columns[1].name, "v"));
      CHECK(str_is(res->meta.columns[1].table, "t"));
      CHECK_EQ(res->meta.columns[0].type->kind, CQ_TYPE_INT);
      CHECK_EQ(res->meta.columns[1].type->kind, CQ_TYPE_MAP);
      CHECK_EQ(res->meta.columns[1].type->sub[1]->kind, CQ_TYPE_BLOB);
      CHECK_EQ(res->row_count, 2);
      CHECK(res->rows == B.data + 43); /* the slice starts right after rows_count */
      CHECK_EQ(res->rows_len, 16);
    }
    cq_arena_free(&a);
  }
}

TEST(result_rows_per_column_spec_and_no_metadata) {
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r;
  b_reset();
  i32(2);
  i32(0);
  i32(2);
  str("ks1");
  str("t1");
  str("a");
  u16(0x0D);
  str("ks2");
  str("t2");
  str("b");
  u16(0x00);
  str("org.apache.cassandra.db.marshal.DurationType");
  i32(0);
  if (decode_checked(4, 0, CQ_OP_RESULT, &r, &a) == CQ_OK) {
    const cq_rows_meta *m = &r.u.result.meta;
    REQUIRE(m->columns);
    CHECK(str_is(m->columns[0].keyspace, "ks1"));
    CHECK(str_is(m->columns[1].table, "t2"));
    CHECK_STR(m->columns[1].type->custom_class, "org.apache.cassandra.db.marshal.DurationType");
    CHECK_EQ(r.u.result.row_count, 0);
    CHECK_EQ(r.u.result.rows_len, 0);
  }
  b_reset();
  i32(2);
  i32(CQ_RFLAG_NO_METADATA | CQ_RFLAG_HAS_MORE_PAGES);
  i32(3);
  i32(-1); /* null paging state */
  i32(1);
  i32(0);
  i32(-1);
  i32(0);
  if (decode_checked(4, 0, CQ_OP_RESULT, &r, &a) == CQ_OK) {
    CHECK(r.u.result.meta.columns == NULL);
    CHECK_EQ(r.u.result.meta.column_count, 3);
    CHECK_EQ(r.u.result.meta.paging_state.len, CQ_VALUE_NULL);
    CHECK_EQ(r.u.result.rows_len, 12);
  }
  cq_arena_free(&a);
}

TEST(result_rows_v5_metadata_changed) {
  b_reset();
  i32(2);
  i32(CQ_RFLAG_METADATA_CHANGED | CQ_RFLAG_GLOBAL_TABLES_SPEC);
  i32(1);
  u16(2);
  raw("\x11\x22", 2);
  str("ks");
  str("t");
  str("c");
  u16(0x02);
  i32(0);
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r;
  if (decode_checked(5, 0, CQ_OP_RESULT, &r, &a) == CQ_OK) {
    CHECK_EQ(r.u.result.meta.new_metadata_id.len, 2);
    CHECK_MEM(r.u.result.meta.new_metadata_id.p, "\x11\x22", 2);
    CHECK_EQ(r.u.result.meta.columns[0].type->kind, CQ_TYPE_BIGINT);
  }
  /* Before v5 the bit means nothing: no id is read, so these bytes do not
   * decode as the same metadata (here: the col specs run off the end). */
  cq_diag d;
  cq_response r4;
  int rc4 = cq_response_decode(&r4, 4, 0, CQ_OP_RESULT, B.data, B.len, &a, &d);
  CHECK(rc4 < 0 || r4.u.result.meta.new_metadata_id.p == NULL);
  /* No_metadata together with Metadata_changed is malformed. */
  b_reset();
  i32(2);
  i32(CQ_RFLAG_METADATA_CHANGED | CQ_RFLAG_NO_METADATA);
  i32(1);
  u16(0);
  i32(0);
  CHECK_EQ(decode_fail(5, 0, CQ_OP_RESULT, &d), CQ_ERR_MALFORMED);
  cq_arena_free(&a);
}

TEST(result_rows_lying_counts_fail_fast) {
  cq_diag d;
  /* column count 2^31-1 with a handful of bytes */
  b_reset();
  i32(2);
  i32(CQ_RFLAG_GLOBAL_TABLES_SPEC);
  i32(0x7FFFFFFF);
  str("k");
  str("t");
  str("c");
  u16(9);
  i32(0);
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r;
  CHECK_EQ(cq_response_decode(&r, 4, 0, CQ_OP_RESULT, B.data, B.len, &a, &d), CQ_ERR_TRUNCATED);
  CHECK(strstr(d.msg, "column count 2147483647") != NULL);
  CHECK(a.used < 4096);
  cq_arena_free(&a);
  /* column count 3, two specs, then the body ends */
  b_reset();
  i32(2);
  i32(CQ_RFLAG_GLOBAL_TABLES_SPEC);
  i32(3);
  str("k");
  str("t");
  str("a");
  u16(9);
  str("b");
  u16(9);
  str("c");
  CHECK_EQ(decode_fail(4, 0, CQ_OP_RESULT, &d), CQ_ERR_TRUNCATED);
  CHECK_STR(d.msg, "RESULT Rows: column count 3 but 2 col specs before end of body");
  /* negative counts */
  b_reset();
  i32(2);
  i32(CQ_RFLAG_NO_METADATA);
  i32(-5);
  i32(0);
  CHECK_EQ(decode_fail(4, 0, CQ_OP_RESULT, &d), CQ_ERR_MALFORMED);
  b_reset();
  i32(2);
  i32(CQ_RFLAG_NO_METADATA);
  i32(1);
  i32(-1);
  CHECK_EQ(decode_fail(4, 0, CQ_OP_RESULT, &d), CQ_ERR_MALFORMED);
  /* rows count the remaining bytes cannot hold */
  b_reset();
  i32(2);
  i32(CQ_RFLAG_NO_METADATA);
  i32(1000);
  i32(1000000);
  i32(0);
  CHECK_EQ(decode_fail(4, 0, CQ_OP_RESULT, &d), CQ_ERR_TRUNCATED);
  CHECK(strstr(d.msg, "rows count") != NULL);
  /* a bad type inside a col spec names the column */
  b_reset();
  i32(2);
  i32(CQ_RFLAG_GLOBAL_TABLES_SPEC);
  i32(1);
  str("k");
  str("t");
  str("weird");
  u16(0x0A);
  i32(0);
  CHECK_EQ(decode_fail(4, 0, CQ_OP_RESULT, &d), CQ_ERR_MALFORMED);
  CHECK(strstr(d.msg, "weird") != NULL && strstr(d.msg, "0x000a") != NULL);
}

static void put_prepared(int v, int with_pk) {
  b_reset();
  i32(4);
  u16(4);
  raw("\xde\xad\xbe\xef", 4); /* id */
  if (v >= 5) {
    u16(2);
    raw("\x01\x02", 2); /* result_metadata_id */
  }
  i32(CQ_RFLAG_GLOBAL_TABLES_SPEC);
  i32(2);
  if (v >= 4) {
    i32(with_pk ? 2 : 0);
    if (with_pk) {
      u16(1);
      u16(0);
    }
  }
  str("ks");
  str("tbl");
  str("a");
  u16(0x09);
  str("b");
  u16(0x0C);
  /* result metadata: one column, global spec */
  i32(CQ_RFLAG_GLOBAL_TABLES_SPEC);
  i32(1);
  str("ks");
  str("tbl");
  str("x");
  u16(0x0D);
}

TEST(result_prepared_v3_v4_v5) {
  for (int v = 3; v <= 5; v++) {
    put_prepared(v, 1);
    cq_arena a;
    cq_arena_init(&a, 0);
    cq_response r;
    if (decode_checked(v, 0, CQ_OP_RESULT, &r, &a) == CQ_OK) {
      const cq_result *res = &r.u.result;
      CHECK_EQ(res->kind, CQ_RESULT_PREPARED);
      CHECK_EQ(res->id.len, 4);
      CHECK_MEM(res->id.p, "\xde\xad\xbe\xef", 4);
      CHECK_EQ(res->result_metadata_id.len, v >= 5 ? 2 : 0);
      CHECK_EQ(res->prepared.column_count, 2);
      CHECK_EQ(res->prepared.pk_count, v >= 4 ? 2 : 0);
      if (v >= 4) {
        CHECK_EQ(res->prepared.pk_indexes[0], 1);
        CHECK_EQ(res->prepared.pk_indexes[1], 0);
      }
      CHECK(str_is(res->prepared.table, "tbl"));
      CHECK(str_is(res->prepared.columns[1].name, "b"));
      CHECK_EQ(res->prepared.columns[1].type->kind, CQ_TYPE_UUID);
      CHECK_EQ(res->meta.column_count, 1);
      CHECK_EQ(res->meta.columns[0].type->kind, CQ_TYPE_VARCHAR);
    }
    cq_arena_free(&a);
  }
}

TEST(result_prepared_bad_pk) {
  cq_diag d;
  b_reset();
  i32(4);
  u16(1);
  u8(1);
  i32(0);
  i32(1);
  i32(1);
  u16(5); /* pk index beyond the one bind marker */
  CHECK_EQ(decode_fail(4, 0, CQ_OP_RESULT, &d), CQ_ERR_MALFORMED);
  CHECK(strstr(d.msg, "pk index 5") != NULL);
  b_reset();
  i32(4);
  u16(1);
  u8(1);
  i32(0);
  i32(1);
  i32(0x40000000); /* pk count that cannot fit */
  u16(0);
  CHECK_EQ(decode_fail(4, 0, CQ_OP_RESULT, &d), CQ_ERR_TRUNCATED);
}

TEST(result_schema_change_every_target) {
  static const char *targets[] = {"KEYSPACE", "TABLE", "TYPE", "FUNCTION", "AGGREGATE"};
  for (int i = 0; i < 5; i++) {
    b_reset();
    i32(5);
    str("CREATED");
    str(targets[i]);
    str("ks");
    if (i >= 1) str("obj");
    if (i >= 3) {
      u16(2);
      str("int");
      str("frozen<list<text>>");
    }
    cq_arena a;
    cq_arena_init(&a, 0);
    cq_response r;
    if (decode_checked(4, 0, CQ_OP_RESULT, &r, &a) == CQ_OK) {
      const cq_schema_change *c = &r.u.result.change;
      CHECK(str_is(c->change_type, "CREATED"));
      CHECK(str_is(c->target, targets[i]));
      CHECK(str_is(c->keyspace, "ks"));
      if (i >= 1) CHECK(str_is(c->name, "obj"));
      if (i >= 3) {
        REQUIRE(c->narg_types == 2);
        CHECK(str_is(c->arg_types[1], "frozen<list<text>>"));
      }
    }
    cq_arena_free(&a);
  }
  b_reset();
  i32(5);
  str("DROPPED");
  str("INDEX");
  str("ks");
  cq_diag d;
  CHECK_EQ(decode_fail(4, 0, CQ_OP_RESULT, &d), CQ_ERR_UNSUPPORTED);
  CHECK(strstr(d.msg, "INDEX") != NULL);
}

TEST(result_unknown_kind_and_unknown_opcode) {
  cq_diag d;
  b_reset();
  i32(0x42);
  CHECK_EQ(decode_fail(4, 0, CQ_OP_RESULT, &d), CQ_ERR_UNSUPPORTED);
  CHECK(strstr(d.msg, "0x42") != NULL);
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r;
  CHECK_EQ(cq_response_decode(&r, 4, 0, CQ_OP_RESULT, B.data, B.len, &a, &d), CQ_ERR_UNSUPPORTED);
  CHECK_EQ(r.u.result.kind, 0x42);
  CHECK_EQ(decode_fail(4, 0, CQ_OP_QUERY, &d), CQ_ERR_UNSUPPORTED);
  CHECK_EQ(decode_fail(4, 0, 0x33, &d), CQ_ERR_UNSUPPORTED);
  CHECK_EQ(decode_fail(2, 0, CQ_OP_RESULT, &d), CQ_ERR_UNSUPPORTED);
  CHECK_EQ(decode_fail(6, 0, CQ_OP_RESULT, &d), CQ_ERR_UNSUPPORTED);
  cq_arena_free(&a);
}

/* ---- EVENT ---- */

TEST(event_topology_status_schema) {
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r;
  b_reset();
  str("TOPOLOGY_CHANGE");
  str("NEW_NODE");
  u8(4);
  raw("\x7f\x00\x00\x02", 4);
  i32(9042);
  if (decode_checked(4, 0, CQ_OP_EVENT, &r, &a) == CQ_OK) {
    CHECK(str_is(r.u.event.type, "TOPOLOGY_CHANGE"));
    CHECK(str_is(r.u.event.change, "NEW_NODE"));
    CHECK_EQ(r.u.event.node.addr.len, 4);
    CHECK_EQ(r.u.event.node.addr.addr[3], 2);
    CHECK_EQ(r.u.event.node.port, 9042);
  }
  b_reset();
  str("STATUS_CHANGE");
  str("DOWN");
  u8(16);
  raw("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
  i32(19042);
  if (decode_checked(5, 0, CQ_OP_EVENT, &r, &a) == CQ_OK) {
    CHECK_EQ(r.u.event.node.addr.len, 16);
    CHECK_EQ(r.u.event.node.port, 19042);
  }
  b_reset();
  str("SCHEMA_CHANGE");
  str("UPDATED");
  str("TABLE");
  str("ks");
  str("t");
  if (decode_checked(3, 0, CQ_OP_EVENT, &r, &a) == CQ_OK) {
    CHECK(str_is(r.u.event.schema.target, "TABLE"));
    CHECK(str_is(r.u.event.schema.name, "t"));
  }
  b_reset();
  str("SOMETHING_NEW");
  cq_diag d;
  CHECK_EQ(decode_fail(4, 0, CQ_OP_EVENT, &d), CQ_ERR_UNSUPPORTED);
  cq_arena_free(&a);
}

/* ---- encoder-side round trips from hand-built structures ---- */

TEST(encode_rows_from_struct_roundtrips) {
  cq_type t_int = {.kind = CQ_TYPE_INT};
  cq_type t_txt = {.kind = CQ_TYPE_VARCHAR};
  const cq_type *subs[2] = {&t_txt, &t_int};
  cq_type t_map = {.kind = CQ_TYPE_MAP, .nsub = 2, .sub = subs};
  cq_col_spec cols[2] = {
      {{"ks", 2}, {"t", 1}, {"a", 1}, &t_int},
      {{"ks", 2}, {"t", 1}, {"m", 1}, &t_map},
  };
  static const uint8_t rows[] = {0, 0, 0, 4, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF};
  cq_response in = {.opcode = CQ_OP_RESULT};
  in.u.result.kind = CQ_RESULT_ROWS;
  in.u.result.meta.flags = CQ_RFLAG_GLOBAL_TABLES_SPEC;
  in.u.result.meta.column_count = 2;
  in.u.result.meta.keyspace = (cq_str){"ks", 2};
  in.u.result.meta.table = (cq_str){"t", 1};
  in.u.result.meta.columns = cols;
  in.u.result.row_count = 1;
  in.u.result.rows = rows;
  in.u.result.rows_len = sizeof rows;
  for (int v = 3; v <= 5; v++) {
    cq_buf b;
    cq_buf_init(&b);
    REQUIRE(cq_response_encode(&b, v, 0, &in) == CQ_OK);
    cq_arena a;
    cq_arena_init(&a, 0);
    cq_response out;
    cq_diag d;
    CHECK_EQ(cq_response_decode(&out, v, 0, CQ_OP_RESULT, b.data, b.len, &a, &d), CQ_OK);
    CHECK(cq_response_equal(&in, &out));
    cq_arena_free(&a);
    cq_buf_free(&b);
  }
}

/* Random single-byte mutations of valid bodies: never crash; anything that
 * decodes re-encodes to something that decodes equal. */
TEST(mutations_never_crash_and_roundtrip) {
  for (int v = 3; v <= 5; v++) {
    put_prepared(v, 1);
    cq_buf base = B;
    uint8_t *buf = malloc(base.len);
    REQUIRE(buf);
    for (int iter = 0; iter < 3000; iter++) {
      memcpy(buf, base.data, base.len);
      int nm = 1 + (int)(unit_rand() % 3);
      for (int m = 0; m < nm; m++)
        buf[unit_rand() % base.len] = (uint8_t)unit_rand();
      size_t len = base.len - (size_t)(unit_rand() % 4);
      cq_arena a;
      cq_arena_init(&a, 0);
      cq_response r1, r2;
      cq_diag d;
      if (cq_response_decode(&r1, v, 0, CQ_OP_RESULT, buf, len, &a, &d) == CQ_OK) {
        cq_buf e;
        cq_buf_init(&e);
        CHECK_EQ(cq_response_encode(&e, v, 0, &r1), CQ_OK);
        CHECK_EQ(cq_response_decode(&r2, v, 0, CQ_OP_RESULT, e.data, e.len, &a, &d), CQ_OK);
        CHECK(cq_response_equal(&r1, &r2));
        cq_buf_free(&e);
      } else {
        CHECK(d.msg[0] != '\0');
      }
      cq_arena_free(&a);
    }
    free(buf);
  }
  b_reset();
}

TEST(rows_meta_decode_standalone_leaves_reader_after_metadata) {
  b_reset();
  i32(CQ_RFLAG_GLOBAL_TABLES_SPEC);
  i32(1);
  str("ks");
  str("t");
  str("c");
  u16(0x0D);
  i32(9); /* rows_count: not metadata */
  cq_reader r;
  cq_reader_init(&r, B.data, B.len);
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_rows_meta m;
  cq_diag d;
  CHECK_EQ(cq_rows_meta_decode(&r, 4, &m, &a, &d), CQ_OK);
  CHECK_EQ(r.pos, B.len - 4);
  CHECK_EQ(m.column_count, 1);
  CHECK_EQ(m.columns[0].type->kind, CQ_TYPE_VARCHAR);
  cq_reader_init(&r, B.data, 10);
  CHECK_EQ(cq_rows_meta_decode(&r, 4, &m, &a, &d), CQ_ERR_TRUNCATED);
  CHECK(strncmp(d.msg, "Rows metadata: ", 15) == 0);
  cq_arena_free(&a);
}

TEST(diagnostics_name_message_field_and_offset) {
  b_reset();
  i32(0x1000);
  str("x");
  u16(1);
  i32(3);
  cq_diag d;
  CHECK_EQ(decode_fail(4, 0, CQ_OP_ERROR, &d), CQ_ERR_TRUNCATED);
  CHECK_STR(d.msg, "ERROR: truncated reading alive at byte 13");
  b_reset();
  i32(4);
  u16(9);
  CHECK_EQ(decode_fail(4, 0, CQ_OP_RESULT, &d), CQ_ERR_TRUNCATED);
  CHECK_STR(d.msg, "RESULT Prepared: truncated reading prepared id at byte 6");
}

TEST(zz_cleanup) { cq_buf_free(&B); }

UNIT_MAIN()
