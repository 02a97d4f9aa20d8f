/* Request bodies: hand-built byte vectors from the v3/v4/v5 specs, encode
 * and decode both ways, every-prefix truncation, version rules. */
#include "../../src/core/message.h"
#include "unit.h"

static cq_buf B;
static void b_reset(void) {
  cq_buf_free(&B);
  cq_buf_init(&B);
}
static void u8(unsigned v) { cq_buf_put_u8(&B, (uint8_t)v); }
static void u16(unsigned v) { cq_buf_put_u16(&B, (uint16_t)v); }
static void i32(int32_t v) { cq_buf_put_u32(&B, (uint32_t)v); }
static void i64(int64_t v) { cq_buf_put_u64(&B, (uint64_t)v); }
static void str(const char *s) { cq_buf_put_string(&B, s, strlen(s)); }
static void lstr(const char *s) { cq_buf_put_long_string(&B, s, strlen(s)); }
static void raw(const void *p, size_t n) { cq_buf_put(&B, p, n); }
#define S(lit) ((cq_str){lit, sizeof(lit) - 1})
#define V(lit) ((cq_value){(const uint8_t *)lit, (int32_t)(sizeof(lit) - 1)})

/* Encodes req and compares with B; decodes B and compares with req; every
 * strict prefix of B must fail with TRUNCATED. */
static void check_both_ways(int version, int flags, const cq_request *req) {
  cq_buf e;
  cq_buf_init(&e);
  int rc = cq_request_encode(&e, version, flags, req);
  CHECK_EQ(rc, CQ_OK);
  CHECK_EQ(e.len, B.len);
  if (rc == CQ_OK && e.len == B.len && B.len) CHECK_MEM(e.data, B.data, B.len);
  cq_buf_free(&e);
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_request out;
  cq_diag d;
  rc = cq_request_decode(&out, version, flags, req->opcode, B.data, B.len, &a, &d);
  if (rc != CQ_OK)
    UNIT_FAIL("decode v%d %s: %d %s", version, cq_opcode_name(req->opcode), rc, d.msg);
  else
    CHECK(cq_request_equal(req, &out));
  cq_arena_free(&a);
  for (size_t k = 0; k < B.len; k++) {
    cq_arena_init(&a, 0);
    rc = cq_request_decode(&out, version, flags, req->opcode, B.data, k, &a, &d);
    if (rc != CQ_ERR_TRUNCATED)
      UNIT_FAIL("v%d %s prefix %zu/%zu: rc %d (%s)", version, cq_opcode_name(req->opcode), k, B.len,
                rc, d.msg);
    else if (!d.msg[0])
      UNIT_FAIL("prefix %zu: empty diagnostic", k);
    cq_arena_free(&a);
  }
}

static int encode_rc(int version, int flags, const cq_request *req) {
  cq_buf e;
  cq_buf_init(&e);
  int rc = cq_request_encode(&e, version, flags, req);
  cq_buf_free(&e);
  return rc;
}

static int decode_rc(int version, int flags, int opcode, cq_diag *d) {
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_request out;
  int rc = cq_request_decode(&out, version, flags, opcode, B.data, B.len, &a, d);
  cq_arena_free(&a);
  return rc;
}

TEST(startup_literal_and_extras) {
  static const uint8_t in[] = {0x00, 0x02, 0x00, 0x0B, 'C', 'Q',  'L',  '_', 'V', 'E',
                               'R',  'S',  'I',  'O',  'N', 0x00, 0x05, '3', '.', '0',
                               '.',  '0',  0x00, 0x0B, 'C', 'O',  'M',  'P', 'R', 'E',
                               'S',  'S',  'I',  'O',  'N', 0x00, 0x03, 'l', 'z', '4'};
  cq_request req = {.opcode = CQ_OP_STARTUP};
  req.u.startup.cql_version = S("3.0.0");
  req.u.startup.compression = S("lz4");
  b_reset();
  raw(in, sizeof in);
  for (int v = 3; v <= 5; v++)
    check_both_ways(v, 0, &req);

  cq_str_pair extra[1] = {{S("THROW_ON_OVERLOAD"), S("1")}};
  req.u.startup.compression = (cq_str){0};
  req.u.startup.driver_name = S("cqlua");
  req.u.startup.driver_version = S("0.1.0");
  req.u.startup.extra = extra;
  req.u.startup.nextra = 1;
  b_reset();
  u16(4);
  str("CQL_VERSION");
  str("3.0.0");
  str("DRIVER_NAME");
  str("cqlua");
  str("DRIVER_VERSION");
  str("0.1.0");
  str("THROW_ON_OVERLOAD");
  str("1");
  check_both_ways(4, 0, &req);
}

