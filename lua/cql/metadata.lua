--- Cluster metadata: the schema (keyspaces, tables, columns, indexes,
-- materialized views, user types, functions, aggregates, triggers), the
-- hosts and the token map, with the seed's names.
--
-- The cluster owns one `Metadata` and feeds it; this module never talks to
-- the network itself. Every refresh takes an `execute(cql, params)`
-- function that runs one query (blocking or yielding: this module does not
-- care; parameters are `%s` markers) and returns an array of rows (tables
-- keyed by column name) or `nil, err`:
--
--     local md = Metadata.new()
--     local function execute(q, p)
--       local rs, err = session:execute(q, p)
--       if not rs then return nil, err end
--       return rs:all()
--     end
--     assert(md:refresh_schema(execute))
--     md:rebuild_token_map(partitioner, hosts) -- hosts: address, datacenter, rack, tokens
--     print(md.keyspaces.ks.tables.t:export_as_string())
--     local replicas = md:get_replicas("ks", routing_key)
--
-- Refreshes for schema-change events: `refresh_keyspace`, `refresh_table`
-- (tables and materialized views), `refresh_user_type`, `refresh_function`,
-- `refresh_aggregate`; drops: `remove_keyspace`, `remove_table`,
-- `remove_user_type`, `remove_function`, `remove_aggregate`; or
-- `handle_schema_change(event, execute)` with the event the control
-- connection decodes. A refresh that fails leaves the model as it was and
-- returns `nil, err`; misuse (wrong argument types) raises.
-- @module cql.metadata
local schema = require "cql.metadata.schema"
local names = require "cql.metadata.names"
local token_map = require "cql.metadata.token_map"

local M = {}

-- The seed's names, re-exported.
M.KeyspaceMetadata = schema.KeyspaceMetadata
M.TableMetadata = schema.TableMetadata
M.ColumnMetadata = schema.ColumnMetadata
M.IndexMetadata = schema.IndexMetadata
M.MaterializedViewMetadata = schema.MaterializedViewMetadata
M.TriggerMetadata = schema.TriggerMetadata
M.UserType = schema.UserType
M.Function = schema.Function
M.Aggregate = schema.Aggregate
M.TokenMap = token_map.TokenMap
M.protect_name = names.protect_name
M.protect_names = names.protect_names
M.protect_value = names.protect_value
M.is_valid_name = names.is_valid_name
M.maybe_escape_name = names.maybe_escape_name
M.escape_name = names.escape_name
M.cql_keywords = names.cql_keywords
M.cql_keywords_reserved = names.cql_keywords_reserved
M.cql_keywords_unreserved = names.cql_keywords_unreserved
M.format_signature = schema.format_signature
M.parse_token = token_map.parse_token
--- Parses a replication map (see `cql.metadata.schema.replication_strategy`).
M.replication_strategy = schema.replication_strategy

--- Metadata: `keyspaces` (name -> KeyspaceMetadata, system and virtual
-- keyspaces included), `token_map` (a TokenMap or nil), `partitioner`,
-- `cluster_name`, and the hosts the cluster registered.
-- @type Metadata
local Metadata = {}
Metadata.__index = Metadata
M.Metadata = Metadata

--- A new, empty Metadata.
-- @treturn Metadata
function Metadata.new()
  return setmetatable({ keyspaces = {}, token_map = nil, partitioner = nil, cluster_name = nil,
                        _hosts = {}, _host_list = {} }, Metadata)
end
M.new = Metadata.new

local function check_execute(execute, fname, pos)
  if type(execute) ~= "function" then
    error(("bad argument #%d to '%s' (function expected, got %s)"):format(pos, fname, type(execute)), 3)
  end
end

local function check_string(v, fname, pos)
  if type(v) ~= "string" then
    error(("bad argument #%d to '%s' (string expected, got %s)"):format(pos, fname, type(v)), 3)
  end
end

-- Queries ------------------------------------------------------------------

local SCHEMA_TABLES = { "keyspaces", "tables", "columns", "indexes", "views", "types", "functions",
                        "aggregates", "triggers" }

-- Runs one query per system_schema table; `where` is a suffix with %s
-- markers and `params` its values. Returns name -> rows, or nil, err.
local function fetch(execute, list, where, params)
  local out = {}
  for _, t in ipairs(list) do
    local q = "SELECT * FROM system_schema." .. t .. (where and (" " .. where) or "")
    local rows, err = execute(q, params)
    if not rows then return nil, err end
    out[t] = rows
  end
  return out
end

