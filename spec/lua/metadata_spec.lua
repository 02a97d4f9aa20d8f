-- cql.metadata without a server: quoting, the schema model built from
-- literal system_schema rows and its CQL, refreshes through a fake
-- execute, and the token map on synthetic rings checked against a plain
-- Lua model of Cassandra's placement.
local ffi = require "ffi"
local metadata = require "cql.metadata"
local names = require "cql.metadata.names"
local schema = require "cql.metadata.schema"
local murmur3 = require "cql.murmur3"

describe("cql.metadata names", function()
  it("quotes identifiers only when they need it", function()
    assert.equal("foo", metadata.protect_name("foo"))
    assert.equal("foo_1", metadata.protect_name("foo_1"))
    assert.equal('"Foo"', metadata.protect_name("Foo"))
    assert.equal('"1abc"', metadata.protect_name("1abc"))
    assert.equal('"select"', metadata.protect_name("select"))
    assert.equal('"token"', metadata.protect_name("token"))
    assert.equal("key", metadata.protect_name("key")) -- unreserved keyword
    assert.equal('"a""b"', metadata.protect_name('a"b'))
    assert.equal('"with space"', metadata.protect_name("with space"))
    assert.same({ "a", '"B"' }, metadata.protect_names { "a", "B" })
    assert.is_false(metadata.is_valid_name("Select"))
    assert.has_error(function() metadata.protect_name(42) end)
  end)

  it("looks the reserved words up at call time", function()
    names.cql_keywords_reserved.zzz = true
    assert.equal('"zzz"', metadata.protect_name("zzz"))
    names.cql_keywords_reserved.zzz = nil
    assert.equal("zzz", metadata.protect_name("zzz"))
  end)

  it("prints doubles as Java does and quotes literals", function()
    assert.equal("1.0", names.format_double(1))
    assert.equal("0.01", names.format_double(0.01))
    assert.equal("0.1", names.format_double(0.1))
    assert.equal("1.0E-4", names.format_double(0.0001))
    assert.equal("1.5E7", names.format_double(1.5e7))
    assert.equal("123456.5", names.format_double(123456.5))
    assert.equal("-2.5", names.format_double(-2.5))
    assert.equal("'it''s'", metadata.protect_value("it's"))
    assert.equal("{'a': '1', 'b': 'x'}", metadata.protect_value { b = "x", a = "1" })
    assert.equal("3", metadata.protect_value(3))
    assert.equal("true", metadata.protect_value(true))
  end)
end)

