--- Clusters, as in the seed's `cassandra.cluster`.
--
-- A Cluster knows the nodes (found through a control connection to one of
-- them, kept current from the server's events), whether each is up, and
-- the policies; its Sessions keep a connection pool to every node the
-- load-balancing policy uses. A node whose connection fails is marked down
-- and tried again on the reconnection policy's schedule; an UP event from
-- the server tries it at once.
--
--     local cluster = require("cql.cluster").Cluster { contact_points = { "127.0.0.1" } }
--     local session = assert(cluster:connect("ks"))
--     local rs = assert(session:execute("SELECT * FROM users WHERE id = %s", { id }))
--     for row in rs:rows() do print(row.name) end
--     cluster:shutdown()
--
-- Runtime failures return `nil, err` (see cql.errors); misuse raises.
-- @module cql.cluster
local ffi = require "ffi"
local core = require "cql.core"
local Connection = require "cql.connection"
local Control = require "cql.control"
local errors = require "cql.errors"
local inet = require "cql.util.inet"
local log = require "cql.log"
local Metadata = require("cql.metadata").Metadata
local policies = require "cql.policies"
local pool = require "cql.pool"
local runtime = require "cql.runtime"
local Session = require "cql.session"
require "cql.cdef_transport"

local C = core.C
local M = {}

local Cluster = {}
Cluster.__index = Cluster

-- A TLS context from ssl_options. Verification is on unless turned off:
-- `verify = false` accepts any certificate, `check_hostname = false`
-- accepts a valid certificate for another name. The seed's option names
-- (ca_certs, certfile, keyfile) are accepted too.
local function tls_context(o)
  local cfg = ffi.new("cq_tls_config")
  local ca, cert, key = o.ca_file or o.ca_certs, o.cert_file or o.certfile, o.key_file or o.keyfile
  cfg.ca_file, cfg.cert_file, cfg.key_file = ca, cert, key
  cfg.no_verify = o.verify == false and 1 or 0
  cfg.no_hostname_check = o.check_hostname == false and 1 or 0
  local err = ffi.new("char[256]")
  local ctx = C.cq_tls_ctx_new(cfg, err, 256)
  if ctx == nil then error("bad option ssl_options (" .. ffi.string(err) .. ")", 3) end
  return ffi.gc(ctx, C.cq_tls_ctx_free)
end

ffi.cdef [[
struct cqlua_addrinfo {
  int ai_flags, ai_family, ai_socktype, ai_protocol;
  uint32_t ai_addrlen;
  void *ai_addr;
  char *ai_canonname;
  struct cqlua_addrinfo *ai_next;
};
int getaddrinfo(const char *node, const char *service, const struct cqlua_addrinfo *hints,
                struct cqlua_addrinfo **res);
void freeaddrinfo(struct cqlua_addrinfo *res);
const char *gai_strerror(int errcode);
]]

-- The IP addresses of a contact point: itself when it is an IP literal,
-- else what the system resolver says (every address, as the seed does).
local function resolve(name)
  if inet.parse(name) then return { name } end
  local hints = ffi.new("struct cqlua_addrinfo")
  hints.ai_socktype = 1 -- SOCK_STREAM
  local res = ffi.new("struct cqlua_addrinfo *[1]")
  local rc = ffi.C.getaddrinfo(name, nil, hints, res)
  if rc ~= 0 then return nil, ffi.string(ffi.C.gai_strerror(rc)) end
  local out, seen = {}, {}
  local ai = res[0]
  while ai ~= nil do
    local bytes
    if ai.ai_family == 2 then -- AF_INET: sin_addr at offset 4
      bytes = ffi.string(ffi.cast("const uint8_t *", ai.ai_addr) + 4, 4)
    elseif ai.ai_family == 10 then -- AF_INET6: sin6_addr at offset 8
      bytes = ffi.string(ffi.cast("const uint8_t *", ai.ai_addr) + 8, 16)
    end
    if bytes then
      local a = inet.inet_ntop(bytes)
      if not seen[a] then
        seen[a] = true
        out[#out + 1] = a
      end
    end
    ai = ai.ai_next
  end
  ffi.C.freeaddrinfo(res[0])
  return out
end

local function translator(t)
  if t == nil then return function(a) return a end end
  if type(t) == "function" then return t end
  if type(t) == "table" and type(t.translate) == "function" then
    return function(a) return t:translate(a) end
  end
  error("bad option address_translator (function or object with translate expected)", 3)
end

local function check_policy(name, p, methods)
  if p == nil then return end
  for _, m in ipairs(methods) do
    if type(p) ~= "table" or type(p[m]) ~= "function" then
      error(("bad option %s (object with a '%s' method expected)"):format(name, m), 3)
    end
  end
end

--- Creates a cluster handle (no connection is made until `connect`).
-- Options, with their defaults:
--
--  * contact_points: addresses or host names (the runner's --hosts, else
--    {"127.0.0.1"}); port (the runner's --port, else 9042);
--  * auth_provider; ssl_options (`{ca_file, cert_file, key_file, verify =
--    true, check_hostname = true, server_name}`; TLS is on when given);
--  * protocol_version (nil: negotiated by the first connection, then used
--    by all); compression (true: LZ4);
--  * load_balancing_policy (TokenAwarePolicy over DCAwareRoundRobinPolicy,
--    the local data center being the first contact point's), reconnection_policy
--    (ExponentialReconnectionPolicy(1, 600)), default_retry_policy
--    (RetryPolicy; a statement's `retry_policy` overrides it),
--    speculative_execution_policy (none; applies to statements marked
--    `is_idempotent`);
--  * connect_timeout (5 s), control_connection_timeout (2 s),
--    idle_heartbeat_interval (30 s), idle_heartbeat_timeout (30 s),
--    max_schema_agreement_wait (10 s; 0 skips the wait after DDL),
--    topology_event_refresh_window (0.1 s), schema_event_refresh_window
--    (0.2 s: schema events arriving within it cause one refresh);
--  * schema_metadata_enabled (true), token_metadata_enabled (true):
--    whether `cluster.metadata` keeps the schema and the token map;
--  * node_list: a function returning the nodes (`{address, port,
--    datacenter, rack, tokens, is_up}` each) instead of a control
--    connection: for short-lived clusters that share a node list kept
--    elsewhere (one per nginx request, fed from a shared dict); such a
--    cluster follows no server events;
--  * prepare_on_all_hosts (true), reprepare_on_up (true),
--    address_translator (a function or an object with `translate(address)`).
function M.Cluster(opts)
  opts = opts or {}
  if opts.contact_points ~= nil and type(opts.contact_points) ~= "table" then
    error("bad option contact_points (array of addresses expected)", 2)
  end
  if opts.ssl_options ~= nil and type(opts.ssl_options) ~= "table" then
    error("bad option ssl_options (table expected)", 2)
  end
  check_policy("load_balancing_policy", opts.load_balancing_policy,
               { "populate", "distance", "make_query_plan", "on_up", "on_down", "on_add", "on_remove" })
  check_policy("reconnection_policy", opts.reconnection_policy, { "new_schedule" })
  check_policy("default_retry_policy", opts.default_retry_policy,
               { "on_read_timeout", "on_write_timeout", "on_unavailable", "on_request_error" })
  check_policy("speculative_execution_policy", opts.speculative_execution_policy, { "new_plan" })
  if opts.node_list ~= nil and type(opts.node_list) ~= "function" then
    error("bad option node_list (function returning the nodes expected)", 2)
  end
  local scheduler = runtime.scheduler()
  local defaults = runtime.defaults
  local auth_provider = opts.auth_provider
  if auth_provider == nil and defaults.username then
    auth_provider = require("cql.auth").PlainTextAuthProvider(defaults.username, defaults.password or "")
  end
  local function option(name, default)
    if opts[name] == nil then return default end
    return opts[name]
  end
  local credentials_key = auth_provider and type(auth_provider.cache_key) == "function"
                          and auth_provider:cache_key() or nil
  return setmetatable({
    credentials_key = credentials_key,
    node_list = opts.node_list,
    contact_points = opts.contact_points or defaults.contact_points or { "127.0.0.1" },
    port = opts.port or defaults.port or 9042,
    auth_provider = auth_provider,
    protocol_version = opts.protocol_version,
    compression = opts.compression ~= false,
    connect_timeout = option("connect_timeout", 5),
    control_connection_timeout = option("control_connection_timeout", 2),
    idle_heartbeat_interval = option("idle_heartbeat_interval", 30),
    idle_heartbeat_timeout = option("idle_heartbeat_timeout", 30),
    max_schema_agreement_wait = option("max_schema_agreement_wait", 10),
    topology_event_refresh_window = option("topology_event_refresh_window", 0.1),
    prepare_on_all_hosts = option("prepare_on_all_hosts", true),
    reprepare_on_up = option("reprepare_on_up", true),
    load_balancing_policy = opts.load_balancing_policy
      or policies.TokenAwarePolicy(policies.DCAwareRoundRobinPolicy()),
    reconnection_policy = opts.reconnection_policy or policies.ExponentialReconnectionPolicy(1, 600),
    default_retry_policy = opts.default_retry_policy or policies.RetryPolicy(),
    speculative_execution_policy = opts.speculative_execution_policy,
    address_translator = translator(opts.address_translator),
    ssl_options = opts.ssl_options,
    -- A host that does its own TLS (nginx's cosockets) makes its settings;
    -- the libuv host takes a libcqlua OpenSSL context.
    tls = opts.ssl_options and (scheduler.host.tls_settings and scheduler.host:tls_settings(opts.ssl_options)
      or tls_context(opts.ssl_options)),
    core_connections = { [policies.HostDistance.LOCAL] = 1, [policies.HostDistance.REMOTE] = 1 },
    host = scheduler.host,
    scheduler = scheduler,
    sessions = {},
    hosts = {},     -- endpoint -> Host
    host_list = {}, -- in discovery order
    listeners = {},
    metadata = Metadata.new(),
    schema_metadata_enabled = option("schema_metadata_enabled", true),
    token_metadata_enabled = option("token_metadata_enabled", true),
    schema_event_refresh_window = option("schema_event_refresh_window", 0.2),
  }, Cluster)
end

--- Connections per host a session opens for hosts at `distance`.
function Cluster:core_connections_per_host(distance)
  return self.core_connections[distance] or 1
end

--- Sets how many connections sessions open to each host at `distance`
-- (existing pools keep their size).
function Cluster:set_core_connections_per_host(distance, n)
  if self.core_connections[distance] == nil then
    error("bad argument #1 to 'set_core_connections_per_host' (HostDistance.LOCAL or REMOTE expected)", 2)
  end
  if type(n) ~= "number" or n < 1 or n % 1 ~= 0 or n > 64 then
    error("bad argument #2 to 'set_core_connections_per_host' (integer from 1 to 64 expected)", 2)
  end
  self.core_connections[distance] = n
end

--- The options cql.connection needs to open a connection to `host`.
function Cluster:connection_options(host, keyspace)
  return {
    port = host.port, protocol_version = self.protocol_version, compression = self.compression,
    keyspace = keyspace, auth_provider = self.auth_provider, connect_timeout = self.connect_timeout,
    credentials_key = self.credentials_key,
    idle_heartbeat_interval = self.idle_heartbeat_interval,
    idle_heartbeat_timeout = self.idle_heartbeat_timeout, tls = self.tls,
    tls_name = self.ssl_options and self.ssl_options.server_name,
  }
end

local function notify(self, event, host)
  for _, l in ipairs(self.listeners) do
    if l[event] then
      local ok, err = pcall(l[event], l, host)
      if not ok then log.error("a cluster listener's ", event, " raised an error (ignored): ", err) end
    end
  end
end

local function call_policy(self, method, host)
  local ok, err = pcall(self.load_balancing_policy[method], self.load_balancing_policy, host)
  if not ok then log.error("load_balancing_policy:", method, " raised an error (ignored): ", err) end
end

--- Adds a listener: a table with any of `on_up(host)`, `on_down(host)`,
-- `on_add(host)`, `on_remove(host)` (called as methods, on the loop).
function Cluster:register_listener(listener)
  if type(listener) ~= "table" then error("bad argument #1 to 'register_listener' (table expected)", 2) end
  self.listeners[#self.listeners + 1] = listener
end

--- Removes a listener added with register_listener.
function Cluster:unregister_listener(listener)
  for i, l in ipairs(self.listeners) do
    if l == listener then return table.remove(self.listeners, i) end
  end
end

--- Every known host, in discovery order.
function Cluster:all_hosts()
  local out = {}
  for i, h in ipairs(self.host_list) do out[i] = h end
  return out
end

--- The host at `address` (and `port`, if given), or nil.
function Cluster:find_host(address, port)
  if port then return self.hosts[address .. ":" .. port] end
  for _, h in ipairs(self.host_list) do
    if h.address == address then return h end
  end
  return nil
end

--- The host at address:port, added (and announced) if new.
function Cluster:add_host(address, port)
  local endpoint = address .. ":" .. port
  local host = self.hosts[endpoint]
  if host then return host end
  host = pool.Host.new(address, port)
  self.hosts[endpoint] = host
  self.host_list[#self.host_list + 1] = host
  self.metadata:add_or_return_host(host)
  if self.populated then
    log.info("host ", endpoint, " added")
    call_policy(self, "on_add", host)
    notify(self, "on_add", host)
    for _, s in ipairs(self.sessions) do s:add_pool(host) end
  end
  return host
end

--- Forgets a host that left the cluster.
function Cluster:remove_host(host)
  if self.hosts[host.endpoint] ~= host then return end
  self.hosts[host.endpoint] = nil
  for i, h in ipairs(self.host_list) do
    if h == host then
      table.remove(self.host_list, i)
      break
    end
  end
  self.metadata:remove_host(host)
  if host.reconnector then host.reconnector.cancel() end
  for _, s in ipairs(self.sessions) do s:remove_pool(host) end
  log.info("host ", host.endpoint, " removed")
  call_policy(self, "on_remove", host)
  notify(self, "on_remove", host)
end

--- Marks `host` up (a connection to it succeeded) and opens pools to it.
function Cluster:on_up(host)
  if host.reconnector then host.reconnector.cancel() end
  if host.is_up == true or self.is_shutdown then return end
  local was_down = host.is_up == false
  host.is_up = true
  if not self.populated then return end
  if was_down then log.info("host ", host.endpoint, " is up") end
  call_policy(self, "on_up", host)
  notify(self, "on_up", host)
  for _, s in ipairs(self.sessions) do s:add_pool(host) end
end

-- Tries to connect to `host` on the reconnection policy's schedule (or at
-- once with `now`), until it answers; then marks it up.
local function reconnect(self, host, now)
  if self.is_shutdown or self.hosts[host.endpoint] ~= host then return end
  local r = host.reconnector
  if r and not now then return end
  if r then r.cancel() end
  local schedule = self.reconnection_policy:new_schedule()
  local cancelled, timer = false, nil
  r = { cancel = function()
    cancelled = true
    if timer then timer.cancel() end
    if host.reconnector and host.reconnector.cancel == r.cancel then host.reconnector = nil end
  end }
  host.reconnector = r
  local function attempt()
    if cancelled then return end
    Connection.open(self.scheduler, self.host, host.address, self:connection_options(host))
      :add_callbacks(function(conn)
        conn:close("reconnection probe")
        if cancelled then return end
        r.cancel()
        self:on_up(host)
      end, function(err)
        if cancelled then return end
        host.last_error = err
        local delay = schedule()
        if not delay then
          log.warn("giving up reconnecting to ", host.endpoint, ": ", err)
          return r.cancel()
        end
        log.debug("reconnecting to ", host.endpoint, " in ", delay, " s: ", err)
        r.next_attempt = self.host:now() + delay
        timer = self.host:timer(delay, attempt)
      end)
  end
  local delay = now and 0 or schedule()
  if delay then
    -- When the next attempt is due, on the host's clock (published by cql.ngx).
    r.next_attempt = self.host:now() + delay
    timer = self.host:timer(delay, attempt)
  else
    r.cancel()
  end
end

--- Marks `host` down: its pools close, the policy and listeners hear of
-- it, and reconnection starts.
function Cluster:on_down(host, reason)
  if host.is_up == false or self.is_shutdown then return end
  host.is_up = false
  log.warn("host ", host.endpoint, " is down: ", reason or "?")
  for _, s in ipairs(self.sessions) do s:remove_pool(host) end
  if self.populated then
    call_policy(self, "on_down", host)
    notify(self, "on_down", host)
  end
  reconnect(self, host)
end

--- A connection to `host` failed: the host is down (the seed's
-- SimpleConvictionPolicy: any connection failure convicts).
function Cluster:signal_connection_failure(host, reason)
  self:on_down(host, reason)
end

--- The server says `host` is up: reconnect to it now.
function Cluster:on_up_event(host)
  if host.is_up ~= true then reconnect(self, host, true) end
end

--- The server says `host` is down: believe it unless a connection to it
-- still works (the event may be stale, or about another network path).
function Cluster:on_down_event(host)
  if self.control and self.control.host == host and self.control.conn then return end
  for _, s in ipairs(self.sessions) do
    if s:has_open_connection(host) then return end
  end
  self:on_down(host, "the cluster reported it DOWN")
end

--- Rebuilds the token map from the hosts' tokens (after the node list
-- changed).
function Cluster:rebuild_token_map()
  if not self.token_metadata_enabled or not self.partitioner then return end
  local ok, err = self.metadata:rebuild_token_map(self.partitioner, self.host_list)
  if not ok then log.warn("cannot build the token map: ", err) end
end

local function control_execute(self)
  return function(cql, params)
    if not self.control then return nil, errors.ConnectionException { message = "no control connection" } end
    return self.control:execute(cql, params)
  end
end

-- Applies the schema events gathered during the refresh window, in order.
local function apply_schema_events(self)
  local events = self.pending_schema_events
  self.pending_schema_events = nil
  if self.is_shutdown then return end
  local execute = control_execute(self)
  for _, ev in ipairs(events) do
    local ok, err = self.metadata:handle_schema_change(ev, execute)
    if not ok and self.is_shutdown then return end
    if not ok then
      log.warn("refreshing the schema after a ", ev.target, " change failed (", err, "); reading it all")
      ok, err = self.metadata:refresh_schema(execute)
      if not ok then log.warn("refreshing the schema failed: ", err) end
      break
    end
  end
end

--- A schema change event (table with change_type, target, keyspace, name,
-- arg_types): refreshes the affected part of `cluster.metadata`; events
-- within `schema_event_refresh_window` are applied together.
function Cluster:on_schema_change(event)
  log.debug("schema change: ", event.change_type, " ", event.target, " ", event.keyspace or "",
            " ", event.name or "")
  if not self.schema_metadata_enabled then return end
  if self.pending_schema_events then
    table.insert(self.pending_schema_events, event)
    return
  end
  self.pending_schema_events = { event }
  self.host:timer(self.schema_event_refresh_window, function()
    self.scheduler:spawn_later(apply_schema_events, self)
  end)
end

--- Applies a schema change this client made (in a driver coroutine) to
-- `cluster.metadata` at once; failures are logged, the event that follows
-- will try again.
function Cluster:refresh_for_schema_change(change)
  if not self.schema_metadata_enabled or self.is_shutdown then return end
  local ok, err = self.metadata:handle_schema_change(change, control_execute(self))
  if not ok and not self.is_shutdown then log.warn("refreshing the schema metadata failed: ", err) end
end

--- Re-reads the whole schema into `cluster.metadata`; true, or nil and an
-- error.
function Cluster:refresh_schema_metadata()
  return self.metadata:refresh_schema(control_execute(self))
end

--- Re-reads one keyspace's metadata; true, or nil and an error.
function Cluster:refresh_keyspace_metadata(keyspace)
  return self.metadata:refresh_keyspace(keyspace, control_execute(self))
end

--- Re-reads one table's (or materialized view's) metadata.
function Cluster:refresh_table_metadata(keyspace, table_name)
  return self.metadata:refresh_table(keyspace, table_name, control_execute(self))
end

--- Re-reads one user type's metadata.
function Cluster:refresh_user_type_metadata(keyspace, name)
  return self.metadata:refresh_user_type(keyspace, name, control_execute(self))
end

--- Re-reads the node list (and the token map).
function Cluster:refresh_nodes()
  if not self.control then return nil, errors.ConnectionException { message = "no control connection" } end
  return self.control:refresh_nodes()
end

--- Called (in a driver coroutine) after the control connection moved to
-- another host: events may have been missed meanwhile.
function Cluster:on_control_reconnected()
  if self.schema_metadata_enabled then
    local ok, err = self:refresh_schema_metadata()
    if not ok then log.warn("cannot read the schema metadata: ", err) end
  end
  for _, h in ipairs(self.host_list) do
    if h.is_up == nil then
      for _, s in ipairs(self.sessions) do s:add_pool(h) end
    end
  end
end

-- The control connection, created on the first connect.
local function start_control(self)
  local contacts, failures = {}, {}
  for _, cp in ipairs(self.contact_points) do
    local addresses, err = resolve(cp)
    if not addresses then
      failures[cp] = errors.ConnectionException { message = ("cannot resolve %s: %s"):format(cp, err) }
    else
      for _, a in ipairs(addresses) do contacts[#contacts + 1] = self:add_host(a, self.port) end
    end
  end
  if #contacts == 0 then
    return nil, errors.NoHostAvailable { message = "Unable to connect to any servers", errors = failures }
  end
  self.contact_points_hosts = contacts
  local control = Control.new(self)
  local ok, err = control:connect(contacts)
  if not ok then
    for k, v in pairs(failures) do err.errors[k] = v end
    -- Forget the contact points, so a later connect starts afresh.
    for _, h in ipairs(self:all_hosts()) do self:remove_host(h) end
    return nil, err
  end
  self.control = control
  self.protocol_version = self.protocol_version or control.conn:protocol_version()
  if self.schema_metadata_enabled then
    local sok, serr = self:refresh_schema_metadata()
    if not sok then log.warn("cannot read the schema metadata: ", serr) end
  end
  self:rebuild_token_map()
  local policy = self.load_balancing_policy
  local pok, perr = pcall(policy.populate, policy, self, self:all_hosts())
  if not pok then error("load_balancing_policy:populate raised an error: " .. tostring(perr), 0) end
  self.populated = true
  return true
end

-- Hosts from the node_list option instead of a control connection.
local function start_from_node_list(self)
  local ok, nodes = pcall(self.node_list)
  if not ok or type(nodes) ~= "table" or #nodes == 0 then
    return nil, errors.NoHostAvailable {
      message = ok and "node_list gave no nodes" or ("node_list raised an error: " .. tostring(nodes)), errors = {} }
  end
  for _, d in ipairs(nodes) do
    local host = self:add_host(d.address, d.port or self.port)
    host.datacenter, host.rack, host.tokens = d.datacenter, d.rack, d.tokens or {}
    host.release_version, host.host_id = d.release_version, d.host_id
    if d.is_up == false then host.is_up = false end
  end
  self.contact_points_hosts = self:all_hosts()
  self.partitioner = self.partitioner or nodes.partitioner
  local policy = self.load_balancing_policy
  local pok, perr = pcall(policy.populate, policy, self, self:all_hosts())
  if not pok then error("load_balancing_policy:populate raised an error: " .. tostring(perr), 0) end
  self.populated = true
  self:rebuild_token_map()
  return true
end

--- Connects and returns a Session (optionally using `keyspace`), or nil
-- and NoHostAvailable with each host's error. The first call starts the
-- control connection; the session opens a pool to every host the
-- load-balancing policy does not ignore, and is returned once every pool
-- has finished opening (at least one successfully).
function Cluster:connect(keyspace)
  if self.is_shutdown then error("the cluster is shut down", 2) end
  if keyspace ~= nil and type(keyspace) ~= "string" then
    error("bad argument #1 to 'connect' (keyspace name expected)", 2)
  end
  if self.node_list and not self.populated then
    local ok, err = start_from_node_list(self)
    if not ok then return nil, err end
  elseif not self.control and not self.node_list then
    local ok, err = start_control(self)
    if not ok then return nil, err end
  end
  local session = Session.new(self, keyspace)
  self.sessions[#self.sessions + 1] = session
  local opening = {}
  for _, h in ipairs(self.host_list) do
    if h.is_up ~= false then
      local f = session:add_pool(h)
      if f then opening[#opening + 1] = { host = h, future = f } end
    end
  end
  local failures, any = {}, false
  for _, o in ipairs(opening) do
    local ok, err = o.future:result()
    if ok then any = true else failures[o.host.address] = err end
  end
  if not any then
    session:shutdown()
    for i, s in ipairs(self.sessions) do
      if s == session then table.remove(self.sessions, i) end
    end
    return nil, errors.NoHostAvailable { message = "Unable to connect to any servers", errors = failures }
  end
  return session
end

--- Shuts down every session, the control connection and reconnections.
function Cluster:shutdown()
  if self.is_shutdown then return end
  self.is_shutdown = true
  if self.control then self.control:shutdown() end
  for _, s in ipairs(self.sessions) do s:shutdown() end
  for _, h in ipairs(self.host_list) do
    if h.reconnector then h.reconnector.cancel() end
  end
  -- Let the closes go out before the process may exit.
  self.host:turn(0)
end

M.Session, M.ResultSet = Session, require "cql.resultset"
return M
