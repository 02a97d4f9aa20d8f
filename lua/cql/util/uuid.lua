--- UUIDs and version 1 (time) UUID helpers, as the seed's `uuid` use.
-- A UUID is a value object around its 16 bytes (`.bytes`); tostring gives
-- the canonical lowercase form; `==` and `<` compare bytes.
-- Randomness comes from /dev/urandom, read in 4 KiB chunks and opened on
-- first use, and reopened when the process id changes, so nginx workers
-- forked after init_by_lua never share buffered random bytes.
-- @module cql.util.uuid
local ffi = require "ffi"
local bit = require "bit"
local dt = require "cql.util.datetime"
local cmp = require "cql.util.compare"

local byte, char, sub, format = string.byte, string.char, string.sub, string.format
local type, setmetatable, getmetatable, tonumber, floor = type, setmetatable, getmetatable, tonumber,
  math.floor
local band, bor, rshift = bit.band, bit.bor, bit.rshift
local int64_t = ffi.typeof("int64_t")

local M = {}

local UUID = {}
UUID.__name = "UUID"
UUID.__rank = 12

local methods = {}

UUID.__index = function(self, k)
  if k == "version" then return rshift(byte(self.bytes, 7), 4) end
  if k == "hex" then return (self.bytes:gsub(".", function(c) return format("%02x", byte(c)) end)) end
  if k == "time" then return methods.time(self) end
  return methods[k]
end

local FMT = "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x"
UUID.__tostring = function(self) return format(FMT, byte(self.bytes, 1, 16)) end
UUID.__eq = function(a, b) return a.bytes == b.bytes end
UUID.__lt = function(a, b) return a.bytes < b.bytes end
UUID.__le = function(a, b) return a.bytes <= b.bytes end
UUID.__cmp = function(a, b)
  local x, y = a.bytes, b.bytes
  return x < y and -1 or (x > y and 1 or 0)
end
UUID.__key = function(a) return "u" .. a.bytes end

local function new(b) return setmetatable({ bytes = b }, UUID) end

