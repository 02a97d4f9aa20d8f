/* The connection state machine against a scripted server.
 *
 * The "server" here is built from the codec's reverse direction (request
 * decoding, response encoding, frames and segments with the direction
 * flipped). It is a fake on purpose: it produces on demand what a real
 * Cassandra will not (version refusals, SASL challenges, garbage, silence);
 * the real-server handshake is covered by itest_conn.c. */
#include <string.h>

#include "../../src/core/conn.h"
#include "../../src/core/segment.h"
#include "unit.h"

typedef struct server {
  int version;
  int framed;
  int lz4;
  cq_frame_reader fr;
  cq_segment_decoder sd;
  cq_frame_writer fw;
  cq_segment_encoder se;
  cq_buf out;
  cq_arena arena;
  cq_request req; /* last request decoded */
  cq_frame_header hdr;
} server;

static void server_init(server *s, int version) {
  memset(s, 0, sizeof *s);
  s->version = version;
  cq_frame_reader_init(&s->fr, 0, 0);
  s->fr.direction = CQ_DIR_REQUEST;
  cq_frame_writer_init(&s->fw, version, 0);
  cq_buf_init(&s->out);
  cq_arena_init(&s->arena, 0);
}

static void server_free(server *s) {
  cq_frame_reader_free(&s->fr);
  cq_frame_writer_free(&s->fw);
  if (s->framed) {
    cq_segment_decoder_free(&s->sd);
    cq_segment_encoder_free(&s->se);
  }
  cq_buf_free(&s->out);
  cq_arena_free(&s->arena);
}

/* v5: the server switches to segments after answering STARTUP. */
static void server_frame(server *s, int lz4) {
  s->framed = 1;
  s->lz4 = lz4;
  cq_segment_decoder_init(&s->sd, lz4);
  s->sd.direction = CQ_DIR_REQUEST;
  cq_segment_encoder_init(&s->se, lz4);
  size_t n;
  const uint8_t *rest = cq_frame_reader_pending(&s->fr, &n);
  if (n) cq_segment_decoder_feed(&s->sd, rest, n);
}

/* Moves the client's output into the server. */
static void to_server(cq_conn *c, server *s) {
  size_t n;
  const uint8_t *p = cq_conn_output(c, &n);
  if (!n) return;
  if (s->framed)
    cq_segment_decoder_feed(&s->sd, p, n);
  else
    cq_frame_reader_feed(&s->fr, p, n);
  cq_conn_consumed(c, n);
}

/* Decodes the next request the server received; returns its opcode or -1. */
static int server_next(server *s) {
  cq_frame f;
  int rc = s->framed ? cq_segment_decoder_next(&s->sd, &f) : cq_frame_reader_next(&s->fr, &f);
  if (rc != 1) return -1;
  s->hdr = f.header;
  cq_arena_reset(&s->arena);
  /* The body lives in the reader until the next call: decode at once. */
  if (cq_request_decode(&s->req, f.header.version, f.header.flags, f.header.opcode, f.body,
                        f.body_len, &s->arena, NULL) < 0)
    return -2;
  return f.header.opcode;
}

/* Queues a response on the server's output, framed as the server is. */
static void server_reply_v(server *s, int version, int16_t stream, const cq_response *r) {
  cq_buf body;
  cq_buf_init(&body);
  cq_response_encode(&body, version, 0, r);
  cq_frame_header h = {
      .version = (uint8_t)version, .response = 1, .stream = stream, .opcode = (uint8_t)r->opcode};
  s->fw.version = (uint8_t)version;
  if (s->framed) {
    cq_buf frame;
    cq_buf_init(&frame);
    cq_frame_write(&s->fw, &frame, &h, body.data, body.len);
    cq_segment_encode_frames(&s->se, &s->out, frame.data, frame.len);
    cq_buf_free(&frame);
  } else {
    cq_frame_write(&s->fw, &s->out, &h, body.data, body.len);
  }
  cq_buf_free(&body);
}

