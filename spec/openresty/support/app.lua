--- The handlers nginx runs for the OpenResty specs (see nginx.lua).
-- Every route answers "key=value" lines, or "ERROR <error>" with status 500.
-- luacheck: globals ngx
local serve = require "spec.openresty.support.serve"
local must = serve.must
local M = {}

local KS = "ngx_test"

local function hosts()
  local h = os.getenv("CQLUA_TEST_HOSTS") or "127.0.0.1"
  local out = {}
  for a in h:gmatch("[^,%s]+") do out[#out + 1] = a end
  return out
end

local function cluster_options()
  return { contact_points = hosts(), schema_metadata_enabled = false, token_metadata_enabled = false }
end

-- Runs fn(session) on a cluster made for this request, always shut down.
local function with_session(keyspace, fn)
  local Cluster = require("cql.cluster").Cluster
  local cluster = Cluster(cluster_options())
  local session, err = cluster:connect(keyspace)
  if not session then
    cluster:shutdown()
    error("connect: " .. tostring(err), 0)
  end
  local ok, res = pcall(fn, session, cluster)
  cluster:shutdown()
  if not ok then error(res, 0) end
  return res
end

local function check(v, err, what)
  if v == nil then error((what or "call") .. ": " .. tostring(err), 0) end
  return v
end


local routes = {}

function routes.setup()
  return with_session(nil, function(s)
    must("keyspace", s:execute("CREATE KEYSPACE IF NOT EXISTS " .. KS
      .. " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"))
    check(s:execute("CREATE TABLE IF NOT EXISTS " .. KS .. ".kv (k text PRIMARY KEY, v int)"))
    check(s:execute("CREATE TABLE IF NOT EXISTS " .. KS
      .. ".items (p int, c int, v text, PRIMARY KEY (p, c))"))
    check(s:execute("TRUNCATE " .. KS .. ".items"))
    local ins = check(s:prepare("INSERT INTO " .. KS .. ".items (p, c, v) VALUES (?, ?, ?)"))
    local args = {}
    for i = 1, 230 do args[i] = { 1, i, "item" .. i } end
    local res = check(require("cql.concurrent").execute_concurrent_with_args(s, ins, args, { concurrency = 50 }))
    return { setup = "done", inserted = #res }
  end)
end

function routes.crud(args)
  local k = args.k or "key"
  return with_session(KS, function(s)
    local out = {}
    must("insert", s:execute("INSERT INTO kv (k, v) VALUES (%s, %s)", { k, 1 }))
    local row = must("select", s:execute("SELECT v FROM kv WHERE k = %s", { k })):one()
    out.after_insert = row and row.v
    must("update", s:execute("UPDATE kv SET v = %s WHERE k = %s", { 2, k }))
    row = check(s:execute("SELECT v FROM kv WHERE k = %s", { k })):one()
    out.after_update = row and row.v
    must("delete", s:execute("DELETE FROM kv WHERE k = %s", { k }))
    row = check(s:execute("SELECT v FROM kv WHERE k = %s", { k })):one()
    out.after_delete = row == nil and "none" or tostring(row.v)
    -- A logged batch of a simple and a prepared statement.
    local query = require "cql.query"
    local ins = must("prepare", s:prepare("INSERT INTO kv (k, v) VALUES (?, ?)"))
    local batch = query.BatchStatement {}
    batch:add("INSERT INTO kv (k, v) VALUES (%s, %s)", { k .. "-b1", 11 })
    batch:add(ins, { k .. "-b2", 12 })
    must("batch", s:execute(batch))
    local rs = check(s:execute("SELECT k, v FROM kv WHERE k IN (%s, %s)", { k .. "-b1", k .. "-b2" }))
    local sum = 0
    for r in rs:rows() do sum = sum + r.v end
    out.batch_sum = sum
    return out
  end)
end

function routes.paging()
  return with_session(KS, function(s)
    local rs = check(s:execute("SELECT c FROM items WHERE p = 1", nil, { fetch_size = 50 }))
    local pages, first = 1, #rs.current_rows
    local n, sum, last = 0, 0, 0
    for row in rs:rows() do
      n = n + 1
      sum = sum + row.c
      if row.c ~= last + 1 then error("rows out of order at " .. n, 0) end
      last = row.c
    end
    -- Page by page, by hand.
    local rs2 = check(s:execute("SELECT c FROM items WHERE p = 1", nil, { fetch_size = 50 }))
    while rs2.has_more_pages do
      check(rs2:fetch_next_page())
      pages = pages + 1
    end
    return { rows = n, sum = sum, first_page = first, pages = pages }
  end)
end

function routes.prepared(args)
  local k = args.k or "p"
  return with_session(KS, function(s)
    local ins = must("prepare insert", s:prepare("INSERT INTO kv (k, v) VALUES (?, ?)"))
    local sel = must("prepare select", s:prepare("SELECT k, v FROM kv WHERE k = ?"))
    must("execute insert", s:execute(ins, { k, tonumber(args.v or 7) }))
    local row = must("execute select", s:execute(sel, { k })):one()
    return { value = row and row.v, id = ngx.encode_base64(sel.query_id), worker = ngx.worker.pid(),
             reprepared = s.reprepared }
  end)
end

-- Step 1 prepares a SELECT (the PREPARE's answer is cached); step 2 makes
-- every cached statement id one the server does not know (as after a node
-- restart), then prepares (answered from the cache) and executes: the
-- server says UNPREPARED, the cache is dropped and the session prepares
-- again on the server.
function routes.reprepare(args)
  return with_session(KS, function(s)
    must("create", s:execute("CREATE TABLE IF NOT EXISTS rp (k int PRIMARY KEY, v int)"))
    must("insert", s:execute("INSERT INTO rp (k, v) VALUES (1, 10)"))
    if args.step == "2" then
      local dict = ngx.shared.cqlua_prepared
      for _, key in ipairs(dict:get_keys(0)) do
        local body = dict:get(key)
        if type(body) == "string" and #body > 7 then
          -- int kind, then the id as [short bytes]: change its first byte.
          local b = body:byte(7)
          dict:set(key, body:sub(1, 6) .. string.char((b + 1) % 256) .. body:sub(8))
        end
      end
    end
    local stats = require("cql.host.ngx").stats
    local hits, inval = stats.prepare_hits, stats.prepared_invalidations
    local ps = must("prepare", s:prepare("SELECT v FROM rp WHERE k = ?"))
    local row = must("execute", s:execute(ps, { 1 })):one()
    return { value = row and row.v, reprepared = s.reprepared, hit = stats.prepare_hits - hits,
             invalidated = stats.prepared_invalidations - inval }
  end)
end

-- Many requests at once on one session: execute_async and execute_concurrent.
function routes.concurrent()
  local stats = require("cql.host.ngx").stats
  local before = stats.handshakes + stats.reused
  return with_session(KS, function(s, cluster)
    local sel = check(s:prepare("SELECT c FROM items WHERE p = 1 AND c = ?"))
    local futures = {}
    for i = 1, 40 do futures[i] = s:execute_async(sel, { i }) end
    local ok = 0
    for i = 1, 40 do
      local rs = must("async " .. i, futures[i]:result())
      local row = rs:one()
      if row and row.c == i then ok = ok + 1 end
    end
    local args = {}
    for i = 1, 60 do args[i] = { i } end
    local res = check(require("cql.concurrent").execute_concurrent_with_args(s, sel, args, { concurrency = 30 }))
    local ok2 = 0
    for i, r in ipairs(res) do
      local row = r.success and r.result:one()
      if row and row.c == i then ok2 = ok2 + 1 end
    end
    -- Several light threads sharing the same session.
    local threads, ok3 = {}, 0
    for t = 1, 4 do
      threads[t] = ngx.thread.spawn(function()
        local n = 0
        for i = 1, 10 do
          local rs = s:execute(sel, { t * 10 + i })
          local row = rs and rs:one()
          if row and row.c == t * 10 + i then n = n + 1 end
        end
        return n
      end)
    end
    for t = 1, 4 do
      local _, n = ngx.thread.wait(threads[t])
      ok3 = ok3 + (n or 0)
    end
    return { async_ok = ok, concurrent_ok = ok2, threads_ok = ok3,
             connections = stats.handshakes + stats.reused - before,
             open = cluster.host:connection_count() }
  end)
end

-- Two connections to the node, both with requests in flight: the host
-- reads them with one light thread each.
function routes.multi()
  local stats = require("cql.host.ngx").stats
  local before, threads = stats.handshakes + stats.reused, stats.reader_threads
  local Cluster = require("cql.cluster").Cluster
  local policies = require "cql.policies"
  local cluster = Cluster(cluster_options())
  cluster:set_core_connections_per_host(policies.HostDistance.LOCAL, 2)
  local s = check(cluster:connect(KS))
  local ok, res = pcall(function()
    local sel = check(s:prepare("SELECT c FROM items WHERE p = 1 AND c = ?"))
    local futures = {}
    for i = 1, 100 do futures[i] = s:execute_async(sel, { (i - 1) % 230 + 1 }) end
    local n = 0
    for i = 1, 100 do
      local rs = futures[i]:result()
      local row = rs and rs:one()
      if row and row.c == (i - 1) % 230 + 1 then n = n + 1 end
    end
    return { ok = n, connections = stats.handshakes + stats.reused - before,
             reader_threads = stats.reader_threads - threads }
  end)
  cluster:shutdown()
  if not ok then error(res, 0) end
  return res
end

-- A timer callback does the query; the handler waits for its result.
function routes.timer(args)
  local dict = ngx.shared.test_results
  local key = "timer:" .. (args.k or "t") .. ":" .. ngx.now() .. ":" .. math.random(1e9)
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local res, e = pcall(with_session, KS, function(s)
      local ps = check(s:prepare("INSERT INTO kv (k, v) VALUES (?, ?)"))
      check(s:execute(ps, { key, 42 }))
      local row = check(s:execute("SELECT v FROM kv WHERE k = %s", { key })):one()
      return row and row.v
    end)
    dict:set(key, res and tostring(e) or ("ERROR " .. tostring(e)))
  end)
  if not ok then error("timer: " .. tostring(err), 0) end
  return serve.timer_result(dict, key)
end

function routes.stats()
  local dict = ngx.shared.cqlua_stats
  local out = {}
  for _, k in ipairs({ "handshakes", "control_handshakes", "reused", "pooled", "closed", "prepare_hits",
                       "prepare_misses", "prepared_invalidations", "system_hits" }) do
    out[k] = dict:get(k) or 0
  end
  return out
end

function routes.query(args)
  return with_session(KS, function(s)
    local row = check(s:execute("SELECT v FROM kv WHERE k = %s", { args.k or "none" })):one()
    return { value = row and row.v or "none" }
  end)
end

-- PREPAREs a statement on a test server (started by the spec, port in
-- args): whether the worker's prepared cache answered it.
function routes.prepare_on(args)
  local Cluster = require("cql.cluster").Cluster
  local cluster = Cluster { contact_points = { "127.0.0.1" }, port = tonumber(args.port), compression = false,
                            schema_metadata_enabled = false, token_metadata_enabled = false }
  local stats = require("cql.host.ngx").stats
  local hits = stats.prepare_hits
  local ok, res = pcall(function()
    local s = must("connect", cluster:connect())
    must("prepare", s:prepare("SELECT v FROM ks.warned"))
  end)
  cluster:shutdown()
  if not ok then error(res, 0) end
  return { hit = stats.prepare_hits - hits }
end

-- A query through a node that wants a password (a test server started by
-- the spec: the real integration node has authentication off).
function routes.auth_query(args)
  local Cluster = require("cql.cluster").Cluster
  local cluster = Cluster { contact_points = { "127.0.0.1" }, port = tonumber(args.port), compression = false,
                            schema_metadata_enabled = false, token_metadata_enabled = false,
                            auth_provider = require("cql.auth").PlainTextAuthProvider(args.user, args.password) }
  local session, err = cluster:connect()
  if not session then
    cluster:shutdown()
    return { result = "refused", error = err.errors and next(err.errors) and
      tostring(select(2, next(err.errors))):match("^(%w+)") or tostring(err) }
  end
  local rs, qerr = session:execute("SELECT key FROM system.local")
  cluster:shutdown()
  return { result = rs and rs:one().key or ("error " .. tostring(qerr)) }
end

-- A request that times out leaves its stream id held: the connection must
-- be closed at the end, never pooled.
function routes.timeout()
  local stats = require("cql.host.ngx").stats
  local pooled, closed = stats.pooled, stats.closed
  local timed_out = 0
  local res = with_session(KS, function(s)
    for _ = 1, 50 do
      local rs, err = s:execute("SELECT * FROM items WHERE p = 1", nil, { timeout = 0.0005 })
      if not rs and err.name == "OperationTimedOut" then
        timed_out = timed_out + 1
        break
      end
    end
    return {}
  end)
  res.timed_out = timed_out
  res.pooled = stats.pooled - pooled
  res.closed = stats.closed - closed
  return res
end

-- No server at the contact point: an error object, quickly.
function routes.unreachable()
  local Cluster = require("cql.cluster").Cluster
  local t0 = ngx.now()
  local cluster = Cluster { contact_points = { "127.0.0.1" }, port = 1, connect_timeout = 1,
                            schema_metadata_enabled = false }
  local session, err = cluster:connect(KS)
  cluster:shutdown()
  ngx.update_time()
  return { session = tostring(session), name = err and err.name, elapsed = ngx.now() - t0,
           open = cluster.host:connection_count() }
end

-- A wait for a future nothing will complete fails instead of hanging.
function routes.stall()
  local NgxHost = require "cql.host.ngx"
  local limit = NgxHost.STALL_LIMIT
  NgxHost.STALL_LIMIT = 0.3
  local f = require("cql.future").new(require("cql.runtime").scheduler())
  local t0 = ngx.now()
  local ok, err = pcall(f.result, f)
  NgxHost.STALL_LIMIT = limit
  ngx.update_time()
  return { ok = ok, err = tostring(err), elapsed = ngx.now() - t0 }
end

-- What the shared dict says about the cluster.
function routes.shared_state()
  local cqlngx = require "cql.ngx"
  local st = cqlngx.state("cqlua_cluster")
  local out = { holder = cqlngx.holder("cqlua_cluster") or "none", worker = ngx.worker.pid(),
                running_timers = ngx.timer.running_count(), pending_timers = ngx.timer.pending_count() }
  if st then
    out.hosts = #st.hosts
    out.age = ngx.now() - st.updated
    out.written_by = st.holder
    out.cluster_name = st.cluster_name
    local h = st.hosts[1]
    if h then
      out.address, out.datacenter, out.is_up, out.tokens = h.address, h.datacenter, tostring(h.is_up), #(h.tokens or {})
    end
  end
  return out
end

-- A request's Cluster from the shared state.
function routes.shared_cluster()
  local cluster = require("cql.ngx").cluster { dict = "cqlua_cluster", contact_points = { "127.0.0.254" } }
  local session, err = cluster:connect(KS)
  if not session then
    cluster:shutdown()
    error("connect: " .. tostring(err), 0)
  end
  local rs, qerr = session:execute("SELECT v FROM kv WHERE k = %s", { "none" })
  cluster:shutdown()
  if not rs then error(tostring(qerr), 0) end
  return { contact_points = table.concat(cluster.contact_points, ","), rows = #rs.current_rows,
           control = cluster.control and "yes" or "no" }
end

-- The driver's log goes to nginx's error log.
function routes.log(args)
  require("cql.runtime").scheduler() -- installs the ngx.log sink
  require("cql.log").warn("test message ", args.tag or "")
  return { logged = true }
end

-- A Cluster made in rewrite and used in content: a clear error.
function M.rewrite_make_cluster()
  local Cluster = require("cql.cluster").Cluster
  ngx.ctx.cluster = Cluster(cluster_options())
end

function routes.cross_phase()
  local cluster = ngx.ctx.cluster
  local ok, err = pcall(cluster.connect, cluster, KS)
  return { ok = ok, err = tostring(err) }
end

-- What a misuse in a phase without cosockets recorded.
function routes.phase_result(args)
  local v = ngx.shared.test_results:get("phase:" .. (args.phase or "?"))
  return { result = v or "none" }
end

-- Using the driver in `phase` (no cosockets there): records the error.
function M.in_phase(phase)
  local t0 = ngx.now()
  local ok, err = pcall(function()
    local Cluster = require("cql.cluster").Cluster
    local cluster = Cluster(cluster_options())
    return cluster:connect(KS)
  end)
  local text
  if ok then
    text = "no error"
  else
    text = ("name=%s phase=%s message=%s elapsed=%.3f"):format(
      type(err) == "table" and tostring(err.name) or "?", type(err) == "table" and tostring(err.phase) or "?",
      type(err) == "table" and tostring(err.message) or tostring(err), ngx.now() - t0)
  end
  ngx.shared.test_results:set("phase:" .. phase, text)
  return text
end

function M.init_worker()
  -- init_worker has no cosockets either: record what the driver says.
  M.in_phase("init_worker")
  -- The shared cluster state: one elected worker holds the control connection.
  require("cql.ngx").start { dict = "cqlua_cluster", contact_points = hosts(), interval = 0.5 }
end

function M.rewrite()
  local ok, res = pcall(routes.query, { k = "rw" })
  ngx.ctx.rewrite_result = ok and ("value=" .. tostring(res.value)) or ("ERROR " .. tostring(res))
end

function M.access()
  local ok, res = pcall(routes.query, { k = "rw" })
  ngx.ctx.access_result = ok and ("value=" .. tostring(res.value)) or ("ERROR " .. tostring(res))
end

function M.content()
  serve.dispatch(routes, "^/([%w_]+)")
end

return M
