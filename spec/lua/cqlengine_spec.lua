-- The ORM without a server: model definitions, validation errors, and the
-- exact CQL each operation generates (captured through a recording fake
-- session, or through a batch that is never sent).
local cqlengine = require "cql.cqlengine"
local connection = require "cql.cqlengine.connection"
local columns = require "cql.cqlengine.columns"
local models = require "cql.cqlengine.models"
local query = require "cql.cqlengine.query"
local management = require "cql.cqlengine.management"
local usertype = require "cql.cqlengine.usertype"
local util = require "cql.util"
local UNSET = require("cql.util.sentinels").UNSET_VALUE
local cqlquery = require "cql.query"

-- A session that records what it is asked and answers from a queue of
-- row arrays (one per execute; default: no rows).
local function fake_session()
  local s = { prepared = {}, executed = {}, answers = {} }
  function s.prepare(_, cql)
    s.prepared[#s.prepared + 1] = cql
    -- a PreparedStatement (batches check the class) binding without types
    return setmetatable({ query_string = cql, bind = function(ps, values)
      return setmetatable({ prepared_statement = ps, values = values }, cqlquery.BoundStatement)
    end }, cqlquery.PreparedStatement)
  end
  function s.execute(_, ps, values, opts)
    s.executed[#s.executed + 1] = { cql = type(ps) == "table" and ps.query_string or ps, values = values,
                                    opts = opts, batch = type(ps) == "table" and ps.entries and ps or nil }
    local rows = table.remove(s.answers, 1) or {}
    local rs = { current_rows = rows }
    function rs.rows()
      local i = 0
      return function() i = i + 1; return rows[i] end
    end
    function rs.one() return rows[1] end
    function rs.all() return rows end
    return rs
  end
  return s
end

-- Runs `fn` and returns the error object it raised.
local function raised(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return err
end

describe("cqlengine", function()
  local session

  before_each(function()
    session = fake_session()
    connection.set_session(session)
    connection.default_keyspace = "ks"
  end)

  local Addr = usertype.UserType("Addr", {
    { "street", columns.Text {} },
    { "zip", columns.Integer {} },
  })

  local function user_model()
    return models.Model("UserAccount", {
      { "id", columns.Integer { primary_key = true } },
      { "name", columns.Text { required = true, max_length = 10 } },
      { "age", columns.Integer { index = true } },
      { "tags", columns.Set { columns.Text } },
      { "prefs", columns.Map { columns.Text, columns.Integer } },
      { "hist", columns.List { columns.Integer } },
    })
  end

  describe("model definitions", function()
    it("keeps the declared order and derives keys and names", function()
      local M = models.Model("EventLog", {
        { "day", columns.Date { partition_key = true } },
        { "source", columns.Text { partition_key = true } },
        { "at", columns.TimeUUID { primary_key = true, clustering_order = "DESC" } },
        { "seq", columns.Integer { primary_key = true } },
        { "msg", columns.Text { db_field = "message" } },
        { "note", columns.Text { static = true } },
      })
      assert.equal("event_log", M.__table_name)
      local names = {}
      for i, c in ipairs(M._columns) do names[i] = c.name end
      assert.same({ "day", "source", "at", "seq", "msg", "note" }, names)
      assert.equal(2, #M._partition_keys)
      assert.same({ "at", "seq" }, { M._clustering_keys[1].name, M._clustering_keys[2].name })
      assert.equal("message", M._by_name.msg.db_field)
      assert.equal(
        "CREATE TABLE IF NOT EXISTS ks.event_log (day date, source text, at timeuuid, seq int, message text, "
          .. "note text static, PRIMARY KEY ((day, source), at, seq)) WITH CLUSTERING ORDER BY (at DESC, seq ASC)",
        management.create_table_cql(M))
    end)

    it("writes every column type and the table options", function()
      local M = models.Model("AllTypes", {
        __table_name = "all_types",
        __keyspace = "other",
        __options = { default_time_to_live = 20, comment = "it's",
                      compaction = { class = "LeveledCompactionStrategy" } },
        { "k", columns.Text { primary_key = true } },
        { "a", columns.Ascii {} }, { "i", columns.Integer {} }, { "b", columns.BigInt {} },
        { "vi", columns.VarInt {} }, { "si", columns.SmallInt {} }, { "ti", columns.TinyInt {} },
        { "f", columns.Float {} }, { "d", columns.Double {} }, { "dec", columns.Decimal {} },
        { "bo", columns.Boolean {} }, { "bl", columns.Blob {} }, { "da", columns.Date {} },
        { "tm", columns.Time {} }, { "ts", columns.DateTime {} }, { "du", columns.Duration {} },
        { "u", columns.UUID {} }, { "tu", columns.TimeUUID {} }, { "ip", columns.Inet {} },
        { "l", columns.List { columns.List { columns.Integer } } },
        { "s", columns.Set { columns.Text } },
        { "m", columns.Map { columns.Text, columns.Set { columns.Integer } } },
        { "t", columns.Tuple { columns.Integer, columns.Text } },
        { "ad", columns.UserDefinedType { Addr } },
      })
      assert.equal("CREATE TABLE IF NOT EXISTS other.all_types (k text, a ascii, i int, b bigint, vi varint, "
        .. "si smallint, ti tinyint, f float, d double, dec decimal, bo boolean, bl blob, da date, tm time, "
        .. "ts timestamp, du duration, u uuid, tu timeuuid, ip inet, l list<frozen<list<int>>>, s set<text>, "
        .. "m map<text, frozen<set<int>>>, t frozen<tuple<int, text>>, ad frozen<addr>, PRIMARY KEY ((k))) "
        .. "WITH comment = 'it''s' AND compaction = {'class': 'LeveledCompactionStrategy'} "
        .. "AND default_time_to_live = 20", management.create_table_cql(M))
      assert.equal(20, M.__default_ttl)
      assert.equal("CREATE TYPE IF NOT EXISTS ks.addr (street text, zip int)", management.create_type_cql(Addr, "ks"))
    end)

    it("freezes collections in the primary key, quotes names that need it, and makes index statements", function()
      local M = models.Model("Quoted", {
        __table_name = "Quoted",
        { "k", columns.List { columns.Integer }, },
        { "select", columns.Integer { primary_key = true } },
        { "Mixed", columns.Text { index = true } },
      })
      assert.equal('CREATE TABLE IF NOT EXISTS ks."Quoted" (k list<int>, "select" int, "Mixed" text, '
        .. 'PRIMARY KEY (("select")))', management.create_table_cql(M))
      assert.same({ 'CREATE INDEX IF NOT EXISTS quoted_mixed_idx ON ks."Quoted" ("Mixed")' },
                  management.create_index_cql(M))
      local P = models.Model("P", { { "k", columns.Set { columns.Integer, primary_key = true } } })
      assert.equal("CREATE TABLE IF NOT EXISTS ks.p (k frozen<set<int>>, PRIMARY KEY ((k)))",
                   management.create_table_cql(P))
    end)

    it("generates its DDL through the query builder's schema builders", function()
      local qb = require "cql.querybuilder"
      local M = models.Model("Ddl", {
        { "k", columns.Integer { primary_key = true } },
        { "c", columns.Integer { primary_key = true, clustering_order = "desc" } },
        { "v", columns.Text { index = true } },
      })
      local stmt = management.create_table_statement(M)
      assert.is_true(qb.is_schema_statement(stmt))
      assert.equal(stmt:build(), management.create_table_cql(M))
      local idx = management.create_index_statements(M)
      assert.equal(1, #idx)
      assert.is_true(qb.is_schema_statement(idx[1]))
      assert.is_true(qb.is_schema_statement(management.create_type_statement(Addr, "ks")))
      -- a builder refuses what the model hands it: the table name is checked there
      local Bad = models.Model("Bad", { __table_name = "bad-name", { "k", columns.Integer { primary_key = true } } })
      assert.error_matches(function() management.create_table_cql(Bad) end,
        "invalid table name 'ks.bad-name'", 1, true)
    end)

    -- The DDL statements sent (the reads of system_schema left out).
    local function ddl_sent()
      local out = {}
      for _, e in ipairs(session.executed) do
        if not e.cql:find("^SELECT") then out[#out + 1] = e.cql end
      end
      return out
    end

    it("sends the builders' DDL for keyspaces, types, tables and indexes", function()
      local M = models.Model("Sent", {
        __options = { comment = "c" },
        { "k", columns.Integer { primary_key = true } },
        { "a", columns.UserDefinedType { Addr } },
        { "v", columns.Text { index = true } },
      })
      assert(management.create_keyspace_simple("app", 2))
      assert(management.create_keyspace_network_topology("App2", { dc1 = 3, dc2 = 1 }, false))
      assert(management.drop_keyspace("app"))
      assert(management.sync_table(M))
      assert(management.drop_table(M))
      assert.same({
        "CREATE KEYSPACE IF NOT EXISTS app WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2} "
          .. "AND durable_writes = true",
        "CREATE KEYSPACE IF NOT EXISTS \"App2\" WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, "
          .. "'dc2': 1} AND durable_writes = false",
        "DROP KEYSPACE IF EXISTS app",
        "CREATE TYPE IF NOT EXISTS ks.addr (street text, zip int)",
        "CREATE TABLE IF NOT EXISTS ks.sent (k int, a frozen<addr>, v text, PRIMARY KEY ((k))) WITH comment = 'c'",
        "CREATE INDEX IF NOT EXISTS sent_v_idx ON ks.sent (v)",
        "DROP TABLE IF EXISTS ks.sent",
      }, ddl_sent())
      for _, cql in ipairs(session.prepared) do -- DDL is sent as text, not prepared
        assert.matches("^SELECT ", cql)
      end
      assert.error_matches(function() management.create_keyspace_simple("x", 1.5) end,
        "'replication_factor' must be a replica count")
    end)

    it("evolves a table with ALTER TABLE and ALTER TYPE from the builders", function()
      local M = models.Model("Evolving", {
        __options = { gc_grace_seconds = 10, caching = cqlengine.CACHING_NONE },
        { "k", columns.Integer { primary_key = true } },
        { "c", columns.Integer { primary_key = true, clustering_order = "desc" } },
        { "Tag", columns.UserDefinedType { Addr } },
        { "v", columns.Text { index = true } },
        { "s", columns.Text { static = true } },
      })
      session.answers = {
        { { field_names = { "street" }, field_types = { "text" } } }, -- system_schema.types: zip is missing
        {},                                                           -- ALTER TYPE
        { { column_name = "k", kind = "partition_key", position = 0, type = "int", clustering_order = "none" },
          { column_name = "c", kind = "clustering", position = 0, type = "int", clustering_order = "desc" },
          { column_name = "Tag", kind = "regular", position = -1, type = "frozen<addr>", clustering_order = "none" } },
      }
      assert(management.sync_table(M))
      assert.same({
        "ALTER TYPE ks.addr ADD zip int",
        "ALTER TABLE ks.evolving ADD v text",
        "ALTER TABLE ks.evolving ADD s text static",
        "ALTER TABLE ks.evolving WITH caching = {'keys': 'NONE', 'rows_per_partition': 'NONE'} "
          .. "AND gc_grace_seconds = 10",
        "CREATE INDEX IF NOT EXISTS evolving_v_idx ON ks.evolving (v)",
      }, ddl_sent())
    end)

    local bad = {
      { "no primary key", { { "a", columns.Integer {} } }, "At least 1 primary key is required" },
      { "a duplicate column", { { "a", columns.Integer { primary_key = true } }, { "a", columns.Text {} } },
        "column 'a' defined twice" },
      { "a duplicate db_field", { { "a", columns.Integer { primary_key = true } },
                                  { "b", columns.Text { db_field = "a" } } }, "db_field 'a' used by two columns" },
      { "a reserved name", { { "save", columns.Integer { primary_key = true } } }, "clashes with an instance method" },
      { "an unknown entry", { tablename = "x", { "a", columns.Integer { primary_key = true } } },
        "unknown entry 'tablename'" },
      { "a counter beside data", { { "a", columns.Integer { primary_key = true } }, { "c", columns.Counter {} },
                                   { "d", columns.Text {} } }, "can only have counters" },
      { "a counter key", { { "a", columns.Counter { primary_key = true } } }, "a counter cannot be a primary key" },
      { "an order on a partition key", { { "a", columns.Integer { primary_key = true, clustering_order = "desc" } } },
        "clustering_order applies to clustering columns only" },
      { "a static without clustering", { { "a", columns.Integer { primary_key = true } },
                                         { "s", columns.Text { static = true } } }, "static columns need clustering" },
      { "two discriminators", { { "a", columns.Integer { primary_key = true } },
                                { "t", columns.Text { discriminator_column = true } },
                                { "u", columns.Text { discriminator_column = true } } }, "only one discriminator" },
      { "a discriminator value alone", { __discriminator_value = "x", { "a", columns.Integer { primary_key = true } } },
        "__discriminator_value needs a discriminator_column" },
      { "not a pair", { { "a" } }, "entry 1 must be a {name, column} pair" },
    }
    for _, case in ipairs(bad) do
      it("refuses " .. case[1], function()
        local err = raised(models.Model, "Bad", case[2])
        assert.is_true(err:is_a(cqlengine.ModelDefinitionException))
        assert.truthy(tostring(err):find(case[3], 1, true), tostring(err))
      end)
    end

    it("refuses unknown column options and bad element types", function()
      assert.error_matches(function() columns.Text { primry_key = true } end, "unknown option 'primry_key'")
      assert.error_matches(function() columns.List {} end, "1 element type")
      assert.error_matches(function() columns.Map { columns.Text } end, "2 element type")
      assert.error_matches(function() columns.Integer { clustering_order = "up" } end, "'asc' or 'desc'")
      assert.error_matches(function() columns.UserDefinedType { columns.Text } end, "usertype class expected")
    end)

    it("gives each model its own DoesNotExist and MultipleObjectsReturned", function()
      local A = user_model()
      local B = models.Model("Other", { { "id", columns.Integer { primary_key = true } } })
      local e = A.DoesNotExist {}
      assert.is_true(e:is_a(A.DoesNotExist))
      assert.is_true(e:is_a(cqlengine.DoesNotExist))
      assert.is_true(e:is_a(cqlengine.QueryException))
      assert.is_true(e:is_a(cqlengine.CQLEngineException))
      assert.is_false(e:is_a(B.DoesNotExist))
      assert.is_true(A.MultipleObjectsReturned {}:is_a(cqlengine.MultipleObjectsReturned))
    end)
  end)

  describe("validation", function()
    -- Each case: column, bad value, rule, words of the message.
    local cases = {
      { columns.Integer {}, "3", "type", "an integer expected" },
      { columns.Integer {}, 1.5, "type", "an integer expected" },
      { columns.Integer {}, 2 ^ 31, "range", "out of range for int" },
      { columns.SmallInt {}, 40000, "range", "out of range for smallint" },
      { columns.TinyInt {}, -129, "range", "out of range for tinyint" },
      { columns.BigInt {}, 2 ^ 63, "range", "out of range for bigint" },
      { columns.BigInt {}, {}, "type", "an integer expected" },
      { columns.Text {}, 12, "type", "a string expected" },
      { columns.Text { min_length = 3 }, "ab", "min_length", "length 2 is below 3" },
      { columns.Text { max_length = 3 }, "abcd", "max_length", "length 4 is above 3" },
      { columns.Ascii {}, "caf\195\169", "ascii", "non-ASCII" },
      { columns.Float {}, "1", "type", "a number expected" },
      { columns.Boolean {}, 1, "type", "a boolean expected" },
      { columns.Blob {}, 1, "type", "a string of bytes expected" },
      { columns.UUID {}, "not-a-uuid", "type", "a UUID or its text" },
      { columns.TimeUUID {}, "9b2b4d8e-1c3f-4c2a-8a4b-123456789abc", "type", "version 1" },
      { columns.Inet {}, "300.1.1.1", "type", "an IPv4 or IPv6 address" },
      { columns.Date {}, "2020-13-45", "type", "a Date" },
      { columns.Time {}, "25:99:00", "type", "a Time" },
      { columns.DateTime {}, "yesterday", "type", "unreadable timestamp" },
      { columns.Duration {}, "forever", "type", "a Duration" },
      { columns.Decimal {}, "1.2.3", "type", "a Decimal" },
      { columns.VarInt {}, "12a", "type", "a Varint" },
      { columns.List { columns.Integer }, { 1, "x" }, "type", "[2]: an integer expected" },
      { columns.List { columns.Integer }, { n = 2, 1 }, "type", "a list cannot hold null" },
      { columns.Set { columns.Integer }, "x", "type", "a SortedSet" },
      { columns.Map { columns.Text, columns.Integer }, { a = "b" }, "type", "an integer expected" },
      { columns.Tuple { columns.Integer }, { 1, 2 }, "size", "2 items for a tuple of 1" },
      { columns.UserDefinedType { Addr }, { city = "x" }, "field", "Addr has no field 'city'" },
      { columns.UserDefinedType { Addr }, { zip = "x" }, "type", "zip: an integer expected" },
      { columns.Integer { validator = function(v) return v % 2 == 0, "must be even" end }, 3, "custom",
        "must be even" },
    }
    for i, case in ipairs(cases) do
      it(("rule '%s' of %s (case %d)"):format(case[3], case[1].type_name, i), function()
        local err = raised(case[1].validate, case[1], case[2], "M.f")
        assert.is_true(err:is_a(cqlengine.ValidationError), tostring(err))
        assert.equal(case[3], err.rule)
        assert.equal("M", err.model)
        assert.truthy(tostring(err):find("M.f", 1, true), tostring(err))
        assert.truthy(tostring(err):find(case[4], 1, true), tostring(err))
      end)
    end

    it("normalises accepted text forms", function()
      local u = columns.UUID {}:validate("0a8b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", "f")
      assert.is_true(util.UUID.is_uuid(u))
      assert.equal("0a8b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", tostring(u))
      assert.equal(util.Date("2020-02-29"), columns.Date {}:validate("2020-02-29", "f"))
      assert.equal(7, columns.Integer {}:validate(7LL, "f"))
      assert.same({ "a", "b" }, columns.Set { columns.Text }:validate({ a = true, b = true }, "f") and
        (function() local s = columns.Set { columns.Text }:validate({ "b", "a" }, "f"); table.sort(s); return s end)())
    end)

    it("raises before sending anything: required, unknown columns, changed keys", function()
      local U = user_model()
      local err = raised(U { id = 1 }.save, U { id = 1 })
      assert.equal("required", err.rule)
      assert.equal("name", err.field)
      assert.equal("UserAccount.name: a value is required (rule 'required')", err.message)
      err = raised(U.new, U, { id = 1, nmae = "x" })
      assert.equal("unknown column", err.rule)
      assert.equal("nmae", err.field)
      local nameless = U { name = "x" }
      err = raised(nameless.save, nameless)
      assert.equal("id", err.field)
      local u = U { id = 1, name = "a" }
      err = raised(u.update, u, { id = 2 })
      assert.equal("primary_key", err.rule)
      err = raised(u.update, u, { name = "much too long" })
      assert.equal("max_length", err.rule)
      assert.equal("a", u.name) -- a failed update leaves the instance as it was
      assert.same({}, session.executed)
      assert.same({}, session.prepared)
    end)
  end)

  describe("generated CQL", function()
    local U
    before_each(function() U = user_model() end)

    local function last()
      return session.executed[#session.executed]
    end

    it("save inserts every column, unset when never given, with one prepared text", function()
      local u = assert(U:create { id = 1, name = "ada", age = 36 })
      assert.equal("INSERT INTO ks.user_account (id, name, age, tags, prefs, hist) VALUES (?, ?, ?, ?, ?, ?)",
                   last().cql)
      local v = last().values
      assert.equal(1, v[1]); assert.equal("ada", v[2]); assert.equal(36, v[3])
      assert.equal(UNSET, v[4]); assert.equal(UNSET, v[5]); assert.equal(UNSET, v[6])
      assert.is_true(u:is_persisted())
      -- a column cleared since the last save is deleted (bound as null)
      u.age = nil
      assert(u:save())
      assert.is_nil(last().values[3])
      assert.equal(6, last().values.n)
      U:create { id = 2, name = "bob" }
      assert.equal(1, #session.prepared) -- same text, prepared once
      assert.equal(3, #session.executed)
    end)

    it("applies defaults, maps db_field names, compares instances", function()
      local n = 0
      local D = models.Model("Defaults", {
        { "id", columns.Integer { primary_key = true, default = function() n = n + 1; return n end } },
        { "label", columns.Text { default = "none", db_field = "lbl" } },
        { "list", columns.List { columns.Integer }, },
        { "opts", columns.List { columns.Integer, default = { 1, 2 } } },
      })
      local a, b = D {}, D { label = "x" }
      assert.same({ id = 1, label = "none", opts = { 1, 2 } }, a:as_table())
      assert.same({ id = 2, label = "x", opts = { 1, 2 } }, b:as_table())
      assert.are_not.equal(a.opts, b.opts) -- a table default is copied per instance
      assert.equal(D { id = 5, label = "y" }, D { id = 5, label = "y" })
      assert.are_not.equal(D { id = 5, label = "y" }, D { id = 5, label = "z" })
      assert(a:save())
      assert.equal("INSERT INTO ks.defaults (id, lbl, list, opts) VALUES (?, ?, ?, ?)", last().cql)
      session.answers = { { { id = 9, lbl = "from db" } } }
      local got = assert(D.objects:get { label = "from db" })
      assert.equal("SELECT * FROM ks.defaults WHERE lbl = ? LIMIT ?", last().cql)
      assert.equal("from db", got.label)
      assert.is_nil(rawget(got, "lbl"))
    end)

    it("save with ttl, timestamp, if_not_exists, consistency and timeout", function()
      U { id = 1, name = "a" }:save { ttl = 60, timestamp = 1234, if_not_exists = true, consistency = 4, timeout = 3 }
      assert.equal("INSERT INTO ks.user_account (id, name, age, tags, prefs, hist) VALUES (?, ?, ?, ?, ?, ?) "
        .. "IF NOT EXISTS USING TTL ? AND TIMESTAMP ?", last().cql)
      assert.equal(60, last().values[7])
      assert.equal(1234, last().values[8])
      assert.equal(4, last().opts.consistency_level)
      assert.equal(3, last().opts.timeout)
      -- the seed's chained spelling
      U { id = 1, name = "a" }:ttl(5):if_not_exists():save()
      assert.equal(5, last().values[7])
    end)

    it("turns [applied] = false into LWTException with the existing row", function()
      session.answers = { { { ["[applied]"] = false, id = 1, name = "old", age = 3 } } }
      local u, err = U { id = 1, name = "new" }:save { if_not_exists = true }
      assert.is_nil(u)
      assert.is_true(err:is_a(cqlengine.LWTException))
      assert.same({ id = 1, name = "old", age = 3 }, err.existing)
      session.answers = { { { ["[applied]"] = true } } }
      assert.truthy(U { id = 1, name = "new" }:save { if_not_exists = true })
    end)

    it("save with iff or if_exists is a conditional UPDATE", function()
      U { id = 1, name = "a", age = 2 }:save { iff = { age__lt = 5, name__ne = "z" } }
      assert.equal("UPDATE ks.user_account SET name = ?, age = ?, tags = ?, prefs = ?, hist = ? WHERE id = ? "
        .. "IF age < ? AND name != ?", last().cql)
      U { id = 1, name = "a" }:save { if_exists = true }
      assert.equal("UPDATE ks.user_account SET name = ?, age = ?, tags = ?, prefs = ?, hist = ? WHERE id = ? "
        .. "IF EXISTS", last().cql)
    end)

    it("update writes only what changed, and nothing when nothing did", function()
      session.answers = { { { id = 1, name = "a", age = 2 } } }
      local u = assert(U.objects:get { id = 1 })
      assert.equal("SELECT * FROM ks.user_account WHERE id = ? LIMIT ?", last().cql)
      assert.equal(2, last().values[2])
      local n = #session.executed
      assert(u:update { name = "a" })
      assert.equal(n, #session.executed)
      assert(u:update({ age = 3, tags = { "x" } }, { ttl = 9 }))
      assert.equal("UPDATE ks.user_account USING TTL ? SET age = ?, tags = ? WHERE id = ?", last().cql)
      assert.equal(9, last().values[1]); assert.equal(3, last().values[2]); assert.equal(1, last().values[4])
      assert.same({}, u:get_changed_columns())
    end)

    it("delete with timestamp and conditions", function()
      local u = U { id = 7, name = "a" }
      assert.is_true(u:delete { timestamp = 99, iff = { age = 3 } })
      assert.equal("DELETE FROM ks.user_account USING TIMESTAMP ? WHERE id = ? IF age = ?", last().cql)
      assert.same({ 99, 7, 3, n = 3 }, last().values)
      u:delete { if_exists = true }
      assert.equal("DELETE FROM ks.user_account WHERE id = ? IF EXISTS", last().cql)
    end)

    it("filters with every operator", function()
      local T = models.Model("Tl", {
        { "k", columns.Integer { partition_key = true } },
        { "c", columns.Integer { primary_key = true } },
        { "s", columns.Set { columns.Text } },
        { "m", columns.Map { columns.Text, columns.Integer } },
      })
      local cases = {
        { { k = 1 }, "SELECT * FROM ks.tl WHERE k = ?" },
        { { k__eq = 1 }, "SELECT * FROM ks.tl WHERE k = ?" },
        { { k__in = { 1, 2 } }, "SELECT * FROM ks.tl WHERE k IN ?" },
        { { k__in = { 1, 2, 3 } }, "SELECT * FROM ks.tl WHERE k IN ?" },
        { { k = 1, c__gt = 2 }, "SELECT * FROM ks.tl WHERE k = ? AND c > ?" },
        { { k = 1, c__gte = 2, c__lt = 9 }, "SELECT * FROM ks.tl WHERE k = ? AND c >= ? AND c < ?" },
        { { k = 1, c__lte = 2 }, "SELECT * FROM ks.tl WHERE k = ? AND c <= ?" },
        { { s__contains = "x" }, "SELECT * FROM ks.tl WHERE s CONTAINS ?" },
        { { m__contains = 3 }, "SELECT * FROM ks.tl WHERE m CONTAINS ?" },
        { { m__contains_key = "a" }, "SELECT * FROM ks.tl WHERE m CONTAINS KEY ?" },
        { { pk__token__gt = 5 }, "SELECT * FROM ks.tl WHERE token(k) > ?" },
        { { pk__token__lte = query.Token(3) }, "SELECT * FROM ks.tl WHERE token(k) <= token(?)" },
      }
      for _, case in ipairs(cases) do
        assert.equal(case[2], (T.objects:filter(case[1]):cql()))
      end
      local cql, values = T.objects:filter { k = 1 }:filter { c__in = { 3, 4 } }:order_by("-c"):limit(10)
        :allow_filtering():cql()
      assert.equal("SELECT * FROM ks.tl WHERE k = ? AND c IN ? ORDER BY c DESC LIMIT ? ALLOW FILTERING", cql)
      assert.same({ 1, { 3, 4 }, 10, n = 3 }, values)
      assert.equal("SELECT k, s FROM ks.tl", (T.objects:only { "k", "s" }:cql()))
      assert.equal("SELECT k, c, m FROM ks.tl", (T.objects:defer { "s" }:cql()))
      assert.equal("SELECT c FROM ks.tl", (T.objects:values_list("c", { flat = true }):cql()))
      assert.equal("SELECT count(*) FROM ks.tl WHERE k = ?", (T.objects:filter { k = 1 }:_count_select():build()))
    end)

    it("refuses bad filters before sending", function()
      local err = raised(U.objects.filter, U.objects, { nope = 1 })
      assert.is_true(err:is_a(cqlengine.QueryException))
      assert.truthy(err.message:find("Can't resolve column name 'nope'", 1, true))
      err = raised(U.objects.filter, U.objects, { age__like = 1 })
      assert.truthy(err.message:find("unknown operator 'like'", 1, true))
      err = raised(U.objects.filter, U.objects, { age__contains = 1 })
      assert.truthy(err.message:find("needs a list, set or map", 1, true))
      err = raised(U.objects.filter, U.objects, { age = "x" })
      assert.is_true(err:is_a(cqlengine.ValidationError))
      err = raised(U.objects.order_by, U.objects, "age")
      assert.truthy(err.message:find("only allowed on clustering columns", 1, true))
      err = raised(U.objects.limit, U.objects, -1)
      assert.equal("Negative limit is not allowed", err.message)
      err = raised(U.objects.filter, U.objects, { pk__token__gt = query.Token(1, 2) })
      assert.truthy(err.message:find("Token takes 1 partition key value", 1, true))
      assert.same({}, session.executed)
    end)

    it("query sets are immutable", function()
      local base = U.objects:filter { id = 1 }
      local more = base:filter { age__gt = 3 }:allow_filtering()
      assert.equal("SELECT * FROM ks.user_account WHERE id = ?", (base:cql()))
      assert.equal("SELECT * FROM ks.user_account WHERE id = ? AND age > ? ALLOW FILTERING", (more:cql()))
    end)

    it("get returns DoesNotExist and MultipleObjectsReturned; first, count, all and values_list read rows", function()
      session.answers = { {} }
      local x, err = U.objects:get { id = 1 }
      assert.is_nil(x)
      assert.is_true(err:is_a(U.DoesNotExist))
      session.answers = { { { id = 1, name = "a" }, { id = 2, name = "b" } } }
      x, err = U.objects:get()
      assert.is_nil(x)
      assert.is_true(err:is_a(U.MultipleObjectsReturned))
      session.answers = { { { id = 4, name = "d" } } }
      local f = assert(U.objects:first())
      assert.equal("SELECT * FROM ks.user_account LIMIT ?", last().cql)
      assert.equal(1, last().values[1])
      assert.equal("d", f.name)
      assert.equal(4, f:pk())
      assert.equal("UserAccount <id=4>", tostring(f))
      session.answers = { { { count = 12LL } } }
      assert.equal(12, U.objects:count())
      session.answers = { { { id = 1, name = "a" }, { id = 2, name = "b" } } }
      assert.same({ { "a", n = 1 }, { "b", n = 1 } }, U.objects:values_list("name"):all())
      session.answers = { { { id = 1, name = "a" }, { id = 2, name = "b" } } }
      assert.same({ 1, 2 }, U.objects:values_list("id", { flat = true }):all())
      session.answers = { {} }
      assert.is_nil(U.objects:first())
      local q = U.objects:fetch_size(50):consistency(6):timeout(2)
      session.answers = { {} }
      q:all()
      assert.same({ consistency_level = 6, timeout = 2, fetch_size = 50 }, last().opts)
    end)

    it("query-set update and delete, with collection operations", function()
      assert(U.objects:filter { id = 1 }:update { name = "x", tags__add = { "a" }, hist__append = { 1 },
                                                  prefs__update = { z = 1 } })
      assert.equal("UPDATE ks.user_account SET hist = hist + ?, name = ?, prefs = prefs + ?, tags = tags + ? "
        .. "WHERE id = ?", last().cql)
      assert(U.objects:filter { id = 1 }:update { hist__prepend = { 0 }, tags__remove = { "b" },
                                                  prefs__remove = { "z" } })
      assert.equal("UPDATE ks.user_account SET hist = ? + hist, prefs = prefs - ?, tags = tags - ? WHERE id = ?",
                   last().cql)
      assert(U.objects:filter { id__in = { 1, 2 } }:ttl(30):timestamp(5):update { age = 1 })
      assert.equal("UPDATE ks.user_account USING TTL ? AND TIMESTAMP ? SET age = ? WHERE id IN ?", last().cql)
      assert(U.objects:filter { id = 1 }:iff { age = 3 }:update { age = 4 })
      assert.equal("UPDATE ks.user_account SET age = ? WHERE id = ? IF age = ?", last().cql)
      assert(U.objects:filter { id = 1 }:delete())
      assert.equal("DELETE FROM ks.user_account WHERE id = ?", last().cql)
      local err = raised(U.objects.update, U.objects:filter { id = 1 }, { id = 2 })
      assert.truthy(err.message:find("cannot be updated", 1, true))
      err = raised(U.objects.update, U.objects:filter { id = 1 }, { age__append = { 1 } })
      assert.truthy(err.message:find("does not apply to a int column", 1, true))
    end)

    it("counters add differences", function()
      local C = models.Model("Hits", {
        { "page", columns.Text { primary_key = true } },
        { "n", columns.Counter {} },
      })
      assert(C.objects:filter { page = "a" }:update { n = 3 })
      assert.equal("UPDATE ks.hits SET n = n + ? WHERE page = ?", last().cql)
      assert(C.objects:filter { page = "a" }:update { n = -2 })
      assert.equal("UPDATE ks.hits SET n = n - ? WHERE page = ?", last().cql)
      assert.equal(2, last().values[1])
      session.answers = { { { page = "a", n = 10LL } } }
      local row = assert(C.objects:get { page = "a" })
      row.n = row.n + 5
      assert(row:save())
      assert.equal("UPDATE ks.hits SET n = n + ? WHERE page = ?", last().cql)
      assert.equal(5LL, last().values[1])
      assert.error_matches(function() row:save { ttl = 3 } end, "counter tables take no TTL")
    end)

    it("polymorphic models share a table and filter on the discriminator", function()
      local Pet = models.Model("Pet", {
        { "owner", columns.Integer { partition_key = true } },
        { "name", columns.Text { primary_key = true } },
        { "kind", columns.Text { discriminator_column = true, index = true } },
      })
      local Cat = Pet:extend("Cat", { __discriminator_value = "cat", { "lives", columns.Integer {} } })
      local Dog = Pet:extend("Dog", { __discriminator_value = "dog", { "good", columns.Boolean {} } })
      assert.equal("pet", Cat.__table_name)
      assert.equal("CREATE TABLE IF NOT EXISTS ks.pet (owner int, name text, kind text, lives int, good boolean, "
        .. "PRIMARY KEY ((owner), name))", management.create_table_cql(Pet))
      assert.equal("SELECT * FROM ks.pet WHERE kind = ? AND owner = ?", (Cat.objects:filter { owner = 1 }:cql()))
      local c = Cat { owner = 1, name = "tom", lives = 9 }
      assert.equal("cat", c.kind)
      session.answers = { { { owner = 1, name = "tom", kind = "cat", lives = 9 },
                            { owner = 1, name = "rex", kind = "dog", good = true } } }
      local pets = assert(Pet.objects:filter { owner = 1 }:all())
      assert.equal(Cat, getmetatable(pets[1]).model)
      assert.equal(Dog, getmetatable(pets[2]).model)
      assert.is_true(pets[2].good)
      local base = Pet { owner = 1, name = "x" }
      local err = raised(base.save, base)
      assert.is_true(err:is_a(cqlengine.PolymorphicModelException))
      err = raised(Pet.extend, Pet, "Cow", { __discriminator_value = "cat" })
      assert.truthy(err.message:find("already used by Cat", 1, true))
      -- through a base bound to another keyspace, the subclasses follow
      session.answers = { { { owner = 1, name = "tom", kind = "cat", lives = 9 } } }
      local moved = assert(Pet:using { keyspace = "archive" }.objects:first())
      assert.equal("Cat", getmetatable(moved).model.__name)
      assert(moved:save())
      assert.equal("INSERT INTO archive.pet (owner, name, kind, lives) VALUES (?, ?, ?, ?)", last().cql)
      -- writes through a subclass do not put the discriminator in WHERE
      assert(Cat.objects:filter { owner = 1, name = "tom" }:update { lives = 8 })
      assert.equal("UPDATE ks.pet SET lives = ? WHERE owner = ? AND name = ?", last().cql)
    end)

    it("abstract models lend their columns", function()
      local Base = models.Model("Base", { __abstract = true, { "id", columns.Integer { primary_key = true } } })
      local Child = Base:extend("Child", { { "v", columns.Text {} } })
      assert.equal("CREATE TABLE IF NOT EXISTS ks.child (id int, v text, PRIMARY KEY ((id)))",
                   management.create_table_cql(Child))
      assert.error_matches(function() management.sync_table(Base) end, "abstract model Base")
    end)

    it("user types: instances in and out", function()
      local P = models.Model("Person", {
        { "id", columns.Integer { primary_key = true } },
        { "home", columns.UserDefinedType { Addr } },
        { "olds", columns.List { columns.UserDefinedType { Addr } } },
      })
      assert(P:create { id = 1, home = Addr { street = "s", zip = 1 }, olds = { { street = "o" } } })
      local v = last().values
      assert.same({ street = "s", zip = 1 }, v[2])
      assert.is_nil(getmetatable(v[2]))
      assert.same({ street = "o" }, v[3][1])
      session.answers = { { { id = 1, home = { street = "s", zip = 1 },
                              olds = { { street = "o", zip = 2 }, n = 1 } } } }
      local p = assert(P.objects:get { id = 1 })
      assert.equal(Addr { street = "s", zip = 1 }, p.home)
      assert.equal("Addr(street=s, zip=1)", tostring(p.home))
      assert.equal(2, p.olds[1].zip)
      assert.equal(Addr.instance_mt, getmetatable(p.olds[1]))
      local err = raised(Addr, { city = "x" })
      assert.equal("field", err.rule)
    end)
  end)

  describe("batches and contexts", function()
    it("collects statements and sends one batch of prepared statements", function()
      local U = user_model()
      local b = query.BatchQuery { batch_type = "unlogged", timestamp = 42 }
      local ok = b:run(function(batch)
        U:create({ id = 1, name = "a" }, { batch = batch })
        U { id = 2, name = "b" }:batch(batch):save()
        U.objects:filter { id = 3 }:batch(batch):delete()
        assert.same({}, session.executed) -- nothing sent inside the block
      end)
      assert.is_true(ok)
      assert.equal(1, #session.executed)
      local sent = session.executed[1].batch
      assert.equal(1, sent.batch_type)
      assert.equal(3, #sent.entries)
      assert.same({
        "INSERT INTO ks.user_account (id, name, age, tags, prefs, hist) VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
        "DELETE FROM ks.user_account USING TIMESTAMP ? WHERE id = ?",
      }, session.prepared)
    end)

    it("drops the batch when the block raises", function()
      local U = user_model()
      local b = query.BatchQuery {}
      assert.error_matches(function()
        b:run(function(batch)
          U:create({ id = 1, name = "a" }, { batch = batch })
          error("boom")
        end)
      end, "boom")
      assert.same({}, session.executed)
      assert.error_matches(function() query.BatchQuery { batch_type = "fast" } end, "batch_type")
    end)

    it("binds models to another keyspace for a block", function()
      local U = user_model()
      local texts = query.ContextQuery({ U }, { keyspace = "archive" }):run(function(A)
        return (A.objects:filter { id = 1 }:cql())
      end)
      assert.equal("SELECT * FROM archive.user_account WHERE id = ?", texts)
      assert.equal("SELECT * FROM ks.user_account WHERE id = ?", (U.objects:filter { id = 1 }:cql()))
      assert.error_matches(function() query.ContextQuery({}, {}) end, "array of models")
      assert.error_matches(function() query.ContextQuery({ U }, { keyspac = "x" }) end, "unknown option 'keyspac'")
    end)
  end)

  describe("connections", function()
    it("names connections and refuses unknown ones", function()
      local other = fake_session()
      connection.register_connection("second", { session = other })
      local M = models.Model("Thing", { __connection = "second", { "id", columns.Integer { primary_key = true } } })
      assert(M:create { id = 1 })
      assert.equal(1, #other.executed)
      assert.equal(0, #session.executed)
      assert.equal(other, connection.get_session("second"))
      connection.unregister_connection("second")
      local err = raised(connection.get_session, "second")
      assert.is_true(err:is_a(cqlengine.CQLEngineException))
      assert.equal("Connection name 'second' doesn't exist in the registry.", err.message)
      err = raised(connection.register_connection, "x", { hosts = { "h" }, session = other })
      assert.truthy(err.message:find("mutually exclusive", 1, true))
      connection.default_keyspace = nil
      local NoKs = models.Model("NoKs", { { "id", columns.Integer { primary_key = true } } })
      err = raised(management.create_table_cql, NoKs)
      assert.is_true(err:is_a(cqlengine.UndefinedKeyspaceException))
    end)
  end)
end)
