/* Driver benchmark, C API side (include/cqlua.h, libcqlua-embed). One cell
 * per process:
 *
 *   capi-bench WORKLOAD INFLIGHT COUNT WARMUP
 *
 * The same work as bench/drivers/cqlua_bench.lua and the peers' programs:
 * WORKLOAD is insert, select or scan; INFLIGHT requests are kept in flight
 * with completion callbacks (each completion starts the next request) while
 * the main thread polls the cluster's loop. Prints one line "RESULT {json}";
 * see bench/drivers/README.md. */
#define _POSIX_C_SOURCE 200809L
#include <cqlua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define SELECT_KEYS 10000
#define PAGE_ROWS 5000

static const char VALUE[] =
    "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"; /* 64 */

static void die(const char *what) {
  fprintf(stderr, "capi-bench: %s: %s (%s)\n", what, cqlua_last_error_message(),
          cqlua_last_error_name());
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void cpu_and_rss(double *cpu, long *maxrss_kb) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
  *maxrss_kb = ru.ru_maxrss;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t n, double p) {
  if (n == 0) return 0;
  size_t i = (size_t)(p * (double)n + 0.999999);
  if (i < 1) i = 1;
  if (i > n) i = n;
  return sorted[i - 1];
}

/* A run of n requests with `inflight` of them out at once. */
typedef struct run_state {
  cqlua_cluster *cluster;
  cqlua_session *session;
  cqlua_prepared *prepared;
  int select; /* SELECT k, v (read the row) or INSERT */
  size_t n, started, finished;
  double *lat; /* per request, or NULL */
  int failed;
  char error[512];
} run_state;

typedef struct slot {
  run_state *run;
  cqlua_statement *statement; /* reused: values are converted at execute */
  size_t index;
  double t0;
} slot;

static int issue(slot *s);

static void on_done(cqlua_future *future, void *data) {
  slot *s = data;
  run_state *r = s->run;
  double t1 = now();
  cqlua_result *result = NULL;
  int rc = cqlua_future_get_result(future, &result);
  if (rc == CQLUA_OK && r->select) {
    /* Read the row, as the other programs do. */
    int32_t k = -1;
    const char *v = NULL;
    size_t vlen = 0;
    if (cqlua_result_next(result) != 1 || cqlua_result_get_int32(result, 0, &k) != CQLUA_OK ||
        cqlua_result_get_string(result, 1, &v, &vlen) != CQLUA_OK ||
        k != (int32_t)(s->index % SELECT_KEYS)) {
      rc = CQLUA_ERR_INTERNAL;
    }
  }
  if (rc != CQLUA_OK && !r->failed) {
    r->failed = 1;
    snprintf(r->error, sizeof r->error, "request %zu: %s (%s)", s->index,
             cqlua_future_error_message(future), cqlua_future_error_name(future));
  }
  cqlua_result_free(result);
  cqlua_future_free(future);
  if (r->lat) r->lat[s->index] = t1 - s->t0;
  r->finished++;
  if (!r->failed && r->started < r->n) issue(s);
}

static int issue(slot *s) {
  run_state *r = s->run;
  size_t i = r->started++;
  s->index = i;
  int rc;
  if (r->select) {
    rc = cqlua_statement_bind_int32(s->statement, 0, (int32_t)(i % SELECT_KEYS));
  } else {
    rc = cqlua_statement_bind_int32(s->statement, 0, (int32_t)(i % 100000));
    if (rc == CQLUA_OK) rc = cqlua_statement_bind_string_n(s->statement, 1, VALUE, 64);
  }
  if (rc != CQLUA_OK) die("bind");
  s->t0 = now();
  cqlua_future *f = cqlua_session_execute(r->session, s->statement);
  if (!f) die("execute");
  if (cqlua_future_set_callback(f, on_done, s) != CQLUA_OK) die("set_callback");
  return 0;
}

static void run(run_state *r, size_t inflight) {
  if (r->n == 0) return;
  if (inflight > r->n) inflight = r->n;
  slot *slots = calloc(inflight, sizeof *slots);
  if (!slots) die("calloc");
  for (size_t w = 0; w < inflight; w++) {
    slots[w].run = r;
    slots[w].statement = cqlua_prepared_bind(r->prepared);
    if (!slots[w].statement) die("bind");
    cqlua_statement_set_consistency(slots[w].statement, CQLUA_CONSISTENCY_LOCAL_ONE);
  }
  for (size_t w = 0; w < inflight; w++)
    issue(&slots[w]);
  /* A bounded wait: every request has the session's 10 s timeout. */
  double deadline = now() + 300;
  while (r->finished < r->started && now() < deadline) {
    if (cqlua_cluster_poll(r->cluster, 100000) < 0) die("poll");
  }
  for (size_t w = 0; w < inflight; w++)
    cqlua_statement_free(slots[w].statement);
  free(slots);
  if (r->failed) {
    fprintf(stderr, "capi-bench: %s\n", r->error);
    exit(1);
  }
  if (r->finished < r->n) {
    fprintf(stderr, "capi-bench: timed out with %zu of %zu requests done\n", r->finished, r->n);
    exit(1);
  }
}