TEST(options_empty_register_auth_response) {
  cq_request req = {.opcode = CQ_OP_OPTIONS};
  b_reset();
  check_both_ways(4, 0, &req);
  cq_str ev[3] = {S("TOPOLOGY_CHANGE"), S("STATUS_CHANGE"), S("SCHEMA_CHANGE")};
  req.opcode = CQ_OP_REGISTER;
  req.u.reg.events = ev;
  req.u.reg.nevents = 3;
  b_reset();
  u16(3);
  str("TOPOLOGY_CHANGE");
  str("STATUS_CHANGE");
  str("SCHEMA_CHANGE");
  check_both_ways(3, 0, &req);
  memset(&req, 0, sizeof req);
  req.opcode = CQ_OP_AUTH_RESPONSE;
  req.u.auth_token = V("\0cassandra\0cassandra");
  b_reset();
  i32(20);
  raw("\0cassandra\0cassandra", 20);
  check_both_ways(4, 0, &req);
  req.u.auth_token = (cq_value){NULL, CQ_VALUE_NULL};
  b_reset();
  i32(-1);
  check_both_ways(5, 0, &req);
  req.u.auth_token = (cq_value){NULL, CQ_VALUE_UNSET};
  CHECK_EQ(encode_rc(5, 0, &req), CQ_ERR_INVALID);
}

TEST(query_minimal_literal_each_version) {
  cq_request req = {.opcode = CQ_OP_QUERY};
  req.u.query.query = S("SELECT 1");
  req.u.query.params.consistency = CQ_CL_ONE;
  static const uint8_t v34[] = {0, 0, 0, 8, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0, 1, 0};
  static const uint8_t v5[] = {0,   0,   0,   8, 'S', 'E', 'L', 'E', 'C',
                               'T', ' ', '1', 0, 1,   0,   0,   0,   0};
  b_reset();
  raw(v34, sizeof v34);
  check_both_ways(3, 0, &req);
  check_both_ways(4, 0, &req);
  b_reset();
  raw(v5, sizeof v5);
  check_both_ways(5, 0, &req);
}

static void build_full_query(int v, cq_request *req, cq_value *vals) {
  memset(req, 0, sizeof *req);
  req->opcode = CQ_OP_QUERY;
  cq_query_params *p = &req->u.query.params;
  req->u.query.query = S("SELECT * FROM t WHERE k=? AND c=?");
  vals[0] = V("\0\0\0\x2a");
  vals[1] = (cq_value){NULL, CQ_VALUE_NULL};
  p->consistency = CQ_CL_LOCAL_QUORUM;
  p->flags = CQ_QFLAG_VALUES | CQ_QFLAG_SKIP_METADATA | CQ_QFLAG_PAGE_SIZE | CQ_QFLAG_PAGING_STATE |
             CQ_QFLAG_SERIAL_CONSISTENCY | CQ_QFLAG_DEFAULT_TIMESTAMP;
  p->nvalues = 2;
  p->values = vals;
  p->page_size = 5000;
  p->paging_state = V("\x01\x02\x03");
  p->serial_consistency = CQ_CL_LOCAL_SERIAL;
  p->default_timestamp = 1700000000000000LL;
  if (v >= 5) {
    p->flags |= CQ_QFLAG_WITH_KEYSPACE | CQ_QFLAG_WITH_NOW_IN_SECONDS;
    p->keyspace = S("ks");
    p->now_in_seconds = 1700000000;
  }
  b_reset();
  lstr("SELECT * FROM t WHERE k=? AND c=?");
  u16(CQ_CL_LOCAL_QUORUM);
  if (v >= 5)
    i32(0x01BF);
  else
    u8(0x3F);
  u16(2);
  i32(4);
  raw("\0\0\0\x2a", 4);
  i32(-1);
  i32(5000);
  i32(3);
  raw("\x01\x02\x03", 3);
  u16(CQ_CL_LOCAL_SERIAL);
  i64(1700000000000000LL);
  if (v >= 5) {
    str("ks");
    i32(1700000000);
  }
}

