/* Statements and binding (plain C until executed), and UUID helpers.
 *
 * A statement owns its CQL text, its slots (bound values, with copies of
 * strings and bytes) and its paging state. Bound statements hold a
 * reference to their prepared statement, whose marker types are checked as
 * values are bound. Values become Lua values only when executed
 * (embed_push_statement). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "embed_internal.h"

#define BAD_NULL(what) embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL, "%s is NULL", what)

/* ---- UUIDs ---------------------------------------------------------- */

void cqlua_uuid_to_string(const cqlua_uuid *uuid, char out[37]) {
  static const char hex[] = "0123456789abcdef";
  if (!out) return;
  if (!uuid) {
    out[0] = '\0';
    return;
  }
  size_t j = 0;
  for (size_t i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[j++] = '-';
    out[j++] = hex[uuid->bytes[i] >> 4];
    out[j++] = hex[uuid->bytes[i] & 15];
  }
  out[j] = '\0';
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int cqlua_uuid_from_string(const char *text, cqlua_uuid *out) {
  if (!text) return BAD_NULL("text");
  if (!out) return BAD_NULL("out");
  cqlua_uuid u;
  size_t j = 0;
  for (size_t i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') goto bad;
      continue;
    }
    int hi = hexval(text[i]);
    int lo = hi < 0 ? -1 : hexval(text[i + 1]);
    if (hi < 0 || lo < 0) goto bad;
    u.bytes[j++] = (uint8_t)(hi << 4 | lo);
    i++;
  }
  if (text[36] != '\0') goto bad;
  *out = u;
  return CQLUA_OK;
bad:
  return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL, "'%.40s' is not a UUID", text);
}

int cqlua_uuid_random(cqlua_uuid *out) {
  if (!out) return BAD_NULL("out");
  size_t got = 0;
  while (got < 16) {
    ssize_t n = getrandom(out->bytes + got, 16 - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  if (got < 16) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return embed_fail(CQLUA_ERR_INTERNAL, NULL, "no random source");
    got = 0;
    while (got < 16) {
      ssize_t n = read(fd, out->bytes + got, 16 - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += (size_t)n;
    }
    close(fd);
    if (got < 16) return embed_fail(CQLUA_ERR_INTERNAL, NULL, "cannot read /dev/urandom");
  }
  out->bytes[6] = (uint8_t)((out->bytes[6] & 0x0F) | 0x40);
  out->bytes[8] = (uint8_t)((out->bytes[8] & 0x3F) | 0x80);
  return CQLUA_OK;
}

/* ---- statements ------------------------------------------------------ */

static cqlua_statement *statement_alloc(void) {
  cqlua_statement *st = calloc(1, sizeof *st);
  if (!st) {
    embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "cannot allocate a statement");
    return NULL;
  }
  st->named = -1;
  st->consistency = -1;
  st->serial_consistency = -1;
  return st;
}

cqlua_statement *cqlua_statement_new(const char *cql) {
  if (!cql) {
    BAD_NULL("cql");
    return NULL;
  }
  cqlua_statement *st = statement_alloc();
  if (!st) return NULL;
  st->cql = embed_strdup(cql, strlen(cql));
  if (!st->cql) {
    free(st);
    embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "cannot copy the CQL text");
    return NULL;
  }
  return st;
}

cqlua_statement *cqlua_prepared_bind(cqlua_prepared *prepared) {
  if (!prepared) {
    BAD_NULL("prepared");
    return NULL;
  }
  cqlua_statement *st = statement_alloc();
  if (!st) return NULL;
  if (prepared->n) {
    st->slots = calloc(prepared->n, sizeof *st->slots);
    if (!st->slots) {
      free(st);
      embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "cannot allocate %zu values", prepared->n);
      return NULL;
    }
  }
  st->nslots = st->capslots = prepared->n;
  st->named = 0;
  st->prepared = prepared;
  prepared->refs++;
  return st;
}

