--- A scheduler host with virtual time, for specs: timers fire in order as
-- turns advance the clock, and `post(fn, delay)` schedules "I/O" to
-- complete later. Real transports are tested against real servers; this
-- one exists so that scheduling can be tested deterministically.
local VirtualHost = {}
VirtualHost.__index = VirtualHost

function VirtualHost.new()
  return setmetatable({ clock = 0, timers = {}, seq = 0, turns = 0 }, VirtualHost)
end

function VirtualHost:now() return self.clock end

function VirtualHost:timer(delay, fn)
  self.seq = self.seq + 1
  local t = { at = self.clock + delay, fn = fn, seq = self.seq }
  t.cancel = function() t.cancelled = true end
  self.timers[#self.timers + 1] = t
  return t
end

VirtualHost.post = VirtualHost.timer

--- One turn: fire the earliest due timers, advancing the clock at most
-- `timeout` seconds (nil: to the next timer).
function VirtualHost:turn(timeout)
  self.turns = self.turns + 1
  table.sort(self.timers, function(a, b)
    if a.at ~= b.at then return a.at < b.at end
    return a.seq < b.seq
  end)
  local live = {}
  for _, t in ipairs(self.timers) do
    if not t.cancelled then live[#live + 1] = t end
  end
  self.timers = live
  local first = live[1]
  local limit = timeout and self.clock + timeout or math.huge
  if not first or first.at > limit then
    if limit == math.huge then error("virtual host: waiting forever with nothing scheduled", 0) end
    self.clock = limit
    return
  end
  self.clock = math.max(self.clock, first.at)
  local due = {}
  while self.timers[1] and self.timers[1].at <= self.clock do
    due[#due + 1] = table.remove(self.timers, 1)
  end
  for _, t in ipairs(due) do
    if not t.cancelled then t.fn() end
  end
end

return VirtualHost
