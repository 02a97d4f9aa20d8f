--- Logging for the driver's own messages.
--
-- By default warnings and errors go to standard error. Replace the sink
-- with `log.set_sink(function(level, message) ... end)` (the OpenResty host
-- routes to ngx.log) and the threshold with `log.set_level("debug")`.
-- @module cql.log
local log = {}

local LEVELS = { debug = 1, info = 2, warn = 3, error = 4 }
local threshold = LEVELS.warn

local function default_sink(level, message)
  io.stderr:write("cqlua ", level, ": ", message, "\n")
end
local sink = default_sink

--- Sets the lowest level that is emitted ("debug", "info", "warn", "error").
function log.set_level(level)
  threshold = assert(LEVELS[level], "bad argument #1 to 'set_level' (debug, info, warn or error expected)")
end

--- Replaces where messages go; nil restores standard error.
function log.set_sink(fn)
  sink = fn or default_sink
end

local function emit(level, ...)
  if LEVELS[level] < threshold then return end
  local parts = { ... }
  for i = 1, select("#", ...) do parts[i] = tostring(parts[i]) end
  local ok, err = pcall(sink, level, table.concat(parts))
  if not ok then default_sink("error", "log sink failed: " .. tostring(err)) end
end

function log.debug(...) emit("debug", ...) end
function log.info(...) emit("info", ...) end
function log.warn(...) emit("warn", ...) end
function log.error(...) emit("error", ...) end

return log
