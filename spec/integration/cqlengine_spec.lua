-- The ORM against the real server (keyspace cqlengine_test, created and
-- dropped here): every result is checked against hand-written CQL run on
-- the same session.
local testenv = require "testenv"
local cqlengine = require "cql.cqlengine"
local connection = require "cql.cqlengine.connection"
local columns = require "cql.cqlengine.columns"
local models = require "cql.cqlengine.models"
local query = require "cql.cqlengine.query"
local management = require "cql.cqlengine.management"
local usertype = require "cql.cqlengine.usertype"
local util = require "cql.util"
local collections = require "cql.util.collections"
local runtime = require "cql.runtime"

local KS = "cqlengine_test"

-- Plain Lua values for comparisons: lists without n, sets as sorted
-- arrays, maps as tables, int64 as strings, value objects as text.
local function plain(v)
  if collections.is_sortedset(v) then return plain(v:items()) end
  if collections.is_orderedmap(v) then
    local out = {}
    for k, x in v:pairs() do out[tostring(plain(k))] = plain(x) end
    return out
  end
  if type(v) == "cdata" then return tostring(v) end
  if type(v) == "table" then
    local mt = getmetatable(v)
    local is_udt = mt and type(mt.__index) == "table" and mt.__index.type_name ~= nil
    if mt and mt.__tostring and not is_udt then return tostring(v) end
    local out = {}
    for k, x in pairs(v) do if k ~= "n" then out[k] = plain(x) end end
    return out
  end
  return v
end

