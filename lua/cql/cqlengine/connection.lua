--- Connections of the ORM (the seed's `cqlengine.connection`): named
-- sessions the models run on, one of them the default.
--
--    connection.setup({"127.0.0.1"}, "app", {consistency = cql.ConsistencyLevel.QUORUM})
--    connection.register_connection("analytics", {hosts = {"10.0.0.5"}})
--    connection.register_connection("mine", {session = my_session})
--
-- A model uses the connection named by its `__connection` (else the
-- default); `Model:using{connection = ...}`, query sets and batches can
-- pick another. Statements are prepared once per session and CQL text.
-- Connecting is a runtime operation: `setup` and `register_connection`
-- return `nil, err` when the cluster cannot be reached (or, with
-- `lazy_connect`, the first query does).
--
-- Inside nginx (lua-nginx-module) a Cluster belongs to the handler that
-- made it, so a connection registered with `hosts` is only a
-- configuration: `setup` may run once per worker (init_worker_by_lua, or
-- at module load) and never connects. Each handler (a request's rewrite,
-- access or content handler, a timer callback) gets its own Cluster and
-- Session on its first ORM query, kept in `ngx.ctx` by phase, so no
-- handler ever uses another's. End the handler with `release()` (or run
-- the work in `scoped(fn)`) to shut that Cluster down and return its
-- sockets to nginx's keepalive pool; a handler that forgets only loses
-- the pooling (nginx closes the sockets when the handler ends). Outside
-- nginx both are no-ops. See docs/openresty.md, "The ORM inside nginx".
--
--    -- init_worker_by_lua_block
--    connection.setup({"10.0.0.1"}, "app", {dict = "cqlua_cluster"})
--    -- content_by_lua_block
--    local user, err = connection.scoped(function() return User.objects:get { id = id } end)
-- @module cql.cqlengine.connection
local cqlengine = require "cql.cqlengine"

local M = {}

--- The name of the default connection.
M.DEFAULT_CONNECTION = "default"

--- The default keyspace set by `setup` (models without `__keyspace` use it).
M.default_keyspace = nil

local registry = {}       -- name -> {name, hosts, cluster, session, consistency, cluster_options, dict, own}
local default_name = nil
local prepared = setmetatable({}, { __mode = "k" }) -- session -> {cql -> PreparedStatement}

local function raise(msg)
  cqlengine.raise(cqlengine.CQLEngineException, msg, nil, 3)
end

---------------------------------------------------------------------------
-- Inside nginx: one Cluster and Session per handler and connection
---------------------------------------------------------------------------

-- The shared dict cql.ngx publishes the cluster state to by default.
local DEFAULT_DICT = "cqlua_cluster"
-- ngx.ctx keys, suffixed by the phase: ngx.ctx is shared by a request's
-- rewrite, access and content handlers, but a cosocket (and so a Cluster)
-- lives only as long as the handler that created it.
local STATE_KEY = "__cqlua_orm_"
local DEPTH_KEY = "__cqlua_orm_depth_"
-- Phases where cosockets, and so the ORM, work (as cql.runtime has them).
-- Elsewhere a handler has no ORM state, and ngx.ctx may not even exist
-- (init_by_lua).
local COSOCKET_PHASES = { rewrite = true, access = true, content = true, timer = true,
                          ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
                          preread = true }

-- The ngx table when running inside lua-nginx-module, else nil.
local function ngx_api()
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.get_phase) == "function" then return ngx end
  return nil
end

--- Whether the ORM runs inside nginx (then sessions are per handler).
-- @treturn boolean
function M.in_nginx()
  return ngx_api() ~= nil
end

-- The ORM state of the running handler: {scheduler, clusters = {conn ->
-- {cluster, session}}, order = {conn...}, prepared = {session -> {cql -> ps}}}.
-- The scheduler is the handler's (cql.runtime keeps one per ngx.ctx and
-- phase): a state made under another one is not this handler's and is
-- dropped. cql.runtime raises UnsupportedOperation in phases without
-- cosockets.
local function handler_state(ngx)
  local scheduler = require("cql.runtime").scheduler()
  local ctx, key = ngx.ctx, STATE_KEY .. ngx.get_phase()
  local st = ctx[key]
  if st and st.scheduler == scheduler then return st end
  st = { scheduler = scheduler, clusters = {}, order = {}, prepared = {} }
  ctx[key] = st
  return st
end

-- The state of the running handler if it has one, and its ngx.ctx key
-- (never raises: phases without cosockets have none). A state made under
-- another scheduler than the handler's is not this handler's.
local function current_state(ngx)
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then return nil end
  local key = STATE_KEY .. phase
  local st = ngx.ctx[key]
  if st and st.scheduler ~= require("cql.runtime").scheduler() then return nil, key end
  return st, key
