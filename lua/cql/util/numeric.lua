--- Arbitrary precision numbers: `Varint` (CQL varint) and `Decimal` (CQL
-- decimal). Both keep the exact two's complement big-endian bytes the wire
-- carries; text conversion is done by the C core, so any size is exact.
-- @module cql.util.numeric
local ffi = require "ffi"
local core = require "cql.core"

local C = core.C
local type, floor, format, setmetatable, getmetatable, tostring, tonumber =
  type, math.floor, string.format, setmetatable, getmetatable, tostring, tonumber
local byte, sub = string.byte, string.sub
local istype = ffi.istype
local int64_t, uint64_t = ffi.typeof("int64_t"), ffi.typeof("uint64_t")

local M = {}

-- One scratch buffer per process for text conversions (reset before use).
local scratch = core.new_buf()
local i64out = ffi.new("int64_t[1]")
local i32out = ffi.new("int32_t[1]")
local b8 = ffi.new("uint8_t[8]")

local function scratch_string()
  return ffi.string(scratch.data, scratch.len)
end

-- Drops redundant sign bytes so equal values have equal bytes.
local function minimal(b)
  local n, i = #b, 1
  while i < n do
    local x, y = byte(b, i, i + 1)
    if (x == 0 and y < 0x80) or (x == 0xff and y >= 0x80) then i = i + 1 else break end
  end
  return i == 1 and b or sub(b, i)
end
M.minimal_varint = minimal

local function i64_bytes(v)
  return ffi.string(b8, C.cq_varint_from_i64(v, b8))
end

