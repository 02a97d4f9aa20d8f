--- Quoting of CQL identifiers and literals for the schema export, as
-- Cassandra's own `DESCRIBE` does it: an identifier stays bare when it is
-- lower case letters, digits and underscores starting with a letter and is
-- not a reserved keyword; otherwise it is double-quoted with inner quotes
-- doubled. The keyword sets are looked up at call time, so a caller may
-- replace them (the seed's cqlsh does).
-- @module cql.metadata.names
local M = {}

local function set(words)
  local s = {}
  for w in words:gmatch("%S+") do s[w:lower()] = true end
  return s
end

--- Cassandra 5.0's reserved keywords (lower case): an identifier spelled
-- like one must be quoted. The one list the query builder uses too (the
-- server's own `reserved_keywords.txt`), so DESCRIBE and our export agree.
M.cql_keywords_reserved = {}
for _, w in ipairs(require("cql.querybuilder.identifiers").reserved_keywords()) do
  M.cql_keywords_reserved[w:lower()] = true
end

--- Unreserved keywords: valid as bare identifiers, listed for completeness.
M.cql_keywords_unreserved = set [[
  aggregate all as ascii bigint blob boolean called clustering compact contains counter custom date decimal
  default distinct double duration exists filtering finalfunc float frozen function functions inet initcond
  input int json key keys keyspaces language like list login map mask masked nologin nosuperuser options
  password permission permissions replace returns role roles sfunc smallint static storage stype superuser text
  time timestamp timeuuid tinyint trigger ttl tuple type unset user users uuid values varchar varint vector
  writetime
]]

--- Every keyword, reserved or not.
M.cql_keywords = {}
for k in pairs(M.cql_keywords_reserved) do M.cql_keywords[k] = true end
for k in pairs(M.cql_keywords_unreserved) do M.cql_keywords[k] = true end

--- True when `name` can be written without quotes.
-- @tparam string name
-- @treturn boolean
function M.is_valid_name(name)
  if type(name) ~= "string" then
    error("bad argument #1 to 'is_valid_name' (string expected, got " .. type(name) .. ")", 2)
  end
  return name:match("^[a-z][a-z0-9_]*$") ~= nil and not M.cql_keywords_reserved[name]
end

--- Double-quotes `name`, doubling inner double quotes.
-- @tparam string name
-- @treturn string
function M.escape_name(name)
  return '"' .. name:gsub('"', '""') .. '"'
end

--- `name` as a CQL identifier: bare when possible, quoted otherwise
-- (`Foo` gives `"Foo"`, `select` gives `"select"`, `foo` stays `foo`).
-- @tparam string name
-- @treturn string
function M.protect_name(name)
  if type(name) ~= "string" then
    error("bad argument #1 to 'protect_name' (string expected, got " .. type(name) .. ")", 2)
  end
  if M.is_valid_name(name) then return name end
  return M.escape_name(name)
end

--- The seed's alias of `protect_name`.
M.maybe_escape_name = M.protect_name

--- Every name of an array protected.
-- @tparam {string,...} names
-- @treturn {string,...}
function M.protect_names(names)
  local out = {}
  for i, n in ipairs(names) do out[i] = M.protect_name(n) end
  return out
end

--- A CQL string literal: single-quoted, inner quotes doubled.
-- @tparam string s
-- @treturn string
function M.quote_string(s)
  return "'" .. tostring(s):gsub("'", "''") .. "'"
end

--- A double as Java's Double.toString prints it (what DESCRIBE shows):
-- the shortest digits that read back as the same double, always with a
-- fraction (`1.0`, `0.01`), scientific below 1e-3 and from 1e7 (`1.0E-4`).
-- @tparam number x
-- @treturn string
function M.format_double(x)
  if x ~= x then return "NaN" end
  if x == math.huge then return "Infinity" end
  if x == -math.huge then return "-Infinity" end
  if x == 0 then return (1 / x < 0) and "-0.0" or "0.0" end
  local s
  for p = 1, 17 do
    s = string.format("%." .. p .. "e", x)
    if tonumber(s) == x then break end
  end
  -- s is d.ddde[+-]XX: rebuild it the Java way
  local sign, int, frac, exp = s:match("^(-?)(%d)%.?(%d*)e([-+]%d+)$")
  exp = tonumber(exp)
  frac = frac:gsub("0+$", "")
  local digits = int .. frac
  local ax = math.abs(x)
  if ax >= 1e-3 and ax < 1e7 then
    local point = exp + 1 -- digits before the point
    if point <= 0 then
      return sign .. "0." .. string.rep("0", -point) .. digits
    elseif point >= #digits then
      return sign .. digits .. string.rep("0", point - #digits) .. ".0"
    end
    return sign .. digits:sub(1, point) .. "." .. digits:sub(point + 1)
  end
  return sign .. int .. "." .. (frac == "" and "0" or frac) .. "E" .. exp
end

--- A Lua value as a CQL literal for schema options: strings quoted,
-- booleans and numbers bare (`double = true` forces the Java double
-- format), maps as `{'k': 'v'}` with keys sorted (how Cassandra stores them).
-- @param v
-- @tparam[opt] boolean double
-- @treturn string
function M.protect_value(v, double)
  local t = type(v)
  if t == "string" then return M.quote_string(v) end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if double then return M.format_double(v) end
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", v) end
    return M.format_double(v)
  end
  if t == "cdata" then return (tostring(v):gsub("[UL]+$", "")) end
  if t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for i, k in ipairs(keys) do parts[i] = M.quote_string(k) .. ": " .. M.protect_value(v[k]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  if v == nil then return "null" end
  return M.quote_string(tostring(v))
end

--- Reads a double-quoted identifier of `s` whose opening quote is at `i`
-- (doubled quotes inside stand for one); returns the name and the index
-- just after the closing quote (past the end when unterminated).
function M.read_quoted(s, i)
  local j, n, buf = i + 1, #s, {}
  while j <= n do
    local d = s:sub(j, j)
    if d == '"' then
      if s:sub(j + 1, j + 1) ~= '"' then break end
      buf[#buf + 1] = '"'
      j = j + 2
    else
      buf[#buf + 1] = d
      j = j + 1
    end
  end
  return table.concat(buf), j + 1
end

return M
