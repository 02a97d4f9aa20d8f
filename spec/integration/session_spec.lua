-- The first increment of Cluster/Session against the real server:
-- statements with client-side parameters, values of many types, errors.
local testenv = require "testenv"
local Cluster = require("cql.cluster").Cluster
local util = require "cql.util"

local hosts = testenv.hosts()

describe("Cluster and Session (first increment)", function()
  local cluster, session
  setup(function()
    cluster = Cluster { contact_points = hosts }
    session = assert(cluster:connect())
    assert(session:execute("CREATE KEYSPACE IF NOT EXISTS cqlua_session WITH replication = "
      .. "{'class': 'SimpleStrategy', 'replication_factor': 1}"))
    assert(session:set_keyspace("cqlua_session"))
    assert(session:execute("DROP TABLE IF EXISTS vals"))
    assert(session:execute([[CREATE TABLE vals (k text PRIMARY KEY, u uuid, i int, b bigint, d double,
      f boolean, l list<int>, s set<text>, m map<text, int>, dt date, tm time, ts timestamp,
      dec decimal, vi varint, du duration)]]))
  end)
  teardown(function() cluster:shutdown() end)

  it("writes values through %s parameters and reads them back as Lua values", function()
    local id = util.uuid4()
    assert(session:execute([[INSERT INTO vals (k, u, i, b, d, f, l, s, m, dt, tm, ts, dec, vi, du)
      VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)]], {
      "it's", id, -42, 9223372036854775807LL, 2.5, true, { 3, 1, 2 }, util.SortedSet { "b", "a" },
      { one = 1, two = 2 }, util.Date("1969-07-20"), util.Time("20:17:40.123456789"),
      util.datetime(2024, 2, 29, 12, 0, 0), util.Decimal("-123.4500"),
      util.Varint("-123456789012345678901234567890"), util.Duration("1y2mo3d4h5m"),
    }))
    local row = assert(session:execute("SELECT * FROM vals WHERE k = %s", { "it's" })):one()
    assert.equal("it's", row.k)
    assert.equal(tostring(id), tostring(row.u))
    assert.equal(-42, row.i)
    assert.equal(9223372036854775807LL, row.b)
    assert.equal(2.5, row.d)
    assert.is_true(row.f)
    assert.same({ 3, 1, 2, n = 3 }, row.l)
    local items = {}
    for x in row.s:iter() do items[#items + 1] = x end
    assert.same({ "a", "b" }, items) -- a set comes back sorted
    assert.equal(2, row.m:get("two"))
    assert.equal("1969-07-20", tostring(row.dt))
    assert.equal("20:17:40.123456789", tostring(row.tm))
    assert.equal(util.ms_timestamp_from_datetime(util.datetime(2024, 2, 29, 12, 0, 0)), row.ts)
    assert.equal("-123.4500", tostring(row.dec))
    assert.equal("-123456789012345678901234567890", tostring(row.vi))
    assert.equal(tostring(util.Duration("1y2mo3d4h5m")), tostring(row.du))
  end)

  it("cannot be injected into through a string parameter", function()
    assert(session:execute("INSERT INTO vals (k, i) VALUES (%s, %s)", { "x'); DROP TABLE vals; --", 1 }))
    local evil = "x'); DROP TABLE vals; --"
    local row = assert(session:execute("SELECT k, i FROM vals WHERE k = %(k)s", { k = evil })):one()
    assert.equal(1, row.i)
    assert.truthy(session:execute("SELECT count(*) FROM vals"))
  end)

  it("returns server errors as nil, err and keeps working", function()
    local rs, err = session:execute("SELEKT * FROM vals")
    assert.is_nil(rs)
    assert.equal("SyntaxException", err.name)
    rs, err = session:execute("SELECT * FROM no_such_table")
    assert.is_nil(rs)
    assert.equal("InvalidRequest", err.name)
    assert.truthy(session:execute("SELECT k FROM vals LIMIT 1"))
  end)

  it("raises on misuse, naming what was wrong", function()
    assert.has_error(function() session:execute("SELECT * FROM vals WHERE k = %s", { "a", "b" }) end,
      "bad argument #2 to 'execute' (the query has 1 %s marker(s) but 2 parameter(s) were given)")
    assert.has_error(function() session:execute(42) end)
  end)

  it("sends custom payloads the server accepts (Cassandra returns none without a custom handler)", function()
    local rs = assert(session:execute("SELECT key FROM system.local", nil,
                                      { custom_payload = { ["cqlua-test"] = "\0\1binary" } }))
    assert.equal("local", rs:one().key)
    assert.is_nil(rs.custom_payload)
  end)

  it("resolves contact points given as host names", function()
    local c = Cluster { contact_points = { "localhost" } }
    finally(function() c:shutdown() end)
    if hosts[1] ~= "127.0.0.1" then
      pending("skipped: the integration cluster is not on 127.0.0.1, where localhost points")
      return
    end
    local s = assert(c:connect())
    assert.equal("127.0.0.1", assert(s:execute("SELECT key FROM system.local")).coordinator.address)
  end)

  it("completes or fails every pending request at shutdown, then refuses new ones", function()
    local c = Cluster { contact_points = hosts }
    local s = assert(c:connect())
    local futures = {}
    for i = 1, 200 do futures[i] = s:execute_async("SELECT key FROM system.local") end
    c:shutdown()
    local ok, failed = 0, 0
    for _, f in ipairs(futures) do
      local rs, err = f:result(5)
      if rs then ok = ok + 1 else
        assert.equal("ConnectionShutdown", err.name) -- not OperationTimedOut: nothing was left hanging
        failed = failed + 1
      end
    end
    assert.equal(200, ok + failed)
    assert.has_error(function() s:execute("SELECT key FROM system.local") end, "the session is shut down")
    assert.has_error(function() s:prepare("SELECT key FROM system.local") end, "the session is shut down")
    assert.has_error(function() c:connect() end, "the cluster is shut down")
  end)

  it("tries the next contact point, and reports every one when none answers", function()
    local c = Cluster { contact_points = { "127.0.0.1", hosts[1] }, port = 9042 }
    local s = assert(c:connect())
    assert.truthy(s:execute("SELECT key FROM system.local"))
    c:shutdown()
    local dead = Cluster { contact_points = { "127.0.0.1" }, port = 1 }
    local none, err = dead:connect()
    assert.is_nil(none)
    assert.equal("NoHostAvailable", err.name)
    assert.equal("ConnectionException", err.errors["127.0.0.1"].name)
    dead:shutdown()
  end)
end)

describe("the quickstart", function()
  it("runs with the runner against the integration cluster", function()
    local rc, out = testenv.run("CQLUA_HOSTS=" .. hosts[1] .. " " .. testenv.q(testenv.runner)
      .. " examples/quickstart.lua")
    assert.equal(0, rc, out)
    assert.matches("connected to " .. hosts[1]:gsub("%.", "%%."), out)
    assert.matches("User: Alice, Age: 30", out)
  end)
end)
