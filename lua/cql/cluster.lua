--- Clusters and sessions, as in the seed's `cassandra.cluster`.
--
-- FIRST INCREMENT of the driver (issue 4): a Session talks to the first
-- contact point that accepts a connection, over one connection. Simple
-- and prepared statements, automatic paging and re-preparing work; pools,
-- the control connection, load balancing, retries and batches come next,
-- and until then this module says so where it matters.
--
--     local cluster = require("cql.cluster").Cluster { contact_points = { "127.0.0.1" } }
--     local session = assert(cluster:connect("ks"))
--     local rs = assert(session:execute("SELECT * FROM users WHERE id = %s", { id }))
--     for row in rs:rows() do print(row.name) end
--     cluster:shutdown()
--
-- Runtime failures return `nil, err` (see cql.errors); misuse raises.
-- @module cql.cluster
local ffi = require "ffi"
local core = require "cql.core"
local codec = require "cql.codec"
local errors = require "cql.errors"
local encoder = require "cql.encoder"
local Connection = require "cql.connection"
local query = require "cql.query"
local runtime = require "cql.runtime"
require "cql.cdef_transport"

local C = core.C
local M = {}

local ResultSet = {}
-- column_types is computed on first use: most callers never need type
-- objects, and building them costs an allocation per column.
ResultSet.__index = function(rs, key)
  if key == "column_types" and rs._response then
    local r = rs._response.response.u.result
    local types = {}
    for i = 0, r.meta.column_count - 1 do
      types[i + 1] = require("cql.cqltypes").wrap(r.meta.columns[i].type, rs._response)
    end
    rawset(rs, "column_types", types)
    return types
  end
  return ResultSet[key]
end

local function cq_str(s)
  return s.p ~= nil and ffi.string(s.p, s.len) or nil
end

-- Decodes a RESULT Rows response into Lua rows: keyed by column name, or
-- arrays for the tuple factory.
local function rows_of(res, factory)
  local r = res.response.u.result
  local ncols = r.meta.column_count
  local names, decs = {}, {}
  local types = ffi.new("const cq_type *[?]", math.max(ncols, 1))
  for i = 0, ncols - 1 do
    local col = r.meta.columns[i]
    names[i + 1] = cq_str(col.name)
    decs[i + 1] = codec.decoder(col.type)
    types[i] = col.type
  end
  local page = ffi.gc(ffi.new("cq_rows_page"), C.cq_rows_free)
  local err = ffi.new("char[256]")
  if C.cq_rows_decode(page, types, ncols, r.row_count, r.rows, r.rows_len, err, 256) ~= 0 then
    return nil, errors.ProtocolException { message = "malformed rows: " .. ffi.string(err) }
  end
  local rows = codec.page_rows(page, codec.row_decoder(decs, factory ~= query.tuple_factory and names or nil))
  local paging_state
  if r.meta.paging_state.len > 0 then
    paging_state = ffi.string(r.meta.paging_state.p, r.meta.paging_state.len)
  end
  return rows, names, paging_state
end

local function result_set(res, factory)
  local rs = setmetatable({ current_rows = {}, column_names = {}, warnings = res.warnings,
                            trace_id = res.trace_id }, ResultSet)
  if res.kind == "rows" then
    local rows, names, paging_state = rows_of(res, factory)
    if not rows then return nil, names end
    rs.current_rows, rs.column_names, rs.paging_state = rows, names, paging_state
    rs.has_more_pages = paging_state ~= nil
    rs._response = res
  elseif res.kind == "set_keyspace" then
    rs.keyspace = cq_str(res.response.u.result.keyspace)
  end
  return rs
end

--- Fetches the next page into `current_rows`. Returns true, false when
-- there is no next page, or nil and an error.
function ResultSet:fetch_next_page()
  if not self.has_more_pages then return false end
  local f = require("cql.future").new(self.session.scheduler)
  self.fetch(self.paging_state, f)
  local nxt, err = f:result()
  if not nxt then return nil, err end
  self.current_rows, self.paging_state, self.has_more_pages, self._response =
    nxt.current_rows, nxt.paging_state, nxt.has_more_pages, nxt._response
  return true
end

--- Iterates over every row of every page, fetching pages as it goes (only
-- one page is held at a time). If fetching a page fails, the iterator
-- returns `false, err` once and then stops:
--
--     for row, err in rs:rows() do
--       if not row then error(err) end
--       ...
--     end
function ResultSet:rows()
  local i, failed = 0, false
  return function()
    if failed then return nil end
    i = i + 1
    local row = self.current_rows[i]
    while row == nil and self.has_more_pages do
      local ok, err = self:fetch_next_page()
      if not ok then
        failed = true
        return false, err
      end
      i = 1
      row = self.current_rows[1]
    end
    return row
  end
end

