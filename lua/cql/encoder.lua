--- Client-side parameter encoding for simple statements: `%s` (positional)
-- and `%(name)s` (named) markers replaced by CQL literals, as the seed's
-- `cassandra.encoder` does.
--
-- Every value becomes a literal that cannot change the statement's shape:
-- strings are single-quoted with quotes doubled, numbers are checked to be
-- numbers, and anything that has no CQL literal raises an error naming it.
-- `%%` is a literal percent sign.
-- @module cql.encoder
local ffi = require "ffi"
local util = require "cql.util"

local encoder = {}

local int64_t, uint64_t = ffi.typeof("int64_t"), ffi.typeof("uint64_t")

--- A string as a CQL string literal.
function encoder.cql_quote(s)
  return "'" .. s:gsub("'", "''") .. "'"
end

local function is_array(t)
  local n = t.n or #t
  if n == 0 then return next(t) == nil end
  for k in pairs(t) do
    if k ~= "n" and (type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0) then return false end
  end
  return true
end

local encode

local function quoted(v) return encoder.cql_quote(tostring(v)) end

-- Literals of the value classes (cql.util), by their metatables' __name.
local by_class = {
  UUID = tostring, Decimal = tostring, Varint = tostring, Date = quoted, Time = quoted,
  Duration = function(v) return v:cql() end,
  -- The seed sends datetimes as integer milliseconds.
  datetime = function(v) return (tostring(util.ms_timestamp_from_datetime(v)):gsub("LL$", "")) end,
}

--- The CQL literal for a Lua value (see the module doc); raises on values
-- that have none.
function encode(v)
  local tv = type(v)
  if v == nil then return "NULL" end
  if tv == "string" then return encoder.cql_quote(v) end
  if tv == "boolean" then return v and "true" or "false" end
  if tv == "number" then
    if v ~= v then return "NaN" end
    if v == math.huge then return "Infinity" end
    if v == -math.huge then return "-Infinity" end
    if v % 1 == 0 and math.abs(v) < 2 ^ 63 then return string.format("%.0f", v) end
    return string.format("%.17g", v)
  end
  if tv == "cdata" and (ffi.istype(int64_t, v) or ffi.istype(uint64_t, v)) then
    return (tostring(v):gsub("U?LL$", ""))
  end
  if tv == "table" then
    local mt = getmetatable(v)
    local class = mt and mt.__name
    if by_class[class] then return by_class[class](v) end
    if class == "SortedSet" then
      local parts = {}
      for x in v:iter() do parts[#parts + 1] = encode(x) end
      return "{" .. table.concat(parts, ", ") .. "}"
    end
    if class == "Blob" then
      return "0x" .. v.bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
    end
    if class == "Tuple" then
      local parts = {}
      for i = 1, v.n do parts[i] = encode(v[i]) end
      return "(" .. table.concat(parts, ", ") .. ")"
    end
    if class == "UserType" then
      local keys, parts = {}, {}
      for k in pairs(v) do keys[#keys + 1] = k end
      table.sort(keys)
      for _, k in ipairs(keys) do
        local name = k:match("^[a-z][a-z0-9_]*$") and k or '"' .. k:gsub('"', '""') .. '"'
        parts[#parts + 1] = name .. ": " .. encode(v[k])
      end
      return "{" .. table.concat(parts, ", ") .. "}"
    end
    if class == "OrderedMap" then
      local parts = {}
      for k, x in v:pairs() do parts[#parts + 1] = encode(k) .. ": " .. encode(x) end
      return "{" .. table.concat(parts, ", ") .. "}"
    end
    if mt == nil then
      local parts = {}
      if is_array(v) then
        for i = 1, v.n or #v do parts[i] = encode(v[i]) end
        return "[" .. table.concat(parts, ", ") .. "]"
      end
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = k end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      for _, k in ipairs(keys) do parts[#parts + 1] = encode(k) .. ": " .. encode(v[k]) end
      return "{" .. table.concat(parts, ", ") .. "}"
    end
  end
  error(("cannot encode a %s as a CQL literal: %s"):format(tv, tostring(v)), 0)
end
encoder.cql_encode_all_types = encode

--- Replaces the markers in `query` with the literals of `params`: an array
-- for `%s`, a table keyed by name for `%(name)s` (not both). Raises when
-- the markers and the parameters do not match, naming the marker.
function encoder.bind_params(query, params)
  if params == nil then return query end
  if type(params) ~= "table" then
    error("parameters must be a table (an array for %s, names for %(name)s)", 0)
  end
  local out, i, count, named = {}, 1, 0, nil
  while true do
    local at = query:find("%", i, true)
    if not at then
      out[#out + 1] = query:sub(i)
      break
    end
    out[#out + 1] = query:sub(i, at - 1)
    local c = query:sub(at + 1, at + 1)
    if c == "%" then
      out[#out + 1] = "%"
      i = at + 2
    elseif c == "s" then
      if named then error("the query mixes %s and %(name)s markers", 0) end
      named = false
      count = count + 1
      if count > (params.n or #params) then
        error(("the query has more %%s markers than the %d parameter(s) given"):format(params.n or #params), 0)
      end
      out[#out + 1] = encode(params[count])
      i = at + 2
    elseif c == "(" then
      local close = query:find(")s", at + 2, true)
      if not close then error(("unterminated %%(name)s marker at position %d"):format(at), 0) end
      if named == false then error("the query mixes %s and %(name)s markers", 0) end
      named = true
      local name = query:sub(at + 2, close - 1)
      if params[name] == nil then error(("no parameter named '%s' for %%(%s)s"):format(name, name), 0) end
      out[#out + 1] = encode(params[name])
      i = close + 2
    else
      error(("'%%' at position %d starts no marker (use %%%% for a literal %%)"):format(at), 0)
    end
  end
  if named == false and count ~= (params.n or #params) then
    error(("the query has %d %%s marker(s) but %d parameter(s) were given"):format(count, params.n or #params), 0)
  end
  return table.concat(out)
end

return encoder
