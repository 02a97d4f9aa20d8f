--- Sentinel values the codec recognises.
-- `EMPTY` encodes a zero-length value (legal for every type in CQL, and
-- what the seed's `cqltypes.EMPTY` stands for); `UNSET_VALUE` leaves a bound
-- parameter unset (protocol v4+), as the seed's `query.UNSET_VALUE`.
-- @module cql.util.sentinels
local M = {}

--- The empty value.
M.EMPTY = setmetatable({}, { __tostring = function() return "EMPTY" end })
--- An unset bound parameter.
M.UNSET_VALUE = setmetatable({}, { __tostring = function() return "UNSET_VALUE" end })
--- A null where Lua cannot hold nil: a value in a table of changes
-- (`update{name = cqlengine.NULL}`, the seed's `update(name=None)`).
M.NULL = setmetatable({}, { __tostring = function() return "NULL" end })

return M
