/* The embedding API: errors, the cluster's Lua state, sessions, futures.
 *
 * Each cluster owns a LuaJIT state that runs the driver (cql.cluster) and
 * the glue module cql.embed. Everything here runs on the application's
 * thread; the loop turns only inside calls that wait or poll, and future
 * callbacks run right after those turns, from C, with no Lua frame active
 * (so a callback may use the whole API). */
#define _GNU_SOURCE /* dladdr, RTLD_DEFAULT */
#include <dlfcn.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "embed_internal.h"

#ifndef CQLUA_INSTALLED_LUADIR
#define CQLUA_INSTALLED_LUADIR "/usr/local/share/lua/5.1"
#endif

/* ---- errors ---------------------------------------------------------- */

static _Thread_local struct {
  int code;
  int server_code;
  char name[64];
  char message[2048];
} last;

static const char *code_name(int code) {
  switch (code) {
  case CQLUA_OK: return "";
  case CQLUA_ERR_BAD_ARGUMENT: return "BadArgument";
  case CQLUA_ERR_WRONG_TYPE: return "WrongType";
  case CQLUA_ERR_NULL_VALUE: return "NullValue";
  case CQLUA_ERR_NOT_FOUND: return "NotFound";
  case CQLUA_ERR_TIMEOUT: return "Timeout";
  case CQLUA_ERR_PENDING: return "Pending";
  case CQLUA_ERR_CLOSED: return "Closed";
  case CQLUA_ERR_CONFIG: return "ConfigError";
  case CQLUA_ERR_NO_MEMORY: return "NoMemory";
  default: return "InternalError";
  }
}

const char *cqlua_error_string(int code) {
  switch (code) {
  case CQLUA_OK: return "CQLUA_OK: success";
  case CQLUA_ERR_BAD_ARGUMENT: return "CQLUA_ERR_BAD_ARGUMENT: bad argument or misuse";
  case CQLUA_ERR_WRONG_TYPE: return "CQLUA_ERR_WRONG_TYPE: value of the wrong type";
  case CQLUA_ERR_NULL_VALUE: return "CQLUA_ERR_NULL_VALUE: the value is NULL";
  case CQLUA_ERR_NOT_FOUND: return "CQLUA_ERR_NOT_FOUND: no column or marker of that name";
  case CQLUA_ERR_TIMEOUT: return "CQLUA_ERR_TIMEOUT: the wait timed out";
  case CQLUA_ERR_PENDING: return "CQLUA_ERR_PENDING: the future is still pending";
  case CQLUA_ERR_CLOSED: return "CQLUA_ERR_CLOSED: shut down";
  case CQLUA_ERR_CONFIG: return "CQLUA_ERR_CONFIG: bad configuration";
  case CQLUA_ERR_SERVER: return "CQLUA_ERR_SERVER: the server answered with an error";
  case CQLUA_ERR_NO_HOST_AVAILABLE: return "CQLUA_ERR_NO_HOST_AVAILABLE: no host available";
  case CQLUA_ERR_OPERATION_TIMED_OUT: return "CQLUA_ERR_OPERATION_TIMED_OUT: request timed out";
  case CQLUA_ERR_CONNECTION: return "CQLUA_ERR_CONNECTION: connection failed";
  case CQLUA_ERR_DRIVER: return "CQLUA_ERR_DRIVER: driver error";
  case CQLUA_ERR_NO_MEMORY: return "CQLUA_ERR_NO_MEMORY: out of memory";
  case CQLUA_ERR_INTERNAL: return "CQLUA_ERR_INTERNAL: internal error";
  default: return "unknown cqlua error code";
  }
}

static void record(int code, const char *name, int server_code, const char *msg) {
  last.code = code;
  last.server_code = server_code;
  snprintf(last.name, sizeof last.name, "%s", name && *name ? name : code_name(code));
  snprintf(last.message, sizeof last.message, "%s", msg ? msg : "");
}

