#include "uv_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ids carry a generation in their top bits, so an id kept after its
 * connection or timer is gone never reaches a newer one in the same slot. */
#define ID_INDEX_BITS 20u
#define ID_INDEX_MASK ((1u << ID_INDEX_BITS) - 1u)

typedef struct io_conn io_conn;

struct io_conn {
  cqlua_io *io;
  uint32_t id;
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_timer_t deadline; /* cq_conn's next deadline */
  uv_timer_t connect_timer;
  int64_t armed_at; /* when `deadline` fires, INT64_MAX if stopped */
  cq_conn *conn;
  cq_tls *tls;      /* NULL for plaintext */
  cq_buf tls_out;   /* ciphertext on its way to the socket */
  uint8_t tls_done; /* TLS handshake completed */
  char peer[64];    /* "address:port", for messages */
  int64_t connect_timeout;
  uint8_t connected; /* TCP established */
  uint8_t ready;     /* protocol handshake completed */
  uint8_t queued;    /* in io->pending */
  uint8_t dead;      /* CLOSED handed out: no more events */
  uint8_t closing;   /* uv_close requested on every handle */
  int handles_open;  /* libuv handles not yet closed */
};

typedef struct io_timer {
  cqlua_io *io;
  uint32_t id;
  uint64_t user_id;
  uv_timer_t t;
  uint8_t fired;
} io_timer;

/* A table of objects addressed by generation-tagged ids. */
typedef struct id_table {
  void **items;
  uint16_t *gens;
  uint32_t cap, count;
  uint32_t *free_slots;
  uint32_t nfree;
} id_table;

struct cqlua_io {
  uv_loop_t *loop;
  uv_loop_t own_loop;
  int owns_loop;
  uv_timer_t wake; /* bounds cqlua_io_run's wait */
  id_table conns, timers;
  io_conn **pending; /* connections that may have events or output */
  uint32_t npending, cap_pending;
  uint32_t *fired; /* timer ids that fired, in order */
  uint32_t nfired, cap_fired;
  io_conn *delivering; /* the connection whose event was handed out last */
  char readbuf[65536]; /* every read lands here; cq_conn copies what it keeps */
};

/* ---- id tables ------------------------------------------------------------------ */

static int table_put(id_table *t, void *item, uint32_t *id) {
  uint32_t slot;
  if (t->nfree) {
    slot = t->free_slots[--t->nfree];
  } else {
    if (t->count == t->cap) {
      uint32_t ncap = t->cap ? t->cap * 2 : 16;
      if (ncap > ID_INDEX_MASK) return CQ_ERR_TOO_LARGE;
      void **items = realloc(t->items, ncap * sizeof *items);
      if (!items) return CQ_ERR_NOMEM;
      t->items = items;
      uint16_t *gens = realloc(t->gens, ncap * sizeof *gens);
      if (!gens) return CQ_ERR_NOMEM;
      t->gens = gens;
      uint32_t *fs = realloc(t->free_slots, ncap * sizeof *fs);
      if (!fs) return CQ_ERR_NOMEM;
      t->free_slots = fs;
      for (uint32_t i = t->cap; i < ncap; i++)
        t->gens[i] = 1;
      t->cap = ncap;
    }
    slot = t->count++;
  }
  t->items[slot] = item;
  *id = ((uint32_t)t->gens[slot] << ID_INDEX_BITS) | (slot + 1);
  return CQ_OK;
}

static void *table_get(const id_table *t, uint32_t id) {
  uint32_t slot = (id & ID_INDEX_MASK) - 1;
  if ((id & ID_INDEX_MASK) == 0 || slot >= t->count) return NULL;
  if (t->gens[slot] != (uint16_t)(id >> ID_INDEX_BITS)) return NULL;
  return t->items[slot];
}

