-- The cqlua runner: scripts as the main coroutine, -e, args, errors.
local testenv = require "testenv"
local run, q = testenv.run, testenv.q

describe("the cqlua runner", function()
  local bin = testenv.runner

  it("prints its version", function()
    local rc, out = run(q(bin) .. " --version")
    assert.equal(0, rc)
    assert.equal("cqlua " .. require("cql").version, out:match("^[^\n]+"))
  end)

  it("runs -e code with the driver loaded from the runner's own symbols", function()
    local rc, out = run(q(bin) .. [[ -e 'print(require("cql.core").origin)']])
    assert.equal(0, rc, out)
    assert.equal("runner\n", out)
  end)

  it("runs a script inside a coroutine and passes its arguments", function()
    local dir = testenv.tmpdir()
    local f = assert(io.open(dir .. "/s.lua", "w"))
    f:write([[
      local _, main = coroutine.running()
      local first, second = ...
      print(select("#", ...), first, second, arg[0], arg[2], tostring(not main))
    ]])
    f:close()
    local rc, out = run(q(bin) .. " " .. q(dir .. "/s.lua") .. " one two")
    testenv.rm(dir)
    assert.equal(0, rc, out)
    assert.equal("2\tone\ttwo\t" .. dir .. "/s.lua\ttwo\ttrue\n", out)
  end)

  it("exits non-zero with a traceback on an uncaught error", function()
    local rc, out = run(q(bin) .. [[ -e 'local function inner() error("kaboom") end inner()']])
    assert.equal(1, rc)
    assert.truthy(out:find("kaboom", 1, true), out)
    assert.truthy(out:find("stack traceback", 1, true), out)
    assert.truthy(out:find("in function 'inner'", 1, true), out)
  end)

  it("rejects unknown options with usage and status 2", function()
    local rc, out = run(q(bin) .. " --bogus")
    assert.equal(2, rc)
    assert.truthy(out:find("unknown option --bogus", 1, true), out)
  end)

  it("takes contact points and credentials from flags, else the environment", function()
    local code = [[ -e 'local c = require("cql.cluster").Cluster()
      print(table.concat(c.contact_points, ","), c.port, c.auth_provider and c.auth_provider.username)']]
    local rc, out = run("env -u CQLUA_HOSTS -u CQLUA_USER -u CQLUA_PORT " .. q(bin)
      .. " --hosts 10.1.1.1,10.1.1.2 --port 9142 --user ops" .. code)
    assert.equal(0, rc, out)
    assert.equal("10.1.1.1,10.1.1.2\t9142\tops\n", out)
    rc, out = run("CQLUA_HOSTS=10.2.2.2 CQLUA_USER=env CQLUA_PASSWORD=pw " .. q(bin) .. code)
    assert.equal(0, rc, out)
    assert.equal("10.2.2.2\t9042\tenv\n", out)
    rc, out = run("env -u CQLUA_HOSTS -u CQLUA_USER " .. q(bin) .. code)
    assert.equal(0, rc, out)
    assert.equal("127.0.0.1\t9042\tnil\n", out)
    rc, out = run(q(bin) .. " --port 99999 -e 'print(1)'")
    assert.equal(2, rc)
    assert.truthy(out:find("bad port '99999'", 1, true), out)
  end)

  it("reports a script that does not exist", function()
    local rc, out = run(q(bin) .. " /nonexistent/script.lua")
    assert.equal(2, rc)
    assert.truthy(out:find("/nonexistent/script.lua", 1, true), out)
  end)
end)
