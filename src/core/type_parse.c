/* Marshal class name and CQL type string parsers (recursive descent). */
#include "type_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "status.h"
#include "type_util.h"

typedef struct parser {
  const char *s;
  size_t n;
  size_t pos;
  cq_arena *a;
  char *err;
  size_t errcap;
} parser;

static int perr(parser *p, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *p, int status, const char *fmt, ...) {
  if (p->err && p->errcap) {
    char what[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* Quote at most 120 bytes of the input, so messages stay readable. */
    int shown = p->n > 120 ? 120 : (int)p->n;
    snprintf(p->err, p->errcap, "%s at offset %zu in '%.*s%s'", what, p->pos, shown, p->s,
             p->n > 120 ? "..." : "");
  }
  return status;
}

static int nomem(parser *p) { return perr(p, CQ_ERR_NOMEM, "out of memory"); }

static void skip_ws(parser *p) {
  while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
                           p->s[p->pos] == '\r'))
    p->pos++;
}

static int peek(parser *p) { return p->pos < p->n ? (unsigned char)p->s[p->pos] : -1; }

static int expect(parser *p, char c) {
  skip_ws(p);
  if (peek(p) != (unsigned char)c) return perr(p, CQ_ERR_MALFORMED, "expected '%c'", c);
  p->pos++;
  return CQ_OK;
}

static int lc(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* A growable array of sub-types in the arena (doubling; old blocks are
 * simply left to the arena). */
typedef struct subvec {
  const cq_type **v;
  const char **names;
  size_t n, cap;
} subvec;

static int subvec_push(parser *p, subvec *sv, const cq_type *t, const char *name) {
  if (sv->n == UINT16_MAX) return perr(p, CQ_ERR_TOO_LARGE, "more than 65535 components");
  if (sv->n == sv->cap) {
    size_t cap = sv->cap ? sv->cap * 2 : 4;
    const cq_type **v = cq_arena_alloc(p->a, cap * sizeof *v);
    const char **names = cq_arena_alloc(p->a, cap * sizeof *names);
    if (!v || !names) return nomem(p);
    if (sv->n) {
      memcpy(v, sv->v, sv->n * sizeof *v);
      memcpy(names, sv->names, sv->n * sizeof *names);
    }
    sv->v = v;
    sv->names = names;
    sv->cap = cap;
  }
  sv->v[sv->n] = t;
  sv->names[sv->n] = name;
  sv->n++;
  return CQ_OK;
}

static cq_type *new_node(parser *p, cq_type_kind kind) {
  cq_type *t = cq_arena_calloc(p->a, 1, sizeof *t);
  if (t) t->kind = kind;
  return t;
}

/* Reads a decimal integer (for vector dimensions). */
static int read_uint(parser *p, uint32_t *out) {
  skip_ws(p);
  size_t start = p->pos;
  uint64_t v = 0;
  while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
    v = v * 10 + (uint64_t)(p->s[p->pos] - '0');
    if (v > INT32_MAX) return perr(p, CQ_ERR_MALFORMED, "dimension too large");
    p->pos++;
  }
  if (p->pos == start) return perr(p, CQ_ERR_MALFORMED, "expected a dimension");
  if (v == 0) {
    p->pos = start;
    return perr(p, CQ_ERR_MALFORMED, "expected a positive dimension");
  }
  *out = (uint32_t)v;
  return CQ_OK;
}

/* ===================== marshal class names ========================== */

static int is_word_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int is_class_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '$' || c == '-' || c == '+' || c == '&';
}

static const struct {
  const char *name;
  cq_type_kind kind;
} native_classes[] = {
    {"AsciiType", CQ_TYPE_ASCII},
    {"LongType", CQ_TYPE_BIGINT},
    {"BytesType", CQ_TYPE_BLOB},
    {"BooleanType", CQ_TYPE_BOOLEAN},
    {"CounterColumnType", CQ_TYPE_COUNTER},
    {"DecimalType", CQ_TYPE_DECIMAL},
    {"DoubleType", CQ_TYPE_DOUBLE},
    {"FloatType", CQ_TYPE_FLOAT},
    {"Int32Type", CQ_TYPE_INT},
    {"TimestampType", CQ_TYPE_TIMESTAMP},
    {"DateType", CQ_TYPE_TIMESTAMP},
    {"UUIDType", CQ_TYPE_UUID},
    {"UTF8Type", CQ_TYPE_VARCHAR},
    {"IntegerType", CQ_TYPE_VARINT},
    {"TimeUUIDType", CQ_TYPE_TIMEUUID},
    {"InetAddressType", CQ_TYPE_INET},
    {"SimpleDateType", CQ_TYPE_DATE},
    {"TimeType", CQ_TYPE_TIME},
    {"ShortType", CQ_TYPE_SMALLINT},
    {"ByteType", CQ_TYPE_TINYINT},
    {"DurationType", CQ_TYPE_DURATION},
};

