-- Every CQL type, written through a prepared statement and through
-- client-side `%s` parameters, read back equal to what was written (and
-- the two rows equal to each other), against the real server.
local testenv = require "testenv"
local Cluster = require("cql.cluster").Cluster
local util = require "cql.util"

-- A canonical text form of a decoded (or written) Lua value, so values of
-- any shape compare with one string comparison.
local function canon(v)
  local t = type(v)
  if v == nil then return "null" end
  if t == "cdata" then return (tostring(v):gsub("U?LL$", "")) end
  if t == "number" then
    if v ~= v then return "NaN" end
    return ("%.17g"):format(v)
  end
  if t == "string" then return ("%q"):format(v) end
  if t == "boolean" then return tostring(v) end
  local mt = getmetatable(v)
  local name = mt and mt.__name
  local parts = {}
  if name == "SortedSet" then
    for x in v:iter() do parts[#parts + 1] = canon(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  if name == "OrderedMap" then
    for k, x in v:pairs() do parts[#parts + 1] = canon(k) .. ":" .. canon(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  if name and name ~= "Tuple" and name ~= "UserType" then return name .. "(" .. tostring(v) .. ")" end
  if v.n or v[1] ~= nil then
    for i = 1, v.n or #v do parts[i] = canon(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  if next(v) == nil then return "[]" end -- an empty array (a user type has fields)
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. canon(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- Column, type, the value written, and (when it differs) what comes back.
local COLUMNS = {
  { "c_ascii", "ascii", "plain ascii ~!" },
  { "c_bigint", "bigint", -9223372036854775807LL - 1 },
  { "c_blob", "blob", util.Blob("\0\1\127\128\255 bytes"), "\0\1\127\128\255 bytes" },
  { "c_boolean", "boolean", false },
  { "c_date", "date", util.Date("2024-02-29") },
  { "c_decimal", "decimal", util.Decimal("-1234567890.0000000001") },
  { "c_double", "double", -1.5e300 },
  { "c_duration", "duration", util.Duration("1y2mo3w4d5h6m7s8ms9us10ns") },
  { "c_float", "float", 0.25 },
  { "c_inet4", "inet", "192.168.0.1" },
  { "c_inet6", "inet", "2001:db8::ff00:42:8329" },
  { "c_int", "int", -2147483648 },
  { "c_smallint", "smallint", -32768 },
  { "c_text", "text", "ünïcødé ✓ 'quoted'" },
  { "c_time", "time", util.Time("23:59:59.999999999") },
  { "c_timestamp", "timestamp", 1700000000123LL },
  { "c_timeuuid", "timeuuid", util.UUID("d2177dd0-eaa2-11de-a572-001b779c76e3") },
  { "c_tinyint", "tinyint", 127 },
  { "c_uuid", "uuid", util.UUID("01234567-89ab-cdef-0123-456789abcdef") },
  { "c_varchar", "varchar", "" },
  { "c_varint", "varint", util.Varint("-123456789012345678901234567890123") },
  { "c_vector", "vector<float, 3>", { 1, 2.5, -3 } },
  { "c_list", "list<frozen<map<text, int>>>", { util.OrderedMap { { "a", 1 } }, util.OrderedMap { { "b", 2 } } } },
  { "c_set", "set<bigint>", util.SortedSet { 3, 1, 2 }, util.SortedSet { 1LL, 2LL, 3LL } },
  { "c_map", "map<int, frozen<set<text>>>", util.OrderedMap { { 2, util.SortedSet { "x" } }, { 1, util.SortedSet {} } },
    util.OrderedMap { { 1, util.SortedSet {} }, { 2, util.SortedSet { "x" } } } },
  { "c_tuple", "tuple<int, text, boolean>", util.Tuple(7, "seven", true) },
  { "c_udt", "frozen<cqlua_point>", util.UserType { x = 1.5, label = "p", tags = { "a", "b" } } },
  { "c_nested", "list<frozen<tuple<int, frozen<list<text>>>>>", { util.Tuple(1, { "a" }), util.Tuple(2, {}) } },
  { "c_null", "text", nil },
}

describe("every CQL type", function()
  local cluster, session
  setup(function()
    cluster = Cluster { contact_points = testenv.hosts() }
    session = assert(cluster:connect())
    assert(session:execute("CREATE KEYSPACE IF NOT EXISTS cqlua_types WITH replication = "
      .. "{'class': 'SimpleStrategy', 'replication_factor': 1}"))
    assert(session:set_keyspace("cqlua_types"))
    assert(session:execute("DROP TABLE IF EXISTS every_type"))
    assert(session:execute("DROP TYPE IF EXISTS cqlua_point"))
    assert(session:execute("CREATE TYPE cqlua_point (x double, label text, tags list<text>)"))
    local defs = {}
    for i, c in ipairs(COLUMNS) do defs[i] = c[1] .. " " .. c[2] end
    assert(session:execute("CREATE TABLE every_type (k text PRIMARY KEY, " .. table.concat(defs, ", ") .. ")"))
  end)
  teardown(function() cluster:shutdown() end)

  local function names_and_values()
    local names, values, marks, n = { "k" }, {}, { "?" }, #COLUMNS
    for i = 1, n do
      names[i + 1] = COLUMNS[i][1]
      values[i + 1] = COLUMNS[i][3]
      marks[i + 1] = "?"
    end
    return names, values, marks, n + 1
  end

  local function check_row(k)
    local row = assert(session:execute("SELECT * FROM every_type WHERE k = %s", { k })):one()
    for _, c in ipairs(COLUMNS) do
      local want = c[4] ~= nil and c[4] or c[3]
      assert.equal(canon(want), canon(row[c[1]]), c[1] .. " (" .. c[2] .. ") read back through " .. k)
    end
    return row
  end

  it("round-trips through a prepared statement", function()
    local names, values, marks, n = names_and_values()
    values[1] = "prepared"
    values.n = n
    local ps = assert(session:prepare("INSERT INTO every_type (" .. table.concat(names, ", ") .. ") VALUES ("
      .. table.concat(marks, ", ") .. ")"))
    assert(session:execute(ps, values))
    check_row("prepared")
  end)

  it("round-trips through client-side %s parameters, to the same row as the prepared path", function()
    local names, values, _, n = names_and_values()
    values[1] = "literal"
    values.n = n
    local marks = {}
    for i = 1, n do marks[i] = "%s" end
    assert(session:execute("INSERT INTO every_type (" .. table.concat(names, ", ") .. ") VALUES ("
      .. table.concat(marks, ", ") .. ")", values))
    local a = check_row("literal")
    local b = check_row("prepared")
    for _, c in ipairs(COLUMNS) do assert.equal(canon(b[c[1]]), canon(a[c[1]]), c[1]) end
  end)

  it("counts with counters, through both paths", function()
    assert(session:execute("CREATE TABLE IF NOT EXISTS counts (k text PRIMARY KEY, n counter)"))
    assert(session:execute("TRUNCATE counts"))
    local ps = assert(session:prepare("UPDATE counts SET n = n + ? WHERE k = ?"))
    assert(session:execute(ps, { 9007199254740993LL, "c" }))
    assert(session:execute("UPDATE counts SET n = n + %s WHERE k = %s", { -2, "c" }))
    assert.equal(9007199254740991LL, assert(session:execute("SELECT n FROM counts WHERE k = 'c'")):one().n)
  end)
end)