TEST(query_every_flag_each_version) {
  for (int v = 3; v <= 5; v++) {
    cq_request req;
    cq_value vals[2];
    build_full_query(v, &req, vals);
    check_both_ways(v, 0, &req);
  }
}

TEST(query_flags_are_derived_from_fields) {
  cq_request req = {.opcode = CQ_OP_QUERY};
  cq_value vals[1] = {V("x")};
  req.u.query.query = S("q");
  req.u.query.params.consistency = CQ_CL_ONE;
  req.u.query.params.values = vals;
  req.u.query.params.nvalues = 1;
  req.u.query.params.paging_state = V("P");
  cq_buf e;
  cq_buf_init(&e);
  CHECK_EQ(cq_request_encode(&e, 4, 0, &req), CQ_OK);
  /* long string 'q' (5 bytes), consistency (2), then the flag byte */
  REQUIRE(e.len > 7);
  CHECK_EQ(e.data[7], CQ_QFLAG_VALUES | CQ_QFLAG_PAGING_STATE);
  cq_buf_free(&e);
}

TEST(query_named_values) {
  cq_request req = {.opcode = CQ_OP_QUERY};
  cq_value vals[2] = {V("\0\0\0\1"), V("ab")};
  cq_str names[2] = {S("k"), S("name")};
  req.u.query.query = S("INSERT INTO t (k, name) VALUES (:k, :name)");
  cq_query_params *p = &req.u.query.params;
  p->consistency = CQ_CL_QUORUM;
  p->flags = CQ_QFLAG_VALUES | CQ_QFLAG_NAMES_FOR_VALUES;
  p->nvalues = 2;
  p->values = vals;
  p->names = names;
  for (int v = 3; v <= 5; v++) {
    b_reset();
    lstr("INSERT INTO t (k, name) VALUES (:k, :name)");
    u16(CQ_CL_QUORUM);
    if (v >= 5)
      i32(0x41);
    else
      u8(0x41);
    u16(2);
    str("k");
    i32(4);
    raw("\0\0\0\1", 4);
    str("name");
    i32(2);
    raw("ab", 2);
    check_both_ways(v, 0, &req);
  }
}

TEST(unset_values_need_v4) {
  cq_request req = {.opcode = CQ_OP_QUERY};
  cq_value vals[1] = {{NULL, CQ_VALUE_UNSET}};
  req.u.query.query = S("q");
  req.u.query.params.flags = CQ_QFLAG_VALUES;
  req.u.query.params.nvalues = 1;
  req.u.query.params.values = vals;
  CHECK_EQ(encode_rc(3, 0, &req), CQ_ERR_UNSUPPORTED);
  b_reset();
  lstr("q");
  u16(0);
  u8(1);
  u16(1);
  i32(-2);
  check_both_ways(4, 0, &req);
  cq_diag d;
  CHECK_EQ(decode_rc(3, 0, CQ_OP_QUERY, &d), CQ_ERR_MALFORMED);
  CHECK(strstr(d.msg, "unset") != NULL);
  /* below -2 is never legal */
  b_reset();
  lstr("q");
  u16(0);
  u8(1);
  u16(1);
  i32(-3);
  CHECK_EQ(decode_rc(4, 0, CQ_OP_QUERY, &d), CQ_ERR_MALFORMED);
  vals[0].len = -3;
  CHECK_EQ(encode_rc(4, 0, &req), CQ_ERR_INVALID);
}

