--- Conversion between Lua values and the C core's cells (`cq_cell`).
--
-- Decoding: the C core turns bytes into a flat cell array once
-- (`cq_value_decode`, `cq_rows_decode`); a decoder built here per type reads
-- the cells' fields straight through the FFI pointer, with no C call per
-- value. Encoding: an encoder built per type appends a Lua value as cells
-- (one `cq_cells_push` per container, byte values copied into one buffer),
-- then one `cq_value_encode` call checks and writes the bytes.
--
-- Value mapping (Lua side of each CQL type):
--
-- * ascii, text, blob, custom: string (encoding also takes `util.Blob`)
-- * boolean: boolean (encoding also takes a number: 0 is false)
-- * tinyint, smallint, int: number
-- * bigint, counter: int64 cdata (encoding takes an integral number within
--   int64 range, or int64/uint64 cdata in range; never a rounded value)
-- * timestamp: int64 cdata, milliseconds since the epoch (encoding also
--   takes a number of ms (truncated, as the seed does), a datetime table
--   `{year, month, day, hour, min, sec, msec}` or an ISO 8601 string)
-- * float, double: number (NaN and infinities included)
-- * varint: `Varint` (encoding: Varint, integral number, int64, digit string)
-- * decimal: `Decimal` (encoding: anything `Decimal()` takes)
-- * date: `Date` (encoding: Date, day count, 'YYYY-MM-DD', date table)
-- * time: `Time` (encoding: Time, nanoseconds, 'HH:MM:SS[.fffffffff]')
-- * duration: `Duration` (encoding: Duration or a duration string)
-- * uuid, timeuuid: `UUID` (encoding: UUID or its text)
-- * inet: string "1.2.3.4" / "::1"
-- * list: array with field n (nulls survive as holes)
-- * set: `SortedSet` (encoding: SortedSet, an array, or a table whose
--   values are all `true`)
-- * map: `OrderedMap` (encoding: OrderedMap or a plain table)
-- * tuple: array with n (encoding: array or `util.Tuple`; fewer items are
--   padded with nulls, more is an error)
-- * user type: table keyed by field name (encoding: by field names,
--   `util.UserType`, or an array by position; an unknown field name is an
--   error)
-- * vector: array with n (encoding: exactly `dimension` items)
-- * null: nil. An empty value of a non-string type decodes as nil (the
--   seed's default); `util.EMPTY` encodes one; `UNSET_VALUE` (top level
--   only) leaves a bound parameter unset.
--
-- Misuse raises "bad value for <type>: <what was wrong>".
-- @module cql.codec
local ffi = require "ffi"
local core = require "cql.core"
local cmp = require "cql.util.compare"
local numeric = require "cql.util.numeric"
local structs = require "cql.util.structs"
local uuid = require "cql.util.uuid"
local datetime = require "cql.util.datetime"
local duration = require "cql.util.duration"
local collections = require "cql.util.collections"
local inet = require "cql.util.inet"
local sentinels = require "cql.util.sentinels"

local C = core.C
local type, floor, format, tostring, tonumber, error, getmetatable, pairs, next =
  type, math.floor, string.format, tostring, tonumber, error, getmetatable, pairs, next
local ffi_string, ffi_copy, ffi_cast, istype = ffi.string, ffi.copy, ffi.cast, ffi.istype
local int64_t, uint64_t = ffi.typeof("int64_t"), ffi.typeof("uint64_t")
local u8ptr = ffi.typeof("const uint8_t *")
local EMPTY, UNSET = sentinels.EMPTY, sentinels.UNSET_VALUE

local ok_new, table_new = pcall(require, "table.new")
if not ok_new then table_new = function() return {} end end

local M = {}

-- Cell kinds (value.h cq_cell_kind).
local K_NULL, K_UNSET, K_EMPTY, K_INT, K_DOUBLE, K_BOOL, K_DATE, K_TIME, K_TIMESTAMP, K_DURATION,
      K_BYTES, K_DECIMAL, K_LIST, K_SET, K_MAP, K_TUPLE, K_UDT, K_VECTOR =
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17
M.cell_kinds = {
  NULL = K_NULL, UNSET = K_UNSET, EMPTY = K_EMPTY, INT = K_INT, DOUBLE = K_DOUBLE, BOOL = K_BOOL,
  DATE = K_DATE, TIME = K_TIME, TIMESTAMP = K_TIMESTAMP, DURATION = K_DURATION, BYTES = K_BYTES,
  DECIMAL = K_DECIMAL, LIST = K_LIST, SET = K_SET, MAP = K_MAP, TUPLE = K_TUPLE, UDT = K_UDT,
  VECTOR = K_VECTOR,
}

