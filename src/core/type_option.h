/* The protocol's [option] encoding of CQL types (spec 4.2.5.2, col specs).
 *
 * An [option] is a [short] id followed by id-specific data: nothing for the
 * native types, a [string] class name for custom types, nested [option]s for
 * list/set/map/tuple and keyspace, name and (name, [option]) fields for UDTs.
 *
 * Ownership: the reader builds a cq_type tree whose nodes, arrays and strings
 * are all allocated in the caller's cq_arena (strings are copied and
 * NUL-terminated, so the tree does not point into the input). The tree lives
 * until the caller frees or resets that arena. Exception: leaf nodes of
 * native types (int, text, ...) are shared static const nodes, which live
 * forever; never write through or free any node. */
#ifndef CQ_TYPE_OPTION_H
#define CQ_TYPE_OPTION_H

#include <stddef.h>

#include "arena.h"
#include "buf.h"
#include "types.h"

/* Nesting deeper than this is refused: real schemas nest a handful of levels,
 * and a hostile peer must not be able to exhaust the C stack. */
#define CQ_TYPE_OPTION_MAX_DEPTH 64

/* A short human-readable explanation of a decoding failure, filled by every
 * decoder in the message layer. Lives wherever the caller puts it (usually
 * the stack); decoders never allocate it. */
typedef struct cq_diag {
  char msg[192];
} cq_diag;

/* Reads one [option] from r and builds its type tree in arena.
 * On success stores the root in *out and returns CQ_OK. On failure returns a
 * negative status (TRUNCATED, MALFORMED for unknown ids or too deep nesting,
 * NOMEM; MALFORMED also for names with an embedded NUL byte, which C strings
 * cannot carry), leaves r->err set, and if diag is not NULL writes a message that
 * names the problem. A custom type (id 0x0000) whose class the class-name
 * parser knows becomes that type (servers send vectors, and on older
 * protocol versions duration, date, time, smallint and tinyint, only as
 * class names); any other class stays CQ_TYPE_CUSTOM. Either way the node
 * keeps the received name in custom_class, and cq_type_option_write writes
 * it back unchanged. */
int cq_type_option_read(cq_reader *r, cq_arena *arena, const cq_type **out, cq_diag *diag);

/* Appends the [option] encoding of t to b. CQ_TYPE_VECTOR has no option id:
 * it is written as its custom_class when that is set, otherwise the call
 * returns CQ_ERR_UNSUPPORTED. Returns CQ_OK, or b's sticky error, or
 * CQ_ERR_INVALID for a malformed tree (NULL sub-type, too deep). */
int cq_type_option_write(cq_buf *b, const cq_type *t);

/* Structural equality of two type trees (kinds, sub-types, UDT names and
 * fields, custom class names). Used by round-trip tests and fuzzers. */
int cq_type_equal(const cq_type *a, const cq_type *b);

#endif
