/* Constructors, equality and formatting of cq_type trees. */
#include <stdio.h>
#include <string.h>

#include "type_util.h"

int cq_type_kind_is_native(cq_type_kind kind) {
  return (kind >= CQ_TYPE_ASCII && kind <= CQ_TYPE_DURATION && kind != 0x000A);
}

const char *cq_type_kind_name(cq_type_kind kind) {
  switch (kind) {
  case CQ_TYPE_CUSTOM: return "custom";
  case CQ_TYPE_ASCII: return "ascii";
  case CQ_TYPE_BIGINT: return "bigint";
  case CQ_TYPE_BLOB: return "blob";
  case CQ_TYPE_BOOLEAN: return "boolean";
  case CQ_TYPE_COUNTER: return "counter";
  case CQ_TYPE_DECIMAL: return "decimal";
  case CQ_TYPE_DOUBLE: return "double";
  case CQ_TYPE_FLOAT: return "float";
  case CQ_TYPE_INT: return "int";
  case CQ_TYPE_TIMESTAMP: return "timestamp";
  case CQ_TYPE_UUID: return "uuid";
  case CQ_TYPE_VARCHAR: return "text";
  case CQ_TYPE_VARINT: return "varint";
  case CQ_TYPE_TIMEUUID: return "timeuuid";
  case CQ_TYPE_INET: return "inet";
  case CQ_TYPE_DATE: return "date";
  case CQ_TYPE_TIME: return "time";
  case CQ_TYPE_SMALLINT: return "smallint";
  case CQ_TYPE_TINYINT: return "tinyint";
  case CQ_TYPE_DURATION: return "duration";
  case CQ_TYPE_LIST: return "list";
  case CQ_TYPE_MAP: return "map";
  case CQ_TYPE_SET: return "set";
  case CQ_TYPE_UDT: return "udt";
  case CQ_TYPE_TUPLE: return "tuple";
  case CQ_TYPE_VECTOR: return "vector";
  }
  return "?";
}

const char *cq_type_kind_class(cq_type_kind kind) {
  switch (kind) {
  case CQ_TYPE_ASCII: return "AsciiType";
  case CQ_TYPE_BIGINT: return "LongType";
  case CQ_TYPE_BLOB: return "BytesType";
  case CQ_TYPE_BOOLEAN: return "BooleanType";
  case CQ_TYPE_COUNTER: return "CounterColumnType";
  case CQ_TYPE_DECIMAL: return "DecimalType";
  case CQ_TYPE_DOUBLE: return "DoubleType";
  case CQ_TYPE_FLOAT: return "FloatType";
  case CQ_TYPE_INT: return "Int32Type";
  case CQ_TYPE_TIMESTAMP: return "TimestampType";
  case CQ_TYPE_UUID: return "UUIDType";
  case CQ_TYPE_VARCHAR: return "UTF8Type";
  case CQ_TYPE_VARINT: return "IntegerType";
  case CQ_TYPE_TIMEUUID: return "TimeUUIDType";
  case CQ_TYPE_INET: return "InetAddressType";
  case CQ_TYPE_DATE: return "SimpleDateType";
  case CQ_TYPE_TIME: return "TimeType";
  case CQ_TYPE_SMALLINT: return "ShortType";
  case CQ_TYPE_TINYINT: return "ByteType";
  case CQ_TYPE_DURATION: return "DurationType";
  case CQ_TYPE_LIST: return "ListType";
  case CQ_TYPE_MAP: return "MapType";
  case CQ_TYPE_SET: return "SetType";
  case CQ_TYPE_UDT: return "UserType";
  case CQ_TYPE_TUPLE: return "TupleType";
  case CQ_TYPE_VECTOR: return "VectorType";
  default: return NULL;
  }
}

static cq_type *node(cq_arena *a, cq_type_kind kind) {
  cq_type *t = cq_arena_calloc(a, 1, sizeof *t);
  if (t) t->kind = kind;
  return t;
}

/* Copies an array of sub-type pointers into the arena. */
static const cq_type *const *subs_copy(cq_arena *a, const cq_type *const *subs, size_t n) {
  if (n == 0) return NULL;
  const cq_type **s = cq_arena_alloc(a, n * sizeof *s);
  if (s) memcpy(s, subs, n * sizeof *s);
  return s;
}

cq_type *cq_type_native(cq_arena *a, cq_type_kind kind) {
  if (!cq_type_kind_is_native(kind)) return NULL;
  return node(a, kind);
}

static cq_type *coll(cq_arena *a, cq_type_kind kind, const cq_type *const *subs, size_t n,
                     int frozen) {
  for (size_t i = 0; i < n; i++)
    if (!subs[i]) return NULL;
  cq_type *t = node(a, kind);
  if (!t) return NULL;
  t->sub = subs_copy(a, subs, n);
  if (n && !t->sub) return NULL;
  t->nsub = (uint16_t)n;
  t->frozen = frozen ? 1 : 0;
  return t;
}

