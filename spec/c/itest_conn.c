/* The C core against a real Cassandra: handshakes on every protocol
 * version with and without LZ4, queries and prepared statements decoded
 * down to cells, and Murmur3 tokens compared with the server's token().
 *
 * Run by `scripts/run-tests integration` with CQLUA_TEST_HOSTS set (first
 * address used, port 9042). A tiny blocking-socket host drives cq_conn;
 * the real hosts (libuv, cosockets) come with the driver. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../src/core/conn.h"
#include "../../src/core/murmur3.h"
#include "../../src/core/rows.h"
#include "../../src/core/value.h"
#include "unit.h"

static char host[64] = "127.0.0.1";

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct client {
  int fd;
  cq_conn *c;
  char closed_reason[512];
} client;

static int flush_out(client *cl) {
  size_t n;
  const uint8_t *p;
  while ((p = cq_conn_output(cl->c, &n)) != NULL) {
    ssize_t w = send(cl->fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    cq_conn_consumed(cl->c, (size_t)w);
  }
  return 0;
}

/* Moves bytes until an event is available or the deadline passes; returns
 * 1 with *ev, or 0 on timeout. */
static int next_event(client *cl, cq_conn_event *ev, int64_t deadline) {
  static uint8_t buf[65536];
  for (;;) {
    if (cq_conn_next_event(cl->c, ev) == 1) {
      if (ev->kind == CQ_CONN_EV_CLOSED)
        snprintf(cl->closed_reason, sizeof cl->closed_reason, "%s", ev->text);
      return 1;
    }
    /* Processing input may have queued requests (the handshake's next
     * step): write them before waiting for more input. */
    if (flush_out(cl) < 0) cq_conn_eof(cl->c, "send failed");
    int64_t now = now_ms();
    if (now >= deadline) return 0;
    int64_t wake = cq_conn_next_deadline(cl->c);
    if (wake > deadline) wake = deadline;
    struct pollfd pfd = {.fd = cl->fd, .events = POLLIN};
    int rc = poll(&pfd, 1, (int)(wake > now ? wake - now : 0));
    if (rc > 0) {
      ssize_t r = recv(cl->fd, buf, sizeof buf, 0);
      if (r > 0)
        cq_conn_feed(cl->c, buf, (size_t)r, now_ms());
      else if (r == 0)
        cq_conn_eof(cl->c, NULL);
      else if (errno != EINTR)
        cq_conn_eof(cl->c, strerror(errno));
    }
    cq_conn_tick(cl->c, now_ms());
  }
}