describe("cqlengine against Cassandra", function()
  local session

  local function exec(cql, params)
    local rs, err = session:execute(cql, params)
    assert(rs, ("%s\n  %s"):format(tostring(err), cql))
    return rs
  end

  local function rows(cql, params)
    return assert(exec(cql, params):all())
  end

  -- (k, c) keys of rows, as "k:c" strings, in order.
  local function keys(list)
    local out = {}
    for i, r in ipairs(list) do out[i] = tostring(r.k) .. ":" .. tostring(r.c) end
    return out
  end

  local function sorted(list)
    table.sort(list)
    return list
  end

  setup(function()
    assert(connection.setup(testenv.hosts(), KS))
    session = assert(connection.get_session())
    assert(management.drop_keyspace(KS))
    assert(management.create_keyspace_simple(KS, 1))
  end)

  teardown(function()
    if session then
      management.drop_keyspace(KS)
      connection.unregister_connection(connection.DEFAULT_CONNECTION)
    end
  end)

  describe("column types", function()
    local Addr = usertype.UserType("RtAddr", { { "street", columns.Text {} }, { "zip", columns.Integer {} } })
    local cases = {
      { "Text", columns.Text {}, "h\195\169llo" },
      { "Ascii", columns.Ascii {}, "plain" },
      { "Integer", columns.Integer {}, -2147483648 },
      { "BigInt", columns.BigInt {}, 9007199254740993LL },
      { "VarInt", columns.VarInt {}, util.Varint("-123456789012345678901234567890") },
      { "SmallInt", columns.SmallInt {}, -300 },
      { "TinyInt", columns.TinyInt {}, 127 },
      { "Float", columns.Float {}, 1.5 },
      { "Double", columns.Double {}, 3.141592653589793 },
      { "Decimal", columns.Decimal {}, util.Decimal("-12.3450") },
      { "Boolean", columns.Boolean {}, false },
      { "Blob", columns.Blob {}, "\0\1\255" },
      { "Date", columns.Date {}, util.Date("2024-02-29") },
      { "Time", columns.Time {}, util.Time("12:34:56.789012345") },
      { "DateTime", columns.DateTime {}, 1700000000123LL },
      { "Duration", columns.Duration {}, util.Duration(1, 2, 3000) },
      { "UUID", columns.UUID {}, util.uuid4() },
      { "TimeUUID", columns.TimeUUID {}, util.uuid_from_time(1700000000) },
      { "Inet", columns.Inet {}, "2001:db8::1" },
      { "List", columns.List { columns.Integer }, { 3, 1, 2 } },
      { "Set", columns.Set { columns.Text }, util.SortedSet { "b", "a" } },
      { "Map", columns.Map { columns.Text, columns.List { columns.Integer } }, { a = { 1 }, b = { 2, 3 } } },
      { "Tuple", columns.Tuple { columns.Integer, columns.Text, columns.Boolean }, { 1, "x", true } },
      { "UserDefinedType", columns.UserDefinedType { Addr }, Addr { street = "Main", zip = 12345 } },
    }
    for _, case in ipairs(cases) do
      it(case[1] .. " round-trips through save and get", function()
        local M = models.Model("Rt" .. case[1], {
          { "k", columns.Integer { primary_key = true } },
          { "v", case[2] },
        })
        assert(management.sync_table(M))
        assert(M:create { k = 1, v = case[3] })
        assert(M:create { k = 2 })
        local got = assert(M.objects:get { k = 1 })
        local expected = plain(case[3])
        assert.same(expected, plain(got.v))
        -- the server holds what the ORM read
        local raw = rows("SELECT v FROM " .. KS .. "." .. M.__table_name .. " WHERE k = 1")
        assert.same(expected, plain(raw[1].v))
        assert.is_nil(assert(M.objects:get { k = 2 }).v)
        if case[1] == "UserDefinedType" then assert.equal(Addr.instance_mt, getmetatable(got.v)) end
      end)
    end
  end)

  describe("query sets", function()
    local Ops
    setup(function()
      Ops = models.Model("Ops", {
        { "k", columns.Integer { partition_key = true } },
        { "c", columns.Integer { primary_key = true } },
        { "v", columns.Text {} },
        { "s", columns.Set { columns.Text } },
        { "m", columns.Map { columns.Text, columns.Integer } },
      })
      assert(management.sync_table(Ops))
      for k = 1, 4 do
        for c = 1, 5 do
          assert(Ops:create { k = k, c = c, v = ("v%d%d"):format(k, c), s = { "t" .. (c % 3) },
                              m = { ["a" .. (k % 2)] = c } })
        end
      end
    end)

    -- Each case: the query set, the equivalent CQL, whether order matters.
    local cases = {
      { function(O) return O.objects:filter { k = 2 } end, "WHERE k = 2" },
      { function(O) return O.objects:filter { k__eq = 3 } end, "WHERE k = 3" },
      { function(O) return O.objects:filter { k__in = { 1, 3 } } end, "WHERE k IN (1, 3)" },
      { function(O) return O.objects:filter { k = 1, c__gt = 2 } end, "WHERE k = 1 AND c > 2" },
      { function(O) return O.objects:filter { k = 1, c__gte = 2 } end, "WHERE k = 1 AND c >= 2" },
      { function(O) return O.objects:filter { k = 4, c__lt = 3 } end, "WHERE k = 4 AND c < 3" },
      { function(O) return O.objects:filter { k = 4, c__lte = 3 } end, "WHERE k = 4 AND c <= 3" },
      { function(O) return O.objects:filter { k = 2, c__gt = 1, c__lt = 5 } end, "WHERE k = 2 AND c > 1 AND c < 5" },
      { function(O) return O.objects:filter { c__in = { 1, 5 }, k = 2 } end, "WHERE k = 2 AND c IN (1, 5)" },
      { function(O) return O.objects:filter { s__contains = "t1" }:allow_filtering() end,
        "WHERE s CONTAINS 't1' ALLOW FILTERING" },
      { function(O) return O.objects:filter { m__contains_key = "a0" }:allow_filtering() end,
        "WHERE m CONTAINS KEY 'a0' ALLOW FILTERING" },
      { function(O) return O.objects:filter { m__contains = 4 }:allow_filtering() end,
        "WHERE m CONTAINS 4 ALLOW FILTERING" },
      { function(O) return O.objects:filter { v = "v23" }:allow_filtering() end, "WHERE v = 'v23' ALLOW FILTERING" },
      { function(O) return O.objects:filter { pk__token__gt = query.Token(2) } end, "WHERE token(k) > token(2)" },
      { function(O) return O.objects:filter { pk__token__lte = query.Token(3) } end, "WHERE token(k) <= token(3)" },
      { function(O) return O.objects:filter { pk__token__gte = 0 } end, "WHERE token(k) >= 0" },
      { function(O) return O.objects:filter { k = 3 }:order_by("-c") end, "WHERE k = 3 ORDER BY c DESC", true },
      { function(O) return O.objects:filter { k = 3 }:order_by("c") end, "WHERE k = 3 ORDER BY c ASC", true },
      { function(O) return O.objects:filter { k = 1 }:limit(2) end, "WHERE k = 1 LIMIT 2", true },
      { function(O) return O.objects end, "" },
    }
    for i, case in ipairs(cases) do
      it(("operator case %d returns the rows of '%s'"):format(i, case[2]), function()
        local qs = case[1](Ops)
        local got = keys(assert(qs:all()))
        local want = keys(rows("SELECT k, c FROM " .. KS .. ".ops " .. case[2]))
        assert.is_true(#want > 0, "the case must select something")
        if case[3] then
          assert.same(want, got)
        else
          assert.same(sorted(want), sorted(got))
        end
      end)
    end

    it("count, first, get, only, defer and values_list agree with CQL", function()
      local n = tonumber(rows("SELECT count(*) FROM " .. KS .. ".ops WHERE k = 2")[1].count)
      assert.equal(5, n)
      assert.equal(n, Ops.objects:filter { k = 2 }:count())
      assert.equal(20, Ops.objects:count())
      local f = assert(Ops.objects:filter { k = 2 }:order_by("-c"):first())
      assert.equal(5, f.c)
      local g = assert(Ops.objects:get { k = 3, c = 4 })
      assert.equal("v34", g.v)
      local none, err = Ops.objects:get { k = 3, c = 40 }
      assert.is_nil(none)
      assert.is_true(err:is_a(Ops.DoesNotExist))
      none, err = Ops.objects:get { k = 3 }
      assert.is_nil(none)
      assert.is_true(err:is_a(Ops.MultipleObjectsReturned))
      local o = assert(Ops.objects:filter { k = 1, c = 1 }:only { "k", "c", "v" }:first())
      assert.equal("v11", o.v)
      assert.is_nil(o.s)
      local d = assert(Ops.objects:filter { k = 1, c = 1 }:defer { "v" }:first())
      assert.is_nil(d.v)
      assert.same({ "t1" }, plain(d.s))
      assert.same({ "v21", "v22", "v23", "v24", "v25" },
                  assert(Ops.objects:filter { k = 2 }:values_list("v", { flat = true }):all()))
      assert.same({ { 2, "v21" }, { 2, "v22" } },
                  plain(assert(Ops.objects:filter { k = 2 }:limit(2):values_list("k", "v"):all())))
    end)

    it("updates and deletes through query sets, read back with CQL", function()
      assert(Ops.objects:filter { k = 4, c = 1 }:update { v = "new", s__add = { "z" }, m__update = { q = 9 } })
      local r = rows("SELECT v, s, m FROM " .. KS .. ".ops WHERE k = 4 AND c = 1")[1]
      assert.equal("new", r.v)
      assert.same({ "t1", "z" }, plain(r.s))
      assert.same({ a0 = 1, q = 9 }, plain(r.m))
      assert(Ops.objects:filter { k = 4, c = 1 }:update { s__remove = { "t1" }, m__remove = { "a0" } })
      r = rows("SELECT v, s, m FROM " .. KS .. ".ops WHERE k = 4 AND c = 1")[1]
      assert.same({ "z" }, plain(r.s))
      assert.same({ q = 9 }, plain(r.m))
      assert(Ops.objects:filter { k = 4, c__in = { 4, 5 } }:delete())
      assert.same({ "4:1", "4:2", "4:3" }, keys(rows("SELECT k, c FROM " .. KS .. ".ops WHERE k = 4")))
    end)

    it("sets columns to null with cqlengine.NULL (Lua tables cannot hold nil)", function()
      assert(Ops.objects:filter { k = 4, c = 2 }:update { v = cqlengine.NULL })
      local r = rows("SELECT v FROM " .. KS .. ".ops WHERE k = 4 AND c = 2")[1]
      assert.is_nil(r.v)
      local o = assert(Ops.objects:get { k = 4, c = 3 })
      assert.is_not_nil(o.v)
      assert(o:update { v = cqlengine.NULL, s = { "kept" } })
      assert.is_nil(o.v)
      r = rows("SELECT v, s FROM " .. KS .. ".ops WHERE k = 4 AND c = 3")[1]
      assert.is_nil(r.v)
      assert.same({ "kept" }, plain(r.s))
      local ok, err = pcall(function() Ops.objects:filter { k = 4, c = 3 }:update { s__add = cqlengine.NULL } end)
      assert.is_false(ok)
      assert.is_true(err:is_a(cqlengine.QueryException))
      assert.equal("Ops: NULL only sets a column, not 's__add' of a set column", err.message)
    end)
  end)

  it("iterates 10,000 instances across pages of 1000", function()
    local Many = models.Model("Many", {
      { "k", columns.Integer { partition_key = true } },
      { "c", columns.Integer { primary_key = true } },
    })
    assert(management.sync_table(Many))
    local ps = assert(session:prepare("INSERT INTO " .. KS .. ".many (k, c) VALUES (?, ?)"))
    local pending = {}
    for i = 0, 9999 do
      pending[#pending + 1] = session:execute_async(ps, { i % 7, i })
      if #pending == 500 or i == 9999 then
        for _, f in ipairs(pending) do assert(f:result()) end
        pending = {}
      end
    end
    -- watch the ResultSet the query set gets: its pages and their size
    local seen_rs, pages = nil, 1
    local real_execute = session.execute
    session.execute = function(s, stmt, values, opts)
      local rs, err = real_execute(s, stmt, values, opts)
      if rs and opts and opts.fetch_size then
        seen_rs = rs
        assert.equal(1000, #rs.current_rows)
        local fetch = rs.fetch_next_page
        rs.fetch_next_page = function(self)
          pages = pages + 1
          return fetch(self)
        end
      end
      return rs, err
    end
    local seen, n = {}, 0
    local ok, err = pcall(function()
      for m, e in Many.objects:fetch_size(1000):iter() do
        assert(m, e)
        assert.is_nil(seen[m.c])
        seen[m.c] = true
        n = n + 1
      end
    end)
    session.execute = nil
    assert(ok, err)
    assert.truthy(seen_rs)
    assert.equal(10000, n)
    for i = 0, 9999 do assert(seen[i], i) end
    assert.is_true(pages >= 10, "pages fetched: " .. pages)
    assert.equal(10000, Many.objects:count())
  end)

  it("polymorphic models", function()
    local Pet = models.Model("Pet", {
      { "owner", columns.Integer { partition_key = true } },
      { "name", columns.Text { primary_key = true } },
      { "kind", columns.Text { discriminator_column = true, index = true } },
    })
    local Cat = Pet:extend("Cat", { __discriminator_value = "cat", { "lives", columns.Integer {} } })
    local Dog = Pet:extend("Dog", { __discriminator_value = "dog", { "good", columns.Boolean {} } })
    assert(management.sync_table(Pet))
    testenv.wait_index_built(session, KS, "pet_kind_idx")
    assert(Cat:create { owner = 1, name = "tom", lives = 9 })
    assert(Dog:create { owner = 1, name = "rex", good = true })
    assert(Cat:create { owner = 2, name = "kit", lives = 3 })
    local raw = rows("SELECT name, kind, lives, good FROM " .. KS .. ".pet WHERE owner = 1")
    assert.same({ { name = "rex", kind = "dog", good = true }, { name = "tom", kind = "cat", lives = 9 } }, plain(raw))
    local pets = assert(Pet.objects:filter { owner = 1 }:all())
    assert.equal(2, #pets)
    assert.equal(Dog, getmetatable(pets[1]).model)
    assert.equal(Cat, getmetatable(pets[2]).model)
    assert.equal(9, pets[2].lives)
    local cats = assert(Cat.objects:all())
    local names = {}
    for i, c in ipairs(cats) do names[i] = c.name end
    assert.same({ "kit", "tom" }, sorted(names))
    assert.equal(1, Dog.objects:count())
    assert(pets[2]:update { lives = 8 })
    assert.equal(8, rows("SELECT lives FROM " .. KS .. ".pet WHERE owner = 1 AND name = 'tom'")[1].lives)
  end)

  it("user-defined type columns, alone and in collections", function()
    local Addr = usertype.UserType("Address", {
      { "street", columns.Text {} },
      { "zip", columns.Integer {} },
      { "tags", columns.List { columns.Text } },
    })
    local Person = models.Model("Person", {
      { "id", columns.UUID { primary_key = true, default = util.uuid4 } },
      { "home", columns.UserDefinedType { Addr } },
      { "past", columns.List { columns.UserDefinedType { Addr } } },
      { "by_name", columns.Map { columns.Text, columns.UserDefinedType { Addr } } },
    })
    assert(management.sync_table(Person))
    local p = assert(Person:create { home = Addr { street = "Elm", zip = 1, tags = { "a" } },
                                     past = { Addr { street = "Oak" }, { street = "Ash", zip = 3 } },
                                     by_name = { work = Addr { zip = 9 } } })
    local raw = rows("SELECT home, past, by_name FROM " .. KS .. ".person WHERE id = %s", { p.id })[1]
    assert.same({ street = "Elm", zip = 1, tags = { "a" } }, plain(raw.home))
    assert.same({ { street = "Oak" }, { street = "Ash", zip = 3 } }, plain(raw.past))
    assert.same({ work = { zip = 9 } }, plain(raw.by_name))
    local got = assert(Person.objects:get { id = p.id })
    assert.equal(Addr { street = "Elm", zip = 1, tags = { "a", n = 1 } }, got.home)
    assert.equal("Ash", got.past[2].street)
    assert.equal(Addr.instance_mt, getmetatable(got.by_name:get("work")))
    -- the type evolves with a new field
    local Addr2 = usertype.UserType("Address", {
      { "street", columns.Text {} }, { "zip", columns.Integer {} }, { "tags", columns.List { columns.Text } },
      { "country", columns.Text {} },
    })
    assert(management.sync_type(KS, Addr2))
    local fields = rows("SELECT field_names FROM system_schema.types WHERE keyspace_name = %s AND type_name = %s",
                        { KS, "address" })[1].field_names
    assert.same({ "street", "zip", "tags", "country" }, plain(fields))
    local Addr3 = usertype.UserType("Address", { { "street", columns.Integer {} } })
    local ok, err = management.sync_type(KS, Addr3)
    assert.is_nil(ok)
    assert.truthy(tostring(err):find("field 'street' is text on the server and int in the model", 1, true))
  end)

  it("counters", function()
    local Hits = models.Model("Hits", {
      { "page", columns.Text { primary_key = true } },
      { "n", columns.Counter {} },
      { "bytes", columns.Counter {} },
    })
    assert(management.sync_table(Hits))
    assert(Hits.objects:filter { page = "/" }:update { n = 5, bytes = 100 })
    assert(Hits.objects:filter { page = "/" }:update { n = -2 })
    local h = assert(Hits.objects:get { page = "/" })
    assert.equal(3LL, h.n)
    h.n = h.n + 10
    assert(h:save())
    assert(h:update { bytes = h.bytes + 1 })
    local raw = rows("SELECT n, bytes FROM " .. KS .. ".hits WHERE page = '/'")[1]
    assert.equal(13LL, raw.n)
    assert.equal(101LL, raw.bytes)
  end)

  it("TTL expiry, per operation and by the table's default", function()
    local Tmp = models.Model("Tmp", {
      __options = { default_time_to_live = 2 },
      { "k", columns.Integer { primary_key = true } },
      { "v", columns.Text {} },
    })
    assert(management.sync_table(Tmp))
    assert.equal(2, rows("SELECT default_time_to_live FROM system_schema.tables WHERE keyspace_name = %s "
      .. "AND table_name = 'tmp'", { KS })[1].default_time_to_live)
    assert(Tmp:create({ k = 1, v = "short" }, { ttl = 1 }))
    assert(Tmp:create { k = 2, v = "default" })
    assert(Tmp:create({ k = 3, v = "long" }, { ttl = 600 }))
    local t = rows("SELECT k, ttl(v) AS t FROM " .. KS .. ".tmp WHERE k IN (1, 2, 3)")
    local ttls = {}
    for _, r in ipairs(t) do ttls[r.k] = r.t end
    assert.is_true(ttls[1] >= 0 and ttls[1] <= 1)
    assert.is_true(ttls[2] >= 1 and ttls[2] <= 2)
    assert.is_true(ttls[3] > 500)
    runtime.sleep(3)
    local a, err = Tmp.objects:get { k = 1 }
    assert.is_nil(a)
    assert.is_true(err:is_a(Tmp.DoesNotExist))
    assert.is_nil((Tmp.objects:get { k = 2 }))
    assert.equal("long", assert(Tmp.objects:get { k = 3 }).v)
    assert.same({ 3 }, plain(assert(Tmp.objects:values_list("k", { flat = true }):all())))
  end)

  it("write timestamps, consistency and timeout per operation", function()
    local Stamp = models.Model("Stamp", { { "id", columns.Integer { primary_key = true } }, { "v", columns.Text {} } })
    assert(management.sync_table(Stamp))
    local future = (os.time() + 3600) * 1000000LL
    assert(Stamp:create({ id = 1, v = "later" }, { timestamp = future, consistency = 1, timeout = 5 }))
    assert.equal(future, rows("SELECT writetime(v) AS w FROM " .. KS .. ".stamp WHERE id = 1")[1].w)
    -- a write with an older (current) timestamp loses to it
    local s = assert(Stamp.objects:get { id = 1 })
    assert(s:update { v = "now" })
    assert.equal("later", assert(Stamp.objects:get { id = 1 }).v)
    assert(Stamp.objects:filter { id = 1 }:timestamp(future + 1):update { v = "latest" })
    assert.equal("latest", assert(Stamp.objects:consistency(1):timeout(5):get { id = 1 }).v)
    local ok, err = s:delete { timestamp = future + 2, consistency = 6 }
    assert(ok, err)
    assert.equal(0, #rows("SELECT id FROM " .. KS .. ".stamp WHERE id = 1"))
  end)

  it("creates keyspaces with NetworkTopologyStrategy", function()
    local dc = rows("SELECT data_center FROM system.local")[1].data_center
    assert(management.create_keyspace_network_topology(KS .. "_nts", { [dc] = 1 }, false))
    local r = rows("SELECT replication, durable_writes FROM system_schema.keyspaces WHERE keyspace_name = %s",
                   { KS .. "_nts" })[1]
    assert.same({ class = "org.apache.cassandra.locator.NetworkTopologyStrategy", [dc] = "1" }, plain(r.replication))
    assert.is_false(r.durable_writes)
    assert(management.drop_keyspace(KS .. "_nts"))
    assert.equal(0, #rows("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = %s",
                          { KS .. "_nts" }))
  end)

  it("lightweight transactions applied and not applied", function()
    local Acct = models.Model("Acct", {
      { "id", columns.Integer { primary_key = true } },
      { "owner", columns.Text { db_field = "owner_name" } },
      { "balance", columns.Integer {} },
    })
    assert(management.sync_table(Acct))
    local a = assert(Acct { id = 1, owner = "ann", balance = 10 }:save { if_not_exists = true })
    assert.equal("ann", rows("SELECT owner_name FROM " .. KS .. ".acct WHERE id = 1")[1].owner_name)
    local b, err = Acct { id = 1, owner = "bob", balance = 99 }:save { if_not_exists = true }
    assert.is_nil(b)
    assert.is_true(err:is_a(cqlengine.LWTException))
    assert.same({ id = 1, owner = "ann", balance = 10 }, err.existing)
    assert(a:update({ balance = 5 }, { iff = { balance = 10 } }))
    local ok
    ok, err = a:update({ balance = 0 }, { iff = { balance__gt = 100 } })
    assert.is_nil(ok)
    assert.is_true(err:is_a(cqlengine.LWTException))
    assert.equal(5, err.existing.balance)
    assert.equal(5, rows("SELECT balance FROM " .. KS .. ".acct WHERE id = 1")[1].balance)
    ok, err = Acct { id = 2, owner = "x" }:delete { if_exists = true }
    assert.is_nil(ok)
    assert.is_true(err:is_a(cqlengine.LWTException))
    assert.same({}, err.existing)
    ok, err = Acct.objects:filter { id = 1 }:iff { owner = "zed" }:update { balance = 1 }
    assert.is_nil(ok)
    assert.equal("ann", err.existing.owner)
    assert(Acct.objects:filter { id = 1 }:iff { owner = "ann" }:update { balance = 1 })
    assert.equal(1, rows("SELECT balance FROM " .. KS .. ".acct WHERE id = 1")[1].balance)
  end)

  it("logged and counter batches", function()
    local Item = models.Model("Item", {
      { "id", columns.Integer { primary_key = true } },
      { "v", columns.Text {} },
    })
    local Tally = models.Model("Tally", {
      { "id", columns.Integer { primary_key = true } },
      { "n", columns.Counter {} },
    })
    assert(management.sync_table(Item))
    assert(management.sync_table(Tally))
    assert(Item:create { id = 3, v = "doomed" })
    local called = false
    local b = query.BatchQuery {}
    b:add_callback(function(x) called = x end, "yes")
    assert(b:run(function(batch)
      Item:create({ id = 1, v = "one" }, { batch = batch })
      Item { id = 2, v = "two" }:save { batch = batch }
      Item.objects:filter { id = 3 }:batch(batch):delete()
      assert.same({ "3:doomed" }, (function()
        local out = {}
        for _, r in ipairs(rows("SELECT id, v FROM " .. KS .. ".item")) do out[#out + 1] = r.id .. ":" .. r.v end
        return out
      end)())
    end))
    assert.equal("yes", called)
    local got = {}
    for _, r in ipairs(rows("SELECT id, v FROM " .. KS .. ".item")) do got[#got + 1] = r.id .. ":" .. r.v end
    assert.same({ "1:one", "2:two" }, sorted(got))
    -- a batch whose block raises sends nothing
    assert.error_matches(function()
      query.BatchQuery {}:run(function(batch)
        Item:create({ id = 9, v = "never" }, { batch = batch })
        error("stop")
      end)
    end, "stop")
    assert.equal(0, #rows("SELECT id FROM " .. KS .. ".item WHERE id = 9"))
    -- counters
    assert(query.BatchQuery { batch_type = "counter" }:run(function(batch)
      for i = 1, 3 do Tally.objects:filter { id = i }:batch(batch):update { n = i * 10 } end
      Tally.objects:filter { id = 1 }:batch(batch):update { n = 1 }
    end))
    local tallies = {}
    for _, r in ipairs(rows("SELECT id, n FROM " .. KS .. ".tally")) do tallies[r.id] = tonumber(r.n) end
    assert.same({ 11, 20, 30 }, tallies)
  end)

  it("runs models in another keyspace for a block", function()
    assert(management.create_keyspace_simple(KS .. "_b", 1))
    local Note = models.Model("Note", { { "id", columns.Integer { primary_key = true } }, { "t", columns.Text {} } })
    assert(management.sync_table(Note))
    assert(management.sync_table(Note, { keyspaces = { KS .. "_b" } }))
    query.ContextQuery({ Note }, { keyspace = KS .. "_b" }):run(function(N)
      assert(N:create { id = 1, t = "elsewhere" })
    end)
    assert.equal(0, #rows("SELECT id FROM " .. KS .. ".note"))
    assert.equal("elsewhere", rows("SELECT t FROM " .. KS .. "_b.note")[1].t)
    -- and on another named connection (its own cluster)
    assert(connection.register_connection("second", { hosts = testenv.hosts() }))
    local other = connection.get_session("second")
    assert.are_not.equal(session, other)
    query.ContextQuery({ Note }, { connection = "second" }):run(function(N)
      assert(N:create { id = 2, t = "via second" })
      assert.equal("via second", assert(N.objects:get { id = 2 }).t)
    end)
    local Pinned = models.Model("Note", { __connection = "second", { "id", columns.Integer { primary_key = true } },
                                          { "t", columns.Text {} } })
    assert.equal(1, Pinned.objects:count())
    connection.unregister_connection("second")
    assert.is_true(other.is_shutdown)
    assert.equal("via second", rows("SELECT t FROM " .. KS .. ".note WHERE id = 2")[1].t)
    assert(management.drop_keyspace(KS .. "_b"))
  end)

  it("works inside coroutines, which interleave", function()
    local Co = models.Model("Co", { { "id", columns.Integer { primary_key = true } }, { "v", columns.Text {} } })
    assert(management.sync_table(Co))
    local futures, order = {}, {}
    for i = 1, 20 do
      futures[i] = runtime.spawn(function()
        order[#order + 1] = "start"
        assert(Co:create { id = i, v = "co" .. i })
        local got = assert(Co.objects:get { id = i })
        order[#order + 1] = "end"
        return got.v
      end)
    end
    for i = 1, 20 do assert.equal("co" .. i, assert(futures[i]:result())) end
    -- every coroutine started before the first one finished: they yielded
    for i = 1, 20 do assert.equal("start", order[i]) end
    assert.equal(20, tonumber(rows("SELECT count(*) FROM " .. KS .. ".co")[1].count))
  end)

  describe("sync_table", function()
    local function table_columns(name)
      local out = {}
      for _, r in ipairs(rows("SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = %s "
                              .. "AND table_name = %s", { KS, name })) do
        out[r.column_name] = r.type
      end
      return out
    end

    it("evolves a table without losing data", function()
      local V1 = models.Model("Evolving", {
        { "id", columns.Integer { primary_key = true } },
        { "a", columns.Text {} },
      })
      assert(management.sync_table(V1))
      for i = 1, 5 do assert(V1:create { id = i, a = "a" .. i }) end
      local V2 = models.Model("Evolving", {
        __options = { comment = "second version" },
        { "id", columns.Integer { primary_key = true } },
        { "a", columns.Text {} },
        { "b", columns.Map { columns.Text, columns.Integer } },
        { "c", columns.Integer { index = true } },
      })
      assert(management.sync_table(V2))
      assert(management.sync_table(V2)) -- a second time changes nothing
      assert.same({ id = "int", a = "text", b = "map<text, int>", c = "int" }, table_columns("evolving"))
      local idx = rows("SELECT index_name FROM system_schema.indexes WHERE keyspace_name = %s "
                       .. "AND table_name = 'evolving'", { KS })
      assert.same({ { index_name = "evolving_c_idx" } }, plain(idx))
      assert.equal("second version", rows("SELECT comment FROM system_schema.tables WHERE keyspace_name = %s "
        .. "AND table_name = 'evolving'", { KS })[1].comment)
      for i = 1, 5 do assert.equal("a" .. i, assert(V2.objects:get { id = i }).a) end
      assert(V2.objects:filter { id = 2 }:update { c = 7 })
      -- The index was made on a table with rows: it is built in the
      -- background, and reading through it before fails (ReadFailure).
      testenv.wait_index_built(session, KS, "evolving_c_idx")
      assert.equal(2, assert(V2.objects:get { c = 7 }).id)
    end)

    it("refuses destructive changes and leaves the table alone", function()
      local before = table_columns("evolving")
      local refusals = {
        { { { "id", columns.Integer { primary_key = true } }, { "a", columns.Integer {} },
            { "b", columns.Map { columns.Text, columns.Integer } }, { "c", columns.Integer { index = true } } },
          "column 'a' is text on the server and int in the model" },
        { { { "id", columns.Integer { primary_key = true } }, { "b", columns.Map { columns.Text, columns.Integer } },
            { "c", columns.Integer {} }, { "z", columns.Text {} } },
          "column 'a' exists in the table but not in the model" },
        { { { "id", columns.Integer { partition_key = true } }, { "a", columns.Text { primary_key = true } },
            { "b", columns.Map { columns.Text, columns.Integer } }, { "c", columns.Integer {} } },
          "PRIMARY KEY composition does not match existing table" },
      }
      for _, case in ipairs(refusals) do
        local M = models.Model("Evolving", case[1])
        local ok, err = management.sync_table(M)
        assert.is_nil(ok)
        assert.is_true(err:is_a(cqlengine.CQLEngineException))
        assert.truthy(tostring(err):find(case[2], 1, true), tostring(err))
      end
      assert.same(before, table_columns("evolving"))
      assert.equal(5, tonumber(rows("SELECT count(*) FROM " .. KS .. ".evolving")[1].count))
    end)
  end)

  it("creates the table a hand-written CREATE TABLE creates (by DESCRIBE)", function()
    local Tag = usertype.UserType("Tag", { { "label", columns.Text {} }, { "weight", columns.Double {} } })
    local function model(name)
      return models.Model(name, {
        __table_name = name,
        __options = { default_time_to_live = 3600, comment = "orm check", gc_grace_seconds = 3600,
                      compaction = { class = "LeveledCompactionStrategy" },
                      caching = cqlengine.CACHING_ALL },
        { "tenant", columns.Text { partition_key = true } },
        { "day", columns.Date { partition_key = true } },
        { "at", columns.TimeUUID { primary_key = true, clustering_order = "desc" } },
        { "seq", columns.Integer { primary_key = true } },
        { "Body", columns.Text {} },
        { "cfg", columns.Text { static = true } },
        { "tags", columns.Set { columns.Text } },
        { "score", columns.Map { columns.Text, columns.Double } },
        { "trail", columns.List { columns.Tuple { columns.Integer, columns.Text } } },
        { "tag", columns.UserDefinedType { Tag } },
        { "size", columns.BigInt { index = true } },
      })
    end
    assert(management.sync_table(model("desc_model")))
    exec("CREATE TABLE " .. KS .. [[.desc_hand (
      tenant text, day date, at timeuuid, seq int, "Body" text, cfg text static, tags set<text>,
      score map<text, double>, trail list<frozen<tuple<int, text>>>, tag frozen<tag>, size bigint,
      PRIMARY KEY ((tenant, day), at, seq)
    ) WITH CLUSTERING ORDER BY (at DESC, seq ASC) AND default_time_to_live = 3600 AND comment = 'orm check'
      AND gc_grace_seconds = 3600 AND compaction = {'class': 'LeveledCompactionStrategy'}
      AND caching = {'keys': 'ALL', 'rows_per_partition': 'ALL'}]])
    exec("CREATE INDEX desc_hand_size_idx ON " .. KS .. ".desc_hand (size)")
    local function describe_table(name)
      local parts = {}
      for _, r in ipairs(rows("DESCRIBE TABLE " .. KS .. "." .. name)) do parts[#parts + 1] = r.create_statement end
      return (table.concat(parts, "\n"):gsub(name, "TABLE"))
    end
    local hand, orm = describe_table("desc_hand"), describe_table("desc_model")
    assert.truthy(orm:find("CREATE INDEX TABLE_size_idx", 1, true), orm)
    assert.truthy(orm:find("LeveledCompactionStrategy", 1, true), orm)
    assert.equal(hand, orm)
  end)
end)
