-- get_replicas against the server on the 3-node, 2-DC cluster, for 1,000
-- random keys, with SimpleStrategy and NetworkTopologyStrategy.
--
-- Source of truth (nothing of ours in it): the server computes each key's
-- token (`SELECT token(k)`), and the server's StorageService says which
-- endpoints replicate every token range (`nodetool describering`, run from
-- the fetched Cassandra jars over the node's local JMX port). Our side:
-- the token map built from system.local / system.peers_v2 tokens, our
-- Murmur3 of the serialized key, our placement. A few keys are also checked
-- with `nodetool getendpoints`, which hashes the key on the server itself.
local testenv = require "testenv"
local probe = require "cqlprobe"
local Cluster = require("cql.cluster").Cluster
local metadata = require "cql.metadata"
local murmur3 = require "cql.murmur3"
local schema = require "cql.metadata.schema"

local hosts = testenv.split(os.getenv("CQLUA_TEST_MULTI_HOSTS"))
local cluster_name = os.getenv("CQLUA_TEST_MULTI_CLUSTER")
local KEYS = 1000

local cache = os.getenv("CQLUA_CACHE")
  or ((os.getenv("XDG_CACHE_HOME") or (os.getenv("HOME") .. "/.cache")) .. "/cqlua")

local read_file = testenv.read_file

-- The JMX port of node 1 of the cluster this run manages (from the running
-- JVM's command line), and the jars to run NodeTool with; nil and why when
-- not available.
local function nodetool_setup()
  if not cluster_name then return nil, "CQLUA_TEST_MULTI_HOSTS names a cluster this run does not manage" end
  local pid = read_file(cache .. "/clusters/" .. cluster_name .. "/node1/pid")
  if not pid then return nil, "no pid file for node 1 of cluster " .. cluster_name end
  local cmdline = read_file("/proc/" .. pid:match("%d+") .. "/cmdline")
  local port = cmdline and cmdline:match("%-Dcassandra%.jmx%.local%.port=(%d+)")
  if not port then return nil, "cannot find node 1's JMX port" end
  local rc, lib = testenv.run("ls -d " .. testenv.q(cache) .. "/cassandra-*/lib | tail -1")
  lib = lib:gsub("%s+$", "")
  if rc ~= 0 or lib == "" then return nil, "no Cassandra jars under " .. cache end
  return { port = port, lib = lib }
end

local JAVA_OPTS = table.concat({
  "--add-exports java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens java.base/sun.nio.ch=ALL-UNNAMED",
  "--add-exports java.base/jdk.internal.misc=ALL-UNNAMED", "--add-exports java.base/jdk.internal.ref=ALL-UNNAMED",
  "--add-opens java.base/java.lang=ALL-UNNAMED", "--add-opens java.base/java.nio=ALL-UNNAMED",
  "--add-exports jdk.unsupported/sun.misc=ALL-UNNAMED",
}, " ")

local function nodetool(nt, args)
  local cmd = "java " .. JAVA_OPTS .. " -Dcassandra.logdir=/tmp -Dlogback.configurationFile=/dev/null -cp "
    .. testenv.q(nt.lib .. "/*") .. " org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p " .. nt.port .. " " .. args
  local rc, out = testenv.run(cmd .. " 2>/dev/null")
  assert(rc == 0, "nodetool " .. args .. " failed:\n" .. out)
  return out
end

-- `nodetool describering ks`: ranges (start, end] with their endpoints.
local function describering(nt, ks)
  local ranges = {}
  local pattern = "start_token:(%-?%d+), end_token:(%-?%d+), endpoints:%[(.-)%]"
  for s, e, eps in nodetool(nt, "describering " .. ks):gmatch(pattern) do
    local list = {}
    for ep in eps:gmatch("[^,%s]+") do list[#list + 1] = ep end
    ranges[#ranges + 1] = { start = metadata.parse_token(s), stop = metadata.parse_token(e), endpoints = list }
  end
  return ranges
end

local function in_range(r, t)
  if r.start < r.stop then return t > r.start and t <= r.stop end
  return t > r.start or t <= r.stop -- the range wrapping past the maximum
end

local function server_replicas(ranges, t)
  local found
  for _, r in ipairs(ranges) do
    if in_range(r, t) then
      assert(not found, "token " .. tostring(t) .. " in two ranges")
      found = r.endpoints
    end
  end
  return assert(found, "token " .. tostring(t) .. " in no range")
end

local function addresses(list)
  local out = {}
  for i, h in ipairs(list) do out[i] = h.address end
  return out
end

local function sorted(list)
  local c = {}
  for i, v in ipairs(list) do c[i] = v end
  table.sort(c)
  return c
end

describe("get_replicas on the 3-node, 2-DC cluster", function()
  local nt, why = nodetool_setup()
  if not nt then
    it("agrees with the server", function()
      print("\nskipped: " .. why .. ", so the server's replica placement cannot be read over JMX")
      pending("skipped: " .. why)
    end)
    return
  end

  local cluster, session, md, keys, tokens
  local KEYSPACES = {
    meta_simple = "{'class': 'SimpleStrategy', 'replication_factor': 2}",
    meta_nts = "{'class': 'NetworkTopologyStrategy', 'dc1': 2, 'dc2': 1}",
    meta_nts_one = "{'class': 'NetworkTopologyStrategy', 'dc1': 1, 'dc2': 1}",
  }

  local function execute(q, p)
    local rs, err = session:execute(q, p)
    if not rs then return nil, err end
    return rs:all()
  end

  setup(function()
    cluster = Cluster { contact_points = { hosts[1] } }
    session = assert(cluster:connect())
    -- ALL: a coordinator in dc2 may hold no SimpleStrategy replica (so no
    -- LOCAL_ONE), and every read must see every write
    session.default_consistency_level = require("cql").ConsistencyLevel.ALL
    for ks, repl in pairs(KEYSPACES) do
      assert(session:execute("DROP KEYSPACE IF EXISTS " .. ks))
      assert(session:execute("CREATE KEYSPACE " .. ks .. " WITH replication = " .. repl))
    end
    assert(session:execute("CREATE TABLE meta_simple.t (k text PRIMARY KEY)"))
    assert(session:execute("CREATE TABLE meta_simple.c (a int, b text, PRIMARY KEY ((a, b)))"))
    -- the topology: each node's own system.local row, read from that node
    -- with the dev probe (the driver's session may pick any coordinator)
    local topo, partitioner = {}, nil
    for _, h in ipairs(hosts) do
      local c = probe.connect { host = h, timeout = 10 }
      local row = c:query("SELECT data_center, rack, tokens, partitioner FROM system.local")[1]
      c:close()
      topo[#topo + 1] = { address = h, datacenter = row[1], rack = row[2], tokens = row[3] }
      partitioner = row[4]
    end
    assert.equal(3, #topo)
    md = metadata.new()
    assert(md:refresh_schema(execute))
    assert(md:rebuild_token_map(partitioner, topo))
    -- 1,000 random keys and the tokens the server gives them
    math.randomseed(os.time())
    keys, tokens = {}, {}
    local seen = {}
    while #keys < KEYS do
      local parts = {}
      for i = 1, math.random(1, 24) do parts[i] = string.char(math.random(32, 126)) end
      local k = table.concat(parts)
      if not seen[k] then
        seen[k] = true
        keys[#keys + 1] = k
        assert(session:execute("INSERT INTO meta_simple.t (k) VALUES (%s)", { k }))
      end
    end
    for _, row in ipairs(assert(execute("SELECT k, token(k) AS t FROM meta_simple.t"))) do tokens[row.k] = row.t end
  end)

  teardown(function()
    if session then
      for ks in pairs(KEYSPACES) do session:execute("DROP KEYSPACE IF EXISTS " .. ks) end
    end
    if cluster then cluster:shutdown() end
  end)

  it("hashes every key to the token the server computes", function()
    local n = 0
    for _, k in ipairs(keys) do
      assert.equal(tokens[k], murmur3.murmur3(k), k)
      n = n + 1
    end
    assert.equal(KEYS, n)
  end)

  for _, ks in ipairs { "meta_simple", "meta_nts", "meta_nts_one" } do
    it("agrees with the server's ranges for " .. KEYS .. " keys in " .. ks .. " (" .. KEYSPACES[ks] .. ")", function()
      local ranges = describering(nt, ks)
      assert.is_true(#ranges >= 3, "describering gave " .. #ranges .. " ranges")
      local strat = md.keyspaces[ks].replication_strategy
      local want_count = strat.kind == "simple" and strat.replication_factor
        or (strat.dc_replication_factors.dc1 + strat.dc_replication_factors.dc2)
      local checked = 0
      for _, k in ipairs(keys) do
        local ours = addresses(md:get_replicas(ks, k))
        local theirs = server_replicas(ranges, tokens[k])
        assert.equal(want_count, #ours, k)
        -- the same replicas, and in the server's order (ring walk order)
        assert.same(theirs, ours, "key " .. k .. ", token " .. tostring(tokens[k]))
        checked = checked + 1
      end
      assert.equal(KEYS, checked)
    end)
  end

  it("agrees with nodetool getendpoints, which hashes the key on the server", function()
    for _, ks in ipairs { "meta_simple", "meta_nts" } do
      if ks ~= "meta_simple" then assert(session:execute("CREATE TABLE " .. ks .. ".t (k text PRIMARY KEY)")) end
      for i = 1, 3 do
        local k = keys[i]:gsub("[^%w]", "x") -- a shell- and nodetool-friendly key
        local out = nodetool(nt, "getendpoints " .. ks .. " t " .. testenv.q(k))
        local theirs = {}
        for ep in out:gmatch("(%d+%.%d+%.%d+%.%d+)") do theirs[#theirs + 1] = ep end
        assert.same(sorted(theirs), sorted(addresses(md:get_replicas(ks, k))), ks .. " " .. k)
      end
    end
  end)

  it("routes composite partition keys by the server's token too", function()
    local function int32(n)
      return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256,
                         n % 256)
    end
    for i = 1, 50 do
      local a, b = math.random(0, 2 ^ 31 - 1), "b" .. i
      assert(session:execute("INSERT INTO meta_simple.c (a, b) VALUES (%s, %s)", { a, b }))
      local row = assert(execute("SELECT token(a, b) AS t FROM meta_simple.c WHERE a = %s AND b = %s", { a, b }))[1]
      local rk = murmur3.routing_key { int32(a), b }
      assert.equal(row.t, murmur3.murmur3(rk))
    end
    assert.is_true(schema.replication_key(md.keyspaces.meta_nts.replication_strategy) == "nts:dc1=2,dc2=1")
  end)
end)
