-- Load-balancing policies and routing keys, without a server: plans over
-- synthetic hosts, distances, composition with a child written in Lua,
-- laziness, and routing keys checked against tokens a real Cassandra 5.0
-- computed (SELECT token(...)).
local ffi = require "ffi"
local bit = require "bit"
local lb = require "cql.policies.load_balancing"
local policies = require "cql.policies"
local query = require "cql.query"
local murmur3 = require "cql.murmur3"
local metadata = require "cql.metadata"
local log = require "cql.log"
local Host = require("cql.pool").Host

local LOCAL, REMOTE, IGNORED = lb.HostDistance.LOCAL, lb.HostDistance.REMOTE, lb.HostDistance.IGNORED

local function host(address, dc, tokens)
  local h = Host.new(address, 9042)
  h.datacenter, h.rack, h.tokens = dc, "rack1", tokens or {}
  return h
end

local function drain(plan, limit)
  local out = {}
  for _ = 1, limit or 100 do
    local h = plan()
    if h == nil then break end
    out[#out + 1] = h.address
  end
  return out
end

local function sorted(t)
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  table.sort(c)
  return c
end

-- Captures what the driver logs at `level` or above while fn runs.
local function capture_log(fn)
  local lines = {}
  log.set_level("info")
  log.set_sink(function(level, message) lines[#lines + 1] = level .. ": " .. message end)
  local ok, err = pcall(fn)
  log.set_sink(nil)
  log.set_level("warn")
  assert(ok, err)
  return lines
end

-- Big-endian two's complement, as the protocol serializes int and bigint.
local function be(n, size)
  local v = ffi.cast("int64_t", n)
  local out = {}
  for i = size - 1, 0, -1 do out[#out + 1] = string.char(tonumber(bit.band(bit.rshift(v, i * 8), 0xff))) end
  return table.concat(out)
end
local function int32(n) return be(n, 4) end
local function int64(n) return be(n, 8) end

-- A bound statement as cql.query makes them, for a table whose partition
-- key is made of the markers at `indexes` (0-based, as the server sends).
local function bound(indexes, bodies, keyspace)
  local cols = {}
  for i = 1, math.max(bodies.n or #bodies, 1) do cols[i] = { keyspace = keyspace or "ks", name = "c" .. i } end
  local ps = setmetatable({ query_string = "...", routing_key_indexes = indexes, column_metadata = cols,
                            keyspace = "prepared_ks" }, query.PreparedStatement)
  bodies.n = bodies.n or #bodies
  return setmetatable({ prepared_statement = ps, bodies = bodies }, query.BoundStatement)
end

describe("routing keys", function()
  -- (key -> token) pairs computed by Cassandra 5.0.9 with SELECT token(...)
  -- on tables lb_tokens.s (k text PRIMARY KEY) and
  -- lb_tokens.c (a int, b text, c bigint, PRIMARY KEY ((a, b, c))).
  it("of one component are its bytes, and hash to the server's token", function()
    local st = bound({ 0 }, { "alpha" })
    assert.equal("alpha", lb.routing_key(st))
    assert.equal(-7531858254489963LL, murmur3.murmur3(lb.routing_key(st)))
    -- the partition key need not be the first marker
    st = bound({ 1 }, { int32(5), "partition-key-7" })
    assert.equal("partition-key-7", lb.routing_key(st))
    assert.equal(4094334758903855096LL, murmur3.murmur3(lb.routing_key(st)))
  end)

  it("of several components use the composite layout, and hash to the server's tokens", function()
    -- markers in statement order c, a, b: the indexes give the key order
    local st = bound({ 1, 2, 0 }, { int64(3), int32(1), "x" })
    local rk = lb.routing_key(st)
    assert.equal("\0\4\0\0\0\1\0" .. "\0\1x\0" .. "\0\8\0\0\0\0\0\0\0\3\0", rk)
    assert.equal(548367587715695919LL, murmur3.murmur3(rk))
    st = bound({ 0, 1, 2 }, { int32(-42), "", int64(9000000000) })
    assert.equal(-2071764653393592999LL, murmur3.murmur3(lb.routing_key(st)))
    st = bound({ 0, 1, 2 }, { int32(2147483647), "héllo", int64(-1) })
    assert.equal(-8902058593914348145LL, murmur3.murmur3(lb.routing_key(st)))
    assert.equal(lb.routing_key(st), lb.encode_routing_key { int32(2147483647), "héllo", int64(-1) })
  end)

  it("are absent without partition key indexes, or with a null or unset component", function()
    assert.is_nil(lb.routing_key(bound({}, { "a" })))
    assert.is_nil(lb.routing_key(bound({ 0, 1 }, { "a", nil, n = 2 })))
    assert.is_nil(lb.routing_key(bound({ 0 }, { query.UNSET_VALUE })))
    assert.is_nil(lb.routing_key(nil))
    assert.is_nil(lb.routing_key(query.SimpleStatement("SELECT 1")))
  end)

  it("can be set on simple statements, as bytes or components", function()
    local st = query.SimpleStatement("SELECT * FROM t WHERE k = 'alpha'")
    st.routing_key = "alpha"
    assert.equal("alpha", lb.routing_key(st))
    st.routing_key = { int32(1), "x", int64(3) }
    assert.equal(548367587715695919LL, murmur3.murmur3(lb.routing_key(st)))
    st.routing_key = 12
    assert.has_error(function() lb.routing_key(st) end,
                     "bad routing_key on the statement (string or array of strings expected, got number)")
    -- one set on a bound statement wins over its values
    local b = bound({ 0 }, { "alpha" })
    b.routing_key = "other"
    assert.equal("other", lb.routing_key(b))
  end)

  it("of a batch are those of its first statement that has one", function()
    local batch = query.BatchStatement()
    batch:add("INSERT INTO t (k) VALUES (1)")
    batch:add(bound({ 0 }, { "alpha" }, "ks2"))
    batch:add(bound({ 0 }, { "beta" }))
    assert.equal("alpha", lb.routing_key(batch))
    assert.equal("ks2", lb.routing_keyspace(batch, "session_ks"))
  end)

  it("belong to the statement's keyspace, the partition key's, the prepared one or the session's", function()
    local st = query.SimpleStatement("SELECT 1")
    assert.equal("session_ks", lb.routing_keyspace(st, "session_ks"))
    st.keyspace = "mine"
    assert.equal("mine", lb.routing_keyspace(st, "session_ks"))
    assert.equal("tbl_ks", lb.routing_keyspace(bound({ 0 }, { "a" }, "tbl_ks"), "session_ks"))
    local b = bound({ 0 }, { "a" })
    b.prepared_statement.column_metadata = {}
    assert.equal("prepared_ks", lb.routing_keyspace(b, "session_ks"))
    assert.is_nil(lb.routing_keyspace(nil, nil))
  end)

  it("reject bad components with a clear error", function()
    assert.has_error(function() lb.encode_routing_key({}) end,
                     "bad argument #1 to 'encode_routing_key' (at least one component expected)")
    assert.has_error(function() lb.encode_routing_key({ "a", 3 }) end,
                     "bad argument #1 to 'encode_routing_key' (component 2 is a number, string expected)")
    assert.has_error(function() lb.encode_routing_key({ "a", ("x"):rep(70000) }) end,
                     "bad argument #1 to 'encode_routing_key' (component 2 is over 65535 bytes)")
    assert.has_error(function() lb.encode_routing_key("a") end,
                     "bad argument #1 to 'encode_routing_key' (array of strings expected, got string)")
  end)
end)

-- dc1: a1 a2 a3, dc2: b1 b2, dc3: c1
local function six_hosts()
  return { host("10.0.1.1", "dc1"), host("10.0.1.2", "dc1"), host("10.0.1.3", "dc1"),
           host("10.0.2.1", "dc2"), host("10.0.2.2", "dc2"), host("10.0.3.1", "dc3") }
end

describe("DCAwareRoundRobinPolicy", function()
  it("rotates over the local hosts and never uses remote ones by default", function()
    local hosts = six_hosts()
    local p = lb.DCAwareRoundRobinPolicy { local_dc = "dc1" }
    p:populate({}, hosts)
    local firsts = {}
    for _ = 1, 30 do
      local plan = drain(p:make_query_plan())
      assert.same({ "10.0.1.1", "10.0.1.2", "10.0.1.3" }, sorted(plan))
      firsts[plan[1]] = (firsts[plan[1]] or 0) + 1
    end
    assert.same({ ["10.0.1.1"] = 10, ["10.0.1.2"] = 10, ["10.0.1.3"] = 10 }, firsts)
    for i = 1, 3 do assert.equal(LOCAL, p:distance(hosts[i])) end
    for i = 4, 6 do assert.equal(IGNORED, p:distance(hosts[i])) end
  end)

  it("adds used_hosts_per_remote_dc hosts of each remote DC after the local ones", function()
    local hosts = six_hosts()
    local p = lb.DCAwareRoundRobinPolicy("dc1", 1) -- the seed's positional form
    p:populate({}, hosts)
    local plan = drain(p:make_query_plan())
    assert.same({ "10.0.1.1", "10.0.1.2", "10.0.1.3" }, sorted({ plan[1], plan[2], plan[3] }))
    assert.same({ "10.0.2.1", "10.0.3.1" }, { plan[4], plan[5] })
    assert.equal(5, #plan)
    assert.equal(REMOTE, p:distance(hosts[4]))
    assert.equal(IGNORED, p:distance(hosts[5]))
    assert.equal(REMOTE, p:distance(hosts[6]))
    -- the used remote host goes down: the next one of its DC replaces it
    hosts[4].is_up = false
    assert.equal(IGNORED, p:distance(hosts[4]))
    assert.equal(REMOTE, p:distance(hosts[5]))
    assert.same({ "10.0.2.2", "10.0.3.1" }, { select(4, unpack(drain(p:make_query_plan()))) })
    -- local hosts down: only the remote ones are left
    for i = 1, 3 do hosts[i].is_up = false end
    assert.same({ "10.0.2.2", "10.0.3.1" }, drain(p:make_query_plan()))
    local p2 = lb.DCAwareRoundRobinPolicy { local_dc = "dc1", used_hosts_per_remote_dc = 5 }
    p2:populate({}, hosts)
    assert.same({ "10.0.2.2", "10.0.3.1" }, drain(p2:make_query_plan()))
    hosts[4].is_up = true
    assert.same({ "10.0.2.1", "10.0.2.2", "10.0.3.1" }, drain(p2:make_query_plan()))
  end)

  it("skips local hosts that are down, and uses them again when they are up", function()
    local hosts = six_hosts()
    local p = lb.DCAwareRoundRobinPolicy { local_dc = "dc1" }
    p:populate({}, hosts)
    hosts[2].is_up = false
    for _ = 1, 5 do assert.same({ "10.0.1.1", "10.0.1.3" }, sorted(drain(p:make_query_plan()))) end
    hosts[2].is_up = true
    p:on_up(hosts[2])
    assert.same({ "10.0.1.1", "10.0.1.2", "10.0.1.3" }, sorted(drain(p:make_query_plan())))
  end)

  it("takes the local DC from the contact points, warning when they span DCs", function()
    local hosts = six_hosts()
    local p = lb.DCAwareRoundRobinPolicy()
    local lines = capture_log(function()
      p:populate({ contact_points = { "10.0.2.2" } }, hosts)
    end)
    assert.equal("dc2", p.local_dc)
    assert.same({ "info: Using datacenter 'dc2' for DCAwareRoundRobinPolicy (from the contact points)" }, lines)
    assert.same({ "10.0.2.1", "10.0.2.2" }, sorted(drain(p:make_query_plan())))

    p = lb.DCAwareRoundRobinPolicy()
    lines = capture_log(function()
      p:populate({ contact_points = { "10.0.3.1", "10.0.1.1:9042", "10.0.1.2" } }, hosts)
    end)
    assert.equal("dc3", p.local_dc)
    assert.equal(2, #lines)
    assert.equal("warn: the contact points span several data centers (dc3, dc1); using 'dc3' as the local one"
      .. " for DCAwareRoundRobinPolicy: give local_dc to choose", lines[2])

    -- the cluster's own contact point hosts win over addresses
    p = lb.DCAwareRoundRobinPolicy()
    capture_log(function()
      p:populate({ contact_points = { "db.example" }, contact_points_hosts = { hosts[5] } }, hosts)
    end)
    assert.equal("dc2", p.local_dc)

    -- a given local_dc stays, with a warning when no contact point is in it
    p = lb.DCAwareRoundRobinPolicy { local_dc = "dc1" }
    lines = capture_log(function() p:populate({ contact_points = { "10.0.2.1" } }, hosts) end)
    assert.equal("dc1", p.local_dc)
    assert.same({ "warn: DCAwareRoundRobinPolicy: local_dc 'dc1' is not the data center of any contact point (dc2)" },
                lines)
  end)

  it("learns the local DC from a contact point coming up when populate could not", function()
    local hosts = six_hosts()
    hosts[4].datacenter = nil -- not known yet
    local p = lb.DCAwareRoundRobinPolicy()
    p:populate({ contact_points = { "10.0.2.1" } }, hosts)
    assert.is_nil(p.local_dc)
    assert.same({}, drain(p:make_query_plan()))
    p:on_up(hosts[1]) -- not a contact point
    assert.is_nil(p.local_dc)
    hosts[4].datacenter = "dc2"
    p:on_add(hosts[4])
    capture_log(function() p:on_up(hosts[4]) end)
    assert.equal("dc2", p.local_dc)
    assert.same({ "10.0.2.1", "10.0.2.2" }, sorted(drain(p:make_query_plan())))
  end)

  it("follows hosts joining and leaving, without changing plans already handed out", function()
    local hosts = six_hosts()
    local p = lb.DCAwareRoundRobinPolicy { local_dc = "dc1", used_hosts_per_remote_dc = 1 }
    p:populate({}, { hosts[1], hosts[2], hosts[4] })
    local before = p:make_query_plan()
    p:on_add(hosts[3])
    p:on_add(hosts[6])
    p:on_remove(hosts[1])
    p:on_remove(hosts[4])
    assert.same({ "10.0.1.1", "10.0.1.2" }, sorted({ before().address, before().address }))
    assert.equal("10.0.2.1", before().address)
    assert.is_nil(before())
    local plan = drain(p:make_query_plan())
    assert.same({ "10.0.1.2", "10.0.1.3" }, sorted({ plan[1], plan[2] }))
    assert.same({ "10.0.3.1" }, { plan[3] })
    assert.equal(3, #plan)
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() lb.DCAwareRoundRobinPolicy(3) end,
                     "bad argument 'local_dc' to 'DCAwareRoundRobinPolicy' (string expected, got number)")
    assert.has_error(function() lb.DCAwareRoundRobinPolicy { local_dc = "dc1", used_hosts_per_remote_dc = -1 } end,
                     "bad argument 'used_hosts_per_remote_dc' to 'DCAwareRoundRobinPolicy' "
                       .. "(non-negative integer expected, got -1)")
    assert.has_error(function() lb.DCAwareRoundRobinPolicy { localdc = "dc1" } end,
                     "bad option 'localdc' for DCAwareRoundRobinPolicy")
  end)
end)

-- A child policy written in Lua, recording what it is asked.
local function lua_child(hosts_by_distance)
  local calls = {}
  local child = { calls = calls, hosts = {} }
  function child:populate(_, hosts)
    calls[#calls + 1] = "populate"
    self.hosts = hosts
  end
  function child.distance(_, h) return hosts_by_distance and hosts_by_distance[h.address] or LOCAL end
  function child:make_query_plan()
    calls[#calls + 1] = "make_query_plan"
    local i = 0
    return function()
      i = i + 1
      return self.hosts[i]
    end
  end
  for _, m in ipairs { "on_up", "on_down", "on_add", "on_remove" } do
    child[m] = function(_, h) calls[#calls + 1] = m .. " " .. h.address end
  end
  return child
end

-- Three hosts with one token each: token("123") = -7468325962851647638
-- falls in (-2^63, -3074457345618258603], owned by 10.0.0.2; the ring walk
-- goes on to 10.0.0.3, then 10.0.0.1.
local function ring()
  local hosts = { host("10.0.0.1", "dc1", { "-9223372036854775808" }),
                  host("10.0.0.2", "dc1", { "-3074457345618258603" }),
                  host("10.0.0.3", "dc2", { "3074457345618258602" }),
                  host("10.0.0.4", "dc1", {}) } -- owns no token
  local md = metadata.new()
  md.keyspaces.s2 = metadata.KeyspaceMetadata.new("s2", true, { class = "SimpleStrategy", replication_factor = "2" })
  md.keyspaces.s3 = metadata.KeyspaceMetadata.new("s3", true, { class = "SimpleStrategy", replication_factor = "3" })
  md.keyspaces.nts = metadata.KeyspaceMetadata.new("nts", true,
    { class = "org.apache.cassandra.locator.NetworkTopologyStrategy", dc1 = "2", dc2 = "1" })
  assert(md:rebuild_token_map("org.apache.cassandra.dht.Murmur3Partitioner", hosts))
  return hosts, md
end

describe("TokenAwarePolicy", function()
  it("puts the statement's local replicas first, in ring order, then the child's plan without them", function()
    local hosts, md = ring()
    local p = lb.TokenAwarePolicy(lb.DCAwareRoundRobinPolicy { local_dc = "dc1", used_hosts_per_remote_dc = 1 })
    p:populate({ metadata = md }, hosts)
    for _ = 1, 10 do
      local plan = drain(p:make_query_plan("s2", bound({ 0 }, { "123" }, "s3")))
      -- s3 (the partition key's keyspace) has replicas 2, 3, 1; 3 is remote
      assert.same({ "10.0.0.2", "10.0.0.1" }, { plan[1], plan[2] })
      assert.same({ "10.0.0.4" }, { plan[3] })
      assert.same({ "10.0.0.3" }, { plan[4] })
      assert.equal(4, #plan)
    end
    local st = query.SimpleStatement("SELECT ...")
    st.routing_key = "123"
    assert.same({ "10.0.0.2" }, { drain(p:make_query_plan("s2", st))[1] })
    st.keyspace = "nts"
    assert.equal("10.0.0.2", drain(p:make_query_plan("s2", st))[1])
  end)

  it("skips replicas that are down or not LOCAL for the child", function()
    local hosts, md = ring()
    local p = lb.TokenAwarePolicy(lb.DCAwareRoundRobinPolicy("dc1", 0))
    p:populate({ metadata = md }, hosts)
    hosts[2].is_up = false
    local plan = drain(p:make_query_plan("s3", bound({ 0 }, { "123" }, "s3")))
    assert.equal("10.0.0.1", plan[1])
    assert.same({ "10.0.0.1", "10.0.0.4" }, sorted(plan))
  end)

  it("follows the child's plan without a routing key, keyspace or token map", function()
    local hosts, md = ring()
    local child = lua_child()
    local p = lb.TokenAwarePolicy(child)
    p:populate({ metadata = md }, hosts)
    local order = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4" }
    assert.same(order, drain(p:make_query_plan("s2", query.SimpleStatement("SELECT 1"))))
    assert.same(order, drain(p:make_query_plan(nil, bound({ 0 }, { "123" }, nil))))
    assert.same(order, drain(p:make_query_plan("unknown_ks", bound({ 0 }, { "123" }, "unknown_ks"))))
    assert.same(order, drain(p:make_query_plan("s2", nil)))
    p:populate({}, hosts) -- no metadata
    assert.same(order, drain(p:make_query_plan("s2", bound({ 0 }, { "123" }, "s2"))))
  end)

  it("composes with a child written in Lua, passing every call through, lazily", function()
    local hosts, md = ring()
    local lookups = 0
    local counting = setmetatable({ get_replicas = function(_, ks, rk)
      lookups = lookups + 1
      return md:get_replicas(ks, rk)
    end }, { __index = md })
    local child = lua_child { ["10.0.0.3"] = REMOTE }
    local p = lb.TokenAwarePolicy(child)
    p:populate({ metadata = counting }, hosts)
    assert.same({ "populate" }, child.calls)
    local plan = p:make_query_plan("s2", bound({ 0 }, { "123" }, "s3"))
    -- nothing is computed before the first host is pulled
    assert.equal(0, lookups)
    assert.same({ "populate" }, child.calls)
    assert.equal("10.0.0.2", plan().address)
    assert.equal(1, lookups)
    assert.equal("10.0.0.1", plan().address)
    assert.same({ "populate" }, child.calls) -- the child's plan is not made while replicas last
    assert.equal("10.0.0.3", plan().address) -- from the child: 1 and 2 are skipped as duplicates
    assert.same({ "populate", "make_query_plan" }, child.calls)
    assert.equal("10.0.0.4", plan().address)
    assert.is_nil(plan())
    assert.equal(1, lookups)
    p:on_up(hosts[1])
    p:on_down(hosts[2])
    p:on_add(hosts[3])
    p:on_remove(hosts[4])
    assert.same({ "populate", "make_query_plan", "on_up 10.0.0.1", "on_down 10.0.0.2", "on_add 10.0.0.3",
                  "on_remove 10.0.0.4" }, child.calls)
    assert.equal(REMOTE, p:distance(hosts[3]))
  end)

  it("shuffles the replicas when asked, keeping them first", function()
    local hosts, md = ring()
    local p = lb.TokenAwarePolicy(lb.DCAwareRoundRobinPolicy("dc1", 1), true)
    p:populate({ metadata = md }, hosts)
    local firsts = {}
    for _ = 1, 200 do
      local plan = drain(p:make_query_plan("s3", bound({ 0 }, { "123" }, "s3")))
      assert.same({ "10.0.0.1", "10.0.0.2" }, sorted({ plan[1], plan[2] }))
      assert.same({ "10.0.0.4", "10.0.0.3" }, { plan[3], plan[4] })
      firsts[plan[1]] = true
    end
    assert.same({ ["10.0.0.1"] = true, ["10.0.0.2"] = true }, firsts)
  end)

  it("sends every key to one of its replicas on a vnode ring", function()
    math.randomseed(5)
    local hosts = {}
    for i = 1, 6 do
      local tokens = {}
      for j = 1, 16 do tokens[j] = ("%.0f"):format(math.random(-2 ^ 30, 2 ^ 30) * 2 ^ 32 + j) end
      hosts[i] = host("10.0.9." .. i, i <= 4 and "dc1" or "dc2", tokens)
    end
    local md = metadata.new()
    md.keyspaces.k = metadata.KeyspaceMetadata.new("k", true,
      { class = "NetworkTopologyStrategy", dc1 = "2", dc2 = "1" })
    assert(md:rebuild_token_map("org.apache.cassandra.dht.Murmur3Partitioner", hosts))
    local p = lb.TokenAwarePolicy(lb.DCAwareRoundRobinPolicy("dc1"))
    p:populate({ metadata = md }, hosts)
    for key = 1, 300 do
      local rk = "key" .. key
      local first = p:make_query_plan("k", bound({ 0 }, { rk }, "k"))()
      local replicas = md:get_replicas("k", rk)
      local found = false
      for _, r in ipairs(replicas) do
        if r == first then found = true end
      end
      assert.is_true(found, rk .. " went to a replica")
      assert.equal("dc1", first.datacenter)
    end
  end)

  it("rejects a child that is not a policy", function()
    assert.has_error(function() lb.TokenAwarePolicy(nil) end,
                     "bad argument #1 to 'TokenAwarePolicy' (load balancing policy expected, got nil)")
    assert.has_error(function() lb.TokenAwarePolicy({ populate = function() end }) end,
                     "bad argument #1 to 'TokenAwarePolicy' (the child policy has no method 'distance')")
  end)
end)

describe("WhiteListRoundRobinPolicy", function()
  it("uses only the listed hosts, in turn; the others are IGNORED", function()
    local hosts = six_hosts()
    local p = lb.WhiteListRoundRobinPolicy { "10.0.1.2", "10.0.2.1:9042" }
    p:populate({}, hosts)
    local firsts = {}
    for _ = 1, 10 do
      local plan = drain(p:make_query_plan())
      assert.same({ "10.0.1.2", "10.0.2.1" }, sorted(plan))
      firsts[plan[1]] = (firsts[plan[1]] or 0) + 1
    end
    assert.same({ ["10.0.1.2"] = 5, ["10.0.2.1"] = 5 }, firsts)
    assert.equal(LOCAL, p:distance(hosts[2]))
    assert.equal(LOCAL, p:distance(hosts[4]))
    assert.equal(IGNORED, p:distance(hosts[1]))
    hosts[2].is_up = false
    assert.same({ "10.0.2.1" }, drain(p:make_query_plan()))
    p:on_remove(hosts[4])
    assert.same({}, drain(p:make_query_plan()))
    p:on_add(hosts[1]) -- not listed
    assert.same({}, drain(p:make_query_plan()))
    p:on_add(hosts[4])
    assert.same({ "10.0.2.1" }, drain(p:make_query_plan()))
  end)

  it("rejects an empty or malformed list", function()
    assert.has_error(function() lb.WhiteListRoundRobinPolicy {} end,
                     "bad argument #1 to 'WhiteListRoundRobinPolicy' (non-empty array of addresses expected)")
    assert.has_error(function() lb.WhiteListRoundRobinPolicy { "10.0.0.1", 7 } end,
                     "bad argument #1 to 'WhiteListRoundRobinPolicy' (entry 2 is a number, address expected)")
  end)
end)

describe("HostFilterPolicy", function()
  it("keeps rejected hosts out of plans, distances and the child's view", function()
    local hosts = six_hosts()
    local asked = 0
    local child = lua_child()
    local p = lb.HostFilterPolicy(child, function(h)
      asked = asked + 1
      return h.address ~= "10.0.1.2" and h.address ~= "10.0.2.1"
    end)
    p:populate({}, hosts)
    assert.equal(4, #child.hosts)
    assert.equal(IGNORED, p:distance(hosts[2]))
    assert.equal(LOCAL, p:distance(hosts[1]))
    asked = 0
    local plan = p:make_query_plan()
    assert.equal(0, asked) -- lazy
    assert.equal("10.0.1.1", plan().address)
    assert.equal(1, asked)
    assert.same({ "10.0.1.3", "10.0.2.2", "10.0.3.1" }, drain(plan))
    p:on_up(hosts[2])
    p:on_down(hosts[1])
    p:on_add(hosts[4])
    p:on_remove(hosts[6])
    assert.same({ "populate", "make_query_plan", "on_down 10.0.1.1", "on_remove 10.0.3.1" }, child.calls)
  end)

  it("has a read-only predicate and rejects bad arguments", function()
    local pred = function() return true end
    local p = lb.HostFilterPolicy(policies.RoundRobinPolicy(), pred)
    assert.equal(pred, p.predicate)
    assert.has_error(function() p.predicate = function() return false end end,
                     "HostFilterPolicy.predicate is read-only")
    assert.has_error(function() lb.HostFilterPolicy(policies.RoundRobinPolicy(), "x") end,
                     "bad argument #2 to 'HostFilterPolicy' (function expected, got string)")
  end)

  it("wraps the lead's RoundRobinPolicy", function()
    local hosts = six_hosts()
    local p = lb.HostFilterPolicy(policies.RoundRobinPolicy(), function(h) return h.datacenter == "dc2" end)
    p:populate({}, hosts)
    assert.same({ "10.0.2.1", "10.0.2.2" }, sorted(drain(p:make_query_plan())))
  end)
end)

describe("LatencyAwarePolicy", function()
  local function setup_policy(opts)
    local t = 0
    opts = opts or {}
    opts.now = function() return t end
    local hosts = { host("10.0.1.1", "dc1"), host("10.0.1.2", "dc1"), host("10.0.1.3", "dc1") }
    local child = lua_child()
    local p = lb.LatencyAwarePolicy(child, opts)
    p:populate({}, hosts)
    return p, hosts, function(dt) t = t + dt end
  end

  it("moves a host much slower than the best to the end of plans", function()
    local p, hosts, advance = setup_policy { min_measured = 10 }
    for _ = 1, 20 do
      advance(0.01)
      p:record_latency(hosts[1], 0.050)
      p:record_latency(hosts[2], 0.002)
      p:record_latency(hosts[3], 0.003)
    end
    assert.is_true(p:is_excluded(hosts[1]))
    assert.is_false(p:is_excluded(hosts[2]))
    assert.is_false(p:is_excluded(hosts[3]))
    assert.same({ "10.0.1.2", "10.0.1.3", "10.0.1.1" }, drain(p:make_query_plan()))
    local s = p:host_stats(hosts[1])
    assert.equal(20, s.samples)
    assert.is_true(math.abs(s.average - 0.050) < 1e-9)
  end)

  it("does not judge a host before min_measured samples, and forgives it after retry_period", function()
    local p, hosts, advance = setup_policy { min_measured = 10, retry_period = 5 }
    for _ = 1, 9 do
      advance(0.01)
      p:record_latency(hosts[1], 0.5)
      p:record_latency(hosts[2], 0.001)
    end
    assert.is_false(p:is_excluded(hosts[1]))
    advance(0.01)
    p:record_latency(hosts[1], 0.5)
    p:record_latency(hosts[2], 0.001)
    advance(0.2) -- past update_rate
    assert.is_true(p:is_excluded(hosts[1]))
    advance(6)
    p:record_latency(hosts[2], 0.001)
    assert.is_false(p:is_excluded(hosts[1]))
    assert.same({ "10.0.1.1", "10.0.1.2", "10.0.1.3" }, drain(p:make_query_plan()))
  end)

  it("weighs recent samples more the longer ago the old ones were", function()
    local p, hosts, advance = setup_policy()
    p:record_latency(hosts[1], 0.100)
    advance(0.001) -- back to back: the old average still counts
    p:record_latency(hosts[1], 0.010)
    local a = p:host_stats(hosts[1]).average
    assert.is_true(a > 0.09, tostring(a))
    advance(10) -- 100 scales later: the new sample is nearly all
    p:record_latency(hosts[1], 0.010)
    a = p:host_stats(hosts[1]).average
    assert.is_true(a < 0.015, tostring(a))
  end)

  it("reaches a latency-aware child through TokenAwarePolicy and HostFilterPolicy", function()
    local p, hosts = setup_policy()
    local outer = lb.TokenAwarePolicy(lb.HostFilterPolicy(p, function() return true end))
    outer:record_latency(hosts[1], 0.02)
    assert.equal(1, p:host_stats(hosts[1]).samples)
    assert.has_error(function() p:record_latency(hosts[1], -1) end,
                     "bad argument #2 to 'record_latency' (non-negative number of seconds expected)")
    assert.has_error(function() lb.LatencyAwarePolicy(lua_child(), { exclusion_threshold = 0.5 }) end,
                     "bad option 'exclusion_threshold' for LatencyAwarePolicy (at least 1 expected)")
    assert.has_error(function() lb.LatencyAwarePolicy(lua_child(), { speed = 1 }) end,
                     "bad option 'speed' for LatencyAwarePolicy")
  end)
end)
