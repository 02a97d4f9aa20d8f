--- Cluster state shared by nginx workers through a `lua_shared_dict`.
--
-- One worker, elected by a lease in the dict, holds a control Cluster in an
-- `ngx.timer` context: it follows the server's events (topology, status),
-- keeps a session with a connection to every host (in every data center),
-- so that a host whose connection breaks is marked down at once, retries
-- down hosts at least every 10 s, and writes what it knows — hosts, data
-- centers, racks, up/down, reconnecting, versions, tokens — to the dict
-- every `interval` seconds. Every worker reads that state without
-- blocking (`cqlngx.state()`), and `cqlngx.cluster(opts)` makes a
-- request's Cluster from it: the node list comes from the dict (no control
-- connection), hosts marked down get no connection, and
-- `opts.contact_points` are used only while there is no state yet.
--
--     lua_shared_dict cqlua_cluster 1m;
--     init_worker_by_lua_block {
--       require("cql.ngx").start { dict = "cqlua_cluster", contact_points = { "10.0.0.1" } }
--     }
--     content_by_lua_block {
--       local cluster = require("cql.ngx").cluster { dict = "cqlua_cluster" }
--       ...
--       cluster:shutdown()
--     }
--
-- The lease (`ttl` seconds, renewed at every round) is released when the
-- holder's worker exits (reload, shutdown: the timer sees
-- `ngx.worker.exiting()`), and expires when the worker dies, so another
-- worker takes the role over at its next round.
-- @module cql.ngx
-- luacheck: globals ngx
local log = require "cql.log"

local M = {}

local LEASE, STATE, VERSION = "control:lease", "state", "state:version"

