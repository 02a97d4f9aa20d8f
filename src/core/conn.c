#include "conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cqlua.h"
#include "segment.h"

enum { SLOT_FREE = 0, SLOT_ACTIVE, SLOT_TIMED_OUT, SLOT_INTERNAL };

/* What an internal request was for, so its answer drives the handshake. */
enum { K_NONE = 0, K_OPTIONS, K_STARTUP, K_AUTH, K_REGISTER, K_USE, K_HEARTBEAT };

typedef struct slot {
  uint64_t user_id;
  int64_t deadline; /* 0: none */
  int32_t heap_pos; /* index in the deadline heap, -1 when not in it */
  uint8_t state;
  uint8_t kind; /* K_* for SLOT_INTERNAL */
} slot;

/* An event made by the connection itself (no frame behind it). */
typedef struct queued_event {
  cq_conn_event_kind kind;
  int status;
  uint64_t user_id;
  char *text; /* malloc'd, owned by the queue until handed out */
  int32_t server_error;
  int suggested_version;
} queued_event;

struct cq_conn {
  /* Settings, with every string owned by the connection. */
  int pinned;
  int want_lz4;
  char *cql_version, *driver_name, *driver_version, *keyspace;
  char **events;
  uint16_t nevents;
  uint32_t max_body;
  int64_t handshake_timeout, hb_interval, hb_timeout;

  cq_conn_state state;
  int version;
  int lz4;    /* agreed with the server */
  int framed; /* v5 segment layer active */

  cq_frame_writer fw;
  cq_frame_reader fr;
  cq_segment_encoder se;
  cq_segment_decoder sd;
  cq_buf out;     /* bytes for the socket */
  size_t out_pos; /* prefix of out already written */
  cq_buf frames;  /* v5 framed mode: whole frames awaiting segmentation */
  cq_arena arena; /* decoding of the connection's own answers, reset per frame */

  slot *slots;  /* one per stream id below next_unused */
  uint32_t cap; /* slots / free_ids / heap capacity */
  uint32_t next_unused;
  int16_t *free_ids; /* released stream ids, reused last-in first-out */
  uint32_t nfree;
  int16_t *heap; /* stream ids with a deadline, min-heap on deadline */
  uint32_t heap_len;
  uint32_t in_flight, held;

  queued_event *queue; /* FIFO of events made by the connection */
  uint32_t qhead, qlen, qcap;
  char *event_text; /* text of the event last handed out; freed on the next call */

  int64_t now, last_read, handshake_deadline;
  int heartbeat_pending;
  int closed_reported;

  char *supported; /* "KEY=v1,v2\nKEY2=..." from SUPPORTED */
  char supported_value[256];
};

/* ---- small helpers -------------------------------------------------------------- */

static char *dup_or(const char *s, const char *fallback) {
  if (!s) s = fallback;
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static char *vformat(const char *fmt, va_list ap) {
  char tmp[512];
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  return dup_or(tmp, NULL);
}

static cq_str cstr(const char *s) { return (cq_str){s, s ? strlen(s) : 0}; }

static void clear_event_text(cq_conn *c) {
  free(c->event_text);
  c->event_text = NULL;
}

/* Queues an event the connection made; text may be NULL. On allocation
 * failure the event is still queued, with an empty text. */
static void enqueue(cq_conn *c, queued_event ev) {
  if (c->qlen == c->qcap) {
    uint32_t ncap = c->qcap ? c->qcap * 2 : 16;
    queued_event *q = malloc(ncap * sizeof *q);
    if (!q) {
      free(ev.text);
      return; /* out of memory: drop, the CLOSED path still reports */
    }
    for (uint32_t i = 0; i < c->qlen; i++)
      q[i] = c->queue[(c->qhead + i) % c->qcap];
    free(c->queue);
    c->queue = q;
    c->qcap = ncap;
    c->qhead = 0;
  }
  c->queue[(c->qhead + c->qlen) % c->qcap] = ev;
  c->qlen++;
}

/* ---- stream ids and deadlines ------------------------------------------------- */

static int grow_slots(cq_conn *c) {
  uint32_t ncap = c->cap ? c->cap * 2 : 64;
  if (ncap > CQ_MAX_STREAMS) ncap = CQ_MAX_STREAMS;
  slot *s = realloc(c->slots, ncap * sizeof *s);
  if (!s) return CQ_ERR_NOMEM;
  c->slots = s;
  int16_t *f = realloc(c->free_ids, ncap * sizeof *f);
  if (!f) return CQ_ERR_NOMEM;
  c->free_ids = f;
  int16_t *h = realloc(c->heap, ncap * sizeof *h);
  if (!h) return CQ_ERR_NOMEM;
  c->heap = h;
  c->cap = ncap;
  return CQ_OK;
}

static int64_t deadline_of(const cq_conn *c, uint32_t heap_index) {
  return c->slots[c->heap[heap_index]].deadline;
}

static void heap_swap(cq_conn *c, uint32_t a, uint32_t b) {
  int16_t t = c->heap[a];
  c->heap[a] = c->heap[b];
  c->heap[b] = t;
  c->slots[c->heap[a]].heap_pos = (int32_t)a;
  c->slots[c->heap[b]].heap_pos = (int32_t)b;
}

static void heap_up(cq_conn *c, uint32_t i) {
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (deadline_of(c, parent) <= deadline_of(c, i)) break;
    heap_swap(c, i, parent);
    i = parent;
  }
}