int embed_fail(int code, const char *name, const char *fmt, ...) {
  char msg[sizeof last.message];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  record(code, name, 0, msg);
  return code;
}

int cqlua_last_error(void) { return last.code; }
const char *cqlua_last_error_message(void) { return last.message; }
const char *cqlua_last_error_name(void) { return last.name; }
int cqlua_last_error_server_code(void) { return last.server_code; }

char *embed_strdup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

#define BAD_NULL(what) embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL, "%s is NULL", what)

/* ---- calls into cql.embed -------------------------------------------- */

static int call_protected(lua_State *L) {
  embed_call_t *c = lua_touserdata(L, 1);
  lua_settop(L, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->cl->call_ref);
  lua_pushstring(L, c->fn);
  int nargs = c->push ? c->push(L, c) : 0;
  lua_call(L, nargs + 1, LUA_MULTRET);
  int nres = lua_gettop(L);
  int code = (int)lua_tointeger(L, 1);
  if (code != 0) {
    record(code, lua_tostring(L, 2), (int)lua_tointeger(L, 4), lua_tostring(L, 3));
    c->rc = code;
    return 0;
  }
  c->rc = CQLUA_OK;
  if (c->read) c->read(L, c, 2, nres - 1);
  return 0;
}

int embed_call(embed_call_t *c) {
  lua_State *L = c->cl->L;
  int top = lua_gettop(L);
  c->rc = CQLUA_ERR_INTERNAL;
  int st = lua_cpcall(L, call_protected, c);
  if (st != 0) {
    const char *m = lua_tostring(L, -1);
    c->rc = embed_fail(st == LUA_ERRMEM ? CQLUA_ERR_NO_MEMORY : CQLUA_ERR_INTERNAL, NULL,
                       "cql.embed.%s: %s", c->fn, m ? m : "unknown Lua error");
  }
  lua_settop(L, top);
  return c->rc;
}

void embed_unref(cqlua_cluster *cl, int ref) {
  if (cl && cl->L && ref != LUA_NOREF && ref != LUA_REFNIL)
    luaL_unref(cl->L, LUA_REGISTRYINDEX, ref);
}

/* ---- the Lua state ---------------------------------------------------- */

/* True when the core's symbols can be found by ffi.C (the global scope).
 * A libcqlua.so loaded as a dependency is global; one loaded with
 * RTLD_LOCAL is promoted. Otherwise cql.core loads the library itself. */
static int core_symbols_visible(void) {
  if (dlsym(RTLD_DEFAULT, "cq_rows_decode") && dlsym(RTLD_DEFAULT, "cqlua_io_new")) return 1;
  Dl_info info;
  if (dladdr((void *)cq_rows_decode, &info) && info.dli_fname) {
    void *h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
    /* The handle only pins what is already loaded; dropping it keeps the
     * library (we link it) and its new global flag. */
    if (h) dlclose(h);
  }
  return dlsym(RTLD_DEFAULT, "cq_rows_decode") && dlsym(RTLD_DEFAULT, "cqlua_io_new");
}

/* Writes the directory of `path` (made absolute) into dir. */
static void dir_of(const char *path, char *dir, size_t cap) {
  char abs[PATH_MAX];
  if (!realpath(path, abs)) snprintf(abs, sizeof abs, "%s", path);
  snprintf(dir, cap, "%s", abs);
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = '\0';
  else
    snprintf(dir, cap, ".");
}

/* Module paths after LUA_PATH's, looked for beside this library and beside
 * the executable (an installed layout <prefix>/lib or <prefix>/bin ->
 * <prefix>/share/lua/5.1; a build directory of a source checkout ->
 * ../lua), then in the configured install directory. */