static int class_type(parser *p, const cq_type **out, int depth);

/* Skips a balanced parenthesised parameter list starting at '(' (for classes
 * we keep as custom). Iterative, so depth is no concern. */
static int skip_params(parser *p) {
  size_t level = 0;
  do {
    int c = peek(p);
    if (c < 0) return perr(p, CQ_ERR_MALFORMED, "expected ')'");
    if (c == '(') level++;
    if (c == ')') level--;
    p->pos++;
  } while (level > 0);
  return CQ_OK;
}

static int hex_val(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lc(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Reads hex digits up to a delimiter and decodes them to a string. */
static int read_hex_name(parser *p, const char **out) {
  skip_ws(p);
  size_t start = p->pos;
  while (p->pos < p->n && hex_val((unsigned char)p->s[p->pos]) >= 0)
    p->pos++;
  size_t len = p->pos - start;
  if (len == 0 || len % 2) {
    if (len) p->pos = start;
    return perr(p, CQ_ERR_MALFORMED, "expected a hex-encoded name");
  }
  char *s = cq_arena_alloc(p->a, len / 2 + 1);
  if (!s) return nomem(p);
  for (size_t i = 0; i < len / 2; i++)
    s[i] = (char)(hex_val((unsigned char)p->s[start + 2 * i]) * 16 +
                  hex_val((unsigned char)p->s[start + 2 * i + 1]));
  s[len / 2] = '\0';
  if (strlen(s) != len / 2) {
    p->pos = start;
    return perr(p, CQ_ERR_MALFORMED, "expected a name without NUL bytes");
  }
  *out = s;
  return CQ_OK;
}

static int class_params(parser *p, cq_type *t, int depth) {
  subvec sv = {0};
  int rc;
  if ((rc = expect(p, '(')) < 0) return rc;
  if (t->kind == CQ_TYPE_UDT) {
    skip_ws(p);
    size_t start = p->pos;
    /* Keyspace names are [A-Za-z0-9_]+ (also keeps NULs out of the string). */
    while (p->pos < p->n && is_word_char((unsigned char)p->s[p->pos]))
      p->pos++;
    if (p->pos == start) return perr(p, CQ_ERR_MALFORMED, "expected a keyspace");
    if (!(t->keyspace = cq_arena_strndup(p->a, p->s + start, p->pos - start))) return nomem(p);
    if ((rc = expect(p, ',')) < 0) return rc;
    if ((rc = read_hex_name(p, &t->name)) < 0) return rc;
  }
  for (;;) {
    skip_ws(p);
    if (peek(p) == ')' && (sv.n > 0 || t->kind == CQ_TYPE_UDT)) break;
    if (sv.n > 0 || t->kind == CQ_TYPE_UDT) {
      if ((rc = expect(p, ',')) < 0) return rc;
    }
    if (t->kind == CQ_TYPE_VECTOR && sv.n == 1) {
      if ((rc = read_uint(p, &t->dimension)) < 0) return rc;
      skip_ws(p);
      if (peek(p) != ')') return perr(p, CQ_ERR_MALFORMED, "expected ')'");
      break;
    }
    const char *fname = NULL;
    if (t->kind == CQ_TYPE_UDT) {
      if ((rc = read_hex_name(p, &fname)) < 0) return rc;
      if ((rc = expect(p, ':')) < 0) return rc;
    }
    const cq_type *sub;
    if ((rc = class_type(p, &sub, depth + 1)) < 0) return rc;
    if ((rc = subvec_push(p, &sv, sub, fname)) < 0) return rc;
  }
  size_t want = t->kind == CQ_TYPE_MAP                              ? 2
                : t->kind == CQ_TYPE_LIST || t->kind == CQ_TYPE_SET ? 1
                                                                    : 0;
  if (want && sv.n != want)
    return perr(p, CQ_ERR_MALFORMED, "expected %zu type parameter%s, got %zu", want,
                want > 1 ? "s" : "", sv.n);
  if (t->kind == CQ_TYPE_VECTOR && (sv.n != 1 || t->dimension == 0))
    return perr(p, CQ_ERR_MALFORMED, "expected VectorType(type, dimension)");
  if (t->kind == CQ_TYPE_TUPLE && sv.n == 0) return perr(p, CQ_ERR_MALFORMED, "expected a type");
  p->pos++; /* ')' */
  t->sub = sv.v;
  t->nsub = (uint16_t)sv.n;
  if (t->kind == CQ_TYPE_UDT) t->field_names = sv.names;
  return CQ_OK;
}

static int class_type(parser *p, const cq_type **out, int depth) {
  if (depth > CQ_TYPE_PARSE_MAX_DEPTH)
    return perr(p, CQ_ERR_TOO_LARGE, "nesting deeper than %d", CQ_TYPE_PARSE_MAX_DEPTH);
  skip_ws(p);
  size_t start = p->pos;
  while (p->pos < p->n && is_class_char((unsigned char)p->s[p->pos]))
    p->pos++;
  if (p->pos == start) return perr(p, CQ_ERR_MALFORMED, "expected a class name");
  const char *name = p->s + start;
  size_t nlen = p->pos - start;
  size_t name_end = p->pos;
  size_t plen = sizeof CQ_MARSHAL_PREFIX - 1;
  const char *shortname = NULL;
  size_t slen = 0;
  if (nlen > plen && memcmp(name, CQ_MARSHAL_PREFIX, plen) == 0) {
    shortname = name + plen;
    slen = nlen - plen;
  } else if (!memchr(name, '.', nlen)) {
    shortname = name;
    slen = nlen;
  }
  skip_ws(p);
  int has_params = peek(p) == '(';
  cq_type_kind kind = CQ_TYPE_CUSTOM;
  int wrapper = 0; /* 1 frozen, 2 reversed */
  if (shortname) {
    for (size_t i = 0; i < sizeof native_classes / sizeof native_classes[0]; i++)
      if (strlen(native_classes[i].name) == slen &&
          memcmp(native_classes[i].name, shortname, slen) == 0)
        kind = native_classes[i].kind;
#define IS(lit) (slen == sizeof(lit) - 1 && memcmp(shortname, lit, slen) == 0)
    if (has_params) {
      if (IS("ListType"))
        kind = CQ_TYPE_LIST;
      else if (IS("SetType"))
        kind = CQ_TYPE_SET;
      else if (IS("MapType"))
        kind = CQ_TYPE_MAP;
      else if (IS("TupleType"))
        kind = CQ_TYPE_TUPLE;
      else if (IS("UserType"))
        kind = CQ_TYPE_UDT;
      else if (IS("VectorType"))
        kind = CQ_TYPE_VECTOR;
      else if (IS("FrozenType"))
        wrapper = 1;
      else if (IS("ReversedType"))
        wrapper = 2;
    }
#undef IS
  }
  if (wrapper) {
    int rc;
    const cq_type *inner;
    if ((rc = expect(p, '(')) < 0) return rc;
    if ((rc = class_type(p, &inner, depth + 1)) < 0) return rc;
    if ((rc = expect(p, ')')) < 0) return rc;
    /* The inner node was built by this parse and is not shared: mark it. */
    cq_type *m = (cq_type *)inner;
    if (wrapper == 1)
      m->frozen = 1;
    else
      m->reversed = 1;
    *out = inner;
    return CQ_OK;
  }
  if (kind == CQ_TYPE_CUSTOM) {
    if (has_params) {
      int rc = skip_params(p);
      if (rc < 0) return rc;
    }
    /* Keep the class text as given, parameters included (not trailing
     * blanks). */
    size_t end = has_params ? p->pos : name_end;
    if (memchr(name, '\0', end - start)) {
      p->pos = start;
      return perr(p, CQ_ERR_MALFORMED, "expected a class name without NUL bytes");
    }
    cq_type *t = new_node(p, CQ_TYPE_CUSTOM);
    if (!t || !(t->custom_class = cq_arena_strndup(p->a, name, end - start))) return nomem(p);
    *out = t;
    return CQ_OK;
  }
  cq_type *t = new_node(p, kind);
  if (!t) return nomem(p);
  if (cq_type_kind_is_native(kind)) {
    if (has_params) return perr(p, CQ_ERR_MALFORMED, "expected no parameters for a native type");
  } else {
    int rc = class_params(p, t, depth);
    if (rc < 0) return rc;
  }
  *out = t;
  return CQ_OK;
}

int cq_type_parse_class(cq_arena *a, const char *s, size_t n, const cq_type **out, char *err,
                        size_t errcap) {
  parser p = {s ? s : "", s ? n : 0, 0, a, err, errcap};
  const cq_type *t;
  int rc = class_type(&p, &t, 0);
  if (rc < 0) return rc;
  skip_ws(&p);
  if (p.pos != p.n) return perr(&p, CQ_ERR_MALFORMED, "expected end of input");
  *out = t;
  return CQ_OK;
}

/* ========================= CQL type strings ========================= */

static const struct {
  const char *name;
  cq_type_kind kind;
} native_names[] = {
    {"ascii", CQ_TYPE_ASCII},         {"bigint", CQ_TYPE_BIGINT},
    {"blob", CQ_TYPE_BLOB},           {"boolean", CQ_TYPE_BOOLEAN},
    {"counter", CQ_TYPE_COUNTER},     {"date", CQ_TYPE_DATE},
    {"decimal", CQ_TYPE_DECIMAL},     {"double", CQ_TYPE_DOUBLE},
    {"duration", CQ_TYPE_DURATION},   {"float", CQ_TYPE_FLOAT},
    {"inet", CQ_TYPE_INET},           {"int", CQ_TYPE_INT},
    {"smallint", CQ_TYPE_SMALLINT},   {"text", CQ_TYPE_VARCHAR},
    {"varchar", CQ_TYPE_VARCHAR},     {"time", CQ_TYPE_TIME},
    {"timestamp", CQ_TYPE_TIMESTAMP}, {"timeuuid", CQ_TYPE_TIMEUUID},
    {"tinyint", CQ_TYPE_TINYINT},     {"uuid", CQ_TYPE_UUID},
    {"varint", CQ_TYPE_VARINT},
};

static int cql_type(parser *p, const cq_type **out, int depth);

/* A quoted string starting at the current quote character, where a doubled
 * quote stands for one: copied unquoted and NUL-terminated into the arena
 * (*out, *len). An unterminated string fails with `unclosed` at its start. */
static int scan_quoted(parser *p, char quote, const char *unclosed, char **out, size_t *len) {
  size_t start = p->pos++;
  char *buf = cq_arena_alloc(p->a, p->n - p->pos + 1);
  size_t k = 0;
  if (!buf) return nomem(p);
  for (;;) {
    if (p->pos >= p->n) {
      p->pos = start;
      return perr(p, CQ_ERR_MALFORMED, "%s", unclosed);
    }
    char c = p->s[p->pos++];
    if (c == quote) {
      if (peek(p) != quote) break;
      p->pos++;
    }
    buf[k++] = c;
  }
  buf[k] = '\0';
  *out = buf;
  *len = k;
  return CQ_OK;
}

/* An identifier: unquoted (lower-cased) or "Quoted" ("" escapes a quote). */
static int cql_ident(parser *p, const char **out) {
  skip_ws(p);
  if (peek(p) == '"') {
    size_t start = p->pos;
    char *buf;
    size_t k;
    int rc = scan_quoted(p, '"', "expected a closing '\"'", &buf, &k);
    if (rc < 0) return rc;
    if (k == 0 || strlen(buf) != k) {
      p->pos = start;
      return perr(p, CQ_ERR_MALFORMED, "expected a non-empty identifier");
    }
    *out = buf;
    return CQ_OK;
  }
  size_t start = p->pos;
  while (p->pos < p->n && is_word_char((unsigned char)p->s[p->pos]))
    p->pos++;
  if (p->pos == start) return perr(p, CQ_ERR_MALFORMED, "expected a type");
  char *buf = cq_arena_strndup(p->a, p->s + start, p->pos - start);
  if (!buf) return nomem(p);
  for (char *c = buf; *c; c++)
    *c = (char)lc((unsigned char)*c);
  *out = buf;
  return CQ_OK;
}

static int cql_params(parser *p, cq_type *t, size_t want, int depth) {
  subvec sv = {0};
  int rc;
  if ((rc = expect(p, '<')) < 0) return rc;
  for (;;) {
    const cq_type *sub;
    if ((rc = cql_type(p, &sub, depth + 1)) < 0) return rc;
    if ((rc = subvec_push(p, &sv, sub, NULL)) < 0) return rc;
    skip_ws(p);
    if (t->kind == CQ_TYPE_VECTOR) {
      if ((rc = expect(p, ',')) < 0) return rc;
      if ((rc = read_uint(p, &t->dimension)) < 0) return rc;
      break;
    }
    if (want && sv.n == want) break;
    if (peek(p) != ',') {
      if (!want) break;
      return perr(p, CQ_ERR_MALFORMED, "expected ','");
    }
    p->pos++;
  }
  if ((rc = expect(p, '>')) < 0) return rc;
  t->sub = sv.v;
  t->nsub = (uint16_t)sv.n;
  return CQ_OK;
}

static int cql_type(parser *p, const cq_type **out, int depth) {
  if (depth > CQ_TYPE_PARSE_MAX_DEPTH)
    return perr(p, CQ_ERR_TOO_LARGE, "nesting deeper than %d", CQ_TYPE_PARSE_MAX_DEPTH);
  skip_ws(p);
  int c = peek(p);
  if (c == '\'') {
    /* A custom type given by its class name: 'org.example.MyType'. */
    size_t start = p->pos;
    char *buf;
    size_t k;
    int rc = scan_quoted(p, '\'', "expected a closing quote", &buf, &k);
    if (rc < 0) return rc;
    if (strlen(buf) != k) {
      p->pos = start;
      return perr(p, CQ_ERR_MALFORMED, "expected a class name without NUL bytes");
    }
    cq_type *t = new_node(p, CQ_TYPE_CUSTOM);
    if (!t) return nomem(p);
    t->custom_class = buf;
    *out = t;
    return CQ_OK;
  }
  size_t start = p->pos;
  int quoted = c == '"';
  const char *word;
  int rc = cql_ident(p, &word);
  if (rc < 0) return rc;
  skip_ws(p);
  int next = peek(p);
  if (!quoted && next == '<') {
    cq_type_kind kind;
    size_t want = 0;
    if (!strcmp(word, "frozen")) {
      size_t at = p->pos;
      const cq_type *inner;
      if ((rc = expect(p, '<')) < 0) return rc;
      if ((rc = cql_type(p, &inner, depth + 1)) < 0) return rc;
      if ((rc = expect(p, '>')) < 0) return rc;
      if (cq_type_kind_is_native(inner->kind) || inner->kind == CQ_TYPE_CUSTOM) {
        p->pos = at;
        return perr(p, CQ_ERR_MALFORMED,
                    "expected a collection, tuple, user type or vector inside frozen<>");
      }
      ((cq_type *)inner)->frozen = 1; /* built by this parse, not shared */
      *out = inner;
      return CQ_OK;
    } else if (!strcmp(word, "list")) {
      kind = CQ_TYPE_LIST, want = 1;
    } else if (!strcmp(word, "set")) {
      kind = CQ_TYPE_SET, want = 1;
    } else if (!strcmp(word, "map")) {
      kind = CQ_TYPE_MAP, want = 2;
    } else if (!strcmp(word, "tuple")) {
      kind = CQ_TYPE_TUPLE;
    } else if (!strcmp(word, "vector")) {
      kind = CQ_TYPE_VECTOR, want = 1;
    } else {
      p->pos = start;
      return perr(p, CQ_ERR_MALFORMED,
                  "expected frozen, list, set, map, tuple or vector before '<'");
    }
    cq_type *t = new_node(p, kind);
    if (!t) return nomem(p);
    if ((rc = cql_params(p, t, want, depth)) < 0) return rc;
    *out = t;
    return CQ_OK;
  }
  if (!quoted && next != '.') {
    for (size_t i = 0; i < sizeof native_names / sizeof native_names[0]; i++) {
      if (!strcmp(word, native_names[i].name)) {
        cq_type *t = new_node(p, native_names[i].kind);
        if (!t) return nomem(p);
        *out = t;
        return CQ_OK;
      }
    }
    static const char *const reserved[] = {"frozen", "list", "set", "map", "tuple", "vector"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
      if (!strcmp(word, reserved[i])) return perr(p, CQ_ERR_MALFORMED, "expected '<'");
  }
  /* A user type reference: name or keyspace.name, resolved by the caller. */
  cq_type *t = new_node(p, CQ_TYPE_UDT);
  if (!t) return nomem(p);
  if (next == '.') {
    p->pos++;
    t->keyspace = word;
    if ((rc = cql_ident(p, &t->name)) < 0) return rc;
  } else {
    t->name = word;
  }
  *out = t;
  return CQ_OK;
}

int cq_type_parse_cql(cq_arena *a, const char *s, size_t n, const cq_type **out, char *err,
                      size_t errcap) {
  parser p = {s ? s : "", s ? n : 0, 0, a, err, errcap};
  const cq_type *t;
  int rc = cql_type(&p, &t, 0);
  if (rc < 0) return rc;
  skip_ws(&p);
  if (p.pos != p.n) return perr(&p, CQ_ERR_MALFORMED, "expected end of input");
  *out = t;
  return CQ_OK;
}
