/* Murmur3 token as Cassandra computes it; see murmur3.h. */
#include "murmur3.h"

#include <string.h>

static inline uint64_t rotl64(uint64_t v, int r) { return (v << r) | (v >> (64 - r)); }

static inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

static inline uint64_t load_le64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

/* A tail byte as Cassandra reads it: (long) of a signed Java byte. */
static inline uint64_t sbyte(uint8_t b) { return (uint64_t)(int64_t)(int8_t)b; }

void cq_murmur3_x64_128(const void *key, size_t n, uint64_t seed, uint64_t out[2]) {
  const uint8_t *data = key;
  const uint64_t c1 = 0x87c37b91114253d5ull;
  const uint64_t c2 = 0x4cf5ad432745937full;
  uint64_t h1 = seed, h2 = seed;
  size_t nblocks = n / 16;
  for (size_t i = 0; i < nblocks; i++) {
    uint64_t k1 = load_le64(data + 16 * i);
    uint64_t k2 = load_le64(data + 16 * i + 8);
    k1 *= c1;
    k1 = rotl64(k1, 31);
    k1 *= c2;
    h1 ^= k1;
    h1 = rotl64(h1, 27);
    h1 += h2;
    h1 = h1 * 5 + 0x52dce729;
    k2 *= c2;
    k2 = rotl64(k2, 33);
    k2 *= c1;
    h2 ^= k2;
    h2 = rotl64(h2, 31);
    h2 += h1;
    h2 = h2 * 5 + 0x38495ab5;
  }
  const uint8_t *tail = data + 16 * nblocks;
  uint64_t k1 = 0, k2 = 0;
  /* Fallthrough is the algorithm: each case adds one more tail byte. */
  switch (n & 15) {
  case 15: k2 ^= sbyte(tail[14]) << 48; /* fall through */
  case 14: k2 ^= sbyte(tail[13]) << 40; /* fall through */
  case 13: k2 ^= sbyte(tail[12]) << 32; /* fall through */
  case 12: k2 ^= sbyte(tail[11]) << 24; /* fall through */
  case 11: k2 ^= sbyte(tail[10]) << 16; /* fall through */
  case 10: k2 ^= sbyte(tail[9]) << 8;   /* fall through */
  case 9:
    k2 ^= sbyte(tail[8]);
    k2 *= c2;
    k2 = rotl64(k2, 33);
    k2 *= c1;
    h2 ^= k2;
    /* fall through */
  case 8: k1 ^= sbyte(tail[7]) << 56; /* fall through */
  case 7: k1 ^= sbyte(tail[6]) << 48; /* fall through */
  case 6: k1 ^= sbyte(tail[5]) << 40; /* fall through */
  case 5: k1 ^= sbyte(tail[4]) << 32; /* fall through */
  case 4: k1 ^= sbyte(tail[3]) << 24; /* fall through */
  case 3: k1 ^= sbyte(tail[2]) << 16; /* fall through */
  case 2: k1 ^= sbyte(tail[1]) << 8;  /* fall through */
  case 1:
    k1 ^= sbyte(tail[0]);
    k1 *= c1;
    k1 = rotl64(k1, 31);
    k1 *= c2;
    h1 ^= k1;
    break;
  default: break;
  }
  h1 ^= (uint64_t)n;
  h2 ^= (uint64_t)n;
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 += h2;
  h2 += h1;
  out[0] = h1;
  out[1] = h2;
}

int64_t cq_murmur3_token(const void *key, size_t n) {
  if (n == 0) return INT64_MIN;
  uint64_t h[2];
  cq_murmur3_x64_128(key, n, 0, h);
  return cq_murmur3_normalize(h[0]);
}

int cq_routing_key(cq_buf *out, const uint8_t *const *parts, const size_t *lens, size_t count) {
  if (out->err) return out->err;
  if (count == 0) return CQ_ERR_INVALID;
  if (count == 1) {
    cq_buf_put(out, parts[0], lens[0]);
    return out->err;
  }
  for (size_t i = 0; i < count; i++)
    if (lens[i] > 0xFFFF) return CQ_ERR_TOO_LARGE;
  for (size_t i = 0; i < count; i++) {
    cq_buf_put_u16(out, (uint16_t)lens[i]);
    cq_buf_put(out, parts[i], lens[i]);
    cq_buf_put_u8(out, 0);
  }
  return out->err;
}
