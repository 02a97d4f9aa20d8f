--- Load-balancing policies beyond round robin, and routing keys.
--
-- Every policy here has the seed's interface (`populate(cluster, hosts)`,
-- `distance(host)`, `make_query_plan(keyspace, statement)` returning an
-- iterator over hosts, `on_up/on_down/on_add/on_remove(host)`), so they
-- compose with each other and with policies written in Lua:
--
--     local lb = require "cql.policies.load_balancing"
--     local policy = lb.TokenAwarePolicy(lb.DCAwareRoundRobinPolicy { local_dc = "dc1" })
--
-- Plans are lazy: a plan computes the next host only when the caller pulls
-- it, so a request answered by its first host costs one replica lookup and
-- a few table reads (see bench/lb.lua). A host whose `is_up` is false is
-- left out of plans; `nil` (not tried yet) counts as up.
--
-- The plans are built in Lua, not in the C core (bench/lb.lua measures
-- why): the expensive step, hashing the routing key and reading the
-- precomputed replicas, is already C (`cql.metadata.token_map`); every lazy
-- plan must be a Lua closure, which LuaJIT does not compile and which
-- costs as much as the ordering around it; and the token-aware ordering
-- asks the child's `distance` of each replica, which may be Lua code, so a
-- C ordering could not serve Lua children without calling back.
-- @module cql.policies.load_balancing
local bit = require "bit"
local log = require "cql.log"

local M = {}

--- How far a host is (the same values as `cql.policies.HostDistance`).
local HostDistance = { LOCAL = 0, REMOTE = 1, IGNORED = 2 }
M.HostDistance = HostDistance
local LOCAL, REMOTE, IGNORED = HostDistance.LOCAL, HostDistance.REMOTE, HostDistance.IGNORED

local LB_METHODS = { "populate", "distance", "make_query_plan", "on_up", "on_down", "on_add", "on_remove" }

local function check_child(fname, child)
  if type(child) ~= "table" and type(child) ~= "userdata" then
    error(("bad argument #1 to '%s' (load balancing policy expected, got %s)"):format(fname, type(child)), 3)
  end
  for _, m in ipairs(LB_METHODS) do
    if type(child[m]) ~= "function" then
      error(("bad argument #1 to '%s' (the child policy has no method '%s')"):format(fname, m), 3)
    end
  end
end

local function is_down(h) return h.is_up == false end

