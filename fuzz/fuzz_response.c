/* libFuzzer target: response bodies. Byte 0 picks the protocol version,
 * byte 1 the opcode, byte 2 the frame flags; the rest is the body. A body
 * that decodes must re-encode, and the re-encoded body must decode to an
 * equal structure. The message offset stays inside the body, and a body
 * that decodes has one. */
#include <stdint.h>
#include <stdlib.h>

#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  int version = CQ_PROTOCOL_V3 + data[0] % 3;
  int opcode = data[1] % 0x12;
  int flags = data[2] & (CQ_FLAG_TRACING | CQ_FLAG_CUSTOM_PAYLOAD | CQ_FLAG_WARNING);
  const uint8_t *body = data + 3;
  size_t len = size - 3;
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_response r1, r2;
  cq_diag d;
  long at = cq_response_message_offset(version, flags, body, len);
  if (at < -1 || at > (long)len) abort();
  if (cq_response_decode(&r1, version, flags, opcode, body, len, &a, &d) == CQ_OK) {
    if (at < 0) abort();
    cq_buf b;
    cq_buf_init(&b);
    if (cq_response_encode(&b, version, flags, &r1) != CQ_OK) abort();
    if (cq_response_decode(&r2, version, flags, opcode, b.data, b.len, &a, &d) != CQ_OK) abort();
    if (!cq_response_equal(&r1, &r2)) abort();
    cq_buf_free(&b);
  } else if (!d.msg[0]) {
    abort(); /* every failure explains itself */
  }
  cq_arena_free(&a);
  return 0;
}
