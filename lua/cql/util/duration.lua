--- The seed's `Duration(months, days, nanoseconds)`: CQL `duration`.
-- nanoseconds may exceed 2^53, so it is kept as given: a number when exact,
-- otherwise int64 cdata (decoded values always carry int64 cdata when the
-- count is beyond 2^53). tostring follows the seed: "[-]1mo2d3ns".
-- @module cql.util.duration
local ffi = require "ffi"
local core = require "cql.core"
local cmp = require "cql.util.compare"

local C = core.C
local type, floor, format, setmetatable, getmetatable = type, math.floor, string.format, setmetatable,
  getmetatable
local int64_t = ffi.typeof("int64_t")

local M = {}

local Duration = {}
Duration.__name = "Duration"
Duration.__index = Duration
Duration.__rank = 22

local I32_MIN, I32_MAX, TWO63 = -2 ^ 31, 2 ^ 31 - 1, 2 ^ 63

local function int32_arg(v, what)
  if type(v) == "cdata" and cmp.is_int64(v) then v = tonumber(v) end
  if type(v) ~= "number" or v ~= floor(v) or v < I32_MIN or v > I32_MAX then
    error("Duration: " .. what .. " must be a 32-bit integer, got " .. tostring(v), 3)
  end
  return v
end

local function nanos_arg(v)
  if type(v) == "number" then
    if v ~= floor(v) or v < -TWO63 or v >= TWO63 then
      error("Duration: nanoseconds must be an integer in int64 range, got " .. tostring(v), 3)
    end
    return v
  end
  if type(v) == "cdata" and cmp.is_int64(v) then return int64_t(v) end
  error("Duration: nanoseconds must be an integer, got " .. type(v), 3)
end

local errbuf = ffi.new("char[256]")
local m32, d32, n64 = ffi.new("int32_t[1]"), ffi.new("int32_t[1]"), ffi.new("int64_t[1]")

--- A duration. `Duration(months, days, nanoseconds)` (each defaults to 0;
-- all three must share one sign, as Cassandra requires), or
-- `Duration("1y2mo3d4h")` / ISO 8601 "P1Y2M" parsed by the C core.
-- @treturn Duration
function M.Duration(months, days, nanoseconds)
  if type(months) == "string" then
    local rc = C.cq_duration_from_string(months, #months, m32, d32, n64, errbuf, 256)
    if rc < 0 then error("Duration: " .. ffi.string(errbuf), 2) end
    local n = n64[0]
    return setmetatable({ months = m32[0], days = d32[0],
                          nanoseconds = (n >= -2 ^ 53 and n <= 2 ^ 53) and tonumber(n) or n }, Duration)
  end
  if getmetatable(months) == Duration then return months end
  local m = int32_arg(months or 0, "months")
  local d = int32_arg(days or 0, "days")
  local n = nanos_arg(nanoseconds or 0)
  if (m < 0 or d < 0 or n < 0) and (m > 0 or d > 0 or n > 0) then
    error("Duration: months, days and nanoseconds must share one sign", 2)
  end
  return setmetatable({ months = m, days = d, nanoseconds = n }, Duration)
end

--- A Duration from decoded parts (codec use).
-- @local
function M.from_parts(m, d, n)
  return setmetatable({ months = m, days = d, nanoseconds = n }, Duration)
end

--- True when `v` is a Duration.
function M.is_duration(v) return getmetatable(v) == Duration end

local buf = ffi.new("char[64]")
--- Cassandra's own spelling ("1y2mo3d4h5m6s7ms8us9ns", "0s").
function Duration:cql()
  C.cq_duration_to_string(buf, 64, self.months, self.days, self.nanoseconds)
  return ffi.string(buf)
end

local function abs_digits(n)
  if type(n) == "number" then return format("%.0f", n < 0 and -n or n) end
  local s = tostring(n):sub(1, -3)
  if s:sub(1, 1) == "-" then s = s:sub(2) end -- also right for INT64_MIN
  return s
end

Duration.__tostring = function(self)
  local neg = self.months < 0 or self.days < 0 or self.nanoseconds < 0
  return format("%s%dmo%dd%sns", neg and "-" or "", math.abs(self.months), math.abs(self.days),
                abs_digits(self.nanoseconds))
end
Duration.__eq = function(a, b)
  return a.months == b.months and a.days == b.days and cmp.compare(a.nanoseconds, b.nanoseconds) == 0
end
Duration.__cmp = function(a, b)
  if a.months ~= b.months then return a.months < b.months and -1 or 1 end
  if a.days ~= b.days then return a.days < b.days and -1 or 1 end
  return cmp.compare(a.nanoseconds, b.nanoseconds)
end
Duration.__key = function(a) return "P" .. a.months .. "," .. a.days .. "," .. cmp.key(a.nanoseconds) end

return M
