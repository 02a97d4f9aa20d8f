--- Sessions (the seed's `cassandra.cluster.Session`): a pool of
-- connections to every host the load-balancing policy does not ignore, all
-- in the session's keyspace. Each request follows the policy's query plan:
-- it goes to the first host with an open connection, and moves on to the
-- next when a connection refuses it before anything was written.
--
-- Runtime failures return `nil, err` (see cql.errors); misuse raises.
-- @module cql.session
local ffi = require "ffi"
local errors = require "cql.errors"
local encoder = require "cql.encoder"
local Future = require "cql.future"
local log = require "cql.log"
local query = require "cql.query"
local ResultSet = require "cql.resultset"
local pool = require "cql.pool"
local request = require "cql.request"
local policies = require "cql.policies"

local Session = {}
Session.__index = Session

--- A session of `cluster` in `keyspace` (nil: none); pools are opened by
-- the cluster.
function Session.new(cluster, keyspace)
  return setmetatable({
    cluster = cluster, scheduler = cluster.scheduler, keyspace = keyspace,
    pools = {},   -- Host -> open HostConnectionPool
    opening = {}, -- Host -> HostConnectionPool being opened
    prepared = setmetatable({}, { __mode = "v" }), -- query id -> PreparedStatement, for re-preparing on up
    default_timeout = 10, default_fetch_size = 5000, default_consistency_level = 10, -- LOCAL_ONE
    default_serial_consistency_level = nil, use_client_timestamp = true,
    row_factory = query.dict_factory,
    reprepared = 0, -- statements prepared again after UNPREPARED (for monitoring)
  }, Session)
end

local is_connection_error = request.is_connection_error

-- Prepares every statement this session knows on `p` (a host that came
-- back may have forgotten them); failures are only logged, since an
-- UNPREPARED later re-prepares on demand.
local function reprepare_all(self, p)
  for _, ps in pairs(self.prepared) do
    p:prepare(ps.query_string, self.default_timeout):add_errback(function(err)
      log.debug("re-preparing on ", p.host.endpoint, " failed: ", err)
    end)
  end
end

--- Opens a pool to `host` unless the policy ignores it or one exists;
-- returns the future of the opening (nil when there is nothing to open).
function Session:add_pool(host)
  local cluster = self.cluster
  local lb = cluster.load_balancing_policy
  local ok, distance = pcall(lb.distance, lb, host)
  if not ok then
    -- A Lua policy that raises: no pool for that host, and the driver goes on.
    log.error("load_balancing_policy:distance raised an error (", host.endpoint, " gets no pool): ", distance)
    return nil
  end
  if self.is_shutdown or distance == policies.HostDistance.IGNORED then return nil end
  if self.pools[host] or self.opening[host] then return nil end
  local p = pool.HostConnectionPool.new(self, host, cluster:core_connections_per_host(distance))
  self.opening[host] = p
  local f = p:open()
  f:add_callbacks(function()
    self.opening[host] = nil
    if self.is_shutdown or host.is_up == false then return p:shutdown() end
    self.pools[host] = p
    if host.is_up == nil then cluster:on_up(host) end -- the first connection to a discovered host
    if cluster.reprepare_on_up then reprepare_all(self, p) end
    -- The keyspace may have changed while the connections were opening.
    if self.keyspace then p:set_keyspace(self.keyspace, self.default_timeout) end
  end, function(err)
    self.opening[host] = nil
    p:shutdown()
    if is_connection_error(err) then cluster:signal_connection_failure(host, tostring(err)) end
  end)
  return f
end

--- Closes the pool to `host` (it went down or left the cluster).
function Session:remove_pool(host)
  local p = self.pools[host] or self.opening[host]
  self.pools[host], self.opening[host] = nil, nil
  if p then p:shutdown("host " .. host.endpoint .. " is down or removed") end
end

--- True when some connection of this session to `host` is open.
function Session:has_open_connection(host)
  local p = self.pools[host]
  return p ~= nil and p:open_count() > 0
end

-- The first connection the query plan offers; nil when the plan runs out
-- (with each host's reason in `errs`).
local function next_connection(self, plan, errs)
  for host in plan do
    local p = self.pools[host]
    local conn = p and p:borrow()
    if conn then return conn, host end
    errs[host.address] = p and "no open connection" or "no connection pool (host down or ignored)"
  end
  return nil
end

local function no_host_available(self, errs)
  local f = Future.new(self.scheduler)
  f:set_error(errors.NoHostAvailable { message = "Unable to complete the operation against any hosts",
                                       errors = errs })
  return f
end

-- Sends `send(conn)` to the first host of `plan` that takes it. A request
-- refused before it was written (closed or saturated connection) moves on
-- to the next host. Returns the response future, the connection and the
-- host; or a failed future (NoHostAvailable) alone.
local function send_on_plan(self, plan, send)
  local errs = {}
  while true do
    local conn, host = next_connection(self, plan, errs)
    if not conn then return no_host_available(self, errs) end
    local f = send(conn)
    local done, err = f:peek()
    if done ~= false or not is_connection_error(err) then return f, conn, host end
    errs[host.address] = err
  end
end

local function plan_for(self, statement)
  return self.cluster.load_balancing_policy:make_query_plan(self.keyspace, statement)
end

-- A keyspace change (USE) is applied to every pooled connection before
-- `result` completes.
local function deliver_keyspace(self, result, rs, conn)
  self.keyspace = rs.keyspace
  local pending, first_error = 1, nil
  local function finished(_, e)
    first_error = first_error or e
    pending = pending - 1
    if pending > 0 then return end
    if first_error then return result:set_error(first_error) end
    result:set_result(rs)
  end
  for _, p in pairs(self.pools) do
    pending = pending + 1
    p:set_keyspace(rs.keyspace, self.default_timeout, conn):add_callbacks(finished, function(e)
      finished(nil, e)
    end)
  end
  return finished()
end

-- The change a SCHEMA_CHANGE result describes, as the control connection
-- decodes events.
local function schema_change_of(res)
  local c = res.response.u.result.change
  local args = {}
  for i = 0, c.narg_types - 1 do args[i + 1] = ResultSet.cq_str(c.arg_types[i]) end
  return { change_type = ResultSet.cq_str(c.change_type), target = ResultSet.cq_str(c.target),
           keyspace = ResultSet.cq_str(c.keyspace), name = ResultSet.cq_str(c.name), arg_types = args }
end

-- A schema change waits for the nodes to agree on the schema, and updates
-- `cluster.metadata`, before `result` completes (as the seed does): the
-- caller's next request and metadata lookup both see the change.
local function deliver_schema_change(self, result, rs, change)
  self.scheduler:spawn_later(function()
    local wait = self.cluster.max_schema_agreement_wait
    if wait > 0 then rs.is_schema_agreed = self:wait_for_schema_agreement(wait) end
    self.cluster:refresh_for_schema_change(change)
    result:set_result(rs)
  end)
end

-- Completes `result` with the ResultSet of a decoded response. A keyspace
-- change (USE) is first applied to every pooled connection, and a schema
-- change waits for the nodes to agree on the schema, so that the next
-- request sees it wherever it goes. (No closure in here: a function that
-- makes one closes upvalues on every return, which LuaJIT cannot compile;
-- the rare cases above make theirs.)
local function deliver(self, result, res, call, host, conn, req)
  local rs, err = ResultSet.from_response(res, self.row_factory)
  if not rs then return result:set_error(err) end
  rs.session, rs.coordinator = self, host
  -- The next page (nil for batches, which have none).
  if call.fetch then rs.fetch = call end
  rs.attempted_hosts = req and req.attempted_hosts
  if res.custom_payload then rs.custom_payload = res.custom_payload end
  -- rawget: a ResultSet's missing fields go through a function (__index).
  if rawget(rs, "keyspace") then return deliver_keyspace(self, result, rs, conn) end
  if res.kind == "schema_change" then return deliver_schema_change(self, result, rs, schema_change_of(res)) end
  result:set_result(rs)
end

local timespec = ffi.new("struct { int64_t sec; int64_t nsec; }")
pcall(ffi.cdef, "int clock_gettime(int clock, void *ts);") -- cql.request may have declared it

-- Client-side timestamps in microseconds, never going backwards nor
-- repeating (the seed's MonotonicTimestampGenerator).
-- In doubles, which hold microseconds since 1970 exactly for centuries to
-- come, rather than int64 cdata, which would box every intermediate value.
local last_timestamp = 0
local function next_timestamp()
  ffi.C.clock_gettime(0, timespec) -- CLOCK_REALTIME
  local now = tonumber(timespec.sec) * 1000000 + math.floor(tonumber(timespec.nsec) / 1000)
  if now <= last_timestamp then now = last_timestamp + 1 end
  last_timestamp = now
  return now
end

local function check_payload(payload)
  if payload == nil then return nil end
  if type(payload) ~= "table" then error("bad option custom_payload (table of string keys and values expected)", 4) end
  for k, v in pairs(payload) do
    if type(k) ~= "string" or type(v) ~= "string" then
      error("bad option custom_payload (keys and values must be strings, got " .. type(k) .. " = "
        .. type(v) .. ")", 4)
    end
  end
  return payload
end

-- The request options: the call's, else the statement's, else the
-- session's defaults.
local NO_OPTIONS = {} -- read only: stands for options not given, without a table per request

local function request_options(self, statement, opts)
  local st = type(statement) == "table" and statement or NO_OPTIONS
  local o = {
    timeout = opts.timeout or st.timeout or self.default_timeout,
    consistency = opts.consistency_level or st.consistency_level or self.default_consistency_level,
    serial_consistency = opts.serial_consistency_level or st.serial_consistency_level
                         or self.default_serial_consistency_level,
    page_size = opts.fetch_size or st.fetch_size or self.default_fetch_size,
    paging_state = opts.paging_state,
    trace = opts.trace or st.trace,
    custom_payload = check_payload(opts.custom_payload or st.custom_payload),
    host = false,
  }
  if opts.host ~= nil then
    local h = opts.host
    if type(h) == "string" then h = self.cluster:find_host(h) end
    if type(h) ~= "table" or not h.address then
      error("bad option host (a Host of this cluster, or the address of one, expected)", 4)
    end
    o.host = h
  end
  if self.use_client_timestamp then o.timestamp = next_timestamp() end
  return o
end

--- Prepares `ps` again on `conn` and replaces its ids; returns a future.
function Session:reprepare_on(conn, ps, timeout)
  self.reprepared = self.reprepared + 1
  local f = Future.new(self.scheduler)
  conn:prepare(ps.query_string, timeout):add_callbacks(function(res)
    ps:update_from(query.PreparedStatement.from_response(ps.query_string, res, ps.keyspace))
    f:set_result(true)
  end, function(err) f:set_error(err) end)
  return f
end

-- What a request sends, as objects with methods rather than closures made
-- per request (closures stop LuaJIT's compiler on this path). A call of
-- each kind has `send(conn, o)` (the response future), `find_prepared(id)`
-- (the statement to prepare again on UNPREPARED) and `fetch(paging_state,
-- future)`, which runs the statement again for the next page.
local BoundCall, SimpleCall, BatchCall = {}, {}, {}
BoundCall.__index, SimpleCall.__index, BatchCall.__index = BoundCall, SimpleCall, BatchCall

local function with_paging_state(o, state)
  return state and setmetatable({ paging_state = state }, { __index = o }) or o
end

-- Starts the request for `call` with options `o`; completes `result`.
local function start(call, o, result)
  local statement = call.statement
  if type(statement) ~= "table" then statement = nil end
  -- The call is shared by every page; what differs per page travels in
  -- the request, and deliver reads the future from it.
  request.start(call.session, call, statement, o, result, statement ~= nil and statement.is_idempotent == true)
end

local function call_deliver(call, res, host, conn, req)
  deliver(call.session, req.result, res, call, host, conn, req)
end
BoundCall.deliver, SimpleCall.deliver, BatchCall.deliver = call_deliver, call_deliver, call_deliver

local function call_fetch(call, state, f)
  start(call, with_paging_state(call.o, state), f)
end
BoundCall.fetch, SimpleCall.fetch = call_fetch, call_fetch

function BoundCall:send(conn, so)
  local ps = self.ps
  -- The values are copied into the request by the time conn:execute
  -- returns; the bound statement keeps their bytes alive until then.
  local values, n = self.statement:scratch_values()
  return conn:execute(ps.query_id, ps.result_metadata_id, values, n, so.timeout, so)
end

function BoundCall:find_prepared(id)
  local ps = self.ps
  return id == ps.query_id and ps or nil
end

function SimpleCall:send(conn, so)
  return conn:query(self.cql, so.timeout, so)
end

function SimpleCall.find_prepared() return nil end

function BatchCall:send(conn, so)
  -- Ids may have changed after a re-prepare.
  local entries = self.entries
  for i, e in ipairs(self.statement.entries) do
    if e.bound then entries[i].id = e.bound.prepared_statement.query_id end
  end
  -- self.anchors keep the values' bytes alive until the request is encoded.
  return conn:batch(self.statement.batch_type, entries, so.timeout, so)
end

function BatchCall:find_prepared(id)
  for _, e in ipairs(self.statement.entries) do
    local ps = e.bound and e.bound.prepared_statement
    if ps and ps.query_id == id then return ps end
  end
end

-- Runs a bound statement (page by page).
local function execute_bound(self, bound, o, result)
  local call = setmetatable({ session = self, statement = bound, o = o, ps = bound.prepared_statement },
                           BoundCall)
  start(call, o, result)
end

-- Runs a batch; an UNPREPARED names the statement to prepare again.
local function execute_batch(self, batch, o, result)
  local entries, anchors = {}, {}
  for i, e in ipairs(batch.entries) do
    if e.bound then
      local values, n, anchor = e.bound:values()
      anchors[i] = { values, anchor }
      entries[i] = { id = e.bound.prepared_statement.query_id, values = values, n = n }
    else
      entries[i] = { query = e.query }
    end
  end
  start(setmetatable({ session = self, statement = batch, o = o, entries = entries, anchors = anchors },
                     BatchCall), o, result)
end

--- Runs a statement and returns a future for its ResultSet.
-- @param statement CQL text (with `%s` / `%(name)s` markers when
--   `parameters` is given), a SimpleStatement, a PreparedStatement (bound
--   with `parameters`), a BoundStatement or a BatchStatement
-- @param parameters an array or a table of names
-- @param opts timeout (seconds), consistency_level, serial_consistency_level,
--   fetch_size (rows per page), paging_state (resume where a previous
--   ResultSet's page ended), trace (ask the server to trace the request;
--   see ResultSet:get_query_trace), custom_payload (a table of string keys
--   and byte-string values sent with the request, v4+; a payload the
--   server returns is `rs.custom_payload`), host (a Host or its address:
--   tried first, before the load-balancing plan; for tools that must
--   reach one node); each falls back to the statement's, then to the
--   session's default
function Session:execute_async(statement, parameters, opts)
  if self.is_shutdown then error("the session is shut down", 2) end
  opts = opts or NO_OPTIONS
  local result = Future.new(self.scheduler)
  local mt = getmetatable(statement)
  if mt == query.PreparedStatement then
    local ok, bound = pcall(statement.bind, statement, parameters)
    if not ok then error(bound, 2) end
    statement, mt = bound, query.BoundStatement
  end
  local o = request_options(self, statement, opts)
  if mt == query.BoundStatement then
    execute_bound(self, statement, o, result)
    return result
  end
  if mt == query.BatchStatement then
    if parameters ~= nil then error("bad argument #2 to 'execute' (a batch takes no parameters)", 2) end
    execute_batch(self, statement, o, result)
    return result
  end
  local text = mt == query.SimpleStatement and statement.query_string or statement
  if type(text) ~= "string" then
    error("bad argument #1 to 'execute' (CQL string or statement expected, got " .. type(statement) .. ")", 2)
  end
  local ok, cql = pcall(encoder.bind_params, text, parameters)
  if not ok then error("bad argument #2 to 'execute' (" .. tostring(cql) .. ")", 2) end
  local call = setmetatable({ session = self, statement = statement, o = o, cql = cql }, SimpleCall)
  start(call, o, result)
  return result
end

--- Runs a statement; returns its ResultSet, or nil and an error object.
function Session:execute(statement, parameters, opts)
  return self:execute_async(statement, parameters, opts):result()
end

--- Prepares a statement on one host, then (with the cluster's
-- `prepare_on_all_hosts`, the default) on every other host with a pool,
-- so that no node answers its first EXECUTE with UNPREPARED. Returns a
-- PreparedStatement, or nil and an error.
function Session:prepare(cql)
  if type(cql) ~= "string" then error("bad argument #1 to 'prepare' (CQL string expected)", 2) end
  if self.is_shutdown then error("the session is shut down", 2) end
  local timeout = self.default_timeout
  local response, _, host = send_on_plan(self, plan_for(self, nil), function(c) return c:prepare(cql, timeout) end)
  local res, err = response:result()
  if not res then return nil, err end
  local ps = query.PreparedStatement.from_response(cql, res, self.keyspace)
  self.prepared[ps.query_id] = ps
  if self.cluster.prepare_on_all_hosts then
    local others = {}
    for h, p in pairs(self.pools) do
      if h ~= host then others[#others + 1] = p:prepare(cql, timeout) end
    end
    for _, f in ipairs(others) do
      local ok, perr = f:result()
      if not ok then log.debug("preparing on another host failed (it will re-prepare on demand): ", perr) end
    end
  end
  return ps
end

--- Waits until every host this session has a pool to reports the same
-- schema version, or `timeout` seconds pass; true when they agree. Each
-- node is asked directly (system.local on its own connection): the peers
-- table of one node may not have heard of a change another node made.
function Session:wait_for_schema_agreement(timeout)
  local deadline = self.cluster.host:now() + timeout
  local ask = "SELECT schema_version FROM system.local WHERE key = 'local'"
  while true do
    local answers = {}
    for host, p in pairs(self.pools) do
      local conn = p:borrow()
      if conn then answers[#answers + 1] = { host = host, future = conn:query(ask, timeout) } end
    end
    local versions, n = {}, 0
    for _, a in ipairs(answers) do
      local res = a.future:result()
      local rs = res and ResultSet.from_response(res, query.dict_factory)
      local row = rs and rs.current_rows[1]
      if row then
        local v = tostring(row.schema_version)
        if not versions[v] then versions[v], n = true, n + 1 end
      end
    end
    if n <= 1 then return true end
    if self.cluster.host:now() >= deadline then
      log.warn("schema versions still disagree after ", timeout, " s")
      return false
    end
    self.scheduler:sleep(0.1)
  end
end

--- Switches the session's keyspace on every connection.
function Session:set_keyspace(keyspace)
  if type(keyspace) ~= "string" then error("bad argument #1 to 'set_keyspace' (string expected)", 2) end
  local rs, err = self:execute("USE " .. pool.quote_identifier(keyspace))
  if not rs then return nil, err end
  return true
end

--- Closes every connection of the session; requests in flight fail with
-- ConnectionShutdown. Later calls on the session raise.
function Session:shutdown()
  if self.is_shutdown then return end
  self.is_shutdown = true
  for host in pairs(self.opening) do self:remove_pool(host) end
  for host in pairs(self.pools) do self:remove_pool(host) end
end

return Session
