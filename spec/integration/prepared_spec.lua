-- Prepared statements against the real server: binding by position and by
-- name, values of many types, unset markers, misuse, and re-preparing
-- transparently when the server has forgotten a statement.
local testenv = require "testenv"
local Cluster = require("cql.cluster").Cluster
local query = require "cql.query"
local util = require "cql.util"

describe("prepared statements", function()
  local cluster, session
  setup(function()
    cluster = Cluster { contact_points = testenv.hosts() }
    session = assert(cluster:connect())
    assert(session:execute("CREATE KEYSPACE IF NOT EXISTS cqlua_prepared WITH replication = "
      .. "{'class': 'SimpleStrategy', 'replication_factor': 1}"))
    assert(session:set_keyspace("cqlua_prepared"))
    assert(session:execute("DROP TABLE IF EXISTS p"))
    assert(session:execute("CREATE TABLE p (k int, c text, u uuid, b bigint, m map<text, frozen<list<int>>>, "
      .. "ts timestamp, v vector<float, 3>, PRIMARY KEY ((k), c))"))
  end)
  teardown(function() cluster:shutdown() end)

  it("reports markers, their types and the partition key indexes", function()
    local ps = assert(session:prepare("INSERT INTO p (k, c, u, b) VALUES (?, ?, ?, ?)"))
    assert.equal(4, #ps.column_metadata)
    assert.equal("k", ps.column_metadata[1].name)
    assert.equal("int", ps.column_metadata[1].type.typename)
    assert.equal("uuid", ps.column_metadata[3].type.typename)
    assert.same({ 0 }, ps.routing_key_indexes)
    -- The routing key is the partition key's serialized value.
    assert.equal("\0\0\1\0", ps:bind({ 256, "c", util.uuid4(), 1 }):routing_key())
    assert.is_string(ps.query_id)
    assert.is_string(ps.result_metadata_id) -- protocol v5
  end)

  it("binds by position and by name, and reads every value back", function()
    local ins = assert(session:prepare("INSERT INTO p (k, c, u, b, m, ts, v) VALUES (?, ?, ?, ?, ?, ?, ?)"))
    local id = util.uuid4()
    local m = util.OrderedMap()
    m:set("a", { 1, 2 })
    assert(session:execute(ins, { 1, "one", id, -9223372036854775807LL - 1, m, 1700000000123LL, { 1.5, 2.5, -3 } }))
    assert(session:execute(ins:bind { k = 1, c = "two", u = id, b = 7, m = { z = { 9 } }, ts = 0, v = { 0, 0, 0 } }))
    local sel = assert(session:prepare("SELECT * FROM p WHERE k = ? AND c = ?"))
    local row = assert(session:execute(sel, { 1, "one" })):one()
    assert.equal(tostring(id), tostring(row.u))
    assert.equal(-9223372036854775807LL - 1, row.b)
    assert.same({ 1, 2, n = 2 }, row.m:get("a"))
    assert.equal(1700000000123LL, row.ts)
    assert.same({ 1.5, 2.5, -3, n = 3 }, row.v)
    local all = assert(session:execute("SELECT c FROM p WHERE k = 1")):all()
    assert.equal(2, #all)
  end)

  it("leaves a column alone for UNSET_VALUE and clears it for nil", function()
    local ins = assert(session:prepare("INSERT INTO p (k, c, b) VALUES (?, ?, ?)"))
    assert(session:execute(ins, { 2, "x", 5 }))
    assert(session:execute(ins, { 2, "x", query.UNSET_VALUE }))
    assert.equal(5, assert(session:execute("SELECT b FROM p WHERE k = 2 AND c = 'x'")):one().b)
    assert(session:execute(ins, { n = 3, 2, "x", nil }))
    assert.is_nil(assert(session:execute("SELECT b FROM p WHERE k = 2 AND c = 'x'")):one().b)
  end)

  it("raises on misuse, naming the marker", function()
    local ins = assert(session:prepare("INSERT INTO p (k, c, b) VALUES (?, ?, ?)"))
    assert.has_error(function() ins:bind { 1, "x" } end,
      "bad argument #1 to 'bind' (2 value(s) for 3 marker(s) in 'INSERT INTO p (k, c, b) VALUES (?, ?, ?)')")
    assert.has_error(function() ins:bind { 1, "x", "not a number" } end, "bad argument #1 to 'bind' "
      .. "(marker 3 'b': bad value for bigint: expected an integer, got string \"not a number\")")
    assert.has_error(function() ins:bind { k = 1, c = "x", bb = 2 } end,
      "bad argument #1 to 'bind' (no marker named 'bb' in 'INSERT INTO p (k, c, b) VALUES (?, ?, ?)')")
  end)

  it("re-prepares without the caller noticing after the server forgot the statement", function()
    local sel = assert(session:prepare("SELECT c FROM p WHERE k = ?"))
    assert(session:execute(sel, { 1 }))
    -- Dropping the table makes the node forget statements on it; recreate it.
    assert(session:execute("DROP TABLE p"))
    assert(session:execute("CREATE TABLE p (k int, c text, u uuid, b bigint, m map<text, frozen<list<int>>>, "
      .. "ts timestamp, v vector<float, 3>, PRIMARY KEY ((k), c))"))
    assert(session:execute("INSERT INTO p (k, c) VALUES (1, 'again')"))
    local before = session.reprepared
    local rs, err = session:execute(sel, { 1 })
    assert.is_nil(err)
    assert.equal("again", rs:one().c)
    assert.equal(before + 1, session.reprepared) -- the server did answer UNPREPARED
  end)
end)