-- Type kinds (types.h cq_type_kind).
local T = {
  CUSTOM = 0x00, ASCII = 0x01, BIGINT = 0x02, BLOB = 0x03, BOOLEAN = 0x04, COUNTER = 0x05,
  DECIMAL = 0x06, DOUBLE = 0x07, FLOAT = 0x08, INT = 0x09, TIMESTAMP = 0x0B, UUID = 0x0C,
  VARCHAR = 0x0D, VARINT = 0x0E, TIMEUUID = 0x0F, INET = 0x10, DATE = 0x11, TIME = 0x12,
  SMALLINT = 0x13, TINYINT = 0x14, DURATION = 0x15, LIST = 0x20, MAP = 0x21, SET = 0x22,
  UDT = 0x30, TUPLE = 0x31, VECTOR = 0x100,
}
M.type_kinds = T

-- Text forms of types, for messages and cqltypes ---------------------------

local scratch = core.new_buf()

--- The CQL spelling of a `const cq_type *` ("map<text, int>").
function M.type_cql(t)
  C.cq_buf_reset(scratch)
  C.cq_type_to_cql(scratch, t)
  return ffi_string(scratch.data, scratch.len)
end

--- The fully qualified marshal class of a `const cq_type *`.
function M.type_class(t)
  C.cq_buf_reset(scratch)
  C.cq_type_to_class(scratch, t)
  return ffi_string(scratch.data, scratch.len)
end

-- Decoders -------------------------------------------------------------------

local TWO53 = 2 ^ 53
local Varint_wire, Decimal_wire = numeric.varint_from_wire, numeric.decimal_from_wire
local uuid_wrap, date_from_days, time_from_ns = uuid.wrap, datetime.date_from_days, datetime.time_from_ns
local duration_parts = duration.from_parts
local ntop = inet.inet_ntop
local sortedset_from_items, orderedmap_from_arrays = collections.sortedset_from_items,
  collections.orderedmap_from_arrays

local build_decoder

local function dec_int(v, i)
  if v[i].kind == K_INT then return tonumber(v[i].i) end
  return nil
end
local function dec_int64(v, i)
  if v[i].kind == K_INT then return v[i].i end
  return nil
end
local function dec_timestamp(v, i)
  if v[i].kind == K_TIMESTAMP then return v[i].i end
  return nil
end
local function dec_double(v, i)
  if v[i].kind == K_DOUBLE then return v[i].d end
  return nil
end
local function dec_bool(v, i)
  if v[i].kind == K_BOOL then return v[i].i ~= 0 end
  return nil
end
local function dec_bytes(v, i, base)
  local c = v[i]
  if c.kind == K_BYTES then return ffi_string(base + c.off, c.len) end
  return nil
end
local function dec_uuid(v, i, base)
  local c = v[i]
  if c.kind == K_BYTES then return uuid_wrap(ffi_string(base + c.off, 16)) end
  return nil
end
local function dec_inet(v, i, base)
  local c = v[i]
  if c.kind == K_BYTES then return ntop(ffi_string(base + c.off, c.len)) end
  return nil
end
local function dec_varint(v, i, base)
  local c = v[i]
  if c.kind == K_BYTES then return Varint_wire(ffi_string(base + c.off, c.len)) end
  return nil
end
local function dec_decimal(v, i, base)
  local c = v[i]
  if c.kind == K_DECIMAL then return Decimal_wire(c.a, ffi_string(base + c.off, c.len)) end
  return nil
end
local function dec_date(v, i)
  if v[i].kind == K_DATE then return date_from_days(tonumber(v[i].i)) end
  return nil
end
local function dec_time(v, i)
  if v[i].kind == K_TIME then return time_from_ns(tonumber(v[i].i)) end
  return nil
end
local function dec_duration(v, i)
  local c = v[i]
  if c.kind == K_DURATION then
    local n = c.i
    if n >= -TWO53 and n <= TWO53 then n = tonumber(n) end
    return duration_parts(c.a, c.b, n)
  end
  return nil
end

local native_decoders = {
  [T.ASCII] = dec_bytes, [T.VARCHAR] = dec_bytes, [T.BLOB] = dec_bytes, [T.CUSTOM] = dec_bytes,
  [T.BIGINT] = dec_int64, [T.COUNTER] = dec_int64, [T.INT] = dec_int, [T.SMALLINT] = dec_int,
  [T.TINYINT] = dec_int, [T.TIMESTAMP] = dec_timestamp, [T.DOUBLE] = dec_double,
  [T.FLOAT] = dec_double, [T.BOOLEAN] = dec_bool, [T.UUID] = dec_uuid, [T.TIMEUUID] = dec_uuid,
  [T.INET] = dec_inet, [T.VARINT] = dec_varint, [T.DECIMAL] = dec_decimal, [T.DATE] = dec_date,
  [T.TIME] = dec_time, [T.DURATION] = dec_duration,
}

