--- The control connection (the seed's `ControlConnection`): one extra
-- connection per cluster that discovers the nodes (`system.local`, then
-- `system.peers_v2`, or `system.peers` on servers without it), registers
-- for topology, status and schema events and follows them. When it is
-- lost it moves to another host, with the cluster's reconnection policy
-- between rounds.
--
-- Its work runs in driver coroutines: `connect` and the refreshes wait
-- (yielding or blocking), event handlers are queued onto the loop.
-- @module cql.control
local Connection = require "cql.connection"
local ResultSet = require "cql.resultset"
local encoder = require "cql.encoder"
local errors = require "cql.errors"
local log = require "cql.log"
local query = require "cql.query"

local Control = {}
Control.__index = Control

local EVENTS = { "TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE" }

--- A control connection for `cluster` (not connected yet).
function Control.new(cluster)
  return setmetatable({ cluster = cluster, scheduler = cluster.scheduler }, Control)
end

-- Runs a query on the control connection; returns every row (dicts, all
-- pages) or nil and an error.
local function rows(self, cql)
  local out, state = {}, nil
  repeat
    local conn = self.conn
    if not conn then return nil, errors.ConnectionException { message = "no control connection" } end
    local res, err = conn:query(cql, self.cluster.control_connection_timeout,
                                { page_size = 5000, paging_state = state }):result()
    if not res then return nil, err end
    local rs, rerr = ResultSet.from_response(res, query.dict_factory)
    if not rs then return nil, rerr end
    for _, row in ipairs(rs.current_rows) do out[#out + 1] = row end
    state = rs.paging_state
  until not state
  return out
end

--- Runs `cql` (with `%s` parameters) on the control connection: the
-- `execute` function cql.metadata's refreshes take. Returns the rows, or
-- nil and an error.
function Control:execute(cql, params)
  return rows(self, encoder.bind_params(cql, params))
end

local function token_list(set)
  local out = {}
  if set then
    for t in set:iter() do out[#out + 1] = t end
  end
  return out
end

-- Copies what a system.local / peers row says about a node into `host`.
local function update_host(host, row)
  host.datacenter = row.data_center
  host.rack = row.rack
  host.release_version = row.release_version
  host.host_id = row.host_id
  host.schema_version = row.schema_version
  host.tokens = token_list(row.tokens)
  host.broadcast_address = row.broadcast_address or row.peer
  host.listen_address = row.listen_address
end

--- Reads system.local and the peers table and brings the cluster's host
-- list in line: new nodes are added, vanished ones removed. Returns true,
-- or nil and an error.
function Control:refresh_nodes()
  local cluster = self.cluster
  local local_rows, err = rows(self, "SELECT * FROM system.local WHERE key = 'local'")
  if not local_rows then return nil, err end
  local seen = {}
  local me = local_rows[1]
  if me then
    local host = cluster:add_host(self.conn.address, cluster.port)
    update_host(host, me)
    host.partitioner = me.partitioner
    cluster.partitioner = me.partitioner
    cluster.cluster_name = me.cluster_name
    cluster.metadata.cluster_name = me.cluster_name
    seen[host] = true
  end
  local peers
  if not self.no_peers_v2 then
    peers, err = rows(self, "SELECT * FROM system.peers_v2")
    if not peers and err.name == "InvalidRequest" then
      -- Servers before 4.0 have no peers_v2; remember and use peers.
      self.no_peers_v2 = true
    elseif not peers then
      return nil, err
    end
  end
  if not peers then
    peers, err = rows(self, "SELECT * FROM system.peers")
    if not peers then return nil, err end
  end
  for _, row in ipairs(peers) do
    local address = row.native_address or row.rpc_address
    -- A node configured with rpc_address 0.0.0.0 reports that; the peer
    -- column is the address it is reachable at then.
    if address == nil or address == "0.0.0.0" or address == "::" then address = row.peer end
    if address then
      address = cluster.address_translator(address)
      local host = cluster:add_host(address, row.native_port or cluster.port)
      update_host(host, row)
      seen[host] = true
    end
  end
  for _, host in ipairs(cluster:all_hosts()) do
    if not seen[host] then cluster:remove_host(host) end
  end
  cluster:rebuild_token_map()
  return true
end

-- The address an event names, as a known host (or nil).
local function event_host(self, ev)
  local a = ev.node.addr
  if a.len ~= 4 and a.len ~= 16 then return nil end
  local address = require("cql.util.inet").inet_ntop(require("ffi").string(a.addr, a.len))
  return self.cluster:find_host(self.cluster.address_translator(address)), address
end

local function str(s)
  return ResultSet.cq_str(s)
end

-- Handles a server event (runs as a callback: queues the work).
local function on_event(self, res)
  local ev = res.response.u.event
  local kind, change = str(ev.type), str(ev.change)
  local cluster = self.cluster
  if kind == "SCHEMA_CHANGE" then
    local s = ev.schema
    local args = {}
    for i = 0, s.narg_types - 1 do args[i + 1] = str(s.arg_types[i]) end
    cluster:on_schema_change { change_type = str(s.change_type), target = str(s.target),
                               keyspace = str(s.keyspace), name = str(s.name), arg_types = args }
    return
  end
  local host, address = event_host(self, ev)
  log.debug("event ", kind, " ", change, " ", address)
  if kind == "TOPOLOGY_CHANGE" then
    -- NEW_NODE, REMOVED_NODE, MOVED_NODE: the peers table says it all.
    self:schedule_refresh()
  elseif kind == "STATUS_CHANGE" then
    if change == "UP" then
      if host then cluster:on_up_event(host) else self:schedule_refresh() end
    elseif change == "DOWN" and host then
      cluster:on_down_event(host)
    end
  end
end

--- Refreshes the node list soon, once however many events ask for it
-- meanwhile.
function Control:schedule_refresh()
  if self.refresh_pending or self.cluster.is_shutdown then return end
  self.refresh_pending = true
  self.cluster.host:timer(self.cluster.topology_event_refresh_window, function()
    self.scheduler:spawn_later(function()
      self.refresh_pending = false
      local ok, err = self:refresh_nodes()
      if not ok then log.warn("control connection: refreshing the node list failed: ", err) end
    end)
  end)
end

local function open_on(self, host)
  local cluster = self.cluster
  local opts = cluster:connection_options(host)
  opts.events = EVENTS
  opts.on_server_event = function(res) on_event(self, res) end
  opts.on_close = function(conn, reason)
    if conn.ready and conn == self.conn then
      self.conn = nil
      if not self.is_shutdown then
        log.warn("control connection to ", host.endpoint, " lost: ", reason)
        cluster:signal_connection_failure(host, reason)
        self:reconnect()
      end
    end
  end
  return Connection.open(cluster.scheduler, cluster.host, host.address, opts):result()
end

--- Connects to the first host that answers (the contact points, or the
-- load-balancing plan once hosts are known), then loads the node list.
-- Returns true, or nil and NoHostAvailable with each host's error.
-- @param hosts an array of Host objects to try, in order
function Control:connect(hosts)
  local failures = {}
  for _, host in ipairs(hosts) do
    if self.is_shutdown then break end
    local conn, err = open_on(self, host)
    if conn then
      self.conn, self.host = conn, host
      local ok, rerr = self:refresh_nodes()
      if ok then
        self.cluster:on_up(host)
        return true
      end
      conn:close("refreshing the node list failed")
      self.conn = nil
      err = rerr
    end
    failures[host.address] = err
    -- Once the cluster runs, a host that does not answer is down; before
    -- that, a contact point that fails is only reported by connect.
    if self.cluster.populated and err.name ~= "AuthenticationFailed" then
      self.cluster:signal_connection_failure(host, tostring(err))
    end
  end
  return nil, errors.NoHostAvailable { message = "Unable to connect to any servers", errors = failures }
end

--- Reconnects after the connection was lost: tries the hosts in the
-- load-balancing order; when none answers, tries again after the
-- reconnection policy's next delay.
function Control:reconnect()
  if self.reconnecting or self.is_shutdown then return end
  self.reconnecting = true
  local cluster = self.cluster
  local schedule = cluster.reconnection_policy:new_schedule()
  local function attempt()
    self.scheduler:spawn_later(function()
      if self.is_shutdown then return end
      local hosts = {}
      for h in cluster.load_balancing_policy:make_query_plan() do hosts[#hosts + 1] = h end
      -- Hosts marked down may be back: try them after the others.
      for _, h in ipairs(cluster:all_hosts()) do
        if h.is_up == false then hosts[#hosts + 1] = h end
      end
      local ok, err = self:connect(hosts)
      if ok then
        self.reconnecting = false
        log.info("control connection re-established to ", self.host.endpoint)
        cluster:on_control_reconnected()
        return
      end
      local delay = schedule()
      if not delay then
        self.reconnecting = false
        log.error("control connection: giving up reconnecting: ", err)
        return
      end
      self.timer = cluster.host:timer(delay, attempt)
    end)
  end
  attempt()
end

--- Closes the control connection for good.
function Control:shutdown()
  self.is_shutdown = true
  if self.timer then self.timer.cancel() end
  if self.conn then self.conn:close("cluster shut down") end
  self.conn = nil
end

return Control
