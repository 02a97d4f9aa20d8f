--- Schema (DDL) statements of the query builder: immutable, chainable
-- CREATE / ALTER / DROP builders for keyspaces, tables, indexes and user
-- types. They are exported by `cql.querybuilder`:
--
--    local qb = require "cql.querybuilder"
--    local q = qb.create_table("app.events"):if_not_exists()
--      :partition_key("day", "date"):clustering_column("at", "timeuuid", "DESC")
--      :column("body", "text"):with_option("default_time_to_live", 3600)
--    local cql = q:build()
--    -- CREATE TABLE IF NOT EXISTS app.events (day date, at timeuuid, body text,
--    --   PRIMARY KEY ((day), at)) WITH CLUSTERING ORDER BY (at DESC)
--    --   AND default_time_to_live = 3600
--
-- Every method returns a new builder and leaves its receiver unchanged.
--
-- **Names** are given as stored (case-sensitive) and quoted when CQL needs
-- it (`qb.quote_identifier`): keyspace, table, type and index names are
-- letters, digits and `_`, tables and types optionally qualified by their
-- keyspace (`"ks.t"`); column and field names are any non-empty string.
--
-- **Types** are CQL type strings (`"int"`, `"frozen<list<int>>"`,
-- `"map<text, frozen<addr>>"`, `"vector<float, 3>"`), checked with the
-- driver's type parser (`cql.cqltypes.lookup_casstype`) and written as
-- given. A name the parser does not know is a user-defined type; marshal
-- class names (`"Int32Type"`, `"org.apache..."`) are refused.
--
-- **Option values** are written as CQL literals: strings quoted (with `'`
-- doubled), integers and other finite numbers as numbers, booleans as
-- `true`/`false`, tables as maps `{'k': v}` (keys sorted, `class` first);
-- `qb.raw("...")` (without markers) is written verbatim.
--
-- **build()** returns the CQL text, an empty values array (`{n = 0}`, or
-- `{}` with `named = true`) and an empty marker list, so callers handle DDL
-- and DML builders alike. DDL has no bind markers.
--
-- **Errors** follow the DML builders: `bad argument #n to 'method' (...)`
-- for a bad argument, `bad call to 'method' (...)` for a call CQL does not
-- allow at that point; `build` raises `cannot build ...` for an incomplete
-- statement.
-- @module cql.querybuilder.schema
local identifiers = require "cql.querybuilder.identifiers"
local core = require "cql.querybuilder.core"

local argerror, callerror, describe = core.argerror, core.callerror, core.describe
local derive, append, check_name = core.derive, core.append, core.check_name
local is_plain_table, Raw = core.is_plain_table, core.Raw
local quote = identifiers.quote

local M = {}

---------------------------------------------------------------------------
-- Names
---------------------------------------------------------------------------

local function check_part(fname, n, full, part, what, depth)
  if not part:match("^[%w_]+$") then
    argerror(fname, n, ("invalid %s '%s' (%s names are letters, digits and _)"):format(what, full, what:match("%a+")),
      depth + 1)
  end
end

-- A keyspace or index name: one part, quoted.
local function simple_name(fname, n, name, what, depth)
  depth = depth or 0
  if type(name) ~= "string" then argerror(fname, n, what .. " expected, got " .. type(name), depth + 1) end
  check_part(fname, n, name, name, what, depth + 1)
  return quote(name)
end

-- A table, type or index name, optionally qualified by its keyspace.
local function qualified_name(fname, n, name, what, depth)
  depth = depth or 0
  if type(name) ~= "string" then argerror(fname, n, what .. " expected, got " .. type(name), depth + 1) end
  local ks, base = name:match("^([^.]*)%.([^.]*)$")
  if ks then check_part(fname, n, name, ks, "keyspace name", depth + 1) else base = name end
  check_part(fname, n, name, base, what, depth + 1)
  return (ks and (quote(ks) .. ".") or "") .. quote(base)
end

---------------------------------------------------------------------------
-- Types
---------------------------------------------------------------------------

local cqltypes -- loaded on first use: it needs the driver's C library