static void server_reply(server *s, const cq_response *r) {
  server_reply_v(s, s->version, s->hdr.stream, r);
}

/* Moves the server's output to the client, `chunk` bytes at a time (0: all). */
static void to_client(server *s, cq_conn *c, size_t chunk, int64_t now) {
  size_t off = 0;
  while (off < s->out.len) {
    size_t n = chunk && chunk < s->out.len - off ? chunk : s->out.len - off;
    cq_conn_feed(c, s->out.data + off, n, now);
    off += n;
  }
  cq_buf_reset(&s->out);
}

static cq_str S(const char *z) { return (cq_str){z, strlen(z)}; }

static void reply_supported(server *s) {
  static const cq_str comp[] = {{"snappy", 6}, {"lz4", 3}};
  static const cq_str cqlv[] = {{"3.4.7", 5}};
  cq_multimap_entry e[2] = {{{"COMPRESSION", 11}, comp, 2}, {{"CQL_VERSION", 11}, cqlv, 1}};
  cq_response r = {.opcode = CQ_OP_SUPPORTED};
  r.u.supported.entries = e;
  r.u.supported.n = 2;
  server_reply(s, &r);
}

static void reply_simple(server *s, int opcode) {
  cq_response r = {.opcode = (cq_opcode)opcode};
  server_reply(s, &r);
}

static void reply_error(server *s, int version, int32_t code, const char *msg) {
  cq_response r = {.opcode = CQ_OP_ERROR};
  r.u.error.code = code;
  r.u.error.message = S(msg);
  server_reply_v(s, version, s->hdr.stream, &r);
}

/* Collects events until none is left; returns how many. An event's text
 * lives only until the next call, so drain keeps copies (texts[i]). */
static char texts[8][512];
static int drain(cq_conn *c, cq_conn_event *evs, int max) {
  int n = 0;
  cq_conn_event ev;
  while (cq_conn_next_event(c, &ev) == 1) {
    if (n < max) {
      evs[n] = ev;
      if (n < 8) {
        snprintf(texts[n], sizeof texts[n], "%s", ev.text);
        evs[n].text = texts[n];
      }
    }
    n++;
  }
  return n;
}

/* Runs OPTIONS/SUPPORTED and STARTUP up to (not including) STARTUP's answer. */
static void through_startup(cq_conn *c, server *s, int64_t now) {
  cq_conn_start(c, now);
  to_server(c, s);
  CHECK_EQ(server_next(s), CQ_OP_OPTIONS);
  reply_supported(s);
  to_client(s, c, 0, now);
  cq_conn_event ev;
  CHECK_EQ(cq_conn_next_event(c, &ev), 0);
  to_server(c, s);
  CHECK_EQ(server_next(s), CQ_OP_STARTUP);
}

static cq_conn *ready_conn(server *s, int version, int lz4) {
  cq_conn_config cfg = {.version = version, .lz4 = lz4};
  cq_conn *c = cq_conn_new(&cfg);
  through_startup(c, s, 1000);
  reply_simple(s, CQ_OP_READY);
  if (s->version == 5) server_frame(s, s->req.u.startup.compression.p != NULL);
  to_client(s, c, 0, 1000);
  cq_conn_event ev;
  CHECK_EQ(cq_conn_next_event(c, &ev), 1);
  CHECK_EQ(ev.kind, CQ_CONN_EV_READY);
  return c;
}

static int send_query(cq_conn *c, const char *q, uint64_t user_id, int64_t deadline) {
  cq_request req = {.opcode = CQ_OP_QUERY};
  req.u.query.query = S(q);
  req.u.query.params.consistency = CQ_CL_ONE;
  return cq_conn_send_request(c, &req, 0, user_id, deadline, NULL);
}