local function serialize(v)
  local t = type(v)
  if t == "string" then return ("%q"):format(v) end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "nil" end
    return ("%.17g"):format(v)
  end
  if t == "boolean" or t == "nil" then return tostring(v) end
  if t == "table" then
    local parts = {}
    for k, x in pairs(v) do
      local kt = type(k)
      if kt == "string" or kt == "number" then
        parts[#parts + 1] = "[" .. serialize(k) .. "]=" .. serialize(x)
      end
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return "nil" -- cdata, functions: not shared
end
M.serialize = serialize

local function deserialize(s)
  local fn = loadstring("return " .. s)
  if not fn then return nil end
  setfenv(fn, {})
  local ok, v = pcall(fn)
  if ok then return v end
  return nil
end

-- The last state decoded in this worker, by dict name: {text, value}.
local decoded = {}

local function dict_of(name)
  local d = ngx.shared[name or "cqlua_cluster"]
  if not d then
    error(("cql.ngx: no lua_shared_dict named '%s' (declare it in the http block)"):format(
      tostring(name or "cqlua_cluster")), 3)
  end
  return d
end

--- The shared state (a table: `hosts` array of {address, port, datacenter,
-- rack, is_up, reconnecting, next_attempt (the ngx.now() time of the next
-- reconnection attempt of a down host), last_error (of a down host),
-- release_version, host_id, tokens}, `updated`
-- (ngx.now() of the holder), `holder` (its worker pid), `cluster_name`,
-- `partitioner`, `local_dc`), or nil when no worker has written it yet.
-- The table is shared by this worker's callers until the state changes:
-- read it, do not modify it.
function M.state(dict_name)
  local d = dict_of(dict_name)
  local s = d:get(STATE)
  if not s then return nil end
  -- Every request's Cluster reads the state, which changes once per
  -- interval: decoding it each time (loadstring) was a tenth of the
  -- driver's CPU per request.
  local key = dict_name or "cqlua_cluster"
  local last = decoded[key]
  if last and last.text == s then return last.value end
  local value = deserialize(s)
  -- node_list's answer carries the partitioner beside the hosts.
  if type(value) == "table" and type(value.hosts) == "table" then value.hosts.partitioner = value.partitioner end
  decoded[key] = { text = s, value = value }
  return value
end

--- The pid of the worker holding the control role, or nil.
function M.holder(dict_name)
  return dict_of(dict_name):get(LEASE)
end

local function snapshot(cluster)
  local hosts = {}
  for i, h in ipairs(cluster:all_hosts()) do
    hosts[i] = { address = h.address, port = h.port, datacenter = h.datacenter, rack = h.rack,
                 is_up = h.is_up, reconnecting = h.reconnector ~= nil,
                 next_attempt = h.reconnector and h.reconnector.next_attempt,
                 last_error = h.is_up == false and h.last_error and tostring(h.last_error) or nil,
                 release_version = h.release_version,
                 host_id = h.host_id and tostring(h.host_id) or nil, tokens = h.tokens }
  end
  -- The data center a Cluster with the same contact points would call local.
  local local_dc
  for _, h in ipairs(cluster.contact_points_hosts or {}) do
    if h.datacenter then
      local_dc = h.datacenter
      break
    end
  end
  return { hosts = hosts, updated = ngx.now(), holder = ngx.worker.pid(), local_dc = local_dc,
           cluster_name = cluster.cluster_name, partitioner = cluster.partitioner }
end

-- Takes or renews the lease; true when this worker holds it.
local function lease(d, ttl)
  local pid = ngx.worker.pid()
  local ok = d:add(LEASE, pid, ttl)
  if ok then return true end
  if d:get(LEASE) == pid then
    d:set(LEASE, pid, ttl)
    return true
  end
  return false
end

local function release(d)
  if d:get(LEASE) == ngx.worker.pid() then d:delete(LEASE) end
end

-- The holder's work: a Cluster in this timer context, following events,
-- publishing its state every `interval` seconds, until the worker exits
-- or the lease is lost.
local function hold(opts, d)
  local runtime = require "cql.runtime"
  local scheduler = runtime.scheduler()
  scheduler.host.follow_events = true
  local copts = {}
  for k, v in pairs(opts.cluster_options or {}) do copts[k] = v end
  copts.contact_points = copts.contact_points or opts.contact_points
  copts.port = copts.port or opts.port
  if copts.schema_metadata_enabled == nil then copts.schema_metadata_enabled = false end
  local policies = require "cql.policies"
  -- Every host LOCAL: a connection to each, read all the time in this
  -- context, so a node that dies in any data center is convicted by its
  -- broken connection at once, not by the server's DOWN event seconds later
  -- (a data-center-aware policy would leave remote hosts without one).
  copts.load_balancing_policy = copts.load_balancing_policy or policies.RoundRobinPolicy()
  -- Requests never connect to a host the state marks down, so only this
  -- worker can see it back: retry often enough that a missed UP event
  -- costs seconds, not the default policy's ten minutes.
  copts.reconnection_policy = copts.reconnection_policy or policies.ExponentialReconnectionPolicy(1, 10)
  local cluster = require("cql.cluster").Cluster(copts)
  local session, err = cluster:connect()
  if not session then
    log.warn("cql.ngx: the control worker cannot connect: ", err)
    cluster:shutdown()
    return false
  end
  log.info("cql.ngx: worker ", ngx.worker.pid(), " holds the control connection")
  local ok, perr = pcall(function()
    while not ngx.worker.exiting() do
      d:set(STATE, serialize(snapshot(cluster)))
      d:incr(VERSION, 1, 0)
      runtime.sleep(opts.interval)
      if not lease(d, opts.ttl) then
        log.info("cql.ngx: worker ", ngx.worker.pid(), " lost the control lease")
        break
      end
    end
  end)
  if not ok then log.error("cql.ngx: the control worker failed: ", perr) end
  cluster:shutdown()
  return true
end

--- Starts the election in this worker (call from init_worker_by_lua).
-- Options: `dict` (name of the lua_shared_dict, "cqlua_cluster"),
-- `contact_points`, `port`, `cluster_options` (a table of Cluster
-- options for the control cluster; its defaults differ from Cluster's:
-- no schema metadata, `RoundRobinPolicy` so that every host has a
-- connection, `ExponentialReconnectionPolicy(1, 10)`), `interval` (seconds
-- between publications and lease renewals, 1), `ttl` (lease lifetime,
-- 5 × interval).
function M.start(opts)
  opts = opts or {}
  local d = dict_of(opts.dict)
  local o = { contact_points = opts.contact_points, port = opts.port, cluster_options = opts.cluster_options,
              interval = opts.interval or 1 }
  o.ttl = opts.ttl or o.interval * 5
  local function round(premature)
    if premature or ngx.worker.exiting() then return release(d) end
    if lease(d, o.ttl) then
      local ok, err = pcall(hold, o, d)
      if not ok then log.error("cql.ngx: the control worker failed: ", err) end
      release(d)
    end
    if ngx.worker.exiting() then return end
    local ok, err = ngx.timer.at(o.interval, round)
    if not ok then log.error("cql.ngx: cannot schedule the control election: ", err) end
  end
  local ok, err = ngx.timer.at(0, round)
  if not ok then error("cql.ngx: cannot start a timer: " .. tostring(err), 2) end
end

-- The data center requests call local: that of the first of
-- `contact_points` the state knows, else the control worker's.
local function local_dc_of(st, contact_points)
  for _, cp in ipairs(type(contact_points) == "table" and contact_points or {}) do
    for _, h in ipairs(st.hosts) do
      if h.address == cp and h.datacenter then return h.datacenter end
    end
  end
  return st.local_dc
end

--- A Cluster for this request, from the shared state: its node list is
-- the state's hosts (no control connection), hosts marked down get no
-- connection, and, unless `load_balancing_policy` is given, the policy is
-- the default one with the local data center named (that of the first of
-- `opts.contact_points` the state knows, else the control worker's), so
-- that contact points in several data centers are no ambiguity. Without
-- state yet, `opts.contact_points` are used as by any Cluster. Other
-- options are passed to Cluster; schema and token metadata are off unless
-- asked for.
-- @param opts Cluster options, and `dict` (the lua_shared_dict's name)
-- @return the Cluster (not connected)
function M.cluster(opts)
  opts = opts or {}
  local copts = {}
  for k, v in pairs(opts) do
    if k ~= "dict" then copts[k] = v end
  end
  if copts.schema_metadata_enabled == nil then copts.schema_metadata_enabled = false end
  if copts.token_metadata_enabled == nil then copts.token_metadata_enabled = false end
  local st = M.state(opts.dict)
  if st and st.hosts and #st.hosts > 0 then
    local up, down = {}, {}
    for _, h in ipairs(st.hosts) do
      if h.is_up == false then down[#down + 1] = h.address else up[#up + 1] = h.address end
    end
    for _, a in ipairs(down) do up[#up + 1] = a end
    copts.contact_points = up
    copts.port = copts.port or st.hosts[1].port
    if copts.load_balancing_policy == nil then
      -- The node list spans every data center: without a named local one,
      -- the policy would guess from it, and warn, at every request.
      local policies = require "cql.policies"
      copts.load_balancing_policy = policies.TokenAwarePolicy(policies.DCAwareRoundRobinPolicy {
        local_dc = local_dc_of(st, opts.contact_points) })
    end
    -- The elected worker keeps the node list: no control connection per request.
    local hosts = st.hosts
    copts.node_list = copts.node_list or function() return hosts end
  end
  return require("cql.cluster").Cluster(copts)
end

return M
