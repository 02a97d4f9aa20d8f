/* A tiny blocking-socket host for the C integration tests (spec/c/itest_*.c).
 *
 * It drives one cq_conn over a plain TCP socket to a real Cassandra, so the
 * tests exercise the C core end to end without the driver's real hosts
 * (libuv, cosockets). Everything blocks with generous deadlines; a test
 * sends requests, then waits for their answers by user id.
 *
 *   client cl;
 *   cq_conn_config cfg = {.version = 4};
 *   REQUIRE(open_client(&cl, &cfg) == 0);
 *   result res;
 *   if (run(&cl, "SELECT key FROM system.local", &res) == 0) ... res.page ...
 *   result_free(&res);
 *   close_client(&cl);
 *
 * The server address is the first entry of CQLUA_TEST_HOSTS (port 9042),
 * 127.0.0.1 when unset. Link this file into every itest executable (CMake
 * does); it expects unit.h's harness (UNIT_MAIN) in the test file. */
#ifndef CQ_ITEST_HOST_H
#define CQ_ITEST_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "../../../src/core/conn.h"
#include "../../../src/core/rows.h"
#include "../../../src/core/value.h"

/* Most columns a result may have (rows decoding uses a fixed array). */
#define ITEST_MAX_COLS 64

/* The server address (from CQLUA_TEST_HOSTS before main runs). */
extern char itest_addr[64];

/* The monotonic clock every deadline uses. */
int64_t now_ms(void);

typedef struct client {
  int fd;
  cq_conn *c;
  char closed_reason[512]; /* why the connection closed / failed to open */
} client;

/* Writes all queued output; -1 when the socket fails. */
int flush_out(client *cl);
/* Moves bytes until an event is available or the deadline passes; returns
 * 1 with *ev, or 0 on timeout. */
int next_event(client *cl, cq_conn_event *ev, int64_t deadline);
/* Connects and completes the handshake; returns 0 when READY, else -1 with
 * cl->closed_reason set. close_client is safe after either outcome. */
int open_client(client *cl, const cq_conn_config *cfg);
void close_client(client *cl);

/* A decoded response with its own arena and body copy, so it outlives the
 * connection's event. For a Rows result, page holds the rows decoded down to
 * cells; types[] holds the column types used to decode them. For a Prepared
 * result, types[] holds the bind markers' types, as the core decoded them
 * (class names the server sends for vectors and, on older versions, other
 * types are already resolved); ntypes counts them. */
typedef struct result {
  cq_response r;
  cq_arena arena;
  cq_buf body;
  cq_rows_page page;
  const cq_type *types[ITEST_MAX_COLS];
  size_t ntypes;
  char err[256];
} result;

void result_free(result *res);

/* Waits for the answer to user_id and decodes it (rows down to cells).
 * Returns 0, or -1 with res->err (server errors included). res must be
 * released with result_free either way. */
int await(client *cl, uint64_t user_id, result *res);
/* Waits for `count` answers to requests in flight, whichever they are;
 * returns how many were errors (reporting the first few), -1 on timeout. */
int await_all(client *cl, size_t count);

/* Sends a QUERY at consistency ONE (page_size <= 0: the server's default);
 * returns its user id, 0 when it could not be queued. */
uint64_t send_query(client *cl, const char *q, int32_t page_size);
/* send_query + await, pages of 5000 rows. */
int run(client *cl, const char *q, result *res);
/* run() that reports a failure as a test failure (schema changes). */
void ddl(client *cl, const char *q);

/* Prepares q; returns 0 with the id, the v5 result metadata id and the bind
 * types in res. */
int prepare(client *cl, const char *q, result *res);
/* Sends an EXECUTE of the prepared statement with n values at ONE; returns
 * its user id, 0 when it could not be queued. */
uint64_t send_execute(client *cl, const result *prep, const cq_value *values, uint16_t n);

/* The bytes of a byte-like cell (row r, column c), or NULL. */
const char *cell_text(const result *res, size_t r, size_t c, size_t *n);

#endif