static void table_del(id_table *t, uint32_t id) {
  uint32_t slot = (id & ID_INDEX_MASK) - 1;
  if (!table_get(t, id)) return;
  t->items[slot] = NULL;
  t->gens[slot] = (uint16_t)((t->gens[slot] + 1) & 0x0FFF);
  if (t->gens[slot] == 0) t->gens[slot] = 1;
  t->free_slots[t->nfree++] = slot;
}

static void table_free(id_table *t) {
  free(t->items);
  free(t->gens);
  free(t->free_slots);
  memset(t, 0, sizeof *t);
}

/* ---- helpers -------------------------------------------------------------------- */

int64_t cqlua_io_now(const cqlua_io *io) {
  (void)io;
  return (int64_t)(uv_hrtime() / 1000000u);
}

/* Marks a connection as having events or output to look at. */
static void mark(io_conn *c) {
  cqlua_io *io = c->io;
  if (c->queued || c->dead) return;
  if (io->npending == io->cap_pending) {
    uint32_t ncap = io->cap_pending ? io->cap_pending * 2 : 16;
    io_conn **p = realloc(io->pending, ncap * sizeof *p);
    if (!p) return; /* out of memory: the next read or timer marks it again */
    io->pending = p;
    io->cap_pending = ncap;
  }
  io->pending[io->npending++] = c;
  c->queued = 1;
}

static void on_deadline(uv_timer_t *t) {
  io_conn *c = t->data;
  c->armed_at = INT64_MAX;
  cq_conn_tick(c->conn, cqlua_io_now(c->io));
  mark(c);
}

static void arm_deadline(io_conn *c) {
  if (c->dead) return;
  int64_t at = cq_conn_next_deadline(c->conn);
  if (at == c->armed_at) return;
  c->armed_at = at;
  if (at == INT64_MAX) {
    uv_timer_stop(&c->deadline);
    return;
  }
  int64_t delay = at - cqlua_io_now(c->io);
  uv_timer_start(&c->deadline, on_deadline, (uint64_t)(delay > 0 ? delay : 0), 0);
}

/* Fails the connection for a transport reason (refused, reset, ...). */
static void transport_failed(io_conn *c, const char *what, int uverr) {
  char msg[192];
  if (uverr)
    snprintf(msg, sizeof msg, "%s %s: %s", what, c->peer, uv_strerror(uverr));
  else
    snprintf(msg, sizeof msg, "%s %s", what, c->peer);
  cq_conn_eof(c->conn, msg);
  mark(c);
}

/* ---- writing -------------------------------------------------------------------- */

typedef struct write_req {
  uv_write_t req;
  io_conn *c;
  uv_buf_t buf;
} write_req;

static void on_written(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  io_conn *c = w->c;
  free(w->buf.base);
  free(w);
  if (status < 0 && status != UV_ECANCELED && !c->dead) transport_failed(c, "writing to", status);
}

/* Writes bytes to the socket: directly when it takes them, the rest from a
 * copy that lives until libuv is done with it. */
static void write_bytes(io_conn *c, const uint8_t *p, size_t n) {
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (w < 0 && w != UV_EAGAIN) {
    transport_failed(c, "writing to", w);
    return;
  }
  size_t done = w > 0 ? (size_t)w : 0;
  if (done < n) {
    write_req *req = malloc(sizeof *req);
    char *copy = malloc(n - done);
    if (!req || !copy) {
      free(req);
      free(copy);
      cq_conn_close(c->conn, "out of memory writing");
      mark(c);
      return;
    }
    memcpy(copy, p + done, n - done);
    req->c = c;
    req->buf = uv_buf_init(copy, (unsigned)(n - done));
    int rc = uv_write(&req->req, (uv_stream_t *)&c->tcp, &req->buf, 1, on_written);
    if (rc < 0) {
      free(copy);
      free(req);
      transport_failed(c, "writing to", rc);
    }
  }
}

/* Sends the TLS layer's pending ciphertext. */
static void write_tls(io_conn *c) {
  cq_buf_reset(&c->tls_out);
  if (cq_tls_take_ciphertext(c->tls, &c->tls_out) > 0)
    write_bytes(c, c->tls_out.data, c->tls_out.len);
}

