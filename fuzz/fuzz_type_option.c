/* libFuzzer target: [option] type descriptions. Whatever decodes must write
 * back to exactly the bytes it consumed and read back equal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "type_option.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cq_arena a;
  cq_arena_init(&a, 0);
  cq_reader r;
  cq_reader_init(&r, data, size);
  const cq_type *t1, *t2;
  cq_diag d;
  if (cq_type_option_read(&r, &a, &t1, &d) == CQ_OK) {
    cq_buf b;
    cq_buf_init(&b);
    if (cq_type_option_write(&b, t1) != CQ_OK) abort();
    if (b.len != r.pos || memcmp(b.data, data, b.len) != 0) abort();
    cq_reader r2;
    cq_reader_init(&r2, b.data, b.len);
    if (cq_type_option_read(&r2, &a, &t2, &d) != CQ_OK || !cq_type_equal(t1, t2)) abort();
    cq_buf_free(&b);
  } else if (!d.msg[0]) {
    abort();
  }
  cq_arena_free(&a);
  return 0;
}
