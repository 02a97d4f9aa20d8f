rockspec_format = "3.0"
package = "cqlua"
version = "scm-1"
source = {
  url = "git+file:///cqlua", -- built from a checkout with `luarocks make`
}
description = {
  summary = "A driver for Apache Cassandra: C core on libuv, LuaJIT API",
  detailed = [[
cqlua speaks the CQL native protocol (v3 to v5) from a C core and offers the
Python cassandra-driver's API in Lua: clusters, sessions, prepared and batch
statements, paging, policies, metadata and an ORM. It runs in plain LuaJIT,
in its own runner, inside OpenResty, and inside C applications.]],
  license = "Apache-2.0",
}
supported_platforms = { "linux" }
dependencies = {
  "lua >= 5.1", -- LuaJIT 2.1 (the FFI is required)
}
external_dependencies = {
  LIBUV = { header = "uv.h", library = "uv" },
  OPENSSL = { header = "openssl/ssl.h", library = "ssl" },
  LZ4 = { header = "lz4.h", library = "lz4" },
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    CQLUA_LUADIR = "$(LUADIR)",
    CQLUA_LIBDIR = "$(LIBDIR)",
    CQLUA_BUILD_TESTS = "OFF",
    CQLUA_BUILD_BENCH = "OFF",
    CQLUA_BUILD_RUNNER = "ON",
    CQLUA_ROCK = "ON",
  },
}