static void slot_clear(cqlua_statement *st, slot *s) {
  free(s->bytes);
  if (s->kind == SLOT_LUA_REF && st->prepared) embed_unref(st->prepared->cl, s->ref);
  char *name = s->name;
  memset(s, 0, sizeof *s);
  s->name = name;
}

int cqlua_statement_clear(cqlua_statement *statement) {
  if (!statement) return BAD_NULL("statement");
  for (size_t i = 0; i < statement->nslots; i++) {
    slot_clear(statement, &statement->slots[i]);
    free(statement->slots[i].name);
    statement->slots[i].name = NULL;
  }
  if (!statement->prepared) {
    statement->nslots = 0;
    statement->named = -1;
  }
  return CQLUA_OK;
}

void cqlua_statement_free(cqlua_statement *statement) {
  if (!statement) return;
  cqlua_statement_clear(statement);
  free(statement->slots);
  free(statement->cql);
  free(statement->paging_state);
  if (statement->prepared) embed_prepared_release(statement->prepared);
  free(statement);
}

int cqlua_statement_set_consistency(cqlua_statement *statement, cqlua_consistency consistency) {
  if (!statement) return BAD_NULL("statement");
  if ((int)consistency < 0 || consistency > CQLUA_CONSISTENCY_LOCAL_ONE)
    return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL, "unknown consistency level %d",
                      (int)consistency);
  statement->consistency = (int)consistency;
  return CQLUA_OK;
}

int cqlua_statement_set_serial_consistency(cqlua_statement *statement,
                                           cqlua_consistency consistency) {
  if (!statement) return BAD_NULL("statement");
  if (consistency != CQLUA_CONSISTENCY_SERIAL && consistency != CQLUA_CONSISTENCY_LOCAL_SERIAL)
    return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL,
                      "the serial consistency must be SERIAL or LOCAL_SERIAL, not %d",
                      (int)consistency);
  statement->serial_consistency = (int)consistency;
  return CQLUA_OK;
}

int cqlua_statement_set_page_size(cqlua_statement *statement, int32_t rows) {
  if (!statement) return BAD_NULL("statement");
  if (rows <= 0) return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL, "page size %d is not > 0", rows);
  statement->page_size = rows;
  return CQLUA_OK;
}

int cqlua_statement_set_timeout(cqlua_statement *statement, int64_t timeout_ms) {
  if (!statement) return BAD_NULL("statement");
  if (timeout_ms <= 0)
    return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL, "timeout %lld ms is not > 0",
                      (long long)timeout_ms);
  statement->timeout_ms = timeout_ms;
  return CQLUA_OK;
}

int cqlua_statement_set_paging_state(cqlua_statement *statement, const void *state, size_t len) {
  if (!statement) return BAD_NULL("statement");
  free(statement->paging_state);
  statement->paging_state = NULL;
  statement->paging_state_len = 0;
  if (!state || len == 0) return CQLUA_OK;
  statement->paging_state = embed_strdup(state, len);
  if (!statement->paging_state) return embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "out of memory");
  statement->paging_state_len = len;
  return CQLUA_OK;
}

/* ---- binding ---------------------------------------------------------- */

static const char *slot_kind_name(int kind) {
  switch (kind) {
  case SLOT_INT32: return "an int32";
  case SLOT_INT64: return "an int64";
  case SLOT_DOUBLE: return "a double";
  case SLOT_FLOAT: return "a float";
  case SLOT_BOOL: return "a boolean";
  case SLOT_STRING: return "a string";
  case SLOT_BYTES: return "bytes";
  case SLOT_UUID: return "a UUID";
  default: return "a value";
  }
}

static int in_range(int kind, int64_t v) {
  switch (kind) {
  case CQLUA_TYPE_INT: return v >= INT32_MIN && v <= INT32_MAX;
  case CQLUA_TYPE_SMALLINT: return v >= -32768 && v <= 32767;
  case CQLUA_TYPE_TINYINT: return v >= -128 && v <= 127;
  default: return 1;
  }
}

