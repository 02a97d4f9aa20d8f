/* The embedding C API (include/cqlua.h) against a real Cassandra: every
 * function, the error paths (server errors with their seed names and
 * codes, wrong bind and getter types naming the marker or column, NULL
 * handles, closed handles, bad configuration), timed waits, callbacks on
 * the loop thread, and transparent paging.
 *
 * Run by `scripts/run-tests integration` (every build/itest_* binary).
 * The server is the first address of CQLUA_TEST_HOSTS (127.0.0.1 when
 * unset), port 9042; CQLUA_TEST_USER / CQLUA_TEST_PASSWORD and
 * CQLUA_TEST_TLS_CA are honoured. Tables live in the keyspace capi_test. */
#include <cqlua.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define KS "capi_test"

static char host[64] = "127.0.0.1";

__attribute__((constructor)) static void pick_host(void) {
  const char *hosts = getenv("CQLUA_TEST_HOSTS");
  if (hosts && *hosts) {
    size_t n = strcspn(hosts, ",");
    if (n >= sizeof host) n = sizeof host - 1;
    memcpy(host, hosts, n);
    host[n] = '\0';
  }
}

/* A cluster configured for the test server (caller frees). */
static cqlua_cluster *test_cluster(void) {
  cqlua_cluster *cl = cqlua_cluster_new();
  if (!cl) {
    UNIT_FAIL("cqlua_cluster_new: %s", cqlua_last_error_message());
    return NULL;
  }
  CHECK_EQ(cqlua_cluster_set_contact_points(cl, host), CQLUA_OK);
  CHECK_EQ(cqlua_cluster_set_port(cl, 9042), CQLUA_OK);
  const char *user = getenv("CQLUA_TEST_USER");
  if (user && *user) {
    const char *pw = getenv("CQLUA_TEST_PASSWORD");
    CHECK_EQ(cqlua_cluster_set_credentials(cl, user, pw ? pw : ""), CQLUA_OK);
  }
  const char *ca = getenv("CQLUA_TEST_TLS_CA");
  if (ca && *ca) {
    char expr[1024];
    snprintf(expr, sizeof expr, "{ ca_file = %s }", "os.getenv('CQLUA_TEST_TLS_CA')");
    CHECK_EQ(cqlua_cluster_set_option(cl, "ssl_options", expr), CQLUA_OK);
  }
  return cl;
}

/* The shared cluster and session, connected on first use. */
static cqlua_cluster *g_cluster;
static cqlua_session *g_session;

static cqlua_session *session(void) {
  if (g_session) return g_session;
  g_cluster = test_cluster();
  if (!g_cluster) return NULL;
  if (cqlua_cluster_connect(g_cluster, NULL, &g_session) != CQLUA_OK) {
    UNIT_FAIL("connect to %s: %s: %s", host, cqlua_last_error_name(), cqlua_last_error_message());
    return NULL;
  }
  return g_session;
}

static int q(const char *cql) {
  int rc = cqlua_session_query(session(), cql, NULL);
  if (rc != CQLUA_OK)
    UNIT_FAIL("%s: %s: %s", cql, cqlua_last_error_name(), cqlua_last_error_message());
  return rc;
}

static cqlua_prepared *prepare(const char *cql) {
  cqlua_future *f = cqlua_session_prepare(session(), cql);
  cqlua_prepared *p = NULL;
  if (!f || cqlua_future_get_prepared(f, &p) != CQLUA_OK)
    UNIT_FAIL("prepare %s: %s", cql, cqlua_last_error_message());
  cqlua_future_free(f);
  return p;
}

/* Runs a statement and returns its result (NULL on failure, reported). */
static cqlua_result *exec(const cqlua_statement *st) {
  cqlua_future *f = cqlua_session_execute(session(), st);
  cqlua_result *r = NULL;
  if (!f || cqlua_future_get_result(f, &r) != CQLUA_OK)
    UNIT_FAIL("execute: %s: %s", cqlua_last_error_name(), cqlua_last_error_message());
  cqlua_future_free(f);
  return r;
}