-- Checks a CQL type string for a column or field; returns it trimmed.
local function cql_type(fname, n, t, what, depth)
  depth = (depth or 0) + 1
  if type(t) ~= "string" then argerror(fname, n, ("CQL type expected for %s, got %s"):format(what, type(t)), depth) end
  local s = t:match("^%s*(.-)%s*$")
  if s == "" then argerror(fname, n, "empty type for " .. what, depth) end
  if s:find("(", 1, true) or s:find("^org%.apache%.") or s:match("^[%w_]*Type$") then
    argerror(fname, n, ("invalid type '%s' for %s (a marshal class name; a CQL type such as 'int' or "
      .. "'list<text>' expected)"):format(s, what), depth)
  end
  cqltypes = cqltypes or require "cql.cqltypes"
  local ok, err = pcall(cqltypes.lookup_casstype, s)
  if not ok then
    local why = tostring(err):gsub("^.-don't know how to parse type string: ", "")
    argerror(fname, n, ("invalid type '%s' for %s: %s"):format(s, what, why), depth)
  end
  return s
end

---------------------------------------------------------------------------
-- Literals
---------------------------------------------------------------------------

local function number_literal(v)
  if v ~= v or v == math.huge or v == -math.huge then return nil end
  if v % 1 == 0 and math.abs(v) < 2 ^ 53 then return ("%d"):format(v) end
  return ("%.17g"):format(v)
end

local function string_literal(s)
  return "'" .. s:gsub("'", "''") .. "'"
end

-- A scalar literal (inside a map, or an option's value); nil when v is not one.
local function scalar_literal(v)
  local t = type(v)
  if t == "string" then return string_literal(v) end
  if t == "number" then return number_literal(v) end
  if t == "boolean" then return tostring(v) end
  if t == "cdata" then
    local ok, s = pcall(function() return tostring(v + 0LL) end)
    if ok then return (s:gsub("U?LL$", "")) end
  end
  return nil
end

-- The keys of a map, sorted, "class" first.
local function map_keys(fname, n, m, what, depth)
  local keys = {}
  for k in pairs(m) do
    if type(k) ~= "string" or k == "" then
      argerror(fname, n, ("%s: map keys must be non-empty strings, got %s"):format(what, describe(k)), depth + 1)
    end
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b)
    if a == "class" or b == "class" then return a == "class" and b ~= "class" end
    return a < b
  end)
  return keys
end

-- A map literal `{'k': v, ...}`; `as_text` writes every value as a string.
local function map_literal(fname, n, m, what, depth, as_text)
  local parts = {}
  for i, k in ipairs(map_keys(fname, n, m, what, depth + 1)) do
    local v = m[k]
    local text = scalar_literal(v)
    if not text then
      argerror(fname, n, ("%s: value of '%s' must be a string, number or boolean, got %s"):format(what, k, type(v)),
        depth + 1)
    end
    if as_text and type(v) ~= "string" then text = string_literal(text) end
    parts[i] = string_literal(k) .. ": " .. text
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- Any option value as a CQL literal.
local function literal(fname, n, v, what, depth)
  depth = (depth or 0) + 1
  if getmetatable(v) == Raw then
    if #v.segments > 1 then argerror(fname, n, what .. ": a qb.raw option value cannot have '?' markers", depth) end
    return v.text
  end
  local text = scalar_literal(v)
  if text then return text end
  if type(v) == "number" then
    argerror(fname, n, ("%s: finite number expected, got %s"):format(what, tostring(v)), depth)
  end
  if is_plain_table(v) then
    if #v > 0 then argerror(fname, n, what .. ": a map (table of key = value) expected, got an array", depth) end
    local map = map_literal(fname, n, v, what, depth)
    return map -- not a tail call: error levels count this frame
  end
  argerror(fname, n, ("%s: string, number, boolean, map or qb.raw expected, got %s"):format(what, type(v)), depth)
end

-- Checks an option name; returns it.
local function option_name(fname, n, name, depth)
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    argerror(fname, n, "option name (an identifier) expected, got " .. describe(name), (depth or 0) + 1)
  end
  return name
end

-- Adds one option to a builder's `options` (name, text), refusing duplicates.
local function add_option(self, fname, name, value, depth)
  depth = (depth or 0) + 1
  option_name(fname, 1, name, depth)
  for _, o in ipairs(self.options) do
    if o.name:lower() == name:lower() then argerror(fname, 1, ("option '%s' given twice"):format(name), depth) end
  end
  if value == nil then argerror(fname, 2, ("value expected for option '%s'"):format(name), depth) end
  local text = literal(fname, 2, value, "option '" .. name .. "'", depth)
  return derive(self, { options = append(self.options, { name = name, text = text }) })
