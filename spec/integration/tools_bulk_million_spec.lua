-- The issue's full-size round trip: 1,000,000 rows unloaded to CSV and
-- loaded into an empty copy give identical contents, by a checksum over
-- every row. (tools_bulk_spec.lua covers every column type, resuming and
-- rejects on 20,000 rows; this one is about volume.)
local testenv = require "testenv"
local tools = require "tools_env"
local Cluster = require("cql.cluster").Cluster
local concurrent = require "cql.concurrent"

describe("cqlua unload and load of 1,000,000 rows", function()
  local N = 1000000
  local cluster, session, dir
  setup(function()
    cluster = Cluster { contact_points = testenv.hosts() }
    session = assert(cluster:connect())
    assert(session:execute("CREATE KEYSPACE IF NOT EXISTS ops_million WITH replication = "
      .. "{'class': 'SimpleStrategy', 'replication_factor': 1}"))
    for _, t in ipairs { "src", "dst" } do
      assert(session:execute("DROP TABLE IF EXISTS ops_million." .. t))
      assert(session:execute("CREATE TABLE ops_million." .. t
        .. " (k int, c int, v text, big bigint, PRIMARY KEY (k, c))"))
    end
    local ins = assert(session:prepare("INSERT INTO ops_million.src (k, c, v, big) VALUES (?, ?, ?, ?)"))
    local batch = 20000
    for first = 1, N, batch do
      local args = {}
      for i = first, first + batch - 1 do
        args[#args + 1] = { i % 10007, i, i % 9 == 0 and ("text, with \"quotes\" " .. i) or ("v" .. i),
                            i * 1000003LL }
      end
      for _, r in ipairs(concurrent.execute_concurrent_with_args(session, ins, args, { concurrency = 256 })) do
        assert(r.success, tostring(r.result))
      end
    end
    dir = testenv.tmpdir()
  end)
  teardown(function()
    if dir then testenv.rm(dir) end
    if session then session:execute("DROP KEYSPACE IF EXISTS ops_million") end
    if cluster then cluster:shutdown() end
  end)

  it("round-trips through CSV with identical contents", function()
    local rc, out, err = tools.run("unload ops_million.src -o " .. dir .. "/src.csv --concurrency 4 --quiet")
    assert.equal(0, rc, out .. err)
    assert.truthy(out:find("unloaded " .. N .. " rows", 1, true), out)
    rc, out, err = tools.run("load ops_million.dst -i " .. dir .. "/src.csv --concurrency 64 --quiet")
    assert.equal(0, rc, out .. err)
    assert.truthy(out:find("loaded " .. N .. " of " .. N .. " records, 0 rejected", 1, true), out)
    local a, na = tools.checksum(session, "ops_million", "src")
    local b, nb = tools.checksum(session, "ops_million", "dst")
    assert.equal(N, na)
    assert.equal(N, nb)
    assert.equal(a, b)
  end)
end)
