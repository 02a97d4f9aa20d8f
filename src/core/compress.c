/* LZ4 block wrappers; see compress.h. */
#include "compress.h"

#include <lz4.h>
#include <string.h>

void cq_lz4_ctx_free(cq_lz4_ctx *c) {
  if (c->stream) LZ4_freeStream(c->stream);
  c->stream = NULL;
}

size_t cq_lz4_bound(size_t n) {
  if (n > CQ_LZ4_MAX_INPUT) return 0;
  return (size_t)LZ4_compressBound((int)n);
}

long cq_lz4_compress(cq_lz4_ctx *ctx, cq_buf *out, const void *src, size_t n) {
  if (out->err) return out->err;
  if (n > CQ_LZ4_MAX_INPUT) return CQ_ERR_TOO_LARGE;
  size_t bound = cq_lz4_bound(n);
  uint8_t *dst = cq_buf_reserve(out, bound);
  if (!dst) return out->err ? out->err : CQ_ERR_NOMEM;
  int got;
  if (ctx && !ctx->stream) ctx->stream = LZ4_createStream(); /* NULL: fall back below */
  if (ctx && ctx->stream) {
    /* A fast reset starts an independent block without clearing 16 KiB. */
    LZ4_resetStream_fast(ctx->stream);
    got = LZ4_compress_fast_continue(ctx->stream, src, (char *)dst, (int)n, (int)bound, 1);
  } else {
    /* One-shot: LZ4 keeps its table on the stack, nothing is allocated. */
    got = LZ4_compress_default(src, (char *)dst, (int)n, (int)bound);
  }
  if (got <= 0) return CQ_ERR_MALFORMED; /* cannot happen with a full bound */
  out->len += (size_t)got;
  return got;
}

int cq_lz4_decompress(const void *src, size_t n, void *dst, size_t dst_len) {
  if (n > CQ_LZ4_MAX_INPUT || dst_len > CQ_LZ4_MAX_INPUT) return CQ_ERR_TOO_LARGE;
  if (dst_len == 0) {
    /* LZ4 encodes an empty input as the single token byte 0x00. */
    return (n == 1 && ((const uint8_t *)src)[0] == 0) ? CQ_OK : CQ_ERR_MALFORMED;
  }
  if (n == 0) return CQ_ERR_MALFORMED;
  /* The _safe variant never reads past src+n or writes past dst+dst_len. */
  int got = LZ4_decompress_safe(src, dst, (int)n, (int)dst_len);
  if (got < 0 || (size_t)got != dst_len) return CQ_ERR_MALFORMED;
  return CQ_OK;
}

long cq_lz4_compress_body(cq_lz4_ctx *ctx, cq_buf *out, const void *src, size_t n) {
  if (n > CQ_LZ4_MAX_INPUT) return CQ_ERR_TOO_LARGE;
  size_t start = out->len;
  cq_buf_put_u32(out, (uint32_t)n);
  if (out->err) return out->err;
  long got = cq_lz4_compress(ctx, out, src, n);
  if (got < 0) {
    out->len = start;
    return got;
  }
  return got + 4;
}

int cq_lz4_decompress_body(cq_buf *out, const void *src, size_t n, size_t cap) {
  cq_buf_reset(out);
  if (n < 4) return CQ_ERR_MALFORMED;
  const uint8_t *p = src;
  uint32_t plain = cq_load_u32(p);
  if (plain > cap) return CQ_ERR_TOO_LARGE;
  if (plain > CQ_LZ4_MAX_INPUT) return CQ_ERR_TOO_LARGE;
  if (plain == 0 && n == 4) return CQ_OK; /* some peers send no block at all */
  uint8_t *dst = cq_buf_reserve(out, plain ? plain : 1);
  if (!dst) return out->err ? out->err : CQ_ERR_NOMEM;
  int rc = cq_lz4_decompress(p + 4, n - 4, dst, plain);
  if (rc < 0) return rc;
  out->len = plain;
  return CQ_OK;
}