--- A UUID from its text: 32 hex digits, dashes and braces and a "urn:uuid:"
-- prefix allowed (as Python's uuid.UUID), or another UUID.
-- @param s string
-- @treturn UUID
function M.UUID(s)
  if getmetatable(s) == UUID then return s end
  if type(s) ~= "string" then error("UUID: expected a string, got " .. type(s), 2) end
  local h = s:gsub("^urn:uuid:", ""):gsub("[{}%-]", "")
  if #h ~= 32 or h:find("[^%x]") then error("UUID: badly formed hexadecimal UUID string '" .. s .. "'", 2) end
  return new((h:gsub("%x%x", function(x) return char(tonumber(x, 16)) end)))
end

--- A UUID from its 16 bytes.
-- @tparam string b
function M.from_bytes(b)
  if type(b) ~= "string" or #b ~= 16 then
    error("UUID.from_bytes: expected a 16-byte string, got " .. (type(b) == "string" and #b .. " bytes" or type(b)), 2)
  end
  return new(b)
end

--- A UUID from 16 bytes the caller has checked (codec use).
-- @local
M.wrap = new

--- True when `v` is a UUID.
function M.is_uuid(v) return getmetatable(v) == UUID end

-- Random bytes ---------------------------------------------------------------

local rnd = { pid = nil, file = nil, buf = "", pos = 1 }

--- `n` random bytes from /dev/urandom.
-- @treturn string
local function random_bytes(n)
  local pid = ffi.C.getpid()
  if rnd.pid ~= pid then
    -- First use, or a forked child: never reuse the parent's buffer.
    if rnd.file then rnd.file:close() end
    local f, err = io.open("/dev/urandom", "rb")
    if not f then error("cannot open /dev/urandom: " .. tostring(err), 2) end
    rnd.pid, rnd.file, rnd.buf, rnd.pos = pid, f, "", 1
  end
  if rnd.pos + n - 1 > #rnd.buf then
    rnd.buf = rnd.file:read(4096)
    rnd.pos = 1
    if not rnd.buf or #rnd.buf < n then error("short read from /dev/urandom", 2) end
  end
  local s = sub(rnd.buf, rnd.pos, rnd.pos + n - 1)
  rnd.pos = rnd.pos + n
  return s
end
M.random_bytes = random_bytes

--- A random (version 4) UUID.
function M.uuid4()
  local b = { byte(random_bytes(16), 1, 16) }
  b[7] = bor(band(b[7], 0x0f), 0x40)
  b[9] = bor(band(b[9], 0x3f), 0x80)
  return new(char(unpack(b)))
end

-- Version 1 ------------------------------------------------------------------

-- 100 ns intervals from 1582-10-15 (the UUID epoch) to 1970-01-01.
local UUID_EPOCH = int64_t(0x01b21dd213814000LL)

local function be(v, nbytes)
  -- v: int64 cdata or number; big-endian, nbytes low bytes.
  local out = {}
  v = int64_t(v)
  for i = nbytes, 1, -1 do
    out[i] = tonumber(band(v, 0xff))
    v = rshift(v, 8)
  end
  return char(unpack(out))
end

--- A version 1 UUID for a time: `uuid_from_time(t[, node][, clock_seq])`.
-- `t` is seconds since the epoch (a number, fractions kept to the
-- microsecond as the seed does) or a datetime table; node is 48 bits and
-- clock_seq 14 bits, random when omitted.
-- @treturn UUID
function M.uuid_from_time(t, node, clock_seq)
  local us
  if type(t) == "number" then
    us = int64_t(t * 1e6) -- truncates toward zero like Python's int()
  elseif type(t) == "table" then
    us = dt.ms_timestamp_from_datetime(t) * 1000
  elseif type(t) == "cdata" and cmp.is_int64(t) then
    us = int64_t(t) * 1000000
  else
    error("bad argument #1 to 'uuid_from_time' (seconds or a datetime table expected, got " .. type(t) .. ")", 2)
  end
  local intervals = us * 10 + UUID_EPOCH
  if clock_seq == nil then
    local r = { byte(random_bytes(2), 1, 2) }
    clock_seq = band(r[1] * 256 + r[2], 0x3fff)
  elseif type(clock_seq) ~= "number" or clock_seq ~= floor(clock_seq) or clock_seq < 0 then
    error("bad argument #3 to 'uuid_from_time' (clock_seq must be a non-negative integer)", 2)
  elseif clock_seq > 0x3fff then
    error("clock_seq is out of range (need a 14-bit value)", 2)
  end
  local node_bytes
  if node == nil then
    node_bytes = random_bytes(6)
  else
    if type(node) == "number" and (node ~= floor(node) or node < 0 or node >= 2 ^ 48) then
      error("bad argument #2 to 'uuid_from_time' (node must be a 48-bit integer)", 2)
    end
    node_bytes = be(node, 6)
  end
  local time_low = band(intervals, 0xffffffffLL)
  local time_mid = band(rshift(intervals, 32), 0xffff)
  local time_hi = bor(band(rshift(intervals, 48), 0x0fff), 0x1000)
  return new(be(time_low, 4) .. be(time_mid, 2) .. be(time_hi, 2)
             .. char(bor(0x80, band(rshift(clock_seq, 8), 0x3f)), band(clock_seq, 0xff)) .. node_bytes)
end

--- The lowest version 1 UUID of a time (Cassandra's minTimeuuid order).
function M.min_uuid_from_time(t)
  return M.uuid_from_time(t, 0x808080808080, 0x80)
end

--- The highest version 1 UUID of a time (Cassandra's maxTimeuuid order).
function M.max_uuid_from_time(t)
  return M.uuid_from_time(t, 0x7f7f7f7f7f7f, 0x3f7f)
end

--- The 60-bit timestamp of a version 1 UUID (100 ns since 1582-10-15), int64.
function methods.time(u)
  local b = u.bytes
  local t = int64_t(0)
  -- time_hi (12 bits) .. time_mid .. time_low
  t = bor(t, bit.lshift(int64_t(band(byte(b, 7), 0x0f)), 56), bit.lshift(int64_t(byte(b, 8)), 48),
          bit.lshift(int64_t(byte(b, 5)), 40), bit.lshift(int64_t(byte(b, 6)), 32),
          bit.lshift(int64_t(byte(b, 1)), 24), bit.lshift(int64_t(byte(b, 2)), 16),
          bit.lshift(int64_t(byte(b, 3)), 8), int64_t(byte(b, 4)))
  return t
end

--- Seconds since the epoch (a number) of a version 1 UUID.
function M.unix_time_from_uuid1(u)
  if getmetatable(u) ~= UUID then error("bad argument #1 to 'unix_time_from_uuid1' (UUID expected)", 2) end
  return tonumber(methods.time(u) - UUID_EPOCH) / 1e7
end

--- The UTC datetime table of a version 1 UUID (millisecond precision).
function M.datetime_from_uuid1(u)
  if getmetatable(u) ~= UUID then error("bad argument #1 to 'datetime_from_uuid1' (UUID expected)", 2) end
  return dt.utc_datetime_from_ms_timestamp((methods.time(u) - UUID_EPOCH) / 10000)
end

--- The lowest possible timeuuid.
M.LOWEST_TIME_UUID = M.UUID("00000000-0000-1000-8080-808080808080")
--- The highest possible timeuuid.
M.HIGHEST_TIME_UUID = M.UUID("ffffffff-ffff-1fff-bf7f-7f7f7f7f7f7f")

return M
