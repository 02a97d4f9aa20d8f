--- The seed's `cassandra.util`: value types and helpers.
-- Value types: `UUID`, `Date`, `Time`, `Duration`, `Decimal`, `Varint`,
-- `SortedSet`, `OrderedMap`, `Version`, `Tuple`, `UserType` and `Blob`
-- (marks for `%s` parameters); time helpers over datetime tables
-- `{year, month, day, hour, min, sec, msec}` (UTC); `inet_pton`/`inet_ntop`;
-- the `EMPTY` sentinel. Each lives in a module under `cql.util.`; this one
-- gathers them under the seed's names.
-- @module cql.util
local uuid = require "cql.util.uuid"
local datetime = require "cql.util.datetime"
local duration = require "cql.util.duration"
local numeric = require "cql.util.numeric"
local collections = require "cql.util.collections"
local inet = require "cql.util.inet"
local version = require "cql.util.version"
local sentinels = require "cql.util.sentinels"
local compare = require "cql.util.compare"
local structs = require "cql.util.structs"

local M = {}

--- `UUID("hex")`; `UUID.from_bytes(b)` (a callable table, as the seed's class).
M.UUID = setmetatable({ from_bytes = uuid.from_bytes, is_uuid = uuid.is_uuid },
                      { __call = function(_, s) return uuid.UUID(s) end })
M.uuid4 = uuid.uuid4
M.uuid_from_time = uuid.uuid_from_time
M.min_uuid_from_time = uuid.min_uuid_from_time
M.max_uuid_from_time = uuid.max_uuid_from_time
M.unix_time_from_uuid1 = uuid.unix_time_from_uuid1
M.datetime_from_uuid1 = uuid.datetime_from_uuid1
M.LOWEST_TIME_UUID = uuid.LOWEST_TIME_UUID
M.HIGHEST_TIME_UUID = uuid.HIGHEST_TIME_UUID

M.Date = datetime.Date
M.Time = datetime.Time
M.datetime = datetime.datetime
M.datetime_from_timestamp = datetime.datetime_from_timestamp
M.utc_datetime_from_ms_timestamp = datetime.utc_datetime_from_ms_timestamp
M.ms_timestamp_from_datetime = datetime.ms_timestamp_from_datetime
M.parse_timestamp = datetime.parse_timestamp
--- The epoch as a datetime table (the seed's DATETIME_EPOC).
M.DATETIME_EPOC = datetime.datetime(1970, 1, 1)
M.UTC_DATETIME_EPOC = M.DATETIME_EPOC

M.Duration = duration.Duration
M.Varint = numeric.Varint
M.varint_from_bytes = numeric.varint_from_bytes
M.Decimal = numeric.Decimal
M.decimal_from_parts = numeric.decimal_from_parts

M.SortedSet = collections.SortedSet
M.sortedset = collections.SortedSet
M.OrderedMap = collections.OrderedMap

M.inet_pton = inet.inet_pton
M.inet_ntop = inet.inet_ntop
M.Version = version.Version
M.EMPTY = sentinels.EMPTY
M.Tuple = structs.Tuple
M.UserType = structs.UserType
M.Blob = structs.Blob

--- Total order and deep equality over driver values (see `cql.util.compare`).
M.compare = compare.compare
M.equal = compare.equal

return M
