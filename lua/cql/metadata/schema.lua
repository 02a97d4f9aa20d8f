--- The schema model: keyspaces, tables, columns, indexes, materialized
-- views, triggers, user types, functions and aggregates, built from
-- `system_schema` rows, and their CQL (`as_cql_query`, `export_as_string`)
-- in the layout Cassandra 5.0's own `DESCRIBE` prints, so that an export
-- both recreates the objects and compares line by line with the server.
--
-- Rows are plain tables keyed by column name; map columns may be plain
-- tables or `cql.util` OrderedMaps, list/set columns arrays or SortedSets.
-- @module cql.metadata.schema
local names = require "cql.metadata.names"

local protect_name, protect_value, quote_string = names.protect_name, names.protect_value, names.quote_string

local M = {}

-- Row helpers --------------------------------------------------------------

--- A map column's value as a plain Lua table.
local function to_map(v)
  local t = {}
  if v == nil then return t end
  if type(v) == "table" and type(v.pairs) == "function" then
    for k, x in v:pairs() do t[k] = x end
  else
    for k, x in pairs(v) do t[k] = x end
  end
  return t
end
M.to_map = to_map

--- A list or set column's value as a plain array.
local function to_list(v)
  local t = {}
  if v == nil then return t end
  if type(v) == "table" and type(v.iter) == "function" then
    for x in v:iter() do t[#t + 1] = x end
  else
    for i = 1, v.n or #v do t[i] = v[i] end
  end
  return t
end
M.to_list = to_list

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end
M.sorted_keys = sorted_keys

local function qualified(ks, name) return protect_name(ks) .. "." .. protect_name(name) end

local function class(name)
  local c = { __name = name }
  c.__index = c
  c.__tostring = function(self) return name .. "(" .. tostring(self.name) .. ")" end
  return c
end

-- CQL type strings ----------------------------------------------------------

local NATIVE = {}
for t in ([[ascii bigint blob boolean counter date decimal double duration float inet int smallint text time
  timestamp timeuuid tinyint uuid varchar varint empty]]):gmatch("%S+") do NATIVE[t] = true end
local TYPE_WORDS = { frozen = true, list = true, set = true, map = true, tuple = true, vector = true }

--- The user type names a CQL type string mentions (unquoted), in order.
-- @tparam string cql e.g. `map<text, frozen<"Addr">>`
-- @treturn {string,...}
function M.referenced_types(cql)
  local out, i, n = {}, 1, #cql
  while i <= n do
    local c = cql:sub(i, i)
    if c == '"' then
      out[#out + 1], i = names.read_quoted(cql, i)
    elseif c == "'" then -- a custom type class name
      local j = cql:find("'", i + 1, true) or n
      i = j + 1
    elseif c:match("[%a_]") then
      local word = cql:match("^[%w_]+", i)
      local lw = word:lower()
      if not NATIVE[lw] and not TYPE_WORDS[lw] then out[#out + 1] = lw end
      i = i + #word
    else
      i = i + 1
    end
  end
  return out
end

--- True for a type whose values are multi-cell in storage: a non-frozen
-- collection or a non-frozen user type (Cassandra lists them last).
local function is_complex(cql)
  if cql:match("^frozen<") or cql:match("^tuple<") or cql:match("^vector<") then return false end
  if cql:match("^list<") or cql:match("^set<") or cql:match("^map<") then return true end
  if cql:match("^'") then return false end
  local bare = cql:match('^"(.*)"$') or cql
  return not NATIVE[bare:lower()]
end
M.is_complex = is_complex

--- The type without any `frozen<...>` wrapper (how DESCRIBE shows function
-- and aggregate types, whose values are always frozen).
function M.unfreeze(cql)
  local prev
  repeat
    prev = cql
    cql = cql:gsub("frozen(%b<>)", function(inner) return inner:sub(2, -2) end)
  until cql == prev
  return cql
end

-- Options -------------------------------------------------------------------

-- The order DESCRIBE prints table and view options in (Cassandra 5.0).
local OPTION_ORDER = {
  "additional_write_policy", "allow_auto_snapshot", "bloom_filter_fp_chance", "caching", "cdc", "comment",
  "compaction", "compression", "memtable", "crc_check_chance", "default_time_to_live", "extensions",
  "gc_grace_seconds", "incremental_backups", "max_index_interval", "memtable_flush_period_in_ms",
  "min_index_interval", "read_repair", "speculative_retry",
}
local OPTION_RANK = {}
for i, o in ipairs(OPTION_ORDER) do OPTION_RANK[o] = i end
--- Options stored as doubles (printed the Java way: `1.0`).
M.double_options = { bloom_filter_fp_chance = true, crc_check_chance = true, read_repair_chance = true,
                     dclocal_read_repair_chance = true }
--- Columns of system_schema.tables / views that identify or describe the
-- object rather than being a `WITH` option.
M.not_options = { keyspace_name = true, table_name = true, view_name = true, id = true, flags = true,
                  base_table_id = true, base_table_name = true, include_all_columns = true,
                  where_clause = true }
--- Options kept in `options` but never exported: Cassandra 4.0 removed them
-- from CREATE/ALTER (the columns stay, always 0), so writing them would
-- make the export fail to run.
M.unexported_options = { read_repair_chance = true, dclocal_read_repair_chance = true }

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function option_value(name, v)
  if name == "extensions" then
    local parts = {}
    for _, k in ipairs(sorted_keys(v)) do parts[#parts + 1] = quote_string(k) .. ": 0x" .. hex(v[k]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  if type(v) == "table" and not (getmetatable(v) and getmetatable(v).__tostring) then
    return protect_value(v)
  end
  if type(v) == "table" then return quote_string(tostring(v)) end
  return protect_value(v, M.double_options[name])
end

-- The option lines of a table or view (`name = value`), DESCRIBE's order
-- first, then any other option by name.
local function option_lines(options, is_view)
  local known, extra = {}, {}
  for k in pairs(options) do
    if not M.unexported_options[k] and not (is_view and k == "default_time_to_live") then
      if OPTION_RANK[k] then known[#known + 1] = k else extra[#extra + 1] = k end
    end
  end
  table.sort(known, function(a, b) return OPTION_RANK[a] < OPTION_RANK[b] end)
  table.sort(extra)
  local out = {}
  for _, k in ipairs(known) do out[#out + 1] = k .. " = " .. option_value(k, options[k]) end
  for _, k in ipairs(extra) do out[#out + 1] = k .. " = " .. option_value(k, options[k]) end
  return out
end

--- The values Cassandra 5.0 uses for options whose system_schema column is
-- null (tables created before the option existed, or without it): DESCRIBE
-- prints these, so the model fills them in when told the server is 5.0+.
M.option_defaults_5 = { allow_auto_snapshot = true, cdc = false, memtable = "default",
                        incremental_backups = true }

local function options_from_row(row, defaults)
  local opts = {}
  for k, v in pairs(defaults or {}) do opts[k] = v end
  for k, v in pairs(row) do
    if not M.not_options[k] then
      if type(v) == "table" and not getmetatable(v) then
        opts[k] = to_map(v)
      elseif type(v) == "table" and type(v.pairs) == "function" then
        opts[k] = to_map(v)
      else
        opts[k] = v
      end
    end
  end
  return opts
end

-- Replication ---------------------------------------------------------------

local LOCATOR = "org.apache.cassandra.locator."

--- The replication settings of a keyspace, parsed: `class` (short name),
-- `options` (the map as stored), and for the token map `kind` ("simple",
-- "nts", "local", "everywhere" or "unknown"), `replication_factor`
-- (simple) or `dc_replication_factors` (nts, dc -> full replicas; a
-- transient "3/1" counts 3).
-- @tparam table replication the replication map
-- @treturn table
function M.replication_strategy(replication)
  local opts = to_map(replication)
  local cls = opts.class or ""
  local short = cls:sub(1, #LOCATOR) == LOCATOR and cls:sub(#LOCATOR + 1) or cls
  local r = { class = short, strategy_class = cls, options = opts }
  local function rf(v) return tonumber(tostring(v):match("^%s*(%d+)")) or 0 end
  if short == "SimpleStrategy" then
    r.kind = "simple"
    r.replication_factor = rf(opts.replication_factor)
  elseif short == "NetworkTopologyStrategy" then
    r.kind = "nts"
    r.dc_replication_factors = {}
    for k, v in pairs(opts) do
      if k ~= "class" and k ~= "replication_factor" then r.dc_replication_factors[k] = rf(v) end
    end
  elseif short == "LocalStrategy" then
    r.kind = "local"
  elseif short == "EverywhereStrategy" then
    r.kind = "everywhere"
  else
    r.kind = "unknown"
  end
  return r
end

--- A string naming the replication setting, equal for keyspaces placed
-- alike (the token map shares one replica table between them).
function M.replication_key(strategy)
  if strategy.kind == "simple" then return "simple:" .. strategy.replication_factor end
  if strategy.kind == "nts" then
    local parts = {}
    for _, dc in ipairs(sorted_keys(strategy.dc_replication_factors)) do
      parts[#parts + 1] = dc .. "=" .. strategy.dc_replication_factors[dc]
    end
    return "nts:" .. table.concat(parts, ",")
  end
  return strategy.kind
end

-- Keyspace ------------------------------------------------------------------

--- A keyspace: `name`, `durable_writes`, `replication_strategy` (see
-- `replication_strategy`), `tables`, `views`, `indexes`, `user_types`,
-- `functions`, `aggregates` (keyed by signature `name(t1,t2)`) and
-- `virtual`.
-- @type KeyspaceMetadata
local KeyspaceMetadata = class("KeyspaceMetadata")
M.KeyspaceMetadata = KeyspaceMetadata

--- A keyspace from its `system_schema.keyspaces` row.
function KeyspaceMetadata.new(name, durable_writes, replication, virtual)
  return setmetatable({
    name = name, durable_writes = durable_writes ~= false, virtual = virtual or false,
    replication_strategy = M.replication_strategy(replication or {}),
    tables = {}, views = {}, indexes = {}, user_types = {}, functions = {}, aggregates = {},
  }, KeyspaceMetadata)
end

--- `CREATE KEYSPACE ... WITH replication = {...}  AND durable_writes = ...`
-- (no trailing semicolon).
function KeyspaceMetadata:as_cql_query()
  local r = self.replication_strategy
  local parts = { "'class': " .. quote_string(r.class) }
  for _, k in ipairs(sorted_keys(r.options)) do
    if k ~= "class" then parts[#parts + 1] = quote_string(k) .. ": " .. quote_string(tostring(r.options[k])) end
  end
  return "CREATE KEYSPACE " .. protect_name(self.name) .. " WITH replication = {" .. table.concat(parts, ", ")
    .. "}  AND durable_writes = " .. tostring(self.durable_writes)
end

--- The user types in dependency order (a type after every type it uses),
-- ties broken by name.
function KeyspaceMetadata:user_types_in_order()
  local out, state = {}, {}
  local function visit(name)
    if state[name] == "done" then return end
    if state[name] == "visiting" then return end -- a cycle cannot be created; be safe
    state[name] = "visiting"
    local ut = self.user_types[name]
    local deps = {}
    for _, ft in ipairs(ut.field_types) do
      for _, ref in ipairs(M.referenced_types(ft)) do
        if self.user_types[ref] and ref ~= name then deps[#deps + 1] = ref end
      end
    end
    table.sort(deps)
    for _, d in ipairs(deps) do visit(d) end
    state[name] = "done"
    out[#out + 1] = ut
  end
  for _, n in ipairs(sorted_keys(self.user_types)) do visit(n) end
  return out
end

--- The seed's `user_type_strings()`: each type's CQL in dependency order.
function KeyspaceMetadata:user_type_strings()
  local out = {}
  for i, ut in ipairs(self:user_types_in_order()) do out[i] = ut:export_as_string() end
  return out
end

--- CQL recreating the keyspace: the keyspace, user types in dependency
-- order, functions, aggregates, then each table (by name) with its
-- indexes, materialized views and triggers. Statements end with `;` and
-- are separated by blank lines. A virtual keyspace is exported as comments.
function KeyspaceMetadata:export_as_string()
  if self.virtual then
    local lines = { "/*", "Warning: Keyspace " .. protect_name(self.name)
      .. " is a virtual keyspace and cannot be recreated with CQL.", "*/", "// VIRTUAL KEYSPACE "
      .. protect_name(self.name) .. ";" }
    for _, t in ipairs(sorted_keys(self.tables)) do
      lines[#lines + 1] = "// " .. self.tables[t]:as_cql_query():gsub("\n", "\n// ") .. ";"
    end
    return table.concat(lines, "\n")
  end
  local out = { self:as_cql_query() .. ";" }
  for _, ut in ipairs(self:user_types_in_order()) do out[#out + 1] = ut:export_as_string() end
  for _, sig in ipairs(sorted_keys(self.functions)) do out[#out + 1] = self.functions[sig]:export_as_string() end
  for _, sig in ipairs(sorted_keys(self.aggregates)) do out[#out + 1] = self.aggregates[sig]:export_as_string() end
  for _, t in ipairs(sorted_keys(self.tables)) do out[#out + 1] = self.tables[t]:export_as_string() end
  return table.concat(out, "\n\n")
end

--- Re-links views and indexes to their tables after a change.
function KeyspaceMetadata:_relink()
  self.indexes = {}
  for _, t in pairs(self.tables) do
    t.views = {}
    for n, ix in pairs(t.indexes) do self.indexes[n] = ix end
  end
  for n, v in pairs(self.views) do
    local base = self.tables[v.base_table_name]
    if base then base.views[n] = v end
  end
end

-- Columns -------------------------------------------------------------------

--- A column: `table` (its TableMetadata), `name`, `cql_type` (a CQL string
-- such as `map<text, frozen<list<int>>>`), `kind` (partition_key,
-- clustering, static, regular), `position`, `is_static`, `is_reversed`
-- (DESC clustering).
-- @type ColumnMetadata
local ColumnMetadata = class("ColumnMetadata")
M.ColumnMetadata = ColumnMetadata

function ColumnMetadata.new(tbl, name, cql_type, is_static, is_reversed)
  return setmetatable({ table = tbl, name = name, cql_type = cql_type, is_static = is_static or false,
                        is_reversed = is_reversed or false }, ColumnMetadata)
end

--- The column's type as a `cql.cqltypes` object, or nil and a message when
-- it cannot be built without the keyspace's user types.
function ColumnMetadata:cqltype()
  local ok, t = pcall(function() return require("cql.cqltypes").lookup_casstype(self.cql_type) end)
  if ok then return t end
  return nil, t
end

--- `name type` (plus ` static`).
function ColumnMetadata:__tostring()
  return protect_name(self.name) .. " " .. self.cql_type .. (self.is_static and " static" or "")
end

local function build_columns(owner, rows)
  local pk, ck, other, by_name = {}, {}, {}, {}
  for _, r in ipairs(rows) do
    local kind = r.kind
    local col = ColumnMetadata.new(owner, r.column_name, r.type, kind == "static",
                                   tostring(r.clustering_order):lower() == "desc")
    col.kind = kind
    col.position = r.position
    by_name[col.name] = col
    if kind == "partition_key" then
      pk[#pk + 1] = col
    elseif kind == "clustering" then
      ck[#ck + 1] = col
    else
      other[#other + 1] = col
    end
  end
  table.sort(pk, function(a, b) return a.position < b.position end)
  table.sort(ck, function(a, b) return a.position < b.position end)
  table.sort(other, function(a, b) return a.name < b.name end)
  owner.partition_key, owner.clustering_key, owner.columns = pk, ck, by_name
  owner.primary_key = {}
  for _, c in ipairs(pk) do owner.primary_key[#owner.primary_key + 1] = c end
  for _, c in ipairs(ck) do owner.primary_key[#owner.primary_key + 1] = c end
  owner.column_order = {}
  for _, c in ipairs(owner.primary_key) do owner.column_order[#owner.column_order + 1] = c end
  for _, c in ipairs(other) do owner.column_order[#owner.column_order + 1] = c end
end

-- Cassandra's order for the non-key columns: statics then regulars, each
-- single-cell before multi-cell, then by the name's bytes.
local function describe_order(cols)
  local rest = {}
  for _, c in ipairs(cols) do
    if c.kind ~= "partition_key" and c.kind ~= "clustering" then rest[#rest + 1] = c end
  end
  table.sort(rest, function(a, b)
    if a.is_static ~= b.is_static then return a.is_static end
    local ca, cb = is_complex(a.cql_type), is_complex(b.cql_type)
    if ca ~= cb then return cb end
    return a.name < b.name
  end)
  return rest
end

local function primary_key_clause(obj)
  local pk = {}
  for i, c in ipairs(obj.partition_key) do pk[i] = protect_name(c.name) end
  local parts = { #pk == 1 and pk[1] or "(" .. table.concat(pk, ", ") .. ")" }
  for _, c in ipairs(obj.clustering_key) do parts[#parts + 1] = protect_name(c.name) end
  return "PRIMARY KEY (" .. table.concat(parts, ", ") .. ")"
end

local function clustering_clause(obj)
  if #obj.clustering_key == 0 then return nil end
  local parts = {}
  for i, c in ipairs(obj.clustering_key) do
    parts[i] = protect_name(c.name) .. (c.is_reversed and " DESC" or " ASC")
  end
  return "CLUSTERING ORDER BY (" .. table.concat(parts, ", ") .. ")"
end

-- Tables --------------------------------------------------------------------

--- A table: `keyspace_name`, `name`, `partition_key`, `clustering_key`,
-- `primary_key` (arrays of ColumnMetadata), `columns` (name ->
-- ColumnMetadata), `column_order` (array: partition key, clustering key,
-- then the others by name, the seed's order), `indexes`, `views`,
-- `triggers` (name -> object), `options` (every option
-- `system_schema.tables` has, maps as tables), `extensions`, `id`,
-- `flags`, `is_compact_storage`, `virtual`.
-- @type TableMetadata
local TableMetadata = class("TableMetadata")
M.TableMetadata = TableMetadata

--- The columns as an array in the seed's order.
function TableMetadata:ordered_columns() return self.column_order end

--- `CREATE TABLE` with every option, formatted as DESCRIBE does (no
-- trailing semicolon).
function TableMetadata:as_cql_query()
  local lines = { "CREATE TABLE " .. qualified(self.keyspace_name, self.name) .. " (" }
  local inline_pk = #self.partition_key == 1 and #self.clustering_key == 0
  local defs = {}
  for _, c in ipairs(self.primary_key) do
    defs[#defs + 1] = protect_name(c.name) .. " " .. c.cql_type .. (inline_pk and " PRIMARY KEY" or "")
  end
  for _, c in ipairs(describe_order(self.column_order)) do defs[#defs + 1] = tostring(c) end
  if not inline_pk then defs[#defs + 1] = primary_key_clause(self) end
  for i, d in ipairs(defs) do lines[#lines + 1] = "    " .. d .. (i < #defs and "," or "") end
  if self.virtual then
    lines[#lines + 1] = ")"
    return table.concat(lines, "\n")
  end
  local with = {}
  if self.is_compact_storage then with[#with + 1] = "COMPACT STORAGE" end
  with[#with + 1] = clustering_clause(self)
  for _, l in ipairs(option_lines(self.options, false)) do with[#with + 1] = l end
  lines[#lines + 1] = ") WITH " .. table.concat(with, "\n    AND ")
  return table.concat(lines, "\n")
end

--- The table, then its indexes, materialized views and triggers (each by
-- name), each statement ending with `;`, separated by blank lines.
function TableMetadata:export_as_string()
  local out = { self:as_cql_query() .. ";" }
  for _, n in ipairs(sorted_keys(self.indexes)) do out[#out + 1] = self.indexes[n]:export_as_string() end
  for _, n in ipairs(sorted_keys(self.views)) do out[#out + 1] = self.views[n]:export_as_string() end
  for _, n in ipairs(sorted_keys(self.triggers)) do out[#out + 1] = self.triggers[n]:export_as_string() end
  return table.concat(out, "\n\n")
end

--- Builds a table from its `system_schema.tables` row and the rows of its
-- columns, indexes and triggers (rows of other tables are ignored).
-- @tparam table row
-- @tparam {table,...} column_rows
-- @tparam[opt] {table,...} index_rows
-- @tparam[opt] {table,...} trigger_rows
-- @tparam[opt] boolean virtual
-- @tparam[opt] table defaults option values for null columns (see `option_defaults_5`)
-- @treturn TableMetadata
function M.build_table(row, column_rows, index_rows, trigger_rows, virtual, defaults)
  local ks, name = row.keyspace_name, row.table_name
  local t = setmetatable({ keyspace_name = ks, name = name, indexes = {}, views = {}, triggers = {},
                           virtual = virtual or false, id = row.id }, TableMetadata)
  local mine = {}
  for _, r in ipairs(column_rows or {}) do
    if r.keyspace_name == ks and r.table_name == name then mine[#mine + 1] = r end
  end
  build_columns(t, mine)
  t.options = virtual and { comment = row.comment } or options_from_row(row, defaults)
  t.extensions = t.options.extensions or {}
  local flags = {}
  for _, f in ipairs(to_list(row.flags)) do flags[f] = true end
  t.flags = flags
  t.is_compact_storage = (flags.dense or flags.super or (next(flags) and not flags.compound)) and true or false
  for _, r in ipairs(index_rows or {}) do
    if r.keyspace_name == ks and r.table_name == name then
      t.indexes[r.index_name] = M.build_index(r)
    end
  end
  for _, r in ipairs(trigger_rows or {}) do
    if r.keyspace_name == ks and r.table_name == name then
      t.triggers[r.trigger_name] = M.TriggerMetadata.new(t, r.trigger_name, to_map(r.options))
    end
  end
  return t
end

-- Indexes -------------------------------------------------------------------

--- A secondary index: `keyspace_name`, `table_name`, `name`, `kind`
-- (COMPOSITES, KEYS or CUSTOM), `index_options` (target, class_name and
-- the custom options: SAI's case_sensitive, normalize, ...).
-- @type IndexMetadata
local IndexMetadata = class("IndexMetadata")
M.IndexMetadata = IndexMetadata

function IndexMetadata.new(keyspace_name, table_name, index_name, kind, index_options)
  return setmetatable({ keyspace_name = keyspace_name, table_name = table_name, name = index_name,
                        kind = kind, index_options = index_options or {} }, IndexMetadata)
end

function M.build_index(r)
  return IndexMetadata.new(r.keyspace_name, r.table_name, r.index_name, r.kind, to_map(r.options))
end

--- `CREATE INDEX` or `CREATE CUSTOM INDEX ... USING ... WITH OPTIONS`.
function IndexMetadata:as_cql_query()
  local on = qualified(self.keyspace_name, self.table_name)
  local opts = self.index_options
  local target = opts.target or ""
  if self.kind == "CUSTOM" then
    local q = "CREATE CUSTOM INDEX " .. protect_name(self.name) .. " ON " .. on .. " (" .. target .. ") USING "
      .. quote_string(opts.class_name or "")
    local rest = {}
    for _, k in ipairs(sorted_keys(opts)) do
      if k ~= "target" and k ~= "class_name" then
        rest[#rest + 1] = quote_string(k) .. ": " .. quote_string(tostring(opts[k]))
      end
    end
    if #rest > 0 then q = q .. " WITH OPTIONS = {" .. table.concat(rest, ", ") .. "}" end
    return q
  end
  return "CREATE INDEX " .. protect_name(self.name) .. " ON " .. on .. " (" .. target .. ")"
end

function IndexMetadata:export_as_string() return self:as_cql_query() .. ";" end

-- Materialized views -------------------------------------------------------

--- A materialized view: `keyspace_name`, `name`, `base_table_name`,
-- `partition_key`, `clustering_key`, `primary_key`, `columns`,
-- `column_order`, `include_all_columns`, `where_clause`, `options`,
-- `extensions`, `id`.
-- @type MaterializedViewMetadata
local MaterializedViewMetadata = class("MaterializedViewMetadata")
M.MaterializedViewMetadata = MaterializedViewMetadata

--- Builds a view from its `system_schema.views` row and the column rows
-- (`defaults` as for `build_table`).
function M.build_view(row, column_rows, defaults)
  local ks, name = row.keyspace_name, row.view_name
  local v = setmetatable({ keyspace_name = ks, name = name, base_table_name = row.base_table_name,
                           include_all_columns = row.include_all_columns == true,
                           where_clause = row.where_clause, id = row.id,
                           base_table_id = row.base_table_id }, MaterializedViewMetadata)
  local mine = {}
  for _, r in ipairs(column_rows or {}) do
    if r.keyspace_name == ks and r.table_name == name then mine[#mine + 1] = r end
  end
  build_columns(v, mine)
  v.options = options_from_row(row, defaults)
  v.extensions = v.options.extensions or {}
  return v
end

--- `CREATE MATERIALIZED VIEW ... AS SELECT ... PRIMARY KEY (...) WITH ...`.
function MaterializedViewMetadata:as_cql_query()
  local sel
  if self.include_all_columns then
    sel = "*"
  else
    local cols = {}
    for _, c in ipairs(self.primary_key) do cols[#cols + 1] = protect_name(c.name) end
    for _, c in ipairs(describe_order(self.column_order)) do cols[#cols + 1] = protect_name(c.name) end
    sel = table.concat(cols, ", ")
  end
  local with = { clustering_clause(self) }
  for _, l in ipairs(option_lines(self.options, true)) do with[#with + 1] = l end
  return "CREATE MATERIALIZED VIEW " .. qualified(self.keyspace_name, self.name) .. " AS\n"
    .. "    SELECT " .. sel .. "\n"
    .. "    FROM " .. qualified(self.keyspace_name, self.base_table_name) .. "\n"
    .. "    WHERE " .. tostring(self.where_clause) .. "\n"
    .. "    " .. primary_key_clause(self) .. "\n"
    .. " WITH " .. table.concat(with, "\n    AND ")
end

function MaterializedViewMetadata:export_as_string() return self:as_cql_query() .. ";" end

-- Triggers ------------------------------------------------------------------

--- A trigger: `table`, `name`, `options` (with `class`).
-- @type TriggerMetadata
local TriggerMetadata = class("TriggerMetadata")
M.TriggerMetadata = TriggerMetadata

function TriggerMetadata.new(tbl, name, options)
  return setmetatable({ table = tbl, name = name, options = options or {} }, TriggerMetadata)
end

function TriggerMetadata:as_cql_query()
  return "CREATE TRIGGER " .. protect_name(self.name) .. " ON "
    .. qualified(self.table.keyspace_name, self.table.name) .. " USING " .. quote_string(self.options.class or "")
end

function TriggerMetadata:export_as_string() return self:as_cql_query() .. ";" end

-- User types ----------------------------------------------------------------

--- A user type: `keyspace`, `name`, `field_names`, `field_types` (CQL
-- strings).
-- @type UserType
local UserType = class("UserType")
M.UserType = UserType

function UserType.new(keyspace, name, field_names, field_types)
  return setmetatable({ keyspace = keyspace, name = name, field_names = field_names or {},
                        field_types = field_types or {} }, UserType)
end

function M.build_user_type(r)
  return UserType.new(r.keyspace_name, r.type_name, to_list(r.field_names), to_list(r.field_types))
end

function UserType:as_cql_query()
  local lines = { "CREATE TYPE " .. qualified(self.keyspace, self.name) .. " (" }
  local n = #self.field_names
  for i = 1, n do
    lines[#lines + 1] = "    " .. protect_name(self.field_names[i]) .. " " .. self.field_types[i]
      .. (i < n and "," or "")
  end
  lines[#lines + 1] = ")"
  return table.concat(lines, "\n")
end

function UserType:export_as_string() return self:as_cql_query() .. ";" end

-- Functions and aggregates -----------------------------------------------

--- The seed's signature string: `name(type1,type2)`.
function M.format_signature(name, argument_types)
  return name .. "(" .. table.concat(argument_types, ",") .. ")"
end

--- A user-defined function: `keyspace`, `name`, `argument_types`,
-- `argument_names`, `return_type`, `language`, `body`,
-- `called_on_null_input`, `signature`.
-- @type Function
local Function = class("Function")
M.Function = Function

function M.build_function(r)
  local f = setmetatable({ keyspace = r.keyspace_name, name = r.function_name,
                           argument_types = to_list(r.argument_types), argument_names = to_list(r.argument_names),
                           return_type = r.return_type, language = r.language, body = r.body,
                           called_on_null_input = r.called_on_null_input == true,
                           deterministic = r.deterministic, monotonic = r.monotonic,
                           monotonic_on = r.monotonic_on and to_list(r.monotonic_on) or nil }, Function)
  f.signature = M.format_signature(f.name, f.argument_types)
  return f
end

local function body_literal(body)
  if not body:find("$$", 1, true) then return "$$" .. body .. "$$" end
  return quote_string(body)
end

function Function:as_cql_query()
  local args = {}
  for i, t in ipairs(self.argument_types) do
    args[i] = protect_name(self.argument_names[i] or ("arg" .. i)) .. " " .. M.unfreeze(t)
  end
  return "CREATE FUNCTION " .. qualified(self.keyspace, self.name) .. "(" .. table.concat(args, ", ") .. ")\n"
    .. (self.called_on_null_input and "    CALLED ON NULL INPUT\n" or "    RETURNS NULL ON NULL INPUT\n")
    .. "    RETURNS " .. M.unfreeze(self.return_type) .. "\n"
    .. "    LANGUAGE " .. tostring(self.language) .. "\n"
    .. "    AS " .. body_literal(self.body or "")
end

function Function:export_as_string() return self:as_cql_query() .. ";" end

--- A user-defined aggregate: `keyspace`, `name`, `argument_types`,
-- `state_func`, `state_type`, `final_func`, `initial_condition`,
-- `return_type`, `signature`.
-- @type Aggregate
local Aggregate = class("Aggregate")
M.Aggregate = Aggregate

function M.build_aggregate(r)
  local a = setmetatable({ keyspace = r.keyspace_name, name = r.aggregate_name,
                           argument_types = to_list(r.argument_types), state_func = r.state_func,
                           state_type = r.state_type, final_func = r.final_func,
                           initial_condition = r.initcond, return_type = r.return_type,
                           deterministic = r.deterministic }, Aggregate)
  a.signature = M.format_signature(a.name, a.argument_types)
  return a
end

function Aggregate:as_cql_query()
  local args = {}
  for i, t in ipairs(self.argument_types) do args[i] = M.unfreeze(t) end
  local q = "CREATE AGGREGATE " .. qualified(self.keyspace, self.name) .. "(" .. table.concat(args, ", ") .. ")\n"
    .. "    SFUNC " .. protect_name(self.state_func) .. "\n"
    .. "    STYPE " .. M.unfreeze(self.state_type)
  if self.final_func then q = q .. "\n    FINALFUNC " .. protect_name(self.final_func) end
  if self.initial_condition then q = q .. "\n    INITCOND " .. self.initial_condition end
  return q
end

function Aggregate:export_as_string() return self:as_cql_query() .. ";" end

return M
