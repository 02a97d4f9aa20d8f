-- A Lua connection on the libuv host against the real server.
local ffi = require "ffi"
local testenv = require "testenv"
local Scheduler = require "cql.scheduler"
local UvHost = require "cql.host.uv"
local Connection = require "cql.connection"
local C = require("cql.core").C

local address = testenv.hosts()[1]

-- The text value of column `col` (0-based) of the first row of a rows response.
local function first_text(res, col)
  local r = res.response.u.result
  local types = ffi.new("const cq_type *[?]", r.meta.column_count)
  for i = 0, r.meta.column_count - 1 do types[i] = r.meta.columns[i].type end
  local page = ffi.new("cq_rows_page")
  local err = ffi.new("char[256]")
  assert(C.cq_rows_decode(page, types, r.meta.column_count, r.row_count, r.rows, r.rows_len, err, 256) == 0,
    ffi.string(err))
  local cell = page.cells.v[col]
  local s = ffi.string(page.src + cell.off, cell.len)
  C.cq_rows_free(page)
  return s
end

describe("a connection on the libuv host", function()
  local sched, host
  before_each(function()
    host = UvHost.new()
    sched = Scheduler.new(host)
  end)

  it("negotiates v5 and runs a query", function()
    local conn = assert(Connection.open(sched, host, address, {}):result())
    assert.equal(5, conn:protocol_version())
    local res = assert(conn:query("SELECT release_version FROM system.local"):result())
    assert.equal("rows", res.kind)
    assert.matches("^5%.0%.", first_text(res, 0))
    conn:close()
  end)

  it("speaks pinned v4 and v3, with and without LZ4", function()
    for _, v in ipairs { 4, 3 } do
      for _, lz4 in ipairs { false, true } do
        local conn = assert(Connection.open(sched, host, address, { protocol_version = v, compression = lz4 }):result())
        assert.equal(v, conn:protocol_version())
        local res = assert(conn:query("SELECT cluster_name FROM system.local"):result())
        assert.equal("rows", res.kind)
        conn:close()
      end
    end
  end)

  it("keeps 10,000 requests in flight from coroutines and answers each one", function()
    local conn = assert(Connection.open(sched, host, address, { compression = true }):result())
    local ok, answered = sched:run(function()
      local futures = {}
      for i = 1, 10000 do
        local q = i % 2 == 0 and "SELECT key FROM system.local" or "SELECT release_version FROM system.local"
        futures[i] = conn:query(q)
      end
      assert.is_true(conn:in_flight() > 1000)
      local n = 0
      for i = 1, 10000 do
        local res = futures[i]:result()
        if res and res.kind == "rows" and (i % 2 == 1) == (first_text(res, 0):match("^5%.0") ~= nil) then
          n = n + 1
        end
      end
      return n
    end)
    assert.is_true(ok, answered)
    assert.equal(10000, answered)
    assert.equal(0, conn:in_flight())
    conn:close()
  end)

  it("maps server errors and stays usable", function()
    local conn = assert(Connection.open(sched, host, address, {}):result())
    local res, err = conn:query("SELEKT 1"):result()
    assert.is_nil(res)
    assert.equal("SyntaxException", err.name)
    assert.equal(0x2000, err.code)
    assert.equal(address, err.host)
    res, err = conn:query("SELECT * FROM system.no_such_table"):result()
    assert.is_nil(res)
    assert.equal("InvalidRequest", err.name)
    assert.truthy(conn:query("SELECT key FROM system.local"):result())
    conn:close()
  end)

  it("fails requests in flight with ConnectionShutdown when it closes", function()
    local conn = assert(Connection.open(sched, host, address, {}):result())
    local futures = {}
    for i = 1, 50 do futures[i] = conn:query("SELECT key FROM system.local") end
    conn:close("shutting down")
    for i = 1, 50 do
      local res, err = futures[i]:result()
      assert.is_nil(res)
      assert.equal("ConnectionShutdown", err.name)
      assert.matches("shutting down", err.message)
    end
    local _, err = conn:query("SELECT 1"):result()
    assert.equal("ConnectionShutdown", err.name)
  end)

  it("reports a refused connection as ConnectionException naming the node", function()
    local _, err = Connection.open(sched, host, "127.0.0.1", { port = 1 }):result()
    assert.equal("ConnectionException", err.name)
    assert.matches("cannot connect to 127%.0%.0%.1:1", err.message)
    assert.matches("refused", err.message)
  end)

  it("sets the keyspace during the handshake, and refuses a missing one", function()
    local conn = assert(Connection.open(sched, host, address, { keyspace = "system" }):result())
    assert.equal("rows", assert(conn:query("SELECT key FROM local"):result()).kind)
    conn:close()
    local _, err = Connection.open(sched, host, address, { keyspace = "no_such_ks" }):result()
    assert.equal("ConnectionException", err.name)
    assert.matches("USE failed", err.message)
  end)
end)
