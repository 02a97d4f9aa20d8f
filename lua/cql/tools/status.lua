--- `cqlua status` / `cqlua ring`: the cluster as the driver sees it.
--
-- status: per data center, each host's address, rack, state (UP/DOWN as
-- the driver marks it), token count, ownership (the share of the ring whose
-- primary replica it is; with --keyspace, the effective ownership under
-- that keyspace's replication, which sums to the replication factor x 100%),
-- release version and schema version, read from each node directly; then
-- whether the schema versions agree. ring: every token with its owner.
-- @module cql.tools.status
local ffi = require "ffi"
local common = require "cql.tools.common"

local M = {}

local TWO64 = 2 ^ 64

-- Width of the range (a, b] of the Murmur3 ring in tokens (a double).
local function span(a, b)
  local d = tonumber(b) - tonumber(a)
  if d <= 0 then d = d + TWO64 end
  return d
end

--- Ownership of each host: host -> fraction (0..1, or up to RF with a
-- keyspace). `tm` is a TokenMap.
function M.ownership(tm, keyspace)
  local own = {}
  local ring, owners = tm.ring, tm.ring_owners
  local n = #ring
  if n == 0 then return own end
  for i = 1, n do
    local prev = ring[i == 1 and n or i - 1]
    local size = n == 1 and TWO64 or span(prev, ring[i])
    local hosts = keyspace and tm:get_replicas_for_token(keyspace, ring[i]) or { owners[i] }
    for _, h in ipairs(hosts) do own[h] = (own[h] or 0) + size / TWO64 end
  end
  return own
end

-- Asks `host` itself for its schema version (nil, err when it cannot).
local function schema_version_of(session, host)
  local rs, err = session:execute("SELECT schema_version FROM system.local WHERE key = 'local'", nil,
                                  { timeout = 5, host = host })
  if not rs then return nil, err end
  if rs.coordinator ~= host then return nil, "not reachable directly" end
  local row = rs:one()
  return row and tostring(row.schema_version)
end

local function table_out(headers, rows)
  local w = {}
  for c, h in ipairs(headers) do w[c] = #h end
  for _, r in ipairs(rows) do
    for c = 1, #headers do w[c] = math.max(w[c], #tostring(r[c] or "")) end
  end
  local lines = {}
  local function line(r)
    local parts = {}
    for c = 1, #headers do parts[c] = tostring(r[c] or "") .. (" "):rep(w[c] - #tostring(r[c] or "")) end
    lines[#lines + 1] = (table.concat(parts, "  "):gsub("%s+$", ""))
  end
  line(headers)
  for _, r in ipairs(rows) do line(r) end
  return table.concat(lines, "\n")
end

--- The status report as text (and a table of facts for tests/scripts).
function M.status(cluster, session, keyspace)
  local md, err = common.metadata(cluster, session, false)
  if not md then return nil, err end
  if keyspace and not md:get_keyspace(keyspace) then return nil, "no keyspace '" .. keyspace .. "'" end
  local tm = md.token_map
  local own = tm and M.ownership(tm, keyspace) or {}
  local by_dc, dcs = {}, {}
  local versions, nversions = {}, 0
  local facts = { hosts = {} }
  for _, h in ipairs(cluster:all_hosts()) do
    local dc = h.datacenter or "?"
    if not by_dc[dc] then
      by_dc[dc] = {}
      dcs[#dcs + 1] = dc
    end
    local v, verr = nil, "down"
    if h.is_up ~= false then v, verr = schema_version_of(session, h) end
    if v and not versions[v] then
      versions[v] = {}
      nversions = nversions + 1
    end
    if v then table.insert(versions[v], h.address) end
    local state = h.is_up == false and "DOWN" or (h.is_up and "UP" or "?")
    local pct = own[h] and ("%.1f%%"):format(own[h] * 100) or "?"
    table.insert(by_dc[dc], { h.address, h.rack or "?", state, #(h.tokens or {}), pct, h.release_version or "?",
                              v or ("(" .. common.errmsg(verr) .. ")"), h.host_id and tostring(h.host_id) or "?" })
    facts.hosts[#facts.hosts + 1] = { address = h.address, datacenter = dc, rack = h.rack, up = h.is_up,
                                      tokens = #(h.tokens or {}), owns = own[h], schema_version = v }
  end
  table.sort(dcs)
  local out = { ("Cluster: %s   Partitioner: %s"):format(tostring(md.cluster_name or "?"),
                                                          tostring(md.partitioner or "?")) }
  local heading = keyspace and ("Owns (effective, " .. keyspace .. ")") or "Owns"
  for _, dc in ipairs(dcs) do
    out[#out + 1] = ""
    out[#out + 1] = "Datacenter: " .. dc
    out[#out + 1] = ("="):rep(12 + #dc)
    table.sort(by_dc[dc], function(a, b) return a[1] < b[1] end)
    out[#out + 1] = table_out({ "Address", "Rack", "State", "Tokens", heading, "Version", "Schema", "Host ID" },
                              by_dc[dc])
  end
  out[#out + 1] = ""
  if nversions <= 1 then
    out[#out + 1] = "Schema versions: agreement"
  else
    out[#out + 1] = ("Schema versions: %d DIFFERENT versions"):format(nversions)
  end
  for v, hs in pairs(versions) do
    table.sort(hs)
    out[#out + 1] = ("  %s: %s"):format(v, table.concat(hs, ", "))
  end
  facts.schema_versions = nversions
  return table.concat(out, "\n"), facts
end

--- The ring: every token in order with its owner.
function M.ring(cluster, session, keyspace)
  local md, err = common.metadata(cluster, session, false)
  if not md then return nil, err end
  local tm = md.token_map
  if not tm then return nil, "no token map (unsupported partitioner?)" end
  local rows = {}
  for i, t in ipairs(tm.ring) do
    local h = tm.ring_owners[i]
    local prev = tm.ring[i == 1 and #tm.ring or i - 1]
    local size = #tm.ring == 1 and TWO64 or span(prev, t)
    local replicas = {}
    if keyspace then
      for _, r in ipairs(tm:get_replicas_for_token(keyspace, t)) do replicas[#replicas + 1] = r.address end
    end
    rows[i] = { (tostring(ffi.cast("int64_t", t)):gsub("LL$", "")), h.address, h.datacenter or "?", h.rack or "?",
                h.is_up == false and "DOWN" or "UP", ("%.2f%%"):format(size / TWO64 * 100),
                table.concat(replicas, ",") }
  end
  local headers = { "Token", "Address", "DC", "Rack", "State", "Range share", keyspace and "Replicas" or "" }
  return table_out(headers, rows)
end

M.USAGE = [[
usage: cqlua [connection flags] status [--keyspace KS]
       cqlua [connection flags] ring [--keyspace KS]
  --keyspace KS   ownership under KS's replication (status), replicas of each range (ring)]]

--- The `cqlua status` / `cqlua ring` subcommands; returns an exit status.
function M.main(args, name)
  local opts, perr = common.parse_args(args, { ["--keyspace"] = "value", ["--help"] = "flag" })
  if not opts or #opts > 0 then
    io.stderr:write("cqlua ", name or "status", ": ", perr or "unexpected argument", "\n", M.USAGE, "\n")
    return 2
  end
  if opts.help then
    print(M.USAGE)
    return 0
  end
  local cluster, session = common.connect()
  if not cluster then
    io.stderr:write("cqlua ", name or "status", ": cannot connect: ", common.errmsg(session), "\n")
    return 1
  end
  local text, err
  if name == "ring" then
    text, err = M.ring(cluster, session, opts.keyspace)
  else
    text, err = M.status(cluster, session, opts.keyspace)
  end
  cluster:shutdown()
  if not text then
    io.stderr:write("cqlua ", name or "status", ": ", common.errmsg(err), "\n")
    return 1
  end
  print(text)
  return 0
end

return M
