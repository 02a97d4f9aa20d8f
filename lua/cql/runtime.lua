--- The process's event loop and scheduler (runner and plain LuaJIT).
--
-- Every Cluster shares one libuv loop and one scheduler, created on first
-- use, so coroutines of different clusters interleave. `spawn`, `sleep`
-- and `run` expose the scheduler: code in a spawned coroutine (or in a
-- script run by the `cqlua` runner) yields while it waits for the driver,
-- and the others proceed.
--
--     local runtime = require "cql.runtime"
--     for i = 1, 100 do
--       runtime.spawn(function() session:execute(...) end)
--     end
-- @module cql.runtime
local runtime = {}

--- Connection defaults for clusters created without those options: set by
-- the runner from its flags and environment (`contact_points`, `port`,
-- `username`, `password`); empty in plain LuaJIT.
runtime.defaults = {}

local scheduler

--- The shared scheduler (with its libuv host), created on first use.
function runtime.scheduler()
  if not scheduler then
    local Scheduler = require "cql.scheduler"
    local UvHost = require "cql.host.uv"
    scheduler = Scheduler.new(UvHost.new())
  end
  return scheduler
end

--- Starts `fn(...)` in a new coroutine; returns a future of its results.
function runtime.spawn(fn, ...)
  return runtime.scheduler():spawn(fn, ...)
end

--- Waits `seconds` (yields in a driver coroutine, blocks otherwise).
function runtime.sleep(seconds)
  return runtime.scheduler():sleep(seconds)
end

--- Runs `fn(...)` as a coroutine and drives the loop until it returns;
-- returns `true, results...` or `false, err`.
function runtime.run(fn, ...)
  return runtime.scheduler():run(fn, ...)
end

return runtime
