--- Progress display for the bulk tools, on standard error: on a terminal
-- a bar redrawn in place (at most 5 times a second) with the share done,
-- rows, rows per second and ETA; otherwise a plain line every `interval`
-- seconds (default 5). `finish` prints a summary line either way.
-- @module cql.tools.progress
local common = require "cql.tools.common"

local M = {}

local Progress = {}
Progress.__index = Progress

--- A display titled `label`; opts: tty (default: is stderr a terminal),
-- interval, out (a function writing text; default stderr), quiet.
function M.new(label, opts)
  opts = opts or {}
  local tty = opts.tty
  if tty == nil then tty = common.isatty(2) end
  local now = common.now()
  return setmetatable({ label = label, tty = tty, interval = tty and 0.2 or (opts.interval or 5), started = now,
                        last = now, rows = 0, done = 0, total = nil, quiet = opts.quiet,
                        out = opts.out or function(s) io.stderr:write(s); io.stderr:flush() end }, Progress)
end

local function hms(s)
  if s ~= s or s == math.huge or s < 0 then return "--:--" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return ("%d:%02d:%02d"):format(s / 3600, s / 60 % 60, s % 60) end
  return ("%d:%02d"):format(s / 60, s % 60)
end

local function thousands(n)
  local s = tostring(math.floor(n))
  return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

--- Updates the counts: `rows` processed so far, `done` units of `total`
-- (ranges for unload, bytes for load); draws when due.
function Progress:update(rows, done, total)
  self.rows, self.done, self.total = rows, done or self.done, total or self.total
  local now = common.now()
  if now - self.last < self.interval or self.quiet then return end
  self.last = now
  self:draw(now)
end

function Progress:draw(now)
  local elapsed = math.max(now - self.started, 1e-6)
  local rate = self.rows / elapsed
  local frac = self.total and self.total > 0 and math.min(self.done / self.total, 1) or nil
  local eta = frac and frac > 0 and elapsed * (1 - frac) / frac or nil
  if self.tty then
    local width = 30
    local filled = frac and math.floor(frac * width) or 0
    self.out(("\r%s [%s%s] %s %s rows %s rows/s ETA %s\27[K"):format(self.label, ("#"):rep(filled),
      ("."):rep(width - filled), frac and ("%3d%%"):format(frac * 100) or "  ?%", thousands(self.rows),
      thousands(rate), eta and hms(eta) or "--:--"))
  else
    self.out(("%s: %s rows, %s%s rows/s, elapsed %s, ETA %s\n"):format(self.label, thousands(self.rows),
      frac and ("%.1f%% done, "):format(frac * 100) or "", thousands(rate), hms(elapsed), eta and hms(eta) or "?"))
  end
end

--- Prints the final line; `extra` is appended.
function Progress:finish(extra)
  local elapsed = math.max(common.now() - self.started, 1e-6)
  if self.quiet then return elapsed end
  if self.tty then self.out("\r\27[K") end
  self.out(("%s: %s rows in %s (%s rows/s)%s\n"):format(self.label, thousands(self.rows), hms(elapsed),
    thousands(self.rows / elapsed), extra or ""))
  return elapsed
end

return M
