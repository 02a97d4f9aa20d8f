--- The token map: the Murmur3 ring built from the hosts' tokens, and per
-- replication setting a replica table computed once in the C core
-- (src/core/token_map.c) for every token range, so a lookup is one hash
-- and one binary search. Placement follows Cassandra 5.0 exactly
-- (SimpleStrategy; NetworkTopologyStrategy with its rack rules; see
-- token_map.h). LocalStrategy and unknown strategies have no replicas
-- (every node holds its own local data; nothing to route to);
-- EverywhereStrategy gives every host that owns a token.
--
-- Only the Murmur3Partitioner is supported; with another partitioner the
-- map is empty and `get_replicas` returns `{}`.
-- @module cql.metadata.token_map
local ffi = require "ffi"
local core = require "cql.core"
require "cql.cdef_metadata"
local murmur3 = require "cql.murmur3"
local errors = require "cql.errors"
local schema = require "cql.metadata.schema"

local C = core.C

local M = {}

local MURMUR3 = "org.apache.cassandra.dht.Murmur3Partitioner"

--- Parses a token as system.local / system.peers give it (a decimal string)
-- into int64 cdata; int64 cdata and integral numbers pass through.
-- @param s string, number or int64 cdata
-- @treturn cdata|nil int64, or nil when not a valid Murmur3 token
function M.parse_token(s)
  local t = type(s)
  if t == "cdata" then return ffi.cast("int64_t", s) end
  if t == "number" then
    if s ~= math.floor(s) then return nil end
    return ffi.cast("int64_t", s)
  end
  if t ~= "string" then return nil end
  local sign, digits = s:match("^%s*([-+]?)(%d+)%s*$")
  if not digits or #digits > 19 then return nil end
  local v = 0LL
  local neg = sign == "-"
  for i = 1, #digits do
    local d = digits:byte(i) - 48
    -- accumulate negatively so that -2^63 fits; check overflow before it
    if v < (-9223372036854775807LL - 1 + d) / 10 then return nil end
    v = v * 10 - d
  end
  if not neg then
    if v == -9223372036854775807LL - 1 then return nil end
    v = -v
  end
  return v
end

local TokenMap = {}
TokenMap.__index = TokenMap
M.TokenMap = TokenMap

local function free_ring(r) C.cq_token_ring_free(r) end
local function free_replicas(m) C.cq_replicas_free(m) end

local function c_error(what, status)
  return errors.DriverException { message = "token map: " .. what .. " failed: "
    .. ffi.string(C.cq_status_name(status)) }
end

