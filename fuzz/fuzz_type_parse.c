/* libFuzzer target: marshal class names and CQL type strings.
 * First byte picks the parser; on success the tree is formatted and parsed
 * again, and the second formatting must equal the first. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "type_parse.h"
#include "type_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int cls = data[0] & 1;
  const char *s = (const char *)data + 1;
  size_t n = size - 1;
  cq_arena a;
  cq_arena_init(&a, 0);
  char err[256];
  const cq_type *t = NULL;
  int rc = cls ? cq_type_parse_class(&a, s, n, &t, err, sizeof err)
               : cq_type_parse_cql(&a, s, n, &t, err, sizeof err);
  if (rc == 0) {
    cq_buf f1, f2;
    cq_buf_init(&f1);
    cq_buf_init(&f2);
    if (cls)
      cq_type_to_class(&f1, t);
    else
      cq_type_to_cql(&f1, t);
    const cq_type *t2 = NULL;
    rc = cls ? cq_type_parse_class(&a, (const char *)f1.data, f1.len, &t2, err, sizeof err)
             : cq_type_parse_cql(&a, (const char *)f1.data, f1.len, &t2, err, sizeof err);
    if (rc != 0) abort(); /* our own output must parse */
    if (cls)
      cq_type_to_class(&f2, t2);
    else
      cq_type_to_cql(&f2, t2);
    if (f1.len != f2.len || memcmp(f1.data, f2.data, f1.len) != 0) abort();
    cq_buf_free(&f1);
    cq_buf_free(&f2);
  } else if (err[0] == '\0') {
    abort(); /* every failure explains itself */
  }
  cq_arena_free(&a);
  return 0;
}
