/* The connection state machine: one CQL connection, without any I/O.
 *
 * The host (libuv transport, OpenResty cosockets, a test) moves bytes and
 * time; this code decides everything else:
 *
 *   cq_conn_start(c, now)           after the TCP (and TLS) connect
 *   cq_conn_output(c, &n) / cq_conn_consumed(c, n)   bytes to write
 *   cq_conn_feed(c, bytes, n, now)  bytes read
 *   cq_conn_next_event(c, &ev)      until it returns 0, after every feed,
 *                                   tick or send
 *   cq_conn_tick(c, now)            when cq_conn_next_deadline(c) passes
 *   cq_conn_eof(c) / cq_conn_close(c, reason)   the socket ended / shut down
 *
 * Processing input can queue output (each handshake step, heartbeats), so
 * a host drains the events and then writes cq_conn_output before waiting.
 *
 * Handshake: OPTIONS -> SUPPORTED -> STARTUP (CQL_VERSION, COMPRESSION when
 * the user asked for lz4 and the server offers it, DRIVER_NAME,
 * DRIVER_VERSION) -> READY or AUTHENTICATE. Authentication is pulled by the
 * host: an AUTHENTICATE / AUTH_CHALLENGE event asks for a token, given back
 * with cq_conn_auth_response (the SASL mechanism lives in the host, e.g. a
 * Lua authenticator). On v5 the connection switches to segment framing right
 * after READY or AUTHENTICATE, as the spec requires. Then REGISTER (when
 * events are asked for) and USE (when a keyspace is configured); a READY
 * event ends the handshake.
 *
 * Version negotiation: an unpinned connection starts at v5. When the server
 * refuses the version, the connection closes with CQ_ERR_VERSION and a
 * suggested lower version in the CLOSED event; the host reconnects with it
 * (a server closes the socket after refusing a version, so it cannot happen
 * on the same connection). A pinned version is never changed.
 *
 * Requests: up to 32768 in flight (stream ids 0..32767), each with a user id
 * the host chooses and an optional deadline. A request whose deadline passes
 * is reported failed (CQ_ERR_TIMEOUT) but its stream id stays reserved until
 * the server answers it or the connection closes, so a late answer can never
 * be taken for another request's. Heartbeats (OPTIONS) go out when nothing
 * has been received for heartbeat_interval_ms; no answer within
 * heartbeat_timeout_ms closes the connection.
 *
 * Any malformed input closes the connection with a reason; every request in
 * flight then fails with CQ_ERR_CLOSED. No global state; the cq_conn owns all
 * of its memory (released by cq_conn_free). */
#ifndef CQ_CONN_H
#define CQ_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "message.h"
#include "status.h"

/* Settings, copied by cq_conn_new (the caller's strings may go away). */
typedef struct cq_conn_config {
  int version;                /* 0: negotiate from v5 down to v3; 3..5: pinned */
  int lz4;                    /* ask for LZ4 compression (used if the server offers it) */
  const char *cql_version;    /* NULL: "3.0.0" */
  const char *driver_name;    /* NULL: "cqlua" */
  const char *driver_version; /* NULL: the library version */
  const char *keyspace;       /* NULL: no USE during the handshake */
  const char *const *events;  /* REGISTER these event types ("TOPOLOGY_CHANGE", ...) */
  uint16_t nevents;
  uint32_t max_body;             /* 0: CQ_FRAME_MAX_BODY_DEFAULT */
  int64_t handshake_timeout_ms;  /* 0: none; else the whole handshake's budget */
  int64_t heartbeat_interval_ms; /* 0: no heartbeats */
  int64_t heartbeat_timeout_ms;  /* 0: 30000 */
} cq_conn_config;

typedef enum cq_conn_state {
  CQ_CONN_NEW = 0,     /* created, cq_conn_start not called */
  CQ_CONN_OPTIONS,     /* OPTIONS sent */
  CQ_CONN_STARTUP,     /* STARTUP sent */
  CQ_CONN_AUTH_WAIT,   /* waiting for the host's cq_conn_auth_response */
  CQ_CONN_AUTH_SENT,   /* AUTH_RESPONSE sent */
  CQ_CONN_REGISTERING, /* REGISTER sent */
  CQ_CONN_USING,       /* USE sent */
  CQ_CONN_READY,       /* requests may be sent */
  CQ_CONN_CLOSED       /* defunct or shut down; only cq_conn_free remains */
} cq_conn_state;

typedef enum cq_conn_event_kind {
  CQ_CONN_EV_NONE = 0,
  CQ_CONN_EV_READY,          /* the handshake completed */
  CQ_CONN_EV_AUTHENTICATE,   /* text = authenticator class; answer with cq_conn_auth_response */
  CQ_CONN_EV_AUTH_CHALLENGE, /* token = challenge; answer with cq_conn_auth_response */
  CQ_CONN_EV_AUTH_SUCCESS,   /* token = the server's final token (informational) */
  CQ_CONN_EV_RESPONSE,       /* frame = the answer to request user_id */
  CQ_CONN_EV_FAILED,         /* request user_id failed without an answer: status, text */
  CQ_CONN_EV_SERVER_EVENT,   /* frame = an EVENT pushed by the server */
  CQ_CONN_EV_CLOSED          /* the connection closed: status, text; the last event */
} cq_conn_event_kind;

