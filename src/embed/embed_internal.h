/* Internals of the embedding API (include/cqlua.h): the handles' layouts
 * and the bridge into the cluster's Lua state.
 *
 * Every interaction with Lua goes through embed_call: it runs
 * `cql.embed.call(name, ...)` under lua_cpcall, so no Lua error (not even
 * out of memory) can unwind through the application, and records failures
 * as the thread's last error. Handles reference Lua objects through the
 * registry (luaL_ref) and drop them in their _free. */
#ifndef CQLUA_EMBED_INTERNAL_H
#define CQLUA_EMBED_INTERNAL_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/rows.h"
/* The library is built with hidden visibility: only the API is exported. */
#pragma GCC visibility push(default)
#include "cqlua.h"
#pragma GCC visibility pop

struct cqlua_cluster {
  lua_State *L;
  int call_ref;  /* registry: cql.embed.call */
  int embed_ref; /* registry: the cql.embed table */
  int refs;      /* the application's handle + every handle made from it */
  int freed;     /* cqlua_cluster_free was called */
  int shut;      /* shut down (explicitly or by free) */
  int ran;       /* callbacks run by the last embed_drain */
  int watching;  /* futures whose callback is set and has not run */
};

struct cqlua_session {
  cqlua_cluster *cl;
  int ref; /* Session */
  int closed;
};

struct cqlua_future {
  cqlua_cluster *cl;
  int ref; /* the cql.embed wrapper { kind, f } */
  int done;
  int code;
  int server_code;
  char *name;
  char *message;
  cqlua_future_callback cb;
  void *cb_data;
  int watching; /* counted in cl->watching */
};

struct cqlua_prepared {
  cqlua_cluster *cl;
  int ref;  /* PreparedStatement */
  int refs; /* the application's handle + statements bound from it */
  size_t n;
  char **names;
  char **type_names;
  int *kinds;
};

/* A bound value of a statement. */
enum slot_kind {
  SLOT_NONE = 0, /* not bound: NULL */
  SLOT_NULL,
  SLOT_UNSET,
  SLOT_INT32,
  SLOT_INT64,
  SLOT_DOUBLE,
  SLOT_FLOAT,
  SLOT_BOOL,
  SLOT_STRING,
  SLOT_BYTES,
  SLOT_UUID,
  SLOT_LUA_TEXT, /* a Lua expression, evaluated when executed */
  SLOT_LUA_REF   /* a value already evaluated and checked (prepared) */
};

typedef struct slot {
  int kind;
  char *name; /* simple statements bound by name */
  int64_t i;
  double d;
  cqlua_uuid u;
  char *bytes; /* SLOT_STRING, SLOT_BYTES, SLOT_LUA_TEXT (owned) */
  size_t len;
  int ref; /* SLOT_LUA_REF: registry ref in the prepared's cluster */
} slot;

struct cqlua_statement {
  char *cql;                /* simple statements */
  cqlua_prepared *prepared; /* bound statements (holds a reference) */
  slot *slots;
  size_t nslots, capslots;
  int named;                           /* simple statement: -1 unknown, 0 positional, 1 named */
  int consistency, serial_consistency; /* -1: default */
  int32_t page_size;                   /* 0: default */
  int64_t timeout_ms;                  /* 0: default */
  char *paging_state;
  size_t paging_state_len;
};

/* What cql.embed writes for C about the current page (see embed.lua). */
typedef struct cqlua_embed_page {
  const void *response; /* const cq_response *, NULL without rows */
  const char *paging_state;
  size_t paging_state_len;
  int32_t has_more;
} cqlua_embed_page;

struct cqlua_result {
  cqlua_cluster *cl;
  int ref; /* ResultSet */
  size_t ncols;
  char **names;
  char **type_names;
  int *kinds;
  const cq_type **types; /* of the current page's response */
  cqlua_embed_page info;
  cq_rows_page page;
  size_t nrows;
  size_t row; /* 1-based current row of the page; 0 before the first */
  int ended;
  char *text; /* cqlua_result_get_text's buffer */
};

/* Records a failure for the calling thread; returns code. */
int embed_fail(int code, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A call into cql.embed: push adds the arguments (returns how many), read
 * takes the results (stack indices from first, nres of them). Both run
 * inside lua_cpcall. */
typedef struct embed_call_t {
  cqlua_cluster *cl;
  const char *fn;
  int (*push)(lua_State *L, struct embed_call_t *c);
  void (*read)(lua_State *L, struct embed_call_t *c, int first, int nres);
  void *ctx;
  int rc;
} embed_call_t;

/* Runs the call; returns CQLUA_OK or the error code (recorded). */
int embed_call(embed_call_t *c);

/* Runs due future callbacks (after anything that may have run the loop). */
void embed_drain(cqlua_cluster *cl);

void embed_cluster_retain(cqlua_cluster *cl);
void embed_cluster_release(cqlua_cluster *cl);
void embed_unref(cqlua_cluster *cl, int ref);
char *embed_strdup(const char *s, size_t n);

/* Statement internals used by the session (push the values table and the
 * options table). */
int embed_push_statement(lua_State *L, const cqlua_statement *st, cqlua_cluster *cl);
void embed_prepared_release(cqlua_prepared *p);
cqlua_result *embed_result_open(cqlua_cluster *cl, int ref);

#endif
