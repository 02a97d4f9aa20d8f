--- Column types of the ORM (the seed's `cqlengine.columns`).
--
-- Each type is a constructor taking one table: named entries are options,
-- positional entries are the element types of containers (a column type
-- or a column):
--
--    columns.Text { required = true, max_length = 64 }
--    columns.Integer { primary_key = true, clustering_order = "desc" }
--    columns.List { columns.Integer }
--    columns.Map { columns.Text, columns.Set { columns.Integer } }
--    columns.Tuple { columns.Integer, columns.Text }
--    columns.UserDefinedType { Address }  -- a cql.cqlengine.usertype type
--
-- Options of every column: `primary_key` (the first primary key column
-- is the partition key unless some column says `partition_key`; the other
-- primary key columns are clustering columns), `partition_key`,
-- `clustering_order` ("asc" or "desc", clustering columns only), `index`
-- (a secondary index; `sync_table` creates it), `static`, `required`
-- (saving without a value is a ValidationError), `default` (a value, or a
-- function called for each new instance), `db_field` (the column's name
-- in the table, when the field's name differs), `validator` (a function
-- `(value) -> ok, message` for a rule of your own: rule "custom"), and
-- `discriminator_column` (the column naming the class of a row in a
-- polymorphic model). `Text` and `Ascii` also take `min_length` and
-- `max_length`.
--
-- Types: Text, Ascii, Integer (int), BigInt, VarInt, SmallInt, TinyInt,
-- Float, Double, Decimal, Boolean, Blob, Date, Time, DateTime
-- (timestamp), Duration, UUID, TimeUUID, Inet, Counter, List, Set, Map,
-- Tuple, UserDefinedType. Values are those of `cql.codec`; validation
-- accepts what the codec encodes and normalises text forms (a UUID
-- string becomes a `UUID`, a date string a `Date`...).
-- @module cql.cqlengine.columns
local ffi = require "ffi"
local cqlengine = require "cql.cqlengine"
local util = require "cql.util"
local uuid = require "cql.util.uuid"
local datetime = require "cql.util.datetime"
local duration = require "cql.util.duration"
local numeric = require "cql.util.numeric"
local collections = require "cql.util.collections"
local structs = require "cql.util.structs"

local M = {}

local int64_t, uint64_t = ffi.typeof("int64_t"), ffi.typeof("uint64_t")
local floor = math.floor

--- The base of every column: methods shared by all types.
local Column = {}
M.Column = Column

local OPTIONS = {
  primary_key = true, partition_key = true, clustering_order = true, index = true, static = true,
  required = true, default = true, db_field = true, validator = true, discriminator_column = true,
  min_length = true, max_length = true,
}

local function is_type(v) return type(v) == "table" and rawget(v, "is_column_type") == true end
local function is_column(v) return type(v) == "table" and getmetatable(v) and is_type(getmetatable(v)) or false end

--- True when `v` is a column (made by one of the constructors).
M.is_column = is_column

-- A positional entry as a column: a type (instantiated without options) or
-- a column.
local function as_column(v, fname, i)
  if is_type(v) then return v {} end
  if is_column(v) then return v end
  error(("bad argument #1 to '%s' (entry %d: a column type expected, got %s)"):format(fname, i, type(v)), 3)
end

local function define(name, db_type, check, extra)
  local T = { is_column_type = true, type_name = name, db_type = db_type, check = check }
  for k, v in pairs(extra or {}) do T[k] = v end
  T.__index = T
  setmetatable(T, {
    __index = Column,
    __call = function(cls, opts)
      if opts ~= nil and type(opts) ~= "table" then
        error(("bad argument #1 to '%s' (table of options expected, got %s)"):format(name, type(opts)), 2)
      end
      opts = opts or {}
      local col = setmetatable({ subs = {} }, cls)
      for k, v in pairs(opts) do
        if type(k) == "number" then
          col.subs[k] = as_column(v, name, k)
        elseif OPTIONS[k] then
          col[k] = v
        else
          error(("bad argument #1 to '%s' (unknown option '%s')"):format(name, tostring(k)), 2)
        end
      end
      if col.partition_key then col.primary_key = true end
      if col.clustering_order ~= nil then
        local o = type(col.clustering_order) == "string" and col.clustering_order:lower()
        if o ~= "asc" and o ~= "desc" then
          error(("bad argument #1 to '%s' (clustering_order must be 'asc' or 'desc')"):format(name), 2)
        end
        col.clustering_order = o
      end
      if col.validator ~= nil and type(col.validator) ~= "function" then
        error(("bad argument #1 to '%s' (validator must be a function)"):format(name), 2)
      end
      if col.db_field ~= nil and (type(col.db_field) ~= "string" or col.db_field == "") then
        error(("bad argument #1 to '%s' (db_field must be a non-empty string)"):format(name), 2)
      end
      if cls.init then cls.init(col, name) end
      return col
    end,
  })
  M[name] = T
  return T
end

--- The column's CQL type as written in CREATE TABLE (collections in
-- primary keys are frozen).
-- @treturn string
function Column:cql_type()
  local t = self:type_text()
  if self.primary_key and self.is_collection then return "frozen<" .. t .. ">" end
  return t
