-- Foundation check: the integration suite reaches a real Cassandra.
-- Uses the dev probe (scripts/lib/cqlprobe.lua), not the driver.
local testenv = require "testenv"
local probe = require "cqlprobe"

describe("the integration cluster", function()
  local conn

  setup(function() conn = probe.connect(testenv.probe_opts()) end)
  teardown(function() if conn then conn:close() end end)

  it("is a real Cassandra 5.0.x and says which", function()
    local rows = conn:query("SELECT release_version, cql_version FROM system.local")
    local release = rows[1][1]
    -- Printed so the test log records the server version it ran against.
    io.stderr:write(("\n# integration server: Cassandra %s (CQL %s) at %s\n"):format(
      release, rows[1][2], testenv.hosts()[1]))
    assert.matches("^5%.0%.%d+", release)
  end)

  it("stores and returns data", function()
    local ks = ("cqlua_found_%d"):format(os.time())
    conn:query(("CREATE KEYSPACE %s WITH replication = "
      .. "{'class': 'SimpleStrategy', 'replication_factor': 1}"):format(ks))
    conn:query(("CREATE TABLE %s.t (k int PRIMARY KEY, v text)"):format(ks))
    conn:query(("INSERT INTO %s.t (k, v) VALUES (1, 'one')"):format(ks))
    local rows = conn:query(("SELECT k, v FROM %s.t WHERE k = 1"):format(ks))
    conn:query(("DROP KEYSPACE %s"):format(ks))
    assert.same({ { 1, "one" } }, rows)
  end)
end)