static void add_module_paths(lua_State *L) {
  char lib[PATH_MAX] = ".", exe[PATH_MAX] = ".", self[PATH_MAX];
  Dl_info info;
  if (dladdr((void *)cqlua_cluster_new, &info) && info.dli_fname)
    dir_of(info.dli_fname, lib, sizeof lib);
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    dir_of(self, exe, sizeof exe);
  }
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, lua_tostring(L, -1));
  const char *dirs[] = {lib, exe};
  for (int i = 0; i < (strcmp(lib, exe) == 0 ? 1 : 2); i++) {
    lua_pushfstring(L,
                    ";%s/../share/lua/5.1/?.lua;%s/../share/lua/5.1/?/init.lua;"
                    "%s/../lua/?.lua;%s/../lua/?/init.lua",
                    dirs[i], dirs[i], dirs[i], dirs[i]);
    luaL_addvalue(&b);
  }
  lua_pushfstring(L, ";%s/?.lua;%s/?/init.lua", CQLUA_INSTALLED_LUADIR, CQLUA_INSTALLED_LUADIR);
  luaL_addvalue(&b);
  luaL_pushresult(&b);
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

static int init_state(lua_State *L) {
  cqlua_cluster *cl = lua_touserdata(L, 1);
  luaL_openlibs(L);
  add_module_paths(L);
  if (core_symbols_visible()) {
    lua_pushboolean(L, 1);
    lua_setglobal(L, "_CQLUA_RUNNER");
  }
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cql.embed");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "call");
  cl->call_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  cl->embed_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

cqlua_cluster *cqlua_cluster_new(void) {
  cqlua_cluster *cl = calloc(1, sizeof *cl);
  if (!cl) {
    embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "cannot allocate a cluster");
    return NULL;
  }
  cl->L = luaL_newstate();
  if (!cl->L) {
    free(cl);
    embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "cannot create a Lua state");
    return NULL;
  }
  cl->refs = 1;
  int st = lua_cpcall(cl->L, init_state, cl);
  if (st != 0) {
    const char *m = lua_tostring(cl->L, -1);
    embed_fail(st == LUA_ERRMEM ? CQLUA_ERR_NO_MEMORY : CQLUA_ERR_INTERNAL, NULL,
               "cannot load the Lua driver (cql.embed): %s", m ? m : "?");
    lua_close(cl->L);
    free(cl);
    return NULL;
  }
  return cl;
}

void embed_cluster_retain(cqlua_cluster *cl) { cl->refs++; }

void embed_cluster_release(cqlua_cluster *cl) {
  if (--cl->refs > 0) return;
  lua_close(cl->L);
  free(cl);
}

/* ---- settings --------------------------------------------------------- */

typedef struct strargs {
  const char *a, *b;
  lua_Number n;
} strargs;

static int push_strings(lua_State *L, embed_call_t *c) {
  strargs *s = c->ctx;
  lua_pushstring(L, s->a);
  if (!s->b) return 1;
  lua_pushstring(L, s->b);
  return 2;
}

static int push_number(lua_State *L, embed_call_t *c) {
  lua_pushnumber(L, ((strargs *)c->ctx)->n);
  return 1;
}

static int setting(cqlua_cluster *cl, const char *fn, const char *a, const char *b, int nstr) {
  if (!cl) return BAD_NULL("cluster");
  if (!a || (nstr == 2 && !b)) return BAD_NULL("a string argument");
  if (cl->shut) return embed_fail(CQLUA_ERR_CLOSED, NULL, "the cluster is shut down");
  strargs s = {a, nstr == 2 ? b : NULL, 0};
  embed_call_t c = {cl, fn, push_strings, NULL, &s, 0};
  return embed_call(&c);
}

int cqlua_cluster_load_config(cqlua_cluster *cluster, const char *path) {
  return setting(cluster, "load_config_file", path, NULL, 1);
}

int cqlua_cluster_load_config_string(cqlua_cluster *cluster, const char *lua_source) {
  return setting(cluster, "load_config_string", lua_source, NULL, 1);
}