-- A keyspace with every kind of object, as system_schema rows.
local function rows()
  local function col(t, name, kind, pos, typ, order)
    return { keyspace_name = "ks", table_name = t, column_name = name, kind = kind, position = pos,
             type = typ, clustering_order = order or "none" }
  end
  local common = { additional_write_policy = "99p", bloom_filter_fp_chance = 0.01,
                   caching = { keys = "ALL", rows_per_partition = "NONE" }, comment = "it's",
                   compaction = { class = "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy",
                                  max_threshold = "32", min_threshold = "4" },
                   compression = { chunk_length_in_kb = "16",
                                   class = "org.apache.cassandra.io.compress.LZ4Compressor" },
                   crc_check_chance = 1, dclocal_read_repair_chance = 0, default_time_to_live = 0,
                   extensions = {}, gc_grace_seconds = 864000, max_index_interval = 2048,
                   memtable_flush_period_in_ms = 0, min_index_interval = 128, read_repair = "BLOCKING",
                   read_repair_chance = 0, speculative_retry = "99p" }
  local function with(_, extra)
    local r = {}
    for k, v in pairs(common) do r[k] = v end
    for k, v in pairs(extra) do r[k] = v end
    return r
  end
  return {
    keyspaces = { { keyspace_name = "ks", durable_writes = false,
                    replication = { class = "org.apache.cassandra.locator.NetworkTopologyStrategy",
                                    dc1 = "3", dc2 = "2" } } },
    tables = {
      with("t", { keyspace_name = "ks", table_name = "Events", flags = { "compound" } }),
      with("t", { keyspace_name = "ks", table_name = "kv", flags = { "compound" }, comment = "" }),
    },
    columns = {
      col("Events", "day", "partition_key", 1, "date"),
      col("Events", "src", "partition_key", 0, "text"),
      col("Events", "at", "clustering", 0, "timestamp", "desc"),
      col("Events", "seq", "clustering", 1, "int", "asc"),
      col("Events", "owner", "static", -1, "frozen<person>"),
      col("Events", "tags", "regular", -1, "set<text>"),
      col("Events", "Body", "regular", -1, "text"),
      col("Events", "select", "regular", -1, "map<text, frozen<list<int>>>"),
      col("Events", "addr", "regular", -1, "address"),
      col("kv", "k", "partition_key", 0, "int"),
      col("kv", "v", "regular", -1, "text"),
      col("by_body", "Body", "partition_key", 0, "text"),
      col("by_body", "src", "clustering", 0, "text", "asc"),
      col("by_body", "day", "clustering", 1, "date", "asc"),
      col("by_body", "at", "clustering", 2, "timestamp", "desc"),
      col("by_body", "seq", "clustering", 3, "int", "asc"),
    },
    indexes = {
      { keyspace_name = "ks", table_name = "Events", index_name = "tags_idx", kind = "COMPOSITES",
        options = { target = "values(tags)" } },
      { keyspace_name = "ks", table_name = "Events", index_name = "body_sai", kind = "CUSTOM",
        options = { target = '"Body"', class_name = "StorageAttachedIndex", case_sensitive = "false" } },
    },
    views = { with("v", { keyspace_name = "ks", view_name = "by_body", base_table_name = "Events",
                          include_all_columns = false,
                          where_clause = '"Body" IS NOT NULL AND src IS NOT NULL AND day IS NOT NULL' }) },
    types = {
      { keyspace_name = "ks", type_name = "person", field_names = { "name", "home" },
        field_types = { "text", "frozen<address>" } },
      { keyspace_name = "ks", type_name = "address", field_names = { "street", "Zip" },
        field_types = { "text", "int" } },
    },
    functions = {
      { keyspace_name = "ks", function_name = "plus", argument_names = { "a", "b" },
        argument_types = { "int", "int" }, return_type = "int", language = "java",
        body = "return a + b;", called_on_null_input = false },
    },
    aggregates = {
      { keyspace_name = "ks", aggregate_name = "total", argument_types = { "int" }, state_func = "plus",
        state_type = "int", initcond = "0", return_type = "int" },
    },
    triggers = {
      { keyspace_name = "ks", table_name = "kv", trigger_name = "audit", options = { class = "org.x.Audit" } },
    },
  }
end