end

-- Whether the published state of `dict_name` lists one of `hosts`: only
-- then does it describe the cluster this connection is configured for.
local function state_matches(dict_name, hosts)
  local st = require("cql.ngx").state(dict_name)
  if not st or type(st.hosts) ~= "table" then return false end
  local known = {}
  for _, h in ipairs(st.hosts) do known[h.address] = true end
  for _, a in ipairs(hosts) do
    if known[a] then return true end
  end
  return false
end

-- A Cluster for this handler: through cql.ngx.cluster (the node list from
-- the shared dict, no control connection) when the connection names a
-- dict, or when the default dict is declared and describes these hosts;
-- schema and token metadata off unless the options ask for them
-- (sync_table reads system_schema itself).
local function handler_cluster(ngx, conn)
  local opts = {}
  for k, v in pairs(conn.cluster_options or {}) do opts[k] = v end
  opts.contact_points = conn.hosts
  if opts.schema_metadata_enabled == nil then opts.schema_metadata_enabled = false end
  if opts.token_metadata_enabled == nil then opts.token_metadata_enabled = false end
  local dict = conn.dict
  if dict == nil and ngx.shared and ngx.shared[DEFAULT_DICT] and state_matches(DEFAULT_DICT, conn.hosts) then
    dict = DEFAULT_DICT
  end
  if dict then
    opts.dict = dict
    return require("cql.ngx").cluster(opts)
  end
  return require("cql.cluster").Cluster(opts)
end

