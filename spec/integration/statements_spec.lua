-- Statement kinds and their options against the real server.
local testenv = require "testenv"
local cql = require "cql"
local Cluster = require("cql.cluster").Cluster
local query = require "cql.query"

local CL = cql.ConsistencyLevel

describe("statements", function()
  local cluster, session
  setup(function()
    cluster = Cluster { contact_points = testenv.hosts() }
    session = assert(cluster:connect())
    assert(session:execute("CREATE KEYSPACE IF NOT EXISTS cqlua_stmts WITH replication = "
      .. "{'class': 'SimpleStrategy', 'replication_factor': 1}"))
    assert(session:set_keyspace("cqlua_stmts"))
    assert(session:execute("DROP TABLE IF EXISTS t"))
    assert(session:execute("DROP TABLE IF EXISTS counts"))
    assert(session:execute("CREATE TABLE t (k int PRIMARY KEY, v text)"))
    assert(session:execute("CREATE TABLE counts (k int PRIMARY KEY, n counter)"))
  end)
  teardown(function() cluster:shutdown() end)

  it("sends a SimpleStatement's consistency level: THREE on one node is Unavailable", function()
    local st = query.SimpleStatement("SELECT * FROM t WHERE k = 1", { consistency_level = CL.THREE })
    local rs, err = session:execute(st)
    assert.is_nil(rs)
    assert.equal("Unavailable", err.name)
    assert.equal("THREE", err.consistency)
    assert.equal(3, err.required_replicas)
    assert.equal(1, err.alive_replicas)
    -- The call's option overrides the statement's.
    assert.truthy(session:execute(st, nil, { consistency_level = CL.ONE }))
  end)

  it("runs lightweight transactions with a serial consistency level", function()
    local ins = query.SimpleStatement("INSERT INTO t (k, v) VALUES (10, 'first') IF NOT EXISTS",
                                      { serial_consistency_level = CL.LOCAL_SERIAL })
    assert.is_true(assert(session:execute(ins)):was_applied())
    local again = assert(session:execute(ins))
    assert.is_false(again:was_applied())
    assert.equal("first", again:one().v)
  end)

  it("runs logged, unlogged and counter batches of text and prepared statements", function()
    local ins = assert(session:prepare("INSERT INTO t (k, v) VALUES (?, ?)"))
    local b = query.BatchStatement()
    b:add("INSERT INTO t (k, v) VALUES (%s, %s)", { 20, "text" })
    b:add(ins, { 21, "prepared" })
    b:add(ins:bind { k = 22, v = "bound" })
    b:add_all({ query.SimpleStatement("INSERT INTO t (k, v) VALUES (23, 'simple')") })
    assert.equal(4, b:size())
    assert(session:execute(b))
    local rows = assert(session:execute("SELECT k, v FROM t WHERE k IN (20, 21, 22, 23)")):all()
    assert.equal(4, #rows)
    local unlogged = query.BatchStatement { batch_type = query.BatchType.UNLOGGED }
    unlogged:add(ins, { 24, "u" })
    assert(session:execute(unlogged))
    local counter = query.BatchStatement { batch_type = query.BatchType.COUNTER }
    counter:add("UPDATE counts SET n = n + 5 WHERE k = 1")
    counter:add("UPDATE counts SET n = n + 2 WHERE k = 1")
    assert(session:execute(counter))
    assert.equal(7LL, assert(session:execute("SELECT n FROM counts WHERE k = 1")):one().n)
  end)

  it("stamps writes with client-side timestamps that never go backwards", function()
    local before = os.time() * 1000000
    local ins = assert(session:prepare("INSERT INTO t (k, v) VALUES (?, ?)"))
    assert(session:execute(ins, { 30, "a" }))
    local first = assert(session:execute("SELECT WRITETIME(v) AS w FROM t WHERE k = 30")):one().w
    assert(session:execute(ins, { 30, "b" }))
    local second = assert(session:execute("SELECT WRITETIME(v) AS w FROM t WHERE k = 30")):one().w
    assert.is_true(first >= before, "the write carries the client's clock")
    assert.is_true(second > first)
    -- An explicit USING TIMESTAMP still wins.
    assert(session:execute("INSERT INTO t (k, v) VALUES (31, 'x') USING TIMESTAMP 42"))
    assert.equal(42LL, assert(session:execute("SELECT WRITETIME(v) AS w FROM t WHERE k = 31")):one().w)
  end)

  it("returns rows as arrays with the tuple factory", function()
    session.row_factory = query.tuple_factory
    local row = assert(session:execute("SELECT k, v FROM t WHERE k = 10")):one()
    session.row_factory = query.dict_factory
    assert.same({ 10, "first", n = 2 }, row)
  end)

  it("traces a request on demand and reads the trace back", function()
    local rs = assert(session:execute("SELECT * FROM t WHERE k = 10", nil, { trace = true }))
    assert.is_string(rs.trace_id)
    local trace = assert(rs:get_query_trace(10))
    assert.equal(tostring(trace.trace_id), tostring(require("cql.util").UUID.from_bytes(rs.trace_id)))
    assert.equal("Execute CQL3 query", trace.request_type)
    assert.is_true(trace.duration > 0)
    assert.is_true(#trace.events > 0)
    assert.is_string(trace.events[1].description)
    local untraced = assert(session:execute("SELECT * FROM t WHERE k = 10"))
    assert.is_nil(untraced.trace_id)
    assert.has_error(function() untraced:get_query_trace() end,
      "get_query_trace: the request was not traced (run it with trace = true)")
  end)

  it("describes the columns' types", function()
    local rs = assert(session:execute("SELECT k, v FROM t WHERE k = 10"))
    assert.same({ "k", "v" }, rs.column_names)
    assert.equal("int", rs.column_types[1].typename)
    assert.equal("text", rs.column_types[2].typename)
  end)

  it("raises on unknown statement options", function()
    assert.has_error(function() query.SimpleStatement("SELECT 1", { consistency = 1 }) end,
      "bad option 'consistency' for SimpleStatement")
    assert.has_error(function() query.BatchStatement { batch_type = 7 } end,
      "bad option batch_type (BatchType.LOGGED, UNLOGGED or COUNTER expected)")
  end)
end)