static void heap_down(cq_conn *c, uint32_t i) {
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < c->heap_len && deadline_of(c, l) < deadline_of(c, m)) m = l;
    if (r < c->heap_len && deadline_of(c, r) < deadline_of(c, m)) m = r;
    if (m == i) return;
    heap_swap(c, i, m);
    i = m;
  }
}

static void heap_push(cq_conn *c, int16_t stream) {
  c->heap[c->heap_len] = stream;
  c->slots[stream].heap_pos = (int32_t)c->heap_len;
  c->heap_len++;
  heap_up(c, c->heap_len - 1);
}

static void heap_remove(cq_conn *c, int16_t stream) {
  int32_t pos = c->slots[stream].heap_pos;
  if (pos < 0) return;
  c->slots[stream].heap_pos = -1;
  uint32_t last = --c->heap_len;
  if ((uint32_t)pos == last) return;
  c->heap[pos] = c->heap[last];
  c->slots[c->heap[pos]].heap_pos = pos;
  heap_down(c, (uint32_t)pos);
  heap_up(c, (uint32_t)pos);
}

/* Takes a stream id for a request; CQ_ERR_BUSY when all are held. */
static int alloc_stream(cq_conn *c, uint8_t state, uint8_t kind, uint64_t user_id, int64_t deadline,
                        int16_t *out) {
  int16_t id;
  if (c->nfree > 0) {
    id = c->free_ids[--c->nfree];
  } else if (c->next_unused < CQ_MAX_STREAMS) {
    if (c->next_unused == c->cap && grow_slots(c) < 0) return CQ_ERR_NOMEM;
    id = (int16_t)c->next_unused++;
  } else {
    return CQ_ERR_BUSY;
  }
  slot *s = &c->slots[id];
  s->state = state;
  s->kind = kind;
  s->user_id = user_id;
  s->deadline = deadline;
  s->heap_pos = -1;
  if (deadline > 0) heap_push(c, id);
  c->held++;
  if (state == SLOT_ACTIVE) c->in_flight++;
  *out = id;
  return CQ_OK;
}

static void release_stream(cq_conn *c, int16_t id) {
  slot *s = &c->slots[id];
  heap_remove(c, id);
  if (s->state == SLOT_ACTIVE) c->in_flight--;
  s->state = SLOT_FREE;
  c->held--;
  c->free_ids[c->nfree++] = id;
}

/* ---- closing ------------------------------------------------------------------ */

/* Closes the connection: every request in flight fails, then CLOSED. */
static void defunct_ex(cq_conn *c, int status, int32_t server_error, int suggested, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));
static void defunct_ex(cq_conn *c, int status, int32_t server_error, int suggested, const char *fmt,
                       ...) {
  if (c->state == CQ_CONN_CLOSED) return;
  va_list ap;
  va_start(ap, fmt);
  char *reason = vformat(fmt, ap);
  va_end(ap);
  c->state = CQ_CONN_CLOSED;
  for (uint32_t id = 0; id < c->next_unused; id++) {
    if (c->slots[id].state != SLOT_ACTIVE) continue;
    char msg[320];
    snprintf(msg, sizeof msg, "connection closed: %s", reason ? reason : "");
    enqueue(c, (queued_event){CQ_CONN_EV_FAILED, CQ_ERR_CLOSED, c->slots[id].user_id,
                              dup_or(msg, NULL), 0, 0});
    release_stream(c, (int16_t)id);
  }
  enqueue(c, (queued_event){CQ_CONN_EV_CLOSED, status, 0, reason, server_error, suggested});
  c->heap_len = 0;
}

#define defunct(c, status, ...) defunct_ex((c), (status), 0, 0, __VA_ARGS__)