cq_type *cq_type_list(cq_arena *a, const cq_type *elem, int frozen) {
  return coll(a, CQ_TYPE_LIST, &elem, 1, frozen);
}

cq_type *cq_type_set(cq_arena *a, const cq_type *elem, int frozen) {
  return coll(a, CQ_TYPE_SET, &elem, 1, frozen);
}

cq_type *cq_type_map(cq_arena *a, const cq_type *key, const cq_type *value, int frozen) {
  const cq_type *s[2] = {key, value};
  return coll(a, CQ_TYPE_MAP, s, 2, frozen);
}

cq_type *cq_type_tuple(cq_arena *a, const cq_type *const *subs, size_t n) {
  if (n == 0 || n > UINT16_MAX) return NULL;
  return coll(a, CQ_TYPE_TUPLE, subs, n, 0);
}

cq_type *cq_type_udt(cq_arena *a, const char *keyspace, const char *name,
                     const char *const *field_names, const cq_type *const *subs, size_t n,
                     int frozen) {
  if (n > UINT16_MAX || !name) return NULL;
  cq_type *t = coll(a, CQ_TYPE_UDT, subs, n, frozen);
  if (!t) return NULL;
  t->name = cq_arena_strndup(a, name, strlen(name));
  if (!t->name) return NULL;
  if (keyspace) {
    t->keyspace = cq_arena_strndup(a, keyspace, strlen(keyspace));
    if (!t->keyspace) return NULL;
  }
  if (n) {
    const char **names = cq_arena_alloc(a, n * sizeof *names);
    if (!names) return NULL;
    for (size_t i = 0; i < n; i++) {
      const char *f = field_names && field_names[i] ? field_names[i] : "";
      names[i] = cq_arena_strndup(a, f, strlen(f));
      if (!names[i]) return NULL;
    }
    t->field_names = names;
  }
  return t;
}

cq_type *cq_type_vector(cq_arena *a, const cq_type *elem, uint32_t dimension) {
  cq_type *t = coll(a, CQ_TYPE_VECTOR, &elem, 1, 0);
  if (t) t->dimension = dimension;
  return t;
}

cq_type *cq_type_custom(cq_arena *a, const char *class_name) {
  cq_type *t = node(a, CQ_TYPE_CUSTOM);
  if (!t) return NULL;
  const char *c = class_name ? class_name : "";
  t->custom_class = cq_arena_strndup(a, c, strlen(c));
  return t->custom_class ? t : NULL;
}

static int str_eq(const char *x, const char *y) {
  if (!x || !y) return x == y || (!x && y && !*y) || (!y && x && !*x);
  return strcmp(x, y) == 0;
}

/* Depth-capped so a cyclic hand-built tree cannot recurse forever. */
static int equal_rec(const cq_type *x, const cq_type *y, unsigned flags, int depth) {
  if (x == y) return 1;
  if (!x || !y || depth > 128) return 0;
  if (x->kind != y->kind || x->nsub != y->nsub) return 0;
  if (!(flags & CQ_TYPE_EQ_IGNORE_FROZEN) && x->frozen != y->frozen) return 0;
  if (!(flags & CQ_TYPE_EQ_IGNORE_REVERSED) && x->reversed != y->reversed) return 0;
  switch (x->kind) {
  case CQ_TYPE_VECTOR:
    if (x->dimension != y->dimension) return 0;
    break;
  case CQ_TYPE_CUSTOM:
    if (!str_eq(x->custom_class, y->custom_class)) return 0;
    break;
  case CQ_TYPE_UDT:
    if (!str_eq(x->keyspace, y->keyspace) || !str_eq(x->name, y->name)) return 0;
    for (size_t i = 0; i < x->nsub; i++) {
      const char *fx = x->field_names ? x->field_names[i] : NULL;
      const char *fy = y->field_names ? y->field_names[i] : NULL;
      if (!str_eq(fx, fy)) return 0;
    }
    break;
  default: break;
  }
  for (size_t i = 0; i < x->nsub; i++)
    if (!equal_rec(x->sub[i], y->sub[i], flags, depth + 1)) return 0;
  return 1;
}

int cq_type_equal_flags(const cq_type *x, const cq_type *y, unsigned flags) {
  return equal_rec(x, y, flags, 0);
}

static void puts_(cq_buf *out, const char *s) { cq_buf_put(out, s, strlen(s)); }

/* Words that would be read as a type keyword, so a UDT with that name needs
 * quotes to survive a round trip through the CQL parser. */
static int is_type_keyword(const char *s) {
  static const char *const kw[] = {
      "ascii",  "bigint",    "blob",     "boolean", "counter", "date",     "decimal",
      "double", "duration",  "float",    "inet",    "int",     "smallint", "text",
      "time",   "timestamp", "timeuuid", "tinyint", "uuid",    "varchar",  "varint",
      "frozen", "list",      "set",      "map",     "tuple",   "vector",   "empty"};
  for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
    if (strcmp(s, kw[i]) == 0) return 1;
  return 0;
}