local function dec_array_of(sub, want)
  return function(v, i, base)
    local c = v[i]
    if c.kind ~= want then return nil end
    local off, n = c.off, c.len
    local out = table_new(n, 1)
    out.n = n
    for j = 1, n do out[j] = sub(v, off + j - 1, base) end
    return out
  end
end

--- A decoder for a `const cq_type *`: `function(cells, index, base)` where
-- cells is a `cq_cell *`, index a number and base the `const uint8_t *` the
-- byte cells point into; returns the Lua value (see the mapping above).
-- The type must outlive the decoder's use (names are copied now).
-- @param t `const cq_type *`
-- @treturn function
build_decoder = function(t)
  local kind = tonumber(t.kind)
  local native = native_decoders[kind]
  if native then return native end
  if kind == T.LIST then return dec_array_of(build_decoder(t.sub[0]), K_LIST) end
  if kind == T.VECTOR then return dec_array_of(build_decoder(t.sub[0]), K_VECTOR) end
  if kind == T.SET then
    local sub = build_decoder(t.sub[0])
    return function(v, i, base)
      local c = v[i]
      if c.kind ~= K_SET then return nil end
      local off, n = c.off, c.len
      local items, m = table_new(n, 0), 0
      for j = 1, n do
        local x = sub(v, off + j - 1, base)
        if x ~= nil then m = m + 1; items[m] = x end
      end
      return sortedset_from_items(items, m)
    end
  end
  if kind == T.MAP then
    local kd, vd = build_decoder(t.sub[0]), build_decoder(t.sub[1])
    return function(v, i, base)
      local c = v[i]
      if c.kind ~= K_MAP then return nil end
      local off, n = c.off, c.len / 2
      local ks, vs, m = table_new(n, 0), table_new(n, 0), 0
      for j = 0, n - 1 do
        local k = kd(v, off + 2 * j, base)
        if k ~= nil then
          m = m + 1
          ks[m], vs[m] = k, vd(v, off + 2 * j + 1, base)
        end
      end
      return orderedmap_from_arrays(ks, vs, m)
    end
  end
  if kind == T.TUPLE then
    local nsub = t.nsub
    local subs = {}
    for j = 1, nsub do subs[j] = build_decoder(t.sub[j - 1]) end
    return function(v, i, base)
      local c = v[i]
      if c.kind ~= K_TUPLE then return nil end
      local off, n = c.off, c.len
      local out = table_new(nsub, 1)
      out.n = nsub
      for j = 1, n do out[j] = subs[j](v, off + j - 1, base) end
      return out
    end
  end
  if kind == T.UDT then
    local nsub = t.nsub
    local subs, names = {}, {}
    for j = 1, nsub do
      subs[j] = build_decoder(t.sub[j - 1])
      names[j] = ffi_string(t.field_names[j - 1])
    end
    return function(v, i, base)
      local c = v[i]
      if c.kind ~= K_UDT then return nil end
      local off, n = c.off, c.len
      local out = table_new(0, nsub)
      for j = 1, n do out[names[j]] = subs[j](v, off + j - 1, base) end
      return out
    end
  end
  error("cql.codec: no decoder for type kind " .. kind, 2)
end
M.decoder = build_decoder

-- Encoders -------------------------------------------------------------------

local function describe(v)
  local t = type(v)
  if t == "string" then
    if #v > 40 then return "string " .. format("%q", v:sub(1, 40)) .. "..." end
    return "string " .. format("%q", v)
  end
  if t == "number" then return "number " .. format("%.17g", v) end
  if t == "boolean" then return "boolean " .. tostring(v) end
  if t == "cdata" then
    if istype(int64_t, v) then return "int64 " .. tostring(v) end
    if istype(uint64_t, v) then return "uint64 " .. tostring(v) end
    return "cdata " .. tostring(ffi.typeof(v))
  end
  if t == "table" then
    local mt = getmetatable(v)
    if mt and mt.__name then return mt.__name .. " " .. tostring(v) end
    return "table"
  end
  return t
end
M.describe = describe

local function bad(name, what, v)
  if v ~= nil or what:sub(-4) == "got " then what = what .. describe(v) end
  error("bad value for " .. name .. ": " .. what, 0)
end

-- Encoder state: the cell array, the byte buffer (mirrored in Lua numbers so
-- the hot path never reads size_t fields) and the output buffer.
local Encoder = {}
Encoder.__index = Encoder