static size_t scan(cqlua_session *session, double **lat, size_t *nlat, long long *sum) {
  cqlua_statement *st = cqlua_statement_new("SELECT p, c, v, n FROM scan");
  if (!st) die("statement");
  cqlua_statement_set_page_size(st, PAGE_ROWS);
  cqlua_statement_set_consistency(st, CQLUA_CONSISTENCY_LOCAL_ONE);
  cqlua_future *f = cqlua_session_execute(session, st);
  cqlua_result *result = NULL;
  if (!f || cqlua_future_get_result(f, &result) != CQLUA_OK) die("scan");
  cqlua_future_free(f);
  size_t rows = 0, cap = lat ? 1024 : 0;
  if (lat) {
    *lat = malloc(cap * sizeof **lat);
    *nlat = 0;
  }
  *sum = 0;
  double t = now();
  int rc;
  while ((rc = cqlua_result_next(result)) == 1) {
    int32_t p, c;
    int64_t n;
    const char *v;
    size_t vlen;
    if (cqlua_result_get_int32(result, 0, &p) != CQLUA_OK ||
        cqlua_result_get_int32(result, 1, &c) != CQLUA_OK ||
        cqlua_result_get_string(result, 2, &v, &vlen) != CQLUA_OK ||
        cqlua_result_get_int64(result, 3, &n) != CQLUA_OK) {
      die("row");
    }
    rows++;
    *sum += c;
    if (lat && rows % PAGE_ROWS == 0) {
      double t1 = now();
      if (*nlat == cap) *lat = realloc(*lat, (cap *= 2) * sizeof **lat);
      (*lat)[(*nlat)++] = t1 - t;
      t = t1;
    }
  }
  if (rc < 0) die("next page");
  cqlua_result_free(result);
  cqlua_statement_free(st);
  return rows;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: capi-bench WORKLOAD INFLIGHT COUNT WARMUP\n");
    return 2;
  }
  const char *workload = argv[1];
  size_t inflight = strtoul(argv[2], NULL, 10), count = strtoul(argv[3], NULL, 10),
         warmup = strtoul(argv[4], NULL, 10);

  cqlua_cluster *cluster = cqlua_cluster_new();
  if (!cluster) die("cluster");
  if (cqlua_cluster_set_contact_points(cluster, "127.0.0.1") != CQLUA_OK) die("contact points");
  if (cqlua_cluster_set_option(cluster, "compression", "false") != CQLUA_OK) die("compression");
  cqlua_session *session = NULL;
  if (cqlua_cluster_connect(cluster, "bench_drivers", &session) != CQLUA_OK) die("connect");

  double cpu0, cpu1, t0, wall;
  long rss;
  double *lat = NULL;
  size_t nlat = 0, n = count;
  if (strcmp(workload, "insert") == 0 || strcmp(workload, "select") == 0) {
    int select = workload[0] == 's';
    cqlua_future *f =
        cqlua_session_prepare(session, select ? "SELECT k, v FROM kv WHERE k = ?"
                                              : "INSERT INTO kv (k, v) VALUES (?, ?)");
    cqlua_prepared *prepared = NULL;
    if (!f || cqlua_future_get_prepared(f, &prepared) != CQLUA_OK) die("prepare");
    cqlua_future_free(f);
    run_state warm = {cluster, session, prepared, select, warmup, 0, 0, NULL, 0, {0}};
    run(&warm, inflight);
    lat = calloc(count ? count : 1, sizeof *lat);
    run_state r = {cluster, session, prepared, select, count, 0, 0, lat, 0, {0}};
    cpu_and_rss(&cpu0, &rss);
    t0 = now();
    run(&r, inflight);
    wall = now() - t0;
    cpu_and_rss(&cpu1, &rss);
    nlat = count;
    cqlua_prepared_free(prepared);
  } else if (strcmp(workload, "scan") == 0) {
    inflight = 1;
    long long sum;
    if (warmup > 0) {
      cqlua_statement *st = cqlua_statement_new("SELECT p, c, v, n FROM scan");
      cqlua_statement_set_page_size(st, PAGE_ROWS);
      cqlua_future *f = cqlua_session_execute(session, st);
      cqlua_result *result = NULL;
      if (!f || cqlua_future_get_result(f, &result) != CQLUA_OK) die("scan warm-up");
      for (size_t i = 0; i < warmup && cqlua_result_next(result) == 1; i++) {
      }
      cqlua_result_free(result);
      cqlua_future_free(f);
      cqlua_statement_free(st);
    }
    cpu_and_rss(&cpu0, &rss);
    t0 = now();
    n = scan(session, &lat, &nlat, &sum);
    wall = now() - t0;
    cpu_and_rss(&cpu1, &rss);
    if (n != count || sum != (long long)(count / 1000) * 499500) {
      fprintf(stderr, "capi-bench: scan returned %zu rows (checksum %lld), expected %zu\n", n, sum,
              count);
      return 1;
    }
  } else {
    fprintf(stderr, "capi-bench: unknown workload %s\n", workload);
    return 2;
  }
  qsort(lat, nlat, sizeof *lat, cmp_double);
  printf(
      "RESULT {\"driver\": \"capi\", \"workload\": \"%s\", \"inflight\": %zu, \"n\": %zu, "
      "\"wall_s\": %.6f, \"cpu_s\": %.6f, \"p50_us\": %.1f, \"p99_us\": %.1f, \"maxrss_kb\": %ld, "
      "\"conns\": \"default\", \"protocol\": \"?\"}\n",
      workload, inflight, n, wall, cpu1 - cpu0, percentile(lat, nlat, 0.5) * 1e6,
      percentile(lat, nlat, 0.99) * 1e6, rss);
  fflush(stdout);
  free(lat);
  cqlua_session_free(session);
  cqlua_cluster_free(cluster);
  return 0;
}