/* ---- writing frames ------------------------------------------------------------- */

/* Where frames go: the segment staging buffer on a framed v5 connection,
 * else straight to the output. */
static cq_buf *frame_target(cq_conn *c) { return c->framed ? &c->frames : &c->out; }

static int queue_raw(cq_conn *c, int opcode, int flags, int16_t stream, const void *body,
                     size_t n) {
  cq_frame_header h = {.version = (uint8_t)c->version,
                       .flags = (uint8_t)flags,
                       .stream = stream,
                       .opcode = (uint8_t)opcode};
  return cq_frame_write(&c->fw, frame_target(c), &h, body, n);
}

static int queue_request(cq_conn *c, const cq_request *req, int flags, int16_t stream) {
  cq_buf *b = frame_target(c);
  cq_frame_header h = {.version = (uint8_t)c->version,
                       .flags = (uint8_t)flags,
                       .stream = stream,
                       .opcode = (uint8_t)req->opcode};
  size_t start = cq_frame_begin(&c->fw, b, &h);
  if (b->err) return b->err;
  int rc = cq_request_encode(b, c->version, flags, req);
  if (rc < 0) {
    b->len = start;
    b->err = 0;
    return rc;
  }
  return cq_frame_end(&c->fw, b, start);
}

/* Sends one of the connection's own requests. */
static int send_internal(cq_conn *c, int kind, const cq_request *req, int64_t deadline) {
  int16_t stream;
  int rc = alloc_stream(c, SLOT_INTERNAL, (uint8_t)kind, 0, deadline, &stream);
  if (rc < 0) return rc;
  rc = queue_request(c, req, 0, stream);
  if (rc < 0) release_stream(c, stream);
  return rc;
}

static int send_options(cq_conn *c, int kind, int64_t deadline) {
  cq_request req = {.opcode = CQ_OP_OPTIONS};
  return send_internal(c, kind, &req, deadline);
}

/* ---- handshake ------------------------------------------------------------------ */

static void become_ready(cq_conn *c) {
  c->state = CQ_CONN_READY;
  c->handshake_deadline = 0;
  c->fr.version = (uint8_t)c->version; /* from now on only our version is legal */
  enqueue(c, (queued_event){CQ_CONN_EV_READY, 0, 0, NULL, 0, 0});
}

static void send_use(cq_conn *c) {
  /* The keyspace name is sent quoted so that case and odd characters
   * survive; embedded quotes are doubled. */
  size_t n = strlen(c->keyspace);
  char *q = malloc(2 * n + 8);
  if (!q) {
    defunct(c, CQ_ERR_NOMEM, "out of memory");
    return;
  }
  char *p = q;
  memcpy(p, "USE \"", 5);
  p += 5;
  for (size_t i = 0; i < n; i++) {
    if (c->keyspace[i] == '"') *p++ = '"';
    *p++ = c->keyspace[i];
  }
  *p++ = '"';
  *p = '\0';
  cq_request req = {.opcode = CQ_OP_QUERY};
  req.u.query.query = cstr(q);
  req.u.query.params.consistency = CQ_CL_ONE;
  int rc = send_internal(c, K_USE, &req, 0);
  free(q);
  if (rc < 0)
    defunct(c, rc, "cannot send USE: %s", cq_status_name(rc));
  else
    c->state = CQ_CONN_USING;
}

/* After STARTUP (and authentication): REGISTER, USE, then READY. */
static void continue_handshake(cq_conn *c) {
  if (c->nevents > 0) {
    cq_str *ev = malloc(c->nevents * sizeof *ev);
    if (!ev) {
      defunct(c, CQ_ERR_NOMEM, "out of memory");
      return;
    }
    for (uint16_t i = 0; i < c->nevents; i++)
      ev[i] = cstr(c->events[i]);
    cq_request req = {.opcode = CQ_OP_REGISTER};
    req.u.reg.events = ev;
    req.u.reg.nevents = c->nevents;
    int rc = send_internal(c, K_REGISTER, &req, 0);
    free(ev);
    if (rc < 0)
      defunct(c, rc, "cannot send REGISTER: %s", cq_status_name(rc));
    else
      c->state = CQ_CONN_REGISTERING;
    return;
  }
  if (c->keyspace) {
    send_use(c);
    return;
  }
  become_ready(c);
}

/* v5: after READY or AUTHENTICATE both sides speak segments. Bytes already
 * received behind that answer belong to the segment layer. */
