-- Reconnection and load-balancing policies, without a server.
local policies = require "cql.policies"
local Host = require("cql.pool").Host

local function take(schedule, n)
  local out = {}
  for i = 1, n do out[i] = schedule() end
  return out
end

describe("ExponentialReconnectionPolicy", function()
  it("doubles from base_delay up to max_delay, each delay within ±15%", function()
    local p = policies.ExponentialReconnectionPolicy(1, 60)
    for _ = 1, 20 do -- the jitter is random: check the bounds many times
      local d = take(p:new_schedule(), 12)
      for i, delay in ipairs(d) do
        local nominal = math.min(2 ^ (i - 1), 60)
        assert.is_true(delay >= math.max(1, nominal * 0.85) - 1e-9, ("attempt %d: %g"):format(i, delay))
        assert.is_true(delay <= math.min(60, nominal * 1.15) + 1e-9, ("attempt %d: %g"):format(i, delay))
      end
      assert.equal(60, d[12])
    end
  end)

  it("varies the delays between clients", function()
    local p = policies.ExponentialReconnectionPolicy(10, 600)
    local seen = {}
    for _ = 1, 10 do seen[p:new_schedule()()] = true end
    local n = 0
    for _ in pairs(seen) do n = n + 1 end
    assert.is_true(n > 1)
  end)

  it("stops after max_attempts and never overflows", function()
    local s = policies.ExponentialReconnectionPolicy(1, 600, 3):new_schedule()
    assert.is_number(s())
    assert.is_number(s())
    assert.is_number(s())
    assert.is_nil(s())
    local long = policies.ExponentialReconnectionPolicy(1, 600):new_schedule()
    for _ = 1, 2000 do assert.is_true(long() <= 600) end
  end)

  it("has the seed's defaults and rejects bad settings", function()
    local p = policies.ExponentialReconnectionPolicy()
    assert.equal(1, p.base_delay)
    assert.equal(600, p.max_delay)
    assert.has_error(function() policies.ExponentialReconnectionPolicy(10, 1) end,
      "bad argument to 'ExponentialReconnectionPolicy' (max_delay is less than base_delay)")
    assert.has_error(function() policies.ExponentialReconnectionPolicy(-1, 1) end,
      "bad argument to 'ExponentialReconnectionPolicy' (base_delay must be a non-negative number)")
    assert.has_error(function() policies.ExponentialReconnectionPolicy(1, 2, 1.5) end,
      "bad argument to 'ExponentialReconnectionPolicy' (max_attempts must be a non-negative integer or nil)")
  end)
end)

describe("ConstantReconnectionPolicy", function()
  it("waits the same delay, max_attempts times", function()
    assert.same({ 2, 2, 2 }, take(policies.ConstantReconnectionPolicy(2, 3):new_schedule(), 3))
    local s = policies.ConstantReconnectionPolicy(2, 1):new_schedule()
    assert.equal(2, s())
    assert.is_nil(s())
    assert.has_error(function() policies.ConstantReconnectionPolicy("x") end,
      "bad argument to 'ConstantReconnectionPolicy' (delay must be a non-negative number)")
  end)
end)

describe("RoundRobinPolicy", function()
  local function plan(p)
    local out = {}
    for h in p:make_query_plan() do out[#out + 1] = h.address end
    return table.concat(out, " ")
  end

  it("starts one host further at each plan and skips hosts that are down", function()
    local a, b, c = Host.new("10.0.0.1", 9042), Host.new("10.0.0.2", 9042), Host.new("10.0.0.3", 9042)
    local p = policies.RoundRobinPolicy()
    p:populate(nil, { a, b, c })
    assert.equal("10.0.0.1 10.0.0.2 10.0.0.3", plan(p))
    assert.equal("10.0.0.2 10.0.0.3 10.0.0.1", plan(p))
    b.is_up = false
    assert.equal("10.0.0.3 10.0.0.1", plan(p))
    assert.equal(policies.HostDistance.LOCAL, p:distance(a))
  end)

  it("keeps plans already handed out intact when hosts are added or removed", function()
    local a, b, c = Host.new("10.0.0.1", 9042), Host.new("10.0.0.2", 9042), Host.new("10.0.0.3", 9042)
    local p = policies.RoundRobinPolicy()
    p:populate(nil, { a, b })
    local it = p:make_query_plan()
    p:on_remove(a)
    p:on_add(c)
    assert.equal(a, it())
    assert.equal(b, it())
    assert.is_nil(it())
    assert.equal("10.0.0.3 10.0.0.2", plan(p))
  end)

  it("gives an empty plan with no hosts", function()
    assert.equal("", plan(policies.RoundRobinPolicy()))
  end)
end)
