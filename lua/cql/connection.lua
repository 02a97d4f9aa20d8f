--- One connection to one node, driven by the scheduler.
--
-- Opening returns a future that completes once the handshake is done
-- (protocol negotiated, authenticated, events registered, keyspace set).
-- Requests return futures completed with a decoded response, or with an
-- error object: the server's ERROR mapped by cql.errors, OperationTimedOut
-- when the request's deadline passes, ConnectionShutdown when the
-- connection closes under it. The pool and the session build on this.
-- @module cql.connection
local ffi = require "ffi"
local bit = require "bit"
local core = require "cql.core"
local errors = require "cql.errors"
local Future = require "cql.future"
require "cql.cdef_transport"

local C = core.C

-- cq_conn_event kinds and statuses (conn.h, status.h).
local EV = { READY = 1, AUTHENTICATE = 2, AUTH_CHALLENGE = 3, AUTH_SUCCESS = 4, RESPONSE = 5,
             FAILED = 6, SERVER_EVENT = 7, CLOSED = 8 }
local ERR_TIMEOUT, ERR_VERSION, ERR_SERVER = -9, -11, -12
local OP = { ERROR = 0x00, QUERY = 0x07, RESULT = 0x08, PREPARE = 0x09, EXECUTE = 0x0A, BATCH = 0x0D }
local RESULT_KIND = { [1] = "void", [2] = "rows", [3] = "set_keyspace", [4] = "prepared",
                      [5] = "schema_change" }

local Connection = {}
Connection.__index = Connection

local function str(s, n)
  if s == nil then return nil end
  return ffi.string(s, n)
end

local function cq_str_value(s)
  if s.p == nil then return nil end
  return ffi.string(s.p, s.len)
end

-- The fields of a decoded ERROR as cql.errors.from_server expects them.
local function error_fields(e)
  local f = { code = e.code, message = cq_str_value(e.message), consistency = e.consistency,
              required = e.required, alive = e.alive, received = e.received, block_for = e.block_for,
              write_type = cq_str_value(e.write_type), data_present = e.data_present ~= 0,
              num_failures = e.num_failures, keyspace = cq_str_value(e.keyspace),
              table = cq_str_value(e.table), ["function"] = cq_str_value(e["function"]) }
  if e.nreasons > 0 then
    f.reasons = {}
    for i = 0, e.nreasons - 1 do
      local r = e.reasons[i]
      local a = r.endpoint
      local addr = a.len == 4 and ("%d.%d.%d.%d"):format(a.addr[0], a.addr[1], a.addr[2], a.addr[3])
                   or "ipv6:" .. ffi.string(a.addr, 16)
      f.reasons[addr] = r.code
    end
  end
  if e.narg_types > 0 then
    f.arg_types = {}
    for i = 0, e.narg_types - 1 do f.arg_types[i + 1] = cq_str_value(e.arg_types[i]) end
  end
  if e.unprepared_id.p ~= nil then f.unprepared_id = ffi.string(e.unprepared_id.p, e.unprepared_id.len) end
  return f
end

--- A decoded response. `kind` is "void", "rows", "set_keyspace",
-- "prepared" or "schema_change"; `response` is the cq_response cdata, valid
-- as long as this object lives (it keeps the body and the arena).
local diag = ffi.new("cq_diag") -- read at once on failure, so one serves every decode
local response_t = ffi.typeof("cq_response")

-- A RESULT Void (what most writes get) holds nothing to keep: every such
-- response shares this decoded one instead of copying its body and making
-- an arena (read-only, like every decoded response).
local void_response = response_t()
void_response.opcode = OP.RESULT
void_response.u.result.kind = 1
-- Frame flags that put tracing, a custom payload or warnings before the body.
local PREFIX_FLAGS = 0x02 + 0x04 + 0x08