--- A new encoder (cells, bytes and output buffers owned through ffi.gc).
-- @treturn Encoder
function M.new_encoder()
  local st = setmetatable({
    cells = core.new_cells(), bytes = core.new_buf(), out = core.new_buf(),
    err = ffi.new("char[256]"), blen = 0, bcap = 0, bdata = nil, v = nil,
  }, Encoder)
  return st
end

--- Forgets every cell and byte (keeps the allocations).
function Encoder:reset()
  C.cq_cells_reset(self.cells)
  self.blen = 0
  self.v = self.cells.v
end

local function push(st, k)
  local first = C.cq_cells_push(st.cells, k)
  if first < 0 then error("cql.codec: cannot allocate " .. k .. " cells", 0) end
  st.v = st.cells.v
  return tonumber(first)
end

local function put_bytes(st, s)
  local n, at = #s, st.blen
  if at + n > st.bcap then
    local b = st.bytes
    b.len = at
    if C.cq_buf_reserve(b, n) == nil then error("cql.codec: cannot allocate " .. n .. " bytes", 0) end
    st.bdata, st.bcap = b.data, tonumber(b.cap)
  end
  if n > 0 then ffi_copy(st.bdata + at, s, n) end
  st.blen = at + n
  return at
end

local function set_bytes(st, idx, s)
  local off = put_bytes(st, s)
  local c = st.v[idx]
  c.kind, c.off, c.len = K_BYTES, off, #s
end

local TWO63 = 2 ^ 63
local I64MAX_U = ffi.cast("uint64_t", 0x7fffffffffffffffLL)

-- Integer into c.i, range-checked for numbers (cdata ranges are checked by
-- the C encoder with the same message).
local function int_encoder(name, lo, hi)
  return function(st, idx, x)
    local t = type(x)
    if t == "number" then
      if x ~= floor(x) then bad(name, "expected an integer, got ", x) end
      if x < lo or x > hi then
        bad(name, format("%.17g is out of range %.0f..%.0f", x, lo, hi))
      end
      local c = st.v[idx]
      c.kind, c.i = K_INT, x
    elseif t == "cdata" and istype(int64_t, x) then
      local c = st.v[idx]
      c.kind, c.i = K_INT, x
    elseif t == "cdata" and istype(uint64_t, x) then
      if x > I64MAX_U then bad(name, tostring(x) .. " is out of range") end
      local c = st.v[idx]
      c.kind, c.i = K_INT, x
    else
      bad(name, "expected an integer, got ", x)
    end
  end
end

local function int64_encoder(name)
  return function(st, idx, x)
    local t = type(x)
    if t == "number" then
      if x ~= floor(x) then bad(name, "expected an integer, got ", x) end
      if x < -TWO63 or x >= TWO63 then
        bad(name, format("%.17g is out of range -9223372036854775808..9223372036854775807", x))
      end
      local c = st.v[idx]
      c.kind, c.i = K_INT, x
    elseif t == "cdata" and istype(int64_t, x) then
      local c = st.v[idx]
      c.kind, c.i = K_INT, x
    elseif t == "cdata" and istype(uint64_t, x) then
      if x > I64MAX_U then
        bad(name, tostring(x) .. " is out of range -9223372036854775808..9223372036854775807")
      end
      local c = st.v[idx]
      c.kind, c.i = K_INT, x
    else
      bad(name, "expected an integer, got ", x)
    end
  end
end

local function double_encoder(name)
  return function(st, idx, x)
    if type(x) == "number" then
      local c = st.v[idx]
      c.kind, c.d = K_DOUBLE, x
    elseif type(x) == "cdata" and cmp.is_int64(x) then
      local c = st.v[idx]
      c.kind, c.d = K_DOUBLE, tonumber(x)
    else
      bad(name, "expected a number, got ", x)
    end
  end
end

local function string_encoder(name)
  return function(st, idx, x)
    if type(x) ~= "string" then
      if getmetatable(x) == structs.BlobClass then x = x.bytes
      else bad(name, "expected a string, got ", x) end
    end
    set_bytes(st, idx, x)
  end
end

local function enc_bool(name)
  return function(st, idx, x)
    local b
    if type(x) == "boolean" then b = x
    elseif type(x) == "number" then b = x ~= 0
    else bad(name, "expected a boolean, got ", x) end
    local c = st.v[idx]
    c.kind, c.i = K_BOOL, b and 1 or 0
  end
end

-- Calls a value constructor, turning its error into "bad value for <type>".
local function convert(name, ctor, x)
  local ok, r = pcall(ctor, x)
  if not ok then
    r = tostring(r):gsub("^[^:]*:%d+: ", "")
    bad(name, r .. " (got " .. describe(x) .. ")")
  end
  return r
end

