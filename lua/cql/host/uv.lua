--- The libuv host: runs the scheduler on the C transport (src/transport).
--
-- One `turn` writes everything queued, waits for I/O or a timer, and then
-- dispatches every event: timer callbacks, and connection events to the
-- handler registered for that connection. A connection event's frame body
-- lives only until the next call into the transport, so handlers decode
-- (or copy) what they need at once.
-- @module cql.host.uv
local ffi = require "ffi"
local core = require "cql.core"
require "cql.cdef_transport"

local C = core.C

-- Declared here rather than in cql.cdef_transport, and tolerated when it
-- already is there.
pcall(ffi.cdef, "void cqlua_io_flush(cqlua_io *io);")
local EV_CONN, EV_TIMER = 1, 2

local UvHost = {}
UvHost.__index = UvHost

--- Creates a host with its own event loop.
function UvHost.new()
  local io = C.cqlua_io_new(nil)
  if io == nil then error("cql.host.uv: cannot create the event loop (out of memory)", 2) end
  return setmetatable({
    io = ffi.gc(io, C.cqlua_io_free),
    event = ffi.new("cqlua_io_event"),
    u32 = ffi.new("uint32_t[1]"),
    timer_fns = {}, -- timer user id -> function
    next_timer = 0,
    handlers = {},  -- connection id -> function(event)
  }, UvHost)
end

--- Seconds on the monotonic clock every deadline uses.
function UvHost:now()
  return tonumber(C.cqlua_io_now(self.io)) / 1000
end

--- Milliseconds on the same clock (for request deadlines).
function UvHost:now_ms()
  return C.cqlua_io_now(self.io)
end

--- Calls `fn` after `delay` seconds; returns an object with `cancel()`.
function UvHost:timer(delay, fn)
  self.next_timer = self.next_timer + 1
  local uid = self.next_timer
  local rc = C.cqlua_io_timer_start(self.io, math.max(0, math.floor(delay * 1000 + 0.5)), uid, self.u32)
  if rc ~= 0 then error("cql.host.uv: cannot start a timer: " .. ffi.string(C.cq_status_name(rc)), 2) end
  local id = self.u32[0]
  self.timer_fns[uid] = fn
  local io, fns = self.io, self.timer_fns
  return {
    cancel = function()
      if fns[uid] then
        fns[uid] = nil
        C.cqlua_io_timer_cancel(io, id)
      end
    end,
  }
end

--- Opens a connection; `handler(event)` receives its events (see
-- cq_conn_event in conn.h). Returns the connection id, or nil and a message.
-- @param address an IPv4 or IPv6 literal
-- @param port the CQL port
-- @param config a cq_conn_config cdata
-- @param tls a cq_tls_ctx cdata or nil
-- @param tls_name the name to verify (nil: the address)
-- @param connect_timeout seconds
function UvHost:connect(address, port, config, tls, tls_name, connect_timeout, handler)
  local rc = C.cqlua_io_connect(self.io, address, port, config, tls, tls_name,
                                math.floor((connect_timeout or 0) * 1000), self.u32)
  if rc ~= 0 then
    return nil, ("cannot connect to %s:%s: %s"):format(address, tostring(port),
                                                       ffi.string(C.cq_status_name(rc)))
  end
  local id = self.u32[0]
  self.handlers[id] = handler
  return id
end

--- Queues a request (a cq_request cdata) on a connection.
-- Returns 0 or a negative cq_status.
function UvHost:send(conn, request, flags, user_id, deadline_ms)
  return C.cqlua_io_send_request(self.io, conn, request, flags or 0, user_id, deadline_ms or 0, nil)
end

--- Answers an authentication challenge on a connection.
function UvHost:auth_response(conn, token)
  if token == nil then return C.cqlua_io_auth_response(self.io, conn, nil, -1) end
  return C.cqlua_io_auth_response(self.io, conn, token, #token)
end

--- Closes a connection; its CLOSED event follows.
function UvHost:close(conn, reason)
  return C.cqlua_io_close(self.io, conn, reason)
end

--- The cq_conn cdata of a connection (nil once it is gone).
function UvHost:conn(conn)
  local c = C.cqlua_io_conn(self.io, conn)
  if c == nil then return nil end
  return c
end

--- Writes what is queued now, without waiting or dispatching anything:
-- a request sent ahead of need (the next page) then reaches the node while
-- the caller goes on.
function UvHost:flush()
  C.cqlua_io_flush(self.io)
end

--- One round: write, wait at most `timeout` seconds (nil: until something
-- happens), dispatch every event.
function UvHost:turn(timeout)
  local ms = timeout and math.max(0, math.ceil(timeout * 1000)) or -1
  C.cqlua_io_run(self.io, ms)
  local e = self.event
  while C.cqlua_io_next_event(self.io, e) == 1 do
    if e.kind == EV_TIMER then
      local uid = tonumber(e.user_id)
      local fn = self.timer_fns[uid]
      self.timer_fns[uid] = nil
      if fn then fn() end
    elseif e.kind == EV_CONN then
      local id = e.conn
      local handler = self.handlers[id]
      if e.ev.kind == 8 then self.handlers[id] = nil end -- CQ_CONN_EV_CLOSED: the last one
      if handler then handler(e.ev) end
    end
  end
end

--- Open connections (for tests and shutdown checks).
function UvHost:connection_count()
  return tonumber(C.cqlua_io_connections(self.io))
end

return UvHost
