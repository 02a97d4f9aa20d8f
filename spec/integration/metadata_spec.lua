-- cql.metadata against the real server: a keyspace using every schema
-- feature is read from system_schema, exported, compared with the server's
-- own DESCRIBE, dropped, recreated from the export and compared again;
-- incremental refreshes follow DDL.
--
-- Normalisation against DESCRIBE: none inside a statement (the text must be
-- identical); only the order of statements is ignored, since DESCRIBE lists
-- tables in its own order and indexes after all tables while the export
-- puts each table's indexes and views right after it.
--
-- User-defined functions and aggregates need a node with UDFs enabled: the
-- spec uses CQLUA_TEST_UDF_HOSTS when set (e.g. a node started with
-- `scripts/cassandra --cluster meta1 up --udf --prefix 127.0.3.`), else the
-- integration node when it accepts CREATE FUNCTION, else it says why that
-- part is skipped.
local testenv = require "testenv"
local Cluster = require("cql.cluster").Cluster
local metadata = require "cql.metadata"

local hosts = testenv.hosts()
local udf_hosts = testenv.split(os.getenv("CQLUA_TEST_UDF_HOSTS"))

local function connect(contact_points)
  local cluster = Cluster { contact_points = contact_points }
  local session = assert(cluster:connect())
  local function execute(q, p)
    local rs, err = session:execute(q, p)
    if not rs then return nil, err end
    return rs:all()
  end
  return cluster, session, execute
end

local function run(session, cql)
  local rs, err = session:execute(cql)
  assert(rs, tostring(err) .. "\n" .. cql)
  return rs
end

-- Splits an export into statements (none of ours has a blank line inside).
local function statements(text)
  local out = {}
  for stmt in (text .. "\n\n"):gmatch("(.-;)\n\n") do out[#out + 1] = stmt end
  return out
end

local function describe_keyspace(execute, ks)
  local rows = assert(execute("DESCRIBE KEYSPACE " .. ks))
  local out = {}
  for i, r in ipairs(rows) do out[i] = r.create_statement end
  return out
end

local function sorted(list)
  local c = {}
  for i, v in ipairs(list) do c[i] = v end
  table.sort(c)
  return c
end

-- The schema: names that need quoting, nested UDTs, frozen and nested
-- collections, tuples, vectors, statics, mixed clustering order, counters,
-- non-default options, secondary and SAI indexes, materialized views.
local SCHEMA = {
  [[CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}
      AND durable_writes = false]],
  [[CREATE TYPE %s.address (street text, "Zip" int, tags frozen<set<text>>)]],
  [[CREATE TYPE %s."Person" (name text, home frozen<address>, others list<frozen<address>>,
      scores map<text, frozen<list<double>>>)]],
  [[CREATE TABLE %s."Events" (src text, day date, "At" timestamp, seq int, owner frozen<"Person"> static,
      note text static, body text, tags set<text>, attrs map<text, frozen<map<int, text>>>,
      hist list<frozen<tuple<int, text, frozen<list<int>>>>>, who address, pos tuple<double, double>,
      emb vector<float, 4>, fl frozen<list<int>>, "select" int, replace int, unset int,
      blob_col blob, d decimal, v varint, u uuid, tu timeuuid,
      i inet, dur duration, ti tinyint, si smallint, t time, ascii_col ascii, b boolean, f float,
      PRIMARY KEY ((src, day), "At", seq))
    WITH CLUSTERING ORDER BY ("At" DESC, seq ASC) AND comment = 'it''s "quoted"'
      AND compaction = {'class': 'LeveledCompactionStrategy', 'sstable_size_in_mb': '64'}
      AND caching = {'keys': 'NONE', 'rows_per_partition': '10'} AND gc_grace_seconds = 3600
      AND default_time_to_live = 86400 AND bloom_filter_fp_chance = 0.05 AND speculative_retry = '50ms'
      AND crc_check_chance = 0.5 AND compression = {'class': 'ZstdCompressor', 'compression_level': '3'}]],
  [[CREATE INDEX tags_idx ON %s."Events" (values(tags))]],
  [[CREATE INDEX ON %s."Events" (keys(attrs))]],
  [[CREATE INDEX attrs_entries ON %s."Events" (entries(attrs))]],
  [[CREATE INDEX fl_full ON %s."Events" (full(fl))]],
  [[CREATE CUSTOM INDEX body_sai ON %s."Events" (body) USING 'StorageAttachedIndex'
      WITH OPTIONS = {'case_sensitive': 'false', 'normalize': 'true', 'ascii': 'true'}]],
  [[CREATE CUSTOM INDEX emb_sai ON %s."Events" (emb) USING 'StorageAttachedIndex'
      WITH OPTIONS = {'similarity_function': 'dot_product'}]],
  [[CREATE CUSTOM INDEX sel_sai ON %s."Events" ("select") USING 'StorageAttachedIndex']],
  [[CREATE TABLE %s.counts (k int PRIMARY KEY, hits counter, misses counter) WITH comment = 'counters']],
  [[CREATE TABLE %s.base (k int, c1 int, c2 text, v text, w int, PRIMARY KEY (k, c1, c2))
      WITH CLUSTERING ORDER BY (c1 DESC, c2 ASC)]],
  [[CREATE MATERIALIZED VIEW %s.by_v AS SELECT k, c1, c2, v FROM %s.base
      WHERE v IS NOT NULL AND k IS NOT NULL AND c1 IS NOT NULL AND c2 IS NOT NULL
      PRIMARY KEY (v, k, c1, c2) WITH CLUSTERING ORDER BY (k ASC, c1 DESC, c2 ASC) AND comment = 'view']],
  [[CREATE MATERIALIZED VIEW %s."All" AS SELECT * FROM %s.base
      WHERE w IS NOT NULL AND k IS NOT NULL AND c1 IS NOT NULL AND c2 IS NOT NULL
      PRIMARY KEY ((w, k), c1, c2)]],
  [[CREATE TABLE %s.single (k frozen<address> PRIMARY KEY)]],
}

