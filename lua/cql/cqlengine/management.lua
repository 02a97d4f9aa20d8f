--- Schema management of the ORM (the seed's `cqlengine.management`).
--
--    management.create_keyspace_simple("app", 1)
--    assert(management.sync_table(User))
--
-- `sync_table` creates a model's table (with its user types and secondary
-- indexes), or evolves an existing one: it adds the columns and indexes
-- the model has and the table lacks, and applies `__options`. It refuses,
-- changing nothing, when the table cannot become the model without losing
-- data or meaning: a different primary key or clustering order, a column
-- whose type or staticness differs, or a column the table has and the
-- model does not (sync_table never drops). The refusal is returned as
-- `nil, CQLEngineException` naming the table and the column. The table is
-- read from `system_schema` directly.
--
-- Every function takes, where the seed does, `keyspaces` / `connections`
-- (arrays; default: the model's keyspace and connection) and returns true
-- or `nil, err`.
-- @module cql.cqlengine.management
local cqlengine = require "cql.cqlengine"
local connection = require "cql.cqlengine.connection"
local qb = require "cql.querybuilder"
local collections = require "cql.util.collections"

local M = {}

local quote = qb.quote_identifier

local function refuse(msg)
  return nil, cqlengine.CQLEngineException { message = msg }
end

-- A CQL literal for a table option value.
local function literal(v)
  local t = type(v)
  if t == "number" then
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return ("%d"):format(v) end
    return ("%.17g"):format(v)
  elseif t == "boolean" then
    return tostring(v)
  elseif t == "string" then
    return "'" .. v:gsub("'", "''") .. "'"
  elseif t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local parts = {}
    for i, k in ipairs(keys) do parts[i] = literal(k) .. ": " .. literal(v[k]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  error(("bad table option value of type %s"):format(t), 4)
end

local function options_text(opts)
  local keys = {}
  for k in pairs(opts or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    if not tostring(k):match("^[%a_][%w_]*$") then error(("bad table option name '%s'"):format(tostring(k)), 3) end
    parts[i] = k .. " = " .. literal(opts[k])
  end
  return parts
end

---------------------------------------------------------------------------
-- Keyspaces
---------------------------------------------------------------------------

local function each_connection(connections, fn)
  for _, conn in ipairs(connections or { false }) do
    local ok, err = fn(conn or nil)
    if not ok then return nil, err end
  end
  return true
end

local function ddl(cql, conn)
  local rs, err = connection.execute(cql, nil, conn)
  if not rs then return nil, err end
  return true
end

local function keyspace_cql(name, replication, durable_writes)
  if type(name) ~= "string" or name == "" then error("bad argument #1 (keyspace name expected)", 3) end
  return ("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s AND durable_writes = %s"):format(
    quote(name), literal(replication), tostring(durable_writes ~= false))
end

--- Creates a keyspace with SimpleStrategy (nothing when it exists).
-- @tparam string name
-- @tparam integer replication_factor
-- @tparam[opt=true] boolean durable_writes
-- @tparam[opt] {string,...} connections
function M.create_keyspace_simple(name, replication_factor, durable_writes, connections)
  if type(replication_factor) ~= "number" then
    error("bad argument #2 to 'create_keyspace_simple' (replication factor expected)", 2)
  end
  local cql = keyspace_cql(name, { class = "SimpleStrategy", replication_factor = replication_factor },
                           durable_writes)
  return each_connection(connections, function(conn) return ddl(cql, conn) end)
end

--- Creates a keyspace with NetworkTopologyStrategy (nothing when it
-- exists): `dc_replication_map` is `{dc1 = 3, dc2 = 2}`.
-- @tparam string name
-- @tparam table dc_replication_map
-- @tparam[opt=true] boolean durable_writes
-- @tparam[opt] {string,...} connections
function M.create_keyspace_network_topology(name, dc_replication_map, durable_writes, connections)
  if type(dc_replication_map) ~= "table" then
    error("bad argument #2 to 'create_keyspace_network_topology' (table of dc = factor expected)", 2)
  end
  local replication = { class = "NetworkTopologyStrategy" }
  for dc, n in pairs(dc_replication_map) do replication[dc] = n end
  local cql = keyspace_cql(name, replication, durable_writes)
  return each_connection(connections, function(conn) return ddl(cql, conn) end)
end

--- Drops a keyspace (nothing when it does not exist).
-- @tparam string name
-- @tparam[opt] {string,...} connections
function M.drop_keyspace(name, connections)
  if type(name) ~= "string" or name == "" then error("bad argument #1 to 'drop_keyspace' (name expected)", 2) end
  return each_connection(connections, function(conn) return ddl("DROP KEYSPACE IF EXISTS " .. quote(name), conn) end)
end

---------------------------------------------------------------------------
-- Reading system_schema
---------------------------------------------------------------------------

local function select_rows(stmt, conn)
  local rs, err = connection.execute_builder(stmt, conn)
  if not rs then return nil, err end
  return rs:all()
end

local function norm_type(t)
  return (t:lower():gsub("%s+", ""))
end

local function list_items(v)
  if v == nil then return {} end
  if collections.is_sortedset(v) then return v:items() end
  local out = {}
  for i = 1, (v.n or #v) do out[i] = v[i] end
  return out
end

---------------------------------------------------------------------------
-- User types
---------------------------------------------------------------------------

-- The user types a column uses, innermost first.
local function column_types(col, out, seen)
  if col.user_type then
    for _, f in ipairs(col.user_type._fields) do column_types(f, out, seen) end
    if not seen[col.user_type] then
      seen[col.user_type] = true
      out[#out + 1] = col.user_type
    end
  end
  for _, s in ipairs(col.subs or {}) do column_types(s, out, seen) end
end

--- The CREATE TYPE statement of a user type in a keyspace.
-- @param user_type
-- @tparam string keyspace
-- @treturn string
function M.create_type_cql(user_type, keyspace)
  local parts = {}
  for i, f in ipairs(user_type._fields) do parts[i] = quote(f.name) .. " " .. f:cql_type() end
  return ("CREATE TYPE IF NOT EXISTS %s.%s (%s)"):format(quote(keyspace), quote(user_type.__type_name),
                                                        table.concat(parts, ", "))
end

local function sync_one_type(keyspace, user_type, conn)
  local rows, err = select_rows(qb.select("system_schema.types"):columns("field_names", "field_types")
    :where("keyspace_name", "=", keyspace):where("type_name", "=", user_type.__type_name), conn)
  if not rows then return nil, err end
  if #rows == 0 then return ddl(M.create_type_cql(user_type, keyspace), conn) end
  local existing = {}
  local names, types = list_items(rows[1].field_names), list_items(rows[1].field_types)
  for i, n in ipairs(names) do existing[n] = types[i] end
  local adds = {}
  for _, f in ipairs(user_type._fields) do
    local t = existing[f.name]
    if t == nil then
      adds[#adds + 1] = f
    elseif norm_type(t) ~= norm_type(f:cql_type()) then
      return refuse(("type %s.%s: field '%s' is %s on the server and %s in the model; changing a field's type is "
        .. "refused"):format(keyspace, user_type.__type_name, f.name, t, f:cql_type()))
    end
    existing[f.name] = nil
  end
  local extra = next(existing)
  if extra then
    return refuse(("type %s.%s: field '%s' exists on the server but not in the model; dropping fields is refused")
      :format(keyspace, user_type.__type_name, extra))
  end
  for _, f in ipairs(adds) do
    local ok, aerr = ddl(("ALTER TYPE %s.%s ADD %s %s"):format(quote(keyspace), quote(user_type.__type_name),
                                                                 quote(f.name), f:cql_type()), conn)
    if not ok then return nil, aerr end
  end
  return true
end

--- Creates a user type in a keyspace, or adds the fields it lacks (and
-- the types its fields use, first). Refuses a changed or dropped field.
-- @tparam string keyspace
-- @param user_type a `cql.cqlengine.usertype` class
-- @tparam[opt] string conn connection name
function M.sync_type(keyspace, user_type, conn)
  if type(keyspace) ~= "string" then error("bad argument #1 to 'sync_type' (keyspace expected)", 2) end
  if type(user_type) ~= "table" or not user_type.is_user_type then
    error("bad argument #2 to 'sync_type' (user type class expected)", 2)
  end
  local list, seen = {}, {}
  column_types({ user_type = user_type }, list, seen)
  for _, ut in ipairs(list) do
    local ok, err = sync_one_type(keyspace, ut, conn)
    if not ok then return nil, err end
  end
  return true
end

---------------------------------------------------------------------------
-- Tables
---------------------------------------------------------------------------

-- Every column stored in a model's table: a polymorphic family shares
-- one table, so its columns are the union of the base's and subclasses'.
local function table_columns(model)
  local base = model._polymorphic_base or model
  local out, seen = {}, {}
  local function add(m)
    for _, c in ipairs(m._columns) do
      if not seen[c.db_field] then
        seen[c.db_field] = true
        out[#out + 1] = c
      end
    end
  end
  add(base)
  if base._discriminator_map then
    local subs = {}
    for _, sub in pairs(base._discriminator_map) do subs[#subs + 1] = sub end
    table.sort(subs, function(a, b) return a.__name < b.__name end)
    for _, sub in ipairs(subs) do add(sub) end
  end
  return out
end

--- The CREATE TABLE statement of a model (in `keyspace`, default the
-- model's; `table_name` overrides the name).
-- @param model
-- @tparam[opt] string keyspace
-- @tparam[opt] string table_name
-- @treturn string
function M.create_table_cql(model, keyspace, table_name)
  keyspace = keyspace or model:_get_keyspace()
  local defs = {}
  for _, c in ipairs(table_columns(model)) do
    defs[#defs + 1] = quote(c.db_field) .. " " .. c:cql_type() .. (c.static and " static" or "")
  end
  local pks, cks = {}, {}
  for _, c in ipairs(model._partition_keys) do pks[#pks + 1] = quote(c.db_field) end
  for _, c in ipairs(model._clustering_keys) do cks[#cks + 1] = quote(c.db_field) end
  local key = "(" .. table.concat(pks, ", ") .. ")"
  if #cks > 0 then key = key .. ", " .. table.concat(cks, ", ") end
  defs[#defs + 1] = "PRIMARY KEY (" .. key .. ")"
  local with = {}
  local ordered = false
  for _, c in ipairs(model._clustering_keys) do if c.clustering_order then ordered = true end end
  if ordered then
    local parts = {}
    for i, c in ipairs(model._clustering_keys) do
      parts[i] = quote(c.db_field) .. " " .. (c.clustering_order or "asc"):upper()
    end
    with[#with + 1] = "CLUSTERING ORDER BY (" .. table.concat(parts, ", ") .. ")"
  end
  for _, o in ipairs(options_text(model.__options)) do with[#with + 1] = o end
  local cql = ("CREATE TABLE IF NOT EXISTS %s.%s (%s)"):format(quote(keyspace), quote(table_name or model.__table_name),
                                                             table.concat(defs, ", "))
  if #with > 0 then cql = cql .. " WITH " .. table.concat(with, " AND ") end
  return cql
end

local function index_name(model, c)
  return (model.__table_name .. "_" .. c.db_field .. "_idx"):lower():gsub("[^%w_]", "_")
end

--- The CREATE INDEX statements of a model's indexed columns.
-- @param model
-- @tparam[opt] string keyspace
-- @treturn {string,...}
function M.create_index_cql(model, keyspace)
  keyspace = keyspace or model:_get_keyspace()
  local out = {}
  for _, c in ipairs(table_columns(model)) do
    if c.index then
      out[#out + 1] = ("CREATE INDEX IF NOT EXISTS %s ON %s.%s (%s)"):format(quote(index_name(model, c)),
        quote(keyspace), quote(model.__table_name), quote(c.db_field))
    end
  end
  return out
end

-- The column an index target names: `col`, `"Col"`, `values(col)`, ...
local function target_column(target)
  local inner = target:match("^%a+%((.*)%)$") or target
  if inner:sub(1, 1) == '"' then return (inner:sub(2, -2):gsub('""', '"')) end
  return inner
end

local function sync_one_table(model, keyspace, conn)
  local cols = table_columns(model)
  local types, seen = {}, {}
  for _, c in ipairs(cols) do column_types(c, types, seen) end
  for _, ut in ipairs(types) do
    local ok, err = sync_one_type(keyspace, ut, conn)
    if not ok then return nil, err end
  end
  local tname = model.__table_name
  local rows, err = select_rows(qb.select("system_schema.columns")
    :columns("column_name", "kind", "position", "type", "clustering_order")
    :where("keyspace_name", "=", keyspace):where("table_name", "=", tname), conn)
  if not rows then return nil, err end
  local where = keyspace .. "." .. tname
  if #rows == 0 then
    local ok, cerr = ddl(M.create_table_cql(model, keyspace), conn)
    if not ok then return nil, cerr end
  else
    local server, pks, cks = {}, {}, {}
    for _, r in ipairs(rows) do
      server[r.column_name] = r
      if r.kind == "partition_key" then pks[r.position + 1] = r.column_name end
      if r.kind == "clustering" then cks[r.position + 1] = r end
    end
    local mpk, mck = {}, {}
    for _, c in ipairs(model._partition_keys) do mpk[#mpk + 1] = c.db_field end
    for _, c in ipairs(model._clustering_keys) do mck[#mck + 1] = c.db_field end
    local spk, sck = table.concat(pks, ", "), {}
    for i, r in ipairs(cks) do sck[i] = r.column_name end
    if spk ~= table.concat(mpk, ", ") or table.concat(sck, ", ") ~= table.concat(mck, ", ") then
      return refuse(("table %s: PRIMARY KEY composition does not match existing table: the server has "
        .. "((%s), %s), the model ((%s), %s)"):format(where, spk, table.concat(sck, ", "), table.concat(mpk, ", "),
        table.concat(mck, ", ")))
    end
    for i, c in ipairs(model._clustering_keys) do
      if (c.clustering_order or "asc") ~= cks[i].clustering_order then
        return refuse(("table %s: clustering order of '%s' is %s on the server and %s in the model")
          :format(where, c.db_field, cks[i].clustering_order, c.clustering_order or "asc"))
      end
    end
    local adds, in_model = {}, {}
    for _, c in ipairs(cols) do
      in_model[c.db_field] = true
      local r = server[c.db_field]
      if not r then
        adds[#adds + 1] = c
      elseif norm_type(r.type) ~= norm_type(c:cql_type()) then
        return refuse(("table %s: column '%s' is %s on the server and %s in the model; changing a column's type "
          .. "is refused"):format(where, c.db_field, r.type, c:cql_type()))
      elseif (r.kind == "static") ~= (c.static and true or false) then
        return refuse(("table %s: column '%s' is %s on the server; changing that is refused")
          :format(where, c.db_field, r.kind == "static" and "static" or "not static"))
      end
    end
    for _, r in ipairs(rows) do
      if not in_model[r.column_name] then
        return refuse(("table %s: column '%s' exists in the table but not in the model; dropping columns is refused")
          :format(where, r.column_name))
      end
    end
    for _, c in ipairs(adds) do
      local ok, aerr = ddl(("ALTER TABLE %s.%s ADD %s %s%s"):format(quote(keyspace), quote(tname), quote(c.db_field),
        c:cql_type(), c.static and " static" or ""), conn)
      if not ok then return nil, aerr end
    end
    local opts = options_text(model.__options)
    if #opts > 0 then
      local ok, oerr = ddl(("ALTER TABLE %s.%s WITH %s"):format(quote(keyspace), quote(tname),
                                                               table.concat(opts, " AND ")), conn)
      if not ok then return nil, oerr end
    end
  end
  local idx
  idx, err = select_rows(qb.select("system_schema.indexes"):columns("index_name", "options")
    :where("keyspace_name", "=", keyspace):where("table_name", "=", tname), conn)
  if not idx then return nil, err end
  local indexed = {}
  for _, r in ipairs(idx) do
    local target = r.options and (collections.is_orderedmap(r.options) and r.options:get("target") or r.options.target)
    if target then indexed[target_column(target)] = true end
  end
  for _, c in ipairs(cols) do
    if c.index and not indexed[c.db_field] then
      local ok, ierr = ddl(("CREATE INDEX IF NOT EXISTS %s ON %s.%s (%s)"):format(quote(index_name(model, c)),
        quote(keyspace), quote(tname), quote(c.db_field)), conn)
      if not ok then return nil, ierr end
    end
  end
  return true
end

local function check_model(model, fname)
  if type(model) ~= "table" or not rawget(model, "is_model") then
    error(("bad argument #1 to '%s' (model expected)"):format(fname), 3)
  end
  if model.__abstract then
    cqlengine.raise(cqlengine.CQLEngineException, ("cannot %s the abstract model %s"):format(fname, model.__name),
                    nil, 3)
  end
end

--- Creates or evolves a model's table (see the module description).
-- @param model
-- @tparam[opt] table opts `keyspaces` (array), `connections` (array)
-- @return true, or nil and an error
function M.sync_table(model, opts)
  check_model(model, "sync_table")
  opts = opts or {}
  local keyspaces = opts.keyspaces or { model:_get_keyspace() }
  return each_connection(opts.connections or (model.__connection and { model.__connection }), function(conn)
    for _, ks in ipairs(keyspaces) do
      local ok, err = sync_one_table(model, ks, conn)
      if not ok then return nil, err end
    end
    return true
  end)
end

--- Drops a model's table (nothing when it does not exist).
-- @param model
-- @tparam[opt] table opts `keyspaces`, `connections`
function M.drop_table(model, opts)
  check_model(model, "drop_table")
  opts = opts or {}
  local keyspaces = opts.keyspaces or { model:_get_keyspace() }
  return each_connection(opts.connections or (model.__connection and { model.__connection }), function(conn)
    for _, ks in ipairs(keyspaces) do
      local ok, err = ddl(("DROP TABLE IF EXISTS %s.%s"):format(quote(ks), quote(model.__table_name)), conn)
      if not ok then return nil, err end
    end
    return true
  end)
end

return M