int cqlua_cluster_set_option(cqlua_cluster *cluster, const char *name, const char *expr) {
  return setting(cluster, "set_option", name, expr, 2);
}

int cqlua_cluster_set_contact_points(cqlua_cluster *cluster, const char *addresses) {
  return setting(cluster, "set_contact_points", addresses, NULL, 1);
}

int cqlua_cluster_set_credentials(cqlua_cluster *cluster, const char *username,
                                  const char *password) {
  return setting(cluster, "set_credentials", username, password, 2);
}

int cqlua_cluster_set_port(cqlua_cluster *cluster, int port) {
  if (!cluster) return BAD_NULL("cluster");
  if (port < 1 || port > 65535)
    return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL, "port %d is not in 1..65535", port);
  if (cluster->shut) return embed_fail(CQLUA_ERR_CLOSED, NULL, "the cluster is shut down");
  strargs s = {NULL, NULL, port};
  embed_call_t c = {cluster, "set_port", push_number, NULL, &s, 0};
  return embed_call(&c);
}

/* ---- futures ---------------------------------------------------------- */

static cqlua_future *future_new(cqlua_cluster *cl, int ref) {
  cqlua_future *f = calloc(1, sizeof *f);
  if (!f) {
    embed_unref(cl, ref);
    embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "cannot allocate a future");
    return NULL;
  }
  f->cl = cl;
  f->ref = ref;
  embed_cluster_retain(cl);
  return f;
}

typedef struct wait_args {
  cqlua_future *f;
  int timed;
  double seconds;
} wait_args;

static int push_wait(lua_State *L, embed_call_t *c) {
  wait_args *w = c->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, w->f->ref);
  if (w->timed)
    lua_pushnumber(L, w->seconds);
  else
    lua_pushnil(L);
  return 2;
}

static void read_state(lua_State *L, embed_call_t *c, int first, int nres) {
  cqlua_future *f = ((wait_args *)c->ctx)->f;
  if (!lua_toboolean(L, first) || f->done) return;
  size_t nlen = 0, mlen = 0;
  const char *name = lua_tolstring(L, first + 2, &nlen);
  const char *msg = lua_tolstring(L, first + 3, &mlen);
  f->code = (int)lua_tointeger(L, first + 1);
  f->server_code = (int)lua_tointeger(L, first + 4);
  f->name = embed_strdup(name ? name : "", name ? nlen : 0);
  f->message = embed_strdup(msg ? msg : "", msg ? mlen : 0);
  f->done = 1;
}

/* Brings f->done and its outcome up to date; waits when fn is "wait". */
static int future_sync(cqlua_future *f, const char *fn, int timed, double seconds) {
  if (f->done) return CQLUA_OK;
  wait_args w = {f, timed, seconds};
  embed_call_t c = {f->cl, fn, push_wait, read_state, &w, 0};
  return embed_call(&c);
}

/* The outcome of a done future, recorded as the thread's last error. */
static int future_outcome(const cqlua_future *f) {
  if (f->code != CQLUA_OK) record(f->code, f->name, f->server_code, f->message);
  return f->code;
}

static int future_wait(cqlua_future *f, int timed, double seconds) {
  cqlua_cluster *cl = f->cl;
  int rc = future_sync(f, "wait", timed, seconds);
  if (rc == CQLUA_OK) {
    if (!f->done)
      rc = embed_fail(CQLUA_ERR_TIMEOUT, NULL, "the future did not complete within %g s", seconds);
    else
      rc = future_outcome(f);
  }
  /* Callbacks last: one of them may free f. */
  embed_drain(cl);
  return rc;
}

int cqlua_future_wait(cqlua_future *future) {
  if (!future) return BAD_NULL("future");
  return future_wait(future, 0, 0);
}

