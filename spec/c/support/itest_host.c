/* The blocking-socket host of the C integration tests (see itest_host.h). */
#include "itest_host.h"

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

#include "../../../src/core/type_parse.h"
#include "../unit.h"

char itest_addr[64] = "127.0.0.1";

/* The host comes from CQLUA_TEST_HOSTS before any test runs. */
__attribute__((constructor)) static void pick_host(void) {
  const char *hosts = getenv("CQLUA_TEST_HOSTS");
  if (hosts && *hosts) {
    size_t n = strcspn(hosts, ",");
    if (n >= sizeof itest_addr) n = sizeof itest_addr - 1;
    memcpy(itest_addr, hosts, n);
    itest_addr[n] = '\0';
  }
}

int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int flush_out(client *cl) {
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

int next_event(client *cl, cq_conn_event *ev, int64_t deadline) {
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

int open_client(client *cl, const cq_conn_config *cfg) {
  memset(cl, 0, sizeof *cl);
  cl->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9042)};
  inet_pton(AF_INET, itest_addr, &sa.sin_addr);
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

void close_client(client *cl) {
  cq_conn_free(cl->c);
  cl->c = NULL;
  if (cl->fd >= 0) close(cl->fd);
  cl->fd = -1;
}

void result_free(result *res) {
  cq_rows_free(&res->page);
  cq_arena_free(&res->arena);
  cq_buf_free(&res->body);
}

/* Collects the column types of n column specs into res->types. */
static int column_types(result *res, const cq_col_spec *cols, int32_t n) {
  if (n < 0 || n > ITEST_MAX_COLS || (n > 0 && !cols)) {
    snprintf(res->err, sizeof res->err, "%d columns (metadata %s)", (int)n,
             cols ? "present" : "absent");
    return -1;
  }
  for (int32_t i = 0; i < n; i++)
    res->types[i] = cols[i].type;
  res->ntypes = (size_t)n;
  return 0;
}

int await(client *cl, uint64_t user_id, result *res) {
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
    if (res->r.opcode != CQ_OP_RESULT) return 0;
    if (rr->kind == CQ_RESULT_PREPARED)
      return column_types(res, rr->prepared.columns, rr->prepared.column_count);
    if (rr->kind == CQ_RESULT_ROWS) {
      if (column_types(res, rr->meta.columns, rr->meta.column_count) < 0) return -1;
      return cq_rows_decode(&res->page, res->types, res->ntypes, rr->row_count, rr->rows,
                            rr->rows_len, res->err, sizeof res->err);
    }
    return 0;
  }
  snprintf(res->err, sizeof res->err, "no answer within 20 s");
  return -1;
}

int await_all(client *cl, size_t count) {
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

uint64_t send_query(client *cl, const char *q, int32_t page_size) {
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

int run(client *cl, const char *q, result *res) {
  uint64_t id = send_query(cl, q, 5000);
  if (!id) {
    /* Leave res releasable, as await would. */
    memset(res, 0, sizeof *res);
    snprintf(res->err, sizeof res->err, "could not queue the query");
    return -1;
  }
  return await(cl, id, res);
}

void ddl(client *cl, const char *q) {
  result res;
  if (run(cl, q, &res) < 0) UNIT_FAIL("%s: %s", q, res.err);
  result_free(&res);
}

int prepare(client *cl, const char *q, result *res) {
  cq_request req = {.opcode = CQ_OP_PREPARE};
  req.u.prepare.query = (cq_str){q, strlen(q)};
  uint64_t id = next_id++;
  if (cq_conn_send_request(cl->c, &req, 0, id, now_ms() + 20000, NULL) < 0) {
    memset(res, 0, sizeof *res);
    snprintf(res->err, sizeof res->err, "could not queue the PREPARE");
    return -1;
  }
  if (await(cl, id, res) < 0) return -1;
  return res->r.u.result.kind == CQ_RESULT_PREPARED ? 0 : -1;
}

uint64_t send_execute(client *cl, const result *prep, const cq_value *values, uint16_t n) {
  cq_request req = {.opcode = CQ_OP_EXECUTE};
  req.u.execute.id = prep->r.u.result.id;
  req.u.execute.result_metadata_id = prep->r.u.result.result_metadata_id;
  req.u.execute.params.consistency = CQ_CL_ONE;
  req.u.execute.params.values = values;
  req.u.execute.params.nvalues = n;
  uint64_t id = next_id++;
  return cq_conn_send_request(cl->c, &req, 0, id, now_ms() + 20000, NULL) == CQ_OK ? id : 0;
}

const char *cell_text(const result *res, size_t r, size_t c, size_t *n) {
  const cq_cell *cell = cq_rows_cell(&res->page, r, c);
  if (!cell || cell->kind != CQ_CELL_BYTES) return NULL;
  *n = cell->len;
  return (const char *)res->page.src + cell->off;
}