/* Whether a value of slot kind `k` suits a marker of CQL type `t`. */
static int suits(int k, int t) {
  switch (k) {
  case SLOT_INT32:
    return t == CQLUA_TYPE_INT || t == CQLUA_TYPE_SMALLINT || t == CQLUA_TYPE_TINYINT ||
           t == CQLUA_TYPE_BIGINT || t == CQLUA_TYPE_COUNTER || t == CQLUA_TYPE_VARINT;
  case SLOT_INT64:
    return t == CQLUA_TYPE_BIGINT || t == CQLUA_TYPE_COUNTER || t == CQLUA_TYPE_TIMESTAMP ||
           t == CQLUA_TYPE_VARINT || t == CQLUA_TYPE_INT || t == CQLUA_TYPE_SMALLINT ||
           t == CQLUA_TYPE_TINYINT;
  case SLOT_DOUBLE:
  case SLOT_FLOAT: return t == CQLUA_TYPE_DOUBLE || t == CQLUA_TYPE_FLOAT;
  case SLOT_BOOL: return t == CQLUA_TYPE_BOOLEAN;
  case SLOT_STRING: return t == CQLUA_TYPE_TEXT || t == CQLUA_TYPE_ASCII;
  case SLOT_BYTES: return t == CQLUA_TYPE_BLOB || t == CQLUA_TYPE_CUSTOM;
  case SLOT_UUID: return t == CQLUA_TYPE_UUID || t == CQLUA_TYPE_TIMEUUID;
  default: return 1;
  }
}

/* Finds (or makes) the slot for index / name, checking the marker. */
static int slot_for(cqlua_statement *st, size_t index, const char *name, slot **out) {
  if (!st) return BAD_NULL("statement");
  if (st->prepared) {
    cqlua_prepared *p = st->prepared;
    if (name) {
      size_t i;
      for (i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0) break;
      if (i == p->n)
        return embed_fail(CQLUA_ERR_NOT_FOUND, NULL, "no marker named '%s' in the statement", name);
      index = i;
    } else if (index >= p->n) {
      return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL,
                        "marker index %zu is out of range (the statement has %zu)", index, p->n);
    }
    *out = &st->slots[index];
    return (int)index;
  }
  int want_named = name != NULL;
  if (st->named >= 0 && st->named != want_named)
    return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL,
                      "the statement mixes values bound by position and by name");
  size_t at = index;
  if (name) {
    for (at = 0; at < st->nslots; at++)
      if (strcmp(st->slots[at].name, name) == 0) break;
  } else if (index > 65535) {
    return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL, "index %zu is out of range", index);
  }
  if (at >= st->capslots) {
    size_t cap = st->capslots ? st->capslots * 2 : 8;
    while (cap <= at)
      cap *= 2;
    slot *s = realloc(st->slots, cap * sizeof *s);
    if (!s) return embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "cannot allocate values");
    memset(s + st->capslots, 0, (cap - st->capslots) * sizeof *s);
    st->slots = s;
    st->capslots = cap;
  }
  if (name && at == st->nslots) {
    st->slots[at].name = embed_strdup(name, strlen(name));
    if (!st->slots[at].name) return embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "out of memory");
  }
  if (at >= st->nslots) st->nslots = at + 1;
  st->named = want_named;
  *out = &st->slots[at];
  return (int)at;
}

static int check_marker(cqlua_statement *st, int i, int kind, int64_t ival) {
  if (!st->prepared) return CQLUA_OK;
  cqlua_prepared *p = st->prepared;
  int t = p->kinds[i];
  if (!suits(kind, t))
    return embed_fail(CQLUA_ERR_WRONG_TYPE, NULL, "marker %d '%s' is %s: cannot bind %s to it", i,
                      p->names[i], p->type_names[i], slot_kind_name(kind));
  if ((kind == SLOT_INT32 || kind == SLOT_INT64) && !in_range(t, ival))
    return embed_fail(CQLUA_ERR_WRONG_TYPE, NULL, "marker %d '%s' is %s: %lld is out of its range",
                      i, p->names[i], p->type_names[i], (long long)ival);
  return CQLUA_OK;
}

