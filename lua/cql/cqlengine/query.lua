--- Query sets, batches and contexts of the ORM (the seed's
-- `cqlengine.query`).
--
-- **Query sets** are immutable: every method returns a new one.
--
--    local qs = User.objects:filter { age__gte = 18, country = "fr" }:allow_filtering()
--    for u, err in qs:fetch_size(1000):iter() do        -- pages transparently
--      if not u then error(err) end
--      print(u.name)
--    end
--    local n = assert(qs:count())
--    local ada, err = User.objects:get { id = id }      -- nil, User.DoesNotExist when absent
--
-- `filter` keys are `column` (equality) or `column__op` with op one of
-- `eq`, `in` (an array), `gt`, `gte`, `lt`, `lte`, `contains` (an element
-- of a list or set, or a value of a map), `contains_key` (a key of a map),
-- and `pk__token__op` (op as above; the value is a token, a number or
-- int64, or `query.Token(k1, ...)` standing for `token(?, ...)` over the
-- partition key values). Values are checked against their column (a bad
-- one raises a ValidationError); an unknown column or operator raises a
-- QueryException. Relations are written in the order of the column
-- declarations, so the same filters give the same CQL text.
--
-- Reading: `iter()` (an iterator of instances; on a failure it returns
-- `false, err` once, as `ResultSet:rows`), `all()` (an array, or nil and an
-- error), `first()` (an instance, nil when there is none, or nil and an
-- error), `get(filters)`, `count()`. `values_list(...)` makes them yield
-- arrays of values (or single values with `{flat = true}`) instead of
-- instances. Unlike the seed there is no implicit LIMIT 10000: paging
-- makes it unnecessary.
--
-- Writing: `update(values)` (`col = v`; `col__append`, `col__prepend` on
-- lists; `col__add`, `col__remove` on sets (and `col__remove` on lists);
-- `col__update` (put entries) and `col__remove` (keys) on maps; a counter
-- `c = n` adds n) and `delete()`, with `ttl`, `timestamp`, `if_exists`,
-- `iff`, `batch` set on the query set.
--
-- **Batches**: `BatchQuery{batch_type = "unlogged"}:run(function(b) ...
-- end)` runs the function (operations given `batch = b` join the batch),
-- then executes the batch, unless the function raised.
--
-- **Contexts**: `ContextQuery({User, Post}, {keyspace = "archive"}):run(
-- function(U, P) ... end)` gives the function copies of the models bound to
-- another keyspace or connection.
-- @module cql.cqlengine.query
local cqlengine = require "cql.cqlengine"
local connection = require "cql.cqlengine.connection"
local qb = require "cql.querybuilder"
local cqlquery = require "cql.query"
local NULL = require("cql.util.sentinels").NULL

local M = {}

local function query_error(msg, level)
  cqlengine.raise(cqlengine.QueryException, msg, nil, (level or 1) + 1)
end

---------------------------------------------------------------------------
-- Filters
---------------------------------------------------------------------------

local Token = { __name = "Token" }
Token.__index = Token

--- The token of partition key values, for `pk__token__op` filters:
-- `filter{pk__token__gt = query.Token(last.id)}`.
-- @param ... the partition key values, in order
function M.Token(...)
  return setmetatable({ n = select("#", ...), ... }, Token)
end

local OPS = { eq = "=", ["in"] = "in", gt = ">", gte = ">=", lt = "<", lte = "<=", contains = "contains",
              contains_key = "contains key" }
local COND_OPS = { eq = "=", ne = "!=", ["in"] = "in", gt = ">", gte = ">=", lt = "<", lte = "<=" }

-- The column of elements a CONTAINS / CONTAINS KEY relation compares.
local function element_column(model, c, op)
  local t = c.db_type
  if op == "contains" then
    if t == "list" or t == "set" then return c.subs[1] end
    if t == "map" then return c.subs[2] end
  elseif t == "map" then
    return c.subs[1]
  end
  query_error(("%s.%s: '%s' needs a %s column"):format(model.__name, c.name, op,
              op == "contains" and "list, set or map" or "map"), 4)
end

