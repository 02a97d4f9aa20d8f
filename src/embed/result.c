/* Results: the row cursor over the pages of a ResultSet.
 *
 * cql.embed writes a pointer to the page's decoded response (its RESULT
 * body stays alive in the ResultSet the handle references); the cells are
 * decoded here once per page with cq_rows_decode and read directly by the
 * getters. Only cqlua_result_get_text of non-text types calls into Lua. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/message.h"
#include "../core/type_util.h"
#include "embed_internal.h"

#define BAD_NULL(what) embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL, "%s is NULL", what)

static int push_page(lua_State *L, embed_call_t *c) {
  cqlua_result *r = c->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref);
  lua_pushlightuserdata(L, &r->info);
  return 2;
}

static void free_columns(cqlua_result *r) {
  for (size_t i = 0; i < r->ncols; i++) {
    if (r->names) free(r->names[i]);
    if (r->type_names) free(r->type_names[i]);
  }
  free(r->names);
  free(r->type_names);
  free(r->kinds);
  free(r->types);
  r->names = r->type_names = NULL;
  r->kinds = NULL;
  r->types = NULL;
  r->ncols = 0;
}

/* Reads the columns of the first page. */
static int setup_columns(cqlua_result *r) {
  const cq_response *resp = r->info.response;
  if (!resp) return CQLUA_OK;
  const cq_rows_meta *m = &resp->u.result.meta;
  size_t n = m->column_count > 0 ? (size_t)m->column_count : 0;
  r->names = calloc(n ? n : 1, sizeof *r->names);
  r->type_names = calloc(n ? n : 1, sizeof *r->type_names);
  r->kinds = calloc(n ? n : 1, sizeof *r->kinds);
  r->types = calloc(n ? n : 1, sizeof *r->types);
  if (!r->names || !r->type_names || !r->kinds || !r->types) goto oom;
  r->ncols = n;
  cq_buf b;
  cq_buf_init(&b);
  for (size_t i = 0; i < n; i++) {
    const cq_col_spec *col = &m->columns[i];
    r->names[i] = embed_strdup(col->name.p ? col->name.p : "", col->name.p ? col->name.len : 0);
    r->kinds[i] = (int)col->type->kind;
    cq_buf_reset(&b);
    cq_type_to_cql(&b, col->type);
    r->type_names[i] = embed_strdup((const char *)b.data, b.data ? b.len : 0);
    if (!r->names[i] || !r->type_names[i]) {
      cq_buf_free(&b);
      goto oom;
    }
  }
  cq_buf_free(&b);
  return CQLUA_OK;
oom:
  return embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "cannot allocate the result's columns");
}

/* Decodes the current page's cells. */
static int decode_page(cqlua_result *r) {
  r->nrows = 0;
  r->row = 0;
  const cq_response *resp = r->info.response;
  if (!resp || r->ncols == 0) return CQLUA_OK;
  const cq_result *res = &resp->u.result;
  if ((size_t)res->meta.column_count != r->ncols)
    return embed_fail(CQLUA_ERR_DRIVER, "ProtocolException",
                      "a page has %d columns, the first had %zu", res->meta.column_count, r->ncols);
  for (size_t i = 0; i < r->ncols; i++)
    r->types[i] = res->meta.columns[i].type;
  char err[256];
  if (cq_rows_decode(&r->page, r->types, r->ncols, res->row_count, res->rows, res->rows_len, err,
                     sizeof err) < 0)
    return embed_fail(CQLUA_ERR_DRIVER, "ProtocolException", "malformed rows: %s", err);
  r->nrows = r->page.nrows;
  return CQLUA_OK;
}

cqlua_result *embed_result_open(cqlua_cluster *cl, int ref) {
  cqlua_result *r = calloc(1, sizeof *r);
  if (!r) {
    embed_unref(cl, ref);
    embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "cannot allocate a result");
    return NULL;
  }
  r->cl = cl;
  r->ref = ref;
  cq_rows_init(&r->page);
  embed_cluster_retain(cl);
  embed_call_t c = {cl, "page", push_page, NULL, r, 0};
  if (embed_call(&c) != CQLUA_OK || setup_columns(r) != CQLUA_OK || decode_page(r) != CQLUA_OK) {
    cqlua_result_free(r);
    return NULL;
  }
  return r;
}

void cqlua_result_free(cqlua_result *result) {
  if (!result) return;
  free_columns(result);
  cq_rows_free(&result->page);
  free(result->text);
  embed_unref(result->cl, result->ref);
  embed_cluster_release(result->cl);
  free(result);
}

size_t cqlua_result_column_count(const cqlua_result *result) { return result ? result->ncols : 0; }

const char *cqlua_result_column_name(const cqlua_result *result, size_t index) {
  if (!result || index >= result->ncols) return NULL;
  return result->names[index];
}

int cqlua_result_column_index(const cqlua_result *result, const char *name) {
  if (!result) return BAD_NULL("result");
  if (!name) return BAD_NULL("name");
  for (size_t i = 0; i < result->ncols; i++)
    if (strcmp(result->names[i], name) == 0) return (int)i;
  return embed_fail(CQLUA_ERR_NOT_FOUND, NULL, "no column named '%s' in the result", name);
}