--- Builds the token map for `partitioner` (its class name) from `hosts`,
-- an array of host objects with `address`, `datacenter`, `rack` and
-- `tokens` (an array of token strings). Hosts without tokens own nothing.
-- Returns nil and an error only when the C core runs out of memory.
-- @tparam string partitioner
-- @tparam {table,...} hosts
-- @treturn TokenMap
function M.new(partitioner, hosts)
  if type(hosts) ~= "table" then
    error("bad argument #2 to 'TokenMap.new' (array of hosts expected, got " .. type(hosts) .. ")", 2)
  end
  local self = setmetatable({ partitioner = partitioner, hosts = {}, ring = {}, ring_owners = {},
                              replica_tables = {}, keyspaces = {}, dc_ids = {}, dc_names = {} },
                            TokenMap)
  self.supported = partitioner == nil or partitioner == MURMUR3 or partitioner == "Murmur3Partitioner"
  local tokens, owners = {}, {}
  local rack_ids, nracks = {}, 0
  local host_dc, host_rack = {}, {}
  for _, h in ipairs(hosts) do
    local idx = #self.hosts
    self.hosts[idx + 1] = h
    local dc = tostring(h.datacenter or "")
    if not self.dc_ids[dc] then
      self.dc_names[#self.dc_names + 1] = dc
      self.dc_ids[dc] = #self.dc_names - 1
    end
    local rk = dc .. "\0" .. tostring(h.rack or "")
    if not rack_ids[rk] then
      rack_ids[rk] = nracks
      nracks = nracks + 1
    end
    host_dc[idx + 1], host_rack[idx + 1] = self.dc_ids[dc], rack_ids[rk]
    if self.supported then
      for _, ts in ipairs(h.tokens or {}) do
        local t = M.parse_token(ts)
        if t then
          tokens[#tokens + 1] = t
          owners[#owners + 1] = idx
        end
      end
    end
  end
  local nh, nt = #self.hosts, #tokens
  local ct, co = ffi.new("int64_t[?]", nt + 1), ffi.new("uint32_t[?]", nt + 1)
  for i = 1, nt do ct[i - 1], co[i - 1] = tokens[i], owners[i] end
  local cd, cr = ffi.new("uint32_t[?]", nh + 1), ffi.new("uint32_t[?]", nh + 1)
  for i = 1, nh do cd[i - 1], cr[i - 1] = host_dc[i], host_rack[i] end
  local st = ffi.new("int[1]")
  local ring = C.cq_token_ring_new(ct, co, nt, cd, cr, nh, st)
  if ring == nil then return nil, c_error("building the ring", st[0]) end
  self.c_ring = ffi.gc(ring, free_ring)
  local n = tonumber(C.cq_token_ring_size(ring))
  for i = 0, n - 1 do
    self.ring[i + 1] = C.cq_token_ring_token(ring, i)
    self.ring_owners[i + 1] = self.hosts[C.cq_token_ring_owner(ring, i) + 1]
  end
  return self
end

--- The replica table for a parsed replication strategy (see
-- `cql.metadata.schema.replication_strategy`), built once per setting.
-- Returns false for strategies without replicas, or nil and an error.
function TokenMap:replica_table(strategy)
  local key = schema.replication_key(strategy)
  local m = self.replica_tables[key]
  if m ~= nil then return m end
  local st = ffi.new("int[1]")
  local ring = self.c_ring
  if strategy.kind == "simple" then
    m = C.cq_replicas_simple(ring, strategy.replication_factor, st)
  elseif strategy.kind == "nts" then
    local nd = #self.dc_names
    local rf = ffi.new("uint32_t[?]", nd + 1)
    for dc, n in pairs(strategy.dc_replication_factors) do
      local id = self.dc_ids[dc]
      if id then rf[id] = n end
    end
    m = C.cq_replicas_nts(ring, rf, nd, st)
  elseif strategy.kind == "everywhere" then
    m = C.cq_replicas_everywhere(ring, st)
  else
    self.replica_tables[key] = false
    return false
  end
  if m == nil then return nil, c_error("building replicas for " .. key, st[0]) end
  m = ffi.gc(m, free_replicas)
  self.replica_tables[key] = m
  return m
end

--- Computes (or reuses) the replicas of a keyspace from its metadata; the
-- cluster calls it for every keyspace after a rebuild or schema change.
-- @tparam KeyspaceMetadata ks
-- @return true, or nil and an error
function TokenMap:rebuild_keyspace(ks)
  local m, err = self:replica_table(ks.replication_strategy)
  if m == nil then return nil, err end
  self.keyspaces[ks.name] = m
  return true
end

--- Forgets a dropped keyspace.
function TokenMap:remove_keyspace(name)
  self.keyspaces[name] = nil
end

local count_box = ffi.new("size_t[1]")

--- The replicas (host objects) of the range holding `token` (int64 cdata
-- or a token string) for keyspace `keyspace`, in ring-walk order; `{}`
-- for an unknown keyspace or a strategy without replicas.
function TokenMap:get_replicas_for_token(keyspace, token)
  local m = self.keyspaces[keyspace]
  if not m then return {} end
  if type(token) ~= "cdata" then token = M.parse_token(token) end
  if not token then return {} end
  local p = C.cq_replicas_get(m, token, count_box)
  local out = {}
  for i = 0, tonumber(count_box[0]) - 1 do out[i + 1] = self.hosts[p[i] + 1] end
  return out
end

--- The replicas of a partition: `routing_key` is the serialized partition
-- key (`cql.murmur3.routing_key` for composite keys).
-- @tparam string keyspace
-- @tparam string routing_key
-- @treturn {table,...} host objects
function TokenMap:get_replicas(keyspace, routing_key)
  if type(routing_key) ~= "string" then
    error("bad argument #2 to 'get_replicas' (string expected, got " .. type(routing_key) .. ")", 2)
  end
  if not self.supported then return {} end
  return self:get_replicas_for_token(keyspace, murmur3.murmur3(routing_key))
end

--- The position in `ring` of the range holding `token` (1-based).
function TokenMap:find(token)
  return tonumber(C.cq_token_ring_find(self.c_ring, token)) + 1
end

return M