local UDF_SCHEMA = {
  [[CREATE FUNCTION %s.plus(a int, "B" int) RETURNS NULL ON NULL INPUT RETURNS int LANGUAGE java
      AS 'return a + B;']],
  [[CREATE FUNCTION %s.avg_state(state tuple<int, bigint>, val int) CALLED ON NULL INPUT
      RETURNS tuple<int, bigint> LANGUAGE java
      AS $$ if (val != null) { state.setInt(0, state.getInt(0) + 1); state.setLong(1, state.getLong(1) + val); }
      return state; $$]],
  [[CREATE FUNCTION %s.avg_final(state tuple<int, bigint>) CALLED ON NULL INPUT RETURNS double LANGUAGE java
      AS 'return state.getInt(0) == 0 ? null : Double.valueOf(state.getLong(1)) / state.getInt(0);']],
  [[CREATE FUNCTION %s.street_of(a address) RETURNS NULL ON NULL INPUT RETURNS text LANGUAGE java
      AS 'return a.getString("street");']],
  [[CREATE FUNCTION %s."Plus"(a bigint) RETURNS NULL ON NULL INPUT RETURNS bigint LANGUAGE java
      AS 'return a;']],
  [[CREATE AGGREGATE %s.average(int) SFUNC avg_state STYPE tuple<int, bigint> FINALFUNC avg_final
      INITCOND (0, 0)]],
  [[CREATE AGGREGATE %s.total(int) SFUNC plus STYPE int INITCOND 0]],
}

local function create(session, ks, list)
  for _, stmt in ipairs(list) do
    run(session, (stmt:gsub("%%s", ks)))
  end
end

-- Export, compare with DESCRIBE, drop, recreate from the export, compare.
local function round_trip(session, execute, ks)
  local md = metadata.new()
  assert(md:refresh_schema(execute))
  local export = md.keyspaces[ks]:export_as_string()
  local exported = statements(export)
  local described = describe_keyspace(execute, ks)
  assert.same(sorted(described), sorted(exported))
  run(session, "DROP KEYSPACE " .. ks)
  md:remove_keyspace(ks)
  assert.is_nil(md.keyspaces[ks])
  for _, stmt in ipairs(exported) do run(session, stmt) end
  assert(md:refresh_keyspace(ks, execute))
  assert.equal(export, md.keyspaces[ks]:export_as_string())
  assert.same(sorted(described), sorted(describe_keyspace(execute, ks)))
  return md, exported
end