end

--- The CQL type of the column's values (a collection unfrozen).
-- @local
function Column:type_text()
  return self.db_type
end

--- The type as an element of another type: collections frozen.
-- @local
function Column:inner_type()
  local t = self:type_text()
  if self.is_collection then return "frozen<" .. t .. ">" end
  return t
end

--- The default value for a new instance (the function called, a table
-- copied), or nil.
function Column:get_default()
  local d = self.default
  if type(d) == "function" then return d() end
  if type(d) == "table" and getmetatable(d) == nil then
    local c = {}
    for k, v in pairs(d) do c[k] = v end
    return c
  end
  return d
end

-- Raises a ValidationError naming the field and the rule.
local function fail(label, rule, what)
  local model, field = label:match("^([^%.]+)%.(.*)$")
  cqlengine.raise(cqlengine.ValidationError, ("%s: %s (rule '%s')"):format(label, what, rule),
                  { model = model, field = field or label, rule = rule }, 4)
end
M.fail = fail

local function describe(v)
  if type(v) == "string" then return ("%q"):format(#v > 40 and v:sub(1, 40) .. "..." or v) end
  return type(v) == "cdata" and tostring(ffi.typeof(v)) or type(v)
end

--- Checks a value against the column's rules and returns it in the form
-- sent to the server (text forms parsed, user types as plain tables). nil
-- is allowed unless the column is required. Raises a ValidationError
-- naming `label` (e.g. "User.age") and the rule.
-- @param value
-- @tparam string label
-- @return the value to bind
function Column:validate(value, label)
  label = label or self.name or "?"
  if value == nil then
    if self.required then fail(label, "required", "a value is required") end
    return nil
  end
  local v = self:check(value, label)
  if self.validator then
    local ok, msg = self.validator(value)
    if not ok then fail(label, "custom", msg or "rejected by the column's validator") end
  end
  return v
end

--- Converts a value read from the server into the instance's value (user
-- types become instances of their UserType class).
-- @param v
-- @return the value
function Column:to_python(v) -- luacheck: ignore 212
  return v
end

local function integral(v) return type(v) == "number" and v == floor(v) and v == v end

local function int_checker(lo, hi, cql)
  return function(_, v, label)
    if type(v) == "cdata" and (ffi.istype(int64_t, v) or ffi.istype(uint64_t, v)) then
      if v < lo or v > hi then fail(label, "range", ("%s out of range for %s"):format(tostring(v), cql)) end
      return tonumber(v)
    end
    if not integral(v) then fail(label, "type", "an integer expected, got " .. describe(v)) end
    if v < lo or v > hi then fail(label, "range", ("%s out of range for %s"):format(tostring(v), cql)) end
    return v
  end
end

