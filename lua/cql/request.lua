--- One request's life (the request side of the seed's ResponseFuture):
-- the load-balancing plan, the retry policy's decisions, re-preparing on
-- UNPREPARED, speculative executions and the overall timeout.
--
-- An *execution* sends the request to one host after another; the first
-- execution starts at once, speculative ones (idempotent statements only)
-- after the speculative policy's delays, each taking the next host of the
-- same plan. The first success, or the first error the retry policy
-- rethrows, completes the request. When every execution has run out of
-- hosts, the request fails with the last server error a retry came from,
-- else NoHostAvailable.
--
-- Idempotence is respected: a statement not marked `is_idempotent` is never
-- sent again once it may have reached a replica (write timeouts, lost
-- connections, client timeouts, server errors); requests refused before
-- being written, Unavailable, Overloaded and IsBootstrapping errors are
-- safe to retry for any statement.
-- @module cql.request
local ffi = require "ffi"
local errors = require "cql.errors"
local log = require "cql.log"

local M = {}

local RETRY, RETHROW, IGNORE, RETRY_NEXT_HOST = 0, 1, 2, 3

local Request = {}
Request.__index = Request

-- Errors after which the request may have been applied: only idempotent
-- statements are retried.
local MAYBE_APPLIED = { ServerError = true, TruncateError = true, OperationTimedOut = true,
                        ConnectionShutdown = true, ConnectionException = true }
-- Errors that say the request was not executed at all.
local NOT_APPLIED = { Overloaded = true, IsBootstrapping = true }
-- Re-prepares of one execution after UNPREPARED before the error is the
-- caller's.
local MAX_REPREPARES = 3

--- True for errors of the connection itself (closed, refused, saturated):
-- a request that fails with one at send time was never written.
function M.is_connection_error(err)
  local name = type(err) == "table" and err.name
  return name == "ConnectionException" or name == "ConnectionShutdown" or name == "ConnectionBusy"
end
local refused_before_write = M.is_connection_error

local function policy_name(p)
  local mt = getmetatable(p)
  return (type(p) == "table" and rawget(p, "name")) or (mt and mt.__name) or tostring(p)
end

local function fail(self, err)
  if self.done then return end
  self.done = true
  if self.spec_timer then self.spec_timer.cancel() end
  self.result:set_error(err)
end

local function succeed(self, res, host, conn)
  if self.done then return end
  self.done = true
  if self.spec_timer then self.spec_timer.cancel() end
  self.result.attempted_hosts = self.attempted_hosts
  self.call:deliver(res, host, conn, self)
end

local send_to, record_latency, host_first

-- Declared here and in cql.session, whichever loads first.
pcall(ffi.cdef, "int clock_gettime(int clock, void *ts);")
local timespec = ffi.new("struct { int64_t sec; int64_t nsec; }")
-- Seconds on CLOCK_MONOTONIC (1), finer than the loop's millisecond clock.
local function monotonic()
  ffi.C.clock_gettime(1, timespec)
  return tonumber(timespec.sec) + tonumber(timespec.nsec) * 1e-9
end

-- Where the hosts' failures are kept for NoHostAvailable; made on the
-- first failure, since most requests have none.
local function errors_of(self)
  local errs = self.errors
  if not errs then
    errs = {}
    self.errors = errs
  end
  return errs
end

-- Moves `ex` on to the next host of the plan that has an open connection.
local function next_host(self, ex)
  if self.done then return end
  local session = self.session
  while true do
    local ok, host = pcall(self.plan)
    if not ok then
      return fail(self, errors.DriverException {
        message = ("the load balancing policy %s raised an error: %s")
          :format(policy_name(session.cluster.load_balancing_policy), tostring(host)) })
    end
    if host == nil then break end
    local p = session.pools[host]
    local conn = p and p:borrow()
    if conn then return send_to(self, ex, conn, host) end
    errors_of(self)[host.address] = p and "no open connection" or "no connection pool (host down or ignored)"
  end
  self.running = self.running - 1
  if self.running > 0 then return end
  -- Hosts ran out after a server's answer the policy wanted retried
  -- elsewhere: that answer (Unavailable, Overloaded, ...) says more than
  -- NoHostAvailable would.
  if self.last_error then return fail(self, self.last_error) end
  fail(self, errors.NoHostAvailable { message = "Unable to complete the operation against any hosts",
                                      errors = errors_of(self) })