describe("cql.metadata on a real server", function()
  local cluster, session, execute
  local KS = "meta_rt"
  setup(function()
    cluster, session, execute = connect(hosts)
    run(session, "DROP KEYSPACE IF EXISTS " .. KS)
    create(session, KS, SCHEMA)
  end)
  teardown(function()
    if session then session:execute("DROP KEYSPACE IF EXISTS " .. KS) end
    if cluster then cluster:shutdown() end
  end)

  it("models the keyspace: keys in order, statics, types, indexes, views, options", function()
    local md = metadata.new()
    assert(md:refresh_schema(execute))
    local ks = md:get_keyspace(KS)
    assert.is_false(ks.durable_writes)
    assert.equal(1, ks.replication_strategy.replication_factor)
    local t = md:get_table(KS, "Events")
    local names = {}
    for i, c in ipairs(t.primary_key) do names[i] = c.name end
    assert.same({ "src", "day", "At", "seq" }, names)
    assert.is_true(t.columns.At.is_reversed)
    assert.is_true(t.columns.owner.is_static)
    assert.equal('frozen<"Person">', t.columns.owner.cql_type)
    assert.equal("map<text, frozen<map<int, text>>>", t.columns.attrs.cql_type)
    assert.equal("vector<float, 4>", t.columns.emb.cql_type)
    assert.equal(3600, t.options.gc_grace_seconds)
    assert.equal(0.05, t.options.bloom_filter_fp_chance)
    assert.equal("org.apache.cassandra.db.compaction.LeveledCompactionStrategy", t.options.compaction.class)
    assert.equal("CUSTOM", t.indexes.body_sai.kind)
    assert.equal("true", t.indexes.body_sai.index_options.normalize)
    assert.equal("StorageAttachedIndex", t.indexes.emb_sai.index_options.class_name)
    assert.equal("keys(attrs)", t.indexes.Events_attrs_idx.index_options.target)
    assert.equal(ks.views.by_v, md:get_table(KS, "base").views.by_v)
    assert.is_true(ks.views.All.include_all_columns)
    assert.same({ "name", "home", "others", "scores" }, md:get_user_type(KS, "Person").field_names)
    assert.equal("int", assert(md:get_table(KS, "counts").columns.k:cqltype()):cql_parameterized_type())
    assert.truthy(md.keyspaces.system_schema)
    assert.truthy(md.keyspaces.system_views and md.keyspaces.system_views.virtual)
  end)

  it("exports CQL identical to DESCRIBE that recreates the keyspace", function()
    local _, exported = round_trip(session, execute, KS)
    assert.is_true(#exported >= 14, "expected every object in the export")
  end)

  it("matches DESCRIBE for the system keyspaces too", function()
    local md = metadata.new()
    assert(md:refresh_schema(execute))
    for _, name in ipairs { "system_auth", "system_distributed", "system_traces" } do
      assert.same(sorted(describe_keyspace(execute, name)), sorted(statements(md.keyspaces[name]:export_as_string())),
                  name)
    end
  end)

  it("follows DDL with incremental refreshes", function()
    local md = metadata.new()
    assert(md:refresh_schema(execute))
    local before_ks = md.keyspaces.system_schema
    run(session, "ALTER TABLE " .. KS .. ".base ADD extra list<int>")
    assert(md:refresh_table(KS, "base", execute))
    assert.equal("list<int>", md:get_table(KS, "base").columns.extra.cql_type)
    assert.truthy(md:get_table(KS, "base").views.by_v) -- views stay linked
    run(session, "DROP INDEX " .. KS .. ".tags_idx")
    assert(md:refresh_table(KS, "Events", execute))
    assert.is_nil(md:get_table(KS, "Events").indexes.tags_idx)
    assert.is_nil(md.keyspaces[KS].indexes.tags_idx)
    run(session, "CREATE TYPE " .. KS .. ".later (x int)")
    assert(md:handle_schema_change({ change_type = "CREATED", target = "TYPE", keyspace = KS, name = "later" },
                                   execute))
    assert.same({ "x" }, md:get_user_type(KS, "later").field_names)
    run(session, "DROP MATERIALIZED VIEW " .. KS .. ".by_v")
    assert(md:refresh_table(KS, "by_v", execute))
    assert.is_nil(md:get_table(KS, "by_v"))
    assert.is_nil(md:get_table(KS, "base").views.by_v)
    run(session, "ALTER KEYSPACE " .. KS .. " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2}")
    assert(md:handle_schema_change({ change_type = "UPDATED", target = "KEYSPACE", keyspace = KS }, execute))
    assert.equal(2, md.keyspaces[KS].replication_strategy.replication_factor)
    assert.truthy(md:get_table(KS, "Events"))
    run(session, "DROP TABLE " .. KS .. ".counts")
    assert(md:refresh_table(KS, "counts", execute))
    assert.is_nil(md:get_table(KS, "counts"))
    assert.equal(before_ks, md.keyspaces.system_schema) -- untouched
    run(session, "DROP KEYSPACE " .. KS)
    assert(md:refresh_keyspace(KS, execute))
    assert.is_nil(md.keyspaces[KS])
    -- put it back for the other tests' teardown
    create(session, KS, SCHEMA)
  end)
end)

describe("cql.metadata with user-defined functions and aggregates", function()
  local cluster, session, execute
  local KS = "meta_udf"
  local skip
  setup(function()
    local where = #udf_hosts > 0 and udf_hosts or hosts
    cluster, session, execute = connect(where)
    session:execute("DROP KEYSPACE IF EXISTS " .. KS)
    create(session, KS, { SCHEMA[1], SCHEMA[2] })
    local ok, err = session:execute((UDF_SCHEMA[1]:gsub("%%s", KS)))
    if not ok then
      skip = "skipped: user-defined functions are disabled on " .. table.concat(where, ",") .. " ("
        .. tostring(err) .. "); set CQLUA_TEST_UDF_HOSTS to a node started with"
        .. " `scripts/cassandra --cluster NAME up --udf --prefix 127.0.N.`"
      return
    end
    local rest = {}
    for i = 2, #UDF_SCHEMA do rest[#rest + 1] = UDF_SCHEMA[i] end
    create(session, KS, rest)
    run(session, "CREATE TABLE " .. KS .. ".t (k int PRIMARY KEY, v int)")
  end)
  teardown(function()
    if session then session:execute("DROP KEYSPACE IF EXISTS " .. KS) end
    if cluster then cluster:shutdown() end
  end)

  it("models, exports and recreates functions and aggregates", function()
    if skip then
      print("\n" .. skip)
      pending(skip)
      return
    end
    local md = round_trip(session, execute, KS)
    local ks = md.keyspaces[KS]
    local f = ks.functions["plus(int,int)"]
    assert.same({ "a", "B" }, f.argument_names)
    assert.is_false(f.called_on_null_input)
    assert.equal("java", f.language)
    local a = ks.aggregates["average(int)"]
    assert.equal("avg_state", a.state_func)
    assert.equal("avg_final", a.final_func)
    assert.equal("(0, 0)", a.initial_condition)
    assert.truthy(ks.functions["Plus(bigint)"])
    -- the aggregate works after the round trip
    run(session, "INSERT INTO " .. KS .. ".t (k, v) VALUES (1, 4)")
    run(session, "INSERT INTO " .. KS .. ".t (k, v) VALUES (2, 6)")
    local row = run(session, "SELECT " .. KS .. ".average(v) AS a FROM " .. KS .. ".t"):one()
    assert.equal(5, row.a)
    -- incremental: a new overload, then a drop of one overload
    run(session, "CREATE FUNCTION " .. KS .. ".plus(a bigint, b bigint) RETURNS NULL ON NULL INPUT"
      .. " RETURNS bigint LANGUAGE java AS 'return a + b;'")
    assert(md:handle_schema_change({ change_type = "CREATED", target = "FUNCTION", keyspace = KS, name = "plus",
                                     arg_types = { "bigint", "bigint" } }, execute))
    assert.truthy(ks.functions["plus(bigint,bigint)"])
    assert.truthy(ks.functions["plus(int,int)"])
    run(session, "DROP FUNCTION " .. KS .. ".plus(bigint, bigint)")
    assert(md:handle_schema_change({ change_type = "DROPPED", target = "FUNCTION", keyspace = KS, name = "plus",
                                     arg_types = { "bigint", "bigint" } }, execute))
    assert.is_nil(ks.functions["plus(bigint,bigint)"])
    assert.truthy(ks.functions["plus(int,int)"])
    run(session, "DROP AGGREGATE " .. KS .. ".total")
    assert(md:refresh_aggregate(KS, "total", nil, execute))
    assert.is_nil(ks.aggregates["total(int)"])
  end)
end)
