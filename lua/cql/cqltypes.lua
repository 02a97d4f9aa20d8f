--- The seed's `cassandra.cqltypes`: CQL type objects.
--
-- A type object wraps a C type tree (`const cq_type *`) and keeps its owner
-- (the arena it lives in) alive. Fields, as the seed's classes have them:
-- `typename` (CQL name: "int", "map", the UDT's name, a custom type's
-- class), `cassname` (marshal class short name: "Int32Type", "MapType"),
-- `subtypes` (array of type objects), `fieldnames` (UDT), `keyspace` and
-- `name` (UDT), `vector_size` (vector), `frozen`, `reversed` (booleans),
-- `kind` (the protocol option id). Methods: `cql_parameterized_type()`,
-- `cass_parameterized_type(full)`, `serialize(value, protocol_version)`,
-- `deserialize(bytes, protocol_version)`, `serial_size()`; `==` is
-- structural equality and tostring gives the CQL spelling.
--
-- Frozen-ness is a flag here, not a FrozenType wrapper: `frozen<list<int>>`
-- has typename "list" and `frozen == true`; its class form still reads
-- "FrozenType(ListType(Int32Type))". See `cql.codec` for the Lua value each
-- type maps to.
-- @module cql.cqltypes
local ffi = require "ffi"
local core = require "cql.core"
local codec = require "cql.codec"
local sentinels = require "cql.util.sentinels"

local C = core.C
local T = codec.type_kinds
local ffi_string = ffi.string
local type, setmetatable, getmetatable, tostring, error = type, setmetatable, getmetatable, tostring, error

local M = {}

--- Package prefix of Cassandra's marshal classes.
M.apache_cassandra_type_prefix = "org.apache.cassandra.db.marshal."
--- The empty value (see `cql.util.EMPTY`).
M.EMPTY = sentinels.EMPTY

local CassandraType = {}
CassandraType.__index = CassandraType
CassandraType.__name = "CassandraType"

local collection_class = {
  [T.LIST] = "ListType", [T.SET] = "SetType", [T.MAP] = "MapType", [T.TUPLE] = "TupleType",
  [T.UDT] = "UserType", [T.VECTOR] = "VectorType",
}

local function opt_string(p)
  if p == nil then return nil end
  return ffi_string(p)
end

--- Wraps a `const cq_type *` as a type object; `owner` is whatever keeps the
-- tree's memory alive (its arena, a result, a prepared statement).
-- @param t `const cq_type *`
-- @param owner
-- @treturn CassandraType
local function wrap(t, owner)
  local kind = tonumber(t.kind)
  local self = setmetatable({ _t = t, _owner = owner, kind = kind, frozen = t.frozen ~= 0,
                              reversed = t.reversed ~= 0 }, CassandraType)
  local subs = {}
  for i = 1, t.nsub do subs[i] = wrap(t.sub[i - 1], owner) end
  self.subtypes = subs
  if kind == T.UDT then
    local names = {}
    for i = 1, t.nsub do names[i] = ffi_string(t.field_names[i - 1]) end
    self.fieldnames = names
    self.keyspace = opt_string(t.keyspace)
    self.name = opt_string(t.name)
    self.typename = self.name
    self.cassname = "UserType"
  elseif kind == T.CUSTOM then
    self.typename = opt_string(t.custom_class)
    self.cassname = self.typename
  else
    self.typename = ffi_string(C.cq_type_kind_name(kind))
    if C.cq_type_kind_is_native(kind) ~= 0 then
      self.cassname = ffi_string(C.cq_type_kind_class(kind))
    else
      self.cassname = collection_class[kind]
    end
    if kind == T.VECTOR then
      self.vector_size = tonumber(t.dimension)
      self.subtype = subs[1]
    end
  end
  self.num_subtypes = #subs
  return self
end
M.wrap = wrap

--- True when `v` is a type object.
function M.is_type(v) return getmetatable(v) == CassandraType end

--- The CQL spelling: "map<text, int>", "frozen<tuple<int, text>>".
function CassandraType:cql_parameterized_type()
  return codec.type_cql(self._t)
end