end

-- The retry policy's decision on `err` for execution `ex`.
local function decide(self, ex, err)
  local p, st, cl, n, name = self.retry_policy, self.statement, ex.consistency, ex.retry_num, err.name
  if name == "ReadTimeout" then
    return p:on_read_timeout(st, cl, err.required_responses, err.received_responses, err.data_retrieved, n)
  elseif name == "WriteTimeout" then
    if not self.idempotent then return RETHROW end
    return p:on_write_timeout(st, cl, err.write_type, err.required_responses, err.received_responses, n)
  elseif name == "Unavailable" then
    return p:on_unavailable(st, cl, err.required_replicas, err.alive_replicas, n)
  elseif NOT_APPLIED[name] or (MAYBE_APPLIED[name] and self.idempotent) then
    return p:on_request_error(st, cl, err, n)
  end
  return RETHROW
end

local function on_error(self, ex, err)
  if self.done then return end
  if err.name == "PreparedQueryNotFound" and (ex.reprepares or 0) < MAX_REPREPARES then
    -- The node forgot the statement (restart, table re-created, eviction):
    -- prepare it again on that connection and resend there, unnoticed by
    -- the caller. A node whose prepared-statement cache is full can drop
    -- the statement again at once (its admission policy favours entries
    -- used more often, and each PREPARE counts as a use): a few attempts.
    ex.reprepares = (ex.reprepares or 0) + 1
    if ex.reprepares == 2 then
      log.warn("host ", ex.host.address, " forgot a statement right after preparing it again: its prepared-",
               "statement cache is full (too many distinct statements prepared? see the server's ",
               "prepared_statements_cache_size)")
    end
    local ps = self.call:find_prepared(err.query_id)
    if not ps then return fail(self, err) end
    return self.session:reprepare_on(ex.conn, ps, self.o.timeout):add_callbacks(function()
      send_to(self, ex, ex.conn, ex.host)
    end, function(e) fail(self, e) end)
  end
  local ok, decision, consistency = pcall(decide, self, ex, err)
  if not ok then
    return fail(self, errors.DriverException {
      message = ("the retry policy %s raised an error: %s"):format(policy_name(self.retry_policy),
                                                                     tostring(decision)),
      cause = err })
  end
  if decision == RETRY or decision == RETRY_NEXT_HOST then
    ex.retry_num = ex.retry_num + 1
    ex.consistency = consistency or ex.consistency
    errors_of(self)[ex.host.address] = err
    self.last_error = err
    if decision == RETRY then
      local p = self.session.pools[ex.host]
      local conn = p and p:borrow()
      if conn then return send_to(self, ex, conn, ex.host) end
    end
    return next_host(self, ex)
  elseif decision == IGNORE then
    return succeed(self, { kind = "void" }, ex.host, ex.conn)
  elseif decision == RETHROW or decision == nil then
    return fail(self, err)
  end
  fail(self, errors.DriverException {
    message = ("the retry policy %s returned an unknown decision: %s"):format(policy_name(self.retry_policy),
                                                                              tostring(decision)) })
end

-- Errors that come back only after the host did (or tried) the work: their
-- latency says how slow the host is. Quick refusals (Unavailable,
-- Overloaded, UNPREPARED, invalid queries) would make a slow host look fast.
local SLOW_ERRORS = { ReadTimeout = true, WriteTimeout = true, OperationTimedOut = true }

-- Feeds a latency-aware policy (one with record_latency) the time this
-- send took.
function record_latency(self, ex, ok, err)
  if not ok and not SLOW_ERRORS[err.name] then return end
  local p = self.latency_policy
  pcall(p.record_latency, p, ex.host, monotonic() - ex.sent_at)
end

-- The response to execution `ex` (one at a time: the next send of `ex`
-- waits for this one's answer, so ex.host and ex.conn are this send's).
local function on_response(self, ex, f)
  local ok, v = f:peek()
  if self.latency_policy then record_latency(self, ex, ok, v) end
  if ok then return succeed(self, v, ex.host, ex.conn) end
  on_error(self, ex, v)
