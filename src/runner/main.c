/* cqlua: runs a Lua script with the driver loaded.
 *
 * The C side only sets up a LuaJIT state and hands argv to the Lua module
 * `cql.runner`, which parses options and runs the script as the main
 * coroutine. Keeping the logic in Lua means the runner behaves exactly like
 * the library does under plain luajit. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = luaL_typename(L, 1);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Appends the install-time Lua directory to package.path so an installed
 * runner finds its modules without LUA_PATH. */
static void add_install_path(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s;%s/?.lua;%s/?/init.lua", lua_tostring(L, -1), CQLUA_INSTALLED_LUADIR,
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
  add_install_path(L);
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
