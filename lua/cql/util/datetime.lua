--- Dates and times: the seed's `Date`, `Time` and datetime helpers.
-- A datetime is a table `{year=, month=, day=, hour=, min=, sec=, msec=}` in
-- UTC (the seed's naive UTC datetime, at millisecond precision since CQL
-- timestamps are milliseconds) whose tostring is ISO 8601
-- ("2015-01-01T10:00:00.000Z"). Calendar arithmetic is proleptic Gregorian
-- over any year, so dates before 1970 and past 9999 work.
-- @module cql.util.datetime
local ffi = require "ffi"
local cmp = require "cql.util.compare"

local floor, format, tonumber, type, setmetatable, getmetatable =
  math.floor, string.format, tonumber, type, setmetatable, getmetatable
local int64_t = ffi.typeof("int64_t")

local M = {}

local MS_PER_DAY = 86400000

--- Days since 1970-01-01 of a proleptic Gregorian date.
-- @tparam number y year @tparam number m month 1-12 @tparam number d day
-- @treturn number
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end
M.days_from_civil = days_from_civil

--- The proleptic Gregorian date of a day count since 1970-01-01.
-- @tparam number z days @treturn number year @treturn number month @treturn number day
local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end
M.civil_from_days = civil_from_days

local function is_leap(y) return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) end
local MDAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local function valid_ymd(y, m, d)
  if m < 1 or m > 12 or d < 1 then return false end
  local md = MDAYS[m]
  if m == 2 and is_leap(y) then md = 29 end
  return d <= md
end

local function is_integral(v) return type(v) == "number" and v == floor(v) end

-- Datetime ------------------------------------------------------------------

local DateTime = {}
DateTime.__name = "datetime"
DateTime.__index = DateTime
DateTime.__tostring = function(t)
  return format("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.year, t.month, t.day,
                t.hour or 0, t.min or 0, t.sec or 0, t.msec or 0)
end
DateTime.__eq = function(a, b)
  return a.year == b.year and a.month == b.month and a.day == b.day and (a.hour or 0) == (b.hour or 0)
    and (a.min or 0) == (b.min or 0) and (a.sec or 0) == (b.sec or 0) and (a.msec or 0) == (b.msec or 0)
end

--- A datetime table from its parts (UTC).
function M.datetime(year, month, day, hour, min, sec, msec)
  return setmetatable({ year = year, month = month, day = day, hour = hour or 0, min = min or 0,
                        sec = sec or 0, msec = msec or 0 }, DateTime)
end

-- ms since the epoch (a number, exact below 2^53) to a datetime.
local function from_ms_number(ms)
  local days = floor(ms / MS_PER_DAY)
  local rem = ms - days * MS_PER_DAY
  local y, mo, d = civil_from_days(days)
  local msec = rem % 1000
  local s = (rem - msec) / 1000
  return M.datetime(y, mo, d, floor(s / 3600), floor(s / 60) % 60, s % 60, msec)
end

--- The UTC datetime of a millisecond timestamp.
-- @param ms a number or int64 cdata
-- @treturn table datetime
function M.utc_datetime_from_ms_timestamp(ms)
  if type(ms) == "cdata" then
    -- Split off whole days in int64 so no precision is lost beyond 2^53 ms.
    local days = ms / MS_PER_DAY
    local rem = ms - days * MS_PER_DAY
    if rem < 0 then days, rem = days - 1, rem + MS_PER_DAY end
    local t = from_ms_number(tonumber(rem))
    t.year, t.month, t.day = civil_from_days(tonumber(days))
    return t
  end
  if type(ms) ~= "number" then
    error("bad argument #1 to 'utc_datetime_from_ms_timestamp' (number or int64 expected, got "
          .. type(ms) .. ")", 2)
  end
  return from_ms_number(floor(ms))
end

--- The UTC datetime of a time in seconds since the epoch (fractions kept to
-- the millisecond, rounded to nearest).
-- @tparam number sec
-- @treturn table datetime
function M.datetime_from_timestamp(sec)
  if type(sec) ~= "number" then
    error("bad argument #1 to 'datetime_from_timestamp' (number expected, got " .. type(sec) .. ")", 2)
  end
  return from_ms_number(floor(sec * 1000 + 0.5))
end

--- Milliseconds since the epoch of a datetime table, as int64 cdata.
-- @tparam table dt {year, month, day[, hour, min, sec, msec]}
-- @treturn cdata int64
function M.ms_timestamp_from_datetime(dt)
  if type(dt) ~= "table" or not is_integral(dt.year) or not is_integral(dt.month)
     or not is_integral(dt.day) then
    error("bad argument #1 to 'ms_timestamp_from_datetime' (datetime table with year, month, day expected)", 2)
  end
  local days = days_from_civil(dt.year, dt.month, dt.day)
  local ms = (((dt.hour or 0) * 60 + (dt.min or 0)) * 60 + (dt.sec or 0)) * 1000 + (dt.msec or 0)
  return int64_t(days) * MS_PER_DAY + int64_t(floor(ms))