/* Binds a plain value (everything but Lua expressions). */
static int bind(cqlua_statement *st, size_t index, const char *name, int kind, int64_t i, double d,
                const void *bytes, size_t len, const cqlua_uuid *u) {
  slot *s = NULL;
  int at = slot_for(st, index, name, &s);
  if (at < 0) return at;
  int rc = check_marker(st, at, kind, i);
  if (rc != CQLUA_OK) return rc;
  char *copy = NULL;
  if (kind == SLOT_STRING || kind == SLOT_BYTES) {
    copy = embed_strdup(bytes, len);
    if (!copy) return embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "cannot copy %zu bytes", len);
  }
  slot_clear(st, s);
  s->kind = kind;
  s->i = i;
  s->d = d;
  s->bytes = copy;
  s->len = len;
  if (u) s->u = *u;
  return CQLUA_OK;
}

int cqlua_statement_bind_null(cqlua_statement *st, size_t index) {
  return bind(st, index, NULL, SLOT_NULL, 0, 0, NULL, 0, NULL);
}
int cqlua_statement_bind_null_by_name(cqlua_statement *st, const char *name) {
  if (!name) return BAD_NULL("name");
  return bind(st, 0, name, SLOT_NULL, 0, 0, NULL, 0, NULL);
}
int cqlua_statement_bind_unset(cqlua_statement *st, size_t index) {
  return bind(st, index, NULL, SLOT_UNSET, 0, 0, NULL, 0, NULL);
}
int cqlua_statement_bind_unset_by_name(cqlua_statement *st, const char *name) {
  if (!name) return BAD_NULL("name");
  return bind(st, 0, name, SLOT_UNSET, 0, 0, NULL, 0, NULL);
}
int cqlua_statement_bind_int32(cqlua_statement *st, size_t index, int32_t v) {
  return bind(st, index, NULL, SLOT_INT32, v, 0, NULL, 0, NULL);
}
int cqlua_statement_bind_int32_by_name(cqlua_statement *st, const char *name, int32_t v) {
  if (!name) return BAD_NULL("name");
  return bind(st, 0, name, SLOT_INT32, v, 0, NULL, 0, NULL);
}
int cqlua_statement_bind_int64(cqlua_statement *st, size_t index, int64_t v) {
  return bind(st, index, NULL, SLOT_INT64, v, 0, NULL, 0, NULL);
}
int cqlua_statement_bind_int64_by_name(cqlua_statement *st, const char *name, int64_t v) {
  if (!name) return BAD_NULL("name");
  return bind(st, 0, name, SLOT_INT64, v, 0, NULL, 0, NULL);
}
int cqlua_statement_bind_double(cqlua_statement *st, size_t index, double v) {
  return bind(st, index, NULL, SLOT_DOUBLE, 0, v, NULL, 0, NULL);
}
int cqlua_statement_bind_double_by_name(cqlua_statement *st, const char *name, double v) {
  if (!name) return BAD_NULL("name");
  return bind(st, 0, name, SLOT_DOUBLE, 0, v, NULL, 0, NULL);
}
int cqlua_statement_bind_float(cqlua_statement *st, size_t index, float v) {
  return bind(st, index, NULL, SLOT_FLOAT, 0, v, NULL, 0, NULL);
}
int cqlua_statement_bind_float_by_name(cqlua_statement *st, const char *name, float v) {
  if (!name) return BAD_NULL("name");
  return bind(st, 0, name, SLOT_FLOAT, 0, v, NULL, 0, NULL);
}
int cqlua_statement_bind_bool(cqlua_statement *st, size_t index, int v) {
  return bind(st, index, NULL, SLOT_BOOL, v != 0, 0, NULL, 0, NULL);
}
int cqlua_statement_bind_bool_by_name(cqlua_statement *st, const char *name, int v) {
  if (!name) return BAD_NULL("name");
  return bind(st, 0, name, SLOT_BOOL, v != 0, 0, NULL, 0, NULL);
}
int cqlua_statement_bind_string(cqlua_statement *st, size_t index, const char *v) {
  if (!v) return BAD_NULL("value");
  return bind(st, index, NULL, SLOT_STRING, 0, 0, v, strlen(v), NULL);
}
int cqlua_statement_bind_string_by_name(cqlua_statement *st, const char *name, const char *v) {
  if (!name) return BAD_NULL("name");
  if (!v) return BAD_NULL("value");
  return bind(st, 0, name, SLOT_STRING, 0, 0, v, strlen(v), NULL);
}
int cqlua_statement_bind_string_n(cqlua_statement *st, size_t index, const char *v, size_t len) {
  if (!v && len) return BAD_NULL("value");
  return bind(st, index, NULL, SLOT_STRING, 0, 0, v, len, NULL);
}
int cqlua_statement_bind_string_n_by_name(cqlua_statement *st, const char *name, const char *v,
                                          size_t len) {
  if (!name) return BAD_NULL("name");
  if (!v && len) return BAD_NULL("value");
  return bind(st, 0, name, SLOT_STRING, 0, 0, v, len, NULL);
}
int cqlua_statement_bind_bytes(cqlua_statement *st, size_t index, const void *v, size_t len) {
  if (!v && len) return BAD_NULL("value");
  return bind(st, index, NULL, SLOT_BYTES, 0, 0, v, len, NULL);
}
int cqlua_statement_bind_bytes_by_name(cqlua_statement *st, const char *name, const void *v,
                                       size_t len) {
  if (!name) return BAD_NULL("name");
  if (!v && len) return BAD_NULL("value");
  return bind(st, 0, name, SLOT_BYTES, 0, 0, v, len, NULL);
}
int cqlua_statement_bind_uuid(cqlua_statement *st, size_t index, cqlua_uuid v) {
  return bind(st, index, NULL, SLOT_UUID, 0, 0, NULL, 0, &v);
}
int cqlua_statement_bind_uuid_by_name(cqlua_statement *st, const char *name, cqlua_uuid v) {
  if (!name) return BAD_NULL("name");
  return bind(st, 0, name, SLOT_UUID, 0, 0, NULL, 0, &v);
}

