/* Cassandra's Murmur3Partitioner token and partition routing keys.
 *
 * The hash is MurmurHash3 x64_128 with seed 0 exactly as Cassandra's
 * org.apache.cassandra.utils.MurmurHash.hash3_x64_128 computes it. That
 * version differs from the reference algorithm in one place: the 1..15 tail
 * bytes are read as signed Java bytes and sign-extended to 64 bits before
 * being shifted into k1/k2, so any tail byte >= 0x80 changes the result (the
 * 16-byte blocks are read unsigned, as in the reference). The token is the
 * first 64-bit half, as a signed integer, with Long.MIN_VALUE mapped to
 * Long.MAX_VALUE (the minimum token is reserved); the empty key gets the
 * minimum token.
 *
 * Pure functions, no allocation except into a caller-owned cq_buf. */
#ifndef CQ_MURMUR3_H
#define CQ_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Cassandra's MurmurHash.hash3_x64_128(key, 0, n, seed): both halves. */
void cq_murmur3_x64_128(const void *key, size_t n, uint64_t seed, uint64_t out[2]);

/* h1 as Cassandra's signed token: two's complement, with INT64_MIN (the
 * partitioner's reserved minimum) mapped to INT64_MAX. */
static inline int64_t cq_murmur3_normalize(uint64_t h1) {
  /* Reinterpret without an implementation-defined conversion. */
  int64_t t = h1 <= (uint64_t)INT64_MAX ? (int64_t)h1 : -(int64_t)(~h1) - 1;
  return t == INT64_MIN ? INT64_MAX : t;
}

/* The Murmur3Partitioner token of a routing key: INT64_MIN for an empty
 * key, otherwise h1 with INT64_MIN normalised to INT64_MAX. */
int64_t cq_murmur3_token(const void *key, size_t n);

/* Builds the routing key of a partition key from its serialized
 * components, appended to out: one component is its bytes as is; several
 * use the CompositeType layout (u16 BE length, bytes, 0x00 per component).
 * Returns CQ_OK, CQ_ERR_INVALID for count 0, CQ_ERR_TOO_LARGE for a
 * component over 65535 bytes in a composite key, or out->err. */
int cq_routing_key(cq_buf *out, const uint8_t *const *parts, const size_t *lens, size_t count);

#endif
