-- Many requests at once: coroutines in the runtime, execute_concurrent.
local testenv = require "testenv"
local Cluster = require("cql.cluster").Cluster
local runtime = require "cql.runtime"
local concurrent = require "cql.concurrent"

describe("concurrency", function()
  local cluster, session, ins
  setup(function()
    cluster = Cluster { contact_points = testenv.hosts() }
    session = assert(cluster:connect())
    assert(session:execute("CREATE KEYSPACE IF NOT EXISTS cqlua_conc WITH replication = "
      .. "{'class': 'SimpleStrategy', 'replication_factor': 1}"))
    assert(session:set_keyspace("cqlua_conc"))
    assert(session:execute("DROP TABLE IF EXISTS c"))
    assert(session:execute("CREATE TABLE c (k int PRIMARY KEY, v int)"))
    ins = assert(session:prepare("INSERT INTO c (k, v) VALUES (?, ?)"))
  end)
  teardown(function() cluster:shutdown() end)

  it("runs 10,000 execute_async calls from 100 coroutines with correct results", function()
    local ok, err = runtime.run(function()
      local workers = {}
      for w = 1, 100 do
        workers[w] = runtime.spawn(function()
          local futures = {}
          for j = 1, 100 do
            local k = (w - 1) * 100 + j
            futures[j] = session:execute_async(ins, { k, k * 2 })
          end
          for j = 1, 100 do
            local rs, err = futures[j]:result()
            if not rs then error("request " .. j .. " of worker " .. w .. ": " .. tostring(err), 0) end
          end
          return true
        end)
      end
      for w = 1, 100 do
        local done, err = workers[w]:result()
        if not done then error(err, 0) end
      end
    end)
    assert.is_true(ok, tostring(err))
    local sum, n = 0, 0
    for row in assert(session:execute("SELECT k, v FROM c")):rows() do
      assert.equal(row.k * 2, row.v)
      sum, n = sum + row.v, n + 1
    end
    assert.equal(10000, n)
    assert.equal(10000 * 10001, sum)
  end)

  it("returns results in input order with bounded concurrency", function()
    local params = {}
    for i = 1, 500 do params[i] = { i } end
    local sel = assert(session:prepare("SELECT v FROM c WHERE k = ?"))
    local results = assert(concurrent.execute_concurrent_with_args(session, sel, params, { concurrency = 20 }))
    assert.equal(500, #results)
    for i = 1, 500 do
      assert.is_true(results[i].success)
      assert.equal(i * 2, results[i].result:one().v)
    end
  end)

  it("stops at the first error, or collects every outcome when asked", function()
    local batch = { { "SELECT v FROM c WHERE k = 1" }, { "SELEKT broken" }, { "SELECT v FROM c WHERE k = 2" } }
    local results, err = concurrent.execute_concurrent(session, batch, { concurrency = 1 })
    assert.is_nil(results)
    assert.equal("SyntaxException", err.name)
    results = assert(concurrent.execute_concurrent(session, batch, { raise_on_first_error = false }))
    assert.is_true(results[1].success)
    assert.is_false(results[2].success)
    assert.equal("SyntaxException", results[2].result.name)
    assert.equal(4, results[3].result:one().v)
  end)

  it("runs the runner's script as a driver coroutine", function()
    local rc, out = testenv.run(testenv.q(testenv.runner)
      .. [[ -e 'print(require("cql.runtime").scheduler():in_managed_coroutine())']])
    assert.equal(0, rc, out)
    assert.equal("true\n", out)
  end)
end)