/* Lua expressions: evaluated and checked now for a prepared statement. */
typedef struct lua_bind {
  cqlua_prepared *p;
  const char *expr;
  int index;
  int ref;
} lua_bind;

static int push_eval(lua_State *L, embed_call_t *c) {
  lua_bind *b = c->ctx;
  lua_pushstring(L, b->expr);
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->p->ref);
  lua_pushinteger(L, b->index);
  return 3;
}

static void read_eval(lua_State *L, embed_call_t *c, int first, int nres) {
  lua_pushvalue(L, first);
  ((lua_bind *)c->ctx)->ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static int bind_lua(cqlua_statement *st, size_t index, const char *name, const char *expr) {
  if (!expr) return BAD_NULL("expression");
  slot *s = NULL;
  int at = slot_for(st, index, name, &s);
  if (at < 0) return at;
  if (st->prepared) {
    lua_bind b = {st->prepared, expr, at, LUA_NOREF};
    embed_call_t c = {st->prepared->cl, "eval_value", push_eval, read_eval, &b, 0};
    int rc = embed_call(&c);
    if (rc != CQLUA_OK) {
      embed_unref(st->prepared->cl, b.ref);
      return rc;
    }
    slot_clear(st, s);
    s->kind = SLOT_LUA_REF;
    s->ref = b.ref;
    return CQLUA_OK;
  }
  char *copy = embed_strdup(expr, strlen(expr));
  if (!copy) return embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "out of memory");
  slot_clear(st, s);
  s->kind = SLOT_LUA_TEXT;
  s->bytes = copy;
  s->len = strlen(expr);
  return CQLUA_OK;
}

int cqlua_statement_bind_lua(cqlua_statement *st, size_t index, const char *expr) {
  return bind_lua(st, index, NULL, expr);
}
int cqlua_statement_bind_lua_by_name(cqlua_statement *st, const char *name, const char *expr) {
  if (!name) return BAD_NULL("name");
  return bind_lua(st, 0, name, expr);
}

/* ---- into Lua ------------------------------------------------------------ */