static void tls_failed(io_conn *c, const char *what) {
  char msg[320];
  snprintf(msg, sizeof msg, "%s %s failed: %s", what, c->peer, cq_tls_error(c->tls));
  cq_conn_eof(c->conn, msg);
  mark(c);
}

/* Writes everything the connection has queued (through TLS when on). */
static void flush(io_conn *c) {
  if (!c->connected || c->dead || (c->tls && !c->tls_done)) return;
  size_t n;
  const uint8_t *p = cq_conn_output(c->conn, &n);
  if (!n) return;
  if (c->tls) {
    if (cq_tls_put_plaintext(c->tls, p, n) < 0) {
      tls_failed(c, "TLS session with");
      return;
    }
    write_tls(c);
  } else {
    write_bytes(c, p, n);
  }
  cq_conn_consumed(c->conn, n);
}

/* ---- reading and connecting ----------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  /* libuv reads into it right away and cq_conn_feed copies the bytes, so
   * one buffer serves every connection of the io. */
  cqlua_io *io = ((io_conn *)h->data)->io;
  *buf = uv_buf_init(io->readbuf, sizeof io->readbuf);
}

/* Advances the TLS handshake; starts the CQL handshake once it is done. */
static void tls_step(io_conn *c) {
  int rc = cq_tls_handshake(c->tls);
  write_tls(c);
  if (rc < 0) {
    tls_failed(c, "TLS handshake with");
  } else if (rc == 1) {
    c->tls_done = 1;
    cq_conn_start(c->conn, cqlua_io_now(c->io));
    mark(c);
  }
}

/* Decrypts whatever is complete and hands it to the connection. */
static void tls_read(io_conn *c, const char *p, size_t n) {
  if (cq_tls_put_ciphertext(c->tls, p, n) < 0) {
    tls_failed(c, "reading from");
    return;
  }
  if (!c->tls_done) {
    tls_step(c);
    if (!c->tls_done) return;
  }
  /* The read buffer is free again: libuv's data was copied into the BIO. */
  int got;
  while ((got = cq_tls_get_plaintext(c->tls, c->io->readbuf, sizeof c->io->readbuf)) > 0)
    cq_conn_feed(c->conn, c->io->readbuf, (size_t)got, cqlua_io_now(c->io));
  if (got < 0) tls_failed(c, "TLS session with");
  write_tls(c); /* post-handshake messages (session tickets, key updates) */
  mark(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  io_conn *c = s->data;
  if (nread > 0 && !c->dead) {
    if (c->tls) {
      tls_read(c, buf->base, (size_t)nread);
    } else {
      cq_conn_feed(c->conn, buf->base, (size_t)nread, cqlua_io_now(c->io));
      mark(c);
    }
  } else if (nread < 0 && !c->dead) {
    if (nread == UV_EOF)
      cq_conn_eof(c->conn, NULL);
    else
      transport_failed(c, "reading from", (int)nread);
    mark(c);
  }
  (void)buf;
}

static void on_connect_timeout(uv_timer_t *t) {
  io_conn *c = t->data;
  char msg[192];
  snprintf(msg, sizeof msg, "connecting to %s timed out after %lld ms (%s)", c->peer,
           (long long)c->connect_timeout,
           !c->connected            ? "no TCP connection"
           : c->tls && !c->tls_done ? "the TLS handshake did not complete"
                                    : "the server did not complete the handshake");
  cq_conn_eof(c->conn, msg);
  mark(c);
}

static void on_connect(uv_connect_t *req, int status) {
  io_conn *c = req->data;
  if (c->dead) return;
  if (status < 0) {
    if (status != UV_ECANCELED) transport_failed(c, "cannot connect to", status);
    return;
  }
  c->connected = 1;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_tcp_keepalive(&c->tcp, 1, 60);
  int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc < 0) {
    transport_failed(c, "reading from", rc);
    return;
  }
  if (c->tls) {
    tls_step(c);
    return;
  }
  cq_conn_start(c->conn, cqlua_io_now(c->io));
  mark(c);
}

