/* CQL type descriptions: a tree of cq_type nodes.
 *
 * A description comes from three places: the protocol's [option] ids in
 * result metadata (messages code), Cassandra's marshal class names
 * ("org.apache.cassandra.db.marshal.MapType(...)") and CQL type strings
 * ("frozen<map<text, list<int>>>"). All three produce the same tree.
 *
 * Ownership: every node, array and string of a tree is allocated in one
 * cq_arena, owned by whoever parsed it (a result, a prepared statement, a
 * Lua type object). Trees are immutable once built. */
#ifndef CQ_TYPES_H
#define CQ_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"

/* Kinds use the protocol's option ids where one exists. */
typedef enum cq_type_kind {
  CQ_TYPE_CUSTOM = 0x0000,
  CQ_TYPE_ASCII = 0x0001,
  CQ_TYPE_BIGINT = 0x0002,
  CQ_TYPE_BLOB = 0x0003,
  CQ_TYPE_BOOLEAN = 0x0004,
  CQ_TYPE_COUNTER = 0x0005,
  CQ_TYPE_DECIMAL = 0x0006,
  CQ_TYPE_DOUBLE = 0x0007,
  CQ_TYPE_FLOAT = 0x0008,
  CQ_TYPE_INT = 0x0009,
  CQ_TYPE_TIMESTAMP = 0x000B,
  CQ_TYPE_UUID = 0x000C,
  CQ_TYPE_VARCHAR = 0x000D, /* "text" */
  CQ_TYPE_VARINT = 0x000E,
  CQ_TYPE_TIMEUUID = 0x000F,
  CQ_TYPE_INET = 0x0010,
  CQ_TYPE_DATE = 0x0011,
  CQ_TYPE_TIME = 0x0012,
  CQ_TYPE_SMALLINT = 0x0013,
  CQ_TYPE_TINYINT = 0x0014,
  CQ_TYPE_DURATION = 0x0015,
  CQ_TYPE_LIST = 0x0020,
  CQ_TYPE_MAP = 0x0021,
  CQ_TYPE_SET = 0x0022,
  CQ_TYPE_UDT = 0x0030,
  CQ_TYPE_TUPLE = 0x0031,
  /* Not a protocol id: the server sends vectors as the custom class
   * org.apache.cassandra.db.marshal.VectorType(<elem>, <dimension>); the
   * parsers recognise it and build this kind instead of CQ_TYPE_CUSTOM. */
  CQ_TYPE_VECTOR = 0x0100
} cq_type_kind;

typedef struct cq_type cq_type;
struct cq_type {
  cq_type_kind kind;
  uint8_t frozen;                 /* frozen<...> / FrozenType(...) seen */
  uint8_t reversed;               /* ReversedType(...) seen (clustering DESC) */
  uint16_t nsub;                  /* list/set/vector: 1; map: 2; tuple: n; udt: n fields */
  uint32_t dimension;             /* vector: element count */
  const cq_type *const *sub;      /* nsub element types */
  const char *const *field_names; /* udt: nsub field names */
  const char *keyspace;           /* udt */
  const char *name;               /* udt name */
  const char *custom_class;       /* custom: the full class name as received */
};

#endif
