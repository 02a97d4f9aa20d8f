--- The ORM handlers nginx runs for spec/openresty/orm_spec.lua.
--
-- The models are defined once, at module level, and the ORM's connections
-- are set up once: a named one in init_by_lua, the default one in each
-- worker's init_worker (no cosockets there: `connection.setup` only
-- records the configuration). Every
-- handler then uses the models directly; the ORM makes the handler's own
-- Cluster on its first query, and `connection.scoped` / `release` return
-- its sockets to the keepalive pool at the end.
--
-- Routes (`/orm/<name>`) answer "key=value" lines, or "ERROR <error>" with
-- status 500.
-- luacheck: globals ngx
local cqlengine = require "cql.cqlengine"
local connection = require "cql.cqlengine.connection"
local serve = require "spec.openresty.support.serve"
local columns = require "cql.cqlengine.columns"
local models = require "cql.cqlengine.models"
local management = require "cql.cqlengine.management"
local query = require "cql.cqlengine.query"
local usertype = require "cql.cqlengine.usertype"

local M = {}

M.KS = "cqlua_ngx_orm"
local ROWS = 230 -- rows in the paged partition: several pages of 50

local function hosts()
  local h = os.getenv("CQLUA_TEST_HOSTS") or "127.0.0.1"
  local out = {}
  for a in h:gmatch("[^,%s]+") do out[#out + 1] = a end
  return out
end

-- Module-level models, as an application defines them.
local Thing = models.Model("Thing", {
  { "id", columns.Integer { primary_key = true } },
  { "name", columns.Text {} },
  { "n", columns.Integer {} },
})

local Item = models.Model("Item", {
  { "p", columns.Integer { primary_key = true } },
  { "c", columns.Integer { primary_key = true } },
  { "v", columns.Text {} },
})

local Acct = models.Model("Acct", {
  { "id", columns.Integer { primary_key = true } },
  { "owner", columns.Text {} },
  { "balance", columns.Integer {} },
})

local Address = usertype.UserType("Address", {
  { "street", columns.Text {} },
  { "zip", columns.Integer {} },
})

local Person = models.Model("Person", {
  { "id", columns.Integer { primary_key = true } },
  { "home", columns.UserDefinedType { Address } },
  { "tags", columns.Set { columns.Text } },
})

local function check(v, err, what)
  if v == nil or v == false then error((what or "call") .. ": " .. tostring(err), 0) end
  return v
end
local must = serve.must

-- Connections this worker's stats saw open (handshake or from the pool).
local function opened()
  local s = require("cql.host.ngx").stats
  return s.handshakes + s.control_handshakes + s.reused
end

local routes = {}

-- Keyspace and tables, from scratch; the paged partition filled.
function routes.setup()
  must("drop_keyspace", management.drop_keyspace(M.KS))
  must("create_keyspace_simple", management.create_keyspace_simple(M.KS, 1))
  for _, model in ipairs({ Thing, Item, Acct, Person }) do
    must("sync_table " .. model.__name, management.sync_table(model))
    must("sync_table again " .. model.__name, management.sync_table(model)) -- reads system_schema
  end
  for c = 1, ROWS do must("create item", Item:create { p = 1, c = c, v = "item" .. c }) end
  -- What the server has now, read back through the ORM.
  local n = must("count", Item.objects:filter { p = 1 }:count())
  return { setup = "done", items = n }
end

function routes.drop()
  must("drop_keyspace", management.drop_keyspace(M.KS))
  return { dropped = M.KS }
end

-- Save then get, in one request; the two queries share the handler's session.
function routes.save_get(args)
  local id = tonumber(args.id)
  local t = must("save", Thing { id = id, name = args.name, n = tonumber(args.n) }:save())
  local s1 = connection.get_session()
  local got = must("get", Thing.objects:get { id = id })
  local s2 = connection.get_session()
  return { name = got.name, n = got.n, persisted = tostring(t:is_persisted()),
           same_session = tostring(s1 == s2) }
end

-- A get that may find nothing: DoesNotExist becomes a 404.
function routes.get(args)
  local t, err = Thing.objects:get { id = tonumber(args.id) }
  if not t then
    if type(err) == "table" and err.is_a and err:is_a(cqlengine.DoesNotExist) then
      ngx.status = 404
      return { error = err.name, is_model_error = tostring(err:is_a(Thing.DoesNotExist)),
               message = err.message }
    end
    error(err, 0)
  end
  return { name = t.name, n = t.n, worker = ngx.worker.pid() }
end

-- The hot path of an application: one get, with the connections it used.
function routes.hot()
  local before = opened()
  local t = must("get", Thing.objects:get { id = 1 })
  local cluster = connection.get_cluster()
  return { name = t.name, worker = ngx.worker.pid(), conns = opened() - before,
           node_list = tostring(cluster.node_list ~= nil), control = tostring(cluster.control ~= nil) }
end

-- The same through a named connection configured with dict = false: a
-- plain Cluster with its own control connection.
function routes.plain()
  local t = must("get", Thing:using { connection = "plain" }.objects:get { id = 1 })
  local cluster = connection.get_cluster("plain")
  return { name = t.name, node_list = tostring(cluster.node_list ~= nil),
           control = tostring(cluster.control ~= nil),
           other_cluster = tostring(cluster ~= connection.get_cluster()) }
end

function routes.filter()
  local out = {}
  local sum = 0
  for it, err in Item.objects:filter { p = 1, c__gt = 10, c__lte = 20 }:iter() do
    check(it, err, "iter")
    sum = sum + it.c
  end
  out.range_sum = sum
  local list = must("in", Item.objects:filter { p = 1, c__in = { 3, 5, 7, 999 } }:all())
  local cs = {}
  for i, it in ipairs(list) do cs[i] = it.c end
  out.in_cs = table.concat(cs, ",")
  local top = must("order_by", Item.objects:filter { p = 1 }:order_by("-c"):limit(3):all())
  cs = {}
  for i, it in ipairs(top) do cs[i] = it.c end
  out.top3 = table.concat(cs, ",")
  out.count_gte = must("count", Item.objects:filter { p = 1, c__gte = 200 }:count())
  return out
end

-- Iterates over the partition 50 rows a page: the query set fetches the
-- next pages as the iteration goes.
function routes.paging()
  local n, sum, last, ordered = 0, 0, 0, true
  for it, err in Item.objects:filter { p = 1 }:fetch_size(50):iter() do
    check(it, err, "iter")
    n = n + 1
    sum = sum + it.c
    if it.c ~= last + 1 then ordered = false end
    last = it.c
  end
  return { rows = n, sum = sum, ordered = tostring(ordered) }
end

function routes.update_delete()
  local out = {}
  local a = must("create a", Thing:create { id = 101, name = "a", n = 1 })
  must("create b", Thing:create { id = 102, name = "b", n = 2 })
  must("create c", Thing:create { id = 103, name = "c", n = 3 })
  must("instance update", a:update { n = 10 })
  out.instance_update = must("get a", Thing.objects:get { id = 101 }).n
  must("queryset update", Thing.objects:filter { id = 102 }:update { name = "bee" })
  out.queryset_update = must("get b", Thing.objects:get { id = 102 }).name
  must("instance delete", a:delete())
  local _, err = Thing.objects:get { id = 101 }
  out.instance_delete = err and err.name or "still there"
  must("queryset delete", Thing.objects:filter { id__in = { 102, 103 } }:delete())
  out.queryset_delete_left = must("count", Thing.objects:filter { id__in = { 102, 103 } }:count())
  return out
end

-- A user type and a collection, written and read back.
function routes.udt()
  must("create", Person:create { id = 1, home = Address { street = "Elm", zip = 1000 }, tags = { "a", "b" } })
  local p = must("get", Person.objects:get { id = 1 })
  must("update", Person.objects:filter { id = 1 }:update { tags__add = { "c" } })
  local q = must("get again", Person.objects:get { id = 1 })
  local tags = {}
  for _, t in ipairs(q.tags:items()) do tags[#tags + 1] = t end
  return { street = p.home.street, zip = p.home.zip, is_address = tostring(getmetatable(p.home) == Address.instance_mt),
           tags = table.concat(tags, ",") }
end

function routes.batch()
  must("create", Thing:create { id = 203, name = "doomed" })
  local b = query.BatchQuery {}
  must("batch", b:run(function(batch)
    Thing:create({ id = 201, name = "one" }, { batch = batch })
    Thing { id = 202, name = "two" }:save { batch = batch }
    Thing.objects:filter { id = 203 }:batch(batch):delete()
  end))
  local got = {}
  for _, id in ipairs({ 201, 202, 203 }) do
    local t = Thing.objects:get { id = id }
    got[#got + 1] = t and t.name or "none"
  end
  return { batched = table.concat(got, ",") }
end

function routes.lwt(args)
  local id = tonumber(args.id)
  local out = {}
  local a = must("first insert", Acct { id = id, owner = "ann", balance = 10 }:save { if_not_exists = true })
  out.first = a.owner
  local b, err = Acct { id = id, owner = "bob", balance = 99 }:save { if_not_exists = true }
  out.second = tostring(b)
  out.second_error = err and err.name
  out.second_is_lwt = tostring(err ~= nil and err:is_a(cqlengine.LWTException))
  out.existing_owner = err and err.existing and err.existing.owner
  out.existing_balance = err and err.existing and err.existing.balance
  must("iff applied", a:update({ balance = 5 }, { iff = { balance = 10 } }))
  local ok
  ok, err = Acct.objects:filter { id = id }:iff { owner = "zed" }:update { balance = 0 }
  out.qs_iff = tostring(ok)
  out.qs_iff_existing_owner = err and err.existing and err.existing.owner -- the condition's columns
  out.balance = must("get", Acct.objects:get { id = id }).balance
  return out
end

-- The ORM's session is this request's own: never the one a previous
-- request of this worker used (kept here, per worker, on purpose).
local previous_session
function routes.fresh()
  local s = must("session", connection.get_session())
  local reused = previous_session ~= nil and s == previous_session
  previous_session = s
  must("count", Thing.objects:filter { id = 1 }:count())
  return { reused_previous = tostring(reused), worker = ngx.worker.pid() }
end

-- Uses the ORM and forgets to release: nginx closes the sockets when the
-- request ends. The session is kept (per worker) as a request leaving a
-- reference behind would.
local forgotten = {}
function routes.forget()
  local t = must("get", Thing.objects:get { id = 1 })
  forgotten[#forgotten + 1] = connection.get_session()
  return { name = t.name, worker = ngx.worker.pid() }
end

-- A timer callback does ORM work; the handler waits for its result.
function routes.timer(args)
  local dict = ngx.shared.test_results
  local key = "orm_timer:" .. (args.k or "t") .. ":" .. ngx.now() .. ":" .. math.random(1e9)
  local id = tonumber(args.id)
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local pok, res = pcall(connection.scoped, function()
      must("create", Thing:create { id = id, name = "from timer", n = 42 })
      local t = must("get", Thing.objects:get { id = id })
      return t.name .. "/" .. t.n
    end)
    -- After scoped, no cluster is left for this timer.
    local left = connection.get_cluster() ~= nil
    dict:set(key, pok and (res .. " released=" .. tostring(not left)) or ("ERROR " .. tostring(res)))
  end)
  if not ok then error("timer: " .. tostring(err), 0) end
  return serve.timer_result(dict, key)
end

-- A connection registered with this request's session, used by a timer
-- callback (another handler): the ORM refuses it with a clear error
-- instead of touching the request's sockets.
function routes.foreign_session()
  local dict = ngx.shared.test_results
  local key = "orm_foreign:" .. ngx.now() .. ":" .. math.random(1e9)
  local cluster = require("cql.cluster").Cluster { contact_points = hosts(), schema_metadata_enabled = false,
                                                   token_metadata_enabled = false }
  local session = must("connect", cluster:connect())
  local name = "given" .. ngx.worker.pid()
  assert(connection.register_connection(name, { session = session }))
  local here = must("get here", Thing:using { connection = name }.objects:get { id = 1 }).name
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local pok, e = pcall(function() return Thing:using { connection = name }.objects:get { id = 1 } end)
    dict:set(key, ("ok=%s name=%s message=%s"):format(tostring(pok),
      type(e) == "table" and tostring(e.name) or "?", type(e) == "table" and tostring(e.message) or tostring(e)))
  end)
  if not ok then error("timer: " .. tostring(err), 0) end
  local v
  for _ = 1, 200 do
    v = dict:get(key)
    if v then break end
    ngx.sleep(0.05)
  end
  connection.unregister_connection(name)
  cluster:shutdown()
  return { here = here, timer = v or "none" }
end

-- What the rewrite handler did, then the content handler's own query.
function routes.after_rewrite()
  local t = must("get in content", Thing.objects:get { id = 1 })
  local s = connection.get_session()
  return { rewrite = ngx.ctx.orm_rewrite or "none", content = t.name,
           own_session = tostring(s ~= nil and s ~= ngx.ctx.orm_rewrite_session) }
end

function routes.after_access()
  return { access = ngx.ctx.orm_access or "none", name = ngx.ctx.orm_access_name }
end

function routes.stats()
  local dict = ngx.shared.cqlua_stats
  local out = {}
  for _, k in ipairs({ "handshakes", "control_handshakes", "reused", "pooled", "closed" }) do
    out[k] = dict:get(k) or 0
  end
  return out
end


-- Routes that must not release at the end (they test what happens then).
local NO_RELEASE = { forget = true }

--- content_by_lua for `/orm/<route>`.
function M.content()
  serve.dispatch(routes, "^/orm[%w_]*/([%w_]+)", function(route, args, name)
    if NO_RELEASE[name] then return pcall(route, args) end
    return pcall(connection.scoped, route, args)
  end)
end

--- rewrite_by_lua: an ORM query; releases unless `?release=0`.
function M.rewrite()
  local args = ngx.req.get_uri_args()
  local ok, res = pcall(function()
    local t = must("get in rewrite", Thing.objects:get { id = 1 })
    ngx.ctx.orm_rewrite_session = connection.get_session()
    return t.name
  end)
  ngx.ctx.orm_rewrite = ok and res or ("ERROR " .. tostring(res))
  if args.release ~= "0" then connection.release() end
end

--- access_by_lua: lets the request in when the Thing of `?id=` exists,
-- else answers 404 (DoesNotExist) or 500 itself.
function M.access()
  local id = tonumber(ngx.req.get_uri_args().id)
  local t, err = connection.scoped(function() return Thing.objects:get { id = id } end)
  if not t then
    if err:is_a(Thing.DoesNotExist) then
      ngx.status = 404
      ngx.say("error=", err.name)
      return ngx.exit(ngx.HTTP_OK) -- ends the request with the 404 already sent
    end
    ngx.log(ngx.ERR, "access: ", tostring(err))
    return ngx.exit(500)
  end
  ngx.ctx.orm_access, ngx.ctx.orm_access_name = "allowed", t.name
end

--- log_by_lua: the ORM cannot run there (no cosockets): what it raises,
-- and that release() is harmless, recorded for /orm/log_result.
function M.log()
  local ok, err = pcall(function() return Thing.objects:get { id = 1 } end)
  local rok, rerr = pcall(connection.release)
  ngx.shared.test_results:set("orm_log", ("ok=%s name=%s release=%s"):format(
    tostring(ok), type(err) == "table" and tostring(err.name) or tostring(err), rok and "ok" or tostring(rerr)))
end

function routes.log_result()
  return { result = ngx.shared.test_results:get("orm_log") or "none" }
end

--- init_by_lua (the master, before the workers fork): a named connection
-- registered, then registered again (replacing it: nothing to shut down
-- there, and no ngx.ctx in that phase).
function M.init()
  assert(connection.register_connection("plain", { hosts = { "127.0.0.254" }, dict = false }))
  assert(connection.register_connection("plain", { hosts = hosts(), dict = false }))
end

--- init_worker_by_lua: the ORM's default connection, once per worker.
function M.init_worker()
  assert(connection.setup(hosts(), M.KS))
end

return M