TEST(handshake_v4_startup_fields_and_a_query_round_trip) {
  server s;
  server_init(&s, 4);
  cq_conn_config cfg = {.version = 4, .lz4 = 1, .driver_name = "cqlua-test"};
  cq_conn *c = cq_conn_new(&cfg);
  REQUIRE(c != NULL);
  through_startup(c, &s, 1000);
  const cq_startup *st = &s.req.u.startup;
  CHECK(st->cql_version.len == 5 && memcmp(st->cql_version.p, "3.0.0", 5) == 0);
  CHECK(st->compression.len == 3 && memcmp(st->compression.p, "lz4", 3) == 0);
  CHECK(st->driver_name.len == 10 && memcmp(st->driver_name.p, "cqlua-test", 10) == 0);
  CHECK(st->driver_version.p != NULL);
  CHECK_STR(cq_conn_supported(c, "COMPRESSION"), "snappy,lz4");
  CHECK_EQ(cq_conn_compressed(c), 1);
  /* Before READY no request may go out. */
  CHECK_EQ(send_query(c, "SELECT 1", 1, 0), CQ_ERR_STATE);
  reply_simple(&s, CQ_OP_READY);
  to_client(&s, c, 0, 1000);
  cq_conn_event ev;
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  CHECK_EQ(ev.kind, CQ_CONN_EV_READY);
  CHECK_EQ(cq_conn_get_state(c), CQ_CONN_READY);

  CHECK_EQ(send_query(c, "SELECT release_version FROM system.local", 77, 0), CQ_OK);
  CHECK_EQ(cq_conn_in_flight(c), 1);
  s.fr.lz4 = 1; /* the server accepts compressed frames after STARTUP */
  to_server(c, &s);
  REQUIRE(server_next(&s) == CQ_OP_QUERY);
  CHECK(s.req.u.query.query.len == 40);
  cq_response r = {.opcode = CQ_OP_RESULT};
  r.u.result.kind = CQ_RESULT_VOID;
  server_reply(&s, &r);
  to_client(&s, c, 0, 1001);
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  CHECK_EQ(ev.kind, CQ_CONN_EV_RESPONSE);
  CHECK_EQ(ev.user_id, 77);
  CHECK_EQ(ev.frame.header.opcode, CQ_OP_RESULT);
  CHECK_EQ(cq_conn_in_flight(c), 0);
  CHECK_EQ(cq_conn_next_event(c, &ev), 0);
  cq_conn_free(c);
  server_free(&s);
}

TEST(handshake_fed_one_byte_at_a_time) {
  server s;
  server_init(&s, 4);
  cq_conn_config cfg = {.version = 4};
  cq_conn *c = cq_conn_new(&cfg);
  cq_conn_start(c, 0);
  to_server(c, &s);
  CHECK_EQ(server_next(&s), CQ_OP_OPTIONS);
  reply_supported(&s);
  to_client(&s, c, 1, 0);
  cq_conn_event ev;
  CHECK_EQ(cq_conn_next_event(c, &ev), 0);
  to_server(c, &s);
  CHECK_EQ(server_next(&s), CQ_OP_STARTUP);
  CHECK(s.req.u.startup.compression.p == NULL); /* lz4 not asked for */
  reply_simple(&s, CQ_OP_READY);
  to_client(&s, c, 1, 0);
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  CHECK_EQ(ev.kind, CQ_CONN_EV_READY);
  cq_conn_free(c);
  server_free(&s);
}

