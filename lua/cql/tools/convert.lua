--- Converting text (CSV fields) and decoded JSON values into the Lua
-- values `cql.codec` encodes, per CQL type: the inverse of
-- `cql.tools.format`. A converter raises a one-line message on bad input;
-- the bulk loader turns it into a rejected row.
-- @module cql.tools.convert
local format = require "cql.tools.format"
local token_map = require "cql.metadata.token_map"
local datetime = require "cql.util.datetime"
local OrderedMap = require("cql.util.collections").OrderedMap

local M = {}

local Number, null = format.JsonNumber, format.null

local function scalar_string(v, what)
  if type(v) == "string" then return v end
  if getmetatable(v) == Number then return v.text end
  if type(v) == "boolean" then return tostring(v) end
  error(what .. " expected, got " .. (type(v) == "table" and "a JSON " .. (v.n and "array" or "object") or type(v)), 0)
end

local function integer(v)
  local s = scalar_string(v, "integer"):match("^%s*(.-)%s*$")
  if not s:match("^[-+]?%d+$") then error("not an integer: '" .. s .. "'", 0) end
  local n = tonumber(s)
  if math.abs(n) > 2 ^ 53 then error("integer out of range: " .. s, 0) end
  return n
end

local function bigint(v)
  local s = scalar_string(v, "integer")
  local n = token_map.parse_token(s)
  if not n then error("not a 64-bit integer: '" .. s .. "'", 0) end
  return n
end

local SPECIAL = { NaN = 0 / 0, Infinity = math.huge, ["+Infinity"] = math.huge, ["-Infinity"] = -math.huge }

local function float(v)
  local s = scalar_string(v, "number"):match("^%s*(.-)%s*$")
  if SPECIAL[s] then return SPECIAL[s] end
  local n = s:match("^[-+]?[%d.]+[eE]?[-+]?%d*$") and tonumber(s)
  if not n then error("not a number: '" .. s .. "'", 0) end
  return n
end

local function boolean(v)
  if type(v) == "boolean" then return v end
  local s = scalar_string(v, "boolean"):lower():match("^%s*(.-)%s*$")
  if s == "true" then return true elseif s == "false" then return false end
  error("not a boolean: '" .. s .. "'", 0)
end

local function blob(v)
  local s = scalar_string(v, "blob")
  local h = s:match("^0[xX](%x*)$")
  if not h or #h % 2 == 1 then error("not a blob (0x followed by hex digits): '" .. s:sub(1, 40) .. "'", 0) end
  return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

local function timestamp(v)
  local s = scalar_string(v, "timestamp"):match("^%s*(.-)%s*$")
  if s:match("^-?%d+$") then return bigint(s) end
  local ms, err = datetime.parse_timestamp(s)
  if not ms then error("not a timestamp: '" .. s .. "' (" .. err .. ")", 0) end
  return ms
end

local function text(v) return scalar_string(v, "string") end

local SCALARS = {
  ascii = text, text = text, varchar = text, inet = text, uuid = text, timeuuid = text, date = text,
  time = text, duration = text, varint = text, decimal = text,
  tinyint = integer, smallint = integer, int = integer,
  bigint = bigint, counter = bigint,
  float = float, double = float,
  boolean = boolean, blob = blob, custom = blob, timestamp = timestamp,
}

local function is_complex(t)
  local tn = t.typename
  return tn == "list" or tn == "set" or tn == "map" or tn == "tuple" or tn == "vector" or t.fieldnames ~= nil
end
M.is_complex = is_complex

local converter

-- Decodes a CSV field holding JSON for a complex type.
local function json_of(v)
  if type(v) == "string" then
    local ok, d = pcall(format.decode, v)
    if not ok then error(d, 0) end
    return d
  end
  return v
end

--- The converter function for a cqltypes object: `f(value)` with value a
-- string (CSV) or a decoded JSON value; returns the Lua value (nil for
-- null) or raises a message.
function converter(t)
  local tn = t.typename
  local sub = t.subtypes or {}
  if t.fieldnames then
    local convs = {}
    for i = 1, #t.fieldnames do convs[i] = converter(sub[i]) end
    return function(v)
      v = json_of(v)
      if v == null then return nil end
      if type(v) ~= "table" or v.n or getmetatable(v) == Number then error("JSON object expected for " .. tn, 0) end
      local out, known = {}, {}
      for i, f in ipairs(t.fieldnames) do
        known[f] = true
        if v[f] ~= nil and v[f] ~= null then out[f] = convs[i](v[f]) end
      end
      for k in pairs(v) do
        if not known[k] then error(("no field '%s' in %s"):format(k, tn), 0) end
      end
      return out
    end
  end
  if tn == "list" or tn == "set" or tn == "vector" or tn == "tuple" then
    local convs = {}
    for i = 1, math.max(#sub, 1) do convs[i] = sub[i] and converter(sub[i]) end
    return function(v)
      v = json_of(v)
      if v == null then return nil end
      if type(v) ~= "table" or not v.n then error("JSON array expected for " .. tn, 0) end
      local out = { n = v.n }
      for i = 1, v.n do
        local x = v[i]
        local conv = tn == "tuple" and convs[i] or convs[1]
        if not conv then error(("too many items for %s"):format(t:cql_parameterized_type()), 0) end
        if x ~= null then out[i] = conv(x) end
      end
      return out
    end
  end
  if tn == "map" then
    local kc, vc = converter(sub[1]), converter(sub[2])
    return function(v)
      v = json_of(v)
      if v == null then return nil end
      if type(v) ~= "table" or getmetatable(v) == Number then error("JSON object or array of pairs expected", 0) end
      local out = OrderedMap()
      local function put(k, x)
        local ck = kc(k)
        local cv = x ~= null and vc(x) or nil
        out:set(ck, cv)
      end
      if v.n then
        for i = 1, v.n do
          local pair = v[i]
          if type(pair) ~= "table" or pair.n ~= 2 then error("map entry " .. i .. " is not a [key, value] pair", 0) end
          put(pair[1], pair[2])
        end
      else
        local mt = getmetatable(v)
        for _, k in ipairs(mt and mt.keys or {}) do put(k, v[k]) end
      end
      return out
    end
  end
  local f = SCALARS[tn]
  if not f then return function(v) return scalar_string(v, tn) end end
  return function(v)
    if v == null then return nil end
    return f(v)
  end
end
M.converter = converter

return M
