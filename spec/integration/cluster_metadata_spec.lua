-- cluster.metadata kept by the cluster: the schema read at connect, the
-- token map built from the hosts, and schema changes made by another
-- client followed through the control connection's events.
local testenv = require "testenv"
local Cluster = require("cql.cluster").Cluster
local runtime = require "cql.runtime"

local function wait_until(limit, cond)
  local t0 = runtime.scheduler().host:now()
  while not cond() do
    if runtime.scheduler().host:now() - t0 > limit then return false end
    runtime.sleep(0.05)
  end
  return true
end

describe("cluster.metadata", function()
  local cluster, other
  setup(function()
    cluster = Cluster { contact_points = testenv.hosts() }
    assert(cluster:connect())
    other = assert(Cluster { contact_points = testenv.hosts() }:connect())
    assert(other:execute("DROP KEYSPACE IF EXISTS cqlua_md"))
  end)
  teardown(function()
    if other then
      other:execute("DROP KEYSPACE IF EXISTS cqlua_md")
      other.cluster:shutdown()
    end
    if cluster then cluster:shutdown() end
  end)

  it("holds the schema, the hosts and a token map after connect", function()
    local md = cluster.metadata
    assert.is_not_nil(md:get_keyspace("system_schema"))
    assert.is_not_nil(md:get_table("system", "local"))
    assert.same(cluster:all_hosts(), md:all_hosts())
    assert.is_not_nil(md.token_map)
    -- system_auth replicates with SimpleStrategy: on one node, that node.
    local replicas = md:get_replicas("system_auth", "\0\0\0\1")
    assert.equal(1, #replicas)
    assert.equal(cluster:all_hosts()[1], replicas[1])
  end)

  it("follows schema changes another client makes", function()
    assert(other:execute("CREATE KEYSPACE cqlua_md WITH replication = "
      .. "{'class': 'SimpleStrategy', 'replication_factor': 1}"))
    assert.is_true(wait_until(5, function() return cluster.metadata:get_keyspace("cqlua_md") ~= nil end),
                   "the new keyspace appears within 5 s")
    assert(other:execute("CREATE TABLE cqlua_md.t (k int, c text, v list<int>, PRIMARY KEY (k, c))"))
    assert.is_true(wait_until(5, function() return cluster.metadata:get_table("cqlua_md", "t") ~= nil end),
                   "the new table appears within 5 s")
    local t = cluster.metadata:get_table("cqlua_md", "t")
    assert.equal("k", t.partition_key[1].name)
    assert.equal("c", t.clustering_key[1].name)
    assert(other:execute("ALTER TABLE cqlua_md.t ADD w text"))
    assert.is_true(wait_until(5, function()
      local tt = cluster.metadata:get_table("cqlua_md", "t")
      return tt and tt.columns.w ~= nil
    end), "the added column appears within 5 s")
    -- The new keyspace is in the token map too.
    assert.equal(1, #cluster.metadata:get_replicas("cqlua_md", "\0\0\0\1"))
    assert(other:execute("DROP KEYSPACE cqlua_md"))
    assert.is_true(wait_until(5, function() return cluster.metadata:get_keyspace("cqlua_md") == nil end),
                   "the dropped keyspace disappears within 5 s")
  end)

  it("re-reads the schema on demand", function()
    assert.is_true(cluster:refresh_schema_metadata())
    assert.is_true(cluster:refresh_keyspace_metadata("system"))
    assert.is_true(cluster:refresh_nodes())
  end)
end)
