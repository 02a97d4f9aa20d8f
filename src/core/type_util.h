/* Helpers over cq_type trees (types.h): constructors, equality, formatting.
 *
 * Ownership: constructors allocate the node (and copies of the arrays and
 * strings they are given) in the caller's arena; the tree lives as long as
 * that arena. Sub-trees passed in are referenced, not copied, so they must
 * live in the same arena or one that outlives it. */
#ifndef CQ_TYPE_UTIL_H
#define CQ_TYPE_UTIL_H

#include <stddef.h>

#include "arena.h"
#include "buf.h"
#include "types.h"

/* Package prefix of Cassandra's marshal classes. */
#define CQ_MARSHAL_PREFIX "org.apache.cassandra.db.marshal."

/* A native (scalar) type node; NULL for a non-native kind or out of memory. */
cq_type *cq_type_native(cq_arena *a, cq_type_kind kind);
/* list<elem> / set<elem>; frozen as given. */
cq_type *cq_type_list(cq_arena *a, const cq_type *elem, int frozen);
cq_type *cq_type_set(cq_arena *a, const cq_type *elem, int frozen);
/* map<key, value>. */
cq_type *cq_type_map(cq_arena *a, const cq_type *key, const cq_type *value, int frozen);
/* tuple<subs...>; n >= 1 (the subs array is copied). */
cq_type *cq_type_tuple(cq_arena *a, const cq_type *const *subs, size_t n);
/* A user type; keyspace/name/field names are copied; n may be 0 for an
 * unresolved reference. */
cq_type *cq_type_udt(cq_arena *a, const char *keyspace, const char *name,
                     const char *const *field_names, const cq_type *const *subs, size_t n,
                     int frozen);
/* vector<elem, dimension>. */
cq_type *cq_type_vector(cq_arena *a, const cq_type *elem, uint32_t dimension);
/* A custom type carrying its class name (copied). */
cq_type *cq_type_custom(cq_arena *a, const char *class_name);

/* 1 if kind is a native scalar kind (ascii .. duration). */
int cq_type_kind_is_native(cq_type_kind kind);
/* The CQL name of a kind ("int", "text", "list", "udt", ...); "?" if unknown. */
const char *cq_type_kind_name(cq_type_kind kind);
/* The marshal class short name of a native kind ("Int32Type"); NULL if none. */
const char *cq_type_kind_class(cq_type_kind kind);

/* Flags for cq_type_equal_flags. (The strict cq_type_equal lives in
 * type_option.h; this variant can relax frozen/reversed.) */
enum {
  CQ_TYPE_EQ_IGNORE_FROZEN = 1,  /* frozen<x> equals x */
  CQ_TYPE_EQ_IGNORE_REVERSED = 2 /* ReversedType(x) equals x */
};
/* Structural equality of two trees (kind, subs, dimension, udt keyspace,
 * name and field names, custom class); flags relax frozen/reversed. */
int cq_type_equal_flags(const cq_type *x, const cq_type *y, unsigned flags);

/* Appends the CQL spelling ("frozen<map<text, list<int>>>",
 * "vector<float, 3>", a UDT as its name quoted if needed, a custom type as a
 * quoted class string) to out; no NUL. Returns out->err or CQ_OK. */
int cq_type_to_cql(cq_buf *out, const cq_type *t);
/* Appends the fully qualified marshal class name
 * ("org.apache.cassandra.db.marshal.ListType(...)"); frozen/reversed as
 * FrozenType(...)/ReversedType(...). */
int cq_type_to_class(cq_buf *out, const cq_type *t);

#endif