-- x as a value of a class: x itself when `is_class(x)`, else built by
-- `ctor` when `accepts(x)`; anything else is "expected <what>".
local function coerce(name, x, is_class, ctor, accepts, what)
  if is_class(x) then return x end
  if not accepts(x) then bad(name, "expected " .. what .. ", got ", x) end
  return convert(name, ctor, x)
end

local function is_string(x) return type(x) == "string" end
local function is_number_like(x)
  local t = type(x)
  return t == "number" or t == "string" or cmp.is_int64(x)
end

local function uuid_encoder(name)
  local UUID, is_uuid = uuid.UUID, uuid.is_uuid
  return function(st, idx, x)
    x = coerce(name, x, is_uuid, UUID, is_string, "a UUID")
    set_bytes(st, idx, x.bytes)
  end
end

local function inet_encoder(name)
  local parse = inet.parse
  return function(st, idx, x)
    if type(x) ~= "string" then bad(name, "expected an address string, got ", x) end
    local b, err = parse(x)
    if not b then bad(name, err) end
    set_bytes(st, idx, b)
  end
end

local function accepts_varint(x)
  local t = type(x)
  return t == "number" or t == "string" or t == "cdata"
end

local function varint_encoder(name)
  local Varint, is_varint = numeric.Varint, numeric.is_varint
  return function(st, idx, x)
    local t = type(x)
    if t == "number" and x == floor(x) and x >= -TWO63 and x < TWO63 then
      local c = st.v[idx]
      c.kind, c.i = K_INT, x
      return
    elseif t == "cdata" and istype(int64_t, x) then
      local c = st.v[idx]
      c.kind, c.i = K_INT, x
      return
    end
    x = coerce(name, x, is_varint, Varint, accepts_varint, "an integer")
    set_bytes(st, idx, x.bytes)
  end
end

local function decimal_encoder(name)
  local Decimal, is_decimal = numeric.Decimal, numeric.is_decimal
  local function accepts(x) return accepts_varint(x) or numeric.is_varint(x) end
  return function(st, idx, x)
    x = coerce(name, x, is_decimal, Decimal, accepts, "a Decimal")
    local off = put_bytes(st, x.unscaled)
    local c = st.v[idx]
    c.kind, c.off, c.len, c.a = K_DECIMAL, off, #x.unscaled, x.scale
  end
end

local function date_encoder(name)
  local Date, is_date = datetime.Date, datetime.is_date
  local function accepts(x) return type(x) == "table" or is_number_like(x) end
  return function(st, idx, x)
    x = coerce(name, x, is_date, Date, accepts, "a Date")
    local c = st.v[idx]
    c.kind, c.i = K_DATE, x.days_from_epoch
  end
end

local function time_encoder(name)
  local Time, is_time = datetime.Time, datetime.is_time
  return function(st, idx, x)
    x = coerce(name, x, is_time, Time, is_number_like, "a Time")
    local c = st.v[idx]
    c.kind, c.i = K_TIME, x.nanosecond_time
  end
end

local function duration_encoder(name)
  local Duration, is_duration = duration.Duration, duration.is_duration
  return function(st, idx, x)
    x = coerce(name, x, is_duration, Duration, is_string, "a Duration")
    local c = st.v[idx]
    c.kind, c.a, c.b, c.i = K_DURATION, x.months, x.days, x.nanoseconds
  end
end

local function timestamp_encoder(name)
  local parse, from_dt, is_dt = datetime.parse_timestamp, datetime.ms_timestamp_from_datetime,
    datetime.is_datetime
  return function(st, idx, x)
    local t = type(x)
    local ms
    if t == "cdata" and istype(int64_t, x) then
      ms = x
    elseif t == "number" then
      if x ~= x or x < -TWO63 or x >= TWO63 then bad(name, "out of range: ", x) end
      ms = x < 0 and -floor(-x) or floor(x)
    elseif t == "cdata" and istype(uint64_t, x) then
      if x > I64MAX_U then bad(name, "out of range: ", x) end
      ms = x
    elseif t == "string" then
      local err
      ms, err = parse(x)
      if not ms then bad(name, err .. " (got " .. describe(x) .. ")") end
    elseif t == "table" and is_dt(x) then
      local ok, r = pcall(from_dt, x)
      if not ok then bad(name, "bad datetime table") end
      ms = r
    else
      bad(name, "expected int64 milliseconds, a datetime table or an ISO 8601 string, got ", x)
    end
    local c = st.v[idx]
    c.kind, c.i = K_TIMESTAMP, ms
  end
end