-- Splits `name__op` into the column and the operator.
local function parse_key(model, key, ops, what)
  if type(key) ~= "string" then query_error(("%s: %s keys must be strings"):format(model.__name, what), 4) end
  local name, op = key:match("^(.-)__([%a_]+)$")
  if name == "pk" and op:match("^token") and not model._by_name.pk then
    local top = op == "token" and "eq" or op:match("^token__([%a_]+)$")
    if not top or not OPS[top] or top == "contains" or top == "contains_key" or top == "in" then
      query_error(("%s: bad token operator in '%s'"):format(model.__name, key), 4)
    end
    return "token", OPS[top]
  end
  if not name or not model._by_name[name] then name, op = key, "eq" end
  local c = model._by_name[name]
  if not c then query_error(("%s: Can't resolve column name '%s'"):format(model.__name, name), 4) end
  if not ops[op] then query_error(("%s: unknown operator '%s' in '%s'"):format(model.__name, op, key), 4) end
  return c, ops[op], op
end

local function label(model, c) return model.__name .. "." .. c.name end

-- The relations of a `filter` table: {col, op, value, token}, sorted by
-- column declaration order (then operator) for a stable CQL text.
local function parse_filters(model, filters)
  local rels = {}
  for key, value in pairs(filters) do
    local c, op, opname = parse_key(model, key, OPS, "filter")
    if c == "token" then
      local v = value
      if getmetatable(value) == Token then
        if value.n ~= #model._partition_keys then
          query_error(("%s: Token takes %d partition key value(s), got %d"):format(model.__name,
                      #model._partition_keys, value.n), 3)
        end
        v = {}
        for i, pk in ipairs(model._partition_keys) do v[i] = pk:validate(value[i], label(model, pk)) end
      elseif type(value) ~= "number" and type(value) ~= "cdata" then
        query_error(("%s: a token filter takes a number, an int64 or query.Token(...)"):format(model.__name), 3)
      end
      rels[#rels + 1] = { token = true, op = op, value = v, pos = 0, key = key }
    else
      local v
      if op == "in" then
        if type(value) ~= "table" or getmetatable(value) then
          query_error(("%s: '%s' takes an array of values"):format(model.__name, key), 3)
        end
        v = {}
        for i = 1, (value.n or #value) do v[i] = c:validate(value[i], ("%s[%d]"):format(label(model, c), i)) end
      elseif op == "contains" or op == "contains key" then
        v = element_column(model, c, opname):validate(value, label(model, c))
      else
        v = c:validate(value, label(model, c))
      end
      if v == nil then
        query_error(("%s: None values on filter are not allowed ('%s')"):format(model.__name, key), 3)
      end
      local pos
      for i, x in ipairs(model._columns) do if x == c then pos = i end end
      rels[#rels + 1] = { col = c, op = op, value = v, pos = pos, key = key }
    end
  end
  table.sort(rels, function(a, b)
    if a.pos ~= b.pos then return a.pos < b.pos end
    return a.key < b.key
  end)
  return rels
end

--- The IF conditions of an `iff` table (keys as in filter, with `ne`).
-- @local
function M.parse_conditions(model, conds)
  local out = {}
  for key, value in pairs(conds) do
    local c, op = parse_key(model, key, COND_OPS, "iff")
    if c == "token" then query_error(model.__name .. ": no token in conditions", 3) end
    if c.primary_key then
      query_error(("%s: primary key column '%s' in IF conditions"):format(model.__name, c.name), 3)
    end
    local v
    if op == "in" then
      v = {}
      for i = 1, #value do v[i] = c:validate(value[i], label(model, c)) end
    else
      v = c:validate(value, label(model, c))
    end
    out[#out + 1] = { col = c, op = op, value = v, key = key }
  end
  table.sort(out, function(a, b) return a.key < b.key end)
  return out
end

local function apply_where(model, stmt, rels, writing)
  for _, r in ipairs(rels) do
    if writing and r.auto and not r.col.primary_key then -- luacheck: ignore 542
      -- the discriminator filter of a subclass: not a key, so not in writes
    elseif r.token then
      local names = {}
      for i, pk in ipairs(model._partition_keys) do names[i] = pk.db_field end
      stmt = stmt:where(qb.token(unpack(names)), r.op, r.value)
    elseif r.op == "in" then
      -- one marker for the whole list: the same text whatever its length
      stmt = stmt:where(r.col.db_field, "in", qb.param(r.value))
    else
      stmt = stmt:where(r.col.db_field, r.op, r.value)
    end
  end
  return stmt
end

---------------------------------------------------------------------------
-- Query sets
---------------------------------------------------------------------------

local QuerySet = {}
QuerySet.__index = QuerySet
M.QuerySetClass = QuerySet

--- The query set of every row of a model (`Model.objects`).
-- @param model
function M.QuerySet(model)
  local qs = setmetatable({ model = model, wheres = {} }, QuerySet)
  if model._polymorphic_base then
    local d = model._discriminator_column
    qs.wheres = { { col = d, op = "=", value = model.__discriminator_value, pos = 0, key = d.name, auto = true } }
  end
  return qs
end

local function derive(self, changes)
  local q = {}
  for k, v in pairs(self) do q[k] = v end
  for k, v in pairs(changes) do q[k] = v end
  return setmetatable(q, QuerySet)
end

--- Adds relations (ANDed): `filter{name = "x", age__gt = 3}`.
-- @tparam table filters
-- @return a new query set
function QuerySet:filter(filters)
  if type(filters) ~= "table" then error("bad argument #1 to 'filter' (table of filters expected)", 2) end
  local rels = parse_filters(self.model, filters)
  local all = {}
  for _, r in ipairs(self.wheres) do all[#all + 1] = r end
  for _, r in ipairs(rels) do all[#all + 1] = r end
  return derive(self, { wheres = all })
end
QuerySet.__call = QuerySet.filter

--- LIMIT n (a positive integer; 0 or nil: no limit). A negative value
-- raises a QueryException.
-- @param n
function QuerySet:limit(n)
  if n == nil or n == 0 then return derive(self, { limit_ = false }) end
  if type(n) ~= "number" or n ~= math.floor(n) then error("bad argument #1 to 'limit' (integer expected)", 2) end
  if n < 0 then query_error("Negative limit is not allowed", 2) end
  return derive(self, { limit_ = n })
end

--- ORDER BY clustering columns: `order_by("c")`, `order_by("-c")` (desc).
-- @param ... column names
function QuerySet:order_by(...)
  local orders = {}
  for _, o in ipairs(self.orders or {}) do orders[#orders + 1] = o end
  for i = 1, select("#", ...) do
    local spec = select(i, ...)
    if type(spec) ~= "string" then error(("bad argument #%d to 'order_by' (column name expected)"):format(i), 2) end
    local desc = spec:sub(1, 1) == "-"
    local name = desc and spec:sub(2) or spec
    local c = self.model._by_name[name]
    if not c then query_error(("%s: Can't resolve column name '%s'"):format(self.model.__name, name), 2) end
    if not c.primary_key or c.is_partition_key then
      query_error(("%s: Can't order on '%s': ordering is only allowed on clustering columns"):format(
        self.model.__name, name), 2)
    end
    orders[#orders + 1] = { col = c, dir = desc and "desc" or "asc" }
  end
  return derive(self, { orders = orders })
end

--- ALLOW FILTERING.
function QuerySet:allow_filtering()
  return derive(self, { filtering = true })
end

local function field_list(self, fname, fields)
  if type(fields) ~= "table" then
    error(("bad argument #1 to '%s' (array of field names expected)"):format(fname), 3)
  end
  local out = {}
  for i, name in ipairs(fields) do
    local c = self.model._by_name[name]
    if not c then query_error(("%s: Can't resolve column name '%s'"):format(self.model.__name, tostring(name)), 3) end
    out[i] = c
  end
  return out
end

--- Loads only these fields (an array of names).
-- @tparam {string,...} fields
function QuerySet:only(fields)
  return derive(self, { only_ = field_list(self, "only", fields), defer_ = false })
end

--- Loads every field but these (an array of names).
-- @tparam {string,...} fields
function QuerySet:defer(fields)
  return derive(self, { defer_ = field_list(self, "defer", fields), only_ = false })
end

--- Yields arrays of these fields' values instead of instances; with a
-- last argument `{flat = true}` and one field, the values themselves.
-- @param ... field names, then optionally `{flat = true}`
function QuerySet:values_list(...)
  local names, flat = {}, false
  for i = 1, select("#", ...) do
    local a = select(i, ...)
    if type(a) == "table" and i == select("#", ...) then flat = a.flat and true or false
    else names[#names + 1] = a end
  end
  if #names == 0 then error("bad argument #1 to 'values_list' (field names expected)", 2) end
  if flat and #names ~= 1 then query_error("values_list: flat needs exactly one field", 2) end
  return derive(self, { values_ = field_list(self, "values_list", names), flat = flat })
end

--- Rows per page while iterating.
-- @tparam integer n
function QuerySet:fetch_size(n)
  if type(n) ~= "number" or n < 1 then error("bad argument #1 to 'fetch_size' (positive integer expected)", 2) end
  return derive(self, { fetch_size_ = n })
end

--- Client timeout of the queries (seconds).
-- @tparam number t
function QuerySet:timeout(t)
  return derive(self, { timeout_ = t })
end

--- Consistency level of the queries.
function QuerySet:consistency(cl)
  return derive(self, { consistency_ = cl })
end

--- TTL of `update` (seconds).
function QuerySet:ttl(n)
  return derive(self, { ttl_ = n })
end

--- USING TIMESTAMP (µs) of `update` and `delete`.
function QuerySet:timestamp(ts)
  return derive(self, { timestamp_ = ts })
end

--- IF EXISTS on `update` and `delete`.
function QuerySet:if_exists()
  return derive(self, { if_exists_ = true })
end

--- IF conditions on `update` and `delete` (keys as in filter, with `ne`).
-- @tparam table conds
function QuerySet:iff(conds)
  if type(conds) ~= "table" then error("bad argument #1 to 'iff' (table of conditions expected)", 2) end
  return derive(self, { iff_ = M.parse_conditions(self.model, conds) })
end

--- `update` and `delete` join a BatchQuery instead of running.
function QuerySet:batch(b)
  return derive(self, { batch_ = b })
end

--- The same query set over the model bound to another keyspace or
-- connection (`{keyspace = ..., connection = ...}`).
function QuerySet:using(opts)
  local clone = self.model:using(opts)
  return derive(self, { model = clone })
end

-- The selected columns.
local function selection(self)
  if self.values_ then return self.values_ end
  local model = self.model
  if self.only_ then
    local cols = {}
    for _, c in ipairs(self.only_) do cols[#cols + 1] = c end
    if model._discriminator_column then cols[#cols + 1] = model._discriminator_column end
    return cols
  end
  if self.defer_ then
    local skip = {}
    for _, c in ipairs(self.defer_) do skip[c] = true end
    local cols = {}
    for _, c in ipairs(model._columns) do if not skip[c] or c.primary_key then cols[#cols + 1] = c end end
    return cols
  end
  return nil
end

--- The SELECT builder of the query set.
-- @local
function QuerySet:_select(extra_limit)
  local stmt = qb.select(self.model:_table())
  local cols = selection(self)
  if cols then
    local seen, names = {}, {}
    for _, c in ipairs(cols) do
      if not seen[c.db_field] then
        seen[c.db_field] = true
        names[#names + 1] = c.db_field
      end
    end
    stmt = stmt:columns(unpack(names))
  end
  stmt = apply_where(self.model, stmt, self.wheres)
  for _, o in ipairs(self.orders or {}) do stmt = stmt:order_by(o.col.db_field, o.dir) end
  local limit = self.limit_ or nil
  if extra_limit and (not limit or extra_limit < limit) then limit = extra_limit end
  if limit then stmt = stmt:limit(qb.param(limit)) end
  if self.filtering then stmt = stmt:allow_filtering() end
  return stmt
end

--- The SELECT count(*) builder of the query set.
-- @local
function QuerySet:_count_select()
  local stmt = qb.select(self.model:_table()):columns(qb.fn.count())
  stmt = apply_where(self.model, stmt, self.wheres)
  if self.filtering then stmt = stmt:allow_filtering() end
  return stmt
end

--- The CQL text and values of the SELECT the query set runs.
-- @treturn string
-- @treturn table values
function QuerySet:cql()
  local cql, values = self:_select():build()
  return cql, values
end

local function execute(self, stmt)
  return connection.execute_builder(stmt, self.model.__connection, {
    consistency = self.consistency_ or self.model.__consistency, timeout = self.timeout_,
    fetch_size = self.fetch_size_ })
end

local function convert(self, row)
  if self.values_ then
    if self.flat then
      local c = self.values_[1]
      return c:to_python(row[c.db_field])
    end
    local out = { n = #self.values_ }
    for i, c in ipairs(self.values_) do out[i] = c:to_python(row[c.db_field]) end
    return out
  end
  return self.model:_from_row(row)
end

--- Iterates over the results (instances, or values with `values_list`),
-- fetching pages as it goes. On a failure the iterator returns `false,
-- err` once and stops.
-- @treturn function
function QuerySet:iter(extra_limit)
  local rs, err = execute(self, self:_select(extra_limit))
  if not rs then
    local done = false
    return function()
      if done then return nil end
      done = true
      return false, err
    end
  end
  local rows = rs:rows()
  return function()
    local row, rerr = rows()
    if row == false then return false, rerr end
    if row == nil then return nil end
    return convert(self, row)
  end
end

--- Every result as an array, or nil and an error.
function QuerySet:all()
  local out = {}
  for x, err in self:iter() do
    if x == false then return nil, err end
    out[#out + 1] = x
  end
  return out
end

--- The first result, nil when there is none, or nil and an error.
function QuerySet:first()
  local x, err = self:iter(1)()
  if x == false then return nil, err end
  return x
end

--- The only row matching the query set and `filters`: the instance, or nil
-- and `Model.DoesNotExist` / `Model.MultipleObjectsReturned` (or another
-- error).
-- @tparam[opt] table filters
function QuerySet:get(filters)
  local qs = filters and self:filter(filters) or self
  local found, n = nil, 0
  for x, err in qs:iter(2) do
    if x == false then return nil, err end
    n = n + 1
    found = found or x
  end
  local model = self.model
  if n == 0 then return nil, model.DoesNotExist { message = model.__name .. " matching query does not exist." } end
  if n > 1 then
    return nil, model.MultipleObjectsReturned { message = model.__name .. ": more than one row matches the query" }
  end
  return found
end

--- How many rows match: SELECT count(*). Returns a number, or nil and an
-- error. (LIMIT, ORDER BY and the selection do not apply.)
function QuerySet:count()
  local rs, err = execute(self, self:_count_select())
  if not rs then return nil, err end
  local row = rs:one()
  return tonumber(row and row.count or 0)
end

local function run_write(self, stmt, conditional)
  local model = self.model
  local run = require("cql.cqlengine.models")._run
  local o = { consistency = self.consistency_, timeout = self.timeout_, batch = self.batch_ }
  local ok, err = run(model, stmt, o, conditional)
  if not ok then return nil, err end
  return true
end

-- USING TTL / TIMESTAMP of the query set, as instances write them.
local function write_options(self, stmt, ttl_ok)
  return require("cql.cqlengine.models")._using(stmt, { ttl = self.ttl_, timestamp = self.timestamp_ }, ttl_ok)
end

local function write_conditions(self, stmt)
  if self.if_exists_ then stmt = stmt:if_exists() end
  for _, c in ipairs(self.iff_ or {}) do
    stmt = stmt:iff(c.col.db_field, c.op, c.op == "in" and qb.param(c.value) or c.value)
  end
  return stmt
end

local UPDATE_OPS = { append = true, prepend = true, add = true, remove = true, update = true }

--- Updates the matching rows without reading them: `update{name = "x",
-- tags__add = {"a"}, hits = 1}` (see the module description). Returns
-- true, or nil and an error (LWTException when a condition fails).
-- @tparam table values
function QuerySet:update(values)
  if type(values) ~= "table" or next(values) == nil then
    error("bad argument #1 to 'update' (table of values expected)", 2)
  end
  local model = self.model
  local keys = {}
  for k in pairs(values) do keys[#keys + 1] = k end
  table.sort(keys)
  local stmt = write_options(self, qb.update(model:_table()), not model._has_counter)
  for _, key in ipairs(keys) do
    local value = values[key]
    local name, op = key:match("^(.-)__(%a+)$")
    if not name or not model._by_name[name] or not UPDATE_OPS[op] then name, op = key, nil end
    local c = model._by_name[name]
    if not c then query_error(("%s: Can't resolve column name '%s'"):format(model.__name, name), 2) end
    if c.primary_key then
      query_error(("%s: primary key column '%s' cannot be updated"):format(model.__name, name), 2)
    end
    local lbl = label(model, c)
    local t = c.db_type
    if value == NULL then
      -- The seed's update(col=None): a null, for a plain assignment only.
      if op ~= nil or t == "counter" then
        query_error(("%s: NULL only sets a column, not '%s' of a %s column"):format(model.__name, key, t), 2)
      end
      value = nil
    end
    if op == nil then
      if t == "counter" then
        local v = c:validate(value, lbl)
        if v < 0 then stmt = stmt:decrement(c.db_field, -v) else stmt = stmt:increment(c.db_field, v) end
      else
        stmt = stmt:set(c.db_field, c:validate(value, lbl))
      end
    elseif (op == "append" or op == "prepend") and t == "list" then
      stmt = stmt[op](stmt, c.db_field, c:validate(value, lbl))
    elseif op == "add" and t == "set" then
      stmt = stmt:add(c.db_field, c:validate(value, lbl))
    elseif op == "remove" and (t == "set" or t == "list") then
      stmt = stmt:remove(c.db_field, c:validate(value, lbl))
    elseif op == "update" and t == "map" then
      stmt = stmt:put(c.db_field, c:validate(value, lbl))
    elseif op == "remove" and t == "map" then
      local keyset = {}
      if type(value) ~= "table" then query_error(lbl .. ": map__remove takes an array of keys", 2) end
      for i, k in ipairs(value) do keyset[i] = c.subs[1]:validate(k, lbl .. "<key>") end
      stmt = stmt:remove_keys(c.db_field, keyset)
    else
      query_error(("%s: '%s' does not apply to a %s column"):format(model.__name, key, t), 2)
    end
  end
  stmt = write_conditions(self, apply_where(model, stmt, self.wheres, true))
  return run_write(self, stmt, self.if_exists_ or self.iff_ ~= nil)
end

--- Deletes the matching rows (the filters must name whole partitions or
-- rows, as CQL requires). Returns true, or nil and an error.
function QuerySet:delete()
  local model = self.model
  local stmt = write_options(self, qb.delete(model:_table()), false)
  stmt = write_conditions(self, apply_where(model, stmt, self.wheres, true))
  return run_write(self, stmt, self.if_exists_ or self.iff_ ~= nil)
end

--- Makes and saves an instance of the query set's model.
function QuerySet:create(values, opts)
  return self.model:create(values, opts)
end

---------------------------------------------------------------------------
-- Batches
---------------------------------------------------------------------------

local BatchQuery = {}
BatchQuery.__index = BatchQuery
M.BatchQueryClass = BatchQuery

local BATCH_TYPES = { logged = cqlquery.BatchType.LOGGED, unlogged = cqlquery.BatchType.UNLOGGED,
                      counter = cqlquery.BatchType.COUNTER }
--- The kinds of batch: `BatchType.Logged`, `Unlogged`, `Counter`.
M.BatchType = { Logged = "logged", Unlogged = "unlogged", Counter = "counter" }

--- A batch: `BatchQuery{batch_type = "logged" | "unlogged" | "counter",
-- timestamp = µs, consistency = cl, timeout = s, connection = name,
-- execute_on_exception = false}`. Operations given `batch = b` (or
-- `qs:batch(b)`) join it; `execute` or `run` sends it.
-- @tparam[opt] table opts
function M.BatchQuery(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #1 to 'BatchQuery' (table of options expected)", 2) end
  local known = { batch_type = true, timestamp = true, consistency = true, timeout = true, connection = true,
                  execute_on_exception = true }
  for k in pairs(opts) do
    if not known[k] then error(("bad argument #1 to 'BatchQuery' (unknown option '%s')"):format(tostring(k)), 2) end
  end
  local kind = (opts.batch_type or "logged")
  kind = type(kind) == "string" and kind:lower() or kind
  if not BATCH_TYPES[kind] then
    error("bad argument #1 to 'BatchQuery' (batch_type 'logged', 'unlogged' or 'counter' expected)", 2)
  end
  return setmetatable({ kind = kind, timestamp = opts.timestamp, consistency_ = opts.consistency,
                        timeout_ = opts.timeout, connection = opts.connection,
                        execute_on_exception = opts.execute_on_exception, queries = {}, callbacks = {} },
                      BatchQuery)
end

--- Adds a query-builder statement (INSERT, UPDATE or DELETE).
-- @param stmt
-- @tparam[opt] string conn the statement's connection name
-- @param[opt] model the model, to name the columns of an LWT failure
function BatchQuery:add_query(stmt, conn, model)
  self.queries[#self.queries + 1] = { stmt = stmt, connection = conn, model = model }
  return self
end

--- A function to call (with the given arguments) after the batch ran.
function BatchQuery:add_callback(fn, ...)
  if type(fn) ~= "function" then error("bad argument #1 to 'add_callback' (function expected)", 2) end
  self.callbacks[#self.callbacks + 1] = { fn = fn, args = { n = select("#", ...), ... } }
  return self
end

--- The statements' CQL texts (for inspection).
function BatchQuery:cql()
  local out = {}
  for i, q in ipairs(self.queries) do out[i] = (q.stmt:build()) end
  return out
end

--- Sends the batch (nothing when it is empty). Returns true, or nil and an
-- error (LWTException when a conditional statement was not applied).
function BatchQuery:execute()
  if self.executed then error("this BatchQuery was already executed", 2) end
  self.executed = true
  if #self.queries == 0 then return true end
  local conn = self.connection or self.queries[1].connection
  local session, err = connection.get_session(conn)
  if not session then return nil, err end
  local batch = cqlquery.BatchStatement { batch_type = BATCH_TYPES[self.kind] }
  local lwt_model
  for _, q in ipairs(self.queries) do
    local stmt = q.stmt
    if self.timestamp ~= nil and not stmt.timestamp then stmt = stmt:using_timestamp(qb.param(self.timestamp)) end
    local cql, values = stmt:build()
    local ps
    ps, err = connection.prepare(session, cql)
    if not ps then return nil, err end
    batch:add(ps, values)
    lwt_model = lwt_model or q.model
  end
  local rs
  rs, err = session:execute(batch, nil, {
    consistency_level = self.consistency_ or connection.get_connection(conn).consistency, timeout = self.timeout_ })
  if not rs then return nil, err end
  local row = rs.current_rows[1]
  if row and row["[applied]"] == false then
    local existing = lwt_model and require("cql.cqlengine.models")._named_row(lwt_model, row) or row
    existing["[applied]"] = nil
    return nil, cqlengine.LWTException { message = "LWT Query was not applied", existing = existing }
  end
  for _, cb in ipairs(self.callbacks) do cb.fn(unpack(cb.args, 1, cb.args.n)) end
  return true
end

--- Runs `fn(batch)`, then executes the batch. When `fn` raises, the
-- batch is dropped (or executed first, with `execute_on_exception`) and
-- the error is raised again. Returns what `execute` returns.
-- @tparam function fn
function BatchQuery:run(fn)
  if type(fn) ~= "function" then error("bad argument #1 to 'run' (function expected)", 2) end
  local ok, e = pcall(fn, self)
  if not ok then
    if self.execute_on_exception then self:execute() end
    error(e, 0)
  end
  return self:execute()
end

---------------------------------------------------------------------------
-- Contexts
---------------------------------------------------------------------------

--- Models bound to another keyspace and/or connection for a block:
-- `ContextQuery({User, Post}, {keyspace = "ks2"}):run(function(U, P) ...
-- end)` returns what the function returns.
-- @tparam {Model,...} models
-- @tparam table opts `keyspace`, `connection`
function M.ContextQuery(models, opts)
  if type(models) ~= "table" or #models == 0 then
    error("bad argument #1 to 'ContextQuery' (an array of models expected)", 2)
  end
  for i, m in ipairs(models) do
    if type(m) ~= "table" or not rawget(m, "is_model") then
      error(("bad argument #1 to 'ContextQuery' (entry %d is not a model)"):format(i), 2)
    end
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "keyspace" and k ~= "connection" then
      error(("bad argument #2 to 'ContextQuery' (unknown option '%s')"):format(tostring(k)), 2)
    end
  end
  local clones = {}
  for i, m in ipairs(models) do clones[i] = m:using(opts) end
  return {
    models = clones,
    run = function(self, fn) return fn(unpack(self.models)) end,
  }
end

return M
