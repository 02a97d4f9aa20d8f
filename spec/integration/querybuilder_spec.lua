-- The query builder against the real server: every statement it generates
-- is prepared and run, and what it did is read back with hand-written CQL.
local testenv = require "testenv"
local Cluster = require("cql.cluster").Cluster
local collections = require "cql.util.collections"
local qb = require "cql.querybuilder"

-- Plain Lua values for comparisons: lists without `n`, sets as arrays, maps
-- as tables, int64 as numbers.
local function plain(v)
  if collections.is_sortedset(v) then return plain(v:items()) end
  if collections.is_orderedmap(v) then
    local out = {}
    for k, x in v:pairs() do out[plain(k)] = plain(x) end
    return out
  end
  if type(v) == "cdata" then return tonumber(v) end
  if type(v) == "table" and getmetatable(v) == nil then
    local is_list = v.n ~= nil and v.n == #v and #v > 0 -- a decoded list carries its length
    local out = {}
    for k, x in pairs(v) do if not (is_list and k == "n") then out[k] = plain(x) end end
    return out
  end
  return v
end

-- A write timestamp (microseconds) later than any write the spec makes
-- without one, so that statements using it win.
local FUTURE = (os.time() + 3600) * 1000000LL

describe("querybuilder against Cassandra", function()
  local cluster, session

  -- Prepares and runs a builder's statement; returns the ResultSet.
  local function run(q, opts)
    local cql, values = q:build(opts)
    local ps, err = session:prepare(cql)
    assert(ps, ("prepare failed: %s\n  %s"):format(tostring(err), cql))
    local rs, eerr = session:execute(ps, values)
    assert(rs, ("execute failed: %s\n  %s"):format(tostring(eerr), cql))
    return rs
  end

  local function rows(cql)
    return plain(assert(assert(session:execute(cql)):all()))
  end

  local function row(cql)
    return plain(assert(session:execute(cql)):one())
  end

  local function exec(cql)
    assert(session:execute(cql))
  end

  -- The values of one column over rows.
  local function col(rs_rows, name)
    local out = {}
    for i, r in ipairs(rs_rows) do out[i] = r[name] end
    return out
  end

  setup(function()
    cluster = Cluster { contact_points = testenv.hosts() }
    session = assert(cluster:connect())
    exec("DROP KEYSPACE IF EXISTS qb_test")
    exec("CREATE KEYSPACE qb_test WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    assert(session:set_keyspace("qb_test"))
    exec("CREATE TYPE addr (street text, zip int)")
    exec("CREATE TABLE users (id int PRIMARY KEY, name text, age int, \"userName\" text, \"select\" int)")
    exec("CREATE TABLE events (k int, c1 int, c2 text, v text, PRIMARY KEY (k, c1, c2))")
    exec("CREATE TABLE coll (k int PRIMARY KEY, l list<int>, s set<text>, m map<text, int>, u addr, v int)")
    exec("CREATE TABLE counts (k int PRIMARY KEY, n counter, o counter)")
    exec("CREATE TABLE tagged (k int PRIMARY KEY, tags set<text>, attrs map<text, text>, note text)")
    exec("CREATE INDEX tagged_tags ON tagged (tags) USING 'sai'")
    exec("CREATE INDEX tagged_keys ON tagged (KEYS(attrs)) USING 'sai'")
    exec("CREATE INDEX tagged_entries ON tagged (ENTRIES(attrs)) USING 'sai'")
    for _, index in ipairs { "tagged_tags", "tagged_keys", "tagged_entries" } do
      testenv.wait_index_built(session, "qb_test", index)
    end
    exec("CREATE TABLE tk (a int, b text, v int, PRIMARY KEY ((a, b)))")
    exec("CREATE TABLE js (k int PRIMARY KEY, a text, b int)")
  end)

  teardown(function()
    if session then session:execute("DROP KEYSPACE IF EXISTS qb_test") end
    if cluster then cluster:shutdown() end
  end)

  describe("SELECT", function()
    setup(function()
      for k = 1, 3 do
        for c1 = 1, 3 do
          for _, c2 in ipairs { "a", "b" } do
            exec(("INSERT INTO events (k, c1, c2, v) VALUES (%d, %d, '%s', 'v%d%d%s')"):format(k, c1, c2, k, c1, c2))
          end
        end
      end
    end)

    it("selects columns with aliases and functions", function()
      exec("INSERT INTO users (id, name, age) VALUES (1, 'ann', 30) USING TIMESTAMP 1000 AND TTL 5000")
      local r = plain(run(qb.select("users"):columns(qb.col("name"):as("who"), qb.fn.writetime("name"):as("wt"),
          qb.fn.ttl("age"), qb.fn.cast("age", "text"):as("age_text"), qb.fn.token("id"):as("tok"),
          qb.fn.to_json("name"):as("j")):where("id", "=", 1)):one())
      local hand = row("SELECT token(id) AS tok, ttl(age) AS t FROM users WHERE id = 1")
      assert.equal("ann", r.who)
      assert.equal(1000, r.wt)
      assert.equal("30", r.age_text)
      assert.equal(hand.tok, r.tok)
      assert.equal('"ann"', r.j)
      assert.is_true(r["ttl(age)"] <= 5000 and r["ttl(age)"] > 4900)
      local n = plain(run(qb.select("events"):columns(qb.fn.count():as("n")):where("k", "=", 2)):one()).n
      assert.equal(6, n)
      local agg = plain(run(qb.select("events"):columns(qb.fn.min("c1"), qb.fn.max("c1"), qb.fn.count("v"))
        :where("k", "=", 2)):one())
      assert.same({ ["system.min(c1)"] = 1, ["system.max(c1)"] = 3, ["system.count(v)"] = 6 }, agg)
    end)

    it("runs comparison relations on clustering columns, ORDER BY and LIMIT", function()
      local q = qb.select("events"):columns("c1", "c2"):where("k", "=", 1):where("c1", ">=", 2)
      assert.same({ { c1 = 2, c2 = "a" }, { c1 = 2, c2 = "b" }, { c1 = 3, c2 = "a" }, { c1 = 3, c2 = "b" } },
        plain(run(q):all()))
      assert.same(rows("SELECT c1, c2 FROM events WHERE k = 1 AND c1 > 1 AND c1 <= 2"),
        plain(run(qb.select("events"):columns("c1", "c2"):where("k", "=", 1):where("c1", ">", 1)
          :where("c1", "<=", 2)):all()))
      assert.same({ 1, 1 }, col(plain(run(qb.select("events"):columns("c1"):where("k", "=", 1):where("c1", "<", 2))
        :all()), "c1"))
      local desc = plain(run(qb.select("events"):columns("c1", "c2"):where("k", "=", 3):order_by("c1", "desc")
        :limit(3)):all())
      assert.same({ { c1 = 3, c2 = "b" }, { c1 = 3, c2 = "a" }, { c1 = 2, c2 = "b" } }, desc)
    end)

    it("runs IN on the partition key and clustering columns", function()
      local got = plain(run(qb.select("events"):columns("k", "c1", "c2"):where("k", "in", { 1, 3 })
        :where("c1", "=", 2):where("c2", "in", { "b" })):all())
      assert.same({ { k = 1, c1 = 2, c2 = "b" }, { k = 3, c1 = 2, c2 = "b" } }, got)
      assert.same({}, plain(run(qb.select("events"):where("k", "in", {})):all()))
      assert.same({ 1, 3 }, col(plain(run(qb.select("events"):distinct():columns("k")
        :where("k", "in", qb.param({ 1, 3 }))):all()), "k"))
    end)

    it("runs tuple relations on clustering columns and IN over tuples", function()
      local q = qb.select("events"):columns("c1", "c2"):where("k", "=", 2):where({ "c1", "c2" }, ">", { 2, "a" })
      assert.same(rows("SELECT c1, c2 FROM events WHERE k = 2 AND (c1, c2) > (2, 'a')"), plain(run(q):all()))
      assert.same({ { c1 = 2, c2 = "b" }, { c1 = 3, c2 = "a" }, { c1 = 3, c2 = "b" } }, plain(run(q):all()))
      local range = qb.select("events"):columns("c1", "c2"):where("k", "=", 2):where({ "c1", "c2" }, ">=", { 1, "b" })
        :where({ "c1", "c2" }, "<", { 2, "b" })
      assert.same({ { c1 = 1, c2 = "b" }, { c1 = 2, c2 = "a" } }, plain(run(range):all()))
      local tin = qb.select("events"):columns("c1", "c2"):where("k", "=", 2)
        :where({ "c1", "c2" }, "in", { { 1, "a" }, { 3, "b" }, { 9, "z" } })
      assert.same({ { c1 = 1, c2 = "a" }, { c1 = 3, c2 = "b" } }, plain(run(tin):all()))
    end)

    it("runs token relations, by token and by partition key values", function()
      local toks = rows("SELECT k, token(k) AS t FROM events WHERE k IN (1, 2, 3) PER PARTITION LIMIT 1")
      table.sort(toks, function(a, b) return a.t < b.t end)
      local mid = toks[2]
      local above = plain(run(qb.select("events"):distinct():columns("k"):where(qb.token("k"), ">",
        assert(session:execute("SELECT token(k) AS t FROM events WHERE k = " .. mid.k)):one().t)):all())
      assert.same({ toks[3].k }, col(above, "k"))
      local by_key = plain(run(qb.select("events"):distinct():columns("k"):where(qb.token("k"), "<=", { mid.k }))
        :all())
      assert.same({ toks[1].k, toks[2].k }, col(by_key, "k"))
      exec("INSERT INTO tk (a, b, v) VALUES (1, 'x', 10)")
      exec("INSERT INTO tk (a, b, v) VALUES (2, 'y', 20)")
      local hand = rows("SELECT v FROM tk WHERE token(a, b) >= token(2, 'y')")
      local got = plain(run(qb.select("tk"):columns("v"):where(qb.token("a", "b"), ">=", { 2, "y" })):all())
      assert.same(hand, got)
      assert.equal(1, #got)
    end)

    it("runs CONTAINS, CONTAINS KEY and map entry relations on SAI indexes", function()
      exec("INSERT INTO tagged (k, tags, attrs) VALUES (1, {'red', 'big'}, {'color': 'red'})")
      exec("INSERT INTO tagged (k, tags, attrs) VALUES (2, {'blue'}, {'size': 'big'})")
      exec("INSERT INTO tagged (k, tags, attrs) VALUES (3, {'red'}, {'color': 'blue'})")
      local red = col(plain(run(qb.select("tagged"):columns("k"):where("tags", "contains", "red")):all()), "k")
      table.sort(red)
      assert.same({ 1, 3 }, red)
      assert.same({ 2 }, col(plain(run(qb.select("tagged"):columns("k"):where("attrs", "contains key", "size")):all()),
        "k"))
      assert.same({ 3 }, col(plain(run(qb.select("tagged"):columns("k"):where(qb.elem("attrs", "color"), "=", "blue"))
        :all()), "k"))
    end)

    it("runs PER PARTITION LIMIT, GROUP BY, DISTINCT, JSON and ALLOW FILTERING", function()
      local ppl = plain(run(qb.select("events"):columns("k", "c1", "c2"):where("k", "in", { 1, 2 })
        :per_partition_limit(2)):all())
      assert.same({ { k = 1, c1 = 1, c2 = "a" }, { k = 1, c1 = 1, c2 = "b" }, { k = 2, c1 = 1, c2 = "a" },
                    { k = 2, c1 = 1, c2 = "b" } }, ppl)
      local grouped = plain(run(qb.select("events"):columns("c1", qb.fn.count():as("n")):where("k", "=", 1)
        :group_by("k", "c1")):all())
      assert.same({ { c1 = 1, n = 2 }, { c1 = 2, n = 2 }, { c1 = 3, n = 2 } }, grouped)
      local ks = col(plain(run(qb.select("events"):distinct():columns("k")):all()), "k")
      table.sort(ks)
      assert.same({ 1, 2, 3 }, ks)
      local j = plain(run(qb.select("events"):json():columns("c1", "v"):where("k", "=", 1):limit(1)):one())
      assert.same({ ["[json]"] = '{"c1": 1, "v": "v11a"}' }, j)
      local filtered = plain(run(qb.select("events"):columns("k"):where("v", "=", "v32b"):allow_filtering()):all())
      assert.same({ { k = 3 } }, filtered)
      local ok, err = session:prepare((qb.select("events"):where("v", "=", "v32b"):build()))
      assert.is_nil(ok) -- the same without ALLOW FILTERING is refused: the clause is what made it run
      assert.matches("ALLOW FILTERING", tostring(err))
    end)
  end)

  describe("INSERT", function()
    it("inserts values, with IF NOT EXISTS applied and not applied", function()
      run(qb.insert("users"):value("id", 10):value("name", "bob"):value("age", nil))
      assert.same({ id = 10, name = "bob" }, row("SELECT id, name, age FROM users WHERE id = 10"))
      local rs = run(qb.insert("users"):values { id = 11, name = "cy" }:if_not_exists())
      assert.is_true(rs:was_applied())
      rs = run(qb.insert("users"):values { id = 11, name = "other" }:if_not_exists())
      assert.is_false(rs:was_applied())
      assert.equal("cy", row("SELECT name FROM users WHERE id = 11").name)
    end)

    it("writes USING TTL and TIMESTAMP, as literals and as markers", function()
      run(qb.insert("users"):value("id", 12):value("name", "dee"):using_ttl(3000):using_timestamp(1234567))
      local r = row("SELECT ttl(name) AS t, writetime(name) AS w FROM users WHERE id = 12")
      assert.is_true(r.t <= 3000 and r.t > 2900)
      assert.equal(1234567, r.w)
      run(qb.insert("users"):value("id", 13):value("name", "eve"):using_ttl(qb.param(200))
        :using_timestamp(qb.param(7654321LL)))
      r = row("SELECT ttl(name) AS t, writetime(name) AS w FROM users WHERE id = 13")
      assert.is_true(r.t <= 200 and r.t > 100)
      assert.equal(7654321, r.w)
    end)

    it("inserts JSON, with DEFAULT UNSET and DEFAULT NULL", function()
      run(qb.insert("js"):json('{"k": 1, "a": "x", "b": 2}'))
      assert.same({ k = 1, a = "x", b = 2 }, row("SELECT k, a, b FROM js WHERE k = 1"))
      run(qb.insert("js"):json('{"k": 1, "a": "y"}'):default_unset())
      assert.same({ k = 1, a = "y", b = 2 }, row("SELECT k, a, b FROM js WHERE k = 1"))
      run(qb.insert("js"):json('{"k": 1, "a": "z"}'):default_null())
      assert.same({ k = 1, a = "z" }, row("SELECT k, a, b FROM js WHERE k = 1"))
      local rs = run(qb.insert("js"):json('{"k": 1, "a": "w"}'):if_not_exists())
      assert.is_false(rs:was_applied())
    end)
  end)

  describe("UPDATE", function()
    before_each(function()
      exec("TRUNCATE coll")
      exec("INSERT INTO coll (k, l, s, m, u, v) VALUES (1, [1, 2, 3], {'a', 'b'}, {'x': 1, 'y': 2}, "
        .. "{street: 'main', zip: 5}, 0)")
    end)

    it("updates lists: append, prepend, remove, set by index", function()
      run(qb.update("coll"):append("l", { 4, 5 }):where("k", "=", 1))
      assert.same({ 1, 2, 3, 4, 5 }, row("SELECT l FROM coll WHERE k = 1").l)
      run(qb.update("coll"):prepend("l", { 0 }):where("k", "=", 1))
      assert.same({ 0, 1, 2, 3, 4, 5 }, row("SELECT l FROM coll WHERE k = 1").l)
      run(qb.update("coll"):remove("l", { 2, 4 }):where("k", "=", 1))
      assert.same({ 0, 1, 3, 5 }, row("SELECT l FROM coll WHERE k = 1").l)
      run(qb.update("coll"):set(qb.elem("l", 1), 10):where("k", "=", 1))
      assert.same({ 0, 10, 3, 5 }, row("SELECT l FROM coll WHERE k = 1").l)
    end)

    it("updates sets and maps: add, remove, put, remove keys, set by key", function()
      run(qb.update("coll"):add("s", { "c" }):remove("s", { "a" }):where("k", "=", 1))
      assert.same({ "b", "c" }, row("SELECT s FROM coll WHERE k = 1").s)
      run(qb.update("coll"):put("m", { z = 3 }):where("k", "=", 1))
      assert.same({ x = 1, y = 2, z = 3 }, row("SELECT m FROM coll WHERE k = 1").m)
      run(qb.update("coll"):remove_keys("m", { "x", "z" }):where("k", "=", 1))
      assert.same({ y = 2 }, row("SELECT m FROM coll WHERE k = 1").m)
      run(qb.update("coll"):set(qb.elem("m", "w"), 9):where("k", "=", 1))
      assert.same({ w = 9, y = 2 }, row("SELECT m FROM coll WHERE k = 1").m)
    end)

    it("sets columns and UDT fields, with USING TTL and TIMESTAMP", function()
      run(qb.update("coll"):set(qb.field("u", "zip"), 99):set("v", 7):where("k", "=", 1):using_ttl(4000)
        :using_timestamp(FUTURE))
      local r = row("SELECT u, v, ttl(v) AS t, writetime(v) AS w FROM coll WHERE k = 1")
      assert.same({ street = "main", zip = 99 }, r.u)
      assert.equal(7, r.v)
      assert.is_true(r.t <= 4000 and r.t > 3900)
      assert.equal(tonumber(FUTURE), r.w)
      run(qb.update("coll"):set { v = 8, s = { "q" } }:where { k = 2 })
      assert.same({ v = 8, s = { "q" } }, row("SELECT v, s FROM coll WHERE k = 2"))
    end)

    it("increments and decrements counters", function()
      run(qb.update("counts"):increment("n"):increment("o", 10):where("k", "=", 1))
      run(qb.update("counts"):increment("n", 4LL):decrement("o", 3):where("k", "=", 1))
      run(qb.update("counts"):decrement("n"):where("k", "=", 1))
      assert.same({ n = 4, o = 7 }, row("SELECT n, o FROM counts WHERE k = 1"))
    end)

    it("applies IF EXISTS and IF conditions only when they hold", function()
      assert.is_false(run(qb.update("coll"):set("v", 1):where("k", "=", 2):if_exists()):was_applied())
      assert.is_nil(row("SELECT v FROM coll WHERE k = 2"))
      assert.is_true(run(qb.update("coll"):set("v", 1):where("k", "=", 1):if_exists()):was_applied())
      local cases = {
        { qb.update("coll"):set("v", 2):where("k", "=", 1):iff("v", "=", 5), false },
        { qb.update("coll"):set("v", 2):where("k", "=", 1):iff("v", "=", 1), true },
        { qb.update("coll"):set("v", 3):where("k", "=", 1):iff("v", "!=", 2), false },
        { qb.update("coll"):set("v", 3):where("k", "=", 1):iff("v", ">", 1):iff("v", "<=", 2), true },
        { qb.update("coll"):set("v", 4):where("k", "=", 1):iff("v", "in", { 1, 2 }), false },
        { qb.update("coll"):set("v", 4):where("k", "=", 1):iff("v", "in", { 3, 9 }), true },
        { qb.update("coll"):set("v", 5):where("k", "=", 1):iff(qb.elem("m", "x"), "=", 2), false },
        { qb.update("coll"):set("v", 5):where("k", "=", 1):iff(qb.elem("m", "x"), ">=", 1), true },
        { qb.update("coll"):set("v", 6):where("k", "=", 1):iff("s", "contains", "z"), false },
        { qb.update("coll"):set("v", 6):where("k", "=", 1):iff("s", "contains", "a"), true },
        { qb.update("coll"):set("v", 7):where("k", "=", 1):iff("m", "contains key", "q"), false },
        { qb.update("coll"):set("v", 7):where("k", "=", 1):iff("m", "contains key", "y"), true },
        { qb.update("coll"):set("v", 8):where("k", "=", 1):iff(qb.field("u", "zip"), "=", 5)
            :iff(qb.elem("l", 0), "<", 2), true },
      }
      for i, case in ipairs(cases) do
        local rs = run(case[1])
        assert.equal(case[2], rs:was_applied(), "case " .. i .. ": " .. (case[1]:build()))
      end
      assert.equal(8, row("SELECT v FROM coll WHERE k = 1").v)
      local rs = run(qb.update("coll"):set("v", 9):where("k", "=", 1):iff("v", "=", 0))
      assert.is_false(rs:was_applied())
      assert.equal(8, plain(rs:one()).v) -- the existing value comes back with [applied] = false
    end)
  end)

  describe("DELETE", function()
    before_each(function()
      exec("TRUNCATE coll")
      exec("INSERT INTO coll (k, l, s, m, u, v) VALUES (1, [1, 2, 3], {'a', 'b'}, {'x': 1, 'y': 2}, "
        .. "{street: 'main', zip: 5}, 0) USING TIMESTAMP 1000")
    end)

    it("deletes columns, collection elements and UDT fields", function()
      run(qb.delete("coll"):columns("v", qb.elem("m", "x"), qb.elem("l", 0), qb.field("u", "zip")):where("k", "=", 1))
      local r = row("SELECT l, s, m, u, v FROM coll WHERE k = 1")
      assert.same({ l = { 2, 3 }, s = { "a", "b" }, m = { y = 2 }, u = { street = "main" } }, r)
    end)

    it("deletes rows and ranges, with USING TIMESTAMP", function()
      run(qb.delete("coll"):where("k", "=", 1):using_timestamp(999))
      assert.is_not_nil(row("SELECT k FROM coll WHERE k = 1")) -- older than the write: no effect
      run(qb.delete("coll"):where("k", "=", 1):using_timestamp(1001))
      assert.is_nil(row("SELECT k FROM coll WHERE k = 1"))
      exec("INSERT INTO events (k, c1, c2, v) VALUES (9, 1, 'a', 'x')")
      exec("INSERT INTO events (k, c1, c2, v) VALUES (9, 2, 'a', 'x')")
      exec("INSERT INTO events (k, c1, c2, v) VALUES (9, 3, 'a', 'x')")
      run(qb.delete("events"):where("k", "=", 9):where("c1", ">=", 2))
      assert.same({ { c1 = 1 } }, rows("SELECT c1 FROM events WHERE k = 9"))
    end)

    it("applies IF EXISTS and IF conditions", function()
      assert.is_false(run(qb.delete("coll"):where("k", "=", 5):if_exists()):was_applied())
      assert.is_false(run(qb.delete("coll"):columns("v"):where("k", "=", 1):iff("v", "=", 1)):was_applied())
      assert.equal(0, row("SELECT v FROM coll WHERE k = 1").v)
      assert.is_true(run(qb.delete("coll"):columns("v"):where("k", "=", 1):iff("v", "=", 0)):was_applied())
      assert.is_nil(row("SELECT v FROM coll WHERE k = 1").v)
      assert.is_true(run(qb.delete("coll"):where("k", "=", 1):if_exists()):was_applied())
      assert.is_nil(row("SELECT k FROM coll WHERE k = 1"))
    end)
  end)

  describe("BATCH", function()
    it("runs a logged batch of mixed statements with USING TIMESTAMP", function()
      exec("INSERT INTO users (id, name) VALUES (21, 'gone')")
      run(qb.batch():add(qb.insert("users"):value("id", 20):value("name", "fay"),
        qb.update("users"):set("age", 40):where("id", "=", 20),
        qb.delete("users"):where("id", "=", 21)):using_timestamp(FUTURE + 1))
      local r = row("SELECT name, age, writetime(name) AS w FROM users WHERE id = 20")
      assert.same({ name = "fay", age = 40, w = tonumber(FUTURE + 1) }, r)
      assert.is_nil(row("SELECT id FROM users WHERE id = 21"))
    end)

    it("runs unlogged and counter batches, and conditional batches", function()
      run(qb.batch("unlogged"):add(qb.insert("users"):value("id", 22):value("name", "gil"):using_ttl(500),
        qb.insert("users"):value("id", 23):value("name", "hal"):using_timestamp(42)))
      assert.same({ { id = 22, name = "gil" }, { id = 23, name = "hal" } },
        rows("SELECT id, name FROM users WHERE id IN (22, 23)"))
      assert.equal(42, row("SELECT writetime(name) AS w FROM users WHERE id = 23").w)
      run(qb.batch("counter"):add(qb.update("counts"):increment("n", 5):where("k", "=", 2),
        qb.update("counts"):decrement("o", 2):where("k", "=", 2)))
      assert.same({ n = 5, o = -2 }, row("SELECT n, o FROM counts WHERE k = 2"))
      local lwt = qb.batch():add(qb.insert("events"):value("k", 8):value("c1", 1):value("c2", "a"):if_not_exists(),
        qb.update("events"):set("v", "set"):where("k", "=", 8):where("c1", "=", 2):where("c2", "=", "b"))
      assert.is_true(run(lwt):was_applied())
      assert.same({ { c1 = 1, v = nil }, { c1 = 2, v = "set" } }, rows("SELECT c1, v FROM events WHERE k = 8"))
    end)
  end)

  describe("markers and names", function()
    it("runs statements with named markers, bound by name", function()
      local q = qb.update("coll"):set("v", 11):set(qb.elem("m", "n"), 3):where("k", "in", { 31, 32 })
      local cql, values = q:build { named = true }
      assert.equal("UPDATE coll SET v = :v, m[:m_key] = :m_value WHERE k IN (:k, :k_2)", cql)
      local ps = assert(session:prepare(cql))
      assert.same({ "v", "m_key", "m_value", "k", "k_2" }, col(ps.column_metadata, "name"))
      assert(session:execute(ps, values))
      assert.same({ { k = 31, v = 11, m = { n = 3 } }, { k = 32, v = 11, m = { n = 3 } } },
        rows("SELECT k, v, m FROM coll WHERE k IN (31, 32)"))
      local sel = qb.select("users"):columns("name"):where("id", "=", 20):limit(qb.param(1))
      assert.same({ { name = "fay" } }, plain(run(sel, { named = true }):all()))
    end)

    it("prepares once with qb.marker and binds many times", function()
      local cql = qb.insert("users"):value("id", qb.marker("id")):value("name", qb.marker("name"))
        :using_ttl(qb.marker("ttl")):build()
      assert.equal('INSERT INTO users (id, name) VALUES (:id, :name) USING TTL :ttl', cql)
      local ps = assert(session:prepare(cql))
      for i = 40, 42 do assert(session:execute(ps, { id = i, name = "n" .. i, ttl = 600 })) end
      local got = rows("SELECT id, name FROM users WHERE id IN (40, 41, 42)")
      assert.same({ { id = 40, name = "n40" }, { id = 41, name = "n41" }, { id = 42, name = "n42" } }, got)
      local pos = qb.select("users"):columns("name"):where("id", "in", qb.marker()):build()
      assert.equal("SELECT name FROM users WHERE id IN ?", pos)
      local rs = assert(session:execute(assert(session:prepare(pos)), { { 40, 42 } }))
      assert.same({ { name = "n40" }, { name = "n42" } }, plain(rs:all()))
    end)

    it("runs raw fragments", function()
      run(qb.update("users"):set(qb.raw("age = ?", 77)):set("name", qb.raw("'raw'")):where(qb.raw("id = ?", 50)))
      assert.same({ age = 77, name = "raw" }, row("SELECT age, name FROM users WHERE id = 50"))
      local r = plain(run(qb.select("users"):columns(qb.raw("toJson(age) AS j")):where("id", "=", 50)):one())
      assert.same({ j = "77" }, r)
    end)

    it("quotes mixed case, reserved words and quotes inside names as the server needs", function()
      run(qb.insert("users"):value("id", 60):value("userName", "Mixed"):value("select", 5))
      assert.same({ userName = "Mixed", select = 5 }, row('SELECT "userName", "select" FROM users WHERE id = 60'))
      local words = require("cql.querybuilder.identifiers").reserved_keywords()
      local defs = {}
      for i, w in ipairs(words) do defs[i] = '"' .. w:lower() .. '" int' end
      exec('CREATE TABLE "Reserved" (k int PRIMARY KEY, "Odd ""name""" text, ' .. table.concat(defs, ", ") .. ")")
      local ins = qb.insert("qb_test.Reserved"):value("k", 1):value('Odd "name"', "q")
      for i, w in ipairs(words) do ins = ins:value(w:lower(), i) end
      run(ins)
      local sel = qb.select("Reserved"):columns('Odd "name"'):where("k", "=", 1)
      for _, w in ipairs(words) do sel = sel:columns(w:lower()) end
      local r = plain(run(sel):one())
      assert.equal("q", r['Odd "name"'])
      for i, w in ipairs(words) do assert.equal(i, r[w:lower()], w) end
      run(qb.update("Reserved"):set("from", 100):set('Odd "name"', "r"):where("k", "=", 1):iff("where", "=", 0)
        :iff("token", "!=", 0))
      local index = {}
      for i, w in ipairs(words) do index[w:lower()] = i end
      local back = row('SELECT "from", "Odd ""name""" FROM "Reserved" WHERE k = 1')
      assert.same({ from = index.from, ['Odd "name"'] = "q" }, back) -- the condition failed: nothing changed
      assert.is_true(run(qb.update("Reserved"):set("from", 100):where("k", "=", 1)
        :iff("where", "=", index["where"]):iff("token", "!=", 0)):was_applied())
      assert.equal(100, row('SELECT "from" FROM "Reserved" WHERE k = 1').from)
    end)
  end)
end)