int cqlua_future_wait_timed(cqlua_future *future, int64_t timeout_us) {
  if (!future) return BAD_NULL("future");
  if (timeout_us < 0)
    return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL, "negative timeout %lld us",
                      (long long)timeout_us);
  return future_wait(future, 1, (double)timeout_us / 1e6);
}

int cqlua_future_is_ready(const cqlua_future *future) {
  if (!future) return BAD_NULL("future");
  cqlua_future *f = (cqlua_future *)future;
  int rc = future_sync(f, "state", 0, 0);
  if (rc != CQLUA_OK) return rc;
  return f->done;
}

int cqlua_future_error_code(const cqlua_future *future) {
  int ready = cqlua_future_is_ready(future);
  if (ready < 0) return ready;
  if (!ready) return CQLUA_ERR_PENDING;
  return future->code;
}

const char *cqlua_future_error_name(const cqlua_future *future) {
  if (cqlua_future_is_ready(future) != 1 || !future->name) return "";
  return future->name;
}

const char *cqlua_future_error_message(const cqlua_future *future) {
  if (cqlua_future_is_ready(future) != 1 || !future->message) return "";
  return future->message;
}

int cqlua_future_server_code(const cqlua_future *future) {
  if (cqlua_future_is_ready(future) != 1) return 0;
  return future->server_code;
}

static int push_watch(lua_State *L, embed_call_t *c) {
  cqlua_future *f = c->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
  lua_pushlightuserdata(L, f);
  return 2;
}

int cqlua_future_set_callback(cqlua_future *future, cqlua_future_callback callback, void *data) {
  if (!future) return BAD_NULL("future");
  if (!callback) return BAD_NULL("callback");
  if (future->cb)
    return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL, "the future already has a callback");
  future->cb = callback;
  future->cb_data = data;
  embed_call_t c = {future->cl, "watch", push_watch, NULL, future, 0};
  int rc = embed_call(&c);
  if (rc != CQLUA_OK) {
    future->cb = NULL;
    return rc;
  }
  future->watching = 1;
  future->cl->watching++;
  embed_drain(future->cl); /* runs it now when already complete */
  return CQLUA_OK;
}

static void read_pop(lua_State *L, embed_call_t *c, int first, int nres) {
  c->ctx = lua_touserdata(L, first);
}

void embed_drain(cqlua_cluster *cl) {
  cl->ran = 0;
  if (cl->watching == 0) return; /* no callback can be due */
  embed_cluster_retain(cl);      /* a callback may free the cluster */
  int n = 0;
  while (cl->watching > 0) {
    embed_call_t c = {cl, "pop_callback", NULL, read_pop, NULL, 0};
    if (embed_call(&c) != CQLUA_OK || !c.ctx) break;
    cqlua_future *f = c.ctx;
    future_sync(f, "state", 0, 0);
    f->watching = 0;
    cl->watching--;
    cqlua_future_callback cb = f->cb;
    void *data = f->cb_data;
    n++;
    if (cb) cb(f, data);
  }
  cl->ran = n; /* how many ran, for cqlua_cluster_poll */
  embed_cluster_release(cl);
}

static int push_ref(lua_State *L, embed_call_t *c) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, ((cqlua_future *)c->ctx)->ref);
  return 1;
}

void cqlua_future_free(cqlua_future *future) {
  if (!future) return;
  if (future->watching) {
    embed_call_t c = {future->cl, "forget", push_ref, NULL, future, 0};
    embed_call(&c);
    future->cl->watching--;
  }
  embed_unref(future->cl, future->ref);
  embed_cluster_release(future->cl);
  free(future->name);
  free(future->message);
  free(future);
}

typedef struct take_args {
  cqlua_future *f;
  const char *kind;
  int ref;
} take_args;

static int push_take(lua_State *L, embed_call_t *c) {
  take_args *t = c->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->f->ref);
  lua_pushstring(L, t->kind);
  return 2;
}

