/* Message body codec throughput: QUERY and EXECUTE encoding (5 values) and
 * RESULT Rows metadata decoding, each beside a memcpy of the same bytes in
 * the same run. Each measurement runs for about 0.4 s. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "message.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile size_t sink;

typedef int (*bench_fn)(void *ctx);

/* Runs fn in batches until `budget` seconds pass; returns calls per second. */
static double rate(bench_fn fn, void *ctx, double budget) {
  size_t calls = 0;
  double t0 = now_s(), t;
  do {
    for (int i = 0; i < 1000; i++)
      sink += (size_t)fn(ctx);
    calls += 1000;
    t = now_s();
  } while (t - t0 < budget);
  return (double)calls / (t - t0);
}

typedef struct memcpy_ctx {
  const uint8_t *src;
  size_t n;
  uint8_t *dst;
} memcpy_ctx;

static int do_memcpy(void *p) {
  memcpy_ctx *c = p;
  memcpy(c->dst, c->src, c->n);
  __asm__ volatile("" : : "r"(c->dst) : "memory"); /* keep the copy */
  return c->dst[c->n - 1];
}

typedef struct enc_ctx {
  cq_buf b;
  const cq_request *req;
} enc_ctx;

static int do_encode(void *p) {
  enc_ctx *c = p;
  cq_buf_reset(&c->b);
  return cq_request_encode(&c->b, CQ_PROTOCOL_V4, 0, c->req) + (int)c->b.len;
}

typedef struct dec_ctx {
  cq_arena a;
  const uint8_t *body;
  size_t len;
} dec_ctx;

static int do_decode(void *p) {
  dec_ctx *c = p;
  cq_arena_reset(&c->a);
  cq_response r;
  int rc = cq_response_decode(&r, CQ_PROTOCOL_V4, 0, CQ_OP_RESULT, c->body, c->len, &c->a, NULL);
  return rc + r.u.result.meta.column_count;
}

static void report(const char *what, double ops, size_t bytes, const uint8_t *src) {
  static uint8_t dst[4096];
  memcpy_ctx m = {src, bytes, dst};
  double mc = rate(do_memcpy, &m, 0.4);
  printf("%-34s %10.0f /s  %6.1f ns  (%zu bytes; memcpy %7.1f ns; ratio %.1fx)\n", what, ops,
         1e9 / ops, bytes, 1e9 / mc, mc / ops);
}

int main(void) {
  static const char q[] =
      "INSERT INTO ks.users (id, name, email, age, created) VALUES (?, ?, ?, ?, ?)";
  static const uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  cq_value vals[5] = {{uuid, 16},
                      {(const uint8_t *)"Ada Lovelace", 12},
                      {(const uint8_t *)"ada@example.org", 15},
                      {(const uint8_t *)"\0\0\0\x24", 4},
                      {(const uint8_t *)"\0\0\x01\x8b\xcf\xe5\x68\x00", 8}};
  cq_request query = {.opcode = CQ_OP_QUERY};
  query.u.query.query = (cq_str){q, sizeof q - 1};
  query.u.query.params.consistency = CQ_CL_LOCAL_QUORUM;
  query.u.query.params.nvalues = 5;
  query.u.query.params.values = vals;
  query.u.query.params.flags = CQ_QFLAG_PAGE_SIZE | CQ_QFLAG_DEFAULT_TIMESTAMP;
  query.u.query.params.page_size = 5000;
  query.u.query.params.default_timestamp = 1700000000000000LL;
  cq_request exec = {.opcode = CQ_OP_EXECUTE};
  exec.u.execute.id = (cq_bytes){uuid, 16};
  exec.u.execute.params = query.u.query.params;
  exec.u.execute.params.flags |= CQ_QFLAG_SKIP_METADATA;

  printf("cqlua message codec benchmark (protocol v4)\n");
  enc_ctx e = {.req = &query};
  cq_buf_init(&e.b);
  double ops = rate(do_encode, &e, 0.4);
  report("QUERY encode (5 values)", ops, e.b.len, e.b.data);
  e.req = &exec;
  ops = rate(do_encode, &e, 0.4);
  report("EXECUTE encode (5 values)", ops, e.b.len, e.b.data);

  /* RESULT Rows metadata: 8 columns with a global table spec, no rows. */
  cq_type t_uuid = {.kind = CQ_TYPE_UUID}, t_text = {.kind = CQ_TYPE_VARCHAR},
          t_int = {.kind = CQ_TYPE_INT}, t_ts = {.kind = CQ_TYPE_TIMESTAMP};
  const cq_type *map_sub[2] = {&t_text, &t_int};
  cq_type t_map = {.kind = CQ_TYPE_MAP, .nsub = 2, .sub = map_sub};
  const cq_type *list_sub[1] = {&t_text};
  cq_type t_list = {.kind = CQ_TYPE_LIST, .nsub = 1, .sub = list_sub};
  cq_str ks = {"ks", 2}, tbl = {"users", 5};
  cq_col_spec cols[8] = {
      {ks, tbl, {"id", 2}, &t_uuid},    {ks, tbl, {"name", 4}, &t_text},
      {ks, tbl, {"email", 5}, &t_text}, {ks, tbl, {"age", 3}, &t_int},
      {ks, tbl, {"created", 7}, &t_ts}, {ks, tbl, {"attrs", 5}, &t_map},
      {ks, tbl, {"tags", 4}, &t_list},  {ks, tbl, {"updated", 7}, &t_ts},
  };
  cq_response rows = {.opcode = CQ_OP_RESULT};
  rows.u.result.kind = CQ_RESULT_ROWS;
  rows.u.result.meta.flags = CQ_RFLAG_GLOBAL_TABLES_SPEC;
  rows.u.result.meta.column_count = 8;
  rows.u.result.meta.keyspace = ks;
  rows.u.result.meta.table = tbl;
  rows.u.result.meta.columns = cols;
  cq_buf rb;
  cq_buf_init(&rb);
  if (cq_response_encode(&rb, CQ_PROTOCOL_V4, 0, &rows) != CQ_OK) return 1;
  dec_ctx d = {.body = rb.data, .len = rb.len};
  cq_arena_init(&d.a, 0);
  if (do_decode(&d) != 8) return 1;
  ops = rate(do_decode, &d, 0.4);
  report("RESULT Rows metadata decode (8 col)", ops, rb.len, rb.data);

  cq_arena_free(&d.a);
  cq_buf_free(&rb);
  cq_buf_free(&e.b);
  return 0;
}