/* ---- closing -------------------------------------------------------------------- */

static void free_conn(io_conn *c) {
  cqlua_io *io = c->io;
  table_del(&io->conns, c->id);
  cq_conn_free(c->conn);
  cq_tls_free(c->tls);
  cq_buf_free(&c->tls_out);
  free(c);
}

static void on_handle_closed(uv_handle_t *h) {
  io_conn *c = h->data;
  if (--c->handles_open == 0) free_conn(c);
}

/* Releases the socket and timers; the io_conn is freed once libuv has
 * closed them all. */
static void close_handles(io_conn *c) {
  c->dead = 1;
  c->closing = 1;
  uv_close((uv_handle_t *)&c->deadline, on_handle_closed);
  uv_close((uv_handle_t *)&c->connect_timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

/* ---- public API ----------------------------------------------------------------- */

cqlua_io *cqlua_io_new(uv_loop_t *loop) {
  cqlua_io *io = calloc(1, sizeof *io);
  if (!io) return NULL;
  if (loop) {
    io->loop = loop;
  } else {
    if (uv_loop_init(&io->own_loop) < 0) {
      free(io);
      return NULL;
    }
    io->loop = &io->own_loop;
    io->owns_loop = 1;
  }
  uv_timer_init(io->loop, &io->wake);
  io->wake.data = io;
  return io;
}

static void on_timer_closed(uv_handle_t *h) { free(h->data); }

void cqlua_io_free(cqlua_io *io) {
  if (!io) return;
  for (uint32_t i = 0; i < io->conns.count; i++) {
    io_conn *c = io->conns.items[i];
    if (c && !c->closing) close_handles(c);
  }
  for (uint32_t i = 0; i < io->timers.count; i++) {
    io_timer *t = io->timers.items[i];
    if (t) uv_close((uv_handle_t *)&t->t, on_timer_closed);
  }
  uv_close((uv_handle_t *)&io->wake, NULL);
  /* Let libuv run the close callbacks that free everything. */
  uv_run(io->loop, UV_RUN_NOWAIT);
  uv_run(io->loop, UV_RUN_NOWAIT);
  if (io->owns_loop) uv_loop_close(&io->own_loop);
  table_free(&io->conns);
  table_free(&io->timers);
  free(io->pending);
  free(io->fired);
  free(io);
}

int cqlua_io_connect(cqlua_io *io, const char *address, int port, const cq_conn_config *cfg,
                     cq_tls_ctx *tls, const char *tls_name, int64_t connect_timeout_ms,
                     uint32_t *conn) {
  struct sockaddr_storage sa;
  if (port <= 0 || port > 65535) return CQ_ERR_INVALID;
  if (uv_ip4_addr(address, port, (struct sockaddr_in *)&sa) != 0 &&
      uv_ip6_addr(address, port, (struct sockaddr_in6 *)&sa) != 0)
    return CQ_ERR_INVALID;
  io_conn *c = calloc(1, sizeof *c);
  if (!c) return CQ_ERR_NOMEM;
  c->io = io;
  c->armed_at = INT64_MAX;
  c->connect_timeout = connect_timeout_ms;
  if (strchr(address, ':'))
    snprintf(c->peer, sizeof c->peer, "[%s]:%d", address, port);
  else
    snprintf(c->peer, sizeof c->peer, "%s:%d", address, port);
  c->conn = cq_conn_new(cfg);
  if (!c->conn) {
    free(c);
    return cfg && (cfg->version == 0 || (cfg->version >= 3 && cfg->version <= 5)) ? CQ_ERR_NOMEM
                                                                                  : CQ_ERR_INVALID;
  }
  cq_buf_init(&c->tls_out);
  if (tls) {
    char err[256];
    c->tls = cq_tls_new(tls, tls_name ? tls_name : address, err, sizeof err);
    if (!c->tls) {
      cq_conn_free(c->conn);
      free(c);
      return CQ_ERR_INVALID;
    }
  }
  int rc = table_put(&io->conns, c, &c->id);
  if (rc < 0) {
    cq_tls_free(c->tls);
    cq_conn_free(c->conn);
    free(c);
    return rc;
  }
  uv_tcp_init(io->loop, &c->tcp);
  uv_timer_init(io->loop, &c->deadline);
  uv_timer_init(io->loop, &c->connect_timer);
  c->tcp.data = c->deadline.data = c->connect_timer.data = c->connect_req.data = c;
  c->handles_open = 3;
  rc = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&sa, on_connect);
  if (rc < 0) {
    transport_failed(c, "cannot connect to", rc);
  } else if (connect_timeout_ms > 0) {
    uv_timer_start(&c->connect_timer, on_connect_timeout, (uint64_t)connect_timeout_ms, 0);
  }
  *conn = c->id;
  return CQ_OK;
}

static io_conn *live(cqlua_io *io, uint32_t id) {
  io_conn *c = table_get(&io->conns, id);
  return c && !c->dead ? c : NULL;
}

cq_conn *cqlua_io_conn(cqlua_io *io, uint32_t conn) {
  io_conn *c = live(io, conn);
  return c ? c->conn : NULL;
}

int cqlua_io_send_request(cqlua_io *io, uint32_t conn, const cq_request *req, int flags,
                          uint64_t user_id, int64_t deadline_ms, int16_t *stream) {
  io_conn *c = live(io, conn);
  if (!c) return CQ_ERR_CLOSED;
  int rc = cq_conn_send_request(c->conn, req, flags, user_id, deadline_ms, stream);
  if (rc == CQ_OK) mark(c);
  return rc;
}

int cqlua_io_send(cqlua_io *io, uint32_t conn, int opcode, int flags, const void *body, size_t n,
                  uint64_t user_id, int64_t deadline_ms, int16_t *stream) {
  io_conn *c = live(io, conn);
  if (!c) return CQ_ERR_CLOSED;
  int rc = cq_conn_send(c->conn, opcode, flags, body, n, user_id, deadline_ms, stream);
  if (rc == CQ_OK) mark(c);
  return rc;
}

int cqlua_io_auth_response(cqlua_io *io, uint32_t conn, const void *token, int32_t len) {
  io_conn *c = live(io, conn);
  if (!c) return CQ_ERR_CLOSED;
  int rc = cq_conn_auth_response(c->conn, token, len);
  if (rc == CQ_OK) mark(c);
  return rc;
}

int cqlua_io_close(cqlua_io *io, uint32_t conn, const char *reason) {
  io_conn *c = live(io, conn);
  if (!c) return CQ_ERR_CLOSED;
  cq_conn_close(c->conn, reason);
  mark(c);
  return CQ_OK;
}

static void on_timer(uv_timer_t *t) {
  io_timer *tm = t->data;
  cqlua_io *io = tm->io;
  if (io->nfired == io->cap_fired) {
    uint32_t ncap = io->cap_fired ? io->cap_fired * 2 : 16;
    uint32_t *f = realloc(io->fired, ncap * sizeof *f);
    if (!f) {
      uv_timer_start(t, on_timer, 1, 0); /* out of memory: try again shortly */
      return;
    }
    io->fired = f;
    io->cap_fired = ncap;
  }
  tm->fired = 1;
  io->fired[io->nfired++] = tm->id;
}

int cqlua_io_timer_start(cqlua_io *io, int64_t delay_ms, uint64_t user_id, uint32_t *timer) {
  io_timer *tm = calloc(1, sizeof *tm);
  if (!tm) return CQ_ERR_NOMEM;
  int rc = table_put(&io->timers, tm, &tm->id);
  if (rc < 0) {
    free(tm);
    return rc;
  }
  tm->io = io;
  tm->user_id = user_id;
  uv_timer_init(io->loop, &tm->t);
  tm->t.data = tm;
  uv_timer_start(&tm->t, on_timer, (uint64_t)(delay_ms > 0 ? delay_ms : 0), 0);
  *timer = tm->id;
  return CQ_OK;
}

static void drop_timer(cqlua_io *io, io_timer *tm) {
  table_del(&io->timers, tm->id);
  uv_close((uv_handle_t *)&tm->t, on_timer_closed);
}

void cqlua_io_timer_cancel(cqlua_io *io, uint32_t timer) {
  io_timer *tm = table_get(&io->timers, timer);
  if (!tm) return;
  if (tm->fired) {
    /* Fired but not handed out yet: forget the queued event too. */
    for (uint32_t i = 0; i < io->nfired; i++) {
      if (io->fired[i] == timer) {
        memmove(io->fired + i, io->fired + i + 1, (io->nfired - i - 1) * sizeof *io->fired);
        io->nfired--;
        break;
      }
    }
  }
  drop_timer(io, tm);
}

static void on_wake(uv_timer_t *t) { (void)t; }

void cqlua_io_flush(cqlua_io *io) {
  /* The connections stay queued: the next run looks at them for events. */
  for (uint32_t i = 0; i < io->npending; i++) {
    flush(io->pending[i]);
    arm_deadline(io->pending[i]);
  }
}

int cqlua_io_run(cqlua_io *io, int64_t timeout_ms) {
  cqlua_io_flush(io);
  if (io->npending || io->nfired || timeout_ms == 0) {
    uv_run(io->loop, UV_RUN_NOWAIT);
  } else {
    if (timeout_ms > 0) uv_timer_start(&io->wake, on_wake, (uint64_t)timeout_ms, 0);
    uv_run(io->loop, UV_RUN_ONCE);
    uv_timer_stop(&io->wake);
  }
  return (int)(io->npending + io->nfired);
}

int cqlua_io_next_event(cqlua_io *io, cqlua_io_event *e) {
  /* The connection whose CLOSED went out last is released now that the
   * host has seen the event. */
  if (io->delivering && !io->delivering->closing) close_handles(io->delivering);
  io->delivering = NULL;
  while (io->npending > 0) {
    io_conn *c = io->pending[0];
    if (!c->dead && cq_conn_next_event(c->conn, &e->ev) == 1) {
      e->kind = CQLUA_IO_EV_CONN;
      e->conn = c->id;
      e->timer = 0;
      e->user_id = 0;
      if (e->ev.kind == CQ_CONN_EV_READY) {
        c->ready = 1;
        uv_timer_stop(&c->connect_timer);
      } else if (e->ev.kind == CQ_CONN_EV_CLOSED) {
        c->dead = 1;
        uv_timer_stop(&c->connect_timer);
        uv_timer_stop(&c->deadline);
        uv_read_stop((uv_stream_t *)&c->tcp);
        io->delivering = c; /* closed on the next call: the text stays valid */
        io->pending[0] = io->pending[--io->npending];
        c->queued = 0;
      }
      return 1;
    }
    /* Drained: write what handling the input queued, re-arm deadlines. */
    flush(c);
    arm_deadline(c);
    io->pending[0] = io->pending[--io->npending];
    c->queued = 0;
  }
  if (io->nfired > 0) {
    uint32_t id = io->fired[0];
    memmove(io->fired, io->fired + 1, (io->nfired - 1) * sizeof *io->fired);
    io->nfired--;
    io_timer *tm = table_get(&io->timers, id);
    if (tm) {
      *e = (cqlua_io_event){.kind = CQLUA_IO_EV_TIMER, .timer = id, .user_id = tm->user_id};
      drop_timer(io, tm);
      return 1;
    }
  }
  return 0;
}

uint32_t cqlua_io_connections(const cqlua_io *io) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < io->conns.count; i++)
    if (io->conns.items[i] && !((io_conn *)io->conns.items[i])->dead) n++;
  return n;
}

uint32_t cqlua_io_timers(const cqlua_io *io) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < io->timers.count; i++)
    if (io->timers.items[i]) n++;
  return n;
}