/* Connects and completes the handshake; returns 0 when READY. */
static int open_client(client *cl, const cq_conn_config *cfg) {
  memset(cl, 0, sizeof *cl);
  cl->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9042)};
  inet_pton(AF_INET, host, &sa.sin_addr);
  if (connect(cl->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    snprintf(cl->closed_reason, sizeof cl->closed_reason, "connect: %s", strerror(errno));
    close(cl->fd);
    cl->fd = -1;
    return -1;
  }
  int one = 1;
  setsockopt(cl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  cl->c = cq_conn_new(cfg);
  cq_conn_start(cl->c, now_ms());
  cq_conn_event ev;
  while (next_event(cl, &ev, now_ms() + 10000)) {
    if (ev.kind == CQ_CONN_EV_READY) return 0;
    if (ev.kind == CQ_CONN_EV_CLOSED) return -1;
  }
  snprintf(cl->closed_reason, sizeof cl->closed_reason, "handshake timed out");
  return -1;
}

static void close_client(client *cl) {
  cq_conn_free(cl->c);
  if (cl->fd >= 0) close(cl->fd);
}

/* A decoded RESULT with its own arena and body copy. */
typedef struct result {
  cq_response r;
  cq_arena arena;
  cq_buf body;
  cq_rows_page page;
  char err[256];
} result;

static void result_free(result *res) {
  cq_rows_free(&res->page);
  cq_arena_free(&res->arena);
  cq_buf_free(&res->body);
}

/* Waits for the answer to user_id and decodes it (rows down to cells). */
static int await(client *cl, uint64_t user_id, result *res) {
  memset(res, 0, sizeof *res);
  cq_arena_init(&res->arena, 0);
  cq_rows_init(&res->page);
  cq_conn_event ev;
  while (next_event(cl, &ev, now_ms() + 20000)) {
    if (ev.kind == CQ_CONN_EV_CLOSED || (ev.kind == CQ_CONN_EV_FAILED && ev.user_id == user_id)) {
      snprintf(res->err, sizeof res->err, "%s", ev.text);
      return -1;
    }
    if (ev.kind != CQ_CONN_EV_RESPONSE || ev.user_id != user_id) continue;
    cq_buf_put(&res->body, ev.frame.body, ev.frame.body_len); /* outlive the event */
    cq_diag diag = {{0}};
    int rc = cq_response_decode(&res->r, ev.frame.header.version, ev.frame.header.flags,
                                ev.frame.header.opcode, res->body.data, res->body.len, &res->arena,
                                &diag);
    if (rc < 0) {
      snprintf(res->err, sizeof res->err, "decode: %s", diag.msg);
      return -1;
    }
    if (res->r.opcode == CQ_OP_ERROR) {
      snprintf(res->err, sizeof res->err, "server error 0x%04x: %.*s",
               (unsigned)res->r.u.error.code, (int)res->r.u.error.message.len,
               res->r.u.error.message.p);
      return -1;
    }
    const cq_result *rr = &res->r.u.result;
    if (res->r.opcode == CQ_OP_RESULT && rr->kind == CQ_RESULT_ROWS) {
      const cq_type *types[64];
      size_t ncols = (size_t)rr->meta.column_count;
      if (ncols > 64 || !rr->meta.columns) return -1;
      for (size_t i = 0; i < ncols; i++)
        types[i] = rr->meta.columns[i].type;
      return cq_rows_decode(&res->page, types, ncols, rr->row_count, rr->rows, rr->rows_len,
                            res->err, sizeof res->err);
    }
    return 0;
  }
  snprintf(res->err, sizeof res->err, "no answer within 20 s");
  return -1;
}

/* Waits for `count` answers to requests in flight, whichever they are;
 * returns how many were errors (reporting the first few). */
static int await_all(client *cl, size_t count) {
  int errors = 0;
  cq_conn_event ev;
  while (count > 0 && next_event(cl, &ev, now_ms() + 20000)) {
    if (ev.kind == CQ_CONN_EV_CLOSED) return -1;
    if (ev.kind == CQ_CONN_EV_FAILED ||
        (ev.kind == CQ_CONN_EV_RESPONSE && ev.frame.header.opcode == CQ_OP_ERROR)) {
      if (errors++ < 3) UNIT_FAIL("request %llu failed", (unsigned long long)ev.user_id);
    }
    if (ev.kind == CQ_CONN_EV_FAILED || ev.kind == CQ_CONN_EV_RESPONSE) count--;
  }
  return count ? -1 : errors;
}

static uint64_t next_id = 1;

static uint64_t send_query(client *cl, const char *q, int32_t page_size) {
  cq_request req = {.opcode = CQ_OP_QUERY};
  req.u.query.query = (cq_str){q, strlen(q)};
  req.u.query.params.consistency = CQ_CL_ONE;
  if (page_size > 0) {
    req.u.query.params.flags = CQ_QFLAG_PAGE_SIZE;
    req.u.query.params.page_size = page_size;
  }
  uint64_t id = next_id++;
  return cq_conn_send_request(cl->c, &req, 0, id, now_ms() + 20000, NULL) == CQ_OK ? id : 0;
}

static int run(client *cl, const char *q, result *res) {
  uint64_t id = send_query(cl, q, 5000);
  if (!id) return -1;
  return await(cl, id, res);
}

static const char *cell_text(const result *res, size_t r, size_t c, size_t *n) {
  const cq_cell *cell = cq_rows_cell(&res->page, r, c);
  if (!cell || cell->kind != CQ_CELL_BYTES) return NULL;
  *n = cell->len;
  return (const char *)res->page.src + cell->off;
}

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
        fprintf(stderr, "# C core talked to Cassandra %.*s at %s\n", (int)n, rel, host);
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

/* Prepares q and returns the id and (v5) result metadata id in res. */
static int prepare(client *cl, const char *q, result *res) {
  cq_request req = {.opcode = CQ_OP_PREPARE};
  req.u.prepare.query = (cq_str){q, strlen(q)};
  uint64_t id = next_id++;
  if (cq_conn_send_request(cl->c, &req, 0, id, now_ms() + 20000, NULL) < 0) return -1;
  if (await(cl, id, res) < 0) return -1;
  return res->r.u.result.kind == CQ_RESULT_PREPARED ? 0 : -1;
}

static uint64_t send_execute(client *cl, const result *prep, const cq_value *values, uint16_t n) {
  cq_request req = {.opcode = CQ_OP_EXECUTE};
  req.u.execute.id = prep->r.u.result.id;
  req.u.execute.result_metadata_id = prep->r.u.result.result_metadata_id;
  req.u.execute.params.consistency = CQ_CL_ONE;
  req.u.execute.params.values = values;
  req.u.execute.params.nvalues = n;
  uint64_t id = next_id++;
  return cq_conn_send_request(cl->c, &req, 0, id, now_ms() + 20000, NULL) == CQ_OK ? id : 0;
}

static void ddl(client *cl, const char *q) {
  result res;
  if (run(cl, q, &res) < 0) UNIT_FAIL("%s: %s", q, res.err);
  result_free(&res);
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

/* The host comes from CQLUA_TEST_HOSTS before any test runs. */
__attribute__((constructor)) static void pick_host(void) {
  const char *hosts = getenv("CQLUA_TEST_HOSTS");
  if (hosts && *hosts) {
    size_t n = strcspn(hosts, ",");
    if (n >= sizeof host) n = sizeof host - 1;
    memcpy(host, hosts, n);
    host[n] = '\0';
  }
}

UNIT_MAIN()