static void read_take(lua_State *L, embed_call_t *c, int first, int nres) {
  lua_pushvalue(L, first);
  ((take_args *)c->ctx)->ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Waits, then takes the future's value of `kind` into a registry ref. */
static int future_take(cqlua_future *f, const char *kind, int *ref) {
  int rc = future_wait(f, 0, 0);
  if (rc != CQLUA_OK) return rc;
  take_args t = {f, kind, LUA_NOREF};
  embed_call_t c = {f->cl, "take", push_take, read_take, &t, 0};
  rc = embed_call(&c);
  *ref = t.ref;
  return rc;
}

int cqlua_future_get_result(cqlua_future *future, cqlua_result **result) {
  if (!future) return BAD_NULL("future");
  if (!result) return BAD_NULL("result");
  *result = NULL;
  int ref;
  int rc = future_take(future, "result", &ref);
  if (rc != CQLUA_OK) return rc;
  *result = embed_result_open(future->cl, ref);
  return *result ? CQLUA_OK : last.code;
}

static cqlua_session *session_new(cqlua_cluster *cl, int ref) {
  cqlua_session *s = calloc(1, sizeof *s);
  if (!s) {
    embed_unref(cl, ref);
    embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "cannot allocate a session");
    return NULL;
  }
  s->cl = cl;
  s->ref = ref;
  embed_cluster_retain(cl);
  return s;
}

int cqlua_future_get_session(cqlua_future *future, cqlua_session **session) {
  if (!future) return BAD_NULL("future");
  if (!session) return BAD_NULL("session");
  *session = NULL;
  int ref;
  int rc = future_take(future, "session", &ref);
  if (rc != CQLUA_OK) return rc;
  *session = session_new(future->cl, ref);
  return *session ? CQLUA_OK : CQLUA_ERR_NO_MEMORY;
}

/* Reads the markers of the PreparedStatement at the top of the stack. */
typedef struct prep_args {
  int ref;
  cqlua_prepared *p;
} prep_args;

static void read_markers(lua_State *L, embed_call_t *c, int first, int nres) {
  cqlua_prepared *p = ((prep_args *)c->ctx)->p;
  size_t n = (size_t)lua_tointeger(L, first);
  p->names = calloc(n ? n : 1, sizeof *p->names);
  p->type_names = calloc(n ? n : 1, sizeof *p->type_names);
  p->kinds = calloc(n ? n : 1, sizeof *p->kinds);
  if (!p->names || !p->type_names || !p->kinds) luaL_error(L, "out of memory");
  p->n = n;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->cl->embed_ref);
  int embed = lua_gettop(L);
  for (size_t i = 0; i < n; i++) {
    lua_getfield(L, embed, "marker");
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref);
    lua_pushinteger(L, (lua_Integer)i);
    lua_call(L, 2, 3);
    size_t len;
    const char *s = lua_tolstring(L, -3, &len);
    p->names[i] = embed_strdup(s ? s : "", s ? len : 0);
    p->kinds[i] = (int)lua_tointeger(L, -2);
    s = lua_tolstring(L, -1, &len);
    p->type_names[i] = embed_strdup(s ? s : "", s ? len : 0);
    lua_pop(L, 3);
    if (!p->names[i] || !p->type_names[i]) luaL_error(L, "out of memory");
  }
}

static int push_count(lua_State *L, embed_call_t *c) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, ((prep_args *)c->ctx)->p->ref);
  return 1;
}

int cqlua_future_get_prepared(cqlua_future *future, cqlua_prepared **prepared) {
  if (!future) return BAD_NULL("future");
  if (!prepared) return BAD_NULL("prepared");
  *prepared = NULL;
  int ref;
  int rc = future_take(future, "prepared", &ref);
  if (rc != CQLUA_OK) return rc;
  cqlua_prepared *p = calloc(1, sizeof *p);
  if (!p) {
    embed_unref(future->cl, ref);
    return embed_fail(CQLUA_ERR_NO_MEMORY, NULL, "cannot allocate a prepared statement");
  }
  p->cl = future->cl;
  p->ref = ref;
  p->refs = 1;
  embed_cluster_retain(p->cl);
  prep_args a = {ref, p};
  embed_call_t c = {p->cl, "marker_count", push_count, read_markers, &a, 0};
  rc = embed_call(&c);
  if (rc != CQLUA_OK) {
    embed_prepared_release(p);
    return rc;
  }
  *prepared = p;
  return CQLUA_OK;
}

