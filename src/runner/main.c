/* cqlua: runs a Lua script with the driver loaded.
 *
 * The C side only sets up a LuaJIT state and hands argv to the Lua module
 * `cql.runner`, which parses options and runs the script as the main
 * coroutine. Keeping the logic in Lua means the runner behaves exactly like
 * the library does under plain luajit. */
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = luaL_typename(L, 1);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Lets the runner find its Lua modules without LUA_PATH: beside the
 * executable as installed (<prefix>/bin -> <prefix>/share/lua/5.1, also how a
 * rock tree is laid out), in a source checkout (build/ -> lua/), and in the
 * directory configured at build time. Entries go after LUA_PATH's. */
static void add_module_paths(lua_State *L) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  const char *dir = ".";
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      dir = exe;
    }
  }
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L,
                  "%s;%s/../share/lua/5.1/?.lua;%s/../share/lua/5.1/?/init.lua;"
                  "%s/../lua/?.lua;%s/../lua/?/init.lua;%s/?.lua;%s/?/init.lua",
                  lua_tostring(L, -1), dir, dir, dir, dir, CQLUA_INSTALLED_LUADIR,
                  CQLUA_INSTALLED_LUADIR);
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fputs("cqlua: cannot create a Lua state (out of memory)\n", stderr);
    return 70;
  }
  luaL_openlibs(L);
  add_module_paths(L);
  /* The binding uses ffi.C when this is set: our symbols are exported. */
  lua_pushboolean(L, 1);
  lua_setglobal(L, "_CQLUA_RUNNER");

  lua_pushcfunction(L, traceback);
  int handler = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cql.runner");
  if (lua_pcall(L, 1, 1, handler) != 0) {
    fprintf(stderr, "cqlua: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return 70;
  }
  lua_getfield(L, -1, "main");
  lua_newtable(L);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  int status = 1;
  if (lua_pcall(L, 1, 1, handler) != 0) {
    fprintf(stderr, "cqlua: %s\n", lua_tostring(L, -1));
  } else {
    status = (int)luaL_optinteger(L, -1, 0);
  }
  lua_close(L);
  return status;
}
