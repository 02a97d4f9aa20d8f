/* The libuv transport: sockets and timers for cq_conn connections.
 *
 * Used by the runner, plain LuaJIT and the C API (OpenResty moves bytes with
 * cosockets instead and never loads this). The Lua side drives it by
 * pulling, never through callbacks:
 *
 *   cqlua_io_connect(...)                 opens a connection (async)
 *   cqlua_io_send_request(...)            queues a request on it
 *   cqlua_io_run(io, timeout_ms)          writes what is queued, waits for I/O
 *                                         or a timer (at most timeout_ms)
 *   while (cqlua_io_next_event(io, &e))   handles what happened
 *
 * Writes are coalesced: everything queued on a connection between two runs
 * goes out in one write. Each connection's protocol deadlines (request
 * timeouts, heartbeats, the handshake) are driven by a libuv timer armed at
 * cq_conn_next_deadline. Connection failures of any kind (refused,
 * unreachable, timed out, reset) arrive as the connection's CLOSED event,
 * after FAILED events for every request it had in flight.
 *
 * Ownership: the cqlua_io owns every connection and timer it creates, and
 * either owns its uv_loop_t or borrows the caller's. Single-threaded: call
 * everything from the loop's thread. */
#ifndef CQLUA_UV_IO_H
#define CQLUA_UV_IO_H

#include <stdint.h>
#include <uv.h>

#include "../core/conn.h"
#include "tls.h"

typedef struct cqlua_io cqlua_io;

typedef enum cqlua_io_event_kind {
  CQLUA_IO_EV_CONN = 1, /* ev holds the connection's event */
  CQLUA_IO_EV_TIMER = 2 /* a timer fired: timer and user_id are set */
} cqlua_io_event_kind;

/* One event. Pointers inside `ev` stay valid until the next call on the io. */
typedef struct cqlua_io_event {
  cqlua_io_event_kind kind;
  uint32_t conn;    /* CONN: the connection id */
  uint32_t timer;   /* TIMER: the timer id */
  uint64_t user_id; /* TIMER: the id given to cqlua_io_timer_start */
  cq_conn_event ev; /* CONN: the event */
} cqlua_io_event;

/* Creates an io on `loop`, or on a loop of its own when loop is NULL.
 * Returns NULL when out of memory. */
cqlua_io *cqlua_io_new(uv_loop_t *loop);
/* Closes every connection and timer (no further events) and frees the io;
 * an owned loop is closed too. */
void cqlua_io_free(cqlua_io *io);

/* Milliseconds on the monotonic clock every deadline uses. */
int64_t cqlua_io_now(const cqlua_io *io);

/* Starts connecting to address:port (IPv4 or IPv6 literal). cfg is copied.
 * With tls (NULL: plaintext) the connection speaks TLS, verifying that the
 * certificate names tls_name (NULL: the address). connect_timeout_ms bounds
 * the TCP connect, the TLS handshake and the protocol handshake together
 * (0: none). Stores the connection id in *conn. Returns CQ_OK or
 * CQ_ERR_INVALID (bad address or config), CQ_ERR_NOMEM. */
int cqlua_io_connect(cqlua_io *io, const char *address, int port, const cq_conn_config *cfg,
                     cq_tls_ctx *tls, const char *tls_name, int64_t connect_timeout_ms,
                     uint32_t *conn);

/* The cq_conn behind a connection id, or NULL when the id is unknown or
 * the connection is gone. For queries (version, state, in-flight counts). */
cq_conn *cqlua_io_conn(cqlua_io *io, uint32_t conn);

/* Queues a request (see cq_conn_send_request); written by the next run. */
int cqlua_io_send_request(cqlua_io *io, uint32_t conn, const cq_request *req, int flags,
                          uint64_t user_id, int64_t deadline_ms, int16_t *stream);
/* Queues a request whose body is already encoded (see cq_conn_send). */
int cqlua_io_send(cqlua_io *io, uint32_t conn, int opcode, int flags, const void *body, size_t n,
                  uint64_t user_id, int64_t deadline_ms, int16_t *stream);
/* Answers an AUTHENTICATE / AUTH_CHALLENGE event. */
int cqlua_io_auth_response(cqlua_io *io, uint32_t conn, const void *token, int32_t len);
/* Closes a connection: its requests fail, then its CLOSED event comes. */
int cqlua_io_close(cqlua_io *io, uint32_t conn, const char *reason);

/* A one-shot timer firing after delay_ms; its TIMER event carries user_id.
 * Stores the timer id in *timer. */
int cqlua_io_timer_start(cqlua_io *io, int64_t delay_ms, uint64_t user_id, uint32_t *timer);
/* Cancels a timer that has not fired (an unknown or fired id is ignored). */
void cqlua_io_timer_cancel(cqlua_io *io, uint32_t timer);

/* Writes queued output, then waits until something happens or timeout_ms
 * passes (0: do not wait; -1: wait without limit, which returns at once
 * when nothing could ever happen). Returns the number of connections and
 * timers with events waiting, or a negative status. */
int cqlua_io_run(cqlua_io *io, int64_t timeout_ms);

/* Writes queued output now (as far as the socket takes it without
 * blocking), without waiting or handing out events: lets a request start
 * while the caller goes on with other work (a page fetched ahead). */
void cqlua_io_flush(cqlua_io *io);

/* Hands out the next event: 1 with *e filled, 0 when none is waiting. */
int cqlua_io_next_event(cqlua_io *io, cqlua_io_event *e);

/* Open connections and pending timers (for tests and shutdown). */
uint32_t cqlua_io_connections(const cqlua_io *io);
uint32_t cqlua_io_timers(const cqlua_io *io);

#endif