-- Host lists are replaced, never changed in place, so plans already handed
-- out keep walking the list they started with.
local function without(list, host)
  local out = {}
  for _, h in ipairs(list) do
    if h ~= host then out[#out + 1] = h end
  end
  return out
end

local function with(list, host)
  local out = without(list, host)
  out[#out + 1] = host
  return out
end

local function class(name)
  local cls = { __name = name }
  cls.__index = cls
  cls.__tostring = function() return name end
  return cls
end

-- The empty plan, and an empty host list.
local function no_hosts() return nil end
local EMPTY = {}

-- Routing keys ---------------------------------------------------------------

local UNSET -- cql.query.UNSET_VALUE, loaded on first use (query.lua loads the codec)

local function unset_value()
  if UNSET == nil then UNSET = require("cql.util.sentinels").UNSET_VALUE end
  return UNSET
end

-- The composite layout, in Lua: a string concatenation is a few times
-- cheaper than the FFI arrays cql.murmur3.routing_key needs (bench/lb.lua).
local char, band, rshift, concat = string.char, bit.band, bit.rshift, table.concat
local function composite(parts, n)
  n = n or #parts
  local buf = {}
  for i = 1, n do
    local p = parts[i]
    local len = #p
    buf[3 * i - 2], buf[3 * i - 1], buf[3 * i] = char(rshift(len, 8), band(len, 255)), p, "\0"
  end
  return concat(buf, "", 1, 3 * n)
end

--- The serialized routing key of `parts`, an array of serialized partition
-- key components: one component as is, several in the composite layout
-- (`<length:2><bytes><0>` per component).
-- @tparam {string,...} parts
-- @treturn string
function M.encode_routing_key(parts)
  if type(parts) ~= "table" then
    error("bad argument #1 to 'encode_routing_key' (array of strings expected, got " .. type(parts) .. ")", 2)
  end
  for i = 1, #parts do
    if type(parts[i]) ~= "string" then
      error(("bad argument #1 to 'encode_routing_key' (component %d is a %s, string expected)")
        :format(i, type(parts[i])), 2)
    end
    if #parts[i] > 0xFFFF and #parts > 1 then
      error(("bad argument #1 to 'encode_routing_key' (component %d is over 65535 bytes)"):format(i), 2)
    end
  end
  if #parts == 0 then error("bad argument #1 to 'encode_routing_key' (at least one component expected)", 2) end
  if #parts == 1 then return parts[1] end
  return composite(parts)
end

local function bound_routing_key(statement)
  local ps = statement.prepared_statement
  local idx, bodies = ps.routing_key_indexes, statement.bodies
  local n = idx and #idx or 0
  if n == 0 or type(bodies) ~= "table" then return nil end
  local unset = unset_value()
  if n == 1 then
    local b = bodies[idx[1] + 1]
    if type(b) ~= "string" or b == unset then return nil end
    return b
  end
  local parts = {}
  for i = 1, n do
    local b = bodies[idx[i] + 1]
    -- A null or unset component: the server will reject the statement;
    -- there is nothing to route on.
    if type(b) ~= "string" or b == unset then return nil end
    parts[i] = b
  end
  return composite(parts, n)
end

--- The routing key of a statement, or nil when it has none:
--
--  * a `routing_key` set on the statement itself (a string of serialized
--    bytes, or an array of serialized components, as on the seed's
--    `SimpleStatement(routing_key=...)`);
--  * for a BoundStatement, its values at the prepared statement's
--    `routing_key_indexes` (one component: its bytes; several: the
--    composite layout); nil when a component is null or unset;
--  * for a BatchStatement, the routing key of its first statement that
--    has one.
-- @param statement a statement (or nil)
-- @treturn string|nil
function M.routing_key(statement)
  if type(statement) ~= "table" then return nil end
  local rk = rawget(statement, "routing_key")
  if rk ~= nil then
    if type(rk) == "string" then return rk end
    if type(rk) == "table" then return M.encode_routing_key(rk) end
    error("bad routing_key on the statement (string or array of strings expected, got " .. type(rk) .. ")", 2)
  end
  if type(statement.prepared_statement) == "table" then return bound_routing_key(statement) end
  local entries = rawget(statement, "entries")
  if type(entries) == "table" then
    for _, e in ipairs(entries) do
      local k = e.bound and M.routing_key(e.bound)
      if k then return k end
    end
  end
  return nil
end

--- The keyspace a statement's routing key belongs to: the statement's own
-- `keyspace`; for a bound statement the keyspace of its partition key
-- columns (as the server described them), else the one it was prepared
-- in; for a batch, that of its first statement that has one; else
-- `working_keyspace` (the session's).
-- @param statement a statement (or nil)
-- @tparam string|nil working_keyspace
-- @treturn string|nil
function M.routing_keyspace(statement, working_keyspace)
  if type(statement) ~= "table" then return working_keyspace end
  local ks = rawget(statement, "keyspace")
  if type(ks) == "string" then return ks end
  local ps = statement.prepared_statement
  if type(ps) == "table" then
    local idx, cols = ps.routing_key_indexes, ps.column_metadata
    local col = idx and idx[1] and cols and cols[idx[1] + 1]
    if col and type(col.keyspace) == "string" then return col.keyspace end
    if type(ps.keyspace) == "string" then return ps.keyspace end
    return working_keyspace
  end
  local entries = rawget(statement, "entries")
  if type(entries) == "table" then
    for _, e in ipairs(entries) do
      if e.bound and M.routing_key(e.bound) then return M.routing_keyspace(e.bound, working_keyspace) end
    end
  end
  return working_keyspace
end

-- DCAwareRoundRobinPolicy --------------------------------------------------

local DCAware = class("DCAwareRoundRobinPolicy")

--- Round robin over the hosts of the local data center, then up to
-- `used_hosts_per_remote_dc` hosts of each remote data center (the first
-- that are not down, in discovery order). Local hosts are LOCAL, those
-- remote hosts REMOTE, every other host IGNORED (no connections).
--
-- Without `local_dc`, the local data center is that of the contact points
-- (`cluster.contact_points_hosts`, else the hosts whose address is one of
-- `cluster.contact_points`); a warning is logged when they span several
-- data centers (the first contact point's wins).
--
-- Called as `DCAwareRoundRobinPolicy{local_dc = "dc1",
-- used_hosts_per_remote_dc = 1}` or, as in the seed,
-- `DCAwareRoundRobinPolicy("dc1", 1)`.
-- @param local_dc the local data center's name, or an options table
-- @param used_hosts_per_remote_dc (default 0)
M.DCAwareRoundRobinPolicy = setmetatable(DCAware, {
  __call = function(cls, local_dc, used)
    if type(local_dc) == "table" then
      for k in pairs(local_dc) do
        if k ~= "local_dc" and k ~= "used_hosts_per_remote_dc" then
          error(("bad option '%s' for DCAwareRoundRobinPolicy"):format(tostring(k)), 2)
        end
      end
      local_dc, used = local_dc.local_dc, local_dc.used_hosts_per_remote_dc
    end
    if local_dc == "" then local_dc = nil end
    if local_dc ~= nil and type(local_dc) ~= "string" then
      error("bad argument 'local_dc' to 'DCAwareRoundRobinPolicy' (string expected, got " .. type(local_dc) .. ")", 2)
    end
    used = used or 0
    if type(used) ~= "number" or used < 0 or used % 1 ~= 0 then
      error("bad argument 'used_hosts_per_remote_dc' to 'DCAwareRoundRobinPolicy' "
        .. "(non-negative integer expected, got " .. tostring(used) .. ")", 2)
    end
    return setmetatable({ local_dc = local_dc, used_hosts_per_remote_dc = used, dc_hosts = {}, dcs = {},
                          position = 0 }, cls)
  end,
})

local function dc_of(host) return host.datacenter end

-- The per-DC lists and the DC order are replaced on every change (joins
-- and leaves are rare), so plans in flight keep the view they started with.
local function copy(map)
  local out = {}
  for k, v in pairs(map) do out[k] = v end
  return out
end

local function add_to_dc(self, host)
  local dc = dc_of(host)
  if dc == nil then return end
  local map = copy(self.dc_hosts)
  if not map[dc] then self.dcs = with(self.dcs, dc) end
  map[dc] = with(map[dc] or {}, host)
  self.dc_hosts = map
end

local function remove_from_dc(self, host)
  local map, changed = copy(self.dc_hosts), false
  for dc, list in pairs(self.dc_hosts) do
    local out = without(list, host)
    if #out ~= #list then
      changed = true
      if #out == 0 then
        map[dc] = nil
        self.dcs = without(self.dcs, dc)
      else
        map[dc] = out
      end
    end
  end
  if changed then self.dc_hosts = map end
end

-- The contact points' hosts, in contact point order.
local function contact_hosts(cluster, hosts)
  if type(cluster) ~= "table" then return {} end
  if type(cluster.contact_points_hosts) == "table" then return cluster.contact_points_hosts end
  local out = {}
  for _, cp in ipairs(type(cluster.contact_points) == "table" and cluster.contact_points or {}) do
    for _, h in ipairs(hosts) do
      if h.address == cp or h.endpoint == cp then out[#out + 1] = h end
    end
  end
  return out
end

--- Takes the initial hosts, and the local data center from the contact
-- points when none was given.
function DCAware:populate(cluster, hosts)
  self.dc_hosts, self.dcs = {}, {}
  for _, h in ipairs(hosts) do add_to_dc(self, h) end
  self.contacts = contact_hosts(cluster, hosts)
  local dcs, seen = {}, {}
  for _, h in ipairs(self.contacts) do
    local dc = dc_of(h)
    if dc and not seen[dc] then
      seen[dc] = true
      dcs[#dcs + 1] = dc
    end
  end
  if not self.local_dc then
    if dcs[1] then
      self.local_dc = dcs[1]
      log.info("Using datacenter '", dcs[1], "' for DCAwareRoundRobinPolicy (from the contact points)")
    end
    if #dcs > 1 then
      log.warn("the contact points span several data centers (", table.concat(dcs, ", "), "); using '",
               dcs[1], "' as the local one for DCAwareRoundRobinPolicy: give local_dc to choose")
    end
  elseif #dcs > 0 and not seen[self.local_dc] then
    log.warn("DCAwareRoundRobinPolicy: local_dc '", self.local_dc, "' is not the data center of any contact point (",
             table.concat(dcs, ", "), ")")
  end
  if #hosts > 0 then self.position = math.random(0, #hosts - 1) end
end

-- The hosts of remote data center `dc` that get connections and requests.
local function remote_used(self, dc)
  local n = self.used_hosts_per_remote_dc
  local list = self.dc_hosts[dc]
  if n == 0 or not list then return nil end
  return list, n
end

--- LOCAL in the local data center; REMOTE for the first
-- `used_hosts_per_remote_dc` hosts not down of each remote one; else
-- IGNORED.
function DCAware:distance(host)
  local dc = dc_of(host)
  if dc == nil then return IGNORED end
  if dc == self.local_dc then return LOCAL end
  local list, n = remote_used(self, dc)
  if not list then return IGNORED end
  for _, h in ipairs(list) do
    if n == 0 then break end
    if h == host then return is_down(h) and IGNORED or REMOTE end
    if not is_down(h) then n = n - 1 end
  end
  return IGNORED
end

-- The next host of a DC-aware plan. Plans keep their state in one table
-- and their iterator closes over it alone: LuaJIT does not compile closure
-- creation, and each upvalue costs an allocation (see bench/lb.lua).
local function dc_next(st)
  local local_hosts, nl = st.local_hosts, st.nl
  while st.i < nl do
    local h = local_hosts[(st.start + st.i) % nl + 1]
    st.i = st.i + 1
    if not is_down(h) then return h end
  end
  local per_dc = st.per_dc
  if per_dc == 0 then return nil end
  while true do
    local remote = st.remote
    if remote then
      while st.taken < per_dc and st.ri < #remote do
        st.ri = st.ri + 1
        local h = remote[st.ri]
        if not is_down(h) then
          st.taken = st.taken + 1
          return h
        end
      end
    end
    st.di = st.di + 1
    local dc = st.dcs[st.di]
    if dc == nil then
      st.per_dc = 0
      return nil
    end
    if dc ~= st.local_dc then
      st.remote, st.ri, st.taken = st.dc_hosts[dc], 0, 0
    else
      st.remote = false
    end
  end
end

--- A lazy plan: the local hosts not down, starting one further at each
-- plan, then up to `used_hosts_per_remote_dc` hosts not down of each
-- remote data center.
function DCAware:make_query_plan()
  local dc_hosts, local_dc = self.dc_hosts, self.local_dc
  local local_hosts = local_dc and dc_hosts[local_dc] or EMPTY
  local nl = #local_hosts
  local pos = self.position
  self.position = pos + 1
  local st = { local_hosts = local_hosts, nl = nl, start = nl > 0 and pos % nl or 0, i = 0,
               per_dc = self.used_hosts_per_remote_dc, dcs = self.dcs, dc_hosts = dc_hosts, local_dc = local_dc,
               di = 0, remote = false, ri = 0, taken = 0 }
  return function() return dc_next(st) end
end

--- A host came up: the local data center is learnt from it when still
-- unknown and it is a contact point.
function DCAware:on_up(host)
  if not self.local_dc and dc_of(host) then
    for _, h in ipairs(self.contacts or {}) do
      if h == host then
        self.local_dc = dc_of(host)
        log.info("Using datacenter '", self.local_dc, "' for DCAwareRoundRobinPolicy (via host ", host.endpoint, ")")
        break
      end
    end
  end
end

--- Nothing to do: plans skip hosts marked down.
function DCAware.on_down() end

--- A host joined the cluster.
function DCAware:on_add(host)
  remove_from_dc(self, host)
  add_to_dc(self, host)
end

--- A host left the cluster.
function DCAware:on_remove(host)
  remove_from_dc(self, host)
end

-- TokenAwarePolicy ---------------------------------------------------------

local TokenAware = class("TokenAwarePolicy")

--- Sends a statement to its replicas first: the replicas of the
-- statement's routing key (see `routing_key`) in its keyspace (see
-- `routing_keyspace`) that are not down and LOCAL for the child policy, in
-- ring order or shuffled (`shuffle_replicas`), then the child's plan
-- without them. Statements without a routing key or keyspace, or whose
-- replicas are unknown, follow the child's plan. The child may be any
-- policy, one written in Lua included. Replicas come from
-- `cluster.metadata:get_replicas(keyspace, routing_key)`.
-- @param child the child policy
-- @tparam boolean shuffle_replicas
M.TokenAwarePolicy = setmetatable(TokenAware, {
  __call = function(cls, child, shuffle_replicas)
    check_child("TokenAwarePolicy", child)
    return setmetatable({ child = child, shuffle_replicas = shuffle_replicas and true or false }, cls)
  end,
})

--- Populates the child; keeps the cluster for its metadata.
function TokenAware:populate(cluster, hosts)
  self.cluster = cluster
  self.child:populate(cluster, hosts)
end

--- The child's distance.
function TokenAware:distance(host) return self.child:distance(host) end

local function shuffle(t)
  for i = #t, 2, -1 do
    local j = math.random(i)
    t[i], t[j] = t[j], t[i]
  end
end

-- The next host of a token-aware plan (state in one table, see dc_next).
local function ta_next(st)
  local replicas = st.replicas
  if not replicas then
    -- get_replicas returns a fresh table: keep the usable replicas in place
    replicas = st.md:get_replicas(st.ks, st.rk)
    local child, n = st.child, 0
    for j = 1, #replicas do
      local h = replicas[j]
      replicas[j] = nil
      if not is_down(h) and child:distance(h) == LOCAL then
        n = n + 1
        replicas[n] = h
      end
    end
    if st.shuffle and n > 1 then shuffle(replicas) end
    st.replicas, st.nr = replicas, n
  end
  local ri, nr = st.ri, st.nr
  if ri < nr then
    st.ri = ri + 1
    return replicas[ri + 1]
  end
  local plan = st.child_plan
  if not plan then
    plan = st.child:make_query_plan(st.keyspace, st.statement) or no_hosts
    st.child_plan = plan
  end
  while true do
    local h = plan()
    if h == nil then return nil end
    local dup = false
    for j = 1, nr do
      if replicas[j] == h then
        dup = true
        break
      end
    end
    if not dup then return h end
  end
end

--- A lazy plan: the replica lookup happens when the first host is pulled,
-- the child's plan is made when the replicas run out.
function TokenAware:make_query_plan(keyspace, statement)
  local cluster = self.cluster
  local md = cluster and cluster.metadata
  local rk = md and M.routing_key(statement)
  local ks = rk and M.routing_keyspace(statement, keyspace)
  if not ks then return self.child:make_query_plan(keyspace, statement) end
  local st = { md = md, ks = ks, rk = rk, child = self.child, shuffle = self.shuffle_replicas, keyspace = keyspace,
               statement = statement, replicas = false, nr = 0, ri = 0, child_plan = false }
  return function() return ta_next(st) end
end

--- Host state changes go to the child.
function TokenAware:on_up(host) self.child:on_up(host) end
function TokenAware:on_down(host) self.child:on_down(host) end
function TokenAware:on_add(host) self.child:on_add(host) end
function TokenAware:on_remove(host) self.child:on_remove(host) end

--- Passes a latency sample on to the child, if it takes them.
function TokenAware:record_latency(host, seconds)
  if type(self.child.record_latency) == "function" then self.child:record_latency(host, seconds) end
end

-- WhiteListRoundRobinPolicy ------------------------------------------------

local WhiteList = class("WhiteListRoundRobinPolicy")

--- Round robin over the listed hosts only: `hosts` is an array of IP
-- addresses (or "address:port" endpoints); those hosts are LOCAL, every
-- other IGNORED. Names are not resolved: give addresses.
-- @tparam {string,...} hosts
M.WhiteListRoundRobinPolicy = setmetatable(WhiteList, {
  __call = function(cls, hosts)
    if type(hosts) ~= "table" or #hosts == 0 then
      error("bad argument #1 to 'WhiteListRoundRobinPolicy' (non-empty array of addresses expected)", 2)
    end
    local allowed = {}
    for i, a in ipairs(hosts) do
      if type(a) ~= "string" then
        error(("bad argument #1 to 'WhiteListRoundRobinPolicy' (entry %d is a %s, address expected)")
          :format(i, type(a)), 2)
      end
      allowed[a] = true
    end
    return setmetatable({ whitelist = hosts, allowed = allowed, hosts = {}, position = 0 }, cls)
  end,
})

local function allowed(self, host)
  return self.allowed[host.address] or self.allowed[host.endpoint] or false
end

--- Keeps the listed hosts among those known.
function WhiteList:populate(_, hosts)
  local list = {}
  for _, h in ipairs(hosts) do
    if allowed(self, h) then list[#list + 1] = h end
  end
  self.hosts = list
  if #list > 0 then self.position = math.random(0, #list - 1) end
end

--- LOCAL for a listed host, else IGNORED.
function WhiteList:distance(host)
  return allowed(self, host) and LOCAL or IGNORED
end

local function wl_next(st)
  local hosts, n = st.hosts, st.n
  while st.i < n do
    local h = hosts[(st.start + st.i) % n + 1]
    st.i = st.i + 1
    if not is_down(h) then return h end
  end
  return nil
end

--- A lazy round-robin plan over the listed hosts not down.
function WhiteList:make_query_plan()
  local hosts = self.hosts
  local n = #hosts
  local st = { hosts = hosts, n = n, start = n > 0 and self.position % n or 0, i = 0 }
  self.position = self.position + 1
  return function() return wl_next(st) end
end

--- Nothing to do: plans skip hosts marked down.
function WhiteList.on_up() end
function WhiteList.on_down() end

--- A listed host joined the cluster.
function WhiteList:on_add(host)
  if allowed(self, host) then self.hosts = with(self.hosts, host) end
end

--- A host left the cluster.
function WhiteList:on_remove(host)
  self.hosts = without(self.hosts, host)
end

-- HostFilterPolicy ---------------------------------------------------------

local HostFilter = class("HostFilterPolicy")
local host_filter_methods = HostFilter
HostFilter.__index = function(self, k)
  if k == "predicate" then return rawget(self, "_predicate") end
  return host_filter_methods[k]
end
HostFilter.__newindex = function(self, k, v)
  if k == "predicate" then error("HostFilterPolicy.predicate is read-only", 2) end
  rawset(self, k, v)
end

--- Keeps the hosts for which `predicate(host)` is falsy out of the child's
-- plans, and IGNORED (no connections); the child never hears of them.
-- `policy.predicate` is read-only.
-- @param child the child policy
-- @tparam function predicate
M.HostFilterPolicy = setmetatable(HostFilter, {
  __call = function(cls, child, predicate)
    check_child("HostFilterPolicy", child)
    if type(predicate) ~= "function" then
      error("bad argument #2 to 'HostFilterPolicy' (function expected, got " .. type(predicate) .. ")", 2)
    end
    local self = setmetatable({}, cls)
    rawset(self, "child", child)
    rawset(self, "_predicate", predicate)
    return self
  end,
})

local function accepts(self, host) return rawget(self, "_predicate")(host) end

--- Populates the child with the accepted hosts.
function HostFilter:populate(cluster, hosts)
  local kept = {}
  for _, h in ipairs(hosts) do
    if accepts(self, h) then kept[#kept + 1] = h end
  end
  self.child:populate(cluster, kept)
end

--- IGNORED for a rejected host, else the child's distance.
function HostFilter:distance(host)
  if not accepts(self, host) then return IGNORED end
  return self.child:distance(host)
end

--- The child's plan without the rejected hosts (lazily).
function HostFilter:make_query_plan(keyspace, statement)
  local plan = self.child:make_query_plan(keyspace, statement)
  return function()
    while true do
      local h = plan()
      if h == nil or accepts(self, h) then return h end
    end
  end
end

--- Host state changes of accepted hosts go to the child.
function HostFilter:on_up(host) if accepts(self, host) then self.child:on_up(host) end end
function HostFilter:on_down(host) if accepts(self, host) then self.child:on_down(host) end end
function HostFilter:on_add(host) if accepts(self, host) then self.child:on_add(host) end end
function HostFilter:on_remove(host) if accepts(self, host) then self.child:on_remove(host) end end

--- Passes a latency sample on to the child, if it takes them.
function HostFilter:record_latency(host, seconds)
  if type(self.child.record_latency) == "function" then self.child:record_latency(host, seconds) end
end

-- LatencyAwarePolicy -------------------------------------------------------

local LatencyAware = class("LatencyAwarePolicy")

local LATENCY_OPTIONS = { exclusion_threshold = 2, scale = 0.1, retry_period = 10, update_rate = 0.1,
                          min_measured = 50 }

--- Moves hosts much slower than the fastest to the end of the child's
-- plans (the Java driver's LatencyAwarePolicy). Each host's latency is an
-- average decaying with time (`scale` seconds: older samples weigh less
-- the longer ago they were taken), fed by `record_latency`. A host with at
-- least `min_measured` samples whose average exceeds `exclusion_threshold`
-- times the best average is *excluded*: its place in plans is taken by the
-- others and it comes last. The best average is recomputed at most every
-- `update_rate` seconds. A host without samples for `retry_period`
-- seconds (an excluded host gets few) is given its place again, so that a
-- recovered host is measured afresh.
--
-- Options: `exclusion_threshold` (2), `scale` (0.1 s), `retry_period`
-- (10 s), `update_rate` (0.1 s), `min_measured` (50), `now` (a clock in
-- seconds; default the cluster's loop clock, else os.time).
-- @param child the child policy
-- @tparam[opt] table opts
M.LatencyAwarePolicy = setmetatable(LatencyAware, {
  __call = function(cls, child, opts)
    check_child("LatencyAwarePolicy", child)
    if opts ~= nil and type(opts) ~= "table" then
      error("bad argument #2 to 'LatencyAwarePolicy' (options table expected, got " .. type(opts) .. ")", 2)
    end
    local self = setmetatable({ child = child, stats = setmetatable({}, { __mode = "k" }), min_avg = nil,
                                min_at = -math.huge }, cls)
    for k, v in pairs(opts or {}) do
      if LATENCY_OPTIONS[k] == nil and k ~= "now" then
        error(("bad option '%s' for LatencyAwarePolicy"):format(tostring(k)), 2)
      end
      if k == "now" and type(v) ~= "function" then
        error("bad option 'now' for LatencyAwarePolicy (function expected)", 2)
      end
    end
    for k, default in pairs(LATENCY_OPTIONS) do
      local v = opts and opts[k]
      if v == nil then v = default end
      if type(v) ~= "number" or v ~= v or v < 0 or (k ~= "retry_period" and k ~= "update_rate" and v == 0) then
        error(("bad option '%s' for LatencyAwarePolicy (positive number expected, got %s)"):format(k, tostring(v)), 2)
      end
      self[k] = v
    end
    if self.exclusion_threshold < 1 then
      error("bad option 'exclusion_threshold' for LatencyAwarePolicy (at least 1 expected)", 2)
    end
    self.now = opts and opts.now
    return self
  end,
})

local function clock(self)
  if self.now then return self.now() end
  local c = self.cluster
  if c and c.host and c.host.now then return c.host:now() end
  return os.time()
end

--- Populates the child; keeps the cluster for its clock.
function LatencyAware:populate(cluster, hosts)
  self.cluster = cluster
  self.child:populate(cluster, hosts)
end

--- The child's distance.
function LatencyAware:distance(host) return self.child:distance(host) end

--- Records one response time of `host` (seconds from sending the request
-- to its answer). The driver calls it for every response that tells how
-- fast a host works (results and timeouts; not errors a coordinator
-- answers without doing the work, such as Unavailable or Overloaded).
-- @param host the Host that answered
-- @tparam number seconds
function LatencyAware:record_latency(host, seconds)
  if type(host) ~= "table" then
    error("bad argument #1 to 'record_latency' (host expected, got " .. type(host) .. ")", 2)
  end
  if type(seconds) ~= "number" or seconds < 0 or seconds ~= seconds then
    error("bad argument #2 to 'record_latency' (non-negative number of seconds expected)", 2)
  end
  local now = clock(self)
  local s = self.stats[host]
  if not s then
    self.stats[host] = { avg = seconds, n = 1, at = now }
    return
  end
  local elapsed = now - s.at
  if elapsed > 0 then
    -- The weight of the previous average falls as time passes: log(x+1)/x
    -- is 1 for back-to-back samples and tends to 0 after many `scale`s.
    local x = elapsed / self.scale
    local w = math.log(x + 1) / x
    s.avg = (1 - w) * seconds + w * s.avg
  else
    s.avg = (s.avg * math.min(s.n, 20) + seconds) / (math.min(s.n, 20) + 1)
  end
  s.n, s.at = s.n + 1, now
  if s.n >= self.min_measured and (self.min_avg == nil or s.avg < self.min_avg) then self.min_avg = s.avg end
end

-- The best average among hosts with enough recent samples, recomputed at
-- most every update_rate seconds.
local function best_average(self, now)
  if now - self.min_at < self.update_rate then return self.min_avg end
  local best
  for _, s in pairs(self.stats) do
    if s.n >= self.min_measured and now - s.at <= self.retry_period and (best == nil or s.avg < best) then
      best = s.avg
    end
  end
  self.min_avg, self.min_at = best, now
  return best
end

--- Whether `host` is currently excluded (much slower than the best).
function LatencyAware:is_excluded(host, now)
  now = now or clock(self)
  local s = self.stats[host]
  if not s or s.n < self.min_measured or now - s.at > self.retry_period then return false end
  local best = best_average(self, now)
  return best ~= nil and s.avg > self.exclusion_threshold * best
end

--- The latency statistics of `host`: `{average = seconds, samples = n}`,
-- or nil before its first sample.
function LatencyAware:host_stats(host)
  local s = self.stats[host]
  return s and { average = s.avg, samples = s.n } or nil
end

local function la_next(st)
  while not st.exhausted do
    local h = st.plan()
    if h == nil then
      st.exhausted = true
    elseif st.policy:is_excluded(h, st.now) then
      local skipped = st.skipped or {}
      st.skipped = skipped
      skipped[#skipped + 1] = h
    else
      return h
    end
  end
  local skipped = st.skipped
  if skipped and st.si < #skipped then
    st.si = st.si + 1
    return skipped[st.si]
  end
  return nil
end

--- A lazy plan: the child's plan with the excluded hosts moved to its end.
function LatencyAware:make_query_plan(keyspace, statement)
  local st = { policy = self, plan = self.child:make_query_plan(keyspace, statement), now = clock(self),
               skipped = false, si = 0, exhausted = false }
  return function() return la_next(st) end
end

--- Host state changes go to the child.
function LatencyAware:on_up(host) self.child:on_up(host) end
function LatencyAware:on_down(host) self.child:on_down(host) end
function LatencyAware:on_add(host) self.child:on_add(host) end
--- A host left: its statistics go too.
function LatencyAware:on_remove(host)
  self.stats[host] = nil
  self.child:on_remove(host)
end

return M