--- The marshal class spelling; `full` qualifies every class with the
-- package, as the seed's `cass_parameterized_type(full=True)`.
-- @tparam[opt] boolean full
function CassandraType:cass_parameterized_type(full)
  -- The seed separates parameters with ", "; user type names and fields
  -- are hex, so no comma inside a name is touched.
  local s = codec.type_class(self._t):gsub(",", ", ")
  if full then return s end
  return (s:gsub("org%.apache%.cassandra%.db%.marshal%.", ""))
end

local function check_protocol(pv, fname)
  if pv ~= nil and (type(pv) ~= "number" or pv < 3) then
    error("bad argument #2 to '" .. fname .. "' (protocol version 3 or higher expected, got "
          .. tostring(pv) .. ")", 3)
  end
end

--- The encoder function of this type (see `cql.codec.encoder`), built once.
function CassandraType:encoder()
  local e = self._enc
  if not e then
    e = codec.encoder(self._t)
    self._enc = e
  end
  return e
end

--- The decoder function of this type (see `cql.codec.decoder`), built once.
function CassandraType:decoder()
  local d = self._dec
  if not d then
    d = codec.decoder(self._t)
    self._dec = d
  end
  return d
end

--- The serialised value body (no length prefix) as a Lua string; nil for a
-- nil value. Raises "bad value for <type>: ..." on misuse.
-- @param value a Lua value (see `cql.codec`)
-- @tparam[opt] number protocol_version 3 or higher (the format is the same)
-- @treturn string|nil
function CassandraType:serialize(value, protocol_version)
  check_protocol(protocol_version, "serialize")
  return codec.encode(self._t, self:encoder(), value)
end

--- The Lua value of a serialised body (nil for nil). Malformed bytes raise
-- "cannot decode <type>: ...".
-- @tparam string|nil bytes
-- @tparam[opt] number protocol_version
function CassandraType:deserialize(bytes, protocol_version)
  check_protocol(protocol_version, "deserialize")
  if bytes ~= nil and type(bytes) ~= "string" then
    error("bad argument #1 to 'deserialize' (string expected, got " .. type(bytes) .. ")", 2)
  end
  return codec.decode(self._t, self:decoder(), bytes)
end

--- The fixed size of this type inside a vector, or nil when variable.
function CassandraType:serial_size()
  local n = tonumber(C.cq_vector_elem_fixed_size(self._t))
  if n == 0 then return nil end
  return n
end

--- Equality ignoring frozen/reversed flags when `flags` asks (1: frozen, 2: reversed).
function CassandraType:equals(other, flags)
  return C.cq_type_equal_flags(self._t, other._t, flags or 0) ~= 0
end

CassandraType.__eq = function(a, b) return C.cq_type_equal_flags(a._t, b._t, 0) ~= 0 end
CassandraType.__tostring = function(a) return codec.type_cql(a._t) end

-- Parsing ------------------------------------------------------------------

local cache = setmetatable({}, { __mode = "v" })
local errbuf = ffi.new("char[256]")
local outp = ffi.new("const cq_type *[1]")

local function looks_like_class(s)
  return s:find("(", 1, true) ~= nil or s:find("^%s*org%.apache%.") ~= nil
    or s:find("^%s*[%w_]*Type%s*$") ~= nil
end