describe("cql.metadata schema model", function()
  local ks
  before_each(function()
    ks = metadata.build_keyspaces(rows(), false, schema.option_defaults_5).ks
  end)

  it("parses keyspaces, tables and columns with keys in order", function()
    assert.is_false(ks.durable_writes)
    assert.equal("NetworkTopologyStrategy", ks.replication_strategy.class)
    assert.same({ dc1 = 3, dc2 = 2 }, ks.replication_strategy.dc_replication_factors)
    local t = ks.tables.Events
    assert.equal("ks", t.keyspace_name)
    local function col_names(list)
      local out = {}
      for i, c in ipairs(list) do out[i] = c.name end
      return out
    end
    assert.same({ "src", "day" }, col_names(t.partition_key))
    assert.same({ "at", "seq" }, col_names(t.clustering_key))
    assert.same({ "src", "day", "at", "seq", "Body", "addr", "owner", "select", "tags" },
                col_names(t:ordered_columns()))
    assert.is_true(t.columns.at.is_reversed)
    assert.is_false(t.columns.seq.is_reversed)
    assert.is_true(t.columns.owner.is_static)
    assert.equal("map<text, frozen<list<int>>>", t.columns.select.cql_type)
    assert.equal("frozen<person>", t.columns.owner.cql_type)
    assert.equal(0.01, t.options.bloom_filter_fp_chance)
    assert.equal(0, t.options.read_repair_chance) -- kept in the model, not exported
    assert.equal("default", t.options.memtable) -- the 5.0 default of a null column
    assert.same({ keys = "ALL", rows_per_partition = "NONE" }, t.options.caching)
    assert.equal("int", assert(ks.tables.kv.columns.k:cqltype()):cql_parameterized_type())
  end)

  it("links indexes, views and triggers, and gets lookups right", function()
    assert.equal("CUSTOM", ks.indexes.body_sai.kind)
    assert.equal("false", ks.tables.Events.indexes.body_sai.index_options.case_sensitive)
    assert.equal(ks.views.by_body, ks.tables.Events.views.by_body)
    assert.equal("org.x.Audit", ks.tables.kv.triggers.audit.options.class)
    assert.truthy(ks.functions["plus(int,int)"])
    assert.truthy(ks.aggregates["total(int)"])
    local md = metadata.new()
    md.keyspaces.ks = ks
    assert.equal(ks, md:get_keyspace("ks"))
    assert.equal(ks.tables.kv, md:get_table("ks", "kv"))
    assert.equal(ks.views.by_body, md:get_table("ks", "by_body"))
    assert.equal(ks.user_types.person, md:get_user_type("ks", "person"))
    assert.is_nil(md:get_table("nope", "kv"))
  end)

  it("exports a table as DESCRIBE does: key columns, statics, single-cell, multi-cell, options", function()
    local want = table.concat({
      'CREATE TABLE ks."Events" (',
      "    src text,",
      "    day date,",
      "    at timestamp,",
      "    seq int,",
      "    owner frozen<person> static,",
      '    "Body" text,',
      "    addr address,", -- a non-frozen UDT is multi-cell: with the collections, last
      '    "select" map<text, frozen<list<int>>>,',
      "    tags set<text>,",
      "    PRIMARY KEY ((src, day), at, seq)",
      ") WITH CLUSTERING ORDER BY (at DESC, seq ASC)",
      "    AND additional_write_policy = '99p'",
      "    AND allow_auto_snapshot = true",
      "    AND bloom_filter_fp_chance = 0.01",
      "    AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}",
      "    AND cdc = false",
      "    AND comment = 'it''s'",
      "    AND compaction = {'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', "
        .. "'max_threshold': '32', 'min_threshold': '4'}",
      "    AND compression = {'chunk_length_in_kb': '16', 'class': 'org.apache.cassandra.io.compress.LZ4Compressor'}",
      "    AND memtable = 'default'",
      "    AND crc_check_chance = 1.0",
      "    AND default_time_to_live = 0",
      "    AND extensions = {}",
      "    AND gc_grace_seconds = 864000",
      "    AND incremental_backups = true",
      "    AND max_index_interval = 2048",
      "    AND memtable_flush_period_in_ms = 0",
      "    AND min_index_interval = 128",
      "    AND read_repair = 'BLOCKING'",
      "    AND speculative_retry = '99p'",
    }, "\n")
    local got = ks.tables.Events:as_cql_query()
    local lines, wl = {}, {}
    for l in (got .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
    for l in (want .. "\n"):gmatch("(.-)\n") do wl[#wl + 1] = l end
    assert.same(wl, lines)
  end)

  it("exports a single-key table with PRIMARY KEY inline, and its trigger", function()
    local got = ks.tables.kv:export_as_string()
    assert.truthy(got:find("CREATE TABLE ks.kv (\n    k int PRIMARY KEY,\n    v text\n) WITH additional_write_policy",
                           1, true), got)
    assert.truthy(got:find("\n\nCREATE TRIGGER audit ON ks.kv USING 'org.x.Audit';$"), got)
  end)

  it("exports indexes, views, types in dependency order, functions and aggregates", function()
    local ix = ks.indexes
    assert.equal("CREATE INDEX tags_idx ON ks.\"Events\" (values(tags))", ix.tags_idx:as_cql_query())
    assert.equal("CREATE CUSTOM INDEX body_sai ON ks.\"Events\" (\"Body\") USING 'StorageAttachedIndex' "
      .. "WITH OPTIONS = {'case_sensitive': 'false'}", ix.body_sai:as_cql_query())
    local v = ks.views.by_body:as_cql_query()
    assert.truthy(v:find('CREATE MATERIALIZED VIEW ks.by_body AS\n    SELECT "Body", src, day, at, seq\n'
      .. '    FROM ks."Events"\n    WHERE "Body" IS NOT NULL AND src IS NOT NULL AND day IS NOT NULL\n'
      .. '    PRIMARY KEY ("Body", src, day, at, seq)\n WITH CLUSTERING ORDER BY (src ASC, day ASC, at DESC, seq ASC)\n'
      .. "    AND additional_write_policy = '99p'", 1, true), v)
    assert.falsy(v:find("default_time_to_live", 1, true)) -- views cannot have one
    local out = ks:export_as_string()
    local order = {}
    for stmt in out:gmatch("CREATE (%u[%u ]*%u) ") do order[#order + 1] = stmt end
    assert.same({ "KEYSPACE", "TYPE", "TYPE", "FUNCTION", "AGGREGATE", "TABLE", "CUSTOM INDEX", "INDEX",
                  "MATERIALIZED VIEW", "TABLE", "TRIGGER" }, order)
    assert.truthy(out:find("^CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', "
      .. "'dc1': '3', 'dc2': '2'}  AND durable_writes = false;"), out)
    local a, p = out:find("CREATE TYPE ks.address", 1, true), out:find("CREATE TYPE ks.person", 1, true)
    assert.truthy(a and p and a < p, "address must come before person, which uses it")
    assert.truthy(out:find('CREATE TYPE ks.address (\n    street text,\n    "Zip" int\n);', 1, true))
    assert.truthy(out:find("CREATE FUNCTION ks.plus(a int, b int)\n    RETURNS NULL ON NULL INPUT\n"
      .. "    RETURNS int\n    LANGUAGE java\n    AS $$return a + b;$$;", 1, true), out)
    assert.truthy(out:find("CREATE AGGREGATE ks.total(int)\n    SFUNC plus\n    STYPE int\n    INITCOND 0;", 1, true))
    assert.falsy(out:find("read_repair_chance", 1, true)) -- rejected by Cassandra 4.0+
  end)

  it("finds user types inside type strings", function()
    assert.same({ "person", "Addr" }, schema.referenced_types('map<frozen<person>, list<frozen<"Addr">>>'))
    assert.same({}, schema.referenced_types("vector<float, 3>"))
    assert.equal("tuple<int, list<text>>", schema.unfreeze("frozen<tuple<int, frozen<list<text>>>>"))
  end)
end)

describe("cql.metadata refreshes", function()
  -- A fake execute serving rows() filtered by the WHERE clause's values.
  local function fake(data, log)
    return function(q, p)
      log[#log + 1] = q
      if data.fail then return nil, "boom" end
      if q:find("FROM system.local", 1, true) then return { { release_version = "5.0.9" } } end
      local tbl = q:match("FROM system_schema%.(%w+)")
      if not tbl then return {} end
      local cols = {}
      for c in q:gmatch("([%w_]+) = %%s") do cols[#cols + 1] = c end
      local out = {}
      for _, r in ipairs(data[tbl] or {}) do
        local ok = true
        for i, c in ipairs(cols) do
          if r[c] ~= p[i] then ok = false end
        end
        if ok then out[#out + 1] = r end
      end
      return out
    end
  end

  it("reads everything, then refreshes and drops single objects", function()
    local data, log = rows(), {}
    local md = metadata.new()
    assert.is_true(md:refresh_schema(fake(data, log)))
    assert.truthy(md.keyspaces.ks.tables.Events)
    -- a table changes on the server
    data.columns[#data.columns + 1] = { keyspace_name = "ks", table_name = "kv", column_name = "w",
                                        kind = "regular", position = -1, type = "blob", clustering_order = "none" }
    log = {}
    assert.is_true(md:handle_schema_change({ change_type = "UPDATED", target = "TABLE", keyspace = "ks",
                                             name = "kv" }, fake(data, log)))
    assert.equal("blob", md.keyspaces.ks.tables.kv.columns.w.cql_type)
    for _, q in ipairs(log) do assert.truthy(q:find("table_name = %s", 1, true) or q:find("view_name", 1, true)) end
    -- the view is a TABLE event too, and stays linked to its base table
    assert.is_true(md:refresh_table("ks", "by_body", fake(data, {})))
    assert.equal(md.keyspaces.ks.views.by_body, md.keyspaces.ks.tables.Events.views.by_body)
    -- a refresh of the base table keeps the view linked
    assert.is_true(md:refresh_table("ks", "Events", fake(data, {})))
    assert.truthy(md.keyspaces.ks.tables.Events.views.by_body)
    -- types, functions, aggregates
    data.types[1].field_names = { "name", "home", "age" }
    data.types[1].field_types = { "text", "frozen<address>", "int" }
    assert.is_true(md:refresh_user_type("ks", "person", fake(data, {})))
    assert.equal(3, #md.keyspaces.ks.user_types.person.field_names)
    data.functions[2] = { keyspace_name = "ks", function_name = "plus", argument_names = { "a" },
                          argument_types = { "bigint" }, return_type = "bigint", language = "java",
                          body = "return a;", called_on_null_input = true }
    assert.is_true(md:refresh_function("ks", "plus", { "bigint" }, fake(data, {})))
    assert.truthy(md.keyspaces.ks.functions["plus(bigint)"])
    assert.truthy(md.keyspaces.ks.functions["plus(int,int)"])
    md:handle_schema_change({ change_type = "DROPPED", target = "FUNCTION", keyspace = "ks", name = "plus",
                              arg_types = { "bigint" } }, fake(data, {}))
    assert.is_nil(md.keyspaces.ks.functions["plus(bigint)"])
    assert.truthy(md.keyspaces.ks.functions["plus(int,int)"])
    md:handle_schema_change({ change_type = "DROPPED", target = "AGGREGATE", keyspace = "ks", name = "total",
                              arg_types = { "int" } }, fake(data, {}))
    assert.is_nil(md.keyspaces.ks.aggregates["total(int)"])
    -- drops
    md:handle_schema_change({ change_type = "DROPPED", target = "TABLE", keyspace = "ks", name = "Events" },
                            fake(data, {}))
    assert.is_nil(md.keyspaces.ks.tables.Events)
    assert.is_nil(md.keyspaces.ks.indexes.tags_idx)
    md:handle_schema_change({ change_type = "DROPPED", target = "TYPE", keyspace = "ks", name = "person" },
                            fake(data, {}))
    assert.is_nil(md:get_user_type("ks", "person"))
    -- a keyspace whose replication changes keeps its tables
    data.keyspaces[1].replication = { class = "SimpleStrategy", replication_factor = "2" }
    assert.is_true(md:handle_schema_change({ change_type = "UPDATED", target = "KEYSPACE", keyspace = "ks" },
                                           fake(data, {})))
    assert.equal(2, md.keyspaces.ks.replication_strategy.replication_factor)
    assert.truthy(md.keyspaces.ks.tables.kv)
    md:handle_schema_change({ change_type = "DROPPED", target = "KEYSPACE", keyspace = "ks" }, fake(data, {}))
    assert.is_nil(md.keyspaces.ks)
  end)

  it("returns the error and keeps the model when a query fails; raises on misuse", function()
    local data = rows()
    local md = metadata.new()
    assert.is_true(md:refresh_schema(fake(data, {})))
    local before = md.keyspaces.ks
    data.fail = true
    local ok, err = md:refresh_keyspace("ks", fake(data, {}))
    assert.is_nil(ok)
    assert.equal("boom", err)
    assert.equal(before, md.keyspaces.ks)
    ok, err = md:refresh_schema(fake(data, {}))
    assert.is_nil(ok)
    assert.equal("boom", err)
    assert.equal(before, md.keyspaces.ks)
    assert.has_error(function() md:refresh_table("ks", 3, fake(data, {})) end)
    assert.has_error(function() md:refresh_schema("not a function") end)
    assert.has_error(function() md:get_replicas("ks", 42) end)
  end)
end)

-- Token map ------------------------------------------------------------------

-- Cassandra 5.0's placement written plainly in Lua (a second, independent
-- implementation to hold the C one to): ring sorted by token; walk from the
-- first token >= the key's.
local function model_replicas(ring, hosts, strategy, token)
  local n = #ring
  local start = 1
  while start <= n and ring[start].token < token do start = start + 1 end
  if start > n then start = 1 end
  local out, taken = {}, {}
  if strategy.kind == "simple" then
    for k = 0, n - 1 do
      if #out >= strategy.replication_factor then break end
      local h = ring[(start - 1 + k) % n + 1].host
      if not taken[h] then
        taken[h] = true
        out[#out + 1] = h
      end
    end
    return out
  end
  local dcs = {}
  for _, h in ipairs(hosts) do
    local d = dcs[h.datacenter] or { nodes = 0, racks = {}, nracks = 0 }
    dcs[h.datacenter] = d
    d.nodes = d.nodes + 1
    if not d.racks[h.rack] then
      d.racks[h.rack] = true
      d.nracks = d.nracks + 1
    end
  end
  local left, repeats, seen_rack = {}, {}, {}
  for dc, rf in pairs(strategy.dc_replication_factors) do
    if dcs[dc] and rf > 0 then
      left[dc] = math.min(rf, dcs[dc].nodes)
      repeats[dc] = rf - dcs[dc].nracks
    end
  end
  for k = 0, n - 1 do
    local h = ring[(start - 1 + k) % n + 1].host
    local dc = h.datacenter
    if (left[dc] or 0) > 0 and not taken[h] then
      local key = dc .. "/" .. h.rack
      local take = false
      if not seen_rack[key] then
        seen_rack[key] = true
        take = true
      elseif repeats[dc] > 0 then
        repeats[dc] = repeats[dc] - 1
        take = true
      end
      if take then
        taken[h] = true
        out[#out + 1] = h
        left[dc] = left[dc] - 1
      end
    end
  end
  return out
end

local function addresses(list)
  local out = {}
  for i, h in ipairs(list) do out[i] = h.address end
  return out
end

describe("cql.metadata token map", function()
  it("parses token strings into int64 exactly", function()
    assert.equal(-9223372036854775807LL - 1, metadata.parse_token("-9223372036854775808"))
    assert.equal(9223372036854775807LL, metadata.parse_token("9223372036854775807"))
    assert.equal(-3074457345618258603LL, metadata.parse_token("-3074457345618258603"))
    assert.is_nil(metadata.parse_token("9223372036854775808"))
    assert.is_nil(metadata.parse_token("-9223372036854775809"))
    assert.is_nil(metadata.parse_token("12a"))
    assert.is_nil(metadata.parse_token(""))
  end)

  it("places SimpleStrategy replicas on a balanced three-node ring", function()
    local hosts = {
      { address = "10.0.0.1", datacenter = "dc1", rack = "r1", tokens = { "-9223372036854775808" } },
      { address = "10.0.0.2", datacenter = "dc1", rack = "r1", tokens = { "-3074457345618258603" } },
      { address = "10.0.0.3", datacenter = "dc1", rack = "r1", tokens = { "3074457345618258602" } },
    }
    local md = metadata.new()
    md.keyspaces.s2 = metadata.KeyspaceMetadata.new("s2", true, { class = "SimpleStrategy", replication_factor = "2" })
    md.keyspaces.loc = metadata.KeyspaceMetadata.new("loc", true,
                                                     { class = "org.apache.cassandra.locator.LocalStrategy" })
    assert.same({}, md:get_replicas("s2", "k")) -- no token map yet
    assert.is_true(md:rebuild_token_map("org.apache.cassandra.dht.Murmur3Partitioner", hosts))
    -- token("123") = -7468325962851647638: in (-2^63, -3074457345618258603] -> node 2, then 3
    assert.equal(-7468325962851647638LL, murmur3.murmur3("123"))
    local r = md:get_replicas("s2", "123")
    assert.same({ "10.0.0.2", "10.0.0.3" }, addresses(r))
    assert.equal(hosts[2], r[1]) -- the very host objects
    -- past the last token wraps to the first
    assert.same({ "10.0.0.1", "10.0.0.2" }, addresses(md.token_map:get_replicas_for_token("s2", "4000000000000000000")))
    local tm = md.token_map
    assert.same({ "10.0.0.1", "10.0.0.2" }, addresses(tm:get_replicas_for_token("s2", "-9223372036854775808")))
    assert.same({}, md:get_replicas("loc", "123"))
    assert.same({}, md:get_replicas("unknown", "123"))
    -- a keyspace created later gets its replicas on refresh
    md.keyspaces.s1 = metadata.KeyspaceMetadata.new("s1", true, { class = "SimpleStrategy", replication_factor = "1" })
    md.token_map:rebuild_keyspace(md.keyspaces.s1)
    assert.same({ "10.0.0.2" }, addresses(md:get_replicas("s1", "123")))
    -- another partitioner: no placement
    assert.is_true(md:rebuild_token_map("org.apache.cassandra.dht.RandomPartitioner", hosts))
    assert.same({}, md:get_replicas("s2", "123"))
  end)

  it("agrees with the Lua model for SimpleStrategy and rack-aware NTS on random vnode rings", function()
    math.randomseed(20261201)
    local function rand_token()
      local u = (0ULL + math.random(0, 2 ^ 32 - 1)) * 4294967296ULL + math.random(0, 2 ^ 32 - 1)
      return ffi.cast("int64_t", u)
    end
    local strategies = {
      { class = "SimpleStrategy", replication_factor = "3" },
      { class = "NetworkTopologyStrategy", dc1 = "3", dc2 = "2" },
      { class = "NetworkTopologyStrategy", dc1 = "2", dc2 = "4", dc3 = "1" },
      { class = "NetworkTopologyStrategy", dc2 = "1" },
    }
    for round = 1, 20 do
      local hosts, ring = {}, {}
      for i = 1, 9 do
        local h = { address = "10.0." .. round .. "." .. i, datacenter = "dc" .. math.random(1, 2),
                    rack = "r" .. math.random(1, 3), tokens = {} }
        for _ = 1, 8 do
          local t = rand_token()
          h.tokens[#h.tokens + 1] = tostring(t):gsub("LL$", "")
          ring[#ring + 1] = { token = t, host = h }
        end
        hosts[i] = h
      end
      table.sort(ring, function(a, b) return a.token < b.token end)
      local md = metadata.new()
      for i, repl in ipairs(strategies) do
        md.keyspaces["k" .. i] = metadata.KeyspaceMetadata.new("k" .. i, true, repl)
      end
      assert.is_true(md:rebuild_token_map("org.apache.cassandra.dht.Murmur3Partitioner", hosts))
      for i = 1, #strategies do
        local strat = md.keyspaces["k" .. i].replication_strategy
        for key = 1, 50 do
          local rk = "key" .. round .. ":" .. key
          local want = model_replicas(ring, hosts, strat, murmur3.murmur3(rk))
          assert.same(addresses(want), addresses(md:get_replicas("k" .. i, rk)),
                      "round " .. round .. ", keyspace k" .. i .. ", key " .. rk)
        end
      end
    end
  end)

  it("spreads NTS replicas over racks before repeating one", function()
    -- dc1: a (r1, token 0), b (r1, 10), c (r2, 20); rf 2 must take a then c, skipping b
    local hosts = {
      { address = "a", datacenter = "dc1", rack = "r1", tokens = { "0" } },
      { address = "b", datacenter = "dc1", rack = "r1", tokens = { "10" } },
      { address = "c", datacenter = "dc1", rack = "r2", tokens = { "20" } },
      { address = "d", datacenter = "dc2", rack = "r1", tokens = { "15" } },
    }
    local md = metadata.new()
    md.keyspaces.n = metadata.KeyspaceMetadata.new("n", true,
                                                   { class = "NetworkTopologyStrategy", dc1 = "2", dc2 = "1" })
    md.keyspaces.n3 = metadata.KeyspaceMetadata.new("n3", true, { class = "NetworkTopologyStrategy", dc1 = "3" })
    assert.is_true(md:rebuild_token_map(nil, hosts))
    assert.same({ "a", "d", "c" }, addresses(md.token_map:get_replicas_for_token("n", "-5")))
    -- rf 3 over 2 racks: one repeat allowed, taken by the first host met on a used rack
    assert.same({ "a", "b", "c" }, addresses(md.token_map:get_replicas_for_token("n3", "-5")))
  end)
end)
