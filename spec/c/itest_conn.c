/* The C core against a real Cassandra: handshakes on every protocol
 * version with and without LZ4, queries and prepared statements decoded
 * down to cells, and Murmur3 tokens compared with the server's token().
 *
 * Run by `scripts/run-tests integration` with CQLUA_TEST_HOSTS set (first
 * address used, port 9042). The blocking-socket host in
 * support/itest_host.h drives cq_conn; the real hosts (libuv, cosockets)
 * come with the driver. */
#include <stdio.h>
#include <string.h>

#include "../../src/core/murmur3.h"
#include "support/itest_host.h"
#include "unit.h"

TEST(every_protocol_version_with_and_without_lz4_reads_system_local) {
  static const int versions[] = {0, 5, 4, 3};
  for (size_t v = 0; v < 4; v++) {
    for (int lz4 = 0; lz4 <= 1; lz4++) {
      cq_conn_config cfg = {.version = versions[v], .lz4 = lz4};
      client cl;
      if (open_client(&cl, &cfg) < 0) {
        UNIT_FAIL("v%d lz4=%d: %s", versions[v], lz4, cl.closed_reason);
        if (cl.c) close_client(&cl);
        continue;
      }
      CHECK_EQ(cq_conn_version(cl.c), versions[v] ? versions[v] : 5);
      CHECK_EQ(cq_conn_compressed(cl.c), lz4);
      result res;
      int rc = run(&cl, "SELECT release_version, cluster_name, tokens FROM system.local", &res);
      if (rc < 0) UNIT_FAIL("v%d lz4=%d: %s", versions[v], lz4, res.err);
      size_t n = 0;
      const char *rel = rc < 0 ? NULL : cell_text(&res, 0, 0, &n);
      CHECK(rel && n >= 4 && memcmp(rel, "5.0.", 4) == 0);
      const cq_cell *tokens = cq_rows_cell(&res.page, 0, 2);
      CHECK(tokens && tokens->kind == CQ_CELL_SET && tokens->len >= 1);
      if (v == 0 && lz4 == 0 && rel)
        fprintf(stderr, "# C core talked to Cassandra %.*s at %s\n", (int)n, rel, itest_addr);
      result_free(&res);
      close_client(&cl);
    }
  }
}

TEST(keyspace_and_events_in_the_handshake) {
  const char *events[] = {"TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"};
  cq_conn_config cfg = {.keyspace = "system", .events = events, .nevents = 3};
  client cl;
  REQUIRE(open_client(&cl, &cfg) == 0);
  result res;
  /* No keyspace in the query: USE system took effect. */
  CHECK_EQ(run(&cl, "SELECT key FROM local", &res), 0);
  CHECK_EQ(res.page.nrows, 1);
  result_free(&res);
  close_client(&cl);

  cq_conn_config bad = {.keyspace = "no_such_keyspace_here"};
  CHECK(open_client(&cl, &bad) < 0);
  CHECK(strstr(cl.closed_reason, "USE failed") != NULL);
  close_client(&cl);
}

TEST(server_errors_arrive_as_responses_and_keep_the_connection) {
  cq_conn_config cfg = {0};
  client cl;
  REQUIRE(open_client(&cl, &cfg) == 0);
  result res;
  CHECK(run(&cl, "SELEKT nonsense", &res) < 0);
  CHECK(strstr(res.err, "0x2000") != NULL); /* syntax error */
  result_free(&res);
  CHECK_EQ(run(&cl, "SELECT key FROM system.local", &res), 0);
  result_free(&res);
  CHECK_EQ(cq_conn_get_state(cl.c), CQ_CONN_READY);
  close_client(&cl);
}

TEST(prepared_statement_reports_partition_key_indexes) {
  cq_conn_config cfg = {0};
  client cl;
  REQUIRE(open_client(&cl, &cfg) == 0);
  result prep;
  REQUIRE(prepare(&cl, "SELECT release_version FROM system.local WHERE key = ?", &prep) == 0);
  const cq_prepared_meta *pm = &prep.r.u.result.prepared;
  CHECK_EQ(pm->column_count, 1);
  CHECK_EQ(pm->pk_count, 1);
  CHECK(pm->pk_indexes && pm->pk_indexes[0] == 0);
  CHECK(prep.r.u.result.result_metadata_id.len > 0); /* v5 */
  cq_value key = {(const uint8_t *)"local", 5};
  result res;
  uint64_t id = send_execute(&cl, &prep, &key, 1);
  CHECK_EQ(await(&cl, id, &res), 0);
  CHECK_EQ(res.page.nrows, 1);
  result_free(&res);
  result_free(&prep);
  close_client(&cl);
}

/* Inserts `count` keys through a prepared INSERT (all in flight at once),
 * then reads every key back with token(...) and compares it with the
 * Murmur3 token cqlua computes from the routing key. */