/* An event. Every pointer in it stays valid until the next call on the
 * connection (any of next_event, feed, tick, send, close, free). */
typedef struct cq_conn_event {
  cq_conn_event_kind kind;
  int status;            /* FAILED / CLOSED: a negative cq_status; else 0 */
  uint64_t user_id;      /* RESPONSE / FAILED */
  const char *text;      /* FAILED / CLOSED: the reason; AUTHENTICATE: class; "" otherwise */
  cq_frame frame;        /* RESPONSE / SERVER_EVENT: header and (uncompressed) body */
  cq_value token;        /* AUTH_CHALLENGE / AUTH_SUCCESS: p/len, len -1 for null */
  int32_t server_error;  /* CLOSED by an ERROR answer during the handshake: its code */
  int suggested_version; /* CLOSED with CQ_ERR_VERSION: the version to retry with, or 0 */
} cq_conn_event;

typedef struct cq_conn cq_conn;

/* Creates a connection in state NEW. Returns NULL when out of memory or when
 * the config is invalid (version not 0/3/4/5); the caller owns the result. */
cq_conn *cq_conn_new(const cq_conn_config *cfg);
/* Releases everything the connection owns. NULL is allowed. */
void cq_conn_free(cq_conn *c);

/* Begins the handshake (queues OPTIONS). now_ms is the host's monotonic
 * clock, used for every deadline. CQ_ERR_STATE unless the state is NEW. */
int cq_conn_start(cq_conn *c, int64_t now_ms);

/* Appends bytes read from the socket; they are processed by
 * cq_conn_next_event. Returns CQ_OK, CQ_ERR_CLOSED, or CQ_ERR_NOMEM. */
int cq_conn_feed(cq_conn *c, const void *p, size_t n, int64_t now_ms);

/* Produces the next event: returns 1 and fills *ev, or 0 when there is
 * nothing to report until more bytes, time or calls arrive. */
int cq_conn_next_event(cq_conn *c, cq_conn_event *ev);

/* Bytes waiting to be written (all queued frames, coalesced), or NULL with
 * *n == 0. Valid until the next call on the connection. */
const uint8_t *cq_conn_output(cq_conn *c, size_t *n);
/* Marks the first n output bytes as written. */
void cq_conn_consumed(cq_conn *c, size_t n);

/* Advances time: expires request deadlines (FAILED events), the handshake
 * deadline and heartbeats. Returns CQ_OK or CQ_ERR_CLOSED. */
int cq_conn_tick(cq_conn *c, int64_t now_ms);
/* The earliest time cq_conn_tick has work to do, or INT64_MAX. */
int64_t cq_conn_next_deadline(const cq_conn *c);

/* Queues a request whose body is already encoded (for the negotiated
 * version). deadline_ms is absolute (same clock as now_ms), 0 for none.
 * The stream id used is stored in *stream when stream is not NULL.
 * Returns CQ_OK; CQ_ERR_STATE before READY; CQ_ERR_CLOSED; CQ_ERR_BUSY when
 * all 32768 stream ids are taken; CQ_ERR_TOO_LARGE for a body over max_body. */
int cq_conn_send(cq_conn *c, int opcode, int flags, const void *body, size_t n, uint64_t user_id,
                 int64_t deadline_ms, int16_t *stream);
/* Like cq_conn_send, encoding req for the negotiated version straight into
 * the output (no intermediate copy). Encoding errors are returned as is. */
int cq_conn_send_request(cq_conn *c, const cq_request *req, int flags, uint64_t user_id,
                         int64_t deadline_ms, int16_t *stream);

/* Answers an AUTHENTICATE or AUTH_CHALLENGE event with a SASL token
 * (len -1 for a null token). CQ_ERR_STATE when no answer is expected. */
int cq_conn_auth_response(cq_conn *c, const void *token, int32_t len);

/* The peer closed the socket or reading failed (reason may be NULL). */
void cq_conn_eof(cq_conn *c, const char *reason);
/* Closes the connection on the host's behalf (shutdown, pool resize). */
void cq_conn_close(cq_conn *c, const char *reason);

cq_conn_state cq_conn_get_state(const cq_conn *c);
/* The protocol version in use (the attempted one during the handshake). */
int cq_conn_version(const cq_conn *c);
/* 1 when LZ4 compression was agreed with the server. */
int cq_conn_compressed(const cq_conn *c);
/* Requests in flight, not counting timed-out ones still holding a stream. */
uint32_t cq_conn_in_flight(const cq_conn *c);
/* Stream ids held: in flight plus timed out but not yet answered. */
uint32_t cq_conn_streams_held(const cq_conn *c);
/* The SUPPORTED options the server announced ("COMPRESSION" -> "snappy,lz4"),
 * or NULL when it did not announce the key. The string is owned by c and
 * valid until the next cq_conn_supported call. */
const char *cq_conn_supported(cq_conn *c, const char *key);

#endif