end

--- The seconds since the epoch of a datetime table (a number).
function M.timestamp_from_datetime(dt)
  return tonumber(M.ms_timestamp_from_datetime(dt)) / 1000
end

--- Parses an ISO 8601 / CQL timestamp string: "YYYY-MM-DD", optionally
-- followed by " " or "T", "HH:MM[:SS[.fff]]", and "Z" or "+HH[:]MM".
-- @tparam string s
-- @return int64 milliseconds, or nil and a message
function M.parse_timestamp(s)
  local sign, y, mo, d, rest = s:match("^%s*([+-]?)(%d%d%d%d+)%-(%d%d?)%-(%d%d?)(.*)$")
  if not y then return nil, "expected YYYY-MM-DD[ HH:MM[:SS[.fff]]][Z|+HHMM]" end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if sign == "-" then y = -y end
  if not valid_ymd(y, mo, d) then return nil, "no such date" end
  local h, mi, sec, ms, off = 0, 0, 0, 0, 0
  if rest ~= "" then
    local hh, mm, tail = rest:match("^[T ](%d%d?):(%d%d)(.*)$")
    if not hh then
      tail = rest
    else
      h, mi = tonumber(hh), tonumber(mm)
      local ss, t2 = tail:match("^:(%d%d)(.*)$")
      if ss then
        sec, tail = tonumber(ss), t2
        local frac, t3 = tail:match("^[.,](%d+)(.*)$")
        if frac then
          ms = floor(tonumber((frac .. "000"):sub(1, 3)))
          tail = t3
        end
      end
    end
    tail = tail:match("^%s*(.-)%s*$")
    if tail == "Z" or tail == "z" or tail == "" then
      off = 0
    else
      local os, oh, om = tail:match("^([+-])(%d%d):?(%d%d)$")
      if not os then
        os, oh = tail:match("^([+-])(%d%d)$")
        om = "00"
      end
      if not os then return nil, "bad time zone '" .. tail .. "'" end
      off = (tonumber(oh) * 60 + tonumber(om)) * (os == "-" and -1 or 1)
    end
    if h > 23 or mi > 59 or sec > 60 then return nil, "bad time of day" end
  end
  local days = days_from_civil(y, mo, d)
  return int64_t(days) * MS_PER_DAY + int64_t(((h * 60 + mi - off) * 60 + sec) * 1000 + ms)
end

--- True when `v` is a datetime table (has year, month and day).
function M.is_datetime(v)
  return type(v) == "table" and getmetatable(v) == DateTime
    or (type(v) == "table" and getmetatable(v) == nil and v.year ~= nil and v.month ~= nil and v.day ~= nil)
end

-- Date ------------------------------------------------------------------------

local Date = {}
Date.__name = "Date"
Date.__index = Date
Date.__rank = 20

local DAY_MIN, DAY_MAX = -2 ^ 31, 2 ^ 31 - 1

local function new_date(days)
  return setmetatable({ days_from_epoch = days, seconds = days * 86400 }, Date)
end

--- A date: days since 1970-01-01 (negative allowed), as CQL `date` holds.
-- Accepts a day count (integral number or int64), a 'YYYY-MM-DD' string
-- (leading '+' allowed; a plain signed day count too, as tostring prints
-- out-of-range dates), a table {year=, month=, day=} or another Date.
-- @param value
-- @treturn Date
function M.Date(value)
  local t = type(value)
  local days
  if t == "number" then
    if value ~= floor(value) then error("Date: day count must be an integer, got " .. value, 2) end
    days = value
  elseif t == "cdata" and cmp.is_int64(value) then
    days = tonumber(value)
  elseif t == "string" then
    local y, m, d = value:match("^%+?(%d+)%-(%d%d?)%-(%d%d?)$")
    if y then
      y, m, d = tonumber(y), tonumber(m), tonumber(d)
      if not valid_ymd(y, m, d) then error("Date: no such date '" .. value .. "'", 2) end
      days = days_from_civil(y, m, d)
    else
      days = value:match("^[+-]?%d+$") and tonumber(value)
      if not days then error("Date: expected 'YYYY-MM-DD' or a day count, got '" .. value .. "'", 2) end
    end
  elseif t == "table" then
    if getmetatable(value) == Date then return value end
    if not (is_integral(value.year) and is_integral(value.month) and is_integral(value.day)) then
      error("Date: table needs integer year, month and day", 2)
    end
    if not valid_ymd(value.year, value.month, value.day) then error("Date: no such date", 2) end
    days = days_from_civil(value.year, value.month, value.day)
  else
    error("Date: expected a day count, a 'YYYY-MM-DD' string or a date table, got " .. t, 2)
  end
  if days < DAY_MIN or days > DAY_MAX then
    error("Date: " .. days .. " days is outside the CQL date range", 2)
  end
  return new_date(days)
