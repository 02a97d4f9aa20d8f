-- cql.cqltypes and cql.codec: type lookup, known byte vectors for every
-- type, random round trips (nested included), limits and misuse messages.
local ffi = require "ffi"
local ct = require "cql.cqltypes"
local util = require "cql.util"

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
local function unhex(h)
  return (h:gsub("%s", ""):gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end
local function T(s) return ct.lookup_casstype(s) end
local function ser(typ, v) return hex(T(typ):serialize(v)) end
local function err_of(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(e)
end
local function ser_err(typ, v) return err_of(function() return T(typ):serialize(v) end) end

describe("cqltypes.lookup_casstype", function()
  it("parses marshal class names, long and short", function()
    local t = T("org.apache.cassandra.db.marshal.MapType(UTF8Type,Int32Type)")
    assert.are.equal("map", t.typename)
    assert.are.equal("MapType", t.cassname)
    assert.are.equal(2, #t.subtypes)
    assert.are.equal("text", t.subtypes[1].typename)
    assert.are.equal("Int32Type", t.subtypes[2].cassname)
    assert.are.equal("map<text, int>", t:cql_parameterized_type())
    assert.are.equal("MapType(UTF8Type, Int32Type)", t:cass_parameterized_type())
    assert.are.equal("org.apache.cassandra.db.marshal.MapType(org.apache.cassandra.db.marshal.UTF8Type, "
                     .. "org.apache.cassandra.db.marshal.Int32Type)", t:cass_parameterized_type(true))
    assert.are.equal(t, T(t:cass_parameterized_type(true)))
    assert.are.equal(t, T("map<text, int>"))
  end)

  it("parses CQL type strings", function()
    local t = T("frozen<map<text, list<int>>>")
    assert.is_true(t.frozen)
    assert.are.equal("map", t.typename)
    assert.are.equal("list", t.subtypes[2].typename)
    assert.are.equal("frozen<map<text, list<int>>>", tostring(t))
    assert.are.equal("FrozenType(MapType(UTF8Type, ListType(Int32Type)))", t:cass_parameterized_type())
    local v = T("vector<float, 3>")
    assert.are.equal(3, v.vector_size)
    assert.are.equal("float", v.subtypes[1].typename)
    assert.are.equal("vector<float, 3>", v:cql_parameterized_type())
    assert.are.equal("frozen<tuple<int, text>>", T("frozen<tuple<int, text>>"):cql_parameterized_type())
  end)

  it("names the offset of a parse error", function()
    local e = err_of(ct.lookup_casstype, "map<text, int")
    assert.matches("expected '>' at offset 13 in 'map<text, int'", e, 1, true)
    assert.matches("offset", err_of(ct.lookup_casstype, "list<>"), 1, true)
    assert.matches("string expected", err_of(ct.lookup_casstype, 42), 1, true)
  end)

  it("has user types with field names, keyspace and name", function()
    local u = T("org.apache.cassandra.db.marshal.UserType(ks,61646472657373,"
                .. "737472656574:UTF8Type,7a6970:Int32Type)")
    assert.are.equal("address", u.typename)
    assert.are.equal("address", u.name)
    assert.are.equal("ks", u.keyspace)
    assert.are.same({ "street", "zip" }, u.fieldnames)
    assert.are.equal(u, ct.UserType.make_udt_class("ks", "address", { "street", "zip" },
                                                   { ct.UTF8Type, ct.Int32Type }))
  end)

  it("has every native type under the seed's names", function()
    local names = {
      AsciiType = "ascii", LongType = "bigint", BytesType = "blob", BooleanType = "boolean",
      CounterColumnType = "counter", DecimalType = "decimal", DoubleType = "double",
      FloatType = "float", Int32Type = "int", DateType = "timestamp", TimestampType = "timestamp",
      UUIDType = "uuid", UTF8Type = "text", VarcharType = "text", IntegerType = "varint",
      TimeUUIDType = "timeuuid", InetAddressType = "inet", SimpleDateType = "date",
      TimeType = "time", ShortType = "smallint", ByteType = "tinyint", DurationType = "duration",
    }
    for class, cql in pairs(names) do
      assert.are.equal(cql, ct[class].typename, class)
      assert.are.equal(ct[class], T(class), class)
      assert.are.equal(cql, ct.cql_typename(class), class)
    end
    assert.are.equal("timestamp", ct.cql_typename("DateType"))
    assert.are.equal("Int32Type", ct.Int32Type.cassname)
  end)

  it("answers is_counter_type, is_reversed_casstype, strip_frozen", function()
    assert.is_true(ct.is_counter_type("CounterColumnType"))
    assert.is_true(ct.is_counter_type(ct.CounterColumnType))
    assert.is_false(ct.is_counter_type("LongType"))
    assert.is_true(ct.is_reversed_casstype("ReversedType(Int32Type)"))
    assert.is_false(ct.is_reversed_casstype("Int32Type"))
    assert.are.equal("tuple<int>", ct.strip_frozen("frozen<tuple<int>>"))
    assert.are.equal("list<int>", ct.strip_frozen("list<int>"))
  end)

  it("builds parameterised types", function()
    assert.are.equal(T("list<int>"), ct.ListType(ct.Int32Type))
    assert.are.equal(T("map<text, bigint>"), ct.MapType.apply_parameters({ ct.UTF8Type, "LongType" }))
    assert.are.equal(T("vector<float, 4>"), ct.VectorType(ct.FloatType, 4))
    assert.are.equal(T("frozen<set<uuid>>"), ct.FrozenType(ct.SetType(ct.UUIDType)))
    assert.are.equal(16, ct.UUIDType:serial_size())
    assert.is_nil(ct.UTF8Type:serial_size())
  end)

  it("refuses protocol versions below 3", function()
    assert.matches("protocol version 3 or higher", err_of(ct.Int32Type.serialize, ct.Int32Type, 1, 2), 1, true)
  end)
end)

describe("known byte vectors", function()
  local cases = {
    { "ascii", "abc", "616263" },
    { "text", "\195\169", "c3a9" },
    { "blob", "\0\1\255", "0001ff" },
    { "boolean", true, "01" }, { "boolean", false, "00" },
    { "tinyint", 127, "7f" }, { "tinyint", -128, "80" },
    { "smallint", -1, "ffff" }, { "smallint", 256, "0100" },
    { "int", 1, "00000001" }, { "int", -2, "fffffffe" },
    { "bigint", 1, "0000000000000001" }, { "bigint", -1, "ffffffffffffffff" },
    { "bigint", 9223372036854775807LL, "7fffffffffffffff" },
    { "bigint", -9223372036854775807LL - 1, "8000000000000000" },
    { "counter", 5LL, "0000000000000005" },
    { "float", 1.0, "3f800000" }, { "float", -2.5, "c0200000" },
    { "double", 1.0, "3ff0000000000000" }, { "double", 1 / 0, "7ff0000000000000" },
    { "double", -1 / 0, "fff0000000000000" },
    { "timestamp", 0LL, "0000000000000000" }, { "timestamp", 1000, "00000000000003e8" },
    { "timestamp", "1970-01-01T00:00:01.5Z", "00000000000005dc" },
    { "timestamp", util.datetime(1970, 1, 1, 0, 0, 1, 500), "00000000000005dc" },
    { "varint", 0, "00" }, { "varint", 127, "7f" }, { "varint", 128, "0080" },
    { "varint", -128, "80" }, { "varint", -129, "ff7f" },
    { "varint", "18446744073709551616", "010000000000000000" },
    { "decimal", "-123.4500", "00000004ed29bc" }, { "decimal", "1.5", "000000010f" },
    { "decimal", "1E+5", "fffffffb01" },
    { "uuid", util.UUID("01234567-89ab-cdef-0123-456789abcdef"), "0123456789abcdef0123456789abcdef" },
    { "uuid", "01234567-89ab-cdef-0123-456789abcdef", "0123456789abcdef0123456789abcdef" },
    { "timeuuid", util.LOWEST_TIME_UUID, "00000000000010008080808080808080" },
    { "inet", "127.0.0.1", "7f000001" }, { "inet", "::1", "00000000000000000000000000000001" },
    { "date", "1970-01-01", "80000000" }, { "date", -1, "7fffffff" },
    { "date", util.Date("2020-02-29"), "80004791" },
    { "time", 1, "0000000000000001" }, { "time", "00:00:01", "000000003b9aca00" },
    { "duration", util.Duration(1, 2, 3), "020406" },
    { "duration", util.Duration(-1, -2, -3), "010305" },
    { "duration", "1d", "000200" },
    { "list<int>", { 1, 2 }, "00000002" .. "00000004" .. "00000001" .. "00000004" .. "00000002" },
    { "list<int>", { n = 2, 1 }, "00000002" .. "00000004" .. "00000001" .. "ffffffff" },
    { "set<text>", { "b", "a" }, "00000002" .. "00000001" .. "62" .. "00000001" .. "61" },
    { "set<text>", { a = true }, "00000001" .. "00000001" .. "61" },
    { "set<int>", util.SortedSet({ 2, 1 }), "00000002" .. "0000000400000001" .. "0000000400000002" },
    { "map<text, int>", { a = 1 }, "00000001" .. "0000000161" .. "0000000400000001" },
    { "map<text, int>", util.OrderedMap({ { "b", 2 }, { "a", 1 } }),
      "00000002" .. "0000000162" .. "0000000400000002" .. "0000000161" .. "0000000400000001" },
    { "tuple<int, text>", { 1, "a" }, "0000000400000001" .. "0000000161" },
    { "tuple<int, text>", { 1 }, "0000000400000001" .. "ffffffff" },
    { "vector<float, 2>", { 1, 2 }, "3f80000040000000" },
    { "vector<text, 2>", { "a", "bc" }, "0161" .. "026263" },
    { "vector<smallint, 2>", { 1, -1 }, "020001" .. "02ffff" },
    { "frozen<list<frozen<map<int, text>>>>", { { [1] = "x" } },
      "00000001" .. "00000011" .. "00000001" .. "0000000400000001" .. "0000000178" },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. " " .. tostring(c[2]), function()
      assert.are.equal(c[3], ser(c[1], c[2]))
    end)
  end

  it("encodes a user type by name and by position", function()
    local u = ct.UserType.make_udt_class("ks", "address", { "street", "zip" }, { ct.UTF8Type, ct.Int32Type })
    assert.are.equal("0000000173" .. "ffffffff", hex(u:serialize({ street = "s" })))
    assert.are.equal("0000000173" .. "0000000400000007", hex(u:serialize({ "s", 7 })))
  end)

  it("encodes EMPTY as a zero-length value and nil as null", function()
    assert.are.equal("", ct.Int32Type:serialize(util.EMPTY))
    assert.is_nil(ct.Int32Type:serialize(nil))
    assert.are.equal("00000001" .. "00000000", ser("list<int>", { util.EMPTY }))
  end)

  it("decodes the same vectors back", function()
    assert.are.equal(1, ct.Int32Type:deserialize(unhex("00000001")))
    assert.are.equal(-2, ct.Int32Type:deserialize(unhex("fffffffe")))
    assert.are.equal(-1LL, ct.LongType:deserialize(unhex("ffffffffffffffff")))
    assert.are.equal(true, ct.BooleanType:deserialize(unhex("01")))
    assert.are.equal("-123.4500", tostring(ct.DecimalType:deserialize(unhex("00000004ed29bc"))))
    assert.are.equal("-129", tostring(ct.IntegerType:deserialize(unhex("ff7f"))))
    assert.are.equal("-129", tostring(ct.IntegerType:deserialize(unhex("ffff7f")))) -- non-minimal
    assert.are.equal("1969-12-31", tostring(ct.SimpleDateType:deserialize(unhex("7fffffff"))))
    assert.are.equal("::1", ct.InetAddressType:deserialize(unhex("00000000000000000000000000000001")))
    assert.are.equal("-1mo2d3ns", tostring(ct.DurationType:deserialize(unhex("010305"))))
    local l = T("list<int>"):deserialize(unhex("00000002" .. "00000004" .. "00000001" .. "ffffffff"))
    assert.are.equal(2, l.n)
    assert.are.equal(1, l[1])
    assert.is_nil(l[2])
    local tup = T("tuple<int, text>"):deserialize(unhex("0000000400000001"))
    assert.are.equal(2, tup.n)
    assert.are.equal(1, tup[1])
    assert.is_nil(tup[2])
  end)

  it("decodes empty values as nil, except for string types", function()
    for _, name in ipairs({ "int", "bigint", "double", "boolean", "uuid", "date", "timestamp",
                            "varint", "decimal", "inet", "time", "list<int>" }) do
      assert.is_nil(T(name):deserialize(""), name)
    end
    assert.are.equal("", ct.UTF8Type:deserialize(""))
    assert.are.equal("", ct.AsciiType:deserialize(""))
    assert.are.equal("", ct.BytesType:deserialize(""))
    assert.is_nil(ct.Int32Type:deserialize(nil))
  end)

  it("reports malformed bytes naming the type", function()
    assert.matches("cannot decode int: ", err_of(ct.Int32Type.deserialize, ct.Int32Type, "\1\2"), 1, true)
  end)
end)

describe("limits", function()
  local MAX, MIN = 9223372036854775807LL, -9223372036854775807LL - 1
  for _, name in ipairs({ "bigint", "counter", "timestamp" }) do
    it("keeps int64 precision for " .. name, function()
      for _, v in ipairs({ MAX, MIN, MAX - 1, MIN + 1, 9007199254740993LL, 0LL }) do
        local back = T(name):deserialize(T(name):serialize(v))
        assert.is_true(ffi.istype("int64_t", back))
        assert.are.equal(v, back)
      end
      assert.are.equal(MAX, T(name):deserialize(T(name):serialize(9223372036854775807ULL)))
    end)
  end

  it("refuses numbers that were already rounded past int64", function()
    assert.are.equal("bad value for bigint: 9.2233720368547758e+18 is out of range "
                     .. "-9223372036854775808..9223372036854775807", ser_err("bigint", 9223372036854775807))
    assert.are.equal("bad value for bigint: 9223372036854775808ULL is out of range "
                     .. "-9223372036854775808..9223372036854775807", ser_err("bigint", 9223372036854775808ULL))
  end)

  it("handles huge varints both ways", function()
    local big = "-" .. string.rep("9876543210", 12)
    local v = ct.IntegerType:deserialize(ct.IntegerType:serialize(big))
    assert.are.equal(big, tostring(v))
    assert.are.equal(util.Varint(big), v)
    local p = ct.IntegerType:deserialize(ct.IntegerType:serialize(2 ^ 100))
    assert.are.equal("1267650600228229401496703205376", tostring(p))
    assert.are.equal("9223372036854775807",
                     tostring(ct.IntegerType:deserialize(ct.IntegerType:serialize(9223372036854775807LL))))
  end)

  it("keeps negative decimals and their scale", function()
    for _, s in ipairs({ "-0.001", "-123.4500", "-1E+10", "-5E-1000", "0.000", "-98765432109876543210.123456789" }) do
      assert.are.equal(s, tostring(ct.DecimalType:deserialize(ct.DecimalType:serialize(s))))
    end
    assert.are.equal(util.Decimal("-1.5"), ct.DecimalType:deserialize(ct.DecimalType:serialize(-1.5)))
  end)

  it("handles dates before 1970 and past 9999", function()
    for _, d in ipairs({ "1969-12-31", "0001-01-01", "1582-10-15", "9999-12-31" }) do
      assert.are.equal(d, tostring(ct.SimpleDateType:deserialize(ct.SimpleDateType:serialize(d))))
    end
    local far = ct.SimpleDateType:deserialize(ct.SimpleDateType:serialize(2932897))
    assert.are.equal("2932897", tostring(far))
    assert.are.equal(util.Date("+10000-01-01"), far)
    local lo = ct.SimpleDateType:deserialize(unhex("00000000"))
    assert.are.equal(-2 ^ 31, lo.days_from_epoch)
    assert.are.equal("-2147483648", tostring(lo))
  end)

  it("keeps durations with negative parts and int64 nanoseconds", function()
    for _, d in ipairs({ util.Duration(-1, 0, 0), util.Duration(0, -30, -1),
                         util.Duration(0, 0, -9223372036854775807LL - 1),
                         util.Duration(2 ^ 31 - 1, 2 ^ 31 - 1, 9223372036854775807LL) }) do
      assert.are.equal(d, ct.DurationType:deserialize(ct.DurationType:serialize(d)))
    end
  end)

  it("keeps NaN and infinities for float and double", function()
    for _, name in ipairs({ "float", "double" }) do
      local n = T(name):deserialize(T(name):serialize(0 / 0))
      assert.is_true(n ~= n)
      assert.are.equal(1 / 0, T(name):deserialize(T(name):serialize(1 / 0)))
      assert.are.equal(-1 / 0, T(name):deserialize(T(name):serialize(-1 / 0)))
    end
    assert.are.equal(0.1, ct.DoubleType:deserialize(ct.DoubleType:serialize(0.1)))
    assert.are.equal(1.5, ct.FloatType:deserialize(ct.FloatType:serialize(1.5)))
  end)
end)

describe("misuse", function()
  local cases = {
    { "int", "x", 'bad value for int: expected an integer, got string "x"' },
    { "int", 1.5, "bad value for int: expected an integer, got number 1.5" },
    { "int", 2 ^ 31, "bad value for int: 2147483648 is out of range -2147483648..2147483647" },
    { "int", 2LL ^ 40, "bad value for int: 1099511627776 is out of range -2147483648..2147483647" },
    { "tinyint", 128, "bad value for tinyint: 128 is out of range -128..127" },
    { "smallint", true, "bad value for smallint: expected an integer, got boolean true" },
    { "bigint", 0.5, "bad value for bigint: expected an integer, got number 0.5" },
    { "bigint", {}, "bad value for bigint: expected an integer, got table" },
    { "double", "1", 'bad value for double: expected a number, got string "1"' },
    { "boolean", "yes", 'bad value for boolean: expected a boolean, got string "yes"' },
    { "text", 5, "bad value for text: expected a string, got number 5" },
    { "text", "\255", "bad value for text: invalid UTF-8" },
    { "ascii", "\195\169", "bad value for ascii: byte outside 0..127" },
    { "uuid", 5, "bad value for uuid: expected a UUID, got number 5" },
    { "uuid", "nope", "bad value for uuid: UUID: badly formed hexadecimal UUID string 'nope' (got string \"nope\")" },
    { "timeuuid", util.UUID("01234567-89ab-4def-8123-456789abcdef"), "bad value for timeuuid: version 4, expected 1" },
    { "inet", "1.2.3", "bad value for inet: illegal IP address string '1.2.3'" },
    { "varint", 1.5, "bad value for varint: Varint: expected an integer, got 1.5 (got number 1.5)" },
    { "varint", "12a",
      "bad value for varint: Varint: expected a decimal integer string, got '12a' (got string \"12a\")" },
    { "decimal", "x", "bad value for decimal: Decimal: bad decimal string 'x' (got string \"x\")" },
    { "date", "2021-02-30",
      "bad value for date: Date: no such date '2021-02-30' (got string \"2021-02-30\")" },
    { "time", 86400e9, "bad value for time: Time: 86400000000000 ns is outside 0 .. 86399999999999"
      .. " (got number 86400000000000)" },
    { "duration", 5, "bad value for duration: expected a Duration, got number 5" },
    { "timestamp", "yesterday",
      'bad value for timestamp: expected YYYY-MM-DD[ HH:MM[:SS[.fff]]][Z|+HHMM] (got string "yesterday")' },
    { "list<int>", { 1, "a" }, 'bad value for int: expected an integer, got string "a"' },
    { "list<int>", "ab", 'bad value for list<int>: expected an array, got string "ab"' },
    { "set<int>", { a = 1 }, 'bad value for set<int>: expected a SortedSet, an array or a table of true values, '
                              .. 'got a table with value number 1 at key string "a"' },
    { "map<text, int>", 5, "bad value for map<text, int>: expected an OrderedMap or a table, got number 5" },
    { "map<text, int>", { a = "b" }, 'bad value for int: expected an integer, got string "b"' },
    { "tuple<int, text>", { 1, "a", 3 }, "bad value for tuple<int, text>: 3 items for 2 elements" },
    { "vector<float, 3>", { 1, 2 }, "bad value for vector<float, 3>: expected 3 elements, got 2" },
    { "vector<float, 2>", { n = 2, 1 }, "bad value for vector<float, 2>: element 2 may not be null" },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. " rejects " .. tostring(c[2]), function()
      assert.are.equal(c[3], ser_err(c[1], c[2]))
    end)
  end

  it("names an unknown user type field", function()
    local u = ct.UserType.make_udt_class("ks", "address", { "street", "zip" }, { ct.UTF8Type, ct.Int32Type })
    assert.are.equal('bad value for address: unknown field "zap"',
                     err_of(u.serialize, u, { street = "x", zap = 5 }))
    assert.are.equal("bad value for address: 3 values for 2 fields", err_of(u.serialize, u, { "a", 1, 2 }))
  end)
end)

describe("random round trips", function()
  -- A deterministic generator (LCG), independent of math.random.
  local state = 12345
  local function rnd(n)
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n
  end
  local function rstr(n, lo, hi)
    local t = {}
    for i = 1, n do t[i] = string.char(lo + rnd(hi - lo + 1)) end
    return table.concat(t)
  end
  local function i64()
    return ffi.cast("int64_t", rnd(2 ^ 31)) * 4294967296LL + rnd(2 ^ 31) * (rnd(2) == 0 and 1 or -1)
  end
  local gen
  gen = {
    ascii = function() return rstr(rnd(20), 32, 126) end,
    text = function() return rstr(rnd(10), 97, 122) .. "\226\130\172" end,
    blob = function() return rstr(rnd(30), 0, 255) end,
    boolean = function() return rnd(2) == 1 end,
    tinyint = function() return rnd(256) - 128 end,
    smallint = function() return rnd(65536) - 32768 end,
    int = function() return rnd(2 ^ 31) * (rnd(2) == 0 and 1 or -1) end,
    bigint = i64, counter = i64, timestamp = i64,
    float = function() return (rnd(2 ^ 20) - 2 ^ 19) / 64 end,
    double = function() return (rnd(2 ^ 31) - 2 ^ 30) / 3 end,
    varint = function() return util.Varint((rnd(2) == 0 and "-" or "") .. rnd(1e9) .. rstr(rnd(40), 48, 57)) end,
    decimal = function()
      return util.Decimal((rnd(2) == 0 and "-" or "") .. rnd(1e6) .. "." .. rstr(1 + rnd(20), 48, 57))
    end,
    uuid = function() return util.UUID.from_bytes(rstr(16, 0, 255)) end,
    timeuuid = function() return util.uuid_from_time(rnd(2 ^ 31) / 7, rnd(2 ^ 31), rnd(0x4000)) end,
    inet = function()
      if rnd(2) == 0 then return util.inet_ntop(rstr(4, 0, 255)) end
      return util.inet_ntop(rstr(16, 0, 255))
    end,
    date = function() return util.Date(rnd(2 ^ 32) - 2 ^ 31) end,
    time = function() return util.Time(rnd(86400) * 1e9 + rnd(1e9)) end,
    duration = function()
      local s = rnd(2) == 0 and 1 or -1
      return util.Duration(s * rnd(1000), s * rnd(1000), s * rnd(2 ^ 31) * 1000)
    end,
  }
  local function value_of(typ)
    local k = typ.typename
    if gen[k] then return gen[k]() end
    if k == "list" or k == "vector" then
      local n = k == "vector" and typ.vector_size or rnd(4)
      local t = { n = n }
      for i = 1, n do t[i] = value_of(typ.subtypes[1]) end
      return t
    elseif k == "set" then
      local t = {}
      for i = 1, rnd(4) do t[i] = value_of(typ.subtypes[1]) end
      return util.SortedSet(t)
    elseif k == "map" then
      local m = util.OrderedMap()
      for _ = 1, rnd(4) do m:set(value_of(typ.subtypes[1]), value_of(typ.subtypes[2])) end
      return m
    elseif k == "tuple" then
      local t = { n = #typ.subtypes }
      for i = 1, t.n do if rnd(5) > 0 then t[i] = value_of(typ.subtypes[i]) end end
      return t
    else -- user type
      local t = {}
      for i, f in ipairs(typ.fieldnames) do t[f] = value_of(typ.subtypes[i]) end
      return t
    end
  end

  local types = {
    "ascii", "text", "blob", "boolean", "tinyint", "smallint", "int", "bigint", "counter",
    "timestamp", "float", "double", "varint", "decimal", "uuid", "timeuuid", "inet", "date",
    "time", "duration",
    "list<int>", "list<text>", "set<bigint>", "set<uuid>", "set<frozen<list<int>>>",
    "map<text, double>", "map<timeuuid, frozen<set<decimal>>>", "map<frozen<tuple<int, text>>, varint>",
    "tuple<int, text, frozen<list<date>>>", "frozen<tuple<duration, inet, time>>",
    "list<frozen<map<int, frozen<list<varint>>>>>",
    "vector<float, 4>", "vector<bigint, 3>", "vector<text, 2>", "vector<frozen<list<int>>, 2>",
    "org.apache.cassandra.db.marshal.UserType(ks,61,6e:Int32Type,73:UTF8Type,"
      .. "6c:ListType(UUIDType),74:TupleType(DateType,DecimalType))",
  }
  for _, name in ipairs(types) do
    it(name, function()
      local typ = T(name)
      for _ = 1, 40 do
        local v = value_of(typ)
        local bytes = typ:serialize(v)
        local back = typ:deserialize(bytes)
        assert.is_true(util.equal(v, back), name .. ": " .. tostring(v) .. " ~= " .. tostring(back))
        assert.are.equal(hex(bytes), hex(typ:serialize(back)))
      end
    end)
  end
end)
