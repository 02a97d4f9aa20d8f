--- Text forms of decoded CQL values for the tools: `text` (shell cells and
-- CSV fields), `json` (JSON Lines and collections inside CSV fields), and
-- JSON parsing/encoding. Types are `cql.cqltypes` objects (a ResultSet's
-- `column_types`); they tell a blob (hex "0x..") from text and a timestamp
-- (ISO 8601, UTC, milliseconds) from a bigint.
--
-- Forms chosen so that `cql.tools.convert` reads them back exactly:
-- integers in decimal, bigint as int64 digits, float/double with 17
-- significant digits (NaN, Infinity, -Infinity), timestamps
-- "YYYY-MM-DDTHH:MM:SS.fffZ", date/time/duration/uuid/inet/decimal/varint
-- as their CQL text, blobs "0x..", collections, tuples and user types as
-- JSON (maps as objects when every key is a string, else as arrays of
-- [key, value] pairs).
-- @module cql.tools.format
local ffi = require "ffi"
local datetime = require "cql.util.datetime"

local M = {}

local int64_t, uint64_t = ffi.typeof("int64_t"), ffi.typeof("uint64_t")
local format, concat, byte, tostring, type = string.format, table.concat, string.byte, tostring, type

local function hex(s)
  return "0x" .. (s:gsub(".", function(c) return format("%02x", byte(c)) end))
end
M.hex = hex

local function number_text(v)
  if v ~= v then return "NaN" end
  if v == math.huge then return "Infinity" end
  if v == -math.huge then return "-Infinity" end
  if v % 1 == 0 and v > -2 ^ 53 and v < 2 ^ 53 then return format("%d", v) end
  local s = format("%.15g", v)
  if tonumber(s) ~= v then s = format("%.17g", v) end
  return s
end
M.number_text = number_text

local function int64_text(v)
  return (tostring(v):gsub("U?LL$", ""))
end

local json_escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n',
                       ['\r'] = '\\r', ['\t'] = '\\t' }
local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return json_escapes[c] or format("\\u%04x", byte(c))
  end) .. '"'
end
M.json_string = json_string

local tname_of = function(t) return t and t.typename end

local json

-- Scalars as text (not JSON): nil for null.
local function scalar_text(v, t)
  local tv = type(v)
  local tn = tname_of(t)
  if tv == "string" then
    if tn == "blob" or tn == "custom" then return hex(v) end
    return v
  end
  if tv == "number" then return number_text(v) end
  if tv == "boolean" then return v and "true" or "false" end
  if tv == "cdata" then
    if tn == "timestamp" then return tostring(datetime.utc_datetime_from_ms_timestamp(v)) end
    if ffi.istype(int64_t, v) or ffi.istype(uint64_t, v) then return int64_text(v) end
  end
  return nil
end

local function is_complex(tn)
  return tn == "list" or tn == "set" or tn == "map" or tn == "tuple" or tn == "udt" or tn == "vector"
end

--- The text of a value: a string, or nil for null. Collections, tuples
-- and user types are JSON.
function M.text(v, t)
  if v == nil then return nil end
  local s = scalar_text(v, t)
  if s then return s end
  if type(v) == "table" then
    local mt = getmetatable(v)
    local tn = tname_of(t)
    if is_complex(tn) or (t and t.fieldnames) or mt == nil or (mt and (mt.__name == "SortedSet"
        or mt.__name == "OrderedMap")) then
      return json(v, t)
    end
  end
  return tostring(v)
end

