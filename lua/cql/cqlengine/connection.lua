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
-- @module cql.cqlengine.connection
local cqlengine = require "cql.cqlengine"

local M = {}

--- The name of the default connection.
M.DEFAULT_CONNECTION = "default"

--- The default keyspace set by `setup` (models without `__keyspace` use it).
M.default_keyspace = nil

local registry = {}       -- name -> {name, hosts, cluster, session, consistency, cluster_options, own}
local default_name = nil
local prepared = setmetatable({}, { __mode = "k" }) -- session -> {cql -> PreparedStatement}

local function raise(msg)
  cqlengine.raise(cqlengine.CQLEngineException, msg, nil, 3)
end

local function connect(conn)
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
-- `opts.default` (make it the default). Registering a name again replaces
-- the old connection (shutting its cluster down when the ORM made it).
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
  if registry[name] then M.unregister_connection(name) end
  local conn = { name = name, hosts = opts.hosts, session = opts.session, consistency = opts.consistency,
                 cluster_options = opts.cluster_options, lazy_connect = opts.lazy_connect }
  if opts.session then conn.cluster = opts.session.cluster end
  if not opts.session and not opts.lazy_connect then
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
end

--- Makes a registered connection the default.
-- @tparam string name
function M.set_default_connection(name)
  if not registry[name] then raise(("Connection name '%s' doesn't exist in the registry."):format(tostring(name))) end
  default_name = name
end

--- Sets up the default connection: `hosts` (contact points), the default
-- keyspace of models, and `options` (`consistency`, `lazy_connect`, and
-- every other key is a `Cluster` option).
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
    if k ~= "consistency" and k ~= "lazy_connect" and k ~= "retry_connect" then cluster_options[k] = v end
  end
  M.default_keyspace = default_keyspace
  local conn, err = M.register_connection(M.DEFAULT_CONNECTION, {
    hosts = hosts, consistency = options.consistency, lazy_connect = options.lazy_connect,
    cluster_options = cluster_options, default = true })
  if not conn then return nil, err end
  return true
end

--- Uses an existing session as the default connection.
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
-- @tparam[opt] string name
function M.get_cluster(name)
  return record(name).cluster
end

--- The record of a connection (`name`, `hosts`, `consistency`, `session`).
-- @tparam[opt] string name
function M.get_connection(name)
  return record(name)
end

--- The prepared statement of `cql` on `session`, prepared on first use.
-- @param session
-- @tparam string cql
-- @return PreparedStatement, or nil and an error
function M.prepare(session, cql)
  local cache = prepared[session]
  if not cache then
    cache = {}
    prepared[session] = cache
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
  local n = 0
  for _ in pairs(prepared[session] or {}) do n = n + 1 end
  return n
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
