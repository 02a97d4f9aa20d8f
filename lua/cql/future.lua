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

--- Creates a pending future bound to a scheduler.
function Future.new(scheduler)
  return setmetatable({ scheduler = scheduler, state = PENDING }, Future)
end

--- True once the future has a result or an error.
function Future:done()
  return self.state ~= PENDING
end

local function run_callback(fn, args, ...)
  local ok, err = xpcall(fn, debug.traceback, ...)
  if not ok then log.error("a future callback raised an error (ignored): ", err) end
  return args
end

local function notify(self)
  local callbacks = self.callbacks
  self.callbacks = nil
  if callbacks then
    self.scheduler:dispatching(function()
      for i = 1, #callbacks do
        local cb = callbacks[i]
        if self.state == RESOLVED and cb.on_result then
          run_callback(cb.on_result, nil, unpack(self.values, 1, self.values.n), unpack(cb.args, 1, cb.args.n))
        elseif self.state == FAILED and cb.on_error then
          run_callback(cb.on_error, nil, self.err, unpack(cb.args, 1, cb.args.n))
        end
      end
    end)
  end
  local waiters = self.waiters
  self.waiters = nil
  if waiters then
    for i = 1, #waiters do self.scheduler:wake(waiters[i]) end
  end
end

--- Completes the future with values (for the code that owns the operation).
function Future:set_result(...)
  if self.state ~= PENDING then return false end
  self.state = RESOLVED
  self.values = { n = select("#", ...), ... }
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
  if self.state == RESOLVED then return true, unpack(self.values, 1, self.values.n) end
  if self.state == FAILED then return false, self.err end
  return nil
end

--- Waits for the outcome: returns the values, or `nil, err`. With a timeout
-- (seconds) that passes first, returns `nil, OperationTimedOut`; the
-- operation itself goes on.
-- @param timeout seconds, or nil to wait as long as it takes
function Future:result(timeout)
  if self.state == PENDING then self.scheduler:await(self, timeout) end
  if self.state == RESOLVED then return unpack(self.values, 1, self.values.n) end
  if self.state == FAILED then return nil, self.err end
  return nil, require("cql.errors").OperationTimedOut {
    message = ("no result within %g seconds"):format(timeout) }
end

local function add(self, on_result, on_error, args)
  local cb = { on_result = on_result, on_error = on_error, args = args }
  if self.state == PENDING then
    self.callbacks = self.callbacks or {}
    self.callbacks[#self.callbacks + 1] = cb
  elseif self.state == RESOLVED and on_result then
    self.scheduler:dispatching(function()
      run_callback(on_result, nil, unpack(self.values, 1, self.values.n), unpack(args, 1, args.n))
    end)
  elseif self.state == FAILED and on_error then
    self.scheduler:dispatching(function() run_callback(on_error, nil, self.err, unpack(args, 1, args.n)) end)
  end
  return self
end

--- Calls `fn(values..., args...)` when the future succeeds (at once if it
-- already has). Returns the future.
function Future:add_callback(fn, ...)
  assert(type(fn) == "function", "bad argument #1 to 'add_callback' (function expected)")
  return add(self, fn, nil, { n = select("#", ...), ... })
end

--- Calls `fn(err, args...)` when the future fails. Returns the future.
function Future:add_errback(fn, ...)
  assert(type(fn) == "function", "bad argument #1 to 'add_errback' (function expected)")
  return add(self, nil, fn, { n = select("#", ...), ... })
end

--- Both at once: `add_callbacks(on_result, on_error)`.
function Future:add_callbacks(on_result, on_error)
  assert(type(on_result) == "function", "bad argument #1 to 'add_callbacks' (function expected)")
  assert(type(on_error) == "function", "bad argument #2 to 'add_callbacks' (function expected)")
  return add(self, on_result, on_error, { n = 0 })
end

--- Registers a coroutine to be woken on completion (scheduler use).
function Future:add_waiter(co)
  self.waiters = self.waiters or {}
  self.waiters[#self.waiters + 1] = co
end

--- Forgets a waiter (after its wait timed out).
function Future:remove_waiter(co)
  local w = self.waiters
  if not w then return end
  for i = #w, 1, -1 do
    if w[i] == co then table.remove(w, i) end
  end
end

return Future
