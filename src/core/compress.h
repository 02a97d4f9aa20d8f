/* Thin LZ4 wrappers for the frame (v3/v4) and segment (v5) codecs.
 *
 * Raw LZ4 blocks only (no LZ4 frame format). The caller owns every buffer;
 * these functions allocate only by growing a cq_buf the caller passed in. */
#ifndef CQ_COMPRESS_H
#define CQ_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Largest input LZ4 accepts (LZ4_MAX_INPUT_SIZE). */
#define CQ_LZ4_MAX_INPUT 0x7E000000u

/* Reusable LZ4 compression state. Owns an LZ4_stream_t (about 16 KiB),
 * created on first use and released with cq_lz4_ctx_free. Reusing it saves
 * LZ4's 16 KiB table reset on every call, which dominates for the small
 * bodies typical of requests. Zero-initialise (or memset) before first use. */
typedef struct cq_lz4_ctx {
  void *stream;
} cq_lz4_ctx;

/* Releases the context's LZ4 state (safe on a zeroed context). */
void cq_lz4_ctx_free(cq_lz4_ctx *c);

/* Worst-case size of an LZ4 block for n input bytes (0 if n is too large). */
size_t cq_lz4_bound(size_t n);

/* Appends the LZ4 block of src[0..n) to out, using ctx's state (ctx may be
 * NULL: one-shot state on the stack). Returns the number of bytes appended
 * (>= 0), or CQ_ERR_TOO_LARGE / CQ_ERR_NOMEM. On failure out->len is
 * unchanged (out->err may be set for NOMEM). */
long cq_lz4_compress(cq_lz4_ctx *ctx, cq_buf *out, const void *src, size_t n);

/* Decompresses an LZ4 block into exactly dst_len bytes at dst. Fails with
 * CQ_ERR_MALFORMED when the block is corrupt, decodes to a different size,
 * or does not consume src exactly. Never writes past dst + dst_len. */
int cq_lz4_decompress(const void *src, size_t n, void *dst, size_t dst_len);

/* The v3/v4 frame body format: 4-byte big-endian uncompressed length, then
 * the LZ4 block. Appends it to out; returns bytes appended or a status. */
long cq_lz4_compress_body(cq_lz4_ctx *ctx, cq_buf *out, const void *src, size_t n);

/* Decodes a v3/v4 compressed body into out (reset first, then filled with
 * the uncompressed bytes). Rejects a declared length above `cap` with
 * CQ_ERR_TOO_LARGE before allocating, a body shorter than 4 bytes with
 * CQ_ERR_MALFORMED, and corrupt blocks with CQ_ERR_MALFORMED. */
int cq_lz4_decompress_body(cq_buf *out, const void *src, size_t n, size_t cap);

#endif