TEST(v5_only_fields_refused_before_v5) {
  cq_request req = {.opcode = CQ_OP_QUERY};
  req.u.query.query = S("q");
  req.u.query.params.keyspace = S("ks");
  CHECK_EQ(encode_rc(4, 0, &req), CQ_ERR_UNSUPPORTED);
  CHECK_EQ(encode_rc(5, 0, &req), CQ_OK);
  req.u.query.params.keyspace = (cq_str){0};
  req.u.query.params.flags = CQ_QFLAG_WITH_NOW_IN_SECONDS;
  CHECK_EQ(encode_rc(3, 0, &req), CQ_ERR_UNSUPPORTED);
  b_reset();
  lstr("q");
  u16(1);
  u8(0x80);
  str("ks");
  cq_diag d;
  CHECK_EQ(decode_rc(4, 0, CQ_OP_QUERY, &d), CQ_ERR_MALFORMED);
}

TEST(prepare_v4_and_v5) {
  cq_request req = {.opcode = CQ_OP_PREPARE};
  req.u.prepare.query = S("SELECT * FROM t");
  b_reset();
  lstr("SELECT * FROM t");
  check_both_ways(3, 0, &req);
  check_both_ways(4, 0, &req);
  b_reset();
  lstr("SELECT * FROM t");
  i32(0);
  check_both_ways(5, 0, &req);
  req.u.prepare.keyspace = S("ks");
  req.u.prepare.flags = CQ_PREPARE_WITH_KEYSPACE;
  b_reset();
  lstr("SELECT * FROM t");
  i32(1);
  str("ks");
  check_both_ways(5, 0, &req);
  CHECK_EQ(encode_rc(4, 0, &req), CQ_ERR_UNSUPPORTED);
}

TEST(execute_v3_v4_v5) {
  cq_request req = {.opcode = CQ_OP_EXECUTE};
  cq_value vals[5] = {V("\0\0\0\1"), V("abc"), {NULL, -1}, V(""), V("\x7f")};
  req.u.execute.id = (cq_bytes){(const uint8_t *)"\xca\xfe", 2};
  req.u.execute.params.consistency = CQ_CL_ONE;
  req.u.execute.params.flags = CQ_QFLAG_VALUES | CQ_QFLAG_SKIP_METADATA;
  req.u.execute.params.nvalues = 5;
  req.u.execute.params.values = vals;
  for (int v = 3; v <= 5; v++) {
    b_reset();
    u16(2);
    raw("\xca\xfe", 2);
    if (v >= 5) {
      u16(3);
      raw("\x01\x02\x03", 3);
      req.u.execute.result_metadata_id = (cq_bytes){(const uint8_t *)"\x01\x02\x03", 3};
    }
    u16(CQ_CL_ONE);
    if (v >= 5)
      i32(3);
    else
      u8(3);
    u16(5);
    i32(4);
    raw("\0\0\0\1", 4);
    i32(3);
    raw("abc", 3);
    i32(-1);
    i32(0);
    i32(1);
    raw("\x7f", 1);
    check_both_ways(v, 0, &req);
  }
  req.u.execute.result_metadata_id = (cq_bytes){0};
  CHECK_EQ(encode_rc(5, 0, &req), CQ_ERR_INVALID);
  CHECK_EQ(encode_rc(4, 0, &req), CQ_OK);
}