local function digits_to_bytes(s)
  C.cq_buf_reset(scratch)
  if C.cq_varint_from_string(scratch, s, #s) < 0 then return nil end
  return scratch_string()
end

local function bytes_to_digits(b)
  C.cq_buf_reset(scratch)
  C.cq_varint_to_string(scratch, b, #b)
  return scratch_string()
end

local TWO63 = 2 ^ 63

-- Varint ---------------------------------------------------------------------

local Varint = {}
Varint.__name = "Varint"
Varint.__index = Varint
Varint.__rank = 10

local function new_varint(b) return setmetatable({ bytes = b }, Varint) end

--- An integer of any size. From an integral number, an int64/uint64 cdata,
-- a decimal digit string ("-123456789012345678901234567890") or a Varint.
-- @param v
-- @treturn Varint
function M.Varint(v)
  local t = type(v)
  if t == "number" then
    if v ~= floor(v) then error("Varint: expected an integer, got " .. tostring(v), 2) end
    if v >= -TWO63 and v < TWO63 then return new_varint(i64_bytes(v)) end
    return new_varint(digits_to_bytes(format("%.0f", v)))
  elseif t == "cdata" and istype(int64_t, v) then
    return new_varint(i64_bytes(v))
  elseif t == "cdata" and istype(uint64_t, v) then
    return new_varint(digits_to_bytes(tostring(v):sub(1, -4)))
  elseif t == "string" then
    local s = v:match("^%s*(.-)%s*$")
    local b = s:match("^[+-]?%d+$") and digits_to_bytes(s)
    if not b then error("Varint: expected a decimal integer string, got '" .. v .. "'", 2) end
    return new_varint(b)
  elseif getmetatable(v) == Varint then
    return v
  end
  error("Varint: expected an integer, an int64 or a digit string, got " .. t, 2)
end

--- A Varint from its two's complement big-endian bytes.
-- @tparam string b at least one byte
function M.varint_from_bytes(b)
  if type(b) ~= "string" or #b == 0 then error("varint_from_bytes: expected a non-empty string", 2) end
  return new_varint(minimal(b))
end

--- A Varint from wire bytes (codec use; non-empty).
-- @local
function M.varint_from_wire(b) return new_varint(minimal(b)) end

--- True when `v` is a Varint.
function M.is_varint(v) return getmetatable(v) == Varint end

--- The value as int64 cdata; raises when it does not fit.
function Varint:toint64()
  if C.cq_varint_to_i64(self.bytes, #self.bytes, i64out) < 0 then
    error("Varint: " .. tostring(self) .. " is out of int64 range", 2)
  end
  return i64out[0]
end

--- The value as a Lua number (rounded beyond 2^53).
function Varint:tonumber()
  return tonumber(bytes_to_digits(self.bytes))
end

local function negative(b) return byte(b, 1) >= 0x80 end

Varint.__tostring = function(self) return bytes_to_digits(self.bytes) end
Varint.__eq = function(a, b) return a.bytes == b.bytes end
Varint.__cmp = function(a, b)
  local x, y = a.bytes, b.bytes
  if x == y then return 0 end
  local nx, ny = negative(x), negative(y)
  if nx ~= ny then return nx and -1 or 1 end
  -- Same sign, minimal encodings: longer means larger magnitude; same length
  -- compares as unsigned bytes.
  if #x ~= #y then
    local longer = #x > #y
    if nx then longer = not longer end
    return longer and 1 or -1
  end
  return x < y and -1 or 1
end
Varint.__lt = function(a, b) return Varint.__cmp(a, b) < 0 end
Varint.__le = function(a, b) return Varint.__cmp(a, b) <= 0 end
Varint.__key = function(a) return "v" .. a.bytes end

-- Decimal --------------------------------------------------------------------

local Decimal = {}
Decimal.__name = "Decimal"
Decimal.__index = Decimal
Decimal.__rank = 11

local function new_decimal(scale, unscaled)
  return setmetatable({ scale = scale, unscaled = unscaled }, Decimal)
end

-- Shortest "%.Ng" that reads back as the same double (as Python's repr).
local function shortest(v)
  for p = 15, 17 do
    local s = format("%." .. p .. "g", v)
    if tonumber(s) == v then return s end
  end
  return format("%.17g", v)
end

local function decimal_from_string(s)
  C.cq_buf_reset(scratch)
  if C.cq_decimal_from_string(scratch, i32out, s, #s) < 0 then return nil end
  return new_decimal(i32out[0], scratch_string())
end

--- An exact decimal number: scale and unscaled varint bytes (value =
-- unscaled * 10^-scale). From a string ("-123.4500", "1E+5"), a number
-- (its shortest exact repr), an int64, a Varint or a Decimal.
-- @param v
-- @treturn Decimal
function M.Decimal(v)
  local t = type(v)
  local d
  if t == "string" then
    d = decimal_from_string(v:match("^%s*(.-)%s*$"))
    if not d then error("Decimal: bad decimal string '" .. v .. "'", 2) end
    return d
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error("Decimal: " .. tostring(v) .. " has no decimal value", 2)
    end
    return decimal_from_string(shortest(v))
  elseif t == "cdata" and (istype(int64_t, v) or istype(uint64_t, v)) then
    return new_decimal(0, M.Varint(v).bytes)
  elseif getmetatable(v) == Varint then
    return new_decimal(0, v.bytes)
  elseif getmetatable(v) == Decimal then
    return v
  end
  error("Decimal: expected a string, a number or an integer, got " .. t, 2)
end

--- A Decimal from an unscaled integer (anything Varint accepts) and a scale.
function M.decimal_from_parts(unscaled, scale)
  if type(scale) ~= "number" or scale ~= floor(scale) or scale < -2 ^ 31 or scale >= 2 ^ 31 then
    error("decimal_from_parts: scale must be a 32-bit integer", 2)
  end
  return new_decimal(scale, M.Varint(unscaled).bytes)
end

--- A Decimal from decoded parts (codec use; bytes must be non-empty).
-- @local
function M.decimal_from_wire(scale, unscaled)
  return new_decimal(scale, minimal(unscaled))
end

--- True when `v` is a Decimal.
function M.is_decimal(v) return getmetatable(v) == Decimal end

--- The value as a Lua number (nearest double).
function Decimal:tonumber() return tonumber(tostring(self)) end

-- Sign, digits without trailing zeros and exponent: equal values share them
-- (1.0 == 1.00, as Python's Decimal compares).
local function normal(d)
  local n = d._norm
  if n then return n[1], n[2], n[3] end
  local s = bytes_to_digits(d.unscaled)
  local sign = 1
  if sub(s, 1, 1) == "-" then sign, s = -1, sub(s, 2) end
  local scale = d.scale
  if s == "0" then
    sign, scale = 0, 0
  else
    local stripped = s:match("^(.-)0*$")
    scale = scale - (#s - #stripped)
    s = stripped
  end
  d._norm = { sign, s, scale }
  return sign, s, scale
end

Decimal.__tostring = function(self)
  C.cq_buf_reset(scratch)
  C.cq_decimal_to_string(scratch, self.scale, self.unscaled, #self.unscaled)
  return scratch_string()
end
Decimal.__eq = function(a, b)
  local sa, da, ea = normal(a)
  local sb, db, eb = normal(b)
  return sa == sb and da == db and ea == eb
end
Decimal.__cmp = function(a, b)
  local sa, da, ea = normal(a)
  local sb, db, eb = normal(b)
  if sa ~= sb then return sa < sb and -1 or 1 end
  if sa == 0 then return 0 end
  -- Compare magnitudes: position of the leading digit, then digits.
  local pa, pb = #da - ea, #db - eb
  local c
  if pa ~= pb then
    c = pa < pb and -1 or 1
  else
    local n = #da > #db and #da or #db
    local xa, xb = da .. string.rep("0", n - #da), db .. string.rep("0", n - #db)
    c = xa < xb and -1 or (xa > xb and 1 or 0)
  end
  return sa * c
end
Decimal.__lt = function(a, b) return Decimal.__cmp(a, b) < 0 end
Decimal.__le = function(a, b) return Decimal.__cmp(a, b) <= 0 end
Decimal.__key = function(a)
  local s, d, e = normal(a)
  return "d" .. s .. ":" .. d .. "e" .. e
end

return M
