/* TLS and SASL through the libuv transport, against a real Cassandra with
 * client encryption and PasswordAuthenticator (scripts/cassandra up --auth
 * --tls). spec/tooling/cassandra_secure_spec.lua starts such a node and
 * runs this with CQLUA_TEST_TLS_HOST, CQLUA_TEST_TLS_CA and
 * CQLUA_TEST_TLS_OTHER_CA set; without them every test is skipped, saying
 * so. */
#include <string.h>

#include "../../src/transport/uv_io.h"
#include "unit.h"

static const char *tls_host, *ca, *other_ca;

#define NEED_SECURE_NODE()                                                                         \
  do {                                                                                             \
    if (!tls_host || !ca || !other_ca)                                                             \
      SKIP("needs CQLUA_TEST_TLS_HOST, CQLUA_TEST_TLS_CA and CQLUA_TEST_TLS_OTHER_CA "             \
           "(a node from scripts/cassandra up --auth --tls)");                                     \
  } while (0)

/* Connects; answers the SASL PLAIN exchange with user/password. Returns 1
 * when READY; otherwise 0 with the CLOSED text (and server error) copied. */
static int connect_as(cq_tls_ctx *tls, const char *name, const char *user, const char *password,
                      char *why, size_t cap, int32_t *server_error) {
  cqlua_io *io = cqlua_io_new(NULL);
  cq_conn_config cfg = {0};
  uint32_t conn;
  int ready = 0;
  *server_error = 0;
  snprintf(why, cap, "no event within 15 s");
  if (cqlua_io_connect(io, tls_host, 9042, &cfg, tls, name, 10000, &conn) != CQ_OK) {
    snprintf(why, cap, "connect refused the arguments");
    cqlua_io_free(io);
    return 0;
  }
  int64_t deadline = cqlua_io_now(io) + 15000;
  cqlua_io_event e;
  while (cqlua_io_now(io) < deadline) {
    if (!cqlua_io_next_event(io, &e)) {
      cqlua_io_run(io, 100);
      continue;
    }
    if (e.ev.kind == CQ_CONN_EV_AUTHENTICATE) {
      char token[256];
      int n = snprintf(token, sizeof token, "%c%s%c%s", 0, user, 0, password);
      cqlua_io_auth_response(io, conn, token, n);
    } else if (e.ev.kind == CQ_CONN_EV_READY) {
      ready = 1;
      break;
    } else if (e.ev.kind == CQ_CONN_EV_CLOSED) {
      snprintf(why, cap, "%s", e.ev.text);
      *server_error = e.ev.server_error;
      break;
    }
  }
  cqlua_io_free(io);
  return ready;
}

static cq_tls_ctx *ctx_for(const char *ca_file, int no_verify) {
  cq_tls_config cfg = {.ca_file = ca_file, .no_verify = no_verify};
  char err[256];
  cq_tls_ctx *ctx = cq_tls_ctx_new(&cfg, err, sizeof err);
  if (!ctx) UNIT_FAIL("cq_tls_ctx_new: %s", err);
  return ctx;
}

TEST(verified_tls_and_password_authentication) {
  NEED_SECURE_NODE();
  cq_tls_ctx *tls = ctx_for(ca, 0);
  REQUIRE(tls != NULL);
  char why[512];
  int32_t code;
  CHECK(connect_as(tls, NULL, "cassandra", "cassandra", why, sizeof why, &code));
  /* The certificate names 127.0.0.x addresses and localhost. */
  CHECK(connect_as(tls, "localhost", "cassandra", "cassandra", why, sizeof why, &code));
  cq_tls_ctx_free(tls);
}

TEST(wrong_password_is_the_servers_bad_credentials_error) {
  NEED_SECURE_NODE();
  cq_tls_ctx *tls = ctx_for(ca, 0);
  REQUIRE(tls != NULL);
  char why[512];
  int32_t code;
  CHECK(!connect_as(tls, NULL, "cassandra", "wrong", why, sizeof why, &code));
  CHECK_EQ(code, 0x0100);
  CHECK(strstr(why, "authentication failed") != NULL);
  cq_tls_ctx_free(tls);
}

TEST(untrusted_certificate_and_wrong_name_are_refused) {
  NEED_SECURE_NODE();
  cq_tls_ctx *other = ctx_for(other_ca, 0);
  REQUIRE(other != NULL);
  char why[512];
  int32_t code;
  CHECK(!connect_as(other, NULL, "cassandra", "cassandra", why, sizeof why, &code));
  CHECK(strstr(why, "TLS handshake with") != NULL);
  CHECK(strstr(why, "certificate verify failed") != NULL);
  cq_tls_ctx_free(other);

  cq_tls_ctx *tls = ctx_for(ca, 0);
  REQUIRE(tls != NULL);
  CHECK(!connect_as(tls, "db.example.org", "cassandra", "cassandra", why, sizeof why, &code));
  CHECK(strstr(why, "certificate verify failed") != NULL);
  cq_tls_ctx_free(tls);
}

TEST(verification_off_is_an_explicit_choice) {
  NEED_SECURE_NODE();
  cq_tls_ctx *any = ctx_for(other_ca, 1);
  REQUIRE(any != NULL);
  char why[512];
  int32_t code;
  CHECK(connect_as(any, "db.example.org", "cassandra", "cassandra", why, sizeof why, &code));
  cq_tls_ctx_free(any);
}

TEST(plaintext_to_a_tls_port_fails_cleanly) {
  NEED_SECURE_NODE();
  char why[512];
  int32_t code;
  CHECK(!connect_as(NULL, NULL, "cassandra", "cassandra", why, sizeof why, &code));
  CHECK(why[0] != '\0');
}

TEST(missing_ca_file_is_named) {
  cq_tls_config cfg = {.ca_file = "/nonexistent/ca.pem"};
  char err[256];
  CHECK(cq_tls_ctx_new(&cfg, err, sizeof err) == NULL);
  CHECK(strstr(err, "cannot load the CA file /nonexistent/ca.pem") != NULL);
}

__attribute__((constructor)) static void read_env(void) {
  tls_host = getenv("CQLUA_TEST_TLS_HOST");
  ca = getenv("CQLUA_TEST_TLS_CA");
  other_ca = getenv("CQLUA_TEST_TLS_OTHER_CA");
}

UNIT_MAIN()
