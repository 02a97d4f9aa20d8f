/* TLS for the libuv transport: OpenSSL over memory BIOs, so the session
 * never touches a socket (ciphertext in and out as bytes, like cq_conn).
 *
 * Secure by default: a zero-initialised cq_tls_config verifies the server's
 * certificate chain against the system's trust store and checks that the
 * certificate names the host connected to (its IP address or DNS name).
 * Turning either check off is an explicit choice.
 *
 * Ownership: a cq_tls_ctx (certificates, settings) is shared by many
 * sessions and must outlive them; OpenSSL reference-counts it, so freeing
 * the ctx while sessions live is safe. Each cq_tls owns its SSL and BIOs. */
#ifndef CQLUA_TLS_H
#define CQLUA_TLS_H

#include <stddef.h>

#include "../core/buf.h"

typedef struct cq_tls_config {
  const char *ca_file;   /* PEM trust anchors; NULL: the system's default store */
  const char *cert_file; /* PEM client certificate (mutual TLS), or NULL */
  const char *key_file;  /* its private key, or NULL */
  int no_verify;         /* 1: accept any certificate (insecure) */
  int no_hostname_check; /* 1: verify the chain but not the name (insecure) */
} cq_tls_config;

typedef struct cq_tls_ctx cq_tls_ctx;
typedef struct cq_tls cq_tls;

/* Builds a context; on failure returns NULL and writes the reason (naming
 * the file OpenSSL could not use) into err. */
cq_tls_ctx *cq_tls_ctx_new(const cq_tls_config *cfg, char *err, size_t errcap);
void cq_tls_ctx_free(cq_tls_ctx *ctx);

/* A client session for the server called `name` (an IP literal or a DNS
 * name: checked against the certificate, and sent as SNI when a name). */
cq_tls *cq_tls_new(cq_tls_ctx *ctx, const char *name, char *err, size_t errcap);
void cq_tls_free(cq_tls *t);

/* Advances the handshake: 1 when complete, 0 when it needs more bytes from
 * the server (send cq_tls_take_ciphertext first), -1 on failure (see
 * cq_tls_error: names the verification failure, e.g. "certificate verify
 * failed: self-signed certificate in certificate chain"). */
int cq_tls_handshake(cq_tls *t);
/* Bytes received from the socket. Returns 0, or -1 when out of memory. */
int cq_tls_put_ciphertext(cq_tls *t, const void *p, size_t n);
/* Decrypted bytes: > 0 bytes read into buf, 0 when none are ready, -1 on
 * failure or when the server closed the TLS session. */
int cq_tls_get_plaintext(cq_tls *t, void *buf, size_t cap);
/* Encrypts n bytes for sending. Returns 0 or -1. */
int cq_tls_put_plaintext(cq_tls *t, const void *p, size_t n);
/* Appends everything waiting to go to the socket to out; returns how many
 * bytes were appended. */
size_t cq_tls_take_ciphertext(cq_tls *t, cq_buf *out);
/* The last failure's description ("" if none). */
const char *cq_tls_error(const cq_tls *t);

#endif
