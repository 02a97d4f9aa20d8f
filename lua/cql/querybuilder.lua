--- A CQL query builder: immutable, chainable SELECT, INSERT, UPDATE, DELETE
-- and BATCH statements that produce CQL text with bind markers plus the
-- values to bind.
--
--    local qb = require "cql.querybuilder"
--    local q = qb.select("users"):columns("id", "name"):where("id", "=", id):limit(10)
--    local cql, values, markers = q:build()
--    -- cql     "SELECT id, name FROM users WHERE id = ? LIMIT 10"
--    -- values  { id, n = 1 }
--    -- markers { { column = "id", kind = "value" } }
--    local ps = assert(session:prepare(cql))
--    local rs = assert(session:execute(ps, values))
--
-- Every method returns a new builder and leaves its receiver unchanged, so
-- a base query can be shared and extended along several branches.
--
-- **Values.** Every value given to a builder is sent through a bind marker
-- (`?`), never spliced into the text. The exceptions are the numbers of
-- LIMIT, PER PARTITION LIMIT, USING TTL and USING TIMESTAMP, which are
-- validated and written as literals; wrap them in `qb.param(n)` to bind
-- them instead. `qb.marker(name)` stands for a value bound later (a
-- statement prepared once and bound many times); `qb.raw(cql, ...)` is
-- verbatim CQL, the explicit escape hatch.
--
-- **Markers.** `build()` also returns one record per marker, in order:
-- `column` (the column the marker is compared with or assigned to, when
-- known), `kind` (what the marker binds, relative to that column's type:
--
-- - `"value"`: a value of the column's type;
-- - `"values"`: a list of such values (`c IN ?`);
-- - `"key"`: a map key, or a list index (`m[?]`);
-- - `"element"`: an element of a list or set, or a map's value
--   (`CONTAINS ?`, `m[?] = ?`);
-- - `"keys"`: a set of map keys (`m = m - ?`);
-- - `"field"`: a field of a user-defined type (`field` names it);
-- - `"tuple"`: a tuple of the columns in `columns` (`(a, b) > ?`);
-- - `"token"`: a bigint token; `"ttl"`: int; `"timestamp"`: bigint;
--   `"limit"`, `"per_partition_limit"`: int; `"json"`: text;
-- - `"raw"`: a value of a `qb.raw` fragment, type unknown),
--
-- `name` with named markers, and `unbound = true` for `qb.marker`.
--
-- **Named markers.** `build{named = true}` writes `:name` markers (names
-- derived from the columns, made unique) and returns the values as a table
-- keyed by marker name, ready for `prepared:bind(values)`. A `qb.marker`
-- with a name makes the whole statement use named markers.
--
-- **Names.** Table and column names are given as stored (case-sensitive)
-- and quoted when CQL needs it (`qb.quote_identifier`). A table may be
-- qualified by its keyspace: `"ks.users"`.
--
-- **Errors.** Misuse raises at once, `bad argument #n to 'method' (...)`
-- for a bad argument, `bad call to 'method' (...)` for a call CQL does not
-- allow at that point; `build` raises for a statement that is incomplete.
--
-- The machinery behind this module is in `cql.querybuilder.core`, the
-- quoting rules in `cql.querybuilder.identifiers`.
-- @module cql.querybuilder
local identifiers = require "cql.querybuilder.identifiers"
local core = require "cql.querybuilder.core"

local argerror, callerror, describe = core.argerror, core.callerror, core.describe
local Raw, Marker, Param, Selector = core.Raw, core.Marker, core.Param, core.Selector
local is_special, is_plain_table, split_markers = core.is_special, core.is_plain_table, core.split_markers
local check_name, new_selector, STAR = core.check_name, core.new_selector, core.STAR
local fn_arg, new_fn = core.fn_arg, core.new_fn
local emit, term, finish = core.emit, core.term, core.finish
local render_raw, render_selector, render_table = core.render_raw, core.render_selector, core.render_table
local derive, append, table_name = core.derive, core.append, core.table_name
local integer_text, literal_or_param, render_number = core.integer_text, core.literal_or_param, core.render_number
local positive, valid_ttl = core.positive, core.valid_ttl
local add_relations, render_where = core.add_relations, core.render_where
local render_conditions, render_using = core.render_conditions, core.render_using

local qb = {}

local quote = identifiers.quote

--- Quotes a name when CQL requires it (see `cql.querybuilder.identifiers`).
-- @function quote_identifier
-- @tparam string name
-- @treturn string
qb.quote_identifier = identifiers.quote

--- Whether a word is a reserved keyword of CQL (Cassandra 5.0).
-- @function is_reserved
qb.is_reserved = identifiers.is_reserved

---------------------------------------------------------------------------
-- Special values and selectors
---------------------------------------------------------------------------