end

-- Sends the request for execution `ex` on `conn` to `host`.
function send_to(self, ex, conn, host)
  ex.conn, ex.host = conn, host
  self.attempted_hosts[#self.attempted_hosts + 1] = host
  local o = self.o
  local timeout = o.timeout
  if self.deadline then
    timeout = self.deadline - self.session.cluster.host:now()
    if timeout <= 0 then
      return fail(self, errors.OperationTimedOut { message = "Client request timeout", errors = errors_of(self),
                                                   last_host = host.address })
    end
  end
  if timeout ~= o.timeout or ex.consistency ~= o.consistency then
    o = setmetatable({ timeout = timeout, consistency = ex.consistency }, { __index = self.o })
  end
  if self.latency_policy then ex.sent_at = monotonic() end
  local f = self.call:send(conn, o)
  local done, err = f:peek()
  if done == false and refused_before_write(err) then
    errors_of(self)[host.address] = err
    return next_host(self, ex)
  end
  f:listen(on_response, self, ex)
end

local function new_execution(self)
  self.running = self.running + 1
  -- Every field from the start: a table that grows is allocated twice.
  return { retry_num = 0, consistency = self.o.consistency, conn = false, host = false, sent_at = 0 }
end

-- Starts speculative executions on the policy's schedule.
local function schedule_speculative(self, plan)
  local ok, delay = pcall(plan.next_execution, self.attempted_hosts[1])
  if not ok or type(delay) ~= "number" or delay < 0 or self.done then return end
  self.spec_timer = self.session.cluster.host:timer(delay, function()
    self.spec_timer = nil
    if self.done then return end
    next_host(self, new_execution(self))
    schedule_speculative(self, plan)
  end)
end

-- A plan that tries `host` first, then `plan`'s hosts but that one (the
-- per-request `host` option).
function host_first(host, plan)
  local first = true
  return function()
    if first then
      first = false
      return host
    end
    local h = plan()
    if h == host then h = plan() end
    return h
  end
end

--- Starts a request; its outcome completes `result`.
-- @param session the Session
-- @param call what is sent, an object with methods (no closures per
--   request: they stop LuaJIT's compiler): `call:send(conn, o)` returning
--   a response future, `call:deliver(res, host, conn, request)` for a
--   success, `call:find_prepared(query_id)` (the PreparedStatement to
--   re-prepare on UNPREPARED, or nil)
-- @param statement the statement (for the policies; nil for plain text)
-- @param o request options: timeout, consistency, ...
-- @param result the future to fail
-- @param idempotent whether the statement may be sent again
function M.start(session, call, statement, o, result, idempotent)
  local cluster = session.cluster
  local self = setmetatable({
    session = session, statement = statement, o = o, call = call, result = result, idempotent = idempotent,
    retry_policy = statement and statement.retry_policy or cluster.default_retry_policy,
    attempted_hosts = {}, running = 0,
    -- Set later; named now so that the table is made at its final size.
    deadline = false, plan = false, done = false, errors = false, last_error = false, spec_timer = false,
    latency_policy = false,
  }, Request)
  if o.timeout then self.deadline = cluster.host:now() + o.timeout end
  local lb = cluster.load_balancing_policy
  if lb.record_latency then self.latency_policy = lb end
  local ok, plan = pcall(lb.make_query_plan, lb, session.keyspace, statement)
  if not ok or type(plan) ~= "function" then
    fail(self, errors.DriverException {
      message = ("the load balancing policy %s raised an error: %s"):format(policy_name(lb),
                                                                             ok and "no plan" or tostring(plan)) })
    return self
  end
  if o.host then plan = host_first(o.host, plan) end
  self.plan = plan
  next_host(self, new_execution(self))
  local sp = self.idempotent and cluster.speculative_execution_policy
  if sp and not self.done then
    local pok, splan = pcall(sp.new_plan, sp, session.keyspace, statement)
    if pok and type(splan) == "table" then schedule_speculative(self, splan) end
  end
  return self
end

return M
