--- The scheduler: runs coroutines over an event loop ("host").
--
-- Code running in a coroutine the scheduler started (`spawn`, `run`, the
-- runner's main script) yields while it waits, so many requests proceed
-- at once on one thread. Code outside such a coroutine blocks: waiting
-- drives the loop until the result is there, which still completes the
-- other coroutines' work meanwhile.
--
-- A host has `turn(timeout_seconds)` (one round of I/O: dispatches what
-- happened, waits at most the timeout when there is nothing to do),
-- `now()` (seconds, monotonic) and `timer(delay_seconds, fn)` returning an
-- object with `cancel()`. The libuv transport is one host, tests use a
-- virtual-time one.
-- @module cql.scheduler
local Future = require "cql.future"
local log = require "cql.log"

local Scheduler = {}
Scheduler.__index = Scheduler

-- What a managed coroutine yields to the scheduler while it waits, so a
-- stray value yielded by user code is recognised as such.
local WAITING = setmetatable({}, { __tostring = function() return "cql.scheduler.WAITING" end })

--- Creates a scheduler over a host.
function Scheduler.new(host)
  return setmetatable({
    host = host,
    managed = setmetatable({}, { __mode = "k" }), -- coroutines we started
    ready = {},                                   -- coroutines to resume, in order
    dispatch_depth = 0,
  }, Scheduler)
end

--- Runs `fn` as part of dispatching (callbacks): waiting inside it is
-- refused, since it would re-enter the loop that is calling it.
function Scheduler:dispatching(fn)
  self.dispatch_depth = self.dispatch_depth + 1
  local ok, err = pcall(fn)
  self.dispatch_depth = self.dispatch_depth - 1
  if not ok then error(err, 0) end
end

--- Queues a waiting coroutine to be resumed by the loop.
function Scheduler:wake(co)
  self.ready[#self.ready + 1] = co
end

local function resume(co, ...)
  local ok, first = coroutine.resume(co, ...)
  if not ok then
    -- spawn's wrapper catches errors; this only happens if it failed itself.
    log.error("a coroutine failed outside its wrapper: ", first)
  elseif coroutine.status(co) == "suspended" and first ~= WAITING then
    log.warn("a coroutine yielded ", tostring(first), " outside the driver; it will not be resumed")
  end
end

--- Resumes every coroutine that became ready. Returns how many ran.
function Scheduler:run_ready()
  local n = 0
  while #self.ready > 0 do
    local batch = self.ready
    self.ready = {}
    for i = 1, #batch do
      local co = batch[i]
      if coroutine.status(co) == "suspended" then
        resume(co)
        n = n + 1
      end
    end
  end
  return n
end

--- One step of the loop: resume ready coroutines, else one host turn.
function Scheduler:step(timeout)
  if self:run_ready() > 0 then return end
  self.host:turn(timeout)
  self:run_ready()
end

--- True when the caller may yield to the scheduler.
function Scheduler:in_managed_coroutine()
  local co = coroutine.running()
  return co ~= nil and self.managed[co] == true and coroutine.isyieldable()
end

local function check_not_dispatching(self)
  if self.dispatch_depth > 0 then
    error("cannot wait inside a callback (it runs on the event loop, which would have to wait "
      .. "for itself); use add_callback or execute_async there", 3)
  end
end

--- Waits until `future` completes or `timeout` seconds pass.
function Scheduler:await(future, timeout)
  if future:done() then return end
  check_not_dispatching(self)
  if self:in_managed_coroutine() then
    local co = coroutine.running()
    local timer
    if timeout then
      timer = self.host:timer(timeout, function()
        future:remove_waiter(co)
        self:wake(co)
      end)
    end
    future:add_waiter(co)
    coroutine.yield(WAITING)
    if timer then timer:cancel() end
    future:remove_waiter(co)
    return
  end
  local deadline = timeout and self.host:now() + timeout
  while not future:done() do
    local left
    if deadline then
      left = deadline - self.host:now()
      if left <= 0 then return end
    end
    self:step(left)
  end
end

--- Starts `fn(...)` in a new managed coroutine; runs it until it first
-- waits. Returns a future completed with fn's return values, or with its
-- error (a string with a traceback, or the error object it raised).
function Scheduler:spawn(fn, ...)
  assert(type(fn) == "function", "bad argument #1 to 'spawn' (function expected)")
  local future = Future.new(self)
  local args = { n = select("#", ...), ... }
  local co = coroutine.create(function()
    local results = { xpcall(function() return fn(unpack(args, 1, args.n)) end, function(e)
      if type(e) == "table" then return e end
      return debug.traceback(tostring(e), 2)
    end) }
    if results[1] then
      future:set_result(unpack(results, 2, table.maxn(results)))
    else
      future:set_error(results[2])
    end
  end)
  self.managed[co] = true
  resume(co)
  return future
end

--- Like spawn, but the coroutine first runs on the loop's next step: for
-- callbacks, which may not wait themselves, to start work that waits.
function Scheduler:spawn_later(fn, ...)
  assert(type(fn) == "function", "bad argument #1 to 'spawn_later' (function expected)")
  local args = { n = select("#", ...), ... }
  local co = coroutine.create(function()
    local ok, err = xpcall(function() return fn(unpack(args, 1, args.n)) end, debug.traceback)
    if not ok then log.error("a background task failed: ", err) end
  end)
  self.managed[co] = true
  self:wake(co)
end

--- Sleeps for `seconds`: yields in a managed coroutine, blocks otherwise.
function Scheduler:sleep(seconds)
  local f = Future.new(self)
  self.host:timer(seconds, function() f:set_result() end)
  self:await(f)
end

--- Runs `fn(...)` as a managed coroutine and drives the loop until it
-- finishes; returns `true, values...` or `false, err`.
function Scheduler:run(fn, ...)
  local f = self:spawn(fn, ...)
  while not f:done() do self:step() end
  return f:peek()
end

Scheduler.WAITING = WAITING

return Scheduler