TEST(a_connects_and_creates_the_schema) {
  CHECK(cqlua_version() != NULL);
  REQUIRE(session() != NULL);
  fprintf(stderr, "# C API (libcqlua-embed %s) connected to %s\n", cqlua_version(), host);
  q("CREATE KEYSPACE IF NOT EXISTS " KS
    " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
  q("DROP TABLE IF EXISTS " KS ".types");
  q("CREATE TABLE " KS ".types (k int PRIMARY KEY, i int, b bigint, d double, f float, "
    "t boolean, s text, bl blob, u uuid, ts timestamp, l list<int>, m map<text, int>, "
    "ti tinyint, dec decimal, dt date)");
  q("DROP TABLE IF EXISTS " KS ".pages");
  q("CREATE TABLE " KS ".pages (p int, c int, v text, PRIMARY KEY (p, c))");
}

TEST(b_every_basic_type_round_trips_through_a_prepared_statement) {
  REQUIRE(session() != NULL);
  cqlua_prepared *ins =
      prepare("INSERT INTO " KS ".types (k, i, b, d, f, t, s, bl, u, ts, l, m, ti, dec, dt) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  REQUIRE(ins != NULL);
  CHECK_EQ(cqlua_prepared_marker_count(ins), 15);
  CHECK_STR(cqlua_prepared_marker_name(ins, 1), "i");
  CHECK_EQ(cqlua_prepared_marker_type(ins, 1), CQLUA_TYPE_INT);
  CHECK_EQ(cqlua_prepared_marker_type(ins, 10), CQLUA_TYPE_LIST);
  CHECK(cqlua_prepared_marker_name(ins, 15) == NULL);
  CHECK_EQ(cqlua_prepared_marker_type(ins, 15), CQLUA_TYPE_UNKNOWN);

  cqlua_uuid u;
  CHECK_EQ(cqlua_uuid_random(&u), CQLUA_OK);
  const uint8_t blob[] = {0, 1, 2, 0xfe, 0xff};
  int64_t big = INT64_C(-9007199254740993); /* not a double */
  cqlua_statement *st = cqlua_prepared_bind(ins);
  REQUIRE(st != NULL);
  CHECK_EQ(cqlua_statement_bind_int32(st, 0, 1), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_int32_by_name(st, "i", -42), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_int64(st, 2, big), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_double_by_name(st, "d", 3.25), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_float(st, 4, 1.5f), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_bool_by_name(st, "t", 1), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_string_n(st, 6, "h\0llo", 5), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_bytes_by_name(st, "bl", blob, sizeof blob), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_uuid_by_name(st, "u", u), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_int64_by_name(st, "ts", INT64_C(1700000000123)), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_lua(st, 10, "{1, 2, 3}"), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_lua_by_name(st, "m", "{a = 1}"), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_int32(st, 12, -128), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_lua(st, 13, "util.Decimal('12.50')"), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_lua(st, 14, "'2024-05-01'"), CQLUA_OK);
  cqlua_result *r = exec(st);
  CHECK(r != NULL);
  CHECK_EQ(cqlua_result_column_count(r), 0);
  CHECK_EQ(cqlua_result_next(r), 0);
  cqlua_result_free(r);

  /* A second row: by name, NULLs and an unbound marker (NULL too). */
  CHECK_EQ(cqlua_statement_clear(st), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_int32_by_name(st, "k", 2), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_null_by_name(st, "i"), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_null(st, 6), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_string(st, 6, "second"), CQLUA_OK); /* rebinding replaces */
  r = exec(st);
  cqlua_result_free(r);
  cqlua_statement_free(st);
  cqlua_prepared_free(ins);

  /* Read back with a prepared SELECT bound by name. */
  cqlua_prepared *sel = prepare("SELECT k, i, b, d, f, t, s, bl, u, ts, l, m, ti, dec, dt FROM " KS
                                ".types WHERE k = :key");
  REQUIRE(sel != NULL);
  CHECK_STR(cqlua_prepared_marker_name(sel, 0), "key");
  st = cqlua_prepared_bind(sel);
  CHECK_EQ(cqlua_statement_bind_int32_by_name(st, "key", 1), CQLUA_OK);
  r = exec(st);
  REQUIRE(r != NULL);
  CHECK_EQ(cqlua_result_column_count(r), 15);
  CHECK_STR(cqlua_result_column_name(r, 7), "bl");
  CHECK_EQ(cqlua_result_column_index(r, "ts"), 9);
  CHECK_EQ(cqlua_result_column_index(r, "nope"), CQLUA_ERR_NOT_FOUND);
  CHECK_EQ(cqlua_result_column_type(r, 2), CQLUA_TYPE_BIGINT);
  CHECK_EQ(cqlua_result_column_type(r, 8), CQLUA_TYPE_UUID);
  CHECK_EQ(cqlua_result_column_type(r, 99), CQLUA_TYPE_UNKNOWN);
  CHECK_STR(cqlua_result_column_type_name(r, 11), "map<text, int>");
  CHECK(cqlua_result_column_name(r, 15) == NULL);
  CHECK_EQ(cqlua_result_page_row_count(r), 1);
  CHECK_EQ(cqlua_result_has_more_pages(r), 0);
  REQUIRE(cqlua_result_next(r) == 1);
  int32_t i32 = 0;
  int64_t i64 = 0;
  double d = 0;
  float fl = 0;
  int b = 0;
  const char *s = NULL;
  size_t n = 0;
  const uint8_t *bytes = NULL;
  cqlua_uuid got;
  CHECK_EQ(cqlua_result_get_int32(r, 0, &i32), CQLUA_OK);
  CHECK_EQ(i32, 1);
  CHECK_EQ(cqlua_result_get_int32(r, 1, &i32), CQLUA_OK);
  CHECK_EQ(i32, -42);
  CHECK_EQ(cqlua_result_get_int64(r, 1, &i64), CQLUA_OK);
  CHECK_EQ(i64, -42);
  CHECK_EQ(cqlua_result_get_int64(r, 2, &i64), CQLUA_OK);
  CHECK(i64 == big);
  CHECK_EQ(cqlua_result_get_double(r, 3, &d), CQLUA_OK);
  CHECK(d == 3.25);
  CHECK_EQ(cqlua_result_get_float(r, 4, &fl), CQLUA_OK);
  CHECK(fl == 1.5f);
  CHECK_EQ(cqlua_result_get_double(r, 4, &d), CQLUA_OK);
  CHECK(d == 1.5);
  CHECK_EQ(cqlua_result_get_bool(r, 5, &b), CQLUA_OK);
  CHECK_EQ(b, 1);
  CHECK_EQ(cqlua_result_get_string(r, 6, &s, &n), CQLUA_OK);
  CHECK(n == 5 && memcmp(s, "h\0llo", 5) == 0);
  CHECK_EQ(cqlua_result_get_bytes(r, 7, &bytes, &n), CQLUA_OK);
  CHECK(n == sizeof blob && memcmp(bytes, blob, n) == 0);
  CHECK_EQ(cqlua_result_get_uuid(r, 8, &got), CQLUA_OK);
  CHECK_MEM(got.bytes, u.bytes, 16);
  CHECK_EQ(cqlua_result_get_int64(r, 9, &i64), CQLUA_OK);
  CHECK(i64 == INT64_C(1700000000123));
  CHECK_EQ(cqlua_result_get_int32(r, 12, &i32), CQLUA_OK);
  CHECK_EQ(i32, -128);
  /* Any type as text. */
  const char *text = NULL;
  CHECK_EQ(cqlua_result_get_text(r, 10, &text), CQLUA_OK);
  CHECK_STR(text, "[1, 2, 3]");
  CHECK_EQ(cqlua_result_get_text(r, 11, &text), CQLUA_OK);
  CHECK_STR(text, "{'a': 1}");
  CHECK_EQ(cqlua_result_get_text(r, 13, &text), CQLUA_OK);
  CHECK_STR(text, "12.50");
  CHECK_EQ(cqlua_result_get_text(r, 14, &text), CQLUA_OK);
  CHECK_STR(text, "'2024-05-01'");
  CHECK_EQ(cqlua_result_get_text(r, 7, &text), CQLUA_OK);
  CHECK_STR(text, "0x000102feff");
  CHECK_EQ(cqlua_result_get_text(r, 1, &text), CQLUA_OK);
  CHECK_STR(text, "-42");
  CHECK_EQ(cqlua_result_get_text(r, 5, &text), CQLUA_OK);
  CHECK_STR(text, "true");
  char ustr[37], want[37];
  cqlua_uuid_to_string(&u, want);
  CHECK_EQ(cqlua_result_get_text(r, 8, &text), CQLUA_OK);
  CHECK_STR(text, want);
  cqlua_uuid_to_string(&got, ustr);
  CHECK_STR(ustr, want);
  CHECK_EQ(cqlua_result_is_null(r, 1), 0);
  CHECK_EQ(cqlua_result_next(r), 0);
  CHECK_EQ(cqlua_result_next(r), 0); /* stays at the end */
  cqlua_result_free(r);

  /* The second row: NULLs. */
  CHECK_EQ(cqlua_statement_bind_int32(st, 0, 2), CQLUA_OK);
  r = exec(st);
  REQUIRE(r != NULL);
  REQUIRE(cqlua_result_next(r) == 1);
  CHECK_EQ(cqlua_result_is_null(r, 1), 1);
  CHECK_EQ(cqlua_result_is_null(r, 10), 1);
  CHECK_EQ(cqlua_result_get_int32(r, 1, &i32), CQLUA_ERR_NULL_VALUE);
  CHECK(strstr(cqlua_last_error_message(), "'i'") != NULL);
  CHECK_STR(cqlua_last_error_name(), "NullValue");
  CHECK_EQ(cqlua_result_get_text(r, 3, &text), CQLUA_ERR_NULL_VALUE);
  CHECK_EQ(cqlua_result_get_string(r, 6, &s, &n), CQLUA_OK);
  CHECK(n == 6 && memcmp(s, "second", 6) == 0);
  cqlua_result_free(r);
  cqlua_statement_free(st);
  cqlua_prepared_free(sel);
}

TEST(c_unset_keeps_the_column_and_simple_statements_encode_parameters) {
  REQUIRE(session() != NULL);
  cqlua_prepared *p = prepare("UPDATE " KS ".types SET i = ?, s = ? WHERE k = ?");
  REQUIRE(p != NULL);
  cqlua_statement *st = cqlua_prepared_bind(p);
  CHECK_EQ(cqlua_statement_bind_int32(st, 0, 7), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_unset(st, 1), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_int32(st, 2, 2), CQLUA_OK);
  cqlua_result_free(exec(st));
  cqlua_statement_free(st);
  cqlua_prepared_free(p);

  /* Client-side parameters: %s by position, %(name)s by name, quoting safe. */
  st = cqlua_statement_new("SELECT i, s FROM " KS ".types WHERE k = %s AND s = %s ALLOW FILTERING");
  CHECK_EQ(cqlua_statement_bind_int32(st, 0, 2), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_string(st, 1, "second"), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_int32_by_name(st, "x", 1), CQLUA_ERR_BAD_ARGUMENT); /* mixing */
  cqlua_result *r = exec(st);
  REQUIRE(r != NULL);
  REQUIRE(cqlua_result_next(r) == 1);
  int32_t i = 0;
  CHECK_EQ(cqlua_result_get_int32(r, 0, &i), CQLUA_OK);
  CHECK_EQ(i, 7); /* the update set i */
  const char *s;
  size_t n;
  CHECK_EQ(cqlua_result_get_string(r, 1, &s, &n), CQLUA_OK);
  CHECK(n == 6 && memcmp(s, "second", 6) == 0); /* unset kept s */
  cqlua_result_free(r);
  cqlua_statement_free(st);

  st = cqlua_statement_new("SELECT k FROM " KS
                           ".types WHERE k = %(key)s AND s = %(s)s ALLOW FILTERING");
  CHECK_EQ(cqlua_statement_bind_int64_by_name(st, "key", 2), CQLUA_OK);
  CHECK_EQ(cqlua_statement_bind_string_by_name(st, "s", "x' OR 'a'='a"), CQLUA_OK);
  r = exec(st);
  REQUIRE(r != NULL);
  CHECK_EQ(cqlua_result_next(r), 0); /* the quote did not escape */
  cqlua_result_free(r);
  CHECK_EQ(cqlua_statement_bind_lua_by_name(st, "s", "'sec' .. 'ond'"), CQLUA_OK);
  CHECK_EQ(cqlua_statement_set_consistency(st, CQLUA_CONSISTENCY_ONE), CQLUA_OK);
  CHECK_EQ(cqlua_statement_set_serial_consistency(st, CQLUA_CONSISTENCY_LOCAL_SERIAL), CQLUA_OK);
  CHECK_EQ(cqlua_statement_set_timeout(st, 5000), CQLUA_OK);
  r = exec(st);
  REQUIRE(r != NULL);
  CHECK_EQ(cqlua_result_next(r), 1);
  cqlua_result_free(r);
  cqlua_statement_free(st);
}

TEST(d_server_errors_have_the_seed_name_code_and_message) {
  REQUIRE(session() != NULL);
  cqlua_result *r = (cqlua_result *)1;
  CHECK_EQ(cqlua_session_query(session(), "SELEKT nonsense", &r), CQLUA_ERR_SERVER);
  CHECK(r == NULL);
  CHECK_EQ(cqlua_last_error(), CQLUA_ERR_SERVER);
  CHECK_STR(cqlua_last_error_name(), "SyntaxException");
  CHECK_EQ(cqlua_last_error_server_code(), 0x2000);
  CHECK(strstr(cqlua_last_error_message(), "SELEKT") != NULL);

  cqlua_statement *st = cqlua_statement_new("SELECT * FROM " KS ".no_such_table");
  cqlua_future *f = cqlua_session_execute(session(), st);
  REQUIRE(f != NULL);
  CHECK_EQ(cqlua_future_error_code(f), CQLUA_ERR_PENDING);
  CHECK_STR(cqlua_future_error_name(f), "");
  CHECK_EQ(cqlua_future_wait(f), CQLUA_ERR_SERVER);
  CHECK_EQ(cqlua_future_error_code(f), CQLUA_ERR_SERVER);
  CHECK_STR(cqlua_future_error_name(f), "InvalidRequest");
  CHECK_EQ(cqlua_future_server_code(f), 0x2200);
  CHECK(strstr(cqlua_future_error_message(f), "no_such_table") != NULL);
  CHECK_EQ(cqlua_future_get_result(f, &r), CQLUA_ERR_SERVER);
  cqlua_future_free(f);
  cqlua_statement_free(st);

  /* Unavailable: consistency THREE on a keyspace with one replica. */
  st = cqlua_statement_new("SELECT * FROM " KS ".types WHERE k = 1");
  CHECK_EQ(cqlua_statement_set_consistency(st, CQLUA_CONSISTENCY_THREE), CQLUA_OK);
  f = cqlua_session_execute(session(), st);
  CHECK_EQ(cqlua_future_wait(f), CQLUA_ERR_SERVER);
  CHECK_STR(cqlua_future_error_name(f), "Unavailable");
  CHECK_EQ(cqlua_future_server_code(f), 0x1000);
  cqlua_future_free(f);
  cqlua_statement_free(st);

  /* A bad prepare fails its future. */
  f = cqlua_session_prepare(session(), "SELECT nope FROM " KS ".types");
  cqlua_prepared *p = NULL;
  CHECK_EQ(cqlua_future_get_prepared(f, &p), CQLUA_ERR_SERVER);
  CHECK(p == NULL);
  CHECK_STR(cqlua_last_error_name(), "InvalidRequest");
  cqlua_future_free(f);
  /* The session still works. */
  CHECK_EQ(q("SELECT k FROM " KS ".types WHERE k = 1"), CQLUA_OK);
}

TEST(e_wrong_types_name_the_marker_or_the_column) {
  REQUIRE(session() != NULL);
  cqlua_prepared *p = prepare("INSERT INTO " KS ".types (k, s, ti, l) VALUES (?, ?, ?, ?)");
  REQUIRE(p != NULL);
  cqlua_statement *st = cqlua_prepared_bind(p);
  CHECK_EQ(cqlua_statement_bind_string(st, 0, "one"), CQLUA_ERR_WRONG_TYPE);
  CHECK(strstr(cqlua_last_error_message(), "marker 0 'k'") != NULL);
  CHECK(strstr(cqlua_last_error_message(), "int") != NULL);
  CHECK_STR(cqlua_last_error_name(), "WrongType");
  CHECK_EQ(cqlua_statement_bind_int32_by_name(st, "s", 5), CQLUA_ERR_WRONG_TYPE);
  CHECK(strstr(cqlua_last_error_message(), "marker 1 's'") != NULL);
  CHECK_EQ(cqlua_statement_bind_int32(st, 2, 300), CQLUA_ERR_WRONG_TYPE); /* tinyint range */
  CHECK(strstr(cqlua_last_error_message(), "'ti'") != NULL);
  CHECK_EQ(cqlua_statement_bind_lua(st, 3, "{1, 'two'}"), CQLUA_ERR_WRONG_TYPE);
  CHECK(strstr(cqlua_last_error_message(), "marker 3 'l'") != NULL);
  CHECK_EQ(cqlua_statement_bind_lua(st, 3, "{1, "), CQLUA_ERR_BAD_ARGUMENT); /* syntax */
  CHECK_EQ(cqlua_statement_bind_lua(st, 3, "error('boom')"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK(strstr(cqlua_last_error_message(), "boom") != NULL);
  CHECK_EQ(cqlua_statement_bind_int32_by_name(st, "nope", 1), CQLUA_ERR_NOT_FOUND);
  CHECK(strstr(cqlua_last_error_message(), "nope") != NULL);
  CHECK_EQ(cqlua_statement_bind_int32(st, 4, 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_uuid(st, 1, (cqlua_uuid){{0}}), CQLUA_ERR_WRONG_TYPE);
  CHECK_EQ(cqlua_statement_bind_double(st, 0, 1.0), CQLUA_ERR_WRONG_TYPE);
  CHECK_EQ(cqlua_statement_bind_bool(st, 0, 1), CQLUA_ERR_WRONG_TYPE);
  CHECK_EQ(cqlua_statement_bind_bytes(st, 1, "x", 1), CQLUA_ERR_WRONG_TYPE);
  cqlua_statement_free(st);
  cqlua_prepared_free(p);

  /* A simple statement's values are checked when executed. */
  st = cqlua_statement_new("SELECT * FROM " KS ".types WHERE k = %s AND s = %s ALLOW FILTERING");
  CHECK_EQ(cqlua_statement_bind_int32(st, 0, 1), CQLUA_OK);
  CHECK(cqlua_session_execute(session(), st) == NULL); /* a marker without a value */
  CHECK_EQ(cqlua_last_error(), CQLUA_ERR_BAD_ARGUMENT);
  CHECK(strstr(cqlua_last_error_message(), "marker") != NULL);
  CHECK_EQ(cqlua_statement_bind_lua(st, 1, "error('bad value')"), CQLUA_OK);
  CHECK(cqlua_session_execute(session(), st) == NULL);
  CHECK(strstr(cqlua_last_error_message(), "bad value") != NULL);
  CHECK_EQ(cqlua_statement_bind_lua(st, 1, "function() end"), CQLUA_OK);
  CHECK(cqlua_session_execute(session(), st) == NULL); /* no CQL literal for a function */
  CHECK(strstr(cqlua_last_error_message(), "function") != NULL);
  cqlua_statement_free(st);

  /* Getters. */
  st = cqlua_statement_new("SELECT k, s FROM " KS ".types WHERE k = 1");
  cqlua_result *r = exec(st);
  REQUIRE(r != NULL);
  int32_t i;
  CHECK_EQ(cqlua_result_get_int32(r, 0, &i), CQLUA_ERR_BAD_ARGUMENT); /* no row yet */
  REQUIRE(cqlua_result_next(r) == 1);
  CHECK_EQ(cqlua_result_get_int32(r, 1, &i), CQLUA_ERR_WRONG_TYPE);
  CHECK(strstr(cqlua_last_error_message(), "column 1 's' is text") != NULL);
  const char *s;
  size_t n;
  CHECK_EQ(cqlua_result_get_string(r, 0, &s, &n), CQLUA_ERR_WRONG_TYPE);
  CHECK(strstr(cqlua_last_error_message(), "'k' is int") != NULL);
  cqlua_uuid u;
  CHECK_EQ(cqlua_result_get_uuid(r, 0, &u), CQLUA_ERR_WRONG_TYPE);
  double d;
  CHECK_EQ(cqlua_result_get_double(r, 0, &d), CQLUA_ERR_WRONG_TYPE);
  float f;
  CHECK_EQ(cqlua_result_get_float(r, 0, &f), CQLUA_ERR_WRONG_TYPE);
  int b;
  CHECK_EQ(cqlua_result_get_bool(r, 0, &b), CQLUA_ERR_WRONG_TYPE);
  const uint8_t *bytes;
  CHECK_EQ(cqlua_result_get_bytes(r, 0, &bytes, &n), CQLUA_ERR_WRONG_TYPE);
  int64_t i64;
  CHECK_EQ(cqlua_result_get_int64(r, 1, &i64), CQLUA_ERR_WRONG_TYPE);
  CHECK_EQ(cqlua_result_get_int32(r, 2, &i), CQLUA_ERR_BAD_ARGUMENT); /* out of range */
  CHECK_EQ(cqlua_result_get_int32(r, 0, NULL), CQLUA_ERR_BAD_ARGUMENT);
  cqlua_result_free(r);
  cqlua_statement_free(st);
}

TEST(f_a_timed_wait_expires_and_the_future_stays_usable) {
  REQUIRE(session() != NULL);
  cqlua_statement *st = cqlua_statement_new("SELECT * FROM system_schema.columns");
  cqlua_future *f = cqlua_session_execute(session(), st);
  REQUIRE(f != NULL);
  /* Nothing has been sent yet when the wait starts: it cannot complete. */
  CHECK_EQ(cqlua_future_wait_timed(f, 0), CQLUA_ERR_TIMEOUT);
  CHECK_STR(cqlua_last_error_name(), "Timeout");
  CHECK_EQ(cqlua_future_is_ready(f), 0);
  CHECK_EQ(cqlua_future_wait_timed(f, -1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_future_wait_timed(f, 10 * 1000 * 1000), CQLUA_OK);
  CHECK_EQ(cqlua_future_is_ready(f), 1);
  cqlua_result *r = NULL;
  CHECK_EQ(cqlua_future_get_result(f, &r), CQLUA_OK);
  CHECK(r && cqlua_result_next(r) == 1);
  cqlua_result *again = NULL;
  CHECK_EQ(cqlua_future_get_result(f, &again), CQLUA_ERR_BAD_ARGUMENT); /* once */
  CHECK(again == NULL);
  cqlua_result_free(r);
  cqlua_session *s = NULL;
  CHECK_EQ(cqlua_future_get_session(f, &s), CQLUA_ERR_BAD_ARGUMENT); /* not a session */
  cqlua_future_free(f);
  /* A pending future may be freed; the request finishes on its own. */
  f = cqlua_session_execute(session(), st);
  cqlua_future_free(f);
  CHECK_EQ(q("SELECT k FROM " KS ".types WHERE k = 1"), CQLUA_OK);
  cqlua_statement_free(st);
}

typedef struct cb_state {
  int calls;
  int ready;
  int code;
  pthread_t thread;
  int rows;
  cqlua_future *future;
} cb_state;

static void on_done(cqlua_future *f, void *data) {
  cb_state *s = data;
  s->calls++;
  s->thread = pthread_self();
  s->future = f;
  s->ready = cqlua_future_is_ready(f);
  s->code = cqlua_future_error_code(f);
  cqlua_result *r = NULL;
  if (cqlua_future_get_result(f, &r) == CQLUA_OK) {
    while (cqlua_result_next(r) == 1)
      s->rows++;
    cqlua_result_free(r);
  }
}

static void on_done_free(cqlua_future *f, void *data) {
  (*(int *)data)++;
  cqlua_future_free(f); /* a callback may free its future */
}

TEST(g_callbacks_run_on_the_loop_thread_during_poll_and_wait) {
  REQUIRE(session() != NULL);
  cqlua_statement *st = cqlua_statement_new("SELECT k FROM " KS ".types");
  cb_state s = {0};
  cqlua_future *f = cqlua_session_execute(session(), st);
  REQUIRE(f != NULL);
  CHECK_EQ(cqlua_future_set_callback(f, on_done, &s), CQLUA_OK);
  CHECK_EQ(cqlua_future_set_callback(f, on_done, &s), CQLUA_ERR_BAD_ARGUMENT); /* one only */
  CHECK_EQ(cqlua_future_set_callback(f, NULL, &s), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(s.calls, 0); /* nothing ran the loop yet */
  int polls = 0, ran = 0;
  while (s.calls == 0 && polls < 2000) {
    int n = cqlua_cluster_poll(g_cluster, 10000);
    CHECK(n >= 0);
    if (n > 0) ran += n;
    polls++;
  }
  CHECK_EQ(s.calls, 1);
  CHECK_EQ(ran, 1);
  CHECK(pthread_equal(s.thread, pthread_self()));
  CHECK(s.future == f);
  CHECK_EQ(s.ready, 1);
  CHECK_EQ(s.code, CQLUA_OK);
  CHECK_EQ(s.rows, 2);
  CHECK_EQ(cqlua_cluster_poll(g_cluster, 0), 0); /* never twice */
  CHECK_EQ(s.calls, 1);
  /* Set on a completed future: runs at once. */
  cb_state s2 = {0};
  CHECK_EQ(cqlua_future_set_callback(f, on_done, &s2), CQLUA_ERR_BAD_ARGUMENT);
  cqlua_future_free(f);
  f = cqlua_session_execute(session(), st);
  CHECK_EQ(cqlua_future_wait(f), CQLUA_OK);
  CHECK_EQ(cqlua_future_set_callback(f, on_done, &s2), CQLUA_OK);
  CHECK_EQ(s2.calls, 1);
  CHECK_EQ(s2.rows, 2);
  cqlua_future_free(f);

  /* Many in flight, callbacks during one wait; one frees its own future. */
  enum { N = 20 };
  cb_state many[N];
  memset(many, 0, sizeof many);
  cqlua_future *fs[N];
  for (int i = 0; i < N; i++) {
    fs[i] = cqlua_session_execute(session(), st);
    CHECK_EQ(cqlua_future_set_callback(fs[i], on_done, &many[i]), CQLUA_OK);
  }
  int freed = 0;
  cqlua_future *self_freeing = cqlua_session_execute(session(), st);
  CHECK_EQ(cqlua_future_set_callback(self_freeing, on_done_free, &freed), CQLUA_OK);
  CHECK_EQ(cqlua_future_wait(fs[N - 1]), CQLUA_OK);
  for (int i = 0; i < N; i++)
    CHECK_EQ(cqlua_future_wait(fs[i]), CQLUA_OK);
  for (int i = 0; i < 200 && !freed; i++)
    cqlua_cluster_poll(g_cluster, 10000);
  CHECK_EQ(freed, 1);
  for (int i = 0; i < N; i++) {
    CHECK_EQ(many[i].calls, 1);
    CHECK_EQ(many[i].rows, 2);
    CHECK(pthread_equal(many[i].thread, pthread_self()));
    cqlua_future_free(fs[i]);
  }
  /* A freed future's callback never runs. */
  cb_state s3 = {0};
  f = cqlua_session_execute(session(), st);
  CHECK_EQ(cqlua_future_set_callback(f, on_done, &s3), CQLUA_OK);
  cqlua_future_free(f);
  CHECK_EQ(q("SELECT k FROM " KS ".types WHERE k = 1"), CQLUA_OK);
  for (int i = 0; i < 20; i++)
    cqlua_cluster_poll(g_cluster, 1000);
  CHECK_EQ(s3.calls, 0);
  cqlua_statement_free(st);
}

TEST(h_paging_walks_every_page_and_resumes_from_a_paging_state) {
  REQUIRE(session() != NULL);
  enum { ROWS = 250, PAGE = 100 };
  cqlua_prepared *ins = prepare("INSERT INTO " KS ".pages (p, c, v) VALUES (?, ?, ?)");
  REQUIRE(ins != NULL);
  cqlua_future *fs[ROWS];
  cqlua_statement *sts[ROWS];
  for (int i = 0; i < ROWS; i++) {
    char v[32];
    snprintf(v, sizeof v, "row %d", i);
    sts[i] = cqlua_prepared_bind(ins);
    CHECK_EQ(cqlua_statement_bind_int32(sts[i], 0, 1), CQLUA_OK);
    CHECK_EQ(cqlua_statement_bind_int32(sts[i], 1, i), CQLUA_OK);
    CHECK_EQ(cqlua_statement_bind_string(sts[i], 2, v), CQLUA_OK);
    fs[i] = cqlua_session_execute(session(), sts[i]);
  }
  for (int i = 0; i < ROWS; i++) {
    CHECK_EQ(cqlua_future_wait(fs[i]), CQLUA_OK);
    cqlua_future_free(fs[i]);
    cqlua_statement_free(sts[i]);
  }
  cqlua_prepared_free(ins);

  cqlua_statement *st = cqlua_statement_new("SELECT c, v FROM " KS ".pages WHERE p = 1");
  CHECK_EQ(cqlua_statement_set_page_size(st, PAGE), CQLUA_OK);
  CHECK_EQ(cqlua_statement_set_page_size(st, 0), CQLUA_ERR_BAD_ARGUMENT);
  cqlua_result *r = exec(st);
  REQUIRE(r != NULL);
  CHECK_EQ(cqlua_result_page_row_count(r), PAGE);
  CHECK_EQ(cqlua_result_has_more_pages(r), 1);
  size_t plen = 0;
  const void *ps = cqlua_result_paging_state(r, &plen);
  CHECK(ps != NULL && plen > 0);
  cqlua_statement *resume = cqlua_statement_new("SELECT c, v FROM " KS ".pages WHERE p = 1");
  CHECK_EQ(cqlua_statement_set_page_size(resume, PAGE), CQLUA_OK);
  CHECK_EQ(cqlua_statement_set_paging_state(resume, ps, plen), CQLUA_OK);
  int count = 0, in_order = 1, rc;
  long sum = 0;
  while ((rc = cqlua_result_next(r)) == 1) {
    int32_t c;
    CHECK_EQ(cqlua_result_get_int32(r, 0, &c), CQLUA_OK);
    if (c != count) in_order = 0;
    sum += c;
    const char *v;
    size_t n;
    char want[32];
    snprintf(want, sizeof want, "row %d", c);
    CHECK(cqlua_result_get_string(r, 1, &v, &n) == CQLUA_OK && n == strlen(want) &&
          memcmp(v, want, n) == 0);
    count++;
  }
  CHECK_EQ(rc, 0);
  CHECK_EQ(count, ROWS);
  CHECK(in_order);
  CHECK_EQ(sum, (long)ROWS * (ROWS - 1) / 2);
  CHECK_EQ(cqlua_result_has_more_pages(r), 0);
  CHECK(cqlua_result_paging_state(r, &plen) == NULL && plen == 0);
  cqlua_result_free(r);

  /* Resumed after the first page: the remaining rows. */
  r = exec(resume);
  REQUIRE(r != NULL);
  count = 0;
  int32_t first = -1;
  while (cqlua_result_next(r) == 1) {
    if (count == 0) cqlua_result_get_int32(r, 0, &first);
    count++;
  }
  CHECK_EQ(first, PAGE);
  CHECK_EQ(count, ROWS - PAGE);
  cqlua_result_free(r);
  CHECK_EQ(cqlua_statement_set_paging_state(resume, NULL, 0), CQLUA_OK);
  cqlua_statement_free(resume);
  cqlua_statement_free(st);
}

TEST(i_null_handles_and_arguments_are_rejected_cleanly) {
  cqlua_session *s = (cqlua_session *)1;
  cqlua_result *r = (cqlua_result *)1;
  cqlua_prepared *p = (cqlua_prepared *)1;
  cqlua_uuid u = {{0}};
  int32_t i;
  int64_t i64;
  double d;
  float f;
  int b;
  const char *str;
  const uint8_t *bytes;
  size_t n;
  CHECK_EQ(cqlua_cluster_load_config(NULL, "x"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK(strstr(cqlua_last_error_message(), "cluster is NULL") != NULL);
  CHECK_STR(cqlua_last_error_name(), "BadArgument");
  CHECK_EQ(cqlua_cluster_load_config_string(NULL, "x"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_cluster_set_option(NULL, "a", "1"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_cluster_set_contact_points(NULL, "a"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_cluster_set_port(NULL, 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_cluster_set_credentials(NULL, "a", "b"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_cluster_connect(NULL, NULL, &s), CQLUA_ERR_BAD_ARGUMENT);
  CHECK(s == NULL);
  CHECK(cqlua_cluster_connect_async(NULL, NULL) == NULL);
  CHECK_EQ(cqlua_cluster_poll(NULL, 0), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_cluster_shutdown(NULL), CQLUA_ERR_BAD_ARGUMENT);
  cqlua_cluster_free(NULL);
  CHECK(cqlua_session_execute(NULL, NULL) == NULL);
  CHECK_EQ(cqlua_session_query(NULL, "SELECT 1", &r), CQLUA_ERR_BAD_ARGUMENT);
  CHECK(r == NULL);
  CHECK(cqlua_session_prepare(NULL, "x") == NULL);
  CHECK_EQ(cqlua_session_close(NULL), CQLUA_ERR_BAD_ARGUMENT);
  cqlua_session_free(NULL);
  CHECK_EQ(cqlua_future_wait(NULL), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_future_wait_timed(NULL, 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_future_is_ready(NULL), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_future_set_callback(NULL, on_done, NULL), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_future_error_code(NULL), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_STR(cqlua_future_error_name(NULL), "");
  CHECK_STR(cqlua_future_error_message(NULL), "");
  CHECK_EQ(cqlua_future_server_code(NULL), 0);
  CHECK_EQ(cqlua_future_get_result(NULL, &r), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_future_get_session(NULL, &s), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_future_get_prepared(NULL, &p), CQLUA_ERR_BAD_ARGUMENT);
  cqlua_future_free(NULL);
  CHECK(cqlua_statement_new(NULL) == NULL);
  CHECK(cqlua_prepared_bind(NULL) == NULL);
  cqlua_statement_free(NULL);
  CHECK_EQ(cqlua_statement_clear(NULL), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_set_consistency(NULL, CQLUA_CONSISTENCY_ONE), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_set_serial_consistency(NULL, CQLUA_CONSISTENCY_SERIAL),
           CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_set_page_size(NULL, 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_set_timeout(NULL, 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_set_paging_state(NULL, "x", 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_null(NULL, 0), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_null_by_name(NULL, "a"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_unset(NULL, 0), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_unset_by_name(NULL, "a"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_int32(NULL, 0, 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_int32_by_name(NULL, "a", 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_int64(NULL, 0, 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_int64_by_name(NULL, "a", 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_double(NULL, 0, 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_double_by_name(NULL, "a", 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_float(NULL, 0, 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_float_by_name(NULL, "a", 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_bool(NULL, 0, 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_bool_by_name(NULL, "a", 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_string(NULL, 0, "a"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_string_by_name(NULL, "a", "a"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_string_n(NULL, 0, "a", 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_string_n_by_name(NULL, "a", "a", 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_bytes(NULL, 0, "a", 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_bytes_by_name(NULL, "a", "a", 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_uuid(NULL, 0, u), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_uuid_by_name(NULL, "a", u), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_lua(NULL, 0, "1"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_lua_by_name(NULL, "a", "1"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_prepared_marker_count(NULL), 0);
  CHECK(cqlua_prepared_marker_name(NULL, 0) == NULL);
  CHECK_EQ(cqlua_prepared_marker_type(NULL, 0), CQLUA_TYPE_UNKNOWN);
  cqlua_prepared_free(NULL);
  CHECK_EQ(cqlua_result_column_count(NULL), 0);
  CHECK(cqlua_result_column_name(NULL, 0) == NULL);
  CHECK_EQ(cqlua_result_column_index(NULL, "a"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_result_column_type(NULL, 0), CQLUA_TYPE_UNKNOWN);
  CHECK(cqlua_result_column_type_name(NULL, 0) == NULL);
  CHECK_EQ(cqlua_result_next(NULL), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_result_page_row_count(NULL), 0);
  CHECK_EQ(cqlua_result_has_more_pages(NULL), 0);
  CHECK(cqlua_result_paging_state(NULL, &n) == NULL && n == 0);
  CHECK_EQ(cqlua_result_is_null(NULL, 0), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_result_get_int32(NULL, 0, &i), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_result_get_int64(NULL, 0, &i64), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_result_get_double(NULL, 0, &d), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_result_get_float(NULL, 0, &f), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_result_get_bool(NULL, 0, &b), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_result_get_string(NULL, 0, &str, &n), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_result_get_bytes(NULL, 0, &bytes, &n), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_result_get_uuid(NULL, 0, &u), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_result_get_text(NULL, 0, &str), CQLUA_ERR_BAD_ARGUMENT);
  cqlua_result_free(NULL);
  CHECK_EQ(cqlua_uuid_from_string(NULL, &u), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_uuid_random(NULL), CQLUA_ERR_BAD_ARGUMENT);
  cqlua_uuid_to_string(NULL, NULL);
  /* NULL strings on live handles. */
  REQUIRE(session() != NULL);
  CHECK(cqlua_session_prepare(session(), NULL) == NULL);
  CHECK_EQ(cqlua_session_query(session(), NULL, NULL), CQLUA_ERR_BAD_ARGUMENT);
  CHECK(cqlua_session_execute(session(), NULL) == NULL);
  CHECK_EQ(cqlua_cluster_set_credentials(g_cluster, "u", NULL), CQLUA_ERR_BAD_ARGUMENT);
  cqlua_statement *st = cqlua_statement_new("SELECT 1");
  CHECK_EQ(cqlua_statement_bind_string(st, 0, NULL), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_int32_by_name(st, NULL, 1), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_bind_lua(st, 0, NULL), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_set_consistency(st, (cqlua_consistency)42), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_set_serial_consistency(st, CQLUA_CONSISTENCY_ONE),
           CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_statement_set_timeout(st, 0), CQLUA_ERR_BAD_ARGUMENT);
  cqlua_statement_free(st);
  for (int code = 0; code >= -16; code--)
    CHECK(cqlua_error_string(code) != NULL);
}

TEST(j_configuration_from_lua_and_from_c) {
  /* A file that returns the options (the quickstart's). */
  cqlua_cluster *cl = cqlua_cluster_new();
  REQUIRE(cl != NULL);
  CHECK_EQ(cqlua_cluster_load_config(cl, "/no/such/config.lua"), CQLUA_ERR_CONFIG);
  CHECK(strstr(cqlua_last_error_message(), "/no/such/config.lua") != NULL);
  CHECK_STR(cqlua_last_error_name(), "ConfigError");
  CHECK_EQ(cqlua_cluster_load_config_string(cl, "return {"), CQLUA_ERR_CONFIG);
  CHECK_EQ(cqlua_cluster_load_config_string(cl, "error('no luck')"), CQLUA_ERR_CONFIG);
  CHECK(strstr(cqlua_last_error_message(), "no luck") != NULL);
  CHECK_EQ(cqlua_cluster_load_config_string(cl, "return 42"), CQLUA_ERR_CONFIG);
  CHECK_EQ(cqlua_cluster_load_config_string(cl, "return { contact_points = '1.2.3.4' }"),
           CQLUA_ERR_CONFIG);
  CHECK(strstr(cqlua_last_error_message(), "contact_points") != NULL);
  CHECK_EQ(cqlua_cluster_load_config_string(cl, "return { ssl_options = 1 }"), CQLUA_ERR_CONFIG);
  CHECK_EQ(cqlua_cluster_set_option(cl, "connect_timeout", "2 +"), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_cluster_set_option(cl, "connect_timeout", "2"), CQLUA_OK);
  CHECK_EQ(cqlua_cluster_set_port(cl, 0), CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_cluster_set_contact_points(cl, " , "), CQLUA_ERR_BAD_ARGUMENT);
  /* Policies are Lua objects; a bad one is refused when loaded. */
  CHECK_EQ(cqlua_cluster_load_config_string(cl, "return { load_balancing_policy = {} }"),
           CQLUA_ERR_CONFIG);
  CHECK(strstr(cqlua_last_error_message(), "load_balancing_policy") != NULL);
  char src[1024];
  snprintf(src, sizeof src,
           "local auth, policies = require 'cql.auth', require 'cql.policies'\n"
           "return { contact_points = { '%s' }, port = 9042, connect_timeout = 3,\n"
           "  load_balancing_policy = policies.RoundRobinPolicy(),\n"
           "  reconnection_policy = policies.ConstantReconnectionPolicy(1, 3),\n"
           "  auth_provider = os.getenv('CQLUA_TEST_USER') and\n"
           "    auth.PlainTextAuthProvider(os.getenv('CQLUA_TEST_USER'),\n"
           "                               os.getenv('CQLUA_TEST_PASSWORD') or '') }",
           host);
  CHECK_EQ(cqlua_cluster_load_config_string(cl, src), CQLUA_OK);
  if (getenv("CQLUA_TEST_TLS_CA"))
    CHECK_EQ(
        cqlua_cluster_set_option(cl, "ssl_options", "{ ca_file = os.getenv('CQLUA_TEST_TLS_CA') }"),
        CQLUA_OK);
  /* Connect asynchronously, into a keyspace. */
  cqlua_future *f = cqlua_cluster_connect_async(cl, KS);
  REQUIRE(f != NULL);
  cqlua_session *s = NULL;
  CHECK_EQ(cqlua_future_get_session(f, &s), CQLUA_OK);
  cqlua_session *again = (cqlua_session *)1;
  CHECK_EQ(cqlua_future_get_session(f, &again), CQLUA_ERR_BAD_ARGUMENT); /* once */
  CHECK(again == NULL);
  cqlua_future_free(f);
  REQUIRE(s != NULL);
  CHECK_EQ(cqlua_session_query(s, "SELECT k FROM types WHERE k = 1", NULL), CQLUA_OK);
  /* Settings are fixed once connected. */
  CHECK_EQ(cqlua_cluster_set_port(cl, 9043), CQLUA_ERR_CLOSED);
  /* Closing: the session refuses work, the cluster refuses to connect. */
  CHECK_EQ(cqlua_session_close(s), CQLUA_OK);
  CHECK_EQ(cqlua_session_close(s), CQLUA_OK);
  CHECK_EQ(cqlua_session_query(s, "SELECT k FROM types", NULL), CQLUA_ERR_CLOSED);
  CHECK_STR(cqlua_last_error_name(), "Closed");
  cqlua_session_free(s);
  /* A result outlives its cluster's shutdown and free. */
  CHECK_EQ(cqlua_cluster_connect(cl, KS, &s), CQLUA_OK);
  cqlua_result *r = NULL;
  CHECK_EQ(cqlua_session_query(s, "SELECT k FROM types WHERE k = 1", &r), CQLUA_OK);
  cqlua_cluster_free(cl); /* shuts down; the state lives while handles do */
  CHECK(cqlua_session_prepare(s, "SELECT k FROM types") == NULL);
  CHECK_EQ(cqlua_last_error(), CQLUA_ERR_CLOSED);
  CHECK(r && cqlua_result_next(r) == 1);
  int32_t k = 0;
  CHECK_EQ(cqlua_result_get_int32(r, 0, &k), CQLUA_OK);
  CHECK_EQ(k, 1);
  cqlua_result_free(r);
  cqlua_session_free(s);
}

TEST(k_no_host_available_names_the_hosts) {
  cqlua_cluster *cl = cqlua_cluster_new();
  REQUIRE(cl != NULL);
  /* Port 1 on this host: nothing listens there, the connection is refused. */
  CHECK_EQ(cqlua_cluster_set_contact_points(cl, host), CQLUA_OK);
  CHECK_EQ(cqlua_cluster_set_port(cl, 1), CQLUA_OK);
  CHECK_EQ(cqlua_cluster_set_option(cl, "connect_timeout", "2"), CQLUA_OK);
  cqlua_session *s = (cqlua_session *)1;
  CHECK_EQ(cqlua_cluster_connect(cl, NULL, &s), CQLUA_ERR_NO_HOST_AVAILABLE);
  CHECK(s == NULL);
  CHECK_STR(cqlua_last_error_name(), "NoHostAvailable");
  CHECK(strstr(cqlua_last_error_message(), host) != NULL);
  CHECK_EQ(cqlua_cluster_shutdown(cl), CQLUA_OK);
  CHECK(cqlua_cluster_connect_async(cl, NULL) == NULL);
  CHECK_EQ(cqlua_last_error(), CQLUA_ERR_CLOSED);
  CHECK_EQ(cqlua_cluster_set_port(cl, 9042), CQLUA_ERR_CLOSED);
  cqlua_cluster_free(cl);
}

TEST(l_uuid_helpers) {
  cqlua_uuid u, v;
  CHECK_EQ(cqlua_uuid_from_string("00112233-4455-6677-8899-AABBCCDDEEFF", &u), CQLUA_OK);
  char s[37];
  cqlua_uuid_to_string(&u, s);
  CHECK_STR(s, "00112233-4455-6677-8899-aabbccddeeff");
  CHECK_EQ(u.bytes[15], 0xff);
  CHECK_EQ(cqlua_uuid_from_string("00112233-4455-6677-8899-AABBCCDDEEF", &v),
           CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_uuid_from_string("00112233x4455-6677-8899-AABBCCDDEEFF", &v),
           CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_uuid_from_string("00112233-4455-6677-8899-AABBCCDDEEFF0", &v),
           CQLUA_ERR_BAD_ARGUMENT);
  CHECK_EQ(cqlua_uuid_random(&u), CQLUA_OK);
  CHECK_EQ(cqlua_uuid_random(&v), CQLUA_OK);
  CHECK(memcmp(u.bytes, v.bytes, 16) != 0);
  CHECK_EQ(u.bytes[6] >> 4, 4);
  CHECK_EQ(u.bytes[8] >> 6, 2);
}

TEST(z_cleanup) {
  if (!g_session) SKIP("no session was opened");
  CHECK_EQ(q("DROP KEYSPACE IF EXISTS " KS), CQLUA_OK);
  cqlua_session_free(g_session);
  cqlua_cluster_free(g_cluster);
  g_session = NULL;
  g_cluster = NULL;
}

UNIT_MAIN()