local native_encoders = {
  [T.ASCII] = string_encoder, [T.VARCHAR] = string_encoder, [T.BLOB] = string_encoder,
  [T.CUSTOM] = string_encoder, [T.BIGINT] = int64_encoder, [T.COUNTER] = int64_encoder,
  [T.DOUBLE] = double_encoder, [T.FLOAT] = double_encoder, [T.BOOLEAN] = enc_bool,
  [T.UUID] = uuid_encoder, [T.TIMEUUID] = uuid_encoder, [T.INET] = inet_encoder,
  [T.VARINT] = varint_encoder, [T.DECIMAL] = decimal_encoder, [T.DATE] = date_encoder,
  [T.TIME] = time_encoder, [T.DURATION] = duration_encoder, [T.TIMESTAMP] = timestamp_encoder,
}
local int_ranges = {
  [T.INT] = { -2 ^ 31, 2 ^ 31 - 1 }, [T.SMALLINT] = { -2 ^ 15, 2 ^ 15 - 1 },
  [T.TINYINT] = { -2 ^ 7, 2 ^ 7 - 1 },
}

-- Null, EMPTY and UNSET are handled once, around every type's encoder.
local function with_nulls(f)
  return function(st, idx, x)
    if x == nil then return end -- pushed cells start as NULL
    if x == EMPTY then st.v[idx].kind = K_EMPTY return end
    if x == UNSET then error("bad value: UNSET_VALUE is only allowed for a bound parameter", 0) end
    return f(st, idx, x)
  end
end

local is_sortedset, is_orderedmap = collections.is_sortedset, collections.is_orderedmap

local function array_len(x)
  local n = x.n
  if n == nil then return #x end
  return n
end

local build_encoder

local function list_encoder(name, sub, kind)
  return function(st, idx, x)
    if type(x) ~= "table" or getmetatable(x) then
      if is_sortedset(x) then x = x:items()
      else bad(name, "expected an array, got ", x) end
    end
    local n = array_len(x)
    local first = push(st, n)
    local c = st.v[idx]
    c.kind, c.off, c.len = kind, first, n
    for j = 1, n do sub(st, first + j - 1, x[j]) end
  end
end

local function set_items(name, x)
  if is_sortedset(x) then return x:items() end
  if type(x) ~= "table" or getmetatable(x) then bad(name, "expected a SortedSet or an array, got ", x) end
  if x[1] ~= nil or x.n ~= nil or next(x) == nil then return x end
  -- A table used as a set: every value must be true; keys in value order.
  local items, n = {}, 0
  for k, v in pairs(x) do
    if v ~= true then
      bad(name, "expected a SortedSet, an array or a table of true values, got a table with value "
          .. describe(v) .. " at key " .. describe(k))
    end
    n = n + 1
    items[n] = k
  end
  table.sort(items, function(a, b) return cmp.compare(a, b) < 0 end)
  items.n = n
  return items
end

local function set_encoder(name, sub)
  return function(st, idx, x)
    x = set_items(name, x)
    local n = array_len(x)
    local first = push(st, n)
    local c = st.v[idx]
    c.kind, c.off, c.len = K_SET, first, n
    for j = 1, n do
      local e = x[j]
      if e == nil then bad(name, "a set cannot hold null") end
      sub(st, first + j - 1, e)
    end
  end
end

local function map_encoder(name, kenc, venc)
  return function(st, idx, x)
    if is_orderedmap(x) then
      local n = x:len()
      local first = push(st, 2 * n)
      local c = st.v[idx]
      c.kind, c.off, c.len = K_MAP, first, 2 * n
      local j = first
      for k, v in x:pairs() do
        kenc(st, j, k)
        venc(st, j + 1, v)
        j = j + 2
      end
      return
    end
    if type(x) ~= "table" or getmetatable(x) then bad(name, "expected an OrderedMap or a table, got ", x) end
    local n = 0
    for _ in pairs(x) do n = n + 1 end
    local first = push(st, 2 * n)
    local c = st.v[idx]
    c.kind, c.off, c.len = K_MAP, first, 2 * n
    local j = first
    for k, v in pairs(x) do
      kenc(st, j, k)
      venc(st, j + 1, v)
      j = j + 2
    end
  end
end

local function tuple_encoder(name, subs)
  local nsub = #subs
  return function(st, idx, x)
    if type(x) ~= "table" or (getmetatable(x) and getmetatable(x) ~= structs.TupleClass) then
      bad(name, "expected an array, got ", x)
    end
    local n = array_len(x)
    if n > nsub then bad(name, format("%d items for %d elements", n, nsub)) end
    local first = push(st, nsub)
    local c = st.v[idx]
    c.kind, c.off, c.len = K_TUPLE, first, nsub
    for j = 1, n do subs[j](st, first + j - 1, x[j]) end
  end
end

