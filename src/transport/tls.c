#include "tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cq_tls_ctx {
  SSL_CTX *ssl_ctx;
  int check_name; /* verify that the certificate names the server */
};

struct cq_tls {
  SSL *ssl;
  BIO *in;  /* ciphertext from the server, read by OpenSSL */
  BIO *out; /* ciphertext OpenSSL wants sent */
  char err[256];
};

/* OpenSSL's queued error, or fallback, as one line. */
static void openssl_reason(char *err, size_t cap, const char *what, const char *fallback) {
  unsigned long e = ERR_get_error();
  char detail[200];
  if (e) ERR_error_string_n(e, detail, sizeof detail);
  snprintf(err, cap, "%s: %s", what, e ? detail : fallback);
  ERR_clear_error();
}

cq_tls_ctx *cq_tls_ctx_new(const cq_tls_config *cfg, char *err, size_t errcap) {
  static const cq_tls_config defaults = {0};
  if (!cfg) cfg = &defaults;
  cq_tls_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) {
    snprintf(err, errcap, "out of memory");
    return NULL;
  }
  ctx->ssl_ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx->ssl_ctx) {
    openssl_reason(err, errcap, "cannot create a TLS context", "unknown error");
    free(ctx);
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx->ssl_ctx, cfg->no_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
  int ok = 1;
  char what[512];
  if (cfg->ca_file) {
    ok = SSL_CTX_load_verify_locations(ctx->ssl_ctx, cfg->ca_file, NULL) == 1;
    snprintf(what, sizeof what, "cannot load the CA file %s", cfg->ca_file);
  } else {
    ok = SSL_CTX_set_default_verify_paths(ctx->ssl_ctx) == 1;
    snprintf(what, sizeof what, "cannot load the system's trusted certificates");
  }
  if (ok && cfg->cert_file) {
    ok = SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, cfg->cert_file) == 1;
    snprintf(what, sizeof what, "cannot load the client certificate %s", cfg->cert_file);
  }
  if (ok && cfg->key_file) {
    ok = SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, cfg->key_file, SSL_FILETYPE_PEM) == 1 &&
         SSL_CTX_check_private_key(ctx->ssl_ctx) == 1;
    snprintf(what, sizeof what, "cannot use the client key %s", cfg->key_file);
  }
  if (!ok) {
    openssl_reason(err, errcap, what, "unknown error");
    cq_tls_ctx_free(ctx);
    return NULL;
  }
  ctx->check_name = !cfg->no_hostname_check && !cfg->no_verify;
  return ctx;
}

void cq_tls_ctx_free(cq_tls_ctx *ctx) {
  if (!ctx) return;
  SSL_CTX_free(ctx->ssl_ctx);
  free(ctx);
}

cq_tls *cq_tls_new(cq_tls_ctx *ctx, const char *name, char *err, size_t errcap) {
  cq_tls *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errcap, "out of memory");
    return NULL;
  }
  t->ssl = SSL_new(ctx->ssl_ctx);
  t->in = BIO_new(BIO_s_mem());
  t->out = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->in || !t->out) {
    openssl_reason(err, errcap, "cannot create a TLS session", "out of memory");
    BIO_free(t->in);
    BIO_free(t->out);
    SSL_free(t->ssl);
    free(t);
    return NULL;
  }
  SSL_set_bio(t->ssl, t->in, t->out); /* the SSL owns both BIOs now */
  SSL_set_connect_state(t->ssl);
  unsigned char addr[16];
  int is_ip = inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
  int ok = 1;
  if (!is_ip) ok = SSL_set_tlsext_host_name(t->ssl, name) == 1;
  if (ok && ctx->check_name) {
    ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name) == 1
               : SSL_set1_host(t->ssl, name) == 1;
  }
  if (!ok) {
    openssl_reason(err, errcap, "cannot set the server name for TLS", name);
    cq_tls_free(t);
    return NULL;
  }
  return t;
}

void cq_tls_free(cq_tls *t) {
  if (!t) return;
  SSL_free(t->ssl);
  free(t);
}

/* Describes a failed SSL call, with the certificate check's verdict when
 * that was the cause (the most common and most useful case). */
static void describe(cq_tls *t, int rc) {
  long verify = SSL_get_verify_result(t->ssl);
  int code = SSL_get_error(t->ssl, rc);
  if (verify != X509_V_OK) {
    snprintf(t->err, sizeof t->err, "certificate verify failed: %s",
             X509_verify_cert_error_string(verify));
    ERR_clear_error();
  } else if (code == SSL_ERROR_ZERO_RETURN) {
    snprintf(t->err, sizeof t->err, "the server closed the TLS session");
  } else {
    openssl_reason(t->err, sizeof t->err, "TLS error", "the connection was closed");
  }
}

int cq_tls_handshake(cq_tls *t) {
  int rc = SSL_do_handshake(t->ssl);
  if (rc == 1) return 1;
  int code = SSL_get_error(t->ssl, rc);
  if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) return 0;
  describe(t, rc);
  return -1;
}

int cq_tls_put_ciphertext(cq_tls *t, const void *p, size_t n) {
  while (n > 0) {
    int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
    int w = BIO_write(t->in, p, chunk);
    if (w <= 0) {
      snprintf(t->err, sizeof t->err, "out of memory buffering TLS input");
      return -1;
    }
    p = (const char *)p + w;
    n -= (size_t)w;
  }
  return 0;
}

int cq_tls_get_plaintext(cq_tls *t, void *buf, size_t cap) {
  int rc = SSL_read(t->ssl, buf, cap > (1u << 30) ? (1 << 30) : (int)cap);
  if (rc > 0) return rc;
  int code = SSL_get_error(t->ssl, rc);
  if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) return 0;
  describe(t, rc);
  return -1;
}

int cq_tls_put_plaintext(cq_tls *t, const void *p, size_t n) {
  while (n > 0) {
    int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
    int w = SSL_write(t->ssl, p, chunk); /* memory BIOs: never partial, never WANT_WRITE */
    if (w <= 0) {
      describe(t, w);
      return -1;
    }
    p = (const char *)p + w;
    n -= (size_t)w;
  }
  return 0;
}

size_t cq_tls_take_ciphertext(cq_tls *t, cq_buf *out) {
  size_t total = 0;
  size_t pending;
  while ((pending = BIO_ctrl_pending(t->out)) > 0) {
    uint8_t *dst = cq_buf_reserve(out, pending);
    if (!dst) break;
    int r = BIO_read(t->out, dst, (int)pending);
    if (r <= 0) break;
    out->len += (size_t)r;
    total += (size_t)r;
  }
  return total;
}

const char *cq_tls_error(const cq_tls *t) { return t->err; }
