--- cqlua: a driver for Apache Cassandra.
-- The top-level module holds what the seed's `cassandra` package holds:
-- the version and `ConsistencyLevel`. Clusters and sessions live in
-- `cql.cluster`, statements in `cql.query`.
-- @module cql
local ffi = require "ffi"
local core = require "cql.core"

local cql = {}

--- The library version, "MAJOR.MINOR.PATCH", from the C core.
cql.version = ffi.string(core.C.cqlua_version())

--- Consistency levels with their protocol codes, as in the seed.
-- `ConsistencyLevel.QUORUM == 4`; `ConsistencyLevel.value_to_name[4] == "QUORUM"`.
local ConsistencyLevel = {
  ANY = 0, ONE = 1, TWO = 2, THREE = 3, QUORUM = 4, ALL = 5,
  LOCAL_QUORUM = 6, EACH_QUORUM = 7, SERIAL = 8, LOCAL_SERIAL = 9, LOCAL_ONE = 10,
}
local value_to_name, name_to_value = {}, {}
for name, value in pairs(ConsistencyLevel) do
  value_to_name[value] = name
  name_to_value[name] = value
end
ConsistencyLevel.value_to_name = value_to_name
ConsistencyLevel.name_to_value = name_to_value
cql.ConsistencyLevel = ConsistencyLevel

return cql
