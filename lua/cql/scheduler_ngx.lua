--- The scheduler inside nginx: cql.scheduler over a cql.host.ngx, one per
-- request (or timer) context, created by cql.runtime.
--
-- Waiting works as elsewhere: a coroutine the scheduler started (`spawn`)
-- yields to it; any other code (the request handler's own coroutine, a
-- light thread from `ngx.thread.spawn`) drives the host's turns, whose
-- cosocket reads, writes and sleeps yield that coroutine to nginx, so the
-- worker serves other requests meanwhile. Several light threads of one
-- request may wait at once: one drives, the others wait on the host's
-- semaphore for the end of its round (cql.host.ngx).
--
-- The only difference from cql.scheduler: lua-nginx-module replaces the
-- `coroutine` table, and its version has no `isyieldable`; a coroutine this
-- scheduler created and that is running is always resumed by the
-- scheduler, so it may yield.
-- @module cql.scheduler_ngx
local Scheduler = require "cql.scheduler"

local NgxScheduler = setmetatable({}, { __index = Scheduler })
NgxScheduler.__index = NgxScheduler

--- A scheduler over `host` (a cql.host.ngx).
function NgxScheduler.new(host)
  local s = Scheduler.new(host)
  return setmetatable(s, NgxScheduler)
end

--- True when the caller runs in a coroutine this scheduler started.
function NgxScheduler:in_managed_coroutine()
  local co = coroutine.running()
  return co ~= nil and self.managed[co] == true
end

NgxScheduler.WAITING = Scheduler.WAITING

return NgxScheduler