TEST(v5_switches_to_segments_after_ready_with_and_without_lz4) {
  for (int lz4 = 0; lz4 <= 1; lz4++) {
    server s;
    server_init(&s, 5);
    cq_conn *c = ready_conn(&s, 0, lz4);
    CHECK_EQ(cq_conn_version(c), 5);
    CHECK_EQ(cq_conn_compressed(c), lz4);
    /* A large query crosses several segments. */
    static char big[300000];
    memset(big, 'x', sizeof big - 1);
    memcpy(big, "SELECT ", 7);
    CHECK_EQ(send_query(c, big, 5, 0), CQ_OK);
    CHECK_EQ(send_query(c, "SELECT 2", 6, 0), CQ_OK);
    to_server(c, &s);
    REQUIRE(server_next(&s) == CQ_OP_QUERY);
    CHECK_EQ(s.req.u.query.query.len, sizeof big - 1);
    int16_t first = s.hdr.stream;
    REQUIRE(server_next(&s) == CQ_OP_QUERY);
    /* Answer the second first: answers are matched by stream, not order. */
    cq_response r = {.opcode = CQ_OP_RESULT};
    r.u.result.kind = CQ_RESULT_VOID;
    server_reply(&s, &r);
    server_reply_v(&s, 5, first, &r);
    to_client(&s, c, 7, 2000);
    cq_conn_event ev[4];
    REQUIRE(drain(c, ev, 4) == 2);
    CHECK_EQ(ev[0].user_id, 6);
    CHECK_EQ(ev[1].user_id, 5);
    cq_conn_free(c);
    server_free(&s);
  }
}

TEST(unpinned_connection_suggests_the_version_the_server_answers_in) {
  server s;
  server_init(&s, 5);
  cq_conn_config cfg = {0};
  cq_conn *c = cq_conn_new(&cfg);
  cq_conn_start(c, 0);
  to_server(c, &s);
  REQUIRE(server_next(&s) == CQ_OP_OPTIONS);
  CHECK_EQ(s.hdr.version, 5);
  reply_error(&s, 4, CQ_ERROR_PROTOCOL,
              "Invalid or unsupported protocol version (5); supported versions are (3/v3, 4/v4)");
  to_client(&s, c, 0, 0);
  cq_conn_event ev;
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  CHECK_EQ(ev.kind, CQ_CONN_EV_CLOSED);
  CHECK_EQ(ev.status, CQ_ERR_VERSION);
  CHECK_EQ(ev.suggested_version, 4);
  CHECK(strstr(ev.text, "retry with v4") != NULL);
  CHECK_EQ(cq_conn_get_state(c), CQ_CONN_CLOSED);
  CHECK_EQ(cq_conn_next_event(c, &ev), 0);
  cq_conn_free(c);
  server_free(&s);
}

TEST(refusal_in_the_same_version_steps_down_and_a_pinned_version_never_does) {
  for (int pinned = 0; pinned <= 1; pinned++) {
    server s;
    server_init(&s, 4);
    cq_conn_config cfg = {.version = pinned ? 4 : 0};
    cq_conn *c = cq_conn_new(&cfg);
    cq_conn_start(c, 0);
    to_server(c, &s);
    REQUIRE(server_next(&s) == CQ_OP_OPTIONS);
    int sent = s.hdr.version;
    reply_error(&s, sent, CQ_ERROR_PROTOCOL, "Invalid or unsupported protocol version");
    to_client(&s, c, 0, 0);
    cq_conn_event ev;
    REQUIRE(cq_conn_next_event(c, &ev) == 1);
    CHECK_EQ(ev.status, CQ_ERR_VERSION);
    CHECK_EQ(ev.suggested_version, pinned ? 0 : sent - 1);
    if (pinned) CHECK(strstr(ev.text, "pinned") != NULL);
    cq_conn_free(c);
    server_free(&s);
  }
}