/* ---- prepared statements ---------------------------------------------- */

void embed_prepared_release(cqlua_prepared *p) {
  if (--p->refs > 0) return;
  for (size_t i = 0; i < p->n; i++) {
    free(p->names[i]);
    free(p->type_names[i]);
  }
  free(p->names);
  free(p->type_names);
  free(p->kinds);
  embed_unref(p->cl, p->ref);
  embed_cluster_release(p->cl);
  free(p);
}

void cqlua_prepared_free(cqlua_prepared *prepared) {
  if (prepared) embed_prepared_release(prepared);
}

size_t cqlua_prepared_marker_count(const cqlua_prepared *prepared) {
  return prepared ? prepared->n : 0;
}

const char *cqlua_prepared_marker_name(const cqlua_prepared *prepared, size_t index) {
  if (!prepared || index >= prepared->n) return NULL;
  return prepared->names[index];
}

cqlua_value_type cqlua_prepared_marker_type(const cqlua_prepared *prepared, size_t index) {
  if (!prepared || index >= prepared->n) return CQLUA_TYPE_UNKNOWN;
  return (cqlua_value_type)prepared->kinds[index];
}

/* ---- cluster: connect, poll, shutdown; sessions ------------------------ */

/* Arguments of the calls below: an optional object (registry ref), an
 * optional string, an optional statement; the result's ref comes back. */
typedef struct gargs {
  int in_ref;
  const char *s;
  const cqlua_statement *st;
  double n;
  int out_ref;
} gargs;

static int push_gargs(lua_State *L, embed_call_t *c) {
  gargs *a = c->ctx;
  int n = 0;
  if (a->in_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->in_ref);
    n++;
  }
  if (a->st) return n + embed_push_statement(L, a->st, c->cl);
  if (a->s)
    lua_pushstring(L, a->s);
  else
    lua_pushnil(L);
  return n + 1;
}

static void read_gargs(lua_State *L, embed_call_t *c, int first, int nres) {
  lua_pushvalue(L, first);
  ((gargs *)c->ctx)->out_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Calls fn and wraps the returned future wrapper in a handle. */
static cqlua_future *start(cqlua_cluster *cl, const char *fn, gargs *a) {
  a->out_ref = LUA_NOREF;
  embed_call_t c = {cl, fn, push_gargs, read_gargs, a, 0};
  if (embed_call(&c) != CQLUA_OK) {
    embed_unref(cl, a->out_ref);
    return NULL;
  }
  return future_new(cl, a->out_ref);
}

cqlua_future *cqlua_cluster_connect_async(cqlua_cluster *cluster, const char *keyspace) {
  if (!cluster) {
    BAD_NULL("cluster");
    return NULL;
  }
  if (cluster->shut) {
    embed_fail(CQLUA_ERR_CLOSED, NULL, "the cluster is shut down");
    return NULL;
  }
  gargs a = {LUA_NOREF, keyspace, NULL, 0, LUA_NOREF};
  return start(cluster, "connect_async", &a);
}

int cqlua_cluster_connect(cqlua_cluster *cluster, const char *keyspace, cqlua_session **session) {
  if (!session) return BAD_NULL("session");
  *session = NULL;
  cqlua_future *f = cqlua_cluster_connect_async(cluster, keyspace);
  if (!f) return last.code;
  int rc = cqlua_future_get_session(f, session);
  cqlua_future_free(f);
  return rc;
}

int cqlua_cluster_poll(cqlua_cluster *cluster, int64_t timeout_us) {
  if (!cluster) return BAD_NULL("cluster");
  if (timeout_us < 0)
    return embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL, "negative timeout %lld us",
                      (long long)timeout_us);
  strargs s = {NULL, NULL, (lua_Number)timeout_us / 1e6};
  embed_call_t c = {cluster, "poll", push_number, NULL, &s, 0};
  embed_cluster_retain(cluster);
  int rc = embed_call(&c);
  embed_drain(cluster);
  int n = cluster->ran;
  embed_cluster_release(cluster);
  return rc != CQLUA_OK ? rc : n;
}

