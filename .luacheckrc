-- luacheck configuration: LuaJIT, busted specs, and OpenResty's ngx global
-- where the OpenResty host lives.
std = "luajit"
max_line_length = 120
files["spec/**/*_spec.lua"] = { std = "+busted" }
files["lua/cql/runner.lua"] = { globals = { "arg" } }