TEST(sasl_exchange_is_pulled_by_the_host) {
  server s;
  server_init(&s, 4);
  cq_conn_config cfg = {.version = 4};
  cq_conn *c = cq_conn_new(&cfg);
  through_startup(c, &s, 0);
  cq_response r = {.opcode = CQ_OP_AUTHENTICATE};
  r.u.authenticator = S("org.apache.cassandra.auth.PasswordAuthenticator");
  server_reply(&s, &r);
  to_client(&s, c, 0, 0);
  cq_conn_event ev;
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  CHECK_EQ(ev.kind, CQ_CONN_EV_AUTHENTICATE);
  CHECK_STR(ev.text, "org.apache.cassandra.auth.PasswordAuthenticator");
  CHECK_EQ(cq_conn_get_state(c), CQ_CONN_AUTH_WAIT);
  CHECK_EQ(cq_conn_auth_response(c, "\0u\0p", 4), CQ_OK);
  CHECK_EQ(cq_conn_auth_response(c, "x", 1), CQ_ERR_STATE); /* not asked again yet */
  to_server(c, &s);
  REQUIRE(server_next(&s) == CQ_OP_AUTH_RESPONSE);
  CHECK_EQ(s.req.u.auth_token.len, 4);
  CHECK_MEM(s.req.u.auth_token.p, "\0u\0p", 4);
  r = (cq_response){.opcode = CQ_OP_AUTH_CHALLENGE};
  r.u.auth_token = (cq_value){(const uint8_t *)"nonce", 5};
  server_reply(&s, &r);
  to_client(&s, c, 0, 0);
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  CHECK_EQ(ev.kind, CQ_CONN_EV_AUTH_CHALLENGE);
  CHECK_EQ(ev.token.len, 5);
  CHECK_MEM(ev.token.p, "nonce", 5);
  CHECK_EQ(cq_conn_auth_response(c, NULL, -1), CQ_OK);
  to_server(c, &s);
  REQUIRE(server_next(&s) == CQ_OP_AUTH_RESPONSE);
  CHECK_EQ(s.req.u.auth_token.len, -1);
  r = (cq_response){.opcode = CQ_OP_AUTH_SUCCESS};
  r.u.auth_token = (cq_value){NULL, -1};
  server_reply(&s, &r);
  to_client(&s, c, 0, 0);
  cq_conn_event evs[3];
  REQUIRE(drain(c, evs, 3) == 2);
  CHECK_EQ(evs[0].kind, CQ_CONN_EV_AUTH_SUCCESS);
  CHECK_EQ(evs[1].kind, CQ_CONN_EV_READY);
  cq_conn_free(c);
  server_free(&s);
}

TEST(bad_credentials_close_with_the_server_error) {
  server s;
  server_init(&s, 4);
  cq_conn_config cfg = {.version = 4};
  cq_conn *c = cq_conn_new(&cfg);
  through_startup(c, &s, 0);
  cq_response r = {.opcode = CQ_OP_AUTHENTICATE};
  r.u.authenticator = S("PasswordAuthenticator");
  server_reply(&s, &r);
  to_client(&s, c, 0, 0);
  cq_conn_event ev;
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  cq_conn_auth_response(c, "\0u\0bad", 6);
  to_server(c, &s);
  REQUIRE(server_next(&s) == CQ_OP_AUTH_RESPONSE);
  reply_error(&s, 4, CQ_ERROR_BAD_CREDENTIALS, "Provided username u and/or password are incorrect");
  to_client(&s, c, 0, 0);
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  CHECK_EQ(ev.kind, CQ_CONN_EV_CLOSED);
  CHECK_EQ(ev.status, CQ_ERR_SERVER);
  CHECK_EQ(ev.server_error, CQ_ERROR_BAD_CREDENTIALS);
  CHECK(strstr(ev.text, "authentication failed") != NULL);
  CHECK(strstr(ev.text, "password are incorrect") != NULL);
  cq_conn_free(c);
  server_free(&s);
}