-- The session of `conn` for the running handler, connected on first use.
local function handler_connect(ngx, conn)
  if conn.session then
    -- A session given to set_session/register_connection belongs to the
    -- handler that made it: refuse it anywhere else, clearly.
    if conn.session.scheduler ~= nil and conn.session.scheduler ~= require("cql.runtime").scheduler() then
      cqlengine.raise(cqlengine.CQLEngineException, ("connection '%s': its session belongs to another nginx "
        .. "request or handler; inside nginx give the connection hosts (connection.setup) so that each "
        .. "handler gets its own session"):format(conn.name), nil, 4)
    end
    return conn.session
  end
  local st = handler_state(ngx)
  local h = st.clusters[conn]
  if h then return h.session end
  local cluster = handler_cluster(ngx, conn)
  local session, err = cluster:connect()
  if not session then
    cluster:shutdown()
    return nil, err
  end
  st.clusters[conn] = { cluster = cluster, session = session }
  st.order[#st.order + 1] = conn
  return session
end

local function pack(...)
  return { n = select("#", ...), ... }
end

-- Shuts the clusters of a handler state down (all, even when one raises).
local function shutdown_all(st, only)
  local first_err
  for _, conn in ipairs(st.order) do
    local h = st.clusters[conn]
    if h and (only == nil or only == conn) then
      st.clusters[conn] = nil
      local ok, err = pcall(h.cluster.shutdown, h.cluster)
      if not ok and first_err == nil then first_err = err end
    end
  end
  if first_err ~= nil then error(first_err, 0) end
end

local function connect(conn)
  local ngx = ngx_api()
  if ngx then return handler_connect(ngx, conn) end
  if conn.session then return conn.session end
  local opts = {}
  for k, v in pairs(conn.cluster_options or {}) do opts[k] = v end
  opts.contact_points = conn.hosts
  local cluster = require("cql.cluster").Cluster(opts)
  local session, err = cluster:connect()
  if not session then
    cluster:shutdown()
    return nil, err
  end
  conn.cluster, conn.session, conn.own = cluster, session, true
  return session
end

--- Registers a named connection: `opts.hosts` (contact points; a cluster
-- is made with `opts.cluster_options`) or `opts.session` (an existing
-- session; exclusive with hosts), `opts.consistency` (the default
-- consistency of its queries), `opts.lazy_connect` (connect on first use),
-- `opts.default` (make it the default), `opts.dict` (inside nginx: the
-- `lua_shared_dict` that `cql.ngx.start` publishes this cluster's state
-- to, so that handlers' clusters take the node list from it; `false`
-- never uses one; by default `cqlua_cluster` is used when it is declared
-- and its state lists one of `hosts`). Registering a name again replaces
-- the old connection (shutting its cluster down when the ORM made it).
-- Inside nginx a connection with `hosts` never connects here: each
-- handler connects on its first query (so this may run in init_worker).
-- @tparam string name
-- @tparam table opts
-- @return the connection record, or nil and an error when connecting failed
function M.register_connection(name, opts)
  if type(name) ~= "string" or name == "" then error("bad argument #1 to 'register_connection' (name expected)", 2) end
  opts = opts or {}
  if opts.hosts and opts.session then
    raise("Session configuration arguments and 'session' argument are mutually exclusive")
  end
  if not opts.hosts and not opts.session then raise("a connection needs 'hosts' or 'session'") end
  if opts.username or opts.password then
    raise("username and password are cluster options: give an auth_provider in cluster_options")
  end
  if opts.dict ~= nil and opts.dict ~= false and type(opts.dict) ~= "string" then
    error("bad option dict to 'register_connection' (lua_shared_dict name or false expected)", 2)
  end
  if registry[name] then M.unregister_connection(name) end
  local conn = { name = name, hosts = opts.hosts, session = opts.session, consistency = opts.consistency,
                 cluster_options = opts.cluster_options, lazy_connect = opts.lazy_connect, dict = opts.dict }
  if opts.session then conn.cluster = opts.session.cluster end
  if not opts.session and not opts.lazy_connect and not ngx_api() then
    local ok, err = connect(conn)
    if not ok then return nil, err end
  end
  registry[name] = conn
  if opts.default or default_name == nil then default_name = name end
  return conn
end

--- Removes a named connection; shuts its cluster down when the ORM made it.
-- @tparam string name
function M.unregister_connection(name)
  local conn = registry[name]
  if not conn then raise(("Connection name '%s' doesn't exist in the registry."):format(tostring(name))) end
  registry[name] = nil
  if default_name == name then default_name = nil end
  if conn.own and conn.cluster then conn.cluster:shutdown() end
  local ngx = ngx_api()
  local st = ngx and current_state(ngx)
  if st then shutdown_all(st, conn) end
end

--- Makes a registered connection the default.
-- @tparam string name
function M.set_default_connection(name)
  if not registry[name] then raise(("Connection name '%s' doesn't exist in the registry."):format(tostring(name))) end
  default_name = name
end

--- Sets up the default connection: `hosts` (contact points), the default
-- keyspace of models, and `options` (`consistency`, `lazy_connect`,
-- `dict` (see `register_connection`), and every other key is a `Cluster`
-- option). Inside nginx this only records the configuration (call it
-- once per worker, e.g. in init_worker_by_lua): each handler connects on
-- its first query, with schema and token metadata off unless `options`
-- turn them on.
-- @tparam {string,...} hosts
-- @tparam[opt] string default_keyspace
-- @tparam[opt] table options
-- @return true, or nil and an error
function M.setup(hosts, default_keyspace, options)
  if type(hosts) ~= "table" then error("bad argument #1 to 'setup' (array of hosts expected)", 2) end
  if default_keyspace ~= nil and type(default_keyspace) ~= "string" then
    error("bad argument #2 to 'setup' (keyspace name expected)", 2)
  end
  options = options or {}
  local cluster_options = {}
  for k, v in pairs(options) do
    if k ~= "consistency" and k ~= "lazy_connect" and k ~= "retry_connect" and k ~= "dict" then
      cluster_options[k] = v
    end
  end
  M.default_keyspace = default_keyspace
  local conn, err = M.register_connection(M.DEFAULT_CONNECTION, {
    hosts = hosts, consistency = options.consistency, lazy_connect = options.lazy_connect,
    cluster_options = cluster_options, default = true, dict = options.dict })
  if not conn then return nil, err end
  return true
end

--- Uses an existing session as the default connection. Inside nginx that
-- session belongs to the handler that made it: using the connection in
-- any other handler raises (give hosts to `setup` instead).
-- @param session a `cql.session` Session
function M.set_session(session)
  if type(session) ~= "table" or type(session.execute) ~= "function" then
    error("bad argument #1 to 'set_session' (session expected)", 2)
  end
  M.register_connection(M.DEFAULT_CONNECTION, { session = session, default = true })
end

local function record(name)
  local n = name or default_name
  local conn = n and registry[n]
  if not conn then
    if name == nil then raise("no default connection: call connection.setup or set_session first") end
    raise(("Connection name '%s' doesn't exist in the registry."):format(tostring(name)))
  end
  return conn
end

--- The session of a connection (default: the default one); connects a
-- lazy connection. Raises for an unknown name.
-- @tparam[opt] string name
-- @return session, or nil and an error
function M.get_session(name)
  return connect(record(name))
end

--- The cluster of a connection (nil for a lazy one not yet connected).
-- Inside nginx: the running handler's cluster for that connection (nil
-- until its first query).
-- @tparam[opt] string name
function M.get_cluster(name)
  local conn = record(name)
  local ngx = ngx_api()
  if ngx and not conn.session then
    local st = current_state(ngx)
    local h = st and st.clusters[conn]
    return h and h.cluster or nil
  end
  return conn.cluster