cqlua_value_type cqlua_result_column_type(const cqlua_result *result, size_t index) {
  if (!result || index >= result->ncols) return CQLUA_TYPE_UNKNOWN;
  return (cqlua_value_type)result->kinds[index];
}

const char *cqlua_result_column_type_name(const cqlua_result *result, size_t index) {
  if (!result || index >= result->ncols) return NULL;
  return result->type_names[index];
}

size_t cqlua_result_page_row_count(const cqlua_result *result) {
  return result ? result->nrows : 0;
}

int cqlua_result_has_more_pages(const cqlua_result *result) {
  return result && result->info.has_more ? 1 : 0;
}

const void *cqlua_result_paging_state(const cqlua_result *result, size_t *len) {
  if (len) *len = 0;
  if (!result || !result->info.paging_state) return NULL;
  if (len) *len = result->info.paging_state_len;
  return result->info.paging_state;
}

int cqlua_result_next(cqlua_result *result) {
  if (!result) return BAD_NULL("result");
  if (result->ended) return 0;
  if (result->row < result->nrows) {
    result->row++;
    return 1;
  }
  while (result->info.has_more) {
    embed_call_t c = {result->cl, "next_page", push_page, NULL, result, 0};
    int rc = embed_call(&c);
    if (rc == CQLUA_OK) rc = decode_page(result);
    embed_drain(result->cl);
    if (rc != CQLUA_OK) {
      result->ended = 1;
      result->nrows = result->row = 0;
      return rc;
    }
    if (result->nrows > 0) {
      result->row = 1;
      return 1;
    }
  }
  result->ended = 1;
  result->row = result->nrows + 1;
  return 0;
}

/* The current row's cell of column idx, checking the column type with ok
 * (NULL: any); NULL values give CQLUA_ERR_NULL_VALUE. */
static int cell_at(const cqlua_result *r, size_t idx, const char *want, int (*ok)(int),
                   const cq_cell **out) {
  if (!r) return BAD_NULL("result");
  if (r->row == 0 || r->row > r->nrows)
    return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL,
                      "no current row (call cqlua_result_next first; it returned 1?)");
  if (idx >= r->ncols)
    return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL, "column %zu is out of range (%zu columns)", idx,
                      r->ncols);
  if (ok && !ok(r->kinds[idx]))
    return embed_fail(CQLUA_ERR_WRONG_TYPE, NULL, "column %zu '%s' is %s, not %s", idx,
                      r->names[idx], r->type_names[idx], want);
  const cq_cell *c = cq_rows_cell(&r->page, r->row - 1, idx);
  if (!c) return embed_fail(CQLUA_ERR_INTERNAL, NULL, "no cell for column %zu", idx);
  if (c->kind == CQ_CELL_NULL || c->kind == CQ_CELL_EMPTY)
    return embed_fail(CQLUA_ERR_NULL_VALUE, NULL, "column %zu '%s' is NULL in this row", idx,
                      r->names[idx]);
  *out = c;
  return CQLUA_OK;
}

static int is_int32(int t) {
  return t == CQLUA_TYPE_INT || t == CQLUA_TYPE_SMALLINT || t == CQLUA_TYPE_TINYINT;
}
static int is_int64(int t) {
  return is_int32(t) || t == CQLUA_TYPE_BIGINT || t == CQLUA_TYPE_COUNTER ||
         t == CQLUA_TYPE_TIMESTAMP || t == CQLUA_TYPE_TIME || t == CQLUA_TYPE_DATE;
}
static int is_double(int t) { return t == CQLUA_TYPE_DOUBLE || t == CQLUA_TYPE_FLOAT; }
static int is_float(int t) { return t == CQLUA_TYPE_FLOAT; }
static int is_bool(int t) { return t == CQLUA_TYPE_BOOLEAN; }
static int is_text(int t) { return t == CQLUA_TYPE_TEXT || t == CQLUA_TYPE_ASCII; }
static int is_bytes(int t) { return is_text(t) || t == CQLUA_TYPE_BLOB || t == CQLUA_TYPE_CUSTOM; }
static int is_uuid(int t) { return t == CQLUA_TYPE_UUID || t == CQLUA_TYPE_TIMEUUID; }

int cqlua_result_is_null(const cqlua_result *result, size_t index) {
  const cq_cell *c = NULL;
  int rc = cell_at(result, index, NULL, NULL, &c);
  if (rc == CQLUA_ERR_NULL_VALUE) return 1;
  return rc < 0 ? rc : 0;
}

int cqlua_result_get_int32(const cqlua_result *result, size_t index, int32_t *out) {
  const cq_cell *c = NULL;
  if (!out) return BAD_NULL("out");
  int rc = cell_at(result, index, "an int32 (int, smallint, tinyint)", is_int32, &c);
  if (rc == CQLUA_OK) *out = (int32_t)c->i;
  return rc;
}

