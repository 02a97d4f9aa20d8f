#include "type_option.h"

#include "type_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct topt_ctx {
  cq_reader *r;
  cq_arena *a;
  cq_diag *d;
} topt_ctx;

static int topt_fail(topt_ctx *c, int st, const char *fmt, ...) {
  cq_reader_fail(c->r, st);
  if (c->d) {
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(c->d->msg, sizeof c->d->msg, "type option at byte %zu: ", c->r->pos);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof c->d->msg)
      vsnprintf(c->d->msg + n, sizeof c->d->msg - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return st;
}

/* Copies a [string] into the arena as a NUL-terminated C string. */
static const char *topt_string(topt_ctx *c, const char *what) {
  size_t n;
  const char *s = cq_read_string(c->r, &n);
  if (!s) {
    topt_fail(c, c->r->err ? c->r->err : CQ_ERR_TRUNCATED, "truncated %s", what);
    return NULL;
  }
  /* The tree keeps C strings: an embedded NUL would silently cut the name
   * (and change it on re-encoding), and no schema name contains one. */
  if (n && memchr(s, '\0', n)) {
    topt_fail(c, CQ_ERR_MALFORMED, "%s contains a NUL byte", what);
    return NULL;
  }
  char *d = cq_arena_strndup(c->a, s, n);
  if (!d) topt_fail(c, CQ_ERR_NOMEM, "out of memory copying %s", what);
  return d;
}

static int topt_is_native(unsigned id) { return (id >= 0x0001 && id <= 0x0015 && id != 0x000A); }

/* Native types carry no data, so every occurrence can share one immutable
 * node: decoding metadata then allocates only for compound types. */
#define NATIVE(k) [k] = {.kind = (k)}
static const cq_type native_nodes[0x16] = {
    NATIVE(CQ_TYPE_ASCII),     NATIVE(CQ_TYPE_BIGINT),   NATIVE(CQ_TYPE_BLOB),
    NATIVE(CQ_TYPE_BOOLEAN),   NATIVE(CQ_TYPE_COUNTER),  NATIVE(CQ_TYPE_DECIMAL),
    NATIVE(CQ_TYPE_DOUBLE),    NATIVE(CQ_TYPE_FLOAT),    NATIVE(CQ_TYPE_INT),
    NATIVE(CQ_TYPE_TIMESTAMP), NATIVE(CQ_TYPE_UUID),     NATIVE(CQ_TYPE_VARCHAR),
    NATIVE(CQ_TYPE_VARINT),    NATIVE(CQ_TYPE_TIMEUUID), NATIVE(CQ_TYPE_INET),
    NATIVE(CQ_TYPE_DATE),      NATIVE(CQ_TYPE_TIME),     NATIVE(CQ_TYPE_SMALLINT),
    NATIVE(CQ_TYPE_TINYINT),   NATIVE(CQ_TYPE_DURATION),
};
#undef NATIVE

static const cq_type *topt_read(topt_ctx *c, int depth) {
  if (depth > CQ_TYPE_OPTION_MAX_DEPTH) {
    topt_fail(c, CQ_ERR_MALFORMED, "nested deeper than %d", CQ_TYPE_OPTION_MAX_DEPTH);
    return NULL;
  }
  cq_reader *r = c->r;
  uint16_t id;
  if (!r->err && r->len - r->pos >= 2) { /* inline: this runs once per node */
    id = cq_load_u16(r->p + r->pos);
    r->pos += 2;
  } else {
    cq_reader_fail(r, CQ_ERR_TRUNCATED);
    topt_fail(c, r->err, "truncated option id");
    return NULL;
  }
  if (topt_is_native(id)) return &native_nodes[id];
  cq_type *t = cq_arena_calloc(c->a, 1, sizeof *t);
  if (!t) {
    topt_fail(c, CQ_ERR_NOMEM, "out of memory");
    return NULL;
  }
  t->kind = (cq_type_kind)id;
  switch (id) {
  case CQ_TYPE_CUSTOM: {
    t->custom_class = topt_string(c, "custom class name");
    if (!t->custom_class) return NULL;
    /* Servers send some types only as class names (vectors always,
     * duration before v5, date/time/smallint/tinyint on v3): when the
     * class parser knows the class, the node becomes that type, keeping
     * the class name so that writing it back gives the same bytes. */
    const cq_type *parsed;
    char err[8];
    if (cq_type_parse_class(c->a, t->custom_class, strlen(t->custom_class), &parsed, err,
                            sizeof err) < 0 ||
        parsed->kind == CQ_TYPE_CUSTOM)
      return t;
    const char *cls = t->custom_class;
    *t = *parsed;
    t->custom_class = cls;
    return t;
  }
  case CQ_TYPE_LIST:
  case CQ_TYPE_SET:
  case CQ_TYPE_MAP: {
    uint16_t n = id == CQ_TYPE_MAP ? 2 : 1;
    const cq_type **sub = cq_arena_calloc(c->a, n, sizeof *sub);
    if (!sub) {
      topt_fail(c, CQ_ERR_NOMEM, "out of memory");
      return NULL;
    }
    for (uint16_t i = 0; i < n; i++)
      if (!(sub[i] = topt_read(c, depth + 1))) return NULL;
    t->nsub = n;
    t->sub = sub;
    return t;
  }
  case CQ_TYPE_UDT: {
    if (!(t->keyspace = topt_string(c, "UDT keyspace"))) return NULL;
    if (!(t->name = topt_string(c, "UDT name"))) return NULL;
    uint16_t n = cq_read_u16(c->r);
    if (c->r->err) {
      topt_fail(c, c->r->err, "truncated UDT field count");
      return NULL;
    }
    /* Each field takes at least 4 bytes (empty name, option id): refuse
     * counts the remaining input cannot hold before allocating for them. */
    if ((size_t)n > cq_reader_left(c->r) / 4) {
      topt_fail(c, CQ_ERR_TRUNCATED, "UDT %s.%s has %u fields but only %zu bytes left", t->keyspace,
                t->name, (unsigned)n, cq_reader_left(c->r));
      return NULL;
    }
    const cq_type **sub = cq_arena_calloc(c->a, n ? n : 1, sizeof *sub);
    const char **names = cq_arena_calloc(c->a, n ? n : 1, sizeof *names);
    if (!sub || !names) {
      topt_fail(c, CQ_ERR_NOMEM, "out of memory");
      return NULL;
    }
    for (uint16_t i = 0; i < n; i++) {
      if (!(names[i] = topt_string(c, "UDT field name"))) return NULL;
      if (!(sub[i] = topt_read(c, depth + 1))) return NULL;
    }
    t->nsub = n;
    t->sub = sub;
    t->field_names = names;
    return t;
  }
  case CQ_TYPE_TUPLE: {
    uint16_t n = cq_read_u16(c->r);
    if (c->r->err) {
      topt_fail(c, c->r->err, "truncated tuple arity");
      return NULL;
    }
    if ((size_t)n > cq_reader_left(c->r) / 2) {
      topt_fail(c, CQ_ERR_TRUNCATED, "tuple has %u elements but only %zu bytes left", (unsigned)n,
                cq_reader_left(c->r));
      return NULL;
    }
    const cq_type **sub = cq_arena_calloc(c->a, n ? n : 1, sizeof *sub);
    if (!sub) {
      topt_fail(c, CQ_ERR_NOMEM, "out of memory");
      return NULL;
    }
    for (uint16_t i = 0; i < n; i++)
      if (!(sub[i] = topt_read(c, depth + 1))) return NULL;
    t->nsub = n;
    t->sub = sub;
    return t;
  }
  default: topt_fail(c, CQ_ERR_MALFORMED, "unknown option id 0x%04x", (unsigned)id); return NULL;
  }
}

int cq_type_option_read(cq_reader *r, cq_arena *arena, const cq_type **out, cq_diag *diag) {
  topt_ctx c = {r, arena, diag};
  *out = NULL;
  if (r->err) return topt_fail(&c, r->err, "reader already failed");
  const cq_type *t = topt_read(&c, 1);
  if (!t) return r->err ? r->err : CQ_ERR_MALFORMED;
  *out = t;
  return CQ_OK;
}

static int topt_write(cq_buf *b, const cq_type *t, int depth) {
  if (!t || depth > CQ_TYPE_OPTION_MAX_DEPTH) return CQ_ERR_INVALID;
  /* A type that arrived as a class name goes back as that class name. */
  if (t->custom_class) {
    cq_buf_put_u16(b, CQ_TYPE_CUSTOM);
    cq_buf_put_string(b, t->custom_class, strlen(t->custom_class));
    return b->err;
  }
  switch (t->kind) {
  case CQ_TYPE_CUSTOM: return CQ_ERR_INVALID;
  case CQ_TYPE_VECTOR: return CQ_ERR_UNSUPPORTED;
  case CQ_TYPE_LIST:
  case CQ_TYPE_SET:
  case CQ_TYPE_MAP: {
    uint16_t n = t->kind == CQ_TYPE_MAP ? 2 : 1;
    if (t->nsub != n || !t->sub) return CQ_ERR_INVALID;
    cq_buf_put_u16(b, (uint16_t)t->kind);
    for (uint16_t i = 0; i < n; i++) {
      int rc = topt_write(b, t->sub[i], depth + 1);
      if (rc < 0) return rc;
    }
    return b->err;
  }
  case CQ_TYPE_UDT: {
    if (!t->keyspace || !t->name || (t->nsub && (!t->sub || !t->field_names)))
      return CQ_ERR_INVALID;
    cq_buf_put_u16(b, CQ_TYPE_UDT);
    cq_buf_put_string(b, t->keyspace, strlen(t->keyspace));
    cq_buf_put_string(b, t->name, strlen(t->name));
    cq_buf_put_u16(b, t->nsub);
    for (uint16_t i = 0; i < t->nsub; i++) {
      if (!t->field_names[i]) return CQ_ERR_INVALID;
      cq_buf_put_string(b, t->field_names[i], strlen(t->field_names[i]));
      int rc = topt_write(b, t->sub[i], depth + 1);
      if (rc < 0) return rc;
    }
    return b->err;
  }
  case CQ_TYPE_TUPLE:
    if (t->nsub && !t->sub) return CQ_ERR_INVALID;
    cq_buf_put_u16(b, CQ_TYPE_TUPLE);
    cq_buf_put_u16(b, t->nsub);
    for (uint16_t i = 0; i < t->nsub; i++) {
      int rc = topt_write(b, t->sub[i], depth + 1);
      if (rc < 0) return rc;
    }
    return b->err;
  default:
    if (!topt_is_native((unsigned)t->kind)) return CQ_ERR_INVALID;
    cq_buf_put_u16(b, (uint16_t)t->kind);
    return b->err;
  }
}

int cq_type_option_write(cq_buf *b, const cq_type *t) {
  if (b->err) return b->err;
  return topt_write(b, t, 1);
}

static int str_eq(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return strcmp(a, b) == 0;
}

int cq_type_equal(const cq_type *a, const cq_type *b) {
  if (a == b) return 1;
  if (!a || !b) return 0;
  if (a->kind != b->kind || a->nsub != b->nsub || a->dimension != b->dimension ||
      a->frozen != b->frozen || a->reversed != b->reversed)
    return 0;
  if (!str_eq(a->custom_class, b->custom_class) || !str_eq(a->keyspace, b->keyspace) ||
      !str_eq(a->name, b->name))
    return 0;
  for (uint16_t i = 0; i < a->nsub; i++) {
    if (!cq_type_equal(a->sub[i], b->sub[i])) return 0;
    if ((a->field_names != NULL) != (b->field_names != NULL)) return 0;
    if (a->field_names && !str_eq(a->field_names[i], b->field_names[i])) return 0;
  }
  return 1;
}
