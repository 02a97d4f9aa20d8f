--- Policies, as in the seed's `cassandra.policies`: which hosts a request
-- goes to (load balancing) and how long to wait before reconnecting to a
-- host that went down (reconnection).
--
-- A custom policy is a plain Lua table or object with the seed's method
-- names; the driver calls exactly these:
--
--  * load balancing: `populate(cluster, hosts)`, `distance(host)` (a
--    `HostDistance`), `make_query_plan(keyspace, statement)` (an iterator
--    over hosts), `on_up(host)`, `on_down(host)`, `on_add(host)`,
--    `on_remove(host)`;
--  * reconnection: `new_schedule()` returning an iterator of delays in
--    seconds (nil ends the attempts).
--
-- @module cql.policies
local M = {}

--- How far a host is: LOCAL hosts get the most connections, REMOTE hosts
-- fewer, IGNORED hosts none.
M.HostDistance = { LOCAL = 0, REMOTE = 1, IGNORED = 2 }

local function check_delay(name, value, what)
  if type(value) ~= "number" or value < 0 or value ~= value then
    error(("bad argument to '%s' (%s must be a non-negative number)"):format(name, what), 3)
  end
end

local function check_attempts(name, value)
  if value ~= nil and (type(value) ~= "number" or value < 0 or value % 1 ~= 0) then
    error(("bad argument to '%s' (max_attempts must be a non-negative integer or nil)"):format(name), 3)
  end
end

--- Reconnects after the same delay every time.
-- @param delay seconds between attempts
-- @param max_attempts stop after this many (nil: never stop)
local ConstantReconnectionPolicy = {}
ConstantReconnectionPolicy.__index = ConstantReconnectionPolicy
M.ConstantReconnectionPolicy = setmetatable(ConstantReconnectionPolicy, {
  __call = function(cls, delay, max_attempts)
    check_delay("ConstantReconnectionPolicy", delay, "delay")
    check_attempts("ConstantReconnectionPolicy", max_attempts)
    return setmetatable({ delay = delay, max_attempts = max_attempts }, cls)
  end,
})

--- An iterator over the delays before each attempt.
function ConstantReconnectionPolicy:new_schedule()
  local n = 0
  return function()
    n = n + 1
    if self.max_attempts and n > self.max_attempts then return nil end
    return self.delay
  end
end

--- Doubles the delay after each attempt, from `base_delay` up to
-- `max_delay`, each delay varied by ±15% so that clients which lost a node
-- together do not all come back at the same instant.
-- @param base_delay seconds before the first attempt (default 1)
-- @param max_delay the longest delay (default 600)
-- @param max_attempts stop after this many (nil: never stop)
local ExponentialReconnectionPolicy = {}
ExponentialReconnectionPolicy.__index = ExponentialReconnectionPolicy
M.ExponentialReconnectionPolicy = setmetatable(ExponentialReconnectionPolicy, {
  __call = function(cls, base_delay, max_delay, max_attempts)
    base_delay, max_delay = base_delay or 1, max_delay or 600
    check_delay("ExponentialReconnectionPolicy", base_delay, "base_delay")
    check_delay("ExponentialReconnectionPolicy", max_delay, "max_delay")
    if max_delay < base_delay then
      error("bad argument to 'ExponentialReconnectionPolicy' (max_delay is less than base_delay)", 2)
    end
    check_attempts("ExponentialReconnectionPolicy", max_attempts)
    return setmetatable({ base_delay = base_delay, max_delay = max_delay, max_attempts = max_attempts }, cls)
  end,
})

--- An iterator over the delays before each attempt.
function ExponentialReconnectionPolicy:new_schedule()
  local n = 0
  return function()
    n = n + 1
    if self.max_attempts and n > self.max_attempts then return nil end
    -- 2^n overflows to inf long after max_delay caps it; cap the exponent.
    local delay = self.base_delay * 2 ^ math.min(n - 1, 64)
    delay = delay * (0.85 + 0.3 * math.random())
    return math.max(self.base_delay, math.min(delay, self.max_delay))
  end
end

--- Spreads requests over every known host in turn; every host is LOCAL.
-- The plan starts one host further at each call and lists the hosts that
-- are up (hosts not known to be down, before the first connection).
local RoundRobinPolicy = {}
RoundRobinPolicy.__index = RoundRobinPolicy
M.RoundRobinPolicy = setmetatable(RoundRobinPolicy, {
  __call = function(cls)
    return setmetatable({ hosts = {}, position = 0 }, cls)
  end,
})