--- A type object from a marshal class name
-- ("org.apache.cassandra.db.marshal.MapType(UTF8Type,Int32Type)", short
-- names too) or a CQL type string ("frozen<map<text, list<int>>>",
-- "vector<float, 3>"); a type object is returned as is. An unparseable name
-- raises an error naming the offset. Results are cached per process.
-- @tparam string|CassandraType name
-- @treturn CassandraType
function M.lookup_casstype(name)
  if getmetatable(name) == CassandraType then return name end
  if type(name) ~= "string" then
    error("bad argument #1 to 'lookup_casstype' (string expected, got " .. type(name) .. ")", 2)
  end
  -- The seed's class names first (VarcharType is the seed's, not Cassandra's).
  local hit = cache[name] or (M._casstypes and M._casstypes[name])
  if hit then return hit end
  local arena = core.new_arena(0)
  local parse = looks_like_class(name) and C.cq_type_parse_class or C.cq_type_parse_cql
  local rc = parse(arena, name, #name, outp, errbuf, 256)
  if rc < 0 then
    error("lookup_casstype: don't know how to parse type string: " .. ffi_string(errbuf), 2)
  end
  local t = wrap(outp[0], arena)
  cache[name] = t
  return t
end

--- The CQL name of a marshal class name: `cql_typename('DateType') == 'timestamp'`.
function M.cql_typename(casstypename)
  return M.lookup_casstype(casstypename):cql_parameterized_type()
end

--- True for counter types (name or type object).
function M.is_counter_type(t)
  return M.lookup_casstype(t).kind == T.COUNTER
end

--- True when the type was wrapped in ReversedType (clustering order DESC).
function M.is_reversed_casstype(t)
  return M.lookup_casstype(t).reversed
end

--- 'frozen<tuple<int>>' -> 'tuple<int>'; other strings unchanged.
function M.strip_frozen(cql)
  local inner = cql:match("^%s*[Ff][Rr][Oo][Zz][Ee][Nn]%s*<(.*)>%s*$")
  return inner or cql
end

-- Native types under the seed's class names ---------------------------------

local natives = {
  AsciiType = "ascii", LongType = "bigint", BytesType = "blob", BooleanType = "boolean",
  CounterColumnType = "counter", DecimalType = "decimal", DoubleType = "double",
  FloatType = "float", Int32Type = "int", DateType = "timestamp", TimestampType = "timestamp",
  UUIDType = "uuid", UTF8Type = "text", VarcharType = "text", IntegerType = "varint",
  TimeUUIDType = "timeuuid", InetAddressType = "inet", SimpleDateType = "date",
  TimeType = "time", ShortType = "smallint", ByteType = "tinyint", DurationType = "duration",
}

--- Registry of native types by CQL name (the seed's `_cqltypes`).
M._cqltypes = {}
--- Registry of native types by class name (the seed's `_casstypes`).
M._casstypes = {}
for class, cql in pairs(natives) do
  local t = M.lookup_casstype(cql)
  M[class] = t
  M._casstypes[class] = t
  M._cqltypes[cql] = t
end
M._cqltypes.varchar = M.UTF8Type

-- Parameterised types: `ListType.apply_parameters({Int32Type})` and the
-- call shorthand `ListType(Int32Type)`.
local function param_type(class, build)
  local p = { cassname = class }
  p.apply_parameters = function(subtypes, names)
    local subs = {}
    for i = 1, #subtypes do subs[i] = M.lookup_casstype(subtypes[i]):cass_parameterized_type(true) end
    return M.lookup_casstype(build(subs, names))
  end
  return setmetatable(p, { __call = function(_, ...) return p.apply_parameters({ ... }) end })
end

local prefix = M.apache_cassandra_type_prefix
local function simple(class)
  return function(subs) return prefix .. class .. "(" .. table.concat(subs, ",") .. ")" end
end
M.ListType = param_type("ListType", simple("ListType"))
M.SetType = param_type("SetType", simple("SetType"))
M.MapType = param_type("MapType", simple("MapType"))
M.TupleType = param_type("TupleType", simple("TupleType"))
M.FrozenType = param_type("FrozenType", simple("FrozenType"))
M.ReversedType = param_type("ReversedType", simple("ReversedType"))

--- `VectorType(FloatType, 3)`.
M.VectorType = setmetatable({ cassname = "VectorType" }, {
  __call = function(_, sub, n)
    return M.lookup_casstype(prefix .. "VectorType(" .. M.lookup_casstype(sub):cass_parameterized_type(true)
                             .. "," .. tostring(n) .. ")")
  end,
})

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

--- `UserType.make_udt_class(keyspace, name, field_names, field_types)`.
M.UserType = {
  cassname = "UserType",
  make_udt_class = function(keyspace, name, field_names, field_types)
    local parts = { keyspace, hex(name) }
    for i = 1, #field_names do
      parts[#parts + 1] = hex(field_names[i]) .. ":"
        .. M.lookup_casstype(field_types[i]):cass_parameterized_type(true)
    end
    return M.lookup_casstype(prefix .. "UserType(" .. table.concat(parts, ",") .. ")")
  end,
}

return M
