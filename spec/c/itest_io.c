/* The libuv transport against a real Cassandra (CQLUA_TEST_HOSTS) and
 * against listeners this test opens itself, for what a real server will
 * not do on demand (stay silent, hang up mid-handshake). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../src/core/rows.h"
#include "../../src/transport/uv_io.h"
#include "unit.h"

static char host[64] = "127.0.0.1";

/* Runs the io until an event arrives or `ms` pass; 1 with *e or 0. */
static int wait_event(cqlua_io *io, cqlua_io_event *e, int64_t ms) {
  int64_t deadline = cqlua_io_now(io) + ms;
  for (;;) {
    if (cqlua_io_next_event(io, e)) return 1;
    int64_t left = deadline - cqlua_io_now(io);
    if (left <= 0) return 0;
    cqlua_io_run(io, left);
  }
}

/* Waits for the connection's READY (1) or CLOSED (0, text copied). */
static int wait_ready(cqlua_io *io, uint32_t conn, char *why, size_t cap) {
  cqlua_io_event e;
  while (wait_event(io, &e, 15000)) {
    if (e.kind != CQLUA_IO_EV_CONN || e.conn != conn) continue;
    if (e.ev.kind == CQ_CONN_EV_READY) return 1;
    if (e.ev.kind == CQ_CONN_EV_CLOSED) {
      snprintf(why, cap, "%s", e.ev.text);
      return 0;
    }
  }
  snprintf(why, cap, "no event within 15 s");
  return 0;
}

static int send_query(cqlua_io *io, uint32_t conn, const char *q, uint64_t user_id) {
  cq_request req = {.opcode = CQ_OP_QUERY};
  req.u.query.query = (cq_str){q, strlen(q)};
  req.u.query.params.consistency = CQ_CL_ONE;
  return cqlua_io_send_request(io, conn, &req, 0, user_id, cqlua_io_now(io) + 10000, NULL);
}

/* A listener on an ephemeral loopback port; returns its fd, port in *port. */
static int listener(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  bind(fd, (struct sockaddr *)&sa, sizeof sa);
  listen(fd, 8);
  socklen_t len = sizeof sa;
  getsockname(fd, (struct sockaddr *)&sa, &len);
  *port = ntohs(sa.sin_port);
  return fd;
}

TEST(handshake_and_queries_through_libuv) {
  cqlua_io *io = cqlua_io_new(NULL);
  REQUIRE(io != NULL);
  cq_conn_config cfg = {.lz4 = 1};
  uint32_t conn;
  REQUIRE(cqlua_io_connect(io, host, 9042, &cfg, NULL, NULL, 5000, &conn) == CQ_OK);
  char why[256];
  REQUIRE(wait_ready(io, conn, why, sizeof why));
  CHECK_EQ(cq_conn_version(cqlua_io_conn(io, conn)), 5);

  /* Many requests queued in one turn go out together and all come back. */
  enum { N = 500 };
  for (uint64_t i = 1; i <= N; i++)
    CHECK_EQ(send_query(io, conn, "SELECT release_version FROM system.local", i), CQ_OK);
  CHECK_EQ(cq_conn_in_flight(cqlua_io_conn(io, conn)), N);
  static uint8_t seen[N + 1];
  int answered = 0, rows_ok = 0;
  cqlua_io_event e;
  cq_arena arena;
  cq_arena_init(&arena, 0);
  while (answered < N && wait_event(io, &e, 10000)) {
    if (e.kind != CQLUA_IO_EV_CONN || e.ev.kind != CQ_CONN_EV_RESPONSE) continue;
    if (e.ev.user_id < 1 || e.ev.user_id > N || seen[e.ev.user_id]++) continue;
    answered++;
    cq_response r;
    cq_arena_reset(&arena);
    if (cq_response_decode(&r, e.ev.frame.header.version, e.ev.frame.header.flags,
                           e.ev.frame.header.opcode, e.ev.frame.body, e.ev.frame.body_len, &arena,
                           NULL) == CQ_OK &&
        r.opcode == CQ_OP_RESULT && r.u.result.row_count == 1)
      rows_ok++;
  }
  cq_arena_free(&arena);
  CHECK_EQ(answered, N);
  CHECK_EQ(rows_ok, N);
  CHECK_EQ(cqlua_io_connections(io), 1);

  /* Closing fails nothing (nothing in flight) and reports CLOSED once. */
  CHECK_EQ(cqlua_io_close(io, conn, "test done"), CQ_OK);
  REQUIRE(wait_event(io, &e, 1000));
  CHECK_EQ(e.ev.kind, CQ_CONN_EV_CLOSED);
  CHECK_STR(e.ev.text, "test done");
  CHECK(cqlua_io_conn(io, conn) == NULL);
  CHECK_EQ(send_query(io, conn, "SELECT 1", 1), CQ_ERR_CLOSED);
  cqlua_io_free(io);
}