TEST(register_and_use_run_before_ready) {
  server s;
  server_init(&s, 4);
  const char *events[] = {"TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"};
  cq_conn_config cfg = {.version = 4, .keyspace = "My\"Ks", .events = events, .nevents = 3};
  cq_conn *c = cq_conn_new(&cfg);
  through_startup(c, &s, 0);
  reply_simple(&s, CQ_OP_READY);
  to_client(&s, c, 0, 0);
  cq_conn_event ev;
  CHECK_EQ(cq_conn_next_event(c, &ev), 0);
  to_server(c, &s);
  REQUIRE(server_next(&s) == CQ_OP_REGISTER);
  CHECK_EQ(s.req.u.reg.nevents, 3);
  CHECK(s.req.u.reg.events[2].len == 13 &&
        memcmp(s.req.u.reg.events[2].p, "SCHEMA_CHANGE", 13) == 0);
  reply_simple(&s, CQ_OP_READY);
  to_client(&s, c, 0, 0);
  CHECK_EQ(cq_conn_next_event(c, &ev), 0);
  to_server(c, &s);
  REQUIRE(server_next(&s) == CQ_OP_QUERY);
  const char *want = "USE \"My\"\"Ks\"";
  CHECK(s.req.u.query.query.len == strlen(want) &&
        memcmp(s.req.u.query.query.p, want, strlen(want)) == 0);
  cq_response r = {.opcode = CQ_OP_RESULT};
  r.u.result.kind = CQ_RESULT_SET_KEYSPACE;
  r.u.result.keyspace = S("My\"Ks");
  server_reply(&s, &r);
  /* An event pushed right behind the answer is handed out after READY. */
  cq_response e = {.opcode = CQ_OP_EVENT};
  e.u.event.type = S("STATUS_CHANGE");
  e.u.event.change = S("DOWN");
  e.u.event.node.addr.len = 4;
  memcpy(e.u.event.node.addr.addr, "\x7f\0\0\x02", 4);
  e.u.event.node.port = 9042;
  server_reply_v(&s, 4, -1, &e);
  to_client(&s, c, 0, 0);
  cq_conn_event evs[3];
  REQUIRE(drain(c, evs, 3) == 2);
  CHECK_EQ(evs[0].kind, CQ_CONN_EV_READY);
  CHECK_EQ(evs[1].kind, CQ_CONN_EV_SERVER_EVENT);
  CHECK_EQ(evs[1].frame.header.stream, -1);
  cq_conn_free(c);
  server_free(&s);
}

TEST(use_of_a_missing_keyspace_closes_with_its_message) {
  server s;
  server_init(&s, 4);
  cq_conn_config cfg = {.version = 4, .keyspace = "nope"};
  cq_conn *c = cq_conn_new(&cfg);
  through_startup(c, &s, 0);
  reply_simple(&s, CQ_OP_READY);
  to_client(&s, c, 0, 0);
  cq_conn_event ev;
  CHECK_EQ(cq_conn_next_event(c, &ev), 0);
  to_server(c, &s);
  REQUIRE(server_next(&s) == CQ_OP_QUERY);
  reply_error(&s, 4, CQ_ERROR_INVALID, "Keyspace 'nope' does not exist");
  to_client(&s, c, 0, 0);
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  CHECK_EQ(ev.kind, CQ_CONN_EV_CLOSED);
  CHECK_EQ(ev.server_error, CQ_ERROR_INVALID);
  CHECK(strstr(ev.text, "USE failed") && strstr(ev.text, "does not exist"));
  cq_conn_free(c);
  server_free(&s);
}

