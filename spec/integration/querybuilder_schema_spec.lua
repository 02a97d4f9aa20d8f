-- The query builder's schema (DDL) statements against the real server:
-- every statement is run as built, and what it did is read back from
-- system_schema or DESCRIBE.
local testenv = require "testenv"
local Cluster = require("cql.cluster").Cluster
local collections = require "cql.util.collections"
local qb = require "cql.querybuilder"

local KS = "qb_schema_test"

-- Plain Lua values: sets and lists as arrays, maps as tables.
local function plain(v)
  if collections.is_sortedset(v) then return plain(v:items()) end
  if collections.is_orderedmap(v) then
    local out = {}
    for k, x in v:pairs() do out[plain(k)] = plain(x) end
    return out
  end
  if type(v) == "cdata" then return tonumber(v) end
  if type(v) == "table" and getmetatable(v) == nil then
    local out = {}
    for k, x in pairs(v) do if k ~= "n" then out[k] = plain(x) end end
    return out
  end
  return v
end

describe("querybuilder schema statements against Cassandra", function()
  local cluster, session, dc

  -- Runs a builder's statement as text (DDL has no values).
  local function run(q)
    local cql, values = q:build()
    assert.equal(0, values.n)
    local rs, err = session:execute(cql)
    assert(rs, ("execute failed: %s\n  %s"):format(tostring(err), cql))
    return rs
  end

  local function exec(cql)
    assert(session:execute(cql))
  end

  local function rows(cql, params)
    return plain(assert(assert(session:execute(cql, params)):all()))
  end

  local function keyspace_row(name)
    return rows("SELECT * FROM system_schema.keyspaces WHERE keyspace_name = %s", { name })[1]
  end

  local function table_row(name)
    return rows("SELECT * FROM system_schema.tables WHERE keyspace_name = %s AND table_name = %s", { KS, name })[1]
  end

  -- column name -> {kind, type, position, clustering_order}
  local function columns_of(name)
    local out = {}
    for _, r in ipairs(rows("SELECT * FROM system_schema.columns WHERE keyspace_name = %s AND table_name = %s",
        { KS, name })) do
      out[r.column_name] = { kind = r.kind, type = r.type, position = r.position, order = r.clustering_order }
    end
    return out
  end

  -- index name -> options
  local function indexes_of(name)
    local out = {}
    for _, r in ipairs(rows("SELECT * FROM system_schema.indexes WHERE keyspace_name = %s AND table_name = %s",
        { KS, name })) do
      out[r.index_name] = r.options
    end
    return out
  end

  local function type_row(name)
    return rows("SELECT * FROM system_schema.types WHERE keyspace_name = %s AND type_name = %s", { KS, name })[1]
  end

  local function describe_table(name)
    local parts = {}
    for _, r in ipairs(rows("DESCRIBE TABLE " .. KS .. "." .. qb.quote_identifier(name))) do
      parts[#parts + 1] = r.create_statement
    end
    return table.concat(parts, "\n")
  end

  setup(function()
    cluster = Cluster { contact_points = testenv.hosts() }
    session = assert(cluster:connect())
    dc = rows("SELECT data_center FROM system.local")[1].data_center
    exec("DROP KEYSPACE IF EXISTS " .. KS)
    run(qb.create_keyspace(KS):with_replication { class = "SimpleStrategy", replication_factor = 1 })
  end)

  teardown(function()
    if session then
      session:execute("DROP KEYSPACE IF EXISTS " .. KS)
      session:execute('DROP KEYSPACE IF EXISTS "QbSchemaMixed"')
      session:execute("DROP KEYSPACE IF EXISTS qb_schema_nts")
    end
    if cluster then cluster:shutdown() end
  end)

  describe("keyspaces", function()
    it("creates, alters and drops a keyspace", function()
      local name = "QbSchemaMixed"
      exec('DROP KEYSPACE IF EXISTS "QbSchemaMixed"')
      local create = qb.create_keyspace(name):if_not_exists()
        :with_replication { class = "SimpleStrategy", replication_factor = 1 }:durable_writes(false)
      run(create)
      local r = keyspace_row(name)
      assert.same({ class = "org.apache.cassandra.locator.SimpleStrategy", replication_factor = "1" }, r.replication)
      assert.is_false(r.durable_writes)
      run(create) -- IF NOT EXISTS: no error the second time
      -- without IF NOT EXISTS, the server refuses an existing keyspace
      assert.is_nil(session:execute((qb.create_keyspace(name)
        :with_replication { class = "SimpleStrategy", replication_factor = 1 }:build())))

      run(qb.alter_keyspace(name):with_replication { class = "NetworkTopologyStrategy", [dc] = 1 }
        :durable_writes(true))
      r = keyspace_row(name)
      assert.same({ class = "org.apache.cassandra.locator.NetworkTopologyStrategy", [dc] = "1" }, r.replication)
      assert.is_true(r.durable_writes)
      run(qb.alter_keyspace(name):durable_writes(false))
      assert.is_false(keyspace_row(name).durable_writes)
      assert.same({ class = "org.apache.cassandra.locator.NetworkTopologyStrategy", [dc] = "1" },
        keyspace_row(name).replication)

      run(qb.drop_keyspace(name))
      assert.is_nil(keyspace_row(name))
      run(qb.drop_keyspace(name):if_exists()) -- no error when it is gone
      assert.is_nil(session:execute(qb.drop_keyspace(name):build()))
    end)

    it("creates a NetworkTopologyStrategy keyspace", function()
      exec("DROP KEYSPACE IF EXISTS qb_schema_nts")
      run(qb.create_keyspace("qb_schema_nts"):with_replication { class = "NetworkTopologyStrategy", [dc] = 1 })
      local r = keyspace_row("qb_schema_nts")
      assert.same({ class = "org.apache.cassandra.locator.NetworkTopologyStrategy", [dc] = "1" }, r.replication)
      assert.is_true(r.durable_writes)
      run(qb.drop_keyspace("qb_schema_nts"))
      assert.is_nil(keyspace_row("qb_schema_nts"))
    end)
  end)

  describe("tables", function()
    it("creates a table with every kind of column and the options it was given", function()
      local q = qb.create_table(KS .. ".select"):if_not_exists()
        :partition_key("Tenant", "text"):partition_key("day", "date")
        :clustering_column("at", "timeuuid", "DESC"):clustering_column("from", "int")
        :static_column("cfg", "text")
        :column("tags", "set<text>"):column("score", "map<text, double>")
        :column("trail", "list<frozen<tuple<int, text>>>"):column("vec", "vector<float, 3>")
        :column("frozen_list", "frozen<list<int>>")
        :with_option("comment", "it's a test")
        :with_option("default_time_to_live", 3600)
        :with_option("gc_grace_seconds", 7200)
        :with_option("compaction", { class = "LeveledCompactionStrategy", sstable_size_in_mb = 128 })
        :with_option("compression", { class = "LZ4Compressor", chunk_length_in_kb = 32 })
        :with_option("caching", { keys = "ALL", rows_per_partition = "10" })
        :with_option("speculative_retry", "99p")
        :with_option("bloom_filter_fp_chance", 0.02)
        :with_option("crc_check_chance", 0.5)
        :with_option("memtable_flush_period_in_ms", 60000)
        :with_option("min_index_interval", 64):with_option("max_index_interval", 4096)
      run(q)
      run(q) -- IF NOT EXISTS
      local cols = columns_of("select")
      assert.same({ kind = "partition_key", type = "text", position = 0, order = "none" }, cols.Tenant)
      assert.same({ kind = "partition_key", type = "date", position = 1, order = "none" }, cols.day)
      assert.same({ kind = "clustering", type = "timeuuid", position = 0, order = "desc" }, cols.at)
      assert.same({ kind = "clustering", type = "int", position = 1, order = "asc" }, cols.from)
      assert.same({ kind = "static", type = "text", position = -1, order = "none" }, cols.cfg)
      assert.equal("set<text>", cols.tags.type)
      assert.equal("map<text, double>", cols.score.type)
      assert.equal("list<frozen<tuple<int, text>>>", cols.trail.type)
      assert.equal("vector<float, 3>", cols.vec.type)
      assert.equal("frozen<list<int>>", cols.frozen_list.type)
      assert.equal("regular", cols.frozen_list.kind)
      local t = table_row("select")
      assert.equal("it's a test", t.comment)
      assert.equal(3600, t.default_time_to_live)
      assert.equal(7200, t.gc_grace_seconds)
      assert.equal("org.apache.cassandra.db.compaction.LeveledCompactionStrategy", t.compaction.class)
      assert.equal("128", t.compaction.sstable_size_in_mb)
      assert.equal("org.apache.cassandra.io.compress.LZ4Compressor", t.compression.class)
      assert.equal("32", t.compression.chunk_length_in_kb)
      assert.same({ keys = "ALL", rows_per_partition = "10" }, t.caching)
      assert.equal("99p", t.speculative_retry:lower())
      assert.equal(0.02, t.bloom_filter_fp_chance)
      assert.equal(0.5, t.crc_check_chance)
      assert.equal(60000, t.memtable_flush_period_in_ms)
      assert.equal(64, t.min_index_interval)
      assert.equal(4096, t.max_index_interval)
    end)

    it("creates what the equivalent hand-written CREATE TABLE creates (by DESCRIBE)", function()
      run(qb.create_table(KS .. ".built"):partition_key("k", "int"):clustering_column("c", "text", "desc")
        :column("Value", "frozen<map<int, text>>"):static_column("s", "bigint")
        :with_options { comment = "same", default_time_to_live = 60,
                       compaction = { class = "SizeTieredCompactionStrategy", min_threshold = 2 } })
      exec("CREATE TABLE " .. KS .. [[.hand (k int, c text, "Value" frozen<map<int, text>>, s bigint static,
        PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c DESC) AND comment = 'same' AND default_time_to_live = 60
        AND compaction = {'class': 'SizeTieredCompactionStrategy', 'min_threshold': '2'}]])
      local built = describe_table("built"):gsub("%.built ", ".TABLE ")
      local hand = describe_table("hand"):gsub("%.hand ", ".TABLE ")
      assert.truthy(built:find("min_threshold", 1, true), built)
      assert.equal(hand, built)
    end)

    it("alters a table: adds, drops and renames columns, sets options", function()
      run(qb.create_table(KS .. ".evolve"):partition_key("k", "int"):clustering_column("c", "int")
        :column("old", "text"):column("gone", "int"))
      run(qb.alter_table(KS .. ".evolve"):add("n", "int"))
      run(qb.alter_table(KS .. ".evolve"):add("Mixed", "list<text>"):add_static("st", "text"))
      local cols = columns_of("evolve")
      assert.equal("int", cols.n.type)
      assert.same({ kind = "regular", type = "list<text>", position = -1, order = "none" }, cols.Mixed)
      assert.equal("static", cols.st.kind)
      run(qb.alter_table(KS .. ".evolve"):drop("gone"))
      run(qb.alter_table(KS .. ".evolve"):drop("old", "n"))
      cols = columns_of("evolve")
      assert.is_nil(cols.gone)
      assert.is_nil(cols.old)
      assert.is_nil(cols.n)
      run(qb.alter_table(KS .. ".evolve"):rename("c", "Cee"):rename("k", "key"))
      cols = columns_of("evolve")
      assert.equal("clustering", cols.Cee.kind)
      assert.equal("partition_key", cols.key.kind)
      run(qb.alter_table(KS .. ".evolve"):with_option("comment", "altered")
        :with_option("caching", { keys = "NONE", rows_per_partition = "NONE" }))
      local t = table_row("evolve")
      assert.equal("altered", t.comment)
      assert.same({ keys = "NONE", rows_per_partition = "NONE" }, t.caching)
      run(qb.alter_table(KS .. ".evolve"):with_options { gc_grace_seconds = 10, default_time_to_live = 5 })
      t = table_row("evolve")
      assert.equal(10, t.gc_grace_seconds)
      assert.equal(5, t.default_time_to_live)
    end)

    it("drops a table", function()
      run(qb.create_table(KS .. ".doomed"):partition_key("k", "int"))
      assert.is_table(table_row("doomed"))
      run(qb.drop_table(KS .. ".doomed"))
      assert.is_nil(table_row("doomed"))
      run(qb.drop_table(KS .. ".doomed"):if_exists())
      assert.is_nil(session:execute(qb.drop_table(KS .. ".doomed"):build()))
    end)
  end)

  describe("indexes", function()
    setup(function()
      run(qb.create_table(KS .. ".indexed"):partition_key("k", "int"):column("v", "int"):column("name", "text")
        :column("m", "map<text, int>"):column("l", "list<int>"):column("f", "frozen<set<int>>")
        :column("Mixed", "int"))
    end)

    local function target(name)
      return indexes_of("indexed")[name].target
    end

    it("creates named and unnamed indexes on every kind of target, and drops them", function()
      run(qb.create_index("idx_v"):on(KS .. ".indexed", "v"))
      assert.equal("v", target("idx_v"))
      run(qb.create_index("idx_v"):if_not_exists():on(KS .. ".indexed", "v"))
      assert.is_nil(session:execute(qb.create_index("idx_v"):on(KS .. ".indexed", "v"):build()))
      run(qb.create_index("idx_mixed"):on(KS .. ".indexed", "Mixed"))
      assert.equal('"Mixed"', target("idx_mixed"))
      run(qb.create_index("idx_mk"):on(KS .. ".indexed", "m"):keys())
      assert.equal("keys(m)", target("idx_mk"))
      run(qb.create_index("idx_mv"):on(KS .. ".indexed", "m"):values())
      assert.equal("values(m)", target("idx_mv"))
      run(qb.create_index("idx_me"):on(KS .. ".indexed", "m"):entries())
      assert.equal("entries(m)", target("idx_me"))
      run(qb.create_index("idx_f"):on(KS .. ".indexed", "f"):full())
      assert.equal("full(f)", target("idx_f"))
      local before = 0
      for _ in pairs(indexes_of("indexed")) do before = before + 1 end
      run(qb.create_index():on(KS .. ".indexed", "l"):values())
      local names = {}
      for n, o in pairs(indexes_of("indexed")) do if o.target == "values(l)" then names[#names + 1] = n end end
      assert.equal(1, #names)

      run(qb.drop_index(KS .. ".idx_v"))
      assert.is_nil(indexes_of("indexed").idx_v)
      run(qb.drop_index(KS .. ".idx_v"):if_exists())
      assert.is_nil(session:execute(qb.drop_index(KS .. ".idx_v"):build()))
      for _, n in ipairs { "idx_mixed", "idx_mk", "idx_mv", "idx_me", "idx_f", names[1] } do
        run(qb.drop_index(KS .. "." .. n))
      end
      assert.same({}, indexes_of("indexed"))
    end)

    it("creates a storage-attached index with options, usable in a query", function()
      run(qb.create_index("idx_name_sai"):if_not_exists():on(KS .. ".indexed", "name"):using("sai")
        :with_options { case_sensitive = false, normalize = true })
      local o = indexes_of("indexed").idx_name_sai
      assert.equal("name", o.target)
      assert.equal("sai", o.class_name)
      assert.equal("false", o.case_sensitive)
      assert.equal("true", o.normalize)
      exec("INSERT INTO " .. KS .. ".indexed (k, name) VALUES (1, 'Ann')")
      local got = rows("SELECT k FROM " .. KS .. ".indexed WHERE name = 'ann'")
      assert.same({ { k = 1 } }, got)
      run(qb.create_index("idx_v_sai"):on(KS .. ".indexed", "v"):using("StorageAttachedIndex"))
      assert.equal("StorageAttachedIndex", indexes_of("indexed").idx_v_sai.class_name)
      run(qb.create_index("idx_l_sai"):on(KS .. ".indexed", "l")
        :using("org.apache.cassandra.index.sai.StorageAttachedIndex"))
      assert.equal("values(l)", indexes_of("indexed").idx_l_sai.target)
      assert.equal("org.apache.cassandra.index.sai.StorageAttachedIndex", indexes_of("indexed").idx_l_sai.class_name)
    end)
  end)

  describe("user types", function()
    it("creates, alters and drops a type, and uses it in a table", function()
      run(qb.create_type(KS .. ".addr"):if_not_exists():field("street", "text"):field("Zip", "int")
        :field("lines", "list<text>"))
      local r = type_row("addr")
      assert.same({ "street", "Zip", "lines" }, r.field_names)
      assert.same({ "text", "int", "list<text>" }, r.field_types)
      run(qb.create_type(KS .. ".addr"):if_not_exists():field("other", "int")) -- exists: nothing changes
      assert.same({ "street", "Zip", "lines" }, type_row("addr").field_names)
      run(qb.alter_type(KS .. ".addr"):add("country", "frozen<map<text, text>>"))
      run(qb.alter_type(KS .. ".addr"):rename("street", "road"):rename("Zip", "postcode"))
      r = type_row("addr")
      assert.same({ "road", "postcode", "lines", "country" }, r.field_names)
      assert.same({ "text", "int", "list<text>", "frozen<map<text, text>>" }, r.field_types)

      run(qb.create_table(KS .. ".homes"):partition_key("k", "int"):column("a", "frozen<addr>")
        :column("many", "list<frozen<addr>>"))
      local cols = columns_of("homes")
      assert.equal("frozen<addr>", cols.a.type)
      assert.equal("list<frozen<addr>>", cols.many.type)
      run(qb.drop_table(KS .. ".homes"))
      run(qb.drop_type(KS .. ".addr"))
      assert.is_nil(type_row("addr"))
      run(qb.drop_type(KS .. ".addr"):if_exists())
      assert.is_nil(session:execute(qb.drop_type(KS .. ".addr"):build()))
    end)
  end)
end)