local function bigint_check(_, v, label)
  if type(v) == "cdata" and ffi.istype(int64_t, v) then return v end
  if type(v) == "cdata" and ffi.istype(uint64_t, v) then
    if v > 0x7fffffffffffffffULL then fail(label, "range", tostring(v) .. " out of range for bigint") end
    return int64_t(v)
  end
  if not integral(v) then fail(label, "type", "an integer expected, got " .. describe(v)) end
  if v >= 2 ^ 63 or v < -2 ^ 63 then fail(label, "range", tostring(v) .. " out of range for bigint") end
  return v
end

local function text_check(self, v, label)
  if type(v) ~= "string" then fail(label, "type", "a string expected, got " .. describe(v)) end
  local min = self.min_length
  if min == nil and self.required then min = 1 end
  if min and #v < min then fail(label, "min_length", ("length %d is below %d"):format(#v, min)) end
  if self.max_length and #v > self.max_length then
    fail(label, "max_length", ("length %d is above %d"):format(#v, self.max_length))
  end
  return v
end

-- A value parsed by a constructor of cql.util, which raises for bad input.
local function parsed(ctor, is, what)
  return function(_, v, label)
    if is(v) then return v end
    local ok, r = pcall(ctor, v)
    if not ok then fail(label, "type", what .. " expected, got " .. describe(v)) end
    return r
  end
end

define("Text", "text", text_check)
define("Ascii", "ascii", function(self, v, label)
  text_check(self, v, label)
  if v:find("[\128-\255]") then fail(label, "ascii", "non-ASCII byte in an ascii value") end
  return v
end)
define("Integer", "int", int_checker(-2 ^ 31, 2 ^ 31 - 1, "int"))
define("SmallInt", "smallint", int_checker(-32768, 32767, "smallint"))
define("TinyInt", "tinyint", int_checker(-128, 127, "tinyint"))
define("BigInt", "bigint", bigint_check)
define("Counter", "counter", bigint_check)
define("VarInt", "varint", parsed(numeric.Varint, numeric.is_varint, "a Varint, an integer or digits"))
local function float_check(_, v, label)
  if type(v) ~= "number" then fail(label, "type", "a number expected, got " .. describe(v)) end
  return v
end
define("Float", "float", float_check)
define("Double", "double", float_check)
define("Decimal", "decimal", parsed(numeric.Decimal, numeric.is_decimal, "a Decimal, a number or digits"))
define("Boolean", "boolean", function(_, v, label)
  if type(v) ~= "boolean" then fail(label, "type", "a boolean expected, got " .. describe(v)) end
  return v
end)
define("Blob", "blob", function(_, v, label)
  if getmetatable(v) == structs.BlobClass then return v.bytes end
  if type(v) ~= "string" then fail(label, "type", "a string of bytes expected, got " .. describe(v)) end
  return v
end)
M.Bytes = M.Blob
define("Date", "date", parsed(datetime.Date, datetime.is_date, "a Date, a day count, 'YYYY-MM-DD' or a date table"))
define("Time", "time", parsed(datetime.Time, datetime.is_time, "a Time, nanoseconds or 'HH:MM:SS'"))
define("DateTime", "timestamp", function(_, v, label)
  if type(v) == "cdata" and ffi.istype(int64_t, v) then return v end
  if type(v) == "number" then return v end
  if type(v) == "string" then
    local ok, ts = pcall(datetime.parse_timestamp, v)
    if not ok or ts == nil then fail(label, "type", "unreadable timestamp " .. describe(v)) end
    return ts
  end
  if datetime.is_datetime(v) then return v end
  fail(label, "type", "milliseconds, an int64, a datetime table or an ISO 8601 string expected, got " .. describe(v))
end)
define("Duration", "duration", parsed(duration.Duration, duration.is_duration, "a Duration or a duration string"))
local uuid_check = parsed(uuid.UUID, uuid.is_uuid, "a UUID or its text")
define("UUID", "uuid", uuid_check)
define("TimeUUID", "timeuuid", function(self, v, label)
  local u = uuid_check(self, v, label)
  if u.version ~= 1 then fail(label, "type", "a version 1 (time) UUID expected, got version " .. u.version) end
  return u
end)
define("Inet", "inet", function(_, v, label)
  if type(v) ~= "string" or not pcall(util.inet_pton, v) then
    fail(label, "type", "an IPv4 or IPv6 address expected, got " .. describe(v))
  end
  return v
end)

---------------------------------------------------------------------------
-- Containers
---------------------------------------------------------------------------

local MAX_ITEMS = 65535

local function need_subs(col, name, n)
  if #col.subs ~= n or (n == 0 and #col.subs == 0) then
    error(("bad argument #1 to '%s' (%d element type(s) expected, got %d)"):format(name, n, #col.subs), 3)
  end
  for _, s in ipairs(col.subs) do
    if s.primary_key or s.index or s.static or s.db_field then
      error(("bad argument #1 to '%s' (element types take no column options)"):format(name), 3)
    end
    if s.db_type == "counter" then error(("bad argument #1 to '%s' (counters cannot be elements)"):format(name), 3) end
  end
end

local function list_len(v)
  local n = v.n or #v
  return n
end

define("List", "list", function(self, v, label)
  if type(v) ~= "table" or getmetatable(v) then fail(label, "type", "an array expected, got " .. describe(v)) end
  local n = list_len(v)
  if n > MAX_ITEMS then fail(label, "size", ("%d items, more than %d"):format(n, MAX_ITEMS)) end
  local out = { n = n }
  for i = 1, n do
    if v[i] == nil then fail(label, "type", ("item %d is nil: a list cannot hold null"):format(i)) end
    out[i] = self.subs[1]:validate(v[i], ("%s[%d]"):format(label, i))
  end
  return out
end, {
  is_collection = true,
  init = function(col, name) need_subs(col, name, 1) end,
  type_text = function(self) return "list<" .. self.subs[1]:inner_type() .. ">" end,
  to_python = function(self, v)
    if v == nil then return nil end
    for i = 1, (v.n or #v) do v[i] = self.subs[1]:to_python(v[i]) end
    return v
  end,
})

define("Set", "set", function(self, v, label)
  local items
  if collections.is_sortedset(v) then
    items = v:items()
  elseif type(v) == "table" and not getmetatable(v) then
    if next(v) ~= nil and v[1] == nil then
      items = {}
      for k, x in pairs(v) do
        if x ~= true then fail(label, "type", "an array or a table of value = true expected") end
        items[#items + 1] = k
      end
    else
      items = v
    end
  else
    fail(label, "type", "a SortedSet, an array or a table of value = true expected, got " .. describe(v))
  end
  if #items > MAX_ITEMS then fail(label, "size", ("%d items, more than %d"):format(#items, MAX_ITEMS)) end
  local out = {}
  for i = 1, #items do out[i] = self.subs[1]:validate(items[i], ("%s{%d}"):format(label, i)) end
  return out
end, {
  is_collection = true,
  init = function(col, name) need_subs(col, name, 1) end,
  type_text = function(self) return "set<" .. self.subs[1]:inner_type() .. ">" end,
  to_python = function(self, v)
    if v == nil or not self.subs[1].converts then return v end
    local out = collections.SortedSet()
    for _, x in ipairs(v:items()) do out:add(self.subs[1]:to_python(x)) end
    return out
  end,
})

define("Map", "map", function(self, v, label)
  local out = collections.OrderedMap()
  local ksub, vsub = self.subs[1], self.subs[2]
  local function put(k, x)
    if x == nil then fail(label, "type", "a map cannot hold a null value") end
    out:set(ksub:validate(k, label .. "<key>"), vsub:validate(x, ("%s[%s]"):format(label, tostring(k))))
  end
  if collections.is_orderedmap(v) then
    for k, x in v:pairs() do put(k, x) end
  elseif type(v) == "table" and not getmetatable(v) then
    for k, x in pairs(v) do put(k, x) end
  else
    fail(label, "type", "an OrderedMap or a table expected, got " .. describe(v))
  end
  if out:len() > MAX_ITEMS then fail(label, "size", ("%d entries, more than %d"):format(out:len(), MAX_ITEMS)) end
  return out
end, {
  is_collection = true,
  init = function(col, name) need_subs(col, name, 2) end,
  type_text = function(self) return "map<" .. self.subs[1]:inner_type() .. ", " .. self.subs[2]:inner_type() .. ">" end,
  to_python = function(self, v)
    if v == nil or not (self.subs[1].converts or self.subs[2].converts) then return v end
    local out = collections.OrderedMap()
    for k, x in v:pairs() do out:set(self.subs[1]:to_python(k), self.subs[2]:to_python(x)) end
    return out
  end,
})

define("Tuple", "tuple", function(self, v, label)
  if type(v) ~= "table" or (getmetatable(v) and getmetatable(v) ~= structs.TupleClass) then
    fail(label, "type", "an array expected, got " .. describe(v))
  end
  local n = v.n or #v
  if n > #self.subs then fail(label, "size", ("%d items for a tuple of %d"):format(n, #self.subs)) end
  local out = { n = #self.subs }
  for i = 1, #self.subs do
    if v[i] ~= nil then out[i] = self.subs[i]:validate(v[i], ("%s[%d]"):format(label, i)) end
  end
  return out
end, {
  init = function(col, name)
    if #col.subs == 0 then error(("bad argument #1 to '%s' (element types expected)"):format(name), 3) end
    need_subs(col, name, #col.subs)
  end,
  type_text = function(self)
    local parts = {}
    for i, s in ipairs(self.subs) do parts[i] = s:inner_type() end
    return "frozen<tuple<" .. table.concat(parts, ", ") .. ">>"
  end,
  to_python = function(self, v)
    if v == nil then return nil end
    for i, s in ipairs(self.subs) do v[i] = s:to_python(v[i]) end
    return v
  end,
})

define("UserDefinedType", "udt", function(self, v, label)
  return self.user_type:validate_value(v, label)
end, {
  init = function(col, name)
    local ut = col.subs[1]
    -- The positional entry is a UserType class, not a column: as_column
    -- would reject it, so constructors see it raw (see below).
    if ut == nil then error(("bad argument #1 to '%s' (a UserType class expected)"):format(name), 3) end
    col.user_type = ut
    col.subs = {}
  end,
  type_text = function(self) return "frozen<" .. self.user_type.__type_name .. ">" end,
  to_python = function(self, v) return self.user_type:from_db(v) end,
  converts = true,
})

-- UserDefinedType takes a UserType class as its positional entry; the
-- generic constructor expects columns there, so it gets its own.
do
  local T = M.UserDefinedType
  local generic = getmetatable(T).__call
  getmetatable(T).__call = function(cls, opts)
    if type(opts) ~= "table" then
      error("bad argument #1 to 'UserDefinedType' ({UserTypeClass, options...} expected)", 2)
    end
    local ut = opts[1]
    if type(ut) ~= "table" or not ut.is_user_type then
      error("bad argument #1 to 'UserDefinedType' (entry 1: a cql.cqlengine.usertype class expected)", 2)
    end
    local rest = {}
    for k, v in pairs(opts) do if k ~= 1 then rest[k] = v end end
    local col = generic(cls, rest)
    col.user_type = ut
    return col
  end
  T.init = nil
end

-- Containers convert when an element does (a user type somewhere inside).
for _, name in ipairs { "List", "Set", "Map", "Tuple" } do
  local T = M[name]
  local init = T.init
  T.init = function(col, n)
    init(col, n)
    for _, s in ipairs(col.subs) do
      if s.converts then col.converts = true end
    end
  end
end

--- Every column type by its constructor name.
-- @table types
M.types = {}
for k, v in pairs(M) do if is_type(v) then M.types[k] = v end end

return M