TEST(timed_out_stream_stays_reserved_until_its_late_answer) {
  server s;
  server_init(&s, 4);
  cq_conn *c = ready_conn(&s, 4, 0);
  CHECK_EQ(send_query(c, "SELECT 1", 1, 1500), CQ_OK);
  CHECK_EQ(send_query(c, "SELECT 2", 2, 3000), CQ_OK);
  CHECK_EQ(cq_conn_next_deadline(c), 1500);
  CHECK_EQ(cq_conn_tick(c, 1499), CQ_OK);
  cq_conn_event ev;
  CHECK_EQ(cq_conn_next_event(c, &ev), 0);
  CHECK_EQ(cq_conn_tick(c, 1500), CQ_OK);
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  CHECK_EQ(ev.kind, CQ_CONN_EV_FAILED);
  CHECK_EQ(ev.status, CQ_ERR_TIMEOUT);
  CHECK_EQ(ev.user_id, 1);
  CHECK_EQ(cq_conn_in_flight(c), 1);
  CHECK_EQ(cq_conn_streams_held(c), 2);
  CHECK_EQ(cq_conn_next_deadline(c), 3000);
  /* A new request must not get the timed-out stream. */
  to_server(c, &s);
  REQUIRE(server_next(&s) == CQ_OP_QUERY);
  int16_t late_stream = s.hdr.stream;
  int16_t fresh;
  cq_request req = {.opcode = CQ_OP_QUERY};
  req.u.query.query = S("SELECT 3");
  CHECK_EQ(cq_conn_send_request(c, &req, 0, 3, 0, &fresh), CQ_OK);
  CHECK(fresh != late_stream);
  /* The late answer is dropped silently and frees its stream. */
  cq_response r = {.opcode = CQ_OP_RESULT};
  r.u.result.kind = CQ_RESULT_VOID;
  server_reply_v(&s, 4, late_stream, &r);
  to_client(&s, c, 0, 1600);
  CHECK_EQ(cq_conn_next_event(c, &ev), 0);
  CHECK_EQ(cq_conn_streams_held(c), 2);
  CHECK_EQ(cq_conn_get_state(c), CQ_CONN_READY);
  cq_conn_free(c);
  server_free(&s);
}

TEST(all_32768_streams_then_busy) {
  server s;
  server_init(&s, 4);
  cq_conn *c = ready_conn(&s, 4, 0);
  int ok = 1;
  for (uint32_t i = 0; i < CQ_MAX_STREAMS && ok; i++)
    ok = cq_conn_send(c, CQ_OP_OPTIONS, 0, NULL, 0, i, 0, NULL) == CQ_OK;
  CHECK(ok);
  CHECK_EQ(cq_conn_in_flight(c), CQ_MAX_STREAMS);
  CHECK_EQ(cq_conn_send(c, CQ_OP_OPTIONS, 0, NULL, 0, 99999, 0, NULL), CQ_ERR_BUSY);
  /* Closing fails every one of them, then reports CLOSED. */
  cq_conn_close(c, "shutdown");
  cq_conn_event ev;
  uint32_t failed = 0;
  int closed = 0;
  while (cq_conn_next_event(c, &ev) == 1) {
    if (ev.kind == CQ_CONN_EV_FAILED && ev.status == CQ_ERR_CLOSED) failed++;
    if (ev.kind == CQ_CONN_EV_CLOSED) closed++;
  }
  CHECK_EQ(failed, CQ_MAX_STREAMS);
  CHECK_EQ(closed, 1);
  CHECK_EQ(send_query(c, "x", 1, 0), CQ_ERR_CLOSED);
  cq_conn_free(c);
  server_free(&s);
}

TEST(answer_on_an_unknown_stream_closes_and_fails_in_flight) {
  server s;
  server_init(&s, 4);
  cq_conn *c = ready_conn(&s, 4, 0);
  CHECK_EQ(send_query(c, "SELECT 1", 42, 0), CQ_OK);
  cq_response r = {.opcode = CQ_OP_RESULT};
  r.u.result.kind = CQ_RESULT_VOID;
  server_reply_v(&s, 4, 1234, &r);
  to_client(&s, c, 0, 0);
  cq_conn_event ev[3];
  REQUIRE(drain(c, ev, 3) == 2);
  CHECK_EQ(ev[0].kind, CQ_CONN_EV_FAILED);
  CHECK_EQ(ev[0].user_id, 42);
  CHECK(strstr(ev[0].text, "stream 1234") != NULL);
  CHECK_EQ(ev[1].kind, CQ_CONN_EV_CLOSED);
  CHECK_EQ(ev[1].status, CQ_ERR_MALFORMED);
  cq_conn_free(c);
  server_free(&s);
}

