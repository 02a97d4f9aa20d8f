/* The quickstart in C, through the embedding API (include/cqlua.h).
 *
 *   build/c_quickstart [config.lua] [keyspace]
 *
 * Loads the cluster's settings from a Lua file (default: the
 * c_quickstart_config.lua beside this source, as configured by CMake),
 * connects, creates a keyspace and a table, inserts a row with a prepared
 * statement and a fresh random UUID, reads the table back and prints each
 * row, then shuts down. Exits non-zero, with the error's name and message,
 * on any failure. */
#include <cqlua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef QUICKSTART_CONFIG
#define QUICKSTART_CONFIG "examples/c_quickstart_config.lua"
#endif

/* Reports the last error and says the program failed. */
static int failed(const char *what) {
  fprintf(stderr, "c_quickstart: %s failed: %s: %s\n", what, cqlua_last_error_name(),
          cqlua_last_error_message());
  return 0;
}

static int run(cqlua_session *session, const char *cql) {
  if (cqlua_session_query(session, cql, NULL) != CQLUA_OK) return failed(cql);
  return 1;
}

int main(int argc, char **argv) {
  const char *config = argc > 1 ? argv[1] : QUICKSTART_CONFIG;
  const char *keyspace = argc > 2 ? argv[2] : "capi_demo";
  int ok = 0;
  cqlua_session *session = NULL;
  cqlua_prepared *insert = NULL;
  cqlua_statement *st = NULL;
  cqlua_result *rows = NULL;
  cqlua_future *f = NULL;
  char cql[512];

  /* The cluster: settings and policies from the Lua file. */
  cqlua_cluster *cluster = cqlua_cluster_new();
  if (!cluster) return failed("cqlua_cluster_new"), 1;
  if (cqlua_cluster_load_config(cluster, config) != CQLUA_OK) {
    failed("loading the configuration");
    goto done;
  }
  if (cqlua_cluster_connect(cluster, NULL, &session) != CQLUA_OK) {
    failed("connecting");
    goto done;
  }
  printf("cqlua %s connected (C API)\n", cqlua_version());

  /* A keyspace and a table. */
  snprintf(cql, sizeof cql,
           "CREATE KEYSPACE IF NOT EXISTS %s WITH replication = "
           "{'class': 'SimpleStrategy', 'replication_factor': 1}",
           keyspace);
  if (!run(session, cql)) goto done;
  snprintf(cql, sizeof cql, "USE %s", keyspace);
  if (!run(session, cql)) goto done;
  if (!run(session, "CREATE TABLE IF NOT EXISTS users (id uuid PRIMARY KEY, name text, age int)"))
    goto done;
  if (!run(session, "TRUNCATE users")) goto done;

  /* Insert with a prepared statement and a fresh UUID. */
  f = cqlua_session_prepare(session, "INSERT INTO users (id, name, age) VALUES (?, ?, ?)");
  if (!f || cqlua_future_get_prepared(f, &insert) != CQLUA_OK) {
    failed("preparing the insert");
    goto done;
  }
  cqlua_future_free(f);
  f = NULL;
  cqlua_uuid id;
  if (cqlua_uuid_random(&id) != CQLUA_OK) {
    failed("cqlua_uuid_random");
    goto done;
  }
  st = cqlua_prepared_bind(insert);
  if (!st || cqlua_statement_bind_uuid(st, 0, id) != CQLUA_OK ||
      cqlua_statement_bind_string_by_name(st, "name", "Alice") != CQLUA_OK ||
      cqlua_statement_bind_int32_by_name(st, "age", 30) != CQLUA_OK) {
    failed("binding the insert");
    goto done;
  }
  f = cqlua_session_execute(session, st);
  if (!f || cqlua_future_wait(f) != CQLUA_OK) {
    failed("inserting");
    goto done;
  }
  cqlua_future_free(f);
  f = NULL;

  /* Read it back. */
  if (cqlua_session_query(session, "SELECT id, name, age FROM users", &rows) != CQLUA_OK) {
    failed("selecting");
    goto done;
  }
  int more;
  while ((more = cqlua_result_next(rows)) == 1) {
    cqlua_uuid uid;
    const char *name;
    size_t name_len;
    int32_t age;
    char text[37];
    if (cqlua_result_get_uuid(rows, 0, &uid) != CQLUA_OK ||
        cqlua_result_get_string(rows, 1, &name, &name_len) != CQLUA_OK ||
        cqlua_result_get_int32(rows, 2, &age) != CQLUA_OK) {
      failed("reading a row");
      goto done;
    }
    cqlua_uuid_to_string(&uid, text);
    printf("User: %.*s, Age: %d, Id: %s\n", (int)name_len, name, age, text);
  }
  if (more < 0) {
    failed("iterating");
    goto done;
  }
  ok = 1;

done:
  cqlua_result_free(rows);
  cqlua_statement_free(st);
  cqlua_prepared_free(insert);
  cqlua_future_free(f);
  cqlua_session_free(session);
  cqlua_cluster_free(cluster);
  return ok ? 0 : 1;
}