TEST(murmur3_tokens_equal_the_servers_for_random_single_and_composite_keys) {
  cq_conn_config cfg = {.lz4 = 1};
  client cl;
  REQUIRE(open_client(&cl, &cfg) == 0);
  ddl(&cl, "CREATE KEYSPACE IF NOT EXISTS cqlua_itest WITH replication = "
           "{'class': 'SimpleStrategy', 'replication_factor': 1}");
  ddl(&cl, "DROP TABLE IF EXISTS cqlua_itest.tok1");
  ddl(&cl, "DROP TABLE IF EXISTS cqlua_itest.tok3");
  ddl(&cl, "CREATE TABLE cqlua_itest.tok1 (k blob PRIMARY KEY)");
  ddl(&cl, "CREATE TABLE cqlua_itest.tok3 (a int, b text, c blob, PRIMARY KEY ((a, b, c)))");

  enum { COUNT = 2000 };
  static uint8_t keys[COUNT][48];
  static size_t klen[COUNT];
  result p1, p3;
  REQUIRE(prepare(&cl, "INSERT INTO cqlua_itest.tok1 (k) VALUES (?)", &p1) == 0);
  REQUIRE(prepare(&cl, "INSERT INTO cqlua_itest.tok3 (a, b, c) VALUES (?, ?, ?)", &p3) == 0);
  for (size_t i = 0; i < COUNT; i++) {
    klen[i] = 1 + unit_rand() % 40; /* every tail length, bytes >= 0x80 often */
    for (size_t j = 0; j < klen[i]; j++)
      keys[i][j] = (uint8_t)unit_rand();
    cq_value v = {keys[i], (int32_t)klen[i]};
    CHECK(send_execute(&cl, &p1, &v, 1) != 0);
    /* Composite: a = first 4 bytes as int, b = printable text, c = the rest. */
    char b[16];
    size_t blen = unit_rand() % 12;
    for (size_t j = 0; j < blen; j++)
      b[j] = (char)('a' + unit_rand() % 26);
    cq_value v3[3] = {{keys[i], 4},
                      {(const uint8_t *)b, (int32_t)blen},
                      {keys[i] + 4, 1 + (int32_t)(unit_rand() % 20)}};
    CHECK(send_execute(&cl, &p3, v3, 3) != 0);
    if ((i + 1) % 500 == 0) flush_out(&cl); /* keep the socket moving */
  }
  CHECK_EQ(await_all(&cl, 2 * COUNT), 0);

  result r1;
  REQUIRE(run(&cl, "SELECT k, token(k) FROM cqlua_itest.tok1", &r1) == 0);
  /* Short random keys repeat; the table holds each distinct key once. */
  size_t distinct = 0;
  for (size_t i = 0; i < COUNT; i++) {
    size_t j = 0;
    while (j < i && !(klen[j] == klen[i] && memcmp(keys[j], keys[i], klen[i]) == 0))
      j++;
    distinct += j == i;
  }
  CHECK_EQ(r1.page.nrows, distinct);
  size_t mismatches = 0;
  for (size_t r = 0; r < r1.page.nrows; r++) {
    const cq_cell *k = cq_rows_cell(&r1.page, r, 0), *t = cq_rows_cell(&r1.page, r, 1);
    if (cq_murmur3_token(r1.page.src + k->off, k->len) != t->i) mismatches++;
  }
  CHECK_EQ(mismatches, 0);

  result r3;
  REQUIRE(run(&cl, "SELECT a, b, c, token(a, b, c) FROM cqlua_itest.tok3", &r3) == 0);
  CHECK(r3.page.nrows > COUNT * 9 / 10);
  mismatches = 0;
  cq_buf key;
  cq_buf_init(&key);
  for (size_t r = 0; r < r3.page.nrows; r++) {
    uint8_t a[4];
    cq_store_u32(a, (uint32_t)cq_rows_cell(&r3.page, r, 0)->i);
    const cq_cell *b = cq_rows_cell(&r3.page, r, 1), *c = cq_rows_cell(&r3.page, r, 2);
    const uint8_t *parts[3] = {a, r3.page.src + b->off, r3.page.src + c->off};
    size_t lens[3] = {4, b->len, c->len};
    cq_buf_reset(&key);
    cq_routing_key(&key, parts, lens, 3);
    if (cq_murmur3_token(key.data, key.len) != cq_rows_cell(&r3.page, r, 3)->i) mismatches++;
  }
  CHECK_EQ(mismatches, 0);
  fprintf(stderr, "# tokens compared with the server: %zu single-column, %zu composite keys\n",
          r1.page.nrows, r3.page.nrows);
  cq_buf_free(&key);
  result_free(&r1);
  result_free(&r3);
  result_free(&p1);
  result_free(&p3);
  close_client(&cl);
}

UNIT_MAIN()
