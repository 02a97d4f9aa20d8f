--- The seed's `Version`: a parsed server version for comparisons.
-- "4.0.1", "3.11.4.1", "4.0-beta4", "4-a": major, minor, patch, build
-- (a number, or a string when not numeric) and prerelease; a version
-- without prerelease is greater than the same version with one.
-- @module cql.util.version
local tonumber, type, tostring, setmetatable = tonumber, type, tostring, setmetatable

local M = {}

local Version = {}
Version.__index = Version

--- Parses a version string; raises when it does not start with a number.
-- @tparam string s
-- @treturn Version
function M.Version(s)
  if type(s) ~= "string" then error("Version: expected a string, got " .. type(s), 2) end
  local main, pre = s:match("^([^-]*)%-(.*)$")
  if not main then main = s end
  local parts = {}
  for p in (main .. "."):gmatch("([^.]*)%.") do parts[#parts + 1] = p end
  local major = tonumber(parts[1])
  if not major then error("Couldn't parse version " .. s .. ". Version should start with a number", 2) end
  local v = setmetatable({ _version = s, major = major, minor = 0, patch = 0, build = 0,
                           prerelease = pre or 0 }, Version)
  v.minor = tonumber(parts[2]) or 0
  v.patch = tonumber(parts[3]) or 0
  if parts[4] then v.build = tonumber(parts[4]) or parts[4] end
  return v
end

local function cmp_build(a, b)
  if type(a) == type(b) then
    if a == b then return 0 end
    return a < b and -1 or 1
  end
  -- A numeric build sorts before a textual one (as the seed does).
  return type(a) == "number" and -1 or 1
end

local function cmp_pre(a, b)
  if a == b then return 0 end
  if a == 0 then return 1 end
  if b == 0 then return -1 end
  return tostring(a) < tostring(b) and -1 or 1
end

local function compare(a, b)
  for _, f in ipairs({ "major", "minor", "patch" }) do
    if a[f] ~= b[f] then return a[f] < b[f] and -1 or 1 end
  end
  local c = cmp_build(a.build, b.build)
  if c ~= 0 then return c end
  return cmp_pre(a.prerelease, b.prerelease)
end

Version.__eq = function(a, b) return compare(a, b) == 0 end
Version.__lt = function(a, b) return compare(a, b) < 0 end
Version.__le = function(a, b) return compare(a, b) <= 0 end
Version.__tostring = function(v) return v._version end

return M