/* Pushes slot s's value (nothing for NULL: returns 0). embed is the index
 * of the cql.embed table. Lua expressions of simple statements go into the
 * exprs table instead (evaluated by cql.embed.execute, where errors are
 * reported properly). */
static int push_slot(lua_State *L, const slot *s, int embed) {
  switch (s->kind) {
  case SLOT_NONE:
  case SLOT_NULL:
  case SLOT_LUA_TEXT: return 0;
  case SLOT_UNSET: lua_getfield(L, embed, "UNSET"); return 1;
  case SLOT_INT32:
  case SLOT_DOUBLE:
  case SLOT_FLOAT: lua_pushnumber(L, s->kind == SLOT_INT32 ? (lua_Number)s->i : s->d); return 1;
  case SLOT_INT64:
    lua_getfield(L, embed, "i64");
    lua_pushlightuserdata(L, (void *)&s->i);
    lua_call(L, 1, 1);
    return 1;
  case SLOT_BOOL: lua_pushboolean(L, (int)s->i); return 1;
  case SLOT_STRING:
  case SLOT_BYTES: lua_pushlstring(L, s->bytes ? s->bytes : "", s->len); return 1;
  case SLOT_UUID:
    lua_getfield(L, embed, "uuid");
    lua_pushlstring(L, (const char *)s->u.bytes, 16);
    lua_call(L, 1, 1);
    return 1;
  case SLOT_LUA_REF: lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref); return 1;
  default: return 0;
  }
}

int embed_push_statement(lua_State *L, const cqlua_statement *st, cqlua_cluster *cl) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, cl->embed_ref);
  int embed = lua_gettop(L);
  /* The statement. */
  if (st->prepared)
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->prepared->ref);
  else
    lua_pushstring(L, st->cql);
  /* The values. */
  int has_exprs = 0;
  if (!st->prepared && st->nslots == 0) {
    lua_pushnil(L);
  } else {
    lua_createtable(L, (int)(st->named == 1 ? 0 : st->nslots),
                    st->named == 1 ? (int)st->nslots : 1);
    for (size_t i = 0; i < st->nslots; i++) {
      const slot *s = &st->slots[i];
      if (s->kind == SLOT_LUA_TEXT) has_exprs = 1;
      if (!push_slot(L, s, embed)) continue;
      if (st->named == 1)
        lua_setfield(L, -2, s->name);
      else
        lua_rawseti(L, -2, (int)i + 1);
    }
    if (st->named != 1) {
      lua_pushinteger(L, (lua_Integer)st->nslots);
      lua_setfield(L, -2, "n");
    }
  }
  /* The options. */
  lua_createtable(L, 0, 5);
  if (st->consistency >= 0) {
    lua_pushinteger(L, st->consistency);
    lua_setfield(L, -2, "consistency_level");
  }
  if (st->serial_consistency >= 0) {
    lua_pushinteger(L, st->serial_consistency);
    lua_setfield(L, -2, "serial_consistency_level");
  }
  if (st->page_size > 0) {
    lua_pushinteger(L, st->page_size);
    lua_setfield(L, -2, "fetch_size");
  }
  if (st->timeout_ms > 0) {
    lua_pushnumber(L, (lua_Number)st->timeout_ms / 1000.0);
    lua_setfield(L, -2, "timeout");
  }
  if (st->paging_state) {
    lua_pushlstring(L, st->paging_state, st->paging_state_len);
    lua_setfield(L, -2, "paging_state");
  }
  /* Lua expressions of a simple statement. */
  if (!has_exprs) {
    lua_pushnil(L);
  } else {
    lua_newtable(L);
    for (size_t i = 0; i < st->nslots; i++) {
      const slot *s = &st->slots[i];
      if (s->kind != SLOT_LUA_TEXT) continue;
      if (st->named == 1)
        lua_pushstring(L, s->name);
      else
        lua_pushinteger(L, (lua_Integer)i + 1);
      lua_pushlstring(L, s->bytes, s->len);
      lua_settable(L, -3);
    }
  }
  lua_remove(L, embed);
  return 4;
}
