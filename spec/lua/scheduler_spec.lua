-- Futures and the scheduler: yielding in managed coroutines, blocking
-- outside them, callbacks, timeouts, and misuse.
local Scheduler = require "cql.scheduler"
local Future = require "cql.future"
local VirtualHost = require "virtual_host"

describe("the scheduler", function()
  local host, sched
  before_each(function()
    host = VirtualHost.new()
    sched = Scheduler.new(host)
  end)

  -- A future completed by the host `delay` seconds from now.
  local function later(delay, ...)
    local f = Future.new(sched)
    local values = { n = select("#", ...), ... }
    host:post(delay, function() f:set_result(unpack(values, 1, values.n)) end)
    return f
  end

  it("blocks outside coroutines by driving the loop", function()
    local f = later(2, "a", nil, "c")
    local a, b, c = f:result()
    assert.equal("a", a)
    assert.is_nil(b)
    assert.equal("c", c)
    assert.equal(2, host:now())
  end)

  it("runs many coroutines concurrently: total time is the longest wait, not the sum", function()
    local order = {}
    local futures = {}
    for i = 1, 100 do
      futures[i] = sched:spawn(function()
        local v = later(i % 10 + 1, i):result()
        order[#order + 1] = v
        return v * 2
      end)
    end
    local ok, total = sched:run(function()
      local sum = 0
      for i = 1, 100 do sum = sum + futures[i]:result() end
      return sum
    end)
    assert.is_true(ok)
    assert.equal(10100, total)
    assert.equal(10, host:now())
    assert.equal(100, #order)
    assert.equal(10, order[1]) -- delay 1 finished first (i % 10 == 0)
  end)

  it("returns nil and OperationTimedOut when a wait times out, in and out of coroutines", function()
    local f = later(5, "late")
    local v, err = f:result(1)
    assert.is_nil(v)
    assert.equal("OperationTimedOut", err.name)
    assert.equal(1, host:now())
    local ok, r2, e2 = sched:run(function() return f:result(1) end)
    assert.is_true(ok)
    assert.is_nil(r2)
    assert.equal("OperationTimedOut", e2.name)
    assert.equal(2, host:now())
    assert.equal("late", f:result()) -- the operation itself went on
  end)

  it("reports errors as nil, err and keeps coroutine failures in their future", function()
    local f = Future.new(sched)
    host:post(1, function() f:set_error(require("cql.errors").InvalidRequest { message = "no" }) end)
    local v, err = f:result()
    assert.is_nil(v)
    assert.equal("InvalidRequest", err.name)
    local crashed = sched:spawn(function() error("kaboom") end)
    local ok, msg = crashed:peek()
    assert.is_false(ok)
    assert.matches("kaboom", msg)
    assert.matches("stack traceback", msg)
  end)

  it("calls callbacks once, on completion or at once when already done", function()
    local f = later(1, 42)
    local got, errs = {}, 0
    f:add_callback(function(v, extra) got[#got + 1] = v + extra end, 8)
    f:add_errback(function() errs = errs + 1 end)
    f:result()
    f:add_callback(function(v) got[#got + 1] = v end)
    assert.same({ 50, 42 }, got)
    assert.equal(0, errs)
    assert.is_false(f:set_result(7)) -- completes once
    assert.equal(42, f:result())
  end)

  it("contains an error raised by a callback", function()
    local log = require "cql.log"
    local seen
    log.set_sink(function(level, msg) seen = level .. ":" .. msg end)
    local f = later(1, 1)
    local after = false
    f:add_callback(function() error("callback bug") end)
    f:add_callback(function() after = true end)
    f:result()
    log.set_sink(nil)
    assert.is_true(after)
    assert.matches("^error:.*callback bug", seen)
  end)

  it("refuses to wait inside a callback, with an error saying what to do", function()
    local f, g = later(1), later(5)
    local msg
    f:add_callback(function()
      local ok, err = pcall(g.result, g)
      msg = not ok and err
    end)
    f:result()
    assert.matches("cannot wait inside a callback", msg)
    assert.matches("execute_async", msg)
  end)

  it("blocks (instead of yielding to a stranger) inside a coroutine it did not start", function()
    local f = later(3, "v")
    local co = coroutine.create(function() return f:result() end)
    local ok, v = coroutine.resume(co)
    assert.is_true(ok)
    assert.equal("v", v)
    assert.equal("dead", coroutine.status(co))
  end)

  it("sleeps without blocking other coroutines", function()
    local woke = {}
    sched:spawn(function() sched:sleep(3); woke[#woke + 1] = "three" end)
    sched:spawn(function() sched:sleep(1); woke[#woke + 1] = "one" end)
    sched:run(function() sched:sleep(5) end)
    assert.same({ "one", "three" }, woke)
    assert.equal(5, host:now())
  end)
end)