static void put_ident(cq_buf *out, const char *s) {
  int plain = s[0] >= 'a' && s[0] <= 'z';
  for (const char *p = s; *p && plain; p++)
    plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
  if (plain && !is_type_keyword(s)) {
    puts_(out, s);
    return;
  }
  cq_buf_put_u8(out, '"');
  for (const char *p = s; *p; p++) {
    if (*p == '"') cq_buf_put_u8(out, '"');
    cq_buf_put_u8(out, (uint8_t)*p);
  }
  cq_buf_put_u8(out, '"');
}

static void cql_rec(cq_buf *out, const cq_type *t, int depth) {
  if (!t || depth > 128) {
    puts_(out, "?");
    return;
  }
  int frozen =
      t->frozen && (t->kind == CQ_TYPE_LIST || t->kind == CQ_TYPE_SET || t->kind == CQ_TYPE_MAP ||
                    t->kind == CQ_TYPE_TUPLE || t->kind == CQ_TYPE_UDT);
  if (frozen) puts_(out, "frozen<");
  switch (t->kind) {
  case CQ_TYPE_CUSTOM: {
    cq_buf_put_u8(out, '\'');
    for (const char *p = t->custom_class ? t->custom_class : ""; *p; p++) {
      if (*p == '\'') cq_buf_put_u8(out, '\'');
      cq_buf_put_u8(out, (uint8_t)*p);
    }
    cq_buf_put_u8(out, '\'');
    break;
  }
  case CQ_TYPE_UDT: put_ident(out, t->name ? t->name : ""); break;
  case CQ_TYPE_LIST:
  case CQ_TYPE_SET:
  case CQ_TYPE_MAP:
  case CQ_TYPE_TUPLE:
  case CQ_TYPE_VECTOR:
    puts_(out, cq_type_kind_name(t->kind));
    cq_buf_put_u8(out, '<');
    for (size_t i = 0; i < t->nsub; i++) {
      if (i) puts_(out, ", ");
      cql_rec(out, t->sub[i], depth + 1);
    }
    if (t->kind == CQ_TYPE_VECTOR) {
      char num[16];
      snprintf(num, sizeof num, ", %u", (unsigned)t->dimension);
      puts_(out, num);
    }
    cq_buf_put_u8(out, '>');
    break;
  default: puts_(out, cq_type_kind_name(t->kind)); break;
  }
  if (frozen) cq_buf_put_u8(out, '>');
}

int cq_type_to_cql(cq_buf *out, const cq_type *t) {
  cql_rec(out, t, 0);
  return out->err ? out->err : CQ_OK;
}

static void put_hex(cq_buf *out, const char *s) {
  static const char hex[] = "0123456789abcdef";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    cq_buf_put_u8(out, (uint8_t)hex[*p >> 4]);
    cq_buf_put_u8(out, (uint8_t)hex[*p & 15]);
  }
}

static void class_rec(cq_buf *out, const cq_type *t, int depth) {
  if (!t || depth > 128) {
    puts_(out, "?");
    return;
  }
  if (t->reversed) puts_(out, CQ_MARSHAL_PREFIX "ReversedType(");
  if (t->frozen) puts_(out, CQ_MARSHAL_PREFIX "FrozenType(");
  if (t->kind == CQ_TYPE_CUSTOM) {
    puts_(out, t->custom_class ? t->custom_class : "");
  } else {
    puts_(out, CQ_MARSHAL_PREFIX);
    puts_(out, cq_type_kind_class(t->kind));
    if (!cq_type_kind_is_native(t->kind)) {
      cq_buf_put_u8(out, '(');
      if (t->kind == CQ_TYPE_UDT) {
        puts_(out, t->keyspace ? t->keyspace : "");
        cq_buf_put_u8(out, ',');
        put_hex(out, t->name ? t->name : "");
      }
      for (size_t i = 0; i < t->nsub; i++) {
        if (i || t->kind == CQ_TYPE_UDT) cq_buf_put_u8(out, ',');
        if (t->kind == CQ_TYPE_UDT) {
          put_hex(out, t->field_names ? t->field_names[i] : "");
          cq_buf_put_u8(out, ':');
        }
        class_rec(out, t->sub[i], depth + 1);
      }
      if (t->kind == CQ_TYPE_VECTOR) {
        char num[16];
        snprintf(num, sizeof num, ",%u", (unsigned)t->dimension);
        puts_(out, num);
      }
      cq_buf_put_u8(out, ')');
    }
  }
  if (t->frozen) cq_buf_put_u8(out, ')');
  if (t->reversed) cq_buf_put_u8(out, ')');
}

int cq_type_to_class(cq_buf *out, const cq_type *t) {
  class_rec(out, t, 0);
  return out->err ? out->err : CQ_OK;
}
