-- The query builder without a server: the exact CQL text, values and
-- marker records of every feature, identifier quoting, immutability, and
-- every misuse error.
local qb = require "cql.querybuilder"
local identifiers = require "cql.querybuilder.identifiers"

-- Builds and checks text and values (values given as an array; `n` is
-- compared too, so trailing nils count).
local function check(q, cql, values, opts)
  local text, vals, markers = q:build(opts)
  assert.equal(cql, text)
  if values then
    if opts and opts.named then
      assert.same(values, vals)
    else
      assert.equal(values.n or #values, vals.n)
      for i = 1, vals.n do assert.equal(values[i], vals[i], "value " .. i) end
    end
  end
  return markers, vals
end

describe("querybuilder", function()
  describe("identifiers", function()
    it("leaves plain lower-case names bare", function()
      for _, n in ipairs { "id", "a1", "user_name", "ttl", "key", "count", "json", "default", "unset", "cast" } do
        assert.equal(n, qb.quote_identifier(n))
      end
    end)

    it("quotes mixed case, leading digits or underscores, spaces and other characters", function()
      assert.equal('"userId"', qb.quote_identifier("userId"))
      assert.equal('"ID"', qb.quote_identifier("ID"))
      assert.equal('"1abc"', qb.quote_identifier("1abc"))
      assert.equal('"_x"', qb.quote_identifier("_x"))
      assert.equal('"a b"', qb.quote_identifier("a b"))
      assert.equal('"a-b"', qb.quote_identifier("a-b"))
      assert.equal('"é"', qb.quote_identifier("é"))
    end)

    it("doubles quotes inside names", function()
      assert.equal('"say ""hi"""', qb.quote_identifier('say "hi"'))
      assert.equal('""""', qb.quote_identifier('"'))
    end)

    it("quotes every reserved keyword of Cassandra 5.0, and only those", function()
      local words = identifiers.reserved_keywords()
      assert.equal(57, #words)
      for _, w in ipairs(words) do
        assert.equal('"' .. w:lower() .. '"', qb.quote_identifier(w:lower()))
        assert.is_true(qb.is_reserved(w))
        assert.is_true(qb.is_reserved(w:lower()))
      end
      for _, w in ipairs { "select", "from", "token", "order", "limit", "table", "is", "null", "nan", "with",
                           "materialized", "describe", "execute", "entries", "full", "view" } do
        assert.is_true(qb.is_reserved(w), w)
      end
      for _, w in ipairs { "ttl", "writetime", "key", "keys", "values", "distinct", "json", "exists", "contains",
                           "default", "unset", "mbean", "replace", "for", "keyspaces", "timestamp", "as" } do
        assert.is_false(qb.is_reserved(w), w)
      end
    end)

    it("quotes names in every position", function()
      check(qb.select("ks.Tbl"):columns("Name", "order"):where("Key", "=", 1):order_by("DESC", "desc"),
        'SELECT "Name", "order" FROM ks."Tbl" WHERE "Key" = ? ORDER BY "DESC" DESC', { 1 })
      check(qb.insert("MyKs.select"):value("from", 1),
        'INSERT INTO "MyKs"."select" ("from") VALUES (?)', { 1 })
      check(qb.update("t"):set('a"b', 1):append("List", { 1 }):where("where", "=", 2),
        'UPDATE t SET "a""b" = ?, "List" = "List" + ? WHERE "where" = ?')
      check(qb.delete("t"):columns("Col", qb.elem("Map", "k"), qb.field("U", "Field")):where("k", "=", 1),
        'DELETE "Col", "Map"[?], "U"."Field" FROM t WHERE k = ?')
      check(qb.select("t"):columns(qb.col("a"):as("Alias"), qb.fn.writetime("Col"):as("order")),
        'SELECT a AS "Alias", writetime("Col") AS "order" FROM t')
    end)

    it("raises on bad names", function()
      assert.has_error(function() qb.quote_identifier("") end,
        "bad argument #1 to 'quote_identifier' (non-empty string expected, got an empty string)")
      assert.has_error(function() qb.quote_identifier(3) end,
        "bad argument #1 to 'quote_identifier' (non-empty string expected, got number)")
      assert.has_error(function() qb.select("a b") end, "bad argument #1 to 'select' (invalid table name 'a b' "
        .. "(keyspace and table names are letters, digits and _))")
      assert.has_error(function() qb.insert("a.b.c") end, "bad argument #1 to 'insert' (invalid table name 'a.b.c' "
        .. "(keyspace and table names are letters, digits and _))")
      assert.has_error(function() qb.update(".t") end, "bad argument #1 to 'update' (invalid table name '.t' "
        .. "(keyspace and table names are letters, digits and _))")
      assert.has_error(function() qb.delete(nil) end, "bad argument #1 to 'delete' (table name expected, got nil)")
      assert.has_error(function() qb.select("t"):columns("") end, "bad argument #1 to 'columns' (empty column name)")
      assert.has_error(function() qb.select("t"):where(7, "=", 1) end,
        "bad argument #1 to 'where' (column name, column list, qb.token, qb.elem or qb.field expected, got number)")
    end)
  end)

  describe("SELECT", function()
    it("selects * by default, and columns in order", function()
      check(qb.select("users"), "SELECT * FROM users", {})
      check(qb.select("users"):columns("id", "name"):columns("age"), "SELECT id, name, age FROM users", {})
      check(qb.select("users"):columns("*"), "SELECT * FROM users", {})
    end)

    it("matches the documented example", function()
      local id = 42
      local q = qb.select("users"):columns("id", "name"):where("id", "=", id):limit(10)
      local markers = check(q, "SELECT id, name FROM users WHERE id = ? LIMIT 10", { id })
      assert.same({ { column = "id", kind = "value" } }, markers)
      assert.equal("SELECT id, name FROM users WHERE id = ? LIMIT 10", tostring(q))
    end)

    it("takes aliases and functions in the selection", function()
      check(qb.select("t"):columns(qb.fn.count()):column("a", "x"):column(qb.fn.ttl("v"), "t"),
        "SELECT count(*), a AS x, ttl(v) AS t FROM t")
      check(qb.select("t"):columns(qb.fn.count("v"):as("n"), qb.fn.writetime("v"), qb.fn.maxwritetime("v"),
          qb.fn.ttl("v"), qb.fn.token("k1", "k2"), qb.fn.cast("v", "TEXT"), qb.fn.to_json("l"),
          qb.fn.min("v"), qb.fn.max("v"), qb.fn.sum("v"), qb.fn.avg("v")),
        "SELECT count(v) AS n, writetime(v), maxwritetime(v), ttl(v), token(k1, k2), CAST(v AS text), toJson(l), "
          .. "min(v), max(v), sum(v), avg(v) FROM t")
      check(qb.select("t"):columns(qb.fn.call("blobAsText", "b"), qb.fn.call("ks.f", "a", qb.fn.ttl("b")),
          qb.fn.cast(qb.fn.writetime("v"), "text"), qb.fn.call("now")),
        "SELECT blobAsText(b), ks.f(a, ttl(b)), CAST(writetime(v) AS text), now() FROM t")
      check(qb.select("t"):columns(qb.fn.call("intAsBlob", qb.param(3)), qb.fn.call("f", qb.raw("'lit'"))),
        "SELECT intAsBlob(?), f('lit') FROM t", { 3 })
      check(qb.select("t"):columns(qb.elem("m", "k"), qb.field("u", "f"):as("uf")),
        "SELECT m[?], u.f AS uf FROM t", { "k" })
      check(qb.select("t"):columns(qb.raw("count(*) AS n")), "SELECT count(*) AS n FROM t")
    end)

    it("writes DISTINCT and JSON", function()
      check(qb.select("t"):columns("k"):distinct(), "SELECT DISTINCT k FROM t")
      check(qb.select("t"):json(), "SELECT JSON * FROM t")
      check(qb.select("t"):columns("k"):distinct():json(), "SELECT JSON DISTINCT k FROM t")
    end)

    it("writes every comparison relation", function()
      local q = qb.select("t"):where("a", "=", 1):where("b", "<", 2):where("c", ">", 3):where("d", "<=", 4)
        :where("e", ">=", 5)
      check(q, "SELECT * FROM t WHERE a = ? AND b < ? AND c > ? AND d <= ? AND e >= ?", { 1, 2, 3, 4, 5 })
      check(qb.select("t"):where("a", "eq", 1):where("b", "lt", 2):where("c", "gt", 3):where("d", "lte", 4)
          :where("e", "gte", 5):where("f", " Contains_Key ", 6):where("g", "IN", { 7 }),
        "SELECT * FROM t WHERE a = ? AND b < ? AND c > ? AND d <= ? AND e >= ? AND f CONTAINS KEY ? AND g IN (?)",
        { 1, 2, 3, 4, 5, 6, 7 })
    end)

    it("writes IN, CONTAINS, CONTAINS KEY and LIKE", function()
      local m = check(qb.select("t"):where("k", "in", { 1, 2, 3 }):where("tags", "contains", "x")
          :where("m", "contains key", "y"):where("s", "like", "ab%"),
        "SELECT * FROM t WHERE k IN (?, ?, ?) AND tags CONTAINS ? AND m CONTAINS KEY ? AND s LIKE ?",
        { 1, 2, 3, "x", "y", "ab%" })
      assert.same({ { column = "k", kind = "value" }, { column = "k", kind = "value" },
                    { column = "k", kind = "value" }, { column = "tags", kind = "element" },
                    { column = "m", kind = "key" }, { column = "s", kind = "value" } }, m)
      check(qb.select("t"):where("k", "in", {}), "SELECT * FROM t WHERE k IN ()", {})
      check(qb.select("t"):where("k", "in", { n = 2, 1, nil }), "SELECT * FROM t WHERE k IN (?, ?)", { n = 2, 1 })
      local m2 = check(qb.select("t"):where("k", "in", qb.param({ 1, 2 })), "SELECT * FROM t WHERE k IN ?")
      assert.same({ { column = "k", kind = "values" } }, m2)
    end)

    it("writes token relations", function()
      local m = check(qb.select("t"):where(qb.token("k"), ">", 100):where(qb.token("k"), "<=", 2 ^ 40),
        "SELECT * FROM t WHERE token(k) > ? AND token(k) <= ?", { 100, 2 ^ 40 })
      assert.same({ { kind = "token" }, { kind = "token" } }, m)
      check(qb.select("t"):where(qb.token("k"), ">=", -5LL), "SELECT * FROM t WHERE token(k) >= ?", { -5LL })
      local m2 = check(qb.select("t"):where(qb.token("a", "b"), ">", { 1, "x" }),
        "SELECT * FROM t WHERE token(a, b) > token(?, ?)", { 1, "x" })
      assert.same({ { column = "a", kind = "value" }, { column = "b", kind = "value" } }, m2)
      check(qb.select("t"):where(qb.token("k"), "=", { 7 }), "SELECT * FROM t WHERE token(k) = token(?)", { 7 })
      check(qb.select("t"):where(qb.token("k"), "<", "text key"), "SELECT * FROM t WHERE token(k) < token(?)",
        { "text key" })
      check(qb.select("t"):where(qb.fn.token("k"), "<", qb.raw("token(?)", 3)),
        "SELECT * FROM t WHERE token(k) < token(?)", { 3 })
    end)

    it("writes multi-column relations and IN over tuples", function()
      local m = check(qb.select("t"):where("k", "=", 1):where({ "c1", "c2" }, ">", { 1, "a" })
          :where({ "c1", "c2" }, "<=", { 5, "z" }),
        "SELECT * FROM t WHERE k = ? AND (c1, c2) > (?, ?) AND (c1, c2) <= (?, ?)", { 1, 1, "a", 5, "z" })
      assert.same({ { column = "k", kind = "value" }, { column = "c1", kind = "value" },
                    { column = "c2", kind = "value" }, { column = "c1", kind = "value" },
                    { column = "c2", kind = "value" } }, m)
      check(qb.select("t"):where({ "c1", "c2" }, "in", { { 1, "a" }, { 2, "b" } }),
        "SELECT * FROM t WHERE (c1, c2) IN ((?, ?), (?, ?))", { 1, "a", 2, "b" })
      check(qb.select("t"):where({ "c1" }, "=", { 1 }), "SELECT * FROM t WHERE (c1) = (?)", { 1 })
      local m2 = check(qb.select("t"):where({ "c1", "c2" }, ">", qb.param({ 1, 2 })),
        "SELECT * FROM t WHERE (c1, c2) > ?")
      assert.same({ { kind = "tuple", columns = { "c1", "c2" } } }, m2)
      local m3 = check(qb.select("t"):where({ "c1", "c2" }, "in", qb.marker()), "SELECT * FROM t WHERE (c1, c2) IN ?")
      assert.same({ { kind = "values", columns = { "c1", "c2" }, unbound = true } }, m3)
    end)

    it("takes a table of equalities, in the order of the names", function()
      check(qb.select("t"):where { b = 2, a = 1, C = "x" }, 'SELECT * FROM t WHERE "C" = ? AND a = ? AND b = ?',
        { "x", 1, 2 })
    end)

    it("takes qb.col as a relation's left side", function()
      check(qb.select("t"):where(qb.col("Id"), "=", 1), 'SELECT * FROM t WHERE "Id" = ?', { 1 })
    end)

    it("writes a map entry relation", function()
      local m = check(qb.select("t"):where(qb.elem("m", "k"), "=", 5), "SELECT * FROM t WHERE m[?] = ?", { "k", 5 })
      assert.same({ { column = "m", kind = "key" }, { column = "m", kind = "element" } }, m)
    end)

    it("writes GROUP BY, ORDER BY, PER PARTITION LIMIT, LIMIT and ALLOW FILTERING in CQL's order", function()
      local q = qb.select("t"):allow_filtering():limit(5):per_partition_limit(2):order_by("c", "desc")
        :order_by("d"):order_by("e", "ASC"):group_by("k", "c"):where("k", "=", 1)
      check(q, "SELECT * FROM t WHERE k = ? GROUP BY k, c ORDER BY c DESC, d ASC, e ASC PER PARTITION LIMIT 2 "
        .. "LIMIT 5 ALLOW FILTERING", { 1 })
      check(qb.select("t"):limit(5):limit(7), "SELECT * FROM t LIMIT 7")
      check(qb.select("t"):limit(1LL), "SELECT * FROM t LIMIT 1")
      local m = check(qb.select("t"):per_partition_limit(qb.param(3)):limit(qb.param(9)),
        "SELECT * FROM t PER PARTITION LIMIT ? LIMIT ?", { 3, 9 })
      assert.same({ { kind = "per_partition_limit" }, { kind = "limit" } }, m)
      check(qb.select("t"):order_by(qb.raw("c DESC")):group_by(qb.raw("k")),
        "SELECT * FROM t GROUP BY k ORDER BY c DESC")
    end)
  end)

  describe("INSERT", function()
    it("writes columns and values in order", function()
      local m = check(qb.insert("t"):value("k", 1):value("v", "x"), "INSERT INTO t (k, v) VALUES (?, ?)", { 1, "x" })
      assert.same({ { column = "k", kind = "value" }, { column = "v", kind = "value" } }, m)
      check(qb.insert("t"):values { v = "x", k = 1 }, "INSERT INTO t (k, v) VALUES (?, ?)", { 1, "x" })
      check(qb.insert("t"):value("k", 1):value("v", nil), "INSERT INTO t (k, v) VALUES (?, ?)", { n = 2, 1, nil })
      check(qb.insert("t"):value("k", 1):value("ts", qb.raw("toTimestamp(now())")),
        "INSERT INTO t (k, ts) VALUES (?, toTimestamp(now()))", { 1 })
    end)

    it("writes IF NOT EXISTS, USING TTL and TIMESTAMP", function()
      check(qb.insert("t"):value("k", 1):using_timestamp(1700000000000000LL):using_ttl(60):if_not_exists(),
        "INSERT INTO t (k) VALUES (?) IF NOT EXISTS USING TTL 60 AND TIMESTAMP 1700000000000000", { 1 })
      check(qb.insert("t"):value("k", 1):using_ttl(0), "INSERT INTO t (k) VALUES (?) USING TTL 0", { 1 })
      check(qb.insert("t"):value("k", 1):using_timestamp(-3), "INSERT INTO t (k) VALUES (?) USING TIMESTAMP -3")
      local m = check(qb.insert("t"):value("k", 1):using_ttl(qb.param(30)):using_timestamp(qb.param(5LL)),
        "INSERT INTO t (k) VALUES (?) USING TTL ? AND TIMESTAMP ?", { 1, 30, 5LL })
      assert.same({ { column = "k", kind = "value" }, { kind = "ttl" }, { kind = "timestamp" } }, m)
    end)

    it("writes INSERT JSON with DEFAULT UNSET or NULL", function()
      local doc = '{"k": 1, "v": "x"}'
      local m = check(qb.insert("t"):json(doc), "INSERT INTO t JSON ?", { doc })
      assert.same({ { kind = "json" } }, m)
      check(qb.insert("t"):json(doc):default_unset(), "INSERT INTO t JSON ? DEFAULT UNSET", { doc })
      check(qb.insert("t"):json(doc):default_null():if_not_exists():using_ttl(5),
        "INSERT INTO t JSON ? DEFAULT NULL IF NOT EXISTS USING TTL 5", { doc })
    end)
  end)

  describe("UPDATE", function()
    it("writes assignments, WHERE, USING and IF", function()
      local m = check(qb.update("t"):set("v", 1):set("w", nil):where("k", "=", 2):using_ttl(9):using_timestamp(8),
        "UPDATE t USING TTL 9 AND TIMESTAMP 8 SET v = ?, w = ? WHERE k = ?", { n = 3, 1, nil, 2 })
      assert.same({ { column = "v", kind = "value" }, { column = "w", kind = "value" },
                    { column = "k", kind = "value" } }, m)
      check(qb.update("t"):set { b = 2, a = 1 }:where("k", "=", 0), "UPDATE t SET a = ?, b = ? WHERE k = ?",
        { 1, 2, 0 })
      check(qb.update("t"):set(qb.raw("v = v"), nil):set(qb.raw("w = ?", 3)):where(qb.raw("k = 1")),
        "UPDATE t SET v = v, w = ? WHERE k = 1", { 3 })
      check(qb.update("t"):set(qb.col("v"), 1):where("k", "=", 0), "UPDATE t SET v = ? WHERE k = ?", { 1, 0 })
    end)

    it("writes every collection update", function()
      local m = check(qb.update("t"):append("l", { 1, 2 }):prepend("l", { 0 }):remove("l", { 9 })
          :add("s", { "a" }):remove("s", { "b" }):put("m", { x = 1 }):remove_keys("m", { "y" })
          :set(qb.elem("l", 0), 5):set(qb.elem("m", "z"), 3):where("k", "=", 1),
        "UPDATE t SET l = l + ?, l = ? + l, l = l - ?, s = s + ?, s = s - ?, m = m + ?, m = m - ?, l[?] = ?, "
          .. "m[?] = ? WHERE k = ?")
      assert.same({ { column = "l", kind = "value" }, { column = "l", kind = "value" },
                    { column = "l", kind = "value" }, { column = "s", kind = "value" },
                    { column = "s", kind = "value" }, { column = "m", kind = "value" },
                    { column = "m", kind = "keys" }, { column = "l", kind = "key" },
                    { column = "l", kind = "element" }, { column = "m", kind = "key" },
                    { column = "m", kind = "element" }, { column = "k", kind = "value" } }, m)
      local _, vals = m, select(2, qb.update("t"):append("l", { 1, 2 }):set(qb.elem("m", "z"), 3)
        :where("k", "=", 1):build())
      assert.same({ n = 4, { 1, 2 }, "z", 3, 1 }, vals)
    end)

    it("sets a UDT field", function()
      local m = check(qb.update("t"):set(qb.field("u", "street"), "x"):where("k", "=", 1),
        "UPDATE t SET u.street = ? WHERE k = ?", { "x", 1 })
      assert.same({ column = "u", kind = "field", field = "street" }, m[1])
    end)

    it("writes counter increments and decrements", function()
      check(qb.update("c"):increment("n"):increment("m", 5):decrement("o"):decrement("p", 7LL):where("k", "=", 1),
        "UPDATE c SET n = n + ?, m = m + ?, o = o - ?, p = p - ? WHERE k = ?", { 1, 5, 1, 7LL, 1 })
      check(qb.update("c"):increment("n", -2):where("k", "=", 1):using_timestamp(3),
        "UPDATE c USING TIMESTAMP 3 SET n = n + ? WHERE k = ?", { -2, 1 })
    end)

    it("writes IF EXISTS and IF conditions with every operator", function()
      check(qb.update("t"):set("v", 1):where("k", "=", 1):if_exists(), "UPDATE t SET v = ? WHERE k = ? IF EXISTS",
        { 1, 1 })
      local m = check(qb.update("t"):set("v", 1):where("k", "=", 1):iff("v", "=", 0):iff("a", "!=", 1)
          :iff("b", "<", 2):iff("c", "<=", 3):iff("d", ">", 4):iff("e", ">=", 5):iff("f", "in", { 6, 7 })
          :iff("l", "contains", 8):iff("m", "contains key", "x"):iff(qb.elem("m", "y"), "=", 9)
          :iff(qb.elem("m", "z"), "in", { 10, 11 }):iff(qb.field("u", "f"), "!=", 12):iff("n", "=", nil),
        "UPDATE t SET v = ? WHERE k = ? IF v = ? AND a != ? AND b < ? AND c <= ? AND d > ? AND e >= ? "
          .. "AND f IN (?, ?) AND l CONTAINS ? AND m CONTAINS KEY ? AND m[?] = ? AND m[?] IN (?, ?) AND u.f != ? "
          .. "AND n = ?",
        { n = 19, 1, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, "x", "y", 9, "z", 10, 11, 12, nil })
      assert.same({ column = "l", kind = "element" }, m[11])
      assert.same({ column = "m", kind = "key" }, m[12])
      assert.same({ column = "m", kind = "element" }, m[14])
      assert.same({ column = "m", kind = "key" }, m[15])
      assert.same({ column = "u", kind = "field", field = "f" }, m[18])
      check(qb.update("t"):set("v", 1):where("k", "=", 1):iff { b = 2, a = 1 },
        "UPDATE t SET v = ? WHERE k = ? IF a = ? AND b = ?", { 1, 1, 1, 2 })
      check(qb.update("t"):set("v", 1):where("k", "=", 1):iff(qb.raw("v = null")),
        "UPDATE t SET v = ? WHERE k = ? IF v = null", { 1, 1 })
    end)
  end)

  describe("DELETE", function()
    it("deletes rows, columns and collection elements", function()
      check(qb.delete("t"):where("k", "=", 1), "DELETE FROM t WHERE k = ?", { 1 })
      local m = check(qb.delete("t"):columns("a", "b"):columns(qb.elem("m", "x"), qb.elem("l", 2), qb.field("u", "f"))
          :where("k", "=", 1):where("c", ">=", 3),
        "DELETE a, b, m[?], l[?], u.f FROM t WHERE k = ? AND c >= ?", { "x", 2, 1, 3 })
      assert.same({ { column = "m", kind = "key" }, { column = "l", kind = "key" }, { column = "k", kind = "value" },
                    { column = "c", kind = "value" } }, m)
      check(qb.delete("t"):columns(qb.raw("m['x']")):where("k", "=", 1), "DELETE m['x'] FROM t WHERE k = ?", { 1 })
    end)

    it("writes USING TIMESTAMP, IF EXISTS and IF conditions", function()
      check(qb.delete("t"):where("k", "=", 1):using_timestamp(77):if_exists(),
        "DELETE FROM t USING TIMESTAMP 77 WHERE k = ? IF EXISTS", { 1 })
      check(qb.delete("t"):columns("v"):where("k", "=", 1):iff("v", ">", 2):iff(qb.elem("m", "a"), "=", 3),
        "DELETE v FROM t WHERE k = ? IF v > ? AND m[?] = ?", { 1, 2, "a", 3 })
    end)
  end)

  describe("BATCH", function()
    local ins = qb.insert("t"):value("k", 1):value("v", "a")
    local upd = qb.update("t"):set("v", "b"):where("k", "=", 2)
    local del = qb.delete("t"):where("k", "=", 3)

    it("joins statements and their values", function()
      local m = check(qb.batch():add(ins, upd):add(del),
        "BEGIN BATCH INSERT INTO t (k, v) VALUES (?, ?); UPDATE t SET v = ? WHERE k = ?; DELETE FROM t WHERE k = ?; "
          .. "APPLY BATCH", { 1, "a", "b", 2, 3 })
      assert.equal(5, #m)
      check(qb.batch("unlogged"):add(ins), "BEGIN UNLOGGED BATCH INSERT INTO t (k, v) VALUES (?, ?); APPLY BATCH")
      check(qb.batch("COUNTER"):add(qb.update("c"):increment("n"):where("k", "=", 1)),
        "BEGIN COUNTER BATCH UPDATE c SET n = n + ? WHERE k = ?; APPLY BATCH", { 1, 1 })
      check(qb.batch():add(qb.raw("INSERT INTO t (k) VALUES (?)", 9), ins:using_ttl(4)),
        "BEGIN BATCH INSERT INTO t (k) VALUES (?); INSERT INTO t (k, v) VALUES (?, ?) USING TTL 4; APPLY BATCH",
        { 9, 1, "a" })
    end)

    it("writes USING TIMESTAMP on the batch or on its statements", function()
      check(qb.batch():add(ins):using_timestamp(10), "BEGIN BATCH USING TIMESTAMP 10 INSERT INTO t (k, v) VALUES "
        .. "(?, ?); APPLY BATCH")
      check(qb.batch():add(ins:using_timestamp(5), del:using_timestamp(6)),
        "BEGIN BATCH INSERT INTO t (k, v) VALUES (?, ?) USING TIMESTAMP 5; DELETE FROM t USING TIMESTAMP 6 "
          .. "WHERE k = ?; APPLY BATCH")
      local m = check(qb.batch():using_timestamp(qb.param(11)):add(ins),
        "BEGIN BATCH USING TIMESTAMP ? INSERT INTO t (k, v) VALUES (?, ?); APPLY BATCH", { 11, 1, "a" })
      assert.same({ kind = "timestamp" }, m[1])
    end)
  end)

  describe("markers", function()
    it("names markers after their columns, uniquely, with named = true", function()
      local q = qb.update("t"):set("v", 1):set(qb.elem("m", "k"), 2):remove_keys("m", { "x" }):set("Up", 3)
        :where("k", "in", { 4, 5 }):where("limit", "=", 6):iff("v", "=", 7):using_ttl(qb.param(8))
      local m, vals = check(q, 'UPDATE t USING TTL :ttl SET v = :v, m[:m_key] = :m_value, m = m - :m_keys, '
        .. '"Up" = :"Up" WHERE k IN (:k, :k_2) AND "limit" = :"limit" IF v = :v_2', nil, { named = true })
      assert.same({ ttl = 8, v = 1, m_key = "k", m_value = 2, m_keys = { "x" }, Up = 3, k = 4, k_2 = 5, limit = 6,
                    v_2 = 7 }, vals)
      assert.same({ name = "ttl", kind = "ttl" }, m[1])
      assert.same({ name = "m_key", column = "m", kind = "key" }, m[3])
      check(qb.select("t"):where(qb.token("k"), ">", 1):limit(qb.param(2)):where(qb.raw("x = ?", 3)),
        "SELECT * FROM t WHERE token(k) > :\"token\" AND x = :param LIMIT :\"limit\"",
        { token = 1, param = 3, limit = 2 }, { named = true })
    end)

    it("writes qb.marker as an unbound marker, named when given a name", function()
      local m, vals = check(qb.insert("t"):value("k", qb.marker()):value("v", qb.marker()):using_ttl(qb.marker()),
        "INSERT INTO t (k, v) VALUES (?, ?) USING TTL ?", { n = 3 })
      assert.same({ { column = "k", kind = "value", unbound = true }, { column = "v", kind = "value", unbound = true },
                    { kind = "ttl", unbound = true } }, m)
      assert.equal(3, vals.n)
      local text, vals2 = qb.select("t"):where("k", "=", qb.marker("key")):where("c", ">", 5)
        :where("k2", "=", qb.marker("c")):build()
      assert.equal("SELECT * FROM t WHERE k = :key AND c > :c_2 AND k2 = :c", text)
      assert.same({ c_2 = 5 }, vals2)
    end)

    it("skips ? inside quotes in raw fragments", function()
      check(qb.select("t"):where(qb.raw([[a = '?' AND "b?" = ? AND c = $$?$$ AND d = 'it''s?']], 1)),
        [[SELECT * FROM t WHERE a = '?' AND "b?" = ? AND c = $$?$$ AND d = 'it''s?']], { 1 })
    end)

    it("builds the same text every time", function()
      local q = qb.update("t"):set("v", 1):where("k", "=", 1)
      assert.equal((q:build()), (q:build()))
      assert.equal((q:build { named = true }), (q:build { named = true }))
    end)
  end)

  describe("immutability", function()
    it("leaves the receiver unchanged: two branches from one base are independent", function()
      local base = qb.select("t"):columns("a"):where("k", "=", 1)
      local b1 = base:where("c", ">", 2):limit(5):order_by("c", "desc")
      local b2 = base:columns("b"):where("c", "<", 9):allow_filtering()
      check(base, "SELECT a FROM t WHERE k = ?", { 1 })
      check(b1, "SELECT a FROM t WHERE k = ? AND c > ? ORDER BY c DESC LIMIT 5", { 1, 2 })
      check(b2, "SELECT a, b FROM t WHERE k = ? AND c < ? ALLOW FILTERING", { 1, 9 })
    end)

    it("holds for every builder", function()
      local ins = qb.insert("t"):value("k", 1)
      local i1, i2 = ins:value("a", 2):if_not_exists(), ins:using_ttl(3)
      check(ins, "INSERT INTO t (k) VALUES (?)", { 1 })
      check(i1, "INSERT INTO t (k, a) VALUES (?, ?) IF NOT EXISTS", { 1, 2 })
      check(i2, "INSERT INTO t (k) VALUES (?) USING TTL 3", { 1 })
      local upd = qb.update("t"):set("v", 1):where("k", "=", 1)
      local u1, u2 = upd:append("l", { 1 }):iff("v", "=", 0), upd:if_exists():using_timestamp(4)
      check(upd, "UPDATE t SET v = ? WHERE k = ?")
      check(u1, "UPDATE t SET v = ?, l = l + ? WHERE k = ? IF v = ?")
      check(u2, "UPDATE t USING TIMESTAMP 4 SET v = ? WHERE k = ? IF EXISTS")
      local del = qb.delete("t"):where("k", "=", 1)
      local d1 = del:columns("a")
      check(del, "DELETE FROM t WHERE k = ?")
      check(d1, "DELETE a FROM t WHERE k = ?")
      local batch = qb.batch():add(ins)
      local bt1, bt2 = batch:add(del), batch:using_timestamp(1)
      check(batch, "BEGIN BATCH INSERT INTO t (k) VALUES (?); APPLY BATCH")
      check(bt1, "BEGIN BATCH INSERT INTO t (k) VALUES (?); DELETE FROM t WHERE k = ?; APPLY BATCH")
      check(bt2, "BEGIN BATCH USING TIMESTAMP 1 INSERT INTO t (k) VALUES (?); APPLY BATCH")
      local sel = qb.col("a")
      local aliased = sel:as("x")
      check(qb.select("t"):columns(sel, aliased), "SELECT a, a AS x FROM t")
    end)

    it("does not see later changes to the arrays that shape its text", function()
      local list, cols, tuples = { 1, 2 }, { "a", "b" }, { { 1, 2 } }
      local q = qb.select("t"):where("k", "in", list):where(cols, "in", tuples)
      list[3], cols[3], tuples[2], tuples[1][3] = 3, "c", { 3, 4 }, 9
      check(q, "SELECT * FROM t WHERE k IN (?, ?) AND (a, b) IN ((?, ?))", { 1, 2, 1, 2 })
    end)
  end)

  describe("misuse", function()
    -- Checks the message, and that it blames the line in this file that
    -- called the builder.
    local function err(f, msg)
      local ok, e = pcall(f)
      assert.is_false(ok, "no error for: " .. msg)
      assert.is_string(e)
      local where, rest = e:match("^(.-:%d+): (.*)$")
      assert.equal(msg, rest or e)
      assert.matches("querybuilder_spec%.lua:%d+$", where or ("(no position) " .. e))
    end

    it("refuses unknown and misplaced operators", function()
      err(function() qb.select("t"):where("a", "foo", 1) end, "bad argument #2 to 'where' (unknown operator 'foo')")
      err(function() qb.select("t"):where("a", nil, 1) end, "bad argument #2 to 'where' (operator expected, got nil)")
      err(function() qb.select("t"):where("a", "!=", 1) end, "bad argument #2 to 'where' (operator '!=' is not "
        .. "allowed in WHERE (Cassandra 5.0 accepts it only in IF conditions))")
      err(function() qb.update("t"):iff("a", "like", 1) end,
        "bad argument #2 to 'iff' (operator 'LIKE' is not allowed in IF conditions)")
      err(function() qb.update("t"):iff("a", "bar", 1) end, "bad argument #2 to 'iff' (unknown operator 'bar')")
      err(function() qb.select("t"):where(qb.token("k"), "in", { 1 }) end,
        "bad argument #2 to 'where' (operator 'IN' is not allowed with token())")
      err(function() qb.select("t"):where({ "a", "b" }, "contains", 1) end,
        "bad argument #1 to 'where' (CONTAINS needs a column name on its left)")
      err(function() qb.update("t"):iff(qb.token("k"), "=", 1) end,
        "bad argument #1 to 'iff' (token() is only allowed in WHERE)")
      err(function() qb.update("t"):iff({ "a" }, "=", { 1 }) end,
        "bad argument #1 to 'iff' (column lists are only allowed in WHERE)")
      err(function() qb.select("t"):where(qb.fn.ttl("a"), "=", 1) end,
        "bad argument #1 to 'where' (column name, column list, qb.token, qb.elem or qb.field expected)")
    end)

    it("refuses bad relation values", function()
      err(function() qb.select("t"):where("a", "=") end, "bad argument #3 to 'where' (value expected)")
      err(function() qb.select("t"):where("a", "=", nil) end, "bad argument #3 to 'where' (nil value (CQL has no "
        .. "null in WHERE; use qb.marker for a value bound later))")
      err(function() qb.select("t"):where("a", "in", 5) end,
        "bad argument #3 to 'where' (array of values, qb.param or qb.marker expected for IN, got number)")
      err(function() qb.select("t"):where({ "a", "b" }, ">", { 1 }) end,
        "bad argument #3 to 'where' (a tuple of 2 value(s) expected for 2 column(s))")
      err(function() qb.select("t"):where({ "a", "b" }, "in", { { 1, 2 }, { 3 } }) end,
        "bad argument #3 to 'where' (IN item 2: a tuple of 2 value(s) expected)")
      err(function() qb.select("t"):where({}, "=", {}) end, "bad argument #1 to 'where' (empty column list)")
      err(function() qb.select("t"):where(qb.token("a", "b"), ">", { 1 }) end,
        "bad argument #3 to 'where' (2 partition key value(s) expected for token(), got 1)")
      err(function() qb.select("t"):where(qb.token("a", "b"), ">", "x") end,
        "bad argument #3 to 'where' (a token (integer) or an array of partition key values expected)")
      err(function() qb.select("t"):where() end, "bad argument #1 to 'where' (relation expected)")
      err(function() qb.select("t"):where { 1, 2 } end,
        "bad argument #1 to 'where' (table of column = value pairs expected (or column, operator, value))")
      err(function() qb.select("t"):where(qb.col("a"):as("x"), "=", 1) end,
        "bad argument #1 to 'where' (column name, column list, qb.token, qb.elem or qb.field expected)")
    end)

    it("refuses empty column lists and bad selectors", function()
      err(function() qb.select("t"):columns() end, "bad argument #1 to 'columns' (empty column list)")
      err(function() qb.delete("t"):columns() end, "bad argument #1 to 'columns' (empty column list)")
      err(function() qb.select("t"):group_by() end, "bad argument #1 to 'group_by' (empty column list)")
      err(function() qb.token() end, "bad argument #1 to 'token' (empty column list)")
      err(function() qb.select("t"):columns("a", 5) end,
        "bad argument #2 to 'columns' (column name, selector or qb.raw expected, got number)")
      err(function() qb.delete("t"):columns(qb.fn.ttl("a")) end,
        "bad argument #1 to 'columns' (column name, qb.elem, qb.field or qb.raw expected)")
      err(function() qb.fn.cast("a", "list<int>") end,
        "bad argument #2 to 'cast' (native type name expected, got 'list<int>')")
      err(function() qb.fn.call("bad name") end, "bad argument #1 to 'call' (function name expected, got 'bad name')")
      err(function() qb.fn.call("f", 3) end,
        "bad argument #2 to 'call' (column name, selector, qb.raw or qb.param expected, got number)")
      err(function() qb.fn.writetime() end, "bad argument #1 to 'writetime' (column name expected, got nil)")
      err(function() qb.col("a"):as("") end, "bad argument #1 to 'as' (empty alias)")
      err(function() qb.elem("m") end, "bad argument #2 to 'elem' (key or index expected, got nil)")
      err(function() qb.field("u") end, "bad argument #2 to 'field' (field name expected, got nil)")
      err(function() qb.select("t"):order_by("c", "up") end,
        "bad argument #2 to 'order_by' ('asc' or 'desc' expected, got 'up')")
      err(function() qb.select("t"):column(qb.raw("x"), "y") end,
        "bad argument #2 to 'column' (a raw selector takes its alias in its text)")
    end)

    it("refuses LIMIT, PER PARTITION LIMIT, TTL and TIMESTAMP that are not what CQL takes", function()
      err(function() qb.select("t"):limit(0) end, "bad argument #1 to 'limit' (a positive integer expected, got 0)")
      err(function() qb.select("t"):limit(-1) end, "bad argument #1 to 'limit' (a positive integer expected, got -1)")
      err(function() qb.select("t"):limit(1.5) end, "bad argument #1 to 'limit' (integer expected, got 1.5)")
      err(function() qb.select("t"):limit("10") end, "bad argument #1 to 'limit' (integer expected, got '10')")
      err(function() qb.select("t"):limit() end, "bad argument #1 to 'limit' (integer expected, got nil)")
      err(function() qb.select("t"):per_partition_limit(0) end,
        "bad argument #1 to 'per_partition_limit' (a positive integer expected, got 0)")
      err(function() qb.insert("t"):using_ttl(-1) end,
        "bad argument #1 to 'using_ttl' (TTL in seconds from 0 to 630720000 expected, got -1)")
      err(function() qb.insert("t"):using_ttl(630720001) end,
        "bad argument #1 to 'using_ttl' (TTL in seconds from 0 to 630720000 expected, got 630720001)")
      err(function() qb.insert("t"):using_timestamp(0 / 0) end,
        "bad argument #1 to 'using_timestamp' (integer expected, got " .. tostring(0 / 0) .. ")")
      err(function() qb.insert("t"):using_timestamp(2 ^ 60) end,
        "bad argument #1 to 'using_timestamp' (integer expected, got " .. tostring(2 ^ 60) .. ")")
    end)

    it("refuses what CQL forbids on each statement", function()
      err(function() qb.update("t"):if_not_exists() end, "bad call to 'if_not_exists' (UPDATE has no IF NOT EXISTS "
        .. "in CQL; use an INSERT, or if_exists / iff)")
      err(function() qb.delete("t"):using_ttl(5) end, "bad call to 'using_ttl' (DELETE takes no TTL (only USING "
        .. "TIMESTAMP))")
      err(function() qb.batch():using_ttl(5) end, "bad call to 'using_ttl' (BATCH takes no TTL (only USING "
        .. "TIMESTAMP))")
      err(function() qb.update("t"):set("v", 1):if_exists():iff("v", "=", 1) end,
        "bad call to 'iff' (IF EXISTS is already set; CQL takes one or the other)")
      err(function() qb.delete("t"):iff("v", "=", 1):if_exists() end,
        "bad call to 'if_exists' (IF conditions are already set; CQL takes one or the other)")
      err(function() qb.update("c"):increment("n"):using_ttl(5) end, "bad call to 'using_ttl' (counters cannot "
        .. "have a TTL)")
      err(function() qb.update("c"):using_ttl(5):increment("n") end, "bad call to 'increment' (counters cannot "
        .. "have a TTL)")
      err(function() qb.update("c"):increment("n"):iff("n", "=", 1) end,
        "bad call to 'iff' (conditional updates are not supported on counters)")
      err(function() qb.update("c"):increment("n"):if_exists() end,
        "bad call to 'if_exists' (conditional updates are not supported on counters)")
      err(function() qb.update("c"):if_exists():decrement("n") end,
        "bad call to 'decrement' (conditional updates are not supported on counters)")
      err(function() qb.update("c"):increment("n"):set("v", 1) end,
        "bad call to 'set' (an UPDATE cannot mix counter increments with other assignments)")
      err(function() qb.update("c"):append("l", { 1 }):increment("n") end,
        "bad call to 'increment' (an UPDATE cannot mix counter increments with other assignments)")
      err(function() qb.update("c"):increment("n", 1.5) end, "bad argument #2 to 'increment' (integer expected, "
        .. "got number)")
      err(function() qb.update("t"):append("l", 1) end,
        "bad argument #2 to 'append' (table of elements expected, got number)")
      err(function() qb.update("t"):set("v") end,
        "bad argument #2 to 'set' (value expected (nil sets a null, but must be given))")
      err(function() qb.update("t"):set("v", 1):set("v", 2) end, "bad argument #1 to 'set' (column 'v' set twice)")
      err(function() qb.update("t"):set { 1 } end, "bad argument #1 to 'set' (table of column = value pairs expected)")
      err(function() qb.update("t"):set(qb.fn.ttl("v"), 1) end,
        "bad argument #1 to 'set' (column name, qb.elem or qb.field expected)")
      err(function() qb.insert("t"):value("k", 1):value("k", 2) end,
        "bad argument #1 to 'value' (column 'k' given twice)")
      err(function() qb.insert("t"):values {} end, "bad argument #1 to 'values' (table of column = value pairs "
        .. "expected)")
      err(function() qb.insert("t"):value("k", 1):json("{}") end,
        "bad call to 'json' (INSERT JSON takes no separate values)")
      err(function() qb.insert("t"):json("{}"):value("k", 1) end,
        "bad call to 'value' (INSERT JSON takes no separate values)")
      err(function() qb.insert("t"):json({}) end, "bad argument #1 to 'json' (JSON text expected, got table)")
    end)

    it("refuses to build incomplete statements", function()
      err(function() qb.insert("t"):build() end, "cannot build INSERT: no values (use value, values or json)")
      err(function() qb.insert("t"):value("k", 1):default_unset():build() end,
        "cannot build INSERT: DEFAULT UNSET needs json()")
      err(function() qb.update("t"):where("k", "=", 1):build() end,
        "cannot build UPDATE: no assignments (use set, append, increment, ...)")
      err(function() qb.update("t"):set("v", 1):build() end, "cannot build UPDATE: no WHERE clause")
      err(function() qb.delete("t"):columns("v"):build() end, "cannot build DELETE: no WHERE clause")
      err(function() qb.batch():build() end, "cannot build BATCH: no statements")
      err(function() qb.select("t"):build { name = true } end, "bad argument #1 to 'build' (unknown option 'name')")
      err(function() qb.select("t"):build(true) end, "bad argument #1 to 'build' (table of options or nil expected)")
      assert.equal("qb.update(incomplete: cannot build UPDATE: no WHERE clause)",
        tostring(qb.update("t"):set("v", 1)))
    end)

    it("refuses bad batches", function()
      local ins = qb.insert("t"):value("k", 1)
      err(function() qb.batch("big") end, "bad argument #1 to 'batch' ('logged', 'unlogged' or 'counter' expected, "
        .. "got 'big')")
      err(function() qb.batch():add() end, "bad argument #1 to 'add' (statement expected)")
      err(function() qb.batch():add(ins, qb.select("t")) end,
        "bad argument #2 to 'add' (SELECT cannot be part of a batch (INSERT, UPDATE or DELETE expected))")
      err(function() qb.batch():add(qb.batch()) end,
        "bad argument #1 to 'add' (BATCH cannot be part of a batch (INSERT, UPDATE or DELETE expected))")
      err(function() qb.batch():add("INSERT ...") end,
        "bad argument #1 to 'add' (INSERT, UPDATE or DELETE builder or qb.raw expected, got string)")
      err(function() qb.batch("counter"):add(ins) end,
        "bad argument #1 to 'add' (a COUNTER batch takes only counter updates, got INSERT)")
      err(function() qb.batch():add(qb.update("c"):increment("n"):where("k", "=", 1)) end,
        "bad argument #1 to 'add' (counter updates need a COUNTER batch)")
      err(function() qb.batch():using_timestamp(1):add(ins:using_timestamp(2)) end,
        "bad argument #1 to 'add' (the batch has USING TIMESTAMP; its statements cannot have their own)")
      err(function() qb.batch():add(ins:using_timestamp(2)):using_timestamp(1) end,
        "bad call to 'using_timestamp' (a statement in the batch has its own USING TIMESTAMP; CQL takes one or "
          .. "the other)")
    end)

    it("refuses bad raw fragments and markers", function()
      err(function() qb.raw("a = ? AND b = ?", 1) end,
        "bad argument #2 to 'raw' (1 value(s) for 2 '?' marker(s) in 'a = ? AND b = ?')")
      err(function() qb.raw("a = 1", 1) end, "bad argument #2 to 'raw' (1 value(s) for 0 '?' marker(s) in 'a = 1')")
      err(function() qb.raw("  ") end, "bad argument #1 to 'raw' (empty CQL fragment)")
      err(function() qb.raw(5) end, "bad argument #1 to 'raw' (CQL string expected, got number)")
      err(function() qb.marker("") end, "bad argument #1 to 'marker' (non-empty string or nil expected, got '')")
    end)
  end)
end)