end

-- Adds the options of a table `{name = value}`, in the order of the names.
local function add_options(self, fname, t)
  if not is_plain_table(t) or #t > 0 then argerror(fname, 1, "table of option = value pairs expected", 1) end
  local names = {}
  for k in pairs(t) do
    option_name(fname, 1, k, 1)
    names[#names + 1] = k
  end
  table.sort(names)
  local q = self
  for _, k in ipairs(names) do q = add_option(q, fname, k, t[k], 1) end
  return q
end

local function render_options(parts, options)
  for _, o in ipairs(options) do parts[#parts + 1] = o.name .. " = " .. o.text end
  return parts
end

---------------------------------------------------------------------------
-- Statements
---------------------------------------------------------------------------

local classes = {}

local function build(self, opts)
  if opts ~= nil and type(opts) ~= "table" then argerror("build", 1, "table of options or nil expected") end
  for k in pairs(opts or {}) do
    if k ~= "named" then argerror("build", 1, ("unknown option '%s'"):format(tostring(k))) end
  end
  local text = self:render()
  return text, (opts and opts.named) and {} or { n = 0 }, {}
end

local function statement_class(kind)
  local methods = { build = build }
  local mt = { __index = methods, __name = "qb." .. kind:lower():gsub(" ", "_") }
  mt.__tostring = function(self)
    local ok, cql = pcall(self.build, self)
    return ok and cql or ("%s(incomplete: %s)"):format(mt.__name, tostring(cql):gsub("^.-:%d+: ", ""))
  end
  methods.class = mt
  classes[mt] = true
  return methods, mt
end

-- Raised by render (called from build): blames build's caller.
local function incomplete(kind, msg)
  error(("cannot build %s: %s"):format(kind, msg), 4)
end

local function if_exists(self)
  return derive(self, { if_exists_ = true })
end

-- DROP KEYSPACE / TABLE / INDEX / TYPE: one name, and IF EXISTS. Returns
-- the constructor; `name_of` validates and quotes the name.
local function drop_statement(kind, fname, name_of, what)
  local methods, mt = statement_class(kind)
  --- IF EXISTS: nothing happens when the object does not exist.
  methods.if_exists = if_exists
  function methods:render()
    return kind .. " " .. (self.if_exists_ and "IF EXISTS " or "") .. self.name
  end
  return function(name)
    return setmetatable({ kind = kind, name = name_of(fname, 1, name, what) }, mt)
  end
end

local function if_not_exists(self)
  return derive(self, { if_not_exists_ = true })
end

---------------------------------------------------------------------------
-- Keyspaces
---------------------------------------------------------------------------

-- Checks a replication map; returns its literal.
local function replication(fname, r)
  if not is_plain_table(r) or #r > 0 then
    argerror(fname, 1, "replication map expected ({class = ..., ...}), got " .. type(r), 1)
  end
  local class = r.class
  if type(class) ~= "string" or class == "" then
    argerror(fname, 1, "replication: 'class' (the strategy's name) expected, got " .. describe(class), 1)
  end
  local n = 0
  for k, v in pairs(r) do
    if k ~= "class" then
      n = n + 1
      if type(k) ~= "string" or k == "" then
        argerror(fname, 1, "replication: keys must be non-empty strings, got " .. describe(k), 1)
      end
      local ok = type(v) == "string" and v:match("^%d+$") or type(v) == "string" and v:match("^%d+/%d+$")
        or type(v) == "number" and v >= 0 and v % 1 == 0
      if not ok then
        argerror(fname, 1, ("replication: '%s' must be a replica count (non-negative integer), got %s")
          :format(k, type(v) == "number" and tostring(v) or describe(v)), 1)
      end
    end
  end
  if class:match("SimpleStrategy$") then
    if r.replication_factor == nil then
      argerror(fname, 1, "replication: SimpleStrategy needs replication_factor", 1)
    end
    if n > 1 then argerror(fname, 1, "replication: SimpleStrategy takes only replication_factor", 1) end
  elseif n == 0 then
    argerror(fname, 1, ("replication: %s needs replica counts (per data center, or replication_factor)"):format(class),
      1)
  end
  return map_literal(fname, 1, r, "replication", 1)
end

local CreateKeyspace, CreateKeyspaceMT = statement_class("CREATE KEYSPACE")

--- A CREATE KEYSPACE statement. It needs `with_replication`.
-- @tparam string name the keyspace
-- @return a CREATE KEYSPACE builder
function M.create_keyspace(name)
  return setmetatable({ kind = "CREATE KEYSPACE", name = simple_name("create_keyspace", 1, name, "keyspace name") },
    CreateKeyspaceMT)
end

--- IF NOT EXISTS: nothing happens when the keyspace exists.
-- @function if_not_exists
-- @return a new builder
CreateKeyspace.if_not_exists = if_not_exists

--- Sets the replication: `{class = "SimpleStrategy", replication_factor = 3}`
-- or `{class = "NetworkTopologyStrategy", dc1 = 3, dc2 = 2}` (replica
-- counts are non-negative integers, or strings like `"3/1"` for transient
-- replication).
-- @tparam table r the replication map
-- @return a new builder
function CreateKeyspace:with_replication(r)
  return derive(self, { replication = replication("with_replication", r) })
end

--- Sets durable_writes.
-- @tparam boolean on
-- @return a new builder
function CreateKeyspace:durable_writes(on)
  if type(on) ~= "boolean" then argerror("durable_writes", 1, "boolean expected, got " .. type(on)) end
  return derive(self, { durable = on })
end

local function keyspace_with(self)
  local parts = {}
  if self.replication then parts[#parts + 1] = "replication = " .. self.replication end
  if self.durable ~= nil then parts[#parts + 1] = "durable_writes = " .. tostring(self.durable) end
  return " WITH " .. table.concat(parts, " AND ")
end

--- The CQL text (internal: `build` calls it).
-- @local
function CreateKeyspace:render()
  if not self.replication then incomplete("CREATE KEYSPACE", "no replication (use with_replication)") end
  return "CREATE KEYSPACE " .. (self.if_not_exists_ and "IF NOT EXISTS " or "") .. self.name .. keyspace_with(self)
end

local AlterKeyspace, AlterKeyspaceMT = statement_class("ALTER KEYSPACE")

--- An ALTER KEYSPACE statement: it needs `with_replication` or
-- `durable_writes`.
-- @tparam string name the keyspace
-- @return an ALTER KEYSPACE builder
function M.alter_keyspace(name)
  return setmetatable({ kind = "ALTER KEYSPACE", name = simple_name("alter_keyspace", 1, name, "keyspace name") },
    AlterKeyspaceMT)
end

--- Sets the replication (see `create_keyspace`).
-- @function with_replication
-- @tparam table r
-- @return a new builder
AlterKeyspace.with_replication = CreateKeyspace.with_replication

--- Sets durable_writes.
-- @function durable_writes
-- @tparam boolean on
-- @return a new builder
AlterKeyspace.durable_writes = CreateKeyspace.durable_writes

--- The CQL text (internal: `build` calls it).
-- @local
function AlterKeyspace:render()
  if not self.replication and self.durable == nil then
    incomplete("ALTER KEYSPACE", "nothing to change (use with_replication or durable_writes)")
  end
  return "ALTER KEYSPACE " .. self.name .. keyspace_with(self)
end

--- A DROP KEYSPACE statement (with `if_exists()`).
-- @function drop_keyspace
-- @tparam string name the keyspace
-- @return a DROP KEYSPACE builder
M.drop_keyspace = drop_statement("DROP KEYSPACE", "drop_keyspace", simple_name, "keyspace name")

---------------------------------------------------------------------------
-- Tables
---------------------------------------------------------------------------

local CreateTable, CreateTableMT = statement_class("CREATE TABLE")

--- A CREATE TABLE statement (`"t"` or `"keyspace.t"`). It needs columns,
-- at least one of them a partition key. Columns are written in the order
-- they are added; the PRIMARY KEY lists the partition keys, then the
-- clustering columns, in the order they are added.
-- @tparam string tbl
-- @return a CREATE TABLE builder
function M.create_table(tbl)
  return setmetatable({ kind = "CREATE TABLE", table = qualified_name("create_table", 1, tbl, "table name"),
                        cols = {}, options = {} }, CreateTableMT)
end

--- IF NOT EXISTS: nothing happens when the table exists.
-- @function if_not_exists
-- @return a new builder
CreateTable.if_not_exists = if_not_exists

local ORDERS = { asc = "ASC", desc = "DESC" }

local function add_column(self, fname, name, typ, role, order)
  check_name(fname, 1, name, nil, 1)
  for _, c in ipairs(self.cols) do
    if c.name == name then argerror(fname, 1, ("column '%s' defined twice"):format(name), 1) end
  end
  local t = cql_type(fname, 2, typ, ("column '%s'"):format(name), 1)
  return derive(self, { cols = append(self.cols, { name = name, type = t, role = role, order = order }) })
end

--- Adds a regular column.
-- @tparam string name
-- @tparam string typ CQL type
-- @return a new builder
function CreateTable:column(name, typ)
  local q = add_column(self, "column", name, typ, "regular")
  return q
end

--- Adds a partition key column (several make a composite partition key,
-- in the order they are added).
-- @tparam string name
-- @tparam string typ CQL type
-- @return a new builder
function CreateTable:partition_key(name, typ)
  local q = add_column(self, "partition_key", name, typ, "partition")
  return q
end

--- Adds a clustering column, with its order: `"ASC"` (the default) or
-- `"DESC"`, any case. When any clustering column is given an order, the
-- table gets a CLUSTERING ORDER BY naming every clustering column.
-- @tparam string name
-- @tparam string typ CQL type
-- @tparam[opt] string order
-- @return a new builder
function CreateTable:clustering_column(name, typ, order)
  local o
  if order ~= nil then
    o = type(order) == "string" and ORDERS[order:lower()]
    if not o then argerror("clustering_column", 3, "'ASC' or 'DESC' expected, got " .. describe(order)) end
  end
  local q = add_column(self, "clustering_column", name, typ, "clustering", o)
  return q
end

--- Adds a static column (shared by the rows of a partition; the table
-- needs a clustering column).
-- @tparam string name
-- @tparam string typ CQL type
-- @return a new builder
function CreateTable:static_column(name, typ)
  local q = add_column(self, "static_column", name, typ, "static")
  return q
end

--- Adds a table option: `with_option("comment", "x")`,
-- `with_option("compaction", {class = "LeveledCompactionStrategy"})`,
-- `with_option("default_time_to_live", 3600)`, ... (the value as a CQL
-- literal, see the module's description). An option is given once.
-- @tparam string name an identifier
-- @param value
-- @return a new builder
function CreateTable:with_option(name, value)
  local q = add_option(self, "with_option", name, value)
  return q
end

--- Adds the options of a table `{name = value, ...}`, in the order of the
-- names.
-- @tparam table opts
-- @return a new builder
function CreateTable:with_options(opts)
  local q = add_options(self, "with_options", opts)
  return q
end

--- The CQL text (internal: `build` calls it).
-- @local
function CreateTable:render()
  local kind = "CREATE TABLE"
  if #self.cols == 0 then incomplete(kind, "no columns") end
  local defs, pks, cks, ordered, has_static = {}, {}, {}, false, nil
  for _, c in ipairs(self.cols) do
    defs[#defs + 1] = quote(c.name) .. " " .. c.type .. (c.role == "static" and " static" or "")
    if c.role == "partition" then pks[#pks + 1] = quote(c.name) end
    if c.role == "clustering" then
      cks[#cks + 1] = c
      if c.order then ordered = true end
    end
    if c.role == "static" then has_static = has_static or c.name end
  end
  if #pks == 0 then incomplete(kind, "no partition key (use partition_key)") end
  if has_static and #cks == 0 then
    incomplete(kind, ("static column '%s' needs a clustering column in the table"):format(has_static))
  end
  local key = "(" .. table.concat(pks, ", ") .. ")"
  for _, c in ipairs(cks) do key = key .. ", " .. quote(c.name) end
  defs[#defs + 1] = "PRIMARY KEY (" .. key .. ")"
  local with = {}
  if ordered then
    local parts = {}
    for i, c in ipairs(cks) do parts[i] = quote(c.name) .. " " .. (c.order or "ASC") end
    with[1] = "CLUSTERING ORDER BY (" .. table.concat(parts, ", ") .. ")"
  end
  render_options(with, self.options)
  return "CREATE TABLE " .. (self.if_not_exists_ and "IF NOT EXISTS " or "") .. self.table .. " ("
    .. table.concat(defs, ", ") .. ")" .. (#with > 0 and (" WITH " .. table.concat(with, " AND ")) or "")
end

local AlterTable, AlterTableMT = statement_class("ALTER TABLE")

--- An ALTER TABLE statement. CQL takes one kind of change per statement:
-- columns added (`add`, `add_static`), columns dropped (`drop`), columns
-- renamed (`rename`) or options set (`with_option`).
-- @tparam string tbl `"t"` or `"keyspace.t"`
-- @return an ALTER TABLE builder
function M.alter_table(tbl)
  return setmetatable({ kind = "ALTER TABLE", table = qualified_name("alter_table", 1, tbl, "table name"),
                        items = {}, options = {} }, AlterTableMT)
end

local ALTER_WORDS = { add = "ADD", drop = "DROP", rename = "RENAME", with = "WITH" }

-- Checks that a change of kind `action` may join the builder's changes.
local function alter_action(self, fname, action, depth)
  if self.action and self.action ~= action then
    callerror(fname, ("this %s already has %s; CQL takes one kind of change per statement")
      :format(self.kind, ALTER_WORDS[self.action]), (depth or 0) + 1)
  end
end

local function alter_add(self, fname, name, typ, static)
  alter_action(self, fname, "add", 1)
  check_name(fname, 1, name, nil, 1)
  for _, it in ipairs(self.items) do
    if it.name == name then argerror(fname, 1, ("column '%s' added twice"):format(name), 1) end
  end
  local t = cql_type(fname, 2, typ, ("column '%s'"):format(name), 1)
  return derive(self, { action = "add", items = append(self.items, { name = name, type = t, static = static }) })
end

--- Adds a column: `ADD name type` (several: `ADD (a int, b text)`).
-- @tparam string name
-- @tparam string typ CQL type
-- @return a new builder
function AlterTable:add(name, typ)
  local q = alter_add(self, "add", name, typ, false)
  return q
end

--- Adds a static column: `ADD name type static`.
-- @tparam string name
-- @tparam string typ CQL type
-- @return a new builder
function AlterTable:add_static(name, typ)
  local q = alter_add(self, "add_static", name, typ, true)
  return q
end

--- Drops columns: `DROP name` (several: `DROP (a, b)`).
-- @tparam string ... at least one column name
-- @return a new builder
function AlterTable:drop(...)
  alter_action(self, "drop", "drop")
  local n = select("#", ...)
  if n == 0 then argerror("drop", 1, "column name expected") end
  local items = self.items
  for i = 1, n do
    local name = select(i, ...)
    check_name("drop", i, name)
    for _, it in ipairs(items) do
      if it.name == name then argerror("drop", i, ("column '%s' dropped twice"):format(name)) end
    end
    items = append(items, { name = name })
  end
  return derive(self, { action = "drop", items = items })
end

local function add_rename(self, fname, from, to)
  alter_action(self, fname, "rename", 1)
  check_name(fname, 1, from, nil, 1)
  check_name(fname, 2, to, "new name", 1)
  for _, it in ipairs(self.items) do
    if it.name == from then argerror(fname, 1, ("'%s' renamed twice"):format(from), 1) end
  end
  return derive(self, { action = "rename", items = append(self.items, { name = from, to = to }) })
end

--- Renames a primary key column: `RENAME a TO b` (several joined by AND).
-- @tparam string from
-- @tparam string to
-- @return a new builder
function AlterTable:rename(from, to)
  local q = add_rename(self, "rename", from, to)
  return q
end

--- Sets a table option (see `create_table`'s `with_option`).
-- @tparam string name
-- @param value
-- @return a new builder
function AlterTable:with_option(name, value)
  alter_action(self, "with_option", "with")
  local q = add_option(self, "with_option", name, value)
  return derive(q, { action = "with" })
end

--- Sets the options of a table `{name = value, ...}`, in the order of the
-- names.
-- @tparam table opts
-- @return a new builder
function AlterTable:with_options(opts)
  alter_action(self, "with_options", "with")
  local q = add_options(self, "with_options", opts)
  return derive(q, { action = "with" })
end

local function render_alter_items(self)
  local a, items = self.action, self.items
  if a == "with" then return "WITH " .. table.concat(render_options({}, self.options), " AND ") end
  local parts = {}
  for i, it in ipairs(items) do
    if a == "add" then
      parts[i] = quote(it.name) .. " " .. it.type .. (it.static and " static" or "")
    elseif a == "rename" then
      parts[i] = quote(it.name) .. " TO " .. quote(it.to)
    else
      parts[i] = quote(it.name)
    end
  end
  if a == "rename" then return "RENAME " .. table.concat(parts, " AND ") end
  local list = #parts == 1 and parts[1] or ("(" .. table.concat(parts, ", ") .. ")")
  return ALTER_WORDS[a] .. " " .. list
end

--- The CQL text (internal: `build` calls it).
-- @local
function AlterTable:render()
  if not self.action then incomplete(self.kind, "nothing to change (use add, drop, rename or with_option)") end
  return "ALTER TABLE " .. self.table .. " " .. render_alter_items(self)
end

--- A DROP TABLE statement (with `if_exists()`).
-- @function drop_table
-- @tparam string tbl `"t"` or `"keyspace.t"`
-- @return a DROP TABLE builder
M.drop_table = drop_statement("DROP TABLE", "drop_table", qualified_name, "table name")

---------------------------------------------------------------------------
-- Indexes
---------------------------------------------------------------------------

local CreateIndex, CreateIndexMT = statement_class("CREATE INDEX")

--- A CREATE INDEX statement, named (the name is in the table's keyspace,
-- so unqualified) or not (`nil`: the server names it). It needs `on`.
-- @tparam[opt] string name
-- @return a CREATE INDEX builder
function M.create_index(name)
  local quoted
  if name ~= nil then quoted = simple_name("create_index", 1, name, "index name") end
  return setmetatable({ kind = "CREATE INDEX", name = quoted, options = {} }, CreateIndexMT)
end

--- IF NOT EXISTS: nothing happens when the index exists.
-- @function if_not_exists
-- @return a new builder
CreateIndex.if_not_exists = if_not_exists

--- The indexed table and column.
-- @tparam string tbl `"t"` or `"keyspace.t"`
-- @tparam string column
-- @return a new builder
function CreateIndex:on(tbl, column)
  if self.table then callerror("on", "the index already has its table and column") end
  local t = qualified_name("on", 1, tbl, "table name")
  check_name("on", 2, column)
  return derive(self, { table = t, column = column })
end

local function index_target(fname, target)
  return function(self)
    if self.target then
      callerror(fname, ("the index already targets %s(); an index has one target"):format(self.target:lower()))
    end
    return derive(self, { target = target })
  end
end

--- Indexes a map's keys: `(KEYS(col))`.
-- @function keys
-- @return a new builder
CreateIndex.keys = index_target("keys", "KEYS")
--- Indexes a collection's values: `(VALUES(col))`.
-- @function values
-- @return a new builder
CreateIndex.values = index_target("values", "VALUES")
--- Indexes a map's entries: `(ENTRIES(col))`.
-- @function entries
-- @return a new builder
CreateIndex.entries = index_target("entries", "ENTRIES")
--- Indexes a frozen collection whole: `(FULL(col))`.
-- @function full
-- @return a new builder
CreateIndex.full = index_target("full", "FULL")

--- The index implementation: `USING 'sai'` (or `'legacy_local_table'`). A
-- Java class name (with a dot) makes it a CUSTOM index.
-- @tparam string class
-- @return a new builder
function CreateIndex:using(class)
  if type(class) ~= "string" or not class:match("^[%a_][%w_.$]*$") then
    argerror("using", 1, "index class or alias (e.g. 'sai') expected, got " .. describe(class))
  end
  if self.using_ then callerror("using", "the index already has USING '" .. self.using_ .. "'") end
  return derive(self, { using_ = class })
end

--- Index options: `WITH OPTIONS = {'k': 'v'}` (every value written as a
-- string, as the server stores them).
-- @tparam table opts
-- @return a new builder
function CreateIndex:with_options(opts)
  if not is_plain_table(opts) or #opts > 0 or next(opts) == nil then
    argerror("with_options", 1, "non-empty table of option = value pairs expected")
  end
  if self.index_options then callerror("with_options", "the index already has its options") end
  return derive(self, { index_options = map_literal("with_options", 1, opts, "index options", 0, true) })
end

--- The CQL text (internal: `build` calls it).
-- @local
function CreateIndex:render()
  if not self.table then incomplete("CREATE INDEX", "no table and column (use on)") end
  local custom = self.using_ and self.using_:find(".", 1, true)
  local col = quote(self.column)
  if self.target then col = self.target .. "(" .. col .. ")" end
  local parts = { "CREATE " .. (custom and "CUSTOM " or "") .. "INDEX" }
  if self.if_not_exists_ then parts[#parts + 1] = "IF NOT EXISTS" end
  if self.name then parts[#parts + 1] = self.name end
  parts[#parts + 1] = "ON " .. self.table .. " (" .. col .. ")"
  if self.using_ then parts[#parts + 1] = "USING " .. string_literal(self.using_) end
  if self.index_options then parts[#parts + 1] = "WITH OPTIONS = " .. self.index_options end
  return table.concat(parts, " ")
end

--- A DROP INDEX statement (`"name"` or `"keyspace.name"`; with `if_exists()`).
-- @function drop_index
-- @tparam string name
-- @return a DROP INDEX builder
M.drop_index = drop_statement("DROP INDEX", "drop_index", qualified_name, "index name")

---------------------------------------------------------------------------
-- User-defined types
---------------------------------------------------------------------------

local CreateType, CreateTypeMT = statement_class("CREATE TYPE")

--- A CREATE TYPE statement (`"t"` or `"keyspace.t"`). It needs a field.
-- @tparam string name
-- @return a CREATE TYPE builder
function M.create_type(name)
  return setmetatable({ kind = "CREATE TYPE", name = qualified_name("create_type", 1, name, "type name"),
                        fields = {} }, CreateTypeMT)
end

--- IF NOT EXISTS: nothing happens when the type exists.
-- @function if_not_exists
-- @return a new builder
CreateType.if_not_exists = if_not_exists

--- Adds a field.
-- @tparam string name
-- @tparam string typ CQL type
-- @return a new builder
function CreateType:field(name, typ)
  check_name("field", 1, name, "field name")
  for _, f in ipairs(self.fields) do
    if f.name == name then argerror("field", 1, ("field '%s' defined twice"):format(name)) end
  end
  local t = cql_type("field", 2, typ, ("field '%s'"):format(name))
  return derive(self, { fields = append(self.fields, { name = name, type = t }) })
end

--- The CQL text (internal: `build` calls it).
-- @local
function CreateType:render()
  if #self.fields == 0 then incomplete("CREATE TYPE", "no fields (use field)") end
  local parts = {}
  for i, f in ipairs(self.fields) do parts[i] = quote(f.name) .. " " .. f.type end
  return "CREATE TYPE " .. (self.if_not_exists_ and "IF NOT EXISTS " or "") .. self.name .. " ("
    .. table.concat(parts, ", ") .. ")"
end

local AlterType, AlterTypeMT = statement_class("ALTER TYPE")

--- An ALTER TYPE statement: one field added, or fields renamed.
-- @tparam string name `"t"` or `"keyspace.t"`
-- @return an ALTER TYPE builder
function M.alter_type(name)
  return setmetatable({ kind = "ALTER TYPE", name = qualified_name("alter_type", 1, name, "type name"),
                        items = {} }, AlterTypeMT)
end

--- Adds a field: `ADD name type` (CQL adds one field per statement).
-- @tparam string name
-- @tparam string typ CQL type
-- @return a new builder
function AlterType:add(name, typ)
  alter_action(self, "add", "add")
  if #self.items > 0 then callerror("add", "ALTER TYPE adds one field per statement") end
  check_name("add", 1, name, "field name")
  local t = cql_type("add", 2, typ, ("field '%s'"):format(name))
  return derive(self, { action = "add", items = { { name = name, type = t } } })
end

--- Renames a field: `RENAME a TO b` (several joined by AND).
-- @tparam string from
-- @tparam string to
-- @return a new builder
function AlterType:rename(from, to)
  local q = add_rename(self, "rename", from, to)
  return q
end

--- The CQL text (internal: `build` calls it).
-- @local
function AlterType:render()
  if not self.action then incomplete(self.kind, "nothing to change (use add or rename)") end
  return "ALTER TYPE " .. self.name .. " " .. render_alter_items(self)
end

--- A DROP TYPE statement (with `if_exists()`).
-- @function drop_type
-- @tparam string name `"t"` or `"keyspace.t"`
-- @return a DROP TYPE builder
M.drop_type = drop_statement("DROP TYPE", "drop_type", qualified_name, "type name")

--- Whether a value is a schema (DDL) builder of this module.
-- @param v
-- @treturn boolean
function M.is_schema_statement(v)
  return classes[getmetatable(v)] == true
end

return M