local function group(rows, key)
  local g = {}
  for _, r in ipairs(rows or {}) do
    local k = r[key]
    if k ~= nil then
      local l = g[k]
      if not l then
        l = {}
        g[k] = l
      end
      l[#l + 1] = r
    end
  end
  return g
end

-- Builds a keyspace from its row and the rows of its objects.
local function build_keyspace(row, rows, virtual, defaults)
  local ks = schema.KeyspaceMetadata.new(row.keyspace_name, row.durable_writes, row.replication, virtual)
  local cols = group(rows.columns, "table_name")
  local idx = group(rows.indexes, "table_name")
  local trg = group(rows.triggers, "table_name")
  for _, r in ipairs(rows.tables or {}) do
    local t = schema.build_table(r, cols[r.table_name], idx[r.table_name], trg[r.table_name], virtual,
                                   defaults)
    ks.tables[t.name] = t
  end
  for _, r in ipairs(rows.views or {}) do
    local v = schema.build_view(r, cols[r.view_name], defaults)
    ks.views[v.name] = v
  end
  for _, r in ipairs(rows.types or {}) do
    local ut = schema.build_user_type(r)
    ks.user_types[ut.name] = ut
  end
  for _, r in ipairs(rows.functions or {}) do
    local f = schema.build_function(r)
    ks.functions[f.signature] = f
  end
  for _, r in ipairs(rows.aggregates or {}) do
    local a = schema.build_aggregate(r)
    ks.aggregates[a.signature] = a
  end
  ks:_relink()
  return ks
end
M.build_keyspace = build_keyspace

--- Builds keyspaces from rows of every system_schema table (name ->
-- rows), as `refresh_schema` fetches them; used by the unit specs.
-- @tparam table rows `{keyspaces = {...}, tables = {...}, ...}`
-- @tparam[opt] boolean virtual
-- @tparam[opt] table defaults option values for null columns
-- @treturn table name -> KeyspaceMetadata
function M.build_keyspaces(rows, virtual, defaults)
  local by_ks = {}
  for _, t in ipairs(SCHEMA_TABLES) do
    for k, l in pairs(group(rows[t], "keyspace_name")) do
      by_ks[k] = by_ks[k] or {}
      by_ks[k][t] = l
    end
  end
  local out = {}
  for _, r in ipairs(rows.keyspaces or {}) do
    out[r.keyspace_name] = build_keyspace(r, by_ks[r.keyspace_name] or {}, virtual, defaults)
  end
  return out
end

local function update_token_map(self, ks)
  if self.token_map then self.token_map:rebuild_keyspace(ks) end
end

-- Virtual keyspaces (system_views, system_virtual_schema): best effort, a
-- server without them just has none.
local function fetch_virtual(execute, where, params)
  local rows = {}
  for _, t in ipairs { "keyspaces", "tables", "columns" } do
    local r = execute("SELECT * FROM system_virtual_schema." .. t .. (where and (" " .. where) or ""), params)
    if not r then return nil end
    rows[t] = r
  end
  return rows
end

-- Learns the server's version once (for the option defaults of 5.0).
local function detect_version(self, execute)
  if self.release_version then return end
  local rows = execute("SELECT release_version FROM system.local")
  local v = rows and rows[1] and rows[1].release_version
  if v then
    self.release_version = v
    if (tonumber(tostring(v):match("^(%d+)")) or 0) >= 5 then self.option_defaults = schema.option_defaults_5 end
  end
end

--- Reads the whole schema and replaces the model with it.
-- @tparam function execute
-- @return true, or nil and an error
function Metadata:refresh_schema(execute)
  check_execute(execute, "refresh_schema", 1)
  detect_version(self, execute)
  local rows, err = fetch(execute, SCHEMA_TABLES)
  if not rows then return nil, err end
  local keyspaces = M.build_keyspaces(rows, false, self.option_defaults)
  local vrows = fetch_virtual(execute)
  if vrows then
    for name, ks in pairs(M.build_keyspaces(vrows, true)) do
      if not keyspaces[name] then keyspaces[name] = ks end
    end
  end
  self.keyspaces = keyspaces
  if self.token_map then
    for _, ks in pairs(keyspaces) do self.token_map:rebuild_keyspace(ks) end
  end
  return true
end

--- Re-reads one keyspace with everything in it (or removes it when the
-- server no longer has it).
-- @tparam string name
-- @tparam function execute
-- @return true, or nil and an error
function Metadata:refresh_keyspace(name, execute)
  check_string(name, "refresh_keyspace", 1)
  check_execute(execute, "refresh_keyspace", 2)
  detect_version(self, execute)
  local rows, err = fetch(execute, SCHEMA_TABLES, "WHERE keyspace_name = %s", { name })
  if not rows then return nil, err end
  local virtual = false
  if #rows.keyspaces == 0 then
    local vrows = fetch_virtual(execute, "WHERE keyspace_name = %s", { name })
    if vrows and #vrows.keyspaces > 0 then
      rows, virtual = vrows, true
    else
      self:remove_keyspace(name)
      return true
    end
  end
  local ks = build_keyspace(rows.keyspaces[1], rows, virtual, self.option_defaults)
  self.keyspaces[name] = ks
  update_token_map(self, ks)
  return true
end

--- Re-reads only a keyspace's own row (replication, durable_writes),
-- keeping its tables and other objects (a keyspace UPDATED event).
function Metadata:refresh_keyspace_options(name, execute)
  check_string(name, "refresh_keyspace_options", 1)
  check_execute(execute, "refresh_keyspace_options", 2)
  local old = self.keyspaces[name]
  if not old then return self:refresh_keyspace(name, execute) end
  local rows, err = execute("SELECT * FROM system_schema.keyspaces WHERE keyspace_name = %s", { name })
  if not rows then return nil, err end
  if #rows == 0 then
    self:remove_keyspace(name)
    return true
  end
  local fresh = schema.KeyspaceMetadata.new(name, rows[1].durable_writes, rows[1].replication)
  old.durable_writes, old.replication_strategy = fresh.durable_writes, fresh.replication_strategy
  update_token_map(self, old)
  return true
end

--- Forgets a keyspace.
function Metadata:remove_keyspace(name)
  check_string(name, "remove_keyspace", 1)
  self.keyspaces[name] = nil
  if self.token_map then self.token_map:remove_keyspace(name) end
end

local function where_ks_and(col)
  return "WHERE keyspace_name = %s AND " .. col .. " = %s"
end

--- Re-reads one table or materialized view (a TABLE event covers both)
-- with its columns, indexes and triggers; removes it when gone. Unknown
-- keyspaces are read whole.
-- @tparam string keyspace
-- @tparam string name
-- @tparam function execute
-- @return true, or nil and an error
function Metadata:refresh_table(keyspace, name, execute)
  check_string(keyspace, "refresh_table", 1)
  check_string(name, "refresh_table", 2)
  check_execute(execute, "refresh_table", 3)
  local ks = self.keyspaces[keyspace]
  if not ks then return self:refresh_keyspace(keyspace, execute) end
  local where, params = where_ks_and("table_name"), { keyspace, name }
  local rows, err = fetch(execute, { "tables", "columns", "indexes", "triggers" }, where, params)
  if not rows then return nil, err end
  detect_version(self, execute)
  if #rows.tables > 0 then
    ks.tables[name] = schema.build_table(rows.tables[1], rows.columns, rows.indexes, rows.triggers, ks.virtual,
                                         self.option_defaults)
    ks.views[name] = nil
    ks:_relink()
    return true
  end
  local views
  views, err = execute("SELECT * FROM system_schema.views " .. where_ks_and("view_name"), params)
  if not views then return nil, err end
  ks.tables[name] = nil
  if #views > 0 then
    ks.views[name] = schema.build_view(views[1], rows.columns, self.option_defaults)
  else
    ks.views[name] = nil
  end
  ks:_relink()
  return true
end

--- Forgets a table or materialized view.
function Metadata:remove_table(keyspace, name)
  check_string(keyspace, "remove_table", 1)
  check_string(name, "remove_table", 2)
  local ks = self.keyspaces[keyspace]
  if not ks then return end
  ks.tables[name], ks.views[name] = nil, nil
  ks:_relink()
end

--- Re-reads one user type (removes it when gone).
function Metadata:refresh_user_type(keyspace, name, execute)
  check_string(keyspace, "refresh_user_type", 1)
  check_string(name, "refresh_user_type", 2)
  check_execute(execute, "refresh_user_type", 3)
  local ks = self.keyspaces[keyspace]
  if not ks then return self:refresh_keyspace(keyspace, execute) end
  local rows, err = execute("SELECT * FROM system_schema.types " .. where_ks_and("type_name"), { keyspace, name })
  if not rows then return nil, err end
  ks.user_types[name] = rows[1] and schema.build_user_type(rows[1]) or nil
  return true
end

--- Forgets a user type.
function Metadata:remove_user_type(keyspace, name)
  check_string(keyspace, "remove_user_type", 1)
  check_string(name, "remove_user_type", 2)
  local ks = self.keyspaces[keyspace]
  if ks then ks.user_types[name] = nil end
end

-- Functions and aggregates are refreshed by name: every overload is re-read,
-- so the argument types of the event (whose spelling of frozen types varies)
-- need not match the stored ones.
local function refresh_routines(self, kind, keyspace, name, execute)
  local ks = self.keyspaces[keyspace]
  if not ks then return self:refresh_keyspace(keyspace, execute) end
  local tbl = kind == "functions" and "functions" or "aggregates"
  local col = kind == "functions" and "function_name" or "aggregate_name"
  local rows, err = execute("SELECT * FROM system_schema." .. tbl .. " " .. where_ks_and(col), { keyspace, name })
  if not rows then return nil, err end
  local map = ks[tbl]
  for sig, f in pairs(map) do
    if f.name == name then map[sig] = nil end
  end
  local build = kind == "functions" and schema.build_function or schema.build_aggregate
  for _, r in ipairs(rows) do
    local f = build(r)
    map[f.signature] = f
  end
  return true
end

--- Re-reads every overload of a function. `argument_types` is accepted for
-- the seed's signature and ignored.
-- @tparam string keyspace
-- @tparam string name
-- @param argument_types ignored (may be omitted)
-- @tparam function execute
function Metadata:refresh_function(keyspace, name, argument_types, execute)
  if execute == nil and type(argument_types) == "function" then execute = argument_types end
  check_string(keyspace, "refresh_function", 1)
  check_string(name, "refresh_function", 2)
  check_execute(execute, "refresh_function", 4)
  return refresh_routines(self, "functions", keyspace, name, execute)
end

--- Re-reads every overload of an aggregate (see `refresh_function`).
function Metadata:refresh_aggregate(keyspace, name, argument_types, execute)
  if execute == nil and type(argument_types) == "function" then execute = argument_types end
  check_string(keyspace, "refresh_aggregate", 1)
  check_string(name, "refresh_aggregate", 2)
  check_execute(execute, "refresh_aggregate", 4)
  return refresh_routines(self, "aggregates", keyspace, name, execute)
end

local function remove_routine(map, name, argument_types)
  if argument_types then
    local want = {}
    for i, t in ipairs(argument_types) do want[i] = schema.unfreeze(t):gsub("%s", "") end
    for sig, f in pairs(map) do
      if f.name == name then
        local have = {}
        for i, t in ipairs(f.argument_types) do have[i] = schema.unfreeze(t):gsub("%s", "") end
        if table.concat(have, ",") == table.concat(want, ",") then map[sig] = nil end
      end
    end
  else
    for sig, f in pairs(map) do
      if f.name == name then map[sig] = nil end
    end
  end
end

--- Forgets a function: one overload when `argument_types` is given, else
-- every overload of `name`.
function Metadata:remove_function(keyspace, name, argument_types)
  check_string(keyspace, "remove_function", 1)
  check_string(name, "remove_function", 2)
  local ks = self.keyspaces[keyspace]
  if ks then remove_routine(ks.functions, name, argument_types) end
end

--- Forgets an aggregate (see `remove_function`).
function Metadata:remove_aggregate(keyspace, name, argument_types)
  check_string(keyspace, "remove_aggregate", 1)
  check_string(name, "remove_aggregate", 2)
  local ks = self.keyspaces[keyspace]
  if ks then remove_routine(ks.aggregates, name, argument_types) end
end

--- Applies a SCHEMA_CHANGE event (`change_type` CREATED/UPDATED/DROPPED,
-- `target` KEYSPACE/TABLE/TYPE/FUNCTION/AGGREGATE, `keyspace`, `name`,
-- `arg_types`): drops locally, re-reads what was created or updated.
-- @tparam table event
-- @tparam function execute
-- @return true, or nil and an error
function Metadata:handle_schema_change(event, execute)
  if type(event) ~= "table" then
    error("bad argument #1 to 'handle_schema_change' (table expected, got " .. type(event) .. ")", 2)
  end
  check_execute(execute, "handle_schema_change", 2)
  local change, target, ks, name = event.change_type, event.target, event.keyspace, event.name
  local dropped = change == "DROPPED"
  if target == "KEYSPACE" then
    if dropped then
      self:remove_keyspace(ks)
      return true
    end
    if change == "UPDATED" then return self:refresh_keyspace_options(ks, execute) end
    return self:refresh_keyspace(ks, execute)
  elseif target == "TABLE" then
    if dropped then
      self:remove_table(ks, name)
      return true
    end
    return self:refresh_table(ks, name, execute)
  elseif target == "TYPE" then
    if dropped then
      self:remove_user_type(ks, name)
      return true
    end
    return self:refresh_user_type(ks, name, execute)
  elseif target == "FUNCTION" then
    if dropped then
      self:remove_function(ks, name, event.arg_types)
      return true
    end
    return self:refresh_function(ks, name, event.arg_types, execute)
  elseif target == "AGGREGATE" then
    if dropped then
      self:remove_aggregate(ks, name, event.arg_types)
      return true
    end
    return self:refresh_aggregate(ks, name, event.arg_types, execute)
  end
  -- unknown target: re-read the keyspace when there is one
  if ks and ks ~= "" then return self:refresh_keyspace(ks, execute) end
  return true
end

-- Lookups -----------------------------------------------------------------

--- The keyspace named `name`, or nil.
function Metadata:get_keyspace(name) return self.keyspaces[name] end

--- A table (or materialized view) of a keyspace, or nil.
function Metadata:get_table(keyspace, name)
  local ks = self.keyspaces[keyspace]
  return ks and (ks.tables[name] or ks.views[name]) or nil
end

--- A user type of a keyspace, or nil.
function Metadata:get_user_type(keyspace, name)
  local ks = self.keyspaces[keyspace]
  return ks and ks.user_types[name] or nil
end

--- The CQL of every keyspace (by name), separated by blank lines.
function Metadata:export_schema_as_string()
  local out = {}
  for _, n in ipairs(schema.sorted_keys(self.keyspaces)) do out[#out + 1] = self.keyspaces[n]:export_as_string() end
  return table.concat(out, "\n\n")
end

-- Hosts -------------------------------------------------------------------

local function host_key(address, port)
  return tostring(address) .. (port and (":" .. tostring(port)) or "")
end

--- Registers a host object (by `address`, and `port` when it has one);
-- returns the one already registered for that endpoint, if any.
-- @tparam table host
-- @treturn table the registered host
-- @treturn boolean true when it was new
function Metadata:add_or_return_host(host)
  if type(host) ~= "table" or host.address == nil then
    error("bad argument #1 to 'add_or_return_host' (host with an address expected)", 2)
  end
  local key = host_key(host.address, host.port)
  local old = self._hosts[key]
  if old then return old, false end
  self._hosts[key] = host
  if host.port then self._hosts[host_key(host.address)] = self._hosts[host_key(host.address)] or host end
  self._host_list[#self._host_list + 1] = host
  return host, true
end

--- Unregisters a host; returns true when it was registered.
function Metadata:remove_host(host)
  local found = false
  for i = #self._host_list, 1, -1 do
    if self._host_list[i] == host then
      table.remove(self._host_list, i)
      found = true
    end
  end
  for k, h in pairs(self._hosts) do
    if h == host then self._hosts[k] = nil end
  end
  return found
end

--- The host registered for an address (and port), or nil.
function Metadata:get_host(address, port)
  return self._hosts[host_key(address, port)] or (port == nil and nil) or self._hosts[host_key(address)]
end

--- Every registered host (a new array).
function Metadata:all_hosts()
  local out = {}
  for i, h in ipairs(self._host_list) do out[i] = h end
  return out
end

-- Token map ---------------------------------------------------------------

--- Rebuilds the token map from `hosts` (objects with `address`,
-- `datacenter`, `rack` and `tokens`, an array of token strings as
-- system.local / system.peers give them) and precomputes the replicas of
-- every known keyspace. `get_replicas` returns these same host objects.
-- @tparam string partitioner the partitioner's class name
-- @tparam {table,...} hosts
-- @return true, or nil and an error (the previous map is kept)
function Metadata:rebuild_token_map(partitioner, hosts)
  if type(hosts) ~= "table" then
    error("bad argument #2 to 'rebuild_token_map' (array of hosts expected, got " .. type(hosts) .. ")", 2)
  end
  local tm, err = token_map.new(partitioner, hosts)
  if not tm then return nil, err end
  for _, ks in pairs(self.keyspaces) do
    local ok, e = tm:rebuild_keyspace(ks)
    if not ok then return nil, e end
  end
  self.partitioner = partitioner
  self.token_map = tm
  return true
end

--- The replicas (host objects) of the partition whose serialized key is
-- `routing_key` in `keyspace`; `{}` without a token map, for an unknown
-- keyspace or a strategy without placement (LocalStrategy).
-- @tparam string keyspace
-- @tparam string routing_key
-- @treturn {table,...}
function Metadata:get_replicas(keyspace, routing_key)
  check_string(keyspace, "get_replicas", 1)
  check_string(routing_key, "get_replicas", 2)
  if not self.token_map then return {} end
  return self.token_map:get_replicas(keyspace, routing_key)
end

return M