TEST(refused_connection_is_a_closed_event_naming_the_peer) {
  cqlua_io *io = cqlua_io_new(NULL);
  cq_conn_config cfg = {0};
  int port;
  int fd = listener(&port);
  close(fd); /* the port is now free: connecting is refused */
  uint32_t conn;
  REQUIRE(cqlua_io_connect(io, "127.0.0.1", port, &cfg, NULL, NULL, 5000, &conn) == CQ_OK);
  char why[256];
  CHECK(!wait_ready(io, conn, why, sizeof why));
  CHECK(strstr(why, "cannot connect to 127.0.0.1:") != NULL);
  CHECK(strstr(why, "refused") != NULL);
  CHECK_EQ(cqlua_io_connections(io), 0);
  cqlua_io_free(io);
}

TEST(silent_server_hits_the_connect_timeout) {
  cqlua_io *io = cqlua_io_new(NULL);
  cq_conn_config cfg = {0};
  int port;
  int fd = listener(&port); /* accepts in the kernel, never answers */
  uint32_t conn;
  REQUIRE(cqlua_io_connect(io, "127.0.0.1", port, &cfg, NULL, NULL, 300, &conn) == CQ_OK);
  int64_t t0 = cqlua_io_now(io);
  char why[256];
  CHECK(!wait_ready(io, conn, why, sizeof why));
  int64_t took = cqlua_io_now(io) - t0;
  CHECK(took >= 290 && took < 5000);
  CHECK(strstr(why, "timed out after 300 ms") != NULL);
  CHECK(strstr(why, "did not complete the handshake") != NULL);
  close(fd);
  cqlua_io_free(io);
}

TEST(server_hanging_up_during_the_handshake) {
  cqlua_io *io = cqlua_io_new(NULL);
  cq_conn_config cfg = {0};
  int port;
  int fd = listener(&port);
  uint32_t conn;
  REQUIRE(cqlua_io_connect(io, "127.0.0.1", port, &cfg, NULL, NULL, 5000, &conn) == CQ_OK);
  /* Let the connect and the OPTIONS happen, then accept and hang up. */
  cqlua_io_event e;
  for (int i = 0; i < 5; i++)
    cqlua_io_run(io, 20);
  int peer = accept(fd, NULL, NULL);
  REQUIRE(peer >= 0);
  char buf[64];
  CHECK(read(peer, buf, sizeof buf) == 9); /* the OPTIONS frame */
  close(peer);
  char why[256];
  CHECK(!wait_ready(io, conn, why, sizeof why));
  CHECK(strstr(why, "closed the connection during the handshake") != NULL);
  CHECK_EQ(cqlua_io_next_event(io, &e), 0);
  close(fd);
  cqlua_io_free(io);
}

TEST(timers_fire_in_order_and_cancelled_ones_never) {
  cqlua_io *io = cqlua_io_new(NULL);
  uint32_t a, b, c;
  CHECK_EQ(cqlua_io_timer_start(io, 60, 1, &a), CQ_OK);
  CHECK_EQ(cqlua_io_timer_start(io, 10, 2, &b), CQ_OK);
  CHECK_EQ(cqlua_io_timer_start(io, 30, 3, &c), CQ_OK);
  cqlua_io_timer_cancel(io, c);
  CHECK_EQ(cqlua_io_timers(io), 2);
  cqlua_io_event e;
  REQUIRE(wait_event(io, &e, 1000));
  CHECK_EQ(e.kind, CQLUA_IO_EV_TIMER);
  CHECK_EQ(e.user_id, 2);
  REQUIRE(wait_event(io, &e, 1000));
  CHECK_EQ(e.user_id, 1);
  CHECK_EQ(wait_event(io, &e, 100), 0);
  CHECK_EQ(cqlua_io_timers(io), 0);
  cqlua_io_timer_cancel(io, a); /* already fired: ignored */
  cqlua_io_free(io);
}

TEST(freeing_with_open_connections_and_timers_releases_everything) {
  cqlua_io *io = cqlua_io_new(NULL);
  cq_conn_config cfg = {0};
  uint32_t conn, t;
  REQUIRE(cqlua_io_connect(io, host, 9042, &cfg, NULL, NULL, 5000, &conn) == CQ_OK);
  char why[256];
  CHECK(wait_ready(io, conn, why, sizeof why));
  CHECK_EQ(send_query(io, conn, "SELECT key FROM system.local", 1), CQ_OK);
  CHECK_EQ(cqlua_io_timer_start(io, 100000, 9, &t), CQ_OK);
  cqlua_io_free(io); /* valgrind and ASan check that nothing leaks */
}

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