static void build_batch(int v, int named, cq_request *req, cq_batch_stmt *st, cq_value *vals,
                        cq_str *names) {
  memset(req, 0, sizeof *req);
  req->opcode = CQ_OP_BATCH;
  cq_batch *b = &req->u.batch;
  vals[0] = V("\0\0\0\1");
  vals[1] = (cq_value){NULL, -1};
  names[0] = S("a");
  names[1] = S("b");
  memset(st, 0, 2 * sizeof *st);
  st[0].kind = CQ_BATCH_KIND_QUERY;
  st[0].query = S("INSERT INTO t (a, b) VALUES (?, ?)");
  st[0].nvalues = 2;
  st[0].values = vals;
  st[1].kind = CQ_BATCH_KIND_PREPARED;
  st[1].id = (cq_bytes){(const uint8_t *)"\x99", 1};
  st[1].nvalues = 1;
  st[1].values = vals;
  if (named) {
    st[0].names = names;
    st[1].names = names;
  }
  b->type = CQ_BATCH_UNLOGGED;
  b->nstmts = 2;
  b->stmts = st;
  b->consistency = CQ_CL_QUORUM;
  b->flags = CQ_QFLAG_SERIAL_CONSISTENCY | CQ_QFLAG_DEFAULT_TIMESTAMP |
             (named ? CQ_QFLAG_NAMES_FOR_VALUES : 0);
  b->serial_consistency = CQ_CL_SERIAL;
  b->default_timestamp = 42;
  if (v >= 5) {
    b->flags |= CQ_QFLAG_WITH_KEYSPACE | CQ_QFLAG_WITH_NOW_IN_SECONDS;
    b->keyspace = S("ks");
    b->now_in_seconds = 99;
  }
  b_reset();
  u8(1);
  u16(2);
  u8(0);
  lstr("INSERT INTO t (a, b) VALUES (?, ?)");
  u16(2);
  if (named) str("a");
  i32(4);
  raw("\0\0\0\1", 4);
  if (named) str("b");
  i32(-1);
  u8(1);
  u16(1);
  raw("\x99", 1);
  u16(1);
  if (named) str("a");
  i32(4);
  raw("\0\0\0\1", 4);
  u16(CQ_CL_QUORUM);
  uint32_t f = 0x30 | (named ? 0x40 : 0) | (v >= 5 ? 0x180 : 0);
  if (v >= 5)
    i32((int32_t)f);
  else
    u8(f);
  u16(CQ_CL_SERIAL);
  i64(42);
  if (v >= 5) {
    str("ks");
    i32(99);
  }
}

TEST(batch_each_version_positional_and_named) {
  for (int v = 3; v <= 5; v++) {
    for (int named = 0; named <= 1; named++) {
      cq_request req;
      cq_batch_stmt st[2];
      cq_value vals[2];
      cq_str names[2];
      build_batch(v, named, &req, st, vals, names);
      check_both_ways(v, 0, &req);
    }
  }
}

TEST(batch_rejects_bad_kind_and_flags) {
  cq_request req;
  cq_batch_stmt st[2];
  cq_value vals[2];
  cq_str names[2];
  build_batch(4, 0, &req, st, vals, names);
  st[1].kind = 7;
  CHECK_EQ(encode_rc(4, 0, &req), CQ_ERR_INVALID);
  st[1].kind = 1;
  req.u.batch.flags |= CQ_QFLAG_PAGE_SIZE;
  CHECK_EQ(encode_rc(4, 0, &req), CQ_ERR_INVALID);
  b_reset();
  u8(0);
  u16(1);
  u8(2);
  i32(0);
  u16(0);
  cq_diag d;
  CHECK_EQ(decode_rc(4, 0, CQ_OP_BATCH, &d), CQ_ERR_MALFORMED);
  CHECK(strstr(d.msg, "kind 2") != NULL);
}

