--- Text and binary forms of IPv4 and IPv6 addresses (CQL `inet`).
-- The family follows from the text (a ':' means IPv6) or from the length
-- (4 or 16 bytes). IPv6 text is written as RFC 5952 says: lowercase, no
-- leading zeros, the longest run of two or more zero groups as "::" (the
-- first on a tie), and IPv4-mapped addresses as "::ffff:1.2.3.4".
-- @module cql.util.inet
local byte, char, format, concat = string.byte, string.char, string.format, table.concat
local tonumber, type = tonumber, type

local M = {}

local function v4(s)
  local a, b, c, d = s:match("^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return char(a, b, c, d)
end

local function groups(part, out)
  if part == "" then return true end
  for g in (part .. ":"):gmatch("([^:]*):") do
    if not g:match("^%x%x?%x?%x?$") then return false end
    out[#out + 1] = tonumber(g, 16)
  end
  return true
end

local function v6(s)
  local tail4 = ""
  -- An embedded IPv4 suffix stands for the last two groups.
  local head, quad = s:match("^(.*:)(%d+%.%d+%.%d+%.%d+)$")
  if head then
    tail4 = v4(quad)
    if not tail4 then return nil end
    s = head:sub(-2) == "::" and head or head:sub(1, -2)
  end
  local want = 8 - #tail4 / 2
  local left, right = s:match("^(.-)::(.*)$")
  local g = {}
  if left then
    if right:find("::", 1, true) then return nil end
    local l, r = {}, {}
    if not groups(left, l) or not groups(right, r) then return nil end
    if #l + #r >= want then return nil end
    for i = 1, #l do g[#g + 1] = l[i] end
    for _ = 1, want - #l - #r do g[#g + 1] = 0 end
    for i = 1, #r do g[#g + 1] = r[i] end
  else
    if not groups(s, g) or #g ~= want then return nil end
  end
  local out = {}
  for i = 1, #g do out[i] = char(math.floor(g[i] / 256), g[i] % 256) end
  return concat(out) .. tail4
end

--- The 4 or 16 network-order bytes of an address string; raises on a
-- malformed address.
-- @tparam string s "10.0.0.1" or "2001:db8::1"
-- @treturn string
function M.inet_pton(s)
  if type(s) ~= "string" then error("inet_pton: expected an address string, got " .. type(s), 2) end
  local b
  if s:find(":", 1, true) then b = v6(s) else b = v4(s) end
  if not b then error("inet_pton: illegal IP address string '" .. s .. "'", 2) end
  return b
end

--- Like inet_pton but returns nil and a message instead of raising.
function M.parse(s)
  local b
  if s:find(":", 1, true) then b = v6(s) else b = v4(s) end
  if not b then return nil, "illegal IP address string '" .. s .. "'" end
  return b
end

--- The text of a 4 or 16 byte address.
-- @tparam string b
-- @treturn string
function M.inet_ntop(b)
  if type(b) ~= "string" or (#b ~= 4 and #b ~= 16) then
    error("inet_ntop: expected 4 or 16 bytes, got " .. (type(b) == "string" and #b or type(b)), 2)
  end
  if #b == 4 then return format("%d.%d.%d.%d", byte(b, 1, 4)) end
  local g = {}
  for i = 1, 8 do
    local hi, lo = byte(b, 2 * i - 1, 2 * i)
    g[i] = hi * 256 + lo
  end
  if g[1] == 0 and g[2] == 0 and g[3] == 0 and g[4] == 0 and g[5] == 0 and g[6] == 0xffff then
    return format("::ffff:%d.%d.%d.%d", byte(b, 13, 16))
  end
  -- Longest run of zero groups (length >= 2), first one on a tie.
  local best, bestlen, i = 0, 0, 1
  while i <= 8 do
    if g[i] == 0 then
      local j = i
      while j <= 8 and g[j] == 0 do j = j + 1 end
      if j - i > bestlen then best, bestlen = i, j - i end
      i = j
    else
      i = i + 1
    end
  end
  local parts = {}
  if bestlen < 2 then
    for k = 1, 8 do parts[k] = format("%x", g[k]) end
    return concat(parts, ":")
  end
  local left, right = {}, {}
  for k = 1, best - 1 do left[#left + 1] = format("%x", g[k]) end
  for k = best + bestlen, 8 do right[#right + 1] = format("%x", g[k]) end
  return concat(left, ":") .. "::" .. concat(right, ":")
end

return M
