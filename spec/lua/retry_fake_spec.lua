-- Retry decisions, idempotence, speculative execution and custom Lua
-- policies, on a two-node cluster of test servers (127.0.5.1 and
-- 127.0.5.2, one port). Fake on purpose: a real node gives read and write
-- timeouts, Overloaded or a slow answer only by accident.
local test_server = require "test_server"
local Cluster = require("cql.cluster").Cluster
local policies = require "cql.policies"
local query = require "cql.query"

local A, B = "127.0.5.1", "127.0.5.2"

-- Each server lists the other in system.peers_v2, so the control
-- connection discovers both.
local function peers_rule(other, port)
  return { when = { query = "system%.peers" }, reply = { rows = {
    columns = { { "peer", "inet" }, { "native_address", "inet" }, { "native_port", "int" },
                { "data_center", "text" }, { "rack", "text" }, { "tokens", "set<text>" } },
    rows = { { other, other, port, "datacenter1", "rack1", { "100" } } } } } }
end

-- Starts the two servers: `rules_a` / `rules_b` come before the defaults;
-- `advertised` replaces the addresses the peers tables give (as a node
-- behind NAT would report its private address).
local function two_nodes(rules_a, rules_b, advertised)
  local first = test_server.start({ peers_rule(B, 0) }, { address = A })
  -- Now that the port is known, restart A with the right peers row.
  local port = first.port
  first.stop()
  local function with_peers(rules, other)
    local all = {}
    for _, r in ipairs(rules or {}) do all[#all + 1] = r end
    all[#all + 1] = peers_rule(other, port)
    return all
  end
  advertised = advertised or {}
  local a = test_server.start(with_peers(rules_a, advertised[B] or B), { address = A, port = port })
  local b = test_server.start(with_peers(rules_b, advertised[A] or A), { address = B, port = port })
  return a, b, port
end

-- A load-balancing policy in Lua that always tries A, then B; it records
-- what the driver calls on it.
local function a_then_b()
  local p = { calls = {} }
  function p.populate(self, _, hosts)
    self.hosts = {}
    for _, h in ipairs(hosts) do self.hosts[h.address] = h end
    self.calls[#self.calls + 1] = "populate"
  end
  function p.distance() return policies.HostDistance.LOCAL end
  function p.make_query_plan(self)
    local order, i = { self.hosts[A], self.hosts[B] }, 0
    return function()
      i = i + 1
      return order[i]
    end
  end
  function p.on_up() end
  function p.on_down() end
  function p.on_add() end
  function p.on_remove() end
  return p
end

local function addresses(hosts)
  local out = {}
  for i, h in ipairs(hosts or {}) do out[i] = h.address end
  return table.concat(out, " ")
end

describe("retries on a two-node cluster of test servers", function()
  after_each(function() test_server.stop_all() end)

  local function connect(a_rules, b_rules, opts, advertised)
    local _, _, port = two_nodes(a_rules, b_rules, advertised)
    opts = opts or {}
    opts.contact_points, opts.port, opts.compression = { A }, port, false
    opts.load_balancing_policy = opts.load_balancing_policy or a_then_b()
    local cluster = Cluster(opts)
    local session = assert(cluster:connect())
    return cluster, session
  end

  it("re-prepares up to three times when a node forgets a statement again at once", function()
    -- Fake: a real node drops a freshly prepared statement only when its
    -- prepared-statement cache is full and its admission policy says so.
    local function forgetful(times)
      local rules = {}
      for i = 1, times do rules[i] = { when = { opcode = "EXECUTE" }, reply = { unprepared = true } } end
      return rules
    end
    local cluster, session = connect(forgetful(2))
    finally(function() cluster:shutdown() end)
    local ps = assert(session:prepare("SELECT v FROM ks.t"))
    local rs = assert(session:execute(ps, nil, { host = A }))
    assert.equal(A, rs.coordinator.address)
    assert.equal(2, session.reprepared)
    cluster:shutdown()
    test_server.stop_all()

    cluster, session = connect(forgetful(4))
    ps = assert(session:prepare("SELECT v FROM ks.t"))
    local _, err = session:execute(ps, nil, { host = A })
    assert.equal("PreparedQueryNotFound", err.name)
    assert.equal(3, session.reprepared)
  end)

  it("retries Unavailable once on the next host (the default RetryPolicy)", function()
    local cluster, session = connect({ { when = { query = "FROM ks%.t" }, reply = { error = {
      code = "Unavailable", consistency = "QUORUM", required = 2, alive = 1 } } } })
    finally(function() cluster:shutdown() end)
    local rs = assert(session:execute("SELECT v FROM ks.t"))
    assert.equal(B, rs.coordinator.address)
    assert.equal(A .. " " .. B, addresses(rs.attempted_hosts))
  end)

  it("gives the last Unavailable, with its fields, when every host refuses", function()
    local unavailable = { when = { query = "FROM ks%.t" }, reply = { error = {
      code = "Unavailable", consistency = "QUORUM", required = 2, alive = 1 } } }
    local cluster, session = connect({ unavailable }, { unavailable })
    finally(function() cluster:shutdown() end)
    local rs, err = session:execute("SELECT v FROM ks.t")
    assert.is_nil(rs)
    assert.equal("Unavailable", err.name)
    assert.equal("QUORUM", err.consistency)
    assert.equal(2, err.required_replicas)
    assert.equal(1, err.alive_replicas)
  end)

  it("retries a read timeout on the same host when enough replicas answered without the data", function()
    local cluster, session = connect({ { when = { query = "FROM ks%.t" }, times = 1, reply = { error = {
      code = "ReadTimeout", consistency = "QUORUM", received = 2, block_for = 2, data_present = false } } } })
    finally(function() cluster:shutdown() end)
    local rs = assert(session:execute("SELECT v FROM ks.t"))
    assert.equal(A .. " " .. A, addresses(rs.attempted_hosts))
  end)

  it("never retries a non-idempotent write after a write timeout, nor after a lost connection", function()
    local timeout = { when = { query = "^INSERT" }, reply = { error = {
      code = "WriteTimeout", consistency = "QUORUM", received = 1, block_for = 2, write_type = "SIMPLE" } } }
    local closes = { when = { query = "^UPDATE" }, reply = { close = true } }
    local cluster, session = connect({ timeout, closes })
    finally(function() cluster:shutdown() end)
    local retried = 0
    local counting = setmetatable({}, { __index = policies.RetryPolicy })
    function counting.on_write_timeout(...)
      retried = retried + 1
      return policies.RetryPolicy.on_write_timeout(...)
    end
    function counting.on_request_error(...)
      retried = retried + 1
      return policies.RetryPolicy.on_request_error(...)
    end
    local st = query.SimpleStatement("INSERT INTO ks.t (k) VALUES (1)", { retry_policy = counting })
    local _, err = session:execute(st)
    assert.equal("WriteTimeout", err.name)
    local up = query.SimpleStatement("UPDATE ks.t SET v = 1 WHERE k = 1", { retry_policy = counting })
    _, err = session:execute(up)
    assert.equal("ConnectionShutdown", err.name)
    assert.equal(0, retried) -- the policy was not even asked
  end)

  it("retries an idempotent statement on the next host after its connection was lost", function()
    local cluster, session = connect({ { when = { query = "^UPDATE" }, reply = { close = true } } })
    finally(function() cluster:shutdown() end)
    local st = query.SimpleStatement("UPDATE ks.t SET v = 1 WHERE k = 1", { is_idempotent = true })
    local rs = assert(session:execute(st))
    assert.equal(B, rs.coordinator.address)
  end)

  it("applies a custom Lua retry policy's decisions, with the arguments the seed passes", function()
    local seen
    local downgrade = setmetatable({}, { __index = policies.RetryPolicy })
    function downgrade.on_read_timeout(_, statement, consistency, required, received, data, retry_num)
      seen = { statement.query_string, consistency, required, received, data, retry_num }
      if retry_num == 0 then return policies.RetryPolicy.RETRY, 1 end -- again, at ONE
      return policies.RetryPolicy.RETHROW
    end
    local cluster, session = connect({
      { when = { query = "FROM ks%.t" }, times = 1, reply = { error = {
        code = "ReadTimeout", consistency = "QUORUM", received = 1, block_for = 2, data_present = true } } },
      { when = { query = "FROM ks%.t" }, reply = function(req)
        return { rows = { columns = { { "cl", "int" } }, rows = { { req.consistency } } } }
      end },
    })
    finally(function() cluster:shutdown() end)
    local st = query.SimpleStatement("SELECT v FROM ks.t", { retry_policy = downgrade, consistency_level = 4 })
    local rs = assert(session:execute(st))
    assert.same({ "SELECT v FROM ks.t", 4, 2, 1, true, 0 }, seen)
    assert.equal(1, rs:one().cl) -- the retry went out at ONE
  end)

  it("contains a Lua policy that raises: the request fails naming the policy, the driver goes on", function()
    local broken = setmetatable({}, { __index = policies.RetryPolicy })
    broken.name = "BrokenPolicy"
    function broken.on_unavailable() error("boom") end
    local cluster, session = connect({ { when = { query = "FROM ks%.t" }, reply = { error = {
      code = "Unavailable", consistency = "ONE", required = 1, alive = 0 } } } })
    finally(function() cluster:shutdown() end)
    local _, err = session:execute(query.SimpleStatement("SELECT v FROM ks.t", { retry_policy = broken }))
    assert.equal("DriverException", err.name)
    assert.matches("the retry policy BrokenPolicy raised an error: .*boom", err.message)
    assert(session:execute("SELECT key FROM system.local"))
  end)

  it("sends an idempotent statement to the next host when the first is slow, never a non-idempotent one", function()
    local slow = { when = { query = "FROM ks%.t" }, reply = { delay_ms = 800, rows = {
      columns = { { "who", "text" } }, rows = { { "a" } } } } }
    local fast = { when = { query = "FROM ks%.t" }, reply = { rows = { columns = { { "who", "text" } },
                                                                  rows = { { "b" } } } } }
    local cluster, session = connect({ slow }, { fast },
      { speculative_execution_policy = policies.ConstantSpeculativeExecutionPolicy(0.1, 1) })
    finally(function() cluster:shutdown() end)
    local st = query.SimpleStatement("SELECT who FROM ks.t", { is_idempotent = true })
    local rs = assert(session:execute(st))
    assert.equal("b", rs:one().who)
    assert.equal(A .. " " .. B, addresses(rs.attempted_hosts))
    rs = assert(session:execute("SELECT who FROM ks.t"))
    assert.equal("a", rs:one().who)
    assert.equal(A, addresses(rs.attempted_hosts))
  end)

  it("fails a request whose load-balancing policy raises, naming it", function()
    local p = a_then_b()
    local cluster, session = connect(nil, nil, { load_balancing_policy = p })
    finally(function() cluster:shutdown() end)
    p.name = "MyPolicy"
    p.make_query_plan = function() error("no plan today") end
    local _, err = session:execute("SELECT key FROM system.local")
    assert.equal("DriverException", err.name)
    assert.matches("the load balancing policy MyPolicy raised an error: .*no plan today", err.message)
    assert.equal("populate", p.calls[1])
  end)
  it("translates the addresses nodes advertise (address_translator, for clusters behind NAT)", function()
    local private = { ["10.9.0.2"] = B }
    local translated = {}
    local cluster, session = connect(nil, nil, {
      load_balancing_policy = policies.RoundRobinPolicy(),
      address_translator = { translate = function(_, address)
        translated[#translated + 1] = address
        return private[address] or address
      end },
    }, { [B] = "10.9.0.2" })
    finally(function() cluster:shutdown() end)
    assert.is_not_nil(cluster:find_host(B), "the translated address is a host")
    assert.is_nil(cluster:find_host("10.9.0.2"))
    assert.is_true(#translated >= 1)
    local seen = {}
    for _ = 1, 4 do seen[assert(session:execute("SELECT key FROM system.local")).coordinator.address] = true end
    assert.is_true(seen[A] and seen[B], "requests reach both nodes")
  end)
  it("sends a request to the host it names first, and feeds a latency-aware policy", function()
    local latency = policies.LatencyAwarePolicy(a_then_b(), { min_measured = 1 })
    -- Every answer waits 20 ms, so that a fast sample is 20 ms plus noise
    -- on both nodes (sub-millisecond answers made A's single sample twice
    -- B's by chance, and A was excluded before any slow query); A answers
    -- ks.slow 150 ms late on top of that.
    local base = { when = { query = "" }, reply = { delay_ms = 20 } }
    local slow = { when = { query = "FROM ks%.slow" }, reply = { delay_ms = 150, void = true } }
    local cluster, session = connect({ base, slow }, { base }, { load_balancing_policy = latency })
    finally(function() cluster:shutdown() end)
    local rs = assert(session:execute("SELECT key FROM system.local", nil, { host = B }))
    assert.equal(B, rs.coordinator.address)
    rs = assert(session:execute("SELECT key FROM system.local", nil, { host = cluster:find_host(A) }))
    assert.equal(A, rs.coordinator.address)
    assert.has_error(function() session:execute("SELECT key FROM system.local", nil, { host = 42 }) end,
      "bad option host (a Host of this cluster, or the address of one, expected)")
    -- A answers ks.slow 150 ms later than B. The plans put A first, so
    -- the slow queries go to A until its decaying average is far above
    -- B's; how many that takes depends on how fast this machine answered
    -- the fast queries (a loaded host may need more than one), so the
    -- loop is bounded rather than fixed. Once A is excluded, the next
    -- plan must start with B.
    local a = cluster:find_host(A)
    local slow_on_a = 0
    for _ = 1, 20 do
      local slow_rs = assert(session:execute("SELECT * FROM ks.slow"))
      if slow_rs.coordinator.address == A then slow_on_a = slow_on_a + 1 end
      if latency:is_excluded(a) then break end
    end
    assert.is_true(slow_on_a >= 1, "the slow queries reached A first")
    local stats = latency:host_stats(a)
    assert.is_not_nil(stats, "latencies were recorded for A")
    local b_stats = latency:host_stats(cluster:find_host(B))
    assert.is_true(latency:is_excluded(a), ("A %.4f s (%d samples) against B %.4f s"):format(
      stats.average, stats.samples, b_stats and b_stats.average or -1))
    assert.is_true(stats.average > 2 * b_stats.average,
                   ("A %.4f s against B %.4f s"):format(stats.average, b_stats.average))
    local last = assert(session:execute("SELECT * FROM ks.slow"))
    assert.equal(B, last.coordinator.address)
  end)
end)