static void switch_to_segments(cq_conn *c) {
  if (c->version < CQ_PROTOCOL_V5 || c->framed) return;
  c->framed = 1;
  cq_segment_decoder_init(&c->sd, c->lz4);
  c->sd.max_body = c->max_body;
  cq_segment_encoder_init(&c->se, c->lz4);
  c->fw.lz4 = 0; /* compression moves to the segment layer */
  size_t n;
  const uint8_t *rest = cq_frame_reader_pending(&c->fr, &n);
  if (n > 0 && cq_segment_decoder_feed(&c->sd, rest, n) < 0)
    defunct(c, CQ_ERR_NOMEM, "out of memory");
}

/* Records the SUPPORTED map as "KEY=v1,v2\n" lines. */
static void keep_supported(cq_conn *c, const cq_response *r) {
  cq_buf b;
  cq_buf_init(&b);
  for (uint16_t i = 0; i < r->u.supported.n; i++) {
    const cq_multimap_entry *e = &r->u.supported.entries[i];
    cq_buf_put(&b, e->key.p, e->key.len);
    cq_buf_put_u8(&b, '=');
    for (uint16_t j = 0; j < e->nvalues; j++) {
      if (j) cq_buf_put_u8(&b, ',');
      cq_buf_put(&b, e->values[j].p, e->values[j].len);
    }
    cq_buf_put_u8(&b, '\n');
  }
  cq_buf_put_u8(&b, '\0');
  free(c->supported);
  c->supported = b.err ? NULL : (char *)b.data;
  if (b.err) cq_buf_free(&b);
}

static int offers(const char *list, const char *want) {
  size_t n = strlen(want);
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && strncmp(p, want, n) == 0) return 1;
    p = end ? end + 1 : NULL;
  }
  return 0;
}

static void send_startup(cq_conn *c) {
  const char *comp = cq_conn_supported(c, "COMPRESSION");
  c->lz4 = c->want_lz4 && offers(comp, "lz4");
  cq_request req = {.opcode = CQ_OP_STARTUP};
  req.u.startup.cql_version = cstr(c->cql_version);
  req.u.startup.driver_name = cstr(c->driver_name);
  req.u.startup.driver_version = cstr(c->driver_version);
  if (c->lz4) req.u.startup.compression = cstr("lz4");
  int rc = send_internal(c, K_STARTUP, &req, 0);
  if (rc < 0) {
    defunct(c, rc, "cannot send STARTUP: %s", cq_status_name(rc));
    return;
  }
  c->state = CQ_CONN_STARTUP;
  if (c->lz4 && c->version < CQ_PROTOCOL_V5) {
    /* v3/v4: frames after STARTUP may be compressed, both ways. */
    c->fw.lz4 = 1;
    c->fr.lz4 = 1;
  }
}

/* The server refused our version (ERROR 0x000A while negotiating, or an
 * answer in another version). Closes with a suggestion to retry lower. */
static void version_refused(cq_conn *c, int server_version, const char *detail) {
  if (c->pinned) {
    defunct_ex(c, CQ_ERR_VERSION, CQ_ERROR_PROTOCOL, 0,
               "the server refused protocol v%d, which is pinned: %s", c->version, detail);
    return;
  }
  int next = (server_version >= CQ_PROTOCOL_MIN && server_version < c->version) ? server_version
                                                                                : c->version - 1;
  if (next < CQ_PROTOCOL_MIN) {
    defunct_ex(c, CQ_ERR_VERSION, CQ_ERROR_PROTOCOL, 0,
               "the server speaks no protocol version cqlua supports (v3 to v5): %s", detail);
    return;
  }
  defunct_ex(c, CQ_ERR_VERSION, CQ_ERROR_PROTOCOL, next,
             "the server refused protocol v%d (retry with v%d): %s", c->version, next, detail);
}

static int is_handshaking(const cq_conn *c) {
  return c->state > CQ_CONN_NEW && c->state < CQ_CONN_READY;
}

/* Handles the answer to one of the connection's own requests. Returns 1
 * and fills *ev when it produces an event for the host. */