int cqlua_result_get_int64(const cqlua_result *result, size_t index, int64_t *out) {
  const cq_cell *c = NULL;
  if (!out) return BAD_NULL("out");
  int rc = cell_at(result, index, "an int64 (bigint, counter, integers, timestamp, time, date)",
                   is_int64, &c);
  if (rc == CQLUA_OK) *out = c->i;
  return rc;
}

int cqlua_result_get_double(const cqlua_result *result, size_t index, double *out) {
  const cq_cell *c = NULL;
  if (!out) return BAD_NULL("out");
  int rc = cell_at(result, index, "a double (double, float)", is_double, &c);
  if (rc == CQLUA_OK) *out = c->d;
  return rc;
}

int cqlua_result_get_float(const cqlua_result *result, size_t index, float *out) {
  const cq_cell *c = NULL;
  if (!out) return BAD_NULL("out");
  int rc = cell_at(result, index, "a float", is_float, &c);
  if (rc == CQLUA_OK) *out = (float)c->d;
  return rc;
}

int cqlua_result_get_bool(const cqlua_result *result, size_t index, int *out) {
  const cq_cell *c = NULL;
  if (!out) return BAD_NULL("out");
  int rc = cell_at(result, index, "a boolean", is_bool, &c);
  if (rc == CQLUA_OK) *out = c->i != 0;
  return rc;
}

int cqlua_result_get_string(const cqlua_result *result, size_t index, const char **out,
                            size_t *len) {
  const cq_cell *c = NULL;
  if (!out || !len) return BAD_NULL("out");
  int rc = cell_at(result, index, "a string (text, ascii)", is_text, &c);
  if (rc != CQLUA_OK) return rc;
  *out = (const char *)result->page.src + c->off;
  *len = c->len;
  return CQLUA_OK;
}

int cqlua_result_get_bytes(const cqlua_result *result, size_t index, const uint8_t **out,
                           size_t *len) {
  const cq_cell *c = NULL;
  if (!out || !len) return BAD_NULL("out");
  int rc = cell_at(result, index, "bytes (blob, text, ascii, custom)", is_bytes, &c);
  if (rc != CQLUA_OK) return rc;
  *out = result->page.src + c->off;
  *len = c->len;
  return CQLUA_OK;
}

int cqlua_result_get_uuid(const cqlua_result *result, size_t index, cqlua_uuid *out) {
  const cq_cell *c = NULL;
  if (!out) return BAD_NULL("out");
  int rc = cell_at(result, index, "a UUID (uuid, timeuuid)", is_uuid, &c);
  if (rc != CQLUA_OK) return rc;
  if (c->len != 16) return embed_fail(CQLUA_ERR_DRIVER, NULL, "a UUID of %u bytes", c->len);
  memcpy(out->bytes, result->page.src + c->off, 16);
  return CQLUA_OK;
}

typedef struct text_args {
  cqlua_result *r;
  size_t col;
} text_args;

static int push_text(lua_State *L, embed_call_t *c) {
  text_args *a = c->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, a->r->ref);
  lua_pushinteger(L, (lua_Integer)a->r->row);
  lua_pushinteger(L, (lua_Integer)a->col + 1);
  return 3;
}

static void read_text(lua_State *L, embed_call_t *c, int first, int nres) {
  text_args *a = c->ctx;
  size_t len = 0;
  const char *s = lua_tolstring(L, first, &len);
  free(a->r->text);
  a->r->text = embed_strdup(s ? s : "", s ? len : 0);
  if (!a->r->text) luaL_error(L, "out of memory");
}

int cqlua_result_get_text(cqlua_result *result, size_t index, const char **out) {
  const cq_cell *c = NULL;
  if (!out) return BAD_NULL("out");
  *out = NULL;
  int rc = cell_at(result, index, NULL, NULL, &c);
  if (rc != CQLUA_OK) return rc;
  int t = result->kinds[index];
  char *text = NULL;
  if (is_text(t)) {
    text = embed_strdup((const char *)result->page.src + c->off, c->len);
  } else if (t == CQLUA_TYPE_BLOB) {
    static const char hex[] = "0123456789abcdef";
    text = malloc(2 + 2 * (size_t)c->len + 1);
    if (text) {
      const uint8_t *p = result->page.src + c->off;
      text[0] = '0';
      text[1] = 'x';
      for (size_t i = 0; i < c->len; i++) {
        text[2 + 2 * i] = hex[p[i] >> 4];
        text[3 + 2 * i] = hex[p[i] & 15];
      }
      text[2 + 2 * (size_t)c->len] = '\0';
    }
  } else {
    text_args a = {result, index};
    embed_call_t call = {result->cl, "value_text", push_text, read_text, &a, 0};
    rc = embed_call(&call);
    if (rc != CQLUA_OK) return rc;
    *out = result->text;
    return CQLUA_OK;
  }
  if (!text) return embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "out of memory");
  free(result->text);
  result->text = text;
  *out = text;
  return CQLUA_OK;
}
