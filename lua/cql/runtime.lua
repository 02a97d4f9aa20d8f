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

-- nginx phases where cosockets work (lua-nginx-module), and so the driver.
local COSOCKET_PHASES = { rewrite = true, access = true, content = true, timer = true,
                          ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
                          preread = true }
local CTX_KEY = "__cqlua_scheduler"
local ngx_sink_set = false

local function ngx_log_sink(ngx)
  local levels = { debug = ngx.DEBUG, info = ngx.INFO, warn = ngx.WARN, error = ngx.ERR }
  return function(level, message)
    ngx.log(levels[level] or ngx.NOTICE, "cqlua: ", message)
  end
end

-- Inside nginx: the scheduler of the current request (or timer), over a
-- cosocket host kept in ngx.ctx; an error object in phases without
-- cosockets.
local function ngx_scheduler(ngx)
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then
    local errors = require "cql.errors"
    error(errors.UnsupportedOperation {
      message = ("cqlua cannot run in nginx's '%s' phase: cosockets are unavailable there "
        .. "(they work in rewrite, access, content, timer and ssl_cert/ssl_session_fetch); "
        .. "run the work in a timer instead: ngx.timer.at(0, function(premature) ... end)")
        :format(phase),
      phase = phase,
    }, 3)
  end
  if not ngx_sink_set then
    ngx_sink_set = true
    require("cql.log").set_sink(ngx_log_sink(ngx))
  end
  -- Keyed by phase too: a cosocket lives only as long as the handler that
  -- created it, and ngx.ctx is shared by a request's rewrite, access and
  -- content handlers.
  local ctx, key = ngx.ctx, CTX_KEY .. phase
  local s = ctx[key]
  if not s then
    local NgxScheduler = require "cql.scheduler_ngx"
    local NgxHost = require "cql.host.ngx"
    s = NgxScheduler.new(NgxHost.new())
    ctx[key] = s
  end
  return s
end

--- The shared scheduler (with its libuv host), created on first use.
-- Inside nginx (lua-nginx-module) there is no process-wide loop: each
-- request, timer callback or other cosocket-capable context gets its own
-- scheduler over cql.host.ngx, kept in `ngx.ctx`; in phases without
-- cosockets (init, init_worker, set, header_filter, body_filter, log,
-- balancer) this raises an UnsupportedOperation error object naming the
-- phase (see docs/openresty.md for the `ngx.timer.at(0, fn)` pattern).
function runtime.scheduler()
  local ngx = rawget(_G, "ngx")
  if ngx and type(ngx.get_phase) == "function" then return ngx_scheduler(ngx) end
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