static int handle_internal(cq_conn *c, int kind, const cq_frame *f, cq_conn_event *ev) {
  cq_response r;
  cq_diag diag = {{0}};
  cq_arena_reset(&c->arena);
  int rc = cq_response_decode(&r, f->header.version, f->header.flags, f->header.opcode, f->body,
                              f->body_len, &c->arena, &diag);
  if (rc < 0) {
    defunct(c, CQ_ERR_MALFORMED, "malformed %s answer: %s", cq_opcode_name(f->header.opcode),
            diag.msg);
    return 0;
  }
  if (r.opcode == CQ_OP_ERROR) {
    const cq_error *e = &r.u.error;
    char detail[300];
    snprintf(detail, sizeof detail, "%.*s", (int)e->message.len, e->message.p);
    if (e->code == CQ_ERROR_PROTOCOL && (kind == K_OPTIONS || kind == K_STARTUP) &&
        (f->header.version != c->version || strstr(detail, "protocol version"))) {
      version_refused(c, f->header.version, detail);
      return 0;
    }
    const char *what = kind == K_AUTH       ? "authentication failed"
                       : kind == K_USE      ? "USE failed"
                       : kind == K_REGISTER ? "REGISTER failed"
                       : kind == K_STARTUP  ? "STARTUP failed"
                                            : "OPTIONS failed";
    defunct_ex(c, CQ_ERR_SERVER, e->code, 0, "%s: server error 0x%04x: %s", what, (unsigned)e->code,
               detail);
    return 0;
  }
  if (f->header.version != c->version) {
    defunct(c, CQ_ERR_MALFORMED, "the server answered in protocol v%d on a v%d connection",
            f->header.version, c->version);
    return 0;
  }
  switch (kind) {
  case K_OPTIONS:
  case K_HEARTBEAT:
    if (r.opcode != CQ_OP_SUPPORTED) break;
    if (kind == K_HEARTBEAT) {
      c->heartbeat_pending = 0;
      return 0;
    }
    keep_supported(c, &r);
    send_startup(c);
    return 0;
  case K_STARTUP:
    if (r.opcode == CQ_OP_READY) {
      switch_to_segments(c);
      continue_handshake(c);
      return 0;
    }
    if (r.opcode == CQ_OP_AUTHENTICATE) {
      switch_to_segments(c);
      c->state = CQ_CONN_AUTH_WAIT;
      c->event_text = malloc(r.u.authenticator.len + 1);
      if (c->event_text) {
        memcpy(c->event_text, r.u.authenticator.p, r.u.authenticator.len);
        c->event_text[r.u.authenticator.len] = '\0';
      }
      *ev = (cq_conn_event){.kind = CQ_CONN_EV_AUTHENTICATE,
                            .text = c->event_text ? c->event_text : ""};
      return 1;
    }
    break;
  case K_AUTH:
    if (r.opcode == CQ_OP_AUTH_CHALLENGE) {
      c->state = CQ_CONN_AUTH_WAIT;
      *ev = (cq_conn_event){.kind = CQ_CONN_EV_AUTH_CHALLENGE, .text = "", .token = r.u.auth_token};
      return 1;
    }
    if (r.opcode == CQ_OP_AUTH_SUCCESS) {
      c->state = CQ_CONN_STARTUP; /* neither REGISTERING nor READY yet */
      continue_handshake(c);
      *ev = (cq_conn_event){.kind = CQ_CONN_EV_AUTH_SUCCESS, .text = "", .token = r.u.auth_token};
      return 1;
    }
    break;
  case K_REGISTER:
    if (r.opcode != CQ_OP_READY) break;
    if (c->keyspace)
      send_use(c);
    else
      become_ready(c);
    return 0;
  case K_USE:
    if (r.opcode != CQ_OP_RESULT || r.u.result.kind != CQ_RESULT_SET_KEYSPACE) break;
    become_ready(c);
    return 0;
  default: break;
  }
  defunct(c, CQ_ERR_MALFORMED, "unexpected %s answer during %s", cq_opcode_name(r.opcode),
          kind == K_HEARTBEAT ? "a heartbeat" : "the handshake");
  return 0;
}

/* ---- public API ----------------------------------------------------------------- */

