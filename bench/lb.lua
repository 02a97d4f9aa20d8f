--- Benchmark: the cost of a query plan, in nanoseconds per plan, on a
-- 12-node, 2-DC ring with 16 vnodes per node (NetworkTopologyStrategy
-- dc1: 3, dc2: 3), for each load-balancing policy, pulling the first host
-- only (what a request answered at once costs) and the whole plan.
--
-- It also splits the token-aware plan into its parts: the replica lookup
-- (murmur3 hash, binary search and replica table in C, through
-- `metadata:get_replicas`) and the Lua ordering around it, and times one
-- bare FFI call and the floor every lazy plan pays (a state table and an
-- iterator closure: LuaJIT does not compile closure creation), to tell
-- what moving the ordering into C could save.
-- Run: build/cqlua bench/lb.lua (about 5 seconds), or
-- CQLUA_LIB=build/libcqlua.so LUA_PATH='lua/?.lua;lua/?/init.lua' luajit bench/lb.lua
local ffi = require "ffi"
local lb = require "cql.policies.load_balancing"
local policies = require "cql.policies"
local metadata = require "cql.metadata"
local query = require "cql.query"
local core = require "cql.core"
local Host = require("cql.pool").Host

local N = 1000000

local function now()
  return os.clock()
end

math.randomseed(1)
local hosts = {}
for i = 1, 12 do
  local h = Host.new("10.0." .. (i <= 6 and 1 or 2) .. "." .. i, 9042)
  h.datacenter, h.rack, h.tokens, h.is_up = i <= 6 and "dc1" or "dc2", "rack1", {}, true
  for j = 1, 16 do h.tokens[j] = ("%.0f"):format(math.random(-2 ^ 30, 2 ^ 30) * 2 ^ 32 + j) end
  hosts[i] = h
end
local md = metadata.new()
md.keyspaces.k = metadata.KeyspaceMetadata.new("k", true, { class = "NetworkTopologyStrategy", dc1 = "3", dc2 = "3" })
assert(md:rebuild_token_map("org.apache.cassandra.dht.Murmur3Partitioner", hosts))
local cluster = { metadata = md, contact_points = { hosts[1].address } }

-- 1024 bound statements over distinct keys, as cql.query makes them.
local ps = setmetatable({ routing_key_indexes = { 0 }, column_metadata = { { keyspace = "k", name = "id" } } },
                        query.PreparedStatement)
local ps2 = setmetatable({ routing_key_indexes = { 0, 1 },
                           column_metadata = { { keyspace = "k", name = "a" }, { keyspace = "k", name = "b" } } },
                         query.PreparedStatement)
local statements, composite = {}, {}
for i = 1, 1024 do
  statements[i] = setmetatable({ prepared_statement = ps, bodies = { n = 1, "key-" .. i } }, query.BoundStatement)
  local bodies = { n = 2, "\0\0\0" .. string.char(i % 256), "k" .. i }
  composite[i] = setmetatable({ prepared_statement = ps2, bodies = bodies }, query.BoundStatement)
end

local function bench(name, fn)
  fn(1000) -- warm up (and let the JIT compile)
  local t0 = now()
  fn(N)
  local ns = (now() - t0) * 1e9 / N
  print(("%-52s %8.1f ns"):format(name, ns))
  return ns
end

local function first_host(p, sts)
  return function(n)
    for i = 1, n do
      local h = p:make_query_plan("k", sts and sts[i % 1024 + 1])()
      assert(h)
    end
  end
end

local function whole_plan(p, sts)
  return function(n)
    for i = 1, n do
      local plan = p:make_query_plan("k", sts and sts[i % 1024 + 1])
      local h = plan()
      while h do h = plan() end
    end
  end
end

local rr = policies.RoundRobinPolicy()
rr:populate(cluster, hosts)
local dc = lb.DCAwareRoundRobinPolicy { local_dc = "dc1", used_hosts_per_remote_dc = 2 }
dc:populate(cluster, hosts)
local ta = lb.TokenAwarePolicy(lb.DCAwareRoundRobinPolicy { local_dc = "dc1", used_hosts_per_remote_dc = 2 })
ta:populate(cluster, hosts)
local tas = lb.TokenAwarePolicy(lb.DCAwareRoundRobinPolicy { local_dc = "dc1", used_hosts_per_remote_dc = 2 }, true)
tas:populate(cluster, hosts)
local la = lb.LatencyAwarePolicy(lb.TokenAwarePolicy(lb.DCAwareRoundRobinPolicy { local_dc = "dc1" }),
                                 { now = function() return 0 end })
la:populate(cluster, hosts)
for _, h in ipairs(hosts) do
  for _ = 1, 60 do la:record_latency(h, 0.001) end
end

print(("query plans, %d per line (12 hosts, 2 DCs, 16 vnodes each)"):format(N))
bench("RoundRobinPolicy (cql.policies), first host", first_host(rr))
bench("DCAwareRoundRobinPolicy, first host", first_host(dc))
bench("DCAwareRoundRobinPolicy, whole plan (8 hosts)", whole_plan(dc))
local ta_first = bench("TokenAware(DCAware), first host", first_host(ta, statements))
bench("TokenAware(DCAware), whole plan (8 hosts)", whole_plan(ta, statements))
bench("TokenAware(DCAware, shuffle), first host", first_host(tas, statements))
bench("TokenAware(DCAware), composite key, first host", first_host(ta, composite))
bench("LatencyAware(TokenAware(DCAware)), first host", first_host(la, statements))

print("\nparts of a token-aware first host")
local lookup = bench("  metadata:get_replicas (C lookup + host table)", function(n)
  for i = 1, n do
    local r = md:get_replicas("k", statements[i % 1024 + 1].bodies[1])
    assert(r[1])
  end
end)
bench("  routing_key of a one-column bound statement", function(n)
  for i = 1, n do assert(lb.routing_key(statements[i % 1024 + 1])) end
end)
bench("  routing_key of a two-column bound statement", function(n)
  for i = 1, n do assert(lb.routing_key(composite[i % 1024 + 1])) end
end)
local function new_plan(st) return function() return st end end
bench("  the floor: one state table and a closure over it", function(n)
  for i = 1, n do assert(new_plan({ i = i, n = 0 })()) end
end)
local C = core.C
local ring = md.token_map.c_ring
local sink = 0
bench("  one bare FFI call (cq_token_ring_find)", function(n)
  for i = 1, n do sink = sink + tonumber(C.cq_token_ring_find(ring, i) or 0) end
end)
print(("\nLua ordering around the lookup: %.1f ns of %.1f ns per token-aware plan (first host)")
  :format(ta_first - lookup, ta_first))
assert(sink >= 0 and ffi)
