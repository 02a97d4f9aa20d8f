--- Marked tuples, user-type values and blobs, for client-side (`%s`)
-- parameters.
--
-- A plain Lua array is a list, a plain table a map and a string text, so a
-- simple statement's parameters need a mark for the CQL types that have
-- literals of their own: `Tuple(1, "a")` becomes `(1, 'a')`,
-- `UserType { x = 1 }` becomes `{x: 1}` and `Blob("\1\255")` becomes
-- `0x01ff`. Prepared statements know the
-- types of their markers and take plain tables as well as these.
-- @module cql.util.structs
local M = {}

local Tuple = { __name = "Tuple" }
Tuple.__index = Tuple

--- A tuple of the given values (nil included): an array with field n.
function M.Tuple(...)
  return setmetatable({ n = select("#", ...), ... }, Tuple)
end

local UserType = { __name = "UserType" }
UserType.__index = UserType

--- A user-type value from a table of field names to values.
function M.UserType(fields)
  if type(fields) ~= "table" then error("bad argument #1 to 'UserType' (table of fields expected)", 2) end
  local v = {}
  for k, x in pairs(fields) do
    if type(k) ~= "string" then error("bad argument #1 to 'UserType' (field names must be strings)", 2) end
    v[k] = x
  end
  return setmetatable(v, UserType)
end

local Blob = { __name = "Blob" }
Blob.__index = Blob

--- Bytes to be sent as a blob literal.
function M.Blob(bytes)
  if type(bytes) ~= "string" then error("bad argument #1 to 'Blob' (string expected)", 2) end
  return setmetatable({ bytes = bytes }, Blob)
end

M.TupleClass, M.UserTypeClass, M.BlobClass = Tuple, UserType, Blob
return M