end

--- The record of a connection (`name`, `hosts`, `consistency`, `session`;
-- inside nginx `session` is only set for a connection registered with
-- one: use `get_session` for the running handler's).
-- @tparam[opt] string name
function M.get_connection(name)
  return record(name)
end

--- The prepared statement of `cql` on `session`, prepared on first use.
-- @param session
-- @tparam string cql
-- @return PreparedStatement, or nil and an error
function M.prepare(session, cql)
  -- Inside nginx sessions are per handler: their cache lives (and dies)
  -- with the handler's state instead of piling up in a module table.
  local ngx = ngx_api()
  local caches = ngx and handler_state(ngx).prepared or prepared
  local cache = caches[session]
  if not cache then
    cache = {}
    caches[session] = cache
  end
  local ps = cache[cql]
  if ps then return ps end
  local err
  ps, err = session:prepare(cql)
  if not ps then return nil, err end
  cache[cql] = ps
  return ps
end

--- How many statements are prepared (cached) for a session.
-- @local
function M.prepared_count(session)
  local ngx = ngx_api()
  local st = ngx and current_state(ngx)
  local caches = ngx and (st and st.prepared or {}) or prepared
  local n = 0
  for _ in pairs(caches[session] or {}) do n = n + 1 end
  return n
end

--- Ends the ORM's use of nginx's running handler: shuts down the Clusters
-- the handler's queries made (every connection), so that their sockets
-- go back to nginx's keepalive pool. Call it at the end of each handler
-- (rewrite, access, content, timer callback) that used the ORM; a later
-- ORM query in the same handler connects again. Without it nginx closes
-- the sockets when the handler ends (nothing leaks, no later request is
-- affected, only the pooling is lost). Does nothing outside nginx, in a
-- handler that made no cluster, and in phases without cosockets.
-- @return true
function M.release()
  local ngx = ngx_api()
  if not ngx then return true end
  local st, key = current_state(ngx)
  if key then ngx.ctx[key] = nil end
  if st then shutdown_all(st) end
  return true
end

--- Runs `fn(...)` and then `release()`, also when `fn` raises (the error
-- is raised again, unchanged); returns what `fn` returns. Scopes nest:
-- only the outermost one releases. Outside nginx it just calls `fn`.
--
--    content_by_lua_block {
--      local user, err = connection.scoped(function() return User.objects:get { id = id } end)
--    }
-- @tparam function fn
-- @return the results of `fn`
function M.scoped(fn, ...)
  if type(fn) ~= "function" then error("bad argument #1 to 'scoped' (function expected)", 2) end
  local ngx = ngx_api()
  -- Nothing to release where the ORM cannot run (it raises there itself).
  if not ngx or not COSOCKET_PHASES[ngx.get_phase()] then return fn(...) end
  local ctx, key = ngx.ctx, DEPTH_KEY .. ngx.get_phase()
  local depth = ctx[key] or 0
  ctx[key] = depth + 1
  local res = pack(pcall(fn, ...))
  ctx[key] = depth
  if not res[1] then
    -- fn's error is the one worth reporting, not a shutdown's.
    if depth == 0 then pcall(M.release) end
    error(res[2], 0)
  end
  if depth == 0 then M.release() end
  return unpack(res, 2, res.n)
end

--- Runs a query-builder statement on a connection: prepares its text
-- (cached), binds its values. `opts`: `consistency`, `timeout`,
-- `fetch_size`, `paging_state`.
-- @param stmt a `cql.querybuilder` statement
-- @tparam[opt] string name connection name
-- @tparam[opt] table opts
-- @return ResultSet, or nil and an error
function M.execute_builder(stmt, name, opts)
  local conn = record(name)
  local session, err = connect(conn)
  if not session then return nil, err end
  local cql, values = stmt:build()
  local ps
  ps, err = M.prepare(session, cql)
  if not ps then return nil, err end
  opts = opts or {}
  return session:execute(ps, values, {
    consistency_level = opts.consistency or conn.consistency,
    timeout = opts.timeout,
    fetch_size = opts.fetch_size,
  })
end

--- Runs CQL text (DDL, or anything else) on a connection.
-- @tparam string cql
-- @param[opt] params parameters (`%s` markers)
-- @tparam[opt] string name connection name
-- @tparam[opt] table opts `consistency`, `timeout`
-- @return ResultSet, or nil and an error
function M.execute(cql, params, name, opts)
  local conn = record(name)
  local session, err = connect(conn)
  if not session then return nil, err end
  opts = opts or {}
  return session:execute(cql, params, { consistency_level = opts.consistency or conn.consistency,
                                        timeout = opts.timeout })
end

return M