--- Verbatim CQL, the explicit escape hatch: usable as a selector, a value,
-- a whole WHERE relation, SET assignment or IF condition, a DELETE target,
-- an ORDER BY or GROUP BY term, a table name, or a statement in a batch.
-- `?` markers in the text (outside quotes) are bound to the values given
-- after it, in order.
--
--    qb.update("t"):set(qb.raw("c = c + ?", 1)):where(qb.raw("token(k) > ?", tok))
-- @tparam string cql the fragment
-- @param ... one value per `?` in the fragment
-- @return a raw fragment
function qb.raw(cql, ...)
  if type(cql) ~= "string" then argerror("raw", 1, "CQL string expected, got " .. type(cql)) end
  if cql:match("^%s*$") then argerror("raw", 1, "empty CQL fragment") end
  local segments = split_markers(cql)
  local n = select("#", ...)
  if n ~= #segments - 1 then
    argerror("raw", 2, ("%d value(s) for %d '?' marker(s) in '%s'"):format(n, #segments - 1, cql))
  end
  return setmetatable({ segments = segments, values = { n = n, ... }, text = cql }, Raw)
end

--- A bind marker whose value is given later, when the prepared statement
-- is bound. With a name it is written `:name`, and the whole statement
-- uses named markers; without one it is `?` (or a derived name when
-- building with `named = true`). Its slot in `build`'s values is empty and
-- its marker record says `unbound = true`. As the right side of IN, it
-- binds the whole list (`c IN ?`).
-- @tparam[opt] string name
-- @return a marker
function qb.marker(name)
  if name ~= nil and (type(name) ~= "string" or name == "") then
    argerror("marker", 1, "non-empty string or nil expected, got " .. describe(name))
  end
  return setmetatable({ name = name }, Marker)
end

--- A value bound through a marker where the builder would otherwise write
-- a literal (LIMIT, PER PARTITION LIMIT, USING TTL, USING TIMESTAMP), or
-- one value standing for a whole list or tuple (`c IN ?` with a list,
-- `(a, b) > ?` with a tuple). Elsewhere it is the same as the plain value.
-- @param value
-- @return a parameter
function qb.param(value)
  return setmetatable({ value = value }, Param)
end

--- A column as a selector (to give it an alias: `qb.col("name"):as("n")`).
-- @tparam string name
-- @return a selector
function qb.col(name)
  check_name("col", 1, name)
  return new_selector { sk = "col", name = name }
end

--- An element of a collection column, `col[?]`: a map's entry by key, or a
-- list's element by index. Usable in `update:set`, `iff`, `delete:columns`,
-- `where` (with an index on entries) and in a selection.
-- @tparam string col the collection column
-- @param key the key or index (bound)
-- @return a selector
function qb.elem(col, key)
  check_name("elem", 1, col)
  if key == nil then argerror("elem", 2, "key or index expected, got nil") end
  return new_selector { sk = "elem", col = col, key = key }
end

--- A field of a user-defined-type column, `col.field`. Usable in
-- `update:set`, `iff`, `delete:columns` and in a selection.
-- @tparam string col the UDT column
-- @tparam string field the field
-- @return a selector
function qb.field(col, field)
  check_name("field", 1, col)
  check_name("field", 2, field, "field name")
  return new_selector { sk = "field", col = col, field = field }
end

--- Returns a copy of the selector with an alias: `SELECT ... AS alias`.
-- @tparam string alias
-- @return a selector
function Selector:as(alias)
  check_name("as", 1, alias, "alias")
  local s = {}
  for k, v in pairs(self) do s[k] = v end
  s.alias = alias
  return new_selector(s)
end

local function one_column_fn(name, fname)
  return function(col)
    check_name(fname, 1, col)
    return new_fn(name, fname, col)
  end
end

--- Functions for the selection (each returns a selector; `:as(alias)`
-- names the result). Column arguments are column names.
-- @table fn
qb.fn = {}

--- `count(*)`, or `count(col)` with a column.
-- @tparam[opt] string col
function qb.fn.count(col)
  if col == nil then return new_fn("count", "count", "*") end
  check_name("count", 1, col)
  return new_fn("count", "count", col)
end

--- `writetime(col)`.
-- @function fn.writetime
qb.fn.writetime = one_column_fn("writetime", "writetime")
--- `maxwritetime(col)` (Cassandra 5.0).
-- @function fn.maxwritetime
qb.fn.maxwritetime = one_column_fn("maxwritetime", "maxwritetime")
--- `ttl(col)`.
-- @function fn.ttl
qb.fn.ttl = one_column_fn("ttl", "ttl")
--- `toJson(col)`.
-- @function fn.to_json
qb.fn.to_json = one_column_fn("toJson", "to_json")
--- `min(col)`.
-- @function fn.min
qb.fn.min = one_column_fn("min", "min")
--- `max(col)`.
-- @function fn.max
qb.fn.max = one_column_fn("max", "max")
--- `sum(col)`.
-- @function fn.sum
qb.fn.sum = one_column_fn("sum", "sum")
--- `avg(col)`.
-- @function fn.avg
qb.fn.avg = one_column_fn("avg", "avg")

--- `token(col, ...)`: in a selection, or as the left side of a WHERE
-- relation on the partition key.
-- @tparam string ... the partition key columns
function qb.fn.token(...)
  if select("#", ...) == 0 then argerror("token", 1, "empty column list") end
  for i = 1, select("#", ...) do check_name("token", i, (select(i, ...))) end
  return new_fn("token", "token", ...)
end

--- The same as `qb.fn.token`.
-- @function token
qb.token = qb.fn.token

--- `CAST(selector AS type)`, for a native type.
-- @param sel a column name or a selector
-- @tparam string typename e.g. `"text"`, `"bigint"`
function qb.fn.cast(sel, typename)
  local arg = fn_arg("cast", 1, sel)
  if type(typename) ~= "string" or not typename:match("^%a[%a_]*$") then
    argerror("cast", 2, "native type name expected, got " .. describe(typename))
  end
  return new_selector { sk = "cast", arg = arg, typename = typename:lower() }
end

--- Any function by name: `qb.fn.call("blobAsText", "b")`. String arguments
-- are column names (`"*"` is `*`); use `qb.param` for a bound value and
-- `qb.raw` for anything else. The name is written as given (CQL folds it to
-- lower case) and may be keyspace-qualified.
-- @tparam string name
-- @param ... arguments
function qb.fn.call(name, ...)
  if type(name) ~= "string" or not (name:match("^[%a_][%w_]*$") or name:match("^[%a_][%w_]*%.[%a_][%w_]*$")) then
    argerror("call", 1, "function name expected, got " .. describe(name))
  end
  local args = {}
  for i = 1, select("#", ...) do args[i] = fn_arg("call", i + 1, (select(i, ...))) end
  return new_selector { sk = "fn", name = name, args = args }
end

---------------------------------------------------------------------------
-- Clauses shared by several statements
---------------------------------------------------------------------------

--- Adds a WHERE relation (ANDed with the others). Forms:
--
-- - `where(col, op, value)` with `op` one of `=`, `<`, `>`, `<=`, `>=`,
--   `in` (an array of values, or a `qb.param(list)` / `qb.marker()` bound
--   as one list), `contains`, `contains key`, `like` (also spelled `eq`,
--   `lt`, `gt`, `lte`, `gte`, `contains_key`); `!=` is refused (Cassandra
--   5.0 accepts it only in IF conditions);
-- - `where({a, b}, op, {va, vb})`: a multi-column (tuple) relation;
--   `where({a, b}, "in", {{1, 2}, {3, 4}})`: IN over tuples;
-- - `where(qb.token("k1", "k2"), op, x)`: a token relation; `x` is a token
--   (a number or int64, bound as bigint) or an array of partition key
--   values (`token(k1, k2) > token(?, ?)`); a non-numeric single value
--   stands for the only key column;
-- - `where(qb.elem("m", key), "=", v)`: a map entry (needs an index);
-- - `where{a = 1, b = 2}`: equalities, in the order of the names;
-- - `where(qb.raw("...", ...))`: verbatim.
-- @function where
-- @param lhs column name, array of names, `qb.token`, `qb.elem`, table or raw
-- @tparam string op operator
-- @param value
-- @return a new builder
local function where(self, ...)
  local n = select("#", ...)
  local lhs, op, rhs = ...
  local q = add_relations(self, "wheres", "where", true, n, lhs, op, rhs)
  return q -- not a tail call: error levels count this frame
end

--- Adds an IF condition (ANDed with the others), making the statement a
-- lightweight transaction: `iff(col, op, value)` with `op` one of `=`,
-- `!=`, `<`, `<=`, `>`, `>=`, `in` (an array), `contains`, `contains key`;
-- `iff(qb.elem("m", key), op, value)` or `iff(qb.field("u", "f"), op,
-- value)` for an element or a UDT field; `iff{a = 1, b = 2}` for
-- equalities; `iff(qb.raw("..."))`. Not with `if_exists`, nor on counters.
-- @function iff
-- @return a new builder
local function iff(self, ...)
  if self.if_exists_ then callerror("iff", "IF EXISTS is already set; CQL takes one or the other") end
  if self.counter then callerror("iff", "conditional updates are not supported on counters") end
  local n = select("#", ...)
  local lhs, op, rhs = ...
  local q = add_relations(self, "conds", "iff", false, n, lhs, op, rhs)
  return q
end

--- Adds IF EXISTS: the statement applies only when the row exists. Not
-- with IF conditions.
-- @function if_exists
-- @return a new builder
local function if_exists(self)
  if #self.conds > 0 then callerror("if_exists", "IF conditions are already set; CQL takes one or the other") end
  if self.counter then callerror("if_exists", "conditional updates are not supported on counters") end
  return derive(self, { if_exists_ = true })
end

--- Sets USING TIMESTAMP (microseconds): an integer (number or int64),
-- written as a literal, or a `qb.param`/`qb.marker` to bind it.
-- @function using_timestamp
-- @param ts
-- @return a new builder
local function using_timestamp(self, ts)
  if self.kind == "BATCH" then
    for _, s in ipairs(self.statements) do
      if getmetatable(s) ~= Raw and s.timestamp then
        callerror("using_timestamp", "a statement in the batch has its own USING TIMESTAMP; CQL takes one or the other")
      end
    end
  end
  return derive(self, { timestamp = literal_or_param("using_timestamp", ts, "timestamp", function() end) })
end

--- Sets USING TTL (seconds, 0 to 630720000): an integer written as a
-- literal, or a `qb.param`/`qb.marker` to bind it. Not on counters.
-- @function using_ttl
-- @param seconds
-- @return a new builder
local function using_ttl(self, seconds)
  if self.counter then callerror("using_ttl", "counters cannot have a TTL") end
  return derive(self, { ttl = literal_or_param("using_ttl", seconds, "ttl", valid_ttl) })
end

local function no_ttl(what)
  return function() callerror("using_ttl", what .. " takes no TTL (only USING TIMESTAMP)") end
end

local Statement = {}

--- Builds the statement: returns the CQL text, the values and the marker
-- records. `opts.named = true` writes `:name` markers and returns the
-- values keyed by marker name.
-- @function build
-- @tparam[opt] table opts `{named = boolean}`
-- @treturn string CQL text
-- @treturn table values (positional, with `n`; or keyed by name)
-- @treturn table marker records (see the module's description)
function Statement.build(self, opts)
  if opts ~= nil and type(opts) ~= "table" then argerror("build", 1, "table of options or nil expected") end
  for k in pairs(opts or {}) do
    if k ~= "named" then argerror("build", 1, ("unknown option '%s'"):format(tostring(k))) end
  end
  local ctx = { parts = {}, markers = {} }
  self:render(ctx, 0)
  return finish(ctx, opts and opts.named)
end

local function statement_class(kind)
  local methods = { build = Statement.build }
  local mt = { __index = methods, __name = "qb." .. kind:lower() }
  mt.__tostring = function(self)
    local ok, cql = pcall(self.build, self)
    return ok and cql or ("qb.%s(incomplete: %s)"):format(kind:lower(), tostring(cql):gsub("^.-:%d+: ", ""))
  end
  methods.class = mt
  return methods, mt
end

---------------------------------------------------------------------------
-- SELECT
---------------------------------------------------------------------------

local Select, SelectMT = statement_class("SELECT")

--- A SELECT statement on a table (`"t"` or `"keyspace.t"`). With no
-- `columns`, it selects `*`.
-- @tparam string tbl
-- @return a SELECT builder
function qb.select(tbl)
  return setmetatable({ kind = "SELECT", table = table_name("select", tbl), selectors = {}, wheres = {},
                        orders = {}, groups = {} }, SelectMT)
end

local function selector_arg(fname, n, s, depth)
  if type(s) == "string" then
    check_name(fname, n, s, nil, depth + 1)
    if s == "*" then return STAR end
    return new_selector { sk = "col", name = s }
  end
  if getmetatable(s) == Selector or getmetatable(s) == Raw then return s end
  argerror(fname, n, "column name, selector or qb.raw expected, got " .. type(s), depth + 1)
end

--- Adds columns to the selection: column names, selectors (`qb.fn.*`,
-- `qb.col(...):as(...)`, `qb.elem`, `qb.field`) or `qb.raw`.
-- @param ... at least one
-- @return a new builder
function Select:columns(...)
  local n = select("#", ...)
  if n == 0 then argerror("columns", 1, "empty column list") end
  local sels = {}
  for i = 1, n do sels[i] = selector_arg("columns", i, (select(i, ...)), 0) end
  return derive(self, { selectors = append(self.selectors, unpack(sels)) })
end

--- Adds one selected column or selector, with an optional alias.
-- @param sel column name or selector
-- @tparam[opt] string alias
-- @return a new builder
function Select:column(sel, alias)
  sel = selector_arg("column", 1, sel, 0)
  if alias ~= nil then
    check_name("column", 2, alias, "alias")
    if getmetatable(sel) ~= Selector then argerror("column", 2, "a raw selector takes its alias in its text") end
    sel = sel:as(alias)
  end
  return derive(self, { selectors = append(self.selectors, sel) })
end

--- SELECT DISTINCT (partition key columns only).
-- @return a new builder
function Select:distinct()
  return derive(self, { distinct_ = true })
end

--- SELECT JSON: each row as one JSON text column.
-- @return a new builder
function Select:json()
  return derive(self, { json_ = true })
end

Select.where = where

--- Adds GROUP BY columns (partition key and clustering columns, in order).
-- @param ... column names or `qb.raw`
-- @return a new builder
function Select:group_by(...)
  local n = select("#", ...)
  if n == 0 then argerror("group_by", 1, "empty column list") end
  local cols = {}
  for i = 1, n do
    local c = select(i, ...)
    if getmetatable(c) ~= Raw then check_name("group_by", i, c) end
    cols[i] = c
  end
  return derive(self, { groups = append(self.groups, unpack(cols)) })
end

--- Adds an ORDER BY column (clustering columns): `order_by("c", "desc")`;
-- the direction is `"asc"` (the default) or `"desc"`, any case.
-- @tparam string col column name or `qb.raw`
-- @tparam[opt] string direction
-- @return a new builder
function Select:order_by(col, direction)
  if getmetatable(col) ~= Raw then check_name("order_by", 1, col) end
  local dir = getmetatable(col) ~= Raw and "ASC" or nil
  if direction ~= nil then
    dir = type(direction) == "string" and direction:upper() or nil
    if dir ~= "ASC" and dir ~= "DESC" then
      argerror("order_by", 2, "'asc' or 'desc' expected, got " .. describe(direction))
    end
  end
  return derive(self, { orders = append(self.orders, { col = col, dir = dir }) })
end

--- LIMIT: a positive integer (a literal), or a `qb.param`/`qb.marker`.
-- @param n
-- @return a new builder
function Select:limit(n)
  return derive(self, { limit_ = literal_or_param("limit", n, "limit", positive) })
end

--- PER PARTITION LIMIT: a positive integer, or a `qb.param`/`qb.marker`.
-- @param n
-- @return a new builder
function Select:per_partition_limit(n)
  return derive(self, { pplimit = literal_or_param("per_partition_limit", n, "per_partition_limit", positive) })
end

--- ALLOW FILTERING.
-- @return a new builder
function Select:allow_filtering()
  return derive(self, { filtering = true })
end

--- Writes the statement into a rendering context (internal: `build` and
-- batches call it).
-- @local
function Select:render(ctx)
  emit(ctx, "SELECT ")
  if self.json_ then emit(ctx, "JSON ") end
  if self.distinct_ then emit(ctx, "DISTINCT ") end
  if #self.selectors == 0 then emit(ctx, "*") end
  for i, s in ipairs(self.selectors) do
    if i > 1 then emit(ctx, ", ") end
    render_selector(ctx, s)
  end
  emit(ctx, " FROM ")
  render_table(ctx, self.table)
  render_where(ctx, self.wheres)
  for i, c in ipairs(self.groups) do
    emit(ctx, i == 1 and " GROUP BY " or ", ")
    if getmetatable(c) == Raw then render_raw(ctx, c) else emit(ctx, quote(c)) end
  end
  for i, o in ipairs(self.orders) do
    emit(ctx, i == 1 and " ORDER BY " or ", ")
    if getmetatable(o.col) == Raw then render_raw(ctx, o.col) else emit(ctx, quote(o.col)) end
    if o.dir then emit(ctx, " " .. o.dir) end
  end
  if self.pplimit then
    emit(ctx, " PER PARTITION LIMIT ")
    render_number(ctx, self.pplimit)
  end
  if self.limit_ then
    emit(ctx, " LIMIT ")
    render_number(ctx, self.limit_)
  end
  if self.filtering then emit(ctx, " ALLOW FILTERING") end
end

---------------------------------------------------------------------------
-- INSERT
---------------------------------------------------------------------------

local Insert, InsertMT = statement_class("INSERT")

--- An INSERT statement into a table (`"t"` or `"keyspace.t"`).
-- @tparam string tbl
-- @return an INSERT builder
function qb.insert(tbl)
  return setmetatable({ kind = "INSERT", table = table_name("insert", tbl), cols = {}, vals = {} }, InsertMT)
end

--- Adds one column and its value (nil inserts a null; `qb.raw`, `qb.param`
-- and `qb.marker` work too).
-- @tparam string col
-- @param value
-- @return a new builder
function Insert:value(col, value)
  check_name("value", 1, col)
  if self.json_doc ~= nil then callerror("value", "INSERT JSON takes no separate values") end
  for _, c in ipairs(self.cols) do
    if c == col then argerror("value", 1, ("column '%s' given twice"):format(col)) end
  end
  return derive(self, { cols = append(self.cols, col), vals = append(self.vals, { v = value }) })
end

--- Adds columns and values from a table `{col = value, ...}`, in the order
-- of the names (use `value` for a chosen order or a null).
-- @tparam table t
-- @return a new builder
function Insert:values(t)
  if not is_plain_table(t) or #t > 0 or next(t) == nil then
    argerror("values", 1, "table of column = value pairs expected")
  end
  local names = {}
  for k in pairs(t) do
    if type(k) ~= "string" or k == "" then argerror("values", 1, "column names must be non-empty strings") end
    names[#names + 1] = k
  end
  table.sort(names)
  local q = self
  for _, k in ipairs(names) do q = q:value(k, t[k]) end
  return q
end

--- INSERT JSON: the row as one JSON document (a string, bound as text).
-- @param doc JSON text (or `qb.param`/`qb.marker`/`qb.raw`)
-- @return a new builder
function Insert:json(doc)
  if #self.cols > 0 then callerror("json", "INSERT JSON takes no separate values") end
  if type(doc) ~= "string" and not is_special(doc) then
    argerror("json", 1, "JSON text expected, got " .. type(doc))
  end
  return derive(self, { json_doc = doc })
end

--- INSERT JSON ... DEFAULT UNSET: columns missing from the document keep
-- their values.
-- @return a new builder
function Insert:default_unset()
  return derive(self, { json_default = "UNSET" })
end

--- INSERT JSON ... DEFAULT NULL: columns missing from the document are set
-- to null (what the server does without a DEFAULT clause).
-- @return a new builder
function Insert:default_null()
  return derive(self, { json_default = "NULL" })
end

--- IF NOT EXISTS: insert only when the row does not exist.
-- @return a new builder
function Insert:if_not_exists()
  return derive(self, { if_not_exists_ = true })
end

Insert.using_ttl = using_ttl
Insert.using_timestamp = using_timestamp

--- Writes the statement into a rendering context (internal: `build` and
-- batches call it).
-- @local
function Insert:render(ctx)
  emit(ctx, "INSERT INTO ")
  render_table(ctx, self.table)
  if self.json_doc ~= nil then
    emit(ctx, " JSON ")
    term(ctx, self.json_doc, nil, "json")
    if self.json_default then emit(ctx, " DEFAULT " .. self.json_default) end
  else
    if #self.cols == 0 then error("cannot build INSERT: no values (use value, values or json)", 3) end
    if self.json_default then error("cannot build INSERT: DEFAULT " .. self.json_default .. " needs json()", 3) end
    emit(ctx, " (")
    for i, c in ipairs(self.cols) do emit(ctx, (i > 1 and ", " or "") .. quote(c)) end
    emit(ctx, ") VALUES (")
    for i, c in ipairs(self.cols) do
      if i > 1 then emit(ctx, ", ") end
      term(ctx, self.vals[i].v, c, "value")
    end
    emit(ctx, ")")
  end
  if self.if_not_exists_ then emit(ctx, " IF NOT EXISTS") end
  render_using(ctx, self)
end

---------------------------------------------------------------------------
-- UPDATE
---------------------------------------------------------------------------

local Update, UpdateMT = statement_class("UPDATE")

--- An UPDATE statement on a table (`"t"` or `"keyspace.t"`). It needs at
-- least one assignment and a WHERE clause.
-- @tparam string tbl
-- @return an UPDATE builder
function qb.update(tbl)
  return setmetatable({ kind = "UPDATE", table = table_name("update", tbl), assigns = {}, wheres = {},
                        conds = {} }, UpdateMT)
end

local function add_assign(self, fname, a, is_counter)
  if is_counter and (self.ttl or #self.conds > 0 or self.if_exists_) then
    callerror(fname, self.ttl and "counters cannot have a TTL" or "conditional updates are not supported on counters",
      1)
  end
  if self.plain and is_counter or self.counter and not is_counter then
    callerror(fname, "an UPDATE cannot mix counter increments with other assignments", 1)
  end
  return derive(self, { assigns = append(self.assigns, a), counter = self.counter or is_counter,
                        plain = self.plain or not is_counter })
end

--- Sets a column: `set(col, value)`, `set(qb.elem("m", key), value)` (a
-- map entry or list element), `set(qb.field("u", "f"), value)` (a UDT
-- field), `set{a = 1, b = 2}` (in the order of the names) or
-- `set(qb.raw("c = ?", v))`.
-- @param target column name, selector, table or raw
-- @param value
-- @return a new builder
function Update:set(...)
  local n = select("#", ...)
  local target, value = ...
  if getmetatable(target) == Raw and value == nil then
    local q = add_assign(self, "set", { raw = target }, false)
    return q
  end
  if is_plain_table(target) and value == nil then
    if #target > 0 or next(target) == nil then argerror("set", 1, "table of column = value pairs expected") end
    local names = {}
    for k in pairs(target) do
      if type(k) ~= "string" or k == "" then argerror("set", 1, "column names must be non-empty strings") end
      names[#names + 1] = k
    end
    table.sort(names)
    local q = self
    for _, k in ipairs(names) do q = q:set(k, target[k]) end
    return q
  end
  if getmetatable(target) == Selector then
    if target.sk ~= "elem" and target.sk ~= "field" and target.sk ~= "col" then
      argerror("set", 1, "column name, qb.elem or qb.field expected")
    end
  else
    check_name("set", 1, target)
  end
  if n < 2 then argerror("set", 2, "value expected (nil sets a null, but must be given)") end
  if type(target) == "string" then
    for _, a in ipairs(self.assigns) do
      if a.set and a.col == target then argerror("set", 1, ("column '%s' set twice"):format(target)) end
    end
  end
  local q = add_assign(self, "set", { set = true, col = type(target) == "string" and target or nil,
                                      target = target, value = value }, false)
  return q
end

local function collection_op(fname, op, prepend, kind)
  return function(self, col, value)
    check_name(fname, 1, col)
    if type(value) ~= "table" and not is_special(value) then
      argerror(fname, 2, "table of elements expected, got " .. type(value))
    end
    local q = add_assign(self, fname, { col = col, op = op, prepend = prepend, value = value, kind = kind }, false)
    return q
  end
end

--- Appends to a list: `l = l + ?` (the value is a list).
-- @function append
Update.append = collection_op("append", "+", false, "value")
--- Prepends to a list: `l = ? + l` (the value is a list).
-- @function prepend
Update.prepend = collection_op("prepend", "+", true, "value")
--- Adds to a set: `s = s + ?` (the value is a set, an array of elements).
-- @function add
Update.add = collection_op("add", "+", false, "value")
--- Removes elements from a list or a set: `c = c - ?` (a list or set).
-- @function remove
Update.remove = collection_op("remove", "-", false, "value")
--- Puts entries into a map: `m = m + ?` (the value is a map).
-- @function put
Update.put = collection_op("put", "+", false, "value")
--- Removes keys from a map: `m = m - ?` (the value is a set of keys).
-- @function remove_keys
Update.remove_keys = collection_op("remove_keys", "-", false, "keys")

local function counter_op(fname, op)
  return function(self, col, amount)
    check_name(fname, 1, col)
    if amount == nil then amount = 1 end
    if not is_special(amount) and not integer_text(amount) then
      argerror(fname, 2, "integer expected, got " .. describe(amount))
    end
    local q = add_assign(self, fname, { col = col, op = op, value = amount, kind = "value" }, true)
    return q
  end
end

--- Increments a counter: `c = c + ?` (by 1 unless given). Counters take no
-- TTL, no IF, and no other kind of assignment in the same UPDATE.
-- @function increment
Update.increment = counter_op("increment", "+")
--- Decrements a counter: `c = c - ?` (by 1 unless given).
-- @function decrement
Update.decrement = counter_op("decrement", "-")

Update.where = where
Update.iff = iff
Update.if_exists = if_exists
Update.using_ttl = using_ttl
Update.using_timestamp = using_timestamp

--- Refused: CQL has no UPDATE ... IF NOT EXISTS (INSERT has it; UPDATE
-- takes `if_exists` or `iff`).
function Update.if_not_exists()
  callerror("if_not_exists", "UPDATE has no IF NOT EXISTS in CQL; use an INSERT, or if_exists / iff")
end

local function render_assign(ctx, a)
  if a.raw then return render_raw(ctx, a.raw) end
  if a.set then
    local t = a.target
    if type(t) == "string" then
      emit(ctx, quote(t) .. " = ")
      return term(ctx, a.value, t, "value")
    end
    render_selector(ctx, t)
    emit(ctx, " = ")
    if t.sk == "elem" then return term(ctx, a.value, t.col, "element") end
    if t.sk == "field" then return term(ctx, a.value, t.col, "field", { field = t.field }) end
    return term(ctx, a.value, t.name, "value")
  end
  local c = quote(a.col)
  if a.prepend then
    emit(ctx, c .. " = ")
    term(ctx, a.value, a.col, a.kind)
    emit(ctx, " + " .. c)
  else
    emit(ctx, c .. " = " .. c .. " " .. a.op .. " ")
    term(ctx, a.value, a.col, a.kind)
  end
end

--- Writes the statement into a rendering context (internal: `build` and
-- batches call it).
-- @local
function Update:render(ctx)
  if #self.assigns == 0 then error("cannot build UPDATE: no assignments (use set, append, increment, ...)", 3) end
  if #self.wheres == 0 then error("cannot build UPDATE: no WHERE clause", 3) end
  emit(ctx, "UPDATE ")
  render_table(ctx, self.table)
  render_using(ctx, self)
  emit(ctx, " SET ")
  for i, a in ipairs(self.assigns) do
    if i > 1 then emit(ctx, ", ") end
    render_assign(ctx, a)
  end
  render_where(ctx, self.wheres)
  render_conditions(ctx, self)
end

---------------------------------------------------------------------------
-- DELETE
---------------------------------------------------------------------------

local Delete, DeleteMT = statement_class("DELETE")

--- A DELETE statement on a table (`"t"` or `"keyspace.t"`): the whole row
-- (or range) unless `columns` names what to delete. It needs a WHERE
-- clause.
-- @tparam string tbl
-- @return a DELETE builder
function qb.delete(tbl)
  return setmetatable({ kind = "DELETE", table = table_name("delete", tbl), targets = {}, wheres = {},
                        conds = {} }, DeleteMT)
end

--- Deletes only these: column names, `qb.elem(col, key)` (a map entry or
-- list element), `qb.field(col, f)` (a UDT field) or `qb.raw`.
-- @param ... at least one
-- @return a new builder
function Delete:columns(...)
  local n = select("#", ...)
  if n == 0 then argerror("columns", 1, "empty column list") end
  local ts = {}
  for i = 1, n do
    local c = select(i, ...)
    if getmetatable(c) == Selector then
      if c.sk ~= "elem" and c.sk ~= "field" and c.sk ~= "col" then
        argerror("columns", i, "column name, qb.elem, qb.field or qb.raw expected")
      end
      if c.alias then argerror("columns", i, "an alias has no place in DELETE") end
    elseif getmetatable(c) ~= Raw then
      check_name("columns", i, c)
    end
    ts[i] = c
  end
  return derive(self, { targets = append(self.targets, unpack(ts)) })
end

Delete.where = where
Delete.iff = iff
Delete.if_exists = if_exists
Delete.using_timestamp = using_timestamp
--- Refused: DELETE takes no TTL.
-- @function using_ttl
Delete.using_ttl = no_ttl("DELETE")

--- Writes the statement into a rendering context (internal: `build` and
-- batches call it).
-- @local
function Delete:render(ctx)
  if #self.wheres == 0 then error("cannot build DELETE: no WHERE clause", 3) end
  emit(ctx, "DELETE ")
  for i, t in ipairs(self.targets) do
    if i > 1 then emit(ctx, ", ") end
    if type(t) == "string" then emit(ctx, quote(t)) else render_selector(ctx, t) end
  end
  emit(ctx, #self.targets > 0 and " FROM " or "FROM ")
  render_table(ctx, self.table)
  render_using(ctx, self)
  render_where(ctx, self.wheres)
  render_conditions(ctx, self)
end

---------------------------------------------------------------------------
-- BATCH
---------------------------------------------------------------------------

local Batch, BatchMT = statement_class("BATCH")

local BATCH_KINDS = { logged = "", unlogged = "UNLOGGED ", counter = "COUNTER " }

--- A BATCH of INSERT, UPDATE and DELETE builders (or `qb.raw`
-- statements): `kind` is `"logged"` (the default), `"unlogged"` or
-- `"counter"` (counter updates only, which other kinds refuse).
-- @tparam[opt] string kind
-- @return a BATCH builder
function qb.batch(kind)
  local k = kind == nil and "logged" or type(kind) == "string" and kind:lower() or nil
  if not BATCH_KINDS[k] then
    argerror("batch", 1, "'logged', 'unlogged' or 'counter' expected, got " .. describe(kind))
  end
  return setmetatable({ kind = "BATCH", batch_kind = k, statements = {} }, BatchMT)
end

--- Adds statements (INSERT, UPDATE or DELETE builders, or `qb.raw`).
-- @param ... at least one
-- @return a new builder
function Batch:add(...)
  local n = select("#", ...)
  if n == 0 then argerror("add", 1, "statement expected") end
  for i = 1, n do
    local s = select(i, ...)
    local mt = getmetatable(s)
    if mt == SelectMT or mt == BatchMT then
      argerror("add", i, s.kind .. " cannot be part of a batch (INSERT, UPDATE or DELETE expected)")
    elseif mt ~= InsertMT and mt ~= UpdateMT and mt ~= DeleteMT and mt ~= Raw then
      argerror("add", i, "INSERT, UPDATE or DELETE builder or qb.raw expected, got " .. type(s))
    end
    if mt ~= Raw then
      local counter = mt == UpdateMT and s.counter
      if self.batch_kind == "counter" and not counter then
        argerror("add", i, "a COUNTER batch takes only counter updates, got " .. s.kind)
      elseif self.batch_kind ~= "counter" and counter then
        argerror("add", i, "counter updates need a COUNTER batch")
      end
      if self.timestamp and s.timestamp then
        argerror("add", i, "the batch has USING TIMESTAMP; its statements cannot have their own")
      end
    end
  end
  return derive(self, { statements = append(self.statements, ...) })
end

Batch.using_timestamp = using_timestamp
--- Refused: a BATCH takes no TTL (give it to its statements).
-- @function using_ttl
Batch.using_ttl = no_ttl("BATCH")

--- Writes the statement into a rendering context (internal: `build` and
-- batches call it).
-- @local
function Batch:render(ctx)
  if #self.statements == 0 then error("cannot build BATCH: no statements", 3) end
  emit(ctx, "BEGIN " .. BATCH_KINDS[self.batch_kind] .. "BATCH")
  render_using(ctx, self)
  for _, s in ipairs(self.statements) do
    emit(ctx, " ")
    if getmetatable(s) == Raw then render_raw(ctx, s) else s:render(ctx) end
    emit(ctx, ";")
  end
  emit(ctx, " APPLY BATCH")
end

--- Whether a value is a builder of this module (any statement kind).
-- @param v
-- @treturn boolean
function qb.is_statement(v)
  local mt = getmetatable(v)
  return mt == SelectMT or mt == InsertMT or mt == UpdateMT or mt == DeleteMT or mt == BatchMT
end

---------------------------------------------------------------------------
-- Schema (DDL) statements, from `cql.querybuilder.schema`
---------------------------------------------------------------------------

local schema = require "cql.querybuilder.schema"

--- CREATE / ALTER / DROP KEYSPACE builders (see `cql.querybuilder.schema`).
-- @function create_keyspace
qb.create_keyspace = schema.create_keyspace
--- @function alter_keyspace
qb.alter_keyspace = schema.alter_keyspace
--- @function drop_keyspace
qb.drop_keyspace = schema.drop_keyspace
--- CREATE / ALTER / DROP TABLE builders (see `cql.querybuilder.schema`).
-- @function create_table
qb.create_table = schema.create_table
--- @function alter_table
qb.alter_table = schema.alter_table
--- @function drop_table
qb.drop_table = schema.drop_table
--- CREATE / DROP INDEX builders (see `cql.querybuilder.schema`).
-- @function create_index
qb.create_index = schema.create_index
--- @function drop_index
qb.drop_index = schema.drop_index
--- CREATE / ALTER / DROP TYPE builders (see `cql.querybuilder.schema`).
-- @function create_type
qb.create_type = schema.create_type
--- @function alter_type
qb.alter_type = schema.alter_type
--- @function drop_type
qb.drop_type = schema.drop_type
--- Whether a value is a schema (DDL) builder.
-- @function is_schema_statement
qb.is_schema_statement = schema.is_schema_statement

return qb