local function decode(self, frame)
  local h = frame.header
  if h.opcode == OP.RESULT and frame.body_len == 4 and bit.band(h.flags, PREFIX_FLAGS) == 0 then
    local b = frame.body
    if b[0] == 0 and b[1] == 0 and b[2] == 0 and b[3] == 1 then
      return { response = void_response, opcode = OP.RESULT, kind = "void" }
    end
  end
  local body = ffi.string(frame.body, frame.body_len) -- outlives the event
  -- The arena holds the decoded metadata, which is about as large as the
  -- bytes it comes from: a small response gets a small first chunk rather
  -- than the default 4 KiB (it grows if need be). Arenas are freed by the
  -- GC, which does not see their size, so big ones for small responses
  -- would pile up between collections.
  local arena = core.new_arena(math.min(4096, 256 + 2 * #body))
  local resp = response_t()
  local rc = C.cq_response_decode(resp, h.version, h.flags, h.opcode, body, #body, arena, diag)
  if rc ~= 0 then
    return nil, errors.ProtocolException { message = "malformed response: " .. ffi.string(diag.msg),
                                           host = self.address }
  end
  if resp.opcode == OP.ERROR then
    return nil, errors.from_server(error_fields(resp.u.error), self.address)
  end
  local out = { body = body, arena = arena, response = resp, opcode = resp.opcode }
  if resp.opcode == OP.RESULT then out.kind = RESULT_KIND[resp.u.result.kind] end
  if resp.nwarnings > 0 then
    out.warnings = {}
    for i = 0, resp.nwarnings - 1 do out.warnings[i + 1] = cq_str_value(resp.warnings[i]) end
  end
  if bit.band(h.flags, 0x02) ~= 0 then out.trace_id = ffi.string(resp.tracing_id, 16) end
  if resp.npayload > 0 then
    out.custom_payload = {}
    for i = 0, resp.npayload - 1 do
      local e = resp.payload[i]
      local v = e.value
      out.custom_payload[ffi.string(e.key.p, e.key.len)] = v.len >= 0 and ffi.string(v.p, v.len) or nil
    end
  end
  return out
end

local function fail_open(self, err)
  self.closed = true
  self.ready_future:set_error(err)
end

-- The authenticator's answer to AUTHENTICATE or AUTH_CHALLENGE. Kept out
-- of on_event: the closure here would make every return of on_event close
-- upvalues, which LuaJIT cannot compile, and on_event runs per response.
local function on_auth(self, ev, kind)
  local ok, token = pcall(function()
    if kind == EV.AUTHENTICATE then
      if not self.auth_provider then
        error(("the server requires authentication (%s) but no auth_provider is configured")
          :format(str(ev.text)), 0)
      end
      self.authenticator = self.auth_provider:new_authenticator(self.address, str(ev.text))
      return self.authenticator:initial_response()
    end
    local challenge = ev.token.len >= 0 and ffi.string(ev.token.p, ev.token.len) or nil
    return self.authenticator:evaluate_challenge(challenge)
  end)
  if not ok then
    self.auth_error = errors.AuthenticationFailed { message = tostring(token), host = self.address }
    self.host:close(self.id, "authentication failed: " .. tostring(token))
  else
    self.host:auth_response(self.id, token)
  end
end

local function on_event(self, ev)
  local kind = ev.kind
  if kind == EV.RESPONSE then
    local uid = tonumber(ev.user_id)
    local f = self.pending[uid]
    self.pending[uid] = nil
    if not f then return end
    local res, err = decode(self, ev.frame)
    if res then f:set_result(res) else f:set_error(err) end
  elseif kind == EV.FAILED then
    local uid = tonumber(ev.user_id)
    local f = self.pending[uid]
    self.pending[uid] = nil
    if not f then return end
    local text = str(ev.text)
    if ev.status == ERR_TIMEOUT then
      f:set_error(errors.OperationTimedOut { message = "Client request timeout",
                                             errors = { [self.address] = text }, last_host = self.address })
    else
      f:set_error(errors.ConnectionShutdown { message = text, host = self.address, endpoint = self.address })
    end
  elseif kind == EV.READY then
    self.ready = true
    self.ready_future:set_result(self)
  elseif kind == EV.AUTHENTICATE or kind == EV.AUTH_CHALLENGE then
    on_auth(self, ev, kind)
  elseif kind == EV.AUTH_SUCCESS then
    if self.authenticator and self.authenticator.on_authentication_success then
      pcall(self.authenticator.on_authentication_success, self.authenticator,
            ev.token.len >= 0 and ffi.string(ev.token.p, ev.token.len) or nil)
    end
  elseif kind == EV.SERVER_EVENT then
    if self.on_server_event then
      local res = decode(self, ev.frame)
      if res then pcall(self.on_server_event, res) end
    end
  elseif kind == EV.CLOSED then
    local text = str(ev.text)
    self.closed = true
    self.close_reason = text
    if not self.ready then
      if self.auth_error then
        fail_open(self, self.auth_error)
      elseif ev.status == ERR_VERSION then
        fail_open(self, errors.ProtocolVersionUnsupported {
          message = text, host = self.address, endpoint = self.address,
          startup_version = self.version_tried, suggested_version = ev.suggested_version })
      elseif ev.status == ERR_SERVER and ev.server_error == 0x0100 then
        fail_open(self, errors.AuthenticationFailed { message = text, host = self.address, code = 0x0100 })
      else
        fail_open(self, errors.ConnectionException { message = text, host = self.address,
                                                     endpoint = self.address })
      end
    end
    if self.on_close then pcall(self.on_close, self, text) end
  end
end

local function open_once(scheduler, host, address, opts, version)
  local self = setmetatable({
    scheduler = scheduler, host = host, address = address, pending = {}, next_id = 0,
    auth_provider = opts.auth_provider, on_server_event = opts.on_server_event,
    on_close = opts.on_close, version_tried = version,
  }, Connection)
  self.ready_future = Future.new(scheduler)
  local cfg = ffi.new("cq_conn_config")
  cfg.version = version or 0
  cfg.lz4 = opts.compression and 1 or 0
  cfg.keyspace = opts.keyspace
  cfg.heartbeat_interval_ms = (opts.idle_heartbeat_interval or 30) * 1000
  cfg.heartbeat_timeout_ms = (opts.idle_heartbeat_timeout or 30) * 1000
  local events
  if opts.events and #opts.events > 0 then
    events = ffi.new("const char *[?]", #opts.events, opts.events)
    cfg.events = events
    cfg.nevents = #opts.events
  end
  local id, err = host:connect(address, opts.port or 9042, cfg, opts.tls, opts.tls_name,
                               opts.connect_timeout or 5, function(ev) on_event(self, ev) end,
                               opts.credentials_key)
  if not id then
    fail_open(self, errors.ConnectionException { message = err, host = address, endpoint = address })
  end
  self.id = id
  return self
end

--- Opens a connection; returns a future for the ready Connection.
-- An unpinned protocol version is negotiated: when the server refuses one,
-- the next lower is tried on a new connection.
-- @param scheduler the scheduler
-- @param host the host (cql.host.uv)
-- @param address the node's IP address
-- @param opts port, protocol_version (pinned), compression, keyspace,
--   events, auth_provider, credentials_key (for hosts that pool
--   authenticated connections), tls (cq_tls_ctx), tls_name, connect_timeout,
--   idle_heartbeat_interval, idle_heartbeat_timeout, on_server_event, on_close
function Connection.open(scheduler, host, address, opts)
  opts = opts or {}
  local result = Future.new(scheduler)
  local function attempt(version)
    local conn = open_once(scheduler, host, address, opts, version)
    conn.ready_future:add_callbacks(function(c) result:set_result(c) end, function(err)
      if err.name == "ProtocolVersionUnsupported" and not opts.protocol_version
          and err.suggested_version and err.suggested_version > 0 then
        attempt(err.suggested_version)
      else
        result:set_error(err)
      end
    end)
  end
  attempt(opts.protocol_version)
  return result
end

--- The negotiated protocol version.
function Connection:protocol_version()
  local c = self.host:conn(self.id)
  return c and C.cq_conn_version(c) or nil
end

--- Requests in flight on this connection.
function Connection:in_flight()
  local c = self.host:conn(self.id)
  return c and tonumber(C.cq_conn_in_flight(c)) or 0
end

--- Sends a cq_request cdata; returns a future for the decoded response.
-- @param request the request (its strings must stay alive during the call)
-- @param timeout seconds, or nil for none
-- @param flags frame flags (tracing 0x02, custom payload 0x04)
function Connection:send(request, timeout, flags)
  local f = Future.new(self.scheduler)
  if self.closed then
    f:set_error(errors.ConnectionShutdown { message = "connection closed: " .. tostring(self.close_reason),
                                            host = self.address })
    return f
  end
  self.next_id = self.next_id + 1
  local uid = self.next_id
  local deadline = timeout and (self.host:now_ms() + math.ceil(timeout * 1000)) or 0
  local rc = self.host:send(self.id, request, flags, uid, deadline)
  if rc ~= 0 then
    local name = ffi.string(C.cq_status_name(rc))
    local cls = rc == -13 and errors.ConnectionBusy or errors.ConnectionException
    f:set_error(cls { message = ("cannot send to %s: %s"):format(self.address, name), host = self.address })
    return f
  end
  self.pending[uid] = f
  return f
end

-- The options of QUERY, EXECUTE (and, for the last two, BATCH):
-- consistency, page_size, paging_state (a string from a previous page),
-- serial_consistency, timestamp (microseconds, int64).
-- Consistency, serial consistency and timestamp: the fields cq_query_params
-- and cq_batch share.
local function set_common(target, o)
  target.consistency = o.consistency or 1
  if o.serial_consistency then
    target.flags = bit.bor(target.flags, 0x10)
    target.serial_consistency = o.serial_consistency
  end
  if o.timestamp then
    target.flags = bit.bor(target.flags, 0x20)
    target.default_timestamp = o.timestamp
  end
end

local function set_params(params, o)
  set_common(params, o)
  if o.page_size then
    params.flags = bit.bor(params.flags, 0x04)
    params.page_size = o.page_size
  end
  if o.paging_state then params.paging_state.p, params.paging_state.len = o.paging_state, #o.paging_state end
end

-- Frame flags a request asks for (tracing, custom payload), after filling
-- the request's payload. Returns the flags and the payload array, which
-- must stay alive until the request is sent.
local function frame_flags(req, o)
  local flags = o.trace and 0x02 or 0
  local payload = o.custom_payload
  if not payload then return flags end
  local n = 0
  for _ in pairs(payload) do n = n + 1 end
  if n == 0 then return flags end
  local entries = ffi.new("cq_payload_entry[?]", n)
  local i = 0
  for k, v in pairs(payload) do
    local e = entries[i]
    e.key.p, e.key.len = k, #k
    e.value.len, e.value.p = #v, ffi.cast("const uint8_t *", v)
    i = i + 1
  end
  req.payload, req.npayload = entries, n
  return bit.bor(flags, 0x04), entries
end

-- One request struct serves every send: the transport encodes a request
-- into the connection's write buffer during the send call, so nothing
-- reads it afterwards, and a struct per request would only feed the GC.
local scratch_request = ffi.new("cq_request")
local REQUEST_SIZE = ffi.sizeof("cq_request")

local function new_request(opcode)
  local req = scratch_request
  ffi.fill(req, REQUEST_SIZE)
  req.opcode = opcode
  return req
end

--- Sends a QUERY (see set_params for `o`: consistency, page_size,
-- paging_state, serial_consistency, timestamp; and trace).
function Connection:query(cql, timeout, o)
  o = o or {}
  local req = new_request(OP.QUERY)
  req.u.query.query.p = cql
  req.u.query.query.len = #cql
  set_params(req.u.query.params, o)
  local flags
  -- The payload entries stay referenced until the next request: a local
  -- read after the send may be dropped by a compiled trace.
  flags, self.payload_anchor = frame_flags(req, o)
  return self:send(req, timeout, flags)
end

--- Sends a PREPARE for `cql`; the future's response has kind "prepared".
function Connection:prepare(cql, timeout)
  local req = new_request(OP.PREPARE)
  req.u.prepare.query.p = cql
  req.u.prepare.query.len = #cql
  return self:send(req, timeout)
end

--- Sends an EXECUTE of a prepared statement.
-- @param id the prepared id (a string)
-- @param metadata_id the result metadata id (v5), or nil
-- @param values a `cq_value[?]` cdata (pointing into strings the caller keeps alive)
-- @param nvalues how many
-- @param timeout seconds or nil
-- @param o consistency, page_size, paging_state, serial_consistency, timestamp
function Connection:execute(id, metadata_id, values, nvalues, timeout, o)
  local req = new_request(OP.EXECUTE)
  local e = req.u.execute
  e.id.p, e.id.len = id, #id
  if metadata_id then e.result_metadata_id.p, e.result_metadata_id.len = metadata_id, #metadata_id end
  e.params.values, e.params.nvalues = values, nvalues
  o = o or {}
  set_params(e.params, o)
  local flags
  -- The payload entries stay referenced until the next request: a local
  -- read after the send may be dropped by a compiled trace.
  flags, self.payload_anchor = frame_flags(req, o)
  return self:send(req, timeout, flags)
end

--- Sends a BATCH.
-- @param batch_type 0 logged, 1 unlogged, 2 counter
-- @param entries array of `{query = cql}` or `{id = prepared_id, values = cq_value[?], n = count}`
-- @param timeout seconds or nil
-- @param o consistency, serial_consistency, timestamp
function Connection:batch(batch_type, entries, timeout, o)
  local n = #entries
  local stmts = ffi.new("cq_batch_stmt[?]", math.max(n, 1))
  for i = 1, n do
    local e, st = entries[i], stmts[i - 1]
    if e.query then
      st.kind = 0
      st.query.p, st.query.len = e.query, #e.query
    else
      st.kind = 1
      st.id.p, st.id.len = e.id, #e.id
      st.values, st.nvalues = e.values, e.n
    end
  end
  local req = new_request(OP.BATCH)
  local b = req.u.batch
  b.type, b.nstmts, b.stmts = batch_type, n, stmts
  self.batch_anchor = stmts -- referenced until the next batch, as the payload below
  o = o or {}
  set_common(b, o)
  local flags
  -- The payload entries stay referenced until the next request: a local
  -- read after the send may be dropped by a compiled trace.
  flags, self.payload_anchor = frame_flags(req, o)
  return self:send(req, timeout, flags)
end

--- Closes the connection; requests in flight fail with ConnectionShutdown.
function Connection:close(reason)
  if not self.closed and self.id then self.host:close(self.id, reason or "closed by the client") end
end

return Connection