--- The first row of the current page, or nil.
function ResultSet:one()
  return self.current_rows[1]
end

--- Every row of every remaining page, as an array; or nil and an error.
function ResultSet:all()
  local rows = {}
  for row, err in self:rows() do
    if not row then return nil, err end
    rows[#rows + 1] = row
  end
  return rows
end

--- The trace of a request run with `trace = true`: waits (up to
-- `max_wait` seconds, default 2) until the server has written it, then
-- returns `{ trace_id, request_type, duration (microseconds), coordinator,
-- parameters, started_at, client, events = { {description, source,
-- source_elapsed, thread_name}, ... } }`, or nil and an error
-- (TraceUnavailable when it is not complete in time).
function ResultSet:get_query_trace(max_wait)
  if not self.trace_id then
    error("get_query_trace: the request was not traced (run it with trace = true)", 2)
  end
  local util = require "cql.util"
  local id = util.UUID.from_bytes(self.trace_id)
  local session, waited, step = self.session, 0, 0.05
  max_wait = max_wait or 2
  while true do
    local rs, err = session:execute("SELECT * FROM system_traces.sessions WHERE session_id = %s", { id },
                                    { consistency_level = 1, trace = false })
    if not rs then return nil, err end
    local s = rs:one()
    if s and s.duration then
      local events, eerr = session:execute(
        "SELECT * FROM system_traces.events WHERE session_id = %s", { id }, { consistency_level = 1 })
      if not events then return nil, eerr end
      local list = {}
      for e in events:rows() do
        list[#list + 1] = { description = e.activity, source = e.source, source_elapsed = e.source_elapsed,
                            thread_name = e.thread }
      end
      return { trace_id = id, request_type = s.request, duration = s.duration, coordinator = s.coordinator,
               parameters = s.parameters, started_at = s.started_at, client = s.client, events = list }
    end
    if waited >= max_wait then
      return nil, errors.TraceUnavailable {
        message = ("the trace %s was not complete within %g seconds"):format(tostring(id), max_wait) }
    end
    require("cql.runtime").sleep(step)
    waited = waited + step
  end
end

--- For lightweight transactions: the `[applied]` column of the only row.
function ResultSet:was_applied()
  local row = self.current_rows[1]
  if #self.current_rows ~= 1 or row["[applied]"] == nil then
    error("was_applied needs a single-row result with an [applied] column", 2)
  end
  return row["[applied]"]
end

local Session = {}
Session.__index = Session

local function quote_identifier(name)
  return '"' .. name:gsub('"', '""') .. '"'
end

-- Completes `result` with the ResultSet of a decoded response; `fetch`
-- (paging_state, future) runs the statement again for the next page.
local function deliver(self, result, res, fetch)
  local rs, err = result_set(res, self.row_factory)
  if rs and rs.keyspace then self.keyspace = rs.keyspace end
  if not rs then return result:set_error(err) end
  rs.session, rs.fetch = self, fetch
  result:set_result(rs)
end

-- Completes `result` from a response future.
local function complete(self, result, response, fetch)
  response:add_callbacks(function(res) deliver(self, result, res, fetch) end,
                         function(err) result:set_error(err) end)
end

local timespec = ffi.new("struct { int64_t sec; int64_t nsec; }")
ffi.cdef "int clock_gettime(int clock, void *ts);"

-- Client-side timestamps in microseconds, never going backwards nor
-- repeating (the seed's MonotonicTimestampGenerator).
local last_timestamp = ffi.new("int64_t", 0)
local function next_timestamp()
  ffi.C.clock_gettime(0, timespec) -- CLOCK_REALTIME
  local now = timespec.sec * 1000000 + timespec.nsec / 1000
  if now <= last_timestamp then now = last_timestamp + 1 end
  last_timestamp = now
  return now
end

-- The request options: the call's, else the statement's, else the
-- session's defaults.
local function request_options(self, statement, opts)
  local st = type(statement) == "table" and statement or {}
  local o = {
    timeout = opts.timeout or st.timeout or self.default_timeout,
    consistency = opts.consistency_level or st.consistency_level or self.default_consistency_level,
    serial_consistency = opts.serial_consistency_level or st.serial_consistency_level
                         or self.default_serial_consistency_level,
    page_size = opts.fetch_size or st.fetch_size or self.default_fetch_size,
    paging_state = opts.paging_state,
    trace = opts.trace or st.trace,
  }
  if self.use_client_timestamp then o.timestamp = next_timestamp() end
  return o
end

-- Prepares `ps` again on the session's connection and replaces its ids.
local function reprepare(self, ps, timeout, on_done, on_error)
  self.reprepared = self.reprepared + 1
  self.conn:prepare(ps.query_string, timeout):add_callbacks(function(res)
    ps:update_from(query.PreparedStatement.from_response(ps.query_string, res, ps.keyspace))
    on_done()
  end, on_error)
end

-- Runs a bound statement; on UNPREPARED (the node forgot the statement,
-- e.g. after a restart or a table re-creation) prepares it again on that
-- connection and retries once, without the caller noticing.
local function execute_bound(self, bound, o, result, retried)
  local ps = bound.prepared_statement
  local values, n, anchor = bound:values()
  local response = self.conn:execute(ps.query_id, ps.result_metadata_id, values, n, o.timeout, o)
  local _ = anchor -- the values' bytes are copied into the request by now
  local function fetch(state, f)
    local next_o = setmetatable({ paging_state = state }, { __index = o })
    execute_bound(self, bound, next_o, f, false)
  end
  if retried then return complete(self, result, response, fetch) end
  response:add_callbacks(function(res) deliver(self, result, res, fetch) end, function(err)
    if err.name ~= "PreparedQueryNotFound" then return result:set_error(err) end
    reprepare(self, ps, o.timeout, function() execute_bound(self, bound, o, result, true) end,
              function(e) result:set_error(e) end)
  end)
end

-- Runs a batch; an UNPREPARED for one of its prepared statements
-- re-prepares that statement and retries the batch once.
local function execute_batch(self, batch, o, result, retried)
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
  local response = self.conn:batch(batch.batch_type, entries, o.timeout, o)
  local _ = anchors -- kept the values' bytes alive until the request was encoded
  response:add_callbacks(function(res) deliver(self, result, res) end, function(err)
    if err.name ~= "PreparedQueryNotFound" or retried then return result:set_error(err) end
    for _, e in ipairs(batch.entries) do
      local ps = e.bound and e.bound.prepared_statement
      if ps and ps.query_id == err.query_id then
        return reprepare(self, ps, o.timeout, function() execute_batch(self, batch, o, result, true) end,
                         function(e2) result:set_error(e2) end)
      end
    end
    result:set_error(err)
  end)
end

--- Runs a statement and returns a future for its ResultSet.
-- @param statement CQL text (with `%s` / `%(name)s` markers when
--   `parameters` is given), a SimpleStatement, a PreparedStatement (bound
--   with `parameters`), a BoundStatement or a BatchStatement
-- @param parameters an array or a table of names
-- @param opts timeout (seconds), consistency_level, serial_consistency_level,
--   fetch_size (rows per page), paging_state (resume where a previous
--   ResultSet's page ended), trace (ask the server to trace the request;
--   see ResultSet:get_query_trace); each falls back to the statement's,
--   then to the session's default
function Session:execute_async(statement, parameters, opts)
  if self.is_shutdown then error("the session is shut down", 2) end
  opts = opts or {}
  local result = require("cql.future").new(self.scheduler)
  local mt = getmetatable(statement)
  if mt == query.PreparedStatement then
    local ok, bound = pcall(statement.bind, statement, parameters)
    if not ok then error(bound, 2) end
    statement, mt = bound, query.BoundStatement
  end
  local o = request_options(self, statement, opts)
  if mt == query.BoundStatement then
    execute_bound(self, statement, o, result, false)
    return result
  end
  if mt == query.BatchStatement then
    if parameters ~= nil then error("bad argument #2 to 'execute' (a batch takes no parameters)", 2) end
    execute_batch(self, statement, o, result, false)
    return result
  end
  local text = mt == query.SimpleStatement and statement.query_string or statement
  if type(text) ~= "string" then
    error("bad argument #1 to 'execute' (CQL string or statement expected, got " .. type(statement) .. ")", 2)
  end
  local ok, cql = pcall(encoder.bind_params, text, parameters)
  if not ok then error("bad argument #2 to 'execute' (" .. tostring(cql) .. ")", 2) end
  local function fetch(paging_state, f)
    local page_o = paging_state and setmetatable({ paging_state = paging_state }, { __index = o }) or o
    complete(self, f, self.conn:query(cql, o.timeout, page_o), fetch)
  end
  fetch(o.paging_state, result)
  return result
end

--- Prepares a statement; returns a PreparedStatement, or nil and an error.
function Session:prepare(cql)
  if type(cql) ~= "string" then error("bad argument #1 to 'prepare' (CQL string expected)", 2) end
  local res, err = self.conn:prepare(cql, self.default_timeout):result()
  if not res then return nil, err end
  return query.PreparedStatement.from_response(cql, res, self.keyspace)
end

--- Runs a statement; returns its ResultSet, or nil and an error object.
function Session:execute(statement, parameters, opts)
  return self:execute_async(statement, parameters, opts):result()
end

--- Switches the session's keyspace.
function Session:set_keyspace(keyspace)
  if type(keyspace) ~= "string" then error("bad argument #1 to 'set_keyspace' (string expected)", 2) end
  local rs, err = self:execute("USE " .. quote_identifier(keyspace))
  if not rs then return nil, err end
  return true
end

--- Closes the session's connection.
function Session:shutdown()
  if self.is_shutdown then return end
  self.is_shutdown = true
  self.conn:close("session shut down")
end

local Cluster = {}
Cluster.__index = Cluster

-- A TLS context from ssl_options. Verification is on unless turned off:
-- `verify = false` accepts any certificate, `check_hostname = false`
-- accepts a valid certificate for another name. The seed's option names
-- (ca_certs, certfile, keyfile) are accepted too.
local function tls_context(o)
  local cfg = ffi.new("cq_tls_config")
  local ca, cert, key = o.ca_file or o.ca_certs, o.cert_file or o.certfile, o.key_file or o.keyfile
  cfg.ca_file, cfg.cert_file, cfg.key_file = ca, cert, key
  cfg.no_verify = o.verify == false and 1 or 0
  cfg.no_hostname_check = o.check_hostname == false and 1 or 0
  local err = ffi.new("char[256]")
  local ctx = C.cq_tls_ctx_new(cfg, err, 256)
  if ctx == nil then error("bad option ssl_options (" .. ffi.string(err) .. ")", 3) end
  return ffi.gc(ctx, C.cq_tls_ctx_free)
end

--- Creates a cluster handle (no connection is made until `connect`).
-- Options: contact_points (default: the runner's --hosts, else
-- {"127.0.0.1"}), port (the runner's --port, else 9042),
-- auth_provider, protocol_version (nil negotiates), compression (true),
-- connect_timeout (5 s), idle_heartbeat_interval (30 s), ssl_options
-- (`{ca_file, cert_file, key_file, verify = true, check_hostname = true,
-- server_name}`; TLS is on when the table is given).
function M.Cluster(opts)
  opts = opts or {}
  if opts.contact_points ~= nil and type(opts.contact_points) ~= "table" then
    error("bad option contact_points (array of addresses expected)", 2)
  end
  if opts.ssl_options ~= nil and type(opts.ssl_options) ~= "table" then
    error("bad option ssl_options (table expected)", 2)
  end
  local scheduler = runtime.scheduler()
  local defaults = runtime.defaults
  local auth_provider = opts.auth_provider
  if auth_provider == nil and defaults.username then
    auth_provider = require("cql.auth").PlainTextAuthProvider(defaults.username, defaults.password or "")
  end
  return setmetatable({
    contact_points = opts.contact_points or defaults.contact_points or { "127.0.0.1" },
    port = opts.port or defaults.port or 9042,
    auth_provider = auth_provider,
    protocol_version = opts.protocol_version,
    compression = opts.compression ~= false,
    connect_timeout = opts.connect_timeout or 5,
    idle_heartbeat_interval = opts.idle_heartbeat_interval or 30,
    ssl_options = opts.ssl_options,
    tls = opts.ssl_options and tls_context(opts.ssl_options),
    host = scheduler.host,
    scheduler = scheduler,
    sessions = {},
  }, Cluster)
end

--- Connects and returns a Session (optionally using `keyspace`), or nil
-- and NoHostAvailable with each contact point's error.
function Cluster:connect(keyspace)
  if self.is_shutdown then error("the cluster is shut down", 2) end
  local failures = {}
  for _, address in ipairs(self.contact_points) do
    local conn, err = Connection.open(self.scheduler, self.host, address, {
      port = self.port, protocol_version = self.protocol_version, compression = self.compression,
      keyspace = keyspace, auth_provider = self.auth_provider, connect_timeout = self.connect_timeout,
      idle_heartbeat_interval = self.idle_heartbeat_interval, tls = self.tls,
      tls_name = self.ssl_options and self.ssl_options.server_name,
    }):result()
    if conn then
      local session = setmetatable({
        cluster = self, conn = conn, scheduler = self.scheduler, keyspace = keyspace,
        default_timeout = 10, default_fetch_size = 5000, default_consistency_level = 10, -- LOCAL_ONE
        default_serial_consistency_level = nil, use_client_timestamp = true,
        row_factory = query.dict_factory,
        reprepared = 0, -- statements prepared again after UNPREPARED (for monitoring)
      }, Session)
      self.sessions[#self.sessions + 1] = session
      return session
    end
    failures[address] = err
  end
  return nil, errors.NoHostAvailable { message = "Unable to connect to any servers", errors = failures }
end

--- Shuts down every session of this cluster.
function Cluster:shutdown()
  if self.is_shutdown then return end
  self.is_shutdown = true
  for _, s in ipairs(self.sessions) do s:shutdown() end
  -- Let the closes go out before the process may exit.
  self.host:turn(0)
end

M.Session, M.ResultSet = Session, ResultSet
return M