TEST(garbage_closes_with_a_reason_and_never_crashes) {
  for (int v = 3; v <= 5; v++) {
    server s;
    server_init(&s, v);
    cq_conn *c = ready_conn(&s, v, 0);
    CHECK_EQ(send_query(c, "SELECT 1", 1, 0), CQ_OK);
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof junk; i++)
      junk[i] = (uint8_t)unit_rand();
    junk[0] = 0x42; /* never a valid version byte */
    cq_conn_feed(c, junk, sizeof junk, 0);
    cq_conn_event ev[3];
    REQUIRE(drain(c, ev, 3) == 2);
    CHECK_EQ(ev[0].kind, CQ_CONN_EV_FAILED);
    CHECK_EQ(ev[1].kind, CQ_CONN_EV_CLOSED);
    CHECK(strstr(ev[1].text, "bad input from the server") != NULL);
    CHECK_EQ(cq_conn_feed(c, junk, 1, 0), CQ_ERR_CLOSED);
    cq_conn_free(c);
    server_free(&s);
  }
}

TEST(heartbeat_when_idle_and_close_when_unanswered) {
  server s;
  server_init(&s, 4);
  cq_conn_config cfg = {.version = 4, .heartbeat_interval_ms = 30000, .heartbeat_timeout_ms = 5000};
  cq_conn *c = cq_conn_new(&cfg);
  through_startup(c, &s, 0);
  reply_simple(&s, CQ_OP_READY);
  to_client(&s, c, 0, 0);
  cq_conn_event ev;
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  CHECK_EQ(cq_conn_next_deadline(c), 30000);
  cq_conn_tick(c, 29999);
  size_t n;
  CHECK(cq_conn_output(c, &n) == NULL);
  cq_conn_tick(c, 30000);
  to_server(c, &s);
  REQUIRE(server_next(&s) == CQ_OP_OPTIONS);
  /* Answered: nothing happens, the next one is due an interval later. */
  reply_supported(&s);
  to_client(&s, c, 0, 31000);
  CHECK_EQ(cq_conn_next_event(c, &ev), 0);
  CHECK_EQ(cq_conn_next_deadline(c), 61000);
  cq_conn_tick(c, 61000);
  to_server(c, &s);
  REQUIRE(server_next(&s) == CQ_OP_OPTIONS);
  CHECK_EQ(cq_conn_next_deadline(c), 66000);
  CHECK_EQ(cq_conn_tick(c, 66000), CQ_ERR_CLOSED);
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  CHECK_EQ(ev.kind, CQ_CONN_EV_CLOSED);
  CHECK_EQ(ev.status, CQ_ERR_TIMEOUT);
  CHECK(strstr(ev.text, "heartbeat") != NULL);
  cq_conn_free(c);
  server_free(&s);
}

TEST(handshake_deadline_and_eof) {
  cq_conn_config cfg = {.version = 4, .handshake_timeout_ms = 5000};
  cq_conn *c = cq_conn_new(&cfg);
  cq_conn_start(c, 100);
  CHECK_EQ(cq_conn_next_deadline(c), 5100);
  CHECK_EQ(cq_conn_tick(c, 5100), CQ_ERR_CLOSED);
  cq_conn_event ev;
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  CHECK_EQ(ev.status, CQ_ERR_TIMEOUT);
  CHECK(strstr(ev.text, "handshake") != NULL);
  cq_conn_free(c);

  c = cq_conn_new(&cfg);
  cq_conn_start(c, 0);
  cq_conn_eof(c, NULL);
  REQUIRE(cq_conn_next_event(c, &ev) == 1);
  CHECK_EQ(ev.status, CQ_ERR_CLOSED);
  CHECK(strstr(ev.text, "during the handshake") != NULL);
  cq_conn_free(c);
}

TEST(invalid_configs_are_refused) {
  cq_conn_config cfg = {.version = 2};
  CHECK(cq_conn_new(&cfg) == NULL);
  cfg.version = 6;
  CHECK(cq_conn_new(&cfg) == NULL);
  CHECK(cq_conn_new(NULL) == NULL);
}

UNIT_MAIN()