cq_conn *cq_conn_new(const cq_conn_config *cfg) {
  if (!cfg ||
      (cfg->version != 0 && (cfg->version < CQ_PROTOCOL_MIN || cfg->version > CQ_PROTOCOL_MAX)))
    return NULL;
  cq_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->pinned = cfg->version != 0;
  c->version = cfg->version ? cfg->version : CQ_PROTOCOL_MAX;
  c->want_lz4 = cfg->lz4 != 0;
  c->cql_version = dup_or(cfg->cql_version, "3.0.0");
  c->driver_name = dup_or(cfg->driver_name, "cqlua");
  c->driver_version = dup_or(cfg->driver_version, cqlua_version());
  c->keyspace = dup_or(cfg->keyspace, NULL);
  c->max_body = cfg->max_body ? cfg->max_body : CQ_FRAME_MAX_BODY_DEFAULT;
  c->handshake_timeout = cfg->handshake_timeout_ms;
  c->hb_interval = cfg->heartbeat_interval_ms;
  c->hb_timeout = cfg->heartbeat_timeout_ms ? cfg->heartbeat_timeout_ms : 30000;
  int ok = c->cql_version && c->driver_name && c->driver_version && (!cfg->keyspace || c->keyspace);
  if (ok && cfg->nevents) {
    c->events = calloc(cfg->nevents, sizeof *c->events);
    ok = c->events != NULL;
    for (uint16_t i = 0; ok && i < cfg->nevents; i++) {
      c->events[i] = dup_or(cfg->events[i], "");
      ok = c->events[i] != NULL;
      c->nevents = (uint16_t)(i + 1);
    }
  }
  cq_frame_writer_init(&c->fw, c->version, 0);
  c->fw.max_body = c->max_body;
  cq_frame_reader_init(&c->fr, 0, 0);
  c->fr.max_body = c->max_body;
  cq_buf_init(&c->out);
  cq_buf_init(&c->frames);
  cq_arena_init(&c->arena, 1024);
  if (!ok || grow_slots(c) < 0) {
    cq_conn_free(c);
    return NULL;
  }
  return c;
}

void cq_conn_free(cq_conn *c) {
  if (!c) return;
  free(c->cql_version);
  free(c->driver_name);
  free(c->driver_version);
  free(c->keyspace);
  for (uint16_t i = 0; i < c->nevents; i++)
    free(c->events[i]);
  free(c->events);
  cq_frame_writer_free(&c->fw);
  cq_frame_reader_free(&c->fr);
  if (c->framed) {
    cq_segment_encoder_free(&c->se);
    cq_segment_decoder_free(&c->sd);
  }
  cq_buf_free(&c->out);
  cq_buf_free(&c->frames);
  cq_arena_free(&c->arena);
  free(c->slots);
  free(c->free_ids);
  free(c->heap);
  for (uint32_t i = 0; i < c->qlen; i++)
    free(c->queue[(c->qhead + i) % c->qcap].text);
  free(c->queue);
  free(c->event_text);
  free(c->supported);
  free(c);
}

int cq_conn_start(cq_conn *c, int64_t now_ms) {
  if (c->state != CQ_CONN_NEW) return CQ_ERR_STATE;
  c->now = c->last_read = now_ms;
  c->state = CQ_CONN_OPTIONS;
  if (c->handshake_timeout > 0) c->handshake_deadline = now_ms + c->handshake_timeout;
  int rc = send_options(c, K_OPTIONS, 0);
  if (rc < 0) defunct(c, rc, "cannot send OPTIONS: %s", cq_status_name(rc));
  return rc;
}

int cq_conn_feed(cq_conn *c, const void *p, size_t n, int64_t now_ms) {
  clear_event_text(c);
  if (c->state == CQ_CONN_CLOSED) return CQ_ERR_CLOSED;
  c->now = now_ms;
  if (n == 0) return CQ_OK;
  c->last_read = now_ms;
  int rc = c->framed ? cq_segment_decoder_feed(&c->sd, p, n) : cq_frame_reader_feed(&c->fr, p, n);
  /* Decoding errors surface from next_event with their message; only a
   * failure to store the bytes is reported here. */
  if (rc == CQ_ERR_NOMEM) defunct(c, CQ_ERR_NOMEM, "out of memory buffering input");
  return rc == CQ_ERR_NOMEM ? rc : CQ_OK;
}

static int pop_queued(cq_conn *c, cq_conn_event *ev) {
  if (c->qlen == 0) return 0;
  queued_event q = c->queue[c->qhead];
  c->qhead = (c->qhead + 1) % c->qcap;
  c->qlen--;
  c->event_text = q.text;
  *ev = (cq_conn_event){.kind = q.kind,
                        .status = q.status,
                        .user_id = q.user_id,
                        .text = q.text ? q.text : "",
                        .server_error = q.server_error,
                        .suggested_version = q.suggested_version};
  if (q.kind == CQ_CONN_EV_CLOSED) c->closed_reported = 1;
  return 1;
}

