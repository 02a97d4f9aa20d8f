/* libFuzzer target: the connection state machine fed arbitrary server
 * bytes, in arbitrary chunks, interleaved with sends and clock ticks.
 * Optionally a valid handshake (SUPPORTED, READY) comes first, so the
 * fuzzer also reaches the READY state, and v5 segment framing.
 *
 * Input: byte 0 = config (version, lz4, prefix handshake), then chunks of
 * [len byte][len bytes]; a zero length byte means "tick and send". */
#include <stdint.h>
#include <string.h>

#include "conn.h"
#include "frame.h"

static void drain(cq_conn *c) {
  cq_conn_event ev;
  int guard = 0;
  while (cq_conn_next_event(c, &ev) == 1 && guard++ < 100000) {
    if (ev.kind == CQ_CONN_EV_AUTHENTICATE || ev.kind == CQ_CONN_EV_AUTH_CHALLENGE)
      cq_conn_auth_response(c, "\0u\0p", 4);
    if (ev.text) (void)strlen(ev.text); /* the text must be a valid string */
    if (ev.kind == CQ_CONN_EV_RESPONSE || ev.kind == CQ_CONN_EV_SERVER_EVENT)
      for (size_t i = 0; i < ev.frame.body_len; i++)
        (void)ev.frame.body[i];
  }
  size_t n;
  const uint8_t *p = cq_conn_output(c, &n);
  if (p) cq_conn_consumed(c, n);
}

/* A bare v3/v4/v5 frame (the handshake answers are never segmented). */
static void feed_frame(cq_conn *c, int version, int16_t stream, int opcode, const void *body,
                       size_t n) {
  uint8_t h[9];
  cq_frame_header fh = {.version = (uint8_t)version,
                        .response = 1,
                        .stream = stream,
                        .opcode = (uint8_t)opcode,
                        .length = (uint32_t)n};
  cq_frame_header_encode(h, &fh);
  cq_conn_feed(c, h, sizeof h, 0);
  if (n) cq_conn_feed(c, body, n, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t cfgb = data[0];
  int version = 3 + cfgb % 3;
  cq_conn_config cfg = {.version = (cfgb & 0x08) ? version : 0,
                        .lz4 = (cfgb & 0x10) != 0,
                        .heartbeat_interval_ms = 50,
                        .heartbeat_timeout_ms = 20};
  if (cfgb & 0x40) cfg.keyspace = "ks";
  cq_conn *c = cq_conn_new(&cfg);
  if (!c) return 0;
  int64_t now = 0;
  cq_conn_start(c, now);
  drain(c);
  if (cfgb & 0x20) {
    /* SUPPORTED (empty multimap) to OPTIONS on stream 0, READY to STARTUP. */
    static const uint8_t supported[] = {0, 0};
    int v = cfg.version ? cfg.version : 5;
    feed_frame(c, v, 0, CQ_OP_SUPPORTED, supported, sizeof supported);
    drain(c);
    feed_frame(c, v, 1, CQ_OP_READY, NULL, 0);
    drain(c);
  }
  size_t i = 1;
  uint64_t uid = 1;
  while (i < size) {
    size_t n = data[i++];
    if (n == 0) {
      now += 17;
      cq_conn_tick(c, now);
      static const uint8_t body[] = {0, 0, 0, 1, 'x', 0, 1, 0};
      cq_conn_send(c, CQ_OP_QUERY, 0, body, sizeof body, uid++, now + 30, NULL);
    } else {
      if (n > size - i) n = size - i;
      cq_conn_feed(c, data + i, n, now);
      i += n;
    }
    drain(c);
  }
  cq_conn_eof(c, NULL);
  drain(c);
  cq_conn_free(c);
  return 0;
}