int cqlua_cluster_shutdown(cqlua_cluster *cluster) {
  if (!cluster) return BAD_NULL("cluster");
  if (cluster->shut) return CQLUA_OK;
  cluster->shut = 1;
  embed_call_t c = {cluster, "shutdown", NULL, NULL, NULL, 0};
  int rc = embed_call(&c);
  embed_drain(cluster);
  return rc;
}

void cqlua_cluster_free(cqlua_cluster *cluster) {
  if (!cluster || cluster->freed) return;
  cluster->freed = 1;
  cqlua_cluster_shutdown(cluster);
  embed_cluster_release(cluster);
}

static int session_check(const cqlua_session *s) {
  if (!s) return BAD_NULL("session");
  if (s->closed || s->cl->shut)
    return embed_fail(CQLUA_ERR_CLOSED, NULL, "the session is shut down");
  return CQLUA_OK;
}

cqlua_future *cqlua_session_execute(cqlua_session *session, const cqlua_statement *statement) {
  if (session_check(session) != CQLUA_OK) return NULL;
  if (!statement) {
    BAD_NULL("statement");
    return NULL;
  }
  if (statement->prepared && statement->prepared->cl != session->cl) {
    embed_fail(CQLUA_ERR_BAD_ARGUMENT, NULL,
               "the statement was prepared by a session of another cluster");
    return NULL;
  }
  gargs a = {session->ref, NULL, statement, 0, LUA_NOREF};
  return start(session->cl, "execute", &a);
}

int cqlua_session_query(cqlua_session *session, const char *cql, cqlua_result **result) {
  if (result) *result = NULL;
  if (!cql) return BAD_NULL("cql");
  cqlua_statement *st = cqlua_statement_new(cql);
  if (!st) return last.code;
  cqlua_future *f = cqlua_session_execute(session, st);
  cqlua_statement_free(st);
  if (!f) return last.code;
  int rc;
  if (result) {
    rc = cqlua_future_get_result(f, result);
  } else {
    rc = cqlua_future_wait(f);
  }
  cqlua_future_free(f);
  return rc;
}

cqlua_future *cqlua_session_prepare(cqlua_session *session, const char *cql) {
  if (session_check(session) != CQLUA_OK) return NULL;
  if (!cql) {
    BAD_NULL("cql");
    return NULL;
  }
  gargs a = {session->ref, cql, NULL, 0, LUA_NOREF};
  return start(session->cl, "prepare", &a);
}

static int push_session(lua_State *L, embed_call_t *c) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, ((cqlua_session *)c->ctx)->ref);
  return 1;
}

int cqlua_session_close(cqlua_session *session) {
  if (!session) return BAD_NULL("session");
  if (session->closed) return CQLUA_OK;
  session->closed = 1;
  if (session->cl->shut) return CQLUA_OK;
  embed_call_t c = {session->cl, "session_close", push_session, NULL, session, 0};
  int rc = embed_call(&c);
  embed_drain(session->cl);
  return rc;
}

void cqlua_session_free(cqlua_session *session) {
  if (!session) return;
  cqlua_session_close(session);
  embed_unref(session->cl, session->ref);
  embed_cluster_release(session->cl);
  free(session);
}