TEST(custom_payload_prefix) {
  cq_payload_entry pl[2] = {{S("k1"), V("v1")}, {S("k2"), {NULL, -1}}};
  cq_request req = {.opcode = CQ_OP_QUERY, .payload = pl, .npayload = 2};
  req.u.query.query = S("q");
  b_reset();
  u16(2);
  str("k1");
  i32(2);
  raw("v1", 2);
  str("k2");
  i32(-1);
  lstr("q");
  u16(0);
  u8(0);
  check_both_ways(4, CQ_FLAG_CUSTOM_PAYLOAD, &req);
  /* v3 has no custom payload: the flag is ignored both ways. */
  cq_request plain = req;
  plain.payload = NULL;
  plain.npayload = 0;
  b_reset();
  lstr("q");
  u16(0);
  u8(0);
  cq_buf e;
  cq_buf_init(&e);
  CHECK_EQ(cq_request_encode(&e, 3, CQ_FLAG_CUSTOM_PAYLOAD, &req), CQ_OK);
  CHECK_EQ(e.len, B.len);
  cq_buf_free(&e);
  check_both_ways(3, CQ_FLAG_CUSTOM_PAYLOAD, &plain);
}

TEST(lying_counts_and_bad_opcodes) {
  cq_diag d;
  b_reset();
  lstr("q");
  u16(0);
  u8(1);
  u16(0xFFFF);
  i32(0);
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_request out;
  CHECK_EQ(cq_request_decode(&out, 4, 0, CQ_OP_QUERY, B.data, B.len, &a, &d), CQ_ERR_TRUNCATED);
  CHECK(strstr(d.msg, "65535") != NULL);
  CHECK(a.used < 4096);
  cq_arena_free(&a);
  b_reset();
  i32(0x7FFFFFFF);
  raw("abc", 3);
  CHECK_EQ(decode_rc(4, 0, CQ_OP_QUERY, &d), CQ_ERR_TRUNCATED);
  b_reset();
  i32(-5);
  CHECK_EQ(decode_rc(4, 0, CQ_OP_QUERY, &d), CQ_ERR_MALFORMED);
  b_reset();
  CHECK_EQ(decode_rc(4, 0, CQ_OP_RESULT, &d), CQ_ERR_UNSUPPORTED);
  CHECK_EQ(decode_rc(4, 0, 0x7F, &d), CQ_ERR_UNSUPPORTED);
  cq_request req = {.opcode = CQ_OP_READY};
  CHECK_EQ(encode_rc(4, 0, &req), CQ_ERR_UNSUPPORTED);
  req.opcode = CQ_OP_OPTIONS;
  CHECK_EQ(encode_rc(2, 0, &req), CQ_ERR_UNSUPPORTED);
}

TEST(mutations_never_crash_and_roundtrip) {
  for (int v = 3; v <= 5; v++) {
    for (int op = 0; op < 2; op++) {
      cq_request req;
      cq_batch_stmt st[2];
      cq_value vals[2];
      cq_str names[2];
      if (op == 0)
        build_full_query(v, &req, vals);
      else
        build_batch(v, (int)(unit_rand() & 1), &req, st, vals, names);
      size_t n = B.len;
      uint8_t *buf = malloc(n);
      REQUIRE(buf);
      for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, B.data, n);
        int nm = 1 + (int)(unit_rand() % 3);
        for (int m = 0; m < nm; m++)
          buf[unit_rand() % n] = (uint8_t)unit_rand();
        size_t len = n - (size_t)(unit_rand() % 3);
        cq_arena a;
        cq_arena_init(&a, 0);
        cq_request r1, r2;
        cq_diag d;
        if (cq_request_decode(&r1, v, 0, req.opcode, buf, len, &a, &d) == CQ_OK) {
          cq_buf e;
          cq_buf_init(&e);
          CHECK_EQ(cq_request_encode(&e, v, 0, &r1), CQ_OK);
          CHECK_EQ(cq_request_decode(&r2, v, 0, req.opcode, e.data, e.len, &a, &d), CQ_OK);
          CHECK(cq_request_equal(&r1, &r2));
          cq_buf_free(&e);
        } else {
          CHECK(d.msg[0] != '\0');
        }
        cq_arena_free(&a);
      }
      free(buf);
    }
  }
}

TEST(zz_cleanup) { cq_buf_free(&B); }

UNIT_MAIN()
