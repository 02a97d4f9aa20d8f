/* Parsers that turn text into cq_type trees (types.h):
 *
 *  - Cassandra marshal class names, as servers send for custom types and as
 *    older schema tables store them:
 *    "org.apache.cassandra.db.marshal.MapType(org.apache.cassandra.db.marshal.UTF8Type,...)",
 *    short names without the package, FrozenType/ReversedType wrappers,
 *    VectorType(FloatType,3), UserType(ks,hexname,hexfield:type,...);
 *  - CQL type strings as system_schema and users write them:
 *    "frozen<map<text, list<int>>>", "vector<float, 3>", "'some.Class'",
 *    user type names (plain, "Quoted" or ks.name) which come back as
 *    CQ_TYPE_UDT with nsub 0 for the caller to resolve.
 *
 * Both never crash on any input, cap nesting at CQ_TYPE_PARSE_MAX_DEPTH and
 * on error return a negative status with a message naming the offset and
 * what was expected, e.g. "expected '>' at offset 13 in 'map<text, int'".
 *
 * Ownership: every node, array and string of the result is allocated in the
 * caller's arena. On failure some of it may already be allocated there; it
 * is released with the arena. */
#ifndef CQ_TYPE_PARSE_H
#define CQ_TYPE_PARSE_H

#include <stddef.h>

#include "arena.h"
#include "types.h"

#define CQ_TYPE_PARSE_MAX_DEPTH 64

/* Parses a marshal class name s[0, n). Unknown classes become CQ_TYPE_CUSTOM
 * with custom_class holding the class text as given (parameters included). */
int cq_type_parse_class(cq_arena *a, const char *s, size_t n, const cq_type **out, char *err,
                        size_t errcap);

/* Parses a CQL type string s[0, n). Keywords are case-insensitive; unquoted
 * user type names are lower-cased, quoted ones keep their case. */
int cq_type_parse_cql(cq_arena *a, const char *s, size_t n, const cq_type **out, char *err,
                      size_t errcap);

#endif
