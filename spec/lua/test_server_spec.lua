-- The driver's connection against the scriptable test server
-- (spec/support/cql_test_server.lua). Every case here uses a FAKE server on
-- purpose: a real Cassandra cannot produce these faults on demand (chosen
-- error fields, slow or missing answers, closes mid-request, garbage,
-- version refusals, failed logins, answers out of order). The real-server
-- behaviour is covered by spec/integration.
local ffi = require "ffi"
local test_server = require "test_server"
local Scheduler = require "cql.scheduler"
local UvHost = require "cql.host.uv"
local Connection = require "cql.connection"
local auth = require "cql.auth"
local C = require("cql.core").C

local ADDRESS = "127.0.0.1"
local TIMEOUT = 5 -- seconds; every request is bounded, so a bug fails instead of hanging

-- The text values of the first column of a rows response.
local function texts(res, col)
  col = col or 0
  local r = res.response.u.result
  local n = r.meta.column_count
  local types = ffi.new("const cq_type *[?]", math.max(n, 1))
  for i = 0, n - 1 do types[i] = r.meta.columns[i].type end
  local page = ffi.new("cq_rows_page")
  local err = ffi.new("char[256]")
  assert(C.cq_rows_decode(page, types, n, r.row_count, r.rows, r.rows_len, err, 256) == 0, ffi.string(err))
  local out = {}
  for row = 0, r.row_count - 1 do
    local cell = page.cells.v[row * n + col]
    out[#out + 1] = ffi.string(page.src + cell.off, cell.len)
  end
  C.cq_rows_free(page)
  return out
end

describe("the test server", function()
  local sched, host
  before_each(function()
    host = UvHost.new()
    sched = Scheduler.new(host)
  end)
  after_each(function()
    test_server.stop_all() -- also when a spec failed half-way
  end)

  local function open(srv, o)
    o = o or {}
    o.port = srv.port
    return Connection.open(sched, host, ADDRESS, o):result(TIMEOUT)
  end

  it("answers the handshake and a system.local query on v3, v4 and v5", function()
    -- Fake on purpose: the plumbing the cases below rely on.
    local srv = test_server.start({})
    finally(srv.stop)
    for _, v in ipairs { 5, 4, 3 } do
      local conn = assert(open(srv, { protocol_version = v }))
      assert.equal(v, conn:protocol_version())
      local res = assert(conn:query("SELECT release_version FROM system.local", TIMEOUT):result())
      assert.equal("rows", res.kind)
      assert.same({ "5.0.9" }, texts(res))
      conn:close()
    end
  end)

  it("maps Unavailable, ReadTimeout and WriteTimeout with their fields", function()
    -- Fake: a real node gives these only when replicas are down or slow.
    local srv = test_server.start({
      { when = { opcode = "QUERY", query = "^SELECT .* FROM ks%.unavailable" },
        reply = { error = { code = "Unavailable", message = "Cannot achieve consistency level QUORUM",
                            consistency = "QUORUM", required = 2, alive = 1 } } },
      { when = { query = "FROM ks%.read" },
        reply = { error = { code = 0x1200, message = "Operation timed out - received only 1 responses.",
                            consistency = "LOCAL_QUORUM", received = 1, block_for = 2, data_present = true } } },
      { when = { query = "^INSERT" },
        reply = { error = { code = "write_timeout", message = "Operation timed out",
                            consistency = "ALL", received = 2, block_for = 3, write_type = "BATCH_LOG" } } },
    })
    finally(srv.stop)
    for _, v in ipairs { 5, 4 } do
      local conn = assert(open(srv, { protocol_version = v }))
      local res, err = conn:query("SELECT v FROM ks.unavailable", TIMEOUT):result()
      assert.is_nil(res)
      assert.equal("Unavailable", err.name)
      assert.equal(0x1000, err.code)
      assert.equal("QUORUM", err.consistency)
      assert.equal(2, err.required_replicas)
      assert.equal(1, err.alive_replicas)
      assert.matches("Cannot achieve", err.message)

      res, err = conn:query("SELECT v FROM ks.read WHERE k = 1", TIMEOUT):result()
      assert.is_nil(res)
      assert.equal("ReadTimeout", err.name)
      assert.equal("LOCAL_QUORUM", err.consistency)
      assert.equal(1, err.received_responses)
      assert.equal(2, err.required_responses)
      assert.is_true(err.data_retrieved)

      res, err = conn:query("INSERT INTO ks.t (k) VALUES (1)", TIMEOUT):result()
      assert.is_nil(res)
      assert.equal("WriteTimeout", err.name)
      assert.equal("ALL", err.consistency)
      assert.equal(2, err.received_responses)
      assert.equal(3, err.required_responses)
      assert.equal(4, err.write_type) -- BATCH_LOG
      conn:close()
    end
  end)

  it("times a slow answer out with OperationTimedOut and keeps the connection usable", function()
    -- Fake: a real node cannot be told to answer one query 1.5 s late.
    local srv = test_server.start({
      { when = { query = "^SELECT slow" }, reply = { delay_ms = 1500, rows = {
        columns = { { "v", "text" } }, rows = { { "late" } } } } },
      { when = { query = "^SELECT fast" }, reply = { rows = {
        columns = { { "v", "text" } }, rows = { { "fast" } } } } },
    })
    finally(srv.stop)
    local conn = assert(open(srv))
    local t0 = host:now()
    local res, err = conn:query("SELECT slow", 0.3):result(TIMEOUT)
    assert.is_nil(res)
    assert.equal("OperationTimedOut", err.name)
    assert.is_true(host:now() - t0 < 1.4, "timed out only when the answer came")
    res = assert(conn:query("SELECT fast", TIMEOUT):result())
    assert.same({ "fast" }, texts(res))
    -- The late answer arrives later and is dropped; the connection still works.
    sched:run(function() sched:sleep(1.5) end)
    res = assert(conn:query("SELECT fast", TIMEOUT):result())
    assert.same({ "fast" }, texts(res))
    assert.is_false(conn.closed or false)
    conn:close()
  end)

  it("fails every request in flight with ConnectionShutdown when the server closes, without hanging", function()
    -- Fake: a real node does not drop a connection mid-request on demand.
    local srv = test_server.start({
      { when = { query = "^SELECT hang" }, reply = { no_answer = true } },
      { when = { query = "^SELECT close" }, reply = { delay_ms = 100, close = true } },
    })
    finally(srv.stop)
    local conn = assert(open(srv))
    local futures = {}
    for i = 1, 20 do futures[i] = conn:query("SELECT hang " .. i, TIMEOUT) end
    futures[#futures + 1] = conn:query("SELECT close", TIMEOUT)
    local t0 = host:now()
    for _, f in ipairs(futures) do
      local res, err = f:result(TIMEOUT)
      assert.is_nil(res)
      assert.equal("ConnectionShutdown", err.name)
    end
    assert.is_true(host:now() - t0 < 2, "failed at once, not at the request timeout")
    local _, err = conn:query("SELECT 1", TIMEOUT):result()
    assert.equal("ConnectionShutdown", err.name)
  end)

  it("closes the connection when the server sends garbage, naming the problem", function()
    -- Fake: a real node never sends bytes that are not a frame.
    local srv = test_server.start({ { when = { query = "^SELECT garbage" }, reply = { garbage = true } } })
    finally(srv.stop)
    for _, v in ipairs { 4, 5 } do
      local conn = assert(open(srv, { protocol_version = v }))
      local res, err = conn:query("SELECT garbage", TIMEOUT):result(TIMEOUT)
      assert.is_nil(res)
      assert.is_true(err.name == "ConnectionShutdown" or err.name == "ConnectionException", tostring(err))
      local why = v == 4 and "version" or "CRC"
      assert.matches(why, err.message)
      assert.is_true(conn.closed)
      assert.matches(why, conn.close_reason)
    end
  end)

  it("negotiates down to v4 with a v4 server, and a pinned v5 fails", function()
    -- Fake: the test cluster is Cassandra 5.0, which speaks v5.
    local srv = test_server.start({ max_version = 4 })
    finally(srv.stop)
    local conn = assert(open(srv))
    assert.equal(4, conn:protocol_version())
    assert.equal("rows", assert(conn:query("SELECT key FROM system.local", TIMEOUT):result()).kind)
    conn:close()
    local res, err = open(srv, { protocol_version = 5 })
    assert.is_nil(res)
    assert.equal("ProtocolVersionUnsupported", err.name)
    assert.matches("pinned", err.message)
    assert.matches("3/v3, 4/v4%)", err.message)
  end)

  it("authenticates with PlainTextAuthProvider, and refuses a wrong password", function()
    -- Fake: a login failure on demand, without a secured cluster.
    local srv = test_server.start({ auth = { username = "cassandra", password = "s3cret" } })
    finally(srv.stop)
    for _, v in ipairs { 5, 4 } do
      local conn = assert(open(srv, { protocol_version = v,
                                      auth_provider = auth.PlainTextAuthProvider("cassandra", "s3cret") }))
      assert.equal("rows", assert(conn:query("SELECT key FROM system.local", TIMEOUT):result()).kind)
      conn:close()
      local res, err = open(srv, { protocol_version = v,
                                   auth_provider = auth.PlainTextAuthProvider("cassandra", "wrong") })
      assert.is_nil(res)
      assert.equal("AuthenticationFailed", err.name)
      assert.matches("incorrect", err.message)
    end
    local _, err = open(srv, {})
    assert.equal("AuthenticationFailed", err.name)
    assert.matches("no auth_provider", err.message)
  end)

  it("completes 1,000 requests in flight answered out of order", function()
    -- Fake: a real node answers fast queries in roughly the order sent.
    local srv = test_server.start({
      { when = { opcode = "QUERY", query = "^SELECT v FROM t WHERE k = (%d+)$" },
        reply = function(req)
          local k = tonumber(req.captures[1])
          return { delay_ms = (k * 37) % 200, rows = { columns = { { "v", "text" } }, rows = { { "v" .. k } } } }
        end },
    })
    finally(srv.stop)
    local conn = assert(open(srv))
    local ok, answered = sched:run(function()
      local futures = {}
      for k = 1, 1000 do futures[k] = conn:query("SELECT v FROM t WHERE k = " .. k, 20) end
      assert.is_true(conn:in_flight() > 900)
      local order, n = {}, 0
      for k = 1, 1000 do
        futures[k]:add_callback(function() order[#order + 1] = k end)
      end
      for k = 1, 1000 do
        local res = futures[k]:result()
        if res and texts(res)[1] == "v" .. k then n = n + 1 end
      end
      local sorted = 0
      for i = 2, #order do if order[i] > order[i - 1] then sorted = sorted + 1 end end
      assert.is_true(sorted < 900, "answers came out of order")
      return n
    end)
    assert.is_true(ok, answered)
    assert.equal(1000, answered)
    assert.equal(0, conn:in_flight())
    conn:close()
  end)

  it("leaves no server running", function()
    local srv = test_server.start({})
    local pid = srv.pid
    srv.stop()
    assert.same({}, test_server.running())
    -- Gone, or a zombie its new parent has yet to reap.
    local f = io.open("/proc/" .. pid .. "/stat")
    local stat = f and f:read("*a") or ""
    if f then f:close() end
    assert.is_true(stat == "" or stat:match("^%d+ %b() Z") ~= nil, stat)
  end)
end)