int cq_conn_next_event(cq_conn *c, cq_conn_event *ev) {
  clear_event_text(c);
  for (;;) {
    if (pop_queued(c, ev)) return 1;
    if (c->state == CQ_CONN_CLOSED || c->state == CQ_CONN_NEW) return 0;
    cq_frame f;
    int rc = c->framed ? cq_segment_decoder_next(&c->sd, &f) : cq_frame_reader_next(&c->fr, &f);
    if (rc == 0) return 0;
    if (rc < 0) {
      const char *why =
          c->framed ? cq_segment_decoder_error(&c->sd) : cq_frame_reader_error(&c->fr);
      if (rc == CQ_ERR_UNSUPPORTED && is_handshaking(c))
        version_refused(c, 0, why);
      else
        defunct(c, rc, "bad input from the server: %s", why);
      continue;
    }
    int16_t stream = f.header.stream;
    if (stream == -1 && f.header.opcode == CQ_OP_EVENT) {
      *ev = (cq_conn_event){.kind = CQ_CONN_EV_SERVER_EVENT, .text = "", .frame = f};
      return 1;
    }
    if (stream < 0 || (uint32_t)stream >= c->next_unused || c->slots[stream].state == SLOT_FREE) {
      defunct(c, CQ_ERR_MALFORMED, "the server answered on stream %d, which has no request",
              stream);
      continue;
    }
    slot s = c->slots[stream];
    release_stream(c, stream);
    if (s.state == SLOT_TIMED_OUT) continue; /* already reported; a late answer */
    if (s.state == SLOT_ACTIVE) {
      *ev = (cq_conn_event){
          .kind = CQ_CONN_EV_RESPONSE, .user_id = s.user_id, .text = "", .frame = f};
      return 1;
    }
    if (handle_internal(c, s.kind, &f, ev)) return 1;
  }
}

const uint8_t *cq_conn_output(cq_conn *c, size_t *n) {
  clear_event_text(c);
  if (c->framed && c->frames.len > 0) {
    int rc = cq_segment_encode_frames(&c->se, &c->out, c->frames.data, c->frames.len);
    cq_buf_reset(&c->frames);
    if (rc < 0) defunct(c, rc, "cannot build v5 segments: %s", cq_status_name(rc));
  }
  *n = c->out.len - c->out_pos;
  return *n ? c->out.data + c->out_pos : NULL;
}

void cq_conn_consumed(cq_conn *c, size_t n) {
  size_t left = c->out.len - c->out_pos;
  if (n > left) n = left;
  c->out_pos += n;
  if (c->out_pos == c->out.len) {
    cq_buf_reset(&c->out);
    c->out_pos = 0;
  } else if (c->out_pos > 65536 && c->out_pos > c->out.len / 2) {
    /* Compact so a slow socket does not make the buffer grow forever. */
    memmove(c->out.data, c->out.data + c->out_pos, c->out.len - c->out_pos);
    c->out.len -= c->out_pos;
    c->out_pos = 0;
  }
}

int cq_conn_tick(cq_conn *c, int64_t now_ms) {
  clear_event_text(c);
  if (c->state == CQ_CONN_CLOSED) return CQ_ERR_CLOSED;
  c->now = now_ms;
  if (is_handshaking(c) && c->handshake_deadline && now_ms >= c->handshake_deadline) {
    defunct(c, CQ_ERR_TIMEOUT, "the handshake did not complete within %lld ms",
            (long long)c->handshake_timeout);
    return CQ_ERR_CLOSED;
  }
  while (c->heap_len > 0 && deadline_of(c, 0) <= now_ms) {
    int16_t id = c->heap[0];
    slot *s = &c->slots[id];
    heap_remove(c, id);
    if (s->state == SLOT_INTERNAL) {
      defunct(c, CQ_ERR_TIMEOUT, "no answer to a heartbeat within %lld ms",
              (long long)c->hb_timeout);
      return CQ_ERR_CLOSED;
    }
    if (s->state == SLOT_ACTIVE) {
      /* Keep the stream id until the server answers: see conn.h. */
      s->state = SLOT_TIMED_OUT;
      c->in_flight--;
      char msg[96];
      snprintf(msg, sizeof msg, "no answer within the request deadline (stream %d)", id);
      enqueue(c, (queued_event){CQ_CONN_EV_FAILED, CQ_ERR_TIMEOUT, s->user_id, dup_or(msg, NULL), 0,
                                0});
    }
  }
  if (c->state == CQ_CONN_READY && c->hb_interval > 0 && !c->heartbeat_pending &&
      now_ms - c->last_read >= c->hb_interval) {
    int rc = send_options(c, K_HEARTBEAT, now_ms + c->hb_timeout);
    if (rc == CQ_OK)
      c->heartbeat_pending = 1;
    else if (rc != CQ_ERR_BUSY)
      defunct(c, rc, "cannot send a heartbeat: %s", cq_status_name(rc));
  }
  return c->state == CQ_CONN_CLOSED ? CQ_ERR_CLOSED : CQ_OK;
}

