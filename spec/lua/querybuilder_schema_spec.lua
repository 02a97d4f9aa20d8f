-- The query builder's schema (DDL) statements without a server: the exact
-- CQL of every builder and option, identifier quoting, immutability, and
-- every misuse error.
local qb = require "cql.querybuilder"
local schema = require "cql.querybuilder.schema"

-- Builds and checks the text, and that there are no values nor markers.
local function check(q, cql)
  local text, values, markers = q:build()
  assert.equal(cql, text)
  assert.same({ n = 0 }, values)
  assert.same({}, markers)
  local _, named = q:build { named = true }
  assert.same({}, named)
end

-- Checks the message, and that it blames the line in this file that called
-- the builder.
local function err(f, msg)
  local ok, e = pcall(f)
  assert.is_false(ok, "no error for: " .. msg)
  assert.is_string(e)
  local where, rest = e:match("^(.-:%d+): (.*)$")
  assert.equal(msg, rest or e)
  assert.matches("querybuilder_schema_spec%.lua:%d+$", where or ("(no position) " .. e))
end

local SIMPLE = { class = "SimpleStrategy", replication_factor = 1 }

describe("querybuilder schema statements", function()
  it("are exported by cql.querybuilder", function()
    for _, name in ipairs { "create_keyspace", "alter_keyspace", "drop_keyspace", "create_table", "alter_table",
                            "drop_table", "create_index", "drop_index", "create_type", "alter_type", "drop_type",
                            "is_schema_statement" } do
      assert.is_function(qb[name], name)
      assert.equal(schema[name], qb[name], name)
    end
    assert.is_true(qb.is_schema_statement(qb.drop_table("t")))
    assert.is_true(qb.is_schema_statement(qb.create_index():on("t", "c")))
    assert.is_false(qb.is_schema_statement(qb.select("t")))
    assert.is_false(qb.is_schema_statement({}))
    assert.is_false(qb.is_statement(qb.drop_table("t")))
  end)

  describe("keyspaces", function()
    it("creates a keyspace with SimpleStrategy", function()
      check(qb.create_keyspace("app"):with_replication(SIMPLE),
        "CREATE KEYSPACE app WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
      check(qb.create_keyspace("app"):if_not_exists():with_replication(SIMPLE):durable_writes(false),
        "CREATE KEYSPACE IF NOT EXISTS app WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1} "
          .. "AND durable_writes = false")
      check(qb.create_keyspace("app"):durable_writes(true)
        :with_replication { class = "org.apache.cassandra.locator.SimpleStrategy", replication_factor = "3" },
        "CREATE KEYSPACE app WITH replication = {'class': 'org.apache.cassandra.locator.SimpleStrategy', "
          .. "'replication_factor': '3'} AND durable_writes = true")
    end)

    it("creates a keyspace with NetworkTopologyStrategy, data centers in order after the class", function()
      check(qb.create_keyspace("app"):with_replication { dc2 = 2, class = "NetworkTopologyStrategy", DC1 = 3,
                                                          ["dc-3"] = "2/1" },
        "CREATE KEYSPACE app WITH replication = {'class': 'NetworkTopologyStrategy', 'DC1': 3, 'dc-3': '2/1', "
          .. "'dc2': 2}")
      check(qb.create_keyspace("app"):with_replication { class = "NetworkTopologyStrategy", replication_factor = 3 },
        "CREATE KEYSPACE app WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 3}")
      check(qb.create_keyspace("app"):with_replication { class = "NetworkTopologyStrategy", ["it's"] = 1 },
        "CREATE KEYSPACE app WITH replication = {'class': 'NetworkTopologyStrategy', 'it''s': 1}")
    end)

    it("alters and drops a keyspace", function()
      check(qb.alter_keyspace("app"):with_replication(SIMPLE),
        "ALTER KEYSPACE app WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
      check(qb.alter_keyspace("app"):durable_writes(false), "ALTER KEYSPACE app WITH durable_writes = false")
      check(qb.alter_keyspace("app"):with_replication { class = "NetworkTopologyStrategy", dc1 = 1 }
        :durable_writes(true),
        "ALTER KEYSPACE app WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 1} "
          .. "AND durable_writes = true")
      check(qb.drop_keyspace("app"), "DROP KEYSPACE app")
      check(qb.drop_keyspace("app"):if_exists(), "DROP KEYSPACE IF EXISTS app")
    end)

    it("quotes keyspace names that need it", function()
      check(qb.drop_keyspace("App"), 'DROP KEYSPACE "App"')
      check(qb.drop_keyspace("table"), 'DROP KEYSPACE "table"')
      check(qb.drop_keyspace("1ks"), 'DROP KEYSPACE "1ks"')
      check(qb.create_keyspace("Select"):with_replication(SIMPLE),
        "CREATE KEYSPACE \"Select\" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
      check(qb.alter_keyspace("KEY"):durable_writes(true), 'ALTER KEYSPACE "KEY" WITH durable_writes = true')
    end)
  end)

  describe("CREATE TABLE", function()
    it("writes columns in order and the primary key", function()
      check(qb.create_table("t"):partition_key("k", "int"):column("v", "text"),
        "CREATE TABLE t (k int, v text, PRIMARY KEY ((k)))")
      check(qb.create_table("ks.t"):if_not_exists():column("v", "text"):partition_key("a", "int")
        :clustering_column("c", "timeuuid"):partition_key("b", "text"):static_column("s", "bigint")
        :clustering_column("d", "int"),
        "CREATE TABLE IF NOT EXISTS ks.t (v text, a int, c timeuuid, b text, s bigint static, d int, "
          .. "PRIMARY KEY ((a, b), c, d))")
    end)

    it("writes CLUSTERING ORDER BY when a clustering column has an order", function()
      check(qb.create_table("t"):partition_key("k", "int"):clustering_column("a", "int", "desc")
        :clustering_column("b", "int"),
        "CREATE TABLE t (k int, a int, b int, PRIMARY KEY ((k), a, b)) WITH CLUSTERING ORDER BY (a DESC, b ASC)")
      check(qb.create_table("t"):partition_key("k", "int"):clustering_column("a", "int", "ASC"),
        "CREATE TABLE t (k int, a int, PRIMARY KEY ((k), a)) WITH CLUSTERING ORDER BY (a ASC)")
      check(qb.create_table("t"):partition_key("k", "int"):clustering_column("a", "int"):clustering_column("b",
        "int", "Desc"):with_option("comment", "x"),
        "CREATE TABLE t (k int, a int, b int, PRIMARY KEY ((k), a, b)) WITH CLUSTERING ORDER BY (a ASC, b DESC) "
          .. "AND comment = 'x'")
    end)

    it("keeps the user's type text and accepts every kind of CQL type", function()
      local types = { "int", "frozen<list<int>>", "map<text, frozen<set<int>>>", "tuple<int, text>",
                      "frozen<tuple<int, frozen<list<text>>>>", "vector<float, 3>", "addr", "frozen<addr>",
                      "list<frozen<ks.addr>>", 'frozen<"Addr">', "counter", "duration", "varchar", "TEXT",
                      "map<text,int>" }
      for _, t in ipairs(types) do
        check(qb.create_table("t"):partition_key("k", "int"):column("v", t),
          "CREATE TABLE t (k int, v " .. t .. ", PRIMARY KEY ((k)))")
      end
      check(qb.create_table("t"):partition_key("k", "  int "), "CREATE TABLE t (k int, PRIMARY KEY ((k)))")
    end)

    it("quotes reserved words and mixed case, in names and the key", function()
      check(qb.create_table("Ks.Select"):partition_key("from", "int"):partition_key("Key", "text")
        :clustering_column("ORDER", "int", "desc"):column("ttl", "int"):column('we"ird', "text")
        :static_column("Static", "int"),
        'CREATE TABLE "Ks"."Select" ("from" int, "Key" text, "ORDER" int, ttl int, "we""ird" text, '
          .. '"Static" int static, PRIMARY KEY (("from", "Key"), "ORDER")) WITH CLUSTERING ORDER BY ("ORDER" DESC)')
      check(qb.create_table("ks.table"):partition_key("k", "int"), 'CREATE TABLE ks."table" (k int, PRIMARY KEY ((k)))')
    end)

    it("writes every kind of option value as a CQL literal", function()
      check(qb.create_table("t"):partition_key("k", "int")
        :with_option("comment", "it's")
        :with_option("default_time_to_live", 3600)
        :with_option("gc_grace_seconds", 0)
        :with_option("bloom_filter_fp_chance", 0.01)
        :with_option("crc_check_chance", 0.5)
        :with_option("speculative_retry", "99PERCENTILE")
        :with_option("cdc", false)
        :with_option("read_repair", "BLOCKING")
        :with_option("memtable_flush_period_in_ms", 60000LL)
        :with_option("compaction", { class = "LeveledCompactionStrategy", sstable_size_in_mb = 160,
                                     enabled = true })
        :with_option("compression", { chunk_length_in_kb = 64, class = "LZ4Compressor" })
        :with_option("caching", { keys = "ALL", rows_per_partition = "NONE" })
        :with_option("extensions", {})
        :with_option("additional_write_policy", qb.raw("'99p'")),
        "CREATE TABLE t (k int, PRIMARY KEY ((k))) WITH comment = 'it''s' AND default_time_to_live = 3600 "
          .. "AND gc_grace_seconds = 0 AND bloom_filter_fp_chance = 0.01 AND crc_check_chance = 0.5 "
          .. "AND speculative_retry = '99PERCENTILE' AND cdc = false AND read_repair = 'BLOCKING' "
          .. "AND memtable_flush_period_in_ms = 60000 "
          .. "AND compaction = {'class': 'LeveledCompactionStrategy', 'enabled': true, 'sstable_size_in_mb': 160} "
          .. "AND compression = {'class': 'LZ4Compressor', 'chunk_length_in_kb': 64} "
          .. "AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'} AND extensions = {} "
          .. "AND additional_write_policy = '99p'")
    end)

    it("takes options from a table, in the order of the names", function()
      check(qb.create_table("t"):partition_key("k", "int"):with_options { gc_grace_seconds = 10, comment = "c" }
        :with_option("default_time_to_live", 1),
        "CREATE TABLE t (k int, PRIMARY KEY ((k))) WITH comment = 'c' AND gc_grace_seconds = 10 "
          .. "AND default_time_to_live = 1")
    end)

    it("is immutable: every method returns a new builder", function()
      local base = qb.create_table("t"):partition_key("k", "int")
      local a = base:column("a", "int")
      local b = base:column("b", "text"):with_option("comment", "b")
      local c = base:clustering_column("c", "int", "desc")
      local d = base:if_not_exists()
      check(base, "CREATE TABLE t (k int, PRIMARY KEY ((k)))")
      check(a, "CREATE TABLE t (k int, a int, PRIMARY KEY ((k)))")
      check(b, "CREATE TABLE t (k int, b text, PRIMARY KEY ((k))) WITH comment = 'b'")
      check(c, "CREATE TABLE t (k int, c int, PRIMARY KEY ((k), c)) WITH CLUSTERING ORDER BY (c DESC)")
      check(d, "CREATE TABLE IF NOT EXISTS t (k int, PRIMARY KEY ((k)))")
      check(base:column("a", "text"), "CREATE TABLE t (k int, a text, PRIMARY KEY ((k)))")
      -- a caller's option table changed later does not change the builder
      local comp = { class = "LeveledCompactionStrategy" }
      local opts = { compaction = comp }
      local o = base:with_options(opts)
      comp.class, opts.comment = "Other", "late"
      check(o, "CREATE TABLE t (k int, PRIMARY KEY ((k))) WITH compaction = {'class': 'LeveledCompactionStrategy'}")
      assert.equal("CREATE TABLE t (k int, a int, PRIMARY KEY ((k)))", tostring(a))
      assert.equal("qb.create_table(incomplete: cannot build CREATE TABLE: no columns)", tostring(qb.create_table("t")))
    end)
  end)

  describe("ALTER TABLE and DROP TABLE", function()
    it("adds columns", function()
      check(qb.alter_table("ks.t"):add("v", "int"), "ALTER TABLE ks.t ADD v int")
      check(qb.alter_table("ks.t"):add_static("s", "text"), "ALTER TABLE ks.t ADD s text static")
      check(qb.alter_table("t"):add("a", "list<int>"):add_static("Mixed", "frozen<addr>"):add("select", "int"),
        'ALTER TABLE t ADD (a list<int>, "Mixed" frozen<addr> static, "select" int)')
    end)

    it("drops and renames columns", function()
      check(qb.alter_table("t"):drop("v"), "ALTER TABLE t DROP v")
      check(qb.alter_table("t"):drop("a", "From"):drop("b"), 'ALTER TABLE t DROP (a, "From", b)')
      check(qb.alter_table("t"):rename("a", "B"), 'ALTER TABLE t RENAME a TO "B"')
      check(qb.alter_table("t"):rename("a", "b"):rename("c", "where"), 'ALTER TABLE t RENAME a TO b AND c TO "where"')
    end)

    it("sets options", function()
      check(qb.alter_table("t"):with_option("comment", "new"):with_option("caching", { keys = "NONE" }),
        "ALTER TABLE t WITH comment = 'new' AND caching = {'keys': 'NONE'}")
      check(qb.alter_table("t"):with_options { gc_grace_seconds = 5, compaction = { class = "X" } },
        "ALTER TABLE t WITH compaction = {'class': 'X'} AND gc_grace_seconds = 5")
    end)

    it("is immutable", function()
      local base = qb.alter_table("t")
      local a = base:add("a", "int")
      local b = base:drop("b")
      local c = a:add("c", "int")
      check(a, "ALTER TABLE t ADD a int")
      check(b, "ALTER TABLE t DROP b")
      check(c, "ALTER TABLE t ADD (a int, c int)")
      check(base:with_option("comment", "x"), "ALTER TABLE t WITH comment = 'x'")
    end)

    it("drops a table", function()
      check(qb.drop_table("t"), "DROP TABLE t")
      check(qb.drop_table("Ks.Order"):if_exists(), 'DROP TABLE IF EXISTS "Ks"."Order"')
    end)
  end)

  describe("indexes", function()
    it("creates named and unnamed indexes on every kind of target", function()
      check(qb.create_index("by_v"):on("ks.t", "v"), "CREATE INDEX by_v ON ks.t (v)")
      check(qb.create_index():on("t", "v"), "CREATE INDEX ON t (v)")
      check(qb.create_index():if_not_exists():on("t", "v"), "CREATE INDEX IF NOT EXISTS ON t (v)")
      check(qb.create_index("i"):on("t", "m"):keys(), "CREATE INDEX i ON t (KEYS(m))")
      check(qb.create_index("i"):on("t", "m"):values(), "CREATE INDEX i ON t (VALUES(m))")
      check(qb.create_index("i"):on("t", "m"):entries(), "CREATE INDEX i ON t (ENTRIES(m))")
      check(qb.create_index("i"):full():on("t", "f"), "CREATE INDEX i ON t (FULL(f))")
      check(qb.create_index("Idx"):if_not_exists():on("Ks.T", "Mixed"):keys(),
        'CREATE INDEX IF NOT EXISTS "Idx" ON "Ks"."T" (KEYS("Mixed"))')
    end)

    it("names the implementation and its options", function()
      check(qb.create_index("i"):on("t", "name"):using("sai"), "CREATE INDEX i ON t (name) USING 'sai'")
      check(qb.create_index("i"):on("t", "name"):using("sai"):with_options { case_sensitive = false,
                                                                             normalize = "true", x = 1 },
        "CREATE INDEX i ON t (name) USING 'sai' WITH OPTIONS = {'case_sensitive': 'false', 'normalize': 'true', "
          .. "'x': '1'}")
      check(qb.create_index("i"):on("t", "name"):using("org.apache.cassandra.index.sai.StorageAttachedIndex"),
        "CREATE CUSTOM INDEX i ON t (name) USING 'org.apache.cassandra.index.sai.StorageAttachedIndex'")
      check(qb.create_index("i"):with_options { mode = "CONTAINS" }:using("org.x.Sasi"):if_not_exists()
        :on("t", "v"),
        "CREATE CUSTOM INDEX IF NOT EXISTS i ON t (v) USING 'org.x.Sasi' WITH OPTIONS = {'mode': 'CONTAINS'}")
    end)

    it("is immutable", function()
      local base = qb.create_index("i"):on("t", "m")
      local k = base:keys()
      local s = base:using("sai")
      check(base, "CREATE INDEX i ON t (m)")
      check(k, "CREATE INDEX i ON t (KEYS(m))")
      check(s, "CREATE INDEX i ON t (m) USING 'sai'")
      check(base:values(), "CREATE INDEX i ON t (VALUES(m))")
    end)

    it("drops an index", function()
      check(qb.drop_index("i"), "DROP INDEX i")
      check(qb.drop_index("ks.by_v"):if_exists(), "DROP INDEX IF EXISTS ks.by_v")
      check(qb.drop_index("Ks.Idx"), 'DROP INDEX "Ks"."Idx"')
    end)
  end)

  describe("user types", function()
    it("creates a type", function()
      check(qb.create_type("ks.addr"):field("street", "text"):field("zip", "int"),
        "CREATE TYPE ks.addr (street text, zip int)")
      check(qb.create_type("Addr"):if_not_exists():field("Street", "text"):field("lines", "list<frozen<line>>")
        :field("order", "int"):field("type", "int"),
        'CREATE TYPE IF NOT EXISTS "Addr" ("Street" text, lines list<frozen<line>>, "order" int, type int)')
    end)

    it("alters and drops a type", function()
      check(qb.alter_type("ks.addr"):add("country", "text"), "ALTER TYPE ks.addr ADD country text")
      check(qb.alter_type("ks.addr"):add("Geo", "frozen<tuple<double, double>>"),
        'ALTER TYPE ks.addr ADD "Geo" frozen<tuple<double, double>>')
      check(qb.alter_type("addr"):rename("a", "b"):rename("C", "d"), 'ALTER TYPE addr RENAME a TO b AND "C" TO d')
      check(qb.drop_type("ks.addr"), "DROP TYPE ks.addr")
      check(qb.drop_type("ks.addr"):if_exists(), "DROP TYPE IF EXISTS ks.addr")
    end)

    it("is immutable", function()
      local base = qb.create_type("t"):field("a", "int")
      local b = base:field("b", "text")
      check(base, "CREATE TYPE t (a int)")
      check(b, "CREATE TYPE t (a int, b text)")
      check(base:if_not_exists(), "CREATE TYPE IF NOT EXISTS t (a int)")
      local alter = qb.alter_type("t")
      check(alter:add("x", "int"), "ALTER TYPE t ADD x int")
      check(alter:add("y", "int"), "ALTER TYPE t ADD y int")
    end)
  end)

  describe("misuse", function()
    it("refuses bad keyspace, table, type and index names", function()
      err(function() qb.create_keyspace(nil) end, "bad argument #1 to 'create_keyspace' (keyspace name expected, "
        .. "got nil)")
      err(function() qb.create_keyspace("") end,
        "bad argument #1 to 'create_keyspace' (invalid keyspace name '' (keyspace names are letters, digits and _))")
      err(function() qb.drop_keyspace("a.b") end,
        "bad argument #1 to 'drop_keyspace' (invalid keyspace name 'a.b' (keyspace names are letters, digits and _))")
      err(function() qb.alter_keyspace("a b") end,
        "bad argument #1 to 'alter_keyspace' (invalid keyspace name 'a b' (keyspace names are letters, digits "
          .. "and _))")
      err(function() qb.create_table(1) end, "bad argument #1 to 'create_table' (table name expected, got number)")
      err(function() qb.create_table("a-b") end,
        "bad argument #1 to 'create_table' (invalid table name 'a-b' (table names are letters, digits and _))")
      err(function() qb.create_table("a.b.c") end,
        "bad argument #1 to 'create_table' (invalid table name 'a.b.c' (table names are letters, digits and _))")
      err(function() qb.alter_table("k s.t") end,
        "bad argument #1 to 'alter_table' (invalid keyspace name 'k s.t' (keyspace names are letters, digits "
          .. "and _))")
      err(function() qb.drop_table("ks.") end,
        "bad argument #1 to 'drop_table' (invalid table name 'ks.' (table names are letters, digits and _))")
      err(function() qb.create_type("t;") end,
        "bad argument #1 to 'create_type' (invalid type name 't;' (type names are letters, digits and _))")
      err(function() qb.alter_type(false) end, "bad argument #1 to 'alter_type' (type name expected, got boolean)")
      err(function() qb.drop_type("") end,
        "bad argument #1 to 'drop_type' (invalid type name '' (type names are letters, digits and _))")
      err(function() qb.create_index("ks.i") end,
        "bad argument #1 to 'create_index' (invalid index name 'ks.i' (index names are letters, digits and _))")
      err(function() qb.create_index(1) end, "bad argument #1 to 'create_index' (index name expected, got number)")
      err(function() qb.drop_index("a b") end,
        "bad argument #1 to 'drop_index' (invalid index name 'a b' (index names are letters, digits and _))")
      err(function() qb.create_index("i"):on("t t", "c") end,
        "bad argument #1 to 'on' (invalid table name 't t' (table names are letters, digits and _))")
    end)

    it("refuses bad replication and durable_writes", function()
      local ks = qb.create_keyspace("k")
      err(function() ks:with_replication(nil) end,
        "bad argument #1 to 'with_replication' (replication map expected ({class = ..., ...}), got nil)")
      err(function() ks:with_replication { 1 } end,
        "bad argument #1 to 'with_replication' (replication map expected ({class = ..., ...}), got table)")
      err(function() ks:with_replication { replication_factor = 1 } end,
        "bad argument #1 to 'with_replication' (replication: 'class' (the strategy's name) expected, got nil)")
      err(function() ks:with_replication { class = "SimpleStrategy" } end,
        "bad argument #1 to 'with_replication' (replication: SimpleStrategy needs replication_factor)")
      err(function() ks:with_replication { class = "SimpleStrategy", replication_factor = 1, dc1 = 1 } end,
        "bad argument #1 to 'with_replication' (replication: SimpleStrategy takes only replication_factor)")
      err(function() ks:with_replication { class = "NetworkTopologyStrategy" } end,
        "bad argument #1 to 'with_replication' (replication: NetworkTopologyStrategy needs replica counts (per "
          .. "data center, or replication_factor))")
      err(function() ks:with_replication { class = "SimpleStrategy", replication_factor = 1.5 } end,
        "bad argument #1 to 'with_replication' (replication: 'replication_factor' must be a replica count "
          .. "(non-negative integer), got 1.5)")
      err(function() ks:with_replication { class = "NetworkTopologyStrategy", dc1 = "three" } end,
        "bad argument #1 to 'with_replication' (replication: 'dc1' must be a replica count (non-negative "
          .. "integer), got 'three')")
      err(function() ks:with_replication { class = "NetworkTopologyStrategy", dc1 = -1 } end,
        "bad argument #1 to 'with_replication' (replication: 'dc1' must be a replica count (non-negative "
          .. "integer), got -1)")
      err(function() ks:with_replication { class = "NetworkTopologyStrategy", [true] = 1, dc = 1 } end,
        "bad argument #1 to 'with_replication' (replication: keys must be non-empty strings, got boolean)")
      err(function() ks:with_replication { class = "NetworkTopologyStrategy", [""] = 1 } end,
        "bad argument #1 to 'with_replication' (replication: keys must be non-empty strings, got '')")
      err(function() ks:durable_writes("yes") end, "bad argument #1 to 'durable_writes' (boolean expected, got string)")
      err(function() qb.alter_keyspace("k"):durable_writes(nil) end,
        "bad argument #1 to 'durable_writes' (boolean expected, got nil)")
    end)

    it("refuses incomplete keyspace statements at build", function()
      err(function() qb.create_keyspace("k"):if_not_exists():build() end,
        "cannot build CREATE KEYSPACE: no replication (use with_replication)")
      err(function() qb.alter_keyspace("k"):build() end,
        "cannot build ALTER KEYSPACE: nothing to change (use with_replication or durable_writes)")
    end)

    it("refuses bad columns and types, naming the column", function()
      local t = qb.create_table("t"):partition_key("k", "int")
      err(function() t:column(nil, "int") end, "bad argument #1 to 'column' (column name expected, got nil)")
      err(function() t:column("", "int") end, "bad argument #1 to 'column' (empty column name)")
      err(function() t:column("k", "text") end, "bad argument #1 to 'column' (column 'k' defined twice)")
      err(function() t:static_column("k", "text") end, "bad argument #1 to 'static_column' (column 'k' defined twice)")
      err(function() t:partition_key("k", "text") end, "bad argument #1 to 'partition_key' (column 'k' defined twice)")
      err(function() t:column("v", nil) end, "bad argument #2 to 'column' (CQL type expected for column 'v', got nil)")
      err(function() t:column("v", "  ") end, "bad argument #2 to 'column' (empty type for column 'v')")
      err(function() t:column("v", "list<int") end,
        "bad argument #2 to 'column' (invalid type 'list<int' for column 'v': expected '>' at offset 8 in 'list<int')")
      err(function() t:column("v", "int static") end,
        "bad argument #2 to 'column' (invalid type 'int static' for column 'v': expected end of input at offset 4 "
          .. "in 'int static')")
      err(function() t:column("v", "int, x int") end,
        "bad argument #2 to 'column' (invalid type 'int, x int' for column 'v': expected end of input at offset 3 "
          .. "in 'int, x int')")
      err(function() t:clustering_column("v", "map<int>") end,
        "bad argument #2 to 'clustering_column' (invalid type 'map<int>' for column 'v': expected ',' at offset 7 "
          .. "in 'map<int>')")
      err(function() t:static_column("v", "Int32Type") end,
        "bad argument #2 to 'static_column' (invalid type 'Int32Type' for column 'v' (a marshal class name; a CQL "
          .. "type such as 'int' or 'list<text>' expected))")
      err(function() t:partition_key("v", "org.apache.cassandra.db.marshal.Int32Type") end,
        "bad argument #2 to 'partition_key' (invalid type 'org.apache.cassandra.db.marshal.Int32Type' for column "
          .. "'v' (a marshal class name; a CQL type such as 'int' or 'list<text>' expected))")
      err(function() t:column("v", "ListType(int)") end,
        "bad argument #2 to 'column' (invalid type 'ListType(int)' for column 'v' (a marshal class name; a CQL "
          .. "type such as 'int' or 'list<text>' expected))")
      err(function() t:clustering_column("c", "int", "up") end,
        "bad argument #3 to 'clustering_column' ('ASC' or 'DESC' expected, got 'up')")
      err(function() t:clustering_column("c", "int", 1) end,
        "bad argument #3 to 'clustering_column' ('ASC' or 'DESC' expected, got number)")
    end)

    it("refuses bad options, naming the option", function()
      local t = qb.create_table("t"):partition_key("k", "int")
      err(function() t:with_option("a b", 1) end,
        "bad argument #1 to 'with_option' (option name (an identifier) expected, got 'a b')")
      err(function() t:with_option("comment = 'x' AND x", 1) end,
        "bad argument #1 to 'with_option' (option name (an identifier) expected, got 'comment = 'x' AND x')")
      err(function() t:with_option(nil, 1) end,
        "bad argument #1 to 'with_option' (option name (an identifier) expected, got nil)")
      err(function() t:with_option("1x", 1) end,
        "bad argument #1 to 'with_option' (option name (an identifier) expected, got '1x')")
      err(function() t:with_option("comment", nil) end, "bad argument #2 to 'with_option' (value expected for "
        .. "option 'comment')")
      err(function() t:with_option("comment", "a"):with_option("COMMENT", "b") end,
        "bad argument #1 to 'with_option' (option 'COMMENT' given twice)")
      err(function() t:with_option("x", 0 / 0) end,
        "bad argument #2 to 'with_option' (option 'x': finite number expected, got " .. tostring(0 / 0) .. ")")
      err(function() t:with_option("x", math.huge) end,
        "bad argument #2 to 'with_option' (option 'x': finite number expected, got inf)")
      err(function() t:with_option("x", { 1, 2 }) end,
        "bad argument #2 to 'with_option' (option 'x': a map (table of key = value) expected, got an array)")
      err(function() t:with_option("x", { a = { b = 1 } }) end,
        "bad argument #2 to 'with_option' (option 'x': value of 'a' must be a string, number or boolean, got table)")
      err(function() t:with_option("x", { [true] = "a", b = 1 }) end,
        "bad argument #2 to 'with_option' (option 'x': map keys must be non-empty strings, got boolean)")
      err(function() t:with_option("x", print) end,
        "bad argument #2 to 'with_option' (option 'x': string, number, boolean, map or qb.raw expected, got function)")
      err(function() t:with_option("x", qb.raw("?", 1)) end,
        "bad argument #2 to 'with_option' (option 'x': a qb.raw option value cannot have '?' markers)")
      err(function() t:with_options { "x" } end, "bad argument #1 to 'with_options' (table of option = value pairs "
        .. "expected)")
      err(function() t:with_options { ["a b"] = 1 } end,
        "bad argument #1 to 'with_options' (option name (an identifier) expected, got 'a b')")
      err(function() t:with_option("comment", "a"):with_options { comment = "b" } end,
        "bad argument #1 to 'with_options' (option 'comment' given twice)")
      err(function() t:with_options { x = {} , y = print } end,
        "bad argument #2 to 'with_options' (option 'y': string, number, boolean, map or qb.raw expected, got "
          .. "function)")
      err(function() qb.alter_table("t"):with_option("b c", 1) end,
        "bad argument #1 to 'with_option' (option name (an identifier) expected, got 'b c')")
    end)

    it("refuses incomplete tables at build", function()
      err(function() qb.create_table("t"):build() end, "cannot build CREATE TABLE: no columns")
      err(function() qb.create_table("t"):column("a", "int"):clustering_column("c", "int"):build() end,
        "cannot build CREATE TABLE: no partition key (use partition_key)")
      err(function() qb.create_table("t"):partition_key("k", "int"):static_column("s", "int"):build() end,
        "cannot build CREATE TABLE: static column 's' needs a clustering column in the table")
      err(function() qb.create_table("t"):partition_key("k", "int"):build { unknown = true } end,
        "bad argument #1 to 'build' (unknown option 'unknown')")
      err(function() qb.create_table("t"):partition_key("k", "int"):build("x") end,
        "bad argument #1 to 'build' (table of options or nil expected)")
    end)

    it("refuses mixed and bad ALTER TABLE changes", function()
      local t = qb.alter_table("t")
      err(function() t:build() end, "cannot build ALTER TABLE: nothing to change (use add, drop, rename or "
        .. "with_option)")
      err(function() t:add("a", "int"):drop("b") end,
        "bad call to 'drop' (this ALTER TABLE already has ADD; CQL takes one kind of change per statement)")
      err(function() t:drop("b"):add("a", "int") end,
        "bad call to 'add' (this ALTER TABLE already has DROP; CQL takes one kind of change per statement)")
      err(function() t:drop("b"):add_static("a", "int") end,
        "bad call to 'add_static' (this ALTER TABLE already has DROP; CQL takes one kind of change per statement)")
      err(function() t:add("a", "int"):with_option("comment", "x") end,
        "bad call to 'with_option' (this ALTER TABLE already has ADD; CQL takes one kind of change per statement)")
      err(function() t:with_option("comment", "x"):rename("a", "b") end,
        "bad call to 'rename' (this ALTER TABLE already has WITH; CQL takes one kind of change per statement)")
      err(function() t:rename("a", "b"):with_options { comment = "x" } end,
        "bad call to 'with_options' (this ALTER TABLE already has RENAME; CQL takes one kind of change per "
          .. "statement)")
      err(function() t:add("a", "int"):add("a", "text") end, "bad argument #1 to 'add' (column 'a' added twice)")
      err(function() t:add("a", "lst<int") end,
        "bad argument #2 to 'add' (invalid type 'lst<int' for column 'a': expected frozen, list, set, map, tuple or "
          .. "vector before '<' at offset 0 in 'lst<int')")
      err(function() t:add_static("s", nil) end,
        "bad argument #2 to 'add_static' (CQL type expected for column 's', got nil)")
      err(function() t:add(nil, "int") end, "bad argument #1 to 'add' (column name expected, got nil)")
      err(function() t:drop() end, "bad argument #1 to 'drop' (column name expected)")
      err(function() t:drop("a", "") end, "bad argument #2 to 'drop' (empty column name)")
      err(function() t:drop("a"):drop("a") end, "bad argument #1 to 'drop' (column 'a' dropped twice)")
      err(function() t:rename("a", nil) end, "bad argument #2 to 'rename' (new name expected, got nil)")
      err(function() t:rename("a", "b"):rename("a", "c") end, "bad argument #1 to 'rename' ('a' renamed twice)")
    end)

    it("refuses bad and incomplete indexes", function()
      local i = qb.create_index("i")
      err(function() i:build() end, "cannot build CREATE INDEX: no table and column (use on)")
      err(function() i:on("t", nil) end, "bad argument #2 to 'on' (column name expected, got nil)")
      err(function() i:on("t", "a"):on("t", "b") end, "bad call to 'on' (the index already has its table and column)")
      err(function() i:keys():values() end,
        "bad call to 'values' (the index already targets keys(); an index has one target)")
      err(function() i:full():full() end, "bad call to 'full' (the index already targets full(); an index has one "
        .. "target)")
      err(function() i:entries():keys() end,
        "bad call to 'keys' (the index already targets entries(); an index has one target)")
      err(function() i:using(nil) end, "bad argument #1 to 'using' (index class or alias (e.g. 'sai') expected, got "
        .. "nil)")
      err(function() i:using("sai' OR 1") end,
        "bad argument #1 to 'using' (index class or alias (e.g. 'sai') expected, got 'sai' OR 1')")
      err(function() i:using("sai"):using("x") end, "bad call to 'using' (the index already has USING 'sai')")
      err(function() i:with_options {} end, "bad argument #1 to 'with_options' (non-empty table of option = value "
        .. "pairs expected)")
      err(function() i:with_options { "a" } end,
        "bad argument #1 to 'with_options' (non-empty table of option = value pairs expected)")
      err(function() i:with_options { a = {} } end,
        "bad argument #1 to 'with_options' (index options: value of 'a' must be a string, number or boolean, got "
          .. "table)")
      err(function() i:with_options { a = "1" }:with_options { b = "2" } end,
        "bad call to 'with_options' (the index already has its options)")
    end)

    it("refuses bad and incomplete types", function()
      local t = qb.create_type("t")
      err(function() t:build() end, "cannot build CREATE TYPE: no fields (use field)")
      err(function() t:field(nil, "int") end, "bad argument #1 to 'field' (field name expected, got nil)")
      err(function() t:field("a", "int"):field("a", "text") end, "bad argument #1 to 'field' (field 'a' defined "
        .. "twice)")
      err(function() t:field("a", "frozen<") end,
        "bad argument #2 to 'field' (invalid type 'frozen<' for field 'a': expected a type at offset 7 in 'frozen<')")
      err(function() t:field("a", 5) end, "bad argument #2 to 'field' (CQL type expected for field 'a', got number)")
      local a = qb.alter_type("t")
      err(function() a:build() end, "cannot build ALTER TYPE: nothing to change (use add or rename)")
      err(function() a:add("x", "int"):add("y", "int") end,
        "bad call to 'add' (ALTER TYPE adds one field per statement)")
      err(function() a:add("x", "int"):rename("a", "b") end,
        "bad call to 'rename' (this ALTER TYPE already has ADD; CQL takes one kind of change per statement)")
      err(function() a:rename("a", "b"):add("x", "int") end,
        "bad call to 'add' (this ALTER TYPE already has RENAME; CQL takes one kind of change per statement)")
      err(function() a:add("", "int") end, "bad argument #1 to 'add' (empty field name)")
      err(function() a:add("x", "bad type") end,
        "bad argument #2 to 'add' (invalid type 'bad type' for field 'x': expected end of input at offset 4 in "
          .. "'bad type')")
    end)
  end)
end)
