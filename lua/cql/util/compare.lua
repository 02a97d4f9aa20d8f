--- Value ordering, equality and canonical keys across the driver's value types.
-- Collections hold numbers, int64 cdata, strings and value objects (UUID,
-- Varint, Decimal, Date, ...) side by side, so membership must be by value,
-- not by identity. Value classes take part through fields of their
-- metatable: `__cmp(a, b)` (-1, 0, 1 for two objects of that class),
-- `__key(a)` (a string equal for equal values) and `__rank` (orders
-- different classes). Plain tables (lists, tuples, UDTs) compare
-- element-wise.
-- @module cql.util.compare
local ffi = require "ffi"

local type, getmetatable, tostring, pairs = type, getmetatable, tostring, pairs
local floor, format, concat, sort = math.floor, string.format, table.concat, table.sort
local istype = ffi.istype
local int64_t, uint64_t = ffi.typeof("int64_t"), ffi.typeof("uint64_t")

local M = {}

local TWO63 = 2 ^ 63

-- Ranks of the plain Lua kinds; classes use their metatable's __rank (>= 10).
local RANK_BOOLEAN, RANK_NUMBER, RANK_STRING, RANK_TABLE, RANK_OTHER = 1, 2, 3, 50, 99

local function is_int64(v)
  return type(v) == "cdata" and (istype(int64_t, v) or istype(uint64_t, v))
end
M.is_int64 = is_int64

local function rank(v)
  local t = type(v)
  if t == "number" or (t == "cdata" and is_int64(v)) then return RANK_NUMBER end
  if t == "string" then return RANK_STRING end
  if t == "boolean" then return RANK_BOOLEAN end
  if t == "table" then
    local mt = getmetatable(v)
    return mt and mt.__rank or RANK_TABLE
  end
  return RANK_OTHER
end

-- Numbers and 64-bit integers compared exactly: a number is compared as an
-- int64 only when it is integral and in range, otherwise the int64 side is
-- converted (the only approximate case, and then the number is not
-- integral or is beyond 2^63 anyway). NaN sorts last and equals itself.
local function cmp_num(a, b)
  local ta, tb = type(a) == "number", type(b) == "number"
  if ta and tb then
    if a < b then return -1 elseif a > b then return 1 elseif a == b then return 0 end
    local na, nb = a ~= a, b ~= b
    if na and nb then return 0 end
    return na and 1 or -1
  end
  if ta then
    if a ~= a then return 1 end
    if a == floor(a) and a >= -TWO63 and a < TWO63 then a = int64_t(a) else b = tonumber(b) end
  elseif tb then
    if b ~= b then return -1 end
    if b == floor(b) and b >= -TWO63 and b < TWO63 then b = int64_t(b) else a = tonumber(a) end
  elseif istype(uint64_t, a) ~= istype(uint64_t, b) then
    -- Mixed signedness: a negative int64 is below every uint64.
    if istype(int64_t, a) then
      if a < 0 then return -1 end
      a = ffi.cast("uint64_t", a)
    else
      if b < 0 then return 1 end
      b = ffi.cast("uint64_t", b)
    end
  end
  if a < b then return -1 elseif a > b then return 1 end
  return 0
end

local compare

local function cmp_array(a, b)
  local na, nb = a.n or #a, b.n or #b
  local n = na < nb and na or nb
  for i = 1, n do
    local x, y = a[i], b[i]
    if x == nil or y == nil then
      if x ~= nil then return 1 elseif y ~= nil then return -1 end
    else
      local c = compare(x, y)
      if c ~= 0 then return c end
    end
  end
  if na < nb then return -1 elseif na > nb then return 1 end
  return 0
end

local key

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  sort(ks, function(x, y) return compare(x, y) < 0 end)
  return ks
end

local function cmp_table(a, b)
  if a[1] ~= nil or b[1] ~= nil or a.n or b.n then return cmp_array(a, b) end
  -- Records (UDT values): by sorted keys, then by values.
  local ka, kb = sorted_keys(a), sorted_keys(b)
  local c = cmp_array(ka, kb)
  if c ~= 0 then return c end
  for i = 1, #ka do
    c = compare(a[ka[i]], b[ka[i]])
    if c ~= 0 then return c end
  end
  return 0
end

--- Total order over driver values: -1, 0 or 1.
-- Booleans < numbers/int64 < strings < value classes (by class) < tables.
-- @param a a value
-- @param b a value
-- @treturn number -1, 0 or 1
compare = function(a, b)
  if rawequal(a, b) then return 0 end
  local ra, rb = rank(a), rank(b)
  if ra ~= rb then return ra < rb and -1 or 1 end
  if ra == RANK_NUMBER then return cmp_num(a, b) end
  if ra == RANK_STRING then
    if a < b then return -1 end
    return 1
  end
  if ra == RANK_BOOLEAN then return a and 1 or -1 end
  if ra == RANK_TABLE then return cmp_table(a, b) end
  local mt = getmetatable(a)
  if mt and mt.__cmp and mt == getmetatable(b) then return mt.__cmp(a, b) end
  local sa, sb = tostring(a), tostring(b)
  if sa < sb then return -1 elseif sa > sb then return 1 end
  return 0
end
M.compare = compare

--- Deep value equality (numbers equal int64s of the same value; plain
-- tables key by key; objects through their __eq).
-- @param a a value
-- @param b a value
-- @treturn boolean
function M.equal(a, b)
  if rawequal(a, b) then return true end
  local ta, tb = type(a), type(b)
  if ta == "table" and tb == "table" then
    local ma, mb = getmetatable(a), getmetatable(b)
    if ma ~= mb then return false end
    if ma then return a == b end
    for k, v in pairs(a) do
      if not M.equal(v, b[k]) then return false end
    end
    for k in pairs(b) do
      if a[k] == nil then return false end
    end
    return true
  end
  if (ta == "number" or ta == "cdata") and (tb == "number" or tb == "cdata") then
    if (ta == "cdata" and not is_int64(a)) or (tb == "cdata" and not is_int64(b)) then return a == b end
    return cmp_num(a, b) == 0
  end
  return false
end

local function lp(s) return #s .. ":" .. s end

--- A string equal for equal values and different otherwise (used to index
-- maps and sets by value). Integral numbers and int64s of the same value
-- share a key.
-- @param v a value
-- @treturn string
key = function(v)
  local t = type(v)
  if t == "string" then return "s" .. v end
  if t == "number" then
    if v ~= v then return "nan" end
    if v == floor(v) and v >= -TWO63 and v < TWO63 then return "i" .. format("%.0f", v) end
    return "n" .. format("%.17g", v)
  end
  if t == "boolean" then return v and "b1" or "b0" end
  if t == "cdata" and is_int64(v) then
    local s = tostring(v)
    return "i" .. s:sub(1, istype(uint64_t, v) and -4 or -3)
  end
  if t == "table" then
    local mt = getmetatable(v)
    if mt and mt.__key then return mt.__key(v) end
    if mt then return "o" .. tostring(v) end
    local parts = {}
    if v[1] ~= nil or v.n then
      for i = 1, v.n or #v do
        parts[i] = v[i] == nil and "0:" or lp(key(v[i]))
      end
      return "[" .. concat(parts) .. "]"
    end
    local ks = sorted_keys(v)
    for i = 1, #ks do parts[i] = lp(key(ks[i])) .. lp(key(v[ks[i]])) end
    return "{" .. concat(parts) .. "}"
  end
  return "o" .. tostring(v)
end
M.key = key

return M
