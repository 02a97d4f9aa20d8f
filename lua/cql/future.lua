--- Futures: the result of an asynchronous operation.
--
-- A future completes once, with values or with an error object (see
-- cql.errors). Waiting (`future:result()`) yields when called inside a
-- coroutine the scheduler runs, and drives the event loop otherwise.
-- Callbacks run on the Lua thread that runs the loop; an error raised by a
-- callback is logged and never reaches the loop or other requests.
--
-- The seed's ResponseFuture is this class with the request's extras
-- (paging, tracing) added by the session.
-- @module cql.future
local log = require "cql.log"

local Future = {}
Future.__index = Future

local PENDING, RESOLVED, FAILED = 0, 1, 2
local USER, LISTENER = 1, 2
local select, unpack, xpcall, traceback = select, unpack, xpcall, debug.traceback

-- Callbacks are kept flat, four slots each, so that adding one makes no
-- table and no closure (closures stop LuaJIT's compiler on the request
-- path): USER, on_result, on_error, args; or LISTENER, fn, a, b for the
-- driver's own `listen`.

--- Creates a pending future bound to a scheduler.
function Future.new(scheduler)
  -- The fields most futures get later are named now (nil), so the table
  -- is made at its final size (8 slots) rather than grown twice.
  return setmetatable({ scheduler = scheduler, state = PENDING, value = nil, nvalues = nil, cbs = nil,
                        ncbs = nil, waiter = nil }, Future)
end

--- True once the future has a result or an error.
function Future:done()
  return self.state ~= PENDING
end

-- The values a future resolved with (one value is kept without a table).
local function values_of(self)
  if self.nvalues == 1 then return self.value end
  local v = self.values
  return unpack(v, 1, v.n)
end

local function run_callback(fn, ...)
  local ok, err = xpcall(fn, traceback, ...)
  if not ok then log.error("a future callback raised an error (ignored): ", err) end
end

local function run_user(self, on_result, on_error, args)
  if self.state == RESOLVED then
    if not on_result then return end
    if args.n == 0 then return run_callback(on_result, values_of(self)) end
    -- Values then extra arguments: the values must be a table to splice.
    local v = self.nvalues == 1 and { n = 1, self.value } or self.values
    local all = { unpack(v, 1, v.n) }
    for i = 1, args.n do all[v.n + i] = args[i] end
    return run_callback(on_result, unpack(all, 1, v.n + args.n))
  elseif on_error then
    return run_callback(on_error, self.err, unpack(args, 1, args.n))
  end
end

local function run_callbacks(self, cbs, n)
  for i = 1, n, 4 do
    if cbs[i] == LISTENER then
      run_callback(cbs[i + 1], cbs[i + 2], cbs[i + 3], self)
    else
      run_user(self, cbs[i + 1], cbs[i + 2], cbs[i + 3])
    end
  end
end

-- Scheduler:dispatching takes a function and runs it at once; passing the
-- work through these instead of a closure keeps notification closure-free.
-- They are read first thing, so callbacks completing other futures (which
-- set them again) do not disturb the run in progress.
local pending_future, pending_cbs, pending_n

local function dispatch_pending()
  local self, cbs, n = pending_future, pending_cbs, pending_n
  pending_future, pending_cbs, pending_n = nil, nil, nil
  run_callbacks(self, cbs, n)
end

local function dispatch(self, cbs, n)
  pending_future, pending_cbs, pending_n = self, cbs, n
  self.scheduler:dispatching(dispatch_pending)
end

local function notify(self)
  local cbs, n = self.cbs, self.ncbs
  if cbs then
    self.cbs, self.ncbs = nil, nil
    dispatch(self, cbs, n)
  end
  local first, waiters = self.waiter, self.waiters
  if first then
    self.waiter = nil
    self.scheduler:wake(first)
  end
  if waiters then
    self.waiters = nil
    local scheduler = self.scheduler
    for i = 1, #waiters do scheduler:wake(waiters[i]) end
  end
end

--- Completes the future with values (for the code that owns the operation).
function Future:set_result(...)
  if self.state ~= PENDING then return false end
  self.state = RESOLVED
  local n = select("#", ...)
  if n == 1 then
    self.value, self.nvalues = ..., 1
  else
    self.values, self.nvalues = { n = n, ... }, n
  end
  notify(self)
  return true
end

--- Completes the future with an error object.
function Future:set_error(err)
  if self.state ~= PENDING then return false end
  self.state = FAILED
  self.err = err
  notify(self)
  return true
end

--- The outcome without waiting: `true, values...`, `false, err`, or nil
-- while pending.
function Future:peek()
  if self.state == RESOLVED then return true, values_of(self) end
  if self.state == FAILED then return false, self.err end
  return nil
end

--- Waits for the outcome: returns the values, or `nil, err`. With a timeout
-- (seconds) that passes first, returns `nil, OperationTimedOut`; the
-- operation itself goes on.
-- @param timeout seconds, or nil to wait as long as it takes
function Future:result(timeout)
  if self.state == PENDING then self.scheduler:await(self, timeout) end
  if self.state == RESOLVED then return values_of(self) end
  if self.state == FAILED then return nil, self.err end
  return nil, require("cql.errors").OperationTimedOut {
    message = ("no result within %g seconds"):format(timeout) }
end

local function add(self, kind, a, b, c)
  if self.state == PENDING then
    local cbs, n = self.cbs, self.ncbs
    if not cbs then
      cbs, n = {}, 0
      self.cbs = cbs
    end
    cbs[n + 1], cbs[n + 2], cbs[n + 3], cbs[n + 4] = kind, a, b, c
    self.ncbs = n + 4
  else
    dispatch(self, { kind, a, b, c }, 4)
  end
  return self
end

local NO_ARGS = { n = 0 }

--- For the driver's own use: calls `fn(a, b, future)` once the future
-- completes (at once if it has), like a callback (protected, while
-- dispatching) but without building a closure or an argument table.
function Future:listen(fn, a, b)
  return add(self, LISTENER, fn, a, b)
end

--- Calls `fn(values..., args...)` when the future succeeds (at once if it
-- already has). Returns the future.
function Future:add_callback(fn, ...)
  assert(type(fn) == "function", "bad argument #1 to 'add_callback' (function expected)")
  return add(self, USER, fn, false, { n = select("#", ...), ... })
end

--- Calls `fn(err, args...)` when the future fails. Returns the future.
function Future:add_errback(fn, ...)
  assert(type(fn) == "function", "bad argument #1 to 'add_errback' (function expected)")
  return add(self, USER, false, fn, { n = select("#", ...), ... })
end

--- Both at once: `add_callbacks(on_result, on_error)`.
function Future:add_callbacks(on_result, on_error)
  assert(type(on_result) == "function", "bad argument #1 to 'add_callbacks' (function expected)")
  assert(type(on_error) == "function", "bad argument #2 to 'add_callbacks' (function expected)")
  return add(self, USER, on_result, on_error, NO_ARGS)
end

--- Registers a coroutine to be woken on completion (scheduler use). The
-- first waiter (usually the only one) is kept without a table; waiters
-- are woken in the order they came.
function Future:add_waiter(co)
  if self.waiter == nil and self.waiters == nil then
    self.waiter = co
    return
  end
  self.waiters = self.waiters or {}
  self.waiters[#self.waiters + 1] = co
end

--- Forgets a waiter (after its wait timed out).
function Future:remove_waiter(co)
  if self.waiter == co then self.waiter = nil end
  local w = self.waiters
  if not w then return end
  for i = #w, 1, -1 do
    if w[i] == co then table.remove(w, i) end
  end
end

return Future
