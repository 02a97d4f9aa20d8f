-- The LuaRock: `luarocks make` installs into a fresh tree, and both plain
-- luajit and the installed runner load the driver from that tree alone.
local testenv = require "testenv"
local run, q = testenv.run, testenv.q

describe("the cqlua rock", function()
  local tree

  setup(function()
    tree = testenv.tmpdir()
    local rc, out = run("luarocks --lua-version=5.1 make --tree " .. q(tree) .. " rockspec/cqlua-scm-1.rockspec")
    assert.equal(0, rc, out)
  end)
  teardown(function() testenv.rm(tree) end)

  -- CQLUA_LIB is unset so the library must come from the tree itself.
  local function in_tree(cmd)
    return run("env -u CQLUA_LIB -u LUA_PATH -u LUA_CPATH sh -c "
      .. q('eval "$(luarocks --lua-version=5.1 --tree ' .. q(tree) .. ' path)"; cd /; ' .. cmd))
  end

  it("is required from luajit with the FFI library beside the modules", function()
    local rc, out = in_tree([[luajit -e 'local cql = require "cql"; print(cql.version)]]
      .. [[ print(require("cql.core").origin)']])
    assert.equal(0, rc, out)
    local version, origin = out:match("^([^\n]+)\n([^\n]+)\n$")
    assert.equal(require("cql").version, version)
    assert.equal(tree .. "/lib/lua/5.1/cql/libcqlua.so", origin)
  end)

  it("installs a runner that finds its modules in the tree without LUA_PATH", function()
    local rc, out = run("cd / && env -u CQLUA_LIB -u LUA_PATH -u LUA_CPATH " .. q(tree .. "/bin/cqlua")
      .. [[ -e 'print(package.searchpath("cql", package.path)); print(require("cql").version)']])
    assert.equal(0, rc, out)
    assert.equal(tree .. "/bin/../share/lua/5.1/cql/init.lua\n" .. require("cql").version .. "\n", out)
  end)
end)