local function udt_encoder(name, subs, names)
  local nsub = #subs
  local index = {}
  for j = 1, nsub do index[names[j]] = j end
  return function(st, idx, x)
    if type(x) ~= "table" or (getmetatable(x) and getmetatable(x) ~= structs.UserTypeClass) then
      bad(name, "expected a table of fields, got ", x)
    end
    local first = push(st, nsub)
    local c = st.v[idx]
    c.kind, c.off, c.len = K_UDT, first, nsub
    -- Positional when it has [1], or an n that is not a field's name.
    if x[1] ~= nil or (x.n ~= nil and not index.n) then
      local n = array_len(x)
      if n > nsub then bad(name, format("%d values for %d fields", n, nsub)) end
      for j = 1, n do subs[j](st, first + j - 1, x[j]) end
      return
    end
    for k in pairs(x) do
      if not index[k] then
        bad(name, "unknown field " .. (type(k) == "string" and format("%q", k) or describe(k)))
      end
    end
    for j = 1, nsub do subs[j](st, first + j - 1, x[names[j]]) end
  end
end

local function vector_encoder(name, sub, dim)
  return function(st, idx, x)
    if type(x) ~= "table" or getmetatable(x) then bad(name, "expected an array, got ", x) end
    local n = array_len(x)
    if n ~= dim then bad(name, format("expected %d elements, got %d", dim, n)) end
    local first = push(st, n)
    local c = st.v[idx]
    c.kind, c.off, c.len = K_VECTOR, first, n
    for j = 1, n do
      local e = x[j]
      if e == nil then bad(name, format("element %d may not be null", j)) end
      sub(st, first + j - 1, e)
    end
  end
end

--- An encoder for a `const cq_type *`: `function(encoder, index, value)`
-- fills cell `index` (already pushed) of `encoder` with `value`, pushing
-- children as needed. Raises "bad value for <type>: ..." on misuse.
-- @param t `const cq_type *`
-- @treturn function
build_encoder = function(t)
  local kind = tonumber(t.kind)
  local name = M.type_cql(t)
  local f
  if native_encoders[kind] then
    f = native_encoders[kind](name)
  elseif int_ranges[kind] then
    f = int_encoder(name, int_ranges[kind][1], int_ranges[kind][2])
  elseif kind == T.LIST then
    f = list_encoder(name, build_encoder(t.sub[0]), K_LIST)
  elseif kind == T.SET then
    f = set_encoder(name, build_encoder(t.sub[0]))
  elseif kind == T.MAP then
    f = map_encoder(name, build_encoder(t.sub[0]), build_encoder(t.sub[1]))
  elseif kind == T.TUPLE then
    local subs = {}
    for j = 1, t.nsub do subs[j] = build_encoder(t.sub[j - 1]) end
    f = tuple_encoder(name, subs)
  elseif kind == T.UDT then
    local subs, names = {}, {}
    for j = 1, t.nsub do
      subs[j] = build_encoder(t.sub[j - 1])
      names[j] = ffi_string(t.field_names[j - 1])
    end
    f = udt_encoder(name, subs, names)
  elseif kind == T.VECTOR then
    f = vector_encoder(name, build_encoder(t.sub[0]), tonumber(t.dimension))
  else
    error("cql.codec: no encoder for type kind " .. kind, 2)
  end
  return with_nulls(f)
end
M.encoder = build_encoder

--- Appends `value` as a new root cell; returns its index. UNSET_VALUE is
-- accepted here (a bound parameter left unset).
-- @tparam function enc from `codec.encoder`
-- @param value
-- @treturn number
function Encoder:add(enc, value)
  local idx = push(self, 1)
  if value == UNSET then
    self.v[idx].kind = K_UNSET
  else
    enc(self, idx, value)
  end
  return idx
end

local function c_error(st)
  error("bad value for " .. ffi_string(st.err), 0)
end

--- The body bytes of root cell `idx` as type `t` (no length prefix).
-- @param t `const cq_type *`
-- @tparam number idx
-- @treturn string
function Encoder:body(t, idx)
  local out = self.out
  C.cq_buf_reset(out)
  local rc = C.cq_value_encode(out, t, self.cells.v, self.cells.n, idx, self.bdata, self.blen, self.err, 256)
  if rc < 0 then c_error(self) end
  return ffi_string(out.data, out.len)
end

--- Appends root cell `idx` as a [value] (i32 length, -1 null, -2 unset) to
-- the `cq_buf *` out (a request body being built).
function Encoder:write_value(out, t, idx)
  local rc = C.cq_value_encode_value(out, t, self.cells.v, self.cells.n, idx, self.bdata, self.blen,
                                     self.err, 256)
  if rc < 0 then c_error(self) end
end

local shared = M.new_encoder()

