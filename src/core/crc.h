/* Checksums of the v5 framing layer (native_protocol_v5.spec section 2).
 *
 * - CRC24 protects segment headers: MSB-first, initial value 0x875060,
 *   polynomial 0x1974F0B, no final xor. Bytes are fed in wire order (the
 *   little-endian header bytes, lowest first), as Cassandra does.
 * - CRC32 protects segment payloads: the ordinary IEEE CRC32 (zlib's crc32),
 *   but Cassandra first runs the four bytes fa 2d 55 ca through it, which the
 *   spec does not mention; cq_crc32_v5 includes them.
 *
 * Pure functions over constant tables: no state, no allocation. */
#ifndef CQ_CRC_H
#define CQ_CRC_H

#include <stddef.h>
#include <stdint.h>

/* Initial value of the v5 header CRC24. */
#define CQ_CRC24_INIT 0x875060u
/* CRC32 of the four bytes fa 2d 55 ca Cassandra prepends to every payload. */
#define CQ_CRC32_V5_INIT 0x44777ed3u

/* CRC24 of n bytes, continuing from `crc` (start with CQ_CRC24_INIT).
 * Returns a 24-bit value. */
uint32_t cq_crc24_update(uint32_t crc, const void *p, size_t n);

/* The v5 header CRC24 of n bytes (the 3- or 5-byte segment header). */
static inline uint32_t cq_crc24(const void *p, size_t n) {
  return cq_crc24_update(CQ_CRC24_INIT, p, n);
}

/* IEEE CRC32, zlib convention: pass 0 to start, or the previous result to
 * continue (cq_crc32_update(cq_crc32_update(0, a), b) == crc of a||b). */
uint32_t cq_crc32_update(uint32_t crc, const void *p, size_t n);

/* The v5 payload CRC32: CRC32 of fa 2d 55 ca followed by the n bytes. */
static inline uint32_t cq_crc32_v5(const void *p, size_t n) {
  return cq_crc32_update(CQ_CRC32_V5_INIT, p, n);
}

#endif