-- Map entries as an array of {k, v}.
local function map_entries(v)
  local out = {}
  local mt = getmetatable(v)
  if mt and mt.__name == "OrderedMap" then
    for k, x in v:pairs() do out[#out + 1] = { k, x } end
  else
    for k, x in pairs(v) do out[#out + 1] = { k, x } end
    table.sort(out, function(a, b) return tostring(a[1]) < tostring(b[1]) end)
  end
  return out
end

--- The JSON text of a value ("null" for nil).
function json(v, t)
  if v == nil then return "null" end
  local tv = type(v)
  local tn = tname_of(t)
  if tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return json_string(number_text(v)) end
    return number_text(v)
  end
  if tv == "boolean" then return v and "true" or "false" end
  if tv == "cdata" and tn ~= "timestamp" then
    if ffi.istype(int64_t, v) or ffi.istype(uint64_t, v) then return int64_text(v) end
  end
  if tv == "table" then
    local mt = getmetatable(v)
    local name = mt and mt.__name
    local sub = t and t.subtypes or {}
    if tn == "map" or name == "OrderedMap" then
      local entries = map_entries(v)
      local all_strings = true
      for _, e in ipairs(entries) do
        if type(e[1]) ~= "string" or tname_of(sub[1]) == "blob" then all_strings = false end
      end
      local parts = {}
      if all_strings then
        for i, e in ipairs(entries) do parts[i] = json_string(e[1]) .. ":" .. json(e[2], sub[2]) end
        return "{" .. concat(parts, ",") .. "}"
      end
      for i, e in ipairs(entries) do parts[i] = "[" .. json(e[1], sub[1]) .. "," .. json(e[2], sub[2]) .. "]" end
      return "[" .. concat(parts, ",") .. "]"
    end
    if name == "SortedSet" then
      local parts = {}
      for x in v:iter() do parts[#parts + 1] = json(x, sub[1]) end
      return "[" .. concat(parts, ",") .. "]"
    end
    if tn == "udt" or (t and t.fieldnames) then
      local parts = {}
      for i, f in ipairs(t.fieldnames) do parts[#parts + 1] = json_string(f) .. ":" .. json(v[f], sub[i]) end
      return "{" .. concat(parts, ",") .. "}"
    end
    if mt == nil and (v.n or #v > 0 or next(v) == nil) then
      local parts = {}
      local n = v.n or #v
      for i = 1, n do parts[i] = json(v[i], tn == "tuple" and sub[i] or sub[1]) end
      return "[" .. concat(parts, ",") .. "]"
    end
    if mt == nil then
      local parts = {}
      for _, e in ipairs(map_entries(v)) do parts[#parts + 1] = json_string(tostring(e[1])) .. ":" .. json(e[2]) end
      return "{" .. concat(parts, ",") .. "}"
    end
  end
  return json_string(scalar_text(v, t) or tostring(v))
end
M.json = json

-- JSON parsing -------------------------------------------------------------

--- A JSON number keeps its text: `{json_number = "123"}` (so bigints and
-- decimals lose nothing).
local Number = { __name = "json_number" }
Number.__tostring = function(n) return n.text end
M.JsonNumber = Number

--- JSON null.
M.null = setmetatable({}, { __name = "json_null", __tostring = function() return "null" end })

local function decode_error(_, i, what)
  error(("bad JSON at character %d: %s"):format(i, what), 0)
end

local escapes = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }

local function utf8(cp)
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then return string.char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 4096), 0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return string.char(0xF0 + math.floor(cp / 262144), 0x80 + math.floor(cp / 4096) % 64,
                     0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
end

local decode_value
local function skip(s, i)
  return s:find("[^ \t\r\n]", i) or #s + 1
end

local function decode_string(s, i)
  local parts = {}
  local j = i + 1
  while true do
    local k = s:find('["\\]', j)
    if not k then decode_error(s, i, "unterminated string") end
    parts[#parts + 1] = s:sub(j, k - 1)
    if s:sub(k, k) == '"' then return concat(parts), k + 1 end
    local e = s:sub(k + 1, k + 1)
    if e == "u" then
      local cp = tonumber(s:sub(k + 2, k + 5), 16)
      if not cp then decode_error(s, k, "bad \\u escape") end
      local nxt = k + 6
      if cp >= 0xD800 and cp < 0xDC00 and s:sub(nxt, nxt + 1) == "\\u" then
        local lo = tonumber(s:sub(nxt + 2, nxt + 5), 16)
        if lo and lo >= 0xDC00 and lo < 0xE000 then
          cp = 0x10000 + (cp - 0xD800) * 1024 + (lo - 0xDC00)
          nxt = nxt + 6
        end
      end
      parts[#parts + 1] = utf8(cp)
      j = nxt
    elseif escapes[e] then
      parts[#parts + 1] = escapes[e]
      j = k + 2
    else
      decode_error(s, k, "bad escape")
    end
  end
end

function decode_value(s, i, depth)
  if depth > 64 then decode_error(s, i, "nested too deep") end
  i = skip(s, i)
  local c = s:sub(i, i)
  if c == "{" then
    local obj, keys = {}, {}
    i = skip(s, i + 1)
    if s:sub(i, i) == "}" then return setmetatable(obj, { __name = "json_object", keys = keys }), i + 1 end
    while true do
      if s:sub(i, i) ~= '"' then decode_error(s, i, "object key expected") end
      local k
      k, i = decode_string(s, i)
      i = skip(s, i)
      if s:sub(i, i) ~= ":" then decode_error(s, i, "':' expected") end
      local v
      v, i = decode_value(s, i + 1, depth + 1)
      if obj[k] == nil then keys[#keys + 1] = k end
      obj[k] = v
      i = skip(s, i)
      local d = s:sub(i, i)
      if d == "}" then return setmetatable(obj, { __name = "json_object", keys = keys }), i + 1 end
      if d ~= "," then decode_error(s, i, "',' or '}' expected") end
      i = skip(s, i + 1)
    end
  elseif c == "[" then
    local arr = { n = 0 }
    i = skip(s, i + 1)
    if s:sub(i, i) == "]" then return arr, i + 1 end
    while true do
      local v
      v, i = decode_value(s, i, depth + 1)
      arr.n = arr.n + 1
      arr[arr.n] = v
      i = skip(s, i)
      local d = s:sub(i, i)
      if d == "]" then return arr, i + 1 end
      if d ~= "," then decode_error(s, i, "',' or ']' expected") end
      i = i + 1
    end
  elseif c == '"' then
    return decode_string(s, i)
  elseif s:sub(i, i + 3) == "true" then
    return true, i + 4
  elseif s:sub(i, i + 4) == "false" then
    return false, i + 5
  elseif s:sub(i, i + 3) == "null" then
    return M.null, i + 4
  else
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
    if not num or num == "" or num == "-" then decode_error(s, i, "value expected") end
    return setmetatable({ text = num }, Number), i + #num
  end
end

--- Parses a JSON text; objects keep their key order in
-- `getmetatable(obj).keys`, numbers are JsonNumber, null is `M.null`.
-- Raises "bad JSON at character N: ..." on malformed input.
function M.decode(s)
  local v, i = decode_value(s, 1, 0)
  i = skip(s, i)
  if i <= #s then decode_error(s, i, "trailing characters") end
  return v
end

return M