--- Called once with the hosts known when the cluster connects.
function RoundRobinPolicy:populate(_, hosts)
  self.hosts = {}
  for _, h in ipairs(hosts) do self.hosts[#self.hosts + 1] = h end
end

--- Every host is LOCAL for this policy.
function RoundRobinPolicy.distance()
  return M.HostDistance.LOCAL
end

--- An iterator over the hosts to try, starting one further each time.
function RoundRobinPolicy:make_query_plan()
  local hosts = self.hosts
  local n = #hosts
  self.position = self.position % math.max(n, 1) + 1
  local start, i = self.position, 0
  return function()
    while i < n do
      local h = hosts[(start + i - 1) % n + 1]
      i = i + 1
      if h.is_up ~= false then return h end
    end
    return nil
  end
end

-- Up and down change nothing in the host list: the plan skips hosts marked
-- down, so a host coming back is used again at once.
function RoundRobinPolicy.on_up() end
function RoundRobinPolicy.on_down() end

-- The host list is replaced, never changed in place, so plans already
-- handed out keep walking the list they started with.
local function without(hosts, host)
  local out = {}
  for _, h in ipairs(hosts) do
    if h ~= host then out[#out + 1] = h end
  end
  return out
end

--- A host joined the cluster.
function RoundRobinPolicy:on_add(host)
  local hosts = without(self.hosts, host)
  hosts[#hosts + 1] = host
  self.hosts = hosts
end

--- A host left the cluster.
function RoundRobinPolicy:on_remove(host)
  self.hosts = without(self.hosts, host)
end

--- What a retry policy decides (the seed's constants).
local RETRY, RETHROW, IGNORE, RETRY_NEXT_HOST = 0, 1, 2, 3

local function serial(cl) return cl == 8 or cl == 9 end -- SERIAL, LOCAL_SERIAL

--- The seed's default retry decisions. Each method returns a decision and,
-- for RETRY, the consistency level to retry at (nil keeps it):
--
--  * `on_read_timeout(statement, consistency, required_responses,
--    received_responses, data_retrieved, retry_num)`: retry once on the same
--    host when enough replicas answered but the data was not among them;
--  * `on_write_timeout(statement, consistency, write_type,
--    required_responses, received_responses, retry_num)`: retry once when
--    the batch log write timed out;
--  * `on_unavailable(statement, consistency, required_replicas,
--    alive_replicas, retry_num)`: once on the next host;
--  * `on_request_error(statement, consistency, error, retry_num)`: the next
--    host (overloaded, bootstrapping, server errors, lost connections,
--    client timeouts).
--
-- The driver asks only when a retry is safe: a statement not marked
-- `is_idempotent` is never retried once it may have reached a replica
-- (write timeouts, lost connections, client timeouts, server errors).
local RetryPolicy = { RETRY = RETRY, RETHROW = RETHROW, IGNORE = IGNORE, RETRY_NEXT_HOST = RETRY_NEXT_HOST }
RetryPolicy.__index = RetryPolicy
M.RetryPolicy = setmetatable(RetryPolicy, { __call = function(cls) return setmetatable({}, cls) end })

function RetryPolicy.on_read_timeout(_, _, consistency, required, received, data_retrieved, retry_num)
  if retry_num == 0 and received >= required and not data_retrieved then return RETRY, consistency end
  return RETHROW
end

function RetryPolicy.on_write_timeout(_, _, consistency, write_type, _, _, retry_num)
  if retry_num == 0 and write_type == "BATCH_LOG" then return RETRY, consistency end
  return RETHROW
end

function RetryPolicy.on_unavailable(_, _, _, _, _, retry_num)
  if retry_num == 0 then return RETRY_NEXT_HOST end
  return RETHROW
end

function RetryPolicy.on_request_error()
  return RETRY_NEXT_HOST
end

local function subclass(parent)
  local cls = setmetatable({}, { __index = parent, __call = function(c) return setmetatable({}, c) end })
  cls.__index = cls
  return cls
end

--- Never retries: every error reaches the caller.
local FallthroughRetryPolicy = subclass(RetryPolicy)
M.FallthroughRetryPolicy = FallthroughRetryPolicy
function FallthroughRetryPolicy.on_read_timeout() return RETHROW end
FallthroughRetryPolicy.on_write_timeout = FallthroughRetryPolicy.on_read_timeout
FallthroughRetryPolicy.on_unavailable = FallthroughRetryPolicy.on_read_timeout
FallthroughRetryPolicy.on_request_error = FallthroughRetryPolicy.on_read_timeout

--- Like RetryPolicy for request errors, but rethrows timeouts and
-- unavailable errors (the seed's NeverRetryPolicy).
local NeverRetryPolicy = subclass(RetryPolicy)
M.NeverRetryPolicy = NeverRetryPolicy
NeverRetryPolicy.on_read_timeout = FallthroughRetryPolicy.on_read_timeout
NeverRetryPolicy.on_write_timeout = FallthroughRetryPolicy.on_read_timeout
NeverRetryPolicy.on_unavailable = FallthroughRetryPolicy.on_read_timeout

--- Retries at a lower consistency level when too few replicas answered or
-- are alive (THREE, TWO or ONE, as many as there were): trades
-- consistency for availability, knowingly.
local DowngradingConsistencyRetryPolicy = subclass(RetryPolicy)
M.DowngradingConsistencyRetryPolicy = DowngradingConsistencyRetryPolicy

local function downgrade(n)
  if n >= 3 then return RETRY, 3 end
  if n == 2 then return RETRY, 2 end
  if n == 1 then return RETRY, 1 end
  return RETHROW
end

function DowngradingConsistencyRetryPolicy.on_read_timeout(_, _, consistency, required, received, data_retrieved,
                                                           retry_num)
  if retry_num ~= 0 or serial(consistency) then return RETHROW end
  if received < required then return downgrade(received) end
  if not data_retrieved then return RETRY, consistency end
  return RETHROW
end

function DowngradingConsistencyRetryPolicy.on_write_timeout(_, _, consistency, write_type, _, received, retry_num)
  if retry_num ~= 0 then return RETHROW end
  if write_type == "SIMPLE" or write_type == "BATCH" or write_type == "COUNTER" then
    -- Some replica took the write: it will spread; report success.
    if received > 0 then return IGNORE end
    return RETHROW
  end
  if write_type == "UNLOGGED_BATCH" then return downgrade(received) end
  if write_type == "BATCH_LOG" then return RETRY, consistency end
  return RETHROW
end

function DowngradingConsistencyRetryPolicy.on_unavailable(_, _, consistency, _, alive, retry_num)
  if retry_num ~= 0 then return RETHROW end
  if serial(consistency) then return RETRY_NEXT_HOST end
  return downgrade(alive)
end

--- Sends an idempotent statement to the next host too when the first has
-- not answered within `delay` seconds, up to `max_attempts` extra
-- executions; the first answer wins.
local ConstantSpeculativeExecutionPolicy = {}
ConstantSpeculativeExecutionPolicy.__index = ConstantSpeculativeExecutionPolicy
M.ConstantSpeculativeExecutionPolicy = setmetatable(ConstantSpeculativeExecutionPolicy, {
  __call = function(cls, delay, max_attempts)
    check_delay("ConstantSpeculativeExecutionPolicy", delay, "delay")
    if type(max_attempts) ~= "number" or max_attempts < 1 or max_attempts % 1 ~= 0 then
      error("bad argument to 'ConstantSpeculativeExecutionPolicy' (max_attempts must be a positive integer)", 2)
    end
    return setmetatable({ delay = delay, max_attempts = max_attempts }, cls)
  end,
})

--- A plan for one request: `next_execution(host)` gives the delay before
-- the next speculative execution, or -1 for none.
function ConstantSpeculativeExecutionPolicy:new_plan()
  local left = self.max_attempts
  return { next_execution = function()
    if left <= 0 then return -1 end
    left = left - 1
    return self.delay
  end }
end

--- No speculative executions (the default).
M.NoSpeculativeExecutionPolicy = setmetatable({
  new_plan = function() return { next_execution = function() return -1 end } end,
}, { __call = function(cls) return cls end })

-- The load-balancing policies beyond round robin live in their own module;
-- the seed has them all in one namespace.
local load_balancing = require "cql.policies.load_balancing"
for _, name in ipairs { "DCAwareRoundRobinPolicy", "TokenAwarePolicy", "WhiteListRoundRobinPolicy",
                        "HostFilterPolicy", "LatencyAwarePolicy" } do
  M[name] = load_balancing[name]
end

return M