int64_t cq_conn_next_deadline(const cq_conn *c) {
  if (c->state == CQ_CONN_CLOSED || c->state == CQ_CONN_NEW) return INT64_MAX;
  int64_t next = INT64_MAX;
  if (c->heap_len > 0) next = deadline_of(c, 0);
  if (is_handshaking(c) && c->handshake_deadline && c->handshake_deadline < next)
    next = c->handshake_deadline;
  if (c->state == CQ_CONN_READY && c->hb_interval > 0 && !c->heartbeat_pending &&
      c->last_read + c->hb_interval < next)
    next = c->last_read + c->hb_interval;
  return next;
}

static int check_sendable(cq_conn *c) {
  clear_event_text(c);
  if (c->state == CQ_CONN_CLOSED) return CQ_ERR_CLOSED;
  if (c->state != CQ_CONN_READY) return CQ_ERR_STATE;
  return CQ_OK;
}

int cq_conn_send(cq_conn *c, int opcode, int flags, const void *body, size_t n, uint64_t user_id,
                 int64_t deadline_ms, int16_t *stream) {
  int rc = check_sendable(c);
  if (rc < 0) return rc;
  if (n > c->max_body) return CQ_ERR_TOO_LARGE;
  int16_t id;
  rc = alloc_stream(c, SLOT_ACTIVE, K_NONE, user_id, deadline_ms, &id);
  if (rc < 0) return rc;
  rc = queue_raw(c, opcode, flags, id, body, n);
  if (rc < 0) {
    release_stream(c, id);
    return rc;
  }
  if (stream) *stream = id;
  return CQ_OK;
}

int cq_conn_send_request(cq_conn *c, const cq_request *req, int flags, uint64_t user_id,
                         int64_t deadline_ms, int16_t *stream) {
  int rc = check_sendable(c);
  if (rc < 0) return rc;
  int16_t id;
  rc = alloc_stream(c, SLOT_ACTIVE, K_NONE, user_id, deadline_ms, &id);
  if (rc < 0) return rc;
  rc = queue_request(c, req, flags, id);
  if (rc < 0) {
    release_stream(c, id);
    return rc;
  }
  if (stream) *stream = id;
  return CQ_OK;
}

int cq_conn_auth_response(cq_conn *c, const void *token, int32_t len) {
  clear_event_text(c);
  if (c->state != CQ_CONN_AUTH_WAIT)
    return c->state == CQ_CONN_CLOSED ? CQ_ERR_CLOSED : CQ_ERR_STATE;
  if (len < -1 || (len > 0 && !token)) return CQ_ERR_INVALID;
  cq_request req = {.opcode = CQ_OP_AUTH_RESPONSE};
  req.u.auth_token = (cq_value){len < 0 ? NULL : token, len};
  int rc = send_internal(c, K_AUTH, &req, 0);
  if (rc < 0) return rc;
  c->state = CQ_CONN_AUTH_SENT;
  return CQ_OK;
}

void cq_conn_eof(cq_conn *c, const char *reason) {
  clear_event_text(c);
  if (c->state == CQ_CONN_CLOSED) return;
  if (reason)
    defunct(c, CQ_ERR_CLOSED, "%s", reason);
  else if (is_handshaking(c))
    defunct(c, CQ_ERR_CLOSED, "the server closed the connection during the handshake");
  else
    defunct(c, CQ_ERR_CLOSED, "the server closed the connection");
}

void cq_conn_close(cq_conn *c, const char *reason) {
  clear_event_text(c);
  defunct(c, CQ_ERR_CLOSED, "%s", reason ? reason : "closed by the client");
}

cq_conn_state cq_conn_get_state(const cq_conn *c) { return c->state; }
int cq_conn_version(const cq_conn *c) { return c->version; }
int cq_conn_compressed(const cq_conn *c) { return c->lz4; }
uint32_t cq_conn_in_flight(const cq_conn *c) { return c->in_flight; }
uint32_t cq_conn_streams_held(const cq_conn *c) { return c->held; }

const char *cq_conn_supported(cq_conn *c, const char *key) {
  size_t n = strlen(key);
  for (const char *p = c->supported; p && *p;) {
    const char *eol = strchr(p, '\n');
    if (!eol) break;
    if ((size_t)(eol - p) > n && strncmp(p, key, n) == 0 && p[n] == '=') {
      size_t len = (size_t)(eol - p) - n - 1;
      if (len >= sizeof c->supported_value) len = sizeof c->supported_value - 1;
      memcpy(c->supported_value, p + n + 1, len);
      c->supported_value[len] = '\0';
      return c->supported_value;
    }
    p = eol + 1;
  }
  return NULL;
}
