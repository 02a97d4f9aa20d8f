-- cqlua migrate against the real server: applied once, re-run no-op,
-- a failing migration records nothing, two concurrent runs.
local testenv = require "testenv"
local tools = require "tools_env"
local Cluster = require("cql.cluster").Cluster

describe("cqlua migrate", function()
  local cluster, session, dir
  local KS = "ops_migrate_rec"
  local function write(name, text)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(text)
    f:close()
  end
  local function applied()
    local rs = assert(session:execute("SELECT version, name FROM " .. KS .. ".applied"))
    local out = {}
    for r in rs:rows() do out[#out + 1] = r.name end
    table.sort(out)
    return out
  end
  setup(function()
    cluster = Cluster { contact_points = testenv.hosts() }
    session = assert(cluster:connect())
    assert(session:execute("DROP KEYSPACE IF EXISTS " .. KS))
    assert(session:execute("DROP KEYSPACE IF EXISTS ops_migrate"))
    dir = testenv.tmpdir()
    write("001_schema.cql", [[
      -- a comment; with a semicolon
      CREATE KEYSPACE ops_migrate WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};
      CREATE TABLE ops_migrate.t (k int PRIMARY KEY, v text);
    ]])
    write("002_data.lua", [[
      local session, cluster, info = ...
      assert(session:execute("INSERT INTO ops_migrate.t (k, v) VALUES (1, 'from lua')"))
    ]])
  end)
  teardown(function()
    testenv.rm(dir)
    session:execute("DROP KEYSPACE IF EXISTS ops_migrate")
    session:execute("DROP KEYSPACE IF EXISTS " .. KS)
    cluster:shutdown()
  end)

  it("prints the plan in a dry run and changes nothing", function()
    local rc, out, err = tools.run("migrate " .. testenv.q(dir) .. " --keyspace " .. KS .. " --dry-run")
    assert.equal(0, rc, err)
    assert.truthy(out:find("would apply 001_schema.cql (2 statement(s))", 1, true), out)
    assert.truthy(out:find("would apply 002_data.lua (Lua)", 1, true), out)
    local rs = assert(session:execute("SELECT keyspace_name FROM system_schema.keyspaces "
      .. "WHERE keyspace_name = 'ops_migrate'"))
    assert.is_nil(rs:one())
  end)

  it("applies each migration once; a re-run is a no-op", function()
    local rc, out, err = tools.run("migrate " .. testenv.q(dir) .. " --keyspace " .. KS)
    assert.equal(0, rc, out .. err)
    assert.truthy(out:find("applied 001_schema.cql", 1, true), out)
    assert.truthy(out:find("2 applied, 0 already applied", 1, true), out)
    assert.same({ "001_schema.cql", "002_data.lua" }, applied())
    assert.equal("from lua", assert(session:execute("SELECT v FROM ops_migrate.t WHERE k = 1")):one().v)
    rc, out, err = tools.run("migrate " .. testenv.q(dir) .. " --keyspace " .. KS)
    assert.equal(0, rc, out .. err)
    assert.truthy(out:find("0 applied, 2 already applied", 1, true), out)
  end)

  it("stops at a failing migration and records nothing for it", function()
    write("003_ok.cql", "ALTER TABLE ops_migrate.t ADD w int;")
    write("004_bad.cql", "ALTER TABLE ops_migrate.nosuch ADD x int;")
    write("005_later.cql", "ALTER TABLE ops_migrate.t ADD z int;")
    local rc, out, err = tools.run("migrate " .. testenv.q(dir) .. " --keyspace " .. KS)
    assert.equal(1, rc, out .. err)
    assert.truthy(err:find("004_bad.cql failed, nothing recorded for it", 1, true), err)
    assert.same({ "001_schema.cql", "002_data.lua", "003_ok.cql" }, applied())
    local cols = assert(session:execute("SELECT column_name FROM system_schema.columns WHERE keyspace_name = "
      .. "'ops_migrate' AND table_name = 't'")):all()
    local names = {}
    for _, c in ipairs(cols) do names[c.column_name] = true end
    assert.truthy(names.w)
    assert.falsy(names.z)
    -- the lock was released on error: fixing the file lets the next run go on
    write("004_bad.cql", "ALTER TABLE ops_migrate.t ADD x int;")
    rc, out, err = tools.run("migrate " .. testenv.q(dir) .. " --keyspace " .. KS)
    assert.equal(0, rc, out .. err)
    assert.truthy(out:find("2 applied, 3 already applied", 1, true), out)
  end)

  it("refuses a changed applied file", function()
    write("003_ok.cql", "ALTER TABLE ops_migrate.t ADD w int; -- edited")
    local rc, _, err = tools.run("migrate " .. testenv.q(dir) .. " --keyspace " .. KS)
    assert.equal(1, rc)
    assert.truthy(err:find("003_ok.cql was changed after it was applied", 1, true), err)
    write("003_ok.cql", "ALTER TABLE ops_migrate.t ADD w int;")
  end)

  it("never lets two concurrent migrators both apply", function()
    -- a slow migration so that the runs overlap
    write("006_slow.lua", [[
      local session = ...
      require("cql.runtime").sleep(1.5)
      assert(session:execute("UPDATE ops_migrate.t SET v = 'x' WHERE k = 2"))
      assert(session:execute("INSERT INTO ops_migrate.t (k, v) VALUES (100, 'once') IF NOT EXISTS"))
    ]])
    local out_dir = testenv.tmpdir()
    local cmd = tools.cmd("migrate " .. testenv.q(dir) .. " --keyspace " .. KS)
    testenv.run("(" .. cmd .. " >" .. out_dir .. "/a 2>&1; echo rc=$? >>" .. out_dir .. "/a) & "
      .. "(" .. cmd .. " >" .. out_dir .. "/b 2>&1; echo rc=$? >>" .. out_dir .. "/b) & wait")
    local a, b = tools.read(out_dir .. "/a"), tools.read(out_dir .. "/b")
    testenv.rm(out_dir)
    local applied_runs = 0
    for _, o in ipairs { a, b } do
      if o:find("applied 006_slow.lua", 1, true) then applied_runs = applied_runs + 1 end
    end
    assert.equal(1, applied_runs, a .. "\n---\n" .. b)
    local other = a:find("applied 006_slow.lua", 1, true) and b or a
    assert.truthy(other:find("another migrator holds the lock", 1, true) or other:find("nothing to apply", 1, true),
                  other)
    local names = applied()
    assert.equal("006_slow.lua", names[#names])
    assert.equal(1, #assert(session:execute("SELECT k FROM ops_migrate.t WHERE k = 100")):all())
  end)
end)