--- Serialises one value: the [value] body as a Lua string, nil for null.
-- @param t `const cq_type *`
-- @tparam function enc from `codec.encoder(t)`
-- @param value
function M.encode(t, enc, value)
  if value == nil then return nil end
  shared:reset()
  local idx = shared:add(enc, value)
  if value == UNSET then error("bad value: UNSET_VALUE has no body", 2) end
  return shared:body(t, idx)
end

local dec_cells = core.new_cells()
local root = ffi.new("size_t[1]")
local derr = ffi.new("char[256]")

--- Deserialises one value body (nil for null) into a Lua value. Malformed
-- bytes raise "cannot decode <type>: ...".
-- @param t `const cq_type *`
-- @tparam function dec from `codec.decoder(t)`
-- @tparam string|nil s
function M.decode(t, dec, s)
  if s == nil then return nil end
  C.cq_cells_reset(dec_cells)
  local rc = C.cq_value_decode(dec_cells, t, s, #s, root, derr, 256)
  if rc < 0 then error("cannot decode " .. M.type_cql(t) .. ": " .. ffi_string(derr), 0) end
  return dec(dec_cells.v, tonumber(root[0]), ffi_cast(u8ptr, s))
end

-- Row decoders are generated code: one straight-line function per column
-- list, so every decoder call site sees a single function and the JIT
-- compiles a row as one trace (a loop over a table of decoders would make
-- each call site polymorphic). A keyed row starts as a copy of a constant
-- table holding every key (the column names, spelled into the source), so
-- that storing a column finds its slot instead of inserting a new key; a
-- null column stores nil there, which leaves the key absent as before.
--
-- The simple decoders are written inline (their bodies below, the same as
-- the functions above): besides saving a call per value, this keeps tiny
-- functions called thousands of times per page from becoming hot on their
-- own while the page loop is still interpreted. LuaJIT may blacklist such
-- a function after failed traces, and then aborts every trace that calls
-- it, so a whole scan would run interpreted (seen: 4x slower, at random).
local inline_decoders = {
  [dec_int] = { K_INT, "tonumber(c.i)" }, [dec_int64] = { K_INT, "c.i" },
  [dec_timestamp] = { K_TIMESTAMP, "c.i" }, [dec_double] = { K_DOUBLE, "c.d" },
  [dec_bool] = { K_BOOL, "c.i ~= 0" }, [dec_bytes] = { K_BYTES, "ffi_string(base + c.off, c.len)" },
}

local function gen_row_decoder(decs, names, ncols)
  local src = { "local decs, table_new, ffi_string, tonumber = ...\n" }
  for c = 1, ncols do src[#src + 1] = format("local d%d = decs[%d]\n", c, c) end
  src[#src + 1] = "return function(v, i, base)\nlocal c\n"
  if names then
    local shape = {}
    for c = 1, ncols do shape[c] = format("[%q] = false", names[c]) end
    src[#src + 1] = "local row = { " .. table.concat(shape, ", ") .. " }\n"
  else
    -- Arrays as before: a border (#row) with null holes stays the same.
    src[#src + 1] = format("local row = table_new(%d, 1)\nrow.n = %d\n", ncols, ncols)
  end
  for c = 1, ncols do
    local key = names and format("[%q]", names[c]) or format("[%d]", c)
    local inline = inline_decoders[decs[c]]
    if inline then
      src[#src + 1] = format("c = v[i + %d]\nif c.kind == %d then row%s = %s else row%s = nil end\n",
                             c - 1, inline[1], key, inline[2], key)
    else
      src[#src + 1] = format("row%s = d%d(v, i + %d, base)\n", key, c, c - 1)
    end
  end
  src[#src + 1] = "return row\nend\n"
  return assert(load(table.concat(src), "=cql.codec.row"))
end

--- A function(cells, first_index, base) that decodes one row of `#decs`
-- columns into a table keyed by `names` (or, without names, an array with n).
-- Build it once per result metadata and reuse it for every page.
-- @tparam {function,...} decs one decoder per column
-- @tparam[opt] {string,...} names column names
-- @treturn function
function M.row_decoder(decs, names)
  return gen_row_decoder(decs, names, #decs)(decs, table_new, ffi_string, tonumber)
end

--- Lua rows from a decoded page (`cq_rows_page *`): an array (with n) of
-- rows made by `row_decoder`.
-- @param page `cq_rows_page *`
-- @tparam function rowdec from `codec.row_decoder`
-- @treturn table rows
function M.page_rows(page, rowdec)
  local nrows, ncols = tonumber(page.nrows), tonumber(page.ncols)
  local v, base = page.cells.v, page.src
  local rows = table_new(nrows, 1)
  rows.n = nrows
  local i = 0
  for r = 1, nrows do
    rows[r] = rowdec(v, i, base)
    i = i + ncols
  end
  return rows
end

return M
