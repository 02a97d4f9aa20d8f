-- The 3-node, 2-DC local cluster: topology as the servers see it, and a
-- node killed and brought back. The suite runner starts the cluster
-- (scripts/cassandra --cluster multi up --nodes 3 --dcs 2 --prefix 127.0.1.).
local testenv = require "testenv"
local probe = require "cqlprobe"

local hosts = testenv.split(os.getenv("CQLUA_TEST_MULTI_HOSTS"))
local cluster = os.getenv("CQLUA_TEST_MULTI_CLUSTER")
local DCS = { "dc1", "dc1", "dc2" } -- scripts/cassandra spreads 3 nodes over 2 DCs so

local function query(host, cql)
  local c = probe.connect { host = host, timeout = 10 }
  local rows = c:query(cql)
  c:close()
  return rows
end

local function cassandra(args)
  return testenv.run("scripts/cassandra --cluster " .. testenv.q(cluster) .. " " .. args)
end

describe("a 3-node, 2-DC cluster", function()
  it("has three nodes that each list the other two in system.peers_v2 with their DCs", function()
    assert.equal(3, #hosts)
    for i, host in ipairs(hosts) do
      local me = query(host, "SELECT data_center FROM system.local")
      assert.equal(DCS[i], me[1][1])
      local seen = {}
      for _, row in ipairs(query(host, "SELECT peer, data_center FROM system.peers_v2")) do
        seen[row[1]] = row[2]
      end
      local want = {}
      for j, other in ipairs(hosts) do
        if j ~= i then want[other] = DCS[j] end
      end
      assert.same(want, seen)
    end
  end)

  describe("with a node killed", function()
    if not cluster then
      pending("skipped: CQLUA_TEST_MULTI_HOSTS names a cluster this run does not manage,"
        .. " so it will not kill its nodes")
      return
    end

    it("reports the node down, keeps the others serving, and brings it back", function()
      local rc, out = cassandra("up --nodes 3 --dcs 2 --prefix 127.0.1.")
      assert.equal(0, rc, out)
      assert.truthy(out:find("already up", 1, true), out)

      rc, out = cassandra("kill-node 2")
      assert.equal(0, rc, out)
      rc, out = cassandra("status")
      assert.equal(3, rc, "status must exit 3 while a node is down")
      assert.matches("node2 +127%.0%.1%.2 +dc1 +pid=%- +DOWN", out)
      assert.has_error(function() probe.connect { host = hosts[2], timeout = 2 } end)
      local peer3 = query(hosts[1], "SELECT peer FROM system.peers_v2 WHERE peer = '" .. hosts[3] .. "'")
      assert.equal(hosts[3], peer3[1][1])

      rc, out = cassandra("start-node 2")
      assert.equal(0, rc, out)
      rc, out = cassandra("status")
      assert.equal(0, rc, out)
      assert.matches("node2 +127%.0%.1%.2 +dc1 +pid=%d+ +UP", out)
      assert.equal("dc1", query(hosts[2], "SELECT data_center FROM system.local")[1][1])
    end)
  end)

  it("refuses to change the shape of a running cluster", function()
    if not cluster then
      pending("skipped: the cluster is not managed by this run")
      return
    end
    local rc, out = cassandra("up --nodes 2")
    assert.equal(1, rc)
    assert.truthy(out:find("different shape", 1, true), out)
  end)
end)