end

--- A Date from a day count the caller has checked (codec use).
-- @local
M.date_from_days = new_date

--- True when `v` is a Date.
function M.is_date(v) return getmetatable(v) == Date end

--- The calendar date as {year=, month=, day=}.
function Date:date()
  local y, m, d = civil_from_days(self.days_from_epoch)
  return { year = y, month = m, day = d }
end

Date.__tostring = function(self)
  local y, m, d = civil_from_days(self.days_from_epoch)
  -- The seed prints the day count outside datetime.date's years 1..9999.
  if y < 1 or y > 9999 then return tostring(self.days_from_epoch) end
  return format("%04d-%02d-%02d", y, m, d)
end
Date.__eq = function(a, b) return a.days_from_epoch == b.days_from_epoch end
Date.__lt = function(a, b) return a.days_from_epoch < b.days_from_epoch end
Date.__le = function(a, b) return a.days_from_epoch <= b.days_from_epoch end
Date.__cmp = function(a, b)
  local x, y = a.days_from_epoch, b.days_from_epoch
  return x < y and -1 or (x > y and 1 or 0)
end
Date.__key = function(a) return "D" .. a.days_from_epoch end

-- Time ------------------------------------------------------------------------

local Time = {}
Time.__name = "Time"
Time.__rank = 21
local NS_PER_DAY = 86400e9

local function new_time(ns)
  return setmetatable({ nanosecond_time = ns }, Time)
end

Time.__index = function(self, k)
  local ns = self.nanosecond_time
  if k == "hour" then return floor(ns / 3600e9) end
  if k == "minute" then return floor(ns / 60e9) % 60 end
  if k == "second" then return floor(ns / 1e9) % 60 end
  if k == "nanosecond" then return ns % 1e9 end
  return Time[k]
end

--- A time of day: nanoseconds since midnight (0 <= ns < 86400e9).
-- Accepts an integral number or int64 of nanoseconds, 'HH:MM:SS[.fraction]',
-- or another Time. Fields hour, minute, second, nanosecond, nanosecond_time.
-- @param value
-- @treturn Time
function M.Time(value)
  local t = type(value)
  local ns
  if t == "number" then
    if value ~= floor(value) then error("Time: nanoseconds must be an integer, got " .. value, 2) end
    ns = value
  elseif t == "cdata" and cmp.is_int64(value) then
    ns = tonumber(value)
  elseif t == "string" then
    local h, m, s, frac = value:match("^(%d+):(%d+):(%d+)%.?(%d*)$")
    if not h then error("Time: expected 'HH:MM:SS[.fraction]', got '" .. value .. "'", 2) end
    ns = ((tonumber(h) * 60 + tonumber(m)) * 60 + tonumber(s)) * 1e9
    if frac ~= "" then ns = ns + tonumber((frac .. "00000000"):sub(1, 9)) end
  elseif t == "table" and getmetatable(value) == Time then
    return value
  else
    error("Time: expected nanoseconds or an 'HH:MM:SS' string, got " .. t, 2)
  end
  if ns < 0 or ns >= NS_PER_DAY then
    error("Time: " .. format("%.0f", ns) .. " ns is outside 0 .. 86399999999999", 2)
  end
  return new_time(ns)
end

--- A Time from nanoseconds the caller has checked (codec use).
-- @local
M.time_from_ns = new_time

--- True when `v` is a Time.
function M.is_time(v) return getmetatable(v) == Time end

Time.__tostring = function(self)
  local ns = self.nanosecond_time
  return format("%02d:%02d:%02d.%09d", floor(ns / 3600e9), floor(ns / 60e9) % 60,
                floor(ns / 1e9) % 60, ns % 1e9)
end
Time.__eq = function(a, b) return a.nanosecond_time == b.nanosecond_time end
Time.__lt = function(a, b) return a.nanosecond_time < b.nanosecond_time end
Time.__le = function(a, b) return a.nanosecond_time <= b.nanosecond_time end
Time.__cmp = function(a, b)
  local x, y = a.nanosecond_time, b.nanosecond_time
  return x < y and -1 or (x > y and 1 or 0)
end
Time.__key = function(a) return "T" .. format("%.0f", a.nanosecond_time) end

return M
